# daemon/: mcprelayd and the demo MCP server it proxies out of the box.
sbin_PROGRAMS += mcprelayd
noinst_LIBRARIES += libmcpdaemon.a
libmcpdaemon_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) \
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
	daemon/httpd.c daemon/httpd.h \
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
	daemon/tls-load.c daemon/tls.h \
	daemon/upstream-http.c daemon/upstream-http.h \
	daemon/upstream-sse.c daemon/upstream-sse.h \
	daemon/oauth.c daemon/oauth.h

# No OpenSSL: that is in the TLS module below.
DAEMON_LIBS = libmcpdaemon.a $(CONFIG_LIBS) $(COMMON_LIBS) $(SYSTEMD_LIBS)

mcprelayd_CFLAGS = $(libmcpdaemon_a_CFLAGS)
mcprelayd_SOURCES = daemon/main.c
mcprelayd_LDADD = $(DAEMON_LIBS)

bin_PROGRAMS += mcprelay-demo-server
mcprelay_demo_server_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JSONC_CFLAGS) \
	$(OPENSSL_CFLAGS)
mcprelay_demo_server_SOURCES = daemon/demo-server.c daemon/demo-faults.c \
	daemon/demo-faults.h daemon/demo-conformance.c daemon/demo-conformance.h \
	daemon/demo-json.c daemon/demo-json.h daemon/demo-http.c daemon/demo-http.h
mcprelay_demo_server_LDADD = $(COMMON_LIBS) $(LIBEVENT_OPENSSL_LIBS) \
	$(OPENSSL_LIBS)

# The TLS module (daemon/tls.h), the only part of mcprelayd that links
# OpenSSL, loaded when an https endpoint is configured.  A shared object
# built as a program (no libtool for one module) in modules/, where
# tls-load.c looks beside the executable, so the build tree finds its own.
tlsmoddir = $(pkglibdir)
tlsmod_PROGRAMS = modules/tls.so
modules_tls_so_SOURCES = daemon/tls.c daemon/tls.h
modules_tls_so_CFLAGS = $(AM_CFLAGS) -fPIC -fvisibility=hidden \
	$(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS)
modules_tls_so_LDFLAGS = $(AM_LDFLAGS) -shared -fPIC
modules_tls_so_LDADD = $(LIBEVENT_OPENSSL_LIBS) $(OPENSSL_LIBS)
