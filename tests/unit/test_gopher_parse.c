/*
 * test_gopher_parse.c — the pure Gopher codec: selector lines (limits,
 * search strings, Gopher+ markers, unsafe selectors, every cut of the
 * input), menu/info/error lines, dot-stuffed text, item types by extension
 * and by content, gophermaps and URL: pages.
 */
#include "tests/unit/test.h"
#include "gopher/gopher_parse.c"

static const char *cstr(buf *b) { return buf_cstr(b); }

static long parse(const char *s, int eof, gopher_line *l, const char **err)
{
    return gopher_parse_line(s, strlen(s), GOPHER_MAX_LINE, eof, l, err);
}

TEST(line_crlf)
{
    gopher_line l;
    const char *err = NULL;
    CHECK_INT(parse("/about.txt\r\nextra", 0, &l, &err), 12);
    CHECK_MEM(l.selector, l.selector_len, "/about.txt", 10);
    CHECK(l.query == NULL);
    CHECK_INT(l.plus, 0);
}

TEST(line_lf_only)
{
    gopher_line l;
    const char *err = NULL;
    CHECK_INT(parse("/x\n", 0, &l, &err), 3);
    CHECK_MEM(l.selector, l.selector_len, "/x", 2);
}

TEST(line_empty_selector)
{
    gopher_line l;
    const char *err = NULL;
    CHECK_INT(parse("\r\n", 0, &l, &err), 2);
    CHECK_INT(l.selector_len, 0);
}

TEST(line_needs_more)
{
    gopher_line l;
    const char *err = NULL;
    CHECK_INT(parse("/abc", 0, &l, &err), 0);
    CHECK_INT(parse("/abc\r", 0, &l, &err), 0);
    CHECK_INT(parse("", 0, &l, &err), 0);
    CHECK_INT(parse("", 1, &l, &err), 0);   /* nothing at all, then EOF */
}

TEST(line_eof_without_newline)
{
    gopher_line l;
    const char *err = NULL;
    CHECK_INT(parse("/abc", 1, &l, &err), 4);
    CHECK_MEM(l.selector, l.selector_len, "/abc", 4);
}

TEST(line_search_string)
{
    gopher_line l;
    const char *err = NULL;
    CHECK_INT(parse("/8ball\twill it rain\r\n", 0, &l, &err), 21);
    CHECK_MEM(l.selector, l.selector_len, "/8ball", 6);
    CHECK_MEM(l.query, l.query_len, "will it rain", 12);
    CHECK_INT(l.plus, 0);
}

TEST(line_empty_search_string)
{
    gopher_line l;
    const char *err = NULL;
    CHECK(parse("/8ball\t\r\n", 0, &l, &err) > 0);
    CHECK(l.query != NULL);
    CHECK_INT(l.query_len, 0);
}

TEST(line_gopher_plus_markers)
{
    gopher_line l;
    const char *err = NULL;
    CHECK(parse("/x\t+\r\n", 0, &l, &err) > 0);
    CHECK(l.query == NULL);
    CHECK_INT(l.plus, 1);
    CHECK(parse("/x\t$\r\n", 0, &l, &err) > 0);
    CHECK(l.query == NULL && l.plus);
    CHECK(parse("/x\t!\r\n", 0, &l, &err) > 0);
    CHECK(l.query == NULL && l.plus);
    CHECK(parse("/s\tcats\t+\r\n", 0, &l, &err) > 0);
    CHECK_MEM(l.query, l.query_len, "cats", 4);
    CHECK_INT(l.plus, 1);
    CHECK(parse("/s\t$x\r\n", 0, &l, &err) > 0);   /* "$x" is a search, not a marker */
    CHECK_MEM(l.query, l.query_len, "$x", 2);
}

TEST(line_limit_exact)
{
    char s[GOPHER_MAX_LINE + 3];
    memset(s, 'a', GOPHER_MAX_LINE);
    s[0] = '/';
    memcpy(s + GOPHER_MAX_LINE, "\r\n", 3);
    gopher_line l;
    const char *err = NULL;
    CHECK_INT(parse(s, 0, &l, &err), GOPHER_MAX_LINE + 2);
    CHECK_INT(l.selector_len, GOPHER_MAX_LINE);
}

