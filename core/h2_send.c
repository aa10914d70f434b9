/*
 * h2_send.c — the HTTP/2 engine's output: frames collected in one buffer
 * and handed to the conn when control leaves the engine, and the DATA pump.
 *
 * h2_pump() frames the response bodies queued on each stream, round-robin
 * one frame per stream per pass, within the connection and stream send
 * windows (RFC 9113 §6.9), the peer's SETTINGS_MAX_FRAME_SIZE and a
 * high-water mark of queued bytes (resumed by the conn's drained()
 * callback). h2_pump_stream() does the same for the one stream that just got
 * body bytes, and h2_send_body() for bytes the app is handing over right now.
 *
 * Body bytes are copied as little as possible. Over cleartext a DATA frame
 * is its 9-byte header in wbuf plus a reference to the payload where it
 * already lies (an h2_seg): the app's own buffer while its body() call runs,
 * or the head of the stream's queue s->out. h2_flush() hands wbuf and the
 * payloads to the conn in one conn_writev, so a byte is copied once, into
 * the conn's queue. A referenced part of s->out is consumed only then
 * (s->out_planned), and nothing is appended to s->out while it holds one
 * (h2_out_append flushes first). The app's bytes are queued in s->out only
 * when the windows or the high-water mark stop them. Over TLS (and with
 * --trace-h2) payloads are copied into wbuf: the TLS engine wants one
 * contiguous run to cut into full records, and encrypting is the copy.
 */
#include "core/h2_stream.h"

/* Frames are appended to h->wbuf and leave in one conn write when control
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

/* wbuf and the referenced payloads, in order, as an iovec array. The parts
 * of s->out they cover are consumed: their bytes stay where they are until
 * the next append, and the conn copies them before anything can append. */
static int gather(h2_conn *h, struct iovec *iov)
{
    const char *w = buf_head(&h->wbuf);
    size_t at = 0;
    int k = 0;
    for (unsigned i = 0; i < h->nseg; i++) {
        h2_seg *g = &h->seg[i];
        if (g->at > at)
            iov[k++] = (struct iovec){(void *)(w + at), g->at - at};
        iov[k++] = (struct iovec){(void *)g->p, g->len};
        at = g->at;
        if (g->s && g->s->out_planned) {
            buf_consume(&g->s->out, g->s->out_planned);
            g->s->out_planned = 0;
        }
    }
    if (buf_size(&h->wbuf) > at)
        iov[k++] = (struct iovec){(void *)(w + at), buf_size(&h->wbuf) - at};
    return k;
}

/* Hand everything framed so far to the conn. wbuf is emptied first: a write
 * that completes at once calls drained(), which may frame more into it (the
 * conn has copied the bytes by then; buf_reset keeps the memory). */
void h2_flush(h2_conn *h)
{
    const char *p = buf_head(&h->wbuf);
    size_t n = buf_size(&h->wbuf);
    struct iovec iov[2 * H2_SEGS + 1];
    int k = h->nseg && !h->dead ? gather(h, iov) : 0;
    buf_reset(&h->wbuf);
    h->wtraced = 0;
    h->nseg = 0;
    h->seg_bytes = 0;
    if (h->dead || (!n && !k))
        return;
    if (conn_queued(h->c) == 0)
        h->last_drain = h2_now();     /* the stall clock starts with a non-empty queue */
    if (k)
        conn_writev(h->c, iov, k);
    else
        conn_write(h->c, p, n);
}

/* Bytes on their way out: the conn's queue and what is framed here. */
static size_t out_pending(h2_conn *h)
{
    return conn_queued(h->c) + buf_size(&h->wbuf) + h->seg_bytes;
}

/* Queue body bytes on s; a referenced head of s->out must leave first. */
void h2_out_append(h2_conn *h, h2_stream *s, const char *p, size_t n)
{
    if (s->out_planned)
        h2_flush(h);
    buf_append(&s->out, p, n);
}

/* The payload of a DATA frame whose header is in wbuf: referenced, or
 * copied when small (or over TLS). from_out: p is the head of s->out's
 * unsent bytes. The caller made room for a segment. */
static void data_payload(h2_conn *h, h2_stream *s, const char *p, size_t n, int from_out)
{
    if (!h->direct || n <= H2_COPY_MAX) {
        buf_append(&h->wbuf, p, n);
        if (from_out && !s->out_planned)
            buf_consume(&s->out, n);
        else if (from_out)
            s->out_planned += n;      /* behind a referenced part: consumed with it */
        return;
    }
    h->seg[h->nseg++] = (h2_seg){buf_size(&h->wbuf), p, n, from_out ? s : NULL};
    h->seg_bytes += n;
    if (from_out)
        s->out_planned += n;
}

