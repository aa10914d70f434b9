/*
 * queue.c — the outbound spool and its delivery runner (see queue.h).
 *
 * A queue file is "<sec>.<usec>.<pid>.<n>.msg" in SITE/.atto/queue/:
 *
 *   ATTO-QUEUE 1
 *   queued 00000000001732000000      (fixed width: updated in place)
 *   attempts 0000000000
 *   next 00000000001732000060
 *   from <sender>
 *   to <recipient>                   (one line each)
 *   <empty line>
 *   the message, CRLF lines, not dot-stuffed
 *
 * The runner lives on one libuv loop. A timer (and a uv_async "kick" any
 * thread may send) scans the folder; the first due file is claimed with
 * flock() and sent with a small non-blocking SMTP client. Per recipient the
 * outcome is delivered, failed (5xx: bounced) or deferred (4xx, connection
 * trouble: retried with backoff until the retry limit, then bounced). A file
 * with deferred recipients left is rewritten (tmp + rename) with only them.
 */
#include "mail/queue.h"
#include "mail/maildir.h"
#include "mail/users.h"
#include "core/buf.h"
#include "core/server.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define QUEUE_MAX_RCPT 128
#define QUEUE_HEAD_FMT "ATTO-QUEUE 1\nqueued %020lld\nattempts %010d\nnext %020lld\n"
#define QUEUE_OFF_ATTEMPTS 41
#define QUEUE_OFF_NEXT     61
#define QUEUE_HEAD_LEN     87

static atomic_uint queue_seq;

static int queue_dir(const char *site, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/.atto", site);
    if (mkdir(out, 0700) != 0 && errno != EEXIST) return -errno;
    snprintf(out, outlen, "%s/.atto/queue", site);
    if (mkdir(out, 0700) != 0 && errno != EEXIST) return -errno;
    return 0;
}

