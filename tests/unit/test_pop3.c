/*
 * test_pop3.c — the POP3 parser, and a full POP3 session driven through
 * fake conn functions: auth rules, STAT/LIST/UIDL/RETR/TOP with dot-stuffing,
 * DELE applied only by QUIT, a dropped connection deleting nothing, and the
 * exclusive maildrop lock; sizes (login, STAT, LIST) equal to what RETR
 * sends, with and without the metadata cache (mail/mcache.h): taken from a
 * valid entry, not from one whose file was replaced, agreeing with the
 * RFC822.SIZE IMAP keeps there.
 */
#include "tests/unit/test.h"
#include "tests/unit/mail_fake_conn.h"
#include "mail/pop3_parse.h"
#include "mail/pop3_session.h"
#include "mail/mailbox.h"
#include "mail/mcache.h"
#include <sys/time.h>

static void feed(const char *s) { fake_feed(&pop3_proto, s); }

static void start(int plaintext) { fake_start(&pop3_proto, plaintext); }

TEST(parse_commands)
{
    pop3_cmd c;
    const char *err;
    size_t n;
    CHECK(pop3_parse("pass my secret pw\r\n", 19, &c, &err) == 0);
    CHECK_STR(c.verb, "PASS");
    CHECK_MEM(c.rest, c.restlen, "my secret pw", 12);
    CHECK(pop3_parse("TOP 1 10", 8, &c, &err) == 0 && c.nargs == 2 && pop3_number(c.arg[1], c.arglen[1]) == 10);
    CHECK(pop3_parse("RETRIEVE 1", 10, &c, &err) < 0);
    CHECK(pop3_parse("\r\n", 2, &c, &err) < 0);
    CHECK(pop3_number("-1", 2) == -1 && pop3_number("99999999999", 11) == -1);
    CHECK(pop3_line("abc", 3, 10, &n) == 0);
    CHECK(pop3_line("abcdefghijk", 11, 10, &n) == -1);
    CHECK(pop3_line("ab\r\ncd", 6, 10, &n) == 1 && n == 4);
}

TEST(auth_needs_tls)
{
    start(0);
    CHECK(out_has("+OK"));
    feed("USER alice\r\n");
    CHECK(out_has("-ERR [AUTH]"));
    feed("CAPA\r\n");
    CHECK(out_has("UIDL\r\n") && out_has("\r\n.\r\n"));
    feed("QUIT\r\n");
    CHECK(out_has("+OK") && fake_closed);
    pop3_proto.close(&fake_c);
    fake_site_teardown();
}

TEST(full_session_with_deletions)
{
    start(1);
    fake_deliver("1.A.t", "Subject: one\n\n.dotted line\nline2\nline3\n");
    fake_deliver("2.B.t", "Subject: two\r\n\r\nbody\r\n");
    feed("USER alice\r\nPASS wrong\r\n");
    CHECK(out_has("-ERR [AUTH]"));
    feed("USER alice\r\nPASS secret\r\n");
    CHECK(out_has("+OK 2 messages"));
    feed("STAT\r\n");
    CHECK(out_has("+OK 2 66\r\n"));
    feed("LIST\r\n");
    CHECK(out_has("+OK\r\n1 44\r\n2 22\r\n.\r\n"));
    feed("UIDL 2\r\n");
    CHECK(out_has("+OK 2 ") && out_has(".2\r\n"));
    feed("RETR 1\r\n");
    CHECK(out_has("+OK\r\nSubject: one\r\n\r\n..dotted line\r\nline2\r\nline3\r\n.\r\n"));
    feed("TOP 1 1\r\n");
    CHECK(out_has("+OK\r\nSubject: one\r\n\r\n..dotted line\r\n.\r\n"));
    feed("DELE 1\r\nRETR 1\r\nLIST\r\n");
    CHECK(out_has("-ERR No such message") && out_has("+OK\r\n2 22\r\n.\r\n"));
    feed("RSET\r\nSTAT\r\n");
    CHECK(out_has("+OK 2 66"));
    /* a second session cannot lock the maildrop */
    void *first = fake_c.proto_data;
    pop3_proto.open(&fake_c);
    feed("USER alice\r\nPASS secret\r\n");
    CHECK(out_has("-ERR [IN-USE]"));
    pop3_proto.close(&fake_c);
    fake_c.proto_data = first;
    /* dropped connection: nothing deleted */
    feed("DELE 1\r\n");
    pop3_proto.close(&fake_c);
    CHECK_INT(fake_count("cur"), 2);
    /* QUIT applies deletions */
    pop3_proto.open(&fake_c);
    feed("USER alice\r\nPASS secret\r\nDELE 2\r\nQUIT\r\n");
    CHECK(out_has("+OK Bye"));
    pop3_proto.close(&fake_c);
    CHECK_INT(fake_count("cur"), 1);
    fake_site_teardown();
}

