/*
 * Server-Sent Events: a parser following the WHATWG EventSource rules for
 * the streams of HTTP MCP upstreams, and a writer for the daemon's own
 * streams.
 */
#ifndef MCPRELAY_SSE_H
#define MCPRELAY_SSE_H

#include <stddef.h>

struct evbuffer;
struct sse_parser;

/* Valid only during the callback. */
struct sse_event {
	const char	*event;		/* "message" by default */
	const char	*data;		/* lines joined by "\n" + NUL */
	size_t		 data_len;
	const char	*id;		/* last event id or NULL */
	long		 retry;		/* ms; -1: none in event */
};

typedef void	(*sse_event_cb)(const struct sse_event *ev, void *arg);
/* text is what follows ':' minus one leading space; not NUL-ended. */
typedef void	(*sse_comment_cb)(const char *text, size_t len, void *arg);

/*
 * max_event_size bounds every line and the sum of the lengths of an
 * event's field lines (without line ends), so it bounds memory too.  Both
 * callbacks get arg; they must not free, reset or feed the parser.
 */
struct sse_parser	*sse_parser_new(size_t max_event_size, sse_event_cb cb,
			    void *arg);
void			 sse_parser_free(struct sse_parser *p);
/* Comments are ignored unless a callback is set; cb may be NULL. */
void			 sse_parser_set_comment_cb(struct sse_parser *p,
			    sse_comment_cb cb);

/*
 * Feeds the next bytes of the stream, in chunks of any size; events are
 * dispatched as their blank line arrives.  Returns 0, or -1 once a line or
 * an event exceeds max_event_size: the caller should drop the stream, and
 * every later call fails too until sse_parser_reset().
 */
int			 sse_parser_feed(struct sse_parser *p,
			    const char *data, size_t len);

/*
 * Starts a new stream (a reconnection): forgets any partial line and event
 * and any error, but keeps the last event id and retry value, which a
 * reconnecting client needs.
 */
void			 sse_parser_reset(struct sse_parser *p);

/* NULL when no id has been seen or the last one was empty. */
const char		*sse_parser_last_event_id(const struct sse_parser *p);
/* The last valid retry: value in milliseconds, -1 if none yet. */
long			 sse_parser_retry(const struct sse_parser *p);

/*
 * Writes one event.  event NULL means the default type ("message"); id may
 * be NULL.  data is split at LF, CR and CRLF into "data:" lines, so any
 * text arrives intact except that its line ends arrive as LF (SSE cannot
 * carry a CR).  An event type or id is cut at its first CR or LF.
 */
void			 sse_write_event(struct evbuffer *out,
			    const char *event, const char *id, const char *data,
			    size_t len);
/* ": text" lines (text split like data); text may be NULL. */
void			 sse_write_comment(struct evbuffer *out,
			    const char *text);
/* A "retry:" field on its own, followed by a blank line. */
void			 sse_write_retry(struct evbuffer *out,
			    unsigned long ms);

#endif
