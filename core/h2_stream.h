/*
 * h2_stream.h — private to the HTTP/2 engine (h2_conn.c, h2_recv.c,
 * h2_control.c, h2_send.c, h2_stream.c): the connection and stream structs
 * and the functions those files call in each other.
 *
 * Streams live on one list per connection. Closing a stream only marks it
 * CLOSED (and remembers how, in a small ring, for RFC 9113 §5.1's "closed"
 * rules); it is unlinked and freed when control leaves the engine
 * (h2_leave), so no callback ever sees a stream vanish under its feet. A
 * stream whose app still holds the request when it dies is given to
 * r->on_abort, or, when the app set none, kept as a "zombie" until the app
 * sends its last body piece.
 */
#ifndef ATTO_H2_STREAM_H
#define ATTO_H2_STREAM_H
#include "core/buf.h"
#include "core/conn.h"
#include "core/h2_frame.h"
#include "core/hpack.h"
#include "core/http.h"
#include <stdint.h>

enum h2_stream_state { H2S_OPEN, H2S_HALF_CLOSED_REMOTE, H2S_HALF_CLOSED_LOCAL, H2S_CLOSED };
enum h2_closed_how { H2_CLOSED_END = 1, H2_CLOSED_RST_SENT, H2_CLOSED_RST_RECV };
enum { H2P_METHOD, H2P_SCHEME, H2P_PATH, H2P_AUTHORITY, H2P_COUNT };

typedef struct h2_conn h2_conn;

/* buf_head() that is defined for a never-used (NULL) buffer. */
static inline const char *h2_bptr(const buf *b) { return b->data ? b->data + b->off : ""; }

typedef struct h2_field { uint32_t noff, nlen, voff, vlen; } h2_field;

typedef struct h2_stream {
    uint32_t          id;
    enum h2_stream_state state;
    h2_conn          *h;            /* NULL: a zombie the app still holds */
    struct h2_stream *next;
    http_req          req;
    /* the request as it arrives */
    buf               strings;      /* field names and values */
    h2_field         *fields;
    size_t            nfields, capfields;
    h2_field          pseudo[H2P_COUNT];
    int               have[H2P_COUNT];
    int               regular_seen, malformed, in_trailers;
    const char       *malformed_why;
    int64_t           content_length;   /* -1: none */
    uint64_t          body_seen;
    buf               body;
    http_hdr         *hdrs;
    size_t            caphdrs;
    int64_t           recv_window;
    uint32_t          recv_unacked;
    /* the response */
    int64_t           send_window;
    buf               out;          /* body bytes not yet framed, after out_planned */
    size_t            out_planned;  /* head bytes of out framed by reference, consumed by h2_flush */
    int               out_fin, headers_sent, end_sent, want_writable;
    uint64_t     log_bytes;        /* response body bytes, for the access log */
    int               app_held, zombie;
    uint64_t          stall_since;
} h2_stream;

typedef struct h2_bucket { double tokens; uint64_t at; } h2_bucket;

/* A DATA payload framed by reference (cleartext): it leaves, after the
 * first `at` bytes of wbuf not yet sent, by conn_writev from where it lies —
 * the app's buffer during its body() call, or the head of s->out (s set). */
typedef struct h2_seg { size_t at; const char *p; size_t len; h2_stream *s; } h2_seg;
#define H2_SEGS 32

#define H2_CLOSED_RING 128

struct h2_conn {
    conn             *c;
    int               depth, dead, closing, pumping, pump_again;
    int               preface_ok, got_settings;
    buf               in, wbuf;
    size_t            wtraced;          /* bytes of wbuf already traced */
    int               direct;           /* DATA payloads by reference (cleartext, no trace) */
    h2_seg            seg[H2_SEGS];
    unsigned          nseg;
    size_t            seg_bytes;        /* sum of seg[].len */
    buf               hblk;             /* scratch: a response header block */
    buf               hkey, hcache;     /* the last reusable block and its fields (h2_stream.c) */
    uint32_t          hcache_gen;       /* enc.table.gen when it was encoded */
    hpack_dec         dec;
    hpack_enc         enc;
    h2_settings       peer;
    int               settings_unacked;
    uint64_t          settings_sent_at;
    int64_t           send_window, recv_window;
    uint32_t          recv_unacked;
    uint32_t          last_stream_id;   /* highest stream opened (GOAWAY) */
    uint32_t          max_seen_id;      /* highest stream id seen in HEADERS */
    int               goaway_sent, draining, peer_goaway;
    uint64_t          drain_started;
    /* a header block being assembled (HEADERS + CONTINUATION) */
    int               hb_active;
    uint32_t          hb_stream;
    uint8_t           hb_flags;
    int               hb_mode;          /* H2_HB_* */
    uint32_t          hb_reset;         /* RST code to send once decoded, 0 none */
    buf               hb;
    h2_stream        *streams;
    size_t            nstreams;         /* not closed */
    struct { uint32_t id; uint8_t how; } closed[H2_CLOSED_RING];
    unsigned          closed_pos;
    h2_bucket         rst_budget, settings_budget, ping_budget, empty_budget, prio_budget;
    uint64_t          last_activity, last_drain;
    /* configuration, from c->w->cfg (defaults when absent) */
    uint32_t          max_streams, max_header_bytes, max_headers;
    uint64_t          max_body, keepalive_ms, idle_stream_ms, stall_ms;
    int               trace;
};

