/*
 * shmkv.h — a small key/value store in memory shared across fork().
 *
 * atto's workers are processes forked by one master; whatever they share
 * (web sessions, the TLS session cache) lives in one of these stores. The
 * master creates a store before forking; every child sees the same entries.
 * The store is one MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE mapping of a fixed
 * size (pages are only used as entries need them) holding a hash table, a
 * least-recently-used list and an allocator, all by offset, under one
 * process-shared robust mutex. Values are copied in and out under the lock;
 * no pointer into the mapping is ever handed out.
 *
 * Times come from CLOCK_MONOTONIC (the same in every process). Pass
 * idle_s = INFINITY for "never idle-expired".
 *
 * If a process dies while holding the lock, the next one to take it finds
 * the structure possibly half-updated: it clears the whole store (every
 * entry is lost, nothing is corrupt) and prints one warning line on stderr.
 *
 * Errors: the functions that can fail return -1 (or NULL) and, where there
 * is a `why`/`err`, a static reason: "key must be 1 to 64 bytes",
 * "value too large", "store full", "already present" (restore only),
 * "store unavailable" (the lock could not be recovered).
 */
#ifndef ATTO_SHMKV_H
#define ATTO_SHMKV_H
#include <stddef.h>

#define SHMKV_MAX_KEY 64

typedef struct shmkv shmkv;

/* One store of `bytes` in total (header, hash table and entries), visible
 * to every process forked after this call. Keys are 1..SHMKV_MAX_KEY bytes,
 * values 0..max_value bytes; `bytes` must leave room for at least one
 * largest entry. NULL with a reason in err on failure. */
shmkv *shmkv_new(size_t bytes, size_t max_value, char *err, size_t errlen);

/* Unmap this process's view (other processes keep theirs). */
void shmkv_free(shmkv *kv);

/* First drops entries idle longer than idle_s from the cold end. Then, if
 * `key` is present: marks it most recently used and returns a malloc'd copy
 * of its value (the caller frees; never NULL for an empty value) with its
 * length in *len. NULL if unknown, expired, or out of memory. */
void *shmkv_get(shmkv *kv, const void *key, size_t klen, double idle_s, size_t *len);

/* Insert or replace, as the most recently used entry. Drops expired entries
 * first; least recently used ones are dropped while space is short and
 * while there are more than max_entries. 0, or -1 with *why. */
int shmkv_put(shmkv *kv, const void *key, size_t klen, const void *val, size_t vlen,
              double idle_s, size_t max_entries, const char **why);

/* 1 if the key existed (and is now gone), 0 if not. */
int shmkv_del(shmkv *kv, const void *key, size_t klen);

size_t shmkv_count(shmkv *kv);

/* Calls fn for every entry, most recently used first; age is seconds since
 * last use. Stops when fn returns nonzero. fn runs under the store's lock
 * (it must not call back into this store) and key/val point into the
 * mapping only for the duration of the call: copy what you keep. */
void shmkv_each(shmkv *kv,
                int (*fn)(void *ud, const void *key, size_t klen,
                          const void *val, size_t vlen, double age),
                void *ud);

/* Snapshot restore: insert an entry last used `age` seconds ago at the cold
 * end of the LRU (so restoring in most-recent-first order keeps the order).
 * Never evicts: when out of room, -1 with "store full". */
int shmkv_restore(shmkv *kv, const void *key, size_t klen, const void *val, size_t vlen,
                  double age, const char **why);

#endif
