/*
 * gopher.c — the Gopher connection driver (gopher_proto) and the static
 * Gopher folder (SITE/gopher/): one selector line in, one reply out, close.
 *
 * A connection walks through four states:
 *   READING   collecting the selector line (bounded size, read timeout)
 *   HANDLING  the app (Lua routes) owns the request; it may answer later
 *   SENDING   a file streams out, a chunk per "drained", stall timeout
 *   DONE      the reply is queued; conn_close() flushes it, then closes
 * Every reply leaves through conn_close(), which flushes before closing, so
 * no answer is ever cut short — the old GopherSite lost every second one.
 *
 * The wire format (items, info lines, dot-stuffing, gophermaps) lives in the
 * pure gopher_parse.c; this file only does I/O and the file system.
 */
#include "gopher/gopher.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/buf.h"
#include "core/server.h"
#include "gopher/gopher_parse.h"

#define GOPHER_SEND_STALL_MS 60000     /* a reader that takes nothing for this long is dropped */
#define GOPHER_HIGH_WATER    (256 * 1024)
#define GOPHER_MAX_MAP       (1024 * 1024)
#define GOPHER_MAX_LISTING   10000
#define GOPHER_MAX_TEXT      (8 * 1024 * 1024)  /* larger text files go out as they are */

typedef enum { G_READING, G_HANDLING, G_SENDING, G_DONE } gstate;

typedef struct gconn {
    gopher_req    req;          /* first: a gopher_req* is a gconn* */
    gstate        st;
    buf           in;
    char         *sel, *query;
    int           fd;           /* file being sent, or -1 */
    int           pumping, dead;
    gopher_config cfg;
} gconn;

/* The bytes of b; "" for a buf that never held any (no NULL arithmetic). */
static const char *bhead(const buf *b)
{
    return b->data ? buf_head(b) : "";
}

static const gopher_app *app_of(conn *c)
{
    const app_ops *ops = c->w ? c->w->ops : NULL;
    return ops ? (const gopher_app *)ops->gopher : NULL;
}

static void g_free(gconn *g)
{
    if (g->fd >= 0)
        close(g->fd);
    buf_free(&g->in);
    free(g->sel);
    free(g->query);
    free(g);
}

/* ---- replies ------------------------------------------------------------ */

int gopher_write(gopher_req *r, const void *p, size_t n)
{
    return conn_write(r->c, p, n);
}

void gopher_end(gopher_req *r)
{
    gconn *g = (gconn *)r;
    g->st = G_DONE;
    r->app_data = NULL;
    conn_close(r->c);
}

void gopher_fail(gopher_req *r, const char *msg)
{
    buf b = BUF_INIT;
    gopher_error_item(&b, msg, strlen(msg));
    gopher_end_line(&b);
    gopher_write(r, bhead(&b), buf_size(&b));
    buf_free(&b);
    gopher_end(r);
}

/* Send the file in chunks while little is queued; "drained" calls again.
 * conn_write may close the conn under us (peer reset): g->dead then says
 * that proto close ran, and freeing is left to us. */
static void g_pump(gconn *g)
{
    if (g->pumping)
        return;
    g->pumping = 1;
    char chunk[65536];
    while (g->fd >= 0 && !g->dead && conn_queued(g->req.c) < GOPHER_HIGH_WATER) {
        ssize_t n = read(g->fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                log_error("gopher %s: read: %s", g->req.selector, strerror(errno));
            close(g->fd);
            g->fd = -1;
            g->pumping = 0;
            gopher_end(&g->req);     /* may free g */
            return;
        }
        conn_write(g->req.c, chunk, (size_t)n);
    }
    g->pumping = 0;
    if (g->dead)
        g_free(g);
    else if (g->fd >= 0)
        conn_timer(g->req.c, GOPHER_SEND_STALL_MS);
}

static int path_inside(const char *root, const char *path)
{
    size_t n = strlen(root);
    return strncmp(path, root, n) == 0 && (path[n] == 0 || path[n] == '/' || (n == 1 && root[0] == '/'));
}

int gopher_serve_file(gopher_req *r, const char *path, const char **err)
{
    gconn *g = (gconn *)r;
    char root[PATH_MAX], real[PATH_MAX];
    const char *site = r->c->w->cfg->site_dir;
    if (!realpath(site, root) || !realpath(path, real)) {
        *err = "no such file";
        return -1;
    }
    if (!path_inside(root, real)) {
        *err = "the file is outside the site folder";
        return -1;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *err = fd < 0 ? "cannot open the file" : "not a regular file";
        if (fd >= 0)
            close(fd);
        return -1;
    }
    g->fd = fd;
    g->st = G_SENDING;
    r->app_data = NULL;
    g_pump(g);
    return 0;
}

/* ---- the static folder -------------------------------------------------- */

static char type_of_file(const char *path)
{
    char t = gopher_type_for(path);
    if (t)
        return t;
    char head[512];
    ssize_t n = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, head, sizeof head);
        close(fd);
    }
    return n < 0 ? '9' : gopher_sniff(head, (size_t)n);
}

