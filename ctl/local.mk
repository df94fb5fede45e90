# ctl/: mcprelayctl, which speaks only the documented protocols.
bin_PROGRAMS += mcprelayctl
mcprelayctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(YAML_CFLAGS)
mcprelayctl_SOURCES = ctl/mcprelayctl.c ctl/ctl.h ctl/ctl-client.c \
	ctl/cmd-config.c ctl/cmd-connect.c ctl/cmd-server.c ctl/cmd-status.c \
	ctl/cmd-watch.c ctl/cmd-auth.c
mcprelayctl_LDADD = $(CONFIG_LIBS) $(COMMON_LIBS)
