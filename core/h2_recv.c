/*
 * h2_recv.c — what a client sends on its streams: header blocks (HEADERS +
 * CONTINUATION, RFC 9113 §6.2, §6.10) and request bodies (DATA, §6.1).
 *
 * A header block is collected until END_HEADERS and then decoded in one go,
 * always — even for a stream that is refused or was reset — because the
 * HPACK table is shared by the whole connection (§4.3). Its fields go
 * through h2_stream_field() (h2_stream.c), which checks them; the block then
 * opens a request, carries its trailers, or is discarded. A request whose
 * END_STREAM has arrived is dispatched to the app. DATA is counted against
 * both receive windows, whose credit is returned with WINDOW_UPDATE as it is
 * used; bodies beyond max_body_bytes get 413 from the engine itself.
 */
#include "core/h2_stream.h"

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
    h2_stream *s = h->hb_mode == H2_HB_DISCARD ? NULL : h2_find_stream(h, h->hb_stream);
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
        h2_conn_fail(h, H2_COMPRESSION_ERROR, err ? err : "bad header block");
        return;
    }
    if (!s || h->hb_reset) {
        h2_stream *t = h2_find_stream(h, h->hb_stream);
        if (t && h->hb_reset)
            h2_stream_reset(h, t, h->hb_reset);
        else if (h->hb_reset)
            h2_reset_id(h, h->hb_stream, h->hb_reset);
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
        return h2_conn_fail(h, H2_ENHANCE_YOUR_CALM, "header block too large (CONTINUATION flood)");
    if (n == 0 && !end_headers && h2_calm(h, &h->empty_budget, H2_CTRL_BURST, H2_CTRL_RATE, "empty frame flood") < 0)
        return -1;
    buf_append(&h->hb, p, n);
    if (end_headers)
        hb_complete(h);
    return 0;
}

int h2_on_headers(h2_conn *h, const h2_frame *f)
{
    h2_headers hd;
    const char *why = NULL;
    uint32_t id = f->stream_id, reset = 0;
    int mode = H2_HB_NEW, rc = h2_decode_headers(&hd, f, &why);
    if (rc < 0 && !H2_ERR_IS_STREAM(rc))
        return h2_conn_fail(h, H2_ERR_CODE(rc), why);
    if (rc < 0)
        reset = H2_ERR_CODE(rc);        /* decode the block first, then reset */
    if (!(id & 1))
        return h2_conn_fail(h, H2_PROTOCOL_ERROR, "HEADERS on an even (server) stream id");
    h2_stream *s = id > h->max_seen_id ? NULL : h2_find_stream(h, id);   /* a new id has no stream */
    if (s) {
        mode = s->state == H2S_OPEN ? H2_HB_TRAILERS : H2_HB_DISCARD;
        if (s->state != H2S_OPEN)
            reset = H2_STREAM_CLOSED;   /* half-closed (remote), §5.1 */
    } else if (id <= h->max_seen_id) {
        int how = h2_closed_how(h, id);
        if (how == H2_CLOSED_RST_SENT)
            mode = H2_HB_DISCARD;       /* we reset it: ignore, keep HPACK in sync */
        else if (how)
            return h2_conn_fail(h, H2_STREAM_CLOSED, "HEADERS on a closed stream");
        else
            return h2_conn_fail(h, H2_PROTOCOL_ERROR, "stream id not greater than the previous ones");
    } else {
        h->max_seen_id = id;
        if (h->goaway_sent || h->nstreams >= h->max_streams) {
            if (h2_calm(h, &h->rst_budget, H2_RST_BURST, H2_RST_RATE, "too many refused streams") < 0)
                return -1;
            mode = H2_HB_DISCARD;
            reset = H2_REFUSED_STREAM;
        } else {
            s = h2_stream_new(h, id);
            if (!s)
                return h2_conn_fail(h, H2_INTERNAL_ERROR, "out of memory");
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

int h2_on_continuation(h2_conn *h, const h2_frame *f)
{
    const char *why = NULL;
    if (h2_decode_continuation(f, &why) < 0 || !h->hb_active)
        return h2_conn_fail(h, H2_PROTOCOL_ERROR, why ? why : "CONTINUATION without a header block");
    return hb_append(h, f->payload, f->length, f->flags & H2_FLAG_END_HEADERS);
}

static int stream_data(h2_conn *h, h2_stream *s, const h2_frame *f, const h2_data *d)
{
    int end = f->flags & H2_FLAG_END_STREAM;
    s->recv_window -= f->length;
    if (f->length == 0 && !end && h2_calm(h, &h->empty_budget, H2_CTRL_BURST, H2_CTRL_RATE, "empty frame flood") < 0)
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

int h2_on_data(h2_conn *h, const h2_frame *f)
{
    h2_data d;
    const char *why = NULL;
    int rc = h2_decode_data(&d, f, &why);
    if (rc < 0)
        return h2_conn_fail(h, H2_ERR_CODE(rc), why);
    if (f->stream_id > h->max_seen_id)
        return h2_conn_fail(h, H2_PROTOCOL_ERROR, "DATA on an idle stream");
    if ((int64_t)f->length > h->recv_window)
        return h2_conn_fail(h, H2_FLOW_CONTROL_ERROR, "DATA beyond the connection window");
    h->recv_window -= f->length;
    h->recv_unacked += f->length;
    h2_stream *s = h2_find_stream(h, f->stream_id);
    if (!s) {
        if (h2_closed_how(h, f->stream_id) != H2_CLOSED_RST_SENT)
            h2_reset_id(h, f->stream_id, H2_STREAM_CLOSED);
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

