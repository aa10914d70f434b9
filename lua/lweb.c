/*
 * lweb.c — the C helpers behind lua/web.lua (`require "atto.web"`): the
 * multipart/form-data bridge (core/multipart.c does the parsing), session
 * ids and the session store, and the file primitives of the file cache
 * (stat, read, atomic write).
 *
 * The session store is process-wide C memory shared by every worker thread
 * (one mutex): a hash of 256-bit ids to serialized data (the Lua side
 * encodes with cjson, so no Lua object is ever shared between states) plus a
 * least-recently-used list. Entries idle longer than `idle` seconds are gone;
 * beyond `max` entries the least recently used is dropped. It lives as long
 * as the process, so a SIGHUP reload (new Lua states) keeps every session;
 * at a clean exit it is written to SITE/.atto/sessions (mode 0600, atomic)
 * and read back at the next start, so a restart keeps them too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <lua.h>
#include <lauxlib.h>
#include <openssl/rand.h>
#include "core/multipart.h"
#include "lua/lcore.h"

int luaopen_atto_web(lua_State *L);

#define SESSION_ID_LEN 64          /* 32 random bytes, hex */
#define SESSION_MAX_DATA 65536     /* serialized bytes per session */
#define SESSION_BUCKETS 16384

/* ---- multipart ---------------------------------------------------------- */

typedef struct mp_ctx {
    lua_State *L;
    int form, files;     /* stack indexes of the result tables */
    char *scratch;       /* unquoting room for names (part headers are bounded) */
} mp_ctx;

/* t[key] = value at the top; a repeated key becomes an array */
static void add_value(lua_State *L, int t, const char *k, size_t klen)
{
    lua_pushlstring(L, k, klen);
    lua_pushvalue(L, -1);
    int old = lua_rawget(L, t);
    if (old == LUA_TNIL) {
        lua_pop(L, 1);
        lua_rotate(L, -2, 1);       /* key, value */
        lua_rawset(L, t);
        return;
    }
    int is_list = old == LUA_TTABLE && lua_rawlen(L, -1) > 0;
    if (!is_list) {                 /* { old } */
        lua_createtable(L, 2, 0);
        lua_rotate(L, -2, 1);
        lua_rawseti(L, -2, 1);
        lua_pushvalue(L, -2);       /* key */
        lua_pushvalue(L, -2);
        lua_rawset(L, t);
    }
    /* stack: value key list */
    lua_rotate(L, -3, -1);          /* key list value */
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 2);
}

static int mp_on_part(void *ud, const mp_part *p)
{
    mp_ctx *c = ud;
    lua_State *L = c->L;
    size_t klen = mp_unquote(&p->name, c->scratch);
    if (!p->filename.p) {
        lua_pushlstring(L, p->data, p->len);
        add_value(L, c->form, c->scratch, klen);
        return 0;
    }
    lua_createtable(L, 0, 4);
    size_t flen = mp_unquote(&p->filename, c->scratch + klen);
    lua_pushlstring(L, c->scratch + klen, flen);
    lua_setfield(L, -2, "filename");
    if (p->ctype.p)
        lua_pushlstring(L, p->ctype.p, p->ctype.n);
    else
        lua_pushliteral(L, "application/octet-stream");
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)p->len);
    lua_setfield(L, -2, "size");
    lua_pushlstring(L, p->data, p->len);
    lua_setfield(L, -2, "data");
    add_value(L, c->files, c->scratch, klen);
    return 0;
}

/* web.multipart(body, content_type, max_parts) -> form, files
 *                                             | nil, status, message */
