/*
 * h2_stream.c — one HTTP/2 stream as the application sees it: the request
 * fields checked as they leave the HPACK decoder (RFC 9113 §8.2–§8.3), the
 * http_req handed to the app, and the http_driver that carries the answer
 * back (HEADERS at once, the body through h2_pump's flow control).
 *
 * A malformed request (§8.1.1) is only marked while its block is decoded —
 * the decoder must see the whole block to keep the dynamic table in sync —
 * and answered with RST_STREAM(PROTOCOL_ERROR) afterwards.
 */
#include "core/accesslog.h"
#include "core/h2_stream.h"
#include "core/server.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Streams are recycled through a per-thread pool with their buffers, so a
 * request costs no allocation in the steady state. The pool is bounded, and
 * a stream whose buffers grew large gives them back first. A thread-exit
 * destructor frees it (worker threads end on shutdown). */
#define H2_POOL_MAX     256
#define H2_POOL_KEEP    16384   /* largest buffer kept in a pooled stream */
static _Thread_local h2_stream *pool;
static _Thread_local unsigned npool;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void stream_release(h2_stream *s)
{
    buf_free(&s->strings);
    buf_free(&s->body);
    buf_free(&s->out);
    free(s->fields);
    free(s->hdrs);
    free(s);
}

static void pool_drain(void *unused)
{
    while (pool) {
        h2_stream *s = pool;
        pool = s->next;
        stream_release(s);
    }
    npool = 0;
}

static void pool_key_create(void) { pthread_key_create(&pool_key, pool_drain); }

static void buf_trim(buf *b)
{
    if (b->cap > H2_POOL_KEEP)
        buf_free(b);
    buf_reset(b);
}

h2_stream *h2_stream_new(h2_conn *h, uint32_t id)
{
    h2_stream *s = pool;
    if (s) {
        pool = s->next;
        npool--;
        buf strings = s->strings, body = s->body, out = s->out;
        h2_field *fields = s->fields;
        http_hdr *hdrs = s->hdrs;
        size_t capfields = s->capfields, caphdrs = s->caphdrs;
        memset(s, 0, sizeof *s);
        s->strings = strings;
        s->body = body;
        s->out = out;
        s->fields = fields;
        s->capfields = capfields;
        s->hdrs = hdrs;
        s->caphdrs = caphdrs;
    } else if (!(s = calloc(1, sizeof *s))) {
        return NULL;
    }
    s->id = id;
    s->h = h;
    s->state = H2S_OPEN;
    s->content_length = -1;
    s->recv_window = H2_LOCAL_WINDOW;
    s->send_window = h->peer.initial_window_size;
    s->next = h->streams;
    h->streams = s;
    h->nstreams++;
    return s;
}

void h2_stream_free(h2_stream *s)
{
    if (npool >= H2_POOL_MAX) {
        stream_release(s);
        return;
    }
    if (npool == 0) {
        pthread_once(&pool_once, pool_key_create);
        pthread_setspecific(pool_key, &pool);    /* non-NULL: the destructor runs */
    }
    buf_trim(&s->strings);
    buf_trim(&s->body);
    buf_trim(&s->out);
    if (s->capfields > 64) {
        free(s->fields);
        s->fields = NULL;
        s->capfields = 0;
    }
    if (s->caphdrs > 64) {
        free(s->hdrs);
        s->hdrs = NULL;
        s->caphdrs = 0;
    }
    s->next = pool;
    pool = s;
    npool++;
}

static int malformed(h2_stream *s, const char *why)
{
    if (!s->malformed) {
        s->malformed = 1;
        s->malformed_why = why;
    }
    return 0;   /* keep decoding: the HPACK table must stay in sync */
}

