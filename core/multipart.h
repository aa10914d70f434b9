/*
 * multipart.h — a pure multipart/form-data parser (RFC 7578 over RFC 2046).
 *
 * The whole body is in memory (the HTTP layer already bounds it), so the
 * parser is zero-copy: each part is reported with pointers into the body.
 * Delimiters are found with memmem on "\r\n--BOUNDARY", so a body is scanned
 * once. Part data is exact: the CRLF before the next delimiter is not part
 * of it. Nothing here knows about Lua, sockets or TLS.
 *
 * Errors (negative returns, reason through *err):
 *   MP_EBOUNDARY  no usable boundary parameter in the Content-Type
 *   MP_EFORMAT    a malformed body: no first delimiter, truncated part, no
 *                 final delimiter, bad part headers, a part without a name
 *   MP_ELIMIT     more than max_parts parts, or part headers too large
 *   MP_ECALLBACK  the callback returned non-zero
 */
#ifndef ATTO_MULTIPART_H
#define ATTO_MULTIPART_H
#include <stddef.h>

enum { MP_EBOUNDARY = -1, MP_EFORMAT = -2, MP_ELIMIT = -3, MP_ECALLBACK = -4 };

#define MP_MAX_BOUNDARY 200        /* RFC 2046 says 70; be a little generous */
#define MP_MAX_PART_HEADER 16384   /* bytes of headers in one part */

typedef struct mp_str {
    const char *p;
    size_t      n;
    int         quoted;    /* was a quoted-string: may hold \-escapes (see mp_unquote) */
} mp_str;

typedef struct mp_part {
    mp_str      name;       /* Content-Disposition name= (always present) */
    mp_str      filename;   /* filename=; p == NULL when absent */
    mp_str      ctype;      /* Content-Type value; p == NULL when absent */
    const char *data;
    size_t      len;
} mp_part;

/* Called once per part, in order; return non-zero to stop (MP_ECALLBACK). */
typedef int (*mp_part_fn)(void *ud, const mp_part *part);

/* Find the boundary in a Content-Type value ("multipart/form-data;
 * boundary=xyz", quoted or not). Returns 0 with *b and *blen set, or MP_EBOUNDARY. */
int mp_boundary(const char *ctype, size_t n, const char **b, size_t *blen, const char **err);

/* Parse body with the given boundary; call fn for each part. Returns the
 * number of parts (>= 0) or a negative MP_E* code with *err set. */
int mp_parse(const char *body, size_t n, const char *boundary, size_t blen,
             size_t max_parts, mp_part_fn fn, void *ud, const char **err);

/* Copy a parameter value into out (at least s->n bytes), removing the
 * backslash escapes of a quoted-string. Returns the length written. */
size_t mp_unquote(const mp_str *s, char *out);
#endif
