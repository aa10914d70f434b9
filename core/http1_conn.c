/*
 * http1_conn.c — the HTTP/1.1 connection driver (RFC 9112).
 *
 * Bytes in, parsed by the pure parser in http1_parse.c, one request at a
 * time handed to the worker's application as an http_req; answers go out in
 * order (pipelining), keep-alive by version and Connection, request bodies
 * by Content-Length or chunked, responses with Content-Length or chunked.
 *
 * Buffers: `in` holds the current request head (the http_req points into
 * it) and any pipelined bytes after it; it never moves while a request is
 * being handled — bytes arriving meanwhile wait in `more`. A body that
 * arrived whole with its head is used in place; otherwise it is collected
 * (and de-chunked) into `body`.
 *
 * Idle connections hold no HTTP/1.1 state: the h1c (~450 bytes) is taken
 * from a per-thread pool when the first bytes of a request arrive and goes
 * back once the connection is idle again with everything sent; meanwhile
 * c->proto_data is NULL (nothing served yet) or H1_IDLE (served before).
 * It goes back only from the loop (the end of a read, or drained() outside
 * a driver call), never from inside drv_body: the Lua layer still touches
 * the http_req right after its last body call. A response finished from a
 * timer or a resumed task therefore keeps its h1c until the next event on
 * that connection.
 * Buffers come from the block pool (buf_pool_take), so the keep-alive
 * steady state calls no malloc.
 *
 * A body from a file (http1_send_file) is queued on the connection whole
 * and the response is finished at once; the next pipelined request waits
 * while more than QUEUE_MAX bytes are still unsent, and an idle timeout
 * closes the connection only when the client has stopped taking them.
 */
#include "core/http1_conn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/accesslog.h"
#include "core/buf.h"
#include "core/http.h"
#include "core/http1_parse.h"
#include "core/server.h"

enum h1_state { S_HEAD, S_BODY, S_HANDLING, S_DONE };

#define QUEUE_MAX (1u << 20)      /* unsent bytes before pipelining waits */

typedef struct h1c {
    conn        *c;
    enum h1_state state;
    buf          in, more, body;
    h1_head     *head;            /* from the worker's pool while a request is live */
    http_req     req;
    h1_chunked   chunked;
    int64_t      body_left;
    size_t       consume;         /* bytes of `in` owned by the current request */
    int          keep_alive;
    int          resp_chunked, resp_nobody;
    int          in_process, eof, paused, served, timer_armed_head;
    int          in_read, in_drv;   /* inside h1_read / a driver call: keep h */
    int          handed_over;     /* the h2 engine owns the connection now */
    int          wait_drain;      /* QUEUE_MAX unsent: next request after drained */
    size_t       idle_queued;     /* conn_queued() when the idle timer was armed */
    uint64_t     resp_bytes;      /* body bytes sent, for the access log */
    buf          head_out;        /* response head waiting for its body */
    const char  *body_inplace;    /* body that came whole with its head */
    size_t       body_inplace_len;
} h1c;

/* c->proto_data of an idle connection that has served a request. */
static const char h1_idle_mark;
#define H1_IDLE ((void *)&h1_idle_mark)

static const http1_h2_hooks *h2_hooks;
void http1_set_h2_hooks(const http1_h2_hooks *h) { h2_hooks = h; }

static int h1_process(h1c *h);

/* The parsed head (with room for H1_MAX_HEADERS headers, ~4 KiB) is needed
 * only while a request is live: an idle keep-alive connection gives it back
 * to a small per-thread pool, so it costs ~1 KiB instead of ~6. */
#define HEAD_POOL_MAX 64
static _Thread_local h1_head *head_pool[HEAD_POOL_MAX];
static _Thread_local int head_pool_n;

/* Connection states, lent to connections while a request is live. */
#define H1C_POOL_MAX 64
static _Thread_local h1c *h1c_pool[H1C_POOL_MAX];
static _Thread_local int h1c_pool_n;

static h1c *h1c_get(conn *c)
{
    h1c *h = h1c_pool_n ? h1c_pool[--h1c_pool_n] : malloc(sizeof *h);
    if (!h) {
        fputs("atto: out of memory\n", stderr);
        abort();
    }
    memset(h, 0, sizeof *h);
    h->c = c;
    h->served = c->proto_data == H1_IDLE;
    c->proto_data = h;
    return h;
}

static void h1c_put(h1c *h)
{
    if (h1c_pool_n < H1C_POOL_MAX)
        h1c_pool[h1c_pool_n++] = h;
    else
        free(h);
}

