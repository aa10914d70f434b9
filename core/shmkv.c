/*
 * shmkv.c — a key/value store in one shared mapping, for worker processes.
 *
 * Layout of the mapping, everything addressed by offset from its start (0
 * stands for "none"):
 *
 *   [ header: robust mutex, LRU ends, count, free lists ]
 *   [ hash buckets: nbuckets offsets of the first entry of each chain ]
 *   [ heap: blocks, back to back, up to heap_end ]
 *
 * Every heap block starts with its size (bit 0 set when in use) and the size
 * of the block before it, so a freed block merges with free neighbours on
 * both sides (boundary tags). Free blocks sit on one of 64 lists, by the
 * power of two below their size; allocation takes the first fit, splitting
 * off the rest. The heap starts as one free block: with MAP_NORESERVE only
 * the pages entries have touched use memory. When no block fits, entries are
 * dropped from the cold end of the LRU until one does; a store always has
 * room for one largest entry (shmkv_new checks), so "store full" is a
 * defensive answer only.
 *
 * A used block is an entry: hash chain link, LRU links (newer/older), time of
 * last use, key and value inline. Everything below the public functions
 * assumes the lock is held; a process that dies holding it leaves the next
 * locker to call kv_reset(), which rebuilds an empty store from the fields
 * that never change after shmkv_new.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "core/shmkv.h"

#define SHMKV_ALIGN   16
#define SHMKV_MINBLK  64       /* smallest split-off remainder */
#define SHMKV_CLASSES 64
#define SHMKV_USED    1ull

typedef uint64_t kvoff;

typedef struct kv_blk {        /* every heap block */
    uint64_t size;             /* multiple of SHMKV_ALIGN | SHMKV_USED */
    uint64_t prev_size;        /* of the block just below; 0 for the first */
} kv_blk;

typedef struct kv_free {       /* a free block */
    kv_blk b;
    kvoff  next, prev;         /* its free list */
} kv_free;

typedef struct kv_entry {      /* a used block; key then value follow */
    kv_blk   b;
    kvoff    hnext;            /* hash chain */
    kvoff    newer, older;     /* LRU */
    double   last;             /* CLOCK_MONOTONIC seconds of last use */
    uint32_t hash, vlen;
    uint8_t  klen, pad[7];
} kv_entry;

typedef struct kv_hdr {
    pthread_mutex_t mu;
    /* fixed at creation */
    uint64_t        max_value, nbuckets;
    kvoff           buckets, heap, heap_end;
    /* changing, under mu */
    kvoff           newest, oldest;
    uint64_t        count;
    kvoff           freelist[SHMKV_CLASSES];
} kv_hdr;

struct shmkv {                 /* this process's handle */
    char   *base;              /* the mapping; the header is at offset 0 */
    size_t  bytes;
};

#ifdef SHMKV_TEST
/* unit tests: called in the middle of an insert, with the lock held */
static void (*shmkv_test_hook)(void);
#define SHMKV_HOOK() do { if (shmkv_test_hook) shmkv_test_hook(); } while (0)
#else
#define SHMKV_HOOK() do { } while (0)
#endif

/* ---- addressing and time ------------------------------------------------ */

static kv_hdr *kv_h(shmkv *kv) { return (kv_hdr *)kv->base; }
static void *kv_at(shmkv *kv, kvoff off) { return kv->base + off; }
static kv_entry *kv_entry_at(shmkv *kv, kvoff off) { return (kv_entry *)(kv->base + off); }
static kvoff *kv_bucket(shmkv *kv, uint32_t hash)
{
    kv_hdr *h = kv_h(kv);
    return (kvoff *)kv_at(kv, h->buckets) + (hash & (h->nbuckets - 1));
}

static size_t kv_round(size_t n) { return (n + SHMKV_ALIGN - 1) & ~(size_t)(SHMKV_ALIGN - 1); }

static size_t kv_entry_bytes(size_t klen, size_t vlen)
{
    return kv_round(sizeof(kv_entry) + klen + vlen);
}

