/*
 * h2_frame.c — HTTP/2 frame codec (RFC 9113 §4 and §6); see h2_frame.h.
 *
 * Each decoder fits on a screen and checks, in the RFC's order, the stream
 * id rule of its type, the fixed length, then padding. Padding is counted
 * into the frame length (flow control charges it) but never shown to the
 * caller. Priority fields are parsed and returned; the engine ignores them as
 * RFC 9113 §5.3.2 allows.
 */
#include "core/h2_frame.h"
#include <stdio.h>
#include <string.h>

const h2_settings h2_settings_default = {
    .header_table_size = 4096, .enable_push = 1, .max_concurrent_streams = UINT32_MAX,
    .initial_window_size = H2_DEFAULT_WINDOW, .max_frame_size = H2_DEFAULT_FRAME_SIZE,
    .max_header_list_size = UINT32_MAX,
};

static uint32_t get24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

#define FAIL(code, why) do { *err_desc = (why); return -(code); } while (0)

long h2_frame_read(h2_frame *f, const uint8_t *src, size_t len, uint32_t max_frame_size, const char **err_desc)
{
    if (len < H2_FRAME_HEADER_SIZE)
        return H2_INCOMPLETE;
    f->length = get24(src);
    f->type = src[3];
    f->flags = src[4];
    f->stream_id = get32(src + 5) & 0x7fffffff;   /* the reserved bit is ignored */
    if (f->length > max_frame_size)
        FAIL(H2_FRAME_SIZE_ERROR, "frame larger than SETTINGS_MAX_FRAME_SIZE");
    if (len < H2_FRAME_HEADER_SIZE + (size_t)f->length)
        return H2_INCOMPLETE;
    f->payload = src + H2_FRAME_HEADER_SIZE;
    return H2_FRAME_HEADER_SIZE + (long)f->length;
}

/* Strip the Pad Length byte and the padding: [*p, *p + *n) is what is left. */
static int strip_padding(const h2_frame *f, const uint8_t **p, size_t *n, uint8_t *pad, const char **err_desc)
{
    *p = f->payload;
    *n = f->length;
    *pad = 0;
    if (!(f->flags & H2_FLAG_PADDED))
        return 0;
    if (f->length < 1)
        FAIL(H2_FRAME_SIZE_ERROR, "padded frame too short for the pad length");
    *pad = f->payload[0];
    if (*pad >= f->length)
        FAIL(H2_PROTOCOL_ERROR, "padding as long as the frame payload or longer");
    *p = f->payload + 1;
    *n = f->length - 1 - *pad;
    return 0;
}

static void decode_priority_fields(h2_priority *out, const uint8_t *p)
{
    uint32_t dep = get32(p);
    out->exclusive = (dep >> 31) != 0;
    out->dependency = dep & 0x7fffffff;
    out->weight = (uint16_t)(p[4] + 1);
}

int h2_decode_data(h2_data *out, const h2_frame *f, const char **err_desc)
{
    if (f->stream_id == 0)
        FAIL(H2_PROTOCOL_ERROR, "DATA on stream 0");
    int rc = strip_padding(f, &out->data, &out->len, &out->pad, err_desc);
    return rc;
}

int h2_decode_headers(h2_headers *out, const h2_frame *f, const char **err_desc)
{
    if (f->stream_id == 0)
        FAIL(H2_PROTOCOL_ERROR, "HEADERS on stream 0");
    int rc = strip_padding(f, &out->block, &out->len, &out->pad, err_desc);
    if (rc < 0)
        return rc;
    out->has_priority = (f->flags & H2_FLAG_PRIORITY) != 0;
    if (!out->has_priority)
        return 0;
    if (out->len < 5)
        FAIL(out->pad ? H2_PROTOCOL_ERROR : H2_FRAME_SIZE_ERROR,
             "HEADERS too short for its priority fields");
    decode_priority_fields(&out->prio, out->block);
    out->block += 5;
    out->len -= 5;
    if (out->prio.dependency == f->stream_id)
        FAIL(H2_PROTOCOL_ERROR | H2_STREAM_ERROR, "stream depends on itself");
    return 0;
}

