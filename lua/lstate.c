/*
 * lstate.c — building a worker's Lua state: the standard libraries, the
 * generational collector, `require` looking in the site folder first, the
 * C modules of the Lua layer (atto.web, atto.mail, ...), the embedded
 * scripts (prelude.lua first, then the other lua/ scripts in name order),
 * and finally the site's own index.lua and mail.lua. Errors come back as
 * "index.lua:12: what".
 */
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
static int run_file(lua_State *L, const char *path, int dev, char *err, size_t errlen)
{
    lua_pushcfunction(L, msgh_traceback);
    int base = lua_gettop(L);
    if (luaL_loadfile(L, path) != LUA_OK) {
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

    char path[4096];
    snprintf(path, sizeof path, "%s/mail.lua", cfg->site_dir);
    s->has_mail = file_exists(path);
    snprintf(path, sizeof path, "%s/index.lua", cfg->site_dir);
    if (file_exists(path)) {
        if (run_file(L, path, cfg->dev, err, errlen) < 0)
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

