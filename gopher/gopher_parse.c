/*
 * gopher_parse.c — Gopher's wire format without any I/O: the selector line
 * in, menu lines, info and error items, dot-stuffed text and rendered
 * gophermaps out (into a buf). See gopher_parse.h for the contract and the
 * conventions; gopher.c is the connection driver that uses it.
 *
 * A Gopher request is a single line, so the parser is resumable in the
 * simplest way: it looks for the LF in what has arrived and answers "need
 * more" (0) until it is there, refusing to look further than the limit.
 */
#include "gopher/gopher_parse.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- the request line --------------------------------------------------- */

int gopher_check_selector(const char *s, size_t n, const char **err)
{
    size_t seg = 0;                    /* start of the current segment */
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)s[i] : '/';
        if (c == 0) {
            *err = "NUL in the selector";
            return GOPHER_EBADSEL;
        }
        if (c == '\\') {
            *err = "backslash in the selector";
            return GOPHER_EBADSEL;
        }
        if (c < 0x20 || c == 0x7f) {
            *err = "control character in the selector";
            return GOPHER_EBADSEL;
        }
        if (c == '/') {
            if (i - seg == 2 && s[seg] == '.' && s[seg + 1] == '.') {
                *err = "'..' in the selector";
                return GOPHER_EBADSEL;
            }
            seg = i + 1;
        }
    }
    return 0;
}

static int is_plus_marker(const char *f, size_t n)
{
    return n >= 1 && (f[0] == '+' || f[0] == '$' || f[0] == '!') &&
           (n == 1 || f[0] == '+');   /* "+", "$", "!", "+application/pdf" */
}

long gopher_parse_line(const char *p, size_t len, size_t max, int eof,
                       gopher_line *out, const char **err)
{
    size_t scan = len < max + 2 ? len : max + 2;   /* content, CR, LF */
    const char *lf = memchr(p, '\n', scan);
    size_t n, used;
    memset(out, 0, sizeof *out);
    if (lf) {
        n = (size_t)(lf - p);
        used = n + 1;
    } else if (len >= max + 2) {
        *err = "selector line too long";
        return GOPHER_ETOOLONG;
    } else if (!eof || len == 0) {
        return 0;
    } else {
        n = used = len;
    }
    if (n && p[n - 1] == '\r')
        n--;
    if (n > max) {
        *err = "selector line too long";
        return GOPHER_ETOOLONG;
    }
    if (memchr(p, 0, n)) {
        *err = "NUL in the selector line";
        return GOPHER_EBADSEL;
    }
    const char *tab = memchr(p, '\t', n);
    out->selector = p;
    out->selector_len = tab ? (size_t)(tab - p) : n;
    if (tab) {
        const char *f = tab + 1, *end = p + n;
        const char *tab2 = memchr(f, '\t', (size_t)(end - f));
        size_t flen = (size_t)((tab2 ? tab2 : end) - f);
        if (!tab2 && is_plus_marker(f, flen)) {
            out->plus = 1;
        } else {
            out->query = f;
            out->query_len = flen;
            out->plus = tab2 != NULL;   /* a third field is Gopher+ talk: ignored */
        }
    }
    int rc = gopher_check_selector(out->selector, out->selector_len, err);
    return rc < 0 ? rc : (long)used;
}

/* ---- menu lines --------------------------------------------------------- */

static void put_display(buf *out, const char *s, size_t n)
{
    char *d = buf_tail(out, n);
    for (size_t i = 0; i < n; i++)
        d[i] = (s[i] == '\t' || s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    buf_commit(out, n);
}

static int has_breaker(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == 0)
            return 1;
    return 0;
}

int gopher_item(buf *out, char type, const char *text, size_t text_len,
                const char *sel, size_t sel_len, const char *host, int port,
                const char **err)
{
    unsigned char t = (unsigned char)type;
    if (t <= 0x20 || t >= 0x7f || t == '.') {
        *err = "an item type is one printable character (not '.')";
        return GOPHER_EBADITEM;
    }
    if (has_breaker(sel, sel_len)) {
        *err = "a selector cannot contain TAB, CR, LF or NUL";
        return GOPHER_EBADITEM;
    }
    size_t host_len = strlen(host);
    if (has_breaker(host, host_len)) {
        *err = "a host cannot contain TAB, CR or LF";
        return GOPHER_EBADITEM;
    }
    if (port < 0 || port > 65535) {
        *err = "a port is 0 to 65535";
        return GOPHER_EBADITEM;
    }
    buf_append(out, &type, 1);
    put_display(out, text, text_len);
    buf_append(out, "\t", 1);
    buf_append(out, sel, sel_len);
    buf_append(out, "\t", 1);
    buf_append(out, host, host_len);
    buf_printf(out, "\t%d\r\n", port);
    return 0;
}

