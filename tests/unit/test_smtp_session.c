/* test_smtp_session.c — smtp_proto and submission_proto driven through fake
 * conn functions (defined here: conn_write collects the output) and a fake
 * worker with fake mail hooks: whole conversations, pipelining, every kind
 * of refusal, rules, sizes, AUTH with its delay, STARTTLS reset, disconnect
 * mid-DATA and a disk failure. */
#include "tests/unit/test.h"
#include "core/buf.h"
#include "core/server.h"
#include "mail/smtp_session.h"
#include "mail/smtp_deliver.h"
#include "mail/maildir.h"
#include "mail/users.h"
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <uv.h>

/* ---- fake conn ---- */
static buf out;
static int closed, timer_ms, tls_on, starttls_called;
static void (*tls_ready)(conn *);
int conn_write(conn *c, const void *d, size_t n) { buf_append(&out, d, n); return 0; }
int conn_writev(conn *c, const struct iovec *iov, int n) { for (int i = 0; i < n; i++) buf_append(&out, iov[i].iov_base, iov[i].iov_len); return 0; }
int conn_puts(conn *c, const char *s) { buf_puts(&out, s); return 0; }
int conn_printf(conn *c, const char *fmt, ...) { char t[2048]; va_list ap; va_start(ap, fmt); vsnprintf(t, sizeof t, fmt, ap); va_end(ap); buf_puts(&out, t); return 0; }
void conn_close(conn *c) { closed = 1; }
void conn_abort(conn *c) { closed = 1; }
void conn_timer(conn *c, uint64_t ms) { timer_ms = (int)ms; }
void conn_pause(conn *c) {}
void conn_resume(conn *c) {}
size_t conn_queued(const conn *c) { return 0; }
void conn_set_proto(conn *c, const conn_proto *p, void *d) {}
int conn_starttls(conn *c, void (*ready)(conn *)) { starttls_called = 1; tls_ready = ready; return 0; }
int conn_is_tls(const conn *c) { return tls_on; }
const char *conn_alpn(const conn *c) { return NULL; }
const char *conn_sni(const conn *c) { return NULL; }
void *conn_loop(conn *c) { return uv_default_loop(); }
void log_error(const char *fmt, ...) {}
void log_warn(const char *fmt, ...) {}
void log_info(const char *fmt, ...) {}

/* ---- fake worker, config and hooks ---- */
static char site[256];
static const char *domains[] = { "example.test", "Other.Test" };
static mail_config cfg = { domains, 2, "127.0.0.1", 2526, 2000, 1 };
static mail_verdict connect_v, helo_v, from_v, rcpt_v, msg_v;
static mail_action acts[8];
static size_t nacts;
static char seen_from[300], seen_data[4096];
static size_t seen_nto;
static const mail_config *h_config(void *app) { return &cfg; }
static void h_connect(void *app, const mail_session_info *s, mail_verdict *v) { *v = connect_v; }
static void h_helo(void *app, const mail_session_info *s, const char *name, mail_verdict *v) { *v = helo_v; }
static void h_from(void *app, const mail_session_info *s, const char *from, mail_verdict *v) { *v = from_v; }
static void h_rcpt(void *app, const mail_session_info *s, const mail_rcpt *r, mail_verdict *v)
{
    *v = rcpt_v;
    if (strcmp(r->user, "blocked") == 0) { v->kind = MAIL_REJECT; v->code = 550; snprintf(v->text, sizeof v->text, "5.7.1 Blocked by rule"); }
}
static size_t h_message(void *app, const mail_message *m, mail_action *a, size_t max, mail_verdict *v)
{
    *v = msg_v;
    snprintf(seen_from, sizeof seen_from, "%s", m->from);
    seen_nto = m->nto;
    snprintf(seen_data, sizeof seen_data, "%.*s", (int)m->size, m->data);
    memcpy(a, acts, nacts * sizeof *a);
    return nacts;
}
static mail_hooks hooks = { h_config, h_connect, h_helo, h_from, h_rcpt, h_message };
static app_ops ops;
static server_config scfg;
static worker w;
static conn c;

