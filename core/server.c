/*
 * server.c — listeners, workers, signals, logging.
 *
 * The first process binds every listener once (so "port in use" is
 * reported before anything starts), creates the shared TLS context and the
 * shared memory (workers' counters; the app's session store through
 * app_ops.prefork), then becomes the master (core/master.c), which forks N
 * worker processes and restarts one that dies. Each worker process runs its
 * libuv loop and its application (one Lua state) on a thread, accepting on
 * the inherited listening sockets; its main thread only watches signals and
 * runs the tick (runaway-script watchdog, status counters). SIGTERM drains
 * a worker (stop accepting, let protocols finish what is in flight, bounded
 * by a deadline); SIGHUP reloads its scripts and certificates in place.
 */
#include "core/server.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include <uv.h>
#include "core/accesslog.h"
#include "core/http1_conn.h"
#include "core/server_impl.h"
#include "core/tls.h"

static const conn_proto *protos[LISTEN_KINDS];
static const conn_proto *h2proto;
static _Thread_local worker *current_worker;
static const char *kind_names[LISTEN_KINDS] = {
    "http", "https", "smtp", "submission", "imap", "pop3", "smtps", "imaps", "pop3s", "gopher"
};

void server_set_proto(enum listen_kind kind, const conn_proto *p) { protos[kind] = p; }
void server_set_h2_proto(const conn_proto *p) { h2proto = p; }
const conn_proto *server_h2_proto(void) { return h2proto; }
const char *server_kind_name(enum listen_kind k) { return kind_names[k]; }
worker *worker_current(void) { return current_worker; }
void worker_conn_count(worker *w, int delta) { (void)w; (void)delta; }

static int log_min = LOGL_INFO;
static int log_fd = 2;
static int log_to_file;

int log_level_parse(const char *name)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i]) || (i == 1 && !strcmp(name, "warning")))
            return LOGL_ERROR + i;
    return -1;
}

int log_open(const char *path, int level, char *err, size_t errlen)
{
    if (level)
        log_min = level;
    if (!path)
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "--error-log %s: %s", path, strerror(errno));
        return -1;
    }
    log_fd = fd;
    log_to_file = 1;
    return 0;
}

/* One write(2) per line, so lines from several processes never mix. */
static void vlog(int level, const char *fmt, va_list ap)
{
    static const char *tags[] = { "", "error: ", "warning: ", "", "debug: " };
    if (level > log_min)
        return;
    char line[2048];
    int n = 0;
    if (log_to_file) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = (int)strftime(line, 32, "%Y-%m-%dT%H:%M:%SZ ", &tm);
        n += snprintf(line + n, sizeof line - (size_t)n, "[%d] ", (int)getpid());
    }
    n += snprintf(line + n, sizeof line - (size_t)n, "atto: %s", tags[level]);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    n = m < 0 ? n : n + m > (int)sizeof line - 2 ? (int)sizeof line - 2 : n + m;
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}
void log_error(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vlog(LOGL_ERROR, fmt, ap); va_end(ap); }
void log_warn(const char *fmt, ...)  { va_list ap; va_start(ap, fmt); vlog(LOGL_WARN, fmt, ap); va_end(ap); }
void log_info(const char *fmt, ...)  { va_list ap; va_start(ap, fmt); vlog(LOGL_INFO, fmt, ap); va_end(ap); }
void log_debug(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vlog(LOGL_DEBUG, fmt, ap); va_end(ap); }

void server_config_defaults(server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ports[LISTEN_HTTP] = 8080;
    cfg->ports[LISTEN_HTTPS] = 8443;
    cfg->ports[LISTEN_SMTP] = 2525;
    cfg->ports[LISTEN_SUBMISSION] = 5870;
    cfg->ports[LISTEN_IMAP] = 1143;
    cfg->ports[LISTEN_POP3] = 1110;
    cfg->ports[LISTEN_GOPHER] = 7070;
    cfg->workers = 0;
    cfg->limits = (server_limits){
        .max_header_bytes = 16384, .max_body_bytes = 10u << 20, .max_headers = 100,
        .max_uri_bytes = 8192, .keepalive_ms = 20000, .header_timeout_ms = 10000,
        .body_timeout_ms = 30000, .handler_ms = 5000, .max_upload_parts = 1000,
        .h2_max_streams = 100,
    };
}

