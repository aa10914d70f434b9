/*
 * lstate.c — building a worker's Lua state: the standard libraries, the
 * generational collector, `require` looking in the site folder first, the
 * C modules of the Lua layer (atto.web, atto.mail, ...), the embedded
 * scripts (prelude.lua first, then the other lua/ scripts in name order),
 * and finally the site's own index.lua and mail.lua. Errors come back as
 * "index.lua:12: what".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <lauxlib.h>
#include <lualib.h>
#include "lua/lcore.h"
#include "lua/prelude.h"

/* ---- building a state --------------------------------------------------- */

/* C modules other files of the Lua layer provide (weak: each may be absent
 * while it is being built). Scripts reach them with require "atto.x". */
int luaopen_atto_web(lua_State *L) __attribute__((weak));
int luaopen_atto_static(lua_State *L) __attribute__((weak));
int luaopen_atto_gopher(lua_State *L) __attribute__((weak));
int luaopen_atto_mail(lua_State *L) __attribute__((weak));
int luaopen_atto_hpack(lua_State *L) __attribute__((weak));
static const struct { const char *name; lua_CFunction open; } c_modules[] = {
    {"atto.web", luaopen_atto_web},
    {"atto.static", luaopen_atto_static},
    {"atto.gopher", luaopen_atto_gopher},
    {"atto.mail", luaopen_atto_mail},
    {"atto.hpack", luaopen_atto_hpack},
};

/* ---- site files under short names --------------------------------------- */

/* Load a Lua file as luaL_loadfile does (a UTF-8 BOM and a first "#" line
 * skipped, text or binary chunk), but named after its path inside the site
 * folder ("@index.lua", "@lib/util.lua"): Lua cuts a chunk name to 60
 * characters ("...rojects/site/index.lua"), so a site in a long path got
 * file:line messages that could not be shortened. */
static int load_site_file(lua_State *L, const char *path, const char *site_dir)
{
    size_t dn = strlen(site_dir);
    const char *rel = strncmp(path, site_dir, dn) == 0 && path[dn] == '/' ? path + dn + 1 : path;
    FILE *f = fopen(path, "rb");
    if (!f) {
        lua_pushfstring(L, "cannot open %s: %s", rel, strerror(errno));
        return LUA_ERRFILE;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t n;
    do {
        char *room = luaL_prepbuffer(&b);
        n = fread(room, 1, LUAL_BUFFERSIZE, f);
        luaL_addsize(&b, n);
    } while (n == LUAL_BUFFERSIZE);
    int bad = ferror(f);
    fclose(f);
    luaL_pushresult(&b);
    if (bad) {
        lua_pop(L, 1);
        lua_pushfstring(L, "cannot read %s", rel);
        return LUA_ERRFILE;
    }
    size_t len;
    const char *p = lua_tolstring(L, -1, &len);
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3, len -= 3;
    if (len && *p == '#') {        /* keep the newline: line numbers stay right */
        const char *nl = memchr(p, '\n', len);
        len = nl ? len - (size_t)(nl - p) : 0;
        p = nl ? nl : p;
    }
    lua_pushfstring(L, "@%s", rel);
    int rc = luaL_loadbufferx(L, p, len, lua_tostring(L, -1), NULL);
    lua_remove(L, -2);   /* the name */
    lua_remove(L, -2);   /* the text */
    return rc;
}

/* package.searchers[2] for the site: package.path as usual, the file
 * loaded by load_site_file (upvalue 1: the site folder). */
static int site_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *dir = lua_tostring(L, lua_upvalueindex(1));
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushvalue(L, 1);
    lua_getfield(L, -3, "path");
    if (!lua_isstring(L, -1))
        return luaL_error(L, "'package.path' must be a string");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 1;                  /* searchpath's "no file ..." list */
    lua_pop(L, 1);
    const char *file = lua_tostring(L, -1);
    if (load_site_file(L, file, dir) != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name,
                          file, lua_tostring(L, -1));
    lua_pushstring(L, file);
    return 2;
}

