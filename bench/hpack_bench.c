/*
 * hpack_bench.c — atto's HPACK engine beside libnghttp2's, in the same run.
 *
 * Decoding: every block of every implementation folder of hpack-test-case
 * (one decoder per story, SETTINGS table size changes applied as the story
 * says). Encoding: every raw-data story (one encoder per story), plus the
 * total encoded size. Each side is run REPEAT times; the best time counts.
 * Input comes from bench/hpack_prep.py (flattened, hex). Not a test: it only
 * checks that both sides saw the same number of fields.
 *
 *   hpack_bench DECODE_FILE ENCODE_FILE [REPEAT]
 */
#include "core/hpack.h"
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { uint8_t *p; size_t len; long table; int story_start; } blk;        /* decode input */
typedef struct { nghttp2_nv *nv; size_t n; int story_start; } hblk;                  /* encode input */

static blk  *dec_in;
static size_t ndec;
static hblk *enc_in;
static size_t nenc;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint8_t *unhex(const char *s, size_t *len)
{
    size_t n = strcspn(s, " \n");
    uint8_t *p = malloc(n / 2 + 1);
    if (*s == '-')
        n = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sscanf(s + i, "%2hhx", &p[i / 2]);
    *len = n / 2;
    return p;
}

static void load(const char *dpath, const char *epath)
{
    static char line[1 << 20];
    FILE *f = fopen(dpath, "r");
    long table = -1;
    int start = 0;
    size_t cap = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == 'S') {
            start = 1;
        } else if (line[0] == 'T') {
            table = atol(line + 2);
        } else if (line[0] == 'W') {
            if (ndec == cap)
                dec_in = realloc(dec_in, (cap = cap ? cap * 2 : 1024) * sizeof *dec_in);
            dec_in[ndec].p = unhex(line + 2, &dec_in[ndec].len);
            dec_in[ndec].table = table;
            dec_in[ndec++].story_start = start;
            start = 0;
            table = -1;
        }
    }
    if (f)
        fclose(f);
    f = fopen(epath, "r");
    cap = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == 'S') {
            start = 1;
        } else if (line[0] == 'B') {
            if (nenc == cap)
                enc_in = realloc(enc_in, (cap = cap ? cap * 2 : 1024) * sizeof *enc_in);
            enc_in[nenc++] = (hblk){NULL, 0, start};
            start = 0;
        } else if (line[0] == 'H' && nenc) {
            hblk *b = &enc_in[nenc - 1];
            b->nv = realloc(b->nv, (b->n + 1) * sizeof *b->nv);
            char *v = strchr(line + 2, ' ') + 1;
            b->nv[b->n].name = unhex(line + 2, &b->nv[b->n].namelen);
            b->nv[b->n].value = unhex(v, &b->nv[b->n].valuelen);
            b->nv[b->n++].flags = NGHTTP2_NV_FLAG_NONE;
        }
    }
    if (f)
        fclose(f);
}

static int count_field(void *ud, const char *n, size_t nl, const char *v, size_t vl, int flags)
{
    *(size_t *)ud += nl + vl;
    return 0;
}

static double atto_decode(size_t *bytes)
{
    hpack_dec d;
    int live = 0;
    double t0 = now();
    for (size_t i = 0; i < ndec; i++) {
        if (dec_in[i].story_start) {
            if (live)
                hpack_dec_free(&d);
            hpack_dec_init(&d, 4096, 0);
            live = 1;
        }
        if (dec_in[i].table >= 0)
            hpack_dec_set_max_table_size(&d, (size_t)dec_in[i].table);
        const char *err;
        size_t off;
        if (hpack_decode_block(&d, dec_in[i].p, dec_in[i].len, count_field, bytes, &err, &off) != HPACK_OK) {
            fprintf(stderr, "atto decode failed: %s at %zu\n", err, off);
            exit(1);
        }
    }
    if (live)
        hpack_dec_free(&d);
    return now() - t0;
}

