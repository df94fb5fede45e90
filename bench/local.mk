# bench/: "make bench" measures mcprelayd against supergateway, mcp-proxy and
# nginx on loopback (bench/README.md, docs/benchmarks.md).  mcpbench is its
# client; built by make check too, so that every CI compiler checks it.
check_PROGRAMS += bench/mcpbench
bench_mcpbench_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
bench_mcpbench_SOURCES = bench/mcpbench.c
bench_mcpbench_LDADD = $(LIBEVENT_LIBS) -lm

# accessbench: the cost of identifying clients (make bench-access).
check_PROGRAMS += bench/accessbench
bench_accessbench_CFLAGS = $(AM_CFLAGS)
bench_accessbench_SOURCES = bench/accessbench.c
bench_accessbench_LDADD = $(DAEMON_LIBS)

# The harness's own check: the demo server's HTTP mode and mcpbench against
# it, and a stdio upstream killed behind mcprelayd with no failed call.
TESTS += bench/selftest.sh

EXTRA_DIST += bench/run.sh bench/selftest.sh bench/mcp-call.lua \
	bench/nginx.conf.in bench/mcprelayd.yaml.in bench/package.json \
	bench/package-lock.json bench/README.md bench/RESULTS.md \
	bench/access.sh \
	docs/benchmarks.md

# BENCH_DURATION (s per wrk run), BENCH_RUNS, BENCH_CONNECTIONS and the
# others in bench/README.md pass through the environment.
bench: mcprelayd$(EXEEXT) mcprelay-demo-server$(EXEEXT) bench/mcpbench$(EXEEXT)
	BENCH_SRCDIR='$(abs_top_srcdir)' BENCH_BUILDDIR='$(abs_top_builddir)' \
	    BENCH_CFLAGS='$(CC) $(CFLAGS) $(SAN_CFLAGS)' \
	    $(SHELL) $(top_srcdir)/bench/run.sh

bench-access: mcprelayd$(EXEEXT) mcprelayctl$(EXEEXT) bench/mcpbench$(EXEEXT) \
    bench/accessbench$(EXEEXT)
	BENCH_BUILDDIR='$(abs_top_builddir)' \
	    $(SHELL) $(top_srcdir)/bench/access.sh

.PHONY: bench bench-access
