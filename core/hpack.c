/*
 * hpack.c — HPACK (RFC 7541): the dynamic table, the decoder and the encoder.
 *
 * The dynamic table keeps its entries in two rings. Descriptors (offset and
 * lengths) sit in a power-of-two ring; the bytes sit in a byte ring of twice
 * the table limit, each entry's name and value contiguous. Why twice: live
 * bytes never exceed the limit M, and an entry of n bytes that does not fit
 * before the end of the ring starts again at 0, wasting less than n bytes;
 * with 2M bytes there is always room (see tbl_place). So adding and evicting
 * never allocate, and decoded fields point straight into the table.
 *
 * The decoder reads one whole block (HTTP/2 hands us HEADERS+CONTINUATION
 * already joined). Raw strings are passed to emit in place; Huffman strings
 * go through a scratch buffer. Past the header-list limit it keeps decoding
 * (so the table stays in sync) but stops emitting.
 *
 * The encoder looks fields up in the static table (generated hash index) and
 * the dynamic table (hashes stored per entry, newest first), indexes what is
 * worth it (nghttp2's rules: not values likely unique per message, not
 * entries over 3/4 of the table) and never indexes credentials.
 */
#include "core/hpack.h"
#include "core/hpack_huff.h"
#include "core/hpack_static_table.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_OVERHEAD 32
#define INT_MAX_VALUE  0xffffffffu

/* ---- the dynamic table ---------------------------------------------- */

