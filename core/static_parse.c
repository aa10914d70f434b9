/*
 * static_parse.c — Range, HTTP-date and entity-tag parsing for static files.
 *
 * Everything here is pure and bounded. A Range header is read once, left to
 * right, into a fixed array of at most STATIC_MAX_SPECS specs; numbers
 * saturate instead of overflowing (a first-pos of 10^40 is simply past the
 * end, a suffix of 10^40 is the whole file); overlapping and adjacent ranges
 * are merged so a response never carries a byte twice, and a set that stays
 * larger than STATIC_MAX_RANGES is ignored (the whole file is cheaper than
 * hundreds of parts). Dates accept the three formats RFC 9110 obliges a
 * recipient to read; anything else is "not a date" and the caller ignores
 * the header, as the RFC says.
 */
#include "core/static_parse.h"
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- Range ------------------------------------------------------------ */

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* 1*DIGIT, saturating at UINT64_MAX. Returns NULL when there is no digit. */
static const char *parse_u64(const char *p, const char *end, uint64_t *v)
{
    const char *start = p;
    uint64_t x = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
    }
    *v = x;
    return p == start ? NULL : p;
}

/* One range-spec at p. Returns the end of it, or NULL on bad syntax.
 * *sat = 1 and *rg filled when it is satisfiable for `size`. */
static const char *parse_spec(const char *p, const char *end, uint64_t size,
                              static_range *rg, int *sat)
{
    uint64_t a, b;
    *sat = 0;
    if (*p == '-') {                                    /* suffix-range: -N */
        p = parse_u64(p + 1, end, &b);
        if (!p)
            return NULL;
        if (b > 0 && size > 0) {
            rg->first = b >= size ? 0 : size - b;
            rg->last = size - 1;
            *sat = 1;
        }
        return p;
    }
    p = parse_u64(p, end, &a);
    if (!p || p == end || *p != '-')
        return NULL;
    p++;
    b = UINT64_MAX;                                     /* open: N- */
    if (p < end && *p >= '0' && *p <= '9') {
        p = parse_u64(p, end, &b);
        if (b < a)
            return NULL;                                /* invalid: the header is ignored */
    }
    if (a < size) {
        rg->first = a;
        rg->last = b >= size ? size - 1 : b;
        *sat = 1;
    }
    return p;
}

static int touches(const static_range *x, const static_range *y)
{
    /* overlapping or adjacent (no gap between them) */
    return x->first <= (y->last == UINT64_MAX ? y->last : y->last + 1) &&
           y->first <= (x->last == UINT64_MAX ? x->last : x->last + 1);
}

/* Merge touching ranges in place, keeping the first one's position. */
static int coalesce(static_range *v, int n)
{
    for (int merged = 1; merged;) {
        merged = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) {
                if (!touches(&v[i], &v[j]))
                    continue;
                if (v[j].first < v[i].first) v[i].first = v[j].first;
                if (v[j].last > v[i].last) v[i].last = v[j].last;
                memmove(&v[j], &v[j + 1], (size_t)(n - j - 1) * sizeof *v);
                n--;
                j--;
                merged = 1;
            }
    }
    return n;
}

int static_parse_range(const char *v, size_t n, uint64_t size, static_range *out, const char **why)
{
    static_range tmp[STATIC_MAX_SPECS];
    const char *p = skip_ows(v, v + n), *end = v + n;
    int nspec = 0, nsat = 0;
    if (end - p < 6 || strncasecmp(p, "bytes=", 6) != 0) {
        *why = "not a bytes range";
        return 0;
    }
    for (p += 6;;) {
        p = skip_ows(p, end);
        if (p == end)
            break;
        if (*p == ',') {                                /* empty list elements are allowed */
            p++;
            continue;
        }
        if (nspec == STATIC_MAX_SPECS) {
            *why = "too many ranges";
            return 0;
        }
        int sat;
        p = parse_spec(p, end, size, &tmp[nsat], &sat);
        if (!p) {
            *why = "malformed range";
            return 0;
        }
        nspec++;
        nsat += sat;
        p = skip_ows(p, end);
        if (p < end && *p != ',') {
            *why = "malformed range";
            return 0;
        }
    }
    if (nspec == 0) {
        *why = "empty range set";
        return 0;
    }
    if (nsat == 0) {
        *why = "no satisfiable range";
        return -1;
    }
    nsat = coalesce(tmp, nsat);
    if (nsat > STATIC_MAX_RANGES) {
        *why = "too many ranges";
        return 0;
    }
    memcpy(out, tmp, (size_t)nsat * sizeof *out);
    return nsat;
}

/* ---- HTTP-date ---------------------------------------------------------- */

static const char days_short[] = "SunMonTueWedThuFriSat";
static const char *const days_long[] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

typedef struct cursor { const char *p, *end; int ok; } cursor;

