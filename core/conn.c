/*
 * conn.c — a client connection on a worker's libuv loop, with TLS (via the
 * memory-BIO engine in tls.c) slotted between the socket and the protocol.
 *
 * Reads land in the worker's shared read buffer; with TLS they are decrypted
 * into the worker's plaintext scratch buffer; either way the protocol's
 * read() sees plaintext and keeps what it needs. Writes are copied (through
 * TLS when on) into the conn's output queue. While a read callback runs, the
 * queue is flushed once at its end, so pipelined answers share a write;
 * otherwise it is flushed at once. At most one uv_write is in flight per
 * connection: `out` collects new bytes while the write request's
 * `inflight` is being written. The write request, taken from a per-worker
 * free list, exists only while the socket is full.
 *
 * Timers: conn_timer() puts the connection's deadline into a per-worker
 * binary min-heap driven by one uv_timer, so an idle connection holds no
 * timer handle of its own (a keep-alive re-arm goes in at the bottom of the
 * heap, since its deadline is the latest: O(1)). The same uv_timer runs the
 * TLS sweep: while TLS connections are busy, once a second every one of
 * them is asked to give back OpenSSL's buffers if it has been quiet for a
 * second (tls_conn_trim), so they are kept between requests but not held
 * by idle connections.
 *
 * Files (conn_sendfile) queue behind `out` as a list of ranges, each with
 * the bytes written after it. When `out` is empty the first range moves on:
 * on cleartext by sendfile(2) straight from the page cache to the socket;
 * when the socket is full, one 16 KiB piece is read into `out` and written
 * with uv_write, whose completion is the wake-up for the next sendfile
 * (libuv lets nobody else poll a uv_tcp_t's descriptor). Under TLS up to
 * 128 KiB of the range is read at a time and encrypted into `out` (16 KiB
 * records) once the previous write is done, and what was written after it
 * waits as plaintext: records must be encrypted
 * in the order they are sent, so close_notify waits for the files too.
 */
#include "core/conn.h"
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "core/server_impl.h"
#include "core/tls.h"

#define FILE_PIECE    16384               /* the copy made when the socket is full */
#define TLS_TRIM_MS   1000                /* quiet this long: TLS buffers go back */
#define TLS_TRIM_RETURN 32                /* that many at once (~1 MiB): pages to the kernel */
#define FILE_READ_MAX (8 * FILE_PIECE)    /* read per flush when not by sendfile */

/* A queued file range and what was written behind it (see conn_sendfile). */
typedef struct conn_file {
    struct conn_file *next;
    int               fd;
    void            (*done)(void *arg);   /* a shared fd: give it back, don't close */
    void             *done_arg;
    uint64_t          off, left;
    buf               after;          /* plaintext under TLS */
} conn_file;

/* A write waiting for the socket: taken from the worker's free list while a
 * uv_write is in flight (most writes complete at once and need none), with
 * the bytes it is sending. */
typedef struct conn_wreq {
    uv_write_t        req;
    buf               inflight;
    struct conn_wreq *next_free;
} conn_wreq;

/* Per connection, on the idle path (x86-64, libuv 1.44):
 *   before: conn 104 + uv_tcp_t 248 + uv_timer_t 152 + uv_write_t 192 + ...
 *           = conn_impl 816 bytes (832 with malloc's header)
 *   now:    conn 104 + uv_tcp_t 248 + out 32 + pointers 48 + slot and bits 8
 *           = conn_impl 440 bytes (448 with malloc's header), plus a 16-byte
 *           entry in the worker's deadline heap while the timer is armed. */
struct conn_impl {
    conn         pub;
    uv_tcp_t     tcp;
    buf          out;
    conn_wreq   *wreq;                 /* non-NULL while a uv_write is in flight */
    tls_conn    *tls;
    conn_file   *files;                /* sent after `out`, in order: the last of a
                                        * ring (files->next is the first) */
    void       (*tls_ready)(conn *c);  /* STARTTLS completion */
    conn_impl   *prev, *next;
    uint32_t     tslot;                /* 1 + index in the deadline heap; 0: not armed */
    unsigned     closing : 1, closed : 1, in_read : 1,
                 paused : 1, opened : 1, handshaken : 1, first_read : 1,
                 trim : 1,                 /* give buffers back once written */
                 nosendfile : 1,           /* the kernel refused it: read instead */
                 shut_later : 1;           /* TLS close_notify after the files */
};

