#!/usr/bin/env python3
"""gen_hpack_huff.py — generate HPACK's fixed tables from RFC 7541.

core/hpack_huff_table.h, from Appendix B (the Huffman code):

The Huffman code of HPACK is fixed by the RFC; this script holds it (CODES
below, symbol 0..255 then EOS = 256, as (code, bit length)) and derives:

  hpack_huff_code[257], hpack_huff_len[257]  the encoder's table;
  hpack_huff_dec[256][16]                    a decoding automaton that eats
      four bits at a time (the nghttp2 technique). States are the 256 inner
      nodes of the code tree (0 = root). From a state, a nibble walks four
      edges; reaching a leaf emits its symbol (codes are >= 5 bits, so at
      most one per nibble) and restarts at the root. Each cell packs
      next-state | HUFF_ACCEPT (the node is reached from the root by at most
      seven 1-bits: the string may end here, the bits being valid padding) |
      HUFF_SYM (cell.sym is emitted) | HUFF_FAIL (the walk met EOS).

core/hpack_static_table.h, from Appendix A (the static table):
  hpack_static[62]          index 1..61 as {name, value, name_len, value_len};
  hpack_static_slot[128]    open addressing on name_hash(name) & 127 (linear
      probing, 0 = empty) giving the first index that has each name; the
      entries sharing a name are consecutive in the table.

Run from the repo root: python3 tools/gen_hpack_huff.py
"""

CODES = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), (0xfffffe4, 28), (0xfffffe5, 28),
    (0xfffffe6, 28), (0xfffffe7, 28), (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28), (0xfffffed, 28), (0xfffffee, 28),
    (0xfffffef, 28), (0xffffff0, 28), (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), (0xffffff8, 28), (0xffffff9, 28),
    (0xffffffa, 28), (0xffffffb, 28), (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11), (0x3fa, 10), (0x3fb, 10),
    (0xf9, 8), (0x7fb, 11), (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6), (0x1a, 6), (0x1b, 6),
    (0x1c, 6), (0x1d, 6), (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), (0x1ffa, 13), (0x21, 6),
    (0x5d, 7), (0x5e, 7), (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7), (0x67, 7), (0x68, 7),
    (0x69, 7), (0x6a, 7), (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7), (0xfc, 8), (0x73, 7),
    (0xfd, 8), (0x1ffb, 13), (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5), (0x24, 6), (0x5, 5),
    (0x25, 6), (0x26, 6), (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5), (0x2b, 6), (0x76, 7),
    (0x2c, 6), (0x8, 5), (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), (0x7fc, 11), (0x3ffd, 14),
    (0x1ffd, 13), (0xffffffc, 28), (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23), (0x3fffd6, 22), (0x7fffda, 23),
    (0x7fffdb, 23), (0x7fffdc, 23), (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), (0xffffee, 24), (0x7fffe1, 23),
    (0x7fffe2, 23), (0x7fffe3, 23), (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24), (0x3fffda, 22), (0x1fffdd, 21),
    (0xfffe9, 20), (0x3fffdb, 22), (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24), (0x1fffdf, 21), (0x3fffdf, 22),
    (0x7fffeb, 23), (0x7fffec, 23), (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23), (0xfffea, 20), (0x3fffe2, 22),
    (0x3fffe3, 22), (0x3fffe4, 22), (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19), (0x3fffe7, 22), (0x7ffff2, 23),
    (0x3fffe8, 22), (0x1ffffec, 25), (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), (0x7fff2, 19), (0x1fffe3, 21),
    (0x3ffffe6, 26), (0x7ffffe0, 27), (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26), (0xffffffd, 28), (0x7ffffe3, 27),
    (0x7ffffe4, 27), (0x7ffffe5, 27), (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23), (0x3fffea, 22), (0x3fffeb, 22),
    (0x1ffffee, 25), (0x1ffffef, 25), (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), (0x7ffffe7, 27), (0x7ffffe8, 27),
    (0x7ffffe9, 27), (0x7ffffea, 27), (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26), (0x3fffffff, 30),

]

