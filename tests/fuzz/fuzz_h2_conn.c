/*
 * fuzz_h2_conn.c — libFuzzer target: arbitrary bytes to an HTTP/2
 * connection after a valid preface and SETTINGS. The conn is faked (output
 * discarded, close calls proto->close at once); the app answers every other
 * request at once and holds the rest (answered after the input, or aborted by
 * the close). The first input byte picks a few options: app behaviour, a
 * timer firing, input cut into small reads.
 */
#include "core/buf.c"
#include "core/http.c"
#include "core/hpack_huff.c"
#include "core/hpack.c"
#include "core/h2_frame.c"
#include "core/accesslog.c"
#include "core/h2_stream.c"
#include "core/h2_conn.c"
#include "core/h2_recv.c"
#include "core/h2_control.c"
#include "core/h2_send.c"

static int closed;
static size_t out_bytes;
static uint64_t now_ms = 1000;
int conn_write(conn *c, const void *d, size_t n) { if (!closed) out_bytes += n; return closed ? -1 : 0; }
int conn_puts(conn *c, const char *s) { return conn_write(c, s, strlen(s)); }
int conn_writev(conn *c, const struct iovec *iov, int n)
{
    for (int i = 0; i < n && !closed; i++)
        out_bytes += iov[i].iov_len;
    return closed ? -1 : 0;
}
void conn_close(conn *c) { if (closed) return; closed = 1; if (c->proto && c->proto->close) c->proto->close(c); }
void conn_abort(conn *c) { conn_close(c); }
void conn_timer(conn *c, uint64_t ms) {}
size_t conn_queued(const conn *c) { return 0; }
void conn_set_proto(conn *c, const conn_proto *p, void *d) { c->proto = p; c->proto_data = d; }
int conn_is_tls(const conn *c) { return 0; }
static uint64_t fuzz_clock(void) { return now_ms; }

static http_req *held[256];
static int nheld, mode;

static void gone(http_req *r)
{
    for (int i = 0; i < nheld; i++)
        if (held[i] == r)
            held[i] = NULL;
}

static void app_handle(void *app, http_req *r)
{
    if ((mode & 1) && nheld < 256) {
        r->on_abort = gone;
        held[nheld++] = r;
        return;
    }
    http_hdr h = {"content-type", 12, "text/plain", 10};
    r->drv->start(r, 200, &h, 1, -1);
    r->drv->body(r, r->body, r->body_len, 1);
}

static server_config cfg;
static app_ops ops = {.handle = app_handle};
static worker w = {.id = 1, .cfg = &cfg, .ops = &ops};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mode = data[0];
    data++, size--;
    conn c = {.w = &w, .proto = &h2_proto, .id = 1};
    closed = 0;
    nheld = 0;
    h2_clock = fuzz_clock;
    cfg.limits.h2_max_streams = 8;
    cfg.limits.max_header_bytes = 4096;
    cfg.limits.max_body_bytes = 4096;
    h2_proto.open(&c);
    buf pre = BUF_INIT;
    buf_append(&pre, H2_PREFACE, H2_PREFACE_LEN);
    h2_build_settings(&pre, NULL, 0);
    h2_proto.read(&c, buf_head(&pre), buf_size(&pre));
    buf_free(&pre);
    size_t step = (mode & 2) ? 7 : size;
    for (size_t off = 0; off < size && !closed; off += step)
        h2_proto.read(&c, (const char *)data + off, size - off < step ? size - off : step);
    if (!closed && (mode & 4)) {
        now_ms += 60000;
        h2_proto.timeout(&c);
    }
    for (int i = 0; i < nheld; i++)
        if (held[i] && !(mode & 8)) {   /* answer late, from "a timer" */
            http_req *r = held[i];
            r->drv->start(r, 204, NULL, 0, 0);
            r->drv->body(r, NULL, 0, 1);
        }
    conn_close(&c);                     /* the rest are aborted here */
    return 0;
}
