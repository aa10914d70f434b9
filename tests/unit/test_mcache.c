/*
 * test_mcache.c — the IMAP metadata cache: the table, the file codec (round
 * trip; flipped, truncated, garbage, foreign-version and stale-UIDVALIDITY
 * files refused; a file with a valid checksum but lengths that lie refused),
 * and the per-thread cache on a real Maildir: entries saved and read back
 * by a "new worker", a damaged file costing a rebuild, entries of expunged
 * messages dropped, new and rewritten messages not served from the cache;
 * the LRU of folders; POP3 sizes (the no_eol mark, kept through the file;
 * version 1 files refused).
 */
#include "tests/unit/test.h"
#include "mail/mcache_fmt.c"
#include "mail/mcache.c"
#include "mail/mailbox.h"
#include "mail/mime.h"
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static mcache_ent *sample(const char *base, uint32_t uid, int with_hdr)
{
    static const char hdr[] = "Subject: hi\r\nFrom: a@b\r\n\r\n", env[] = "(NIL \"hi\" NIL)",
                      body[] = "(\"text\" \"plain\")", bs[] = "(\"text\" \"plain\" NIL)";
    mcache_ent *e = mcache_ent_new(base, strlen(base), uid, 1000 + uid, 1700000000 + uid, 1030 + uid,
                                   with_hdr ? hdr : NULL, sizeof hdr - 1, env, sizeof env - 1,
                                   body, sizeof body - 1, bs, sizeof bs - 1);
    e->no_eol = uid % 4 == 1;
    return e;
}

static int same_ent(const mcache_ent *a, const mcache_ent *b)
{
#define SAME(f, n) ((!a->f && !b->f) || (a->f && b->f && a->n == b->n && memcmp(a->f, b->f, a->n) == 0))
    return strcmp(a->base, b->base) == 0 && a->uid == b->uid && a->fsize == b->fsize &&
           a->mtime == b->mtime && a->size == b->size && a->no_eol == b->no_eol && SAME(hdr, hdrlen) && SAME(env, envlen) &&
           SAME(body, bodylen) && SAME(bs, bslen);
#undef SAME
}

static void sample_file(buf *out, mcache_tab *t, size_t n)
{
    char base[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(base, sizeof base, "17000%zu.M%zuP1.host", i, i);
        mcache_tab_put(t, sample(base, (uint32_t)i + 1, i % 3 != 0));
    }
    mcache_encode(t, 77, out);
}

static int keep_odd(const mcache_ent *e, void *ud)
{
    return e->uid % 2 == 1;
}

TEST(table_put_find_replace_prune)
{
    mcache_tab t = {0};
    char base[32];
    for (int i = 0; i < 500; i++) {
        snprintf(base, sizeof base, "b%d", i);
        mcache_tab_put(&t, sample(base, (uint32_t)i + 1, 1));
    }
    CHECK_INT(t.n, 500);
    CHECK(mcache_tab_find(&t, "b499") && mcache_tab_find(&t, "b499")->uid == 500);
    CHECK(!mcache_tab_find(&t, "b500"));
    size_t bytes = t.bytes;
    mcache_tab_put(&t, sample("b7", 9999, 0));              /* replaces, no new entry */
    CHECK_INT(t.n, 500);
    CHECK(mcache_tab_find(&t, "b7")->uid == 9999);
    CHECK(t.bytes < bytes);
    mcache_tab_prune(&t, keep_odd, NULL);
    CHECK_INT(t.n, 251);                                        /* b0 b2 ... b498, and b7 */
    CHECK(mcache_tab_find(&t, "b0") && !mcache_tab_find(&t, "b1") && mcache_tab_find(&t, "b7"));
    CHECK(mcache_tab_find(&t, "b498") && !mcache_tab_find(&t, "b499"));
    mcache_tab_free(&t);
}

