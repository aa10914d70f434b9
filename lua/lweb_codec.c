/*
 * lweb_codec.c — the session codec of `atto.web` (lua/web.lua stores each
 * session's table as one string in the shared store of lua/lweb.c), and a
 * quick way to the session cookie. It replaces a Lua serializer that wrote
 * a Lua literal with "%q" and read it back with load(): compiling that
 * literal was the largest part of a session request.
 *
 * The format is tagged and binary; every value says what it is:
 *
 *   encoding := 0xA5 value
 *   value    := 'T' (key value)* 'E'        table (keys: no tables)
 *             | 'S' varint(length) bytes    string (any bytes, NULs too)
 *             | 'I' varint(zigzag(i))       integer (stays an integer)
 *             | 'F' 8 bytes                 float, IEEE-754 bits, little-endian
 *             | 'Y' | 'N'                   true | false
 *
 * varint is LEB128 (7 bits a byte, low first, at most 10 bytes). The first
 * byte 0xA5 can never begin the Lua text the old format wrote (always '{'),
 * so web.lua tells the two apart by it and still reads old snapshots.
 *
 * The rules are the old serializer's, with its error messages: tables nest
 * at most 32 deep below the top one (a cycle is caught the same way),
 * keys are strings, numbers or booleans, values those or tables, and the
 * whole fits in LWC_MAX_ENCODED bytes (checked while encoding, so a shared
 * subtable repeated many times cannot run away). The decoder checks every
 * length and tag against the bytes it has and the same depth limit; a
 * damaged value decodes to nil, never to a part of a table.
 *
 * The encoder writes into a 512-byte buffer on the C stack, moving to a
 * Lua userdata when that is not enough (freed by the collector, so a
 * memory error cannot leak it); nothing is allocated for a small session
 * that did not change, because the caller may pass the previous encoding
 * and gets that same string back when the bytes are equal.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lua/lweb_codec.h"

#define LWC_MAGIC 0xA5
#define LWC_MAX_DEPTH 32        /* tables below the top one */

/* ---- encoder ------------------------------------------------------------- */

typedef struct lwc_enc {
    unsigned char *p;           /* small, or the userdata in slot */
    size_t len, cap;
    int slot;                   /* stack index holding the grown buffer */
    char msg[112];              /* the reason when encoding fails */
    unsigned char small[512];
} lwc_enc;

static int enc_room(lua_State *L, lwc_enc *e, size_t n)
{
    if (e->len + n <= e->cap)
        return 0;
    if (e->len + n > LWC_MAX_ENCODED) {
        snprintf(e->msg, sizeof e->msg,
                 "session data is larger than %d bytes once encoded", LWC_MAX_ENCODED);
        return -1;
    }
    size_t cap = e->cap * 2;
    while (cap < e->len + n)
        cap *= 2;
    if (cap > LWC_MAX_ENCODED)
        cap = LWC_MAX_ENCODED;
    unsigned char *p = lua_newuserdatauv(L, cap, 0);
    memcpy(p, e->p, e->len);
    lua_replace(L, e->slot);    /* the old one (if any) goes to the collector */
    e->p = p;
    e->cap = cap;
    return 0;
}

static int enc_bytes(lua_State *L, lwc_enc *e, const void *s, size_t n)
{
    if (enc_room(L, e, n) < 0)
        return -1;
    memcpy(e->p + e->len, s, n);
    e->len += n;
    return 0;
}

