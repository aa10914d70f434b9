/*
 * pop3_parse.c — POP3 line splitting and command parsing; see pop3_parse.h.
 */
#include "mail/pop3_parse.h"
#include <string.h>

int pop3_line(const char *p, size_t len, size_t max, size_t *linelen)
{
    const char *lf = memchr(p, '\n', len < max ? len : max);
    if (lf) {
        *linelen = (size_t)(lf - p) + 1;
        return 1;
    }
    return len >= max ? -1 : 0;
}

int pop3_parse(const char *line, size_t len, pop3_cmd *cmd, const char **err)
{
    memset(cmd, 0, sizeof *cmd);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    size_t i = 0;
    while (i < len && line[i] != ' ') {
        char c = line[i];
        if (i >= 4 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
            *err = "bad command keyword";
            return -1;
        }
        cmd->verb[i++] = (char)(c >= 'a' ? c - 32 : c);
    }
    if (i < 3) {
        *err = "bad command keyword";
        return -1;
    }
    if (i < len) {
        cmd->rest = line + i + 1;
        cmd->restlen = len - i - 1;
    }
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        if (i >= len)
            break;
        size_t s = i;
        while (i < len && line[i] != ' ')
            i++;
        if (cmd->nargs < 2) {
            cmd->arg[cmd->nargs] = line + s;
            cmd->arglen[cmd->nargs] = i - s;
        }
        if (cmd->nargs < 3)
            cmd->nargs++;
    }
    for (size_t k = 0; k < len; k++) {
        if (line[k] == '\0' || line[k] == '\r' || line[k] == '\n') {
            *err = "control character in command";
            return -1;
        }
    }
    return 0;
}

long pop3_number(const char *s, size_t n)
{
    long v = 0;
    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 0x7fffffffL ? v : -1;
}