static double kv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t kv_hash(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* ---- heap: boundary-tag blocks on segregated free lists ----------------- */

static unsigned kv_class(uint64_t size) { return 63u - (unsigned)__builtin_clzll(size); }
static uint64_t kv_bsize(const kv_blk *b) { return b->size & ~SHMKV_USED; }

/* size a block and tell the block above it */
static void kv_blk_set(shmkv *kv, kvoff off, uint64_t size, int used)
{
    kv_blk *b = kv_at(kv, off);
    b->size = size | (used ? SHMKV_USED : 0);
    if (off + size < kv_h(kv)->heap_end)
        ((kv_blk *)kv_at(kv, off + size))->prev_size = size;
}

static void kv_fl_push(shmkv *kv, kvoff off)
{
    kv_hdr *h = kv_h(kv);
    kv_free *f = kv_at(kv, off);
    kvoff *head = &h->freelist[kv_class(kv_bsize(&f->b))];
    f->next = *head;
    f->prev = 0;
    if (*head)
        ((kv_free *)kv_at(kv, *head))->prev = off;
    *head = off;
}

static void kv_fl_remove(shmkv *kv, kvoff off)
{
    kv_free *f = kv_at(kv, off);
    if (f->prev)
        ((kv_free *)kv_at(kv, f->prev))->next = f->next;
    else
        kv_h(kv)->freelist[kv_class(kv_bsize(&f->b))] = f->next;
    if (f->next)
        ((kv_free *)kv_at(kv, f->next))->prev = f->prev;
}

/* first fit: search the list of need's own class, then take the head of any
 * higher one (all of whose blocks are large enough) */
static kvoff kv_find_free(shmkv *kv, uint64_t need)
{
    kv_hdr *h = kv_h(kv);
    unsigned c = kv_class(need);
    for (kvoff off = h->freelist[c]; off; off = ((kv_free *)kv_at(kv, off))->next)
        if (kv_bsize(kv_at(kv, off)) >= need)
            return off;
    for (c++; c < SHMKV_CLASSES; c++)
        if (h->freelist[c])
            return h->freelist[c];
    return 0;
}

static kvoff kv_alloc(shmkv *kv, uint64_t need)
{
    kvoff off = kv_find_free(kv, need);
    if (!off)
        return 0;
    uint64_t size = kv_bsize(kv_at(kv, off));
    kv_fl_remove(kv, off);
    if (size - need >= SHMKV_MINBLK) {
        kv_blk_set(kv, off, need, 1);
        kv_blk_set(kv, off + need, size - need, 0);
        kv_fl_push(kv, off + need);
    } else {
        kv_blk_set(kv, off, size, 1);
    }
    return off;
}

static void kv_release(shmkv *kv, kvoff off)
{
    kv_hdr *h = kv_h(kv);
    kv_blk *b = kv_at(kv, off);
    uint64_t size = kv_bsize(b);
    if (off + size < h->heap_end) {
        kv_blk *up = kv_at(kv, off + size);
        if (!(up->size & SHMKV_USED)) {
            kv_fl_remove(kv, off + size);
            size += kv_bsize(up);
        }
    }
    if (b->prev_size) {
        kvoff down = off - b->prev_size;
        kv_blk *d = kv_at(kv, down);
        if (!(d->size & SHMKV_USED)) {
            kv_fl_remove(kv, down);
            size += kv_bsize(d);
            off = down;
        }
    }
    kv_blk_set(kv, off, size, 0);
    kv_fl_push(kv, off);
}

/* Empty the store: no entries, the heap one free block. After a crash
 * under the lock this uses only the fields fixed at creation. */
static void kv_reset(shmkv *kv, int fresh)
{
    kv_hdr *h = kv_h(kv);
    if (!fresh)     /* a new mapping is zero already: don't touch its pages */
        memset(kv_at(kv, h->buckets), 0, h->nbuckets * sizeof(kvoff));
    memset(h->freelist, 0, sizeof h->freelist);
    h->newest = h->oldest = 0;
    h->count = 0;
    kv_blk *b = kv_at(kv, h->heap);
    b->prev_size = 0;
    kv_blk_set(kv, h->heap, h->heap_end - h->heap, 0);
    kv_fl_push(kv, h->heap);
}

/* ---- entries: hash chains and the LRU ----------------------------------- */

static kvoff kv_find(shmkv *kv, const void *key, size_t klen, uint32_t hash)
{
    for (kvoff off = *kv_bucket(kv, hash); off; off = kv_entry_at(kv, off)->hnext) {
        kv_entry *e = kv_entry_at(kv, off);
        if (e->hash == hash && e->klen == klen && memcmp(e + 1, key, klen) == 0)
            return off;
    }
    return 0;
}

static void kv_lru_unlink(shmkv *kv, kv_entry *e)
{
    kv_hdr *h = kv_h(kv);
    if (e->newer) kv_entry_at(kv, e->newer)->older = e->older; else h->newest = e->older;
    if (e->older) kv_entry_at(kv, e->older)->newer = e->newer; else h->oldest = e->newer;
    e->newer = e->older = 0;
}

static void kv_lru_push_newest(shmkv *kv, kvoff off)
{
    kv_hdr *h = kv_h(kv);
    kv_entry *e = kv_entry_at(kv, off);
    e->newer = 0;
    e->older = h->newest;
    if (h->newest) kv_entry_at(kv, h->newest)->newer = off; else h->oldest = off;
    h->newest = off;
}

static void kv_lru_push_oldest(shmkv *kv, kvoff off)
{
    kv_hdr *h = kv_h(kv);
    kv_entry *e = kv_entry_at(kv, off);
    e->older = 0;
    e->newer = h->oldest;
    if (h->oldest) kv_entry_at(kv, h->oldest)->older = off; else h->newest = off;
    h->oldest = off;
}

static void kv_remove(shmkv *kv, kvoff off)
{
    kv_entry *e = kv_entry_at(kv, off);
    kvoff *pp = kv_bucket(kv, e->hash);
    while (*pp != off)
        pp = &kv_entry_at(kv, *pp)->hnext;
    *pp = e->hnext;
    kv_lru_unlink(kv, e);
    kv_h(kv)->count--;
    kv_release(kv, off);
}

static void kv_expire(shmkv *kv, double idle_s, double now)
{
    kv_hdr *h = kv_h(kv);
    while (h->oldest && now - kv_entry_at(kv, h->oldest)->last > idle_s)
        kv_remove(kv, h->oldest);
}

/* a block for an entry, dropping the least recently used while none fits */
static kvoff kv_alloc_evicting(shmkv *kv, uint64_t need, int may_evict)
{
    kvoff off;
    while (!(off = kv_alloc(kv, need)) && may_evict && kv_h(kv)->oldest)
        kv_remove(kv, kv_h(kv)->oldest);
    return off;
}

/* fill a fresh block and hash it; the caller links it into the LRU */
static kv_entry *kv_fill(shmkv *kv, kvoff off, const void *key, size_t klen, uint32_t hash,
                         const void *val, size_t vlen, double last)
{
    kv_entry *e = kv_entry_at(kv, off);
    e->hash = hash;
    e->klen = (uint8_t)klen;
    e->vlen = (uint32_t)vlen;
    e->last = last;
    memcpy(e + 1, key, klen);
    if (vlen)
        memcpy((char *)(e + 1) + klen, val, vlen);
    kvoff *bucket = kv_bucket(kv, hash);
    e->hnext = *bucket;
    *bucket = off;
    kv_h(kv)->count++;
    return e;
}

/* ---- the lock ----------------------------------------------------------- */

static int kv_lock(shmkv *kv)
{
    int rc = pthread_mutex_lock(&kv_h(kv)->mu);
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&kv_h(kv)->mu);
        kv_reset(kv, 0);
        fprintf(stderr, "atto: warning: a worker died while updating shared memory; "
                        "the session store was cleared\n");
        return 0;
    }
    return rc == 0 ? 0 : -1;
}

