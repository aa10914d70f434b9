/*
 * pop3_parse.h — the POP3 command codec (RFC 1939, RFC 2449). Pure.
 *
 * pop3_line() finds one CRLF- (or LF-) terminated line in the input and
 * enforces the RFC 2449 limit (255 octets with CRLF); pop3_parse() splits
 * it into a case-insensitive keyword and arguments. `rest` is everything
 * after the keyword and one space, so a PASS password may contain spaces.
 */
#ifndef ATTO_POP3_PARSE_H
#define ATTO_POP3_PARSE_H
#include <stddef.h>

#define POP3_MAX_LINE 255

typedef struct pop3_cmd {
    char        verb[5];      /* upper case, NUL-terminated */
    const char *arg[2];       /* space-separated arguments (not NUL-terminated) */
    size_t      arglen[2];
    int         nargs;        /* number of arguments (more than 2 counts as 3) */
    const char *rest;         /* after the keyword and one space */
    size_t      restlen;
} pop3_cmd;

/* 1: a line of *linelen bytes (with its LF) is ready; 0: need more;
 * -1: longer than max without an LF. */
int pop3_line(const char *p, size_t len, size_t max, size_t *linelen);
/* Parse one line (with or without CRLF). 0 ok, -1 with *err. */
int pop3_parse(const char *line, size_t len, pop3_cmd *cmd, const char **err);
/* A decimal message number or count (1..2^31); -1 if not one. */
long pop3_number(const char *s, size_t n);
#endif
