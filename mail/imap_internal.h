/*
 * imap_internal.h — what the pieces of the IMAP session share: the session
 * struct, the reply helpers and the command handlers that live in
 * imap_session.c (connection, state, auth), imap_folders.c (mailbox-level
 * commands), imap_fetch.c (FETCH, STORE, COPY, MOVE, EXPUNGE) and
 * imap_search.c (SEARCH). Not a public interface: imap_session.h is.
 */
#ifndef ATTO_IMAP_INTERNAL_H
#define ATTO_IMAP_INTERNAL_H
#include "core/buf.h"
#include "core/conn.h"
#include "mail/imap_parse.h"
#include "mail/mailbox.h"
#include "mail/mcache.h"
#include "mail/mime.h"

enum imap_state { IS_NOAUTH = 1, IS_AUTH = 2, IS_SELECTED = 4, IS_LOGOUT = 8 };
enum imap_wait  { W_NONE, W_AUTH, W_IDLE };

typedef struct imap_sess {
    conn        *c;
    int          state;          /* enum imap_state */
    buf          in;             /* unparsed input */
    imap_scan    scan;
    imap_limits  lim;
    int          skip_line;      /* discard input up to the next LF */
    int          closing;        /* close once the current input is handled */
    int          auth_failures;
    int          plaintext_ok;   /* plaintext auth allowed on this conn */
    char         site[4096];
    char         user[65];
    char         home[4200];     /* SITE/mail/USER */
    mailbox      mb;             /* valid in IS_SELECTED */
    char         mbname[512];
    int          wait;           /* enum imap_wait: a line that is not a command */
    char         tag[260];       /* tag of the command being run */
    buf          out;            /* scratch for building responses */
    uint32_t     cache_uid;      /* message held in msg (0: none) */
    buf          msg;
    mime_part   *mime;
    mcache      *mc;             /* the folder's metadata cache, during FETCH/SEARCH */
    unsigned     idle_ticks;     /* seconds without a command */
} imap_sess;

#define IMAP_IDLE_POLL_MS 1000
#define IMAP_AUTOLOGOUT_S 1800

/* Replies. */
void imap_tagged(imap_sess *s, const char *status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void imap_untagged(imap_sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_send_buf(imap_sess *s, buf *b);     /* write and empty b */
/* Tell the client what mailbox_sync found (EXPUNGE only when allowed). */
void imap_report(imap_sess *s, mbox_changes *ch);
int  imap_sync(imap_sess *s, int allow_expunge);
void imap_put_flags(buf *b, const mbox_msg *m);
/* Parse a flag list (or a single flag) into MF_ bits; -1 on \Recent or junk. */
int  imap_parse_flags(const imap_arg *a, size_t n, unsigned *flags);
/* Message cache: load message i (CRLF), parse MIME on demand. */
int  imap_load(imap_sess *s, size_t i);
mime_part *imap_mime(imap_sess *s);
void imap_cache_drop(imap_sess *s);
/* Metadata cache (mcache.h) around a command: begin opens it (s->mc), end
 * saves it if entries were added; imap_meta finds message i's entry or
 * reads the message to build it (NULL: no cache or the message is gone;
 * then imap_load tells which). */
void imap_meta_begin(imap_sess *s);
void imap_meta_end(imap_sess *s);
const mcache_ent *imap_meta(imap_sess *s, size_t i);
/* Sequence set argument (seq numbers or UIDs); -1 (and BAD sent) if invalid. */
int  imap_get_set(imap_sess *s, imap_cmd *cmd, const imap_arg *a, int uid, imap_seqset *set);
int  imap_in_set(imap_sess *s, size_t i, const imap_seqset *set, int uid);
/* Mailbox name to folder directory; -1 if the name is not acceptable. */
int  imap_folder_dir(imap_sess *s, const char *name, char *dir, size_t dirlen);
void imap_deselect(imap_sess *s);

typedef void (*imap_fn)(imap_sess *s, imap_cmd *cmd, const imap_arg *a, size_t n, int uid);
void imap_cmd_select(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_create(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_delete(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_rename(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_subscribe(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_list(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_status(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_append(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_fetch(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_store(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_copy(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_expunge(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_close(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
void imap_cmd_search(imap_sess *, imap_cmd *, const imap_arg *, size_t, int);
#endif
