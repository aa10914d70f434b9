/*
 * lcore.c — the C side of the Lua web API: building a state, running
 * handlers as tasks (coroutines with a deadline), timers, and the small set
 * of primitives (`core.*`) that lua/prelude.lua builds `site`, `req`, `res`
 * and `atto` on. Everything a script can reach that touches the server goes
 * through here; the rest of the API is plain Lua in the prelude.
 */
#include "lua/lcore.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>
#include <lauxlib.h>
#include <lualib.h>
#include "core/buf.h"
#include "core/conn.h"
#include "core/static.h"

#define HANDLE_MT "atto.handle"

typedef struct ltask {
    lstate     *s;
    lua_State  *co;
    int         co_ref;
    struct lhandle *h;        /* NULL for timer tasks */
    uv_timer_t  sleep;
    int         sleeping;
    int         closing;
    uint64_t    deadline;     /* uv_hrtime() limit for the current slice */
    struct ltask *next;       /* in the state's pool of idle tasks */
} ltask;

#define TASK_POOL_MAX 64

typedef struct lhandle {
    http_req *r;              /* NULL once the response ended or the client left */
    int       aborted;
    /* what req.host/scheme/... read on first use — copied, because a
     * middleware may look after the response (and r) is gone */
    const char *scheme, *protocol;
    int       port;
    uint64_t  id;
    char      addr[48];
    size_t    host_len;
    char      host[];         /* host_len bytes (at most HOST_MAX): a small
                               * handle means fewer collector steps */
} lhandle;

#define HOST_MAX 256

struct ltimer {
    uv_timer_t h;
    lstate    *s;
    int        fn_ref, id, closing;
    uint64_t   ms, repeat_ms;
    ltimer    *next;
};

static ltask **task_slot(lua_State *co) { return (ltask **)lua_getextraspace(co); }
static lstate *state_of(lua_State *L);
static lhandle *check_handle(lua_State *L, int i);

const char *lcore_short_error(lstate *s, const char *msg)
{
    const char *dir = s->app->cfg->site_dir;
    size_t n = strlen(dir);
    if (msg && strncmp(msg, dir, n) == 0 && msg[n] == '/')
        return msg + n + 1;
    return msg ? msg : "(error object is not a string)";
}

/* ---- tasks -------------------------------------------------------------- */

static void deadline_hook(lua_State *co, lua_Debug *ar)
{
    (void)ar;
    ltask *t = *task_slot(co);
    if (t && uv_hrtime() > t->deadline)
        luaL_error(co, "handler ran longer than %d ms without yielding (stopped)",
                   (int)t->s->app->cfg->limits.handler_ms);
}

static void task_freed(uv_handle_t *h)
{
    free(h->data);
}

/* A task is done. One that ended cleanly keeps its coroutine and timer for
 * the next request (a finished Lua 5.4 coroutine takes a new function);
 * one that died is dropped. Either way the state loses this reference. */
static void task_end(ltask *t, int clean)
{
    lstate *s = t->s;
    t->h = NULL;
    if (clean && s->npool < TASK_POOL_MAX && s->refs > 1) {
        t->next = s->pool;
        s->pool = t;
        s->npool++;
    } else {
        *task_slot(t->co) = NULL;
        luaL_unref(s->L, LUA_REGISTRYINDEX, t->co_ref);
        t->closing = 1;
        uv_close((uv_handle_t *)&t->sleep, task_freed);
    }
    lstate_unref(s);
}

/* The state is going away: release the pooled tasks' timers. */
void lcore_close_pool(lstate *s)
{
    while (s->pool) {
        ltask *t = s->pool;
        s->pool = t->next;
        uv_close((uv_handle_t *)&t->sleep, task_freed);
    }
    s->npool = 0;
}

