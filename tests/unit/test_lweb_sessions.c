/*
 * test_lweb_sessions.c — the web session store of lua/lweb.c on shared
 * memory: who loads and saves the snapshot (the master after
 * lweb_sessions_start, or lazily the first serving state), that a forked
 * worker's sessions are the master's, that a worker never saves at exit,
 * damaged snapshots, and the Lua-facing errors. Each case runs in its own
 * forked process (the store is per-process static state) and reports its
 * first failure through a pipe. Includes lweb.c to reach that state.
 */
#include "lua/lweb.c"
#include <lualib.h>
#include <sys/wait.h>
#include "tests/unit/test.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define ID_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static char site[256], snap[300];
static server_config cfg;
static lapp app = {.cfg = &cfg};
static lstate serving = {.app = &app};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    return f ? buf : NULL;
}

/* a fresh site folder (main names it), with this snapshot if not NULL */
static void make_site(const char *snapshot)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s/.atto", site, site);
    if (system(cmd) != 0)
        abort();
    if (snapshot)
        write_file(snap, snapshot);
}

static const char *three =
    "atto-sessions 1\n"
    ID_A " 1.000 5\nalpha\n"
    ID_B " 20.000 4\nbeta\n"
    ID_C " 300.000 0\n\n";

/* a Lua state with `web` loaded as a serving state (or not) would load it */
static lua_State *web_state(int as_serving)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (as_serving) {
        lua_pushlightuserdata(L, &serving);
        lua_setfield(L, LUA_REGISTRYINDEX, "atto.lstate");
    }
    luaL_requiref(L, "web", luaopen_atto_web, 1);
    lua_pop(L, 1);
    return L;
}

static const char *lua_ok(lua_State *L, const char *code)
{
    static char msg[512];
    if (luaL_dostring(L, code) == LUA_OK)
        return NULL;
    snprintf(msg, sizeof msg, "lua: %s", lua_tostring(L, -1));
    return msg;
}

/* Run fn in a child; its first failure (or nothing) comes back here. */
static const char *isolated(const char *(*fn)(void))
{
    static char msg[600];
    int fds[2];
    if (pipe(fds) < 0)
        return "pipe failed";
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        const char *why = fn();
        if (why)
            (void)!write(fds[1], why, strlen(why));
        exit(0);            /* exit, not _exit: atexit hooks are part of the test */
    }
    close(fds[1]);
    ssize_t n = read(fds[0], msg, sizeof msg - 1);
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return "child crashed";
    msg[n > 0 ? n : 0] = 0;
    return n > 0 ? msg : NULL;
}

#define CHECK_ISOLATED(fn) do { const char *_w = isolated(fn); if (_w) { \
    printf("FAIL %s: %s\n", test_name, _w); test_failed_now = 1; return; } } while (0)

/* ---- lazy: the first serving state loads, the process saves at exit ----- */

static const char *nothing(void) { return NULL; }

static const char *lazy_child(void)
{
    make_site(three);
    lua_State *check = web_state(0);       /* `atto check`: loads nothing */
    if (sessions.path[0])
        return "a check-only state loaded the snapshot";
    lua_close(check);
    lua_State *L = web_state(1);
    const char *why = lua_ok(L,
        "assert(web.session_count() == 3, 'count ' .. web.session_count())\n"
        "assert(web.session_get('" ID_B "', 3600, 100) == 'beta')\n"
        "assert(web.session_get('" ID_C "', 3600, 100) == '')\n"
        "assert(web.session_put('" ID_D "', 'delta', 3600, 100))\n");
    lua_close(L);
    unlink(snap);
    if (!why && !(why = isolated(nothing)) && access(snap, F_OK) == 0)
        why = "a forked child saved at exit";
    return why;     /* exit() now saves */
}

TEST(lazy_store_loads_and_saves_at_exit)
{
    CHECK_ISOLATED(lazy_child);
    const char *text = read_all(snap);
    CHECK(text != NULL);
    CHECK(strncmp(text, "atto-sessions 1\n" ID_D " 0.", 16 + 64 + 3) == 0);
    CHECK(strstr(text, " 5\ndelta\n") != NULL);
    const char *c = strstr(text, ID_C), *b = strstr(text, ID_B), *a = strstr(text, ID_A);
    CHECK(a && b && c && strstr(text, ID_D) < c && c < b && b < a);
    struct stat st;
    CHECK(stat(snap, &st) == 0 && (st.st_mode & 0777) == 0600);
}

/* ---- master: start, a forked worker uses it, the master saves ----------- */

static const char *worker_child(void)
{
    lua_State *L = web_state(1);
    const char *why = lua_ok(L,
        "assert(web.session_put('" ID_D "', 'from the worker', 3600, 100))\n"
        "assert(web.session_get('" ID_A "', 3600, 100) == 'alpha')\n"
        "assert(web.session_drop('" ID_B "') == true)\n"
        "assert(web.session_drop('" ID_B "') == false)\n");
    lua_close(L);
    if (!why && sessions.path[0] && !sessions.by_master)
        why = "the worker took over the snapshot";
    return why;     /* exit(): must not save */
}

