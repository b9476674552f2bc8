/*
 * dest_window.c - the concurrency window of one destination, as Postfix's queue manager
 * keeps it with its default feedback (1/concurrency either way; doc/queue.md).
 *
 * A destination starts with initial_destination_concurrency deliveries at once. Each
 * delivery that reached the destination is a success: after as many successes as the window
 * is wide, the window grows by one, up to the destination's concurrency limit. Each delivery
 * that could not reach it (no connection, no greeting: the agent says so) is a failure: as
 * many failures in a row as the window is wide make a failed cohort, and the window shrinks
 * by one. After failed_cohort_limit cohorts with no success between them the destination is
 * dead: nothing more is tried until dest_window_revive, which starts it over. A window
 * that counts failures is to be kept while its destination is idle (dest_window_remembers).
 *
 * Trusts: its caller for the limits (each at least 1).
 */
#include "mail/dest_window.h"

void
dest_window_init(struct dest_window *w, long initial, long limit, long cohort_limit)
{
    w->initial = initial;
    w->limit = limit;
    w->cohort_limit = cohort_limit;
    dest_window_revive(w);
}

/* dest_window_revive - start over, as a destination seen for the first time */
void
dest_window_revive(struct dest_window *w)
{
    w->size = w->initial < w->limit ? w->initial : w->limit;
    w->wins = w->losses = w->cohorts = 0;
}

void
dest_window_success(struct dest_window *w)
{
    if (dest_window_dead(w))
        return;
    w->losses = w->cohorts = 0;
    if (++w->wins >= w->size) {
        w->wins = 0;
        if (w->size < w->limit)
            w->size++;
    }
}

/* dest_window_failure - one delivery that could not reach the destination; true when that
 * made the destination dead */
bool
dest_window_failure(struct dest_window *w)
{
    if (dest_window_dead(w))
        return false;
    w->wins = 0;
    if (++w->losses < w->size)
        return false;
    w->losses = 0;
    if (++w->cohorts >= w->cohort_limit) {
        w->size = 0;
        return true;
    }
    if (w->size > 1)
        w->size--;
    return false;
}

bool
dest_window_dead(const struct dest_window *w)
{
    return w->size == 0;
}

/* dest_window_remembers - failures are counted: the destination must not be forgotten
 * while idle, or the next delivery would start over as if nothing had failed */
bool
dest_window_remembers(const struct dest_window *w)
{
    return dest_window_dead(w) || w->losses > 0 || w->cohorts > 0;
}