void gopher_info(buf *out, const char *text, size_t len)
{
    size_t i = 0;
    do {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t n = e - i;
        if (n && text[i + n - 1] == '\r')
            n--;
        buf_append(out, "i", 1);
        size_t col = 0;
        for (size_t k = i; k < i + n; k++) {
            char c = text[k];
            if (c == '\t') {
                do buf_append(out, " ", 1); while (++col % 8);
                continue;
            }
            buf_append(out, c == '\r' ? " " : &c, 1);
            col++;
        }
        buf_puts(out, "\tfake\t(NULL)\t0\r\n");
        i = e + 1;
    } while (i < len);
}

void gopher_error_item(buf *out, const char *msg, size_t len)
{
    buf_append(out, "3", 1);
    put_display(out, msg, len);
    buf_puts(out, "\t\terror.host\t1\r\n");
}

void gopher_end_line(buf *out)
{
    buf_append(out, ".\r\n", 3);
}

void gopher_text(buf *out, const char *s, size_t len)
{
    size_t i = 0;
    buf_reserve(out, len + len / 32 + 8);
    while (i < len) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - s) : len;
        size_t n = e - i;
        if (nl && n && s[e - 1] == '\r')
            n--;
        if (n && s[i] == '.')
            buf_append(out, ".", 1);
        buf_append(out, s + i, n);
        buf_append(out, "\r\n", 2);
        i = e + 1;
    }
    gopher_end_line(out);
}

/* ---- item types --------------------------------------------------------- */

static const struct { const char *ext; char type; } type_table[] = {
    {"txt", '0'}, {"text", '0'}, {"md", '0'}, {"csv", '0'}, {"log", '0'},
    {"lua", '0'}, {"c", '0'}, {"h", '0'}, {"py", '0'}, {"sh", '0'},
    {"conf", '0'}, {"ini", '0'}, {"json", '0'}, {"xml", '0'}, {"gmi", '0'},
    {"asc", '0'}, {"nfo", '0'}, {"diff", '0'}, {"patch", '0'},
    {"gif", 'g'},
    {"jpg", 'I'}, {"jpeg", 'I'}, {"png", 'I'}, {"bmp", 'I'}, {"webp", 'I'},
    {"tif", 'I'}, {"tiff", 'I'}, {"ico", 'I'}, {"svg", 'I'}, {"avif", 'I'},
    {"html", 'h'}, {"htm", 'h'}, {"xhtml", 'h'},
    {"wav", 's'}, {"mp3", 's'}, {"ogg", 's'}, {"flac", 's'}, {"au", 's'},
    {"aiff", 's'}, {"m4a", 's'}, {"opus", 's'}, {"mid", 's'},
    {"zip", '5'}, {"tar", '5'}, {"gz", '5'}, {"tgz", '5'}, {"bz2", '5'},
    {"xz", '5'}, {"7z", '5'}, {"rar", '5'}, {"zst", '5'},
    {"hqx", '4'}, {"uu", '6'}, {"uue", '6'},
    {"pdf", '9'}, {"exe", '9'}, {"bin", '9'}, {"iso", '9'}, {"mp4", '9'},
    {"mkv", '9'}, {"webm", '9'}, {"avi", '9'}, {"doc", '9'}, {"odt", '9'},
};

char gopher_type_for(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (!dot || dot == name || (slash && dot < slash) || dot[1] == 0)
        return 0;
    for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
        if (strcasecmp(dot + 1, type_table[i].ext) == 0)
            return type_table[i].type;
    return 0;
}

char gopher_sniff(const char *p, size_t n)
{
    size_t odd = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == 0)
            return '9';
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' &&
            c != '\b' && c != 0x1b)
            odd++;
    }
    return odd * 10 > n ? '9' : '0';
}

/* ---- gophermaps ---------------------------------------------------------- */

typedef struct map_fields {
    const char *f[4];      /* text (after the type), selector, host, port */
    size_t      n[4];
    int         count;
} map_fields;

static void split_fields(const char *s, size_t n, map_fields *mf)
{
    memset(mf, 0, sizeof *mf);
    size_t i = 0;
    while (mf->count < 4) {
        const char *tab = memchr(s + i, '\t', n - i);
        size_t e = tab ? (size_t)(tab - s) : n;
        mf->f[mf->count] = s + i;
        mf->n[mf->count++] = e - i;
        if (!tab)
            break;
        i = e + 1;
    }
}

