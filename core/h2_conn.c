/*
 * h2_conn.c — the HTTP/2 connection engine (RFC 9113); see h2_conn.h.
 *
 * Input is cut into frames by h2_frame_read() and dispatched through a table
 * of handlers indexed by frame type (h2o style). While a header block is
 * open, the only frame allowed is a CONTINUATION on the same stream (§6.10);
 * the block is decoded once complete, always — even for streams we refuse or
 * have reset — because HPACK state is shared by the whole connection.
 *
 * Errors follow §5.4: a handler either calls h2_conn_error() (GOAWAY with the
 * last stream id, then close) or h2_stream_reset() (RST_STREAM, the stream
 * goes to closed). Closed streams are remembered in a small ring so that a
 * frame on a stream we reset is ignored, while one on a stream closed
 * normally is STREAM_CLOSED (§5.1).
 *
 * Output is framed into one buffer and handed to the conn in one write when
 * control leaves the engine (h2_leave). DATA: h2_pump() frames the
 * response bodies queued on each stream, round-robin one frame per stream
 * per pass, within the connection and stream send windows, the peer's
 * SETTINGS_MAX_FRAME_SIZE and a high-water mark of queued bytes (resumed by
 * conn's drained() callback). The conn's one timer serves every deadline:
 * SETTINGS ACK, idle keep-alive, slow requests, stalled windows, drain.
 * Floods are metered with token buckets (rapid reset, SETTINGS, PING, empty
 * frames, PRIORITY) and answered with GOAWAY(ENHANCE_YOUR_CALM).
 */
#include "core/h2_conn.h"
#include "core/h2_stream.h"
#include "core/http1_conn.h"
#include "core/server.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static uint64_t h2_clock_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
static uint64_t (*h2_clock)(void) = h2_clock_real;   /* tests substitute theirs */
uint64_t h2_now(void) { return h2_clock(); }

/* ---- tracing (--trace-h2) ---- */

void h2_tracef(h2_conn *h, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "h2 [%llu] %s\n", (unsigned long long)h->c->id, line);
}

static void trace_hpack(void *ud, const char *line) { h2_tracef(ud, "  hpack: %s", line); }

static void trace_frame(h2_conn *h, char dir, const h2_frame *f)
{
    char fl[64], extra[160] = "";
    const uint8_t *p = f->payload;
    h2_flags_describe(fl, sizeof fl, f->type, f->flags);
    if (f->type == H2_RST_STREAM && f->length == 4)
        snprintf(extra, sizeof extra, " error=%s", h2_error_name((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]));
    else if (f->type == H2_WINDOW_UPDATE && f->length == 4)
        snprintf(extra, sizeof extra, " increment=%u", ((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]) & 0x7fffffff);
    else if (f->type == H2_GOAWAY && f->length >= 8)
        snprintf(extra, sizeof extra, " last_stream=%u error=%s \"%.*s\"",
                 ((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]) & 0x7fffffff,
                 h2_error_name((uint32_t)p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7]),
                 (int)(f->length - 8 > 80 ? 80 : f->length - 8), (const char *)p + 8);
    else if (f->type == H2_PING && f->length == 8)
        snprintf(extra, sizeof extra, " opaque=%02x%02x%02x%02x%02x%02x%02x%02x", p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
    h2_tracef(h, "%c %s stream=%u len=%u flags=%s%s", dir, h2_frame_type_name(f->type), f->stream_id, f->length, fl, extra);
    if (f->type == H2_SETTINGS && f->length % 6 == 0)
        for (uint32_t i = 0; i < f->length; i += 6)
            h2_tracef(h, "  %s=%u", h2_setting_name((uint16_t)(p[i] << 8 | p[i + 1])),
                      (uint32_t)p[i + 2] << 24 | p[i + 3] << 16 | p[i + 4] << 8 | p[i + 5]);
}

/* ---- output ---- */

/* Frames are appended to h->wbuf and leave in one conn_write when control
 * leaves the engine (h2_flush), so a read that answers many streams costs
 * one copy into the conn (and one TLS record batch), not one per frame.
 * h2_write() marks the frames built so far as done: it traces them. */
void h2_write(h2_conn *h)
{
    if (h->trace) {
        h2_frame f;
        const char *why;
        long n;
        while ((n = h2_frame_read(&f, (const uint8_t *)buf_head(&h->wbuf) + h->wtraced, buf_size(&h->wbuf) - h->wtraced,
                                  H2_MAX_FRAME_SIZE, &why)) > 0) {
            trace_frame(h, '>', &f);
            h->wtraced += (size_t)n;
        }
    }
}

/* Hand everything framed so far to the conn. wbuf is emptied first: a write
 * that completes at once calls drained(), which may frame more into it (the
 * conn has copied the bytes by then; buf_reset keeps the memory). */
void h2_flush(h2_conn *h)
{
    const char *p = buf_head(&h->wbuf);
    size_t n = buf_size(&h->wbuf);
    buf_reset(&h->wbuf);
    h->wtraced = 0;
    if (h->dead || !n)
        return;
    if (conn_queued(h->c) == 0)
        h->last_drain = h2_now();     /* the stall clock starts with a non-empty queue */
    conn_write(h->c, p, n);
}

