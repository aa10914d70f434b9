/* test_smtp_parse.c — every verb, every error reply of the command parser,
 * address syntax and limits, base64 and AUTH PLAIN, and the DATA reader cut
 * at every byte offset. */
#include "tests/unit/test.h"
#include "mail/smtp_parse.c"

static smtp_cmd cmd;
static const char *err;

static int P(const char *s) { err = NULL; return smtp_parse_line(s, strlen(s), &cmd, &err); }

TEST(every_verb)
{
    static const struct { const char *line; int verb; } t[] = {
        {"HELO a.example", SMTP_HELO}, {"ehlo [127.0.0.1]", SMTP_EHLO}, {"MAIL FROM:<a@b.c>", SMTP_MAIL},
        {"RCPT TO:<a@b.c>", SMTP_RCPT}, {"DATA", SMTP_DATA}, {"RSET", SMTP_RSET}, {"NOOP", SMTP_NOOP},
        {"NOOP anything here", SMTP_NOOP}, {"QUIT\r\n", SMTP_QUIT}, {"HELP", SMTP_HELP}, {"HELP MAIL", SMTP_HELP},
        {"VRFY bob", SMTP_VRFY}, {"EXPN list", SMTP_EXPN}, {"StartTLS", SMTP_STARTTLS}, {"AUTH PLAIN", SMTP_AUTH},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        CHECK_INT(P(t[i].line), 0);
        CHECK_INT(cmd.verb, t[i].verb);
    }
    CHECK_STR(smtp_verb_name(SMTP_STARTTLS), "STARTTLS");
    P("EHLO mx.example.org  \r\n");
    CHECK_MEM(cmd.arg, cmd.arg_len, "mx.example.org", 14);
}

TEST(unknown_and_bad_chars)
{
    CHECK_INT(P("FOO bar"), -500); CHECK_STR(err, "5.5.2 Command unrecognized");
    CHECK_INT(P(""), -500);
    CHECK_INT(P("MAILFROM:<a@b>"), -500);
    CHECK_INT(smtp_parse_line("NOOP \0x", 7, &cmd, &err), -500);
    CHECK_STR(err, "5.5.2 Bad characters in command");
    CHECK_INT(P("NOOP a\rb"), -500);
}

TEST(argument_errors)
{
    CHECK_INT(P("HELO"), -501); CHECK_STR(err, "5.5.4 Syntax: EHLO hostname");
    CHECK_INT(P("EHLO a b"), -501);
    CHECK_INT(P("DATA x"), -501); CHECK_STR(err, "5.5.4 No parameters allowed");
    CHECK_INT(P("RSET x"), -501);
    CHECK_INT(P("QUIT now"), -501);
    CHECK_INT(P("STARTTLS x"), -501);
    CHECK_INT(P("VRFY"), -501);
    CHECK_INT(P("EXPN"), -501);
}

TEST(mail_from_forms)
{
    CHECK_INT(P("MAIL FROM:<alice@example.test>"), 0);
    CHECK_STR(cmd.addr, "alice@example.test");
    CHECK_INT(cmd.local_len, 5);
    CHECK_INT(cmd.size, -1);
    CHECK_INT(P("mail from: <bob@x.y>"), 0);            /* space after colon tolerated */
    CHECK_STR(cmd.addr, "bob@x.y");
    CHECK_INT(P("MAIL FROM:<>"), 0);                    /* null path */
    CHECK_STR(cmd.addr, "");
    CHECK_INT(P("MAIL FROM:<@relay.a,@relay.b:c@d.e>"), 0);  /* source route dropped */
    CHECK_STR(cmd.addr, "c@d.e");
    CHECK_INT(P("MAIL FROM:<\"john doe\"@x.y>"), 0);
    CHECK_STR(cmd.addr, "\"john doe\"@x.y");
    CHECK_INT(P("MAIL FROM:<\"a>b\\\"c\"@x.y>"), 0);
    CHECK_INT(P("MAIL FROM:<a@[127.0.0.1]>"), 0);
    CHECK_INT(P("MAIL FROM:<a@[IPv6:::1]>"), 0);
}

