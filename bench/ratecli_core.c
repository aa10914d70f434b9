/* bench/ratecli_core.c — bench/ratecli's pure parts: the resumable HTTP/1.1
 * response reader (head, then a Content-Length, chunked or close-delimited
 * body), the latency record with nearest-rank percentiles, the per-connection
 * send schedule, the URL and the output line. No sockets, no OpenSSL: the
 * contract, every error included, is in ratecli_core.h.
 */
#include "bench/ratecli_core.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the response head ------------------------------------------------- */

void rcc_resp_reset(struct rcc_resp *r)
{
    r->state = RCC_HEAD;
    r->status = 0;
    r->close_after = 0;
    r->left = 0;
    r->line = 0;
    r->hlen = 0;
}

/* Does the comma-separated list v (len bytes) hold the token tok? */
static int rcc_has_token(const char *v, size_t len, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i < len;) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < len && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && !strncasecmp(v + s, tok, tl))
            return 1;
    }
    return 0;
}

/* Is the last coding of a Transfer-Encoding value chunked? */
static int rcc_last_is_chunked(const char *v, size_t len)
{
    size_t s = len;
    while (s > 0 && v[s - 1] != ',')
        s--;
    while (s < len && (v[s] == ' ' || v[s] == '\t'))
        s++;
    return len - s == 7 && !strncasecmp(v + s, "chunked", 7);
}

/* Content-Length: 1 to 19 digits, nothing else. */
static int rcc_parse_length(const char *v, size_t len, uint64_t *out)
{
    uint64_t n = 0;
    if (len == 0 || len > 19)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    *out = n;
    return 0;
}

struct rcc_head {
    int have_len, te, chunked;
    uint64_t len;
};

/* One header field line (without its CRLF) into h and r; 0 or -1. */
static int rcc_header(struct rcc_resp *r, struct rcc_head *h, const char *l, size_t n,
                      const char **why)
{
    if (l[0] == ' ' || l[0] == '\t')
        return *why = "folded header line", -1;
    const char *colon = memchr(l, ':', n);
    if (!colon || colon == l)
        return *why = "header line without a colon", -1;
    size_t nl = (size_t)(colon - l), vs = nl + 1, ve = n;
    while (vs < ve && (l[vs] == ' ' || l[vs] == '\t'))
        vs++;
    while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
        ve--;
    const char *v = l + vs;
    size_t vl = ve - vs;
    if (nl == 14 && !strncasecmp(l, "content-length", 14)) {
        uint64_t x;
        if (rcc_parse_length(v, vl, &x) < 0)
            return *why = "bad Content-Length", -1;
        if (h->have_len && x != h->len)
            return *why = "conflicting Content-Length", -1;
        h->have_len = 1;
        h->len = x;
    } else if (nl == 17 && !strncasecmp(l, "transfer-encoding", 17)) {
        h->te = 1;
        h->chunked = rcc_last_is_chunked(v, vl);
    } else if (nl == 10 && !strncasecmp(l, "connection", 10)) {
        if (rcc_has_token(v, vl, "close"))
            r->close_after = 1;
        else if (rcc_has_token(v, vl, "keep-alive"))
            r->close_after = 0;
    }
    return 0;
}

/* The whole head (len bytes, ending in CRLFCRLF): the status, the headers,
 * and from them the body's framing (the next state); 0 or -1. */
static int rcc_parse_head(struct rcc_resp *r, size_t len, const char **why)
{
    const char *h = r->head, *end = r->head + len - 2;  /* the final empty line */
    if (len < 16 || memcmp(h, "HTTP/1.", 7) || h[7] < '0' || h[7] > '9' || h[8] != ' ' ||
        h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' ||
        h[11] > '9' || (h[12] != ' ' && h[12] != '\r'))
        return *why = "bad status line", -1;
    r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    if (r->status == 101)
        return *why = "unexpected 101 Switching Protocols", -1;
    r->close_after = h[7] == '0';      /* HTTP/1.0 closes unless it says keep-alive */
    struct rcc_head hd = { 0 };
    const char *l = strstr(h, "\r\n") + 2;  /* head is NUL-terminated by the caller */
    while (l < end) {
        const char *e = memmem(l, (size_t)(end - l) + 2, "\r\n", 2);
        if (rcc_header(r, &hd, l, (size_t)(e - l), why) < 0)
            return -1;
        l = e + 2;
    }
    if (r->status < 200 || r->status == 204 || r->status == 304)
        r->state = RCC_DONE;
    else if (hd.te && hd.chunked)
        r->state = RCC_CHUNK_SIZE;
    else if (!hd.te && hd.have_len)
        r->state = RCC_BODY_LEN, r->left = hd.len;
    else
        r->state = RCC_BODY_CLOSE, r->close_after = 1;
    if (r->state == RCC_BODY_LEN && r->left == 0)
        r->state = RCC_DONE;
    if (r->status < 200)               /* an interim answer: the real one follows */
        rcc_resp_reset(r);
    return 0;
}

