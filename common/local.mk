# common/: shared library code, no knowledge of config/, daemon/ or ctl/.
noinst_LIBRARIES += libmcpcommon.a
libmcpcommon_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JSONC_CFLAGS)
libmcpcommon_a_SOURCES = \
	common/log.c common/log.h \
	common/xmalloc.c common/xmalloc.h common/compat-queue.h \
	common/retry.c common/retry.h \
	common/retry-run.c common/retry-run.h \
	common/retry-rules.c common/retry-rules.h \
	common/breaker.c common/breaker.h \
	common/jsonrpc.c common/jsonrpc.h \
	common/jsonscan.c common/jsonscan.h \
	common/ndjson.c common/ndjson.h \
	common/sse.c common/sse.h \
	common/sha256.c common/sha256.h \
	common/bytes.c common/bytes.h \
	common/names.c common/names.h \
	common/sock.c common/sock.h \
	common/http-token.c common/http-token.h

COMMON_LIBS = libmcpcommon.a $(LIBEVENT_LIBS) $(JSONC_LIBS)
