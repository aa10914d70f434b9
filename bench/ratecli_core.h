/* bench/ratecli_core.h — the parts of bench/ratecli that touch no socket, so
 * tests/unit/test_ratecli.c can check them byte by byte: the HTTP/1.1
 * response reader, the latency record and its percentiles, the send
 * schedule, the URL, and the one line of output bench/run parses.
 *
 * The response reader is a resumable state machine (bytes in, bytes consumed
 * out, the state in struct rcc_resp): the head is gathered up to
 * RCC_HEAD_MAX bytes, then the body is skipped by Content-Length, by chunked
 * framing (sizes, extensions, data, trailers) or, with neither, up to the
 * close of the connection (RFC 9112 section 6.3: 1xx, 204 and 304 have no
 * body; Transfer-Encoding wins over Content-Length; a final coding other
 * than chunked reads to the close). Interim 1xx answers (but 101) are
 * skipped. Input may be cut at any byte. Errors (each returns -1 and a
 * reason through *why): "bad status line", "unexpected 101 Switching
 * Protocols", "header line without a colon", "folded header line",
 * "bad Content-Length", "conflicting Content-Length", "NUL byte in the
 * response head", "response head too long", "bad chunk size", "chunk size
 * too large", "chunk extension too long", "chunk size line not ended by
 * CRLF", "chunk data not followed by CRLF", "trailer line too long",
 * "trailer line not ended by CRLF", and from rcc_resp_eof "connection
 * closed in the response head" / "connection closed in the response body".
 *
 * Percentiles are nearest-rank over every recorded latency: the smallest
 * value with at least num/den of the sample at or below it.
 */
#ifndef ATTO_RATECLI_CORE_H
#define ATTO_RATECLI_CORE_H
#include <stddef.h>
#include <stdint.h>

#define RCC_HEAD_MAX 8192
#define RCC_LINE_MAX 4096              /* a chunk-size or trailer line */

enum rcc_state {
    RCC_HEAD,                          /* gathering the status line and headers */
    RCC_BODY_LEN,                      /* `left` bytes of a Content-Length body */
    RCC_BODY_CLOSE,                    /* everything until the connection closes */
    RCC_CHUNK_SIZE,                    /* hex digits of a chunk size */
    RCC_CHUNK_EXT,                     /* ";ext" after the size, up to CR */
    RCC_CHUNK_SIZE_LF,                 /* the LF ending the size line */
    RCC_CHUNK_DATA,                    /* `left` bytes of chunk data */
    RCC_CHUNK_DATA_CR,                 /* the CRLF after the data */
    RCC_CHUNK_DATA_LF,
    RCC_TRAILER,                       /* start of a trailer line or the final CRLF */
    RCC_TRAILER_LINE,                  /* inside a trailer field line */
    RCC_TRAILER_LINE_LF,
    RCC_TRAILER_END_LF,                /* the LF of the final CRLF */
    RCC_DONE                           /* one whole response read */
};

struct rcc_resp {
    enum rcc_state state;
    int status;                        /* of the final (non-1xx) response */
    int close_after;                   /* the server closes after this answer */
    uint64_t left;                     /* body or chunk bytes still to come */
    size_t line;                       /* bytes of the current chunk-size/trailer line */
    size_t hlen;                       /* head bytes held */
    char head[RCC_HEAD_MAX];
};

void rcc_resp_reset(struct rcc_resp *r);
/* Feed n bytes: returns how many were consumed (fewer than n only when the
 * response ended inside them: state RCC_DONE), or -1 with *why. */
long rcc_resp_feed(struct rcc_resp *r, const char *p, size_t n, const char **why);
/* The peer closed the connection: 1 when that ends the response (a body
 * read to the close), 0 when no byte of a response had come, -1 with *why
 * when the response was cut short. */
int rcc_resp_eof(struct rcc_resp *r, const char **why);

/* Every latency of the measured window, in ns, in an array allocated up
 * front; sorted once at the end. */
struct rcc_lat {
    uint64_t *v;
    size_t n, cap;
};

int rcc_lat_init(struct rcc_lat *l, size_t cap);            /* 0, or -1: no memory */
void rcc_lat_free(struct rcc_lat *l);
int rcc_lat_add(struct rcc_lat *l, uint64_t ns);           /* 0, or -1: full */
void rcc_lat_sort(struct rcc_lat *l);
/* Nearest-rank percentile num/den of a sorted record (num = den: the max); 0
 * when empty. */
uint64_t rcc_lat_pct(const struct rcc_lat *l, unsigned num, unsigned den);

/* Request k of connection idx is due at start + (idx + k * nconn) / rate s:
 * `rate` requests/s spread evenly over the connections. */
struct rcc_sched {
    int64_t start;                     /* ns, the schedule's origin */
    int nconn;
    double rate;
};

int64_t rcc_due(const struct rcc_sched *s, int idx, int64_t k);
/* How many requests of connection idx from index k on are due in [lo, hi). */
uint64_t rcc_due_between(const struct rcc_sched *s, int idx, int64_t k, int64_t lo, int64_t hi);

/* http[s]://HOST[:PORT][/path]; HOST a name or IPv4 literal up to 63 bytes. */
struct rcc_url {
    int tls, port;
    char host[64];
    char path[513];
};

int rcc_url_parse(const char *url, struct rcc_url *u, const char **why);   /* 0 or -1 */
/* The GET request for u into out; its length, or -1 when cap is too small. */
int rcc_request(char *out, size_t cap, const struct rcc_url *u);

/* What a run counted; rcc_format writes the one output line (no newline)
 * and returns whether the achieved rate fell below 95% of the target. */
struct rcc_stats {
    double rate, dur;                  /* target req/s; measured seconds */
    uint64_t sent, errors, non2xx, unsent;
};

int rcc_format(char *out, size_t cap, const struct rcc_stats *st, const struct rcc_lat *l);

#endif
