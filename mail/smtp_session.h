/*
 * smtp_session.h — the SMTP server side of a connection (RFC 5321).
 *
 * Two conn_protos: smtp_proto for inbound mail (port 25 style: accepts mail
 * for the site's local domains; relays only for an authenticated client)
 * and submission_proto (port 587/465 style: AUTH required before MAIL).
 * Rules come from the worker's mail hooks (mail/hooks.h); delivery goes to
 * Maildir (mail/maildir.h) and the outbound queue (mail/queue.h).
 * Set ATTO_TRACE_SMTP=1 to log every state change and command.
 */
#ifndef ATTO_MAIL_SMTP_SESSION_H
#define ATTO_MAIL_SMTP_SESSION_H
#include "core/conn.h"

extern const conn_proto smtp_proto, submission_proto;

/* Tunables (tests shorten them): failed-AUTH delay, idle timeout. */
extern unsigned smtp_auth_delay_ms;   /* 1000 */
extern unsigned smtp_idle_ms;         /* 300000 (RFC 5321 4.5.3.2) */
#endif
