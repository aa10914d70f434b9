/*
 * pop3_session.c — the POP3 server protocol (RFC 1939, CAPA/RESP-CODES
 * from RFC 2449, STLS from RFC 2595) over the user's INBOX Maildir.
 *
 * States: AUTHORIZATION (CAPA, USER, PASS, STLS, QUIT), TRANSACTION (STAT,
 * LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT) and UPDATE, entered only
 * by QUIT: that is when DELE'd messages are removed. A connection that
 * drops removes nothing. The maildrop is locked exclusively (flock on
 * MAILDIR/atto-pop3.lock) from PASS to the end of the session. UIDL is
 * "UIDVALIDITY.UID", the same identity IMAP uses, so it is stable.
 *
 * Sizes (the login's maildrop listing, STAT, LIST) are RFC 1939's: the
 * octets RETR sends before dot-stuffing, CRLF line ends, plus the CRLF RETR
 * adds to a last line that has none. They come from the folder's metadata
 * cache (mcache.h, shared with IMAP) when a message's entry is still valid;
 * a message missing from it is read once at login, and every message read
 * (at login, by RETR or TOP) without a valid entry gets one, saved to
 * DIR/atto-cache the way IMAP saves it (under the folder lock, tmp +
 * rename), at the latest when the session ends.
 */
#include "mail/pop3_session.h"
#include "mail/pop3_parse.h"
#include "mail/mailbox.h"
#include "mail/mcache.h"
#include "mail/mime.h"
#include "mail/hooks.h"
#include "mail/users.h"
#include "core/buf.h"
#include "core/server.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum pop3_state { P_AUTH, P_TRANS, P_DONE };

typedef struct pop3_sess {
    conn    *c;
    int      state;
    buf      in, out, msg;
    int      skip_line, closing, failures, plaintext_ok;
    char     site[4096], user[65], home[4300];
    mailbox  mb;
    char    *deleted;
    int64_t *size;       /* RFC 1939 size of each message, -1 unknown */
    char    *cached;     /* the message has a cache entry (found or added) */
    int      lock_fd;
} pop3_sess;

static const mail_config pop3_default_config = { NULL, 0, NULL, 0, 25u << 20, 0 };

static int auth_allowed(pop3_sess *s)
{
    return conn_is_tls(s->c) || s->plaintext_ok;
}

static void reply(pop3_sess *s, const char *text)
{
    conn_printf(s->c, "%s\r\n", text);
}

static long msg_arg(pop3_sess *s, const pop3_cmd *cmd, int i)
{
    long n = i < cmd->nargs ? pop3_number(cmd->arg[i], cmd->arglen[i]) : -1;
    if (n < 1 || (size_t)n > s->mb.n || s->deleted[n - 1]) {
        reply(s, "-ERR No such message");
        return -1;
    }
    return n;
}

/* Message i was just read into s->msg: learn its size (once: a listing
 * does not change within a session) and give it a cache entry unless it
 * has a valid one. mc NULL: open the cache for this call. */
static void msg_learn(pop3_sess *s, size_t i, mcache *mc)
{
    const char *p = buf_head(&s->msg);
    size_t n = buf_size(&s->msg);
    if (s->size[i] < 0)
        s->size[i] = mcache_pop3_size_of(p, n);
    if (s->cached[i])
        return;
    if (!mc)
        mc = mcache_open(s->mb.dir, s->mb.uidvalidity);
    if (!mc || mcache_find(mc, &s->mb.m[i]))
        return;
    mime_part *root = mime_parse(p, n);
    s->cached[i] = mcache_add(mc, &s->mb.m[i], p, n, root) != NULL;
    mime_free(root);
}

/* Every message's size at login: from the cache, else read (and cached). */
static void learn_sizes(pop3_sess *s)
{
    char err[256];
    mcache *mc = mcache_open(s->mb.dir, s->mb.uidvalidity);
    for (size_t i = 0; i < s->mb.n; i++) {
        const mcache_ent *e = mcache_find(mc, &s->mb.m[i]);
        if (e) {
            s->size[i] = mcache_pop3_size(e);
            s->cached[i] = 1;
        } else if (mailbox_read(&s->mb, i, &s->msg) == 0) {
            msg_learn(s, i, mc);
        }
    }
    buf_reset(&s->msg);
    mcache_save(mc, &s->mb, 0, err, sizeof err);
}