#define IMPL(c) ((conn_impl *)(c))
#define WIMPL(w) ((worker_impl *)(w)->impl)

static void conn_flush(conn_impl *ci);
static void conn_finish_close(conn_impl *ci);
static void timer_remove(worker_impl *wi, conn_impl *ci);
static void worker_conns_gone(worker_impl *wi);

#define WRITING(ci) ((ci)->wreq != NULL)
#define WREQ_FREE_MAX 256   /* idle write requests kept per worker */

static conn_wreq *wreq_get(worker_impl *wi)
{
    conn_wreq *r = wi->wreq_free;
    if (r) {
        wi->wreq_free = r->next_free;
        wi->wreq_nfree--;
        return r;
    }
    return calloc(1, sizeof *r);
}

/* Its bytes are sent (or dropped): `inflight` goes back to `out` when that
 * is empty, so a busy connection keeps reusing one buffer. */
static void wreq_put(worker_impl *wi, conn_impl *ci, conn_wreq *r)
{
    buf_reset(&r->inflight);
    if (!ci->closed && !buf_size(&ci->out)) {
        buf_pool_give(&ci->out);
        ci->out = r->inflight;
    } else {
        buf_pool_give(&r->inflight);
    }
    r->inflight = (buf)BUF_INIT;
    if (wi->wreq_nfree >= WREQ_FREE_MAX || !wi->nconns) {
        free(r);
        return;
    }
    r->next_free = wi->wreq_free;
    wi->wreq_free = r;
    wi->wreq_nfree++;
}

static void tls_sweep_arm(worker_impl *wi);

/* Encrypt into `out`; the connection now holds TLS buffers for a while. */
static int conn_tls_write(conn_impl *ci, const void *data, size_t len, const char **err)
{
    tls_sweep_arm(WIMPL(ci->pub.w));
    return tls_conn_write(ci->tls, data, len, &ci->out, err);
}

static conn_file *files_first(const conn_impl *ci) { return ci->files ? ci->files->next : NULL; }

/* Unlink the first file; the caller owns it. */
static conn_file *files_shift(conn_impl *ci)
{
    conn_file *f = ci->files->next;
    if (f == ci->files)
        ci->files = NULL;
    else
        ci->files->next = f->next;
    return f;
}

static void file_release(conn_file *f)
{
    if (f->done)
        f->done(f->done_arg);
    else
        close(f->fd);
}

