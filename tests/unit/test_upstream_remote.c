/*
 * Unit tests for the failure classification of the remote transports
 * (daemon/upstream-http.c, shared with upstream-sse.c): which failures of a
 * request's own POST prove that the server never ran it, so that the
 * handler may send even a non-idempotent request again (docs/remote.md);
 * how a reply body reaches the owner, parsed once; and what sending
 * hands on to the transport.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "http-client.h"
#include "jsonrpc.h"
#include "upstream-http.h"
#include "upstream.h"

/* Every way the exchange can fail below HTTP, and its verdict. */
static const struct {
	enum http_error	 e;
	int		 never_ran;
} below_http[] = {
	{ HTTP_ERR_DNS, 1 },		/* nothing was connected */
	{ HTTP_ERR_CONNECT, 1 },	/* refused: nothing was written */
	{ HTTP_ERR_CONNECT_TIMEOUT, 1 },
	{ HTTP_ERR_TLS, 1 },		/* the handshake comes first */
	{ HTTP_ERR_TLS_VERIFY, 1 },
	{ HTTP_ERR_RESET, 0 },		/* the body may have been read */
	{ HTTP_ERR_TIMEOUT, 0 },	/* it may be running right now */
	{ HTTP_ERR_PROTOCOL, 0 },	/* a reply came: it was received */
	{ HTTP_ERR_TOO_LARGE, 0 },
};

START_TEST(test_failures_before_sending_never_ran)
{
	size_t	i;

	ck_assert_int_eq(sizeof below_http / sizeof below_http[0],
	    HTTP_ERR_NERRORS - 1);
	for (i = 0; i < sizeof below_http / sizeof below_http[0]; i++)
		ck_assert_msg(upstream_remote_never_ran(below_http[i].e, 0) ==
		    below_http[i].never_ran, "http_error %d: expected %d",
		    (int)below_http[i].e, below_http[i].never_ran);
}
END_TEST

START_TEST(test_only_404_429_503_prove_a_request_never_ran)
{
	int	status;

	for (status = 100; status < 600; status++)
		ck_assert_msg(upstream_remote_never_ran(HTTP_ERR_NONE,
		    status) == (status == 404 || status == 429 ||
		    status == 503), "HTTP %d", status);
}
END_TEST

START_TEST(test_gateway_and_server_errors_may_have_run)
{
	/* 500 may come after side effects; 502/504 from a gateway whose
	 * backend may have run it; 408 is not in the list either. */
	ck_assert_int_eq(upstream_remote_never_ran(HTTP_ERR_NONE, 500), 0);
	ck_assert_int_eq(upstream_remote_never_ran(HTTP_ERR_NONE, 502), 0);
	ck_assert_int_eq(upstream_remote_never_ran(HTTP_ERR_NONE, 504), 0);
	ck_assert_int_eq(upstream_remote_never_ran(HTTP_ERR_NONE, 408), 0);
	ck_assert_int_eq(upstream_remote_never_ran(HTTP_ERR_NONE, 200), 0);
	ck_assert_int_eq(upstream_remote_never_ran(HTTP_ERR_NONE, 202), 0);
}
END_TEST

START_TEST(test_session_refusals)
{
	ck_assert_int_eq(upstream_remote_says_session(404, ""), 1);
	ck_assert_int_eq(upstream_remote_says_session(400,
	    "{\"error\":{\"message\":\"No valid session ID provided\"}}"), 1);
	ck_assert_int_eq(upstream_remote_says_session(400, "bad params"), 0);
	ck_assert_int_eq(upstream_remote_says_session(410, "session"), 0);
}
END_TEST

/* ---- delivery ------------------------------------------------------------ */

/* What the owner was given: each message's text, and how it came. */
struct seen {
	char	 text[8][128];
	int	 as_obj[8];
	int	 n;
	int	 change;	/* the owner rewrites each message's id */
};

static void
seen_message_cb(void *arg, const char *json, size_t len)
{
	struct seen	*sn = arg;

	ck_assert_int_lt(sn->n, 8);
	ck_assert_uint_lt(len, sizeof sn->text[0]);
	memcpy(sn->text[sn->n], json, len + 1);
	sn->as_obj[sn->n++] = 0;
}

static void
seen_message_obj_cb(void *arg, struct json_object *msg)
{
	struct seen	*sn = arg;

	ck_assert_int_lt(sn->n, 8);
	if (sn->change)
		json_object_object_add(msg, "id", json_object_new_int(99));
	snprintf(sn->text[sn->n], sizeof sn->text[0], "%s",
	    jsonrpc_to_string(msg, NULL));
	sn->as_obj[sn->n++] = 1;
}