static int queued_n;
static char queued_from[300], queued_to[4][300];
static size_t queued_nto;
static int fake_queue(const char *s, const char *from, const char *const *to, size_t n, const char *d, size_t l, char *err, size_t el)
{
    queued_n++;
    snprintf(queued_from, sizeof queued_from, "%s", from);
    queued_nto = n;
    for (size_t i = 0; i < n && i < 4; i++) snprintf(queued_to[i], sizeof queued_to[i], "%s", to[i]);
    return 0;
}

static void reset_world(void)
{
    memset(&connect_v, 0, sizeof connect_v); helo_v = from_v = rcpt_v = msg_v = connect_v;
    nacts = 0; queued_n = 0; seen_from[0] = 0;
    cfg.plaintext_auth = 1; cfg.max_message_size = 2000;
    smtp_auth_delay_ms = 5;
}

static void start(const conn_proto *p, const char *addr, int tls_available)
{
    buf_reset(&out);
    closed = 0; timer_ms = 0; tls_on = 0; starttls_called = 0;
    memset(&c, 0, sizeof c);
    c.w = &w; c.id = 7; c.proto = p;
    snprintf(c.remote_addr, sizeof c.remote_addr, "%s", addr);
    w.tls = tls_available ? (struct tls_ctx *)&w : NULL;
    p->open(&c);
}

static void send_str(const char *s) { buf_reset(&out); c.proto->read(&c, s, strlen(s)); }
static const char *output(void) { return buf_cstr(&out); }
static void finish(void) { c.proto->close(&c); }

static int count_new(const char *user, const char *folder)
{
    char p[600];
    snprintf(p, sizeof p, "%s/mail/%s/%s%s%snew", site, user, folder ? "." : "", folder ? folder : "", folder ? "/" : "");
    DIR *d = opendir(p);
    if (!d) return 0;
    int n = 0; struct dirent *e;
    while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* The content of the one message in a user's new/ (or ""). */
static const char *read_new(const char *user, const char *folder)
{
    static char data[8192];
    char p[600], f[1200];
    snprintf(p, sizeof p, "%s/mail/%s/%s%s%snew", site, user, folder ? "." : "", folder ? folder : "", folder ? "/" : "");
    data[0] = 0;
    DIR *d = opendir(p);
    if (!d) return data;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(f, sizeof f, "%s/%s", p, e->d_name);
        FILE *fp = fopen(f, "rb");
        size_t n = fread(data, 1, sizeof data - 1, fp);
        fclose(fp);
        data[n] = 0;
    }
    closedir(d);
    return data;
}

static void clear_mail(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s/mail %s/.atto", site, site);
    if (system(cmd) != 0) abort();
}

#define HAS(s) CHECK(strstr(output(), (s)) != NULL)
#define HASNT(s) CHECK(strstr(output(), (s)) == NULL)

TEST(greeting_and_ehlo)
{
    reset_world();
    start(&smtp_proto, "192.0.2.1", 0);
    HAS("220 "); HAS(" ESMTP atto\r\n");
    CHECK_INT(timer_ms, 300000);
    send_str("EHLO client.example\r\n");
    HAS("250-SIZE 2000\r\n"); HAS("250-8BITMIME\r\n"); HAS("250-PIPELINING\r\n");
    HAS("250-ENHANCEDSTATUSCODES\r\n"); HAS("250-SMTPUTF8\r\n"); HAS("250 HELP\r\n");
    HASNT("STARTTLS"); HASNT("AUTH");  /* no TLS here, not loopback */
    send_str("HELO client.example\r\n");
    CHECK(strncmp(output(), "250 ", 4) == 0);
    finish();
    start(&smtp_proto, "127.0.0.1", 1);
    send_str("EHLO x\r\n");
    HAS("250-STARTTLS\r\n"); HAS("250-AUTH PLAIN LOGIN\r\n");  /* plaintext_auth on loopback */
    finish();
}