static int l_multipart(lua_State *L)
{
    size_t n, ctn, blen;
    const char *body = luaL_checklstring(L, 1, &n);
    const char *ct = luaL_checklstring(L, 2, &ctn);
    lua_Integer max = luaL_optinteger(L, 3, 1000);
    const char *b, *err = NULL;
    if (mp_boundary(ct, ctn, &b, &blen, &err) < 0) {
        lua_pushnil(L);
        lua_pushinteger(L, 400);
        lua_pushfstring(L, "malformed multipart body: %s", err);
        return 3;
    }
    mp_ctx c = {L, 0, 0, NULL};
    lua_newtable(L);
    c.form = lua_gettop(L);
    lua_newtable(L);
    c.files = lua_gettop(L);
    c.scratch = lua_newuserdatauv(L, 2 * MP_MAX_PART_HEADER, 0);
    int rc = mp_parse(body, n, b, blen, max > 0 ? (size_t)max : 1, mp_on_part, &c, &err);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushinteger(L, rc == MP_ELIMIT ? 413 : 400);
        if (rc == MP_ELIMIT && strstr(err, "too many"))
            lua_pushfstring(L, "malformed multipart body: %s (the limit is %d)", err, (int)max);
        else
            lua_pushfstring(L, "malformed multipart body: %s", err);
        return 3;
    }
    lua_pop(L, 1);
    return 2;
}

static int l_max_upload_parts(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "atto.lstate");
    lstate *s = lua_touserdata(L, -1);
    lua_Integer v = 1000;
    if (s && s->app && s->app->cfg && s->app->cfg->limits.max_upload_parts)
        v = (lua_Integer)s->app->cfg->limits.max_upload_parts;
    lua_pushinteger(L, v);
    return 1;
}

/* ---- session store ------------------------------------------------------ */

typedef struct sess {
    char         id[SESSION_ID_LEN + 1];
    char        *data;
    size_t       len;
    double       last;
    struct sess *prev, *next;     /* LRU: head is the most recent */
    struct sess *hnext;
} sess;

static struct {
    pthread_mutex_t mu;
    sess  *bucket[SESSION_BUCKETS];
    sess  *head, *tail;
    size_t count;
} store = { .mu = PTHREAD_MUTEX_INITIALIZER };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned hash_id(const char *id)
{
    unsigned h = 2166136261u;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % SESSION_BUCKETS;
}

