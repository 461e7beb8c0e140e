/*  =========================================================================
    zstate_consumer_test - the consumer table's white-box suites: routing,
    forwarding, flow control, windows over restored entries; then the
    stress suite
    (selftest/zstate_consumer_stress_suite.c)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include <poll.h>

#define QUEUE_OPS_DEFAULT   262144
#define QUEUE_BYTES_DEFAULT (64 * 1024 * 1024)
#define POPS_DEFAULT        128     //  pops with max 0

//  From selftest/zstate_consumer_stress_suite.c and
//  selftest/zstate_consumer_window_suite.c
void
    zstate_consumer_stress_suite (bool verbose);
void
    zstate_consumer_window_suite (bool verbose);

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

//  A bound of 0 is refused, and the table keeps its bound and its flow
static void
s_test_queue_zero (bool verbose)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_server_set_verbose (server, verbose);
    zstate_consumer_t *consumer = zstate_consumer_new (server, "APPL_DB", "ZERO_TABLE");
    assert (consumer);
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    int rc = zstate_consumer_set_queue (consumer, 0, 1024 * 1024);
    assert (rc == -1 && errno == EINVAL);
    assert (strstr (zstate_reason (), "at least 1"));
    rc = zstate_consumer_set_queue (consumer, 1024, 0);
    assert (rc == -1 && errno == EINVAL);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_sndtimeo (dealer, 10000);
    rc = zsock_connect (dealer, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    zuuid_t *session = zuuid_new ();
    zstate_batch_t *expected = zstate_batch_new ();
    zstate_batch_set (expected, "Ethernet0", "mtu", "9100", NULL);
    s_test_send (dealer, session, 1, "ZERO_TABLE", expected);
    s_test_drain (consumer, expected, 0);
    zstate_consumer_stats_t stats;
    zstate_consumer_stats (consumer, &stats);
    assert (stats.stalls == 0);
    zstate_batch_destroy (&expected);
    zsock_destroy (&dealer);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
    zuuid_destroy (&session);
}

//  The consumer's selftest: its example and host loop first (in
//  zstate_consumer.c), then the white-box suites
//  Deliver a window marker to consumer, as the server hands it on
static void
s_test_marker (zstate_consumer_t *consumer, int type, const byte *session,
               uint64_t sequence, uint64_t begin)
{
    zmq_msg_t msg;
    zstate_inbox_test_marker (&msg, "SWEPT_TABLE", type, session, sequence, begin,
                              ZSTATE_SESSION_END_COMPLETE);
    int rc = zstate_consumer_deliver (consumer, &msg, false);
    assert (rc == 0);
    zmq_msg_close (&msg);
}

//  Restored entries are held keys too: a view that re-asserts one of the
//  three entries Redis held sweeps the other two, in batches of their own,
//  and the application can tell them apart. No client writes the table,
//  so the test may deliver as the server would.
static void
s_test_window_restored (bool verbose)
{
    zstate_redis_server_t *redis_server = zstate_redis_server_new (false);
    assert (redis_server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (redis_server));
    assert (redis && zstate_redis_connect (redis) == 0);
    for (int port = 0; port < 3; port++) {
        char key [64];
        snprintf (key, sizeof (key), "SWEPT_TABLE:Ethernet%d", port * 4);
        assert (zstate_redis_appendx (redis, "HSET", key, "mtu", "9100", NULL) == 0);
    }
    assert (zstate_redis_send (redis) == 0);
    for (int reply = 0; reply < 3; reply++)
        assert (zstate_redis_next (redis, true) == 1);
    zstate_server_t *server = zstate_server_new ();
    zstate_consumer_t *consumer = zstate_consumer_new (server, "APPL_DB", "SWEPT_TABLE");
    zstate_writer_t *writer = zstate_writer_new ();
    assert (server && consumer && writer);
    zstate_consumer_set_verbose (consumer, verbose);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (redis_server)) == 0);
    assert (zstate_consumer_restore (consumer, writer, 30000) == 3);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_consumer_pops (consumer, batch, 0) == 3);
    assert (!zstate_consumer_resyncing (consumer));

    zuuid_t *session = zuuid_new ();
    s_test_marker (consumer, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, zuuid_data (session), 1, 0);
    zstate_batch_reset (batch);
    zstate_batch_hset (batch, "Ethernet0", "mtu", "9100", NULL);
    zframe_t *frame = zstate_msg_encode (zuuid_data (session), 2, "APPL_DB", "SWEPT_TABLE",
                                         batch);
    zmq_msg_t msg;
    assert (zmq_msg_init_size (&msg, zframe_size (frame)) == 0);
    memcpy (zmq_msg_data (&msg), zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    assert (zstate_consumer_deliver (consumer, &msg, false) == 0);
    zmq_msg_close (&msg);
    s_test_marker (consumer, ZSTATE_SESSION_MSG_SNAPSHOT_END, zuuid_data (session), 3, 1);
    assert (zstate_consumer_pending (consumer) == 3);
    assert (s_test_fd_readable (zstate_consumer_fd (consumer), 0));
    assert (zstate_consumer_pops (consumer, batch, 0) == 1);
    assert (zstate_consumer_resyncing (consumer));
    assert (streq (zstate_batch_key (batch, 0, NULL), "Ethernet0"));
    assert (zstate_consumer_pops (consumer, batch, 1) == 1);
    assert (zstate_consumer_resyncing (consumer));
    assert (zstate_batch_op (batch, 0) == ZSTATE_OP_DEL);
    assert (s_test_fd_readable (zstate_consumer_fd (consumer), 0));
    assert (zstate_consumer_pops (consumer, batch, 1) == 1);
    assert (zstate_batch_op (batch, 0) == ZSTATE_OP_DEL);
    assert (zstate_consumer_pops (consumer, batch, 0) == 0);
    assert (!zstate_consumer_resyncing (consumer));
    assert (!s_test_fd_readable (zstate_consumer_fd (consumer), 0));
    zstate_consumer_stats_t stats;
    zstate_consumer_stats (consumer, &stats);
    assert (stats.restored == 3 && stats.messages == 3 && stats.ops == 1);
    assert (stats.windows == 1 && stats.windows_completed == 1);
    assert (stats.swept == 2 && stats.keys == 1 && stats.popped == 6);
    //  Off, the keys go; windows still tell their operations apart; once
    //  anything was popped, the sweep cannot come back on
    assert (zstate_consumer_set_sweep (consumer, false) == 0);
    zstate_consumer_stats (consumer, &stats);
    assert (stats.keys == 0);
    s_test_marker (consumer, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, zuuid_data (session), 4, 0);
    zstate_inbox_test_msg (&msg, "off", 0, 2);
    assert (zstate_consumer_deliver (consumer, &msg, false) == 0);
    zmq_msg_close (&msg);
    assert (zstate_consumer_pops (consumer, batch, 0) == 2);
    assert (zstate_consumer_resyncing (consumer));
    assert (zstate_consumer_set_sweep (consumer, true) == -1 && errno == EBUSY);

    //  The server takes the request for snapshots; once it is gone, ENOENT
    assert (zstate_consumer_resync (consumer) == 0);
    zstate_server_destroy (&server);
    assert (zstate_consumer_resync (consumer) == -1 && errno == ENOENT);
    zuuid_destroy (&session);
    zstate_batch_destroy (&batch);
    zstate_consumer_destroy (&consumer);
    zstate_writer_destroy (&writer);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&redis_server);
}

void
zstate_consumer_suites (bool verbose)
{
    zstate_consumer_test (verbose);
    printf (" * zstate_consumer (suites): ");
    if (verbose)
        printf ("\n");
    s_test_flow (verbose);
    s_test_queue_zero (verbose);
    s_test_window_restored (verbose);
    zstate_consumer_window_suite (verbose);
    zstate_consumer_stress_suite (verbose);
    printf ("OK\n");
}
