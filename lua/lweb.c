/*
 * lweb.c — the C helpers behind lua/web.lua (`require "atto.web"`): the
 * multipart/form-data bridge (core/multipart.c does the parsing), session
 * ids and the session store, and the file primitives of the file cache
 * (stat, read, atomic write).
 *
 * The session store is a core/shmkv.c store (64 MiB reserved, pages used
 * on demand) shared by every worker, thread or forked process: 256-bit ids
 * to encoded data (web.lua encodes with lua/lweb_codec.c, so no Lua object
 * is ever shared between states), least recently used first out. Entries
 * idle longer than `idle` seconds are gone; beyond `max` entries the least
 * recently used is dropped. It outlives Lua states, so a SIGHUP reload keeps every session;
 * at a clean stop it is written to SITE/.atto/sessions (mode 0600, atomic)
 * and read back at the next start, so a restart keeps them too.
 *
 * Who loads and saves: with worker processes, the master creates the store
 * before forking (lweb_sessions_start) and saves it once they have all
 * stopped (lweb_sessions_save). Without that call (unit tests, a single
 * process) the first serving state creates the store, loads the snapshot
 * and registers an atexit save, as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <lua.h>
#include <lauxlib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "core/multipart.h"
#include "core/shmkv.h"
#include "lua/lcore.h"
#include "lua/lweb.h"
#include "core/buf.h"
#include "lua/lweb_codec.h"

int luaopen_atto_web(lua_State *L);

#define SESSION_ID_LEN 64          /* 32 random bytes, hex */
#define SESSION_MAX_DATA LWC_MAX_ENCODED   /* encoded bytes per session */

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

#define SESSION_STORE_BYTES ((size_t)64 << 20)  /* reserved; pages used on demand */

static struct {
    pthread_mutex_t mu;        /* guards creation and the snapshot path */
    shmkv *kv;
    int    by_master;          /* lweb_sessions_start made it: the master saves */
    pid_t  saver;              /* the process whose atexit hook may save */
    char   path[4096];         /* SITE/.atto/sessions, once known */
} sessions = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* The store, created on first use when the master did not create it
 * (unit tests, single-process use). NULL with a reason if it cannot be. */
