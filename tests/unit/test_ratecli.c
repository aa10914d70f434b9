/*
 * test_ratecli.c — bench/ratecli's socket-free half (bench/ratecli_core.c,
 * included here): the response reader fed whole, a byte at a time and cut
 * at every byte (Content-Length, chunked with extensions and trailers,
 * close-delimited, 1xx, 204/304, HTTP/1.0), every error it names, random
 * well-formed answers in random pieces and random damage, the
 * nearest-rank percentiles of known samples, the send schedule, the URL and
 * the output line bench/run parses.
 */
#include "tests/unit/test.h"
#include "bench/ratecli_core.c"

static struct rcc_resp resp;

/* Feed msg in pieces of `step` bytes (0: two pieces cut at `cut`) until the
 * response is done; total consumed, or -1 with *why. */
static long feed_cut(const char *msg, size_t len, size_t step, size_t cut, const char **why)
{
    size_t off = 0;
    rcc_resp_reset(&resp);
    while (off < len && resp.state != RCC_DONE) {
        size_t n = step ? step : (off < cut ? cut - off : len - off);
        if (n > len - off)
            n = len - off;
        long used = rcc_resp_feed(&resp, msg + off, n, why);
        if (used < 0)
            return -1;
        if ((size_t)used < n && resp.state != RCC_DONE)
            return *why = "stopped early", -1;
        off += (size_t)used;
    }
    return (long)off;
}

/* The response must read the same (consumed count, status, state) whole, a
 * byte at a time and cut in two at every byte; 0 when it does. */
static int same_every_cut(const char *msg, size_t len, long want, int status, enum rcc_state st)
{
    const char *why = NULL;
    for (size_t cut = 0; cut <= len + 1; cut++) {
        long got = cut == len + 1 ? feed_cut(msg, len, 1, 0, &why) : feed_cut(msg, len, 0, cut, &why);
        if (got != want || resp.status != status || resp.state != st) {
            printf("    cut %zu: consumed %ld (want %ld), status %d, state %d, why %s\n",
                   cut, got, want, resp.status, (int)resp.state, why ? why : "-");
            return -1;
        }
    }
    return 0;
}

#define S(x) x, sizeof(x) - 1

TEST(content_length_cut_anywhere)
{
    static const char m[] = "HTTP/1.1 200 OK\r\nServer: t\r\ncontent-LENGTH:  5 \r\n\r\nhello";
    CHECK(same_every_cut(S(m), (long)sizeof m - 1, 200, RCC_DONE) == 0);
    CHECK_INT(resp.close_after, 0);
    CHECK_INT(resp.left, 0);
}

