/*
 * fuzz_h2_frame.c — libFuzzer target for the HTTP/2 frame codec: cut frames
 * from arbitrary bytes with varying max frame sizes and run each through its
 * type's decoder; also the base64url decoder of HTTP2-Settings.
 */
#include "core/buf.c"
#include "core/h2_frame.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    uint8_t tmp[256];
    h2_base64url_decode(tmp, sizeof tmp, (const char *)data, size < 300 ? size : 300);
    uint32_t max = size && (data[0] & 1) ? H2_MAX_FRAME_SIZE : H2_DEFAULT_FRAME_SIZE;
    h2_settings s = h2_settings_default;
    size_t off = 0;
    while (off < size) {
        h2_frame f;
        long n = h2_frame_read(&f, data + off, size - off, max, &why);
        if (n < 0)
            break;
        union { h2_data d; h2_headers h; h2_priority p; h2_push pp; h2_goaway g; } u;
        uint32_t v;
        const uint8_t *o;
        int rc = 0;
        switch (f.type) {
        case H2_DATA: rc = h2_decode_data(&u.d, &f, &why); if (!rc && u.d.len) v = u.d.data[u.d.len - 1]; break;
        case H2_HEADERS: rc = h2_decode_headers(&u.h, &f, &why); if (!rc && u.h.len) v = u.h.block[u.h.len - 1]; break;
        case H2_PRIORITY: rc = h2_decode_priority(&u.p, &f, &why); break;
        case H2_RST_STREAM: rc = h2_decode_rst_stream(&v, &f, &why); break;
        case H2_SETTINGS: rc = h2_decode_settings(&s, &f, &why); break;
        case H2_PUSH_PROMISE: rc = h2_decode_push_promise(&u.pp, &f, &why); break;
        case H2_PING: rc = h2_decode_ping(&o, &f, &why); break;
        case H2_GOAWAY: rc = h2_decode_goaway(&u.g, &f, &why); break;
        case H2_WINDOW_UPDATE: rc = h2_decode_window_update(&v, &f, &why); break;
        case H2_CONTINUATION: rc = h2_decode_continuation(&f, &why); break;
        default: break;
        }
        if (rc < 0 && !why)
            __builtin_trap();   /* every error carries a reason */
        char fl[64];
        h2_flags_describe(fl, sizeof fl, f.type, f.flags);
        off += (size_t)n;
    }
    return 0;
}
