/*
 * test_h2_frame.c — the HTTP/2 frame codec: every type, every malformed
 * length, padding, stream-id rules, builders round-tripping through decoders.
 */
#include "tests/unit/test.h"
#include "core/h2_frame.h"
#include <stdint.h>

static buf out;
static h2_frame fr;
static const char *why;

/* Build with b, then cut it with h2_frame_read; returns the read result. */
static long cut(uint32_t max)
{
    why = NULL;
    long n = h2_frame_read(&fr, (const uint8_t *)buf_head(&out), buf_size(&out), max, &why);
    return n;
}

static void raw(uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t len)
{
    buf_reset(&out);
    h2_build_frame(&out, type, flags, sid, p, len);
    cut(H2_DEFAULT_FRAME_SIZE);
}

TEST(header_roundtrip)
{
    buf_reset(&out);
    h2_build_frame_header(&out, 0x123456, 0xfe, 0xa5, 0x7fffffff);
    const uint8_t *p = (const uint8_t *)buf_head(&out);
    CHECK_INT(p[0], 0x12); CHECK_INT(p[1], 0x34); CHECK_INT(p[2], 0x56);
    CHECK_INT(p[3], 0xfe); CHECK_INT(p[4], 0xa5);
    CHECK_INT(h2_frame_read(&fr, p, 9, H2_MAX_FRAME_SIZE, &why), H2_INCOMPLETE);
    CHECK_INT(fr.length, 0x123456);
    CHECK_INT(fr.stream_id, 0x7fffffff);
    CHECK_INT(fr.type, 0xfe);
}

TEST(reserved_bit_ignored)
{
    uint8_t f[9] = {0, 0, 0, H2_PING, 0, 0x80, 0, 0, 1};
    CHECK_INT(h2_frame_read(&fr, f, 9, 16384, &why), 9);
    CHECK_INT(fr.stream_id, 1);
}

TEST(incomplete_at_every_cut)
{
    buf_reset(&out);
    h2_build_data(&out, 1, "hello", 5, 1);
    for (size_t i = 0; i < buf_size(&out); i++)
        CHECK_INT(h2_frame_read(&fr, (const uint8_t *)buf_head(&out), i, 16384, &why), H2_INCOMPLETE);
    CHECK_INT(cut(16384), 14);
    CHECK_INT(fr.flags, H2_FLAG_END_STREAM);
}

TEST(max_frame_size_enforced)
{
    static char big[16385];
    buf_reset(&out);
    h2_build_data(&out, 1, big, 16384, 0);
    CHECK_INT(cut(16384), 16384 + 9);
    buf_reset(&out);
    h2_build_data(&out, 1, big, 16385, 0);
    CHECK_INT(cut(16384), -H2_FRAME_SIZE_ERROR);
    CHECK(why != NULL);
    /* the error is known from the header alone */
    CHECK_INT(h2_frame_read(&fr, (const uint8_t *)buf_head(&out), 9, 16384, &why), -H2_FRAME_SIZE_ERROR);
    CHECK_INT(cut(16385), 16385 + 9);
}

TEST(data_plain_and_padded)
{
    h2_data d;
    raw(H2_DATA, 0, 3, "abc", 3);
    CHECK_INT(h2_decode_data(&d, &fr, &why), 0);
    CHECK_MEM(d.data, d.len, "abc", 3);
    buf_reset(&out);
    h2_build_padded(&out, H2_DATA, H2_FLAG_END_STREAM, 3, "abc", 3, 10);
    CHECK_INT(cut(16384), 9 + 14);
    CHECK_INT(h2_decode_data(&d, &fr, &why), 0);
    CHECK_MEM(d.data, d.len, "abc", 3);
    CHECK_INT(d.pad, 10);
    CHECK_INT(fr.flags & H2_FLAG_END_STREAM, 1);
}