void h2_stream_add_field(h2_stream *s, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (s->nfields == s->capfields) {
        s->capfields = s->capfields ? 2 * s->capfields : 16;
        h2_field *f = realloc(s->fields, s->capfields * sizeof *f);
        if (!f)
            abort();
        s->fields = f;
    }
    h2_field *f = &s->fields[s->nfields++];
    f->noff = (uint32_t)buf_size(&s->strings);
    f->nlen = (uint32_t)nlen;
    buf_append(&s->strings, name, nlen);
    f->voff = (uint32_t)buf_size(&s->strings);
    f->vlen = (uint32_t)vlen;
    buf_append(&s->strings, value, vlen);
}

/* By length first: nearly every field fails that test. */
static int is_connection_specific(const char *n, size_t len)
{
    switch (len) {
    case 7:  return strncasecmp(n, "upgrade", 7) == 0;
    case 10: return (n[0] | 0x20) == 'c' ? strncasecmp(n, "connection", 10) == 0
                  : (n[0] | 0x20) == 'k' && strncasecmp(n, "keep-alive", 10) == 0;
    case 16: return strncasecmp(n, "proxy-connection", 16) == 0;
    case 17: return strncasecmp(n, "transfer-encoding", 17) == 0;
    default: return 0;
    }
}

static int parse_content_length(const char *v, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return 0;
}

static int pseudo_field(h2_stream *s, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (s->in_trailers)
        return malformed(s, "pseudo-header in trailers");
    if (s->regular_seen)
        return malformed(s, "pseudo-header after a regular header");
    int i = nlen == 7 && memcmp(name, ":method", 7) == 0      ? H2P_METHOD
          : nlen == 7 && memcmp(name, ":scheme", 7) == 0      ? H2P_SCHEME
          : nlen == 5 && memcmp(name, ":path", 5) == 0        ? H2P_PATH
          : nlen == 10 && memcmp(name, ":authority", 10) == 0 ? H2P_AUTHORITY : -1;
    if (i < 0)
        return malformed(s, "unknown pseudo-header");
    if (s->have[i])
        return malformed(s, "duplicate pseudo-header");
    if (i != H2P_AUTHORITY && vlen == 0)
        return malformed(s, "empty pseudo-header");
    s->have[i] = 1;
    s->pseudo[i].voff = (uint32_t)buf_size(&s->strings);
    s->pseudo[i].vlen = (uint32_t)vlen;
    buf_append(&s->strings, value, vlen);
    return 0;
}

/* Any NUL, CR or LF in v? Eight bytes at a time: a word has a zero byte iff
 * (x - 0x01..01) & ~x & 0x80..80 is non-zero; CR and LF are zero after an xor. */
static int has_nul_cr_lf(const char *v, size_t n)
{
#define ONES 0x0101010101010101ull
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & (ONES << 7))
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, v + i, 8);
        if (HAS_ZERO(x) | HAS_ZERO(x ^ (ONES * '\r')) | HAS_ZERO(x ^ (ONES * '\n')))
            return 1;
    }
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch <= '\r' && ((1u << ch) & (1u << 0 | 1u << '\r' | 1u << '\n')))
            return 1;
    }
    return 0;
#undef HAS_ZERO
#undef ONES
}