void h2_conn_error(h2_conn *h, uint32_t code, const char *why)
{
    if (h->closing || h->dead)
        return;
    if (h->trace)
        h2_tracef(h, "connection error %s: %s", h2_error_name(code), why);
    h2_build_goaway(&h->wbuf, h->last_stream_id, code, why, strlen(why));
    h2_write(h);
    h->goaway_sent = 1;
    h->closing = 1;
    h2_flush(h);
    conn_close(h->c);
}

static void remember_closed(h2_conn *h, uint32_t id, int how)
{
    h->closed[h->closed_pos % H2_CLOSED_RING].id = id;
    h->closed[h->closed_pos % H2_CLOSED_RING].how = (uint8_t)how;
    h->closed_pos++;
}

static int closed_how(h2_conn *h, uint32_t id)
{
    for (unsigned i = 0; i < H2_CLOSED_RING; i++)
        if (h->closed[i].id == id)
            return h->closed[i].how;
    return 0;
}

void h2_stream_close(h2_conn *h, h2_stream *s, int how)
{
    if (s->state == H2S_CLOSED)
        return;
    s->state = H2S_CLOSED;
    h->nstreams--;
    h->last_activity = h2_now();
    remember_closed(h, s->id, how);
    if (s->app_held && s->req.on_abort) {
        s->app_held = 0;
        s->req.on_abort(&s->req);
    } else if (s->app_held) {
        s->zombie = 1;
    }
}

void h2_stream_reset(h2_conn *h, h2_stream *s, uint32_t code)
{
    if (s->state == H2S_CLOSED)
        return;
    h2_build_rst_stream(&h->wbuf, s->id, code);
    h2_write(h);
    h2_stream_close(h, s, H2_CLOSED_RST_SENT);
}

static void reset_id(h2_conn *h, uint32_t id, uint32_t code)
{
    h2_build_rst_stream(&h->wbuf, id, code);
    h2_write(h);
    remember_closed(h, id, H2_CLOSED_RST_SENT);
}

static h2_stream *find_stream(h2_conn *h, uint32_t id)
{
    for (h2_stream *s = h->streams; s; s = s->next)
        if (s->id == id && s->state != H2S_CLOSED)
            return s;
    return NULL;
}

/* One DATA frame from stream s, or none when no window; returns 1 if sent. */
static int pump_stream(h2_conn *h, h2_stream *s, uint64_t now)
{
    size_t avail = buf_size(&s->out);
    if (s->state == H2S_CLOSED || s->end_sent || !s->headers_sent || (!avail && !s->out_fin))
        return 0;
    size_t n = avail < h->peer.max_frame_size ? avail : h->peer.max_frame_size;
    if (n > 0) {
        int64_t win = s->send_window < h->send_window ? s->send_window : h->send_window;
        if (win <= 0) {
            if (!s->stall_since)
                s->stall_since = now;
            return 0;
        }
        if ((int64_t)n > win)
            n = (size_t)win;
    }
    s->stall_since = 0;
    int fin = s->out_fin && n == avail;
    h2_build_data(&h->wbuf, s->id, h2_bptr(&s->out), n, fin);
    h2_write(h);
    buf_consume(&s->out, n);
    s->send_window -= (int64_t)n;
    h->send_window -= (int64_t)n;
    if (fin) {
        s->end_sent = 1;
        h2_stream_maybe_done(h, s);
    } else if (!buf_size(&s->out) && s->want_writable && s->app_held) {
        s->want_writable = 0;
        if (s->req.on_writable)
            s->req.on_writable(&s->req);
    }
    return 1;
}

void h2_pump(h2_conn *h)
{
    if (h->pumping) {
        h->pump_again = 1;     /* the running pump goes round once more */
        return;
    }
    if (h->closing || h->dead)
        return;
    h->pumping = 1;
    uint64_t now = h2_now();
    for (int progress = 1; progress;) {
        progress = 0;
        h->pump_again = 0;
        for (h2_stream *s = h->streams; s; s = s->next) {
            if (conn_queued(h->c) + buf_size(&h->wbuf) >= H2_HIGH_WATER || h->closing)
                goto out;
            progress |= pump_stream(h, s, now);
        }
        progress |= h->pump_again;
    }
out:
    h->pumping = 0;
}

/* New body bytes on one stream. Every other stream is where the last full
 * pump left it: blocked by its own window, or by the connection's window or
 * the high-water mark, which block this one too. So framing this stream
 * alone is what h2_pump() would do, without a pass over every stream; if
 * anything else got data meanwhile (an on_writable callback), a full pump
 * follows. */
void h2_pump_stream(h2_conn *h, h2_stream *s)
{
    if (h->pumping) {
        h->pump_again = 1;
        return;
    }
    if (h->closing || h->dead)
        return;
    h->pumping = 1;
    h->pump_again = 0;
    uint64_t now = h2_now();
    while (conn_queued(h->c) + buf_size(&h->wbuf) < H2_HIGH_WATER && !h->closing && pump_stream(h, s, now))
        ;
    h->pumping = 0;
    if (h->pump_again)
        h2_pump(h);
}

