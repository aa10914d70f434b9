/*
 * test_hpack.c — unit tests for the HPACK engine (core/hpack.c, hpack_huff.c).
 *
 * The RFC 7541 Appendix C examples byte for byte in both directions, one test
 * per malformed-input error, the encoder's policies, and the public
 * hpack-test-case corpus: every story of every implementation folder must
 * decode to its headers, and every raw-data story must survive our encoder
 * and decoder unchanged. The corpus is unpacked from
 * tests/data/hpack-test-case.tar.xz into build/ (tests run from the repo root).
 */
#include "tests/unit/test.h"
#include "core/hpack.h"
#include "core/hpack_huff.h"
#include <dirent.h>
#include <sys/stat.h>

/* ---- helpers -------------------------------------------------------- */

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    int hi = -1;
    for (; *hex; hex++) {
        int v = *hex >= '0' && *hex <= '9' ? *hex - '0' : *hex >= 'a' && *hex <= 'f' ? *hex - 'a' + 10
              : *hex >= 'A' && *hex <= 'F' ? *hex - 'A' + 10 : -1;
        if (v < 0)
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

static int collect(void *ud, const char *n, size_t nl, const char *v, size_t vl, int flags)
{
    buf *b = ud;
    if (flags & HPACK_NEVER_INDEXED)
        buf_puts(b, "!");
    buf_append(b, n, nl);
    buf_puts(b, ": ");
    buf_append(b, v, vl);
    buf_puts(b, "\n");
    return 0;
}

/* Decodes hex with d; returns the status, the fields in *got. */
static int decode_hex(hpack_dec *d, const char *hex, buf *got, const char **err, size_t *off)
{
    uint8_t in[4096];
    size_t n = unhex(hex, in);
    buf_reset(got);
    *err = NULL;
    *off = 0;
    return hpack_decode_block(d, in, n, collect, got, err, off);
}

/* Encodes "name: value\n" lines into hex. */
static void encode_lines(hpack_enc *e, const char *lines, char *hex)
{
    buf out = BUF_INIT;
    hpack_enc_begin_block(e, &out);
    while (*lines) {
        const char *nl = strchr(lines, '\n'), *sep = strstr(lines + 1, ": ");
        hpack_encode_field(e, &out, lines, (size_t)(sep - lines), sep + 2, (size_t)(nl - sep - 2), 0);
        lines = nl + 1;
    }
    for (size_t i = 0; i < buf_size(&out); i++)
        sprintf(hex + 2 * i, "%02x", (uint8_t)out.data[i]);
    hex[2 * buf_size(&out)] = 0;
    buf_free(&out);
}

static void strip_spaces(const char *in, char *out)
{
    for (; *in; in++)
        if (*in != ' ')
            *out++ = *in;
    *out = 0;
}

/* ---- RFC 7541 Appendix C ---------------------------------------------- */

typedef struct { const char *hex, *headers; size_t table_size; } rfc_block;

#define C3_R1 ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n"
#define C3_R2 C3_R1 "cache-control: no-cache\n"
#define C3_R3 ":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\ncustom-key: custom-value\n"
static const rfc_block c3[] = {   /* C.3 requests without Huffman */
    {"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
     C3_R1, 57},
    {"8286 84be 5808 6e6f 2d63 6163 6865",
     C3_R2, 110},
    {"8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
     C3_R3, 164},
};
static const rfc_block c4[] = {   /* C.4 requests with Huffman */
    {"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", NULL, 57},
    {"8286 84be 5886 a8eb 1064 9cbf", NULL, 110},
    {"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", NULL, 164},
};
#define C5_R1 ":status: 302\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n"
#define C5_R2 ":status: 307\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n"
#define C5_R3 ":status: 200\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:22 GMT\nlocation: https://www.example.com\n" \
              "content-encoding: gzip\nset-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n"
static const rfc_block c5[] = {   /* C.5 responses without Huffman, table 256 */
    {"4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d"
     "546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", C5_R1, 222},
    {"4803 3330 37c1 c0bf", C5_R2, 222},
    {"88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f"
     "6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b"
     "2076 6572 7369 6f6e 3d31", C5_R3, 215},
};
static const rfc_block c6[] = {   /* C.6 responses with Huffman, table 256 */
    {"4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7"
     "8f0b 97c8 e9ae 82ae 43d3", C5_R1, 222},
    {"4883 640e ffc1 c0bf", C5_R2, 222},
    {"88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335"
     "dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07", C5_R3, 215},
};

static int run_rfc(const rfc_block *blocks, const char *const *headers, size_t table, int huffman)
{
    hpack_dec d;
    hpack_enc e;
    hpack_dec_init(&d, table, 0);
    hpack_enc_init(&e, table);
    e.no_huffman = !huffman;
    e.no_auto_sensitive = 1;   /* the RFC indexes set-cookie */
    buf got = BUF_INIT;
    int bad = 0;
    for (int i = 0; i < 3 && !bad; i++) {
        const char *err;
        size_t off;
        char want[1024], hex[1024];
        strip_spaces(blocks[i].hex, want);
        bad |= decode_hex(&d, want, &got, &err, &off) != HPACK_OK;
        bad |= strcmp(buf_cstr(&got), headers[i]) != 0 || d.table.size != blocks[i].table_size;
        encode_lines(&e, headers[i], hex);
        bad |= strcmp(hex, want) != 0 || e.table.size != blocks[i].table_size;
        if (bad)
            printf("# block %d: got %s\n# want %s\n# encoded %s\n", i, buf_cstr(&got), want, hex);
    }
    buf_free(&got);
    hpack_dec_free(&d);
    hpack_enc_free(&e);
    return !bad;
}

static const char *const c3_headers[] = {C3_R1, C3_R2, C3_R3};
static const char *const c5_headers[] = {C5_R1, C5_R2, C5_R3};

TEST(rfc_c1_integers)
{   /* C.1.1 10 and C.1.2 1337 on a 5-bit prefix, the size update's */
    hpack_enc e;
    hpack_enc_init(&e, 4096);
    buf out = BUF_INIT;
    hpack_enc_set_peer_table_size(&e, 10);
    hpack_enc_begin_block(&e, &out);
    CHECK_MEM(out.data, out.len, "\x2a", 1);
    buf_reset(&out);
    hpack_enc_set_peer_table_size(&e, 1337);
    hpack_enc_begin_block(&e, &out);
    CHECK_MEM(out.data, out.len, "\x3f\x9a\x0a", 3);
    hpack_enc_free(&e);
    buf_free(&out);
    hpack_dec d;
    hpack_dec_init(&d, 4096, 0);
    buf got = BUF_INIT;
    const char *err;
    size_t off;
    CHECK_INT(decode_hex(&d, "3f9a0a", &got, &err, &off), HPACK_OK);
    CHECK_INT(d.table.max_size, 1337);
    /* C.1.3: 42 as a string length (7-bit prefix; HPACK has no 8-bit one) */
    CHECK_INT(decode_hex(&d, "002a" "616161616161616161616161616161616161616161616161616161616161616161616161616161616161"
                             "0162", &got, &err, &off), HPACK_OK);
    CHECK_INT(buf_size(&got), 42 + 2 + 1 + 1);
    hpack_dec_free(&d);
    buf_free(&got);
}

TEST(rfc_c2_literals)
{
    static const struct { const char *hex, *out; size_t size; int flags; } t[] = {
        {"400a637573746f6d2d6b65790d637573746f6d2d686561646572", "custom-key: custom-header\n", 55, 0},
        {"040c2f73616d706c652f70617468", ":path: /sample/path\n", 0, 0},
        {"100870617373776f726406736563726574", "!password: secret\n", 0, HPACK_NEVER_INDEXED},
        {"82", ":method: GET\n", 0, 0},
    };
    for (size_t i = 0; i < 4; i++) {
        hpack_dec d;
        hpack_enc e;
        hpack_dec_init(&d, 4096, 0);
        hpack_enc_init(&e, 4096);
        e.no_huffman = 1;
        buf got = BUF_INIT, out = BUF_INIT;
        const char *err;
        size_t off;
        CHECK_INT(decode_hex(&d, t[i].hex, &got, &err, &off), HPACK_OK);
        CHECK_STR(buf_cstr(&got), t[i].out);
        CHECK_INT(d.table.size, t[i].size);
        const char *line = t[i].out + (t[i].flags ? 1 : 0), *sep = strstr(line + 1, ": ");
        hpack_encode_field(&e, &out, line, (size_t)(sep - line), sep + 2, strlen(sep + 2) - 1, t[i].flags);
        uint8_t want[64];
        size_t wn = unhex(t[i].hex, want);
        CHECK_MEM(out.data, out.len, want, wn);
        CHECK_INT(e.table.size, t[i].size);
        hpack_dec_free(&d);
        hpack_enc_free(&e);
        buf_free(&got);
        buf_free(&out);
    }
}

TEST(rfc_c3_requests_raw) { CHECK(run_rfc(c3, c3_headers, 4096, 0)); }
TEST(rfc_c4_requests_huffman) { CHECK(run_rfc(c4, c3_headers, 4096, 1)); }
TEST(rfc_c5_responses_raw) { CHECK(run_rfc(c5, c5_headers, 256, 0)); }
TEST(rfc_c6_responses_huffman) { CHECK(run_rfc(c6, c5_headers, 256, 1)); }

/* ---- malformed input ---------------------------------------------------- */

static int expect_error(const char *hex, const char *reason, size_t want_off)
{
    hpack_dec d;
    hpack_dec_init(&d, 4096, 0);
    buf got = BUF_INIT;
    const char *err;
    size_t off;
    int r = decode_hex(&d, hex, &got, &err, &off);
    int ok = r == HPACK_ERR_COMPRESSION && err && strstr(err, reason) && off == want_off;
    if (!ok)
        printf("# %s: r=%d err=%s off=%zu\n", hex, r, err ? err : "(none)", off);
    hpack_dec_free(&d);
    buf_free(&got);
    return ok;
}

TEST(err_index_zero) { CHECK(expect_error("82 80", "index 0", 1)); }
TEST(err_index_out_of_range) { CHECK(expect_error("be", "index 62 out of range", 0)); }
TEST(err_literal_name_index_out_of_range) { CHECK(expect_error("7f00 0161", "index 63 out of range", 0)); }
TEST(err_truncated_integer) { CHECK(expect_error("82 ff", "truncated integer", 1)); }
TEST(err_truncated_integer_continuation) { CHECK(expect_error("ff 80", "truncated integer", 0)); }
TEST(err_integer_overflow) { CHECK(expect_error("ff ff ff ff ff ff 0f", "integer overflow", 0)); }
TEST(err_integer_overflow_long_zeros) { CHECK(expect_error("ff 80 80 80 80 80 01", "integer overflow", 0)); }
TEST(err_truncated_string) { CHECK(expect_error("40 05 61 62", "truncated string", 1)); }
TEST(err_missing_name) { CHECK(expect_error("40", "string literal expected", 1)); }
TEST(err_missing_value) { CHECK(expect_error("44", "string literal expected", 1)); }
TEST(err_huge_string_length) { CHECK(expect_error("40 7f ff ff ff 0f", "truncated string", 1)); }
TEST(err_huffman_eos) { CHECK(expect_error("40 84 ff ff ff ff 01 61", "EOS", 1)); }
TEST(err_huffman_padding_too_long) { CHECK(expect_error("40 82 1f ff 01 61", "invalid Huffman padding", 1)); }
TEST(err_huffman_padding_not_ones) { CHECK(expect_error("40 81 18 01 61", "invalid Huffman padding", 1)); }
TEST(err_huffman_value_padding) { CHECK(expect_error("41 81 1e", "invalid Huffman padding", 1)); }
TEST(err_size_update_after_field) { CHECK(expect_error("82 20", "after a field", 1)); }
TEST(err_size_update_too_large) { CHECK(expect_error("3f e2 1f", "exceeds the limit 4096", 0)); }

TEST(err_size_update_missing_after_settings)
{
    hpack_dec d;
    hpack_dec_init(&d, 4096, 0);
    buf got = BUF_INIT;
    const char *err;
    size_t off;
    CHECK_INT(decode_hex(&d, "4001610162 4001630164", &got, &err, &off), HPACK_OK);
    hpack_dec_set_max_table_size(&d, 100);
    CHECK_INT(decode_hex(&d, "82", &got, &err, &off), HPACK_ERR_COMPRESSION);
    CHECK(strstr(err, "missing"));
    CHECK_INT(decode_hex(&d, "3f46 82", &got, &err, &off), HPACK_ERR_COMPRESSION);   /* 101 */
    CHECK(strstr(err, "exceeds the limit 100"));
    CHECK_INT(decode_hex(&d, "3f45 20 3f45 82", &got, &err, &off), HPACK_OK);   /* 100, 0, 100 */
    CHECK_STR(buf_cstr(&got), ":method: GET\n");
    CHECK_INT(d.table.count, 0);
    CHECK_INT(decode_hex(&d, "82", &got, &err, &off), HPACK_OK);
    hpack_dec_set_max_table_size(&d, 8192);   /* growing keeps the entries */
    CHECK_INT(decode_hex(&d, "3fe13f 4001610162 be", &got, &err, &off), HPACK_OK);
    CHECK_STR(buf_cstr(&got), "a: b\na: b\n");
    hpack_dec_free(&d);
    buf_free(&got);
}

TEST(err_header_list_too_large_keeps_table_in_sync)
{
    hpack_dec d;
    hpack_dec_init(&d, 4096, 80);
    buf got = BUF_INIT;
    const char *err;
    size_t off;
    /* 42 + 43 > 80: the second field is over; the literal after it still enters the table */
    CHECK_INT(decode_hex(&d, "82 86 40 01 61 01 62", &got, &err, &off), HPACK_ERR_HEADER_LIST_TOO_LARGE);
    CHECK_STR(buf_cstr(&got), ":method: GET\n");
    CHECK(strstr(err, "header list larger than 80"));
    CHECK_INT(decode_hex(&d, "be", &got, &err, &off), HPACK_OK);
    CHECK_STR(buf_cstr(&got), "a: b\n");
    hpack_dec_free(&d);
    buf_free(&got);
}

TEST(hpack_bomb_is_bounded)
{   /* one 4000-byte entry then 20000 references to it: 80 MB of headers from 24 KB */
    static uint8_t block[24000];
    size_t n = 0;
    memcpy(block, "\x40\x01x\x7f\xa1\x1e", 6);   /* value length 127 + 0x21 + (0x1e << 7) = 4000 */
    n = 6;
    memset(block + n, 'y', 4000);
    n += 4000;
    while (n < sizeof block)
        block[n++] = 0xbe;
    hpack_dec d;
    hpack_dec_init(&d, 4096, 16384);
    const char *err;
    size_t off;
    CHECK_INT(hpack_decode_block(&d, block, n, NULL, NULL, &err, &off), HPACK_ERR_HEADER_LIST_TOO_LARGE);
    CHECK_INT(d.table.size, 4033);
    CHECK(d.scratch.cap < 65536);
    hpack_dec_free(&d);
}

static int stop_at_second(void *ud, const char *n, size_t nl, const char *v, size_t vl, int flags)
{
    return ++*(int *)ud == 2 ? 7 : 0;
}

TEST(emit_error_stops_decoding)
{
    hpack_dec d;
    hpack_dec_init(&d, 4096, 0);
    int calls = 0;
    const char *err;
    size_t off;
    CHECK_INT(hpack_decode_block(&d, (const uint8_t *)"\x82\x86\x84", 3, stop_at_second, &calls, &err, &off), 7);
    CHECK_INT(calls, 2);
    hpack_dec_free(&d);
}

/* ---- the encoder's policies --------------------------------------------- */

static void enc_one(hpack_enc *e, buf *out, const char *name, const char *value, int flags)
{
    hpack_encode_field(e, out, name, strlen(name), value, strlen(value), flags);
}

static int roundtrip_ok(buf *out, const char *want)
{
    hpack_dec d;
    hpack_dec_init(&d, 4096, 0);
    buf got = BUF_INIT;
    const char *err;
    size_t off;
    int r = hpack_decode_block(&d, (const uint8_t *)out->data, out->len, collect, &got, &err, &off);
    int ok = r == HPACK_OK && strcmp(buf_cstr(&got), want) == 0;
    if (!ok)
        printf("# got %s", buf_cstr(&got));
    hpack_dec_free(&d);
    buf_free(&got);
    return ok;
}

TEST(enc_never_indexes_credentials)
{
    hpack_enc e;
    hpack_enc_init(&e, 4096);
    buf out = BUF_INIT;
    enc_one(&e, &out, "authorization", "Basic dXNlcjpwYXNz", 0);
    CHECK_INT((uint8_t)out.data[0], 0x1f);   /* never indexed, name index 23 = 15 + 8 */
    CHECK_INT((uint8_t)out.data[1], 0x08);
    enc_one(&e, &out, "proxy-authorization", "Basic x", 0);
    enc_one(&e, &out, "set-cookie", "id=1; Secure", 0);
    enc_one(&e, &out, "cookie", "short=1", 0);
    enc_one(&e, &out, "x-token", "t", HPACK_NEVER_INDEXED);
    CHECK_INT(e.table.count, 0);
    enc_one(&e, &out, "cookie", "a-long-cookie=0123456789", 0);
    CHECK_INT(e.table.count, 1);
    CHECK(roundtrip_ok(&out, "!authorization: Basic dXNlcjpwYXNz\n!proxy-authorization: Basic x\n"
                             "!set-cookie: id=1; Secure\n!cookie: short=1\n!x-token: t\n"
                             "cookie: a-long-cookie=0123456789\n"));
    hpack_enc_free(&e);
    buf_free(&out);
}

TEST(enc_huffman_only_when_shorter)
{
    hpack_enc e;
    hpack_enc_init(&e, 4096);
    buf out = BUF_INIT;
    enc_one(&e, &out, "x-bin", "\x01\x02\x03", 0);   /* Huffman: 4 bytes name, 9 bytes value */
    CHECK_INT((uint8_t)out.data[1], 0x84);   /* the name: Huffman, 4 bytes */
    CHECK_MEM(out.data + 6, out.len - 6, "\x03\x01\x02\x03", 4);
    buf_reset(&out);
    enc_one(&e, &out, "x-c", "307", 0);   /* as long either way: Huffman, as in RFC 7541 C.6.2 */
    CHECK_MEM(out.data + out.len - 4, 4, "\x83\x64\x0e\xff", 4);
    buf_reset(&out);
    e.no_huffman = 1;
    enc_one(&e, &out, "x-a", "aaaa", 0);
    CHECK_MEM(out.data, out.len, "\x40\x03x-a\x04" "aaaa", 10);
    hpack_enc_free(&e);
    buf_free(&out);
}

TEST(enc_peer_table_size_changes)
{
    hpack_enc e;
    hpack_enc_init(&e, 4096);
    buf out = BUF_INIT;
    hpack_enc_begin_block(&e, &out);
    CHECK_INT(out.len, 0);
    enc_one(&e, &out, "x-a", "b", 0);
    CHECK_INT(e.table.count, 1);
    hpack_enc_set_peer_table_size(&e, 0);
    hpack_enc_set_peer_table_size(&e, 65536);   /* capped at our 4096 */
    buf_reset(&out);
    hpack_enc_begin_block(&e, &out);
    CHECK_MEM(out.data, out.len, "\x20\x3f\xe1\x1f", 4);   /* 0, then 4096 */
    CHECK_INT(e.table.count, 0);
    enc_one(&e, &out, "x-a", "b", 0);
    CHECK(roundtrip_ok(&out, "x-a: b\n"));
    hpack_enc_free(&e);
    buf_free(&out);
}

TEST(enc_large_values_not_indexed)
{
    hpack_enc e;
    hpack_enc_init(&e, 4096);
    buf out = BUF_INIT;
    static char big[3200];
    memset(big, 'v', sizeof big - 1);
    enc_one(&e, &out, "x-big", big, 0);
    CHECK_INT(e.table.count, 0);
    enc_one(&e, &out, ":path", "/a", 0);
    CHECK_INT(e.table.count, 0);
    enc_one(&e, &out, "x-small", "v", 0);
    enc_one(&e, &out, "x-small", "v", 0);
    CHECK_INT(e.table.count, 1);
    CHECK_INT((uint8_t)out.data[out.len - 1], 0xbe);
    hpack_enc_free(&e);
    buf_free(&out);
}

/* A static file's answer asked for again on the connection: every field of
 * the second block is indexed (one byte each) but content-length, whose
 * values mostly differ between resources and is sent as a literal. */
TEST(enc_repeated_response_is_indexed)
{
    static const char *f[][2] = {
        {":status", "200"}, {"content-type", "text/plain; charset=utf-8"},
        {"etag", "\"d-18eb710193d9e914\""}, {"last-modified", "Thu, 26 Nov 2026 00:32:08 GMT"},
        {"accept-ranges", "bytes"}, {"content-length", "13"},
        {"date", "Thu, 26 Nov 2026 08:38:46 GMT"}, {"server", "atto"},
    };
    hpack_enc e;
    hpack_enc_init(&e, 4096);
    buf out = BUF_INIT;
    for (int round = 0; round < 2; round++) {
        buf_reset(&out);
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            enc_one(&e, &out, f[i][0], f[i][1], 0);
    }
    CHECK_INT(e.table.count, 6);               /* all but :status (static) and content-length */
    CHECK_INT(out.len, 7 + 5);   /* 7 indexed bytes; content-length: 0x0f 0x0d, then "13" (length byte + 2) */
    for (size_t i = 0; i < 5; i++)
        CHECK((uint8_t)out.data[i] & 0x80);
    hpack_enc_free(&e);
    buf_free(&out);
}

static int trace_lines;
static void count_trace(void *ud, const char *line)
{
    trace_lines++;
    if (strstr(line, "[  1]"))
        ++*(int *)ud;
}

TEST(trace_describes_fields_and_table)
{
    hpack_dec d;
    hpack_dec_init(&d, 4096, 0);
    int entries = 0;
    d.trace = count_trace;
    d.trace_ud = &entries;
    buf got = BUF_INIT;
    const char *err;
    size_t off;
    char hex[256];
    strip_spaces(c3[0].hex, hex);
    CHECK_INT(decode_hex(&d, hex, &got, &err, &off), HPACK_OK);
    CHECK_INT(entries, 1);
    CHECK(trace_lines >= 8);
    hpack_dec_free(&d);
    buf_free(&got);
}

TEST(huffman_all_bytes_roundtrip)
{
    uint8_t all[256], enc[1024];
    char dec[1024];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    size_t n = hpack_huff_encode(enc, all, 256);
    CHECK_INT(n, hpack_huff_encoded_len(all, 256));
    const char *err;
    long m = hpack_huff_decode(dec, enc, n, &err);
    CHECK_MEM(dec, m, all, 256);
}

/* ---- a minimal JSON reader, enough for the corpus ------------------------ */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct jv {
    int        type;
    char      *s;          /* J_STR (bytes, may hold NUL), key of an object member */
    size_t     len, keylen, n;
    double     num;
    char      *key;
    struct jv *kids;       /* J_ARR / J_OBJ members */
} jv;

static const char *j_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static void j_utf8(buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xc0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3f)); n = 2; }
    else if (cp < 0x10000) { u[0] = (char)(0xe0 | cp >> 12); u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                             u[2] = (char)(0x80 | (cp & 0x3f)); n = 3; }
    else { u[0] = (char)(0xf0 | cp >> 18); u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
           u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); u[3] = (char)(0x80 | (cp & 0x3f)); n = 4; }
    buf_append(b, u, n);
}