/* The HPACK emit callback: one decoded field of stream ud (NULL: discard). */
int h2_stream_field(void *ud, const char *name, size_t nlen, const char *value, size_t vlen, int flags)
{
    h2_stream *s = ud;
    if (s->h && s->h->trace)
        h2_tracef(s->h, "  %.*s: %.*s%s", (int)nlen, name, (int)vlen, value,
                  flags & HPACK_NEVER_INDEXED ? "  (never indexed)" : "");
    if (s->malformed)
        return 0;
    if (has_nul_cr_lf(value, vlen))
        return malformed(s, "NUL, CR or LF in a field value");
    if (vlen && (value[0] == ' ' || value[0] == '\t' || value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
        return malformed(s, "field value with leading or trailing whitespace");
    if (nlen == 0)
        return malformed(s, "empty field name");
    if (name[0] == ':')
        return pseudo_field(s, name, nlen, value, vlen);
    s->regular_seen = 1;
    for (size_t i = 0; i < nlen; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch <= 0x20 || ch >= 0x7f || (ch >= 'A' && ch <= 'Z') || ch == ':')
            return malformed(s, "upper-case or invalid character in a field name");
    }
    if (is_connection_specific(name, nlen))
        return malformed(s, "connection-specific header field");
    if (nlen == 2 && memcmp(name, "te", 2) == 0 && !(vlen == 8 && memcmp(value, "trailers", 8) == 0))
        return malformed(s, "te other than \"trailers\"");
    if (s->in_trailers)
        return 0;   /* trailers are checked, not passed on */
    if (nlen == 14 && memcmp(name, "content-length", 14) == 0) {
        int64_t cl;
        if (parse_content_length(value, vlen, &cl) < 0)
            return malformed(s, "invalid content-length");
        if (s->content_length >= 0 && s->content_length != cl)
            return malformed(s, "conflicting content-length");
        s->content_length = cl;
    }
    if (s->h && s->nfields >= s->h->max_headers) {
        s->nfields++;   /* counted: answered with 431 */
        return 0;
    }
    h2_stream_add_field(s, name, nlen, value, vlen);
    return 0;
}

static int pseudo_is(const h2_stream *s, int i, const char *v)
{
    return s->have[i] && s->pseudo[i].vlen == strlen(v) &&
           memcmp(buf_head(&s->strings) + s->pseudo[i].voff, v, s->pseudo[i].vlen) == 0;
}

/* RFC 9113 §8.3.1: the pseudo-headers a request needs. */
int h2_stream_check_request(h2_stream *s)
{
    if (s->malformed)
        return -1;
    if (pseudo_is(s, H2P_METHOD, "CONNECT")) {
        if (s->have[H2P_SCHEME] || s->have[H2P_PATH] || !s->have[H2P_AUTHORITY])
            return malformed(s, "CONNECT needs :authority and no :scheme or :path"), -1;
        return 0;
    }
    if (!s->have[H2P_METHOD] || !s->have[H2P_SCHEME] || !s->have[H2P_PATH])
        return malformed(s, "missing :method, :scheme or :path"), -1;
    const char *path = buf_head(&s->strings) + s->pseudo[H2P_PATH].voff;
    if (path[0] != '/' && !(pseudo_is(s, H2P_PATH, "*") && pseudo_is(s, H2P_METHOD, "OPTIONS")))
        return malformed(s, ":path is not origin-form"), -1;
    return 0;
}

static const char *pseudo_ptr(h2_stream *s, int i, size_t *len)
{
    *len = s->have[i] ? s->pseudo[i].vlen : 0;
    return s->have[i] ? buf_head(&s->strings) + s->pseudo[i].voff : "";
}

static void hdrs_room(h2_stream *s, size_t n)
{
    if (n <= s->caphdrs)
        return;
    http_hdr *p = realloc(s->hdrs, n * sizeof *p);
    if (!p)
        abort();
    s->hdrs = p;
    s->caphdrs = n;
}

/* Build the headers array; cookies are joined with "; " (RFC 9113 §8.2.3). */
static void build_headers(h2_stream *s)
{
    const char *base = buf_head(&s->strings);
    size_t n = 0, ncookie = 0, cookie_len = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        if (s->fields[i].nlen == 6 && memcmp(base + s->fields[i].noff, "cookie", 6) == 0) {
            ncookie++;
            cookie_len += s->fields[i].vlen + 2;
        }
    }
    if (ncookie > 1) {   /* append the joined value to strings, then rebase */
        size_t at = buf_size(&s->strings), first = 1;
        for (size_t i = 0; i < s->nfields; i++) {
            h2_field *f = &s->fields[i];
            if (f->nlen != 6 || memcmp(buf_head(&s->strings) + f->noff, "cookie", 6) != 0)
                continue;
            if (!first)
                buf_append(&s->strings, "; ", 2);
            buf_append(&s->strings, buf_head(&s->strings) + f->voff, f->vlen);
            first = 0;
        }
        base = buf_head(&s->strings);
        hdrs_room(s, s->nfields - ncookie + 1);
        s->hdrs[n++] = (http_hdr){"cookie", 6, base + at, buf_size(&s->strings) - at};
    } else {
        hdrs_room(s, s->nfields + 1);
    }
    (void)cookie_len;
    for (size_t i = 0; i < s->nfields; i++) {
        h2_field *f = &s->fields[i];
        if (ncookie > 1 && f->nlen == 6 && memcmp(base + f->noff, "cookie", 6) == 0)
            continue;
        s->hdrs[n++] = (http_hdr){base + f->noff, f->nlen, base + f->voff, f->vlen};
    }
    s->req.headers = s->hdrs;
    s->req.nheaders = n;
}