TEST(mail_params)
{
    CHECK_INT(P("MAIL FROM:<a@b.c> SIZE=12345 BODY=8BITMIME SMTPUTF8"), 0);
    CHECK_INT(cmd.size, 12345);
    CHECK_INT(cmd.body, SMTP_BODY_8BITMIME);
    CHECK_INT(cmd.smtputf8, 1);
    CHECK_INT(P("MAIL FROM:<a@b.c> body=7bit"), 0);
    CHECK_INT(cmd.body, SMTP_BODY_7BIT);
    CHECK_INT(P("MAIL FROM:<a@b.c> AUTH=<>"), 0);
    CHECK_INT(P("MAIL FROM:<a@b.c> SIZE=abc"), -501); CHECK_STR(err, "5.5.4 Bad MAIL parameter value");
    CHECK_INT(P("MAIL FROM:<a@b.c> SIZE="), -501);
    CHECK_INT(P("MAIL FROM:<a@b.c> SIZE=1 SIZE=2"), -501);
    CHECK_INT(P("MAIL FROM:<a@b.c> SIZE=9999999999999999999"), -501);
    CHECK_INT(P("MAIL FROM:<a@b.c> BODY=BINARYMIME"), -501);
    CHECK_INT(P("MAIL FROM:<a@b.c> RET=FULL"), -555); CHECK_STR(err, "5.5.4 Unsupported MAIL parameter");
    CHECK_INT(P("MAIL FROM:<a@b.c> SMTPUTF8=yes"), -555);
    CHECK_INT(P("MAIL FROM:<a@b.c>junk"), -501);
}

TEST(mail_rcpt_syntax_errors)
{
    CHECK_INT(P("MAIL"), -501);
    CHECK_INT(P("MAIL TO:<a@b>"), -501);
    CHECK_INT(P("MAIL FROM:a@b.c"), -501);
    CHECK(strstr(err, "Syntax: MAIL FROM:<address>") != NULL);
    CHECK_INT(P("MAIL FROM:<a@b.c"), -501);
    CHECK_INT(P("MAIL FROM:<a b@c.d>"), -501);
    CHECK_INT(P("MAIL FROM:<postmaster>"), -501); CHECK_STR(err, "5.1.7 Bad sender address syntax");
    CHECK_INT(P("RCPT TO:<>"), -501); CHECK_STR(err, "5.1.3 Bad recipient address syntax");
    CHECK_INT(P("RCPT TO:a@b.c"), -501); CHECK_STR(err, "5.5.4 Syntax: RCPT TO:<address>");
    CHECK_INT(P("RCPT FROM:<a@b.c>"), -501);
    CHECK_INT(P("RCPT TO:<a@b.c> NOTIFY=NEVER"), -555);
    CHECK_INT(P("RCPT TO:<Postmaster>"), 0);
    CHECK_STR(cmd.addr, "Postmaster");
    CHECK_INT(P("RCPT TO:<postmaster@example.test>"), 0);
}

TEST(address_rules)
{
    static const char *good[] = { "a@b", "a.b+c@d-e.f", "x@[1.2.3.4]", "\"q\\\"x\"@d.e", "üser@dömain.de", "a!#$%&'*+/=?^_`{|}~-@d" };
    static const char *bad[] = { "@d", "a@", ".a@d", "a.@d", "a..b@d", "a@d..e", "a@-d", "a@d-", "a@.d",
                                 "a@d.", "a(b)@d", "a@[1.2.3.4", "a@d_e", "\"unterminated@d", "a@b@[x.y]" };
    size_t ll;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECK_INT(smtp_check_mailbox(good[i], strlen(good[i]), 0, &ll, &err), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (smtp_check_mailbox(bad[i], strlen(bad[i]), 0, &ll, &err) == 0) { printf("  accepted %s\n", bad[i]); CHECK(0); }
    }
    CHECK_INT(P("MAIL FROM:<üser@dömain.de>"), 0);
    CHECK_INT(cmd.utf8_addr, 1);
}

TEST(length_limits)
{
    char a[1200], line[1300];
    memset(a, 'l', 64); strcpy(a + 64, "@d.e");
    CHECK_INT(smtp_check_mailbox(a, strlen(a), 0, &(size_t){0}, &err), 0);
    memset(a, 'l', 65); strcpy(a + 65, "@d.e");
    CHECK(smtp_check_mailbox(a, strlen(a), 0, &(size_t){0}, &err) < 0);
    CHECK_STR(err, "local part longer than 64 bytes");
    /* a 63-byte label is fine, 64 is not */
    strcpy(a, "x@"); memset(a + 2, 'd', 63); a[65] = 0;
    CHECK_INT(smtp_check_mailbox(a, strlen(a), 0, &(size_t){0}, &err), 0);
    strcpy(a, "x@"); memset(a + 2, 'd', 64); a[66] = 0;
    CHECK(smtp_check_mailbox(a, strlen(a), 0, &(size_t){0}, &err) < 0);
    /* domain over 255 */
    strcpy(a, "x@"); size_t o = 2;
    for (int i = 0; i < 5; i++) { memset(a + o, 'd', 60); o += 60; a[o++] = '.'; }
    strcpy(a + o, "com");
    CHECK(smtp_check_mailbox(a, strlen(a), 0, &(size_t){0}, &err) < 0);
    CHECK_STR(err, "domain longer than 255 bytes");
    /* path over 256 */
    snprintf(line, sizeof line, "MAIL FROM:<%s>", a);
    CHECK_INT(P(line), -501);
    /* command line limits: 512 for most, 1000 for MAIL/RCPT/AUTH */
    memset(line, 'x', sizeof line);
    memcpy(line, "NOOP ", 5); line[510] = 0;
    CHECK_INT(P(line), 0);
    line[510] = 'x'; line[511] = 0;
    CHECK_INT(P(line), -500); CHECK_STR(err, "5.5.6 Line too long");
    snprintf(line, sizeof line, "MAIL FROM:<a@b.c> SIZE=1%*s", 600, "");
    CHECK_INT(P(line), 0);
}

