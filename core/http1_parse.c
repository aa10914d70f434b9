/*
 * http1_parse.c — the HTTP/1.1 request parser (RFC 9112, RFC 9110); the
 * contract is in http1_parse.h.
 *
 * The head parser is one forward pass over the bytes with no state kept
 * between calls: every decision is made from the bytes at or before the
 * current position, so a prefix of the input either asks for more (0) or
 * reaches exactly the verdict the whole input would reach. That is what
 * makes "fed one byte at a time gives the same answer as fed all at once"
 * true by construction rather than by testing alone. The scan never looks
 * past min(len, max_head); running out there means "need more" below the
 * limit and -431 at it.
 *
 * Character classes come from one 256-entry table (h1_cls); the inner loops
 * over header values and targets are unrolled table lookups. Header names
 * are lower-cased in place (idempotent, so re-parsing is safe). After the
 * empty line, h1__derive() walks the headers once to fill content_length,
 * chunked, keep_alive, expect_continue, host and the h2c upgrade fields,
 * rejecting the request-smuggling shapes (CL with TE, differing CLs, TE not
 * ending in chunked, TE on HTTP/1.0, missing or repeated Host).
 *
 * The chunked decoder is a resumable state machine (h1_chunked.state), cut
 * anywhere; payload goes to the caller's buf. max_body is checked against
 * buf_size(out), so `out` should hold only this request's body.
 */
#include "core/http1_parse.h"
#include <limits.h>
#include <string.h>

enum { C_TCHAR = 1, C_VALUE = 2, C_TARGET = 4, C_HOST = 8, C_HEX = 16 };

/* tchar, field-value byte (VCHAR/obs-text/SP/HTAB), request-target byte
 * (0x21-0x7e), host byte (unreserved/pct/sub-delims/":[]"), hex digit. */
static const unsigned char h1_cls[256] = {
     0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,  /* 00 */
     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 10 */
     2,15, 6, 7,15,15,15,15,14,14,15,15,14,15,15, 6,  /* 20 */
    31,31,31,31,31,31,31,31,31,31,14,14, 6,14, 6, 6,  /* 30 */
     6,31,31,31,31,31,31,15,15,15,15,15,15,15,15,15,  /* 40 */
    15,15,15,15,15,15,15,15,15,15,15,14, 6,14, 7,15,  /* 50 */
     7,31,31,31,31,31,31,15,15,15,15,15,15,15,15,15,  /* 60 */
    15,15,15,15,15,15,15,15,15,15,15, 6, 7, 6,15, 0,  /* 70 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 80 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 90 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* a0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* b0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* c0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* d0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* e0 */
     2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* f0 */
};

/* A tchar lower-cased, or 0 for any other byte: header names in one lookup. */
static const unsigned char h1_lname[256] = {
      0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 00 */
      0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 10 */
      0, 33,  0, 35, 36, 37, 38, 39,  0,  0, 42, 43,  0, 45, 46,  0,  /* 20 */
     48, 49, 50, 51, 52, 53, 54, 55, 56, 57,  0,  0,  0,  0,  0,  0,  /* 30 */
      0, 97, 98, 99,100,101,102,103,104,105,106,107,108,109,110,111,  /* 40 */
    112,113,114,115,116,117,118,119,120,121,122,  0,  0,  0, 94, 95,  /* 50 */
     96, 97, 98, 99,100,101,102,103,104,105,106,107,108,109,110,111,  /* 60 */
    112,113,114,115,116,117,118,119,120,121,122,  0,124,  0,126,  0,  /* 70 */
    /* 0x80-0xff: 0 */
};

#define H1_IS(c, k)        (h1_cls[(unsigned char)(c)] & (k))
#define H1_MAX_EMPTY_LINES 8        /* CRLFs tolerated before the request line */
#define H1_SIZE_LINE_MAX   4096     /* chunk-size line with extensions */
#define H1_TRAILERS_MAX    8192     /* all trailer fields together */
#define H1_SIZE_DIGITS     16

static const h1_limits h1_default_limits = {16384, 100, 8192};

