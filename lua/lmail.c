/*
 * lmail.c — mail.lua's side of mail/hooks.h: the C interface the SMTP
 * session calls for connect, helo, mail_from, rcpt_to and message rules is
 * implemented here by calling the rule functions that mail.lua registered
 * with mail.on(). Verdicts (reject/defer) and message actions (fileinto,
 * redirect, ...) come back as plain values that lua/mail.lua collects.
 *
 * Rules run on the worker's Lua state under a deadline (the web handler
 * limit); an error or a timeout defers the message with 451 and is logged —
 * mail is never lost to a script bug. Also the `atto.mail` C module:
 * user_exists and queue_submit for atto.mail.send.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <lauxlib.h>
#include "lua/lcore.h"
#include "mail/hooks.h"
#include "mail/queue.h"
#include "mail/users.h"

typedef struct lmail_cfg {
    mail_config cfg;
    char      **domains;
    char       *smarthost;
} lmail_cfg;

static _Thread_local uint64_t rule_deadline;
static _Thread_local int rule_ms;

static void rule_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (uv_hrtime() > rule_deadline)
        luaL_error(L, "mail rule ran longer than %d ms (stopped)", rule_ms);
}

static lstate *state_of_app(void *app) { return ((lapp *)app)->cur; }

/* Call atto._mail_event(event, ...) with nargs values pushed after it.
 * Results: kind ("reject"/"defer"/nil), code, text, actions. Returns 0 with
 * 4 results on the stack, or -1 after filling a 451 defer. */
static int call_event(lstate *s, int nargs, mail_verdict *v)
{
    lua_State *L = s->L;
    rule_ms = (int)s->app->cfg->limits.handler_ms;
    rule_deadline = uv_hrtime() + (uint64_t)rule_ms * 1000000ull;
    lua_sethook(L, rule_hook, LUA_MASKCOUNT, 10000);
    int rc = lua_pcall(L, nargs + 1, 4, 0);
    lua_sethook(L, NULL, 0, 0);
    if (rc != LUA_OK) {
        log_error("mail.lua rule: %s", lcore_short_error(s, lua_tostring(L, -1)));
        lua_pop(L, 1);
        v->kind = MAIL_DEFER;
        v->code = 451;
        snprintf(v->text, sizeof v->text, "4.3.0 Temporary failure in a mail rule, try again later");
        return -1;
    }
    const char *kind = lua_tostring(L, -4);
    if (kind && strcmp(kind, "accept") == 0) {
        v->kind = MAIL_ACCEPT;
    } else if (kind) {
        int reject = strcmp(kind, "reject") == 0;
        v->kind = reject ? MAIL_REJECT : MAIL_DEFER;
        int code = (int)lua_tointeger(L, -3);
        if (reject && (code < 500 || code > 599)) code = 550;
        if (!reject && (code < 400 || code > 499)) code = 451;
        v->code = code;
        const char *text = lua_tostring(L, -2);
        snprintf(v->text, sizeof v->text, "%s", text ? text : (reject ? "5.7.1 Rejected" : "4.7.1 Try again later"));
        for (char *p = v->text; *p; p++)   /* a reply is one line */
            if (*p == '\r' || *p == '\n') *p = ' ';
    }
    return 0;
}

static void push_event(lua_State *L, const char *event)
{
    lua_getglobal(L, "atto");
    lua_getfield(L, -1, "_mail_event");
    lua_remove(L, -2);
    lua_pushstring(L, event);
}

static void push_session(lua_State *L, const mail_session_info *si)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, si->remote_addr);  lua_setfield(L, -2, "remote_addr");
    lua_pushinteger(L, si->remote_port); lua_setfield(L, -2, "remote_port");
    if (si->helo) { lua_pushstring(L, si->helo); lua_setfield(L, -2, "helo"); }
    if (si->auth_user) { lua_pushstring(L, si->auth_user); lua_setfield(L, -2, "auth_user"); }
    lua_pushboolean(L, si->tls);         lua_setfield(L, -2, "tls");
}

static void simple_event(void *app, const char *event, const mail_session_info *si,
                         const char *arg, const mail_rcpt *r, mail_verdict *v)
{
    lstate *s = state_of_app(app);
    lua_State *L = s->L;
    int top = lua_gettop(L);
    push_event(L, event);
    push_session(L, si);
    int n = 1;
    if (arg) { lua_pushstring(L, arg); n++; }
    if (r) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, r->address); lua_setfield(L, -2, "address");
        lua_pushstring(L, r->user);    lua_setfield(L, -2, "user");
        lua_pushstring(L, r->domain);  lua_setfield(L, -2, "domain");
        lua_pushboolean(L, r->is_local); lua_setfield(L, -2, "is_local");
        n++;
    }
    call_event(s, n, v);
    lua_settop(L, top);
}

static void h_connect(void *app, const mail_session_info *si, mail_verdict *v)
{ simple_event(app, "connect", si, NULL, NULL, v); }
static void h_helo(void *app, const mail_session_info *si, const char *name, mail_verdict *v)
{ simple_event(app, "helo", si, name, NULL, v); }
static void h_mail_from(void *app, const mail_session_info *si, const char *from, mail_verdict *v)
{ simple_event(app, "mail_from", si, from, NULL, v); }
static void h_rcpt_to(void *app, const mail_session_info *si, const mail_rcpt *r, mail_verdict *v)
{ simple_event(app, "rcpt_to", si, NULL, r, v); }

static const struct { const char *name; int kind; } action_names[] = {
    {"keep", MAIL_ACT_KEEP}, {"fileinto", MAIL_ACT_FILEINTO}, {"discard", MAIL_ACT_DISCARD},
    {"redirect", MAIL_ACT_REDIRECT}, {"add_header", MAIL_ACT_ADD_HEADER}, {"reply", MAIL_ACT_REPLY},
};

