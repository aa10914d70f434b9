/*
 * h2_send.c — the HTTP/2 engine's output: frames collected in one buffer
 * and handed to the conn when control leaves the engine, and the DATA pump.
 *
 * h2_pump() frames the response bodies queued on each stream, round-robin
 * one frame per stream per pass, within the connection and stream send
 * windows (RFC 9113 §6.9), the peer's SETTINGS_MAX_FRAME_SIZE and a
 * high-water mark of queued bytes (resumed by the conn's drained()
 * callback). h2_pump_stream() does the same for the one stream that just got
 * body bytes.
 */
#include "core/h2_stream.h"

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
            h2_trace_frame(h, '>', &f);
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