static h1_head *head_get(void)
{
    if (head_pool_n)
        return head_pool[--head_pool_n];
    h1_head *hd = malloc(sizeof *hd);
    if (!hd) {
        fputs("atto: out of memory\n", stderr);
        abort();
    }
    return hd;
}

void http1_thread_done(void)
{
    while (head_pool_n)
        free(head_pool[--head_pool_n]);
    while (h1c_pool_n)
        free(h1c_pool[--h1c_pool_n]);
}

static void head_put(h1_head *hd)
{
    if (!hd)
        return;
    if (head_pool_n < HEAD_POOL_MAX)
        head_pool[head_pool_n++] = hd;
    else
        free(hd);
}

/* The live state of c, or NULL while it is idle. */
static h1c *h1_of(conn *c)
{
    return c->proto_data == H1_IDLE ? NULL : c->proto_data;
}

static h1_limits h1_limits_of(const conn *c)
{
    const server_limits *l = &c->w->cfg->limits;
    return (h1_limits){ l->max_header_bytes, l->max_headers, l->max_uri_bytes };
}

/* An error before (or instead of) the app: answer and close. */
static void h1_fail(h1c *h, int status, const char *why)
{
    char body[512];
    int n = snprintf(body, sizeof body, "%d %s%s%s\n", status, http_reason(status),
                     why ? ": " : "", why ? why : "");
    conn_printf(h->c, "HTTP/1.1 %d %s\r\nServer: atto\r\nDate: %s\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
                "Connection: close\r\n\r\n%s",
                status, http_reason(status), http_date_now(), n, body);
    h->state = S_DONE;
    conn_close(h->c);
}

/* ---- the response driver ------------------------------------------------ */

/* Append a literal / a decimal number: the response head is built by hand
 * (snprintf was a tenth of a static file's cost). */
#define PUT_LIT(q, s) (memcpy((q), (s), sizeof(s) - 1), (q) += sizeof(s) - 1)

static char *put_u64(char *q, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *q++ = tmp[--n];
    return q;
}

/* The response head is built straight into head_out, which leaves with the
 * first body bytes: the status line, Server and Date first (room reserved
 * for `lines` more bytes of header lines), then the caller's lines, then
 * the framing and connection headers. */
static char *h1_head_open(h1c *h, http_req *r, int status, size_t lines, char **start)
{
    r->status = status;
    r->started = 1;
    h->resp_nobody = r->head || status == 204 || status == 304 || status < 200;
    h->resp_chunked = 0;
    if (h->c->w->draining)
        h->keep_alive = 0;
    const char *reason = http_reason(status), *date = http_date_now();
    size_t rlen = strlen(reason), dlen = strlen(date);
    size_t need = 64 + rlen + dlen + 96 + lines;
    if (need <= BUF_POOL_BLOCK)
        buf_pool_take(&h->head_out);
    char *q = *start = buf_tail(&h->head_out, need);
    PUT_LIT(q, "HTTP/1.1 ");
    *q++ = (char)('0' + status / 100 % 10);
    *q++ = (char)('0' + status / 10 % 10);
    *q++ = (char)('0' + status % 10);
    *q++ = ' ';
    memcpy(q, reason, rlen);
    q += rlen;
    PUT_LIT(q, "\r\nServer: atto\r\nDate: ");
    memcpy(q, date, dlen);
    q += dlen;
    PUT_LIT(q, "\r\n");
    return q;
}

static void h1_head_close(h1c *h, http_req *r, int status, int64_t clen, char *start, char *q)
{
    if (status >= 200 && status != 204 && status != 304) {
        if (clen >= 0) {
            PUT_LIT(q, "Content-Length: ");
            q = put_u64(q, (uint64_t)clen);
            PUT_LIT(q, "\r\n");
        } else if (h->head->minor >= 1) {
            h->resp_chunked = !r->head;
            if (!r->head)
                PUT_LIT(q, "Transfer-Encoding: chunked\r\n");
        } else {
            h->keep_alive = 0;   /* HTTP/1.0: the close delimits the body */
        }
    }
    if (!h->keep_alive)
        PUT_LIT(q, "Connection: close\r\n");
    else if (h->head->minor == 0)
        PUT_LIT(q, "Connection: keep-alive\r\n");
    PUT_LIT(q, "\r\n");
    buf_commit(&h->head_out, (size_t)(q - start));
}

