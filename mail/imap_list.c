/*
 * imap_list.c — IMAP commands that name mailboxes without selecting them:
 * LIST and LSUB (with "*" / "%" wildcards, \HasChildren, \Noselect for
 * implied parents and SPECIAL-USE attributes by folder name), SUBSCRIBE,
 * UNSUBSCRIBE (a "subscriptions" file in the user's Maildir, one name a
 * line, as Courier and Dovecot keep it), STATUS and APPEND.
 */
#include "mail/imap_internal.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct names { char **v; size_t n, cap; } names;

static void names_add(names *ns, const char *s)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i], s) == 0)
            return;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 16;
        ns->v = realloc(ns->v, ns->cap * sizeof *ns->v);
        if (!ns->v)
            abort();
    }
    ns->v[ns->n++] = strdup(s);
}

static void names_free(names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    memset(ns, 0, sizeof *ns);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every existing folder, INBOX first. */
static void folders(imap_sess *s, names *ns)
{
    names_add(ns, "INBOX");
    DIR *d = opendir(s->home);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.' || !e->d_name[1] || e->d_name[1] == '.')
            continue;
        char dir[4600];
        snprintf(dir, sizeof dir, "%s/%s", s->home, e->d_name);
        if (mailbox_exists(dir))
            names_add(ns, e->d_name + 1);
    }
    if (d)
        closedir(d);
    if (ns->n > 1)
        qsort(ns->v + 1, ns->n - 1, sizeof *ns->v, cmp_str);
}

static void subscriptions(imap_sess *s, names *ns)
{
    char path[4400], line[600];
    snprintf(path, sizeof path, "%s/subscriptions", s->home);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            names_add(ns, line);
    }
    if (f)
        fclose(f);
}

static int match(const char *pat, const char *name)
{
    for (; *pat; pat++, name++) {
        if (*pat == '*' || *pat == '%') {
            for (const char *n = name;; n++) {
                if (match(pat + 1, n))
                    return 1;
                if (!*n || (*pat == '%' && *n == '.'))
                    return 0;
            }
        }
        if (*pat != *name)
            return 0;
    }
    return *name == '\0';
}

static const char *special_use(const char *name)
{
    static const struct { const char *name, *attr; } su[] = {
        { "Junk", "\\Junk" }, { "Spam", "\\Junk" }, { "Sent", "\\Sent" },
        { "Sent Messages", "\\Sent" }, { "Sent Items", "\\Sent" }, { "Drafts", "\\Drafts" },
        { "Trash", "\\Trash" }, { "Deleted Messages", "\\Trash" }, { "Archive", "\\Archive" },
    };
    for (size_t i = 0; i < sizeof su / sizeof su[0]; i++)
        if (strcasecmp(name, su[i].name) == 0)
            return su[i].attr;
    return NULL;
}

static int has_child(const names *all, const char *name)
{
    size_t l = strlen(name);
    for (size_t i = 0; i < all->n; i++)
        if (strncmp(all->v[i], name, l) == 0 && all->v[i][l] == '.')
            return 1;
    return 0;
}

static int in_names(const names *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i], name) == 0)
            return 1;
    return 0;
}

/* Does a name under `parent` in `ns` match the pattern itself? */
static int child_matches(const names *ns, const char *parent, const char *pat)
{
    size_t l = strlen(parent);
    for (size_t i = 0; i < ns->n; i++)
        if (strncmp(ns->v[i], parent, l) == 0 && ns->v[i][l] == '.' && match(pat, ns->v[i]))
            return 1;
    return 0;
}

static void list_line(imap_sess *s, const char *verb, const char *name, int exists, int child)
{
    const char *su = special_use(name);
    buf_printf(&s->out, "* %s (", verb);
    buf_puts(&s->out, exists ? "" : "\\Noselect ");
    buf_puts(&s->out, child ? "\\HasChildren" : "\\HasNoChildren");
    if (su)
        buf_printf(&s->out, " %s", su);
    buf_puts(&s->out, ") \".\" ");
    mime_put_string(&s->out, name, strlen(name));
    buf_puts(&s->out, "\r\n");
}