/* ---- sizes and the metadata cache --------------------------------------- */

static const struct { const char *name, *data; int no_eol; } mixed[] = {
    { "1.lf.t", "Subject: lf\n\n.dot line\n..two dots\nend\n", 0 },
    { "2.crlf.t", "Subject: crlf\r\n\r\nbody\r\n.\r\n", 0 },
    { "3.noeol.t", "Subject: cut\n\nno line end", 1 },
    { "4.cr.t", "Subject: cr\r\n\r\nends in CR\r", 1 },
    { "5.hdr.t", "Subject: header only", 1 },
    { "6.empty.t", "", 0 },
    { "7.mixed.t", "Subject: mixed\r\nX: y\n\r\n.a\nb\r\n", 0 },
};
enum { NMIXED = sizeof mixed / sizeof mixed[0] };

/* A session's LIST, and for each message what RETR sent before dot-stuffing;
 * sizes[i] = -1 when the lengths disagree. Returns the login's octet total. */
static long long list_and_retr(long long *sizes)
{
    long long total = -1, stat_total = -2;
    pop3_proto.open(&fake_c);
    feed("USER alice\r\nPASS secret\r\n");
    const char *ok = strstr(buf_head(&fake_out), "messages (");
    if (ok)
        total = atoll(ok + 10);
    feed("STAT\r\n");
    sscanf(buf_head(&fake_out), "+OK %*d %lld", &stat_total);
    feed("LIST\r\n");
    const char *p = strstr(buf_head(&fake_out), "+OK\r\n");
    for (int i = 0; i < NMIXED; i++) {
        int n = 0;
        sizes[i] = -3;
        if (p && (p = strchr(p + 1, '\n')) && sscanf(p + 1, "%d %lld", &n, &sizes[i]) == 2 && n != i + 1)
            sizes[i] = -4;
    }
    for (int i = 0; i < NMIXED; i++) {
        char cmd[32];
        snprintf(cmd, sizeof cmd, "RETR %d\r\n", i + 1);
        feed(cmd);
        const char *b = buf_head(&fake_out) + 5, *e = buf_head(&fake_out) + buf_size(&fake_out) - 3;
        long long octets = 0;
        for (const char *q = b; q < e; q++)                /* un-stuff: a line's leading dot */
            octets += !(*q == '.' && (q == b || q[-1] == '\n'));
        if (strncmp(buf_head(&fake_out), "+OK\r\n", 5) != 0 || octets != sizes[i])
            sizes[i] = -1;
    }
    feed("QUIT\r\n");
    pop3_proto.close(&fake_c);
    return total == stat_total ? total : -2;
}

/* Rewrite message i's file: new content, mtime moved by `later` seconds. */
static void replace_message(int i, const char *data, int later)
{
    char p[600], err[256];
    mailbox mb;
    snprintf(p, sizeof p, "%s/mail/alice", fake_site);
    if (mailbox_open(&mb, p, 1, err, sizeof err) < 0 || mailbox_path(&mb, (size_t)i, p, sizeof p) < 0)
        abort();
    struct stat st;
    stat(p, &st);
    fake_write_file(p, data);
    struct timeval tv[2] = { { st.st_mtime + later, 0 }, { st.st_mtime + later, 0 } };
    utimes(p, tv);
    mailbox_close(&mb);
}

TEST(sizes_equal_retr_with_and_without_the_cache)
{
    long long cold[NMIXED], warm[NMIXED], sum = 0;
    char dir[600], err[256];
    struct stat st;
    start(1);
    pop3_proto.close(&fake_c);
    for (int i = 0; i < NMIXED; i++)
        fake_deliver(mixed[i].name, mixed[i].data);
    snprintf(dir, sizeof dir, "%s/mail/alice/" MCACHE_FILE, fake_site);
    mcache_thread_done();
    long long total = list_and_retr(cold);                 /* no cache: read, then cached */
    for (int i = 0; i < NMIXED; i++) {
        CHECK(cold[i] >= 0);
        sum += cold[i];
    }
    CHECK(total == sum);
    CHECK(stat(dir, &st) == 0);                            /* saved at the latest at the end */
    CHECK(list_and_retr(warm) == sum);                     /* this worker's memory */
    CHECK_MEM(warm, sizeof warm, cold, sizeof cold);
    mcache_thread_done();
    CHECK(list_and_retr(warm) == sum);                     /* a new worker: from the file */
    CHECK_MEM(warm, sizeof warm, cold, sizeof cold);

    /* the entries IMAP reads agree: RFC822.SIZE is the same but for the CRLF
     * RETR adds after a last line without one */
    mailbox mb;
    snprintf(dir, sizeof dir, "%s/mail/alice", fake_site);
    CHECK(mailbox_open(&mb, dir, 1, err, sizeof err) == 0 && mb.n == NMIXED);
    mcache_thread_done();
    mcache *mc = mcache_open(dir, mb.uidvalidity);
    for (int i = 0; i < NMIXED; i++) {
        const mcache_ent *e = mcache_find(mc, &mb.m[i]);
        CHECK(e && e->no_eol == mixed[i].no_eol && mcache_pop3_size(e) == cold[i]);
        CHECK(e && e->size == cold[i] - 2 * mixed[i].no_eol);
    }
    mailbox_close(&mb);
    mcache_thread_done();
    fake_site_teardown();
}

