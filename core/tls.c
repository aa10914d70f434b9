/*
 * tls.c — atto's TLS connections: OpenSSL 3 without a socket.
 *
 * A tls_conn never touches a socket. conn.c feeds the ciphertext it received
 * (tls_conn_feed, into a memory BIO), then calls tls_conn_read, which
 * advances the handshake, decrypts every complete record into `plain` and
 * sends every byte OpenSSL wants to send (handshake flights, tickets,
 * alerts) to `cipher_out`. Plaintext written before the handshake is over
 * waits in `pending` and goes out from the tls_conn_read that completes the
 * handshake.
 *
 * Output takes one copy after encryption, not two: the write BIO is atto's
 * own (tls_out), whose write callback appends each record OpenSSL hands it
 * straight to the buf of the call in progress (t->out, set on entry to every
 * call that can make OpenSSL write and cleared on exit). A memory BIO would
 * keep the record and need a second copy into cipher_out. Should OpenSSL
 * ever write while no call is running, the bytes wait in t->stash and lead
 * the next call's output, so nothing is lost or reordered.
 *
 * Record sizing: the first bytes of a burst go out in records that fit one
 * TCP segment (time to first byte), the rest in full records.
 *
 * Buffers: OpenSSL keeps a ~17 KiB read and a ~17 KiB write buffer per
 * connection. With SSL_MODE_RELEASE_BUFFERS it would free and allocate them
 * around every record (a tenth of a small TLS request's cost), so a busy
 * connection keeps them and tls_conn_trim(), called by conn.c's once-a-
 * second sweep, gives them back after a quiet second: idle connections
 * still hold none.
 *
 * The shared context (certificates, policy) is tls_ctx.c; resumption across
 * worker processes (ticket keys, the session-id store) is tls_keys.c.
 */
#include "core/tls_impl.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>

#define TLS_READ_CHUNK 16384

struct tls_conn {
    SSL       *ssl;
    BIO       *rbio;          /* memory BIO of received ciphertext; owned by ssl */
    buf       *out;           /* where OpenSSL's output goes during a call; else NULL */
    buf        stash;         /* output made between calls: leads the next call's */
    tls_ctx   *ctx;
    tls_certs *certs;         /* the set SNI chooses from; dropped after the handshake */
    buf        pending;       /* plaintext written before the handshake finished */
    int        offer_h2;
    int        done;
    int        failed;
    uint64_t   burst;         /* bytes sent since the connection last went idle */
    uint64_t   last_write_ms;
    uint64_t   last_io_ms;    /* for tls_conn_trim */
    int        held;          /* record buffers may be allocated */
    char       errbuf[128];
};

/* ---- the output BIO ---- */

static BIO_METHOD *tls_out_meth;
static pthread_once_t tls_out_once = PTHREAD_ONCE_INIT;

static int tls_out_write(BIO *b, const char *data, size_t len, size_t *written)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!t)
        return 0;
    buf_append(t->out ? t->out : &t->stash, data, len);
    *written = len;
    return 1;
}

/* Written bytes are already in a buf: nothing pends, a flush is done. */
static long tls_out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_EOF:
        return 0;
    case BIO_CTRL_GET_CLOSE:
        return BIO_get_shutdown(b);
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(b, (int)num);
        return 1;
    default:
        return 0;   /* unsupported: duplication, kTLS, chains */
    }
}

static int tls_out_create(BIO *b)
{
    BIO_set_data(b, NULL);
    BIO_set_init(b, 1);
    return 1;
}

static int tls_out_destroy(BIO *b)
{
    BIO_set_data(b, NULL);
    BIO_set_init(b, 0);
    return 1;
}

static void tls_out_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "atto tls out");
    if (m && BIO_meth_set_write_ex(m, tls_out_write) && BIO_meth_set_ctrl(m, tls_out_ctrl) &&
        BIO_meth_set_create(m, tls_out_create) && BIO_meth_set_destroy(m, tls_out_destroy)) {
        tls_out_meth = m;   /* kept for the life of the process */
        return;
    }
    BIO_meth_free(m);
}