/* ---- listeners ---------------------------------------------------------- */

static int listen_one(listener *l, const char *addr, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    socklen_t sl;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1) goto bad_addr;
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, addr, &a->sin_addr) != 1) goto bad_addr;
        sl = sizeof *a;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open a socket for %s: %s", addr, strerror(errno));
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            snprintf(err, errlen, "port %d (%s) on %s is already in use: stop the other server or choose another port with --%s PORT",
                     port, kind_names[l->kind], addr, kind_names[l->kind]);
        else if (e == EACCES)
            snprintf(err, errlen, "port %d (%s) on %s needs privileges: choose a port above 1023 with --%s PORT",
                     port, kind_names[l->kind], addr, kind_names[l->kind]);
        else
            snprintf(err, errlen, "cannot listen on %s port %d (%s): %s", addr, port, kind_names[l->kind], strerror(e));
        return -e;
    }
    l->fd = fd;
    l->port = port;
    snprintf(l->addr, sizeof l->addr, "%s", addr);
    return 0;
bad_addr:
    snprintf(err, errlen, "--bind %s is not an IPv4 or IPv6 address", addr);
    return -EINVAL;
}

static const char *scheme_of(enum listen_kind k)
{
    switch (k) {
    case LISTEN_HTTP: return "http";
    case LISTEN_HTTPS: return "https";
    case LISTEN_SMTP: case LISTEN_SUBMISSION: return "smtp";
    case LISTEN_SMTPS: return "smtps";
    case LISTEN_IMAP: return "imap";
    case LISTEN_IMAPS: return "imaps";
    case LISTEN_POP3: return "pop3";
    case LISTEN_POP3S: return "pop3s";
    case LISTEN_GOPHER: return "gopher";
    default: return "tcp";
    }
}

static int is_tls_kind(enum listen_kind k)
{
    return k == LISTEN_HTTPS || k == LISTEN_SMTPS || k == LISTEN_IMAPS || k == LISTEN_POP3S;
}

static const conn_proto *proto_for(enum listen_kind k)
{
    switch (k) {
    case LISTEN_HTTPS: return protos[LISTEN_HTTP];
    case LISTEN_SMTPS: return protos[LISTEN_SMTPS] ? protos[LISTEN_SMTPS] : protos[LISTEN_SUBMISSION];
    case LISTEN_IMAPS: return protos[LISTEN_IMAP];
    case LISTEN_POP3S: return protos[LISTEN_POP3];
    default: return protos[k];
    }
}

/* ---- workers ------------------------------------------------------------ */

static uint64_t started_ms;
static worker *workers;    /* every worker's public part, in shared memory */
static worker *self;       /* this process's worker (NULL in the master) */
static int nworkers;
static listener *listeners;
static long master_rss_kb;
static const app_ops *server_ops;

static long rss_now_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    if (f)
        fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Every worker's counters live in shared memory; a worker's open
 * connections and RSS are mirrored there by its tick (on_tick). */
void server_get_stats(server_stats *out)
{
    memset(out, 0, sizeof *out);
    out->workers = nworkers;
    out->rss_kb = master_rss_kb;
    for (int i = 0; i < nworkers; i++) {
        worker *w = &workers[i];
        out->requests += w->requests;
        out->connections_total += w->connections;
        if (w == self && w->impl) {
            out->connections_open += ((worker_impl *)w->impl)->nconns;
            out->rss_kb += rss_now_kb();
        } else {
            out->connections_open += w->open_conns;
            out->rss_kb += w->rss_kb;
        }
    }
    out->uptime_s = (double)(uv_hrtime() / 1000000 - started_ms) / 1000.0;
}

static int nlisteners;

static void on_connection(uv_stream_t *server, int status)
{
    worker *w = server->loop->data;
    listener *l = server->data;
    if (status < 0 || w->draining)
        return;
    conn_accept(w, l, server);
}

static void worker_close_listeners(worker *w)
{
    worker_impl *wi = w->impl;
    for (int i = 0; i < wi->nlisten; i++)
        if (!uv_is_closing((uv_handle_t *)&wi->listen_handles[i]))
            uv_close((uv_handle_t *)&wi->listen_handles[i], NULL);
}

