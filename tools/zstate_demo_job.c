/*  =========================================================================
    zstate_demo_job - zstate demo: the producer threads

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_demo.h"

//  The changes a producer makes
typedef enum {
    CHANGE_SET_BASE,            //  SET nexthop, ifname
    CHANGE_SET_ALT,             //  SET with the alternate nexthop
    CHANGE_HSET_WEIGHT,         //  HSET weight
    CHANGE_HSET_PORTCHAN,       //  HSET ifname PortChannel
    CHANGE_DEL                  //  DEL
} change_t;

//  --------------------------------------------------------------------------
//  Producer side: send one change, waiting while the client queue is full.
//  Returns 0, or -1 with the failure recorded in the job.

static int
s_job_send (job_t *job, zstate_producer_t *producer, change_t change, uint32_t route)
{
    char key [32], nexthop [32], ifname [32], weight [8];
    zstate_demo_route_key (route, key, sizeof (key));
    zstate_demo_route_nexthop (route, change == CHANGE_SET_ALT, nexthop, sizeof (nexthop));
    zstate_demo_route_ifname (route, change == CHANGE_HSET_PORTCHAN, ifname, sizeof (ifname));
    zstate_demo_route_weight (route, weight, sizeof (weight));
    while (true) {
        int rc;
        if (change == CHANGE_SET_BASE || change == CHANGE_SET_ALT)
            rc = zstate_producer_set (producer, key, "nexthop", nexthop, "ifname", ifname, NULL);
        else
        if (change == CHANGE_HSET_WEIGHT)
            rc = zstate_producer_hset (producer, key, "weight", weight, NULL);
        else
        if (change == CHANGE_HSET_PORTCHAN)
            rc = zstate_producer_hset (producer, key, "ifname", ifname, NULL);
        else
            rc = zstate_producer_del (producer, key);
        if (rc == 0)
            return 0;
        if (errno != ENOBUFS || *job->stop) {
            job->error = *job->stop && errno == ENOBUFS? EINTR: errno;
            snprintf (job->reason, sizeof (job->reason), "%s", zstate_reason ());
            return -1;
        }
        //  The queue is bounded and pushes back: give the agent a moment
        job->retries++;
        zclock_sleep (1);
    }
}

//  The changes route i gets after its first SET, in order
static int
s_job_change (job_t *job, zstate_producer_t *producer, uint32_t route)
{
    int rc = 0;
    if (route % 100 == 9)
        rc = s_job_send (job, producer, CHANGE_SET_ALT, route);
    if (rc == 0 && route % 10 == 3)
        rc = s_job_send (job, producer, CHANGE_HSET_WEIGHT, route);
    if (rc == 0 && route % 25 == 4)
        rc = s_job_send (job, producer, CHANGE_HSET_PORTCHAN, route);
    if (rc == 0 && route % 1000 == 21) {
        rc = s_job_send (job, producer, CHANGE_DEL, route);
        if (rc == 0)
            rc = s_job_send (job, producer, CHANGE_SET_BASE, route);
    }
    if (rc == 0 && route % 50 == 7)
        rc = s_job_send (job, producer, CHANGE_DEL, route);
    return rc;
}

static void *
s_producer_thread (void *args)
{
    job_t *job = (job_t *) args;
    //  A producer table belongs to one thread: each thread makes its own
    zstate_producer_t *producer = zstate_producer_new (job->client, DEMO_DB, DEMO_TABLE);
    assert (producer);
    uint32_t count = job->first < job->routes?
                     (job->routes - job->first + job->step - 1) / job->step: 0;
    for (uint32_t position = 0; position < count + LAG; position++) {
        if (*job->stop) {
            job->error = EINTR;
            snprintf (job->reason, sizeof (job->reason), "stopped");
            break;
        }
        if (position < count
        &&  s_job_send (job, producer, CHANGE_SET_BASE, job->first + position * job->step))
            break;
        if (position >= LAG
        &&  s_job_change (job, producer, job->first + (position - LAG) * job->step))
            break;
    }
    zstate_producer_destroy (&producer);
    return NULL;
}



//  --------------------------------------------------------------------------
//  The threads, one per job

void
zstate_demo_jobs_start (demo_t *demo)
{
    int threads = demo->options.threads;
    demo->jobs = (job_t *) zmalloc (sizeof (job_t) * threads);
    assert (demo->jobs);
    for (int index = 0; index < threads; index++) {
        job_t *job = &demo->jobs [index];
        job->client = demo->client;
        job->first = (uint32_t) index;
        job->step = (uint32_t) threads;
        job->routes = demo->options.routes;
        job->stop = &demo->stop;
        int rc = pthread_create (&job->thread, NULL, s_producer_thread, job);
        assert (rc == 0);
        demo->jobs_started++;
    }
}

void
zstate_demo_jobs_stop (demo_t *demo)
{
    demo->stop = 1;
    for (int index = 0; index < demo->jobs_started; index++)
        pthread_join (demo->jobs [index].thread, NULL);
    demo->jobs_started = 0;
}