/* The scan of one call: the bytes, how far we may look, where we are. */
typedef struct h1_scan {
    char         *d;
    size_t        pos, end, len, max_head;
    size_t        max_uri, max_headers;
    h1_head      *h;
    const char  **err;
} h1_scan;

static int h1__fail(const char **err, int status, const char *why)
{
    *err = why;
    return -status;
}

/* Out of bytes at s->end: below the head limit we wait, at it we refuse. */
static int h1__more(const h1_scan *s)
{
    if (s->len >= s->max_head)
        return h1__fail(s->err, 431, "request head too large");
    return 0;
}

/* Advance over bytes of class k; four at a time while there is room. */
static size_t h1__span(const char *d, size_t pos, size_t end, int k)
{
    while (end - pos >= 4) {
        if (!H1_IS(d[pos], k)) return pos;
        if (!H1_IS(d[pos + 1], k)) return pos + 1;
        if (!H1_IS(d[pos + 2], k)) return pos + 2;
        if (!H1_IS(d[pos + 3], k)) return pos + 3;
        pos += 4;
    }
    while (pos < end && H1_IS(d[pos], k))
        pos++;
    return pos;
}

/* Case-insensitive compare of [p, p+n) with a lower-case literal. */
static int h1__ieq(const char *p, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; i < n && lit[i]; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((unsigned)(c - 'A') < 26u)
            c += 32;
        if (c != (unsigned char)lit[i])
            return 0;
    }
    return i == n && !lit[i];
}

static int h1__ows(char c) { return c == ' ' || c == '\t'; }

/* Next element of a comma list, OWS trimmed; empty elements are returned
 * as length 0. Returns 0 when the list is exhausted. */
static int h1__next_elem(const char **p, const char *end, const char **el, size_t *n)
{
    const char *s = *p;
    if (!s)
        return 0;
    const char *c = memchr(s, ',', (size_t)(end - s));
    const char *e = c ? c : end;
    *p = c ? c + 1 : NULL;
    while (s < e && h1__ows(*s))
        s++;
    while (e > s && h1__ows(e[-1]))
        e--;
    *el = s;
    *n = (size_t)(e - s);
    return 1;
}