static void drv_start(http_req *r, int status, const http_hdr *hd, size_t n, int64_t clen)
{
    h1c *h = r->drv_data;
    size_t lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += hd[i].name_len + hd[i].value_len + 4;
    char *start, *q = h1_head_open(h, r, status, lines, &start);
    for (size_t i = 0; i < n; i++) {
        /* HTTP/1.1 readers expect Content-Type, not content-type */
        for (size_t k = 0; k < hd[i].name_len; k++) {
            char ch = hd[i].name[k];
            int up = k == 0 || hd[i].name[k - 1] == '-';
            q[k] = up && ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
        }
        q += hd[i].name_len;
        *q++ = ':'; *q++ = ' ';
        memcpy(q, hd[i].value, hd[i].value_len); q += hd[i].value_len;
        *q++ = '\r'; *q++ = '\n';
    }
    h1_head_close(h, r, status, clen, start, q);
}

static void drv_start_lines(http_req *r, int status, const char *lines, size_t len, int64_t clen)
{
    h1c *h = r->drv_data;
    char *start, *q = h1_head_open(h, r, status, len, &start);
    memcpy(q, lines, len);
    h1_head_close(h, r, status, clen, start, q + len);
}

static int h1_finish(h1c *h);
static void h1_release_idle(h1c *h);

static int drv_body(http_req *r, const void *p, size_t n, int fin)
{
    h1c *h = r->drv_data;
    if (h->state != S_HANDLING)
        return -1;
    struct iovec iov[5];
    int k = 0;
    char sz[24];
    if (buf_size(&h->head_out))
        iov[k++] = (struct iovec){ buf_head(&h->head_out), buf_size(&h->head_out) };
    if (!h->resp_nobody && n) {
        h->resp_bytes += n;
        if (h->resp_chunked) {
            int l = snprintf(sz, sizeof sz, "%zx\r\n", n);
            iov[k++] = (struct iovec){ sz, (size_t)l };
            iov[k++] = (struct iovec){ (void *)p, n };
            iov[k++] = (struct iovec){ "\r\n", 2 };
        } else {
            iov[k++] = (struct iovec){ (void *)p, n };
        }
    }
    if (fin && h->resp_chunked)
        iov[k++] = (struct iovec){ "0\r\n\r\n", 5 };
    h->in_drv = 1;
    if (k)
        conn_writev(h->c, iov, k);
    buf_reset(&h->head_out);
    h->in_drv = 0;
    if (fin) {
        r->finished = 1;
        accesslog_request(r, h->resp_bytes);
        if (!h1_finish(h))
            h1_release_idle(h);   /* finished from a timer: give the state back now */
    }
    return 0;
}

static size_t drv_pending(http_req *r)
{
    h1c *h = r->drv_data;
    return conn_queued(h->c);
}

static const http_driver h1_driver = { drv_start, drv_body, drv_pending, drv_start_lines };

int http1_send_file(http_req *r, int fd, uint64_t off, uint64_t len,
                    void (*done)(void *arg), void *arg)
{
    h1c *h = r->drv_data;
    if (r->drv != &h1_driver || h->state != S_HANDLING || h->resp_chunked || h->resp_nobody)
        return -1;
    h->in_drv = 1;
    if (buf_size(&h->head_out))
        conn_write(h->c, buf_head(&h->head_out), buf_size(&h->head_out));
    buf_reset(&h->head_out);
    h->resp_bytes += len;
    conn_sendfile_shared(h->c, fd, off, len, done, arg);   /* the conn has fd now, whatever happens */
    h->in_drv = 0;
    r->finished = 1;
    accesslog_request(r, h->resp_bytes);
    if (!h1_finish(h))
        h1_release_idle(h);
    return 0;
}

/* ---- requests ----------------------------------------------------------- */

/* https_redirect: every cleartext request gets a 301 to the https URL. */
static void h1_redirect_https(h1c *h, http_req *r)
{
    char loc[2048];
    size_t hl = r->host_len;
    const char *colon = memchr(r->host, ':', hl);
    if (r->host_len && r->host[0] == '[') {            /* [::1]:8080 */
        const char *end = memchr(r->host, ']', hl);
        colon = end && end + 1 < r->host + hl && end[1] == ':' ? end + 1 : NULL;
    }
    if (colon)
        hl = (size_t)(colon - r->host);
    int port = h->c->w->cfg->ports[LISTEN_HTTPS];
    int n = port == 443 ? snprintf(loc, sizeof loc, "https://%.*s%.*s", (int)hl, r->host,
                                   (int)r->target_len, r->target)
                        : snprintf(loc, sizeof loc, "https://%.*s:%d%.*s", (int)hl, r->host, port,
                                   (int)r->target_len, r->target);
    if (n < 0 || (size_t)n >= sizeof loc || !hl) {
        http_respond_simple(r, 400, "text/plain; charset=utf-8", "400 Bad Request: no usable Host\n", 32);
        return;
    }
    http_hdr hd[2] = {{"location", 8, loc, (size_t)n}, {"content-type", 12, "text/plain", 10}};
    r->drv->start(r, 301, hd, 2, 0);
    r->drv->body(r, "", 0, 1);
}

