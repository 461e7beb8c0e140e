/*  =========================================================================
    zstate_client_session_test - the client's protocol version 2 session
    against a scripted server: a raw ROUTER that speaks version 2 through
    the session codec and answers only what each test tells it to
    (zstate_client_fake.c); levels and bounds: zstate_client_level_suite.c

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_fake.h"

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

//  Handshake, nothing before WELCOME, ACK frees, flush waits for ACKs
static void
s_test_handshake (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, false, HEARTBEAT, verbose);
    assert (fake->msg.sequence == 1);
    //  Held back until WELCOME: the server sees no OPS meanwhile
    fake_send_ops (client, 3);
    assert (!fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 200));
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_accepted == 3 && stats.ops_sent == 0);
    fake_welcome (fake, 0);
    char detail [256];
    assert (fake_event (client, "EPOCH", detail, sizeof (detail)));
    assert (streq (detail, "00000000000000000000000000000000 "
                           "0102030405060708090a0b0c0d0e0f10"));
    //  Held back, they went in one message
    fake_expect_ops (fake, 1);
    assert (fake->msg.op_count == 3);
    fake_send_each (client, fake, 2, 2);
    //  Sent is not delivered: flush waits for the ACK
    assert (zstate_client_flush (client, 200) == -1 && errno == ETIMEDOUT);
    zstate_client_stats (client, &stats);
    assert (stats.outbox_ops == 5 && stats.ops_acked == 0);
    fake_ack (fake, 2);
    fake_ack (fake, 1);           //  Stale: ignored
    fake_ack (fake, 3);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 5 && stats.outbox_ops == 0 && stats.outbox_bytes == 0);
    assert (stats.last_acked == 3 && stats.epochs == 1 && stats.retransmits == 0);
    //  An ACK beyond what was sent is counted and ignored
    fake_ack (fake, 99);
    fake_send_each (client, fake, 1, 4);
    fake_ack (fake, 4);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.protocol_errors == 1 && stats.last_acked == 4);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  WELCOME as a resume request: everything after delivered again, in
//  order, exactly once; then a new epoch: HELLO, and what it lacks
static void
s_test_resend (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    assert (fake_event (client, "EPOCH", NULL, 0));
    fake_send_each (client, fake, 10, 1);
    fake_ack (fake, 3);
    fake_welcome (fake, 6);
    for (uint64_t sequence = 7; sequence <= 10; sequence++)
        fake_expect_ops (fake, sequence);
    fake_send_each (client, fake, 1, 11);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.retransmits == 4);
    assert (stats.outbox_ops == 5);     //  7 .. 11

    //  The server restarted: its PING has another epoch
    fake->epoch [0] = 0xEE;
    zstate_session_msg_t ping = { .type = ZSTATE_SESSION_MSG_PING, .nonce = 7 };
    fake_send (fake, &ping);
    assert (fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT));
    assert (fake->msg.sequence == 7);
    //  ACKs of the new epoch before its WELCOME are ignored
    fake_ack (fake, 11);
    fake_welcome (fake, 8);
    char detail [256];
    assert (fake_event (client, "EPOCH", detail, sizeof (detail)));
    assert (streq (detail, "0102030405060708090a0b0c0d0e0f10 "
                           "ee02030405060708090a0b0c0d0e0f10"));
    for (uint64_t sequence = 9; sequence <= 11; sequence++)
        fake_expect_ops (fake, sequence);
    fake_ack (fake, 11);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.epochs == 2 && stats.retransmits == 7 && stats.ops_acked == 11);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  REJECT: reported, forgotten, never sent again; NO_SESSION: HELLO
static void
s_test_reject (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    fake_send_each (client, fake, 3, 1);
    zstate_session_msg_t reject = { .type = ZSTATE_SESSION_MSG_REJECT };
    reject.sequence = 2;
    reject.reason = ZSTATE_SESSION_REASON_UNROUTABLE;
    reject.text = "no consumer for db/table";
    reject.text_size = strlen (reject.text);
    fake_send (fake, &reject);
    char detail [512];
    assert (fake_event (client, "REJECT", detail, sizeof (detail)));
    assert (streq (detail, "2 20 no consumer for db/table"));
    //  The same REJECT again, as a server sends what it cannot know went
    //  after a reconnect: the message is no longer held, nothing counts
    fake_send (fake, &reject);
    //  Resume from 0: 1 and 3 again, never 2
    fake_welcome (fake, 0);
    fake_expect_ops (fake, 1);
    fake_expect_ops (fake, 3);
    fake_ack (fake, 3);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.rejects == 1 && stats.ops_refused == 1 && stats.ops_acked == 2);

    //  NO_SESSION refuses the session: HELLO again, the message is kept
    fake_send_each (client, fake, 1, 4);
    reject.sequence = 4;
    reject.reason = ZSTATE_SESSION_REASON_NO_SESSION;
    reject.text = "";
    reject.text_size = 0;
    fake_send (fake, &reject);
    assert (fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT));
    assert (fake->msg.sequence == 4);
    fake_welcome (fake, 3);
    fake_expect_ops (fake, 4);
    fake_ack (fake, 4);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.rejects == 1 && stats.ops_acked == 3);

    //  A REJECT that comes between HELLO and WELCOME, as one sent again
    //  after a reconnect does, is reported, and its message never goes
    fake_send_each (client, fake, 1, 5);
    fake_send (fake, &reject);
    assert (fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT));
    assert (fake->msg.sequence == 5);
    reject.sequence = 5;
    reject.reason = ZSTATE_SESSION_REASON_UNROUTABLE;
    fake_send (fake, &reject);
    assert (fake_event (client, "REJECT", detail, sizeof (detail)));
    assert (streq (detail, "5 20 no consumer for the table"));
    fake_welcome (fake, 5);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.rejects == 2 && stats.ops_refused == 2 && stats.ops_acked == 3);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  A silent server: the client opens a fresh DEALER (a new routing id)
//  and HELLOs there; what was not acknowledged goes again
static void
s_test_silence (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, true, SHORT_HEARTBEAT, verbose);
    fake_send_each (client, fake, 2, 1);
    fake_ack (fake, 1);
    zframe_t *first = zframe_dup (fake->routing_id);
    //  Read without answering: PINGs pile up unanswered
    zstate_client_stats_t stats;
    bool hello = false;
    for (int count = 0; count < 1000 && !hello; count++) {
        assert (fake_next (fake, zclock_mono () + WAIT));
        hello = fake->msg.type == ZSTATE_SESSION_MSG_HELLO;
        if (hello) {
            assert (!zframe_eq (fake->last_from, first));
            zframe_destroy (&fake->routing_id);
            fake->routing_id = zframe_dup (fake->last_from);
            assert (fake->msg.sequence == 2);
        }
    }
    assert (hello);
    fake_wait_stats (client, &stats, s_reset_seen);
    //  Under load the client may give up on this HELLO too: welcome each
    fake->welcome_all = true;
    fake_welcome (fake, 1);
    fake_expect_ops (fake, 2);
    assert (zframe_eq (fake->last_from, fake->routing_id));
    fake_ack (fake, 2);
    assert (zstate_client_flush (client, WAIT) == 0);
    zframe_destroy (&first);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  Peers other than our client (a client of another process that found
//  this port, and one that sends garbage) are dropped and counted: the
//  session goes on as if they were not there
static void
s_test_strays (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *foreign = zstate_client_new ();
    assert (foreign);
    assert (zstate_client_connect (foreign, fake->endpoint) == 0);
    zsock_t *garbage = zsock_new_dealer (fake->endpoint);
    assert (garbage);
    assert (zstr_send (garbage, "") == 0);
    assert (zstr_sendx (garbage, "two", "frames", NULL) == 0);

    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    fake_send_each (client, fake, 3, 1);
    //  Until the foreign HELLO and both garbage messages were seen
    for (int count = 0; count < WAIT / 100 && fake->strays < 3; count++)
        assert (!fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 100));
    assert (fake->strays >= 3);
    fake_ack (fake, 3);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 3 && stats.protocol_errors == 0);
    assert (zstate_client_close (&client, WAIT) == 0);
    assert (zstate_client_close (&foreign, 0) == 0);
    zsock_destroy (&garbage);
    fake_destroy (&fake);
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
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    hold_t hold = { .client = client };
    pthread_mutex_init (&hold.mutex, NULL);
    pthread_cond_init (&hold.changed, NULL);
    zstate_client_set_hook (client, s_hold_hook, &hold);
    fake_send_each (client, fake, 1, 1);
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
        fake_expect_ops (fake, sequence++);
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
    fake_expect_ops (fake, sequence);
    assert (fake->msg.op_count == 2);
    fake_expect_ops (fake, sequence + 1);
    assert (fake->msg.op_count == 1);
    //  Nothing acknowledged yet: flush still waits
    pthread_mutex_lock (&hold.mutex);
    assert (!hold.flushed);
    pthread_mutex_unlock (&hold.mutex);
    //  Acknowledged up to the later send: flush returns, all that had
    //  returned before it acknowledged, the held send not yet
    fake_ack (fake, sequence);
    pthread_join (flusher, NULL);
    assert (hold.flush_rc == 0);
    assert (hold.flush_stats.ops_acked == before + 2);
    assert (hold.flush_stats.outbox_ops == 1);
    fake_ack (fake, sequence + 1);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == before + 3 && stats.outbox_ops == 0);
    assert (zstate_client_close (&client, WAIT) == 0);
    pthread_cond_destroy (&hold.changed);
    pthread_mutex_destroy (&hold.mutex);
    fake_destroy (&fake);
}

//  Close with a dead server returns within its timeout and says exactly
//  how many accepted operations were not acknowledged
static void
s_test_dead_peer (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    zstate_batch_t *batch = zstate_batch_new ();
    for (int index = 0; index < 5; index++)
        assert (zstate_batch_set (batch, "key", "field", "value", NULL) == 0);
    for (uint64_t sequence = 1; sequence <= 5; sequence++) {
        assert (zstate_client_send (client, "db", "table", batch) == 0);
        fake_expect_ops (fake, sequence);
        assert (fake->msg.op_count == 5);
    }
    zstate_batch_destroy (&batch);
    fake_ack (fake, 2);
    zstate_client_stats_t stats;
    fake_wait_stats (client, &stats, s_ten_acked);
    fake_destroy (&fake);
    fake_send_ops (client, 3);
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
    fake_send_ops (client, 2);
    assert (zstate_client_close (&client, WAIT) == 2);
}

//  A server that never answers HELLO (version 1 drops it): an ERROR
//  event says so, and no OPS go out meanwhile
static void
s_test_no_welcome (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, false, SHORT_HEARTBEAT, verbose);
    fake_send_ops (client, 1);
    char detail [512];
    assert (fake_event (client, "ERROR", detail, sizeof (detail)));
    assert (strstr (detail, "no WELCOME after 3 HELLOs"));
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.hellos >= 3 && stats.ops_sent == 0);
    assert (zstate_client_close (&client, 0) == 1);
    fake_destroy (&fake);
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
    s_test_dead_peer (verbose);
    s_test_no_welcome (verbose);
    zstate_client_level_suite (verbose);
    zstate_client_resync_suite (verbose);
    printf ("OK\n");
}
