/*
 * lconfig.c — reading site:listen{} (ports, limits, TLS certificates per
 * host, status page) from a loaded state into the server configuration,
 * with flags from the command line winning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "lua/lcore.h"

/* ---- site:listen{} ------------------------------------------------------ */

static const char *listen_keys[LISTEN_KINDS] = {
    "http", "https", "smtp", "submission", "imap", "pop3", "smtps", "imaps", "pop3s", "gopher"
};

static int opt_int(lua_State *L, int t, const char *k, long long *out)
{
    lua_getfield(L, t, k);
    int isnum = 0;
    long long v = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    if (isnum)
        *out = v;
    return isnum;
}

/* The config's certificate paths outlive the Lua state that read them:
 * copies are kept here for the life of the process. */
static char *keep_string(const char *s)
{
    static char *kept[3 * 17];
    static int nkept;
    char *c = strdup(s);
    if (nkept < (int)(sizeof kept / sizeof kept[0]))
        kept[nkept++] = c;
    return c;
}

/* tls = { {host=, cert=, key=}, ... } (host absent: the default cert).
 * The strings must outlive the Lua state: they are copied. */
static int lcore_listen_tls(lua_State *L, int t, server_config *cfg, char *err, size_t errlen)
{
    lua_getfield(L, t, "tls");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "site:listen{ tls = ... } takes a list of {host=, cert=, key=}");
        lua_pop(L, 1);
        return -1;
    }
    int n = (int)luaL_len(L, -1);
    cfg->nsni = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "host");
        lua_getfield(L, -2, "cert");
        lua_getfield(L, -3, "key");
        const char *host = lua_tostring(L, -3), *cert = lua_tostring(L, -2), *key = lua_tostring(L, -1);
        if (!cert || !key) {
            snprintf(err, errlen, "site:listen{ tls = {...} }: entry %d needs cert= and key=", i);
            lua_pop(L, 5);
            return -1;
        }
        if (host && cfg->nsni >= 16) {
            snprintf(err, errlen, "site:listen{ tls = {...} }: at most 16 host certificates (entry %d is one too many)", i);
            lua_pop(L, 5);
            return -1;
        }
        /* relative paths are inside the site folder, like everything else */
        char certp[4096], keyp[4096];
        if (cert[0] != '/') {
            snprintf(certp, sizeof certp, "%s/%s", cfg->site_dir, cert);
            cert = certp;
        }
        if (key[0] != '/') {
            snprintf(keyp, sizeof keyp, "%s/%s", cfg->site_dir, key);
            key = keyp;
        }
        if (!host) {
            if (cfg->cert)   /* --cert/--key win */
                goto next;
            cfg->cert = keep_string(cert);
            cfg->key = keep_string(key);
        } else if (cfg->nsni < 16) {
            cfg->sni[cfg->nsni].host = keep_string(host);
            cfg->sni[cfg->nsni].cert = keep_string(cert);
            cfg->sni[cfg->nsni].key = keep_string(key);
            cfg->nsni++;
        }
    next:
        lua_pop(L, 4);
    }
    lua_pop(L, 1);
    return 0;
}

int lcore_apply_listen(lstate *s, server_config *cfg, const int *flag_set, char *err, size_t errlen)
{
    lua_State *L = s->L;
    lua_getglobal(L, "atto");
    lua_getfield(L, -1, "_listen");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 2);
        return 0;
    }
    int t = lua_gettop(L);
    long long v;
    for (int k = 0; k < LISTEN_KINDS; k++)
        if (!flag_set[k] && opt_int(L, t, listen_keys[k], &v)) {
            if (v < 0 || v > 65535) {
                snprintf(err, errlen, "site:listen{%s = %lld}: a port is 0 (off) to 65535", listen_keys[k], v);
                lua_pop(L, 2);
                return -1;
            }
            cfg->ports[k] = (int)v;
        }
    server_limits *lim = &cfg->limits;
    if (opt_int(L, t, "max_body", &v) && v > 0) lim->max_body_bytes = (size_t)v;
    if (opt_int(L, t, "max_header", &v) && v > 0) lim->max_header_bytes = (size_t)v;
    if (opt_int(L, t, "max_headers", &v) && v > 0) lim->max_headers = (size_t)v;
    if (opt_int(L, t, "keepalive_timeout", &v) && v > 0) lim->keepalive_ms = (uint64_t)v * 1000;
    if (opt_int(L, t, "header_timeout", &v) && v > 0) lim->header_timeout_ms = (uint64_t)v * 1000;
    if (opt_int(L, t, "handler_timeout", &v) && v > 0) lim->handler_ms = (uint64_t)v * 1000;
    if (opt_int(L, t, "max_upload_parts", &v) && v > 0) lim->max_upload_parts = (size_t)v;
    if (opt_int(L, t, "h2_max_streams", &v) && v > 0) lim->h2_max_streams = (uint32_t)v;
    if (!flag_set[LISTEN_KINDS] && opt_int(L, t, "workers", &v) && v > 0) cfg->workers = (int)v;
    lua_getfield(L, t, "https_redirect");
    cfg->https_redirect = lua_toboolean(L, -1);
    lua_getfield(L, t, "status_page");
    cfg->status_page = lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (lcore_listen_tls(L, t, cfg, err, errlen) < 0) {
        lua_pop(L, 2);
        return -1;
    }
    lua_pop(L, 2);
    return 0;
}

int lcore_has_gopher(lstate *s)
{
    lua_State *L = s->L;
    lua_getglobal(L, "atto");
    lua_getfield(L, -1, "_has_gopher");
    int has = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return has;
}
