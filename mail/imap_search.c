/*
 * imap_search.c — SEARCH and UID SEARCH with every RFC 3501 search key.
 *
 * The keys are parsed once into a tree (AND lists, OR, NOT and leaves),
 * allocated in the command's arena, then evaluated against each message.
 * Flag, sequence, UID and internal-date keys never open the file; size,
 * header and sent-date keys are answered from the folder's metadata cache
 * (mcache.h: the header block and RFC822.SIZE), reading a message only to
 * build its missing entry; BODY and TEXT load the message (the session's
 * one-message cache). Matching is case-insensitive on decoded text: header
 * values with RFC 2047 words decoded, bodies with base64 / quoted-printable
 * undone.
 * Charsets accepted: UTF-8 and US-ASCII (others get NO [BADCHARSET]).
 */
#include "mail/imap_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum sop {
    S_ALL, S_AND, S_OR, S_NOT, S_FLAG_SET, S_FLAG_CLEAR, S_RECENT, S_NEW, S_OLD, S_NEVER,
    S_HEADER, S_BODY, S_TEXT, S_BEFORE, S_ON, S_SINCE, S_SENTBEFORE, S_SENTON, S_SENTSINCE,
    S_LARGER, S_SMALLER, S_UID, S_SEQ
};

typedef struct skey {
    int op;
    unsigned flag;
    const char *hdr, *str;      /* NUL-terminated copies in the arena */
    size_t hdrlen, strlen_;
    long day;                   /* dates as days since the epoch */
    uint64_t num;
    imap_seqset set;
    struct skey *kids;
    size_t nkids;
} skey;

typedef struct sparse { imap_sess *s; imap_cmd *cmd; const imap_arg *a; size_t n, i; const char *err; } sparse;

static long days_from_civil(int y, int m, int d)   /* m: 1..12 */
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_search_date(const imap_arg *a, long *day)
{
    static const char *mons = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char tmp[32], mon[4] = "";
    int d, y, used = 0;
    if (imap_arg_cstr(a, tmp, sizeof tmp) < 0)
        return -1;
    if (sscanf(tmp, "%2d-%3[A-Za-z]-%4d%n", &d, mon, &y, &used) != 3 || tmp[used] || d < 1 || d > 31)
        return -1;
    const char *mp = strcasestr(mons, mon);
    if (strlen(mon) != 3 || !mp || (mp - mons) % 3)
        return -1;
    *day = days_from_civil(y, (int)(mp - mons) / 3 + 1, d);
    return 0;
}

static const imap_arg *next_arg(sparse *ps)
{
    if (ps->i >= ps->n) {
        ps->err = "missing search argument";
        return NULL;
    }
    return &ps->a[ps->i++];
}

static int str_arg(sparse *ps, const char **out, size_t *len)
{
    const imap_arg *a = next_arg(ps);
    if (!a || !imap_arg_astring(a)) {
        ps->err = "expected a string";
        return -1;
    }
    char *c = imap_alloc(ps->cmd, a->len + 1);
    memcpy(c, a->s, a->len);
    c[a->len] = '\0';
    *out = c;
    *len = a->len;
    return 0;
}

static int parse_key(sparse *ps, skey *k, int depth);

static int parse_and(sparse *ps, const imap_arg *a, size_t n, skey *k, int depth)
{
    sparse sub = { ps->s, ps->cmd, a, n, 0, NULL };
    memset(k, 0, sizeof *k);
    k->op = S_AND;
    k->kids = imap_alloc(ps->cmd, (n + 1) * sizeof *k->kids);
    while (sub.i < sub.n) {
        if (parse_key(&sub, &k->kids[k->nkids++], depth + 1) < 0) {
            ps->err = sub.err;
            return -1;
        }
    }
    return 0;
}

