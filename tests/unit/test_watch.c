/* Unit tests for the watch hub: exact and prefix waiters fire only for
 * matching keys, once, and removal/re-adding behave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "watch.h"

static int fired[8];

static void on_fire(struct watch_waiter *w)
{
    fired[(intptr_t)w->data]++;
}

static void setup_waiter(struct watch_waiter *w, intptr_t id)
{
    memset(w, 0, sizeof *w);
    w->cb = on_fire;
    w->data = (void *)id;
}

static void exact_waiter_fires_only_for_its_key(void **state)
{
    (void)state;
    memset(fired, 0, sizeof fired);
    struct watch_hub *h = watch_hub_new();
    struct watch_waiter a;
    setup_waiter(&a, 0);
    assert_int_equal(watch_add(h, "foo", false, &a), 0);
    watch_notify(h, "foobar");
    watch_notify(h, "fo");
    assert_int_equal(fired[0], 0);
    assert_int_equal(watch_count(h), 1);
    watch_notify(h, "foo");
    assert_int_equal(fired[0], 1);
    assert_int_equal(watch_count(h), 0);
    watch_notify(h, "foo"); /* fired once, then gone */
    assert_int_equal(fired[0], 1);
    watch_hub_free(h);
}

static void prefix_waiter_fires_for_keys_under_it(void **state)
{
    (void)state;
    memset(fired, 0, sizeof fired);
    struct watch_hub *h = watch_hub_new();
    struct watch_waiter a, b, all;
    setup_waiter(&a, 0);
    setup_waiter(&b, 1);
    setup_waiter(&all, 2);
    watch_add(h, "web/", true, &a);
    watch_add(h, "db/", true, &b);
    watch_add(h, "", true, &all);
    watch_notify(h, "web"); /* not under "web/" */
    assert_int_equal(fired[0], 0);
    assert_int_equal(fired[2], 1); /* "" matches everything */
    watch_notify(h, "web/a/b");
    assert_int_equal(fired[0], 1);
    assert_int_equal(fired[1], 0);
    assert_int_equal(watch_count(h), 1);
    watch_hub_free(h);
}

static void removed_waiter_never_fires(void **state)
{
    (void)state;
    memset(fired, 0, sizeof fired);
    struct watch_hub *h = watch_hub_new();
    struct watch_waiter a, b;
    setup_waiter(&a, 0);
    setup_waiter(&b, 1);
    watch_add(h, "k", false, &a);
    watch_add(h, "k", false, &b);
    watch_remove(&a);
    watch_remove(&a); /* twice is a no-op */
    watch_notify(h, "k");
    assert_int_equal(fired[0], 0);
    assert_int_equal(fired[1], 1);
    assert_int_equal(watch_count(h), 0);
    watch_hub_free(h);
}

static struct watch_hub *readd_hub;
static void readd_fire(struct watch_waiter *w)
{
    fired[0]++;
    watch_add(readd_hub, "k", false, w);
}

static void callback_may_readd_to_same_topic(void **state)
{
    (void)state;
    memset(fired, 0, sizeof fired);
    readd_hub = watch_hub_new();
    struct watch_waiter a = {.cb = readd_fire};
    watch_add(readd_hub, "k", false, &a);
    watch_notify(readd_hub, "k");
    assert_int_equal(fired[0], 1); /* not re-fired by the same notify */
    assert_int_equal(watch_count(readd_hub), 1);
    watch_notify(readd_hub, "k");
    assert_int_equal(fired[0], 2);
    watch_remove(&a);
    watch_hub_free(readd_hub);
}

static void many_waiters_on_other_topics_are_untouched(void **state)
{
    (void)state;
    enum { N = 5000 };
    static struct watch_waiter ws[N];
    memset(fired, 0, sizeof fired);
    struct watch_hub *h = watch_hub_new();
    char topic[32];
    for (int i = 0; i < N; i++) {
        setup_waiter(&ws[i], i == 1234 ? 1 : 0);
        snprintf(topic, sizeof topic, "svc/%d", i);
        assert_int_equal(watch_add(h, topic, false, &ws[i]), 0);
    }
    watch_notify(h, "svc/1234");
    assert_int_equal(fired[1], 1);
    assert_int_equal(fired[0], 0);
    assert_int_equal(watch_count(h), N - 1);
    watch_hub_free(h); /* detaches the rest without firing */
    assert_int_equal(fired[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_waiter_fires_only_for_its_key),
        cmocka_unit_test(prefix_waiter_fires_for_keys_under_it),
        cmocka_unit_test(removed_waiter_never_fires),
        cmocka_unit_test(callback_may_readd_to_same_topic),
        cmocka_unit_test(many_waiters_on_other_topics_are_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
