# packaging/: what "make install" adds for a service -- the configuration
# (never overwritten), the sysusers.d/tmpfiles.d snippets -- and the Debian
# and RPM builds: make deb, make rpm, make package-check (docs/packaging.md).
mcprelayconfdir = $(sysconfdir)/mcprelay

# Monitoring: the Grafana dashboard and the Prometheus alerting rules
# (tests/integration/monitoring.test.mjs checks both against the metrics).
grafanadir = $(datadir)/mcprelay/grafana
dist_grafana_DATA = packaging/grafana/mcprelay.json
prometheusdir = $(datadir)/mcprelay/prometheus
dist_prometheus_DATA = packaging/prometheus/mcprelay-rules.yml \
	packaging/prometheus/mcprelay-rules.test.yml

EXTRA_DIST += packaging/check.sh packaging/build-deb.sh \
	packaging/build-rpm.sh \
	packaging/debian/changelog packaging/debian/control \
	packaging/debian/copyright packaging/debian/mcprelay.docs \
	packaging/debian/rules packaging/debian/source/format \
	packaging/rpm/mcprelay.spec packaging/rpm/macros.non-fedora

# The installed configuration is the system service's: members of the
# mcprelay group (sysusers.d/mcprelay.conf) may use the daemon and read its
# statistics on a 0660 control socket.  The source file keeps [] and ""
# so that it loads where that group does not exist.  (\# : a make comment
# otherwise.)
MCPRELAY_SYSTEM_CONFIG = sed \
	-e 's/^  allow_groups: \[\]  /  allow_groups: [mcprelay]/' \
	-e 's/^  mode: 0600  \(  *\# octal permissions of the control\)/  mode: 0660  \1/' \
	-e 's/^  group: ""  \(  *\# members may read stats only\)/  group: mcprelay\1/' \
	$(srcdir)/config/mcprelay.yaml

install-data-local: install-systemd-snippets
	$(MKDIR_P) '$(DESTDIR)$(mcprelayconfdir)'
	@if test -f '$(DESTDIR)$(mcprelayconfdir)/mcprelay.yaml'; then \
	    echo "keeping $(DESTDIR)$(mcprelayconfdir)/mcprelay.yaml"; \
	else \
	    echo " $(INSTALL_DATA) config/mcprelay.yaml" \
	        "'$(DESTDIR)$(mcprelayconfdir)/mcprelay.yaml'"; \
	    $(MCPRELAY_SYSTEM_CONFIG) >mcprelay.yaml.system && \
	    $(INSTALL_DATA) mcprelay.yaml.system \
	        '$(DESTDIR)$(mcprelayconfdir)/mcprelay.yaml'; \
	    rm -f mcprelay.yaml.system; \
	fi

# A configuration someone edited stays.
uninstall-local: uninstall-systemd-snippets
	@if $(MCPRELAY_SYSTEM_CONFIG) | cmp -s - \
	    '$(DESTDIR)$(mcprelayconfdir)/mcprelay.yaml'; then \
	    rm -f '$(DESTDIR)$(mcprelayconfdir)/mcprelay.yaml'; \
	fi
	-rmdir '$(DESTDIR)$(mcprelayconfdir)' 2>/dev/null

# distcheck installs as a user under its own prefix, units included.
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir=$$dc_install_base/lib/systemd/system \
	--with-systemduserunitdir=$$dc_install_base/lib/systemd/user \
	--with-sysusersdir=$$dc_install_base/lib/sysusers.d \
	--with-tmpfilesdir=$$dc_install_base/lib/tmpfiles.d

deb: dist-gzip
	$(SHELL) $(srcdir)/packaging/build-deb.sh $(PACKAGE)-$(VERSION).tar.gz .

rpm: dist-gzip
	$(SHELL) $(srcdir)/packaging/build-rpm.sh $(PACKAGE)-$(VERSION).tar.gz .

package-check:
	$(SHELL) $(srcdir)/packaging/check.sh .

.PHONY: deb rpm package-check

# make distcheck wants a build tree that distclean empties: the npm packages
# the integration tests install there (tests/integration/setup-npm.sh) go
# too, and the package files copied beside them unless this is the source
# tree, where they are sources.
distclean-local:
	rm -rf tests/integration/node_modules
	if test '$(abs_builddir)' != '$(abs_srcdir)'; then \
	    rm -f tests/integration/package.json \
	        tests/integration/package-lock.json; \
	fi