static void *tbl_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fputs("atto: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void tbl_init(hpack_table *t, size_t limit)
{
    memset(t, 0, sizeof *t);
    t->limit = t->max_size = limit;
}

static void tbl_free(hpack_table *t)
{
    free(t->ent);
    free(t->data);
    t->ent = NULL;
    t->data = NULL;
    t->count = t->size = 0;
}

static hpack_entry *tbl_get(const hpack_table *t, size_t i) /* 1 = newest */
{
    return &t->ent[(t->first + t->count - i) & (t->ent_cap - 1)];
}

static const char *tbl_name(const hpack_table *t, const hpack_entry *e) { return t->data + e->off; }
static const char *tbl_value(const hpack_table *t, const hpack_entry *e) { return t->data + e->off + e->name_len; }

static void tbl_evict(hpack_table *t)
{
    hpack_entry *old = &t->ent[t->first];
    t->gen++;
    t->size -= old->name_len + old->value_len + ENTRY_OVERHEAD;
    t->first = (t->first + 1) & (t->ent_cap - 1);
    if (--t->count == 0)
        t->data_tail = t->data_wrap = 0;
    else if (t->data_wrap && t->ent[t->first].off < old->off)
        t->data_wrap = 0;   /* the oldest entry now lives in the low segment */
}

static void tbl_set_max(hpack_table *t, size_t max)
{
    t->max_size = max;
    t->gen++;
    while (t->size > max)
        tbl_evict(t);
}

/* Grow the memory bound to `limit`, keeping the entries (oldest first). */
static void tbl_grow(hpack_table *t, size_t limit)
{
    hpack_table n;
    tbl_init(&n, limit);
    n.max_size = t->max_size;
    if (t->ent) {
        n.ent_cap = 16;
        while (n.ent_cap < limit / ENTRY_OVERHEAD + 1)
            n.ent_cap *= 2;
        n.ent = tbl_alloc(n.ent_cap * sizeof *n.ent);
        n.data_cap = 2 * limit;
        n.data = tbl_alloc(n.data_cap);
        for (size_t i = t->count; i >= 1; i--) {
            hpack_entry e = *tbl_get(t, i);
            memcpy(n.data + n.data_tail, t->data + e.off, e.name_len + e.value_len);
            e.off = (uint32_t)n.data_tail;
            n.data_tail += e.name_len + e.value_len;
            n.ent[n.count++] = e;
        }
        n.size = t->size;
        n.inserted = (uint32_t)n.count;
    }
    n.gen = t->gen + 1;
    tbl_free(t);
    *t = n;
}

/* Where n bytes go. Live bytes L satisfy L + n <= M - 32 after eviction and
 * the ring has 2M bytes. Unwrapped, if the end is too short (tail > 2M - n),
 * head = tail - L > M >= n, so [0, n) is free. Wrapped (an entry of w > gap
 * bytes sits at 0), free = 2M - L - gap > 2M - L - w >= 2M - 2L > n. */
static size_t tbl_place(hpack_table *t, size_t n)
{
    size_t at = t->data_tail;
    if (!t->data_wrap && t->data_cap - t->data_tail < n) {
        t->data_wrap = t->data_tail;
        at = 0;
    }
    t->data_tail = at + n;
    return at;
}

/* Adds an entry (RFC 7541 §4.4): evicts until it fits; one larger than the
 * whole table empties it. name/value must not point into the table. */
static hpack_entry *tbl_add(hpack_table *t, const char *name, size_t nlen,
                            const char *value, size_t vlen)
{
    size_t need = nlen + vlen + ENTRY_OVERHEAD;
    t->gen++;
    while (t->count && t->size + need > t->max_size)
        tbl_evict(t);
    if (need > t->max_size)
        return NULL;
    if (!t->ent) {
        t->ent_cap = 16;
        while (t->ent_cap < t->limit / ENTRY_OVERHEAD + 1)
            t->ent_cap *= 2;
        t->ent = tbl_alloc(t->ent_cap * sizeof *t->ent);
        t->data_cap = 2 * t->limit;
        t->data = tbl_alloc(t->data_cap);
    }
    size_t at = tbl_place(t, nlen + vlen);
    memcpy(t->data + at, name, nlen);
    memcpy(t->data + at + nlen, value, vlen);
    hpack_entry *e = &t->ent[(t->first + t->count) & (t->ent_cap - 1)];
    e->off = (uint32_t)at;
    e->name_len = (uint32_t)nlen;
    e->value_len = (uint32_t)vlen;
    t->count++;
    t->inserted++;
    t->size += need;
    return e;
}

void hpack_table_trace(const hpack_table *t, hpack_trace_fn trace, void *ud)
{
    buf line = BUF_INIT;
    for (size_t i = 1; i <= t->count; i++) {
        const hpack_entry *e = tbl_get(t, i);
        buf_reset(&line);
        buf_printf(&line, "  [%3zu] (s = %3u) %.*s: %.*s", i,
                   e->name_len + e->value_len + ENTRY_OVERHEAD, (int)e->name_len,
                   tbl_name(t, e), (int)e->value_len, tbl_value(t, e));
        trace(ud, buf_cstr(&line));
    }
    buf_reset(&line);
    buf_printf(&line, "  table size: %zu (max %zu, %zu entries)", t->size, t->max_size, t->count);
    trace(ud, buf_cstr(&line));
    buf_free(&line);
}

/* ---- the decoder ---------------------------------------------------- */

typedef struct {       /* a string being decoded: in place, or in scratch */
    const char *p;
    size_t      len, scratch_off;
    int         in_scratch, huffman;
} dec_str;

typedef struct {       /* one block's decoding state */
    hpack_dec     *d;
    const uint8_t *in;
    size_t         len, pos, list;
    const char   **err;
    size_t        *err_off;
    int            status;
} dec_ctx;

void hpack_dec_init(hpack_dec *d, size_t max_table_size, size_t max_list)
{
    memset(d, 0, sizeof *d);
    tbl_init(&d->table, max_table_size);
    d->max_list = max_list;
    d->settings_size = max_table_size;
    d->pending_min = SIZE_MAX;
}

void hpack_dec_free(hpack_dec *d)
{
    tbl_free(&d->table);
    buf_free(&d->scratch);
}

void hpack_dec_set_max_table_size(hpack_dec *d, size_t max_table_size)
{
    if (max_table_size > d->table.limit)
        tbl_grow(&d->table, max_table_size);
    if (max_table_size < d->table.max_size && max_table_size < d->pending_min)
        d->pending_min = max_table_size;
    d->settings_size = max_table_size;
}

__attribute__((format(printf, 3, 4)))
static int dec_fail(dec_ctx *c, size_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->d->err_buf, sizeof c->d->err_buf, fmt, ap);
    va_end(ap);
    if (c->err)
        *c->err = c->d->err_buf;
    if (c->err_off)
        *c->err_off = off;
    return HPACK_ERR_COMPRESSION;
}

