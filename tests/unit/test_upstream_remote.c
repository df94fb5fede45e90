/*
 * Unit tests for the failure classification of the remote transports
 * (daemon/upstream-http.c, shared with upstream-sse.c): which failures of a
 * request's own POST prove that the server never ran it, so that the
 * handler may send even a non-idempotent request again (docs/remote.md).
 */
#include "autoconf.h"

#include <check.h>
#include <stdlib.h>

#include "http-client.h"
#include "upstream-http.h"

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
