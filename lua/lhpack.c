/*
 * lhpack.c — `require "atto.hpack"`: atto's own HPACK engine for scripts,
 * the Lua face of the educational view `atto hpack --trace` gives on the
 * command line (the classic Atto HPACK demo page is built on it).
 *
 *   local hp = require "atto.hpack"
 *   local bytes, trace = hp.encode({ {":method", "GET"}, {"accept", "text/html"} }, { huffman = true })
 *   local fields, trace = hp.decode(bytes)      -- nil, "reason at byte N" on bad input
 *
 * Each call uses a fresh encoder/decoder (a 4096-byte dynamic table); trace
 * is a list of lines: every representation and the table after each field.
 */
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>
#include "core/hpack.h"

#define MAX_FIELDS 256

static void trace_line(void *ud, const char *line)
{
    lua_State *L = ud;           /* the trace table is at the top */
    lua_pushstring(L, line);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
}

static int l_encode(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int huffman = 1;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "huffman");
        if (!lua_isnil(L, -1))
            huffman = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_Integer n = luaL_len(L, 1);
    if (n > MAX_FIELDS)
        return luaL_error(L, "atto.hpack.encode: at most %d fields", MAX_FIELDS);
    lua_newtable(L);                       /* trace, stays at index 3 */
    int trace_idx = lua_gettop(L);
    hpack_enc e;
    hpack_enc_init(&e, 4096);
    e.no_huffman = !huffman;
    e.trace = trace_line;
    e.trace_ud = L;
    buf out = BUF_INIT;
    hpack_enc_begin_block(&e, &out);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (!lua_istable(L, -1)) {
            hpack_enc_free(&e);
            buf_free(&out);
            return luaL_error(L, "atto.hpack.encode: field %d is not a {name, value} pair", (int)i);
        }
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        size_t nl, vl;
        const char *name = lua_tolstring(L, -2, &nl), *value = lua_tolstring(L, -1, &vl);
        if (!name || !value) {
            hpack_enc_free(&e);
            buf_free(&out);
            return luaL_error(L, "atto.hpack.encode: field %d needs a name and a value", (int)i);
        }
        lua_pushvalue(L, trace_idx);       /* trace_line appends to the top table */
        hpack_encode_field(&e, &out, name, nl, value, vl, 0);
        lua_pop(L, 4);
    }
    lua_pushlstring(L, buf_head(&out), buf_size(&out));
    lua_pushvalue(L, trace_idx);
    hpack_enc_free(&e);
    buf_free(&out);
    return 2;
}

typedef struct decode_ctx { lua_State *L; int list; int n; } decode_ctx;

static int on_field(void *ud, const char *name, size_t nl, const char *value, size_t vl, int flags)
{
    decode_ctx *d = ud;
    lua_State *L = d->L;
    if (d->n >= MAX_FIELDS)
        return -100;
    lua_createtable(L, 2, 1);
    lua_pushlstring(L, name, nl);
    lua_rawseti(L, -2, 1);
    lua_pushlstring(L, value, vl);
    lua_rawseti(L, -2, 2);
    if (flags & HPACK_NEVER_INDEXED) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "never_indexed");
    }
    lua_rawseti(L, d->list, ++d->n);
    return 0;
}

static int l_decode(lua_State *L)
{
    size_t len;
    const char *in = luaL_checklstring(L, 1, &len);
    lua_newtable(L);
    decode_ctx d = { L, lua_gettop(L), 0 };
    lua_newtable(L);                       /* trace: always on top when traced */
    int trace_idx = lua_gettop(L);
    hpack_dec dec;
    hpack_dec_init(&dec, 4096, 64 * 1024);
    dec.trace = trace_line;
    dec.trace_ud = L;
    const char *err = NULL;
    size_t off = 0;
    int rc = hpack_decode_block(&dec, (const uint8_t *)in, len, on_field, &d, &err, &off);
    char msg[160];
    if (rc == -100)
        snprintf(msg, sizeof msg, "more than %d fields", MAX_FIELDS);
    else if (rc < 0)
        snprintf(msg, sizeof msg, "%s at byte %zu", err ? err : "bad header block", off);
    hpack_dec_free(&dec);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, msg);
        lua_pushvalue(L, trace_idx);
        return 3;
    }
    lua_pushvalue(L, d.list);
    lua_pushvalue(L, trace_idx);
    return 2;
}

int luaopen_atto_hpack(lua_State *L)
{
    static const luaL_Reg fns[] = { {"encode", l_encode}, {"decode", l_decode}, {NULL, NULL} };
    luaL_newlib(L, fns);
    return 1;
}