static void lit(cursor *c, const char *s)
{
    size_t n = strlen(s);
    if (!c->ok || (size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        c->ok = 0;
    else
        c->p += n;
}

static int digits(cursor *c, int n)
{
    int v = 0;
    if (!c->ok || c->end - c->p < n) {
        c->ok = 0;
        return 0;
    }
    for (int i = 0; i < n; i++, c->p++) {
        if (*c->p < '0' || *c->p > '9') {
            c->ok = 0;
            return 0;
        }
        v = v * 10 + (*c->p - '0');
    }
    return v;
}

static int month(cursor *c)
{
    if (c->ok && c->end - c->p >= 3)
        for (int i = 0; i < 12; i++)
            if (memcmp(c->p, months + 3 * i, 3) == 0) {
                c->p += 3;
                return i;
            }
    c->ok = 0;
    return 0;
}

/* HH:MM:SS */
static void clock_time(cursor *c, struct tm *tm)
{
    tm->tm_hour = digits(c, 2);
    lit(c, ":");
    tm->tm_min = digits(c, 2);
    lit(c, ":");
    tm->tm_sec = digits(c, 2);
}

static int valid_tm(const struct tm *tm)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return tm->tm_mday >= 1 && tm->tm_mday <= mdays[tm->tm_mon] && tm->tm_hour < 24 &&
           tm->tm_min < 60 && tm->tm_sec <= 60;
}

/* Which weekday name starts the value: 3 letters, or a long name. */
static int weekday(const char *p, size_t n, int *long_form)
{
    for (int i = 0; i < 7; i++) {
        size_t l = strlen(days_long[i]);
        if (n >= l && memcmp(p, days_long[i], l) == 0 && n > l && p[l] == ',') {
            *long_form = 1;
            return i;
        }
        if (n >= 3 && memcmp(p, days_short + 3 * i, 3) == 0) {
            *long_form = 0;
            return i;
        }
    }
    return -1;
}

static int full_year(int yy)
{
    time_t now = time(NULL);
    struct tm t;
    gmtime_r(&now, &t);
    int year = t.tm_year + 1900;
    int y = year - year % 100 + yy;
    return y > year + 50 ? y - 100 : y;
}

int static_parse_date(const char *s, size_t n, int64_t *t)
{
    const char *end = s + n;
    s = skip_ows(s, end);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int long_form;
    if (weekday(s, (size_t)(end - s), &long_form) < 0)
        return -1;
    cursor c = {s, end, 1};
    if (long_form) {                          /* Sunday, 06-Nov-94 08:49:37 GMT */
        c.p = memchr(s, ',', (size_t)(end - s));
        lit(&c, ", ");
        tm.tm_mday = digits(&c, 2);
        lit(&c, "-");
        tm.tm_mon = month(&c);
        lit(&c, "-");
        tm.tm_year = full_year(digits(&c, 2)) - 1900;
        lit(&c, " ");
        clock_time(&c, &tm);
        lit(&c, " GMT");
    } else if (end - s > 3 && s[3] == ',') {  /* Sun, 06 Nov 1994 08:49:37 GMT */
        c.p = s + 3;
        lit(&c, ", ");
        tm.tm_mday = digits(&c, 2);
        lit(&c, " ");
        tm.tm_mon = month(&c);
        lit(&c, " ");
        tm.tm_year = digits(&c, 4) - 1900;
        lit(&c, " ");
        clock_time(&c, &tm);
        lit(&c, " GMT");
    } else {                                  /* Sun Nov  6 08:49:37 1994 */
        c.p = s + 3;
        lit(&c, " ");
        tm.tm_mon = month(&c);
        lit(&c, " ");
        if (c.ok && c.p < c.end && *c.p == ' ') {
            c.p++;
            tm.tm_mday = digits(&c, 1);
        } else {
            tm.tm_mday = digits(&c, 2);
        }
        lit(&c, " ");
        clock_time(&c, &tm);
        lit(&c, " ");
        tm.tm_year = digits(&c, 4) - 1900;
    }
    if (!c.ok || c.p != c.end || !valid_tm(&tm))
        return -1;
    time_t v = timegm(&tm);
    if (v == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31))
        return -1;
    *t = (int64_t)v;
    return 0;
}

void static_format_date(int64_t t, char out[30])
{
    time_t v = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&v, &tm))
        memset(&tm, 0, sizeof tm);
    strftime(out, 30, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* ---- entity tags -------------------------------------------------------- */

int static_etag_match(const char *list, size_t n, const char *etag, size_t etag_len, int strong)
{
    const char *p = list, *end = list + n;
    if (etag_len < 2)
        return 0;
    const char *ours = etag + 1;               /* opaque part, without quotes */
    size_t ours_len = etag_len - 2;
    while (p < end) {
        p = skip_ows(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p == end)
            break;
        if (*p == '*') {
            const char *q = skip_ows(p + 1, end);
            if (q == end || *q == ',')
                return 1;
        }
        int weak = end - p >= 2 && p[0] == 'W' && p[1] == '/';
        const char *q = weak ? p + 2 : p;
        const char *close = q < end && *q == '"' ? memchr(q + 1, '"', (size_t)(end - q - 1)) : NULL;
        if (close) {
            size_t len = (size_t)(close - q - 1);
            if (!(strong && weak) && len == ours_len && memcmp(q + 1, ours, len) == 0)
                return 1;
            p = close + 1;
        }
        /* on to the next member (also skips whatever malformed text is left) */
        while (p < end && *p != ',')
            p++;
    }
    return 0;
}
