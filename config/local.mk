# config/: YAML loading, validation, durations and ${VAR} expansion.
noinst_LIBRARIES += libmcpconfig.a
libmcpconfig_a_CFLAGS = $(AM_CFLAGS) $(YAML_CFLAGS) $(JSONC_CFLAGS)
libmcpconfig_a_SOURCES = \
	config/config.c config/config.h config/config-int.h \
	config/config-access.c config/config-check.c config/config-rules.c \
	config/config-types.c config/config-yaml.c \
	config/control-path.c \
	config/duration.c config/duration.h \
	config/env-file.c config/env-file.h \
	config/expand.c config/expand.h

CONFIG_LIBS = libmcpconfig.a $(YAML_LIBS) $(JSONC_LIBS)

# mcprelay.yaml is installed as $(sysconfdir)/mcprelay/mcprelay.yaml, never
# over an existing one (packaging/local.mk).
EXTRA_DIST += config/mcprelay.yaml config/demo.yaml
