/*
 * mcprelayctl rules: a server's effective retry rules in evaluation order
 * (where each was written, how often it matched), and `rules test`, the
 * dry run that says which rule a failure would meet and what follows.
 */
#include "autoconf.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"

/* The rule's own backoff fields, "max_retries 2, initial_delay 5s". */
static void
rules_backoff(struct json_object *r, char *buf, size_t len)
{
	static const struct {
		const char	*key;
		const char	*unit;
	} keys[] = {
		{ "max_retries", "" }, { "initial_delay", "s" },
		{ "max_delay", "s" }, { "backoff_factor", "" },
		{ "jitter", "" }, { "jitter_factor", "" },
		{ "jitter_mode", "" }, { "attempt_timeout", "s" },
		{ "deadline", "s" },
	};
	struct json_object	*v;
	size_t			 i, off = 0;
	int			 n;

	buf[0] = '\0';
	for (i = 0; i < sizeof keys / sizeof *keys && off < len; i++) {
		if ((v = ctl_get(r, keys[i].key)) == NULL)
			continue;
		if (json_object_is_type(v, json_type_double))
			n = snprintf(buf + off, len - off, "%s%s %g%s",
			    off ? ", " : "", keys[i].key,
			    json_object_get_double(v), keys[i].unit);
		else
			n = snprintf(buf + off, len - off, "%s%s %s",
			    off ? ", " : "", keys[i].key,
			    json_object_get_string(v));
		off += n < 0 ? 0 : (size_t)n;
	}
}

static void
rules_print_list(struct json_object *res)
{
	struct json_object	*rules, *r, *on;
	char			 backoff[256];
	size_t			 i, n;

	rules = ctl_get(res, "rules");
	n = rules != NULL ? json_object_array_length(rules) : 0;
	printf("server %s", ctl_str(res, "server", "?"));
	if (ctl_get(res, "tool") != NULL)
		printf(", tool %s (timeout %gs, idempotent %s, queue %s)",
		    ctl_str(res, "tool", "?"), ctl_dbl(res, "timeout"),
		    ctl_str(res, "idempotent", "from annotations"),
		    ctl_str(res, "queue", "?"));
	printf(": %zu rule%s, first match wins\n", n, n == 1 ? "" : "s");
	printf("%3s  %-20s %-8s %-8s %7s  %-28s %s\n", "#", "NAME", "SCOPE",
	    "ACTION", "MATCHES", "ORIGIN", "MATCH");
	for (i = 0; i < n; i++) {
		r = json_object_array_get_idx(rules, i);
		rules_backoff(r, backoff, sizeof backoff);
		printf("%3zu  %-20s %-8s %-8s %7" PRId64 "  %-28s %s%s%s%s\n",
		    i + 1, ctl_str(r, "name", "?"), ctl_str(r, "scope", "?"),
		    ctl_str(r, "action", "?"), ctl_int(r, "matches"),
		    ctl_str(r, "origin", "?"), ctl_str(r, "match", ""),
		    *backoff ? " (" : "", backoff, *backoff ? ")" : "");
	}
	printf("%3s  %-20s retry_on:", "-", "(built-in)");
	on = ctl_get(res, "builtin.retryOn");
	for (i = 0; on != NULL && i < json_object_array_length(on); i++)
		printf("%s%s", i ? "," : " ",
		    json_object_get_string(json_object_array_get_idx(on, i)));
	printf("\n");
}

static void
rules_print_test(struct json_object *res)
{
	struct json_object	*ev = ctl_get(res, "event"), *d, *v;
	size_t			 i;

	printf("server %s", ctl_str(res, "server", "?"));
	if (ctl_get(ev, "tool") != NULL)
		printf(", tool %s", ctl_str(ev, "tool", "?"));
	printf(":");
	if ((v = ctl_get(ev, "class")) != NULL)
		printf(" class %s", json_object_get_string(v));
	if ((v = ctl_get(ev, "http_status")) != NULL)
		printf(" http_status %s", json_object_get_string(v));
	if ((v = ctl_get(ev, "jsonrpc_code")) != NULL)
		printf(" jsonrpc_code %s", json_object_get_string(v));
	if (ctl_get(ev, "result_error") != NULL)
		printf(" result_error '%s'", ctl_str(ev, "message", ""));
	else if ((v = ctl_get(ev, "message")) != NULL)
		printf(" message '%s'", json_object_get_string(v));
	printf("\n");
	if (ctl_get(res, "rule") != NULL &&
	    !json_object_is_type(ctl_get(res, "rule"), json_type_null))
		printf("rule:    %s (%s #%" PRId64 ", %s): %s\n",
		    ctl_str(res, "rule.name", "?"), ctl_str(res, "scope", "?"),
		    ctl_int(res, "position"), ctl_str(res, "rule.origin", "?"),
		    ctl_str(res, "match", ""));
	else
		printf("rule:    none matches: built-in behaviour\n");
	printf("action:  %s\n", ctl_str(res, "action", "?"));
	printf("outcome: %s\n", ctl_str(res, "outcome", "?"));
	if ((v = ctl_get(res, "hint")) != NULL)
		printf("hint:    %gs (from the message)\n",
		    json_object_get_double(v));
	if ((d = ctl_get(res, "delays")) != NULL) {
		printf("delays: ");
		for (i = 0; i < json_object_array_length(d); i++)
			printf(" %.2fs", json_object_get_double(
			    json_object_array_get_idx(d, i)));
		if (json_object_array_length(d) == 0)
			printf(" none (max_retries 0)");
		printf(" (max_retries %" PRId64 ", jitter %s)\n",
		    ctl_int(res, "maxRetries"), ctl_str(res, "jitter", "?"));
	}
}

