/*  =========================================================================
    zstate_client_session_test - the client's protocol version 2 session
    against a scripted server: a raw ROUTER that speaks version 2 through
    the session codec and answers only what each test tells it to

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"

#define HEARTBEAT       1000        //  Client heartbeat in most tests, msecs
#define SHORT_HEARTBEAT 50          //  In the test of a silent server
#define WAIT            10000       //  Generous wait for anything expected

//  The scripted server
typedef struct {
    zsock_t *router;
    char *endpoint;
    byte epoch [ZSTATE_SESSION_EPOCH_SIZE];
    byte session [ZSTATE_MSG_SESSION_SIZE];
    byte expected [ZSTATE_MSG_SESSION_SIZE];    //  The session of our client
    size_t strays;              //  Messages of other peers, dropped
    zframe_t *routing_id;       //  Of the latest HELLO
    zframe_t *last_from;        //  Routing id of the last message
    zmsg_t *last;               //  Last message received; msg points into it
    zstate_session_msg_t msg;   //  Its decoded form
    size_t hellos;              //  HELLOs received
    size_t pings;               //  PINGs received (each answered with PONG)
    uint32_t heartbeat;         //  The client's, from its HELLO
    bool welcome_all;           //  Answer every HELLO with a WELCOME
} fake_t;

static void s_fake_welcome (fake_t *self, uint64_t delivered);

static fake_t *
s_fake_new (void)
{
    fake_t *self = (fake_t *) zmalloc (sizeof (fake_t));
    assert (self);
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
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

static void
s_fake_destroy (fake_t **self_p)
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
static void
s_fake_send (fake_t *self, zstate_session_msg_t *msg)
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

//  Receive the next message of our client by deadline (a zclock_mono
//  time) into self->last and self->msg. Anything else (a client of another
//  process that found this port, or garbage) is counted and dropped, so
//  it cannot fail a test here. Returns false at the deadline.
static bool
s_fake_next (fake_t *self, int64_t deadline)
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
static bool
s_fake_recv (fake_t *self, int type, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        if (!s_fake_next (self, deadline))
            return false;
        if (self->msg.type == ZSTATE_SESSION_MSG_HELLO) {
            self->hellos++;
            memcpy (self->session, self->msg.session, ZSTATE_MSG_SESSION_SIZE);
            zframe_destroy (&self->routing_id);
            self->routing_id = zframe_dup (self->last_from);
            self->heartbeat = self->msg.heartbeat;
            if (self->welcome_all)
                s_fake_welcome (self, self->msg.sequence - 1);
        }
        else
            assert (memcmp (self->session, self->msg.session, ZSTATE_MSG_SESSION_SIZE) == 0);
        if (self->msg.type == ZSTATE_SESSION_MSG_PING) {
            self->pings++;
            zstate_session_msg_t pong = { .type = ZSTATE_SESSION_MSG_PONG };
            pong.nonce = self->msg.nonce;
            s_fake_send (self, &pong);
        }
        if (type == 0 || self->msg.type == type)
            return true;
    }
}

//  WELCOME with delivered, persisted and the level granted
static void
s_fake_welcome_at (fake_t *self, uint64_t delivered, uint64_t persisted, int level)
{
    zstate_session_msg_t welcome = { .type = ZSTATE_SESSION_MSG_WELCOME };
    welcome.delivered = delivered;
    welcome.persisted = persisted;
    welcome.ack_level = level;
    welcome.heartbeat = self->heartbeat;
    s_fake_send (self, &welcome);
}

static void
s_fake_welcome (fake_t *self, uint64_t delivered)
{
    s_fake_welcome_at (self, delivered, delivered, ZSTATE_SESSION_ACK_DELIVERED);
}

static void
s_fake_ack_at (fake_t *self, uint64_t delivered, uint64_t persisted)
{
    zstate_session_msg_t ack = { .type = ZSTATE_SESSION_MSG_ACK };
    ack.delivered = delivered;
    ack.persisted = persisted;
    s_fake_send (self, &ack);
}

static void
s_fake_ack (fake_t *self, uint64_t delivered)
{
    s_fake_ack_at (self, delivered, delivered);
}

//  Expect the OPS with exactly this sequence next (PINGs aside)
static void
s_fake_expect_ops (fake_t *self, uint64_t sequence)
{
    bool received = s_fake_recv (self, ZSTATE_SESSION_MSG_OPS, WAIT);
    assert (received);
    assert (self->msg.sequence == sequence);
    assert (self->msg.op_count >= 1);
}

//  A client with a short heartbeat, connected to the scripted server,
//  whose HELLO the server has seen (and WELCOMEd with delivered 0 when
//  welcome)
static zstate_client_t *
s_client_new_at (fake_t *fake, bool welcome, int heartbeat, int level, bool verbose)
{
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    memcpy (fake->expected, client->session, ZSTATE_MSG_SESSION_SIZE);
    zstate_client_set_verbose (client, verbose);
    int rc = zstate_client_set_heartbeat (client, heartbeat);
    assert (rc == 0);
    rc = zstate_client_set_ack_level (client, level);
    assert (rc == 0);
    rc = zstate_client_connect (client, fake->endpoint);
    assert (rc == 0);
    bool received = s_fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT);
    assert (received);
    assert (fake->msg.ack_level == level);
    assert (fake->msg.heartbeat == (uint32_t) heartbeat);
    if (welcome)
        s_fake_welcome_at (fake, fake->msg.sequence - 1, fake->msg.sequence - 1, level);
    return client;
}

static zstate_client_t *
s_client_new (fake_t *fake, bool welcome, int heartbeat, bool verbose)
{
    return s_client_new_at (fake, welcome, heartbeat, ZSTATE_ACK_DELIVERED, verbose);
}

//  Send count messages of one operation each
static void
s_send (zstate_client_t *client, size_t count)
{
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t index = 0; index < count; index++) {
        zstate_batch_reset (batch);
        int rc = zstate_batch_set (batch, "key", "field", "value", NULL);
        assert (rc == 0);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
    }
    zstate_batch_destroy (&batch);
}

//  Send count messages of one operation each, from sequence first: each
//  waits for the one before at the server, so that none share a message
static void
s_send_each (zstate_client_t *client, fake_t *fake, size_t count, uint64_t first)
{
    for (size_t index = 0; index < count; index++) {
        s_send (client, 1);
        s_fake_expect_ops (fake, first + index);
        assert (fake->msg.op_count == 1);
    }
}

//  Wait for an event of type; its detail, when found, into detail
static bool
s_event (zstate_client_t *client, const char *type, char *detail, size_t size)
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
static void
s_wait_stats (zstate_client_t *client, zstate_client_stats_t *stats,
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

static bool
s_reset_seen (zstate_client_stats_t *stats)
{
    return stats->resets >= 1;
}

static bool
s_ten_acked (zstate_client_stats_t *stats)
{
    return stats->ops_acked == 10;
}

static bool
s_six_persisted (zstate_client_stats_t *stats)
{
    return stats->last_persisted == 6;
}

//  Handshake, nothing before WELCOME, ACK frees, flush waits for ACKs
static void
s_test_handshake (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new (fake, false, HEARTBEAT, verbose);
    assert (fake->msg.sequence == 1);
    //  Held back until WELCOME: the server sees no OPS meanwhile
    s_send (client, 3);
    assert (!s_fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 200));
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_accepted == 3 && stats.ops_sent == 0);
    s_fake_welcome (fake, 0);
    char detail [256];
    assert (s_event (client, "EPOCH", detail, sizeof (detail)));
    assert (streq (detail, "00000000000000000000000000000000 "
                           "0102030405060708090a0b0c0d0e0f10"));
    //  Held back, they went in one message
    s_fake_expect_ops (fake, 1);
    assert (fake->msg.op_count == 3);
    s_send_each (client, fake, 2, 2);
    //  Sent is not delivered: flush waits for the ACK
    assert (zstate_client_flush (client, 200) == -1 && errno == ETIMEDOUT);
    zstate_client_stats (client, &stats);
    assert (stats.outbox_ops == 5 && stats.ops_acked == 0);
    s_fake_ack (fake, 2);
    s_fake_ack (fake, 1);           //  Stale: ignored
    s_fake_ack (fake, 3);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 5 && stats.outbox_ops == 0 && stats.outbox_bytes == 0);
    assert (stats.last_acked == 3 && stats.epochs == 1 && stats.retransmits == 0);
    //  An ACK beyond what was sent is counted and ignored
    s_fake_ack (fake, 99);
    s_send_each (client, fake, 1, 4);
    s_fake_ack (fake, 4);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.protocol_errors == 1 && stats.last_acked == 4);
    assert (zstate_client_close (&client, WAIT) == 0);
    s_fake_destroy (&fake);
}

//  WELCOME as a resume request: everything after delivered again, in
//  order, exactly once; then a new epoch: HELLO, and what it lacks
static void
s_test_resend (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new (fake, true, HEARTBEAT, verbose);
    assert (s_event (client, "EPOCH", NULL, 0));
    s_send_each (client, fake, 10, 1);
    s_fake_ack (fake, 3);
    s_fake_welcome (fake, 6);
    for (uint64_t sequence = 7; sequence <= 10; sequence++)
        s_fake_expect_ops (fake, sequence);
    s_send_each (client, fake, 1, 11);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.retransmits == 4);
    assert (stats.outbox_ops == 5);     //  7 .. 11

    //  The server restarted: its PING has another epoch
    fake->epoch [0] = 0xEE;
    zstate_session_msg_t ping = { .type = ZSTATE_SESSION_MSG_PING, .nonce = 7 };
    s_fake_send (fake, &ping);
    assert (s_fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT));
    assert (fake->msg.sequence == 7);
    //  ACKs of the new epoch before its WELCOME are ignored
    s_fake_ack (fake, 11);
    s_fake_welcome (fake, 8);
    char detail [256];
    assert (s_event (client, "EPOCH", detail, sizeof (detail)));
    assert (streq (detail, "0102030405060708090a0b0c0d0e0f10 "
                           "ee02030405060708090a0b0c0d0e0f10"));
    for (uint64_t sequence = 9; sequence <= 11; sequence++)
        s_fake_expect_ops (fake, sequence);
    s_fake_ack (fake, 11);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.epochs == 2 && stats.retransmits == 7 && stats.ops_acked == 11);
    assert (zstate_client_close (&client, WAIT) == 0);
    s_fake_destroy (&fake);
}

//  REJECT: reported, forgotten, never sent again; NO_SESSION: HELLO
static void
s_test_reject (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new (fake, true, HEARTBEAT, verbose);
    s_send_each (client, fake, 3, 1);
    zstate_session_msg_t reject = { .type = ZSTATE_SESSION_MSG_REJECT };
    reject.sequence = 2;
    reject.reason = ZSTATE_SESSION_REASON_UNROUTABLE;
    reject.text = "no consumer for db/table";
    reject.text_size = strlen (reject.text);
    s_fake_send (fake, &reject);
    char detail [512];
    assert (s_event (client, "REJECT", detail, sizeof (detail)));
    assert (streq (detail, "2 20 no consumer for db/table"));
    //  Resume from 0: 1 and 3 again, never 2
    s_fake_welcome (fake, 0);
    s_fake_expect_ops (fake, 1);
    s_fake_expect_ops (fake, 3);
    s_fake_ack (fake, 3);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.rejects == 1 && stats.ops_refused == 1 && stats.ops_acked == 2);

    //  NO_SESSION refuses the session: HELLO again, the message is kept
    s_send_each (client, fake, 1, 4);
    reject.sequence = 4;
    reject.reason = ZSTATE_SESSION_REASON_NO_SESSION;
    reject.text = "";
    reject.text_size = 0;
    s_fake_send (fake, &reject);
    assert (s_fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT));
    assert (fake->msg.sequence == 4);
    s_fake_welcome (fake, 3);
    s_fake_expect_ops (fake, 4);
    s_fake_ack (fake, 4);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.rejects == 1 && stats.ops_acked == 3);
    assert (zstate_client_close (&client, WAIT) == 0);
    s_fake_destroy (&fake);
}

//  A silent server: the client opens a fresh DEALER (a new routing id)
//  and HELLOs there; what was not acknowledged goes again
static void
s_test_silence (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new (fake, true, SHORT_HEARTBEAT, verbose);
    s_send_each (client, fake, 2, 1);
    s_fake_ack (fake, 1);
    zframe_t *first = zframe_dup (fake->routing_id);
    //  Read without answering: PINGs pile up unanswered
    zstate_client_stats_t stats;
    bool hello = false;
    for (int count = 0; count < 1000 && !hello; count++) {
        assert (s_fake_next (fake, zclock_mono () + WAIT));
        hello = fake->msg.type == ZSTATE_SESSION_MSG_HELLO;
        if (hello) {
            assert (!zframe_eq (fake->last_from, first));
            zframe_destroy (&fake->routing_id);
            fake->routing_id = zframe_dup (fake->last_from);
            assert (fake->msg.sequence == 2);
        }
    }
    assert (hello);
    s_wait_stats (client, &stats, s_reset_seen);
    //  Under load the client may give up on this HELLO too: welcome each
    fake->welcome_all = true;
    s_fake_welcome (fake, 1);
    s_fake_expect_ops (fake, 2);
    assert (zframe_eq (fake->last_from, fake->routing_id));
    s_fake_ack (fake, 2);
    assert (zstate_client_flush (client, WAIT) == 0);
    zframe_destroy (&first);
    assert (zstate_client_close (&client, WAIT) == 0);
    s_fake_destroy (&fake);
}

//  Peers other than our client (a client of another process that found
//  this port, and one that sends garbage) are dropped and counted: the
//  session goes on as if they were not there
static void
s_test_strays (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *foreign = zstate_client_new ();
    assert (foreign);
    assert (zstate_client_connect (foreign, fake->endpoint) == 0);
    zsock_t *garbage = zsock_new_dealer (fake->endpoint);
    assert (garbage);
    assert (zstr_send (garbage, "") == 0);
    assert (zstr_sendx (garbage, "two", "frames", NULL) == 0);

    zstate_client_t *client = s_client_new (fake, true, HEARTBEAT, verbose);
    s_send_each (client, fake, 3, 1);
    //  Until the foreign HELLO and both garbage messages were seen
    for (int count = 0; count < WAIT / 100 && fake->strays < 3; count++)
        assert (!s_fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 100));
    assert (fake->strays >= 3);
    s_fake_ack (fake, 3);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 3 && stats.protocol_errors == 0);
    assert (zstate_client_close (&client, WAIT) == 0);
    assert (zstate_client_close (&foreign, 0) == 0);
    zsock_destroy (&garbage);
    s_fake_destroy (&fake);
}

//  What the flush test shares with the client's hook and its two threads
typedef struct {
    zstate_client_t *client;
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    bool armed;                 //  Hold the next fast send
    bool held;                  //  A fast send is held
    bool release;               //  Let it go, refused by the socket
    bool sent;                  //  The held sender's call returned
    int flushes;                //  Flushes that counted what they wait for
    int flush_rc;               //  What the flush thread's flush returned
    bool flushed;               //  ... once it has
    zstate_client_stats_t flush_stats;  //  The client's, just after
} hold_t;

static int
s_hold_hook (zstate_client_t *client, int point, void *arg)
{
    (void) client;
    hold_t *hold = (hold_t *) arg;
    pthread_mutex_lock (&hold->mutex);
    bool refuse = false;
    if (point == ZSTATE_CLIENT_HOOK_FAST_SEND && hold->armed) {
        hold->armed = false;
        hold->held = true;
        pthread_cond_broadcast (&hold->changed);
        while (!hold->release)
            pthread_cond_wait (&hold->changed, &hold->mutex);
        refuse = true;
    }
    if (point == ZSTATE_CLIENT_HOOK_FLUSH_WAIT) {
        hold->flushes++;
        pthread_cond_broadcast (&hold->changed);
    }
    pthread_mutex_unlock (&hold->mutex);
    return refuse? -1: 0;
}

//  Wait until ready says so, at most WAIT
static bool
s_hold_wait (hold_t *hold, bool (*ready) (hold_t *hold))
{
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT / 1000;
    pthread_mutex_lock (&hold->mutex);
    while (!ready (hold)
    &&     pthread_cond_timedwait (&hold->changed, &hold->mutex, &deadline) != ETIMEDOUT)
        ;
    bool done = ready (hold);
    pthread_mutex_unlock (&hold->mutex);
    return done;
}

static bool
s_held_or_sent (hold_t *hold)
{
    return hold->held || hold->sent;
}

static bool
s_flush_counted (hold_t *hold)
{
    return hold->flushes > 0;
}

static void *
s_hold_sender (void *arg)
{
    hold_t *hold = (hold_t *) arg;
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, "held", "field", "value", NULL);
    assert (rc == 0);
    rc = zstate_client_send (hold->client, "db", "held", batch);
    assert (rc == 0);
    zstate_batch_destroy (&batch);
    pthread_mutex_lock (&hold->mutex);
    hold->sent = true;
    pthread_cond_broadcast (&hold->changed);
    pthread_mutex_unlock (&hold->mutex);
    return NULL;
}

static void *
s_hold_flusher (void *arg)
{
    hold_t *hold = (hold_t *) arg;
    int rc = zstate_client_flush (hold->client, WAIT);
    pthread_mutex_lock (&hold->mutex);
    hold->flush_rc = rc;
    zstate_client_stats (hold->client, &hold->flush_stats);
    hold->flushed = true;
    pthread_mutex_unlock (&hold->mutex);
    return NULL;
}

//  Flush against a send held on the fast path, past its count and before
//  the socket, which then refuses it: the send goes to the queue behind
//  one accepted after flush started. Flush waits for every send that had
//  returned; the held one had not, and (as the header allows) flush may
//  return before it is acknowledged, and here it does.
static void
s_test_flush_held (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new (fake, true, HEARTBEAT, verbose);
    hold_t hold = { .client = client };
    pthread_mutex_init (&hold.mutex, NULL);
    pthread_cond_init (&hold.changed, NULL);
    zstate_client_set_hook (client, s_hold_hook, &hold);
    s_send_each (client, fake, 1, 1);
    //  The fast path is not free while the agent holds the socket (a PING,
    //  say): then the send queues, and we try again
    uint64_t sequence = 2;
    pthread_t sender;
    for (int attempt = 0; attempt < 10; attempt++) {
        zclock_sleep (10);
        pthread_mutex_lock (&hold.mutex);
        hold.armed = true;
        hold.sent = false;
        pthread_mutex_unlock (&hold.mutex);
        pthread_create (&sender, NULL, s_hold_sender, &hold);
        assert (s_hold_wait (&hold, s_held_or_sent));
        pthread_mutex_lock (&hold.mutex);
        bool held = hold.held;
        hold.armed = false;
        pthread_mutex_unlock (&hold.mutex);
        if (held)
            break;
        pthread_join (sender, NULL);
        s_fake_expect_ops (fake, sequence++);
    }
    pthread_mutex_lock (&hold.mutex);
    assert (hold.held);
    pthread_mutex_unlock (&hold.mutex);
    uint64_t before = sequence - 1;     //  Ops of the sends that returned

    pthread_t flusher;
    pthread_create (&flusher, NULL, s_hold_flusher, &hold);
    assert (s_hold_wait (&hold, s_flush_counted));
    //  Accepted after flush counted: queued, the sender holds the socket
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "k1", "field", "value", NULL) == 0);
    assert (zstate_batch_set (batch, "k2", "field", "value", NULL) == 0);
    assert (zstate_client_send (client, "db", "table", batch) == 0);
    zstate_batch_destroy (&batch);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.queued_ops == 3);
    pthread_mutex_lock (&hold.mutex);
    hold.release = true;
    pthread_cond_broadcast (&hold.changed);
    pthread_mutex_unlock (&hold.mutex);
    pthread_join (sender, NULL);

    //  The refused send went behind the later one
    s_fake_expect_ops (fake, sequence);
    assert (fake->msg.op_count == 2);
    s_fake_expect_ops (fake, sequence + 1);
    assert (fake->msg.op_count == 1);
    //  Nothing acknowledged yet: flush still waits
    pthread_mutex_lock (&hold.mutex);
    assert (!hold.flushed);
    pthread_mutex_unlock (&hold.mutex);
    //  Acknowledged up to the later send: flush returns, all that had
    //  returned before it acknowledged, the held send not yet
    s_fake_ack (fake, sequence);
    pthread_join (flusher, NULL);
    assert (hold.flush_rc == 0);
    assert (hold.flush_stats.ops_acked == before + 2);
    assert (hold.flush_stats.outbox_ops == 1);
    s_fake_ack (fake, sequence + 1);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == before + 3 && stats.outbox_ops == 0);
    assert (zstate_client_close (&client, WAIT) == 0);
    pthread_cond_destroy (&hold.changed);
    pthread_mutex_destroy (&hold.mutex);
    s_fake_destroy (&fake);
}

//  The outbox bound, in operations and bytes: ENOBUFS until ACKs free it,
//  EMSGSIZE for a batch that can never fit
static void
s_test_bounds (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new (fake, true, HEARTBEAT, verbose);
    zstate_client_set_queue (client, 10, 1024 * 1024);
    s_send_each (client, fake, 10, 1);
    //  All sent, none acknowledged: still full
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "key", "field", "value", NULL) == 0);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOBUFS);
    for (int index = 0; index < 10; index++)
        assert (zstate_batch_set (batch, "key", "field", "value", NULL) == 0);
    assert (zstate_batch_size (batch) == 11);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == EMSGSIZE);
    //  An ACK makes room for what it acknowledged, no more
    s_fake_ack (fake, 4);
    assert (zstate_client_flush (client, 200) == -1);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.outbox_ops == 6 && stats.ops_acked == 4);
    s_send_each (client, fake, 4, 11);
    zstate_batch_reset (batch);
    assert (zstate_batch_set (batch, "key", "field", "value", NULL) == 0);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOBUFS);
    s_fake_ack (fake, 14);
    assert (zstate_client_flush (client, WAIT) == 0);
    //  Bytes: room for three operations, not four; one over can never fit
    size_t bytes = zstate_batch_bytes (batch);
    zstate_client_set_queue (client, 100, 3 * bytes);
    s_send_each (client, fake, 3, 15);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOBUFS);
    zstate_client_stats (client, &stats);
    assert (stats.ops_rejected == 1 + 11 + 1 + 1 && stats.ops_accepted == 17);
    zstate_client_set_queue (client, 100, bytes - 1);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == EMSGSIZE);
    zstate_batch_destroy (&batch);
    s_fake_ack (fake, 17);
    assert (zstate_client_close (&client, WAIT) == 0);
    s_fake_destroy (&fake);
}

//  Close with a dead server returns within its timeout and says exactly
//  how many accepted operations were not acknowledged
static void
s_test_dead_peer (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new (fake, true, HEARTBEAT, verbose);
    zstate_batch_t *batch = zstate_batch_new ();
    for (int index = 0; index < 5; index++)
        assert (zstate_batch_set (batch, "key", "field", "value", NULL) == 0);
    for (uint64_t sequence = 1; sequence <= 5; sequence++) {
        assert (zstate_client_send (client, "db", "table", batch) == 0);
        s_fake_expect_ops (fake, sequence);
        assert (fake->msg.op_count == 5);
    }
    zstate_batch_destroy (&batch);
    s_fake_ack (fake, 2);
    zstate_client_stats_t stats;
    s_wait_stats (client, &stats, s_ten_acked);
    s_fake_destroy (&fake);
    s_send (client, 3);
    int64_t started = zclock_mono ();
    size_t lost = zstate_client_close (&client, 500);
    int64_t elapsed = zclock_mono () - started;
    assert (client == NULL);
    //  3 messages of 5 and 3 of 1 never acknowledged
    assert (lost == 18);
    //  Generous for a loaded machine: bounded by the timeout, not a peer
    assert (elapsed < WAIT);
    //  A client that never connected loses what it accepted, at once
    client = zstate_client_new ();
    s_send (client, 2);
    assert (zstate_client_close (&client, WAIT) == 2);
}

//  A server that never answers HELLO (version 1 drops it): an ERROR
//  event says so, and no OPS go out meanwhile
static void
s_test_no_welcome (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new (fake, false, SHORT_HEARTBEAT, verbose);
    s_send (client, 1);
    char detail [512];
    assert (s_event (client, "ERROR", detail, sizeof (detail)));
    assert (strstr (detail, "no WELCOME after 3 HELLOs"));
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.hellos >= 3 && stats.ops_sent == 0);
    assert (zstate_client_close (&client, 0) == 1);
    s_fake_destroy (&fake);
}

//  Level PERSISTED: the outbox keeps what is delivered and not persisted,
//  flush_level returns at D for DELIVERED and only at P for PERSISTED,
//  and a new epoch gets exactly the messages after P again
static void
s_test_persisted (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new_at (fake, true, HEARTBEAT,
                                               ZSTATE_ACK_PERSISTED, verbose);
    assert (s_event (client, "EPOCH", NULL, 0));
    s_send_each (client, fake, 10, 1);
    s_fake_ack_at (fake, 10, 4);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_DELIVERED, WAIT) == 0);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_PERSISTED, 200) == -1
            && errno == ETIMEDOUT);
    assert (zstate_client_flush (client, 200) == -1 && errno == ETIMEDOUT);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ack_level == ZSTATE_ACK_PERSISTED);
    assert (stats.outbox_ops == 6 && stats.ops_acked == 4 && stats.ops_delivered == 10);
    assert (stats.last_delivered == 10 && stats.last_persisted == 4);
    assert (stats.last_acked == 4);
    //  A resume request of the same epoch: forget up to P, send nothing
    //  again (the server still has 7 .. 10 on their way to Redis)
    s_fake_welcome_at (fake, 10, 6, ZSTATE_SESSION_ACK_PERSISTED);
    s_wait_stats (client, &stats, s_six_persisted);
    s_send_each (client, fake, 1, 11);
    zstate_client_stats (client, &stats);
    assert (stats.outbox_ops == 5 && stats.retransmits == 0 && stats.ops_delivered == 10);
    //  A new server instance has only what was persisted: 7 .. 11 again,
    //  each counted delivered once all the same
    fake->epoch [0] = 0xEE;
    zstate_session_msg_t ping = { .type = ZSTATE_SESSION_MSG_PING, .nonce = 1 };
    s_fake_send (fake, &ping);
    assert (s_fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT));
    assert (fake->msg.sequence == 7 && fake->msg.ack_level == ZSTATE_ACK_PERSISTED);
    s_fake_welcome_at (fake, 6, 6, ZSTATE_SESSION_ACK_PERSISTED);
    for (uint64_t sequence = 7; sequence <= 11; sequence++)
        s_fake_expect_ops (fake, sequence);
    s_send_each (client, fake, 1, 12);
    s_fake_ack_at (fake, 12, 9);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_DELIVERED, WAIT) == 0);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_PERSISTED, 200) == -1
            && errno == ETIMEDOUT);
    s_fake_ack_at (fake, 12, 12);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_PERSISTED, WAIT) == 0);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.retransmits == 5 && stats.ops_delivered == 12 && stats.ops_acked == 12);
    assert (stats.outbox_ops == 0 && stats.last_persisted == 12 && stats.epochs == 2);
    assert (zstate_client_close (&client, WAIT) == 0);
    s_fake_destroy (&fake);
}

//  A server that grants only DELIVERED to a client asking for PERSISTED:
//  a LEVEL event, and the client works at DELIVERED
static void
s_test_granted_less (bool verbose)
{
    fake_t *fake = s_fake_new ();
    zstate_client_t *client = s_client_new_at (fake, false, HEARTBEAT,
                                               ZSTATE_ACK_PERSISTED, verbose);
    s_send (client, 1);
    s_fake_welcome (fake, 0);
    char detail [256];
    assert (s_event (client, "LEVEL", detail, sizeof (detail)));
    assert (streq (detail, "PERSISTED DELIVERED"));
    s_fake_expect_ops (fake, 1);
    s_send_each (client, fake, 2, 2);
    s_fake_ack_at (fake, 3, 0);
    assert (zstate_client_flush (client, WAIT) == 0);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_DELIVERED, WAIT) == 0);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_PERSISTED, WAIT) == -1
            && errno == ENOTSUP);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ack_level == ZSTATE_ACK_DELIVERED && stats.outbox_ops == 0);
    assert (stats.ops_acked == 3 && stats.last_acked == 3 && stats.last_persisted == 0);
    assert (zstate_client_set_ack_level (client, ZSTATE_ACK_DELIVERED) == -1
            && errno == EBUSY);
    assert (zstate_client_close (&client, WAIT) == 0);
    s_fake_destroy (&fake);
}

//  The level's API without a server
static void
s_test_level_api (void)
{
    assert (ZSTATE_ACK_DELIVERED == ZSTATE_SESSION_ACK_DELIVERED);
    assert (ZSTATE_ACK_PERSISTED == ZSTATE_SESSION_ACK_PERSISTED);
    assert (streq (zstate_client_ack_level_name (ZSTATE_ACK_PERSISTED), "PERSISTED"));
    assert (streq (zstate_client_ack_level_name (0), "NONE"));
    assert (streq (zstate_client_ack_level_name (7), "UNKNOWN"));
    zstate_client_t *client = zstate_client_new ();
    assert (zstate_client_set_ack_level (client, 3) == -1 && errno == EINVAL);
    assert (zstate_client_flush_level (client, 0, 0) == -1 && errno == EINVAL);
    //  Asked for DELIVERED: PERSISTED can never come
    assert (zstate_client_flush_level (client, ZSTATE_ACK_PERSISTED, WAIT) == -1
            && errno == ENOTSUP);
    //  Nothing accepted: DELIVERED is done at once
    assert (zstate_client_flush_level (client, ZSTATE_ACK_DELIVERED, 0) == 0);
    zstate_client_destroy (&client);
    //  Version 1 has no acknowledgements at all
    client = zstate_client_new ();
    assert (zstate_client_set_protocol (client, 1) == 0);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_DELIVERED, WAIT) == -1
            && errno == ENOTSUP);
    zstate_client_destroy (&client);
}

void
zstate_client_session_test (bool verbose)
{
    printf (" * zstate_client_session: ");
    if (verbose)
        printf ("\n");
    zstate_client_t *client = zstate_client_new ();
    assert (zstate_client_set_protocol (client, 3) == -1 && errno == EINVAL);
    assert (zstate_client_set_heartbeat (client, 5) == -1 && errno == EINVAL);
    zstate_client_destroy (&client);

    s_test_handshake (verbose);
    s_test_resend (verbose);
    s_test_reject (verbose);
    s_test_silence (verbose);
    s_test_strays (verbose);
    s_test_flush_held (verbose);
    s_test_bounds (verbose);
    s_test_dead_peer (verbose);
    s_test_no_welcome (verbose);
    s_test_level_api ();
    s_test_persisted (verbose);
    s_test_granted_less (verbose);
    printf ("OK\n");
}
