/*
 * tls.c — atto's TLS engine: OpenSSL 3 behind two memory BIOs.
 *
 * A tls_conn never touches a socket. conn.c feeds the ciphertext it received
 * (tls_conn_feed), then calls tls_conn_read, which advances the handshake,
 * decrypts every complete record into `plain` and moves every byte OpenSSL
 * wants to send (handshake flights, tickets, alerts) into `cipher_out`.
 * Plaintext written before the handshake is over waits in `pending` and goes
 * out from the tls_conn_read that completes the handshake.
 *
 * The tls_ctx is shared by the worker threads of a process (each forked
 * worker process has its own copy). It holds the current certificate set —
 * one SSL_CTX per host (a host may carry an ECDSA and an RSA certificate),
 * one of them the default — behind a mutex, with a reference count: a
 * connection takes a reference when it is created, so a SIGHUP reload swaps
 * in a new set for new connections while open ones finish their handshake
 * with the old one. SNI switches the connection to its host's
 * SSL_CTX in the servername callback (exact name, then `*.parent` wildcard).
 *
 * Resumption works across worker processes forked after tls_ctx_new:
 * - Session tickets (both versions): the keys are not random per process but
 *   derived (HKDF-SHA256) from one secret made in tls_ctx_new and the number
 *   of the current TLS_TICKET_ROTATE-second period, so every process and
 *   every reloaded certificate set encrypts with the same key at the same
 *   time, with no shared memory. A ticket of the previous period still
 *   decrypts and is renewed; older ones are refused, so a stolen period key
 *   exposes at most two periods of sessions (the secret, of course, all).
 *   A TLS 1.3 resumption always gets a fresh ticket, since clients use each
 *   ticket once.
 * - TLS 1.2 session ids (clients without tickets): OpenSSL's external
 *   session cache, kept in a shmkv store (MAP_SHARED, made before the fork)
 *   keyed by session id, holding the DER-encoded session.
 *
 * Errors: reasons come from OpenSSL's (thread-local) error queue, short and
 * human ("wrong version number", "no shared cipher"); configuration errors
 * name the file.
 */
#include "core/tls.h"
#include "core/shmkv.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define TLS_TICKET_ROTATE (4 * 3600)   /* seconds a ticket key encrypts */
#define TLS_SESSION_TIMEOUT TLS_TICKET_ROTATE
#define TLS_SESSION_STORE (4u << 20)  /* bytes of the shared session-id store */
#define TLS_SESSION_CACHE 10000       /* at most this many sessions in it */
#define TLS_SESSION_DER_MAX 4096      /* a larger encoded session is not cached */
#define TLS_READ_CHUNK 16384
#define TLS_CIPHERS_12 \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS "X25519:P-256:P-384"

typedef struct tls_host {
    char    *name;       /* lower case; NULL for the default entry */
    SSL_CTX *sc;
    unsigned keytypes;   /* bit per key type loaded: 1 EC, 2 RSA, 4 other */
} tls_host;

/* One generation of certificates; replaced as a whole by a reload. */
typedef struct tls_certs {
    atomic_int refs;
    shmkv     *sessions; /* the ctx's, given to every SSL_CTX (app data) */
    SSL_CTX   *def;      /* one of hosts[i].sc */
    tls_host  *hosts;
    size_t     nhosts;
} tls_certs;

/* The ticket key of one rotation period, derived from the ctx's secret. */
typedef struct tls_tkey {
    unsigned char name[16], aes[32], hmac[32];
} tls_tkey;

struct tls_ctx {
    pthread_mutex_t mu;        /* guards certs and the key cache */
    tls_certs *certs;
    unsigned char secret[32];  /* made once, before any fork: every process derives the same keys */
    tls_tkey   keys[2];        /* cache: [0] for period `period`, [1] for period - 1 */
    long long  period;         /* -1: cache empty */
    shmkv     *sessions;       /* TLS 1.2 session-id cache, shared across fork */
};

struct tls_conn {
    SSL       *ssl;
    BIO       *rbio, *wbio;   /* owned by ssl */
    tls_ctx   *ctx;
    tls_certs *certs;         /* the set SNI chooses from; dropped after the handshake */
    buf        pending;       /* plaintext written before the handshake finished */
    int        offer_h2;
    int        done;
    int        failed;
    uint64_t   burst;         /* bytes sent since the connection last went idle */
    uint64_t   last_write_ms;
    char       errbuf[128];
};

