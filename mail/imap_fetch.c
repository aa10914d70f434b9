/*
 * imap_fetch.c — IMAP commands on messages of the selected mailbox: FETCH
 * (every RFC 3501 data item, BODY[section]<partial>, macros), STORE, COPY,
 * MOVE (RFC 6851), EXPUNGE, UID EXPUNGE (RFC 4315), CLOSE and UNSELECT.
 *
 * FETCH items are parsed once into a small array. RFC822.SIZE, ENVELOPE,
 * BODY, BODYSTRUCTURE and the message's own header (RFC822.HEADER,
 * BODY[HEADER], HEADER.FIELDS[.NOT]) come from the folder's metadata cache
 * (mcache.h) when its entry holds them; otherwise, and for every other
 * section, the message is loaded (CRLF-normalised, MIME parsed only when an
 * item needs the structure), and a missing entry is built from it on the
 * way. Each response is built in s->out, flushed every 64 KiB so a FETCH
 * over thousands of messages never holds more than one message and one
 * chunk of output. No EXPUNGE is sent while answering FETCH or STORE.
 */
#include "mail/imap_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum fkind { FI_FLAGS, FI_INTERNALDATE, FI_SIZE, FI_ENVELOPE, FI_BODY, FI_BODYSTRUCTURE,
             FI_UID, FI_SECTION, FI_RFC822, FI_RFC822_HEADER, FI_RFC822_TEXT };
enum fspec { SP_NONE, SP_HEADER, SP_FIELDS, SP_FIELDS_NOT, SP_TEXT, SP_MIME };

typedef struct fstr { const char *s; size_t n; } fstr;

typedef struct fitem {
    int kind, peek, spec, partial;
    uint32_t parts[32];
    size_t nparts;
    fstr fields[64];
    size_t nfields;
    const char *sec; size_t seclen;     /* as given, echoed in the reply */
    uint32_t poff, plen;
} fitem;

/* "1.2.HEADER.FIELDS (FROM TO)" */
static int parse_section(fitem *it, const char *s, size_t n)
{
    const char *p = s, *e = s + n;
    while (p < e && *p >= '0' && *p <= '9') {
        uint64_t v = 0;
        while (p < e && *p >= '0' && *p <= '9')
            if ((v = v * 10 + (uint64_t)(*p++ - '0')) > UINT32_MAX)
                return -1;
        if (v == 0 || it->nparts == 32)
            return -1;
        it->parts[it->nparts++] = (uint32_t)v;
        if (p < e && *p == '.')
            p++;
        else
            break;
    }
    const char *w = p;
    while (p < e && *p != ' ')
        p++;
    size_t wl = (size_t)(p - w);
    if (wl == 0) it->spec = SP_NONE;
    else if (imap_atom_eq(w, wl, "HEADER")) it->spec = SP_HEADER;
    else if (imap_atom_eq(w, wl, "HEADER.FIELDS")) it->spec = SP_FIELDS;
    else if (imap_atom_eq(w, wl, "HEADER.FIELDS.NOT")) it->spec = SP_FIELDS_NOT;
    else if (imap_atom_eq(w, wl, "TEXT")) it->spec = SP_TEXT;
    else if (imap_atom_eq(w, wl, "MIME") && it->nparts) it->spec = SP_MIME;
    else return -1;
    if (wl == 0 && it->nparts && p > s && p[-1] == '.')
        return -1;
    if (it->spec != SP_FIELDS && it->spec != SP_FIELDS_NOT)
        return p == e ? 0 : -1;
    if (e - p < 3 || p[1] != '(' || e[-1] != ')')
        return -1;
    for (p += 2; p < e - 1;) {
        while (p < e - 1 && *p == ' ')
            p++;
        const char *f = p;
        if (p < e - 1 && *p == '"') {
            f = ++p;
            while (p < e - 1 && *p != '"')
                p++;
            if (it->nfields < 64)
                it->fields[it->nfields++] = (fstr){ f, (size_t)(p - f) };
            p++;
            continue;
        }
        while (p < e - 1 && *p != ' ')
            p++;
        if (p > f && it->nfields < 64)
            it->fields[it->nfields++] = (fstr){ f, (size_t)(p - f) };
    }
    return it->nfields ? 0 : -1;
}

