/*
 * test_tls.c — the TLS engine against a real OpenSSL client, in memory.
 *
 * Every test pumps bytes between a client SSL (its own memory BIOs) and a
 * tls_conn until neither side has anything more to say, so handshakes, data,
 * resumption, SNI and ALPN are exercised exactly as conn.c will drive them,
 * without a socket. Certificates come from tls_dev_cert() into temporary
 * folders (plus one RSA certificate made here), so the dev-cert code is
 * tested by every handshake as well.
 *
 * Build by hand: cc ... tests/unit/test_tls.c core/tls_cert.c core/buf.c core/shmkv.c -lssl -lcrypto
 */
/* The engine's three files, to reach statics (the clocks, the key
 * derivation, the output BIO); tls_cert.o and buf.o come from the archive. */
#include "core/tls.c"
#include "core/tls_ctx.c"
#include "core/tls_keys.c"
#include "tests/unit/test.h"
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static char dir_a[64], dir_b[64], dir_c[64], dir_tmp[64];
static char cert_a[256], key_a[256], cert_b[256], key_b[256], cert_c[256], key_c[256];
static char cert_rsa[256], key_rsa[256];

/* ---- fixtures ---- */

static int make_dev(char *dir, char *cert, char *key)
{
    char err[256];
    strcpy(dir, "/tmp/atto-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    if (tls_dev_cert(dir, cert, 256, key, 256, err, sizeof err) < 0) {
        printf("# tls_dev_cert: %s\n", err);
        return -1;
    }
    return 0;
}

/* An RSA-2048 self-signed certificate, made here (atto only makes ECDSA). */
static int make_rsa(const char *cert, const char *key)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    X509 *x = X509_new();
    FILE *f;
    int ok = pkey && x && X509_set_version(x, X509_VERSION_3) &&
             ASN1_INTEGER_set(X509_get_serialNumber(x), 7) &&
             X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
             X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                        (const unsigned char *)"rsa.test", -1, -1, 0) &&
             X509_set_issuer_name(x, X509_get_subject_name(x)) && X509_set_pubkey(x, pkey) &&
             X509_sign(x, pkey, EVP_sha256());
    if (ok && (f = fopen(cert, "w"))) {
        ok = PEM_write_X509(f, x);
        fclose(f);
    } else
        ok = 0;
    if (ok && (f = fopen(key, "w"))) {
        ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
        fclose(f);
    } else
        ok = 0;
    X509_free(x);
    EVP_PKEY_free(pkey);
    return ok ? 0 : -1;
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static tls_ctx *ctx_default(void)
{
    char err[256];
    tls_cert_cfg c[] = {{NULL, cert_a, key_a}};
    tls_ctx *ctx = tls_ctx_new(c, 1, err, sizeof err);
    if (!ctx)
        printf("# tls_ctx_new: %s\n", err);
    return ctx;
}

/* ---- the client side and the pump ---- */

static SSL_CTX *client_ctx(int minv, int maxv)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (minv < TLS1_2_VERSION) {
        SSL_CTX_set_security_level(c, 0);
        SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0");
    }
    SSL_CTX_set_min_proto_version(c, minv);
    SSL_CTX_set_max_proto_version(c, maxv);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT);
    return c;
}

typedef struct pair {
    SSL *cl;
    BIO *cin, *cout_;       /* client's memory BIOs: in = from server */
    tls_conn *t;
    buf plain;              /* server's decrypted bytes */
    buf cplain;             /* client's decrypted bytes */
    buf wire;               /* server's ciphertext out */
    int sr;                 /* first non-OK server result */
    int cl_closed, cl_failed;
    unsigned char last_type;  /* record type opening the server's last flight */
    const char *err;
} pair;

static void pair_init(pair *p, tls_ctx *ctx, SSL_CTX *cctx, int offer_h2, const char *sni,
                      const char *alpn, SSL_SESSION *sess)
{
    memset(p, 0, sizeof *p);
    p->cl = SSL_new(cctx);
    p->cin = BIO_new(BIO_s_mem());
    p->cout_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(p->cin, -1);
    BIO_set_mem_eof_return(p->cout_, -1);
    SSL_set_bio(p->cl, p->cin, p->cout_);
    SSL_set_connect_state(p->cl);
    if (sni)
        SSL_set_tlsext_host_name(p->cl, sni);
    if (alpn)
        SSL_set_alpn_protos(p->cl, (const unsigned char *)alpn, (unsigned)strlen(alpn));
    if (sess)
        SSL_set_session(p->cl, sess);
    p->t = tls_conn_new(ctx, offer_h2);
}

static void pair_free(pair *p)
{
    if (SSL_is_init_finished(p->cl))   /* a client that keeps its session, like s_client -sess_out */
        SSL_set_shutdown(p->cl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(p->cl);
    tls_conn_free(p->t);
    buf_free(&p->plain);
    buf_free(&p->cplain);
    buf_free(&p->wire);
}

static void client_step(pair *p)
{
    if (p->cl_failed || p->cl_closed)
        return;
    if (!SSL_is_init_finished(p->cl)) {
        int r = SSL_do_handshake(p->cl);
        int e = SSL_get_error(p->cl, r);
        if (r != 1 && e != SSL_ERROR_WANT_READ)
            p->cl_failed = 1;
        if (r != 1)
            return;
    }
    for (;;) {
        size_t n = 0;
        if (SSL_read_ex(p->cl, buf_tail(&p->cplain, 16384), 16384, &n) == 1) {
            buf_commit(&p->cplain, n);
            continue;
        }
        int e = SSL_get_error(p->cl, 0);
        if (e == SSL_ERROR_ZERO_RETURN)
            p->cl_closed = 1;
        else if (e != SSL_ERROR_WANT_READ)
            p->cl_failed = 1;
        return;
    }
}

/* Shuttle bytes until both sides are quiet. */
static void pump(pair *p)
{
    char tmp[16384];
    for (int round = 0; round < 200; round++) {
        size_t moved = 0;
        client_step(p);
        int n;
        while ((n = BIO_read(p->cout_, tmp, sizeof tmp)) > 0) {
            tls_conn_feed(p->t, tmp, (size_t)n);
            moved += (size_t)n;
        }
        if (p->sr == TLS_OK || p->sr == TLS_CLOSED) {
            int r = tls_conn_read(p->t, &p->plain, &p->wire, &p->err);
            if (r != TLS_OK && p->sr == TLS_OK)
                p->sr = r;
        }
        if (buf_size(&p->wire)) {
            p->last_type = (unsigned char)buf_head(&p->wire)[0];
            BIO_write(p->cin, buf_head(&p->wire), (int)buf_size(&p->wire));
            moved += buf_size(&p->wire);
            buf_reset(&p->wire);
        }
        if (!moved) {
            client_step(p);
            return;
        }
    }
}

static int handshake(pair *p, tls_ctx *ctx, SSL_CTX *cctx, int offer_h2, const char *sni,
                     const char *alpn, SSL_SESSION *sess)
{
    pair_init(p, ctx, cctx, offer_h2, sni, alpn, sess);
    if (!p->t)
        return 0;
    pump(p);
    return SSL_is_init_finished(p->cl) && tls_conn_handshake_done(p->t) && p->sr == TLS_OK;
}

static int peer_is(pair *p, const char *cert_path)
{
    X509 *want = read_cert(cert_path);
    X509 *got = SSL_get0_peer_certificate(p->cl);
    int same = want && got && X509_cmp(want, got) == 0;
    X509_free(want);
    return same;
}

/* ---- handshakes ---- */

TEST(handshake_tls13)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    int ver = SSL_version(p.cl), alpn_null = tls_conn_alpn(p.t) == NULL;
    int peer = peer_is(&p, cert_a);
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(ok);
    CHECK_INT(ver, TLS1_3_VERSION);
    CHECK(alpn_null);
    CHECK(peer);
}

TEST(handshake_tls12_modern_cipher)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    int ver = SSL_version(p.cl);
    char cipher[64] = "";
    if (SSL_get_current_cipher(p.cl))
        snprintf(cipher, sizeof cipher, "%s", SSL_CIPHER_get_name(SSL_get_current_cipher(p.cl)));
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(ok);
    CHECK_INT(ver, TLS1_2_VERSION);
    CHECK(strncmp(cipher, "ECDHE-ECDSA-", 12) == 0);
    CHECK(strstr(cipher, "GCM") || strstr(cipher, "CHACHA20"));
}