/* The request is complete (END_STREAM seen, checks passed): give it to the app. */
void h2_stream_dispatch(h2_conn *h, h2_stream *s)
{
    http_req *r = &s->req;
    worker *w = h->c->w;
    build_headers(s);
    r->method = pseudo_ptr(s, H2P_METHOD, &r->method_len);
    r->target = pseudo_ptr(s, s->have[H2P_PATH] ? H2P_PATH : H2P_AUTHORITY, &r->target_len);
    r->host = pseudo_ptr(s, H2P_AUTHORITY, &r->host_len);
    if (!s->have[H2P_AUTHORITY]) {
        const http_hdr *host = http_find(r, "host");
        if (host) {
            r->host = host->value;
            r->host_len = host->value_len;
        }
    }
    r->scheme = pseudo_is(s, H2P_SCHEME, "https") || (!s->have[H2P_SCHEME] && conn_is_tls(h->c)) ? "https" : "http";
    r->protocol = "HTTP/2";
    r->body = h2_bptr(&s->body);
    r->body_len = buf_size(&s->body);
    r->c = h->c;
    r->id = ((uint64_t)w->id << 48) | ++w->requests;
    r->head = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
    r->drv = &h2_driver;
    r->drv_data = s;
    s->app_held = 1;
    w->ops->handle(w->app, r);
}

/* ---- the response driver ---- */

/* Connection-specific fields and content-length (the driver frames the
 * body itself), any case. */
static int is_dropped_response_header(const char *n, size_t len)
{
    return is_connection_specific(n, len) || (len == 14 && strncasecmp(n, "content-length", 14) == 0);
}

static int has_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)(s[i] - 'A') <= 'Z' - 'A')
            return 1;
    return 0;
}