static int listing_filter(const struct dirent *e)
{
    return e->d_name[0] != '.' && strcmp(e->d_name, "gophermap") != 0 &&
           !strpbrk(e->d_name, "\t\r\n");
}

/* A menu of the folder's entries, in name order: folders 1, files by type.
 * Links that lead outside the gopher folder (`root`) are left out. */
static void list_dir(buf *out, const char *dir, const char *root, const gopher_req *r)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, listing_filter, alphasort);
    size_t sl = strlen(r->selector);
    while (sl && r->selector[sl - 1] == '/')
        sl--;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        char path[PATH_MAX], real[PATH_MAX];
        struct stat st;
        int k = snprintf(path, sizeof path, "%s/%s", dir, name);
        if (i < GOPHER_MAX_LISTING && k > 0 && (size_t)k < sizeof path && stat(path, &st) == 0 &&
            (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) && realpath(path, real) &&
            path_inside(root, real)) {
            char type = S_ISDIR(st.st_mode) ? '1' : type_of_file(path);
            buf sel = BUF_INIT;
            buf_append(&sel, r->selector, sl);
            buf_printf(&sel, "/%s", name);
            const char *err;
            gopher_item(out, type, name, strlen(name), bhead(&sel), buf_size(&sel),
                        r->host, r->port, &err);
            buf_free(&sel);
        }
        free(list[i]);
    }
    free(list);
}

