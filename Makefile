# cairn — one Makefile for the whole tree.
#   make            build ./cairn (and the unit-test binaries)
#   make run        install missing Debian packages, build, run `cairn agent -dev`
#   make test       install missing packages, build, run unit + integration tests
#   make asan       the same tests built with ASan + UBSan (in build-asan/)
#   make format / format-check
BUILD   ?= build
CC      ?= cc
PKGS    := libuv libsodium yaml-0.1 raft json-c
# libcurl: headers only. It is dlopen'ed at run time (agent/dlcurl.h) so an
# agent without HTTP checks never maps it and its ~25 libraries.
CPPFLAGS += -D_GNU_SOURCE -Iagent -Iapi -Igossip $(shell pkg-config --cflags $(PKGS) libmicrohttpd libcurl 2>/dev/null)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation -fno-strict-aliasing
# libmicrohttpd: Debian's static archive, its TLS entry points resolved by
# api/mhd_notls.c (cairn serves plain HTTP), so no agent maps GnuTLS and
# its seven libraries (2.7 MiB resident). The stubs object follows the
# archive on every link line that may pull it in.
NOTLS_OBJ := $(BUILD)/api/mhd_notls.o
MHD_LIBS = -Wl,-Bstatic -lmicrohttpd -Wl,-Bdynamic $(NOTLS_OBJ)
# The other libraries are linked from Debian's static archives too: a
# shared library costs its headers, GOT and the kernel's 64 KiB
# fault-around per touched region, ~0.5 MiB in all for these six. Only
# glibc (libc, libm) stays shared. As with Consul and Serf (Go, static), a
# security update of one of these (libsodium above all) reaches cairn when
# it is rebuilt: `make` after `apt-get upgrade`.
STATIC_LIBS := -Wl,-Bstatic -lraft -luv_a -lyaml -ljson-c -llz4 -lsodium -Wl,-Bdynamic
LDLIBS  += -Wl,--as-needed $(MHD_LIBS) $(STATIC_LIBS) -lm -lpthread
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

LIB_SRCS  := $(filter-out agent/main.c api/mhd_notls.c,$(wildcard agent/*.c) $(wildcard api/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
# gossip/ is a library of its own (no dependency on agent/ or api/), built
# with hidden visibility; its public header is gossip/gossip.h.
GOSSIP_SRCS := $(wildcard gossip/*.c)
GOSSIP_OBJS := $(GOSSIP_SRCS:%.c=$(BUILD)/%.o)
GOSSIP_LIB  := $(if $(GOSSIP_SRCS),$(BUILD)/libgossip.a)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# Support code shared by unit tests (tests/unit/*.c that are not test_*.c,
# e.g. the fake HTTP server), in an archive every unit test links: each
# binary pulls in only what it uses.
UNIT_SUPPORT := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_SUPPORT_OBJS := $(UNIT_SUPPORT:%.c=$(BUILD)/%.o)
UNIT_SUPPORT_LIB  := $(if $(UNIT_SUPPORT),$(BUILD)/libunit.a)
# Simulator tests: the gossip core on a fake network and clock.
SIM_SRCS  := $(wildcard tests/sim/test_*.c)
SIM_BINS  := $(SIM_SRCS:tests/sim/%.c=$(BUILD)/tests/%)
SIM_SUPPORT := $(filter-out $(SIM_SRCS),$(wildcard tests/sim/*.c))
SIM_SUPPORT_OBJS := $(SIM_SUPPORT:%.c=$(BUILD)/%.o)
SIM_SUPPORT_LIB  := $(if $(SIM_SUPPORT),$(BUILD)/libsim.a)
BIN       := $(BUILD)/cairn

.PHONY: all deps run test unit integration asan format format-check clean bench
all: $(BIN) cairn $(UNIT_BINS) $(SIM_BINS)

deps:
	@scripts/deps.sh

cairn: $(BIN)
	@ln -sf $(BIN) cairn

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gossip/%.o: gossip/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/libcairn.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libgossip.a: $(GOSSIP_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/agent/main.o $(BUILD)/libcairn.a $(GOSSIP_LIB) $(NOTLS_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter-out $(NOTLS_OBJ),$^) $(LDLIBS)

$(BUILD)/libunit.a: $(UNIT_SUPPORT_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libsim.a: $(SIM_SUPPORT_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Test binaries are compiled and linked in one step from one source file,
# so -MMD writes BUILD/tests/test_x.d naming the headers test_x.c includes
# (picked up by the -include at the end): editing one rebuilds the test.
# The simulator's support code (tests/sim/sim.c) is compiled on its own
# into an archive, like the unit tests' (libunit.a), for the same reason:
# with two sources on one command line the .d file names only the last.
$(BUILD)/tests/%: tests/unit/%.c $(UNIT_SUPPORT_LIB) $(BUILD)/libcairn.a $(GOSSIP_LIB) $(NOTLS_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -MMD -MP -o $@ $< $(UNIT_SUPPORT_LIB) $(BUILD)/libcairn.a $(GOSSIP_LIB) $(LDLIBS) -lcmocka

$(BUILD)/tests/%: tests/sim/%.c $(SIM_SUPPORT_LIB) $(GOSSIP_LIB) $(NOTLS_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/sim $(CFLAGS) -MMD -MP -o $@ $< $(SIM_SUPPORT_LIB) $(GOSSIP_LIB) $(LDLIBS) -lcmocka

run: deps
	@$(MAKE) --no-print-directory all
	./$(BIN) agent -dev

# Unit tests, then integration tests against real agents; the last line is
# "N passed, N failed" over both layers.
test: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh $(BUILD)

unit: all
	@tests/run.sh $(BUILD) unit

integration: all
	@tests/run.sh $(BUILD) integration

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="-O1 -g $(SAN)" LDFLAGS="$(SAN)" \
		build-asan/cairn $(UNIT_BINS:$(BUILD)/%=build-asan/%) $(SIM_BINS:$(BUILD)/%=build-asan/%)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		tests/run.sh build-asan

bench: all
	@scripts/deps.sh bench
	bench/kv.sh

FORMAT_FILES = $(LIB_SRCS) agent/main.c agent/*.h api/*.h $(UNIT_SRCS) \
	$(wildcard gossip/*.[ch] tests/sim/*.[ch] tests/unit/*.h) $(UNIT_SUPPORT)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build build-asan cairn

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
