/*
 * imap_parse.h — the IMAP4rev1 command codec (RFC 3501 §9, RFC 7888 LITERAL+).
 *
 * Pure: bytes in, results out; no sockets, no libuv, no TLS. Two stages:
 *
 * 1. imap_scan() finds where one command ends in the session's input buffer.
 *    A command is a line that may be cut by literals: `... {12}\r\n` followed
 *    by 12 raw bytes, then more line. The scanner is resumable (state in
 *    imap_scan, cut anywhere) and tells the session when a synchronizing
 *    literal was announced so it can send "+ Ready". It enforces the limits
 *    before any "+" goes out: line length (non-literal bytes per command),
 *    literal size, and refuses negative or malformed sizes.
 *
 * 2. imap_parse() turns one complete command into tag, name and a tree of
 *    arguments (atoms, strings, lists). Quoted strings are unescaped in place,
 *    strings point into the command buffer (zero copy), list nodes live in a
 *    per-command arena freed by imap_cmd_free(). An atom that contains `[`
 *    runs to the matching `]` (so `BODY[HEADER.FIELDS (FROM)]<0.10>` is one
 *    atom) — that is how RFC 3501 fetch attributes are shaped.
 *
 * Sequence sets (`1:3,7,9:*`) are kept as ranges, never expanded: a set like
 * 1:4294967295 costs one range. `*` is stored as 0 and resolved at use.
 */
#ifndef ATTO_IMAP_PARSE_H
#define ATTO_IMAP_PARSE_H
#include <stddef.h>
#include <stdint.h>

typedef struct imap_limits {
    size_t max_line;      /* non-literal bytes in one command (64 KiB) */
    size_t max_literal;   /* one literal, and all literals of a command (APPENDLIMIT) */
    int    max_depth;     /* list nesting (32) */
} imap_limits;

/* Scanner state for the command being collected; zero it to start. */
typedef struct imap_scan {
    size_t pos;        /* bytes of the buffer already examined */
    size_t seg_start;  /* start of the current (non-literal) line segment */
    size_t lit_left;   /* literal bytes still to pass over */
    size_t line_bytes; /* non-literal bytes so far */
    size_t lit_bytes;  /* literal bytes so far */
    int    in_quote, escape;
} imap_scan;

enum imap_scan_result {
    IMAP_SCAN_MORE = 0,       /* need more input */
    IMAP_SCAN_DONE = 1,       /* *cmdlen bytes are one whole command (with CRLF) */
    IMAP_SCAN_CONTINUE = 2,   /* a sync literal was accepted: send "+ ...", call again */
    IMAP_SCAN_ELINE = -1,     /* line too long: answer BAD, skip to the next LF */
    IMAP_SCAN_ETOOBIG = -2,   /* sync literal too big: answer NO [TOOBIG]; *cmdlen = line consumed */
    IMAP_SCAN_ETOOBIG_NONSYNC = -3, /* LITERAL+ too big: answer BAD [TOOBIG] and close */
    IMAP_SCAN_EBADLIT = -4,   /* malformed literal size: BAD; *cmdlen = line consumed */
};

/* Examine buf[0..len) (the command starts at buf[0]). Returns an enum
 * imap_scan_result; *cmdlen is set for DONE, ETOOBIG and EBADLIT. */
int imap_scan_next(imap_scan *st, const char *buf, size_t len,
                   const imap_limits *lim, size_t *cmdlen, const char **err);

enum imap_arg_type { IMAP_ATOM = 1, IMAP_STRING = 2, IMAP_LIST = 3 };

typedef struct imap_arg {
    int         type;
    int         literal;     /* IMAP_STRING given as a literal */
    const char *s;           /* atom or string bytes (not NUL-terminated) */
    size_t      len;
    struct imap_arg *list;   /* IMAP_LIST children */
    size_t      n;
} imap_arg;

typedef struct imap_cmd {
    const char *tag;  size_t tag_len;
    const char *name; size_t name_len;
    imap_arg   *args; size_t nargs;    /* after the command name */
    void       *arena;
} imap_cmd;

/* Parse one complete command (as delimited by imap_scan_next). Modifies the
 * buffer (quoted strings are unescaped in place). Returns 0 or -1 with *err;
 * on error cmd->tag is still set when a tag could be read (else NULL). */
int  imap_parse(char *p, size_t len, const imap_limits *lim, imap_cmd *cmd, const char **err);
void imap_cmd_free(imap_cmd *cmd);
/* Per-command scratch memory, freed with the command (aborts on OOM). */
void *imap_alloc(imap_cmd *cmd, size_t n);

/* Helpers on arguments. */
int  imap_arg_is(const imap_arg *a, const char *word);  /* atom equal, case-insensitive */
int  imap_arg_astring(const imap_arg *a);               /* atom or string */
/* Copy an astring into a NUL-terminated buffer; -1 when too long, not an
 * astring, or it contains a NUL. */
int  imap_arg_cstr(const imap_arg *a, char *out, size_t outlen);
int  imap_atom_eq(const char *s, size_t n, const char *word);

typedef struct imap_range { uint32_t lo, hi; } imap_range;   /* 0 = "*" */
typedef struct imap_seqset { imap_range *r; size_t n; } imap_seqset;

/* Parse "1:3,5,*" (allocated in the command's arena). -1 on bad syntax. */
int  imap_seqset_parse(imap_cmd *cmd, const char *s, size_t len, imap_seqset *set);
/* Is n in the set, with "*" meaning star (the largest number in use)? */
int  imap_seqset_has(const imap_seqset *set, uint32_t n, uint32_t star);
#endif
