/*
 * static.c — static files for the web side: public/ and res:file().
 *
 * A request goes through four steps. (1) The path is checked lexically: it
 * must lie under the site folder and no segment after it may start with a
 * dot. (2) This thread's small-file cache is asked: files up to 64 KiB live
 * there with their validators, revalidated with one stat() at most once a
 * second, evicted least-recently-used beyond 16 MiB; a hit costs no open().
 * Bigger files keep their validators, headers and an open descriptor there
 * (up to CACHE_FDS_MAX per worker): a hit sends from that descriptor with no
 * open, fstat or close, checked against the path with the same once-a-second
 * stat() (a file replaced within that second may still be answered from the
 * old inode for that second, never from what replaced it). The descriptor
 * is shared by reference with the connections sending from it (sfd). Past
 * the cap a hit opens the file and, when fstat() shows the same inode, size
 * and time as before, skips resolving the path and rebuilding the headers.
 * (3) On a miss the file is opened (O_NONBLOCK, so a FIFO cannot hang the
 * worker), fstat'ed, and the file actually opened is resolved through
 * /proc/self/fd and checked again against the site folder, so a symlink
 * leading outside is refused without a window between check and use.
 * (4) The answer: preconditions (412, 304) in RFC 9110 §13.2.2 order, then
 * Range (206, multipart/byteranges, 416) subject to If-Range, then the body.
 *
 * A whole file asked without Range or If-* headers skips (4): its 200
 * headers are kept formatted as HTTP/1.1 lines with its validators, and a
 * driver that takes lines (http_driver.start_lines) copies them as they are.
 *
 * Bodies from the cache are sent at once. Bodies from a file are streamed in
 * 64 KiB pieces: while the connection holds more than HIGH_WATER unsent
 * bytes the stream waits for r->on_writable; it owns the request meanwhile
 * (see static.h for how the previous owner is saved, chained and restored).
 * Over HTTP/1.1 a whole file or a single range leaves instead by
 * http1_send_file(): the connection queues the descriptor and sends it with
 * sendfile(2) (no copy, no back-pressure loop here). The grammar of the
 * headers lives in static_parse.c, where a path may lead in static_path.c.
 */
#include "core/static.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/conn.h"
#include "core/http1_conn.h"
#include "core/server.h"
#include "core/static_parse.h"

#define CHUNK            (64 * 1024)
#define HIGH_WATER       (256 * 1024)
#define CACHE_FILE_MAX   (64 * 1024)
#define CACHE_BYTES_MAX  (16u << 20)
#define CACHE_BUCKETS    1024
#define CACHE_RECHECK_S  1.0
#define CACHE_FDS_MAX    256      /* big files kept open, per worker thread */

/* What a response needs to know about a file: validators and type. */
typedef struct smeta {
    uint64_t    size;
    int64_t     mtime;
    long        mtime_ns;
    dev_t       dev;
    ino_t       ino;
    char        etag[48];
    size_t      etag_len;
    char        lastmod[30];
    size_t      lastmod_len;
    const char *mime;
    size_t      mime_len;
    char        lines[320];      /* the 200's headers as HTTP/1.1 lines; */
    size_t      lines_len;       /* 0 when they did not fit */
} smeta;

static _Thread_local char chunk[CHUNK];

static const char *site_root(const http_req *r)
{
    return r->c && r->c->w && r->c->w->cfg ? r->c->w->cfg->site_dir : NULL;
}

/* ---- validators and the small-file cache -------------------------------- */