struct fixture {
	struct upstream		 up;
	struct upstream_remote	 r;
	struct seen		 sn;
	int			 dead;
};

static void
fixture_init(struct fixture *fx, int with_obj)
{
	struct upstream_event_cbs	 cbs;
	static const struct upstream_ops ops = { .kind = "test" };

	memset(fx, 0, sizeof *fx);
	memset(&cbs, 0, sizeof cbs);
	cbs.message = seen_message_cb;
	if (with_obj)
		cbs.message_obj = seen_message_obj_cb;
	upstream_init(&fx->up, &ops, "t", &cbs, &fx->sn);
	fx->r.up = &fx->up;
	fx->r.dead = &fx->dead;
	fx->r.parser = jsonrpc_parser_new();
}

static void
fixture_fini(struct fixture *fx)
{
	jsonrpc_parser_free(fx->r.parser);
	upstream_fini(&fx->up);
}

#define BATCH	"[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}," \
	"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}]"

START_TEST(test_a_batch_reaches_the_owner_parsed_one_message_at_a_time)
{
	struct fixture		 fx;
	struct json_object	*id = json_object_new_int(7);
	int			 seen;

	fixture_init(&fx, 1);
	ck_assert_int_eq(upstream_remote_deliver(&fx.r, BATCH, strlen(BATCH),
	    id, &seen), 0);
	ck_assert_int_eq(seen, 1);
	ck_assert_int_eq(fx.sn.n, 2);
	ck_assert_int_eq(fx.sn.as_obj[0], 1);
	ck_assert_int_eq(fx.sn.as_obj[1], 1);
	ck_assert_str_eq(fx.sn.text[0],
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}");
	ck_assert_str_eq(fx.sn.text[1],
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}");
	json_object_put(id);
	fixture_fini(&fx);
}
END_TEST

START_TEST(test_an_owner_without_message_obj_gets_the_text)
{
	struct fixture	 fx;
	const char	*one = "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":1}";
	int		 seen;

	fixture_init(&fx, 0);
	ck_assert_int_eq(upstream_remote_deliver(&fx.r, BATCH, strlen(BATCH),
	    NULL, &seen), 0);
	ck_assert_int_eq(seen, 0);
	ck_assert_int_eq(fx.sn.n, 2);
	ck_assert_int_eq(fx.sn.as_obj[0], 0);
	ck_assert_str_eq(fx.sn.text[1],
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}");
	ck_assert_int_eq(upstream_remote_deliver(&fx.r, one, strlen(one),
	    NULL, &seen), 0);
	ck_assert_int_eq(fx.sn.n, 3);
	ck_assert_str_eq(fx.sn.text[2], one);
	ck_assert_int_eq(upstream_remote_deliver(&fx.r, "{\"a\":", 5, NULL,
	    &seen), -1);
	ck_assert_int_eq(fx.sn.n, 3);
	fixture_fini(&fx);
}
END_TEST

/* The POST's id is matched before the owner may rewrite the message. */
START_TEST(test_the_answer_is_recognised_before_the_owner_changes_it)
{
	struct fixture		 fx;
	struct json_object	*id = json_object_new_int(7);
	int			 seen;

	fixture_init(&fx, 1);
	fx.sn.change = 1;
	ck_assert_int_eq(upstream_remote_deliver(&fx.r, BATCH, strlen(BATCH),
	    id, &seen), 0);
	ck_assert_int_eq(seen, 1);
	ck_assert_str_eq(fx.sn.text[1],
	    "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}");
	json_object_put(id);
	fixture_fini(&fx);
}
END_TEST

/* A transport without send_msg() is sent the message's text. */
static char	 sent_text[128];

static int
text_send(struct upstream *up, const char *json, size_t len)
{
	ck_assert_uint_lt(len, sizeof sent_text);
	memcpy(sent_text, json, len + 1);
	return 0;
}