TEST(file_round_trip)
{
    mcache_tab t = {0}, back = {0};
    buf f = BUF_INIT;
    const char *why = NULL;
    sample_file(&f, &t, 40);
    CHECK(mcache_decode(buf_head(&f), buf_size(&f), 77, &back, &why) == 0);
    CHECK_INT(back.n, 40);
    for (size_t i = 0; i < t.n; i++) {
        const mcache_ent *e = mcache_tab_find(&back, t.e[i]->base);
        CHECK(e && same_ent(e, t.e[i]));
    }
    CHECK(mcache_tab_find(&back, t.e[0]->base)->hdr == NULL);      /* absent stays absent */
    buf again = BUF_INIT;
    mcache_encode(&back, 77, &again);                                /* same order, same bytes */
    CHECK_MEM(buf_head(&again), buf_size(&again), buf_head(&f), buf_size(&f));
    mcache_tab empty = {0};
    buf_reset(&again);
    mcache_encode(&empty, 5, &again);
    CHECK(mcache_decode(buf_head(&again), buf_size(&again), 5, &empty, &why) == 0);
    CHECK_INT(empty.n, 0);
    mcache_tab_free(&t);
    mcache_tab_free(&back);
    buf_free(&f);
    buf_free(&again);
}

TEST(damaged_files_refused)
{
    mcache_tab t = {0}, back = {0};
    buf f = BUF_INIT;
    const char *why = NULL;
    sample_file(&f, &t, 12);
    size_t n = buf_size(&f);
    char *copy = malloc(n);
    for (size_t cut = 0; cut < n; cut++) {                           /* every truncation */
        memcpy(copy, buf_head(&f), cut);
        if (mcache_decode(copy, cut, 77, &back, &why) == 0)
            break;
        CHECK_INT(back.n, 0);
    }
    for (size_t pos = 0; pos < n; pos++) {                           /* every flipped byte */
        memcpy(copy, buf_head(&f), n);
        copy[pos] ^= 0x20;
        CHECK(mcache_decode(copy, n, 77, &back, &why) < 0);
        CHECK(why != NULL);
    }
    for (size_t i = 0; i < n; i++)                                  /* garbage */
        copy[i] = (char)(i * 131 + 7);
    CHECK(mcache_decode(copy, n, 77, &back, &why) < 0);
    CHECK(mcache_decode(buf_head(&f), n, 78, &back, &why) < 0);       /* another UIDVALIDITY */
    CHECK_STR(why, "stale UIDVALIDITY");
    memcpy(copy, buf_head(&f), n);
    copy[8] = MCACHE_VERSION - 1;            /* version 1 (no no_eol byte) and another one */
    CHECK(mcache_decode(copy, n, 77, &back, &why) < 0);
    CHECK_STR(why, "unknown version");
    copy[8] = MCACHE_VERSION + 1;
    CHECK(mcache_decode(copy, n, 77, &back, &why) < 0);
    CHECK_STR(why, "unknown version");
    CHECK(mcache_decode(buf_head(&f), n, 77, &back, &why) == 0);      /* the original is fine */
    free(copy);
    mcache_tab_free(&t);
    mcache_tab_free(&back);
    buf_free(&f);
}

/* Rewrite the checksum after an edit: the structure checks must hold alone. */
static void reseal(char *p, size_t n)
{
    uint64_t sum = mc_sum((const unsigned char *)p + MCACHE_HDRSIZE, n - MCACHE_HDRSIZE);
    for (int i = 0; i < 8; i++)
        p[24 + i] = (char)(sum >> (8 * i));
}