/* One response field; names are lower-cased when they need it (HTTP/2). */
static void encode_field(h2_conn *h, buf *blk, const char *name, size_t nlen, const char *value, size_t vlen)
{
    char low[128], *lname = NULL;
    if (has_upper(name, nlen)) {
        lname = nlen <= sizeof low ? low : malloc(nlen);
        if (!lname)
            abort();
        for (size_t i = 0; i < nlen; i++)
            lname[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
        name = lname;
    }
    if (h->trace)
        h2_tracef(h, "  %.*s: %.*s", (int)nlen, name, (int)vlen, value);
    hpack_encode_field(&h->enc, blk, name, nlen, value, vlen, 0);
    if (lname && lname != low)
        free(lname);
}

/* Decimal digits of v into the end of out[24]; returns the first digit. */
static char *fmt_u64(char *out, uint64_t v)
{
    char *p = out + 24;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    return p;
}

/* ---- the response header cache ----
 * A server answers the same headers again and again (a static file: same
 * type, etag, length; the date changes once a second). HPACK output depends
 * only on the fields and the encoder's table, so when the fields match the
 * last block's byte for byte and that block left the table as it found it
 * (every field indexed, or sent without indexing) and the table has not
 * changed since, the block is the same bytes: they are reused instead of
 * encoded again. The key is the driver's input, before lower-casing and
 * filtering: status, content length, each (name, value), the date. */

static void key_u32(char **p, uint32_t v) { memcpy(*p, &v, 4); *p += 4; }
static void key_bytes(char **p, const void *b, size_t n) { memcpy(*p, b, n); *p += n; }

static void hcache_store(h2_conn *h, int status, const http_hdr *hd, size_t n, int64_t cl,
                         const char *date, size_t dlen)
{
    size_t need = 20 + dlen;
    for (size_t i = 0; i < n; i++)
        need += 8 + hd[i].name_len + hd[i].value_len;
    buf_reset(&h->hkey);
    char *p = buf_tail(&h->hkey, need), *start = p;
    key_u32(&p, (uint32_t)status);
    key_bytes(&p, &cl, 8);
    key_u32(&p, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        key_u32(&p, (uint32_t)hd[i].name_len);
        key_u32(&p, (uint32_t)hd[i].value_len);
        key_bytes(&p, hd[i].name, hd[i].name_len);
        key_bytes(&p, hd[i].value, hd[i].value_len);
    }
    key_u32(&p, (uint32_t)dlen);
    key_bytes(&p, date, dlen);
    buf_commit(&h->hkey, (size_t)(p - start));
    buf_reset(&h->hcache);
    buf_append(&h->hcache, buf_head(&h->hblk), buf_size(&h->hblk));
    h->hcache_gen = h->enc.table.gen;
}

static int key_eq(const char **p, const char *end, const void *b, size_t n)
{
    if ((size_t)(end - *p) < n || memcmp(*p, b, n) != 0)
        return 0;
    *p += n;
    return 1;
}

static int key_eq_u32(const char **p, const char *end, uint32_t v) { return key_eq(p, end, &v, 4); }

static int hcache_hit(h2_conn *h, int status, const http_hdr *hd, size_t n, int64_t cl,
                      const char *date, size_t dlen)
{
    if (!buf_size(&h->hcache) || h->enc.pending || h->enc.table.gen != h->hcache_gen)
        return 0;
    const char *p = buf_head(&h->hkey), *end = p + buf_size(&h->hkey);
    if (!key_eq_u32(&p, end, (uint32_t)status) || !key_eq(&p, end, &cl, 8) || !key_eq_u32(&p, end, (uint32_t)n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!key_eq_u32(&p, end, (uint32_t)hd[i].name_len) || !key_eq_u32(&p, end, (uint32_t)hd[i].value_len)
            || !key_eq(&p, end, hd[i].name, hd[i].name_len) || !key_eq(&p, end, hd[i].value, hd[i].value_len))
            return 0;
    return key_eq_u32(&p, end, (uint32_t)dlen) && key_eq(&p, end, date, dlen) && p == end;
}

/* Encode the block into h->hblk. */
static void encode_response(h2_conn *h, int status, const http_hdr *hd, size_t n, int64_t content_length,
                            const char *date, size_t dlen)
{
    buf *blk = &h->hblk;
    char num[32], *d;
    int have_server = 0, have_date = 0;
    buf_reset(blk);
    hpack_enc_begin_block(&h->enc, blk);
    if (status >= 100 && status <= 999) {
        num[0] = (char)('0' + status / 100);
        num[1] = (char)('0' + status / 10 % 10);
        num[2] = (char)('0' + status % 10);
        encode_field(h, blk, ":status", 7, num, 3);
    } else {
        snprintf(num, sizeof num, "%03d", status);
        encode_field(h, blk, ":status", 7, num, strlen(num));
    }
    for (size_t i = 0; i < n; i++) {
        if (is_dropped_response_header(hd[i].name, hd[i].name_len))
            continue;
        have_server |= hd[i].name_len == 6 && strncasecmp(hd[i].name, "server", 6) == 0;
        have_date |= hd[i].name_len == 4 && strncasecmp(hd[i].name, "date", 4) == 0;
        encode_field(h, blk, hd[i].name, hd[i].name_len, hd[i].value, hd[i].value_len);
    }
    if (content_length >= 0 && status != 204 && status >= 200) {
        d = fmt_u64(num, (uint64_t)content_length);
        encode_field(h, blk, "content-length", 14, d, (size_t)(num + 24 - d));
    }
    if (!have_date)
        encode_field(h, blk, "date", 4, date, dlen);
    if (!have_server)
        encode_field(h, blk, "server", 6, "atto", 4);
}

/* HEADERS (+ CONTINUATION) for a response; end_stream closes our side. */
static void send_response_headers(h2_conn *h, h2_stream *s, int status, const http_hdr *hd, size_t n,
                                  int64_t content_length, int end_stream)
{
    const char *date = http_date_now();
    size_t dlen = strlen(date);
    const buf *blk = &h->hcache;
    if (h->trace || !hcache_hit(h, status, hd, n, content_length, date, dlen)) {
        int pending = h->enc.pending;
        uint32_t gen = h->enc.table.gen;
        encode_response(h, status, hd, n, content_length, date, dlen);
        if (!h->trace && !pending && h->enc.table.gen == gen)
            hcache_store(h, status, hd, n, content_length, date, dlen);
        blk = &h->hblk;
    }
    h2_build_headers(&h->wbuf, s->id, buf_head(blk), buf_size(blk), end_stream, h->peer.max_frame_size);
    h2_write(h);
    s->headers_sent = 1;
    if (end_stream)
        s->end_sent = 1;
}

/* Our side is done (END_STREAM sent) and the app let go: close if the
 * peer's side is closed too; otherwise ask it to stop sending (§8.1). */
void h2_stream_maybe_done(h2_conn *h, h2_stream *s)
{
    if (s->state == H2S_CLOSED || !s->end_sent || s->app_held)
        return;
    if (s->state == H2S_OPEN)
        h2_stream_reset(h, s, H2_NO_ERROR);
    else
        h2_stream_close(h, s, H2_CLOSED_END);
}

/* A complete small answer from the engine itself (413, 431). The body goes
 * through h2_pump like any other, so the peer's windows are respected. */
void h2_stream_respond_error(h2_conn *h, h2_stream *s, int status)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status, http_reason(status));
    http_hdr ct = {"content-type", 12, "text/plain", 10};
    send_response_headers(h, s, status, &ct, 1, n, 0);
    buf_reset(&s->body);
    h2_out_append(h, s, body, (size_t)n);
    s->out_fin = 1;
    h2_pump(h);
}

