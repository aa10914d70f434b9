/*
 * tls.h — atto's TLS layer: OpenSSL 3 driven through BIOs in memory.
 *
 * No sockets and no libuv here: conn.c feeds ciphertext in with
 * tls_conn_feed() (a memory BIO), pulls plaintext out with tls_conn_read(),
 * pushes plaintext in with tls_conn_write(), and ships whatever ciphertext
 * the engine produced: OpenSSL's records are appended straight to the
 * caller's buf by atto's own write BIO (core/tls.c), one copy each. The same engine serves HTTPS (with ALPN
 * h2/http/1.1), implicit-TLS mail ports and STARTTLS upgrades.
 *
 * One tls_ctx per server, made by the master before it forks the worker
 * processes; each worker uses its inherited copy. What must agree across
 * workers does without per-process state: ticket keys are derived from one
 * secret and the rotation period, and the TLS 1.2 session-id cache lives in
 * shared memory (core/shmkv.h). tls_ctx_reload() swaps certificates in place
 * for new connections (SIGHUP, in each worker) and keeps the old ones on
 * error.
 */
#ifndef ATTO_TLS_H
#define ATTO_TLS_H
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

typedef struct tls_cert_cfg {
    const char *host;   /* SNI name; NULL for the default certificate */
    const char *cert;   /* PEM chain file */
    const char *key;    /* PEM private key file */
} tls_cert_cfg;

/* Results of tls_conn_read/tls_conn_write. */
enum {
    TLS_OK = 0,          /* progress made (maybe nothing to read yet) */
    TLS_CLOSED = 1,      /* peer sent close_notify */
    TLS_ERR = -1,        /* fatal: handshake failure, bad record; *err says why */
};

/* Make the dev certificate SITE/.atto/cert.pem + key.pem (self-signed for
 * localhost, 127.0.0.1, ::1; key mode 0600) unless both exist already.
 * Fills cert_path/key_path. Returns 0, or -1 with a message in err. */
int  tls_dev_cert(const char *site_dir, char *cert_path, size_t cert_len,
                  char *key_path, size_t key_len, char *err, size_t errlen);

/* certs[0] with host == NULL is the default. Returns NULL with err filled
 * (naming the file and what is wrong) on failure. */
tls_ctx *tls_ctx_new(const tls_cert_cfg *certs, size_t ncerts, char *err, size_t errlen);
int  tls_ctx_reload(tls_ctx *ctx, const tls_cert_cfg *certs, size_t ncerts, char *err, size_t errlen);
void tls_ctx_free(tls_ctx *ctx);

/* alpn: offer "h2,http/1.1" (HTTPS listeners) or nothing (mail). */
tls_conn *tls_conn_new(tls_ctx *ctx, int offer_h2);
void tls_conn_free(tls_conn *t);

/* Ciphertext from the network. */
void tls_conn_feed(tls_conn *t, const char *data, size_t len);
/* Advance the handshake and decrypt: plaintext appended to `plain`, bytes to
 * send appended to `cipher_out`. */
int  tls_conn_read(tls_conn *t, buf *plain, buf *cipher_out, const char **err);
/* Encrypt plaintext; records appended to cipher_out. */
int  tls_conn_write(tls_conn *t, const void *data, size_t len, buf *cipher_out, const char **err);
/* close_notify appended to cipher_out. */
void tls_conn_shutdown(tls_conn *t, buf *cipher_out);
/* A busy connection keeps OpenSSL's record buffers (~34 KiB) between
 * records instead of a malloc and free of each per record; this gives them
 * (and the input BIO's memory) back once the connection has been quiet for
 * idle_ms. Returns 1 while it still holds them, 0 when there is nothing to
 * give back. Cheap enough to call for every connection once a second. */
int  tls_conn_trim(tls_conn *t, uint64_t idle_ms);
int  tls_conn_holds(const tls_conn *t);   /* may hold them (I/O since the last trim) */

int  tls_conn_handshake_done(const tls_conn *t);
const char *tls_conn_alpn(const tls_conn *t);  /* "h2", "http/1.1" or NULL */
const char *tls_conn_sni(const tls_conn *t);
/* Did the first bytes look like plaintext HTTP rather than a TLS record?
 * (conn.c answers those with a short 400 explaining this is a TLS port.) */
int  tls_looks_like_http(const char *data, size_t len);
#endif
