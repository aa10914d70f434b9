/*
 * smtp_deliver.c — from "the client sent a message" to "it is durable":
 * the Received header, the message rule's actions, Maildir copies, the
 * outbound queue and vacation replies (see smtp_deliver.h).
 *
 * Action semantics follow Sieve (RFC 5228): without actions a message is
 * kept (INBOX of every local recipient); fileinto adds a folder copy and
 * cancels the implicit keep; redirect and discard cancel it too; keep
 * restores it. Non-local recipients (authenticated relay) are queued unless
 * the rule discarded the message. Headers added by rules go right under our
 * Received header. Vacation replies go out after the message is safe; their
 * failures are logged, never turned into a reply to the client.
 */
#include "mail/smtp_deliver.h"
#include "mail/maildir.h"
#include "mail/queue.h"
#include "mail/users.h"
#include "core/buf.h"
#include "core/server.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#define SMTP_MAX_ACTIONS 32
#define SMTP_MAX_COPIES  256

int (*smtp_queue_submit_hook)(const char *, const char *, const char *const *, size_t,
                              const char *, size_t, char *, size_t);

int smtp_domain_is_local(const mail_config *cfg, const char *domain)
{
    for (size_t i = 0; cfg && i < cfg->ndomains; i++)
        if (strcasecmp(cfg->domains[i], domain) == 0) return 1;
    return 0;
}

static void smtp_date(char *out, size_t outlen)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

void smtp_received(const smtp_envelope *e, char *out, size_t outlen)
{
    char date[64];
    smtp_date(date, sizeof date);
    const mail_session_info *s = e->info;
    snprintf(out, outlen, "Received: from %s (%s [%s])\r\n\tby %s with %s%s%s id %s%s%s%s;\r\n\t%s\r\n",
             s->helo ? s->helo : "unknown", s->remote_addr, s->remote_addr, e->hostname,
             e->esmtp ? "ESMTP" : "SMTP", s->tls ? "S" : "", s->auth_user ? "A" : "", e->id,
             e->nrcpt == 1 ? "\r\n\tfor <" : "", e->nrcpt == 1 ? e->rcpt[0].addr : "", e->nrcpt == 1 ? ">" : "", date);
}

/* A header's value from the message head (first occurrence), or 0. */
static int smtp_header(const char *data, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < len; ) {
        const char *eol = memchr(data + i, '\n', len - i);
        size_t ll = eol ? (size_t)(eol - (data + i)) : len - i;
        if (ll == 0 || (ll == 1 && data[i] == '\r')) break;  /* end of head */
        if (ll > nl && data[i + nl] == ':' && strncasecmp(data + i, name, nl) == 0) {
            size_t s = i + nl + 1;
            while (s < i + ll && (data[s] == ' ' || data[s] == '\t')) s++;
            size_t vl = i + ll - s;
            if (vl > 0 && data[s + vl - 1] == '\r') vl--;
            if (vl >= outlen) vl = outlen - 1;
            memcpy(out, data + s, vl); out[vl] = 0;
            return 1;
        }
        i += ll + 1;
    }
    return 0;
}

/* What the rule asked for, in a form delivery can walk. */
typedef struct smtp_plan {
    int         keep, discard;
    const char *folders[SMTP_MAX_ACTIONS]; size_t nfolders;
    const char *redirect[SMTP_MAX_ACTIONS]; size_t nredirect;
    const mail_action *headers[SMTP_MAX_ACTIONS]; size_t nheaders;
    const mail_action *replies[SMTP_MAX_ACTIONS]; size_t nreplies;
} smtp_plan;

static void smtp_plan_make(smtp_plan *p, const mail_action *a, size_t n)
{
    int explicit_keep = 0, cancel = 0;
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        switch (a[i].kind) {
        case MAIL_ACT_KEEP: explicit_keep = 1; break;
        case MAIL_ACT_DISCARD: p->discard = 1; cancel = 1; break;
        case MAIL_ACT_FILEINTO:
            cancel = 1;
            if (a[i].a && maildir_valid_folder(a[i].a)) p->folders[p->nfolders++] = a[i].a;
            else { log_warn("smtp: rule fileinto \"%s\": bad folder name, kept in INBOX", a[i].a ? a[i].a : ""); explicit_keep = 1; }
            break;
        case MAIL_ACT_REDIRECT: cancel = 1; if (a[i].a) p->redirect[p->nredirect++] = a[i].a; break;
        case MAIL_ACT_ADD_HEADER: if (a[i].a && a[i].b) p->headers[p->nheaders++] = &a[i]; break;
        case MAIL_ACT_REPLY: p->replies[p->nreplies++] = &a[i]; break;
        }
    }
    p->keep = explicit_keep || !cancel;
    if (p->discard && !explicit_keep) { p->nfolders = 0; p->nredirect = 0; }
}

/* A header line from a rule: the name must be a token, the value one line. */
static void smtp_add_header(buf *b, const char *name, const char *value)
{
    for (const char *p = name; *p; p++) if (*p <= 32 || *p == ':' || *p == 127) return;
    if (!*name) return;
    buf_printf(b, "%s: ", name);
    for (const char *p = value; *p; p++) buf_append(b, (*p == '\r' || *p == '\n') ? " " : p, 1);
    buf_puts(b, "\r\n");
}