/* A TLS 1.2 client offering only CBC or non-ECDHE suites finds no shared cipher. */
TEST(tls12_weak_ciphers_refused)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(cc, "ECDHE-ECDSA-AES128-SHA:AES128-GCM-SHA256:AES256-SHA");
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    int sr = p.sr;
    char err[128] = "";
    if (p.err)
        snprintf(err, sizeof err, "%s", p.err);
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(!ok);
    CHECK_INT(sr, TLS_ERR);
    CHECK_STR(err, "no shared cipher");
}

TEST(dev_cert_verifies_for_localhost_and_ips)
{
    tls_ctx *ctx = ctx_default();
    const char *names[] = {"localhost", "127.0.0.1", "::1"};
    for (int i = 0; i < 3; i++) {
        SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
        SSL_CTX_load_verify_locations(cc, cert_a, NULL);
        SSL_CTX_set_verify(cc, SSL_VERIFY_PEER, NULL);
        pair p;
        pair_init(&p, ctx, cc, 1, i == 0 ? "localhost" : NULL, NULL, NULL);
        if (i == 0)
            SSL_set1_host(p.cl, names[i]);
        else
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p.cl), names[i]);
        pump(&p);
        long vr = SSL_get_verify_result(p.cl);
        int done = SSL_is_init_finished(p.cl);
        pair_free(&p);
        SSL_CTX_free(cc);
        if (!done || vr != X509_V_OK) {
            tls_ctx_free(ctx);
            printf("# %s: %s\n", names[i], X509_verify_cert_error_string(vr));
            CHECK(done && vr == X509_V_OK);
        }
    }
    tls_ctx_free(ctx);
}

/* ---- data ---- */

/* `data` from the client to the server and back over p; both arrive whole. */
static int both_ways(pair *p, const char *data, size_t size)
{
    buf_reset(&p->plain);
    buf_reset(&p->cplain);
    size_t w = 0;
    int ok = SSL_write_ex(p->cl, data, size, &w) == 1 && w == size;
    pump(p);
    ok = ok && buf_size(&p->plain) == size && memcmp(buf_head(&p->plain), data, size) == 0;
    ok = ok && tls_conn_write(p->t, data, size, &p->wire, &p->err) == TLS_OK;
    pump(p);
    return ok && buf_size(&p->cplain) == size && memcmp(buf_head(&p->cplain), data, size) == 0;
}

static char *pattern(size_t size)
{
    char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 7 + i / 251);
    return data;
}

static int exchange(tls_ctx *ctx, int maxv, size_t size)
{
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, maxv);
    char *data = pattern(size);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL) && both_ways(&p, data, size);
    pair_free(&p);
    SSL_CTX_free(cc);
    free(data);
    return ok;
}

/* Application-data records in `wire`: how many, the first one's length and
 * the largest. */
static void app_records(const buf *wire, int *n, size_t *first, size_t *max)
{
    const unsigned char *b = (const unsigned char *)buf_head(wire);
    size_t len = buf_size(wire), off = 0;
    *n = 0;
    *first = *max = 0;
    while (off + 5 <= len) {
        size_t rl = (size_t)b[off + 3] << 8 | b[off + 4];
        if (b[off] == 23) {
            if (!(*n)++) *first = rl;
            if (rl > *max) *max = rl;
        }
        off += 5 + rl;
    }
}

static uint64_t fake_ms;
static uint64_t fake_ms_clock(void) { return fake_ms; }

/* One burst: write `size` bytes and let the client read them all. */
static int burst(pair *p, const char *data, size_t size, int *n, size_t *first, size_t *max)
{
    buf_reset(&p->cplain);
    int ok = tls_conn_write(p->t, data, size, &p->wire, &p->err) == TLS_OK;
    app_records(&p->wire, n, first, max);
    pump(p);
    return ok && buf_size(&p->cplain) == size && memcmp(buf_head(&p->cplain), data, size) == 0;
}

TEST(records_start_small_then_grow)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    size_t size = 200 * 1024, first, max;
    char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 13 + i / 253);
    pair p;
    int n, ok = handshake(&p, ctx, cc, 0, NULL, NULL, NULL);
    tls_now_ms = fake_ms_clock;
    fake_ms = 1000000;
    /* a fresh connection: 64 KiB in one-segment records, then full ones */
    CHECK(ok && burst(&p, data, size, &n, &first, &max));
    CHECK(first <= TLS_SMALL_RECORD + 32 && max >= 16384);
    CHECK(n >= TLS_SMALL_BURST / TLS_SMALL_RECORD + (int)(size - TLS_SMALL_BURST) / 16384);
    /* busy a moment later: full records straight away */
    fake_ms += 200;
    CHECK(burst(&p, data, 40000, &n, &first, &max) && first >= 16384 && n == 3);
    /* idle for a second: small again */
    fake_ms += TLS_IDLE_MS;
    CHECK(burst(&p, data, 40000, &n, &first, &max) && first <= TLS_SMALL_RECORD + 32 && max <= TLS_SMALL_RECORD + 32);
    tls_now_ms = tls_now_ms_real;
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    free(data);
}

TEST(data_both_ways)
{
    tls_ctx *ctx = ctx_default();
    int ok13s = exchange(ctx, 0, 5), ok13 = exchange(ctx, 0, 100 * 1024);
    int ok12s = exchange(ctx, TLS1_2_VERSION, 1), ok12 = exchange(ctx, TLS1_2_VERSION, 100 * 1024);
    tls_ctx_free(ctx);
    CHECK(ok13s);
    CHECK(ok13);
    CHECK(ok12s);
    CHECK(ok12);
}

TEST(buffers_kept_while_busy_and_given_back_when_quiet)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    pair p;
    fake_ms = 5000;
    tls_now_ms = fake_ms_clock;
    tls_conn *fresh = tls_conn_new(ctx, 0);
    CHECK_INT(tls_conn_trim(fresh, 0), 0);           /* no I/O yet: nothing held */
    tls_conn_free(fresh);
    CHECK(handshake(&p, ctx, cc, 0, NULL, NULL, NULL));
    char *data = pattern(40000);
    CHECK(both_ways(&p, data, 3000));
    CHECK_INT(tls_conn_trim(p.t, 1000), 1);          /* busy a moment ago: kept */
    fake_ms += 999;
    CHECK_INT(tls_conn_trim(p.t, 1000), 1);
    fake_ms += 1;
    BIO *old_rbio = p.t->rbio;
    CHECK_INT(tls_conn_trim(p.t, 1000), 0);          /* quiet for a second: given back */
    CHECK(p.t->rbio != old_rbio);
    CHECK_INT(tls_conn_trim(p.t, 1000), 0);          /* nothing left to give */
    CHECK(both_ways(&p, data, 40000));               /* and it still works, both ways */
    free(data);
    CHECK_INT(tls_conn_trim(p.t, 0), 0);

    /* half a record waiting: kept, and the record completes intact later */
    char msg[2000], tmp[4096];
    memset(msg, 'c', sizeof msg);
    size_t w = 0;
    CHECK(SSL_write_ex(p.cl, msg, sizeof msg, &w) == 1);
    int n = BIO_read(p.cout_, tmp, sizeof tmp);
    CHECK(n > 1000);
    buf_reset(&p.plain);
    tls_conn_feed(p.t, tmp, 600);
    CHECK_INT(tls_conn_read(p.t, &p.plain, &p.wire, &p.err), TLS_OK);
    CHECK_INT(buf_size(&p.plain), 0);
    fake_ms += 10000;
    CHECK_INT(tls_conn_trim(p.t, 1000), 1);
    tls_conn_feed(p.t, tmp + 600, (size_t)n - 600);
    CHECK_INT(tls_conn_read(p.t, &p.plain, &p.wire, &p.err), TLS_OK);
    CHECK_MEM(buf_head(&p.plain), buf_size(&p.plain), msg, sizeof msg);
    fake_ms += 1000;
    CHECK_INT(tls_conn_trim(p.t, 1000), 0);
    tls_now_ms = tls_now_ms_real;
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
}