static const struct { const char *name; int op; unsigned flag; } simple_keys[] = {
    { "ALL", S_ALL, 0 }, { "ANSWERED", S_FLAG_SET, MF_ANSWERED }, { "DELETED", S_FLAG_SET, MF_DELETED },
    { "DRAFT", S_FLAG_SET, MF_DRAFT }, { "FLAGGED", S_FLAG_SET, MF_FLAGGED }, { "SEEN", S_FLAG_SET, MF_SEEN },
    { "UNANSWERED", S_FLAG_CLEAR, MF_ANSWERED }, { "UNDELETED", S_FLAG_CLEAR, MF_DELETED },
    { "UNDRAFT", S_FLAG_CLEAR, MF_DRAFT }, { "UNFLAGGED", S_FLAG_CLEAR, MF_FLAGGED },
    { "UNSEEN", S_FLAG_CLEAR, MF_SEEN }, { "RECENT", S_RECENT, 0 }, { "NEW", S_NEW, 0 }, { "OLD", S_OLD, 0 },
};
static const struct { const char *name, *hdr; } header_keys[] = {
    { "BCC", "bcc" }, { "CC", "cc" }, { "FROM", "from" }, { "SUBJECT", "subject" }, { "TO", "to" },
};
static const struct { const char *name; int op; } date_keys[] = {
    { "BEFORE", S_BEFORE }, { "ON", S_ON }, { "SINCE", S_SINCE }, { "SENTBEFORE", S_SENTBEFORE },
    { "SENTON", S_SENTON }, { "SENTSINCE", S_SENTSINCE },
};