/* Gather head bytes; consumed count (the head's end when it is complete). */
static long rcc_feed_head(struct rcc_resp *r, const char *p, size_t n, const char **why)
{
    size_t old = r->hlen, room = RCC_HEAD_MAX - 1 - old, take = n < room ? n : room;
    memcpy(r->head + old, p, take);
    r->hlen += take;
    size_t from = old > 3 ? old - 3 : 0;
    char *e = memmem(r->head + from, r->hlen - from, "\r\n\r\n", 4);
    if (!e) {
        if (r->hlen == RCC_HEAD_MAX - 1)
            return *why = "response head too long", -1;
        return (long)take;
    }
    size_t hend = (size_t)(e - r->head) + 4;
    r->head[hend] = 0;
    if (memchr(r->head, 0, hend))
        return *why = "NUL byte in the response head", -1;
    if (rcc_parse_head(r, hend, why) < 0)
        return -1;
    return (long)(hend - old);
}

/* ---- the body ------------------------------------------------------------ */

static int rcc_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The chunk-size line: hex digits, an optional extension, CRLF; 0 or -1. */
static int rcc_chunk_size_byte(struct rcc_resp *r, char c, const char **why)
{
    int d = rcc_hex(c);
    if (r->state == RCC_CHUNK_SIZE && d >= 0) {
        if (r->left >> 60)
            return *why = "chunk size too large", -1;
        if (++r->line > RCC_LINE_MAX)
            return *why = "bad chunk size", -1;
        r->left = r->left * 16 + (uint64_t)d;
        return 0;
    }
    if (r->state == RCC_CHUNK_SIZE) {
        if (r->line && c == '\n')
            return *why = "chunk size line not ended by CRLF", -1;
        if (r->line == 0 || (c != '\r' && c != ';' && c != ' ' && c != '\t'))
            return *why = "bad chunk size", -1;
        r->state = c == '\r' ? RCC_CHUNK_SIZE_LF : RCC_CHUNK_EXT;
        return 0;
    }
    if (r->state == RCC_CHUNK_EXT) {
        if (c == '\r')
            r->state = RCC_CHUNK_SIZE_LF;
        else if (c == '\n')
            return *why = "chunk size line not ended by CRLF", -1;
        else if (++r->line > RCC_LINE_MAX)
            return *why = "chunk extension too long", -1;
        return 0;
    }
    if (c != '\n')                     /* RCC_CHUNK_SIZE_LF */
        return *why = "chunk size line not ended by CRLF", -1;
    r->line = 0;
    r->state = r->left ? RCC_CHUNK_DATA : RCC_TRAILER;
    return 0;
}

/* One byte of chunked framing outside the size line and the data; 0 or -1. */
static int rcc_chunk_byte(struct rcc_resp *r, char c, const char **why)
{
    switch (r->state) {
    case RCC_CHUNK_SIZE:
    case RCC_CHUNK_EXT:
    case RCC_CHUNK_SIZE_LF:
        return rcc_chunk_size_byte(r, c, why);
    case RCC_CHUNK_DATA_CR:
    case RCC_CHUNK_DATA_LF:
        if (c != (r->state == RCC_CHUNK_DATA_CR ? '\r' : '\n'))
            return *why = "chunk data not followed by CRLF", -1;
        r->state = r->state == RCC_CHUNK_DATA_CR ? RCC_CHUNK_DATA_LF : RCC_CHUNK_SIZE;
        r->left = 0;
        r->line = 0;
        return 0;
    case RCC_TRAILER:
        r->state = c == '\r' ? RCC_TRAILER_END_LF : RCC_TRAILER_LINE;
        r->line = 1;
        return 0;
    case RCC_TRAILER_LINE:
        if (c == '\r')
            r->state = RCC_TRAILER_LINE_LF;
        else if (++r->line > RCC_LINE_MAX)
            return *why = "trailer line too long", -1;
        return 0;
    case RCC_TRAILER_LINE_LF:
    case RCC_TRAILER_END_LF:
        if (c != '\n')
            return *why = "trailer line not ended by CRLF", -1;
        r->state = r->state == RCC_TRAILER_LINE_LF ? RCC_TRAILER : RCC_DONE;
        return 0;
    default:
        return *why = "response reader in a body state it cannot be in", -1;
    }
}

long rcc_resp_feed(struct rcc_resp *r, const char *p, size_t n, const char **why)
{
    size_t i = 0;
    while (i < n && r->state != RCC_DONE) {
        if (r->state == RCC_HEAD) {
            long used = rcc_feed_head(r, p + i, n - i, why);
            if (used < 0)
                return -1;
            i += (size_t)used;
        } else if (r->state == RCC_BODY_CLOSE) {
            i = n;
        } else if (r->state == RCC_BODY_LEN || r->state == RCC_CHUNK_DATA) {
            size_t take = n - i < r->left ? n - i : (size_t)r->left;
            r->left -= take;
            i += take;
            if (r->left == 0)
                r->state = r->state == RCC_BODY_LEN ? RCC_DONE : RCC_CHUNK_DATA_CR;
        } else if (rcc_chunk_byte(r, p[i++], why) < 0) {
            return -1;
        }
    }
    return (long)i;
}

