# Makefile - the one build file for the whole postern tree (GNU make).
#
#   make            build everything into $(BUILD)/ (runs autoreconf and ./configure if needed)
#   make run        build, write a development instance under run/, start it in the foreground
#   make check      install what the tests need, build, check formatting, manual pages and
#                   static analysis, run every test (incl. the fuzz corpora as plain replays)
#   make check-sanitize  the same tests built with clang under ASan+UBSan+LSan in build-san/
#   make fuzz       libFuzzer run of every t/fuzz/*.c target, FUZZ_SECONDS each (build-fuzz/)
#   make valgrind   unit tests, fuzz replays and integration scripts under valgrind memcheck
#   make install    install under $(DESTDIR)$(prefix)
#   make bench      benchmarks against Debian's Postfix side by side (not a test; doc/bench.md)
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
# FORTIFY is separate so that sanitizer builds can drop it: glibc's fortified __*_chk
# wrappers are not all intercepted by ASan, so they would hide or pre-empt its reports.
FORTIFY = -D_FORTIFY_SOURCE=2
HARDEN = $(FORTIFY) -fstack-protector-strong -fPIE
HARDEN_LD = -pie -Wl,-z,relro,-z,now
SANITIZE ?=
PATHS = -DPOSTERN_CONFIG_DIR='"$(sysconfdir)/postern"' \
	-DPOSTERN_DAEMON_DIR='"$(libexecdir)/postern"' -DPOSTERN_COMMAND_DIR='"$(sbindir)"' \
	-DPOSTERN_QUEUE_DIR='"$(queue_dir)"' -DPOSTERN_MAIL_OWNER='"$(mail_owner)"' \
	-DPOSTERN_TLS_OWNER='"$(tls_owner)"' -DPOSTERN_SETGID_GROUP='"$(setgid_group)"'
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(PATHS) $(WARN) $(CFLAGS_CONF) $(HARDEN) $(SANITIZE) \
	-I. -Ilib $(LIBEVENT_CFLAGS) $(LMDB_CFLAGS) $(PCRE2_CFLAGS) -MMD -MP $(CFLAGS)
LDFLAGS_ALL = $(LDFLAGS_CONF) $(HARDEN_LD) $(SANITIZE) $(LDFLAGS)
LIBS_ALL = $(LIBEVENT_LIBS) $(LMDB_LIBS) $(PCRE2_LIBS)