static void send_500(lstate *s, lhandle *h, const char *msg, const char *tb)
{
    http_req *r = h->r;
    if (!r)
        return;
    r->app_data = NULL;   /* cut the handle first: r may be gone after the last body */
    h->r = NULL;
    if (r->started) {   /* too late for a status: cut the stream short */
        r->drv->body(r, "", 0, 1);
        return;
    }
    lua_State *L = s->L;
    /* the site's error page, if it has one, else a plain one */
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->error_ref);
    lua_pushinteger(L, 500);
    lua_pushstring(L, msg);
    lua_pushstring(L, s->app->cfg->dev ? tb : NULL);
    if (lua_pcall(L, 3, 2, 0) == LUA_OK && lua_isstring(L, -2)) {
        size_t n;
        const char *body = lua_tolstring(L, -2, &n);
        const char *ctype = lua_isstring(L, -1) ? lua_tostring(L, -1) : "text/html; charset=utf-8";
        http_hdr hd = {"content-type", 12, ctype, strlen(ctype)};
        r->drv->start(r, 500, &hd, 1, (int64_t)n);
        r->drv->body(r, body, n, 1);
    } else {
        static const char txt[] = "500 Internal Server Error\n";
        http_respond_simple(r, 500, "text/plain; charset=utf-8", txt, sizeof txt - 1);
    }
    lua_settop(L, 0);
}

/* ---- the runaway-handler watchdog ---------------------------------------
 * A count hook on every coroutine would make the Lua VM call into the hook
 * machinery on every instruction (Lua 5.4 runs hooked code on a slow path,
 * ~4x slower). Instead the server's main thread watches each worker's
 * busy_since and, when a task has run past limits.handler_ms, sends the
 * worker thread SIGUSR2; the handler below (on that thread, which is the
 * use lua_sethook documents as safe) arms a hook on the running coroutine,
 * and the hook raises an error on every instruction from then on, so pcall
 * cannot swallow it. */
static _Thread_local lua_State *volatile running_co;

static void on_watchdog_signal(int sig)
{
    (void)sig;
    lua_State *co = running_co;
    if (co)
        lua_sethook(co, deadline_hook, LUA_MASKCOUNT, 1);
}

static void watchdog_install(void)
{
    static int done;
    if (done++)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_watchdog_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
}

static void task_resume(ltask *t, int nargs)
{
    lstate *s = t->s;
    lua_State *co = t->co;
    worker *w = s->app->w;
    int nres = 0;
    t->sleeping = 0;
    t->deadline = uv_hrtime() + s->app->cfg->limits.handler_ms * 1000000ull;
    lua_sethook(co, NULL, 0, 0);
    running_co = co;
    w->busy_since = uv_hrtime();
    int rc = lua_resume(co, s->L, nargs, &nres);
    w->busy_since = 0;
    running_co = NULL;
    lua_sethook(co, NULL, 0, 0);
    if (rc == LUA_YIELD) {
        lua_pop(co, nres);
        if (t->sleeping)
            return;
        rc = LUA_ERRRUN;
        lua_pushstring(co, "a handler yielded outside atto.sleep()");
    }
    lhandle *h = t->h;
    if (rc != LUA_OK) {
        const char *msg = lcore_short_error(s, lua_tostring(co, -1));
        luaL_traceback(s->L, co, msg, 0);
        const char *tb = lua_tostring(s->L, -1);
        if (h && h->r)
            log_error("%.*s %.*s: %s", (int)h->r->method_len, h->r->method,
                      (int)h->r->target_len, h->r->target, tb);
        else
            log_error("%s", tb);
        if (h)
            send_500(s, h, msg, tb);
        lua_settop(s->L, 0);
    } else if (h && h->r) {
        http_req *r = h->r;
        if (!r->started)
            r->drv->start(r, 204, NULL, 0, 0);
        if (!r->finished && h->r) {
            r->app_data = NULL;
            h->r = NULL;
            r->drv->body(r, "", 0, 1);
        }
    }
    if (h && h->r) {        /* finished above: cut the handle */
        h->r->app_data = NULL;
        h->r = NULL;
    }
    lua_settop(co, 0);
    task_end(t, rc == LUA_OK);
}

static void on_sleep_done(uv_timer_t *tm)
{
    ltask *t = tm->data;
    task_resume(t, 0);
}

