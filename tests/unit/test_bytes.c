/*
 * Unit tests for common/bytes.c: base64 against the RFC 4648 section 10
 * vectors and its size check, the constant-time comparison's answers, and
 * random bytes long enough to take several getrandom(2) reads.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "bytes.h"

static void
expect_b64(const char *in, const char *want)
{
	char	out[64];
	size_t	n;

	n = bytes_base64(in, strlen(in), out, sizeof out);
	ck_assert_str_eq(out, want);
	ck_assert_uint_eq(n, strlen(want));
}

START_TEST(test_base64_rfc4648_vectors)
{
	expect_b64("", "");
	expect_b64("f", "Zg==");
	expect_b64("fo", "Zm8=");
	expect_b64("foo", "Zm9v");
	expect_b64("foob", "Zm9vYg==");
	expect_b64("fooba", "Zm9vYmE=");
	expect_b64("foobar", "Zm9vYmFy");
}
END_TEST

/* Every 6-bit value, so both ends of the alphabet ("+" and "/"). */
START_TEST(test_base64_uses_the_whole_alphabet)
{
	const unsigned char	in[] = { 0x00, 0x10, 0x83, 0x10, 0x51, 0x87,
	    0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f, 0x41, 0x14, 0x93, 0x51, 0x55,
	    0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f, 0x82, 0x18, 0xa3, 0x92,
	    0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf, 0xc3, 0x1c, 0xb3,
	    0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf };
	char			out[BYTES_BASE64_SIZE(sizeof in)];

	ck_assert_uint_eq(bytes_base64(in, sizeof in, out, sizeof out), 64);
	ck_assert_str_eq(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
	    "wxyz0123456789+/");
}
END_TEST

START_TEST(test_base64_refuses_a_short_buffer)
{
	char	out[9];

	/* "foobar" needs 8 characters and the NUL. */
	ck_assert_uint_eq(bytes_base64("foobar", 6, out, 9), 8);
	memset(out, 'x', sizeof out);
	ck_assert_uint_eq(bytes_base64("foobar", 6, out, 8), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(bytes_base64("f", 1, out, 4), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_equal)
{
	ck_assert_int_eq(bytes_equal("abcdef", "abcdef", 6), 1);
	ck_assert_int_eq(bytes_equal("xbcdef", "abcdef", 6), 0);
	ck_assert_int_eq(bytes_equal("abcdex", "abcdef", 6), 0);
	ck_assert_int_eq(bytes_equal("abc\x80", "abc\x00", 4), 0);
	ck_assert_int_eq(bytes_equal("abc", "xyz", 0), 1);
}
END_TEST

/* 4096 bytes: more than one getrandom(2) read may return. */
START_TEST(test_random_fills_the_whole_buffer)
{
	unsigned char	a[4096 + 1], b[4096 + 1];
	size_t		i, zero_tail = 0;

	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	ck_assert_int_eq(bytes_random(a, 4096), 0);
	ck_assert_int_eq(bytes_random(b, 4096), 0);
	ck_assert_int_eq(a[4096], 0);	/* not one byte more */
	ck_assert_int_ne(memcmp(a, b, 4096), 0);
	/* Sixteen zero bytes at the end would say the tail was not written
	 * (odds 2^-128 otherwise). */
	for (i = 4096 - 16; i < 4096; i++)
		zero_tail += a[i] == 0;
	ck_assert_uint_lt(zero_tail, 16);
	ck_assert_int_eq(bytes_random(a, 0), 0);
}
END_TEST

static Suite *
bytes_suite(void)
{
	Suite	*s = suite_create("bytes");
	TCase	*tc;

	tc = tcase_create("base64");
	tcase_add_test(tc, test_base64_rfc4648_vectors);
	tcase_add_test(tc, test_base64_uses_the_whole_alphabet);
	tcase_add_test(tc, test_base64_refuses_a_short_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_test(tc, test_equal);
	tcase_add_test(tc, test_random_fills_the_whole_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(bytes_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
