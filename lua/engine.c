/*
 * engine.c — the Lua application: one Lua 5.4 state per worker.
 *
 * Loading: a state gets the standard libraries, `require` looking in the site
 * folder first, the `atto` table (C primitives here, the rest in prelude.lua)
 * and the `site` global; then SITE/index.lua runs. Errors come back as
 * "index.lua:12: what" — never a crash, never a silent exit.
 *
 * Requests: each http_req runs as a task — a coroutine calling the prelude's
 * dispatcher with (req, res). A task may yield through atto.sleep() (a libuv
 * timer resumes it) while the worker serves others. A count hook stops a
 * handler that runs longer than limits.handler_ms without yielding, again
 * and again, so pcall cannot swallow it. The request handle the scripts hold
 * is cut from the http_req when the response ends or the client goes away.
 *
 * Reload (SIGHUP, or --dev seeing a changed script): a new state is built
 * beside the old one; on success new requests go to it and the old one is
 * closed once its last task ends. On failure the old one keeps serving.
 */
#include "lua/engine.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "lua/lcore.h"
#include "lua/lweb.h"
#include "mail/hooks.h"

void lmail_free_config(lstate *s) __attribute__((weak));   /* lua/lmail.c */
void lmail_start_queue(lapp *app) __attribute__((weak));

/* ---- states ------------------------------------------------------------- */

void lstate_unref(lstate *s)
{
    if (--s->refs > 0)
        return;
    lcore_close_timers(s);
    lcore_close_pool(s);
    lcore_free_hints(s);
    if (lmail_free_config)
        lmail_free_config(s);
    lua_close(s->L);
    free(s);
}

static time_t scripts_mtime(const char *dir)
{
    time_t newest = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".lua"))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && st.st_mtime > newest)
            newest = st.st_mtime;
    }
    closedir(d);
    return newest;
}

static lstate *lstate_load(lapp *app, char *err, size_t errlen)
{
    lstate *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->app = app;
    s->refs = 1;
    s->mtime = scripts_mtime(app->cfg->site_dir);
    s->L = lcore_new_state(s, app->cfg, err, errlen);
    if (!s->L) {
        free(s);
        return NULL;
    }
    return s;
}

/* ---- app_ops ------------------------------------------------------------ */

static void *app_create(const server_config *cfg, worker *w, char *err, size_t errlen)
{
    lapp *app = calloc(1, sizeof *app);
    if (!app)
        return NULL;
    app->cfg = cfg;
    app->w = w;
    lcore_watchdog_install();
    app->cur = lstate_load(app, err, errlen);
    if (!app->cur) {
        free(app);
        return NULL;
    }
    lcore_start_timers(app->cur);
    if (lmail_start_queue)
        lmail_start_queue(app);
    return app;
}

static void app_destroy(void *p)
{
    lapp *app = p;
    if (!app)
        return;
    lstate_unref(app->cur);
    free(app);
}

static int app_reload(void *p, char *err, size_t errlen)
{
    lapp *app = p;
    lstate *s = lstate_load(app, err, errlen);
    if (!s)
        return -1;
    lstate *old = app->cur;
    app->cur = s;
    lcore_start_timers(s);
    lcore_stop_timers(old);   /* its repeating timers end now; tasks in flight finish */
    lstate_unref(old);
    return 0;
}

/* --dev: reload when a script changed (checked at most once a second). */
static void dev_check(lapp *app)
{
    uint64_t now = uv_now(app->w->loop);
    if (now - app->last_check < 1000 && app->last_check)
        return;
    app->last_check = now;
    time_t m = scripts_mtime(app->cfg->site_dir);
    if (m == app->cur->mtime)
        return;
    char err[1024];
    if (app_reload(app, err, sizeof err) < 0) {
        app->cur->mtime = m;   /* don't retry until it changes again */
        log_error("reload: %s", err);
    } else {
        log_info("scripts changed: reloaded");
    }
}

/* site:listen{ status_page = true }: counters as JSON, answered in C. */
static int status_page(lapp *app, http_req *r)
{
    static const char path[] = "/.well-known/atto/status";
    if (!app->cfg->status_page || r->target_len != sizeof path - 1 ||
        memcmp(r->target, path, sizeof path - 1) != 0)
        return 0;
    server_stats st;
    server_get_stats(&st);
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"workers\":%d,\"uptime_s\":%.1f,\"requests\":%llu,"
                     "\"connections_total\":%llu,\"connections_open\":%d,\"rss_kb\":%ld}\n",
                     st.workers, st.uptime_s, (unsigned long long)st.requests,
                     (unsigned long long)st.connections_total, st.connections_open, st.rss_kb);
    http_hdr h[2] = {{"content-type", 12, "application/json", 16}, {"cache-control", 13, "no-store", 8}};
    r->drv->start(r, 200, h, 2, n);
    r->drv->body(r, body, (size_t)n, 1);
    return 1;
}

static void app_handle(void *p, http_req *r)
{
    lapp *app = p;
    if (status_page(app, r))
        return;
    if (app->cfg->dev)
        dev_check(app);
    lcore_handle(app->cur, r);
}

/* Gopher and mail entry points live in lua/lgopher.c and lua/lmail.c
 * (gopher/gopher.h and mail/hooks.h say what they are); weak, so the
 * web side builds on its own. */
extern const struct gopher_app lua_gopher_handler __attribute__((weak));
extern const mail_hooks lua_mail_hooks __attribute__((weak));

/* The master: the session store is made before the workers are forked,
 * so they all share it, and saved once they have all stopped. */
static int app_prefork(const server_config *cfg, char *err, size_t errlen)
{
    return lweb_sessions_start(cfg->site_dir, err, errlen);
}

static void app_shutdown(const server_config *cfg)
{
    (void)cfg;
    lweb_sessions_save();
}

const app_ops lua_app_ops = {
    .prefork = app_prefork,
    .shutdown = app_shutdown,
    .create = app_create,
    .destroy = app_destroy,
    .handle = app_handle,
    .reload = app_reload,
    .gopher = (void *)&lua_gopher_handler,
    .mail = (void *)&lua_mail_hooks,
};

/* ---- atto check / site:listen ------------------------------------------- */

int lua_app_check(server_config *cfg, const int *flag_set, int *has_gopher, int *has_mail,
                  char *err, size_t errlen)
{
    lstate tmp = {0};
    lapp app = {0};
    app.cfg = cfg;
    tmp.app = &app;
    tmp.refs = 1;
    tmp.check_only = 1;
    lua_State *L = lcore_new_state(&tmp, cfg, err, errlen);
    if (!L)
        return -1;
    tmp.L = L;
    int rc = lcore_apply_listen(&tmp, cfg, flag_set, err, errlen);
    if (has_gopher)
        *has_gopher = lcore_has_gopher(&tmp);
    if (has_mail)
        *has_mail = tmp.has_mail;
    lcore_close_timers(&tmp);   /* timers set at load: never armed, freed here */
    lua_close(L);
    return rc;
}