void imap_cmd_list(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    int lsub = imap_atom_eq(cmd->name, cmd->name_len, "LSUB");
    char ref[512], pat[512], full[1030];
    if (!lsub && n == 3 && a[0].type == IMAP_LIST)   /* LIST (selection) ref pat */
        a++, n--;
    if (n != 2 || imap_arg_cstr(&a[0], ref, sizeof ref) < 0 || imap_arg_cstr(&a[1], pat, sizeof pat) < 0) {
        imap_tagged(s, "BAD", "%s needs a reference and a pattern", lsub ? "LSUB" : "LIST");
        return;
    }
    if (!pat[0] && !lsub) {
        imap_untagged(s, "LIST (\\Noselect) \".\" \"\"");
        imap_tagged(s, "OK", "LIST completed");
        return;
    }
    snprintf(full, sizeof full, "%s%s", ref, pat);
    if (strncasecmp(full, "INBOX", 5) == 0 && (full[5] == '\0' || full[5] == '.'))
        memcpy(full, "INBOX", 5);
    names all = {0}, cand = {0}, subs = {0};
    folders(s, &all);
    if (lsub)
        subscriptions(s, &subs);
    const names *src = lsub ? &subs : &all;
    for (size_t i = 0; i < src->n; i++) {           /* the names and their parents */
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s", src->v[i]);
        names_add(&cand, tmp);
        for (char *dot = strrchr(tmp, '.'); dot; dot = strrchr(tmp, '.')) {
            *dot = '\0';
            names_add(&cand, tmp);
        }
    }
    for (size_t i = 0; i < cand.n; i++) {
        const char *nm = cand.v[i];
        if (!match(full, nm))
            continue;
        int exists = in_names(&all, nm);
        if (lsub && !in_names(&subs, nm)) {
            if (child_matches(&subs, nm, full))
                continue;          /* RFC 3501 6.3.9: only when "%" hides the child */
            exists = 0;            /* a parent shown only because a child is subscribed */
        }
        list_line(s, lsub ? "LSUB" : "LIST", nm, exists, has_child(&all, nm));
    }
    imap_send_buf(s, &s->out);
    names_free(&all);
    names_free(&cand);
    names_free(&subs);
    imap_tagged(s, "OK", "%s completed", lsub ? "LSUB" : "LIST");
}

void imap_cmd_subscribe(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    int unsub = imap_atom_eq(cmd->name, cmd->name_len, "UNSUBSCRIBE");
    char name[512], dir[4400], path[4400], tmp[4420];
    if (n != 1 || imap_arg_cstr(&a[0], name, sizeof name) < 0 ||
        imap_folder_dir(s, name, dir, sizeof dir) < 0 || strchr(name, '\n') || strchr(name, '\r')) {
        imap_tagged(s, "BAD", "Invalid mailbox name");
        return;
    }
    if (strcasecmp(name, "INBOX") == 0)
        memcpy(name, "INBOX", 6);
    if (!unsub && !mailbox_exists(dir)) {
        imap_tagged(s, "NO", "[NONEXISTENT] Mailbox does not exist");
        return;
    }
    names subs = {0};
    subscriptions(s, &subs);
    snprintf(path, sizeof path, "%s/subscriptions", s->home);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        names_free(&subs);
        imap_tagged(s, "NO", "Cannot save subscriptions");
        return;
    }
    for (size_t i = 0; i < subs.n; i++)
        if (strcmp(subs.v[i], name) != 0)
            fprintf(f, "%s\n", subs.v[i]);
    if (!unsub)
        fprintf(f, "%s\n", name);
    int bad = fclose(f) != 0 || rename(tmp, path) != 0;
    names_free(&subs);
    if (bad)
        imap_tagged(s, "NO", "Cannot save subscriptions");
    else
        imap_tagged(s, "OK", "%s completed", unsub ? "UNSUBSCRIBE" : "SUBSCRIBE");
}

