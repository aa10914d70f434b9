/*
 * server_impl.h — what server.c and conn.c share privately: the worker's
 * scratch buffers and its list of open connections, and the listener.
 * Protocols never include this.
 */
#ifndef ATTO_SERVER_IMPL_H
#define ATTO_SERVER_IMPL_H
#include <uv.h>
#include "core/buf.h"
#include "core/server.h"

struct listener {
    enum listen_kind kind;
    const conn_proto *proto;
    int   fd;               /* bound and listening socket (shared by workers) */
    int   tls;              /* implicit TLS on accept */
    int   offer_h2;         /* ALPN h2 (HTTPS) */
    char  addr[64];
    int   port;
};

typedef struct conn_impl conn_impl;
typedef struct conn_wreq conn_wreq;

/* A connection's deadline in the worker's heap (conn.c). */
typedef struct conn_deadline {
    uint64_t   due;             /* uv_now() at which it fires */
    conn_impl *ci;
} conn_deadline;

typedef struct worker_impl {
    uv_loop_t   loop;
    uv_async_t  wake;          /* drain/reload/stop requests from the main thread */
    uv_tcp_t   *listen_handles;
    int         nlisten;
    char        rbuf[65536];   /* socket reads land here */
    buf         plain;         /* TLS plaintext scratch */
    conn_impl  *conns;         /* open connections (doubly linked) */
    int         nconns;
    int         want_drain, want_reload, want_stop;
    uv_timer_t  drain_timer;
    uint64_t    drain_start;
    uv_thread_t thread;
    int         started;
    /* conn.c, set up lazily on first use (all zero before): every
     * connection's timer is an entry in one min-heap of deadlines driven by
     * one uv_timer, and uv_write requests are taken from a free list only
     * while a write waits for the socket. All of it is released whenever
     * the worker has no connection left. */
    uv_timer_t     conn_timer;
    int            conn_timer_init;   /* none, open, closing */
    uint64_t       conn_timer_due;    /* when conn_timer fires; 0: stopped */
    conn_deadline *theap;
    uint32_t       theap_n, theap_cap;
    conn_wreq     *wreq_free;
    int            wreq_nfree;
    uint64_t       tls_sweep_due;     /* next tls_conn_trim() round; 0: none */
} worker_impl;

/* master.c: fork n workers, each running fn(id, ready_fd) in its own
 * process (it writes one byte to ready_fd, when >= 0, once it serves, and
 * returns its exit status); wait until all are ready. */
#define DRAIN_DEADLINE_MS 10000
typedef int (*master_child_fn)(int id, int ready_fd);
int  master_start(int n, master_child_fn fn, char *err, size_t errlen);
/* Supervise until every worker has stopped (SIGTERM/SIGINT). */
void master_loop(void);

/* conn.c */
void conn_accept(worker *w, listener *l, uv_stream_t *server);
void conn_drain_all(worker *w);
void conn_abort_all(worker *w);
#endif