TEST(line_too_long)
{
    static char s[100 * 1024 + 3];
    memset(s, 'a', sizeof s - 3);
    memcpy(s + sizeof s - 3, "\r\n", 3);
    gopher_line l;
    const char *err = NULL;
    CHECK_INT(parse(s, 0, &l, &err), GOPHER_ETOOLONG);
    CHECK_STR(err, "selector line too long");
    /* detected without waiting for the LF */
    CHECK_INT(gopher_parse_line(s, GOPHER_MAX_LINE + 2, GOPHER_MAX_LINE, 0, &l, &err), GOPHER_ETOOLONG);
    /* 1025 bytes then CRLF: too long, though the LF is within reach */
    s[GOPHER_MAX_LINE + 1] = '\r';
    s[GOPHER_MAX_LINE + 2] = '\n';
    CHECK_INT(gopher_parse_line(s, GOPHER_MAX_LINE + 3, GOPHER_MAX_LINE, 0, &l, &err), GOPHER_ETOOLONG);
}

TEST(line_refuses_unsafe)
{
    gopher_line l;
    const char *err = NULL;
    CHECK_INT(parse("/../etc/passwd\r\n", 0, &l, &err), GOPHER_EBADSEL);
    CHECK_STR(err, "'..' in the selector");
    CHECK_INT(parse("/a/..\r\n", 0, &l, &err), GOPHER_EBADSEL);
    CHECK_INT(parse("..\r\n", 0, &l, &err), GOPHER_EBADSEL);
    CHECK_INT(parse("/a\\b\r\n", 0, &l, &err), GOPHER_EBADSEL);
    CHECK_STR(err, "backslash in the selector");
    CHECK_INT(parse("/a\rb\r\n", 0, &l, &err), GOPHER_EBADSEL);
    CHECK_STR(err, "control character in the selector");
    CHECK_INT(gopher_parse_line("/a\0b\r\n", 6, 1024, 0, &l, &err), GOPHER_EBADSEL);
    CHECK_STR(err, "NUL in the selector line");
    /* dots that are not a ".." segment are fine */
    CHECK(parse("/a..b/...\r\n", 0, &l, &err) > 0);
    CHECK(parse("/./x\r\n", 0, &l, &err) > 0);
}

TEST(line_every_cut)
{
    const char *s = "/8ball\twill it rain\r\n";
    size_t n = strlen(s);
    for (size_t cut = 0; cut < n; cut++) {
        gopher_line l;
        const char *err = NULL;
        CHECK_INT(gopher_parse_line(s, cut, GOPHER_MAX_LINE, 0, &l, &err), 0);
    }
}

TEST(item_line)
{
    buf b = BUF_INIT;
    const char *err = NULL;
    CHECK_INT(gopher_item(&b, '1', "Counter", 7, "/addone/0", 9, "localhost", 7070, &err), 0);
    CHECK_STR(cstr(&b), "1Counter\t/addone/0\tlocalhost\t7070\r\n");
    buf_free(&b);
}

TEST(item_sanitizes_text_refuses_fields)
{
    buf b = BUF_INIT;
    const char *err = NULL;
    CHECK_INT(gopher_item(&b, '0', "a\tb\r\nc", 6, "/x", 2, "h", 70, &err), 0);
    CHECK_STR(cstr(&b), "0a b  c\t/x\th\t70\r\n");
    buf_reset(&b);
    CHECK_INT(gopher_item(&b, '0', "t", 1, "/x\ty", 4, "h", 70, &err), GOPHER_EBADITEM);
    CHECK_INT(gopher_item(&b, '0', "t", 1, "/x", 2, "h\r\n", 70, &err), GOPHER_EBADITEM);
    CHECK_INT(gopher_item(&b, '.', "t", 1, "/x", 2, "h", 70, &err), GOPHER_EBADITEM);
    CHECK_INT(gopher_item(&b, '\t', "t", 1, "/x", 2, "h", 70, &err), GOPHER_EBADITEM);
    CHECK_INT(gopher_item(&b, '0', "t", 1, "/x", 2, "h", 70000, &err), GOPHER_EBADITEM);
    CHECK_STR(err, "a port is 0 to 65535");
    CHECK_INT(buf_size(&b), 0);
    buf_free(&b);
}

