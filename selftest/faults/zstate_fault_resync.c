/*  =========================================================================
    zstate_fault_resync - the state resync scenarios where a consumer or
    Redis comes back empty, or a consumer comes late: the producer's
    mirror, sent as a snapshot, must make the table whole again

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"
#include "zstate_redis_server.h"
#include "zstate_fault_scenario.h"
#include "zstate_fault_stream.h"
#include "zstate_relay.h"
#include <signal.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

#define RESYNC_FLUSH    60000   //  msecs for the client to hand everything over
#define RESYNC_CONVERGE 120000  //  msecs for a view or Redis to reach the model
#define RESYNC_QUIET    2000    //  msecs without a pop before the last check
#define RESYNC_PACE     20000   //  operations per second of a paced stream
#define RESYNC_DELS     10      //  percent of the operations that are DELs
#define LATE_RUNS       100     //  small late joins
#define LATE_KEYS       200     //  ... of this many keys
#define LATE_QUIET      200
#define LATE_CUTS       5       //  TCP resets right after registration
#define LATE_LINK       2000    //  msecs a cut waits for the link to come back

//  --------------------------------------------------------------------------
//  The checks the scenarios share

const char *
zstate_fault_view_settle (zstate_fault_server_t *server, zstate_fault_model_t *model,
                          int msecs, int quiet, zstate_fault_view_t *view)
{
    memset (view, 0, sizeof (*view));
    int64_t deadline = zclock_mono () + msecs;
    int pause = 20;
    while (true) {
        const char *dump = zstate_fault_server_dump (server);
        if (dump && zstate_fault_model_check_view (model, dump, view) == 0
        &&  zstate_fault_view_wrong (view) == 0)
            break;
        if (zclock_mono () >= deadline)
            break;
        zclock_sleep (pause);
        pause = pause < 250? pause * 2: 250;
    }
    //  Then nothing more may change it
    size_t popped = zstate_fault_server_popped (server);
    int64_t changed = zclock_mono ();
    while (zclock_mono () - changed < quiet && zclock_mono () < deadline + quiet) {
        zclock_sleep (quiet < 500? quiet / 4 + 1: 100);
        size_t now = zstate_fault_server_popped (server);
        if (now != popped)
            changed = zclock_mono ();
        popped = now;
    }
    const char *dump = zstate_fault_server_dump (server);
    if (!dump || zstate_fault_model_check_view (model, dump, view)) {
        memset (view, 0, sizeof (*view));
        return NULL;
    }
    return dump;
}

int
zstate_fault_redis_settle (zstate_fault_model_t *model, const char *endpoint, int msecs,
                           zstate_fault_view_t *view)
{
    int64_t deadline = zclock_mono () + msecs;
    int rc;
    while ((rc = zstate_fault_model_check_redis_view (model, endpoint, ZSTATE_FAULT_TABLE, view))
               || zstate_fault_view_wrong (view)) {
        if (zclock_mono () >= deadline)
            break;
        zclock_sleep (250);
    }
    return rc;
}

int64_t
zstate_fault_dump_counter (const char *path, const char *name)
{
    FILE *file = path? fopen (path, "r"): NULL;
    char line [1024] = "";
    if (file) {
        if (!fgets (line, sizeof (line), file))
            line [0] = 0;
        fclose (file);
    }
    char *pattern = zsys_sprintf (" %s=", name);
    const char *found = line [0] == 'S'? strstr (line, pattern): NULL;
    int64_t value = found? strtoll (found + strlen (pattern), NULL, 10): -1;
    zstr_free (&pattern);
    return value;
}

void
zstate_fault_append_view (char *line, size_t size, const char *what, zstate_fault_view_t *view)
{
    zstate_fault_append (line, size, " %s_keys=%" PRIu64 " %s_missing=%" PRIu64
                         " %s_extra=%" PRIu64 " %s_stale=%" PRIu64, what, view->keys,
                         what, view->missing, what, view->extra, what, view->stale);
}

zstate_fault_stream_t *
zstate_fault_mirrored_stream (const char *endpoint, zstate_fault_model_t *model, size_t keys,
                              int rate)
{
    zstate_fault_stream_t *stream = zstate_fault_stream_new (endpoint, model);
    if (stream && zstate_producer_set_mirror (zstate_fault_stream_producer (stream), keys)) {
        zsys_error ("zstate_faults: mirror: %s", zstate_reason ());
        zstate_fault_stream_destroy (&stream);
    }
    if (stream)
        zstate_fault_stream_set (stream, rate, 10000, 0);
    return stream;
}

//  The pop log's checks that still hold with snapshots: within an
//  instance no key goes back, and every line names an operation sent.
//  A snapshot sends what the application holds again, so duplicates are
//  reported, not failed
static bool
s_log_holds (zstate_fault_server_t *server, zstate_fault_model_t *model,
             char *line, size_t size)
{
    zstate_fault_result_t result;
    if (zstate_fault_model_check_log (model, zstate_fault_server_log (server), &result)) {
        zstate_fault_append (line, size, " pop_log=unreadable");
        return false;
    }
    zstate_fault_append (line, size, " popped=%" PRIu64 " regressions=%" PRIu64 " unknown=%"
                         PRIu64 " resent=%" PRIu64 " instances=%" PRIu64, result.popped,
                         result.regressions, result.unknown, result.duplicates,
                         result.instances);
    return result.regressions == 0 && result.unknown == 0;
}

void
zstate_fault_append_client (char *line, size_t size, zstate_client_t *client)
{
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    zstate_fault_append (line, size, " resyncs=%" PRIu64 " snapshots=%" PRIu64
                         " snapshot_entries=%" PRIu64, stats.resyncs, stats.snapshots,
                         stats.snapshot_entries);
}

void
zstate_fault_append_windows (char *line, size_t size, const char *dump)
{
    zstate_fault_append (line, size, " windows=%" PRId64 "/%" PRId64 " abandoned=%" PRId64
                         " swept=%" PRId64,
                         zstate_fault_dump_counter (dump, "windows_completed"),
                         zstate_fault_dump_counter (dump, "windows"),
                         zstate_fault_dump_counter (dump, "windows_abandoned"),
                         zstate_fault_dump_counter (dump, "swept"));
}

//  What consumer-restart and redis-lost run on: the model (10% DELs), an
//  observer keeping its view (persisted into redis unless NULL), and a
//  paced stream mirroring every key
typedef struct {
    zstate_fault_model_t *model;
    zstate_fault_server_t *server;
    zstate_fault_stream_t *stream;
} rig_t;

//  Start the rig; false (with the rig to destroy still) when it did not
static bool
s_rig_start (rig_t *rig, options_t *options, size_t keys, size_t ops, const char *redis)
{
    rig->model = zstate_fault_model_new (keys, ops);
    zstate_fault_model_set_dels (rig->model, RESYNC_DELS);
    rig->server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER, options->dir, redis);
    zstate_fault_server_set_mode (rig->server, "view", keys);
    rig->stream = NULL;
    if (zstate_fault_server_start (rig->server) == 0)
        rig->stream = zstate_fault_mirrored_stream (zstate_fault_server_endpoint (rig->server),
                                                    rig->model, keys, RESYNC_PACE);
    return rig->stream != NULL;
}

static void
s_rig_destroy (rig_t *rig)
{
    zstate_fault_stream_destroy (&rig->stream);
    zstate_fault_server_destroy (&rig->server);
    zstate_fault_model_destroy (&rig->model);
}

//  Once the stream is over: wait for the observer's view to reach the
//  model, then write the verdict's figures into line. Returns the last
//  dump when the view equals the model and the pop log holds, else NULL
static const char *
s_final (rig_t *rig, char *line, size_t size)
{
    zstate_fault_view_t view;
    const char *dump = zstate_fault_view_settle (rig->server, rig->model, RESYNC_CONVERGE,
                                                 RESYNC_QUIET, &view);
    snprintf (line, size, "accepted=%" PRIu64 " expected_keys=%zu",
              zstate_fault_model_accepted (rig->model), zstate_fault_model_present (rig->model));
    zstate_fault_append_view (line, size, "view", &view);
    bool held = s_log_holds (rig->server, rig->model, line, size);
    zstate_fault_append_windows (line, size, dump);
    zstate_fault_append_client (line, size, zstate_fault_stream_client (rig->stream));
    return dump && zstate_fault_view_wrong (&view) == 0 && held? dump: NULL;
}

//  --------------------------------------------------------------------------
//  The consumer process is killed (SIGKILL) three times and started
//  again, with no persistence: twice mid-stream, and once after the
//  stream ended and everything was acknowledged, so that the last
//  instance, which starts empty, gets its table from nothing but the
//  producer's mirror (and a few live writes meanwhile). DELs included

//  The stream in three parts with a fault after each, the last once
//  everything was acknowledged, and a quarter of the keys written while
//  the table comes back; fault says whether it took place. Returns the
//  last dump when the view ends equal to the model, every fault took
//  place and the pop log holds, else NULL; line gets the figures
typedef bool (fault_fn) (rig_t *rig);

static const char *
s_thrice (options_t *options, rig_t *rig, fault_fn *fault, const char *what,
          char *line, size_t size)
{
    size_t keys = 1000, total = options->ops;
    if (!s_rig_start (rig, options, keys, total + keys / 4, NULL)) {
        snprintf (line, size, "server or producer did not start: %s", strerror (errno));
        return NULL;
    }
    zstate_client_t *client = zstate_fault_stream_client (rig->stream);
    zstate_fault_stream_run (rig->stream, total / 3, 0);
    int faults = fault (rig);
    zstate_fault_stream_run (rig->stream, total / 3, 0);
    faults += fault (rig);
    zstate_fault_stream_run (rig->stream, total - 2 * (total / 3), 0);
    bool flushed = zstate_client_flush (client, RESYNC_FLUSH) == 0;
    faults += fault (rig);
    zstate_fault_stream_run (rig->stream, keys / 4, 0);
    zstate_client_flush (client, RESYNC_FLUSH);
    const char *dump = s_final (rig, line, size);
    zstate_fault_append (line, size, " %s=%d", what, faults);
    return faults == 3 && flushed? dump: NULL;
}

//  Kill the observer and start it again; true when it started
static bool
s_restart (rig_t *rig)
{
    zstate_fault_stream_fault (rig->stream);
    zstate_fault_server_signal (rig->server, SIGKILL, NULL);
    return zstate_fault_server_start (rig->server) == 0;
}

bool
zstate_fault_consumer_restart (options_t *options, char *line, size_t size)
{
    rig_t rig;
    bool pass = s_thrice (options, &rig, s_restart, "restarts", line, size) != NULL;
    s_rig_destroy (&rig);
    return pass;
}

//  --------------------------------------------------------------------------
//  Redis is killed (SIGKILL) three times and started again without
//  persistence, empty: twice mid-stream, and once after it held the whole
//  model, so that only the producer's mirror can refill it. The writer
//  must see each loss, and Redis end with exactly the model's keys

bool
zstate_fault_redis_lost (options_t *options, char *line, size_t size)
{
    zstate_redis_server_t *redis = zstate_redis_server_new (false);
    if (!redis) {
        snprintf (line, size, "cannot start redis-server: %s", zstate_reason ());
        return false;
    }
    const char *endpoint = zstate_redis_server_endpoint (redis);
    size_t keys = 1000, total = options->ops;
    rig_t rig;
    bool pass = false;
    if (s_rig_start (&rig, options, keys, total + keys / 4, endpoint)) {
        zstate_fault_stream_t *stream = rig.stream;
        zstate_client_t *client = zstate_fault_stream_client (stream);
        zstate_fault_view_t view, stored;
        int restarts = 0;
        for (int kill = 0; kill < 2; kill++) {
            zstate_fault_stream_run (stream, total / 3, 0);
            zstate_redis_server_kill (redis);
            restarts += zstate_redis_server_start (redis) == 0;
        }
        zstate_fault_stream_run (stream, total - 2 * (total / 3), 0);
        zstate_client_flush (client, RESYNC_FLUSH);
        int rc = zstate_fault_redis_settle (rig.model, endpoint, RESYNC_CONVERGE, &stored);
        bool whole = rc == 0 && zstate_fault_view_wrong (&stored) == 0;
        zstate_redis_server_kill (redis);
        restarts += zstate_redis_server_start (redis) == 0;
        zstate_fault_stream_run (stream, keys / 4, 0);
        zstate_client_flush (client, RESYNC_FLUSH);
        const char *dump = zstate_fault_view_settle (rig.server, rig.model, RESYNC_CONVERGE,
                                                     RESYNC_QUIET, &view);
        rc = zstate_fault_redis_settle (rig.model, endpoint, RESYNC_CONVERGE, &stored);
        int64_t lost = zstate_fault_dump_counter (dump, "redis_lost");
        snprintf (line, size, "accepted=%" PRIu64 " expected_keys=%zu whole_before=%s",
                  zstate_fault_model_accepted (rig.model),
                  zstate_fault_model_present (rig.model), whole? "yes": "no");
        zstate_fault_append_view (line, size, "redis", &stored);
        zstate_fault_append_view (line, size, "view", &view);
        zstate_fault_append (line, size, " redis_lost=%" PRId64 " redis_sweeps=%" PRId64
                             " redis_swept=%" PRId64 " restarts=%d", lost,
                             zstate_fault_dump_counter (dump, "sweeps"),
                             zstate_fault_dump_counter (dump, "redis_swept"), restarts);
        zstate_fault_append_client (line, size, client);
        pass = whole && rc == 0 && zstate_fault_view_wrong (&stored) == 0
            && dump && zstate_fault_view_wrong (&view) == 0 && lost == 3 && restarts == 3;
    }
    else
        snprintf (line, size, "server or producer did not start: %s", strerror (errno));
    s_rig_destroy (&rig);
    zstate_redis_server_destroy (&redis);
    return pass;
}

//  --------------------------------------------------------------------------
//  A consumer that registers late must get the whole table. One run takes
//  its steps in the order given: 's' the server starts with its table,
//  'S' without it, 'C' the table registers, 'P' the producer connects and
//  writes the first part of the stream; then the rest of the stream goes
//  out, and the view must converge to the model

static const char *s_orders [] = { "sP", "Ps", "SPC", "PSC", "SCP" };
#define ORDERS  (sizeof (s_orders) / sizeof (s_orders [0]))
//  With cuts, the orders where the producer is connected when the table
//  registers, so that every cut can hit the RESYNC in flight
static const char *s_cut_orders [] = { "SPC", "PSC" };

//  Reset the relay's connections count times, each once the client is
//  connected through it again (bounded)
static void
s_cut (zstate_relay_t *relay, int count)
{
    while (relay && count--) {
        zstate_relay_stats_t stats = { 0 };
        int64_t deadline = zclock_mono () + LATE_LINK;
        while (zclock_mono () < deadline
           &&  zstate_relay_stats (relay, &stats) == 0 && stats.open == 0)
            zclock_sleep (5);
        zstate_relay_cut (relay);
    }
}

typedef struct {
    size_t keys;
    size_t ops;
    size_t first;               //  operations before the rest
                                //  (ops - first of them)
    int delay;                  //  msecs between the first part and 'C'
    int rate;                   //  of the rest, 0 full rate
    int quiet;
    int cuts;                   //  TCP resets right after 'C', through a relay
    int64_t window_ms;          //  out: the observer's first window
    char client [128];          //  out: the client's resync counters
} late_t;

//  One late join; true when the view converged to the model
static bool
s_late_run (options_t *options, const char *order, late_t *late, zstate_fault_view_t *view)
{
    zstate_fault_model_t *model = zstate_fault_model_new (late->keys, late->ops);
    zstate_fault_model_set_dels (model, RESYNC_DELS);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                             options->dir, NULL);
    zstate_fault_server_set_mode (server, strchr (order, 'S')? "late": "view", late->keys);
    zstate_relay_t *relay = late->cuts? zstate_relay_new (zstate_fault_server_port (server)):
                                        NULL;
    const char *endpoint = relay? zstate_relay_endpoint (relay):
                                  zstate_fault_server_endpoint (server);
    zstate_fault_stream_t *stream = NULL;
    bool ready = true;
    memset (view, 0, sizeof (*view));
    for (const char *step = order; *step && ready; step++) {
        if (*step == 's' || *step == 'S')
            ready = zstate_fault_server_start (server) == 0;
        else
        if (*step == 'C') {
            if (late->delay)
                zclock_sleep (late->delay);
            ready = zstate_fault_server_signal (server, SIGUSR2, NULL) == 0;
            s_cut (relay, late->cuts);
        }
        else {
            //  With the server up, what it could not route is refused
            //  before the table registers: only a snapshot can bring it
            stream = zstate_fault_mirrored_stream (endpoint, model, late->keys, 0);
            ready = stream && zstate_fault_stream_run (stream, late->first, 0) == late->first;
            if (ready && zstate_fault_server_pid (server))
                zstate_client_flush (zstate_fault_stream_client (stream), RESYNC_FLUSH);
        }
    }
    bool pass = false;
    if (ready) {
        zstate_fault_stream_set (stream, late->rate, 10000, 0);
        zstate_fault_stream_run (stream, late->ops, 0);
        zstate_client_flush (zstate_fault_stream_client (stream), RESYNC_FLUSH);
        const char *dump = zstate_fault_view_settle (server, model, RESYNC_CONVERGE,
                                                     late->quiet, view);
        late->window_ms = zstate_fault_dump_counter (dump, "window_ms");
        pass = dump && zstate_fault_view_wrong (view) == 0;
    }
    late->client [0] = 0;
    if (stream) {
        zstate_fault_append_client (late->client, sizeof (late->client),
                                    zstate_fault_stream_client (stream));
        zstate_client_set_linger (zstate_fault_stream_client (stream), 1000);
    }
    zstate_fault_stream_destroy (&stream);
    zstate_relay_destroy (&relay);
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    return pass;
}

//  The small runs, in random orders; returns the number that converged
static int
s_late_small (options_t *options, int cuts, char *line, size_t size)
{
    unsigned seed = (unsigned) zclock_time ();
    unsigned state = seed;
    int converged = 0;
    const char *failed = NULL;
    char failed_client [128] = "";
    zstate_fault_view_t view, first_failure = { 0 };
    for (int run = 0; run < LATE_RUNS && !zsys_interrupted; run++) {
        //  The first part is half a round to one and a half, the rest a
        //  quarter: most keys get their last write before the table
        late_t late = { LATE_KEYS, 0, 0, 0, 0, LATE_QUIET, cuts, -1, "" };
        const char *order = cuts? s_cut_orders [rand_r (&state) % 2]:
                                  s_orders [rand_r (&state) % ORDERS];
        late.first = LATE_KEYS / 2 + (size_t) rand_r (&state) % LATE_KEYS;
        late.ops = late.first + LATE_KEYS / 4;
        if (s_late_run (options, order, &late, &view))
            converged++;
        else
        if (!failed) {
            failed = order;
            first_failure = view;
            snprintf (failed_client, sizeof (failed_client), "%s", late.client);
        }
    }
    zstate_fault_append (line, size, " small_converged=%d/%d seed=%u", converged, LATE_RUNS,
                         seed);
    if (failed) {
        zstate_fault_append (line, size, " first_failed_order=%s", failed);
        zstate_fault_append_view (line, size, "failed_view", &first_failure);
        zstate_fault_append (line, size, "%s", failed_client);
    }
    return converged;
}

bool
zstate_fault_late_join (options_t *options, char *line, size_t size)
{
    bool pass = true;
    line [0] = 0;
    if (!options->quick) {
        //  100,000 keys written, the table registers 2 s later, and live
        //  updates go on at the paced rate while the snapshot runs
        size_t keys = (size_t) (100000 * options->scale);
        late_t late = { keys, keys + keys / 2, keys, 2000, RESYNC_PACE, RESYNC_QUIET, 0, -1,
                         "" };
        zstate_fault_view_t view;
        int64_t start = zclock_mono ();
        pass = s_late_run (options, "SPC", &late, &view);
        zstate_fault_append (line, size, "keys=%zu", keys);
        zstate_fault_append_view (line, size, "view", &view);
        zstate_fault_append (line, size, " window_ms=%" PRId64 "%s run_s=%.1f", late.window_ms,
                             late.client, (double) (zclock_mono () - start) / 1000);
    }
    return s_late_small (options, 0, line, size) == LATE_RUNS && pass;
}

bool
zstate_fault_late_cuts (options_t *options, char *line, size_t size)
{
    line [0] = 0;
    zstate_fault_append (line, size, "cuts=%d", LATE_CUTS);
    return s_late_small (options, LATE_CUTS, line, size) == LATE_RUNS;
}

//  --------------------------------------------------------------------------
//  The application drops its view, as one that found it suspect, and asks
//  for the table again (zstate_consumer_resync), three times: twice while
//  live updates and DELs go on, and once after everything was
//  acknowledged, so that the last view comes from nothing but the
//  snapshot (and a few live writes meanwhile). The view must end equal to
//  the model, and no key may go back across the drops

//  The application drops its view and asks again; true when it did
static bool
s_resync (rig_t *rig)
{
    return zstate_fault_server_signal (rig->server, SIGWINCH, NULL) == 0;
}

bool
zstate_fault_consumer_resync (options_t *options, char *line, size_t size)
{
    rig_t rig;
    const char *dump = s_thrice (options, &rig, s_resync, "asked", line, size);
    //  Each ask is answered by a snapshot, or by the one more that
    //  follows a snapshot it came during
    bool pass = dump && zstate_fault_dump_counter (dump, "windows_completed") >= 3;
    s_rig_destroy (&rig);
    return pass;
}
