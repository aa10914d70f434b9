/* bench/ratecli.c — an open-loop (fixed-rate) HTTP/1.1 load generator for
 * bench/run, so servers of different speeds are measured at the same load.
 *
 * wrk's closed loop sends each connection's next request when the previous
 * answer arrives, so a faster server runs at a higher load and a stalled one
 * silently sends fewer requests ("coordinated omission"). Here, after wrk2's
 * idea, every one of the N keep-alive connections has its own schedule:
 * request k of connection i is due at start + (i + k*N) / R seconds, which
 * spreads R requests/s evenly over the connections. A request is sent when it
 * is due, or, if the previous answer on its connection is still outstanding,
 * as soon as that answer completes; its latency always counts from the time
 * it was due. One thread, epoll, non-blocking sockets, a timerfd for the next
 * due time; TLS through OpenSSL (no certificate verification). This file is
 * the I/O; bench/ratecli_core.c holds what touches no socket (tested by
 * tests/unit/test_ratecli.c): the response reader (status line,
 * Content-Length, chunked and close-delimited bodies, Connection: close),
 * the schedule, the latency record and the output line. The first -w
 * seconds are warm-up and not recorded; latencies of the -d measured seconds
 * go into an array allocated up front and are sorted at the end. One line of
 * output; exit 1 on bad arguments or no connection, 2 when the achieved rate
 * is below 95% of R (the client or the server could not keep up).
 *
 *   ratecli [-c 64] [-R 20000] [-d 5] [-w 1] http://127.0.0.1:PORT/path
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "bench/ratecli_core.h"

#define RC_GRACE_NS 2000000000LL       /* how long to wait for answers at the end */

enum rc_phase { RC_DOWN, RC_CONNECTING, RC_HANDSHAKE, RC_READY };

struct rc_conn {
    int idx, fd, events;
    SSL *ssl;
    enum rc_phase phase;
    int busy, measured, tls_wants_write;
    size_t wpos;                       /* bytes of the request written */
    int64_t k, due;                    /* next request's index; current one's due time */
    int close_after;                   /* the last answer said the server closes */
    struct rcc_resp resp;
};

static struct {
    int nconn, ep, tfd;
    double rate, dur, warm;
    struct rcc_url url;
    struct sockaddr_in addr;
    SSL_CTX *ctx;
    char req[1024];
    size_t reqlen;
    struct rcc_sched sched;            /* the schedule's origin, connections, rate */
    int64_t mstart, mend;              /* the measured window */
    struct rcc_lat lat;
    struct rcc_stats st;               /* sent, errors, non2xx, unsent */
    char first_err[160];
    struct rc_conn *conns;
} rc;

static int64_t rc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t rc_due(const struct rc_conn *c, int64_t k)
{
    return rcc_due(&rc.sched, c->idx, k);
}

static void rc_note_err(const char *why)
{
    if (!rc.first_err[0])
        snprintf(rc.first_err, sizeof rc.first_err, "%s", why);
}

