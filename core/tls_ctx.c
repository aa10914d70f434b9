/*
 * tls_ctx.c — the shared TLS context: certificates and protocol policy.
 *
 * One tls_ctx per server, shared by the worker threads of a process (each
 * forked worker process has its own copy). It holds the current certificate
 * set — one SSL_CTX per host (a host may carry an ECDSA and an RSA
 * certificate), one of them the default — behind a mutex, with a reference
 * count: a connection takes a reference when it is created, so a SIGHUP
 * reload swaps in a new set for new connections while open ones finish
 * their handshake with the old one. Every SSL_CTX gets atto's policy (TLS
 * 1.2 and 1.3, AEAD ciphers, no renegotiation or compression), the
 * resumption callbacks of tls_keys.c and the SNI/ALPN callbacks of tls.c.
 *
 * Errors: reasons come from OpenSSL's (thread-local) error queue, short and
 * human ("wrong version number", "no shared cipher"); configuration errors
 * name the file.
 */
#include "core/tls_impl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#define TLS_CIPHERS_12 \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS "X25519:P-256:P-384"

const char *tls_reason(void)
{
    const char *r = NULL;
    unsigned long e;
    while ((e = ERR_get_error()) != 0)
        if (!r)
            r = ERR_reason_error_string(e);
    return r ? r : "TLS error";
}

/* ---- certificate sets ---- */

tls_certs *tls_certs_take(tls_ctx *ctx)
{
    pthread_mutex_lock(&ctx->mu);
    tls_certs *cs = ctx->certs;
    atomic_fetch_add(&cs->refs, 1);
    pthread_mutex_unlock(&ctx->mu);
    return cs;
}

void tls_certs_release(tls_certs *cs)
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

SSL_CTX *tls_certs_lookup(const tls_certs *cs, const char *name)
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
static SSL_CTX *tls_sslctx_new(tls_ctx *ctx, char *err, size_t errlen)
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
    /* no SSL_MODE_RELEASE_BUFFERS: see tls_conn_trim() */
    SSL_CTX_set_app_data(sc, ctx);
    tls_keys_setup(sc);
    tls_conn_setup(sc);
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
    if (!(h->sc = tls_sslctx_new(cs->ctx, err, errlen)))
        return NULL;
    h->name = host ? strdup(host) : NULL;
    h->keytypes = 0;
    cs->nhosts++;
    return h;
}

static tls_certs *tls_certs_new(tls_ctx *ctx, const tls_cert_cfg *certs, size_t n,
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
    cs->ctx = ctx;
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
    if (!(ctx->certs = tls_certs_new(ctx, certs, ncerts, err, errlen)))
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
    tls_certs *fresh = tls_certs_new(ctx, certs, ncerts, err, errlen), *old;
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
