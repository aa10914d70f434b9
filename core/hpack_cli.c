/*
 * hpack_cli.c — `atto hpack decode|encode`: the HPACK engine on the command line.
 *
 *   decode [--trace] [--table-size N] [HEX...]   each argument, or each stdin
 *       line, is one header block in hex (spaces allowed); blocks share one
 *       decoder. Prints `name: value` lines, a blank line between blocks.
 *       Bad input: "atto hpack: block N: REASON (byte OFF)" and exit 1.
 *   encode [--trace] [--no-huffman]   `name: value` lines on stdin, a blank
 *       line ends a block; one hex line out per block.
 *
 * --trace prints every representation and the dynamic table after each field
 * (RFC 7541 Appendix C style) on stdout, before the block's fields.
 */
#include "core/hpack.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cli_trace(void *ud, const char *line) { printf("| %s\n", line); }

static int cli_usage(void)
{
    fputs("usage: atto hpack decode [--trace] [--table-size N] [HEX...]\n"
          "       atto hpack encode [--trace] [--no-huffman]\n", stderr);
    return 2;
}

static int cli_emit(void *ud, const char *name, size_t nlen, const char *value, size_t vlen, int flags)
{
    buf *out = ud;
    buf_append(out, name, nlen);
    buf_puts(out, ": ");
    buf_append(out, value, vlen);
    buf_puts(out, "\n");
    return 0;
}

/* Hex (whitespace ignored) into bytes; -1 with the offending column. */
static int cli_unhex(const char *hex, buf *bytes, size_t *bad)
{
    int hi = -1;
    buf_reset(bytes);
    for (const char *p = hex; *p; p++) {
        int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
              : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
        if (v < 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            continue;
        if (v < 0) {
            *bad = (size_t)(p - hex);
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            char c = (char)(hi << 4 | v);
            buf_append(bytes, &c, 1);
            hi = -1;
        }
    }
    *bad = strlen(hex);
    return hi < 0 ? 0 : -1;
}

static int cli_decode_one(hpack_dec *d, const char *hex, int n, buf *bytes)
{
    size_t bad, off = 0;
    const char *err = NULL;
    if (cli_unhex(hex, bytes, &bad) < 0) {
        fprintf(stderr, "atto hpack: block %d: not hex (character %zu, or an odd number of digits)\n", n, bad);
        return 1;
    }
    buf out = BUF_INIT;
    int r = hpack_decode_block(d, (const uint8_t *)buf_cstr(bytes), buf_size(bytes), cli_emit, &out, &err, &off);
    if (n > 1)
        putchar('\n');
    fwrite(buf_cstr(&out), 1, buf_size(&out), stdout);
    buf_free(&out);
    if (r != HPACK_OK) {
        fflush(stdout);
        fprintf(stderr, "atto hpack: block %d: %s (byte %zu)\n", n, err ? err : "decoding failed", off);
        return 1;
    }
    return 0;
}

static int cli_decode(int argc, char **argv)
{
    size_t table = 4096;
    int trace = 0, i = 1, n = 0, rc = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--trace"))
            trace = 1;
        else if (!strcmp(argv[i], "--table-size") && i + 1 < argc)
            table = strtoul(argv[++i], NULL, 10);
        else
            return cli_usage();
    }
    hpack_dec d;
    hpack_dec_init(&d, table, 0);
    if (trace)
        d.trace = cli_trace;
    buf bytes = BUF_INIT;
    if (i < argc) {
        for (; i < argc && !rc; i++)
            rc = cli_decode_one(&d, argv[i], ++n, &bytes);
    } else {
        char *line = NULL;
        size_t cap = 0;
        while (!rc && getline(&line, &cap, stdin) > 0)
            if (line[strspn(line, " \t\r\n")])
                rc = cli_decode_one(&d, line, ++n, &bytes);
        free(line);
    }
    buf_free(&bytes);
    hpack_dec_free(&d);
    return rc;
}

static void cli_flush_block(hpack_enc *e, buf *out, int *fields)
{
    if (!*fields && !e->pending)
        return;
    for (size_t i = 0; i < buf_size(out); i++)
        printf("%02x", (uint8_t)buf_head(out)[i]);
    putchar('\n');
    buf_reset(out);
    *fields = 0;
}

static int cli_encode(int argc, char **argv)
{
    hpack_enc e;
    hpack_enc_init(&e, 4096);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--trace")) {
            e.trace = cli_trace;
        } else if (!strcmp(argv[i], "--no-huffman")) {
            e.no_huffman = 1;
        } else {
            hpack_enc_free(&e);
            return cli_usage();
        }
    }
    buf out = BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    int fields = 0, lineno = 0, rc = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!len) {
            cli_flush_block(&e, &out, &fields);
            continue;
        }
        char *colon = strchr(line + 1, ':');   /* skip the ':' of a pseudo-header */
        if (!colon) {
            fprintf(stderr, "atto hpack: line %d: expected `name: value`\n", lineno);
            rc = 1;
            break;
        }
        char *value = colon + 1;
        value += strspn(value, " \t");
        if (!fields)
            hpack_enc_begin_block(&e, &out);
        hpack_encode_field(&e, &out, line, (size_t)(colon - line), value, strlen(value), 0);
        fields++;
    }
    if (!rc)
        cli_flush_block(&e, &out, &fields);
    free(line);
    buf_free(&out);
    hpack_enc_free(&e);
    return rc;
}

int hpack_cli_main(int argc, char **argv)
{
    if (argc < 1)
        return cli_usage();
    if (!strcmp(argv[0], "decode"))
        return cli_decode(argc, argv);
    if (!strcmp(argv[0], "encode"))
        return cli_encode(argc, argv);
    return cli_usage();
}
