/*  =========================================================================
    zstate_writer_faults - the DB writer's full selftest: the suite
    (selftest/zstate_writer_suite.c), then faults against a real Redis
    (kill -9 and restart, CLIENT PAUSE, CLIENT KILL), and coalescing

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

//  From selftest/zstate_writer_suite.c
void
    zstate_writer_test_send (zsock_t *push, const char *table, zstate_batch_t *batch);
void
    zstate_writer_test_accounting (zstate_writer_stats_t *stats);
void
    zstate_writer_suite (zstate_redis_server_t *server, zstate_redis_t *redis, bool verbose);

//  As the writer's header says: up to three batches in flight, of 2000
//  operations by default
#define WINDOW          3
#define DEFAULT_BATCH   2000

#if defined (__has_include)
#   if __has_include (<valgrind/valgrind.h>)
#       include <valgrind/valgrind.h>
#   endif
#endif
#ifndef RUNNING_ON_VALGRIND
#   define RUNNING_ON_VALGRIND 0
#endif

//  Wait, polling the writer's counters with a deadline, until accepted ops
//  reach ops; returns the counters
static zstate_writer_stats_t
s_test_wait_ops (zstate_writer_t *writer, uint64_t ops, int timeout)
{
    zstate_writer_stats_t stats;
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        int rc = zstate_writer_stats (writer, &stats);
        assert (rc == 0);
        if (stats.ops >= ops || zclock_mono () > deadline)
            break;
        //  Polling the writer's state, with a deadline
        zclock_sleep (10);
    }
    return stats;
}

//  The route-like stream of the fault tests: op number seq on key index
//  key: mostly SET {nexthop, ifname}, every tenth a DEL, every tenth an
//  HSET of ifname alone. The model keeps what Redis must hold at the end.
typedef struct {
    int64_t *nexthop;           //  seq of the last nexthop, -1 absent
    int64_t *ifname;            //  seq of the last ifname, -1 absent
    size_t keys;
} test_model_t;

static void
s_test_key (char *buffer, size_t size, size_t key)
{
    snprintf (buffer, size, "10.%zu.%zu.%zu/32", (key >> 16) & 255, (key >> 8) & 255, key & 255);
}

static void
s_test_add_op (zstate_batch_t *batch, test_model_t *model, size_t seq, size_t key)
{
    char name [32], nexthop [32], ifname [32];
    s_test_key (name, sizeof (name), key);
    snprintf (nexthop, sizeof (nexthop), "10.0.%zu.%zu", (seq >> 8) & 255, seq & 255);
    snprintf (ifname, sizeof (ifname), "Ethernet%zu", seq);
    int rc;
    if (seq % 10 == 3) {
        rc = zstate_batch_del (batch, name);
        model->nexthop [key] = model->ifname [key] = -1;
    }
    else
    if (seq % 10 == 7) {
        rc = zstate_batch_hset (batch, name, "ifname", ifname, NULL);
        model->ifname [key] = (int64_t) seq;
    }
    else {
        rc = zstate_batch_set (batch, name, "nexthop", nexthop, "ifname", ifname, NULL);
        model->nexthop [key] = model->ifname [key] = (int64_t) seq;
    }
    assert (rc == 0);
}

//  Check every key of the model, pipelined, and that no other key exists
static void
s_test_verify (zstate_redis_t *redis, test_model_t *model, const char *table)
{
    size_t present = 0;
    for (size_t key = 0; key < model->keys; key++) {
        char name [32], full [64];
        s_test_key (name, sizeof (name), key);
        snprintf (full, sizeof (full), "%s:%s", table, name);
        int rc = zstate_redis_appendx (redis, "HGETALL", full, NULL);
        assert (rc == 0);
        present += model->ifname [key] >= 0 || model->nexthop [key] >= 0;
    }
    for (size_t key = 0; key < model->keys; key++) {
        int rc = zstate_redis_next (redis, true);
        assert (rc == 1);
        assert (zstate_redis_type (redis, -1) == ZSTATE_REDIS_ARRAY);
        size_t expected = (model->nexthop [key] >= 0) + (model->ifname [key] >= 0);
        assert (zstate_redis_elements (redis) == 2 * expected);
        for (size_t index = 0; index < 2 * expected; index += 2) {
            const char *name = zstate_redis_str (redis, (int) index, NULL);
            const char *value = zstate_redis_str (redis, (int) index + 1, NULL);
            char wanted [32];
            if (streq (name, "nexthop")) {
                size_t seq = (size_t) model->nexthop [key];
                snprintf (wanted, sizeof (wanted), "10.0.%zu.%zu", (seq >> 8) & 255, seq & 255);
            }
            else {
                assert (streq (name, "ifname"));
                snprintf (wanted, sizeof (wanted), "Ethernet%" PRId64, model->ifname [key]);
            }
            assert (streq (value, wanted));
        }
    }
    //  The writer's instance key besides the entries
    int type = zstate_redis_command (redis, "DBSIZE", NULL);
    assert (type == ZSTATE_REDIS_INTEGER);
    assert ((size_t) zstate_redis_integer (redis, -1) == present + 1);
    assert (zstate_redis_command (redis, "EXISTS", "_ZSTATE_INSTANCE", NULL)
            == ZSTATE_REDIS_INTEGER && zstate_redis_integer (redis, -1) == 1);
}

#define FAULT_KILL          1       //  kill -9 the server, restart it
#define FAULT_PAUSE         2       //  CLIENT PAUSE
#define FAULT_CLIENT_KILL   3       //  CLIENT KILL TYPE normal, 20 times

//  A fault test under way: the fault, and what it has done so far
typedef struct {
    int fault;                  //  FAULT_*
    size_t ops;                 //  Operations in the stream
    int pause;                  //  msecs of CLIENT PAUSE
    zstate_redis_server_t *server;
    zstate_redis_t *verifier;   //  Our own connection, for the faults
    zstate_writer_t *writer;
    size_t kills;               //  CLIENT KILLs that bit
    bool killed;                //  The server was killed...
    bool restarted;             //  ... and started again
    bool paused;                //  CLIENT PAUSE sent...
    int64_t pause_end;          //  ... until then
} test_fault_t;

//  Pace the stream while Redis is up, so that Redis sees most of it and
//  the faults land while batches are in flight
static void
s_test_fault_pace (test_fault_t *test, size_t sent, size_t per_message)
{
    bool outage = (test->killed && !test->restarted)
               || (test->paused && zclock_mono () < test->pause_end);
    if (!outage && (sent / per_message) % 10 == 0) {
        int64_t deadline = zclock_mono () + 5000;
        zstate_writer_stats_t stats;
        while (zstate_writer_stats (test->writer, &stats) == 0
           &&  stats.depth > 2000 && zclock_mono () < deadline)
            zclock_sleep (1);   //  Polling the writer's backlog, with a deadline
    }
}

//  CLIENT KILL once the writer is connected, so that every kill bites;
//  SKIPME is yes by default: the verifier survives
static void
s_test_fault_client_kill (test_fault_t *test)
{
    int64_t deadline = zclock_mono () + 5000;
    zstate_writer_stats_t stats;
    while (zstate_writer_stats (test->writer, &stats) == 0
       &&  stats.state != ZSTATE_WRITER_CONNECTED && zclock_mono () < deadline)
        zclock_sleep (1);       //  Polling the writer's state, with a deadline
    assert (zstate_redis_command (test->verifier, "CLIENT", "KILL", "TYPE", "normal", NULL)
            == ZSTATE_REDIS_INTEGER);
    //  The writer may still think itself connected on a connection the
    //  last kill closed: then nothing was killed, and the next message
    //  tries again. The end counts 20 kills that bit.
    if (zstate_redis_integer (test->verifier, -1) > 0)
        test->kills++;
}

//  Inject the fault when the stream has come far enough
static void
s_test_fault_inject (test_fault_t *test, size_t sent)
{
    size_t ops = test->ops;
    if (test->fault == FAULT_KILL && !test->killed && sent >= ops * 4 / 10) {
        int rc = zstate_redis_server_kill (test->server);
        assert (rc == 0);
        test->killed = true;
    }
    else
    if (test->fault == FAULT_KILL && !test->restarted && sent >= ops * 6 / 10) {
        int rc = zstate_redis_server_start (test->server);
        assert (rc == 0);
        test->restarted = true;
    }
    else
    if (test->fault == FAULT_PAUSE && !test->paused && sent >= ops / 3) {
        char text [16];
        snprintf (text, sizeof (text), "%d", test->pause);
        assert (zstate_redis_command (test->verifier, "CLIENT", "PAUSE", text, NULL)
                == ZSTATE_REDIS_STATUS);
        test->paused = true;
        test->pause_end = zclock_mono () + test->pause;
    }
    else
    if (test->fault == FAULT_CLIENT_KILL && test->kills < 20
    &&  sent >= (test->kills + 1) * ops / 21)
        s_test_fault_client_kill (test);
}

//  After the stream: everything confirmed, counted, and in Redis as last
//  written
static void
s_test_fault_check (test_fault_t *test, test_model_t *model, int64_t started,
                    bool verbose)
{
    int rc = zstate_writer_flush (test->writer, 30000);
    if (rc)
        zsys_error ("flush: %s", zstate_reason ());
    assert (rc == 0);
    int64_t elapsed = zclock_mono () - started;
    zstate_writer_stats_t stats;
    rc = zstate_writer_stats (test->writer, &stats);
    assert (rc == 0);
    assert (stats.ops == test->ops);
    assert (stats.depth == 0 && stats.failed == 0);
    zstate_writer_test_accounting (&stats);
    assert (stats.disconnects >= 1);
    assert (stats.reconnects >= 1);
    if (test->fault == FAULT_CLIENT_KILL) {
        assert (test->kills == 20);
        assert (stats.disconnects >= 20);
    }
    if (verbose)
        zsys_info ("fault %d: %zu ops over %zu keys in %" PRId64 " ms: written %" PRIu64
                   " coalesced %" PRIu64 " resent %" PRIu64 " batches %" PRIu64
                   " disconnects %" PRIu64 " reconnects %" PRIu64,
                   test->fault, test->ops, model->keys, elapsed, stats.written,
                   stats.coalesced, stats.resent, stats.batches, stats.disconnects,
                   stats.reconnects);
    zstate_redis_t *verifier = test->verifier;
    if (!zstate_redis_connected (verifier)) {
        rc = zstate_redis_connect (verifier);
        assert (rc == 0);
    }
    //  The verifier may have been killed along with the server
    if (zstate_redis_command (verifier, "PING", NULL) == -1) {
        rc = zstate_redis_connect (verifier);
        assert (rc == 0);
    }
    s_test_verify (verifier, model, "ROUTE_TABLE");
}

static void
s_test_faults (zstate_redis_server_t *server, int fault, size_t ops, size_t keys,
               int pause, bool verbose)
{
    test_fault_t test = { .fault = fault, .ops = ops, .pause = pause, .server = server };
    test.verifier = zstate_redis_new (zstate_redis_server_socket (server));
    assert (test.verifier);
    //  The verifier's own commands wait out a pause too
    zstate_redis_set_timeouts (test.verifier, 1000, pause + 10000);
    int rc = zstate_redis_connect (test.verifier);
    assert (rc == 0);
    assert (zstate_redis_command (test.verifier, "FLUSHDB", NULL) == ZSTATE_REDIS_STATUS);

    zstate_writer_t *writer = test.writer = zstate_writer_new ();
    assert (writer);
    if (getenv ("ZSTATE_SELFTEST_TRACE"))
        zstate_writer_set_verbose (writer, true);
    assert (zstate_writer_set_timeouts (writer, 500, 1000) == 0);
    assert (zstate_writer_set_reconnect (writer, 10, 200) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push);
    rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);

    test_model_t model;
    model.keys = keys;
    model.nexthop = (int64_t *) malloc (keys * sizeof (int64_t));
    model.ifname = (int64_t *) malloc (keys * sizeof (int64_t));
    assert (model.nexthop && model.ifname);
    for (size_t key = 0; key < keys; key++)
        model.nexthop [key] = model.ifname [key] = -1;

    int64_t started = zclock_mono ();
    size_t per_message = 100;
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t seq = 0; seq < ops; seq++) {
        //  Spread the keys, so that a message touches many of them
        s_test_add_op (batch, &model, seq, (seq * 7919) % keys);
        if (zstate_batch_size (batch) < per_message && seq + 1 < ops)
            continue;
        zstate_writer_test_send (push, "ROUTE_TABLE", batch);
        s_test_fault_pace (&test, seq + 1, per_message);
        s_test_fault_inject (&test, seq + 1);
    }
    zstate_batch_destroy (&batch);
    s_test_fault_check (&test, &model, started, verbose);

    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_redis_destroy (&test.verifier);
    free (model.nexthop);
    free (model.ifname);
}

static size_t
s_test_rss (void)
{
    size_t pages = 0, resident = 0;
    FILE *file = fopen ("/proc/self/statm", "r");
    if (file) {
        if (fscanf (file, "%zu %zu", &pages, &resident) != 2)
            resident = 0;
        fclose (file);
    }
    return resident * (size_t) sysconf (_SC_PAGESIZE);
}

//  The largest backlog the coalescing test saw
typedef struct {
    size_t pending;
    size_t flight;
    size_t bytes;
    size_t rss;
} test_peaks_t;

static void
s_test_peak (test_peaks_t *peaks, zstate_writer_stats_t *stats)
{
    peaks->pending = stats->pending > peaks->pending? stats->pending: peaks->pending;
    peaks->flight = stats->in_flight > peaks->flight? stats->in_flight: peaks->flight;
    peaks->bytes = stats->bytes > peaks->bytes? stats->bytes: peaks->bytes;
}

//  Feed updates over the model's keys, 1,000 to a message, watching the
//  backlog every 100,000
static void
s_test_coalesce_feed (zstate_writer_t *writer, zsock_t *push, test_model_t *model,
                      size_t updates, test_peaks_t *peaks)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    zstate_writer_stats_t stats;
    for (size_t seq = 0; seq < updates; seq++) {
        s_test_add_op (batch, model, seq, seq % model->keys);
        if (zstate_batch_size (batch) == 1000) {
            zstate_writer_test_send (push, "ROUTE_TABLE", batch);
            if ((seq + 1) % 100000 == 0) {
                assert (zstate_writer_stats (writer, &stats) == 0);
                assert (stats.pending <= model->keys);
                s_test_peak (peaks, &stats);
                size_t rss = s_test_rss ();
                peaks->rss = rss > peaks->rss? rss: peaks->rss;
            }
        }
    }
    zstate_batch_destroy (&batch);
}

//  With Redis frozen the backlog holds one entry per key; after the thaw
//  everything lands
static void
s_test_coalesce_check (zstate_writer_t *writer, zstate_redis_server_t *server,
                       test_model_t *model, size_t updates, test_peaks_t *peaks,
                       int64_t started, size_t rss_before, bool verbose)
{
    size_t coalesce_keys = model->keys;
    zstate_writer_stats_t stats = s_test_wait_ops (writer, updates, 60000);
    assert (stats.ops == updates);
    int64_t fed = zclock_mono () - started;
    //  The batch in flight at the freeze times out and merges back
    int64_t deadline = zclock_mono () + 10000;
    while (zstate_writer_stats (writer, &stats) == 0
       &&  (stats.disconnects == 0 || stats.in_flight) && zclock_mono () < deadline)
        zclock_sleep (10);      //  Polling the writer's state, with a deadline
    assert (stats.disconnects >= 1 && stats.in_flight == 0);
    assert (stats.depth <= coalesce_keys);
    s_test_peak (peaks, &stats);
    //  Pending: one entry per key; in flight: what was sent before the
    //  freeze, merged back under the pending entries once it timed out
    assert (stats.written == 0);
    assert (stats.pending <= coalesce_keys);
    assert (peaks->pending <= coalesce_keys);
    assert (peaks->flight <= WINDOW * DEFAULT_BATCH);
    zstate_writer_test_accounting (&stats);
    assert (zstate_redis_server_thaw (server) == 0);
    int rc = zstate_writer_flush (writer, 30000);
    assert (rc == 0);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.depth == 0 && stats.failed == 0);
    zstate_writer_test_accounting (&stats);
    if (verbose)
        zsys_info ("coalescing: %zu updates over %zu keys fed in %" PRId64 " ms with Redis "
                   "frozen: peak backlog %zu keys pending + %zu in flight, %zu bytes; "
                   "RSS %+zd KiB (peak %+zd KiB); "
                   "written %" PRIu64 " coalesced %" PRIu64, updates, coalesce_keys, fed,
                   peaks->pending, peaks->flight, peaks->bytes,
                   ((ssize_t) s_test_rss () - (ssize_t) rss_before) / 1024,
                   ((ssize_t) peaks->rss - (ssize_t) rss_before) / 1024,
                   stats.written, stats.coalesced);
}

//  Coalescing: with Redis frozen, a million updates over a thousand
//  keys stay a thousand entries; after the thaw they converge
static void
s_test_coalescing (bool quick, bool verbose)
{
    size_t updates = quick? 100000: 1000000;
    size_t coalesce_keys = 1000;
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_timeouts (writer, 200, 500) == 0);
    assert (zstate_writer_set_reconnect (writer, 10, 200) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push);
    zsock_set_sndhwm (push, 10);
    int rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    test_model_t model;
    model.keys = coalesce_keys;
    model.nexthop = (int64_t *) malloc (coalesce_keys * sizeof (int64_t));
    model.ifname = (int64_t *) malloc (coalesce_keys * sizeof (int64_t));
    assert (model.nexthop && model.ifname);
    for (size_t index = 0; index < coalesce_keys; index++)
        model.nexthop [index] = model.ifname [index] = -1;
    size_t rss_before = s_test_rss ();
    assert (zstate_redis_server_freeze (server) == 0);
    int64_t started = zclock_mono ();
    test_peaks_t peaks = { 0 };
    s_test_coalesce_feed (writer, push, &model, updates, &peaks);
    s_test_coalesce_check (writer, server, &model, updates, &peaks, started, rss_before,
                           verbose);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis);
    rc = zstate_redis_connect (redis);
    assert (rc == 0);
    s_test_verify (redis, &model, "ROUTE_TABLE");
    zstate_redis_destroy (&redis);
    free (model.nexthop);
    free (model.ifname);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_redis_server_destroy (&server);
}

void
zstate_writer_faults_test (bool verbose)
{
    printf (" * zstate_writer_faults: ");
    if (verbose)
        printf ("\n");

    //  Under valgrind the big streams shrink; the normal run keeps them
    bool quick = RUNNING_ON_VALGRIND || getenv ("ZSTATE_SELFTEST_QUICK");
    //  The CLIENT PAUSE fault lasts 5 s, as the product asks; shorter under
    //  valgrind, or as ZSTATE_SELFTEST_PAUSE_MS says
    const char *pause_env = getenv ("ZSTATE_SELFTEST_PAUSE_MS");
    int pause = pause_env? atoi (pause_env): quick? 2000: 5000;

    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis);
    int rc = zstate_redis_connect (redis);
    assert (rc == 0);

    //  The suite first: selftest/zstate_writer_suite.c
    zstate_writer_suite (server, redis, verbose);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);

    //  Faults in the middle of a stream of route-like ops, on a server
    //  that confirms only what it wrote to disk: every key ends up as last
    //  written, and no other key exists
    size_t stream_ops = quick? 20000: 100000;
    size_t stream_keys = quick? 2000: 10000;
    server = zstate_redis_server_new (true);
    assert (server);
    s_test_faults (server, FAULT_KILL, stream_ops, stream_keys, pause, verbose);
    s_test_faults (server, FAULT_PAUSE, stream_ops, stream_keys, pause, verbose);
    s_test_faults (server, FAULT_CLIENT_KILL, stream_ops, stream_keys, pause, verbose);
    zstate_redis_server_destroy (&server);

    s_test_coalescing (quick, verbose);

    printf ("OK\n");
}
