/*
 * protocols.c — wiring protocols to listeners, and the subcommands.
 *
 * HTTP/1.1 is always there. HTTP/2, the mail protocols and Gopher live in
 * their own modules; they are referenced weakly so that each can be built,
 * tested and landed on its own. A listener whose protocol is missing is not
 * opened (and says so). Mail listeners open only when the site has
 * mail.lua; Gopher only when it has Gopher routes or a gopher/ folder.
 */
#include "core/protocols.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "core/http1_conn.h"

extern const conn_proto h2_proto __attribute__((weak));
extern const conn_proto smtp_proto __attribute__((weak));
extern const conn_proto submission_proto __attribute__((weak));
extern const conn_proto imap_proto __attribute__((weak));
extern const conn_proto pop3_proto __attribute__((weak));
extern const conn_proto gopher_proto __attribute__((weak));
extern const http1_h2_hooks h2_http1_hooks __attribute__((weak));
int hpack_cli_main(int argc, char **argv) __attribute__((weak));
int users_passwd_main(int argc, char **argv) __attribute__((weak));

static int dir_exists(const char *site, const char *sub)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", site, sub);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

void protocols_register(server_config *cfg, int has_mail, int has_gopher)
{
    server_set_proto(LISTEN_HTTP, &http1_proto);
    if (&h2_proto) {
        server_set_h2_proto(&h2_proto);
        if (&h2_http1_hooks)
            http1_set_h2_hooks(&h2_http1_hooks);
    }
    if (has_mail) {
        if (&smtp_proto) server_set_proto(LISTEN_SMTP, &smtp_proto);
        if (&submission_proto) {
            server_set_proto(LISTEN_SUBMISSION, &submission_proto);
            server_set_proto(LISTEN_SMTPS, &submission_proto);
        }
        if (&imap_proto) {
            server_set_proto(LISTEN_IMAP, &imap_proto);
            server_set_proto(LISTEN_IMAPS, &imap_proto);
        }
        if (&pop3_proto) {
            server_set_proto(LISTEN_POP3, &pop3_proto);
            server_set_proto(LISTEN_POP3S, &pop3_proto);
        }
    } else {
        for (int k = LISTEN_SMTP; k <= LISTEN_POP3S; k++)
            cfg->ports[k] = 0;
    }
    if ((has_gopher || dir_exists(cfg->site_dir, "gopher")) && &gopher_proto)
        server_set_proto(LISTEN_GOPHER, &gopher_proto);
    else
        cfg->ports[LISTEN_GOPHER] = 0;
}

int protocols_subcommand(const char *cmd, int argc, char **argv)
{
    if (!strcmp(cmd, "hpack")) {
        if (!hpack_cli_main) {
            fprintf(stderr, "atto: this build has no HPACK engine\n");
            return 2;
        }
        if (argc < 1) {
            fprintf(stderr, "usage: atto hpack decode|encode [--trace] ...\n");
            return 2;
        }
        return hpack_cli_main(argc, argv);
    }
    if (!users_passwd_main) {
        fprintf(stderr, "atto: this build has no mail support\n");
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: atto passwd SITE_DIR USER\n");
        return 2;
    }
    return users_passwd_main(argc, argv);
}

static int write_new(const char *dir, const char *name, const char *text)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wx");
    if (!f) {
        fprintf(stderr, "atto: cannot create %s: %s\n", p, strerror(errno));
        return -1;
    }
    fputs(text, f);
    return fclose(f);
}

static const char new_index[] =
    "-- index.lua: the routes of this site. Run it with: atto <this folder>\n"
    "site:get(\"/\", function(req, res)\n"
    "  res:html(\"<h1>Hello from atto!</h1><p>Edit index.lua, or drop files in public/.</p>\")\n"
    "end)\n\n"
    "site:get(\"/hello/{name}\", function(req, res)\n"
    "  res:text(\"Hello \" .. req.params.name)\n"
    "end)\n\n"
    "site:post(\"/echo\", function(req, res)\n"
    "  return { you_sent = req.form }          -- a table is sent as JSON\n"
    "end)\n";
static const char new_mail[] =
    "-- mail.lua: mail domains and rules (see docs/lua-api.md). Add users with:\n"
    "--   atto passwd <this folder> alice\n"
    "mail.domains{ \"example.test\" }\n";
static const char new_public[] =
    "<!doctype html><title>atto</title><p>This is public/index.html, served at /static.html.</p>\n";

int protocols_new_site(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        fprintf(stderr, "atto: %s already exists — pick a new folder name\n", dir);
        return 1;
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/public", dir);
    if (mkdir(dir, 0755) < 0 || mkdir(p, 0755) < 0) {
        fprintf(stderr, "atto: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (write_new(dir, "index.lua", new_index) || write_new(dir, "mail.lua.example", new_mail) ||
        write_new(p, "static.html", new_public) || write_new(dir, ".gitignore", ".atto/\nmail/\nusers.passwd\n"))
        return 1;
    printf("created %s — run it with: atto %s\n", dir, dir);
    return 0;
}
