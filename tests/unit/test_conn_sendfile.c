/*
 * test_conn_sendfile.c — conn_sendfile() on a real loopback connection:
 * file ranges and writes leave in the order queued, the descriptors the
 * conn took are closed once sent, on abort, and when it refuses one; a
 * client with a 4 KiB receive buffer that waits before reading still gets
 * every byte (the socket-full path: a piece through uv_write, then sendfile
 * again) without the loop spinning meanwhile; a file shorter than promised
 * ends the connection; a descriptor passed with conn_sendfile_shared() is
 * given back through its callback exactly once and never closed.
 *
 * Each case runs a libuv loop in this thread with one listener whose
 * connections get the test protocol below; a client thread connects, sends
 * one byte (which runs the case's script inside the read callback), waits,
 * and reads to the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "core/conn.h"
#include "core/server_impl.h"
#include "tests/unit/test.h"
#include "tests/unit/conn_loopback.h"

typedef struct scenario {
    void   (*script)(conn *c);    /* run on the client's first byte */
    int      rcvbuf;              /* client SO_RCVBUF (0: default) */
    int      delay_ms;            /* the client waits before reading */
    int      fds[4], nfds;        /* descriptors handed to the conn */
    int      fds_open_at_close;   /* how many still open when close() came */
    int      closed;
    size_t   queued;              /* conn_queued() at the end of the script */
    double   cpu_ms;              /* the loop thread's CPU time: waiting must not spin */
    char    *got;                 /* what the client read */
    size_t   got_len;
    int      port;
} scenario;

static scenario *S;
static char path[] = "/tmp/atto-sendfile-XXXXXX";   /* a mkstemp() template */
static int file_fd;                /* the test file: byte i is (i * 7 + i / 251) & 0xff */
#define FILE_SIZE (3u << 20)

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

static int take_fd(void)
{
    int fd = dup(file_fd);
    S->fds[S->nfds++] = fd;
    return fd;
}

static int t_open(conn *c) { c->proto_data = NULL; return 0; }

static void t_read(conn *c, const char *data, size_t len)
{
    if (!c->proto_data) {
        c->proto_data = c;
        S->script(c);
    }
}

static void t_timeout(conn *c) { conn_abort(c); }

static void t_close(conn *c)
{
    S->closed++;
    for (int i = 0; i < S->nfds; i++)
        S->fds_open_at_close += fd_is_open(S->fds[i]);
    lb_stop_listening();
}

static const conn_proto t_proto = {
    .name = "test", .open = t_open, .read = t_read, .timeout = t_timeout, .close = t_close,
};

static void *client(void *arg)
{
    scenario *s = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &s->rcvbuf, sizeof s->rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || write(fd, "g", 1) != 1) {
        close(fd);
        return NULL;
    }
    struct timespec ts = {s->delay_ms / 1000, (long)(s->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    size_t cap = 1 << 16;
    s->got = malloc(cap);
    for (;;) {
        if (s->got_len == cap)
            s->got = realloc(s->got, cap *= 2);
        ssize_t n = read(fd, s->got + s->got_len, cap - s->got_len);
        if (n <= 0)
            break;
        s->got_len += (size_t)n;
    }
    close(fd);
    return NULL;
}

/* One connection through the script; returns after the conn is gone. */
static void run(scenario *s)
{
    S = s;
    s->port = lb_listen(&t_proto, 8);
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    lb_run(client, s);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    s->cpu_ms = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
    uv_loop_close(&WI.loop);
}

static void expect_file(char *out, uint64_t off, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t k = off + i;
        out[i] = (char)((k * 7 + k / 251) & 0xff);
    }
}

/* ---- A: order, queue accounting, descriptors closed once sent ---------- */

static void script_order(conn *c)
{
    conn_write(c, "HEAD|", 5);
    conn_sendfile(c, take_fd(), 1000, 200000);
    conn_write(c, "|MID|", 5);
    conn_sendfile(c, take_fd(), 0, 10);
    conn_write(c, "|TAIL", 5);
    S->queued = conn_queued(c);                    /* nothing flushed inside a read */
    conn_close(c);
}

