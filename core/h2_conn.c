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
 * The engine is spread over five files along its seams: this one (the
 * connection's lifetime, input cut into frames, closing streams, timers, the
 * three ways in), h2_recv.c (header blocks and request bodies),
 * h2_control.c (SETTINGS, PING, GOAWAY, RST_STREAM, PRIORITY,
 * WINDOW_UPDATE and the flood defences), h2_send.c (output and the DATA
 * pump) and h2_stream.c (a stream's request and response as the app sees
 * them); h2_stream.h holds what they share.
 *
 * Output is framed into one buffer and handed to the conn when control
 * leaves the engine (h2_leave). The conn's one timer serves every deadline:
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

void h2_trace_frame(h2_conn *h, char dir, const h2_frame *f)
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

/* ---- connection errors, closing streams ---- */

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

void h2_remember_closed(h2_conn *h, uint32_t id, int how)
{
    h->closed[h->closed_pos % H2_CLOSED_RING].id = id;
    h->closed[h->closed_pos % H2_CLOSED_RING].how = (uint8_t)how;
    h->closed_pos++;
}

int h2_closed_how(h2_conn *h, uint32_t id)
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
    h2_remember_closed(h, s->id, how);
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

void h2_reset_id(h2_conn *h, uint32_t id, uint32_t code)
{
    h2_build_rst_stream(&h->wbuf, id, code);
    h2_write(h);
    h2_remember_closed(h, id, H2_CLOSED_RST_SENT);
}

h2_stream *h2_find_stream(h2_conn *h, uint32_t id)
{
    for (h2_stream *s = h->streams; s; s = s->next)
        if (s->id == id && s->state != H2S_CLOSED)
            return s;
    return NULL;
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
        while ((buf_size(&h->wbuf) || h->nseg) && !h->dead)
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
    h->direct = !conn_is_tls(c) && !h->trace;
    hpack_dec_init(&h->dec, 4096, h->max_header_bytes);
    hpack_enc_init(&h->enc, 4096);
    if (h->trace) {
        h->dec.trace = h->enc.trace = trace_hpack;
        h->dec.trace_ud = h->enc.trace_ud = h;
    }
    uint64_t now = h2_now();
    h2_buckets_init(h, now);
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

/* ---- input: frames to their handlers (one per type; <0: the connection is ending) ---- */

int h2_conn_fail(h2_conn *h, uint32_t code, const char *why)
{
    h2_conn_error(h, code, why ? why : h2_error_name(code));
    return -1;
}

typedef int (*frame_handler)(h2_conn *h, const h2_frame *f);
static const frame_handler frame_handlers[H2_FRAME_TYPES] = {
    h2_on_data, h2_on_headers, h2_on_priority, h2_on_rst_stream, h2_on_settings,
    h2_on_push_promise, h2_on_ping, h2_on_goaway, h2_on_window_update, h2_on_continuation,
};

static int dispatch_frame(h2_conn *h, const h2_frame *f)
{
    if (!h->got_settings) {
        if (f->type != H2_SETTINGS || (f->flags & H2_FLAG_ACK))
            return h2_conn_fail(h, H2_PROTOCOL_ERROR, "the client preface must be followed by SETTINGS");
        h->got_settings = 1;
    }
    if (h->hb_active && (f->type != H2_CONTINUATION || f->stream_id != h->hb_stream))
        return h2_conn_fail(h, H2_PROTOCOL_ERROR, "frame interleaved in a header block");
    if (f->type >= H2_FRAME_TYPES)
        return 0;   /* unknown types are ignored (§4.1) */
    return frame_handlers[f->type](h, f);
}

static void process_input(h2_conn *h)
{
    if (!h->preface_ok) {
        size_t n = buf_size(&h->in) < H2_PREFACE_LEN ? buf_size(&h->in) : H2_PREFACE_LEN;
        if (memcmp(buf_head(&h->in), H2_PREFACE, n) != 0) {
            h2_conn_fail(h, H2_PROTOCOL_ERROR, "invalid connection preface");
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
            h2_conn_fail(h, H2_ERR_CODE(n), why);
            break;
        }
        if (h->trace)
            h2_trace_frame(h, '<', &f);
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
            h2_conn_fail(h, H2_ENHANCE_YOUR_CALM, "connection flow-control window closed too long");
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
        h2_conn_fail(h, H2_SETTINGS_TIMEOUT, "no SETTINGS ACK");
    } else if (h->draining && now >= h->drain_started + H2_DRAIN_MS) {
        h->closing = 1;
        h2_flush(h);
        conn_close(c);
    } else if (conn_queued(c) > 0 && now >= h->last_drain + h->stall_ms) {
        h->closing = 1;
        conn_abort(c);                   /* the peer stopped reading */
    } else if (!busy && now >= h->last_activity + (waiting ? h->idle_stream_ms : h->keepalive_ms)) {
        h2_conn_fail(h, H2_NO_ERROR, waiting ? "request timeout" : "idle timeout");
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