static int queue_write_file(const char *dir, const char *name, buf *b, char *err, size_t errlen)
{
    char tmp[4200], dst[4200];
    int rc = 0;
    snprintf(tmp, sizeof tmp, "%s/tmp-%s", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { rc = -errno; snprintf(err, errlen, "queue: create %s: %s", tmp, strerror(errno)); return rc; }
    for (size_t off = 0; off < buf_size(b); ) {
        ssize_t n = write(fd, buf_head(b) + off, buf_size(b) - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { rc = -errno; snprintf(err, errlen, "queue: write: %s", strerror(errno)); goto fail; }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) { rc = -errno; snprintf(err, errlen, "queue: fsync: %s", strerror(errno)); goto fail; }
    close(fd); fd = -1;
    if (rename(tmp, dst) != 0) { rc = -errno; snprintf(err, errlen, "queue: rename: %s", strerror(errno)); goto fail; }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    return 0;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    return rc;
}

static int queue_addr_ok(const char *a)
{
    for (; *a; a++) if ((unsigned char)*a < 33 || *a == '<' || *a == '>') return 0;
    return 1;
}

static void queue_head(buf *b, long long queued, int attempts, long long next, const char *from,
                       const char *const *to, size_t nto)
{
    buf_printf(b, QUEUE_HEAD_FMT, queued, attempts, next);
    buf_printf(b, "from %s\n", from);
    for (size_t i = 0; i < nto; i++) buf_printf(b, "to %s\n", to[i]);
    buf_puts(b, "\n");
}

int mail_queue_submit(const char *site_dir, const char *from, const char *const *to, size_t nto,
                      const char *data, size_t len, char *err, size_t errlen)
{
    char dir[4096], name[128];
    int rc;
    if (nto == 0 || nto > QUEUE_MAX_RCPT) { snprintf(err, errlen, "queue: 1 to %d recipients", QUEUE_MAX_RCPT); return -EINVAL; }
    if (!queue_addr_ok(from)) { snprintf(err, errlen, "queue: bad sender"); return -EINVAL; }
    for (size_t i = 0; i < nto; i++)
        if (!to[i][0] || !queue_addr_ok(to[i])) { snprintf(err, errlen, "queue: bad recipient"); return -EINVAL; }
    if ((rc = queue_dir(site_dir, dir, sizeof dir)) < 0) { snprintf(err, errlen, "queue: cannot create %s: %s", dir, strerror(-rc)); return rc; }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(name, sizeof name, "%lld.%06ld.%ld.%u.msg", (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
             atomic_fetch_add(&queue_seq, 1));
    buf b = BUF_INIT;
    queue_head(&b, (long long)tv.tv_sec, 0, (long long)tv.tv_sec, from, to, nto);
    buf_append(&b, data, len);
    rc = queue_write_file(dir, name, &b, err, errlen);
    buf_free(&b);
    if (rc == 0) mail_queue_kick();
    return rc;
}

/* ---- the runner ---- */

enum { QO_PENDING, QO_ACCEPTED, QO_DONE, QO_FAILED, QO_DEFERRED };
enum { QS_GREET, QS_EHLO, QS_MAIL, QS_RCPT, QS_DATA, QS_BODY, QS_QUIT };

typedef struct queue_job {
    char       path[4200];
    int        fd;
    long long  queued;
    int        attempts;
    char       from[300];
    char      *to[QUEUE_MAX_RCPT];
    size_t     nto, ri;
    int        outcome[QUEUE_MAX_RCPT];
    char       reason[QUEUE_MAX_RCPT][160];
    char      *text;       /* the whole file */
    const char *data;      /* the message inside it */
    size_t     len;
    int        step, accepted;
} queue_job;

typedef struct queue_runner {
    uv_loop_t   *loop;
    uv_timer_t   tick, step_timer;
    uv_async_t   kick;
    uv_tcp_t     tcp;
    int          tcp_open, busy, fast, stopping;
    uv_connect_t connect;
    uv_getaddrinfo_t gai;
    uv_write_t   wreq;
    buf          wbuf, rbuf;
    char         site[4096], host[256], hostname[256];
    int          port;
    char       **domains;
    size_t       ndomains;
    queue_job    job;
} queue_runner;

static queue_runner *qr;
static atomic_int queue_started;

static const long long queue_delays[] = { 60, 300, 900, 3600 };
static const long long queue_fast_delays[] = { 1, 1, 2, 2 };

static long long queue_delay(int attempts)
{
    const long long *d = qr->fast ? queue_fast_delays : queue_delays;
    return d[attempts < 4 ? attempts : 3];
}
static long long queue_lifetime(void) { return qr->fast ? 5 : 2 * 86400; }
static void queue_tick_cb(uv_timer_t *t);
static void queue_schedule(uint64_t ms) { if (!qr->stopping) uv_timer_start(&qr->tick, queue_tick_cb, ms, 0); }

static int queue_is_local(const char *addr)
{
    const char *at = strrchr(addr, '@');
    for (size_t i = 0; at && i < qr->ndomains; i++) if (strcasecmp(qr->domains[i], at + 1) == 0) return 1;
    return 0;
}

/* Parse a claimed queue file into qr->job. 0 or -1. */
static int queue_parse(queue_job *j, char *text, size_t len)
{
    long long next;
    if (len < QUEUE_HEAD_LEN || sscanf(text, "ATTO-QUEUE 1\nqueued %lld\nattempts %d\nnext %lld\n", &j->queued, &j->attempts, &next) != 3)
        return -1;
    char *p = text + QUEUE_HEAD_LEN, *end = text + len;
    j->nto = 0;
    while (p < end && *p != '\n') {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) return -1;
        *eol = 0;
        if (strncmp(p, "from ", 5) == 0) snprintf(j->from, sizeof j->from, "%s", p + 5);
        else if (strncmp(p, "to ", 3) == 0 && j->nto < QUEUE_MAX_RCPT) j->to[j->nto++] = p + 3;
        p = eol + 1;
    }
    if (p >= end || j->nto == 0) return -1;
    j->data = p + 1;
    j->len = (size_t)(end - p - 1);
    return 0;
}

/* A bounce for every failed recipient of the job, to its sender. */
static void queue_bounce(queue_job *j)
{
    char date[64], err[256];
    size_t nfail = 0;
    for (size_t i = 0; i < j->nto; i++) nfail += j->outcome[i] == QO_FAILED;
    if (!nfail) return;
    if (!j->from[0]) { log_warn("queue: undeliverable bounce dropped (%s)", j->path); return; }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
    buf m = BUF_INIT;
    buf_printf(&m, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\nTo: <%s>\r\nDate: %s\r\n"
               "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
               "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
               "This is the mail system at %s.\r\n\r\nYour message could not be delivered to:\r\n\r\n",
               qr->hostname, j->from, date, qr->hostname);
    for (size_t i = 0; i < j->nto; i++)
        if (j->outcome[i] == QO_FAILED) buf_printf(&m, "  <%s>: %s\r\n", j->to[i], j->reason[i]);
    buf_puts(&m, "\r\n--- The headers of your message follow ---\r\n\r\n");
    const char *eoh = NULL;
    for (size_t i = 0; i + 3 < j->len && !eoh; i++) if (memcmp(j->data + i, "\r\n\r\n", 4) == 0) eoh = j->data + i + 2;
    size_t hl = eoh ? (size_t)(eoh - j->data) : (j->len < 8192 ? j->len : 8192);
    for (size_t i = 0; i < hl; i++) if (!(j->data[i] == '.' && (i == 0 || j->data[i - 1] == '\n'))) buf_append(&m, j->data + i, 1);
    int rc;
    const char *at = strrchr(j->from, '@');
    char user[65];
    if (at && queue_is_local(j->from) && (size_t)(at - j->from) < sizeof user) {
        for (size_t i = 0; j->from + i < at; i++) user[i] = (char)tolower((unsigned char)j->from[i]);
        user[at - j->from] = 0;
        rc = maildir_deliver(qr->site, user, NULL, buf_head(&m), buf_size(&m), err, sizeof err);
    } else {
        const char *to[1] = { j->from };
        rc = mail_queue_submit(qr->site, "", to, 1, buf_head(&m), buf_size(&m), err, sizeof err);
    }
    if (rc < 0) log_error("queue: bounce to %s failed: %s", j->from, err);
    buf_free(&m);
}

/* The job is over: bounce, rewrite or remove the file, release it. */
static void queue_settle(queue_job *j)
{
    long long now = (long long)time(NULL);
    int expired = now - j->queued >= queue_lifetime();
    const char *left[QUEUE_MAX_RCPT];
    size_t nleft = 0;
    for (size_t i = 0; i < j->nto; i++) {
        if (j->outcome[i] == QO_PENDING || j->outcome[i] == QO_ACCEPTED) { j->outcome[i] = QO_DEFERRED; snprintf(j->reason[i], sizeof j->reason[i], "not attempted"); }
        if (j->outcome[i] == QO_DEFERRED && expired) {
            j->outcome[i] = QO_FAILED;
            size_t rl = strlen(j->reason[i]);
            snprintf(j->reason[i] + rl, sizeof j->reason[i] - rl, " (gave up after %d attempts)", j->attempts + 1);
        }
        if (j->outcome[i] == QO_DEFERRED) left[nleft++] = j->to[i];
    }
    queue_bounce(j);
    if (nleft == 0) unlink(j->path);
    else if (nleft == j->nto) {  /* same recipients: update the counters in place */
        char f[64];
        snprintf(f, sizeof f, "%010d", j->attempts + 1);
        if (pwrite(j->fd, f, 10, QUEUE_OFF_ATTEMPTS + 9) != 10) log_error("queue: update %s: %s", j->path, strerror(errno));
        snprintf(f, sizeof f, "%020lld", now + queue_delay(j->attempts));
        if (pwrite(j->fd, f, 20, QUEUE_OFF_NEXT + 5) != 20 || fsync(j->fd) != 0) log_error("queue: update %s: %s", j->path, strerror(errno));
    } else {
        char err[256], dir[4200];
        buf b = BUF_INIT;
        queue_head(&b, j->queued, j->attempts + 1, now + queue_delay(j->attempts), j->from, left, nleft);
        buf_append(&b, j->data, j->len);
        snprintf(dir, sizeof dir, "%s/.atto/queue", qr->site);
        const char *name = strrchr(j->path, '/') + 1;
        if (queue_write_file(dir, name, &b, err, sizeof err) < 0) log_error("%s", err);
        buf_free(&b);
    }
    close(j->fd);
    j->fd = -1;
    free(j->text);
    j->text = NULL;
}

static void queue_tcp_closed(uv_handle_t *h)
{
    qr->tcp_open = 0;
    qr->busy = 0;
    buf_reset(&qr->rbuf);
    queue_schedule(0);
}

/* End the SMTP exchange; every recipient not yet settled is deferred with `why`. */
static void queue_end(const char *why)
{
    queue_job *j = &qr->job;
    for (size_t i = 0; i < j->nto; i++)
        if (j->outcome[i] == QO_PENDING || j->outcome[i] == QO_ACCEPTED) {
            j->outcome[i] = QO_DEFERRED;
            snprintf(j->reason[i], sizeof j->reason[i], "%s", why);
        }
    queue_settle(j);
    uv_timer_stop(&qr->step_timer);
    if (qr->tcp_open) { if (!uv_is_closing((uv_handle_t *)&qr->tcp)) uv_close((uv_handle_t *)&qr->tcp, queue_tcp_closed); }
    else { qr->busy = 0; queue_schedule(0); }
}

static void queue_step_timeout(uv_timer_t *t) { queue_end("timeout talking to the smarthost"); }

static void queue_written(uv_write_t *w, int status)
{
    if (status < 0 && qr->busy && qr->tcp_open) queue_end("write to the smarthost failed");
}

static void queue_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void queue_send(const char *fmt, ...)
{
    char line[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    buf_reset(&qr->wbuf);
    buf_puts(&qr->wbuf, line);
    uv_buf_t b = uv_buf_init(buf_head(&qr->wbuf), (unsigned)buf_size(&qr->wbuf));
    uv_write(&qr->wreq, (uv_stream_t *)&qr->tcp, &b, 1, queue_written);
    uv_timer_start(&qr->step_timer, queue_step_timeout, qr->fast ? 5000 : 300000, 0);
}

/* The message, dot-stuffed, then "." (RFC 5321 4.5.2). */
static void queue_send_body(queue_job *j)
{
    buf_reset(&qr->wbuf);
    int bol = 1;
    for (size_t i = 0; i < j->len; i++) {
        if (bol && j->data[i] == '.') buf_append(&qr->wbuf, ".", 1);
        buf_append(&qr->wbuf, j->data + i, 1);
        bol = j->data[i] == '\n';
    }
    if (!bol) buf_puts(&qr->wbuf, "\r\n");
    buf_puts(&qr->wbuf, ".\r\n");
    uv_buf_t b = uv_buf_init(buf_head(&qr->wbuf), (unsigned)buf_size(&qr->wbuf));
    uv_write(&qr->wreq, (uv_stream_t *)&qr->tcp, &b, 1, queue_written);
    uv_timer_start(&qr->step_timer, queue_step_timeout, qr->fast ? 5000 : 600000, 0);
}

/* Every recipient in state `from` gets `outcome` and the reply as reason. */
static void queue_mark(queue_job *j, int from, int outcome, const char *reply)
{
    for (size_t i = 0; i < j->nto; i++) {
        if (j->outcome[i] != from) continue;
        j->outcome[i] = outcome;
        snprintf(j->reason[i], sizeof j->reason[i], "%s", reply);
    }
}

static void queue_next_rcpt(queue_job *j)
{
    if (j->ri < j->nto) { j->step = QS_RCPT; queue_send("RCPT TO:<%s>\r\n", j->to[j->ri]); return; }
    if (!j->accepted) { j->step = QS_QUIT; queue_send("QUIT\r\n"); return; }
    j->step = QS_DATA;
    queue_send("DATA\r\n");
}

/* One complete reply (the last line, code first) in the current step. */
static void queue_reply(int code, const char *text)
{
    queue_job *j = &qr->job;
    int ok = code >= 200 && code < 400, perm = code >= 500;
    int outcome = perm ? QO_FAILED : QO_DEFERRED;
    switch (j->step) {
    case QS_GREET:
        if (!ok) { queue_end(text); return; }
        j->step = QS_EHLO; queue_send("EHLO %s\r\n", qr->hostname); return;
    case QS_EHLO:
        if (!ok) { queue_end(text); return; }
        j->step = QS_MAIL; queue_send("MAIL FROM:<%s>\r\n", j->from); return;
    case QS_MAIL:
        if (!ok) { queue_mark(j, QO_PENDING, outcome, text); j->step = QS_QUIT; queue_send("QUIT\r\n"); return; }
        j->ri = 0; queue_next_rcpt(j); return;
    case QS_RCPT:
        if (ok) { j->outcome[j->ri] = QO_ACCEPTED; j->accepted++; }
        else { j->outcome[j->ri] = outcome; snprintf(j->reason[j->ri], sizeof j->reason[j->ri], "%s", text); }
        j->ri++; queue_next_rcpt(j); return;
    case QS_DATA:
        if (code != 354) { queue_mark(j, QO_ACCEPTED, outcome, text); j->step = QS_QUIT; queue_send("QUIT\r\n"); return; }
        j->step = QS_BODY; queue_send_body(j); return;
    case QS_BODY:
        queue_mark(j, QO_ACCEPTED, ok ? QO_DONE : outcome, text);
        if (ok) log_info("queue: %s delivered to %d recipient(s) via %s:%d", j->path, j->accepted, qr->host, qr->port);
        j->step = QS_QUIT; queue_send("QUIT\r\n"); return;
    case QS_QUIT:
        queue_end("closed");
        return;
    }
}

static void queue_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    b->base = buf_tail(&qr->rbuf, 4096);
    b->len = 4096;
}

static void queue_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) { if (qr->busy && !uv_is_closing((uv_handle_t *)&qr->tcp)) queue_end("connection to the smarthost lost"); return; }
    buf_commit(&qr->rbuf, (size_t)n);
    for (;;) {
        char *p = buf_head(&qr->rbuf);
        char *lf = memchr(p, '\n', buf_size(&qr->rbuf));
        if (!lf) { if (buf_size(&qr->rbuf) > 4096) queue_end("smarthost reply line too long"); return; }
        size_t ll = (size_t)(lf - p) + 1;
        char line[600];
        size_t cl = ll < sizeof line ? ll : sizeof line - 1;
        memcpy(line, p, cl); line[cl] = 0;
        line[strcspn(line, "\r\n")] = 0;
        buf_consume(&qr->rbuf, ll);
        if (strlen(line) < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2])) {
            queue_end("malformed reply from the smarthost"); return;
        }
        if (line[3] == '-') continue;  /* a multi-line reply goes on */
        queue_reply(atoi(line), line);
        if (!qr->busy || !qr->tcp_open || uv_is_closing((uv_handle_t *)&qr->tcp)) return;
    }
}

