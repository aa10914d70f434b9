/*
 * imap_folders.c — IMAP commands on whole mailboxes: SELECT, EXAMINE,
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS, APPEND;
 * plus the helpers the other IMAP files share (syncing the selected view,
 * flag lists, sequence sets, the message cache).
 *
 * Names: INBOX (any case) is the user's Maildir itself; every other name is
 * a Maildir++ folder DIR/.NAME, with "." as the hierarchy delimiter. Names
 * are taken as sent (modified UTF-7 passes through untouched); names that
 * would leave the user's folder ("/", leading "." or "..") are refused.
 */
#include "mail/imap_internal.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- shared helpers --------------------------------------------------- */

void imap_put_flags(buf *b, const mbox_msg *m)
{
    static const struct { unsigned f; const char *name; } names[] = {
        { MF_ANSWERED, "\\Answered" }, { MF_FLAGGED, "\\Flagged" }, { MF_DELETED, "\\Deleted" },
        { MF_SEEN, "\\Seen" }, { MF_DRAFT, "\\Draft" },
    };
    int first = 1;
    buf_puts(b, "(");
    for (size_t i = 0; i < 5; i++) {
        if (m->flags & names[i].f) {
            buf_printf(b, "%s%s", first ? "" : " ", names[i].name);
            first = 0;
        }
    }
    if (m->recent)
        buf_printf(b, "%s\\Recent", first ? "" : " ");
    buf_puts(b, ")");
}

static int flag_bit(const imap_arg *a, unsigned *f)
{
    static const struct { const char *name; unsigned f; } names[] = {
        { "\\Answered", MF_ANSWERED }, { "\\Flagged", MF_FLAGGED }, { "\\Deleted", MF_DELETED },
        { "\\Seen", MF_SEEN }, { "\\Draft", MF_DRAFT },
    };
    if (a->type != IMAP_ATOM)
        return -1;
    for (size_t i = 0; i < 5; i++) {
        if (imap_atom_eq(a->s, a->len, names[i].name)) {
            *f |= names[i].f;
            return 0;
        }
    }
    if (a->len && a->s[0] == '\\')
        return -1;                   /* \Recent or an unknown system flag */
    return 0;                        /* keywords are accepted and not kept */
}

int imap_parse_flags(const imap_arg *a, size_t n, unsigned *flags)
{
    *flags = 0;
    if (n == 1 && a[0].type == IMAP_LIST) {
        n = a[0].n;
        a = a[0].list;
    }
    for (size_t i = 0; i < n; i++)
        if (flag_bit(&a[i], flags) < 0)
            return -1;
    return 0;
}

void imap_cache_drop(imap_sess *s)
{
    mime_free(s->mime);
    s->mime = NULL;
    s->cache_uid = 0;
    buf_reset(&s->msg);
}

int imap_load(imap_sess *s, size_t i)
{
    if (s->cache_uid && s->cache_uid == s->mb.m[i].uid)
        return 0;
    imap_cache_drop(s);
    if (mailbox_read(&s->mb, i, &s->msg) < 0)
        return -1;
    s->cache_uid = s->mb.m[i].uid;
    return 0;
}

mime_part *imap_mime(imap_sess *s)
{
    if (!s->mime)
        s->mime = mime_parse(buf_head(&s->msg), buf_size(&s->msg));
    return s->mime;
}

void imap_meta_begin(imap_sess *s)
{
    s->mc = mcache_open(s->mb.dir, s->mb.uidvalidity);
}

void imap_meta_end(imap_sess *s)
{
    char err[256];
    mcache_save(s->mc, &s->mb, 0, err, sizeof err);
    s->mc = NULL;
}

const mcache_ent *imap_meta(imap_sess *s, size_t i)
{
    const mcache_ent *e = mcache_find(s->mc, &s->mb.m[i]);
    if (e || !s->mc || imap_load(s, i) < 0)
        return e;
    return mcache_add(s->mc, &s->mb.m[i], buf_head(&s->msg), buf_size(&s->msg), imap_mime(s));
}

void imap_report(imap_sess *s, mbox_changes *ch)
{
    for (size_t i = 0; i < ch->nexp; i++)
        imap_untagged(s, "%u EXPUNGE", ch->expunged[i]);
    for (size_t i = 0; i < ch->nchg; i++) {
        size_t k = ch->changed[i];
        buf_printf(&s->out, "* %zu FETCH (FLAGS ", k + 1);
        imap_put_flags(&s->out, &s->mb.m[k]);
        buf_printf(&s->out, " UID %u)\r\n", s->mb.m[k].uid);
    }
    imap_send_buf(s, &s->out);
    if (ch->added || ch->nexp) {
        size_t recent = 0;
        for (size_t i = 0; i < s->mb.n; i++)
            recent += s->mb.m[i].recent != 0;
        imap_untagged(s, "%zu EXISTS", s->mb.n);
        if (ch->added)
            imap_untagged(s, "%zu RECENT", recent);
    }
    if (ch->nexp)
        imap_cache_drop(s);
}

