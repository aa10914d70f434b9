/*
 * mime.c — MIME part tree, BODYSTRUCTURE, ENVELOPE and decoders; see mime.h.
 *
 * Parsing is a walk over offsets: a part is a header block (up to the first
 * empty line) and a body. A multipart body is cut at its delimiter lines
 * (`--boundary`, `--boundary--` closes; the CRLF before a delimiter belongs
 * to the delimiter, RFC 2046 §5.1.1); a message/rfc822 body is parsed again
 * as a message. Header values are unfolded into small malloc'd strings; the
 * bodies are never copied. Output follows RFC 3501 §7.4.2 field by field.
 */
#include "mail/mime.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fputs("atto: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static char *lower(char *s)
{
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

/* ---- header fields ---------------------------------------------------- */

int mime_header_next(const char *h, size_t hlen, size_t *pos, size_t *start, size_t *end, size_t *namelen)
{
    size_t p = *pos;
    while (p < hlen) {
        if (h[p] == '\r' || h[p] == '\n')
            return 0;                               /* the blank line */
        size_t s = p;
        do {                                        /* a field and its continuation lines */
            const char *lf = memchr(h + p, '\n', hlen - p);
            p = lf ? (size_t)(lf - h) + 1 : hlen;
        } while (p < hlen && (h[p] == ' ' || h[p] == '\t'));
        const char *colon = memchr(h + s, ':', p - s);
        if (!colon)
            continue;                               /* not a field: skip */
        *start = s;
        *end = p;
        *namelen = (size_t)(colon - (h + s));
        while (*namelen && (h[s + *namelen - 1] == ' ' || h[s + *namelen - 1] == '\t'))
            (*namelen)--;
        *pos = p;
        return 1;
    }
    return 0;
}

/* Unfold [s, e): drop CR/LF, keep the whitespace, trim both ends. */
static void unfold(const char *s, size_t n, buf *out)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t mark = out->len;
    for (; i < n; i++)
        if (s[i] != '\r' && s[i] != '\n')
            buf_append(out, s + i, 1);
    while (out->len > mark && (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t'))
        out->len--;
}

int mime_header_get(const char *h, size_t hlen, const char *name, buf *out)
{
    size_t pos = 0, s, e, nl, want = strlen(name);
    while (mime_header_next(h, hlen, &pos, &s, &e, &nl)) {
        if (nl == want && strncasecmp(h + s, name, nl) == 0) {
            const char *v = memchr(h + s, ':', e - s) + 1;
            unfold(v, (size_t)(h + e - v), out);
            return 1;
        }
    }
    return 0;
}

static char *header_dup(const char *h, size_t hlen, const char *name)
{
    buf b = BUF_INIT;
    if (!mime_header_get(h, hlen, name, &b)) {
        buf_free(&b);
        return NULL;
    }
    char *s = xstrndup(buf_head(&b), buf_size(&b));
    buf_free(&b);
    return s;
}

/* ---- Content-Type style values: token/token; a=b; c="d" -------------- */

static const char *skip_cfws(const char *p, const char *e)
{
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= e || *p != '(')
            return p;
        int depth = 0;
        for (; p < e; p++) {
            if (*p == '\\' && p + 1 < e) { p++; continue; }
            if (*p == '(') depth++;
            else if (*p == ')' && --depth == 0) { p++; break; }
        }
    }
}

static char *read_token(const char **pp, const char *e, const char *stops)
{
    const char *p = skip_cfws(*pp, e), *s = p;
    if (p < e && *p == '"') {
        buf b = BUF_INIT;
        for (p++; p < e && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < e)
                p++;
            buf_append(&b, p, 1);
        }
        if (p < e)
            p++;
        *pp = p;
        char *r = xstrndup(b.data ? buf_head(&b) : "", buf_size(&b));
        buf_free(&b);
        return r;
    }
    while (p < e && !strchr(stops, *p) && *p != ' ' && *p != '\t' && *p != '(')
        p++;
    *pp = p;
    return p > s ? xstrndup(s, (size_t)(p - s)) : NULL;
}

