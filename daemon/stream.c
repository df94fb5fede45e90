/*
 * Client streams: the listener-neutral place messages for a client go.
 */
#include "autoconf.h"

#include "request.h"
#include "stream.h"

void
client_stream_init(struct client_stream *s, const struct client_stream_ops *ops,
    void *owner)
{
	s->ops = ops;
	s->owner = owner;
	TAILQ_INIT(&s->requests);
}

void
client_stream_closed(struct client_stream *s)
{
	struct request	*r;

	/* The requests go on; their answers go to the session instead. */
	while ((r = TAILQ_FIRST(&s->requests)) != NULL)
		request_detach_stream(r);
}

int
client_stream_write(struct client_stream *s, struct json_object *msg,
    int final)
{
	return s->ops->write(s, msg, final);
}
