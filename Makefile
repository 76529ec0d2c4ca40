# cron_lock: the PostgreSQL extension (PGXS) and the C++ client (CMake, driven from here).
#
#   make            build the extension, the client and the plain-SQL edition's files
#   make install    install them (PREFIX and DESTDIR honoured for the client and
#                   for the edition's files, which go to $(PREFIX)/share/cronlock)
#   make run        install what is missing, build, and play the incident demo
#   make test       the same set-up, then every test (regress, isolation, client, faults)
#   make test PG=17 the extension's suites on PostgreSQL 17 (installed or in a cached
#                   Debian root; needs root then)
#   make test-versions  those suites on 15, 17, 18 (and 19 if served), upgrades across them
#   make bench      benchmarks, writes BENCHMARKS.md
#   make soak       the long fault-injection soak (DURATION=10m)
#   make deb        Debian packages for 15, 17 and 18 into build/deb/MAJOR/
#                   (MAJORS="15" for one; 17 and 18 in cached Debian roots: root)
#   make dist       the PGXN archive build/cron_lock-VERSION.zip (git archive HEAD)

PG_CONFIG ?= pg_config
PREFIX ?= /usr/local
BUILD_TYPE ?= RelWithDebInfo
BUILD_DIR ?= build/client
# WERROR=ON in the project's own test build only: warnings of a newer compiler must
# not break a user's or a distribution's build. Unset keeps what the build tree has.
WERROR ?=

