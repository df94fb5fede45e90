# tests/: Check unit tests per module, then integration tests against the
# real daemon.
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	top_srcdir=$(abs_top_srcdir); top_builddir=$(abs_top_builddir); \
	CK_DEFAULT_TIMEOUT=30; \
	export top_srcdir top_builddir CK_DEFAULT_TIMEOUT;

if HAVE_CHECK
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(JSONC_CFLAGS) \
	$(YAML_CFLAGS) -DTEST_DATA_DIR='"$(abs_top_srcdir)/tests/unit/data"' \
	-DTEST_TLS_MODULE='"$(abs_top_builddir)/modules/tls.so"'
UNIT_LIBS = $(CONFIG_LIBS) $(COMMON_LIBS) $(CHECK_LIBS)

include tests/unit/local.mk
endif

# Fuzz targets: corpus replays in make check, libFuzzer runs in make fuzz.
include tests/fuzz/local.mk

# Integration tests run the built binaries against real processes; the
# interop tests install the pinned MCP SDK into the build tree first.
TESTS += tests/integration/demo-server.test.sh tests/integration/run.sh
EXTRA_DIST += tests/integration/demo-server.test.sh tests/integration/run.sh \
	tests/integration/setup-npm.sh tests/integration/package.json \
	tests/integration/package-lock.json tests/integration/README.md \
	tests/integration/proxy-basic.test.mjs \
	tests/integration/reconnect.test.mjs \
	tests/integration/bad-input.test.mjs \
	tests/integration/limits.test.mjs \
	tests/integration/chaos-found.test.mjs \
	tests/integration/interop-sdk.test.mjs \
	tests/integration/per-client.test.mjs \
	tests/integration/sessions.test.mjs \
	tests/integration/upstream-failures.test.mjs \
	tests/integration/pagination.test.mjs \
	tests/integration/reload.test.mjs \
	tests/integration/ctl.test.mjs \
	tests/integration/doctor.test.mjs \
	tests/integration/monitoring.test.mjs \
	tests/integration/haproxy.test.mjs \
	tests/integration/control.test.mjs \
	tests/integration/remote-http.test.mjs \
	tests/integration/remote-demo.test.mjs \
	tests/integration/demo-http.test.mjs \
	tests/integration/remote-sse.test.mjs \
	tests/integration/eras.test.mjs \
	tests/integration/retry-rules.test.mjs \
	tests/integration/oauth.test.mjs \
	tests/integration/lib/harness.mjs tests/integration/lib/selftest.mjs \
	tests/integration/lib/pidwrap.sh tests/integration/lib/fault-proxy.mjs \
	tests/integration/lib/everything.mjs \
	tests/integration/lib/as-user.mjs

# import.test.mjs: mcprelayctl import, repoint, init and the completions,
# on sample agent configurations written for it.
EXTRA_DIST += tests/integration/import.test.mjs tests/integration/data

# systemd.test.mjs: the service manager's side (sd_notify sink, socket
# activation launcher) in a small C helper.
check_PROGRAMS += tests/integration/sd-helper
tests_integration_sd_helper_SOURCES = tests/integration/sd-helper.c
EXTRA_DIST += tests/integration/systemd.test.mjs

# tls-module.test.mjs: the TLS module found, missing or broken;
# tls-linkage.test.sh: mcprelayd's DT_NEEDED has no OpenSSL (readelf).
TESTS += tests/integration/tls-linkage.test.sh
EXTRA_DIST += tests/integration/tls-module.test.mjs \
	tests/integration/tls-linkage.test.sh

# access.test.mjs: a daemon that may not open netlink sockets.
check_PROGRAMS += tests/integration/no-netlink
tests_integration_no_netlink_SOURCES = tests/integration/no-netlink.c
EXTRA_DIST += tests/integration/access.test.mjs

# The official MCP conformance suite (tests/conformance/README.md): make
# check runs the fixture's own stdio test; make conformance installs the
# pinned suite and Node 22 into the build tree and runs it through mcprelayd
# (CONFORMANCE_RUNS="relay-stdio-2025-11-25 ..." picks runs).
TESTS += tests/conformance/fixture.sh
EXTRA_DIST += tests/conformance/README.md tests/conformance/run.sh \
	tests/conformance/run.mjs tests/conformance/setup-npm.sh \
	tests/conformance/run-client.mjs tests/conformance/client.mjs \
	tests/conformance/requirements.mjs \
	tests/conformance/fixture.sh tests/conformance/fixture.test.mjs \
	tests/conformance/package.json tests/conformance/package-lock.json \
	tests/conformance/expected.txt

conformance: all
	top_srcdir=$(abs_top_srcdir) top_builddir=$(abs_top_builddir) \
	    $(SHELL) $(abs_top_srcdir)/tests/conformance/run.sh \
	    $(CONFORMANCE_RUNS)

# The chaos suite (docs/chaos.md): 64 client sessions, faults with a fixed
# seed, the exactly-once checker.  make check runs CHAOS_SECONDS (30) of
# it; make chaos is the soak run (CHAOS_SECONDS=600 by default).
TESTS += tests/chaos/run.sh
EXTRA_DIST += tests/chaos/run.sh tests/chaos/chaos.mjs \
	tests/chaos/chaos.test.mjs tests/chaos/clients.mjs \
	tests/chaos/tcp-fault-proxy.mjs

chaos: all
	top_srcdir=$(abs_top_srcdir) top_builddir=$(abs_top_builddir) \
	    $(SHELL) $(abs_top_srcdir)/tests/chaos/run.sh soak

# The integration tests with mcprelayd under valgrind memcheck: any memory
# error or definite leak makes the daemon exit 99, which fails its test.
# VALGRIND_ITESTS picks files (names without .test.mjs); by default all.
VALGRIND = valgrind
VALGRIND_FLAGS = --tool=memcheck --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--num-callers=30 --suppressions=$(abs_top_srcdir)/tests/valgrind.supp
VALGRIND_SLOW = 10
VALGRIND_ITESTS =
EXTRA_DIST += tests/valgrind.supp

check-valgrind: all tests/integration/sd-helper$(EXEEXT) \
    tests/integration/no-netlink$(EXEEXT)
	MCPRELAY_WRAPPER="$(VALGRIND) $(VALGRIND_FLAGS)" \
	    MCPRELAY_ITEST_SLOW=$(VALGRIND_SLOW) \
	    MCPRELAY_ITEST_TIMEOUT=2400 \
	    top_srcdir=$(abs_top_srcdir) top_builddir=$(abs_top_builddir) \
	    $(SHELL) $(abs_top_srcdir)/tests/integration/run.sh \
	    $(VALGRIND_ITESTS:%=$(abs_top_srcdir)/tests/integration/%.test.mjs)

.PHONY: conformance chaos check-valgrind