int imap_sync(imap_sess *s, int allow_expunge)
{
    mbox_changes ch = {0};
    char err[256];
    int rc = mailbox_sync(&s->mb, &ch, err, sizeof err);
    if (rc == 0)
        imap_report(s, &ch);
    mailbox_changes_free(&ch);
    return rc;
}

int imap_get_set(imap_sess *s, imap_cmd *cmd, const imap_arg *a, int uid, imap_seqset *set)
{
    if (a->type != IMAP_ATOM || imap_seqset_parse(cmd, a->s, a->len, set) < 0) {
        imap_tagged(s, "BAD", "Invalid sequence set");
        return -1;
    }
    if (uid)
        return 0;
    for (size_t i = 0; i < set->n; i++) {
        if (set->r[i].lo > s->mb.n || set->r[i].hi > s->mb.n || (!s->mb.n && !set->r[i].lo)) {
            imap_tagged(s, "BAD", "Invalid message sequence number");
            return -1;
        }
    }
    return 0;
}

int imap_in_set(imap_sess *s, size_t i, const imap_seqset *set, int uid)
{
    if (uid)
        return imap_seqset_has(set, s->mb.m[i].uid, s->mb.n ? s->mb.m[s->mb.n - 1].uid : 0);
    return imap_seqset_has(set, (uint32_t)(i + 1), (uint32_t)s->mb.n);
}

int imap_folder_dir(imap_sess *s, const char *name, char *dir, size_t dirlen)
{
    if (strcasecmp(name, "INBOX") == 0) {
        snprintf(dir, dirlen, "%s", s->home);
        return 0;
    }
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '.' || name[n - 1] == '.' || strstr(name, "..") ||
        strchr(name, '/'))
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return -1;
    snprintf(dir, dirlen, "%s/.%s", s->home, name);
    return 0;
}

/* A mailbox-name argument into a C string and its folder directory. */
static int name_arg(imap_sess *s, const imap_arg *a, char *name, size_t nlen, char *dir, size_t dlen)
{
    if (imap_arg_cstr(a, name, nlen) < 0 || imap_folder_dir(s, name, dir, dlen) < 0) {
        imap_tagged(s, "NO", "Invalid mailbox name");
        return -1;
    }
    if (strcasecmp(name, "INBOX") == 0)
        memcpy(name, "INBOX", 6);
    return 0;
}

void imap_deselect(imap_sess *s)
{
    imap_cache_drop(s);
    buf_free(&s->msg);
    if (s->mb.dir) {
        char err[256];
        mcache_flush(s->mb.dir, &s->mb, err, sizeof err);
        mailbox_close(&s->mb);
    }
    if (s->state == IS_SELECTED)
        s->state = IS_AUTH;
    s->mbname[0] = '\0';
}

/* ---- SELECT / EXAMINE ------------------------------------------------- */