/* Start a task running the function below `nargs` arguments on s->L. */
static ltask *task_new(lstate *s, int nargs, lhandle *h)
{
    lua_State *L = s->L;
    ltask *t = s->pool;
    if (t) {
        s->pool = t->next;
        s->npool--;
    } else {
        t = calloc(1, sizeof *t);
        t->s = s;
        t->co = lua_newthread(L);
        t->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        *task_slot(t->co) = t;
        uv_timer_init(s->app->w->loop, &t->sleep);
        t->sleep.data = t;
    }
    t->h = h;
    t->next = NULL;
    lua_xmove(L, t->co, nargs + 1);
    s->refs++;
    return t;
}

void lcore_watchdog_install(void) { watchdog_install(); }

void lcore_spawn(lstate *s, int nargs)
{
    ltask *t = task_new(s, nargs, NULL);
    task_resume(t, nargs);
}

static void on_abort(http_req *r)
{
    lhandle *h = r->app_data;
    if (h) {
        h->r = NULL;
        h->aborted = 1;
    }
}

static void push_string_or_empty(lua_State *L, const char *p, size_t n)
{
    lua_pushlstring(L, p ? p : "", p ? n : 0);
}

/* ---- the static fast path ----------------------------------------------
 * When a GET for a URL path fell through every route to a file in public/,
 * and the site has no middleware at all, the answer for that path cannot
 * change until the scripts reload (a new lstate): the prelude tells us with
 * core.static_hint(path, file) and later requests for it skip Lua. */

#define HINT_SLOTS 4096   /* power of two; at most 3/4 used */

struct lhint { char *path; char *file; uint32_t hash; };

static uint32_t hint_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h | 1;
}

static struct lhint *hint_find(lstate *s, const char *p, size_t n, uint32_t h)
{
    for (uint32_t i = h & (HINT_SLOTS - 1);; i = (i + 1) & (HINT_SLOTS - 1)) {
        struct lhint *e = &s->hints[i];
        if (!e->hash)
            return e;
        if (e->hash == h && strlen(e->path) == n && memcmp(e->path, p, n) == 0)
            return e;
    }
}

static int l_static_hint(lua_State *L)
{
    size_t n;
    const char *path = luaL_checklstring(L, 1, &n);
    const char *file = luaL_checkstring(L, 2);
    lstate *s = state_of(L);
    if (!s->hints)
        s->hints = calloc(HINT_SLOTS, sizeof *s->hints);
    if (!s->hints || s->nhints >= HINT_SLOTS * 3 / 4)
        return 0;
    uint32_t h = hint_hash(path, n);
    struct lhint *e = hint_find(s, path, n, h);
    if (!e->hash) {
        e->hash = h;
        e->path = strdup(path);
        e->file = strdup(file);
        s->nhints++;
    }
    return 0;
}

void lcore_free_hints(lstate *s)
{
    for (int i = 0; s->hints && i < HINT_SLOTS; i++) {
        free(s->hints[i].path);
        free(s->hints[i].file);
    }
    free(s->hints);
    s->hints = NULL;
    s->nhints = 0;
}

static int try_static_hint(lstate *s, http_req *r)
{
    int get = r->method_len == 3 && memcmp(r->method, "GET", 3) == 0;
    if (!get && !r->head)
        return 0;
    if (memchr(r->target, '?', r->target_len))
        return 0;
    struct lhint *e = hint_find(s, r->target, r->target_len, hint_hash(r->target, r->target_len));
    if (!e->hash)
        return 0;
    return static_serve(r, e->file) > 0;   /* gone since: Lua decides again */
}

