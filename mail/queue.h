/*
 * queue.h — the outbound mail spool, SITE/.atto/queue/, and its runner.
 *
 * One file per message: a small envelope header (sender, recipients, when it
 * was queued, attempts, next try) then the message. Written durably (tmp +
 * fsync + rename + fsync of the folder) before mail_queue_submit returns 0.
 * The runner, on a libuv timer, sends due messages to the smarthost with a
 * non-blocking SMTP client (EHLO, MAIL, RCPT, DATA, QUIT): 250 removes the
 * file, 4xx or a connection failure retries with backoff (1, 5, 15, 60 min,
 * then hourly), 5xx or the retry limit (2 days) bounces to the sender. The
 * directory is rescanned at start, so nothing is lost across a restart.
 * ATTO_QUEUE_FAST=1 in the environment shrinks the schedule to seconds and
 * the retry limit to 5 s (tests). Several runners may share a spool: a file
 * is claimed with flock() while it is being sent.
 */
#ifndef ATTO_MAIL_QUEUE_H
#define ATTO_MAIL_QUEUE_H
#include <stddef.h>
#include "mail/hooks.h"

/* Queue one message for `to` (nto >= 1 addresses). from "" is the null
 * sender. 0, or -errno with a reason in err. */
int  mail_queue_submit(const char *site_dir, const char *from, const char *const *to, size_t nto,
                       const char *data, size_t len, char *err, size_t errlen);
/* Start the runner on uv_loop (a uv_loop_t*). cfg is copied (domains and
 * smarthost). Call once per process (one worker). */
void mail_queue_start(void *uv_loop, const char *site_dir, const mail_config *cfg);
/* Look at the spool soon (after a submit), instead of at the next tick. */
void mail_queue_kick(void);
/* Stop the runner (closes its handles; the loop must run to finish). */
void mail_queue_stop(void);
#endif
