# config/: YAML loading, validation, durations and ${VAR} expansion.
noinst_LIBRARIES += libmcpconfig.a
libmcpconfig_a_CFLAGS = $(AM_CFLAGS) $(YAML_CFLAGS) $(JSONC_CFLAGS)
libmcpconfig_a_SOURCES = \
	config/config.c config/config.h config/config-int.h \
	config/config-check.c config/config-types.c config/config-yaml.c \
	config/duration.c config/duration.h \
	config/expand.c config/expand.h

CONFIG_LIBS = libmcpconfig.a $(YAML_LIBS) $(JSONC_LIBS)

dist_sysconf_DATA = config/mcprelay.yaml
EXTRA_DIST += config/demo.yaml