TEST(line_find)
{
    char big[1100];
    CHECK_INT(smtp_line_find("NOOP\r\nQUIT\r\n", 12), 6);
    CHECK_INT(smtp_line_find("NOOP\r", 5), 0);
    CHECK_INT(smtp_line_find("NOOP\n", 5), 5);
    memset(big, 'a', sizeof big);
    CHECK_INT(smtp_line_find(big, 999), 0);
    CHECK_INT(smtp_line_find(big, 1000), -500);
    big[998] = '\n';
    CHECK_INT(smtp_line_find(big, 1100), 999);
}

TEST(auth_command)
{
    CHECK_INT(P("AUTH plain AGFsaWNlAHNlY3JldA=="), 0);
    CHECK_STR(cmd.mech, "PLAIN");
    CHECK_MEM(cmd.initial, cmd.initial_len, "AGFsaWNlAHNlY3JldA==", 20);
    CHECK_INT(P("AUTH LOGIN"), 0);
    CHECK(cmd.initial == NULL);
    CHECK_INT(P("AUTH CRAM-MD5"), -504);
    CHECK_INT(P("AUTH"), -501);
    CHECK_INT(P("AUTH PLAIN a b"), -501);
}

TEST(base64_and_plain)
{
    char out[64], u[32], p[32];
    CHECK_INT(smtp_b64_decode("AGFsaWNlAHNlY3JldA==", 20, out, sizeof out), 13);
    CHECK_INT(smtp_auth_plain(out, 13, u, sizeof u, p, sizeof p), 0);
    CHECK_STR(u, "alice"); CHECK_STR(p, "secret");
    CHECK_INT(smtp_b64_decode("YWxpY2U=", 8, out, sizeof out), 5); CHECK_STR(out, "alice");
    CHECK_INT(smtp_b64_decode("YWxp", 4, out, sizeof out), 3);
    CHECK_INT(smtp_b64_decode("", 0, out, sizeof out), 0);
    CHECK_INT(smtp_b64_decode("YWx", 3, out, sizeof out), -1);
    CHECK_INT(smtp_b64_decode("Y=xp", 4, out, sizeof out), -1);
    CHECK_INT(smtp_b64_decode("YW=p", 4, out, sizeof out), -1);
    CHECK_INT(smtp_b64_decode("YWxp!A==", 8, out, sizeof out), -1);
    CHECK_INT(smtp_b64_decode("YWxpY2U=", 8, out, 5), -1);     /* no room for NUL */
    CHECK_INT(smtp_b64_encode("Username:", 9, out, sizeof out), 12); CHECK_STR(out, "VXNlcm5hbWU6");
    CHECK_INT(smtp_b64_encode("ab", 2, out, sizeof out), 4); CHECK_STR(out, "YWI=");
    CHECK_INT(smtp_auth_plain("alice\0alice\0pw", 14, u, sizeof u, p, sizeof p), 0);
    CHECK_INT(smtp_auth_plain("bob\0alice\0pw", 12, u, sizeof u, p, sizeof p), -1);  /* proxy auth refused */
    CHECK_INT(smtp_auth_plain("\0alice", 6, u, sizeof u, p, sizeof p), -1);
    CHECK_INT(smtp_auth_plain("\0\0pw", 4, u, sizeof u, p, sizeof p), -1);
    CHECK_INT(smtp_auth_plain("\0alice\0p\0w", 10, u, sizeof u, p, sizeof p), -1);
}

/* Feed `in` in two pieces cut at `cut`; return output and consumed. */
static size_t feed_cut(const char *in, size_t len, size_t cut, size_t max, smtp_data *d, char *out, size_t *olen)
{
    size_t o1, o2, used;
    smtp_data_init(d, max);
    used = smtp_data_feed(d, in, cut, out, &o1);
    if (!d->done) used += smtp_data_feed(d, in + cut, len - cut, out + o1, &o2);
    else o2 = 0;
    *olen = o1 + o2;
    return used;
}

