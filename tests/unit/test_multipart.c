/*
 * test_multipart.c — core/multipart.c: boundaries, exact part sizes, names
 * and filenames, preamble/epilogue, and every malformed shape (missing
 * boundary, truncated part, no final delimiter, too many parts, huge headers).
 */
#include "tests/unit/test.h"
#include "core/multipart.c"

typedef struct got {
    int n;
    char name[8][64], filename[8][64], ctype[8][64];
    const char *data[8];
    size_t len[8];
    int has_file[8];
} got;

static int collect(void *ud, const mp_part *p)
{
    got *g = ud;
    if (g->n < 8) {
        size_t k = mp_unquote(&p->name, g->name[g->n]);
        g->name[g->n][k] = 0;
        g->has_file[g->n] = p->filename.p != NULL;
        if (p->filename.p) {
            k = mp_unquote(&p->filename, g->filename[g->n]);
            g->filename[g->n][k] = 0;
        }
        if (p->ctype.p) {
            memcpy(g->ctype[g->n], p->ctype.p, p->ctype.n);
            g->ctype[g->n][p->ctype.n] = 0;
        }
        g->data[g->n] = p->data;
        g->len[g->n] = p->len;
    }
    g->n++;
    return 0;
}

static int parse(const char *body, got *g, const char **err)
{
    memset(g, 0, sizeof *g);
    return mp_parse(body, strlen(body), "XyZ", 3, 1000, collect, g, err);
}

TEST(boundary_plain_and_quoted)
{
    const char *b, *err;
    size_t n;
    const char *ct = "multipart/form-data; boundary=----abc123";
    CHECK_INT(mp_boundary(ct, strlen(ct), &b, &n, &err), 0);
    CHECK_MEM(b, n, "----abc123", 10);
    ct = "multipart/form-data; charset=utf-8; BOUNDARY=\"a b:c\"";
    CHECK_INT(mp_boundary(ct, strlen(ct), &b, &n, &err), 0);
    CHECK_MEM(b, n, "a b:c", 5);
}

TEST(boundary_missing_or_bad)
{
    const char *b, *err;
    size_t n;
    const char *ct = "multipart/form-data";
    CHECK_INT(mp_boundary(ct, strlen(ct), &b, &n, &err), MP_EBOUNDARY);
    ct = "multipart/form-data; boundary=";
    CHECK_INT(mp_boundary(ct, strlen(ct), &b, &n, &err), MP_EBOUNDARY);
    ct = "multipart/form-data; boundary=\"unterminated";
    CHECK_INT(mp_boundary(ct, strlen(ct), &b, &n, &err), MP_EBOUNDARY);
}

TEST(two_fields_exact_sizes)
{
    got g;
    const char *err;
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n"
                       "--XyZ\r\ncontent-disposition: form-data; name=b\r\n\r\n\r\n\r\n--XyZ--\r\n";
    CHECK_INT(parse(body, &g, &err), 2);
    CHECK_STR(g.name[0], "a");
    CHECK_MEM(g.data[0], g.len[0], "hello", 5);
    CHECK_STR(g.name[1], "b");
    CHECK_MEM(g.data[1], g.len[1], "\r\n", 2);   /* data that is itself a CRLF */
    CHECK(!g.has_file[0]);
}

TEST(file_part_with_type_and_escaped_filename)
{
    got g;
    const char *err;
    const char *body = "preamble text\r\n--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"up\"; filename=\"a \\\"q\\\".txt\"\r\n"
                       "Content-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XyZ--";
    CHECK_INT(parse(body, &g, &err), 1);
    CHECK_STR(g.name[0], "up");
    CHECK(g.has_file[0]);
    CHECK_STR(g.filename[0], "a \"q\".txt");
    CHECK_STR(g.ctype[0], "text/plain");
    CHECK_MEM(g.data[0], g.len[0], "line1\r\nline2", 12);
}