int h2_decode_priority(h2_priority *out, const h2_frame *f, const char **err_desc)
{
    if (f->stream_id == 0)
        FAIL(H2_PROTOCOL_ERROR, "PRIORITY on stream 0");
    if (f->length != 5)
        FAIL(H2_FRAME_SIZE_ERROR | H2_STREAM_ERROR, "PRIORITY length is not 5");
    decode_priority_fields(out, f->payload);
    if (out->dependency == f->stream_id)
        FAIL(H2_PROTOCOL_ERROR | H2_STREAM_ERROR, "stream depends on itself");
    return 0;
}

int h2_decode_rst_stream(uint32_t *error_code, const h2_frame *f, const char **err_desc)
{
    if (f->stream_id == 0)
        FAIL(H2_PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (f->length != 4)
        FAIL(H2_FRAME_SIZE_ERROR, "RST_STREAM length is not 4");
    *error_code = get32(f->payload);
    return 0;
}

int h2_settings_apply(h2_settings *s, const uint8_t *p, size_t len, const char **err_desc)
{
    if (len % 6)
        FAIL(H2_FRAME_SIZE_ERROR, "SETTINGS length is not a multiple of 6");
    for (; len; p += 6, len -= 6) {
        uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
        uint32_t v = get32(p + 2);
        switch (id) {
        case H2_SETTINGS_HEADER_TABLE_SIZE: s->header_table_size = v; break;
        case H2_SETTINGS_ENABLE_PUSH:
            if (v > 1)
                FAIL(H2_PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH is not 0 or 1");
            s->enable_push = v;
            break;
        case H2_SETTINGS_MAX_CONCURRENT_STREAMS: s->max_concurrent_streams = v; break;
        case H2_SETTINGS_INITIAL_WINDOW_SIZE:
            if (v > H2_MAX_WINDOW)
                FAIL(H2_FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
            s->initial_window_size = v;
            break;
        case H2_SETTINGS_MAX_FRAME_SIZE:
            if (v < H2_DEFAULT_FRAME_SIZE || v > H2_MAX_FRAME_SIZE)
                FAIL(H2_PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE outside 16384..16777215");
            s->max_frame_size = v;
            break;
        case H2_SETTINGS_MAX_HEADER_LIST_SIZE: s->max_header_list_size = v; break;
        default: break;   /* unknown settings MUST be ignored (§6.5.2) */
        }
    }
    return 0;
}

int h2_decode_settings(h2_settings *s, const h2_frame *f, const char **err_desc)
{
    if (f->stream_id != 0)
        FAIL(H2_PROTOCOL_ERROR, "SETTINGS on a stream");
    if (f->flags & H2_FLAG_ACK) {
        if (f->length != 0)
            FAIL(H2_FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
        return 0;
    }
    return h2_settings_apply(s, f->payload, f->length, err_desc);
}

int h2_decode_push_promise(h2_push *out, const h2_frame *f, const char **err_desc)
{
    if (f->stream_id == 0)
        FAIL(H2_PROTOCOL_ERROR, "PUSH_PROMISE on stream 0");
    uint8_t pad;
    int rc = strip_padding(f, &out->block, &out->len, &pad, err_desc);
    if (rc < 0)
        return rc;
    if (out->len < 4)
        FAIL(pad ? H2_PROTOCOL_ERROR : H2_FRAME_SIZE_ERROR, "PUSH_PROMISE too short");
    out->promised = get32(out->block) & 0x7fffffff;
    out->block += 4;
    out->len -= 4;
    return 0;
}

int h2_decode_ping(const uint8_t **opaque8, const h2_frame *f, const char **err_desc)
{
    if (f->stream_id != 0)
        FAIL(H2_PROTOCOL_ERROR, "PING on a stream");
    if (f->length != 8)
        FAIL(H2_FRAME_SIZE_ERROR, "PING length is not 8");
    *opaque8 = f->payload;
    return 0;
}

int h2_decode_goaway(h2_goaway *out, const h2_frame *f, const char **err_desc)
{
    if (f->stream_id != 0)
        FAIL(H2_PROTOCOL_ERROR, "GOAWAY on a stream");
    if (f->length < 8)
        FAIL(H2_FRAME_SIZE_ERROR, "GOAWAY shorter than 8");
    out->last_stream_id = get32(f->payload) & 0x7fffffff;
    out->error_code = get32(f->payload + 4);
    out->debug = f->payload + 8;
    out->debug_len = f->length - 8;
    return 0;
}

int h2_decode_window_update(uint32_t *increment, const h2_frame *f, const char **err_desc)
{
    if (f->length != 4)
        FAIL(H2_FRAME_SIZE_ERROR, "WINDOW_UPDATE length is not 4");
    *increment = get32(f->payload) & 0x7fffffff;
    if (*increment == 0) {
        if (f->stream_id == 0)
            FAIL(H2_PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection");
        FAIL(H2_PROTOCOL_ERROR | H2_STREAM_ERROR, "WINDOW_UPDATE of 0 on a stream");
    }
    return 0;
}

int h2_decode_continuation(const h2_frame *f, const char **err_desc)
{
    if (f->stream_id == 0)
        FAIL(H2_PROTOCOL_ERROR, "CONTINUATION on stream 0");
    return 0;
}

/* ---- builders ---- */

void h2_build_frame_header(buf *b, uint32_t length, uint8_t type, uint8_t flags, uint32_t stream_id)
{
    uint8_t *p = (uint8_t *)buf_tail(b, H2_FRAME_HEADER_SIZE);
    p[0] = length >> 16; p[1] = length >> 8; p[2] = length;
    p[3] = type;
    p[4] = flags;
    put32(p + 5, stream_id & 0x7fffffff);
    buf_commit(b, H2_FRAME_HEADER_SIZE);
}

void h2_build_frame(buf *b, uint8_t type, uint8_t flags, uint32_t stream_id, const void *payload, size_t len)
{
    h2_build_frame_header(b, (uint32_t)len, type, flags, stream_id);
    buf_append(b, payload, len);
}

void h2_build_data(buf *b, uint32_t stream_id, const void *p, size_t len, int end_stream)
{
    h2_build_frame(b, H2_DATA, end_stream ? H2_FLAG_END_STREAM : 0, stream_id, p, len);
}

void h2_build_padded(buf *b, uint8_t type, uint8_t flags, uint32_t stream_id, const void *p, size_t len, uint8_t pad)
{
    h2_build_frame_header(b, (uint32_t)(1 + len + pad), type, flags | H2_FLAG_PADDED, stream_id);
    buf_append(b, &pad, 1);
    buf_append(b, p, len);
    memset(buf_tail(b, pad), 0, pad);
    buf_commit(b, pad);
}

void h2_build_headers(buf *b, uint32_t stream_id, const void *block, size_t len, int end_stream, uint32_t max_frame_size)
{
    const uint8_t *p = block;
    size_t n = len < max_frame_size ? len : max_frame_size;
    uint8_t flags = (end_stream ? H2_FLAG_END_STREAM : 0) | (n == len ? H2_FLAG_END_HEADERS : 0);
    h2_build_frame(b, H2_HEADERS, flags, stream_id, p, n);
    for (size_t off = n; off < len; off += n) {
        n = len - off < max_frame_size ? len - off : max_frame_size;
        h2_build_frame(b, H2_CONTINUATION, off + n == len ? H2_FLAG_END_HEADERS : 0, stream_id, p + off, n);
    }
}

void h2_build_priority(buf *b, uint32_t stream_id, uint32_t dependency, int exclusive, uint16_t weight)
{
    uint8_t p[5];
    put32(p, (dependency & 0x7fffffff) | (exclusive ? 0x80000000u : 0));
    p[4] = (uint8_t)(weight - 1);
    h2_build_frame(b, H2_PRIORITY, 0, stream_id, p, 5);
}

void h2_build_rst_stream(buf *b, uint32_t stream_id, uint32_t error_code)
{
    uint8_t p[4];
    put32(p, error_code);
    h2_build_frame(b, H2_RST_STREAM, 0, stream_id, p, 4);
}

void h2_build_settings(buf *b, const uint32_t *pairs, size_t n)
{
    h2_build_frame_header(b, (uint32_t)(6 * n), H2_SETTINGS, 0, 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t p[6];
        p[0] = (uint8_t)(pairs[2 * i] >> 8);
        p[1] = (uint8_t)pairs[2 * i];
        put32(p + 2, pairs[2 * i + 1]);
        buf_append(b, p, 6);
    }
}

void h2_build_settings_ack(buf *b) { h2_build_frame_header(b, 0, H2_SETTINGS, H2_FLAG_ACK, 0); }

void h2_build_ping(buf *b, const uint8_t opaque[8], int ack)
{
    h2_build_frame(b, H2_PING, ack ? H2_FLAG_ACK : 0, 0, opaque, 8);
}

void h2_build_goaway(buf *b, uint32_t last_stream_id, uint32_t error_code, const char *debug, size_t debug_len)
{
    uint8_t p[8];
    put32(p, last_stream_id & 0x7fffffff);
    put32(p + 4, error_code);
    h2_build_frame_header(b, (uint32_t)(8 + debug_len), H2_GOAWAY, 0, 0);
    buf_append(b, p, 8);
    buf_append(b, debug, debug_len);
}

void h2_build_window_update(buf *b, uint32_t stream_id, uint32_t increment)
{
    uint8_t p[4];
    put32(p, increment & 0x7fffffff);
    h2_build_frame(b, H2_WINDOW_UPDATE, 0, stream_id, p, 4);
}

/* ---- names ---- */

const char *h2_frame_type_name(uint8_t type)
{
    static const char *const names[H2_FRAME_TYPES] = {
        "DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE",
        "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION",
    };
    return type < H2_FRAME_TYPES ? names[type] : "UNKNOWN";
}

const char *h2_error_name(uint32_t code)
{
    static const char *const names[] = {
        "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
        "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
    };
    return code < sizeof names / sizeof names[0] ? names[code] : "UNKNOWN_ERROR";
}

const char *h2_setting_name(uint16_t id)
{
    static const char *const names[] = {
        "?", "HEADER_TABLE_SIZE", "ENABLE_PUSH", "MAX_CONCURRENT_STREAMS",
        "INITIAL_WINDOW_SIZE", "MAX_FRAME_SIZE", "MAX_HEADER_LIST_SIZE",
    };
    return id >= 1 && id <= 6 ? names[id] : "UNKNOWN_SETTING";
}

void h2_flags_describe(char *out, size_t outlen, uint8_t type, uint8_t flags)
{
    size_t n = 0;
    out[0] = 0;
#define FLAG(bit, name) if (flags & (bit)) n += (size_t)snprintf(out + n, n < outlen ? outlen - n : 0, "%s%s", n ? "|" : "", name)
    if (type == H2_SETTINGS || type == H2_PING) {
        FLAG(H2_FLAG_ACK, "ACK");
    } else if (type == H2_DATA || type == H2_HEADERS || type == H2_PUSH_PROMISE || type == H2_CONTINUATION) {
        if (type == H2_DATA || type == H2_HEADERS)
            FLAG(H2_FLAG_END_STREAM, "END_STREAM");
        if (type != H2_DATA)
            FLAG(H2_FLAG_END_HEADERS, "END_HEADERS");
        if (type != H2_CONTINUATION)
            FLAG(H2_FLAG_PADDED, "PADDED");
        if (type == H2_HEADERS)
            FLAG(H2_FLAG_PRIORITY, "PRIORITY");
    }
#undef FLAG
    if (n == 0)
        snprintf(out, outlen, "-");
}

/* ---- base64url (HTTP2-Settings) ---- */

static int b64url_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '-') return 62;
    if (ch == '_') return 63;
    return -1;
}

long h2_base64url_decode(uint8_t *out, size_t outcap, const char *in, size_t len)
{
    while (len && in[len - 1] == '=')   /* tolerate padding some clients send */
        len--;
    if (len % 4 == 1)
        return -1;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= outcap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)n;
}