/* ---- lifetime ---- */

static void stream_unlink_all(h2_conn *h, int all)
{
    for (h2_stream **pp = &h->streams; *pp;) {
        h2_stream *s = *pp;
        if (!all && s->state != H2S_CLOSED) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        if (s->app_held) {          /* the app still has it: a zombie until fin */
            s->h = NULL;
            s->next = NULL;
        } else {
            h2_stream_free(s);
        }
    }
}

static void h2_free(h2_conn *h)
{
    for (h2_stream *s = h->streams; s; s = s->next)
        if (s->state != H2S_CLOSED) {
            s->state = H2S_CLOSED;   /* no frames now: the conn is gone */
            if (s->app_held && s->req.on_abort) {
                s->app_held = 0;
                s->req.on_abort(&s->req);
            }
        }
    stream_unlink_all(h, 1);
    hpack_dec_free(&h->dec);
    hpack_enc_free(&h->enc);
    buf_free(&h->in);
    buf_free(&h->wbuf);
    buf_free(&h->hb);
    buf_free(&h->hblk);
    buf_free(&h->hkey);
    buf_free(&h->hcache);
    free(h);
}

static void update_timer(h2_conn *h);

void h2_enter(h2_conn *h) { h->depth++; }

/* Leaving the engine: reap closed streams, close a drained connection,
 * re-arm the timer; free everything if the conn closed meanwhile. */
void h2_leave(h2_conn *h)
{
    if (h->depth > 1) {
        h->depth--;
        return;
    }
    if (!h->dead) {
        while (buf_size(&h->wbuf) && !h->dead)
            h2_flush(h);        /* a write that completes at once calls drained(), which pumps more */
        stream_unlink_all(h, 0);
        if (!h->closing && (h->draining || h->peer_goaway) && h->nstreams == 0 && !h->streams) {
            h->closing = 1;
            conn_close(h->c);
        }
        if (!h->dead && !h->closing)
            update_timer(h);
    }
    h->depth = 0;
    if (h->dead)
        h2_free(h);
}

static void bucket_init(h2_bucket *b, double burst, uint64_t now) { b->tokens = burst; b->at = now; }

/* Take one token from a bucket refilled at per_sec up to burst; <0: empty. */
static int bucket_take(h2_bucket *b, double burst, double per_sec, uint64_t now)
{
    b->tokens += (double)(now - b->at) * per_sec / 1000.0;
    if (b->tokens > burst)
        b->tokens = burst;
    b->at = now;
    if (b->tokens < 1.0)
        return -1;
    b->tokens -= 1.0;
    return 0;
}

#define RST_BURST 200.0
#define RST_RATE 50.0
#define CTRL_BURST 50.0
#define CTRL_RATE 10.0
#define PRIO_BURST 500.0
#define PRIO_RATE 100.0

static int calm(h2_conn *h, h2_bucket *b, double burst, double rate, const char *what)
{
    if (bucket_take(b, burst, rate, h2_now()) == 0)
        return 0;
    h2_conn_error(h, H2_ENHANCE_YOUR_CALM, what);
    return -1;
}

static h2_conn *h2_new(conn *c)
{
    h2_conn *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    const server_config *cfg = c->w ? c->w->cfg : NULL;
    const server_limits *l = cfg ? &cfg->limits : NULL;
    h->c = c;
    h->peer = h2_settings_default;
    h->send_window = H2_DEFAULT_WINDOW;
    h->recv_window = H2_CONN_WINDOW;
    h->max_streams = l && l->h2_max_streams ? l->h2_max_streams : 100;
    h->max_header_bytes = l && l->max_header_bytes ? (uint32_t)l->max_header_bytes : 16384;
    h->max_headers = l && l->max_headers ? (uint32_t)l->max_headers : 100;
    h->max_body = l && l->max_body_bytes ? l->max_body_bytes : 10u << 20;
    h->keepalive_ms = l && l->keepalive_ms ? l->keepalive_ms : 20000;
    h->idle_stream_ms = l && l->body_timeout_ms ? l->body_timeout_ms : 30000;
    h->stall_ms = h->idle_stream_ms;
    h->trace = cfg && cfg->trace_h2;
    hpack_dec_init(&h->dec, 4096, h->max_header_bytes);
    hpack_enc_init(&h->enc, 4096);
    if (h->trace) {
        h->dec.trace = h->enc.trace = trace_hpack;
        h->dec.trace_ud = h->enc.trace_ud = h;
    }
    uint64_t now = h2_now();
    bucket_init(&h->rst_budget, RST_BURST, now);
    bucket_init(&h->settings_budget, CTRL_BURST, now);
    bucket_init(&h->ping_budget, CTRL_BURST, now);
    bucket_init(&h->empty_budget, CTRL_BURST, now);
    bucket_init(&h->prio_budget, PRIO_BURST, now);
    h->last_activity = h->last_drain = now;
    return h;
}

