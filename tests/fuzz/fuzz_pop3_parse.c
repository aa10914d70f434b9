/* fuzz_pop3_parse.c — libFuzzer target for the POP3 command parser: lines
 * are cut from arbitrary bytes the way the session cuts them, each is
 * parsed, and every pointer the parser hands back must lie inside its line. */
#include "mail/pop3_parse.c"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t off = 0;
    while (off < size) {
        size_t linelen = 0;
        int rc = pop3_line(in + off, size - off, POP3_MAX_LINE, &linelen);
        if (rc <= 0 || linelen == 0 || linelen > size - off)
            break;
        pop3_cmd cmd;
        const char *err = NULL;
        if (pop3_parse(in + off, linelen, &cmd, &err) == 0) {
            for (int i = 0; i < cmd.nargs && i < 2; i++)
                if (cmd.arg[i] < in + off || cmd.arg[i] + cmd.arglen[i] > in + off + linelen)
                    abort();
            if (cmd.arg[0])
                (void)pop3_number(cmd.arg[0], cmd.arglen[0]);
        } else if (!err) {
            abort();   /* every refusal says why */
        }
        off += linelen;
    }
    return 0;
}