static const char *j_string(const char *p, char **out, size_t *len)
{
    buf b = BUF_INIT;
    for (p++; *p && *p != '"'; p++) {
        if (*p != '\\') {
            buf_append(&b, p, 1);
            continue;
        }
        char c = *++p;
        if (c == 'u') {
            unsigned cp = (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u') {
                unsigned lo = (unsigned)strtoul((char[5]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            j_utf8(&b, cp);
        } else {
            char e = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c;
            buf_append(&b, &e, 1);
        }
    }
    *len = buf_size(&b);
    *out = buf_cstr(&b);
    return *p ? p + 1 : NULL;
}

static const char *j_value(const char *p, jv *v)
{
    memset(v, 0, sizeof *v);
    p = j_ws(p);
    if (*p == '"') {
        v->type = J_STR;
        return j_string(p, &v->s, &v->len);
    }
    if (*p == '[' || *p == '{') {
        int obj = *p == '{';
        char close = obj ? '}' : ']';
        v->type = obj ? J_OBJ : J_ARR;
        size_t cap = 0;
        p = j_ws(p + 1);
        while (p && *p != close) {
            if (v->n == cap) {
                cap = cap ? cap * 2 : 8;
                v->kids = realloc(v->kids, cap * sizeof *v->kids);
            }
            char *key = NULL;
            size_t klen = 0;
            if (obj) {
                if (!(p = j_string(j_ws(p), &key, &klen)))
                    return NULL;
                p = j_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            if (!(p = j_value(p, &v->kids[v->n])))
                return NULL;
            v->kids[v->n].key = key;
            v->kids[v->n++].keylen = klen;
            p = j_ws(p);
            if (*p == ',')
                p = j_ws(p + 1);
            else if (*p != close)
                return NULL;
        }
        return p ? p + 1 : NULL;
    }
    if (!strncmp(p, "null", 4))
        return v->type = J_NULL, p + 4;
    if (!strncmp(p, "true", 4))
        return v->type = J_BOOL, v->num = 1, p + 4;
    if (!strncmp(p, "false", 5))
        return v->type = J_BOOL, p + 5;
    char *end;
    v->type = J_NUM;
    v->num = strtod(p, &end);
    return end == p ? NULL : end;
}

static void j_free(jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->kids[i].key);
        j_free(&v->kids[i]);
    }
    free(v->kids);
    free(v->s);
}

static const jv *j_get(const jv *obj, const char *key)
{
    for (size_t i = 0; obj->type == J_OBJ && i < obj->n; i++)
        if (obj->kids[i].keylen == strlen(key) && !memcmp(obj->kids[i].key, key, obj->kids[i].keylen))
            return &obj->kids[i];
    return NULL;
}

static int j_load(const char *path, jv *root)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    buf b = BUF_INIT;
    size_t n;
    while ((n = fread(buf_tail(&b, 65536), 1, 65536, f)) > 0)
        buf_commit(&b, n);
    fclose(f);
    const char *end = j_value(buf_cstr(&b), root);
    buf_free(&b);
    return end ? 0 : -1;
}

/* ---- the hpack-test-case corpus ---------------------------------------- */

#define CORPUS_DIR "build/hpack-test-case"

static int collect_plain(void *ud, const char *n, size_t nl, const char *v, size_t vl, int flags)
{
    buf *b = ud;
    buf_append(b, n, nl);
    buf_append(b, ": ", 2);
    buf_append(b, v, vl);
    buf_append(b, "\n", 1);
    return 0;
}

static void expected_fields(const jv *headers, buf *want)
{
    buf_reset(want);
    for (size_t i = 0; headers && i < headers->n; i++)
        if (headers->kids[i].n == 1)
            collect_plain(want, headers->kids[i].kids[0].key, headers->kids[i].kids[0].keylen,
                          headers->kids[i].kids[0].s, headers->kids[i].kids[0].len, 0);
}

typedef struct { size_t stories, blocks, fields, bytes_in, bytes_out; int bad; } corpus_count;

/* One story, one decoder: every case must decode to its headers. */
static void corpus_decode_story(const char *path, const jv *cases, corpus_count *cnt)
{
    hpack_dec d;
    hpack_dec_init(&d, 4096, 0);
    buf got = BUF_INIT, want = BUF_INIT;
    uint8_t *wire = NULL;
    for (size_t i = 0; i < cases->n && !cnt->bad; i++) {
        const jv *c = &cases->kids[i], *hts = j_get(c, "header_table_size"), *w = j_get(c, "wire");
        if (hts && hts->type == J_NUM)
            hpack_dec_set_max_table_size(&d, (size_t)hts->num);
        wire = realloc(wire, w->len / 2 + 1);
        size_t n = unhex(w->s, wire);
        const char *err = NULL;
        size_t off = 0;
        buf_reset(&got);
        int r = hpack_decode_block(&d, wire, n, collect_plain, &got, &err, &off);
        expected_fields(j_get(c, "headers"), &want);
        if (r != HPACK_OK || buf_size(&got) != buf_size(&want) || memcmp(got.data, want.data, want.len)) {
            printf("# %s case %zu: r=%d %s at %zu\n", path, i, r, err ? err : "", off);
            cnt->bad = 1;
        }
        cnt->blocks++;
        cnt->bytes_in += n;
        cnt->fields += j_get(c, "headers") ? j_get(c, "headers")->n : 0;
    }
    free(wire);
    buf_free(&got);
    buf_free(&want);
    hpack_dec_free(&d);
}

/* One story through our encoder and back, with `table` bytes and optionally
 * without Huffman; a peer table size change every 7th block. */
static void corpus_encode_story(const char *path, const jv *cases, corpus_count *cnt, size_t table,
                                int no_huffman, int resize)
{
    hpack_enc e;
    hpack_dec d;
    hpack_enc_init(&e, table);
    hpack_dec_init(&d, table, 0);
    e.no_huffman = no_huffman;
    buf out = BUF_INIT, got = BUF_INIT, want = BUF_INIT;
    for (size_t i = 0; i < cases->n && !cnt->bad; i++) {
        const jv *h = j_get(&cases->kids[i], "headers");
        if (resize && i % 7 == 6)
            hpack_enc_set_peer_table_size(&e, i % 2 ? table / 2 : table);
        buf_reset(&out);
        hpack_enc_begin_block(&e, &out);
        for (size_t k = 0; h && k < h->n; k++) {
            const jv *f = &h->kids[k].kids[0];
            hpack_encode_field(&e, &out, f->key, f->keylen, f->s, f->len, 0);
        }
        const char *err = NULL;
        size_t off = 0;
        buf_reset(&got);
        int r = hpack_decode_block(&d, (const uint8_t *)out.data, out.len, collect_plain, &got, &err, &off);
        expected_fields(h, &want);
        if (r != HPACK_OK || buf_size(&got) != buf_size(&want) || memcmp(got.data, want.data, want.len)) {
            printf("# %s case %zu (table %zu, huffman %d): r=%d %s at %zu\n", path, i, table, !no_huffman,
                   r, err ? err : "", off);
            cnt->bad = 1;
        }
        cnt->blocks++;
        cnt->bytes_out += out.len;
        cnt->fields += h ? h->n : 0;
    }
    buf_free(&out);
    buf_free(&got);
    buf_free(&want);
    hpack_enc_free(&e);
    hpack_dec_free(&d);
}

static int corpus_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static size_t list_dir(const char *path, char ***names, int dirs)
{
    DIR *dir = opendir(path);
    size_t n = 0;
    *names = NULL;
    for (struct dirent *de; dir && (de = readdir(dir));) {
        char full[1024];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", path, de->d_name);
        if (de->d_name[0] == '.' || stat(full, &st) || (S_ISDIR(st.st_mode) ? 1 : 0) != dirs)
            continue;
        if (!dirs && !strstr(de->d_name, ".json"))
            continue;
        *names = realloc(*names, (n + 1) * sizeof **names);
        (*names)[n++] = strdup(de->d_name);
    }
    if (dir)
        closedir(dir);
    if (n)
        qsort(*names, n, sizeof **names, corpus_cmp);
    return n;
}

static void corpus_folder(const char *folder)
{
    char dir[512], path[1024];
    snprintf(dir, sizeof dir, CORPUS_DIR "/%s", folder);
    char **files;
    size_t nfiles = list_dir(dir, &files, 0);
    corpus_count cnt = {0}, raw = {0};
    int is_raw = !strcmp(folder, "raw-data");
    for (size_t i = 0; i < nfiles; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        jv root;
        const jv *cases;
        if (j_load(path, &root) < 0 || !(cases = j_get(&root, "cases")) || cases->type != J_ARR) {
            printf("# %s: unreadable JSON\n", path);
            cnt.bad = 1;
        } else if (is_raw) {
            corpus_encode_story(path, cases, &cnt, 4096, 0, 0);
            corpus_encode_story(path, cases, &raw, 256, 1, 1);
        } else {
            corpus_decode_story(path, cases, &cnt);
        }
        if (cnt.bad == 0 && raw.bad == 0)
            cnt.stories++;
        j_free(&root);
        free(files[i]);
    }
    free(files);
    if (is_raw)
        printf("# %s: %zu stories, %zu blocks, %zu fields encoded and decoded back; %zu bytes encoded "
               "(also ok with a 256-byte table, raw strings and size changes: %zu bytes)\n",
               folder, cnt.stories, cnt.blocks, cnt.fields, cnt.bytes_out, raw.bytes_out);
    else
        printf("# %s: %zu stories, %zu blocks, %zu fields decoded\n", folder, cnt.stories, cnt.blocks, cnt.fields);
    CHECK(nfiles > 0);
    CHECK(!cnt.bad && !raw.bad);
    CHECK(cnt.stories == nfiles);
}

static void corpus_run_all(void)
{
    struct stat st;
    test_name = "corpus_unpacked";
    test_failed_now = 0;
    if (stat(CORPUS_DIR "/raw-data", &st) != 0) {
        mkdir("build", 0755);
        if (system("tar xJf tests/data/hpack-test-case.tar.xz -C build") != 0 || stat(CORPUS_DIR "/raw-data", &st)) {
            printf("FAIL corpus_unpacked: cannot unpack tests/data/hpack-test-case.tar.xz into build/\n");
            test_failed++;
            return;
        }
    }
    char **folders;
    size_t n = list_dir(CORPUS_DIR, &folders, 1);
    static char names[64][128];
    for (size_t i = 0; i < n; i++) {
        if (i < 64) {
            snprintf(names[i], sizeof names[i], "corpus_%s", folders[i]);
            test_name = names[i];
            test_failed_now = 0;
            corpus_folder(folders[i]);
            if (test_failed_now)
                test_failed++;
            else {
                test_passed++;
                printf("ok %s\n", test_name);
            }
        }
        free(folders[i]);
    }
    free(folders);
}

int main(void)
{
    RUN(rfc_c1_integers);
    RUN(rfc_c2_literals);
    RUN(rfc_c3_requests_raw);
    RUN(rfc_c4_requests_huffman);
    RUN(rfc_c5_responses_raw);
    RUN(rfc_c6_responses_huffman);
    RUN(err_index_zero);
    RUN(err_index_out_of_range);
    RUN(err_literal_name_index_out_of_range);
    RUN(err_truncated_integer);
    RUN(err_truncated_integer_continuation);
    RUN(err_integer_overflow);
    RUN(err_integer_overflow_long_zeros);
    RUN(err_truncated_string);
    RUN(err_missing_name);
    RUN(err_missing_value);
    RUN(err_huge_string_length);
    RUN(err_huffman_eos);
    RUN(err_huffman_padding_too_long);
    RUN(err_huffman_padding_not_ones);
    RUN(err_huffman_value_padding);
    RUN(err_size_update_after_field);
    RUN(err_size_update_too_large);
    RUN(err_size_update_missing_after_settings);
    RUN(err_header_list_too_large_keeps_table_in_sync);
    RUN(hpack_bomb_is_bounded);
    RUN(emit_error_stops_decoding);
    RUN(enc_never_indexes_credentials);
    RUN(enc_huffman_only_when_shorter);
    RUN(enc_peer_table_size_changes);
    RUN(enc_large_values_not_indexed);
    RUN(enc_repeated_response_is_indexed);
    RUN(trace_describes_fields_and_table);
    RUN(huffman_all_bytes_roundtrip);
    corpus_run_all();
    return test_done();
}
