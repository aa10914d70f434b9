/*
 * test_lweb_codec.c — the session codec of lua/lweb_codec.c: round trips
 * (nested tables, integers against floats, NaN and infinities, NULs in
 * strings, boolean and float keys), the old serializer's rules and every
 * one of its error messages, the depth limit at its edge, the size limit,
 * the "same string back" shortcut, damaged input of every kind decoding to
 * nil (every truncation and every flipped byte of a valid encoding, lying
 * lengths, overlong varints, bad keys, trailing bytes, random garbage), an
 * old Lua literal told apart, and web.cookie against the prelude's own
 * cookie parser. Most cases are Lua chunks run in a fresh state with the
 * codec's functions in a global `web`. Includes the .c to reach statics.
 */
#include "lua/lweb_codec.c"
#include <lualib.h>
#include "tests/unit/test.h"

static lua_State *codec_state(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    lwc_open(L);
    lua_setglobal(L, "web");
    return L;
}

/* runs code in a fresh state: NULL, or the error */
static const char *run(const char *code)
{
    static char msg[600];
    lua_State *L = codec_state();
    const char *why = NULL;
    if (luaL_dostring(L, code) != LUA_OK) {
        snprintf(msg, sizeof msg, "lua: %s", lua_tostring(L, -1));
        why = msg;
    }
    lua_close(L);
    return why;
}

#define CHECK_LUA(code) do { const char *_w = run(code); if (_w) { \
    printf("FAIL %s: %s\n", test_name, _w); test_failed_now = 1; return; } } while (0)

/* deep equality with math.type and NaN/-0.0 care, shared by the chunks */
#define SAME \
    "local function same(a, b)\n" \
    "  if type(a) ~= type(b) then return false end\n" \
    "  if type(a) == 'number' then\n" \
    "    if math.type(a) ~= math.type(b) then return false end\n" \
    "    if a ~= a then return b ~= b end\n" \
    "    return a == b and (a ~= 0 or 1/a == 1/b)\n" \
    "  end\n" \
    "  if type(a) ~= 'table' then return a == b end\n" \
    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n" \
    "  for k in pairs(b) do if a[k] == nil then return false end end\n" \
    "  return true\n" \
    "end\n" \
    "local function rt(t)\n" \
    "  local s = assert(web.session_encode(t))\n" \
    "  local back = web.session_decode(s)\n" \
    "  assert(same(t, back), 'round trip differs for ' .. s:gsub('%c', '.'))\n" \
    "  return s\n" \
    "end\n"

TEST(round_trips_keep_types_and_bits)
{
    CHECK_LUA(SAME
        "rt({})\n"
        "rt({ count = 1, name = 'x', on = true, off = false })\n"
        "rt({ 1, 2, 3, { a = { b = { c = 'deep' } } }, [10] = 'ten' })\n"
        "rt({ i = 3, f = 3.0, h = 0.1, big = 1e308, tiny = 5e-324, neg = -0.0 })\n"
        "rt({ math.maxinteger, math.mininteger, -1, 0, 63, 64, -64, -65, 2^53 })\n"
        "rt({ nan = 0/0, inf = math.huge, ninf = -math.huge })\n"
        "rt({ ['a\\0b'] = 'c\\0d\\0', [''] = '', bin = string.rep('\\255\\0\\1', 100) })\n"
        "rt({ [true] = 'yes', [false] = 'no', [1.5] = 'x', [-7] = 'm' })\n"
        "rt({ s = string.rep('x', 300), t = string.rep('y', 20000) })   -- grows past 512 bytes\n"
        "local shared = { 1 }\n"
        "rt({ a = shared, b = shared })   -- shared, not a cycle: kept twice\n"
        "local back = web.session_decode(rt({ n = 5, f = 5.0 }))\n"
        "assert(math.type(back.n) == 'integer' and math.type(back.f) == 'float')\n");
}