TEST(write_before_handshake_is_flushed_after)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    pair p;
    pair_init(&p, ctx, cc, 0, NULL, NULL, NULL);
    int wr = tls_conn_write(p.t, "220 ready\r\n", 11, &p.wire, &p.err);
    size_t early = buf_size(&p.wire);
    pump(&p);
    int done = tls_conn_handshake_done(p.t);
    int got = buf_size(&p.cplain) == 11 && memcmp(buf_head(&p.cplain), "220 ready\r\n", 11) == 0;
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK_INT(wr, TLS_OK);
    CHECK_INT(early, 0);
    CHECK(done);
    CHECK(got);
}

TEST(close_notify_both_ways)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    SSL_shutdown(p.cl);
    pump(&p);
    int sr = p.sr;
    tls_conn_shutdown(p.t, &p.wire);
    size_t alert = buf_size(&p.wire);
    BIO_write(p.cin, buf_head(&p.wire), (int)buf_size(&p.wire));
    buf_reset(&p.wire);
    char tmp[16];
    size_t n;
    int r = SSL_read_ex(p.cl, tmp, sizeof tmp, &n);
    int e = SSL_get_error(p.cl, r);
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(ok);
    CHECK_INT(sr, TLS_CLOSED);
    CHECK(alert > 0);
    CHECK_INT(e, SSL_ERROR_ZERO_RETURN);
}

/* A TLS 1.3 KeyUpdate asking for ours: the answer goes out from tls_conn_read. */
TEST(key_update_answered)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_3_VERSION, 0);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    ok = ok && SSL_key_update(p.cl, SSL_KEY_UPDATE_REQUESTED) == 1 && SSL_write(p.cl, "a", 1) == 1;
    pump(&p);
    int got_a = buf_size(&p.plain) == 1 && buf_head(&p.plain)[0] == 'a';
    int wr = tls_conn_write(p.t, "b", 1, &p.wire, &p.err);
    pump(&p);
    int got_b = buf_size(&p.cplain) == 1 && buf_head(&p.cplain)[0] == 'b' && !p.cl_failed;
    int sr = p.sr;
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(ok);
    CHECK(got_a);
    CHECK_INT(wr, TLS_OK);
    CHECK(got_b);
    CHECK_INT(sr, TLS_OK);
}

/* A TLS 1.2 client asking to renegotiate is told no (a no_renegotiation
 * warning alert). OpenSSL's client then gives up with a fatal alert of its
 * own, which the server reports. */
TEST(renegotiation_refused)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    p.last_type = 0;
    ok = ok && SSL_renegotiate(p.cl) == 1;
    SSL_do_handshake(p.cl);
    pump(&p);
    int told = p.last_type == 0x15, sr = p.sr;
    char err[128];
    snprintf(err, sizeof err, "%s", p.err ? p.err : "");
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(ok);
    CHECK(told);
    CHECK_INT(sr, TLS_ERR);
    CHECK_STR(err, "sslv3 alert handshake failure");
}

/* ---- the output BIO ---- */

/* Does `wire` hold whole records only? Returns how many, or -1. */
static int whole_records(const buf *wire)
{
    const unsigned char *b = (const unsigned char *)buf_head(wire);
    size_t len = buf_size(wire), off = 0;
    int n = 0;
    while (off + 5 <= len) {
        if (b[off] < 20 || b[off] > 24 || b[off + 1] != 3)
            return -1;
        off += 5 + ((size_t)b[off + 3] << 8 | b[off + 4]);
        n++;
    }
    return off == len ? n : -1;
}

/* 1 MiB in writes of uneven sizes, all queued before the client reads any:
 * every byte arrives once and in order, in whole records, and nothing is
 * left behind in the stash. */
TEST(large_write_arrives_in_order)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    size_t size = 1 << 20, sizes[] = {1, 1299, 1301, 16383, 16385, 100000, 7};
    char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 31 + i / 257);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL), wr = TLS_OK;
    for (size_t off = 0, k = 0; ok && off < size; k++) {
        size_t n = sizes[k % 7] < size - off ? sizes[k % 7] : size - off;
        if (tls_conn_write(p.t, data + off, n, &p.wire, &p.err) != TLS_OK)
            wr = TLS_ERR;
        off += n;
    }
    int records = whole_records(&p.wire);
    size_t stash = buf_size(&p.t->stash), wire = buf_size(&p.wire);
    pump(&p);
    int same = buf_size(&p.cplain) == size && memcmp(buf_head(&p.cplain), data, size) == 0;
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    free(data);
    CHECK(ok);
    CHECK_INT(wr, TLS_OK);
    CHECK(records >= (int)(size / 16384));
    CHECK(wire > size);
    CHECK_INT(stash, 0);
    CHECK(same);
}

/* tls_out_reserve's two assumptions hold — how many records a burst makes
 * (small ones, then full ones) and what each adds (TLS 1.2: an explicit
 * nonce; 1.3: a content type byte) — so a big write fits the room reserved
 * for it and grows cipher_out only once. */
static int within_reserve(int maxv, size_t size)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, maxv);
    char *data = calloc(1, size);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    p.t->burst = 0;
    p.t->out = &p.wire;
    buf_reset(&p.wire);
    tls_out_reserve(p.t, size);
    size_t room = p.wire.cap;
    p.t->out = NULL;
    p.t->last_write_ms = tls_now_ms();
    char *before = p.wire.data;
    ok = ok && tls_conn_write(p.t, data, size, &p.wire, &p.err) == TLS_OK;
    int records = whole_records(&p.wire);
    size_t small = size < TLS_SMALL_BURST ? size : TLS_SMALL_BURST;
    ok = ok && p.wire.data == before && p.wire.cap == room && records > 0 &&
         (size_t)records <= small / TLS_SMALL_RECORD + (size - small) / 16384 + 2 &&
         buf_size(&p.wire) - size <= (size_t)records * TLS_RECORD_OVERHEAD;
    pump(&p);
    ok = ok && buf_size(&p.cplain) == size;
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    free(data);
    return ok;
}

TEST(big_write_grows_cipher_out_once)
{
    int ok12 = within_reserve(TLS1_2_VERSION, 100 * 1024), ok13 = within_reserve(0, 100 * 1024);
    int ok12b = within_reserve(TLS1_2_VERSION, 3 << 20), ok13b = within_reserve(0, 3 << 20);
    CHECK(ok12);
    CHECK(ok13);
    CHECK(ok12b);
    CHECK(ok13b);
}

/* Records OpenSSL writes while no call is running (here: the test calls
 * SSL_write itself) wait in the stash and lead the next call's output, of
 * whichever call: read, write or shutdown. */
TEST(output_between_calls_is_kept_in_order)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    ok = ok && SSL_write(p.t->ssl, "one,", 4) == 4;
    size_t stashed = buf_size(&p.t->stash), early = buf_size(&p.wire);
    ok = ok && tls_conn_write(p.t, "two,", 4, &p.wire, &p.err) == TLS_OK;
    int records = whole_records(&p.wire);
    pump(&p);
    ok = ok && SSL_write(p.t->ssl, "three,", 6) == 6;
    ok = ok && tls_conn_read(p.t, &p.plain, &p.wire, &p.err) == TLS_OK;
    pump(&p);
    ok = ok && SSL_write(p.t->ssl, "four", 4) == 4;
    tls_conn_shutdown(p.t, &p.wire);
    pump(&p);
    int got = buf_size(&p.cplain) == 18 && memcmp(buf_head(&p.cplain), "one,two,three,four", 18) == 0;
    int closed = p.cl_closed, left = buf_size(&p.t->stash) == 0;
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(ok);
    CHECK(stashed > 0);
    CHECK_INT(early, 0);
    CHECK_INT(records, 2);
    CHECK(got);
    CHECK(closed);
    CHECK(left);
}

/* A record corrupted in flight after the handshake: the server fails with
 * a reason and its fatal alert reaches cipher_out, then the client. */
