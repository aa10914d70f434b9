/* fuzz_static_parse.c — libFuzzer target for the Range, HTTP-date and
 * entity-tag parsers of static files. The first byte picks the file size
 * (a few interesting ones); the rest is the header value. Every range
 * returned must lie inside the file, be non-empty, and no two may touch
 * (they were merged); a date that parses must format and parse back to
 * itself; an entity tag list that names our tag strongly names it weakly. */
#include "core/static_parse.c"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t sizes[] = {0, 1, 13, 1000, 5 << 20, UINT64_MAX / 2};
    if (size == 0)
        return 0;
    uint64_t fsize = sizes[data[0] % 6];
    const char *v = (const char *)data + 1;
    size_t n = size - 1;
    static_range rg[STATIC_MAX_RANGES];
    const char *why = NULL;
    int k = static_parse_range(v, n, fsize, rg, &why);
    if (k > STATIC_MAX_RANGES || (k <= 0 && !why))
        abort();
    for (int i = 0; i < k; i++) {
        if (rg[i].first > rg[i].last || rg[i].last >= fsize)
            abort();
        for (int j = 0; j < i; j++)
            if (touches(&rg[i], &rg[j]))
                abort();
    }
    int64_t t, t2;
    if (static_parse_date(v, n, &t) == 0 && t >= 0 && t < 253402300800LL) {
        char out[30];
        static_format_date(t, out);
        if (static_parse_date(out, strlen(out), &t2) != 0 || t2 != t)
            abort();
    }
    static const char tag[] = "\"5-1a2b\"";
    if (static_etag_match(v, n, tag, sizeof tag - 1, 1) && !static_etag_match(v, n, tag, sizeof tag - 1, 0))
        abort();
    return 0;
}
