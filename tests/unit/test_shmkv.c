/*
 * test_shmkv.c — the shared-memory key/value store: basic operations, idle
 * expiry, the LRU bound, eviction in a small arena, large values, snapshot
 * restore order, and the cross-process cases (a child's writes are seen by
 * the parent; a child that dies holding the lock leaves an empty, working
 * store instead of a deadlock). Includes the .c to check the heap's
 * invariants and to reach the mid-insert test hook.
 */
#define SHMKV_TEST
#include "core/shmkv.c"
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/unit/test.h"

/* Walk the heap, the free lists, the hash and the LRU: everything adds up. */
static const char *heap_check(shmkv *kv)
{
    kv_hdr *h = kv_h(kv);
    uint64_t prev = 0, used = 0, nfree = 0, listed = 0, lru = 0, hashed = 0;
    int prev_free = 0;
    kvoff off = h->heap;
    while (off < h->heap_end) {
        kv_blk *b = kv_at(kv, off);
        if (b->prev_size != prev) return "prev_size mismatch";
        if (kv_bsize(b) < SHMKV_MINBLK || kv_bsize(b) % SHMKV_ALIGN) return "bad block size";
        int is_free = !(b->size & SHMKV_USED);
        if (is_free && prev_free) return "two free blocks side by side";
        used += !is_free;
        nfree += is_free;
        prev_free = is_free;
        prev = kv_bsize(b);
        off += prev;
    }
    if (off != h->heap_end) return "blocks overrun the heap";
    for (unsigned c = 0; c < SHMKV_CLASSES; c++)
        for (kvoff f = h->freelist[c]; f; f = ((kv_free *)kv_at(kv, f))->next) {
            if (kv_class(kv_bsize(kv_at(kv, f))) != c) return "free block on the wrong list";
            listed++;
        }
    if (listed != nfree) return "free lists disagree with the heap";
    kvoff newer = 0;
    for (kvoff e = h->newest; e; e = kv_entry_at(kv, e)->older) {
        if (kv_entry_at(kv, e)->newer != newer) return "LRU back link broken";
        newer = e;
        lru++;
    }
    if (newer != h->oldest) return "LRU tail wrong";
    for (uint64_t i = 0; i < h->nbuckets; i++)
        for (kvoff e = ((kvoff *)kv_at(kv, h->buckets))[i]; e; e = kv_entry_at(kv, e)->hnext)
            hashed++;
    if (used != h->count || lru != h->count || hashed != h->count) return "count mismatch";
    return NULL;
}

#define CHECK_HEAP(kv) do { const char *_w = heap_check(kv); \
    if (_w) { printf("FAIL %s: %s:%d: heap: %s\n", test_name, __FILE__, __LINE__, _w); \
              test_failed_now = 1; return; } } while (0)

static shmkv *mk(size_t bytes, size_t max_value)
{
    char err[200];
    return shmkv_new(bytes, max_value, err, sizeof err);
}

static int has(shmkv *kv, const char *key, const char *want)
{
    size_t len = 0;
    char *v = shmkv_get(kv, key, strlen(key), INFINITY, &len);
    int ok = v && (!want || (len == strlen(want) && memcmp(v, want, len) == 0));
    free(v);
    return ok;
}

static int put(shmkv *kv, const char *key, const char *val, size_t max)
{
    const char *why = NULL;
    return shmkv_put(kv, key, strlen(key), val, strlen(val), INFINITY, max, &why);
}

TEST(put_get_replace_del_count)
{
    shmkv *kv = mk(1 << 20, 1024);
    CHECK(kv);
    CHECK_INT(shmkv_count(kv), 0);
    CHECK(!has(kv, "a", NULL));
    CHECK_INT(put(kv, "a", "one", 100), 0);
    CHECK_INT(put(kv, "b", "two", 100), 0);
    CHECK(has(kv, "a", "one"));
    CHECK(has(kv, "b", "two"));
    CHECK_INT(put(kv, "a", "a much longer value than before", 100), 0);
    CHECK(has(kv, "a", "a much longer value than before"));
    CHECK_INT(shmkv_count(kv), 2);
    CHECK_INT(shmkv_del(kv, "a", 1), 1);
    CHECK_INT(shmkv_del(kv, "a", 1), 0);
    CHECK(!has(kv, "a", NULL));
    CHECK_INT(shmkv_count(kv), 1);
    CHECK_HEAP(kv);
    shmkv_free(kv);
}