void lcore_handle(lstate *s, http_req *r)
{
    if (s->nhints && try_static_hint(s, r))
        return;
    lua_State *L = s->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->dispatch_ref);
    size_t host_len = r->host_len < HOST_MAX ? r->host_len : HOST_MAX;
    lhandle *h = lua_newuserdatauv(L, sizeof *h + host_len, 0);
    h->r = r;
    h->aborted = 0;
    luaL_setmetatable(L, HANDLE_MT);
    r->app_data = h;
    r->on_abort = on_abort;
    h->scheme = r->scheme;
    h->protocol = r->protocol;
    h->port = r->c->remote_port;
    h->id = r->id;
    memcpy(h->addr, r->c->remote_addr, sizeof h->addr);
    h->host_len = host_len;
    if (host_len)
        memcpy(h->host, r->host, h->host_len);
    push_string_or_empty(L, r->method, r->method_len);
    push_string_or_empty(L, r->target, r->target_len);
    push_string_or_empty(L, r->body, r->body_len);
    /* where the query starts, and whether the path needs more than a
     * table lookup (percent-escapes, no leading '/'): the prelude's
     * common case then makes no substring and runs no pattern */
    const char *q = r->target ? memchr(r->target, '?', r->target_len) : NULL;
    size_t plen = q ? (size_t)(q - r->target) : r->target_len;
    lua_pushinteger(L, q ? (lua_Integer)plen + 1 : 0);
    lua_pushboolean(L, plen == 0 || r->target[0] != '/' || memchr(r->target, '%', plen) != NULL);
    ltask *t = task_new(s, 6, h);
    task_resume(t, 6);
}

/* core.info(h) -> host, scheme, protocol, remote_addr, remote_port, id */
static int l_info(lua_State *L)
{
    lhandle *h = check_handle(L, 1);
    lua_pushlstring(L, h->host, h->host_len);
    lua_pushstring(L, h->scheme);
    lua_pushstring(L, h->protocol);
    lua_pushstring(L, h->addr);
    lua_pushinteger(L, h->port);
    lua_pushinteger(L, (lua_Integer)h->id);
    return 6;
}

/* ---- core.* primitives -------------------------------------------------- */

/* The core.* functions hold the handle metatable as upvalue 1: one
 * pointer comparison instead of luaL_checkudata's registry lookup by
 * name (~300 instructions per call, on every response). */
static lhandle *check_handle(lua_State *L, int i)
{
    lhandle *h = lua_touserdata(L, i);
    if (h && lua_getmetatable(L, i)) {
        int same = lua_rawequal(L, -1, lua_upvalueindex(1));
        lua_pop(L, 1);
        if (same)
            return h;
    }
    luaL_typeerror(L, i, HANDLE_MT);
    return NULL;
}

/* Send the head: `first` (a content-type, or NULL), then the table at
 * index `ti` (flat name, value pairs; not a table: none). 0 if the request
 * is gone or its head already went out. */
static int start_head(lua_State *L, lhandle *h, int status, const http_hdr *first, int ti,
                      lua_Integer clen)
{
    if (!h->r || h->r->started)
        return 0;
    http_hdr hd[64];
    size_t n = 0;
    if (first)
        hd[n++] = *first;
    lua_Integer len = lua_istable(L, ti) ? luaL_len(L, ti) : 0;
    for (lua_Integer i = 1; i + 1 <= len && n < 64; i += 2, n++) {
        lua_rawgeti(L, ti, i);
        lua_rawgeti(L, ti, i + 1);
        hd[n].name = lua_tolstring(L, -2, &hd[n].name_len);
        hd[n].value = lua_tolstring(L, -1, &hd[n].value_len);
        lua_pop(L, 2);   /* strings stay alive: the table holds them */
        if (!hd[n].name || !hd[n].value)
            return luaL_error(L, "response header %d is not a string", (int)(i / 2 + 1));
    }
    h->r->drv->start(h->r, status, hd, n, clen);
    return 1;
}