/* atto._loadfile(path) -> chunk | nil, message: loadfile with the short name */
static int l_site_loadfile(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (load_site_file(L, path, lua_tostring(L, lua_upvalueindex(1))) != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

static void install_site_loaders(lua_State *L, const char *site_dir)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    lua_pushstring(L, site_dir);
    lua_pushcclosure(L, site_searcher, 1);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
}

static int msgh_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Run a script file with a traceback handler; error text into err. */
static int run_file(lua_State *L, const char *path, const char *site_dir, int dev,
                    char *err, size_t errlen)
{
    lua_pushcfunction(L, msgh_traceback);
    int base = lua_gettop(L);
    if (load_site_file(L, path, site_dir) != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_settop(L, base - 1);
        return -1;
    }
    if (lua_pcall(L, 0, 0, base) != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        if (!dev) {   /* first line only: "file:line: what" */
            const char *nl = m ? strchr(m, '\n') : NULL;
            snprintf(err, errlen, "%.*s", nl ? (int)(nl - m) : (int)strlen(m ? m : ""), m ? m : "");
        } else {
            snprintf(err, errlen, "%s", m ? m : "error");
        }
        lua_settop(L, base - 1);
        return -1;
    }
    lua_settop(L, base - 1);
    return 0;
}

lua_State *lcore_new_state(lstate *s, const server_config *cfg, char *err, size_t errlen)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        snprintf(err, errlen, "cannot create a Lua state (out of memory)");
        return NULL;
    }
    s->L = L;
    lcore_init_state(s, L);
    luaL_openlibs(L);
    /* requests make short-lived garbage: the generational collector fits */
    lua_gc(L, LUA_GCGEN, 0, 0);

    /* require: the site folder first, then the system's Lua 5.4 modules */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", cfg->site_dir, cfg->site_dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
    install_site_loaders(L, cfg->site_dir);

    /* C modules of the Lua layer, by require name */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    for (size_t i = 0; i < sizeof c_modules / sizeof c_modules[0]; i++)
        if (c_modules[i].open) {
            lua_pushcfunction(L, c_modules[i].open);
            lua_setfield(L, -2, c_modules[i].name);
        }
    lua_pop(L, 2);

    /* the prelude builds atto, site, req and res on core.*; the other
     * embedded scripts extend them, in name order */
    lcore_push_core(L);
    int core_idx = lua_gettop(L);
    for (size_t i = 0; i < sizeof embedded_lua / sizeof embedded_lua[0]; i++) {
        if (luaL_loadbuffer(L, (const char *)embedded_lua[i].code, embedded_lua[i].len,
                            embedded_lua[i].name) != LUA_OK) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
            goto fail;
        }
        lua_pushvalue(L, core_idx);
        if (lua_pcall(L, 1, i == 0 ? 2 : 0, 0) != LUA_OK) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
            goto fail;
        }
        if (i == 0) {
            s->error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            s->dispatch_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        }
    }
    lua_settop(L, 0);
    lua_getglobal(L, "atto");      /* mail.lua is loaded under its short name too */
    lua_pushstring(L, cfg->site_dir);
    lua_pushcclosure(L, l_site_loadfile, 1);
    lua_setfield(L, -2, "_loadfile");
    lua_pop(L, 1);

    char path[4096];
    snprintf(path, sizeof path, "%s/mail.lua", cfg->site_dir);
    s->has_mail = file_exists(path);
    snprintf(path, sizeof path, "%s/index.lua", cfg->site_dir);
    if (file_exists(path)) {
        if (run_file(L, path, cfg->site_dir, cfg->dev, err, errlen) < 0)
            goto fail;
    } else {
        char pub[4096];
        snprintf(pub, sizeof pub, "%s/public", cfg->site_dir);
        if (!s->has_mail && !file_exists(pub)) {
            snprintf(err, errlen, "%s: not found — a site needs index.lua (run `atto new %s` to make one)",
                     path, cfg->site_dir);
            goto fail;
        }
    }
    if (s->has_mail) {
        snprintf(path, sizeof path, "%s/mail.lua", cfg->site_dir);
        lua_getglobal(L, "atto");
        lua_getfield(L, -1, "_load_mail");
        lua_remove(L, -2);
        if (lua_isfunction(L, -1)) {
            lua_pushstring(L, path);
            if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
                snprintf(err, errlen, "%s", lua_tostring(L, -1));
                goto fail;
            }
        } else {
            lua_pop(L, 1);
        }
    }
    return L;
fail:
    lcore_close_timers(s);
    lua_close(L);
    s->L = NULL;
    return NULL;
}