TEST(lying_lengths_refused_even_with_a_good_checksum)
{
    mcache_tab t = {0}, back = {0};
    buf f = BUF_INIT;
    const char *why = NULL;
    sample_file(&f, &t, 3);
    size_t n = buf_size(&f);
    char *c = malloc(n + 64);
    static const struct { size_t off; unsigned char v; const char *why; } edits[] = {
        { 16, 200, "count too large" },              /* count */
        { 16, 2, "bytes after the last entry" },
        { 32 + 0, 0, "bad base name" },              /* first entry's base length 0 */
        { 32 + 1, 0xff, "entry runs past the end" }, /* base length 65280 */
        { 32 + 2, 0x30, "bad entry flags" },
        { 32 + 3, 2, "bad entry flags" },            /* no_eol is 0 or 1 */
        { 32 + 35, 0x10, "bad field length" },       /* hdrlen beyond MCACHE_MAX_HDR */
        { 32 + 15, 0x80, "bad size" },               /* negative fsize */
        { 32 + 48, '/', "bad base name" },
        { 32 + 2, MC_BODY | MC_BS, "bad field length" },  /* ENVELOPE absent, yet a length */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(c, buf_head(&f), n);
        c[edits[i].off] = (char)edits[i].v;
        reseal(c, n);
        why = NULL;
        CHECK(mcache_decode(c, n, 77, &back, &why) < 0);
        CHECK_STR(why, edits[i].why);
        CHECK_INT(back.n, 0);
    }
    mcache_tab dup = {0};                            /* the same base twice */
    buf d = BUF_INIT;
    mcache_tab_put(&dup, sample("x1", 1, 1));
    mcache_encode(&dup, 9, &d);
    size_t one = buf_size(&d) - MCACHE_HDRSIZE;
    char *ent = malloc(one);
    memcpy(ent, buf_head(&d) + MCACHE_HDRSIZE, one);
    buf_append(&d, ent, one);
    free(ent);
    buf_head(&d)[16] = 2;
    reseal(buf_head(&d), buf_size(&d));
    CHECK(mcache_decode(buf_head(&d), buf_size(&d), 9, &back, &why) < 0);
    CHECK_STR(why, "duplicate entry");
    free(c);
    buf_free(&d);
    buf_free(&f);
    mcache_tab_free(&dup);
    mcache_tab_free(&t);
}

/* ---- on a Maildir ------------------------------------------------------- */

static char dir[128];

