/*
 * lcore.h — shared by the Lua layer's files: per-worker app, per-state
 * bookkeeping, tasks (coroutines) and the primitives the prelude calls.
 */
#ifndef ATTO_LUA_LCORE_H
#define ATTO_LUA_LCORE_H
#include <stdint.h>
#include <time.h>
#include <lua.h>
#include "core/http.h"
#include "core/server.h"

typedef struct lstate lstate;
typedef struct ltimer ltimer;

typedef struct lapp {
    const server_config *cfg;
    worker  *w;
    lstate  *cur;
    uint64_t last_check;
} lapp;

struct lstate {
    lapp      *app;
    lua_State *L;
    int        refs;         /* the app's reference + one per live task */
    time_t     mtime;
    int        check_only;   /* `atto check`: no timers, no loop */
    int        has_mail;
    int        dispatch_ref; /* prelude's dispatcher */
    int        error_ref;    /* prelude's error-page function */
    ltimer    *timers;
    int        next_timer_id;
    struct ltask *pool;      /* idle tasks kept for reuse */
    void      *mail_cfg;     /* lmail.c: the mail_config built from mail.lua */
    struct lhint *hints;     /* URL path -> public/ file, served without Lua */
    int        nhints;
    int        npool;
};

void lstate_unref(lstate *s);     /* engine.c: drop a reference */
void lcore_push_core(lua_State *L);                /* lcore.c: the `core` table */
void lcore_init_state(lstate *s, lua_State *L);    /* lcore.c: slots and metatables */
lua_State *lcore_new_state(lstate *s, const server_config *cfg, char *err, size_t errlen);
void lcore_handle(lstate *s, http_req *r);
void lcore_start_timers(lstate *s);   /* arm site:every/after registered at load */
void lcore_stop_timers(lstate *s);    /* stop repeating timers (reload) */
void lcore_close_timers(lstate *s);   /* close every timer handle (state going away) */
void lcore_close_pool(lstate *s);     /* free the idle tasks (state going away) */
void lcore_free_hints(lstate *s);
int  lcore_apply_listen(lstate *s, server_config *cfg, const int *flag_set, char *err, size_t errlen);
int  lcore_has_gopher(lstate *s);
/* Run fn (on top of s->L's stack) with nargs args below it, as a task. */
void lcore_spawn(lstate *s, int nargs);
/* Install the SIGUSR2 handler that stops runaway handlers (see lcore.c). */
void lcore_watchdog_install(void);
/* Format a Lua error for humans: "index.lua:12: boom" with the site path cut. */
const char *lcore_short_error(lstate *s, const char *msg);
#endif
