/*
 * test_conn_timer.c — conn_timer(): every connection's timer is an entry in
 * one per-worker heap of deadlines driven by one uv_timer (core/conn.c).
 *
 * The heap itself is checked without sockets (random arms, re-arms and
 * disarms of 1,000 entries, its order and back-pointers verified after each
 * step, then popped in deadline order). Then real loopback connections: many
 * connections with different timeouts each time out once, on time and in
 * deadline order; a timer re-armed and disarmed a thousand times fires once
 * (or never, when left disarmed); a connection closed with its timer pending
 * is never called back while the others still fire; a timeout callback that
 * re-arms gets called again; and when the last connection is gone the worker
 * keeps no heap, no write requests and no timer handle.
 *
 * Each case runs a libuv loop in this thread with one listener; a client
 * thread opens N connections, sends byte i on connection i (which runs the
 * case's script inside the read callback), waits, sends "q" on each (a
 * connection still open then closes), and reads each to the end.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "core/conn.c"
#include "tests/unit/test.h"
#include "tests/unit/conn_loopback.h"

#define MAXN 64

typedef struct rec {
    int      idx;
    uint64_t armed_at, ms;      /* the last arm */
    uint64_t fired_at[4];
    int      fired, quit, closed;
} rec;

typedef struct scenario {
    int    n;
    int    wait_ms;                      /* the client waits before "q" */
    void (*first)(conn *c, rec *r);      /* on byte i */
    void (*timeout)(conn *c, rec *r);    /* default: abort */
    rec    recs[MAXN];
    int    order[MAXN], nfired;          /* timeouts in the order they came */
    int    closed, port;
} scenario;

static scenario *S;

static uint64_t now_ms(void) { return uv_now(&WI.loop); }

static void arm(conn *c, rec *r, uint64_t ms)
{
    r->armed_at = now_ms();
    r->ms = ms;
    conn_timer(c, ms);
}

static int t_open(conn *c) { c->proto_data = NULL; return 0; }

static void t_read(conn *c, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        rec *r = c->proto_data;
        if (!r) {
            r = &S->recs[(unsigned char)data[i] % MAXN];
            r->idx = (unsigned char)data[i];
            c->proto_data = r;
            S->first(c, r);
        } else if (data[i] == 'q') {
            r->quit = 1;
            conn_close(c);
            return;
        }
    }
}

static void t_timeout(conn *c)
{
    rec *r = c->proto_data;
    if (r->fired < 4)
        r->fired_at[r->fired] = now_ms();
    r->fired++;
    S->order[S->nfired++ % MAXN] = r->idx;
    if (S->timeout)
        S->timeout(c, r);
    else
        conn_abort(c);
}

static void t_close(conn *c)
{
    rec *r = c->proto_data;
    if (r)
        r->closed++;
    if (++S->closed == S->n)
        lb_stop_listening();
}

static const conn_proto t_proto = {
    .name = "test", .open = t_open, .read = t_read, .timeout = t_timeout, .close = t_close,
};

static void *client(void *arg)
{
    scenario *s = arg;
    int fds[MAXN];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < s->n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        char b = (char)i;
        if (connect(fds[i], (struct sockaddr *)&a, sizeof a) < 0 || write(fds[i], &b, 1) != 1)
            fprintf(stderr, "client: connection %d failed\n", i);
    }
    struct timespec ts = {s->wait_ms / 1000, (long)(s->wait_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    for (int i = 0; i < s->n; i++)
        if (send(fds[i], "q", 1, MSG_NOSIGNAL) < 0) { /* already closed by the server */ }
    for (int i = 0; i < s->n; i++) {
        char tmp[256];
        while (read(fds[i], tmp, sizeof tmp) > 0) {}
        close(fds[i]);
    }
    return NULL;
}

/* N connections through the scenario; returns once every one is gone. */
static void run(scenario *s)
{
    S = s;
    s->port = lb_listen(&t_proto, MAXN);
    lb_run(client, s);
}

/* The worker holds nothing for connections once they are all gone, and the
 * loop closes (no handle of conn.c left open). */
static int worker_released(void)
{
    int ok = WI.nconns == 0 && WI.theap == NULL && WI.theap_n == 0 && WI.wreq_free == NULL &&
             WI.conn_timer_init == TIMER_NONE;
    return uv_loop_close(&WI.loop) == 0 && ok;
}

/* Slack for a loaded two-core machine: late, never early. */
#define LATE_MS 150

/* ---- the heap alone ----------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int heap_ok(const worker_impl *wi)
{
    for (uint32_t i = 0; i < wi->theap_n; i++) {
        if (wi->theap[i].ci->tslot != i + 1)
            return 0;
        if (i && wi->theap[(i - 1) / 2].due > wi->theap[i].due)
            return 0;
    }
    return 1;
}

TEST(heap_keeps_order_through_random_arms_rearms_and_disarms)
{
    enum { N = 1000 };
    static conn_impl cis[N];
    static uint64_t due[N];          /* 0: not armed */
    memset(&WI, 0, sizeof WI);
    memset(cis, 0, sizeof cis);
    memset(due, 0, sizeof due);
    uv_loop_init(&WI.loop);
    for (int step = 0; step < 20000; step++) {
        int k = (int)(next_rand() % N);
        if (due[k] && next_rand() % 3 == 0) {
            timer_remove(&WI, &cis[k]);
            due[k] = 0;
        } else {
            timer_remove(&WI, &cis[k]);       /* a re-arm replaces */
            due[k] = 1 + next_rand() % 100000;
            CHECK_INT(timer_insert(&WI, &cis[k], due[k]), 0);
        }
        if (step % 97 == 0)
            CHECK(heap_ok(&WI));
    }
    CHECK(heap_ok(&WI));
    uint32_t armed = 0;
    for (int k = 0; k < N; k++)
        armed += due[k] != 0;
    CHECK_INT(WI.theap_n, armed);
    uint64_t last = 0;
    while (WI.theap_n) {
        conn_impl *ci = WI.theap[0].ci;
        uint64_t d = WI.theap[0].due;
        CHECK(d >= last);
        CHECK_INT(d, due[ci - cis]);
        last = d;
        timer_remove(&WI, ci);
        CHECK_INT(ci->tslot, 0);
    }
    worker_conns_gone(&WI);
    uv_run(&WI.loop, UV_RUN_DEFAULT);     /* the timer handle closes */
    CHECK(worker_released());
}

