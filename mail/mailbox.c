/*
 * mailbox.c — Maildir folder view with persistent UIDs; see mailbox.h.
 *
 * Every change to the UID list happens under an exclusive flock on
 * DIR/atto-uidlist.lock: read the list, list new/ and cur/, give UIDs to
 * files the list does not know (always above every UID ever given, so UIDs
 * only grow), drop entries whose files are gone, write the list to a temp
 * file and rename it over the old one. SMTP delivery never takes the lock:
 * it only adds files to new/, which the next sync picks up. flock locks
 * belong to open file descriptions, so sessions on different worker threads
 * of one process exclude each other as well as separate processes do.
 */
#include "mail/mailbox.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define UIDLIST "atto-uidlist"

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("atto: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static void seterr(char *err, size_t errlen, const char *what, const char *path)
{
    if (err && errlen)
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
}

/* ---- flags ------------------------------------------------------------ */

void mailbox_flags_maildir(unsigned flags, char *out)
{
    char *o = out;
    if (flags & MF_DRAFT)    *o++ = 'D';
    if (flags & MF_FLAGGED)  *o++ = 'F';
    if (flags & MF_ANSWERED) *o++ = 'R';
    if (flags & MF_SEEN)     *o++ = 'S';
    if (flags & MF_DELETED)  *o++ = 'T';
    *o = '\0';
}

unsigned mailbox_flags_from_name(const char *name)
{
    const char *p = strstr(name, ":2,");
    unsigned f = 0;
    if (!p)
        return 0;
    for (p += 3; *p; p++) {
        switch (*p) {
        case 'D': f |= MF_DRAFT; break;
        case 'F': f |= MF_FLAGGED; break;
        case 'R': f |= MF_ANSWERED; break;
        case 'S': f |= MF_SEEN; break;
        case 'T': f |= MF_DELETED; break;
        default: break;
        }
    }
    return f;
}

/* ---- the uid list ----------------------------------------------------- */

typedef struct ul_ent { uint32_t uid; char *base; } ul_ent;
typedef struct uidlist { uint32_t validity, next; ul_ent *e; size_t n, cap; int dirty; } uidlist;

static int cmp_ul_base(const void *a, const void *b)
{
    return strcmp(((const ul_ent *)a)->base, ((const ul_ent *)b)->base);
}

static void ul_add(uidlist *ul, uint32_t uid, const char *base)
{
    if (ul->n == ul->cap) {
        ul->cap = ul->cap ? ul->cap * 2 : 64;
        ul->e = xrealloc(ul->e, ul->cap * sizeof *ul->e);
    }
    ul->e[ul->n].uid = uid;
    ul->e[ul->n++].base = xstrdup(base);
}

static void ul_free(uidlist *ul)
{
    for (size_t i = 0; i < ul->n; i++)
        free(ul->e[i].base);
    free(ul->e);
    memset(ul, 0, sizeof *ul);
}

static void ul_read(const char *dir, uidlist *ul)
{
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s/" UIDLIST, dir);
    memset(ul, 0, sizeof *ul);
    FILE *f = fopen(path, "r");
    unsigned v = 0, nx = 0;
    if (!f || !fgets(line, sizeof line, f) || sscanf(line, "atto-uidlist 1 %u %u", &v, &nx) != 2 || !v) {
        ul->validity = (uint32_t)time(NULL);
        ul->next = 1;
        ul->dirty = 1;
        if (f)
            fclose(f);
        return;
    }
    ul->validity = v;
    ul->next = nx ? nx : 1;
    while (fgets(line, sizeof line, f)) {
        unsigned uid;
        char base[1024];
        if (sscanf(line, "%u %1000s", &uid, base) == 2 && uid) {
            ul_add(ul, uid, base);
            if (uid >= ul->next)
                ul->next = uid + 1;
        }
    }
    fclose(f);
    if (ul->n)
        qsort(ul->e, ul->n, sizeof *ul->e, cmp_ul_base);
}

static int ul_write(const char *dir, uidlist *ul, char *err, size_t errlen)
{
    char path[4096], tmp[4096];
    snprintf(path, sizeof path, "%s/" UIDLIST, dir);
    snprintf(tmp, sizeof tmp, "%s/" UIDLIST ".tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        seterr(err, errlen, "cannot write", tmp);
        return -1;
    }
    fprintf(f, "atto-uidlist 1 %u %u\n", ul->validity, ul->next);
    for (size_t i = 0; i < ul->n; i++)
        fprintf(f, "%u %s\n", ul->e[i].uid, ul->e[i].base);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        seterr(err, errlen, "cannot write", tmp);
        fclose(f);
        unlink(tmp);
        return -1;
    }
    fclose(f);
    if (rename(tmp, path) < 0) {
        seterr(err, errlen, "cannot rename", tmp);
        unlink(tmp);
        return -1;
    }
    ul->dirty = 0;
    return 0;
}

