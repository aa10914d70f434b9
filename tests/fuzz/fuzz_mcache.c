/* fuzz_mcache.c — libFuzzer target for the IMAP metadata cache file reader
 * (mail/mcache_fmt.c): any bytes must be refused cleanly or decode into
 * entries that encode back to exactly the same bytes. The first input byte
 * picks the UIDVALIDITY to expect, so both the stale and the matching path
 * run; a checksum stops most random inputs early, so the target also
 * reseals the input (recomputes the checksum) to reach the entry parser. */
#include "core/buf.c"
#include "mail/mcache_fmt.c"
#include <stdint.h>

static void check(const char *p, size_t n, uint32_t uv)
{
    mcache_tab t = {0}, again = {0};
    const char *why = NULL;
    if (mcache_decode(p, n, uv, &t, &why) < 0) {
        if (!why || t.n)
            __builtin_trap();
        return;
    }
    buf out = BUF_INIT, out2 = BUF_INIT;
    mcache_encode(&t, uv, &out);
    if (buf_size(&out) != n || memcmp(buf_head(&out), p, n) != 0)   /* a sound file is canonical */
        __builtin_trap();
    if (mcache_decode(buf_head(&out), buf_size(&out), uv, &again, &why) < 0 || again.n != t.n)
        __builtin_trap();
    mcache_encode(&again, uv, &out2);
    if (buf_size(&out) != buf_size(&out2) || memcmp(buf_head(&out), buf_head(&out2), buf_size(&out)) != 0)
        __builtin_trap();
    for (size_t i = 0; i < t.n; i++)
        if (mcache_tab_find(&again, t.e[i]->base) == NULL)
            __builtin_trap();
    buf_free(&out);
    buf_free(&out2);
    mcache_tab_free(&t);
    mcache_tab_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < MCACHE_HDRSIZE)
        return check((const char *)data, size, 1), 0;
    uint32_t uv = (uint32_t)data[12] | (uint32_t)data[13] << 8 | (uint32_t)data[14] << 16 |
                  (uint32_t)data[15] << 24;
    check((const char *)data, size, uv);
    char *c = malloc(size);
    memcpy(c, data, size);
    uint64_t sum = mc_sum((const unsigned char *)c + MCACHE_HDRSIZE, size - MCACHE_HDRSIZE);
    for (int i = 0; i < 8; i++)
        c[24 + i] = (char)(sum >> (8 * i));
    check(c, size, uv);
    check(c, size, uv + 1);
    free(c);
    return 0;
}
