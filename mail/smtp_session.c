/*
 * smtp_session.c — the SMTP server state machine (RFC 5321, 3207, 4954).
 *
 * Shaped like OpenSMTPD's smtp_session.c: an enum of states, one
 * smtp_enter_state() that can trace every transition, and a command table of
 * { verb, usage, check, proceed }. check() refuses commands that are out of
 * sequence or not allowed here (it writes the reply and returns -1);
 * proceed() does the work. Input is consumed one complete line at a time, in
 * order, so pipelined commands are answered in order; while an answer waits
 * on a timer (the delay after a failed AUTH) later input stays buffered.
 * After STARTTLS everything from before the handshake is forgotten.
 *
 * Delivery (smtp_deliver.c) is synchronous disk I/O on the worker, fsync
 * included: the 250 after DATA means every local copy is durable.
 */
#include "mail/smtp_session.h"
#include "mail/smtp_parse.h"
#include "mail/smtp_deliver.h"
#include "mail/users.h"
#include "mail/queue.h"
#include "mail/hooks.h"
#include "core/buf.h"
#include "core/server.h"
#include <ctype.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SMTP_MAX_RCPT    100
#define SMTP_MAX_ERRORS  20
#define SMTP_MAX_AUTH_FAILS 3

unsigned smtp_auth_delay_ms = 1000;
unsigned smtp_idle_ms = 300000;

enum smtp_state {
    SMTP_S_CONNECTED,   /* greeted, waiting for HELO/EHLO */
    SMTP_S_HELO,        /* no transaction */
    SMTP_S_MAIL,        /* MAIL accepted, no recipient yet */
    SMTP_S_RCPT,        /* at least one recipient */
    SMTP_S_BODY,        /* reading DATA */
    SMTP_S_AUTH_PLAIN,  /* 334 sent, waiting for the PLAIN response */
    SMTP_S_AUTH_USER,   /* AUTH LOGIN: waiting for the user name */
    SMTP_S_AUTH_PASS,   /* AUTH LOGIN: waiting for the password */
    SMTP_S_AUTH_WAIT,   /* a failed AUTH: the 535 waits for the timer */
    SMTP_S_TLS,         /* 220 to STARTTLS sent, handshake running */
    SMTP_S_QUIT         /* closing */
};
static const char *const smtp_state_names[] = {
    "CONNECTED", "HELO", "MAIL", "RCPT", "BODY", "AUTH_PLAIN", "AUTH_USER", "AUTH_PASS", "AUTH_WAIT", "TLS", "QUIT"
};

typedef struct smtp_sess {
    conn        *c;
    int          submission;
    int          state;
    buf          in;            /* received, not yet processed */
    int          skipping;      /* dropping the rest of an over-long line */
    int          errors, auth_fails;
    char         hostname[256];
    char         helo[256];
    int          esmtp;
    char         auth_user[65];
    char         login_user[65];
    mail_session_info info;
    const mail_config *cfg;
    /* the transaction */
    char         from[SMTP_PATH_MAX + 1];
    int          smtputf8;
    smtp_rcpt   *rcpt;
    size_t       nrcpt;
    smtp_data    data;
    buf          msg;
    char         id[32];
} smtp_sess;

static const mail_config smtp_default_cfg = { NULL, 0, NULL, 0, 25u << 20, 0 };
static int smtp_trace = -1;

static void smtp_enter_state(smtp_sess *s, int st)
{
    if (smtp_trace < 0) smtp_trace = getenv("ATTO_TRACE_SMTP") != NULL;
    if (smtp_trace && s->state != st)
        log_info("smtp %llu: %s -> %s", (unsigned long long)s->c->id, smtp_state_names[s->state], smtp_state_names[st]);
    s->state = st;
}

static void smtp_reply(smtp_sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void smtp_reply(smtp_sess *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 3) n = (int)sizeof line - 3;
    if (smtp_trace > 0) log_info("smtp %llu: > %.*s", (unsigned long long)s->c->id, n, line);
    memcpy(line + n, "\r\n", 2);
    conn_write(s->c, line, (size_t)n + 2);
}

