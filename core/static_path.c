/*
 * static_path.c — where a static file path may lead: joining a URL path to
 * the site folder, the lexical check (under the site folder, no dot
 * segment), and the same check on the file actually opened, resolved
 * through /proc/self/fd so that a symlink cannot lead outside.
 */
#include "core/static.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int static_safe_join(const char *root, const char *urlpath, char *out, size_t outlen)
{
    const char *p = urlpath;
    while (*p == '/')
        p++;
    for (const char *s = p; *s;) {               /* every segment must be a plain name */
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return -1;
        if (memchr(s, '\\', n))
            return -1;
        s += n;
        while (*s == '/')
            s++;
    }
    int k = snprintf(out, outlen, "%s/%s", root, p);
    return k < 0 || (size_t)k >= outlen ? -1 : 0;
}

int static_path_allowed(const char *root, const char *path, const char **why)
{
    const char *rest = path;
    if (root) {
        size_t rl = strlen(root);
        while (rl > 1 && root[rl - 1] == '/')
            rl--;
        int is_slash = rl == 1 && root[0] == '/';
        if (strncmp(path, root, rl) != 0 || (!is_slash && path[rl] != '/' && path[rl] != '\0')) {
            *why = "outside the site folder";
            return -1;
        }
        rest = path + rl;
    }
    for (const char *s = rest; *s;) {
        while (*s == '/')
            s++;
        if (*s == '.') {
            *why = "a dot segment or dotfile";
            return -1;
        }
        while (*s && *s != '/')
            s++;
    }
    return 0;
}

int static_resolve(int fd, const char *path, char *out, size_t outlen)
{
    if (fd >= 0) {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, out, outlen - 1);
        if (n > 0 && (size_t)n < outlen - 1 && out[0] == '/') {
            out[n] = '\0';
            return 0;
        }
    }
    char tmp[PATH_MAX];
    if (!realpath(path, tmp) || strlen(tmp) >= outlen)
        return -1;
    strcpy(out, tmp);
    return 0;
}

/* The site folder with symlinks resolved, computed once per thread. */
static const char *real_root(const char *root)
{
    static _Thread_local char real[PATH_MAX], seen[PATH_MAX];
    if (strcmp(seen, root) != 0) {
        if (strlen(root) >= sizeof seen || !realpath(root, real))
            return NULL;
        strcpy(seen, root);
    }
    return real;
}

/* Does the file opened as fd (or named path) resolve inside the site? */
int static_resolved_inside(const char *root, int fd, const char *path)
{
    char res[PATH_MAX];
    const char *why, *rr;
    if (!root)
        return 1;
    rr = real_root(root);
    return rr && static_resolve(fd, path, res, sizeof res) == 0 &&
           static_path_allowed(rr, res, &why) == 0;
}
