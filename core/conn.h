/*
 * conn.h — one client connection: TCP on the worker's libuv loop, with an
 * optional TLS layer in between, carrying exactly one protocol at a time.
 *
 * A protocol (HTTP/1.1, HTTP/2, SMTP, IMAP, POP3, Gopher) is a conn_proto:
 * a table of callbacks that sees only plaintext. It never touches libuv or
 * OpenSSL; it calls conn_write() and friends. The same protocol code thus
 * runs over cleartext, implicit TLS, and STARTTLS-upgraded connections.
 *
 * Lifetime: the conn owns itself. conn_close() flushes queued output and then
 * closes; conn_abort() closes at once. In both cases proto->close() is called
 * exactly once, later, from the loop (never from inside the protocol's own
 * call), after which the protocol must not touch the conn. Between the two,
 * conn_write() and friends on a closed conn are harmless no-ops. Output is
 * copied into the conn's queue and flushed at the end of the current read
 * callback (so pipelined answers leave in one write), or at once when written
 * from elsewhere (a timer, a resumed coroutine).
 */
#ifndef ATTO_CONN_H
#define ATTO_CONN_H
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct conn conn;
typedef struct worker worker;
typedef struct listener listener;

typedef struct conn_proto {
    const char *name;
    /* A new connection (after the TLS handshake when the listener is TLS).
     * Set c->proto_data. Return <0 to close at once. */
    int  (*open)(conn *c);
    /* Plaintext bytes arrived. The protocol keeps what it cannot use yet. */
    void (*read)(conn *c, const char *data, size_t len);
    /* Everything queued so far has been handed to the kernel (optional). */
    void (*drained)(conn *c);
    /* The conn's timer fired (see conn_timer). Optional; default aborts. */
    void (*timeout)(conn *c);
    /* The peer closed its side (EOF) — optional; default closes. */
    void (*eof)(conn *c);
    /* Last call: free proto_data. The conn goes away right after. */
    void (*close)(conn *c);
    /* The server is stopping (SIGTERM) or reloading: finish what is in
     * flight, then close (HTTP/2: GOAWAY). Optional; default: close when
     * idle, i.e. at once if nothing is queued. */
    void (*drain)(conn *c);
} conn_proto;

struct conn {
    worker          *w;
    listener        *l;
    const conn_proto *proto;
    void            *proto_data;
    char             remote_addr[48];  /* "127.0.0.1" or "::1" */
    int              remote_port;
    int              local_port;
    uint64_t         id;               /* unique per worker */
    void            *impl;             /* conn.c's private state */
};

int   conn_write(conn *c, const void *data, size_t len);
int   conn_writev(conn *c, const struct iovec *iov, int n);
int   conn_puts(conn *c, const char *s);
int   conn_printf(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void  conn_close(conn *c);                 /* flush, then close */
void  conn_abort(conn *c);                 /* close now, drop queued output */
void  conn_timer(conn *c, uint64_t ms);    /* (re)arm the one timer; 0 disarms */
void  conn_pause(conn *c);                 /* stop reading (back-pressure) */
void  conn_resume(conn *c);
size_t conn_queued(const conn *c);         /* bytes not yet handed to the kernel */
void  conn_trim(conn *c);                  /* idle: give empty output buffers back to the pool */
void  conn_set_proto(conn *c, const conn_proto *p, void *proto_data); /* switch (h2c upgrade, ALPN); no open() call */
/* STARTTLS: the protocol has written its "go ahead" reply; after it is
 * flushed, a server handshake starts on this connection. Plaintext that was
 * already received beyond the command is discarded (RFC 3207 §4.2). When the
 * handshake completes proto->open() is NOT called again; instead
 * `on_ready(c)` is. Returns <0 when TLS is not configured. */
int   conn_starttls(conn *c, void (*on_ready)(conn *c));
int   conn_is_tls(const conn *c);
const char *conn_alpn(const conn *c);      /* "h2", "http/1.1" or NULL */
const char *conn_sni(const conn *c);       /* server name the client asked for, or NULL */
/* After conn_starttls() the protocol must drop any plaintext it still holds
 * unparsed (RFC 3207 §4.2: no pipelining across STARTTLS). */
void *conn_loop(conn *c);                  /* the uv_loop_t* (for protocol timers) */
/* Queue bytes [off, off+len) of the file fd behind everything written so
 * far; later writes go out after them. The conn takes fd: it is closed once
 * sent, or when the connection closes or aborts, also when this returns -1
 * (closed conn). Cleartext: sendfile(2), no copy through user space; TLS:
 * read and encrypted up to 128 KiB at a time as the socket drains. A file that
 * turns out shorter than len aborts the connection. The bytes count in
 * conn_queued() until sent. */
int   conn_sendfile(conn *c, int fd, uint64_t off, uint64_t len);
/* The same with a descriptor the caller shares (a cache of open files):
 * instead of closing fd, the conn calls done(arg) once when it no longer
 * needs it (sent, closed, aborted, or at once when this returns -1). */
int   conn_sendfile_shared(conn *c, int fd, uint64_t off, uint64_t len,
                           void (*done)(void *arg), void *arg);
#endif
