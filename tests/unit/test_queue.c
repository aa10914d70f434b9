/* test_queue.c — the outbound queue against a scripted smarthost on the
 * same libuv loop: delivery with dot-stuffing, a 5xx recipient bounced into
 * the local sender's Maildir, then (smarthost gone) retries and a bounce at
 * the retry limit (ATTO_QUEUE_FAST=1). */
#include "tests/unit/test.h"
#include "core/buf.h"
#include "mail/queue.h"
#include "mail/maildir.h"
#include "mail/users.h"
#include <dirent.h>
#include <stdarg.h>
#include <unistd.h>
#include <uv.h>

static void logv(const char *fmt, va_list ap) { if (getenv("TEST_VERBOSE")) { vfprintf(stderr, fmt, ap); fputc('\n', stderr); } }
void log_error(const char *fmt, ...) { va_list ap; va_start(ap, fmt); logv(fmt, ap); va_end(ap); }
void log_warn(const char *fmt, ...) { va_list ap; va_start(ap, fmt); logv(fmt, ap); va_end(ap); }
void log_info(const char *fmt, ...) { va_list ap; va_start(ap, fmt); logv(fmt, ap); va_end(ap); }

static char site[256];
static uv_loop_t *loop;
static uv_tcp_t server, client;
static buf rx, body;
static int in_data, messages;

static void sh_written(uv_write_t *w, int status) { free(w->data); free(w); }
static void sh_write(const char *s)
{
    uv_write_t *w = malloc(sizeof *w);
    char *copy = strdup(s);
    uv_buf_t b = uv_buf_init(copy, (unsigned)strlen(s));
    w->data = copy;
    uv_write(w, (uv_stream_t *)&client, &b, 1, sh_written);
}
static void sh_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) { b->base = buf_tail(&rx, 4096); b->len = 4096; }
static void sh_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) { uv_close((uv_handle_t *)&client, NULL); return; }
    buf_commit(&rx, (size_t)n);
    for (;;) {
        char *p = buf_head(&rx);
        if (in_data) {
            char *end = memmem(p, buf_size(&rx), "\r\n.\r\n", 5);
            if (!end) return;
            buf_append(&body, p, (size_t)(end - p) + 2);
            buf_consume(&rx, (size_t)(end - p) + 5);
            in_data = 0; messages++;
            sh_write("250 2.0.0 queued\r\n");
            continue;
        }
        char *lf = memchr(p, '\n', buf_size(&rx));
        if (!lf) return;
        size_t ll = (size_t)(lf - p) + 1;
        if (!strncmp(p, "EHLO", 4)) sh_write("250-smarthost\r\n250 PIPELINING\r\n");
        else if (!strncmp(p, "MAIL", 4)) sh_write("250 2.1.0 ok\r\n");
        else if (!strncmp(p, "RCPT", 4)) sh_write(memmem(p, ll, "bad@", 4) ? "550 5.1.1 no such user\r\n" : "250 2.1.5 ok\r\n");
        else if (!strncmp(p, "DATA", 4)) { sh_write("354 go\r\n"); in_data = 1; }
        else if (!strncmp(p, "QUIT", 4)) sh_write("221 bye\r\n");
        else sh_write("500 what\r\n");
        buf_consume(&rx, ll);
    }
}
static void sh_accept(uv_stream_t *s, int st)
{
    uv_tcp_init(loop, &client);
    uv_accept(s, (uv_stream_t *)&client);
    buf_reset(&rx); in_data = 0;
    sh_write("220 smarthost ESMTP\r\n");
    uv_read_start((uv_stream_t *)&client, sh_alloc, sh_read);
}

