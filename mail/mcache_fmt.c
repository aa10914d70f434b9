/*
 * mcache_fmt.c — the pure half of the IMAP metadata cache (see mcache.h):
 * the table of entries of one folder, keyed by Maildir base name with an
 * open-addressing index, and the encoder/decoder of the cache file.
 *
 * The decoder reads bytes another process wrote and that anything may have
 * damaged since: the checksum is checked first, then every count and length
 * against what is left, and the entries go into the caller's table only if
 * the whole file is sound. No I/O, no libuv, no OpenSSL, no Lua.
 */
#include "mail/mcache.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char mc_magic[8] = { 'a', 't', 't', 'o', '-', 'm', 'c', '\n' };

static void *mc_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("atto: out of memory\n", stderr);
        abort();
    }
    return p;
}

static uint32_t mc_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* ---- entries and the table -------------------------------------------- */

static const char *mc_copy(char **at, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = *at;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    *at += n + 1;
    return d;
}

mcache_ent *mcache_ent_new(const char *base, size_t baselen, uint32_t uid, int64_t fsize,
                           int64_t mtime, int64_t size, const char *hdr, size_t hdrlen,
                           const char *env, size_t envlen, const char *body, size_t bodylen,
                           const char *bs, size_t bslen)
{
    hdrlen = hdr ? hdrlen : 0;
    envlen = env ? envlen : 0;
    bodylen = body ? bodylen : 0;
    bslen = bs ? bslen : 0;
    size_t total = sizeof(mcache_ent) + baselen + hdrlen + envlen + bodylen + bslen + 5;
    mcache_ent *e = mc_alloc(total);
    char *at = (char *)(e + 1);
    memset(e, 0, sizeof *e);
    e->base = mc_copy(&at, base, baselen);
    e->uid = uid;
    e->fsize = fsize;
    e->mtime = mtime;
    e->size = size;
    e->hdr = mc_copy(&at, hdr, e->hdrlen = hdrlen);
    e->env = mc_copy(&at, env, e->envlen = envlen);
    e->body = mc_copy(&at, body, e->bodylen = bodylen);
    e->bs = mc_copy(&at, bs, e->bslen = bslen);
    e->cost = total;
    return e;
}

static size_t mc_slot_of(const mcache_tab *t, const char *base)
{
    size_t mask = t->nslot - 1, k = mc_hash(base) & mask;
    while (t->slot[k] && strcmp(t->e[t->slot[k] - 1]->base, base) != 0)
        k = (k + 1) & mask;
    return k;
}

static void mc_reindex(mcache_tab *t)
{
    size_t want = 16;
    while (want < t->n * 2 + 2)
        want *= 2;
    if (want != t->nslot) {
        free(t->slot);
        t->slot = mc_alloc(want * sizeof *t->slot);
        t->nslot = want;
    }
    memset(t->slot, 0, t->nslot * sizeof *t->slot);
    for (size_t i = 0; i < t->n; i++)
        t->slot[mc_slot_of(t, t->e[i]->base)] = (uint32_t)(i + 1);
}

const mcache_ent *mcache_tab_find(const mcache_tab *t, const char *base)
{
    if (!t->n)
        return NULL;
    size_t k = mc_slot_of(t, base);
    return t->slot[k] ? t->e[t->slot[k] - 1] : NULL;
}

void mcache_tab_put(mcache_tab *t, mcache_ent *e)
{
    if (t->n) {
        size_t k = mc_slot_of(t, e->base);
        if (t->slot[k]) {
            mcache_ent **old = &t->e[t->slot[k] - 1];
            t->bytes += e->cost - (*old)->cost;
            free(*old);
            *old = e;
            return;
        }
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        mcache_ent **ne = mc_alloc(t->cap * sizeof *ne);
        if (t->n)
            memcpy(ne, t->e, t->n * sizeof *ne);
        free(t->e);
        t->e = ne;
    }
    t->e[t->n++] = e;
    t->bytes += e->cost;
    if (t->n * 2 + 2 > t->nslot)
        mc_reindex(t);
    else
        t->slot[mc_slot_of(t, e->base)] = (uint32_t)t->n;
}