static void meta_fill(smeta *m, const struct stat *st, const char *path)
{
    m->size = (uint64_t)st->st_size;
    m->mtime = (int64_t)st->st_mtim.tv_sec;
    m->mtime_ns = st->st_mtim.tv_nsec;
    m->dev = st->st_dev;
    m->ino = st->st_ino;
    uint64_t stamp = (uint64_t)m->mtime * 1000000000u + (uint64_t)m->mtime_ns;
    m->etag_len = (size_t)snprintf(m->etag, sizeof m->etag, "\"%" PRIx64 "-%" PRIx64 "\"", m->size, stamp);
    static_format_date(m->mtime, m->lastmod);
    m->lastmod_len = strlen(m->lastmod);
    m->mime = static_mime(path);
    m->mime_len = strlen(m->mime);
    int k = snprintf(m->lines, sizeof m->lines,
                     "Content-Type: %s\r\nEtag: %s\r\nLast-Modified: %s\r\nAccept-Ranges: bytes\r\n",
                     m->mime, m->etag, m->lastmod);
    m->lines_len = k > 0 && (size_t)k < sizeof m->lines ? (size_t)k : 0;
}

static int meta_changed(const smeta *m, const struct stat *st)
{
    return m->size != (uint64_t)st->st_size || m->mtime != (int64_t)st->st_mtim.tv_sec ||
           m->mtime_ns != st->st_mtim.tv_nsec || m->ino != st->st_ino || m->dev != st->st_dev ||
           !S_ISREG(st->st_mode);
}

/* An open descriptor of a big file, shared by its cache entry and the
 * connections sending from it, closed with its last holder. Like the cache
 * it belongs to one worker thread: plain counts, no atomics. */
typedef struct sfd {
    int fd;
    int refs;
} sfd;

static void sfd_put(void *p)
{
    sfd *f = p;
    if (--f->refs == 0) {
        close(f->fd);
        free(f);
    }
}

/* A descriptor handed to respond(): shared (drop a reference) or ours. */
static void fd_drop(int fd, sfd *shared)
{
    if (shared)
        sfd_put(shared);
    else if (fd >= 0)
        close(fd);
}

typedef struct centry {
    struct centry *hnext, *prev, *next;   /* hash chain; LRU list, head = newest */
    uint32_t hash;
    double   checked;                     /* monotonic seconds of the last stat */
    size_t   cost;
    int      meta_only;                   /* too big to keep: validators only */
    sfd     *fd;                          /* meta_only: the file kept open, or NULL */
    smeta    m;
    char    *path;                        /* stored after the data */
    char     data[];
} centry;

typedef struct scache {
    centry *bucket[CACHE_BUCKETS];
    centry *head, *tail;
    size_t  bytes, count;
    int     nfds;                         /* entries holding an sfd */
} scache;

static _Thread_local scache *tcache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t path_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void lru_unlink(scache *c, centry *e)
{
    if (e->prev) e->prev->next = e->next; else c->head = e->next;
    if (e->next) e->next->prev = e->prev; else c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(scache *c, centry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head) c->head->prev = e; else c->tail = e;
    c->head = e;
}

static void cache_remove(scache *c, centry *e)
{
    centry **pp = &c->bucket[e->hash % CACHE_BUCKETS];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->bytes -= e->cost;
    c->count--;
    if (e->fd) {
        sfd_put(e->fd);               /* senders still holding it keep it open */
        c->nfds--;
    }
    free(e);
}

static void cache_free(void *p)
{
    scache *c = p;
    while (c && c->head)
        cache_remove(c, c->head);
    free(c);
}

static void cache_key_init(void) { pthread_key_create(&cache_key, cache_free); }

void static_cache_clear(void)
{
    if (!tcache)
        return;
    pthread_setspecific(cache_key, NULL);
    cache_free(tcache);
    tcache = NULL;
}

/* A fresh entry for path, or NULL (absent, changed on disk: dropped). */
static centry *cache_get(const char *path)
{
    scache *c = tcache;
    if (!c)
        return NULL;
    uint32_t h = path_hash(path);
    centry *e = c->bucket[h % CACHE_BUCKETS];
    while (e && (e->hash != h || strcmp(e->path, path) != 0))
        e = e->hnext;
    if (!e)
        return NULL;
    double now = mono_now();
    if (now - e->checked >= CACHE_RECHECK_S) {
        struct stat st;
        if (stat(path, &st) < 0 || meta_changed(&e->m, &st)) {
            cache_remove(c, e);
            return NULL;
        }
        e->checked = now;
    }
    lru_unlink(c, e);
    lru_push(c, e);
    return e;
}

