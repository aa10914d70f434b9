/*
 * tls_keys.c — TLS resumption that works across worker processes forked
 * after tls_ctx_new, with no per-process state.
 *
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
 * Every callback finds the tls_ctx in its SSL_CTX's app data.
 */
#include "core/tls_impl.h"
#include <string.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

static tls_ctx *tls_ctx_of(SSL *ssl)
{
    return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
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
    tls_ctx *ctx = tls_ctx_of(ssl);
    tls_tkey k;
    if (!ctx)
        return -1;
    int r = tls_tkey_get(ctx, key_name, enc, &k);
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
    tls_ctx *ctx = tls_ctx_of(ssl);
    shmkv *kv = ctx ? ctx->sessions : NULL;
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
    tls_ctx *ctx = tls_ctx_of(ssl);
    shmkv *kv = ctx ? ctx->sessions : NULL;
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
    tls_ctx *ctx = SSL_CTX_get_app_data(sc);
    unsigned int idlen = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &idlen);
    if (ctx && ctx->sessions && idlen > 0)
        shmkv_del(ctx->sessions, id, idlen);
}

void tls_keys_setup(SSL_CTX *sc)
{
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(sc, tls_sess_new_cb);
    SSL_CTX_sess_set_get_cb(sc, tls_sess_get_cb);
    SSL_CTX_sess_set_remove_cb(sc, tls_sess_remove_cb);
    SSL_CTX_set_timeout(sc, TLS_SESSION_TIMEOUT);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(sc, tls_ticket_cb);
}
