/*
 * main.c — the command line: `atto SITE [options]`, `atto new`, `atto check`,
 * `atto passwd`, `atto hpack`, `atto version`. It reads the flags, loads the
 * site once to validate it and read site:listen{}, registers the protocols,
 * and hands over to server_run(). Every bad input is one clear line and a
 * non-zero exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/http1_conn.h"
#include "core/server.h"
#include "core/version.h"
#include "lua/engine.h"
#include "core/protocols.h"

static const char usage[] =
    "usage: atto SITE_DIR [options]       serve the site in SITE_DIR\n"
    "       atto new SITE_DIR             scaffold a runnable site\n"
    "       atto check SITE_DIR           load the scripts, report errors with file:line\n"
    "       atto passwd SITE_DIR USER     add or change a mail user\n"
    "       atto hpack decode|encode ...  HPACK from the command line (see docs/hpack.md)\n"
    "       atto version | --help\n"
    "\n"
    "options:\n"
    "  --http PORT (8080)  --https PORT (8443)  --smtp PORT (2525)  --submission PORT (5870)\n"
    "  --imap PORT (1143)  --pop3 PORT (1110)   --smtps/--imaps/--pop3s PORT (off)\n"
    "  --gopher PORT (7070)    a port of 0 turns that listener off\n"
    "  --bind ADDR             listen address, repeatable (default 127.0.0.1 and ::1)\n"
    "  --workers N             worker threads (default: one per core)\n"
    "  --dev                   reload scripts on change, tracebacks in error pages\n"
    "  --trace-h2              print every HTTP/2 frame and HPACK table change\n"
    "  --log FILE              access log in combined format ('-' for stdout)\n"
    "  --cert FILE --key FILE  TLS certificate and key (default: a generated dev certificate)\n"
    "  --user NAME             after binding the ports, run as this account\n"
    "  --error-log FILE        server messages to FILE (with time and pid) instead of stderr\n"
    "  --log-level LEVEL       error, warn, info (default) or debug\n";

static int fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "atto: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

static int parse_port(const char *flag, const char *v, int *out)
{
    char *end;
    long p = v ? strtol(v, &end, 10) : -1;
    if (!v || *end || p < 0 || p > 65535)
        return fail("%s needs a port number from 0 (off) to 65535, got '%s'", flag, v ? v : "");
    *out = (int)p;
    return 0;
}

static int site_dir_ok(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return fail("%s: %s — give the folder of a site (try `atto new mysite`)", dir, strerror(errno)), 0;
    if (!S_ISDIR(st.st_mode))
        return fail("%s: not a folder — give the folder that holds index.lua%s", dir, ""), 0;
    return 1;
}

static const char *kind_flags[LISTEN_KINDS] = {
    "--http", "--https", "--smtp", "--submission", "--imap", "--pop3",
    "--smtps", "--imaps", "--pop3s", "--gopher"
};

static int serve(int argc, char **argv)
{
    server_config cfg;
    server_config_defaults(&cfg);
    int flag_set[LISTEN_KINDS + 1] = {0};
    const char *site = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int k;
        for (k = 0; k < LISTEN_KINDS; k++)
            if (strcmp(a, kind_flags[k]) == 0)
                break;
        if (k < LISTEN_KINDS) {
            if (parse_port(a, i + 1 < argc ? argv[++i] : NULL, &cfg.ports[k]))
                return 2;
            flag_set[k] = 1;
        } else if (!strcmp(a, "--bind")) {
            if (i + 1 >= argc) return fail("--bind needs an address%s%s", "", "");
            if (cfg.nbind < 8) cfg.bind[cfg.nbind++] = argv[++i];
        } else if (!strcmp(a, "--workers")) {
            char *end;
            long n = i + 1 < argc ? strtol(argv[++i], &end, 10) : 0;
            if (n < 1 || n > 256 || *end) return fail("--workers needs a number from 1 to 256%s%s", "", "");
            cfg.workers = (int)n;
            flag_set[LISTEN_KINDS] = 1;
        } else if (!strcmp(a, "--dev")) {
            cfg.dev = 1;
        } else if (!strcmp(a, "--trace-h2")) {
            cfg.trace_h2 = 1;
        } else if (!strcmp(a, "--log")) {
            if (i + 1 >= argc) return fail("--log needs a file name (or - for stdout)%s%s", "", "");
            cfg.log_file = argv[++i];
        } else if (!strcmp(a, "--error-log")) {
            if (i + 1 >= argc) return fail("--error-log needs a file name%s%s", "", "");
            cfg.error_log = argv[++i];
        } else if (!strcmp(a, "--log-level")) {
            if (i + 1 >= argc || (cfg.log_level = log_level_parse(argv[i + 1])) < 0)
                return fail("--log-level needs one of error, warn, info, debug%s%s", "", "");
            i++;
        } else if (!strcmp(a, "--user")) {
            if (i + 1 >= argc) return fail("--user needs an account name%s%s", "", "");
            cfg.user = argv[++i];
        } else if (!strcmp(a, "--cert")) {
            if (i + 1 >= argc) return fail("--cert needs a file%s%s", "", "");
            cfg.cert = argv[++i];
        } else if (!strcmp(a, "--key")) {
            if (i + 1 >= argc) return fail("--key needs a file%s%s", "", "");
            cfg.key = argv[++i];
        } else if (a[0] == '-') {
            return fail("unknown option %s — see atto --help%s", a, "");
        } else if (!site) {
            site = a;
        } else {
            return fail("one site at a time: got %s and %s", site, a);
        }
    }
    if (!site)
        return fail("which site? usage: atto SITE_DIR [options] (see atto --help)%s%s", "", "");
    if (!site_dir_ok(site))
        return 2;
    if (!cfg.cert != !cfg.key)
        return fail("--cert and --key go together%s%s", "", "");
    cfg.site_dir = site;
    char err[2048];
    int has_gopher = 0, has_mail = 0;
    if (lua_app_check(&cfg, flag_set, &has_gopher, &has_mail, err, sizeof err) < 0) {
        fprintf(stderr, "atto: %s\n", err);
        return 1;
    }
    protocols_register(&cfg, has_mail, has_gopher);
    return server_run(&cfg, &lua_app_ops);
}

static int check(const char *site)
{
    if (!site_dir_ok(site))
        return 2;
    server_config cfg;
    server_config_defaults(&cfg);
    cfg.site_dir = site;
    int flag_set[LISTEN_KINDS + 1] = {0};
    char err[2048];
    int has_gopher = 0, has_mail = 0;
    if (lua_app_check(&cfg, flag_set, &has_gopher, &has_mail, err, sizeof err) < 0) {
        fprintf(stderr, "atto: %s\n", err);
        return 1;
    }
    printf("%s: ok (web%s%s)\n", site, has_mail ? ", mail" : "", has_gopher ? ", gopher" : "");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("atto %s\n", ATTO_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "check"))
        return argc == 3 ? check(argv[2]) : fail("usage: atto check SITE_DIR%s%s", "", "");
    if (!strcmp(cmd, "new"))
        return argc == 3 ? protocols_new_site(argv[2]) : fail("usage: atto new SITE_DIR%s%s", "", "");
    if (!strcmp(cmd, "passwd") || !strcmp(cmd, "hpack"))
        return protocols_subcommand(cmd, argc - 2, argv + 2);
    return serve(argc, argv);
}