/* A new entry for path with room for `size` bytes of data, or NULL. */
static centry *cache_new(const char *path, const smeta *m, size_t size)
{
    if (!tcache) {
        pthread_once(&cache_once, cache_key_init);
        if (!(tcache = calloc(1, sizeof *tcache)))
            return NULL;
        pthread_setspecific(cache_key, tcache);
    }
    size_t plen = strlen(path) + 1;
    centry *e = malloc(sizeof *e + size + plen);
    if (!e)
        return NULL;
    e->path = e->data + size;
    memcpy(e->path, path, plen);
    e->m = *m;
    e->hash = path_hash(path);
    e->checked = mono_now();
    e->cost = sizeof *e + size + plen;
    e->meta_only = 0;
    e->fd = NULL;
    return e;
}

static void cache_insert(centry *e)
{
    scache *c = tcache;
    while (c->tail && c->bytes + e->cost > CACHE_BYTES_MAX)
        cache_remove(c, c->tail);
    e->hnext = c->bucket[e->hash % CACHE_BUCKETS];
    c->bucket[e->hash % CACHE_BUCKETS] = e;
    lru_push(c, e);
    c->bytes += e->cost;
    c->count++;
}

/* Read a small file into a new cache entry; a bigger one gets an entry
 * with its validators only (meta_only). NULL: no memory, or the read came
 * up short (the caller then streams from the fd). */
static centry *cache_put(const char *path, const smeta *m, int fd)
{
    int small = m->size <= CACHE_FILE_MAX;
    size_t size = small ? (size_t)m->size : 0;
    centry *e = cache_new(path, m, size);
    if (!e)
        return NULL;
    for (size_t got = 0; got < size;) {
        ssize_t k = pread(fd, e->data + got, size - got, (off_t)got);
        if (k <= 0) {
            free(e);
            return NULL;
        }
        got += (size_t)k;
    }
    e->meta_only = !small;
    cache_insert(e);
    return e;
}

/* Keep fd (of the file e describes) open in e for the requests to come:
 * they skip open, fstat and close. 0: not kept (the cap), fd still ours. */
static int cache_keep_fd(centry *e, int fd)
{
    scache *c = tcache;
    sfd *f;
    if (!e->meta_only || e->fd || c->nfds >= CACHE_FDS_MAX || !(f = malloc(sizeof *f)))
        return 0;
    f->fd = fd;
    f->refs = 1;
    e->fd = f;
    c->nfds++;
    return 1;
}

/* ---- preconditions (RFC 9110 §13.2.2) ----------------------------------- */

static int method_is(const http_req *r, const char *m)
{
    size_t n = strlen(m);
    return r->method_len == n && memcmp(r->method, m, n) == 0;
}

/* -1: no such header; else whether any line of it names our tag. */
static int tag_header(const http_req *r, const char *name, const smeta *m, int strong)
{
    size_t nl = strlen(name);
    int seen = -1;
    for (size_t i = 0; i < r->nheaders; i++) {
        const http_hdr *h = &r->headers[i];
        if (h->name_len != nl || memcmp(h->name, name, nl) != 0)
            continue;
        if (static_etag_match(h->value, h->value_len, m->etag, m->etag_len, strong))
            return 1;
        seen = 0;
    }
    return seen;
}

static int date_header(const http_req *r, const char *name, int64_t *t)
{
    const http_hdr *h = http_find(r, name);
    return h && static_parse_date(h->value, h->value_len, t) == 0;
}

