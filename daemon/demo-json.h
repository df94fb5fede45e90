/*
 * Small json-c helpers shared by the demo server and its conformance
 * fixture: building replies and reading parameters without boilerplate.
 */
#ifndef MCPRELAY_DEMO_JSON_H
#define MCPRELAY_DEMO_JSON_H

#include <json-c/json.h>

/* An object from key, value pairs ending with NULL; takes the values. */
json_object	*jobj(const char *key, ...);
/* A one-element array; takes v. */
json_object	*jarr1(json_object *v);
/* A member (borrowed) or NULL. */
json_object	*jget(json_object *o, const char *key);
/* A string member or NULL when absent or not a string. */
const char	*jstr(json_object *o, const char *key);
/* Parses built-in JSON text; a parse failure is a programming error. */
json_object	*jparse(const char *text);

#endif
