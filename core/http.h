/*
 * http.h — the protocol-neutral request and response.
 *
 * HTTP/1.1 (http1_conn.c) and HTTP/2 (h2_conn.c) both turn the wire into an
 * http_req and hand it to the worker's application (the Lua layer, or static
 * files), which answers through the driver table in r->drv. The application
 * never knows which protocol carries it; the drivers never know Lua exists.
 *
 * Lifetime: the driver owns the http_req. It stays valid until the app has
 * sent the last body piece (fin = 1), or until the driver calls r->on_abort
 * (client gone, stream reset); after on_abort returns, r is gone. Header
 * names are lower-case. The request body is complete when the app is called.
 */
#ifndef ATTO_HTTP_H
#define ATTO_HTTP_H
#include <stddef.h>
#include <stdint.h>

typedef struct conn conn;
typedef struct http_req http_req;

typedef struct http_hdr {
    const char *name;
    size_t      name_len;
    const char *value;
    size_t      value_len;
} http_hdr;

typedef struct http_driver {
    /* Status line and headers. content_length >= 0: exactly that many body
     * bytes follow; -1: unknown (chunked on HTTP/1.1, DATA frames on h2).
     * The driver adds Date, Server, and the framing headers itself. */
    void   (*start)(http_req *r, int status, const http_hdr *h, size_t n, int64_t content_length);
    /* Body bytes (dropped for HEAD); fin = 1 on the last call. Returns <0
     * when the client has gone (on_abort has been or will be called). */
    int    (*body)(http_req *r, const void *p, size_t n, int fin);
    /* Bytes of this response queued but not yet sent (back-pressure). */
    size_t (*pending)(http_req *r);
    /* Optional (NULL where the wire form differs, as on HTTP/2): start()
     * with the headers already formatted as HTTP/1.1 lines, "Name: value\r\n"
     * each, in the case they go out in. Lets a caller that answers the
     * same headers again and again (a cached static file) format them once. */
    void   (*start_lines)(http_req *r, int status, const char *lines, size_t len,
                          int64_t content_length);
} http_driver;

struct http_req {
    const char *method;    size_t method_len;
    const char *target;    size_t target_len;   /* as received: "/a%20b?x=1" */
    const char *host;      size_t host_len;     /* Host or :authority, may be empty */
    const char *scheme;                          /* "http" or "https" */
    const char *protocol;                        /* "HTTP/1.0", "HTTP/1.1", "HTTP/2" */
    http_hdr   *headers;   size_t nheaders;
    const char *body;      size_t body_len;
    conn       *c;
    uint64_t    id;                              /* unique per server run */
    int         head;                            /* HEAD: body bytes are not sent */

    const http_driver *drv;
    void       *drv_data;

    void       *app_data;
    void      (*on_abort)(http_req *r);          /* set by the app; may be NULL */
    void      (*on_writable)(http_req *r);       /* pending() fell to 0; may be NULL */

    int         status;                          /* set once start() ran */
    int         started;
    int         finished;
};

/* The application a worker runs: called once per complete request. */
typedef void (*http_handler)(void *app, http_req *r);

/* Helpers shared by both drivers and the app. */
const char *http_reason(int status);                       /* "Not Found" */
const char *http_date_now(void);                           /* cached IMF-fixdate, per thread */
const http_hdr *http_find(const http_req *r, const char *name); /* lower-case name */
/* Answer a request with a small complete response (errors, redirects). */
void http_respond_simple(http_req *r, int status, const char *ctype, const char *body, size_t len);
#endif