/* 0 (go on), 304 or 412. */
static int precondition(const http_req *r, const smeta *m)
{
    int safe = method_is(r, "GET") || method_is(r, "HEAD");
    int64_t t;
    int match = tag_header(r, "if-match", m, 1);
    if (match == 0)
        return 412;
    if (match < 0 && date_header(r, "if-unmodified-since", &t) && m->mtime > t)
        return 412;
    int none = tag_header(r, "if-none-match", m, 0);
    if (none == 1)
        return safe ? 304 : 412;
    if (none < 0 && safe && date_header(r, "if-modified-since", &t) && m->mtime <= t)
        return 304;
    return 0;
}

/* If-Range: the Range applies only when the validator still matches. */
static int if_range_holds(const http_req *r, const smeta *m)
{
    const http_hdr *h = http_find(r, "if-range");
    int64_t t;
    if (!h)
        return 1;
    if (h->value_len && (h->value[0] == '"' || h->value[0] == 'W'))
        return static_etag_match(h->value, h->value_len, m->etag, m->etag_len, 1);
    return static_parse_date(h->value, h->value_len, &t) == 0 && t == m->mtime;
}

/* ---- bodies ------------------------------------------------------------- */

typedef struct sstream {
    http_req    *r;
    int          fd;                 /* -1: the bytes come from mem */
    const char  *mem;
    uint64_t     size;
    char         mime[128];
    static_range rg[STATIC_MAX_RANGES];
    int          nrg, cur;
    uint64_t     pos;                /* next byte of rg[cur] */
    int          multipart, part_open, trailer_done;
    char         boundary[40];
    int          heap, owned, in_pump, aborted, dead;
    sfd         *shared;             /* fd belongs to the cache: a reference */
    void        *prev_app;
    void       (*prev_abort)(http_req *r);
} sstream;

static size_t part_header(const sstream *s, int i, char *out, size_t cap)
{
    int n = snprintf(out, cap, "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64
                     "-%" PRIu64 "/%" PRIu64 "\r\n\r\n", s->boundary, s->mime, s->rg[i].first,
                     s->rg[i].last, s->size);
    return n < 0 ? 0 : (size_t)n;
}

static size_t trailer(const sstream *s, char *out, size_t cap)
{
    int n = snprintf(out, cap, "\r\n--%s--\r\n", s->boundary);
    return n < 0 ? 0 : (size_t)n;
}

/* Exact body length of the response s describes. */
static uint64_t body_length(const sstream *s)
{
    char tmp[256];
    uint64_t total = 0;
    for (int i = 0; i < s->nrg; i++)
        total += s->rg[i].last - s->rg[i].first + 1 + (s->multipart ? part_header(s, i, tmp, sizeof tmp) : 0);
    return total + (s->multipart ? trailer(s, tmp, sizeof tmp) : 0);
}

