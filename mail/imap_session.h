/*
 * imap_session.h — the IMAP4rev1 server protocol (RFC 3501 with LITERAL+,
 * IDLE, UIDPLUS, MOVE, NAMESPACE, ID, SPECIAL-USE, UNSELECT, CHILDREN,
 * SASL-IR, APPENDLIMIT) over the site's Maildir store. The same table
 * serves the IMAP port (with STARTTLS) and the IMAPS port (implicit TLS is
 * done by conn.c; the protocol only sees plaintext). See docs/imap.md.
 */
#ifndef ATTO_IMAP_SESSION_H
#define ATTO_IMAP_SESSION_H
#include "core/conn.h"

extern const conn_proto imap_proto;
#endif