static int smtp_queue(const char *site, const char *from, const char *const *to, size_t n,
                      const char *data, size_t len, char *err, size_t errlen)
{
    if (smtp_queue_submit_hook) return smtp_queue_submit_hook(site, from, to, n, data, len, err, errlen);
    return mail_queue_submit(site, from, to, n, data, len, err, errlen);
}

/* Split "user@domain"; user lower-cased. 0 ok, -1 when not a plain address. */
static int smtp_split(const char *addr, char *user, size_t ulen, const char **domain)
{
    const char *at = strrchr(addr, '@');
    if (!at || (size_t)(at - addr) >= ulen) return -1;
    for (size_t i = 0; addr + i < at; i++) user[i] = (char)tolower((unsigned char)addr[i]);
    user[at - addr] = 0;
    *domain = at + 1;
    return 0;
}

/* Delivered copies, so a later failure can take them back. */
typedef struct smtp_copies { char (*path)[1024]; size_t n; } smtp_copies;

static int smtp_copy(const smtp_envelope *e, smtp_copies *cp, const char *user, const char *folder,
                     const char *data, size_t len, char *err, size_t errlen)
{
    if (cp->n >= SMTP_MAX_COPIES) { snprintf(err, errlen, "too many copies"); return -E2BIG; }
    return maildir_deliver_path(e->site_dir, user, folder, data, len, cp->path[cp->n++], sizeof cp->path[0], err, errlen) < 0
           ? (cp->n--, -1) : 0;
}

static void smtp_rollback(smtp_copies *cp)
{
    for (size_t i = 0; i < cp->n; i++) unlink(cp->path[i]);
    cp->n = 0;
}

/* Is `user` among the local recipients before index `n`? */
static int smtp_user_before(const smtp_envelope *e, size_t n, const char *user)
{
    for (size_t j = 0; j < n; j++)
        if (e->rcpt[j].local && strcmp(e->rcpt[j].user, user) == 0) return 1;
    return 0;
}

/* Every local copy: recipients x folders, then local redirects. A mailbox
 * gets one copy however many recipients name it (RFC 5228 2.10.3). */
static int smtp_local_copies(const smtp_envelope *e, const smtp_plan *p, smtp_copies *cp,
                             const char *data, size_t len, char *err, size_t errlen)
{
    for (size_t i = 0; i < e->nrcpt; i++) {
        if (!e->rcpt[i].local || smtp_user_before(e, i, e->rcpt[i].user)) continue;
        if (p->keep && smtp_copy(e, cp, e->rcpt[i].user, NULL, data, len, err, errlen) < 0) return -1;
        for (size_t f = 0; f < p->nfolders; f++)
            if (smtp_copy(e, cp, e->rcpt[i].user, p->folders[f], data, len, err, errlen) < 0) return -1;
    }
    for (size_t r = 0; r < p->nredirect; r++) {
        char user[65]; const char *dom;
        if (smtp_split(p->redirect[r], user, sizeof user, &dom) < 0 || !smtp_domain_is_local(e->cfg, dom)) continue;
        if (!users_exists(e->site_dir, user)) { log_warn("smtp %s: redirect to %s: no such user, dropped", e->id, p->redirect[r]); continue; }
        if (p->keep && smtp_user_before(e, e->nrcpt, user)) continue;  /* already has its INBOX copy */
        if (smtp_copy(e, cp, user, NULL, data, len, err, errlen) < 0) return -1;
    }
    return 0;
}

/* Non-local recipients and redirects, in one queue file. */
static int smtp_remote_copies(const smtp_envelope *e, const smtp_plan *p, const char *data, size_t len, char *err, size_t errlen)
{
    const char *to[SMTP_MAX_ACTIONS + 128];
    size_t n = 0;
    for (size_t i = 0; i < e->nrcpt && !p->discard && n < 128; i++)
        if (!e->rcpt[i].local) to[n++] = e->rcpt[i].addr;
    for (size_t r = 0; r < p->nredirect; r++) {
        char user[65]; const char *dom;
        if (smtp_split(p->redirect[r], user, sizeof user, &dom) < 0 || !smtp_domain_is_local(e->cfg, dom)) to[n++] = p->redirect[r];
    }
    return n ? smtp_queue(e->site_dir, e->from, to, n, data, len, err, errlen) : 0;
}

/* Once a day per sender per user: SITE/.atto/replies/<user>/<sender>. */
static int smtp_reply_due(const char *site, const char *user, const char *sender)
{
    char p[4096], s[300];
    size_t o = 0;
    for (const char *q = sender; *q && o < sizeof s - 1; q++) s[o++] = (isalnum((unsigned char)*q) || *q == '@' || *q == '.' || *q == '-') ? *q : '_';
    s[o] = 0;
    snprintf(p, sizeof p, "%s/.atto", site); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/.atto/replies", site); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/.atto/replies/%s", site, user); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/.atto/replies/%s/%s", site, user, s);
    struct stat st;
    if (stat(p, &st) == 0 && time(NULL) - st.st_mtime < 86400) return 0;
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    return 1;
}

