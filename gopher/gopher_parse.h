/*
 * gopher_parse.h — the pure half of Gopher (RFC 1436): reading the one
 * selector line a client sends, and writing the lines a server sends back
 * (menu items, info lines, error items, dot-stuffed text, gophermaps).
 *
 * No sockets, no loop, no Lua: bytes in, bytes (into a buf) out, so every
 * function here is unit-tested and fuzzed on its own. gopher.c drives it.
 *
 * Conventions on the wire (what atto sends, documented in docs/gopher.md):
 *   item   "<type><text>\t<selector>\t<host>\t<port>\r\n"
 *   info   "i<text>\tfake\t(NULL)\t0\r\n"
 *   error  "3<message>\t\terror.host\t1\r\n"
 *   menus and text end with ".\r\n"; binary files are sent as they are.
 */
#ifndef ATTO_GOPHER_PARSE_H
#define ATTO_GOPHER_PARSE_H
#include <stddef.h>
#include "core/buf.h"

#define GOPHER_MAX_LINE 1024      /* selector + search string, without CRLF */

enum gopher_err {
    GOPHER_ETOOLONG = -1,         /* no line end within the limit */
    GOPHER_EBADSEL  = -2,         /* NUL, backslash, "..", control character */
    GOPHER_EBADITEM = -3,         /* an item field would break the menu line */
};

typedef struct gopher_line {
    const char *selector;         /* points into the input; not NUL-terminated */
    size_t      selector_len;
    const char *query;            /* search string after the first TAB, or NULL */
    size_t      query_len;
    int         plus;             /* a Gopher+ marker ("+", "$", "!") was sent */
} gopher_line;

/* Parse the selector line at the start of p[0..len). Returns the bytes the
 * line took (with its LF) when complete; 0 when more bytes are needed; at
 * EOF (`eof` set) the unterminated rest counts as the line. Errors:
 * GOPHER_ETOOLONG (no LF within `max` bytes), GOPHER_EBADSEL; *err says why.
 * A lone second field "+", "$" or "!" is a Gopher+ marker, not a query. */
long gopher_parse_line(const char *p, size_t len, size_t max, int eof,
                       gopher_line *out, const char **err);

/* Is this selector safe to map onto files? (no NUL, backslash, ".." segment
 * or control character). 0 or GOPHER_EBADSEL with *err. */
int gopher_check_selector(const char *s, size_t n, const char **err);

/* One menu line. Display text has TAB/CR/LF turned into spaces; a selector
 * or host containing them, a type that is not a printable character other
 * than '.', or a port outside 0..65535 is GOPHER_EBADITEM (nothing written). */
int gopher_item(buf *out, char type, const char *text, size_t text_len,
                const char *sel, size_t sel_len, const char *host, int port,
                const char **err);

/* Info lines (type i), one per line of `text`; TABs expand to 8 columns. */
void gopher_info(buf *out, const char *text, size_t len);

/* An error item (type 3); CR/LF/TAB in msg become spaces. */
void gopher_error_item(buf *out, const char *msg, size_t len);

/* Text for a type-0 reply: CRLF line ends, lines starting with "." get
 * another ".", and the closing ".\r\n". */
void gopher_text(buf *out, const char *s, size_t len);

/* The closing line of a menu or text. */
void gopher_end_line(buf *out);

/* Item type for a file name by extension, or 0 when the extension says
 * nothing (then ask gopher_sniff). '1' is never returned (folders). */
char gopher_type_for(const char *name);

/* '0' (text) or '9' (binary) from the first bytes of a file. */
char gopher_sniff(const char *p, size_t n);

/* Render a gophermap (Gophernicus/pygopherd format) into menu lines:
 *   "Xtext<TAB>selector<TAB>host<TAB>port"  an item (missing fields: the
 *       selector defaults to the text, host/port to this server; a
 *       relative selector is taken against `dir`, the folder's selector)
 *   a line without TAB                       an info line
 *   "#..."                                   a comment
 *   "."                                      end of the map
 *   "*"                                      end, then the folder listing
 * A line with a bad port becomes an error item naming the line.
 * Returns 1 when the listing should follow ("*"), else 0. No closing ".". */
int gopher_map_render(buf *out, const char *map, size_t len, const char *dir,
                      const char *host, int port);

/* The HTML page that sends a client which followed a "URL:..." selector
 * on to the URL (what Gophernicus and pygopherd answer). Only http(s), ftp,
 * gemini, gopher and mailto URLs: others are GOPHER_EBADSEL with *err. */
int gopher_url_page(buf *out, const char *url, size_t len, const char **err);
#endif
