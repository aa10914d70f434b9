/*
 * maildir.c — durable Maildir delivery (see maildir.h for the layout).
 *
 * The order of operations is the whole point: write the message into tmp/,
 * fsync the file, link it into new/ (one atomic step that makes it visible),
 * unlink the tmp/ name, then fsync new/ so the directory entry is on disk.
 * A crash before the link leaves only a tmp/ file (ignored by readers and
 * cleaned up by IMAP after 36 hours); after the fsync of new/ the message is
 * there for good. On any failure the tmp/ file is removed, so a full disk
 * never leaves half a message anywhere.
 */
#include "mail/maildir.h"
#include "mail/users.h"
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

int maildir_inject_errno, maildir_inject_skip;
static atomic_uint maildir_seq;

int maildir_valid_folder(const char *folder)
{
    if (!folder || strcmp(folder, "INBOX") == 0) return 1;
    size_t n = strlen(folder);
    if (n == 0 || n > 200 || folder[0] == '.' || folder[n - 1] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)folder[i];
        if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\') return 0;
        if (ch == '.' && folder[i + 1] == '.') return 0;
    }
    return 1;
}

static int maildir_mkdir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
    return -errno;
}

int maildir_ensure(const char *site_dir, const char *user, const char *folder, char *path, size_t pathlen)
{
    static const char *const subs[] = { "tmp", "new", "cur" };
    char p[4096];
    int rc;
    if (!users_valid_name(user) || !maildir_valid_folder(folder)) return -EINVAL;
    snprintf(p, sizeof p, "%s/mail", site_dir);
    if ((rc = maildir_mkdir(p)) < 0) return rc;
    snprintf(p, sizeof p, "%s/mail/%s", site_dir, user);
    if ((rc = maildir_mkdir(p)) < 0) return rc;
    int sub = folder && strcmp(folder, "INBOX") != 0;
    if (sub) {
        if ((size_t)snprintf(p, sizeof p, "%s/mail/%s/.%s", site_dir, user, folder) >= sizeof p)
            return -ENAMETOOLONG;
        if ((rc = maildir_mkdir(p)) < 0) return rc;
    }
    char q[4200];
    for (int i = 0; i < 3; i++) {
        snprintf(q, sizeof q, "%s/%s", p, subs[i]);
        if ((rc = maildir_mkdir(q)) < 0) return rc;
    }
    if (sub) {
        snprintf(q, sizeof q, "%s/maildirfolder", p);
        int fd = open(q, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
    }
    if ((size_t)snprintf(path, pathlen, "%s", p) >= pathlen) return -ENAMETOOLONG;
    return 0;
}

/* The host part of unique names, with '/' and ':' escaped. */
static void maildir_host(char *out, size_t outlen)
{
    char h[256];
    if (gethostname(h, sizeof h) != 0) strcpy(h, "localhost");
    h[sizeof h - 1] = 0;
    size_t o = 0;
    for (const char *s = h; *s && o + 5 < outlen; s++) {
        if (*s == '/') { memcpy(out + o, "\\057", 4); o += 4; }
        else if (*s == ':') { memcpy(out + o, "\\072", 4); o += 4; }
        else out[o++] = *s;
    }
    out[o] = 0;
}

static int maildir_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) { if (errno == EINTR) continue; return -errno; }
        data += n; len -= (size_t)n;
    }
    return 0;
}

static int maildir_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int maildir_deliver(const char *site_dir, const char *user, const char *folder,
                    const char *data, size_t len, char *err, size_t errlen)
{
    char path[4700];
    return maildir_deliver_path(site_dir, user, folder, data, len, path, sizeof path, err, errlen);
}

int maildir_deliver_path(const char *site_dir, const char *user, const char *folder,
                         const char *data, size_t len, char *path, size_t pathlen, char *err, size_t errlen)
{
    char dir[4096], name[512], host[300], tmp[4700], dst[4700];
    int fd = -1, rc, linked = 0;
    tmp[0] = 0;
    if ((rc = maildir_ensure(site_dir, user, folder, dir, sizeof dir)) < 0) {
        snprintf(err, errlen, "cannot create Maildir for %s: %s", user, strerror(-rc));
        return rc;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    maildir_host(host, sizeof host);
    snprintf(name, sizeof name, "%lld.M%06ldP%ldQ%u.%s,S=%zu", (long long)tv.tv_sec,
             (long)tv.tv_usec, (long)getpid(), atomic_fetch_add(&maildir_seq, 1) + 1, host, len);
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", dir, name);
    snprintf(dst, sizeof dst, "%s/new/%s", dir, name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { rc = -errno; tmp[0] = 0; snprintf(err, errlen, "create %s: %s", name, strerror(-rc)); goto fail; }
    if (maildir_inject_errno > 0 && maildir_inject_skip > 0) maildir_inject_skip--;
    else if (maildir_inject_errno > 0) {
        rc = -maildir_inject_errno; maildir_inject_errno = 0;
        snprintf(err, errlen, "write: %s (injected)", strerror(-rc)); goto fail;
    }
    if ((rc = maildir_write_all(fd, data, len)) < 0) { snprintf(err, errlen, "write: %s", strerror(-rc)); goto fail; }
    if (fsync(fd) != 0) { rc = -errno; snprintf(err, errlen, "fsync: %s", strerror(-rc)); goto fail; }
    if (close(fd) != 0) { fd = -1; rc = -errno; snprintf(err, errlen, "close: %s", strerror(-rc)); goto fail; }
    fd = -1;
    if (link(tmp, dst) == 0) { linked = 1; unlink(tmp); }
    else if (errno == EEXIST) { rc = -EEXIST; snprintf(err, errlen, "name clash in new/"); goto fail; }
    else if (rename(tmp, dst) != 0) { rc = -errno; snprintf(err, errlen, "rename: %s", strerror(-rc)); goto fail; }
    else linked = 1;
    tmp[0] = 0;
    snprintf(tmp, sizeof tmp, "%s/new", dir);
    if ((rc = maildir_fsync_dir(tmp)) < 0) { tmp[0] = 0; snprintf(err, errlen, "fsync new/: %s", strerror(-rc)); goto fail; }
    snprintf(path, pathlen, "%s", dst);
    return 0;
fail:
    if (fd >= 0) close(fd);
    if (tmp[0]) unlink(tmp);
    if (linked) unlink(dst);
    return rc;
}