static int parse_body_item(fitem *it, const char *s, size_t n)
{
    const char *lb = memchr(s, '[', n);
    size_t head = (size_t)(lb - s);
    if (imap_atom_eq(s, head, "BODY.PEEK"))
        it->peek = 1;
    else if (!imap_atom_eq(s, head, "BODY"))
        return -1;
    const char *rb = memchr(lb, ']', (size_t)(s + n - lb));
    if (!rb)
        return -1;
    it->kind = FI_SECTION;
    it->sec = lb + 1;
    it->seclen = (size_t)(rb - lb - 1);
    if (parse_section(it, it->sec, it->seclen) < 0)
        return -1;
    const char *p = rb + 1, *e = s + n;
    if (p == e)
        return 0;
    unsigned long long off, len;
    int used = 0;
    if (sscanf(p, "<%llu.%llu>%n", &off, &len, &used) != 2 || p + used != e || !len ||
        off > UINT32_MAX || len > UINT32_MAX)
        return -1;
    it->partial = 1;
    it->poff = (uint32_t)off;
    it->plen = (uint32_t)len;
    return 0;
}

static int parse_item(const imap_arg *a, fitem *it)
{
    static const struct { const char *name; int kind; } simple[] = {
        { "FLAGS", FI_FLAGS }, { "INTERNALDATE", FI_INTERNALDATE }, { "RFC822.SIZE", FI_SIZE },
        { "ENVELOPE", FI_ENVELOPE }, { "BODY", FI_BODY }, { "BODYSTRUCTURE", FI_BODYSTRUCTURE },
        { "UID", FI_UID }, { "RFC822", FI_RFC822 }, { "RFC822.HEADER", FI_RFC822_HEADER },
        { "RFC822.TEXT", FI_RFC822_TEXT },
    };
    memset(it, 0, sizeof *it);
    if (a->type != IMAP_ATOM)
        return -1;
    if (memchr(a->s, '[', a->len))
        return parse_body_item(it, a->s, a->len);
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (imap_atom_eq(a->s, a->len, simple[i].name)) {
            it->kind = simple[i].kind;
            return 0;
        }
    }
    return -1;
}

