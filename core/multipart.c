/*
 * multipart.c — multipart/form-data, zero-copy, one pass over the body.
 *
 * Shape of a body (RFC 2046 §5.1.1), D = "--" BOUNDARY:
 *   [preamble CRLF] D [LWSP] CRLF headers CRLF CRLF data
 *   CRLF D [LWSP] CRLF headers CRLF CRLF data ... CRLF D "--" [epilogue]
 * The parser keeps one cursor. After each delimiter it either sees "--" (the
 * end) or a part: headers up to the blank line (bounded by
 * MP_MAX_PART_HEADER), then data up to the next CRLF D found with memmem.
 * Only Content-Disposition (name, filename) and Content-Type are read; other
 * part headers are checked for shape and skipped.
 */
#include "core/multipart.h"
#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Read one `key=value` parameter at *pp (after a ';'). Returns 0, or -1. */
static int read_param(const char **pp, const char *end, mp_str *key, mp_str *val)
{
    const char *p = skip_ws(*pp, end);
    key->p = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    key->n = (size_t)(p - key->p);
    p = skip_ws(p, end);
    if (key->n == 0 || p >= end || *p != '=')
        return -1;
    p = skip_ws(p + 1, end);
    val->quoted = 0;
    if (p < end && *p == '"') {
        val->p = ++p;
        while (p < end && *p != '"') {
            if (*p == '\\' && p + 1 < end)
                p++;
            p++;
        }
        if (p >= end)
            return -1;
        val->n = (size_t)(p - val->p);
        val->quoted = 1;
        p++;
    } else {
        val->p = p;
        while (p < end && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        val->n = (size_t)(p - val->p);
    }
    *pp = skip_ws(p, end);
    return 0;
}

size_t mp_unquote(const mp_str *s, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->quoted && s->p[i] == '\\' && i + 1 < s->n)
            i++;
        out[j++] = s->p[i];
    }
    return j;
}

int mp_boundary(const char *ctype, size_t n, const char **b, size_t *blen, const char **err)
{
    const char *p = memchr(ctype, ';', n), *end = ctype + n;
    while (p && p < end) {
        p++;
        mp_str k, v;
        if (read_param(&p, end, &k, &v) < 0)
            break;
        if (k.n == 8 && strncasecmp(k.p, "boundary", 8) == 0) {
            if (v.n == 0 || v.n > MP_MAX_BOUNDARY || memchr(v.p, '\\', v.n)) {
                *err = "the multipart boundary must be 1-200 characters";
                return MP_EBOUNDARY;
            }
            *b = v.p;
            *blen = v.n;
            return 0;
        }
        p = memchr(p, ';', (size_t)(end - p));
    }
    *err = "multipart/form-data without a boundary parameter";
    return MP_EBOUNDARY;
}

/* Content-Disposition: form-data; name="x"; filename="y" */
static int parse_disposition(const char *p, const char *end, mp_part *part, const char **err)
{
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *tend = semi ? semi : end;
    while (tend > p && (tend[-1] == ' ' || tend[-1] == '\t'))
        tend--;
    if (tend - p != 9 || strncasecmp(p, "form-data", 9) != 0) {
        *err = "a part's Content-Disposition is not form-data";
        return MP_EFORMAT;
    }
    p = semi;
    while (p && p < end) {
        p++;
        mp_str k, v;
        if (read_param(&p, end, &k, &v) < 0) {
            *err = "a bad parameter in a part's Content-Disposition";
            return MP_EFORMAT;
        }
        if (k.n == 4 && strncasecmp(k.p, "name", 4) == 0)
            part->name = v;
        else if (k.n == 8 && strncasecmp(k.p, "filename", 8) == 0)
            part->filename = v;
        if (p < end && *p != ';') {
            *err = "a bad parameter in a part's Content-Disposition";
            return MP_EFORMAT;
        }
    }
    return 0;
}