static void lru_unlink(sess *e)
{
    if (e->prev) e->prev->next = e->next; else store.head = e->next;
    if (e->next) e->next->prev = e->prev; else store.tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(sess *e)
{
    e->next = store.head;
    e->prev = NULL;
    if (store.head) store.head->prev = e; else store.tail = e;
    store.head = e;
}

static sess **find_slot(const char *id)
{
    sess **pp = &store.bucket[hash_id(id)];
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

static void sess_remove(sess *e)
{
    sess **pp = find_slot(e->id);
    *pp = e->hnext;
    lru_unlink(e);
    free(e->data);
    free(e);
    store.count--;
}

/* drop expired entries from the cold end, then the LRU beyond max */
static void sess_trim(double idle, size_t max, double now)
{
    while (store.tail && now - store.tail->last > idle)
        sess_remove(store.tail);
    while (store.count > max && store.tail)
        sess_remove(store.tail);
}

static int valid_id(const char *id, size_t n)
{
    if (n != SESSION_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

/* web.session_id() -> 64 hex characters from 32 random bytes */
static int l_session_id(lua_State *L)
{
    unsigned char raw[SESSION_ID_LEN / 2];
    char hex[SESSION_ID_LEN];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return luaL_error(L, "the system's random generator failed");
    for (size_t i = 0; i < sizeof raw; i++) {
        hex[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
    lua_pushlstring(L, hex, sizeof hex);
    return 1;
}

/* web.session_get(id, idle_s, max) -> data string, or nil (unknown/expired) */
static int l_session_get(lua_State *L)
{
    size_t n;
    const char *id = luaL_checklstring(L, 1, &n);
    double idle = luaL_checknumber(L, 2);
    size_t max = (size_t)luaL_checkinteger(L, 3);
    if (!valid_id(id, n)) {
        lua_pushnil(L);
        return 1;
    }
    double now = now_s();
    char *copy = NULL;
    size_t len = 0;
    int found = 0;
    pthread_mutex_lock(&store.mu);
    sess_trim(idle, max, now);
    sess *e = *find_slot(id);
    if (e && (copy = malloc(e->len ? e->len : 1)) != NULL) {
        e->last = now;
        lru_unlink(e);
        lru_push(e);
        memcpy(copy, e->data, e->len);
        len = e->len;
        found = 1;
    }
    pthread_mutex_unlock(&store.mu);
    /* pushed outside the lock: a Lua error (out of memory) must not leave it held */
    if (found)
        lua_pushlstring(L, copy, len);
    else
        lua_pushnil(L);
    free(copy);
    return 1;
}

/* web.session_put(id, data, idle_s, max) -> true | nil, reason */
static int l_session_put(lua_State *L)
{
    size_t n, len;
    const char *id = luaL_checklstring(L, 1, &n);
    const char *data = luaL_checklstring(L, 2, &len);
    double idle = luaL_checknumber(L, 3);
    size_t max = (size_t)luaL_checkinteger(L, 4);
    const char *why = NULL;
    if (!valid_id(id, n))
        why = "not a session id";
    else if (len > SESSION_MAX_DATA)
        why = "session data is larger than 65536 bytes once encoded";
    char *copy = why ? NULL : malloc(len ? len : 1);
    if (!why && !copy)
        why = "out of memory";
    if (why) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    memcpy(copy, data, len);
    double now = now_s();
    pthread_mutex_lock(&store.mu);
    sess **pp = find_slot(id), *e = *pp;
    if (!e && (e = calloc(1, sizeof *e)) != NULL) {
        memcpy(e->id, id, SESSION_ID_LEN + 1);
        *pp = e;
        store.count++;
    } else if (e) {
        lru_unlink(e);
        free(e->data);
    }
    if (e) {
        e->data = copy;
        e->len = len;
        e->last = now;
        lru_push(e);
        sess_trim(idle, max, now);
    }
    pthread_mutex_unlock(&store.mu);
    if (!e) {
        free(copy);
        lua_pushnil(L);
        lua_pushstring(L, "out of memory");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* web.session_drop(id) -> true if it existed */
static int l_session_drop(lua_State *L)
{
    size_t n;
    const char *id = luaL_checklstring(L, 1, &n);
    int found = 0;
    if (valid_id(id, n)) {
        pthread_mutex_lock(&store.mu);
        sess *e = *find_slot(id);
        if (e) {
            sess_remove(e);
            found = 1;
        }
        pthread_mutex_unlock(&store.mu);
    }
    lua_pushboolean(L, found);
    return 1;
}

static int l_session_count(lua_State *L)
{
    pthread_mutex_lock(&store.mu);
    size_t n = store.count;
    pthread_mutex_unlock(&store.mu);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* ---- files -------------------------------------------------------------- */

/* nil, "path: reason" (EXDEV stands for "a symbolic link leads out") */
static int push_errno(lua_State *L, const char *path, int e)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, e == EXDEV ? "leads outside the site folder" : strerror(e));
    return 2;
}

static void push_stat(lua_State *L, const struct stat *st)
{
    lua_pushnumber(L, (double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec / 1e9);
    lua_pushinteger(L, (lua_Integer)st->st_size);
    lua_pushinteger(L, (lua_Integer)st->st_ino);
}

/* Does path (or, with parent_only, its folder) resolve inside the site
 * folder? Symbolic links leading out of it are refused. */
static int inside_site(lua_State *L, const char *path, int parent_only)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "atto.lstate");
    lstate *s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!s || !s->app || !s->app->cfg || !s->app->cfg->site_dir)
        return 0;
    char site[PATH_MAX], real[PATH_MAX], tmp[PATH_MAX];
    if (!realpath(s->app->cfg->site_dir, site))
        return 0;
    const char *p = path;
    if (parent_only) {
        const char *slash = strrchr(path, '/');
        size_t n = slash ? (size_t)(slash - path) : 0;
        if (n == 0 || n >= sizeof tmp)
            return 0;
        memcpy(tmp, path, n);
        tmp[n] = 0;
        p = tmp;
    }
    if (!realpath(p, real))
        return 0;
    size_t n = strlen(site);
    return strncmp(real, site, n) == 0 && (real[n] == '/' || real[n] == 0);
}

/* web.stat(path) -> mtime, size, inode | nil, reason */
static int l_stat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) < 0)
        return push_errno(L, path, errno);
    if (!S_ISREG(st.st_mode)) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: not a regular file", path);
        return 2;
    }
    push_stat(L, &st);
    return 3;
}

/* web.read(path) -> data, mtime, size, inode | nil, reason */
static int l_read(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return push_errno(L, path, errno);
    int e = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? EISDIR : 0;
    if (!e && !inside_site(L, path, 0))
        e = EXDEV;
    if (e) {
        close(fd);
        return push_errno(L, path, e);
    }
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, (size_t)st.st_size);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    luaL_pushresultsize(&b, got);
    st.st_size = (off_t)got;
    push_stat(L, &st);
    return 4;
}

