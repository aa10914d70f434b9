/*
 * master.c — the supervising process: forks the workers, restarts one that
 * dies, and turns signals into orders for all of them.
 *
 * server.c binds the listeners, makes the TLS context and the shared memory
 * (session store, counters), then hands over here. Each worker is a process
 * forked from this one, inheriting the listening sockets; it runs one libuv
 * loop and one Lua state (server.c's worker_process). A worker that crashes
 * or is killed is logged with its signal and started again — after a short
 * back-off when it keeps dying at once — while the others serve on: they
 * share nothing with it but the listening sockets and the shared memory,
 * whose lock survives a holder's death (core/shmkv.c).
 *
 * The master itself never runs libuv or Lua: it blocks the signals it cares
 * about and waits for them with sigtimedwait(). SIGHUP is forwarded (each
 * worker reloads scripts and certificates in place); SIGTERM/SIGINT are
 * forwarded as SIGTERM (each worker drains), then the master waits for every
 * worker, bounded, and returns so the caller can save the session snapshot.
 * A second SIGTERM/SIGINT kills the workers and exits 1 at once. Workers die
 * with the master (PR_SET_PDEATHSIG), so `kill -9` on it frees the ports.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/server_impl.h"

#define MASTER_START_TIMEOUT_MS 60000   /* every worker must be ready by then */
#define MASTER_STABLE_MS 2000           /* a worker that lived this long restarts at once */
#define MASTER_MAX_BACKOFF_MS 10000

typedef struct master_child {
    pid_t    pid;             /* 0: not running */
    uint64_t started_ms;
    uint64_t restart_at_ms;   /* 0: no restart pending */
    unsigned backoff_ms;
} master_child;

static master_child *kids;
static int nkids;
static master_child_fn child_main;
static sigset_t master_sigs;

static uint64_t master_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Fork worker `id`. In the child: die with the master, leave SIGINT to the
 * master (Ctrl-C reaches the whole process group), unblock signals, run. */
static int master_spawn(int id, int ready_fd, int ready_rd)
{
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot start worker %d: %s", id, strerror(errno));
        kids[id].restart_at_ms = master_now_ms() + 1000;
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        if (ready_rd >= 0)
            close(ready_rd);
        signal(SIGINT, SIG_IGN);
        sigprocmask(SIG_UNBLOCK, &master_sigs, NULL);
        _exit(child_main(id, ready_fd));
    }
    kids[id].pid = pid;
    kids[id].started_ms = master_now_ms();
    kids[id].restart_at_ms = 0;
    return 0;
}

static void master_signal_all(int signum)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i].pid > 0)
            kill(kids[i].pid, signum);
}

static int master_live(void)
{
    int n = 0;
    for (int i = 0; i < nkids; i++)
        n += kids[i].pid > 0;
    return n;
}

static void master_describe_exit(int status, char *out, size_t outlen)
{
    if (WIFSIGNALED(status))
        snprintf(out, outlen, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
}

/* Collect dead workers; unless stopping, schedule each one's restart. */
static void master_reap(int stopping)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < nkids; i++) {
            master_child *k = &kids[i];
            if (k->pid != pid)
                continue;
            k->pid = 0;
            if (stopping)
                break;
            uint64_t now = master_now_ms();
            if (now - k->started_ms >= MASTER_STABLE_MS)
                k->backoff_ms = 0;
            else
                k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : 250;
            if (k->backoff_ms > MASTER_MAX_BACKOFF_MS)
                k->backoff_ms = MASTER_MAX_BACKOFF_MS;
            k->restart_at_ms = now + k->backoff_ms;
            char how[96];
            master_describe_exit(status, how, sizeof how);
            if (k->backoff_ms >= 1000)
                log_error("worker %d (pid %d) %s; it keeps dying at start: next try in %.1f s",
                          i, (int)pid, how, k->backoff_ms / 1000.0);
            else
                log_error("worker %d (pid %d) %s; starting a new one", i, (int)pid, how);
            break;
        }
    }
}

