/*
 * gopher.h — the Gopher listener (RFC 1436) and what an application plugs
 * into it.
 *
 * gopher_proto reads one selector line per connection (CRLF or LF, an
 * optional TAB and search string, Gopher+ markers ignored; at most
 * GOPHER_MAX_LINE bytes within the read timeout), hands it to the app, sends
 * the reply and closes. Bad lines get an error item (type 3) and a close.
 *
 * The app (w->ops->gopher, a `const gopher_app *`) answers through the
 * gopher_* reply calls below, possibly later (a Lua handler that sleeps).
 * When there is no app, or it leaves a selector to the folder, SITE/gopher/
 * is served: files at their path, folders as menus or their `gophermap`.
 *
 * Ownership: the app may use a gopher_req from handle() until it calls
 * gopher_end() / gopher_fail(), or gopher_serve_static() / gopher_serve_file()
 * succeed — then the request is gopher.c's again. If the client goes away
 * first, r->on_abort(r) is called once and r is gone after it returns.
 */
#ifndef ATTO_GOPHER_H
#define ATTO_GOPHER_H
#include <stddef.h>
#include <stdint.h>
#include "core/conn.h"

typedef struct gopher_req gopher_req;
struct gopher_req {
    conn       *c;
    const char *selector;      /* NUL-terminated; always starts with '/' ("" is "/") */
    const char *query;         /* the search string (type 7), or NULL */
    const char *host;          /* this server, for menu items */
    int         port;          /* the port the client connected to */
    void       *app_data;
    void      (*on_abort)(gopher_req *r);
};

typedef struct gopher_config {
    uint64_t read_timeout_ms;  /* the selector line must arrive within (10 s) */
    char     host[256];        /* host in menu items ("localhost", or the --bind address) */
} gopher_config;

typedef struct gopher_app {
    /* Per connection, before reading: adjust the defaults (optional). */
    void (*config)(void *app, gopher_config *cfg);
    /* A selector arrived: answer it (now or later) with the calls below. */
    void (*handle)(void *app, gopher_req *r);
} gopher_app;

extern const conn_proto gopher_proto;

/* Reply bytes as they are (the app formats them with gopher_parse.h).
 * Returns -1 when the client is gone (on_abort has then run). */
int  gopher_write(gopher_req *r, const void *p, size_t n);
/* The reply is complete: flush and close. r is gone after this. */
void gopher_end(gopher_req *r);
/* An error item with msg, the closing ".", then gopher_end(). */
void gopher_fail(gopher_req *r, const char *msg);
/* Serve r->selector from SITE/gopher/. Returns 1 when served (r is gone),
 * 0 when there is no such file or folder, -1 when refused (a path leaving
 * the folder through a link) with *err. */
int  gopher_serve_static(gopher_req *r, const char **err);
/* Send the file at `path` (absolute, inside the site folder) as it is.
 * Returns 0 when sending started (r is gone), -1 with *err: not found,
 * not a regular file, outside the site folder. */
int  gopher_serve_file(gopher_req *r, const char *path, const char **err);
#endif