/* Read a gophermap or text file whole (at most about `max` bytes). 0 or -1. */
static int read_map(const char *path, buf *map, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    while (buf_size(map) < max && (n = read(fd, buf_tail(map, 65536), 65536)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        buf_commit(map, (size_t)n);
    }
    close(fd);
    return 0;
}

static void serve_dir(gconn *g, const char *dir, const char *root)
{
    gopher_req *r = &g->req;
    buf out = BUF_INIT, map = BUF_INIT;
    char mp[PATH_MAX];
    int listing = 1;
    int k = snprintf(mp, sizeof mp, "%s/gophermap", dir);
    if (k > 0 && (size_t)k < sizeof mp && read_map(mp, &map, GOPHER_MAX_MAP) == 0)
        listing = gopher_map_render(&out, bhead(&map), buf_size(&map), r->selector,
                                    r->host, r->port);
    if (listing)
        list_dir(&out, dir, root, r);
    gopher_end_line(&out);
    gopher_write(r, bhead(&out), buf_size(&out));
    buf_free(&out);
    buf_free(&map);
    gopher_end(r);
}

/* A text file (type 0) goes out as RFC 1436 text: CRLF line ends,
 * dot-stuffed, closed by "." — what res:text sends, too. 0 or -1. */
static int serve_text(gconn *g, const char *path)
{
    buf file = BUF_INIT, out = BUF_INIT;
    if (read_map(path, &file, GOPHER_MAX_TEXT) < 0)
        return -1;
    gopher_text(&out, bhead(&file), buf_size(&file));
    buf_free(&file);
    gopher_write(&g->req, bhead(&out), buf_size(&out));
    buf_free(&out);
    gopher_end(&g->req);
    return 0;
}

static int hidden(const char *sel)
{
    for (const char *p = sel; (p = strchr(p, '/')); p++)
        if (p[1] == '.')
            return 1;
    return 0;
}

int gopher_serve_static(gopher_req *r, const char **err)
{
    gconn *g = (gconn *)r;
    char dir[PATH_MAX], root[PATH_MAX], path[PATH_MAX], real[PATH_MAX];
    int k = snprintf(dir, sizeof dir, "%s/gopher", r->c->w->cfg->site_dir);
    if (k < 0 || (size_t)k >= sizeof dir || !realpath(dir, root))
        return 0;
    if (gopher_check_selector(r->selector, strlen(r->selector), err) < 0)
        return -1;
    k = snprintf(path, sizeof path, "%s%s", root, r->selector);
    if (k < 0 || (size_t)k >= sizeof path || hidden(r->selector) || !realpath(path, real))
        return 0;
    if (!path_inside(root, real)) {
        *err = "the selector leads outside the gopher folder";
        return -1;
    }
    struct stat st;
    if (stat(real, &st) < 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        serve_dir(g, real, root);
        return 1;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    if (st.st_size <= GOPHER_MAX_TEXT && type_of_file(real) == '0' && serve_text(g, real) == 0)
        return 1;
    return gopher_serve_file(r, real, err) == 0 ? 1 : 0;
}

/* No app (or a site without routes): the folder, or "not found". */
static void serve_plain(gopher_req *r)
{
    const char *err = NULL;
    int rc = gopher_serve_static(r, &err);
    if (rc == 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "Not found: %s", r->selector);
        gopher_fail(r, msg);
    } else if (rc < 0) {
        gopher_fail(r, err);
    }
}

/* ---- the connection ----------------------------------------------------- */

static void default_host(const server_config *cfg, char *out, size_t n)
{
    const char *b = cfg->nbind == 1 ? cfg->bind[0] : NULL;
    if (b && strcmp(b, "0.0.0.0") && strcmp(b, "::") && !strchr(b, ':'))
        snprintf(out, n, "%s", b);
    else
        snprintf(out, n, "localhost");
}

static int g_open(conn *c)
{
    gconn *g = calloc(1, sizeof *g);
    if (!g)
        return -1;
    g->fd = -1;
    g->req.c = c;
    g->req.port = c->local_port;
    g->cfg.read_timeout_ms = 10000;
    default_host(c->w->cfg, g->cfg.host, sizeof g->cfg.host);
    const gopher_app *app = app_of(c);
    if (app && app->config)
        app->config(c->w->app, &g->cfg);
    g->req.host = g->cfg.host;
    c->proto_data = g;
    conn_timer(c, g->cfg.read_timeout_ms);
    return 0;
}

/* A refused line: one error item, then close. */
static void g_refuse(gconn *g, const char *why)
{
    g->st = G_HANDLING;
    conn_timer(g->req.c, 0);
    g->req.selector = "";
    gopher_fail(&g->req, why);
}

static char *dup_n(const char *p, size_t n, int slash)
{
    char *s = malloc(n + 2);
    if (!s)
        return NULL;
    size_t k = 0;
    if (slash && (n == 0 || p[0] != '/'))
        s[k++] = '/';
    memcpy(s + k, p, n);
    s[k + n] = 0;
    return s;
}

/* A "URL:..." selector: a client without type h support followed a link. */
static void serve_url(gconn *g, const char *url, size_t n)
{
    buf b = BUF_INIT;
    const char *err;
    if (gopher_url_page(&b, url, n, &err) < 0) {
        buf_free(&b);
        g_refuse(g, err);
        return;
    }
    gopher_write(&g->req, bhead(&b), buf_size(&b));
    buf_free(&b);
    gopher_end(&g->req);
}

static void g_dispatch(gconn *g, const gopher_line *l)
{
    conn *c = g->req.c;
    conn_timer(c, 0);
    conn_pause(c);
    g->st = G_HANDLING;
    const char *u = l->selector_len && l->selector[0] == '/' ? l->selector + 1 : l->selector;
    size_t ul = l->selector_len - (size_t)(u - l->selector);
    if (ul >= 4 && memcmp(u, "URL:", 4) == 0) {   /* curl sends "/URL:...", lynx "URL:..." */
        serve_url(g, u + 4, ul - 4);
        return;
    }
    g->sel = dup_n(l->selector, l->selector_len, 1);
    g->query = l->query ? dup_n(l->query, l->query_len, 0) : NULL;
    if (!g->sel || (l->query && !g->query)) {
        conn_abort(c);
        return;
    }
    g->req.selector = g->sel;
    g->req.query = g->query;
    const gopher_app *app = app_of(c);
    if (app && app->handle)
        app->handle(c->w->app, &g->req);
    else
        serve_plain(&g->req);
}

static void g_take(gconn *g, int eof)
{
    gopher_line l;
    const char *err = NULL;
    long n = gopher_parse_line(bhead(&g->in), buf_size(&g->in), GOPHER_MAX_LINE, eof, &l, &err);
    if (n < 0)
        g_refuse(g, err);
    else if (n > 0)
        g_dispatch(g, &l);
    else if (eof)
        conn_close(g->req.c);    /* connected, said nothing, left */
}

static void g_read(conn *c, const char *data, size_t len)
{
    gconn *g = c->proto_data;
    if (g->st != G_READING)
        return;                  /* bytes after the line are ignored */
    size_t room = GOPHER_MAX_LINE + 2 - buf_size(&g->in);
    buf_append(&g->in, data, len < room ? len : room);
    g_take(g, 0);
}

static void g_eof(conn *c)
{
    gconn *g = c->proto_data;
    if (g->st == G_READING)
        g_take(g, 1);
    /* otherwise the reply is on its way: the client only closed its side */
}

static void g_timeout(conn *c)
{
    gconn *g = c->proto_data;
    if (g->st == G_READING)
        conn_close(c);           /* no line in time: nothing to answer */
    else
        conn_abort(c);           /* a reader that stopped reading */
}

static void g_drained(conn *c)
{
    gconn *g = c->proto_data;
    if (g && g->st == G_SENDING)
        g_pump(g);
}

static void g_drain(conn *c)
{
    gconn *g = c->proto_data;
    if (g->st == G_READING)
        conn_close(c);           /* a request in flight is allowed to finish */
}

static void g_close(conn *c)
{
    gconn *g = c->proto_data;
    if (!g)
        return;
    c->proto_data = NULL;
    if (g->req.app_data && g->req.on_abort) {
        void (*abort_fn)(gopher_req *) = g->req.on_abort;
        g->req.on_abort = NULL;
        abort_fn(&g->req);
        g->req.app_data = NULL;
    }
    if (g->pumping)
        g->dead = 1;             /* g_pump frees it when it unwinds */
    else
        g_free(g);
}

const conn_proto gopher_proto = {
    .name = "gopher",
    .open = g_open,
    .read = g_read,
    .drained = g_drained,
    .timeout = g_timeout,
    .eof = g_eof,
    .close = g_close,
    .drain = g_drain,
};