static void parse_params(const char *p, const char *e, mime_param **out, size_t *n)
{
    while (p < e) {
        p = skip_cfws(p, e);
        if (p >= e || *p != ';')
            break;
        p++;
        char *name = read_token(&p, e, ";=");
        p = skip_cfws(p, e);
        if (!name)
            continue;
        if (p >= e || *p != '=') {
            free(name);
            continue;
        }
        p++;
        char *val = read_token(&p, e, ";");
        if (!val)
            val = xstrndup("", 0);
        if (*n < 64) {
            *out = realloc(*out, (*n + 1) * sizeof **out);
            if (!*out)
                abort();
            (*out)[(*n)++] = (mime_param){ lower(name), val };
        } else {
            free(name);
            free(val);
        }
    }
}

static void parse_content_type(mime_part *p, const char *v, int digest)
{
    const char *s = v ? v : "", *e = s + strlen(s);
    char *type = read_token(&s, e, "/;");
    char *sub = NULL;
    s = skip_cfws(s, e);
    if (type && s < e && *s == '/') {
        s++;
        sub = read_token(&s, e, ";");
    }
    if (!type || !sub) {
        free(type);
        free(sub);
        p->type = xstrndup(digest ? "message" : "text", digest ? 7 : 4);
        p->subtype = xstrndup(digest ? "rfc822" : "plain", digest ? 6 : 5);
        if (!digest) {
            p->params = xmalloc(sizeof *p->params);
            p->params[0] = (mime_param){ xstrndup("charset", 7), xstrndup("us-ascii", 8) };
            p->nparams = 1;
        }
        return;
    }
    p->type = lower(type);
    p->subtype = lower(sub);
    parse_params(s, e, &p->params, &p->nparams);
}

static const char *param(const mime_param *ps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ps[i].name, name) == 0)
            return ps[i].value;
    return NULL;
}

/* ---- the part tree ---------------------------------------------------- */

int mime_is(const mime_part *p, const char *type, const char *subtype)
{
    return strcmp(p->type, type) == 0 && (!subtype || strcmp(p->subtype, subtype) == 0);
}

static size_t count_lines(const char *s, size_t n)
{
    size_t lines = 0;
    const char *p = s, *e = s + n;
    while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        lines++;
        p++;
    }
    if (n && s[n - 1] != '\n')
        lines++;
    return lines;
}

/* Find the next delimiter line of `b` at a line start in [from, end). */
static int find_delim(const char *m, size_t from, size_t end, const char *b, size_t blen,
                      size_t *ds, size_t *de, int *close)
{
    size_t p = from;
    while (p < end) {
        if (end - p >= blen + 2 && m[p] == '-' && m[p + 1] == '-' && memcmp(m + p + 2, b, blen) == 0) {
            size_t q = p + 2 + blen;
            *close = end - q >= 2 && m[q] == '-' && m[q + 1] == '-';
            const char *lf = memchr(m + q, '\n', end - q);
            *ds = p;
            *de = lf ? (size_t)(lf - m) + 1 : end;
            return 1;
        }
        const char *lf = memchr(m + p, '\n', end - p);
        if (!lf)
            break;
        p = (size_t)(lf - m) + 1;
    }
    return 0;
}

static mime_part *parse_part(const char *m, size_t off, size_t end, int depth, int digest, int *budget);

static void split_multipart(mime_part *p, const char *m, int depth, int *budget)
{
    const char *b = param(p->params, p->nparams, "boundary");
    size_t blen = b ? strlen(b) : 0, ds, de, end = p->body_off + p->body_len;
    int close = 0, digest = strcmp(p->subtype, "digest") == 0;
    if (!blen || !find_delim(m, p->body_off, end, b, blen, &ds, &de, &close))
        return;
    mime_part **tail = &p->child;
    while (!close && *budget > 0) {
        size_t start = de, ns, ne;
        int more = find_delim(m, start, end, b, blen, &ns, &ne, &close);
        size_t stop = more ? ns : end;
        if (more && stop >= start + 2 && m[stop - 2] == '\r')
            stop -= 2;
        else if (more && stop >= start + 1 && m[stop - 1] == '\n')
            stop -= 1;
        *tail = parse_part(m, start, stop, depth + 1, digest, budget);
        tail = &(*tail)->next;
        p->nchild++;
        if (!more)
            break;
        de = ne;
    }
}