/* The server preface: our SETTINGS, and a larger connection window. */
static void send_preface(h2_conn *h)
{
    uint32_t s[] = {H2_SETTINGS_MAX_CONCURRENT_STREAMS, h->max_streams,
                    H2_SETTINGS_INITIAL_WINDOW_SIZE, H2_LOCAL_WINDOW,
                    H2_SETTINGS_MAX_HEADER_LIST_SIZE, h->max_header_bytes,
                    H2_SETTINGS_ENABLE_PUSH, 0};
    h2_build_settings(&h->wbuf, s, 4);
    h2_build_window_update(&h->wbuf, 0, H2_CONN_WINDOW - H2_DEFAULT_WINDOW);
    h2_write(h);
    h->settings_unacked = 1;
    h->settings_sent_at = h2_now();
}

/* ---- frame handlers (one per type; <0 means the connection is ending) ---- */

static int conn_fail(h2_conn *h, uint32_t code, const char *why)
{
    h2_conn_error(h, code, why ? why : h2_error_name(code));
    return -1;
}

static void window_update(h2_conn *h, uint32_t id, uint32_t *unacked, int64_t *window)
{
    h2_build_window_update(&h->wbuf, id, *unacked);
    h2_write(h);
    *window += *unacked;
    *unacked = 0;
}

/* END_STREAM from the client: the request is whole. */
static void request_complete(h2_conn *h, h2_stream *s)
{
    s->state = H2S_HALF_CLOSED_REMOTE;
    if (s->headers_sent) {               /* the engine answered already (413, 431) */
        h2_stream_maybe_done(h, s);
        return;
    }
    if (s->content_length >= 0 && (uint64_t)s->content_length != s->body_seen) {
        h2_stream_reset(h, s, H2_PROTOCOL_ERROR);
        return;
    }
    h2_stream_dispatch(h, s);
}

static void hb_complete(h2_conn *h)
{
    static _Thread_local h2_stream discard;          /* fields traced, never stored */
    h2_stream *s = h->hb_mode == H2_HB_DISCARD ? NULL : find_stream(h, h->hb_stream);
    int end = h->hb_flags & H2_FLAG_END_STREAM;
    const char *err = NULL;
    size_t off = 0;
    h->hb_active = 0;
    if (s)
        s->in_trailers = h->hb_mode == H2_HB_TRAILERS;
    else
        discard = (h2_stream){.h = h, .malformed = 1};
    int rc = hpack_decode_block(&h->dec, (const uint8_t *)h2_bptr(&h->hb), buf_size(&h->hb),
                                h2_stream_field, s ? s : &discard, &err, &off);
    buf_reset(&h->hb);
    if (rc != HPACK_OK && rc != HPACK_ERR_HEADER_LIST_TOO_LARGE) {
        conn_fail(h, H2_COMPRESSION_ERROR, err ? err : "bad header block");
        return;
    }
    if (!s || h->hb_reset) {
        h2_stream *t = find_stream(h, h->hb_stream);
        if (t && h->hb_reset)
            h2_stream_reset(h, t, h->hb_reset);
        else if (h->hb_reset)
            reset_id(h, h->hb_stream, h->hb_reset);
        return;
    }
    if (rc == HPACK_ERR_HEADER_LIST_TOO_LARGE || s->nfields > h->max_headers) {
        if (end)
            s->state = H2S_HALF_CLOSED_REMOTE;
        h2_stream_respond_error(h, s, 431);
        return;
    }
    if (h->hb_mode == H2_HB_TRAILERS) {
        if (!end || s->malformed)
            h2_stream_reset(h, s, H2_PROTOCOL_ERROR);
        else
            request_complete(h, s);
        return;
    }
    if (h2_stream_check_request(s) < 0) {
        if (h->trace)
            h2_tracef(h, "malformed request on stream %u: %s", s->id, s->malformed_why);
        h2_stream_reset(h, s, H2_PROTOCOL_ERROR);
        return;
    }
    if (s->content_length >= 0 && (uint64_t)s->content_length > h->max_body) {
        if (end)
            s->state = H2S_HALF_CLOSED_REMOTE;
        h2_stream_respond_error(h, s, 413);
        return;
    }
    if (end)
        request_complete(h, s);
}

static int hb_append(h2_conn *h, const uint8_t *p, size_t n, int end_headers)
{
    if (buf_size(&h->hb) + n > 2 * (size_t)h->max_header_bytes + 1024)
        return conn_fail(h, H2_ENHANCE_YOUR_CALM, "header block too large (CONTINUATION flood)");
    if (n == 0 && !end_headers && calm(h, &h->empty_budget, CTRL_BURST, CTRL_RATE, "empty frame flood") < 0)
        return -1;
    buf_append(&h->hb, p, n);
    if (end_headers)
        hb_complete(h);
    return 0;
}

