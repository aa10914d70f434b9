/*
 * mcache.h — the IMAP metadata cache: for each message of a folder, what
 * FETCH and header SEARCH need without opening the file (RFC822.SIZE, the
 * header block, the ENVELOPE, BODY and BODYSTRUCTURE strings), and what
 * POP3 needs for its sizes.
 *
 * Two halves. mcache_fmt.c is pure: the per-folder table of entries keyed
 * by Maildir base name, and the codec of the cache file. mcache.c holds the
 * caches of one worker thread (an LRU keyed by folder path) and the file
 * DIR/atto-cache they share with other workers and processes: read when it
 * changed on disk, written with tmp + rename under the folder's flock (the
 * one that guards atto-uidlist). The file is never trusted: a checksum
 * covers it and every length is bounds-checked, so a damaged, truncated or
 * foreign file only costs a rebuild.
 *
 * An entry is valid for a message while base name, file size and mtime
 * match (Maildir files never change in place; flags live in the name, which
 * is why the base is the key). Entries are built by the IMAP code from a
 * message it had to read anyway, byte for byte what mime_envelope() and
 * mime_bodystructure() produce, so answers from the cache are identical to
 * answers from the file.
 *
 * File format, version 2 (integers little-endian; version 1 had no
 * no_eol byte, its files are refused and rebuilt):
 *   header  "atto-mc\n" u32 version u32 uidvalidity u32 count u32 0
 *           u64 checksum of everything after the 32-byte header
 *   entry   u16 baselen u8 present(1 hdr 2 env 4 body 8 bs) u8 no_eol(0/1) u32 uid
 *           i64 fsize i64 mtime i64 size u32 hdrlen u32 envlen u32 bodylen
 *           u32 bslen, then base, hdr, env, body, bs
 * Errors: mcache_decode returns -1 with a reason; nothing is added then.
 */
#ifndef ATTO_MCACHE_H
#define ATTO_MCACHE_H
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

#define MCACHE_FILE      "atto-cache"
#define MCACHE_VERSION   2
#define MCACHE_HDRSIZE   32
#define MCACHE_MAX_BASE  255
#define MCACHE_MAX_HDR   65536       /* larger header blocks are not kept */
#define MCACHE_MAX_FIELD 262144      /* nor larger ENVELOPE/BODY/BODYSTRUCTURE */

enum { MC_HDR = 1, MC_ENV = 2, MC_BODY = 4, MC_BS = 8 };

typedef struct mcache_ent {
    const char *base;
    uint32_t    uid;
    int64_t     fsize, mtime;        /* validity: the file as stat() saw it */
    int64_t     size;                /* RFC822.SIZE (CRLF form) */
    int         no_eol;              /* the last line has no line end */
    const char *hdr, *env, *body, *bs;   /* NULL when absent */
    size_t      hdrlen, envlen, bodylen, bslen;
    size_t      cost;                /* bytes held */
} mcache_ent;

typedef struct mcache_tab {
    mcache_ent **e;   size_t n, cap;
    uint32_t    *slot; size_t nslot; /* open addressing: entry index + 1, 0 empty */
    size_t       bytes;
} mcache_tab;

/* One allocation holding the entry and copies of its strings (NULL: absent);
 * no_eol starts 0. */
mcache_ent *mcache_ent_new(const char *base, size_t baselen, uint32_t uid, int64_t fsize,
                           int64_t mtime, int64_t size, const char *hdr, size_t hdrlen,
                           const char *env, size_t envlen, const char *body, size_t bodylen,
                           const char *bs, size_t bslen);
/* The table takes e; an entry with the same base is replaced. */
void mcache_tab_put(mcache_tab *t, mcache_ent *e);
const mcache_ent *mcache_tab_find(const mcache_tab *t, const char *base);
/* Keep only the entries keep() says yes to. */
void mcache_tab_prune(mcache_tab *t, int (*keep)(const mcache_ent *, void *), void *ud);
/* Move src's entries whose base dst lacks into dst; src is emptied. */
void mcache_tab_merge(mcache_tab *dst, mcache_tab *src);
void mcache_tab_free(mcache_tab *t);

/* The file image of t (entries with a negative fsize are left out). */
void mcache_encode(const mcache_tab *t, uint32_t uidvalidity, buf *out);
/* Parse a file image into t (empty on entry). -1 with *why if damaged,
 * truncated, of another version or of another UIDVALIDITY. */
int  mcache_decode(const char *p, size_t n, uint32_t uidvalidity, mcache_tab *t, const char **why);

/* The message's size as POP3 counts it (RFC 1939: the octets RETR sends
 * before dot-stuffing): size, plus the CRLF a last line without one gets. */
int64_t mcache_pop3_size(const mcache_ent *e);
/* The same from the CRLF text itself (as mailbox_read gives it). */
int64_t mcache_pop3_size_of(const char *msg, size_t len);

/* ---- mcache.c: the per-worker caches and the file --------------------- */

struct mbox_msg;
struct mailbox;
struct mime_part;
typedef struct mcache mcache;

/* The cache of folder DIR for this thread, brought up to date with the
 * file; valid until the next mcache_open on this thread. NULL: no memory. */
mcache *mcache_open(const char *dir, uint32_t uidvalidity);
/* The entry of message m if it is still valid. */
const mcache_ent *mcache_find(mcache *mc, const struct mbox_msg *m);
/* Build m's entry from its CRLF text and MIME tree (as mailbox_read and
 * mime_parse give them) and keep it (past the byte bound it is valid only
 * until the next mcache_add). */
const mcache_ent *mcache_add(mcache *mc, const struct mbox_msg *m, const char *msg, size_t len,
                             const struct mime_part *root);
/* Write the file if entries were added since it was last written: at once
 * when force, else when enough were added or a while has passed. Entries of
 * messages gone from mb are dropped first. 0 ok (or nothing to do), -1 err. */
int  mcache_save(mcache *mc, const struct mailbox *mb, int force, char *err, size_t errlen);
/* mcache_save(force) of this thread's cache of DIR, if it has one (a
 * session leaving the folder); never reads the file. */
int  mcache_flush(const char *dir, const struct mailbox *mb, char *err, size_t errlen);
/* Drop this thread's caches (also done at thread exit). */
void mcache_thread_done(void);
#endif