TEST(empty_value_and_key_limits)
{
    shmkv *kv = mk(1 << 20, 1024);
    const char *why = NULL;
    char key[SHMKV_MAX_KEY + 1];
    memset(key, 'k', sizeof key);
    CHECK_INT(shmkv_put(kv, "e", 1, "", 0, INFINITY, 10, &why), 0);
    size_t len = 99;
    char *v = shmkv_get(kv, "e", 1, INFINITY, &len);
    CHECK(v != NULL);
    CHECK_INT(len, 0);
    free(v);
    CHECK_INT(shmkv_put(kv, key, SHMKV_MAX_KEY, "x", 1, INFINITY, 10, &why), 0);
    CHECK_INT(shmkv_put(kv, key, SHMKV_MAX_KEY + 1, "x", 1, INFINITY, 10, &why), -1);
    CHECK_STR(why, "key must be 1 to 64 bytes");
    CHECK_INT(shmkv_put(kv, key, 0, "x", 1, INFINITY, 10, &why), -1);
    CHECK(shmkv_get(kv, key, SHMKV_MAX_KEY + 1, INFINITY, &len) == NULL);
    CHECK_INT(shmkv_del(kv, key, 0), 0);
    CHECK_INT(shmkv_count(kv), 2);
    shmkv_free(kv);
}

TEST(idle_expiry)
{
    shmkv *kv = mk(1 << 20, 1024);
    const char *why = NULL;
    size_t len;
    /* restored ages stand in for time passing */
    CHECK_INT(shmkv_restore(kv, "fresh", 5, "f", 1, 1.0, &why), 0);
    CHECK_INT(shmkv_restore(kv, "stale", 5, "s", 1, 100.0, &why), 0);
    char *v = shmkv_get(kv, "fresh", 5, 10.0, &len);
    CHECK(v != NULL);
    free(v);
    CHECK_INT(shmkv_count(kv), 1);          /* the stale one went from the cold end */
    CHECK(shmkv_get(kv, "stale", 5, INFINITY, &len) == NULL);
    /* a key past its idle time in the middle of the list is dropped by get */
    CHECK_INT(shmkv_restore(kv, "old", 3, "o", 1, 50.0, &why), 0);
    CHECK_INT(shmkv_restore(kv, "new", 3, "n", 1, 0.0, &why), 0);   /* out of order */
    CHECK(shmkv_get(kv, "old", 3, 10.0, &len) == NULL);
    CHECK_INT(shmkv_count(kv), 2);
    /* real time: 20 ms */
    CHECK_INT(shmkv_put(kv, "t", 1, "v", 1, INFINITY, 10, &why), 0);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    CHECK(shmkv_get(kv, "t", 1, 0.010, &len) == NULL);
    CHECK_INT(shmkv_count(kv), 0);           /* everything was idle longer than 10 ms */
    CHECK_HEAP(kv);
    shmkv_free(kv);
}

TEST(lru_bound)
{
    shmkv *kv = mk(1 << 20, 1024);
    char k[8];
    for (int i = 0; i < 7; i++) {
        snprintf(k, sizeof k, "k%d", i);
        CHECK_INT(put(kv, k, k, 5), 0);
        if (i == 4)
            CHECK(has(kv, "k0", "k0"));     /* touched: now most recent */
    }
    CHECK_INT(shmkv_count(kv), 5);          /* k5 and k6 pushed out k1 and k2 */
    CHECK(has(kv, "k0", "k0"));
    CHECK(!has(kv, "k1", NULL));
    CHECK(!has(kv, "k2", NULL));
    CHECK(has(kv, "k3", "k3"));
    CHECK(has(kv, "k6", "k6"));
    CHECK_HEAP(kv);
    shmkv_free(kv);
}

TEST(evicts_when_the_arena_is_small)
{
    shmkv *kv = mk(64 * 1024, 1024);
    CHECK(kv);
    char k[16], v[600];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "key%d", i);
        memset(v, 'a' + i % 26, sizeof v);
        v[100 + i % 400] = 0;
        CHECK_INT(put(kv, k, v, 1000000), 0);
    }
    size_t n = shmkv_count(kv);
    CHECK(n > 20 && n < 1000);
    CHECK(has(kv, "key999", NULL));
    CHECK(!has(kv, "key0", NULL));
    CHECK_HEAP(kv);
    shmkv_free(kv);
}

