/*
 * mime.h — the MIME structure of a message (RFC 2045/2046/2047, RFC 5322
 * headers) as IMAP needs it: a part tree for BODY[section], the
 * BODYSTRUCTURE and ENVELOPE strings of RFC 3501 §7.4.2, unfolded header
 * lookup, transfer decoding and encoded-word decoding for SEARCH.
 *
 * Pure: works on one message held in memory with CRLF line ends (as
 * mailbox_read delivers it); offsets in the tree point into that message.
 * Nesting is bounded (MIME_MAX_DEPTH) and so is the number of parts
 * (MIME_MAX_PARTS); deeper or further parts are treated as opaque bodies.
 */
#ifndef ATTO_MIME_H
#define ATTO_MIME_H
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

#define MIME_MAX_DEPTH 20
#define MIME_MAX_PARTS 1000

typedef struct mime_param { char *name, *value; } mime_param;

typedef struct mime_part {
    size_t hdr_off, hdr_len;      /* header block, with the blank line that ends it */
    size_t body_off, body_len;
    char  *type, *subtype;        /* lower case; "text"/"plain" by default */
    mime_param *params;  size_t nparams;
    char  *id, *desc, *enc, *md5, *disp, *lang, *loc;   /* NULL when absent */
    mime_param *dparams; size_t ndparams;
    size_t lines;                 /* body lines (text/ and message/rfc822) */
    struct mime_part *child, *next;   /* multipart children */
    size_t nchild;
    struct mime_part *msg;        /* message/rfc822: the message inside */
} mime_part;

mime_part *mime_parse(const char *msg, size_t len);
void       mime_free(mime_part *p);
int        mime_is(const mime_part *p, const char *type, const char *subtype); /* subtype NULL: any */
/* Section numbers (RFC 3501 §6.4.5) to a part; NULL if there is none. For a
 * message/rfc822 part further numbers descend into the message inside. */
mime_part *mime_section(mime_part *root, const uint32_t *nums, size_t n);

void mime_bodystructure(buf *out, const char *msg, const mime_part *p, int extended);
void mime_envelope(buf *out, const char *hdr, size_t hdrlen);

/* Header fields. mime_header_next walks fields: from *pos, returns 1 with
 * the field's [start, end) (end past its CRLF, folding included) and name
 * length, 0 at the end of the block. */
int  mime_header_next(const char *h, size_t hlen, size_t *pos, size_t *start, size_t *end, size_t *namelen);
/* The unfolded value of the first field called name; 1 found, 0 not. */
int  mime_header_get(const char *h, size_t hlen, const char *name, buf *out);

/* Decoding for SEARCH: RFC 2047 words to UTF-8 (US-ASCII, UTF-8, ISO-8859-1
 * and Windows-1252 are converted, other charsets pass their bytes), and
 * base64 / quoted-printable bodies. Output is appended. */
void mime_decode_words(const char *s, size_t n, buf *out);
void mime_decode_body(const char *s, size_t n, const char *enc, buf *out);

/* IMAP string output: quoted when it can be, else a literal; nstring: NIL for NULL. */
void mime_put_string(buf *out, const char *s, size_t n);
void mime_put_nstring(buf *out, const char *s);
/* A date from an RFC 5322 Date: value to y/m/d (1 ok, 0 unparsable). */
int  mime_parse_date(const char *s, size_t n, int *year, int *mon, int *day, long *tz_seconds, int *hh, int *mm, int *ss);
#endif
