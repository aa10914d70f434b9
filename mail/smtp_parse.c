/*
 * smtp_parse.c — SMTP command lines, paths, parameters, AUTH payloads and
 * the DATA body reader; pure (see smtp_parse.h).
 *
 * Addresses follow RFC 5321 4.1.2 with two kindnesses common servers show:
 * a space after "FROM:"/"TO:" is tolerated, and an old source route
 * ("<@a,@b:user@c>") is accepted and dropped, as 4.1.1.3 requires. Non-ASCII
 * bytes are allowed in addresses and flagged so the session can insist on
 * SMTPUTF8. The DATA reader is a byte-at-a-time automaton with a fast path
 * for the middle of lines; its state is five small values, so it can be cut
 * anywhere. Only CRLF.CRLF ends a message: a bare LF or CR is flagged and
 * the message refused, which closes the "SMTP smuggling" gap.
 */
#include "mail/smtp_parse.h"
#include <string.h>

static const char *const smtp_verbs[SMTP_VERBS] = {
    "", "HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "HELP",
    "VRFY", "EXPN", "STARTTLS", "AUTH"
};

const char *smtp_verb_name(int verb)
{
    return verb > 0 && verb < SMTP_VERBS ? smtp_verbs[verb] : "?";
}

static int smtp_upper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

static int smtp_ncaseeq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) if (smtp_upper((unsigned char)a[i]) != smtp_upper((unsigned char)b[i])) return 0;
    return 1;
}

long smtp_line_find(const char *data, size_t len)
{
    size_t n = len < SMTP_LINE_MAX ? len : SMTP_LINE_MAX;
    const char *lf = memchr(data, '\n', n);
    if (lf) return (long)(lf - data) + 1;
    return len >= SMTP_LINE_MAX ? -500 : 0;
}

/* atext of RFC 5322, plus any byte >= 0x80 (RFC 6531). */
static int smtp_atext(unsigned char c)
{
    if (c >= 0x80) return 1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int smtp_check_local(const char *s, size_t n)
{
    if (n == 0 || n > SMTP_LOCAL_MAX) return -1;
    if (s[0] == '"') {
        if (n < 2 || s[n - 1] != '"') return -1;
        for (size_t i = 1; i < n - 1; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\') { i++; if (i >= n - 1 || (unsigned char)s[i] < 32 || s[i] == 127) return -1; }
            else if (c == '"' || c < 32 || c == 127) return -1;
        }
        return 0;
    }
    if (s[0] == '.' || s[n - 1] == '.') return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') { if (s[i + 1] == '.') return -1; }
        else if (!smtp_atext((unsigned char)s[i])) return -1;
    }
    return 0;
}

static int smtp_check_domain(const char *s, size_t n)
{
    if (n == 0 || n > SMTP_DOMAIN_MAX) return -1;
    if (s[0] == '[') {  /* address literal: [1.2.3.4] or [IPv6:...] */
        if (n < 3 || s[n - 1] != ']') return -1;
        for (size_t i = 1; i < n - 1; i++) {
            char c = s[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == '.' || c == ':' || c == 'v' || c == 'V' || c == 'I' || c == 'P')) return -1;
        }
        return 0;
    }
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') return -1;
            label = 0;
            continue;
        }
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 ||
                 (c == '-' && label > 0);
        if (!ok || ++label > 63) return -1;
    }
    return label == 0 || s[n - 1] == '-' ? -1 : 0;
}

int smtp_check_mailbox(const char *addr, size_t len, int allow_postmaster, size_t *local_len, const char **err)
{
    if (allow_postmaster && len == 10 && smtp_ncaseeq(addr, "Postmaster", 10)) { *local_len = len; return 0; }
    /* The '@' that ends the local part: the last one (quoted parts may hold '@'). */
    const char *at = NULL;
    for (size_t i = len; i > 0; i--) if (addr[i - 1] == '@') { at = addr + i - 1; break; }
    if (!at) { *err = "address must be local@domain"; return -1; }
    size_t ll = (size_t)(at - addr);
    if (ll > SMTP_LOCAL_MAX) { *err = "local part longer than 64 bytes"; return -1; }
    if (smtp_check_local(addr, ll) < 0) { *err = "bad local part"; return -1; }
    if (len - ll - 1 > SMTP_DOMAIN_MAX) { *err = "domain longer than 255 bytes"; return -1; }
    if (smtp_check_domain(at + 1, len - ll - 1) < 0) { *err = "bad domain"; return -1; }
    *local_len = ll;
    return 0;
}