TEST(info_lines)
{
    buf b = BUF_INIT;
    gopher_info(&b, "Welcome\r\nto\tthe hole\n", 21);
    CHECK_STR(cstr(&b), "iWelcome\tfake\t(NULL)\t0\r\nito      the hole\tfake\t(NULL)\t0\r\n");
    buf_reset(&b);
    gopher_info(&b, "", 0);
    CHECK_STR(cstr(&b), "i\tfake\t(NULL)\t0\r\n");
    buf_reset(&b);
    gopher_info(&b, "a\n\nb", 4);
    CHECK_STR(cstr(&b), "ia\tfake\t(NULL)\t0\r\ni\tfake\t(NULL)\t0\r\nib\tfake\t(NULL)\t0\r\n");
    buf_free(&b);
}

TEST(error_item)
{
    buf b = BUF_INIT;
    gopher_error_item(&b, "Not found:\t/x\n", 14);
    CHECK_STR(cstr(&b), "3Not found: /x \t\terror.host\t1\r\n");
    buf_free(&b);
}

TEST(text_dot_stuffing)
{
    buf b = BUF_INIT;
    const char *s = ".hidden\nplain\r\n..two\n.\nend";
    gopher_text(&b, s, strlen(s));
    CHECK_STR(cstr(&b), "..hidden\r\nplain\r\n...two\r\n..\r\nend\r\n.\r\n");
    buf_reset(&b);
    gopher_text(&b, "", 0);
    CHECK_STR(cstr(&b), ".\r\n");
    buf_reset(&b);
    gopher_text(&b, "a\n", 2);
    CHECK_STR(cstr(&b), "a\r\n.\r\n");
    buf_reset(&b);
    gopher_text(&b, "\n\n", 2);
    CHECK_STR(cstr(&b), "\r\n\r\n.\r\n");
    buf_free(&b);
}

TEST(types_by_extension)
{
    CHECK_INT(gopher_type_for("about.txt"), '0');
    CHECK_INT(gopher_type_for("/a/b/README.MD"), '0');
    CHECK_INT(gopher_type_for("cat.gif"), 'g');
    CHECK_INT(gopher_type_for("cat.JPG"), 'I');
    CHECK_INT(gopher_type_for("cat.png"), 'I');
    CHECK_INT(gopher_type_for("index.html"), 'h');
    CHECK_INT(gopher_type_for("song.mp3"), 's');
    CHECK_INT(gopher_type_for("src.tar.gz"), '5');
    CHECK_INT(gopher_type_for("a.zip"), '5');
    CHECK_INT(gopher_type_for("a.hqx"), '4');
    CHECK_INT(gopher_type_for("a.pdf"), '9');
    CHECK_INT(gopher_type_for("README"), 0);
    CHECK_INT(gopher_type_for(".profile"), 0);
    CHECK_INT(gopher_type_for("dir.d/file"), 0);
    CHECK_INT(gopher_type_for("x."), 0);
    CHECK_INT(gopher_type_for("x.unknownext"), 0);
}

TEST(sniff_text_or_binary)
{
    CHECK_INT(gopher_sniff("hello\nworld\t\r\n", 14), '0');
    CHECK_INT(gopher_sniff("GIF89a\0\0", 8), '9');
    CHECK_INT(gopher_sniff("\x01\x02\x03\x04xyz", 7), '9');
    CHECK_INT(gopher_sniff("", 0), '0');
}

static const char *render(buf *b, const char *map, int *listing)
{
    buf_reset(b);
    *listing = gopher_map_render(b, map, strlen(map), "/docs", "gopher.test", 7070);
    return cstr(b);
}

TEST(map_items_and_info)
{
    buf b = BUF_INIT;
    int listing;
    CHECK_STR(render(&b, "Welcome!\r\n"
                         "0About\tabout.txt\n"
                         "1Root\t/\n"
                         "1Floodgap\t/\tgopher.floodgap.com\t70\n"
                         "1Elsewhere\t/x\tother.host\n"
                         "hWeb\tURL:https://example.org/\n"
                         "0notes.txt\n", &listing),
              "iWelcome!\tfake\t(NULL)\t0\r\n"
              "0About\t/docs/about.txt\tgopher.test\t7070\r\n"
              "1Root\t/\tgopher.test\t7070\r\n"
              "1Floodgap\t/\tgopher.floodgap.com\t70\r\n"
              "1Elsewhere\t/x\tother.host\t70\r\n"
              "hWeb\tURL:https://example.org/\tgopher.test\t7070\r\n"
              "i0notes.txt\tfake\t(NULL)\t0\r\n");   /* no TAB: an info line */
    CHECK_INT(listing, 0);
    buf_free(&b);
}