static int queue_count(void)
{
    char p[400]; snprintf(p, sizeof p, "%s/.atto/queue", site);
    DIR *d = opendir(p); int n = 0; struct dirent *e;
    while (d && (e = readdir(d))) if (strstr(e->d_name, ".msg")) n++;
    if (d) closedir(d);
    return n;
}
static int inbox_has(const char *user, const char *needle)
{
    char p[400], f[800], data[8192]; int hit = 0;
    snprintf(p, sizeof p, "%s/mail/%s/new", site, user);
    DIR *d = opendir(p); struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(f, sizeof f, "%s/%s", p, e->d_name);
        FILE *fp = fopen(f, "rb"); size_t n = fread(data, 1, sizeof data - 1, fp); fclose(fp); data[n] = 0;
        if (strstr(data, needle)) hit = 1;
    }
    if (d) closedir(d);
    return hit;
}
/* Run the loop until cond() or `ms` pass. */
static int run_until(int (*cond)(void), int ms)
{
    for (int t = 0; t < ms; t += 20) {
        if (cond()) return 1;
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(20000);
    }
    return cond();
}
static int delivered(void) { return messages == 1 && queue_count() == 0 && inbox_has("alice", "bad@far.example"); }
static int bounced(void) { return queue_count() == 0 && inbox_has("alice", "gave up after"); }

TEST(delivers_and_bounces_5xx)
{
    char err[200];
    const char *to[] = { "ok@far.example", "bad@far.example" };
    const char *msg = "Subject: out\r\n\r\n.leading dot\r\nend\r\n";
    CHECK_INT(mail_queue_submit(site, "alice@example.test", to, 2, msg, strlen(msg), err, sizeof err), 0);
    CHECK_INT(queue_count(), 1);
    CHECK(run_until(delivered, 5000));
    CHECK(strstr(buf_cstr(&body), "Subject: out\r\n\r\n..leading dot\r\nend\r\n") != NULL);
    CHECK(inbox_has("alice", "Undelivered Mail Returned to Sender"));
}

TEST(retries_then_bounces_when_smarthost_is_gone)
{
    char err[200];
    uv_close((uv_handle_t *)&server, NULL);
    const char *to[] = { "later@far.example" };
    CHECK_INT(mail_queue_submit(site, "alice@example.test", to, 1, "x\r\n", 3, err, sizeof err), 0);
    CHECK(run_until(bounced, 12000));
    CHECK(inbox_has("alice", "later@far.example"));
}

TEST(submit_refuses_bad_envelopes)
{
    char err[200];
    const char *bad[] = { "a b@c" };
    CHECK(mail_queue_submit(site, "x@y", bad, 1, "x", 1, err, sizeof err) < 0);
    CHECK(mail_queue_submit(site, "x@y", bad, 0, "x", 1, err, sizeof err) < 0);
    const char *ok[] = { "a@b" };
    CHECK(mail_queue_submit(site, "x y@z", ok, 1, "x", 1, err, sizeof err) < 0);
}

static void keep_cb(uv_timer_t *t) {}

int main(void)
{
    char err[200];
    setenv("ATTO_QUEUE_FAST", "1", 1);
    snprintf(site, sizeof site, "/tmp/atto-queue-XXXXXX");
    if (!mkdtemp(site)) return 1;
    if (users_set(site, "alice", "pw", err, sizeof err) < 0) return 1;
    loop = uv_default_loop();
    /* the runner's handles are unref'd (they must not keep a worker alive):
     * a referenced timer stands in for the worker's listeners */
    static uv_timer_t keep;
    uv_timer_init(loop, &keep);
    uv_timer_start(&keep, keep_cb, 600000, 0);
    struct sockaddr_in a; uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &server);
    uv_tcp_bind(&server, (struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&server, 8, sh_accept);
    struct sockaddr_in bound; int bl = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &bl);
    static const char *domains[] = { "example.test" };
    mail_config cfg = { domains, 1, "127.0.0.1", ntohs(bound.sin_port), 1 << 20, 0 };
    RUN(submit_refuses_bad_envelopes);
    mail_queue_start(loop, site, &cfg);
    RUN(delivers_and_bounces_5xx);
    RUN(retries_then_bounces_when_smarthost_is_gone);
    mail_queue_stop();
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    char cmd[300]; snprintf(cmd, sizeof cmd, "rm -rf %s", site);
    if (system(cmd) != 0) return 1;
    return test_done();
}