/* RFC 7541 §5.1: an integer with an N-bit prefix starting at c->pos. */
static int dec_int(dec_ctx *c, int prefix, uint32_t *out)
{
    size_t start = c->pos;
    uint32_t max = (1u << prefix) - 1, v = c->in[c->pos++] & max;
    if (v < max) {
        *out = v;
        return 0;
    }
    for (unsigned shift = 0;; shift += 7) {
        if (c->pos >= c->len)
            return dec_fail(c, start, "truncated integer");
        uint8_t b = c->in[c->pos++];
        uint64_t add = (uint64_t)(b & 0x7f) << shift;
        if (shift > 28 || v + add > INT_MAX_VALUE)
            return dec_fail(c, start, "integer overflow");
        v += (uint32_t)add;
        if (!(b & 0x80))
            break;
    }
    *out = v;
    return 0;
}

/* RFC 7541 §5.2: a string literal; Huffman strings land in d->scratch. */
static int dec_string(dec_ctx *c, dec_str *s)
{
    size_t start = c->pos;
    if (c->pos >= c->len)
        return dec_fail(c, start, "truncated block: string literal expected");
    int huffman = c->in[c->pos] & 0x80;
    uint32_t n;
    if (dec_int(c, 7, &n) < 0)
        return HPACK_ERR_COMPRESSION;
    if (n > c->len - c->pos)
        return dec_fail(c, start, "truncated string: %u bytes announced, %zu left",
                        n, c->len - c->pos);
    const uint8_t *p = c->in + c->pos;
    c->pos += n;
    s->huffman = huffman != 0;
    if (!huffman) {
        s->p = (const char *)p;
        s->len = n;
        s->in_scratch = 0;
        return 0;
    }
    buf *sc = &c->d->scratch;
    const char *why;
    long got = hpack_huff_decode(buf_tail(sc, HPACK_HUFF_DECODED_MAX(n)), p, n, &why);
    if (got < 0) {
        return dec_fail(c, start, "%s", why);
    }
    s->scratch_off = sc->len;
    s->len = (size_t)got;
    s->in_scratch = 1;
    buf_commit(sc, (size_t)got);
    return 0;
}

static void dec_resolve(hpack_dec *d, dec_str *s)
{
    if (s->in_scratch)   /* an empty Huffman string may leave scratch unallocated */
        s->p = d->scratch.data ? d->scratch.data + s->scratch_off : "";
}

/* Index space (RFC 7541 §2.3.3): 1..61 static, 62.. dynamic. */
static int dec_lookup(dec_ctx *c, size_t at, uint32_t idx, dec_str *name, dec_str *value)
{
    memset(name, 0, sizeof *name);
    if (value)
        memset(value, 0, sizeof *value);
    if (idx == 0)
        return dec_fail(c, at, "index 0 is not allowed");
    if (idx <= HPACK_STATIC_COUNT) {
        name->p = hpack_static[idx].name;
        name->len = hpack_static[idx].name_len;
        if (value) {
            value->p = hpack_static[idx].value;
            value->len = hpack_static[idx].value_len;
        }
        return 0;
    }
    const hpack_table *t = &c->d->table;
    if (idx - HPACK_STATIC_COUNT > t->count)
        return dec_fail(c, at, "index %u out of range (highest is %zu)", idx,
                        HPACK_STATIC_COUNT + t->count);
    const hpack_entry *e = tbl_get(t, idx - HPACK_STATIC_COUNT);
    name->p = tbl_name(t, e);
    name->len = e->name_len;
    if (value) {
        value->p = tbl_value(t, e);
        value->len = e->value_len;
    }
    return 0;
}

static void dec_trace(dec_ctx *c, const char *what, uint32_t idx, const dec_str *n, const dec_str *v)
{
    hpack_dec *d = c->d;
    buf line = BUF_INIT;
    buf_printf(&line, "%s", what);
    if (idx)
        buf_printf(&line, " %u", idx);
    if (n->huffman || v->huffman)
        buf_printf(&line, " (huffman:%s%s)", n->huffman ? " name" : "", v->huffman ? " value" : "");
    d->trace(d->trace_ud, buf_cstr(&line));
    buf_reset(&line);
    buf_printf(&line, "  %.*s: %.*s", (int)n->len, n->p, (int)v->len, v->p);
    d->trace(d->trace_ud, buf_cstr(&line));
    buf_free(&line);
    hpack_table_trace(&d->table, d->trace, d->trace_ud);
}