static int parse_port(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

static void map_error(buf *out, int lineno, const char *what)
{
    char msg[128];
    int k = snprintf(msg, sizeof msg, "gophermap line %d: %s", lineno, what);
    gopher_error_item(out, msg, (size_t)k < sizeof msg ? (size_t)k : sizeof msg - 1);
}

/* One "Xtext\tselector\thost\tport" line. */
static void map_item(buf *out, const char *s, size_t n, int lineno, const char *dir,
                     const char *host, int port)
{
    map_fields mf;
    split_fields(s + 1, n - 1, &mf);
    char type = s[0];
    if (type == 'i') {
        gopher_info(out, mf.f[0], mf.n[0]);
        return;
    }
    if (type == '3') {
        gopher_error_item(out, mf.f[0], mf.n[0]);
        return;
    }
    const char *sel = mf.n[1] ? mf.f[1] : mf.f[0];
    size_t sel_len = mf.n[1] ? mf.n[1] : mf.n[0];
    int local = mf.count < 3 || mf.n[2] == 0;
    char hostbuf[256];
    if (!local) {
        if (mf.n[2] >= sizeof hostbuf) {
            map_error(out, lineno, "host name too long");
            return;
        }
        memcpy(hostbuf, mf.f[2], mf.n[2]);
        hostbuf[mf.n[2]] = 0;
        host = hostbuf;
        port = 70;
    }
    if (mf.count == 4 && mf.n[3]) {
        port = parse_port(mf.f[3], mf.n[3]);
        if (port < 0) {
            map_error(out, lineno, "the port is not a number 0-65535");
            return;
        }
    }
    buf joined = BUF_INIT;
    if (local && sel_len && sel[0] != '/' && !(sel_len >= 4 && !memcmp(sel, "URL:", 4))) {
        size_t dl = strlen(dir);
        while (dl && dir[dl - 1] == '/')
            dl--;
        buf_append(&joined, dir, dl);
        buf_append(&joined, "/", 1);
        buf_append(&joined, sel, sel_len);
        sel = buf_head(&joined);
        sel_len = buf_size(&joined);
    }
    const char *err;
    if (gopher_item(out, type, mf.f[0], mf.n[0], sel, sel_len, host, port, &err) < 0)
        map_error(out, lineno, err);
    buf_free(&joined);
}

int gopher_map_render(buf *out, const char *map, size_t len, const char *dir,
                      const char *host, int port)
{
    size_t i = 0;
    int lineno = 0;
    while (i < len) {
        const char *nl = memchr(map + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - map) : len;
        size_t n = e - i;
        const char *s = map + i;
        i = e + 1;
        lineno++;
        if (n && s[n - 1] == '\r')
            n--;
        if (n == 1 && s[0] == '.')
            return 0;
        if (n == 1 && s[0] == '*')
            return 1;
        if (n && s[0] == '#')
            continue;
        if (!memchr(s, '\t', n) || n < 2)
            gopher_info(out, s, n);
        else
            map_item(out, s, n, lineno, dir, host, port);
    }
    return 0;
}

/* ---- URL: selectors ------------------------------------------------------ */

static void put_html(buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': buf_puts(out, "&amp;"); break;
        case '<': buf_puts(out, "&lt;"); break;
        case '>': buf_puts(out, "&gt;"); break;
        case '"': buf_puts(out, "&quot;"); break;
        case '\'': buf_puts(out, "&#39;"); break;
        default: buf_append(out, s + i, 1);
        }
    }
}

int gopher_url_page(buf *out, const char *url, size_t len, const char **err)
{
    static const char *ok[] = {"http://", "https://", "ftp://", "gemini://", "mailto:", "gopher://"};
    int allowed = 0;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (len > strlen(ok[i]) && strncasecmp(url, ok[i], strlen(ok[i])) == 0)
            allowed = 1;
    if (!allowed) {
        *err = "URL: selectors lead to http, https, ftp, gemini, gopher or mailto URLs only";
        return GOPHER_EBADSEL;
    }
    buf_puts(out, "<!doctype html>\n<html><head><meta http-equiv=\"refresh\" content=\"2;URL=");
    put_html(out, url, len);
    buf_puts(out, "\"><title>Leaving Gopherspace</title></head>\n<body><p>This link leads out of "
                  "Gopherspace, to <a href=\"");
    put_html(out, url, len);
    buf_puts(out, "\">");
    put_html(out, url, len);
    buf_puts(out, "</a>.</p></body></html>\n");
    return 0;
}