TEST(encoding_is_compact_and_starts_with_the_magic_byte)
{
    CHECK_LUA(
        "local s = web.session_encode({ count = 1 })\n"
        "assert(s == '\\165TS\\5countI\\2E', (s:gsub('%c', '.')))\n"
        "assert(web.session_encode({}) == '\\165TE')\n"
        "-- a non-table top value still encodes (the old serializer did too),\n"
        "-- but never decodes to a session\n"
        "local v = assert(web.session_encode('text'))\n"
        "assert(web.session_decode(v) == nil)\n");
}

TEST(every_error_message_of_the_old_serializer)
{
    CHECK_LUA(
        "local function fails(v, want)\n"
        "  local s, err = web.session_encode(v)\n"
        "  assert(s == nil and err == want, tostring(err) .. ' instead of ' .. want)\n"
        "end\n"
        "local K = 'session keys must be strings, numbers or booleans, not '\n"
        "local V = 'session values must be strings, numbers, booleans or tables, not '\n"
        "fails({ [{}] = 1 }, K .. 'table')\n"
        "fails({ [print] = 1 }, K .. 'function')\n"
        "fails({ [coroutine.create(print)] = 1 }, K .. 'thread')\n"
        "fails({ [io.stdout] = 1 }, K .. 'userdata')\n"
        "fails({ a = print }, V .. 'function')\n"
        "fails({ a = { b = { io.stdout } } }, V .. 'userdata')\n"
        "fails({ a = coroutine.create(print) }, V .. 'thread')\n"
        "fails(nil, V .. 'nil')\n"
        "local t = {}; t.self = t\n"
        "fails(t, 'session data has a cycle or is nested too deeply')\n"
        "local a, b = {}, {}; a.b = b; b.a = a\n"
        "fails({ x = a }, 'session data has a cycle or is nested too deeply')\n"
        "fails({ s = string.rep('x', 65536) }, 'session data is larger than 65536 bytes once encoded')\n"
        "-- a table shared 2^30 ways stops at the size limit, not after the universe\n"
        "local n = { 'x' }\n"
        "for i = 1, 30 do n = { n, n } end\n"
        "fails(n, 'session data is larger than 65536 bytes once encoded')\n"
        "-- exactly at the limit: magic, T, S, 1, k, S, a 3-byte length, the value, E\n"
        "local ok = web.session_encode({ k = string.rep('x', 65536 - 10) })\n"
        "assert(ok and #ok == 65536, ok and #ok)\n");
}

TEST(depth_32_below_the_top_is_kept_33_refused)
{
    CHECK_LUA(SAME
        "local function nest(n) local t = { leaf = true }; for i = 1, n do t = { t } end; return t end\n"
        "rt(nest(32))\n"
        "local s, err = web.session_encode(nest(33))\n"
        "assert(s == nil and err == 'session data has a cycle or is nested too deeply', err)\n"
        "-- the decoder holds the same line: hand-made encodings\n"
        "local function enc(n) return '\\165' .. string.rep('TI\\2', n) .. 'TE' .. string.rep('E', n) end\n"
        "assert(type(web.session_decode(enc(32))) == 'table')\n"
        "assert(web.session_decode(enc(33)) == nil)\n"
        "assert(web.session_decode(enc(5000)) == nil)\n");
}

/* the equal-bytes shortcut gives back the very string object */
TEST(an_unchanged_table_returns_the_previous_string_itself)
{
    lua_State *L = codec_state();
    int ok = luaL_dostring(L,
        "local t = { name = string.rep('n', 100), n = 1 }\n"
        "local a = web.session_encode(t)\n"
        "local b = web.session_encode(t, a)\n"
        "t.n = 2\n"
        "local c = web.session_encode(t, a)\n"
        "return a, b, c, web.session_encode(t, 'other'), web.session_encode(t, 42)") == LUA_OK;
    CHECK(ok);
    CHECK(lua_tostring(L, 1) == lua_tostring(L, 2));    /* same object */
    CHECK(lua_tostring(L, 1) != lua_tostring(L, 3));
    CHECK(strcmp(lua_tostring(L, 1), lua_tostring(L, 3)) != 0);
    CHECK(lua_rawequal(L, 3, 4) && lua_rawequal(L, 3, 5));
    lua_close(L);
}