static int64_t msg_size(pop3_sess *s, size_t i)
{
    if (s->size[i] < 0 && mailbox_read(&s->mb, i, &s->msg) == 0)
        msg_learn(s, i, NULL);
    return s->size[i] < 0 ? 0 : s->size[i];
}

/* Send a message (or its head and `lines` body lines), dot-stuffed. */
static void send_message(pop3_sess *s, size_t i, long lines)
{
    if (mailbox_read(&s->mb, i, &s->msg) < 0) {
        reply(s, "-ERR Message is gone");
        return;
    }
    msg_learn(s, i, NULL);
    buf_puts(&s->out, "+OK\r\n");
    const char *p = buf_head(&s->msg), *e = p + buf_size(&s->msg);
    int in_body = 0;
    while (p < e) {
        const char *lf = memchr(p, '\n', (size_t)(e - p));
        const char *next = lf ? lf + 1 : e;
        if (in_body && lines >= 0 && lines-- == 0)
            break;
        if (!in_body && (next - p <= 2) && (*p == '\r' || *p == '\n'))
            in_body = 1;
        if (*p == '.')
            buf_append(&s->out, ".", 1);
        buf_append(&s->out, p, (size_t)(next - p));
        if (!lf)
            buf_puts(&s->out, "\r\n");
        p = next;
        if (buf_size(&s->out) > 65536)
            conn_write(s->c, buf_head(&s->out), buf_size(&s->out)), buf_reset(&s->out);
    }
    buf_puts(&s->out, ".\r\n");
    conn_write(s->c, buf_head(&s->out), buf_size(&s->out));
    buf_reset(&s->out);
}

static void open_maildrop(pop3_sess *s)
{
    char path[4400], err[256], mail[4150];
    snprintf(mail, sizeof mail, "%s/mail", s->site);
    mkdir(mail, 0700);
    snprintf(s->home, sizeof s->home, "%s/%s", mail, s->user);
    mailbox_create(s->home, NULL, 0);
    snprintf(path, sizeof path, "%s/atto-pop3.lock", s->home);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (s->lock_fd >= 0)
            close(s->lock_fd);
        s->lock_fd = -1;
        reply(s, "-ERR [IN-USE] Maildrop is locked by another session");
        return;
    }
    if (mailbox_open(&s->mb, s->home, 0, err, sizeof err) < 0) {
        reply(s, "-ERR [SYS/TEMP] Cannot open maildrop");
        return;
    }
    s->deleted = calloc(s->mb.n + 1, 1);
    s->cached = calloc(s->mb.n + 1, 1);
    s->size = malloc((s->mb.n + 1) * sizeof *s->size);
    if (!s->deleted || !s->cached || !s->size) {
        reply(s, "-ERR [SYS/TEMP] Out of memory");
        s->closing = 1;
        return;
    }
    for (size_t i = 0; i < s->mb.n; i++)
        s->size[i] = -1;
    learn_sizes(s);
    int64_t total = 0;
    for (size_t i = 0; i < s->mb.n; i++)
        total += msg_size(s, i);
    s->state = P_TRANS;
    conn_printf(s->c, "+OK %zu messages (%lld octets)\r\n", s->mb.n, (long long)total);
}

static void pop3_tls_ready(conn *c)
{
    buf_reset(&((pop3_sess *)c->proto_data)->in);
}