static void files_free(conn_impl *ci)
{
    while (ci->files) {
        conn_file *f = files_shift(ci);
        file_release(f);
        buf_free(&f->after);
        free(f);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_impl *ci = h->data;
    /* The protocol is told last, from the loop, never from inside its
     * own call to conn_close(): its state stays valid until it returns. */
    if (ci->opened && ci->pub.proto && ci->pub.proto->close)
        ci->pub.proto->close(&ci->pub);
    buf_free(&ci->out);
    files_free(ci);
    if (ci->tls)
        tls_conn_free(ci->tls);
    free(ci);
}

static void conn_finish_close(conn_impl *ci)
{
    if (ci->closed)
        return;
    ci->closed = 1;
    worker *w = ci->pub.w;
    worker_impl *wi = WIMPL(w);
    if (ci->prev) ci->prev->next = ci->next; else wi->conns = ci->next;
    if (ci->next) ci->next->prev = ci->prev;
    wi->nconns--;
    files_free(ci);
    timer_remove(wi, ci);
    uv_close((uv_handle_t *)&ci->tcp, on_handle_closed);   /* cancels a pending write first */
    if (!wi->nconns)
        worker_conns_gone(wi);
}

/* Everything queued is with the kernel: close, trim, STARTTLS, drained. */
static void conn_sent(conn_impl *ci)
{
    if (ci->closing) {
        conn_finish_close(ci);
        return;
    }
    if (ci->trim) {
        ci->trim = 0;
        buf_pool_give(&ci->out);
    }
    if (ci->tls_ready && !ci->tls) {
        /* the STARTTLS go-ahead is on the wire: switch to TLS now */
        ci->tls = tls_conn_new(ci->pub.w->tls, 0);
    }
    if (ci->pub.proto && ci->pub.proto->drained && ci->opened)
        ci->pub.proto->drained(&ci->pub);
}

static void on_write_done(uv_write_t *req, int status)
{
    conn_impl *ci = req->data;
    ci->wreq = NULL;
    wreq_put(WIMPL(ci->pub.w), ci, (conn_wreq *)req);
    if (ci->closed)
        return;
    if (status < 0) {           /* peer reset: nothing more can be sent */
        conn_finish_close(ci);
        return;
    }
    if (buf_size(&ci->out) || ci->files)
        conn_flush(ci);
    else
        conn_sent(ci);
}

static int sock_fd(conn_impl *ci)
{
    uv_os_fd_t fd = -1;
    return uv_fileno((uv_handle_t *)&ci->tcp, &fd) < 0 ? -1 : fd;
}

/* A file came up short of the length promised: the receiver would wait for
 * bytes that never come, so the connection ends. */
static void file_short(conn_impl *ci, const conn_file *f)
{
    log_warn("conn: a file came up short while being sent (%llu bytes missing); connection closed",
             (unsigned long long)f->left);
    buf_reset(&ci->out);
    conn_finish_close(ci);
}

/* Up to `max` bytes of the first file into `out`: read straight into it,
 * or under TLS into a scratch buffer in one read and encrypted from there
 * (16 KiB records). Returns -1 when the connection had to close. */
static int file_read(conn_impl *ci, conn_file *f, size_t max)
{
    static _Thread_local char scratch[FILE_READ_MAX];
    for (size_t done = 0; f->left && done < max;) {
        size_t want = max - done < FILE_READ_MAX ? max - done : FILE_READ_MAX;
        if (f->left < want)
            want = (size_t)f->left;
        char *dst = ci->tls ? scratch : buf_tail(&ci->out, want);
        ssize_t n = pread(f->fd, dst, want, (off_t)f->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            file_short(ci, f);
            return -1;
        }
        const char *err = NULL;
        if (!ci->tls)
            buf_commit(&ci->out, (size_t)n);
        else if (conn_tls_write(ci, scratch, (size_t)n, &err) < 0) {
            conn_finish_close(ci);
            return -1;
        }
        f->off += (uint64_t)n;
        f->left -= (uint64_t)n;
        done += (size_t)n;
    }
    return 0;
}

/* sendfile(2) as much of the first file as the socket takes. Returns 1
 * when it took all, 0 when the socket is full (or sendfile is refused for
 * this file: nosendfile), -1 when the connection had to close. */
static int file_sendfile(conn_impl *ci, conn_file *f)
{
    int sock = sock_fd(ci);
    while (f->left) {
        size_t want = f->left < (1u << 30) ? (size_t)f->left : (1u << 30);
        off_t o = (off_t)f->off;
        ssize_t n = sendfile(sock, f->fd, &o, want);
        if (n > 0) {
            f->off += (uint64_t)n;
            f->left -= (uint64_t)n;
            if ((size_t)n < want)
                return f->left ? 0 : 1;
            continue;
        }
        if (n == 0) {
            file_short(ci, f);
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 0;
        if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
            ci->nosendfile = 1;
            return 0;
        }
        conn_finish_close(ci);     /* EPIPE, ECONNRESET: the peer is gone */
        return -1;
    }
    return 1;
}

/* The first file is sent: what was written after it joins `out`. */
static int file_pop(conn_impl *ci)
{
    conn_file *f = files_shift(ci);
    int rc = 0;
    file_release(f);
    if (buf_size(&f->after)) {
        const char *err = NULL;
        if (ci->tls)
            rc = conn_tls_write(ci, buf_head(&f->after), buf_size(&f->after), &err);
        else
            buf_append(&ci->out, buf_head(&f->after), buf_size(&f->after));
    }
    buf_free(&f->after);
    free(f);
    if (rc == 0 && !ci->files && ci->shut_later) {
        ci->shut_later = 0;
        tls_conn_shutdown(ci->tls, &ci->out);
    }
    if (rc < 0)
        conn_finish_close(ci);
    return rc < 0 ? -1 : 0;
}

/* `out` is empty: move the first file on (to the socket, or a piece of it
 * into `out`). Returns -1 when the connection had to close. */
static int file_step(conn_impl *ci)
{
    conn_file *f = files_first(ci);
    if (!ci->tls && !ci->nosendfile) {
        int rc = file_sendfile(ci, f);
        if (rc < 0)
            return -1;
        if (rc == 0 && !ci->nosendfile && file_read(ci, f, FILE_PIECE) < 0)
            return -1;          /* full: this piece's uv_write wakes us */
    } else if (file_read(ci, f, FILE_READ_MAX) < 0) {
        return -1;
    }
    return f->left ? 0 : file_pop(ci);
}

/* Hand `out` to the kernel. Returns 1 when it all went at once, 0 when a
 * uv_write is in flight, -1 when the connection had to close. A response
 * head in front of a file is sent with MSG_MORE so it shares a segment. */
static int conn_write_out(conn_impl *ci)
{
    uv_buf_t b = uv_buf_init(buf_head(&ci->out), (unsigned)buf_size(&ci->out));
    int n;
    if (ci->files && !ci->tls && !ci->nosendfile) {
        ssize_t k = send(sock_fd(ci), b.base, b.len, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
        n = k >= 0 ? (int)k : errno == EAGAIN ? UV_EAGAIN : -errno;
    } else {
        n = uv_try_write((uv_stream_t *)&ci->tcp, &b, 1);   /* most writes complete at once */
    }
    if (n == (int)b.len) {
        buf_reset(&ci->out);
        return 1;
    }
    conn_wreq *r = NULL;
    if ((n < 0 && n != UV_EAGAIN) || !(r = wreq_get(WIMPL(ci->pub.w)))) {
        conn_finish_close(ci);
        return -1;
    }
    if (n > 0)
        buf_consume(&ci->out, (size_t)n);
    r->inflight = ci->out;            /* `out` starts afresh behind it */
    ci->out = (buf)BUF_INIT;
    b = uv_buf_init(buf_head(&r->inflight), (unsigned)buf_size(&r->inflight));
    r->req.data = ci;
    if (uv_write(&r->req, (uv_stream_t *)&ci->tcp, &b, 1, on_write_done) < 0) {
        wreq_put(WIMPL(ci->pub.w), ci, r);
        conn_finish_close(ci);
        return -1;
    }
    ci->wreq = r;
    return 0;
}

/* Under TLS (or without sendfile) a file's bytes are copied into `out`
 * anyway: take them in behind a small head so both leave in one write. */
static int file_joins_out(const conn_impl *ci)
{
    return ci->files && (ci->tls || ci->nosendfile) && buf_size(&ci->out) < FILE_PIECE;
}

static void conn_flush(conn_impl *ci)
{
    int sent = 0;
    while (!WRITING(ci) && !ci->closed) {
        if (!buf_size(&ci->out) && !ci->files)
            break;
        int rc = buf_size(&ci->out) && !file_joins_out(ci) ? conn_write_out(ci) : file_step(ci);
        if (rc < 0)
            return;
        sent = 1;
    }
    if (sent && !WRITING(ci) && !ci->closed)
        conn_sent(ci);
}

/* Queue bytes (through TLS when on) without flushing. */
static int conn_append(conn_impl *ci, const void *data, size_t len)
{
    if (!len)
        return 0;
    if (ci->files) {     /* behind a file: kept as is until the file is out */
        buf_append(&ci->files->after, data, len);
        return 0;
    }
    if (!ci->out.data && len <= BUF_POOL_BLOCK / 2)
        buf_pool_take(&ci->out);
    if (ci->tls) {   /* mid-handshake (STARTTLS): the engine holds it until done */
        const char *err = NULL;
        return conn_tls_write(ci, data, len, &err) < 0 ? -1 : 0;
    }
    buf_append(&ci->out, data, len);
    return 0;
}

int conn_write(conn *c, const void *data, size_t len)
{
    conn_impl *ci = IMPL(c);
    if (ci->closed)
        return -1;
    if (conn_append(ci, data, len) < 0)
        return -1;
    if (!ci->in_read && len)
        conn_flush(ci);
    return 0;
}

/* Several pieces, one flush: a response head and its body leave in one
 * write (and, over TLS, small pieces share one record). */
int conn_writev(conn *c, const struct iovec *iov, int n)
{
    conn_impl *ci = IMPL(c);
    if (ci->closed)
        return -1;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (ci->tls && total <= 16384) {
        static _Thread_local char scratch[16384];
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            memcpy(scratch + off, iov[i].iov_base, iov[i].iov_len);
            off += iov[i].iov_len;
        }
        if (conn_append(ci, scratch, off) < 0)
            return -1;
    } else {
        for (int i = 0; i < n; i++)
            if (conn_append(ci, iov[i].iov_base, iov[i].iov_len) < 0)
                return -1;
    }
    if (!ci->in_read && total)
        conn_flush(ci);
    return 0;
}

int conn_sendfile(conn *c, int fd, uint64_t off, uint64_t len)
{
    return conn_sendfile_shared(c, fd, off, len, NULL, NULL);
}

int conn_sendfile_shared(conn *c, int fd, uint64_t off, uint64_t len,
                         void (*done)(void *arg), void *arg)
{
    conn_impl *ci = IMPL(c);
    conn_file *f = NULL;
    conn_file none = { .fd = fd, .done = done, .done_arg = arg };
    if (ci->closed || (len && !(f = calloc(1, sizeof *f)))) {
        file_release(&none);
        return -1;
    }
    if (!len) {
        file_release(&none);
        return 0;
    }
    *f = none;
    f->off = off;
    f->left = len;
    f->next = ci->files ? ci->files->next : f;
    if (ci->files)
        ci->files->next = f;
    ci->files = f;
    if (!ci->in_read)
        conn_flush(ci);
    return 0;
}

int conn_puts(conn *c, const char *s) { return conn_write(c, s, strlen(s)); }

int conn_printf(conn *c, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof tmp)
        return conn_write(c, tmp, (size_t)n);
    buf b = BUF_INIT;
    buf_reserve(&b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b.data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = conn_write(c, b.data, (size_t)n);
    buf_free(&b);
    return rc;
}

void conn_close(conn *c)
{
    conn_impl *ci = IMPL(c);
    if (ci->closed || ci->closing)
        return;
    ci->closing = 1;
    if (ci->tls && ci->handshaken && ci->files)
        ci->shut_later = 1;            /* close_notify goes after the files */
    else if (ci->tls && ci->handshaken)
        tls_conn_shutdown(ci->tls, &ci->out);
    uv_read_stop((uv_stream_t *)&ci->tcp);
    if (!WRITING(ci) && !buf_size(&ci->out) && !ci->files)
        conn_finish_close(ci);
    else if (!ci->in_read)
        conn_flush(ci);
}

void conn_abort(conn *c)
{
    conn_impl *ci = IMPL(c);
    buf_reset(&ci->out);
    conn_finish_close(ci);
}

/* ---- timers: one min-heap of deadlines per worker ---------------------- */

static void heap_set(worker_impl *wi, uint32_t i, conn_deadline d)
{
    wi->theap[i] = d;
    d.ci->tslot = i + 1;
}

static void heap_up(worker_impl *wi, uint32_t i)
{
    conn_deadline d = wi->theap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (wi->theap[parent].due <= d.due)
            break;
        heap_set(wi, i, wi->theap[parent]);
        i = parent;
    }
    heap_set(wi, i, d);
}

