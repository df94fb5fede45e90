/*
 * Client streams: the listener-neutral place messages for a client go.
 */
#include "autoconf.h"

#include "era.h"
#include "request.h"
#include "router.h"
#include "session.h"
#include "stream.h"

void
client_stream_init(struct client_stream *s, const struct client_stream_ops *ops,
    void *owner)
{
	s->ops = ops;
	s->owner = owner;
	s->who = NULL;
	TAILQ_INIT(&s->requests);
}

void
client_stream_closed(struct client_stream *s)
{
	struct request	*r;

	/*
	 * Legacy requests go on; their answers go to the session instead.
	 * A modern request's stream is its only way back, and closing it is
	 * how a 2026-07-28 client cancels: tell the upstream.
	 */
	while ((r = TAILQ_FIRST(&s->requests)) != NULL) {
		request_detach_stream(r);
		if (r->era != ERA_MODERN)
			continue;
		if (r->router != NULL)
			router_cancel(r->router, r, NULL);
		else if (r->session != NULL)
			/* A subscriptions/listen: its session ends too. */
			session_close(r->session, "subscription stream closed");
	}
}

int
client_stream_write(struct client_stream *s, struct json_object *msg,
    int final)
{
	return s->ops->write(s, msg, final);
}

int
client_stream_write_text(struct client_stream *s, const char *text,
    size_t len, int final)
{
	return s->ops->write_text(s, text, len, final);
}
