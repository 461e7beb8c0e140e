/*  =========================================================================
    zstate_client_queue_suite - the client's selftest with protocol version
    1, continued: late servers, queue bounds, the link timeout, retries and
    destroy, against a raw ROUTER

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"
#include "zstate_client_rig.h"

//  Late server start, tcp: sends before anything is bound arrive, in
//  order, once the server binds
static void
s_test_late_tcp (void)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", client_test_free_port ());
    zstate_client_t *client = client_test_v1 ();
    zstate_client_set_reconnect (client, 10, 0);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTING);
    size_t sent = client_test_send (client, 1, 0, 500);
    assert (sent == 500);
    test_server_t *server = client_test_server_new (endpoint, false);
    client_test_expect (server, 1, 0, 500);
    assert (client_test_event (client, "STATE", "CONNECTED", 5000));
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
}


//  Late server start, ipc, with ops sent before connect too
static void
s_test_late_ipc (const char *directory)
{
    char *endpoint = zsys_sprintf ("ipc://%s/late.ipc", directory);
    zstate_client_t *client = client_test_v1 ();
    zstate_client_set_reconnect (client, 10, 0);
    size_t sent = client_test_send (client, 2, 0, 50);
    assert (sent == 50);
    //  Nothing goes anywhere before connect
    assert (zstate_client_flush (client, 0) == -1 && errno == ETIMEDOUT);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    sent = client_test_send (client, 2, 50, 50);
    assert (sent == 50);
    test_server_t *server = client_test_server_new (endpoint, false);
    client_test_expect (server, 2, 0, 100);
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
    zstr_free (&endpoint);
}


//  Queued messages cost their bytes, not their room: one closed by an
//  operation on another table keeps only its bytes, the open one its room
static void
s_test_queue_trimmed (void)
{
    zstate_client_t *client = client_test_v1 ();
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t index = 0; index < 4; index++) {
        zstate_batch_reset (batch);
        client_test_op (batch, 2, index);
        int rc = zstate_client_send (client, "db", index % 2? "two": "one", batch);
        assert (rc == 0);
    }
    pthread_mutex_lock (&client->lock);
    size_t messages = 0;
    for (buffer_t *buffer = client->queue_head; buffer; buffer = buffer->next) {
        messages++;
        assert (buffer->ops == 1);
        assert (buffer == client->queue_tail || buffer->max == buffer->size);
    }
    assert (messages == 4);
    assert (client->queue_tail->max > client->queue_tail->size);
    pthread_mutex_unlock (&client->lock);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
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
        client_test_op (batch, 3, accepted + index);
    int rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == -1 && errno == ENOBUFS);
    zstate_client_stats (client, &stats);
    assert (stats.queued_ops == 20);
    //  ... and 5 are accepted
    zstate_batch_reset (batch);
    for (size_t index = 0; index < 5; index++)
        client_test_op (batch, 3, accepted + index);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    accepted += 5;
    //  A call over the bound itself is refused for good, with EMSGSIZE,
    //  full queue or not, so a caller that retries on ENOBUFS stops
    zstate_batch_reset (batch);
    for (size_t index = 0; index < 26; index++)
        client_test_op (batch, 3, accepted + index);
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
    client_test_op (batch, 3, accepted);
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
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", client_test_free_port ());
    zstate_client_t *client = client_test_v1 ();
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
    client_test_op (batch, 3, 0);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    assert (zstate_client_flush (client, 5000) == 0);
    zstate_batch_reset (batch);
    client_test_op (batch, 3, 1);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    assert (zstate_client_flush (client, 50) == -1 && errno == ETIMEDOUT);
    size_t accepted = 2;
    int64_t elapsed = 0;
    while (accepted < 10000) {
        zstate_batch_reset (batch);
        client_test_op (batch, 3, accepted);
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

    test_server_t *server = client_test_server_new (endpoint, false);
    client_test_expect (server, 3, 0, accepted);
    assert (zstate_client_flush (client, 5000) == 0);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
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
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", client_test_free_port ());
    zstate_client_t *client = client_test_v1 ();
    zstate_client_set_link_timeout (client, 100);
    zstate_client_set_reconnect (client, 10, 0);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    assert (client_test_event (client, "STATE", "CONNECTING", 5000));
    assert (client_test_event (client, "STATE", "FAILED", 5000));
    assert (client_test_event (client, "ERROR", NULL, 5000));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_FAILED);
    zstate_batch_t *batch = zstate_batch_new ();
    client_test_op (batch, 4, 0);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == -1 && errno == ENOTCONN);
    assert (strstr (zstate_reason (), "no connection"));

    test_server_t *server = client_test_server_new (endpoint, false);
    assert (client_test_event (client, "STATE", "CONNECTED", 5000));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTED);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    client_test_expect (server, 4, 0, 1);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
}


//  Retries: a server that does not read, small HWMs; retries counted,
//  FAILED after the retry timeout, flush times out; then the server
//  reads and everything arrives
static void
s_test_retries (bool verbose, const char *directory)
{
    char *endpoint = zsys_sprintf ("ipc://%s/slow.ipc", directory);
    test_server_t *server = client_test_server_new (endpoint, true);

    zstate_client_t *client = client_test_v1 ();
    zstate_client_set_sndhwm (client, 1);
    zstate_client_set_batch (client, 16, 64 * 1024);
    zstate_client_set_retry (client, 1, 20, 300);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    assert (client_test_event (client, "STATE", "CONNECTED", 5000));

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
    assert (client_test_event (client, "ERROR", NULL, 5000));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_FAILED);
    assert (zstate_client_flush (client, 20) == -1 && errno == ETIMEDOUT);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.retries > 0);
    assert (stats.queued_ops > 0);

    size_t received = 0;
    while (received < accepted) {
        bool got = client_test_server_recv (server, 5000);
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
    assert (client_test_event (client, "STATE", "CONNECTED", 5000));
    assert (zstate_client_flush (client, 5000) == 0);
    if (verbose)
        zsys_info ("zstate_client test: %zu ops after %d retries",
                   accepted, (int) stats.retries);
    free (value);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    client_test_server_destroy (&server);
    zstr_free (&endpoint);
}


//  Destroy with a dead peer returns after linger, not later
static void
s_test_destroy (bool verbose)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", client_test_free_port ());
    zstate_client_t *client = client_test_v1 ();
    zstate_client_set_sndhwm (client, 1);
    zstate_client_set_linger (client, 100);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    //  One message fills the socket; the rest stays with the client
    size_t sent = client_test_send (client, 5, 0, 1);
    assert (sent == 1);
    assert (zstate_client_flush (client, 5000) == 0);
    sent = client_test_send (client, 5, 1, 100);
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
    client = client_test_v1 ();
    sent = client_test_send (client, 5, 0, 10);
    assert (sent == 10);
    zstate_client_destroy (&client);
}


//  Run the suite; called from zstate_client_test

void
zstate_client_queue_suite (bool verbose, const char *directory)
{
    s_test_late_tcp ();
    s_test_late_ipc (directory);
    s_test_queue_trimmed ();
    s_test_queue_bounds (verbose);
    s_test_queue_default ();
    s_test_link_timeout ();
    s_test_retries (verbose, directory);
    s_test_destroy (verbose);
}