static void heap_down(worker_impl *wi, uint32_t i)
{
    conn_deadline d = wi->theap[i];
    for (;;) {
        uint32_t k = 2 * i + 1;
        if (k >= wi->theap_n)
            break;
        if (k + 1 < wi->theap_n && wi->theap[k + 1].due < wi->theap[k].due)
            k++;
        if (d.due <= wi->theap[k].due)
            break;
        heap_set(wi, i, wi->theap[k]);
        i = k;
    }
    heap_set(wi, i, d);
}

static void timer_remove(worker_impl *wi, conn_impl *ci)
{
    if (!ci->tslot)
        return;
    uint32_t i = ci->tslot - 1;
    ci->tslot = 0;
    conn_deadline last = wi->theap[--wi->theap_n];
    if (i == wi->theap_n)
        return;
    heap_set(wi, i, last);
    if (i > 0 && wi->theap[(i - 1) / 2].due > last.due)
        heap_up(wi, i);
    else
        heap_down(wi, i);
}

static void on_deadlines(uv_timer_t *t);
static void timer_aim(worker_impl *wi);

enum { TIMER_NONE, TIMER_OPEN, TIMER_CLOSING };   /* wi->conn_timer_init */

static void timer_open(worker_impl *wi)
{
    uv_timer_init(&wi->loop, &wi->conn_timer);
    wi->conn_timer.data = wi;
    wi->conn_timer_init = TIMER_OPEN;
    wi->conn_timer_due = 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    worker_impl *wi = h->data;
    wi->conn_timer_init = TIMER_NONE;
    if (wi->theap_n || wi->tls_sweep_due) {   /* a connection came while it closed */
        timer_open(wi);
        timer_aim(wi);
    }
}