TEST(full_conversation_delivers)
{
    reset_world(); clear_mail();
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO client.example\r\n");
    send_str("MAIL FROM:<sender@remote.example> SIZE=100 BODY=8BITMIME\r\n"); CHECK_STR(output(), "250 2.1.0 Ok\r\n");
    send_str("RCPT TO:<Alice@EXAMPLE.test>\r\n"); CHECK_STR(output(), "250 2.1.5 Ok\r\n");
    send_str("DATA\r\n"); CHECK_STR(output(), "354 End data with <CR><LF>.<CR><LF>\r\n");
    send_str("Subject: hello\r\n\r\n..dotted line\r\nbye\r\n.\r\n");
    HAS("250 2.0.0 Ok: queued as ");
    CHECK_INT(count_new("alice", NULL), 1);
    const char *m = read_new("alice", NULL);
    const char *want = "Received: from client.example (192.0.2.1 [192.0.2.1])\r\n\tby ";
    CHECK(strncmp(m, want, strlen(want)) == 0);
    CHECK(strstr(m, " with ESMTP id ") != NULL);
    CHECK(strstr(m, "for <Alice@EXAMPLE.test>;") != NULL);
    CHECK(strstr(m, "\r\nSubject: hello\r\n\r\n.dotted line\r\nbye\r\n") != NULL);
    CHECK_STR(seen_from, "sender@remote.example");
    send_str("QUIT\r\n"); CHECK_STR(output(), "221 2.0.0 Bye\r\n");
    CHECK(closed);
    finish();
}

TEST(pipelining_answers_in_order)
{
    reset_world(); clear_mail();
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@other.test>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n");
    const char *o = output();
    const char *p1 = strstr(o, "250 HELP"), *p2 = strstr(o, "250 2.1.0"), *p3 = strstr(o, "250 2.1.5");
    const char *p4 = p3 ? strstr(p3 + 1, "250 2.1.5") : NULL, *p5 = strstr(o, "354 "), *p6 = strstr(o, "250 2.0.0 Ok: queued");
    const char *p7 = strstr(o, "250 2.0.0 Ok\r\n"), *p8 = strstr(o, "221 ");
    CHECK(p1 && p2 && p3 && p4 && p5 && p6 && p7 && p8);
    CHECK(p1 < p2 && p2 < p3 && p3 < p4 && p4 < p5 && p5 < p6 && p6 < p7 && p7 < p8);
    CHECK_INT(count_new("alice", NULL), 1);
    CHECK_INT(count_new("bob", NULL), 1);
    CHECK_STR(seen_from, "");
    finish();
}

TEST(command_cut_at_every_byte)
{
    reset_world(); clear_mail();
    const char *conv = "EHLO a\r\nMAIL FROM:<x@y.z>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: s\r\n\r\n..a\r\n.\r\nQUIT\r\n";
    size_t len = strlen(conv);
    for (size_t cut = 1; cut < len; cut += 3) {
        start(&smtp_proto, "192.0.2.1", 0);
        buf all = BUF_INIT;
        send_str(""); 
        c.proto->read(&c, conv, cut); buf_append(&all, buf_head(&out), buf_size(&out)); buf_reset(&out);
        c.proto->read(&c, conv + cut, len - cut); buf_append(&all, buf_head(&out), buf_size(&out));
        CHECK(strstr(buf_cstr(&all), "250 2.0.0 Ok: queued") != NULL);
        CHECK(strstr(buf_cstr(&all), "221 2.0.0 Bye") != NULL);
        buf_free(&all);
        finish();
    }
    CHECK_INT(count_new("alice", NULL), (int)((len - 2) / 3 + 1));
}