TEST(empty_file_and_empty_form)
{
    got g;
    const char *err;
    CHECK_INT(parse("--XyZ--\r\n", &g, &err), 0);
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n\r\n\r\n--XyZ--";
    CHECK_INT(parse(body, &g, &err), 1);
    CHECK_INT(g.len[0], 0);
    CHECK(g.has_file[0]);
}

TEST(boundary_like_text_inside_data)
{
    got g;
    const char *err;
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n--XyZ not at line start--XyZ\r\n--XyZ--";
    CHECK_INT(parse(body, &g, &err), 1);
    CHECK_INT(g.len[0], strlen("--XyZ not at line start--XyZ"));
}

TEST(malformed_bodies)
{
    got g;
    const char *err = NULL;
    CHECK_INT(parse("no boundary here", &g, &err), MP_EFORMAT);
    CHECK(strstr(err, "boundary"));
    CHECK_INT(parse("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello", &g, &err), MP_EFORMAT);
    CHECK(strstr(err, "truncated"));
    CHECK_INT(parse("--XyZ\r\nContent-Disposition: form-data; name=\"a\"", &g, &err), MP_EFORMAT);
    CHECK_INT(parse("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--XyZ", &g, &err), MP_EFORMAT);
    CHECK(strstr(err, "final"));
    CHECK_INT(parse("--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--", &g, &err), MP_EFORMAT);
    CHECK(strstr(err, "name"));
    CHECK_INT(parse("--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--XyZ--", &g, &err), MP_EFORMAT);
    CHECK_INT(parse("--XyZ\r\nbad header line\r\n\r\nx\r\n--XyZ--", &g, &err), MP_EFORMAT);
    CHECK_INT(parse("--XyZjunk\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--XyZ--", &g, &err), MP_EFORMAT);
    CHECK_INT(parse("--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ--", &g, &err), MP_EFORMAT);
}

TEST(too_many_parts)
{
    static char body[200000];
    size_t n = 0;
    for (int i = 0; i < 1001; i++)
        n += (size_t)sprintf(body + n, "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
    n += (size_t)sprintf(body + n, "--XyZ--\r\n");
    const char *err;
    CHECK_INT(mp_parse(body, n, "XyZ", 3, 1000, NULL, NULL, &err), MP_ELIMIT);
    CHECK(strstr(err, "too many parts"));
    CHECK_INT(mp_parse(body, n, "XyZ", 3, 1001, NULL, NULL, &err), 1001);
}

TEST(huge_part_headers)
{
    size_t n = 40000;
    char *body = malloc(n + 100);
    strcpy(body, "--XyZ\r\nX-Pad: ");
    size_t k = strlen(body);
    memset(body + k, 'a', n - k);
    strcpy(body + n, "\r\n\r\nx\r\n--XyZ--");
    const char *err;
    int rc = mp_parse(body, strlen(body), "XyZ", 3, 1000, NULL, NULL, &err);
    free(body);
    CHECK_INT(rc, MP_ELIMIT);
}

TEST(every_truncation_is_an_error)
{
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename=\"f\"\r\n"
                       "Content-Type: application/octet-stream\r\n\r\n\x00\x01\r\n--XyZ--";
    size_t full = strlen(body) + 0;
    const char *err;
    for (size_t cut = 0; cut + 2 < full; cut++)
        CHECK(mp_parse(body, cut, "XyZ", 3, 1000, NULL, NULL, &err) < 0);
}

int main(void)
{
    RUN(boundary_plain_and_quoted);
    RUN(boundary_missing_or_bad);
    RUN(two_fields_exact_sizes);
    RUN(file_part_with_type_and_escaped_filename);
    RUN(empty_file_and_empty_form);
    RUN(boundary_like_text_inside_data);
    RUN(malformed_bodies);
    RUN(too_many_parts);
    RUN(huge_part_headers);
    RUN(every_truncation_is_an_error);
    return test_done();
}
