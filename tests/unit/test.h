/*
 * test.h — the unit-test harness: one binary per module, one function per
 * behaviour. A test prints "ok NAME" or "FAIL NAME: file:line: what"; the
 * binary exits non-zero when anything failed. tests/run counts the lines.
 *
 *   TEST(parses_simple_get) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(parses_simple_get); return test_done(); }
 *
 * Unit tests may #include the .c under test to reach its statics (h2o style);
 * then they must not also link that object — use a static helper instead.
 */
#ifndef ATTO_TEST_H
#define ATTO_TEST_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int test_failed_now, test_passed, test_failed;
static const char *test_name;

#define TEST(name) static void name(void)
#define CHECK(cond) do { if (!(cond)) { \
    printf("FAIL %s: %s:%d: %s\n", test_name, __FILE__, __LINE__, #cond); \
    test_failed_now = 1; return; } } while (0)
#define CHECK_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); if (_a != _b) { \
    printf("FAIL %s: %s:%d: %s == %lld, expected %lld\n", test_name, __FILE__, __LINE__, #a, _a, _b); \
    test_failed_now = 1; return; } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
    if (!_a || strcmp(_a, _b) != 0) { \
    printf("FAIL %s: %s:%d: %s == \"%s\", expected \"%s\"\n", test_name, __FILE__, __LINE__, #a, _a ? _a : "(null)", _b); \
    test_failed_now = 1; return; } } while (0)
#define CHECK_MEM(a, alen, b, blen) do { if ((size_t)(alen) != (size_t)(blen) || memcmp((a), (b), (blen)) != 0) { \
    printf("FAIL %s: %s:%d: %s differs (len %zu vs %zu)\n", test_name, __FILE__, __LINE__, #a, (size_t)(alen), (size_t)(blen)); \
    test_failed_now = 1; return; } } while (0)
#define RUN(name) do { test_name = #name; test_failed_now = 0; name(); \
    if (test_failed_now) test_failed++; else { test_passed++; printf("ok %s\n", #name); } } while (0)

static inline int test_done(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}
#endif
