/*  =========================================================================
    zstate_client_fake - a scripted version 2 server for the client's
    session suites

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_fake.h"

static fake_t *
s_fake_new (bool slow)
{
    fake_t *self = (fake_t *) zmalloc (sizeof (fake_t));
    assert (self);
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    //  Before bind: a listener keeps the options it was bound with
    if (slow) {
        zsock_set_rcvhwm (self->router, 1);
        zsock_set_rcvbuf (self->router, 4096);
    }
    //  A port the kernel picks, not CZMQ's count up from 49152: a port
    //  another test just left is then unlikely, so no client still
    //  reconnecting to it (here, or in a test run beside this one)
    //  reaches this server
    int port = zstate_bind (self->router, "tcp://127.0.0.1:*");
    assert (port > 0);
    self->endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", port);
    for (size_t index = 0; index < ZSTATE_SESSION_EPOCH_SIZE; index++)
        self->epoch [index] = (byte) (index + 1);
    return self;
}

fake_t *
fake_new (void)
{
    return s_fake_new (false);
}

fake_t *
fake_new_slow (void)
{
    return s_fake_new (true);
}

void
fake_destroy (fake_t **self_p)
{
    fake_t *self = *self_p;
    zsock_destroy (&self->router);
    zstr_free (&self->endpoint);
    zframe_destroy (&self->routing_id);
    zframe_destroy (&self->last_from);
    zmsg_destroy (&self->last);
    free (self);
    *self_p = NULL;
}

//  Send one session message to the routing id of the latest HELLO
void
fake_send (fake_t *self, zstate_session_msg_t *msg)
{
    assert (self->routing_id);
    msg->session = self->session;
    if (!msg->epoch)
        msg->epoch = self->epoch;
    byte data [512];
    ssize_t size = zstate_session_msg_encode (msg, data, sizeof (data));
    assert (size > 0);
    zmsg_t *out = zmsg_new ();
    zmsg_append (out, &(zframe_t *) { zframe_dup (self->routing_id) });
    zmsg_addmem (out, data, (size_t) size);
    int rc = zmsg_send (&out, self->router);
    assert (rc == 0);
}

//  PING the client, as a server does while it holds the client's messages
void
fake_ping (fake_t *self)
{
    zstate_session_msg_t ping = { .type = ZSTATE_SESSION_MSG_PING };
    ping.nonce = ++self->nonce;
    fake_send (self, &ping);
}

//  Receive the next message of our client by deadline (a zclock_mono
//  time) into self->last and self->msg. Anything else (a client of another
//  process that found this port, or garbage) is counted and dropped, so
//  it cannot fail a test here. Returns false at the deadline.
bool
fake_next (fake_t *self, int64_t deadline)
{
    while (true) {
        int64_t left = deadline - zclock_mono ();
        zsock_set_rcvtimeo (self->router, left > 0? (int) left: 0);
        zmsg_destroy (&self->last);
        self->last = zmsg_recv (self->router);
        if (!self->last)
            return false;
        zframe_t *frame = zmsg_last (self->last);
        if (zmsg_size (self->last) == 2
        &&  zstate_session_msg_decode (&self->msg, zframe_data (frame),
                                       zframe_size (frame)) == 0
        &&  self->msg.version == 2
        &&  memcmp (self->msg.session, self->expected, ZSTATE_MSG_SESSION_SIZE) == 0) {
            zframe_destroy (&self->last_from);
            self->last_from = zframe_dup (zmsg_first (self->last));
            return true;
        }
        self->strays++;
    }
}

//  Receive the next message of type (any when 0) within timeout, answering
//  PINGs and recording HELLOs on the way. Returns false on timeout.
bool
fake_recv (fake_t *self, int type, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        if (!fake_next (self, deadline))
            return false;
        if (self->msg.type == ZSTATE_SESSION_MSG_HELLO) {
            self->hellos++;
            memcpy (self->session, self->msg.session, ZSTATE_MSG_SESSION_SIZE);
            zframe_destroy (&self->routing_id);
            self->routing_id = zframe_dup (self->last_from);
            self->heartbeat = self->msg.heartbeat;
            self->offered = self->msg.features;
            if (self->welcome_all)
                fake_welcome (self, self->msg.sequence - 1);
        }
        else
            assert (memcmp (self->session, self->msg.session, ZSTATE_MSG_SESSION_SIZE) == 0);
        if (self->msg.type == ZSTATE_SESSION_MSG_OPS)
            self->opses++;
        if (self->msg.type == ZSTATE_SESSION_MSG_PING) {
            self->pings++;
            zstate_session_msg_t pong = { .type = ZSTATE_SESSION_MSG_PONG };
            pong.nonce = self->msg.nonce;
            fake_send (self, &pong);
        }
        if (type == 0 || self->msg.type == type)
            return true;
    }
}

//  WELCOME with delivered, persisted and the level granted
void
fake_welcome_at (fake_t *self, uint64_t delivered, uint64_t persisted, int level)
{
    zstate_session_msg_t welcome = { .type = ZSTATE_SESSION_MSG_WELCOME };
    welcome.delivered = delivered;
    welcome.persisted = persisted;
    welcome.ack_level = level;
    welcome.heartbeat = self->heartbeat;
    welcome.features = self->features;
    fake_send (self, &welcome);
}

void
fake_welcome (fake_t *self, uint64_t delivered)
{
    fake_welcome_at (self, delivered, delivered, ZSTATE_SESSION_ACK_DELIVERED);
}

void
fake_ack_at (fake_t *self, uint64_t delivered, uint64_t persisted)
{
    zstate_session_msg_t ack = { .type = ZSTATE_SESSION_MSG_ACK };
    ack.delivered = delivered;
    ack.persisted = persisted;
    fake_send (self, &ack);
}

void
fake_ack (fake_t *self, uint64_t delivered)
{
    fake_ack_at (self, delivered, delivered);
}

void
fake_resync (fake_t *self, const char *db, const char *table)
{
    zstate_session_msg_t resync = { .type = ZSTATE_SESSION_MSG_RESYNC };
    resync.db = db;
    resync.table = table;
    fake_send (self, &resync);
}

//  Expect the OPS with exactly this sequence next (PINGs aside)
void
fake_expect_ops (fake_t *self, uint64_t sequence)
{
    bool received = fake_recv (self, ZSTATE_SESSION_MSG_OPS, WAIT);
    assert (received);
    assert (self->msg.sequence == sequence);
    assert (self->msg.op_count >= 1);
}

//  A client with a short heartbeat, connected to the scripted server,
//  whose HELLO the server has seen (and WELCOMEd with delivered 0 when
//  welcome)
zstate_client_t *
fake_client_new_at (fake_t *fake, bool welcome, int heartbeat, int level, bool verbose)
{
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    zstate_client_set_verbose (client, verbose);
    fake_client_connect (fake, client, welcome, heartbeat, level);
    return client;
}

//  The same for a client the caller made, and set up what must be set
//  before connect
void
fake_client_connect (fake_t *fake, zstate_client_t *client, bool welcome, int heartbeat,
                     int level)
{
    memcpy (fake->expected, client->session, ZSTATE_MSG_SESSION_SIZE);
    int rc = zstate_client_set_heartbeat (client, heartbeat);
    assert (rc == 0);
    rc = zstate_client_set_ack_level (client, level);
    assert (rc == 0);
    rc = zstate_client_connect (client, fake->endpoint);
    assert (rc == 0);
    bool received = fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT);
    assert (received);
    assert (fake->msg.ack_level == level);
    assert (fake->msg.heartbeat == (uint32_t) heartbeat);
    if (welcome)
        fake_welcome_at (fake, fake->msg.sequence - 1, fake->msg.sequence - 1, level);
}

zstate_client_t *
fake_client_new (fake_t *fake, bool welcome, int heartbeat, bool verbose)
{
    return fake_client_new_at (fake, welcome, heartbeat, ZSTATE_ACK_DELIVERED, verbose);
}

//  Send one operation SET key { field = value }
void
fake_send_key (zstate_client_t *client, const char *key, const char *value)
{
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, key, "field", value, NULL);
    assert (rc == 0);
    rc = zstate_client_send (client, "db", "table", batch);
    assert (rc == 0);
    zstate_batch_destroy (&batch);
}

//  Send count messages of one operation each, each on a key of its own
//  (three characters, as "key"), so that coalescing cannot fold them
void
fake_send_ops (zstate_client_t *client, size_t count)
{
    static unsigned int counter = 0;
    for (size_t index = 0; index < count; index++) {
        char key [8];
        snprintf (key, sizeof (key), "%03u", counter++ % 1000);
        fake_send_key (client, key, "value");
    }
}

//  Send count messages of one operation each, from sequence first: each
//  waits for the one before at the server, so that none share a message
void
fake_send_each (zstate_client_t *client, fake_t *fake, size_t count, uint64_t first)
{
    for (size_t index = 0; index < count; index++) {
        fake_send_ops (client, 1);
        fake_expect_ops (fake, first + index);
        assert (fake->msg.op_count == 1);
    }
}

//  Wait for an event of type; its detail, when found, into detail
bool
fake_event (zstate_client_t *client, const char *type, char *detail, size_t size)
{
    zsock_t *events = zstate_client_events (client);
    zsock_set_rcvtimeo (events, WAIT);
    for (int count = 0; count < 100; count++) {
        char *event_type = NULL, *endpoint = NULL, *event_detail = NULL;
        if (zsock_recv (events, "sss", &event_type, &endpoint, &event_detail) == -1)
            return false;
        bool found = streq (event_type, type);
        if (found && detail)
            snprintf (detail, size, "%s", event_detail);
        zstr_free (&event_type);
        zstr_free (&endpoint);
        zstr_free (&event_detail);
        if (found)
            return true;
    }
    return false;
}

//  Wait until the stats say what the test needs
void
fake_wait_stats (zstate_client_t *client, zstate_client_stats_t *stats,
              bool (*done) (zstate_client_stats_t *stats))
{
    for (int attempt = 0; attempt < WAIT / 10; attempt++) {
        zstate_client_stats (client, stats);
        if (done (stats))
            return;
        zclock_sleep (10);
    }
    assert (false);
}
