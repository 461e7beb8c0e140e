/*  =========================================================================
    zstate_server_rejects_suite - REJECTs the server sent but its client
    may not have read: kept unconfirmed until the client answers the PING
    after them, sent again before the WELCOME of the session's next
    connection until then, and bounded for a client that never answers

    Through the rig of selftest/zstate_server_resync_rig.c, with raw
    DEALERs: closing one without reading is a connection that broke with
    the REJECT in flight. Assertions are on what arrives, in order.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_rejects.h"
#include "zstate_server_peer.h"
#include "zstate_server_resync_rig.h"

//  A PING of the server's, kept to be answered later
typedef struct {
    uint64_t nonce;             //  0 until one came
    byte epoch [ZSTATE_SESSION_EPOCH_SIZE];
} ping_t;

static void
s_keep_ping (rig_t *rig, ping_t *ping)
{
    ping->nonce = rig->reply.msg.nonce;
    memcpy (ping->epoch, rig->reply.msg.epoch, ZSTATE_SESSION_EPOCH_SIZE);
}

//  Answer a kept PING with nonce
static void
s_pong (zsock_t *peer, const byte *id, ping_t *ping, uint64_t nonce)
{
    zstate_session_msg_t pong = {
        .type = ZSTATE_SESSION_MSG_PONG, .session = id,
        .epoch = ping->epoch, .nonce = nonce
    };
    peer_send (peer, &pong);
}

//  HELLO for session from first, and read up to its WELCOME, keeping a
//  server PING in *ping: return the sequence of the REJECT that came
//  before the WELCOME, or 0
static uint64_t
s_hello (rig_t *rig, zsock_t *peer, const byte *id, uint64_t first, ping_t *ping)
{
    peer_hello (peer, id, first, ZSTATE_SESSION_ACK_DELIVERED, 0);
    uint64_t rejected = 0;
    while (true) {
        peer_recv (peer, &rig->reply);
        int type = rig->reply.msg.type;
        if (type == ZSTATE_SESSION_MSG_WELCOME)
            return rejected;
        if (type == ZSTATE_SESSION_MSG_PING)
            s_keep_ping (rig, ping);
        else {
            assert (type == ZSTATE_SESSION_MSG_REJECT && !rejected);
            assert (rig->reply.msg.reason == ZSTATE_SESSION_REASON_UNROUTABLE);
            rejected = rig->reply.msg.sequence;
        }
    }
}

//  Read until the server's PING, which housekeeping sends after the
//  REJECTs it wants confirmed, unless one came already; ACKs are skipped
static void
s_server_ping (rig_t *rig, zsock_t *peer, ping_t *ping)
{
    while (!ping->nonce) {
        peer_recv (peer, &rig->reply);
        if (rig->reply.msg.type == ZSTATE_SESSION_MSG_PING)
            s_keep_ping (rig, ping);
        else
            assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_ACK);
    }
}

//  PING and read up to its PONG, answering no PING of the server's (the
//  last is kept in *ping): the server read everything sent before. Any
//  REJECT, ACK or WELCOME on the way fails
static void
s_sync (rig_t *rig, zsock_t *peer, const byte *id, ping_t *ping)
{
    static uint64_t nonce = 0;
    peer_ping (peer, id, ++nonce);
    while (true) {
        peer_recv (peer, &rig->reply);
        if (rig->reply.msg.type == ZSTATE_SESSION_MSG_PONG) {
            assert (rig->reply.msg.nonce == nonce);
            return;
        }
        assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_PING);
        s_keep_ping (rig, ping);
    }
}

//  A peer with a new session, WELCOMEd without RESYNC; the server's
//  stats then in *before
static zsock_t *
s_welcomed (rig_t *rig, zuuid_t **session_p, zstate_server_stats_t *before)
{
    *session_p = zuuid_new ();
    zsock_t *peer = peer_new (rig->endpoint);
    rig_hello (rig, peer, zuuid_data (*session_p), 1, false, false);
    int rc = zstate_server_stats (rig->server, before);
    assert (rc == 0);
    return peer;
}

//  A REJECT that libzmq took for a connection closed before its client
//  read it comes again before the WELCOME of the session's next
//  connection, and of every later one until a PONG on the session's
//  connection answers the PING sent after it; then never again
static void
s_test_unconfirmed (rig_t *rig)
{
    zuuid_t *session;
    zstate_server_stats_t before, stats;
    zsock_t *peer = s_welcomed (rig, &session, &before);
    const byte *id = zuuid_data (session);
    int rc;
    //  No consumer for NO_TABLE: refused, UNROUTABLE; then one delivered
    peer_ops (peer, 2, id, 1, "NO_TABLE", "refused", 0);
    peer_ops (peer, 2, id, 2, TABLE, "delivered", 0);
    WAIT_STATS (rig->server, stats, stats.routed == before.routed + 1);
    assert (stats.rejects == before.rejects + 1);
    zsock_destroy (&peer);

    for (int round = 0; round < 3; round++) {
        peer = peer_new (rig->endpoint);
        ping_t ping = { 0 };
        //  The client still holds 1 and 2: it has heard nothing
        assert (s_hello (rig, peer, id, 1, &ping) == 1);
        assert (rig->reply.msg.delivered == 2);
        s_server_ping (rig, peer, &ping);
        if (round == 1)         //  a PONG to some other PING confirms nothing
            s_pong (peer, id, &ping, ping.nonce + 1000);
        else
        if (round == 2)
            s_pong (peer, id, &ping, ping.nonce);
        //  (round 0: closed before it answers)
        s_sync (rig, peer, id, &ping);
        zsock_destroy (&peer);
    }
    //  Confirmed: the next connection is owed nothing
    peer = peer_new (rig->endpoint);
    ping_t ping = { 0 };
    assert (s_hello (rig, peer, id, 3, &ping) == 0);
    assert (rig->reply.msg.delivered == 2);
    s_sync (rig, peer, id, &ping);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.rejects == before.rejects + 4);
    assert (stats.rejects_owed == before.rejects_owed + 3);
    assert (stats.rejects_lost == before.rejects_lost);
    peer_expect_keys (rig->ports, "delivered");
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A client that reads but does not answer PINGs: the first
//  ZSTATE_SERVER_REJECTS_MAX REJECTs go, the rest are owed, with the ACK
//  that covers them, until a PONG confirms those sent; then they go, in
//  order, and the ACK after them
static void
s_test_bound (rig_t *rig)
{
    zuuid_t *session;
    zstate_server_stats_t before, stats;
    zsock_t *peer = s_welcomed (rig, &session, &before);
    const byte *id = zuuid_data (session);
    int rc;
    uint64_t refused = ZSTATE_SERVER_REJECTS_MAX + 2;
    for (uint64_t sequence = 1; sequence <= refused; sequence++)
        peer_ops (peer, 2, id, sequence, "NO_TABLE", "refused", 0);
    peer_ops (peer, 2, id, refused + 1, TABLE, "delivered", 0);
    WAIT_STATS (rig->server, stats, stats.routed == before.routed + 1);
    assert (stats.rejects == before.rejects + ZSTATE_SERVER_REJECTS_MAX);
    assert (stats.rejects_owed == before.rejects_owed + 2);

    //  Those sent in order, no ACK past them, and the PING that would
    //  confirm them, which we leave unanswered until our own PING's PONG
    //  shows the server read everything we sent
    uint64_t next = 1;
    ping_t ping = { 0 };
    peer_ping (peer, id, 1);
    bool ponged = false;
    while (!ponged || !ping.nonce || next <= ZSTATE_SERVER_REJECTS_MAX) {
        peer_recv (peer, &rig->reply);
        int type = rig->reply.msg.type;
        if (type == ZSTATE_SESSION_MSG_REJECT)
            assert (rig->reply.msg.sequence == next++);
        else
        if (type == ZSTATE_SESSION_MSG_ACK)
            assert (rig->reply.msg.delivered < next);
        else
        if (type == ZSTATE_SESSION_MSG_PING)
            s_keep_ping (rig, &ping);
        else {
            assert (type == ZSTATE_SESSION_MSG_PONG && rig->reply.msg.nonce == 1);
            ponged = true;
        }
    }
    assert (next == ZSTATE_SERVER_REJECTS_MAX + 1);
    s_pong (peer, id, &ping, ping.nonce);
    //  Then the rest, and the ACK of everything
    while (true) {
        peer_recv (peer, &rig->reply);
        int type = rig->reply.msg.type;
        if (type == ZSTATE_SESSION_MSG_REJECT)
            assert (rig->reply.msg.sequence == next++);
        else
        if (type == ZSTATE_SESSION_MSG_ACK) {
            assert (rig->reply.msg.delivered < next || next == refused + 1);
            if (rig->reply.msg.delivered == refused + 1)
                break;
        }
        else
            assert (type == ZSTATE_SESSION_MSG_PING);
    }
    assert (next == refused + 1);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.rejects == before.rejects + refused);
    assert (stats.rejects_lost == before.rejects_lost);
    peer_expect_keys (rig->ports, "delivered");
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  The REJECTs of a reconnected session: those sent unconfirmed go back
//  before those owed, oldest first; what does not fit is counted
static void
s_test_requeue (void)
{
    zstate_server_rejects_t *owed = NULL, *sent = NULL;
    uint64_t sequence;
    int reason;
    assert (zstate_server_rejects_requeue (&owed, &sent) == 0);
    assert (owed == NULL && sent == NULL);
    assert (zstate_server_rejects_add (&sent, 1, 2));
    assert (zstate_server_rejects_add (&sent, 2, 3));
    assert (zstate_server_rejects_add (&owed, 3, 4));
    assert (zstate_server_rejects_requeue (&owed, &sent) == 0);
    assert (sent == NULL);
    assert (zstate_server_rejects_size (owed) == 3);
    for (uint64_t index = 1; index <= 3; index++) {
        assert (zstate_server_rejects_first (owed, &sequence, &reason));
        assert (sequence == index && reason == (int) index + 1);
        zstate_server_rejects_remove_first (owed);
    }
    //  Both full: those sent fill it, every one owed is lost
    for (uint64_t index = 1; index <= ZSTATE_SERVER_REJECTS_MAX; index++) {
        assert (zstate_server_rejects_add (&sent, index, 1));
        assert (zstate_server_rejects_add (&owed, 1000 + index, 1));
    }
    assert (zstate_server_rejects_requeue (&owed, &sent) == ZSTATE_SERVER_REJECTS_MAX);
    assert (zstate_server_rejects_first (owed, &sequence, &reason) && sequence == 1);
    assert (zstate_server_rejects_size (owed) == ZSTATE_SERVER_REJECTS_MAX);
    zstate_server_rejects_destroy (&owed);
    //  Nothing sent: what was owed stays as it was
    assert (zstate_server_rejects_add (&owed, 7, 1));
    assert (zstate_server_rejects_requeue (&owed, &sent) == 0);
    assert (zstate_server_rejects_first (owed, &sequence, &reason) && sequence == 7);
    zstate_server_rejects_destroy (&owed);
}

void
zstate_server_rejects_suite_test (bool verbose)
{
    printf (" * zstate_server_rejects_suite: ");
    if (verbose)
        printf ("\n");
    s_test_requeue ();
    rig_run (s_test_unconfirmed, verbose);
    rig_run (s_test_bound, verbose);
    printf ("OK\n");
}