/* A new output BIO for t (made once per process: the method). */
static BIO *tls_out_new(tls_conn *t)
{
    pthread_once(&tls_out_once, tls_out_make);
    BIO *b = tls_out_meth ? BIO_new(tls_out_meth) : NULL;
    if (b)
        BIO_set_data(b, t);
    return b;
}

/* On entry to a call: OpenSSL's output goes to `to`, after anything stashed. */
static void tls_out_begin(tls_conn *t, buf *to)
{
    if (buf_size(&t->stash) > 0) {
        buf_append(to, buf_head(&t->stash), buf_size(&t->stash));
        buf_free(&t->stash);
    }
    t->out = to;
}

static void tls_out_end(tls_conn *t)
{
    t->out = NULL;
}

/* ---- SNI and ALPN ---- */

static int tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
    tls_conn *t = SSL_get_app_data(ssl);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!t || !t->certs || !name)
        return SSL_TLSEXT_ERR_OK;
    SSL_CTX *sc = tls_certs_lookup(t->certs, name);
    if (sc && sc != SSL_get_SSL_CTX(ssl))
        SSL_set_SSL_CTX(ssl, sc);
    return SSL_TLSEXT_ERR_OK;
}

/* ALPN: with offer_h2, "h2" if offered, else "http/1.1"; without, only
 * "http/1.1". No match: carry on without ALPN. */
static int tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    tls_conn *t = SSL_get_app_data(ssl);
    const unsigned char *h11 = NULL;
    for (unsigned int i = 0; i < inlen; i += 1 + in[i]) {
        unsigned int n = in[i];
        if (i + 1 + n > inlen)
            break;
        if (t && t->offer_h2 && n == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
        if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0)
            h11 = in + i + 1;
    }
    if (!h11)
        return SSL_TLSEXT_ERR_NOACK;
    *out = h11;
    *outlen = 8;
    return SSL_TLSEXT_ERR_OK;
}

void tls_conn_setup(SSL_CTX *sc)
{
    SSL_CTX_set_tlsext_servername_callback(sc, tls_sni_cb);
    SSL_CTX_set_alpn_select_cb(sc, tls_alpn_cb, NULL);
}

/* ---- connections ---- */

tls_conn *tls_conn_new(tls_ctx *ctx, int offer_h2)
{
    tls_conn *t = calloc(1, sizeof *t);
    BIO *wbio = NULL;
    if (!t)
        return NULL;
    t->ctx = ctx;
    t->offer_h2 = offer_h2;
    t->certs = tls_certs_take(ctx);
    t->ssl = SSL_new(t->certs->def);
    t->rbio = BIO_new(BIO_s_mem());
    wbio = tls_out_new(t);
    if (!t->ssl || !t->rbio || !wbio)
        goto fail;
    BIO_set_mem_eof_return(t->rbio, -1);   /* empty means "wait", not EOF */
    SSL_set_bio(t->ssl, t->rbio, wbio);
    SSL_set_app_data(t->ssl, t);
    SSL_set_accept_state(t->ssl);
    return t;
fail:
    BIO_free(t->rbio);
    BIO_free(wbio);
    SSL_free(t->ssl);
    tls_certs_release(t->certs);
    free(t);
    ERR_clear_error();
    return NULL;
}

void tls_conn_free(tls_conn *t)
{
    if (!t)
        return;
    /* A connection that simply ends (most browsers never send close_notify)
     * keeps its session resumable; only a failed one is forgotten. */
    if (t->done && !t->failed)
        SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(t->ssl);
    tls_certs_release(t->certs);
    OPENSSL_cleanse(t->pending.data, t->pending.cap);
    buf_free(&t->pending);
    buf_free(&t->stash);
    free(t);
}

void tls_conn_feed(tls_conn *t, const char *data, size_t len)
{
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        int w = BIO_write(t->rbio, data, n);
        if (w <= 0)
            return;   /* mem BIO out of memory; the handshake/read will fail */
        data += w;
        len -= (size_t)w;
    }
}

