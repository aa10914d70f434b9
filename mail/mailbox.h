/*
 * mailbox.h — one Maildir folder as IMAP and POP3 see it: messages in UID
 * order, with flags, persistent UIDs and a per-session \Recent.
 *
 * Storage (shared with SMTP delivery, which only ever writes into new/):
 *   DIR/{tmp,new,cur}/     the Maildir; flags live in cur/ names: BASE:2,FLAGS
 *                          with FLAGS sorted (D draft, F flagged, R answered,
 *                          S seen, T deleted)
 *   DIR/atto-uidlist       "atto-uidlist 1 UIDVALIDITY UIDNEXT" then one
 *                          "UID BASE" line per message; rewritten atomically
 *                          (tmp + rename) under an flock on DIR/atto-uidlist.lock
 * A session's view is a snapshot: mailbox_sync() rescans the folder and
 * reports what changed since (expunged messages, other sessions' flag
 * changes, new deliveries) so the session can tell its client when allowed.
 * Messages are read with CRLF line ends whatever the file holds.
 *
 * Errors: functions return 0 or a negative value with a reason in err.
 */
#ifndef ATTO_MAILBOX_H
#define ATTO_MAILBOX_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "core/buf.h"

enum mbox_flag {
    MF_ANSWERED = 1, MF_FLAGGED = 2, MF_DELETED = 4, MF_SEEN = 8, MF_DRAFT = 16,
    MF_ALL = 31
};

typedef struct mbox_msg {
    uint32_t uid;
    unsigned flags;       /* enum mbox_flag */
    int      recent;      /* \Recent for this session */
    int      in_new;      /* still in new/ (read-only views do not move) */
    char    *base;        /* unique name part, before ":2," */
    char    *name;        /* "cur/BASE:2,FS" or "new/BASE" */
    int64_t  size;        /* CRLF size, -1 until known */
    time_t   mtime;       /* INTERNALDATE */
    int64_t  fsize;       /* file size on disk (the metadata cache's key), -1 unknown */
} mbox_msg;

typedef struct mailbox {
    char     *dir;
    uint32_t  uidvalidity, uidnext;
    mbox_msg *m;
    size_t    n, cap;
    int       readonly;   /* EXAMINE / STATUS: new/ is left alone */
} mailbox;

typedef struct mbox_changes {
    uint32_t *expunged;  size_t nexp;   /* sequence numbers, in the order to report them */
    size_t   *changed;   size_t nchg;   /* indexes (after expunges) whose flags changed */
    size_t    added;                    /* messages appended at the end */
} mbox_changes;

int  mailbox_open(mailbox *mb, const char *dir, int readonly, char *err, size_t errlen);
void mailbox_close(mailbox *mb);
/* Rescan; changes may be NULL. Newly found messages go at the end. */
int  mailbox_sync(mailbox *mb, mbox_changes *ch, char *err, size_t errlen);
void mailbox_changes_free(mbox_changes *ch);
/* Rename the file to carry `flags`. -1 if the message is gone. */
int  mailbox_set_flags(mailbox *mb, size_t i, unsigned flags);
/* Full path of message i (the name is refreshed if another session renamed it). */
int  mailbox_path(mailbox *mb, size_t i, char *path, size_t pathlen);
/* Read message i into out with CRLF line ends; sets m[i].size. */
int  mailbox_read(mailbox *mb, size_t i, buf *out);
/* Remove messages with want(i) true; their sequence numbers go to ch. */
int  mailbox_expunge(mailbox *mb, int (*want)(mailbox *, size_t, void *), void *ud,
                     mbox_changes *ch, char *err, size_t errlen);
/* Store a new message in folder DIR/cur with flags and date (0: now);
 * returns its UID and the folder's UIDVALIDITY. */
int  mailbox_append(const char *dir, const char *data, size_t len, unsigned flags, time_t date,
                    uint32_t *uidvalidity, uint32_t *uid, char *err, size_t errlen);
/* Copy message i into folder DIR (hard link when possible). */
int  mailbox_copy(mailbox *mb, size_t i, const char *dir, uint32_t *uidvalidity, uint32_t *uid,
                  char *err, size_t errlen);
/* Create DIR/{tmp,new,cur}; -EEXIST if DIR/cur exists. */
int  mailbox_create(const char *dir, char *err, size_t errlen);
int  mailbox_exists(const char *dir);

/* The folder's exclusive flock (the one that guards atto-uidlist), for
 * other files kept beside the list (the IMAP metadata cache). Returns the
 * lock's descriptor for mailbox_unlock, or -1 with a reason. */
int  mailbox_lock(const char *dir, char *err, size_t errlen);
void mailbox_unlock(int fd);

/* Flag conversions. */
void mailbox_flags_maildir(unsigned flags, char *out);   /* "FRS" (out >= 8 bytes) */
unsigned mailbox_flags_from_name(const char *name);
#endif
