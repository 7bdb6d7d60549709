# Tollgate build. `make` builds build/tollgate and build/mockllm; `make test` installs what is missing,
# builds, and runs every test; `make run` starts the gateway on the quickstart config.
#
#   make SANITIZE=address,undefined test     build everything with sanitizers, then test
#   make fuzz [FUZZ_SECONDS=30]              run each libFuzzer driver for a bounded time
#   make bench                               gateway vs nginx vs direct (see bench/README.md)

CC       ?= cc
BUILD    ?= build
SANITIZE ?=
PKGS     := libuv libcurl json-c libfyaml openssl libxxhash zlib

WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -MMD -MP -pthread
# mimalloc replaces malloc process-wide (json-c and curl allocate per request): about 16% fewer
# instructions per proxied request. Not under sanitizers, which bring their own allocator.
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lm -pthread
ifeq ($(SANITIZE),)
LDLIBS   := -lmimalloc $(LDLIBS)
endif
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
comma    := ,
# One directory per sanitizer set: objects built for one must never link into another.
BUILD    := build-san-$(subst $(comma),-,$(SANITIZE))
endif

LIB_SRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' | sort)
CLI_SRC  := $(shell find src/cli -name '*.c' | sort)
MOCK_SRC := $(shell find tools/mockllm -name '*.c' | sort)
LOAD_SRC := $(shell find bench -name '*.c' 2>/dev/null | sort)
TEST_SRC := $(shell find tests/unit -name 'test_*.c' | sort)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
MOCK_OBJ := $(MOCK_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit e2e fuzz bench clean check-config
all: $(BUILD)/tollgate $(BUILD)/mockllm $(if $(LOAD_SRC),$(BUILD)/loadgen)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtollgate.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tollgate: $(CLI_OBJ) $(BUILD)/libtollgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mockllm: $(MOCK_OBJ) $(BUILD)/libtollgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/loadgen: $(LOAD_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/libtollgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtollgate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libtollgate.a $(LDLIBS) $(shell pkg-config --libs cmocka)

deps:
	./scripts/deps.sh

run: deps all
	./scripts/run.sh

test: deps
	$(MAKE) all $(TEST_BIN)
	BUILD=$(BUILD) ./scripts/test.sh

unit: all $(TEST_BIN)
	BUILD=$(BUILD) ./scripts/test.sh unit

e2e: all $(TEST_BIN)
	BUILD=$(BUILD) ./scripts/test.sh e2e

FUZZ_SECONDS ?= 20
fuzz:
	./scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps all
	./bench/run.sh

clean:
	rm -rf build build-san-* build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