static void put(const char *name, const char *data)
{
    char p[512];
    snprintf(p, sizeof p, "%s/cur/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(data, f);
    fclose(f);
}

static const mcache_ent *add(mcache *mc, mailbox *mb, size_t i)
{
    buf m = BUF_INIT;
    if (mailbox_read(mb, i, &m) < 0)
        return NULL;
    mime_part *root = mime_parse(buf_head(&m), buf_size(&m));
    const mcache_ent *e = mcache_add(mc, &mb->m[i], buf_head(&m), buf_size(&m), root);
    mime_free(root);
    buf_free(&m);
    return e;
}

static size_t file_entries(uint32_t uidvalidity)
{
    char p[512];
    snprintf(p, sizeof p, "%s/" MCACHE_FILE, dir);
    FILE *f = fopen(p, "rb");
    if (!f)
        return (size_t)-1;
    char data[65536];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    mcache_tab t = {0};
    const char *why;
    if (mcache_decode(data, n, uidvalidity, &t, &why) < 0)
        return (size_t)-2;
    size_t k = t.n;
    mcache_tab_free(&t);
    return k;
}

TEST(maildir_save_reload_damage_stale)
{
    char err[256], p[512];
    snprintf(dir, sizeof dir, "/tmp/atto-mcache-XXXXXX");   /* a mkdtemp() template */
    CHECK(mkdtemp(dir));
    rmdir(dir);
    CHECK(mailbox_create(dir, err, sizeof err) == 0);
    put("1.a:2,", "From: A <a@x.test>\nSubject: one\n\nbody one\n");
    put("2.b:2,S", "From: B <b@x.test>\r\nSubject: two\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
                   "--q\r\n\r\npart\r\n--q--\r\n");
    mailbox mb;
    CHECK(mailbox_open(&mb, dir, 0, err, sizeof err) == 0);
    CHECK_INT(mb.n, 2);
    mcache *mc = mcache_open(dir, mb.uidvalidity);
    CHECK(mc && !mcache_find(mc, &mb.m[0]));
    const mcache_ent *e0 = add(mc, &mb, 0);
    CHECK(e0 && e0->size == (int64_t)strlen("From: A <a@x.test>\r\nSubject: one\r\n\r\nbody one\r\n"));
    CHECK(e0->hdr && e0->hdrlen == strlen("From: A <a@x.test>\r\nSubject: one\r\n\r\n"));
    CHECK(e0->env && strstr(e0->env, "\"one\"") && e0->bs && strstr(e0->bs, "\"plain\""));
    CHECK(add(mc, &mb, 1) && mcache_find(mc, &mb.m[1]));
    CHECK(mcache_save(mc, &mb, 0, err, sizeof err) == 0);          /* 2 new of 2: written now */
    CHECK_INT(file_entries(mb.uidvalidity), 2);

    mcache_thread_done();                                            /* a new worker: from the file */
    mc = mcache_open(dir, mb.uidvalidity);
    const mcache_ent *r1 = mcache_find(mc, &mb.m[1]);
    CHECK(r1 && strstr(r1->body, "\"mixed\"") && r1->uid == mb.m[1].uid);

    snprintf(p, sizeof p, "%s/" MCACHE_FILE, dir);                   /* damage it on disk */
    FILE *f = fopen(p, "r+b");
    fseek(f, 60, SEEK_SET);
    fputc('#', f);
    fclose(f);
    mcache_thread_done();
    mc = mcache_open(dir, mb.uidvalidity);
    CHECK(!mcache_find(mc, &mb.m[0]) && !mcache_find(mc, &mb.m[1]));  /* ignored ... */
    CHECK(add(mc, &mb, 0) && add(mc, &mb, 1));
    CHECK(mcache_save(mc, &mb, 0, err, sizeof err) == 0);           /* ... and rebuilt */
    CHECK_INT(file_entries(mb.uidvalidity), 2);

    snprintf(p, sizeof p, "%s/cur/1.a:2,", dir);                     /* message 1 goes, 3 arrives */
    unlink(p);
    put("3.c:2,", "Subject: three\n\nx\n");
    CHECK(mailbox_sync(&mb, NULL, err, sizeof err) == 0);
    CHECK_INT(mb.n, 2);
    mc = mcache_open(dir, mb.uidvalidity);
    CHECK(mcache_find(mc, &mb.m[0]) && !mcache_find(mc, &mb.m[1]));  /* "3.c" not cached yet */
    CHECK(add(mc, &mb, 1));
    CHECK(mcache_save(mc, &mb, 1, err, sizeof err) == 0);
    CHECK_INT(file_entries(mb.uidvalidity), 2);                     /* "1.a" dropped */
    CHECK(!mcache_tab_find(&mc->tab, "1.a") && mcache_tab_find(&mc->tab, "3.c"));

    mbox_msg changed = mb.m[1];                                      /* same name, other size */
    changed.fsize += 1;
    CHECK(!mcache_find(mc, &changed));
    changed = mb.m[1];
    changed.mtime += 1;
    CHECK(!mcache_find(mc, &changed));

    mc = mcache_open(dir, mb.uidvalidity + 1);                       /* folder recreated */
    CHECK(!mcache_find(mc, &mb.m[0]));
    CHECK_INT(mc->tab.n, 0);
    mailbox_close(&mb);
    mcache_thread_done();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* POP3 counts what RETR sends: the CRLF text plus a CRLF after a last line
 * without one. The entry says which messages lack it, through the file too;
 * a version 1 file (without that byte) is not trusted. */
TEST(pop3_sizes_and_no_eol)
{
    static const struct { const char *name, *data; int64_t crlf; int no_eol; } msgs[] = {
        { "1.lf:2,", "Subject: lf\n\none\ntwo\n", 25, 0 },
        { "2.crlf:2,", "Subject: crlf\r\n\r\nbody\r\n", 23, 0 },
        { "3.noeol:2,", "Subject: cut\n\nno end", 22, 1 },
        { "4.cr:2,", "Subject: cr\r\n\r\nends in CR\r", 26, 1 },
        { "5.hdronly:2,", "Subject: header only", 20, 1 },
        { "6.empty:2,", "", 0, 0 },
    };
    enum { N = sizeof msgs / sizeof msgs[0] };
    char err[256], p[512];
    snprintf(dir, sizeof dir, "/tmp/atto-mcache-XXXXXX");   /* a mkdtemp() template */
    CHECK(mkdtemp(dir));
    rmdir(dir);
    CHECK(mailbox_create(dir, err, sizeof err) == 0);
    for (size_t i = 0; i < N; i++)
        put(msgs[i].name, msgs[i].data);
    mailbox mb;
    buf m = BUF_INIT;
    CHECK(mailbox_open(&mb, dir, 0, err, sizeof err) == 0);
    CHECK_INT(mb.n, N);
    mcache_thread_done();
    mcache *mc = mcache_open(dir, mb.uidvalidity);
    for (size_t i = 0; i < N; i++) {
        const mcache_ent *e = add(mc, &mb, i);
        CHECK(e && e->size == msgs[i].crlf && e->no_eol == msgs[i].no_eol);
        CHECK(e && mcache_pop3_size(e) == msgs[i].crlf + 2 * msgs[i].no_eol);
        CHECK(mailbox_read(&mb, i, &m) == 0);
        CHECK(mcache_pop3_size_of(buf_head(&m), buf_size(&m)) == msgs[i].crlf + 2 * msgs[i].no_eol);
    }
    CHECK(mcache_save(mc, &mb, 1, err, sizeof err) == 0);
    mcache_thread_done();                                            /* back from the file */
    mc = mcache_open(dir, mb.uidvalidity);
    for (size_t i = 0; i < N; i++) {
        const mcache_ent *e = mcache_find(mc, &mb.m[i]);
        CHECK(e && e->no_eol == msgs[i].no_eol && mcache_pop3_size(e) == msgs[i].crlf + 2 * msgs[i].no_eol);
    }
    buf v1 = BUF_INIT;                                               /* the same file as version 1 */
    mcache_tab none = {0};
    for (size_t i = 0; i < mc->tab.n; i++)
        if (mc->tab.e[i]->no_eol)
            ((mcache_ent *)mc->tab.e[i])->no_eol = 0;
    mcache_encode(&mc->tab, mb.uidvalidity, &v1);
    char *h = v1.data + v1.off;
    h[8] = 1;
    reseal(h, buf_size(&v1));
    const char *why = NULL;
    CHECK(mcache_decode(buf_head(&v1), buf_size(&v1), mb.uidvalidity, &none, &why) < 0);
    CHECK_STR(why, "unknown version");
    snprintf(p, sizeof p, "%s/" MCACHE_FILE, dir);
    FILE *f = fopen(p, "wb");
    fwrite(buf_head(&v1), 1, buf_size(&v1), f);
    fclose(f);
    mcache_thread_done();
    mc = mcache_open(dir, mb.uidvalidity);
    CHECK(!mcache_find(mc, &mb.m[2]) && mc->tab.n == 0);            /* rebuilt, not trusted */
    buf_free(&v1);
    buf_free(&m);
    mailbox_close(&mb);
    mcache_thread_done();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

TEST(lru_keeps_sixteen_folders)
{
    char d[64];
    mcache_thread_done();
    for (int i = 0; i <= MCACHE_MAX_DIRS; i++) {
        snprintf(d, sizeof d, "/nonexistent/atto-lru-%d", i);
        CHECK(mcache_open(d, 1) == mc_head);
    }
    size_t n = 0;
    for (mcache *mc = mc_head; mc; mc = mc->next, n++)
        CHECK(strcmp(mc->dir, "/nonexistent/atto-lru-0") != 0);    /* the oldest went */
    CHECK_INT(n, MCACHE_MAX_DIRS);
    mcache *again = mcache_open("/nonexistent/atto-lru-5", 1);      /* a hit moves to the front */
    CHECK(again == mc_head && strcmp(again->dir, "/nonexistent/atto-lru-5") == 0);
    CHECK(mc_head->next && strcmp(mc_head->next->dir, "/nonexistent/atto-lru-16") == 0);
    mcache_thread_done();
    CHECK(mc_head == NULL);
}

int main(void)
{
    RUN(table_put_find_replace_prune);
    RUN(file_round_trip);
    RUN(damaged_files_refused);
    RUN(lying_lengths_refused_even_with_a_good_checksum);
    RUN(maildir_save_reload_damage_stale);
    RUN(pop3_sizes_and_no_eol);
    RUN(lru_keeps_sixteen_folders);
    return test_done();
}