static double ng_decode(size_t *bytes)
{
    nghttp2_hd_inflater *inf = NULL;
    double t0 = now();
    for (size_t i = 0; i < ndec; i++) {
        if (dec_in[i].story_start) {
            if (inf)
                nghttp2_hd_inflate_del(inf);
            nghttp2_hd_inflate_new(&inf);
        }
        if (dec_in[i].table >= 0)
            nghttp2_hd_inflate_change_table_size(inf, (size_t)dec_in[i].table);
        const uint8_t *p = dec_in[i].p;
        size_t left = dec_in[i].len;
        for (;;) {
            nghttp2_nv nv;
            int flags = 0;
            ssize_t r = nghttp2_hd_inflate_hd2(inf, &nv, &flags, p, left, 1);
            if (r < 0) {
                fprintf(stderr, "nghttp2 decode failed: %zd\n", r);
                exit(1);
            }
            p += r;
            left -= (size_t)r;
            if (flags & NGHTTP2_HD_INFLATE_EMIT)
                *bytes += nv.namelen + nv.valuelen;
            if (flags & NGHTTP2_HD_INFLATE_FINAL) {
                nghttp2_hd_inflate_end_headers(inf);
                break;
            }
            if (r == 0 && !(flags & NGHTTP2_HD_INFLATE_EMIT))
                break;
        }
    }
    if (inf)
        nghttp2_hd_inflate_del(inf);
    return now() - t0;
}

static double atto_encode(size_t *size)
{
    hpack_enc e;
    int live = 0;
    buf out = BUF_INIT;
    double t0 = now();
    for (size_t i = 0; i < nenc; i++) {
        if (enc_in[i].story_start) {
            if (live)
                hpack_enc_free(&e);
            hpack_enc_init(&e, 4096);
            live = 1;
        }
        buf_reset(&out);
        hpack_enc_begin_block(&e, &out);
        for (size_t k = 0; k < enc_in[i].n; k++) {
            const nghttp2_nv *nv = &enc_in[i].nv[k];
            hpack_encode_field(&e, &out, (const char *)nv->name, nv->namelen, (const char *)nv->value,
                               nv->valuelen, 0);
        }
        *size += out.len;
    }
    if (live)
        hpack_enc_free(&e);
    buf_free(&out);
    return now() - t0;
}

static double ng_encode(size_t *size)
{
    nghttp2_hd_deflater *def = NULL;
    static uint8_t out[1 << 20];
    double t0 = now();
    for (size_t i = 0; i < nenc; i++) {
        if (enc_in[i].story_start) {
            if (def)
                nghttp2_hd_deflate_del(def);
            nghttp2_hd_deflate_new(&def, 4096);
        }
        ssize_t r = nghttp2_hd_deflate_hd(def, out, sizeof out, enc_in[i].nv, enc_in[i].n);
        if (r < 0) {
            fprintf(stderr, "nghttp2 encode failed: %zd\n", r);
            exit(1);
        }
        *size += (size_t)r;
    }
    if (def)
        nghttp2_hd_deflate_del(def);
    return now() - t0;
}

typedef double (*run_fn)(size_t *);

static double best(run_fn f, int repeat, size_t *result)
{
    double b = 1e9;
    for (int i = 0; i < repeat; i++) {
        size_t r = 0;
        double t = f(&r);
        if (t < b)
            b = t;
        *result = r;
    }
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hpack_bench DECODE_FILE ENCODE_FILE [REPEAT]\n");
        return 2;
    }
    int repeat = argc > 3 ? atoi(argv[3]) : 10;
    load(argv[1], argv[2]);
    size_t in_bytes = 0, fields = 0;
    for (size_t i = 0; i < ndec; i++)
        in_bytes += dec_in[i].len;
    for (size_t i = 0; i < nenc; i++)
        fields += enc_in[i].n;
    if (!ndec || !nenc) {
        fprintf(stderr, "hpack_bench: no input (run bench/hpack.sh)\n");
        return 1;
    }
    size_t ad, nd, ae, ne;
    double tad = best(atto_decode, repeat, &ad), tnd = best(ng_decode, repeat, &nd);
    double tae = best(atto_encode, repeat, &ae), tne = best(ng_encode, repeat, &ne);
    printf("hpack decode: %zu blocks, %.1f MB of HPACK -> %.1f MB of headers\n", ndec, in_bytes / 1e6, ad / 1e6);
    printf("  atto     %7.1f ms  %7.1f MB/s\n", tad * 1e3, in_bytes / tad / 1e6);
    printf("  nghttp2  %7.1f ms  %7.1f MB/s\n", tnd * 1e3, in_bytes / tnd / 1e6);
    printf("  atto speed / nghttp2 speed: %.2fx%s\n", tnd / tad, ad == nd ? "" : "  (OUTPUT DIFFERS)");
    printf("hpack encode: raw-data, %zu blocks, %zu fields\n", nenc, fields);
    printf("  atto     %7.1f ms  %zu bytes\n", tae * 1e3, ae);
    printf("  nghttp2  %7.1f ms  %zu bytes\n", tne * 1e3, ne);
    printf("  atto speed / nghttp2 speed: %.2fx; size atto / nghttp2: %.4f\n", tne / tae, (double)ae / ne);
    return 0;
}
