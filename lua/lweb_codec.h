/*
 * lweb_codec.h — the session codec and session-cookie finder of `atto.web`
 * (lua/lweb_codec.c; the format is described there). lua/lweb.c adds these
 * functions to the `atto.web` table:
 *
 *   web.session_encode(value [, previous]) -> string | nil, reason
 *       reasons: "session data has a cycle or is nested too deeply",
 *       "session keys must be strings, numbers or booleans, not X",
 *       "session values must be strings, numbers, booleans or tables, not X",
 *       "session data is larger than 65536 bytes once encoded";
 *       returns `previous` itself when the encoding is byte-equal to it.
 *   web.session_decode(s) -> table | nil (damaged) | false (not this
 *       format, e.g. a Lua literal from an older atto)
 *   web.cookie(header|nil, name) -> value | nil (absent) | false (quoted
 *       or percent-encoded: ask req.cookies)
 */
#ifndef ATTO_LWEB_CODEC_H
#define ATTO_LWEB_CODEC_H
#include <lua.h>

#define LWC_MAX_ENCODED 65536   /* bytes, magic byte included */

/* Adds the functions above to the table on top of the stack. */
void lwc_open(lua_State *L);

#endif
