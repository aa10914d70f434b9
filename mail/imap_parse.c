/*
 * imap_parse.c — IMAP command scanner and parser; see imap_parse.h.
 *
 * The scanner walks the input once: it looks for the LF that ends each line
 * segment, tracks whether it is inside a quoted string (a `{5}` inside quotes
 * is text, not a literal), and when a segment ends in `{n}` / `{n+}` it
 * checks n against the limits and then passes over n raw bytes. The parser
 * runs on a complete command, so it never has to wait; it recurses once per
 * parenthesis level (bounded by max_depth) and collects each list into a
 * temporary vector that is copied into the command's arena when it closes.
 */
#include "mail/imap_parse.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stddef.h>

/* ---- arena ------------------------------------------------------------ */

typedef struct arena_blk { struct arena_blk *next; max_align_t data[]; } arena_blk;

void *imap_alloc(imap_cmd *cmd, size_t n)
{
    arena_blk *b = malloc(sizeof *b + (n ? n : 1));
    if (!b) {
        fputs("atto: out of memory\n", stderr);
        abort();
    }
    b->next = cmd->arena;
    cmd->arena = b;
    return b->data;
}

void imap_cmd_free(imap_cmd *cmd)
{
    arena_blk *b = cmd->arena;
    while (b) {
        arena_blk *n = b->next;
        free(b);
        b = n;
    }
    memset(cmd, 0, sizeof *cmd);
}

/* ---- scanner ---------------------------------------------------------- */

/* Does seg[0..n) (ending in LF) end with a literal announcement? Returns 0
 * no, 1 yes (size in *size, *nonsync), -1 malformed, -2 too large. */
static int scan_literal_tail(const char *seg, size_t n, uint64_t *size, int *nonsync)
{
    size_t e = n - 1;                       /* the LF */
    if (e > 0 && seg[e - 1] == '\r')
        e--;
    if (e == 0 || seg[e - 1] != '}')
        return 0;
    size_t close = e - 1, open = close;
    while (open > 0 && seg[open - 1] != '{' && close - open < 24)
        open--;
    if (open == 0 || seg[open - 1] != '{')
        return 0;
    const char *d = seg + open, *end = seg + close;
    *nonsync = 0;
    if (end > d && end[-1] == '+') {
        *nonsync = 1;
        end--;
    }
    if (d == end)
        return -1;
    uint64_t v = 0;
    for (; d < end; d++) {
        if (*d < '0' || *d > '9')
            return -1;
        if (v > (UINT64_C(1) << 40))
            return -2;
        v = v * 10 + (uint64_t)(*d - '0');
    }
    *size = v;
    return 1;
}

static void scan_reset(imap_scan *st) { memset(st, 0, sizeof *st); }

int imap_scan_next(imap_scan *st, const char *buf, size_t len,
                   const imap_limits *lim, size_t *cmdlen, const char **err)
{
    size_t i = st->pos;
    for (;;) {
        if (st->lit_left) {
            size_t take = len - i < st->lit_left ? len - i : st->lit_left;
            i += take;
            st->lit_left -= take;
            st->pos = i;
            if (st->lit_left)
                return IMAP_SCAN_MORE;
            st->seg_start = i;
        }
        while (i < len && buf[i] != '\n') {
            char ch = buf[i++];
            if (st->in_quote) {
                if (st->escape) st->escape = 0;
                else if (ch == '\\') st->escape = 1;
                else if (ch == '"') st->in_quote = 0;
            } else if (ch == '"') {
                st->in_quote = 1;
            }
            if (st->line_bytes + (i - st->seg_start) > lim->max_line) {
                *err = "line too long";
                scan_reset(st);
                return IMAP_SCAN_ELINE;
            }
        }
        st->pos = i;
        if (i == len)
            return IMAP_SCAN_MORE;
        i++;                                        /* the LF */
        size_t seg = i - st->seg_start;
        st->line_bytes += seg;
        uint64_t size = 0;
        int nonsync = 0, r = 0;
        if (!st->in_quote)
            r = scan_literal_tail(buf + st->seg_start, seg, &size, &nonsync);
        st->in_quote = st->escape = 0;
        if (r == 0) {
            *cmdlen = i;
            scan_reset(st);
            return IMAP_SCAN_DONE;
        }
        if (r == -1) {
            *err = "malformed literal size";
            *cmdlen = i;
            scan_reset(st);
            return IMAP_SCAN_EBADLIT;
        }
        if (r == -2 || size > lim->max_literal || st->lit_bytes + size > lim->max_literal) {
            *err = "literal too large";
            *cmdlen = i;
            scan_reset(st);
            return nonsync ? IMAP_SCAN_ETOOBIG_NONSYNC : IMAP_SCAN_ETOOBIG;
        }
        st->lit_left = (size_t)size;
        st->lit_bytes += (size_t)size;
        st->seg_start = i;
        st->pos = i;
        if (!nonsync)
            return IMAP_SCAN_CONTINUE;
        if (!st->lit_left)
            continue;
    }
}

