/*
 * lgopher.c — Gopher for Lua: the app side of gopher/gopher.h (the
 * `lua_gopher_handler` table engine.c hands to the listener) and the C
 * module `atto.gopher` that lua/gopher.lua builds `req`/`res` on.
 *
 * Each selector runs as a task (lcore_spawn), so handlers may atto.sleep()
 * and are stopped by the run-time hook like web handlers. The task gets a
 * handle — userdata "atto.gopher.handle" holding the gopher_req — which
 * gopher.lua declares a to-be-closed variable. Its __close metamethod is C
 * code, so it runs even when the deadline hook keeps raising errors: it
 * logs a failed handler with file:line, sends the type-3 error item, ends
 * the menu with "." and lets the connection close. A handle whose request
 * went away (client gone, reply ended, file handed to gopher.c) holds NULL.
 */
#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "gopher/gopher.h"
#include "gopher/gopher_parse.h"
#include "lua/lcore.h"

#define GHANDLE_MT "atto.gopher.handle"

enum { M_NONE, M_MENU, M_TEXT, M_AWAY };   /* what the reply has become */

typedef struct ghandle {
    gopher_req *r;        /* NULL once the reply is over or the client left */
    lstate     *s;
    int         mode;
} ghandle;

/* The bytes of b; "" for a buf that never held any (no NULL arithmetic). */
static const char *bhead(const buf *b)
{
    return b->data ? buf_head(b) : "";
}

static ghandle *check_h(lua_State *L)
{
    return luaL_checkudata(L, 1, GHANDLE_MT);
}

static void detach(ghandle *h)
{
    if (h->r)
        h->r->app_data = NULL;
    h->r = NULL;
}

static void on_abort(gopher_req *r)
{
    ghandle *h = r->app_data;
    if (h)
        h->r = NULL;
}

static int write_buf(ghandle *h, buf *b)
{
    int rc = h->r ? gopher_write(h->r, bhead(b), buf_size(b)) : -1;
    buf_free(b);
    return rc;
}

/* ---- the handle: writing the reply -------------------------------------- */

/* G.menu(h, lines): raw menu lines (already formatted) */
static int l_menu(lua_State *L)
{
    ghandle *h = check_h(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    if (h->mode == M_TEXT || h->mode == M_AWAY)
        return luaL_error(L, "the gopher reply has already been sent");
    h->mode = M_MENU;
    lua_pushboolean(L, h->r && gopher_write(h->r, s, n) == 0);
    return 1;
}

/* G.text(h, s): a whole type-0 reply, dot-stuffed; ends the reply */
static int l_text(lua_State *L)
{
    ghandle *h = check_h(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    if (h->mode != M_NONE)
        return luaL_error(L, h->mode == M_MENU ? "res:text after menu lines (a reply is a menu or a text)"
                                               : "the gopher reply has already been sent");
    h->mode = M_TEXT;
    buf b = BUF_INIT;
    gopher_text(&b, s, n);
    int ok = write_buf(h, &b) == 0;
    if (h->r) {
        gopher_req *r = h->r;
        detach(h);
        gopher_end(r);
    }
    lua_pushboolean(L, ok);
    return 1;
}

/* G.file(h, absolute_path) -> true | nil, reason */
static int l_file(lua_State *L)
{
    ghandle *h = check_h(L);
    const char *path = luaL_checkstring(L, 2);
    if (h->mode != M_NONE)
        return luaL_error(L, "res:file: the gopher reply has already begun");
    if (!h->r) {
        lua_pushboolean(L, 0);
        return 1;
    }
    const char *err = NULL;
    gopher_req *r = h->r;
    if (gopher_serve_file(r, path, &err) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    h->r = NULL;         /* gopher.c owns it now */
    h->mode = M_AWAY;
    lua_pushboolean(L, 1);
    return 1;
}

/* G.static(h) -> true (served) | false (no such file) | nil, reason */
static int l_static(lua_State *L)
{
    ghandle *h = check_h(L);
    if (h->mode != M_NONE || !h->r) {
        lua_pushboolean(L, 0);
        return 1;
    }
    const char *err = NULL;
    int rc = gopher_serve_static(h->r, &err);
    if (rc > 0) {
        h->r = NULL;
        h->mode = M_AWAY;
    }
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, rc > 0);
    return 1;
}

/* __close(h, err) / __gc(h): end the reply; on error log it and say so. */
static int l_finish(lua_State *L)
{
    ghandle *h = check_h(L);
    int failed = !lua_isnoneornil(L, 2);
    if (failed) {
        const char *msg = lcore_short_error(h->s, luaL_tolstring(L, 2, NULL));
        log_error("gopher %s: %s", h->r ? h->r->selector : "(reply already sent)", msg);
        lua_pop(L, 1);
    }
    if (!h->r)
        return 0;
    gopher_req *r = h->r;
    buf b = BUF_INIT;
    if (failed) {
        const char *what = h->s->app->cfg->dev ? lua_tostring(L, 2) : NULL;
        what = what ? lcore_short_error(h->s, what) : "Internal server error";
        gopher_error_item(&b, what, strlen(what));
    }
    if (h->mode == M_MENU || h->mode == M_NONE)
        gopher_end_line(&b);
    write_buf(h, &b);
    detach(h);
    gopher_end(r);
    return 0;
}

static int l_mode(lua_State *L)
{
    static const char *names[] = {"none", "menu", "text", "away"};
    ghandle *h = check_h(L);
    lua_pushstring(L, names[h->mode]);
    lua_pushboolean(L, h->r != NULL);
    return 2;
}

/* ---- formatters ---------------------------------------------------------- */

/* G.item(type, text, selector, host, port) -> one menu line */
static int l_item(lua_State *L)
{
    size_t tl, tn, sn;
    const char *type = luaL_checklstring(L, 1, &tl);
    const char *text = luaL_checklstring(L, 2, &tn);
    const char *sel = luaL_checklstring(L, 3, &sn);
    const char *host = luaL_checkstring(L, 4);
    lua_Integer port = luaL_checkinteger(L, 5);
    if (tl != 1)
        return luaL_error(L, "a menu item type is one character, got \"%s\"", type);
    if (port < 0 || port > 65535)
        return luaL_error(L, "a menu item port is 0 to 65535, got %d", (int)port);
    buf b = BUF_INIT;
    const char *err = NULL;
    if (gopher_item(&b, type[0], text, tn, sel, sn, host, (int)port, &err) < 0) {
        buf_free(&b);
        return luaL_error(L, "bad menu item \"%s\": %s", text, err);
    }
    lua_pushlstring(L, bhead(&b), buf_size(&b));
    buf_free(&b);
    return 1;
}

static int push_formatted(lua_State *L, void (*fmt)(buf *, const char *, size_t))
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    buf b = BUF_INIT;
    fmt(&b, s, n);
    lua_pushlstring(L, bhead(&b), buf_size(&b));
    buf_free(&b);
    return 1;
}

static int l_info(lua_State *L) { return push_formatted(L, gopher_info); }
static int l_error_item(lua_State *L) { return push_formatted(L, gopher_error_item); }
static int l_dotstuff(lua_State *L) { return push_formatted(L, gopher_text); }

static int l_type_for(lua_State *L)
{
    char t = gopher_type_for(luaL_checkstring(L, 1));
    if (!t)
        return 0;
    lua_pushlstring(L, &t, 1);
    return 1;
}

static const luaL_Reg gopher_fns[] = {
    {"menu", l_menu}, {"text", l_text}, {"file", l_file}, {"static", l_static},
    {"finish", l_finish}, {"mode", l_mode}, {"item", l_item}, {"info", l_info},
    {"error_item", l_error_item}, {"dotstuff", l_dotstuff}, {"type_for", l_type_for},
    {NULL, NULL}
};

int luaopen_atto_gopher(lua_State *L)
{
    if (luaL_newmetatable(L, GHANDLE_MT)) {
        lua_pushcfunction(L, l_finish);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_finish);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "atto.gopher.handle");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    luaL_newlib(L, gopher_fns);
    return 1;
}

