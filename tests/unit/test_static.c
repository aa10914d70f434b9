/*
 * test_static.c — static files: the Range, HTTP-date and entity-tag
 * grammar (static_parse.c), path safety, MIME types, and static_serve()
 * driven through a fake http_driver over real files in a temp folder:
 * preconditions, ranges, HEAD, the small-file cache and its revalidation,
 * and a large file streamed under back-pressure — finished, or aborted
 * half-way (fd closed, previous owner's on_abort chained, nothing leaked).
 */
#include "core/static.c"
#include "core/static_mime.c"
#include "tests/unit/test.h"
#include <dirent.h>
#include <sys/time.h>

static const char *why;

/* ---- Range -------------------------------------------------------------- */

static int rng(const char *v, uint64_t size, static_range *out)
{
    return static_parse_range(v, strlen(v), size, out, &why);
}

TEST(range_single_open_suffix)
{
    static_range r[STATIC_MAX_RANGES];
    CHECK_INT(rng("bytes=0-9", 100, r), 1);
    CHECK_INT(r[0].first, 0); CHECK_INT(r[0].last, 9);
    CHECK_INT(rng("bytes=90-", 100, r), 1);
    CHECK_INT(r[0].first, 90); CHECK_INT(r[0].last, 99);
    CHECK_INT(rng("bytes=-30", 100, r), 1);
    CHECK_INT(r[0].first, 70); CHECK_INT(r[0].last, 99);
    CHECK_INT(rng("bytes=-500", 100, r), 1);          /* longer than the file: all of it */
    CHECK_INT(r[0].first, 0); CHECK_INT(r[0].last, 99);
    CHECK_INT(rng("bytes=50-1000", 100, r), 1);       /* last clamped */
    CHECK_INT(r[0].last, 99);
    CHECK_INT(rng("Bytes = 1-2", 100, r), 0);         /* no space allowed before '=' */
    CHECK_INT(rng("BYTES=1-2", 100, r), 1);           /* unit is case-insensitive */
}

TEST(range_multiple_kept_in_order_and_coalesced)
{
    static_range r[STATIC_MAX_RANGES];
    CHECK_INT(rng("bytes=0-1,5-6", 13, r), 2);
    CHECK_INT(r[1].first, 5); CHECK_INT(r[1].last, 6);
    CHECK_INT(rng("bytes=5-6, 0-1", 13, r), 2);       /* order asked is kept */
    CHECK_INT(r[0].first, 5); CHECK_INT(r[1].first, 0);
    CHECK_INT(rng("bytes=0-5,3-8", 100, r), 1);       /* overlap merged */
    CHECK_INT(r[0].first, 0); CHECK_INT(r[0].last, 8);
    CHECK_INT(rng("bytes=0-4,5-9", 100, r), 1);       /* adjacent merged */
    CHECK_INT(r[0].last, 9);
    CHECK_INT(rng("bytes=10-20,0-5,4-12", 100, r), 1);  /* a bridge merges all three */
    CHECK_INT(r[0].first, 0); CHECK_INT(r[0].last, 20);
    CHECK_INT(rng("bytes= 0-1 ,, 3-4 ,", 100, r), 2); /* OWS and empty elements */
    CHECK_INT(rng("bytes=0-1,500-600", 100, r), 1);   /* the unsatisfiable one dropped */
}

TEST(range_unsatisfiable_is_416)
{
    static_range r[STATIC_MAX_RANGES];
    CHECK_INT(rng("bytes=99999-", 13, r), -1);
    CHECK_INT(rng("bytes=13-20", 13, r), -1);
    CHECK_INT(rng("bytes=-0", 13, r), -1);
    CHECK_INT(rng("bytes=0-", 0, r), -1);             /* nothing to give from an empty file */
    CHECK_INT(rng("bytes=99999999999999999999999999-", 13, r), -1);
}

