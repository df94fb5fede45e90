/*
 * mcprelayctl: the command table entry, exit codes and the commands.  Each
 * command group lives in its own ctl/cmd-*.c; mcprelayctl.c holds the table
 * and dispatches.  ctl/ never links daemon code.
 */
#ifndef MCPRELAY_CTL_H
#define MCPRELAY_CTL_H

#include <stdio.h>

/* Exit codes, documented in docs/mcprelayctl.1. */
#define CTL_EXIT_OK		0
#define CTL_EXIT_FAIL		1
#define CTL_EXIT_NOT_RUNNING	3	/* as unbound-control */
#define CTL_EXIT_USAGE		64	/* EX_USAGE */
#define CTL_EXIT_CONFIG		78	/* EX_CONFIG, as mcprelayd */

struct ctl_cmd {
	const char	*name;
	const char	*alias;		/* e.g. "--version", or NULL */
	/* argv[0] is the command name; returns the exit code. */
	int		(*run)(const struct ctl_cmd *, int argc, char **argv);
	const char	*usage;		/* the arguments after the name */
	const char	*summary;
};

/* Prints "usage: mcprelayctl NAME USAGE" to f. */
void	ctl_print_usage(const struct ctl_cmd *, FILE *f);
/* Prints the usage to stderr and returns CTL_EXIT_USAGE. */
int	ctl_usage_error(const struct ctl_cmd *);

/* mcprelayctl.c */
int	cmd_help(const struct ctl_cmd *, int, char **);
int	cmd_version(const struct ctl_cmd *, int, char **);

/* cmd-config.c */
int	cmd_check_config(const struct ctl_cmd *, int, char **);

/* cmd-connect.c */
int	cmd_connect(const struct ctl_cmd *, int, char **);

#endif
