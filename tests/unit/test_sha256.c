/*
 * Unit tests for common/sha256.c against the published vectors: FIPS 180-4
 * (via its NIST examples) for SHA-256, RFC 4231 for HMAC-SHA256, and that
 * feeding the input in pieces changes nothing.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "sha256.h"

static void
hex(const uint8_t *d, size_t n, char *out)
{
	size_t	i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void
expect_digest(const void *msg, size_t len, const char *want)
{
	uint8_t	d[SHA256_LEN];
	char	got[2 * SHA256_LEN + 1];

	sha256(msg, len, d);
	hex(d, sizeof d, got);
	ck_assert_str_eq(got, want);
}

static void
expect_hmac(const void *key, size_t keylen, const void *msg, size_t len,
    const char *want)
{
	uint8_t	d[SHA256_LEN];
	char	got[2 * SHA256_LEN + 1];

	hmac_sha256(key, keylen, msg, len, d);
	hex(d, sizeof d, got);
	ck_assert_str_eq(got, want);
}

START_TEST(test_abc)
{
	expect_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_empty_string)
{
	expect_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}
END_TEST

/* 56 bytes: the padding needs a second block. */
START_TEST(test_448_bit_message_takes_two_blocks)
{
	const char	*m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomn"
	    "opnopq";

	ck_assert_uint_eq(strlen(m), 56);
	expect_digest(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_one_million_a)
{
	struct sha256	s;
	char		a[1000], got[2 * SHA256_LEN + 1];
	uint8_t		d[SHA256_LEN];
	int		i;

	memset(a, 'a', sizeof a);
	sha256_init(&s);
	for (i = 0; i < 1000; i++)
		sha256_update(&s, a, sizeof a);
	sha256_final(&s, d);
	hex(d, sizeof d, got);
	ck_assert_str_eq(got, "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

/* Lengths around the 55/56/64-byte padding edges, one byte at a time and in
 * odd chunks, must hash as the whole buffer does. */
START_TEST(test_pieces_hash_like_the_whole)
{
	uint8_t		msg[200], whole[SHA256_LEN], part[SHA256_LEN];
	struct sha256	s;
	size_t		len, i, step;

	for (i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	for (len = 0; len <= sizeof msg; len++) {
		sha256(msg, len, whole);
		for (step = 1; step <= 67; step += 11) {
			sha256_init(&s);
			for (i = 0; i < len; i += step)
				sha256_update(&s, msg + i,
				    len - i < step ? len - i : step);
			sha256_final(&s, part);
			ck_assert_msg(memcmp(whole, part, sizeof whole) == 0,
			    "len %zu step %zu", len, step);
		}
	}
}
END_TEST

/* Checked against an independent implementation at 55, 56 and 64 bytes of
 * 'a': the last that pads in one block, the first that needs two, a full
 * block. */
START_TEST(test_padding_edges)
{
	char	a[64];

	memset(a, 'a', sizeof a);
	expect_digest(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9a"
	    "e9b0a925a5258e241c9f1e910f734318");
	expect_digest(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f"
	    "590ce20f1bde7090ef7970686ec6738a");
	expect_digest(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209"
	    "f439851db43d0ba5997337df154668eb");
}
END_TEST

/* RFC 4231 4.2 */
START_TEST(test_hmac_rfc4231_case_1)
{
	uint8_t	key[20];

	memset(key, 0x0b, sizeof key);
	expect_hmac(key, sizeof key, "Hi There", 8,
	    "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
}
END_TEST

/* RFC 4231 4.3: a key shorter than the output. */
START_TEST(test_hmac_rfc4231_case_2)
{
	expect_hmac("Jefe", 4, "what do ya want for nothing?", 28,
	    "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
}
END_TEST

/* RFC 4231 4.4 */
START_TEST(test_hmac_rfc4231_case_3)
{
	uint8_t	key[20], data[50];

	memset(key, 0xaa, sizeof key);
	memset(data, 0xdd, sizeof data);
	expect_hmac(key, sizeof key, data, sizeof data,
	    "773ea91e36800e46854db8ebd09181a7"
	    "2959098b3ef8c122d9635514ced565fe");
}
END_TEST

/* RFC 4231 4.5 */
START_TEST(test_hmac_rfc4231_case_4)
{
	uint8_t	key[25], data[50];
	size_t	i;

	for (i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)(i + 1);
	memset(data, 0xcd, sizeof data);
	expect_hmac(key, sizeof key, data, sizeof data,
	    "82558a389a443c0ea4cc819899f2083a"
	    "85f0faa3e578f8077a2e3ff46729665b");
}
END_TEST

/* RFC 4231 4.7: a 131-byte key is hashed first. */
START_TEST(test_hmac_rfc4231_case_6_long_key)
{
	const char	*m = "Test Using Larger Than Block-Size Key - Hash Key "
	    "First";
	uint8_t		 key[131];

	memset(key, 0xaa, sizeof key);
	expect_hmac(key, sizeof key, m, strlen(m),
	    "60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

/* RFC 4231 4.8: long key and long data. */
START_TEST(test_hmac_rfc4231_case_7_long_key_and_data)
{
	const char	*m = "This is a test using a larger than block-size key "
	    "and a larger than block-size data. The key needs to be hashed "
	    "before being used by the HMAC algorithm.";
	uint8_t		 key[131];

	memset(key, 0xaa, sizeof key);
	expect_hmac(key, sizeof key, m, strlen(m),
	    "9b09ffa71b942fcb27635fbcd5b0e944"
	    "bfdc63644f0713938a7f51535c3a35e2");
}
END_TEST

/* A key of exactly one block is used as it is, one byte more is hashed
 * (values from an independent implementation). */
START_TEST(test_hmac_block_sized_key_is_not_hashed)
{
	uint8_t	key[SHA256_BLOCK + 1];

	memset(key, 0x5a, sizeof key);
	expect_hmac(key, SHA256_BLOCK, "x", 1,
	    "e553639f908d1998ec8866141860cd3c"
	    "f2a90cd9d095a98bd4358fb148de1d54");
	expect_hmac(key, SHA256_BLOCK + 1, "x", 1,
	    "b516707387f0ead335bb5898996024339"
	    "fb4a75bb525a2c7c144aefc6e0ad479");
}
END_TEST

static Suite *
sha256_suite(void)
{
	Suite	*s = suite_create("sha256");
	TCase	*tc;

	tc = tcase_create("sha256");
	tcase_add_test(tc, test_abc);
	tcase_add_test(tc, test_empty_string);
	tcase_add_test(tc, test_448_bit_message_takes_two_blocks);
	tcase_add_test(tc, test_one_million_a);
	tcase_add_test(tc, test_pieces_hash_like_the_whole);
	tcase_add_test(tc, test_padding_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("hmac");
	tcase_add_test(tc, test_hmac_rfc4231_case_1);
	tcase_add_test(tc, test_hmac_rfc4231_case_2);
	tcase_add_test(tc, test_hmac_rfc4231_case_3);
	tcase_add_test(tc, test_hmac_rfc4231_case_4);
	tcase_add_test(tc, test_hmac_rfc4231_case_6_long_key);
	tcase_add_test(tc, test_hmac_rfc4231_case_7_long_key_and_data);
	tcase_add_test(tc, test_hmac_block_sized_key_is_not_hashed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(sha256_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