/* Rewrite the cache file with another size for the entry of `base`. */
static int plant_size(uint32_t uidvalidity, const char *base, int64_t size)
{
    char p[600];
    static char data[1 << 20];
    snprintf(p, sizeof p, "%s/mail/alice/" MCACHE_FILE, fake_site);
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(data, 1, sizeof data, f) : 0;
    if (f)
        fclose(f);
    mcache_tab t = {0};
    const char *why;
    if (mcache_decode(data, n, uidvalidity, &t, &why) < 0)
        return -1;
    mcache_ent *e = (mcache_ent *)mcache_tab_find(&t, base);
    if (!e)
        return mcache_tab_free(&t), -1;
    e->size = size;
    buf img = BUF_INIT;
    mcache_encode(&t, uidvalidity, &img);
    f = fopen(p, "wb");
    fwrite(buf_head(&img), 1, buf_size(&img), f);
    fclose(f);
    buf_free(&img);
    mcache_tab_free(&t);
    return 0;
}

TEST(a_valid_entry_is_used_a_stale_one_is_not)
{
    long long got[NMIXED], before[NMIXED];
    char dir[600], err[256];
    start(1);
    pop3_proto.close(&fake_c);
    for (int i = 0; i < NMIXED; i++)
        fake_deliver(mixed[i].name, mixed[i].data);
    mcache_thread_done();
    list_and_retr(before);
    /* a size planted in the file is what a new worker lists: it came from the cache */
    mailbox mb;
    snprintf(dir, sizeof dir, "%s/mail/alice", fake_site);
    CHECK(mailbox_open(&mb, dir, 1, err, sizeof err) == 0);
    CHECK(plant_size(mb.uidvalidity, mb.m[0].base, 4242) == 0);
    mailbox_close(&mb);
    mcache_thread_done();
    pop3_proto.open(&fake_c);
    feed("USER alice\r\nPASS secret\r\nLIST 1\r\n");
    CHECK(out_has("+OK 1 4242\r\n"));
    feed("RETR 1\r\nLIST 1\r\n");
    CHECK(out_has("+OK 1 4242\r\n"));                      /* stable within the session */
    feed("QUIT\r\n");
    pop3_proto.close(&fake_c);
    /* message 1 replaced: another size, another mtime -> not the cached size */
    replace_message(0, "Subject: replaced\n\nlonger than it was before, by far\n", 5);
    CHECK(list_and_retr(got) >= 0);
    CHECK(got[0] == (long long)strlen("Subject: replaced\r\n\r\nlonger than it was before, by far\r\n"));
    CHECK_MEM(got + 1, sizeof got - sizeof got[0], before + 1, sizeof before - sizeof before[0]);
    /* message 2 replaced by one of the same size: the mtime alone tells */
    replace_message(1, "Subject: CRLF\r\n\r\nBODY\r\n.\r\n", 7);
    mcache_thread_done();
    CHECK(list_and_retr(got) >= 0);
    CHECK(got[1] == before[1]);
    pop3_proto.open(&fake_c);
    feed("USER alice\r\nPASS secret\r\nTOP 2 0\r\n");
    CHECK(out_has("Subject: CRLF\r\n"));
    feed("QUIT\r\n");
    pop3_proto.close(&fake_c);
    mcache_thread_done();
    snprintf(dir, sizeof dir, "%s/mail/alice", fake_site);
    CHECK(mailbox_open(&mb, dir, 1, err, sizeof err) == 0);
    mcache *mc = mcache_open(dir, mb.uidvalidity);
    const mcache_ent *e2 = mcache_find(mc, &mb.m[1]);      /* the new file's entry, from the file */
    CHECK(e2 && e2->env && strstr(e2->env, "\"CRLF\""));
    mailbox_close(&mb);
    mcache_thread_done();
    fake_site_teardown();
}

int main(void)
{
    RUN(parse_commands);
    RUN(auth_needs_tls);
    RUN(full_session_with_deletions);
    RUN(sizes_equal_retr_with_and_without_the_cache);
    RUN(a_valid_entry_is_used_a_stale_one_is_not);
    buf_free(&fake_out);
    return test_done();
}