START_TEST(test_send_msg_falls_back_to_the_text)
{
	static const struct upstream_ops ops = {
		.kind = "t", .send = text_send
	};
	struct upstream_event_cbs	 cbs;
	struct upstream			 up;
	struct json_object		*m;

	memset(&cbs, 0, sizeof cbs);
	upstream_init(&up, &ops, "t", &cbs, NULL);
	m = json_tokener_parse("{\"jsonrpc\":\"2.0\",\"method\":\"a/b\"}");
	ck_assert_int_eq(upstream_send_msg(&up, m), 0);
	ck_assert_str_eq(sent_text, "{\"jsonrpc\":\"2.0\",\"method\":\"a/b\"}");
	json_object_put(m);
	upstream_fini(&up);
}
END_TEST

/* ---- sending ------------------------------------------------------------- */

/* What upstream_remote_send() handed on. */
struct posted {
	int	 n;
	char	 method[32];	/* of the parsed message */
	char	*body;		/* taken over */
	size_t	 len;
};

static void
posted_cb(void *arg, struct json_object *msg, char *body, size_t len)
{
	struct posted	*p = arg;
	const char	*method;

	p->n++;
	method = jsonrpc_method(msg);
	snprintf(p->method, sizeof p->method, "%s",
	    method != NULL ? method : "");
	free(p->body);
	p->body = body;
	p->len = len;
}

#define PING	"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}"

/* PING was handed on once, parsed and as its own text. */
static void
expect_posted_ping(const struct posted *p)
{
	ck_assert_int_eq(p->n, 1);
	ck_assert_str_eq(p->method, "ping");
	ck_assert_uint_eq(p->len, strlen(PING));
	ck_assert_str_eq(p->body, PING);
}

/* Given text or a parsed message, the transport gets both. */
START_TEST(test_send_hands_on_the_message_parsed_and_as_text)
{
	struct fixture		 fx;
	struct posted		 p = { 0 };
	struct json_object	*m;

	fixture_init(&fx, 0);
	/* Only len bytes count: the text need not end there. */
	ck_assert_int_eq(upstream_remote_send(&fx.r, 1, NULL, PING "xyz",
	    strlen(PING), posted_cb, &p), 0);
	expect_posted_ping(&p);
	p.n = 0;
	m = json_tokener_parse(PING);
	ck_assert_int_eq(upstream_remote_send(&fx.r, 1, m, NULL, 0, posted_cb,
	    &p), 0);
	expect_posted_ping(&p);
	json_object_put(m);
	free(p.body);
	fixture_fini(&fx);
}
END_TEST

START_TEST(test_send_refuses_when_not_open_or_not_json)
{
	struct fixture		 fx;
	struct posted		 p = { 0 };
	struct json_object	*m;

	fixture_init(&fx, 0);
	m = json_tokener_parse(PING);
	errno = 0;
	ck_assert_int_eq(upstream_remote_send(&fx.r, 0, NULL, PING,
	    strlen(PING), posted_cb, &p), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	errno = 0;
	ck_assert_int_eq(upstream_remote_send(&fx.r, 0, m, NULL, 0, posted_cb,
	    &p), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	/* Not open comes first, however bad the text. */
	errno = 0;
	ck_assert_int_eq(upstream_remote_send(&fx.r, 0, NULL, "{", 1,
	    posted_cb, &p), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	errno = 0;
	ck_assert_int_eq(upstream_remote_send(&fx.r, 1, NULL, "{\"a\":", 5,
	    posted_cb, &p), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(p.n, 0);
	ck_assert_ptr_null(p.body);
	json_object_put(m);
	fixture_fini(&fx);
}
END_TEST

static Suite *
upstream_remote_suite(void)
{
	Suite	*s = suite_create("upstream_remote");
	TCase	*tc = tcase_create("classification");

	tcase_add_test(tc, test_failures_before_sending_never_ran);
	tcase_add_test(tc, test_only_404_429_503_prove_a_request_never_ran);
	tcase_add_test(tc, test_gateway_and_server_errors_may_have_run);
	tcase_add_test(tc, test_session_refusals);
	suite_add_tcase(s, tc);
	tc = tcase_create("delivery");
	tcase_add_test(tc,
	    test_a_batch_reaches_the_owner_parsed_one_message_at_a_time);
	tcase_add_test(tc, test_an_owner_without_message_obj_gets_the_text);
	tcase_add_test(tc,
	    test_the_answer_is_recognised_before_the_owner_changes_it);
	tcase_add_test(tc, test_send_msg_falls_back_to_the_text);
	suite_add_tcase(s, tc);
	tc = tcase_create("sending");
	tcase_add_test(tc, test_send_hands_on_the_message_parsed_and_as_text);
	tcase_add_test(tc, test_send_refuses_when_not_open_or_not_json);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(upstream_remote_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