static const char *master_child(void)
{
    static char err[200];
    make_site(three);
    if (lweb_sessions_start(site, err, sizeof err) < 0)
        return err;
    if (shmkv_count(sessions.kv) != 3)
        return "the master did not load three sessions";
    unlink(snap);                       /* a worker that saves would re-create it */
    const char *why = isolated(worker_child);
    if (why)
        return why;
    if (access(snap, F_OK) == 0)
        return "a worker saved the snapshot at exit";
    if (shmkv_count(sessions.kv) != 3)
        return "the worker's put and drop are not seen by the master";
    lweb_sessions_save();
    const char *text = read_all(snap);
    if (!text || strstr(text, ID_B))
        return "the saved snapshot still has the dropped session";
    if (strncmp(text, "atto-sessions 1\n" ID_A " 0.", 16 + 64 + 3) != 0)
        return "the session the worker used last is not first";
    if (!strstr(text, ID_D " ") || !strstr(text, "15\nfrom the worker\n"))
        return "the worker's session is not in the snapshot";
    return NULL;
}

TEST(master_store_is_shared_with_workers_and_saved_by_the_master)
{
    CHECK_ISOLATED(master_child);
}

/* A serving state made in the master before lweb_sessions_start (so the
 * lazy path loaded and registered its exit hook): the start takes over,
 * nothing is loaded twice, and only lweb_sessions_save writes — neither a
 * worker's exit nor the master's. */
static const char *lazy_then_master_child(void)
{
    static char err[200];
    make_site(three);
    lua_State *L = web_state(1);
    lua_close(L);
    if (lweb_sessions_start(site, err, sizeof err) < 0)
        return err;
    if (shmkv_count(sessions.kv) != 3)
        return "the snapshot was loaded twice or not at all";
    unlink(snap);
    const char *why = isolated(worker_child);
    if (why)
        return why;
    if (access(snap, F_OK) == 0)
        return "a worker saved the snapshot at exit";
    lweb_sessions_save();
    if (access(snap, F_OK) != 0)
        return "lweb_sessions_save wrote nothing";
    unlink(snap);
    return NULL;    /* exit(): the master's inherited lazy hook must not save */
}

TEST(master_start_after_a_lazy_state_takes_over_saving)
{
    CHECK_ISOLATED(lazy_then_master_child);
    CHECK(access(snap, F_OK) != 0);
}

/* ---- damaged snapshots ---------------------------------------------------- */

static const char *damaged_child(void)
{
    static char err[200];
    make_site("atto-sessions 1\n"
              ID_A " 1.000 5\nalpha\n"
              ID_B " 2.000 999\nshort\n");
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    int rc = lweb_sessions_start(site, err, sizeof err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    if (rc < 0)
        return err;
    char line[600] = "";
    rewind(tmp);
    if (!fgets(line, sizeof line, tmp) || !strstr(line, "is damaged; the sessions after the damage are dropped"))
        return "no warning about the damaged snapshot";
    if (shmkv_count(sessions.kv) != 1)
        return "the session before the damage was not kept";
    return NULL;
}

static const char *duplicate_child(void)
{
    static char err[200];
    make_site("atto-sessions 1\n" ID_A " 1.000 1\nx\n" ID_A " 2.000 1\ny\n");
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    int rc = lweb_sessions_start(site, err, sizeof err);
    dup2(saved, 2);
    close(saved);
    close(null);
    if (rc < 0)
        return err;
    lua_State *L = web_state(1);
    const char *why = lua_ok(L, "assert(web.session_get('" ID_A "', 3600, 100) == 'x')\n"
                                "assert(web.session_count() == 1)\n");
    lua_close(L);
    return why;
}

TEST(a_damaged_snapshot_keeps_what_came_before)
{
    CHECK_ISOLATED(damaged_child);
    CHECK_ISOLATED(duplicate_child);
}

/* ---- the Lua-facing contract ---------------------------------------------- */

static const char *lua_api_child(void)
{
    make_site(NULL);
    lua_State *L = web_state(1);
    const char *why = lua_ok(L,
        "local id = web.session_id()\n"
        "assert(#id == 64 and id:match('^[0-9a-f]+$'))\n"
        "assert(web.session_get(id, 3600, 10) == nil)\n"
        "assert(web.session_get('nope', 3600, 10) == nil)\n"
        "local ok, err = web.session_put('nope', 'x', 3600, 10)\n"
        "assert(ok == nil and err == 'not a session id', err)\n"
        "ok, err = web.session_put(id, string.rep('x', 65537), 3600, 10)\n"
        "assert(ok == nil and err == 'session data is larger than 65536 bytes once encoded', err)\n"
        "assert(web.session_put(id, string.rep('x', 65536), 3600, 10) == true)\n"
        "assert(#web.session_get(id, 3600, 10) == 65536)\n"
        "for i = 1, 12 do assert(web.session_put(web.session_id(), 'v', 3600, 10)) end\n"
        "assert(web.session_count() == 10, web.session_count())\n"
        "assert(web.session_get(id, 3600, 10) == nil)   -- least recently used, dropped\n"
        "assert(web.session_drop('nope') == false)\n");
    lua_close(L);
    return why;
}

TEST(lua_api_errors_and_bounds)
{
    CHECK_ISOLATED(lua_api_child);
}

int main(void)
{
    snprintf(site, sizeof site, "/tmp/atto-lweb-test-%d", (int)getpid());
    snprintf(snap, sizeof snap, "%s/.atto/sessions", site);
    cfg.site_dir = site;
    RUN(lazy_store_loads_and_saves_at_exit);
    RUN(master_store_is_shared_with_workers_and_saved_by_the_master);
    RUN(master_start_after_a_lazy_state_takes_over_saving);
    RUN(a_damaged_snapshot_keeps_what_came_before);
    RUN(lua_api_errors_and_bounds);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", site);
    if (site[0] && system(cmd) != 0)
        printf("FAIL cleanup: %s\n", cmd);
    return test_done();
}
