# tests/fuzz/: fuzz targets.  Each target links twice: with standalone.c as
# a check program that replays its committed corpus on every make check
# (any compiler), and, with --enable-fuzzing (clang), with libFuzzer for
# make fuzz.  See tests/fuzz/README.md.
FUZZ_TARGETS = jsonrpc ndjson sse config http unix httpd

FUZZ_COMMON_SRC = tests/fuzz/fuzz.h tests/fuzz/fuzz-common.c
FUZZ_RELAY_SRC = tests/fuzz/fuzz-relay.c tests/fuzz/fuzz-relay.h
FUZZ_COMPILE_FLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JSONC_CFLAGS) \
	$(YAML_CFLAGS) -I$(top_srcdir)/tests/fuzz
FUZZ_LIBS = $(CONFIG_LIBS) $(COMMON_LIBS)
FUZZ_DAEMON_LIBS = $(DAEMON_LIBS)

FUZZ_REPLAYS = \
	tests/fuzz/fuzz-jsonrpc tests/fuzz/fuzz-ndjson tests/fuzz/fuzz-sse \
	tests/fuzz/fuzz-config tests/fuzz/fuzz-http tests/fuzz/fuzz-unix \
	tests/fuzz/fuzz-httpd
check_PROGRAMS += $(FUZZ_REPLAYS)
TESTS += $(FUZZ_REPLAYS)

tests_fuzz_fuzz_jsonrpc_SOURCES = tests/fuzz/fuzz-jsonrpc.c \
	tests/fuzz/standalone.c $(FUZZ_COMMON_SRC)
tests_fuzz_fuzz_jsonrpc_CFLAGS = $(FUZZ_COMPILE_FLAGS) -DFUZZ_TARGET='"jsonrpc"'
tests_fuzz_fuzz_jsonrpc_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_ndjson_SOURCES = tests/fuzz/fuzz-ndjson.c \
	tests/fuzz/standalone.c $(FUZZ_COMMON_SRC)
tests_fuzz_fuzz_ndjson_CFLAGS = $(FUZZ_COMPILE_FLAGS) -DFUZZ_TARGET='"ndjson"'
tests_fuzz_fuzz_ndjson_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_sse_SOURCES = tests/fuzz/fuzz-sse.c \
	tests/fuzz/standalone.c $(FUZZ_COMMON_SRC)
tests_fuzz_fuzz_sse_CFLAGS = $(FUZZ_COMPILE_FLAGS) -DFUZZ_TARGET='"sse"'
tests_fuzz_fuzz_sse_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c \
	tests/fuzz/standalone.c $(FUZZ_COMMON_SRC)
tests_fuzz_fuzz_config_CFLAGS = $(FUZZ_COMPILE_FLAGS) -DFUZZ_TARGET='"config"'
tests_fuzz_fuzz_config_LDADD = $(FUZZ_LIBS)
tests_fuzz_fuzz_http_SOURCES = tests/fuzz/fuzz-http.c \
	tests/fuzz/standalone.c $(FUZZ_COMMON_SRC) $(FUZZ_RELAY_SRC)
tests_fuzz_fuzz_http_CFLAGS = $(FUZZ_COMPILE_FLAGS) -DFUZZ_TARGET='"http"'
tests_fuzz_fuzz_http_LDADD = $(FUZZ_DAEMON_LIBS)
tests_fuzz_fuzz_unix_SOURCES = tests/fuzz/fuzz-unix.c \
	tests/fuzz/standalone.c $(FUZZ_COMMON_SRC) $(FUZZ_RELAY_SRC)
tests_fuzz_fuzz_unix_CFLAGS = $(FUZZ_COMPILE_FLAGS) -DFUZZ_TARGET='"unix"'
tests_fuzz_fuzz_unix_LDADD = $(FUZZ_DAEMON_LIBS)
tests_fuzz_fuzz_httpd_SOURCES = tests/fuzz/fuzz-httpd.c \
	tests/fuzz/standalone.c $(FUZZ_COMMON_SRC)
tests_fuzz_fuzz_httpd_CFLAGS = $(FUZZ_COMPILE_FLAGS) -DFUZZ_TARGET='"httpd"'
tests_fuzz_fuzz_httpd_LDADD = $(FUZZ_DAEMON_LIBS)