static int corrupted_record(int maxv, char *err, size_t n)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, maxv);
    pair p;
    char tmp[256];
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL) && SSL_write(p.cl, "hello", 5) == 5;
    int len = BIO_read(p.cout_, tmp, sizeof tmp);
    ok = ok && len > 10;
    tmp[len > 0 ? len - 1 : 0] ^= 1;   /* the last byte of the tag */
    tls_conn_feed(p.t, tmp, len > 0 ? (size_t)len : 0);
    int r = tls_conn_read(p.t, &p.plain, &p.wire, &p.err);
    snprintf(err, n, "%s", p.err ? p.err : "");
    int alert = whole_records(&p.wire) == 1 && buf_head(&p.wire)[0] == (maxv ? 0x15 : 0x17);
    BIO_write(p.cin, buf_head(&p.wire), (int)buf_size(&p.wire));
    buf_reset(&p.wire);
    unsigned long e = 0;
    size_t got;
    ok = ok && SSL_read_ex(p.cl, tmp, sizeof tmp, &got) != 1 &&
         SSL_get_error(p.cl, 0) == SSL_ERROR_SSL && (e = ERR_get_error()) != 0;
    ERR_clear_error();
    ok = ok && r == TLS_ERR && alert && buf_size(&p.plain) == 0 &&
         ERR_GET_REASON(e) == SSL_R_SSLV3_ALERT_BAD_RECORD_MAC;
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    return ok;
}

TEST(alert_on_failure_reaches_cipher_out)
{
    char e12[128], e13[128];
    int ok12 = corrupted_record(TLS1_2_VERSION, e12, sizeof e12);
    int ok13 = corrupted_record(0, e13, sizeof e13);
    CHECK(ok12);
    CHECK(ok13);
    printf("# corrupted record reasons: \"%s\" / \"%s\"\n", e12, e13);
    CHECK(*e12 && *e13);
}

/* What OpenSSL may ask of a write BIO: a flush succeeds, nothing pends,
 * reading is not supported. */
TEST(output_bio_controls)
{
    tls_ctx *ctx = ctx_default();
    tls_conn *t = tls_conn_new(ctx, 0);
    BIO *w = t ? SSL_get_wbio(t->ssl) : NULL;
    char c;
    int ok = w && BIO_method_type(w) == BIO_method_type(SSL_get_wbio(t->ssl)) &&
             (BIO_method_type(w) & BIO_TYPE_SOURCE_SINK) && BIO_flush(w) == 1 &&
             BIO_pending(w) == 0 && BIO_wpending(w) == 0 && BIO_read(w, &c, 1) <= 0;
    ERR_clear_error();
    tls_conn *t2 = tls_conn_new(ctx, 0);   /* a second one shares the method */
    int same = t2 && BIO_method_type(SSL_get_wbio(t2->ssl)) == BIO_method_type(w);
    tls_conn_free(t);
    tls_conn_free(t2);
    tls_ctx_free(ctx);
    CHECK(ok);
    CHECK(same);
}

/* ---- ALPN ---- */

static const char *alpn_of(tls_ctx *ctx, int offer_h2, const char *wire, int *ok)
{
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    pair p;
    *ok = handshake(&p, ctx, cc, offer_h2, NULL, wire, NULL);
    const char *a = tls_conn_alpn(p.t);
    const unsigned char *ca;
    unsigned int cn;
    SSL_get0_alpn_selected(p.cl, &ca, &cn);
    if (a && (cn != strlen(a) || memcmp(ca, a, cn) != 0))
        *ok = 0;   /* the client must see what the server reports */
    pair_free(&p);
    SSL_CTX_free(cc);
    return a;
}

TEST(alpn_selection)
{
    tls_ctx *ctx = ctx_default();
    int ok[6];
    const char *a0 = alpn_of(ctx, 1, "\x08http/1.1\x02h2", &ok[0]);
    const char *a1 = alpn_of(ctx, 0, "\x02h2\x08http/1.1", &ok[1]);
    const char *a2 = alpn_of(ctx, 1, "\x08http/1.1", &ok[2]);
    const char *a3 = alpn_of(ctx, 0, "\x02h2", &ok[3]);
    const char *a4 = alpn_of(ctx, 1, "\x04imap", &ok[4]);
    const char *a5 = alpn_of(ctx, 1, NULL, &ok[5]);
    tls_ctx_free(ctx);
    for (int i = 0; i < 6; i++)
        CHECK(ok[i]);
    CHECK_STR(a0, "h2");
    CHECK_STR(a1, "http/1.1");
    CHECK_STR(a2, "http/1.1");
    CHECK(a3 == NULL);
    CHECK(a4 == NULL);
    CHECK(a5 == NULL);
}

/* ---- SNI and RSA ---- */

static int sni_peer(tls_ctx *ctx, const char *sni, const char *want_cert, char *seen, size_t n)
{
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, sni, NULL, NULL) && peer_is(&p, want_cert);
    const char *s = tls_conn_sni(p.t);
    snprintf(seen, n, "%s", s ? s : "(none)");
    pair_free(&p);
    SSL_CTX_free(cc);
    return ok;
}

TEST(sni_selects_certificate)
{
    char err[256], seen[64];
    tls_cert_cfg c[] = {{NULL, cert_a, key_a}, {"example.test", cert_b, key_b},
                        {"*.wild.test", cert_c, key_c}};
    tls_ctx *ctx = tls_ctx_new(c, 3, err, sizeof err);
    CHECK(ctx);
    struct { const char *sni, *cert; } cases[] = {
        {NULL, cert_a}, {"example.test", cert_b}, {"EXAMPLE.Test", cert_b},
        {"a.wild.test", cert_c}, {"wild.test", cert_a}, {"x.y.wild.test", cert_a},
        {"other.test", cert_a}, {"localhost", cert_a},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int ok = sni_peer(ctx, cases[i].sni, cases[i].cert, seen, sizeof seen);
        if (!ok || strcmp(seen, cases[i].sni ? cases[i].sni : "(none)") != 0) {
            printf("# sni %s -> seen %s\n", cases[i].sni ? cases[i].sni : "(none)", seen);
            tls_ctx_free(ctx);
            CHECK(0);
        }
    }
    tls_ctx_free(ctx);
}

/* A host may carry an ECDSA and an RSA certificate; the client's signature
 * algorithms pick. An RSA-only set works too, in 1.2 and 1.3. */
TEST(rsa_and_ecdsa_certificates)
{
    char err[256];
    tls_cert_cfg dual[] = {{NULL, cert_a, key_a}, {NULL, cert_rsa, key_rsa}};
    tls_cert_cfg rsa[] = {{NULL, cert_rsa, key_rsa}};
    tls_ctx *ctx = tls_ctx_new(dual, 2, err, sizeof err), *ctx2 = tls_ctx_new(rsa, 1, err, sizeof err);
    CHECK(ctx && ctx2);
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0), *cc12 = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    SSL_CTX *rsa_only = client_ctx(TLS1_2_VERSION, 0);
    SSL_CTX_set1_sigalgs_list(rsa_only, "rsa_pss_rsae_sha256:RSA+SHA256");
    pair p;
    int ec = handshake(&p, ctx, cc, 1, NULL, NULL, NULL) && peer_is(&p, cert_a);
    pair_free(&p);
    int rs = handshake(&p, ctx, rsa_only, 1, NULL, NULL, NULL) && peer_is(&p, cert_rsa);
    pair_free(&p);
    int r13 = handshake(&p, ctx2, cc, 1, NULL, NULL, NULL) && peer_is(&p, cert_rsa);
    pair_free(&p);
    int r12 = handshake(&p, ctx2, cc12, 1, NULL, NULL, NULL) && peer_is(&p, cert_rsa);
    const char *cipher = r12 ? SSL_CIPHER_get_name(SSL_get_current_cipher(p.cl)) : "";
    int r12c = strncmp(cipher, "ECDHE-RSA-", 10) == 0;
    pair_free(&p);
    SSL_CTX_free(cc);
    SSL_CTX_free(cc12);
    SSL_CTX_free(rsa_only);
    tls_ctx_free(ctx);
    tls_ctx_free(ctx2);
    CHECK(ec);
    CHECK(rs);
    CHECK(r13);
    CHECK(r12);
    CHECK(r12c);
}

/* ---- refusals ---- */