/* core.start(h, status, {n1, v1, n2, v2, ...}, content_length or -1) */
static int l_start(lua_State *L)
{
    lhandle *h = check_handle(L, 1);
    int status = (int)luaL_checkinteger(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer clen = luaL_optinteger(L, 4, -1);
    lua_pushboolean(L, start_head(L, h, status, NULL, 3, clen));
    return 1;
}

/* core.send(h, status, {n1, v1, ...} or false, body [, content_type]):
 * the whole response at once, as core.start with the body's length then
 * core.body(h, body, true). The content-type, if given, goes first. A
 * body that is not a string goes through tostring(). */
static int l_send(lua_State *L)
{
    lhandle *h = check_handle(L, 1);
    int status = (int)luaL_checkinteger(L, 2);
    if (!lua_istable(L, 3) && !lua_isnoneornil(L, 3) && lua_toboolean(L, 3))
        luaL_typeerror(L, 3, "table or false");
    http_hdr ct, *first = NULL;
    if (!lua_isnoneornil(L, 5)) {
        ct.name = "content-type";
        ct.name_len = 12;
        ct.value = luaL_checklstring(L, 5, &ct.value_len);
        first = &ct;
    }
    if (lua_type(L, 4) != LUA_TSTRING) {
        luaL_tolstring(L, 4, NULL);
        lua_replace(L, 4);
    }
    size_t n;
    const char *p = lua_tolstring(L, 4, &n);
    if (!start_head(L, h, status, first, 3, (lua_Integer)n) || !h->r || !h->r->started) {
        lua_pushboolean(L, 0);
        return 1;
    }
    http_req *r = h->r;
    r->app_data = NULL;
    h->r = NULL;
    lua_pushboolean(L, r->drv->body(r, p, n, 1) >= 0);
    return 1;
}

/* core.body(h, data, fin) -> true, or false when the client is gone */
static int l_body(lua_State *L)
{
    lhandle *h = check_handle(L, 1);
    size_t n = 0;
    const char *p = luaL_optlstring(L, 2, "", &n);
    int fin = lua_toboolean(L, 3);
    http_req *r = h->r;
    if (!r || !r->started) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (fin) {
        r->app_data = NULL;
        h->r = NULL;
    }
    lua_pushboolean(L, r->drv->body(r, p, n, fin) >= 0);
    return 1;
}

static int l_alive(lua_State *L)
{
    lhandle *h = check_handle(L, 1);
    lua_pushboolean(L, h->r != NULL);
    lua_pushboolean(L, h->r && h->r->started);
    return 2;
}

/* core.headers(h) -> { name = value } with repeats joined (", " or "; ") */
static int l_headers(lua_State *L)
{
    lhandle *h = check_handle(L, 1);
    lua_createtable(L, 0, h->r ? (int)h->r->nheaders : 0);
    if (!h->r)
        return 1;
    http_req *r = h->r;
    for (size_t i = 0; i < r->nheaders; i++) {
        http_hdr *x = &r->headers[i];
        lua_pushlstring(L, x->name, x->name_len);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, -3) == LUA_TSTRING) {
            int cookie = x->name_len == 6 && memcmp(x->name, "cookie", 6) == 0;
            lua_pushstring(L, cookie ? "; " : ", ");
            lua_pushlstring(L, x->value, x->value_len);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, x->value, x->value_len);
        }
        lua_rawset(L, -3);
    }
    return 1;
}

/* core.header(h, lname) -> one header's value (repeats joined as in
 * core.headers: "; " for cookie, ", " for the rest), or nil: for a handler
 * (or the session code) that wants one header without the whole table. */
static int l_header(lua_State *L)
{
    lhandle *h = check_handle(L, 1);
    size_t nlen;
    const char *name = luaL_checklstring(L, 2, &nlen);
    http_req *r = h->r;
    const http_hdr *first = NULL;
    size_t i = 0, found = 0;
    for (; r && i < r->nheaders; i++) {
        const http_hdr *x = &r->headers[i];
        if (x->name_len == nlen && memcmp(x->name, name, nlen) == 0 && !found++)
            first = x;
    }
    if (!found) {
        lua_pushnil(L);
    } else if (found == 1) {
        lua_pushlstring(L, first->value, first->value_len);
    } else {
        int cookie = nlen == 6 && memcmp(name, "cookie", 6) == 0;
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (i = 0; i < r->nheaders; i++) {
            const http_hdr *x = &r->headers[i];
            if (x->name_len != nlen || memcmp(x->name, name, nlen) != 0)
                continue;
            if (x != first)
                luaL_addstring(&b, cookie ? "; " : ", ");
            luaL_addlstring(&b, x->value, x->value_len);
        }
        luaL_pushresult(&b);
    }
    return 1;
}

