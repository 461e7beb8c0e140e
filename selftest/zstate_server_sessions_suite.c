/*  =========================================================================
    zstate_server_sessions_suite - the server's side of protocol version 2

    A real server with real consumer tables, and raw DEALER sockets that
    speak version 2 through the session codec, as a client would: the
    handshake, in-order delivery, duplicates, gaps and resumes, superseded
    connections, REJECT, NO_SESSION, coalesced ACKs, PING and PONG, server
    PINGs, expiry, the bounded table, hostile input, messages of many
    frames, and version 1 beside it. Assertions are on what arrives and in
    which order, never on time: a sync point is a PING, whose PONG comes
    after every reply to what the same DEALER sent before it.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_peer.h"

#define DB              "APPL_DB"
#define TABLE           "PORT_TABLE"
#define ENDPOINT        "inproc://zstate-server-sessions-suite"
#define DEADLINE        30000   //  msecs: only a broken server waits this long

//  A new session: WELCOME with D = P = F - 1, our epoch, level DELIVERED
//  even when PERSISTED is asked (no table has a writer), the server's
//  heartbeat; then in order
//  delivery, and the same epoch for every session of the instance
static void
s_test_handshake (zstate_server_t *server, zstate_consumer_t *ports)
{
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_PERSISTED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (memcmp (reply.msg.session, id, ZSTATE_MSG_SESSION_SIZE) == 0);
    assert (memcmp (reply.msg.epoch, peer_zero_epoch, ZSTATE_SESSION_EPOCH_SIZE));
    byte epoch [ZSTATE_SESSION_EPOCH_SIZE];
    memcpy (epoch, reply.msg.epoch, ZSTATE_SESSION_EPOCH_SIZE);
    assert (reply.msg.delivered == 0 && reply.msg.persisted == 0);
    assert (reply.msg.ack_level == ZSTATE_SESSION_ACK_DELIVERED);
    assert (reply.msg.heartbeat == 0);
    assert (reply.msg.features == 0);

    peer_ops (peer, 2, id, 1, TABLE, "k1", 0);
    peer_ops (peer, 2, id, 2, TABLE, "k2", 0);
    peer_ops (peer, 2, id, 3, TABLE, "k3", 0);
    peer_expect_keys (ports, "k1 k2 k3");
    peer_expect_ack (peer, &reply, 3);
    assert (memcmp (reply.msg.epoch, epoch, ZSTATE_SESSION_EPOCH_SIZE) == 0);
    //  No writer on this consumer: persisted follows delivered
    assert (reply.msg.persisted == 3);

    //  A resuming client that lost none: D stays
    peer_hello (peer, id, 2, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.delivered == 3);
    //  One that forgot what we never had: a gap, and D jumps
    zstate_server_stats_t stats;
    int rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    uint64_t gaps = stats.gaps;
    peer_hello (peer, id, 10, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.delivered == 9 && reply.msg.persisted == 9);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.gaps == gaps + 1);
    peer_ops (peer, 2, id, 10, TABLE, "k10", 0);
    peer_expect_keys (ports, "k10");
    peer_expect_ack (peer, &reply, 10);

    //  Another session of the same instance gets the same epoch
    zuuid_t *other = zuuid_new ();
    peer_hello (peer, zuuid_data (other), 7, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (memcmp (reply.msg.epoch, epoch, ZSTATE_SESSION_EPOCH_SIZE) == 0);
    assert (reply.msg.delivered == 6);
    zuuid_destroy (&other);

    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  Duplicates are dropped and acknowledged again; a gap is dropped and
//  answered by one WELCOME until the next message in order comes
static void
s_test_duplicates_gaps (zstate_server_t *server, zstate_consumer_t *ports)
{
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    peer_ops (peer, 2, id, 1, TABLE, "d1", 0);
    peer_ops (peer, 2, id, 2, TABLE, "d2", 0);
    peer_expect_ack (peer, &reply, 2);

    peer_ops (peer, 2, id, 1, TABLE, "again1", 0);
    peer_ops (peer, 2, id, 2, TABLE, "again2", 0);
    peer_expect_ack (peer, &reply, 2);
    peer_ops (peer, 2, id, 3, TABLE, "d3", 0);
    peer_expect_keys (ports, "d1 d2 d3");
    peer_expect_ack (peer, &reply, 3);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.duplicates == before.duplicates + 2);

    //  5, 6 and 7 come after a lost 4: one resume WELCOME with D = 3
    peer_ops (peer, 2, id, 5, TABLE, "lost5", 0);
    peer_ops (peer, 2, id, 6, TABLE, "lost6", 0);
    peer_ops (peer, 2, id, 7, TABLE, "lost7", 0);
    peer_ping (peer, id, 77);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.delivered == 3);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_PONG && reply.msg.nonce == 77);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.gaps == before.gaps + 3);
    assert (stats.resumes == before.resumes + 1);

    //  The client resumes; then a new gap gets a WELCOME of its own
    peer_ops (peer, 2, id, 4, TABLE, "d4", 0);
    peer_ops (peer, 2, id, 5, TABLE, "d5", 0);
    peer_ops (peer, 2, id, 7, TABLE, "lost7", 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.delivered == 5);
    peer_ops (peer, 2, id, 6, TABLE, "d6", 0);
    peer_expect_keys (ports, "d4 d5 d6");
    peer_expect_ack (peer, &reply, 6);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.resumes == before.resumes + 2);

    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A second DEALER HELLOs under the same session: the first one's OPS,
//  sent after that HELLO, are never delivered, in whatever order they
//  reach the server, and are answered with NO_SESSION (rate-limited)
static void
s_test_superseded (zstate_server_t *server, zstate_consumer_t *ports)
{
    zsock_t *old_peer = peer_new (">" ENDPOINT);
    zsock_t *new_peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    peer_hello (old_peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (old_peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    peer_ops (old_peer, 2, id, 1, TABLE, "s1", 0);
    peer_expect_keys (ports, "s1");

    peer_hello (new_peer, id, 2, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (new_peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.delivered == 1);
    int64_t start = zclock_mono ();
    peer_ops (old_peer, 2, id, 2, TABLE, "old2", 0);
    peer_ops (old_peer, 2, id, 3, TABLE, "old3", 0);
    peer_ops (new_peer, 2, id, 2, TABLE, "new2", 0);
    peer_ops (new_peer, 2, id, 3, TABLE, "new3", 0);
    WAIT_STATS (server, stats, stats.superseded == before.superseded + 2);
    peer_ops (new_peer, 2, id, 4, TABLE, "new4", 0);
    peer_expect_keys (ports, "new2 new3 new4");
    peer_expect_ack (new_peer, &reply, 4);
    //  The old connection is told it has no session, at most once a second
    peer_ping (old_peer, id, 5);
    size_t rejects = 0;
    for (peer_recv (old_peer, &reply); reply.msg.type != ZSTATE_SESSION_MSG_PONG;
         peer_recv (old_peer, &reply)) {
        assert (reply.msg.type == ZSTATE_SESSION_MSG_REJECT);
        assert (reply.msg.reason == ZSTATE_SESSION_REASON_NO_SESSION);
        assert (rejects > 0 || reply.msg.sequence == 2);
        rejects++;
    }
    assert (reply.msg.nonce == 5);
    int64_t elapsed = zclock_mono () - start;
    assert (rejects >= 1 && rejects <= 1 + (size_t) (elapsed / 1000));
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.no_session == before.no_session);

    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&old_peer);
    zsock_destroy (&new_peer);
}

//  OPS of version 2 without a session: REJECT NO_SESSION at most once a
//  second per connection, nothing delivered; PING is answered anyway
static void
s_test_no_session (zstate_server_t *server, zstate_consumer_t *ports)
{
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    int64_t start = zclock_mono ();
    for (uint64_t sequence = 1; sequence <= 100; sequence++)
        peer_ops (peer, 2, id, sequence, TABLE, "nobody", 0);
    peer_ping (peer, id, 9);
    size_t rejects = 0;
    for (peer_recv (peer, &reply); reply.msg.type != ZSTATE_SESSION_MSG_PONG;
         peer_recv (peer, &reply)) {
        assert (reply.msg.type == ZSTATE_SESSION_MSG_REJECT);
        assert (reply.msg.reason == ZSTATE_SESSION_REASON_NO_SESSION);
        assert (memcmp (reply.msg.session, id, ZSTATE_MSG_SESSION_SIZE) == 0);
        assert (rejects > 0 || reply.msg.sequence == 1);
        rejects++;
    }
    //  The rule, whatever the speed of the machine
    int64_t elapsed = zclock_mono () - start;
    assert (rejects >= 1 && rejects <= 1 + (size_t) (elapsed / 1000));
    assert (reply.msg.nonce == 9);
    assert (memcmp (reply.msg.epoch, peer_zero_epoch, ZSTATE_SESSION_EPOCH_SIZE));
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.no_session == before.no_session + 100);
    assert (stats.rejects == before.rejects + rejects);
    assert (stats.pings == before.pings + 1);
    assert (stats.routed == before.routed);
    assert (zstate_consumer_pending (ports) == 0);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  What a complete validation refuses after the envelope gets a REJECT
//  before the ACK that covers it, and the session goes on; a broken
//  envelope is dropped without a reply
static void
s_test_reject (zstate_server_t *server, zstate_consumer_t *ports)
{
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    peer_ops (peer, 2, id, 1, "NO_TABLE", "r1", 0);
    peer_ops (peer, 2, id, 2, TABLE, "r2", 3);
    peer_ops (peer, 2, id, 3, TABLE, "r3", -1);
    peer_ops (peer, 2, id, 0, TABLE, "r0", 0);     //  no sequence 0 in version 2
    zmq_send (zsock_resolve (peer), "ZS\x02\x01", 4, 0);
    peer_ops (peer, 2, id, 4, TABLE, "r4", 0);
    int reasons [] = { ZSTATE_SESSION_REASON_UNROUTABLE,
                       ZSTATE_SESSION_REASON_TRUNCATED,
                       ZSTATE_SESSION_REASON_OP_CODE };
    for (uint64_t sequence = 1; sequence <= 3; sequence++) {
        peer_recv (peer, &reply);
        while (reply.msg.type == ZSTATE_SESSION_MSG_ACK) {
            assert (reply.msg.delivered < sequence);
            peer_recv (peer, &reply);
        }
        assert (reply.msg.type == ZSTATE_SESSION_MSG_REJECT);
        assert (reply.msg.sequence == sequence);
        assert (reply.msg.reason == reasons [sequence - 1]);
        assert (streq (reply.msg.text, zstate_session_msg_reason_text (reasons [sequence - 1])));
    }
    peer_expect_keys (ports, "r4");
    peer_expect_ack (peer, &reply, 4);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.rejects == before.rejects + 3);
    assert (stats.unroutable == before.unroutable + 1);
    assert (stats.rejected [ZSTATE_SESSION_REASON_TRUNCATED]
            == before.rejected [ZSTATE_SESSION_REASON_TRUNCATED] + 2);
    assert (stats.rejected [ZSTATE_SESSION_REASON_OP_CODE]
            == before.rejected [ZSTATE_SESSION_REASON_OP_CODE] + 1);
    assert (stats.rejected [ZSTATE_SESSION_REASON_SEQUENCE]
            == before.rejected [ZSTATE_SESSION_REASON_SEQUENCE] + 1);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  With an hour's delay, ACKs go every 64 messages and no more often;
//  with a short delay, the last one comes without more traffic
static void
s_test_coalescing (zstate_server_t *server, zstate_consumer_t *ports)
{
    int rc = zstate_server_set_heartbeat (server, 3600000);
    assert (rc == 0);
    rc = zstate_server_set_ack_delay (server, 3600000);
    assert (rc == 0);
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.heartbeat == 3600000);
    for (uint64_t sequence = 1; sequence <= 130; sequence++)
        peer_ops (peer, 2, id, sequence, TABLE, "c", 0);
    peer_ping (peer, id, 1);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_ACK && reply.msg.delivered == 64);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_ACK && reply.msg.delivered == 128);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_PONG);
    //  The two left wait for the timer; a shorter delay sends them
    rc = zstate_server_set_ack_delay (server, 10);
    assert (rc == 0);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_ACK && reply.msg.delivered == 130);
    peer_ops (peer, 2, id, 131, TABLE, "c", 0);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_ACK && reply.msg.delivered == 131);
    //  Bad settings are refused
    rc = zstate_server_set_heartbeat (server, 5);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_server_set_ack_delay (server, -1);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_server_set_sessions_max (server, 0);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_server_set_heartbeat (server, 0);
    assert (rc == 0);

    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t popped = 0; popped < 131; )     //  all are in: ACKed
        popped += zstate_consumer_pops (ports, batch, 0);
    zstate_batch_destroy (&batch);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A quiet welcomed session gets PINGs with the epoch
static void
s_test_heartbeats (zstate_server_t *server, zstate_consumer_t *ports)
{
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    rc = zstate_server_set_heartbeat (server, 20);
    assert (rc == 0);
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    //  A client heartbeat of an hour: the session outlives the PING
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 3600000);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.heartbeat == 20);
    byte epoch [ZSTATE_SESSION_EPOCH_SIZE];
    memcpy (epoch, reply.msg.epoch, ZSTATE_SESSION_EPOCH_SIZE);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_PING);
    assert (memcmp (reply.msg.session, id, ZSTATE_MSG_SESSION_SIZE) == 0);
    assert (memcmp (reply.msg.epoch, epoch, ZSTATE_SESSION_EPOCH_SIZE) == 0);
    //  A peer that only PINGs has no session, so it gets no PINGs: while
    //  the session got three more, the stranger got nothing but its PONGs
    zsock_t *stranger = peer_new (">" ENDPOINT);
    peer_ping (stranger, id, 1);
    peer_recv (stranger, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_PONG && reply.msg.nonce == 1);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    uint64_t pings_sent = stats.pings_sent;
    WAIT_STATS (server, stats, stats.pings_sent >= pings_sent + 3);
    peer_ping (stranger, id, 2);
    peer_recv (stranger, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_PONG && reply.msg.nonce == 2);
    zsock_destroy (&stranger);
    //  The PONG is a sign of life, and needs no answer
    zstate_session_msg_t pong = {
        .type = ZSTATE_SESSION_MSG_PONG, .session = id, .epoch = epoch,
        .nonce = reply.msg.nonce
    };
    peer_send (peer, &pong);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.pings_sent > before.pings_sent);
    assert (stats.unexpected == before.unexpected);
    rc = zstate_server_set_heartbeat (server, 0);
    assert (rc == 0);
    assert (zstate_consumer_pending (ports) == 0);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A session outlives 3 of its client's heartbeats of silence while the
//  idle limit holds, so what the client sends again after an outage is a
//  duplicate; past the limit it is forgotten, and its OPS meet NO_SESSION.
//  A server of its own, so that no other session can expire meanwhile.
static void
s_test_idle (void)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    int rc = zstate_server_bind (server, ENDPOINT "-idle");
    assert (rc == 0);
    zstate_consumer_t *ports = zstate_consumer_new (server, DB, TABLE);
    assert (ports);
    zsock_t *peer = zsock_new_dealer (">" ENDPOINT "-idle");
    assert (peer);
    zsock_set_rcvtimeo (peer, DEADLINE);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 10);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    peer_ops (peer, 2, id, 1, TABLE, "once", 0);
    peer_expect_keys (ports, "once");
    //  Ten heartbeats of silence: still known, so the same message again
    //  is a duplicate, not a second delivery
    zclock_sleep (100);
    peer_ops (peer, 2, id, 1, TABLE, "once", 0);
    zstate_server_stats_t stats;
    WAIT_STATS (server, stats, stats.duplicates == 1);
    assert (stats.expired == 0 && stats.sessions == 1);
    //  With no idle limit, 3 silent heartbeats are enough
    rc = zstate_server_set_session_idle (server, 0);
    assert (rc == 0);
    WAIT_STATS (server, stats, stats.expired == 1 && stats.sessions == 0);
    peer_ops (peer, 2, id, 2, TABLE, "expired", 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_REJECT);
    assert (reply.msg.reason == ZSTATE_SESSION_REASON_NO_SESSION);
    assert (zstate_consumer_pending (ports) == 0);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
    zstate_server_destroy (&server);
    zstate_consumer_destroy (&ports);
}

//  A full table evicts the session heard from least recently; this runs
//  first, on an empty table
static void
s_test_bound (zstate_server_t *server, zstate_consumer_t *ports)
{
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    assert (before.sessions == 0);
    rc = zstate_server_set_sessions_max (server, 2);
    assert (rc == 0);
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *first = zuuid_new ();
    zuuid_t *second = zuuid_new ();
    zuuid_t *third = zuuid_new ();
    reply_t reply = { NULL };
    peer_hello (peer, zuuid_data (first), 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.heartbeat == 1000);       //  the default
    peer_hello (peer, zuuid_data (second), 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    //  The first is heard again: the second is now the oldest
    peer_ping (peer, zuuid_data (first), 1);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_PONG);
    peer_hello (peer, zuuid_data (third), 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.evicted == before.evicted + 1);
    assert (stats.sessions == 2);
    peer_ops (peer, 2, zuuid_data (second), 1, TABLE, "evicted", 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_REJECT);
    assert (reply.msg.reason == ZSTATE_SESSION_REASON_NO_SESSION);
    assert (memcmp (reply.msg.session, zuuid_data (second), ZSTATE_MSG_SESSION_SIZE) == 0);
    peer_ops (peer, 2, zuuid_data (first), 1, TABLE, "kept", 0);
    peer_expect_keys (ports, "kept");
    rc = zstate_server_set_sessions_max (server, 65536);
    assert (rc == 0);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&first);
    zuuid_destroy (&second);
    zuuid_destroy (&third);
    zsock_destroy (&peer);
}

//  Send a message of frames frames, each a valid OPS of session with key
static void
s_multipart_send (zsock_t *peer, const byte *session, uint64_t sequence,
                  const char *key, size_t frames)
{
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, key, "value", "1", NULL);
    assert (rc == 0);
    zframe_t *frame = zstate_msg_encode (session, sequence, DB, TABLE, batch);
    assert (frame);
    zframe_data (frame) [2] = ZSTATE_SESSION_VERSION;
    for (size_t index = 0; index < frames; index++) {
        rc = zmq_send (zsock_resolve (peer), zframe_data (frame), zframe_size (frame),
                       index + 1 < frames? ZMQ_SNDMORE: 0);
        assert (rc == (int) zframe_size (frame));
    }
    zframe_destroy (&frame);
    zstate_batch_destroy (&batch);
}

//  A message of more than one frame is counted once as FRAMES and dropped
//  whole, none of its frames delivered, even one of many more frames than
//  the server reads in one go; what peer sends around it is delivered.
//  The session of id has D = 1.
static void
s_test_frames (zstate_server_t *server, zstate_consumer_t *ports, zsock_t *peer,
               const byte *id)
{
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    peer_ops (peer, 2, id, 2, TABLE, "f2", 0);
    s_multipart_send (peer, id, 3, "bad", 3);
    peer_ops (peer, 2, id, 3, TABLE, "f3", 0);
    s_multipart_send (peer, id, 4, "bad", 5000);
    s_multipart_send (peer, id, 4, "bad", 2);
    peer_ops (peer, 2, id, 4, TABLE, "f4", 0);
    peer_expect_keys (ports, "f2 f3 f4");
    reply_t reply = { NULL };
    peer_expect_ack (peer, &reply, 4);
    zframe_destroy (&reply.frame);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.rejected [ZSTATE_SESSION_REASON_FRAMES]
            == before.rejected [ZSTATE_SESSION_REASON_FRAMES] + 3);
    assert (stats.malformed == before.malformed + 3);
    assert (stats.messages == before.messages + 3);
}

//  What a server never receives, or cannot read, is dropped and counted;
//  a HELLO sent again (its WELCOME may have been lost) is answered again;
//  version 1 OPS under a version 2 session are dropped as VERSION; then
//  messages of many frames
static void
s_test_hostile (zstate_server_t *server, zstate_consumer_t *ports)
{
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    byte epoch [ZSTATE_SESSION_EPOCH_SIZE];
    memset (epoch, 0xEE, sizeof (epoch));
    zstate_session_msg_t stray [] = {
        { .type = ZSTATE_SESSION_MSG_WELCOME, .session = id, .epoch = epoch,
          .ack_level = ZSTATE_SESSION_ACK_DELIVERED },
        { .type = ZSTATE_SESSION_MSG_ACK, .session = id, .epoch = epoch, .delivered = 1 },
        { .type = ZSTATE_SESSION_MSG_REJECT, .session = id, .epoch = epoch,
          .sequence = 1, .reason = 1, .text = "" },
        { .type = ZSTATE_SESSION_MSG_PONG, .session = id, .epoch = epoch }
    };
    for (size_t index = 0; index < 4; index++)
        peer_send (peer, &stray [index]);
    zmq_send (zsock_resolve (peer), "ZS\x02\x63garbage", 11, 0);
    zmq_send (zsock_resolve (peer), "ZS\x02\x02short", 9, 0);
    zmq_send (zsock_resolve (peer), "ZS\x02", 3, 0);
    zstr_sendm (peer, "ZS\x02\x06");
    zstr_send (peer, "a second frame");
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_WELCOME && reply.msg.delivered == 0);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_WELCOME && reply.msg.delivered == 0);
    peer_ops (peer, 1, id, 1, TABLE, "v1", 0);
    peer_ops (peer, 2, id, 1, TABLE, "v2", 0);
    peer_expect_keys (ports, "v2");
    peer_expect_ack (peer, &reply, 1);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.unexpected == before.unexpected + 4);
    assert (stats.hellos == before.hellos + 2);
    assert (stats.rejected [ZSTATE_SESSION_REASON_TYPE]
            == before.rejected [ZSTATE_SESSION_REASON_TYPE] + 1);
    assert (stats.rejected [ZSTATE_SESSION_REASON_TRUNCATED]
            == before.rejected [ZSTATE_SESSION_REASON_TRUNCATED] + 2);
    assert (stats.rejected [ZSTATE_SESSION_REASON_FRAMES]
            == before.rejected [ZSTATE_SESSION_REASON_FRAMES] + 1);
    assert (stats.rejected [ZSTATE_SESSION_REASON_VERSION]
            == before.rejected [ZSTATE_SESSION_REASON_VERSION] + 1);
    s_test_frames (server, ports, peer, id);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A peer that never said HELLO still delivers version 1 OPS, with
//  nothing sent back
static void
s_test_version_1 (zstate_server_t *server, zstate_consumer_t *ports)
{
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    peer_ops (peer, 1, id, 1, TABLE, "old1", 0);
    peer_ops (peer, 1, id, 2, TABLE, "old2", 0);
    peer_expect_keys (ports, "old1 old2");
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.messages_v1 == before.messages_v1 + 2);
    assert (stats.acks == before.acks);
    //  The first frame it ever receives is the PONG it asks for
    reply_t reply = { NULL };
    peer_ping (peer, id, 3);
    peer_recv (peer, &reply);
    assert (reply.msg.type == ZSTATE_SESSION_MSG_PONG && reply.msg.nonce == 3);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A message parked for a full consumer is acknowledged once it went in;
//  one parked when its consumer goes away is refused as UNROUTABLE, and so
//  is what comes after it for that table
static void
s_test_stall (zstate_server_t *server)
{
    zstate_consumer_t *slow = zstate_consumer_new (server, DB, "SLOW_TABLE");
    assert (slow);
    int rc = zstate_consumer_set_queue (slow, 1, 1024 * 1024);
    assert (rc == 0);
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    peer_ops (peer, 2, id, 1, "SLOW_TABLE", "w1", 0);
    peer_ops (peer, 2, id, 2, "SLOW_TABLE", "w2", 0);
    peer_ops (peer, 2, id, 3, "SLOW_TABLE", "w3", 0);
    zstate_server_stats_t stats;
    zstate_server_test_wait_stalled (server, slow, &stats);
    peer_expect_keys (slow, "w1 w2 w3");
    peer_expect_ack (peer, &reply, 3);

    peer_ops (peer, 2, id, 4, "SLOW_TABLE", "w4", 0);
    peer_ops (peer, 2, id, 5, "SLOW_TABLE", "w5", 0);
    WAIT_STATS (server, stats, stats.messages == stats.routed + stats.unroutable
                                                + stats.dropped + 1);
    uint64_t rejects = stats.rejects;
    zstate_consumer_destroy (&slow);
    peer_ops (peer, 2, id, 6, "SLOW_TABLE", "w6", 0);
    for (uint64_t sequence = 5; sequence <= 6; sequence++) {
        peer_expect (peer, &reply, ZSTATE_SESSION_MSG_REJECT);
        assert (reply.msg.sequence == sequence);
        assert (reply.msg.reason == ZSTATE_SESSION_REASON_UNROUTABLE);
    }
    peer_expect_ack (peer, &reply, 6);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.rejects == rejects + 2);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  persisted follows delivered until a message goes to a DB writer, and
//  stays there while the writer confirms nothing
//  (zstate_server_persist_suite has the rest)
static void
s_test_persisted (zstate_server_t *server, zstate_consumer_t *ports)
{
    zsock_t *writer = zsock_new_pull ("@inproc://zstate-server-sessions-writer");
    assert (writer);
    zstate_consumer_t *written = zstate_consumer_new (server, DB, "WRITTEN_TABLE");
    assert (written);
    int rc = zstate_consumer_forward (written, "inproc://zstate-server-sessions-writer");
    assert (rc == 0);
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    reply_t reply = { NULL };
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_PERSISTED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.ack_level == ZSTATE_SESSION_ACK_PERSISTED);
    peer_ops (peer, 2, id, 1, TABLE, "p1", 0);
    peer_expect_ack (peer, &reply, 1);
    assert (reply.msg.persisted == 1);
    peer_ops (peer, 2, id, 2, "WRITTEN_TABLE", "p2", 0);
    peer_expect_ack (peer, &reply, 2);
    assert (reply.msg.persisted == 1);
    peer_ops (peer, 2, id, 3, TABLE, "p3", 0);
    peer_expect_ack (peer, &reply, 3);
    assert (reply.msg.persisted == 1);
    peer_expect_keys (ports, "p1 p3");
    peer_expect_keys (written, "p2");
    zframe_t *copy = zframe_recv (writer);
    assert (copy);
    zframe_destroy (&copy);
    zstate_consumer_destroy (&written);
    zframe_destroy (&reply.frame);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
    zsock_destroy (&writer);
}

void
zstate_server_sessions_suite_test (bool verbose)
{
    printf (" * zstate_server_sessions_suite: ");
    if (verbose)
        printf ("\n");
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_server_set_verbose (server, verbose);
    int rc = zstate_server_bind (server, ENDPOINT);
    zstate_consumer_t *ports = zstate_consumer_new (server, DB, TABLE);
    assert (rc == 0 && ports);
    s_test_bound (server, ports);
    //  No server PINGs from here on but where a test asks for them
    rc = zstate_server_set_heartbeat (server, 0);
    assert (rc == 0);
    s_test_handshake (server, ports);
    s_test_duplicates_gaps (server, ports);
    s_test_superseded (server, ports);
    s_test_no_session (server, ports);
    s_test_reject (server, ports);
    s_test_coalescing (server, ports);
    s_test_heartbeats (server, ports);
    s_test_idle ();
    s_test_hostile (server, ports);
    s_test_version_1 (server, ports);
    s_test_stall (server);
    s_test_persisted (server, ports);
    zstate_server_destroy (&server);
    zstate_consumer_destroy (&ports);
    printf ("OK\n");
}