static int dec_emit(dec_ctx *c, hpack_emit_fn emit, void *ud, const dec_str *n, const dec_str *v, int flags)
{
    c->list += n->len + v->len + ENTRY_OVERHEAD;
    if (c->d->max_list && c->list > c->d->max_list) {
        if (c->status == HPACK_OK) {
            dec_fail(c, c->pos, "header list larger than %zu bytes", c->d->max_list);
            c->status = HPACK_ERR_HEADER_LIST_TOO_LARGE;
        }
        return 0;
    }
    return emit ? emit(ud, n->p, n->len, v->p, v->len, flags) : 0;
}

/* A literal field (RFC 7541 §6.2): incremental (prefix 6), without / never
 * indexed (prefix 4). */
static int dec_literal(dec_ctx *c, int prefix, int flags, int add, dec_str *n, dec_str *v)
{
    size_t at = c->pos;
    uint32_t idx;
    buf_reset(&c->d->scratch);
    if (dec_int(c, prefix, &idx) < 0)
        return HPACK_ERR_COMPRESSION;
    if (idx) {
        if (dec_lookup(c, at, idx, n, NULL) < 0)
            return HPACK_ERR_COMPRESSION;
        if (add && idx > HPACK_STATIC_COUNT) {  /* eviction may drop the name: copy it */
            n->scratch_off = c->d->scratch.len;
            n->in_scratch = 1;
            buf_append(&c->d->scratch, n->p, n->len);
        }
    } else if (dec_string(c, n) < 0) {
        return HPACK_ERR_COMPRESSION;
    }
    if (dec_string(c, v) < 0)
        return HPACK_ERR_COMPRESSION;
    dec_resolve(c->d, n);
    dec_resolve(c->d, v);
    if (add)
        tbl_add(&c->d->table, n->p, n->len, v->p, v->len);
    return (int)idx;
}

static int dec_size_update(dec_ctx *c, int at_start)
{
    size_t at = c->pos;
    uint32_t v;
    if (!at_start)
        return dec_fail(c, at, "table size update after a field");
    if (dec_int(c, 5, &v) < 0)
        return HPACK_ERR_COMPRESSION;
    if (v > c->d->settings_size)
        return dec_fail(c, at, "table size update to %u exceeds the limit %zu", v,
                        c->d->settings_size);
    if (v <= c->d->pending_min)
        c->d->pending_min = SIZE_MAX;
    tbl_set_max(&c->d->table, v);
    if (c->d->trace) {
        char line[64];
        snprintf(line, sizeof line, "table size update: %u", v);
        c->d->trace(c->d->trace_ud, line);
    }
    return 0;
}

static int dec_field(dec_ctx *c, hpack_emit_fn emit, void *ud)
{
    uint8_t b = c->in[c->pos];
    size_t at = c->pos;
    dec_str n, v;
    int flags = 0, r;
    const char *what;
    uint32_t idx;
    if (b & 0x80) {
        what = "indexed field";
        if (dec_int(c, 7, &idx) < 0 || dec_lookup(c, at, idx, &n, &v) < 0)
            return HPACK_ERR_COMPRESSION;
    } else {
        int add = (b & 0xc0) == 0x40;
        flags = (b & 0xf0) == 0x10 ? HPACK_NEVER_INDEXED : 0;
        what = add ? "literal with incremental indexing" : flags ? "literal never indexed"
                                                               : "literal without indexing";
        if ((r = dec_literal(c, add ? 6 : 4, flags, add, &n, &v)) < 0)
            return r;
        idx = (uint32_t)r;
        if (idx)
            what = add ? "literal with incremental indexing, name index"
                 : flags ? "literal never indexed, name index" : "literal without indexing, name index";
    }
    if (c->d->trace)
        dec_trace(c, what, idx, &n, &v);
    return dec_emit(c, emit, ud, &n, &v, flags);
}

int hpack_decode_block(hpack_dec *d, const uint8_t *in, size_t len,
                       hpack_emit_fn emit, void *ud, const char **err, size_t *err_off)
{
    dec_ctx c = {d, in, len, 0, 0, err, err_off, HPACK_OK};
    int at_start = 1, r;
    while (c.pos < len) {
        if ((in[c.pos] & 0xe0) == 0x20) {
            if ((r = dec_size_update(&c, at_start)) < 0)
                return r;
            continue;
        }
        if (at_start && d->pending_min != SIZE_MAX)
            return dec_fail(&c, c.pos, "table size update to at most %zu missing",
                            d->pending_min);
        at_start = 0;
        if ((r = dec_field(&c, emit, ud)) != 0)
            return r;
    }
    if (at_start && d->pending_min != SIZE_MAX && len)
        return dec_fail(&c, c.pos, "table size update to at most %zu missing",
                        d->pending_min);
    return c.status;
}