/* "<path>" at s: fills cmd->addr; returns the bytes used or -1. */
static long smtp_parse_path(const char *s, size_t n, smtp_cmd *cmd, int is_rcpt)
{
    if (n == 0 || s[0] != '<') return -1;
    size_t i = 1;
    int quoted = 0;
    for (; i < n; i++) {
        if (quoted && s[i] == '\\') { i++; continue; }
        if (s[i] == '"') quoted = !quoted;
        else if (!quoted && s[i] == '>') break;
        else if (!quoted && (s[i] == ' ' || (unsigned char)s[i] < 32)) return -1;
    }
    if (i >= n || i + 1 > SMTP_PATH_MAX) return -1;
    const char *a = s + 1;
    size_t alen = i - 1;
    if (alen > 0 && a[0] == '@') {  /* source route: drop it */
        const char *colon = memchr(a, ':', alen);
        if (!colon) return -1;
        alen -= (size_t)(colon + 1 - a);
        a = colon + 1;
    }
    if (alen == 0) {
        if (is_rcpt) return -1;
        cmd->addr[0] = 0;
        cmd->local_len = 0;
        return (long)i + 1;
    }
    const char *why;
    if (smtp_check_mailbox(a, alen, is_rcpt, &cmd->local_len, &why) < 0) return -1;
    memcpy(cmd->addr, a, alen);
    cmd->addr[alen] = 0;
    for (size_t k = 0; k < alen; k++) if ((unsigned char)a[k] >= 0x80) cmd->utf8_addr = 1;
    return (long)i + 1;
}

/* One ESMTP parameter "KEY[=VALUE]" of MAIL FROM. 0 or -code. */
static int smtp_mail_param(const char *p, size_t n, smtp_cmd *cmd, const char **err)
{
    const char *eq = memchr(p, '=', n);
    size_t kl = eq ? (size_t)(eq - p) : n, vl = eq ? n - kl - 1 : 0;
    const char *v = eq ? eq + 1 : NULL;
    if (kl == 4 && smtp_ncaseeq(p, "SIZE", 4)) {
        if (!v || vl == 0 || vl > 18 || cmd->size >= 0) goto bad;
        long long sz = 0;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9') goto bad;
            sz = sz * 10 + (v[i] - '0');
        }
        cmd->size = sz;
        return 0;
    }
    if (kl == 4 && smtp_ncaseeq(p, "BODY", 4)) {
        if (cmd->body) goto bad;
        if (vl == 4 && smtp_ncaseeq(v, "7BIT", 4)) cmd->body = SMTP_BODY_7BIT;
        else if (vl == 8 && smtp_ncaseeq(v, "8BITMIME", 8)) cmd->body = SMTP_BODY_8BITMIME;
        else { *err = "5.5.4 BODY must be 7BIT or 8BITMIME"; return -501; }
        return 0;
    }
    if (kl == 8 && smtp_ncaseeq(p, "SMTPUTF8", 8) && !v) { cmd->smtputf8 = 1; return 0; }
    if (kl == 4 && smtp_ncaseeq(p, "AUTH", 4) && v) return 0;  /* RFC 4954 5: accepted, ignored */
    *err = "5.5.4 Unsupported MAIL parameter";
    return -555;
bad:
    *err = "5.5.4 Bad MAIL parameter value";
    return -501;
}

static int smtp_parse_mailrcpt(const char *a, size_t n, smtp_cmd *cmd, const char **err)
{
    int rcpt = cmd->verb == SMTP_RCPT;
    const char *kw = rcpt ? "TO:" : "FROM:";
    size_t kl = rcpt ? 3 : 5;
    if (n < kl || !smtp_ncaseeq(a, kw, kl)) goto syntax;
    size_t i = kl;
    while (i < n && a[i] == ' ') i++;
    long used = smtp_parse_path(a + i, n - i, cmd, rcpt);
    if (used < 0) {
        if (i < n && a[i] == '<') {
            *err = rcpt ? "5.1.3 Bad recipient address syntax" : "5.1.7 Bad sender address syntax";
            return -501;
        }
        goto syntax;
    }
    i += (size_t)used;
    while (i < n) {
        if (a[i] != ' ') goto syntax;
        while (i < n && a[i] == ' ') i++;
        if (i == n) break;
        size_t s = i;
        while (i < n && a[i] != ' ') i++;
        if (rcpt) { *err = "5.5.4 Unsupported RCPT parameter"; return -555; }
        int rc = smtp_mail_param(a + s, i - s, cmd, err);
        if (rc < 0) return rc;
    }
    return 0;
syntax:
    *err = rcpt ? "5.5.4 Syntax: RCPT TO:<address>" : "5.5.4 Syntax: MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]";
    return -501;
}

