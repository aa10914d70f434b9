/*
 * mail_fake_conn.h — fake connection layer for the IMAP and POP3 session
 * tests: conn_write and friends collect output into one buffer, the timer
 * and STARTTLS are recorded, and a temporary site with users.passwd and a
 * Maildir stands in for the real one. Included by one test file each.
 */
#ifndef ATTO_MAIL_FAKE_CONN_H
#define ATTO_MAIL_FAKE_CONN_H
#include "core/buf.h"
#include "core/conn.h"
#include "core/server.h"
#include "mail/hooks.h"
#include "mail/users.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static buf fake_out;
static int fake_tls, fake_closed;
static uint64_t fake_timer_ms;
static void (*fake_tls_ready)(conn *c);

int conn_write(conn *c, const void *d, size_t n) { buf_append(&fake_out, d, n); return 0; }
int conn_writev(conn *c, const struct iovec *iov, int n)
{
    for (int i = 0; i < n; i++)
        buf_append(&fake_out, iov[i].iov_base, iov[i].iov_len);
    return 0;
}
int conn_puts(conn *c, const char *s) { buf_puts(&fake_out, s); return 0; }
int conn_printf(conn *c, const char *fmt, ...)
{
    char *p = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_append(&fake_out, p, (size_t)n);
    free(p);
    return 0;
}
void conn_close(conn *c) { fake_closed = 1; }
void conn_abort(conn *c) { fake_closed = 1; }
void conn_timer(conn *c, uint64_t ms) { fake_timer_ms = ms; }
void conn_pause(conn *c) {}
void conn_resume(conn *c) {}
size_t conn_queued(const conn *c) { return 0; }
int conn_starttls(conn *c, void (*on_ready)(conn *c)) { fake_tls_ready = on_ready; return 0; }
int conn_is_tls(const conn *c) { return fake_tls; }
const char *conn_alpn(const conn *c) { return NULL; }
const char *conn_sni(const conn *c) { return NULL; }
void *conn_loop(conn *c) { return NULL; }

static mail_config fake_mcfg = { NULL, 0, NULL, 0, 1024 * 1024, 0 };
static const mail_config *fake_config(void *app) { return &fake_mcfg; }
static mail_hooks fake_hooks = { .config = fake_config };
static app_ops fake_ops = { .mail = &fake_hooks };
static server_config fake_scfg;
static worker fake_worker;
static conn fake_c;
static char fake_site[256];

static void fake_write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    fputs(data, f);
    fclose(f);
}

/* A fresh site with user alice (password "secret") and an empty Maildir. */
static void fake_site_setup(void)
{
    char err[256], p[512];
    snprintf(fake_site, sizeof fake_site, "/tmp/atto-mailtest-XXXXXX");
    if (!mkdtemp(fake_site))
        abort();
    if (users_set(fake_site, "alice", "secret", err, sizeof err) < 0) {
        fprintf(stderr, "users_set: %s\n", err);
        abort();
    }
    static const char *sub[] = { "/mail", "/mail/alice", "/mail/alice/tmp", "/mail/alice/new", "/mail/alice/cur" };
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s%s", fake_site, sub[i]);
        mkdir(p, 0700);
    }
    fake_scfg.site_dir = fake_site;
    fake_worker.cfg = &fake_scfg;
    fake_worker.ops = &fake_ops;
    fake_worker.tls = NULL;
    fake_c.w = &fake_worker;
    snprintf(fake_c.remote_addr, sizeof fake_c.remote_addr, "127.0.0.1");
}

/* Drop a message into the user's new/ (as SMTP delivery would). */
/* Feed a protocol one chunk of client bytes; its answer is in fake_out. */
static void fake_feed(const conn_proto *p, const char *s)
{
    buf_reset(&fake_out);
    p->read(&fake_c, s, strlen(s));
    buf_cstr(&fake_out);
}

/* A fresh site and a fresh, plaintext connection opened by protocol p. */
static void fake_start(const conn_proto *p, int plaintext_auth)
{
    fake_site_setup();
    fake_mcfg.plaintext_auth = plaintext_auth;
    fake_tls = 0;
    fake_closed = 0;
    buf_reset(&fake_out);
    p->open(&fake_c);
}

static void fake_deliver(const char *name, const char *data)
{
    char p[512];
    snprintf(p, sizeof p, "%s/mail/alice/new/%s", fake_site, name);
    fake_write_file(p, data);
}

static int fake_count(const char *sub)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s/mail/alice/%s | wc -l", fake_site, sub);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (fscanf(f, "%d", &n) != 1)
        n = -1;
    pclose(f);
    return n;
}

static void fake_site_teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fake_site);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

static int out_has(const char *s)
{
    buf_cstr(&fake_out);
    return fake_out.data && strstr(buf_head(&fake_out), s) != NULL;
}
#endif
