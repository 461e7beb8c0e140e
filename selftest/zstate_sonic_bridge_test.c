/*  =========================================================================
    zstate_sonic_bridge_test - the SONiC endpoint: frames a PUSH configured
    as SONiC's ZmqClient sends reach the consumer tables; bad frames are
    counted by reason and the bridge carries on; a full consumer stalls it
    without loss

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_sonic_suite.h"

#define DEADLINE    30000       //  msecs, for anything we wait for

zsock_t *
zstate_sonic_push_new (const char *endpoint)
{
    //  As SONiC's ZmqClient sets its socket up
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push);
    zsock_set_sndhwm (push, 10000);
    zsock_set_linger (push, 0);
    zsock_set_tcp_keepalive (push, 1);
    zsock_set_tcp_keepalive_idle (push, 5);
    zsock_set_tcp_keepalive_intvl (push, 1);
    zsock_set_tcp_keepalive_cnt (push, 5);
    int rc = zsock_connect (push, "%s", endpoint);
    assert (rc == 0);
    return push;
}

void
zstate_sonic_push (zsock_t *push, const void *data, size_t size)
{
    //  SONiC sends with ZMQ_NOBLOCK; before the connection is up that is
    //  EAGAIN, so the test retries until its deadline
    int64_t deadline = zclock_mono () + DEADLINE;
    while (zmq_send (zsock_resolve (push), data, size, ZMQ_NOBLOCK) == -1) {
        assert (zmq_errno () == EAGAIN);
        assert (zclock_mono () < deadline);
        zclock_sleep (1);
    }
}

//  Append operation index of source to dest
static void
s_copy_op (zstate_batch_t *dest, zstate_batch_t *source, size_t index)
{
    size_t size;
    const char *key = zstate_batch_key (source, index, &size);
    int rc = zstate_batch_append (dest, zstate_batch_op (source, index), key, size);
    assert (rc == 0);
    for (size_t field = 0; field < zstate_batch_field_count (source, index); field++) {
        size_t name_size, value_size;
        const char *name = zstate_batch_name (source, index, field, &name_size);
        const char *value = zstate_batch_value (source, index, field, &value_size);
        rc = zstate_batch_field (dest, name, name_size, value, value_size);
        assert (rc == 0);
    }
}

zstate_batch_t *
zstate_sonic_pop_all (zstate_consumer_t *consumer, size_t count)
{
    zstate_batch_t *all = zstate_batch_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    int64_t deadline = zclock_mono () + DEADLINE;
    while (zstate_batch_size (all) < count) {
        assert (zclock_mono () < deadline);
        zpoller_wait (poller, 100);
        zstate_consumer_pops (consumer, batch, 0);
        for (size_t index = 0; index < zstate_batch_size (batch); index++)
            s_copy_op (all, batch, index);
    }
    assert (zstate_batch_size (all) == count);
    zpoller_destroy (&poller);
    zstate_batch_destroy (&batch);
    return all;
}

//  Wait until the bridge has seen frames frames, accepted or not
static void
s_wait_frames (zstate_sonic_bridge_t *bridge, uint64_t frames,
               zstate_sonic_bridge_stats_t *stats)
{
    int64_t deadline = zclock_mono () + DEADLINE;
    while (true) {
        int rc = zstate_sonic_bridge_stats (bridge, stats);
        assert (rc == 0);
        if (stats->frames + stats->malformed >= frames)
            break;
        assert (zclock_mono () < deadline);
        zclock_sleep (5);
    }
    assert (stats->frames + stats->malformed == frames);
}

//  The golden frames, through the bridge, reach the consumer as decoded
static void
s_test_golden (zstate_sonic_bridge_t *bridge, zstate_consumer_t *routes,
               zsock_t *push, zlist_t *vectors)
{
    zstate_sonic_msg_t *decoder = zstate_sonic_msg_new ();
    zstate_batch_t *expected = zstate_batch_new ();
    zstate_sonic_vector_t *vector = (zstate_sonic_vector_t *) zlist_first (vectors);
    while (vector) {
        zstate_sonic_push (push, vector->data, vector->size);
        assert (zstate_sonic_msg_decode (decoder, vector->data, vector->size) == 0);
        zstate_batch_t *ops = zstate_sonic_msg_batch (decoder);
        for (size_t index = 0; index < zstate_batch_size (ops); index++)
            s_copy_op (expected, ops, index);
        vector = (zstate_sonic_vector_t *) zlist_next (vectors);
    }
    zstate_batch_t *received = zstate_sonic_pop_all (routes, zstate_batch_size (expected));
    assert (zstate_batch_eq (received, expected));
    //  SONiC's field count 0 is a DEL: mixed3, emptyset and del1 hold one each
    assert (zstate_batch_op (received, 5) == ZSTATE_OP_DEL);
    assert (streq (zstate_batch_key (received, 5, NULL), "empty"));
    zstate_sonic_bridge_stats_t stats;
    s_wait_frames (bridge, zlist_size (vectors), &stats);
    assert (stats.frames == 6 && stats.ops == 8 && stats.dels == 3);

    //  With merge, a SET arrives as HSET; a DEL stays a DEL
    assert (zstate_sonic_bridge_set_merge (bridge, true) == 0);
    zstate_sonic_vector_t *mixed3 = zstate_sonic_vector (vectors, "mixed3");
    zstate_sonic_push (push, mixed3->data, mixed3->size);
    zstate_batch_t *merged = zstate_sonic_pop_all (routes, 3);
    assert (zstate_batch_op (merged, 0) == ZSTATE_OP_HSET);
    assert (zstate_batch_op (merged, 1) == ZSTATE_OP_DEL);
    assert (zstate_batch_op (merged, 2) == ZSTATE_OP_HSET);
    assert (streq (zstate_batch_get (merged, 2, "ifname"), "Ethernet4"));
    zstate_batch_destroy (&merged);
    assert (zstate_sonic_bridge_set_merge (bridge, false) == 0);
    s_wait_frames (bridge, zlist_size (vectors) + 1, &stats);
    //  Frames waiting together go in one message
    assert (stats.messages >= 1 && stats.messages <= 7 && stats.malformed == 0);
    zstate_batch_destroy (&received);
    zstate_batch_destroy (&expected);
    zstate_sonic_msg_destroy (&decoder);
}

//  Bad frames are counted by reason, and the next good one still arrives
static void
s_test_rejects (zstate_sonic_bridge_t *bridge, zstate_consumer_t *routes,
                zsock_t *push, zlist_t *vectors)
{
    zstate_sonic_bridge_stats_t before;
    assert (zstate_sonic_bridge_stats (bridge, &before) == 0);
    zstate_sonic_vector_t *set1 = zstate_sonic_vector (vectors, "set1");
    zstate_sonic_push (push, set1->data, set1->size - 1);
    zstate_sonic_push (push, set1->data, 0);
    const char *strings [] = { "APPL_DB", "ROUTE_TABLE", "k", "2abc", "f", "v", "g", "w" };
    zchunk_t *frame = zstate_sonic_frame (4, strings, 8);
    zstate_sonic_push (push, zchunk_data (frame), zchunk_size (frame));
    zchunk_destroy (&frame);
    frame = zstate_sonic_frame (3, (const char *[]) { "APPL_DB", "ROUTE_TABLE", "k", "2",
                                                      "f", "v" }, 6);
    zstate_sonic_push (push, zchunk_data (frame), zchunk_size (frame));
    zchunk_destroy (&frame);
    //  Two frames in one message
    int rc = zmq_send (zsock_resolve (push), set1->data, set1->size, ZMQ_SNDMORE);
    assert (rc == (int) set1->size);
    zstate_sonic_push (push, set1->data, set1->size);
    //  Over 16 MiB, within what the PULL reads
    byte *big = (byte *) zmalloc (ZSTATE_MESSAGE_MAX + 1);
    memcpy (big, set1->data, set1->size);
    zstate_sonic_push (push, big, ZSTATE_MESSAGE_MAX + 1);
    free (big);
    //  And a good one
    zstate_sonic_push (push, set1->data, set1->size);

    zstate_sonic_bridge_stats_t stats;
    s_wait_frames (bridge, before.frames + before.malformed + 7, &stats);
    assert (stats.frames == before.frames + 1);
    assert (stats.malformed == before.malformed + 6);
    assert (stats.rejected [ZSTATE_SONIC_TRUNCATED] == 2);
    assert (stats.rejected [ZSTATE_SONIC_COUNT] == 1);
    assert (stats.rejected [ZSTATE_SONIC_PAIRS] == 1);
    assert (stats.rejected [ZSTATE_SONIC_FRAMES] == 1);
    assert (stats.rejected [ZSTATE_SONIC_TOO_LARGE] == 1);
    zstate_batch_t *received = zstate_sonic_pop_all (routes, 1);
    assert (streq (zstate_batch_key (received, 0, NULL), "10.0.0.1/32"));
    assert (zstate_batch_size (received) == 1);
    zstate_batch_destroy (&received);
}

//  A frame for a table nobody serves reaches the server, which counts it
//  as unroutable; a frame over what the PULL reads drops the connection
//  uncounted, and the PUSH's next frame still arrives once it reconnects
static void
s_test_unroutable_and_huge (zstate_sonic_bridge_t *bridge, zstate_server_t *server,
                            zstate_consumer_t *routes, zsock_t *push, zlist_t *vectors)
{
    zstate_server_stats_t server_before, server_after;
    assert (zstate_server_stats (server, &server_before) == 0);
    zstate_sonic_bridge_stats_t before, stats;
    assert (zstate_sonic_bridge_stats (bridge, &before) == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_del (batch, "k") == 0);
    zframe_t *frame = zstate_sonic_msg_encode ("APPL_DB", "NOBODY", batch, NULL);
    zstate_sonic_push (push, zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    int64_t deadline = zclock_mono () + DEADLINE;
    do {
        assert (zclock_mono () < deadline);
        zclock_sleep (5);
        assert (zstate_server_stats (server, &server_after) == 0);
    } while (server_after.unroutable == server_before.unroutable);
    assert (server_after.unroutable == server_before.unroutable + 1);

    size_t huge = ZSTATE_MESSAGE_MAX + 128 * 1024;
    byte *data = (byte *) zmalloc (huge);
    zstate_sonic_push (push, data, huge);
    free (data);
    zstate_sonic_vector_t *del1 = zstate_sonic_vector (vectors, "del1");
    zstate_sonic_push (push, del1->data, del1->size);
    zstate_batch_t *received = zstate_sonic_pop_all (routes, 1);
    assert (zstate_batch_op (received, 0) == ZSTATE_OP_DEL);
    assert (zstate_sonic_bridge_stats (bridge, &stats) == 0);
    assert (stats.frames == before.frames + 2);
    assert (stats.malformed == before.malformed);
    zstate_batch_destroy (&received);
    zstate_batch_destroy (&batch);
}

//  Consumers that do not pop stall the bridge; once they pop, every
//  operation arrives, in order. The frames alternate between two tables,
//  so that no two pack into one message and they outnumber what the
//  inproc link to the server can hold
static void
s_test_stall (zstate_sonic_bridge_t *bridge, zstate_server_t *server, zsock_t *push)
{
    const char *tables [2] = { "PORT_TABLE", "LAG_TABLE" };
    zstate_consumer_t *consumers [2];
    for (int table = 0; table < 2; table++) {
        consumers [table] = zstate_consumer_new (server, "APPL_DB", tables [table]);
        assert (consumers [table]);
        assert (zstate_consumer_set_queue (consumers [table], 16, 1024 * 1024) == 0);
    }
    zstate_sonic_bridge_stats_t before, stats;
    assert (zstate_sonic_bridge_stats (bridge, &before) == 0);
    size_t count = 5000;
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t index = 0; index < count; index++) {
        char key [32];
        snprintf (key, sizeof (key), "Ethernet%zu", index / 2);
        zstate_batch_reset (batch);
        assert (zstate_batch_set (batch, key, "mtu", "9100", NULL) == 0);
        zframe_t *frame = zstate_sonic_msg_encode ("APPL_DB", tables [index % 2], batch, NULL);
        assert (frame);
        zstate_sonic_push (push, zframe_data (frame), zframe_size (frame));
        zframe_destroy (&frame);
    }
    int64_t deadline = zclock_mono () + DEADLINE;
    do {
        assert (zclock_mono () < deadline);
        zclock_sleep (5);
        assert (zstate_sonic_bridge_stats (bridge, &stats) == 0);
    } while (stats.stalls == before.stalls);

    //  Both at once: the server waits for whichever is full
    zstate_batch_t *received [2] = { zstate_batch_new (), zstate_batch_new () };
    deadline = zclock_mono () + DEADLINE;
    while (zstate_batch_size (received [0]) < count / 2
       ||  zstate_batch_size (received [1]) < count / 2) {
        assert (zclock_mono () < deadline);
        size_t popped = 0;
        for (int table = 0; table < 2; table++) {
            popped += zstate_consumer_pops (consumers [table], batch, 0);
            for (size_t index = 0; index < zstate_batch_size (batch); index++)
                s_copy_op (received [table], batch, index);
        }
        if (popped == 0)
            zclock_sleep (1);
    }
    for (int table = 0; table < 2; table++) {
        assert (zstate_batch_size (received [table]) == count / 2);
        for (size_t index = 0; index < count / 2; index++) {
            char key [32];
            snprintf (key, sizeof (key), "Ethernet%zu", index);
            assert (streq (zstate_batch_key (received [table], index, NULL), key));
        }
        zstate_batch_destroy (&received [table]);
    }
    s_wait_frames (bridge, before.frames + before.malformed + count, &stats);
    assert (stats.messages == before.messages + count);
    zstate_batch_destroy (&batch);
    for (int table = 0; table < 2; table++)
        zstate_consumer_destroy (&consumers [table]);
}

//  Frames for one table that wait together go in one message: a consumer
//  that does not pop stalls the bridge with frames queued in its PULL,
//  which then go packed
static void
s_test_pack (zstate_sonic_bridge_t *bridge, zstate_server_t *server, zsock_t *push)
{
    zstate_consumer_t *vlans = zstate_consumer_new (server, "APPL_DB", "VLAN_TABLE");
    assert (vlans);
    zstate_sonic_bridge_stats_t before, stats;
    assert (zstate_sonic_bridge_stats (bridge, &before) == 0);
    assert (zstate_server_pause (server, true) == 0);
    size_t count = 3000;
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t index = 0; index < count; index++) {
        char key [32];
        snprintf (key, sizeof (key), "Vlan%zu", index);
        zstate_batch_reset (batch);
        assert (zstate_batch_del (batch, key) == 0);
        zframe_t *frame = zstate_sonic_msg_encode ("APPL_DB", "VLAN_TABLE", batch, NULL);
        zstate_sonic_push (push, zframe_data (frame), zframe_size (frame));
        zframe_destroy (&frame);
    }
    //  However they were read, the server holds at most what the inproc
    //  link takes: 3000 messages cannot pass it while it is paused
    int64_t deadline = zclock_mono () + DEADLINE;
    do {
        assert (zclock_mono () < deadline);
        zclock_sleep (5);
        assert (zstate_sonic_bridge_stats (bridge, &stats) == 0);
    } while (stats.stalls == before.stalls && stats.frames < before.frames + count);
    assert (zstate_server_pause (server, false) == 0);
    zstate_batch_t *received = zstate_sonic_pop_all (vlans, count);
    assert (streq (zstate_batch_key (received, count - 1, NULL), "Vlan2999"));
    s_wait_frames (bridge, before.frames + before.malformed + count, &stats);
    assert (stats.messages - before.messages < count);
    zstate_batch_destroy (&received);
    zstate_batch_destroy (&batch);
    zstate_consumer_destroy (&vlans);
}

void
zstate_sonic_bridge_test (bool verbose)
{
    printf (" * zstate_sonic_bridge: ");
    if (verbose)
        printf ("\n");
    //  Bad arguments
    errno = 0;
    assert (zstate_sonic_bridge_new (NULL) == NULL && errno == EINVAL);

    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_consumer_t *routes = zstate_consumer_new (server, "APPL_DB", "ROUTE_TABLE");
    assert (routes);
    zstate_sonic_bridge_t *bridge = zstate_sonic_bridge_new (server);
    assert (bridge);
    assert (zstate_sonic_bridge_actor (bridge));
    zstate_sonic_bridge_set_verbose (bridge, verbose);
    assert (zstate_sonic_bridge_set_rcvhwm (bridge, -1) == -1 && errno == EINVAL);
    assert (zstate_sonic_bridge_set_rcvhwm (bridge, 10000) == 0);
    assert (zstate_sonic_bridge_bind (bridge, "") == -1 && errno == EINVAL);
    assert (zstate_sonic_bridge_bind (bridge, "bogus://x") == -1);
    assert (*zstate_reason ());
    int port = zstate_sonic_bridge_bind (bridge, "tcp://127.0.0.1:*");
    assert (port > 0);
    //  The options are SONiC's, set once
    assert (zstate_sonic_bridge_set_rcvhwm (bridge, 5) == -1 && errno == EBUSY);

    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    zsock_t *push = zstate_sonic_push_new (endpoint);
    zlist_t *vectors = zstate_sonic_vectors_load ();
    s_test_golden (bridge, routes, push, vectors);
    s_test_rejects (bridge, routes, push, vectors);
    s_test_unroutable_and_huge (bridge, server, routes, push, vectors);
    s_test_stall (bridge, server, push);
    s_test_pack (bridge, server, push);
    zlist_destroy (&vectors);
    zsock_destroy (&push);

    zstate_sonic_bridge_destroy (&bridge);
    assert (bridge == NULL);
    zstate_sonic_bridge_destroy (&bridge);
    zstate_consumer_destroy (&routes);
    zstate_server_destroy (&server);
    printf ("OK\n");
}
