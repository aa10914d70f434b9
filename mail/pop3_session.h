/*
 * pop3_session.h — the POP3 server protocol (RFC 1939 + RFC 2449 CAPA,
 * STLS) over the user's INBOX Maildir; also used on the POP3S port
 * (implicit TLS is done by conn.c). See docs/pop3.md.
 */
#ifndef ATTO_POP3_SESSION_H
#define ATTO_POP3_SESSION_H
#include "core/conn.h"

extern const conn_proto pop3_proto;
#endif