/* OpenSSL's error queue must be empty before a call whose outcome is read
 * with SSL_get_error(); clearing an empty queue still costs ~800
 * instructions, a look costs a tenth of that. */
static void tls_clear_errors(void)
{
    if (ERR_peek_error())
        ERR_clear_error();
}

/* The alert OpenSSL made, if any, is already in the call's output. */
static int tls_fail(tls_conn *t, const char *reason, const char **err)
{
    if (!t->failed) {
        snprintf(t->errbuf, sizeof t->errbuf, "%s", reason);
        t->failed = 1;
    }
    ERR_clear_error();
    buf_free(&t->pending);
    if (err)
        *err = t->errbuf;
    return TLS_ERR;
}

/* ---- record sizing ----
 * A 16 KiB record can be decrypted only once all of it has arrived: at the
 * start of a burst (a new connection, or one idle for a second) that is a
 * dozen TCP segments and, on a cold congestion window, extra round trips
 * before the browser sees its first byte. So the first TLS_SMALL_BURST
 * bytes of a burst go out in records that fit one segment; after that,
 * full records (fewer bytes and cycles per byte). */
#define TLS_SMALL_RECORD 1300
#define TLS_SMALL_BURST  (64 * 1024)
#define TLS_IDLE_MS      1000

static uint64_t tls_now_ms_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
static uint64_t (*tls_now_ms)(void) = tls_now_ms_real;   /* tests fake it */

/* Room in t->out for the records of len bytes (header, nonce, tag and
 * content type: under TLS_RECORD_OVERHEAD each), so that a large write
 * grows the buf once instead of doubling it record by record, copying it
 * all again each time. */
#define TLS_RECORD_OVERHEAD 32
static void tls_out_reserve(tls_conn *t, size_t len)
{
    size_t small = 0;
    if (t->burst < TLS_SMALL_BURST)
        small = len < TLS_SMALL_BURST - t->burst ? len : TLS_SMALL_BURST - t->burst;
    size_t records = small / TLS_SMALL_RECORD + (len - small) / 16384 + 2;
    buf_reserve(t->out, len + records * TLS_RECORD_OVERHEAD);
}

/* SSL_write all of data into t->out; with our BIOs a write never
 * half-succeeds. */
static int tls_encrypt(tls_conn *t, const void *data, size_t len, const char **err)
{
    const char *p = data;
    uint64_t now = tls_now_ms();
    if (now - t->last_write_ms >= TLS_IDLE_MS)
        t->burst = 0;
    t->last_write_ms = t->last_io_ms = now;
    tls_out_reserve(t, len);
    while (len > 0) {
        size_t w = 0, n = len;
        if (t->burst < TLS_SMALL_BURST && n > TLS_SMALL_RECORD)
            n = TLS_SMALL_RECORD;
        if (SSL_write_ex(t->ssl, p, n, &w) != 1) {
            int e = SSL_get_error(t->ssl, 0);
            return tls_fail(t, e == SSL_ERROR_SSL ? tls_reason() : "TLS write failed", err);
        }
        p += w;
        len -= w;
        t->burst += w;
    }
    return TLS_OK;
}

static int tls_handshake(tls_conn *t, const char **err)
{
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return TLS_OK;
        if (e == SSL_ERROR_ZERO_RETURN)
            return TLS_CLOSED;
        return tls_fail(t, e == SSL_ERROR_SSL ? tls_reason() : "TLS handshake failed", err);
    }
    t->done = 1;
    tls_certs_release(t->certs);   /* SNI is decided; the SSL keeps its SSL_CTX */
    t->certs = NULL;
    if (buf_size(&t->pending) > 0) {
        r = tls_encrypt(t, buf_head(&t->pending), buf_size(&t->pending), err);
        OPENSSL_cleanse(t->pending.data, t->pending.cap);
        buf_free(&t->pending);
        return r;
    }
    return TLS_OK;
}