static int enc_varint(lua_State *L, lwc_enc *e, unsigned char tag, uint64_t v)
{
    unsigned char b[11];
    size_t n = 0;
    b[n++] = tag;
    do {
        b[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return enc_bytes(L, e, b, n);
}

static int enc_number(lua_State *L, lwc_enc *e, int idx)
{
    if (lua_isinteger(L, idx)) {
        uint64_t u = (uint64_t)lua_tointeger(L, idx);
        return enc_varint(L, e, 'I', (u << 1) ^ (0 - (u >> 63)));
    }
    double d = lua_tonumber(L, idx);
    uint64_t bits;
    unsigned char b[9] = {'F'};
    memcpy(&bits, &d, sizeof bits);
    for (int i = 0; i < 8; i++)
        b[1 + i] = (unsigned char)(bits >> (8 * i));
    return enc_bytes(L, e, b, sizeof b);
}

static int enc_table(lua_State *L, lwc_enc *e, int idx, int depth);

/* the value at idx (a key when is_key) */
static int enc_value(lua_State *L, lwc_enc *e, int idx, int depth, int is_key)
{
    size_t n;
    const char *s;
    int t = lua_type(L, idx);
    switch (t) {
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        if (enc_varint(L, e, 'S', n) < 0)
            return -1;
        return enc_bytes(L, e, s, n);
    case LUA_TNUMBER:
        return enc_number(L, e, idx);
    case LUA_TBOOLEAN:
        return enc_bytes(L, e, lua_toboolean(L, idx) ? "Y" : "N", 1);
    case LUA_TTABLE:
        if (!is_key)
            return enc_table(L, e, idx, depth);
        break;
    }
    snprintf(e->msg, sizeof e->msg, is_key
             ? "session keys must be strings, numbers or booleans, not %s"
             : "session values must be strings, numbers, booleans or tables, not %s",
             lua_typename(L, t));
    return -1;
}

static int enc_table(lua_State *L, lwc_enc *e, int idx, int depth)
{
    if (depth > LWC_MAX_DEPTH) {
        snprintf(e->msg, sizeof e->msg, "session data has a cycle or is nested too deeply");
        return -1;
    }
    if (!lua_checkstack(L, 4)) {    /* grown a level at a time: usually free */
        snprintf(e->msg, sizeof e->msg, "not enough memory");
        return -1;
    }
    if (enc_bytes(L, e, "T", 1) < 0)
        return -1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int top = lua_gettop(L);
        if (enc_value(L, e, top - 1, depth + 1, 1) < 0 ||
            enc_value(L, e, top, depth + 1, 0) < 0) {
            lua_pop(L, 2);
            return -1;
        }
        lua_pop(L, 1);
    }
    return enc_bytes(L, e, "E", 1);
}

/* web.session_encode(value [, previous]) -> string | nil, reason
 * When the encoding equals `previous`, that very string is returned. */
static int l_session_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 2);
    lua_pushnil(L);             /* slot for a grown buffer */
    lwc_enc e = {.cap = sizeof e.small, .slot = lua_gettop(L)};
    e.p = e.small;
    e.p[e.len++] = LWC_MAGIC;
    if (enc_value(L, &e, 1, 0, 0) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    size_t plen;
    const char *prev = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &plen) : NULL;
    if (prev && plen == e.len && memcmp(prev, e.p, plen) == 0)
        lua_pushvalue(L, 2);
    else
        lua_pushlstring(L, (const char *)e.p, e.len);
    return 1;
}

/* ---- decoder ------------------------------------------------------------- */

typedef struct lwc_dec {
    const unsigned char *p, *end;
} lwc_dec;

