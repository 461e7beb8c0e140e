/*  =========================================================================
    zstate_sonic_client_test - the SONiC client against a raw PULL set up
    as SONiC's ZmqServer: the bytes it sends are the golden frames; what
    SONiC cannot carry is refused or mapped and counted; the queue's
    bounds, FAILED and recovery, calls over 16 MiB, several threads

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_sonic_suite.h"

#define DEADLINE    30000       //  msecs, for anything we wait for

//  A PULL as SONiC's ZmqServer sets it up
static zsock_t *
s_pull_new (const char *endpoint, int *port_p)
{
    zsock_t *pull = zsock_new (ZMQ_PULL);
    assert (pull);
    zsock_set_rcvhwm (pull, 10000);
    zsock_set_tcp_keepalive (pull, 1);
    zsock_set_tcp_keepalive_idle (pull, 5);
    zsock_set_tcp_keepalive_intvl (pull, 1);
    zsock_set_tcp_keepalive_cnt (pull, 5);
    zsock_set_rcvtimeo (pull, DEADLINE);
    int port = zsock_bind (pull, "%s", endpoint);
    assert (port != -1);
    if (port_p)
        *port_p = port;
    return pull;
}

//  Receive one frame; asserts it comes before the deadline and is one part
static zframe_t *
s_recv (zsock_t *pull)
{
    zframe_t *frame = zframe_recv (pull);
    assert (frame);
    assert (!zframe_more (frame));
    return frame;
}

//  The client sends exactly the golden bytes for the same calls
static void
s_test_golden (zstate_sonic_client_t *client, zsock_t *pull, zlist_t *vectors)
{
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_sonic_vector_t *vector = (zstate_sonic_vector_t *) zlist_first (vectors);
    while (vector) {
        zstate_batch_reset (batch);
        zstate_sonic_expected (vector->name, batch, true);
        int rc = zstate_sonic_client_send (client, "APPL_DB", "ROUTE_TABLE", batch);
        assert (rc == 0);
        zframe_t *frame = s_recv (pull);
        assert (zframe_size (frame) == vector->size);
        assert (memcmp (zframe_data (frame), vector->data, vector->size) == 0);
        zframe_destroy (&frame);
        vector = (zstate_sonic_vector_t *) zlist_next (vectors);
    }
    //  The PULL can have a frame before the agent counted it sent
    assert (zstate_sonic_client_flush (client, DEADLINE) == 0);
    zstate_sonic_client_stats_t stats;
    zstate_sonic_client_stats (client, &stats);
    assert (stats.state == ZSTATE_CLIENT_CONNECTED);
    assert (stats.ops_accepted == 8 && stats.ops_sent == 8 && stats.frames_sent == 6);
    assert (stats.hsets == 1 && stats.empty_sets == 0 && stats.ops_rejected == 0);
    assert (stats.queued_ops == 0 && stats.queued_bytes == 0);

    //  A SET with no fields would arrive as DEL: the call is refused whole
    zstate_batch_reset (batch);
    assert (zstate_batch_del (batch, "a") == 0);
    assert (zstate_batch_set (batch, "empty", NULL) == 0);
    errno = 0;
    assert (zstate_sonic_client_send (client, "APPL_DB", "ROUTE_TABLE", batch) == -1);
    assert (errno == ENOTSUP);
    assert (strstr (zstate_reason (), "SET with no fields"));
    //  Bad names and an empty batch
    assert (zstate_sonic_client_send (client, "", "T", batch) == -1 && errno == EINVAL);
    assert (zstate_sonic_client_send (client, "D", NULL, batch) == -1 && errno == EINVAL);
    zstate_batch_reset (batch);
    assert (zstate_sonic_client_send (client, "D", "T", batch) == -1 && errno == EINVAL);
    assert (zstate_sonic_client_send (client, "D", "T", NULL) == -1 && errno == EINVAL);
    zstate_sonic_client_stats (client, &stats);
    assert (stats.empty_sets == 1 && stats.ops_rejected == 6);
    assert (stats.ops_accepted == 8);
    zstate_batch_destroy (&batch);
}

//  A call over 16 MiB goes as several frames, in order
static void
s_test_split (zstate_sonic_client_t *client, zsock_t *pull)
{
    size_t size = 6 * 1024 * 1024;
    char *value = (char *) zmalloc (size);
    zstate_batch_t *batch = zstate_batch_new ();
    for (int index = 0; index < 3; index++) {
        char key [8];
        snprintf (key, sizeof (key), "k%d", index);
        assert (zstate_batch_append (batch, ZSTATE_OP_SET, key, 2) == 0);
        assert (zstate_batch_field (batch, "f", 1, value, size) == 0);
    }
    assert (zstate_sonic_client_send (client, "D", "T", batch) == 0);
    zstate_sonic_msg_t *decoder = zstate_sonic_msg_new ();
    zframe_t *frame = s_recv (pull);
    assert (zstate_sonic_msg_decode (decoder, zframe_data (frame), zframe_size (frame)) == 0);
    assert (zstate_batch_size (zstate_sonic_msg_batch (decoder)) == 2);
    assert (streq (zstate_batch_key (zstate_sonic_msg_batch (decoder), 1, NULL), "k1"));
    zframe_destroy (&frame);
    frame = s_recv (pull);
    assert (zstate_sonic_msg_decode (decoder, zframe_data (frame), zframe_size (frame)) == 0);
    assert (zstate_batch_size (zstate_sonic_msg_batch (decoder)) == 1);
    assert (streq (zstate_batch_key (zstate_sonic_msg_batch (decoder), 0, NULL), "k2"));
    zframe_destroy (&frame);
    zstate_sonic_msg_destroy (&decoder);
    zstate_batch_destroy (&batch);
    free (value);
}

//  Sends from several threads all arrive, each thread's in order
#define THREAD_OPS  500
static zstate_sonic_client_t *s_client;

static void *
s_sender (void *arg)
{
    zstate_batch_t *batch = zstate_batch_new ();
    for (int index = 0; index < THREAD_OPS; index++) {
        char key [32];
        snprintf (key, sizeof (key), "%s-%d", (const char *) arg, index);
        zstate_batch_reset (batch);
        assert (zstate_batch_set (batch, key, "f", "v", NULL) == 0);
        assert (zstate_sonic_client_send (s_client, "D", "T", batch) == 0);
    }
    zstate_batch_destroy (&batch);
    return NULL;
}

static void
s_test_threads (zstate_sonic_client_t *client, zsock_t *pull)
{
    s_client = client;
    pthread_t threads [2];
    assert (pthread_create (&threads [0], NULL, s_sender, "a") == 0);
    assert (pthread_create (&threads [1], NULL, s_sender, "b") == 0);
    int next [2] = { 0, 0 };
    zstate_sonic_msg_t *decoder = zstate_sonic_msg_new ();
    for (int count = 0; count < 2 * THREAD_OPS; count++) {
        zframe_t *frame = s_recv (pull);
        assert (zstate_sonic_msg_decode (decoder, zframe_data (frame), zframe_size (frame)) == 0);
        const char *key = zstate_batch_key (zstate_sonic_msg_batch (decoder), 0, NULL);
        int thread = key [0] == 'a'? 0: 1;
        assert (atoi (key + 2) == next [thread]++);
        zframe_destroy (&frame);
    }
    pthread_join (threads [0], NULL);
    pthread_join (threads [1], NULL);
    assert (next [0] == THREAD_OPS && next [1] == THREAD_OPS);
    zstate_sonic_msg_destroy (&decoder);
    assert (zstate_sonic_client_flush (client, DEADLINE) == 0);
}

//  The queue's bounds; FAILED with no peer, and back once there is one
static void
s_test_queue_and_failure (bool verbose)
{
    zstate_sonic_client_t *client = zstate_sonic_client_new ();
    assert (client);
    zstate_sonic_client_set_verbose (client, verbose);
    assert (zstate_sonic_client_state (client) == ZSTATE_CLIENT_IDLE);
    zstate_sonic_client_set_queue (client, 3, 1024 * 1024);
    zstate_sonic_client_set_retry (client, 1, 20, 200);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_del (batch, "a") == 0);
    assert (zstate_batch_hset (batch, "b", "f", "v", NULL) == 0);
    //  Sends before connect are queued
    assert (zstate_sonic_client_send (client, "D", "T", batch) == 0);
    errno = 0;
    assert (zstate_sonic_client_send (client, "D", "T", batch) == -1 && errno == ENOBUFS);
    assert (zstate_batch_del (batch, "c") == 0);
    assert (zstate_batch_del (batch, "d") == 0);
    assert (zstate_sonic_client_send (client, "D", "T", batch) == -1 && errno == EMSGSIZE);

    //  No peer: retries, then FAILED, and send says ENOTCONN
    char endpoint [80];
    zuuid_t *uuid = zuuid_new ();
    snprintf (endpoint, sizeof (endpoint), "ipc://@zstate-sonic-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    assert (zstate_sonic_client_connect (client, "") == -1 && errno == EINVAL);
    assert (zstate_sonic_client_set_sndhwm (client, -1) == -1 && errno == EINVAL);
    assert (zstate_sonic_client_set_sndhwm (client, 10000) == 0);
    assert (zstate_sonic_client_connect (client, endpoint) == 0);
    assert (zstate_sonic_client_connect (client, endpoint) == -1 && errno == EISCONN);
    assert (zstate_sonic_client_set_sndhwm (client, 5) == -1 && errno == EBUSY);
    int64_t deadline = zclock_mono () + DEADLINE;
    while (zstate_sonic_client_state (client) != ZSTATE_CLIENT_FAILED) {
        assert (zclock_mono () < deadline);
        zclock_sleep (10);
    }
    zstate_batch_reset (batch);
    assert (zstate_batch_del (batch, "e") == 0);
    assert (zstate_sonic_client_send (client, "D", "T", batch) == -1 && errno == ENOTCONN);
    assert (zstate_sonic_client_flush (client, 50) == -1 && errno == ETIMEDOUT);
    zstate_sonic_client_stats_t stats;
    zstate_sonic_client_stats (client, &stats);
    assert (stats.retries > 0 && stats.queued_ops == 2 && stats.ops_sent == 0);
    assert (stats.ops_rejected == 2 + 4 + 1);

    //  A peer: what was queued goes, and the client is CONNECTED again
    zsock_t *pull = s_pull_new (endpoint, NULL);
    zframe_t *frame = s_recv (pull);
    zstate_sonic_msg_t *decoder = zstate_sonic_msg_new ();
    assert (zstate_sonic_msg_decode (decoder, zframe_data (frame), zframe_size (frame)) == 0);
    assert (zstate_batch_size (zstate_sonic_msg_batch (decoder)) == 2);
    zframe_destroy (&frame);
    zstate_sonic_msg_destroy (&decoder);
    assert (zstate_sonic_client_flush (client, DEADLINE) == 0);
    assert (zstate_sonic_client_state (client) == ZSTATE_CLIENT_CONNECTED);
    zstate_sonic_client_stats (client, &stats);
    assert (stats.hsets == 1 && stats.ops_sent == 2 && stats.queued_ops == 0);
    assert (zstate_sonic_client_send (client, "D", "T", batch) == 0);
    frame = s_recv (pull);
    zframe_destroy (&frame);
    assert (zstate_sonic_client_close (&client, DEADLINE) == 0);
    assert (client == NULL);
    zsock_destroy (&pull);
    zstate_batch_destroy (&batch);
}

//  Close gives the count of what never went out
static void
s_test_close_unsent (void)
{
    zstate_sonic_client_t *client = zstate_sonic_client_new ();
    assert (client);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_del (batch, "a") == 0);
    assert (zstate_batch_del (batch, "b") == 0);
    assert (zstate_sonic_client_send (client, "D", "T", batch) == 0);
    zstate_batch_destroy (&batch);
    //  Never connected: close does not wait
    assert (zstate_sonic_client_close (&client, -1) == 2);
    zstate_sonic_client_destroy (&client);
}

void
zstate_sonic_client_test (bool verbose)
{
    printf (" * zstate_sonic_client: ");
    if (verbose)
        printf ("\n");
    int port;
    zsock_t *pull = s_pull_new ("tcp://127.0.0.1:*", &port);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    zstate_sonic_client_t *client = zstate_sonic_client_new ();
    assert (client);
    assert (zstate_sonic_client_actor (client));
    assert (zstate_sonic_client_connect (client, endpoint) == 0);
    zlist_t *vectors = zstate_sonic_vectors_load ();
    s_test_golden (client, pull, vectors);
    zlist_destroy (&vectors);
    s_test_split (client, pull);
    s_test_threads (client, pull);
    zstate_sonic_client_destroy (&client);
    zsock_destroy (&pull);

    s_test_queue_and_failure (verbose);
    s_test_close_unsent ();
    printf ("OK\n");
}