static void rc_interest(struct rc_conn *c)
{
    int want = EPOLLIN;
    if (c->phase == RC_CONNECTING || c->tls_wants_write ||
        (c->phase == RC_READY && !c->ssl && c->busy && c->wpos < rc.reqlen))
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    struct epoll_event ev = { .events = (uint32_t)want, .data.ptr = c };
    epoll_ctl(rc.ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = want;
}

static void rc_close(struct rc_conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
    c->phase = RC_DOWN;
    c->close_after = c->tls_wants_write = 0;
    rcc_resp_reset(&c->resp);
}

/* The request in flight (if any) failed; the connection goes down and is
 * opened again when its next request is due. */
static void rc_fail(struct rc_conn *c, const char *why)
{
    if (c->busy || c->phase != RC_READY)
        rc_note_err(why);
    if (c->busy && c->measured)
        rc.st.errors++;
    c->busy = 0;
    rc_close(c);
}

static int rc_open(struct rc_conn *c)
{
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&rc.addr, sizeof rc.addr) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->phase = RC_CONNECTING;
    c->events = EPOLLIN | EPOLLOUT;
    struct epoll_event ev = { .events = (uint32_t)c->events, .data.ptr = c };
    epoll_ctl(rc.ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

/* -1: would block (direction noted), 0: peer closed, >0: bytes, -2: error. */
static int rc_tls_result(struct rc_conn *c, int ret, int ok)
{
    if (ok)
        return ret;
    switch (SSL_get_error(c->ssl, ret)) {
    case SSL_ERROR_WANT_READ:  c->tls_wants_write = 0; return -1;
    case SSL_ERROR_WANT_WRITE: c->tls_wants_write = 1; return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    case SSL_ERROR_SYSCALL:     return errno == 0 ? 0 : -2;
    default:                    return -2;
    }
}

static int rc_read(struct rc_conn *c, char *buf, size_t n)
{
    if (c->ssl) {
        size_t got = 0;
        ERR_clear_error();
        errno = 0;
        int ok = SSL_read_ex(c->ssl, buf, n, &got);
        return rc_tls_result(c, ok ? (int)got : 0, ok);
    }
    ssize_t r = read(c->fd, buf, n);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? -1 : -2;
    return (int)r;
}

static int rc_write(struct rc_conn *c, const char *buf, size_t n)
{
    if (c->ssl) {
        size_t put = 0;
        ERR_clear_error();
        errno = 0;
        int ok = SSL_write_ex(c->ssl, buf, n, &put);
        int r = rc_tls_result(c, ok ? (int)put : 0, ok);
        return r == 0 ? -2 : r;
    }
    ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? -1 : -2;
    return (int)r;
}

static void rc_complete(struct rc_conn *c)
{
    if (c->measured) {
        rcc_lat_add(&rc.lat, (uint64_t)(rc_now() - c->due));
        if (c->resp.status < 200 || c->resp.status > 299)
            rc.st.non2xx++;
    }
    c->busy = 0;
    c->close_after = c->resp.close_after;
    rcc_resp_reset(&c->resp);
}

/* Bytes read from the server, through the response reader; 0 or -1. */
static int rc_feed(struct rc_conn *c, const char *p, size_t n, const char **why)
{
    while (n > 0) {
        if (!c->busy)
            return *why = "bytes from the server with no request outstanding", -1;
        long used = rcc_resp_feed(&c->resp, p, n, why);
        if (used < 0)
            return -1;
        p += used;
        n -= (size_t)used;
        if (c->resp.state == RCC_DONE)
            rc_complete(c);
    }
    return 0;
}

/* The server closed: that ends a body read to the close, else it fails the
 * request in flight (quietly when none was). */
static void rc_eof(struct rc_conn *c)
{
    const char *why = "connection closed by the server";
    if (c->busy && rcc_resp_eof(&c->resp, &why) == 1) {
        rc_complete(c);
        return rc_close(c);
    }
    rc_fail(c, why);
}

static void rc_read_all(struct rc_conn *c)
{
    static char buf[65536];
    const char *why = NULL;
    for (;;) {
        int n = rc_read(c, buf, sizeof buf);
        if (n == -1)
            break;
        if (n == 0)
            return rc_eof(c);
        if (n == -2)
            return rc_fail(c, "read error");
        if (rc_feed(c, buf, (size_t)n, &why) < 0)
            return rc_fail(c, why);
    }
    if (c->phase == RC_READY && !c->busy && c->close_after)
        rc_close(c);
}

/* Drive a connection as far as it goes: connect, handshake, write, read. */
static void rc_drive(struct rc_conn *c, uint32_t ev)
{
    if (c->phase == RC_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;                    /* SO_ERROR is 0 while still connecting */
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == EINPROGRESS || err == EALREADY)
            return;
        if (err)
            return rc_fail(c, strerror(err));
        c->phase = rc.url.tls ? RC_HANDSHAKE : RC_READY;
        if (rc.url.tls) {
            c->ssl = SSL_new(rc.ctx);
            SSL_set_fd(c->ssl, c->fd);
            SSL_set_connect_state(c->ssl);
        }
    }
    if (c->phase == RC_HANDSHAKE) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_do_handshake(c->ssl);
        if (r != 1 && rc_tls_result(c, r, 0) != -1)
            return rc_fail(c, "TLS handshake failed");
        if (r != 1)
            return rc_interest(c);
        c->phase = RC_READY;
        c->tls_wants_write = 0;
    }
    if (c->phase == RC_READY && c->busy && c->wpos < rc.reqlen) {
        int n = rc_write(c, rc.req + c->wpos, rc.reqlen - c->wpos);
        if (n == -2)
            return rc_fail(c, "write error");
        if (n > 0)
            c->wpos += (size_t)n, c->tls_wants_write = 0;
    }
    if (c->phase == RC_READY)
        rc_read_all(c);
    if (c->fd >= 0)
        rc_interest(c);
}

