/*  =========================================================================
    zstate_consumer_stress_suite - the consumer table under stress: pops
    through a storm of signals, a thousand tables on one server, the
    socket limit

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_inbox.h"
#include <poll.h>
#include <signal.h>

void
    zstate_consumer_stress_suite (bool verbose);

//  Encode batch as one wire message and send it from a raw DEALER
static void
s_test_send (zsock_t *dealer, zuuid_t *session, uint64_t sequence,
             const char *table, zstate_batch_t *batch)
{
    zframe_t *frame = zstate_msg_encode (zuuid_data (session), sequence,
                                         "APPL_DB", table, batch);
    assert (frame);
    int rc = zframe_send (&frame, dealer, 0);
    assert (rc == 0);
}

//  A consumer on a fresh server with a raw DEALER connected to it
typedef struct {
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    int port;
    zuuid_t *session;
    uint64_t sequence;
} test_rig_t;

static void
s_test_rig_new (test_rig_t *rig, const char *table, bool verbose)
{
    memset (rig, 0, sizeof (*rig));
    rig->server = zstate_server_new ();
    assert (rig->server);
    zstate_server_set_verbose (rig->server, verbose);
    if (table) {
        rig->consumer = zstate_consumer_new (rig->server, "APPL_DB", table);
        assert (rig->consumer);
    }
    rig->port = zstate_server_bind (rig->server, "tcp://127.0.0.1:*");
    assert (rig->port > 0);
    rig->session = zuuid_new ();
}

static zsock_t *
s_test_rig_dealer (test_rig_t *rig)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_sndtimeo (dealer, 10000);
    int rc = zsock_connect (dealer, "tcp://127.0.0.1:%d", rig->port);
    assert (rc == 0);
    return dealer;
}

static void
s_test_rig_destroy (test_rig_t *rig)
{
    zstate_consumer_destroy (&rig->consumer);
    zstate_server_destroy (&rig->server);
    zuuid_destroy (&rig->session);
}


//  The signal storm: a thread sends STORM_MESSAGES messages of STORM_OPS
//  operations while another sends SIGUSR1 to the popping thread every
//  200 usecs (at most 100,000 times), with a handler without SA_RESTART
#define STORM_MESSAGES  2000
#define STORM_OPS       3

typedef struct {
    test_rig_t *rig;
    pthread_t target;           //  the popping thread, for the storm
    bool stop;                  //  set by the test, read by the storm: atomic
    size_t signals;             //  sent
} test_storm_t;

static void *
s_test_storm_sender (void *args)
{
    test_storm_t *storm = (test_storm_t *) args;
    zsock_t *dealer = s_test_rig_dealer (storm->rig);
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t message = 0; message < STORM_MESSAGES; message++) {
        zstate_batch_reset (batch);
        for (size_t op = 0; op < STORM_OPS; op++) {
            char key [32];
            snprintf (key, sizeof (key), "storm-%zu", message * STORM_OPS + op);
            zstate_batch_hset (batch, key, "field", "value", NULL);
        }
        s_test_send (dealer, storm->rig->session, message + 1, "STORM_TABLE", batch);
    }
    zstate_batch_destroy (&batch);
    //  With linger 0, closing now would drop what the server has not read
    //  yet: wait until the test has popped it all (60 s at most)
    for (int wait = 0; wait < 6000; wait++) {
        if (__atomic_load_n (&storm->stop, __ATOMIC_RELAXED))
            break;
        zclock_sleep (10);
    }
    zsock_destroy (&dealer);
    return NULL;
}

static void *
s_test_storm_signals (void *args)
{
    test_storm_t *storm = (test_storm_t *) args;
    while (!__atomic_load_n (&storm->stop, __ATOMIC_RELAXED)
    &&     storm->signals < 100000) {
        pthread_kill (storm->target, SIGUSR1);
        storm->signals++;
        usleep (200);
    }
    return NULL;
}

static int s_test_caught;      //  counted in a handler: atomic

static void
s_test_on_signal (int signum)
{
    (void) signum;
    __atomic_fetch_add (&s_test_caught, 1, __ATOMIC_RELAXED);
}

static void
s_test_signal_storm (bool verbose, bool use_socket)
{
    test_rig_t rig;
    s_test_rig_new (&rig, "STORM_TABLE", verbose);
    //  A small queue, so that the server also stalls and resumes
    int rc = zstate_consumer_set_queue (rig.consumer, 8 * STORM_OPS, 1024 * 1024);
    assert (rc == 0);
    zsock_t *socket = use_socket? zstate_consumer_socket (rig.consumer): NULL;
    struct sigaction action, previous;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_test_on_signal;
    sigemptyset (&action.sa_mask);
    action.sa_flags = 0;
    rc = sigaction (SIGUSR1, &action, &previous);
    assert (rc == 0);
    __atomic_store_n (&s_test_caught, 0, __ATOMIC_RELAXED);
    test_storm_t storm = { &rig, pthread_self (), false, 0 };
    pthread_t sender, signaller;
    rc = pthread_create (&signaller, NULL, s_test_storm_signals, &storm);
    assert (rc == 0);
    rc = pthread_create (&sender, NULL, s_test_storm_sender, &storm);
    assert (rc == 0);
    //  The model: keys come out numbered 0, 1, 2... each exactly once
    zstate_batch_t *batch = zstate_batch_new ();
    size_t next = 0;
    size_t max = 1;
    while (next < STORM_MESSAGES * STORM_OPS) {
        if (use_socket)
            assert (zstate_inbox_test_sock_readable (socket, 10000));
        else
            assert (zstate_inbox_test_fd_readable (zstate_consumer_fd (rig.consumer), 10000));
        //  Whole messages only: popped + pending is always a whole number
        //  of messages
        assert ((next + zstate_consumer_pending (rig.consumer)) % STORM_OPS == 0);
        size_t popped = zstate_consumer_pops (rig.consumer, batch, max);
        assert (popped > 0 && popped <= max);
        for (size_t index = 0; index < popped; index++) {
            char expected [32];
            snprintf (expected, sizeof (expected), "storm-%zu", next++);
            assert (streq (zstate_batch_key (batch, index, NULL), expected));
        }
        max = max % 5 + 1;
    }
    //  Tables made and destroyed under the same storm: each destroy
    //  unregisters, so the name is free again at once, and none is left
    for (int round = 0; round < 200; round++) {
        zstate_consumer_t *churn = zstate_consumer_new (rig.server, "APPL_DB", "CHURN");
        assert (churn);
        if (use_socket)
            assert (zstate_consumer_socket (churn));
        rc = zstate_consumer_forward (churn, NULL);
        assert (rc == 0);
        zstate_consumer_destroy (&churn);
    }
    __atomic_store_n (&storm.stop, true, __ATOMIC_RELAXED);
    pthread_join (sender, NULL);
    pthread_join (signaller, NULL);
    rc = sigaction (SIGUSR1, &previous, NULL);
    assert (rc == 0);
    zstate_server_stats_t server_stats;
    rc = zstate_server_stats (rig.server, &server_stats);
    assert (rc == 0);
    assert (server_stats.consumers == 1);
    int caught = __atomic_load_n (&s_test_caught, __ATOMIC_RELAXED);
    assert (storm.signals > 0 && caught > 0);
    //  Nothing twice: nothing more is pending, and no wake-up is left up
    assert (zstate_consumer_pops (rig.consumer, batch, 0) == 0);
    assert (!zstate_inbox_test_fd_readable (zstate_consumer_fd (rig.consumer), 0));
    zstate_consumer_stats_t stats;
    zstate_consumer_stats (rig.consumer, &stats);
    assert (stats.popped == STORM_MESSAGES * STORM_OPS);
    if (verbose)
        zsys_debug ("signal storm: %zu signals, %d caught, %" PRIu64 " stalls",
                    storm.signals, caught, stats.stalls);
    zstate_batch_destroy (&batch);
    s_test_rig_destroy (&rig);
}

//  1,000 tables on one server, in one process, with CZMQ's default socket
//  limit: each gets one operation, pops it through its fd, and goes
#define MANY_TABLES     1000

static void
s_test_many_tables (bool verbose)
{
    test_rig_t rig;
    s_test_rig_new (&rig, NULL, verbose);
    zstate_consumer_t **consumers =
        (zstate_consumer_t **) zmalloc (MANY_TABLES * sizeof (zstate_consumer_t *));
    assert (consumers);
    for (size_t index = 0; index < MANY_TABLES; index++) {
        char table [32];
        snprintf (table, sizeof (table), "MANY_%zu", index);
        consumers [index] = zstate_consumer_new (rig.server, "APPL_DB", table);
        assert (consumers [index]);
    }
    zsock_t *dealer = s_test_rig_dealer (&rig);
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t index = 0; index < MANY_TABLES; index++) {
        char table [32], key [32];
        snprintf (table, sizeof (table), "MANY_%zu", index);
        snprintf (key, sizeof (key), "key-%zu", index);
        zstate_batch_reset (batch);
        zstate_batch_del (batch, key);
        s_test_send (dealer, rig.session, ++rig.sequence, table, batch);
    }
    for (size_t index = 0; index < MANY_TABLES; index++) {
        char key [32];
        snprintf (key, sizeof (key), "key-%zu", index);
        assert (zstate_inbox_test_fd_readable (zstate_consumer_fd (consumers [index]), 10000));
        assert (zstate_consumer_pops (consumers [index], batch, 0) == 1);
        assert (streq (zstate_batch_key (batch, 0, NULL), key));
    }
    zstate_server_stats_t stats;
    int rc = zstate_server_stats (rig.server, &stats);
    assert (rc == 0);
    assert (stats.consumers == MANY_TABLES);
    assert (stats.routed == MANY_TABLES && stats.unroutable == 0);
    for (size_t index = 0; index < MANY_TABLES; index++)
        zstate_consumer_destroy (&consumers [index]);
    rc = zstate_server_stats (rig.server, &stats);
    assert (rc == 0);
    assert (stats.consumers == 0);
    free (consumers);
    zstate_batch_destroy (&batch);
    zsock_destroy (&dealer);
    s_test_rig_destroy (&rig);
}

//  At the socket limit, zstate_consumer_socket returns NULL with EMFILE
//  and a reason instead of aborting, and that table still works through
//  its fd. CZMQ takes a new limit only while no socket is open, so this
//  restarts CZMQ with a low limit, and again with the old one after.
#define LOW_SOCKET_LIMIT 32

static void
s_test_socket_limit (bool verbose)
{
    int old_limit = zmq_ctx_get (zsys_init (), ZMQ_MAX_SOCKETS);
    assert (old_limit > 0);
    zsys_shutdown ();
    zsys_set_max_sockets (LOW_SOCKET_LIMIT);
    test_rig_t rig;
    s_test_rig_new (&rig, NULL, verbose);
    zsock_t *dealer = s_test_rig_dealer (&rig);
    zsock_t *sink = zsock_new (ZMQ_PULL);
    assert (sink);
    int rc = zsock_bind (sink, "inproc://zstate-test-limit-sink");
    assert (rc == 0);
    zstate_consumer_t *consumers [LOW_SOCKET_LIMIT];
    size_t count = 0;
    bool refused = false;
    while (count < LOW_SOCKET_LIMIT && !refused) {
        char table [32];
        snprintf (table, sizeof (table), "LIMIT_%zu", count);
        //  The table itself needs no socket
        consumers [count] = zstate_consumer_new (rig.server, "APPL_DB", table);
        assert (consumers [count]);
        if (zstate_consumer_socket (consumers [count]) == NULL) {
            assert (errno == EMFILE);
            assert (strstr (zstate_reason (), "limit of 32 sockets"));
            refused = true;
        }
        count++;
    }
    assert (refused);
    assert (count > 1);         //  some tables got their socket
    //  The server's forwarding sockets too: refused with EMFILE, at the
    //  latest once the slot the refused wake socket gave back is taken
    size_t forwards = 0;
    refused = false;
    while (forwards < count && !refused) {
        rc = zstate_consumer_forward (consumers [forwards++],
                                      "inproc://zstate-test-limit-sink");
        if (rc == -1) {
            assert (errno == EMFILE);
            assert (strstr (zstate_reason (), "limit of 32 sockets"));
            refused = true;
        }
    }
    assert (refused);
    //  The refused table still gets its operations, through its fd
    zstate_consumer_t *last = consumers [count - 1];
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_del (batch, "Ethernet0");
    s_test_send (dealer, rig.session, ++rig.sequence, zstate_consumer_table (last), batch);
    assert (zstate_inbox_test_fd_readable (zstate_consumer_fd (last), 10000));
    assert (zstate_consumer_pops (last, batch, 0) == 1);
    zstate_batch_destroy (&batch);
    for (size_t index = 0; index < count; index++)
        zstate_consumer_destroy (&consumers [index]);
    zsock_destroy (&dealer);
    s_test_rig_destroy (&rig);
    zsock_destroy (&sink);
    zsys_shutdown ();
    zsys_set_max_sockets ((size_t) old_limit);
}

//  Run by zstate_consumer_suites (selftest/zstate_consumer_test.c), after
//  the flow suites
void
zstate_consumer_stress_suite (bool verbose)
{
    s_test_signal_storm (verbose, false);
    s_test_signal_storm (verbose, true);
    s_test_many_tables (verbose);
    s_test_socket_limit (verbose);
}