/* The last connection is gone: the worker keeps nothing for connections
 * (and its loop can be closed without a handle of ours in it). */
static void worker_conns_gone(worker_impl *wi)
{
    free(wi->theap);
    wi->theap = NULL;
    wi->theap_n = wi->theap_cap = 0;
    while (wi->wreq_free) {
        conn_wreq *r = wi->wreq_free;
        wi->wreq_free = r->next_free;
        free(r);
    }
    wi->wreq_nfree = 0;
    wi->tls_sweep_due = 0;
    if (wi->conn_timer_init == TIMER_OPEN) {
        wi->conn_timer_init = TIMER_CLOSING;
        uv_close((uv_handle_t *)&wi->conn_timer, on_timer_closed);
    }
}

/* The uv_timer fires at the earliest deadline (a later one left behind by a
 * disarmed conn only costs a wake-up that re-aims it). */
static void timer_aim(worker_impl *wi)
{
    if (wi->conn_timer_init != TIMER_OPEN)
        return;                 /* on_timer_closed aims it again */
    if (!wi->theap_n && !wi->tls_sweep_due) {
        if (wi->conn_timer_due)
            uv_timer_stop(&wi->conn_timer);
        wi->conn_timer_due = 0;
        return;
    }
    uint64_t due = wi->theap_n ? wi->theap[0].due : UINT64_MAX, now = uv_now(&wi->loop);
    if (wi->tls_sweep_due && wi->tls_sweep_due < due)
        due = wi->tls_sweep_due;
    if (wi->conn_timer_due && wi->conn_timer_due <= due)
        return;
    wi->conn_timer_due = due;
    uv_timer_start(&wi->conn_timer, on_deadlines, due > now ? due - now : 0, 0);
}

