/*
 * static.h — serving files from disk: MIME type, ETag, Last-Modified,
 * conditional requests (304), and HEAD.
 *
 * The caller has already decided the path is allowed (inside the site); see
 * static_safe_join() for making one from a URL path.
 */
#ifndef ATTO_STATIC_H
#define ATTO_STATIC_H
#include <stddef.h>
#include "core/http.h"

/* Serve `path` as the whole response. Returns 1 when answered (200, 206,
 * 304, 416, or 403 for an unreadable file), 0 when there is no such regular
 * file (the caller falls through to 404). */
int static_serve(http_req *r, const char *path);

/* Join root and a decoded URL path, refusing anything that could leave
 * root: "..", NUL, backslashes. Returns 0 or -1. */
int static_safe_join(const char *root, const char *urlpath, char *out, size_t outlen);

/* MIME type for a file name, by extension ("application/octet-stream"). */
const char *static_mime(const char *path);
#endif