static int old_client_refused(int version, char *err, size_t n)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(version, version);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    int refused = !ok && p.sr == TLS_ERR && p.cl_failed && !tls_conn_handshake_done(p.t) &&
                  p.last_type == 0x15;   /* told with an alert */
    snprintf(err, n, "%s", p.err ? p.err : "");
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    return refused;
}

TEST(old_protocols_refused)
{
    char e11[128], e10[128];
    int r11 = old_client_refused(TLS1_1_VERSION, e11, sizeof e11);
    int r10 = old_client_refused(TLS1_VERSION, e10, sizeof e10);
    CHECK(r11);
    CHECK(r10);
    CHECK_STR(e11, "unsupported protocol");
    CHECK_STR(e10, "unsupported protocol");
}

static int garbage(const char *bytes, size_t len, char *err, size_t n, int *again, int want_alert)
{
    tls_ctx *ctx = ctx_default();
    tls_conn *t = tls_conn_new(ctx, 1);
    buf plain = BUF_INIT, out = BUF_INIT;
    const char *e = NULL, *e2 = NULL;
    tls_conn_feed(t, bytes, len);
    int r = tls_conn_read(t, &plain, &out, &e);
    snprintf(err, n, "%s", e ? e : "");
    int alert = buf_size(&out) >= 7 && buf_head(&out)[0] == 0x15 && buf_head(&out)[5] == 2;   /* fatal alert record */
    *again = tls_conn_read(t, &plain, &out, &e2) == TLS_ERR && e2 && strcmp(e2, err) == 0 &&
             tls_conn_write(t, "x", 1, &out, &e2) == TLS_ERR && buf_size(&plain) == 0 &&
             alert == want_alert;
    tls_conn_free(t);
    buf_free(&plain);
    buf_free(&out);
    tls_ctx_free(ctx);
    return r;
}

TEST(garbage_refused_with_reason)
{
    char e1[128], e2[128], e3[128];
    int a1, a2, a3;
    const char junk[] = "\x16\x03\x01\x00\x10 this is not a client hello at all";
    /* not TLS at all: OpenSSL just stops; a bad handshake message: an alert */
    int r1 = garbage("\x01\x02\x03\x04\x05garbage garbage garbage", 28, e1, sizeof e1, &a1, 0);
    int r2 = garbage("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, e2, sizeof e2, &a2, 0);
    int r3 = garbage(junk, sizeof junk - 1, e3, sizeof e3, &a3, 1);
    printf("# garbage reasons: \"%s\" / \"%s\" / \"%s\"\n", e1, e2, e3);
    CHECK_INT(r1, TLS_ERR);
    CHECK_INT(r2, TLS_ERR);
    CHECK_INT(r3, TLS_ERR);
    CHECK(*e1 && *e3);
    CHECK_STR(e2, "http request");
    CHECK(a1 && a2 && a3);
}

/* ---- resumption ---- */

static int resumed(tls_ctx *ctx, int maxv, int no_ticket, int reload_between)
{
    char err[256];
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, maxv);
    if (no_ticket)
        SSL_CTX_set_options(cc, SSL_OP_NO_TICKET);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, "localhost", NULL, NULL);
    int first_reused = SSL_session_reused(p.cl);
    SSL_SESSION *sess = SSL_get1_session(p.cl);
    pair_free(&p);
    if (reload_between) {
        tls_cert_cfg c[] = {{NULL, cert_a, key_a}};
        ok = ok && tls_ctx_reload(ctx, c, 1, err, sizeof err) == 0;
    }
    int again = !first_reused;
    for (int i = 0; i < 3; i++) {   /* each resumption hands out a usable next session */
        ok = ok && sess && handshake(&p, ctx, cc, 1, "localhost", NULL, sess);
        again = again && ok && SSL_session_reused(p.cl);
        SSL_SESSION_free(sess);
        sess = SSL_get1_session(p.cl);
        pair_free(&p);
    }
    SSL_SESSION_free(sess);
    SSL_CTX_free(cc);
    return again;
}

TEST(resumption)
{
    tls_ctx *ctx = ctx_default();
    int r13 = resumed(ctx, 0, 0, 0);
    int r12t = resumed(ctx, TLS1_2_VERSION, 0, 0);
    int r12c = resumed(ctx, TLS1_2_VERSION, 1, 0);       /* session id: the server cache */
    int r13r = resumed(ctx, 0, 0, 1);                     /* tickets outlive a reload */
    tls_ctx_free(ctx);
    CHECK(r13);
    CHECK(r12t);
    CHECK(r12c);
    CHECK(r13r);
}

static int ticket_of(SSL_SESSION *s, unsigned char *out, size_t *n)
{
    const unsigned char *t;
    size_t len;
    SSL_SESSION_get0_ticket(s, &t, &len);
    if (!len || len > 1024)
        return 0;
    memcpy(out, t, len);
    *n = len;
    return 1;
}

/* The clock the ticket key periods follow, moved by the tests below. */
static time_t fake_now;
static time_t fake_clock(void)
{
    return fake_now;
}
#define PERIOD(p) ((time_t)(p) * TLS_TICKET_ROTATE)

static SSL_SESSION *session_copy(SSL_SESSION *s)
{
    unsigned char der[8192], *dp = der;
    const unsigned char *cdp = der;
    int n = s ? i2d_SSL_SESSION(s, NULL) : 0;
    if (n <= 0 || n > (int)sizeof der || i2d_SSL_SESSION(s, &dp) != n)
        return NULL;
    return d2i_SSL_SESSION(NULL, &cdp, n);
}

/* After one rotation an old ticket still resumes and is renewed under the new
 * period's key name; after two it is refused (a full handshake) while the
 * renewed one resumes. */
TEST(ticket_keys_rotate)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    unsigned char t1[1024], t2[1024];
    size_t n1 = 0, n2 = 0;
    pair p;
    tls_clock = fake_clock;
    fake_now = PERIOD(5000) + 17;
    int ok = handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    SSL_SESSION *s1 = SSL_get1_session(p.cl), *s2 = NULL, *old = NULL;
    pair_free(&p);
    ok = ok && ticket_of(s1, t1, &n1) && (old = session_copy(s1)) != NULL;
    fake_now = PERIOD(5001) + TLS_TICKET_ROTATE - 1;
    int renewed = handshake(&p, ctx, cc, 1, NULL, NULL, s1) && SSL_session_reused(p.cl);
    s2 = SSL_get1_session(p.cl);
    pair_free(&p);
    renewed = renewed && ticket_of(s2, t2, &n2) && n1 >= 16 && n2 >= 16 && memcmp(t1, t2, 16) != 0;
    fake_now = PERIOD(5002);
    int old_ok = old && SSL_SESSION_is_resumable(old) && ticket_of(old, t2, &n2) && n2 == n1 &&
                 memcmp(t1, t2, n1) == 0;
    int stale = handshake(&p, ctx, cc, 1, NULL, NULL, old) && !SSL_session_reused(p.cl);
    pair_free(&p);
    int fresh = handshake(&p, ctx, cc, 1, NULL, NULL, s2) && SSL_session_reused(p.cl);
    pair_free(&p);
    fake_now = PERIOD(4999);   /* the clock going back: period 5000's tickets are "from the future" */
    int back = handshake(&p, ctx, cc, 1, NULL, NULL, s2) && !SSL_session_reused(p.cl);
    pair_free(&p);
    tls_clock = tls_clock_real;
    SSL_SESSION_free(s1);
    SSL_SESSION_free(s2);
    SSL_SESSION_free(old);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(ok);
    CHECK(renewed);
    CHECK(old_ok);
    CHECK(stale);
    CHECK(fresh);
    CHECK(back);
}

/* A period's key is a function of the secret and the period alone; the name
 * in a ticket is the name of the period it was issued in. */
