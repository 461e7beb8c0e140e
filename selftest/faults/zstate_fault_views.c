/*  =========================================================================
    zstate_fault_views - the view scenarios: restarted producers, each a
    process of its own, re-assert their table in a view; keys a complete
    view lacks go from the application's view and from Redis, nothing
    goes when the producer dies before it ends its view, and a consumer
    killed in the middle of a view takes no half of it for the whole

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"
#include "zstate_redis_server.h"
#include "zstate_fault_scenario.h"
#include "zstate_fault_producer.h"
#include <signal.h>
#include <pthread.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

#define VIEW_CONVERGE   120000  //  msecs for a view or Redis to reach the model
#define VIEW_QUIET      3000    //  msecs without a pop before the last check

//  Record in the model one round that a producer child sent: its keys
//  with k % 10 < share, the others not sent
static void
s_model_round (zstate_fault_model_t *model, size_t keys, unsigned round, unsigned share)
{
    for (size_t number = 0; number < keys; number++) {
        char key [16];
        unsigned seq;
        int64_t op = zstate_fault_model_next (model, key, &seq);
        assert (op == (int64_t) ((round - 1) * keys + number) && seq == round);
        zstate_fault_model_sent (model, op, number % 10 < share);
    }
}

//  After a step: the application's view and Redis (unless redis is NULL:
//  no persistence) must both hold exactly the model; appends what they
//  hold, prefixed with step
static bool
s_check (zstate_fault_server_t *server, zstate_fault_model_t *model, const char *redis,
         const char *step, char *line, size_t size)
{
    zstate_fault_view_t view, stored = { 0 };
    const char *dump = zstate_fault_view_settle (server, model, VIEW_CONVERGE, VIEW_QUIET,
                                                 &view);
    int rc = redis? zstate_fault_redis_settle (model, redis, VIEW_CONVERGE, &stored): 0;
    uint64_t wrong = zstate_fault_view_wrong (&view);
    uint64_t stored_wrong = redis? zstate_fault_view_wrong (&stored): 0;
    zstate_fault_append (line, size, " %s: keys=%zu view_keys=%" PRIu64 " view_wrong=%" PRIu64
                         " orphans=%" PRIu64, step, zstate_fault_model_present (model),
                         view.keys, wrong, view.extra);
    if (redis)
        zstate_fault_append (line, size, " redis_keys=%" PRIu64 " redis_wrong=%" PRIu64
                             " redis_orphans=%" PRIu64, stored.keys, stored_wrong, stored.extra);
    zstate_fault_append (line, size, ";");
    return dump && wrong == 0 && rc == 0 && stored_wrong == 0;
}

//  The level producers wait for: persisted when there is a Redis
static int
s_level (const char *redis)
{
    return redis? ZSTATE_ACK_PERSISTED: ZSTATE_ACK_DELIVERED;
}

//  Round 1 of every key, no view, by a producer child; true when view
//  and Redis then hold it
static bool
s_first (zstate_fault_server_t *server, zstate_fault_model_t *model, const char *redis,
         zstate_fault_producer_t *producer, size_t keys, char *line, size_t size)
{
    bool pass = zstate_fault_producer_run (producer, 1, 10, "none", s_level (redis)) == 0
             && zstate_fault_producer_end (producer, 0) == 0;
    s_model_round (model, keys, 1, 10);
    return pass && s_check (server, model, redis, "first", line, size);
}

//  The steps, after round 1 of every key with no view: round 2 in a view
//  of 90% of them; round 2 again for half of them in a view the producer
//  never ends (killed); round 3 in a view of 80%, which abandons the dead
//  one
static bool
s_steps (zstate_fault_server_t *server, zstate_fault_model_t *model,
         zstate_redis_server_t *store, zstate_fault_producer_t *producer, size_t keys,
         char *line, size_t size)
{
    const char *redis = store? zstate_redis_server_endpoint (store): NULL;
    int level = ZSTATE_ACK_PERSISTED;
    zstate_fault_model_begin_view (model);
    bool pass = zstate_fault_producer_run (producer, 2, 9, "view", level) == 0
             && zstate_fault_producer_end (producer, 0) == 0;
    s_model_round (model, keys, 2, 9);
    size_t dropped = zstate_fault_model_end_view (model);
    pass = pass && s_check (server, model, redis, "view_90", line, size);

    //  Killed once everything it sent is persisted: its view never ends,
    //  and the model does not change
    pass = pass && zstate_fault_producer_run (producer, 2, 5, "open", level) == 0;
    zstate_fault_producer_end (producer, SIGKILL);
    pass = pass && s_check (server, model, redis, "killed_mid_view", line, size);

    zstate_fault_model_begin_view (model);
    pass = pass && zstate_fault_producer_run (producer, 3, 8, "view", level) == 0
                && zstate_fault_producer_end (producer, 0) == 0;
    s_model_round (model, keys, 3, 8);
    dropped += zstate_fault_model_end_view (model);
    pass = pass && s_check (server, model, redis, "view_80", line, size);
    zstate_fault_append (line, size, " dropped_by_views=%zu", dropped);
    return pass;
}

//  What a scenario does once the server runs and producer's first round
//  is in
typedef bool (steps_fn) (zstate_fault_server_t *server, zstate_fault_model_t *model,
                         zstate_redis_server_t *redis, zstate_fault_producer_t *producer,
                         size_t keys, char *line, size_t size);

//  Run steps against an observer persisting into a Redis of its own (none
//  unless persisted) with a writer bound of writer_keys (0: the default),
//  with a model of rounds rounds of options->ops / 20 keys
static bool
s_run (options_t *options, steps_fn *steps, size_t rounds, bool persisted,
       size_t writer_keys, char *line, size_t size)
{
    zstate_redis_server_t *redis = NULL;
    if (persisted && !(redis = zstate_redis_server_new (false))) {
        snprintf (line, size, "cannot start redis-server: %s", zstate_reason ());
        return false;
    }
    const char *endpoint = redis? zstate_redis_server_endpoint (redis): NULL;
    size_t keys = options->ops / 20;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, keys * rounds);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER, options->dir,
                                                             endpoint);
    zstate_fault_server_set_mode (server, "view", keys);
    zstate_fault_server_set_bounds (server, 0, writer_keys);
    bool pass = false;
    line [0] = 0;
    if (zstate_fault_server_start (server) == 0) {
        zstate_fault_producer_t *producer = zstate_fault_producer_new (
            zstate_fault_server_endpoint (server), keys);
        pass = s_first (server, model, endpoint, producer, keys, line, size)
            && steps (server, model, redis, producer, keys, line, size);
        zstate_fault_producer_destroy (&producer);
        const char *dump = zstate_fault_server_dump (server);
        zstate_fault_append_windows (line, size, dump);
        if (redis)
            zstate_fault_append (line, size, " redis_sweeps=%" PRId64 " redis_swept=%" PRId64,
                                 zstate_fault_dump_counter (dump, "sweeps"),
                                 zstate_fault_dump_counter (dump, "redis_swept"));
    }
    else
        snprintf (line, size, "server did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    zstate_redis_server_destroy (&redis);
    return pass;
}

bool
zstate_fault_view (options_t *options, char *line, size_t size)
{
    return s_run (options, s_steps, 3, true, 0, line, size);
}

//  --------------------------------------------------------------------------
//  The consumer process is killed in the middle of a producer's view (its
//  BEGIN and first half delivered and persisted) and started again,
//  restored from Redis; then the producer sends the rest of its view and
//  ends it. The new instance saw no BEGIN, so the END alone must not
//  sweep; the server asks the producer for the table again (the window
//  began under the restored watermark), and its snapshot, sent once the
//  view ended, completes the replace: view and Redis = the new view

static bool
s_mid_steps (zstate_fault_server_t *server, zstate_fault_model_t *model,
             zstate_redis_server_t *store, zstate_fault_producer_t *producer, size_t keys,
             char *line, size_t size)
{
    const char *redis = store? zstate_redis_server_endpoint (store): NULL;
    int level = s_level (redis);
    zstate_fault_model_begin_view (model);
    bool pass = zstate_fault_producer_run (producer, 2, 9, "split", level) == 0;
    bool restarted = zstate_fault_server_signal (server, SIGKILL, NULL) == 0
                  && zstate_fault_server_start (server) == 0;
    pass = pass && restarted && zstate_fault_producer_resume (producer) == 0
                && zstate_fault_producer_end (producer, 0) == 0;
    s_model_round (model, keys, 2, 9);
    size_t dropped = zstate_fault_model_end_view (model);
    pass = pass && s_check (server, model, redis, "view_90", line, size);
    zstate_fault_append (line, size, " dropped_by_view=%zu restarted=%s", dropped,
                         restarted? "yes": "no");
    return pass;
}

bool
zstate_fault_mid_view (options_t *options, char *line, size_t size)
{
    return s_run (options, s_mid_steps, 2, true, 0, line, size);
}

//  The same without persistence: the new instance starts empty, and the
//  server asks the producer for the table, whose snapshot refills it
//  once the view ended: the view = the new view, no orphan

bool
zstate_fault_mid_view_bare (options_t *options, char *line, size_t size)
{
    return s_run (options, s_mid_steps, 2, false, 0, line, size);
}

//  --------------------------------------------------------------------------
//  Redis stops answering (SIGSTOP) while a restarted producer re-asserts
//  90% of its keys in a view, one operation per message, and comes back
//  once the DB writer (bound to 1,000 keys) is full and the server goes
//  on delivering the session to the consumer without it: the server
//  replays it to the writer later, and the window's END must still sweep
//  Redis once the writer has the whole view. Requires that the writer was
//  skipped and replayed to, so it cannot pass without the fault

//  What the thawing thread needs: the main thread leaves both alone
//  until it joins
typedef struct {
    zstate_fault_server_t *server;
    zstate_redis_server_t *store;
} thaw_t;

//  Thaw Redis once the server skipped the writer (or after 30 s)
static void *
s_thaw (void *arg)
{
    thaw_t *thaw = (thaw_t *) arg;
    for (int poll = 0; poll < 300; poll++) {
        zclock_sleep (100);
        if (zstate_fault_dump_counter (zstate_fault_server_dump (thaw->server),
                                       "writer_skipped") > 0)
            break;
    }
    zstate_redis_server_thaw (thaw->store);
    return NULL;
}

static bool
s_behind_steps (zstate_fault_server_t *server, zstate_fault_model_t *model,
                zstate_redis_server_t *store, zstate_fault_producer_t *producer, size_t keys,
                char *line, size_t size)
{
    const char *redis = store? zstate_redis_server_endpoint (store): NULL;
    pthread_t thread;
    thaw_t thaw = { server, store };
    bool frozen = zstate_redis_server_freeze (store) == 0;
    if (frozen && pthread_create (&thread, NULL, s_thaw, &thaw)) {
        zstate_redis_server_thaw (store);
        frozen = false;
    }
    zstate_fault_model_begin_view (model);
    bool pass = zstate_fault_producer_run (producer, 2, 9, "single", ZSTATE_ACK_PERSISTED) == 0
             && zstate_fault_producer_end (producer, 0) == 0;
    if (frozen)
        pthread_join (thread, NULL);
    s_model_round (model, keys, 2, 9);
    size_t dropped = zstate_fault_model_end_view (model);
    pass = pass && frozen && s_check (server, model, redis, "view_90", line, size);
    const char *dump = zstate_fault_server_dump (server);
    int64_t skipped = zstate_fault_dump_counter (dump, "writer_skipped");
    int64_t replayed = zstate_fault_dump_counter (dump, "replayed");
    zstate_fault_append (line, size, " dropped_by_view=%zu writer_skipped=%" PRId64
                         " replayed=%" PRId64, dropped, skipped, replayed);
    return pass && skipped > 0 && replayed > 0;
}

bool
zstate_fault_view_behind (options_t *options, char *line, size_t size)
{
    //  Enough keys to fill the writer in the quick form too
    options_t own = *options;
    if (own.ops < 200000)
        own.ops = 200000;
    return s_run (&own, s_behind_steps, 2, true, 1000, line, size);
}
