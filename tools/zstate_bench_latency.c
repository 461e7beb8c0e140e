/*  =========================================================================
    zstate_bench_latency - zstate bench: the paced sender and the latency histogram

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_bench.h"

#include <sys/prctl.h>
#include <time.h>

//  --------------------------------------------------------------------------
//  Latency histogram: 1 usec buckets to 10 msecs, then 100 usec buckets
//  to 10 secs, then one bucket for anything slower

void
zstate_bench_histo_init (histo_t *self, uint64_t skip)
{
    memset (self, 0, sizeof (histo_t));
    self->buckets = (uint32_t *) zmalloc (HISTO_SIZE * sizeof (uint32_t));
    assert (self->buckets);
    self->skip = skip;
}

void
zstate_bench_histo_add (histo_t *self, int64_t usecs)
{
    if (self->skip) {
        self->skip--;
        return;
    }
    if (usecs < 0)
        usecs = 0;
    size_t bucket;
    if (usecs < HISTO_FINE)
        bucket = (size_t) usecs;
    else
    if (usecs < HISTO_FINE + (int64_t) HISTO_COARSE * HISTO_STEP)
        bucket = HISTO_FINE + (size_t) ((usecs - HISTO_FINE) / HISTO_STEP);
    else
        bucket = HISTO_SIZE - 1;
    self->buckets [bucket]++;
    self->count++;
    if (usecs > self->max)
        self->max = usecs;
}

//  The value below which a fraction of samples fall, usecs
static double
s_histo_percentile (histo_t *self, double fraction)
{
    if (self->count == 0)
        return 0;
    uint64_t wanted = (uint64_t) (fraction * self->count);
    if (wanted >= self->count)
        wanted = self->count - 1;
    uint64_t seen = 0;
    for (size_t bucket = 0; bucket < HISTO_SIZE; bucket++) {
        seen += self->buckets [bucket];
        if (seen > wanted) {
            if (bucket < HISTO_FINE)
                return (double) bucket;
            else
            if (bucket < HISTO_SIZE - 1)
                return HISTO_FINE + (double) (bucket - HISTO_FINE) * HISTO_STEP;
            else
                return (double) self->max;
        }
    }
    return (double) self->max;
}

void
zstate_bench_histo_report (histo_t *self, report_t *report)
{
    if (!self->buckets)
        return;
    report->samples = self->count;
    report->p50 = s_histo_percentile (self, 0.50);
    report->p99 = s_histo_percentile (self, 0.99);
    report->p999 = s_histo_percentile (self, 0.999);
    report->max = (double) self->max;
    free (self->buckets);
    self->buckets = NULL;
}


//  --------------------------------------------------------------------------
//  Pacing at an offered rate

//  The monotonic time origin, in nsecs
int64_t
zstate_bench_pace_origin (void)
{
    //  Sleeps end as close to their deadline as the kernel allows
    prctl (PR_SET_TIMERSLACK, 1UL);
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

//  Sleep until operation index is due. When behind schedule this returns
//  at once, so the offered rate holds on average, in small bursts.
void
zstate_bench_pace_wait (int64_t origin, uint64_t index, int rate)
{
    int64_t due = origin + (int64_t) (index * (1e9 / rate));
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    //  Behind schedule: no syscall at all. clock_nanosleep on a deadline
    //  that has passed still costs ~15 usecs in this VM, which alone
    //  capped the pacer at 50,000 ops/s.
    if ((int64_t) now.tv_sec * 1000000000 + now.tv_nsec >= due)
        return;
    struct timespec wake = { (time_t) (due / 1000000000), (long) (due % 1000000000) };
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR
       &&  !zsys_interrupted)
        ;
}

//  One thread sends at the offered rate, stamping each operation
void
zstate_bench_sender_paced (sender_t *self)
{
    scenario_t *scenario = self->scenario;
    zstate_producer_t *producer = zstate_producer_new (self->client, BENCH_DB, BENCH_TABLE);
    assert (producer);
    entry_t entry;
    zstate_bench_entry_init (&entry, 2);
    int64_t origin = zstate_bench_pace_origin ();
    for (uint64_t index = 0; index < scenario->ops && !self->error; index++) {
        zstate_bench_pace_wait (origin, index, scenario->rate);
        zstate_bench_entry_fill (&entry, index);
        char stamp [24];
        *zstate_bench_put_uint (stamp, (uint64_t) zclock_usecs ()) = 0;
        while (zstate_producer_set (producer, entry.key, "nexthop", entry.nexthop,
                                    "ifname", entry.ifname, "ts", stamp, NULL))
            if (!zstate_bench_sender_retry (self))
                break;
    }
    zstate_producer_destroy (&producer);
}
