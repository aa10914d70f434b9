/*
 * fuzz_multipart.c — libFuzzer target for core/multipart.c. The first byte
 * picks the boundary length (1..16 bytes taken from the input), the rest is
 * the body. Checks: every reported part lies inside the body, parts come in
 * order without overlap, and the count never exceeds max_parts.
 */
#include <assert.h>
#include <stdint.h>
#include "core/multipart.c"

typedef struct span { const char *body, *end, *last; int n; } span;

static int check_part(void *ud, const mp_part *p)
{
    span *s = ud;
    assert(p->data >= s->body && p->data + p->len <= s->end);
    assert(p->data >= s->last);
    assert(p->name.p && p->name.p >= s->body && p->name.p + p->name.n <= s->end);
    if (p->filename.p)
        assert(p->filename.p >= s->body && p->filename.p + p->filename.n <= s->end);
    char tmp[MP_MAX_PART_HEADER];
    assert(p->name.n <= sizeof tmp);
    assert(mp_unquote(&p->name, tmp) <= p->name.n);
    s->last = p->data + p->len;
    s->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t blen = (size_t)(data[0] % 16) + 1;
    if (size < 1 + blen)
        return 0;
    const char *b = (const char *)data + 1;
    const char *body = b + blen;
    size_t n = size - 1 - blen;
    span s = { body, body + n, body, 0 };
    const char *err = NULL;
    int rc = mp_parse(body, n, b, blen, 50, check_part, &s, &err);
    assert(rc < 0 ? err != NULL : rc == s.n);
    assert(rc <= 50);
    const char *bb;
    size_t bl;
    mp_boundary(body, n, &bb, &bl, &err);
    return 0;
}
