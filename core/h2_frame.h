/*
 * h2_frame.h — HTTP/2 framing (RFC 9113 §4, §6): the pure frame codec.
 *
 * Bytes in, frames out; frames in, bytes out. No sockets, no loop, no TLS.
 * h2_frame_read() cuts one frame off the input (9-byte header + payload) and
 * checks its length against SETTINGS_MAX_FRAME_SIZE; one decoder per frame
 * type then checks that type's rules (fixed lengths, padding, stream id) and
 * fills a small struct pointing into the payload (zero copy).
 *
 * Every decoder returns >= 0 on success (h2_frame_read: bytes consumed) or a
 * negative error: -code (an H2_*_ERROR value) for a connection error, or
 * -(code | H2_STREAM_ERROR) when RFC 9113 makes it a stream error
 * (PRIORITY of the wrong size, a stream depending on itself, a zero
 * WINDOW_UPDATE on a stream). H2_INCOMPLETE means "need more bytes". The
 * human reason goes to *err_desc. Builders append whole frames to a buf.
 */
#ifndef ATTO_H2_FRAME_H
#define ATTO_H2_FRAME_H
#include "core/buf.h"
#include <stddef.h>
#include <stdint.h>

enum h2_frame_type {
    H2_DATA = 0, H2_HEADERS = 1, H2_PRIORITY = 2, H2_RST_STREAM = 3,
    H2_SETTINGS = 4, H2_PUSH_PROMISE = 5, H2_PING = 6, H2_GOAWAY = 7,
    H2_WINDOW_UPDATE = 8, H2_CONTINUATION = 9, H2_FRAME_TYPES = 10
};

enum {
    H2_FLAG_END_STREAM = 0x1, H2_FLAG_ACK = 0x1, H2_FLAG_END_HEADERS = 0x4,
    H2_FLAG_PADDED = 0x8, H2_FLAG_PRIORITY = 0x20
};

enum h2_error {
    H2_NO_ERROR = 0x0, H2_PROTOCOL_ERROR = 0x1, H2_INTERNAL_ERROR = 0x2,
    H2_FLOW_CONTROL_ERROR = 0x3, H2_SETTINGS_TIMEOUT = 0x4, H2_STREAM_CLOSED = 0x5,
    H2_FRAME_SIZE_ERROR = 0x6, H2_REFUSED_STREAM = 0x7, H2_CANCEL = 0x8,
    H2_COMPRESSION_ERROR = 0x9, H2_CONNECT_ERROR = 0xa, H2_ENHANCE_YOUR_CALM = 0xb,
    H2_INADEQUATE_SECURITY = 0xc, H2_HTTP_1_1_REQUIRED = 0xd
};
#define H2_STREAM_ERROR 0x100          /* or-ed into a code: stream, not connection */
#define H2_INCOMPLETE   (-0x200)       /* h2_frame_read: not a whole frame yet */
#define H2_ERR_CODE(e)  ((uint32_t)(-(e)) & 0xff)
#define H2_ERR_IS_STREAM(e) (((-(e)) & H2_STREAM_ERROR) != 0)

enum h2_setting_id {
    H2_SETTINGS_HEADER_TABLE_SIZE = 1, H2_SETTINGS_ENABLE_PUSH = 2,
    H2_SETTINGS_MAX_CONCURRENT_STREAMS = 3, H2_SETTINGS_INITIAL_WINDOW_SIZE = 4,
    H2_SETTINGS_MAX_FRAME_SIZE = 5, H2_SETTINGS_MAX_HEADER_LIST_SIZE = 6
};

#define H2_FRAME_HEADER_SIZE   9
#define H2_DEFAULT_FRAME_SIZE  16384u
#define H2_MAX_FRAME_SIZE      16777215u
#define H2_DEFAULT_WINDOW      65535u
#define H2_MAX_WINDOW          0x7fffffffu
#define H2_PREFACE             "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN         24

typedef struct h2_frame {
    uint32_t       length;
    uint8_t        type, flags;
    uint32_t       stream_id;
    const uint8_t *payload;
} h2_frame;

typedef struct h2_settings {
    uint32_t header_table_size, enable_push, max_concurrent_streams;
    uint32_t initial_window_size, max_frame_size, max_header_list_size;
} h2_settings;
extern const h2_settings h2_settings_default;   /* RFC 9113 §6.5.2 initial values */

typedef struct h2_priority {
    int      exclusive;
    uint32_t dependency;
    uint16_t weight;     /* 1..256 */
} h2_priority;

