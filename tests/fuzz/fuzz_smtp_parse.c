/* fuzz_smtp_parse.c — libFuzzer target for the SMTP command parser, the
 * address checker, base64/AUTH PLAIN and the DATA reader. The first byte
 * picks a cut point: the DATA reader must give the same result whole and in
 * two pieces. */
#include "mail/smtp_parse.c"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t cut = data[0] % size;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    smtp_cmd cmd;
    const char *err = NULL;
    for (size_t off = 0; off < len; ) {
        long n = smtp_line_find(in + off, len - off);
        if (n <= 0) n = (long)(len - off);
        if (smtp_parse_line(in + off, (size_t)n, &cmd, &err) < 0 && !err) abort();
        if (cmd.verb == SMTP_MAIL || cmd.verb == SMTP_RCPT) if (strlen(cmd.addr) > SMTP_PATH_MAX) abort();
        off += (size_t)n;
    }
    char *dec = malloc(len + 1), *u = malloc(65), *p = malloc(257);
    long dl = smtp_b64_decode(in, len, dec, len + 1);
    if (dl >= 0) smtp_auth_plain(dec, (size_t)dl, u, 65, p, 257);
    size_t ll;
    smtp_check_mailbox(in, len, 1, &ll, &err);
    char *o1 = malloc(len + 2), *o2 = malloc(len + 2);
    smtp_data a, b;
    size_t al, bl1, bl2 = 0;
    smtp_data_init(&a, 200);
    size_t ua = smtp_data_feed(&a, in, len, o1, &al);
    smtp_data_init(&b, 200);
    size_t ub = smtp_data_feed(&b, in, cut, o2, &bl1);
    if (!b.done) ub += smtp_data_feed(&b, in + cut, len - cut, o2 + bl1, &bl2);
    if (ua != ub || al != bl1 + bl2 || memcmp(o1, o2, al) != 0 || a.done != b.done || a.size != b.size ||
        a.too_big != b.too_big || a.bare_eol != b.bare_eol || a.line_too_long != b.line_too_long) abort();
    if (al > 200) abort();
    free(dec); free(u); free(p); free(o1); free(o2);
    return 0;
}
