/*
 * Unit tests for common/names.c: the index of every name of a table, names
 * that are not there (case, prefix, empty), gaps in a sparse table, and
 * NULL for the name or the table.
 */
#include "autoconf.h"

#include <stdlib.h>

#include <check.h>

#include "names.h"

static const char *const colours[] = { "red", "green", "blue" };
#define NCOLOURS	(sizeof colours / sizeof *colours)

START_TEST(test_each_name_gives_its_index)
{
	ck_assert_int_eq(names_index(colours, NCOLOURS, "red"), 0);
	ck_assert_int_eq(names_index(colours, NCOLOURS, "green"), 1);
	ck_assert_int_eq(names_index(colours, NCOLOURS, "blue"), 2);
}
END_TEST

START_TEST(test_unknown_names_give_minus_one)
{
	ck_assert_int_eq(names_index(colours, NCOLOURS, "yellow"), -1);
	ck_assert_int_eq(names_index(colours, NCOLOURS, "Red"), -1);
	ck_assert_int_eq(names_index(colours, NCOLOURS, "re"), -1);
	ck_assert_int_eq(names_index(colours, NCOLOURS, "redd"), -1);
	ck_assert_int_eq(names_index(colours, NCOLOURS, ""), -1);
}
END_TEST

/* n bounds the search: a name past it is not found. */
START_TEST(test_only_the_first_n_names_are_searched)
{
	ck_assert_int_eq(names_index(colours, 2, "green"), 1);
	ck_assert_int_eq(names_index(colours, 2, "blue"), -1);
	ck_assert_int_eq(names_index(colours, 0, "red"), -1);
}
END_TEST

START_TEST(test_gaps_in_a_sparse_table_are_skipped)
{
	static const char *const sparse[4] = { [1] = "one", [3] = "three" };

	ck_assert_int_eq(names_index(sparse, 4, "one"), 1);
	ck_assert_int_eq(names_index(sparse, 4, "three"), 3);
	ck_assert_int_eq(names_index(sparse, 4, ""), -1);
	ck_assert_int_eq(names_index(sparse, 4, "two"), -1);
}
END_TEST

START_TEST(test_null_name_or_table_gives_minus_one)
{
	ck_assert_int_eq(names_index(colours, NCOLOURS, NULL), -1);
	ck_assert_int_eq(names_index(NULL, 3, "red"), -1);
	ck_assert_int_eq(names_index(NULL, 0, NULL), -1);
}
END_TEST

static Suite *
names_suite(void)
{
	Suite	*s = suite_create("names");
	TCase	*tc;

	tc = tcase_create("index");
	tcase_add_test(tc, test_each_name_gives_its_index);
	tcase_add_test(tc, test_unknown_names_give_minus_one);
	tcase_add_test(tc, test_only_the_first_n_names_are_searched);
	tcase_add_test(tc, test_gaps_in_a_sparse_table_are_skipped);
	tcase_add_test(tc, test_null_name_or_table_gives_minus_one);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(names_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