TEST(data_padding_errors)
{
    h2_data d;
    uint8_t p[6] = {6, 'a', 'b', 0, 0, 0};                 /* pad 6 of a 6-byte payload */
    raw(H2_DATA, H2_FLAG_PADDED, 1, p, 6);
    CHECK_INT(h2_decode_data(&d, &fr, &why), -H2_PROTOCOL_ERROR);
    p[0] = 5;                                                /* exactly fills: empty data */
    raw(H2_DATA, H2_FLAG_PADDED, 1, p, 6);
    CHECK_INT(h2_decode_data(&d, &fr, &why), 0);
    CHECK_INT(d.len, 0);
    raw(H2_DATA, H2_FLAG_PADDED, 1, NULL, 0);               /* no room for the pad length */
    CHECK_INT(h2_decode_data(&d, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_DATA, 0, 0, "x", 1);
    CHECK_INT(h2_decode_data(&d, &fr, &why), -H2_PROTOCOL_ERROR);
    CHECK(why && strstr(why, "stream 0"));
}

TEST(headers_priority_and_padding)
{
    h2_headers h;
    uint8_t p[1 + 5 + 3 + 2] = {2, 0x80, 0, 0, 3, 15, 0x82, 0x84, 0x86, 0, 0};
    raw(H2_HEADERS, H2_FLAG_PADDED | H2_FLAG_PRIORITY | H2_FLAG_END_HEADERS, 5, p, sizeof p);
    CHECK_INT(h2_decode_headers(&h, &fr, &why), 0);
    CHECK_INT(h.has_priority, 1);
    CHECK_INT(h.prio.exclusive, 1);
    CHECK_INT(h.prio.dependency, 3);
    CHECK_INT(h.prio.weight, 16);
    CHECK_MEM(h.block, h.len, "\x82\x84\x86", 3);
    raw(H2_HEADERS, H2_FLAG_END_HEADERS, 5, "\x82", 1);
    CHECK_INT(h2_decode_headers(&h, &fr, &why), 0);
    CHECK_INT(h.has_priority, 0);
    CHECK_INT(h.len, 1);
}

TEST(headers_errors)
{
    h2_headers h;
    uint8_t self[5] = {0, 0, 0, 5, 0};
    raw(H2_HEADERS, H2_FLAG_PRIORITY, 5, self, 5);
    CHECK_INT(h2_decode_headers(&h, &fr, &why), -(H2_PROTOCOL_ERROR | H2_STREAM_ERROR));
    raw(H2_HEADERS, H2_FLAG_PRIORITY, 5, self, 4);
    CHECK_INT(h2_decode_headers(&h, &fr, &why), -H2_FRAME_SIZE_ERROR);
    uint8_t padp[5] = {3, 0, 0, 0, 0};                      /* padding eats the priority */
    raw(H2_HEADERS, H2_FLAG_PRIORITY | H2_FLAG_PADDED, 5, padp, 5);
    CHECK_INT(h2_decode_headers(&h, &fr, &why), -H2_PROTOCOL_ERROR);
    uint8_t pad[2] = {2, 0};
    raw(H2_HEADERS, H2_FLAG_PADDED, 5, pad, 2);
    CHECK_INT(h2_decode_headers(&h, &fr, &why), -H2_PROTOCOL_ERROR);
    raw(H2_HEADERS, 0, 0, "\x82", 1);
    CHECK_INT(h2_decode_headers(&h, &fr, &why), -H2_PROTOCOL_ERROR);
}

TEST(priority_frame)
{
    h2_priority pr;
    buf_reset(&out);
    h2_build_priority(&out, 7, 3, 0, 256);
    CHECK_INT(cut(16384), 14);
    CHECK_INT(h2_decode_priority(&pr, &fr, &why), 0);
    CHECK_INT(pr.dependency, 3);
    CHECK_INT(pr.weight, 256);
    CHECK_INT(pr.exclusive, 0);
    raw(H2_PRIORITY, 0, 7, "1234", 4);
    CHECK_INT(h2_decode_priority(&pr, &fr, &why), -(H2_FRAME_SIZE_ERROR | H2_STREAM_ERROR));
    raw(H2_PRIORITY, 0, 7, "123456", 6);
    CHECK_INT(h2_decode_priority(&pr, &fr, &why), -(H2_FRAME_SIZE_ERROR | H2_STREAM_ERROR));
    raw(H2_PRIORITY, 0, 0, "12345", 5);
    CHECK_INT(h2_decode_priority(&pr, &fr, &why), -H2_PROTOCOL_ERROR);
    buf_reset(&out);
    h2_build_priority(&out, 7, 7, 0, 16);
    cut(16384);
    CHECK_INT(h2_decode_priority(&pr, &fr, &why), -(H2_PROTOCOL_ERROR | H2_STREAM_ERROR));
    CHECK(H2_ERR_IS_STREAM(-(H2_PROTOCOL_ERROR | H2_STREAM_ERROR)));
    CHECK_INT(H2_ERR_CODE(-(H2_PROTOCOL_ERROR | H2_STREAM_ERROR)), H2_PROTOCOL_ERROR);
}

TEST(rst_stream_frame)
{
    uint32_t code;
    buf_reset(&out);
    h2_build_rst_stream(&out, 9, H2_CANCEL);
    cut(16384);
    CHECK_INT(h2_decode_rst_stream(&code, &fr, &why), 0);
    CHECK_INT(code, H2_CANCEL);
    raw(H2_RST_STREAM, 0, 9, "123", 3);
    CHECK_INT(h2_decode_rst_stream(&code, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_RST_STREAM, 0, 9, "12345", 5);
    CHECK_INT(h2_decode_rst_stream(&code, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_RST_STREAM, 0, 0, "1234", 4);
    CHECK_INT(h2_decode_rst_stream(&code, &fr, &why), -H2_PROTOCOL_ERROR);
}

TEST(settings_frame)
{
    h2_settings s = h2_settings_default;
    uint32_t pairs[] = {H2_SETTINGS_HEADER_TABLE_SIZE, 100, H2_SETTINGS_ENABLE_PUSH, 0,
                        H2_SETTINGS_MAX_CONCURRENT_STREAMS, 7, H2_SETTINGS_INITIAL_WINDOW_SIZE, 1000,
                        H2_SETTINGS_MAX_FRAME_SIZE, 32768, H2_SETTINGS_MAX_HEADER_LIST_SIZE, 9999,
                        0x99, 12345};
    buf_reset(&out);
    h2_build_settings(&out, pairs, 7);
    CHECK_INT(cut(16384), 9 + 42);
    CHECK_INT(h2_decode_settings(&s, &fr, &why), 0);
    CHECK_INT(s.header_table_size, 100);
    CHECK_INT(s.enable_push, 0);
    CHECK_INT(s.max_concurrent_streams, 7);
    CHECK_INT(s.initial_window_size, 1000);
    CHECK_INT(s.max_frame_size, 32768);
    CHECK_INT(s.max_header_list_size, 9999);
    buf_reset(&out);
    h2_build_settings_ack(&out);
    cut(16384);
    CHECK_INT(fr.flags, H2_FLAG_ACK);
    CHECK_INT(h2_decode_settings(&s, &fr, &why), 0);
}

TEST(settings_errors)
{
    h2_settings s = h2_settings_default;
    uint32_t bad[][2] = {{H2_SETTINGS_ENABLE_PUSH, 2}, {H2_SETTINGS_INITIAL_WINDOW_SIZE, 0x80000000u},
                         {H2_SETTINGS_MAX_FRAME_SIZE, 16383}, {H2_SETTINGS_MAX_FRAME_SIZE, 16777216}};
    int want[] = {H2_PROTOCOL_ERROR, H2_FLOW_CONTROL_ERROR, H2_PROTOCOL_ERROR, H2_PROTOCOL_ERROR};
    for (int i = 0; i < 4; i++) {
        buf_reset(&out);
        h2_build_settings(&out, bad[i], 1);
        cut(16384);
        CHECK_INT(h2_decode_settings(&s, &fr, &why), -want[i]);
    }
    raw(H2_SETTINGS, 0, 0, "12345", 5);
    CHECK_INT(h2_decode_settings(&s, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_SETTINGS, H2_FLAG_ACK, 0, "123456", 6);
    CHECK_INT(h2_decode_settings(&s, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_SETTINGS, 0, 1, "", 0);
    CHECK_INT(h2_decode_settings(&s, &fr, &why), -H2_PROTOCOL_ERROR);
    CHECK_INT(s.max_frame_size, 16384);   /* nothing applied from failed frames */
}

TEST(push_promise_frame)
{
    h2_push pp;
    uint8_t p[] = {0, 0, 0, 2, 0x82};
    raw(H2_PUSH_PROMISE, H2_FLAG_END_HEADERS, 1, p, 5);
    CHECK_INT(h2_decode_push_promise(&pp, &fr, &why), 0);
    CHECK_INT(pp.promised, 2);
    CHECK_INT(pp.len, 1);
    raw(H2_PUSH_PROMISE, 0, 1, p, 3);
    CHECK_INT(h2_decode_push_promise(&pp, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_PUSH_PROMISE, 0, 0, p, 5);
    CHECK_INT(h2_decode_push_promise(&pp, &fr, &why), -H2_PROTOCOL_ERROR);
}

TEST(ping_frame)
{
    const uint8_t *o;
    buf_reset(&out);
    h2_build_ping(&out, (const uint8_t *)"abcdefgh", 1);
    cut(16384);
    CHECK_INT(fr.flags, H2_FLAG_ACK);
    CHECK_INT(h2_decode_ping(&o, &fr, &why), 0);
    CHECK_MEM(o, 8, "abcdefgh", 8);
    raw(H2_PING, 0, 0, "abcdefg", 7);
    CHECK_INT(h2_decode_ping(&o, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_PING, 0, 0, "abcdefghi", 9);
    CHECK_INT(h2_decode_ping(&o, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_PING, 0, 1, "abcdefgh", 8);
    CHECK_INT(h2_decode_ping(&o, &fr, &why), -H2_PROTOCOL_ERROR);
}

TEST(goaway_frame)
{
    h2_goaway g;
    buf_reset(&out);
    h2_build_goaway(&out, 11, H2_ENHANCE_YOUR_CALM, "calm", 4);
    cut(16384);
    CHECK_INT(h2_decode_goaway(&g, &fr, &why), 0);
    CHECK_INT(g.last_stream_id, 11);
    CHECK_INT(g.error_code, H2_ENHANCE_YOUR_CALM);
    CHECK_MEM(g.debug, g.debug_len, "calm", 4);
    raw(H2_GOAWAY, 0, 0, "1234567", 7);
    CHECK_INT(h2_decode_goaway(&g, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_GOAWAY, 0, 3, "12345678", 8);
    CHECK_INT(h2_decode_goaway(&g, &fr, &why), -H2_PROTOCOL_ERROR);
}

TEST(window_update_frame)
{
    uint32_t inc;
    buf_reset(&out);
    h2_build_window_update(&out, 0, 0x7fffffff);
    cut(16384);
    CHECK_INT(h2_decode_window_update(&inc, &fr, &why), 0);
    CHECK_INT(inc, 0x7fffffff);
    buf_reset(&out);
    h2_build_window_update(&out, 0, 0);
    cut(16384);
    CHECK_INT(h2_decode_window_update(&inc, &fr, &why), -H2_PROTOCOL_ERROR);
    buf_reset(&out);
    h2_build_window_update(&out, 3, 0);
    cut(16384);
    CHECK_INT(h2_decode_window_update(&inc, &fr, &why), -(H2_PROTOCOL_ERROR | H2_STREAM_ERROR));
    raw(H2_WINDOW_UPDATE, 0, 3, "123", 3);
    CHECK_INT(h2_decode_window_update(&inc, &fr, &why), -H2_FRAME_SIZE_ERROR);
    raw(H2_WINDOW_UPDATE, 0, 0, "12345", 5);
    CHECK_INT(h2_decode_window_update(&inc, &fr, &why), -H2_FRAME_SIZE_ERROR);
}

TEST(continuation_split)
{
    uint8_t block[40000];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (uint8_t)i;
    buf_reset(&out);
    h2_build_headers(&out, 1, block, sizeof block, 1, 16384);
    size_t off = 0, got = 0;
    int frames = 0;
    while (off < buf_size(&out)) {
        long n = h2_frame_read(&fr, (const uint8_t *)buf_head(&out) + off, buf_size(&out) - off, 16384, &why);
        CHECK(n > 0);
        CHECK_INT(fr.type, frames == 0 ? H2_HEADERS : H2_CONTINUATION);
        CHECK_INT(!!(fr.flags & H2_FLAG_END_HEADERS), off + (size_t)n == buf_size(&out));
        CHECK_INT(h2_decode_continuation(&fr, &why), 0);
        CHECK_MEM(fr.payload, fr.length, block + got, fr.length);
        got += fr.length;
        off += (size_t)n;
        frames++;
    }
    CHECK_INT(frames, 3);
    CHECK_INT(got, sizeof block);
    raw(H2_CONTINUATION, 0, 0, "", 0);
    CHECK_INT(h2_decode_continuation(&fr, &why), -H2_PROTOCOL_ERROR);
}

TEST(names_for_tracing)
{
    char fl[64];
    CHECK_STR(h2_frame_type_name(H2_WINDOW_UPDATE), "WINDOW_UPDATE");
    CHECK_STR(h2_frame_type_name(42), "UNKNOWN");
    CHECK_STR(h2_error_name(H2_HTTP_1_1_REQUIRED), "HTTP_1_1_REQUIRED");
    CHECK_STR(h2_error_name(0), "NO_ERROR");
    CHECK_STR(h2_error_name(99), "UNKNOWN_ERROR");
    CHECK_STR(h2_setting_name(4), "INITIAL_WINDOW_SIZE");
    h2_flags_describe(fl, sizeof fl, H2_HEADERS, H2_FLAG_END_STREAM | H2_FLAG_END_HEADERS | H2_FLAG_PRIORITY);
    CHECK_STR(fl, "END_STREAM|END_HEADERS|PRIORITY");
    h2_flags_describe(fl, sizeof fl, H2_PING, H2_FLAG_ACK);
    CHECK_STR(fl, "ACK");
    h2_flags_describe(fl, sizeof fl, H2_DATA, 0);
    CHECK_STR(fl, "-");
}

TEST(base64url)
{
    uint8_t o[32];
    /* SETTINGS_MAX_CONCURRENT_STREAMS=100, INITIAL_WINDOW_SIZE=65535 as curl sends it */
    long n = h2_base64url_decode(o, sizeof o, "AAMAAABkAAQAAP__", 16);
    CHECK_INT(n, 12);
    CHECK_MEM(o, 12, "\0\3\0\0\0\x64\0\4\0\0\xff\xff", 12);
    CHECK_INT(h2_base64url_decode(o, sizeof o, "AA+A", 4), -1);
    CHECK_INT(h2_base64url_decode(o, sizeof o, "A", 1), -1);
    CHECK_INT(h2_base64url_decode(o, 2, "AAAAAA", 6), -1);
    CHECK_INT(h2_base64url_decode(o, sizeof o, "", 0), 0);
    h2_settings s = h2_settings_default;
    CHECK_INT(h2_settings_apply(&s, o, 0, &why), 0);
}

int main(void)
{
    RUN(header_roundtrip);
    RUN(reserved_bit_ignored);
    RUN(incomplete_at_every_cut);
    RUN(max_frame_size_enforced);
    RUN(data_plain_and_padded);
    RUN(data_padding_errors);
    RUN(headers_priority_and_padding);
    RUN(headers_errors);
    RUN(priority_frame);
    RUN(rst_stream_frame);
    RUN(settings_frame);
    RUN(settings_errors);
    RUN(push_promise_frame);
    RUN(ping_frame);
    RUN(goaway_frame);
    RUN(window_update_frame);
    RUN(continuation_split);
    RUN(names_for_tracing);
    RUN(base64url);
    buf_free(&out);
    return test_done();
}
