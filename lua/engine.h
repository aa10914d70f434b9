/*
 * engine.h — the Lua application: what a worker runs for every request.
 *
 * One Lua state per worker, loaded from SITE/index.lua (and mail.lua). The
 * core sees only `lua_app_ops` (core/server.h's app_ops) and never includes
 * lua.h. lua_app_check() loads a site once in a throwaway state: it serves
 * `atto check` and lets main read site:listen{} before binding ports.
 */
#ifndef ATTO_LUA_ENGINE_H
#define ATTO_LUA_ENGINE_H
#include <stddef.h>
#include "core/server.h"

extern const app_ops lua_app_ops;

/* Load SITE's scripts; apply site:listen{} to cfg for every port whose
 * `flag_set[kind]` is 0 (flags win). Returns 0, or -1 with "file:line: what"
 * in err. Also reports whether the site has Gopher routes / mail.lua. */
int lua_app_check(server_config *cfg, const int *flag_set, int *has_gopher, int *has_mail,
                  char *err, size_t errlen);
#endif
