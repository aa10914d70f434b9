/*
 * hooks.h — the small C interface between the mail protocols and the rules.
 *
 * SMTP (and the delivery path) call these hooks; the Lua layer
 * (lua/lmail.c, running mail.lua) implements them. Mail code never includes
 * lua.h. Every hook may be NULL (no rule: go on). A hook that raises an error
 * in Lua reports MAIL_DEFER with 451 — mail is never lost to a script bug.
 */
#ifndef ATTO_MAIL_HOOKS_H
#define ATTO_MAIL_HOOKS_H
#include <stddef.h>

/* MAIL_ACCEPT (rcpt_to only): a rule looked at this recipient and let it
 * through — the rule, not users.passwd, decides who exists (SPEC §5). */
enum mail_verdict_kind { MAIL_CONTINUE = 0, MAIL_REJECT = 1, MAIL_DEFER = 2, MAIL_ACCEPT = 3 };

typedef struct mail_verdict {
    int  kind;          /* enum mail_verdict_kind */
    int  code;          /* 5xx for reject, 4xx for defer */
    char text[256];     /* "5.1.1 No such user" */
} mail_verdict;

typedef struct mail_config {
    const char *const *domains;  size_t ndomains;   /* local domains */
    const char *smarthost_host;  int smarthost_port; /* NULL: no outbound */
    size_t max_message_size;     /* default 25 MiB */
    int    plaintext_auth;       /* allow AUTH/LOGIN/USER without TLS on loopback */
} mail_config;

typedef struct mail_session_info {
    const char *remote_addr;
    int         remote_port;
    const char *helo;            /* NULL before HELO/EHLO */
    const char *auth_user;       /* NULL unless authenticated */
    int         tls;
} mail_session_info;

typedef struct mail_rcpt {
    const char *address;         /* "alice@example.test" */
    const char *user;            /* "alice" (local part) */
    const char *domain;          /* "example.test" */
    int         is_local;
} mail_rcpt;

/* What a message rule asked for. One action list applies to every local
 * recipient's copy; redirects add recipients. Strings are owned by the
 * hook implementation and valid until the next hook call on this worker. */
enum mail_action_kind {
    MAIL_ACT_KEEP, MAIL_ACT_FILEINTO, MAIL_ACT_DISCARD, MAIL_ACT_REDIRECT,
    MAIL_ACT_ADD_HEADER, MAIL_ACT_REPLY
};
typedef struct mail_action {
    int         kind;
    const char *a;   /* folder, redirect address, header name, reply subject */
    const char *b;   /* header value, reply body */
} mail_action;

typedef struct mail_message {
    const char        *from;      /* envelope sender ("" for <>) */
    const char *const *to;        /* envelope recipients */
    size_t             nto;
    const char        *data;      /* the whole message, headers + body, CRLF lines */
    size_t             size;
    mail_session_info *session;
} mail_message;

typedef struct mail_hooks {
    const mail_config *(*config)(void *app);
    void (*connect)(void *app, const mail_session_info *s, mail_verdict *v);
    void (*helo)(void *app, const mail_session_info *s, const char *name, mail_verdict *v);
    void (*mail_from)(void *app, const mail_session_info *s, const char *from, mail_verdict *v);
    void (*rcpt_to)(void *app, const mail_session_info *s, const mail_rcpt *r, mail_verdict *v);
    /* After DATA, before the 250. Fills actions (at most max); returns count. */
    size_t (*message)(void *app, const mail_message *m, mail_action *actions, size_t max, mail_verdict *v);
} mail_hooks;
#endif