/* Items from the FETCH argument: a macro, one item, or a list. */
static int parse_items(imap_cmd *cmd, const imap_arg *a, int uid, fitem **out, size_t *nout)
{
    static const int all[] = { FI_FLAGS, FI_INTERNALDATE, FI_SIZE, FI_ENVELOPE, FI_BODY };
    size_t macro = imap_arg_is(a, "ALL") ? 4 : imap_arg_is(a, "FAST") ? 3 : imap_arg_is(a, "FULL") ? 5 : 0;
    size_t n = macro ? macro : a->type == IMAP_LIST ? a->n : 1;
    fitem *v = imap_alloc(cmd, (n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        if (macro) {
            memset(&v[i], 0, sizeof v[i]);
            v[i].kind = all[i];
        } else if (parse_item(a->type == IMAP_LIST ? &a->list[i] : a, &v[i]) < 0) {
            return -1;
        }
    }
    if (n == 0)
        return -1;
    int has_uid = 0;
    for (size_t i = 0; i < n; i++)
        has_uid |= v[i].kind == FI_UID;
    if (uid && !has_uid) {                 /* UID FETCH always answers with UID */
        memset(&v[n], 0, sizeof v[n]);
        v[n++].kind = FI_UID;
    }
    *out = v;
    *nout = n;
    return 0;
}

static void put_date(buf *b, time_t t)
{
    static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    gmtime_r(&t, &tm);
    buf_printf(b, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
               tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int field_wanted(const fitem *it, const char *name, size_t n)
{
    for (size_t i = 0; i < it->nfields; i++)
        if (it->fields[i].n == n && strncasecmp(it->fields[i].s, name, n) == 0)
            return 1;
    return 0;
}

static int root_header(const fitem *it)
{
    return it->kind == FI_SECTION && it->nparts == 0 &&
           (it->spec == SP_HEADER || it->spec == SP_FIELDS || it->spec == SP_FIELDS_NOT);
}

/* HEADER.FIELDS (.NOT) of header block h, into tmp. */
static void header_fields(const fitem *it, const char *h, size_t hlen, buf *tmp, const char **p, size_t *len)
{
    size_t pos = 0, fs, fe, nl;
    while (mime_header_next(h, hlen, &pos, &fs, &fe, &nl))
        if (field_wanted(it, h + fs, nl) == (it->spec == SP_FIELDS))
            buf_append(tmp, h + fs, fe - fs);
    buf_append(tmp, "\r\n", 2);
    *p = buf_head(tmp);
    *len = buf_size(tmp);
}

/* The bytes of a section: points into the message (or the cached header
 * block), or into tmp. */
static void section_bytes(imap_sess *s, const mcache_ent *e, const fitem *it, buf *tmp,
                          const char **p, size_t *len)
{
    const char *m = buf_head(&s->msg);
    *p = "";
    *len = 0;
    if (root_header(it) && e && e->hdr) {
        if (it->spec == SP_HEADER)
            *p = e->hdr, *len = e->hdrlen;
        else
            header_fields(it, e->hdr, e->hdrlen, tmp, p, len);
        return;
    }
    if (it->nparts == 0 && it->spec == SP_NONE) {
        *p = m;
        *len = buf_size(&s->msg);
        return;
    }
    mime_part *root = imap_mime(s), *part = mime_section(root, it->parts, it->nparts);
    if (!part)
        return;
    mime_part *t = part;
    if (it->nparts && it->spec != SP_NONE && it->spec != SP_MIME) {
        if (!part->msg)
            return;
        t = part->msg;
    }
    switch (it->spec) {
    case SP_NONE:   *p = m + part->body_off; *len = part->body_len; return;
    case SP_MIME:
    case SP_HEADER: *p = m + t->hdr_off; *len = t->hdr_len; return;
    case SP_TEXT:   *p = m + t->body_off; *len = t->body_len; return;
    default: break;
    }
    header_fields(it, m + t->hdr_off, t->hdr_len, tmp, p, len);
}

/* What an item needs: 1 the metadata cache can answer it, 2 only the
 * message can, 0 neither (FLAGS, UID, INTERNALDATE). */
static int item_needs(const fitem *it)
{
    switch (it->kind) {
    case FI_FLAGS: case FI_UID: case FI_INTERNALDATE: return 0;
    case FI_SIZE: case FI_ENVELOPE: case FI_BODY: case FI_BODYSTRUCTURE: case FI_RFC822_HEADER:
        return 1;
    default: return root_header(it) ? 1 : 2;
    }
}

/* Does entry e hold all that the items ask for? */
static int ent_covers(const mcache_ent *e, const fitem *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        int kind = v[k].kind;
        if ((kind == FI_ENVELOPE && !e->env) || (kind == FI_BODY && !e->body) ||
            (kind == FI_BODYSTRUCTURE && !e->bs) ||
            ((kind == FI_RFC822_HEADER || root_header(&v[k])) && !e->hdr) || item_needs(&v[k]) == 2)
            return 0;
    }
    return 1;
}

static void fetch_one(imap_sess *s, size_t i, const fitem *v, size_t n, int set_seen,
                      const mcache_ent *e)
{
    mbox_msg *m = &s->mb.m[i];
    buf *o = &s->out, tmp = BUF_INIT;
    int flags_sent = 0;
    buf_printf(o, "* %zu FETCH (", i + 1);
    for (size_t k = 0; k < n; k++) {
        const fitem *it = &v[k];
        if (k)
            buf_puts(o, " ");
        const char *p;
        size_t len;
        switch (it->kind) {
        case FI_FLAGS: buf_puts(o, "FLAGS "); imap_put_flags(o, m); flags_sent = 1; break;
        case FI_UID: buf_printf(o, "UID %u", m->uid); break;
        case FI_INTERNALDATE: buf_puts(o, "INTERNALDATE "); put_date(o, m->mtime); break;
        case FI_SIZE:
            buf_printf(o, "RFC822.SIZE %zu", e ? (size_t)e->size : buf_size(&s->msg));
            break;
        case FI_ENVELOPE:
            buf_puts(o, "ENVELOPE ");
            if (e && e->env)
                buf_append(o, e->env, e->envlen);
            else
                mime_envelope(o, buf_head(&s->msg), imap_mime(s)->hdr_len);
            break;
        case FI_BODY:
        case FI_BODYSTRUCTURE:
            buf_puts(o, it->kind == FI_BODY ? "BODY " : "BODYSTRUCTURE ");
            p = !e ? NULL : it->kind == FI_BODY ? e->body : e->bs;
            if (p)
                buf_append(o, p, it->kind == FI_BODY ? e->bodylen : e->bslen);
            else
                mime_bodystructure(o, buf_head(&s->msg), imap_mime(s), it->kind == FI_BODYSTRUCTURE);
            break;
        case FI_RFC822:
            buf_printf(o, "RFC822 {%zu}\r\n", buf_size(&s->msg));
            buf_append(o, buf_head(&s->msg), buf_size(&s->msg));
            break;
        case FI_RFC822_HEADER:
        case FI_RFC822_TEXT: {
            int hdr = it->kind == FI_RFC822_HEADER;
            if (hdr && e && e->hdr) {
                buf_printf(o, "RFC822.HEADER {%zu}\r\n", e->hdrlen);
                buf_append(o, e->hdr, e->hdrlen);
                break;
            }
            mime_part *r = imap_mime(s);
            len = hdr ? r->hdr_len : r->body_len;
            buf_printf(o, "%s {%zu}\r\n", hdr ? "RFC822.HEADER" : "RFC822.TEXT", len);
            buf_append(o, buf_head(&s->msg) + (hdr ? r->hdr_off : r->body_off), len);
            break;
        }
        case FI_SECTION:
            buf_reset(&tmp);
            section_bytes(s, e, it, &tmp, &p, &len);
            buf_puts(o, "BODY[");
            buf_append(o, it->sec, it->seclen);
            buf_puts(o, "]");
            if (it->partial) {
                buf_printf(o, "<%u>", it->poff);
                if (it->poff >= len) {
                    len = 0;
                } else {
                    p += it->poff;
                    len -= it->poff;
                    if (len > it->plen)
                        len = it->plen;
                }
            }
            buf_printf(o, " {%zu}\r\n", len);
            buf_append(o, p, len);
            break;
        }
    }
    if (set_seen && !flags_sent) {
        buf_puts(o, " FLAGS ");
        imap_put_flags(o, m);
    }
    buf_puts(o, ")\r\n");
    buf_free(&tmp);
    if (buf_size(o) >= 65536)
        imap_send_buf(s, o);
}

void imap_cmd_fetch(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    imap_seqset set;
    fitem *v;
    size_t nv;
    if (n != 2) {
        imap_tagged(s, "BAD", "FETCH needs a sequence set and data items");
        return;
    }
    if (imap_get_set(s, cmd, &a[0], uid, &set) < 0)
        return;
    if (parse_items(cmd, &a[1], uid, &v, &nv) < 0) {
        imap_tagged(s, "BAD", "Invalid FETCH data item");
        return;
    }
    int seen_items = 0, needs = 0, missing = 0;
    for (size_t k = 0; k < nv; k++) {
        seen_items |= (v[k].kind == FI_SECTION && !v[k].peek) || v[k].kind == FI_RFC822 ||
                      v[k].kind == FI_RFC822_TEXT;
        needs |= item_needs(&v[k]);
    }
    if (needs & 1)
        imap_meta_begin(s);
    for (size_t i = 0; i < s->mb.n; i++) {
        if (!imap_in_set(s, i, &set, uid))
            continue;
        const mcache_ent *e = (needs & 1) ? mcache_find(s->mc, &s->mb.m[i]) : NULL;
        if (needs && !(e && ent_covers(e, v, nv)) && imap_load(s, i) < 0) {
            missing = 1;
            continue;
        }
        if ((needs & 1) && !e)
            e = mcache_add(s->mc, &s->mb.m[i], buf_head(&s->msg), buf_size(&s->msg), imap_mime(s));
        int set_seen = 0;
        if (seen_items && !s->mb.readonly && !(s->mb.m[i].flags & MF_SEEN))
            set_seen = mailbox_set_flags(&s->mb, i, s->mb.m[i].flags | MF_SEEN) == 0;
        fetch_one(s, i, v, nv, set_seen, e);
    }
    imap_send_buf(s, &s->out);
    if (needs & 1)
        imap_meta_end(s);
    if (missing)
        imap_tagged(s, "NO", "[EXPUNGEISSUED] Some messages were expunged");
    else
        imap_tagged(s, "OK", "%sFETCH completed", uid ? "UID " : "");
}

void imap_cmd_store(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    imap_seqset set;
    unsigned flags;
    if (n < 3 || a[1].type != IMAP_ATOM) {
        imap_tagged(s, "BAD", "STORE needs a sequence set, an item and flags");
        return;
    }
    if (imap_get_set(s, cmd, &a[0], uid, &set) < 0)
        return;
    const char *item = a[1].s;
    size_t il = a[1].len;
    int silent = il > 7 && imap_atom_eq(item + il - 7, 7, ".SILENT");
    if (silent)
        il -= 7;
    int op = imap_atom_eq(item, il, "FLAGS") ? 0 : imap_atom_eq(item, il, "+FLAGS") ? 1 :
             imap_atom_eq(item, il, "-FLAGS") ? -1 : 2;
    if (op == 2 || imap_parse_flags(a + 2, n - 2, &flags) < 0) {
        imap_tagged(s, "BAD", "Invalid STORE item or flags");
        return;
    }
    if (s->mb.readonly) {
        imap_tagged(s, "NO", "Mailbox is read-only");
        return;
    }
    int failed = 0;
    for (size_t i = 0; i < s->mb.n; i++) {
        if (!imap_in_set(s, i, &set, uid))
            continue;
        unsigned f = s->mb.m[i].flags;
        f = op == 0 ? flags : op > 0 ? (f | flags) : (f & ~flags);
        if (f != s->mb.m[i].flags && mailbox_set_flags(&s->mb, i, f) < 0) {
            failed = 1;
            continue;
        }
        if (!silent) {
            buf_printf(&s->out, "* %zu FETCH (FLAGS ", i + 1);
            imap_put_flags(&s->out, &s->mb.m[i]);
            if (uid)
                buf_printf(&s->out, " UID %u", s->mb.m[i].uid);
            buf_puts(&s->out, ")\r\n");
        }
    }
    imap_send_buf(s, &s->out);
    if (failed)
        imap_tagged(s, "NO", "[EXPUNGEISSUED] Some messages were expunged");
    else
        imap_tagged(s, "OK", "%sSTORE completed", uid ? "UID " : "");
}

/* UIDs as a compact set: 1:3,7 */
static void put_uidset(buf *b, const uint32_t *u, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && u[j + 1] == u[j] + 1)
            j++;
        buf_printf(b, "%s%u", i ? "," : "", u[i]);
        if (j > i)
            buf_printf(b, ":%u", u[j]);
        i = j + 1;
    }
}