/* ---- error reasons ---- */

/* The first reason in this thread's OpenSSL error queue (then cleared). */
static const char *tls_reason(void)
{
    const char *r = NULL;
    unsigned long e;
    while ((e = ERR_get_error()) != 0)
        if (!r)
            r = ERR_reason_error_string(e);
    return r ? r : "TLS error";
}

/* ---- certificate sets ---- */

static void tls_certs_release(tls_certs *cs)
{
    if (!cs || atomic_fetch_sub(&cs->refs, 1) != 1)
        return;
    for (size_t i = 0; i < cs->nhosts; i++) {
        free(cs->hosts[i].name);
        SSL_CTX_free(cs->hosts[i].sc);
    }
    free(cs->hosts);
    free(cs);
}

static SSL_CTX *tls_certs_lookup(const tls_certs *cs, const char *name)
{
    for (size_t i = 0; i < cs->nhosts; i++)
        if (cs->hosts[i].name && strcasecmp(cs->hosts[i].name, name) == 0)
            return cs->hosts[i].sc;
    const char *dot = strchr(name, '.');
    if (!dot || dot == name || !dot[1])
        return NULL;
    for (size_t i = 0; i < cs->nhosts; i++) {
        const char *h = cs->hosts[i].name;
        if (h && h[0] == '*' && h[1] == '.' && strcasecmp(h + 1, dot) == 0)
            return cs->hosts[i].sc;
    }
    return NULL;
}

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

/* ---- session ticket keys ---- */

/* The clock the key periods follow; tests move it. */
static time_t tls_clock_real(void)
{
    return time(NULL);
}
static time_t (*tls_clock)(void) = tls_clock_real;

/* The key of period p: HKDF-SHA256(secret, info = label || p) expanded into
 * name/aes/hmac. Deterministic, so worker processes agree without sharing
 * memory; a name reveals nothing about the keys. */
static int tls_tkey_derive(const unsigned char secret[32], long long p, tls_tkey *out)
{
    unsigned char info[26] = "atto ticket key v1";   /* 18 bytes, then p big-endian */
    unsigned char okm[sizeof out->name + sizeof out->aes + sizeof out->hmac];
    for (int i = 0; i < 8; i++)
        info[18 + i] = (unsigned char)((unsigned long long)p >> (56 - 8 * i));
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, 32),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof info),
        OSSL_PARAM_construct_end(),
    };
    int ok = kc && EVP_KDF_derive(kc, okm, sizeof okm, params) == 1;
    if (ok) {
        memcpy(out->name, okm, 16);
        memcpy(out->aes, okm + 16, 32);
        memcpy(out->hmac, okm + 48, 32);
    }
    OPENSSL_cleanse(okm, sizeof okm);
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    return ok ? 0 : -1;
}

/* Under ctx->mu: the cache holds the keys of period p and p - 1. */
static int tls_tkey_refresh(tls_ctx *ctx, long long p)
{
    if (ctx->period == p)
        return 0;
    tls_tkey k[2];
    int r = 0;
    if (ctx->period == p - 1)
        k[1] = ctx->keys[0];
    else
        r = tls_tkey_derive(ctx->secret, p - 1, &k[1]);
    if (r == 0 && (r = tls_tkey_derive(ctx->secret, p, &k[0])) == 0) {
        memcpy(ctx->keys, k, sizeof k);
        ctx->period = p;
    }
    OPENSSL_cleanse(k, sizeof k);
    return r;
}

/* Copy the key to encrypt with (enc: this period's) or the one named `name`
 * (decrypt: this period's or the previous one's). Returns 1 found, 2 found
 * but old (renew the ticket), 0 unknown, -1 error. */
static int tls_tkey_get(tls_ctx *ctx, const unsigned char *name, int enc, tls_tkey *out)
{
    int r = 0;
    pthread_mutex_lock(&ctx->mu);
    if (tls_tkey_refresh(ctx, (long long)(tls_clock() / TLS_TICKET_ROTATE)) < 0) {
        r = -1;
    } else if (enc) {
        *out = ctx->keys[0];
        r = 1;
    } else {
        for (int i = 0; i < 2 && !r; i++)
            if (CRYPTO_memcmp(ctx->keys[i].name, name, 16) == 0) {
                *out = ctx->keys[i];
                r = i == 0 ? 1 : 2;
            }
    }
    pthread_mutex_unlock(&ctx->mu);
    return r;
}

