# docs/: reference pages and man pages.
man_MANS += docs/mcprelayd.8 docs/mcprelayctl.1
dist_doc_DATA += docs/config.md docs/errors.md docs/architecture.md \
	docs/unix-socket.md docs/demo-server.md
EXTRA_DIST += $(man_MANS)
