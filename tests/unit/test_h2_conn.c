/*
 * test_h2_conn.c — the HTTP/2 engine driven without sockets.
 *
 * The conn.h functions are faked here (conn_write appends to `wire`,
 * conn_close calls proto->close at once — the harshest timing), the worker's
 * app records each request and answers at once or holds it, and the clock is
 * ours. A client built from the frame builders and a client-side HPACK
 * encoder feeds bytes; collect() decodes everything the server wrote (one
 * HPACK decoder, in order) into per-stream records, so each RFC 9113 §5–§6
 * case asserts the exact GOAWAY or RST_STREAM code.
 */
#include "tests/unit/test.h"
#include "core/h2_conn.c"
#include "core/h2_recv.c"
#include "core/h2_control.c"
#include "core/h2_send.c"
#include "core/h2_stream.c"
#include <unistd.h>
#include <fcntl.h>

/* ---- fakes of core/conn.h ---- */
static buf wire;
static int closed, aborted_conn;
static uint64_t timer_ms, fake_now = 1000000;
static size_t fake_queued;
static conn C;

int conn_write(conn *c, const void *d, size_t n) { if (closed) return -1; buf_append(&wire, d, n); return 0; }
int conn_puts(conn *c, const char *s) { return conn_write(c, s, strlen(s)); }
static int writev_calls;
int conn_writev(conn *c, const struct iovec *iov, int n)
{
    if (closed)
        return -1;
    writev_calls++;
    for (int i = 0; i < n; i++)
        buf_append(&wire, iov[i].iov_base, iov[i].iov_len);
    return 0;
}
void conn_close(conn *c) { if (closed) return; closed = 1; if (c->proto && c->proto->close) c->proto->close(c); }
void conn_abort(conn *c) { aborted_conn = 1; conn_close(c); }
void conn_timer(conn *c, uint64_t ms) { timer_ms = ms; }
size_t conn_queued(const conn *c) { return fake_queued; }
void conn_set_proto(conn *c, const conn_proto *p, void *d) { c->proto = p; c->proto_data = d; }
int conn_is_tls(const conn *c) { return 0; }
static uint64_t fake_clock(void) { return fake_now; }

/* ---- a fake app ---- */
enum { APP_RESPOND, APP_HOLD, APP_BIG, APP_PATTERN };
static int app_mode, handled, aborts, writable_calls;
static http_req *held[1024];
static int nheld;
static char last_method[16], last_target[256], last_host[64], last_scheme[8], last_proto[16];
static buf last_headers, last_body;
static size_t big_len;

static void on_abort(http_req *r) { aborts++; for (int i = 0; i < nheld; i++) if (held[i] == r) held[i] = NULL; }
static void on_writable(http_req *r) { writable_calls++; }

/* APP_PATTERN: big_len bytes of pat(stream, i), handed over piece_len at a
 * time (0: all at once) from a fresh buffer that is scribbled over and
 * freed as soon as body() returns — the engine may not keep it. More
 * pieces follow at once while nothing is pending, else from on_writable. */
static size_t piece_len, pat_sent[128];
static unsigned char pat(uint32_t id, size_t i) { return (unsigned char)(i * 131 + (i >> 8) + id * 7); }

static void pattern_pump(http_req *r)
{
    uint32_t id = ((h2_stream *)r->drv_data)->id % 128;
    for (;;) {
        size_t at = pat_sent[id], n = big_len - at;
        if (piece_len && n > piece_len)
            n = piece_len;
        char *p = malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            p[i] = (char)pat(id, at + i);
        pat_sent[id] = at + n;
        int fin = at + n == big_len;
        r->drv->body(r, p, n, fin);
        memset(p, 0xEE, n);
        free(p);
        if (fin || r->drv->pending(r) > 0)
            return;
    }
}

static void pattern_writable(http_req *r) { writable_calls++; pattern_pump(r); }

static void app_handle(void *app, http_req *r)
{
    handled++;
    snprintf(last_method, sizeof last_method, "%.*s", (int)r->method_len, r->method);
    snprintf(last_target, sizeof last_target, "%.*s", (int)r->target_len, r->target);
    snprintf(last_host, sizeof last_host, "%.*s", (int)r->host_len, r->host);
    snprintf(last_scheme, sizeof last_scheme, "%s", r->scheme);
    snprintf(last_proto, sizeof last_proto, "%s", r->protocol);
    buf_reset(&last_headers);
    for (size_t i = 0; i < r->nheaders; i++)
        buf_printf(&last_headers, "%.*s: %.*s\n", (int)r->headers[i].name_len, r->headers[i].name,
                   (int)r->headers[i].value_len, r->headers[i].value);
    buf_reset(&last_body);
    buf_append(&last_body, r->body, r->body_len);
    if (app_mode == APP_HOLD) {
        r->on_abort = on_abort;
        if (nheld < 1024)
            held[nheld++] = r;
        return;
    }
    if (app_mode == APP_PATTERN) {
        r->on_writable = pattern_writable;
        r->drv->start(r, 200, NULL, 0, (int64_t)big_len);
        pattern_pump(r);
        return;
    }
    if (app_mode == APP_BIG) {
        static char big[200000];
        memset(big, 'x', sizeof big);
        r->on_writable = on_writable;
        http_hdr h[] = {{"Content-Type", 12, "text/plain", 10}, {"Connection", 10, "close", 5}};
        r->drv->start(r, 200, h, 2, (int64_t)big_len);
        r->drv->body(r, big, big_len, 1);
        return;
    }
    http_hdr h = {"content-type", 12, "text/plain", 10};
    r->drv->start(r, 200, &h, 1, 5);
    r->drv->body(r, "hello", 5, 1);
}

static server_config CFG;
static app_ops OPS = {.handle = app_handle};
static worker W = {.id = 1, .cfg = &CFG, .ops = &OPS};

/* ---- the client side ---- */
#define MAXS 2048
typedef struct { int status, end, rst, headers; size_t data; char hdrs[512]; } srec;
static srec S[MAXS];
static long goaway = -1, goaway_last = -1;
static int settings_acks, settings_frames, pings_acked, conn_wu;
static size_t seen;
static hpack_enc cenc;
static hpack_dec cdec;
static buf tx, hblock;
static uint32_t srv_max_streams, srv_window;
static buf sbody[128];                /* DATA payloads of streams 1..127 */
static size_t max_data_frame;

static int on_field(void *ud, const char *n, size_t nl, const char *v, size_t vl, int fl)
{
    srec *r = ud;
    if (nl == 7 && memcmp(n, ":status", 7) == 0) {
        /* v is not NUL-terminated: read exactly vl digits */
        r->status = 0;
        for (size_t i = 0; i < vl && v[i] >= '0' && v[i] <= '9'; i++)
            r->status = r->status * 10 + (v[i] - '0');
    }
    size_t at = strlen(r->hdrs);
    snprintf(r->hdrs + at, sizeof r->hdrs - at, "%.*s: %.*s\n", (int)nl, n, (int)vl, v);
    return 0;
}