TEST(random_workload_keeps_values_and_heap)
{
    shmkv *kv = mk(256 * 1024, 8192);
    static unsigned version[200];
    static char v[8192];
    unsigned seed = 12345;
    memset(version, 0, sizeof version);
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned key = (seed >> 8) % 200, op = (seed >> 20) % 4;
        char k[8];
        snprintf(k, sizeof k, "%u", key);
        if (op == 0) {
            if (shmkv_del(kv, k, strlen(k)))    /* it may have been evicted */
                CHECK(version[key] != 0);
            CHECK_INT(shmkv_del(kv, k, strlen(k)), 0);
            version[key] = 0;
        } else if (op == 1) {
            size_t len;
            unsigned *got = shmkv_get(kv, k, strlen(k), INFINITY, &len);
            if (got) {                       /* present: it must be the latest version */
                CHECK(version[key] != 0);
                CHECK_INT(*got, version[key]);
                CHECK_INT(len, sizeof(unsigned) + (version[key] * 37) % 8000);
            }
            free(got);
        } else {
            const char *why;
            unsigned ver = (unsigned)i + 1;
            size_t len = sizeof ver + (ver * 37) % 8000;
            memcpy(v, &ver, sizeof ver);
            CHECK_INT(shmkv_put(kv, k, strlen(k), v, len, INFINITY, 150, &why), 0);
            version[key] = ver;
        }
        if (i % 1000 == 0)
            CHECK_HEAP(kv);
    }
    CHECK(shmkv_count(kv) <= 150);
    CHECK_HEAP(kv);
    shmkv_free(kv);
}

TEST(large_values)
{
    char err[200];
    CHECK(shmkv_new(16 * 1024, 65536, err, sizeof err) == NULL);
    CHECK(strstr(err, "no room for one 65536-byte value") != NULL);
    shmkv *kv = mk(1 << 20, 65536);
    static char big[65537];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    const char *why = NULL;
    for (int round = 0; round < 40; round++) {   /* ~2.6 MiB through a 1 MiB arena */
        char k[8];
        snprintf(k, sizeof k, "b%d", round);
        CHECK_INT(shmkv_put(kv, k, strlen(k), big, 65536, INFINITY, 1000, &why), 0);
    }
    size_t len;
    char *v = shmkv_get(kv, "b39", 3, INFINITY, &len);
    CHECK_MEM(v, len, big, 65536);
    free(v);
    CHECK(shmkv_count(kv) >= 10 && shmkv_count(kv) < 16);
    CHECK_INT(shmkv_put(kv, "x", 1, big, 65537, INFINITY, 1000, &why), -1);
    CHECK_STR(why, "value too large");
    CHECK_HEAP(kv);
    shmkv_free(kv);
}

typedef struct seen { char keys[16][8]; double age[16]; int n, stop_after; } seen;

static int collect(void *ud, const void *key, size_t klen, const void *val, size_t vlen, double age)
{
    seen *s = ud;
    memcpy(s->keys[s->n], key, klen);
    s->keys[s->n][klen] = 0;
    s->age[s->n++] = age;
    return s->n == s->stop_after;
}

TEST(restore_order)
{
    shmkv *kv = mk(1 << 20, 1024);
    const char *why = NULL;
    CHECK_INT(shmkv_restore(kv, "a", 1, "1", 1, 1.0, &why), 0);
    CHECK_INT(shmkv_restore(kv, "b", 1, "2", 1, 2.0, &why), 0);
    CHECK_INT(shmkv_restore(kv, "c", 1, "3", 1, 3.0, &why), 0);
    CHECK_INT(shmkv_restore(kv, "b", 1, "2", 1, 4.0, &why), -1);
    CHECK_STR(why, "already present");
    CHECK_INT(put(kv, "d", "4", 100), 0);
    seen s = {.stop_after = -1};
    shmkv_each(kv, collect, &s);
    CHECK_INT(s.n, 4);
    CHECK_STR(s.keys[0], "d");
    CHECK_STR(s.keys[1], "a");
    CHECK_STR(s.keys[3], "c");
    CHECK(s.age[0] < 0.5);
    CHECK(fabs(s.age[1] - 1.0) < 0.5 && fabs(s.age[3] - 3.0) < 0.5);
    /* restore never evicts: a full small store refuses */
    shmkv *small = mk(32 * 1024, 1024);
    static char v[1024];
    int i = 0, rc = 0;
    for (; i < 100 && rc == 0; i++) {
        char k[8];
        snprintf(k, sizeof k, "r%d", i);
        rc = shmkv_restore(small, k, strlen(k), v, sizeof v, i, &why);
    }
    CHECK_INT(rc, -1);
    CHECK_STR(why, "store full");
    CHECK_INT(shmkv_count(small), i - 1);
    CHECK_HEAP(small);
    shmkv_free(small);
    shmkv_free(kv);
}

TEST(each_order_and_stop)
{
    shmkv *kv = mk(1 << 20, 1024);
    put(kv, "a", "1", 100);
    put(kv, "b", "2", 100);
    put(kv, "c", "3", 100);
    CHECK(has(kv, "a", "1"));
    seen s = {.stop_after = -1};
    shmkv_each(kv, collect, &s);
    CHECK_INT(s.n, 3);
    CHECK_STR(s.keys[0], "a");
    CHECK_STR(s.keys[1], "c");
    CHECK_STR(s.keys[2], "b");
    seen t = {.stop_after = 2};
    shmkv_each(kv, collect, &t);
    CHECK_INT(t.n, 2);
    shmkv_free(kv);
}