MODULE_big = cron_lock
OBJS = $(patsubst %.c,%.o,$(wildcard extension/*.c))
MODULEDIR = extension
# The newest upgrade script and the C layout data are generated from the one
# description of the tables (schema/, see schema/README.md); a clean clone
# builds them.
SCHEMA_FILES = schema/gen.sh $(wildcard schema/tables/*.sql schema/views/*.sql schema/functions/*.sql)
DATA_built = extension/cron_lock--1.1--1.2.sql
DATA = extension/cron_lock.control $(filter-out $(DATA_built),$(wildcard extension/cron_lock--*.sql))
PG_CPPFLAGS = -Iextension

REGRESS = setup try validate heartbeat release check durability status anomalies duplicates prune counters strays privileges definer tables hijack expect pause health install upgrade
REGRESS_OPTS = --load-extension=cron_lock
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/isolation/output --load-extension=cron_lock

EXTRA_CLEAN = test/isolation/output results regression.diffs regression.out build extension/layout.h

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every module file includes these.
$(OBJS): $(wildcard extension/*.h)
extension/tables.o extension/tables.bc: extension/layout.h

extension/layout.h: $(SCHEMA_FILES)
	schema/gen.sh c-header >$@.tmp && mv $@.tmp $@

extension/cron_lock--1.1--1.2.sql: $(SCHEMA_FILES)
	schema/gen.sh extension-upgrade 1.1 1.2 >$@.tmp && mv $@.tmp $@

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: deps client client-install test test-versions run bench soak uninstall-client sql-edition \
	sql-edition-install sql-edition-uninstall deb dist

# EXTENSION_ONLY=1: the extension alone (debian/rules builds the client once,
# the extension once per major).
ifndef EXTENSION_ONLY
all: client sql-edition
endif

deps:
	test/install-deps.sh

client:
	@if [ -f client/CMakeLists.txt ]; then \
		cmake -S client -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
			-DCMAKE_INSTALL_PREFIX=$(PREFIX) $(if $(WERROR),-DCRONLOCK_WERROR=$(WERROR)) >/dev/null && \
		cmake --build $(BUILD_DIR) -j2; \
	fi

ifndef EXTENSION_ONLY
install: client-install sql-edition-install
endif

# cmake --install writes install_manifest.txt into the build tree; under sudo
# it must stay the build tree owner's, or the next unprivileged build fails.
KEEP_BUILD_OWNER = chown --reference=$(BUILD_DIR) $(BUILD_DIR)/install_manifest.txt 2>/dev/null || true

client-install: client
	@if [ -f client/CMakeLists.txt ]; then \
		DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) >/dev/null && $(KEEP_BUILD_OWNER); \
	fi

uninstall: uninstall-client sql-edition-uninstall

# The files to remove are those an install of the current PREFIX would write
# (staged into a scratch directory), not whatever an earlier install listed;
# then the directories of our own (include/cronlock, lib/cmake/cronlock) and
# the completion directories install created, if empty.
uninstall-client:
	@if [ -f $(BUILD_DIR)/cmake_install.cmake ]; then \
		stage=$$(mktemp -d) && \
		DESTDIR=$$stage cmake --install $(BUILD_DIR) --prefix $(PREFIX) >/dev/null && \
		(cd $$stage && find . \( -type f -o -type l \) -print | sed 's|^\.||') | \
			while read -r f; do rm -f "$(DESTDIR)$$f"; done; \
		(cd $$stage && find . -depth -mindepth 1 -type d \( -name '*cronlock*' -o -path '*/bash-completion/completions' \
			-o -path '*/share/bash-completion' \) -print | sed 's|^\.||') | \
			while read -r d; do rmdir "$(DESTDIR)$$d" 2>/dev/null || true; done; \
		rm -rf $$stage; $(KEEP_BUILD_OWNER); \
	fi

# The plain-SQL edition (sql-edition/): install, uninstall and purge files for
# psql -f or a migration tool, at the extension's version.
EDITION_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" extension/cron_lock.control)
EDITION_FILES = cron_lock.sql cron_lock_uninstall.sql cron_lock_purge.sql \
	cron_lock_move_out.sql cron_lock_move_in.sql

sql-edition: build/sql-edition/cron_lock.sql

build/sql-edition/cron_lock.sql: $(wildcard sql-edition/src/*.sql sql-edition/*.sql) sql-edition/functions.list \
		sql-edition/build.sh extension/cron_lock.control $(SCHEMA_FILES)
	sql-edition/build.sh build/sql-edition $(EDITION_VERSION)

sql-edition-install: sql-edition
	install -d $(DESTDIR)$(PREFIX)/share/cronlock
	install -m 644 $(addprefix build/sql-edition/,$(EDITION_FILES)) $(DESTDIR)$(PREFIX)/share/cronlock/

sql-edition-uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/cronlock/,$(EDITION_FILES))
	-rmdir $(DESTDIR)$(PREFIX)/share/cronlock 2>/dev/null

# Build as the invoking user; only the install step needs root.
ifdef PG
test:
	$(SUDO) env PG_CONFIG=$(PG_CONFIG) test/versions/major.sh $(PG) test/versions/suites.sh
else
test: deps
	$(MAKE) all WERROR=ON
	$(SUDO) $(MAKE) install
	test/run-tests.sh
endif

test-versions:
	$(SUDO) env PG_CONFIG=$(PG_CONFIG) test/versions/run.sh

run: deps
	$(MAKE) all
	$(SUDO) $(MAKE) install
	test/demo/incident.sh

bench: deps
	test/install-deps.sh hyperfine gnuplot-nox time
	$(MAKE) all
	$(SUDO) $(MAKE) install
	test/bench/run.sh

soak: deps
	$(MAKE) all
	$(SUDO) $(MAKE) install
	test/faults/soak.sh $(DURATION)

# Debian packages (debian/, test/packages/deb.sh): one major or the whole matrix.
MAJORS ?= 15 17 18
deb:
	test/install-deps.sh
	$(SUDO) test/packages/deb.sh $(MAJORS)

# The PGXN archive: the committed tree (git archive), named by META.json's version.
DIST_VERSION = $(shell sed -n 's/^   "version": "\(.*\)",$$/\1/p' META.json)
dist:
	mkdir -p build
	git archive --format=zip --prefix=cron_lock-$(DIST_VERSION)/ -o build/cron_lock-$(DIST_VERSION).zip HEAD
	@echo build/cron_lock-$(DIST_VERSION).zip
