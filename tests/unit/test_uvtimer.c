/* uvtimer_close: a running timer stops, and its owner's reference goes only once closed */
#include "common/uvtimer.h"
#include "test_util.h"

typedef struct Owner {
    int refs, fired;
    uv_timer_t timer;
} Owner;

static void unref(void *p)
{
    ((Owner *)p)->refs--;
}

static void fire(uv_timer_t *t)
{
    ((Owner *)t->data)->fired++;
}

static void test_close_stops_and_drops_the_timers_reference_when_closed(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    Owner o = {.refs = 2};
    uv_timer_init(&loop, &o.timer);
    o.timer.data = &o;
    uv_timer_start(&o.timer, fire, 0, 1);
    uvtimer_close(&o.timer, unref);
    assert_int_equal(o.refs, 2); /* not before libuv has closed the handle */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(o.refs, 1);
    assert_int_equal(o.fired, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_stops_and_drops_the_timers_reference_when_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