static void kv_unlock(shmkv *kv)
{
    pthread_mutex_unlock(&kv_h(kv)->mu);
}

/* ---- public ------------------------------------------------------------- */

static int kv_check(shmkv *kv, size_t klen, size_t vlen, const char **why)
{
    if (klen < 1 || klen > SHMKV_MAX_KEY) {
        *why = "key must be 1 to 64 bytes";
        return -1;
    }
    if (vlen > kv_h(kv)->max_value) {
        *why = "value too large";
        return -1;
    }
    return 0;
}

static int kv_mutex_init(pthread_mutex_t *mu)
{
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) != 0)
        return -1;
    int rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(mu, &a);
    pthread_mutexattr_destroy(&a);
    return rc == 0 ? 0 : -1;
}

shmkv *shmkv_new(size_t bytes, size_t max_value, char *err, size_t errlen)
{
    shmkv *kv = NULL;
    void *base = MAP_FAILED;
    size_t nbuckets = 64;
    while (nbuckets < bytes / 512 && nbuckets < (1u << 20))
        nbuckets *= 2;
    size_t heap = kv_round(sizeof(kv_hdr)) + nbuckets * sizeof(kvoff);
    if (max_value > UINT32_MAX - 1024 ||
        bytes < heap + kv_entry_bytes(SHMKV_MAX_KEY, max_value) + SHMKV_ALIGN) {
        snprintf(err, errlen, "shared store of %zu bytes has no room for one %zu-byte value",
                 bytes, max_value);
        goto fail;
    }
    base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %zu bytes of shared memory: %s", bytes, strerror(errno));
        goto fail;
    }
    if (!(kv = malloc(sizeof *kv))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    kv->base = base;
    kv->bytes = bytes;
    kv_hdr *h = base;
    if (kv_mutex_init(&h->mu) < 0) {
        snprintf(err, errlen, "cannot create a process-shared mutex");
        goto fail;
    }
    h->max_value = max_value;
    h->nbuckets = nbuckets;
    h->buckets = kv_round(sizeof(kv_hdr));
    h->heap = heap;
    h->heap_end = bytes & ~(size_t)(SHMKV_ALIGN - 1);
    kv_reset(kv, 1);
    return kv;
fail:
    free(kv);
    if (base != MAP_FAILED)
        munmap(base, bytes);
    return NULL;
}