EXTRA_DIST += tests/fuzz/README.md tests/fuzz/run-fuzz.sh \
	tests/fuzz/corpus tests/fuzz/known-crashes tests/fuzz/http.dict \
	tests/fuzz/jsonrpc.dict \
	tests/fuzz/config.dict tests/fuzz/unix.dict tests/fuzz/httpd.dict

if ENABLE_FUZZING
# The libFuzzer builds: only built by make fuzz.
LIBFUZZER_BINS = \
	tests/fuzz/libfuzzer-jsonrpc tests/fuzz/libfuzzer-ndjson \
	tests/fuzz/libfuzzer-sse tests/fuzz/libfuzzer-config \
	tests/fuzz/libfuzzer-http tests/fuzz/libfuzzer-unix \
	tests/fuzz/libfuzzer-httpd
EXTRA_PROGRAMS = $(LIBFUZZER_BINS)
CLEANFILES += $(LIBFUZZER_BINS)
FUZZ_LINK_FLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer

tests_fuzz_libfuzzer_jsonrpc_SOURCES = tests/fuzz/fuzz-jsonrpc.c \
	$(FUZZ_COMMON_SRC)
tests_fuzz_libfuzzer_jsonrpc_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_libfuzzer_jsonrpc_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_libfuzzer_jsonrpc_LDADD = $(FUZZ_LIBS)
tests_fuzz_libfuzzer_ndjson_SOURCES = tests/fuzz/fuzz-ndjson.c \
	$(FUZZ_COMMON_SRC)
tests_fuzz_libfuzzer_ndjson_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_libfuzzer_ndjson_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_libfuzzer_ndjson_LDADD = $(FUZZ_LIBS)
tests_fuzz_libfuzzer_sse_SOURCES = tests/fuzz/fuzz-sse.c $(FUZZ_COMMON_SRC)
tests_fuzz_libfuzzer_sse_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_libfuzzer_sse_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_libfuzzer_sse_LDADD = $(FUZZ_LIBS)
tests_fuzz_libfuzzer_config_SOURCES = tests/fuzz/fuzz-config.c \
	$(FUZZ_COMMON_SRC)
tests_fuzz_libfuzzer_config_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_libfuzzer_config_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_libfuzzer_config_LDADD = $(FUZZ_LIBS)
tests_fuzz_libfuzzer_http_SOURCES = tests/fuzz/fuzz-http.c \
	$(FUZZ_COMMON_SRC) $(FUZZ_RELAY_SRC)
tests_fuzz_libfuzzer_http_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_libfuzzer_http_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_libfuzzer_http_LDADD = $(FUZZ_DAEMON_LIBS)
tests_fuzz_libfuzzer_unix_SOURCES = tests/fuzz/fuzz-unix.c \
	$(FUZZ_COMMON_SRC) $(FUZZ_RELAY_SRC)
tests_fuzz_libfuzzer_unix_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_libfuzzer_unix_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_libfuzzer_unix_LDADD = $(FUZZ_DAEMON_LIBS)
tests_fuzz_libfuzzer_httpd_SOURCES = tests/fuzz/fuzz-httpd.c \
	$(FUZZ_COMMON_SRC)
tests_fuzz_libfuzzer_httpd_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_libfuzzer_httpd_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_libfuzzer_httpd_LDADD = $(FUZZ_DAEMON_LIBS)

# Each target for FUZZ_SECONDS; any crash, leak or timeout fails.
# FUZZ_RUNS=0 only runs the committed corpus once through libFuzzer.
FUZZ_SECONDS = 30
FUZZ_RUNS =
FUZZ_JOBS = 1
fuzz: $(LIBFUZZER_BINS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_JOBS=$(FUZZ_JOBS) \
	    $(SHELL) $(top_srcdir)/tests/fuzz/run-fuzz.sh \
	    $(top_srcdir)/tests/fuzz $(abs_top_builddir)/tests/fuzz \
	    $(FUZZ_TARGETS)
else
fuzz:
	@echo "make fuzz needs libFuzzer: ./configure --enable-fuzzing" \
	    "with CC=clang" >&2; exit 1
endif

# Only the corpus replays of make check (CI's fuzz build runs these).
fuzz-check:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(FUZZ_REPLAYS)"

.PHONY: fuzz fuzz-check
