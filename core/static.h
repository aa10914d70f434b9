/*
 * static.h — serving files from disk: MIME type, validators (ETag,
 * Last-Modified), conditional requests (304/412), Range (206 single and
 * multipart/byteranges, 416), HEAD, directory index and redirect, a
 * per-thread cache of small files, and streaming of large ones under
 * back-pressure.
 *
 * The caller (lua/prelude.lua through core.serve_file) builds a full path
 * inside the site folder; static_serve() checks it again on its own: no
 * segment after the site folder may start with '.', and the file actually
 * opened must resolve (symlinks followed) to a place inside the site folder.
 *
 * Ownership of the request: while static_serve() runs, it may take over
 * r->app_data, r->on_abort and r->on_writable, saving the previous
 * app_data and on_abort. If the client leaves then, the file is closed and
 * the previous on_abort is called with the previous app_data back in
 * place; if the file is sent in full before static_serve() returns, both
 * are restored before the last body piece. A file larger than what can be
 * queued at once goes on streaming after static_serve() returns 1 with
 * !r->finished: before returning, static_serve() calls the previous
 * on_abort (with its app_data in place) to tell the caller it has lost the
 * request, as if the client had left; the caller must then neither send
 * anything nor finish it. A caller that clears r->on_abort before calling
 * (and restores it when 0 is returned) is never called back at all.
 */
#ifndef ATTO_STATIC_H
#define ATTO_STATIC_H
#include <stddef.h>
#include "core/http.h"

/* Serve `path` as the whole response. Returns 1 when answered (200, 206,
 * 301 to "dir/", 304, 412, 416, 403 for an unreadable file, 503 out of file
 * descriptors), 0 when there is nothing to serve (no such file, a directory
 * without index.html, a dotfile, a path leaving the site folder): the
 * caller falls through to its 404. Nothing has been sent when it returns 0. */
int static_serve(http_req *r, const char *path);

/* Join root and a decoded URL path, refusing anything that could leave
 * root: "." or ".." segments, NUL, backslashes. Returns 0 or -1. */
int static_safe_join(const char *root, const char *urlpath, char *out, size_t outlen);

/* May `path` be served from the site folder `root`? Lexical check, no I/O:
 * `path` must lie under `root` (when root is not NULL) and no segment after
 * root may start with '.' (dotfiles, "..", "."). Returns 0 or -1 with a
 * reason. Used on the path asked for and again on the resolved path. */
int static_path_allowed(const char *root, const char *path, const char **why);

/* The resolved (realpath) form of an open file: its name through
 * /proc/self/fd, else realpath(path). Returns 0 or -1. */
int static_resolve(int fd, const char *path, char *out, size_t outlen);

/* Does the file opened as fd (or, with fd < 0, named path) resolve, symlinks
 * followed, inside the site folder root (NULL: anywhere)? 1 or 0.
 * (static_path.c, with the two above) */
int static_resolved_inside(const char *root, int fd, const char *path);

/* MIME type for a file name, by extension: /etc/mime.types (read once),
 * else a built-in table, else "application/octet-stream". Text types
 * (text/...) and JavaScript carry "; charset=utf-8". (static_mime.c) */
const char *static_mime(const char *path);

/* Drop this thread's small-file cache (tests; a worker frees it on exit). */
void static_cache_clear(void);
#endif