/* rules test SERVER TOOL --class C | --jsonrpc-code N | --result-error T */
static int
rules_test(const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "class", required_argument, NULL, 'C' },
		{ "jsonrpc-code", required_argument, NULL, 'J' },
		{ "http-status", required_argument, NULL, 'H' },
		{ "result-error", required_argument, NULL, 'R' },
		{ "message", required_argument, NULL, 'M' },
		{ "method", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_opts		 o;
	struct json_object	*params, *res;
	char			*end;
	long			 n;
	int			 ch, rc, failures = 0;

	memset(&o, 0, sizeof o);
	params = json_object_new_object();
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:c:jh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			o.socket = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'h':
			ctl_print_usage(self, stdout);
			json_object_put(params);
			return CTL_EXIT_OK;
		case 'C':
			json_object_object_add(params, "class",
			    json_object_new_string(optarg));
			failures++;
			break;
		case 'J':
		case 'H':
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0') {
				fprintf(stderr, "mcprelayctl: %s: not an "
				    "integer: '%s'\n", ch == 'J' ?
				    "--jsonrpc-code" : "--http-status", optarg);
				json_object_put(params);
				return CTL_EXIT_USAGE;
			}
			json_object_object_add(params, ch == 'J' ?
			    "jsonrpc_code" : "http_status",
			    json_object_new_int64(n));
			failures++;
			break;
		case 'R':
			json_object_object_add(params, "result_error",
			    json_object_new_string(optarg));
			failures++;
			break;
		case 'M':
			json_object_object_add(params, "message",
			    json_object_new_string(optarg));
			break;
		case 'm':
			json_object_object_add(params, "method",
			    json_object_new_string(optarg));
			break;
		default:
			json_object_put(params);
			return ctl_usage_error(self);
		}
	}
	/* argv[optind] is "test". */
	if (argc - optind != 3 || failures == 0 || *argv[optind + 1] == '\0') {
		json_object_put(params);
		return ctl_usage_error(self);
	}
	json_object_object_add(params, "server",
	    json_object_new_string(argv[optind + 1]));
	if (strcmp(argv[optind + 2], "-") != 0)
		json_object_object_add(params, "tool",
		    json_object_new_string(argv[optind + 2]));
	if ((rc = ctl_call_once(&o, "rules.test", params, &res)) != CTL_EXIT_OK)
		return rc;
	if (o.json)
		ctl_print_json(res);
	else
		rules_print_test(res);
	json_object_put(res);
	return CTL_EXIT_OK;
}

int
cmd_rules(const struct ctl_cmd *self, int argc, char **argv)
{
	struct ctl_opts		 o;
	struct json_object	*params, *res;
	int			 i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "test") == 0)
			return rules_test(self, argc, argv);
		if (*argv[i] != '-')
			break;
		/* The value of an option that takes one is not "test". */
		if (strcmp(argv[i], "--socket") == 0 ||
		    strcmp(argv[i], "--config") == 0)
			i++;
	}
	if ((i = ctl_parse_opts(self, argc, argv, &o)) < 0)
		return i == -2 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
	if (argc - i < 1 || argc - i > 2 || *argv[i] == '\0')
		return ctl_usage_error(self);
	params = json_object_new_object();
	json_object_object_add(params, "server",
	    json_object_new_string(argv[i]));
	if (i + 1 < argc)
		json_object_object_add(params, "tool",
		    json_object_new_string(argv[i + 1]));
	if ((rc = ctl_call_once(&o, "rules", params, &res)) != CTL_EXIT_OK)
		return rc;
	if (o.json)
		ctl_print_json(res);
	else
		rules_print_list(res);
	json_object_put(res);
	return CTL_EXIT_OK;
}
