/* mail_dest_window.c - a destination's concurrency window: slow start, feedback, death */
#include "mail/dest_window.h"
#include "t/tap.h"

/* successes - n deliveries that reached the destination */
static void
successes(struct dest_window *w, int n)
{
    while (n-- > 0)
        dest_window_success(w);
}

/* failures - n that did not; how many of them found the destination dead at once */
static int
failures(struct dest_window *w, int n)
{
    int deaths = 0;

    while (n-- > 0)
        deaths += dest_window_failure(w);
    return deaths;
}

static void
test_slow_start(void)
{
    struct dest_window w;

    dest_window_init(&w, 5, 20, 1);
    ok(w.size == 5, "a new destination starts at initial_destination_concurrency");
    successes(&w, 4);
    ok(w.size == 5, "four successes: still 5");
    successes(&w, 1);
    ok(w.size == 6, "a window's worth of successes: one more");
    successes(&w, 6 + 7 + 8);
    ok(w.size == 9, "and so on, one per window's worth");
    successes(&w, 1000);
    ok(w.size == 20, "never past the destination's concurrency limit");
    dest_window_init(&w, 5, 2, 1);
    ok(w.size == 2, "a limit below the initial concurrency wins from the start");
}

static void
test_failures(void)
{
    struct dest_window w;

    dest_window_init(&w, 5, 20, 1);
    ok(!dest_window_remembers(&w), "nothing failed: nothing to remember");
    ok(failures(&w, 4) == 0 && !dest_window_dead(&w), "four failures of five: alive");
    ok(dest_window_remembers(&w), "  but remembered while idle");
    successes(&w, 1);
    ok(failures(&w, 4) == 0 && !dest_window_dead(&w), "a success starts the count over");
    ok(failures(&w, 1) == 1 && dest_window_dead(&w) && w.size == 0,
       "a whole cohort failed (failed_cohort_limit 1): dead, nothing runs");
    ok(failures(&w, 3) == 0, "more failures of deliveries already running: dead once");
    successes(&w, 10);
    ok(dest_window_dead(&w), "a late success does not raise the dead");
    dest_window_revive(&w);
    ok(w.size == 5 && !dest_window_dead(&w) && !dest_window_remembers(&w),
       "revived: initial concurrency again, nothing remembered");

    dest_window_init(&w, 4, 20, 3);
    ok(failures(&w, 4) == 0 && w.size == 3, "cohort limit 3: a failed cohort shrinks the window");
    ok(failures(&w, 3) == 0 && w.size == 2, "  and another");
    ok(failures(&w, 2) == 1 && dest_window_dead(&w), "  the third kills it");
    dest_window_init(&w, 1, 20, 2);
    ok(failures(&w, 1) == 0 && w.size == 1, "a window of one never shrinks below one");
    ok(failures(&w, 1) == 1, "  and dies after its cohort limit");
}

int
main(void)
{
    test_slow_start();
    test_failures();
    return done_testing();
}
