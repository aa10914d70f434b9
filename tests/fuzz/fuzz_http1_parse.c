/*
 * fuzz_http1_parse.c — libFuzzer target for the HTTP/1.1 parser.
 *
 * Parses the input as a request head under two sets of limits and checks
 * the invariants the connection driver relies on: the result never exceeds
 * len or max_head, every pointer lies inside the buffer, a rejection always
 * has a reason and a known status, and the verdict does not depend on where
 * the bytes were cut (the head minus one byte needs more; the head alone
 * gives the same length). When the head asks for a chunked body, the rest is
 * decoded all at once and in two pieces, and both must agree.
 */
#include "core/http1_parse.c"
#include "core/buf.c"
#include <stdlib.h>

#define IN(p, n, base, len) ((n) == 0 || ((p) >= (base) && (p) + (n) <= (base) + (len)))

static void check_head(const h1_head *h, const char *b, size_t len, size_t maxh)
{
    if (!IN(h->method, h->method_len, b, len) || !h->method_len ||
        !IN(h->target, h->target_len, b, len) || !h->target_len ||
        (h->host && !IN(h->host, h->host_len, b, len)) ||
        (h->h2_settings && !IN(h->h2_settings, h->h2_settings_len, b, len)) ||
        h->nheaders > maxh || (h->minor != 0 && h->minor != 1) ||
        (h->chunked && h->content_length >= 0))
        abort();
    for (size_t i = 0; i < h->nheaders; i++) {
        const http_hdr *x = &h->headers[i];
        if (!x->name_len || !IN(x->name, x->name_len, b, len) || !IN(x->value, x->value_len, b, len))
            abort();
        for (size_t j = 0; j < x->name_len; j++)
            if (x->name[j] >= 'A' && x->name[j] <= 'Z')
                abort();
    }
}

static long decode_split(const char *in, size_t n, size_t cut, buf *out, int *done)
{
    h1_chunked c = {0};
    const char *err;
    long a = h1_chunked_decode(&c, in, cut, out, 1 << 16, done, &err);
    if (a < 0 || *done)
        return a;
    if ((size_t)a != cut)
        abort();
    long b = h1_chunked_decode(&c, in + cut, n - cut, out, 1 << 16, done, &err);
    if (b < 0 && !err)
        abort();
    return b < 0 ? b : a + b;
}

static void check_body(const char *in, size_t n, size_t cut)
{
    buf one = BUF_INIT, two = BUF_INIT;
    int d1 = 0, d2 = 0;
    long r1 = decode_split(in, n, n, &one, &d1);
    long r2 = decode_split(in, n, cut, &two, &d2);
    if (r1 > (long)n || (r1 >= 0 && !d1 && r1 != (long)n))
        abort();
    if (r1 != r2 || d1 != d2 || buf_size(&one) != buf_size(&two) ||
        (buf_size(&one) && memcmp(buf_head(&one), buf_head(&two), buf_size(&one))))
        abort();
    buf_free(&one);
    buf_free(&two);
}

static void one_pass(const uint8_t *data, size_t len, const h1_limits *lim)
{
    static h1_head h, h2;
    char *b = malloc(len ? len : 1);
    memcpy(b, data, len);
    const char *err = NULL;
    int r = h1_parse_head(b, len, lim, &h, &err);
    if (r > (int)len || (size_t)(r > 0 ? r : 0) > lim->max_head)
        abort();
    if (r < 0 && (!err || (r != -400 && r != -414 && r != -417 && r != -431 && r != -501 && r != -505)))
        abort();
    if (r > 0) {
        size_t maxh = lim->max_headers < H1_MAX_HEADERS ? lim->max_headers : H1_MAX_HEADERS;
        check_head(&h, b, len, maxh);
        if (h1_parse_head(b, (size_t)r - 1, lim, &h2, &err) != 0 ||
            h1_parse_head(b, (size_t)r, lim, &h2, &err) != r || h2.nheaders != h.nheaders)
            abort();
        if (h.chunked)
            check_body(b + r, len - (size_t)r, (len * 7 + 3) % (len - (size_t)r + 1));
    }
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static const h1_limits big = {16384, 100, 8192}, small = {256, 8, 64};
    one_pass(data, len, &big);
    one_pass(data, len, &small);
    return 0;
}