/* ---- the encoder ---------------------------------------------------- */

/* A name hash from the length and three bytes: names are short and differ
 * there; a collision costs one memcmp. tools/gen_hpack_huff.py mirrors it. */
static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = (uint32_t)n * 0x9e3779b1u;
    if (n)
        h ^= (uint8_t)s[0] * 0x85ebca6bu ^ (uint8_t)s[n - 1] * 0xc2b2ae35u ^ (uint8_t)s[n / 2] * 0x27d4eb2fu;
    return h ^ (h >> 15);
}

void hpack_enc_init(hpack_enc *e, size_t max_table_size)
{
    memset(e, 0, sizeof *e);
    tbl_init(&e->table, max_table_size);
    e->pending_min = SIZE_MAX;
    e->next_size = max_table_size;
}

void hpack_enc_free(hpack_enc *e) { tbl_free(&e->table); }

void hpack_enc_set_peer_table_size(hpack_enc *e, size_t size)
{
    if (size > e->table.limit)
        size = e->table.limit;   /* we bound our own memory */
    if (size < e->pending_min)
        e->pending_min = size;
    e->next_size = size;
    e->pending = 1;
}

static void enc_int(buf *out, uint8_t first, int prefix, size_t v)
{
    uint8_t *p = (uint8_t *)buf_tail(out, 8), *q = p;
    size_t max = ((size_t)1 << prefix) - 1;
    if (v < max) {
        *q++ = (uint8_t)(first | v);
    } else {
        *q++ = (uint8_t)(first | max);
        for (v -= max; v >= 128; v >>= 7)
            *q++ = (uint8_t)(0x80 | (v & 0x7f));
        *q++ = (uint8_t)v;
    }
    buf_commit(out, (size_t)(q - p));
}

static void enc_string(hpack_enc *e, buf *out, const char *s, size_t n)
{
    size_t h = e->no_huffman ? 0 : hpack_huff_encoded_len((const uint8_t *)s, n);
    if (!e->no_huffman && h <= n) {   /* as long either way: Huffman, like RFC 7541 C.6.2 */
        enc_int(out, 0x80, 7, h);
        buf_commit(out, hpack_huff_encode((uint8_t *)buf_tail(out, h), (const uint8_t *)s, n));
    } else {
        enc_int(out, 0, 7, n);
        buf_append(out, s, n);
    }
}

static void enc_size_update(hpack_enc *e, buf *out, size_t size)
{
    enc_int(out, 0x20, 5, size);
    tbl_set_max(&e->table, size);
    if (e->trace) {
        char line[64];
        snprintf(line, sizeof line, "table size update: %zu", size);
        e->trace(e->trace_ud, line);
    }
}

void hpack_enc_begin_block(hpack_enc *e, buf *out)
{
    if (!e->pending)
        return;
    if (e->pending_min < e->next_size)
        enc_size_update(e, out, e->pending_min);
    enc_size_update(e, out, e->next_size);
    e->pending = 0;
    e->pending_min = SIZE_MAX;
}

static int name_is(const char *name, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(name, lit, len) == 0;
}

static int enc_sensitive(const char *name, size_t nlen, size_t vlen)
{
    return name_is(name, nlen, "authorization") || name_is(name, nlen, "proxy-authorization")
        || name_is(name, nlen, "set-cookie") || (name_is(name, nlen, "cookie") && vlen < 20);
}

/* Values that change with nearly every message gain nothing from indexing.
 * `etag` is indexed all the same: a response's etag repeats whenever the
 * same resource is asked for again on the connection (polling, a bench,
 * revalidation), and as a literal it is the longest field of a static
 * file's answer (~17 of ~30 bytes). */
static int enc_should_index(hpack_enc *e, const char *name, size_t nlen, size_t vlen)
{
    if (nlen + vlen + ENTRY_OVERHEAD > e->table.max_size * 3 / 4)
        return 0;
    return !(name_is(name, nlen, ":path") || name_is(name, nlen, "age")
             || name_is(name, nlen, "content-length")
             || name_is(name, nlen, "if-modified-since") || name_is(name, nlen, "if-none-match"));
}