/* Every TLS connection quiet for TLS_TRIM_MS gives its buffers back; the
 * sweep goes on each second while some still hold theirs. */
static void tls_sweep(worker_impl *wi, uint64_t now)
{
    int held = 0, freed = 0;
    for (conn_impl *ci = wi->conns; ci; ci = ci->next) {
        if (!ci->tls || ci->closed)
            continue;
        int had = tls_conn_holds(ci->tls), holds = tls_conn_trim(ci->tls, TLS_TRIM_MS);
        held |= holds;
        freed += had && !holds;
    }
    wi->tls_sweep_due = held ? now + TLS_TRIM_MS : 0;
    if (freed >= TLS_TRIM_RETURN) {
        /* the freed buffers lie between live blocks: hand their pages back */
        malloc_trim(0);
        log_debug("tls: %d quiet connections gave back their buffers", freed);
    }
}

/* A TLS connection did I/O: make sure a sweep is coming. */
static void tls_sweep_arm(worker_impl *wi)
{
    if (wi->tls_sweep_due)
        return;
    wi->tls_sweep_due = uv_now(&wi->loop) + TLS_TRIM_MS;
    if (wi->conn_timer_init == TIMER_NONE)
        timer_open(wi);
    timer_aim(wi);
}

static void on_deadlines(uv_timer_t *t)
{
    worker_impl *wi = t->data;
    uint64_t now = uv_now(&wi->loop);
    wi->conn_timer_due = 0;
    while (wi->theap_n && wi->theap[0].due <= now) {
        conn_impl *ci = wi->theap[0].ci;
        timer_remove(wi, ci);      /* before the call: it may re-arm or close */
        if (ci->opened && ci->pub.proto->timeout)
            ci->pub.proto->timeout(&ci->pub);
        else
            conn_abort(&ci->pub);   /* handshake or idle with no handler */
    }
    if (wi->tls_sweep_due && wi->tls_sweep_due <= now)
        tls_sweep(wi, now);
    timer_aim(wi);
}

static int timer_insert(worker_impl *wi, conn_impl *ci, uint64_t due)
{
    if (wi->conn_timer_init == TIMER_NONE)
        timer_open(wi);
    if (wi->theap_n == wi->theap_cap) {
        uint32_t cap = wi->theap_cap ? wi->theap_cap * 2 : 64;
        conn_deadline *p = realloc(wi->theap, cap * sizeof *p);
        if (!p)
            return -1;
        wi->theap = p;
        wi->theap_cap = cap;
    }
    heap_set(wi, wi->theap_n++, (conn_deadline){ due, ci });
    heap_up(wi, wi->theap_n - 1);
    return 0;
}

