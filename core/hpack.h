/*
 * hpack.h — atto's HPACK engine (RFC 7541): header compression for HTTP/2.
 *
 * Pure code: bytes in, fields out (decoder) and fields in, bytes out
 * (encoder); no I/O. Each direction of an HTTP/2 connection owns one context.
 * The dynamic table is a ring of entry descriptors over a byte ring twice the
 * table limit, so every name and value sits contiguously and entries are
 * added and evicted without allocating (RFC 7541 §4: entry size is
 * name + value + 32, FIFO eviction).
 *
 * Errors (negative returns of hpack_decode_block):
 *   HPACK_ERR_COMPRESSION            malformed block; the connection must end
 *                                    with COMPRESSION_ERROR (RFC 9113 §4.3).
 *                                    *err names the fault, *err_off the byte.
 *   HPACK_ERR_HEADER_LIST_TOO_LARGE  the decoded list exceeds max_list. The
 *                                    whole block was still decoded, so the
 *                                    dynamic table stays in sync and the
 *                                    connection may carry on (answer 431);
 *                                    fields past the limit were not emitted.
 *   any non-zero return of emit      decoding stopped there (table may be
 *                                    out of sync: treat as fatal).
 */
#ifndef ATTO_HPACK_H
#define ATTO_HPACK_H
#include "core/buf.h"
#include <stddef.h>
#include <stdint.h>

enum { HPACK_OK = 0, HPACK_ERR_COMPRESSION = -1, HPACK_ERR_HEADER_LIST_TOO_LARGE = -2 };
#define HPACK_NEVER_INDEXED 1   /* field flag: decoded as / encode as never-indexed */

/* Optional tracing: one human-readable line per call (no newline). */
typedef void (*hpack_trace_fn)(void *ud, const char *line);

typedef struct hpack_entry {
    uint32_t off;                 /* name at data[off], value right after */
    uint32_t name_len, value_len;
    uint32_t name_hash;           /* encoder only: hpack name hash */
    uint32_t next;                /* encoder only: id of the next older entry in its bucket */
} hpack_entry;

typedef struct hpack_table {
    hpack_entry *ent;             /* ring of descriptors, newest at the head */
    size_t       ent_cap;         /* power of two */
    size_t       first, count;    /* ring index of the oldest entry; live entries */
    uint32_t     inserted;        /* entries ever added; entry id X sits at ent[X % ent_cap] */
    char        *data;            /* byte ring of 2 * limit bytes */
    size_t       data_cap, data_head, data_tail, data_wrap; /* live bytes [head, tail) or [head, wrap) + [0, tail) */
    size_t       size;            /* RFC size: sum of name + value + 32 */
    size_t       max_size;        /* current maximum (after size updates) */
    size_t       limit;           /* the most max_size may ever be (memory bound) */
    uint32_t     gen;             /* bumped by every change (add, evict, resize): an
                                     encoder's output for the same fields is the same
                                     while gen is (callers may cache a block) */
} hpack_table;

typedef struct hpack_dec {
    hpack_table    table;
    size_t         max_list;      /* 0 = unlimited */
    size_t         settings_size; /* our SETTINGS_HEADER_TABLE_SIZE */
    size_t         pending_min;   /* a lowered setting the next block must acknowledge; SIZE_MAX if none */
    buf            scratch;       /* Huffman-decoded strings */
    hpack_trace_fn trace;         /* optional */
    void          *trace_ud;
    char           err_buf[96];   /* the formatted reason *err points at */
} hpack_dec;

typedef struct hpack_enc {
    hpack_table    table;
    size_t         pending_min;   /* smallest size to announce since the last block */
    size_t         next_size;     /* the size to announce last */
    int            pending;       /* a size update is due at the next block */
    uint32_t       bucket[256];   /* name hash -> id of the newest entry with it */
    int            no_huffman;    /* set to 1 to send every string raw */
    int            no_auto_sensitive; /* 1: never-index only on HPACK_NEVER_INDEXED
                                         (the RFC 7541 C.5 examples index set-cookie) */
    hpack_trace_fn trace;         /* optional */
    void          *trace_ud;
} hpack_enc;

/* max_table_size: our SETTINGS_HEADER_TABLE_SIZE (the most the peer may use);
 * max_list: SETTINGS_MAX_HEADER_LIST_SIZE (name+value+32 per field, RFC 9113
 * §6.5.2), 0 = unlimited. */
void hpack_dec_init(hpack_dec *d, size_t max_table_size, size_t max_list);
void hpack_dec_free(hpack_dec *d);
/* Our SETTINGS_HEADER_TABLE_SIZE changed (after the peer ACKed it). When it
 * shrinks below the table's size, the next block must start with a size
 * update no larger than it, or decoding fails. */
void hpack_dec_set_max_table_size(hpack_dec *d, size_t max_table_size);

typedef int (*hpack_emit_fn)(void *ud, const char *name, size_t name_len,
                             const char *value, size_t value_len, int flags);
/* Decode one complete header block. Calls emit per field (a non-zero return
 * from emit stops decoding and is returned). Returns HPACK_OK or a negative
 * error; *err gets a human reason ("index 70 out of range"), *err_off the
 * byte offset. Strings passed to emit are valid only during the call. */
int  hpack_decode_block(hpack_dec *d, const uint8_t *in, size_t len,
                        hpack_emit_fn emit, void *ud, const char **err, size_t *err_off);

/* max_table_size: the initial peer SETTINGS_HEADER_TABLE_SIZE (4096), and the
 * most this encoder will ever use whatever the peer allows (memory bound). */
void hpack_enc_init(hpack_enc *e, size_t max_table_size);
void hpack_enc_free(hpack_enc *e);
/* The peer's SETTINGS_HEADER_TABLE_SIZE changed: a size update is emitted at
 * the start of the next block. */
void hpack_enc_set_peer_table_size(hpack_enc *e, size_t size);
void hpack_enc_begin_block(hpack_enc *e, buf *out);   /* emits pending size updates */
/* Appends one field. flags: HPACK_NEVER_INDEXED. authorization,
 * proxy-authorization, set-cookie and cookies under 20 bytes are always sent
 * never-indexed. Names must be lowercase (HTTP/2 requires it). */
void hpack_encode_field(hpack_enc *e, buf *out, const char *name, size_t name_len,
                        const char *value, size_t value_len, int flags);

/* The static table (RFC 7541 Appendix A), index 1..61. */
#define HPACK_STATIC_COUNT 61

/* Dump the dynamic table through a trace function, RFC 7541 Appendix C style. */
void hpack_table_trace(const hpack_table *t, hpack_trace_fn trace, void *ud);

/* `atto hpack decode|encode ...`; argv[0] is the subcommand. Returns the exit code. */
int  hpack_cli_main(int argc, char **argv);
#endif