typedef struct move_ctx { const imap_seqset *set; int uid; imap_sess *s; const char *done; } move_ctx;

static int want_moved(mailbox *mb, size_t i, void *ud)
{
    move_ctx *mc = ud;
    return mc->done[i];
}

void imap_cmd_copy(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    int move = imap_atom_eq(cmd->name, cmd->name_len, "MOVE");
    const char *verb = move ? "MOVE" : "COPY";
    char name[512], dir[4400], err[256];
    imap_seqset set;
    if (n != 2) {
        imap_tagged(s, "BAD", "%s needs a sequence set and a mailbox", verb);
        return;
    }
    if (imap_get_set(s, cmd, &a[0], uid, &set) < 0)
        return;
    if (imap_arg_cstr(&a[1], name, sizeof name) < 0 || imap_folder_dir(s, name, dir, sizeof dir) < 0) {
        imap_tagged(s, "NO", "Invalid mailbox name");
        return;
    }
    if (!mailbox_exists(dir)) {
        imap_tagged(s, "NO", "[TRYCREATE] Mailbox does not exist");
        return;
    }
    if (move && s->mb.readonly) {
        imap_tagged(s, "NO", "Mailbox is read-only");
        return;
    }
    uint32_t *src = imap_alloc(cmd, (s->mb.n + 1) * sizeof *src);
    uint32_t *dst = imap_alloc(cmd, (s->mb.n + 1) * sizeof *dst);
    char *done = imap_alloc(cmd, s->mb.n + 1);
    size_t k = 0;
    uint32_t uv = 0;
    int failed = 0;
    memset(done, 0, s->mb.n + 1);
    for (size_t i = 0; i < s->mb.n; i++) {
        if (!imap_in_set(s, i, &set, uid))
            continue;
        if (mailbox_copy(&s->mb, i, dir, &uv, &dst[k], err, sizeof err) < 0) {
            failed = 1;
            break;
        }
        src[k++] = s->mb.m[i].uid;
        done[i] = 1;
    }
    if (failed && !move) {
        imap_tagged(s, "NO", "%s failed: %s", verb, err);
        return;
    }
    buf code = BUF_INIT;
    if (k) {
        buf_printf(&code, "[COPYUID %u ", uv);
        put_uidset(&code, src, k);
        buf_puts(&code, " ");
        put_uidset(&code, dst, k);
        buf_puts(&code, "] ");
    }
    if (move) {
        if (k)
            imap_untagged(s, "OK %sMoved", buf_cstr(&code));
        mbox_changes ch = {0};
        move_ctx mc = { &set, uid, s, done };
        mailbox_expunge(&s->mb, want_moved, &mc, &ch, err, sizeof err);
        imap_report(s, &ch);
        mailbox_changes_free(&ch);
        if (k && strcmp(dir, s->mb.dir) == 0)
            imap_sync(s, 1);                   /* moved onto itself: report the new ones */
        imap_tagged(s, failed ? "NO" : "OK", "%s%s", failed ? "Some messages could not be moved" : "", failed ? "" : "MOVE completed");
    } else {
        if (k && strcmp(dir, s->mb.dir) == 0)
            imap_sync(s, 1);                   /* copied into the selected mailbox: EXISTS */
        imap_tagged(s, "OK", "%s%sCOPY completed", k ? buf_cstr(&code) : "", uid ? "UID " : "");
    }
    buf_free(&code);
}

