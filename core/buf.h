/*
 * buf.h — a growable byte buffer with one owner.
 *
 * The workhorse of every protocol driver: read buffers, output queues and
 * scratch space. Data lives in [data + off, data + len); consuming from the
 * front only moves `off`, and the buffer compacts itself lazily when it needs
 * room, so a connection reuses one allocation for its whole life.
 * Allocation failure aborts (a server that cannot allocate 16 KiB is done).
 */
#ifndef ATTO_BUF_H
#define ATTO_BUF_H
#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char  *data;
    size_t off;   /* first unread byte */
    size_t len;   /* end of valid bytes */
    size_t cap;
} buf;

#define BUF_INIT {NULL, 0, 0, 0}

static inline size_t buf_size(const buf *b) { return b->len - b->off; }
static inline char  *buf_head(const buf *b) { return b->data ? b->data + b->off : (char *)""; }

void  buf_reserve(buf *b, size_t extra);          /* room for `extra` more bytes at the end */
char *buf_tail(buf *b, size_t extra);             /* reserve, then return the write pointer */
void  buf_commit(buf *b, size_t n);               /* n bytes written at buf_tail() */
void  buf_append(buf *b, const void *p, size_t n);
void  buf_puts(buf *b, const char *s);
void  buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void  buf_consume(buf *b, size_t n);              /* drop n bytes from the front */
void  buf_reset(buf *b);                          /* empty, keep the memory */
void  buf_free(buf *b);                           /* empty, release the memory */
char *buf_cstr(buf *b);                           /* NUL-terminate (not counted) and return head */
/* Read n bytes from fd into dst, retrying short reads and EINTR; returns
 * how many arrived (fewer at the end of the file or on an error). */
size_t buf_read_full(int fd, char *dst, size_t n);

/* A per-thread pool of small blocks for buffers that come and go with each
 * request on a keep-alive connection: an idle connection gives its empty
 * buffers back, the next request takes one, so idle connections hold no
 * buffer memory and the steady state calls no malloc. */
#define BUF_POOL_BLOCK 512
void  buf_pool_take(buf *b);    /* b empty and unallocated: give it a block */
void  buf_pool_give(buf *b);    /* b empty: its memory goes back (or is freed) */
void  buf_pool_thread_done(void);
#endif
