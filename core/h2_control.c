/*
 * h2_control.c — the HTTP/2 control frames (RFC 9113 §6.3–§6.9): PRIORITY,
 * RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY and WINDOW_UPDATE, one
 * handler each, called from h2_conn.c's table of frame handlers.
 *
 * Each handler decodes its frame with core/h2_frame.c, applies it to the
 * connection or stream, and answers (SETTINGS ACK, PING ACK) into the output
 * buffer. Send-window credit (WINDOW_UPDATE, a larger
 * SETTINGS_INITIAL_WINDOW_SIZE) resumes the DATA pump (h2_send.c). The flood
 * defences live here too: token buckets metering client resets, refused
 * streams, SETTINGS, PING, empty frames and PRIORITY, answered with
 * GOAWAY(ENHANCE_YOUR_CALM) when empty. A handler returns 0, or <0 when the
 * connection is ending.
 */
#include "core/h2_stream.h"

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

void h2_buckets_init(h2_conn *h, uint64_t now)
{
    bucket_init(&h->rst_budget, H2_RST_BURST, now);
    bucket_init(&h->settings_budget, H2_CTRL_BURST, now);
    bucket_init(&h->ping_budget, H2_CTRL_BURST, now);
    bucket_init(&h->empty_budget, H2_CTRL_BURST, now);
    bucket_init(&h->prio_budget, H2_PRIO_BURST, now);
}

int h2_calm(h2_conn *h, h2_bucket *b, double burst, double rate, const char *what)
{
    if (bucket_take(b, burst, rate, h2_now()) == 0)
        return 0;
    h2_conn_error(h, H2_ENHANCE_YOUR_CALM, what);
    return -1;
}


int h2_on_priority(h2_conn *h, const h2_frame *f)
{
    h2_priority p;
    const char *why = NULL;
    int rc = h2_decode_priority(&p, f, &why);
    if (rc < 0 && !H2_ERR_IS_STREAM(rc))
        return h2_conn_fail(h, H2_ERR_CODE(rc), why);
    if (h2_calm(h, &h->prio_budget, H2_PRIO_BURST, H2_PRIO_RATE, "PRIORITY flood") < 0)
        return -1;
    if (rc < 0) {
        h2_stream *s = h2_find_stream(h, f->stream_id);
        if (s)
            h2_stream_reset(h, s, H2_ERR_CODE(rc));
        else if (f->stream_id > h->max_seen_id)   /* no RST_STREAM on an idle stream */
            return h2_conn_fail(h, H2_ERR_CODE(rc), why);
        else if (h2_closed_how(h, f->stream_id) != H2_CLOSED_RST_SENT)
            h2_reset_id(h, f->stream_id, H2_ERR_CODE(rc));   /* closed: still a stream error (§6.3) */
    }
    return 0;   /* priorities are parsed and ignored (RFC 9113 §5.3.2) */
}

int h2_on_rst_stream(h2_conn *h, const h2_frame *f)
{
    uint32_t code;
    const char *why = NULL;
    int rc = h2_decode_rst_stream(&code, f, &why);
    if (rc < 0)
        return h2_conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->stream_id > h->max_seen_id)
        return h2_conn_fail(h, H2_PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    h2_stream *s = h2_find_stream(h, f->stream_id);
    if (!s)
        return 0;
    if (h2_calm(h, &h->rst_budget, H2_RST_BURST, H2_RST_RATE, "rapid reset") < 0)
        return -1;
    h2_stream_close(h, s, H2_CLOSED_RST_RECV);
    return 0;
}

int h2_on_settings(h2_conn *h, const h2_frame *f)
{
    h2_settings ns = h->peer;
    const char *why = NULL;
    int rc = h2_decode_settings(&ns, f, &why);
    if (rc < 0)
        return h2_conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->flags & H2_FLAG_ACK) {
        h->settings_unacked = 0;
        return 0;
    }
    if (h2_calm(h, &h->settings_budget, H2_CTRL_BURST, H2_CTRL_RATE, "SETTINGS flood") < 0)
        return -1;
    int64_t delta = (int64_t)ns.initial_window_size - (int64_t)h->peer.initial_window_size;
    for (h2_stream *s = h->streams; s; s = s->next) {
        if (s->state == H2S_CLOSED)
            continue;
        s->send_window += delta;
        if (s->send_window > H2_MAX_WINDOW)
            return h2_conn_fail(h, H2_FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE overflows a window");
    }
    if (ns.header_table_size != h->peer.header_table_size)
        hpack_enc_set_peer_table_size(&h->enc, ns.header_table_size);
    h->peer = ns;
    h2_build_settings_ack(&h->wbuf);
    h2_write(h);
    h2_pump(h);
    return 0;
}

int h2_on_push_promise(h2_conn *h, const h2_frame *f)
{
    return h2_conn_fail(h, H2_PROTOCOL_ERROR, "PUSH_PROMISE from a client");
}

int h2_on_ping(h2_conn *h, const h2_frame *f)
{
    const uint8_t *opaque;
    const char *why = NULL;
    int rc = h2_decode_ping(&opaque, f, &why);
    if (rc < 0)
        return h2_conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->flags & H2_FLAG_ACK)
        return 0;
    if (h2_calm(h, &h->ping_budget, H2_CTRL_BURST, H2_CTRL_RATE, "PING flood") < 0)
        return -1;
    h2_build_ping(&h->wbuf, opaque, 1);
    h2_write(h);
    return 0;
}

int h2_on_goaway(h2_conn *h, const h2_frame *f)
{
    h2_goaway g;
    const char *why = NULL;
    int rc = h2_decode_goaway(&g, f, &why);
    if (rc < 0)
        return h2_conn_fail(h, H2_ERR_CODE(rc), why);
    h->peer_goaway = 1;   /* finish what is open, then close (h2_leave) */
    return 0;
}

int h2_on_window_update(h2_conn *h, const h2_frame *f)
{
    uint32_t inc = 0;
    const char *why = NULL;
    int rc = h2_decode_window_update(&inc, f, &why);
    if (rc < 0 && !H2_ERR_IS_STREAM(rc))
        return h2_conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->stream_id == 0) {
        if (h->send_window + inc > H2_MAX_WINDOW)
            return h2_conn_fail(h, H2_FLOW_CONTROL_ERROR, "connection window above 2^31-1");
        h->send_window += inc;
        h2_pump(h);
        return 0;
    }
    if (f->stream_id > h->max_seen_id)
        return h2_conn_fail(h, H2_PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
    h2_stream *s = h2_find_stream(h, f->stream_id);
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