void imap_cmd_status(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    char name[512], dir[4400], err[256];
    if (n != 2 || a[1].type != IMAP_LIST || a[1].n == 0) {
        imap_tagged(s, "BAD", "STATUS needs a mailbox and a list of items");
        return;
    }
    if (imap_arg_cstr(&a[0], name, sizeof name) < 0 || imap_folder_dir(s, name, dir, sizeof dir) < 0) {
        imap_tagged(s, "NO", "Invalid mailbox name");
        return;
    }
    if (strcasecmp(name, "INBOX") == 0)
        memcpy(name, "INBOX", 6);
    mailbox view, *mb = &view;
    int own = s->state == IS_SELECTED && strcmp(name, s->mbname) == 0;
    if (own) {
        imap_sync(s, 1);
        mb = &s->mb;
    } else if (mailbox_open(&view, dir, 1, err, sizeof err) < 0) {
        imap_tagged(s, "NO", "[NONEXISTENT] Mailbox does not exist");
        return;
    }
    size_t recent = 0, unseen = 0;
    for (size_t i = 0; i < mb->n; i++) {
        recent += mb->m[i].recent != 0;
        unseen += !(mb->m[i].flags & MF_SEEN);
    }
    buf_puts(&s->out, "* STATUS ");
    mime_put_string(&s->out, name, strlen(name));
    buf_puts(&s->out, " (");
    int bad = 0;
    for (size_t i = 0; i < a[1].n; i++) {
        const imap_arg *it = &a[1].list[i];
        const char *sp = i ? " " : "";
        if (imap_arg_is(it, "MESSAGES")) buf_printf(&s->out, "%sMESSAGES %zu", sp, mb->n);
        else if (imap_arg_is(it, "RECENT")) buf_printf(&s->out, "%sRECENT %zu", sp, recent);
        else if (imap_arg_is(it, "UIDNEXT")) buf_printf(&s->out, "%sUIDNEXT %u", sp, mb->uidnext);
        else if (imap_arg_is(it, "UIDVALIDITY")) buf_printf(&s->out, "%sUIDVALIDITY %u", sp, mb->uidvalidity);
        else if (imap_arg_is(it, "UNSEEN")) buf_printf(&s->out, "%sUNSEEN %zu", sp, unseen);
        else bad = 1;
    }
    buf_puts(&s->out, ")\r\n");
    if (!own)
        mailbox_close(&view);
    if (bad) {
        buf_reset(&s->out);
        imap_tagged(s, "BAD", "Unknown STATUS item");
        return;
    }
    imap_send_buf(s, &s->out);
    imap_tagged(s, "OK", "STATUS completed");
}

/* "17-Jul-1996 02:44:25 -0700" */
static int parse_datetime(const imap_arg *a, time_t *t)
{
    static const char *mons = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char tmp[64], mon[4] = "", sign = 0;
    int d, y, hh, mm, ss, zone;
    if (a->type != IMAP_STRING || imap_arg_cstr(a, tmp, sizeof tmp) < 0)
        return -1;
    if (sscanf(tmp, "%2d-%3s-%4d %2d:%2d:%2d %c%4d", &d, mon, &y, &hh, &mm, &ss, &sign, &zone) != 8 ||
        (sign != '+' && sign != '-') || strlen(mon) != 3 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
        return -1;
    const char *mp = strcasestr(mons, mon);
    if (!mp || (mp - mons) % 3)
        return -1;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = (int)(mp - mons) / 3, .tm_mday = d,
                     .tm_hour = hh, .tm_min = mm, .tm_sec = ss };
    long off = (zone / 100) * 3600L + (zone % 100) * 60L;
    *t = timegm(&tm) - (sign == '-' ? -off : off);
    return 0;
}

void imap_cmd_append(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    char name[512], dir[4400], err[256];
    unsigned flags = 0;
    time_t date = 0;
    if (n < 2 || n > 4 || a[n - 1].type != IMAP_STRING) {
        imap_tagged(s, "BAD", "APPEND needs a mailbox and a message literal");
        return;
    }
    if (imap_arg_cstr(&a[0], name, sizeof name) < 0 || imap_folder_dir(s, name, dir, sizeof dir) < 0) {
        imap_tagged(s, "NO", "Invalid mailbox name");
        return;
    }
    for (size_t i = 1; i + 1 < n; i++) {
        if (a[i].type == IMAP_LIST && i == 1) {
            if (imap_parse_flags(&a[i], 1, &flags) < 0) {
                imap_tagged(s, "BAD", "Invalid flags");
                return;
            }
        } else if (parse_datetime(&a[i], &date) < 0) {
            imap_tagged(s, "BAD", "Invalid date-time");
            return;
        }
    }
    const imap_arg *msg = &a[n - 1];
    if (msg->len == 0) {
        imap_tagged(s, "NO", "Empty message");
        return;
    }
    if (!mailbox_exists(dir)) {
        imap_tagged(s, "NO", "[TRYCREATE] Mailbox does not exist");
        return;
    }
    uint32_t uv, u;
    if (mailbox_append(dir, msg->s, msg->len, flags, date, &uv, &u, err, sizeof err) < 0) {
        imap_tagged(s, "NO", "Cannot save message");
        return;
    }
    if (s->state == IS_SELECTED && strcasecmp(name, s->mbname) == 0)
        imap_sync(s, 1);
    imap_tagged(s, "OK", "[APPENDUID %u %u] APPEND completed", uv, u);
}
