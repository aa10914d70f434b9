/*
 * imap_session.c — the IMAP connection: input collection, the state machine
 * and its command table, greeting, CAPABILITY, STARTTLS, LOGIN,
 * AUTHENTICATE PLAIN, IDLE, NAMESPACE, ID, NOOP, CHECK, LOGOUT.
 *
 * Input is appended to s->in; imap_scan_next() says where one command ends
 * (sending "+ Ready" for synchronizing literals once their size has been
 * checked against APPENDLIMIT), then the command is parsed and dispatched
 * by name through the table, which also says in which states it is valid.
 * Two things read plain lines rather than commands: the client's answer to
 * an AUTHENTICATE challenge, and the DONE that ends IDLE (s->wait).
 * The conn timer ticks every second while idling (to notice deliveries
 * within a second) and otherwise bounds an idle session (autologout).
 */
#include "mail/imap_session.h"
#include "mail/imap_internal.h"
#include "mail/hooks.h"
#include "mail/users.h"
#include "core/server.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const mail_config default_config = { NULL, 0, NULL, 0, 25u << 20, 0 };

static const mail_config *session_config(conn *c)
{
    const app_ops *ops = c->w ? c->w->ops : NULL;
    const mail_hooks *h = ops ? ops->mail : NULL;
    const mail_config *cfg = h && h->config ? h->config(c->w->app) : NULL;
    return cfg ? cfg : &default_config;
}

static int is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
           strncmp(addr, "::ffff:127.", 11) == 0;
}

static int auth_allowed(imap_sess *s)
{
    return conn_is_tls(s->c) || s->plaintext_ok;
}

/* ---- replies ---------------------------------------------------------- */

void imap_tagged(imap_sess *s, const char *status, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    conn_printf(s->c, "%s %s %s\r\n", s->tag[0] ? s->tag : "*", status, text);
}

void imap_untagged(imap_sess *s, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    conn_printf(s->c, "* %s\r\n", text);
}

void imap_send_buf(imap_sess *s, buf *b)
{
    if (buf_size(b))
        conn_write(s->c, buf_head(b), buf_size(b));
    buf_reset(b);
}

static void capability_string(imap_sess *s, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE NAMESPACE ID "
                     "SPECIAL-USE UNSELECT CHILDREN APPENDLIMIT=%zu", s->lim.max_literal);
    if (s->state == IS_NOAUTH && !conn_is_tls(s->c) && s->c->w && s->c->w->tls)
        n += snprintf(out + n, outlen - (size_t)n, " STARTTLS");
    if (s->state == IS_NOAUTH)
        snprintf(out + n, outlen - (size_t)n, auth_allowed(s) ? " AUTH=PLAIN" : " LOGINDISABLED");
}

/* ---- simple commands -------------------------------------------------- */

static void cmd_capability(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    char caps[512];
    capability_string(s, caps, sizeof caps);
    imap_untagged(s, "CAPABILITY %s", caps);
    imap_tagged(s, "OK", "CAPABILITY completed");
}

static void cmd_noop(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    if (s->state == IS_SELECTED)
        imap_sync(s, 1);
    imap_tagged(s, "OK", "%s completed", imap_atom_eq(cmd->name, cmd->name_len, "CHECK") ? "CHECK" : "NOOP");
}

static void cmd_logout(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    imap_untagged(s, "BYE Logging out");
    imap_tagged(s, "OK", "LOGOUT completed");
    s->state = IS_LOGOUT;
    s->closing = 1;
}

static void cmd_namespace(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    imap_untagged(s, "NAMESPACE ((\"\" \".\")) NIL NIL");
    imap_tagged(s, "OK", "NAMESPACE completed");
}

static void cmd_id(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    if (n != 1 || !(a[0].type == IMAP_LIST || imap_arg_is(&a[0], "NIL"))) {
        imap_tagged(s, "BAD", "ID takes a list or NIL");
        return;
    }
    imap_untagged(s, "ID (\"name\" \"atto\" \"vendor\" \"atto\")");
    imap_tagged(s, "OK", "ID completed");
}

static void starttls_ready(conn *c)
{
    imap_sess *s = c->proto_data;
    buf_reset(&s->in);
    memset(&s->scan, 0, sizeof s->scan);
}

static void cmd_starttls(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    if (conn_is_tls(s->c)) {
        imap_tagged(s, "BAD", "TLS is already active");
        return;
    }
    if (!s->c->w || !s->c->w->tls) {
        imap_tagged(s, "NO", "TLS is not available");
        return;
    }
    imap_tagged(s, "OK", "Begin TLS negotiation now");
    if (conn_starttls(s->c, starttls_ready) < 0) {
        s->closing = 1;
        return;
    }
    s->skip_line = 0;
    s->closing = 2;                       /* stop reading this (plaintext) input */
}

