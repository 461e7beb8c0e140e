/*  =========================================================================
    zstate_client_test - the client's selftest with protocol version 1:
    sending, the fast path and batching, against a raw ROUTER (rig in
    selftest/zstate_client_rig.c); what senders and the agent share is
    checked through the private header. Then the link and bounds suite
    (selftest/zstate_client_queue_suite.c)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"
#include "zstate_client_rig.h"

//  --------------------------------------------------------------------------
//  Selftest helpers

#define TEST_THREADS    8
#define TEST_THREAD_OPS 10000

typedef struct {
    zstate_client_t *client;
    int sender;
} test_sender_t;

static void *
s_test_sender (void *args)
{
    test_sender_t *sender = (test_sender_t *) args;
    size_t sent = client_test_send (sender->client, sender->sender, 0, TEST_THREAD_OPS);
    assert (sent == TEST_THREAD_OPS);
    return NULL;
}

//  Read the counters that show which way sends went: eventfd writes (the
//  agent woken) and messages the senders sent themselves
static void
s_test_paths (zstate_client_t *client, uint64_t *wakes_p, uint64_t *fast_p)
{
    pthread_mutex_lock (&client->lock);
    *wakes_p = client->wakes;
    *fast_p = client->fast_messages;
    pthread_mutex_unlock (&client->lock);
}

//  Wait until the agent holds nothing, has let go of the socket, and its
//  last pass is older than FAST_IDLE_USECS, so that the next lone send
//  finds the path idle
static void
s_test_wait_idle (zstate_client_t *client)
{
    int64_t deadline = zclock_mono () + 5000;
    bool idle = false;
    while (!idle) {
        assert (zclock_mono () < deadline);
        zclock_sleep (1);       //  Polling the agent's state, with a deadline
        pthread_mutex_lock (&client->lock);
        idle = !client->agent_busy && !client->queue_head
            && zclock_usecs () - client->last_busy >= FAST_IDLE_USECS;
        //  ... and the agent has let go of the socket after its last pass
        if (idle && pthread_mutex_trylock (&client->socket_lock) == 0)
            pthread_mutex_unlock (&client->socket_lock);
        else
            idle = false;
        pthread_mutex_unlock (&client->lock);
    }
}

#define TEST_MIX_THREADS    4
#define TEST_MIX_ROUNDS     20
#define TEST_MIX_BURST      250

typedef struct {
    zstate_client_t *client;
    int sender;
    pthread_barrier_t *barrier;
} test_mixer_t;

//  Rounds of a burst from every thread (fast and queued sends mixed),
//  then one op from one thread alone on an idle link, which must take the
//  fast path and still follow its thread's queued ops
static void *
s_test_mixer (void *args)
{
    test_mixer_t *mixer = (test_mixer_t *) args;
    size_t counter = 0;
    for (int round = 0; round < TEST_MIX_ROUNDS; round++) {
        pthread_barrier_wait (mixer->barrier);
        size_t sent = client_test_send (mixer->client, mixer->sender, counter, TEST_MIX_BURST);
        assert (sent == TEST_MIX_BURST);
        counter += sent;
        pthread_barrier_wait (mixer->barrier);
        if (round % TEST_MIX_THREADS == mixer->sender) {
            int rc = zstate_client_flush (mixer->client, 5000);
            assert (rc == 0);
            //  The agent may still be finishing its pass: wait until the
            //  send path is idle, past FAST_IDLE_USECS
            s_test_wait_idle (mixer->client);
            uint64_t wakes, fast, wakes_after, fast_after;
            s_test_paths (mixer->client, &wakes, &fast);
            sent = client_test_send (mixer->client, mixer->sender, counter, 1);
            assert (sent == 1);
            counter++;
            s_test_paths (mixer->client, &wakes_after, &fast_after);
            assert (fast_after == fast + 1);
            assert (wakes_after == wakes);
        }
    }
    return NULL;
}


//  Commands: unknown, missing argument, bad endpoint; setters before
//  connect, and bad values
static void
s_test_commands (zstate_client_t *client)
{
    int rc = zstate_actor_request (client->actor, ZSTATE_ACTOR_TIMEOUT, NULL,
                                   "s", "BOGUS");
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_actor_request (client->actor, ZSTATE_ACTOR_TIMEOUT, NULL,
                               "s", "CONNECT");
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_client_connect (client, "bogus://nowhere");
    assert (rc == -1 && errno == EPROTONOSUPPORT);
    assert (*zstate_reason ());
    assert (zstate_client_state (client) == ZSTATE_CLIENT_IDLE);

    //  Setters before connect; bad values
    assert (zstate_client_set_sndhwm (client, -1) == -1 && errno == EINVAL);
    assert (zstate_client_set_interface (client, "an-interface-name-too-long") == -1
            && errno == EINVAL);
    assert (zstate_client_set_sndhwm (client, 500) == 0);
    assert (zstate_client_set_tcp_keepalive (client, 30, 5, 3) == 0);
    assert (zstate_client_set_reconnect (client, 50, 1000) == 0);
    assert (zstate_client_set_interface (client, NULL) == 0);
}

//  Bad sends: an empty or missing batch, missing or bad names; returns
//  a batch of one op
static zstate_batch_t *
s_test_bad_sends (zstate_client_t *client)
{
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_client_send (client, "db", "table", NULL);
    assert (rc == -1 && errno == EINVAL);
    zstate_batch_set (batch, "key", "name", "value", NULL);
    rc = zstate_client_send (client, NULL, "table", batch);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_client_send (client, "db", "", batch);
    assert (rc == -1 && errno == EINVAL);
    char long_name [ZSTATE_NAME_MAX + 2];
    memset (long_name, 'n', sizeof (long_name) - 1);
    long_name [sizeof (long_name) - 1] = 0;
    rc = zstate_client_send (client, long_name, "table", batch);
    assert (rc == -1 && errno == EINVAL);
    return batch;
}

//  Basics: one op, over tcp, to a raw ROUTER
static void
s_test_basics (bool verbose)
{
    test_server_t *server = client_test_server_new (NULL, false);
    zstate_client_t *client = client_test_v1 ();
    assert (client);
    if (verbose)
        zstate_client_set_verbose (client, true);
    assert (zstate_client_state (client) == ZSTATE_CLIENT_IDLE);
    assert (streq (zstate_client_state_name (ZSTATE_CLIENT_FAILED), "FAILED"));
    assert (streq (zstate_client_state_name (99), "UNKNOWN"));
    assert (zstate_client_actor (client));

    s_test_commands (client);

    int rc = zstate_client_connect (client, server->endpoint);
    assert (rc == 0);
    assert (client_test_event (client, "STATE", "CONNECTED", 5000));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTED);
    rc = zstate_client_connect (client, server->endpoint);
    assert (rc == -1 && errno == EISCONN);
    assert (zstate_client_set_sndhwm (client, 10) == -1 && errno == EBUSY);
    assert (zstate_client_set_tcp_keepalive (client, 0, 0, 0) == -1 && errno == EBUSY);
    assert (zstate_client_set_reconnect (client, 1, 1) == -1 && errno == EBUSY);
    assert (zstate_client_set_interface (client, "lo") == -1 && errno == EBUSY);

    zstate_batch_t *batch = s_test_bad_sends (client);

    //  Idle link: one op goes out at once, as its own message
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    assert (client_test_server_recv (server, 5000));
    assert (server->sequence == 1);
    assert (streq (zstate_msg_db (server->decoder), "db"));
    assert (streq (zstate_msg_table (server->decoder), "table"));
    assert (zstate_batch_eq (server->batch, batch));
    assert (zstate_client_flush (client, 1000) == 0);

    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.state == ZSTATE_CLIENT_CONNECTED);
    assert (stats.ops_accepted == 1);
    assert (stats.ops_sent == 1);
    assert (stats.messages_sent == 1);
    assert (stats.ops_rejected == 0);
    assert (stats.connects == 1);
    assert (stats.queued_ops == 0 && stats.queued_bytes == 0);

    //  Another (db, table) starts another message
    rc = zstate_client_send (client, "db", "other", batch);
    assert (rc == 0);
    assert (client_test_server_recv (server, 5000));
    assert (streq (zstate_msg_table (server->decoder), "other"));
    assert (server->sequence == 2);

    //  A server going away is seen, and coming back too
    char *endpoint = strdup (server->endpoint);
    client_test_server_destroy (&server);
    assert (client_test_event (client, "STATE", "DISCONNECTED", 5000));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_DISCONNECTED);
    server = client_test_server_new (endpoint, false);
    assert (client_test_event (client, "STATE", "CONNECTED", 5000));
    zstate_client_stats (client, &stats);
    assert (stats.connects == 2 && stats.disconnects == 1);
    free (endpoint);

    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
}


//  Peers other than the clients of this process (a client of another
//  process that found the port, and one that sends garbage) are dropped
//  and counted by the raw server, so they cannot fail a test
static void
s_test_strays (void)
{
    test_server_t *server = client_test_server_new (NULL, false);
    zstate_client_t *foreign = zstate_client_new ();
    assert (foreign);
    assert (zstate_client_set_protocol (foreign, 1) == 0);
    assert (zstate_client_connect (foreign, server->endpoint) == 0);
    assert (client_test_send (foreign, 1, 0, 1) == 1);
    zsock_t *garbage = zsock_new_dealer (server->endpoint);
    assert (garbage);
    assert (zstr_send (garbage, "") == 0);
    assert (zstr_sendx (garbage, "two", "frames", NULL) == 0);

    zstate_client_t *client = client_test_v1 ();
    assert (zstate_client_connect (client, server->endpoint) == 0);
    assert (client_test_send (client, 0, 0, 5) == 5);
    client_test_expect (server, 0, 0, 5);
    for (int count = 0; count < 100 && server->strays < 3; count++)
        assert (!client_test_server_recv (server, 100));
    assert (server->strays == 3);
    zstate_client_destroy (&client);
    assert (zstate_client_close (&foreign, 0) == 0);
    zsock_destroy (&garbage);
    client_test_server_destroy (&server);
}


//  inproc: connected as soon as connect succeeds, no monitor
static void
s_test_inproc (void)
{
    test_server_t *server = client_test_server_new ("inproc://zstate-client-test", false);
    zstate_client_t *client = client_test_v1 ();
    int rc = zstate_client_connect (client, "inproc://zstate-client-test");
    assert (rc == 0);
    assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTED);
    size_t sent = client_test_send (client, 0, 0, 100);
    assert (sent == 100);
    client_test_expect (server, 0, 0, 100);
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
}


//  Many threads on one client: every op once, per-thread order, and
//  batching under load
static void
s_test_threads (bool verbose)
{
    test_server_t *server = client_test_server_new (NULL, false);
    zstate_client_t *client = client_test_v1 ();
    int rc = zstate_client_connect (client, server->endpoint);
    assert (rc == 0);

    pthread_t threads [TEST_THREADS];
    test_sender_t senders [TEST_THREADS];
    for (int index = 0; index < TEST_THREADS; index++) {
        senders [index].client = client;
        senders [index].sender = index;
        rc = pthread_create (&threads [index], NULL, s_test_sender, &senders [index]);
        assert (rc == 0);
    }
    size_t next [TEST_THREADS] = { 0 };
    size_t total = 0;
    while (total < TEST_THREADS * TEST_THREAD_OPS) {
        bool received = client_test_server_recv (server, 10000);
        assert (received);
        for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
            size_t counter;
            int sender = client_test_op_check (server->batch, index, &counter);
            assert (sender >= 0 && sender < TEST_THREADS);
            assert (counter == next [sender]);
            next [sender]++;
            total++;
        }
    }
    for (int index = 0; index < TEST_THREADS; index++) {
        pthread_join (threads [index], NULL);
        assert (next [index] == TEST_THREAD_OPS);
    }
    assert (total == TEST_THREADS * TEST_THREAD_OPS);
    assert (server->messages < total);
    assert (zstate_client_flush (client, 5000) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_accepted == total);
    assert (stats.ops_sent == total);
    assert (stats.messages_sent == server->messages);
    assert (stats.queued_ops == 0);
    if (verbose)
        zsys_info ("zstate_client test: %zu ops in %zu messages",
                   total, server->messages);
    //  Nothing more arrives
    assert (!client_test_server_recv (server, 0));
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
}


//  Fast path: on an idle, connected link each send goes to the socket
//  from the sending thread; the agent is never woken, and sequence
//  numbers stay consecutive
static void
s_test_fast_path (void)
{
    test_server_t *server = client_test_server_new (NULL, false);
    zstate_client_t *client = client_test_v1 ();
    int rc = zstate_client_connect (client, server->endpoint);
    assert (rc == 0);
    assert (client_test_event (client, "STATE", "CONNECTED", 5000));
    uint64_t wakes, fast;
    s_test_paths (client, &wakes, &fast);
    assert (wakes == 0 && fast == 0);
    for (size_t counter = 0; counter < 50; counter++) {
        size_t sent = client_test_send (client, 6, counter, 1);
        assert (sent == 1);
        client_test_expect (server, 6, counter, 1);
        assert (server->sequence == counter + 1);
    }
    s_test_paths (client, &wakes, &fast);
    assert (wakes == 0);
    assert (fast == 50);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_accepted == 50 && stats.ops_sent == 50);
    assert (stats.messages_sent == 50);
    assert (stats.queued_ops == 0 && stats.queued_bytes == 0);
    assert (zstate_client_flush (client, 0) == 0);

    //  A batch goes out whole, as one message
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t index = 0; index < 10; index++)
        client_test_op (batch, 6, 50 + index);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    client_test_expect (server, 6, 50, 10);
    assert (server->sequence == 51);
    s_test_paths (client, &wakes, &fast);
    assert (wakes == 0 && fast == 51);

    //  ... unless it spans messages: that is the agent's job
    zstate_client_set_batch (client, 4, 64 * 1024);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    for (size_t message = 0; message < 3; message++)
        assert (client_test_server_recv (server, 5000));
    assert (server->sequence == 54);
    s_test_paths (client, &wakes, &fast);
    assert (wakes == 1 && fast == 51);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
}


//  Fast path mixed with queued sends from several threads: every op
//  once, per-thread order, consecutive sequence numbers (checked by
//  client_test_server_recv), and batching under load
static void
s_test_fast_mixed (bool verbose)
{
    test_server_t *server = client_test_server_new (NULL, false);
    zstate_client_t *client = client_test_v1 ();
    //  Room for every message of the test, so that a lone send never
    //  meets a full socket while the reader lags (as under valgrind):
    //  the full socket has its own test below
    zstate_client_set_sndhwm (client, TEST_MIX_THREADS * TEST_MIX_ROUNDS
                                      * (TEST_MIX_BURST + 1));
    int rc = zstate_client_connect (client, server->endpoint);
    assert (rc == 0);
    assert (client_test_event (client, "STATE", "CONNECTED", 5000));

    pthread_barrier_t barrier;
    pthread_barrier_init (&barrier, NULL, TEST_MIX_THREADS);
    pthread_t threads [TEST_MIX_THREADS];
    test_mixer_t mixers [TEST_MIX_THREADS];
    for (int index = 0; index < TEST_MIX_THREADS; index++) {
        mixers [index].client = client;
        mixers [index].sender = index;
        mixers [index].barrier = &barrier;
        rc = pthread_create (&threads [index], NULL, s_test_mixer, &mixers [index]);
        assert (rc == 0);
    }
    size_t expected = TEST_MIX_ROUNDS * TEST_MIX_BURST + TEST_MIX_ROUNDS / TEST_MIX_THREADS;
    size_t next [TEST_MIX_THREADS] = { 0 };
    size_t total = 0;
    while (total < TEST_MIX_THREADS * expected) {
        bool received = client_test_server_recv (server, 10000);
        assert (received);
        for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
            size_t counter;
            int sender = client_test_op_check (server->batch, index, &counter);
            assert (sender >= 0 && sender < TEST_MIX_THREADS);
            assert (counter == next [sender]);
            next [sender]++;
            total++;
        }
    }
    for (int index = 0; index < TEST_MIX_THREADS; index++) {
        pthread_join (threads [index], NULL);
        assert (next [index] == expected);
    }
    pthread_barrier_destroy (&barrier);
    assert (zstate_client_flush (client, 5000) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_sent == total);
    assert (stats.messages_sent == server->messages);
    uint64_t wakes, fast;
    s_test_paths (client, &wakes, &fast);
    assert (fast >= TEST_MIX_ROUNDS);
    assert (wakes > 0);
    assert (server->messages < total);
    if (verbose)
        zsys_info ("zstate_client test: mixed, %zu ops in %zu messages, %d sent "
                   "by senders, %d agent wake-ups", total, server->messages,
                   (int) fast, (int) wakes);
    assert (!client_test_server_recv (server, 0));
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
}


//  Fast path meets a full socket: the op is queued instead, the agent
//  retries, and nothing is lost or reordered
static void
s_test_fast_full (bool verbose, const char *directory)
{
    char *endpoint = zsys_sprintf ("ipc://%s/full.ipc", directory);
    test_server_t *server = client_test_server_new (endpoint, true);
    zstate_client_t *client = client_test_v1 ();
    zstate_client_set_sndhwm (client, 1);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    assert (client_test_event (client, "STATE", "CONNECTED", 5000));

    char *value = (char *) malloc (8000);
    memset (value, 'x', 7999);
    value [7999] = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    //  Paced, so that each send finds the path idle; the first one
    //  that wakes the agent is a fast send the socket refused
    size_t accepted = 0;
    uint64_t wakes = 0, fast = 0;
    while (wakes == 0) {
        assert (accepted < 10000);
        char key [32];
        snprintf (key, sizeof (key), "key-%zu", accepted++);
        zstate_batch_reset (batch);
        zstate_batch_set (batch, key, "v", value, NULL);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
        s_test_paths (client, &wakes, &fast);
        zclock_sleep (1);
    }
    assert (wakes == 1);
    assert (fast == accepted - 1);
    //  What follows queues behind it while the agent retries (once the
    //  socket has room again, sends may go fast again: how soon depends
    //  on libzmq's I/O threads, so the count is not exact)
    for (size_t index = 0; index < 10; index++) {
        char key [32];
        snprintf (key, sizeof (key), "key-%zu", accepted++);
        zstate_batch_reset (batch);
        zstate_batch_set (batch, key, "v", value, NULL);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
    }
    s_test_paths (client, &wakes, &fast);
    assert (fast >= accepted - 11 && fast < accepted);
    size_t received = 0;
    while (received < accepted) {
        bool got = client_test_server_recv (server, 5000);
        assert (got);
        for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
            char key [32];
            snprintf (key, sizeof (key), "key-%zu", received++);
            assert (streq (zstate_batch_key (server->batch, index, NULL), key));
        }
    }
    assert (received == accepted);
    assert (zstate_client_flush (client, 5000) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.messages_sent == server->messages);
    if (verbose)
        zsys_info ("zstate_client test: socket full after %zu fast sends",
                   (size_t) fast);
    free (value);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
    zstr_free (&endpoint);
}


//  --------------------------------------------------------------------------
//  Self test of this class

//  The client as an application uses it: connect to a server, send a
//  batch, wait until the server has acknowledged it, and close, learning
//  how many accepted operations were never acknowledged
static void
s_test_example (void)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    int rc = zstate_server_bind (server, "inproc://zstate-client-example");
    assert (rc == 0);
    zstate_consumer_t *routes = zstate_consumer_new (server, "APPL_DB", "ROUTE_TABLE");
    assert (routes);

    zstate_client_t *client = zstate_client_new ();
    assert (client);
    rc = zstate_client_connect (client, "inproc://zstate-client-example");
    assert (rc == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    rc = zstate_batch_set (batch, "10.0.0.0/24", "nexthop", "10.0.0.1", NULL);
    assert (rc == 0);
    rc = zstate_batch_del (batch, "10.0.1.0/24");
    assert (rc == 0);
    rc = zstate_client_send (client, "APPL_DB", "ROUTE_TABLE", batch);
    assert (rc == 0);
    //  Returns once the server acknowledged both: they are in the table
    rc = zstate_client_flush (client, 30000);
    assert (rc == 0);
    assert (zstate_consumer_pending (routes) == 2);
    assert (zstate_client_close (&client, 1000) == 0);
    assert (client == NULL);

    zstate_batch_destroy (&batch);
    zstate_consumer_destroy (&routes);
    zstate_server_destroy (&server);
}

void
zstate_client_test (bool verbose)
{
    printf (" * zstate_client: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    s_test_example ();
    char *directory = zsys_sprintf ("%s/zstate-client-XXXXXX",
                                    getenv ("TMPDIR")? getenv ("TMPDIR"): "/tmp");
    assert (mkdtemp (directory));

    s_test_basics (verbose);
    s_test_strays ();
    s_test_inproc ();
    s_test_threads (verbose);
    s_test_fast_path ();
    s_test_fast_mixed (verbose);
    s_test_fast_full (verbose, directory);
    zstate_client_queue_suite (verbose, directory);
    //  libzmq removes its ipc files when it closes the listeners, in its
    //  own time; do not wait for it
    char *path = zsys_sprintf ("%s/late.ipc", directory);
    unlink (path);
    zstr_free (&path);
    path = zsys_sprintf ("%s/slow.ipc", directory);
    unlink (path);
    zstr_free (&path);
    path = zsys_sprintf ("%s/full.ipc", directory);
    unlink (path);
    zstr_free (&path);
    rmdir (directory);
    zstr_free (&directory);
    //  @end

    printf ("OK\n");
}