static mime_part *parse_part(const char *m, size_t off, size_t end, int depth, int digest, int *budget)
{
    mime_part *p = xmalloc(sizeof *p);
    (*budget)--;
    p->hdr_off = off;
    size_t hend = end;
    if (end > off && (m[off] == '\n' || (m[off] == '\r' && end > off + 1 && m[off + 1] == '\n'))) {
        hend = off + (m[off] == '\r' ? 2 : 1);      /* no header at all */
    } else {
        for (size_t i = off; i + 1 < end; i++) {
            if (m[i] == '\n' && (m[i + 1] == '\n' || (m[i + 1] == '\r' && i + 2 < end && m[i + 2] == '\n'))) {
                hend = i + (m[i + 1] == '\n' ? 2 : 3);
                break;
            }
        }
    }
    p->hdr_len = hend - off;
    p->body_off = hend;
    p->body_len = end - hend;
    const char *h = m + off;
    char *ct = header_dup(h, p->hdr_len, "content-type");
    parse_content_type(p, ct, digest);
    free(ct);
    p->id = header_dup(h, p->hdr_len, "content-id");
    p->desc = header_dup(h, p->hdr_len, "content-description");
    p->enc = header_dup(h, p->hdr_len, "content-transfer-encoding");
    p->md5 = header_dup(h, p->hdr_len, "content-md5");
    p->lang = header_dup(h, p->hdr_len, "content-language");
    p->loc = header_dup(h, p->hdr_len, "content-location");
    char *cd = header_dup(h, p->hdr_len, "content-disposition");
    if (cd) {
        const char *s = cd, *e = cd + strlen(cd);
        p->disp = read_token(&s, e, ";");
        parse_params(s, e, &p->dparams, &p->ndparams);
        free(cd);
    }
    if (mime_is(p, "text", NULL) || mime_is(p, "message", "rfc822"))
        p->lines = count_lines(m + p->body_off, p->body_len);
    if (depth < MIME_MAX_DEPTH && *budget > 0) {
        if (mime_is(p, "multipart", NULL))
            split_multipart(p, m, depth, budget);
        else if (mime_is(p, "message", "rfc822"))
            p->msg = parse_part(m, p->body_off, end, depth + 1, 0, budget);
    }
    if (mime_is(p, "multipart", NULL) && !p->child) {
        /* A multipart without parts is shown as one empty text part. */
        p->child = xmalloc(sizeof *p->child);
        *p->child = (mime_part){ .hdr_off = p->body_off, .body_off = p->body_off,
                                 .body_len = p->body_len, .lines = count_lines(m + p->body_off, p->body_len) };
        parse_content_type(p->child, NULL, 0);
        p->nchild = 1;
    }
    return p;
}

mime_part *mime_parse(const char *msg, size_t len)
{
    int budget = MIME_MAX_PARTS;
    return parse_part(msg, 0, len, 0, 0, &budget);
}

static void free_params(mime_param *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ps[i].name);
        free(ps[i].value);
    }
    free(ps);
}

void mime_free(mime_part *p)
{
    while (p) {
        mime_part *next = p->next;
        mime_free(p->child);
        mime_free(p->msg);
        free(p->type); free(p->subtype); free(p->id); free(p->desc); free(p->enc);
        free(p->md5); free(p->disp); free(p->lang); free(p->loc);
        free_params(p->params, p->nparams);
        free_params(p->dparams, p->ndparams);
        free(p);
        p = next;
    }
}

mime_part *mime_section(mime_part *root, const uint32_t *nums, size_t n)
{
    mime_part *p = root;
    int at_msg = 1;
    for (size_t i = 0; i < n; i++) {
        if (p->child) {
            mime_part *c = p->child;
            for (uint32_t k = 1; c && k < nums[i]; k++)
                c = c->next;
            if (!c || nums[i] == 0)
                return NULL;
            p = c;
        } else if (!(at_msg && nums[i] == 1)) {
            return NULL;
        }
        at_msg = 0;
        if (i + 1 < n && p->msg) {
            p = p->msg;
            at_msg = 1;
        }
    }
    return p;
}

/* ---- IMAP output ------------------------------------------------------ */