static int tls_ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    tls_conn *t = SSL_get_app_data(ssl);
    tls_tkey k;
    if (!t)
        return -1;
    int r = tls_tkey_get(t->ctx, key_name, enc, &k);
    if (r <= 0)
        return r;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof k.hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    int ok;
    if (enc) {
        memcpy(key_name, k.name, 16);
        ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) == 1 &&
             EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv);
    } else {
        ok = EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv);
    }
    ok = ok && EVP_MAC_CTX_set_params(hctx, params);
    OPENSSL_cleanse(&k, sizeof k);
    /* TLS 1.3 clients use a ticket once (RFC 8446 C.4): always hand out a
     * fresh one on resumption, or every other connection is a full one. */
    if (!enc && r == 1 && SSL_version(ssl) == TLS1_3_VERSION)
        r = 2;
    return ok ? r : -1;
}

/* ---- the TLS 1.2 session-id cache, shared by worker processes ----
 *
 * OpenSSL's internal cache is off (SSL_SESS_CACHE_NO_INTERNAL): a session is
 * stored DER-encoded in the shmkv store under its id, found there by any
 * process, and deleted when OpenSSL gives it up (a fatal alert, a timeout).
 * Since no SSL_CTX holds sessions itself, freeing an old certificate set
 * after a reload removes nothing from the store. */

static int tls_sess_new_cb(SSL *ssl, SSL_SESSION *sess)
{
    shmkv *kv = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    unsigned char der[TLS_SESSION_DER_MAX], *p = der;
    unsigned int idlen = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &idlen);
    const char *why;
    /* TLS 1.3 resumes with stateless tickets only: its ids are dummies. */
    if (!kv || idlen == 0 || SSL_version(ssl) >= TLS1_3_VERSION)
        return 0;
    int n = i2d_SSL_SESSION(sess, NULL);
    /* Not stored (too large, store unavailable): a full handshake next time. */
    if (n > 0 && n <= (int)sizeof der && i2d_SSL_SESSION(sess, &p) == n) {
        (void)shmkv_put(kv, id, idlen, der, (size_t)n, TLS_SESSION_TIMEOUT, TLS_SESSION_CACHE, &why);
        OPENSSL_cleanse(der, (size_t)n);
    }
    return 0;   /* no reference kept */
}

static SSL_SESSION *tls_sess_get_cb(SSL *ssl, const unsigned char *id, int idlen, int *copy)
{
    shmkv *kv = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    SSL_SESSION *sess = NULL;
    size_t n = 0;
    *copy = 0;   /* the caller owns the one reference d2i made */
    unsigned char *der = NULL;
    if (kv && idlen > 0)
        der = shmkv_get(kv, id, (size_t)idlen, TLS_SESSION_TIMEOUT, &n);
    if (!der)
        return NULL;
    const unsigned char *p = der;
    if (n <= TLS_SESSION_DER_MAX && !(sess = d2i_SSL_SESSION(NULL, &p, (long)n)))
        ERR_clear_error();   /* unreadable: a full handshake */
    OPENSSL_cleanse(der, n);
    free(der);
    return sess;
}

static void tls_sess_remove_cb(SSL_CTX *sc, SSL_SESSION *sess)
{
    shmkv *kv = SSL_CTX_get_app_data(sc);
    unsigned int idlen = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &idlen);
    if (kv && idlen > 0)
        shmkv_del(kv, id, idlen);
}

/* ---- loading certificates ---- */

/* Open `path` for reading, refusing what is not a regular file. */
static FILE *tls_open(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    if (!f) {
        snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot read %s %s: not a regular file", what, path);
        fclose(f);
        return NULL;
    }
    return f;
}