static int on_headers(h2_conn *h, const h2_frame *f)
{
    h2_headers hd;
    const char *why = NULL;
    uint32_t id = f->stream_id, reset = 0;
    int mode = H2_HB_NEW, rc = h2_decode_headers(&hd, f, &why);
    if (rc < 0 && !H2_ERR_IS_STREAM(rc))
        return conn_fail(h, H2_ERR_CODE(rc), why);
    if (rc < 0)
        reset = H2_ERR_CODE(rc);        /* decode the block first, then reset */
    if (!(id & 1))
        return conn_fail(h, H2_PROTOCOL_ERROR, "HEADERS on an even (server) stream id");
    h2_stream *s = id > h->max_seen_id ? NULL : find_stream(h, id);   /* a new id has no stream */
    if (s) {
        mode = s->state == H2S_OPEN ? H2_HB_TRAILERS : H2_HB_DISCARD;
        if (s->state != H2S_OPEN)
            reset = H2_STREAM_CLOSED;   /* half-closed (remote), §5.1 */
    } else if (id <= h->max_seen_id) {
        int how = closed_how(h, id);
        if (how == H2_CLOSED_RST_SENT)
            mode = H2_HB_DISCARD;       /* we reset it: ignore, keep HPACK in sync */
        else if (how)
            return conn_fail(h, H2_STREAM_CLOSED, "HEADERS on a closed stream");
        else
            return conn_fail(h, H2_PROTOCOL_ERROR, "stream id not greater than the previous ones");
    } else {
        h->max_seen_id = id;
        if (h->goaway_sent || h->nstreams >= h->max_streams) {
            if (calm(h, &h->rst_budget, RST_BURST, RST_RATE, "too many refused streams") < 0)
                return -1;
            mode = H2_HB_DISCARD;
            reset = H2_REFUSED_STREAM;
        } else {
            s = h2_stream_new(h, id);
            if (!s)
                return conn_fail(h, H2_INTERNAL_ERROR, "out of memory");
            h->last_stream_id = id;
        }
    }
    h->hb_active = 1;
    h->hb_stream = id;
    h->hb_flags = f->flags;
    h->hb_mode = mode;
    h->hb_reset = reset;
    return hb_append(h, hd.block, hd.len, f->flags & H2_FLAG_END_HEADERS);
}

static int on_continuation(h2_conn *h, const h2_frame *f)
{
    const char *why = NULL;
    if (h2_decode_continuation(f, &why) < 0 || !h->hb_active)
        return conn_fail(h, H2_PROTOCOL_ERROR, why ? why : "CONTINUATION without a header block");
    return hb_append(h, f->payload, f->length, f->flags & H2_FLAG_END_HEADERS);
}

static int stream_data(h2_conn *h, h2_stream *s, const h2_frame *f, const h2_data *d)
{
    int end = f->flags & H2_FLAG_END_STREAM;
    s->recv_window -= f->length;
    if (f->length == 0 && !end && calm(h, &h->empty_budget, CTRL_BURST, CTRL_RATE, "empty frame flood") < 0)
        return -1;
    s->body_seen += d->len;
    if (s->content_length >= 0 && s->body_seen > (uint64_t)s->content_length) {
        h2_stream_reset(h, s, H2_PROTOCOL_ERROR);   /* more DATA than content-length */
        return 0;
    }
    if (!s->headers_sent && s->body_seen > h->max_body) {
        if (end)
            s->state = H2S_HALF_CLOSED_REMOTE;
        h2_stream_respond_error(h, s, 413);
        return 0;
    }
    if (!s->headers_sent)
        buf_append(&s->body, d->data, d->len);
    if (end) {
        request_complete(h, s);
        return 0;
    }
    s->recv_unacked += f->length;
    if (s->recv_unacked >= H2_LOCAL_WINDOW / 2)
        window_update(h, s->id, &s->recv_unacked, &s->recv_window);
    return 0;
}

static int on_data(h2_conn *h, const h2_frame *f)
{
    h2_data d;
    const char *why = NULL;
    int rc = h2_decode_data(&d, f, &why);
    if (rc < 0)
        return conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->stream_id > h->max_seen_id)
        return conn_fail(h, H2_PROTOCOL_ERROR, "DATA on an idle stream");
    if ((int64_t)f->length > h->recv_window)
        return conn_fail(h, H2_FLOW_CONTROL_ERROR, "DATA beyond the connection window");
    h->recv_window -= f->length;
    h->recv_unacked += f->length;
    h2_stream *s = find_stream(h, f->stream_id);
    if (!s) {
        if (closed_how(h, f->stream_id) != H2_CLOSED_RST_SENT)
            reset_id(h, f->stream_id, H2_STREAM_CLOSED);
    } else if (s->state != H2S_OPEN) {
        h2_stream_reset(h, s, H2_STREAM_CLOSED);
    } else if ((int64_t)f->length > s->recv_window) {
        h2_stream_reset(h, s, H2_FLOW_CONTROL_ERROR);
    } else if (stream_data(h, s, f, &d) < 0) {
        return -1;
    }
    if (!h->closing && h->recv_unacked >= H2_CONN_WINDOW / 2)
        window_update(h, 0, &h->recv_unacked, &h->recv_window);
    return 0;
}