static int lock_dir(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" UIDLIST ".lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        seterr(err, errlen, "cannot open", path);
        return -1;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            seterr(err, errlen, "cannot lock", path);
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void unlock_dir(int fd)
{
    flock(fd, LOCK_UN);
    close(fd);
}

int mailbox_lock(const char *dir, char *err, size_t errlen)
{
    return lock_dir(dir, err, errlen);
}

void mailbox_unlock(int fd)
{
    unlock_dir(fd);
}

/* ---- directory listing ------------------------------------------------ */

typedef struct dent { char *base, *name; int in_new, used; unsigned flags; } dent;
typedef struct dlist { dent *d; size_t n, cap; } dlist;

static int cmp_dent(const void *a, const void *b)
{
    return strcmp(((const dent *)a)->base, ((const dent *)b)->base);
}

static void dl_free(dlist *dl)
{
    for (size_t i = 0; i < dl->n; i++) {
        free(dl->d[i].base);
        free(dl->d[i].name);
    }
    free(dl->d);
    memset(dl, 0, sizeof *dl);
}

static int dl_scan(const char *dir, const char *sub, dlist *dl)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (dl->n == dl->cap) {
            dl->cap = dl->cap ? dl->cap * 2 : 64;
            dl->d = xrealloc(dl->d, dl->cap * sizeof *dl->d);
        }
        dent *de = &dl->d[dl->n++];
        size_t blen = strcspn(e->d_name, ":");
        de->base = xrealloc(NULL, blen + 1);
        memcpy(de->base, e->d_name, blen);
        de->base[blen] = '\0';
        de->name = xrealloc(NULL, strlen(sub) + strlen(e->d_name) + 2);
        sprintf(de->name, "%s/%s", sub, e->d_name);
        de->in_new = strcmp(sub, "new") == 0;
        de->flags = de->in_new ? 0 : mailbox_flags_from_name(e->d_name);
        de->used = 0;
    }
    closedir(d);
    return 0;
}

static int dl_load(const char *dir, dlist *dl, char *err, size_t errlen)
{
    memset(dl, 0, sizeof *dl);
    if (dl_scan(dir, "cur", dl) < 0 || dl_scan(dir, "new", dl) < 0) {
        seterr(err, errlen, "cannot read folder", dir);
        dl_free(dl);
        return -1;
    }
    if (dl->n)                        /* an empty folder has no array at all */
        qsort(dl->d, dl->n, sizeof *dl->d, cmp_dent);
    return 0;
}

static dent *dl_find(dlist *dl, const char *base)
{
    dent key = { (char *)base, NULL, 0, 0, 0 };
    if (!dl->n)
        return NULL;
    return bsearch(&key, dl->d, dl->n, sizeof *dl->d, cmp_dent);
}

/* ---- the view --------------------------------------------------------- */

static void msg_free(mbox_msg *m)
{
    free(m->base);
    free(m->name);
}

static void mb_push(mailbox *mb, const mbox_msg *m)
{
    if (mb->n == mb->cap) {
        mb->cap = mb->cap ? mb->cap * 2 : 64;
        mb->m = xrealloc(mb->m, mb->cap * sizeof *mb->m);
    }
    mb->m[mb->n++] = *m;
}

static void ch_exp(mbox_changes *ch, uint32_t seq)
{
    if (!ch)
        return;
    ch->expunged = xrealloc(ch->expunged, (ch->nexp + 1) * sizeof *ch->expunged);
    ch->expunged[ch->nexp++] = seq;
}

static void ch_chg(mbox_changes *ch, size_t i)
{
    if (!ch)
        return;
    ch->changed = xrealloc(ch->changed, (ch->nchg + 1) * sizeof *ch->changed);
    ch->changed[ch->nchg++] = i;
}

void mailbox_changes_free(mbox_changes *ch)
{
    free(ch->expunged);
    free(ch->changed);
    memset(ch, 0, sizeof *ch);
}

static int cmp_msg_uid(const void *a, const void *b)
{
    uint32_t x = ((const mbox_msg *)a)->uid, y = ((const mbox_msg *)b)->uid;
    return x < y ? -1 : x > y;
}