/* ---- authentication --------------------------------------------------- */

static void login_ok(imap_sess *s, const char *user)
{
    char caps[512], mail[4150];
    snprintf(s->user, sizeof s->user, "%s", user);
    snprintf(mail, sizeof mail, "%s/mail", s->site);
    mkdir(mail, 0700);
    snprintf(s->home, sizeof s->home, "%s/%s", mail, user);
    mailbox_create(s->home, NULL, 0);
    s->state = IS_AUTH;
    capability_string(s, caps, sizeof caps);
    imap_tagged(s, "OK", "[CAPABILITY %s] Logged in", caps);
}

static void login_check(imap_sess *s, const char *user, const char *pass)
{
    if (users_valid_name(user) && users_check(s->site, user, pass) == 1) {
        login_ok(s, user);
        return;
    }
    imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
    if (++s->auth_failures >= 3) {
        imap_untagged(s, "BYE Too many authentication failures");
        s->closing = 1;
    }
}

static void cmd_login(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    char user[256], pass[1024];
    if (!auth_allowed(s)) {
        imap_tagged(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
        return;
    }
    if (n != 2 || imap_arg_cstr(&a[0], user, sizeof user) < 0 || imap_arg_cstr(&a[1], pass, sizeof pass) < 0) {
        imap_tagged(s, "BAD", "LOGIN needs a user name and a password");
        return;
    }
    login_check(s, user, pass);
    memset(pass, 0, sizeof pass);
}

static int b64_decode(const char *in, size_t n, char *out, size_t outlen)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '=')
            break;
        const char *p = memchr(tbl, in[i], 64);
        if (!p || !in[i])
            return -1;
        acc = (acc << 6) | (unsigned)(p - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    return (int)o;
}

/* "authzid NUL authcid NUL password", base64. */
static void auth_plain(imap_sess *s, const char *b64, size_t len)
{
    char raw[1200];
    int n = b64_decode(b64, len, raw, sizeof raw);
    char *z1 = n > 0 ? memchr(raw, '\0', (size_t)n) : NULL;
    char *z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(raw + n - z1 - 1)) : NULL;
    if (!z2) {
        imap_tagged(s, "BAD", "Malformed PLAIN response");
        return;
    }
    raw[n] = '\0';
    const char *authz = raw, *user = z1 + 1, *pass = z2 + 1;
    if (*authz && strcmp(authz, user) != 0) {
        imap_tagged(s, "NO", "[AUTHORIZATIONFAILED] Cannot act as another user");
        return;
    }
    login_check(s, user, pass);
    memset(raw, 0, sizeof raw);
}