/* The leaf certificate and any chain that follows it in the same file. */
static X509 *tls_load_chain(SSL_CTX *sc, const char *path, char *err, size_t errlen)
{
    FILE *f = tls_open("certificate", path, err, errlen);
    if (!f)
        return NULL;
    X509 *leaf = PEM_read_X509_AUX(f, NULL, NULL, NULL), *ca;
    if (!leaf) {
        unsigned long e = ERR_peek_last_error();
        snprintf(err, errlen, "cannot read certificate %s: %s", path,
                 ERR_GET_REASON(e) == PEM_R_NO_START_LINE ? "no PEM certificate in it" : tls_reason());
        goto fail;
    }
    if (SSL_CTX_use_certificate(sc, leaf) != 1) {
        snprintf(err, errlen, "cannot use certificate %s: %s", path, tls_reason());
        goto fail;
    }
    while ((ca = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
        if (SSL_CTX_add0_chain_cert(sc, ca) != 1) {
            X509_free(ca);
            snprintf(err, errlen, "cannot use the chain in %s: %s", path, tls_reason());
            goto fail;
        }
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error();   /* the normal end of the file */
    } else if (e) {
        snprintf(err, errlen, "cannot read the chain in %s: %s", path, tls_reason());
        goto fail;
    }
    fclose(f);
    return leaf;
fail:
    ERR_clear_error();
    X509_free(leaf);
    fclose(f);
    return NULL;
}

static int tls_no_password(char *pw, int size, int rwflag, void *u)
{
    *(int *)u = 1;
    return -1;
}

static EVP_PKEY *tls_load_key(const char *path, char *err, size_t errlen)
{
    FILE *f = tls_open("key", path, err, errlen);
    if (!f)
        return NULL;
    int encrypted = 0;
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, tls_no_password, &encrypted);
    fclose(f);
    if (!pkey)
        snprintf(err, errlen, "cannot read key %s: %s", path,
                 encrypted ? "it is encrypted (atto needs a key without a passphrase)"
                           : "no PEM private key in it");
    ERR_clear_error();
    return pkey;
}

static unsigned tls_keytype(EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "EC"))
        return 1;
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return 2;
    return 4;
}

static int tls_load_pair(tls_host *h, const tls_cert_cfg *c, char *err, size_t errlen)
{
    EVP_PKEY *pkey = NULL;
    X509 *leaf = tls_load_chain(h->sc, c->cert, err, errlen);
    if (!leaf || !(pkey = tls_load_key(c->key, err, errlen)))
        goto fail;
    if (X509_check_private_key(leaf, pkey) != 1) {
        snprintf(err, errlen, "key %s does not match certificate %s", c->key, c->cert);
        goto fail;
    }
    unsigned kt = tls_keytype(pkey);
    if (h->keytypes & kt) {
        snprintf(err, errlen, "certificate %s: %s already has a certificate with this key type",
                 c->cert, h->name ? h->name : "the default host");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey(h->sc, pkey) != 1) {
        snprintf(err, errlen, "cannot use key %s: %s", c->key, tls_reason());
        goto fail;
    }
    h->keytypes |= kt;
    X509_free(leaf);
    EVP_PKEY_free(pkey);
    return 0;
fail:
    ERR_clear_error();
    X509_free(leaf);
    EVP_PKEY_free(pkey);
    return -1;
}

/* A server SSL_CTX with atto's protocol policy and callbacks. */
static SSL_CTX *tls_sslctx_new(shmkv *sessions, char *err, size_t errlen)
{
    static const unsigned char sid_ctx[] = "atto";
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method());
    if (!sc)
        goto fail;
    if (!SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(sc, TLS_CIPHERS_12) ||
        !SSL_CTX_set1_groups_list(sc, TLS_GROUPS) ||
        !SSL_CTX_set_session_id_context(sc, sid_ctx, sizeof sid_ctx - 1))
        goto fail;
    SSL_CTX_set_options(sc, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
                                SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_clear_options(sc, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_set_app_data(sc, sessions);
    SSL_CTX_sess_set_new_cb(sc, tls_sess_new_cb);
    SSL_CTX_sess_set_get_cb(sc, tls_sess_get_cb);
    SSL_CTX_sess_set_remove_cb(sc, tls_sess_remove_cb);
    SSL_CTX_set_timeout(sc, TLS_SESSION_TIMEOUT);
    SSL_CTX_set_tlsext_servername_callback(sc, tls_sni_cb);
    SSL_CTX_set_alpn_select_cb(sc, tls_alpn_cb, NULL);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(sc, tls_ticket_cb);
    return sc;
fail:
    snprintf(err, errlen, "cannot set up TLS: %s", tls_reason());
    SSL_CTX_free(sc);
    return NULL;
}

static int tls_same_host(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcasecmp(a, b) == 0);
}