static int l_pending(lua_State *L)
{
    lhandle *h = check_handle(L, 1);
    lua_pushinteger(L, h->r ? (lua_Integer)h->r->drv->pending(h->r) : 0);
    return 1;
}

/* core.sleep(seconds): arm the timer; the prelude then yields. */
static int l_sleep(lua_State *L)
{
    double sec = luaL_checknumber(L, 1);
    ltask *t = *task_slot(L);
    if (!t)
        return luaL_error(L, "atto.sleep() works only inside a handler or timer");
    if (sec < 0)
        sec = 0;
    t->sleeping = 1;
    uv_timer_start(&t->sleep, on_sleep_done, (uint64_t)(sec * 1000.0), 0);
    return 0;
}

/* core.serve_file(h, absolute_path, status) -> true if served */
static int l_serve_file(lua_State *L)
{
    lhandle *h = check_handle(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (!h->r || h->r->started) {
        lua_pushboolean(L, 0);
        return 1;
    }
    http_req *r = h->r;
    /* hand r to the static module: it may keep streaming after we return */
    r->app_data = NULL;
    r->on_abort = NULL;
    h->r = NULL;
    int rc = static_serve(r, path);
    if (rc <= 0) {          /* not served: the request is ours again */
        r->app_data = h;
        r->on_abort = on_abort;
        h->r = r;
    }
    lua_pushboolean(L, rc > 0);
    return 1;
}

static int l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec / 1e9);
    return 1;
}

static int l_log(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, ' ');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 0;
}

static int l_log_error(lua_State *L)
{
    lstate *s = *(lstate **)lua_getextraspace(L);
    (void)s;
    log_error("%s", luaL_checkstring(L, 1));
    return 0;
}

/* ---- timers ------------------------------------------------------------- */

static lstate *state_of(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "atto.lstate");
    lstate *s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
}

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void timer_drop(ltimer *tm)
{
    lstate *s = tm->s;
    for (ltimer **pp = &s->timers; *pp; pp = &(*pp)->next)
        if (*pp == tm) {
            *pp = tm->next;
            break;
        }
    luaL_unref(s->L, LUA_REGISTRYINDEX, tm->fn_ref);
    tm->closing = 1;
    if (uv_is_active((uv_handle_t *)&tm->h) || tm->h.loop)
        uv_close((uv_handle_t *)&tm->h, timer_closed);
    else
        free(tm);
}

static void on_timer(uv_timer_t *h)
{
    ltimer *tm = h->data;
    lstate *s = tm->s;
    lua_rawgeti(s->L, LUA_REGISTRYINDEX, tm->fn_ref);
    int once = tm->repeat_ms == 0;
    if (once)
        timer_drop(tm);
    lcore_spawn(s, 0);
}

static void timer_arm(ltimer *tm)
{
    uv_timer_init(tm->s->app->w->loop, &tm->h);
    tm->h.data = tm;
    uv_timer_start(&tm->h, on_timer, tm->ms, tm->repeat_ms);
}

/* core.timer(seconds, repeat, fn) -> id */
static int l_timer(lua_State *L)
{
    lstate *s = state_of(L);
    double sec = luaL_checknumber(L, 1);
    int repeat = lua_toboolean(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    if (sec < 0.001)
        sec = 0.001;
    ltimer *tm = calloc(1, sizeof *tm);
    tm->s = s;
    tm->ms = (uint64_t)(sec * 1000.0);
    tm->repeat_ms = repeat ? tm->ms : 0;
    lua_pushvalue(L, 3);
    tm->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    tm->id = ++s->next_timer_id;
    tm->next = s->timers;
    s->timers = tm;
    if (!s->check_only && s->app->w)
        timer_arm(tm);
    lua_pushinteger(L, tm->id);
    return 1;
}

static int l_cancel(lua_State *L)
{
    lstate *s = state_of(L);
    lua_Integer id = luaL_checkinteger(L, 1);
    for (ltimer *tm = s->timers; tm; tm = tm->next)
        if (tm->id == id) {
            timer_drop(tm);
            lua_pushboolean(L, 1);
            return 1;
        }
    lua_pushboolean(L, 0);
    return 1;
}

void lcore_start_timers(lstate *s)
{
    for (ltimer *tm = s->timers; tm; tm = tm->next)
        if (!tm->h.loop)
            timer_arm(tm);
}

void lcore_stop_timers(lstate *s)
{
    while (s->timers)
        timer_drop(s->timers);
}

void lcore_close_timers(lstate *s)
{
    lcore_stop_timers(s);
}

/* ---- small helpers ------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* core.urldecode(s, plus_is_space) -> decoded, or nil + reason */
static int l_urldecode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int plus = lua_toboolean(L, 2);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, n);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                lua_pushnil(L);
                lua_pushstring(L, "bad percent-encoding");
                return 2;
            }
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
            continue;
        }
        out[j++] = plus && c == '+' ? ' ' : c;
    }
    luaL_pushresultsize(&b, j);
    return 1;
}