void mcache_tab_prune(mcache_tab *t, int (*keep)(const mcache_ent *, void *), void *ud)
{
    size_t out = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (keep(t->e[i], ud)) {
            t->e[out++] = t->e[i];
            continue;
        }
        t->bytes -= t->e[i]->cost;
        free(t->e[i]);
    }
    if (out != t->n) {
        t->n = out;
        mc_reindex(t);
    }
}

void mcache_tab_merge(mcache_tab *dst, mcache_tab *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (mcache_tab_find(dst, src->e[i]->base))
            free(src->e[i]);
        else
            mcache_tab_put(dst, src->e[i]);
    }
    src->n = 0;
    mcache_tab_free(src);
}

void mcache_tab_free(mcache_tab *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->e[i]);
    free(t->e);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* ---- POP3 sizes ------------------------------------------------------- */

int64_t mcache_pop3_size(const mcache_ent *e)
{
    return e->size + (e->no_eol ? 2 : 0);
}

int64_t mcache_pop3_size_of(const char *msg, size_t len)
{
    return (int64_t)len + (len && msg[len - 1] != '\n' ? 2 : 0);
}

/* ---- the file --------------------------------------------------------- */

/* A 64-bit checksum, eight bytes at a time: catches damage, not attacks. */
static uint64_t mc_sum(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; n; p++, n--)
        h = (h ^ *p) * 0x100000001b3ull;
    h ^= h >> 32;
    return h * 0xff51afd7ed558ccdull ^ (h >> 31);
}

static void put_le(buf *b, uint64_t v, int bytes)
{
    unsigned char x[8];
    for (int i = 0; i < bytes; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    buf_append(b, x, (size_t)bytes);
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void mc_put_str(buf *b, const char *s, size_t n)
{
    if (s && n)
        buf_append(b, s, n);
}

void mcache_encode(const mcache_tab *t, uint32_t uidvalidity, buf *out)
{
    size_t start = buf_size(out), count = 0;
    buf_append(out, mc_magic, 8);
    put_le(out, MCACHE_VERSION, 4);
    put_le(out, uidvalidity, 4);
    put_le(out, 0, 4);                                  /* count, patched below */
    put_le(out, 0, 4);
    put_le(out, 0, 8);                                  /* checksum, patched below */
    for (size_t i = 0; i < t->n; i++) {
        const mcache_ent *e = t->e[i];
        if (e->fsize < 0)
            continue;
        unsigned present = (e->hdr ? MC_HDR : 0) | (e->env ? MC_ENV : 0) |
                           (e->body ? MC_BODY : 0) | (e->bs ? MC_BS : 0);
        put_le(out, strlen(e->base), 2);
        put_le(out, present, 1);
        put_le(out, e->no_eol ? 1 : 0, 1);
        put_le(out, e->uid, 4);
        put_le(out, (uint64_t)e->fsize, 8);
        put_le(out, (uint64_t)e->mtime, 8);
        put_le(out, (uint64_t)e->size, 8);
        put_le(out, e->hdrlen, 4);
        put_le(out, e->envlen, 4);
        put_le(out, e->bodylen, 4);
        put_le(out, e->bslen, 4);
        buf_append(out, e->base, strlen(e->base));
        mc_put_str(out, e->hdr, e->hdrlen);
        mc_put_str(out, e->env, e->envlen);
        mc_put_str(out, e->body, e->bodylen);
        mc_put_str(out, e->bs, e->bslen);
        count++;
    }
    unsigned char *h = (unsigned char *)buf_head(out) + start;
    size_t len = buf_size(out) - start;
    for (int i = 0; i < 4; i++)
        h[16 + i] = (unsigned char)(count >> (8 * i));
    uint64_t sum = mc_sum(h + MCACHE_HDRSIZE, len - MCACHE_HDRSIZE);
    for (int i = 0; i < 8; i++)
        h[24 + i] = (unsigned char)(sum >> (8 * i));
}

#define MC_FIXED 48                     /* bytes of an entry before its strings */

static int mc_base_ok(const unsigned char *s, size_t n)
{
    if (n == 0 || n > MCACHE_MAX_BASE || (n <= 2 && s[0] == '.' && (n == 1 || s[1] == '.')))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] == 0x7f || s[i] == '/' || s[i] == ':')
            return 0;
    return 1;
}