/* The host entry for c->host, made on first use. */
static tls_host *tls_certs_host(tls_certs *cs, const char *host, char *err, size_t errlen)
{
    for (size_t i = 0; i < cs->nhosts; i++)
        if (tls_same_host(cs->hosts[i].name, host))
            return &cs->hosts[i];
    tls_host *h = &cs->hosts[cs->nhosts];
    if (host && !*host) {
        snprintf(err, errlen, "empty host name in the TLS configuration");
        return NULL;
    }
    if (!(h->sc = tls_sslctx_new(cs->sessions, err, errlen)))
        return NULL;
    h->name = host ? strdup(host) : NULL;
    h->keytypes = 0;
    cs->nhosts++;
    return h;
}

static tls_certs *tls_certs_new(shmkv *sessions, const tls_cert_cfg *certs, size_t n,
                                char *err, size_t errlen)
{
    if (!certs || n == 0) {
        snprintf(err, errlen, "no TLS certificate configured");
        return NULL;
    }
    tls_certs *cs = calloc(1, sizeof *cs);
    if (!cs || !(cs->hosts = calloc(n, sizeof *cs->hosts))) {
        free(cs);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&cs->refs, 1);
    cs->sessions = sessions;
    for (size_t i = 0; i < n; i++) {
        if (!certs[i].cert || !certs[i].key) {
            snprintf(err, errlen, "TLS certificate %zu%s%s needs both cert and key", i + 1,
                     certs[i].host ? " for " : "", certs[i].host ? certs[i].host : "");
            goto fail;
        }
        tls_host *h = tls_certs_host(cs, certs[i].host, err, errlen);
        if (!h || tls_load_pair(h, &certs[i], err, errlen) < 0)
            goto fail;
    }
    cs->def = cs->hosts[0].sc;
    for (size_t i = 0; i < cs->nhosts; i++)
        if (!cs->hosts[i].name)
            cs->def = cs->hosts[i].sc;
    return cs;
fail:
    tls_certs_release(cs);
    return NULL;
}

/* ---- the shared context ---- */

tls_ctx *tls_ctx_new(const tls_cert_cfg *certs, size_t ncerts, char *err, size_t errlen)
{
    char why[128];
    tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ERR_clear_error();
    ctx->period = -1;
    if (RAND_bytes(ctx->secret, sizeof ctx->secret) != 1) {
        snprintf(err, errlen, "cannot make the session ticket secret: %s", tls_reason());
        goto fail;
    }
    if (!(ctx->sessions = shmkv_new(TLS_SESSION_STORE, TLS_SESSION_DER_MAX, why, sizeof why))) {
        snprintf(err, errlen, "cannot make the TLS session cache: %s", why);
        goto fail;
    }
    if (!(ctx->certs = tls_certs_new(ctx->sessions, certs, ncerts, err, errlen)))
        goto fail;
    pthread_mutex_init(&ctx->mu, NULL);
    return ctx;
fail:
    shmkv_free(ctx->sessions);
    OPENSSL_cleanse(ctx->secret, sizeof ctx->secret);
    free(ctx);
    return NULL;
}

int tls_ctx_reload(tls_ctx *ctx, const tls_cert_cfg *certs, size_t ncerts, char *err, size_t errlen)
{
    ERR_clear_error();
    tls_certs *fresh = tls_certs_new(ctx->sessions, certs, ncerts, err, errlen), *old;
    if (!fresh)
        return -1;
    pthread_mutex_lock(&ctx->mu);
    old = ctx->certs;
    ctx->certs = fresh;
    pthread_mutex_unlock(&ctx->mu);
    tls_certs_release(old);
    return 0;
}

void tls_ctx_free(tls_ctx *ctx)
{
    if (!ctx)
        return;
    tls_certs_release(ctx->certs);
    shmkv_free(ctx->sessions);
    OPENSSL_cleanse(ctx->secret, sizeof ctx->secret);
    OPENSSL_cleanse(ctx->keys, sizeof ctx->keys);
    pthread_mutex_destroy(&ctx->mu);
    free(ctx);
}

/* ---- connections ---- */

