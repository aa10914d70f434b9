/*
 * static_parse.h — the pure header grammar behind static files: Range
 * (RFC 9110 §14.1.2), HTTP-dates in their three historic formats (§5.6.7),
 * and entity-tag lists (§8.8.3, §13.1.1-2). No I/O, no allocation: every
 * function reads a (pointer, length) field value and writes into the
 * caller's storage, so a hostile header can cost at most one pass over its
 * bytes and a fixed amount of stack.
 */
#ifndef ATTO_STATIC_PARSE_H
#define ATTO_STATIC_PARSE_H
#include <stddef.h>
#include <stdint.h>

#define STATIC_MAX_RANGES 16     /* after coalescing; more -> the header is ignored */
#define STATIC_MAX_SPECS  64     /* range-specs read before giving up on a header */

typedef struct static_range {
    uint64_t first, last;        /* inclusive byte positions, first <= last < size */
} static_range;

/* Parse a Range value against a representation of `size` bytes.
 * Returns n > 0: that many satisfiable ranges in `out` (at most
 *   STATIC_MAX_RANGES), in the order asked, overlapping or adjacent ones
 *   merged;
 *  0: ignore the header and send the whole file (not "bytes=", bad syntax,
 *   last < first, too many ranges) — *why says which;
 * -1: syntactically fine but nothing satisfiable (answer 416). */
int static_parse_range(const char *v, size_t n, uint64_t size, static_range *out, const char **why);

/* Parse an HTTP-date: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"),
 * RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime ("Sun Nov  6
 * 08:49:37 1994"). Two-digit years more than 50 years ahead are taken as
 * the past century. Returns 0 and seconds since the epoch, or -1. */
int static_parse_date(const char *s, size_t n, int64_t *t);

/* Format `t` as an IMF-fixdate into out (30 bytes incl. NUL). */
void static_format_date(int64_t t, char out[30]);

/* Does the list (If-Match / If-None-Match / If-Range value) name `etag`
 * (our tag with its quotes, e.g. "\"1f-5e\"")? `*` matches anything.
 * strong = 1: weak tags (W/"…") never match (If-Match, If-Range);
 * strong = 0: weak comparison, W/ ignored on both sides (If-None-Match).
 * Malformed members are skipped. Returns 1 or 0. */
int static_etag_match(const char *list, size_t n, const char *etag, size_t etag_len, int strong);
#endif