static int on_priority(h2_conn *h, const h2_frame *f)
{
    h2_priority p;
    const char *why = NULL;
    int rc = h2_decode_priority(&p, f, &why);
    if (rc < 0 && !H2_ERR_IS_STREAM(rc))
        return conn_fail(h, H2_ERR_CODE(rc), why);
    if (calm(h, &h->prio_budget, PRIO_BURST, PRIO_RATE, "PRIORITY flood") < 0)
        return -1;
    if (rc < 0) {
        h2_stream *s = find_stream(h, f->stream_id);
        if (s)
            h2_stream_reset(h, s, H2_ERR_CODE(rc));
        else if (f->stream_id > h->max_seen_id)   /* no RST_STREAM on an idle stream */
            return conn_fail(h, H2_ERR_CODE(rc), why);
        else if (closed_how(h, f->stream_id) != H2_CLOSED_RST_SENT)
            reset_id(h, f->stream_id, H2_ERR_CODE(rc));   /* closed: still a stream error (§6.3) */
    }
    return 0;   /* priorities are parsed and ignored (RFC 9113 §5.3.2) */
}

static int on_rst_stream(h2_conn *h, const h2_frame *f)
{
    uint32_t code;
    const char *why = NULL;
    int rc = h2_decode_rst_stream(&code, f, &why);
    if (rc < 0)
        return conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->stream_id > h->max_seen_id)
        return conn_fail(h, H2_PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    h2_stream *s = find_stream(h, f->stream_id);
    if (!s)
        return 0;
    if (calm(h, &h->rst_budget, RST_BURST, RST_RATE, "rapid reset") < 0)
        return -1;
    h2_stream_close(h, s, H2_CLOSED_RST_RECV);
    return 0;
}

static int on_settings(h2_conn *h, const h2_frame *f)
{
    h2_settings ns = h->peer;
    const char *why = NULL;
    int rc = h2_decode_settings(&ns, f, &why);
    if (rc < 0)
        return conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->flags & H2_FLAG_ACK) {
        h->settings_unacked = 0;
        return 0;
    }
    if (calm(h, &h->settings_budget, CTRL_BURST, CTRL_RATE, "SETTINGS flood") < 0)
        return -1;
    int64_t delta = (int64_t)ns.initial_window_size - (int64_t)h->peer.initial_window_size;
    for (h2_stream *s = h->streams; s; s = s->next) {
        if (s->state == H2S_CLOSED)
            continue;
        s->send_window += delta;
        if (s->send_window > H2_MAX_WINDOW)
            return conn_fail(h, H2_FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE overflows a window");
    }
    if (ns.header_table_size != h->peer.header_table_size)
        hpack_enc_set_peer_table_size(&h->enc, ns.header_table_size);
    h->peer = ns;
    h2_build_settings_ack(&h->wbuf);
    h2_write(h);
    h2_pump(h);
    return 0;
}

static int on_push_promise(h2_conn *h, const h2_frame *f)
{
    return conn_fail(h, H2_PROTOCOL_ERROR, "PUSH_PROMISE from a client");
}

static int on_ping(h2_conn *h, const h2_frame *f)
{
    const uint8_t *opaque;
    const char *why = NULL;
    int rc = h2_decode_ping(&opaque, f, &why);
    if (rc < 0)
        return conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->flags & H2_FLAG_ACK)
        return 0;
    if (calm(h, &h->ping_budget, CTRL_BURST, CTRL_RATE, "PING flood") < 0)
        return -1;
    h2_build_ping(&h->wbuf, opaque, 1);
    h2_write(h);
    return 0;
}

static int on_goaway(h2_conn *h, const h2_frame *f)
{
    h2_goaway g;
    const char *why = NULL;
    int rc = h2_decode_goaway(&g, f, &why);
    if (rc < 0)
        return conn_fail(h, H2_ERR_CODE(rc), why);
    h->peer_goaway = 1;   /* finish what is open, then close (h2_leave) */
    return 0;
}

static int on_window_update(h2_conn *h, const h2_frame *f)
{
    uint32_t inc = 0;
    const char *why = NULL;
    int rc = h2_decode_window_update(&inc, f, &why);
    if (rc < 0 && !H2_ERR_IS_STREAM(rc))
        return conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->stream_id == 0) {
        if (h->send_window + inc > H2_MAX_WINDOW)
            return conn_fail(h, H2_FLOW_CONTROL_ERROR, "connection window above 2^31-1");
        h->send_window += inc;
        h2_pump(h);
        return 0;
    }
    if (f->stream_id > h->max_seen_id)
        return conn_fail(h, H2_PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
    h2_stream *s = find_stream(h, f->stream_id);
    if (!s)
        return 0;
    if (rc < 0) {
        h2_stream_reset(h, s, H2_ERR_CODE(rc));
    } else if (s->send_window + inc > H2_MAX_WINDOW) {
        h2_stream_reset(h, s, H2_FLOW_CONTROL_ERROR);
    } else {
        s->send_window += inc;
        h2_pump(h);
    }
    return 0;
}

typedef int (*frame_handler)(h2_conn *h, const h2_frame *f);
static const frame_handler frame_handlers[H2_FRAME_TYPES] = {
    on_data, on_headers, on_priority, on_rst_stream, on_settings,
    on_push_promise, on_ping, on_goaway, on_window_update, on_continuation,
};