TEST(ranges_and_writes_leave_in_order_and_fds_close)
{
    scenario s = {.script = script_order};
    run(&s);
    static char want[5 + 200000 + 5 + 10 + 5];
    memcpy(want, "HEAD|", 5);
    expect_file(want + 5, 1000, 200000);
    memcpy(want + 200005, "|MID|", 5);
    expect_file(want + 200010, 0, 10);
    memcpy(want + 200020, "|TAIL", 5);
    CHECK_INT(s.closed, 1);
    CHECK_INT(s.queued, sizeof want);
    CHECK_INT(s.fds_open_at_close, 0);
    CHECK_MEM(s.got, s.got_len, want, sizeof want);
    free(s.got);
}

/* ---- B: the socket fills up: pieces through uv_write, then sendfile ---- */

static void script_whole(conn *c)
{
    conn_sendfile(c, take_fd(), 0, FILE_SIZE);
    conn_write(c, "END", 3);
    conn_close(c);
}

TEST(slow_reader_with_small_buffer_gets_every_byte)
{
    scenario s = {.script = script_whole, .rcvbuf = 4096, .delay_ms = 300};
    run(&s);
    char *want = malloc(FILE_SIZE + 3);
    expect_file(want, 0, FILE_SIZE);
    memcpy(want + FILE_SIZE, "END", 3);
    CHECK_INT(s.fds_open_at_close, 0);
    CHECK_MEM(s.got, s.got_len, want, FILE_SIZE + 3);
    CHECK(s.cpu_ms < 150);          /* 300 ms with the socket full: waited, not spun */
    free(want);
    free(s.got);
}

/* ---- C: a file shorter than promised ends the connection -------------- */

static char short_path[] = "/tmp/atto-sendfile-short-XXXXXX";   /* a mkstemp() template */

static void script_short(conn *c)
{
    int fd = open(short_path, O_RDONLY);
    S->fds[S->nfds++] = fd;
    conn_sendfile(c, fd, 0, FILE_SIZE);          /* the file has a third of that */
    conn_write(c, "NEVER", 5);
    conn_close(c);
}

TEST(file_shorter_than_promised_closes_the_connection)
{
    int fd = mkstemp(short_path);
    CHECK(fd >= 0);
    static char piece[FILE_SIZE / 3];
    expect_file(piece, 0, sizeof piece);
    CHECK_INT(write(fd, piece, sizeof piece), sizeof piece);
    close(fd);
    scenario s = {.script = script_short, .rcvbuf = 4096, .delay_ms = 200};
    run(&s);
    unlink(short_path);
    CHECK_INT(s.closed, 1);
    CHECK_INT(s.fds_open_at_close, 0);
    CHECK(s.got_len <= sizeof piece);
    CHECK(s.got_len == 0 || memcmp(s.got, piece, s.got_len) == 0);
    free(s.got);
}

/* ---- D: abort with files queued; a closed conn refuses (and closes) --- */

static void script_abort(conn *c)
{
    int a = take_fd(), b = take_fd();
    conn_sendfile(c, a, 0, FILE_SIZE);
    conn_sendfile(c, b, 0, FILE_SIZE);
    conn_write(c, "x", 1);
    conn_abort(c);
    int late = dup(file_fd);
    int refused = conn_sendfile(c, late, 0, 10);
    /* all three closed at once, not when the loop gets round to it */
    S->fds_open_at_close = fd_is_open(a) + fd_is_open(b) + fd_is_open(late) + (refused == -1 ? 0 : 100);
    S->nfds = 0;
}

/* The connection ended before all of the file was read, with every
 * descriptor it took closed. */
static void check_cut_short(scenario *s)
{
    run(s);
    CHECK_INT(s->closed, 1);
    CHECK_INT(s->fds_open_at_close, 0);
    CHECK(s->got_len < FILE_SIZE);
    free(s->got);
}

TEST(abort_closes_queued_files_and_a_closed_conn_refuses)
{
    scenario s = {.script = script_abort, .rcvbuf = 4096, .delay_ms = 100};
    check_cut_short(&s);
}

/* ---- E: the client stops reading; a timer aborts mid-file ------------- */

static void script_timer(conn *c)
{
    conn_sendfile(c, take_fd(), 0, FILE_SIZE);
    conn_sendfile(c, take_fd(), 5, 10);
    conn_timer(c, 100);                           /* t_timeout aborts */
}

