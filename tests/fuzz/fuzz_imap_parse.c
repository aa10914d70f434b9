/*
 * fuzz_imap_parse.c — libFuzzer target for the IMAP command scanner and
 * parser: the input is fed to imap_scan_next in random-sized pieces (the
 * first byte picks the cut), each complete command is parsed, and every
 * atom that looks like a sequence set is parsed and queried.
 */
#include "mail/imap_parse.c"
#include "core/buf.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    imap_limits lim = { 4096, 65536, 16 };
    imap_scan st = {0};
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1, have = 0;
    data++, size--;
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    size_t start = 0;
    while (start < size) {
        have = have + step > size - start ? size - start : have + step;
        size_t cmdlen = 0;
        const char *err = NULL;
        int r = imap_scan_next(&st, copy + start, have, &lim, &cmdlen, &err);
        if (r == IMAP_SCAN_MORE) {
            if (start + have >= size)
                break;
            continue;
        }
        if (r == IMAP_SCAN_CONTINUE)
            continue;
        if (r == IMAP_SCAN_ELINE || r == IMAP_SCAN_ETOOBIG_NONSYNC)
            break;
        if (r == IMAP_SCAN_DONE) {
            imap_cmd cmd;
            if (imap_parse(copy + start, cmdlen, &lim, &cmd, &err) == 0) {
                for (size_t i = 0; i < cmd.nargs; i++) {
                    imap_seqset set;
                    if (cmd.args[i].type == IMAP_ATOM &&
                        imap_seqset_parse(&cmd, cmd.args[i].s, cmd.args[i].len, &set) == 0)
                        (void)imap_seqset_has(&set, 7, 100);
                }
            }
            imap_cmd_free(&cmd);
        }
        start += cmdlen;
        have = 0;
        memset(&st, 0, sizeof st);
    }
    free(copy);
    return 0;
}