TEST(data_unstuff_every_cut)
{
    const char *in = "Subject: x\r\n\r\n..leading dot\r\n.\r\n.. \r\nend\r\n.\r\nQUIT\r\n";
    /* "\r\n.\r\n" in the middle of `in` is the end: the rest is not message */
    const char *in2 = "Subject: x\r\n\r\n..leading dot\r\n.. \r\n...\r\nend\r\n.\r\nQUIT\r\n";
    const char *want2 = "Subject: x\r\n\r\n.leading dot\r\n. \r\n..\r\nend\r\n";
    char out[200];
    size_t olen, len = strlen(in2);
    for (size_t cut = 0; cut <= len; cut++) {
        smtp_data d;
        size_t used = feed_cut(in2, len, cut, 0, &d, out, &olen);
        CHECK(d.done);
        CHECK_INT(used, len - 6);
        CHECK_MEM(out, olen, want2, strlen(want2));
        CHECK_INT(d.size, strlen(want2));
        CHECK(!d.bare_eol && !d.too_big && !d.line_too_long);
    }
    smtp_data d;
    size_t used = feed_cut(in, strlen(in), 5, 0, &d, out, &olen);
    CHECK(d.done);
    CHECK_INT(used, 32);
    CHECK_MEM(out, olen, "Subject: x\r\n\r\n.leading dot\r\n", 28);
}

TEST(data_byte_by_byte)
{
    const char *in = ".\r\n";
    smtp_data d; char out[8]; size_t o;
    smtp_data_init(&d, 0);
    for (size_t i = 0; i < 3; i++) CHECK_INT(smtp_data_feed(&d, in + i, 1, out, &o), 1);
    CHECK(d.done); CHECK_INT(d.size, 0);
    const char *msg = "a\r\n.b\r\n.\r\n";
    smtp_data_init(&d, 0);
    size_t total = 0;
    char all[32];
    for (size_t i = 0; i < strlen(msg); i++) {
        size_t n = smtp_data_feed(&d, msg + i, 1, all + total, &o);
        CHECK_INT(n, 1);
        total += o;
    }
    CHECK(d.done);
    CHECK_MEM(all, total, "a\r\nb\r\n", 6);
}

TEST(data_too_big_keeps_consuming)
{
    char in[3000], out[3100];
    size_t o = 0;
    for (int i = 0; i < 20; i++) o += (size_t)sprintf(in + o, "line %02d of the message body text\r\n", i);
    o += (size_t)sprintf(in + o, ".\r\nNOOP\r\n");
    for (size_t cut = 0; cut < o; cut += 7) {
        smtp_data d; size_t olen;
        size_t used = feed_cut(in, o, cut, 100, &d, out, &olen);
        CHECK(d.done);
        CHECK(d.too_big);
        CHECK_INT(used, o - 6);
        CHECK(olen <= 100);
    }
}

TEST(data_long_line_and_bare_eol)
{
    char in[2100], out[2200]; size_t olen;
    memset(in, 'x', 998); strcpy(in + 998, "\r\n.\r\n");
    smtp_data d;
    feed_cut(in, strlen(in), 500, 0, &d, out, &olen);
    CHECK(d.done && !d.line_too_long);
    memset(in, 'x', 999); strcpy(in + 999, "\r\n.\r\n");
    feed_cut(in, strlen(in), 998, 0, &d, out, &olen);
    CHECK(d.done && d.line_too_long);
    const char *smuggle = "a\n.\nMAIL FROM:<x@y>\r\n.\r\n";
    feed_cut(smuggle, strlen(smuggle), 2, 0, &d, out, &olen);
    CHECK(d.done && d.bare_eol);
    const char *smuggle2 = "a\r\n.\nb\r\n.\r\n";  /* ".\n" does not end it */
    size_t used = feed_cut(smuggle2, strlen(smuggle2), 4, 0, &d, out, &olen);
    CHECK(d.done && d.bare_eol);
    CHECK_INT(used, strlen(smuggle2));
    const char *cr = "a\rb\r\n.\r\n";
    feed_cut(cr, strlen(cr), 2, 0, &d, out, &olen);
    CHECK(d.done && d.bare_eol);
    const char *dotcr = "a\r\n.\rx\r\n.\r\n";
    used = feed_cut(dotcr, strlen(dotcr), 5, 0, &d, out, &olen);
    CHECK(d.done && d.bare_eol);
    CHECK_INT(used, strlen(dotcr));
}

int main(void)
{
    RUN(every_verb);
    RUN(unknown_and_bad_chars);
    RUN(argument_errors);
    RUN(mail_from_forms);
    RUN(mail_params);
    RUN(mail_rcpt_syntax_errors);
    RUN(address_rules);
    RUN(length_limits);
    RUN(line_find);
    RUN(auth_command);
    RUN(base64_and_plain);
    RUN(data_unstuff_every_cut);
    RUN(data_byte_by_byte);
    RUN(data_too_big_keeps_consuming);
    RUN(data_long_line_and_bare_eol);
    return test_done();
}