/* Bring the cached messages in line with the listing: drop the vanished
 * (reporting their sequence numbers), refresh names and flags. */
static void sync_known(mailbox *mb, dlist *dl, mbox_changes *ch)
{
    size_t out = 0;
    for (size_t i = 0; i < mb->n; i++) {
        mbox_msg *m = &mb->m[i];
        dent *d = dl_find(dl, m->base);
        if (!d) {
            ch_exp(ch, (uint32_t)(out + 1));
            msg_free(m);
            continue;
        }
        d->used = 1;
        if (strcmp(m->name, d->name) != 0) {
            free(m->name);
            m->name = xstrdup(d->name);
        }
        m->in_new = d->in_new;
        if (!d->in_new && d->flags != m->flags) {
            m->flags = d->flags;
            mb->m[out] = *m;
            ch_chg(ch, out);
        }
        mb->m[out++] = *m;
    }
    mb->n = out;
}

/* New files: find or give UIDs, move new/ to cur/ unless read-only. */
static void sync_new(mailbox *mb, dlist *dl, uidlist *ul, mbox_changes *ch)
{
    size_t first = mb->n;
    uint32_t maxuid = mb->n ? mb->m[mb->n - 1].uid : 0;
    for (size_t i = 0; i < dl->n; i++) {
        dent *d = &dl->d[i];
        if (d->used)
            continue;
        ul_ent key = { 0, d->base }, *u = ul->n ? bsearch(&key, ul->e, ul->n, sizeof *ul->e, cmp_ul_base) : NULL;
        mbox_msg m = { 0, d->flags, 0, d->in_new, xstrdup(d->base), xstrdup(d->name), -1, 0, -1 };
        if (u && u->uid > maxuid) {
            m.uid = u->uid;
        } else {
            m.uid = ul->next++;
            if (u)
                u->uid = m.uid;
            else
                ul_add(ul, m.uid, d->base);
            ul->dirty = 1;
        }
        char path[4096], dst[4096];
        snprintf(path, sizeof path, "%s/%s", mb->dir, m.name);
        struct stat st;
        if (stat(path, &st) == 0) {
            m.mtime = st.st_mtime;
            m.fsize = (int64_t)st.st_size;
        }
        if (m.in_new && !mb->readonly) {
            snprintf(dst, sizeof dst, "%s/cur/%s:2,", mb->dir, m.base);
            if (rename(path, dst) == 0)
                m.recent = 1;
            free(m.name);
            m.name = xrealloc(NULL, strlen(m.base) + 8);
            sprintf(m.name, "cur/%s:2,", m.base);
            m.in_new = 0;
        } else if (m.in_new) {
            m.recent = 1;
        }
        mb_push(mb, &m);
    }
    if (mb->n > first)
        qsort(mb->m + first, mb->n - first, sizeof *mb->m, cmp_msg_uid);
    if (ch)
        ch->added += mb->n - first;
}

int mailbox_sync(mailbox *mb, mbox_changes *ch, char *err, size_t errlen)
{
    uidlist ul;
    dlist dl;
    int rc = -1, fd = lock_dir(mb->dir, err, errlen);
    if (fd < 0)
        return -1;
    ul_read(mb->dir, &ul);
    if (dl_load(mb->dir, &dl, err, errlen) < 0)
        goto out;
    if (mb->uidvalidity && mb->uidvalidity != ul.validity)
        ul.validity = mb->uidvalidity, ul.dirty = 1;
    sync_known(mb, &dl, ch);
    sync_new(mb, &dl, &ul, ch);
    size_t keep = 0;                       /* drop entries of vanished files */
    for (size_t i = 0; i < ul.n; i++) {
        if (dl_find(&dl, ul.e[i].base))
            ul.e[keep++] = ul.e[i];
        else
            free(ul.e[i].base), ul.dirty = 1;
    }
    ul.n = keep;
    mb->uidvalidity = ul.validity;
    mb->uidnext = ul.next;
    rc = 0;
    if (ul.dirty && ul_write(mb->dir, &ul, err, errlen) < 0)
        rc = mb->readonly ? 0 : -1;
    dl_free(&dl);
out:
    ul_free(&ul);
    unlock_dir(fd);
    return rc;
}