void mime_put_string(buf *out, const char *s, size_t n)
{
    int quotable = n < 1000;
    for (size_t i = 0; quotable && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == 0 || c >= 0x80)
            quotable = 0;
    }
    if (!quotable) {
        buf_printf(out, "{%zu}\r\n", n);
        buf_append(out, s, n);
        return;
    }
    buf_append(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            buf_append(out, "\\", 1);
        buf_append(out, s + i, 1);
    }
    buf_append(out, "\"", 1);
}

void mime_put_nstring(buf *out, const char *s)
{
    if (!s)
        buf_puts(out, "NIL");
    else
        mime_put_string(out, s, strlen(s));
}

static void put_params(buf *out, const mime_param *ps, size_t n)
{
    if (!n) {
        buf_puts(out, "NIL");
        return;
    }
    buf_puts(out, "(");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_puts(out, " ");
        mime_put_nstring(out, ps[i].name);
        buf_puts(out, " ");
        mime_put_nstring(out, ps[i].value);
    }
    buf_puts(out, ")");
}

static void put_ext(buf *out, const mime_part *p)
{
    buf_puts(out, " ");
    if (p->disp) {
        buf_puts(out, "(");
        mime_put_nstring(out, p->disp);
        buf_puts(out, " ");
        put_params(out, p->dparams, p->ndparams);
        buf_puts(out, ")");
    } else {
        buf_puts(out, "NIL");
    }
    buf_puts(out, " ");
    mime_put_nstring(out, p->lang);
    buf_puts(out, " ");
    mime_put_nstring(out, p->loc);
}

void mime_bodystructure(buf *out, const char *msg, const mime_part *p, int extended)
{
    buf_puts(out, "(");
    if (p->child) {
        for (const mime_part *c = p->child; c; c = c->next)
            mime_bodystructure(out, msg, c, extended);
        buf_puts(out, " ");
        mime_put_nstring(out, p->subtype);
        if (extended) {
            buf_puts(out, " ");
            put_params(out, p->params, p->nparams);
            put_ext(out, p);
        }
        buf_puts(out, ")");
        return;
    }
    mime_put_nstring(out, p->type);
    buf_puts(out, " ");
    mime_put_nstring(out, p->subtype);
    buf_puts(out, " ");
    put_params(out, p->params, p->nparams);
    buf_puts(out, " ");
    mime_put_nstring(out, p->id);
    buf_puts(out, " ");
    mime_put_nstring(out, p->desc);
    buf_puts(out, " ");
    mime_put_nstring(out, p->enc ? p->enc : "7bit");
    buf_printf(out, " %zu", p->body_len);
    if (mime_is(p, "message", "rfc822") && p->msg) {
        buf_puts(out, " ");
        mime_envelope(out, msg + p->msg->hdr_off, p->msg->hdr_len);
        buf_puts(out, " ");
        mime_bodystructure(out, msg, p->msg, extended);
        buf_printf(out, " %zu", p->lines);
    } else if (mime_is(p, "text", NULL)) {
        buf_printf(out, " %zu", p->lines);
    }
    if (extended) {
        buf_puts(out, " ");
        mime_put_nstring(out, p->md5);
        put_ext(out, p);
    }
    buf_puts(out, ")");
}

/* ---- ENVELOPE addresses ----------------------------------------------- */

/* A copy of the value with comments blanked out (quotes respected). */
static char *strip_comments(const char *v, size_t n)
{
    char *o = xstrndup(v, n);
    int q = 0, depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = o[i];
        if (c == '\\' && i + 1 < n && (q || depth)) {
            if (depth) o[i] = o[i + 1] = ' ';
            i++;
            continue;
        }
        if (!depth && c == '"') q = !q;
        else if (!q && c == '(') depth++;
        if (depth) {
            if (c == ')') depth--;
            o[i] = ' ';
        }
    }
    return o;
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s)) (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
}

static void put_word(buf *out, const char *s, const char *e)
{
    trim(&s, &e);
    if (s == e) {
        buf_puts(out, "NIL");
        return;
    }
    if (e - s >= 2 && *s == '"' && e[-1] == '"') {      /* unquote */
        buf b = BUF_INIT;
        for (const char *p = s + 1; p < e - 1; p++) {
            if (*p == '\\' && p + 1 < e - 1)
                p++;
            buf_append(&b, p, 1);
        }
        mime_put_string(out, b.data ? buf_head(&b) : "", buf_size(&b));
        buf_free(&b);
        return;
    }
    mime_put_string(out, s, (size_t)(e - s));
}