TEST(range_garbage_and_absurd_headers_are_ignored)
{
    static_range r[STATIC_MAX_RANGES];
    const char *bad[] = {"bytes=", "bytes=abc", "bytes=5-2", "bytes=1-2-3", "items=0-1",
                         "bytes=0-1;x", "bytes=--1", "bytes=-", "bytes 0-1", "", "bytes=1 2-3",
                         "bytes=0x10-20"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(rng(bad[i], 100, r), 0);
    CHECK_INT(rng("bytes=0-99999999999999999999999999", 100, r), 1);   /* saturates */
    CHECK_INT(r[0].last, 99);
    char big[4096] = "bytes=";
    for (int i = 0; i < 17; i++)                      /* 17 disjoint ranges: too many */
        snprintf(big + strlen(big), sizeof big - strlen(big), "%d-%d,", i * 10, i * 10 + 1);
    CHECK_INT(rng(big, 1000, r), 0);
    strcpy(big, "bytes=");
    for (int i = 0; i < 16; i++)                      /* 16 are fine */
        snprintf(big + strlen(big), sizeof big - strlen(big), "%d-%d,", i * 10, i * 10 + 1);
    CHECK_INT(rng(big, 1000, r), 16);
    strcpy(big, "bytes=");
    for (int i = 0; i < 200; i++)                     /* hundreds of overlapping: refused */
        snprintf(big + strlen(big), sizeof big - strlen(big), "0-%d,", i);
    CHECK_INT(rng(big, 1000, r), 0);
    strcpy(big, "bytes=");
    for (int i = 0; i < 60; i++)                      /* 60 overlapping: merged into one */
        snprintf(big + strlen(big), sizeof big - strlen(big), "%d-%d,", i, i + 5);
    CHECK_INT(rng(big, 1000, r), 1);
    CHECK_INT(r[0].first, 0); CHECK_INT(r[0].last, 64);
}

/* ---- dates -------------------------------------------------------------- */

static int64_t date(const char *s)
{
    int64_t t = -42;
    return static_parse_date(s, strlen(s), &t) == 0 ? t : -42;
}

TEST(date_three_formats)
{
    CHECK_INT(date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    CHECK_INT(date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    CHECK_INT(date("Sun Nov  6 08:49:37 1994"), 784111777);
    CHECK_INT(date("  Sun, 06 Nov 1994 08:49:37 GMT  "), 784111777);
    CHECK_INT(date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    CHECK_INT(date("Thu, 29 Feb 2024 23:59:59 GMT"), 1709251199);
    char out[30];
    static_format_date(784111777, out);
    CHECK_STR(out, "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(date_rfc850_two_digit_year_is_not_far_future)
{
    int64_t t = date("Thursday, 01-Jan-70 00:00:00 GMT");
    CHECK(t == 0 || t == 3155760000LL);               /* 1970 or 2070, whichever is within 50 years */
    time_t now = time(NULL);
    CHECK(t <= (int64_t)now + 50LL * 366 * 86400);
}

TEST(date_invalid_rejected)
{
    const char *bad[] = {"", "yesterday", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37",
                         "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 1994 08:49:37 GMT",
                         "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
                         "Sun, 06 Nov 1994 08:49:37 GMTx", "Sun Nov 6 08:49:37 1994",
                         "Xyz, 06 Nov 1994 08:49:37 GMT", "Sunday, 06 Nov 1994 08:49:37 GMT",
                         "Sun, 06 Nov 94 08:49:37 GMT", "1994-11-06T08:49:37Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (date(bad[i]) != -42) {
            printf("  accepted: %s\n", bad[i]);
            CHECK(0);
        }
}

/* ---- entity tags -------------------------------------------------------- */

static int tag(const char *list, const char *etag, int strong)
{
    return static_etag_match(list, strlen(list), etag, strlen(etag), strong);
}

TEST(etag_matching)
{
    CHECK(tag("\"abc\"", "\"abc\"", 1));
    CHECK(tag("\"x\", \"abc\"", "\"abc\"", 0));
    CHECK(tag("W/\"abc\"", "\"abc\"", 0));            /* weak comparison ignores W/ */
    CHECK(!tag("W/\"abc\"", "\"abc\"", 1));           /* strong does not */
    CHECK(tag("*", "\"abc\"", 1));
    CHECK(tag(" * ", "\"abc\"", 0));
    CHECK(!tag("\"xabcx\"", "\"abc\"", 0));           /* no substring matches */
    CHECK(!tag("\"ab\"", "\"abc\"", 0));
    CHECK(!tag("abc", "\"abc\"", 0));                 /* unquoted: malformed */
    CHECK(tag("junk, \"abc\"", "\"abc\"", 0));        /* malformed members skipped */
    CHECK(!tag("\"unterminated, \"abc\"", "\"abc\"", 0));   /* the quote pairs up wrongly: no match */
    CHECK(!tag("", "\"abc\"", 0));
    CHECK(!tag("*x", "\"abc\"", 0));
}

/* ---- paths and types ---------------------------------------------------- */

TEST(safe_join_refuses_escapes)
{
    char out[256];
    CHECK_INT(static_safe_join("/site/public", "/a/b.txt", out, sizeof out), 0);
    CHECK_STR(out, "/site/public/a/b.txt");
    CHECK_INT(static_safe_join("/site/public", "/../index.lua", out, sizeof out), -1);
    CHECK_INT(static_safe_join("/site/public", "/a/../../x", out, sizeof out), -1);
    CHECK_INT(static_safe_join("/site/public", "/a/./x", out, sizeof out), -1);
    CHECK_INT(static_safe_join("/site/public", "/a\\..\\x", out, sizeof out), -1);
    CHECK_INT(static_safe_join("/site/public", "/a", out, 8), -1);     /* too long */
}

TEST(path_allowed_checks_root_and_dotfiles)
{
    CHECK_INT(static_path_allowed("/s", "/s/public/a.txt", &why), 0);
    CHECK_INT(static_path_allowed("/s/", "/s/public/a.txt", &why), 0);
    CHECK_INT(static_path_allowed("/s", "/s2/public/a.txt", &why), -1);   /* prefix trick */
    CHECK_INT(static_path_allowed("/s", "/etc/passwd", &why), -1);
    CHECK_INT(static_path_allowed("/s", "/s/public/.env", &why), -1);
    CHECK_INT(static_path_allowed("/s", "/s/.atto/key.pem", &why), -1);
    CHECK_INT(static_path_allowed("/s", "/s/public/../index.lua", &why), -1);
    CHECK_INT(static_path_allowed("/s", "/s/public//a/./b", &why), -1);
    CHECK_INT(static_path_allowed("/home/u/.sites/s", "/home/u/.sites/s/public/a", &why), 0);
    CHECK_INT(static_path_allowed("/", "/x/y", &why), 0);
    CHECK_INT(static_path_allowed(NULL, "/tmp/x/a.b.c", &why), 0);
}

TEST(mime_by_extension)
{
    CHECK_STR(static_mime("/x/a.html"), "text/html; charset=utf-8");
    CHECK_STR(static_mime("/x/a.TXT"), "text/plain; charset=utf-8");
    CHECK_STR(static_mime("/x/a.png"), "image/png");
    CHECK_STR(static_mime("/x/a.json"), "application/json");
    CHECK_STR(static_mime("/x/a.css"), "text/css; charset=utf-8");
    CHECK_STR(static_mime("/x/noext"), "application/octet-stream");
    CHECK_STR(static_mime("/x.d/noext"), "application/octet-stream");
    CHECK_STR(static_mime("/x/a.unknownextension"), "application/octet-stream");
    CHECK_STR(static_mime("/x/a."), "application/octet-stream");
}

TEST(mime_types_file_parsing)
{
    char line1[] = "text/x-test\tzzq zzr\n", line2[] = "# comment zzs\n", line3[] = "image/zz zzq\n";
    size_t cap = 0, before;
    pthread_once(&mime_once, mime_load);            /* the real file first */
    cap = mime_n, before = mime_n;
    CHECK_INT(mime_line(line1, &cap), 0);
    CHECK_INT(mime_line(line2, &cap), 0);
    CHECK_INT(mime_line(line3, &cap), 0);
    CHECK_INT(mime_n, before + 3);
    qsort(mime_db, mime_n, sizeof *mime_db, mime_cmp);
    CHECK_STR(static_mime("a.zzq"), "text/x-test; charset=utf-8");   /* first mapping wins */
    CHECK_STR(static_mime("a.zzr"), "text/x-test; charset=utf-8");
    CHECK_STR(static_mime("a.zzs"), "application/octet-stream");
}

/* ---- static_serve through a fake driver --------------------------------- */

typedef struct fake {
    int     status, started, fin, body_calls;
    char    hdr[2048];               /* "name: value\n" lines */
    int64_t clen;
    char   *out;
    size_t  len, cap, pending;
    int     abort_at;                /* body call that finds the client gone (0: never) */
    int     lines_calls, lines_ok;   /* start_lines() calls; the last ended in CRLF */
} fake;

static fake F;

static void f_start(http_req *r, int status, const http_hdr *h, size_t n, int64_t clen)
{
    F.status = status;
    F.started = 1;
    F.clen = clen;
    r->started = 1;
    r->status = status;
    F.hdr[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(F.hdr + strlen(F.hdr), sizeof F.hdr - strlen(F.hdr), "%.*s: %.*s\n",
                 (int)h[i].name_len, h[i].name, (int)h[i].value_len, h[i].value);
}

static int f_body(http_req *r, const void *p, size_t n, int fin)
{
    if (++F.body_calls == F.abort_at) {
        r->on_abort(r);              /* reset while writing: the driver aborts at once */
        return -1;
    }
    if (!r->head && n) {
        if (F.len + n > F.cap) {
            F.cap = (F.len + n) * 2;
            F.out = realloc(F.out, F.cap);
        }
        memcpy(F.out + F.len, p, n);
        F.len += n;
        F.pending += n;
    }
    if (fin) {
        F.fin = 1;
        r->finished = 1;
    }
    return 0;
}

static size_t f_pending(http_req *r) { return F.pending; }

static const http_driver fake_drv = {f_start, f_body, f_pending, NULL};

/* The same, for a driver that takes pre-formatted lines (like HTTP/1.1):
 * they are split back into "name: value\n" with lower-case names, so a
 * test can compare them with what start() was given. */
static void f_start_lines(http_req *r, int status, const char *lines, size_t len, int64_t clen)
{
    F.status = status;
    F.started = 1;
    F.clen = clen;
    F.lines_calls++;
    r->started = 1;
    r->status = status;
    F.hdr[0] = 0;
    size_t o = 0;
    int in_name = 1;
    for (size_t i = 0; i + 1 < len && o + 2 < sizeof F.hdr; i++) {
        if (lines[i] == '\r' && lines[i + 1] == '\n') {
            F.hdr[o++] = '\n';
            in_name = 1;
            i++;
            continue;
        }
        char ch = lines[i];
        in_name &= ch != ':';
        F.hdr[o++] = in_name && ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    F.hdr[o] = 0;
    F.lines_ok = len >= 2 && lines[len - 2] == '\r' && lines[len - 1] == '\n';
}

static const http_driver lines_drv = {f_start, f_body, f_pending, f_start_lines};
static http_hdr req_hdrs[8];
static char dir[] = "/tmp/atto-static-XXXXXX";

static http_req make_req(const char *method, const char *h1, const char *v1)
{
    F.status = F.started = F.fin = F.body_calls = 0;
    F.len = F.pending = 0;
    F.abort_at = 0;
    http_req r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.method_len = strlen(method);
    r.target = "/x";
    r.target_len = 2;
    r.protocol = "HTTP/1.1";
    r.head = strcmp(method, "HEAD") == 0;
    r.drv = &fake_drv;
    if (h1) {
        req_hdrs[0] = (http_hdr){h1, strlen(h1), v1, strlen(v1)};
        r.headers = req_hdrs;
        r.nheaders = 1;
    }
    return r;
}

static void write_file(const char *name, const char *data, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static const char *file(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static const char *hdr_of(const char *name)
{
    static char v[256];
    char key[64];
    snprintf(key, sizeof key, "%s: ", name);
    const char *p = strstr(F.hdr, key);
    if (!p)
        return NULL;
    p += strlen(key);
    size_t n = strcspn(p, "\n");
    snprintf(v, sizeof v, "%.*s", (int)n, p);
    return v;
}

TEST(serve_small_file_and_validators)
{
    write_file("a.txt", "hello world!\n", 13);
    http_req r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, file("a.txt")), 1);
    CHECK_INT(F.status, 200);
    CHECK_INT(F.clen, 13);
    CHECK_MEM(F.out, F.len, "hello world!\n", 13);
    CHECK(F.fin);
    CHECK_STR(hdr_of("content-type"), "text/plain; charset=utf-8");
    CHECK_STR(hdr_of("accept-ranges"), "bytes");
    char etag[64], lm[64];
    snprintf(etag, sizeof etag, "%s", hdr_of("etag"));
    snprintf(lm, sizeof lm, "%s", hdr_of("last-modified"));
    CHECK(etag[0] == '"');

    r = make_req("GET", "if-none-match", etag);
    CHECK_INT(static_serve(&r, file("a.txt")), 1);
    CHECK_INT(F.status, 304);
    CHECK_INT(F.len, 0);
    char weak[80];
    snprintf(weak, sizeof weak, "\"nope\", W/%s", etag);
    r = make_req("GET", "if-none-match", weak);
    static_serve(&r, file("a.txt"));
    CHECK_INT(F.status, 304);
    r = make_req("GET", "if-modified-since", lm);
    static_serve(&r, file("a.txt"));
    CHECK_INT(F.status, 304);
    r = make_req("GET", "if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT");
    static_serve(&r, file("a.txt"));
    CHECK_INT(F.status, 200);
    r = make_req("GET", "if-modified-since", "garbage");
    static_serve(&r, file("a.txt"));
    CHECK_INT(F.status, 200);
    r = make_req("GET", "if-match", "\"other\"");
    static_serve(&r, file("a.txt"));
    CHECK_INT(F.status, 412);
    r = make_req("GET", "if-match", etag);
    static_serve(&r, file("a.txt"));
    CHECK_INT(F.status, 200);
    r = make_req("GET", "if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT");
    static_serve(&r, file("a.txt"));
    CHECK_INT(F.status, 412);
    r = make_req("POST", "if-none-match", "*");
    static_serve(&r, file("a.txt"));
    CHECK_INT(F.status, 412);
}

/* A driver that takes pre-formatted lines gets, for a plain GET or HEAD,
 * the very headers start() would get; anything conditional goes the
 * general way. */
TEST(serve_preformatted_lines_match_the_general_headers)
{
    write_file("l.txt", "hello world!\n", 13);
    http_req r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, file("l.txt")), 1);
    char general[2048];
    snprintf(general, sizeof general, "%s", F.hdr);
    for (int round = 0; round < 2; round++) {        /* from disk, then from the cache */
        r = make_req("GET", NULL, NULL);
        r.drv = &lines_drv;
        F.lines_calls = 0;
        CHECK_INT(static_serve(&r, file("l.txt")), 1);
        CHECK_INT(F.lines_calls, 1);
        CHECK(F.lines_ok);
        CHECK_INT(F.status, 200);
        CHECK_INT(F.clen, 13);
        CHECK_STR(F.hdr, general);
        CHECK_MEM(F.out, F.len, "hello world!\n", 13);
        CHECK(F.fin);
    }
    r = make_req("HEAD", NULL, NULL);
    r.drv = &lines_drv;
    CHECK_INT(static_serve(&r, file("l.txt")), 1);
    CHECK_INT(F.clen, 13);
    CHECK_INT(F.len, 0);
    CHECK(F.fin);
    char etag[64];
    snprintf(etag, sizeof etag, "%s", hdr_of("etag"));
    r = make_req("GET", "if-none-match", etag);
    r.drv = &lines_drv;
    F.lines_calls = 0;
    static_serve(&r, file("l.txt"));
    CHECK_INT(F.status, 304);
    CHECK_INT(F.lines_calls, 0);
    r = make_req("GET", "range", "bytes=0-4");
    r.drv = &lines_drv;
    static_serve(&r, file("l.txt"));
    CHECK_INT(F.status, 206);
    CHECK_INT(F.lines_calls, 0);
    CHECK_MEM(F.out, F.len, "hello", 5);
}

TEST(serve_ranges_head_and_if_range)
{
    write_file("r.txt", "hello world!\n", 13);
    http_req r = make_req("GET", "range", "bytes=0-4");
    static_serve(&r, file("r.txt"));
    CHECK_INT(F.status, 206);
    CHECK_STR(hdr_of("content-range"), "bytes 0-4/13");
    CHECK_MEM(F.out, F.len, "hello", 5);
    r = make_req("GET", "range", "bytes=0-1,5-6");
    static_serve(&r, file("r.txt"));
    CHECK_INT(F.status, 206);
    CHECK(strncmp(hdr_of("content-type"), "multipart/byteranges; boundary=", 31) == 0);
    CHECK_INT(F.clen, (int64_t)F.len);
    F.out[F.len] = 0;
    CHECK(strstr(F.out, "Content-Range: bytes 0-1/13\r\n\r\nhe\r\n--"));
    CHECK(strstr(F.out, "Content-Range: bytes 5-6/13\r\n\r\n w\r\n--"));
    CHECK(F.len > 4 && memcmp(F.out + F.len - 4, "--\r\n", 4) == 0);
    r = make_req("GET", "range", "bytes=99999-");
    static_serve(&r, file("r.txt"));
    CHECK_INT(F.status, 416);
    CHECK_STR(hdr_of("content-range"), "bytes */13");
    r = make_req("GET", "range", "bytes=5-2");
    static_serve(&r, file("r.txt"));
    CHECK_INT(F.status, 200);
    CHECK_INT(F.len, 13);
    r = make_req("HEAD", "range", "bytes=0-4");           /* Range is for GET only */
    static_serve(&r, file("r.txt"));
    CHECK_INT(F.status, 200);
    CHECK_INT(F.clen, 13);
    CHECK_INT(F.len, 0);
    CHECK(F.fin);
    http_hdr two[2] = {{"range", 5, "bytes=0-4", 9}, {"if-range", 8, "\"stale\"", 7}};
    r = make_req("GET", NULL, NULL);
    r.headers = two;
    r.nheaders = 2;
    static_serve(&r, file("r.txt"));
    CHECK_INT(F.status, 200);                             /* validator changed: whole file */
    two[1] = (http_hdr){"if-range", 8, "Sun, 06 Nov 1994 08:49:37 GMT", 29};
    static_serve((r = make_req("GET", NULL, NULL), r.headers = two, r.nheaders = 2, &r), file("r.txt"));
    CHECK_INT(F.status, 200);
}

TEST(serve_not_found_dirs_and_empty)
{
    http_req r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, file("missing.txt")), 0);
    CHECK(!F.started);
    mkdir(file("d"), 0755);
    CHECK_INT(static_serve(&r, file("d")), 0);            /* no index.html */
    write_file("d/index.html", "<p>i</p>", 8);
    r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, file("d")), 1);
    CHECK_INT(F.status, 301);
    CHECK_STR(hdr_of("location"), "/x/");
    r = make_req("GET", NULL, NULL);
    r.target = "//evil.example/d?q=1";
    r.target_len = strlen(r.target);
    static_serve(&r, file("d"));
    CHECK_STR(hdr_of("location"), "/evil.example/d/?q=1");
    char p[300];
    snprintf(p, sizeof p, "%s/", file("d"));
    r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, p), 1);
    CHECK_INT(F.status, 200);
    CHECK_STR(hdr_of("content-type"), "text/html; charset=utf-8");
    write_file("empty", "", 0);
    r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, file("empty")), 1);
    CHECK_INT(F.status, 200);
    CHECK_INT(F.clen, 0);
    CHECK(F.fin);
    write_file(".env", "secret", 6);
    r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, file(".env")), 0);
    CHECK(!F.started);
    mkfifo(file("fifo"), 0644);
    CHECK_INT(static_serve(&r, file("fifo")), 0);        /* would block a worker: refused */
}

