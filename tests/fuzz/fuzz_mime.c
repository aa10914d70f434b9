/* fuzz_mime.c — libFuzzer target for the MIME structure parser behind IMAP
 * BODYSTRUCTURE, ENVELOPE and SEARCH: any message must parse (or not) without
 * a crash, and the structure, envelope and decoded-words writers must cope
 * with whatever tree comes back. */
#include "core/buf.c"
#include "mail/mime.c"
#include "mail/mime_decode.c"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *msg = (const char *)data;
    mime_part *root = mime_parse(msg, size);
    buf out = BUF_INIT;
    if (root) {
        mime_bodystructure(&out, msg, root, 1);
        uint32_t nums[2] = {1, 1};
        (void)mime_section(root, nums, 2);
        mime_free(root);
    }
    buf_reset(&out);
    mime_envelope(&out, msg, size);
    buf_reset(&out);
    mime_decode_words(msg, size, &out);
    buf_free(&out);
    return 0;
}