static void cmd_authenticate(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    if (n < 1 || n > 2 || a[0].type != IMAP_ATOM) {
        imap_tagged(s, "BAD", "AUTHENTICATE needs a mechanism");
        return;
    }
    if (!imap_arg_is(&a[0], "PLAIN")) {
        imap_tagged(s, "NO", "Unsupported authentication mechanism");
        return;
    }
    if (!auth_allowed(s)) {
        imap_tagged(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
        return;
    }
    if (n == 2) {
        if (!imap_arg_astring(&a[1])) {
            imap_tagged(s, "BAD", "Bad initial response");
            return;
        }
        auth_plain(s, a[1].s, a[1].len == 1 && a[1].s[0] == '=' ? 0 : a[1].len);
        return;
    }
    conn_puts(s->c, "+ \r\n");
    s->wait = W_AUTH;
}

/* ---- IDLE ------------------------------------------------------------- */

static void cmd_idle(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    if (s->state == IS_SELECTED)
        imap_sync(s, 1);
    conn_puts(s->c, "+ idling\r\n");
    s->wait = W_IDLE;
    conn_timer(s->c, IMAP_IDLE_POLL_MS);
}

/* A line that answers a continuation: the SASL response or IDLE's DONE. */
static void wait_line(imap_sess *s, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    int w = s->wait;
    s->wait = W_NONE;
    if (w == W_AUTH) {
        if (len == 1 && line[0] == '*')
            imap_tagged(s, "BAD", "AUTHENTICATE cancelled");
        else
            auth_plain(s, line, len);
        return;
    }
    conn_timer(s->c, (uint64_t)IMAP_AUTOLOGOUT_S * 1000);
    if (imap_atom_eq(line, len, "DONE"))
        imap_tagged(s, "OK", "IDLE terminated");
    else
        imap_tagged(s, "BAD", "Expected DONE");
}

/* ---- dispatch --------------------------------------------------------- */

#define ANY   (IS_NOAUTH | IS_AUTH | IS_SELECTED)
#define AUTHD (IS_AUTH | IS_SELECTED)

static const struct imap_command {
    const char *name;
    int         states;
    int         uid_ok;     /* also valid after UID */
    imap_fn     fn;
} commands[] = {
    { "CAPABILITY",   ANY,         0, cmd_capability },
    { "NOOP",         ANY,         0, cmd_noop },
    { "LOGOUT",       ANY,         0, cmd_logout },
    { "ID",           ANY,         0, cmd_id },
    { "STARTTLS",     IS_NOAUTH,   0, cmd_starttls },
    { "LOGIN",        IS_NOAUTH,   0, cmd_login },
    { "AUTHENTICATE", IS_NOAUTH,   0, cmd_authenticate },
    { "SELECT",       AUTHD,       0, imap_cmd_select },
    { "EXAMINE",      AUTHD,       0, imap_cmd_select },
    { "CREATE",       AUTHD,       0, imap_cmd_create },
    { "DELETE",       AUTHD,       0, imap_cmd_delete },
    { "RENAME",       AUTHD,       0, imap_cmd_rename },
    { "SUBSCRIBE",    AUTHD,       0, imap_cmd_subscribe },
    { "UNSUBSCRIBE",  AUTHD,       0, imap_cmd_subscribe },
    { "LIST",         AUTHD,       0, imap_cmd_list },
    { "LSUB",         AUTHD,       0, imap_cmd_list },
    { "STATUS",       AUTHD,       0, imap_cmd_status },
    { "APPEND",       AUTHD,       0, imap_cmd_append },
    { "NAMESPACE",    AUTHD,       0, cmd_namespace },
    { "IDLE",         AUTHD,       0, cmd_idle },
    { "CHECK",        IS_SELECTED, 0, cmd_noop },
    { "CLOSE",        IS_SELECTED, 0, imap_cmd_close },
    { "UNSELECT",     IS_SELECTED, 0, imap_cmd_close },
    { "EXPUNGE",      IS_SELECTED, 1, imap_cmd_expunge },
    { "SEARCH",       IS_SELECTED, 1, imap_cmd_search },
    { "FETCH",        IS_SELECTED, 1, imap_cmd_fetch },
    { "STORE",        IS_SELECTED, 1, imap_cmd_store },
    { "COPY",         IS_SELECTED, 1, imap_cmd_copy },
    { "MOVE",         IS_SELECTED, 1, imap_cmd_copy },
};

static const struct imap_command *find_command(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (imap_atom_eq(name, len, commands[i].name))
            return &commands[i];
    return NULL;
}

static void set_tag(imap_sess *s, const char *p, size_t len)
{
    size_t n = 0;
    while (n < len && n < sizeof s->tag - 1 && p[n] != ' ' && p[n] != '\r' && p[n] != '\n')
        n++;
    memcpy(s->tag, p, n);
    s->tag[n] = '\0';
}

static void execute(imap_sess *s, char *p, size_t len)
{
    imap_cmd cmd;
    const char *err = NULL;
    set_tag(s, p, len);
    if (imap_parse(p, len, &s->lim, &cmd, &err) < 0) {
        if (!cmd.tag)
            s->tag[0] = '\0';
        imap_tagged(s, "BAD", "Syntax error: %s", err);
        goto out;
    }
    const imap_arg *a = cmd.args;
    size_t n = cmd.nargs;
    int uid = 0;
    const char *name = cmd.name;
    size_t name_len = cmd.name_len;
    if (imap_atom_eq(name, name_len, "UID")) {
        if (n < 1 || a[0].type != IMAP_ATOM) {
            imap_tagged(s, "BAD", "UID needs a command");
            goto out;
        }
        uid = 1;
        name = a[0].s;
        name_len = a[0].len;
        cmd.name = name;
        cmd.name_len = name_len;
        a++, n--;
    }
    const struct imap_command *c = find_command(name, name_len);
    if (!c || (uid && !c->uid_ok)) {
        imap_tagged(s, "BAD", "Unknown command");
        goto out;
    }
    if (!(c->states & s->state)) {
        imap_tagged(s, "BAD", "%s not allowed %s", c->name,
                    s->state == IS_NOAUTH ? "before authentication" :
                    s->state == IS_AUTH && (c->states & IS_SELECTED) ? "without a selected mailbox" : "now");
        goto out;
    }
    if (imap_atom_eq(name, name_len, "EXPUNGE") && uid && n != 1) {
        imap_tagged(s, "BAD", "UID EXPUNGE needs a UID set");
        goto out;
    }
    c->fn(s, &cmd, a, n, uid);
out:
    imap_cmd_free(&cmd);
}

static size_t line_end(imap_sess *s)
{
    const char *h = buf_head(&s->in), *lf = memchr(h, '\n', buf_size(&s->in));
    return lf ? (size_t)(lf - h) + 1 : 0;
}

static void scan_error(imap_sess *s, int r, size_t cmdlen, const char *err)
{
    set_tag(s, buf_head(&s->in), buf_size(&s->in));
    switch (r) {
    case IMAP_SCAN_ELINE:
        imap_tagged(s, "BAD", "Line too long");
        buf_reset(&s->in);
        s->skip_line = 1;
        break;
    case IMAP_SCAN_ETOOBIG:
        imap_tagged(s, "NO", "[TOOBIG] Literal larger than APPENDLIMIT=%zu", s->lim.max_literal);
        buf_consume(&s->in, cmdlen);
        break;
    case IMAP_SCAN_ETOOBIG_NONSYNC:
        imap_tagged(s, "BAD", "[TOOBIG] Literal larger than APPENDLIMIT=%zu", s->lim.max_literal);
        imap_untagged(s, "BYE Closing: cannot skip an oversized literal");
        s->closing = 1;
        break;
    default:
        imap_tagged(s, "BAD", "Syntax error: %s", err);
        buf_consume(&s->in, cmdlen);
        break;
    }
}

static void process(imap_sess *s)
{
    while (!s->closing && buf_size(&s->in)) {
        if (s->skip_line || s->wait) {
            size_t e = line_end(s);
            if (!e) {
                if (s->skip_line)
                    buf_reset(&s->in);
                else if (buf_size(&s->in) > 8192)
                    s->skip_line = 1, s->wait = W_NONE, imap_tagged(s, "BAD", "Line too long");
                return;
            }
            if (s->wait)
                wait_line(s, buf_head(&s->in), e);
            s->skip_line = 0;
            buf_consume(&s->in, e);
            continue;
        }
        size_t cmdlen = 0;
        const char *err = "";
        int r = imap_scan_next(&s->scan, buf_head(&s->in), buf_size(&s->in), &s->lim, &cmdlen, &err);
        if (r == IMAP_SCAN_MORE)
            return;
        if (r == IMAP_SCAN_CONTINUE) {
            conn_puts(s->c, "+ Ready for literal data\r\n");
            continue;
        }
        if (r < 0) {
            scan_error(s, r, cmdlen, err);
            continue;
        }
        s->idle_ticks = 0;
        execute(s, buf_head(&s->in), cmdlen);
        if (s->closing == 2) {            /* STARTTLS: drop the rest */
            buf_reset(&s->in);
            s->closing = 0;
            return;
        }
        buf_consume(&s->in, cmdlen);
    }
}

/* ---- conn_proto ------------------------------------------------------- */

static int imap_open(conn *c)
{
    imap_sess *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    const mail_config *cfg = session_config(c);
    s->c = c;
    s->state = IS_NOAUTH;
    s->lim.max_line = 64 * 1024;
    s->lim.max_literal = cfg->max_message_size ? cfg->max_message_size : (25u << 20);
    s->lim.max_depth = 32;
    s->plaintext_ok = cfg->plaintext_auth && is_loopback(c->remote_addr);
    snprintf(s->site, sizeof s->site, "%s", c->w && c->w->cfg && c->w->cfg->site_dir ? c->w->cfg->site_dir : ".");
    c->proto_data = s;
    char caps[512];
    capability_string(s, caps, sizeof caps);
    conn_printf(c, "* OK [CAPABILITY %s] atto IMAP4rev1 ready\r\n", caps);
    conn_timer(c, (uint64_t)IMAP_AUTOLOGOUT_S * 1000);
    return 0;
}

static void imap_read(conn *c, const char *data, size_t len)
{
    imap_sess *s = c->proto_data;
    if (s->closing)
        return;
    buf_append(&s->in, data, len);
    process(s);
    if (s->closing) {
        s->closing = 1;
        conn_close(c);
    }
}

static void imap_timeout(conn *c)
{
    imap_sess *s = c->proto_data;
    if (s->wait == W_IDLE) {
        if (s->state == IS_SELECTED)
            imap_sync(s, 1);
        if (++s->idle_ticks < IMAP_AUTOLOGOUT_S) {
            conn_timer(c, IMAP_IDLE_POLL_MS);
            return;
        }
    }
    imap_untagged(s, "BYE Autologout; idle for too long");
    s->closing = 1;
    conn_close(c);
}

static void imap_close(conn *c)
{
    imap_sess *s = c->proto_data;
    if (!s)
        return;
    imap_deselect(s);
    buf_free(&s->in);
    buf_free(&s->out);
    free(s);
    c->proto_data = NULL;
}

const conn_proto imap_proto = {
    .name = "imap",
    .open = imap_open,
    .read = imap_read,
    .timeout = imap_timeout,
    .close = imap_close,
};