TEST(cache_revalidates_after_a_second)
{
    static_cache_clear();
    write_file("c.txt", "one", 3);
    http_req r = make_req("GET", NULL, NULL);
    static_serve(&r, file("c.txt"));
    CHECK_MEM(F.out, F.len, "one", 3);
    CHECK(tcache && tcache->count == 1);
    write_file("c.txt", "two!", 4);
    r = make_req("GET", NULL, NULL);
    static_serve(&r, file("c.txt"));
    CHECK_MEM(F.out, F.len, "one", 3);                    /* within the second: cached copy */
    tcache->head->checked -= 2;                           /* as if a second had passed */
    r = make_req("GET", NULL, NULL);
    static_serve(&r, file("c.txt"));
    CHECK_MEM(F.out, F.len, "two!", 4);
    unlink(file("c.txt"));
    tcache->head->checked -= 2;
    r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, file("c.txt")), 0);
}

TEST(cache_is_bounded_lru)
{
    static_cache_clear();
    static char blob[CACHE_FILE_MAX];
    memset(blob, 'x', sizeof blob);
    for (int i = 0; i < 300; i++) {                       /* 300 x 64 KiB > 16 MiB */
        char name[32];
        snprintf(name, sizeof name, "big%d", i);
        write_file(name, blob, sizeof blob);
        http_req r = make_req("GET", NULL, NULL);
        static_serve(&r, file(name));
        CHECK_INT(F.len, sizeof blob);
        unlink(file(name));
    }
    CHECK(tcache->bytes <= CACHE_BYTES_MAX);
    CHECK(tcache->count < 300 && tcache->count > 200);
    static_cache_clear();
}

