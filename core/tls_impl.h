/*
 * tls_impl.h — what the three files of the TLS engine share privately.
 *
 * tls_ctx.c builds the shared context: certificate sets, one SSL_CTX per
 * host with atto's protocol policy. tls_keys.c makes resumption work across
 * worker processes: derived session-ticket keys and the shared TLS 1.2
 * session-id cache. tls.c runs the connections. Every SSL_CTX carries its
 * tls_ctx as app data (the resumption callbacks find the keys and the store
 * there); every SSL carries its tls_conn (the SNI and ALPN callbacks read
 * it). Nothing outside core/tls*.c includes this.
 */
#ifndef ATTO_TLS_IMPL_H
#define ATTO_TLS_IMPL_H
#include <pthread.h>
#include <stdatomic.h>
#include <openssl/ssl.h>
#include "core/shmkv.h"
#include "core/tls.h"

#define TLS_TICKET_ROTATE (4 * 3600)   /* seconds a ticket key encrypts */
#define TLS_SESSION_TIMEOUT TLS_TICKET_ROTATE
#define TLS_SESSION_STORE (4u << 20)  /* bytes of the shared session-id store */
#define TLS_SESSION_CACHE 10000       /* at most this many sessions in it */
#define TLS_SESSION_DER_MAX 4096      /* a larger encoded session is not cached */

typedef struct tls_host {
    char    *name;       /* lower case; NULL for the default entry */
    SSL_CTX *sc;
    unsigned keytypes;   /* bit per key type loaded: 1 EC, 2 RSA, 4 other */
} tls_host;

/* One generation of certificates; replaced as a whole by a reload. */
typedef struct tls_certs {
    atomic_int refs;
    tls_ctx   *ctx;      /* given to every SSL_CTX (app data) */
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

/* tls_ctx.c */
/* The first reason in this thread's OpenSSL error queue (then cleared). */
const char *tls_reason(void);
/* The current certificate set, with a reference the caller releases. */
tls_certs *tls_certs_take(tls_ctx *ctx);
void       tls_certs_release(tls_certs *cs);
/* The SSL_CTX for an SNI name: exact host, then a `*.parent` wildcard. */
SSL_CTX   *tls_certs_lookup(const tls_certs *cs, const char *name);

/* tls_keys.c: session cache mode, timeout, the session-id store and the
 * ticket key callbacks. */
void tls_keys_setup(SSL_CTX *sc);

/* tls.c: the SNI and ALPN callbacks. */
void tls_conn_setup(SSL_CTX *sc);
#endif
