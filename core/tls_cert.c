/*
 * tls_cert.c — the development certificate: a self-signed ECDSA P-256
 * certificate for localhost, 127.0.0.1 and ::1 kept in SITE/.atto/.
 *
 * `atto SITE` with no certificate configured must serve HTTPS and HTTP/2 at
 * once, so on first start we make a key and a certificate with the OpenSSL
 * API (never by running the openssl command) and keep them for later starts.
 * The folder is created mode 0700 and gets a `.gitignore` of `*` so the key
 * never lands in a repository. Files are written to a temporary name
 * (O_CREAT|O_EXCL, key mode 0600, certificate 0644), synced, then renamed, so
 * a crash leaves either the old pair or the new one, never half a key. A
 * pair whose certificate has expired, or that does not parse, is replaced.
 */
#include "core/tls.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TLS_DEV_DAYS 365

/* Is there a usable pair already? Both files regular, the certificate
 * parses and has not expired. */
static int tls_dev_usable(const char *cert_path, const char *key_path)
{
    struct stat st;
    if (stat(key_path, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    FILE *f = fopen(cert_path, "r");
    if (!f)
        return 0;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    int ok = x && X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
    X509_free(x);
    ERR_clear_error();
    return ok;
}

static int tls_dev_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A random positive 127-bit serial (RFC 5280: at most 20 octets, positive). */
static int tls_dev_serial(X509 *x)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    raw[0] &= 0x7f;
    raw[0] |= 0x01;   /* never zero, never shortened below 16 bytes */
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static X509 *tls_dev_make_cert(EVP_PKEY *pkey)
{
    X509 *x = X509_new();
    if (!x || !X509_set_version(x, X509_VERSION_3) || tls_dev_serial(x) < 0)
        goto fail;
    if (!X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), TLS_DEV_DAYS, 0, NULL))
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"localhost", -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, pkey))
        goto fail;
    if (tls_dev_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") < 0 ||
        tls_dev_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        tls_dev_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
        tls_dev_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
        tls_dev_ext(x, NID_subject_key_identifier, "hash") < 0)
        goto fail;
    if (!X509_sign(x, pkey, EVP_sha256()))
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

/* Write with `write_fn` to path.tmp (created exclusively with `mode`), sync,
 * rename over path. */
static int tls_dev_write(const char *path, mode_t mode, int (*write_fn)(FILE *, void *),
                         void *obj, char *err, size_t errlen)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    unlink(tmp);   /* a leftover of ours from a crash */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        goto fail;
    }
    int ok = write_fn(f, obj) && fflush(f) == 0 && fsync(fd) == 0;
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, saved ? strerror(saved) : "PEM encoding failed");
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    unlink(tmp);
    return -1;
}

static int tls_dev_write_key(FILE *f, void *obj)
{
    return PEM_write_PrivateKey(f, obj, NULL, NULL, 0, NULL, NULL);
}

static int tls_dev_write_cert(FILE *f, void *obj)
{
    return PEM_write_X509(f, obj);
}

static int tls_dev_gitignore(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.gitignore", dir) >= (int)sizeof path) {
        snprintf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    int ok = write(fd, "*\n", 2) == 2;
    int saved = errno;
    close(fd);
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

static int tls_dev_generate(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    X509 *x = NULL;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!pkey || !(x = tls_dev_make_cert(pkey))) {
        unsigned long e = ERR_peek_last_error();
        snprintf(err, errlen, "cannot generate the development certificate: %s",
                 e ? ERR_reason_error_string(e) : "OpenSSL failed");
        goto fail;
    }
    if (tls_dev_write(key_path, 0600, tls_dev_write_key, pkey, err, errlen) < 0 ||
        tls_dev_write(cert_path, 0644, tls_dev_write_cert, x, err, errlen) < 0)
        goto fail;
    X509_free(x);
    EVP_PKEY_free(pkey);
    return 0;
fail:
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(pkey);
    return -1;
}

int tls_dev_cert(const char *site_dir, char *cert_path, size_t cert_len,
                 char *key_path, size_t key_len, char *err, size_t errlen)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/.atto", site_dir) >= (int)sizeof dir ||
        snprintf(cert_path, cert_len, "%s/cert.pem", dir) >= (int)cert_len ||
        snprintf(key_path, key_len, "%s/key.pem", dir) >= (int)key_len) {
        snprintf(err, errlen, "site path too long: %s", site_dir);
        return -1;
    }
    if (tls_dev_usable(cert_path, key_path))
        return 0;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (tls_dev_gitignore(dir, err, errlen) < 0)
        return -1;
    return tls_dev_generate(cert_path, key_path, err, errlen);
}
