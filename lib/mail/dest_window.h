/* dest_window.h - how many deliveries to one destination may run at once: slow start,
 * feedback and the dead-destination memory */
#ifndef MAIL_DEST_WINDOW_H
#define MAIL_DEST_WINDOW_H

#include <stdbool.h>

struct dest_window {
    long size;         /* deliveries that may run at once; 0 while the destination is dead */
    long initial;      /* initial_destination_concurrency */
    long limit;        /* <transport>_destination_concurrency_limit */
    long cohort_limit; /* <transport>_destination_concurrency_failed_cohort_limit */
    long wins;         /* successes since the window last grew */
    long losses;       /* failures since the window last shrank */
    long cohorts;      /* failed cohorts since the last success */
};

void dest_window_init(struct dest_window *w, long initial, long limit, long cohort_limit);
void dest_window_success(struct dest_window *w);
bool dest_window_failure(struct dest_window *w);
void dest_window_revive(struct dest_window *w);
bool dest_window_dead(const struct dest_window *w);
bool dest_window_remembers(const struct dest_window *w);

#endif