/* ---- parser ----------------------------------------------------------- */

typedef struct parser {
    char *p, *end;
    imap_cmd *cmd;
    const imap_limits *lim;
    const char *err;
} parser;

typedef struct argvec { imap_arg *v; size_t n, cap; } argvec;

static void vec_push(argvec *av, const imap_arg *a)
{
    if (av->n == av->cap) {
        size_t cap = av->cap ? av->cap * 2 : 8;
        imap_arg *nv = realloc(av->v, cap * sizeof *nv);
        if (!nv) {
            fputs("atto: out of memory\n", stderr);
            abort();
        }
        av->v = nv;
        av->cap = cap;
    }
    av->v[av->n++] = *a;
}

static int is_atom_char(char c)
{
    unsigned char u = (unsigned char)c;
    if (u <= 0x20 || u == 0x7f)
        return 0;
    return c != '(' && c != ')' && c != '{' && c != '"';
}

static int parse_atom(parser *ps, imap_arg *a)
{
    char *s = ps->p;
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == '[') {                 /* BODY[...]: runs to the matching ']' */
            char *q = ps->p + 1;
            while (q < ps->end && *q != ']' && *q != '\r' && *q != '\n')
                q++;
            if (q >= ps->end || *q != ']') {
                ps->err = "missing ]";
                return -1;
            }
            ps->p = q + 1;
            continue;
        }
        if (!is_atom_char(c))
            break;
        ps->p++;
    }
    if (ps->p == s) {
        ps->err = "expected an atom";
        return -1;
    }
    a->type = IMAP_ATOM;
    a->s = s;
    a->len = (size_t)(ps->p - s);
    return 0;
}

static int parse_quoted(parser *ps, imap_arg *a)
{
    char *out = ++ps->p, *start = out;
    while (ps->p < ps->end) {
        char c = *ps->p++;
        if (c == '"') {
            a->type = IMAP_STRING;
            a->s = start;
            a->len = (size_t)(out - start);
            return 0;
        }
        if (c == '\r' || c == '\n' || c == '\0')
            break;
        if (c == '\\') {
            if (ps->p >= ps->end || (*ps->p != '\\' && *ps->p != '"'))
                break;
            c = *ps->p++;
        }
        *out++ = c;
    }
    ps->err = "bad quoted string";
    return -1;
}

static int parse_literal(parser *ps, imap_arg *a)
{
    uint64_t v = 0;
    char *q = ps->p + 1;
    if (q >= ps->end || *q < '0' || *q > '9')
        goto bad;
    while (q < ps->end && *q >= '0' && *q <= '9') {
        v = v * 10 + (uint64_t)(*q++ - '0');
        if (v > ps->lim->max_literal)
            goto bad;
    }
    if (q < ps->end && *q == '+')
        q++;
    if (q >= ps->end || *q++ != '}')
        goto bad;
    if (q < ps->end && *q == '\r')
        q++;
    if (q >= ps->end || *q++ != '\n')
        goto bad;
    if ((uint64_t)(ps->end - q) < v)
        goto bad;
    a->type = IMAP_STRING;
    a->literal = 1;
    a->s = q;
    a->len = (size_t)v;
    ps->p = q + v;
    return 0;
bad:
    ps->err = "bad literal";
    return -1;
}

static int at_eol(parser *ps)
{
    return ps->p >= ps->end || *ps->p == '\r' || *ps->p == '\n';
}

static int parse_list(parser *ps, int depth, argvec *out);

static int parse_one(parser *ps, int depth, imap_arg *a)
{
    memset(a, 0, sizeof *a);
    char c = *ps->p;
    if (c == '"')
        return parse_quoted(ps, a);
    if (c == '{')
        return parse_literal(ps, a);
    if (c == '(') {
        if (depth >= ps->lim->max_depth) {
            ps->err = "lists nested too deeply";
            return -1;
        }
        ps->p++;
        argvec av = {0};
        if (parse_list(ps, depth + 1, &av) < 0) {
            free(av.v);
            return -1;
        }
        if (ps->p >= ps->end || *ps->p != ')') {
            free(av.v);
            ps->err = "unbalanced parentheses";
            return -1;
        }
        ps->p++;
        a->type = IMAP_LIST;
        a->n = av.n;
        a->list = imap_alloc(ps->cmd, av.n * sizeof *a->list);
        if (av.n)
            memcpy(a->list, av.v, av.n * sizeof *a->list);
        free(av.v);
        return 0;
    }
    if (c == ')') {
        ps->err = "unbalanced parentheses";
        return -1;
    }
    return parse_atom(ps, a);
}

/* Arguments separated by spaces, up to ')' (depth > 0) or end of line. */
static int parse_list(parser *ps, int depth, argvec *out)
{
    for (;;) {
        while (ps->p < ps->end && *ps->p == ' ')
            ps->p++;
        if (at_eol(ps))
            return 0;
        if (*ps->p == ')') {
            if (depth == 0) {
                ps->err = "unbalanced parentheses";
                return -1;
            }
            return 0;
        }
        imap_arg a;
        if (parse_one(ps, depth, &a) < 0)
            return -1;
        vec_push(out, &a);
        if (!at_eol(ps) && *ps->p != ' ' && *ps->p != ')') {
            ps->err = "expected a space between arguments";
            return -1;
        }
    }
}