static void on_drain_tick(uv_timer_t *t)
{
    worker *w = t->data;
    worker_impl *wi = w->impl;
    uint64_t elapsed = uv_now(&wi->loop) - wi->drain_start;
    if (wi->nconns == 0 || elapsed >= DRAIN_DEADLINE_MS) {
        conn_abort_all(w);
        uv_timer_stop(t);
        uv_stop(&wi->loop);   /* the app's own timers die with the loop */
        return;
    }
    conn_drain_all(w);  /* idle keep-alive conns close as they go idle */
}

static void worker_start_drain(worker *w)
{
    worker_impl *wi = w->impl;
    if (w->draining)
        return;
    w->draining = 1;
    worker_close_listeners(w);
    conn_drain_all(w);
    wi->drain_start = uv_now(&wi->loop);
    uv_timer_init(&wi->loop, &wi->drain_timer);
    wi->drain_timer.data = w;
    uv_timer_start(&wi->drain_timer, on_drain_tick, 0, 50);
}

static void on_wake(uv_async_t *a)
{
    worker *w = a->data;
    worker_impl *wi = w->impl;
    if (wi->want_reload) {
        wi->want_reload = 0;
        char err[512] = "";
        /* every worker reloads the same files: one says so (no N copies) */
        if (w->ops->reload && w->ops->reload(w->app, err, sizeof err) < 0)
            (w->id == 0 ? log_error : log_debug)("reload failed, keeping the old scripts: %s", err);
    }
    if (wi->want_drain)
        worker_start_drain(w);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void worker_main(void *arg)
{
    worker *w = arg;
    worker_impl *wi = w->impl;
    current_worker = w;
    uv_run(&wi->loop, UV_RUN_DEFAULT);
    /* stopped: release the app, then every handle left (app timers too) */
    if (w->ops->destroy)
        w->ops->destroy(w->app);
    w->app = NULL;
    uv_walk(&wi->loop, close_walk, NULL);
    uv_run(&wi->loop, UV_RUN_DEFAULT);
    uv_loop_close(&wi->loop);
    http1_thread_done();
    buf_pool_thread_done();
    current_worker = NULL;
}

static int worker_init(worker *w, int id, const server_config *cfg, const app_ops *ops,
                       tls_ctx *tls, char *err, size_t errlen)
{
    worker_impl *wi = calloc(1, sizeof *wi);
    if (!wi) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->impl = wi;
    w->id = id;
    w->cfg = cfg;
    w->ops = ops;
    w->tls = (struct tls_ctx *)tls;
    uv_loop_init(&wi->loop);
    wi->loop.data = w;
    w->loop = &wi->loop;
    uv_async_init(&wi->loop, &wi->wake, on_wake);
    wi->wake.data = w;
    current_worker = w;
    w->app = ops->create ? ops->create(cfg, w, err, errlen) : NULL;
    current_worker = NULL;
    if (ops->create && !w->app)
        return -1;
    wi->listen_handles = calloc((size_t)nlisteners + 1, sizeof(uv_tcp_t));
    for (int i = 0; i < nlisteners; i++) {
        uv_tcp_t *h = &wi->listen_handles[i];
        uv_tcp_init(&wi->loop, h);
        h->data = &listeners[i];
        int fd = dup(listeners[i].fd);
        /* With several workers on one listener, a worker that wakes takes
         * one connection and lets the others at the queue (libuv yields
         * after each accept); taking a whole burst left one worker with
         * 40 of 64 connections and the other idle. */
        if (fd < 0 || uv_tcp_open(h, fd) < 0 ||
            (nworkers > 1 && uv_tcp_simultaneous_accepts(h, 0) < 0) ||
            uv_listen((uv_stream_t *)h, 1024, on_connection) < 0) {
            snprintf(err, errlen, "worker %d cannot listen on port %d", id, listeners[i].port);
            return -1;
        }
        wi->nlisten++;
    }
    return 0;
}

/* ---- a worker process ---------------------------------------------------
 * The worker's loop runs on its own thread; the process's main thread keeps
 * a small loop for signals and the tick: the runaway-script watchdog (a
 * signal to the worker thread, see worker.busy_since in server.h) and the
 * counters the status page reads from other processes. */

static uv_signal_t sig_term, sig_hup;
static tls_ctx *server_tls;
static server_config *server_cfg;
static uv_timer_t tick;

static void on_tick(uv_timer_t *t)
{
    static unsigned n;
    worker_impl *wi = self->impl;
    uint64_t since = self->busy_since;
    if (since && uv_hrtime() > since + server_cfg->limits.handler_ms * 1000000ull && wi->started)
        pthread_kill(wi->thread, SIGUSR2);
    self->open_conns = wi->nconns;
    if (n++ % 4 == 0)
        self->rss_kb = rss_now_kb();
}

static void wake_worker(int drain, int reload)
{
    worker_impl *wi = self->impl;
    if (drain) wi->want_drain = 1;
    if (reload) wi->want_reload = 1;
    uv_async_send(&wi->wake);
}

static int tls_certs(const server_config *cfg, tls_cert_cfg *out, char *err, size_t errlen);
#define MAX_CERTS 17

/* The master logged the signal and sent it to every worker. */
static void on_signal(uv_signal_t *s, int signum)
{
    if (signum == SIGHUP) {
        if (server_tls) {
            tls_cert_cfg certs[MAX_CERTS];
            char err[512];
            int n = tls_certs(server_cfg, certs, err, sizeof err);
            if (n < 0 || tls_ctx_reload(server_tls, certs, (size_t)n, err, sizeof err) < 0)
                (self->id == 0 ? log_error : log_debug)("certificate reload failed, keeping the old one: %s", err);
        }
        wake_worker(0, 1);
        return;
    }
    wake_worker(1, 0);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
}

/* master.c runs this in each forked worker; the return value is its exit
 * status. */
static int worker_process(int id, int ready_fd)
{
    char err[1024] = "";
    self = &workers[id];
    self->open_conns = 0;
    if (worker_init(self, id, server_cfg, server_ops, server_tls, err, sizeof err) < 0) {
        log_error("%s", err);
        return 3;
    }
    worker_impl *wi = self->impl;
    uv_loop_t *main_loop = uv_default_loop();
    uv_signal_init(main_loop, &sig_term);
    uv_signal_init(main_loop, &sig_hup);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_hup, on_signal, SIGHUP);
    uint64_t every = server_cfg->limits.handler_ms / 4 ? server_cfg->limits.handler_ms / 4 : 1;
    uv_timer_init(main_loop, &tick);
    uv_timer_start(&tick, on_tick, every > 250 ? 250 : every, every > 250 ? 250 : every);
    uv_thread_create(&wi->thread, worker_main, self);
    wi->started = 1;
    log_debug("worker %d serving (pid %d)", id, (int)getpid());
    if (ready_fd >= 0) {
        ssize_t w = write(ready_fd, "r", 1);
        (void)w;
        close(ready_fd);
    }
    uv_run(main_loop, UV_RUN_DEFAULT);
    uv_thread_join(&wi->thread);
    uv_loop_close(main_loop);
    fflush(NULL);
    return 0;
}

