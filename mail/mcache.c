/*
 * mcache.c — the metadata caches of one worker thread (IMAP's FETCH and
 * SEARCH, POP3's sizes) and the file each folder keeps them in (see
 * mcache.h for what an entry holds).
 *
 * Each thread keeps an LRU list of folder caches keyed by path, bounded in
 * folders and bytes (one folder alone may fill the byte bound; entries
 * built beyond it serve the command that built them and are not kept). Opening a cache stats DIR/atto-cache: when the file is
 * not the one this thread last read or wrote (another worker, another
 * process), it is read and its entries the table lacks are merged in; a
 * file that does not decode is ignored and will be replaced by the next
 * save. Saving happens under the folder's flock: merge what others wrote
 * meanwhile, drop entries of messages that are gone, write atto-cache.tmp,
 * rename it over the file. No fsync: a file lost or torn by a crash fails
 * its checksum and costs one rebuild, nothing else.
 */
#include "mail/mcache.h"
#include "mail/mailbox.h"
#include "mail/mime.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MCACHE_MAX_DIRS   16
#define MCACHE_MAX_BYTES  (64u << 20)
#define MCACHE_SAVE_SECS  2

typedef struct mc_stamp { dev_t dev; ino_t ino; off_t size; int64_t mtime_ns; } mc_stamp;

struct mcache {
    char       *dir;
    uint32_t    uidvalidity;
    mcache_tab  tab;
    mc_stamp    disk;          /* the file as last read or written here */
    mcache_ent *spare;         /* the last entry built beyond the byte bound */
    size_t      added;         /* entries added since the last save */
    time_t      saved;
    mcache     *prev, *next;   /* this thread's LRU, most recent first */
};

static _Thread_local mcache *mc_head;
static pthread_key_t mc_key;
static pthread_once_t mc_once = PTHREAD_ONCE_INIT;

static void mc_free(mcache *mc)
{
    mcache_tab_free(&mc->tab);
    free(mc->spare);
    free(mc->dir);
    free(mc);
}

static void mc_unlink(mcache *mc)
{
    if (mc->prev) mc->prev->next = mc->next; else mc_head = mc->next;
    if (mc->next) mc->next->prev = mc->prev;
    mc->prev = mc->next = NULL;
}

static void mc_push(mcache *mc)
{
    mc->next = mc_head;
    mc->prev = NULL;
    if (mc_head)
        mc_head->prev = mc;
    mc_head = mc;
}

static void mc_free_all(void *p)
{
    mcache *mc = p;
    while (mc) {
        mcache *next = mc->next;
        mc_free(mc);
        mc = next;
    }
}

static void mc_key_init(void) { pthread_key_create(&mc_key, mc_free_all); }

void mcache_thread_done(void)
{
    pthread_setspecific(mc_key, NULL);
    mc_free_all(mc_head);
    mc_head = NULL;
}

/* Beyond the bounds, the least recent caches go (never the head). */
static void mc_evict(void)
{
    size_t count = 0, bytes = 0;
    for (mcache *mc = mc_head; mc; mc = mc->next) {
        count++;
        bytes += mc->tab.bytes;
        if (mc != mc_head && (count > MCACHE_MAX_DIRS || bytes > MCACHE_MAX_BYTES)) {
            mcache *rest = mc;
            rest->prev->next = NULL;
            mc_free_all(rest);
            return;
        }
    }
}

/* ---- the file --------------------------------------------------------- */