TEST(every_truncation_and_flipped_byte_is_nil_or_a_table)
{
    CHECK_LUA(
        "local s = assert(web.session_encode({ a = 1, b = { 2.5, 'x\\0y', true }, [false] = -300,\n"
        "                                      c = string.rep('z', 200) }))\n"
        "for n = 1, #s - 1 do\n"
        "  local v = web.session_decode(s:sub(1, n))\n"
        "  assert(v == nil, 'truncated to ' .. n .. ' bytes decoded')\n"
        "end\n"
        "assert(web.session_decode('') == false)\n"
        "assert(type(web.session_decode(s)) == 'table')\n"
        "for i = 2, #s do\n"
        "  for _, b in ipairs({ 0, 1, 0x7f, 0x80, 0xff, 69, 73, 83, 84, 70 }) do\n"
        "    local v = web.session_decode(s:sub(1, i - 1) .. string.char(b) .. s:sub(i + 1))\n"
        "    assert(v == nil or type(v) == 'table')\n"
        "  end\n"
        "end\n"
        "math.randomseed(7)\n"
        "for i = 1, 3000 do\n"
        "  local t = { '\\165' }\n"
        "  for j = 1, math.random(0, 40) do\n"
        "    t[#t + 1] = string.char(({ 84, 69, 83, 73, 70, 89, 78, 0, 1, 2, 0x80, 0xff })[math.random(12)])\n"
        "  end\n"
        "  local v = web.session_decode(table.concat(t))\n"
        "  assert(v == nil or type(v) == 'table')\n"
        "end\n");
}

TEST(damaged_values_decode_to_nil)
{
    CHECK_LUA(
        "local bad = {\n"
        "  '\\165',                          -- nothing after the magic\n"
        "  '\\165TEE',                       -- trailing byte\n"
        "  '\\165TE\\0',                     -- trailing NUL\n"
        "  '\\165S\\1x',                     -- a string, not a table, on top\n"
        "  '\\165TS\\9abcE',                 -- a length beyond the end\n"
        "  '\\165TS\\255\\255\\255\\255\\255\\255\\255\\255\\255\\127xE',  -- a huge length\n"
        "  '\\165TI\\128\\128\\128\\128\\128\\128\\128\\128\\128\\2I\\2E', -- 65-bit varint\n"
        "  '\\165TI\\128\\128\\128\\128\\128\\128\\128\\128\\128\\128\\1I\\2E', -- 11-byte varint\n"
        "  '\\165TI\\128',                   -- unfinished varint\n"
        "  '\\165TTEI\\2E',                  -- a table as a key\n"
        "  '\\165TF\\0\\0\\0\\0\\0\\0\\248\\127I\\2E',  -- NaN as a key\n"
        "  '\\165TF\\0\\0\\0E',              -- a short float\n"
        "  '\\165TS\\1aE',                   -- a key without a value\n"
        "  '\\165TXE',                       -- unknown tag\n"
        "  '\\165TS\\1a',                    -- no end\n"
        "}\n"
        "for i, s in ipairs(bad) do assert(web.session_decode(s) == nil, 'case ' .. i) end\n"
        "-- the largest varint is fine\n"
        "local t = web.session_decode('\\165TI\\1I\\255\\255\\255\\255\\255\\255\\255\\255\\255\\1E')\n"
        "assert(t and t[-1] == math.mininteger, t and t[-1])\n");
}