/* Part headers in [p, end): CRLF-separated "Name: value" lines. */
static int parse_headers(const char *p, const char *end, mp_part *part, const char **err)
{
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol)
            eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        const char *q = p;
        while (q < eol && is_tchar((unsigned char)*q))
            q++;
        if (!colon || q != colon || colon == p) {
            *err = "a malformed part header line";
            return MP_EFORMAT;
        }
        const char *v = skip_ws(colon + 1, eol), *vend = eol;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        size_t nlen = (size_t)(colon - p);
        if (nlen == 19 && strncasecmp(p, "content-disposition", 19) == 0) {
            int rc = parse_disposition(v, vend, part, err);
            if (rc < 0)
                return rc;
        } else if (nlen == 12 && strncasecmp(p, "content-type", 12) == 0) {
            part->ctype.p = v;
            part->ctype.n = (size_t)(vend - v);
        }
        p = eol + 2;
    }
    if (!part->name.p) {
        *err = "a part has no Content-Disposition name";
        return MP_EFORMAT;
    }
    return 0;
}

/* After a delimiter at p: "--" (end, returns 1), or LWSP CRLF (returns 0 and
 * moves *pp past the CRLF), or junk (MP_EFORMAT). */
static int after_delimiter(const char **pp, const char *end, const char **err)
{
    const char *p = *pp;
    if (end - p >= 2 && p[0] == '-' && p[1] == '-')
        return 1;
    p = skip_ws(p, end);
    if (end - p < 2) {
        *err = "the body ends after a boundary (truncated; no final boundary)";
        return MP_EFORMAT;
    }
    if (p[0] != '\r' || p[1] != '\n') {
        *err = "unexpected bytes after a boundary line";
        return MP_EFORMAT;
    }
    *pp = p + 2;
    return 0;
}

int mp_parse(const char *body, size_t n, const char *boundary, size_t blen,
             size_t max_parts, mp_part_fn fn, void *ud, const char **err)
{
    char delim[MP_MAX_BOUNDARY + 4];
    if (blen == 0 || blen > MP_MAX_BOUNDARY) {
        *err = "the multipart boundary must be 1-200 characters";
        return MP_EBOUNDARY;
    }
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;
    const char *end = body + n, *p;
    /* the first delimiter: at the very start, or after a preamble line */
    if (n >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = body + dlen - 2;
    } else {
        p = memmem(body, n, delim, dlen);
        if (!p) {
            *err = "the body does not contain the multipart boundary";
            return MP_EFORMAT;
        }
        p += dlen;
    }
    int count = 0;
    for (;;) {
        int rc = after_delimiter(&p, end, err);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return count;
        if ((size_t)count >= max_parts) {
            *err = "too many parts in the multipart body";
            return MP_ELIMIT;
        }
        mp_part part;
        memset(&part, 0, sizeof part);
        const char *hend;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            hend = p;    /* no headers at all */
        } else {
            size_t room = (size_t)(end - p);
            size_t lim = room < MP_MAX_PART_HEADER + 4 ? room : MP_MAX_PART_HEADER + 4;
            hend = memmem(p, lim, "\r\n\r\n", 4);
            if (!hend) {
                *err = lim < room ? "a part's headers are larger than 16384 bytes"
                                  : "a part is truncated inside its headers";
                return lim < room ? MP_ELIMIT : MP_EFORMAT;
            }
            hend += 2;
        }
        rc = parse_headers(p, hend, &part, err);
        if (rc < 0)
            return rc;
        part.data = hend + 2;
        const char *next = memmem(part.data, (size_t)(end - part.data), delim, dlen);
        if (!next) {
            *err = "a part is truncated (no boundary after its data)";
            return MP_EFORMAT;
        }
        part.len = (size_t)(next - part.data);
        if (fn && fn(ud, &part) != 0) {
            *err = "stopped by the part callback";
            return MP_ECALLBACK;
        }
        count++;
        p = next + dlen;
    }
}