/* A previous owner, like the Lua layer. */
static int prev_aborted;
static void *prev_seen;
static void prev_abort(http_req *r) { prev_aborted++; prev_seen = r->app_data; }

TEST(large_file_streams_under_back_pressure)
{
    size_t size = 3 * 1024 * 1024 + 17;
    char *big = malloc(size);
    for (size_t i = 0; i < size; i++)
        big[i] = (char)(i * 31 + (i >> 12));
    write_file("big.bin", big, size);
    int fds = count_fds();
    http_req r = make_req("GET", NULL, NULL);
    int marker;
    r.app_data = &marker;
    r.on_abort = prev_abort;
    CHECK_INT(static_serve(&r, file("big.bin")), 1);
    CHECK_INT(F.clen, (int64_t)size);
    CHECK(!F.fin);                                        /* waiting for the client */
    CHECK(F.len <= HIGH_WATER + CHUNK);
    CHECK(r.on_writable != NULL);
    CHECK(r.app_data != &marker);                         /* the stream owns it now */
    CHECK_INT(prev_aborted, 1);                           /* and told the previous owner so */
    CHECK(prev_seen == &marker);
    int rounds = 0;
    while (!F.fin && rounds++ < 1000) {
        F.pending = 0;                                    /* the connection drained */
        r.on_writable(&r);
    }
    CHECK(F.fin);
    CHECK_MEM(F.out, F.len, big, size);
    CHECK(r.app_data == NULL && r.on_abort == NULL && r.on_writable == NULL);
    CHECK_INT(count_fds(), fds + 1);                      /* kept open by the cache */
    CHECK_INT(prev_aborted, 1);
    static_cache_clear();
    CHECK_INT(count_fds(), fds);
    free(big);
}