static int dec_varint(lwc_dec *d, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (d->p >= d->end)
            return -1;
        unsigned char b = *d->p++;
        if (shift == 63 && b > 1)
            return -1;          /* more than 64 bits */
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int dec_value(lua_State *L, lwc_dec *d, int depth, int is_key);

static int dec_table(lua_State *L, lwc_dec *d, int depth)
{
    if (depth > LWC_MAX_DEPTH || !lua_checkstack(L, 4))
        return -1;
    lua_newtable(L);
    for (;;) {
        if (d->p >= d->end)
            return -1;
        if (*d->p == 'E') {
            d->p++;
            return 0;
        }
        if (dec_value(L, d, depth + 1, 1) < 0 || dec_value(L, d, depth + 1, 0) < 0)
            return -1;
        lua_rawset(L, -3);
    }
}

/* pushes the value (a key when is_key), or returns -1 (the caller resets
 * the stack) */
static int dec_value(lua_State *L, lwc_dec *d, int depth, int is_key)
{
    uint64_t u;
    if (d->p >= d->end)
        return -1;
    switch (*d->p++) {
    case 'T':
        return is_key ? -1 : dec_table(L, d, depth);
    case 'S':
        if (dec_varint(d, &u) < 0 || u > (uint64_t)(d->end - d->p))
            return -1;
        lua_pushlstring(L, (const char *)d->p, (size_t)u);
        d->p += u;
        return 0;
    case 'I':
        if (dec_varint(d, &u) < 0)
            return -1;
        lua_pushinteger(L, (lua_Integer)((u >> 1) ^ (0 - (u & 1))));
        return 0;
    case 'F': {
        if (d->end - d->p < 8)
            return -1;
        uint64_t bits = 0;
        double x;
        for (int i = 0; i < 8; i++)
            bits |= (uint64_t)d->p[i] << (8 * i);
        d->p += 8;
        memcpy(&x, &bits, sizeof x);
        if (is_key && isnan(x))
            return -1;          /* not a valid table key */
        lua_pushnumber(L, x);
        return 0;
    }
    case 'Y':
    case 'N':
        lua_pushboolean(L, d->p[-1] == 'Y');
        return 0;
    }
    return -1;
}

/* web.session_decode(s) -> table | nil (damaged, or not a table)
 *                          | false (not this format: an old Lua literal) */
static int l_session_decode(lua_State *L)
{
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    if (n == 0 || s[0] != LWC_MAGIC) {
        lua_pushboolean(L, 0);
        return 1;
    }
    int base = lua_gettop(L);
    lwc_dec d = {s + 1, s + n};
    if (d.p >= d.end || *d.p != 'T' || dec_value(L, &d, 0, 0) < 0 || d.p != d.end) {
        lua_settop(L, base);
        lua_pushnil(L);
    }
    return 1;
}

/* ---- the session cookie --------------------------------------------------- */

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Finds the value the prelude's req.cookies would give `name` (the first
 * "name=value" part without control bytes, trimmed). 1 and the value when
 * it is plain; -1 when it is quoted or percent-encoded (ask req.cookies);
 * 0 when there is none. */
static int cookie_find(const char *h, size_t n, const char *name, size_t nlen,
                       const char **val, size_t *vlen)
{
    const char *end = h + n, *p = h;
    while (p < end) {
        const char *part = p, *stop = memchr(p, ';', (size_t)(end - p));
        if (!stop)
            stop = end;
        p = stop < end ? stop + 1 : end;
        while (part < stop && is_space((unsigned char)*part))
            part++;
        const char *k = part;
        while (part < stop && *part != '=' && !is_space((unsigned char)*part))
            part++;
        size_t klen = (size_t)(part - k);
        while (part < stop && is_space((unsigned char)*part))
            part++;
        if (klen != nlen || part == stop || *part != '=' || memcmp(k, name, nlen) != 0)
            continue;
        const char *v = part + 1, *ve = stop;
        while (v < ve && is_space((unsigned char)*v))
            v++;
        while (ve > v && is_space((unsigned char)ve[-1]))
            ve--;
        int plain = 1, bad = 0;
        for (const char *c = v; c < ve && !bad; c++) {
            bad = (unsigned char)*c < 32 || *c == 127;
            if (*c == '%' || *c == '"')
                plain = 0;
        }
        if (bad)
            continue;
        *val = v;
        *vlen = (size_t)(ve - v);
        return plain ? 1 : -1;
    }
    return 0;
}

/* web.cookie(header|nil, name) -> value | nil (absent)
 *                              | false (quoted or encoded: use req.cookies) */
static int l_cookie(lua_State *L)
{
    size_t n = 0, nlen, vlen;
    const char *h = luaL_optlstring(L, 1, NULL, &n);
    const char *name = luaL_checklstring(L, 2, &nlen), *v;
    int rc = h ? cookie_find(h, n, name, nlen, &v, &vlen) : 0;
    if (rc > 0)
        lua_pushlstring(L, v, vlen);
    else if (rc < 0)
        lua_pushboolean(L, 0);
    else
        lua_pushnil(L);
    return 1;
}

static const luaL_Reg lwc_fns[] = {
    {"session_encode", l_session_encode}, {"session_decode", l_session_decode},
    {"cookie", l_cookie},
    {NULL, NULL}
};

void lwc_open(lua_State *L)
{
    luaL_setfuncs(L, lwc_fns, 0);
}