/* File bytes [pos, pos+n) into out. Returns 0, or -1 if the file shrank. */
static int read_at(const sstream *s, char *out, size_t n, uint64_t pos)
{
    if (s->fd < 0) {
        memcpy(out, s->mem + pos, n);
        return 0;
    }
    for (size_t got = 0; got < n;) {
        ssize_t k = pread(s->fd, out + got, n - got, (off_t)(pos + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Fill out with the next bytes of the body. *last = 1 when they end it.
 * Returns the count, or -1 when the file came up short. */
static long fill(sstream *s, char *out, size_t cap, int *last)
{
    size_t n = 0;
    while (s->cur < s->nrg) {
        static_range *g = &s->rg[s->cur];
        if (s->multipart && !s->part_open) {
            char hdr[256];
            size_t hl = part_header(s, s->cur, hdr, sizeof hdr);
            if (hl > cap - n)
                break;
            memcpy(out + n, hdr, hl);
            n += hl;
            s->part_open = 1;
        }
        uint64_t left = g->last + 1 - s->pos;
        size_t want = left < cap - n ? (size_t)left : cap - n;
        if (want == 0)
            break;
        if (read_at(s, out + n, want, s->pos) < 0)
            return -1;
        n += want;
        s->pos += want;
        if (s->pos > g->last) {
            s->part_open = 0;
            if (++s->cur < s->nrg)
                s->pos = s->rg[s->cur].first;
        }
    }
    if (s->cur == s->nrg && s->multipart && !s->trailer_done) {
        char t[64];
        size_t tl = trailer(s, t, sizeof t);
        if (tl <= cap - n) {
            memcpy(out + n, t, tl);
            n += tl;
            s->trailer_done = 1;
        }
    }
    *last = s->cur == s->nrg && (!s->multipart || s->trailer_done);
    return (long)n;
}

static void stream_on_abort(http_req *r);
static void stream_on_writable(http_req *r);

/* Take the request over from its previous owner (the Lua layer). */
static void own(sstream *s)
{
    http_req *r = s->r;
    if (s->owned)
        return;
    s->owned = 1;
    s->prev_app = r->app_data;
    s->prev_abort = r->on_abort;
    r->app_data = s;
    r->on_abort = stream_on_abort;
    r->on_writable = stream_on_writable;
}

/* The file goes on after static_serve() returns: tell the previous owner
 * it has lost the request, exactly as if the client had left (its on_abort
 * with its own app_data in place), so it neither finishes nor touches r. */
static void release_prev(sstream *s)
{
    http_req *r = s->r;
    void (*prev)(http_req *) = s->prev_abort;
    if (!prev)
        return;
    r->app_data = s->prev_app;
    r->on_abort = prev;
    s->prev_abort = NULL;
    s->prev_app = NULL;
    prev(r);
    r->app_data = s;
    r->on_abort = stream_on_abort;
    r->on_writable = stream_on_writable;
}

static void disown(sstream *s)
{
    http_req *r = s->r;
    if (!s->owned)
        return;
    s->owned = 0;
    r->app_data = s->prev_app;
    r->on_abort = s->prev_abort;
    r->on_writable = NULL;
}

static void stream_free(sstream *s)
{
    fd_drop(s->fd, s->shared);
    s->fd = -1;
    s->shared = NULL;
    if (s->heap)
        free(s);                      /* file streams live on the heap */
}

static void stream_on_abort(http_req *r)
{
    sstream *s = r->app_data;
    void (*prev)(http_req *) = s->prev_abort;
    disown(s);
    if (s->in_pump) {
        s->aborted = 1;               /* pump() frees it when body() returns */
        fd_drop(s->fd, s->shared);
        s->fd = -1;
        s->shared = NULL;
    } else {
        stream_free(s);
    }
    if (prev)
        prev(r);
}

/* The file shrank under us: the promised length cannot be kept. HTTP/1.1
 * has no way to say so but closing; HTTP/2 ends the stream short. */
static void stream_truncated(sstream *s)
{
    http_req *r = s->r;
    log_warn("static: a file shrank while being sent (%" PRIu64 " of %" PRIu64 " bytes); response cut short",
             s->pos, s->size);
    disown(s);
    stream_free(s);
    if (r->c && strcmp(r->protocol, "HTTP/2") != 0)
        conn_abort(r->c);
    else
        r->drv->body(r, "", 0, 1);
}

/* Send as much as the connection takes; finish, or wait for on_writable. */
static void pump(sstream *s)
{
    http_req *r = s->r;
    int file = s->fd >= 0;
    s->in_pump = 1;
    for (;;) {
        if (file && r->drv->pending(r) > HIGH_WATER) {
            s->in_pump = 0;
            release_prev(s);
            return;                   /* stream_on_writable resumes */
        }
        int last;
        long n = fill(s, chunk, sizeof chunk, &last);
        if (n < 0) {
            stream_truncated(s);
            return;
        }
        if (last) {
            disown(s);
            stream_free(s);
            r->drv->body(r, chunk, (size_t)n, 1);
            return;
        }
        int rc = r->drv->body(r, chunk, (size_t)n, 0);
        if (s->aborted) {
            stream_free(s);
            return;
        }
        if (rc < 0) {                 /* client gone: on_abort is coming */
            s->in_pump = 0;
            s->dead = 1;
            if (!file)
                return;
            r->on_writable = NULL;
            return;
        }
    }
}

static void stream_on_writable(http_req *r)
{
    sstream *s = r->app_data;
    if (s && !s->in_pump && !s->dead)
        pump(s);
}

/* ---- responses ---------------------------------------------------------- */

static void make_boundary(char *out, size_t n, const http_req *r)
{
    static _Thread_local uint64_t x;
    if (!x)
        x = ((uint64_t)time(NULL) << 20) ^ (uint64_t)(uintptr_t)&x ^ 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    snprintf(out, n, "atto-%016" PRIx64 "-%" PRIx64, x, r->id);
}

/* A response without a file body: 304, 403, 412, 416, 503. */
static void respond_status(http_req *r, int status, const smeta *m)
{
    http_hdr hd[3];
    size_t n = 0;
    char body[64], cr[48];
    if (status == 304) {
        hd[n++] = (http_hdr){"etag", 4, m->etag, m->etag_len};
        hd[n++] = (http_hdr){"last-modified", 13, m->lastmod, m->lastmod_len};
        r->drv->start(r, 304, hd, n, 0);
        r->drv->body(r, "", 0, 1);
        return;
    }
    if (status == 416) {
        int k = snprintf(cr, sizeof cr, "bytes */%" PRIu64, m->size);
        hd[n++] = (http_hdr){"content-range", 13, cr, (size_t)k};
    }
    hd[n++] = (http_hdr){"content-type", 12, "text/plain; charset=utf-8", 25};
    int bl = snprintf(body, sizeof body, "%d %s\n", status, http_reason(status));
    r->drv->start(r, status, hd, n, bl);
    r->drv->body(r, body, (size_t)bl, 1);
}

/* "public/dir" asked without its slash: 301 to "dir/" (query kept). */
static int redirect_dir(http_req *r)
{
    const char *t = r->target;
    size_t n = r->target_len;
    const char *q = memchr(t, '?', n);
    size_t pl = q ? (size_t)(q - t) : n;
    while (pl > 1 && t[0] == '/' && t[1] == '/')      /* never a //host/ Location */
        t++, pl--, n--;
    char loc[4096];
    int k = snprintf(loc, sizeof loc, "%.*s/%.*s", (int)pl, t, (int)(n - pl), t + pl);
    if (k < 0 || (size_t)k >= sizeof loc)
        return 0;
    static const char body[] = "301 Moved Permanently\n";
    http_hdr hd[2] = {{"location", 8, loc, (size_t)k},
                      {"content-type", 12, "text/plain; charset=utf-8", 25}};
    r->drv->start(r, 301, hd, 2, sizeof body - 1);
    r->drv->body(r, body, sizeof body - 1, 1);
    return 1;
}

/* Describe the body: the ranges asked for, or the whole file. */
static void stream_setup(sstream *s, http_req *r, const smeta *m, const static_range *rg, int nrg)
{
    s->r = r;
    s->size = m->size;
    size_t ml = strnlen(m->mime, sizeof s->mime - 1);   /* was snprintf: ~560 instructions */
    memcpy(s->mime, m->mime, ml);
    s->mime[ml] = 0;
    if (nrg > 0) {
        memcpy(s->rg, rg, (size_t)nrg * sizeof *rg);
        s->nrg = nrg;
    } else if (m->size) {
        s->rg[0] = (static_range){0, m->size - 1};
        s->nrg = 1;
    }
    s->pos = s->nrg ? s->rg[0].first : 0;
    s->multipart = nrg > 1;
    if (s->multipart)
        make_boundary(s->boundary, sizeof s->boundary, r);
}

/* Whether the request has a Range or an If-* header; without them no
 * precondition or range logic needs to run. Names arrive in lower case. */
static int has_conditions(const http_req *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *n = r->headers[i].name;
        size_t len = r->headers[i].name_len;
        if (len >= 5 && ((n[0] == 'i' && n[1] == 'f' && n[2] == '-') ||
                         (len == 5 && memcmp(n, "range", 5) == 0)))
            return 1;
    }
    return 0;
}

/* The common case: the whole of a cached file, headers formatted once per
 * file, where the driver takes them so (HTTP/1.1). 0: not this case. */
static int respond_cached_whole(http_req *r, const smeta *m, const char *mem)
{
    if (!r->drv->start_lines || !m->lines_len)
        return 0;
    r->drv->start_lines(r, 200, m->lines, m->lines_len, (int64_t)m->size);
    r->drv->body(r, mem, r->head ? 0 : (size_t)m->size, 1);
    return 1;
}

static int respond_body(http_req *r, sstream *s, uint64_t len);

/* Answer from a cached copy (mem) or an open file (fd, consumed: closed, or
 * one reference to `shared` dropped when it is the cache's). */
static int respond(http_req *r, const smeta *m, int fd, const char *mem, sfd *shared)
{
    static_range rg[STATIC_MAX_RANGES];
    int nrg = 0, pre = 0, cond = has_conditions(r);
    if (!cond && mem && respond_cached_whole(r, m, mem))
        return 1;
    const char *why;
    const http_hdr *range = cond && method_is(r, "GET") ? http_find(r, "range") : NULL;
    if (cond)
        pre = precondition(r, m);
    if (!pre && range && if_range_holds(r, m)) {
        nrg = static_parse_range(range->value, range->value_len, m->size, rg, &why);
        pre = nrg < 0 ? 416 : 0;
    }
    sstream local, *s = fd >= 0 && !pre ? calloc(1, sizeof *s) : &local;
    if (pre || !s) {
        fd_drop(fd, shared);
        respond_status(r, pre ? pre : 503, m);
        return 1;
    }
    if (s == &local)
        memset(s, 0, sizeof *s);
    s->heap = s != &local;
    s->fd = fd;
    s->shared = shared;
    s->mem = mem;
    stream_setup(s, r, m, rg, nrg);

    uint64_t len = body_length(s);
    if (nrg == 0 && r->drv->start_lines && m->lines_len) {
        r->drv->start_lines(r, 200, m->lines, m->lines_len, (int64_t)len);
        return respond_body(r, s, len);
    }
    char ctype[200], crange[80];
    http_hdr hd[5];
    size_t n = 0;
    if (s->multipart) {
        int k = snprintf(ctype, sizeof ctype, "multipart/byteranges; boundary=%s", s->boundary);
        hd[n++] = (http_hdr){"content-type", 12, ctype, (size_t)k};
    } else {
        hd[n++] = (http_hdr){"content-type", 12, m->mime, m->mime_len};
    }
    hd[n++] = (http_hdr){"etag", 4, m->etag, m->etag_len};
    hd[n++] = (http_hdr){"last-modified", 13, m->lastmod, m->lastmod_len};
    hd[n++] = (http_hdr){"accept-ranges", 13, "bytes", 5};
    if (nrg == 1) {
        int k = snprintf(crange, sizeof crange, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                         rg[0].first, rg[0].last, m->size);
        hd[n++] = (http_hdr){"content-range", 13, crange, (size_t)k};
    }
    r->drv->start(r, nrg > 0 ? 206 : 200, hd, n, (int64_t)len);
    return respond_body(r, s, len);
}

/* The head has gone out: now the body, from memory, by sendfile or by
 * the stream (s is freed or owned by then). */
static int respond_body(http_req *r, sstream *s, uint64_t len)
{
    const char *mem = s->mem;
    if (r->head || len == 0) {
        stream_free(s);
        r->drv->body(r, "", 0, 1);
    } else if (mem && !s->multipart) {                /* one slice of the cached copy */
        r->drv->body(r, mem + s->rg[0].first, (size_t)len, 1);
    } else if (!mem && !s->multipart &&
               http1_send_file(r, s->fd, s->rg[0].first, len, s->shared ? sfd_put : NULL, s->shared) == 0) {
        s->fd = -1;                   /* the connection has it (or the reference) now */
        s->shared = NULL;
        stream_free(s);
    } else {
        if (s->heap)
            own(s);                   /* from here a client abort reaches the stream */
        pump(s);
    }
    return 1;
}

static int respond_kept(http_req *r, centry *e);

static int open_failed(http_req *r, int err)
{
    if (err == EACCES || err == EPERM) {
        respond_status(r, 403, NULL);
        return 1;
    }
    if (err == EMFILE || err == ENFILE) {
        log_warn("static: out of file descriptors");
        respond_status(r, 503, NULL);
        return 1;
    }
    return 0;     /* ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG...: not found */
}

static int directory(http_req *r, const char *path, const char *root)
{
    char idx[PATH_MAX];
    struct stat st;
    int k = snprintf(idx, sizeof idx, "%s/index.html", path);
    if (k < 0 || (size_t)k >= sizeof idx || stat(idx, &st) < 0 || !S_ISREG(st.st_mode) ||
        !static_resolved_inside(root, -1, idx))
        return 0;
    return redirect_dir(r);
}

static int serve_from_disk(http_req *r, const char *path, const char *root)
{
    struct stat st;
    smeta m;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return open_failed(r, errno);
    if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) ||
        !static_resolved_inside(root, fd, path)) {
        close(fd);
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return directory(r, path, root);
    }
    meta_fill(&m, &st, path);
    centry *e = cache_put(path, &m, fd);
    if (e && !e->meta_only) {
        close(fd);
        return respond(r, &e->m, -1, e->data, NULL);
    }
    if (e && cache_keep_fd(e, fd))
        return respond_kept(r, e);
    return respond(r, &m, fd, NULL, NULL);
}

/* A big file sent from the descriptor its cache entry keeps open. */
static int respond_kept(http_req *r, centry *e)
{
    e->fd->refs++;
    return respond(r, &e->m, e->fd->fd, NULL, e->fd);
}

/* A file too big to cache whose validators are: from the descriptor kept
 * open for it (cache_get has checked the path once a second), or open it
 * again, and if it is the very file checked before (same device, inode,
 * size and time) answer without resolving its path or rebuilding its
 * headers. -1: look afresh. */
static int serve_known(http_req *r, const char *path, centry *e)
{
    if (e->fd)
        return respond_kept(r, e);
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) < 0 || meta_changed(&e->m, &st)) {
        if (fd >= 0)
            close(fd);
        cache_remove(tcache, e);
        return -1;
    }
    if (cache_keep_fd(e, fd))
        return respond_kept(r, e);
    return respond(r, &e->m, fd, NULL, NULL);
}

int static_serve(http_req *r, const char *path)
{
    char idx[PATH_MAX];
    const char *root = site_root(r), *why;
    size_t len = strlen(path);
    if (len == 0 || len + sizeof "index.html" > sizeof idx)
        return 0;
    if (static_path_allowed(root, path, &why) < 0)
        return 0;
    if (path[len - 1] == '/') {
        memcpy(idx, path, len);
        memcpy(idx + len, "index.html", sizeof "index.html");
        path = idx;
    }
    centry *e = cache_get(path);
    if (e && !e->meta_only)
        return respond(r, &e->m, -1, e->data, NULL);
    int rc = e ? serve_known(r, path, e) : -1;
    return rc >= 0 ? rc : serve_from_disk(r, path, root);
}
