# Makefile - the one build file for the whole postern tree (GNU make).
#
#   make            build everything into $(BUILD)/ (runs autoreconf and ./configure if needed)
#   make run        build, write a development instance under run/, start it in the foreground
#   make check      install what the tests need, build, check formatting, run every test
#   make install    install under $(DESTDIR)$(prefix)
#
# Sources are found by directory: every lib/<part>/*.c goes into lib<part>.a, every program
# directory's *.c into one program, every t/unit/*.c into one TAP test program.

BUILD ?= build
V ?= 0
Q = $(if $(filter 1,$(V)),,@)

.DEFAULT_GOAL := all
include config.mk

config.mk: config.mk.in configure
	./configure -q

configure: configure.ac
	tools/setup-deps --build-only
	autoreconf -fi

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wno-unused-parameter -Wvla -Wpointer-arith -Wcast-qual
ifeq ($(CI),true)
WERROR ?= 1
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif
HARDEN = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LD = -pie -Wl,-z,relro,-z,now
SANITIZE ?=
PATHS = -DPOSTERN_CONFIG_DIR='"$(sysconfdir)/postern"' \
	-DPOSTERN_DAEMON_DIR='"$(libexecdir)/postern"' -DPOSTERN_COMMAND_DIR='"$(sbindir)"' \
	-DPOSTERN_QUEUE_DIR='"$(queue_dir)"' -DPOSTERN_MAIL_OWNER='"$(mail_owner)"'
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(PATHS) $(WARN) $(CFLAGS_CONF) $(HARDEN) $(SANITIZE) \
	-I. -Ilib $(LIBEVENT_CFLAGS) $(LMDB_CFLAGS) $(PCRE2_CFLAGS) -MMD -MP $(CFLAGS)
LDFLAGS_ALL = $(LDFLAGS_CONF) $(HARDEN_LD) $(SANITIZE) $(LDFLAGS)
LIBS_ALL = $(LIBEVENT_LIBS) $(LMDB_LIBS) $(PCRE2_LIBS)

# Libraries: core knows no mail; mail builds on core; server is the daemon skeleton.
LIBPARTS = server mail core
LIBA = $(foreach p,$(LIBPARTS),$(BUILD)/lib/lib$(p).a)
$(foreach p,$(LIBPARTS),$(eval SRC_$(p) = $(wildcard lib/$(p)/*.c)))
$(foreach p,$(LIBPARTS),$(eval $(BUILD)/lib/lib$(p).a: $(patsubst %.c,$(BUILD)/%.o,$(SRC_$(p)))))

# Programs: directory name -> where it is installed.
SBIN_PROGS = postern
LIBEXEC_PROGS = master qmgr
PROGS = $(SBIN_PROGS) $(LIBEXEC_PROGS)
define program
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(LIBA)
	@mkdir -p $$(@D)
	@echo "  LD      $$@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $$@ $$^ $(LIBS_ALL)
endef
$(foreach p,$(PROGS),$(eval $(call program,$(p))))

# Tests: one TAP program per t/unit/*.c, linked with t/tap.c; helper programs in t/bin/.
UNIT_SRC = $(wildcard t/unit/*.c)
UNIT_BIN = $(patsubst t/unit/%.c,$(BUILD)/t/%,$(UNIT_SRC))
TEST_HELPERS = $(patsubst t/bin/%.c,$(BUILD)/t/bin/%,$(wildcard t/bin/*.c))
$(BUILD)/t/%: $(BUILD)/t/unit/%.o $(BUILD)/t/tap.o $(LIBA)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
$(BUILD)/t/bin/%: $(BUILD)/t/bin/%.o $(LIBA)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)

# The parameter reference page is generated from lib/mail/params.def.
MAN_GEN = $(BUILD)/man/postern-params.5
$(BUILD)/tools/gen_params_man: tools/gen_params_man.c lib/mail/params.def
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -Ilib $(PATHS) -o $@ tools/gen_params_man.c
$(MAN_GEN): $(BUILD)/tools/gen_params_man
	@mkdir -p $(@D)
	$(Q)$< > $@

ALL = $(addprefix $(BUILD)/bin/,$(PROGS)) $(MAN_GEN)

all: $(ALL)

$(BUILD)/%.o: %.c config.mk
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/lib/%.a:
	@mkdir -p $(@D)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- set-up, tests, run -------------------------------------------------------------------

setup:
	tools/setup-deps

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find lib t $(PROGS) -name '*.[ch]')

check-format:
	@bad=$$(for f in $(C_FILES); do clang-format --dry-run --Werror "$$f" >/dev/null 2>&1 \
		|| echo "$$f"; done); \
	if [ -n "$$bad" ]; then echo "clang-format would change:" $$bad; exit 1; fi; \
	echo "check-format: ok"

format:
	clang-format -i $(C_FILES)

tests: $(ALL) $(UNIT_BIN) $(TEST_HELPERS)

check: setup
	$(MAKE) check-format
	$(MAKE) tests
	BUILD=$(abspath $(BUILD)) prove -j2 --exec t/tap-exec $(UNIT_BIN) $(wildcard t/*.t)

run: setup all
	tools/run-dev $(BUILD)

# --- install --------------------------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(libexecdir)/postern \
		$(DESTDIR)$(sysconfdir)/postern $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man5 \
		$(DESTDIR)$(mandir)/man8
	for p in $(SBIN_PROGS); do install -m 755 $(BUILD)/bin/$$p $(DESTDIR)$(sbindir)/; done
	for p in $(LIBEXEC_PROGS); do install -m 755 $(BUILD)/bin/$$p \
		$(DESTDIR)$(libexecdir)/postern/; done
	for f in conf/main.cf conf/master.cf; do \
		[ -e $(DESTDIR)$(sysconfdir)/postern/$${f#conf/} ] || \
		install -m 644 $$f $(DESTDIR)$(sysconfdir)/postern/; done
	for s in 1 5 8; do for m in man/*.$$s $(BUILD)/man/*.$$s; do [ ! -e "$$m" ] || \
		install -m 644 $$m $(DESTDIR)$(mandir)/man$$s/; done; done

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf config.mk config.log config.status autoconf.h configure autom4te.cache aclocal.m4

.SECONDARY:
.PHONY: all setup check check-format format tests run install clean distclean
