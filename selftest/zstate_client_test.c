/*  =========================================================================
    zstate_client_test - the client's selftest with protocol version 1:
    sending, the fast path, batching, bounds, retries and the link, against
    a raw ROUTER; what senders and the agent share is checked through the
    private header

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"

//  --------------------------------------------------------------------------
//  Selftest helpers

//  A client of version 1, for the raw server below, which speaks only
//  that: the first tests cover sending, batching and the link
static zstate_client_t *
s_test_client_v1 (void)
{
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    int rc = zstate_client_set_protocol (client, 1);
    assert (rc == 0);
    return client;
}

//  A raw server: a ROUTER socket and what it checks on every message
typedef struct {
    zsock_t *router;            //  Bound ROUTER
    char *endpoint;             //  Where it is bound
    zstate_msg_t *decoder;      //  Decodes every message
    zstate_batch_t *batch;      //  Operations of the last message
    byte session [ZSTATE_MSG_SESSION_SIZE];     //  The client's session id
    uint64_t sequence;          //  Sequence number of the last message
    size_t messages;            //  Messages received
    size_t ops;                 //  Operations received
} test_server_t;

//  Bind a ROUTER at endpoint, or at tcp://127.0.0.1:* when NULL. A slow
//  server buffers as little as it can, so it pushes back when it does not
//  read.
static test_server_t *
s_test_server_new (const char *endpoint, bool slow)
{
    test_server_t *self = (test_server_t *) zmalloc (sizeof (test_server_t));
    assert (self);
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    if (slow) {
        zsock_set_rcvhwm (self->router, 1);
        zsock_set_rcvbuf (self->router, 4096);
    }
    if (endpoint) {
        //  A listener we closed on this port goes away asynchronously, in
        //  libzmq's threads: retry while it still holds the port
        int rc = zsock_bind (self->router, "%s", endpoint);
        for (int attempt = 0; rc == -1 && zmq_errno () == EADDRINUSE && attempt < 500;
             attempt++) {
            zclock_sleep (10);
            rc = zsock_bind (self->router, "%s", endpoint);
        }
        assert (rc != -1);
        self->endpoint = strdup (endpoint);
    }
    else {
        int port = zsock_bind (self->router, "tcp://127.0.0.1:*");
        assert (port > 0);
        self->endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", port);
    }
    self->decoder = zstate_msg_new ();
    self->batch = zstate_batch_new ();
    return self;
}

static void
s_test_server_destroy (test_server_t **self_p)
{
    test_server_t *self = *self_p;
    zsock_destroy (&self->router);
    zstr_free (&self->endpoint);
    zstate_msg_destroy (&self->decoder);
    zstate_batch_destroy (&self->batch);
    free (self);
    *self_p = NULL;
}

//  Receive one message into self->batch, checking the envelope, the
//  session and the sequence. Returns false when nothing came in timeout.
static bool
s_test_server_recv (test_server_t *self, int timeout)
{
    zsock_set_rcvtimeo (self->router, timeout);
    zmsg_t *msg = zmsg_recv (self->router);
    if (!msg)
        return false;
    assert (zmsg_size (msg) == 2);
    zframe_t *payload = zmsg_last (msg);
    int rc = zstate_msg_decode (self->decoder, zframe_data (payload), zframe_size (payload));
    assert (rc == ZSTATE_WIRE_OK);
    if (self->messages == 0)
        memcpy (self->session, zstate_msg_session (self->decoder), ZSTATE_MSG_SESSION_SIZE);
    else
        assert (memcmp (self->session, zstate_msg_session (self->decoder),
                        ZSTATE_MSG_SESSION_SIZE) == 0);
    assert (zstate_msg_sequence (self->decoder) == self->sequence + 1);
    self->sequence++;
    size_t size;
    const byte *ops = zstate_msg_ops (self->decoder, &size);
    size_t count = zstate_msg_op_count (self->decoder);
    zstate_batch_reset (self->batch);
    size_t used;
    rc = zstate_batch_load (self->batch, ops, size, count, &used);
    assert (rc == ZSTATE_WIRE_OK);
    assert (used == size);
    self->messages++;
    self->ops += count;
    zmsg_destroy (&msg);
    return true;
}

//  Wait for the event type (with detail, when not NULL), skipping others.
//  Returns false when it did not come in timeout.
static bool
s_test_event (zstate_client_t *client, const char *type, const char *detail, int timeout)
{
    zsock_t *events = zstate_client_events (client);
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        zsock_set_rcvtimeo (events, (int) left);
        char *event_type = NULL;
        char *endpoint = NULL;
        char *event_detail = NULL;
        if (zsock_recv (events, "sss", &event_type, &endpoint, &event_detail) == -1)
            return false;
        bool found = streq (event_type, type)
                  && (!detail || streq (event_detail, detail));
        zstr_free (&event_type);
        zstr_free (&endpoint);
        zstr_free (&event_detail);
        if (found)
            return true;
    }
}

//  A TCP port nobody listens on (bound, read back and closed again), below
//  49152 so that CZMQ's tcp://...:* binds, which count up from there, do
//  not take it meanwhile
static int
s_test_free_port (void)
{
    while (true) {
        int handle = socket (AF_INET, SOCK_STREAM, 0);
        assert (handle != -1);
        struct sockaddr_in address;
        memset (&address, 0, sizeof (address));
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        address.sin_port = 0;
        int rc = bind (handle, (struct sockaddr *) &address, sizeof (address));
        assert (rc == 0);
        socklen_t size = sizeof (address);
        rc = getsockname (handle, (struct sockaddr *) &address, &size);
        assert (rc == 0);
        close (handle);
        int port = ntohs (address.sin_port);
        if (port < 49152)
            return port;
    }
}

//  One op SET "t<sender>-<counter>" { v = "<sender>:<counter>" }
static void
s_test_op (zstate_batch_t *batch, int sender, size_t counter)
{
    char key [32];
    char value [32];
    snprintf (key, sizeof (key), "t%d-%zu", sender, counter);
    snprintf (value, sizeof (value), "%d:%zu", sender, counter);
    int rc = zstate_batch_set (batch, key, "v", value, NULL);
    assert (rc == 0);
}

//  Check an op made by s_test_op; return its sender, store its counter
static int
s_test_op_check (zstate_batch_t *batch, size_t index, size_t *counter_p)
{
    int sender;
    size_t counter;
    assert (zstate_batch_op (batch, index) == ZSTATE_OP_SET);
    int rc = sscanf (zstate_batch_key (batch, index, NULL), "t%d-%zu", &sender, &counter);
    assert (rc == 2);
    char value [32];
    snprintf (value, sizeof (value), "%d:%zu", sender, counter);
    const char *got = zstate_batch_get (batch, index, "v");
    assert (got && streq (got, value));
    *counter_p = counter;
    return sender;
}

//  Send count single-op batches numbered from first for sender; stop at
//  the first failure. Returns how many were accepted.
static size_t
s_test_send (zstate_client_t *client, int sender, size_t first, size_t count)
{
    zstate_batch_t *batch = zstate_batch_new ();
    size_t sent = 0;
    for (; sent < count; sent++) {
        zstate_batch_reset (batch);
        s_test_op (batch, sender, first + sent);
        if (zstate_client_send (client, "db", "table", batch))
            break;
    }
    zstate_batch_destroy (&batch);
    return sent;
}

//  Receive until expected ops of sender arrived in order from first.
static void
s_test_expect (test_server_t *server, int sender, size_t first, size_t expected)
{
    size_t next = first;
    while (next < first + expected) {
        bool received = s_test_server_recv (server, 5000);
        assert (received);
        for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
            size_t counter;
            int got = s_test_op_check (server->batch, index, &counter);
            assert (got == sender);
            assert (counter == next);
            next++;
        }
    }
    assert (next == first + expected);
}

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
    size_t sent = s_test_send (sender->client, sender->sender, 0, TEST_THREAD_OPS);
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
        size_t sent = s_test_send (mixer->client, mixer->sender, counter, TEST_MIX_BURST);
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
            sent = s_test_send (mixer->client, mixer->sender, counter, 1);
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
    test_server_t *server = s_test_server_new (NULL, false);
    zstate_client_t *client = s_test_client_v1 ();
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
    assert (s_test_event (client, "STATE", "CONNECTED", 5000));
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
    assert (s_test_server_recv (server, 5000));
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
    assert (s_test_server_recv (server, 5000));
    assert (streq (zstate_msg_table (server->decoder), "other"));
    assert (server->sequence == 2);

    //  A server going away is seen, and coming back too
    char *endpoint = strdup (server->endpoint);
    s_test_server_destroy (&server);
    assert (s_test_event (client, "STATE", "DISCONNECTED", 5000));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_DISCONNECTED);
    server = s_test_server_new (endpoint, false);
    assert (s_test_event (client, "STATE", "CONNECTED", 5000));
    zstate_client_stats (client, &stats);
    assert (stats.connects == 2 && stats.disconnects == 1);
    free (endpoint);

    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
}


//  inproc: connected as soon as connect succeeds, no monitor
static void
s_test_inproc (void)
{
    test_server_t *server = s_test_server_new ("inproc://zstate-client-test", false);
    zstate_client_t *client = s_test_client_v1 ();
    int rc = zstate_client_connect (client, "inproc://zstate-client-test");
    assert (rc == 0);
    assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTED);
    size_t sent = s_test_send (client, 0, 0, 100);
    assert (sent == 100);
    s_test_expect (server, 0, 0, 100);
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
}


//  Many threads on one client: every op once, per-thread order, and
//  batching under load
static void
s_test_threads (bool verbose)
{
    test_server_t *server = s_test_server_new (NULL, false);
    zstate_client_t *client = s_test_client_v1 ();
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
        bool received = s_test_server_recv (server, 10000);
        assert (received);
        for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
            size_t counter;
            int sender = s_test_op_check (server->batch, index, &counter);
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
    assert (!s_test_server_recv (server, 0));
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
}


//  Fast path: on an idle, connected link each send goes to the socket
//  from the sending thread; the agent is never woken, and sequence
//  numbers stay consecutive
static void
s_test_fast_path (void)
{
    test_server_t *server = s_test_server_new (NULL, false);
    zstate_client_t *client = s_test_client_v1 ();
    int rc = zstate_client_connect (client, server->endpoint);
    assert (rc == 0);
    assert (s_test_event (client, "STATE", "CONNECTED", 5000));
    uint64_t wakes, fast;
    s_test_paths (client, &wakes, &fast);
    assert (wakes == 0 && fast == 0);
    for (size_t counter = 0; counter < 50; counter++) {
        size_t sent = s_test_send (client, 6, counter, 1);
        assert (sent == 1);
        s_test_expect (server, 6, counter, 1);
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
        s_test_op (batch, 6, 50 + index);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    s_test_expect (server, 6, 50, 10);
    assert (server->sequence == 51);
    s_test_paths (client, &wakes, &fast);
    assert (wakes == 0 && fast == 51);

    //  ... unless it spans messages: that is the agent's job
    zstate_client_set_batch (client, 4, 64 * 1024);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    for (size_t message = 0; message < 3; message++)
        assert (s_test_server_recv (server, 5000));
    assert (server->sequence == 54);
    s_test_paths (client, &wakes, &fast);
    assert (wakes == 1 && fast == 51);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
}


//  Fast path mixed with queued sends from several threads: every op
//  once, per-thread order, consecutive sequence numbers (checked by
//  s_test_server_recv), and batching under load
static void
s_test_fast_mixed (bool verbose)
{
    test_server_t *server = s_test_server_new (NULL, false);
    zstate_client_t *client = s_test_client_v1 ();
    //  Room for every message of the test, so that a lone send never
    //  meets a full socket while the reader lags (as under valgrind):
    //  the full socket has its own test below
    zstate_client_set_sndhwm (client, TEST_MIX_THREADS * TEST_MIX_ROUNDS
                                      * (TEST_MIX_BURST + 1));
    int rc = zstate_client_connect (client, server->endpoint);
    assert (rc == 0);
    assert (s_test_event (client, "STATE", "CONNECTED", 5000));

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
        bool received = s_test_server_recv (server, 10000);
        assert (received);
        for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
            size_t counter;
            int sender = s_test_op_check (server->batch, index, &counter);
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
    assert (!s_test_server_recv (server, 0));
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
}


//  Fast path meets a full socket: the op is queued instead, the agent
//  retries, and nothing is lost or reordered
static void
s_test_fast_full (bool verbose, const char *directory)
{
    char *endpoint = zsys_sprintf ("ipc://%s/full.ipc", directory);
    test_server_t *server = s_test_server_new (endpoint, true);
    zstate_client_t *client = s_test_client_v1 ();
    zstate_client_set_sndhwm (client, 1);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    assert (s_test_event (client, "STATE", "CONNECTED", 5000));

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
        bool got = s_test_server_recv (server, 5000);
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
    s_test_server_destroy (&server);
    zstr_free (&endpoint);
}


//  Late server start, tcp: sends before anything is bound arrive, in
//  order, once the server binds
static void
s_test_late_tcp (void)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
    zstate_client_t *client = s_test_client_v1 ();
    zstate_client_set_reconnect (client, 10, 0);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTING);
    size_t sent = s_test_send (client, 1, 0, 500);
    assert (sent == 500);
    test_server_t *server = s_test_server_new (endpoint, false);
    s_test_expect (server, 1, 0, 500);
    assert (s_test_event (client, "STATE", "CONNECTED", 5000));
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
}


//  Late server start, ipc, with ops sent before connect too
static void
s_test_late_ipc (const char *directory)
{
    char *endpoint = zsys_sprintf ("ipc://%s/late.ipc", directory);
    zstate_client_t *client = s_test_client_v1 ();
    zstate_client_set_reconnect (client, 10, 0);
    size_t sent = s_test_send (client, 2, 0, 50);
    assert (sent == 50);
    //  Nothing goes anywhere before connect
    assert (zstate_client_flush (client, 0) == -1 && errno == ETIMEDOUT);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    sent = s_test_send (client, 2, 50, 50);
    assert (sent == 50);
    test_server_t *server = s_test_server_new (endpoint, false);
    s_test_expect (server, 2, 0, 100);
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
    zstr_free (&endpoint);
}


//  With a full queue of 20: whole or nothing, over the bound, the byte
//  bound; returns the ops accepted so far
static size_t
s_test_queue_whole (zstate_client_t *client, zstate_batch_t *batch, size_t accepted)
{
    //  Whole or nothing: raise the bound by 5, a batch of 10 is refused
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.queued_ops == 20);
    zstate_client_set_queue (client, 25, 1024 * 1024);
    zstate_batch_reset (batch);
    for (size_t index = 0; index < 10; index++)
        s_test_op (batch, 3, accepted + index);
    int rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == -1 && errno == ENOBUFS);
    zstate_client_stats (client, &stats);
    assert (stats.queued_ops == 20);
    //  ... and 5 are accepted
    zstate_batch_reset (batch);
    for (size_t index = 0; index < 5; index++)
        s_test_op (batch, 3, accepted + index);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    accepted += 5;
    //  A call over the bound itself is refused for good, with EMSGSIZE,
    //  full queue or not, so a caller that retries on ENOBUFS stops
    zstate_batch_reset (batch);
    for (size_t index = 0; index < 26; index++)
        s_test_op (batch, 3, accepted + index);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == -1 && errno == EMSGSIZE);
    assert (strstr (zstate_reason (), "over the queue bound"));
    zstate_client_set_queue (client, 1000, zstate_batch_bytes (batch) - 1);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == -1 && errno == EMSGSIZE);
    zstate_client_set_queue (client, 25, 1024 * 1024);
    zstate_client_stats (client, &stats);
    assert (stats.queued_ops == 25);
    //  The byte bound too
    zstate_client_stats (client, &stats);
    zstate_client_set_queue (client, 1000, stats.queued_bytes + 10);
    zstate_batch_reset (batch);
    s_test_op (batch, 3, accepted);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == -1 && errno == ENOBUFS);
    zstate_client_stats (client, &stats);
    assert (stats.ops_rejected > 0);
    assert (stats.retries > 0);
    assert (zstate_client_flush (client, 10) == -1 && errno == ETIMEDOUT);
    return accepted;
}

//  Queue bounds: with no server and a full socket, send fails at once
//  with ENOBUFS; what was accepted arrives once a server appears
static void
s_test_queue_bounds (bool verbose)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
    zstate_client_t *client = s_test_client_v1 ();
    zstate_client_set_queue (client, 20, 1024 * 1024);
    zstate_client_set_sndhwm (client, 1);
    zstate_client_set_reconnect (client, 10, 0);
    zstate_client_set_linger (client, 0);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);

    //  The socket takes one message (its HWM) and nothing more: the
    //  next op stays with the client, and so do those after it, until
    //  the queue is full
    zstate_batch_t *batch = zstate_batch_new ();
    s_test_op (batch, 3, 0);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    assert (zstate_client_flush (client, 5000) == 0);
    zstate_batch_reset (batch);
    s_test_op (batch, 3, 1);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    assert (zstate_client_flush (client, 50) == -1 && errno == ETIMEDOUT);
    size_t accepted = 2;
    int64_t elapsed = 0;
    while (accepted < 10000) {
        zstate_batch_reset (batch);
        s_test_op (batch, 3, accepted);
        int64_t started = zclock_usecs ();
        rc = zstate_client_send (client, "db", "table", batch);
        elapsed = zclock_usecs () - started;
        if (rc == -1)
            break;
        accepted++;
    }
    assert (rc == -1 && errno == ENOBUFS);
    assert (strstr (zstate_reason (), "queue full"));
    if (verbose)
        zsys_info ("zstate_client test: ENOBUFS after %zu ops, in %d usecs",
                   accepted, (int) elapsed);

    accepted = s_test_queue_whole (client, batch, accepted);

    test_server_t *server = s_test_server_new (endpoint, false);
    s_test_expect (server, 3, 0, accepted);
    assert (zstate_client_flush (client, 5000) == 0);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
}


//  The default queue holds a call as large as the largest wire message
//  (ZSTATE_OPS_MAX operations); one operation more is over the bound
static void
s_test_queue_default (void)
{
    zstate_client_t *client = zstate_client_new ();
    zstate_client_set_linger (client, 0);
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t index = 0; index < ZSTATE_OPS_MAX; index++) {
        char key [16];
        snprintf (key, sizeof (key), "%zx", index);
        int rc = zstate_batch_del (batch, key);
        assert (rc == 0);
    }
    int rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.queued_ops == ZSTATE_OPS_MAX);
    assert (zstate_batch_del (batch, "one more") == 0);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == -1 && errno == EMSGSIZE);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
}


//  Link timeout: no server, FAILED, send refused; a server appears and
//  the client works again
static void
s_test_link_timeout (void)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
    zstate_client_t *client = s_test_client_v1 ();
    zstate_client_set_link_timeout (client, 100);
    zstate_client_set_reconnect (client, 10, 0);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    assert (s_test_event (client, "STATE", "CONNECTING", 5000));
    assert (s_test_event (client, "STATE", "FAILED", 5000));
    assert (s_test_event (client, "ERROR", NULL, 5000));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_FAILED);
    zstate_batch_t *batch = zstate_batch_new ();
    s_test_op (batch, 4, 0);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == -1 && errno == ENOTCONN);
    assert (strstr (zstate_reason (), "no connection"));

    test_server_t *server = s_test_server_new (endpoint, false);
    assert (s_test_event (client, "STATE", "CONNECTED", 5000));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTED);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    s_test_expect (server, 4, 0, 1);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
}


//  Retries: a server that does not read, small HWMs; retries counted,
//  FAILED after the retry timeout, flush times out; then the server
//  reads and everything arrives
static void
s_test_retries (bool verbose, const char *directory)
{
    char *endpoint = zsys_sprintf ("ipc://%s/slow.ipc", directory);
    test_server_t *server = s_test_server_new (endpoint, true);

    zstate_client_t *client = s_test_client_v1 ();
    zstate_client_set_sndhwm (client, 1);
    zstate_client_set_batch (client, 16, 64 * 1024);
    zstate_client_set_retry (client, 1, 20, 300);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    assert (s_test_event (client, "STATE", "CONNECTED", 5000));

    char *value = (char *) malloc (8000);
    memset (value, 'x', 7999);
    value [7999] = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    size_t accepted = 0;
    for (; accepted < 1000; accepted++) {
        char key [32];
        snprintf (key, sizeof (key), "key-%zu", accepted);
        zstate_batch_reset (batch);
        zstate_batch_set (batch, key, "v", value, NULL);
        if (zstate_client_send (client, "db", "table", batch)) {
            assert (errno == ENOTCONN);
            break;
        }
    }
    assert (s_test_event (client, "ERROR", NULL, 5000));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_FAILED);
    assert (zstate_client_flush (client, 20) == -1 && errno == ETIMEDOUT);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.retries > 0);
    assert (stats.queued_ops > 0);

    size_t received = 0;
    while (received < accepted) {
        bool got = s_test_server_recv (server, 5000);
        assert (got);
        for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
            char key [32];
            snprintf (key, sizeof (key), "key-%zu", received++);
            assert (streq (zstate_batch_key (server->batch, index, NULL), key));
            assert (streq (zstate_batch_get (server->batch, index, "v"), value));
        }
        assert (zstate_batch_size (server->batch) <= 16);
    }
    assert (received == accepted);
    assert (s_test_event (client, "STATE", "CONNECTED", 5000));
    assert (zstate_client_flush (client, 5000) == 0);
    if (verbose)
        zsys_info ("zstate_client test: %zu ops after %d retries",
                   accepted, (int) stats.retries);
    free (value);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    s_test_server_destroy (&server);
    zstr_free (&endpoint);
}


//  Destroy with a dead peer returns after linger, not later
static void
s_test_destroy (bool verbose)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
    zstate_client_t *client = s_test_client_v1 ();
    zstate_client_set_sndhwm (client, 1);
    zstate_client_set_linger (client, 100);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    //  One message fills the socket; the rest stays with the client
    size_t sent = s_test_send (client, 5, 0, 1);
    assert (sent == 1);
    assert (zstate_client_flush (client, 5000) == 0);
    sent = s_test_send (client, 5, 1, 100);
    assert (sent == 100);
    int64_t started = zclock_mono ();
    zstate_client_destroy (&client);
    int64_t elapsed = zclock_mono () - started;
    if (verbose)
        zsys_info ("zstate_client test: destroy took %d ms", (int) elapsed);
    //  Bounded by the linger of 100 msecs, not by the server that never
    //  reads; the bound is generous for a loaded machine
    assert (elapsed < 60000);

    //  Never connected: destroy does not wait at all
    client = s_test_client_v1 ();
    sent = s_test_send (client, 5, 0, 10);
    assert (sent == 10);
    zstate_client_destroy (&client);
}


//  --------------------------------------------------------------------------
//  Self test of this class

void
zstate_client_test (bool verbose)
{
    printf (" * zstate_client: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    char *directory = zsys_sprintf ("%s/zstate-client-XXXXXX",
                                    getenv ("TMPDIR")? getenv ("TMPDIR"): "/tmp");
    assert (mkdtemp (directory));

    s_test_basics (verbose);
    s_test_inproc ();
    s_test_threads (verbose);
    s_test_fast_path ();
    s_test_fast_mixed (verbose);
    s_test_fast_full (verbose, directory);
    s_test_late_tcp ();
    s_test_late_ipc (directory);
    s_test_queue_bounds (verbose);
    s_test_queue_default ();
    s_test_link_timeout ();
    s_test_retries (verbose, directory);
    s_test_destroy (verbose);
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