static void cmd_auth(pop3_sess *s, const pop3_cmd *cmd)
{
    if (strcmp(cmd->verb, "USER") == 0) {
        if (!auth_allowed(s)) {
            reply(s, "-ERR [AUTH] Plaintext login needs TLS: use STLS first");
        } else if (cmd->nargs != 1 || cmd->arglen[0] >= sizeof s->user) {
            reply(s, "-ERR USER needs one name");
        } else {
            memcpy(s->user, cmd->arg[0], cmd->arglen[0]);
            s->user[cmd->arglen[0]] = '\0';
            reply(s, "+OK Send your password");
        }
    } else if (strcmp(cmd->verb, "PASS") == 0) {
        char pass[256];
        if (!auth_allowed(s)) {
            reply(s, "-ERR [AUTH] Plaintext login needs TLS: use STLS first");
        } else if (!s->user[0] || !cmd->rest || cmd->restlen >= sizeof pass) {
            reply(s, "-ERR USER first, then PASS");
        } else {
            memcpy(pass, cmd->rest, cmd->restlen);
            pass[cmd->restlen] = '\0';
            if (users_valid_name(s->user) && users_check(s->site, s->user, pass) == 1) {
                open_maildrop(s);
            } else {
                reply(s, "-ERR [AUTH] Authentication failed");
                s->user[0] = '\0';
                if (++s->failures >= 3)
                    s->closing = 1;
            }
            memset(pass, 0, sizeof pass);
        }
    } else if (strcmp(cmd->verb, "STLS") == 0) {
        if (conn_is_tls(s->c) || !s->c->w || !s->c->w->tls) {
            reply(s, "-ERR TLS not available");
            return;
        }
        reply(s, "+OK Begin TLS negotiation");
        if (conn_starttls(s->c, pop3_tls_ready) < 0)
            s->closing = 1;
        else
            s->closing = 2;
    } else {
        reply(s, "-ERR Not allowed before login");
    }
}

static int want_deleted(mailbox *mb, size_t i, void *ud)
{
    return ((pop3_sess *)ud)->deleted[i];
}

static void cmd_trans(pop3_sess *s, const pop3_cmd *cmd)
{
    const char *v = cmd->verb;
    long n;
    if (strcmp(v, "STAT") == 0) {
        size_t count = 0;
        int64_t total = 0;
        for (size_t i = 0; i < s->mb.n; i++)
            if (!s->deleted[i])
                count++, total += msg_size(s, i);
        conn_printf(s->c, "+OK %zu %lld\r\n", count, (long long)total);
    } else if (strcmp(v, "LIST") == 0 || strcmp(v, "UIDL") == 0) {
        int uidl = v[0] == 'U';
        if (cmd->nargs) {
            if ((n = msg_arg(s, cmd, 0)) < 0)
                return;
            if (uidl)
                conn_printf(s->c, "+OK %ld %u.%u\r\n", n, s->mb.uidvalidity, s->mb.m[n - 1].uid);
            else
                conn_printf(s->c, "+OK %ld %lld\r\n", n, (long long)msg_size(s, (size_t)n - 1));
            return;
        }
        buf_puts(&s->out, "+OK\r\n");
        for (size_t i = 0; i < s->mb.n; i++) {
            if (s->deleted[i])
                continue;
            if (uidl)
                buf_printf(&s->out, "%zu %u.%u\r\n", i + 1, s->mb.uidvalidity, s->mb.m[i].uid);
            else
                buf_printf(&s->out, "%zu %lld\r\n", i + 1, (long long)msg_size(s, i));
        }
        buf_puts(&s->out, ".\r\n");
        conn_write(s->c, buf_head(&s->out), buf_size(&s->out));
        buf_reset(&s->out);
    } else if (strcmp(v, "RETR") == 0) {
        if ((n = msg_arg(s, cmd, 0)) > 0)
            send_message(s, (size_t)n - 1, -1);
    } else if (strcmp(v, "TOP") == 0) {
        long lines = cmd->nargs == 2 ? pop3_number(cmd->arg[1], cmd->arglen[1]) : -1;
        if (cmd->nargs == 2 && cmd->arglen[1] == 1 && cmd->arg[1][0] == '0')
            lines = 0;
        if (lines < 0) {
            reply(s, "-ERR TOP needs a message and a line count");
            return;
        }
        if ((n = msg_arg(s, cmd, 0)) > 0)
            send_message(s, (size_t)n - 1, lines);
    } else if (strcmp(v, "DELE") == 0) {
        if ((n = msg_arg(s, cmd, 0)) > 0) {
            s->deleted[n - 1] = 1;
            reply(s, "+OK Marked for deletion");
        }
    } else if (strcmp(v, "RSET") == 0) {
        memset(s->deleted, 0, s->mb.n);
        reply(s, "+OK");
    } else if (strcmp(v, "NOOP") == 0) {
        reply(s, "+OK");
    } else {
        reply(s, "-ERR Unknown command");
    }
}

static void cmd_capa(pop3_sess *s)
{
    conn_printf(s->c, "+OK Capability list follows\r\nUSER\r\nUIDL\r\nTOP\r\nPIPELINING\r\n"
                "RESP-CODES\r\nAUTH-RESP-CODE\r\n%sIMPLEMENTATION atto\r\n.\r\n",
                s->state == P_AUTH && !conn_is_tls(s->c) && s->c->w && s->c->w->tls ? "STLS\r\n" : "");
}

