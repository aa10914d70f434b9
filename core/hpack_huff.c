/*
 * hpack_huff.c — HPACK Huffman encoding and decoding; see hpack_huff.h.
 *
 * The decoder is the nghttp2 design: a 256-state automaton (the inner nodes
 * of the code tree) with one transition per nibble, so a byte costs two table
 * lookups and no bit fiddling. A string may only end in an accepting state:
 * at a symbol boundary, or after at most seven 1-bits of padding.
 */
#include "core/hpack_huff.h"
#include "core/hpack_huff_table.h"

size_t hpack_huff_encoded_len(const uint8_t *s, size_t n)
{
    size_t bits = 0;
    for (size_t i = 0; i < n; i++)
        bits += hpack_huff_len[s[i]];
    return (bits + 7) / 8;
}

size_t hpack_huff_encode(uint8_t *out, const uint8_t *s, size_t n)
{
    uint64_t acc = 0;   /* pending bits, right-aligned */
    unsigned nbits = 0;
    uint8_t *p = out;
    for (size_t i = 0; i < n; i++) {   /* codes are <= 30 bits: acc never holds more than 62 */
        acc = (acc << hpack_huff_len[s[i]]) | hpack_huff_code[s[i]];
        nbits += hpack_huff_len[s[i]];
        if (nbits >= 32) {
            nbits -= 32;
            uint32_t w = (uint32_t)(acc >> nbits);
            p[0] = (uint8_t)(w >> 24);
            p[1] = (uint8_t)(w >> 16);
            p[2] = (uint8_t)(w >> 8);
            p[3] = (uint8_t)w;
            p += 4;
        }
    }
    while (nbits >= 8) {
        nbits -= 8;
        *p++ = (uint8_t)(acc >> nbits);
    }
    if (nbits)
        *p++ = (uint8_t)((acc << (8 - nbits)) | (0xffu >> nbits));
    return (size_t)(p - out);
}

long hpack_huff_decode(char *out, const uint8_t *in, size_t n, const char **err)
{
    char *p = out;
    unsigned state = 0, flags = HUFF_ACCEPT;
    for (size_t i = 0; i < n; i++) {
        const hpack_huff_cell *c = &hpack_huff_dec[state][in[i] >> 4];
        if (c->fstate & HUFF_FAIL)
            goto eos;
        if (c->fstate & HUFF_SYM)
            *p++ = (char)c->sym;
        c = &hpack_huff_dec[c->fstate & 0xff][in[i] & 0xf];
        if (c->fstate & HUFF_FAIL)
            goto eos;
        if (c->fstate & HUFF_SYM)
            *p++ = (char)c->sym;
        state = c->fstate & 0xff;
        flags = c->fstate;
    }
    if (!(flags & HUFF_ACCEPT)) {
        *err = "invalid Huffman padding";
        return -1;
    }
    return (long)(p - out);
eos:
    *err = "EOS symbol in Huffman string";
    return -1;
}