static int smtp_parse_auth(const char *a, size_t n, smtp_cmd *cmd, const char **err)
{
    size_t i = 0;
    while (i < n && a[i] != ' ') i++;
    if (i == 0 || i >= sizeof cmd->mech) { *err = "5.5.4 Syntax: AUTH mechanism [initial-response]"; return -501; }
    for (size_t k = 0; k < i; k++) cmd->mech[k] = (char)smtp_upper((unsigned char)a[k]);
    cmd->mech[i] = 0;
    if (strcmp(cmd->mech, "PLAIN") != 0 && strcmp(cmd->mech, "LOGIN") != 0) {
        *err = "5.5.4 Unrecognized authentication type (use PLAIN or LOGIN)";
        return -504;
    }
    if (i < n) {
        cmd->initial = a + i + 1;
        cmd->initial_len = n - i - 1;
        if (cmd->initial_len == 0 || memchr(cmd->initial, ' ', cmd->initial_len)) {
            *err = "5.5.4 Syntax: AUTH mechanism [initial-response]";
            return -501;
        }
    }
    return 0;
}

/* HELO/EHLO: one name (a domain or an address literal), nothing else. */
static int smtp_parse_helo(const char *a, size_t n, const char **err)
{
    if (n == 0 || n > SMTP_DOMAIN_MAX) goto bad;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 32 || c == 127) goto bad;
    }
    return 0;
bad:
    *err = "5.5.4 Syntax: EHLO hostname";
    return -501;
}

int smtp_parse_line(const char *line, size_t len, smtp_cmd *cmd, const char **err)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->size = -1;
    if (len > 0 && line[len - 1] == '\n') len--;
    if (len > 0 && line[len - 1] == '\r') len--;
    if (memchr(line, 0, len) || memchr(line, '\r', len)) { *err = "5.5.2 Bad characters in command"; return -500; }
    size_t vl = 0;
    while (vl < len && line[vl] != ' ') vl++;
    for (int v = 1; v < SMTP_VERBS; v++)
        if (strlen(smtp_verbs[v]) == vl && smtp_ncaseeq(line, smtp_verbs[v], vl)) { cmd->verb = v; break; }
    if (!cmd->verb) { *err = "5.5.2 Command unrecognized"; return -500; }
    int long_ok = cmd->verb == SMTP_MAIL || cmd->verb == SMTP_RCPT || cmd->verb == SMTP_AUTH;
    if (len + 2 > (long_ok ? SMTP_LINE_MAX : SMTP_CMD_MAX)) { *err = "5.5.6 Line too long"; return -500; }
    cmd->arg = vl < len ? line + vl + 1 : line + len;
    cmd->arg_len = vl < len ? len - vl - 1 : 0;
    const char *a = cmd->arg;
    size_t n = cmd->arg_len;
    switch (cmd->verb) {
    case SMTP_HELO: case SMTP_EHLO:
        while (n > 0 && a[n - 1] == ' ') n--;  /* trailing spaces: tolerated */
        cmd->arg_len = n;
        return smtp_parse_helo(a, n, err);
    case SMTP_MAIL: case SMTP_RCPT:
        return smtp_parse_mailrcpt(a, n, cmd, err);
    case SMTP_AUTH:
        return smtp_parse_auth(a, n, cmd, err);
    case SMTP_VRFY: case SMTP_EXPN:
        if (n == 0) { *err = cmd->verb == SMTP_VRFY ? "5.5.4 Syntax: VRFY address" : "5.5.4 Syntax: EXPN list"; return -501; }
        return 0;
    case SMTP_DATA: case SMTP_RSET: case SMTP_QUIT: case SMTP_STARTTLS:
        if (n > 0) { *err = "5.5.4 No parameters allowed"; return -501; }
        return 0;
    default:  /* NOOP [text], HELP [topic] */
        return 0;
    }
}

