/*
 * test_mime.c — MIME structure on sample messages (plain, alternative,
 * mixed with attachment, nested message/rfc822), section lookup, ENVELOPE
 * with groups, and the decoders SEARCH relies on.
 */
#include "tests/unit/test.h"
#include "mail/mime.h"

static const char *NESTED =
    "From: a@x.test\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
    "--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n"
    "--b2\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b2\r\nContent-Type: text/html\r\n\r\n<b>hi</b>\r\n--b2--\r\n"
    "--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@y.test\r\nSubject: inner\r\n\r\ninner body\r\n--b1--\r\n";

TEST(plain_default_type)
{
    const char *m = "Subject: x\r\n\r\nhello\r\nworld\r\n";
    mime_part *p = mime_parse(m, strlen(m));
    buf b = BUF_INIT;
    mime_bodystructure(&b, m, p, 0);
    CHECK_STR(buf_cstr(&b), "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 2)");
    mime_free(p);
    buf_free(&b);
}

TEST(nested_structure_and_sections)
{
    mime_part *p = mime_parse(NESTED, strlen(NESTED));
    CHECK(mime_is(p, "multipart", "mixed") && p->nchild == 2);
    CHECK(mime_is(p->child, "multipart", "alternative") && p->child->nchild == 2);
    uint32_t s11[] = { 1, 2 }, s2[] = { 2 }, s21[] = { 2, 1 }, bad[] = { 3 };
    mime_part *h = mime_section(p, s11, 2);
    CHECK(h && mime_is(h, "text", "html"));
    CHECK_MEM(NESTED + h->body_off, h->body_len, "<b>hi</b>", 9);
    mime_part *msg = mime_section(p, s2, 1);
    CHECK(msg && msg->msg);
    mime_part *inner = mime_section(p, s21, 2);
    CHECK(inner && inner == msg->msg);
    CHECK_MEM(NESTED + inner->body_off, inner->body_len, "inner body", 10);
    CHECK(mime_section(p, bad, 1) == NULL);
    buf b = BUF_INIT;
    mime_bodystructure(&b, NESTED, p, 1);
    CHECK(strstr(buf_cstr(&b), "\"alternative\" (\"boundary\" \"b2\") NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 44 (NIL \"inner\" ((NIL NIL \"c\" \"y.test\"))") != NULL);
    mime_free(p);
    buf_free(&b);
}

TEST(envelope_groups_and_missing)
{
    const char *h = "To: undisclosed-recipients:;\r\nCc: Team: a@b.test, \"Q, R\" <q@r.test>;\r\n\r\n";
    buf b = BUF_INIT;
    mime_envelope(&b, h, strlen(h));
    CHECK_STR(buf_cstr(&b), "(NIL NIL NIL NIL NIL ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
              "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b.test\")(\"Q, R\" NIL \"q\" \"r.test\")(NIL NIL NIL NIL)) NIL NIL NIL)");
    buf_free(&b);
}

TEST(decoders)
{
    buf b = BUF_INIT;
    const char *w = "=?UTF-8?B?Q2Fmw6k=?= =?ISO-8859-1?Q?na=EFve_x?= end";
    mime_decode_words(w, strlen(w), &b);
    CHECK_STR(buf_cstr(&b), "Caf\xc3\xa9na\xc3\xafve x end");
    buf_reset(&b);
    mime_decode_body("a=3Db=\r\nc", 9, "quoted-printable", &b);
    CHECK_STR(buf_cstr(&b), "a=bc");
    buf_reset(&b);
    mime_decode_body("aGVsbG8=\r\n", 10, "BASE64", &b);
    CHECK_STR(buf_cstr(&b), "hello");
    buf_reset(&b);
    mime_put_string(&b, "a\"b\\", 4);
    mime_put_string(&b, "\xc3\xa9", 2);
    CHECK_STR(buf_cstr(&b), "\"a\\\"b\\\\\"{2}\r\n\xc3\xa9");
    int y, m, d;
    long tz;
    CHECK(mime_parse_date("Tue, 1 Feb 2022 10:00:00 -0130", 30, &y, &m, &d, &tz, NULL, NULL, NULL));
    CHECK(y == 2022 && m == 1 && d == 1 && tz == -5400);
    CHECK(!mime_parse_date("yesterday", 9, &y, &m, &d, &tz, NULL, NULL, NULL));
    buf_free(&b);
}

TEST(deep_nesting_is_bounded)
{
    buf m = BUF_INIT;
    for (int i = 0; i < 200; i++)
        buf_puts(&m, "Content-Type: message/rfc822\r\n\r\n");
    buf_puts(&m, "body\r\n");
    mime_part *p = mime_parse(buf_head(&m), buf_size(&m));
    int depth = 0;
    for (mime_part *q = p; q; q = q->msg)
        depth++;
    CHECK(depth <= MIME_MAX_DEPTH + 1);
    buf b = BUF_INIT;
    mime_bodystructure(&b, buf_head(&m), p, 1);
    CHECK(buf_size(&b) > 0);
    mime_free(p);
    buf_free(&m);
    buf_free(&b);
}

int main(void)
{
    RUN(plain_default_type);
    RUN(nested_structure_and_sections);
    RUN(envelope_groups_and_missing);
    RUN(decoders);
    RUN(deep_nesting_is_bounded);
    return test_done();
}