static int dispatch_frame(h2_conn *h, const h2_frame *f)
{
    if (!h->got_settings) {
        if (f->type != H2_SETTINGS || (f->flags & H2_FLAG_ACK))
            return conn_fail(h, H2_PROTOCOL_ERROR, "the client preface must be followed by SETTINGS");
        h->got_settings = 1;
    }
    if (h->hb_active && (f->type != H2_CONTINUATION || f->stream_id != h->hb_stream))
        return conn_fail(h, H2_PROTOCOL_ERROR, "frame interleaved in a header block");
    if (f->type >= H2_FRAME_TYPES)
        return 0;   /* unknown types are ignored (§4.1) */
    return frame_handlers[f->type](h, f);
}

static void process_input(h2_conn *h)
{
    if (!h->preface_ok) {
        size_t n = buf_size(&h->in) < H2_PREFACE_LEN ? buf_size(&h->in) : H2_PREFACE_LEN;
        if (memcmp(buf_head(&h->in), H2_PREFACE, n) != 0) {
            conn_fail(h, H2_PROTOCOL_ERROR, "invalid connection preface");
            return;
        }
        if (n < H2_PREFACE_LEN)
            return;
        buf_consume(&h->in, H2_PREFACE_LEN);
        h->preface_ok = 1;
    }
    while (!h->closing) {
        h2_frame f;
        const char *why = NULL;
        long n = h2_frame_read(&f, (const uint8_t *)buf_head(&h->in), buf_size(&h->in), H2_DEFAULT_FRAME_SIZE, &why);
        if (n == H2_INCOMPLETE)
            break;
        if (n < 0) {
            conn_fail(h, H2_ERR_CODE(n), why);
            break;
        }
        if (h->trace)
            trace_frame(h, '<', &f);
        if (dispatch_frame(h, &f) < 0)
            break;
        buf_consume(&h->in, (size_t)n);
    }
}

/* ---- timers: one conn timer for every deadline ---- */

static void stream_activity(h2_conn *h, int *busy, int *waiting)
{
    *busy = *waiting = 0;
    for (h2_stream *s = h->streams; s; s = s->next) {
        if (s->state == H2S_CLOSED)
            continue;
        if (s->app_held || s->headers_sent)
            *busy = 1;
        else
            *waiting = 1;
    }
}

static void update_timer(h2_conn *h)
{
    uint64_t now = h2_now(), next = UINT64_MAX;
    int busy, waiting;
#define SOONER(t) do { uint64_t t_ = (t); if (t_ < next) next = t_; } while (0)
    if (h->settings_unacked)
        SOONER(h->settings_sent_at + H2_SETTINGS_TIMEOUT_MS);
    if (h->draining)
        SOONER(h->drain_started + H2_DRAIN_MS);
    if (conn_queued(h->c) > 0)
        SOONER(h->last_drain + h->stall_ms);
    for (h2_stream *s = h->streams; s; s = s->next)
        if (s->state != H2S_CLOSED && s->stall_since)
            SOONER(s->stall_since + h->stall_ms);
    stream_activity(h, &busy, &waiting);
    if (!busy)
        SOONER(h->last_activity + (waiting ? h->idle_stream_ms : h->keepalive_ms));
#undef SOONER
    conn_timer(h->c, next == UINT64_MAX ? 0 : next > now ? next - now : 1);
}

static void check_stalls(h2_conn *h, uint64_t now)
{
    for (h2_stream *s = h->streams; s && !h->closing; s = s->next) {
        if (s->state == H2S_CLOSED || !s->stall_since || now < s->stall_since + h->stall_ms)
            continue;
        if (h->send_window <= 0) {
            conn_fail(h, H2_ENHANCE_YOUR_CALM, "connection flow-control window closed too long");
            return;
        }
        if (h->trace)
            h2_tracef(h, "stream %u: send window closed too long", s->id);
        h2_stream_reset(h, s, H2_CANCEL);
    }
}

static void h2_timeout(conn *c)
{
    h2_conn *h = c->proto_data;
    if (!h || h->closing)
        return;
    h2_enter(h);
    uint64_t now = h2_now();
    int busy, waiting;
    stream_activity(h, &busy, &waiting);
    if (h->settings_unacked && now >= h->settings_sent_at + H2_SETTINGS_TIMEOUT_MS) {
        conn_fail(h, H2_SETTINGS_TIMEOUT, "no SETTINGS ACK");
    } else if (h->draining && now >= h->drain_started + H2_DRAIN_MS) {
        h->closing = 1;
        h2_flush(h);
        conn_close(c);
    } else if (conn_queued(c) > 0 && now >= h->last_drain + h->stall_ms) {
        h->closing = 1;
        conn_abort(c);                   /* the peer stopped reading */
    } else if (!busy && now >= h->last_activity + (waiting ? h->idle_stream_ms : h->keepalive_ms)) {
        conn_fail(h, H2_NO_ERROR, waiting ? "request timeout" : "idle timeout");
    } else {
        check_stalls(h, now);
    }
    h2_leave(h);
}

/* ---- conn_proto ---- */

static int h2_open(conn *c)
{
    h2_conn *h = h2_new(c);
    if (!h)
        return -1;
    c->proto_data = h;
    h2_enter(h);
    send_preface(h);
    h2_leave(h);
    return 0;
}

