/*
 * Unit tests for daemon/events.c: events reach every subscriber with their
 * fields, and the alert thresholds (retries per minute, consecutive
 * failures, breaker open) fire once per window, on a scripted clock.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "config.h"
#include "events.h"
#include "log.h"
#include "relay.h"

/* A clock the test moves by hand. */
struct clock {
	double	mono;
	double	wall;
};

static double
clock_mono(void *arg)
{
	return ((struct clock *)arg)->mono;
}

static double
clock_wall(void *arg)
{
	return ((struct clock *)arg)->wall;
}

struct fixture {
	struct relay		 relay;
	struct events		*ev;
	struct clock		 clock;
	struct json_object	*got;	/* every event a subscriber saw */
};

static void
collect_cb(void *arg, struct json_object *event)
{
	struct fixture	*f = arg;

	json_object_array_add(f->got, json_object_get(event));
}

static struct fixture *
fixture_new(const char *yaml)
{
	struct fixture		*f = calloc(1, sizeof *f);
	struct config_errors	 errs;

	log_init("test_events", getenv("TEST_DEBUG") != NULL ?
	    LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	config_errors_init(&errs);
	f->relay.cfg = config_load_string(yaml, strlen(yaml), "test", &errs);
	ck_assert_msg(f->relay.cfg != NULL, "config: %s",
	    errs.n > 0 ? errs.msgs[0] : "?");
	config_errors_free(&errs);
	f->ev = events_new(&f->relay);
	f->clock.mono = 1000;
	f->clock.wall = 1755856867.25;
	events_set_clock(f->ev, clock_mono, clock_wall, &f->clock);
	f->got = json_object_new_array();
	return f;
}

static void
fixture_free(struct fixture *f)
{
	events_free(f->ev);
	config_free(f->relay.cfg);
	json_object_put(f->got);
	free(f);
}

static struct json_object *
got(struct fixture *f, size_t i)
{
	ck_assert_uint_gt(json_object_array_length(f->got), i);
	return json_object_array_get_idx(f->got, i);
}

static const char *
field(struct json_object *o, const char *key)
{
	struct json_object	*v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s in %s",
	    key, json_object_to_json_string(o));
	return json_object_get_string(v);
}

/* Alerts of one kind among the events seen. */
static int
alerts_seen(struct fixture *f, const char *kind)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < json_object_array_length(f->got); i++) {
		struct json_object *e = json_object_array_get_idx(f->got, i);

		if (strcmp(field(e, "type"), "alert") == 0 &&
		    strcmp(field(e, "alert"), kind) == 0)
			n++;
	}
	return n;
}

START_TEST(test_state_event_carries_server_states_reason_time_and_seq)
{
	struct fixture	*f = fixture_new("");

	events_subscribe(f->ev, collect_cb, f);
	events_state(f->ev, "demo", "ready", "connecting", "exited with "
	    "status 4");
	events_state(f->ev, "demo", "connecting", "initializing", NULL);
	ck_assert_uint_eq(json_object_array_length(f->got), 2);
	ck_assert_str_eq(field(got(f, 0), "type"), "state");
	ck_assert_str_eq(field(got(f, 0), "server"), "demo");
	ck_assert_str_eq(field(got(f, 0), "from"), "ready");
	ck_assert_str_eq(field(got(f, 0), "to"), "connecting");
	ck_assert_str_eq(field(got(f, 0), "reason"), "exited with status 4");
	ck_assert_str_eq(field(got(f, 0), "time"), "1755856867.25");
	ck_assert_str_eq(field(got(f, 0), "seq"), "1");
	ck_assert_str_eq(field(got(f, 1), "seq"), "2");
	ck_assert_str_eq(field(got(f, 1), "reason"), "");
	ck_assert_uint_eq(events_emitted(f->ev), 2);
	fixture_free(f);
}
END_TEST