/* A big file's descriptor stays open in the cache for the next requests,
 * shared with the streams sending from it: dropping the cache leaves an
 * ongoing stream its descriptor, closed when the stream ends. */
TEST(large_file_descriptor_kept_and_shared)
{
    int fds = count_fds();
    for (int round = 0; round < 3; round++) {
        http_req r = make_req("GET", NULL, NULL);
        CHECK_INT(static_serve(&r, file("big.bin")), 1);
        for (int i = 0; !F.fin && i < 1000; i++) {
            F.pending = 0;
            r.on_writable(&r);
        }
        CHECK(F.fin);
        CHECK_INT(F.len, 3 * 1024 * 1024 + 17);
        CHECK_INT(count_fds(), fds + 1);                  /* one, however many requests */
    }
    http_req c = make_req("GET", "if-none-match", hdr_of("etag"));
    CHECK_INT(static_serve(&c, file("big.bin")), 1);
    CHECK_INT(F.status, 304);
    CHECK_INT(count_fds(), fds + 1);
    http_req r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, file("big.bin")), 1);
    CHECK(!F.fin);
    static_cache_clear();                                 /* the cache lets go mid-stream */
    CHECK_INT(count_fds(), fds + 1);
    for (int i = 0; !F.fin && i < 1000; i++) {
        F.pending = 0;
        r.on_writable(&r);
    }
    CHECK(F.fin);
    CHECK_INT(F.len, 3 * 1024 * 1024 + 17);
    CHECK_INT(count_fds(), fds);
}