enum { H2_HB_NEW = 1, H2_HB_TRAILERS, H2_HB_DISCARD };

#define H2_LOCAL_WINDOW   262144u           /* SETTINGS_INITIAL_WINDOW_SIZE we announce */
#define H2_CONN_WINDOW    (1u << 20)        /* our connection receive window */
#define H2_HIGH_WATER     (128u * 1024)     /* stop framing DATA above this much queued */
#define H2_COPY_MAX       512u              /* DATA payloads up to this are copied into wbuf */
#define H2_DIRECT_WATER   (1024u * 1024)    /* the app's bytes framed in place up to this much queued */
#define H2_SETTINGS_TIMEOUT_MS 10000
#define H2_DRAIN_MS       10000

/* h2_conn.c */
uint64_t h2_now(void);
void h2_enter(h2_conn *h);
void h2_leave(h2_conn *h);
void h2_conn_error(h2_conn *h, uint32_t code, const char *why);
int  h2_conn_fail(h2_conn *h, uint32_t code, const char *why);   /* h2_conn_error, returns -1 */
void h2_stream_reset(h2_conn *h, h2_stream *s, uint32_t code);
void h2_stream_close(h2_conn *h, h2_stream *s, int how);
void h2_reset_id(h2_conn *h, uint32_t id, uint32_t code);      /* RST_STREAM for a stream we no longer hold */
void h2_remember_closed(h2_conn *h, uint32_t id, int how);
int  h2_closed_how(h2_conn *h, uint32_t id);                   /* H2_CLOSED_*, 0: not in the ring */
h2_stream *h2_find_stream(h2_conn *h, uint32_t id);            /* not closed, or NULL */
void h2_tracef(h2_conn *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void h2_trace_frame(h2_conn *h, char dir, const h2_frame *f);

/* h2_send.c */
void h2_write(h2_conn *h);                  /* frames in h->wbuf are complete (traced) */
void h2_flush(h2_conn *h);                  /* hand h->wbuf and h->seg to the conn (on leaving the engine) */
void h2_pump(h2_conn *h);
void h2_pump_stream(h2_conn *h, h2_stream *s);  /* s got body bytes: frame them */
/* The app's body bytes for s: framed straight from p while s has nothing
 * queued and the windows allow, the rest queued in s->out. */
void h2_send_body(h2_conn *h, h2_stream *s, const char *p, size_t n);
void h2_out_append(h2_conn *h, h2_stream *s, const char *p, size_t n);   /* queue in s->out */
static inline size_t h2_unsent(const h2_stream *s) { return buf_size(&s->out) - s->out_planned; }

/* h2_recv.c and h2_control.c: frame handlers, 0 or <0 (the connection is ending) */
int  h2_on_data(h2_conn *h, const h2_frame *f);
int  h2_on_headers(h2_conn *h, const h2_frame *f);
int  h2_on_continuation(h2_conn *h, const h2_frame *f);
int  h2_on_priority(h2_conn *h, const h2_frame *f);
int  h2_on_rst_stream(h2_conn *h, const h2_frame *f);
int  h2_on_settings(h2_conn *h, const h2_frame *f);
int  h2_on_push_promise(h2_conn *h, const h2_frame *f);
int  h2_on_ping(h2_conn *h, const h2_frame *f);
int  h2_on_goaway(h2_conn *h, const h2_frame *f);
int  h2_on_window_update(h2_conn *h, const h2_frame *f);

/* h2_control.c: flood meters (token buckets: burst, refill per second) */
#define H2_RST_BURST   200.0
#define H2_RST_RATE    50.0
#define H2_CTRL_BURST  50.0
#define H2_CTRL_RATE   10.0
#define H2_PRIO_BURST  500.0
#define H2_PRIO_RATE   100.0
void h2_buckets_init(h2_conn *h, uint64_t now);
/* Take a token; empty: GOAWAY(ENHANCE_YOUR_CALM, what) and -1. */
int  h2_calm(h2_conn *h, h2_bucket *b, double burst, double rate, const char *what);

/* h2_stream.c */
h2_stream *h2_stream_new(h2_conn *h, uint32_t id);
void h2_stream_free(h2_stream *s);
int  h2_stream_field(void *ud, const char *name, size_t nlen, const char *value, size_t vlen, int flags);
int  h2_stream_check_request(h2_stream *s);     /* after the first block: 0 or malformed */
void h2_stream_dispatch(h2_conn *h, h2_stream *s);
void h2_stream_respond_error(h2_conn *h, h2_stream *s, int status);
void h2_stream_add_field(h2_stream *s, const char *name, size_t nlen, const char *value, size_t vlen);
void h2_stream_maybe_done(h2_conn *h, h2_stream *s);
extern const http_driver h2_driver;
#endif
