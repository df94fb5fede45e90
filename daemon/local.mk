# daemon/: mcprelayd and the demo MCP server it proxies out of the box.
sbin_PROGRAMS += mcprelayd
noinst_LIBRARIES += libmcpdaemon.a
libmcpdaemon_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS) \
	$(JSONC_CFLAGS) $(YAML_CFLAGS) $(SYSTEMD_CFLAGS)
libmcpdaemon_a_SOURCES = \
	daemon/relay.c daemon/relay.h \
	daemon/access.c daemon/access.h \
	daemon/peer.c daemon/peer.h \
	daemon/child.c daemon/child.h \
	daemon/control.c daemon/control.h \
	daemon/era.c daemon/era.h \
	daemon/errors.c daemon/errors.h \
	daemon/events.c daemon/events.h \
	daemon/handler.c daemon/handler.h \
	daemon/rules.c daemon/rules.h \
	daemon/listen-http.c daemon/listen-http.h \
	daemon/listen-unix.c daemon/listen-unix.h \
	daemon/metrics.c daemon/metrics.h \
	daemon/mrtr.c daemon/mrtr.h \
	daemon/notify.c daemon/notify.h \
	daemon/request.c daemon/request.h \
	daemon/router.c daemon/router.h \
	daemon/session.c daemon/session.h \
	daemon/sockfile.c daemon/sockfile.h \
	daemon/stats.c daemon/stats.h \
	daemon/stream.c daemon/stream.h \
	daemon/upstream.c daemon/upstream.h \
	daemon/upstream-stdio.c daemon/upstream-stdio.h \
	daemon/http-client.c daemon/http-client.h \
	daemon/upstream-http.c daemon/upstream-http.h \
	daemon/upstream-sse.c daemon/upstream-sse.h \
	daemon/oauth.c daemon/oauth.h

DAEMON_LIBS = libmcpdaemon.a $(CONFIG_LIBS) $(COMMON_LIBS) $(OPENSSL_LIBS) \
	$(SYSTEMD_LIBS)

mcprelayd_CFLAGS = $(libmcpdaemon_a_CFLAGS)
mcprelayd_SOURCES = daemon/main.c
mcprelayd_LDADD = $(DAEMON_LIBS)

bin_PROGRAMS += mcprelay-demo-server
mcprelay_demo_server_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JSONC_CFLAGS) \
	$(OPENSSL_CFLAGS)
mcprelay_demo_server_SOURCES = daemon/demo-server.c daemon/demo-faults.c \
	daemon/demo-faults.h daemon/demo-conformance.c daemon/demo-conformance.h \
	daemon/demo-json.c daemon/demo-json.h daemon/demo-http.c daemon/demo-http.h
mcprelay_demo_server_LDADD = $(COMMON_LIBS) $(OPENSSL_LIBS)
