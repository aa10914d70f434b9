/*
 * buf.c — growable byte buffer; see buf.h for the contract.
 */
#include "core/buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

void buf_reserve(buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    if (b->off && b->cap - (b->len - b->off) >= extra && b->off >= b->len / 2) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        return;
    }
    size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        fputs("atto: out of memory\n", stderr);
        abort();
    }
    b->data = p;
    b->cap = cap;
}

char *buf_tail(buf *b, size_t extra)
{
    buf_reserve(b, extra);
    return b->data + b->len;
}

void buf_commit(buf *b, size_t n) { b->len += n; }

void buf_append(buf *b, const void *p, size_t n)
{
    if (!n)
        return;
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_puts(buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        buf_append(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_consume(buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void buf_reset(buf *b) { b->off = b->len = 0; }

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

char *buf_cstr(buf *b)
{
    buf_reserve(b, 1);
    b->data[b->len] = 0;
    return b->data + b->off;
}

/* ---- the per-thread block pool ------------------------------------------ */

#define BUF_POOL_MAX 4096   /* blocks kept per thread: 2 MiB */
static _Thread_local char *buf_pool_blocks[BUF_POOL_MAX];
static _Thread_local int buf_pool_n;

void buf_pool_take(buf *b)
{
    if (b->data)
        return;
    char *p = buf_pool_n ? buf_pool_blocks[--buf_pool_n] : malloc(BUF_POOL_BLOCK);
    if (!p) {
        fputs("atto: out of memory\n", stderr);
        abort();
    }
    b->data = p;
    b->cap = BUF_POOL_BLOCK;
    b->off = b->len = 0;
}

void buf_pool_give(buf *b)
{
    if (!b->data || buf_size(b))
        return;
    if (b->cap == BUF_POOL_BLOCK && buf_pool_n < BUF_POOL_MAX)
        buf_pool_blocks[buf_pool_n++] = b->data;
    else
        free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

void buf_pool_thread_done(void)
{
    while (buf_pool_n)
        free(buf_pool_blocks[--buf_pool_n]);
}

size_t buf_read_full(int fd, char *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, dst + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}
