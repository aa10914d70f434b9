/*
 * server.h — the server: configuration, listeners and worker threads.
 *
 * main.c fills a server_config from the command line and the site's
 * site:listen{}, then server_run() binds every listener once (so a port in
 * use is reported before anything starts), starts N workers — each a thread
 * with its own libuv loop and its own application instance (one Lua state) —
 * and waits for SIGTERM/SIGINT (drain, then exit 0) or SIGHUP (reload).
 *
 * Protocols register themselves by kind; a listener of kind LISTEN_SMTP hands
 * its connections to the SMTP conn_proto, and so on.
 */
#ifndef ATTO_SERVER_H
#define ATTO_SERVER_H
#include <stddef.h>
#include <stdint.h>
#include "core/conn.h"
#include "core/http.h"

enum listen_kind {
    LISTEN_HTTP, LISTEN_HTTPS, LISTEN_SMTP, LISTEN_SUBMISSION, LISTEN_IMAP,
    LISTEN_POP3, LISTEN_SMTPS, LISTEN_IMAPS, LISTEN_POP3S, LISTEN_GOPHER,
    LISTEN_KINDS
};

typedef struct server_limits {
    size_t   max_header_bytes;   /* request line + headers: 16 KiB -> 431 */
    size_t   max_body_bytes;     /* 10 MiB -> 413 */
    size_t   max_headers;        /* 100 -> 431 */
    size_t   max_uri_bytes;      /* 8 KiB -> 414 */
    uint64_t keepalive_ms;       /* idle keep-alive: 20 s */
    uint64_t header_timeout_ms;  /* whole request head must arrive within: 10 s -> 408 */
    uint64_t body_timeout_ms;    /* no body progress for: 30 s -> 408 */
    uint64_t handler_ms;         /* a Lua handler may run this long without yielding: 5 s */
    size_t   max_upload_parts;   /* 1000 */
    uint32_t h2_max_streams;     /* 100 */
} server_limits;

typedef struct server_config {
    const char *site_dir;        /* absolute path */
    int         ports[LISTEN_KINDS];  /* 0 = off */
    const char *bind[8];         /* addresses; default 127.0.0.1 and ::1 */
    int         nbind;
    int         workers;
    int         dev;
    int         trace_h2;
    const char *log_file;        /* access log: NULL off, "-" stdout */
    const char *cert, *key;      /* NULL: the dev certificate */
    struct { const char *host, *cert, *key; } sni[16];  /* site:listen{ tls = {...} } */
    int         nsni;
    int         https_redirect;
    int         status_page;     /* serve /.well-known/atto/status */
    const char *user;            /* --user: drop to this account after binding */
    const char *error_log;       /* --error-log FILE: server messages (NULL: stderr) */
    int         log_level;       /* --log-level: LOGL_ERROR .. LOGL_DEBUG (0: LOGL_INFO) */
    server_limits limits;
} server_config;

/* What a worker runs. The Lua layer provides it (core never includes lua.h). */
typedef struct app_ops {
    void *(*create)(const server_config *cfg, struct worker *w, char *err, size_t errlen);
    void  (*destroy)(void *app);
    void  (*handle)(void *app, http_req *r);     /* one complete HTTP request */
    int   (*reload)(void *app, char *err, size_t errlen); /* SIGHUP, or --dev change */
    /* In the master, before the workers are forked (shared state such as
     * the session store), and after they have all stopped. Optional. */
    int   (*prefork)(const server_config *cfg, char *err, size_t errlen);
    void  (*shutdown)(const server_config *cfg);
    void  *gopher;  /* gopher handler table, see gopher/gopher.h (NULL: none) */
    void  *mail;    /* mail hooks, see mail/hooks.h (NULL: none) */
} app_ops;

struct worker {
    int              id;
    void            *loop;        /* uv_loop_t* */
    const server_config *cfg;
    void            *app;         /* from app_ops.create */
    const app_ops   *ops;
    struct tls_ctx  *tls;         /* shared by all workers; NULL if no TLS */
    uint64_t         next_conn_id;
    uint64_t         requests, connections;
    int              draining;    /* SIGTERM: finish what is in flight */
    /* The app sets this (uv_hrtime) while it runs a script and clears it
     * after; past limits.handler_ms the main thread sends this worker's
     * thread SIGUSR2, which the app handles by stopping the script. */
    volatile uint64_t busy_since;
    /* Mirrored by the worker's process a few times a second for the status
     * page (workers are processes; this struct lives in shared memory). */
    int              open_conns;
    long             rss_kb;
    void            *impl;        /* server.c's private state */
};

/* The conn_proto that serves each kind of listener (NULL: not built). */
void server_set_proto(enum listen_kind kind, const conn_proto *p);
/* HTTPS connections whose ALPN chose "h2" go to this protocol. */
void server_set_h2_proto(const conn_proto *p);
const conn_proto *server_h2_proto(void);
int  server_run(server_config *cfg, const app_ops *ops);
void server_config_defaults(server_config *cfg);
const char *server_kind_name(enum listen_kind k);     /* "http", "smtp", ... */
/* The worker running on this thread (NULL outside workers). */
worker *worker_current(void);
/* Counters over every worker, for the status page (reads are racy but
 * each value is a single aligned word: good enough for monitoring). */
typedef struct server_stats {
    int      workers;
    uint64_t requests, connections_total;
    int      connections_open;
    long     rss_kb;
    double   uptime_s;
} server_stats;
void server_get_stats(server_stats *out);
/* Number of open connections on this worker (drain logic). */
void worker_conn_count(worker *w, int delta);
/* Server messages with a level. To stderr: "atto: error: ..."; to an
 * --error-log file each line also carries the time and the process id.
 * Lines below the --log-level are dropped. */
enum { LOGL_ERROR = 1, LOGL_WARN, LOGL_INFO, LOGL_DEBUG };
int  log_level_parse(const char *name);   /* "error".."debug" -> LOGL_*, or -1 */
int  log_open(const char *path, int level, char *err, size_t errlen);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