static void h2_read(conn *c, const char *data, size_t len)
{
    h2_conn *h = c->proto_data;
    if (!h || h->closing)
        return;
    h2_enter(h);
    buf_append(&h->in, data, len);
    h->last_activity = h2_now();
    process_input(h);
    h2_leave(h);
}

static void h2_drained(conn *c)
{
    h2_conn *h = c->proto_data;
    if (!h)
        return;
    h2_enter(h);
    h->last_drain = h2_now();
    h2_pump(h);
    h2_leave(h);
}

static void h2_eof(conn *c)
{
    h2_conn *h = c->proto_data;
    if (h)
        h->closing = 1;
    conn_close(c);
}

static void h2_close(conn *c)
{
    h2_conn *h = c->proto_data;
    c->proto_data = NULL;
    if (!h)
        return;
    h->dead = 1;
    h->closing = 1;
    if (h->depth == 0)
        h2_free(h);
}

void h2_conn_shutdown(conn *c)
{
    h2_conn *h = c->proto == &h2_proto ? c->proto_data : NULL;
    if (!h) {
        conn_close(c);
        return;
    }
    if (h->closing || h->draining)
        return;
    h2_enter(h);
    h->draining = 1;
    h->drain_started = h2_now();
    h2_build_goaway(&h->wbuf, h->last_stream_id, H2_NO_ERROR, "shutting down", 13);
    h2_write(h);
    h->goaway_sent = 1;
    h2_leave(h);
}

const conn_proto h2_proto = {
    .name = "h2",
    .open = h2_open,
    .read = h2_read,
    .drained = h2_drained,
    .timeout = h2_timeout,
    .eof = h2_eof,
    .close = h2_close,
    .drain = h2_conn_shutdown,
};

int h2_conn_takeover(conn *c, const char *data, size_t len)
{
    h2_conn *h = h2_new(c);
    if (!h)
        return -1;
    conn_set_proto(c, &h2_proto, h);
    h2_enter(h);
    send_preface(h);
    h2_leave(h);
    h2_read(c, data, len);
    return 0;
}

static int is_upgrade_dropped(const char *n, size_t len)
{
    static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                        "upgrade", "http2-settings", "te", "host"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], n, len) == 0)
            return 1;
    return 0;
}

int h2_conn_upgrade(conn *c, const char *settings_b64, size_t settings_len,
                    const http_req *req, const char *rest, size_t rest_len)
{
    uint8_t raw[256];
    const char *why = NULL;
    h2_settings peer = h2_settings_default;
    long n = h2_base64url_decode(raw, sizeof raw, settings_b64, settings_len);
    if (n < 0 || h2_settings_apply(&peer, raw, (size_t)n, &why) < 0)
        return -1;
    h2_conn *h = h2_new(c);
    if (!h)
        return -1;
    h->peer = peer;
    hpack_enc_set_peer_table_size(&h->enc, peer.header_table_size);
    conn_set_proto(c, &h2_proto, h);
    h2_enter(h);
    conn_puts(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    send_preface(h);
    h2_stream *s = h2_stream_new(h, 1);
    h->last_stream_id = h->max_seen_id = 1;   /* stream 1 is used: not idle (RFC 9113 §3.3) */
    s->state = H2S_HALF_CLOSED_REMOTE;
    s->have[H2P_METHOD] = s->have[H2P_SCHEME] = s->have[H2P_PATH] = s->have[H2P_AUTHORITY] = 1;
    const char *pv[H2P_COUNT] = {req->method, "http", req->target, req->host};
    size_t pl[H2P_COUNT] = {req->method_len, 4, req->target_len, req->host_len};
    for (int i = 0; i < H2P_COUNT; i++) {
        s->pseudo[i].voff = (uint32_t)buf_size(&s->strings);
        s->pseudo[i].vlen = (uint32_t)pl[i];
        buf_append(&s->strings, pv[i], pl[i]);
    }
    for (size_t i = 0; i < req->nheaders; i++)
        if (!is_upgrade_dropped(req->headers[i].name, req->headers[i].name_len))
            h2_stream_add_field(s, req->headers[i].name, req->headers[i].name_len,
                                req->headers[i].value, req->headers[i].value_len);
    buf_append(&s->body, req->body, req->body_len);
    h2_stream_dispatch(h, s);
    h2_leave(h);
    if (rest_len && c->proto_data == h)
        h2_read(c, rest, rest_len);
    return 0;
}

/* The HTTP/1.1 driver's way in (core/http1_conn.h). It has handed the conn
 * over already, so a refused upgrade (bad HTTP2-Settings) ends here too:
 * 400 and close (RFC 7540 §3.2.1: the header must decode). */
static int http1_upgrade_hook(conn *c, const char *settings_b64, size_t settings_len,
                              void *h1_req, const char *rest, size_t rest_len)
{
    if (h2_conn_upgrade(c, settings_b64, settings_len, h1_req, rest, rest_len) == 0)
        return 0;
    conn_puts(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
                 "Connection: close\r\n\r\ninvalid HTTP2-Settings.\n");
    conn_close(c);
    return -1;
}

const http1_h2_hooks h2_http1_hooks = {h2_conn_takeover, http1_upgrade_hook};