/* Finds the field: returns a full-match index, or 0 with *name_idx the best
 * name-only index (0 if none). Static first (its indices are smaller), then
 * the dynamic table through the bucket chain of the name hash, newest first;
 * a chain ends at an evicted id and is never longer than the table. */
static size_t enc_find(hpack_enc *e, const char *name, size_t nlen, uint32_t nh,
                       const char *value, size_t vlen, size_t *name_idx)
{
    *name_idx = 0;
    for (size_t s = nh & 127; hpack_static_slot[s]; s = (s + 1) & 127) {
        size_t i = hpack_static_slot[s];
        if (hpack_static[i].name_len != nlen || memcmp(hpack_static[i].name, name, nlen) != 0)
            continue;
        *name_idx = i;
        for (; i <= HPACK_STATIC_COUNT && hpack_static[i].name_len == nlen
               && memcmp(hpack_static[i].name, name, nlen) == 0; i++)
            if (hpack_static[i].value_len == vlen && memcmp(hpack_static[i].value, value, vlen) == 0)
                return i;
        break;
    }
    const hpack_table *t = &e->table;
    uint32_t id = e->bucket[nh & 255];
    for (size_t steps = 0; steps < t->count; steps++) {
        size_t age = (uint32_t)(t->inserted - 1 - id);
        if (age >= t->count)
            break;
        const hpack_entry *x = &t->ent[id & (t->ent_cap - 1)];
        if (x->name_hash == nh && x->name_len == nlen && memcmp(tbl_name(t, x), name, nlen) == 0) {
            if (x->value_len == vlen && memcmp(tbl_value(t, x), value, vlen) == 0)
                return HPACK_STATIC_COUNT + age + 1;
            if (!*name_idx)
                *name_idx = HPACK_STATIC_COUNT + age + 1;
        }
        id = x->next;
    }
    return 0;
}

static void enc_trace(hpack_enc *e, const char *what, size_t idx, const char *name, size_t nlen,
                      const char *value, size_t vlen)
{
    buf line = BUF_INIT;
    buf_puts(&line, what);
    if (idx)
        buf_printf(&line, " %zu", idx);
    e->trace(e->trace_ud, buf_cstr(&line));
    buf_reset(&line);
    buf_printf(&line, "  %.*s: %.*s", (int)nlen, name, (int)vlen, value);
    e->trace(e->trace_ud, buf_cstr(&line));
    buf_free(&line);
    hpack_table_trace(&e->table, e->trace, e->trace_ud);
}

void hpack_encode_field(hpack_enc *e, buf *out, const char *name, size_t nlen,
                        const char *value, size_t vlen, int flags)
{
    uint32_t nh = name_hash(name, nlen);
    int never = (flags & HPACK_NEVER_INDEXED)
             || (!e->no_auto_sensitive && enc_sensitive(name, nlen, vlen));
    size_t name_idx, idx = enc_find(e, name, nlen, nh, value, vlen, &name_idx);
    const char *what;
    if (idx && !never) {
        enc_int(out, 0x80, 7, idx);
        if (e->trace)
            enc_trace(e, "indexed field", idx, name, nlen, value, vlen);
        return;
    }
    int add = !never && enc_should_index(e, name, nlen, vlen);
    if (never) {
        enc_int(out, 0x10, 4, name_idx);
        what = name_idx ? "literal never indexed, name index" : "literal never indexed";
    } else if (add) {
        enc_int(out, 0x40, 6, name_idx);
        what = name_idx ? "literal with incremental indexing, name index"
                        : "literal with incremental indexing";
    } else {
        enc_int(out, 0x00, 4, name_idx);
        what = name_idx ? "literal without indexing, name index" : "literal without indexing";
    }
    if (!name_idx)
        enc_string(e, out, name, nlen);
    enc_string(e, out, value, vlen);
    if (add) {
        hpack_entry *x = tbl_add(&e->table, name, nlen, value, vlen);
        if (x) {
            x->name_hash = nh;
            x->next = e->bucket[nh & 255];
            e->bucket[nh & 255] = e->table.inserted - 1;
        }
    }
    if (e->trace)
        enc_trace(e, what, name_idx, name, nlen, value, vlen);
}
