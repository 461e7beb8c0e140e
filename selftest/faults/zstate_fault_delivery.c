/*  =========================================================================
    zstate_fault_delivery - the reliable delivery scenarios: cuts, a black
    hole, a frozen or killed server, a stalled consumer, Redis down; each
    checks what the application popped and what Redis holds against the
    producer's model

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"
#include "zstate_redis_server.h"
#include "zstate_relay.h"
#include "zstate_fault_model.h"
#include "zstate_fault_server.h"
#include "zstate_fault_stream.h"
#include "zstate_fault_scenario.h"
#include "zstate_fault_observer.h"
#include "zstate_fault_producer.h"
#include <signal.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

#define FLUSH_MAX       30000   //  msecs for the client to hand everything over
#define CONVERGE_MAX    30000   //  msecs for Redis to reach the model
#define PACE            20000   //  operations per second of a paced stream

//  Msecs without a new pop after which delivery is taken to be over
static int s_settle_quiet = 5000;

void
zstate_fault_set_settle (int msecs)
{
    assert (msecs >= 100 && msecs <= ZSTATE_FAULT_SETTLE_MAX);
    s_settle_quiet = msecs;
}

//  Wait until the application popped every accepted operation, or popping
//  stopped for s_settle_quiet, or ZSTATE_FAULT_SETTLE_MAX passed
static void
s_settle (zstate_fault_server_t *server, zstate_fault_model_t *model)
{
    int64_t start = zclock_mono (), changed = start;
    size_t popped = zstate_fault_server_popped (server);
    while (popped < zstate_fault_model_accepted (model)
       &&  zclock_mono () - changed < s_settle_quiet
       &&  zclock_mono () - start < ZSTATE_FAULT_SETTLE_MAX) {
        zclock_sleep (50);
        size_t now = zstate_fault_server_popped (server);
        if (now != popped)
            changed = zclock_mono ();
        popped = now;
    }
}

//  Wait until Redis holds the model, or CONVERGE_MAX passed; returns the
//  wrong keys at the end, -1 when Redis could not be read. With two
//  tables, odd key numbers are in the second
static int64_t
s_converge_tables (zstate_fault_model_t *model, const char *redis, size_t tables)
{
    const char *names [] = { ZSTATE_FAULT_TABLE, ZSTATE_FAULT_TABLE_2 };
    assert (tables == 1 || tables == 2);
    int64_t start = zclock_mono (), wrong = -1;
    while (true) {
        zstate_fault_view_t view;
        wrong = zstate_fault_model_check_redis_tables (model, redis, names, tables, &view)
              ? -1: (int64_t) zstate_fault_view_wrong (&view);
        if (wrong == 0 || zclock_mono () - start >= CONVERGE_MAX)
            break;
        zclock_sleep (200);
    }
    return wrong;
}

static int64_t
s_converge (zstate_fault_model_t *model, const char *redis)
{
    return s_converge_tables (model, redis, 1);
}

//  Flush the client, let delivery settle, check the pop log. Returns true
//  when every guarantee holds; writes the counts at the start of line.
static bool
s_verdict (zstate_fault_stream_t *stream, zstate_fault_server_t *server,
           zstate_fault_model_t *model, char *line, size_t size)
{
    //  Writes are coalesced only when the outbox folded messages; with no
    //  fold, a write superseded unseen is lost
    uint64_t folded = 0;
    if (stream) {
        zstate_client_flush (zstate_fault_stream_client (stream), FLUSH_MAX);
        zstate_client_stats_t stats;
        zstate_client_stats (zstate_fault_stream_client (stream), &stats);
        folded = stats.frames_coalesced;
    }
    s_settle (server, model);
    zstate_fault_result_t result;
    if (zstate_fault_model_check_log (model, zstate_fault_server_log (server), &result)) {
        snprintf (line, size, "cannot read the pop log: %s", strerror (errno));
        return false;
    }
    if (!folded) {
        result.lost += result.coalesced;
        result.coalesced = 0;
    }
    snprintf (line, size, "accepted=%" PRIu64 " lost=%" PRIu64 " coalesced=%" PRIu64
              " duplicates=%" PRIu64 " regressions=%" PRIu64 " wrong_keys=%" PRIu64
              " unknown=%" PRIu64, result.accepted, result.lost, result.coalesced,
              result.duplicates, result.regressions, result.wrong_keys, result.unknown);
    if (result.instances)
        zstate_fault_append (line, size, " instances=%" PRIu64 " restored=%" PRIu64,
                  result.instances, result.restored);
    return result.lost == 0 && result.duplicates == 0 && result.regressions == 0
        && result.wrong_keys == 0 && result.unknown == 0;
}

static void
s_append_detection (zstate_fault_stream_t *stream, char *line, size_t size)
{
    int faults, detected;
    int64_t mean, max;
    zstate_fault_stream_detection (stream, &faults, &detected, &mean, &max);
    zstate_fault_append (line, size, " detected=%d/%d", detected, faults);
    if (detected)
        zstate_fault_append (line, size, " detect_ms=%" PRId64 "(max %" PRId64 ")", mean, max);
}

//  --------------------------------------------------------------------------
//  10 cuts (TCP resets through the relay) during a long stream

//  Go on streaming until the client is connected through the relay (for
//  up to 10 s), so that every cut resets a live connection with data in
//  flight
static void
s_stream_until_link (zstate_fault_stream_t *stream, zstate_relay_t *relay)
{
    zstate_relay_stats_t stats = { 0 };
    int64_t start = zclock_mono ();
    while (zclock_mono () - start < 10000) {
        if (zstate_relay_stats (relay, &stats) || stats.open > 0)
            break;
        if (zstate_fault_stream_run (stream, 16, 0) == 0)
            zclock_sleep (10);
    }
}

static bool
s_cuts (options_t *options, char *line, size_t size, int rate)
{
    size_t keys = 1000, total = options->ops;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, total);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                             options->dir, NULL);
    bool pass = false;
    if (zstate_fault_server_start (server) == 0) {
        zstate_relay_t *relay = zstate_relay_new (zstate_fault_server_port (server));
        assert (relay);
        zstate_fault_stream_t *stream = zstate_fault_stream_new (
            zstate_relay_endpoint (relay), model);
        zstate_fault_stream_set (stream, rate, 10000, 0);
        for (int cut = 0; cut < 10; cut++) {
            zstate_fault_stream_run (stream, total / 11, 0);
            s_stream_until_link (stream, relay);
            zstate_fault_stream_fault (stream);
            zstate_relay_cut (relay);
        }
        zstate_fault_stream_run (stream, total, 0);
        pass = s_verdict (stream, server, model, line, size);
        s_append_detection (stream, line, size);
        zstate_relay_stats_t stats;
        zstate_relay_stats (relay, &stats);
        zstate_fault_append (line, size, " connections=%" PRIu64, stats.accepted);
        zstate_fault_stream_destroy (&stream);
        zstate_relay_destroy (&relay);
    }
    else
        snprintf (line, size, "server did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    return pass;
}

bool
zstate_fault_cuts_paced (options_t *options, char *line, size_t size)
{
    return s_cuts (options, line, size, PACE);
}

bool
zstate_fault_cuts_full (options_t *options, char *line, size_t size)
{
    return s_cuts (options, line, size, 0);
}

//  --------------------------------------------------------------------------
//  One cut while the server is backlogged: the application stops popping,
//  the server fills the consumer and stops reading, the ROUTER's pipe of
//  the connection fills; then the connection is reset and the client
//  sends on a new one while the old pipe still holds messages

bool
zstate_fault_backlog_cut (options_t *options, char *line, size_t size)
{
    size_t keys = 1000, total = options->ops / 2;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, total);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                             options->dir, NULL);
    zstate_fault_server_set_bounds (server, 1000, 0);
    bool pass = false;
    if (zstate_fault_server_start (server) == 0) {
        zstate_relay_t *relay = zstate_relay_new (zstate_fault_server_port (server));
        assert (relay);
        zstate_fault_stream_t *stream = zstate_fault_stream_new (
            zstate_relay_endpoint (relay), model);
        zstate_fault_stream_set (stream, 0, 10000, 0);
        zstate_fault_stream_run (stream, total / 5, 0);
        zstate_fault_server_signal (server, SIGUSR1, NULL);
        zstate_fault_stream_run (stream, total / 5, 0);
        //  Time for the pipes to fill; the outcome is checked, not this
        zclock_sleep (1000);
        zstate_fault_stream_fault (stream);
        zstate_relay_cut (relay);
        zstate_fault_stream_run (stream, total / 5, 0);
        zclock_sleep (1000);
        zstate_fault_server_signal (server, SIGUSR2, NULL);
        zstate_fault_stream_run (stream, total, 0);
        pass = s_verdict (stream, server, model, line, size);
        s_append_detection (stream, line, size);
        zstate_fault_stream_destroy (&stream);
        zstate_relay_destroy (&relay);
    }
    else
        snprintf (line, size, "server did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    return pass;
}

//  --------------------------------------------------------------------------
//  An outage while the producer goes on at the paced rate: a black hole
//  (the relay forwards nothing) for 30 s (5 s quick), or the server
//  process frozen (SIGSTOP, its sockets open, nothing answers) for 10 s
//  (3 s quick); then the path heals, or the server goes on (SIGCONT)

static bool
s_outage (options_t *options, char *line, size_t size, bool freeze)
{
    int outage = freeze? (options->quick? 3000: 10000): (options->quick? 5000: 30000);
    size_t keys = 1000, total = options->ops + (size_t) PACE * (size_t) outage / 1000;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, total);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                             options->dir, NULL);
    bool pass = false;
    if (zstate_fault_server_start (server) == 0) {
        zstate_relay_t *relay = NULL;
        if (!freeze) {
            relay = zstate_relay_new (zstate_fault_server_port (server));
            assert (relay);
        }
        zstate_fault_stream_t *stream = zstate_fault_stream_new (
            relay? zstate_relay_endpoint (relay): zstate_fault_server_endpoint (server), model);
        zstate_fault_stream_set (stream, PACE, 10000, 0);
        zstate_fault_stream_run (stream, options->ops / 2, 0);
        zstate_fault_stream_fault (stream);
        if (relay)
            zstate_relay_black_hole (relay);
        else
            zstate_fault_server_signal (server, SIGSTOP, NULL);
        //  Refused sends are not retried while the path is dead
        zstate_fault_stream_set (stream, PACE, 0, 0);
        zstate_fault_stream_run (stream, total, outage);
        if (relay)
            zstate_relay_heal (relay);
        else
            zstate_fault_server_signal (server, SIGCONT, NULL);
        zstate_fault_stream_set (stream, PACE, 10000, 0);
        zstate_fault_stream_run (stream, options->ops / 2, 0);
        pass = s_verdict (stream, server, model, line, size);
        s_append_detection (stream, line, size);
        zstate_fault_append (line, size, " refused=%" PRIu64 " %s=%d",
                  zstate_fault_stream_refused (stream), freeze? "frozen_s": "hole_s",
                  outage / 1000);
        zstate_fault_stream_destroy (&stream);
        zstate_relay_destroy (&relay);
    }
    else
        snprintf (line, size, "server did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    return pass;
}

bool
zstate_fault_black_hole (options_t *options, char *line, size_t size)
{
    return s_outage (options, line, size, false);
}

bool
zstate_fault_freeze (options_t *options, char *line, size_t size)
{
    return s_outage (options, line, size, true);
}

//  --------------------------------------------------------------------------
//  The server is killed (SIGKILL) three times mid-stream and started again
//  on the same endpoint; its table is persisted into Redis

bool
zstate_fault_kill (options_t *options, char *line, size_t size)
{
    zstate_redis_server_t *redis = zstate_redis_server_new (false);
    if (!redis) {
        snprintf (line, size, "cannot start redis-server: %s", zstate_reason ());
        return false;
    }
    const char *endpoint = zstate_redis_server_endpoint (redis);
    size_t keys = 1000, total = options->ops;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, total);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                             options->dir, endpoint);
    bool pass = false;
    if (zstate_fault_server_start (server) == 0) {
        //  The client forgets only what Redis holds; each new instance
        //  restores from Redis before it binds
        zstate_fault_stream_t *stream = zstate_fault_stream_new_at (
            zstate_fault_server_endpoint (server), model, ZSTATE_ACK_PERSISTED);
        zstate_fault_stream_set (stream, PACE, 10000, 0);
        int restarts = 0;
        for (int kill = 0; kill < 3; kill++) {
            zstate_fault_stream_run (stream, total / 4, 0);
            zstate_fault_stream_fault (stream);
            zstate_fault_server_signal (server, SIGKILL, NULL);
            restarts += zstate_fault_server_start (server) == 0;
        }
        zstate_fault_stream_run (stream, total, 0);
        pass = s_verdict (stream, server, model, line, size);
        int64_t wrong = s_converge (model, endpoint);
        pass = pass && wrong == 0 && restarts == 3;
        zstate_fault_append (line, size, " redis_wrong_keys=%" PRId64 " restarts=%d", wrong, restarts);
        s_append_detection (stream, line, size);
        zstate_fault_stream_destroy (&stream);
    }
    else
        snprintf (line, size, "server did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    zstate_redis_server_destroy (&redis);
    return pass;
}

//  --------------------------------------------------------------------------
//  `zstate serve` is stopped with SIGTERM three times mid-stream (its
//  orderly shutdown) and started again. What the application popped is
//  seen only as the count each run logs when it exits, and in Redis

//  Stop the tool with SIGTERM; count a clean exit and add the operations
//  its log says it popped
static void
s_serve_stop (zstate_fault_server_t *server, int *clean_p, uint64_t *popped_p)
{
    int status = -1;
    zstate_fault_server_signal (server, SIGTERM, &status);
    *clean_p += status == 0;
    FILE *file = fopen (zstate_fault_server_log (server), "r");
    char text [1024], table [256];
    snprintf (table, sizeof (table), "%s/%s: ", ZSTATE_FAULT_DB, ZSTATE_FAULT_TABLE);
    uint64_t ops;
    while (file && fgets (text, sizeof (text), file)) {
        const char *found = strstr (text, table);
        if (found && sscanf (found + strlen (table), "%" SCNu64 " operations", &ops) == 1)
            *popped_p += ops;
    }
    if (file)
        fclose (file);
}

bool
zstate_fault_serve_term (options_t *options, char *line, size_t size)
{
    if (!getenv ("ZSTATE")) {
        snprintf (line, size, "needs ZSTATE, the path of the zstate tool");
        return false;
    }
    zstate_redis_server_t *redis = zstate_redis_server_new (false);
    if (!redis) {
        snprintf (line, size, "cannot start redis-server: %s", zstate_reason ());
        return false;
    }
    const char *endpoint = zstate_redis_server_endpoint (redis);
    size_t keys = 1000, total = options->ops;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, total);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_TOOL,
                                                             options->dir, endpoint);
    bool pass = false;
    if (server && zstate_fault_server_start (server) == 0) {
        zstate_fault_stream_t *stream = zstate_fault_stream_new (
            zstate_fault_server_endpoint (server), model);
        zstate_fault_stream_set (stream, PACE, 10000, 0);
        int restarts = 0, clean = 0;
        uint64_t popped = 0;
        for (int stop = 0; stop < 3; stop++) {
            zstate_fault_stream_run (stream, total / 4, 0);
            zstate_fault_stream_fault (stream);
            s_serve_stop (server, &clean, &popped);
            restarts += zstate_fault_server_start (server) == 0;
        }
        zstate_fault_stream_run (stream, total, 0);
        zstate_client_flush (zstate_fault_stream_client (stream), FLUSH_MAX);
        int64_t wrong = s_converge (model, endpoint);
        s_serve_stop (server, &clean, &popped);
        uint64_t accepted = zstate_fault_model_accepted (model);
        pass = wrong == 0 && restarts == 3 && clean == 4 && popped == accepted;
        snprintf (line, size, "accepted=%" PRIu64 " popped=%" PRIu64 " lost=%" PRIu64
                  " extra=%" PRIu64 " redis_wrong_keys=%" PRId64 " clean_exits=%d/4"
                  " restarts=%d", accepted, popped, accepted > popped? accepted - popped: 0,
                  popped > accepted? popped - accepted: 0, wrong, clean, restarts);
        s_append_detection (stream, line, size);
        zstate_fault_stream_destroy (&stream);
    }
    else
        snprintf (line, size, "zstate serve did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    zstate_redis_server_destroy (&redis);
    return pass;
}

//  --------------------------------------------------------------------------
//  The client is destroyed while its peer is dead (black hole, then a cut
//  so nothing in flight ever arrives): how long destroy takes, and whether
//  the count of operations it reports as not delivered is exact

static size_t
s_dropped_in_log (FILE *file)
{
    rewind (file);
    char text [1024];
    size_t dropped = 0, ops;
    while (fgets (text, sizeof (text), file)) {
        const char *found = strstr (text, "zstate_client ");
        if (found && strstr (found, "could not be")
        &&  sscanf (strchr (found, ':')? strchr (found, ':') + 1: "", " %zu ops", &ops) == 1)
            dropped += ops;
    }
    return dropped;
}

bool
zstate_fault_destroy_dead (options_t *options, char *line, size_t size)
{
    size_t keys = 1000, total = options->ops / 5;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, total);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                             options->dir, NULL);
    bool pass = false;
    if (zstate_fault_server_start (server) == 0) {
        zstate_relay_t *relay = zstate_relay_new (zstate_fault_server_port (server));
        assert (relay);
        zstate_fault_stream_t *stream = zstate_fault_stream_new (
            zstate_relay_endpoint (relay), model);
        zstate_fault_stream_set (stream, 0, 10000, 0);
        zstate_fault_stream_run (stream, total / 2, 0);
        zstate_client_flush (zstate_fault_stream_client (stream), FLUSH_MAX);
        s_settle (server, model);
        zstate_relay_black_hole (relay);
        zstate_fault_stream_set (stream, 0, 0, 0);
        zstate_fault_stream_run (stream, total, 0);
        zstate_client_stats_t before;
        zstate_client_stats (zstate_fault_stream_client (stream), &before);
        //  What destroy logs is what it reports
        FILE *log = tmpfile ();
        assert (log);
        zsys_set_logstream (log);
        int64_t start = zclock_mono ();
        zstate_fault_stream_destroy (&stream);
        int64_t elapsed = zclock_mono () - start;
        fflush (log);
        zsys_set_logstream (stderr);
        size_t reported = s_dropped_in_log (log);
        fclose (log);
        zstate_relay_cut (relay);
        zstate_relay_heal (relay);
        //  The peer never came back, so loss is expected here: the
        //  guarantee is that destroy says exactly how much
        s_verdict (NULL, server, model, line, size);
        zstate_fault_result_t result;
        zstate_fault_model_check_log (model, zstate_fault_server_log (server), &result);
        pass = reported == result.lost && result.duplicates == 0 && result.regressions == 0;
        zstate_fault_append (line, size, " reported_dropped=%zu queued_at_destroy=%zu destroy_ms=%" PRId64,
                  reported, before.queued_ops, elapsed);
        zstate_relay_destroy (&relay);
    }
    else
        snprintf (line, size, "server did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    return pass;
}

//  --------------------------------------------------------------------------
//  The application stops popping for 10 s (3 s quick) while the producer
//  writes 256-byte values over 10,000 keys: how much memory the producer
//  and the consumer process take on, and whether it all arrives after.
//  Passes when nothing is lost, no send was refused (10,000 keys are far
//  below the client's bound) and each side grew by at most its bounds +
//  16 MiB: the producer's queue bytes, the consumer's queue bytes plus
//  the server's ROUTER budget per connection

#define STALL_PRODUCER_BOUND    (64 * 1024 * 1024)
#define STALL_CONSUMER_BOUND    (64 * 1024 * 1024 + 64 * 1024 * 1024)
#define STALL_SLACK             (16 * 1024 * 1024)

//  AddressSanitizer keeps freed memory in quarantine and pads every block,
//  so a sanitizer build's RSS says nothing about our bounds
#if defined (__SANITIZE_ADDRESS__)
#   define STALL_RSS_CHECKED    false
#else
#   define STALL_RSS_CHECKED    true
#endif

bool
zstate_fault_stall (options_t *options, char *line, size_t size)
{
    int stall = options->quick? 3000: 10000;
    int rate = 50000;
    size_t keys = 10000, total = keys + (size_t) rate * (size_t) stall / 1000;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, total);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                             options->dir, NULL);
    bool pass = false;
    if (zstate_fault_server_start (server) == 0) {
        zstate_fault_stream_t *stream = zstate_fault_stream_new (
            zstate_fault_server_endpoint (server), model);
        zstate_client_set_queue (zstate_fault_stream_client (stream), 1024 * 1024,
                                 STALL_PRODUCER_BOUND);
        zstate_fault_stream_set (stream, 0, 10000, 256);
        zstate_fault_stream_run (stream, keys, 0);
        zstate_client_flush (zstate_fault_stream_client (stream), FLUSH_MAX);
        s_settle (server, model);
        size_t producer_before = zstate_fault_rss (0);
        size_t consumer_before = zstate_fault_server_rss (server);
        zstate_fault_server_signal (server, SIGUSR1, NULL);
        zstate_fault_stream_set (stream, rate, 0, 256);
        zstate_fault_stream_run (stream, total, stall);
        size_t producer_after = zstate_fault_rss (0);
        size_t consumer_after = zstate_fault_server_rss (server);
        zstate_fault_server_signal (server, SIGUSR2, NULL);
        pass = s_verdict (stream, server, model, line, size)
            && zstate_fault_stream_refused (stream) == 0
            && (!STALL_RSS_CHECKED
                || (producer_after <= producer_before + (STALL_PRODUCER_BOUND + STALL_SLACK) / 1024
                &&  consumer_after <= consumer_before + (STALL_CONSUMER_BOUND + STALL_SLACK) / 1024));
        zstate_fault_append (line, size, " refused=%" PRIu64 " producer_rss_growth_mib=%.1f"
                  " consumer_rss_growth_mib=%.1f stall_s=%d",
                  zstate_fault_stream_refused (stream),
                  ((double) producer_after - (double) producer_before) / 1024,
                  ((double) consumer_after - (double) consumer_before) / 1024, stall / 1000);
        if (!STALL_RSS_CHECKED)
            zstate_fault_append (line, size, " rss_checked=no (sanitizer build)");
        zstate_fault_stream_destroy (&stream);
    }
    else
        snprintf (line, size, "server did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    return pass;
}

//  --------------------------------------------------------------------------
//  Redis goes down while the producer writes more unique keys than the
//  writer's backlog bound: does the application still get its operations
//  (pop rate during the outage vs. before), and does Redis catch up after.
//  With two tables (one session, one writer), both are behind the writer
//  at once, and replay together

static bool
s_redis_down (options_t *options, char *line, size_t size, int level, size_t tables)
{
    zstate_redis_server_t *redis = zstate_redis_server_new (true);
    if (!redis) {
        snprintf (line, size, "cannot start redis-server: %s", zstate_reason ());
        return false;
    }
    const char *endpoint = zstate_redis_server_endpoint (redis);
    //  The full form's outage is a minute long, as a Redis restart with
    //  a large data set takes
    int phase = options->quick? 2000: 5000, outage = options->quick? 4000: 60000;
    int rate = 10000;
    size_t keys = 20000, total = (size_t) rate * (size_t) (phase + outage) / 1000;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, total);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                             options->dir, endpoint);
    zstate_fault_server_set_bounds (server, 0, 1000);
    if (tables == 2)
        zstate_fault_server_set_mode (server, "tables", 0);
    bool pass = false;
    if (zstate_fault_server_start (server) == 0) {
        //  At either level, the client keeps what the writer lacks, to
        //  replay it
        zstate_fault_stream_t *stream = zstate_fault_stream_new_at (
            zstate_fault_server_endpoint (server), model, level);
        zstate_fault_stream_set (stream, rate, 10000, 0);
        if (tables == 2)
            zstate_fault_stream_set_tables (stream);
        //  A bound the outage passes, so that the client folds what it
        //  holds and the replay carries coalesced blocks
        zstate_client_t *client = zstate_fault_stream_client (stream);
        zstate_client_set_queue (client, 2 * keys + 10000, 64 * 1024 * 1024);
        int64_t start = zclock_mono ();
        size_t popped = zstate_fault_server_popped (server);
        zstate_fault_stream_run (stream, total, phase);
        double before = (double) (zstate_fault_server_popped (server) - popped) * 1000
                      / (double) (zclock_mono () - start);
        zstate_redis_server_kill (redis);
        start = zclock_mono ();
        popped = zstate_fault_server_popped (server);
        zstate_fault_stream_run (stream, total, outage);
        double during = (double) (zstate_fault_server_popped (server) - popped) * 1000
                      / (double) (zclock_mono () - start);
        //  With Redis still down, every accepted operation reaches the application
        zstate_client_flush_level (client, ZSTATE_ACK_DELIVERED, FLUSH_MAX);
        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        uint64_t folded = stats.frames_coalesced;
        s_settle (server, model);
        bool reached = zstate_fault_server_popped (server) >= zstate_fault_model_accepted (model);
        //  Redis is still down, so no table can have caught up
        int64_t behind = tables == 2
                       ? zstate_fault_dump_counter (zstate_fault_server_dump (server), "behind")
                       : 1;
        zstate_redis_server_start (redis);
        zstate_client_flush (client, FLUSH_MAX);
        int64_t wrong = s_converge_tables (model, endpoint, tables);
        pass = s_verdict (stream, server, model, line, size);
        //  The application pops at 90% of its rate before the outage, at least
        pass = pass && reached && wrong == 0 && during >= 0.9 * before && folded > 0
            && behind == (int64_t) tables;
        zstate_fault_append (line, size, " redis_wrong_keys=%" PRId64 " pops_during_outage=%s"
                  " pop_rate_before=%.0f/s pop_rate_during=%.0f/s frames_folded=%" PRIu64,
                  wrong, reached? "all": "blocked", before, during, folded);
        if (tables == 2)
            zstate_fault_append (line, size, " tables_behind=%" PRId64, behind);
        zstate_fault_stream_destroy (&stream);
    }
    else
        snprintf (line, size, "server did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    zstate_redis_server_destroy (&redis);
    return pass;
}

bool
zstate_fault_redis_down (options_t *options, char *line, size_t size)
{
    return s_redis_down (options, line, size, ZSTATE_ACK_PERSISTED, 1);
}

bool
zstate_fault_redis_down_delivered (options_t *options, char *line, size_t size)
{
    return s_redis_down (options, line, size, ZSTATE_ACK_DELIVERED, 1);
}

bool
zstate_fault_redis_down_tables (options_t *options, char *line, size_t size)
{
    return s_redis_down (options, line, size, ZSTATE_ACK_DELIVERED, 2);
}
