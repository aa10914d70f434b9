# atto — build, run, test.
#
#   make          build ./atto
#   make run      install missing build deps (root) or say which, build, serve sites/hello
#   make test     install test deps, build normal + ASan/UBSan, run every test
#   make bench    side-by-side benchmarks against nginx and h2o
#   make fuzz     run every libFuzzer target for FUZZ_SECONDS each
#
# Every .c under core/ lua/ mail/ is part of atto; tests/unit/test_*.c are
# unit tests (one binary each, linked with everything but main.o);
# tests/fuzz/fuzz_*.c are libFuzzer targets.

CC      ?= cc
PKGS     = lua5.4 libuv openssl libcrypt
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  ?= -O2 -g
# Always added, even when CFLAGS is given on the command line (make asan).
ATTO_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -I. $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lm -lpthread
BUILD   ?= build/release

SRC      := $(sort $(wildcard core/*.c lua/*.c mail/*.c gopher/*.c))
OBJ      := $(SRC:%.c=$(BUILD)/%.o)
LIBOBJ   := $(filter-out $(BUILD)/core/main.o,$(OBJ))
UNIT     := $(sort $(wildcard tests/unit/test_*.c))
UNITBIN  := $(UNIT:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 10

.PHONY: all run test test-only deps deps-test bench fuzz clean check-deps asan unit

all: atto

atto: $(BUILD)/atto
	cp $(BUILD)/atto atto

$(BUILD)/atto: $(OBJ)
	$(CC) $(CFLAGS) $(ATTO_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The Lua half of the API ships inside the binary: prelude.lua first, then
# every other lua/*.lua in name order (each gets the `core` table).
LUASRC := lua/prelude.lua $(filter-out lua/prelude.lua,$(sort $(wildcard lua/*.lua)))
lua/prelude.h: $(LUASRC) tools/embed_lua.sh
	tools/embed_lua.sh $@ $(LUASRC)

$(BUILD)/lua/lstate.o: lua/prelude.h

$(BUILD)/%.o: %.c $(wildcard core/*.h lua/*.h mail/*.h gopher/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ATTO_CFLAGS) -c -o $@ $<

$(BUILD)/libatto.a: $(LIBOBJ)
	rm -f $@; ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libatto.a tests/unit/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ATTO_CFLAGS) -o $@ $< $(BUILD)/libatto.a $(LDFLAGS) $(LDLIBS)

unit: $(UNITBIN)

deps:
	@tools/deps.sh build

deps-test:
	@tools/deps.sh test

run: deps
	$(MAKE) atto
	./atto sites/hello

# The sanitizer build lives in build/asan and runs the same suite.
asan:
	$(MAKE) BUILD=build/asan CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" LDFLAGS="-fsanitize=address,undefined" build/asan/atto unit

test: deps-test
	$(MAKE) check-deps
	$(MAKE) atto unit
	$(MAKE) asan
	$(MAKE) fuzz-build
	tests/run

test-only:
	tests/run

# Pure codecs must never reach for sockets, the loop, TLS or Lua.
PURE = core/http1_parse.c core/hpack.c core/hpack_huff.c core/h2_frame.c core/multipart.c \
       mail/smtp_parse.c mail/imap_parse.c mail/pop3_parse.c mail/mime.c mail/mime_decode.c gopher/gopher_parse.c \
       mail/mcache_fmt.c
check-deps:
	@bad=$$(grep -lE '#include *[<"](uv\.h|openssl/|lua\.h|lauxlib\.h|lualib\.h)' $(wildcard $(PURE)) /dev/null); \
	if [ -n "$$bad" ]; then echo "pure codec includes I/O or Lua: $$bad"; exit 1; fi; echo "check-deps: pure codecs are pure"

FUZZBIN := $(FUZZ:tests/fuzz/%.c=build/fuzz/%)
# A fuzz target #includes the pure .c files it exercises, so it links alone.
build/fuzz/%: tests/fuzz/%.c $(wildcard core/*.[ch] mail/*.[ch] gopher/*.[ch])
	@mkdir -p build/fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ $<

fuzz-build: $(FUZZBIN)

fuzz: fuzz-build
	@for f in $(FUZZBIN); do n=$$(basename $$f); mkdir -p tests/fuzz/corpus/$$n; \
	  echo "fuzz $$n $(FUZZ_SECONDS)s"; $$f -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; done

bench: deps
	tools/deps.sh bench
	$(MAKE) atto
	bench/run

# bench/ratecli, the fixed-rate client (bench/run builds it the same way at
# its start); tests/e2e/test_ratecli.py uses this target. Its socket-free half,
# bench/ratecli_core.c, is #included by tests/unit/test_ratecli.c.
RATECLI_SRC = bench/ratecli.c bench/ratecli_core.c
.PHONY: ratecli
ratecli: build/bench/ratecli
build/bench/ratecli: $(RATECLI_SRC) bench/ratecli_core.h
	@mkdir -p build/bench
	$(CC) -O2 -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -I. -o $@ $(RATECLI_SRC) -lssl -lcrypto
$(BUILD)/tests/test_ratecli: bench/ratecli_core.c bench/ratecli_core.h

clean:
	rm -rf build atto lua/prelude.h