void imap_cmd_select(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    char name[512], dir[4400], err[256];
    int ro = imap_atom_eq(cmd->name, cmd->name_len, "EXAMINE");
    if (n != 1) {
        imap_tagged(s, "BAD", "%s needs a mailbox name", ro ? "EXAMINE" : "SELECT");
        return;
    }
    imap_deselect(s);
    if (name_arg(s, &a[0], name, sizeof name, dir, sizeof dir) < 0)
        return;
    if (mailbox_open(&s->mb, dir, ro, err, sizeof err) < 0) {
        imap_tagged(s, "NO", "[NONEXISTENT] Mailbox does not exist");
        return;
    }
    s->state = IS_SELECTED;
    snprintf(s->mbname, sizeof s->mbname, "%s", name);
    size_t recent = 0, unseen = 0;
    for (size_t i = 0; i < s->mb.n; i++) {
        recent += s->mb.m[i].recent != 0;
        if (!unseen && !(s->mb.m[i].flags & MF_SEEN))
            unseen = i + 1;
    }
    imap_untagged(s, "FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
    imap_untagged(s, "OK [PERMANENTFLAGS (%s)] Flags permitted",
                  ro ? "" : "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    imap_untagged(s, "%zu EXISTS", s->mb.n);
    imap_untagged(s, "%zu RECENT", recent);
    if (unseen)
        imap_untagged(s, "OK [UNSEEN %zu] First unseen", unseen);
    imap_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", s->mb.uidvalidity);
    imap_untagged(s, "OK [UIDNEXT %u] Predicted next UID", s->mb.uidnext);
    imap_tagged(s, "OK", "[%s] %s completed", ro ? "READ-ONLY" : "READ-WRITE", ro ? "EXAMINE" : "SELECT");
}

/* ---- CREATE / DELETE / RENAME ----------------------------------------- */

void imap_cmd_create(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    char name[512], dir[4400], err[256];
    if (n != 1) {
        imap_tagged(s, "BAD", "CREATE needs a mailbox name");
        return;
    }
    if (imap_arg_cstr(&a[0], name, sizeof name) < 0) {
        imap_tagged(s, "NO", "Invalid mailbox name");
        return;
    }
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')       /* "foo." declares a parent: fine */
        name[len - 1] = '\0';
    if (imap_folder_dir(s, name, dir, sizeof dir) < 0) {
        imap_tagged(s, "NO", "Invalid mailbox name");
        return;
    }
    if (strcasecmp(name, "INBOX") == 0 || mailbox_exists(dir)) {
        imap_tagged(s, "NO", "[ALREADYEXISTS] Mailbox already exists");
        return;
    }
    if (mailbox_create(dir, err, sizeof err) < 0) {
        imap_tagged(s, "NO", "[SERVERBUG] Cannot create mailbox");
        return;
    }
    imap_tagged(s, "OK", "CREATE completed");
}

static int remove_tree(const char *dir)
{
    static const char *subs[] = { "tmp", "new", "cur" };
    char path[4600];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char f[4900];
            snprintf(f, sizeof f, "%s/%s", path, e->d_name);
            unlink(f);
        }
        if (d)
            closedir(d);
        rmdir(path);
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char f[4900];
        if (e->d_type == DT_DIR)
            continue;
        snprintf(f, sizeof f, "%s/%s", dir, e->d_name);
        unlink(f);
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

void imap_cmd_delete(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    char name[512], dir[4400];
    if (n != 1) {
        imap_tagged(s, "BAD", "DELETE needs a mailbox name");
        return;
    }
    if (name_arg(s, &a[0], name, sizeof name, dir, sizeof dir) < 0)
        return;
    if (strcmp(name, "INBOX") == 0) {
        imap_tagged(s, "NO", "Cannot delete INBOX");
        return;
    }
    if (!mailbox_exists(dir)) {
        imap_tagged(s, "NO", "[NONEXISTENT] Mailbox does not exist");
        return;
    }
    if (s->state == IS_SELECTED && strcmp(s->mbname, name) == 0)
        imap_deselect(s);
    if (remove_tree(dir) < 0) {
        imap_tagged(s, "NO", "Cannot delete mailbox: %s", strerror(errno));
        return;
    }
    imap_tagged(s, "OK", "DELETE completed");
}

/* RENAME INBOX moves its messages into a new folder and leaves INBOX empty. */
static int rename_inbox(imap_sess *s, const char *dst)
{
    static const char *subs[] = { "new", "cur" };
    char err[256];
    if (mailbox_create(dst, err, sizeof err) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        char from[4600], to[4600];
        snprintf(from, sizeof from, "%s/%s", s->home, subs[i]);
        DIR *d = opendir(from);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char f[4900], t[4900];
            snprintf(f, sizeof f, "%s/%s", from, e->d_name);
            snprintf(to, sizeof to, "%s/%s", dst, subs[i]);
            snprintf(t, sizeof t, "%s/%s", to, e->d_name);
            rename(f, t);
        }
        if (d)
            closedir(d);
    }
    return 0;
}

void imap_cmd_rename(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    char from[512], to[512], fdir[4400], tdir[4400];
    if (n != 2) {
        imap_tagged(s, "BAD", "RENAME needs two mailbox names");
        return;
    }
    if (name_arg(s, &a[0], from, sizeof from, fdir, sizeof fdir) < 0 ||
        name_arg(s, &a[1], to, sizeof to, tdir, sizeof tdir) < 0)
        return;
    if (!mailbox_exists(fdir)) {
        imap_tagged(s, "NO", "[NONEXISTENT] Mailbox does not exist");
        return;
    }
    if (strcmp(to, "INBOX") == 0 || mailbox_exists(tdir)) {
        imap_tagged(s, "NO", "[ALREADYEXISTS] Target mailbox exists");
        return;
    }
    if (s->state == IS_SELECTED && strcmp(s->mbname, from) == 0)
        imap_deselect(s);
    if (strcmp(from, "INBOX") == 0) {
        if (rename_inbox(s, tdir) < 0)
            imap_tagged(s, "NO", "Cannot rename INBOX");
        else
            imap_tagged(s, "OK", "RENAME completed");
        return;
    }
    if (rename(fdir, tdir) < 0) {
        imap_tagged(s, "NO", "Cannot rename: %s", strerror(errno));
        return;
    }
    /* Children move along: .from.x becomes .to.x */
    DIR *d = opendir(s->home);
    struct dirent *e;
    size_t fl = strlen(from);
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && strncmp(e->d_name + 1, from, fl) == 0 && e->d_name[1 + fl] == '.') {
            char o[4900], nn[4900];
            snprintf(o, sizeof o, "%s/%s", s->home, e->d_name);
            snprintf(nn, sizeof nn, "%s/.%s%s", s->home, to, e->d_name + 1 + fl);
            rename(o, nn);
        }
    }
    if (d)
        closedir(d);
    imap_tagged(s, "OK", "RENAME completed");
}