static void cmd_quit(pop3_sess *s)
{
    if (s->state == P_TRANS) {
        char err[256] = "";
        s->state = P_DONE;                      /* UPDATE */
        if (mailbox_expunge(&s->mb, want_deleted, s, NULL, err, sizeof err) < 0 || err[0]) {
            reply(s, "-ERR [SYS/TEMP] Some deleted messages were not removed");
            s->closing = 1;
            return;
        }
    }
    reply(s, "+OK Bye");
    s->closing = 1;
}

static void execute(pop3_sess *s, const char *line, size_t len)
{
    pop3_cmd cmd;
    const char *err = "";
    if (pop3_parse(line, len, &cmd, &err) < 0) {
        conn_printf(s->c, "-ERR %s\r\n", err);
        return;
    }
    if (strcmp(cmd.verb, "QUIT") == 0)
        cmd_quit(s);
    else if (strcmp(cmd.verb, "CAPA") == 0)
        cmd_capa(s);
    else if (s->state == P_AUTH)
        cmd_auth(s, &cmd);
    else
        cmd_trans(s, &cmd);
}

static void pop3_read(conn *c, const char *data, size_t len)
{
    pop3_sess *s = c->proto_data;
    if (s->closing)
        return;
    buf_append(&s->in, data, len);
    while (!s->closing && buf_size(&s->in)) {
        size_t n;
        int r = pop3_line(buf_head(&s->in), buf_size(&s->in), POP3_MAX_LINE * 4, &n);
        if (r == 0)
            break;
        if (r < 0) {
            if (!s->skip_line)
                reply(s, "-ERR Line too long");
            const char *lf = memchr(buf_head(&s->in), '\n', buf_size(&s->in));
            if (lf) {                        /* the end is here: go on after it */
                buf_consume(&s->in, (size_t)(lf - buf_head(&s->in)) + 1);
                s->skip_line = 0;
                continue;
            }
            s->skip_line = 1;
            buf_reset(&s->in);
            break;
        }
        if (!s->skip_line)
            execute(s, buf_head(&s->in), n);
        s->skip_line = 0;
        if (s->closing == 2) {               /* STLS: drop pipelined plaintext */
            buf_reset(&s->in);
            s->closing = 0;
            break;
        }
        buf_consume(&s->in, n);
    }
    if (s->closing)
        conn_close(c);
}

static int pop3_open(conn *c)
{
    pop3_sess *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    const app_ops *ops = c->w ? c->w->ops : NULL;
    const mail_hooks *h = ops ? ops->mail : NULL;
    const mail_config *cfg = h && h->config ? h->config(c->w->app) : NULL;
    if (!cfg)
        cfg = &pop3_default_config;
    s->c = c;
    s->lock_fd = -1;
    s->plaintext_ok = cfg->plaintext_auth &&
        (strncmp(c->remote_addr, "127.", 4) == 0 || strcmp(c->remote_addr, "::1") == 0);
    snprintf(s->site, sizeof s->site, "%s", c->w && c->w->cfg && c->w->cfg->site_dir ? c->w->cfg->site_dir : ".");
    c->proto_data = s;
    reply(s, "+OK atto POP3 ready");
    conn_timer(c, 600000);
    return 0;
}

static void pop3_timeout(conn *c)
{
    reply(c->proto_data, "-ERR Autologout; idle for too long");
    ((pop3_sess *)c->proto_data)->closing = 1;
    conn_close(c);
}

static void pop3_close(conn *c)
{
    pop3_sess *s = c->proto_data;
    if (!s)
        return;
    if (s->mb.dir) {
        char err[256];
        mcache_flush(s->mb.dir, &s->mb, err, sizeof err);
        mailbox_close(&s->mb);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->deleted);
    free(s->cached);
    free(s->size);
    buf_free(&s->in);
    buf_free(&s->out);
    buf_free(&s->msg);
    free(s);
    c->proto_data = NULL;
}

const conn_proto pop3_proto = {
    .name = "pop3",
    .open = pop3_open,
    .read = pop3_read,
    .timeout = pop3_timeout,
    .close = pop3_close,
};