TEST(abort_mid_file_from_a_timer_closes_the_files)
{
    scenario s = {.script = script_timer, .rcvbuf = 4096, .delay_ms = 600};
    check_cut_short(&s);
}

/* ---- F: an empty range ------------------------------------------------ */

static void script_empty(conn *c)
{
    int fd = dup(file_fd);
    int rc = conn_sendfile(c, fd, 0, 0);
    conn_write(c, "ok", 2);
    S->fds_open_at_close = fd_is_open(fd) + (rc == 0 ? 0 : 100);
    conn_close(c);
}

TEST(empty_range_sends_nothing_and_closes_the_fd)
{
    scenario s = {.script = script_empty};
    run(&s);
    CHECK_INT(s.fds_open_at_close, 0);
    CHECK_MEM(s.got, s.got_len, "ok", 2);
    free(s.got);
}

/* ---- G: a shared descriptor is given back, once, never closed --------- */

static int done_calls[4];

static void on_done(void *arg) { done_calls[(int *)arg - done_calls]++; }

static void script_shared(conn *c)
{
    conn_sendfile_shared(c, file_fd, 0, 100000, on_done, &done_calls[0]);
    conn_sendfile_shared(c, file_fd, 5, 0, on_done, &done_calls[1]);      /* empty: at once */
    conn_write(c, "|", 1);
    conn_sendfile_shared(c, file_fd, 7, 20, on_done, &done_calls[2]);
    S->fds_open_at_close = done_calls[0] + done_calls[2] + 10 * (done_calls[1] != 1);
    conn_close(c);
}

static void script_shared_abort(conn *c)
{
    conn_sendfile_shared(c, file_fd, 0, FILE_SIZE, on_done, &done_calls[0]);
    conn_abort(c);
    int refused = conn_sendfile_shared(c, file_fd, 0, 10, on_done, &done_calls[1]);
    S->fds_open_at_close = (done_calls[0] != 1) + (done_calls[1] != 1) + (refused == -1 ? 0 : 100);
}

TEST(shared_descriptor_given_back_once_and_left_open)
{
    memset(done_calls, 0, sizeof done_calls);
    scenario s = {.script = script_shared};
    run(&s);
    static char want[100000 + 1 + 20];
    expect_file(want, 0, 100000);
    want[100000] = '|';
    expect_file(want + 100001, 7, 20);
    CHECK_INT(s.fds_open_at_close, 0);     /* none given back before it was sent */
    CHECK_MEM(s.got, s.got_len, want, sizeof want);
    CHECK_INT(done_calls[0], 1);
    CHECK_INT(done_calls[1], 1);
    CHECK_INT(done_calls[2], 1);
    CHECK(fd_is_open(file_fd));
    free(s.got);

    memset(done_calls, 0, sizeof done_calls);
    scenario a = {.script = script_shared_abort, .rcvbuf = 4096, .delay_ms = 100};
    run(&a);
    CHECK_INT(a.fds_open_at_close, 0);     /* given back at the abort, and when refused */
    CHECK_INT(done_calls[0], 1);
    CHECK_INT(done_calls[1], 1);
    CHECK(fd_is_open(file_fd));
    free(a.got);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    file_fd = mkstemp(path);
    char *data = malloc(FILE_SIZE);
    expect_file(data, 0, FILE_SIZE);
    if (file_fd < 0 || write(file_fd, data, FILE_SIZE) != (ssize_t)FILE_SIZE) {
        printf("FAIL setup: cannot write %s\n", path);
        return 1;
    }
    free(data);
    RUN(ranges_and_writes_leave_in_order_and_fds_close);
    RUN(slow_reader_with_small_buffer_gets_every_byte);
    RUN(file_shorter_than_promised_closes_the_connection);
    RUN(abort_closes_queued_files_and_a_closed_conn_refuses);
    RUN(abort_mid_file_from_a_timer_closes_the_files);
    RUN(empty_range_sends_nothing_and_closes_the_fd);
    RUN(shared_descriptor_given_back_once_and_left_open);
    close(file_fd);
    unlink(path);
    return test_done();
}
