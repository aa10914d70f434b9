#!/usr/bin/env python3
"""hpack_prep.py — flatten the hpack-test-case JSON stories for bench/hpack_bench.

Usage: hpack_prep.py CORPUS_DIR OUT_DECODE OUT_ENCODE
Decode file: "S" starts a story, "T n" a SETTINGS_HEADER_TABLE_SIZE change,
"W hex" one block (every folder but raw-data). Encode file: "S" a story,
"B" a block, "H hexname hexvalue" a field (raw-data only).
"""
import json, os, sys

root, dec_out, enc_out = sys.argv[1:4]
with open(dec_out, "w") as dec, open(enc_out, "w") as enc:
    for folder in sorted(os.listdir(root)):
        path = os.path.join(root, folder)
        if not os.path.isdir(path):
            continue
        for name in sorted(f for f in os.listdir(path) if f.endswith(".json")):
            cases = json.load(open(os.path.join(path, name)))["cases"]
            out = enc if folder == "raw-data" else dec
            out.write("S\n")
            for c in cases:
                if folder == "raw-data":
                    enc.write("B\n")
                    for h in c["headers"]:
                        for k, v in h.items():
                            enc.write("H %s %s\n" % (k.encode().hex() or "-", v.encode().hex() or "-"))
                else:
                    if c.get("header_table_size") is not None:
                        dec.write("T %d\n" % c["header_table_size"])
                    dec.write("W %s\n" % (c["wire"] or "-"))
