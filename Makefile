# postseal — one non-recursive make for the core library, the CLI, the
# daemons and the nginx module.  make [SANITIZE=1] | test | demo | fuzz |
# bench | install [PREFIX=... DESTDIR=...] | deb | deps | clean

# The one place the version is written: every program's --version says it,
# and the package is to carry the same.
VERSION  := 0.1.0

PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
LIBDIR   ?= $(PREFIX)/lib
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/postseal
# The daemons read /etc/postseal/postseal.conf unless told otherwise; the
# starter config keeps quota counters in STATEDIR.
SYSCONFDIR ?= /etc
STATEDIR ?= /var/lib/postseal
# Packaged units go where Debian's packages put theirs; a local install's
# where the admin's own live.
UNITDIR  ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,/etc/systemd/system)
# Debian's nginx: modules in /usr/lib/nginx/modules, one load_module
# snippet per module in modules-available, linked from
# /etc/nginx/modules-enabled (by the package, or by the admin).
NGX_MODDIR  ?= $(LIBDIR)/nginx/modules
NGX_CONFDIR ?= $(PREFIX)/share/nginx/modules-available
NGX_SNIPPET := mod-http-webhook-verify.conf
CC       ?= cc
CFLAGS   ?= -O2 -g
SANITIZE ?= 0
FUZZ_TIME ?= 600

ifeq ($(SANITIZE),1)
B        := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
B        := build
SANFLAGS :=
endif

PKG_LIBS := openssl inih libpsl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
PKG_LDLIBS := $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null)

PS_CFLAGS  = -std=c11 -D_GNU_SOURCE -fPIC -Wall -Wextra -Werror $(CFLAGS) $(SANFLAGS) \
             -Ishared $(PKG_CFLAGS) -MMD -MP
PS_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
PS_LDLIBS  = $(PKG_LDLIBS) -lresolv