tls_conn *tls_conn_new(tls_ctx *ctx, int offer_h2)
{
    tls_conn *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ctx = ctx;
    t->offer_h2 = offer_h2;
    pthread_mutex_lock(&ctx->mu);
    t->certs = ctx->certs;
    atomic_fetch_add(&t->certs->refs, 1);
    pthread_mutex_unlock(&ctx->mu);
    t->ssl = SSL_new(t->certs->def);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        tls_certs_release(t->certs);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_mem_eof_return(t->rbio, -1);   /* empty means "wait", not EOF */
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_app_data(t->ssl, t);
    SSL_set_accept_state(t->ssl);
    return t;
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

/* Everything OpenSSL queued for the peer goes to cipher_out. */
static void tls_drain(tls_conn *t, buf *cipher_out)
{
    size_t n;
    while ((n = BIO_ctrl_pending(t->wbio)) > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        int r = BIO_read(t->wbio, buf_tail(cipher_out, (size_t)chunk), chunk);
        if (r <= 0)
            return;
        buf_commit(cipher_out, (size_t)r);
    }
}

static int tls_fail(tls_conn *t, buf *cipher_out, const char *reason, const char **err)
{
    if (!t->failed) {
        snprintf(t->errbuf, sizeof t->errbuf, "%s", reason);
        t->failed = 1;
    }
    ERR_clear_error();
    if (cipher_out)
        tls_drain(t, cipher_out);   /* the alert, if OpenSSL made one */
    buf_free(&t->pending);
    if (err)
        *err = t->errbuf;
    return TLS_ERR;
}

/* SSL_write all of data; with memory BIOs a write never half-succeeds. */
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

static int tls_encrypt(tls_conn *t, const void *data, size_t len, buf *cipher_out, const char **err)
{
    const char *p = data;
    uint64_t now = tls_now_ms();
    if (now - t->last_write_ms >= TLS_IDLE_MS)
        t->burst = 0;
    t->last_write_ms = now;
    while (len > 0) {
        size_t w = 0, n = len;
        if (t->burst < TLS_SMALL_BURST && n > TLS_SMALL_RECORD)
            n = TLS_SMALL_RECORD;
        if (SSL_write_ex(t->ssl, p, n, &w) != 1) {
            int e = SSL_get_error(t->ssl, 0);
            return tls_fail(t, cipher_out, e == SSL_ERROR_SSL ? tls_reason() : "TLS write failed", err);
        }
        p += w;
        len -= w;
        t->burst += w;
    }
    tls_drain(t, cipher_out);
    return TLS_OK;
}

static int tls_handshake(tls_conn *t, buf *cipher_out, const char **err)
{
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return TLS_OK;
        if (e == SSL_ERROR_ZERO_RETURN)
            return TLS_CLOSED;
        return tls_fail(t, cipher_out, e == SSL_ERROR_SSL ? tls_reason() : "TLS handshake failed", err);
    }
    t->done = 1;
    tls_certs_release(t->certs);   /* SNI is decided; the SSL keeps its SSL_CTX */
    t->certs = NULL;
    if (buf_size(&t->pending) > 0) {
        r = tls_encrypt(t, buf_head(&t->pending), buf_size(&t->pending), cipher_out, err);
        OPENSSL_cleanse(t->pending.data, t->pending.cap);
        buf_free(&t->pending);
        return r;
    }
    return TLS_OK;
}

int tls_conn_read(tls_conn *t, buf *plain, buf *cipher_out, const char **err)
{
    if (t->failed)
        return tls_fail(t, NULL, t->errbuf, err);
    ERR_clear_error();
    int r = TLS_OK;
    if (!t->done && (r = tls_handshake(t, cipher_out, err)) != TLS_OK)
        goto out;
    while (t->done) {
        size_t n = 0;
        if (SSL_read_ex(t->ssl, buf_tail(plain, TLS_READ_CHUNK), TLS_READ_CHUNK, &n) == 1) {
            buf_commit(plain, n);
            continue;
        }
        int e = SSL_get_error(t->ssl, 0);
        if (e == SSL_ERROR_ZERO_RETURN)
            r = TLS_CLOSED;
        else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return tls_fail(t, cipher_out, e == SSL_ERROR_SSL ? tls_reason() : "TLS read failed", err);
        break;
    }
out:
    tls_drain(t, cipher_out);
    return r;
}

int tls_conn_write(tls_conn *t, const void *data, size_t len, buf *cipher_out, const char **err)
{
    if (t->failed)
        return tls_fail(t, NULL, t->errbuf, err);
    if (!t->done) {
        buf_append(&t->pending, data, len);
        return TLS_OK;
    }
    ERR_clear_error();
    return tls_encrypt(t, data, len, cipher_out, err);
}

void tls_conn_shutdown(tls_conn *t, buf *cipher_out)
{
    if (t->done && !t->failed) {
        ERR_clear_error();
        SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    tls_drain(t, cipher_out);
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