TEST(content_length_stops_at_the_end_of_the_response)
{
    static const char two[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc"
                              "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    const char *why = NULL;
    rcc_resp_reset(&resp);
    long used = rcc_resp_feed(&resp, S(two), &why);
    CHECK_INT(used, 48);
    CHECK_INT(resp.status, 404);
    CHECK_INT(resp.state, RCC_DONE);
    rcc_resp_reset(&resp);
    CHECK_INT(rcc_resp_feed(&resp, two + used, sizeof two - 1 - (size_t)used, &why),
              (long)sizeof two - 1 - used);
    CHECK_INT(resp.status, 200);
    CHECK_INT(resp.state, RCC_DONE);
}

TEST(chunked_cut_anywhere)
{
    static const char m[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n"
                            "Content-Length: 999\r\n\r\n"
                            "5;name=\"v\"\r\nhello\r\nA \r\n0123456789\r\n1a\r\n"
                            "abcdefghijklmnopqrstuvwxyz\r\n000\r\nX-Trailer: y\r\nZ: 1\r\n\r\n";
    CHECK(same_every_cut(S(m), (long)sizeof m - 1, 200, RCC_DONE) == 0);
    static const char plain[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nNEXT";
    CHECK(same_every_cut(S(plain), (long)sizeof plain - 1 - 4, 200, RCC_DONE) == 0);
}

TEST(close_delimited_and_connection_close)
{
    const char *why = NULL;
    static const char m[] = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nbody to the close";
    CHECK(same_every_cut(S(m), (long)sizeof m - 1, 200, RCC_BODY_CLOSE) == 0);
    CHECK_INT(resp.close_after, 1);
    CHECK_INT(rcc_resp_eof(&resp, &why), 1);
    CHECK_INT(resp.state, RCC_DONE);
    static const char gz[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nxyz";
    CHECK(same_every_cut(S(gz), (long)sizeof gz - 1, 200, RCC_BODY_CLOSE) == 0);
    static const char c10[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
    CHECK(same_every_cut(S(c10), (long)sizeof c10 - 1, 200, RCC_DONE) == 0);
    CHECK_INT(resp.close_after, 1);
    static const char k10[] = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok";
    CHECK(same_every_cut(S(k10), (long)sizeof k10 - 1, 200, RCC_DONE) == 0);
    CHECK_INT(resp.close_after, 0);
    static const char c11[] = "HTTP/1.1 200 OK\r\nConnection: x, close\r\nContent-Length: 0\r\n\r\n";
    CHECK(same_every_cut(S(c11), (long)sizeof c11 - 1, 200, RCC_DONE) == 0);
    CHECK_INT(resp.close_after, 1);
    static const char nc[] = "HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n";
    CHECK(same_every_cut(S(nc), (long)sizeof nc - 1, 200, RCC_DONE) == 0);
    CHECK_INT(resp.close_after, 0);
}

TEST(no_body_statuses_and_interim_answers)
{
    static const char m204[] = "HTTP/1.1 204 No Content\r\n\r\nX";
    CHECK(same_every_cut(S(m204), (long)sizeof m204 - 2, 204, RCC_DONE) == 0);
    static const char m304[] = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
    CHECK(same_every_cut(S(m304), (long)sizeof m304 - 1, 304, RCC_DONE) == 0);
    static const char m100[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
                               "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    CHECK(same_every_cut(S(m100), (long)sizeof m100 - 1, 201, RCC_DONE) == 0);
    static const char noreason[] = "HTTP/1.1 500\r\nContent-Length: 1\r\n\r\n!";
    CHECK(same_every_cut(S(noreason), (long)sizeof noreason - 1, 500, RCC_DONE) == 0);
}

static const struct { const char *in, *why; } bad[] = {
    { "HTTP/2 200 OK\r\n\r\n", "bad status line" },
    { "HTTX/1.1 200 OK\r\n\r\n", "bad status line" },
    { "HTTP/1.1 20 OK\r\n\r\n", "bad status line" },
    { "HTTP/1.1 600 OK\r\n\r\n", "bad status line" },
    { "HTTP/1.1 2000 OK\r\n\r\n", "bad status line" },
    { "\r\n\r\n", "bad status line" },
    { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "unexpected 101 Switching Protocols" },
    { "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "header line without a colon" },
    { "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "header line without a colon" },
    { "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", "folded header line" },
    { "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", "bad Content-Length" },
    { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length" },
    { "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "bad Content-Length" },
    { "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "bad Content-Length" },
    { "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting Content-Length" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "bad chunk size" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\n", "bad chunk size" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", "chunk size too large" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\n", "chunk size line not ended by CRLF" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\n", "chunk size line not ended by CRLF" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "chunk data not followed by CRLF" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\rX", "chunk data not followed by CRLF" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\rX", "trailer line not ended by CRLF" },
    { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rX", "trailer line not ended by CRLF" },
};

TEST(malformed_responses_name_their_fault_at_every_cut)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i].in);
        for (size_t cut = 0; cut <= len; cut++) {
            const char *why = NULL;
            long got = cut == len ? feed_cut(bad[i].in, len, 1, 0, &why)
                                  : feed_cut(bad[i].in, len, 0, cut, &why);
            if (got != -1 || !why || strcmp(why, bad[i].why)) {
                printf("    case %zu cut %zu: %ld, %s\n", i, cut, got, why ? why : "-");
                CHECK(got == -1);
                CHECK_STR(why, bad[i].why);
            }
        }
    }
}

TEST(nul_and_overlong_heads_and_lines)
{
    const char *why = NULL;
    static const char nul[] = "HTTP/1.1 200 OK\r\nA: \0\r\n\r\n";
    CHECK_INT(feed_cut(S(nul), 1, 0, &why), -1);
    CHECK_STR(why, "NUL byte in the response head");
    static char big[RCC_HEAD_MAX + 64];
    int n = snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX: ");
    memset(big + n, 'a', sizeof big - (size_t)n);
    CHECK_INT(feed_cut(big, sizeof big, 1000, 0, &why), -1);
    CHECK_STR(why, "response head too long");
    static char ext[64 + RCC_LINE_MAX];
    n = snprintf(ext, sizeof ext, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;");
    memset(ext + n, 'e', sizeof ext - (size_t)n);
    CHECK_INT(feed_cut(ext, sizeof ext, 0, 100, &why), -1);
    CHECK_STR(why, "chunk extension too long");
    n = snprintf(ext, sizeof ext, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT");
    memset(ext + n, 't', sizeof ext - (size_t)n);
    CHECK_INT(feed_cut(ext, sizeof ext, 0, 100, &why), -1);
    CHECK_STR(why, "trailer line too long");
}

TEST(connection_closed_mid_response)
{
    const char *why = NULL;
    rcc_resp_reset(&resp);
    CHECK_INT(rcc_resp_eof(&resp, &why), 0);
    CHECK_INT(rcc_resp_feed(&resp, S("HTTP/1.1 200 OK\r\nContent-"), &why), 25);
    CHECK_INT(rcc_resp_eof(&resp, &why), -1);
    CHECK_STR(why, "connection closed in the response head");
    rcc_resp_reset(&resp);
    CHECK_INT(rcc_resp_feed(&resp, S("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"), &why), 41);
    CHECK_INT(resp.left, 6);
    CHECK_INT(rcc_resp_eof(&resp, &why), -1);
    CHECK_STR(why, "connection closed in the response body");
    rcc_resp_reset(&resp);
    CHECK_INT(rcc_resp_feed(&resp, S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab"), &why), 52);
    CHECK_INT(rcc_resp_eof(&resp, &why), -1);
    CHECK_STR(why, "connection closed in the response body");
}

static uint32_t rng = 2463534242u;

static uint32_t next_rand(void)                      /* xorshift32: the same run every time */
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* A random well-formed response (length, chunked or to the close) into buf,
 * followed by `tail` bytes of the next one; its own length. */
static size_t random_response(char *buf, size_t cap, int *framing)
{
    size_t n = 0, body = next_rand() % 3000;
    *framing = (int)(next_rand() % 3);
    static const int status[] = { 200, 201, 203, 206, 301, 404, 451, 500, 503 };  /* with bodies */
    n += (size_t)snprintf(buf + n, cap - n, "HTTP/1.1 %d OK\r\nServer: r\r\n", status[next_rand() % 9]);
    if (*framing == 0)
        n += (size_t)snprintf(buf + n, cap - n, "Content-Length: %zu\r\n\r\n", body);
    else if (*framing == 1)
        n += (size_t)snprintf(buf + n, cap - n, "Transfer-Encoding: chunked\r\n\r\n");
    else
        n += (size_t)snprintf(buf + n, cap - n, "X-Body: to the close\r\n\r\n");
    while (body > 0) {
        size_t part = *framing == 1 ? 1 + next_rand() % body : body;
        if (*framing == 1)
            n += (size_t)snprintf(buf + n, cap - n, "%zx%s\r\n", part, next_rand() % 2 ? ";x=y" : "");
        for (size_t i = 0; i < part; i++)
            buf[n++] = (char)next_rand();
        if (*framing == 1)
            buf[n++] = '\r', buf[n++] = '\n';
        body -= part;
    }
    if (*framing == 1)
        n += (size_t)snprintf(buf + n, cap - n, "0\r\n%s\r\n", next_rand() % 2 ? "T: 1\r\n" : "");
    return n;
}

TEST(random_responses_in_random_pieces_and_garbage)
{
    static char buf[32768];
    for (int round = 0; round < 2000; round++) {
        int framing;
        size_t len = random_response(buf, sizeof buf - 64, &framing);
        memcpy(buf + len, "HTTP/1.1 200 OK\r\n", 17);   /* the next answer must be left alone */
        size_t total = framing == 2 ? len : len + 17, off = 0;
        const char *why = NULL;
        rcc_resp_reset(&resp);
        while (off < total && resp.state != RCC_DONE) {
            size_t n = 1 + next_rand() % 700;
            n = n < total - off ? n : total - off;
            long used = rcc_resp_feed(&resp, buf + off, n, &why);
            if (used < 0)
                printf("    round %d framing %d: %s\n", round, framing, why);
            CHECK(used >= 0);
            off += (size_t)used;
        }
        if (framing == 2) {
            CHECK_INT(resp.state, RCC_BODY_CLOSE);
            CHECK_INT(rcc_resp_eof(&resp, &why), 1);
        }
        CHECK_INT(resp.state, RCC_DONE);
        CHECK_INT(off, len);
        CHECK(resp.status >= 200 && resp.status <= 503);
    }
    static const char noise[] = "HTTP/1.0 chunked\r\n:;0aF";
    for (int round = 0; round < 2000; round++) {          /* garbage: an answer or an error, no crash */
        size_t len = next_rand() % 600;
        int framing;
        size_t head = random_response(buf, sizeof buf - 64, &framing);
        size_t at = next_rand() % (head + 1);
        for (size_t i = 0; i < len && at + i < sizeof buf; i++)
            buf[at + i] = noise[next_rand() % (sizeof noise - 1)];
        size_t total = head > at + len ? head : at + len, off = 0;
        const char *why = NULL;
        rcc_resp_reset(&resp);
        long used = 0;
        while (off < total && resp.state != RCC_DONE && used >= 0) {
            size_t n = 1 + next_rand() % 100;
            n = n < total - off ? n : total - off;
            used = rcc_resp_feed(&resp, buf + off, n, &why);
            off += used > 0 ? (size_t)used : 0;
        }
        CHECK(used >= 0 || (why && *why));
        CHECK(off <= total);
    }
}

TEST(percentiles_of_known_samples)
{
    struct rcc_lat l;
    CHECK_INT(rcc_lat_init(&l, 1000), 0);
    CHECK_INT(rcc_lat_pct(&l, 1, 2), 0);              /* empty */
    for (uint64_t i = 0; i < 100; i++)                   /* 1..100, shuffled */
        CHECK_INT(rcc_lat_add(&l, (i * 37) % 100 + 1), 0);
    rcc_lat_sort(&l);
    CHECK_INT(l.v[0], 1);
    CHECK_INT(l.v[99], 100);
    CHECK_INT(rcc_lat_pct(&l, 1, 2), 50);
    CHECK_INT(rcc_lat_pct(&l, 9, 10), 90);
    CHECK_INT(rcc_lat_pct(&l, 99, 100), 99);
    CHECK_INT(rcc_lat_pct(&l, 999, 1000), 100);
    CHECK_INT(rcc_lat_pct(&l, 1, 1), 100);
    CHECK_INT(rcc_lat_pct(&l, 0, 1), 1);
    l.n = 3;                                             /* 10, 20, 30 */
    l.v[0] = 30, l.v[1] = 10, l.v[2] = 20;
    rcc_lat_sort(&l);
    CHECK_INT(rcc_lat_pct(&l, 1, 2), 20);
    CHECK_INT(rcc_lat_pct(&l, 1, 3), 10);
    CHECK_INT(rcc_lat_pct(&l, 99, 100), 30);
    l.n = 0;
    for (uint64_t i = 1000; i >= 1; i--)                 /* 1000..1, a full record */
        CHECK_INT(rcc_lat_add(&l, i * 1000), 0);
    CHECK_INT(rcc_lat_add(&l, 1), -1);
    rcc_lat_sort(&l);
    CHECK_INT(rcc_lat_pct(&l, 999, 1000), 999000);
    CHECK_INT(rcc_lat_pct(&l, 99, 100), 990000);
    rcc_lat_free(&l);
    CHECK(l.v == NULL);
}

TEST(schedule_spreads_the_rate_over_the_connections)
{
    struct rcc_sched s = { .start = 1000, .nconn = 64, .rate = 200 };
    CHECK_INT(rcc_due(&s, 0, 0), 1000);
    CHECK_INT(rcc_due(&s, 1, 0), 1000 + 5000000);
    CHECK_INT(rcc_due(&s, 0, 1), 1000 + 64 * 5000000LL);
    CHECK_INT(rcc_due(&s, 63, 2), 1000 + (63 + 128) * 5000000LL);
    static unsigned char seen[400];
    memset(seen, 0, sizeof seen);
    uint64_t total = 0;
    for (int i = 0; i < s.nconn; i++) {
        total += rcc_due_between(&s, i, 0, 1000, 1000 + 2000000000LL);
        for (int64_t k = 0, d; (d = rcc_due(&s, i, k)) < 1000 + 2000000000LL; k++) {
            int64_t slot = (d - 1000) / 5000000;
            CHECK((d - 1000) % 5000000 == 0 && slot < 400 && !seen[slot]);
            seen[slot] = 1;
        }
    }
    CHECK_INT(total, 400);                               /* 200/s for 2 s, each slot once */
    CHECK_INT(rcc_due_between(&s, 0, 0, 1000 + 500000000LL, 1000 + 2500000000LL), 6);
    CHECK_INT(rcc_due_between(&s, 0, 3, 1000, 1000 + 2500000000LL), 5);
    struct rcc_sched slow = { .start = 0, .nconn = 2, .rate = 1.5 };
    CHECK_INT(rcc_due(&slow, 1, 1), 2000000000LL);       /* request 3 of 1.5/s */
    CHECK_INT(rcc_due_between(&slow, 0, 0, 0, 4000000000LL) +
              rcc_due_between(&slow, 1, 0, 0, 4000000000LL), 6);
}

TEST(urls_and_the_request)
{
    struct rcc_url u;
    const char *why = NULL;
    char req[1024];
    CHECK_INT(rcc_url_parse("https://localhost:8443/a/b?c=1", &u, &why), 0);
    CHECK_INT(u.tls, 1);
    CHECK_INT(u.port, 8443);
    CHECK_STR(u.host, "localhost");
    CHECK_STR(u.path, "/a/b?c=1");
    CHECK_INT(rcc_request(req, sizeof req, &u), 68);
    CHECK_STR(req, "GET /a/b?c=1 HTTP/1.1\r\nHost: localhost:8443\r\nUser-Agent: ratecli\r\n\r\n");
    CHECK_INT(rcc_request(req, 20, &u), -1);
    CHECK_INT(rcc_url_parse("http://127.0.0.1", &u, &why), 0);
    CHECK_INT(u.tls, 0);
    CHECK_INT(u.port, 80);
    CHECK_STR(u.path, "/");
    static const struct { const char *url, *why; } no[] = {
        { "ftp://h/", "URL must start with http:// or https://" },
        { "http://:80/", "bad host in URL" },
        { "http:///x", "bad host in URL" },
        { "http://h:0/", "bad port in URL" },
        { "http://h:70000/", "bad port in URL" },
        { "http://h:/", "bad port in URL" },
        { "http://h:-1/", "bad port in URL" },
        { "http://h:80x/", "bad port in URL" },
        { "http://h/a b", "bad path in URL" },
        { "http://h/a\r\nX: y", "bad path in URL" },
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        why = NULL;
        CHECK_INT(rcc_url_parse(no[i].url, &u, &why), -1);
        CHECK_STR(why, no[i].why);
    }
    char longpath[600] = "http://h/";
    memset(longpath + 9, 'p', sizeof longpath - 10);
    CHECK_INT(rcc_url_parse(longpath, &u, &why), -1);
    CHECK_STR(why, "bad path in URL");
}

TEST(output_line_is_what_bench_run_parses)
{
    struct rcc_lat l;
    char line[512];
    CHECK_INT(rcc_lat_init(&l, 400), 0);
    for (uint64_t i = 1; i <= 400; i++)                  /* 0.01 .. 4.00 ms */
        rcc_lat_add(&l, i * 10000);
    rcc_lat_sort(&l);
    struct rcc_stats st = { .rate = 200, .dur = 2, .sent = 400, .unsent = 0 };
    CHECK_INT(rcc_format(line, sizeof line, &st, &l), 0);
    CHECK_STR(line, "rate 200 sent 400 done 400 errors 0 non2xx 0 unsent 0 p50 2.000 p90 3.600 "
                    "p99 3.960 p999 4.000 max 4.000 (ms) achieved 200/s");
    l.n = 379;                                           /* 189.5/s: below 95% of 200 */
    st.errors = 21, st.non2xx = 2, st.unsent = 3;
    CHECK_INT(rcc_format(line, sizeof line, &st, &l), 1);
    CHECK_STR(line, "rate 200 sent 400 done 379 errors 21 non2xx 2 unsent 3 p50 1.900 p90 3.420 "
                    "p99 3.760 p999 3.790 max 3.790 (ms) achieved 190/s "
                    "CANNOT KEEP UP (below 95% of the rate)");
    l.n = 380;                                           /* exactly 95%: keeps up */
    CHECK_INT(rcc_format(line, sizeof line, &st, &l), 0);
    rcc_lat_free(&l);
}

int main(void)
{
    RUN(content_length_cut_anywhere);
    RUN(content_length_stops_at_the_end_of_the_response);
    RUN(chunked_cut_anywhere);
    RUN(close_delimited_and_connection_close);
    RUN(no_body_statuses_and_interim_answers);
    RUN(malformed_responses_name_their_fault_at_every_cut);
    RUN(nul_and_overlong_heads_and_lines);
    RUN(connection_closed_mid_response);
    RUN(random_responses_in_random_pieces_and_garbage);
    RUN(percentiles_of_known_samples);
    RUN(schedule_spreads_the_rate_over_the_connections);
    RUN(urls_and_the_request);
    RUN(output_line_is_what_bench_run_parses);
    return test_done();
}