static void put_address(buf *out, const char *s, const char *e, int *count)
{
    const char *lt = NULL, *gt = NULL;
    int q = 0;
    trim(&s, &e);
    for (const char *p = s; p < e; p++) {
        if (*p == '"') q = !q;
        else if (!q && *p == '<' && !lt) lt = p;
        else if (!q && *p == '>' && lt) gt = p;
    }
    const char *ns = s, *ne = s, *as = s, *ae = e;
    if (lt) {
        ne = lt;
        as = lt + 1;
        ae = gt ? gt : e;
    }
    trim(&as, &ae);
    if (as == ae && ns == ne)
        return;
    const char *adl_s = NULL, *adl_e = NULL;
    if (as < ae && *as == '@') {
        const char *colon = memchr(as, ':', (size_t)(ae - as));
        if (colon) {
            adl_s = as;
            adl_e = colon;
            as = colon + 1;
        }
    }
    const char *at = NULL;
    q = 0;
    for (const char *p = as; p < ae; p++) {
        if (*p == '"') q = !q;
        else if (!q && *p == '@') at = p;
    }
    buf_puts(out, "(");
    put_word(out, ns, ne);
    buf_puts(out, " ");
    if (adl_s) put_word(out, adl_s, adl_e); else buf_puts(out, "NIL");
    buf_puts(out, " ");
    put_word(out, as, at ? at : ae);
    buf_puts(out, " ");
    if (at) put_word(out, at + 1, ae); else buf_puts(out, "\"missing-domain\"");
    buf_puts(out, ")");
    (*count)++;
}

static void put_addresses(buf *out, const char *v)
{
    if (!v) {
        buf_puts(out, "NIL");
        return;
    }
    char *c = strip_comments(v, strlen(v));
    size_t mark = out->len;
    int count = 0, in_group = 0, q = 0, angle = 0;
    buf_puts(out, "(");
    const char *s = c, *p = c;
    for (;; p++) {
        char ch = *p;
        if (ch && ch == '"') { q = !q; continue; }
        if (ch && (q || (angle && ch != '>'))) continue;
        if (ch == '<') { angle = 1; continue; }
        if (ch == '>') { angle = 0; continue; }
        if (ch == ':' && !in_group) {
            buf_puts(out, "(NIL NIL ");
            put_word(out, s, p);
            buf_puts(out, " NIL)");
            count++;
            in_group = 1;
            s = p + 1;
        } else if (ch == ',' || ch == ';' || ch == '\0') {
            put_address(out, s, p, &count);
            if ((ch == ';' || ch == '\0') && in_group) {
                buf_puts(out, "(NIL NIL NIL NIL)");
                in_group = 0;
            }
            s = p + 1;
            if (!ch)
                break;
        }
    }
    buf_puts(out, ")");
    if (!count) {
        out->len = mark;
        buf_puts(out, "NIL");
    }
    free(c);
}

void mime_envelope(buf *out, const char *h, size_t hlen)
{
    static const char *addr[] = { "from", "sender", "reply-to", "to", "cc", "bcc" };
    char *v;
    buf_puts(out, "(");
    v = header_dup(h, hlen, "date");
    mime_put_nstring(out, v);
    free(v);
    buf_puts(out, " ");
    v = header_dup(h, hlen, "subject");
    mime_put_nstring(out, v);
    free(v);
    char *from = header_dup(h, hlen, "from");
    for (int i = 0; i < 6; i++) {
        buf_puts(out, " ");
        v = i == 0 ? NULL : header_dup(h, hlen, addr[i]);
        put_addresses(out, v ? v : (i <= 2 ? from : NULL));
        free(v);
    }
    free(from);
    buf_puts(out, " ");
    v = header_dup(h, hlen, "in-reply-to");
    mime_put_nstring(out, v);
    free(v);
    buf_puts(out, " ");
    v = header_dup(h, hlen, "message-id");
    mime_put_nstring(out, v);
    free(v);
    buf_puts(out, ")");
}