/* A hook's verdict as a reply: reject must be 5xx, defer 4xx. 1 if replied. */
static int smtp_verdict_reply(smtp_sess *s, const mail_verdict *v)
{
    if (v->kind == MAIL_CONTINUE || v->kind == MAIL_ACCEPT) return 0;
    int code = v->code;
    if (v->kind == MAIL_REJECT && (code < 500 || code > 599)) code = 550;
    if (v->kind == MAIL_DEFER && (code < 400 || code > 499)) code = 451;
    char text[256];
    size_t i = 0;
    for (; v->text[i] && i < sizeof text - 1; i++) text[i] = (v->text[i] < 32 && v->text[i] >= 0) ? ' ' : v->text[i];
    text[i] = 0;
    smtp_reply(s, "%d %s", code, text[0] ? text : (code >= 500 ? "5.7.1 Rejected" : "4.7.1 Try again later"));
    return 1;
}

static const mail_hooks *smtp_hooks(smtp_sess *s)
{
    const app_ops *ops = s->c->w ? s->c->w->ops : NULL;
    return ops ? (const mail_hooks *)ops->mail : NULL;
}

static void *smtp_app(smtp_sess *s) { return s->c->w ? s->c->w->app : NULL; }

static const char *smtp_site(smtp_sess *s) { return s->c->w->cfg->site_dir; }

static int smtp_loopback(const char *a)
{
    return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0 || strncmp(a, "::ffff:127.", 11) == 0;
}

static int smtp_tls_active(smtp_sess *s) { return conn_is_tls(s->c); }
static int smtp_tls_available(smtp_sess *s) { return s->c->w && s->c->w->tls && !conn_is_tls(s->c); }

static int smtp_auth_allowed(smtp_sess *s)
{
    return smtp_tls_active(s) || (s->cfg->plaintext_auth && smtp_loopback(s->c->remote_addr));
}

static void smtp_sync_info(smtp_sess *s)
{
    s->info.helo = s->helo[0] ? s->helo : NULL;
    s->info.auth_user = s->auth_user[0] ? s->auth_user : NULL;
    s->info.tls = smtp_tls_active(s);
}

static void smtp_tx_reset(smtp_sess *s)
{
    s->from[0] = 0;
    s->smtputf8 = 0;
    s->nrcpt = 0;
    buf_free(&s->msg);
    if (s->state == SMTP_S_MAIL || s->state == SMTP_S_RCPT || s->state == SMTP_S_BODY)
        smtp_enter_state(s, SMTP_S_HELO);
}

/* ---- checks: refuse what is out of sequence ---- */

static int smtp_need_helo(smtp_sess *s, smtp_cmd *cmd)
{
    if (s->state != SMTP_S_CONNECTED) return 0;
    smtp_reply(s, "503 5.5.1 Send HELO/EHLO first");
    return -1;
}

