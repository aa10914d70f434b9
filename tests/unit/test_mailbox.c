/*
 * test_mailbox.c — the Maildir view: UIDs given once and kept across opens
 * (atto-uidlist), new/ moved to cur/ with \Recent for the first session
 * only, flags in file names, another view's changes seen by sync, expunge,
 * append and copy registering UIDs, CRLF normalisation on read.
 */
#include "tests/unit/test.h"
#include "mail/mailbox.h"
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[128];

static void put(const char *sub, const char *name, const char *data)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(p, "w");
    fputs(data, f);
    fclose(f);
}

TEST(uids_recent_flags_sync)
{
    char err[256];
    snprintf(dir, sizeof dir, "/tmp/atto-mbox-XXXXXX");
    CHECK(mkdtemp(dir));
    rmdir(dir);
    CHECK(mailbox_create(dir, err, sizeof err) == 0);
    CHECK(mailbox_create(dir, err, sizeof err) == -17);
    put("new", "100.a", "Subject: a\n\nx\n");
    put("cur", "99.b:2,S", "Subject: b\r\n\r\ny\r\n");
    mailbox a, b;
    CHECK(mailbox_open(&a, dir, 0, err, sizeof err) == 0);
    CHECK_INT(a.n, 2);
    CHECK(a.m[0].uid == 1 && a.m[1].uid == 2);
    CHECK(a.m[1].flags == MF_SEEN || a.m[0].flags == MF_SEEN);
    CHECK(a.m[0].recent + a.m[1].recent == 1);
    CHECK(mailbox_open(&b, dir, 0, err, sizeof err) == 0);
    CHECK(b.uidvalidity == a.uidvalidity && b.m[0].uid == 1 && b.m[0].recent + b.m[1].recent == 0);
    buf m = BUF_INIT;
    size_t ia = a.m[0].base[0] == '1' ? 0 : 1;      /* "100.a" */
    CHECK(mailbox_read(&a, ia, &m) == 0);
    CHECK_STR(buf_cstr(&m), "Subject: a\r\n\r\nx\r\n");
    CHECK(mailbox_set_flags(&a, ia, MF_FLAGGED | MF_SEEN | MF_DRAFT) == 0);
    CHECK(strstr(a.m[ia].name, ":2,DFS") != NULL);
    mbox_changes ch = {0};
    CHECK(mailbox_sync(&b, &ch, err, sizeof err) == 0);
    CHECK(ch.nchg == 1 && b.m[ch.changed[0]].flags == (MF_FLAGGED | MF_SEEN | MF_DRAFT));
    mailbox_changes_free(&ch);
    uint32_t uv, uid;
    CHECK(mailbox_append(dir, "Subject: c\r\n\r\nz\r\n", 17, MF_ANSWERED, 0, &uv, &uid, err, sizeof err) == 0);
    CHECK(uid == 3 && uv == a.uidvalidity);
    CHECK(mailbox_sync(&a, &ch, err, sizeof err) == 0 && ch.added == 1 && a.m[2].uid == 3);
    mailbox_changes_free(&ch);
    CHECK(mailbox_set_flags(&a, 0, a.m[0].flags | MF_DELETED) == 0);
    mailbox_close(&a);
    mailbox_close(&b);
    /* reopen: UIDs kept */
    CHECK(mailbox_open(&a, dir, 1, err, sizeof err) == 0);
    CHECK(a.n == 3 && a.m[2].uid == 3 && a.uidnext == 4);
    mailbox_close(&a);
    buf_free(&m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static int want_deleted(mailbox *mb, size_t i, void *ud) { return (mb->m[i].flags & MF_DELETED) != 0; }

TEST(expunge_and_copy)
{
    char err[256], dst[160];
    snprintf(dir, sizeof dir, "/tmp/atto-mbox-XXXXXX");
    CHECK(mkdtemp(dir));
    rmdir(dir);
    CHECK(mailbox_create(dir, err, sizeof err) == 0);
    snprintf(dst, sizeof dst, "%s/.Junk", dir);
    CHECK(mailbox_create(dst, err, sizeof err) == 0);
    put("cur", "1.a:2,T", "a\n");
    put("cur", "2.b:2,", "b\n");
    put("cur", "3.c:2,T", "c\n");
    mailbox a;
    CHECK(mailbox_open(&a, dir, 0, err, sizeof err) == 0 && a.n == 3);
    uint32_t uv, uid;
    CHECK(mailbox_copy(&a, 1, dst, &uv, &uid, err, sizeof err) == 0 && uid == 1);
    mbox_changes ch = {0};
    CHECK(mailbox_expunge(&a, want_deleted, NULL, &ch, err, sizeof err) == 0);
    CHECK(ch.nexp == 2 && ch.expunged[0] == 1 && ch.expunged[1] == 2);
    CHECK(a.n == 1 && a.m[0].uid == 2);
    mailbox_changes_free(&ch);
    mailbox_close(&a);
    mailbox j;
    CHECK(mailbox_open(&j, dst, 1, err, sizeof err) == 0 && j.n == 1 && j.m[0].uid == 1);
    mailbox_close(&j);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* The old two-pass conversion, as the reference for mailbox_read. */
static void crlf_ref(const char *p, size_t got, buf *out)
{
    size_t k = 0;
    while (k < got) {
        const char *lf = memchr(p + k, '\n', got - k);
        size_t end = lf ? (size_t)(lf - p) : got;
        buf_append(out, p + k, end - k);
        if (!lf)
            break;
        buf_append(out, (end > 0 && p[end - 1] == '\r') ? "\n" : "\r\n", (end > 0 && p[end - 1] == '\r') ? 1 : 2);
        k = end + 1;
    }
}

TEST(read_normalises_line_ends_and_records_file_size)
{
    static const char *forms[] = {
        "", "\n", "\n\n", "\r\n", "\r\r\n", "x", "x\n", "x\r", "\rx\n", "a\r\nb\nc\r\n\nd",
        "Subject: s\n\nbody\nno end", "\n\r\n\n\r\r\n\n",
    };
    char err[256], name[32];
    snprintf(dir, sizeof dir, "/tmp/atto-mbox-XXXXXX");
    CHECK(mkdtemp(dir));
    rmdir(dir);
    CHECK(mailbox_create(dir, err, sizeof err) == 0);
    size_t nf = sizeof forms / sizeof forms[0];
    for (size_t i = 0; i < nf; i++) {
        snprintf(name, sizeof name, "%02zu.f:2,", i);
        put("cur", name, forms[i]);
    }
    buf big = BUF_INIT;                                  /* 40,000 bare LFs */
    for (int i = 0; i < 40000; i++)
        buf_append(&big, i % 3 ? "line\n" : "line\r\n", i % 3 ? 5 : 6);
    put("cur", "99.big:2,", buf_cstr(&big));
    mailbox a;
    CHECK(mailbox_open(&a, dir, 1, err, sizeof err) == 0);
    CHECK_INT(a.n, nf + 1);
    buf got = BUF_INIT, want = BUF_INIT;
    for (size_t i = 0; i < a.n; i++) {
        const char *src = i < nf ? forms[i] : buf_head(&big);
        size_t len = i < nf ? strlen(src) : buf_size(&big);
        CHECK_INT(a.m[i].fsize, len);
        buf_reset(&want);
        crlf_ref(src, len, &want);
        CHECK(mailbox_read(&a, i, &got) == 0);
        CHECK_MEM(buf_head(&got), buf_size(&got), buf_head(&want), buf_size(&want));
        CHECK_INT(a.m[i].size, buf_size(&want));
    }
    mailbox_close(&a);
    buf_free(&got);
    buf_free(&want);
    buf_free(&big);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    RUN(uids_recent_flags_sync);
    RUN(expunge_and_copy);
    RUN(read_normalises_line_ends_and_records_file_size);
    return test_done();
}
