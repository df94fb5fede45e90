/*
 * Finding and loading the TLS module (tls.h) with dlopen(): at config load
 * for every https endpoint, so that a missing or wrong module is a clear
 * configuration error, and by each https client, which then finds it loaded.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "tls.h"

#ifndef PKGLIBDIR
#define PKGLIBDIR	"/usr/local/lib/mcprelay"
#endif

/*
 * $MCPRELAY_TLS_MODULE; else modules/tls.so beside the executable when it
 * is there, which is where the build tree has it; else the installed one.
 */
static void
tls_module_path(char *path, size_t len)
{
	const char	*env = getenv(TLS_MODULE_ENV);
	char		 exe[PATH_MAX], *slash;
	ssize_t		 n;

	if (env != NULL && *env != '\0') {
		snprintf(path, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(path, len, "%s/modules/%s", exe,
			    TLS_MODULE_FILE) < len && access(path, F_OK) == 0)
				return;
		}
	}
	snprintf(path, len, "%s/%s", PKGLIBDIR, TLS_MODULE_FILE);
}

const struct tls_module *
tls_module_open(void **handle, char *err, size_t errlen)
{
	const struct tls_module	*m;
	char			 path[PATH_MAX];
	const char		*why;
	void			*h;
	size_t			 n;

	*handle = NULL;
	tls_module_path(path, sizeof path);
	/* Never unloaded: OpenSSL keeps state until exit (atexit). */
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) ==
	    NULL) {
		/* dlerror() starts with the path most of the time. */
		why = dlerror();
		n = strlen(path);
		if (why == NULL)
			why = "unknown error";
		else if (strncmp(why, path, n) == 0 &&
		    strncmp(why + n, ": ", 2) == 0)
			why += n + 2;
		snprintf(err, errlen, "cannot load %s: %s", path, why);
		return NULL;
	}
	if ((m = dlsym(h, TLS_MODULE_SYMBOL)) == NULL) {
		snprintf(err, errlen, "cannot load %s: it has no %s (not "
		    "mcprelay's TLS module, or from another version)", path,
		    TLS_MODULE_SYMBOL);
		dlclose(h);
		return NULL;
	}
	if (m->abi != TLS_MODULE_ABI) {
		snprintf(err, errlen, "cannot load %s: module ABI %d, this "
		    "mcprelayd needs %d", path, m->abi, TLS_MODULE_ABI);
		dlclose(h);
		return NULL;
	}
	*handle = h;
	return m;
}

void
tls_module_close(void *handle)
{
	if (handle != NULL)
		dlclose(handle);
}

/* Endpoints the server's connections may need TLS for. */
static const char *
tls_module_need(const struct config_server *cs)
{
	if (!cs->enabled || cs->type == CONFIG_SERVER_STDIO)
		return NULL;
	if (cs->url != NULL && strncasecmp(cs->url, "https:", 6) == 0)
		return "https upstream";
	/* OAuth 2.1: the authorization server is https unless loopback,
	 * and where it is comes from the server at run time. */
	if (cs->auth.type == CONFIG_AUTH_OAUTH)
		return "OAuth upstream";
	return NULL;
}

int
tls_module_check_config(const struct config *cfg, char *err, size_t errlen)
{
	const struct tls_module	*m;
	const char		*what;
	char			 why[PATH_MAX + 256];
	void			*h;
	size_t			 i;

	for (i = 0; i < cfg->nservers; i++) {
		if ((what = tls_module_need(&cfg->servers[i])) == NULL)
			continue;
		if ((m = tls_module_open(&h, why, sizeof why)) == NULL) {
			snprintf(err, errlen, "%s '%s' needs TLS support: %s",
			    what, cfg->servers[i].name, why);
			return -1;
		}
		tls_module_close(h);
		return 0;
	}
	return 0;
}
