/* test_maildir.c — Maildir layout, unique names, durable delivery, and the
 * failure path: an injected ENOSPC and an unwritable folder leave nothing in
 * new/ or tmp/. */
#include "tests/unit/test.h"
#include "mail/maildir.h"
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static char site[256];

static int count_dir(const char *rel)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", site, rel);
    DIR *d = opendir(p);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static int is_dir(const char *rel)
{
    char p[600]; struct stat st;
    snprintf(p, sizeof p, "%s/%s", site, rel);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

TEST(ensure_makes_layout)
{
    char path[600];
    CHECK_INT(maildir_ensure(site, "alice", NULL, path, sizeof path), 0);
    CHECK(is_dir("mail/alice/tmp") && is_dir("mail/alice/new") && is_dir("mail/alice/cur"));
    CHECK(strstr(path, "/mail/alice") != NULL);
    CHECK_INT(maildir_ensure(site, "alice", "Junk", path, sizeof path), 0);
    CHECK(is_dir("mail/alice/.Junk/tmp") && is_dir("mail/alice/.Junk/new") && is_dir("mail/alice/.Junk/cur"));
    char mf[700]; snprintf(mf, sizeof mf, "%s/maildirfolder", path);
    CHECK(access(mf, F_OK) == 0);
    CHECK_INT(maildir_ensure(site, "alice", "INBOX", path, sizeof path), 0);
}

TEST(bad_names_are_einval)
{
    char path[600];
    CHECK_INT(maildir_ensure(site, "../etc", NULL, path, sizeof path), -EINVAL);
    CHECK_INT(maildir_ensure(site, "alice", "../x", path, sizeof path), -EINVAL);
    CHECK_INT(maildir_ensure(site, "alice", ".hidden", path, sizeof path), -EINVAL);
    CHECK_INT(maildir_ensure(site, "alice", "a/b", path, sizeof path), -EINVAL);
    CHECK_INT(maildir_ensure(site, "alice", "a..b", path, sizeof path), -EINVAL);
    CHECK(maildir_valid_folder("Archive.2024"));
    CHECK(!maildir_valid_folder(""));
}

TEST(deliver_lands_in_new_only)
{
    char err[200], p[700];
    const char *msg = "Subject: hi\r\n\r\nbody\r\n";
    CHECK_INT(maildir_deliver(site, "bob", NULL, msg, strlen(msg), err, sizeof err), 0);
    CHECK_INT(maildir_deliver(site, "bob", NULL, msg, strlen(msg), err, sizeof err), 0);
    CHECK_INT(count_dir("mail/bob/new"), 2);
    CHECK_INT(count_dir("mail/bob/tmp"), 0);
    CHECK_INT(count_dir("mail/bob/cur"), 0);
    snprintf(p, sizeof p, "%s/mail/bob/new", site);
    DIR *d = opendir(p); struct dirent *e; char name[300] = "";
    while ((e = readdir(d))) if (e->d_name[0] != '.') snprintf(name, sizeof name, "%s", e->d_name);
    closedir(d);
    char want[40]; snprintf(want, sizeof want, ",S=%zu", strlen(msg));
    CHECK(strstr(name, want) != NULL);
    CHECK(strstr(name, ".M") && strstr(name, "P") && strstr(name, "Q"));
    CHECK(strchr(name, '/') == NULL && strchr(name, ':') == NULL);
    char full[1100]; snprintf(full, sizeof full, "%s/%s", p, name);
    FILE *f = fopen(full, "rb"); char data[100]; size_t n = fread(data, 1, sizeof data, f); fclose(f);
    CHECK_MEM(data, n, msg, strlen(msg));
}

TEST(deliver_into_subfolder)
{
    char err[200];
    CHECK_INT(maildir_deliver(site, "bob", "Junk", "x\r\n", 3, err, sizeof err), 0);
    CHECK_INT(count_dir("mail/bob/.Junk/new"), 1);
    CHECK_INT(count_dir("mail/bob/new"), 2);
}

TEST(enospc_leaves_nothing)
{
    char err[200];
    maildir_inject_errno = ENOSPC;
    CHECK_INT(maildir_deliver(site, "carol", NULL, "x\r\n", 3, err, sizeof err), -ENOSPC);
    CHECK(strstr(err, "No space") != NULL);
    CHECK_INT(maildir_inject_errno, 0);
    CHECK_INT(count_dir("mail/carol/new"), 0);
    CHECK_INT(count_dir("mail/carol/tmp"), 0);
    CHECK_INT(maildir_deliver(site, "carol", NULL, "x\r\n", 3, err, sizeof err), 0);
    CHECK_INT(count_dir("mail/carol/new"), 1);
}

TEST(unusable_tmp_fails_cleanly)
{
    /* tmp/ is a plain file: creating the message fails (works even as root). */
    char err[200], p[600];
    CHECK_INT(maildir_ensure(site, "dave", NULL, p, sizeof p), 0);
    char t[700]; snprintf(t, sizeof t, "%s/tmp", p);
    CHECK(rmdir(t) == 0);
    FILE *f = fopen(t, "w"); fclose(f);
    int rc = maildir_deliver(site, "dave", NULL, "x", 1, err, sizeof err);
    CHECK_INT(rc, -ENOTDIR);
    CHECK(strstr(err, "create") != NULL);
    CHECK_INT(count_dir("mail/dave/new"), 0);
}

TEST(names_are_unique_under_load)
{
    char err[200];
    for (int i = 0; i < 200; i++)
        CHECK_INT(maildir_deliver(site, "erin", NULL, "m", 1, err, sizeof err), 0);
    CHECK_INT(count_dir("mail/erin/new"), 200);
}

int main(void)
{
    snprintf(site, sizeof site, "/tmp/atto-maildir-XXXXXX");
    if (!mkdtemp(site)) return 1;
    RUN(ensure_makes_layout);
    RUN(bad_names_are_einval);
    RUN(deliver_lands_in_new_only);
    RUN(deliver_into_subfolder);
    RUN(enospc_leaves_nothing);
    RUN(unusable_tmp_fails_cleanly);
    RUN(names_are_unique_under_load);
    char cmd[300]; snprintf(cmd, sizeof cmd, "rm -rf %s", site);
    if (system(cmd) != 0) return 1;
    return test_done();
}