TEST(ticket_keys_derived)
{
    tls_ctx *a = ctx_default(), *b = ctx_default();
    CHECK(a && b);
    tls_tkey k1, k1again, k2, kb;
    int r = tls_tkey_derive(a->secret, 7, &k1) | tls_tkey_derive(a->secret, 7, &k1again) |
            tls_tkey_derive(a->secret, 8, &k2) | tls_tkey_derive(b->secret, 7, &kb);
    int same = memcmp(&k1, &k1again, sizeof k1) == 0;
    int next_differs = memcmp(k1.name, k2.name, 16) && memcmp(k1.aes, k2.aes, 32) &&
                       memcmp(k1.hmac, k2.hmac, 32);
    int other_differs = memcmp(k1.name, kb.name, 16) && memcmp(k1.aes, kb.aes, 32) &&
                        memcmp(k1.hmac, kb.hmac, 32);
    int parts_differ = memcmp(k1.aes, k1.hmac, 32) && memcmp(k1.name, k1.aes, 16);
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    unsigned char t[1024];
    size_t n = 0;
    pair p;
    tls_clock = fake_clock;
    fake_now = PERIOD(7) + 5;
    int hs = handshake(&p, a, cc, 1, NULL, NULL, NULL);
    SSL_SESSION *s = SSL_get1_session(p.cl);
    pair_free(&p);
    tls_clock = tls_clock_real;
    int named = hs && ticket_of(s, t, &n) && n > 16 && memcmp(t, k1.name, 16) == 0;
    SSL_SESSION_free(s);
    SSL_CTX_free(cc);
    tls_ctx_free(a);
    tls_ctx_free(b);
    CHECK_INT(r, 0);
    CHECK(same);
    CHECK(next_differs);
    CHECK(other_differs);
    CHECK(parts_differ);
    CHECK(named);
}

/* ---- resumption across worker processes (forked after tls_ctx_new) ---- */

/* In a child whose clock reads `now`: a full handshake; the client's session
 * comes back to the parent DER-encoded through a pipe. NULL on failure. */
static SSL_SESSION *session_from_child(tls_ctx *ctx, SSL_CTX *cc, time_t now)
{
    unsigned char der[8192];
    const unsigned char *cdp = der;
    int fd[2], st = 0;
    size_t got = 0;
    ssize_t r;
    if (pipe(fd) < 0)
        return NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        fake_now = now;
        pair p;
        unsigned char *dp = der;
        int n = 0;
        if (handshake(&p, ctx, cc, 1, "localhost", NULL, NULL) && !SSL_session_reused(p.cl)) {
            SSL_SESSION *s = SSL_get1_session(p.cl);
            int len = s ? i2d_SSL_SESSION(s, NULL) : 0;
            if (len > 0 && len <= (int)sizeof der)
                n = i2d_SSL_SESSION(s, &dp);
            SSL_SESSION_free(s);
        }
        pair_free(&p);
        _exit(n > 0 && write(fd[1], der, (size_t)n) == n ? 0 : 1);
    }
    close(fd[1]);
    while (pid > 0 && got < sizeof der && (r = read(fd[0], der + got, sizeof der - got)) > 0)
        got += (size_t)r;
    close(fd[0]);
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !got)
        return NULL;
    return d2i_SSL_SESSION(NULL, &cdp, (long)got);
}

/* In a child whose clock reads `now` (and which first reloads its copy of
 * the certificates, like a worker after SIGHUP, if `reload`): does `sess`
 * resume? The child answers with its exit status: 0 resumed, 1 full
 * handshake, 2 failed. */
static int resume_in_child(tls_ctx *ctx, SSL_CTX *cc, SSL_SESSION *sess, time_t now, int reload)
{
    int st = 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char err[256];
        tls_cert_cfg c[] = {{NULL, cert_b, key_b}};
        fake_now = now;
        if (reload && tls_ctx_reload(ctx, c, 1, err, sizeof err) < 0)
            _exit(2);
        pair p;
        int hs = handshake(&p, ctx, cc, 1, "localhost", NULL, sess);
        int reused = hs && SSL_session_reused(p.cl);
        pair_free(&p);
        _exit(!hs ? 2 : reused ? 0 : 1);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return 2;
    return WEXITSTATUS(st);
}

/* Worker processes cross a key period boundary independently (after the
 * fork): a ticket issued by one is accepted by another, renewed in the next
 * period and refused in the one after, everywhere alike. */
static int tickets_across_fork(int maxv, char *why, size_t n)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, maxv);
    tls_clock = fake_clock;
    fake_now = PERIOD(9000) + 100;
    SSL_SESSION *s = session_from_child(ctx, cc, PERIOD(9001) + 3);
    int same = s ? resume_in_child(ctx, cc, s, PERIOD(9001) + 50, 0) : -1;
    int next = s ? resume_in_child(ctx, cc, s, PERIOD(9002) + 7, 0) : -1;
    int later = s ? resume_in_child(ctx, cc, s, PERIOD(9003), 0) : -1;
    fake_now = PERIOD(9001) + 60;
    pair p;
    int parent = s && handshake(&p, ctx, cc, 1, "localhost", NULL, s) && SSL_session_reused(p.cl);
    if (s)
        pair_free(&p);
    tls_clock = tls_clock_real;
    snprintf(why, n, "session %s, same period %d, next %d, two later %d, parent %d",
             s ? "made" : "NOT made", same, next, later, parent);
    SSL_SESSION_free(s);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    return s && same == 0 && next == 0 && later == 1 && parent;
}

TEST(tickets_resume_across_processes)
{
    char w12[160], w13[160];
    int ok12 = tickets_across_fork(TLS1_2_VERSION, w12, sizeof w12);
    int ok13 = tickets_across_fork(0, w13, sizeof w13);
    if (!ok12)
        printf("# TLS 1.2: %s\n", w12);
    if (!ok13)
        printf("# TLS 1.3: %s\n", w13);
    CHECK(ok12);
    CHECK(ok13);
}

/* TLS 1.2 clients without tickets resume by session id: the session made
 * by one worker process is found by another through the shared store, also
 * after either reloads its certificates. TLS 1.3 handshakes store nothing
 * (their tickets carry the session). */
TEST(session_ids_resume_across_processes)
{
    char err[256];
    tls_ctx *ctx = ctx_default();
    CHECK(ctx);
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    SSL_CTX_set_options(cc, SSL_OP_NO_TICKET);
    size_t before = shmkv_count(ctx->sessions);
    SSL_SESSION *s = session_from_child(ctx, cc, time(NULL));
    size_t after = shmkv_count(ctx->sessions);
    const unsigned char *tick;
    size_t ticklen = 1;
    if (s)
        SSL_SESSION_get0_ticket(s, &tick, &ticklen);
    int other = s ? resume_in_child(ctx, cc, s, time(NULL), 0) : -1;
    int other_reloaded = s ? resume_in_child(ctx, cc, s, time(NULL), 1) : -1;
    pair p;
    int parent = s && handshake(&p, ctx, cc, 1, "localhost", NULL, s) && SSL_session_reused(p.cl);
    if (s)
        pair_free(&p);
    tls_cert_cfg c[] = {{NULL, cert_b, key_b}};
    int rl = tls_ctx_reload(ctx, c, 1, err, sizeof err);
    int after_reload = s ? resume_in_child(ctx, cc, s, time(NULL), 0) : -1;
    SSL_CTX *c13 = client_ctx(TLS1_3_VERSION, 0);
    size_t n12 = shmkv_count(ctx->sessions);
    int full13 = handshake(&p, ctx, c13, 1, NULL, NULL, NULL);
    pair_free(&p);
    size_t n13 = shmkv_count(ctx->sessions);
    SSL_CTX_free(c13);
    SSL_SESSION_free(s);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(s);
    CHECK_INT(ticklen, 0);   /* really a session id, no ticket */
    CHECK_INT(before, 0);
    CHECK_INT(after, 1);
    CHECK_INT(other, 0);
    CHECK_INT(other_reloaded, 0);
    CHECK(parent);
    CHECK_INT(rl, 0);
    CHECK_INT(after_reload, 0);
    CHECK(full13);
    CHECK_INT(n13, n12);
}

/* A connection that fails after its handshake (here: a forged record) takes
 * its session out of the shared store; no process resumes it. */
