/*
 * mcprelayctl login and logout: the OAuth login of a remote server runs in
 * the daemon; login starts it, prints the authorization URL from the
 * daemon's "auth" events (opening a browser with --open) and waits for the
 * outcome.  docs/auth.md.
 */
#include "autoconf.h"

#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl.h"

/* The daemon gives up on the browser after 300 s; a little more here. */
#define CTL_LOGIN_WAIT_MS	310000

/* xdg-open URL when a graphical session seems to be there. */
static void
auth_open_browser(const char *url)
{
	pid_t	pid;
	int	status;

	if (getenv("DISPLAY") == NULL && getenv("WAYLAND_DISPLAY") == NULL) {
		fprintf(stderr, "mcprelayctl: no graphical session: open the "
		    "URL yourself\n");
		return;
	}
	if ((pid = fork()) == 0) {
		execlp("xdg-open", "xdg-open", url, (char *)NULL);
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid &&
	    (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		fprintf(stderr, "mcprelayctl: xdg-open failed: open the URL "
		    "yourself\n");
}

static void
auth_print_done(struct json_object *ev)
{
	time_t		t = (time_t)ctl_int(ev, "expiresAt");
	struct tm	tm;
	char		when[64];

	printf("logged in to %s", ctl_str(ev, "server", "?"));
	if (ctl_get(ev, "scope") != NULL)
		printf("; scope: %s", ctl_str(ev, "scope", ""));
	if (t > 0) {
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("; the access token expires at %s", when);
	}
	printf("\n");
}

int
cmd_login(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct ctl_conn		*c;
	struct json_object	*r, *msg, *ev, *params;
	const char		*server, *phase;
	int			 i, j, rc, open_browser = 0;

	/* --open is login's own option. */
	for (i = j = 0; i < argc; i++) {
		if (strcmp(argv[i], "--open") == 0)
			open_browser = 1;
		else
			argv[j++] = argv[i];
	}
	argc = j;
	if ((i = ctl_parse_opts(self, argc, argv, &o)) < 0)
		return i == -2 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (argc - i != 1)
		return ctl_usage_error(self);
	server = argv[i];
	if ((rc = ctl_open(&o, &c)) != CTL_EXIT_OK)
		return rc;
	if ((rc = ctl_call(c, "events.subscribe", NULL, &r)) != CTL_EXIT_OK) {
		ctl_close(c);
		return rc;
	}
	json_object_put(r);
	params = json_object_new_object();
	json_object_object_add(params, "server",
	    json_object_new_string(server));
	if ((rc = ctl_call(c, "server.login", params, &r)) != CTL_EXIT_OK) {
		ctl_close(c);
		return rc;
	}
	json_object_put(r);
	rc = CTL_EXIT_FAIL;
	while ((msg = ctl_read(c, CTL_LOGIN_WAIT_MS, &rc)) != NULL) {
		if (strcmp(ctl_str(msg, "method", ""), "event") != 0 ||
		    !json_object_object_get_ex(msg, "params", &ev) ||
		    strcmp(ctl_str(ev, "type", ""), "auth") != 0 ||
		    strcmp(ctl_str(ev, "server", ""), server) != 0) {
			json_object_put(msg);
			continue;
		}
		if (o.json) {
			/* One event a line, as watch --json. */
			printf("%s\n", json_object_to_json_string_ext(ev,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
			fflush(stdout);
		}
		phase = ctl_str(ev, "phase", "");
		if (strcmp(phase, "authorize") == 0) {
			if (!o.json) {
				printf("Open this URL in a browser to log in "
				    "to %s:\n\n  %s\n\nwaiting for the "
				    "redirect to %s ...\n", server,
				    ctl_str(ev, "url", "?"),
				    ctl_str(ev, "redirectUri", "?"));
			}
			fflush(stdout);
			if (open_browser)
				auth_open_browser(ctl_str(ev, "url", ""));
		} else if (strcmp(phase, "done") == 0) {
			if (!o.json)
				auth_print_done(ev);
			json_object_put(msg);
			rc = CTL_EXIT_OK;
			break;
		} else if (strcmp(phase, "failed") == 0) {
			fprintf(stderr, "mcprelayctl: login failed: %s\n",
			    ctl_str(ev, "message", "?"));
			json_object_put(msg);
			rc = CTL_EXIT_FAIL;
			break;
		}
		json_object_put(msg);
	}
	if (msg == NULL && rc != CTL_EXIT_FAIL) {
		fprintf(stderr, "mcprelayctl: the login did not end in time\n");
		rc = CTL_EXIT_FAIL;
	}
	ctl_close(c);
	return rc;
}

int
cmd_logout(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct json_object	*r;
	int			 rc;

	if ((rc = ctl_query(self, argc, argv, 1, 1, "server.logout", &o,
	    &r)) != CTL_EXIT_OK || r == NULL)
		return rc;
	if (o.json)
		ctl_print_json(r);
	else
		printf("%s: logged out, tokens deleted\n",
		    ctl_str(r, "server", "?"));
	json_object_put(r);
	return CTL_EXIT_OK;
}