TEST(large_file_abort_after_handover_closes_the_file)
{
    int fds = count_fds();
    http_req r = make_req("GET", "range", "bytes=0-9,2000000-2999999");
    prev_aborted = 0;
    r.app_data = NULL;
    r.on_abort = NULL;                                    /* a caller that let go first */
    CHECK_INT(static_serve(&r, file("big.bin")), 1);
    CHECK(!F.fin);
    CHECK_INT(count_fds(), fds + 1);                      /* the stream's fd, the cache's too */
    F.pending = 0;
    r.on_writable(&r);                                    /* one more round, then the client leaves */
    r.on_abort(&r);
    CHECK_INT(prev_aborted, 0);
    CHECK_INT(count_fds(), fds + 1);
    static_cache_clear();
    CHECK_INT(count_fds(), fds);
    CHECK(!F.fin);
}

TEST(abort_during_the_first_writes_chains_to_the_owner)
{
    int fds = count_fds();
    int marker;
    http_req r = make_req("GET", NULL, NULL);
    prev_aborted = 0;
    prev_seen = NULL;
    r.app_data = &marker;
    r.on_abort = prev_abort;
    F.abort_at = 2;                                       /* before back-pressure kicks in */
    CHECK_INT(static_serve(&r, file("big.bin")), 1);
    CHECK_INT(prev_aborted, 1);
    CHECK(prev_seen == &marker);
    CHECK(!F.fin);
    CHECK_INT(count_fds(), fds + 1);                      /* the cache's */
    static_cache_clear();
    CHECK_INT(count_fds(), fds);
}

