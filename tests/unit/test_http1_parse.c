/*
 * test_http1_parse.c — the HTTP/1.1 request parser and chunked decoder.
 *
 * Every request goes through run(): parsed once from an exact-size heap copy
 * (so ASan sees any read past `len`), then again at every prefix length, each
 * prefix in its own exact-size allocation. A prefix must say "need more" (0)
 * until the head is complete and then give the same length and the same
 * fields; a rejected request may say 0 for a while and then only the final
 * verdict. The chunked decoder is fed at every cut point and byte by byte.
 */
#include "core/http1_parse.h"
#include "tests/unit/test.h"

static const h1_limits LIM = {16384, 100, 8192};

static struct {
    char       *buf;
    size_t      n;
    int         r;
    const char *err;
    h1_head     h;
    char        cut[160];    /* "ok" or what went wrong at which prefix */
} P;

/* Does b (parsed from bb) say the same thing as a (parsed from ab)? */
#define OFF(h, base, f) ((h).f ? (long)((h).f - (base)) : -1L)
static int same_head(const h1_head *a, const char *ab, const h1_head *b, const char *bb)
{
    if (OFF(*a, ab, method) != OFF(*b, bb, method) || a->method_len != b->method_len ||
        OFF(*a, ab, target) != OFF(*b, bb, target) || a->target_len != b->target_len ||
        OFF(*a, ab, host) != OFF(*b, bb, host) || a->host_len != b->host_len ||
        OFF(*a, ab, h2_settings) != OFF(*b, bb, h2_settings) ||
        a->minor != b->minor || a->nheaders != b->nheaders ||
        a->content_length != b->content_length || a->chunked != b->chunked ||
        a->keep_alive != b->keep_alive || a->expect_continue != b->expect_continue ||
        a->upgrade_h2c != b->upgrade_h2c)
        return 0;
    for (size_t i = 0; i < a->nheaders; i++)
        if (a->headers[i].name - ab != b->headers[i].name - bb ||
            a->headers[i].value - ab != b->headers[i].value - bb ||
            a->headers[i].name_len != b->headers[i].name_len ||
            a->headers[i].value_len != b->headers[i].value_len)
            return 0;
    return 1;
}

/* Every prefix of src, each in an exact-size buffer, against the full verdict. */
static void check_cuts(const char *src, size_t n, const h1_limits *lim)
{
    static h1_head h;
    int settled = 0;
    strcpy(P.cut, "ok");
    for (size_t k = 0; k < n; k++) {
        char *b = malloc(k ? k : 1);
        memcpy(b, src, k);
        const char *err = NULL;
        int r = h1_parse_head(b, k, lim, &h, &err);
        int good;
        if (P.r > 0)
            good = (k < (size_t)P.r) ? r == 0 : (r == P.r && same_head(&P.h, P.buf, &h, b));
        else if (P.r < 0)
            good = settled ? r == P.r : (r == 0 || r == P.r);
        else
            good = r == 0;
        if (r < 0 && !err)
            good = 0;
        settled |= r != 0;
        free(b);
        if (!good) {
            snprintf(P.cut, sizeof P.cut, "prefix %zu of %zu gave %d (%s), full gave %d",
                     k, n, r, err ? err : "-", P.r);
            return;
        }
    }
}

static int run_n(const char *s, size_t n, const h1_limits *lim)
{
    free(P.buf);
    P.buf = malloc(n ? n : 1);
    memcpy(P.buf, s, n);
    P.n = n;
    P.err = NULL;
    P.r = h1_parse_head(P.buf, n, lim, &P.h, &P.err);
    check_cuts(s, n, lim);
    return P.r;
}

static int run(const char *s) { return run_n(s, strlen(s), &LIM); }

static const http_hdr *hdr(const char *name)
{
    for (size_t i = 0; i < P.h.nheaders; i++)
        if (P.h.headers[i].name_len == strlen(name) && !memcmp(P.h.headers[i].name, name, strlen(name)))
            return &P.h.headers[i];
    return NULL;
}

#define ACCEPT(s) do { const char *_s = (s); CHECK_INT(run(_s), strlen(_s)); \
    CHECK(P.err == NULL); CHECK_STR(P.cut, "ok"); } while (0)
#define REJECT(s, status, why) do { CHECK_INT(run(s), -(status)); \
    CHECK(P.err && strstr(P.err, why)); CHECK_STR(P.cut, "ok"); } while (0)
#define FIELD(p, n, lit) CHECK_MEM(p, n, lit, strlen(lit))
#define HOST_A "Host: a\r\n"

/* ---- accepted forms ---------------------------------------------------- */