/* One entry at *p (at most `left` bytes); -1 with why when it does not fit. */
static int mc_decode_ent(const unsigned char **pp, size_t *left, mcache_tab *t, const char **why)
{
    const unsigned char *p = *pp;
    if (*left < MC_FIXED)
        return *why = "entry cut short", -1;
    size_t baselen = (size_t)get_le(p, 2);
    unsigned present = p[2];
    uint64_t lens[4], total = baselen, fsize = get_le(p + 8, 8), size = get_le(p + 24, 8);
    static const uint64_t limit[4] = { MCACHE_MAX_HDR, MCACHE_MAX_FIELD, MCACHE_MAX_FIELD, MCACHE_MAX_FIELD };
    if (present > 15 || p[3] > 1)
        return *why = "bad entry flags", -1;
    if (fsize > INT64_MAX || size > INT64_MAX)
        return *why = "bad size", -1;
    for (int i = 0; i < 4; i++) {
        lens[i] = get_le(p + 32 + 4 * i, 4);
        if (lens[i] > limit[i] || (!(present & (1u << i)) && lens[i]))
            return *why = "bad field length", -1;
        total += lens[i];
    }
    if (total > *left - MC_FIXED)
        return *why = "entry runs past the end", -1;
    const char *s = (const char *)p + MC_FIXED;
    if (!mc_base_ok((const unsigned char *)s, baselen))
        return *why = "bad base name", -1;
    const char *f[4];
    size_t at = baselen;
    for (int i = 0; i < 4; i++) {
        f[i] = (present & (1u << i)) ? s + at : NULL;
        at += (size_t)lens[i];
    }
    char base[MCACHE_MAX_BASE + 1];
    memcpy(base, s, baselen);
    base[baselen] = '\0';
    if (mcache_tab_find(t, base))
        return *why = "duplicate entry", -1;
    mcache_ent *e = mcache_ent_new(base, baselen, (uint32_t)get_le(p + 4, 4), (int64_t)fsize,
                                   (int64_t)get_le(p + 16, 8), (int64_t)size,
                                   f[0], (size_t)lens[0], f[1], (size_t)lens[1],
                                   f[2], (size_t)lens[2], f[3], (size_t)lens[3]);
    e->no_eol = p[3];
    mcache_tab_put(t, e);
    *pp = p + MC_FIXED + total;
    *left -= MC_FIXED + (size_t)total;
    return 0;
}

int mcache_decode(const char *data, size_t n, uint32_t uidvalidity, mcache_tab *t, const char **why)
{
    const unsigned char *p = (const unsigned char *)data;
    const char *reason = NULL;
    if (n < MCACHE_HDRSIZE || memcmp(p, mc_magic, 8) != 0) {
        reason = "not a cache file";
        goto fail;
    }
    if (get_le(p + 8, 4) != MCACHE_VERSION || get_le(p + 20, 4) != 0) {
        reason = "unknown version";
        goto fail;
    }
    if (get_le(p + 24, 8) != mc_sum(p + MCACHE_HDRSIZE, n - MCACHE_HDRSIZE)) {
        reason = "checksum mismatch";
        goto fail;
    }
    if (get_le(p + 12, 4) != uidvalidity) {
        reason = "stale UIDVALIDITY";
        goto fail;
    }
    uint64_t count = get_le(p + 16, 4);
    if (count > (n - MCACHE_HDRSIZE) / MC_FIXED) {
        reason = "count too large";
        goto fail;
    }
    const unsigned char *q = p + MCACHE_HDRSIZE;
    size_t left = n - MCACHE_HDRSIZE;
    for (uint64_t i = 0; i < count; i++)
        if (mc_decode_ent(&q, &left, t, &reason) < 0)
            goto fail;
    if (left) {
        reason = "bytes after the last entry";
        goto fail;
    }
    return 0;
fail:
    mcache_tab_free(t);
    if (why)
        *why = reason;
    return -1;
}
