/*  =========================================================================
    zstate_server_resync_suite - state resync on the server's side: RESYNC

    A real server with real consumer tables, raw DEALERs speaking protocol
    version 2 through the session codec, and a fake writer
    (selftest/zstate_server_resync_rig.c): the RESYNC feature, every
    trigger of RESYNC and who gets it, RESYNCs owed to a lost connection
    and to a full pipe, the owed list alone, and an ACK or WELCOME that
    found the pipe full sent again, and REJECTs owed to a full pipe, and
    their list alone. Assertions are on what
    arrives, never on time: a sync point is a PING, whose PONG comes after
    everything the server sent that DEALER before it.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_owed.h"
#include "zstate_server_rejects.h"
#include "zstate_server_peer.h"
#include "zstate_server_resync_rig.h"

//  The owed list alone: once per table, oldest first, every table past
//  its bound or when asked, and every table subsumes the rest; what was
//  sent unconfirmed goes back before what is owed
static void
s_test_owed_class (void)
{
    zstate_server_owed_t *owed = NULL;
    const char *db, *table;
    assert (!zstate_server_owed_first (owed, &db, &table));
    assert (zstate_server_owed_size (owed) == 0);
    zstate_server_owed_add (&owed, "DB", "ONE");
    zstate_server_owed_add (&owed, "DB", "TWO");
    zstate_server_owed_add (&owed, "DB", "ONE");
    assert (zstate_server_owed_size (owed) == 2);
    assert (zstate_server_owed_first (owed, &db, &table));
    assert (streq (db, "DB") && streq (table, "ONE"));
    zstate_server_owed_remove_first (owed);
    assert (zstate_server_owed_first (owed, &db, &table));
    assert (streq (table, "TWO"));
    zstate_server_owed_remove_first (owed);
    assert (!zstate_server_owed_first (owed, &db, &table));
    for (int index = 0; index < ZSTATE_SERVER_OWED_MAX; index++) {
        char name [16];
        snprintf (name, sizeof (name), "T%d", index);
        zstate_server_owed_add (&owed, "DB", name);
    }
    assert (zstate_server_owed_size (owed) == ZSTATE_SERVER_OWED_MAX);
    zstate_server_owed_add (&owed, "DB", "ONE_TOO_MANY");
    assert (zstate_server_owed_size (owed) == 1);
    assert (zstate_server_owed_first (owed, &db, &table));
    assert (streq (db, "") && streq (table, ""));
    zstate_server_owed_add (&owed, "DB", "ONE");
    assert (zstate_server_owed_size (owed) == 1);
    zstate_server_owed_remove_first (owed);
    assert (zstate_server_owed_size (owed) == 0);
    zstate_server_owed_add (&owed, "DB", "ONE");
    zstate_server_owed_add (&owed, "", "");
    assert (zstate_server_owed_size (owed) == 1);
    zstate_server_owed_destroy (&owed);
    assert (owed == NULL);

    //  What was sent goes back first, once, and leaves nothing behind
    zstate_server_owed_t *sent = NULL;
    zstate_server_owed_requeue (&owed, &sent);
    assert (owed == NULL && sent == NULL);
    zstate_server_owed_add (&owed, "DB", "TWO");
    zstate_server_owed_add (&owed, "DB", "ONE");
    zstate_server_owed_add (&sent, "DB", "ONE");
    zstate_server_owed_requeue (&owed, &sent);
    assert (sent == NULL);
    assert (zstate_server_owed_size (owed) == 2);
    assert (zstate_server_owed_first (owed, &db, &table));
    assert (streq (table, "ONE"));
    zstate_server_owed_remove_first (owed);
    assert (zstate_server_owed_first (owed, &db, &table));
    assert (streq (table, "TWO"));
    zstate_server_owed_add (&sent, "", "");
    zstate_server_owed_requeue (&owed, &sent);
    assert (zstate_server_owed_size (owed) == 1);
    assert (zstate_server_owed_first (owed, &db, &table));
    assert (streq (db, "") && streq (table, ""));
    zstate_server_owed_destroy (&owed);
}

//  WELCOME grants RESYNC to a client that offers it, and only then; a new
//  session is sent RESYNC of every table while one was not restored, a
//  known one is not
static void
s_test_feature (rig_t *rig)
{
    zsock_t *peer = peer_new (rig->endpoint);
    zuuid_t *granted = zuuid_new ();
    zuuid_t *plain = zuuid_new ();
    rig_hello (rig, peer, zuuid_data (granted), 1, true, true);
    assert (rig_resyncs (rig, peer, zuuid_data (granted), ALL, ALL) == 0);
    rig_hello (rig, peer, zuuid_data (granted), 1, true, false);
    assert (rig_resyncs (rig, peer, zuuid_data (granted), ALL, ALL) == 0);
    rig_hello (rig, peer, zuuid_data (plain), 1, false, true);
    assert (rig_resyncs (rig, peer, zuuid_data (plain), ALL, ALL) == 0);
    zuuid_destroy (&granted);
    zuuid_destroy (&plain);
    zsock_destroy (&peer);
}

//  A consumer that registers, and a consumer that asks through the link:
//  RESYNC of its table to every granted session, once, and to no other
static void
s_test_triggers (rig_t *rig)
{
    zsock_t *one = peer_new (rig->endpoint);
    zsock_t *two = peer_new (rig->endpoint);
    zsock_t *plain = peer_new (rig->endpoint);
    zuuid_t *one_id = zuuid_new (), *two_id = zuuid_new (), *plain_id = zuuid_new ();
    rig_hello (rig, one, zuuid_data (one_id), 1, true, true);
    rig_hello (rig, two, zuuid_data (two_id), 1, true, true);
    rig_hello (rig, plain, zuuid_data (plain_id), 1, false, true);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);

    zstate_consumer_t *late = zstate_consumer_new (rig->server, PEER_DB, "LATE_TABLE");
    assert (late);
    assert (rig_resyncs (rig, one, zuuid_data (one_id), PEER_DB, "LATE_TABLE") == 1);
    assert (rig_resyncs (rig, two, zuuid_data (two_id), PEER_DB, "LATE_TABLE") == 1);
    assert (rig_resyncs (rig, plain, zuuid_data (plain_id), PEER_DB, "LATE_TABLE") == 0);

    //  The link asks for the route that the named consumer registered
    zstate_server_link_t *link = zstate_server_link (rig->server);
    rc = zstate_server_link_register (link, PEER_DB, "LINK_TABLE", "resync-suite", late);
    assert (rc == 0);
    assert (rig_resyncs (rig, one, zuuid_data (one_id), PEER_DB, "LINK_TABLE") == 1);
    rc = zstate_server_link_resync (link, PEER_DB, "LINK_TABLE", "resync-suite");
    assert (rc == 0);
    assert (rig_resyncs (rig, one, zuuid_data (one_id), PEER_DB, "LINK_TABLE") == 1);
    assert (rig_resyncs (rig, two, zuuid_data (two_id), PEER_DB, "LINK_TABLE") == 2);
    assert (rig_resyncs (rig, plain, zuuid_data (plain_id), PEER_DB, "LINK_TABLE") == 0);
    rc = zstate_server_link_resync (link, PEER_DB, "LINK_TABLE", "somebody else");
    assert (rc == -1 && errno == ENOENT);
    rc = zstate_server_link_resync (link, PEER_DB, "NO_TABLE", "resync-suite");
    assert (rc == -1 && errno == ENOENT);
    rc = zstate_server_link_unregister (link, PEER_DB, "LINK_TABLE", "resync-suite");
    assert (rc == 0);
    zstate_server_link_release (&link);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.resyncs_sent == before.resyncs_sent + 6);
    assert (stats.resyncs_owed == before.resyncs_owed);

    zstate_consumer_destroy (&late);
    zuuid_destroy (&one_id);
    zuuid_destroy (&two_id);
    zuuid_destroy (&plain_id);
    zsock_destroy (&one);
    zsock_destroy (&two);
    zsock_destroy (&plain);
}

//  LOST [db] from a writer: RESYNC of the tables of that db with a writer,
//  to granted sessions; a bad db name or an empty LOST is ignored, and a
//  db named many times in one LOST lost its data once
static void
s_test_lost (rig_t *rig)
{
    zuuid_t *session;
    zsock_t *peer = rig_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    rc = zstr_sendx (rig->confirm, "LOST", PEER_DB, NULL);
    assert (rc == 0);
    WAIT_STATS (rig->server, stats, stats.redis_lost == before.redis_lost + 1);
    assert (rig_resyncs (rig, peer, id, PEER_DB, WRITTEN) == 1);
    rc = zstr_sendx (rig->confirm, "LOST", OTHER_DB, "", NULL);
    assert (rc == 0);
    rc = zstr_send (rig->confirm, "LOST");
    assert (rc == 0);
    WAIT_STATS (rig->server, stats, stats.confirms_ignored == before.confirms_ignored + 2);
    assert (stats.redis_lost == before.redis_lost + 2);
    assert (rig_resyncs (rig, peer, id, OTHER_DB, WRITTEN) == 1);

    zmsg_t *lost = zmsg_new ();
    zmsg_addstr (lost, "LOST");
    for (int count = 0; count < 100; count++)
        zmsg_addstr (lost, PEER_DB);
    char name [ZSTATE_NAME_MAX + 2];
    memset (name, 'x', sizeof (name) - 1);
    name [sizeof (name) - 1] = 0;
    zmsg_addstr (lost, name);
    rc = zmsg_send (&lost, rig->confirm);
    assert (rc == 0);
    WAIT_STATS (rig->server, stats, stats.confirms_ignored == before.confirms_ignored + 3);
    assert (stats.redis_lost == before.redis_lost + 3);
    assert (rig_resyncs (rig, peer, id, PEER_DB, WRITTEN) == 1);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A RESYNC for a connection that went is owed, once however many came,
//  and follows the WELCOME of the session's next connection
static void
s_test_owed_reconnect (rig_t *rig)
{
    zuuid_t *session;
    zsock_t *peer = rig_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    //  Its RESYNC of every table confirmed
    assert (rig_resyncs (rig, peer, id, ALL, ALL) == 0);
    zsock_destroy (&peer);
    zstate_server_link_t *link = zstate_server_link (rig->server);
    int rc = zstate_server_link_register (link, PEER_DB, "OWED_TABLE", "owed", rig->ports);
    assert (rc == 0);
    //  Until the server sees the connection go, libzmq takes what it is
    //  sent, and loses it with the connection
    zstate_server_stats_t before, stats;
    rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    int64_t deadline = zclock_mono () + PEER_DEADLINE;
    do {
        assert (zclock_mono () < deadline);
        rc = zstate_server_link_resync (link, PEER_DB, "OWED_TABLE", "owed");
        assert (rc == 0);
        rc = zstate_server_stats (rig->server, &stats);
        assert (rc == 0);
        if (stats.resyncs_owed == before.resyncs_owed)
            zclock_sleep (10);
    } while (stats.resyncs_owed == before.resyncs_owed);
    rc = zstate_server_link_resync (link, PEER_DB, "OWED_TABLE", "owed");
    assert (rc == 0);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.resyncs_owed == before.resyncs_owed + 2);

    //  Right after the WELCOME, before the PONG to a PING sent with the
    //  HELLO: it does not wait for housekeeping
    peer = peer_new (rig->endpoint);
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = id, .sequence = 1,
        .ack_level = ZSTATE_SESSION_ACK_DELIVERED,
        .features = ZSTATE_SESSION_FEATURE_RESYNC
    };
    peer_send (peer, &hello);
    peer_ping (peer, id, 1);
    //  The first HELLO did not offer the feature: no RESYNC after it
    peer_recv (peer, &rig->reply);
    assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.features == 0);
    peer_recv (peer, &rig->reply);
    assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.features == ZSTATE_SESSION_FEATURE_RESYNC);
    peer_recv (peer, &rig->reply);
    assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_RESYNC);
    assert (streq (rig->reply.msg.table, "OWED_TABLE"));
    //  ... and the PING that will confirm it
    peer_recv (peer, &rig->reply);
    assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_PING);
    rig_pong (peer, &rig->reply);
    peer_recv (peer, &rig->reply);
    assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_PONG);
    assert (rig_resyncs (rig, peer, id, PEER_DB, "OWED_TABLE") == 0);
    rc = zstate_server_link_unregister (link, PEER_DB, "OWED_TABLE", "owed");
    assert (rc == 0);
    zstate_server_link_release (&link);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A RESYNC that libzmq took for a connection closed before its client
//  read it: it comes again, with a PING, after the WELCOME of the
//  session's next connection, and after every later one until a PONG on
//  the session's connection answers that PING; then never again
static void
s_test_unconfirmed (rig_t *rig)
{
    zuuid_t *session;
    zsock_t *peer = rig_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    assert (rig_resyncs (rig, peer, id, ALL, ALL) == 0);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    zstate_server_link_t *link = zstate_server_link (rig->server);
    rc = zstate_server_link_register (link, PEER_DB, "LOST_TABLE", "lost", rig->ports);
    assert (rc == 0);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.resyncs_sent == before.resyncs_sent + 1);
    assert (stats.resyncs_owed == before.resyncs_owed);
    zsock_destroy (&peer);

    for (int round = 0; round < 3; round++) {
        peer = peer_new (rig->endpoint);
        rig_hello (rig, peer, id, 1, true, false);
        peer_recv (peer, &rig->reply);
        assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_RESYNC);
        assert (streq (rig->reply.msg.db, PEER_DB));
        assert (streq (rig->reply.msg.table, "LOST_TABLE"));
        peer_recv (peer, &rig->reply);
        assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_PING);
        if (round == 0)
            ;           //  closed before it answers
        else
        if (round == 1) {
            //  A PONG to some other PING confirms nothing
            rig->reply.msg.nonce += 1000;
            rig_pong (peer, &rig->reply);
        }
        else
            rig_pong (peer, &rig->reply);
        assert (rig_resyncs (rig, peer, id, PEER_DB, "LOST_TABLE") == 0);
        zsock_destroy (&peer);
    }
    //  Confirmed: the next connection is owed nothing
    peer = peer_new (rig->endpoint);
    rig_hello (rig, peer, id, 1, true, false);
    assert (rig_resyncs (rig, peer, id, PEER_DB, "LOST_TABLE") == 0);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.resyncs_sent == before.resyncs_sent + 4);
    assert (stats.resyncs_owed == before.resyncs_owed);
    rc = zstate_server_link_unregister (link, PEER_DB, "LOST_TABLE", "lost");
    assert (rc == 0);
    zstate_server_link_release (&link);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A DEALER for a client that does not read, with the least room libzmq
//  gives it
static zsock_t *
s_deaf_peer (rig_t *rig)
{
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert (peer);
    zsock_set_rcvhwm (peer, 1);
    zsock_set_rcvtimeo (peer, PEER_DEADLINE);
    int rc = zsock_connect (peer, "%s", rig->endpoint + 1);
    assert (rc == 0);
    return peer;
}

//  A deaf peer with a session that was granted RESYNC, and FULL_TABLE
//  registered through a link of the test's own
typedef struct {
    zsock_t *peer;
    zuuid_t *session;
    zstate_server_link_t *link;
} deaf_t;

static void
s_deaf_new (rig_t *rig, deaf_t *deaf)
{
    deaf->peer = s_deaf_peer (rig);
    deaf->session = zuuid_new ();
    rig_hello (rig, deaf->peer, zuuid_data (deaf->session), 1, true, true);
    deaf->link = zstate_server_link (rig->server);
    int rc = zstate_server_link_register (deaf->link, PEER_DB, "FULL_TABLE", "full",
                                          rig->ports);
    assert (rc == 0);
}

static void
s_deaf_destroy (deaf_t *deaf)
{
    int rc = zstate_server_link_unregister (deaf->link, PEER_DB, "FULL_TABLE", "full");
    assert (rc == 0);
    zstate_server_link_release (&deaf->link);
    zuuid_destroy (&deaf->session);
    zsock_destroy (&deaf->peer);
}

//  Ask for RESYNC of FULL_TABLE until one is owed; return how many asks
//  it took
static size_t
s_fill (rig_t *rig, zstate_server_link_t *link)
{
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    size_t asked = 0;
    do {
        assert (asked < 5000);
        rc = zstate_server_link_resync (link, PEER_DB, "FULL_TABLE", "full");
        assert (rc == 0);
        asked++;
        rc = zstate_server_stats (rig->server, &stats);
        assert (rc == 0);
    } while (stats.resyncs_owed == before.resyncs_owed);
    assert (stats.resyncs_owed == before.resyncs_owed + 1);
    return asked;
}

//  Receive count RESYNCs of FULL_TABLE, and the PINGs that follow them
static void
s_receive (rig_t *rig, zsock_t *peer, size_t count)
{
    while (count--) {
        do
            peer_recv (peer, &rig->reply);
        while (rig->reply.msg.type == ZSTATE_SESSION_MSG_PING);
        assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_RESYNC);
        assert (streq (rig->reply.msg.table, "FULL_TABLE"));
    }
}

//  A client that does not read: the RESYNCs its pipe cannot take are
//  owed, and go once it reads again, on the same connection
static void
s_test_owed_full (rig_t *rig)
{
    deaf_t deaf;
    s_deaf_new (rig, &deaf);
    zsock_t *peer = deaf.peer;
    zstate_server_link_t *link = deaf.link;
    const byte *id = zuuid_data (deaf.session);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    //  REGISTER asked once too
    size_t asked = 1 + s_fill (rig, link);
    //  What the pipe took comes, and then the one owed: every RESYNC asked
    //  for went, or was folded into that one
    s_receive (rig, peer, asked);
    assert (rig_resyncs (rig, peer, id, PEER_DB, "FULL_TABLE") == 0);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.resyncs_sent == before.resyncs_sent + asked - 1);
    assert (stats.resyncs_owed == before.resyncs_owed + 1);

    //  A HELLO whose WELCOME finds the pipe full: what is owed waits for a
    //  WELCOME that goes, since the client cannot know the feature before
    asked = s_fill (rig, link);
    zstate_server_stats_t filled;
    rc = zstate_server_stats (rig->server, &filled);
    assert (rc == 0);
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = id, .sequence = 1,
        .ack_level = ZSTATE_SESSION_ACK_DELIVERED,
        .features = ZSTATE_SESSION_FEATURE_RESYNC
    };
    peer_send (peer, &hello);
    WAIT_STATS (rig->server, stats, stats.hellos == filled.hellos + 1);
    s_receive (rig, peer, asked - 1);
    //  Housekeeping sends the WELCOME again once the pipe has room, which
    //  may be before the next HELLO: either way the owed RESYNC comes
    //  only after a WELCOME. If housekeeping's went unconfirmed just
    //  before that HELLO, the HELLO owes it again, so it may come twice
    bool welcomed;
    size_t resyncs = rig_resyncs_welcomed (rig, peer, id, PEER_DB, "FULL_TABLE", &welcomed);
    if (welcomed)
        assert (resyncs == 1);
    else {
        assert (resyncs == 0);
        peer_send (peer, &hello);
        resyncs = rig_resyncs_welcomed (rig, peer, id, PEER_DB, "FULL_TABLE", &welcomed);
        assert (welcomed);
        assert (resyncs == 1 || resyncs == 2);
    }
    assert (rig_resyncs (rig, peer, id, PEER_DB, "FULL_TABLE") == 0);
    s_deaf_destroy (&deaf);
}

//  A deaf peer whose pipe is full, the server's stats then in *before,
//  and no ACK delay: no ACK waits past the loop iteration that delivered
//  its message, since zloop runs due timers before it reads the pipe
//  that asks for STATS. Returns the RESYNCs asked, all of which but the
//  last (owed) the pipe took
static size_t
s_deaf_full (rig_t *rig, deaf_t *deaf, zstate_server_stats_t *before)
{
    int rc = zstate_server_set_ack_delay (rig->server, 0);
    assert (rc == 0);
    s_deaf_new (rig, deaf);
    size_t asked = 1 + s_fill (rig, deaf->link);
    rc = zstate_server_stats (rig->server, before);
    assert (rc == 0);
    return asked;
}

//  A client whose pipe is full when its ACK (gap false) or resume WELCOME
//  (gap true) is due gets it once it reads again, though it sends nothing
//  more: no later reply would tell it what the lost one said
static void
s_reply_full (rig_t *rig, bool gap)
{
    deaf_t deaf;
    zstate_server_stats_t before, stats;
    size_t asked = s_deaf_full (rig, &deaf, &before);
    zsock_t *peer = deaf.peer;
    const byte *id = zuuid_data (deaf.session);
    for (uint64_t sequence = 1; sequence <= 64; sequence++)
        peer_ops (peer, 2, id, sequence, TABLE, "key", 0);
    WAIT_STATS (rig->server, stats, stats.routed == before.routed + 64);
    if (gap) {
        peer_ops (peer, 2, id, 66, TABLE, "key", 0);
        WAIT_STATS (rig->server, stats, stats.resumes == before.resumes + 1);
    }
    //  What the pipe took, then the reply and the RESYNC owed, in any order,
    //  with the PINGs that follow RESYNCs
    s_receive (rig, peer, asked - 1);
    int type = gap? ZSTATE_SESSION_MSG_WELCOME: ZSTATE_SESSION_MSG_ACK;
    bool replied = false, resynced = false;
    while (!replied || !resynced) {
        peer_recv (peer, &rig->reply);
        if (rig->reply.msg.type == ZSTATE_SESSION_MSG_RESYNC) {
            assert (!resynced && streq (rig->reply.msg.table, "FULL_TABLE"));
            resynced = true;
        }
        else
        if (rig->reply.msg.type != ZSTATE_SESSION_MSG_PING) {
            assert (rig->reply.msg.type == type && !replied);
            assert (rig->reply.msg.delivered == 64);
            replied = true;
        }
    }
    assert (rig_resyncs (rig, peer, id, PEER_DB, "FULL_TABLE") == 0);
    s_deaf_destroy (&deaf);
}

static void
s_test_ack_full (rig_t *rig)
{
    s_reply_full (rig, false);
}

static void
s_test_welcome_full (rig_t *rig)
{
    s_reply_full (rig, true);
}

//  The REJECTs owed alone: oldest first, around the ring, and nothing
//  added past the bound
static void
s_test_rejects_class (void)
{
    zstate_server_rejects_t *rejects = NULL;
    uint64_t sequence;
    int reason;
    assert (!zstate_server_rejects_first (rejects, &sequence, &reason));
    assert (zstate_server_rejects_size (rejects) == 0);
    //  Five in and out first, so that a full ring wraps around its end
    for (uint64_t index = 1; index <= 5; index++)
        assert (zstate_server_rejects_add (&rejects, index, 1));
    for (uint64_t index = 1; index <= 5; index++) {
        assert (zstate_server_rejects_first (rejects, &sequence, &reason));
        assert (sequence == index);
        zstate_server_rejects_remove_first (rejects);
    }
    for (uint64_t index = 1; index <= ZSTATE_SERVER_REJECTS_MAX; index++)
        assert (zstate_server_rejects_add (&rejects, 100 + index, (int) index % 7 + 1));
    assert (!zstate_server_rejects_add (&rejects, 999, 1));
    assert (zstate_server_rejects_size (rejects) == ZSTATE_SERVER_REJECTS_MAX);
    for (uint64_t index = 1; index <= ZSTATE_SERVER_REJECTS_MAX; index++) {
        assert (zstate_server_rejects_first (rejects, &sequence, &reason));
        assert (sequence == 100 + index && reason == (int) index % 7 + 1);
        zstate_server_rejects_remove_first (rejects);
    }
    assert (!zstate_server_rejects_first (rejects, &sequence, &reason));
    assert (zstate_server_rejects_size (rejects) == 0);
    zstate_server_rejects_destroy (&rejects);
    assert (rejects == NULL);
}

//  A client whose pipe is full when its messages are refused gets their
//  REJECTs once it reads again, oldest first and before the ACK that
//  covers them, though it sends nothing more; past the bound of those
//  owed, the rest are lost and counted
static void
s_test_reject_full (rig_t *rig)
{
    deaf_t deaf;
    zstate_server_stats_t before, stats;
    size_t asked = s_deaf_full (rig, &deaf, &before);
    zsock_t *peer = deaf.peer;
    const byte *id = zuuid_data (deaf.session);
    //  No consumer for NO_TABLE: each is refused, UNROUTABLE
    uint64_t refused = ZSTATE_SERVER_REJECTS_MAX + 2;
    for (uint64_t sequence = 1; sequence <= refused; sequence++)
        peer_ops (peer, 2, id, sequence, "NO_TABLE", "key", 0);
    peer_ops (peer, 2, id, refused + 1, TABLE, "key", 0);
    WAIT_STATS (rig->server, stats, stats.routed == before.routed + 1);
    assert (stats.rejects == before.rejects);
    assert (stats.rejects_owed == before.rejects_owed + ZSTATE_SERVER_REJECTS_MAX);
    assert (stats.rejects_lost == before.rejects_lost + 2);
    //  What the pipe took, then the REJECTs in order and the ACK after
    //  them, with the RESYNC owed and the PINGs that follow it anywhere
    s_receive (rig, peer, asked - 1);
    uint64_t next = 1;
    bool acked = false, resynced = false;
    while (!acked || !resynced) {
        peer_recv (peer, &rig->reply);
        int type = rig->reply.msg.type;
        if (type == ZSTATE_SESSION_MSG_RESYNC) {
            assert (!resynced && streq (rig->reply.msg.table, "FULL_TABLE"));
            resynced = true;
        }
        else
        if (type == ZSTATE_SESSION_MSG_REJECT) {
            assert (!acked && rig->reply.msg.sequence == next++);
            assert (rig->reply.msg.reason == ZSTATE_SESSION_REASON_UNROUTABLE);
        }
        else
        if (type == ZSTATE_SESSION_MSG_ACK) {
            assert (next == ZSTATE_SERVER_REJECTS_MAX + 1);
            assert (rig->reply.msg.delivered == refused + 1);
            acked = true;
        }
        else
            assert (type == ZSTATE_SESSION_MSG_PING);
    }
    assert (rig_resyncs (rig, peer, id, PEER_DB, "FULL_TABLE") == 0);
    int rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.rejects == before.rejects + ZSTATE_SERVER_REJECTS_MAX);
    s_deaf_destroy (&deaf);
}

//  A server of its own, bound to inproc://name, with RESTORED_TABLE
//  registered through a link and restored from an empty Redis, and a rig
//  for it: no other route
typedef struct {
    zstate_server_t *server;
    zstate_server_t *elsewhere;
    zstate_consumer_t *holder;
    zstate_server_link_t *link;
    rig_t rig;
} lone_t;

static void
s_lone_new (lone_t *lone, const char *name, bool verbose)
{
    memset (&lone->rig, 0, sizeof (lone->rig));
    snprintf (lone->rig.endpoint, sizeof (lone->rig.endpoint), ">inproc://%s", name);
    lone->server = zstate_server_new ();
    assert (lone->server);
    zstate_server_set_verbose (lone->server, verbose);
    int rc = zstate_server_set_heartbeat (lone->server, 0);
    assert (rc == 0);
    rc = zstate_server_bind (lone->server, lone->rig.endpoint + 1);
    assert (rc == 0);
    //  Routes through the link only, to a consumer of another server that
    //  nothing is delivered to, so that this one has no other route
    lone->elsewhere = zstate_server_new ();
    lone->holder = zstate_consumer_new (lone->elsewhere, PEER_DB, TABLE);
    assert (lone->elsewhere && lone->holder);
    lone->link = zstate_server_link (lone->server);
    rc = zstate_server_link_register (lone->link, PEER_DB, "RESTORED_TABLE", "restored",
                                      lone->holder);
    assert (rc == 0);
    rc = zstate_server_link_restored (lone->link, PEER_DB, "RESTORED_TABLE", "restored",
                                      NULL, 0);
    assert (rc == 0);
    lone->rig.server = lone->server;
}

static void
s_lone_destroy (lone_t *lone)
{
    zframe_destroy (&lone->rig.reply.frame);
    int rc = zstate_server_link_unregister (lone->link, PEER_DB, "RESTORED_TABLE",
                                            "restored");
    assert (rc == 0);
    zstate_server_link_release (&lone->link);
    zstate_server_destroy (&lone->server);
    zstate_consumer_destroy (&lone->holder);
    zstate_server_destroy (&lone->elsewhere);
}

//  Every table restored from Redis: a new session is sent no RESYNC of
//  every table; one table registered and not restored: it is again. The
//  monitor's STATS text has the counters.
static void
s_test_restored (bool verbose)
{
    lone_t lone;
    s_lone_new (&lone, "zstate-server-resync-restored", verbose);
    zstate_server_t *server = lone.server;
    zstate_server_link_t *link = lone.link;
    rig_t *rig = &lone.rig;
    int rc = zstate_server_link_register (link, PEER_DB, "OPEN_TABLE", "open", lone.holder);
    assert (rc == 0);
    zsock_t *peer = peer_new (rig->endpoint);
    zuuid_t *one = zuuid_new (), *two = zuuid_new ();
    //  OPEN_TABLE was not restored; once it goes, every table was
    rig_hello (rig, peer, zuuid_data (one), 1, true, true);
    rc = zstate_server_link_unregister (link, PEER_DB, "OPEN_TABLE", "open");
    assert (rc == 0);
    rig_hello (rig, peer, zuuid_data (two), 1, true, false);
    assert (rig_resyncs (rig, peer, zuuid_data (two), ALL, ALL) == 0);

    int port = zstate_server_monitor (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *watcher = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (watcher, PEER_DEADLINE);
    rc = zsock_connect (watcher, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    zstr_send (watcher, "STATS");
    char *command, *status, *reason, *text;
    rc = zstr_recvx (watcher, &command, &status, &reason, &text, NULL);
    assert (rc == 4 && streq (status, "0"));
    zconfig_t *config = zconfig_str_load (text);
    assert (config);
    assert (streq (zconfig_get (config, "server/resyncs_sent", ""), "1"));
    assert (streq (zconfig_get (config, "server/resyncs_owed", ""), "0"));
    assert (streq (zconfig_get (config, "server/table_writers", ""), "0"));
    assert (streq (zconfig_get (config, "server/rejected/kind", ""), "0"));
    zconfig_destroy (&config);
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    zstr_free (&text);

    zsock_destroy (&watcher);
    zuuid_destroy (&one);
    zuuid_destroy (&two);
    zsock_destroy (&peer);
    s_lone_destroy (&lone);
}

//  A session forgotten while it owed a RESYNC: every table was restored,
//  yet its next HELLO, new to the server, is owed RESYNC of every table,
//  since the one it owed cannot be told apart any more
static void
s_test_forgotten (bool verbose)
{
    lone_t lone;
    s_lone_new (&lone, "zstate-server-resync-forgotten", verbose);
    zstate_server_t *server = lone.server;
    zstate_server_link_t *link = lone.link;
    rig_t *rig = &lone.rig;
    zsock_t *peer = peer_new (rig->endpoint);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    rig_hello (rig, peer, id, 1, true, false);
    assert (rig_resyncs (rig, peer, id, ALL, ALL) == 0);
    zsock_destroy (&peer);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (server, &before);
    assert (rc == 0);
    //  Until the server sees the connection go, libzmq takes what it is
    //  sent, and loses it with the connection
    int64_t deadline = zclock_mono () + PEER_DEADLINE;
    do {
        assert (zclock_mono () < deadline);
        rc = zstate_server_link_resync (link, PEER_DB, "RESTORED_TABLE", "restored");
        assert (rc == 0);
        WAIT_STATS (server, stats, stats.resyncs_owed > before.resyncs_owed
                                || stats.resyncs_sent > before.resyncs_sent);
        before.resyncs_sent = stats.resyncs_sent;
    } while (stats.resyncs_owed == before.resyncs_owed);
    rc = zstate_server_set_session_idle (server, 1);
    assert (rc == 0);
    WAIT_STATS (server, stats, stats.expired == before.expired + 1);
    rc = zstate_server_set_session_idle (server, 600000);
    assert (rc == 0);
    peer = peer_new (rig->endpoint);
    rig_hello (rig, peer, id, 1, true, true);
    assert (rig_resyncs (rig, peer, id, ALL, ALL) == 0);

    zuuid_destroy (&session);
    zsock_destroy (&peer);
    s_lone_destroy (&lone);
}

void
zstate_server_resync_suite_test (bool verbose)
{
    printf (" * zstate_server_resync_suite: ");
    if (verbose)
        printf ("\n");
    s_test_owed_class ();
    s_test_rejects_class ();
    rig_run (s_test_feature, verbose);
    rig_run (s_test_triggers, verbose);
    rig_run (s_test_lost, verbose);
    rig_run (s_test_owed_reconnect, verbose);
    rig_run (s_test_unconfirmed, verbose);
    rig_run (s_test_owed_full, verbose);
    rig_run (s_test_ack_full, verbose);
    rig_run (s_test_welcome_full, verbose);
    rig_run (s_test_reject_full, verbose);
    s_test_restored (verbose);
    s_test_forgotten (verbose);
    printf ("OK\n");
}
