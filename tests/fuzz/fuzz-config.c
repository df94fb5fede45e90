/*
 * Fuzz target: the configuration loader (config_load_string: libyaml, the
 * key tables, merge and validation).  A loaded configuration must be
 * usable by everything that reads one: the summary, the redacted dump
 * (which must not contain a secret), server lookup and reload comparison;
 * a rejected one must come with bounded, formatted errors.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "fuzz.h"
#include "jsonrpc.h"
#include "log.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz-config", LOG_LEVEL_ERROR);
	/* ${VAR} references resolve the same way on every run. */
	setenv("FUZZ_VAR", "value", 1);
	unsetenv("FUZZ_UNSET");
	return 0;
}

/* Every value of dump.servers.NAME.key must be the redaction mark. */
static void
fuzz_check_redacted(struct json_object *dump, const char *server,
    const char *key)
{
	struct json_object	*servers, *s, *map;

	FUZZ_ASSERT(json_object_object_get_ex(dump, "servers", &servers));
	FUZZ_ASSERT(json_object_object_get_ex(servers, server, &s));
	if (!json_object_object_get_ex(s, key, &map) || map == NULL)
		return;
	json_object_object_foreach(map, name, v) {
		(void)name;
		FUZZ_ASSERT(json_object_is_type(v, json_type_string));
		FUZZ_ASSERT(strcmp(json_object_get_string(v),
		    "(redacted)") == 0);
	}
}

static void
fuzz_config(const struct config *cfg)
{
	struct json_object		*dump;
	const struct config_server	*s;
	char				 summary[512];
	size_t				 i;

	config_summary(cfg, summary, sizeof summary);
	FUZZ_ASSERT(memchr(summary, '\0', sizeof summary) != NULL);

	dump = config_dump_redacted(cfg);
	FUZZ_ASSERT(dump != NULL);
	(void)jsonrpc_to_string(dump, NULL);
	for (i = 0; i < cfg->nservers; i++) {
		s = &cfg->servers[i];
		FUZZ_ASSERT(s->name != NULL);
		FUZZ_ASSERT(config_server_find(cfg, s->name) == s);
		FUZZ_ASSERT(config_server_equal(s, s));
		FUZZ_ASSERT(s->args[s->nargs] == NULL);
		FUZZ_ASSERT(s->env[s->nenv] == NULL);
		FUZZ_ASSERT(s->headers[s->nheaders].name == NULL);
		/* Header and env values are secrets. */
		fuzz_check_redacted(dump, s->name, "headers");
		fuzz_check_redacted(dump, s->name, "env");
	}
	json_object_put(dump);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors	 errs;
	struct config		*cfg;
	size_t			 i;

	config_errors_init(&errs);
	cfg = config_load_string((const char *)data, size, "fuzz.yaml",
	    &errs);
	if (cfg != NULL) {
		FUZZ_ASSERT(errs.n == 0);
		fuzz_config(cfg);
		config_free(cfg);
	} else {
		FUZZ_ASSERT(errs.n > 0 && errs.n <= CONFIG_ERRORS_MAX);
		for (i = 0; i < errs.n; i++)
			FUZZ_ASSERT(strncmp(errs.msgs[i], "fuzz.yaml", 9) ==
			    0);
	}
	config_errors_free(&errs);
	return 0;
}