static int mc_stat(const char *dir, mc_stamp *st)
{
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/" MCACHE_FILE, dir);
    memset(st, 0, sizeof *st);
    if (stat(path, &sb) < 0)
        return -1;
    *st = (mc_stamp){ sb.st_dev, sb.st_ino, sb.st_size,
                      (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec };
    return 0;
}

static int mc_same(const mc_stamp *a, const mc_stamp *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

static int mc_read_file(const char *path, buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || st.st_size > (off_t)1 << 34) {
        close(fd);
        return -1;
    }
    char *p = buf_tail(out, (size_t)st.st_size + 1);
    size_t got = buf_read_full(fd, p, (size_t)st.st_size);
    close(fd);
    buf_commit(out, got);
    return 0;
}

/* Merge the file into the table if it changed since we last saw it. */
static void mc_refresh(mcache *mc)
{
    char path[4200];
    mc_stamp now;
    if (mc_stat(mc->dir, &now) < 0 || mc_same(&now, &mc->disk))
        return;
    snprintf(path, sizeof path, "%s/" MCACHE_FILE, mc->dir);
    buf data = BUF_INIT;
    mcache_tab got = {0};
    const char *why;
    if (mc_read_file(path, &data) == 0 &&
        mcache_decode(buf_head(&data), buf_size(&data), mc->uidvalidity, &got, &why) == 0)
        mcache_tab_merge(&mc->tab, &got);
    else
        mc->added += mc->tab.n ? 1 : 0;        /* damaged: the next save replaces it */
    mc->disk = now;
    buf_free(&data);
}

mcache *mcache_open(const char *dir, uint32_t uidvalidity)
{
    mcache *mc;
    pthread_once(&mc_once, mc_key_init);
    for (mc = mc_head; mc; mc = mc->next)
        if (strcmp(mc->dir, dir) == 0)
            break;
    if (mc) {
        mc_unlink(mc);
    } else {
        mc = calloc(1, sizeof *mc);
        if (!mc || !(mc->dir = strdup(dir))) {
            free(mc);
            return NULL;
        }
        mc->uidvalidity = uidvalidity;
        mc->saved = time(NULL);
    }
    mc_push(mc);
    pthread_setspecific(mc_key, mc_head);
    if (mc->uidvalidity != uidvalidity) {      /* the folder was recreated */
        mcache_tab_free(&mc->tab);
        memset(&mc->disk, 0, sizeof mc->disk);
        mc->uidvalidity = uidvalidity;
        mc->added = 0;
    }
    mc_refresh(mc);
    mc_evict();
    return mc;
}

const mcache_ent *mcache_find(mcache *mc, const mbox_msg *m)
{
    const mcache_ent *e = mc ? mcache_tab_find(&mc->tab, m->base) : NULL;
    if (!e || m->fsize < 0 || e->fsize != m->fsize || e->mtime != (int64_t)m->mtime)
        return NULL;
    return e;
}

static const char *mc_bounded(buf *b, size_t max)
{
    return buf_size(b) <= max ? buf_head(b) : NULL;
}

const mcache_ent *mcache_add(mcache *mc, const mbox_msg *m, const char *msg, size_t len,
                             const mime_part *root)
{
    buf env = BUF_INIT, body = BUF_INIT, bs = BUF_INIT;
    if (!mc || !root)
        return NULL;
    mime_envelope(&env, msg, root->hdr_len);
    mime_bodystructure(&body, msg, root, 0);
    mime_bodystructure(&bs, msg, root, 1);
    mcache_ent *e = mcache_ent_new(m->base, strlen(m->base), m->uid, m->fsize, (int64_t)m->mtime,
                                   (int64_t)len, root->hdr_len <= MCACHE_MAX_HDR ? msg : NULL,
                                   root->hdr_len, mc_bounded(&env, MCACHE_MAX_FIELD), buf_size(&env),
                                   mc_bounded(&body, MCACHE_MAX_FIELD), buf_size(&body),
                                   mc_bounded(&bs, MCACHE_MAX_FIELD), buf_size(&bs));
    buf_free(&env);
    buf_free(&body);
    buf_free(&bs);
    e->no_eol = len && msg[len - 1] != '\n';
    if (mc->tab.bytes + e->cost > MCACHE_MAX_BYTES) {   /* a huge folder: not kept */
        free(mc->spare);
        return mc->spare = e;
    }
    mcache_tab_put(&mc->tab, e);
    mc->added++;
    return e;
}

/* ---- saving ----------------------------------------------------------- */

typedef struct mc_live { const mailbox *mb; uint32_t maxuid; } mc_live;

/* Keep entries of messages in the view, and of messages newer than it
 * (another session may know them already). */
static int mc_keep(const mcache_ent *e, void *ud)
{
    const mc_live *lv = ud;
    if (e->uid > lv->maxuid)
        return 1;
    size_t lo = 0, hi = lv->mb->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t u = lv->mb->m[mid].uid;
        if (u == e->uid)
            return strcmp(lv->mb->m[mid].base, e->base) == 0;
        if (u < e->uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int mc_write(mcache *mc, char *err, size_t errlen)
{
    char path[4200], tmp[4200];
    buf data = BUF_INIT;
    int rc = -1, fd;
    snprintf(path, sizeof path, "%s/" MCACHE_FILE, mc->dir);
    snprintf(tmp, sizeof tmp, "%s/" MCACHE_FILE ".tmp", mc->dir);
    mcache_encode(&mc->tab, mc->uidvalidity, &data);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        goto fail;
    for (size_t done = 0; done < buf_size(&data);) {
        ssize_t w = write(fd, buf_head(&data) + done, buf_size(&data) - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            goto fail;
        }
        done += (size_t)w;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0)
        goto fail;
    mc_stat(mc->dir, &mc->disk);
    rc = 0;
    goto out;
fail:
    snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    unlink(tmp);
out:
    buf_free(&data);
    return rc;
}

int mcache_save(mcache *mc, const mailbox *mb, int force, char *err, size_t errlen)
{
    if (!mc || !mc->added)
        return 0;
    time_t now = time(NULL);
    if (!force && mc->added < 256 && mc->added * 8 < mc->tab.n && now - mc->saved < MCACHE_SAVE_SECS)
        return 0;
    int fd = mailbox_lock(mc->dir, err, errlen);
    if (fd < 0)
        return -1;
    mc_refresh(mc);
    mc_live lv = { mb, mb->n ? mb->m[mb->n - 1].uid : 0 };
    if (mb->uidvalidity == mc->uidvalidity)
        mcache_tab_prune(&mc->tab, mc_keep, &lv);
    int rc = mc_write(mc, err, errlen);
    mailbox_unlock(fd);
    mc->added = 0;
    mc->saved = now;
    return rc;
}

int mcache_flush(const char *dir, const mailbox *mb, char *err, size_t errlen)
{
    for (mcache *mc = mc_head; mc; mc = mc->next)
        if (strcmp(mc->dir, dir) == 0)
            return mc->uidvalidity == mb->uidvalidity ? mcache_save(mc, mb, 1, err, errlen) : 0;
    return 0;
}