void conn_timer(conn *c, uint64_t ms)
{
    conn_impl *ci = IMPL(c);
    worker_impl *wi = WIMPL(c->w);
    if (ci->closed)
        return;
    timer_remove(wi, ci);
    if (!ms)
        return;
    if (timer_insert(wi, ci, uv_now(&wi->loop) + ms) < 0) {
        log_warn("conn: out of memory for a timer; connection closed");
        conn_abort(c);
        return;
    }
    timer_aim(wi);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    conn_impl *ci = h->data;
    worker_impl *wi = WIMPL(ci->pub.w);
    b->base = wi->rbuf;
    b->len = sizeof wi->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

void conn_pause(conn *c)
{
    conn_impl *ci = IMPL(c);
    if (!ci->paused && !ci->closed && !ci->closing) {
        ci->paused = 1;
        uv_read_stop((uv_stream_t *)&ci->tcp);
    }
}

void conn_resume(conn *c)
{
    conn_impl *ci = IMPL(c);
    if (ci->paused && !ci->closed && !ci->closing) {
        ci->paused = 0;
        uv_read_start((uv_stream_t *)&ci->tcp, on_alloc, on_read);
    }
}

size_t conn_queued(const conn *c)
{
    const conn_impl *ci = (const conn_impl *)c;
    size_t n = buf_size(&ci->out) + (ci->wreq ? buf_size(&ci->wreq->inflight) : 0);
    for (const conn_file *f = files_first(ci); f; f = f == ci->files ? NULL : f->next)
        n += (size_t)f->left + buf_size(&f->after);
    return n;
}

void conn_trim(conn *c)
{
    conn_impl *ci = IMPL(c);
    if (ci->closed)
        return;
    if (WRITING(ci) || buf_size(&ci->out) || ci->files) {
        ci->trim = 1;          /* the answer is still queued: after it is written */
        return;
    }
    buf_pool_give(&ci->out);
}

void conn_set_proto(conn *c, const conn_proto *p, void *proto_data)
{
    c->proto = p;
    c->proto_data = proto_data;
    IMPL(c)->opened = 1;
}

int conn_starttls(conn *c, void (*on_ready)(conn *c))
{
    conn_impl *ci = IMPL(c);
    if (!c->w->tls || ci->tls)
        return -1;
    ci->tls_ready = on_ready;
    ci->handshaken = 0;
    if (!WRITING(ci) && !buf_size(&ci->out))
        ci->tls = tls_conn_new(c->w->tls, 0);
    /* else: created in on_write_done once the go-ahead reply is sent */
    return 0;
}

int conn_is_tls(const conn *c) { return ((const conn_impl *)c)->tls != NULL; }

const char *conn_alpn(const conn *c)
{
    const conn_impl *ci = (const conn_impl *)c;
    return ci->tls && ci->handshaken ? tls_conn_alpn(ci->tls) : NULL;
}

const char *conn_sni(const conn *c)
{
    const conn_impl *ci = (const conn_impl *)c;
    return ci->tls ? tls_conn_sni(ci->tls) : NULL;
}

void *conn_loop(conn *c) { return &WIMPL(c->w)->loop; }

/* The TLS handshake just finished: hand over to the protocol. */
static int conn_tls_established(conn_impl *ci)
{
    conn *c = &ci->pub;
    ci->handshaken = 1;
    if (ci->tls_ready) {
        void (*ready)(conn *) = ci->tls_ready;
        ci->tls_ready = NULL;
        ready(c);
        return 0;
    }
    conn_timer(c, 0);   /* the handshake timer; open() sets the protocol's own */
    const char *alpn = tls_conn_alpn(ci->tls);
    if (alpn && strcmp(alpn, "h2") == 0 && server_h2_proto())
        c->proto = server_h2_proto();
    ci->opened = 1;
    if (c->proto->open && c->proto->open(c) < 0) {
        ci->opened = 0;
        conn_abort(c);
        return -1;
    }
    return 0;
}

static const char tls_port_reply[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    "Content-Length: 46\r\n\r\nThis port speaks HTTPS: use an https:// URL.\r\n";

static void conn_read_tls(conn_impl *ci, const char *data, size_t len)
{
    conn *c = &ci->pub;
    if (ci->first_read && !ci->tls_ready && tls_looks_like_http(data, len)) {
        buf_append(&ci->out, tls_port_reply, sizeof tls_port_reply - 1);
        conn_close(c);
        return;
    }
    tls_conn_feed(ci->tls, data, len);
    worker_impl *wi = WIMPL(c->w);
    tls_sweep_arm(wi);
    /* The read that completes the handshake may also decrypt the client's
     * first request (TLS 1.3 sends it right behind Finished): keep it. */
    buf_reset(&wi->plain);
    for (;;) {
        const char *err = NULL;
        int rc = tls_conn_read(ci->tls, &wi->plain, &ci->out, &err);
        if (rc == TLS_ERR) {
            conn_close(c);   /* the alert, if any, is queued in out */
            return;
        }
        if (!ci->handshaken && tls_conn_handshake_done(ci->tls)) {
            if (conn_tls_established(ci) < 0 || ci->closed)
                return;
            continue;   /* decrypt anything that came with the handshake */
        }
        if (buf_size(&wi->plain) && ci->opened && !ci->closing)
            c->proto->read(c, buf_head(&wi->plain), buf_size(&wi->plain));
        if (rc == TLS_CLOSED && !ci->closed) {
            if (c->proto->eof && ci->opened) c->proto->eof(c); else conn_close(c);
        }
        return;
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn_impl *ci = s->data;
    conn *c = &ci->pub;
    if (n == 0 || ci->closed)
        return;
    if (n < 0) {
        if (n == UV_EOF && ci->opened && c->proto->eof && !ci->closing) {
            ci->in_read = 1;
            c->proto->eof(c);
            ci->in_read = 0;
            if (!ci->closed) conn_flush(ci);
        } else {
            buf_reset(&ci->out);
            conn_finish_close(ci);
        }
        return;
    }
    ci->in_read = 1;
    if (ci->tls)
        conn_read_tls(ci, b->base, (size_t)n);
    else if (ci->opened && !ci->closing)
        c->proto->read(c, b->base, (size_t)n);
    ci->first_read = 0;
    ci->in_read = 0;
    if (ci->closed)
        return;
    if (ci->closing && !WRITING(ci) && !buf_size(&ci->out) && !ci->files)
        conn_finish_close(ci);
    else
        conn_flush(ci);
}

void conn_accept(worker *w, listener *l, uv_stream_t *server)
{
    worker_impl *wi = WIMPL(w);
    conn_impl *ci = calloc(1, sizeof *ci);
    if (!ci)
        return;
    uv_tcp_init(&wi->loop, &ci->tcp);
    ci->tcp.data = ci;
    if (uv_accept(server, (uv_stream_t *)&ci->tcp) < 0) {
        uv_close((uv_handle_t *)&ci->tcp, on_handle_closed);
        return;
    }
    ci->first_read = 1;
    conn *c = &ci->pub;
    c->w = w;
    c->l = l;
    c->proto = l->proto;
    c->impl = ci;
    c->id = ++w->next_conn_id;
    c->local_port = l->port;
    w->connections++;
    ci->next = wi->conns;
    if (wi->conns) wi->conns->prev = ci;
    wi->conns = ci;
    wi->nconns++;

    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&ci->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, c->remote_addr, sizeof c->remote_addr);
            c->remote_port = ntohs(a->sin6_port);
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, c->remote_addr, sizeof c->remote_addr);
            c->remote_port = ntohs(a->sin_port);
        }
    }
    uv_tcp_nodelay(&ci->tcp, 1);
    if (l->tls && w->tls) {
        ci->tls = tls_conn_new(w->tls, l->offer_h2);
        conn_timer(c, 10000);       /* handshake must finish in 10 s */
    } else {
        ci->opened = 1;
        if (c->proto->open && c->proto->open(c) < 0) {
            ci->opened = 0;
            conn_abort(c);
            return;
        }
        conn_flush(ci);             /* greetings (SMTP 220, ...) */
    }
    if (!ci->closed && !ci->closing)
        uv_read_start((uv_stream_t *)&ci->tcp, on_alloc, on_read);
}

void conn_drain_all(worker *w)
{
    worker_impl *wi = WIMPL(w);
    for (conn_impl *ci = wi->conns, *next; ci; ci = next) {
        next = ci->next;
        if (ci->closed || ci->closing)
            continue;
        if (ci->opened && ci->pub.proto->drain)
            ci->pub.proto->drain(&ci->pub);
        else if (!WRITING(ci) && !buf_size(&ci->out) && !ci->files)
            conn_close(&ci->pub);
    }
}

void conn_abort_all(worker *w)
{
    worker_impl *wi = WIMPL(w);
    while (wi->conns)
        conn_abort(&wi->conns->pub);
}