static void queue_connected(uv_connect_t *req, int status)
{
    if (status < 0) { queue_end(uv_strerror(status)); return; }
    qr->job.step = QS_GREET;
    uv_read_start((uv_stream_t *)&qr->tcp, queue_alloc, queue_read);
    uv_timer_start(&qr->step_timer, queue_step_timeout, qr->fast ? 5000 : 300000, 0);
}

static void queue_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    if (status < 0 || !res) { queue_end(status < 0 ? uv_strerror(status) : "smarthost not found"); if (res) uv_freeaddrinfo(res); return; }
    uv_tcp_init(qr->loop, &qr->tcp);
    qr->tcp_open = 1;
    int rc = uv_tcp_connect(&qr->connect, &qr->tcp, res->ai_addr, queue_connected);
    uv_freeaddrinfo(res);
    if (rc < 0) queue_end(uv_strerror(rc));
}

/* Claim the first due file and start sending it. 1 if a job started. */
static int queue_claim(const char *dir, const char *name)
{
    queue_job *j = &qr->job;
    memset(j, 0, sizeof *j);
    snprintf(j->path, sizeof j->path, "%s/%s", dir, name);
    j->fd = open(j->path, O_RDWR | O_CLOEXEC);
    if (j->fd < 0) return 0;
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0) goto skip;
    struct stat st;
    if (fstat(j->fd, &st) != 0 || st.st_nlink == 0 || st.st_size > (1 << 30)) goto skip;
    j->text = malloc((size_t)st.st_size + 1);
    if (!j->text || pread(j->fd, j->text, (size_t)st.st_size, 0) != st.st_size) goto skip;
    j->text[st.st_size] = 0;
    long long next = 0;
    if (queue_parse(j, j->text, (size_t)st.st_size) < 0) { log_error("queue: %s is not a queue file, left alone", j->path); goto skip; }
    sscanf(j->text + QUEUE_OFF_NEXT, "next %lld", &next);
    if (next > (long long)time(NULL)) goto skip;
    if (!qr->host[0]) {  /* no smarthost: nothing can leave; bounce at the retry limit */
        queue_end("no smarthost configured");
        return 1;
    }
    qr->busy = 1;
    char port[16];
    snprintf(port, sizeof port, "%d", qr->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    int rc = uv_getaddrinfo(qr->loop, &qr->gai, queue_resolved, qr->host, port, &hints);
    if (rc < 0) queue_end(uv_strerror(rc));
    return 1;
skip:
    free(j->text); j->text = NULL;
    close(j->fd); j->fd = -1;
    return 0;
}

