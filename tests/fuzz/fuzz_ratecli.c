/* fuzz_ratecli.c — libFuzzer target for bench/ratecli's response reader
 * (bench/ratecli_core.c). The input, after a first byte that picks a cut,
 * is read as a stream of responses twice: whole, and cut in two at that
 * byte. Both readings must agree (the reader is resumable at any byte) on
 * how many responses ended, where, their statuses and the error if any;
 * nothing may be consumed beyond what was fed, less than was fed only when
 * a response ended, and every refusal says why. */
#include "bench/ratecli_core.c"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct reading {
    int done, status[8];
    size_t end[8];       /* offset where each of the first 8 responses ended */
    const char *why;     /* the error, NULL if none */
} reading;

static struct rcc_resp resp;   /* 8 KiB of head: not on the stack */

/* Feed [p, p+n) starting at offset base; returns 0, or -1 on error. */
static int feed(reading *rd, const char *p, size_t n, size_t base)
{
    size_t off = 0;
    while (off < n) {
        const char *why = NULL;
        size_t rest = n - off;
        long k = rcc_resp_feed(&resp, p + off, rest, &why);
        if (k < 0) {
            if (!why)
                abort();
            rd->why = why;
            return -1;
        }
        if ((size_t)k > rest)
            abort();
        off += (size_t)k;
        if (resp.state == RCC_DONE) {
            if (rd->done < 8) {
                rd->status[rd->done] = resp.status;
                rd->end[rd->done] = base + off;
            }
            rd->done++;
            rcc_resp_reset(&resp);
        } else if ((size_t)k != rest) {
            abort();   /* short of the input only when a response ended */
        }
    }
    return 0;
}

static void read_all(reading *rd, const char *in, size_t n, size_t cut)
{
    memset(rd, 0, sizeof *rd);
    rcc_resp_reset(&resp);
    if (feed(rd, in, cut, 0) == 0 && feed(rd, in + cut, n - cut, cut) == 0) {
        const char *why = NULL;
        if (rcc_resp_eof(&resp, &why) < 0 && !why)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1, cut = n ? data[0] % (n + 1) : 0;
    reading whole, split;
    read_all(&whole, in, n, 0);
    read_all(&split, in, n, cut);
    if (whole.done != split.done || (whole.why == NULL) != (split.why == NULL))
        abort();
    if (whole.why && strcmp(whole.why, split.why) != 0)
        abort();
    for (int i = 0; i < whole.done && i < 8; i++)
        if (whole.status[i] != split.status[i] || whole.end[i] != split.end[i])
            abort();
    return 0;
}
