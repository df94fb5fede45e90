/*
 * mcprelayctl: the command table and dispatch.  Adding a command is one
 * line here and a handler in the ctl/cmd-*.c file of its group.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "log.h"

/* The options every control command takes (ctl_parse_opts()). */
#define CTL_OPTS	"[--json] [--socket PATH] [--config FILE]"

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", NULL, cmd_status, CTL_OPTS,
	    "show the daemon's status" },
	{ "servers", NULL, cmd_servers, "[--names] " CTL_OPTS,
	    "list the servers and their states" },
	{ "stats", NULL, cmd_stats, "[SERVER] " CTL_OPTS,
	    "show statistics, of all servers or one" },
	{ "watch", NULL, cmd_watch, CTL_OPTS,
	    "follow server states live, as they change" },
	{ "reconnect", NULL, cmd_server_action, "SERVER " CTL_OPTS,
	    "drop a server's connection and connect again" },
	{ "disable", NULL, cmd_server_action, "SERVER " CTL_OPTS,
	    "stop a server after its in-flight requests" },
	{ "enable", NULL, cmd_server_action, "SERVER " CTL_OPTS,
	    "start a disabled server again" },
	{ "login", NULL, cmd_login, "SERVER [--open] " CTL_OPTS,
	    "log in to a server that uses OAuth (prints the URL to open)" },
	{ "logout", NULL, cmd_logout, "SERVER " CTL_OPTS,
	    "revoke and delete a server's OAuth tokens" },
	{ "reload", NULL, cmd_reload, CTL_OPTS,
	    "re-read the configuration file" },
	{ "show-config", NULL, cmd_show_config, CTL_OPTS,
	    "print the running configuration, secrets redacted" },
	{ "metrics", NULL, cmd_metrics, CTL_OPTS,
	    "print Prometheus metrics" },
	{ "rules", NULL, cmd_rules, "SERVER [TOOL] " CTL_OPTS "\n"
	    "       mcprelayctl rules test SERVER TOOL|- --class CLASS | "
	    "--http-status N |\n"
	    "           --jsonrpc-code N [--message TEXT] | --result-error "
	    "TEXT\n           [--method METHOD] " CTL_OPTS,
	    "show a server's retry rules, or what they do with a failure" },
	{ "check-config", NULL, cmd_check_config, "FILE",
	    "check a configuration file" },
	{ "doctor", NULL, cmd_doctor, "[--config FILE] [--timeout DURATION]",
	    "check the installation: config, sockets, servers, ports" },
	{ "connect", NULL, cmd_connect, "[NAME] [--socket PATH]",
	    "bridge stdin/stdout to mcprelayd's MCP socket" },
	{ "import", NULL, cmd_import, "[--from claude-code|cursor|vscode|"
	    "windsurf|gemini|FILE] [--config FILE] [--write]",
	    "add an agent's MCP servers to the configuration" },
	{ "repoint", NULL, cmd_repoint, "AGENT|FILE [--file FILE] "
	    "[--config FILE] [--stdio] [--undo]",
	    "point an agent's imported servers at mcprelayd" },
	{ "init", NULL, cmd_init, "[--user] [--config FILE]",
	    "write a commented starter configuration" },
	{ "help", "--help", cmd_help, "[COMMAND]",
	    "show the commands, or one command's usage" },
	{ "version", "--version", cmd_version, "",
	    "print the version" },
};

#define CTL_NCMDS	(sizeof ctl_cmds / sizeof ctl_cmds[0])

static const struct ctl_cmd *
ctl_find(const char *name)
{
	size_t	i;

	for (i = 0; i < CTL_NCMDS; i++) {
		if (strcmp(ctl_cmds[i].name, name) == 0 ||
		    (ctl_cmds[i].alias != NULL &&
		    strcmp(ctl_cmds[i].alias, name) == 0))
			return &ctl_cmds[i];
	}
	return NULL;
}

void
ctl_print_usage(const struct ctl_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: mcprelayctl %s%s%s\n", cmd->name,
	    *cmd->usage != '\0' ? " " : "", cmd->usage);
}

int
ctl_usage_error(const struct ctl_cmd *cmd)
{
	ctl_print_usage(cmd, stderr);
	return CTL_EXIT_USAGE;
}

static void
ctl_print_commands(FILE *f)
{
	size_t	i;
	fprintf(f, "usage: mcprelayctl COMMAND [ARGUMENTS]\n\ncommands:\n");
	for (i = 0; i < CTL_NCMDS; i++)
		fprintf(f, "  %-14s %s\n", ctl_cmds[i].name,
		    ctl_cmds[i].summary);
	fprintf(f, "\ncontrol commands take " CTL_OPTS "\n"
	    "(mcprelayctl help COMMAND shows a command's usage)\n"
	    "\nexit status: 0 success, 1 failure, 2 usage error, 3 mcprelayd "
	    "not running;\ncheck-config, init, import --write: 78 invalid "
	    "configuration\n");
}

int
cmd_help(const struct ctl_cmd *self, int argc, char **argv)
{
	const struct ctl_cmd	*cmd;

	if (argc > 2)
		return ctl_usage_error(self);
	if (argc == 1) {
		ctl_print_commands(stdout);
		return CTL_EXIT_OK;
	}
	if ((cmd = ctl_find(argv[1])) == NULL) {
		fprintf(stderr, "mcprelayctl: unknown command '%s'\n",
		    argv[1]);
		return CTL_EXIT_USAGE;
	}
	ctl_print_usage(cmd, stdout);
	printf("%s\n", cmd->summary);
	return CTL_EXIT_OK;
}

int
cmd_version(const struct ctl_cmd *self, int argc, char **argv)
{
	if (argc != 1)
		return ctl_usage_error(self);
	printf("mcprelayctl %s\n", PACKAGE_VERSION);
	return CTL_EXIT_OK;
}

int
main(int argc, char **argv)
{
	const struct ctl_cmd	*cmd;

	log_init("mcprelayctl", LOG_LEVEL_WARN);
	if (argc < 2) {
		ctl_print_commands(stderr);
		return CTL_EXIT_USAGE;
	}
	if ((cmd = ctl_find(argv[1])) == NULL) {
		fprintf(stderr, "mcprelayctl: unknown command '%s' (see "
		    "'mcprelayctl help')\n", argv[1]);
		return CTL_EXIT_USAGE;
	}
	return cmd->run(cmd, argc - 1, argv + 1);
}
