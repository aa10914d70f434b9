/*
 * users.c — SITE/users.passwd: checking, listing and setting mail passwords.
 *
 * The file is small (one line per user) and read afresh on every call, so an
 * `atto passwd` takes effect at once without a reload. Hashing is libcrypt's
 * crypt_rn with a heap-allocated struct crypt_data (thread-safe, and too big
 * for a worker's stack). A check against an unknown user hashes against a
 * fixed dummy setting so it costs the same as a real one, and the final
 * comparison never stops at the first differing byte.
 */
#include "mail/users.h"
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define USERS_MAX_FILE (1 << 20)

int users_valid_name(const char *user)
{
    size_t n = user ? strlen(user) : 0;
    if (n == 0 || n > 64 || user[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = user[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-')) return 0;
    }
    return 1;
}

/* The whole file as a NUL-terminated string (caller frees), or NULL. */
static char *users_read(const char *site_dir, int *errp)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/users.passwd", site_dir);
    FILE *f = fopen(path, "re");
    if (!f) { *errp = errno; return NULL; }
    char *s = malloc(USERS_MAX_FILE + 1);
    size_t n = s ? fread(s, 1, USERS_MAX_FILE, f) : 0;
    fclose(f);
    if (!s) { *errp = ENOMEM; return NULL; }
    s[n] = 0;
    *errp = 0;
    return s;
}

/* Find user's line in text: returns a malloc'd copy of its hash or NULL. */
static char *users_find(const char *text, const char *user)
{
    size_t ulen = strlen(user);
    for (const char *p = text; *p; ) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n > ulen && p[0] != '#' && memcmp(p, user, ulen) == 0 && p[ulen] == ':') {
            size_t hl = n - ulen - 1;
            while (hl > 0 && (p[ulen + 1 + hl - 1] == '\r' || p[ulen + 1 + hl - 1] == ' ')) hl--;
            return strndup(p + ulen + 1, hl);
        }
        p += n + (eol ? 1 : 0);
    }
    return NULL;
}

int users_exists(const char *site_dir, const char *user)
{
    int e;
    if (!users_valid_name(user)) return 0;
    char *text = users_read(site_dir, &e);
    if (!text) return 0;
    char *h = users_find(text, user);
    free(text);
    free(h);
    return h != NULL;
}

static int users_ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++) d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return d == 0;
}

int users_check(const char *site_dir, const char *user, const char *password)
{
    int e, ok = 0;
    struct crypt_data *cd = NULL;
    char *hash = NULL, *text = users_valid_name(user) ? users_read(site_dir, &e) : NULL;
    if (text) hash = users_find(text, user);
    char dummy[CRYPT_GENSALT_OUTPUT_SIZE];
    int real = hash && (strncmp(hash, "$y$", 3) == 0 || strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$2y$", 4) == 0);
    /* Unknown user: hash against a fresh yescrypt setting so it costs the same. */
    if (!real && !crypt_gensalt_rn("$y$", 0, NULL, 0, dummy, sizeof dummy)) goto out;
    const char *setting = real ? hash : dummy;
    cd = calloc(1, sizeof *cd);
    if (!cd) goto out;
    const char *out = crypt_rn(password ? password : "", setting, cd, sizeof *cd);
    if (out && out[0] != '*' && real) ok = users_ct_equal(out, hash);
out:
    free(cd);
    free(hash);
    free(text);
    return ok;
}

/* The new file's text: text with user's line replaced or appended. */
static char *users_rewrite(const char *text, const char *user, const char *hash)
{
    size_t ulen = strlen(user), tl = text ? strlen(text) : 0, o = 0, cap = tl + ulen + strlen(hash) + 4;
    char *out = malloc(cap);
    int done = 0;
    if (!out) return NULL;
    for (const char *p = text ? text : ""; *p; ) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (!done && n > ulen && p[0] != '#' && memcmp(p, user, ulen) == 0 && p[ulen] == ':') {
            o += (size_t)sprintf(out + o, "%s:%s\n", user, hash);
            done = 1;
        } else if (n > 0) {
            memcpy(out + o, p, n); o += n; out[o++] = '\n';
        }
        p += n + (eol ? 1 : 0);
    }
    if (!done) o += (size_t)sprintf(out + o, "%s:%s\n", user, hash);
    out[o] = 0;
    return out;
}