TEST(simple_get)
{
    ACCEPT("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    FIELD(P.h.method, P.h.method_len, "GET");
    FIELD(P.h.target, P.h.target_len, "/");
    FIELD(P.h.host, P.h.host_len, "example.com");
    CHECK_INT(P.h.minor, 1);
    CHECK_INT(P.h.nheaders, 1);
    CHECK_INT(P.h.content_length, -1);
    CHECK_INT(P.h.chunked, 0);
    CHECK_INT(P.h.keep_alive, 1);
    CHECK_INT(P.h.expect_continue, 0);
    CHECK_INT(P.h.upgrade_h2c, 0);
    CHECK(P.h.method == P.buf);
}

TEST(target_with_query_kept_verbatim)
{
    ACCEPT("GET /a%20b/c?x=1&y=%2F HTTP/1.1\r\n" HOST_A "\r\n");
    FIELD(P.h.target, P.h.target_len, "/a%20b/c?x=1&y=%2F");
}

TEST(extension_method_token)
{
    ACCEPT("M-SEARCH! /x HTTP/1.1\r\n" HOST_A "\r\n");
    FIELD(P.h.method, P.h.method_len, "M-SEARCH!");
}

TEST(http10_without_host_closes)
{
    ACCEPT("GET / HTTP/1.0\r\n\r\n");
    CHECK_INT(P.h.minor, 0);
    CHECK_INT(P.h.keep_alive, 0);
    CHECK(P.h.host == NULL);
}

TEST(http10_keep_alive)
{
    ACCEPT("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    CHECK_INT(P.h.keep_alive, 1);
}

TEST(http11_connection_close)
{
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "Connection: close\r\n\r\n");
    CHECK_INT(P.h.keep_alive, 0);
}

TEST(connection_is_a_token_list)
{
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "Connection: foo, , CLOSE \r\n\r\n");
    CHECK_INT(P.h.keep_alive, 0);
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "Connection: closed\r\n\r\n");
    CHECK_INT(P.h.keep_alive, 1);
}

TEST(http12_is_treated_as_11)
{
    ACCEPT("GET / HTTP/1.2\r\n" HOST_A "\r\n");
    CHECK_INT(P.h.minor, 1);
    CHECK_INT(P.h.keep_alive, 1);
}

TEST(leading_empty_lines_are_skipped)
{
    ACCEPT("\r\n\r\nGET / HTTP/1.1\r\n" HOST_A "\r\n");
    FIELD(P.h.method, P.h.method_len, "GET");
    CHECK(P.h.method == P.buf + 4);
}

TEST(header_names_lowercased_in_place)
{
    ACCEPT("GET / HTTP/1.1\r\nHOST: a\r\nX-Custom-HEADER: MiXeD\r\n\r\n");
    CHECK(hdr("host") != NULL);
    const http_hdr *x = hdr("x-custom-header");
    CHECK(x != NULL);
    FIELD(x->value, x->value_len, "MiXeD");
    CHECK(memcmp(P.buf + 16, "host", 4) == 0);
}

TEST(ows_around_value_trimmed)
{
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "X:  \t a b \t \r\nY:z\r\n\r\n");
    const http_hdr *x = hdr("x"), *y = hdr("y");
    CHECK(x && y);
    FIELD(x->value, x->value_len, "a b");
    FIELD(y->value, y->value_len, "z");
}

TEST(empty_value_accepted)
{
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "X:\r\nY:   \r\n\r\n");
    CHECK_INT(hdr("x")->value_len, 0);
    CHECK_INT(hdr("y")->value_len, 0);
}

TEST(obs_text_and_htab_in_value)
{
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "X: caf\xc3\xa9\tand\xff\r\n\r\n");
    FIELD(hdr("x")->value, hdr("x")->value_len, "caf\xc3\xa9\tand\xff");
}

TEST(content_length_parsed)
{
    ACCEPT("POST /f HTTP/1.1\r\n" HOST_A "Content-Length: 0042\r\n\r\n");
    CHECK_INT(P.h.content_length, 42);
    CHECK_INT(P.h.chunked, 0);
}

TEST(content_length_max_int64)
{
    ACCEPT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 9223372036854775807\r\n\r\n");
    CHECK(P.h.content_length == INT64_MAX);
}

TEST(duplicate_identical_content_length)
{
    ACCEPT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\nContent-Length: 5\r\n\r\n");
    CHECK_INT(P.h.content_length, 5);
    ACCEPT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5, 5 ,5\r\n\r\n");
    CHECK_INT(P.h.content_length, 5);
}

TEST(chunked_transfer_encoding)
{
    ACCEPT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked\r\n\r\n");
    CHECK_INT(P.h.chunked, 1);
    CHECK_INT(P.h.content_length, -1);
    ACCEPT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: ChUnKeD\r\n\r\n");
    CHECK_INT(P.h.chunked, 1);
}

TEST(expect_100_continue)
{
    ACCEPT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 3\r\nExpect: 100-Continue\r\n\r\n");
    CHECK_INT(P.h.expect_continue, 1);
}

