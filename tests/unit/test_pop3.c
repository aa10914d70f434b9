/*
 * test_pop3.c — the POP3 parser, and a full POP3 session driven through
 * fake conn functions: auth rules, STAT/LIST/UIDL/RETR/TOP with dot-stuffing,
 * DELE applied only by QUIT, a dropped connection deleting nothing, and the
 * exclusive maildrop lock.
 */
#include "tests/unit/test.h"
#include "tests/unit/mail_fake_conn.h"
#include "mail/pop3_parse.h"
#include "mail/pop3_session.h"

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

int main(void)
{
    RUN(parse_commands);
    RUN(auth_needs_tls);
    RUN(full_session_with_deletions);
    buf_free(&fake_out);
    return test_done();
}