/* Start request k of connection c (due at `due`): open it again if down. */
static void rc_issue(struct rc_conn *c, int64_t due)
{
    c->busy = 1;
    c->wpos = 0;
    rcc_resp_reset(&c->resp);
    c->due = due;
    c->measured = due >= rc.mstart;
    c->k++;
    rc.st.sent += (uint64_t)c->measured;
    if (c->phase == RC_DOWN && rc_open(c) < 0)
        return rc_fail(c, strerror(errno));
    rc_drive(c, 0);
}

/* Issue every due request (several on a connection that is behind, as its
 * answers come back at once); return the earliest future due time, or
 * `limit`. */
static int64_t rc_schedule(int64_t now, int64_t limit)
{
    int64_t next = limit;
    for (int i = 0; i < rc.nconn; i++) {
        struct rc_conn *c = &rc.conns[i];
        int64_t due;
        while (!c->busy && (due = rc_due(c, c->k)) <= now && due < rc.mend)
            rc_issue(c, due);
        if (!c->busy && (due = rc_due(c, c->k)) < next)
            next = due;
    }
    return next;
}

static void rc_wait(int64_t until)
{
    struct itimerspec it = { .it_value = { until / 1000000000LL, until % 1000000000LL } };
    struct epoll_event evs[256];
    timerfd_settime(rc.tfd, TFD_TIMER_ABSTIME, &it, NULL);
    int n = epoll_wait(rc.ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
        if (evs[i].data.ptr == NULL) {
            uint64_t x;
            if (read(rc.tfd, &x, sizeof x) < 0)
                continue;
        } else {
            struct rc_conn *c = evs[i].data.ptr;
            if (c->fd >= 0)
                rc_drive(c, evs[i].events);
        }
    }
}

/* Open every connection (and finish its handshake) before the clock starts. */
static int rc_connect_all(void)
{
    int64_t limit = rc_now() + 5000000000LL;
    for (int i = 0; i < rc.nconn; i++)
        if (rc_open(&rc.conns[i]) < 0)
            return -1;
    for (;;) {
        int ready = 0;
        for (int i = 0; i < rc.nconn; i++) {
            if (rc.conns[i].phase == RC_DOWN)
                return -1;
            ready += rc.conns[i].phase == RC_READY;
        }
        if (ready == rc.nconn)
            return 0;
        if (rc_now() > limit)
            return rc_note_err("connect timed out"), -1;
        rc_wait(rc_now() + 100000000LL);
    }
}

static void rc_run(void)
{
    rc.sched.start = rc_now() + 1000000;
    rc.mstart = rc.sched.start + (int64_t)(rc.warm * 1e9);
    rc.mend = rc.mstart + (int64_t)(rc.dur * 1e9);
    for (int64_t now = rc_now(); now < rc.mend; now = rc_now())
        rc_wait(rc_schedule(now, rc.mend));
    int64_t limit = rc.mend + RC_GRACE_NS;
    for (;;) {
        int busy = 0;
        for (int i = 0; i < rc.nconn; i++)
            busy += rc.conns[i].busy;
        if (!busy || rc_now() >= limit)
            break;
        rc_wait(limit);
    }
    for (int i = 0; i < rc.nconn; i++) {
        struct rc_conn *c = &rc.conns[i];
        if (c->busy && c->measured)
            rc.st.errors++, rc_note_err("no answer within 2 s of the end");
        rc.st.unsent += rcc_due_between(&rc.sched, c->idx, c->k, rc.mstart, rc.mend);
    }
}

static int rc_report(void)
{
    char line[512];
    rcc_lat_sort(&rc.lat);
    int behind = rcc_format(line, sizeof line, &rc.st, &rc.lat);
    printf("%s\n", line);
    if (rc.first_err[0])
        fprintf(stderr, "ratecli: first error: %s\n", rc.first_err);
    return behind ? 2 : 0;
}