static int parse_key(sparse *ps, skey *k, int depth)
{
    memset(k, 0, sizeof *k);
    const imap_arg *a = next_arg(ps);
    if (!a)
        return -1;
    if (depth > 32) {
        ps->err = "search keys nested too deeply";
        return -1;
    }
    if (a->type == IMAP_LIST)
        return parse_and(ps, a->list, a->n, k, depth);
    if (a->type != IMAP_ATOM) {
        ps->err = "expected a search key";
        return -1;
    }
    for (size_t i = 0; i < sizeof simple_keys / sizeof simple_keys[0]; i++) {
        if (imap_arg_is(a, simple_keys[i].name)) {
            k->op = simple_keys[i].op;
            k->flag = simple_keys[i].flag;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof header_keys / sizeof header_keys[0]; i++) {
        if (imap_arg_is(a, header_keys[i].name)) {
            k->op = S_HEADER;
            k->hdr = header_keys[i].hdr;
            return str_arg(ps, &k->str, &k->strlen_);
        }
    }
    for (size_t i = 0; i < sizeof date_keys / sizeof date_keys[0]; i++) {
        if (imap_arg_is(a, date_keys[i].name)) {
            k->op = date_keys[i].op;
            const imap_arg *d = next_arg(ps);
            if (!d || parse_search_date(d, &k->day) < 0) {
                ps->err = "bad date";
                return -1;
            }
            return 0;
        }
    }
    if (imap_arg_is(a, "HEADER")) {
        k->op = S_HEADER;
        return str_arg(ps, &k->hdr, &k->hdrlen) < 0 ? -1 : str_arg(ps, &k->str, &k->strlen_);
    }
    if (imap_arg_is(a, "BODY") || imap_arg_is(a, "TEXT")) {
        k->op = imap_arg_is(a, "BODY") ? S_BODY : S_TEXT;
        return str_arg(ps, &k->str, &k->strlen_);
    }
    if (imap_arg_is(a, "KEYWORD") || imap_arg_is(a, "UNKEYWORD")) {
        k->op = imap_arg_is(a, "KEYWORD") ? S_NEVER : S_ALL;    /* keywords are not stored */
        const imap_arg *f = next_arg(ps);
        return f && f->type == IMAP_ATOM ? 0 : (ps->err = "expected a keyword", -1);
    }
    if (imap_arg_is(a, "LARGER") || imap_arg_is(a, "SMALLER")) {
        k->op = imap_arg_is(a, "LARGER") ? S_LARGER : S_SMALLER;
        const imap_arg *v = next_arg(ps);
        char num[24], *end;
        if (!v || v->type != IMAP_ATOM || imap_arg_cstr(v, num, sizeof num) < 0 || num[0] < '0' || num[0] > '9')
            return ps->err = "expected a number", -1;
        k->num = strtoull(num, &end, 10);
        return *end ? (ps->err = "expected a number", -1) : 0;
    }
    if (imap_arg_is(a, "NOT") || imap_arg_is(a, "OR")) {
        k->op = imap_arg_is(a, "NOT") ? S_NOT : S_OR;
        k->nkids = k->op == S_NOT ? 1 : 2;
        k->kids = imap_alloc(ps->cmd, k->nkids * sizeof *k->kids);
        for (size_t i = 0; i < k->nkids; i++)
            if (parse_key(ps, &k->kids[i], depth + 1) < 0)
                return -1;
        return 0;
    }
    int uid = imap_arg_is(a, "UID");
    if (uid && !(a = next_arg(ps)))
        return -1;
    k->op = uid ? S_UID : S_SEQ;
    if (a->type != IMAP_ATOM || imap_seqset_parse(ps->cmd, a->s, a->len, &k->set) < 0) {
        ps->err = "unknown search key";
        return -1;
    }
    return 0;
}

/* ---- evaluation ------------------------------------------------------- */

static int contains(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0)
        return 1;
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static int header_match(const char *h, size_t hlen, const char *name, const char *str, size_t slen)
{
    size_t pos = 0, fs, fe, nl, want = strlen(name);
    int found = 0;
    buf raw = BUF_INIT, dec = BUF_INIT;
    while (!found && mime_header_next(h, hlen, &pos, &fs, &fe, &nl)) {
        if (nl != want || strncasecmp(h + fs, name, nl) != 0)
            continue;
        if (slen == 0) {
            found = 1;
            break;
        }
        const char *v = memchr(h + fs, ':', fe - fs) + 1;
        buf_reset(&raw);
        buf_reset(&dec);
        for (const char *p = v; p < h + fe; p++)
            if (*p != '\r' && *p != '\n')
                buf_append(&raw, p, 1);
        mime_decode_words(raw.data ? buf_head(&raw) : "", buf_size(&raw), &dec);
        found = contains(dec.data ? buf_head(&dec) : "", buf_size(&dec), str, slen);
    }
    buf_free(&raw);
    buf_free(&dec);
    return found;
}

static int body_match(const char *m, const mime_part *p, const char *str, size_t slen)
{
    for (; p; p = p->next) {
        if (p->child && body_match(m, p->child, str, slen))
            return 1;
        if (p->msg && (header_match(m + p->msg->hdr_off, p->msg->hdr_len, "subject", str, slen) ||
                       body_match(m, p->msg, str, slen)))
            return 1;
        if (p->child || p->msg)
            continue;
        buf dec = BUF_INIT;
        mime_decode_body(m + p->body_off, p->body_len, p->enc, &dec);
        int ok = contains(dec.data ? buf_head(&dec) : "", buf_size(&dec), str, slen);
        buf_free(&dec);
        if (ok)
            return 1;
    }
    return 0;
}

static int text_match(const char *h, size_t hlen, const char *str, size_t slen)
{
    buf dec = BUF_INIT;
    mime_decode_words(h, hlen, &dec);
    int ok = contains(dec.data ? buf_head(&dec) : "", buf_size(&dec), str, slen);
    buf_free(&dec);
    return ok;
}

static long sent_day(const char *h, size_t hlen)
{
    buf v = BUF_INIT;
    int y, m, d;
    long day = -1000000;
    if (mime_header_get(h, hlen, "date", &v) &&
        mime_parse_date(buf_head(&v), buf_size(&v), &y, &m, &d, NULL, NULL, NULL, NULL))
        day = days_from_civil(y, m + 1, d);
    buf_free(&v);
    return day;
}

static int is_meta_key(int op)
{
    return op == S_LARGER || op == S_SMALLER || op == S_SENTBEFORE || op == S_SENTON ||
           op == S_SENTSINCE || op == S_HEADER;
}

static int uses_meta(const skey *k)
{
    for (size_t j = 0; j < k->nkids; j++)
        if (uses_meta(&k->kids[j]))
            return 1;
    return is_meta_key(k->op);
}

/* Keys on the size and the header block: answered from the metadata
 * cache, the message is read only to build a missing entry. */
static int eval_meta(imap_sess *s, size_t i, const skey *k, int *failed)
{
    const mcache_ent *e = imap_meta(s, i);
    const char *h = e ? e->hdr : NULL;
    size_t hlen = e ? e->hdrlen : 0;
    uint64_t size = e ? (uint64_t)e->size : 0;
    if (!h) {
        if (imap_load(s, i) < 0) {
            *failed = 1;
            return 0;
        }
        h = buf_head(&s->msg);
        hlen = imap_mime(s)->hdr_len;
        size = buf_size(&s->msg);
    }
    switch (k->op) {
    case S_LARGER: return size > k->num;
    case S_SMALLER: return size < k->num;
    case S_SENTBEFORE: return sent_day(h, hlen) < k->day;
    case S_SENTON: return sent_day(h, hlen) == k->day;
    case S_SENTSINCE: return sent_day(h, hlen) >= k->day;
    default: return header_match(h, hlen, k->hdr, k->str, k->strlen_);
    }
}

static int eval(imap_sess *s, size_t i, const skey *k, int *failed)
{
    mbox_msg *m = &s->mb.m[i];
    long iday = (long)(m->mtime >= 0 ? m->mtime / 86400 : -1);
    switch (k->op) {
    case S_ALL: return 1;
    case S_NEVER: return 0;
    case S_AND:
        for (size_t j = 0; j < k->nkids; j++)
            if (!eval(s, i, &k->kids[j], failed))
                return 0;
        return 1;
    case S_OR: return eval(s, i, &k->kids[0], failed) || eval(s, i, &k->kids[1], failed);
    case S_NOT: return !eval(s, i, &k->kids[0], failed);
    case S_FLAG_SET: return (m->flags & k->flag) != 0;
    case S_FLAG_CLEAR: return (m->flags & k->flag) == 0;
    case S_RECENT: return m->recent;
    case S_NEW: return m->recent && !(m->flags & MF_SEEN);
    case S_OLD: return !m->recent;
    case S_BEFORE: return iday < k->day;
    case S_ON: return iday == k->day;
    case S_SINCE: return iday >= k->day;
    case S_UID: return imap_in_set(s, i, &k->set, 1);
    case S_SEQ: return imap_in_set(s, i, &k->set, 0);
    default: break;
    }
    if (is_meta_key(k->op))
        return eval_meta(s, i, k, failed);
    if (imap_load(s, i) < 0) {
        *failed = 1;
        return 0;
    }
    const char *msg = buf_head(&s->msg);
    switch (k->op) {
    case S_BODY: return body_match(msg, imap_mime(s), k->str, k->strlen_);
    case S_TEXT:
        return text_match(msg, imap_mime(s)->hdr_len, k->str, k->strlen_) ||
               body_match(msg, imap_mime(s), k->str, k->strlen_);
    default: return 0;
    }
}

void imap_cmd_search(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    if (n >= 1 && imap_arg_is(&a[0], "CHARSET")) {
        if (n < 3 || !(imap_arg_astring(&a[1]) && (imap_atom_eq(a[1].s, a[1].len, "UTF-8") ||
                                                   imap_atom_eq(a[1].s, a[1].len, "US-ASCII")))) {
            if (n < 3)
                imap_tagged(s, "BAD", "CHARSET needs a name and search keys");
            else
                imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
            return;
        }
        a += 2, n -= 2;
    }
    if (n == 0) {
        imap_tagged(s, "BAD", "SEARCH needs search keys");
        return;
    }
    sparse ps = { s, cmd, a, n, 0, NULL };
    skey root;
    if (parse_and(&ps, a, n, &root, 0) < 0) {
        imap_tagged(s, "BAD", "Invalid search: %s", ps.err ? ps.err : "syntax error");
        return;
    }
    int failed = 0, meta = uses_meta(&root);
    if (meta)
        imap_meta_begin(s);
    buf_puts(&s->out, "* SEARCH");
    for (size_t i = 0; i < s->mb.n; i++)
        if (eval(s, i, &root, &failed))
            buf_printf(&s->out, " %u", uid ? s->mb.m[i].uid : (uint32_t)(i + 1));
    buf_puts(&s->out, "\r\n");
    imap_send_buf(s, &s->out);
    if (meta)
        imap_meta_end(s);
    imap_tagged(s, "OK", "%sSEARCH completed", uid ? "UID " : "");
}
