# systemd/: the system service and its three socket units, the user
# service, sysusers.d and tmpfiles.d snippets (docs/systemd.md), and a
# check of the units and their hardening score.
SYSTEMD_SOCKETS = systemd/mcprelayd.socket systemd/mcprelayd-mcp.socket \
	systemd/mcprelayd-control.socket
EXTRA_DIST += systemd/mcprelayd.service.in systemd/user/mcprelayd.service.in \
	$(SYSTEMD_SOCKETS) systemd/mcprelay.sysusers systemd/mcprelay.tmpfiles \
	systemd/security.test.sh
CLEANFILES += systemd/mcprelayd.service systemd/user/mcprelayd.service
TESTS += systemd/security.test.sh

# The configured paths, so that a /usr/local install runs its own binary
# (sed here, not configure: the directories may change at make time).
systemd_edit = sed -e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'

systemd/mcprelayd.service: $(srcdir)/systemd/mcprelayd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	$(systemd_edit) $(srcdir)/systemd/mcprelayd.service.in >$@.tmp && \
	mv $@.tmp $@

systemd/user/mcprelayd.service: $(srcdir)/systemd/user/mcprelayd.service.in \
    Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd/user && \
	$(systemd_edit) $(srcdir)/systemd/user/mcprelayd.service.in >$@.tmp && \
	mv $@.tmp $@

if HAVE_SYSTEMDSYSTEMUNITDIR
nodist_systemdsystemunit_DATA = systemd/mcprelayd.service
systemdsystemunit_DATA = $(SYSTEMD_SOCKETS)
endif
if HAVE_SYSTEMDUSERUNITDIR
nodist_systemduserunit_DATA = systemd/user/mcprelayd.service
endif

# sysusers.d and tmpfiles.d want NAME.conf: installed by hand.
install-systemd-snippets:
if HAVE_SYSUSERSDIR
	$(MKDIR_P) '$(DESTDIR)$(sysusersdir)'
	$(INSTALL_DATA) $(srcdir)/systemd/mcprelay.sysusers \
	    '$(DESTDIR)$(sysusersdir)/mcprelay.conf'
endif
if HAVE_TMPFILESDIR
	$(MKDIR_P) '$(DESTDIR)$(tmpfilesdir)'
	$(INSTALL_DATA) $(srcdir)/systemd/mcprelay.tmpfiles \
	    '$(DESTDIR)$(tmpfilesdir)/mcprelay.conf'
endif

uninstall-systemd-snippets:
if HAVE_SYSUSERSDIR
	rm -f '$(DESTDIR)$(sysusersdir)/mcprelay.conf'
endif
if HAVE_TMPFILESDIR
	rm -f '$(DESTDIR)$(tmpfilesdir)/mcprelay.conf'
endif

.PHONY: install-systemd-snippets uninstall-systemd-snippets
