/*
 * static.c — static files: MIME type by extension, validators (ETag from
 * size and mtime, Last-Modified), 304 for If-None-Match/If-Modified-Since,
 * HEAD. Files are read whole (they are small on a typical site); large-file
 * streaming and Range live in a later revision of this module.
 */
#include "core/static.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct { const char *ext, *type; } mime_table[] = {
    {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"}, {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"}, {"md", "text/markdown; charset=utf-8"},
    {"xml", "application/xml"}, {"svg", "image/svg+xml"}, {"png", "image/png"},
    {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
    {"webp", "image/webp"}, {"avif", "image/avif"}, {"ico", "image/x-icon"},
    {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"ttf", "font/ttf"},
    {"otf", "font/otf"}, {"pdf", "application/pdf"}, {"zip", "application/zip"},
    {"gz", "application/gzip"}, {"tar", "application/x-tar"}, {"wasm", "application/wasm"},
    {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"}, {"wav", "audio/wav"},
    {"mp4", "video/mp4"}, {"webm", "video/webm"}, {"csv", "text/csv; charset=utf-8"},
    {"lua", "text/plain; charset=utf-8"}, {"c", "text/plain; charset=utf-8"},
    {"h", "text/plain; charset=utf-8"}, {"gmi", "text/gemini"}, {"rss", "application/rss+xml"},
    {"atom", "application/atom+xml"}, {"webmanifest", "application/manifest+json"},
};

const char *static_mime(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return "application/octet-stream";
    for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++)
        if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
            return mime_table[i].type;
    return "application/octet-stream";
}

int static_safe_join(const char *root, const char *urlpath, char *out, size_t outlen)
{
    const char *p = urlpath;
    while (*p == '/')
        p++;
    /* every segment must be a plain name */
    for (const char *s = p; *s;) {
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

static int etag_match(const char *list, size_t n, const char *etag)
{
    size_t el = strlen(etag);
    if (n == 1 && list[0] == '*')
        return 1;
    for (size_t i = 0; i + el <= n; i++)
        if (memcmp(list + i, etag, el) == 0)
            return 1;
    return 0;
}

int static_serve(http_req *r, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == EACCES ? (http_respond_simple(r, 403, "text/plain; charset=utf-8", "403 Forbidden\n", 14), 1) : 0;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    char etag[64], lastmod[40];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    struct tm tm;
    gmtime_r(&st.st_mtime, &tm);
    strftime(lastmod, sizeof lastmod, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    const char *mime = static_mime(path);
    http_hdr hd[3] = {
        {"content-type", 12, mime, strlen(mime)},
        {"etag", 4, etag, strlen(etag)},
        {"last-modified", 13, lastmod, strlen(lastmod)},
    };
    const http_hdr *inm = http_find(r, "if-none-match");
    const http_hdr *ims = http_find(r, "if-modified-since");
    int not_modified = inm ? etag_match(inm->value, inm->value_len, etag)
                     : ims && ims->value_len == strlen(lastmod) && memcmp(ims->value, lastmod, ims->value_len) == 0;
    if (not_modified) {
        close(fd);
        r->drv->start(r, 304, hd + 1, 2, 0);
        r->drv->body(r, "", 0, 1);
        return 1;
    }
    size_t size = (size_t)st.st_size;
    char *data = size ? malloc(size) : NULL;
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, data + got, size - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    r->drv->start(r, 200, hd, 3, (int64_t)got);
    r->drv->body(r, data, r->head ? 0 : got, 1);
    free(data);
    return 1;
}