typedef struct h2_data       { const uint8_t *data; size_t len; uint8_t pad; } h2_data;
typedef struct h2_headers    { const uint8_t *block; size_t len; uint8_t pad; int has_priority; h2_priority prio; } h2_headers;
typedef struct h2_push       { const uint8_t *block; size_t len; uint32_t promised; } h2_push;
typedef struct h2_goaway     { uint32_t last_stream_id, error_code; const uint8_t *debug; size_t debug_len; } h2_goaway;

/* Cut one frame. Returns bytes consumed (9 + length), H2_INCOMPLETE, or
 * -H2_FRAME_SIZE_ERROR when length exceeds max_frame_size. */
long h2_frame_read(h2_frame *f, const uint8_t *src, size_t len, uint32_t max_frame_size, const char **err_desc);

int h2_decode_data(h2_data *out, const h2_frame *f, const char **err_desc);
int h2_decode_headers(h2_headers *out, const h2_frame *f, const char **err_desc);
int h2_decode_priority(h2_priority *out, const h2_frame *f, const char **err_desc);
int h2_decode_rst_stream(uint32_t *error_code, const h2_frame *f, const char **err_desc);
/* Checks the frame and applies each setting to *s (ACK: nothing to apply).
 * Bad values: ENABLE_PUSH not 0/1, MAX_FRAME_SIZE out of range
 * (PROTOCOL_ERROR), INITIAL_WINDOW_SIZE > 2^31-1 (FLOW_CONTROL_ERROR). */
int h2_decode_settings(h2_settings *s, const h2_frame *f, const char **err_desc);
int h2_decode_push_promise(h2_push *out, const h2_frame *f, const char **err_desc);
int h2_decode_ping(const uint8_t **opaque8, const h2_frame *f, const char **err_desc);
int h2_decode_goaway(h2_goaway *out, const h2_frame *f, const char **err_desc);
int h2_decode_window_update(uint32_t *increment, const h2_frame *f, const char **err_desc);
int h2_decode_continuation(const h2_frame *f, const char **err_desc);
/* Applies a raw SETTINGS payload (a multiple of 6 bytes) to *s; also used
 * for the HTTP2-Settings header of an h2c upgrade. */
int h2_settings_apply(h2_settings *s, const uint8_t *p, size_t len, const char **err_desc);

/* Builders: append one or more complete frames to b. */
void h2_build_frame_header(buf *b, uint32_t length, uint8_t type, uint8_t flags, uint32_t stream_id);
void h2_build_frame(buf *b, uint8_t type, uint8_t flags, uint32_t stream_id, const void *payload, size_t len);
void h2_build_data(buf *b, uint32_t stream_id, const void *p, size_t len, int end_stream);
/* DATA or HEADERS with a padding field of `pad` bytes (test and fuzz helper). */
void h2_build_padded(buf *b, uint8_t type, uint8_t flags, uint32_t stream_id, const void *p, size_t len, uint8_t pad);
/* HEADERS then as many CONTINUATION frames as max_frame_size requires. */
void h2_build_headers(buf *b, uint32_t stream_id, const void *block, size_t len, int end_stream, uint32_t max_frame_size);
void h2_build_priority(buf *b, uint32_t stream_id, uint32_t dependency, int exclusive, uint16_t weight);
void h2_build_rst_stream(buf *b, uint32_t stream_id, uint32_t error_code);
/* pairs: n (id, value) pairs as uint32_t[2*n]. */
void h2_build_settings(buf *b, const uint32_t *pairs, size_t n);
void h2_build_settings_ack(buf *b);
void h2_build_ping(buf *b, const uint8_t opaque[8], int ack);
void h2_build_goaway(buf *b, uint32_t last_stream_id, uint32_t error_code, const char *debug, size_t debug_len);
void h2_build_window_update(buf *b, uint32_t stream_id, uint32_t increment);

/* Names for tracing: "HEADERS", "PROTOCOL_ERROR", "INITIAL_WINDOW_SIZE". */
const char *h2_frame_type_name(uint8_t type);
const char *h2_error_name(uint32_t code);
const char *h2_setting_name(uint16_t id);
/* "END_STREAM|END_HEADERS" into out (flags meaningful for this type). */
void h2_flags_describe(char *out, size_t outlen, uint8_t type, uint8_t flags);

/* base64url without padding (RFC 4648 §5), for HTTP2-Settings. Returns the
 * decoded length or -1 on a bad character or length. */
long h2_base64url_decode(uint8_t *out, size_t outcap, const char *in, size_t len);
#endif
