/*  =========================================================================
    zstate_signal_test - the library under a storm of signals: actors
    created, used and destroyed while the calling thread is interrupted
    every 200 usecs, a stream that SIGHUP bursts cannot break, and actors
    that end by themselves reported instead of hanging their callers

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include <poll.h>
#include <sys/time.h>

#if defined (__has_include)
#   if __has_include (<valgrind/valgrind.h>)
#       include <valgrind/valgrind.h>
#   endif
#endif
#ifndef RUNNING_ON_VALGRIND
#   define RUNNING_ON_VALGRIND 0
#endif

#define DB              "APPL_DB"
#define TABLE           "SIGNAL_TABLE"
#define CYCLES          1000        //  new/use/destroy cycles, normal run
#define CYCLES_QUICK    20          //  ... under valgrind
#define STREAM_OPS      100000      //  operations in the SIGHUP stream
#define STREAM_QUICK    10000       //  ... under valgrind
#define STREAM_KEYS     997         //  keys the stream cycles through
#define DEADLINE        60000       //  bound on any one wait, msecs

//  Signals that reached our handlers, by kind. Handlers run on whichever
//  thread a process signal hits, maybe two at once: atomics (lock-free, so
//  safe in a handler), since volatile orders nothing between threads
static int s_usr1_count;
static int s_prof_count;
static int s_hup_count;
#define S_COUNT(counter)    __atomic_load_n (&(counter), __ATOMIC_RELAXED)

static void
s_on_signal (int signum)
{
    if (signum == SIGUSR1)
        __atomic_fetch_add (&s_usr1_count, 1, __ATOMIC_RELAXED);
    else
    if (signum == SIGPROF)
        __atomic_fetch_add (&s_prof_count, 1, __ATOMIC_RELAXED);
    else
    if (signum == SIGHUP)
        __atomic_fetch_add (&s_hup_count, 1, __ATOMIC_RELAXED);
}

//  No-op handlers without SA_RESTART, so blocking calls really see EINTR
static void
s_handlers_install (struct sigaction *saved)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    action.sa_flags = 0;
    sigaction (SIGUSR1, &action, &saved [0]);
    sigaction (SIGPROF, &action, &saved [1]);
    sigaction (SIGHUP, &action, &saved [2]);
}

static void
s_handlers_restore (struct sigaction *saved)
{
    sigaction (SIGUSR1, &saved [0], NULL);
    sigaction (SIGPROF, &saved [1], NULL);
    sigaction (SIGHUP, &saved [2], NULL);
}

//  The storm: SIGUSR1 to one thread every 200 usecs, or bursts of ten
//  SIGHUPs to the whole process every msec
typedef struct {
    pthread_t target;           //  Thread for SIGUSR1
    bool hangups;               //  Send SIGHUP bursts to the process instead
    bool stop;                  //  Set to end the storm (atomic access)
} storm_t;

static void *
s_storm (void *arg)
{
    storm_t *storm = (storm_t *) arg;
    //  What we send must land on the other threads
    sigset_t ours;
    sigemptyset (&ours);
    sigaddset (&ours, SIGUSR1);
    sigaddset (&ours, SIGPROF);
    sigaddset (&ours, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &ours, NULL);
    while (!__atomic_load_n (&storm->stop, __ATOMIC_ACQUIRE)) {
        if (storm->hangups) {
            for (int count = 0; count < 10; count++)
                kill (getpid (), SIGHUP);
            zclock_sleep (1);
        }
        else {
            pthread_kill (storm->target, SIGUSR1);
            struct timespec pause = { 0, 200 * 1000 };
            nanosleep (&pause, NULL);
        }
    }
    return NULL;
}

static void
s_storm_start (storm_t *storm, pthread_t *thread, bool hangups)
{
    storm->target = pthread_self ();
    storm->hangups = hangups;
    storm->stop = false;
    int rc = pthread_create (thread, NULL, s_storm, storm);
    assert (rc == 0);
}

static void
s_storm_stop (storm_t *storm, pthread_t thread)
{
    __atomic_store_n (&storm->stop, true, __ATOMIC_RELEASE);
    pthread_join (thread, NULL);
}

//  Wait until consumer has ops pending, through signals; asserts at the
//  deadline
static void
s_wait_pending (zstate_consumer_t *consumer, size_t ops)
{
    int64_t deadline = zclock_mono () + DEADLINE;
    while (zstate_consumer_pending (consumer) < ops) {
        assert (zclock_mono () < deadline);
        struct pollfd item = { zstate_consumer_fd (consumer), POLLIN, 0 };
        poll (&item, 1, 10);
    }
}

//  One cycle: every component created, its blocking calls made, one
//  operation carried from producer to consumer and, as the producer's
//  copy, through the writer into Redis; everything destroyed (the server
//  first every other cycle)
static void
s_cycle (int cycle, const char *redis_endpoint, zstate_batch_t *batch)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://zstate-signal-%d", cycle);
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    int rc = zstate_server_bind (server, endpoint);
    assert (rc == 0);
    zstate_consumer_t *consumer = zstate_consumer_new (server, DB, TABLE);
    assert (consumer);
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    rc = zstate_writer_connect (writer, redis_endpoint);
    assert (rc == 0);
    //  The producer copies what it sends to the writer as well
    zstate_producer_t *producer = zstate_producer_new (client, DB, TABLE);
    assert (producer);
    rc = zstate_producer_set_writer (producer, writer, DEADLINE);
    assert (rc == 0);
    char key [32];
    snprintf (key, sizeof (key), "cycle-%d", cycle);
    rc = zstate_producer_set (producer, key, "cycle", key, NULL);
    assert (rc == 0);
    rc = zstate_client_flush (client, DEADLINE);
    assert (rc == 0);
    s_wait_pending (consumer, 1);
    size_t popped = zstate_consumer_pops (consumer, batch, 0);
    assert (popped == 1);
    assert (streq ((const char *) zstate_batch_key (batch, 0, NULL), key));
    rc = zstate_writer_flush (writer, DEADLINE);
    assert (rc == 0);
    zstate_writer_stats_t stats;
    rc = zstate_writer_stats (writer, &stats);
    assert (rc == 0 && stats.ops == 1 && stats.written == 1);
    zstate_server_stats_t server_stats;
    rc = zstate_server_stats (server, &server_stats);
    assert (rc == 0 && server_stats.ops == 1);

    zstate_producer_destroy (&producer);
    zstate_client_destroy (&client);
    if (cycle % 2)
        zstate_server_destroy (&server);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
    zstate_writer_destroy (&writer);
}

//  The stream's producer, on its own thread
typedef struct {
    zstate_client_t *client;
    int ops;
} stream_t;

static void *
s_stream_producer (void *arg)
{
    stream_t *stream = (stream_t *) arg;
    zstate_producer_t *producer = zstate_producer_new (stream->client, DB, TABLE);
    assert (producer);
    char key [32], value [32];
    for (int index = 0; index < stream->ops; index++) {
        snprintf (key, sizeof (key), "key-%d", index % STREAM_KEYS);
        snprintf (value, sizeof (value), "%d", index);
        int64_t deadline = zclock_mono () + DEADLINE;
        //  A full queue pushes back; anything else is a failure
        while (zstate_producer_set (producer, key, "seq", value, NULL) == -1) {
            assert (errno == ENOBUFS && zclock_mono () < deadline);
            zclock_sleep (1);
        }
    }
    zstate_producer_destroy (&producer);
    return NULL;
}

//  Every operation of the stream arrives, in order, while SIGHUP bursts
//  hit the process; the table at the end matches a model
static void
s_test_stream (int ops, bool verbose)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    int rc = zstate_server_bind (server, "inproc://zstate-signal-stream");
    assert (rc == 0);
    zstate_consumer_t *consumer = zstate_consumer_new (server, DB, TABLE);
    assert (consumer);
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    rc = zstate_client_connect (client, "inproc://zstate-signal-stream");
    assert (rc == 0);

    storm_t storm;
    pthread_t storm_thread;
    s_storm_start (&storm, &storm_thread, true);
    int64_t deadline = zclock_mono () + DEADLINE;
    int hangups = S_COUNT (s_hup_count);
    while (S_COUNT (s_hup_count) == hangups) {
        assert (zclock_mono () < deadline);
        zclock_sleep (1);
    }
    stream_t stream = { client, ops };
    pthread_t producer_thread;
    rc = pthread_create (&producer_thread, NULL, s_stream_producer, &stream);
    assert (rc == 0);

    int *table = (int *) malloc (STREAM_KEYS * sizeof (int));
    assert (table);
    for (int index = 0; index < STREAM_KEYS; index++)
        table [index] = -1;
    zstate_batch_t *batch = zstate_batch_new ();
    int next = 0;
    deadline = zclock_mono () + 4 * DEADLINE;
    while (next < ops) {
        assert (zclock_mono () < deadline);
        struct pollfd item = { zstate_consumer_fd (consumer), POLLIN, 0 };
        poll (&item, 1, 100);
        size_t popped = zstate_consumer_pops (consumer, batch, 1024);
        for (size_t index = 0; index < popped; index++) {
            int key = atoi ((const char *) zstate_batch_key (batch, index, NULL) + 4);
            int seq = atoi (zstate_batch_get (batch, index, "seq"));
            assert (seq == next);
            assert (key == seq % STREAM_KEYS);
            table [key] = seq;
            next++;
        }
    }
    pthread_join (producer_thread, NULL);
    rc = zstate_client_flush (client, DEADLINE);
    assert (rc == 0);
    s_storm_stop (&storm, storm_thread);
    //  The model: each key holds the last sequence number sent to it
    for (int key = 0; key < STREAM_KEYS; key++) {
        int last = key + ((ops - 1 - key) / STREAM_KEYS) * STREAM_KEYS;
        assert (table [key] == (key < ops? last: -1));
    }
    assert (zstate_consumer_pending (consumer) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_accepted == (uint64_t) ops && stats.ops_sent == (uint64_t) ops);
    if (verbose)
        zsys_debug ("zstate_signal: %d ops streamed through %d SIGHUPs", ops,
                    S_COUNT (s_hup_count));
    free (table);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
}

//  Actors that end by themselves ($TERM sent behind the wrapper's back,
//  as a crash of the actor would look): the wrappers say so, at once
static void
s_test_ended (const char *redis_endpoint)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    int rc = zstate_server_bind (server, "inproc://zstate-signal-ended");
    assert (rc == 0);
    zstate_consumer_t *consumer = zstate_consumer_new (server, DB, TABLE);
    assert (consumer);
    rc = zstate_writer_connect (writer, redis_endpoint);
    assert (rc == 0);

    zstr_send (zstate_server_actor (server), "$TERM");
    zstr_send (zstate_client_actor (client), "$TERM");
    zstr_send (zstate_writer_actor (writer), "$TERM");

    rc = zstate_server_bind (server, "inproc://zstate-signal-ended-2");
    assert (rc == -1 && errno == ESHUTDOWN);
    assert (strstr (zstate_reason (), "ended"));
    zstate_server_stats_t server_stats;
    rc = zstate_server_stats (server, &server_stats);
    assert (rc == -1 && errno == ESHUTDOWN);
    zstate_consumer_t *late = zstate_consumer_new (server, DB, "LATE_TABLE");
    assert (late == NULL && errno == ESHUTDOWN);

    rc = zstate_client_connect (client, "inproc://zstate-signal-ended");
    assert (rc == -1 && errno == ESHUTDOWN);
    zstate_producer_t *producer = zstate_producer_new (client, DB, TABLE);
    assert (producer);
    rc = zstate_producer_set (producer, "key", "f", "v", NULL);
    assert (rc == -1 && errno == ESHUTDOWN);
    //  No limit on the flush, yet it returns
    rc = zstate_client_flush (client, -1);
    assert (rc == 0 || errno == ESHUTDOWN);
    zstate_producer_destroy (&producer);

    rc = zstate_writer_flush (writer, -1);
    assert (rc == -1 && errno == ESHUTDOWN);
    zstate_writer_stats_t writer_stats;
    rc = zstate_writer_stats (writer, &writer_stats);
    assert (rc == -1 && errno == ESHUTDOWN);

    //  Destroying what has ended neither hangs nor leaks
    zstate_consumer_destroy (&consumer);
    assert (consumer == NULL);
    zstate_writer_destroy (&writer);
    zstate_client_destroy (&client);
    zstate_server_destroy (&server);
}

void
zstate_signal_test (bool verbose)
{
    printf (" * zstate_signal: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    bool quick = RUNNING_ON_VALGRIND || getenv ("ZSTATE_SELFTEST_QUICK");
    int cycles = quick? CYCLES_QUICK: CYCLES;
    int stream_ops = quick? STREAM_QUICK: STREAM_OPS;
    zstate_redis_server_t *redis = zstate_redis_server_new (false);
    assert (redis);
    struct sigaction saved [3];
    s_handlers_install (saved);
    //  zstate installs no handler: once CZMQ has set up (and installed its
    //  own, unless told not to), every disposition stays as the host left
    //  it, through everything below
    zsys_init ();
    struct sigaction before [NSIG];
    bool known [NSIG];          //  glibc keeps a few for itself
    for (int signum = 1; signum < NSIG; signum++)
        known [signum] = sigaction (signum, NULL, &before [signum]) == 0;

    //  A profiling timer at 100 Hz of process CPU time, and SIGUSR1 every
    //  200 usecs to this thread, for the whole new/use/destroy loop
    struct itimerval timer = { { 0, 10000 }, { 0, 10000 } };
    int rc = setitimer (ITIMER_PROF, &timer, NULL);
    assert (rc == 0);
    storm_t storm;
    pthread_t storm_thread;
    s_storm_start (&storm, &storm_thread, false);
    //  The storm is real before we count on it
    int64_t deadline = zclock_mono () + DEADLINE;
    while (S_COUNT (s_usr1_count) == 0) {
        assert (zclock_mono () < deadline);
        zclock_sleep (1);
    }
    zstate_batch_t *batch = zstate_batch_new ();
    for (int cycle = 0; cycle < cycles; cycle++)
        s_cycle (cycle, zstate_redis_server_endpoint (redis), batch);
    zstate_batch_destroy (&batch);
    s_test_ended (zstate_redis_server_endpoint (redis));
    s_storm_stop (&storm, storm_thread);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer (ITIMER_PROF, &off, NULL);
    if (verbose)
        zsys_debug ("zstate_signal: %d cycles through %d SIGUSR1 and %d SIGPROF",
                    cycles, S_COUNT (s_usr1_count), S_COUNT (s_prof_count));

    s_test_stream (stream_ops, verbose);

    for (int signum = 1; signum < NSIG; signum++) {
        struct sigaction after;
        if (known [signum]) {
            rc = sigaction (signum, NULL, &after);
            assert (rc == 0 && after.sa_handler == before [signum].sa_handler);
        }
    }
    s_handlers_restore (saved);
    zstate_redis_server_destroy (&redis);
    //  @end
    printf ("OK\n");
}