static int smtp_b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long smtp_b64_decode(const char *in, size_t len, char *out, size_t outcap)
{
    size_t o = 0;
    if (len % 4 != 0) return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '=' && i + 4 == len && k >= 2) { v[k] = 0; pad++; continue; }
            if (pad || (v[k] = smtp_b64_val(c)) < 0) return -1;
        }
        unsigned long w = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) | ((unsigned long)v[2] << 6) | (unsigned long)v[3];
        int nb = 3 - pad;
        if (o + (size_t)nb + 1 > outcap) return -1;
        out[o++] = (char)(w >> 16);
        if (nb > 1) out[o++] = (char)(w >> 8);
        if (nb > 2) out[o++] = (char)w;
    }
    if (outcap) out[o] = 0;
    return (long)o;
}

size_t smtp_b64_encode(const void *in, size_t len, char *out, size_t outcap)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = in;
    size_t o = 0;
    if (outcap < (len + 2) / 3 * 4 + 1) return 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long w = (unsigned long)p[i] << 16;
        if (i + 1 < len) w |= (unsigned long)p[i + 1] << 8;
        if (i + 2 < len) w |= p[i + 2];
        out[o++] = al[w >> 18 & 63];
        out[o++] = al[w >> 12 & 63];
        out[o++] = i + 1 < len ? al[w >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? al[w & 63] : '=';
    }
    out[o] = 0;
    return o;
}

int smtp_auth_plain(const char *dec, size_t len, char *user, size_t ulen, char *pass, size_t plen)
{
    const char *z1 = memchr(dec, 0, len);
    if (!z1) return -1;
    const char *cid = z1 + 1;
    const char *z2 = memchr(cid, 0, len - (size_t)(cid - dec));
    if (!z2) return -1;
    size_t zl = (size_t)(z1 - dec), cl = (size_t)(z2 - cid), pl = len - (size_t)(z2 + 1 - dec);
    if (cl == 0 || cl >= ulen || pl >= plen || memchr(z2 + 1, 0, pl)) return -1;
    if (zl && (zl != cl || memcmp(dec, cid, cl) != 0)) return -1;
    memcpy(user, cid, cl); user[cl] = 0;
    memcpy(pass, z2 + 1, pl); pass[pl] = 0;
    return 0;
}

/* The DATA automaton's states. */
enum { SD_BOL, SD_TEXT, SD_CR, SD_DOT, SD_DOT_CR, SD_DONE };

void smtp_data_init(smtp_data *d, size_t max_size)
{
    memset(d, 0, sizeof *d);
    d->state = SD_BOL;
    d->max_size = max_size;
}

static void smtp_data_emit(smtp_data *d, char c, char *out, size_t *o)
{
    if (d->too_big || d->line_too_long || d->bare_eol) return;
    if (d->max_size && d->size + 1 > d->max_size) { d->too_big = 1; return; }
    d->size++;
    out[(*o)++] = c;
}

/* A byte of text on a line (not CR). */
static void smtp_data_text(smtp_data *d, char c, char *out, size_t *o)
{
    if (c == '\n') { d->bare_eol = 1; d->line_len = 0; d->state = SD_BOL; return; }
    if (++d->line_len > SMTP_LINE_MAX - 2) d->line_too_long = 1;
    smtp_data_emit(d, c, out, o);
    d->state = SD_TEXT;
}

size_t smtp_data_feed(smtp_data *d, const char *in, size_t len, char *out, size_t *outlen)
{
    size_t i = 0, o = 0;
    while (i < len && d->state != SD_DONE) {
        char c = in[i++];
        switch (d->state) {
        case SD_BOL:
            if (c == '.') { d->state = SD_DOT; break; }
            /* fall through */
        case SD_TEXT:
            if (c == '\r') { smtp_data_emit(d, c, out, &o); d->state = SD_CR; }
            else smtp_data_text(d, c, out, &o);
            break;
        case SD_CR:
            if (c == '\n') { smtp_data_emit(d, c, out, &o); d->line_len = 0; d->state = SD_BOL; break; }
            d->bare_eol = 1;
            if (c == '\r') break;  /* stay in SD_CR */
            smtp_data_text(d, c, out, &o);
            break;
        case SD_DOT:
            if (c == '\r') { d->state = SD_DOT_CR; break; }
            d->line_len++;  /* the stuffed dot counted on the wire */
            smtp_data_text(d, c, out, &o);
            break;
        case SD_DOT_CR:
            if (c == '\n') { d->state = SD_DONE; d->done = 1; break; }
            d->bare_eol = 1;
            smtp_data_emit(d, '\r', out, &o);
            d->state = SD_CR;
            i--;  /* look at c again after the CR */
            break;
        }
    }
    *outlen = o;
    return i;
}