/* The default certificate (--cert/--key, or the dev one) first, then one
 * per SNI host from site:listen{ tls = {...} }. Returns the count or -1. */
static int tls_certs(const server_config *cfg, tls_cert_cfg *out, char *err, size_t errlen)
{
    static char cert[1024], key[1024];
    out[0].host = NULL;
    if (cfg->cert && cfg->key) {
        out[0].cert = cfg->cert;
        out[0].key = cfg->key;
    } else {
        if (tls_dev_cert(cfg->site_dir, cert, sizeof cert, key, sizeof key, err, errlen) < 0)
            return -1;
        out[0].cert = cert;
        out[0].key = key;
    }
    int n = 1;
    for (int i = 0; i < cfg->nsni && n < MAX_CERTS; i++, n++) {
        out[n].host = cfg->sni[i].host;
        out[n].cert = cfg->sni[i].cert;
        out[n].key = cfg->sni[i].key;
    }
    return n;
}

/* ---- run ---------------------------------------------------------------- */

/* --user: ports are bound; from here on run as that account. */
static int drop_privileges(const char *user, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "--user %s: no such user", user);
        return -1;
    }
    if (getuid() != 0) {
        if (getuid() == pw->pw_uid)
            return 0;
        snprintf(err, errlen, "--user %s: only root can switch users", user);
        return -1;
    }
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "--user %s: cannot switch: %s", user, strerror(errno));
        return -1;
    }
    return 0;
}