# The core's parts, one folder each (shared/cli is the CLI, not the library).
LIB_PARTS := $(filter-out shared/cli/,$(sort $(dir $(wildcard shared/*/*.c))))
LIB_SRC := $(wildcard $(addsuffix *.c,$(LIB_PARTS)))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
LIB     := $(B)/shared/libpostseal.a

CLI_SRC := $(wildcard shared/cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
CLI     := $(B)/postseal

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
UNIT_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(B)/tests/tools/%)

MILTER_SRC := $(wildcard milter/*.c)
MILTER_OBJ := $(MILTER_SRC:%.c=$(B)/%.o)
MILTER     := $(B)/postseal-milter
MILTER_CFLAGS := $(shell pkg-config --cflags milter opendkim libevent libsystemd 2>/dev/null)
MILTER_LIBS   := $(shell pkg-config --libs milter opendkim libevent libsystemd 2>/dev/null) -lspf2 -lpthread

POLICYD_SRC := $(wildcard policyd/*.c)
POLICYD_OBJ := $(POLICYD_SRC:%.c=$(B)/%.o)
POLICYD     := $(B)/postseal-policyd
POLICYD_CFLAGS := $(shell pkg-config --cflags libevent lmdb hiredis libsystemd libcurl 2>/dev/null)
POLICYD_LIBS   := $(shell pkg-config --libs libevent lmdb hiredis libsystemd libcurl 2>/dev/null)

# The nginx module is built by nginx's own build system against Debian's
# nginx sources (nginx-dev), linking the core library (hence -fPIC above).
NGX_MOD := $(B)/ngx_http_webhook_verify_module.so
NGX_MOD_SRC := $(wildcard nginx-module/*.c nginx-module/*.h nginx-module/config) shared/webhook/webhook.h

# A part's public headers are installed under its name; *_int.h never.
PUBLIC_HDR := $(filter-out %_int.h,$(wildcard $(addsuffix *.h,$(LIB_PARTS))))

# Each man page sits beside the code it documents.
MAN_PAGES := $(wildcard shared/*/*.[158] milter/*.[158] policyd/*.[158] nginx-module/*.[158])

PROGRAMS := $(CLI) $(if $(MILTER_SRC),$(MILTER)) $(if $(POLICYD_SRC),$(POLICYD))
MODULES  := $(if $(NGX_MOD_SRC),$(NGX_MOD))

.PHONY: all test unit integration demo fuzz fuzz-smoke bench deps clean format check-format \
        install install-bin install-module install-man install-units install-conf install-dev deb

all: $(LIB) $(PROGRAMS) $(MODULES) $(TOOL_BIN)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(PS_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(CLI): $(CLI_OBJ) $(LIB)
	$(CC) $(PS_LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(PS_LDLIBS)

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(LIB)
	$(CC) $(PS_LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(PS_LDLIBS) $(UNIT_LIBS)

# The Postfix policy protocol parser is policyd's; its unit test links it.
$(B)/tests/unit/test_policy_proto: $(B)/policyd/policy_proto.o
# The milter's buffered socket layer: its unit test links it alone.
$(B)/tests/unit/test_sockio: $(B)/milter/sockio.o

$(B)/milter/%.o: milter/%.c
	@mkdir -p $(@D)
	$(CC) $(PS_CFLAGS) $(MILTER_CFLAGS) -c $< -o $@

$(MILTER): $(MILTER_OBJ) $(LIB)
	$(CC) $(PS_LDFLAGS) -o $@ $(MILTER_OBJ) $(LIB) $(PS_LDLIBS) $(MILTER_LIBS)

$(B)/policyd/%.o: policyd/%.c
	@mkdir -p $(@D)
	$(CC) $(PS_CFLAGS) $(POLICYD_CFLAGS) -c $< -o $@

$(POLICYD): $(POLICYD_OBJ) $(LIB)
	$(CC) $(PS_LDFLAGS) -o $@ $(POLICYD_OBJ) $(LIB) $(PS_LDLIBS) $(POLICYD_LIBS)

$(NGX_MOD): $(NGX_MOD_SRC) $(LIB)
	nginx-module/build.sh $(abspath $(B)) $(abspath $(LIB))

# Test drivers: small programs the integration tests run (not installed).
$(B)/tests/tools/%: $(B)/tests/tools/%.o $(LIB)
	$(CC) $(PS_LDFLAGS) -o $@ $< $(LIB) $(PS_LDLIBS)

# The files that print the version are rebuilt when the Makefile changes.
VERSION_OBJ := $(B)/shared/cli/postseal.o $(B)/milter/main.o $(B)/policyd/main.o
$(VERSION_OBJ): PS_CFLAGS += -DPS_VERSION='"$(VERSION)"'
$(VERSION_OBJ): Makefile

-include $(TOOL_BIN:=.d) $(MILTER_OBJ:.o=.d) $(POLICYD_OBJ:.o=.d) $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_BIN:=.d)

# ---- tests -----------------------------------------------------------------

test: deps
	$(MAKE) check-format
	$(MAKE) all unit
	$(MAKE) SANITIZE=1 unit
	$(MAKE) fuzz-smoke
	$(MAKE) integration

check-format:
	@tests/check-format.sh

format:
	find shared milter policyd nginx-module tests -name '*.[ch]' | xargs clang-format --style=file -i

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

integration: all
	POSTSEAL_BUILD=$(abspath $(B)) tests/run-integration.sh

# ---- fuzzing (clang + libFuzzer) ------------------------------------------

FB        := build-fuzz
FUZZ_CC   := clang
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Ishared $(PKG_CFLAGS) \
             -fsanitize=address,undefined -fno-sanitize-recover=all -MMD -MP \
             -Wall -Wextra -Werror
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(FB)/%)
FUZZ_LOBJ := $(LIB_SRC:%.c=$(FB)/%.o)

$(FB)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# Linked through an archive so that a target pulls only the objects it uses
# (the metrics listener's libevent calls stay out of parsers' targets).
$(FB)/libpostseal.a: $(FUZZ_LOBJ)
	$(AR) rcs $@ $^

$(FB)/fuzz_%: tests/fuzz/fuzz_%.c $(FB)/libpostseal.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) $(FB)/libpostseal.a $(PS_LDLIBS)

$(FB)/fuzz_policy_proto: $(FB)/policyd/policy_proto.o

# A changed header rebuilds the objects that include it (a stale object
# read with a new struct layout is a false report).
-include $(FUZZ_LOBJ:.o=.d) $(FUZZ_BIN:=.d) $(FB)/policyd/policy_proto.d

fuzz: $(FUZZ_BIN)
	@tests/run-fuzz.sh $(FUZZ_TIME) $(FUZZ_BIN)

fuzz-smoke: $(FUZZ_BIN)
	@tests/run-fuzz.sh 5 $(FUZZ_BIN)

# ---- the rest --------------------------------------------------------------

demo: deps
	$(MAKE) all
	@tests/demo/demo.sh $(B)

# Each benchmark script prints its own results and leaves them in build/bench*.
bench: deps
	$(MAKE) all
	@tests/bench/run-bench.sh $(B)
	@tests/bench/bench-session.sh $(B)
	@tests/bench/bench-dmarc.sh $(B)
	@tests/bench/bench-policyd.sh $(B)
	@tests/bench/bench-webhook.sh $(B)
	@/usr/bin/python3 tests/bench/bench-latency.py $(B)
	@/usr/bin/python3 tests/bench/bench-postfix-cpu.py $(B)
	@/usr/bin/python3 tests/bench/bench-webhooks.py $(B)
	@/usr/bin/python3 tests/bench/bench-events.py $(B)

deps:
	@tests/deps.sh

# make install = every piece; the package targets below use the pieces.
install: install-bin install-module install-man install-units install-conf install-dev

install-bin: $(PROGRAMS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/
	$(if $(filter-out $(CLI),$(PROGRAMS)),install -m 755 $(filter-out $(CLI),$(PROGRAMS)) $(DESTDIR)$(SBINDIR)/)

# The snippet names the module where it was installed, so it loads from
# any PREFIX.
install-module: $(MODULES)
	$(if $(MODULES),install -d $(DESTDIR)$(NGX_MODDIR) $(DESTDIR)$(NGX_CONFDIR))
	$(if $(MODULES),install -m 644 $(MODULES) $(DESTDIR)$(NGX_MODDIR)/)
	$(if $(MODULES),printf 'load_module %s;\n' $(NGX_MODDIR)/$(notdir $(NGX_MOD)) \
	    > $(DESTDIR)$(NGX_CONFDIR)/$(NGX_SNIPPET) && chmod 644 $(DESTDIR)$(NGX_CONFDIR)/$(NGX_SNIPPET))

install-man:
	for m in $(MAN_PAGES); do \
	    install -D -m 644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done

# The units name the binaries where this install put them.
install-units:
	install -d $(DESTDIR)$(UNITDIR)
	for u in conf-examples/systemd/*.service; do \
	    sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
	        -e 's|/usr/local/bin/postseal-|$(SBINDIR)/postseal-|g' \
	        -e 's|/usr/local/bin/postseal\b|$(BINDIR)/postseal|g' $$u \
	        > $(DESTDIR)$(UNITDIR)/$${u##*/} && chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/}; done

# A config that passes `postseal check` as it stands, never written over
# an existing one; the full example goes beside the docs. The state
# directory belongs to the daemons' user when it exists (README: Deploy).
install-conf:
	install -d -m 755 $(DESTDIR)$(SYSCONFDIR)/postseal $(DESTDIR)$(DOCDIR)/examples
	install -d -m 750 $(DESTDIR)$(STATEDIR)
	if [ -z "$(DESTDIR)" ] && getent passwd postseal >/dev/null; then \
	    chown postseal:postseal $(STATEDIR); fi
	[ -e $(DESTDIR)$(SYSCONFDIR)/postseal/postseal.conf ] || \
	    install -m 644 conf-examples/postseal-starter.conf $(DESTDIR)$(SYSCONFDIR)/postseal/postseal.conf
	install -m 644 conf-examples/postseal.conf conf-examples/postfix-main.cf \
	    conf-examples/postfix-policyd.cf conf-examples/nginx.conf $(DESTDIR)$(DOCDIR)/examples/
	install -d -m 755 $(DESTDIR)$(DOCDIR)/examples/prometheus
	install -m 644 conf-examples/prometheus/* $(DESTDIR)$(DOCDIR)/examples/prometheus/

install-dev: $(LIB)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/include/postseal
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/
	for h in $(PUBLIC_HDR:shared/%=%); do \
	    install -D -m 644 shared/$$h $(DESTDIR)$(PREFIX)/include/postseal/$$h; done

# Debian packages postseal and libnginx-mod-http-webhook-verify in
# build-deb/, built with dpkg-buildflags (see conf-examples/debian/).
deb:
	conf-examples/debian/build-deb.sh build-deb

clean:
	rm -rf build build-san build-fuzz build-deb
