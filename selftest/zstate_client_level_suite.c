/*  =========================================================================
    zstate_client_level_suite - the client's acknowledgement levels and
    its coalescing outbox, against the scripted server of
    zstate_client_fake.c

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_fake.h"

static bool
s_six_persisted (zstate_client_stats_t *stats)
{
    return stats->last_persisted == 6;
}

static bool
s_coalesced (zstate_client_stats_t *stats)
{
    return stats->frames_coalesced > 0;
}

//  The fake server can read a message before the agent that sent it has
//  counted it sent, so what the outbox holds is waited for, not read once
static size_t s_held_keys, s_held_ops;

static bool
s_held (zstate_client_stats_t *stats)
{
    return stats->outbox_keys == s_held_keys && stats->outbox_ops == s_held_ops;
}

static void
s_wait_held (zstate_client_t *client, zstate_client_stats_t *stats, size_t keys, size_t ops)
{
    s_held_keys = keys;
    s_held_ops = ops;
    fake_wait_stats (client, stats, s_held);
}

//  The outbox bound, in operations and bytes, counted after coalescing:
//  ENOBUFS when distinct keys fill it, until ACKs free it; EMSGSIZE for a
//  batch that can never fit
static void
s_test_bounds (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    zstate_client_set_queue (client, 10, 1024 * 1024);
    fake_send_each (client, fake, 10, 1);
    //  All sent, none acknowledged, ten keys: full, coalesced or not
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "key", "field", "value", NULL) == 0);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOBUFS);
    zstate_client_stats_t stats;
    s_wait_held (client, &stats, 10, 10);
    assert (stats.frames_coalesced == 10);
    for (int index = 0; index < 10; index++)
        assert (zstate_batch_set (batch, "key", "field", "value", NULL) == 0);
    assert (zstate_batch_size (batch) == 11);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == EMSGSIZE);
    //  An ACK inside the coalesced range frees nothing: an entry's newest
    //  operation may be after it; one that covers the range frees it all
    fake_ack (fake, 4);
    assert (zstate_client_flush (client, 200) == -1 && errno == ETIMEDOUT);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 0 && stats.outbox_keys == 10);
    fake_ack (fake, 10);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 10 && stats.outbox_ops == 0 && stats.outbox_keys == 0);

    //  Many operations over few keys never fill it: they fold into one
    //  entry per key (sender and agent alike)
    uint64_t sequence = 11;
    for (int index = 0; index < 200; index++) {
        char key [8], value [8];
        snprintf (key, sizeof (key), "k%d", index % 5);
        snprintf (value, sizeof (value), "%d", index);
        fake_send_key (client, key, value);
        fake_expect_ops (fake, sequence++);
    }
    fake_wait_stats (client, &stats, s_coalesced);
    //  ENOBUFS exactly at the key bound: 5 keys more fit, then nothing,
    //  whether on a new key or one held
    for (int index = 5; index < 10; index++) {
        char key [8];
        snprintf (key, sizeof (key), "k%d", index);
        fake_send_key (client, key, "new");
        fake_expect_ops (fake, sequence++);
    }
    zstate_batch_reset (batch);
    assert (zstate_batch_set (batch, "k10", "field", "value", NULL) == 0);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOBUFS);
    zstate_batch_reset (batch);
    assert (zstate_batch_set (batch, "k0", "field", "value", NULL) == 0);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOBUFS);
    s_wait_held (client, &stats, 10, 10);
    fake_ack (fake, sequence - 1);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 10 + 205 && stats.outbox_ops == 0);

    //  Bytes: room for three operations, not four (coalesced entries hold
    //  more bytes than their wire form); one over can never fit
    zstate_batch_reset (batch);
    assert (zstate_batch_set (batch, "key", "field", "value", NULL) == 0);
    size_t bytes = zstate_batch_bytes (batch);
    zstate_client_set_queue (client, 100, 3 * bytes);
    fake_send_each (client, fake, 3, sequence);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOBUFS);
    zstate_client_stats (client, &stats);
    assert (stats.ops_rejected == 1 + 11 + 2 + 1 && stats.ops_accepted == 218);
    zstate_client_set_queue (client, 100, bytes - 1);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == EMSGSIZE);
    zstate_batch_destroy (&batch);
    fake_ack (fake, sequence + 2);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  Read what the client sent until the server got every message it sent
static void
fake_drain (fake_t *fake, zstate_client_t *client)
{
    for (int attempt = 0; attempt < WAIT; attempt++) {
        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        if (stats.queued_ops == 0 && fake->opses == stats.messages_sent)
            return;
        fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 10);
    }
    assert (false);
}

//  Send 100 ops, k<counter % 1000> = counter from round * 100, again
//  while the bound is hit, reading what the server got meanwhile
static void
s_send_round (fake_t *fake, zstate_client_t *client, zstate_batch_t *batch, int round)
{
    zstate_batch_reset (batch);
    for (int index = 0; index < 100; index++) {
        int counter = round * 100 + index;
        char key [16], value [16];
        snprintf (key, sizeof (key), "k%04d", counter % 1000);
        snprintf (value, sizeof (value), "%d", counter);
        int rc = zstate_batch_set (batch, key, "v", value, NULL);
        assert (rc == 0);
    }
    for (int attempt = 0; attempt < WAIT; attempt++) {
        if (zstate_client_send (client, "db", "table", batch) == 0)
            return;
        assert (errno == ENOBUFS);
        fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 1);
    }
    assert (false);
}

//  Expect the OPS of sequence next, its operations into received
static void
s_expect_batch (fake_t *fake, uint64_t sequence, zstate_batch_t *received)
{
    fake_expect_ops (fake, sequence);
    zstate_batch_reset (received);
    assert (zstate_batch_load (received, fake->msg.ops, fake->msg.ops_size,
                               fake->msg.op_count, NULL) == 0);
}

//  An outage of 100,000 ops over 1,000 keys (the server reads, never
//  acknowledges), then a new server instance that has none of it: it
//  receives exactly one op per key, the newest, in consecutive sequences,
//  then what was sent after them
static void
s_test_outage (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    zstate_client_set_queue (client, 20000, 64 * 1024 * 1024);
    zstate_batch_t *batch = zstate_batch_new ();
    for (int round = 0; round < 1000; round++) {
        s_send_round (fake, client, batch, round);
        while (fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 1))
            ;
    }
    zstate_batch_destroy (&batch);
    fake_drain (fake, client);
    for (int index = 0; index < 3; index++) {
        char key [16];
        snprintf (key, sizeof (key), "after%d", index);
        fake_send_key (client, key, "last");
    }
    fake_drain (fake, client);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.frames_coalesced > 0 && stats.outbox_keys <= 1003);
    assert (stats.outbox_ops <= 20000 && stats.ops_acked == 0);

    fake->epoch [0] = 0xEE;
    zstate_session_msg_t ping = { .type = ZSTATE_SESSION_MSG_PING, .nonce = 1 };
    fake_send (fake, &ping);
    assert (fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT));
    assert (fake->msg.sequence == 1);
    fake_welcome (fake, 0);
    int newest [1000];
    memset (newest, 0xFF, sizeof (newest));
    size_t ops = 0, afters = 0;
    uint64_t sequence = 0;
    zstate_batch_t *received = zstate_batch_new ();
    while (ops < 1003) {
        s_expect_batch (fake, ++sequence, received);
        for (size_t index = 0; index < zstate_batch_size (received); index++, ops++) {
            const char *key = zstate_batch_key (received, index, NULL);
            if (key [0] == 'a') {
                //  What was sent after the outage comes last, in order
                assert (key [5] == (char) ('0' + afters++) && ops >= 1000);
                continue;
            }
            int slot = atoi (key + 1);
            assert (newest [slot] == -1);
            newest [slot] = atoi (zstate_batch_get (received, index, "v"));
        }
    }
    zstate_batch_destroy (&received);
    assert (ops == 1003 && afters == 3);
    for (int slot = 0; slot < 1000; slot++)
        assert (newest [slot] == 99000 + slot);
    //  Nothing else follows
    assert (!fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 200));
    fake_ack (fake, sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 100003 && stats.outbox_ops == 0 && stats.outbox_keys == 0);
    assert (stats.ops_accepted == 100003);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  Level PERSISTED: the outbox keeps what is delivered and not persisted,
//  flush_level returns at D for DELIVERED and only at P for PERSISTED,
//  and a new epoch gets exactly the messages after P again
static void
s_test_persisted (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new_at (fake, true, HEARTBEAT,
                                               ZSTATE_ACK_PERSISTED, verbose);
    assert (fake_event (client, "EPOCH", NULL, 0));
    fake_send_each (client, fake, 10, 1);
    fake_ack_at (fake, 10, 4);
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
    fake_welcome_at (fake, 10, 6, ZSTATE_SESSION_ACK_PERSISTED);
    fake_wait_stats (client, &stats, s_six_persisted);
    fake_send_each (client, fake, 1, 11);
    zstate_client_stats (client, &stats);
    assert (stats.outbox_ops == 5 && stats.retransmits == 0 && stats.ops_delivered == 10);
    //  A new server instance has only what was persisted: 7 .. 11 again,
    //  each counted delivered once all the same
    fake->epoch [0] = 0xEE;
    zstate_session_msg_t ping = { .type = ZSTATE_SESSION_MSG_PING, .nonce = 1 };
    fake_send (fake, &ping);
    assert (fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT));
    assert (fake->msg.sequence == 7 && fake->msg.ack_level == ZSTATE_ACK_PERSISTED);
    fake_welcome_at (fake, 6, 6, ZSTATE_SESSION_ACK_PERSISTED);
    for (uint64_t sequence = 7; sequence <= 11; sequence++)
        fake_expect_ops (fake, sequence);
    fake_send_each (client, fake, 1, 12);
    fake_ack_at (fake, 12, 9);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_DELIVERED, WAIT) == 0);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_PERSISTED, 200) == -1
            && errno == ETIMEDOUT);
    fake_ack_at (fake, 12, 12);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_PERSISTED, WAIT) == 0);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.retransmits == 5 && stats.ops_delivered == 12 && stats.ops_acked == 12);
    assert (stats.outbox_ops == 0 && stats.last_persisted == 12 && stats.epochs == 2);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  The fake server sends REPLAY from .. to, skip, max, nonce; the client
//  sends again first .. last, then PONGs the nonce
static void
s_replay_expect (fake_t *fake, uint64_t from, uint64_t to, uint32_t skip, uint32_t max,
                 uint64_t nonce, uint64_t first, uint64_t last)
{
    zstate_session_msg_t replay = { .type = ZSTATE_SESSION_MSG_REPLAY, .sequence = from,
                                    .to = to, .skip = skip, .max = max, .nonce = nonce };
    fake_send (fake, &replay);
    for (uint64_t sequence = first; sequence <= last; sequence++)
        fake_expect_ops (fake, sequence);
    assert (fake_recv (fake, ZSTATE_SESSION_MSG_PONG, WAIT) && fake->msg.nonce == nonce);
}

//  A REPLAY round: the client sends again what it holds from the REPLAY's
//  from up to its to, no further (but for its skip, and no more than its
//  max), in order, then a PONG with its nonce, and streams on; a to past
//  the last sent means all it holds
static void
s_test_replay_round (bool verbose)
{
    fake_t *fake = fake_new ();
    fake->features = ZSTATE_SESSION_FEATURE_REPLAY;
    zstate_client_t *client = fake_client_new_at (fake, true, HEARTBEAT,
                                               ZSTATE_ACK_PERSISTED, verbose);
    fake_send_each (client, fake, 10, 1);
    fake_ack_at (fake, 10, 2);
    s_replay_expect (fake, 4, 6, 0, 0, 77, 4, 6);
    //  Nothing of 7 .. 10 again: what is new comes next
    fake_send_each (client, fake, 1, 11);
    s_replay_expect (fake, 3, 100, 0, 0, 78, 3, 11);
    //  Skip 1 from a message that is alone with its sequence: the writer
    //  has it, and it does not go again
    s_replay_expect (fake, 5, 7, 1, 0, 79, 6, 7);
    //  Max 2: two messages, no more
    s_replay_expect (fake, 3, 100, 0, 2, 80, 3, 4);
    fake_send_each (client, fake, 1, 12);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.replays == 4 && stats.replays_missed == 0
         && stats.retransmits == 3 + 9 + 2 + 2);
    fake_ack_at (fake, 12, 12);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_PERSISTED, WAIT) == 0);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  A server that grants only DELIVERED to a client asking for PERSISTED:
//  a LEVEL event, and the client works at DELIVERED
static void
s_test_granted_less (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new_at (fake, false, HEARTBEAT,
                                               ZSTATE_ACK_PERSISTED, verbose);
    fake_send_ops (client, 1);
    fake_welcome (fake, 0);
    char detail [256];
    assert (fake_event (client, "LEVEL", detail, sizeof (detail)));
    assert (streq (detail, "PERSISTED DELIVERED"));
    fake_expect_ops (fake, 1);
    fake_send_each (client, fake, 2, 2);
    fake_ack_at (fake, 3, 0);
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
    fake_destroy (&fake);
}

//  REPLAY at level DELIVERED: flush returns once delivered, while the
//  client keeps what is not persisted; a REPLAY gets it again, then its
//  PONG; P forgets it. Closing with some delivered and not persisted
//  loses nothing it reports, since DELIVERED is what was asked
static void
s_test_replay_delivered (bool verbose)
{
    fake_t *fake = fake_new ();
    fake->features = ZSTATE_SESSION_FEATURE_REPLAY;
    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    fake_send_each (client, fake, 3, 1);
    fake_ack_at (fake, 3, 1);
    assert (zstate_client_flush (client, WAIT) == 0);
    assert (zstate_client_flush_level (client, ZSTATE_ACK_DELIVERED, WAIT) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ack_level == ZSTATE_ACK_DELIVERED && stats.last_acked == 3);
    assert (stats.outbox_ops == 2 && stats.ops_acked == 1);
    zstate_session_msg_t replay = { .type = ZSTATE_SESSION_MSG_REPLAY };
    replay.sequence = 2;
    replay.to = 3;
    replay.nonce = 77;
    fake_send (fake, &replay);
    fake_expect_ops (fake, 2);
    fake_expect_ops (fake, 3);
    bool ponged = fake_recv (fake, ZSTATE_SESSION_MSG_PONG, WAIT);
    assert (ponged && fake->msg.nonce == 77);
    fake_ack_at (fake, 3, 3);
    fake_send_each (client, fake, 1, 4);
    fake_ack_at (fake, 4, 3);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.replays == 1 && stats.outbox_ops == 1 && stats.ops_acked == 3);
    //  4 is delivered: not lost, though the writer never confirmed it
    assert (zstate_client_close (&client, 200) == 0);
    fake_destroy (&fake);
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

//  "Full" and "failed" stay apart: full is ENOBUFS, a client FAILED (the
//  link down past its timeout) says ENOTCONN, full or not; close counts
//  the operations lost, not the coalesced entries that held them
static void
s_test_failed (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    zstate_client_set_link_timeout (client, 200);
    zstate_client_set_queue (client, 4, 1024 * 1024);
    for (uint64_t sequence = 1; sequence <= 15; sequence++) {
        char key [8];
        snprintf (key, sizeof (key), "k%d", (int) (sequence % 3));
        fake_send_key (client, key, "value");
        fake_expect_ops (fake, sequence);
    }
    fake_send_key (client, "k3", "value");
    fake_expect_ops (fake, 16);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "k4", "field", "value", NULL) == 0);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOBUFS);
    zstate_client_stats_t stats;
    s_wait_held (client, &stats, 4, 4);
    fake_destroy (&fake);
    char detail [64];
    bool failed = false;
    for (int count = 0; count < 10 && !failed; count++)
        failed = fake_event (client, "STATE", detail, sizeof (detail))
              && streq (detail, "FAILED");
    assert (failed);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOTCONN);
    zstate_batch_destroy (&batch);
    assert (zstate_client_close (&client, 0) == 16);
}

//  Before WELCOME nothing is sent, so everything waits unsent: 10,000
//  operations over 10 keys fit a bound of 50, folded into one entry per
//  key. At the WELCOME those go first, numbered from 1, then what was
//  queued after the last fold, with no gap in the sequences; each key's
//  values arrive in order and end with its newest; the ACK of the last
//  message acknowledges every operation accepted
static void
s_test_unsent (bool verbose)
{
    fake_t *fake = fake_new ();
    //  Not welcomed while it sends: a heartbeat long enough that the
    //  client does not give up on the connection meanwhile, however slow
    //  the sending is (valgrind on a loaded machine)
    zstate_client_t *client = fake_client_new (fake, false, PATIENT_HEARTBEAT, verbose);
    zstate_client_set_queue (client, 50, 1024 * 1024);
    for (int index = 0; index < 10000; index++) {
        char key [8], value [16];
        snprintf (key, sizeof (key), "k%d", index % 10);
        snprintf (value, sizeof (value), "%d", index);
        fake_send_key (client, key, value);
    }
    fake_send_key (client, "after", "last");
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.frames_coalesced > 0 && stats.ops_rejected == 0);
    assert (stats.ops_accepted == 10001 && stats.ops_sent == 0 && stats.queued_ops <= 50);
    fake_welcome (fake, 0);
    int newest [10];
    memset (newest, 0xFF, sizeof (newest));
    size_t ops = 0;
    uint64_t sequence = 0;
    bool after = false;
    zstate_batch_t *received = zstate_batch_new ();
    while (!after) {
        assert (sequence < 100);
        s_expect_batch (fake, ++sequence, received);
        for (size_t index = 0; index < zstate_batch_size (received); index++, ops++) {
            const char *key = zstate_batch_key (received, index, NULL);
            assert (!after);
            if (streq (key, "after")) {
                after = true;
                continue;
            }
            int slot = atoi (key + 1), value = atoi (zstate_batch_get (received, index, "field"));
            assert (value > newest [slot] && value % 10 == slot);
            newest [slot] = value;
        }
    }
    zstate_batch_destroy (&received);
    for (int slot = 0; slot < 10; slot++)
        assert (newest [slot] == 9990 + slot);
    assert (ops <= 10 + 50);
    assert (!fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 200));
    fake_ack (fake, sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 10001 && stats.ops_sent == 10001 && stats.queued_ops == 0);
    assert (stats.outbox_ops == 0 && stats.outbox_keys == 0);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  Keys written in turn repeat only every 5,000 operations, further apart
//  than the fold's probe sees: near the bound what waits unsent folds all
//  the same, so 20,000 operations fit a bound of 6,000 and none is
//  refused. At the WELCOME each key's values arrive in order and end with
//  its newest, and the ACK of the last message acknowledges them all
static void
s_test_unsent_many_keys (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, false, PATIENT_HEARTBEAT, verbose);
    zstate_client_set_queue (client, 6000, 64 * 1024 * 1024);
    for (int index = 0; index < 20000; index++) {
        char key [8], value [16];
        snprintf (key, sizeof (key), "k%d", index % 5000);
        snprintf (value, sizeof (value), "%d", index);
        fake_send_key (client, key, value);
    }
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_rejected == 0 && stats.ops_accepted == 20000);
    assert (stats.frames_coalesced > 0 && stats.queued_ops <= 6000);
    fake_welcome (fake, 0);
    int *newest = (int *) malloc (5000 * sizeof (int));
    assert (newest);
    memset (newest, 0xFF, 5000 * sizeof (int));
    size_t ops = 0, received_ops = 0;
    uint64_t sequence = 0;
    zstate_batch_t *received = zstate_batch_new ();
    while (received_ops < stats.queued_ops) {
        assert (sequence < 6000);
        s_expect_batch (fake, ++sequence, received);
        received_ops += zstate_batch_size (received);
        for (size_t index = 0; index < zstate_batch_size (received); index++, ops++) {
            const char *key = zstate_batch_key (received, index, NULL);
            int slot = atoi (key + 1), value = atoi (zstate_batch_get (received, index, "field"));
            assert (value > newest [slot] && value % 5000 == slot);
            newest [slot] = value;
        }
    }
    zstate_batch_destroy (&received);
    for (int slot = 0; slot < 5000; slot++)
        assert (newest [slot] == 15000 + slot);
    free (newest);
    assert (!fake_recv (fake, ZSTATE_SESSION_MSG_OPS, 200));
    fake_ack (fake, sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 20000 && stats.ops_sent == 20000 && stats.queued_ops == 0);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

//  Keys that never repeat: the fold stops after its probe, so the bound
//  still says ENOBUFS; what it folded goes first at the WELCOME, the rest
//  after it, every operation once, in order, with no gap in the sequences
static void
s_test_unsent_unique (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, false, PATIENT_HEARTBEAT, verbose);
    zstate_client_set_queue (client, 6000, 64 * 1024 * 1024);
    for (int index = 0; index < 6000; index++) {
        char key [16];
        snprintf (key, sizeof (key), "u%05d", index);
        fake_send_key (client, key, "v");
    }
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "one-more", "field", "v", NULL) == 0);
    assert (zstate_client_send (client, "db", "table", batch) == -1 && errno == ENOBUFS);
    zstate_batch_destroy (&batch);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.frames_coalesced > 0 && stats.queued_ops == 6000);
    fake_welcome (fake, 0);
    int next = 0;
    uint64_t sequence = 0;
    zstate_batch_t *received = zstate_batch_new ();
    while (next < 6000) {
        assert (sequence < 6000);
        s_expect_batch (fake, ++sequence, received);
        for (size_t index = 0; index < zstate_batch_size (received); index++)
            assert (atoi (zstate_batch_key (received, index, NULL) + 1) == next++);
    }
    zstate_batch_destroy (&received);
    assert (next == 6000);
    fake_ack (fake, sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.ops_acked == 6000 && stats.outbox_ops == 0);
    assert (zstate_client_close (&client, WAIT) == 0);
    fake_destroy (&fake);
}

void
zstate_client_level_suite (bool verbose)
{
    s_test_level_api ();
    s_test_persisted (verbose);
    s_test_replay_round (verbose);
    s_test_granted_less (verbose);
    s_test_replay_delivered (verbose);
    s_test_bounds (verbose);
    s_test_outage (verbose);
    s_test_failed (verbose);
    s_test_unsent (verbose);
    s_test_unsent_many_keys (verbose);
    s_test_unsent_unique (verbose);
}
