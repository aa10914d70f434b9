/*
 * hpack_huff.h — the Huffman code of HPACK (RFC 7541 §5.2, Appendix B).
 *
 * Encoding packs codes through a 64-bit accumulator and pads the last byte
 * with 1-bits (the EOS prefix). Decoding walks a generated automaton four
 * bits at a time (core/hpack_huff_table.h, made by tools/gen_hpack_huff.py).
 * Pure functions, no state, no allocation.
 */
#ifndef ATTO_HPACK_HUFF_H
#define ATTO_HPACK_HUFF_H
#include <stddef.h>
#include <stdint.h>

/* Bytes the Huffman form of s[0..n) takes. */
size_t hpack_huff_encoded_len(const uint8_t *s, size_t n);
/* Writes the Huffman form of s[0..n) to out (room: hpack_huff_encoded_len);
 * returns the bytes written. */
size_t hpack_huff_encode(uint8_t *out, const uint8_t *s, size_t n);

/* The most bytes n Huffman-coded bytes can decode to (codes are >= 5 bits). */
#define HPACK_HUFF_DECODED_MAX(n) ((n) * 8 / 5 + 1)
/* Decodes in[0..n) into out (room: HPACK_HUFF_DECODED_MAX(n)). Returns the
 * decoded length, or -1 with *err set: "EOS symbol in Huffman string", or
 * "invalid Huffman padding" (more than 7 bits, or not all 1-bits). */
long hpack_huff_decode(char *out, const uint8_t *in, size_t n, const char **err);
#endif