static int is_tag_char(char c)
{
    return is_atom_char(c) && c != '+' && c != '%' && c != '*' && c != '\\' && c != ']';
}

int imap_parse(char *p, size_t len, const imap_limits *lim, imap_cmd *cmd, const char **err)
{
    parser ps = { p, p + len, cmd, lim, NULL };
    argvec av = {0};
    memset(cmd, 0, sizeof *cmd);
    char *t = ps.p;
    while (ps.p < ps.end && is_tag_char(*ps.p))
        ps.p++;
    if (ps.p == t || ps.p >= ps.end || *ps.p != ' ') {
        ps.err = "missing tag";
        goto fail;
    }
    cmd->tag = t;
    cmd->tag_len = (size_t)(ps.p - t);
    ps.p++;
    char *n = ps.p;
    while (ps.p < ps.end && ((*ps.p >= 'A' && *ps.p <= 'Z') || (*ps.p >= 'a' && *ps.p <= 'z')
                             || (*ps.p >= '0' && *ps.p <= '9')))
        ps.p++;
    if (ps.p == n || (!at_eol(&ps) && *ps.p != ' ')) {
        ps.err = "missing or bad command name";
        goto fail;
    }
    cmd->name = n;
    cmd->name_len = (size_t)(ps.p - n);
    if (parse_list(&ps, 0, &av) < 0)
        goto fail;
    if (ps.p < ps.end && *ps.p == '\r')
        ps.p++;
    if (ps.p >= ps.end || *ps.p != '\n' || ps.p + 1 != ps.end) {
        ps.err = "junk at end of command";
        goto fail;
    }
    cmd->nargs = av.n;
    cmd->args = imap_alloc(cmd, av.n * sizeof *cmd->args);
    if (av.n)
        memcpy(cmd->args, av.v, av.n * sizeof *cmd->args);
    free(av.v);
    return 0;
fail:
    free(av.v);
    *err = ps.err;
    return -1;
}

/* ---- helpers ---------------------------------------------------------- */

int imap_atom_eq(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n; i++) {
        char a = s[i], b = word[i];
        if (!b)
            return 0;
        if (a >= 'a' && a <= 'z') a = (char)(a - 32);
        if (b >= 'a' && b <= 'z') b = (char)(b - 32);
        if (a != b)
            return 0;
    }
    return word[i] == '\0';
}

int imap_arg_is(const imap_arg *a, const char *word)
{
    return a && a->type == IMAP_ATOM && imap_atom_eq(a->s, a->len, word);
}

int imap_arg_astring(const imap_arg *a)
{
    return a && (a->type == IMAP_ATOM || a->type == IMAP_STRING);
}

int imap_arg_cstr(const imap_arg *a, char *out, size_t outlen)
{
    if (!imap_arg_astring(a) || a->len >= outlen || memchr(a->s, '\0', a->len))
        return -1;
    memcpy(out, a->s, a->len);
    out[a->len] = '\0';
    return 0;
}

static int seq_number(const char **s, const char *end, uint32_t *v)
{
    if (*s < end && **s == '*') {
        (*s)++;
        *v = 0;
        return 0;
    }
    uint64_t n = 0;
    const char *d = *s;
    while (*s < end && **s >= '0' && **s <= '9') {
        n = n * 10 + (uint64_t)(**s - '0');
        if (n > UINT32_MAX)
            return -1;
        (*s)++;
    }
    if (*s == d || n == 0)
        return -1;
    *v = (uint32_t)n;
    return 0;
}

int imap_seqset_parse(imap_cmd *cmd, const char *s, size_t len, imap_seqset *set)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == ',';
    set->r = imap_alloc(cmd, n * sizeof *set->r);
    set->n = 0;
    const char *end = s + len;
    if (len == 0)
        return -1;
    while (s < end) {
        imap_range r;
        if (seq_number(&s, end, &r.lo) < 0)
            return -1;
        r.hi = r.lo;
        if (s < end && *s == ':') {
            s++;
            if (seq_number(&s, end, &r.hi) < 0)
                return -1;
        }
        set->r[set->n++] = r;
        if (s < end && *s++ != ',')
            return -1;
        if (s == end && s[-1] == ',')
            return -1;
    }
    return 0;
}

int imap_seqset_has(const imap_seqset *set, uint32_t n, uint32_t star)
{
    for (size_t i = 0; i < set->n; i++) {
        uint32_t a = set->r[i].lo ? set->r[i].lo : star;
        uint32_t b = set->r[i].hi ? set->r[i].hi : star;
        if (a > b) { uint32_t t = a; a = b; b = t; }
        if (n >= a && n <= b)
            return 1;
    }
    return 0;
}