int mailbox_exists(const char *dir)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/cur", dir);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int mailbox_create(const char *dir, char *err, size_t errlen)
{
    static const char *sub[] = { "", "/tmp", "/new", "/cur" };
    char path[4096];
    if (mailbox_exists(dir)) {
        errno = EEXIST;
        seterr(err, errlen, "already exists:", dir);
        return -EEXIST;
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s%s", dir, sub[i]);
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            seterr(err, errlen, "cannot create", path);
            return -1;
        }
    }
    return 0;
}

int mailbox_open(mailbox *mb, const char *dir, int readonly, char *err, size_t errlen)
{
    memset(mb, 0, sizeof *mb);
    if (!mailbox_exists(dir)) {
        errno = ENOENT;
        seterr(err, errlen, "no such folder", dir);
        return -1;
    }
    mb->dir = xstrdup(dir);
    mb->readonly = readonly;
    if (mailbox_sync(mb, NULL, err, errlen) < 0) {
        mailbox_close(mb);
        return -1;
    }
    return 0;
}

void mailbox_close(mailbox *mb)
{
    for (size_t i = 0; i < mb->n; i++)
        msg_free(&mb->m[i]);
    free(mb->m);
    free(mb->dir);
    memset(mb, 0, sizeof *mb);
}

/* Find the current file of message i again (another session may have
 * renamed it when it changed flags). */
static int refresh_name(mailbox *mb, size_t i)
{
    dlist dl;
    if (dl_load(mb->dir, &dl, NULL, 0) < 0)
        return -1;
    dent *d = dl_find(&dl, mb->m[i].base);
    int rc = -1;
    if (d) {
        free(mb->m[i].name);
        mb->m[i].name = xstrdup(d->name);
        mb->m[i].in_new = d->in_new;
        rc = 0;
    }
    dl_free(&dl);
    return rc;
}

int mailbox_path(mailbox *mb, size_t i, char *path, size_t pathlen)
{
    struct stat st;
    snprintf(path, pathlen, "%s/%s", mb->dir, mb->m[i].name);
    if (stat(path, &st) == 0)
        return 0;
    if (refresh_name(mb, i) < 0)
        return -1;
    snprintf(path, pathlen, "%s/%s", mb->dir, mb->m[i].name);
    return 0;
}

int mailbox_set_flags(mailbox *mb, size_t i, unsigned flags)
{
    mbox_msg *m = &mb->m[i];
    char fl[8], from[4096], to[4096];
    flags &= MF_ALL;
    mailbox_flags_maildir(flags, fl);
    for (int attempt = 0; attempt < 2; attempt++) {
        snprintf(from, sizeof from, "%s/%s", mb->dir, m->name);
        snprintf(to, sizeof to, "%s/cur/%s:2,%s", mb->dir, m->base, fl);
        if (strcmp(from, to) == 0 || rename(from, to) == 0) {
            free(m->name);
            m->name = xrealloc(NULL, strlen(m->base) + strlen(fl) + 8);
            sprintf(m->name, "cur/%s:2,%s", m->base, fl);
            m->flags = flags;
            m->in_new = 0;
            return 0;
        }
        if (errno != ENOENT || refresh_name(mb, i) < 0)
            break;
    }
    return -1;
}

/* Bare LFs in p[0, n) (a CR before the first byte does not count). */
static size_t count_bare_lf(const char *p, size_t n)
{
    size_t bare = 0;
    for (const char *q = p, *e = p + n; (q = memchr(q, '\n', (size_t)(e - q))) != NULL; q++)
        bare += q == p || q[-1] != '\r';
    return bare;
}

/* Turn each bare LF of the n bytes at p into CRLF, in place, working from
 * the end; p has room for n + bare bytes. */
static void expand_lf(char *p, size_t n, size_t bare)
{
    size_t r = n, w = n + bare;
    while (bare && r > 0) {
        char c = p[--r];
        p[--w] = c;
        if (c == '\n' && (r == 0 || p[r - 1] != '\r')) {
            p[--w] = '\r';
            bare--;
        }
    }
}

/* The file is read straight into out; line ends are fixed in place only
 * when it has bare LFs (most files delivered over SMTP have none). */
