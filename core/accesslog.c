/*
 * accesslog.c — combined-format access log; see accesslog.h.
 */
#include "core/accesslog.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/conn.h"

static int log_fd = -1;

int accesslog_open(const char *path, char *err, size_t errlen)
{
    if (!path)
        return 0;
    if (strcmp(path, "-") == 0) {
        log_fd = STDOUT_FILENO;
        return 0;
    }
    log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        snprintf(err, errlen, "cannot open the access log %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Copy a header value for a quoted log field, escaping quotes and controls. */
static size_t log_field(char *out, size_t cap, const http_hdr *h)
{
    if (!h || !h->value_len) {
        out[0] = '-';
        return 1;
    }
    size_t j = 0;
    for (size_t i = 0; i < h->value_len && j + 4 < cap; i++) {
        unsigned char c = (unsigned char)h->value[i];
        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
            j += (size_t)snprintf(out + j, cap - j, "\\x%02x", c);
        else
            out[j++] = (char)c;
    }
    return j;
}

void accesslog_request(const http_req *r, uint64_t body_bytes)
{
    if (log_fd < 0)
        return;
    char when[64], ref[512], ua[512], line[4096];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    size_t rl = log_field(ref, sizeof ref, http_find(r, "referer"));
    size_t ul = log_field(ua, sizeof ua, http_find(r, "user-agent"));
    int tl = r->target_len > 2048 ? 2048 : (int)r->target_len;
    int n = snprintf(line, sizeof line, "%s - - [%s] \"%.*s %.*s %s\" %d %llu \"%.*s\" \"%.*s\"\n",
                     r->c ? r->c->remote_addr : "-", when, (int)r->method_len, r->method, tl,
                     r->target, r->protocol, r->status, (unsigned long long)body_bytes,
                     (int)rl, ref, (int)ul, ua);
    if (n > 0)
        (void)!write(log_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