static void smtp_vacation(const smtp_envelope *e, const mail_action *a, const char *data, size_t len)
{
    char h[256], date[64], subj[300], err[256];
    if (!e->from[0] || strncasecmp(e->from, "mailer-daemon@", 14) == 0) return;
    if (smtp_header(data, len, "Auto-Submitted", h, sizeof h) && strcasecmp(h, "no") != 0) return;
    if (smtp_header(data, len, "Precedence", h, sizeof h) && (!strcasecmp(h, "bulk") || !strcasecmp(h, "list") || !strcasecmp(h, "junk"))) return;
    if (smtp_header(data, len, "List-Id", h, sizeof h)) return;
    if (!smtp_header(data, len, "Subject", h, sizeof h)) h[0] = 0;
    snprintf(subj, sizeof subj, "%s", a->a ? a->a : "");
    if (!subj[0]) snprintf(subj, sizeof subj, "Auto: %.280s", h);
    smtp_date(date, sizeof date);
    for (size_t i = 0; i < e->nrcpt; i++) {
        if (!e->rcpt[i].local || !smtp_reply_due(e->site_dir, e->rcpt[i].user, e->from)) continue;
        buf m = BUF_INIT;
        buf_printf(&m, "From: <%s>\r\nTo: <%s>\r\nDate: %s\r\nMessage-ID: <%s.%zu.vacation@%s>\r\n", e->rcpt[i].addr, e->from, date, e->id, i, e->hostname);
        smtp_add_header(&m, "Subject", subj);
        if (smtp_header(data, len, "Message-ID", h, sizeof h)) smtp_add_header(&m, "In-Reply-To", h);
        buf_puts(&m, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
        for (const char *b = a->b ? a->b : ""; *b; b++) {
            if (*b == '\n' && (b == a->b || b[-1] != '\r')) buf_puts(&m, "\r\n");
            else buf_append(&m, b, 1);
        }
        buf_puts(&m, "\r\n");
        char user[65]; const char *dom; int rc;
        if (smtp_split(e->from, user, sizeof user, &dom) == 0 && smtp_domain_is_local(e->cfg, dom))
            rc = users_exists(e->site_dir, user) ? maildir_deliver(e->site_dir, user, NULL, buf_head(&m), buf_size(&m), err, sizeof err) : 0;
        else {
            const char *to[1] = { e->from };
            rc = smtp_queue(e->site_dir, "", to, 1, buf_head(&m), buf_size(&m), err, sizeof err);
        }
        if (rc < 0) log_warn("smtp %s: vacation reply to %s: %s", e->id, e->from, err);
        buf_free(&m);
    }
}

static void smtp_verdict(mail_verdict *v, int kind, int code, const char *text)
{
    v->kind = kind;
    v->code = code;
    snprintf(v->text, sizeof v->text, "%s", text);
}

int smtp_deliver(const smtp_envelope *e, const char *data, size_t len, mail_verdict *v)
{
    mail_action act[SMTP_MAX_ACTIONS];
    size_t nact = 0;
    char err[512], recv[1024];
    smtp_copies cp = { NULL, 0 };
    buf full = BUF_INIT;
    int rc = -1;
    memset(v, 0, sizeof *v);
    if (e->hooks && e->hooks->message) {
        const char *to[128];
        size_t n = e->nrcpt < 128 ? e->nrcpt : 128;
        for (size_t i = 0; i < n; i++) to[i] = e->rcpt[i].addr;
        mail_message m = { e->from, to, n, data, len, e->info };
        nact = e->hooks->message(e->app, &m, act, SMTP_MAX_ACTIONS, v);
        if (nact > SMTP_MAX_ACTIONS) nact = SMTP_MAX_ACTIONS;
        if (v->kind != MAIL_CONTINUE) return -1;
    }
    smtp_plan p;
    smtp_plan_make(&p, act, nact);
    smtp_received(e, recv, sizeof recv);
    buf_puts(&full, recv);
    for (size_t i = 0; i < p.nheaders; i++) smtp_add_header(&full, p.headers[i]->a, p.headers[i]->b);
    buf_append(&full, data, len);
    cp.path = malloc(SMTP_MAX_COPIES * sizeof *cp.path);
    if (!cp.path) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    if (smtp_local_copies(e, &p, &cp, buf_head(&full), buf_size(&full), err, sizeof err) < 0) goto fail;
    if (smtp_remote_copies(e, &p, buf_head(&full), buf_size(&full), err, sizeof err) < 0) goto fail;
    for (size_t i = 0; i < p.nreplies; i++) smtp_vacation(e, p.replies[i], data, len);
    rc = 0;
    goto out;
fail:
    log_error("smtp %s: delivery failed: %s", e->id, err);
    smtp_rollback(&cp);
    smtp_verdict(v, MAIL_DEFER, 451, "4.3.0 Temporary delivery failure, try again later");
out:
    free(cp.path);
    buf_free(&full);
    return rc;
}