TEST(failed_connection_forgets_session)
{
    tls_ctx *ctx = ctx_default();
    CHECK(ctx);
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
    SSL_CTX_set_options(cc, SSL_OP_NO_TICKET);
    pair p;
    int ok = handshake(&p, ctx, cc, 1, "localhost", NULL, NULL);
    SSL_SESSION *s = SSL_get1_session(p.cl);
    size_t stored = shmkv_count(ctx->sessions);
    static const char forged[] = "\x17\x03\x03\x00\x20" "0123456789abcdef0123456789abcdef";
    tls_conn_feed(p.t, forged, sizeof forged - 1);
    int r = tls_conn_read(p.t, &p.plain, &p.wire, &p.err);
    char why[128];
    snprintf(why, sizeof why, "%s", p.err ? p.err : "");
    pair_free(&p);
    size_t left = shmkv_count(ctx->sessions);
    int other = s ? resume_in_child(ctx, cc, s, time(NULL), 0) : -1;
    SSL_SESSION_free(s);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK(ok);
    CHECK_INT(stored, 1);
    CHECK_INT(r, TLS_ERR);
    CHECK(*why);   /* OpenSSL 3.0 says "cipher operation failed" for a bad GCM tag */
    CHECK_INT(left, 0);
    CHECK_INT(other, 1);
}

/* ---- configuration errors and reload ---- */

static void ctx_err(const char *cert, const char *key, const char *host, char *err, size_t n)
{
    tls_cert_cfg c[] = {{host, cert, key}};
    *err = 0;
    tls_ctx *ctx = tls_ctx_new(c, 1, err, n);
    if (ctx) {
        snprintf(err, n, "(no error)");
        tls_ctx_free(ctx);
    }
}

TEST(config_errors_name_the_file)
{
    char err[1024], want[1024], notpem[256], enc[256];
    ctx_err("/nonexistent/cert.pem", key_a, NULL, err, sizeof err);
    CHECK_STR(err, "cannot read certificate /nonexistent/cert.pem: No such file or directory");
    ctx_err(cert_a, "/nonexistent/key.pem", NULL, err, sizeof err);
    CHECK_STR(err, "cannot read key /nonexistent/key.pem: No such file or directory");
    ctx_err(cert_a, key_b, NULL, err, sizeof err);
    snprintf(want, sizeof want, "key %s does not match certificate %s", key_b, cert_a);
    CHECK_STR(err, want);
    ctx_err(cert_rsa, key_a, NULL, err, sizeof err);
    snprintf(want, sizeof want, "key %s does not match certificate %s", key_a, cert_rsa);
    CHECK_STR(err, want);

    snprintf(notpem, sizeof notpem, "%s/notpem.txt", dir_tmp);
    write_file(notpem, "hello\n");
    ctx_err(notpem, key_a, NULL, err, sizeof err);
    snprintf(want, sizeof want, "cannot read certificate %s: no PEM certificate in it", notpem);
    CHECK_STR(err, want);
    ctx_err(cert_a, notpem, NULL, err, sizeof err);
    snprintf(want, sizeof want, "cannot read key %s: no PEM private key in it", notpem);
    CHECK_STR(err, want);
    ctx_err(dir_tmp, key_a, NULL, err, sizeof err);
    snprintf(want, sizeof want, "cannot read certificate %s: not a regular file", dir_tmp);
    CHECK_STR(err, want);

    /* an encrypted key is refused, never prompted for */
    snprintf(enc, sizeof enc, "%s/enc.pem", dir_tmp);
    FILE *kf = fopen(key_a, "r"), *ef = fopen(enc, "w");
    EVP_PKEY *pk = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    int wrote = pk && ef && PEM_write_PrivateKey(ef, pk, EVP_aes_256_cbc(), NULL, 0, NULL, "secret");
    if (kf)
        fclose(kf);
    if (ef)
        fclose(ef);
    EVP_PKEY_free(pk);
    CHECK(wrote);
    ctx_err(cert_a, enc, NULL, err, sizeof err);
    snprintf(want, sizeof want, "cannot read key %s: it is encrypted (atto needs a key without a passphrase)", enc);
    CHECK_STR(err, want);

    ctx_err(cert_a, NULL, "x.test", err, sizeof err);
    CHECK_STR(err, "TLS certificate 1 for x.test needs both cert and key");
    CHECK(tls_ctx_new(NULL, 0, err, sizeof err) == NULL);
    CHECK_STR(err, "no TLS certificate configured");
    tls_cert_cfg twice[] = {{NULL, cert_a, key_a}, {NULL, cert_b, key_b}};
    CHECK(tls_ctx_new(twice, 2, err, sizeof err) == NULL);
    CHECK(strstr(err, "already has a certificate with this key type"));
}

TEST(reload_keeps_old_on_error_and_open_connections)
{
    char err[1024], want[1024];
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    tls_cert_cfg bad[] = {{NULL, "/nonexistent/cert.pem", key_b}};
    tls_cert_cfg mism[] = {{NULL, cert_b, key_a}};
    tls_cert_cfg good[] = {{NULL, cert_b, key_b}};
    int r1 = tls_ctx_reload(ctx, bad, 1, err, sizeof err);
    int e1 = strcmp(err, "cannot read certificate /nonexistent/cert.pem: No such file or directory") == 0;
    int r2 = tls_ctx_reload(ctx, mism, 1, err, sizeof err);
    snprintf(want, sizeof want, "key %s does not match certificate %s", key_a, cert_b);
    int e2 = strcmp(err, want) == 0;
    pair p, before;
    int still_a = handshake(&p, ctx, cc, 1, NULL, NULL, NULL) && peer_is(&p, cert_a);
    pair_free(&p);
    pair_init(&before, ctx, cc, 1, NULL, NULL, NULL);   /* accepted, handshake not started */
    int r3 = tls_ctx_reload(ctx, good, 1, err, sizeof err);
    pump(&before);
    int before_a = SSL_is_init_finished(before.cl) && peer_is(&before, cert_a);
    pair_free(&before);
    int now_b = handshake(&p, ctx, cc, 1, NULL, NULL, NULL) && peer_is(&p, cert_b);
    pair_free(&p);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    CHECK_INT(r1, -1);
    CHECK(e1);
    CHECK_INT(r2, -1);
    CHECK(e2);
    CHECK(still_a);
    CHECK_INT(r3, 0);
    CHECK(before_a);
    CHECK(now_b);
}

/* ---- the development certificate ---- */

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = malloc(65536);
    *n = fread(p, 1, 65536, f);
    fclose(f);
    return p;
}

TEST(dev_cert_created_private_and_reused)
{
    char dir[64] = "/tmp/atto-tls-XXXXXX", cert[256], key[256], cert2[256], key2[256], err[256];
    char atto[128], gi[160];
    CHECK(mkdtemp(dir));
    int r1 = tls_dev_cert(dir, cert, sizeof cert, key, sizeof key, err, sizeof err);
    CHECK_INT(r1, 0);
    struct stat sk, sc, sd;
    CHECK(stat(key, &sk) == 0 && stat(cert, &sc) == 0);
    snprintf(atto, sizeof atto, "%s/.atto", dir);
    CHECK(stat(atto, &sd) == 0);
    CHECK_INT(sk.st_mode & 0777, 0600);
    CHECK_INT(sc.st_mode & 0777, 0644);
    CHECK_INT(sd.st_mode & 0777, 0700);
    snprintf(gi, sizeof gi, "%s/.gitignore", atto);
    size_t gn = 0, n1, n2, k1, k2;
    char *g = slurp(gi, &gn);
    int gi_ok = g && gn == 2 && memcmp(g, "*\n", 2) == 0;
    free(g);
    CHECK(gi_ok);
    char *c1 = slurp(cert, &n1), *ky1 = slurp(key, &k1);
    int r2 = tls_dev_cert(dir, cert2, sizeof cert2, key2, sizeof key2, err, sizeof err);
    char *c2 = slurp(cert2, &n2), *ky2 = slurp(key2, &k2);
    int same = c1 && c2 && ky1 && ky2 && n1 == n2 && k1 == k2 && memcmp(c1, c2, n1) == 0 &&
               memcmp(ky1, ky2, k1) == 0 && strcmp(cert, cert2) == 0;
    free(c1); free(c2); free(ky1); free(ky2);
    CHECK_INT(r2, 0);
    CHECK(same);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

TEST(dev_cert_contents)
{
    X509 *x = read_cert(cert_a);
    CHECK(x);
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char group[32] = "";
    size_t gl = 0;
    EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof group, &gl);
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x));
    uint32_t ku = X509_get_key_usage(x), xku = X509_get_extended_key_usage(x);
    int ca = X509_check_ca(x), ver = (int)X509_get_version(x);
    int self = X509_verify(x, X509_get0_pubkey(x)) == 1 &&
               X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
    int host_ok = X509_check_host(x, "localhost", 0, 0, NULL) == 1 &&
                  X509_check_ip_asc(x, "127.0.0.1", 0) == 1 && X509_check_ip_asc(x, "::1", 0) == 1 &&
                  X509_check_host(x, "example.com", 0, 0, NULL) != 1;
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    int serial_len = serial ? serial->length : 0;
    X509 *y = read_cert(cert_b);
    int serial_differs = y && ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(y)) != 0;
    X509_free(y);
    X509_free(x);
    CHECK_STR(cn, "localhost");
    CHECK_STR(group, "prime256v1");
    CHECK_INT(days, 365);
    CHECK_INT(ver, X509_VERSION_3);
    CHECK_INT(ca, 0);
    CHECK(self);
    CHECK(host_ok);
    CHECK_INT(ku, KU_DIGITAL_SIGNATURE);
    CHECK_INT(xku, XKU_SSL_SERVER);
    CHECK(serial_len >= 8);
    CHECK(serial_differs);
}