static shmkv *session_store(const char **why)
{
    static char err[160];
    pthread_mutex_lock(&sessions.mu);
    if (!sessions.kv)
        sessions.kv = shmkv_new(SESSION_STORE_BYTES, SESSION_MAX_DATA, err, sizeof err);
    shmkv *kv = sessions.kv;
    pthread_mutex_unlock(&sessions.mu);
    *why = err;
    return kv;
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

/* Random bytes for ids come from a per-thread pool of RAND_bytes output,
 * refilled RAND_POOL bytes at a time: one DRBG call per 32 session ids
 * instead of one per id (~8.7k instructions each, mostly the generator's
 * per-call work, not the bytes). Bytes handed out are wiped from the pool,
 * and a forked child empties its copy (pthread_atfork) so that no two
 * processes ever hand out the same bytes. */
#define RAND_POOL 1024

static _Thread_local struct {
    unsigned char b[RAND_POOL];
    size_t left;              /* the unused bytes are the last `left` */
} rpool;
static pthread_once_t rpool_once = PTHREAD_ONCE_INIT;

static void rpool_child(void)
{
    OPENSSL_cleanse(rpool.b, sizeof rpool.b);
    rpool.left = 0;
}

static void rpool_init(void)
{
    pthread_atfork(NULL, NULL, rpool_child);
}

/* n (<= RAND_POOL) random bytes; -1 if the system's generator failed. */
static int rand_take(unsigned char *out, size_t n)
{
    pthread_once(&rpool_once, rpool_init);
    if (rpool.left < n) {
        if (RAND_bytes(rpool.b, RAND_POOL) != 1) {
            rpool.left = 0;
            return -1;
        }
        rpool.left = RAND_POOL;
    }
    unsigned char *p = rpool.b + RAND_POOL - rpool.left;
    memcpy(out, p, n);
    OPENSSL_cleanse(p, n);
    rpool.left -= n;
    return 0;
}

/* web.session_id() -> 64 hex characters from 32 random bytes */
static int l_session_id(lua_State *L)
{
    unsigned char raw[SESSION_ID_LEN / 2];
    char hex[SESSION_ID_LEN];
    if (rand_take(raw, sizeof raw) < 0)
        return luaL_error(L, "the system's random generator failed");
    for (size_t i = 0; i < sizeof raw; i++) {
        hex[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
    lua_pushlstring(L, hex, sizeof hex);
    return 1;
}

/* web.session_get(id, idle_s, max) -> data string, or nil (unknown/expired).
 * Entries idle longer than idle_s are dropped on the way; `max` is enforced
 * when sessions are stored. */
static int l_session_get(lua_State *L)
{
    size_t n, len = 0;
    const char *id = luaL_checklstring(L, 1, &n);
    double idle = luaL_checknumber(L, 2);
    luaL_checkinteger(L, 3);
    const char *why;
    shmkv *kv = valid_id(id, n) ? session_store(&why) : NULL;
    char *copy = kv ? shmkv_get(kv, id, n, idle, &len) : NULL;
    /* pushed after the store's lock is released: a Lua error (out of
     * memory) must not leave it held */
    if (copy)
        lua_pushlstring(L, copy, len);
    else
        lua_pushnil(L);
    free(copy);
    return 1;
}

/* web.session_touch(id, idle_s) -> true if it is still there (now marked
 * used); nothing is copied into Lua */
static int l_session_touch(lua_State *L)
{
    size_t n, len = 0;
    const char *id = luaL_checklstring(L, 1, &n);
    double idle = luaL_checknumber(L, 2);
    const char *why;
    shmkv *kv = valid_id(id, n) ? session_store(&why) : NULL;
    char *copy = kv ? shmkv_get(kv, id, n, idle, &len) : NULL;
    lua_pushboolean(L, copy != NULL);
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
    shmkv *kv = NULL;
    if (!valid_id(id, n))
        why = "not a session id";
    else if (len > SESSION_MAX_DATA)
        why = "session data is larger than 65536 bytes once encoded";
    else if (!(kv = session_store(&why)))
        ;   /* why says why */
    else if (shmkv_put(kv, id, n, data, len, idle, max, &why) == 0)
        why = NULL;
    if (why) {
        lua_pushnil(L);
        lua_pushstring(L, why);
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
    const char *why;
    shmkv *kv = valid_id(id, n) ? session_store(&why) : NULL;
    lua_pushboolean(L, kv && shmkv_del(kv, id, n));
    return 1;
}

static int l_session_count(lua_State *L)
{
    const char *why;
    shmkv *kv = session_store(&why);
    lua_pushinteger(L, kv ? (lua_Integer)shmkv_count(kv) : 0);
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
    size_t got = buf_read_full(fd, p, (size_t)st.st_size);
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
    if (rand_take(buf, (size_t)n) < 0)
        return luaL_error(L, "the system's random generator failed");
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    OPENSSL_cleanse(buf, (size_t)n);
    return 1;
}

/* ---- snapshots: SITE/.atto/sessions ---------------------------------------
 * "atto-sessions 1\n", then per session, most recent first:
 * "<id> <seconds idle> <length>\n<data>\n". Ages, not times, are stored,
 * so the monotonic clock need not survive the restart. */

static int snapshot_write_one(void *ud, const void *key, size_t klen,
                              const void *val, size_t vlen, double age)
{
    FILE *f = ud;
    fprintf(f, "%.*s %.3f %zu\n", (int)klen, (const char *)key, age, vlen);
    fwrite(val, 1, vlen, f);
    fputc('\n', f);
    return 0;
}

static void snapshot_save(void)
{
    char tmp[4200], dir[4200];
    const char *path = sessions.path;
    if (!path[0] || !sessions.kv)
        return;
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        mkdir(dir, 0700);   /* .atto/ may not exist yet (no TLS listener) */
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = NULL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0)
        f = fdopen(fd, "w");
    if (!f) {
        if (fd >= 0) close(fd);
        fprintf(stderr, "atto: warning: sessions not saved to %s: %s\n", tmp, strerror(errno));
        return;
    }
    fputs("atto-sessions 1\n", f);
    shmkv_each(sessions.kv, snapshot_write_one, f);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) < 0) {
        fprintf(stderr, "atto: warning: sessions not saved to %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
}

/* atexit, lazy case only: the process that loaded the snapshot saves it
 * (never a forked child that inherited the hook) */
static void snapshot_save_at_exit(void)
{
    if (!sessions.by_master && sessions.saver == getpid())
        snapshot_save();
}

/* Read a snapshot left by the last run into the (empty) store; a damaged
 * one is ignored from the damage on (and said so) — sessions are a
 * convenience, never a reason not to start. */
static void snapshot_load(void)
{
    FILE *f = fopen(sessions.path, "r");
    if (!f)
        return;
    char line[256], *data = malloc(SESSION_MAX_DATA + 1);
    const char *why = NULL;
    int bad = !data || !fgets(line, sizeof line, f) || strcmp(line, "atto-sessions 1\n") != 0;
    while (!bad && !why && fgets(line, sizeof line, f)) {
        char id[SESSION_ID_LEN + 2];
        double age;
        size_t len;
        if (sscanf(line, "%65s %lf %zu", id, &age, &len) != 3 || !valid_id(id, strlen(id)) ||
            len > SESSION_MAX_DATA || age < 0 || fread(data, 1, len, f) != len || fgetc(f) != '\n')
            bad = 1;
        else if (shmkv_restore(sessions.kv, id, SESSION_ID_LEN, data, len, age, &why) < 0)
            bad = strcmp(why, "already present") == 0;
    }
    fclose(f);
    free(data);
    if (bad)
        fprintf(stderr, "atto: warning: %s is damaged; the sessions after the damage are dropped\n",
                sessions.path);
    else if (why)
        fprintf(stderr, "atto: warning: %s: %s; the least recently used sessions were dropped\n",
                sessions.path, why);
}

static int snapshot_path_set(const char *site_dir)
{
    int n = snprintf(sessions.path, sizeof sessions.path, "%s/.atto/sessions", site_dir);
    if (n < 0 || (size_t)n >= sizeof sessions.path) {
        sessions.path[0] = 0;
        return -1;
    }
    return 0;
}

int lweb_sessions_start(const char *site_dir, char *err, size_t errlen)
{
    int rc = -1;
    pthread_mutex_lock(&sessions.mu);
    if (!sessions.kv &&
        !(sessions.kv = shmkv_new(SESSION_STORE_BYTES, SESSION_MAX_DATA, err, errlen)))
        goto out;
    if (!sessions.path[0]) {       /* not yet loaded by a serving state */
        if (snapshot_path_set(site_dir) < 0) {
            snprintf(err, errlen, "%s: path too long for the session snapshot", site_dir);
            goto out;
        }
        snapshot_load();
    }
    sessions.by_master = 1;
    sessions.saver = getpid();
    rc = 0;
out:
    pthread_mutex_unlock(&sessions.mu);
    return rc;
}

void lweb_sessions_save(void)
{
    pthread_mutex_lock(&sessions.mu);
    snapshot_save();
    pthread_mutex_unlock(&sessions.mu);
}

/* Lazy case, once per process, from the first serving state: create the
 * store, load the snapshot and save it at exit. Nothing to do when the
 * master started the store (it loads and saves). (`atto check` and the
 * start-up check load no snapshot.) */
static void snapshot_init(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "atto.lstate");
    lstate *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!st || st->check_only)
        return;
    const char *why;
    if (!session_store(&why))
        return;                    /* session_put reports it */
    pthread_mutex_lock(&sessions.mu);
    if (!sessions.by_master && !sessions.path[0] && snapshot_path_set(st->app->cfg->site_dir) == 0) {
        snapshot_load();
        sessions.saver = getpid();
        atexit(snapshot_save_at_exit);
    }
    pthread_mutex_unlock(&sessions.mu);
}

static const luaL_Reg web_fns[] = {
    {"multipart", l_multipart}, {"max_upload_parts", l_max_upload_parts},
    {"session_id", l_session_id}, {"session_get", l_session_get},
    {"session_put", l_session_put}, {"session_drop", l_session_drop},
    {"session_touch", l_session_touch},
    {"session_count", l_session_count},
    {"stat", l_stat}, {"read", l_read}, {"write", l_write}, {"random", l_random},
    {NULL, NULL}
};

int luaopen_atto_web(lua_State *L)
{
    snapshot_init(L);
    luaL_newlib(L, web_fns);
    lwc_open(L);
    return 1;
}