/* Decode whatever the server wrote since the last call. */
static void collect(void)
{
    h2_frame f;
    const char *why;
    long n;
    if (seen == 0 && buf_size(&wire) >= 12 && memcmp(buf_head(&wire), "HTTP/1.1 101", 12) == 0)
        seen = (size_t)(strstr(buf_head(&wire), "\r\n\r\n") - buf_head(&wire)) + 4;
    while ((n = h2_frame_read(&f, (const uint8_t *)buf_head(&wire) + seen, buf_size(&wire) - seen, H2_MAX_FRAME_SIZE, &why)) > 0) {
        seen += (size_t)n;
        srec *r = &S[f.stream_id % MAXS];
        const uint8_t *p = f.payload;
        switch (f.type) {
        case H2_HEADERS: case H2_CONTINUATION:
            if (f.type == H2_HEADERS)
                buf_reset(&hblock), r->headers++;
            buf_append(&hblock, p, f.length);
            if (f.flags & H2_FLAG_END_HEADERS) {
                const char *e; size_t off;
                if (hpack_decode_block(&cdec, (uint8_t *)buf_head(&hblock), buf_size(&hblock), on_field, r, &e, &off) != 0)
                    r->status = -1;
            }
            if (f.flags & H2_FLAG_END_STREAM)
                r->end = 1;
            break;
        case H2_DATA:
            r->data += f.length;
            buf_append(&sbody[f.stream_id % 128], p, f.length);
            if (f.length > max_data_frame)
                max_data_frame = f.length;
            if (f.flags & H2_FLAG_END_STREAM)
                r->end = 1;
            break;
        case H2_RST_STREAM: r->rst = (int)((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]); break;
        case H2_GOAWAY:
            goaway_last = (long)((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
            goaway = (long)((uint32_t)p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7]);
            break;
        case H2_SETTINGS:
            if (f.flags & H2_FLAG_ACK) { settings_acks++; break; }
            settings_frames++;
            for (uint32_t i = 0; i < f.length; i += 6) {
                uint32_t v = (uint32_t)p[i + 2] << 24 | p[i + 3] << 16 | p[i + 4] << 8 | p[i + 5];
                if (p[i + 1] == H2_SETTINGS_MAX_CONCURRENT_STREAMS) srv_max_streams = v;
                if (p[i + 1] == H2_SETTINGS_INITIAL_WINDOW_SIZE) srv_window = v;
            }
            break;
        case H2_PING: if (f.flags & H2_FLAG_ACK) pings_acked++; break;
        case H2_WINDOW_UPDATE: if (f.stream_id == 0) conn_wu++; break;
        }
    }
}

static void send_tx(void)
{
    if (C.proto && C.proto->read && !closed)
        C.proto->read(&C, buf_head(&tx), buf_size(&tx));
    buf_reset(&tx);
    collect();
}

static void reset_all(void)
{
    if (C.proto_data && !closed)
        conn_close(&C);
    buf_reset(&wire); buf_reset(&tx);
    closed = aborted_conn = 0; seen = 0; fake_queued = 0;
    memset(S, 0, sizeof S);
    for (int i = 0; i < MAXS; i++) S[i].rst = -1;
    goaway = goaway_last = -1;
    settings_acks = settings_frames = pings_acked = conn_wu = 0;
    handled = aborts = writable_calls = nheld = 0;
    for (int i = 0; i < 128; i++)
        buf_reset(&sbody[i]), pat_sent[i] = 0;
    max_data_frame = 0;
    piece_len = 0;
    writev_calls = 0;
    app_mode = APP_RESPOND;
    hpack_enc_free(&cenc); hpack_dec_free(&cdec);
    hpack_enc_init(&cenc, 4096); hpack_dec_init(&cdec, 4096, 0);
    memset(&CFG, 0, sizeof CFG);
    CFG.limits.h2_max_streams = 100;
    CFG.limits.max_header_bytes = 16384;
    CFG.limits.max_body_bytes = 1 << 20;
    CFG.limits.max_headers = 100;
    CFG.limits.keepalive_ms = 20000;
    CFG.limits.body_timeout_ms = 30000;
    memset(&C, 0, sizeof C);
    C.w = &W; C.id = 7; C.proto = &h2_proto;
    h2_clock = fake_clock;
}

/* Open a connection: preface, empty SETTINGS, ACK of the server's. */
static void start(void)
{
    reset_all();
    h2_proto.open(&C);
    buf_append(&tx, H2_PREFACE, H2_PREFACE_LEN);
    h2_build_settings(&tx, NULL, 0);
    h2_build_settings_ack(&tx);
    send_tx();
}

/* A header block from "name", "value", ... NULL. */
static void block(buf *b, const char **kv)
{
    buf_reset(b);
    hpack_enc_begin_block(&cenc, b);
    for (; kv[0]; kv += 2)
        hpack_encode_field(&cenc, b, kv[0], strlen(kv[0]), kv[1], strlen(kv[1]), 0);
}

static void headers(uint32_t id, const char **kv, int end_stream)
{
    buf b = BUF_INIT;
    block(&b, kv);
    h2_build_headers(&tx, id, buf_head(&b), buf_size(&b), end_stream, 16384);
    buf_free(&b);
}

static const char *GET[] = {":method", "GET", ":scheme", "https", ":path", "/p?q=1", ":authority", "ex.test", NULL};
static const char *POST[] = {":method", "POST", ":scheme", "http", ":path", "/up", ":authority", "ex.test", NULL};

static void get(uint32_t id) { headers(id, GET, 1); send_tx(); }

/* ---- tests: connection setup ---- */

TEST(preface_and_settings)
{
    start();
    CHECK_INT(settings_frames, 1);
    CHECK_INT(srv_max_streams, 100);
    CHECK_INT(srv_window, H2_LOCAL_WINDOW);
    CHECK_INT(conn_wu, 1);
    CHECK_INT(settings_acks, 1);      /* our empty SETTINGS was acknowledged */
    h2_conn *h = C.proto_data;
    CHECK_INT(h->settings_unacked, 0);
    CHECK(timer_ms > 0);              /* keep-alive armed */
    CHECK(!closed);
}

TEST(preface_byte_by_byte)
{
    reset_all();
    h2_proto.open(&C);
    buf_append(&tx, H2_PREFACE, H2_PREFACE_LEN);
    h2_build_settings(&tx, NULL, 0);
    headers(1, GET, 1);
    buf all = tx;
    tx = (buf)BUF_INIT;
    for (size_t i = 0; i < buf_size(&all); i++)
        C.proto->read(&C, buf_head(&all) + i, 1);
    buf_free(&all);
    collect();
    CHECK_INT(S[1].status, 200);
    CHECK_INT(S[1].data, 5);
}

TEST(bad_preface)
{
    reset_all();
    h2_proto.open(&C);
    buf_puts(&tx, "GET / HTTP/1.1\r\n\r\n");
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    CHECK(closed);
}

TEST(first_frame_must_be_settings)
{
    reset_all();
    h2_proto.open(&C);
    buf_append(&tx, H2_PREFACE, H2_PREFACE_LEN);
    h2_build_ping(&tx, (const uint8_t *)"12345678", 0);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
}

TEST(settings_ack_timeout)
{
    reset_all();
    h2_proto.open(&C);
    buf_append(&tx, H2_PREFACE, H2_PREFACE_LEN);
    h2_build_settings(&tx, NULL, 0);
    send_tx();
    CHECK(timer_ms <= H2_SETTINGS_TIMEOUT_MS);
    fake_now += H2_SETTINGS_TIMEOUT_MS;
    C.proto->timeout(&C);
    collect();
    CHECK_INT(goaway, H2_SETTINGS_TIMEOUT);
    CHECK(closed);
}

TEST(settings_errors)
{
    uint32_t bad[][2] = {{H2_SETTINGS_ENABLE_PUSH, 2}, {H2_SETTINGS_INITIAL_WINDOW_SIZE, 0x80000000u},
                         {H2_SETTINGS_MAX_FRAME_SIZE, 100}, {H2_SETTINGS_MAX_FRAME_SIZE, 1u << 24}};
    long want[] = {H2_PROTOCOL_ERROR, H2_FLOW_CONTROL_ERROR, H2_PROTOCOL_ERROR, H2_PROTOCOL_ERROR};
    for (int i = 0; i < 4; i++) {
        start();
        h2_build_settings(&tx, bad[i], 1);
        send_tx();
        CHECK_INT(goaway, want[i]);
    }
    start();
    h2_build_frame(&tx, H2_SETTINGS, H2_FLAG_ACK, 0, "123456", 6);
    send_tx();
    CHECK_INT(goaway, H2_FRAME_SIZE_ERROR);
    start();
    h2_build_frame(&tx, H2_SETTINGS, 0, 0, "1234567", 7);
    send_tx();
    CHECK_INT(goaway, H2_FRAME_SIZE_ERROR);
    start();
    h2_build_frame(&tx, H2_SETTINGS, 0, 1, "", 0);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
}

TEST(ping_answered_and_checked)
{
    start();
    h2_build_ping(&tx, (const uint8_t *)"abcdefgh", 0);
    h2_build_ping(&tx, (const uint8_t *)"ignored!", 1);   /* an ACK is not answered */
    size_t before = buf_size(&wire);
    send_tx();
    CHECK_INT(pings_acked, 1);
    CHECK(memmem(buf_head(&wire) + before, buf_size(&wire) - before, "abcdefgh", 8) != NULL);
    h2_build_frame(&tx, H2_PING, 0, 0, "1234567", 7);
    send_tx();
    CHECK_INT(goaway, H2_FRAME_SIZE_ERROR);
    start();
    h2_build_frame(&tx, H2_PING, 0, 3, "12345678", 8);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
}

TEST(frame_too_large)
{
    static char big[16385];
    start();
    headers(1, POST, 0);
    h2_build_data(&tx, 1, big, sizeof big, 1);
    send_tx();
    CHECK_INT(goaway, H2_FRAME_SIZE_ERROR);
}

TEST(unknown_frames_ignored)
{
    start();
    h2_build_frame(&tx, 0x42, 0xff, 0, "xyz", 3);
    h2_build_frame(&tx, 0x42, 0, 5, "", 0);
    get(1);
    CHECK_INT(goaway, -1);
    CHECK_INT(S[1].status, 200);
}

TEST(push_promise_from_client)
{
    start();
    h2_build_frame(&tx, H2_PUSH_PROMISE, H2_FLAG_END_HEADERS, 1, "\0\0\0\2\x82", 5);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
}

/* ---- requests and responses ---- */

TEST(simple_get)
{
    start();
    const char *kv[] = {":method", "GET", ":scheme", "https", ":path", "/p?q=1", ":authority", "ex.test",
                        "accept", "*/*", "cookie", "a=1", "cookie", "b=2", NULL};
    headers(1, kv, 1);
    send_tx();
    CHECK_INT(handled, 1);
    CHECK_STR(last_method, "GET");
    CHECK_STR(last_target, "/p?q=1");
    CHECK_STR(last_host, "ex.test");
    CHECK_STR(last_scheme, "https");
    CHECK_STR(last_proto, "HTTP/2");
    CHECK_STR(buf_cstr(&last_headers), "cookie: a=1; b=2\naccept: */*\n");
    CHECK_INT(S[1].status, 200);
    CHECK(strstr(S[1].hdrs, "content-length: 5\n"));
    CHECK(strstr(S[1].hdrs, "server: atto\n"));
    CHECK(strstr(S[1].hdrs, "date: "));
    CHECK_INT(S[1].data, 5);
    CHECK_INT(S[1].end, 1);
    h2_conn *h = C.proto_data;
    h2_enter(h); h2_leave(h);
    CHECK(h->streams == NULL);       /* closed and reaped */
    CHECK_INT(h->nstreams, 0);
}

TEST(head_request_no_body)
{
    start();
    const char *kv[] = {":method", "HEAD", ":scheme", "http", ":path", "/", NULL};
    headers(1, kv, 1);
    send_tx();
    CHECK_INT(S[1].status, 200);
    CHECK_INT(S[1].end, 1);
    CHECK_INT(S[1].data, 0);
    CHECK_INT(S[1].headers, 1);
}

TEST(post_body_and_window_updates)
{
    static char chunk[16384];
    start();
    app_mode = APP_HOLD;
    const char *kv[] = {":method", "POST", ":scheme", "http", ":path", "/up", "content-length", "200000", NULL};
    headers(1, kv, 0);
    for (int i = 0; i < 12; i++)
        h2_build_data(&tx, 1, chunk, 16384, 0);
    h2_build_data(&tx, 1, chunk, 200000 - 12 * 16384, 1);
    int wu_before = conn_wu;
    send_tx();
    CHECK_INT(handled, 1);
    CHECK_INT(buf_size(&last_body), 200000);
    CHECK_INT(goaway, -1);
    CHECK_INT(S[1].rst, -1);
    (void)wu_before;
    h2_conn *h = C.proto_data;
    CHECK(h->recv_window > 0);
    held[0]->drv->start(held[0], 204, NULL, 0, -1);
    held[0]->drv->body(held[0], NULL, 0, 1);
    collect();
    CHECK_INT(S[1].status, 204);
    CHECK_INT(S[1].end, 1);
}

TEST(stream_window_update_sent)
{
    static char chunk[16384];
    start();
    app_mode = APP_HOLD;
    headers(1, POST, 0);
    for (int i = 0; i < 9; i++)
        h2_build_data(&tx, 1, chunk, 16384, 0);
    size_t before = seen;
    send_tx();
    /* 147456 bytes > half of the 256 KiB stream window: one WINDOW_UPDATE for stream 1 */
    h2_frame f; const char *why; int found = 0;
    for (size_t off = before; off < buf_size(&wire);) {
        long n = h2_frame_read(&f, (uint8_t *)buf_head(&wire) + off, buf_size(&wire) - off, H2_MAX_FRAME_SIZE, &why);
        if (f.type == H2_WINDOW_UPDATE && f.stream_id == 1) found = 1;
        off += (size_t)n;
    }
    CHECK(found);
}

TEST(content_length_mismatch)
{
    const char *kv[] = {":method", "POST", ":scheme", "http", ":path", "/", "content-length", "10", NULL};
    start();
    headers(1, kv, 0);
    h2_build_data(&tx, 1, "12345", 5, 1);        /* fewer bytes */
    send_tx();
    CHECK_INT(S[1].rst, H2_PROTOCOL_ERROR);
    CHECK_INT(handled, 0);
    headers(3, kv, 0);
    h2_build_data(&tx, 3, "12345678901", 11, 1); /* more bytes */
    send_tx();
    CHECK_INT(S[3].rst, H2_PROTOCOL_ERROR);
    const char *k0[] = {":method", "GET", ":scheme", "http", ":path", "/", "content-length", "3", NULL};
    headers(5, k0, 1);                             /* END_STREAM on HEADERS with a length */
    send_tx();
    CHECK_INT(S[5].rst, H2_PROTOCOL_ERROR);
    CHECK_INT(goaway, -1);
}

TEST(response_headers_cleaned)
{
    start();
    app_mode = APP_BIG;
    big_len = 10;
    get(1);
    CHECK(strstr(S[1].hdrs, "content-type: text/plain\n"));   /* lower-cased */
    CHECK(!strstr(S[1].hdrs, "connection"));                 /* dropped */
    CHECK(strstr(S[1].hdrs, "content-length: 10\n"));
}

TEST(async_response_later)
{
    start();
    app_mode = APP_HOLD;
    get(1);
    get(3);
    CHECK_INT(nheld, 2);
    CHECK_INT(S[1].headers, 0);
    http_req *r = held[1];   /* answer the second first, from "a timer" */
    r->drv->start(r, 201, NULL, 0, -1);
    r->drv->body(r, "ab", 2, 0);
    CHECK_INT(r->drv->pending(r), 0);
    r->drv->body(r, "c", 1, 1);
    collect();
    CHECK_INT(S[3].status, 201);
    CHECK_INT(S[3].data, 3);
    CHECK_INT(S[3].end, 1);
    CHECK_INT(S[1].headers, 0);
}

TEST(cookie_and_host_fallback)
{
    start();
    const char *kv[] = {":method", "GET", ":scheme", "http", ":path", "/", "host", "h.test", NULL};
    headers(1, kv, 1);
    send_tx();
    CHECK_STR(last_host, "h.test");
    CHECK_STR(last_scheme, "http");
}

/* ---- malformed requests: RST_STREAM(PROTOCOL_ERROR), §8.1.1 ---- */

TEST(malformed_requests)
{
    const char *cases[][12] = {
        {":method", "GET", ":scheme", "http", NULL},                                   /* no :path */
        {":scheme", "http", ":path", "/", NULL},                                       /* no :method */
        {":method", "GET", ":path", "/", NULL},                                        /* no :scheme */
        {":method", "GET", ":scheme", "http", ":path", "", NULL},                      /* empty :path */
        {":method", "GET", ":scheme", "http", ":path", "/", ":path", "/", NULL},       /* duplicate */
        {":method", "GET", ":scheme", "http", ":path", "/", ":foo", "x", NULL},        /* unknown pseudo */
        {":method", "GET", ":scheme", "http", "a", "b", ":path", "/", NULL},           /* pseudo after regular */
        {":method", "GET", ":scheme", "http", ":path", "/", "X-Up", "1", NULL},        /* upper case */
        {":method", "GET", ":scheme", "http", ":path", "/", "connection", "x", NULL},  /* conn-specific */
        {":method", "GET", ":scheme", "http", ":path", "/", "te", "gzip", NULL},       /* te */
        {":method", "GET", ":scheme", "http", ":path", "/", ":status", "200", NULL},   /* response pseudo */
        {":method", "GET", ":scheme", "http", ":path", "x", NULL},                     /* not origin-form */
        {":method", "GET", ":scheme", "http", ":path", "/", "a", " b", NULL},          /* whitespace */
        {":method", "GET", ":scheme", "http", ":path", "/", "transfer-encoding", "chunked", NULL},
        {":method", "CONNECT", ":scheme", "http", ":path", "/", ":authority", "a:1", NULL},
        {":method", "GET", ":scheme", "http", ":path", "/", "content-length", "x1", NULL},
    };
    size_t n = sizeof cases / sizeof cases[0];
    start();
    for (size_t i = 0; i < n; i++) {
        headers((uint32_t)(2 * i + 1), cases[i], 1);
        send_tx();
        CHECK_INT(S[2 * i + 1].rst, H2_PROTOCOL_ERROR);
    }
    CHECK_INT(handled, 0);
    CHECK_INT(goaway, -1);
    /* the HPACK state survived every rejected block */
    const char *ok[] = {":method", "OPTIONS", ":scheme", "http", ":path", "*", "te", "trailers", NULL};
    headers((uint32_t)(2 * n + 1), ok, 1);
    send_tx();
    CHECK_INT(S[2 * n + 1].status, 200);
    const char *co[] = {":method", "CONNECT", ":authority", "a:443", NULL};
    headers((uint32_t)(2 * n + 3), co, 1);
    send_tx();
    CHECK_INT(S[2 * n + 3].status, 200);
    CHECK_STR(last_target, "a:443");
}

TEST(trailers)
{
    start();
    headers(1, POST, 0);
    h2_build_data(&tx, 1, "abc", 3, 0);
    const char *tr[] = {"x-checksum", "42", NULL};
    headers(1, tr, 1);
    send_tx();
    CHECK_INT(handled, 1);
    CHECK_STR(buf_cstr(&last_body), "abc");
    CHECK_INT(S[1].status, 200);
    headers(3, POST, 0);
    headers(3, tr, 0);                          /* trailers without END_STREAM */
    send_tx();
    CHECK_INT(S[3].rst, H2_PROTOCOL_ERROR);
    headers(5, POST, 0);
    const char *ptr[] = {":path", "/x", NULL};  /* pseudo-header in trailers */
    headers(5, ptr, 1);
    send_tx();
    CHECK_INT(S[5].rst, H2_PROTOCOL_ERROR);
    CHECK_INT(goaway, -1);
}

/* ---- stream states and ids, §5.1 ---- */

TEST(even_stream_id)
{
    start();
    get(2);
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
}

TEST(decreasing_stream_id)
{
    start();
    get(5);
    get(3);
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    CHECK_INT(goaway_last, 5);
}

TEST(idle_stream_frames)
{
    start();
    h2_build_data(&tx, 1, "x", 1, 0);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    start();
    h2_build_rst_stream(&tx, 1, H2_CANCEL);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    start();
    h2_build_window_update(&tx, 1, 10);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    start();
    h2_build_priority(&tx, 9, 0, 0, 16);     /* PRIORITY is fine on idle and opens nothing */
    get(3);
    CHECK_INT(goaway, -1);
    CHECK_INT(S[3].status, 200);
}

TEST(data_on_half_closed_remote)
{
    start();
    app_mode = APP_HOLD;
    get(1);
    h2_build_data(&tx, 1, "x", 1, 0);
    send_tx();
    CHECK_INT(S[1].rst, H2_STREAM_CLOSED);
    CHECK_INT(aborts, 1);                     /* the app was told */
    CHECK_INT(goaway, -1);
    start();
    app_mode = APP_HOLD;
    get(1);
    headers(1, GET, 1);
    send_tx();
    CHECK_INT(S[1].rst, H2_STREAM_CLOSED);
}

TEST(data_on_closed_stream)
{
    start();
    get(1);
    CHECK_INT(S[1].end, 1);
    h2_build_data(&tx, 1, "x", 1, 0);
    send_tx();
    CHECK_INT(S[1].rst, H2_STREAM_CLOSED);
}

TEST(headers_after_client_reset)
{
    start();
    headers(1, POST, 0);
    h2_build_rst_stream(&tx, 1, H2_CANCEL);
    headers(1, GET, 1);
    send_tx();
    CHECK_INT(goaway, H2_STREAM_CLOSED);
}

TEST(frames_after_our_reset_ignored)
{
    start();
    headers(1, POST, 0);
    h2_build_data(&tx, 1, "x", 1, 0);
    h2_build_window_update(&tx, 1, 0);        /* zero increment: RST PROTOCOL_ERROR */
    send_tx();
    CHECK_INT(S[1].rst, H2_PROTOCOL_ERROR);
    h2_build_data(&tx, 1, "more", 4, 0);      /* in flight: ignored */
    h2_build_window_update(&tx, 1, 5);
    h2_build_rst_stream(&tx, 1, H2_CANCEL);
    headers(1, GET, 1);
    send_tx();
    CHECK_INT(goaway, -1);
}

TEST(rst_and_window_update_errors)
{
    start();
    h2_build_frame(&tx, H2_RST_STREAM, 0, 0, "\0\0\0\0", 4);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    start();
    app_mode = APP_HOLD;
    get(1);
    h2_build_frame(&tx, H2_RST_STREAM, 0, 1, "\0\0\0", 3);
    send_tx();
    CHECK_INT(goaway, H2_FRAME_SIZE_ERROR);
    start();
    h2_build_window_update(&tx, 0, 0);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    start();
    h2_build_frame(&tx, H2_WINDOW_UPDATE, 0, 0, "\0\0\1", 3);
    send_tx();
    CHECK_INT(goaway, H2_FRAME_SIZE_ERROR);
    start();
    h2_build_window_update(&tx, 0, 0x7fffffff);
    send_tx();
    CHECK_INT(goaway, H2_FLOW_CONTROL_ERROR);
    start();
    app_mode = APP_HOLD;
    get(1);
    get(3);
    h2_build_window_update(&tx, 1, 0);
    h2_build_window_update(&tx, 3, 0x7fffffff);
    send_tx();
    CHECK_INT(S[1].rst, H2_PROTOCOL_ERROR);
    CHECK_INT(S[3].rst, H2_FLOW_CONTROL_ERROR);
    CHECK_INT(goaway, -1);
    CHECK_INT(aborts, 2);
}

TEST(priority_errors)
{
    start();
    app_mode = APP_HOLD;
    headers(1, POST, 0);
    h2_build_priority(&tx, 1, 1, 0, 16);
    send_tx();
    CHECK_INT(S[1].rst, H2_PROTOCOL_ERROR);
    headers(3, POST, 0);
    h2_build_frame(&tx, H2_PRIORITY, 0, 3, "1234", 4);
    send_tx();
    CHECK_INT(S[3].rst, H2_FRAME_SIZE_ERROR);
    h2_build_frame(&tx, H2_PRIORITY, 0, 0, "12345", 5);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
}

TEST(headers_self_dependency)
{
    start();
    buf b = BUF_INIT;
    block(&b, GET);
    uint8_t prio[5] = {0, 0, 0, 1, 15};
    h2_build_frame_header(&tx, (uint32_t)(5 + buf_size(&b)), H2_HEADERS, H2_FLAG_PRIORITY | H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, 1);
    buf_append(&tx, prio, 5);
    buf_append(&tx, buf_head(&b), buf_size(&b));
    buf_free(&b);
    send_tx();
    CHECK_INT(S[1].rst, H2_PROTOCOL_ERROR);
    get(3);                                    /* HPACK still in sync */
    CHECK_INT(S[3].status, 200);
}

TEST(padded_frames)
{
    start();
    buf b = BUF_INIT;
    block(&b, POST);
    h2_build_padded(&tx, H2_HEADERS, H2_FLAG_END_HEADERS, 1, buf_head(&b), buf_size(&b), 7);
    h2_build_padded(&tx, H2_DATA, H2_FLAG_END_STREAM, 1, "body", 4, 200);
    buf_free(&b);
    send_tx();
    CHECK_STR(buf_cstr(&last_body), "body");
    h2_conn *h = C.proto_data;
    CHECK_INT(h->recv_window, H2_CONN_WINDOW - 205);   /* padding is flow-controlled */
    uint8_t bad[4] = {4, 'a', 'b', 'c'};
    headers(3, POST, 0);
    h2_build_frame(&tx, H2_DATA, H2_FLAG_PADDED, 3, bad, 4);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
}

/* ---- header blocks, §6.10 ---- */

TEST(continuation_assembled)
{
    start();
    char v[5000];
    memset(v, 'v', sizeof v - 1);
    v[sizeof v - 1] = 0;
    const char *kv[] = {":method", "GET", ":scheme", "http", ":path", "/", "x-a", v, "x-b", v, NULL};
    buf b = BUF_INIT;
    cenc.no_huffman = 1;
    block(&b, kv);
    h2_build_headers(&tx, 1, buf_head(&b), buf_size(&b), 1, 4000);
    buf_free(&b);
    send_tx();
    CHECK_INT(handled, 1);
    CHECK_INT(S[1].status, 200);
}

TEST(continuation_interrupted)
{
    buf b = BUF_INIT;
    start();
    block(&b, GET);
    h2_build_frame(&tx, H2_HEADERS, H2_FLAG_END_STREAM, 1, buf_head(&b), 2);
    h2_build_ping(&tx, (const uint8_t *)"12345678", 0);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    start();
    block(&b, GET);
    h2_build_frame(&tx, H2_HEADERS, H2_FLAG_END_STREAM, 1, buf_head(&b), 2);
    h2_build_frame(&tx, H2_CONTINUATION, H2_FLAG_END_HEADERS, 3, buf_head(&b) + 2, buf_size(&b) - 2);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    start();
    h2_build_frame(&tx, H2_CONTINUATION, H2_FLAG_END_HEADERS, 1, "\x82", 1);
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    start();
    get(1);
    h2_build_frame(&tx, H2_CONTINUATION, H2_FLAG_END_HEADERS, 1, "\x82", 1);   /* after END_HEADERS */
    send_tx();
    CHECK_INT(goaway, H2_PROTOCOL_ERROR);
    buf_free(&b);
}

TEST(continuation_flood)
{
    static char junk[16000];
    start();
    h2_build_frame(&tx, H2_HEADERS, 0, 1, "\x82", 1);
    for (int i = 0; i < 10; i++)
        h2_build_frame(&tx, H2_CONTINUATION, 0, 1, junk, sizeof junk);
    send_tx();
    CHECK_INT(goaway, H2_ENHANCE_YOUR_CALM);
    start();
    h2_build_frame(&tx, H2_HEADERS, 0, 1, "\x82", 1);
    for (int i = 0; i < 1000; i++)
        h2_build_frame(&tx, H2_CONTINUATION, 0, 1, "", 0);
    send_tx();
    CHECK_INT(goaway, H2_ENHANCE_YOUR_CALM);
}

TEST(bad_hpack_is_compression_error)
{
    start();
    h2_build_frame(&tx, H2_HEADERS, H2_FLAG_END_HEADERS | H2_FLAG_END_STREAM, 1, "\xff\xff\xff\xff\x0f", 5);
    send_tx();
    CHECK_INT(goaway, H2_COMPRESSION_ERROR);
}

TEST(hpack_bomb_431)
{
    start();
    CFG.limits.max_header_bytes = 16384;
    char v[1000];
    memset(v, 'b', sizeof v - 1);
    v[sizeof v - 1] = 0;
    /* index the big value once, then reference it many times: small on the wire, huge decoded */
    buf b = BUF_INIT;
    hpack_enc_begin_block(&cenc, &b);
    const char *ps[] = {":method", "GET", ":scheme", "http", ":path", "/", NULL};
    for (const char **p = ps; *p; p += 2)
        hpack_encode_field(&cenc, &b, p[0], strlen(p[0]), p[1], strlen(p[1]), 0);
    for (int i = 0; i < 50; i++)
        hpack_encode_field(&cenc, &b, "x-bomb", 6, v, strlen(v), 0);
    CHECK(buf_size(&b) < 8000);
    h2_build_headers(&tx, 1, buf_head(&b), buf_size(&b), 1, 16384);
    buf_free(&b);
    send_tx();
    CHECK_INT(S[1].status, 431);
    CHECK_INT(handled, 0);
    CHECK_INT(goaway, -1);
    get(3);
    CHECK_INT(S[3].status, 200);
}

TEST(too_many_headers_431)
{
    start();
    CFG.limits.max_headers = 5;
    h2_conn *h = C.proto_data;
    h->max_headers = 5;
    const char *kv[] = {":method", "GET", ":scheme", "http", ":path", "/", "a", "1", "b", "2", "c", "3",
                        "d", "4", "e", "5", "f", "6", NULL};
    headers(1, kv, 1);
    send_tx();
    CHECK_INT(S[1].status, 431);
    CHECK_INT(handled, 0);
}

/* ---- flow control, §6.9 ---- */

TEST(send_window_respected)
{
    start();
    uint32_t s[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 10};
    h2_build_settings(&tx, s, 1);
    app_mode = APP_BIG;
    big_len = 100;
    headers(1, GET, 1);
    send_tx();
    CHECK_INT(S[1].status, 200);
    CHECK_INT(S[1].data, 10);
    CHECK_INT(S[1].end, 0);
    h2_build_window_update(&tx, 1, 50);
    send_tx();
    CHECK_INT(S[1].data, 60);
    h2_build_window_update(&tx, 1, 40);
    send_tx();
    CHECK_INT(S[1].data, 100);
    CHECK_INT(S[1].end, 1);
}

TEST(connection_window_shared)
{
    start();
    app_mode = APP_BIG;
    big_len = 40000;
    get(1);
    get(3);
    CHECK_INT(S[1].data + S[3].data, 65535);
    CHECK_INT(S[3].end, 0);
    h2_build_window_update(&tx, 0, 100000);
    send_tx();
    CHECK_INT(S[1].data, 40000);
    CHECK_INT(S[3].data, 40000);
    CHECK_INT(S[1].end && S[3].end, 1);
}

TEST(initial_window_change_applies)
{
    start();
    uint32_t zero[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 0};
    h2_build_settings(&tx, zero, 1);
    app_mode = APP_BIG;
    big_len = 1000;
    get(1);
    CHECK_INT(S[1].data, 0);
    uint32_t more[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 600};
    h2_build_settings(&tx, more, 1);
    send_tx();
    CHECK_INT(S[1].data, 600);
    uint32_t less[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 100};   /* window goes to -500 */
    h2_build_settings(&tx, less, 1);
    h2_build_window_update(&tx, 1, 600);                         /* back to 100 */
    send_tx();
    CHECK_INT(S[1].data, 700);
    h2_build_window_update(&tx, 1, 0x7fffffff - 100);
    send_tx();
    CHECK_INT(S[1].end, 1);
    start();
    app_mode = APP_HOLD;
    get(1);
    h2_build_window_update(&tx, 1, 0x7fffffff - 65535);
    uint32_t big[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 65536};
    h2_build_settings(&tx, big, 1);
    send_tx();
    CHECK_INT(goaway, H2_FLOW_CONTROL_ERROR);
}

TEST(max_frame_size_of_peer)
{
    start();
    app_mode = APP_BIG;
    big_len = 40000;
    h2_build_window_update(&tx, 0, 1000000);
    uint32_t s[] = {H2_SETTINGS_MAX_FRAME_SIZE, 32768, H2_SETTINGS_INITIAL_WINDOW_SIZE, 1000000};
    h2_build_settings(&tx, s, 2);
    size_t before = buf_size(&wire);
    get(1);
    h2_frame f; const char *why; int frames = 0;
    for (size_t off = before; off < buf_size(&wire);) {
        long n = h2_frame_read(&f, (uint8_t *)buf_head(&wire) + off, buf_size(&wire) - off, H2_MAX_FRAME_SIZE, &why);
        if (f.type == H2_DATA) { frames++; CHECK(f.length <= 32768); }
        off += (size_t)n;
    }
    CHECK_INT(frames, 2);
    CHECK_INT(S[1].data, 40000);
}

TEST(receive_window_enforced)
{
    static char chunk[16384];
    start();
    app_mode = APP_HOLD;
    headers(1, POST, 0);
    send_tx();
    /* the client ignores our window */
    h2_conn *h = C.proto_data;
    h2_stream *s = h2_find_stream(h, 1);
    CHECK(s);
    s->recv_unacked = 0;
    s->recv_window = 20000;                     /* as if nothing had been returned yet */
    h2_build_data(&tx, 1, chunk, 16384, 0);
    h2_build_data(&tx, 1, chunk, 16384, 0);
    send_tx();
    CHECK_INT(S[1].rst, H2_FLOW_CONTROL_ERROR);
    CHECK_INT(goaway, -1);
    h->recv_window = 100;
    headers(3, POST, 0);
    h2_build_data(&tx, 3, chunk, 200, 0);
    send_tx();
    CHECK_INT(goaway, H2_FLOW_CONTROL_ERROR);
}

TEST(on_writable_called)
{
    start();
    uint32_t s[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 10};
    h2_build_settings(&tx, s, 1);
    app_mode = APP_HOLD;
    get(1);
    http_req *r = held[0];
    r->on_writable = on_writable;
    r->drv->start(r, 200, NULL, 0, -1);
    r->drv->body(r, "0123456789abcdef", 16, 0);
    CHECK_INT(r->drv->pending(r), 6);
    CHECK_INT(writable_calls, 0);
    h2_build_window_update(&tx, 1, 100);
    send_tx();
    CHECK_INT(writable_calls, 1);
    CHECK_INT(r->drv->pending(r), 0);
    r->drv->body(r, "!", 1, 1);
    collect();
    CHECK_INT(S[1].data, 17);
    CHECK_INT(S[1].end, 1);
}

/* ---- the DATA path: payloads framed in place, cut by windows ---- */

static int body_is_pattern(uint32_t id)
{
    const unsigned char *b = (const unsigned char *)buf_head(&sbody[id]);
    if (buf_size(&sbody[id]) != big_len)
        return 0;
    for (size_t i = 0; i < big_len; i++)
        if (b[i] != pat(id, i))
            return 0;
    return 1;
}

/* Small odd windows: every frame fits the credit given, the bytes arrive
 * whole and in order, whether framed from the app's buffer or the queue. */
TEST(data_small_windows_exact_bytes)
{
    size_t pieces[] = {0, 7001, 100};
    for (int k = 0; k < 3; k++) {
        start();
        uint32_t s[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 1024, H2_SETTINGS_MAX_FRAME_SIZE, 16384};
        h2_build_settings(&tx, s, 2);
        app_mode = APP_PATTERN;
        big_len = 300000;
        piece_len = pieces[k];
        get(1);
        CHECK_INT(S[1].data, 1024);
        size_t credit = 1024, conn_credit = 65535;
        for (int round = 0; round < 2000 && !S[1].end; round++) {
            uint32_t inc = 1000 + (uint32_t)(round * 7919) % 20011;     /* odd sizes */
            h2_build_window_update(&tx, 1, inc);
            h2_build_window_update(&tx, 0, inc);
            credit += inc;
            conn_credit += inc;
            send_tx();
            CHECK(S[1].data <= credit && S[1].data <= conn_credit);
        }
        CHECK_INT(S[1].end, 1);
        CHECK(body_is_pattern(1));
        CHECK(max_data_frame <= 16384);
        CHECK(writev_calls > 0 || piece_len <= H2_COPY_MAX);   /* cleartext: large payloads by reference */
        CHECK_INT(goaway, -1);
    }
}

/* Peer windows large: a body handed over at once leaves in MAX_FRAME_SIZE
 * frames straight from the app's buffer (nothing queued on the stream). */
TEST(data_in_place_frames)
{
    start();
    uint32_t s[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20, H2_SETTINGS_MAX_FRAME_SIZE, 20000};
    h2_build_settings(&tx, s, 2);
    h2_build_window_update(&tx, 0, 1 << 20);
    send_tx();
    app_mode = APP_PATTERN;
    big_len = 100000;
    get(1);
    CHECK_INT(S[1].end, 1);
    CHECK(body_is_pattern(1));
    CHECK_INT(max_data_frame, 20000);
    h2_conn *h = C.proto_data;
    CHECK_INT(h->nseg, 0);
    CHECK_INT(buf_size(&h->wbuf), 0);
}

/* Forty streams queued behind a zero window, released by one SETTINGS:
 * the pump references more payloads than h2_seg holds (a flush midway);
 * with pieces, each next piece is written from on_writable behind bytes
 * still referenced (h2_out_append flushes them first). */
TEST(data_many_streams_queued)
{
    size_t pieces[] = {0, 600};
    for (int k = 0; k < 2; k++) {
        start();
        uint32_t zero[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 0};
        h2_build_settings(&tx, zero, 1);
        app_mode = APP_PATTERN;
        big_len = 1500;
        piece_len = pieces[k];
        for (uint32_t id = 1; id < 80; id += 2)
            headers(id, GET, 1);
        send_tx();
        CHECK_INT(handled, 40);
        uint32_t open[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 700};
        h2_build_settings(&tx, open, 1);
        h2_build_window_update(&tx, 0, 1 << 20);
        send_tx();
        for (uint32_t id = 1; id < 80; id += 2)
            h2_build_window_update(&tx, id, 5000);
        send_tx();
        int whole = 0;
        for (uint32_t id = 1; id < 80; id += 2)
            whole += S[id].end && body_is_pattern(id);
        CHECK_INT(whole, 40);
        CHECK(writev_calls > 0);
        CHECK_INT(writable_calls > 0, k == 1);
        CHECK_INT(goaway, -1);
    }
}

/* ---- limits and defences ---- */

TEST(max_concurrent_streams)
{
    start();
    h2_conn *h = C.proto_data;
    h->max_streams = 2;
    app_mode = APP_HOLD;
    get(1);
    get(3);
    get(5);
    CHECK_INT(S[5].rst, H2_REFUSED_STREAM);
    CHECK_INT(handled, 2);
    held[0]->drv->start(held[0], 200, NULL, 0, 0);
    held[0]->drv->body(held[0], NULL, 0, 1);
    get(7);                                    /* a slot is free again; HPACK in sync */
    CHECK_INT(S[7].rst, -1);
    CHECK_INT(handled, 3);
}

TEST(body_limit_413)
{
    start();
    h2_conn *h = C.proto_data;
    h->max_body = 10;
    headers(1, POST, 0);
    h2_build_data(&tx, 1, "0123456789ABC", 13, 0);
    send_tx();
    CHECK_INT(S[1].status, 413);
    CHECK_INT(S[1].end, 1);
    CHECK_INT(S[1].rst, H2_NO_ERROR);          /* stop sending, no error (§8.1) */
    CHECK_INT(handled, 0);
    const char *kv[] = {":method", "POST", ":scheme", "http", ":path", "/", "content-length", "11", NULL};
    headers(3, kv, 0);
    send_tx();
    CHECK_INT(S[3].status, 413);
    CHECK_INT(goaway, -1);
}

TEST(rapid_reset)
{
    start();
    app_mode = APP_HOLD;
    uint32_t id = 1;
    for (int i = 0; i < 150; i++, id += 2) {    /* 150 in 15 s: fine */
        headers(id, GET, 1);
        h2_build_rst_stream(&tx, id, H2_CANCEL);
        send_tx();
        fake_now += 100;
    }
    CHECK_INT(goaway, -1);
    CHECK_INT(aborts, 150);
    for (int i = 0; i < 400 && goaway < 0; i++, id += 2) {   /* at once: calm down */
        headers(id, GET, 1);
        h2_build_rst_stream(&tx, id, H2_CANCEL);
        send_tx();
    }
    CHECK_INT(goaway, H2_ENHANCE_YOUR_CALM);
    CHECK(closed);
}

TEST(control_floods)
{
    start();
    for (int i = 0; i < 100; i++)
        h2_build_settings(&tx, NULL, 0);
    send_tx();
    CHECK_INT(goaway, H2_ENHANCE_YOUR_CALM);
    CHECK(settings_acks < 60);
    start();
    for (int i = 0; i < 100; i++)
        h2_build_ping(&tx, (const uint8_t *)"pingpong", 0);
    send_tx();
    CHECK_INT(goaway, H2_ENHANCE_YOUR_CALM);
    start();
    headers(1, POST, 0);
    for (int i = 0; i < 100; i++)
        h2_build_data(&tx, 1, "", 0, 0);
    send_tx();
    CHECK_INT(goaway, H2_ENHANCE_YOUR_CALM);
    start();
    for (int i = 0; i < 1000; i++)
        h2_build_priority(&tx, 1, 0, 0, 16);
    send_tx();
    CHECK_INT(goaway, H2_ENHANCE_YOUR_CALM);
    start();                                    /* a steady trickle is fine */
    for (int i = 0; i < 200; i++) {
        h2_build_ping(&tx, (const uint8_t *)"pingpong", 0);
        send_tx();
        fake_now += 200;
    }
    CHECK_INT(goaway, -1);
    CHECK_INT(pings_acked, 200);
}

TEST(zero_window_stall)
{
    start();
    uint32_t s[] = {H2_SETTINGS_INITIAL_WINDOW_SIZE, 0};
    h2_build_settings(&tx, s, 1);
    app_mode = APP_BIG;
    big_len = 100;
    get(1);
    CHECK_INT(S[1].data, 0);
    CHECK(timer_ms > 0 && timer_ms <= 30000);
    fake_now += 30000;
    C.proto->timeout(&C);
    collect();
    CHECK_INT(S[1].rst, H2_CANCEL);
    CHECK(!closed);
    /* the connection window closed too long: the connection goes */
    start();
    app_mode = APP_BIG;
    big_len = 70000;
    get(1);
    CHECK_INT(S[1].data, 65535);
    fake_now += 30000;
    C.proto->timeout(&C);
    collect();
    CHECK_INT(goaway, H2_ENHANCE_YOUR_CALM);
    CHECK(closed);
}

TEST(peer_not_reading)
{
    start();
    app_mode = APP_HOLD;
    get(1);
    fake_queued = 1000;
    held[0]->drv->start(held[0], 200, NULL, 0, -1);
    fake_now += 30000;
    C.proto->timeout(&C);
    CHECK(aborted_conn);
    CHECK_INT(aborts, 1);
}

TEST(idle_keepalive)
{
    start();
    get(1);
    CHECK_INT(timer_ms, 20000);
    fake_now += 20000;
    C.proto->timeout(&C);
    collect();
    CHECK_INT(goaway, H2_NO_ERROR);
    CHECK(closed);
    start();                                    /* an unfinished request: request timeout */
    headers(1, POST, 0);
    send_tx();
    CHECK_INT(timer_ms, 30000);
    fake_now += 30000;
    C.proto->timeout(&C);
    collect();
    CHECK_INT(goaway, H2_NO_ERROR);
}

/* ---- lifetime ---- */

static void abort_marker(http_req *r) { aborts += 100; }

TEST(client_reset_while_app_holds)
{
    start();
    app_mode = APP_HOLD;
    get(1);
    get(3);
    held[1]->on_abort = NULL;                  /* this app never listens: a zombie */
    http_req *zombie = held[1];
    h2_build_rst_stream(&tx, 1, H2_CANCEL);
    h2_build_rst_stream(&tx, 3, H2_CANCEL);
    send_tx();
    CHECK_INT(aborts, 1);
    CHECK(held[0] == NULL);
    /* the app answers late: nothing is sent, nothing leaks (ASan) */
    zombie->drv->start(zombie, 200, NULL, 0, -1);
    CHECK(zombie->drv->body(zombie, "late", 4, 0) < 0);
    CHECK(zombie->drv->body(zombie, NULL, 0, 1) < 0);
    collect();
    CHECK_INT(S[3].headers, 0);
    get(5);
    held[2]->on_abort = abort_marker;
    conn_close(&C);                            /* the connection dies */
    CHECK_INT(aborts, 101);
}

TEST(zombie_outlives_connection)
{
    start();
    app_mode = APP_HOLD;
    get(1);
    http_req *r = held[0];
    r->on_abort = NULL;
    conn_close(&C);
    CHECK(r->drv->body(r, "x", 1, 0) < 0);
    CHECK(r->drv->body(r, NULL, 0, 1) < 0);    /* freed here */
}

TEST(graceful_shutdown)
{
    start();
    app_mode = APP_HOLD;
    get(1);
    h2_conn_shutdown(&C);
    collect();
    CHECK_INT(goaway, H2_NO_ERROR);
    CHECK_INT(goaway_last, 1);
    CHECK(!closed);
    get(3);                                    /* after GOAWAY: refused */
    CHECK_INT(S[3].rst, H2_REFUSED_STREAM);
    held[0]->drv->start(held[0], 200, NULL, 0, 2);
    held[0]->drv->body(held[0], "ok", 2, 1);
    collect();
    CHECK_INT(S[1].data, 2);
    CHECK(closed);
}

TEST(client_goaway)
{
    start();
    app_mode = APP_HOLD;
    get(1);
    h2_build_goaway(&tx, 0, H2_NO_ERROR, "", 0);
    send_tx();
    CHECK(!closed);
    held[0]->drv->body(held[0], "x", 1, 1);
    CHECK(closed);
    start();
    h2_build_frame(&tx, H2_GOAWAY, 0, 0, "1234", 4);
    send_tx();
    CHECK_INT(goaway, H2_FRAME_SIZE_ERROR);
}

/* ---- entry points ---- */

TEST(takeover_prior_knowledge)
{
    reset_all();
    C.proto = NULL;
    buf_append(&tx, H2_PREFACE, H2_PREFACE_LEN);
    h2_build_settings(&tx, NULL, 0);
    headers(1, GET, 1);
    CHECK_INT(h2_conn_takeover(&C, buf_head(&tx), buf_size(&tx)), 0);
    buf_reset(&tx);
    CHECK(C.proto == &h2_proto);
    collect();
    CHECK_INT(settings_frames, 1);
    CHECK_INT(S[1].status, 200);
}

TEST(h2c_upgrade)
{
    reset_all();
    C.proto = NULL;
    http_hdr hs[] = {{"host", 4, "ex.test", 7}, {"connection", 10, "Upgrade, HTTP2-Settings", 23},
                     {"upgrade", 7, "h2c", 3}, {"http2-settings", 14, "AAMAAABkAAQAAP__", 16},
                     {"accept", 6, "*/*", 3}};
    http_req r = {.method = "GET", .method_len = 3, .target = "/up", .target_len = 3,
                  .host = "ex.test", .host_len = 7, .headers = hs, .nheaders = 5};
    CHECK(h2_conn_upgrade(&C, "AA+", 3, &r, NULL, 0) < 0);
    CHECK_INT(buf_size(&wire), 0);
    CHECK(h2_conn_upgrade(&C, "AAIAAAAC", 8, &r, NULL, 0) < 0);   /* ENABLE_PUSH=2 */
    CHECK_INT(buf_size(&wire), 0);
    buf_append(&tx, H2_PREFACE, H2_PREFACE_LEN);
    h2_build_settings(&tx, NULL, 0);
    CHECK_INT(h2_conn_upgrade(&C, "AAMAAABkAAQAAP__", 16, &r, buf_head(&tx), buf_size(&tx)), 0);
    buf_reset(&tx);
    CHECK(memcmp(buf_head(&wire), "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 71) == 0);
    collect();
    CHECK_INT(settings_frames, 1);
    CHECK_INT(settings_acks, 1);
    CHECK_INT(S[1].status, 200);
    CHECK_STR(last_target, "/up");
    CHECK_STR(last_host, "ex.test");
    CHECK_STR(buf_cstr(&last_headers), "accept: */*\n");
    get(3);
    CHECK_INT(S[3].status, 200);
}

TEST(trace_output)
{
    char path[] = "/tmp/atto-h2-trace-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    reset_all();
    CFG.trace_h2 = 1;
    h2_proto.open(&C);
    buf_append(&tx, H2_PREFACE, H2_PREFACE_LEN);
    h2_build_settings(&tx, NULL, 0);
    headers(1, GET, 1);
    h2_build_rst_stream(&tx, 1, H2_CANCEL);
    send_tx();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[8192] = "";
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    unlink(path);
    CHECK(n > 0);
    CHECK(strstr(text, "h2 [7] > SETTINGS stream=0 len=24 flags=-"));
    CHECK(strstr(text, "MAX_CONCURRENT_STREAMS=100"));
    CHECK(strstr(text, "h2 [7] < HEADERS stream=1"));
    CHECK(strstr(text, "END_STREAM|END_HEADERS"));
    CHECK(strstr(text, ":path: /p?q=1"));
    CHECK(strstr(text, "> HEADERS stream=1"));
    CHECK(strstr(text, ":status: 200"));
    CHECK(strstr(text, "< RST_STREAM stream=1 len=4 flags=- error=CANCEL"));
    CFG.trace_h2 = 0;
}

int main(void)
{
    RUN(preface_and_settings);
    RUN(preface_byte_by_byte);
    RUN(bad_preface);
    RUN(first_frame_must_be_settings);
    RUN(settings_ack_timeout);
    RUN(settings_errors);
    RUN(ping_answered_and_checked);
    RUN(frame_too_large);
    RUN(unknown_frames_ignored);
    RUN(push_promise_from_client);
    RUN(simple_get);
    RUN(head_request_no_body);
    RUN(post_body_and_window_updates);
    RUN(stream_window_update_sent);
    RUN(content_length_mismatch);
    RUN(response_headers_cleaned);
    RUN(async_response_later);
    RUN(cookie_and_host_fallback);
    RUN(malformed_requests);
    RUN(trailers);
    RUN(even_stream_id);
    RUN(decreasing_stream_id);
    RUN(idle_stream_frames);
    RUN(data_on_half_closed_remote);
    RUN(data_on_closed_stream);
    RUN(headers_after_client_reset);
    RUN(frames_after_our_reset_ignored);
    RUN(rst_and_window_update_errors);
    RUN(priority_errors);
    RUN(headers_self_dependency);
    RUN(padded_frames);
    RUN(continuation_assembled);
    RUN(continuation_interrupted);
    RUN(continuation_flood);
    RUN(bad_hpack_is_compression_error);
    RUN(hpack_bomb_431);
    RUN(too_many_headers_431);
    RUN(send_window_respected);
    RUN(connection_window_shared);
    RUN(initial_window_change_applies);
    RUN(max_frame_size_of_peer);
    RUN(receive_window_enforced);
    RUN(on_writable_called);
    RUN(data_small_windows_exact_bytes);
    RUN(data_in_place_frames);
    RUN(data_many_streams_queued);
    RUN(max_concurrent_streams);
    RUN(body_limit_413);
    RUN(rapid_reset);
    RUN(control_floods);
    RUN(zero_window_stall);
    RUN(peer_not_reading);
    RUN(idle_keepalive);
    RUN(client_reset_while_app_holds);
    RUN(zombie_outlives_connection);
    RUN(graceful_shutdown);
    RUN(client_goaway);
    RUN(takeover_prior_knowledge);
    RUN(h2c_upgrade);
    RUN(trace_output);
    reset_all();
    conn_close(&C);
    for (int i = 0; i < 128; i++)
        buf_free(&sbody[i]);
    buf_free(&wire); buf_free(&tx); buf_free(&hblock); buf_free(&last_headers); buf_free(&last_body);
    hpack_enc_free(&cenc); hpack_dec_free(&cdec);
    return test_done();
}