TEST(expect_ignored_on_http10)
{
    ACCEPT("POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    CHECK_INT(P.h.expect_continue, 0);
}

TEST(absolute_form_takes_host_from_target)
{
    ACCEPT("GET http://Example.org:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    FIELD(P.h.host, P.h.host_len, "Example.org:8080");
    FIELD(P.h.target, P.h.target_len, "/p/q?x=1");
}

TEST(absolute_form_without_path_is_slash)
{
    ACCEPT("GET HTTPS://h HTTP/1.1\r\n" HOST_A "\r\n");
    FIELD(P.h.host, P.h.host_len, "h");
    FIELD(P.h.target, P.h.target_len, "/");
    CHECK(P.h.target > P.buf && P.h.target < P.buf + P.n);
}

TEST(asterisk_form_for_options)
{
    ACCEPT("OPTIONS * HTTP/1.1\r\n" HOST_A "\r\n");
    FIELD(P.h.target, P.h.target_len, "*");
}

TEST(authority_form_for_connect)
{
    ACCEPT("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    FIELD(P.h.target, P.h.target_len, "example.com:443");
    ACCEPT("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n");
    FIELD(P.h.host, P.h.host_len, "[::1]:443");
}

TEST(ipv6_host_header)
{
    ACCEPT("GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n");
    FIELD(P.h.host, P.h.host_len, "[2001:db8::1]:8080");
}

TEST(empty_host_header_allowed)
{
    ACCEPT("GET / HTTP/1.1\r\nHost:\r\n\r\n");
    CHECK_INT(P.h.host_len, 0);
}

TEST(h2c_upgrade_detected)
{
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "Connection: Upgrade, HTTP2-Settings\r\n"
           "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
    CHECK_INT(P.h.upgrade_h2c, 1);
    FIELD(P.h.h2_settings, P.h.h2_settings_len, "AAMAAABkAAQAAP__");
}

TEST(h2c_needs_every_piece)
{
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "Upgrade: h2c\r\nHTTP2-Settings: AA\r\n\r\n");
    CHECK_INT(P.h.upgrade_h2c, 0);
    CHECK(P.h.h2_settings == NULL);
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "Connection: upgrade\r\nUpgrade: h2c\r\n"
           "HTTP2-Settings: AA\r\nHTTP2-Settings: BB\r\n\r\n");
    CHECK_INT(P.h.upgrade_h2c, 0);
    ACCEPT("GET / HTTP/1.1\r\n" HOST_A "Connection: upgrade\r\nUpgrade: websocket\r\nHTTP2-Settings: AA\r\n\r\n");
    CHECK_INT(P.h.upgrade_h2c, 0);
    ACCEPT("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AA\r\n\r\n");
    CHECK_INT(P.h.upgrade_h2c, 0);
}

TEST(pipelined_stops_at_first_head)
{
    const char *two = "GET /1 HTTP/1.1\r\n" HOST_A "\r\nGET /2 HTTP/1.1\r\n" HOST_A "\r\n";
    size_t first = strlen("GET /1 HTTP/1.1\r\n" HOST_A "\r\n");
    CHECK_INT(run(two), first);
    CHECK_STR(P.cut, "ok");
    h1_head h;
    const char *err;
    CHECK_INT(h1_parse_head(P.buf + first, P.n - first, &LIM, &h, &err), P.n - first);
    FIELD(h.target, h.target_len, "/2");
}

TEST(exact_header_limit_accepted)
{
    h1_limits lim = {16384, 3, 8192};
    const char *s = "GET / HTTP/1.1\r\n" HOST_A "A: 1\r\nB: 2\r\n\r\n";
    CHECK_INT(run_n(s, strlen(s), &lim), strlen(s));
    CHECK_STR(P.cut, "ok");
}

TEST(head_exactly_max_head_accepted)
{
    const char *s = "GET / HTTP/1.1\r\n" HOST_A "\r\n";
    h1_limits lim = {strlen(s), 100, 8192};
    CHECK_INT(run_n(s, strlen(s), &lim), strlen(s));
    CHECK_STR(P.cut, "ok");
}

TEST(null_limits_use_defaults)
{
    char s[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    h1_head h;
    const char *err;
    CHECK_INT(h1_parse_head(s, strlen(s), NULL, &h, &err), strlen(s));
}

TEST(incomplete_returns_zero)
{
    CHECK_INT(run("GET / HTTP/1.1\r\nHost: a\r\n"), 0);
    CHECK_INT(run(""), 0);
    CHECK_INT(run("\r\n"), 0);
}

/* ---- request line rejections --------------------------------------------- */

TEST(bare_lf_in_request_line) { REJECT("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF in request line"); }
TEST(bare_lf_after_target) { REJECT("GET /\n", 400, "bare LF in request line"); }
TEST(bare_cr_in_request_line) { REJECT("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "bare CR in request line"); }
TEST(bare_lf_before_request_line) { REJECT("\nGET / HTTP/1.1\r\n" HOST_A "\r\n", 400, "bare LF"); }
TEST(bare_cr_before_request_line) { REJECT("\rGET / HTTP/1.1\r\n" HOST_A "\r\n", 400, "bare CR"); }
TEST(too_many_empty_lines)
{
    REJECT("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" HOST_A "\r\n", 400, "empty lines");
}
TEST(bad_method_token) { REJECT("G(T / HTTP/1.1\r\n" HOST_A "\r\n", 400, "bad method token"); }
TEST(missing_method) { REJECT(" / HTTP/1.1\r\n" HOST_A "\r\n", 400, "missing method"); }
TEST(tab_instead_of_space) { REJECT("GET\t/ HTTP/1.1\r\n" HOST_A "\r\n", 400, "bad method token"); }
TEST(double_space_before_target) { REJECT("GET  / HTTP/1.1\r\n" HOST_A "\r\n", 400, "missing request-target"); }
TEST(double_space_before_version) { REJECT("GET /  HTTP/1.1\r\n" HOST_A "\r\n", 400, "bad HTTP version"); }
TEST(space_inside_target) { REJECT("GET /a b HTTP/1.1\r\n" HOST_A "\r\n", 400, "bad HTTP version"); }
TEST(control_char_in_target) { REJECT("GET /a\x01 HTTP/1.1\r\n" HOST_A "\r\n", 400, "request-target"); }
TEST(del_in_target) { REJECT("GET /a\x7f HTTP/1.1\r\n" HOST_A "\r\n", 400, "request-target"); }
TEST(high_byte_in_target) { REJECT("GET /caf\xc3\xa9 HTTP/1.1\r\n" HOST_A "\r\n", 400, "request-target"); }
TEST(missing_version) { REJECT("GET /\r\n\r\n", 400, "without HTTP version"); }
TEST(http2_version_is_505) { REJECT("GET / HTTP/2.0\r\n" HOST_A "\r\n", 505, "not supported"); }
TEST(http09_version_is_505) { REJECT("GET / HTTP/0.9\r\n" HOST_A "\r\n", 505, "not supported"); }
TEST(http3_version_is_505) { REJECT("GET / HTTP/3.0\r\n" HOST_A "\r\n", 505, "not supported"); }
TEST(lowercase_version) { REJECT("GET / http/1.1\r\n" HOST_A "\r\n", 400, "bad HTTP version"); }
TEST(two_digit_minor) { REJECT("GET / HTTP/1.10\r\n" HOST_A "\r\n", 400, "bad HTTP version"); }
TEST(short_version) { REJECT("GET / HTTP/1\r\n" HOST_A "\r\n", 400, "bad HTTP version"); }
TEST(space_after_version) { REJECT("GET / HTTP/1.1 \r\n" HOST_A "\r\n", 400, "bad HTTP version"); }
TEST(relative_target) { REJECT("GET a/b HTTP/1.1\r\n" HOST_A "\r\n", 400, "request-target form"); }
TEST(asterisk_only_for_options)
{
    REJECT("GET * HTTP/1.1\r\n" HOST_A "\r\n", 400, "only for OPTIONS");
    REJECT("OPTIONS *x HTTP/1.1\r\n" HOST_A "\r\n", 400, "only for OPTIONS");
}
TEST(connect_needs_authority)
{
    REJECT("CONNECT / HTTP/1.1\r\n" HOST_A "\r\n", 400, "authority-form");
    REJECT("CONNECT example.com HTTP/1.1\r\n" HOST_A "\r\n", 400, "authority-form");
    REJECT("CONNECT example.com: HTTP/1.1\r\n" HOST_A "\r\n", 400, "authority-form");
    REJECT("CONNECT :443 HTTP/1.1\r\n" HOST_A "\r\n", 400, "authority-form");
    REJECT("CONNECT [::1] HTTP/1.1\r\n" HOST_A "\r\n", 400, "authority-form");
}
TEST(authority_form_only_for_connect) { REJECT("GET example.com:80 HTTP/1.1\r\n" HOST_A "\r\n", 400, "form"); }
TEST(absolute_form_other_scheme) { REJECT("GET ftp://h/x HTTP/1.1\r\n" HOST_A "\r\n", 400, "request-target form"); }
TEST(absolute_form_userinfo) { REJECT("GET http://u:p@h/x HTTP/1.1\r\n" HOST_A "\r\n", 400, "bad authority"); }
TEST(absolute_form_empty_authority) { REJECT("GET http:///x HTTP/1.1\r\n" HOST_A "\r\n", 400, "bad authority"); }
TEST(absolute_form_query_without_path) { REJECT("GET http://h?x HTTP/1.1\r\n" HOST_A "\r\n", 400, "without a path"); }

TEST(target_too_long_is_414_before_line_ends)
{
    h1_limits lim = {16384, 100, 8};
    const char *s = "GET /123456789";    /* 10 target bytes, no end in sight */
    CHECK_INT(run_n(s, strlen(s), &lim), -414);
    CHECK_STR(P.cut, "ok");
    s = "GET /1234567 HTTP/1.1\r\n" HOST_A "\r\n";   /* exactly 8: fine */
    CHECK_INT(run_n(s, strlen(s), &lim), strlen(s));
}

/* ---- header rejections --------------------------------------------------- */

TEST(obs_fold_rejected) { REJECT("GET / HTTP/1.1\r\n" HOST_A "X: a\r\n b\r\n\r\n", 400, "obs-fold"); }
TEST(obs_fold_with_tab_rejected) { REJECT("GET / HTTP/1.1\r\n" HOST_A "X: a\r\n\tb\r\n\r\n", 400, "obs-fold"); }
TEST(whitespace_before_first_header) { REJECT("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "whitespace before first header"); }
TEST(space_before_colon) { REJECT("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "whitespace before colon"); }
TEST(tab_before_colon) { REJECT("GET / HTTP/1.1\r\n" HOST_A "Content-Length\t: 5\r\n\r\n", 400, "whitespace before colon"); }
TEST(empty_header_name) { REJECT("GET / HTTP/1.1\r\n" HOST_A ": x\r\n\r\n", 400, "empty header name"); }
TEST(invalid_header_name_byte) { REJECT("GET / HTTP/1.1\r\n" HOST_A "X@Y: z\r\n\r\n", 400, "invalid byte in header name"); }
TEST(header_name_starting_with_bad_byte) { REJECT("GET / HTTP/1.1\r\n" HOST_A "(x: z\r\n\r\n", 400, "invalid header name"); }
TEST(header_without_colon) { REJECT("GET / HTTP/1.1\r\n" HOST_A "NoColon\r\n\r\n", 400, "without colon"); }
TEST(bare_lf_header_line) { REJECT("GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400, "bare LF in header line"); }
TEST(bare_lf_empty_line) { REJECT("GET / HTTP/1.1\r\n" HOST_A "\n", 400, "bare LF in header section"); }
TEST(bare_cr_in_value) { REJECT("GET / HTTP/1.1\r\n" HOST_A "X: a\rb\r\n\r\n", 400, "bare CR in header line"); }
TEST(bare_cr_at_line_start) { REJECT("GET / HTTP/1.1\r\n" HOST_A "\rX: y\r\n\r\n", 400, "bare CR in header section"); }
TEST(nul_in_value)
{
    static const char s[] = "GET / HTTP/1.1\r\n" HOST_A "X: a\0b\r\n\r\n";
    CHECK_INT(run_n(s, sizeof s - 1, &LIM), -400);
    CHECK_STR(P.cut, "ok");
    CHECK(strstr(P.err, "invalid byte in header value"));
}
TEST(ctl_in_value) { REJECT("GET / HTTP/1.1\r\n" HOST_A "X: a\x1b[0m\r\n\r\n", 400, "invalid byte in header value"); }
TEST(del_in_value) { REJECT("GET / HTTP/1.1\r\n" HOST_A "X: a\x7f\r\n\r\n", 400, "invalid byte in header value"); }

TEST(too_many_headers_431)
{
    h1_limits lim = {16384, 2, 8192};
    const char *s = "GET / HTTP/1.1\r\n" HOST_A "A: 1\r\nB: 2\r\n\r\n";
    CHECK_INT(run_n(s, strlen(s), &lim), -431);
    CHECK_STR(P.cut, "ok");
    CHECK(strstr(P.err, "too many headers"));
}

TEST(header_count_capped_by_array)
{
    char s[4096];
    size_t n = (size_t)sprintf(s, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < H1_MAX_HEADERS + 1; i++)
        n += (size_t)sprintf(s + n, "X%d: v\r\n", i);
    n += (size_t)sprintf(s + n, "\r\n");
    h1_limits lim = {16384, 1000, 8192};
    CHECK_INT(run_n(s, n, &lim), -431);
}

TEST(head_too_large_while_incomplete)
{
    h1_limits lim = {64, 100, 8192};
    char s[200];
    memset(s, 'a', sizeof s);
    memcpy(s, "GET / HTTP/1.1\r\nX: ", 19);
    CHECK_INT(run_n(s, sizeof s, &lim), -431);
    CHECK_STR(P.cut, "ok");
    CHECK(strstr(P.err, "too large"));
    CHECK_INT(run_n(s, 63, &lim), 0);
}

TEST(head_one_over_max_head)
{
    const char *s = "GET / HTTP/1.1\r\n" HOST_A "\r\n";
    h1_limits lim = {strlen(s) - 1, 100, 8192};
    CHECK_INT(run_n(s, strlen(s), &lim), -431);
    CHECK_STR(P.cut, "ok");
}

/* ---- derived-field rejections (smuggling shapes) ------------------------ */

TEST(cl_and_te_rejected)
{
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
           400, "both Content-Length and Transfer-Encoding");
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
           400, "both Content-Length and Transfer-Encoding");
}
TEST(differing_duplicate_cl)
{
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "differing");
}
TEST(differing_cl_list) { REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5, 6\r\n\r\n", 400, "differing"); }
TEST(cl_with_sign)
{
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: +5\r\n\r\n", 400, "bad Content-Length");
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: -1\r\n\r\n", 400, "bad Content-Length");
}
TEST(cl_not_digits)
{
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5a\r\n\r\n", 400, "bad Content-Length");
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 0x5\r\n\r\n", 400, "bad Content-Length");
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5 5\r\n\r\n", 400, "bad Content-Length");
}
TEST(cl_empty) { REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length:\r\n\r\n", 400, "bad Content-Length"); }
TEST(cl_empty_list_element) { REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 5,,5\r\n\r\n", 400, "bad Content-Length"); }
TEST(cl_overflow) { REJECT("POST / HTTP/1.1\r\n" HOST_A "Content-Length: 9223372036854775808\r\n\r\n", 400, "too large"); }
TEST(te_gzip_chunked_is_501) { REJECT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, "unsupported transfer coding"); }
TEST(te_split_over_headers_is_501)
{
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "unsupported");
}
TEST(te_not_ending_in_chunked)
{
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked, gzip\r\n\r\n", 400, "does not end in chunked");
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: gzip\r\n\r\n", 400, "does not end in chunked");
    REJECT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: xchunked\r\n\r\n", 400, "does not end in chunked");
}
TEST(te_empty) { REJECT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: \r\n\r\n", 400, "does not end in chunked"); }
TEST(te_chunked_twice) { REJECT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked, chunked\r\n\r\n", 400, "more than once"); }
TEST(te_bad_token) { REJECT("POST / HTTP/1.1\r\n" HOST_A "Transfer-Encoding: \"chunked\"\r\n\r\n", 400, "bad Transfer-Encoding"); }
TEST(te_on_http10) { REJECT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"); }
TEST(missing_host_on_11) { REJECT("GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, "missing Host"); }
TEST(missing_host_even_with_absolute_form) { REJECT("GET http://h/ HTTP/1.1\r\n\r\n", 400, "missing Host"); }
TEST(two_host_headers) { REJECT("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "more than one Host"); }
TEST(invalid_host_chars)
{
    REJECT("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host");
    REJECT("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid Host");
    REJECT("GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 400, "invalid Host");
    REJECT("GET / HTTP/1.1\r\nHost: h:80x\r\n\r\n", 400, "invalid Host");
    REJECT("GET / HTTP/1.1\r\nHost: [zz]\r\n\r\n", 400, "invalid Host");
}
TEST(unknown_expectation_is_417) { REJECT("POST / HTTP/1.1\r\n" HOST_A "Expect: 200-ok\r\n\r\n", 417, "unsupported expectation"); }

/* ---- chunked bodies ------------------------------------------------------ */

static const char BODY[] = "5;name=value;flag\r\nhello\r\n"
                           "A \t; q=\"x y\"\r\n, world!!!\r\n"
                           "1\r\n\n\r\n"
                           "000\r\nX-Trailer: yes\r\nOther:  v\r\n\r\n"
                           "NEXT";
static const char BODY_OUT[] = "hello, world!!!\n";

/* Decode `in` in pieces cut at the given points; returns the total consumed
 * (< 0 on error) and leaves the payload in *out. */
static long decode_pieces(const char *in, size_t n, const size_t *cuts, size_t ncuts,
                          buf *out, size_t max_body, int *done, const char **err)
{
    h1_chunked c = {0};
    size_t at = 0;
    *done = 0;
    for (size_t i = 0; i <= ncuts && !*done; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        char *piece = malloc(to - at ? to - at : 1);
        memcpy(piece, in + at, to - at);
        long r = h1_chunked_decode(&c, piece, to - at, out, max_body, done, err);
        free(piece);
        if (r < 0)
            return r;
        if (!*done && (size_t)r != to - at)
            return -1;
        at += (size_t)r;
    }
    return (long)at;
}

static long decode_all(const char *in, buf *out, size_t max_body, const char **err)
{
    int done = 0;
    long r = decode_pieces(in, strlen(in), NULL, 0, out, max_body, &done, err);
    return r >= 0 && !done ? 0 : r;
}

TEST(chunked_all_at_once)
{
    buf out = BUF_INIT;
    int done;
    const char *err;
    long r = decode_pieces(BODY, strlen(BODY), NULL, 0, &out, 1 << 20, &done, &err);
    CHECK_INT(r, strlen(BODY) - 4);
    CHECK_INT(done, 1);
    CHECK_MEM(buf_head(&out), buf_size(&out), BODY_OUT, strlen(BODY_OUT));
    buf_free(&out);
}

TEST(chunked_every_cut_point)
{
    size_t n = strlen(BODY);
    for (size_t k = 0; k <= n; k++) {
        for (size_t j = k; j <= n; j += 7) {
            buf out = BUF_INIT;
            int done;
            const char *err;
            size_t cuts[2] = {k, j};
            long r = decode_pieces(BODY, n, cuts, 2, &out, 1 << 20, &done, &err);
            int good = r == (long)(n - 4) && done &&
                       buf_size(&out) == strlen(BODY_OUT) && !memcmp(buf_head(&out), BODY_OUT, buf_size(&out));
            buf_free(&out);
            if (!good)
                printf("  cut at %zu,%zu: r=%ld\n", k, j, r);
            CHECK(good);
        }
    }
}

TEST(chunked_byte_by_byte)
{
    size_t n = strlen(BODY), cuts[sizeof BODY];
    for (size_t k = 0; k < n; k++)
        cuts[k] = k + 1;
    buf out = BUF_INIT;
    int done;
    const char *err;
    CHECK_INT(decode_pieces(BODY, n, cuts, n - 1, &out, 1 << 20, &done, &err), n - 4);
    CHECK_INT(done, 1);
    CHECK_MEM(buf_head(&out), buf_size(&out), BODY_OUT, strlen(BODY_OUT));
    buf_free(&out);
}

TEST(chunked_done_is_sticky)
{
    h1_chunked c = {0};
    buf out = BUF_INIT;
    int done = 0;
    const char *err;
    CHECK_INT(h1_chunked_decode(&c, "0\r\n\r\nGET", 8, &out, 100, &done, &err), 5);
    CHECK_INT(done, 1);
    CHECK_INT(h1_chunked_decode(&c, "GET", 3, &out, 100, &done, &err), 0);
    CHECK_INT(done, 1);
    CHECK_INT(buf_size(&out), 0);
    buf_free(&out);
}

TEST(chunked_hex_sizes)
{
    buf out = BUF_INIT;
    const char *err;
    const char *in = "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0000000000000000\r\n\r\n";
    CHECK_INT(decode_all(in, &out, 1000, &err), strlen(in));
    CHECK_INT(buf_size(&out), 26);
    buf_free(&out);
}

#define CHUNK_REJECT(in, status, why, max) do { buf _o = BUF_INIT; const char *_e = NULL; \
    long _r = decode_all(in, &_o, max, &_e); buf_free(&_o); \
    CHECK_INT(_r, -(status)); CHECK(_e && strstr(_e, why)); } while (0)

TEST(chunked_bad_sizes)
{
    CHUNK_REJECT("x\r\n", 400, "bad chunk size", 100);
    CHUNK_REJECT("0x5\r\nhello\r\n0\r\n\r\n", 400, "bad chunk size", 100);
    CHUNK_REJECT("-5\r\n", 400, "bad chunk size", 100);
    CHUNK_REJECT("+5\r\n", 400, "bad chunk size", 100);
    CHUNK_REJECT("\r\n", 400, "bad chunk size", 100);
    CHUNK_REJECT(" 5\r\n", 400, "bad chunk size", 100);
    CHUNK_REJECT("5 \r\nhello\r\n", 400, "bad chunk size", 100);
    CHUNK_REJECT("5 x\r\n", 400, "bad chunk size", 100);
}
TEST(chunked_size_too_many_digits) { CHUNK_REJECT("00000000000000001\r\n", 400, "too long", 100); }
TEST(chunked_size_overflow_is_413) { CHUNK_REJECT("ffffffffffffffff\r\n", 413, "too large", 1 << 20); }
TEST(chunked_over_max_body)
{
    CHUNK_REJECT("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 413, "too large", 10);
    buf out = BUF_INIT;
    const char *err;
    const char *in = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    CHECK_INT(decode_all(in, &out, 10, &err), strlen(in));
    CHECK_INT(buf_size(&out), 10);
    buf_free(&out);
}
TEST(chunked_missing_crlf_after_data)
{
    CHUNK_REJECT("5\r\nhelloX\r\n0\r\n\r\n", 400, "not followed by CRLF", 100);
    CHUNK_REJECT("5\r\nhello\rX", 400, "not followed by CRLF", 100);
    CHUNK_REJECT("5\r\nhello\n0\r\n\r\n", 400, "not followed by CRLF", 100);
}
TEST(chunked_bare_lf_in_size_line)
{
    CHUNK_REJECT("5\nhello\r\n", 400, "bare LF in chunk size line", 100);
    CHUNK_REJECT("5;a=b\nhello\r\n", 400, "bare LF in chunk size line", 100);
}
TEST(chunked_bare_cr_in_size_line) { CHUNK_REJECT("5\rhello\r\n", 400, "bare CR in chunk size line", 100); }
TEST(chunked_ctl_in_extension) { CHUNK_REJECT("5;a\x01\r\nhello\r\n", 400, "chunk extension", 100); }
TEST(chunked_extension_line_bounded)
{
    char in[5000];
    memset(in, 'a', sizeof in);
    memcpy(in, "5;", 2);
    in[sizeof in - 1] = 0;
    CHUNK_REJECT(in, 400, "size line too long", 100);
}
TEST(chunked_trailers_bounded)
{
    char in[9000];
    size_t n = (size_t)sprintf(in, "0\r\n");
    while (n < sizeof in - 100)
        n += (size_t)sprintf(in + n, "X-Filler: 0123456789012345678901234567890123456789\r\n");
    strcpy(in + n, "\r\n");
    CHUNK_REJECT(in, 400, "trailers too large", 100);
}
TEST(chunked_bad_trailers)
{
    CHUNK_REJECT("0\r\nX: a\r\n b\r\n\r\n", 400, "bad trailer field", 100);
    CHUNK_REJECT("0\r\nX : a\r\n\r\n", 400, "bad trailer field name", 100);
    CHUNK_REJECT("0\r\nNoColon\r\n\r\n", 400, "bad trailer field name", 100);
    CHUNK_REJECT("0\r\nX: a\nY: b\r\n\r\n", 400, "bare LF", 100);
    CHUNK_REJECT("0\r\nX: a\x01\r\n\r\n", 400, "bad byte in trailer", 100);
    CHUNK_REJECT("0\r\n\n", 400, "bare LF", 100);
    CHUNK_REJECT("0\r\n\rX", 400, "bare CR after last chunk", 100);
}

int main(void)
{
    RUN(simple_get); RUN(target_with_query_kept_verbatim); RUN(extension_method_token);
    RUN(http10_without_host_closes); RUN(http10_keep_alive); RUN(http11_connection_close);
    RUN(connection_is_a_token_list); RUN(http12_is_treated_as_11); RUN(leading_empty_lines_are_skipped);
    RUN(header_names_lowercased_in_place); RUN(ows_around_value_trimmed); RUN(empty_value_accepted);
    RUN(obs_text_and_htab_in_value); RUN(content_length_parsed); RUN(content_length_max_int64);
    RUN(duplicate_identical_content_length); RUN(chunked_transfer_encoding); RUN(expect_100_continue);
    RUN(expect_ignored_on_http10); RUN(absolute_form_takes_host_from_target);
    RUN(absolute_form_without_path_is_slash); RUN(asterisk_form_for_options);
    RUN(authority_form_for_connect); RUN(ipv6_host_header); RUN(empty_host_header_allowed);
    RUN(h2c_upgrade_detected); RUN(h2c_needs_every_piece); RUN(pipelined_stops_at_first_head);
    RUN(exact_header_limit_accepted); RUN(head_exactly_max_head_accepted); RUN(null_limits_use_defaults);
    RUN(incomplete_returns_zero);

    RUN(bare_lf_in_request_line); RUN(bare_lf_after_target); RUN(bare_cr_in_request_line);
    RUN(bare_lf_before_request_line); RUN(bare_cr_before_request_line); RUN(too_many_empty_lines);
    RUN(bad_method_token); RUN(missing_method); RUN(tab_instead_of_space); RUN(double_space_before_target);
    RUN(double_space_before_version); RUN(space_inside_target); RUN(control_char_in_target);
    RUN(del_in_target); RUN(high_byte_in_target); RUN(missing_version); RUN(http2_version_is_505);
    RUN(http09_version_is_505); RUN(http3_version_is_505); RUN(lowercase_version); RUN(two_digit_minor);
    RUN(short_version); RUN(space_after_version); RUN(relative_target); RUN(asterisk_only_for_options);
    RUN(connect_needs_authority); RUN(authority_form_only_for_connect); RUN(absolute_form_other_scheme);
    RUN(absolute_form_userinfo); RUN(absolute_form_empty_authority); RUN(absolute_form_query_without_path);
    RUN(target_too_long_is_414_before_line_ends);

    RUN(obs_fold_rejected); RUN(obs_fold_with_tab_rejected); RUN(whitespace_before_first_header);
    RUN(space_before_colon); RUN(tab_before_colon); RUN(empty_header_name); RUN(invalid_header_name_byte);
    RUN(header_name_starting_with_bad_byte); RUN(header_without_colon); RUN(bare_lf_header_line);
    RUN(bare_lf_empty_line); RUN(bare_cr_in_value); RUN(bare_cr_at_line_start); RUN(nul_in_value);
    RUN(ctl_in_value); RUN(del_in_value); RUN(too_many_headers_431); RUN(header_count_capped_by_array);
    RUN(head_too_large_while_incomplete); RUN(head_one_over_max_head);

    RUN(cl_and_te_rejected); RUN(differing_duplicate_cl); RUN(differing_cl_list); RUN(cl_with_sign);
    RUN(cl_not_digits); RUN(cl_empty); RUN(cl_empty_list_element); RUN(cl_overflow);
    RUN(te_gzip_chunked_is_501); RUN(te_split_over_headers_is_501); RUN(te_not_ending_in_chunked);
    RUN(te_empty); RUN(te_chunked_twice); RUN(te_bad_token); RUN(te_on_http10); RUN(missing_host_on_11);
    RUN(missing_host_even_with_absolute_form); RUN(two_host_headers); RUN(invalid_host_chars);
    RUN(unknown_expectation_is_417);

    RUN(chunked_all_at_once); RUN(chunked_every_cut_point); RUN(chunked_byte_by_byte);
    RUN(chunked_done_is_sticky); RUN(chunked_hex_sizes); RUN(chunked_bad_sizes);
    RUN(chunked_size_too_many_digits); RUN(chunked_size_overflow_is_413); RUN(chunked_over_max_body);
    RUN(chunked_missing_crlf_after_data); RUN(chunked_bare_lf_in_size_line);
    RUN(chunked_bare_cr_in_size_line); RUN(chunked_ctl_in_extension); RUN(chunked_extension_line_bounded);
    RUN(chunked_trailers_bounded); RUN(chunked_bad_trailers);
    free(P.buf);
    return test_done();
}
