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
	$(YAML_CFLAGS) -DTEST_DATA_DIR='"$(abs_top_srcdir)/tests/unit/data"'
UNIT_LIBS = $(CONFIG_LIBS) $(COMMON_LIBS) $(CHECK_LIBS)

include tests/unit/local.mk
endif

# Integration tests run the built binaries against real processes; the
# interop tests install the pinned MCP SDK into the build tree first.
TESTS += tests/integration/demo-server.test.sh tests/integration/run.sh
EXTRA_DIST += tests/integration/demo-server.test.sh tests/integration/run.sh \
	tests/integration/setup-npm.sh tests/integration/package.json \
	tests/integration/package-lock.json tests/integration/README.md \
	tests/integration/proxy-basic.test.mjs \
	tests/integration/reconnect.test.mjs \
	tests/integration/bad-input.test.mjs \
	tests/integration/interop-sdk.test.mjs \
	tests/integration/lib/harness.mjs tests/integration/lib/selftest.mjs \
	tests/integration/lib/pidwrap.sh
