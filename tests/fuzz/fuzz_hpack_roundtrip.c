/*
 * fuzz_hpack_roundtrip.c — libFuzzer target: encode(random headers) must
 * decode back to the same headers, in order, with the same never-indexed
 * flags, across blocks sharing one encoder/decoder pair.
 *
 * Input format: a byte of options (Huffman off, table size, size changes),
 * then fields as [flags][name len][value len][name][value]; a name length of
 * 0xff ends the block. Names are lowercased (HTTP/2 requires it).
 */
#include "core/buf.c"
#include "core/hpack.c"
#include "core/hpack_huff.c"

typedef struct { const char *name, *value; size_t nl, vl; int never; } fz_field;

typedef struct { fz_field f[256]; size_t n, next; int bad; } fz_block;

static int fz_check(void *ud, const char *n, size_t nl, const char *v, size_t vl, int flags)
{
    fz_block *b = ud;
    if (b->next >= b->n) {
        b->bad = 1;
        return 0;
    }
    fz_field *f = &b->f[b->next++];
    if (f->nl != nl || f->vl != vl || memcmp(f->name, n, nl) || memcmp(f->value, v, vl))
        b->bad = 1;
    if (f->never && !(flags & HPACK_NEVER_INDEXED))
        b->bad = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    size_t table = opt & 2 ? 256 : 4096, at = 1;
    static char lower[256 * 256];
    hpack_enc e;
    hpack_dec d;
    hpack_enc_init(&e, table);
    hpack_dec_init(&d, table, 0);
    e.no_huffman = opt & 1;
    buf out = BUF_INIT;
    fz_block b;
    int blocks = 0;
    while (at < size) {
        b.n = b.next = 0;
        b.bad = 0;
        if ((opt & 4) && blocks++ % 3 == 2)
            hpack_enc_set_peer_table_size(&e, (size_t)(blocks * 37) % (table + 1));
        buf_reset(&out);
        hpack_enc_begin_block(&e, &out);
        while (at + 3 <= size && data[at + 1] != 0xff && b.n < 256) {
            int flags = data[at] & 1;
            size_t nl = data[at + 1], vl = data[at + 2];
            at += 3;
            if (nl > size - at)
                nl = size - at;
            if (vl > size - at - nl)
                vl = size - at - nl;
            char *name = lower + b.n * 256;
            for (size_t i = 0; i < nl; i++)
                name[i] = (char)(data[at + i] >= 'A' && data[at + i] <= 'Z' ? data[at + i] + 32 : data[at + i]);
            fz_field *f = &b.f[b.n++];
            *f = (fz_field){name, (const char *)data + at + nl, nl, vl, flags};
            hpack_encode_field(&e, &out, f->name, nl, f->value, vl, flags);
            at += nl + vl;
        }
        at += 3;
        const char *err = NULL;
        size_t off = 0;
        if (hpack_decode_block(&d, (const uint8_t *)buf_cstr(&out), out.len, fz_check, &b, &err, &off) != HPACK_OK
            || b.bad || b.next != b.n)
            __builtin_trap();
        if (d.table.size != e.table.size || d.table.count != e.table.count)
            __builtin_trap();
    }
    buf_free(&out);
    hpack_enc_free(&e);
    hpack_dec_free(&d);
    return 0;
}