int rcc_resp_eof(struct rcc_resp *r, const char **why)
{
    if (r->state == RCC_BODY_CLOSE) {
        r->state = RCC_DONE;
        return 1;
    }
    if (r->state == RCC_DONE || (r->state == RCC_HEAD && r->hlen == 0))
        return 0;
    *why = r->state == RCC_HEAD ? "connection closed in the response head"
                                : "connection closed in the response body";
    return -1;
}

/* ---- latencies ------------------------------------------------------------ */

int rcc_lat_init(struct rcc_lat *l, size_t cap)
{
    l->n = 0;
    l->cap = cap;
    l->v = malloc((cap ? cap : 1) * sizeof *l->v);
    return l->v ? 0 : -1;
}

void rcc_lat_free(struct rcc_lat *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

int rcc_lat_add(struct rcc_lat *l, uint64_t ns)
{
    if (l->n == l->cap)
        return -1;
    l->v[l->n++] = ns;
    return 0;
}

static int rcc_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void rcc_lat_sort(struct rcc_lat *l)
{
    qsort(l->v, l->n, sizeof *l->v, rcc_cmp);
}

uint64_t rcc_lat_pct(const struct rcc_lat *l, unsigned num, unsigned den)
{
    if (!l->n || !den)
        return 0;
    uint64_t rank = ((uint64_t)l->n * num + den - 1) / den;
    if (rank < 1)
        rank = 1;
    if (rank > l->n)
        rank = l->n;
    return l->v[rank - 1];
}

/* ---- the schedule ------------------------------------------------------------ */

int64_t rcc_due(const struct rcc_sched *s, int idx, int64_t k)
{
    return s->start + (int64_t)(((double)idx + (double)k * s->nconn) * 1e9 / s->rate);
}

uint64_t rcc_due_between(const struct rcc_sched *s, int idx, int64_t k, int64_t lo, int64_t hi)
{
    uint64_t n = 0;
    for (int64_t d; (d = rcc_due(s, idx, k)) < hi; k++)
        n += d >= lo;
    return n;
}

/* ---- the URL and the output line ---------------------------------------------- */

int rcc_url_parse(const char *url, struct rcc_url *u, const char **why)
{
    const char *p = url;
    if (!strncmp(p, "http://", 7))
        p += 7, u->tls = 0, u->port = 80;
    else if (!strncmp(p, "https://", 8))
        p += 8, u->tls = 1, u->port = 443;
    else
        return *why = "URL must start with http:// or https://", -1;
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof u->host)
        return *why = "bad host in URL", -1;
    memcpy(u->host, p, hl);
    u->host[hl] = 0;
    p += hl;
    if (*p == ':') {
        char *e;
        long port = strtol(p + 1, &e, 10);
        if (e == p + 1 || p[1] == '-' || p[1] == '+' || port < 1 || port > 65535 ||
            (*e && *e != '/'))
            return *why = "bad port in URL", -1;
        u->port = (int)port;
        p = e;
    }
    const char *path = *p ? p : "/";
    if (strlen(path) >= sizeof u->path || strpbrk(path, " \r\n\t"))
        return *why = "bad path in URL", -1;
    strcpy(u->path, path);
    return 0;
}

int rcc_request(char *out, size_t cap, const struct rcc_url *u)
{
    int n = snprintf(out, cap, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: ratecli\r\n\r\n",
                     u->path, u->host, u->port);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static double rcc_ms(const struct rcc_lat *l, unsigned num, unsigned den)
{
    return (double)rcc_lat_pct(l, num, den) / 1e6;
}

int rcc_format(char *out, size_t cap, const struct rcc_stats *st, const struct rcc_lat *l)
{
    double achieved = (double)l->n / st->dur;
    int behind = achieved < 0.95 * st->rate;
    snprintf(out, cap, "rate %.0f sent %llu done %zu errors %llu non2xx %llu unsent %llu "
             "p50 %.3f p90 %.3f p99 %.3f p999 %.3f max %.3f (ms) achieved %.0f/s%s",
             st->rate, (unsigned long long)st->sent, l->n, (unsigned long long)st->errors,
             (unsigned long long)st->non2xx, (unsigned long long)st->unsent,
             rcc_ms(l, 1, 2), rcc_ms(l, 9, 10), rcc_ms(l, 99, 100), rcc_ms(l, 999, 1000),
             rcc_ms(l, 1, 1), achieved, behind ? " CANNOT KEEP UP (below 95% of the rate)" : "");
    return behind;
}