# Libraries: core knows no mail; mail builds on core; server is the daemon skeleton; smtpd is
# the SMTP server session that the smtpd and submission programs share.
LIBPARTS = smtpd server mail core
LIBA = $(foreach p,$(LIBPARTS),$(BUILD)/lib/lib$(p).a)
$(foreach p,$(LIBPARTS),$(eval SRC_$(p) = $(wildcard lib/$(p)/*.c)))
$(foreach p,$(LIBPARTS),$(eval $(BUILD)/lib/lib$(p).a: $(patsubst %.c,$(BUILD)/%.o,$(SRC_$(p)))))

# Programs: directory name -> where it is installed.
SBIN_PROGS = postern postdrop sendmail
LIBEXEC_PROGS = master qmgr smtpd submission local anvil tlsproxy bounce pickup smtp-out showq \
	error discard
PROGS = $(SBIN_PROGS) $(LIBEXEC_PROGS)
# Postfix's queue commands: links to postern, which acts as the command its name says.
QUEUE_NAMES = mailq postqueue postsuper postcat
define program
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(LIBA)
	@mkdir -p $$(@D)
	@echo "  LD      $$@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $$@ $$^ $$(LIBS_ALL)
endef
$(foreach p,$(PROGS),$(eval $(call program,$(p))))
# The SMTP server looks client names up with libunbound and authenticates with the SASL
# server (lib/mail/sasl_*.c: libsasl2); nothing else links them.
$(BUILD)/bin/smtpd $(BUILD)/bin/submission: LIBS_ALL += $(UNBOUND_LIBS) $(SASL_LIBS)
$(BUILD)/lib/smtpd/smtpd_dns.o: CFLAGS_ALL += $(UNBOUND_CFLAGS)
# smtp-out looks next hops up with libunbound too, and authenticates to relays with the SASL
# client (smtp-out/smtp_out_sasl.c: libsasl2).
$(BUILD)/bin/smtp-out: LIBS_ALL += $(UNBOUND_LIBS) $(SASL_LIBS)
$(BUILD)/smtp-out/%.o: CFLAGS_ALL += $(UNBOUND_CFLAGS) $(SASL_CFLAGS)
$(BUILD)/lib/mail/sasl_cyrus.o $(BUILD)/lib/mail/sasl_opts.o: CFLAGS_ALL += $(SASL_CFLAGS)
$(BUILD)/t/bin/sasl_try $(BUILD)/t/mail_sasl_server: LIBS_ALL += $(SASL_LIBS)
# The test milter is the filter side of the protocol: libmilter, for the tests only.
$(BUILD)/t/bin/test_milter: LIBS_ALL += $(MILTER_LIBS)
# tlsproxy is the only program that links OpenSSL (and the only one that reads keys).
$(BUILD)/bin/tlsproxy: LIBS_ALL += $(OPENSSL_LIBS)
$(BUILD)/tlsproxy/%.o: CFLAGS_ALL += $(OPENSSL_CFLAGS)

# Tests: one TAP program per t/unit/*.c, linked with t/tap.c; helper programs in t/bin/.
# Each fuzz target t/fuzz/NAME.c (with t/fuzz_util.c) is also linked with t/fuzz_replay.c
# into a plain TAP program $(BUILD)/t/fuzz/NAME that feeds it t/fuzz/corpus/NAME/* and
# t/fuzz/regress/NAME/*.
UNIT_SRC = $(wildcard t/unit/*.c)
UNIT_BIN = $(patsubst t/unit/%.c,$(BUILD)/t/%,$(UNIT_SRC))
FUZZ_NAMES = $(patsubst t/fuzz/%.c,%,$(wildcard t/fuzz/*.c))
FUZZ_REPLAY = $(patsubst %,$(BUILD)/t/fuzz/%,$(FUZZ_NAMES))
TEST_HELPERS = $(patsubst t/bin/%.c,$(BUILD)/t/bin/%,$(wildcard t/bin/*.c))
# LD_PRELOAD shims for tests that watch what a daemon does; built without sanitizers, as a
# preloaded library must not carry its own runtime.
TEST_PRELOAD = $(patsubst t/preload/%.c,$(BUILD)/t/preload/%.so,$(wildcard t/preload/*.c))
$(BUILD)/t/preload/%.so: t/preload/%.c
	@mkdir -p $(@D)
	@echo "  SO      $@"
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -fPIC -shared -o $@ $< -ldl
$(BUILD)/t/%: $(BUILD)/t/unit/%.o $(BUILD)/t/tap.o $(LIBA)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
# The echo protocol's stub is a test fixture: it lives in t/ and links into its test only.
$(BUILD)/t/mail_echo_clnt: $(BUILD)/t/unit/mail_echo_clnt.o $(BUILD)/t/echo_clnt.o \
		$(BUILD)/t/tap.o $(LIBA)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
$(BUILD)/t/bin/%: $(BUILD)/t/bin/%.o $(LIBA)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)
$(BUILD)/t/fuzz/%: $(BUILD)/t/fuzz/%.o $(BUILD)/t/fuzz_replay.o $(BUILD)/t/fuzz_util.o \
		$(BUILD)/t/tap.o $(LIBA)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS_ALL)

# The parameter reference page is generated from lib/mail/params.def (the defaults of the
# paths come from configure, hence config.mk). Its date is the day params.def last changed.
MAN_GEN = $(BUILD)/man/postern-params.5
MAN_GEN_DATE = $(shell git log -1 --format=%cs -- lib/mail/params.def 2>/dev/null | grep . || \
	date -u -r lib/mail/params.def +%F)
$(BUILD)/tools/gen_params_man: tools/gen_params_man.c lib/mail/params.def config.mk
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -Ilib $(PATHS) -o $@ tools/gen_params_man.c
$(MAN_GEN): $(BUILD)/tools/gen_params_man
	@mkdir -p $(@D)
	$(Q)$< $(MAN_GEN_DATE) > $@

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

# check-man: every page in man/ and every generated one, by shell glob so that a new page is
# checked the day it lands (tools/check-man says what counts as a finding).
check-man: $(MAN_GEN)
	$(Q)tools/check-man man/* $(BUILD)/man/* && echo "check-man: ok"

tests: $(ALL) $(UNIT_BIN) $(TEST_HELPERS) $(TEST_PRELOAD) $(FUZZ_REPLAY)

TESTS_RUN = $(UNIT_BIN) $(FUZZ_REPLAY) $(wildcard t/*.t)
run-tests: tests
	BUILD=$(abspath $(BUILD)) prove -j2 --exec t/tap-exec $(TESTS_RUN)

check: setup
	$(MAKE) check-format
	$(MAKE) check-man
	$(MAKE) check-static
	$(MAKE) run-tests

# --- sanitizers, static analysis, fuzzing, valgrind (doc/testing.md says what each catches) --

# check-sanitize: every test against a clang ASan+UBSan build in its own directory (objects
# must not mix with build/). Reports go to files as well as killing the process, so that a
# report from a daemon whose exit status no test looks at still fails the run.
SAN_BUILD = build-san
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_LOG = $(abspath $(SAN_BUILD))/reports/san
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(SAN_LOG) \
	LSAN_OPTIONS=suppressions=$(abspath t/lsan.supp):print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(SAN_LOG)
check-sanitize: setup
	rm -rf $(SAN_BUILD)/reports && mkdir -p $(SAN_BUILD)/reports
	$(MAKE) BUILD=$(SAN_BUILD) CC=clang FORTIFY= SANITIZE="$(SAN_FLAGS)" tests
	$(SAN_ENV) $(MAKE) BUILD=$(SAN_BUILD) CC=clang FORTIFY= SANITIZE="$(SAN_FLAGS)" \
		run-tests; st=$$?; \
	if [ -n "$$(ls $(SAN_BUILD)/reports)" ]; then cat $(SAN_BUILD)/reports/*; st=1; fi; \
	exit $$st

# check-static: clang-tidy (.clang-tidy) and cppcheck (tools/cppcheck/) on every C file.
check-static:
	$(Q)tools/check-static $(filter %.c,$(C_FILES)) -- -std=c11 -D_GNU_SOURCE $(PATHS) $(FORTIFY) \
		-I. -Ilib $(LIBEVENT_CFLAGS) $(LMDB_CFLAGS) $(PCRE2_CFLAGS)

# fuzz: each t/fuzz/NAME.c as a libFuzzer program, run for FUZZ_SECONDS from its corpus; a
# crash is copied into t/fuzz/regress/NAME/, where `make check` replays it from then on.
# FUZZ_SEED fixes libFuzzer's random choices, so that CI's run on a tree follows the path
# a local `make fuzz` of the same tree took; FUZZ_SEED=0 picks a new seed each run.
FUZZ_BUILD = build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_SEED ?= 1
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang FORTIFY= \
		SANITIZE="$(SAN_FLAGS) -fsanitize=fuzzer-no-link" fuzz-run
fuzz-run: $(addprefix fuzz-run-,$(FUZZ_NAMES))
fuzz-run-%: $(BUILD)/fuzz/%
	tools/fuzz-run $< $* $(FUZZ_SECONDS) $(FUZZ_SEED)
$(BUILD)/fuzz/%: $(BUILD)/t/fuzz/%.o $(BUILD)/t/fuzz_util.o $(LIBA)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(LIBS_ALL)

# valgrind: every test under memcheck (gcc build): compiled tests directly, scripts below.
# t/valgrind.supp says why each of its entries is not a bug.
VALGRIND = valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--suppressions=$(abspath t/valgrind.supp)
# The integration scripts run against $(BUILD)/valgrind, where every program is a wrapper
# that runs the real one under valgrind (tools/valgrind-wrap). Scripts that time the
# supervisor and its children (respawn, idle exit) cannot work at valgrind's speed; man.t
# runs no daemon, and `make install` from that wrapper tree would rebuild the programs;
# sendmail.t needs a set-gid postdrop, which a wrapper script cannot be.
VALGRIND_SKIP = t/master.t t/master-unpriv.t t/server.t t/man.t t/sendmail.t
valgrind: tests
	BUILD=$(abspath $(BUILD)) prove -j2 --exec "$(VALGRIND)" $(UNIT_BIN) $(FUZZ_REPLAY)
	tools/valgrind-wrap $(BUILD) $(BUILD)/valgrind $(VALGRIND)
	BUILD=$(abspath $(BUILD))/valgrind prove -j2 --exec t/tap-exec \
		$(filter-out $(VALGRIND_SKIP),$(wildcard t/*.t))

run: setup all
	tools/run-dev $(BUILD)

# bench: workloads W1 (throughput) and W3 (idle connections), and on request W4S, W4A (over
# TLS), W3T (idle TLS sessions), W6 (non-delivery notices) and W7 (100,000 deferred
# messages: qmgr's memory, start and scan), against a private Postfix
# instance; bench/setup installs Postfix when missing. Knobs: BENCH_* (bench/run, doc/bench.md).
bench: setup all
	bench/setup
	BENCH_BUILD=$(abspath $(BUILD)) bench/run
.PHONY: bench

# --- install --------------------------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(libexecdir)/postern \
		$(DESTDIR)$(sysconfdir)/postern $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man5 \
		$(DESTDIR)$(mandir)/man8
	install -d -m 755 $(DESTDIR)$(queue_dir)
	for p in $(SBIN_PROGS); do install -m 755 $(BUILD)/bin/$$p $(DESTDIR)$(sbindir)/; done
	for n in $(QUEUE_NAMES); do ln -sf postern $(DESTDIR)$(sbindir)/$$n; done
	for p in $(LIBEXEC_PROGS); do install -m 755 $(BUILD)/bin/$$p \
		$(DESTDIR)$(libexecdir)/postern/; done
	for f in conf/main.cf conf/master.cf; do \
		[ -e $(DESTDIR)$(sysconfdir)/postern/$${f#conf/} ] || \
		install -m 644 $$f $(DESTDIR)$(sysconfdir)/postern/; done
	for s in 1 5 8; do for m in man/*.$$s $(BUILD)/man/*.$$s; do [ ! -e "$$m" ] || \
		install -m 644 $$m $(DESTDIR)$(mandir)/man$$s/; done; done
	$(MAKE) install-postdrop install-compat

# postdrop is set-gid setgid_group (the group is made when missing, as root, outside a
# DESTDIR staging tree, where packaging does it instead); newaliases is postern under that
# name (mailq too, with the queue commands). The compatibility paths Postfix uses get links
# to ours, but a file already there (another MTA's) is left alone with a note:
# SENDMAIL_PATH= skips one.
SENDMAIL_PATH ?= /usr/sbin/sendmail
MAILQ_PATH ?= /usr/bin/mailq
NEWALIASES_PATH ?= /usr/bin/newaliases
install-postdrop:
	if [ "$$(id -u)" -eq 0 ] && [ -z "$(DESTDIR)" ]; then \
		getent group $(setgid_group) >/dev/null || groupadd -r $(setgid_group); \
		chgrp $(setgid_group) $(sbindir)/postdrop && chmod 2755 $(sbindir)/postdrop; \
	else echo "install: make $(sbindir)/postdrop set-gid $(setgid_group) (chgrp, chmod 2755)"; fi
install-compat:
	ln -sf postern $(DESTDIR)$(sbindir)/newaliases
	ln -sf sendmail.1 $(DESTDIR)$(mandir)/man1/newaliases.1
	for pair in $(SENDMAIL_PATH):sendmail $(MAILQ_PATH):mailq \
			$(NEWALIASES_PATH):newaliases; do \
		link=$${pair%%:*}; name=$${pair#*:}; [ -n "$$link" ] || continue; \
		if [ -e "$(DESTDIR)$$link" ] && [ "$$(readlink "$(DESTDIR)$$link")" != \
				"$(sbindir)/$$name" ]; then \
			echo "install: $$link exists (another MTA's?): left alone"; \
		else mkdir -p "$$(dirname "$(DESTDIR)$$link")" && \
			ln -sf $(sbindir)/$$name "$(DESTDIR)$$link"; fi; \
	done

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD)

distclean: clean
	rm -rf config.mk config.log config.status autoconf.h configure autom4te.cache aclocal.m4

.SECONDARY:
.PHONY: all setup check check-format check-man format tests run-tests run install \
	install-postdrop install-compat clean distclean \
	check-sanitize check-static fuzz fuzz-run valgrind