static size_t h_message(void *app, const mail_message *m, mail_action *acts, size_t max, mail_verdict *v)
{
    lstate *s = state_of_app(app);
    lua_State *L = s->L;
    int top = lua_gettop(L);
    push_event(L, "message");
    push_session(L, m->session);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, m->from); lua_setfield(L, -2, "from");
    lua_createtable(L, (int)m->nto, 0);
    for (size_t i = 0; i < m->nto; i++) {
        lua_pushstring(L, m->to[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "to");
    lua_pushinteger(L, (lua_Integer)m->size); lua_setfield(L, -2, "size");
    lua_pushlstring(L, m->data, m->size);     lua_setfield(L, -2, "data");
    size_t n = 0;
    if (call_event(s, 2, v) == 0 && lua_istable(L, -1)) {
        /* keep the action strings alive until the next hook call */
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "atto.mail.actions");
        lua_Integer len = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= len && n < max; i++) {
            lua_rawgeti(L, -1, i);
            lua_rawgeti(L, -1, 1);
            const char *kind = lua_tostring(L, -1);
            lua_rawgeti(L, -2, 2);
            lua_rawgeti(L, -3, 3);
            for (size_t k = 0; kind && k < sizeof action_names / sizeof action_names[0]; k++)
                if (strcmp(kind, action_names[k].name) == 0) {
                    acts[n].kind = action_names[k].kind;
                    acts[n].a = lua_tostring(L, -2);
                    acts[n].b = lua_tostring(L, -1);
                    n++;
                    break;
                }
            lua_pop(L, 4);
        }
    }
    lua_settop(L, top);
    return n;
}

/* mail.domains / smarthost / options, read once per state. */
static const mail_config *h_config(void *app)
{
    lstate *s = state_of_app(app);
    if (s->mail_cfg)
        return &((lmail_cfg *)s->mail_cfg)->cfg;
    lmail_cfg *mc = calloc(1, sizeof *mc);
    mc->cfg.max_message_size = 25u << 20;
    lua_State *L = s->L;
    int top = lua_gettop(L);
    lua_getglobal(L, "atto");
    lua_getfield(L, -1, "_mail_config");
    if (lua_istable(L, -1)) {
        int t = lua_gettop(L);
        lua_getfield(L, t, "domains");
        size_t nd = lua_istable(L, -1) ? (size_t)luaL_len(L, -1) : 0;
        mc->domains = calloc(nd + 1, sizeof *mc->domains);
        for (size_t i = 0; i < nd; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            const char *d = lua_tostring(L, -1);
            if (d) mc->domains[mc->cfg.ndomains++] = strdup(d);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        mc->cfg.domains = (const char *const *)mc->domains;
        lua_getfield(L, t, "smarthost_host");
        if (lua_isstring(L, -1)) mc->cfg.smarthost_host = mc->smarthost = strdup(lua_tostring(L, -1));
        lua_getfield(L, t, "smarthost_port");
        mc->cfg.smarthost_port = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 25;
        lua_getfield(L, t, "max_message_size");
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) mc->cfg.max_message_size = (size_t)lua_tointeger(L, -1);
        lua_getfield(L, t, "plaintext_auth");
        mc->cfg.plaintext_auth = lua_toboolean(L, -1);
    }
    lua_settop(L, top);
    s->mail_cfg = mc;
    return &mc->cfg;
}

void lmail_free_config(lstate *s)
{
    lmail_cfg *mc = s->mail_cfg;
    if (!mc)
        return;
    for (size_t i = 0; i < mc->cfg.ndomains; i++)
        free(mc->domains[i]);
    free(mc->domains);
    free(mc->smarthost);
    free(mc);
    s->mail_cfg = NULL;
}

const mail_hooks lua_mail_hooks = {
    .config = h_config,
    .connect = h_connect,
    .helo = h_helo,
    .mail_from = h_mail_from,
    .rcpt_to = h_rcpt_to,
    .message = h_message,
};

/* Worker 0 runs the outbound queue from the start, so mail queued by
 * atto.mail.send (or left from a previous run) goes out without waiting
 * for an SMTP connection. */
void lmail_start_queue(lapp *app)
{
    if (!app->cur->has_mail || app->w->id != 0)
        return;
    const mail_config *cfg = h_config(app);
    if (cfg->smarthost_host)
        mail_queue_start(app->w->loop, app->cfg->site_dir, cfg);
}

/* ---- require "atto.mail" ------------------------------------------------ */

static const char *site_dir_of(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "atto.lstate");
    lstate *s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s->app->cfg->site_dir;
}

static int l_user_exists(lua_State *L)
{
    const char *user = luaL_checkstring(L, 1);
    lua_pushboolean(L, users_valid_name(user) && users_exists(site_dir_of(L), user));
    return 1;
}

/* queue_submit(from, {to...}, data) -> true | nil, err */
static int l_queue_submit(lua_State *L)
{
    const char *from = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    lua_Integer n = luaL_len(L, 2);
    if (n < 1 || n > 100)
        return luaL_error(L, "atto.mail.send: between 1 and 100 recipients");
    const char *to[100];
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        to[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1);   /* still referenced by the table */
        if (!to[i - 1])
            return luaL_error(L, "atto.mail.send: recipient %d is not a string", (int)i);
    }
    char err[256];
    if (mail_queue_submit(site_dir_of(L), from, to, (size_t)n, data, len, err, sizeof err) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    mail_queue_kick();
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_atto_mail(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"user_exists", l_user_exists}, {"queue_submit", l_queue_submit}, {NULL, NULL}
    };
    luaL_newlib(L, fns);
    return 1;
}
