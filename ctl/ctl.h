/*
 * mcprelayctl: the command table entry, exit codes and the commands.  Each
 * command group lives in its own ctl/cmd-*.c; mcprelayctl.c holds the table
 * and dispatches.  ctl/ never links daemon code.
 */
#ifndef MCPRELAY_CTL_H
#define MCPRELAY_CTL_H

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* Exit codes, documented in docs/mcprelayctl.1 (unbound-control's). */
#define CTL_EXIT_OK		0
#define CTL_EXIT_FAIL		1
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_NOT_RUNNING	3
/* check-config only: exactly as mcprelayd --check-config (EX_CONFIG). */
#define CTL_EXIT_CONFIG		78

/* Seconds a control request may take before mcprelayctl gives up. */
#define CTL_CALL_TIMEOUT	30

struct ctl_cmd {
	const char	*name;
	const char	*alias;		/* e.g. "--version", or NULL */
	/* argv[0] is the command name; returns the exit code. */
	int		(*run)(const struct ctl_cmd *, int argc, char **argv);
	const char	*usage;		/* the arguments after the name */
	const char	*summary;
};

/* Options every control command takes. */
struct ctl_opts {
	const char	*socket;	/* --socket PATH */
	const char	*config;	/* --config FILE: its control.socket */
	int		 json;		/* --json */
};

struct ctl_conn;

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

/* ctl-client.c: the control protocol (docs/control.md). */
/* A connected, non-blocking socket, or -1 with *rc (3: not running). */
int	ctl_socket_open(const char *path, int *rc);
/* The index of the first argument after the options; -1 on a usage
 * error (usage printed), -2 after --help. */
int	ctl_parse_opts(const struct ctl_cmd *, int argc, char **argv,
	    struct ctl_opts *);
/* Connects to the control socket; returns the exit code (0 on success). */
int	ctl_open(const struct ctl_opts *, struct ctl_conn **);
void	ctl_close(struct ctl_conn *);
int	ctl_fd(const struct ctl_conn *);
/* How long ctl_call() waits for an answer (CTL_CALL_TIMEOUT seconds). */
void	ctl_set_timeout(struct ctl_conn *, double seconds);
/* One request (params taken); *result is new on 0, else the error was
 * printed and the exit code returned. */
int	ctl_call(struct ctl_conn *, const char *method,
	    struct json_object *params, struct json_object **result);
/*
 * The whole of a simple command: options, between nmin and nmax server
 * name arguments (params.server), connect, call.  Returns the exit code;
 * *result is set on 0 (and NULL after --help).
 */
/*
 * One call on a connection of its own: connect, call, close.  params is
 * taken (freed when the daemon cannot be reached); returns the exit code.
 */
int	ctl_call_once(const struct ctl_opts *, const char *method,
	    struct json_object *params, struct json_object **result);
int	ctl_query(const struct ctl_cmd *, int argc, char **argv, int nmin,
	    int nmax, const char *method, struct ctl_opts *,
	    struct json_object **result);
/* The next message (events): see ctl-client.c. */
struct json_object *ctl_read(struct ctl_conn *, int timeout_ms, int *rc);
void	ctl_print_json(struct json_object *);

/* cmd-status.c: reading answers, formatting, and the commands status,
 * servers, stats, metrics. */
struct json_object *ctl_get(struct json_object *, const char *path);
const char *ctl_str(struct json_object *, const char *path, const char *def);
int64_t	 ctl_int(struct json_object *, const char *path);
double	 ctl_dbl(struct json_object *, const char *path);
const char *ctl_fmt_duration(double seconds, char *buf, size_t len);
void	 ctl_servers_header(FILE *);
void	 ctl_servers_row(FILE *, struct json_object *server,
	    double state_seconds);
int	cmd_status(const struct ctl_cmd *, int, char **);
int	cmd_servers(const struct ctl_cmd *, int, char **);
int	cmd_stats(const struct ctl_cmd *, int, char **);
int	cmd_metrics(const struct ctl_cmd *, int, char **);

/* cmd-server.c: reconnect, disable, enable, reload, show-config. */
int	cmd_server_action(const struct ctl_cmd *, int, char **);
int	cmd_reload(const struct ctl_cmd *, int, char **);
int	cmd_show_config(const struct ctl_cmd *, int, char **);

/* cmd-rules.c: rules, rules test. */
int	cmd_rules(const struct ctl_cmd *, int, char **);
/* cmd-auth.c: login, logout. */
int	cmd_login(const struct ctl_cmd *, int, char **);
int	cmd_logout(const struct ctl_cmd *, int, char **);

/* cmd-watch.c */
int	cmd_watch(const struct ctl_cmd *, int, char **);

/* cmd-doctor.c */
int	cmd_doctor(const struct ctl_cmd *, int, char **);
/* cmd-import.c, cmd-repoint.c, cmd-init.c */
int	cmd_import(const struct ctl_cmd *, int, char **);
int	cmd_repoint(const struct ctl_cmd *, int, char **);
int	cmd_init(const struct ctl_cmd *, int, char **);

/* ctl-file.c: whole files, atomic writes, default paths. */
char	*ctl_file_read(const char *path, size_t *len, char *err,
	    size_t errlen);
/* Atomic; replace 0 refuses an existing path (EEXIST). */
int	 ctl_file_write(const char *path, const char *data, size_t len,
	    mode_t mode, int replace, char *err, size_t errlen);
char	*ctl_path_beside(const char *path, const char *name);
/* user: $XDG_CONFIG_HOME/mcprelay/mcprelay.yaml, else the system's. */
const char *ctl_config_path(int user, char *buf, size_t len);
/* The user's file when it exists, else the system's. */
const char *ctl_config_default(char *buf, size_t len);
/* Why json-c's tokener stopped, in words. */
const char *ctl_json_error(struct json_tokener *);

#endif