/* One DATA frame of s from p[0..avail) — the unsent bytes of s->out, or the
 * app's buffer — within the windows and the peer's frame size. Returns the
 * payload length, or -1 when nothing can be sent now. */
static long data_frame(h2_conn *h, h2_stream *s, const char *p, size_t avail, int from_out)
{
    if (s->state == H2S_CLOSED || s->end_sent || !s->headers_sent || (!avail && !s->out_fin))
        return -1;
    size_t n = avail < h->peer.max_frame_size ? avail : h->peer.max_frame_size;
    if (n > 0) {
        int64_t win = s->send_window < h->send_window ? s->send_window : h->send_window;
        if (win <= 0) {
            if (!s->stall_since)
                s->stall_since = h2_now();   /* the zero-window clock starts */
            return -1;
        }
        if ((int64_t)n > win)
            n = (size_t)win;
    }
    s->stall_since = 0;
    if (h->direct && n > H2_COPY_MAX && h->nseg == H2_SEGS) {
        h2_flush(h);                  /* consumes the referenced head of s->out */
        if (from_out)
            p = h2_bptr(&s->out);
    }
    int fin = s->out_fin && n == avail;
    h2_build_frame_header(&h->wbuf, (uint32_t)n, H2_DATA, fin ? H2_FLAG_END_STREAM : 0, s->id);
    data_payload(h, s, p, n, from_out);
    h2_write(h);
    s->send_window -= (int64_t)n;
    h->send_window -= (int64_t)n;
    if (fin) {
        s->end_sent = 1;
        h2_stream_maybe_done(h, s);
    } else if (from_out && n == avail && s->want_writable && s->app_held) {
        s->want_writable = 0;
        if (s->req.on_writable)
            s->req.on_writable(&s->req);
    }
    return (long)n;
}

/* One DATA frame from s's queue; returns 1 if sent. */
static int pump_stream(h2_conn *h, h2_stream *s)
{
    return data_frame(h, s, h2_bptr(&s->out) + s->out_planned, h2_unsent(s), 1) >= 0;
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
    for (int progress = 1; progress;) {
        progress = 0;
        h->pump_again = 0;
        for (h2_stream *s = h->streams; s; s = s->next) {
            if (out_pending(h) >= H2_HIGH_WATER || h->closing)
                goto out;
            progress |= pump_stream(h, s);
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
    while (out_pending(h) < H2_HIGH_WATER && !h->closing && pump_stream(h, s))
        ;
    h->pumping = 0;
    if (h->pump_again)
        h2_pump(h);
}

/* Body bytes the app hands over now (drv_body). With nothing queued on s,
 * they are framed from p itself within the windows, and what was
 * referenced leaves before the app gets p back; the rest is queued. Over
 * cleartext the limit is H2_DIRECT_WATER (1 MiB), not H2_HIGH_WATER: inside
 * one read callback the conn's queue only grows (it is written at the end),
 * so the 128 KiB mark would send the bodies of a burst of requests through
 * s->out (a second copy) although the same bytes then sit in memory either
 * way. The price: a stream opened meanwhile may wait behind up to 1 MiB
 * instead of 128 KiB before the round-robin pump reaches it. Over TLS the
 * payload is copied into wbuf anyway, and 1 MiB batches measured no faster
 * (about 4% slower in h2load), so the 128 KiB mark stays. */
void h2_send_body(h2_conn *h, h2_stream *s, const char *p, size_t n)
{
    size_t off = 0;
    if (!p)
        p = "";                       /* body(r, NULL, 0, fin) */
    if (!h->pumping && !h->closing && !h->dead && !h2_unsent(s)) {
        size_t limit = h->direct ? H2_DIRECT_WATER : H2_HIGH_WATER;
        h->pumping = 1;
        h->pump_again = 0;
        long k;
        while (out_pending(h) < limit && !h->closing
               && (k = data_frame(h, s, p + off, n - off, 0)) >= 0) {
            off += (size_t)k;
            if (off == n)
                break;
        }
        h->pumping = 0;
        if (h->nseg)
            h2_flush(h);
        if (h->pump_again)
            h2_pump(h);
        if (off == n)
            return;                   /* all framed: s has nothing queued */
    }
    if (off < n)
        h2_out_append(h, s, p + off, n - off);
    h2_pump_stream(h, s);
}
