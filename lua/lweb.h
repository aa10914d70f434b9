/*
 * lweb.h — what the master process calls around the web session store of
 * lua/lweb.c (the store itself is reached from Lua as web.session_*).
 *
 * With worker processes the store must exist before the first fork so that
 * every worker shares it; the master also owns the snapshot file. When
 * lweb_sessions_start is never called, the store is created lazily in the
 * process that first serves, which then loads and saves the snapshot itself.
 * No Lua types here: core/ may include this header.
 */
#ifndef ATTO_LWEB_H
#define ATTO_LWEB_H
#include <stddef.h>

/* Master, before forking workers: create the shared session store (64 MiB
 * reserved, pages used on demand) and load SITE/.atto/sessions if present
 * (a damaged file is reported on stderr and ignored from the damage on).
 * If a serving Lua state in this process already loaded it lazily, that
 * store is kept and its exit-time save is disabled: from now on only
 * lweb_sessions_save writes. 0, or -1 with a reason in err: the mapping
 * failed, or the site path is too long. */
int lweb_sessions_start(const char *site_dir, char *err, size_t errlen);

/* Master, after every worker has exited (clean stop): write
 * SITE/.atto/sessions (mode 0600, atomic rename). Failures are reported on
 * stderr. Does nothing if the store was never started. */
void lweb_sessions_save(void);

#endif
