/*  =========================================================================
    zstate_demo_app - zstate demo: the application, its table and its progress display

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_demo.h"

//  --------------------------------------------------------------------------
//  Progress: a bar rewritten in place on a terminal, a line a second
//  otherwise. Persisted counts what Redis confirmed, coalesced included
//  (an operation merged into a newer one is in Redis through it).

static uint64_t
s_persisted (zstate_writer_t *writer)
{
    zstate_writer_stats_t stats;
    if (zstate_writer_stats (writer, &stats))
        return 0;
    return stats.written + stats.coalesced + stats.failed;
}

void
zstate_demo_app_progress (app_t *self, bool final)
{
    int64_t now = zclock_usecs ();
    zstate_client_stats_t client_stats;
    zstate_client_stats (self->client, &client_stats);
    uint64_t persisted = s_persisted (self->writer);
    double interval = (now - self->last_print) / 1e6;
    //  The rate of the slowest stage that still has work
    uint64_t done = self->popped < self->expected? self->popped: persisted;
    uint64_t before = self->popped < self->expected? self->last_popped: self->last_persisted;
    double rate = interval > 0? (done - before) / interval: 0;
    self->last_print = now;
    self->last_popped = self->popped;
    self->last_persisted = persisted;
    if (self->quiet)
        return;

    char sent_text [32], popped_text [32], persisted_text [32], rate_text [32];
    zstate_demo_commas (client_stats.ops_accepted, sent_text, sizeof (sent_text));
    zstate_demo_commas (self->popped, popped_text, sizeof (popped_text));
    zstate_demo_commas (persisted, persisted_text, sizeof (persisted_text));
    zstate_demo_commas ((uint64_t) rate, rate_text, sizeof (rate_text));
    double fraction = self->expected? (double) persisted / self->expected: 1;
    if (fraction > 1)
        fraction = 1;
    if (self->tty) {
        char bar [31];
        int filled = (int) (fraction * 30);
        for (int index = 0; index < 30; index++)
            bar [index] = index < filled? '#': '.';
        bar [30] = 0;
        printf ("\r[%s] %3d%%  sent %s  popped %s  persisted %s  %s ops/s   ",
                bar, (int) (fraction * 100), sent_text, popped_text, persisted_text,
                rate_text);
        if (final)
            printf ("\n");
    }
    else
        printf ("progress: %3d%%  sent %s  popped %s  persisted %s  %s ops/s\n",
                (int) (fraction * 100), sent_text, popped_text, persisted_text,
                rate_text);
    fflush (stdout);
}

//  Give up when neither pops nor Redis moved for timeout seconds
bool
zstate_demo_app_stuck (app_t *self, uint64_t persisted)
{
    uint64_t seen = self->popped + persisted;
    int64_t now = zclock_mono ();
    if (seen != self->last_seen) {
        self->last_seen = seen;
        self->last_change = now;
        return false;
    }
    return now - self->last_change > (int64_t) self->timeout * 1000;
}


//  --------------------------------------------------------------------------
//  Application side: apply one popped operation to our copy of the table

static void
s_app_apply (app_t *self, size_t index)
{
    zstate_batch_t *batch = self->batch;
    int64_t route = zstate_demo_route_parse (zstate_batch_key (batch, index, NULL), self->routes);
    if (route < 0) {
        self->strange++;
        return;
    }
    int op = zstate_batch_op (batch, index);
    byte state = self->table [route];
    if (op == ZSTATE_OP_DEL)
        state = 0;
    else {
        if (op == ZSTATE_OP_SET)
            state = 0;          //  SET replaces the whole entry
        state |= ROUTE_EXISTS;
        size_t fields = zstate_batch_field_count (batch, index);
        for (size_t field = 0; field < fields; field++)
            state = zstate_demo_route_field ((uint32_t) route, state,
                                   zstate_batch_name (batch, index, field, NULL),
                                   zstate_batch_value (batch, index, field, NULL));
    }
    self->table [route] = state;
}

static int
s_app_ready (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    app_t *self = (app_t *) arg;
    size_t count = zstate_consumer_pops (self->consumer, self->batch, POP_BATCH);
    for (size_t index = 0; index < count; index++)
        s_app_apply (self, index);
    self->popped += count;
    if (self->popped >= self->expected) {
        self->last_pop = zclock_usecs ();
        return -1;              //  Everything arrived: end the loop
    }
    return 0;                   //  The socket stays readable while more remain
}

static int
s_app_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    app_t *self = (app_t *) arg;
    zstate_demo_app_progress (self, false);
    if (zstate_demo_app_stuck (self, self->last_persisted)) {
        self->stalled = true;
        return -1;
    }
    return 0;
}



//  --------------------------------------------------------------------------
//  The application's loop, then the wait for Redis

//  Wait for Redis to confirm everything popped, still showing progress
static void
s_app_flush (demo_t *demo)
{
    app_t *app = &demo->app;
    while (!zsys_interrupted) {
        if (zstate_writer_flush (demo->writer, app->tty? 100: 1000) == 0) {
            demo->flushed = true;
            break;
        }
        if (errno != ETIMEDOUT) {
            fprintf (stderr, "\nzstate demo: writer flush failed: %s\n", zstate_reason ());
            break;
        }
        zstate_demo_app_progress (app, false);
        if (zstate_demo_app_stuck (app, app->last_persisted)) {
            app->stalled = true;
            break;
        }
    }
}

int
zstate_demo_app_run (demo_t *demo)
{
    app_t *app = &demo->app;
    //  NULL with EMFILE when the process is out of sockets
    zsock_t *socket = zstate_consumer_socket (demo->consumer);
    if (!socket) {
        fprintf (stderr, "zstate demo: cannot poll the consumer table: %s\n",
                 zstate_reason ());
        return -1;
    }
    zloop_t *loop = zloop_new ();
    assert (loop);
    zloop_reader (loop, socket, s_app_ready, app);
    zloop_timer (loop, app->tty? 100: 1000, 0, s_app_tick, app);
    zloop_start (loop);
    zloop_destroy (&loop);
    if (app->popped >= app->expected)
        s_app_flush (demo);
    demo->finished = zclock_usecs ();
    zstate_demo_app_progress (app, true);
    return 0;
}