static int rc_usage(const char *why)
{
    fprintf(stderr, "ratecli: %s\nusage: ratecli [-c conns] [-R req/s] [-d seconds] "
            "[-w warm-up seconds] http[s]://127.0.0.1:PORT/path\n", why);
    return 1;
}

/* http[s]://IPv4-or-localhost:PORT/path into rc.url, rc.addr and rc.req. */
static int rc_parse_url(const char *url, const char **why)
{
    if (rcc_url_parse(url, &rc.url, why) < 0)
        return -1;
    const char *host = strcmp(rc.url.host, "localhost") ? rc.url.host : "127.0.0.1";
    rc.addr.sin_family = AF_INET;
    rc.addr.sin_port = htons((uint16_t)rc.url.port);
    if (inet_pton(AF_INET, host, &rc.addr.sin_addr) != 1)
        return *why = "host must be an IPv4 address or localhost", -1;
    int n = rcc_request(rc.req, sizeof rc.req, &rc.url);
    if (n < 0)
        return *why = "URL too long for the request", -1;
    rc.reqlen = (size_t)n;
    return 0;
}

static int rc_args(int argc, char **argv, const char **why)
{
    rc.nconn = 64, rc.rate = 20000, rc.dur = 5, rc.warm = 1;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        char *e;
        double v = strtod(argv[i + 1], &e);
        if (e == argv[i + 1] || *e)
            return *why = "option values must be numbers", -1;
        if (!strcmp(argv[i], "-c")) rc.nconn = (int)v;
        else if (!strcmp(argv[i], "-R")) rc.rate = v;
        else if (!strcmp(argv[i], "-d")) rc.dur = v;
        else if (!strcmp(argv[i], "-w")) rc.warm = v;
        else return *why = "unknown option", -1;
    }
    if (i != argc - 1)
        return *why = "want options, then exactly one URL", -1;
    if (rc.nconn < 1 || rc.nconn > 10000 || rc.rate < 1 || rc.rate > 5e6 ||
        rc.dur <= 0 || rc.dur > 3600 || rc.warm < 0 || rc.warm > 600)
        return *why = "out of range: -c 1..10000, -R 1..5000000, -d 0..3600, -w 0..600", -1;
    if (rc.rate * rc.dur > 2e8)
        return *why = "-R times -d is too many requests to record", -1;
    return rc_parse_url(argv[i], why);
}

int main(int argc, char **argv)
{
    const char *why = NULL;
    if (rc_args(argc, argv, &why) < 0)
        return rc_usage(why);
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);      /* wake up on time */
    rc.sched.nconn = rc.nconn;
    rc.sched.rate = rc.st.rate = rc.rate;
    rc.st.dur = rc.dur;
    int nomem = rcc_lat_init(&rc.lat, (size_t)(rc.rate * rc.dur) + (size_t)rc.nconn + 16);
    rc.conns = calloc((size_t)rc.nconn, sizeof *rc.conns);
    rc.ep = epoll_create1(0);
    rc.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    if (nomem || !rc.conns || rc.ep < 0 || rc.tfd < 0)
        return fprintf(stderr, "ratecli: out of memory or descriptors\n"), 1;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(rc.ep, EPOLL_CTL_ADD, rc.tfd, &ev);
    if (rc.url.tls) {
        rc.ctx = SSL_CTX_new(TLS_client_method());
        if (!rc.ctx)
            return fprintf(stderr, "ratecli: SSL_CTX_new failed\n"), 1;
        SSL_CTX_set_verify(rc.ctx, SSL_VERIFY_NONE, NULL);
    }
    for (int i = 0; i < rc.nconn; i++) {
        rc.conns[i].idx = i, rc.conns[i].fd = -1;
        rcc_resp_reset(&rc.conns[i].resp);
    }
    if (rc_connect_all() < 0) {
        fprintf(stderr, "ratecli: cannot connect to %s:%d: %s\n", rc.url.host, rc.url.port,
                rc.first_err[0] ? rc.first_err : strerror(errno));
        return 1;
    }
    rc.first_err[0] = 0;
    rc_run();
    return rc_report();
}