TEST(old_lua_literals_are_told_apart)
{
    CHECK_LUA(
        "assert(web.session_decode('{[\"count\"]=3,}') == false)\n"
        "assert(web.session_decode('') == false)\n"
        "assert(web.session_decode('return 1') == false)\n"
        "local ok = pcall(web.session_decode, nil)\n"
        "assert(not ok)\n");
}

/* web.cookie must agree with the prelude's parser whenever it answers */
#define PRELUDE_COOKIES \
    "local function cookies(c)\n" \
    "  local out = {}\n" \
    "  if c then\n" \
    "    for part in c:gmatch('[^;]+') do\n" \
    "      local k, v = part:match('^%s*([^=%s]+)%s*=%s*(.-)%s*$')\n" \
    "      if k and (not k:match(\"^[%w!#$%%&'*+.^_`|~-]+$\") or v:find('[%c]')) then k = nil end\n" \
    "      if k and out[k] == nil then\n" \
    "        if v:sub(1, 1) == '\"' and v:sub(-1) == '\"' and #v >= 2 then v = v:sub(2, -2) end\n" \
    "        out[k] = v   -- (urldecode: web.cookie leaves encoded values to it)\n" \
    "      end\n" \
    "    end\n" \
    "  end\n" \
    "  return out\n" \
    "end\n" \
    "local function agree(h, name)\n" \
    "  local mine = web.cookie(h, name)\n" \
    "  local theirs = cookies(h)[name]\n" \
    "  if mine == false then\n" \
    "    assert(theirs and (theirs:find('%', 1, true) or h:find('\"', 1, true)), 'false for ' .. h)\n" \
    "  else\n" \
    "    assert(mine == theirs, string.format('%q: %q vs %q', h, tostring(mine), tostring(theirs)))\n" \
    "  end\n" \
    "end\n"

TEST(cookie_finder_agrees_with_the_prelude)
{
    CHECK_LUA(PRELUDE_COOKIES
        "local cases = {\n"
        "  'atto_sid=abc', '  atto_sid  =  abc  ', 'a=1; atto_sid=abc; b=2', 'atto_sid=; atto_sid=x',\n"
        "  'xatto_sid=1', 'atto_sidx=1', 'atto_sid', 'atto_sid x=1', 'atto_sid=a\\1b; atto_sid=ok',\n"
        "  'atto_sid=a b', 'atto_sid=\\ta\\t', ';;atto_sid=z;;', '', ';', '=', 'atto_sid==x',\n"
        "  'atto_sid=\"q\"', 'atto_sid=%61', 'a=\"x\"; atto_sid=y', 'atto_sid=a\\127b',\n"
        "}\n"
        "for _, h in ipairs(cases) do agree(h, 'atto_sid') end\n"
        "assert(web.cookie(nil, 'atto_sid') == nil)\n"
        "assert(web.cookie('atto_sid=\"q\"', 'atto_sid') == false)\n"
        "assert(web.cookie('atto_sid=%61', 'atto_sid') == false)\n"
        "math.randomseed(11)\n"
        "local alpha = { 'a', 'b', '=', ';', ' ', '\\t', '\"', '%', '1', '\\1', 'a=', '; ' }\n"
        "for i = 1, 20000 do\n"
        "  local t = {}\n"
        "  for j = 1, math.random(0, 14) do t[#t + 1] = alpha[math.random(#alpha)] end\n"
        "  agree(table.concat(t), 'a')\n"
        "end\n");
}

int main(void)
{
    RUN(round_trips_keep_types_and_bits);
    RUN(encoding_is_compact_and_starts_with_the_magic_byte);
    RUN(every_error_message_of_the_old_serializer);
    RUN(depth_32_below_the_top_is_kept_33_refused);
    RUN(an_unchanged_table_returns_the_previous_string_itself);
    RUN(every_truncation_and_flipped_byte_is_nil_or_a_table);
    RUN(damaged_values_decode_to_nil);
    RUN(old_lua_literals_are_told_apart);
    RUN(cookie_finder_agrees_with_the_prelude);
    return test_done();
}
