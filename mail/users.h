/*
 * users.h — the site's mail users: SITE/users.passwd, one `user:hash` a line.
 *
 * Hashes are crypt(3) strings from libcrypt: yescrypt ("$y$", what we write)
 * or bcrypt ("$2b$", accepted). Lines starting with '#' and blank lines are
 * ignored. users_check compares in constant time and runs a full crypt even
 * for an unknown user, so the answer time does not tell which users exist.
 * The file is rewritten atomically (tmp + fsync + rename + fsync of the
 * folder) with mode 0600. A user name is 1..64 bytes of [A-Za-z0-9._-], not
 * starting with '.' (it is also a Maildir folder name).
 */
#ifndef ATTO_MAIL_USERS_H
#define ATTO_MAIL_USERS_H
#include <stddef.h>

/* 1: user exists and password matches; 0: no (any error counts as no). */
int users_check(const char *site_dir, const char *user, const char *password);
/* 1: user has a line in users.passwd; 0: no or unreadable. */
int users_exists(const char *site_dir, const char *user);
/* Add or change a user. 0 ok; <0 (-errno or -EINVAL) with a reason in err. */
int users_set(const char *site_dir, const char *user, const char *password, char *err, size_t errlen);
/* `atto passwd SITE USER`: argv[0] = SITE, argv[1] = USER. Asks twice on a
 * tty (no echo), else reads one line from stdin. Returns the exit code. */
int users_passwd_main(int argc, char **argv);
/* 1 when `user` is a valid user name (see above), else 0. */
int users_valid_name(const char *user);
#endif
