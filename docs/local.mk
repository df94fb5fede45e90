# docs/: reference pages and man pages.
man_MANS += docs/mcprelayd.8 docs/mcprelayctl.1 docs/mcprelay.yaml.5
dist_doc_DATA += docs/config.md docs/errors.md docs/architecture.md \
	docs/unix-socket.md docs/demo-server.md docs/systemd.md \
	docs/packaging.md docs/security.md docs/control.md docs/remote.md \
	docs/deploy.md docs/retry.md docs/import.md docs/auth.md \
	docs/chaos.md
EXTRA_DIST += $(man_MANS)