/* ---- the gopher_app the listener calls --------------------------------- */

static lstate *cur_state(void *app)
{
    return ((lapp *)app)->cur;
}

/* site:listen{ gopher_timeout = seconds, gopher_host = "name" } */
static void lg_config(void *app, gopher_config *cfg)
{
    lua_State *L = cur_state(app)->L;
    int top = lua_gettop(L);
    lua_getglobal(L, "atto");
    if (lua_istable(L, -1) && lua_getfield(L, -1, "_listen") == LUA_TTABLE) {
        int isnum = 0;
        lua_getfield(L, -1, "gopher_timeout");
        lua_Number t = lua_tonumberx(L, -1, &isnum);
        if (isnum && t > 0 && t < 86400)
            cfg->read_timeout_ms = (uint64_t)(t * 1000.0) ? (uint64_t)(t * 1000.0) : 1;
        lua_getfield(L, -2, "gopher_host");
        size_t n;
        const char *host = lua_tolstring(L, -1, &n);
        if (host && n && n < sizeof cfg->host && !strpbrk(host, "\t\r\n"))
            memcpy(cfg->host, host, n + 1);
    }
    lua_settop(L, top);
}

static void lg_handle(void *app, gopher_req *r)
{
    lstate *s = cur_state(app);
    lua_State *L = s->L;
    lua_getglobal(L, "atto");
    if (!lua_istable(L, -1) || lua_getfield(L, -1, "_gopher_dispatch") != LUA_TFUNCTION) {
        lua_settop(L, 0);
        gopher_fail(r, "this server has no Gopher handler");
        return;
    }
    lua_remove(L, -2);
    ghandle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->r = r;
    h->s = s;
    h->mode = M_NONE;
    luaL_setmetatable(L, GHANDLE_MT);
    r->app_data = h;
    r->on_abort = on_abort;
    lua_pushstring(L, r->selector);
    if (r->query)
        lua_pushstring(L, r->query);
    else
        lua_pushnil(L);
    lua_pushstring(L, r->c->remote_addr);
    lua_pushstring(L, r->host);
    lua_pushinteger(L, r->port);
    lcore_spawn(s, 6);
}

const gopher_app lua_gopher_handler = {
    .config = lg_config,
    .handle = lg_handle,
};
