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
