/*
 * protocols.h — which protocols this build of atto carries, and the
 * subcommands that belong to them. main.c calls these; each protocol module
 * is referenced weakly, so the binary builds while a module is absent.
 */
#ifndef ATTO_PROTOCOLS_H
#define ATTO_PROTOCOLS_H
#include "core/server.h"

void protocols_register(server_config *cfg, int has_mail, int has_gopher);
int  protocols_subcommand(const char *cmd, int argc, char **argv);  /* passwd, hpack */
int  protocols_new_site(const char *dir);                          /* atto new */
#endif
