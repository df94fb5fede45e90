/*
 * Unit tests for daemon/oauth.c's pure parts: WWW-Authenticate parameters,
 * the discovery URLs in the spec's order, PKCE S256, the resource and
 * issuer checks.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "oauth.h"

START_TEST(test_challenge_params_quoted_and_bare)
{
	const char	*h = "Bearer error=\"insufficient_scope\", "
			    "scope=\"mcp:read mcp:write\", resource_metadata="
			    "\"https://x.example/.well-known/oauth-protected-"
			    "resource/mcp\", realm=r1";
	char		*v;

	v = oauth_challenge_param(h, "scope");
	ck_assert_str_eq(v, "mcp:read mcp:write");
	free(v);
	v = oauth_challenge_param(h, "resource_metadata");
	ck_assert_str_eq(v,
	    "https://x.example/.well-known/oauth-protected-resource/mcp");
	free(v);
	v = oauth_challenge_param(h, "error");
	ck_assert_str_eq(v, "insufficient_scope");
	free(v);
	v = oauth_challenge_param(h, "realm");
	ck_assert_str_eq(v, "r1");
	free(v);
	ck_assert_ptr_null(oauth_challenge_param(h, "missing"));
	ck_assert_ptr_null(oauth_challenge_param(NULL, "scope"));
	/* "scope" inside another name is not it. */
	ck_assert_ptr_null(oauth_challenge_param("Bearer xscope=\"a\"",
	    "scope"));
}
END_TEST

START_TEST(test_prm_urls_path_first_then_root)
{
	char	*u[4];
	size_t	 n;

	n = oauth_prm_urls("https://h.example:8443/api/mcp?x=1", u, 4);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(u[0], "https://h.example:8443/.well-known/"
	    "oauth-protected-resource/api/mcp");
	ck_assert_str_eq(u[1], "https://h.example:8443/.well-known/"
	    "oauth-protected-resource");
	free(u[0]);
	free(u[1]);
	n = oauth_prm_urls("https://h.example/", u, 4);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(u[0],
	    "https://h.example/.well-known/oauth-protected-resource");
	free(u[0]);
}
END_TEST

START_TEST(test_as_metadata_urls_in_the_spec_order)
{
	char	*u[4];
	size_t	 n, i;

	n = oauth_asm_urls("https://auth.example/tenant1", u, 4);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(u[0], "https://auth.example/.well-known/"
	    "oauth-authorization-server/tenant1");
	ck_assert_str_eq(u[1], "https://auth.example/.well-known/"
	    "openid-configuration/tenant1");
	ck_assert_str_eq(u[2], "https://auth.example/tenant1/.well-known/"
	    "openid-configuration");
	for (i = 0; i < n; i++)
		free(u[i]);
	n = oauth_asm_urls("https://auth.example", u, 4);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(u[0], "https://auth.example/.well-known/"
	    "oauth-authorization-server");
	ck_assert_str_eq(u[1], "https://auth.example/.well-known/"
	    "openid-configuration");
	for (i = 0; i < n; i++)
		free(u[i]);
}
END_TEST

/* The expected value is from Python: base64.urlsafe_b64encode(
 * hashlib.sha256(verifier).digest()) without the "=". */
START_TEST(test_s256_is_base64url_sha256_without_padding)
{
	char	out[64];

	oauth_s256("dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk", out,
	    sizeof out);
	ck_assert_str_eq(out, "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc");
}
END_TEST

START_TEST(test_resource_must_be_the_server_or_a_prefix)
{
	ck_assert_int_eq(oauth_resource_ok("https://h.example/mcp",
	    "https://h.example/mcp"), 1);
	ck_assert_int_eq(oauth_resource_ok("https://h.example",
	    "https://h.example/mcp"), 1);
	ck_assert_int_eq(oauth_resource_ok("https://h.example/api",
	    "https://h.example/api/mcp"), 1);
	ck_assert_int_eq(oauth_resource_ok("https://h.example/ap",
	    "https://h.example/api/mcp"), 0);
	ck_assert_int_eq(oauth_resource_ok("https://other.example/mcp",
	    "https://h.example/mcp"), 0);
	ck_assert_int_eq(oauth_resource_ok("https://h.example/other",
	    "https://h.example/mcp"), 0);
}
END_TEST

START_TEST(test_issuer_is_compared_as_a_plain_string)
{
	ck_assert_int_eq(oauth_issuer_equal("https://a.example",
	    "https://a.example"), 1);
	/* RFC 9207 2.4: no normalisation, a trailing slash differs. */
	ck_assert_int_eq(oauth_issuer_equal("https://a.example/",
	    "https://a.example"), 0);
	ck_assert_int_eq(oauth_issuer_equal(NULL, "https://a.example"), 0);
}
END_TEST

static Suite *
oauth_suite(void)
{
	Suite	*s = suite_create("oauth");
	TCase	*tc = tcase_create("oauth");

	tcase_add_test(tc, test_challenge_params_quoted_and_bare);
	tcase_add_test(tc, test_prm_urls_path_first_then_root);
	tcase_add_test(tc, test_as_metadata_urls_in_the_spec_order);
	tcase_add_test(tc, test_s256_is_base64url_sha256_without_padding);
	tcase_add_test(tc, test_resource_must_be_the_server_or_a_prefix);
	tcase_add_test(tc, test_issuer_is_compared_as_a_plain_string);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(oauth_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