/* ---- many connections, different timeouts ----------------------------- */

static void first_spread(conn *c, rec *r)
{
    arm(c, r, 20 + (uint64_t)((r->idx * 37) % 40) * 10);   /* 20..410 ms, shuffled */
}

TEST(many_connections_time_out_once_each_on_time_in_order)
{
    static scenario s;
    memset(&s, 0, sizeof s);
    s = (scenario){.n = 40, .wait_ms = 900, .first = first_spread};
    run(&s);
    CHECK_INT(s.nfired, 40);
    uint64_t prev_due = 0;
    for (int k = 0; k < s.nfired; k++) {
        rec *r = &s.recs[s.order[k]];
        uint64_t d = r->armed_at + r->ms;
        CHECK(d >= prev_due);                     /* deadline order */
        prev_due = d;
    }
    for (int i = 0; i < s.n; i++) {
        rec *r = &s.recs[i];
        CHECK_INT(r->fired, 1);
        CHECK_INT(r->closed, 1);
        CHECK_INT(r->quit, 0);
        CHECK(r->fired_at[0] >= r->armed_at + r->ms);
        CHECK(r->fired_at[0] <= r->armed_at + r->ms + LATE_MS);
    }
    CHECK(worker_released());
}

/* ---- re-armed and disarmed a thousand times --------------------------- */

static void first_churn(conn *c, rec *r)
{
    for (int k = 0; k < 1000; k++) {
        conn_timer(c, 1 + next_rand() % 5000);
        if (k % 3 == 0)
            conn_timer(c, 0);
    }
    if (r->idx % 2 == 0)
        arm(c, r, 100);      /* the last arm counts */
    else
        conn_timer(c, 0);    /* left disarmed: closed by the client's "q" */
}

TEST(timer_rearmed_and_disarmed_repeatedly_fires_once_or_never)
{
    static scenario s;
    memset(&s, 0, sizeof s);
    s = (scenario){.n = 12, .wait_ms = 500, .first = first_churn};
    run(&s);
    for (int i = 0; i < s.n; i++) {
        rec *r = &s.recs[i];
        CHECK_INT(r->closed, 1);
        if (i % 2 == 0) {
            CHECK_INT(r->fired, 1);
            CHECK(r->fired_at[0] >= r->armed_at + 100);
            CHECK(r->fired_at[0] <= r->armed_at + 100 + LATE_MS);
        } else {
            CHECK_INT(r->fired, 0);
            CHECK_INT(r->quit, 1);
        }
    }
    CHECK(worker_released());
}

/* ---- closed with a timer pending -------------------------------------- */

static void first_close_some(conn *c, rec *r)
{
    arm(c, r, 60 + (uint64_t)(r->idx % 3) * 20);
    if (r->idx % 2 == 0) {
        if (r->idx % 4 == 0)
            conn_close(c);   /* flushed, then closed: no callback after this */
        else
            conn_abort(c);
    }
}

TEST(conn_closed_with_pending_timer_is_never_called_back)
{
    static scenario s;
    memset(&s, 0, sizeof s);
    s = (scenario){.n = 16, .wait_ms = 400, .first = first_close_some};
    run(&s);
    for (int i = 0; i < s.n; i++) {
        rec *r = &s.recs[i];
        CHECK_INT(r->closed, 1);
        CHECK_INT(r->fired, i % 2 == 0 ? 0 : 1);
        if (i % 2) {
            CHECK(r->fired_at[0] >= r->armed_at + r->ms);
            CHECK(r->fired_at[0] <= r->armed_at + r->ms + LATE_MS);
        }
    }
    CHECK(worker_released());
}

/* ---- a timeout that re-arms ------------------------------------------- */

static void first_30(conn *c, rec *r) { arm(c, r, 30); }

static void timeout_rearm_once(conn *c, rec *r)
{
    if (r->fired == 1)
        arm(c, r, 40 + (uint64_t)r->idx * 5);   /* e.g. a file still moving */
    else
        conn_abort(c);
}

TEST(timeout_callback_that_rearms_is_called_again)
{
    static scenario s;
    memset(&s, 0, sizeof s);
    s = (scenario){.n = 6, .wait_ms = 500, .first = first_30, .timeout = timeout_rearm_once};
    run(&s);
    for (int i = 0; i < s.n; i++) {
        rec *r = &s.recs[i];
        CHECK_INT(r->fired, 2);
        CHECK_INT(r->closed, 1);
        CHECK(r->fired_at[1] >= r->fired_at[0] + r->ms);
        CHECK(r->fired_at[1] <= r->fired_at[0] + r->ms + LATE_MS);
    }
    CHECK(worker_released());
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(heap_keeps_order_through_random_arms_rearms_and_disarms);
    RUN(many_connections_time_out_once_each_on_time_in_order);
    RUN(timer_rearmed_and_disarmed_repeatedly_fires_once_or_never);
    RUN(conn_closed_with_pending_timer_is_never_called_back);
    RUN(timeout_callback_that_rearms_is_called_again);
    return test_done();
}