static void queue_tick_cb(uv_timer_t *t)
{
    char dir[4096];
    if (qr->busy || qr->stopping) return;
    if (queue_dir(qr->site, dir, sizeof dir) < 0) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    int started = 0;
    while (!started && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".msg") == 0 && strncmp(e->d_name, "tmp-", 4) != 0)
            started = queue_claim(dir, e->d_name);
    }
    closedir(d);
    if (!started) queue_schedule(qr->fast ? 500 : 30000);
}

static void queue_kick_cb(uv_async_t *a) { if (!qr->busy) queue_schedule(0); }

void mail_queue_kick(void)
{
    if (qr && atomic_load(&queue_started) == 2) uv_async_send(&qr->kick);
}

void mail_queue_start(void *uv_loop, const char *site_dir, const mail_config *cfg)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&queue_started, &expect, 1)) return;
    qr = calloc(1, sizeof *qr);
    qr->loop = uv_loop;
    qr->fast = getenv("ATTO_QUEUE_FAST") && strcmp(getenv("ATTO_QUEUE_FAST"), "0") != 0;
    snprintf(qr->site, sizeof qr->site, "%s", site_dir);
    if (cfg && cfg->smarthost_host) snprintf(qr->host, sizeof qr->host, "%s", cfg->smarthost_host);
    qr->port = cfg && cfg->smarthost_port ? cfg->smarthost_port : 25;
    if (gethostname(qr->hostname, sizeof qr->hostname - 1) != 0 || !qr->hostname[0]) strcpy(qr->hostname, "localhost");
    qr->ndomains = cfg ? cfg->ndomains : 0;
    qr->domains = calloc(qr->ndomains + 1, sizeof *qr->domains);
    for (size_t i = 0; i < qr->ndomains; i++) qr->domains[i] = strdup(cfg->domains[i]);
    uv_timer_init(qr->loop, &qr->tick);
    uv_timer_init(qr->loop, &qr->step_timer);
    uv_async_init(qr->loop, &qr->kick, queue_kick_cb);
    uv_unref((uv_handle_t *)&qr->tick);
    uv_unref((uv_handle_t *)&qr->step_timer);
    uv_unref((uv_handle_t *)&qr->kick);
    atomic_store(&queue_started, 2);
    queue_schedule(0);
}

void mail_queue_stop(void)
{
    if (!qr || atomic_load(&queue_started) != 2) return;
    qr->stopping = 1;
    uv_close((uv_handle_t *)&qr->tick, NULL);
    uv_close((uv_handle_t *)&qr->step_timer, NULL);
    uv_close((uv_handle_t *)&qr->kick, NULL);
    if (qr->tcp_open && !uv_is_closing((uv_handle_t *)&qr->tcp)) uv_close((uv_handle_t *)&qr->tcp, NULL);
    if (qr->busy && qr->job.fd >= 0) close(qr->job.fd);  /* unsent: stays queued, retried at next start */
}