void shmkv_free(shmkv *kv)
{
    if (!kv)
        return;
    munmap(kv->base, kv->bytes);
    free(kv);
}

void *shmkv_get(shmkv *kv, const void *key, size_t klen, double idle_s, size_t *len)
{
    if (klen < 1 || klen > SHMKV_MAX_KEY)
        return NULL;
    uint32_t hash = kv_hash(key, klen);
    double now = kv_now();
    char *copy = NULL;
    if (kv_lock(kv) < 0)
        return NULL;
    kv_expire(kv, idle_s, now);
    kvoff off = kv_find(kv, key, klen, hash);
    kv_entry *e = off ? kv_entry_at(kv, off) : NULL;
    if (e && now - e->last > idle_s) {
        kv_remove(kv, off);     /* restored out of order: not at the cold end */
    } else if (e && (copy = malloc(e->vlen ? e->vlen : 1)) != NULL) {
        memcpy(copy, (char *)(e + 1) + e->klen, e->vlen);
        *len = e->vlen;
        e->last = now;
        kv_lru_unlink(kv, e);
        kv_lru_push_newest(kv, off);
    }
    kv_unlock(kv);
    return copy;
}

int shmkv_put(shmkv *kv, const void *key, size_t klen, const void *val, size_t vlen,
              double idle_s, size_t max_entries, const char **why)
{
    if (kv_check(kv, klen, vlen, why) < 0)
        return -1;
    uint32_t hash = kv_hash(key, klen);
    double now = kv_now();
    int rc = -1;
    if (kv_lock(kv) < 0) {
        *why = "store unavailable";
        return -1;
    }
    kv_expire(kv, idle_s, now);
    kvoff off = kv_find(kv, key, klen, hash);
    if (off)
        kv_remove(kv, off);
    off = kv_alloc_evicting(kv, kv_entry_bytes(klen, vlen), 1);
    if (!off) {
        *why = "store full";
        goto out;
    }
    kv_fill(kv, off, key, klen, hash, val, vlen, now);
    SHMKV_HOOK();
    kv_lru_push_newest(kv, off);
    while (kv_h(kv)->count > max_entries && kv_h(kv)->oldest)
        kv_remove(kv, kv_h(kv)->oldest);
    rc = 0;
out:
    kv_unlock(kv);
    return rc;
}

int shmkv_del(shmkv *kv, const void *key, size_t klen)
{
    if (klen < 1 || klen > SHMKV_MAX_KEY)
        return 0;
    uint32_t hash = kv_hash(key, klen);
    if (kv_lock(kv) < 0)
        return 0;
    kvoff off = kv_find(kv, key, klen, hash);
    if (off)
        kv_remove(kv, off);
    kv_unlock(kv);
    return off != 0;
}

size_t shmkv_count(shmkv *kv)
{
    if (kv_lock(kv) < 0)
        return 0;
    size_t n = kv_h(kv)->count;
    kv_unlock(kv);
    return n;
}

void shmkv_each(shmkv *kv,
                int (*fn)(void *ud, const void *key, size_t klen,
                          const void *val, size_t vlen, double age),
                void *ud)
{
    double now = kv_now();
    if (kv_lock(kv) < 0)
        return;
    for (kvoff off = kv_h(kv)->newest; off; off = kv_entry_at(kv, off)->older) {
        kv_entry *e = kv_entry_at(kv, off);
        const char *k = (const char *)(e + 1);
        if (fn(ud, k, e->klen, k + e->klen, e->vlen, now - e->last))
            break;
    }
    kv_unlock(kv);
}

int shmkv_restore(shmkv *kv, const void *key, size_t klen, const void *val, size_t vlen,
                  double age, const char **why)
{
    if (kv_check(kv, klen, vlen, why) < 0)
        return -1;
    uint32_t hash = kv_hash(key, klen);
    double now = kv_now();
    int rc = -1;
    if (kv_lock(kv) < 0) {
        *why = "store unavailable";
        return -1;
    }
    kvoff off = 0;
    if (kv_find(kv, key, klen, hash))
        *why = "already present";
    else if (!(off = kv_alloc_evicting(kv, kv_entry_bytes(klen, vlen), 0)))
        *why = "store full";
    if (off) {
        kv_fill(kv, off, key, klen, hash, val, vlen, now - age);
        kv_lru_push_oldest(kv, off);
        rc = 0;
    }
    kv_unlock(kv);
    return rc;
}