static void drv_start(http_req *r, int status, const http_hdr *hd, size_t n, int64_t content_length)
{
    h2_stream *s = r->drv_data;
    h2_conn *h = s->h;
    if (!h || s->state == H2S_CLOSED || s->headers_sent || h->closing)
        return;
    h2_enter(h);
    r->status = status;
    r->started = 1;
    int end = r->head || content_length == 0;
    send_response_headers(h, s, status, hd, n, content_length, end);
    h2_leave(h);
}

static int drv_body(http_req *r, const void *p, size_t n, int fin)
{
    h2_stream *s = r->drv_data;
    h2_conn *h = s->h;
    if (fin)
        r->finished = 1;
    if (!h) {                        /* zombie: the stream died while the app held it */
        if (fin)
            h2_stream_free(s);
        return -1;
    }
    if (s->state == H2S_CLOSED || h->closing) {
        if (fin) {
            s->app_held = 0;
            s->zombie = 0;           /* freed by the next reap */
        }
        return -1;
    }
    h2_enter(h);
    if (!s->headers_sent)
        drv_start(r, 200, NULL, 0, -1);
    int data = !s->end_sent && !r->head;
    if (data)
        s->log_bytes += n;
    if (fin) {
        s->out_fin = 1;
        s->app_held = 0;
        accesslog_request(r, s->log_bytes);
    }
    if (data)
        h2_send_body(h, s, p, n);     /* framed from p as far as the windows allow */
    else
        h2_pump_stream(h, s);
    if (!fin && h2_unsent(s))
        s->want_writable = 1;
    h2_stream_maybe_done(h, s);
    h2_leave(h);
    return 0;
}

static size_t drv_pending(http_req *r)
{
    h2_stream *s = r->drv_data;
    return s->h ? h2_unsent(s) : 0;
}

const http_driver h2_driver = {drv_start, drv_body, drv_pending, NULL};   /* HPACK, not lines */