TEST(dev_cert_errors)
{
    char cert[256], key[256], err[256];
    int r = tls_dev_cert("/nonexistent/site", cert, sizeof cert, key, sizeof key, err, sizeof err);
    CHECK_INT(r, -1);
    CHECK_STR(err, "cannot create /nonexistent/site/.atto: No such file or directory");
    char small[8];
    r = tls_dev_cert(dir_tmp, small, sizeof small, key, sizeof key, err, sizeof err);
    CHECK_INT(r, -1);
    CHECK(strstr(err, "path too long"));
}

/* ---- plaintext on the TLS port ---- */

TEST(looks_like_http)
{
    CHECK(tls_looks_like_http("GET / HTTP/1.1\r\n", 16));
    CHECK(tls_looks_like_http("POST /x", 7));
    CHECK(tls_looks_like_http("HEAD ", 5));
    CHECK(tls_looks_like_http("PUT ", 4));
    CHECK(tls_looks_like_http("OPTIONS * HTTP/1.1", 18));
    CHECK(tls_looks_like_http("PRI * HTTP/2.0\r\n", 16));
    CHECK(tls_looks_like_http("PROPFIND /", 10));
    CHECK(tls_looks_like_http("GE", 2));   /* can only be the start of a token */
    CHECK(!tls_looks_like_http("\x16\x03\x01\x02\x00\x01", 6));
    CHECK(!tls_looks_like_http("\x80\x2e\x01\x03\x01", 5));
    CHECK(!tls_looks_like_http("", 0));
    CHECK(!tls_looks_like_http(" GET", 4));
    CHECK(!tls_looks_like_http("get / HTTP/1.1", 14));
    CHECK(!tls_looks_like_http("GET\r\n", 5));
    CHECK(!tls_looks_like_http("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ", 31));
}

/* ---- threads: workers handshake while the main thread reloads ---- */

static tls_ctx *shared;
static void *worker(void *arg)
{
    long ok = 0;
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, (int)(long)arg);
    for (int i = 0; i < 25; i++) {
        pair p;
        int hs = handshake(&p, shared, cc, 1, i % 2 ? "example.test" : NULL, "\x02h2", NULL);
        if (hs && (peer_is(&p, cert_a) || peer_is(&p, cert_b)) && SSL_write(p.cl, "ping", 4) == 4) {
            pump(&p);
            ok += buf_size(&p.plain) == 4;
        }
        pair_free(&p);
    }
    SSL_CTX_free(cc);
    ERR_clear_error();
    return (void *)ok;
}

TEST(threads_share_context_across_reloads)
{
    char err[256];
    shared = ctx_default();
    pthread_t th[3];
    long versions[3] = {0, TLS1_2_VERSION, 0}, total = 0;
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, worker, (void *)versions[i]);
    int reload_fail = 0;
    for (int i = 0; i < 20; i++) {
        tls_cert_cfg c[] = {{NULL, i % 2 ? cert_a : cert_b, i % 2 ? key_a : key_b},
                            {"example.test", cert_b, key_b}};
        reload_fail += tls_ctx_reload(shared, c, 2, err, sizeof err) != 0;
        usleep(2000);
    }
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        total += (long)r;
    }
    tls_ctx_free(shared);
    CHECK_INT(reload_fail, 0);
    CHECK_INT(total, 75);
}

/* ---- numbers (printed, not asserted) ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench(void)
{
    tls_ctx *ctx = ctx_default();
    SSL_CTX *cc = client_ctx(TLS1_2_VERSION, 0);
    pair p;
    int n = 200, ok = 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        ok += handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
        pair_free(&p);
    }
    double full = n / (now_s() - t0);
    handshake(&p, ctx, cc, 1, NULL, NULL, NULL);
    SSL_SESSION *s = SSL_get1_session(p.cl);
    pair_free(&p);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        ok += handshake(&p, ctx, cc, 1, NULL, NULL, s) && SSL_session_reused(p.cl);
        SSL_SESSION_free(s);   /* TLS 1.3 tickets are single-use: take the fresh one */
        s = SSL_get1_session(p.cl);
        pair_free(&p);
    }
    double res = n / (now_s() - t0);
    SSL_SESSION_free(s);
    SSL_CTX_free(cc);
    tls_ctx_free(ctx);
    printf("# TLS 1.3 ECDSA P-256 in memory (client+server on one core): %.0f full/s, %.0f resumed/s (%d/%d ok)\n",
           full, res, ok, 2 * n);
}

int main(void)
{
    umask(022);
    strcpy(dir_tmp, "/tmp/atto-tls-XXXXXX");
    if (make_dev(dir_a, cert_a, key_a) < 0 || make_dev(dir_b, cert_b, key_b) < 0 ||
        make_dev(dir_c, cert_c, key_c) < 0 || !mkdtemp(dir_tmp)) {
        printf("FAIL setup: cannot make certificates\n");
        return 1;
    }
    snprintf(cert_rsa, sizeof cert_rsa, "%s/rsa.pem", dir_tmp);
    snprintf(key_rsa, sizeof key_rsa, "%s/rsa.key", dir_tmp);
    if (make_rsa(cert_rsa, key_rsa) < 0) {
        printf("FAIL setup: cannot make the RSA certificate\n");
        return 1;
    }
    RUN(handshake_tls13);
    RUN(handshake_tls12_modern_cipher);
    RUN(tls12_weak_ciphers_refused);
    RUN(dev_cert_verifies_for_localhost_and_ips);
    RUN(data_both_ways);
    RUN(buffers_kept_while_busy_and_given_back_when_quiet);
    RUN(records_start_small_then_grow);
    RUN(write_before_handshake_is_flushed_after);
    RUN(close_notify_both_ways);
    RUN(key_update_answered);
    RUN(renegotiation_refused);
    RUN(large_write_arrives_in_order);
    RUN(big_write_grows_cipher_out_once);
    RUN(output_between_calls_is_kept_in_order);
    RUN(alert_on_failure_reaches_cipher_out);
    RUN(output_bio_controls);
    RUN(alpn_selection);
    RUN(sni_selects_certificate);
    RUN(rsa_and_ecdsa_certificates);
    RUN(old_protocols_refused);
    RUN(garbage_refused_with_reason);
    RUN(resumption);
    RUN(ticket_keys_rotate);
    RUN(ticket_keys_derived);
    RUN(tickets_resume_across_processes);
    RUN(session_ids_resume_across_processes);
    RUN(failed_connection_forgets_session);
    RUN(config_errors_name_the_file);
    RUN(reload_keeps_old_on_error_and_open_connections);
    RUN(dev_cert_created_private_and_reused);
    RUN(dev_cert_contents);
    RUN(dev_cert_errors);
    RUN(looks_like_http);
    RUN(threads_share_context_across_reloads);
    bench();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s' '%s'", dir_a, dir_b, dir_c, dir_tmp);
    if (system(cmd) != 0)
        printf("# could not remove the temporary folders\n");
    return test_done();
}
