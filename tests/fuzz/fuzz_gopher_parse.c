/* fuzz_gopher_parse.c — libFuzzer target for the pure Gopher codec.
 * Properties: the selector-line parser stays in bounds, never accepts an
 * unsafe selector, and gives "need more" for every cut before the line end;
 * dot-stuffed text decodes back to its input (line ends normalised) and has
 * no lone "." line before the end; info lines, error items and rendered
 * gophermaps are well-formed menu lines (CRLF, three TABs, no leading "."). */
#include "core/buf.c"
#include "gopher/gopher_parse.c"
#include <stdint.h>
#include <stdlib.h>

static void check_menu(const buf *b)
{
    const char *p = b->data ? buf_head(b) : "";
    size_t n = buf_size(b);
    size_t i = 0;
    while (i < n) {
        const char *crlf = memmem(p + i, n - i, "\r\n", 2);
        if (!crlf) abort();                         /* every line ends with CRLF */
        size_t e = (size_t)(crlf - p), tabs = 0;
        if (e == i || p[i] == '.') abort();         /* never an empty or "." line */
        for (size_t k = i; k < e; k++) {
            if (p[k] == '\n' || p[k] == '\r') abort();
            tabs += p[k] == '\t';
        }
        if (tabs != 3) abort();
        i = e + 2;
    }
}

static void check_parse(const char *in, size_t len, size_t cut)
{
    gopher_line l;
    const char *err = NULL;
    long n = gopher_parse_line(in, len, GOPHER_MAX_LINE, 0, &l, &err);
    if (n < 0 && !err) abort();
    if (n > (long)len) abort();
    if (n > 0) {
        if (l.selector < in || l.selector + l.selector_len > in + len) abort();
        if (gopher_check_selector(l.selector, l.selector_len, &err) < 0) abort();
        if (memchr(l.selector, '\\', l.selector_len) || memchr(l.selector, '\t', l.selector_len)) abort();
        if (l.query && (l.query < in || l.query + l.query_len > in + len)) abort();
        if (cut < (size_t)n && !memchr(in, '\n', cut) &&
            gopher_parse_line(in, cut, GOPHER_MAX_LINE, 0, &l, &err) != 0) abort();
    }
    gopher_parse_line(in, len, GOPHER_MAX_LINE, 1, &l, &err);
    gopher_parse_line(in, len, 16, 0, &l, &err);
}

/* Undo gopher_text and compare with the input, CRLF -> LF. */
static void check_text(const char *in, size_t len)
{
    buf out = BUF_INIT, back = BUF_INIT, want = BUF_INIT;
    gopher_text(&out, in, len);
    const char *p = out.data ? buf_head(&out) : "";
    size_t n = buf_size(&out);
    if (n < 3 || memcmp(p + n - 3, ".\r\n", 3)) abort();
    n -= 3;
    for (size_t i = 0; i < n;) {
        const char *crlf = memmem(p + i, n - i, "\r\n", 2);
        if (!crlf) abort();
        size_t e = (size_t)(crlf - p);
        if (e - i == 1 && p[i] == '.') abort();     /* a lone "." would end the text */
        size_t s = i + (e > i && p[i] == '.');
        buf_append(&back, p + s, e - s);
        buf_append(&back, "\n", 1);
        i = e + 2;
    }
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') continue;
        buf_append(&want, in + i, 1);
    }
    if (len && in[len - 1] != '\n') buf_append(&want, "\n", 1);
    if (buf_size(&back) != buf_size(&want) ||
        (buf_size(&back) && memcmp(buf_head(&back), buf_head(&want), buf_size(&back)))) abort();
    buf_free(&out); buf_free(&back); buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t cut = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    check_parse(in, len, cut < len ? cut : len);
    check_text(in, len);
    buf b = BUF_INIT;
    gopher_info(&b, in, len);
    gopher_error_item(&b, in, len);
    check_menu(&b);
    buf_reset(&b);
    gopher_map_render(&b, in, len, "/dir", "host", 70);
    check_menu(&b);
    buf_reset(&b);
    const char *err;
    size_t half = len / 2;
    if (gopher_item(&b, (char)data[0], in, half, in + half, len - half, "h", 1, &err) == 0)
        check_menu(&b);
    buf_reset(&b);
    gopher_url_page(&b, in, len, &err);
    char name[64];
    size_t k = len < sizeof name - 1 ? len : sizeof name - 1;
    memcpy(name, in, k);
    name[k] = 0;
    gopher_type_for(name);
    gopher_sniff(in, len);
    buf_free(&b);
    return 0;
}
