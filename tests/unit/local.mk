# One Check program per module.
UNIT_TESTS = \
	tests/unit/test_retry \
	tests/unit/test_retry_run \
	tests/unit/test_retry_rules \
	tests/unit/test_breaker \
	tests/unit/test_jsonrpc \
	tests/unit/test_ndjson \
	tests/unit/test_sse \
	tests/unit/test_config \
	tests/unit/test_config_rules \
	tests/unit/test_upstream_stdio \
	tests/unit/test_listen_unix \
	tests/unit/test_httpd \
	tests/unit/test_http_client \
	tests/unit/test_upstream_remote \
	tests/unit/test_era \
	tests/unit/test_oauth \
	tests/unit/test_control \
	tests/unit/test_events \
	tests/unit/test_metrics \
	tests/unit/test_access \
	tests/unit/test_import \
	tests/unit/test_sha256 \
	tests/unit/test_bytes \
	tests/unit/test_jsonscan \
	tests/unit/test_names

check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

tests_unit_test_retry_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_retry_LDADD = $(UNIT_LIBS)
tests_unit_test_retry_run_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_retry_run_LDADD = $(UNIT_LIBS)
tests_unit_test_retry_rules_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_retry_rules_LDADD = $(UNIT_LIBS)
tests_unit_test_breaker_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_breaker_LDADD = $(UNIT_LIBS)
tests_unit_test_jsonrpc_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_jsonrpc_LDADD = $(UNIT_LIBS)
tests_unit_test_ndjson_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ndjson_LDADD = $(UNIT_LIBS)
tests_unit_test_sse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sse_LDADD = $(UNIT_LIBS)
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(UNIT_LIBS)
tests_unit_test_config_rules_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_rules_LDADD = $(UNIT_LIBS)
tests_unit_test_upstream_stdio_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_upstream_stdio_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)
tests_unit_test_listen_unix_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_listen_unix_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)
tests_unit_test_httpd_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_httpd_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)
tests_unit_test_http_client_CFLAGS = $(UNIT_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_http_client_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS) \
	$(LIBEVENT_OPENSSL_LIBS) $(OPENSSL_LIBS)
tests_unit_test_upstream_remote_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_upstream_remote_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)
tests_unit_test_era_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_era_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)
tests_unit_test_oauth_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_oauth_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)
tests_unit_test_control_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_control_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)
tests_unit_test_events_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_events_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)
tests_unit_test_metrics_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_metrics_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)
tests_unit_test_access_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_access_LDADD = $(DAEMON_LIBS) $(CHECK_LIBS)

tests_unit_test_import_SOURCES = tests/unit/test_import.c ctl/import.h \
	ctl/import-map.c ctl/import-yaml.c ctl/udiff.c
tests_unit_test_import_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/ctl
tests_unit_test_import_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_import_LDADD = $(UNIT_LIBS)

tests_unit_test_sha256_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sha256_LDADD = $(UNIT_LIBS)
tests_unit_test_bytes_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_bytes_LDADD = $(UNIT_LIBS)
tests_unit_test_jsonscan_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_jsonscan_LDADD = $(UNIT_LIBS)
tests_unit_test_names_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_names_LDADD = $(UNIT_LIBS)

EXTRA_DIST += tests/unit/data