START_TEST(test_every_subscriber_gets_each_event_until_it_unsubscribes)
{
	struct fixture		*f = fixture_new("");
	struct events_sub	*a, *b;

	a = events_subscribe(f->ev, collect_cb, f);
	b = events_subscribe(f->ev, collect_cb, f);
	ck_assert_uint_eq(events_subscribers(f->ev), 2);
	events_breaker(f->ev, "demo", "closed", "half_open");
	ck_assert_uint_eq(json_object_array_length(f->got), 2);
	events_unsubscribe(f->ev, a);
	events_admin(f->ev, "demo", "disable", "uid 0");
	ck_assert_uint_eq(json_object_array_length(f->got), 3);
	ck_assert_str_eq(field(got(f, 2), "type"), "admin");
	ck_assert_str_eq(field(got(f, 2), "action"), "disable");
	ck_assert_str_eq(field(got(f, 2), "detail"), "uid 0");
	events_unsubscribe(f->ev, b);
	ck_assert_uint_eq(events_subscribers(f->ev), 0);
	events_admin(f->ev, NULL, "reload", "applied");
	ck_assert_uint_eq(json_object_array_length(f->got), 3);
	fixture_free(f);
}
END_TEST

START_TEST(test_retries_per_minute_alert_fires_once_per_window)
{
	struct fixture	*f = fixture_new("alerts: {retries_per_minute: 3}\n");
	int		 i;

	events_subscribe(f->ev, collect_cb, f);
	/* Three in a minute is the limit, not over it. */
	for (i = 0; i < 3; i++) {
		events_retry(f->ev, "demo", "connect", i + 1, 0.2);
		f->clock.mono += 10;
	}
	ck_assert_int_eq(alerts_seen(f, "retries_per_minute"), 0);
	events_retry(f->ev, "demo", "request", 1, 0);
	ck_assert_int_eq(alerts_seen(f, "retries_per_minute"), 1);
	ck_assert_uint_eq(events_alert_count(f->ev, "demo",
	    EVENTS_ALERT_RETRIES_PER_MINUTE), 1);
	/* Still over, within the window: no second alert. */
	f->clock.mono += 5;
	events_retry(f->ev, "demo", "connect", 5, 0.2);
	ck_assert_int_eq(alerts_seen(f, "retries_per_minute"), 1);
	/* A window later and over again: a second one. */
	f->clock.mono += 60;
	for (i = 0; i < 4; i++)
		events_retry(f->ev, "demo", "connect", i + 1, 0.2);
	ck_assert_int_eq(alerts_seen(f, "retries_per_minute"), 2);
	ck_assert_uint_eq(events_alert_count(f->ev, "demo",
	    EVENTS_ALERT_RETRIES_PER_MINUTE), 2);
	/* Another server has its own count. */
	ck_assert_uint_eq(events_alert_count(f->ev, "other",
	    EVENTS_ALERT_RETRIES_PER_MINUTE), 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_retries_older_than_a_minute_do_not_count)
{
	struct fixture	*f = fixture_new("alerts: {retries_per_minute: 3}\n");
	struct json_object *alert;
	int		 i;

	events_subscribe(f->ev, collect_cb, f);
	for (i = 0; i < 3; i++)
		events_retry(f->ev, "demo", "connect", i + 1, 0);
	f->clock.mono += 61;
	for (i = 0; i < 3; i++)
		events_retry(f->ev, "demo", "connect", i + 1, 0);
	ck_assert_int_eq(alerts_seen(f, "retries_per_minute"), 0);
	events_retry(f->ev, "demo", "connect", 4, 0);
	ck_assert_int_eq(alerts_seen(f, "retries_per_minute"), 1);
	alert = got(f, json_object_array_length(f->got) - 1);
	ck_assert_str_eq(field(alert, "value"), "4");
	ck_assert_str_eq(field(alert, "threshold"), "3");
	ck_assert_str_eq(field(alert, "server"), "demo");
	fixture_free(f);
}
END_TEST

START_TEST(test_consecutive_failures_alert_at_the_threshold)
{
	struct fixture	*f = fixture_new("alerts: {consecutive_failures: 3}\n");

	events_subscribe(f->ev, collect_cb, f);
	events_failure(f->ev, "demo", 1, "exited with status 1");
	events_failure(f->ev, "demo", 2, "exited with status 1");
	ck_assert_int_eq(alerts_seen(f, "consecutive_failures"), 0);
	events_failure(f->ev, "demo", 3, "exited with status 1");
	ck_assert_int_eq(alerts_seen(f, "consecutive_failures"), 1);
	ck_assert_msg(strstr(field(got(f, 0), "message"),
	    "3 connect failures in a row") != NULL, "%s",
	    field(got(f, 0), "message"));
	events_failure(f->ev, "demo", 4, "exited with status 1");
	ck_assert_int_eq(alerts_seen(f, "consecutive_failures"), 1);
	f->clock.mono += EVENTS_ALERT_WINDOW;
	events_failure(f->ev, "demo", 5, "exited with status 1");
	ck_assert_int_eq(alerts_seen(f, "consecutive_failures"), 2);
	fixture_free(f);
}
END_TEST

START_TEST(test_breaker_open_alert_follows_the_breaker_event)
{
	struct fixture	*f = fixture_new("");

	events_subscribe(f->ev, collect_cb, f);
	events_breaker(f->ev, "demo", "closed", "open");
	ck_assert_uint_eq(json_object_array_length(f->got), 2);
	ck_assert_str_eq(field(got(f, 0), "type"), "breaker");
	ck_assert_str_eq(field(got(f, 0), "to"), "open");
	ck_assert_str_eq(field(got(f, 1), "type"), "alert");
	ck_assert_str_eq(field(got(f, 1), "alert"), "breaker_open");
	events_breaker(f->ev, "demo", "open", "half_open");
	ck_assert_int_eq(alerts_seen(f, "breaker_open"), 1);
	ck_assert_uint_eq(events_alert_count(f->ev, "demo",
	    EVENTS_ALERT_BREAKER_OPEN), 1);
	fixture_free(f);
}
END_TEST

START_TEST(test_alerts_that_are_off_never_fire)
{
	struct fixture	*f = fixture_new("alerts: {retries_per_minute: 0, "
	    "consecutive_failures: 0, breaker_open: false}\n");
	int		 i;

	events_subscribe(f->ev, collect_cb, f);
	for (i = 0; i < 100; i++) {
		events_retry(f->ev, "demo", "connect", i, 0);
		events_failure(f->ev, "demo", (uint64_t)i + 1, "x");
	}
	events_breaker(f->ev, "demo", "closed", "open");
	ck_assert_int_eq(alerts_seen(f, "retries_per_minute"), 0);
	ck_assert_int_eq(alerts_seen(f, "consecutive_failures"), 0);
	ck_assert_int_eq(alerts_seen(f, "breaker_open"), 0);
	fixture_free(f);
}
END_TEST

START_TEST(test_a_missing_bus_ignores_everything)
{
	events_state(NULL, "demo", "ready", "backoff", "x");
	events_retry(NULL, "demo", "connect", 1, 1);
	events_failure(NULL, "demo", 99, "x");
	events_breaker(NULL, "demo", "closed", "open");
	events_admin(NULL, "demo", "disable", NULL);
	ck_assert_uint_eq(events_subscribers(NULL), 0);
	ck_assert_uint_eq(events_emitted(NULL), 0);
	ck_assert_uint_eq(events_alert_count(NULL, "demo",
	    EVENTS_ALERT_BREAKER_OPEN), 0);
	events_free(NULL);
}
END_TEST

static Suite *
events_suite(void)
{
	Suite	*s = suite_create("events");
	TCase	*tc = tcase_create("events");

	tcase_add_test(tc,
	    test_state_event_carries_server_states_reason_time_and_seq);
	tcase_add_test(tc,
	    test_every_subscriber_gets_each_event_until_it_unsubscribes);
	tcase_add_test(tc, test_retries_per_minute_alert_fires_once_per_window);
	tcase_add_test(tc, test_retries_older_than_a_minute_do_not_count);
	tcase_add_test(tc, test_consecutive_failures_alert_at_the_threshold);
	tcase_add_test(tc, test_breaker_open_alert_follows_the_breaker_event);
	tcase_add_test(tc, test_alerts_that_are_off_never_fire);
	tcase_add_test(tc, test_a_missing_bus_ignores_everything);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(events_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
