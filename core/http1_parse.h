/*
 * http1_parse.h — the HTTP/1.1 request parser (RFC 9112). Pure: no I/O.
 *
 * h1_parse_head() looks at the bytes received so far and either finds a
 * complete, valid request head (returns its length), asks for more (0), or
 * rejects it (a negative HTTP status). It can be called again from the start
 * as bytes arrive — fed one byte at a time it gives the same answer as fed
 * all at once. Pointers in h1_head point into `data` (zero-copy); header
 * names are lower-cased in place.
 *
 * h1_chunked_decode() is a resumable decoder for chunked request bodies.
 *
 * Rejections (-400 unless noted), each with a reason in *err:
 *   bad method token, bad target, bad version (-505 for HTTP/2+ or 0.9),
 *   bare CR or bare LF in the request line, control characters, obs-fold,
 *   whitespace between name and colon, empty/invalid header name, invalid
 *   bytes in a value, Content-Length with Transfer-Encoding, differing
 *   duplicate Content-Length, bad Content-Length, Transfer-Encoding other than
 *   a final "chunked" (-501 for unknown codings), missing Host on HTTP/1.1,
 *   more than one Host; head too large or too many headers (-431), target
 *   too long (-414).
 */
#ifndef ATTO_HTTP1_PARSE_H
#define ATTO_HTTP1_PARSE_H
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/http.h"

#define H1_MAX_HEADERS 128

typedef struct h1_limits {
    size_t max_head;      /* request line + headers, bytes (16384) */
    size_t max_headers;   /* count (100) */
    size_t max_uri;       /* request-target bytes (8192) */
} h1_limits;

typedef struct h1_head {
    const char *method;  size_t method_len;
    const char *target;  size_t target_len;
    int         minor;             /* HTTP/1.<minor>: 0 or 1 */
    http_hdr    headers[H1_MAX_HEADERS];
    size_t      nheaders;
    /* derived from the headers */
    int64_t     content_length;    /* -1: none */
    int         chunked;           /* Transfer-Encoding: chunked */
    int         keep_alive;        /* by version and Connection */
    int         expect_continue;   /* Expect: 100-continue */
    int         upgrade_h2c;       /* Upgrade: h2c with Connection: Upgrade, HTTP2-Settings */
    const char *host;    size_t host_len;     /* Host value (or authority of an absolute-form target) */
    const char *h2_settings; size_t h2_settings_len; /* HTTP2-Settings value */
} h1_head;

/* > 0: head complete, that many bytes (through the empty line);
 * 0: need more bytes; < 0: -status with *err set. */
int h1_parse_head(char *data, size_t len, const h1_limits *lim, h1_head *out, const char **err);

typedef struct h1_chunked {
    int      state;
    uint64_t remaining;   /* bytes left in the current chunk */
    size_t   line_len;    /* guards size lines and trailers */
    size_t   trailer_bytes;
} h1_chunked;

/* Decode chunked data: payload appended to `out`. Returns bytes of `in`
 * consumed (>= 0); *done = 1 once the last chunk and trailers are read (the
 * rest of `in` belongs to the next request). Negative: -400 (bad chunk size,
 * bad CRLF, oversized size line/trailers) or -413 (body over max_body). */
long h1_chunked_decode(h1_chunked *c, const char *in, size_t len, buf *out,
                       size_t max_body, int *done, const char **err);
#endif