static int users_write_file(const char *site_dir, const char *text, char *err, size_t errlen)
{
    char path[4096], tmp[4200];
    int rc = 0, fd;
    snprintf(path, sizeof path, "%s/users.passwd", site_dir);
    snprintf(tmp, sizeof tmp, "%s/.users.passwd.%ld.tmp", site_dir, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { rc = -errno; snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno)); return rc; }
    fchmod(fd, 0600);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { rc = -errno; snprintf(err, errlen, "write %s: %s", tmp, strerror(errno)); goto fail; }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) { rc = -errno; snprintf(err, errlen, "fsync %s: %s", tmp, strerror(errno)); goto fail; }
    close(fd); fd = -1;
    if (rename(tmp, path) != 0) { rc = -errno; snprintf(err, errlen, "rename to %s: %s", path, strerror(errno)); goto fail; }
    int dfd = open(site_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    return 0;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    return rc;
}

int users_set(const char *site_dir, const char *user, const char *password, char *err, size_t errlen)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = NULL;
    char *text = NULL, *out = NULL;
    int rc = -EINVAL, e;
    if (!users_valid_name(user)) { snprintf(err, errlen, "bad user name \"%s\": use 1-64 of A-Z a-z 0-9 . _ -", user); goto fail; }
    if (!password || !*password || strchr(password, '\n')) { snprintf(err, errlen, "empty or multi-line password"); goto fail; }
    if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt)) { rc = -errno; snprintf(err, errlen, "crypt_gensalt: %s", strerror(errno)); goto fail; }
    cd = calloc(1, sizeof *cd);
    const char *hash = cd ? crypt_rn(password, salt, cd, sizeof *cd) : NULL;
    if (!hash || hash[0] == '*') { rc = -EIO; snprintf(err, errlen, "crypt failed"); goto fail; }
    text = users_read(site_dir, &e);
    if (!text && e != ENOENT) { rc = -e; snprintf(err, errlen, "cannot read %s/users.passwd: %s", site_dir, strerror(e)); goto fail; }
    out = users_rewrite(text, user, hash);
    if (!out) { rc = -ENOMEM; snprintf(err, errlen, "out of memory"); goto fail; }
    rc = users_write_file(site_dir, out, err, errlen);
fail:
    free(cd); free(text); free(out);
    return rc;
}

/* One line from fd 0 without the newline; echo off when on a tty. */
static int users_read_line(const char *prompt, int tty, char *out, size_t outlen)
{
    struct termios old, raw;
    if (tty) {
        fputs(prompt, stderr); fflush(stderr);
        tcgetattr(0, &old); raw = old; raw.c_lflag &= ~(tcflag_t)ECHO; tcsetattr(0, TCSAFLUSH, &raw);
    }
    char *r = fgets(out, (int)outlen, stdin);
    if (tty) { tcsetattr(0, TCSAFLUSH, &old); fputs("\n", stderr); }
    if (!r) return -1;
    out[strcspn(out, "\r\n")] = 0;
    return 0;
}

int users_passwd_main(int argc, char **argv)
{
    char p1[512], p2[512], err[300];
    struct stat st;
    if (argc < 2) { fprintf(stderr, "usage: atto passwd SITE_DIR USER\n"); return 2; }
    if (stat(argv[0], &st) != 0 || !S_ISDIR(st.st_mode)) { fprintf(stderr, "atto: %s: not a site folder\n", argv[0]); return 1; }
    if (!users_valid_name(argv[1])) { fprintf(stderr, "atto: bad user name \"%s\": use 1-64 of A-Z a-z 0-9 . _ -\n", argv[1]); return 1; }
    int tty = isatty(0);
    if (users_read_line("Password: ", tty, p1, sizeof p1) < 0) { fprintf(stderr, "atto: no password given on stdin\n"); return 1; }
    if (tty) {
        if (users_read_line("Again: ", tty, p2, sizeof p2) < 0 || strcmp(p1, p2) != 0) {
            fprintf(stderr, "atto: the passwords differ, nothing changed\n"); return 1;
        }
    }
    if (!p1[0]) { fprintf(stderr, "atto: empty password, nothing changed\n"); return 1; }
    if (users_set(argv[0], argv[1], p1, err, sizeof err) < 0) { fprintf(stderr, "atto: %s\n", err); return 1; }
    memset(p1, 0, sizeof p1); memset(p2, 0, sizeof p2);
    fprintf(stderr, "atto: password set for %s in %s/users.passwd\n", argv[1], argv[0]);
    return 0;
}
