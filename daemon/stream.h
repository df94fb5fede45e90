/*
 * A client stream is where messages for a client go: the SSE or JSON reply
 * of one HTTP POST, a session's GET stream, a legacy SSE stream or a Unix
 * socket connection.  Listeners implement it; sessions and requests only
 * write to it, so nothing below the session layer knows about transports.
 */
#ifndef MCPRELAY_STREAM_H
#define MCPRELAY_STREAM_H

#include <stddef.h>

#include "compat-queue.h"

struct access_who;
struct json_object;
struct request;

struct client_stream;

struct client_stream_ops {
	/* Write one message.  `final` marks the response that completes
	 * the POST this stream belongs to; streams that outlive a request
	 * (GET, Unix, legacy SSE) ignore it.  msg NULL with final set means
	 * "done, nothing to send" (a cancelled request).  Returns -1 if
	 * gone. */
	int	(*write)(struct client_stream *, struct json_object *msg,
		    int final);
	/* The same for a message given as its text: one JSON object on one
	 * line (an answer passed through as the server sent it, handler.c). */
	int	(*write_text)(struct client_stream *, const char *text,
		    size_t len, int final);
};

struct client_stream {
	const struct client_stream_ops	*ops;
	void				*owner;
	/* Who the client is (the listener's), or NULL. */
	const struct access_who		*who;
	/* Requests answering on this stream; detached when it closes. */
	TAILQ_HEAD(, request)		 requests;
};

void	client_stream_init(struct client_stream *,
	    const struct client_stream_ops *, void *owner);
/* The transport under the stream went away: detach its requests. */
void	client_stream_closed(struct client_stream *);
int	client_stream_write(struct client_stream *, struct json_object *,
	    int final);
int	client_stream_write_text(struct client_stream *, const char *,
	    size_t, int final);

#endif
