/*  =========================================================================
    zstate_consumer_test - the consumer table's white-box suites: routing,
    forwarding, flow control, signals, many tables, the socket limit

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include <poll.h>
#include <signal.h>

#define QUEUE_OPS_DEFAULT   262144
#define QUEUE_BYTES_DEFAULT (64 * 1024 * 1024)
#define POPS_DEFAULT        128     //  pops with max 0

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

//  True when operation index of batch and operation other_index of other
//  are the same, byte for byte
static bool
s_test_same_op (zstate_batch_t *batch, size_t index,
                zstate_batch_t *other, size_t other_index)
{
    if (zstate_batch_op (batch, index) != zstate_batch_op (other, other_index))
        return false;
    size_t size, other_size;
    const char *data = zstate_batch_key (batch, index, &size);
    const char *other_data = zstate_batch_key (other, other_index, &other_size);
    if (size != other_size || memcmp (data, other_data, size))
        return false;
    size_t fields = zstate_batch_field_count (batch, index);
    if (fields != zstate_batch_field_count (other, other_index))
        return false;
    for (size_t field = 0; field < fields; field++) {
        data = zstate_batch_name (batch, index, field, &size);
        other_data = zstate_batch_name (other, other_index, field, &other_size);
        if (size != other_size || memcmp (data, other_data, size))
            return false;
        data = zstate_batch_value (batch, index, field, &size);
        other_data = zstate_batch_value (other, other_index, field, &other_size);
        if (size != other_size || memcmp (data, other_data, size))
            return false;
    }
    return true;
}

//  Pop everything in expected from consumer, max at a time, waiting on the
//  consumer's socket (5 seconds at most), and check each operation in order
static void
s_test_drain (zstate_consumer_t *consumer, zstate_batch_t *expected, size_t max)
{
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    assert (poller);
    zstate_batch_t *batch = zstate_batch_new ();
    size_t index = 0;
    while (index < zstate_batch_size (expected)) {
        void *which = zpoller_wait (poller, 5000);
        assert (which == zstate_consumer_socket (consumer));
        size_t popped = zstate_consumer_pops (consumer, batch, max);
        assert (popped > 0 && popped <= (max? max: POPS_DEFAULT));
        assert (popped == zstate_batch_size (batch));
        for (size_t op = 0; op < popped; op++)
            assert (s_test_same_op (batch, op, expected, index++));
    }
    assert (index == zstate_batch_size (expected));
    zstate_batch_destroy (&batch);
    zpoller_destroy (&poller);
}

//  True when fd is readable within timeout msecs
static bool
s_test_fd_readable (int fd, int timeout)
{
    struct pollfd item = { fd, POLLIN, 0 };
    return poll (&item, 1, timeout) == 1 && (item.revents & POLLIN);
}

//  True when sock is readable within timeout msecs
static bool
s_test_sock_readable (zsock_t *sock, int timeout)
{
    zpoller_t *poller = zpoller_new (sock, NULL);
    assert (poller);
    bool readable = zpoller_wait (poller, timeout) == sock;
    zpoller_destroy (&poller);
    return readable;
}

//  What the flow suites share: a server with one consumer, fed by a raw
//  DEALER
typedef struct {
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    zsock_t *dealer;
    zuuid_t *session;
    uint64_t sequence;
    zstate_batch_t *batch;
    zstate_batch_t *expected;
} test_flow_t;

//  Wake-ups, pops bounds and order
static void
s_test_flow_wakeups (test_flow_t *flow)
{
    zstate_consumer_t *consumer = flow->consumer;
    zsock_t *dealer = flow->dealer;
    zuuid_t *session = flow->session;
    zstate_batch_t *batch = flow->batch;
    zstate_batch_t *expected = flow->expected;
    //  Nothing pending: neither the socket nor the fd is readable
    zsock_t *socket = zstate_consumer_socket (consumer);
    int fd = zstate_consumer_fd (consumer);
    assert (!s_test_sock_readable (socket, 0));
    assert (!s_test_fd_readable (fd, 0));
    assert (zstate_consumer_pops (consumer, batch, 0) == 0);

    //  Every kind of operation, a SET without fields, and binary data
    zstate_batch_set (expected, "Ethernet0", "mtu", "9100", "speed", "100000", NULL);
    zstate_batch_hset (expected, "Ethernet4", "admin_status", "up", NULL);
    zstate_batch_del (expected, "Ethernet8");
    zstate_batch_set (expected, "Ethernet12", NULL);
    zstate_batch_append (expected, ZSTATE_OP_HSET, "bin\0key", 7);
    zstate_batch_field (expected, "na\0me", 5, "\0value\0", 7);
    s_test_send (dealer, session, ++flow->sequence, "PORT_TABLE", expected);
    assert (s_test_sock_readable (socket, 5000));
    assert (s_test_fd_readable (fd, 5000));
    assert (zstate_consumer_pending (consumer) == 5);

    //  pops takes at most max, and both signals stay up while ops remain
    assert (zstate_consumer_pops (consumer, batch, 2) == 2);
    assert (s_test_same_op (batch, 0, expected, 0));
    assert (s_test_same_op (batch, 1, expected, 1));
    assert (s_test_sock_readable (socket, 0));
    assert (s_test_fd_readable (fd, 0));
    assert (zstate_consumer_pending (consumer) == 3);
    assert (zstate_consumer_pops (consumer, batch, 0) == 3);
    assert (zstate_batch_op (batch, 0) == ZSTATE_OP_DEL);
    assert (zstate_batch_op (batch, 1) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (batch, 1) == 0);
    size_t size;
    const char *data = zstate_batch_key (batch, 2, &size);
    assert (size == 7 && memcmp (data, "bin\0key", 7) == 0);
    data = zstate_batch_value (batch, 2, 0, &size);
    assert (size == 7 && memcmp (data, "\0value\0", 7) == 0);
    for (size_t index = 0; index < 3; index++)
        assert (s_test_same_op (batch, index, expected, index + 2));
    //  Drained: both signals are down again
    assert (!s_test_sock_readable (socket, 0));
    assert (!s_test_fd_readable (fd, 0));
    assert (zstate_consumer_pending (consumer) == 0);

    //  Several messages popped two at a time come out whole and in order
    zstate_batch_reset (expected);
    for (int message = 0; message < 3; message++) {
        zstate_batch_reset (batch);
        for (int op = 0; op < 5; op++) {
            char key [32];
            snprintf (key, sizeof (key), "key-%d-%d", message, op);
            zstate_batch_set (batch, key, "message", key, NULL);
            zstate_batch_set (expected, key, "message", key, NULL);
        }
        s_test_send (dealer, session, ++flow->sequence, "PORT_TABLE", batch);
    }
    s_test_drain (consumer, expected, 2);
    assert (!s_test_fd_readable (fd, 0));
    zstate_consumer_stats_t stats;
    zstate_consumer_stats (consumer, &stats);
    assert (stats.messages == 4);
    assert (stats.ops == 20);
    assert (stats.popped == 20);
    assert (stats.queued_ops == 0 && stats.queued_bytes == 0);
}

//  Forwarding to a writer, and a writer that does not read
static void
s_test_flow_forward (test_flow_t *flow)
{
    zstate_consumer_t *consumer = flow->consumer;
    zsock_t *dealer = flow->dealer;
    zuuid_t *session = flow->session;
    zstate_batch_t *batch = flow->batch;
    zstate_batch_t *expected = flow->expected;
    int rc;
    zstate_consumer_stats_t stats;
    //  Forwarding: the writer gets a copy of each message before pops does
    zuuid_t *uuid = zuuid_new ();
    char writer_endpoint [80];
    snprintf (writer_endpoint, sizeof (writer_endpoint), "inproc://zstate-test-writer-%s",
              zuuid_str (uuid));
    zuuid_destroy (&uuid);
    zsock_t *writer = zsock_new (ZMQ_PULL);
    assert (writer);
    zsock_set_rcvhwm (writer, 1);
    zsock_set_rcvtimeo (writer, 5000);
    rc = zsock_bind (writer, "%s", writer_endpoint);
    assert (rc == 0);
    rc = zstate_consumer_forward (consumer, "bogus");
    assert (rc == -1 && errno != 0);
    rc = zstate_consumer_forward (consumer, writer_endpoint);
    assert (rc == 0);
    zstate_batch_reset (expected);
    zstate_batch_hset (expected, "Ethernet0", "oper_status", "up", NULL);
    s_test_send (dealer, session, ++flow->sequence, "PORT_TABLE", expected);
    zframe_t *frame = zframe_recv (writer);
    assert (frame);
    zstate_msg_t *decoder = zstate_msg_new ();
    rc = zstate_msg_decode (decoder, zframe_data (frame), zframe_size (frame));
    assert (rc == 0);
    assert (streq (zstate_msg_table (decoder), "PORT_TABLE"));
    assert (zstate_msg_sequence (decoder) == flow->sequence);
    zframe_destroy (&frame);
    s_test_drain (consumer, expected, 0);

    //  A writer that does not read stops the server, which loses nothing
    zstate_batch_reset (expected);
    for (int message = 0; message < 200; message++) {
        char key [32];
        snprintf (key, sizeof (key), "forward-%d", message);
        zstate_batch_reset (batch);
        zstate_batch_set (batch, key, "index", key, NULL);
        zstate_batch_set (expected, key, "index", key, NULL);
        s_test_send (dealer, session, ++flow->sequence, "PORT_TABLE", batch);
    }
    for (int message = 0; message < 200; message++) {
        frame = zframe_recv (writer);
        assert (frame);
        rc = zstate_msg_decode (decoder, zframe_data (frame), zframe_size (frame));
        assert (rc == 0);
        assert (zstate_msg_sequence (decoder) == flow->sequence - 199 + message);
        zframe_destroy (&frame);
    }
    s_test_drain (consumer, expected, 64);
    zstate_consumer_stats (consumer, &stats);
    assert (stats.forwarded == 201);

    //  Once forwarding stops, nothing reaches the writer: by the time pops
    //  sees a message, its copy would have been sent
    rc = zstate_consumer_forward (consumer, NULL);
    assert (rc == 0);
    s_test_send (dealer, session, ++flow->sequence, "PORT_TABLE", expected);
    s_test_drain (consumer, expected, 0);
    assert (!s_test_sock_readable (writer, 0));
    zstate_consumer_stats (consumer, &stats);
    assert (stats.forwarded == 201);
    assert (stats.stalls == 0);

    zstate_msg_destroy (&decoder);
    zsock_destroy (&writer);
}

//  A small queue stops the server; a consumer destroyed while full
static void
s_test_flow_stall (test_flow_t *flow)
{
    zstate_server_t *server = flow->server;
    zstate_consumer_t *consumer = flow->consumer;
    zsock_t *dealer = flow->dealer;
    zuuid_t *session = flow->session;
    zstate_batch_t *batch = flow->batch;
    zstate_batch_t *expected = flow->expected;
    int rc;
    zstate_consumer_stats_t stats;
    //  A small queue that nobody pops stops the server, then the clients;
    //  when the application pops again, everything arrives, in order
    rc = zstate_consumer_set_queue (consumer, 4, 1024 * 1024);
    assert (rc == 0);
    zstate_batch_reset (expected);
    for (int message = 0; message < 300; message++) {
        char key [32];
        snprintf (key, sizeof (key), "slow-%d", message);
        zstate_batch_reset (batch);
        zstate_batch_del (batch, key);
        zstate_batch_del (expected, key);
        s_test_send (dealer, session, ++flow->sequence, "PORT_TABLE", batch);
    }
    zstate_server_stats_t server_stats;
    zstate_server_test_wait_stalled (server, consumer, &server_stats);
    zstate_consumer_stats (consumer, &stats);
    assert (stats.stalls == 1);
    //  One-op messages: the queue stops exactly at the bound
    assert (stats.queued_ops == 4);
    s_test_drain (consumer, expected, 3);
    rc = zstate_server_stats (server, &server_stats);
    assert (rc == 0);
    assert (server_stats.malformed == 0 && server_stats.dropped == 0);
    assert (server_stats.unroutable == 0 && server_stats.gaps == 0);
    assert (server_stats.routed == server_stats.messages);
    zstate_consumer_stats (consumer, &stats);
    assert (stats.stalls > 1);

    //  A consumer destroyed with messages queued and in flight leaks nothing
    zstate_consumer_t *doomed = zstate_consumer_new (server, "APPL_DB", "DOOMED_TABLE");
    assert (doomed);
    rc = zstate_consumer_set_queue (doomed, 10, 1024 * 1024);
    assert (rc == 0);
    for (int message = 0; message < 100; message++)
        s_test_send (dealer, session, ++flow->sequence, "DOOMED_TABLE", batch);
    zstate_server_test_wait_stalled (server, doomed, &server_stats);
    zstate_consumer_destroy (&doomed);
    assert (doomed == NULL);
    //  The server was waiting for it: that message is dropped, and the
    //  server serves everyone else again
    rc = zstate_server_stats (server, &server_stats);
    assert (rc == 0);
    assert (server_stats.dropped == 1);
    zstate_batch_reset (expected);
    zstate_batch_del (expected, "Ethernet0");
    s_test_send (dealer, session, ++flow->sequence, "PORT_TABLE", expected);
    s_test_drain (consumer, expected, 0);
    //  Its table can be taken again at once
    doomed = zstate_consumer_new (server, "APPL_DB", "DOOMED_TABLE");
    assert (doomed);
    zstate_consumer_destroy (&doomed);
}

//  A writer that never reads, until forwarding stops
static void
s_test_flow_sink (test_flow_t *flow)
{
    zstate_server_t *server = flow->server;
    zstate_consumer_t *consumer = flow->consumer;
    zsock_t *dealer = flow->dealer;
    zuuid_t *session = flow->session;
    zstate_batch_t *batch = flow->batch;
    zstate_batch_t *expected = flow->expected;
    int rc;
    zstate_server_stats_t server_stats;
    rc = zstate_server_stats (server, &server_stats);
    assert (rc == 0);
    char writer_endpoint [80];
    zframe_t *frame;
    zstate_consumer_stats_t stats;
    //  The server holds a message for a writer that never reads; once
    //  forwarding stops, that message and the rest reach the consumer, in
    //  order, each copied to the writer or not, none lost
    zuuid_t *sink_uuid = zuuid_new ();
    snprintf (writer_endpoint, sizeof (writer_endpoint), "inproc://zstate-test-sink-%s",
              zuuid_str (sink_uuid));
    zuuid_destroy (&sink_uuid);
    zsock_t *sink = zsock_new (ZMQ_PULL);
    assert (sink);
    zsock_set_rcvhwm (sink, 1);
    rc = zsock_bind (sink, "%s", writer_endpoint);
    assert (rc == 0);
    rc = zstate_consumer_forward (consumer, writer_endpoint);
    assert (rc == 0);
    rc = zstate_consumer_set_queue (consumer, QUEUE_OPS_DEFAULT, QUEUE_BYTES_DEFAULT);
    assert (rc == 0);
    zstate_consumer_stats (consumer, &stats);
    uint64_t forwarded = stats.forwarded;
    uint64_t stalls = stats.stalls;
    zstate_batch_reset (expected);
    for (int message = 0; message < 100; message++) {
        char key [32];
        snprintf (key, sizeof (key), "sink-%d", message);
        zstate_batch_reset (batch);
        zstate_batch_hset (batch, key, "field", key, NULL);
        zstate_batch_hset (expected, key, "field", key, NULL);
        s_test_send (dealer, session, ++flow->sequence, "PORT_TABLE", batch);
    }
    uint64_t server_stalls = server_stats.stalls;
    int64_t deadline = zclock_mono () + 5000;
    bool holding = false;
    while (!holding && zclock_mono () < deadline) {
        rc = zstate_server_stats (server, &server_stats);
        assert (rc == 0);
        holding = server_stats.stalls > server_stalls
               && server_stats.messages == server_stats.routed + server_stats.unroutable
                                         + server_stats.dropped + 1;
    }
    assert (holding);
    rc = zstate_consumer_forward (consumer, NULL);
    assert (rc == 0);
    s_test_drain (consumer, expected, 0);
    size_t copies = 0;
    zsock_set_rcvtimeo (sink, 0);
    while ((frame = zframe_recv (sink))) {
        copies++;
        zframe_destroy (&frame);
    }
    zstate_consumer_stats (consumer, &stats);
    assert (copies > 0 && copies < 100);
    assert (stats.forwarded - forwarded == copies);
    //  The writer stopped the server, not the consumer's queue
    assert (stats.stalls == stalls);
    zsock_destroy (&sink);
}

//  Routing, forwarding and flow control through a real server, from a raw
//  DEALER
static void
s_test_flow (bool verbose)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_server_set_verbose (server, verbose);

    //  Names are checked before anything starts
    zstate_consumer_t *consumer = zstate_consumer_new (server, "", "PORT_TABLE");
    assert (consumer == NULL && errno == EINVAL);
    consumer = zstate_consumer_new (server, "APPL_DB", NULL);
    assert (consumer == NULL && errno == EINVAL);
    char long_name [ZSTATE_NAME_MAX + 2];
    memset (long_name, 'x', sizeof (long_name) - 1);
    long_name [ZSTATE_NAME_MAX + 1] = 0;
    consumer = zstate_consumer_new (server, "APPL_DB", long_name);
    assert (consumer == NULL && errno == EINVAL);

    //  Register first, bind after: nothing sent after the bind is lost
    consumer = zstate_consumer_new (server, "APPL_DB", "PORT_TABLE");
    assert (consumer);
    zstate_consumer_set_verbose (consumer, verbose);
    assert (streq (zstate_consumer_db (consumer), "APPL_DB"));
    assert (streq (zstate_consumer_table (consumer), "PORT_TABLE"));
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_sndtimeo (dealer, 5000);
    int rc = zsock_connect (dealer, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    zuuid_t *session = zuuid_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_t *expected = zstate_batch_new ();
    test_flow_t flow = { server, consumer, dealer, session, 0, batch, expected };
    s_test_flow_wakeups (&flow);
    s_test_flow_forward (&flow);
    s_test_flow_stall (&flow);
    s_test_flow_sink (&flow);
    zstate_consumer_destroy (&consumer);
    assert (consumer == NULL);
    zstate_server_destroy (&server);
    zstate_batch_destroy (&batch);
    zstate_batch_destroy (&expected);
    zuuid_destroy (&session);
    zsock_destroy (&dealer);
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

//  Wait up to timeout msecs for fd to be readable, through signals
static bool
s_test_fd_wait (int fd, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        struct pollfd item = { fd, POLLIN, 0 };
        int rc = poll (&item, 1, timeout);
        if (rc >= 0)
            return rc == 1;
        assert (errno == EINTR);
        timeout = (int) (deadline - zclock_mono ());
        if (timeout < 0)
            timeout = 0;
    }
}

//  Wait up to timeout msecs for sock to be readable, through signals
static bool
s_test_sock_wait (zsock_t *sock, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, timeout);
        if (rc >= 0)
            return rc == 1;
        assert (zmq_errno () == EINTR);
        timeout = (int) (deadline - zclock_mono ());
        if (timeout < 0)
            timeout = 0;
    }
}

//  A bound of 0 is refused, and the table keeps its bound and its flow
static void
s_test_queue_zero (bool verbose)
{
    test_rig_t rig;
    s_test_rig_new (&rig, "ZERO_TABLE", verbose);
    int rc = zstate_consumer_set_queue (rig.consumer, 0, 1024 * 1024);
    assert (rc == -1 && errno == EINVAL);
    assert (strstr (zstate_reason (), "at least 1"));
    rc = zstate_consumer_set_queue (rig.consumer, 1024, 0);
    assert (rc == -1 && errno == EINVAL);
    zsock_t *dealer = s_test_rig_dealer (&rig);
    zstate_batch_t *expected = zstate_batch_new ();
    zstate_batch_set (expected, "Ethernet0", "mtu", "9100", NULL);
    s_test_send (dealer, rig.session, ++rig.sequence, "ZERO_TABLE", expected);
    s_test_drain (rig.consumer, expected, 0);
    zstate_consumer_stats_t stats;
    zstate_consumer_stats (rig.consumer, &stats);
    assert (stats.stalls == 0);
    zstate_batch_destroy (&expected);
    zsock_destroy (&dealer);
    s_test_rig_destroy (&rig);
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
            assert (s_test_sock_wait (socket, 10000));
        else
            assert (s_test_fd_wait (zstate_consumer_fd (rig.consumer), 10000));
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
    assert (!s_test_fd_wait (zstate_consumer_fd (rig.consumer), 0));
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
        assert (s_test_fd_wait (zstate_consumer_fd (consumers [index]), 10000));
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
    assert (s_test_fd_wait (zstate_consumer_fd (last), 10000));
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

//  The consumer's selftest: its example and host loop first (in
//  zstate_consumer.c), then the white-box suites
void
zstate_consumer_suites (bool verbose)
{
    zstate_consumer_test (verbose);
    printf (" * zstate_consumer (suites): ");
    if (verbose)
        printf ("\n");
    s_test_flow (verbose);
    s_test_queue_zero (verbose);
    s_test_signal_storm (verbose, false);
    s_test_signal_storm (verbose, true);
    s_test_many_tables (verbose);
    s_test_socket_limit (verbose);
    printf ("OK\n");
}