TEST(file_shrinking_mid_stream_is_cut_short)
{
    size_t size = 2 * 1024 * 1024;
    char *big = calloc(1, size);
    write_file("shrink.bin", big, size);
    free(big);
    static_cache_clear();
    int fds = count_fds();
    http_req r = make_req("GET", NULL, NULL);
    CHECK_INT(static_serve(&r, file("shrink.bin")), 1);
    CHECK(!F.fin);
    CHECK_INT(truncate(file("shrink.bin"), 100000), 0);
    for (int i = 0; !F.fin && i < 100; i++) {
        F.pending = 0;
        r.on_writable(&r);
    }
    CHECK(F.fin);                                         /* no conn here: ended short */
    CHECK(F.len < size);
    static_cache_clear();
    CHECK_INT(count_fds(), fds);
}

TEST(large_file_multipart_is_exact)
{
    http_req r = make_req("GET", "range", "bytes=-5,0-99999,1048576-1310720");
    CHECK_INT(static_serve(&r, file("big.bin")), 1);
    for (int i = 0; !F.fin && i < 100; i++) {
        F.pending = 0;
        r.on_writable(&r);
    }
    CHECK(F.fin);
    CHECK_INT(F.clen, (int64_t)F.len);
    const char *a = "Content-Range: bytes 3145740-3145744/3145745\r\n";
    const char *b = "Content-Range: bytes 1048576-1310720/3145745\r\n";
    CHECK(memmem(F.out, F.len, a, strlen(a)) && memmem(F.out, F.len, b, strlen(b)));
    CHECK(memmem(F.out, F.len, "bytes 0-99999/3145745", 21));
}