static void h1_dispatch(h1c *h)
{
    conn *c = h->c;
    http_req *r = &h->req;
    h1_head *hd = h->head;
    conn_timer(c, 0);
    memset(r, 0, sizeof *r);
    r->method = hd->method;   r->method_len = hd->method_len;
    r->target = hd->target;   r->target_len = hd->target_len;
    r->host = hd->host ? hd->host : "";  r->host_len = hd->host_len;
    r->scheme = conn_is_tls(c) ? "https" : "http";
    r->protocol = hd->minor ? "HTTP/1.1" : "HTTP/1.0";
    r->headers = hd->headers;
    r->nheaders = hd->nheaders;
    if (h->body_inplace) {
        r->body = h->body_inplace;
        r->body_len = h->body_inplace_len;
    } else {
        r->body = buf_size(&h->body) ? buf_head(&h->body) : "";
        r->body_len = buf_size(&h->body);
    }
    r->c = c;
    r->id = ((uint64_t)c->w->id << 48) | ++c->w->requests;
    r->head = hd->method_len == 4 && memcmp(hd->method, "HEAD", 4) == 0;
    r->drv = &h1_driver;
    r->drv_data = h;
    h->state = S_HANDLING;
    h->resp_bytes = 0;
    if (c->w->cfg->https_redirect && !conn_is_tls(c) && c->w->cfg->ports[LISTEN_HTTPS]) {
        h1_redirect_https(h, r);
        return;
    }
    if (hd->upgrade_h2c && h2_hooks && h2_hooks->upgrade && !conn_is_tls(c)) {
        const char *rest = buf_head(&h->in) + h->consume;
        size_t rest_len = buf_size(&h->in) - h->consume;
        h->state = S_DONE;
        h->handed_over = 1;
        h2_hooks->upgrade(c, hd->h2_settings, hd->h2_settings_len, r, rest, rest_len);
        return;   /* the h2 engine owns the connection; h1c is freed by the caller */
    }
    c->w->ops->handle(c->w->app, r);
}

/* Body bytes; returns how many of `p` belong to this request's body, or -1
 * after answering an error. Sets *done when the body is complete. */
static long h1_feed_body(h1c *h, const char *p, size_t n, int *done)
{
    size_t max = h->c->w->cfg->limits.max_body_bytes;
    if (h->head->chunked) {
        const char *err = NULL;
        long k = h1_chunked_decode(&h->chunked, p, n, &h->body, max, done, &err);
        if (k < 0)
            h1_fail(h, (int)-k, err);
        return k < 0 ? -1 : k;
    }
    size_t k = (uint64_t)h->body_left < n ? (size_t)h->body_left : n;
    buf_append(&h->body, p, k);
    h->body_left -= (int64_t)k;
    *done = h->body_left == 0;
    return (long)k;
}

