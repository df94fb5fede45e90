/*
 * mcprelayd: command line, start-up, signals and the event loop.  Reload is
 * read -> validate -> apply: an invalid file never replaces a working config.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "relay.h"
#include "tls.h"
#include "xmalloc.h"

#define MCPRELAYD_DEFAULT_CONFIG SYSCONFDIR "/mcprelay/mcprelay.yaml"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mcprelayd [-f] [-v] [-c FILE]\n"
	    "       mcprelayd --check-config FILE\n"
	    "       mcprelayd --version\n"
	    "\n"
	    "  -c, --config FILE        configuration file (default %s)\n"
	    "  -f, --foreground         stay in the foreground (the default;\n"
	    "                           mcprelayd never forks, systemd and\n"
	    "                           terminals both want that)\n"
	    "  -v, --verbose            log at debug level\n"
	    "      --check-config FILE  validate FILE and exit (0 valid,\n"
	    "                           78 invalid)\n"
	    "      --version            print the version and exit\n",
	    MCPRELAYD_DEFAULT_CONFIG);
}

/*
 * Exit codes follow sysexits: 78 (EX_CONFIG) for a configuration that does
 * not load, which is what systemd units and scripts test for.
 */
static int
check_config(const char *path)
{
	struct config_errors	 errs;
	struct config		*cfg;
	char			 err[PATH_MAX + 512];
	int			 rc = 0;

	if (config_check_file(path, stdout, stderr) == -1)
		return EX_CONFIG;
	/* What config/ cannot know: whether https has its TLS module. */
	config_errors_init(&errs);
	if ((cfg = config_load_file(path, &errs)) != NULL &&
	    tls_module_check_config(cfg, err, sizeof err) == -1) {
		fprintf(stderr, "%s: %s\n", path, err);
		rc = EX_CONFIG;
	}
	config_free(cfg);
	config_errors_free(&errs);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*config_path = MCPRELAYD_DEFAULT_CONFIG;
	int		 verbose = 0, ch, rc;
	struct relay	*relay;

	while ((ch = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			break;
		case 'v':
			verbose = 1;
			break;
		case 'C':
			log_init("mcprelayd", LOG_LEVEL_WARN);
			return check_config(optarg);
		case 'V':
			printf("mcprelayd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}

	log_init("mcprelayd", verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	/* A client that vanishes mid-write must be an EPIPE, not our death. */
	signal(SIGPIPE, SIG_IGN);

	if ((relay = relay_new(config_path, verbose, &rc)) == NULL)
		return rc;
	rc = relay_run(relay);
	relay_free(relay);
	return rc;
}