TEST(bad_sequence_and_syntax)
{
    reset_world();
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("MAIL FROM:<a@b.c>\r\n"); CHECK_STR(output(), "503 5.5.1 Send HELO/EHLO first\r\n");
    send_str("EHLO a\r\n");
    send_str("RCPT TO:<alice@example.test>\r\n"); CHECK_STR(output(), "503 5.5.1 Need MAIL before RCPT\r\n");
    send_str("DATA\r\n"); CHECK_STR(output(), "503 5.5.1 Need MAIL and RCPT before DATA\r\n");
    send_str("MAIL FROM:<a@b.c>\r\n");
    send_str("DATA\r\n"); CHECK_STR(output(), "554 5.5.1 No valid recipients\r\n");
    send_str("MAIL FROM:<a@b.c>\r\n"); CHECK_STR(output(), "503 5.5.1 Nested MAIL command\r\n");
    send_str("RSET\r\n"); CHECK_STR(output(), "250 2.0.0 Ok\r\n");
    send_str("FROB\r\n"); CHECK_STR(output(), "500 5.5.2 Command unrecognized\r\n");
    send_str("MAIL FROM:a@b.c\r\n"); HAS("501 5.5.4 Syntax: MAIL FROM:<address>");
    send_str("MAIL FROM:<a@b.c> FOO=1\r\n"); CHECK_STR(output(), "555 5.5.4 Unsupported MAIL parameter\r\n");
    send_str("VRFY alice\r\n"); HAS("252 2.5.0");
    send_str("EXPN staff\r\n"); HAS("502 5.5.1");
    send_str("HELP\r\n"); HAS("214-2.0.0   MAIL FROM:<address>"); HAS("214 2.0.0 End of HELP\r\n");
    send_str("HELP rcpt\r\n"); CHECK_STR(output(), "214 2.0.0 RCPT TO:<address> - add a recipient\r\n");
    send_str("NOOP\r\n"); CHECK_STR(output(), "250 2.0.0 Ok\r\n");
    finish();
}

TEST(long_line_and_garbage)
{
    reset_world();
    start(&smtp_proto, "192.0.2.1", 0);
    char big[10001];
    memset(big, 'A', 10000); big[10000] = 0;
    send_str(big);
    CHECK_STR(output(), "500 5.5.6 Line too long\r\n");
    send_str("AAAA\r\nNOOP\r\n");
    CHECK_STR(output(), "250 2.0.0 Ok\r\n");
    char line[600]; memset(line, 'x', 599); memcpy(line, "NOOP ", 5); line[597] = '\r'; line[598] = '\n'; line[599] = 0;
    send_str(line); CHECK_STR(output(), "500 5.5.6 Line too long\r\n");
    CHECK(!closed);
    for (int i = 0; i < 20 && !closed; i++) send_str("\x01\x02\xff garbage\r\n");
    CHECK(closed);
    HAS("421 4.7.0 Too many errors");
    finish();
}

TEST(relay_and_unknown_users)
{
    reset_world();
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO a\r\nMAIL FROM:<a@b.c>\r\n");
    send_str("RCPT TO:<someone@elsewhere.example>\r\n"); CHECK_STR(output(), "550 5.7.1 Relay access denied\r\n");
    send_str("RCPT TO:<nobody@example.test>\r\n"); CHECK_STR(output(), "550 5.1.1 <nobody@example.test>: no such user here\r\n");
    send_str("RCPT TO:<blocked@example.test>\r\n"); CHECK_STR(output(), "550 5.7.1 Blocked by rule\r\n");
    send_str("RCPT TO:<\xc3\xbc@example.test>\r\n"); CHECK_STR(output(), "553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n");
    finish();
}

TEST(too_many_recipients)
{
    reset_world();
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO a\r\nMAIL FROM:<a@b.c>\r\n");
    for (int i = 0; i < 100; i++) { send_str("RCPT TO:<alice@example.test>\r\n"); CHECK_STR(output(), "250 2.1.5 Ok\r\n"); }
    send_str("RCPT TO:<alice@example.test>\r\n"); CHECK_STR(output(), "452 4.5.3 Too many recipients\r\n");
    finish();
}