static int url_safe(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

static int l_urlencode(lua_State *L)
{
    size_t n, i = 0;
    const char *s = luaL_checklstring(L, 1, &n);
    while (i < n && url_safe((unsigned char)s[i]))
        i++;
    if (i == n) {           /* nothing to escape (a session id): as it is */
        lua_settop(L, 1);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, s, i);   /* the safe prefix */
    static const char hex[] = "0123456789ABCDEF";
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (url_safe(c)) {
            luaL_addchar(&b, (char)c);
        } else {
            luaL_addchar(&b, '%');
            luaL_addchar(&b, hex[c >> 4]);
            luaL_addchar(&b, hex[c & 15]);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

static int l_escape(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': luaL_addstring(&b, "&amp;"); break;
        case '<': luaL_addstring(&b, "&lt;"); break;
        case '>': luaL_addstring(&b, "&gt;"); break;
        case '"': luaL_addstring(&b, "&quot;"); break;
        case '\'': luaL_addstring(&b, "&#39;"); break;
        default: luaL_addchar(&b, s[i]);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* core.header_text(v) -> tostring(v), or nil if it has CR, LF or NUL */
static int l_header_text(lua_State *L)
{
    size_t n;
    const char *p = luaL_tolstring(L, 1, &n);
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0') {
            lua_pushnil(L);
            return 1;
        }
    return 1;
}

static int l_site_dir(lua_State *L)
{
    lstate *s = state_of(L);
    lua_pushstring(L, s->app->cfg->site_dir);
    return 1;
}

static int l_dev(lua_State *L)
{
    lstate *s = state_of(L);
    lua_pushboolean(L, s->app->cfg->dev);
    return 1;
}

static const luaL_Reg core_fns[] = {
    {"start", l_start}, {"body", l_body}, {"send", l_send}, {"alive", l_alive}, {"headers", l_headers},
    {"header", l_header},
    {"pending", l_pending}, {"sleep", l_sleep}, {"serve_file", l_serve_file},
    {"now", l_now}, {"log", l_log}, {"log_error", l_log_error}, {"timer", l_timer},
    {"cancel", l_cancel}, {"urldecode", l_urldecode}, {"urlencode", l_urlencode},
    {"escape", l_escape}, {"header_text", l_header_text}, {"site_dir", l_site_dir}, {"dev", l_dev},
    {"static_hint", l_static_hint}, {"info", l_info},
    {NULL, NULL}
};

/* The `core` table the embedded scripts are given. */
void lcore_push_core(lua_State *L)
{
    luaL_newlibtable(L, core_fns);
    luaL_getmetatable(L, HANDLE_MT);   /* made by lcore_init_state */
    luaL_setfuncs(L, core_fns, 1);
}

/* Per-state set-up lcore.c owns: the task slot and the handle metatable. */
void lcore_init_state(lstate *s, lua_State *L)
{
    *task_slot(L) = NULL;
    lua_pushlightuserdata(L, s);
    lua_setfield(L, LUA_REGISTRYINDEX, "atto.lstate");
    luaL_newmetatable(L, HANDLE_MT);
    lua_pop(L, 1);
}