/* Try to take one request from `in`. Returns 1 if the loop may go on. */
static int h1_take(h1c *h)
{
    conn *c = h->c;
    const server_limits *lim = &c->w->cfg->limits;
    if (h->served == 0 && h2_hooks && buf_size(&h->in) >= 3 && memcmp(buf_head(&h->in), "PRI", 3) == 0) {
        static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        size_t n = buf_size(&h->in) < 24 ? buf_size(&h->in) : 24;
        if (memcmp(buf_head(&h->in), preface, n) == 0) {
            if (n < 24)
                return 0;
            h->state = S_DONE;
            h->handed_over = 1;
            h2_hooks->takeover(c, buf_head(&h->in), buf_size(&h->in));
            return 0;
        }
    }
    h1_limits hl = h1_limits_of(c);
    const char *err = NULL;
    if (!h->head)
        h->head = head_get();
    int n = h1_parse_head(buf_head(&h->in), buf_size(&h->in), &hl, h->head, &err);
    if (n < 0) {
        h1_fail(h, -n, err);
        return 0;
    }
    if (n == 0) {
        if (!h->timer_armed_head) {
            conn_timer(c, lim->header_timeout_ms);
            h->timer_armed_head = 1;
        }
        return 0;
    }
    h->timer_armed_head = 0;
    h->keep_alive = h->head->keep_alive && !h->eof;
    h->consume = (size_t)n;
    buf_reset(&h->body);
    h->body_inplace = NULL;
    int64_t cl = h->head->content_length;
    if (!h->head->chunked && cl <= 0)
        goto dispatch;
    if (cl > 0 && (uint64_t)cl > lim->max_body_bytes) {
        h1_fail(h, 413, "request body larger than the limit");
        return 0;
    }
    size_t avail = buf_size(&h->in) - (size_t)n;
    if (!h->head->chunked && avail >= (size_t)cl) {
        /* the whole body came with the head: use it in place */
        h->body_inplace = buf_head(&h->in) + n;
        h->body_inplace_len = (size_t)cl;
        h->consume += (size_t)cl;
        goto dispatch;
    }
    memset(&h->chunked, 0, sizeof h->chunked);
    h->body_left = cl;
    int done = 0;
    long k = h1_feed_body(h, buf_head(&h->in) + n, avail, &done);
    if (k < 0)
        return 0;
    buf_append(&h->more, buf_head(&h->in) + n + k, avail - (size_t)k);
    h->in.len = h->in.off + (size_t)n;      /* `in` keeps just the head */
    if (!done) {
        if (h->head->expect_continue && !h->eof)
            conn_puts(c, "HTTP/1.1 100 Continue\r\n\r\n");
        h->state = S_BODY;
        conn_timer(c, lim->body_timeout_ms);
        return 0;
    }
dispatch:
    h1_dispatch(h);
    return h->state == S_HEAD;
}

/* The response is complete: get ready for the next request. Returns 1
 * when h is gone (a pipelined request handed the connection to HTTP/2). */
static int h1_finish(h1c *h)
{
    conn *c = h->c;
    h->served++;
    if (!h->keep_alive || c->w->draining) {
        h->state = S_DONE;
        conn_close(c);
        return 0;
    }
    buf_consume(&h->in, h->consume);
    h->consume = 0;
    if (buf_size(&h->more)) {
        buf_append(&h->in, buf_head(&h->more), buf_size(&h->more));
        buf_reset(&h->more);
    }
    if (buf_size(&h->body) > 1u << 20)
        buf_free(&h->body);   /* don't keep a huge upload's buffer around */
    h->state = S_HEAD;
    if (conn_queued(c) > QUEUE_MAX) {
        h->wait_drain = 1;         /* h1_drained goes on; reading waits too */
        conn_timer(c, c->w->cfg->limits.keepalive_ms);
        h->idle_queued = conn_queued(c);
        if (!h->paused) {
            h->paused = 1;
            conn_pause(c);
        }
    } else if (h->paused) {
        h->paused = 0;
        conn_resume(c);
    }
    if (!buf_size(&h->in)) {
        head_put(h->head);       /* idle: nothing points into it any more */
        h->head = NULL;
        buf_pool_give(&h->in);   /* and no buffer memory either */
        buf_pool_give(&h->head_out);
        buf_pool_give(&h->more);
        buf_pool_give(&h->body);
        conn_trim(c);
        if (h->eof) {
            h->state = S_DONE;
            conn_close(c);
            return 0;
        }
        conn_timer(c, c->w->cfg->limits.keepalive_ms);
        h->idle_queued = conn_queued(c);
    }
    return h->in_process ? 0 : h1_process(h);
}

static void h1_free(h1c *h)
{
    head_put(h->head);
    buf *bufs[] = {&h->head_out, &h->in, &h->more, &h->body};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        buf_reset(bufs[i]);
        buf_pool_give(bufs[i]);   /* small blocks to the pool, the rest freed */
    }
    h1c_put(h);
}

/* Returns 1 when h is gone (handed over to HTTP/2). */
static int h1_process(h1c *h)
{
    h->in_process = 1;
    while (h->state == S_HEAD && buf_size(&h->in) && !h->wait_drain)
        if (!h1_take(h))
            break;
    h->in_process = 0;
    if (!h->handed_over)
        return 0;
    h1_free(h);   /* the h2 engine copied what it needed */
    return 1;
}

/* Between requests with everything sent and nobody inside a call that
 * holds h: give the state back; the connection keeps only its keep-alive
 * timer. The bytes of the next request take a fresh h1c. */
