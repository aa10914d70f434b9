/*
 * smtp_parse.h — the pure part of the SMTP server: command lines, addresses,
 * ESMTP parameters, AUTH payloads and the DATA body (RFC 5321, 3207, 4954,
 * 6152, 6531, 1870). No I/O: bytes in, results and consumed counts out.
 *
 * Errors are negative SMTP reply codes (-500, -501, -504, -553, -555) with
 * the rest of the reply ("5.5.4 Syntax: MAIL FROM:<address>") in *err, so
 * the session can answer `code err` directly.
 */
#ifndef ATTO_MAIL_SMTP_PARSE_H
#define ATTO_MAIL_SMTP_PARSE_H
#include <stddef.h>

#define SMTP_CMD_MAX      512   /* a command line with CRLF (RFC 5321 4.5.3.1.4) */
#define SMTP_LINE_MAX     1000  /* MAIL/RCPT with parameters, AUTH, text lines */
#define SMTP_LOCAL_MAX    64
#define SMTP_DOMAIN_MAX   255
#define SMTP_PATH_MAX     256   /* with the angle brackets */

enum smtp_verb {
    SMTP_UNKNOWN = 0, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
    SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_HELP, SMTP_VRFY, SMTP_EXPN,
    SMTP_STARTTLS, SMTP_AUTH, SMTP_VERBS
};

enum smtp_body { SMTP_BODY_NONE = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

typedef struct smtp_cmd {
    int         verb;             /* enum smtp_verb */
    const char *arg;              /* the text after the verb and one space (not NUL-terminated) */
    size_t      arg_len;
    /* MAIL / RCPT */
    char        addr[SMTP_PATH_MAX + 1];  /* without <>; "" for the null path */
    size_t      local_len;        /* addr[0..local_len) is the local part ("Postmaster": all) */
    int         utf8_addr;        /* the address has non-ASCII bytes */
    long long   size;             /* SIZE=, -1 when absent */
    int         body;             /* enum smtp_body */
    int         smtputf8;         /* SMTPUTF8 parameter given */
    /* AUTH */
    char        mech[21];         /* "PLAIN", "LOGIN" (upper-cased) */
    const char *initial;          /* initial response (base64) or NULL */
    size_t      initial_len;
} smtp_cmd;

/* Verb name ("MAIL"), for HELP and traces. */
const char *smtp_verb_name(int verb);

/* Find one line in [data, data+len): returns its length including the LF
 * (CRLF or a bare LF ends a command line), 0 when more bytes are needed, or
 * -500 ("5.5.6 Line too long") when no LF comes within SMTP_LINE_MAX bytes. */
long smtp_line_find(const char *data, size_t len);

/* Parse one command line (without or with its CRLF). 0 ok or -code. */
int smtp_parse_line(const char *line, size_t len, smtp_cmd *cmd, const char **err);

/* Check a mailbox "local@domain" (or "Postmaster" when allow_postmaster).
 * 0 ok, else -1 with the reason in *err. Sets *local_len. */
int smtp_check_mailbox(const char *addr, size_t len, int allow_postmaster, size_t *local_len, const char **err);

/* Base64 (RFC 4648, with padding). Decode returns the length or -1 on bad
 * input or when it would not fit (out is NUL-terminated, so outcap >= n+1). */
long smtp_b64_decode(const char *in, size_t len, char *out, size_t outcap);
size_t smtp_b64_encode(const void *in, size_t len, char *out, size_t outcap);

/* AUTH PLAIN's decoded "authzid\0authcid\0passwd": the authorization identity
 * must be empty or the same as authcid. 0 ok or -1. */
int smtp_auth_plain(const char *dec, size_t len, char *user, size_t ulen, char *pass, size_t plen);

/* The DATA body reader: finds CRLF.CRLF across any cut, removes stuffed
 * dots, counts the size, and keeps consuming (without output) after the
 * message has become too big or broken, so the reply comes at the right
 * time. The final CRLF before "." belongs to the message. */
typedef struct smtp_data {
    int    state;
    size_t line_len;        /* bytes on the current line so far */
    size_t size;            /* bytes of message (after un-stuffing) */
    size_t max_size;        /* 0: no limit */
    int    too_big;         /* size went over max_size */
    int    line_too_long;   /* a line went over SMTP_LINE_MAX (with CRLF) */
    int    bare_eol;        /* a CR or LF not in a CRLF pair */
    int    done;            /* the terminating CRLF.CRLF was seen */
} smtp_data;

void smtp_data_init(smtp_data *d, size_t max_size);
/* Feed bytes; writes message bytes to out (room for len + 1 needed) and
 * their count to *outlen. Returns the number of input bytes consumed: less
 * than len only when d->done became 1 (the rest is the next command). */
size_t smtp_data_feed(smtp_data *d, const char *in, size_t len, char *out, size_t *outlen);
#endif