static int needs_tls(const server_config *cfg)
{
    for (int k = 0; k < LISTEN_KINDS; k++)
        if (cfg->ports[k] && proto_for(k) &&
            (is_tls_kind(k) || k == LISTEN_SMTP || k == LISTEN_SUBMISSION || k == LISTEN_IMAP || k == LISTEN_POP3))
            return 1;
    return 0;
}

static int bind_all(server_config *cfg, char *err, size_t errlen)
{
    listeners = calloc(LISTEN_KINDS * 8, sizeof *listeners);
    for (int k = 0; k < LISTEN_KINDS; k++) {
        if (!cfg->ports[k] || !proto_for(k))
            continue;
        for (int b = 0; b < cfg->nbind; b++) {
            listener *l = &listeners[nlisteners];
            l->kind = k;
            l->proto = proto_for(k);
            l->tls = is_tls_kind(k);
            l->offer_h2 = k == LISTEN_HTTPS && h2proto;
            int rc = listen_one(l, cfg->bind[b], cfg->ports[k], err, errlen);
            if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
                log_warn("%s: skipped (no such address on this machine)", cfg->bind[b]);
                continue;
            }
            if (rc < 0)
                return -1;
            nlisteners++;
        }
    }
    return 0;
}

static void print_listeners(void)
{
    for (int i = 0; i < nlisteners; i++) {
        listener *l = &listeners[i];
        int v6 = strchr(l->addr, ':') != NULL;
        char host[80];
        snprintf(host, sizeof host, v6 ? "[%s]" : "%s", l->addr);
        if (!strcmp(l->addr, "0.0.0.0") || !strcmp(l->addr, "::"))
            snprintf(host, sizeof host, "localhost");
        printf("atto: %-10s %s://%s:%d/\n", kind_names[l->kind], scheme_of(l->kind), host, l->port);
    }
    fflush(stdout);
}

/* Shared memory for every worker's public part (counters), so the
 * status page of any worker can sum them. */
static worker *workers_shared(int n)
{
    void *p = mmap(NULL, (size_t)n * sizeof(worker), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int server_run(server_config *cfg, const app_ops *ops)
{
    char err[1024] = "";
    server_cfg = cfg;
    server_ops = ops;
    signal(SIGPIPE, SIG_IGN);
    if (cfg->nbind == 0) {
        cfg->bind[0] = "127.0.0.1";
        cfg->bind[1] = "::1";
        cfg->nbind = 2;
    }
    if (cfg->workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = n > 0 ? (int)n : 1;
    }
    if (log_open(cfg->error_log, cfg->log_level, err, sizeof err) < 0 ||
        accesslog_open(cfg->log_file, err, sizeof err) < 0)
        goto fail;
    if (bind_all(cfg, err, sizeof err) < 0)
        goto fail;
    if (nlisteners == 0) {
        snprintf(err, sizeof err, "every listener is off (all ports are 0): nothing to serve");
        goto fail;
    }
    if (needs_tls(cfg)) {
        tls_cert_cfg certs[MAX_CERTS];
        int n = tls_certs(cfg, certs, err, sizeof err);
        if (n < 0)
            goto fail;
        server_tls = tls_ctx_new(certs, (size_t)n, err, sizeof err);
        if (!server_tls)
            goto fail;
    }
    /* keys are read and ports bound: the rest runs as --user */
    if (cfg->user && drop_privileges(cfg->user, err, sizeof err) < 0)
        goto fail;
    nworkers = cfg->workers;
    if (!(workers = workers_shared(nworkers))) {
        snprintf(err, sizeof err, "cannot map shared memory for %d workers: %s", nworkers, strerror(errno));
        goto fail;
    }
    if (ops->prefork && ops->prefork(cfg, err, sizeof err) < 0)
        goto fail;
    started_ms = uv_hrtime() / 1000000;
    master_rss_kb = rss_now_kb();
    if (master_start(nworkers, worker_process, err, sizeof err) < 0)
        goto fail;
    print_listeners();
    master_loop();
    if (ops->shutdown)
        ops->shutdown(cfg);
    for (int i = 0; i < nlisteners; i++)
        close(listeners[i].fd);
    free(listeners);
    munmap(workers, (size_t)nworkers * sizeof(worker));
    if (server_tls)
        tls_ctx_free(server_tls);
    log_info("stopped");
    return 0;
fail:
    log_error("%s", err);
    return 1;
}
