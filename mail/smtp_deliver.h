/*
 * smtp_deliver.h — what happens to an accepted message: the Received
 * header, the message rule (fileinto, discard, keep, redirect, add_header,
 * reply), durable delivery into every local copy's Maildir, and the outbound
 * queue for non-local recipients and redirects. All or nothing: when one
 * copy fails, the copies already made are removed so a retry by the client
 * does not duplicate them.
 */
#ifndef ATTO_MAIL_SMTP_DELIVER_H
#define ATTO_MAIL_SMTP_DELIVER_H
#include <stddef.h>
#include "mail/hooks.h"

typedef struct smtp_rcpt {
    char addr[257];     /* as given, without <> */
    char user[65];      /* lower-cased local part, for local recipients */
    char domain[256];
    int  local;
} smtp_rcpt;

typedef struct smtp_envelope {
    const char         *site_dir;
    const mail_config  *cfg;
    const mail_hooks   *hooks;    /* may be NULL */
    void               *app;
    mail_session_info  *info;
    const char         *from;     /* "" for <> */
    const smtp_rcpt    *rcpt;
    size_t              nrcpt;
    const char         *id;       /* queue id, for Received and logs */
    const char         *hostname;
    int                 esmtp;    /* EHLO (1) or HELO (0) */
} smtp_envelope;

/* Build "Received: ...\r\n" into out. */
void smtp_received(const smtp_envelope *e, char *out, size_t outlen);
/* Run the message rule and deliver. 0: every copy is durable (reply 250).
 * <0: *v holds the reply (the rule's reject/defer, or 451 4.3.0 on a
 * delivery failure, with the reason logged). */
int smtp_deliver(const smtp_envelope *e, const char *data, size_t len, mail_verdict *v);
/* 1 when domain is one of cfg's local domains (case-insensitive). */
int smtp_domain_is_local(const mail_config *cfg, const char *domain);

/* Test hook: when non-NULL, called instead of mail_queue_submit. */
extern int (*smtp_queue_submit_hook)(const char *site_dir, const char *from, const char *const *to, size_t nto,
                                     const char *data, size_t len, char *err, size_t errlen);
#endif
