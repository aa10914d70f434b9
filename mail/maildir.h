/*
 * maildir.h — the Maildir store: SITE/mail/<user>/{tmp,new,cur}, with
 * Maildir++ subfolders SITE/mail/<user>/.<Folder>/{tmp,new,cur} (+ an empty
 * `maildirfolder` file), so IMAP sees "Junk" as SITE/mail/<user>/.Junk.
 *
 * Delivery is durable: the message is written to tmp/<unique>, fsync'd,
 * linked into new/ under the same name (rename when link is not supported),
 * tmp/ entry removed, and new/ fsync'd. When maildir_deliver returns 0 the
 * message survives a crash; when it fails nothing is left in new/ nor tmp/.
 * Unique names: <sec>.M<usec>P<pid>Q<n>.<host>,S=<size> (host with '/' and
 * ':' escaped as \057 and \072, as Dovecot does).
 */
#ifndef ATTO_MAIL_MAILDIR_H
#define ATTO_MAIL_MAILDIR_H
#include <stddef.h>

/* Create (if needed) the user's folder and its tmp/new/cur; folder NULL or
 * "INBOX" is the top Maildir, otherwise a Maildir++ subfolder name like
 * "Junk" or "Archive.2024" (no '/', not starting with '.'). Writes the
 * folder's path to `path`. 0 or -errno (-EINVAL for a bad user/folder). */
int maildir_ensure(const char *site_dir, const char *user, const char *folder, char *path, size_t pathlen);
/* Durable delivery of one message (see above). 0, or -errno with a reason. */
int maildir_deliver(const char *site_dir, const char *user, const char *folder,
                    const char *data, size_t len, char *err, size_t errlen);
/* The same, and the delivered file's path (in new/) written to `path`, so
 * a caller delivering several copies can take them back (unlink) when a
 * later copy fails. */
int maildir_deliver_path(const char *site_dir, const char *user, const char *folder,
                         const char *data, size_t len, char *path, size_t pathlen, char *err, size_t errlen);
/* 1 when `folder` is an acceptable folder name (NULL and "INBOX" are). */
int maildir_valid_folder(const char *folder);

/* Failure injection for tests: when set to a positive errno, the next
 * delivery fails with it after its tmp file was created (as ENOSPC on a
 * write would), and the value resets to 0. Never set outside tests. */
extern int maildir_inject_errno;
extern int maildir_inject_skip;   /* let this many deliveries through first */
#endif
