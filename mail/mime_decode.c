/*
 * mime_decode.c — the decoding half of mime.h: RFC 2047 encoded words,
 * base64 and quoted-printable bodies, and RFC 5322 dates. SEARCH uses these
 * to match what a person sees rather than the bytes on the wire. Pure.
 */
#include "mail/mime.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static void b64_decode(const char *s, size_t n, buf *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            if (s[i] == '=')
                break;
            continue;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xff);
            buf_append(out, &c, 1);
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static void qp_decode(const char *s, size_t n, int underscore_space, buf *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=' && i + 2 < n + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (c == '=' && i + 1 < n && (s[i + 1] == '\r' || s[i + 1] == '\n')) {
            i += s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n' ? 2 : 1;   /* soft break */
            continue;
        } else if (c == '_' && underscore_space) {
            c = ' ';
        }
        buf_append(out, &c, 1);
    }
}

void mime_decode_body(const char *s, size_t n, const char *enc, buf *out)
{
    if (enc && strcasecmp(enc, "base64") == 0)
        b64_decode(s, n, out);
    else if (enc && strcasecmp(enc, "quoted-printable") == 0)
        qp_decode(s, n, 0, out);
    else
        buf_append(out, s, n);
}

/* Latin-1 (and the printable part of Windows-1252 that matches it) to UTF-8. */
static void latin1_to_utf8(const char *s, size_t n, buf *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            buf_append(out, s + i, 1);
        } else {
            char u[2] = { (char)(0xc0 | (c >> 6)), (char)(0x80 | (c & 0x3f)) };
            buf_append(out, u, 2);
        }
    }
}

/* One "=?cs?E?text?=" at s; returns its length or 0. */
static size_t decode_word(const char *s, size_t n, buf *out)
{
    if (n < 8 || s[0] != '=' || s[1] != '?')
        return 0;
    const char *cs = s + 2, *e = s + n;
    const char *q1 = memchr(cs, '?', (size_t)(e - cs));
    if (!q1 || q1 + 3 >= e || q1[2] != '?')
        return 0;
    char kind = (char)toupper((unsigned char)q1[1]);
    const char *text = q1 + 3;
    const char *end = text;
    while (end + 1 < e && !(end[0] == '?' && end[1] == '='))
        end++;
    if (end + 1 >= e || (kind != 'B' && kind != 'Q'))
        return 0;
    buf raw = BUF_INIT;
    if (kind == 'B')
        b64_decode(text, (size_t)(end - text), &raw);
    else
        qp_decode(text, (size_t)(end - text), 1, &raw);
    size_t cslen = (size_t)(q1 - cs);
    const char *star = memchr(cs, '*', cslen);          /* RFC 2231 language */
    if (star)
        cslen = (size_t)(star - cs);
    if ((cslen == 10 && strncasecmp(cs, "iso-8859-1", 10) == 0) ||
        (cslen == 12 && strncasecmp(cs, "windows-1252", 12) == 0) ||
        (cslen == 6 && strncasecmp(cs, "latin1", 6) == 0))
        latin1_to_utf8(raw.data ? buf_head(&raw) : "", buf_size(&raw), out);
    else
        buf_append(out, raw.data ? buf_head(&raw) : "", buf_size(&raw));
    buf_free(&raw);
    return (size_t)(end + 2 - s);
}

void mime_decode_words(const char *s, size_t n, buf *out)
{
    size_t i = 0;
    int last_was_word = 0;
    while (i < n) {
        size_t w = s[i] == '=' ? decode_word(s + i, n - i, out) : 0;
        if (w) {
            i += w;
            last_was_word = 1;
            continue;
        }
        if (last_was_word && (s[i] == ' ' || s[i] == '\t')) {
            size_t j = i;                       /* blanks between two words vanish */
            while (j < n && (s[j] == ' ' || s[j] == '\t'))
                j++;
            if (j + 1 < n && s[j] == '=' && s[j + 1] == '?') {
                buf probe = BUF_INIT;
                size_t pw = decode_word(s + j, n - j, &probe);
                buf_free(&probe);
                if (pw) {
                    i = j;
                    continue;
                }
            }
        }
        last_was_word = 0;
        buf_append(out, s + i, 1);
        i++;
    }
}

/* ---- dates ------------------------------------------------------------ */

static const char *months[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                "jul", "aug", "sep", "oct", "nov", "dec" };

int mime_parse_date(const char *s, size_t n, int *year, int *mon, int *day, long *tz,
                    int *hh, int *mm, int *ss)
{
    char tmp[128], mname[8] = "";
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *p = tmp, *comma = strchr(tmp, ',');
    if (comma)
        p = comma + 1;
    int d = 0, y = 0, H = 0, M = 0, S = 0;
    char zone[16] = "";
    int got = sscanf(p, " %d %3s %d %d:%d:%d %15s", &d, mname, &y, &H, &M, &S, zone);
    if (got < 3) {
        got = sscanf(p, " %d %3s %d %d:%d %15s", &d, mname, &y, &H, &M, zone);
        S = 0;
        if (got < 3)
            return 0;
    }
    int m = -1;
    for (int i = 0; i < 12; i++)
        if (strncasecmp(mname, months[i], 3) == 0)
            m = i;
    if (m < 0 || d < 1 || d > 31)
        return 0;
    if (y < 50) y += 2000;
    else if (y < 1000) y += 1900;
    long off = 0;
    if ((zone[0] == '+' || zone[0] == '-') && isdigit((unsigned char)zone[1])) {
        long z = strtol(zone + 1, NULL, 10);
        off = (z / 100) * 3600 + (z % 100) * 60;
        if (zone[0] == '-')
            off = -off;
    }
    *year = y; *mon = m; *day = d;
    if (tz) *tz = off;
    if (hh) *hh = H;
    if (mm) *mm = M;
    if (ss) *ss = S;
    return 1;
}