STATIC = [
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"),
    (":status", "200"), (":status", "204"), (":status", "206"), (":status", "304"),
    (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
    ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
    ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
]

ACCEPT, SYM, FAIL = 0x100, 0x200, 0x400


def build_tree():
    """Inner nodes as [child0, child1]; a child is ('n', id) or ('s', sym)."""
    nodes = [[None, None]]
    for sym, (code, length) in enumerate(CODES):
        cur = 0
        for i in range(length - 1, -1, -1):
            bit = (code >> i) & 1
            if i == 0:
                assert nodes[cur][bit] is None, "code not prefix-free"
                nodes[cur][bit] = ('s', sym)
            else:
                if nodes[cur][bit] is None:
                    nodes.append([None, None])
                    nodes[cur][bit] = ('n', len(nodes) - 1)
                kind, cur = nodes[cur][bit]
                assert kind == 'n', "code not prefix-free"
    assert len(nodes) == 256 and all(c is not None for n in nodes for c in n)
    return nodes


def accepting(nodes):
    """Nodes reached from the root by at most seven 1-bits (root included)."""
    acc, cur = {0}, 0
    for _ in range(7):
        kind, cur = nodes[cur][1]
        if kind != 'n':
            break
        acc.add(cur)
    return acc


def transitions(nodes, acc):
    table = []
    for state in range(256):
        row = []
        for nibble in range(16):
            cur, flags, sym = state, 0, 0
            for i in range(3, -1, -1):
                kind, val = nodes[cur][(nibble >> i) & 1]
                if kind == 's':
                    if val == 256:
                        flags |= FAIL
                        break
                    flags |= SYM
                    sym, cur = val, 0
                else:
                    cur = val
            if flags & FAIL:
                cur = 0
            if cur in acc:
                flags |= ACCEPT
            row.append((cur | flags, sym))
        table.append(row)
    return table


def name_hash(name):
    """Mirrors name_hash() in core/hpack.c."""
    s, n = name.encode(), len(name)
    h = (n * 0x9e3779b1) & 0xffffffff
    if n:
        h ^= ((s[0] * 0x85ebca6b) ^ (s[-1] * 0xc2b2ae35) ^ (s[n // 2] * 0x27d4eb2f)) & 0xffffffff
    return h ^ (h >> 15)


def static_table():
    assert len(STATIC) == 61
    slots = [0] * 128
    for i, (name, _) in enumerate(STATIC, 1):
        if i > 1 and STATIC[i - 2][0] == name:
            continue
        h = name_hash(name) & 127
        while slots[h]:
            h = (h + 1) & 127
        slots[h] = i
    out = ["/* Generated by tools/gen_hpack_huff.py from RFC 7541 Appendix A. Do not edit. */",
           "#ifndef ATTO_HPACK_STATIC_TABLE_H", "#define ATTO_HPACK_STATIC_TABLE_H",
           "#include <stddef.h>", "#include <stdint.h>", "",
           "typedef struct { const char *name, *value; uint8_t name_len, value_len; } hpack_static_entry;",
           "", "static const hpack_static_entry hpack_static[62] = {", "    {\"\", \"\", 0, 0},"]
    for i, (name, value) in enumerate(STATIC, 1):
        out.append('    {"%s", "%s", %d, %d}, /* %d */' % (name, value, len(name), len(value), i))
    out += ["};", "", "/* name_hash(name) & 127 (see core/hpack.c), linear probing; 0 = empty */",
            "static const uint8_t hpack_static_slot[128] = {"]
    for i in range(0, 128, 16):
        out.append("    " + " ".join("%d," % v for v in slots[i:i + 16]))
    out += ["};", "#endif", ""]
    return "\n".join(out)


def main():
    assert len(CODES) == 257 and sum(2.0 ** -l for _, l in CODES) == 1.0
    nodes = build_tree()
    table = transitions(nodes, accepting(nodes))
    out = ["/* Generated by tools/gen_hpack_huff.py from RFC 7541 Appendix B. Do not edit. */",
           "#ifndef ATTO_HPACK_HUFF_TABLE_H", "#define ATTO_HPACK_HUFF_TABLE_H",
           "#include <stdint.h>", "",
           "#define HUFF_ACCEPT 0x%x" % ACCEPT, "#define HUFF_SYM    0x%x" % SYM,
           "#define HUFF_FAIL   0x%x" % FAIL, "",
           "typedef struct { uint16_t fstate; uint8_t sym; } hpack_huff_cell;", "",
           "static const uint32_t hpack_huff_code[257] = {"]
    for i in range(0, 257, 8):
        out.append("    " + " ".join("0x%x," % c for c, _ in CODES[i:i + 8]))
    out += ["};", "", "static const uint8_t hpack_huff_len[257] = {"]
    for i in range(0, 257, 16):
        out.append("    " + " ".join("%d," % l for _, l in CODES[i:i + 16]))
    out += ["};", "", "static const hpack_huff_cell hpack_huff_dec[256][16] = {"]
    for state, row in enumerate(table):
        out.append("    /* %d */ {" % state)
        for i in range(0, 16, 4):
            out.append("        " + " ".join("{0x%03x, %d}," % c for c in row[i:i + 4]))
        out.append("    },")
    out += ["};", "#endif", ""]
    with open("core/hpack_huff_table.h", "w") as f:
        f.write("\n".join(out))
    with open("core/hpack_static_table.h", "w") as f:
        f.write(static_table())


if __name__ == "__main__":
    main()
