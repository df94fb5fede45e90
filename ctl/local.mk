# ctl/: mcprelayctl, which speaks only the documented protocols.
bin_PROGRAMS += mcprelayctl
mcprelayctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(YAML_CFLAGS) \
	$(OPENSSL_CFLAGS)
mcprelayctl_SOURCES = ctl/mcprelayctl.c ctl/ctl.h ctl/ctl-client.c \
	ctl/cmd-config.c ctl/cmd-connect.c ctl/cmd-server.c ctl/cmd-status.c \
	ctl/cmd-rules.c ctl/cmd-watch.c ctl/cmd-doctor.c ctl/cmd-import.c \
	ctl/cmd-repoint.c ctl/cmd-init.c ctl/ctl-file.c ctl/import.h \
	ctl/import-map.c ctl/import-yaml.c ctl/udiff.c ctl/cmd-auth.c
mcprelayctl_LDADD = $(CONFIG_LIBS) $(COMMON_LIBS) $(OPENSSL_LIBS)

# mcprelayctl init writes config/mcprelay.yaml, built in one string a line.
nodist_mcprelayctl_SOURCES = ctl/starter-config.h
BUILT_SOURCES += ctl/starter-config.h
CLEANFILES += ctl/starter-config.h
ctl/starter-config.h: $(top_srcdir)/config/mcprelay.yaml
	$(AM_V_GEN)$(MKDIR_P) ctl && sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' \
	    -e 's/^/"/' -e 's/$$/\\n",/' $(top_srcdir)/config/mcprelay.yaml \
	    >$@.tmp && mv $@.tmp $@

# Shell completions, where each shell looks under the prefix; Debian's zsh
# reads vendor-completions instead (packaging/debian/rules sets it).
bashcompdir = $(datadir)/bash-completion/completions
dist_bashcomp_DATA = ctl/completions/bash/mcprelayctl
zshcompdir = $(datadir)/zsh/site-functions
dist_zshcomp_DATA = ctl/completions/zsh/_mcprelayctl
fishcompdir = $(datadir)/fish/vendor_completions.d
dist_fishcomp_DATA = ctl/completions/fish/mcprelayctl.fish
