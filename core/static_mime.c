/*
 * static_mime.c — the MIME type of a file, by extension. /etc/mime.types
 * (Debian's media-types) is read once per process, the first mapping of an
 * extension winning as in other servers; extensions it lacks fall back to a
 * built-in table of the usual web types. Textual types get
 * "; charset=utf-8". Lookups are a binary search over a sorted array and
 * return strings that live as long as the process.
 */
#include "core/static.h"
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- MIME types --------------------------------------------------------- */

#define U8 "; charset=utf-8"
static const struct { const char *ext, *type; } mime_builtin[] = {
    {"html", "text/html" U8}, {"htm", "text/html" U8}, {"css", "text/css" U8},
    {"js", "text/javascript" U8}, {"mjs", "text/javascript" U8}, {"json", "application/json"},
    {"txt", "text/plain" U8}, {"md", "text/markdown" U8}, {"xml", "application/xml"},
    {"svg", "image/svg+xml"}, {"png", "image/png"}, {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"webp", "image/webp"},
    {"avif", "image/avif"}, {"ico", "image/x-icon"}, {"woff", "font/woff"},
    {"woff2", "font/woff2"}, {"ttf", "font/ttf"}, {"otf", "font/otf"},
    {"pdf", "application/pdf"}, {"zip", "application/zip"}, {"gz", "application/gzip"},
    {"tar", "application/x-tar"}, {"wasm", "application/wasm"}, {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"}, {"wav", "audio/wav"}, {"mp4", "video/mp4"},
    {"webm", "video/webm"}, {"csv", "text/csv" U8}, {"lua", "text/plain" U8},
    {"c", "text/plain" U8}, {"h", "text/plain" U8}, {"gmi", "text/gemini" U8},
    {"rss", "application/rss+xml"}, {"atom", "application/atom+xml"},
    {"webmanifest", "application/manifest+json"},
};

typedef struct mime_ent { char ext[16]; const char *type; size_t order; } mime_ent;
static mime_ent *mime_db;
static size_t mime_n;
static const char *mime_path = "/etc/mime.types";
static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static int mime_cmp(const void *a, const void *b)
{
    const mime_ent *x = a, *y = b;
    int c = strcmp(x->ext, y->ext);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static const char *mime_intern(const char *type)
{
    int text = strncmp(type, "text/", 5) == 0 || strcmp(type, "application/javascript") == 0;
    size_t n = strlen(type);
    char *s = malloc(n + sizeof U8);
    if (s)
        memcpy(s, type, n), memcpy(s + n, text ? U8 : "", text ? sizeof U8 : 1);
    return s;
}

/* One mime.types line: "type ext ext ...". Returns 0, -1 on no memory. */
static int mime_line(char *line, size_t *cap)
{
    char *save, *type = strtok_r(line, " \t\r\n", &save);
    if (!type || type[0] == '#' || !strchr(type, '/'))
        return 0;
    const char *t = NULL;
    for (char *ext; (ext = strtok_r(NULL, " \t\r\n", &save));) {
        if (strlen(ext) >= sizeof mime_db->ext)
            continue;
        if (!t && !(t = mime_intern(type)))
            return -1;
        if (mime_n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 512;
            mime_ent *v = realloc(mime_db, ncap * sizeof *v);
            if (!v)
                return -1;
            mime_db = v, *cap = ncap;
        }
        mime_ent *e = &mime_db[mime_n];
        for (size_t i = 0; (e->ext[i] = (char)tolower((unsigned char)ext[i])); i++)
            ;
        e->type = t;
        e->order = mime_n++;
    }
    return 0;
}

static void mime_load(void)
{
    FILE *f = fopen(mime_path, "re");
    char line[1024];
    size_t cap = 0;
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        if (mime_line(line, &cap) < 0)
            break;
    fclose(f);
    if (mime_n)
        qsort(mime_db, mime_n, sizeof *mime_db, mime_cmp);
}

const char *static_mime(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    char ext[16];
    size_t n;
    if (!dot || (slash && dot < slash) || (n = strlen(dot + 1)) == 0 || n >= sizeof ext)
        return "application/octet-stream";
    for (size_t i = 0; i <= n; i++)
        ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    pthread_once(&mime_once, mime_load);
    size_t lo = 0, hi = mime_n;
    while (lo < hi) {                 /* first entry for ext: the file's own order wins */
        size_t mid = (lo + hi) / 2;
        if (strcmp(mime_db[mid].ext, ext) < 0) lo = mid + 1; else hi = mid;
    }
    if (lo < mime_n && strcmp(mime_db[lo].ext, ext) == 0)
        return mime_db[lo].type;
    for (size_t i = 0; i < sizeof mime_builtin / sizeof mime_builtin[0]; i++)
        if (strcmp(ext, mime_builtin[i].ext) == 0)
            return mime_builtin[i].type;
    return "application/octet-stream";
}
