#!/bin/sh
# bench/hpack.sh — build and run the HPACK benchmark: atto's engine beside
# libnghttp2's on the hpack-test-case corpus (decode and encode throughput,
# encoded size of raw-data). Called by `make bench`; run from anywhere.
#   REPEAT=20 bench/hpack.sh
set -e
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p "$out"
if [ ! -d build/hpack-test-case/raw-data ]; then
    tar xJf tests/data/hpack-test-case.tar.xz -C build
fi
if [ ! -s "$out/hpack-decode.txt" ] || [ bench/hpack_prep.py -nt "$out/hpack-decode.txt" ]; then
    /usr/bin/python3 bench/hpack_prep.py build/hpack-test-case "$out/hpack-decode.txt" "$out/hpack-encode.txt"
fi
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wno-unused-parameter -I. \
    -o "$out/hpack_bench" bench/hpack_bench.c core/hpack.c core/hpack_huff.c core/buf.c -lnghttp2
"$out/hpack_bench" "$out/hpack-decode.txt" "$out/hpack-encode.txt" "${REPEAT:-10}"