static int smtp_check_mail(smtp_sess *s, smtp_cmd *cmd)
{
    if (smtp_need_helo(s, cmd) < 0) return -1;
    if (s->state != SMTP_S_HELO) { smtp_reply(s, "503 5.5.1 Nested MAIL command"); return -1; }
    if (s->submission && !s->auth_user[0]) { smtp_reply(s, "530 5.7.0 Authentication required"); return -1; }
    if (cmd->size > 0 && (unsigned long long)cmd->size > s->cfg->max_message_size) {
        smtp_reply(s, "552 5.3.4 Message size exceeds fixed limit of %zu bytes", s->cfg->max_message_size);
        return -1;
    }
    if (cmd->utf8_addr && !cmd->smtputf8) { smtp_reply(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8"); return -1; }
    return 0;
}

static int smtp_check_rcpt(smtp_sess *s, smtp_cmd *cmd)
{
    if (smtp_need_helo(s, cmd) < 0) return -1;
    if (s->state != SMTP_S_MAIL && s->state != SMTP_S_RCPT) { smtp_reply(s, "503 5.5.1 Need MAIL before RCPT"); return -1; }
    if (s->nrcpt >= SMTP_MAX_RCPT) { smtp_reply(s, "452 4.5.3 Too many recipients"); return -1; }
    if (cmd->utf8_addr && !s->smtputf8) { smtp_reply(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8"); return -1; }
    return 0;
}

static int smtp_check_data(smtp_sess *s, smtp_cmd *cmd)
{
    if (smtp_need_helo(s, cmd) < 0) return -1;
    if (s->state == SMTP_S_MAIL) { smtp_reply(s, "554 5.5.1 No valid recipients"); return -1; }
    if (s->state != SMTP_S_RCPT) { smtp_reply(s, "503 5.5.1 Need MAIL and RCPT before DATA"); return -1; }
    return 0;
}

static int smtp_check_auth(smtp_sess *s, smtp_cmd *cmd)
{
    if (smtp_need_helo(s, cmd) < 0) return -1;
    if (s->auth_user[0]) { smtp_reply(s, "503 5.5.1 Already authenticated"); return -1; }
    if (s->state != SMTP_S_HELO) { smtp_reply(s, "503 5.5.1 AUTH not allowed during a mail transaction"); return -1; }
    if (!smtp_auth_allowed(s)) { smtp_reply(s, "538 5.7.11 Encryption required for requested authentication mechanism"); return -1; }
    return 0;
}

static int smtp_check_starttls(smtp_sess *s, smtp_cmd *cmd)
{
    if (smtp_tls_active(s)) { smtp_reply(s, "503 5.5.1 TLS already active"); return -1; }
    if (!smtp_tls_available(s)) { smtp_reply(s, "454 4.7.0 TLS not available"); return -1; }
    if (s->state != SMTP_S_CONNECTED && s->state != SMTP_S_HELO) { smtp_reply(s, "503 5.5.1 STARTTLS not allowed during a mail transaction"); return -1; }
    return 0;
}

/* ---- proceed: do the work ---- */

static void smtp_greet_helo(smtp_sess *s, smtp_cmd *cmd, int esmtp)
{
    mail_verdict v = { 0 };
    const mail_hooks *h = smtp_hooks(s);
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)cmd->arg_len, cmd->arg);
    smtp_tx_reset(s);
    snprintf(s->helo, sizeof s->helo, "%s", name);
    smtp_sync_info(s);
    if (h && h->helo) h->helo(smtp_app(s), &s->info, name, &v);
    if (smtp_verdict_reply(s, &v)) { s->helo[0] = 0; smtp_sync_info(s); return; }
    s->esmtp = esmtp;
    smtp_enter_state(s, SMTP_S_HELO);
    if (!esmtp) { smtp_reply(s, "250 %s", s->hostname); return; }
    smtp_reply(s, "250-%s Hello %s [%s]", s->hostname, name, s->c->remote_addr);
    smtp_reply(s, "250-SIZE %zu", s->cfg->max_message_size);
    smtp_reply(s, "250-8BITMIME");
    smtp_reply(s, "250-PIPELINING");
    smtp_reply(s, "250-ENHANCEDSTATUSCODES");
    smtp_reply(s, "250-SMTPUTF8");
    if (smtp_tls_available(s)) smtp_reply(s, "250-STARTTLS");
    if (smtp_auth_allowed(s) && !s->auth_user[0]) smtp_reply(s, "250-AUTH PLAIN LOGIN");
    smtp_reply(s, "250 HELP");
}

static void smtp_do_helo(smtp_sess *s, smtp_cmd *cmd) { smtp_greet_helo(s, cmd, 0); }
static void smtp_do_ehlo(smtp_sess *s, smtp_cmd *cmd) { smtp_greet_helo(s, cmd, 1); }

static void smtp_do_mail(smtp_sess *s, smtp_cmd *cmd)
{
    mail_verdict v = { 0 };
    const mail_hooks *h = smtp_hooks(s);
    smtp_sync_info(s);
    if (h && h->mail_from) h->mail_from(smtp_app(s), &s->info, cmd->addr, &v);
    if (smtp_verdict_reply(s, &v)) return;
    snprintf(s->from, sizeof s->from, "%s", cmd->addr);
    s->smtputf8 = cmd->smtputf8;
    s->nrcpt = 0;
    static atomic_uint seq;
    snprintf(s->id, sizeof s->id, "%llX%04X%llX", (unsigned long long)time(NULL), ++seq & 0xffff,
             (unsigned long long)s->c->id);
    smtp_enter_state(s, SMTP_S_MAIL);
    smtp_reply(s, "250 2.1.0 Ok");
}

static void smtp_do_rcpt(smtp_sess *s, smtp_cmd *cmd)
{
    mail_verdict v = { 0 };
    const mail_hooks *h = smtp_hooks(s);
    smtp_rcpt r;
    memset(&r, 0, sizeof r);
    snprintf(r.addr, sizeof r.addr, "%s", cmd->addr);
    size_t ul = cmd->local_len < sizeof r.user ? cmd->local_len : sizeof r.user - 1;
    for (size_t i = 0; i < ul; i++) r.user[i] = (char)tolower((unsigned char)cmd->addr[i]);
    if (cmd->addr[cmd->local_len] == '@') snprintf(r.domain, sizeof r.domain, "%s", cmd->addr + cmd->local_len + 1);
    r.local = r.domain[0] ? smtp_domain_is_local(s->cfg, r.domain) : 1;  /* bare <Postmaster> */
    if (!r.local && !s->auth_user[0]) { smtp_reply(s, "550 5.7.1 Relay access denied"); return; }
    if (!r.local && !s->cfg->smarthost_host) { smtp_reply(s, "550 5.7.1 Relaying is not configured here"); return; }
    mail_rcpt mr = { r.addr, r.user, r.domain, r.local };
    smtp_sync_info(s);
    if (h && h->rcpt_to) h->rcpt_to(smtp_app(s), &s->info, &mr, &v);
    if (smtp_verdict_reply(s, &v)) return;
    /* RFC 5321 4.5.1: postmaster is always accepted (mail/postmaster/ until a user or rule claims it). */
    if (r.local && v.kind != MAIL_ACCEPT && strcmp(r.user, "postmaster") != 0 && !users_exists(smtp_site(s), r.user)) {
        smtp_reply(s, "550 5.1.1 <%s>: no such user here", r.addr);
        return;
    }
    smtp_rcpt *n = realloc(s->rcpt, (s->nrcpt + 1) * sizeof *n);
    if (!n) { smtp_reply(s, "452 4.3.1 Out of memory"); return; }
    s->rcpt = n;
    s->rcpt[s->nrcpt++] = r;
    smtp_enter_state(s, SMTP_S_RCPT);
    smtp_reply(s, "250 2.1.5 Ok");
}

static void smtp_do_data(smtp_sess *s, smtp_cmd *cmd)
{
    smtp_data_init(&s->data, s->cfg->max_message_size);
    buf_reset(&s->msg);
    smtp_enter_state(s, SMTP_S_BODY);
    smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void smtp_do_rset(smtp_sess *s, smtp_cmd *cmd) { smtp_tx_reset(s); smtp_reply(s, "250 2.0.0 Ok"); }
static void smtp_do_noop(smtp_sess *s, smtp_cmd *cmd) { smtp_reply(s, "250 2.0.0 Ok"); }
static void smtp_do_vrfy(smtp_sess *s, smtp_cmd *cmd) { smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery"); }
static void smtp_do_expn(smtp_sess *s, smtp_cmd *cmd) { smtp_reply(s, "502 5.5.1 EXPN not available"); }

static void smtp_do_quit(smtp_sess *s, smtp_cmd *cmd)
{
    smtp_reply(s, "221 2.0.0 Bye");
    smtp_enter_state(s, SMTP_S_QUIT);
    conn_close(s->c);
}

static void smtp_tls_ready(conn *c);

static void smtp_do_starttls(smtp_sess *s, smtp_cmd *cmd)
{
    smtp_reply(s, "220 2.0.0 Ready to start TLS");
    smtp_enter_state(s, SMTP_S_TLS);
    buf_reset(&s->in);  /* RFC 3207 4.2: nothing pipelined across the handshake */
    if (conn_starttls(s->c, smtp_tls_ready) < 0) { smtp_enter_state(s, SMTP_S_QUIT); conn_close(s->c); }
}

/* ---- AUTH PLAIN / LOGIN ---- */

static void smtp_auth_verify(smtp_sess *s, const char *user, const char *pass)
{
    if (users_check(smtp_site(s), user, pass)) {
        snprintf(s->auth_user, sizeof s->auth_user, "%s", user);
        smtp_sync_info(s);
        smtp_enter_state(s, SMTP_S_HELO);
        smtp_reply(s, "235 2.7.0 Authentication successful");
        return;
    }
    /* The 535 leaves after a delay (a timer, never a sleep); input waits. */
    s->auth_fails++;
    log_warn("smtp: failed AUTH for \"%s\" from %s (%d)", user, s->c->remote_addr, s->auth_fails);
    smtp_enter_state(s, SMTP_S_AUTH_WAIT);
    conn_timer(s->c, smtp_auth_delay_ms ? smtp_auth_delay_ms : 1);
}

/* A base64 line from the client during AUTH; "*" cancels. <0: replied. */
static long smtp_auth_decode(smtp_sess *s, const char *line, size_t len, char *out, size_t outcap)
{
    if (len == 1 && line[0] == '*') { smtp_enter_state(s, SMTP_S_HELO); smtp_reply(s, "501 5.0.0 Authentication cancelled"); return -1; }
    if (len == 1 && line[0] == '=') { out[0] = 0; return 0; }
    long n = smtp_b64_decode(line, len, out, outcap);
    if (n < 0) { smtp_enter_state(s, SMTP_S_HELO); smtp_reply(s, "501 5.5.2 Cannot decode base64 response"); }
    return n;
}

static void smtp_auth_plain_response(smtp_sess *s, const char *line, size_t len)
{
    char dec[800], user[65], pass[512];
    long n = smtp_auth_decode(s, line, len, dec, sizeof dec);
    if (n < 0) return;
    if (smtp_auth_plain(dec, (size_t)n, user, sizeof user, pass, sizeof pass) < 0) {
        smtp_enter_state(s, SMTP_S_HELO);
        smtp_reply(s, "501 5.5.2 Malformed AUTH PLAIN response");
        return;
    }
    smtp_auth_verify(s, user, pass);
    memset(pass, 0, sizeof pass);
}

static void smtp_auth_login_response(smtp_sess *s, const char *line, size_t len)
{
    char dec[800];
    long n = smtp_auth_decode(s, line, len, dec, sizeof dec);
    if (n < 0) return;
    if (memchr(dec, 0, (size_t)n)) { smtp_enter_state(s, SMTP_S_HELO); smtp_reply(s, "501 5.5.2 Malformed AUTH LOGIN response"); return; }
    if (s->state == SMTP_S_AUTH_USER) {
        if ((size_t)n >= sizeof s->login_user) { smtp_enter_state(s, SMTP_S_HELO); smtp_reply(s, "501 5.5.2 User name too long"); return; }
        memcpy(s->login_user, dec, (size_t)n + 1);
        smtp_enter_state(s, SMTP_S_AUTH_PASS);
        smtp_reply(s, "334 UGFzc3dvcmQ6");  /* "Password:" */
        return;
    }
    smtp_auth_verify(s, s->login_user, dec);
    memset(dec, 0, sizeof dec);
}

static void smtp_do_auth(smtp_sess *s, smtp_cmd *cmd)
{
    int plain = strcmp(cmd->mech, "PLAIN") == 0;
    if (!cmd->initial) {
        smtp_enter_state(s, plain ? SMTP_S_AUTH_PLAIN : SMTP_S_AUTH_USER);
        smtp_reply(s, plain ? "334 " : "334 VXNlcm5hbWU6");  /* "Username:" */
        return;
    }
    smtp_enter_state(s, plain ? SMTP_S_AUTH_PLAIN : SMTP_S_AUTH_USER);
    if (plain) smtp_auth_plain_response(s, cmd->initial, cmd->initial_len);
    else smtp_auth_login_response(s, cmd->initial, cmd->initial_len);
}

/* ---- the command table ---- */

static void smtp_do_help(smtp_sess *s, smtp_cmd *cmd);

static const struct smtp_command {
    int         verb;
    const char *usage;
    int       (*check)(smtp_sess *s, smtp_cmd *cmd);
    void      (*proceed)(smtp_sess *s, smtp_cmd *cmd);
} smtp_commands[] = {
    { SMTP_HELO,     "HELO hostname - say hello (plain SMTP)",                 NULL,                smtp_do_helo },
    { SMTP_EHLO,     "EHLO hostname - say hello and list extensions",         NULL,                smtp_do_ehlo },
    { SMTP_STARTTLS, "STARTTLS - switch the connection to TLS",               smtp_check_starttls, smtp_do_starttls },
    { SMTP_AUTH,     "AUTH PLAIN|LOGIN [initial-response] - log in (over TLS)", smtp_check_auth,   smtp_do_auth },
    { SMTP_MAIL,     "MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8] - start a message", smtp_check_mail, smtp_do_mail },
    { SMTP_RCPT,     "RCPT TO:<address> - add a recipient",                    smtp_check_rcpt,     smtp_do_rcpt },
    { SMTP_DATA,     "DATA - send the message, end with a line holding one dot", smtp_check_data,  smtp_do_data },
    { SMTP_RSET,     "RSET - abandon the current message",                     NULL,                smtp_do_rset },
    { SMTP_NOOP,     "NOOP - do nothing",                                      NULL,                smtp_do_noop },
    { SMTP_VRFY,     "VRFY address - not answered (252)",                       NULL,                smtp_do_vrfy },
    { SMTP_EXPN,     "EXPN list - not available",                              NULL,                smtp_do_expn },
    { SMTP_HELP,     "HELP [command] - this list",                             NULL,                smtp_do_help },
    { SMTP_QUIT,     "QUIT - say goodbye",                                     NULL,                smtp_do_quit },
};
#define SMTP_NCOMMANDS (sizeof smtp_commands / sizeof smtp_commands[0])

static void smtp_do_help(smtp_sess *s, smtp_cmd *cmd)
{
    if (cmd->arg_len) {
        for (size_t i = 0; i < SMTP_NCOMMANDS; i++) {
            const char *v = smtp_verb_name(smtp_commands[i].verb);
            if (strlen(v) == cmd->arg_len && strncasecmp(v, cmd->arg, cmd->arg_len) == 0) {
                smtp_reply(s, "214 2.0.0 %s", smtp_commands[i].usage);
                return;
            }
        }
        smtp_reply(s, "504 5.5.1 HELP: unknown command");
        return;
    }
    smtp_reply(s, "214-2.0.0 atto SMTP server; commands:");
    for (size_t i = 0; i < SMTP_NCOMMANDS; i++) smtp_reply(s, "214-2.0.0   %s", smtp_commands[i].usage);
    smtp_reply(s, "214 2.0.0 End of HELP");
}

/* Too many errors on one connection: it is not a mail client. */
static void smtp_error(smtp_sess *s)
{
    if (++s->errors < SMTP_MAX_ERRORS) return;
    smtp_reply(s, "421 4.7.0 Too many errors, closing connection");
    smtp_enter_state(s, SMTP_S_QUIT);
    conn_close(s->c);
}

static void smtp_command(smtp_sess *s, const char *line, size_t len)
{
    smtp_cmd cmd;
    const char *err = NULL;
    if (smtp_trace > 0) log_info("smtp %llu: < %.*s", (unsigned long long)s->c->id, (int)(len > 200 ? 200 : len), line);
    if (s->state == SMTP_S_AUTH_PLAIN || s->state == SMTP_S_AUTH_USER || s->state == SMTP_S_AUTH_PASS) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (s->state == SMTP_S_AUTH_PLAIN) smtp_auth_plain_response(s, line, len);
        else smtp_auth_login_response(s, line, len);
        return;
    }
    int rc = smtp_parse_line(line, len, &cmd, &err);
    if (rc < 0) { smtp_reply(s, "%d %s", -rc, err); smtp_error(s); return; }
    for (size_t i = 0; i < SMTP_NCOMMANDS; i++) {
        const struct smtp_command *t = &smtp_commands[i];
        if (t->verb != cmd.verb) continue;
        if (t->check && t->check(s, &cmd) < 0) { smtp_error(s); return; }
        t->proceed(s, &cmd);
        return;
    }
    smtp_reply(s, "502 5.5.1 Command not implemented");
}

/* ---- DATA: the body, then delivery ---- */

static void smtp_finish_message(smtp_sess *s)
{
    const smtp_data *d = &s->data;
    if (d->too_big) smtp_reply(s, "552 5.3.4 Message too big (max %zu bytes)", s->cfg->max_message_size);
    else if (d->line_too_long) smtp_reply(s, "500 5.5.6 Line too long (max 1000 bytes with CRLF)");
    else if (d->bare_eol) smtp_reply(s, "554 5.6.0 Bare CR or LF in message; lines must end with CRLF");
    else {
        mail_verdict v;
        smtp_sync_info(s);
        smtp_envelope e = { smtp_site(s), s->cfg, smtp_hooks(s), smtp_app(s), &s->info, s->from,
                            s->rcpt, s->nrcpt, s->id, s->hostname, s->esmtp };
        if (smtp_deliver(&e, buf_head(&s->msg), buf_size(&s->msg), &v) < 0) smtp_verdict_reply(s, &v);
        else smtp_reply(s, "250 2.0.0 Ok: queued as %s", s->id);
    }
    smtp_tx_reset(s);
    if (s->c->w && s->c->w->draining) {
        smtp_reply(s, "421 4.3.2 Server shutting down");
        smtp_enter_state(s, SMTP_S_QUIT);
        conn_close(s->c);
    }
}

static void smtp_body(smtp_sess *s)
{
    size_t len = buf_size(&s->in), olen = 0;
    char *out = (s->data.too_big || s->data.line_too_long || s->data.bare_eol) ? NULL : buf_tail(&s->msg, len + 1);
    char scratch[1];
    size_t used = smtp_data_feed(&s->data, buf_head(&s->in), len, out ? out : scratch, &olen);
    if (out) buf_commit(&s->msg, olen);
    buf_consume(&s->in, used);
    if (s->data.too_big || s->data.line_too_long || s->data.bare_eol) buf_free(&s->msg);
    if (s->data.done) smtp_finish_message(s);
}

/* Process every complete line in order; stop while an answer is pending. */
static void smtp_process(smtp_sess *s)
{
    while (buf_size(&s->in) > 0) {
        if (s->state == SMTP_S_AUTH_WAIT || s->state == SMTP_S_TLS || s->state == SMTP_S_QUIT) return;
        s->cfg = NULL;
        const mail_hooks *h = smtp_hooks(s);
        if (h && h->config) s->cfg = h->config(smtp_app(s));
        if (!s->cfg) s->cfg = &smtp_default_cfg;
        if (s->state == SMTP_S_BODY) { smtp_body(s); continue; }
        const char *p = buf_head(&s->in);
        if (s->skipping) {
            const char *lf = memchr(p, '\n', buf_size(&s->in));
            if (!lf) { buf_reset(&s->in); return; }
            buf_consume(&s->in, (size_t)(lf - p) + 1);
            s->skipping = 0;
            continue;
        }
        long n = smtp_line_find(p, buf_size(&s->in));
        if (n == 0) return;
        if (n < 0) {
            smtp_reply(s, "500 5.5.6 Line too long");
            s->skipping = 1;
            if (s->state >= SMTP_S_AUTH_PLAIN && s->state <= SMTP_S_AUTH_PASS) smtp_enter_state(s, SMTP_S_HELO);
            smtp_error(s);
            continue;
        }
        buf_consume(&s->in, (size_t)n);  /* the bytes stay in place until the next append */
        smtp_command(s, p, (size_t)n);
    }
}

/* ---- the conn_proto callbacks ---- */

static int smtp_open_common(conn *c, int submission)
{
    smtp_sess *s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->c = c;
    s->submission = submission;
    c->proto_data = s;
    if (gethostname(s->hostname, sizeof s->hostname - 1) != 0 || !s->hostname[0]) strcpy(s->hostname, "localhost");
    s->info.remote_addr = c->remote_addr;
    s->info.remote_port = c->remote_port;
    const mail_hooks *h = smtp_hooks(s);
    s->cfg = h && h->config ? h->config(smtp_app(s)) : NULL;
    if (!s->cfg) s->cfg = &smtp_default_cfg;
    if (s->cfg->smarthost_host && c->w && c->w->cfg) mail_queue_start(conn_loop(c), smtp_site(s), s->cfg);
    smtp_enter_state(s, SMTP_S_CONNECTED);
    smtp_sync_info(s);
    mail_verdict v = { 0 };
    if (h && h->connect) h->connect(smtp_app(s), &s->info, &v);
    if (smtp_verdict_reply(s, &v)) { smtp_enter_state(s, SMTP_S_QUIT); conn_close(c); return 0; }
    smtp_reply(s, "220 %s ESMTP atto", s->hostname);
    conn_timer(c, smtp_idle_ms);
    return 0;
}

static int smtp_open(conn *c) { return smtp_open_common(c, 0); }
static int submission_open(conn *c) { return smtp_open_common(c, 1); }

static void smtp_read(conn *c, const char *data, size_t len)
{
    smtp_sess *s = c->proto_data;
    if (s->state == SMTP_S_TLS || s->state == SMTP_S_QUIT) return;
    buf_append(&s->in, data, len);
    smtp_process(s);
    if (s->state != SMTP_S_AUTH_WAIT && s->state != SMTP_S_QUIT) conn_timer(c, smtp_idle_ms);
}

static void smtp_timeout(conn *c)
{
    smtp_sess *s = c->proto_data;
    if (s->state != SMTP_S_AUTH_WAIT) {
        smtp_reply(s, "421 4.4.2 %s Idle timeout, closing connection", s->hostname);
        smtp_enter_state(s, SMTP_S_QUIT);
        conn_close(c);
        return;
    }
    smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
    if (s->auth_fails >= SMTP_MAX_AUTH_FAILS) {
        smtp_reply(s, "421 4.7.0 Too many failed authentications, closing connection");
        smtp_enter_state(s, SMTP_S_QUIT);
        conn_close(c);
        return;
    }
    smtp_enter_state(s, SMTP_S_HELO);
    smtp_process(s);
    if (s->state != SMTP_S_AUTH_WAIT && s->state != SMTP_S_QUIT) conn_timer(c, smtp_idle_ms);
}

/* STARTTLS done: a fresh session, as if just connected (no new greeting). */
static void smtp_tls_ready(conn *c)
{
    smtp_sess *s = c->proto_data;
    smtp_tx_reset(s);
    buf_reset(&s->in);
    s->helo[0] = s->auth_user[0] = s->login_user[0] = 0;
    s->esmtp = 0;
    s->skipping = 0;
    smtp_enter_state(s, SMTP_S_CONNECTED);
    smtp_sync_info(s);
    conn_timer(c, smtp_idle_ms);
}

static void smtp_eof(conn *c)
{
    smtp_sess *s = c->proto_data;
    if (s->state == SMTP_S_BODY)
        log_info("smtp %llu: client left during DATA, nothing delivered", (unsigned long long)c->id);
    smtp_tx_reset(s);
    smtp_enter_state(s, SMTP_S_QUIT);
    conn_close(c);
}

static void smtp_drain(conn *c)
{
    smtp_sess *s = c->proto_data;
    if (s->state == SMTP_S_BODY || s->state == SMTP_S_AUTH_WAIT || s->state == SMTP_S_TLS) return;  /* finish first */
    if (s->state == SMTP_S_QUIT) return;
    smtp_reply(s, "421 4.3.2 Server shutting down");
    smtp_enter_state(s, SMTP_S_QUIT);
    conn_close(c);
}

static void smtp_close(conn *c)
{
    smtp_sess *s = c->proto_data;
    if (!s) return;
    buf_free(&s->in);
    buf_free(&s->msg);
    free(s->rcpt);
    free(s);
    c->proto_data = NULL;
}

const conn_proto smtp_proto = {
    "smtp", smtp_open, smtp_read, NULL, smtp_timeout, smtp_eof, smtp_close, smtp_drain
};
const conn_proto submission_proto = {
    "submission", submission_open, smtp_read, NULL, smtp_timeout, smtp_eof, smtp_close, smtp_drain
};