TEST(sizes)
{
    reset_world(); clear_mail();
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO a\r\nMAIL FROM:<a@b.c> SIZE=2001\r\n");
    HAS("552 5.3.4 Message size exceeds fixed limit of 2000 bytes\r\n");
    send_str("MAIL FROM:<a@b.c>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
    buf_reset(&out);
    char body[300];
    memset(body, 'z', 98); memcpy(body + 98, "\r\n", 3);
    for (int i = 0; i < 30; i++) { c.proto->read(&c, body, 100); CHECK_INT(buf_size(&out), 0); }
    send_str(".\r\n");
    CHECK_STR(output(), "552 5.3.4 Message too big (max 2000 bytes)\r\n");
    CHECK_INT(count_new("alice", NULL), 0);
    send_str("MAIL FROM:<a@b.c>\r\n"); CHECK_STR(output(), "250 2.1.0 Ok\r\n");  /* transaction was reset */
    send_str("RCPT TO:<alice@example.test>\r\nDATA\r\nbare\nlf\r\n.\r\n");
    HAS("554 5.6.0 Bare CR or LF");
    CHECK_INT(count_new("alice", NULL), 0);
    finish();
}

TEST(disconnect_mid_data_delivers_nothing)
{
    reset_world(); clear_mail();
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: half\r\n\r\nsome");
    c.proto->eof(&c);
    CHECK(closed);
    CHECK_INT(count_new("alice", NULL), 0);
    char p[400]; snprintf(p, sizeof p, "%s/mail/alice/tmp", site);
    DIR *d = opendir(p); int n = 0; struct dirent *e;
    while (d && (e = readdir(d))) if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    CHECK_INT(n, 0);
    finish();
}

TEST(disk_full_is_451_and_nothing_half_written)
{
    reset_world(); clear_mail();
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
    /* the second copy fails: the first must be taken back */
    maildir_inject_skip = 1;
    maildir_inject_errno = ENOSPC;
    send_str("x\r\n.\r\n");
    CHECK_STR(output(), "451 4.3.0 Temporary delivery failure, try again later\r\n");
    CHECK_INT(count_new("alice", NULL), 0);
    CHECK_INT(count_new("bob", NULL), 0);
    send_str("MAIL FROM:<a@b.c>\r\n"); CHECK_STR(output(), "250 2.1.0 Ok\r\n");
    finish();
}

TEST(hooks_verdicts)
{
    reset_world(); clear_mail();
    connect_v.kind = MAIL_REJECT; connect_v.code = 554; snprintf(connect_v.text, sizeof connect_v.text, "5.7.1 Go away");
    start(&smtp_proto, "192.0.2.1", 0);
    CHECK_STR(output(), "554 5.7.1 Go away\r\n");
    CHECK(closed);
    finish();
    reset_world();
    helo_v.kind = MAIL_REJECT; helo_v.code = 200;  /* a bad code is forced into 5xx */
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO bad\r\n"); CHECK_STR(output(), "550 5.7.1 Rejected\r\n");
    send_str("MAIL FROM:<a@b.c>\r\n"); HAS("503 5.5.1 Send HELO/EHLO first");
    finish();
    reset_world();
    from_v.kind = MAIL_DEFER; from_v.code = 451; snprintf(from_v.text, sizeof from_v.text, "4.7.1 Greylisted\r\nX");
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO a\r\nMAIL FROM:<a@b.c>\r\n"); HAS("451 4.7.1 Greylisted  X\r\n");
    finish();
    reset_world();
    msg_v.kind = MAIL_REJECT; msg_v.code = 554; snprintf(msg_v.text, sizeof msg_v.text, "5.7.1 Spam");
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nx\r\n.\r\n");
    HAS("554 5.7.1 Spam\r\n");
    CHECK_INT(count_new("alice", NULL), 0);
    finish();
}

static void one_message(const char *rcpts)
{
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("EHLO a\r\nMAIL FROM:<friend@remote.example>\r\n");
    send_str(rcpts);
    send_str("DATA\r\nSubject: [SPAM] buy\r\nMessage-ID: <m1@remote>\r\n\r\nbody\r\n.\r\n");
}

TEST(rule_actions)
{
    reset_world(); clear_mail();
    acts[0] = (mail_action){ MAIL_ACT_FILEINTO, "Junk", NULL };
    acts[1] = (mail_action){ MAIL_ACT_ADD_HEADER, "X-Spam", "yes" };
    nacts = 2;
    one_message("RCPT TO:<alice@example.test>\r\n");
    HAS("250 2.0.0 Ok: queued as ");
    CHECK_INT(count_new("alice", NULL), 0);
    CHECK_INT(count_new("alice", "Junk"), 1);
    const char *m = read_new("alice", "Junk");
    const char *rcv = strstr(m, "Received: "), *xs = strstr(m, "\r\nX-Spam: yes\r\nSubject: [SPAM]");
    CHECK(rcv == m && xs != NULL);
    finish();

    clear_mail(); nacts = 1;
    acts[0] = (mail_action){ MAIL_ACT_DISCARD, NULL, NULL };
    one_message("RCPT TO:<alice@example.test>\r\n");
    HAS("250 2.0.0 Ok: queued as ");
    CHECK_INT(count_new("alice", NULL), 0);
    finish();

    clear_mail(); nacts = 2;
    acts[0] = (mail_action){ MAIL_ACT_REDIRECT, "bob@example.test", NULL };
    acts[1] = (mail_action){ MAIL_ACT_REDIRECT, "carol@far.example", NULL };
    one_message("RCPT TO:<alice@example.test>\r\n");
    HAS("250 2.0.0 Ok: queued as ");
    CHECK_INT(count_new("alice", NULL), 0);
    CHECK_INT(count_new("bob", NULL), 1);
    CHECK_INT(queued_n, 1);
    CHECK_STR(queued_to[0], "carol@far.example");
    CHECK_STR(queued_from, "friend@remote.example");
    finish();

    clear_mail(); nacts = 2; queued_n = 0;
    acts[0] = (mail_action){ MAIL_ACT_REDIRECT, "bob@example.test", NULL };
    acts[1] = (mail_action){ MAIL_ACT_KEEP, NULL, NULL };
    one_message("RCPT TO:<alice@example.test>\r\n");
    CHECK_INT(count_new("alice", NULL), 1);
    CHECK_INT(count_new("bob", NULL), 1);
    CHECK_INT(queued_n, 0);
    finish();

    clear_mail(); nacts = 1;
    acts[0] = (mail_action){ MAIL_ACT_FILEINTO, "../../etc", NULL };  /* bad folder: kept in INBOX */
    one_message("RCPT TO:<alice@example.test>\r\n");
    CHECK_INT(count_new("alice", NULL), 1);
    finish();
}

TEST(vacation_once_a_day)
{
    reset_world(); clear_mail();
    acts[0] = (mail_action){ MAIL_ACT_REPLY, "Away", "I am away.\nBack soon." };
    nacts = 1;
    one_message("RCPT TO:<alice@example.test>\r\n");
    CHECK_INT(count_new("alice", NULL), 1);
    CHECK_INT(queued_n, 1);
    CHECK_STR(queued_from, "");
    CHECK_STR(queued_to[0], "friend@remote.example");
    finish();
    one_message("RCPT TO:<alice@example.test>\r\n");
    CHECK_INT(count_new("alice", NULL), 2);
    CHECK_INT(queued_n, 1);  /* not again today */
    finish();
    start(&smtp_proto, "192.0.2.1", 0);  /* never to the null sender */
    send_str("EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nx\r\n.\r\n");
    CHECK_INT(queued_n, 1);
    finish();
}

static const char *plain_b64 = "AGFsaWNlAHMzY3JldA==";   /* \0alice\0s3cret */
static const char *bad_b64 = "AGFsaWNlAHdyb25n";          /* \0alice\0wrong */

TEST(auth_needs_tls)
{
    reset_world();
    cfg.plaintext_auth = 0;
    start(&submission_proto, "127.0.0.1", 1);
    send_str("EHLO a\r\n"); HASNT("AUTH");
    char line[100]; snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", plain_b64);
    send_str(line); CHECK_STR(output(), "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
    send_str("MAIL FROM:<alice@example.test>\r\n"); CHECK_STR(output(), "530 5.7.0 Authentication required\r\n");
    finish();
    cfg.plaintext_auth = 1;
    start(&submission_proto, "192.0.2.9", 1);  /* plaintext_auth is for loopback only */
    send_str("EHLO a\r\n"); send_str(line); HAS("538 5.7.11");
    finish();
}

TEST(auth_plain_and_relay)
{
    reset_world(); clear_mail();
    start(&submission_proto, "127.0.0.1", 0);
    char line[100]; snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", plain_b64);
    send_str("EHLO a\r\n"); send_str(line);
    CHECK_STR(output(), "235 2.7.0 Authentication successful\r\n");
    send_str(line); CHECK_STR(output(), "503 5.5.1 Already authenticated\r\n");
    send_str("MAIL FROM:<alice@example.test>\r\nRCPT TO:<x@far.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nhi\r\n.\r\n");
    HAS("250 2.0.0 Ok: queued as ");
    CHECK_INT(queued_n, 1);
    CHECK_INT(queued_nto, 1);
    CHECK_STR(queued_to[0], "x@far.example");
    CHECK_INT(count_new("bob", NULL), 1);
    CHECK(strstr(read_new("bob", NULL), " with ESMTPA id ") != NULL);
    finish();
}

TEST(auth_login_and_cancel)
{
    reset_world();
    start(&smtp_proto, "127.0.0.1", 0);
    send_str("EHLO a\r\nAUTH LOGIN\r\n"); HAS("334 VXNlcm5hbWU6\r\n");
    send_str("YWxpY2U=\r\n"); CHECK_STR(output(), "334 UGFzc3dvcmQ6\r\n");
    send_str("czNjcmV0\r\n"); CHECK_STR(output(), "235 2.7.0 Authentication successful\r\n");
    finish();
    start(&smtp_proto, "127.0.0.1", 0);
    send_str("EHLO a\r\nAUTH PLAIN\r\n"); HAS("334 \r\n");
    send_str("*\r\n"); CHECK_STR(output(), "501 5.0.0 Authentication cancelled\r\n");
    send_str("AUTH PLAIN !!!!\r\n"); CHECK_STR(output(), "501 5.5.2 Cannot decode base64 response\r\n");
    send_str("AUTH CRAM-MD5\r\n"); HAS("504 5.5.4");
    finish();
}

TEST(auth_failure_delay_and_drop)
{
    reset_world();
    smtp_auth_delay_ms = 1000;
    start(&smtp_proto, "127.0.0.1", 0);
    char line[100]; snprintf(line, sizeof line, "AUTH PLAIN %s\r\nNOOP\r\n", bad_b64);
    send_str("EHLO a\r\n");
    send_str(line);
    CHECK_INT(buf_size(&out), 0);         /* the 535 waits for the timer; NOOP stays buffered */
    CHECK_INT(timer_ms, 1000);
    buf_reset(&out);
    c.proto->timeout(&c);
    CHECK_STR(output(), "535 5.7.8 Authentication credentials invalid\r\n250 2.0.0 Ok\r\n");
    for (int i = 2; i <= 3; i++) {
        snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", bad_b64);
        send_str(line);
        CHECK_INT(buf_size(&out), 0);
        buf_reset(&out);
        c.proto->timeout(&c);
    }
    HAS("535 5.7.8"); HAS("421 4.7.0 Too many failed authentications");
    CHECK(closed);
    finish();
}

TEST(starttls_resets_session)
{
    reset_world();
    start(&smtp_proto, "192.0.2.1", 0);
    send_str("STARTTLS\r\n"); CHECK_STR(output(), "454 4.7.0 TLS not available\r\n");
    finish();
    start(&smtp_proto, "192.0.2.1", 1);
    send_str("EHLO a\r\nSTARTTLS\r\nMAIL FROM:<injected@x.y>\r\n");
    HAS("220 2.0.0 Ready to start TLS\r\n"); HASNT("250 2.1.0");
    CHECK(starttls_called);
    tls_on = 1;
    buf_reset(&out);
    tls_ready(&c);
    CHECK_INT(buf_size(&out), 0);  /* no new greeting */
    send_str("MAIL FROM:<a@b.c>\r\n"); CHECK_STR(output(), "503 5.5.1 Send HELO/EHLO first\r\n");
    send_str("EHLO a\r\n"); HASNT("STARTTLS"); HAS("250-AUTH PLAIN LOGIN");
    send_str("STARTTLS\r\n"); CHECK_STR(output(), "503 5.5.1 TLS already active\r\n");
    send_str("MAIL FROM:<a@b.c>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nx\r\n.\r\n");
    CHECK(strstr(read_new("alice", NULL), " with ESMTPS id ") != NULL);
    finish();
}

TEST(idle_timeout)
{
    reset_world();
    start(&smtp_proto, "192.0.2.1", 0);
    buf_reset(&out);
    c.proto->timeout(&c);
    HAS("421 4.4.2 "); CHECK(closed);
    finish();
}

TEST(drain_says_goodbye)
{
    reset_world();
    start(&smtp_proto, "192.0.2.1", 0);
    buf_reset(&out);
    c.proto->drain(&c);
    CHECK_STR(output(), "421 4.3.2 Server shutting down\r\n");
    CHECK(closed);
    finish();
}

int main(void)
{
    char err[200];
    snprintf(site, sizeof site, "/tmp/atto-smtp-XXXXXX");
    if (!mkdtemp(site)) return 1;
    if (users_set(site, "alice", "s3cret", err, sizeof err) < 0 || users_set(site, "bob", "pw", err, sizeof err) < 0 ||
        users_set(site, "blocked", "pw", err, sizeof err) < 0) { printf("FAIL setup: %s\n", err); return 1; }
    scfg.site_dir = site;
    ops.mail = &hooks;
    w.cfg = &scfg; w.ops = &ops;
    smtp_queue_submit_hook = fake_queue;
    RUN(greeting_and_ehlo);
    RUN(full_conversation_delivers);
    RUN(pipelining_answers_in_order);
    RUN(command_cut_at_every_byte);
    RUN(bad_sequence_and_syntax);
    RUN(long_line_and_garbage);
    RUN(relay_and_unknown_users);
    RUN(too_many_recipients);
    RUN(sizes);
    RUN(disconnect_mid_data_delivers_nothing);
    RUN(disk_full_is_451_and_nothing_half_written);
    RUN(hooks_verdicts);
    RUN(rule_actions);
    RUN(vacation_once_a_day);
    RUN(auth_needs_tls);
    RUN(auth_plain_and_relay);
    RUN(auth_login_and_cancel);
    RUN(auth_failure_delay_and_drop);
    RUN(starttls_resets_session);
    RUN(idle_timeout);
    RUN(drain_says_goodbye);
    char cmd[300]; snprintf(cmd, sizeof cmd, "rm -rf %s", site);
    if (system(cmd) != 0) return 1;
    buf_free(&out);
    return test_done();
}
