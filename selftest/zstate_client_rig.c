/*  =========================================================================
    zstate_client_rig - what the client's selftest suites share: a client
    of protocol version 1 and a raw ROUTER server that checks every message

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"
#include "zstate_client_rig.h"

//  The sessions of the clients client_test_v1 made, latest last: a raw
//  server takes messages of these only, so that a client of another
//  process that finds its port (a test run beside this one, still
//  reconnecting to a port it left) cannot fail a test here
#define SESSIONS_MAX    64
static byte s_sessions [SESSIONS_MAX][ZSTATE_MSG_SESSION_SIZE];
static size_t s_session_count;

//  A client of protocol version 1, the only one the raw server speaks
zstate_client_t *
client_test_v1 (void)
{
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    int rc = zstate_client_set_protocol (client, 1);
    assert (rc == 0);
    memcpy (s_sessions [s_session_count++ % SESSIONS_MAX], client->session,
            ZSTATE_MSG_SESSION_SIZE);
    return client;
}

//  Is session one of a client this process made?
static bool
s_session_ours (const byte *session)
{
    size_t count = s_session_count < SESSIONS_MAX? s_session_count: SESSIONS_MAX;
    for (size_t index = 0; index < count; index++)
        if (memcmp (s_sessions [index], session, ZSTATE_MSG_SESSION_SIZE) == 0)
            return true;
    return false;
}

//  Receive the next message of one of our clients by deadline (a
//  zclock_mono time) and decode it; count and drop any other. Returns
//  NULL at the deadline.
static zmsg_t *
s_server_recv_ours (test_server_t *self, int64_t deadline)
{
    while (true) {
        int64_t left = deadline - zclock_mono ();
        zsock_set_rcvtimeo (self->router, left > 0? (int) left: 0);
        zmsg_t *msg = zmsg_recv (self->router);
        if (!msg)
            return NULL;
        zframe_t *payload = zmsg_last (msg);
        if (zmsg_size (msg) == 2
        &&  zstate_msg_decode (self->decoder, zframe_data (payload),
                               zframe_size (payload)) == ZSTATE_WIRE_OK
        &&  s_session_ours (zstate_msg_session (self->decoder)))
            return msg;
        self->strays++;
        zmsg_destroy (&msg);
    }
}

//  Bind a ROUTER at endpoint, or at tcp://127.0.0.1:* when NULL. A slow
//  server buffers as little as it can, so it pushes back when it does not
//  read.
test_server_t *
client_test_server_new (const char *endpoint, bool slow)
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
        //  A port the kernel picks, not CZMQ's count up from 49152: a port
        //  another test just left is then unlikely, so no client still
        //  reconnecting to it (here, or in a test run beside this one)
        //  reaches this server
        int port = zstate_bind (self->router, "tcp://127.0.0.1:*");
        assert (port > 0);
        self->endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", port);
    }
    self->decoder = zstate_msg_new ();
    self->batch = zstate_batch_new ();
    return self;
}

//  Close the server's socket and free it; nulls the pointer
void
client_test_server_destroy (test_server_t **self_p)
{
    test_server_t *self = *self_p;
    zsock_destroy (&self->router);
    zstr_free (&self->endpoint);
    zstate_msg_destroy (&self->decoder);
    zstate_batch_destroy (&self->batch);
    free (self);
    *self_p = NULL;
}

//  Receive one message of our clients into self->batch, checking the
//  session and the sequence; messages of other peers are counted in
//  self->strays and dropped. Returns false when nothing came in timeout.
bool
client_test_server_recv (test_server_t *self, int timeout)
{
    zmsg_t *msg = s_server_recv_ours (self, zclock_mono () + timeout);
    if (!msg)
        return false;
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
    int rc = zstate_batch_load (self->batch, ops, size, count, &used);
    assert (rc == ZSTATE_WIRE_OK);
    assert (used == size);
    self->messages++;
    self->ops += count;
    zmsg_destroy (&msg);
    return true;
}

//  Wait for the event type (with detail, when not NULL), skipping others.
//  Returns false when it did not come in timeout.
bool
client_test_event (zstate_client_t *client, const char *type, const char *detail, int timeout)
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
int
client_test_free_port (void)
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
void
client_test_op (zstate_batch_t *batch, int sender, size_t counter)
{
    char key [32];
    char value [32];
    snprintf (key, sizeof (key), "t%d-%zu", sender, counter);
    snprintf (value, sizeof (value), "%d:%zu", sender, counter);
    int rc = zstate_batch_set (batch, key, "v", value, NULL);
    assert (rc == 0);
}

//  Check an op made by client_test_op; return its sender, store its counter
int
client_test_op_check (zstate_batch_t *batch, size_t index, size_t *counter_p)
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
size_t
client_test_send (zstate_client_t *client, int sender, size_t first, size_t count)
{
    zstate_batch_t *batch = zstate_batch_new ();
    size_t sent = 0;
    for (; sent < count; sent++) {
        zstate_batch_reset (batch);
        client_test_op (batch, sender, first + sent);
        if (zstate_client_send (client, "db", "table", batch))
            break;
    }
    zstate_batch_destroy (&batch);
    return sent;
}

//  Receive until expected ops of sender arrived in order from first.
void
client_test_expect (test_server_t *server, int sender, size_t first, size_t expected)
{
    size_t next = first;
    while (next < first + expected) {
        bool received = client_test_server_recv (server, 5000);
        assert (received);
        for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
            size_t counter;
            int got = client_test_op_check (server->batch, index, &counter);
            assert (got == sender);
            assert (counter == next);
            next++;
        }
    }
    assert (next == first + expected);
}
