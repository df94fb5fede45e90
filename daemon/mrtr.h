/*
 * Multi round-trip requests for modern clients of legacy upstreams.  A
 * legacy server asks for sampling, elicitation or roots with a
 * server->client request in the middle of a call; a 2026-07-28 client can
 * only be asked through an InputRequiredResult.  mrtr parks the upstream
 * call, answers the client with the input request and an HMAC-protected
 * requestState, and when the client retries with inputResponses, answers
 * the upstream and lets the retry take over the parked call.
 */
#ifndef MCPRELAY_MRTR_H
#define MCPRELAY_MRTR_H

struct client_stream;
struct handler;
struct json_object;
struct mrtr;
struct mrtr_park;
struct relay;
struct request;

struct mrtr	*mrtr_new(struct relay *);
void		 mrtr_free(struct mrtr *);

/*
 * The upstream of h raised msg (a server->client request) while r, a
 * modern request, was in flight: park r, and at the end of this turn of
 * the event loop answer it with one InputRequiredResult carrying every
 * request raised meanwhile.  Each request is answered one way or another
 * (-32021 to the upstream when the client did not declare the capability).
 */
void		 mrtr_raise(struct mrtr *, struct handler *h,
		    struct json_object *msg, struct request *r);

/*
 * A modern request carrying one of our requestStates: resume the parked
 * call.  Returns 1 when it took the message (answered or resumed), 0 when
 * the requestState is not mcprelayd's (an upstream's own: pass it on).
 */
int		 mrtr_resume(struct mrtr *, struct json_object *msg,
		    struct client_stream *stream);

/* A parked request ends (its reply, or none): keep the reply for the retry. */
void		 mrtr_request_done(struct mrtr_park *, struct json_object *reply);

#endif
