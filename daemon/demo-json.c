/*
 * json-c helpers for the demo server and its conformance fixture.
 */
#include "autoconf.h"

#include <stdarg.h>

#include "demo-json.h"
#include "log.h"

json_object *
jobj(const char *key, ...)
{
	json_object	*o = json_object_new_object();
	va_list		 ap;

	va_start(ap, key);
	for (; key != NULL; key = va_arg(ap, const char *))
		json_object_object_add(o, key, va_arg(ap, json_object *));
	va_end(ap);
	return o;
}

json_object *
jarr1(json_object *v)
{
	json_object	*a = json_object_new_array();

	json_object_array_add(a, v);
	return a;
}

json_object *
jget(json_object *o, const char *key)
{
	json_object	*v;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

const char *
jstr(json_object *o, const char *key)
{
	json_object	*v = jget(o, key);

	return json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

json_object *
jparse(const char *text)
{
	json_object	*o;

	if ((o = json_tokener_parse(text)) == NULL)
		fatalx("built-in JSON does not parse: %s", text);
	return o;
}