static void cleanup(const char *d)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0)
        printf("note: could not remove %s\n", d);
}

int main(void)
{
    RUN(range_single_open_suffix);
    RUN(range_multiple_kept_in_order_and_coalesced);
    RUN(range_unsatisfiable_is_416);
    RUN(range_garbage_and_absurd_headers_are_ignored);
    RUN(date_three_formats);
    RUN(date_rfc850_two_digit_year_is_not_far_future);
    RUN(date_invalid_rejected);
    RUN(etag_matching);
    RUN(safe_join_refuses_escapes);
    RUN(path_allowed_checks_root_and_dotfiles);
    RUN(mime_by_extension);
    RUN(mime_types_file_parsing);
    if (!mkdtemp(dir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    RUN(serve_small_file_and_validators);
    RUN(serve_preformatted_lines_match_the_general_headers);
    RUN(serve_ranges_head_and_if_range);
    RUN(serve_not_found_dirs_and_empty);
    RUN(cache_revalidates_after_a_second);
    RUN(cache_is_bounded_lru);
    RUN(large_file_streams_under_back_pressure);
    RUN(large_file_descriptor_kept_and_shared);
    RUN(large_file_abort_after_handover_closes_the_file);
    RUN(abort_during_the_first_writes_chains_to_the_owner);
    RUN(large_file_multipart_is_exact);
    RUN(file_shrinking_mid_stream_is_cut_short);
    cleanup(dir);
    static_cache_clear();
    free(F.out);
    return test_done();
}