int mailbox_read(mailbox *mb, size_t i, buf *out)
{
    char path[4096];
    if (mailbox_path(mb, i, path, sizeof path) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    buf_reset(out);
    char *p = buf_tail(out, (size_t)st.st_size + 1);
    size_t got = buf_read_full(fd, p, (size_t)st.st_size);
    close(fd);
    buf_commit(out, got);
    size_t bare = count_bare_lf(buf_head(out), got);
    if (bare) {
        buf_reserve(out, bare);
        expand_lf(buf_head(out), got, bare);
        buf_commit(out, bare);
    }
    mb->m[i].size = (int64_t)buf_size(out);
    return 0;
}

int mailbox_expunge(mailbox *mb, int (*want)(mailbox *, size_t, void *), void *ud,
                    mbox_changes *ch, char *err, size_t errlen)
{
    size_t out = 0;
    for (size_t i = 0; i < mb->n; i++) {
        if (want(mb, i, ud)) {
            char path[4096];
            if (mailbox_path(mb, i, path, sizeof path) == 0 && unlink(path) < 0 && errno != ENOENT) {
                seterr(err, errlen, "cannot remove", path);
                mb->m[out++] = mb->m[i];
                continue;
            }
            ch_exp(ch, (uint32_t)(out + 1));
            msg_free(&mb->m[i]);
            continue;
        }
        mb->m[out++] = mb->m[i];
    }
    mb->n = out;
    return 0;
}

/* ---- adding messages -------------------------------------------------- */

static void new_base(char *out, size_t outlen)
{
    static unsigned counter;
    struct timeval tv;
    char host[64] = "atto";
    gettimeofday(&tv, NULL);
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *h = host; *h; h++)
        if (*h == '/' || *h == ':' || *h == '.')
            *h = '_';
    unsigned q = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    snprintf(out, outlen, "%lld.M%06ldP%dQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
             (int)getpid(), q, host);
}

/* tmp/BASE is written: give it a UID and move it to cur/ under the lock. */
static int register_tmp(const char *dir, const char *base, unsigned flags,
                        uint32_t *uidvalidity, uint32_t *uid, char *err, size_t errlen)
{
    char tmp[4096], dst[4096], fl[8];
    uidlist ul;
    int rc = -1, fd = lock_dir(dir, err, errlen);
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", dir, base);
    if (fd < 0) {
        unlink(tmp);
        return -1;
    }
    ul_read(dir, &ul);
    uint32_t u = ul.next++;
    ul_add(&ul, u, base);
    qsort(ul.e, ul.n, sizeof *ul.e, cmp_ul_base);
    mailbox_flags_maildir(flags & MF_ALL, fl);
    snprintf(dst, sizeof dst, "%s/cur/%s:2,%s", dir, base, fl);
    if (ul_write(dir, &ul, err, errlen) < 0)
        goto out;
    if (rename(tmp, dst) < 0) {
        seterr(err, errlen, "cannot move", tmp);
        goto out;
    }
    *uidvalidity = ul.validity;
    *uid = u;
    rc = 0;
out:
    if (rc < 0)
        unlink(tmp);
    ul_free(&ul);
    unlock_dir(fd);
    return rc;
}

int mailbox_append(const char *dir, const char *data, size_t len, unsigned flags, time_t date,
                   uint32_t *uidvalidity, uint32_t *uid, char *err, size_t errlen)
{
    char base[256], tmp[4096];
    if (!mailbox_exists(dir)) {
        errno = ENOENT;
        seterr(err, errlen, "no such folder", dir);
        return -1;
    }
    new_base(base, sizeof base);
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", dir, base);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        seterr(err, errlen, "cannot create", tmp);
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (done < len || fsync(fd) < 0) {
        seterr(err, errlen, "cannot write", tmp);
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (date > 0) {
        struct timeval tv[2] = { { date, 0 }, { date, 0 } };
        utimes(tmp, tv);
    }
    return register_tmp(dir, base, flags, uidvalidity, uid, err, errlen);
}

int mailbox_copy(mailbox *mb, size_t i, const char *dir, uint32_t *uidvalidity, uint32_t *uid,
                 char *err, size_t errlen)
{
    char src[4096], base[256], tmp[4096];
    if (mailbox_path(mb, i, src, sizeof src) < 0) {
        errno = ENOENT;
        seterr(err, errlen, "message gone:", mb->m[i].base);
        return -1;
    }
    new_base(base, sizeof base);
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", dir, base);
    if (link(src, tmp) < 0) {
        buf b = BUF_INIT;
        if (mailbox_read(mb, i, &b) < 0) {
            buf_free(&b);
            seterr(err, errlen, "cannot read", src);
            return -1;
        }
        int rc = mailbox_append(dir, buf_head(&b), buf_size(&b), mb->m[i].flags, mb->m[i].mtime,
                                uidvalidity, uid, err, errlen);
        buf_free(&b);
        return rc;
    }
    return register_tmp(dir, base, mb->m[i].flags, uidvalidity, uid, err, errlen);
}