static int wait_child(pid_t pid)
{
    int st = 0;
    for (int i = 0; i < 500; i++) {           /* at most 5 s */
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

TEST(a_child_put_is_seen_by_the_parent)
{
    shmkv *kv = mk(1 << 20, 1024);
    put(kv, "parent", "p", 100);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int ok = has(kv, "parent", "p") && put(kv, "child", "c", 100) == 0;
        _exit(ok ? 0 : 1);
    }
    int st = wait_child(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(has(kv, "child", "c"));
    CHECK_INT(shmkv_count(kv), 2);
    shmkv_free(kv);
}

TEST(processes_share_one_store_under_load)
{
    shmkv *kv = mk(128 * 1024, 2048);
    static char v[2048];
    pid_t pids[3];
    fflush(stdout);
    for (int c = 0; c < 3; c++) {
        if ((pids[c] = fork()) == 0) {
            const char *why;
            for (int i = 0; i < 3000; i++) {
                char k[16];
                size_t len;
                snprintf(k, sizeof k, "%d-%d", c, i % 97);
                memset(v, c + i, sizeof v);
                if (shmkv_put(kv, k, strlen(k), v, 64 + (i * 13) % 1900, 60.0, 200, &why) < 0)
                    _exit(2);
                snprintf(k, sizeof k, "%d-%d", (c + 1) % 3, i % 97);
                free(shmkv_get(kv, k, strlen(k), 60.0, &len));
            }
            _exit(0);
        }
    }
    for (int c = 0; c < 3; c++) {
        int st = wait_child(pids[c]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(shmkv_count(kv) > 0 && shmkv_count(kv) <= 200);
    CHECK_HEAP(kv);
    shmkv_free(kv);
}

/* Run fn in a child expected to die holding the lock; then the parent's
 * next call must recover (empty store, one warning) instead of hanging. */
static void die_holding_lock(void) { abort(); }

static int stderr_to(FILE *tmp)
{
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    return saved;
}

static void stderr_back(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

static int warned(FILE *tmp)
{
    char line[256] = "";
    rewind(tmp);
    int n = 0;
    while (fgets(line, sizeof line, tmp))
        n += strcmp(line, "atto: warning: a worker died while updating shared memory; "
                          "the session store was cleared\n") == 0;
    return n;
}

TEST(a_child_dying_with_the_lock_leaves_an_empty_store)
{
    for (int how = 0; how < 2; how++) {
        shmkv *kv = mk(1 << 20, 1024);
        for (int i = 0; i < 50; i++) {
            char k[8];
            snprintf(k, sizeof k, "k%d", i);
            put(kv, k, "value", 1000);
        }
        fflush(stdout);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            if (how == 0) {                /* takes the lock and exits */
                pthread_mutex_lock(&kv_h(kv)->mu);
                _exit(0);
            }
            signal(SIGABRT, SIG_DFL);      /* dies half-way through an insert */
            shmkv_test_hook = die_holding_lock;
            put(kv, "half", "written", 1000);
            _exit(3);
        }
        int st = wait_child(pid);
        CHECK(st != -1);
        CHECK(how == 0 ? WIFEXITED(st) : WIFSIGNALED(st));
        FILE *tmp = tmpfile();
        int saved = stderr_to(tmp);
        size_t n = shmkv_count(kv);
        stderr_back(saved);
        CHECK_INT(n, 0);
        CHECK_INT(warned(tmp), 1);
        fclose(tmp);
        CHECK_HEAP(kv);
        CHECK(!has(kv, "k1", NULL));
        CHECK_INT(put(kv, "after", "works", 1000), 0);
        CHECK(has(kv, "after", "works"));
        CHECK_INT(shmkv_count(kv), 1);
        CHECK_HEAP(kv);
        shmkv_free(kv);
    }
}

int main(void)
{
    RUN(put_get_replace_del_count);
    RUN(empty_value_and_key_limits);
    RUN(idle_expiry);
    RUN(lru_bound);
    RUN(evicts_when_the_arena_is_small);
    RUN(random_workload_keeps_values_and_heap);
    RUN(large_values);
    RUN(restore_order);
    RUN(each_order_and_stop);
    RUN(a_child_put_is_seen_by_the_parent);
    RUN(processes_share_one_store_under_load);
    RUN(a_child_dying_with_the_lock_leaves_an_empty_store);
    return test_done();
}