/* mkdir -p for the components of path after its first `keep` bytes */
static int make_parents(char *path, size_t keep)
{
    for (char *p = path + keep + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

/* web.write(path, data, site_dir_len) -> mtime, size, inode | nil, reason
 * Written to a temporary file beside it, flushed, then renamed over. */
static int l_write(lua_State *L)
{
    size_t plen, len;
    const char *path = luaL_checklstring(L, 1, &plen);
    const char *data = luaL_checklstring(L, 2, &len);
    size_t keep = (size_t)luaL_optinteger(L, 3, 0);
    char tmp[4200], dir[4096];
    if (plen >= sizeof dir || keep > plen) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: path too long", path);
        return 2;
    }
    memcpy(dir, path, plen + 1);
    if (make_parents(dir, keep) < 0)
        return push_errno(L, path, errno);
    if (!inside_site(L, path, 1))
        return push_errno(L, path, EXDEV);
    unsigned char r[6];
    RAND_bytes(r, sizeof r);
    snprintf(tmp, sizeof tmp, "%s.tmp-%d-%02x%02x%02x%02x%02x%02x", path, (int)getpid(),
             r[0], r[1], r[2], r[3], r[4], r[5]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return push_errno(L, path, errno);
    size_t put = 0;
    int e = 0;
    while (put < len) {
        ssize_t w = write(fd, data + put, len - put);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) { e = errno; goto fail; }
        put += (size_t)w;
    }
    if (fsync(fd) < 0) { e = errno; goto fail; }
    struct stat st;
    if (fstat(fd, &st) < 0) { e = errno; goto fail; }
    close(fd);
    fd = -1;
    if (rename(tmp, path) < 0) { e = errno; goto fail; }
    push_stat(L, &st);
    return 3;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return push_errno(L, path, e);
}

/* web.random(n) -> n random bytes (n <= 256) */
static int l_random(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    unsigned char buf[256];
    luaL_argcheck(L, n > 0 && n <= 256, 1, "1 to 256 bytes");
    if (RAND_bytes(buf, (int)n) != 1)
        return luaL_error(L, "the system's random generator failed");
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    return 1;
}

/* ---- snapshots: SITE/.atto/sessions ---------------------------------------
 * "atto-sessions 1\n", then per session, most recent first:
 * "<id> <seconds idle> <length>\n<data>\n". Ages, not times, are stored,
 * so the monotonic clock need not survive the restart. */

static char snapshot_path[4096];

static void snapshot_save(void)
{
    char tmp[4200], dir[4200];
    snprintf(dir, sizeof dir, "%s", snapshot_path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        mkdir(dir, 0700);   /* .atto/ may not exist yet (no TLS listener) */
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", snapshot_path);
    FILE *f = NULL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0)
        f = fdopen(fd, "w");
    if (!f) {
        if (fd >= 0) close(fd);
        fprintf(stderr, "atto: warning: sessions not saved to %s: %s\n", tmp, strerror(errno));
        return;
    }
    double now = now_s();
    pthread_mutex_lock(&store.mu);
    fputs("atto-sessions 1\n", f);
    for (sess *e = store.head; e; e = e->next) {
        fprintf(f, "%s %.3f %zu\n", e->id, now - e->last, e->len);
        fwrite(e->data, 1, e->len, f);
        fputc('\n', f);
    }
    pthread_mutex_unlock(&store.mu);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, snapshot_path) < 0) {
        fprintf(stderr, "atto: warning: sessions not saved to %s: %s\n", snapshot_path, strerror(errno));
        unlink(tmp);
    }
}