TEST(map_selector_defaults_to_text)
{
    buf b = BUF_INIT;
    int listing;
    CHECK_STR(render(&b, "0notes.txt\t\n", &listing),
              "0notes.txt\t/docs/notes.txt\tgopher.test\t7070\r\n");
    buf_free(&b);
}

TEST(map_comments_end_and_listing)
{
    buf b = BUF_INIT;
    int listing;
    CHECK_STR(render(&b, "# a comment\nhello\n.\nafter the end\n", &listing),
              "ihello\tfake\t(NULL)\t0\r\n");
    CHECK_INT(listing, 0);
    CHECK_STR(render(&b, "top\n*\nnot shown\n", &listing), "itop\tfake\t(NULL)\t0\r\n");
    CHECK_INT(listing, 1);
    CHECK_STR(render(&b, "", &listing), "");
    CHECK_INT(listing, 0);
    buf_free(&b);
}

TEST(map_info_and_error_types)
{
    buf b = BUF_INIT;
    int listing;
    CHECK_STR(render(&b, "ijust info\tignored\thost\t1\n3oops\t\n", &listing),
              "ijust info\tfake\t(NULL)\t0\r\n3oops\t\terror.host\t1\r\n");
    buf_free(&b);
}

TEST(map_bad_lines_become_errors)
{
    buf b = BUF_INIT;
    int listing;
    CHECK_STR(render(&b, "1x\t/\th\tport\n", &listing),
              "3gophermap line 1: the port is not a number 0-65535\t\terror.host\t1\r\n");
    CHECK_STR(render(&b, "ok\n1x\t/\th\t99999\n", &listing),
              "iok\tfake\t(NULL)\t0\r\n3gophermap line 2: the port is not a number 0-65535\t\terror.host\t1\r\n");
    CHECK_STR(render(&b, ".x\t/y\n", &listing),
              "3gophermap line 1: an item type is one printable character (not '.')\t\terror.host\t1\r\n");
    buf_free(&b);
}

TEST(map_root_dir_join)
{
    buf b = BUF_INIT;
    buf_reset(&b);
    gopher_map_render(&b, "0A\ta.txt\n", 8, "/", "h", 70);
    CHECK_STR(cstr(&b), "0A\t/a.txt\th\t70\r\n");
    buf_free(&b);
}

TEST(url_page)
{
    buf b = BUF_INIT;
    const char *err = NULL;
    CHECK_INT(gopher_url_page(&b, "https://example.org/?a=1&b=\"2\"", 30, &err), 0);
    const char *s = cstr(&b);
    CHECK(strstr(s, "URL=https://example.org/?a=1&amp;b=&quot;2&quot;\"") != NULL);
    CHECK(strstr(s, "<a href=\"https://example.org/?a=1&amp;b=&quot;2&quot;\">") != NULL);
    buf_reset(&b);
    CHECK_INT(gopher_url_page(&b, "javascript:alert(1)", 19, &err), GOPHER_EBADSEL);
    CHECK_INT(buf_size(&b), 0);
    buf_free(&b);
}

int main(void)
{
    RUN(line_crlf);
    RUN(line_lf_only);
    RUN(line_empty_selector);
    RUN(line_needs_more);
    RUN(line_eof_without_newline);
    RUN(line_search_string);
    RUN(line_empty_search_string);
    RUN(line_gopher_plus_markers);
    RUN(line_limit_exact);
    RUN(line_too_long);
    RUN(line_refuses_unsafe);
    RUN(line_every_cut);
    RUN(item_line);
    RUN(item_sanitizes_text_refuses_fields);
    RUN(info_lines);
    RUN(error_item);
    RUN(text_dot_stuffing);
    RUN(types_by_extension);
    RUN(sniff_text_or_binary);
    RUN(map_items_and_info);
    RUN(map_selector_defaults_to_text);
    RUN(map_comments_end_and_listing);
    RUN(map_info_and_error_types);
    RUN(map_bad_lines_become_errors);
    RUN(map_root_dir_join);
    RUN(url_page);
    return test_done();
}
