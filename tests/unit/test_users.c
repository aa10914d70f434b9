/* test_users.c — users.passwd: set/check with yescrypt, bcrypt lines,
 * wrong password, unknown user, mode 0600, rewriting keeps other users. */
#include "tests/unit/test.h"
#include "mail/users.h"
#include <crypt.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char site[256];

static void users_file(const char *text)
{
    char p[300];
    snprintf(p, sizeof p, "%s/users.passwd", site);
    FILE *f = fopen(p, "w"); fputs(text, f); fclose(f);
}

TEST(set_then_check)
{
    char err[200];
    CHECK_INT(users_set(site, "alice", "s3cret pass", err, sizeof err), 0);
    CHECK(users_exists(site, "alice"));
    CHECK(users_check(site, "alice", "s3cret pass"));
    CHECK(!users_check(site, "alice", "s3cret pas"));
    CHECK(!users_check(site, "alice", ""));
    CHECK(!users_check(site, "bob", "s3cret pass"));
    CHECK(!users_exists(site, "bob"));
}

TEST(file_is_0600_and_yescrypt)
{
    char p[300], line[512], err[200];
    CHECK_INT(users_set(site, "carol", "pw", err, sizeof err), 0);
    snprintf(p, sizeof p, "%s/users.passwd", site);
    struct stat st;
    CHECK(stat(p, &st) == 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    FILE *f = fopen(p, "r");
    int found = 0;
    while (fgets(line, sizeof line, f)) if (strncmp(line, "carol:$y$", 9) == 0) found = 1;
    fclose(f);
    CHECK(found);
}

TEST(change_keeps_others)
{
    char err[200];
    CHECK_INT(users_set(site, "dave", "one", err, sizeof err), 0);
    CHECK_INT(users_set(site, "erin", "two", err, sizeof err), 0);
    CHECK_INT(users_set(site, "dave", "three", err, sizeof err), 0);
    CHECK(!users_check(site, "dave", "one"));
    CHECK(users_check(site, "dave", "three"));
    CHECK(users_check(site, "erin", "two"));
    CHECK(users_check(site, "alice", "s3cret pass"));
}

TEST(bcrypt_line_and_comments)
{
    struct crypt_data cd;
    memset(&cd, 0, sizeof cd);
    char salt[CRYPT_GENSALT_OUTPUT_SIZE], text[512];
    CHECK(crypt_gensalt_rn("$2b$", 5, NULL, 0, salt, sizeof salt));
    const char *h = crypt_rn("hunter2", salt, &cd, sizeof cd);
    CHECK(h && h[0] == '$');
    snprintf(text, sizeof text, "# users\n\nfrank:%s\r\nfrankie:$y$nothing\n", h);
    users_file(text);
    CHECK(users_check(site, "frank", "hunter2"));
    CHECK(!users_check(site, "frank", "hunter3"));
    CHECK(!users_check(site, "frankie", "x"));
    CHECK(users_exists(site, "frankie"));
    CHECK(!users_exists(site, "fran"));
}

TEST(bad_names_refused)
{
    char err[200];
    CHECK(users_set(site, "../x", "pw", err, sizeof err) < 0);
    CHECK(strstr(err, "bad user name") != NULL);
    CHECK(users_set(site, ".hidden", "pw", err, sizeof err) < 0);
    CHECK(users_set(site, "a:b", "pw", err, sizeof err) < 0);
    CHECK(users_set(site, "ok", "", err, sizeof err) < 0);
    CHECK(users_set(site, "ok", "a\nb", err, sizeof err) < 0);
    CHECK(!users_check(site, "a:b", "pw"));
    CHECK(users_valid_name("alice.smith-2_x"));
}

TEST(missing_file_is_no_user)
{
    char other[300];
    snprintf(other, sizeof other, "%s/empty", site);
    mkdir(other, 0700);
    CHECK(!users_exists(other, "alice"));
    CHECK(!users_check(other, "alice", "x"));
}

TEST(passwd_main_reads_stdin)
{
    char err[200];
    (void)err;
    FILE *in = tmpfile();
    fputs("piped-pw\n", in); rewind(in);
    int saved = dup(0);
    dup2(fileno(in), 0);
    char *argv[] = { site, "gina", NULL };
    int rc = users_passwd_main(2, argv);
    dup2(saved, 0); close(saved); fclose(in);
    clearerr(stdin);
    CHECK_INT(rc, 0);
    CHECK(users_check(site, "gina", "piped-pw"));
    char *bad[] = { "/nonexistent/site", "gina", NULL };
    CHECK_INT(users_passwd_main(2, bad), 1);
    CHECK_INT(users_passwd_main(1, bad), 2);
}

int main(void)
{
    snprintf(site, sizeof site, "/tmp/atto-users-XXXXXX");
    if (!mkdtemp(site)) return 1;
    RUN(set_then_check);
    RUN(file_is_0600_and_yescrypt);
    RUN(change_keeps_others);
    RUN(bcrypt_line_and_comments);
    RUN(bad_names_refused);
    RUN(missing_file_is_no_user);
    RUN(passwd_main_reads_stdin);
    char cmd[300]; snprintf(cmd, sizeof cmd, "rm -rf %s", site); if (system(cmd) != 0) return 1;
    return test_done();
}