/* host = IP-literal / reg-name / IPv4, then optional ":" *DIGIT. */
static int h1__host_ok(const char *p, size_t n, int need_port)
{
    size_t i = 0;
    if (n && p[0] == '[') {
        for (i = 1; i < n && p[i] != ']'; i++)
            if (!(H1_IS(p[i], C_HEX) || p[i] == ':' || p[i] == '.'))
                return 0;
        if (i == n || i == 1)
            return 0;
        i++;
    } else {
        for (; i < n && p[i] != ':'; i++)
            if (!H1_IS(p[i], C_HOST) || p[i] == '[' || p[i] == ']')
                return 0;
        if (need_port && i == 0)
            return 0;
    }
    if (i == n)
        return !need_port;
    if (p[i] != ':' || (need_port && i + 1 == n))
        return 0;
    for (i++; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* absolute-form "http[s]://authority[/path][?query]": take the host from
 * the authority and reduce the target to its path and query. */
static int h1__absolute_form(h1_scan *s, char *t, size_t n)
{
    h1_head *h = s->h;
    size_t i = 0;
    if (n > 7 && h1__ieq(t, 7, "http://"))
        i = 7;
    else if (n > 8 && h1__ieq(t, 8, "https://"))
        i = 8;
    else
        return h1__fail(s->err, 400, "unsupported request-target form");
    size_t a = i;
    while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#')
        i++;
    if (i == a || memchr(t + a, '@', i - a) || !h1__host_ok(t + a, i - a, 0))
        return h1__fail(s->err, 400, "bad authority in absolute-form target");
    if (i < n && t[i] != '/')
        return h1__fail(s->err, 400, "absolute-form target without a path");
    h->host = t + a;
    h->host_len = i - a;
    if (i < n) {
        h->target = t + i;
        h->target_len = n - i;
    } else {                         /* "http://h": the path is "/", borrow one */
        h->target = t + a - 1;
        h->target_len = 1;
    }
    return 1;
}

/* Origin-form for all, asterisk-form for OPTIONS only, authority-form for
 * CONNECT only, absolute-form with an http(s) scheme. */
static int h1__target_form(h1_scan *s, char *t, size_t n)
{
    h1_head *h = s->h;
    int connect = h->method_len == 7 && !memcmp(h->method, "CONNECT", 7);
    h->target = t;
    h->target_len = n;
    if (connect) {
        if (!h1__host_ok(t, n, 1))
            return h1__fail(s->err, 400, "CONNECT needs an authority-form target");
        return 1;
    }
    if (t[0] == '/')
        return 1;
    if (t[0] == '*') {
        if (n == 1 && h->method_len == 7 && !memcmp(h->method, "OPTIONS", 7))
            return 1;
        return h1__fail(s->err, 400, "asterisk-form target is only for OPTIONS");
    }
    return h1__absolute_form(s, t, n);
}

static int h1__skip_empty_lines(h1_scan *s)
{
    for (int n = 0;; n++) {
        if (s->pos == s->end)
            return h1__more(s);
        char c = s->d[s->pos];
        if (c == '\n')
            return h1__fail(s->err, 400, "bare LF before request line");
        if (c != '\r')
            return 1;
        if (s->pos + 1 == s->end)
            return h1__more(s);
        if (s->d[s->pos + 1] != '\n')
            return h1__fail(s->err, 400, "bare CR in request line");
        if (n == H1_MAX_EMPTY_LINES)
            return h1__fail(s->err, 400, "too many empty lines before request line");
        s->pos += 2;
    }
}

/* A byte that ends the method or target where it should not. */
static int h1__rl_bad(h1_scan *s, char c, const char *what)
{
    if (c == '\n')
        return h1__fail(s->err, 400, "bare LF in request line");
    if (c == '\r')
        return h1__fail(s->err, 400, "request line without HTTP version");
    return h1__fail(s->err, 400, what);
}

/* "HTTP/" DIGIT "." DIGIT CRLF, byte by byte so a prefix can wait. */
static int h1__version(h1_scan *s)
{
    static const char want[] = "HTTP/1.1\r\n";
    const char *v = s->d + s->pos;
    if (s->end - s->pos >= 10 && memcmp(v, want, 10) == 0) {   /* the usual case */
        s->h->minor = 1;
        s->pos += 10;
        return 1;
    }
    for (size_t i = 0; i < 10; i++) {
        if (s->pos + i == s->end)
            return h1__more(s);
        char c = v[i];
        int ok = (i == 5 || i == 7) ? (c >= '0' && c <= '9') : c == want[i];
        if (ok)
            continue;
        if (c == '\n')
            return h1__fail(s->err, 400, "bare LF in request line");
        if (i == 9)
            return h1__fail(s->err, 400, "bare CR in request line");
        return h1__fail(s->err, 400, "bad HTTP version");
    }
    if (v[5] != '1')
        return h1__fail(s->err, 505, "HTTP version not supported");
    s->h->minor = v[7] == '0' ? 0 : 1;   /* 1.2+ is treated as 1.1 (RFC 9110 6.2) */
    s->pos += 10;
    return 1;
}

/* method SP request-target SP HTTP-version CRLF */
static int h1__request_line(h1_scan *s)
{
    int r = h1__skip_empty_lines(s);
    if (r <= 0)
        return r;
    size_t m = s->pos;
    s->pos = h1__span(s->d, m, s->end, C_TCHAR);
    if (s->pos == s->end)
        return h1__more(s);
    if (s->d[s->pos] != ' ' || s->pos == m)
        return h1__rl_bad(s, s->d[s->pos], s->pos == m ? "missing method" : "bad method token");
    s->h->method = s->d + m;
    s->h->method_len = s->pos - m;

    size_t t = ++s->pos;
    size_t stop = s->end - t > s->max_uri ? t + s->max_uri + 1 : s->end;
    s->pos = h1__span(s->d, t, stop, C_TARGET);
    if (s->pos - t > s->max_uri)
        return h1__fail(s->err, 414, "request-target too long");
    if (s->pos == s->end)
        return h1__more(s);
    if (s->d[s->pos] != ' ' || s->pos == t)
        return h1__rl_bad(s, s->d[s->pos], s->pos == t ? "missing request-target" : "bad byte in request-target");
    if ((r = h1__target_form(s, s->d + t, s->pos - t)) < 0)
        return r;
    s->pos++;
    return h1__version(s);
}

/* The line ending after a value: CRLF, or a precise complaint. */
static int h1__eol(h1_scan *s)
{
    char c = s->d[s->pos];
    if (c == '\n')
        return h1__fail(s->err, 400, "bare LF in header line");
    if (c != '\r')
        return h1__fail(s->err, 400, "invalid byte in header value");
    if (s->pos + 1 == s->end)
        return h1__more(s);
    if (s->d[s->pos + 1] != '\n')
        return h1__fail(s->err, 400, "bare CR in header line");
    return 1;
}

/* One "name: value CRLF" line starting at s->pos (not the empty line). */
static int h1__header_line(h1_scan *s)
{
    char *d = s->d;
    size_t n = s->pos, end = s->end;
    if (h1__ows(d[n]))
        return h1__fail(s->err, 400, s->h->nheaders ? "obs-fold (line starts with whitespace)"
                                                    : "whitespace before first header");
    if (s->h->nheaders == s->max_headers)
        return h1__fail(s->err, 431, "too many headers");
    size_t p = n;
    for (unsigned char l; p < end && (l = h1_lname[(unsigned char)d[p]]) != 0; p++)
        d[p] = (char)l;
    if (p == end)
        return h1__more(s);
    if (d[p] != ':') {
        s->pos = p;
        if (h1__ows(d[p]))
            return h1__fail(s->err, 400, "whitespace before colon in header");
        if (p == n)
            return h1__fail(s->err, 400, "invalid header name");
        if (d[p] == '\r' || d[p] == '\n')
            return h1__fail(s->err, 400, "header line without colon");
        return h1__fail(s->err, 400, "invalid byte in header name");
    }
    if (p == n)
        return h1__fail(s->err, 400, "empty header name");
    size_t v = p + 1;
    while (v < end && h1__ows(d[v]))
        v++;
    s->pos = h1__span(d, v, end, C_VALUE);
    if (s->pos == end)
        return h1__more(s);
    int r = h1__eol(s);
    if (r <= 0)
        return r;
    size_t ve = s->pos;
    while (ve > v && h1__ows(d[ve - 1]))
        ve--;
    http_hdr *hd = &s->h->headers[s->h->nheaders++];
    hd->name = d + n;
    hd->name_len = p - n;
    hd->value = d + v;
    hd->value_len = ve - v;
    s->pos += 2;
    return 1;
}

static int h1__headers(h1_scan *s)
{
    for (;;) {
        if (s->pos == s->end)
            return h1__more(s);
        char c = s->d[s->pos];
        if (c == '\r') {
            if (s->pos + 1 == s->end)
                return h1__more(s);
            if (s->d[s->pos + 1] != '\n')
                return h1__fail(s->err, 400, "bare CR in header section");
            s->pos += 2;
            return 1;
        }
        if (c == '\n')
            return h1__fail(s->err, 400, "bare LF in header section");
        int r = h1__header_line(s);
        if (r <= 0)
            return r;
    }
}

/* What the derive pass remembers across headers. */
typedef struct h1_seen {
    int hosts, te, te_codings, te_chunked, te_last_chunked, cl;
    int conn_close, conn_keep_alive, conn_upgrade, up_h2c, h2s;
} h1_seen;

/* Content-Length: 1*DIGIT, or a list of identical ones ("5, 5"). */
static int h1__content_length(h1_scan *s, const http_hdr *hd, h1_seen *w)
{
    const char *p = hd->value, *end = p + hd->value_len, *el;
    size_t n;
    while (h1__next_elem(&p, end, &el, &n)) {
        if (!n)
            return h1__fail(s->err, 400, "bad Content-Length");
        int64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            if (el[i] < '0' || el[i] > '9')
                return h1__fail(s->err, 400, "bad Content-Length");
            if (v > (INT64_MAX - (el[i] - '0')) / 10)
                return h1__fail(s->err, 400, "Content-Length too large");
            v = v * 10 + (el[i] - '0');
        }
        if (w->cl && v != s->h->content_length)
            return h1__fail(s->err, 400, "differing Content-Length values");
        w->cl = 1;
        s->h->content_length = v;
    }
    return 1;
}

static int h1__token_ok(const char *p, size_t n)
{
    return n && h1__span(p, 0, n, C_TCHAR) == n;
}

/* Transfer-Encoding: remember how many codings and whether chunked ends it. */
static int h1__transfer_encoding(h1_scan *s, const http_hdr *hd, h1_seen *w)
{
    const char *p = hd->value, *end = p + hd->value_len, *el;
    size_t n;
    w->te = 1;
    while (h1__next_elem(&p, end, &el, &n)) {
        if (!n)
            continue;
        if (!h1__token_ok(el, n))
            return h1__fail(s->err, 400, "bad Transfer-Encoding");
        w->te_codings++;
        w->te_last_chunked = h1__ieq(el, n, "chunked");
        w->te_chunked += w->te_last_chunked;
    }
    return 1;
}

static void h1__connection(const http_hdr *hd, h1_seen *w)
{
    const char *p = hd->value, *end = p + hd->value_len, *el;
    size_t n;
    while (h1__next_elem(&p, end, &el, &n)) {
        w->conn_close |= h1__ieq(el, n, "close");
        w->conn_keep_alive |= h1__ieq(el, n, "keep-alive");
        w->conn_upgrade |= h1__ieq(el, n, "upgrade");
    }
}

static void h1__upgrade(const http_hdr *hd, h1_seen *w)
{
    const char *p = hd->value, *end = p + hd->value_len, *el;
    size_t n;
    while (h1__next_elem(&p, end, &el, &n))
        w->up_h2c |= h1__ieq(el, n, "h2c");
}

#define H1_NAME(hd, lit) ((hd)->name_len == sizeof(lit) - 1 && !memcmp((hd)->name, lit, sizeof(lit) - 1))

/* One header's contribution to the derived fields. */
static int h1__derive_one(h1_scan *s, const http_hdr *hd, h1_seen *w)
{
    h1_head *h = s->h;
    switch (hd->name_len) {
    case 4:
        if (!H1_NAME(hd, "host"))
            break;
        if (++w->hosts > 1)
            return h1__fail(s->err, 400, "more than one Host header");
        if (!h1__host_ok(hd->value, hd->value_len, 0))
            return h1__fail(s->err, 400, "invalid Host header");
        if (!h->host) {
            h->host = hd->value;
            h->host_len = hd->value_len;
        }
        break;
    case 6:
        if (!H1_NAME(hd, "expect"))
            break;
        if (!h1__ieq(hd->value, hd->value_len, "100-continue"))
            return h1__fail(s->err, 417, "unsupported expectation");
        h->expect_continue = h->minor == 1;   /* ignored on HTTP/1.0 (RFC 9110 10.1.1) */
        break;
    case 7:
        if (H1_NAME(hd, "upgrade"))
            h1__upgrade(hd, w);
        break;
    case 10:
        if (H1_NAME(hd, "connection"))
            h1__connection(hd, w);
        break;
    case 14:
        if (H1_NAME(hd, "content-length"))
            return h1__content_length(s, hd, w);
        if (H1_NAME(hd, "http2-settings") && ++w->h2s == 1) {
            h->h2_settings = hd->value;
            h->h2_settings_len = hd->value_len;
        }
        break;
    case 17:
        if (H1_NAME(hd, "transfer-encoding"))
            return h1__transfer_encoding(s, hd, w);
        break;
    }
    return 1;
}

/* The derived fields and the rules that span several headers. */
static int h1__derive(h1_scan *s)
{
    h1_head *h = s->h;
    h1_seen w = {0};
    for (size_t i = 0; i < h->nheaders; i++) {
        int r = h1__derive_one(s, &h->headers[i], &w);
        if (r < 0)
            return r;
    }
    if (h->minor == 1 && !w.hosts)
        return h1__fail(s->err, 400, "missing Host header");
    if (w.te) {
        if (w.cl)
            return h1__fail(s->err, 400, "both Content-Length and Transfer-Encoding");
        if (h->minor == 0)
            return h1__fail(s->err, 400, "Transfer-Encoding on HTTP/1.0");
        if (!w.te_last_chunked)
            return h1__fail(s->err, 400, "Transfer-Encoding does not end in chunked");
        if (w.te_chunked > 1)
            return h1__fail(s->err, 400, "chunked applied more than once");
        if (w.te_codings > 1)
            return h1__fail(s->err, 501, "unsupported transfer coding");
        h->chunked = 1;
    }
    h->keep_alive = h->minor == 1 ? !w.conn_close : (w.conn_keep_alive && !w.conn_close);
    if (h->minor == 1 && w.up_h2c && w.conn_upgrade && w.h2s == 1)
        h->upgrade_h2c = 1;
    else
        h->h2_settings = NULL, h->h2_settings_len = 0;
    return 1;
}

static void h1__reset(h1_head *h)
{
    h->method = h->target = h->host = h->h2_settings = NULL;
    h->method_len = h->target_len = h->host_len = h->h2_settings_len = 0;
    h->minor = 1;
    h->nheaders = 0;
    h->content_length = -1;
    h->chunked = h->keep_alive = h->expect_continue = h->upgrade_h2c = 0;
}

int h1_parse_head(char *data, size_t len, const h1_limits *lim, h1_head *out, const char **err)
{
    if (!lim)
        lim = &h1_default_limits;
    size_t max_head = lim->max_head < INT_MAX ? lim->max_head : INT_MAX;
    h1_scan s = {
        .d = data, .pos = 0, .len = len, .max_head = max_head,
        .end = len < max_head ? len : max_head,
        .max_uri = lim->max_uri,
        .max_headers = lim->max_headers < H1_MAX_HEADERS ? lim->max_headers : H1_MAX_HEADERS,
        .h = out, .err = err,
    };
    *err = NULL;
    h1__reset(out);
    int r = h1__request_line(&s);
    if (r <= 0)
        return r;
    if ((r = h1__headers(&s)) <= 0)
        return r;
    if ((r = h1__derive(&s)) < 0)
        return r;
    return (int)s.pos;
}

/* ---- chunked request bodies ------------------------------------------ */

enum {
    CH_SIZE0 = 0,   /* first hex digit of a chunk size */
    CH_SIZE,        /* more hex digits, then ";", BWS or CR */
    CH_WS,          /* BWS between size and ";" */
    CH_EXT,         /* chunk extensions, skipped up to CR */
    CH_SIZE_LF,     /* LF ending the size line */
    CH_DATA,        /* `remaining` payload bytes */
    CH_DATA_CR,     /* CRLF after the data */
    CH_DATA_LF,
    CH_TR_START,    /* start of a trailer line, or CR of the empty line */
    CH_TR_NAME,
    CH_TR_VALUE,
    CH_TR_LF,
    CH_END_LF,      /* LF of the final empty line */
    CH_DONE,
};

static int h1__hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* The size line has been read: go to the data or to the trailers. */
static int h1__chunk_start(h1_chunked *c, const buf *out, size_t max_body, const char **err)
{
    if (c->remaining == 0) {
        c->state = CH_TR_START;
        c->trailer_bytes = 0;
        return 0;
    }
    size_t have = buf_size(out);
    if (have > max_body || c->remaining > max_body - have)
        return h1__fail(err, 413, "request body too large");
    c->state = CH_DATA;
    return 0;
}

/* One byte of a chunk-size line: 1*16HEXDIG [BWS ";" ext...] CRLF. */
static int h1__size_byte(h1_chunked *c, char ch, const buf *out, size_t max_body, const char **err)
{
    int hv = h1__hexval(ch);
    if (++c->line_len > H1_SIZE_LINE_MAX)
        return h1__fail(err, 400, "chunk size line too long");
    if (ch == '\n' && c->state != CH_SIZE_LF)
        return h1__fail(err, 400, "bare LF in chunk size line");
    switch (c->state) {
    case CH_SIZE0:
        if (hv < 0)
            return h1__fail(err, 400, "bad chunk size");
        c->remaining = (uint64_t)hv;
        c->state = CH_SIZE;
        return 0;
    case CH_SIZE:
        if (hv >= 0) {
            if (c->line_len > H1_SIZE_DIGITS)
                return h1__fail(err, 400, "chunk size too long");
            c->remaining = c->remaining << 4 | (uint64_t)hv;
            return 0;
        }
        /* the digits are over */
        /* fall through */
    case CH_WS:
        if (ch == ';')
            c->state = CH_EXT;
        else if (ch == ' ' || ch == '\t')
            c->state = CH_WS;
        else if (ch == '\r' && c->state == CH_SIZE)
            c->state = CH_SIZE_LF;
        else
            return h1__fail(err, 400, "bad chunk size");
        return 0;
    case CH_EXT:
        if (ch == '\r')
            c->state = CH_SIZE_LF;
        else if (!H1_IS(ch, C_VALUE))
            return h1__fail(err, 400, "bad byte in chunk extension");
        return 0;
    default: /* CH_SIZE_LF */
        if (ch != '\n')
            return h1__fail(err, 400, "bare CR in chunk size line");
        return h1__chunk_start(c, out, max_body, err);
    }
}

/* One byte of the trailer section: fields until the empty line; dropped. */
static int h1__trailer_byte(h1_chunked *c, char ch, const char **err)
{
    if (++c->trailer_bytes > H1_TRAILERS_MAX)
        return h1__fail(err, 400, "trailers too large");
    if (ch == '\n' && c->state != CH_TR_LF && c->state != CH_END_LF)
        return h1__fail(err, 400, "bare LF in trailer section");
    switch (c->state) {
    case CH_TR_START:
        if (ch == '\r')
            c->state = CH_END_LF;
        else if (H1_IS(ch, C_TCHAR))
            c->state = CH_TR_NAME;
        else
            return h1__fail(err, 400, "bad trailer field");
        return 0;
    case CH_TR_NAME:
        if (ch == ':')
            c->state = CH_TR_VALUE;
        else if (!H1_IS(ch, C_TCHAR))
            return h1__fail(err, 400, "bad trailer field name");
        return 0;
    case CH_TR_VALUE:
        if (ch == '\r')
            c->state = CH_TR_LF;
        else if (!H1_IS(ch, C_VALUE))
            return h1__fail(err, 400, "bad byte in trailer field");
        return 0;
    case CH_TR_LF:
        if (ch != '\n')
            return h1__fail(err, 400, "bare CR in trailer section");
        c->state = CH_TR_START;
        return 0;
    default: /* CH_END_LF */
        if (ch != '\n')
            return h1__fail(err, 400, "bare CR after last chunk");
        c->state = CH_DONE;
        return 0;
    }
}

/* CRLF after chunk data, then the next size line. */
static int h1__data_end_byte(h1_chunked *c, char ch, const char **err)
{
    if (c->state == CH_DATA_CR && ch == '\r') {
        c->state = CH_DATA_LF;
        return 0;
    }
    if (c->state == CH_DATA_LF && ch == '\n') {
        c->state = CH_SIZE0;
        c->line_len = 0;
        return 0;
    }
    return h1__fail(err, 400, "chunk data not followed by CRLF");
}

long h1_chunked_decode(h1_chunked *c, const char *in, size_t len, buf *out,
                       size_t max_body, int *done, const char **err)
{
    size_t i = 0;
    *err = NULL;
    while (i < len && c->state != CH_DONE) {
        int r;
        if (c->state == CH_DATA) {
            size_t n = len - i;
            if (n > c->remaining)
                n = (size_t)c->remaining;
            buf_append(out, in + i, n);
            c->remaining -= n;
            i += n;
            if (!c->remaining)
                c->state = CH_DATA_CR;
            continue;
        }
        if (c->state <= CH_SIZE_LF)
            r = h1__size_byte(c, in[i], out, max_body, err);
        else if (c->state <= CH_DATA_LF)
            r = h1__data_end_byte(c, in[i], err);
        else
            r = h1__trailer_byte(c, in[i], err);
        if (r < 0)
            return r;
        i++;
    }
    *done = c->state == CH_DONE;
    return (long)i;
}