typedef struct exp_ctx { const imap_seqset *set; imap_sess *s; } exp_ctx;

static int want_deleted(mailbox *mb, size_t i, void *ud)
{
    exp_ctx *ec = ud;
    if (!(mb->m[i].flags & MF_DELETED))
        return 0;
    return !ec->set || imap_in_set(ec->s, i, ec->set, 1);
}

void imap_cmd_expunge(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    imap_seqset set;
    char err[256] = "";
    if (n != (size_t)uid) {
        imap_tagged(s, "BAD", "Unexpected arguments");
        return;
    }
    if (uid && imap_get_set(s, cmd, &a[0], 1, &set) < 0)
        return;
    if (s->mb.readonly) {
        imap_tagged(s, "NO", "Mailbox is read-only");
        return;
    }
    exp_ctx ec = { uid ? &set : NULL, s };
    mbox_changes ch = {0};
    mailbox_expunge(&s->mb, want_deleted, &ec, &ch, err, sizeof err);
    for (size_t i = 0; i < ch.nexp; i++)
        imap_untagged(s, "%u EXPUNGE", ch.expunged[i]);
    if (ch.nexp)
        imap_cache_drop(s);
    mailbox_changes_free(&ch);
    imap_tagged(s, "OK", "%sEXPUNGE completed", uid ? "UID " : "");
}

void imap_cmd_close(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid)
{
    int unselect = imap_atom_eq(cmd->name, cmd->name_len, "UNSELECT");
    if (!unselect && !s->mb.readonly) {
        char err[256];
        exp_ctx ec = { NULL, s };
        mailbox_expunge(&s->mb, want_deleted, &ec, NULL, err, sizeof err);
    }
    imap_deselect(s);
    imap_tagged(s, "OK", "%s completed", unselect ? "UNSELECT" : "CLOSE");
}
