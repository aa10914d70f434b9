/*
 * fuzz_hpack_decode.c — libFuzzer target for the HPACK decoder.
 *
 * The input is cut into blocks that share one decoder (the first byte picks
 * the cut size and the table limit), so the dynamic table, eviction and size
 * updates carry across blocks. Every block must either decode or fail with a
 * reason and an offset inside it; emitted strings must be readable.
 */
#include "core/buf.c"
#include "core/hpack.c"
#include "core/hpack_huff.c"

static int fz_emit(void *ud, const char *n, size_t nl, const char *v, size_t vl, int flags)
{
    size_t *sum = ud;
    for (size_t i = 0; i < nl; i++)
        *sum += (uint8_t)n[i];
    for (size_t i = 0; i < vl; i++)
        *sum += (uint8_t)v[i];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cut = 1 + (data[0] & 0x3f) * 4, table = (data[0] & 0xc0) == 0 ? 4096 : (size_t)(data[0] >> 6) * 100;
    hpack_dec d;
    hpack_dec_init(&d, table, (data[0] & 1) ? 1000 : 0);
    data++;
    size--;
    for (size_t at = 0; at < size; at += cut) {
        size_t n = size - at < cut ? size - at : cut, sum = 0, off = 0;
        const char *err = NULL;
        int r = hpack_decode_block(&d, data + at, n, fz_emit, &sum, &err, &off);
        if (r == HPACK_ERR_COMPRESSION && (!err || off > n))
            __builtin_trap();
        if (r == HPACK_ERR_COMPRESSION)
            break;
        if (d.table.size > d.table.max_size)
            __builtin_trap();
    }
    hpack_dec_free(&d);
    return 0;
}