/* Wait until every worker said "ready" (one byte each on the pipe) or one
 * of them gave up (its end closes without the byte). */
static int master_wait_ready(int rd, int n, char *err, size_t errlen)
{
    int got = 0;
    uint64_t deadline = master_now_ms() + MASTER_START_TIMEOUT_MS;
    while (got < n) {
        uint64_t now = master_now_ms();
        if (now >= deadline) {
            snprintf(err, errlen, "the workers did not start within %d s", MASTER_START_TIMEOUT_MS / 1000);
            return -1;
        }
        struct pollfd p = { .fd = rd, .events = POLLIN };
        int r = poll(&p, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        char b[64];
        ssize_t m = r > 0 ? read(rd, b, sizeof b) : 0;
        if (m < 0 && errno == EINTR)
            continue;
        if (m <= 0 && r > 0) {
            snprintf(err, errlen, "a worker failed to start (see the message above)");
            return -1;
        }
        got += (int)(m > 0 ? m : 0);
    }
    return 0;
}

int master_start(int n, master_child_fn fn, char *err, size_t errlen)
{
    nkids = n;
    child_main = fn;
    kids = calloc((size_t)n, sizeof *kids);
    sigemptyset(&master_sigs);
    sigaddset(&master_sigs, SIGTERM);
    sigaddset(&master_sigs, SIGINT);
    sigaddset(&master_sigs, SIGHUP);
    sigaddset(&master_sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &master_sigs, NULL);
    int ready[2];
    if (!kids || pipe2(ready, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot start workers: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = master_spawn(i, ready[1], ready[0]);
    close(ready[1]);
    if (rc == 0)
        rc = master_wait_ready(ready[0], n, err, errlen);
    else
        snprintf(err, errlen, "cannot start the workers: %s", strerror(errno));
    close(ready[0]);
    if (rc < 0) {
        master_signal_all(SIGKILL);
        while (master_live() && waitpid(-1, NULL, 0) > 0)
            master_reap(1);
        master_reap(1);
    }
    return rc;
}

/* The rest of the master's life. Returns when every worker has stopped. */
void master_loop(void)
{
    int stopping = 0;
    uint64_t deadline = 0;
    for (;;) {
        uint64_t now = master_now_ms(), wake = now + 1000;
        for (int i = 0; i < nkids; i++)
            if (!stopping && kids[i].restart_at_ms && kids[i].restart_at_ms < wake)
                wake = kids[i].restart_at_ms;
        if (stopping && deadline < wake)
            wake = deadline;
        uint64_t ms = wake > now ? wake - now : 0;
        struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
        int s = sigtimedwait(&master_sigs, NULL, &ts);
        if (s == SIGHUP) {
            log_info("SIGHUP: reloading scripts and certificates");
            master_signal_all(SIGHUP);
        } else if (s == SIGTERM || s == SIGINT) {
            if (stopping) {
                log_info("second signal: stopping now");
                master_signal_all(SIGKILL);
                _exit(1);
            }
            log_info("%s: finishing in-flight requests, then stopping", s == SIGINT ? "SIGINT" : "SIGTERM");
            stopping = 1;
            deadline = master_now_ms() + DRAIN_DEADLINE_MS + 5000;
            master_signal_all(SIGTERM);
        }
        master_reap(stopping);
        now = master_now_ms();
        if (stopping) {
            if (!master_live())
                break;
            if (now >= deadline) {
                log_error("workers still busy after the drain deadline: killing them");
                master_signal_all(SIGKILL);
                deadline = now + 1000;
            }
            continue;
        }
        for (int i = 0; i < nkids; i++)
            if (!kids[i].pid && kids[i].restart_at_ms && kids[i].restart_at_ms <= now)
                master_spawn(i, -1, -1);
    }
    free(kids);
    kids = NULL;
}