static void h1_release_idle(h1c *h)
{
    conn *c = h->c;
    if (h->state != S_HEAD || h->in_read || h->in_drv || h->in_process || h->wait_drain ||
        h->paused || h->eof || !h->served || h->head || buf_size(&h->in) || buf_size(&h->more) ||
        conn_queued(c))
        return;
    c->proto_data = H1_IDLE;
    h1_free(h);
}

/* ---- conn_proto --------------------------------------------------------- */

static int h1_open(conn *c)
{
    c->proto_data = NULL;     /* h1c comes with the first bytes */
    conn_timer(c, c->w->cfg->limits.header_timeout_ms);
    return 0;
}

/* Returns 1 when h is gone (handed over to HTTP/2). */
static int h1_read_state(h1c *h, const char *data, size_t len)
{
    conn *c = h->c;
    switch (h->state) {
    case S_HEAD:
        if (!h->in.data && len <= BUF_POOL_BLOCK)
            buf_pool_take(&h->in);
        buf_append(&h->in, data, len);
        return h1_process(h);
    case S_BODY: {
        int done = 0;
        long k = h1_feed_body(h, data, len, &done);
        if (k < 0)
            return 0;
        buf_append(&h->more, data + k, len - (size_t)k);
        if (done) {
            h->in_process = 1;
            h1_dispatch(h);
            h->in_process = 0;
            if (h->handed_over) {
                h1_free(h);
                return 1;
            }
            if (h->state == S_HEAD)
                return h1_process(h);
        }
        return 0;
    }
    case S_HANDLING:
        buf_append(&h->more, data, len);
        if (buf_size(&h->more) > c->w->cfg->limits.max_header_bytes * 4 && !h->paused) {
            h->paused = 1;
            conn_pause(c);
        }
        return 0;
    case S_DONE:
        return 0;
    }
    return 0;
}

static void h1_read(conn *c, const char *data, size_t len)
{
    h1c *h = h1_of(c);
    if (!h)
        h = h1c_get(c);
    h->in_read = 1;
    if (h1_read_state(h, data, len))
        return;
    h->in_read = 0;
    h1_release_idle(h);   /* nothing was answered (or all of it is sent) */
}

static void h1_timeout(conn *c)
{
    h1c *h = h1_of(c);
    if (!h) {                 /* no request yet, or idle keep-alive */
        conn_abort(c);
        return;
    }
    size_t queued = conn_queued(c);
    if (h->state == S_HEAD && queued && queued != h->idle_queued) {
        h->idle_queued = queued;   /* a file is still going out, and moving */
        conn_timer(c, c->w->cfg->limits.keepalive_ms);
    } else if (h->state == S_BODY || (h->state == S_HEAD && buf_size(&h->in) && !h->wait_drain)) {
        h1_fail(h, 408, "the request did not arrive in time");
    } else if (h->state != S_HANDLING) {
        conn_abort(c);
    }
}

static void h1_eof(conn *c)
{
    h1c *h = h1_of(c);
    if (!h) {
        conn_close(c);
        return;
    }
    h->eof = 1;
    h->keep_alive = 0;
    if (h->state != S_HANDLING)
        conn_close(c);
}

static void h1_drain(conn *c)
{
    h1c *h = h1_of(c);
    if (!h) {
        conn_close(c);
        return;
    }
    h->keep_alive = 0;
    if (h->state == S_HEAD && !buf_size(&h->in))
        conn_close(c);
}

static void h1_drained(conn *c)
{
    h1c *h = h1_of(c);
    if (!h)
        return;
    if (h->wait_drain) {
        h->wait_drain = 0;
        if (h->paused && h->state == S_HEAD) {
            h->paused = 0;
            conn_resume(c);
        }
        if (!h->in_process && h1_process(h))
            return;
    } else if (h->state == S_HANDLING && h->req.on_writable) {
        h->req.on_writable(&h->req);
        return;
    }
    h1_release_idle(h);
}

static void h1_close(conn *c)
{
    h1c *h = h1_of(c);
    if (!h)
        return;
    if (h->state == S_HANDLING && !h->req.finished && h->req.on_abort) {
        h->state = S_DONE;
        h->req.on_abort(&h->req);
    }
    h1_free(h);
}

const conn_proto http1_proto = {
    .name = "http/1.1",
    .open = h1_open,
    .read = h1_read,
    .drained = h1_drained,
    .timeout = h1_timeout,
    .eof = h1_eof,
    .close = h1_close,
    .drain = h1_drain,
};
