/*
 * http1_conn.h — the HTTP/1.1 connection driver (a conn_proto).
 */
#ifndef ATTO_HTTP1_CONN_H
#define ATTO_HTTP1_CONN_H
#include <stdint.h>
#include "core/conn.h"
#include "core/http.h"

extern const conn_proto http1_proto;

/* Hooks into HTTP/2 for cleartext h2c (set by main when h2 is built in).
 * takeover: the connection began with the h2 preface; `data` holds every
 * byte received so far. upgrade: a request asked for Upgrade: h2c. */
typedef struct http1_h2_hooks {
    int (*takeover)(conn *c, const char *data, size_t len);
    int (*upgrade)(conn *c, const char *settings_b64, size_t settings_len,
                   void *h1_req /* http_req* with body */, const char *rest, size_t rest_len);
} http1_h2_hooks;
void http1_set_h2_hooks(const http1_h2_hooks *h);
/* End an HTTP/1.1 response with bytes [off, off+len) of the file fd as
 * the rest of its body (drv->start has been called with that length):
 * queued with conn_sendfile, which takes fd, or with conn_sendfile_shared
 * when done is given (done(arg) instead of close). Returns -1, fd untouched
 * and done not called, when r is not an HTTP/1.1 request whose body can go
 * that way (HTTP/2, HEAD, chunked, already answered): the caller sends the
 * body itself. */
int http1_send_file(http_req *r, int fd, uint64_t off, uint64_t len,
                    void (*done)(void *arg), void *arg);
/* A worker thread ends: free its pool of request heads. */
void http1_thread_done(void);
#endif
