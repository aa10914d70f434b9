/*
 * test_imap_parse.c — the IMAP scanner (literals, LITERAL+, limits, cuts at
 * any byte) and parser (atoms, quoted strings, lists, BODY[...] atoms),
 * and sequence sets kept as ranges.
 */
#include "tests/unit/test.h"
#include "mail/imap_parse.h"

static imap_limits lim = { 1024, 100, 8 };

static int scan_all(const char *in, size_t len, size_t *cmdlen, int *conts)
{
    imap_scan st = {0};
    const char *err;
    int r;
    *conts = 0;
    while ((r = imap_scan_next(&st, in, len, &lim, cmdlen, &err)) == IMAP_SCAN_CONTINUE)
        (*conts)++;
    return r;
}

TEST(scan_literals)
{
    size_t n;
    int conts;
    const char *a = "a LOGIN {5}\r\nalice {6+}\r\nsecret\r\n";
    CHECK_INT(scan_all(a, strlen(a), &n, &conts), IMAP_SCAN_DONE);
    CHECK_INT(n, strlen(a));
    CHECK_INT(conts, 1);
    CHECK_INT(scan_all("a LOGIN \"{5}\r\n", 14, &n, &conts), IMAP_SCAN_DONE);
    CHECK_INT(scan_all("a APPEND x {101}\r\n", 18, &n, &conts), IMAP_SCAN_ETOOBIG);
    CHECK_INT(scan_all("a APPEND x {101+}\r\n", 19, &n, &conts), IMAP_SCAN_ETOOBIG_NONSYNC);
    CHECK_INT(scan_all("a APPEND x {-1}\r\n", 17, &n, &conts), IMAP_SCAN_EBADLIT);
    CHECK_INT(scan_all("a APPEND x {99999999999999999999999}\r\n", 38, &n, &conts), IMAP_SCAN_ETOOBIG);
    CHECK_INT(scan_all("a NOOP", 6, &n, &conts), IMAP_SCAN_MORE);
}

TEST(scan_byte_by_byte)
{
    const char *a = "t1 APPEND INBOX {3}\r\nabc\r\nt2 NOOP\r\n";
    imap_scan st = {0};
    size_t n = 0, len = 0;
    const char *err;
    int conts = 0, r = IMAP_SCAN_MORE;
    while (len < strlen(a)) {
        len++;
        while ((r = imap_scan_next(&st, a, len, &lim, &n, &err)) == IMAP_SCAN_CONTINUE)
            conts++;
        if (r == IMAP_SCAN_DONE)
            break;
    }
    CHECK_INT(r, IMAP_SCAN_DONE);
    CHECK_INT(n, 26);
    CHECK_INT(conts, 1);
}

TEST(scan_line_limit)
{
    char big[2000];
    memset(big, 'x', sizeof big);
    size_t n;
    int conts;
    CHECK_INT(scan_all(big, sizeof big, &n, &conts), IMAP_SCAN_ELINE);
}

TEST(parse_args)
{
    char line[] = "A1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.10>) \"a\\\"b\" {3}\r\nxyz NIL\r\n";
    imap_cmd cmd;
    const char *err = NULL;
    CHECK(imap_parse(line, strlen(line), &lim, &cmd, &err) == 0);
    CHECK_MEM(cmd.tag, cmd.tag_len, "A1", 2);
    CHECK(imap_atom_eq(cmd.name, cmd.name_len, "fetch"));
    CHECK_INT(cmd.nargs, 5);
    CHECK_INT(cmd.args[1].type, IMAP_LIST);
    CHECK_INT(cmd.args[1].n, 2);
    CHECK_MEM(cmd.args[1].list[1].s, cmd.args[1].list[1].len, "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.10>", 40);
    CHECK_MEM(cmd.args[2].s, cmd.args[2].len, "a\"b", 3);
    CHECK(cmd.args[3].literal);
    CHECK_MEM(cmd.args[3].s, cmd.args[3].len, "xyz", 3);
    CHECK(imap_arg_is(&cmd.args[4], "nil"));
    imap_cmd_free(&cmd);
}

TEST(parse_errors)
{
    const char *bad[] = { "a LIST (\"\" x\r\n", "a LIST x)\r\n", "a LOGIN \"x\r\n", "+ NOOP\r\n",
                          "a FETCH 1 BODY[TEXT\r\n", "a X ((((((((((((a))))))))))))\r\n", "a LOGIN {5}\r\nab\r\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[128];
        imap_cmd cmd;
        const char *err = NULL;
        snprintf(buf, sizeof buf, "%s", bad[i]);
        int r = imap_parse(buf, strlen(buf), &lim, &cmd, &err);
        imap_cmd_free(&cmd);
        CHECK(r < 0 && err);
    }
}

TEST(seqsets_are_ranges)
{
    char line[] = "a X 1\r\n";
    imap_cmd cmd;
    const char *err;
    imap_seqset set;
    CHECK(imap_parse(line, strlen(line), &lim, &cmd, &err) == 0);
    CHECK(imap_seqset_parse(&cmd, "1:4294967295", 12, &set) == 0 && set.n == 1);
    CHECK(imap_seqset_has(&set, 4000000000u, 10));
    CHECK(imap_seqset_parse(&cmd, "5:*,2", 5, &set) == 0);
    CHECK(imap_seqset_has(&set, 7, 9) && imap_seqset_has(&set, 2, 9) && !imap_seqset_has(&set, 3, 9));
    CHECK(imap_seqset_has(&set, 4, 4));                 /* 5:* with * = 4 is 4:5 */
    CHECK(imap_seqset_parse(&cmd, "0", 1, &set) < 0);
    CHECK(imap_seqset_parse(&cmd, "4294967296", 10, &set) < 0);
    CHECK(imap_seqset_parse(&cmd, "1,", 2, &set) < 0);
    CHECK(imap_seqset_parse(&cmd, "1:2:3", 5, &set) < 0);
    imap_cmd_free(&cmd);
}

int main(void)
{
    RUN(scan_literals);
    RUN(scan_byte_by_byte);
    RUN(scan_line_limit);
    RUN(parse_args);
    RUN(parse_errors);
    RUN(seqsets_are_ranges);
    return test_done();
}