/* Read a snapshot left by the last run; a damaged one is ignored (and
 * said so) — sessions are a convenience, never a reason not to start. */
static void snapshot_load(void)
{
    FILE *f = fopen(snapshot_path, "r");
    if (!f)
        return;
    char line[256];
    double now = now_s();
    int bad = !fgets(line, sizeof line, f) || strcmp(line, "atto-sessions 1\n") != 0;
    sess *last = NULL;
    while (!bad && fgets(line, sizeof line, f)) {
        char id[SESSION_ID_LEN + 2];
        double age;
        size_t len;
        if (sscanf(line, "%65s %lf %zu", id, &age, &len) != 3 || !valid_id(id, strlen(id)) ||
            len > SESSION_MAX_DATA || age < 0) {
            bad = 1;
            break;
        }
        sess *e = calloc(1, sizeof *e);
        char *data = malloc(len ? len : 1);
        if (!e || !data || fread(data, 1, len, f) != len || fgetc(f) != '\n' || *find_slot(id)) {
            free(e);
            free(data);
            bad = 1;
            break;
        }
        memcpy(e->id, id, SESSION_ID_LEN + 1);
        e->data = data;
        e->len = len;
        e->last = now - age;
        *find_slot(id) = e;
        /* the file is most recent first: append at the cold end */
        e->prev = last;
        if (last) last->next = e; else store.head = e;
        store.tail = last = e;
        store.count++;
    }
    fclose(f);
    if (bad)
        fprintf(stderr, "atto: warning: %s is damaged; the sessions after the damage are dropped\n",
                snapshot_path);
}

/* Once per process, from the first serving state: load, and save at exit.
 * (`atto check` and the start-up check load no snapshot.) */
static void snapshot_init(lua_State *L)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    lua_getfield(L, LUA_REGISTRYINDEX, "atto.lstate");
    lstate *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!st || st->check_only)
        return;
    pthread_mutex_lock(&mu);
    if (!snapshot_path[0]) {
        snprintf(snapshot_path, sizeof snapshot_path, "%s/.atto/sessions", st->app->cfg->site_dir);
        pthread_mutex_lock(&store.mu);
        snapshot_load();
        pthread_mutex_unlock(&store.mu);
        atexit(snapshot_save);
    }
    pthread_mutex_unlock(&mu);
}

static const luaL_Reg web_fns[] = {
    {"multipart", l_multipart}, {"max_upload_parts", l_max_upload_parts},
    {"session_id", l_session_id}, {"session_get", l_session_get},
    {"session_put", l_session_put}, {"session_drop", l_session_drop},
    {"session_count", l_session_count},
    {"stat", l_stat}, {"read", l_read}, {"write", l_write}, {"random", l_random},
    {NULL, NULL}
};

int luaopen_atto_web(lua_State *L)
{
    snapshot_init(L);
    luaL_newlib(L, web_fns);
    return 1;
}