static int tls_read(tls_conn *t, buf *plain, const char **err)
{
    if (t->failed)
        return tls_fail(t, t->errbuf, err);
    tls_clear_errors();
    int r = TLS_OK;
    if (!t->done && (r = tls_handshake(t, err)) != TLS_OK)
        return r;
    while (t->done) {
        size_t n = 0;
        if (SSL_read_ex(t->ssl, buf_tail(plain, TLS_READ_CHUNK), TLS_READ_CHUNK, &n) == 1) {
            buf_commit(plain, n);
            /* nothing left to decrypt: spare the call that would say so */
            if (!SSL_has_pending(t->ssl) && BIO_ctrl_pending(t->rbio) == 0)
                break;
            continue;
        }
        int e = SSL_get_error(t->ssl, 0);
        if (e == SSL_ERROR_ZERO_RETURN)
            return TLS_CLOSED;
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return tls_fail(t, e == SSL_ERROR_SSL ? tls_reason() : "TLS read failed", err);
        break;
    }
    return TLS_OK;
}

int tls_conn_read(tls_conn *t, buf *plain, buf *cipher_out, const char **err)
{
    t->held = 1;
    t->last_io_ms = tls_now_ms();
    tls_out_begin(t, cipher_out);
    int r = tls_read(t, plain, err);
    tls_out_end(t);
    return r;
}

int tls_conn_write(tls_conn *t, const void *data, size_t len, buf *cipher_out, const char **err)
{
    if (t->failed)
        return tls_fail(t, t->errbuf, err);
    if (!t->done) {
        buf_append(&t->pending, data, len);
        return TLS_OK;
    }
    tls_clear_errors();
    t->held = 1;              /* tls_encrypt stamps last_io_ms */
    tls_out_begin(t, cipher_out);
    int r = tls_encrypt(t, data, len, err);
    tls_out_end(t);
    return r;
}

void tls_conn_shutdown(tls_conn *t, buf *cipher_out)
{
    tls_out_begin(t, cipher_out);
    if (t->done && !t->failed) {
        ERR_clear_error();
        SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    tls_out_end(t);
}

int tls_conn_trim(tls_conn *t, uint64_t idle_ms)
{
    if (!t->held)
        return 0;
    if (!t->done || t->failed || tls_now_ms() - t->last_io_ms < idle_ms)
        return 1;
    if (SSL_has_pending(t->ssl) || BIO_ctrl_pending(t->rbio) || !SSL_free_buffers(t->ssl))
        return 1;             /* half a record still waits: next time */
    BIO *fresh = BIO_new(BIO_s_mem());
    if (fresh) {              /* the old input BIO keeps its largest size */
        BIO_set_mem_eof_return(fresh, -1);
        SSL_set0_rbio(t->ssl, fresh);
        t->rbio = fresh;
    }
    t->held = 0;
    return 0;
}

int tls_conn_holds(const tls_conn *t)
{
    return t->held;
}

int tls_conn_handshake_done(const tls_conn *t)
{
    return t->done;
}

const char *tls_conn_alpn(const tls_conn *t)
{
    const unsigned char *p;
    unsigned int n;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    if (n == 2 && memcmp(p, "h2", 2) == 0)
        return "h2";
    if (n == 8 && memcmp(p, "http/1.1", 8) == 0)
        return "http/1.1";
    return NULL;
}

const char *tls_conn_sni(const tls_conn *t)
{
    return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
}

/* A TLS record starts with a content type 20..24 (ClientHello: 0x16) and an
 * SSLv2-style hello with a byte >= 0x80; an HTTP request starts with an
 * upper-case method token and a space ("GET ", "PRI * HTTP/2.0"). Fewer bytes
 * than a whole token: letters so far are enough, a TLS record cannot begin
 * with one. */
int tls_looks_like_http(const char *data, size_t len)
{
    size_t i;
    for (i = 0; i < len && i < 20; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == ' ')
            return i > 0;
        if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return 0;
    }
    return i > 0 && i == len;   /* all letters, no space yet */
}
