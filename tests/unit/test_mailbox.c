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

int main(void)
{
    RUN(uids_recent_flags_sync);
    RUN(expunge_and_copy);
    return test_done();
}
