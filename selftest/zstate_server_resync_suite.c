/*  =========================================================================
    zstate_server_resync_suite - state resync on the server's side

    A real server with real consumer tables, raw DEALERs speaking protocol
    version 2 through the session codec, and a fake writer (a PULL that
    takes the forwarded copies, a PUSH to the confirmation endpoint): the
    RESYNC feature, every trigger of RESYNC and who gets it, RESYNCs owed
    to a lost connection and to a full pipe, SNAPSHOT-BEGIN and -END in
    and out of order, forwarded, persisted and refused, two writers of one
    table, and hostile markers. Assertions are on what arrives, never on
    time: a sync point is a PING, whose PONG comes after everything the
    server sent that DEALER before it.

    Until the consumer table reads markers, it drops the markers it is
    handed; what it is handed is what the fake writer gets, version 2 as
    the client sent it, which is what these tests read.

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
#include "zstate_server_peer.h"

#define TABLE           "PORT_TABLE"        //  no writer
#define WRITTEN         "WRITTEN_TABLE"     //  forwarded to the fake writer
#define OTHER_DB        "OTHER_DB"          //  WRITTEN there has a writer too
#define ENDPOINT        "inproc://zstate-server-resync-suite-%d"
#define WRITER          "inproc://zstate-server-resync-writer-%d"
#define ALL             ""                  //  RESYNC of every table

//  Each test has a rig of its own, so that it counts only its sessions
typedef struct {
    char endpoint [64];         //  the server's, ">" and ENDPOINT
    zstate_server_t *server;
    zstate_consumer_t *ports;   //  PEER_DB/TABLE
    zstate_consumer_t *written; //  PEER_DB/WRITTEN, with the fake writer
    zstate_consumer_t *other;   //  OTHER_DB/WRITTEN, with it too
    zsock_t *copies;            //  the fake writer's PULL
    zsock_t *confirm;           //  ... and its PUSH to the server
    reply_t reply;              //  what a peer received last
} rig_t;

static void
s_rig_new (rig_t *rig, bool verbose)
{
    static int rigs = 0;
    memset (rig, 0, sizeof (*rig));
    rigs++;
    snprintf (rig->endpoint, sizeof (rig->endpoint), ">" ENDPOINT, rigs);
    char writer [64];
    snprintf (writer, sizeof (writer), WRITER, rigs);
    rig->server = zstate_server_new ();
    assert (rig->server);
    zstate_server_set_verbose (rig->server, verbose);
    int rc = zstate_server_set_heartbeat (rig->server, 0);
    assert (rc == 0);
    rc = zstate_server_bind (rig->server, rig->endpoint + 1);
    assert (rc == 0);
    rig->ports = zstate_consumer_new (rig->server, PEER_DB, TABLE);
    rig->written = zstate_consumer_new (rig->server, PEER_DB, WRITTEN);
    rig->other = zstate_consumer_new (rig->server, OTHER_DB, WRITTEN);
    rig->copies = zsock_new (ZMQ_PULL);
    assert (rig->copies);
    //  A writer that holds little, so that a test can fill it
    zsock_set_rcvhwm (rig->copies, 1);
    rc = zsock_bind (rig->copies, "%s", writer);
    assert (rc == 0);
    assert (rig->ports && rig->written && rig->other && rig->copies);
    zsock_set_rcvtimeo (rig->copies, PEER_DEADLINE);
    rc = zstate_consumer_forward (rig->written, writer);
    assert (rc == 0);
    rc = zstate_consumer_forward (rig->other, writer);
    assert (rc == 0);
    zstate_server_link_t *link = zstate_server_link (rig->server);
    char endpoint [256];
    rc = zstate_server_link_confirm_endpoint (link, endpoint, sizeof (endpoint));
    assert (rc == 0);
    zstate_server_link_release (&link);
    rig->confirm = zsock_new (ZMQ_PUSH);
    assert (rig->confirm);
    rc = zsock_connect (rig->confirm, "%s", endpoint);
    assert (rc == 0);
}

static void
s_rig_destroy (rig_t *rig)
{
    zframe_destroy (&rig->reply.frame);
    zsock_destroy (&rig->confirm);
    zstate_consumer_destroy (&rig->ports);
    zstate_consumer_destroy (&rig->written);
    zstate_consumer_destroy (&rig->other);
    zsock_destroy (&rig->copies);
    zstate_server_destroy (&rig->server);
}

//  HELLO, offering RESYNC or not, first unacknowledged first; WELCOME
//  grants what was offered; a session new to a server with a table not
//  restored is then sent RESYNC of every table, when new says it is
static void
s_hello (rig_t *rig, zsock_t *peer, const byte *session, uint64_t first, bool resync,
         bool new_session)
{
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = session, .sequence = first,
        .ack_level = ZSTATE_SESSION_ACK_DELIVERED,
        .features = resync? ZSTATE_SESSION_FEATURE_RESYNC: 0
    };
    peer_send (peer, &hello);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.features == (resync? ZSTATE_SESSION_FEATURE_RESYNC: 0u));
    if (resync && new_session) {
        peer_recv (peer, &rig->reply);
        assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_RESYNC);
        assert (streq (rig->reply.msg.db, ALL) && streq (rig->reply.msg.table, ALL));
        assert (memcmp (rig->reply.msg.session, session, ZSTATE_MSG_SESSION_SIZE) == 0);
    }
}

//  A peer with a new session that was granted RESYNC, WELCOMEd
static zsock_t *
s_peer_welcomed (rig_t *rig, zuuid_t **session_p)
{
    zsock_t *peer = peer_new (rig->endpoint);
    *session_p = zuuid_new ();
    s_hello (rig, peer, zuuid_data (*session_p), 1, true, true);
    return peer;
}

//  Send SNAPSHOT-BEGIN / SNAPSHOT-END of (db, table)
static void
s_begin (zsock_t *peer, const byte *session, uint64_t sequence, const char *db,
         const char *table, int kind)
{
    zstate_session_msg_t begin = {
        .type = ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, .session = session,
        .sequence = sequence, .db = db, .table = table, .kind = kind
    };
    peer_send (peer, &begin);
}

static void
s_end (zsock_t *peer, const byte *session, uint64_t sequence, const char *db,
       const char *table, uint64_t begin, uint64_t count, int status)
{
    zstate_session_msg_t end = {
        .type = ZSTATE_SESSION_MSG_SNAPSHOT_END, .session = session,
        .sequence = sequence, .db = db, .table = table, .begin = begin,
        .count = count, .status = status
    };
    peer_send (peer, &end);
}

//  Send msg encoded, with the octet offset octets before its end set to
//  value, or cut there when value is -1: what the encoder never makes
static void
s_send_broken (zsock_t *peer, zstate_session_msg_t *msg, size_t offset, int value)
{
    byte buffer [1024];
    ssize_t size = zstate_session_msg_encode (msg, buffer, sizeof (buffer));
    assert (size > (ssize_t) offset);
    if (value == -1)
        size -= (ssize_t) offset;
    else
        buffer [size - (ssize_t) offset] = (byte) value;
    int rc = zmq_send (zsock_resolve (peer), buffer, (size_t) size, 0);
    assert (rc == (int) size);
}

//  PING and read up to its PONG: return how many RESYNCs of (db, table)
//  came before it; any other RESYNC fails
static size_t
s_resyncs (rig_t *rig, zsock_t *peer, const byte *session, const char *db,
           const char *table)
{
    static uint64_t nonce = 0;
    peer_ping (peer, session, ++nonce);
    size_t resyncs = 0;
    for (peer_recv (peer, &rig->reply); rig->reply.msg.type != ZSTATE_SESSION_MSG_PONG;
         peer_recv (peer, &rig->reply)) {
        if (rig->reply.msg.type == ZSTATE_SESSION_MSG_RESYNC) {
            assert (streq (rig->reply.msg.db, db) && streq (rig->reply.msg.table, table));
            assert (memcmp (rig->reply.msg.session, session, ZSTATE_MSG_SESSION_SIZE) == 0);
            resyncs++;
        }
    }
    assert (rig->reply.msg.nonce == nonce);
    return resyncs;
}

//  Take the next forwarded copy and check its type and sequence
static void
s_copy (rig_t *rig, int type, uint64_t sequence, zstate_session_msg_t *msg)
{
    zframe_t *copy = zframe_recv (rig->copies);
    assert (copy);
    zstate_session_msg_t decoded;
    int rc = zstate_session_msg_decode (&decoded, zframe_data (copy), zframe_size (copy));
    assert (rc == 0);
    assert (decoded.version == 2);
    assert (decoded.type == type && decoded.sequence == sequence);
    if (msg) {
        //  Its names point into the frame: keep what is not a pointer
        *msg = decoded;
        msg->db = msg->table = NULL;
        msg->session = NULL;
    }
    zframe_destroy (&copy);
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
    s_hello (rig, peer, zuuid_data (granted), 1, true, true);
    assert (s_resyncs (rig, peer, zuuid_data (granted), ALL, ALL) == 0);
    s_hello (rig, peer, zuuid_data (granted), 1, true, false);
    assert (s_resyncs (rig, peer, zuuid_data (granted), ALL, ALL) == 0);
    s_hello (rig, peer, zuuid_data (plain), 1, false, true);
    assert (s_resyncs (rig, peer, zuuid_data (plain), ALL, ALL) == 0);
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
    s_hello (rig, one, zuuid_data (one_id), 1, true, true);
    s_hello (rig, two, zuuid_data (two_id), 1, true, true);
    s_hello (rig, plain, zuuid_data (plain_id), 1, false, true);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);

    zstate_consumer_t *late = zstate_consumer_new (rig->server, PEER_DB, "LATE_TABLE");
    assert (late);
    assert (s_resyncs (rig, one, zuuid_data (one_id), PEER_DB, "LATE_TABLE") == 1);
    assert (s_resyncs (rig, two, zuuid_data (two_id), PEER_DB, "LATE_TABLE") == 1);
    assert (s_resyncs (rig, plain, zuuid_data (plain_id), PEER_DB, "LATE_TABLE") == 0);

    //  The link asks for the route that the named consumer registered
    zstate_server_link_t *link = zstate_server_link (rig->server);
    rc = zstate_server_link_register (link, PEER_DB, "LINK_TABLE", "resync-suite", late);
    assert (rc == 0);
    assert (s_resyncs (rig, one, zuuid_data (one_id), PEER_DB, "LINK_TABLE") == 1);
    rc = zstate_server_link_resync (link, PEER_DB, "LINK_TABLE", "resync-suite");
    assert (rc == 0);
    assert (s_resyncs (rig, one, zuuid_data (one_id), PEER_DB, "LINK_TABLE") == 1);
    assert (s_resyncs (rig, two, zuuid_data (two_id), PEER_DB, "LINK_TABLE") == 2);
    assert (s_resyncs (rig, plain, zuuid_data (plain_id), PEER_DB, "LINK_TABLE") == 0);
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
//  to granted sessions; a bad db name or an empty LOST is ignored
static void
s_test_lost (rig_t *rig)
{
    zuuid_t *session;
    zsock_t *peer = s_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    rc = zstr_sendx (rig->confirm, "LOST", PEER_DB, NULL);
    assert (rc == 0);
    WAIT_STATS (rig->server, stats, stats.redis_lost == before.redis_lost + 1);
    assert (s_resyncs (rig, peer, id, PEER_DB, WRITTEN) == 1);
    rc = zstr_sendx (rig->confirm, "LOST", OTHER_DB, "", NULL);
    assert (rc == 0);
    rc = zstr_send (rig->confirm, "LOST");
    assert (rc == 0);
    WAIT_STATS (rig->server, stats, stats.confirms_ignored == before.confirms_ignored + 2);
    assert (stats.redis_lost == before.redis_lost + 2);
    assert (s_resyncs (rig, peer, id, OTHER_DB, WRITTEN) == 1);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A RESYNC for a connection that went is owed, once however many came,
//  and follows the WELCOME of the session's next connection
static void
s_test_owed_reconnect (rig_t *rig)
{
    zuuid_t *session;
    zsock_t *peer = s_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
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
    peer_recv (peer, &rig->reply);
    assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_PONG);
    assert (s_resyncs (rig, peer, id, PEER_DB, "OWED_TABLE") == 0);
    rc = zstate_server_link_unregister (link, PEER_DB, "OWED_TABLE", "owed");
    assert (rc == 0);
    zstate_server_link_release (&link);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A client that does not read: the RESYNCs its pipe cannot take are
//  owed, and go once it reads again, on the same connection
static void
s_test_owed_full (rig_t *rig)
{
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert (peer);
    zsock_set_rcvhwm (peer, 1);
    zsock_set_rcvtimeo (peer, PEER_DEADLINE);
    int rc = zsock_connect (peer, "%s", rig->endpoint + 1);
    assert (rc == 0);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    s_hello (rig, peer, id, 1, true, true);
    zstate_server_link_t *link = zstate_server_link (rig->server);
    rc = zstate_server_link_register (link, PEER_DB, "FULL_TABLE", "full", rig->ports);
    assert (rc == 0);
    zstate_server_stats_t before, stats;
    rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    size_t asked = 1;           //  REGISTER asked once
    for (; asked < 5000; asked++) {
        rc = zstate_server_stats (rig->server, &stats);
        assert (rc == 0);
        if (stats.resyncs_owed > before.resyncs_owed)
            break;
        rc = zstate_server_link_resync (link, PEER_DB, "FULL_TABLE", "full");
        assert (rc == 0);
    }
    assert (stats.resyncs_owed > before.resyncs_owed);
    //  What the pipe took comes, and then the one owed: every RESYNC asked
    //  for went, or was folded into that one
    for (size_t received = 0; received < asked; received++) {
        peer_recv (peer, &rig->reply);
        assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_RESYNC);
        assert (streq (rig->reply.msg.table, "FULL_TABLE"));
    }
    assert (s_resyncs (rig, peer, id, PEER_DB, "FULL_TABLE") == 0);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.resyncs_sent == before.resyncs_sent + asked - 1);
    assert (stats.resyncs_owed == before.resyncs_owed + 1);
    rc = zstate_server_link_unregister (link, PEER_DB, "FULL_TABLE", "full");
    assert (rc == 0);
    zstate_server_link_release (&link);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  BEGIN and END are sequenced like OPS: in order they go to the writer
//  first, as they came (version 2), and count as delivered; duplicates
//  are dropped and acknowledged, a gap asks to resume; the writer's
//  confirmation covers them, and no route is REJECT UNROUTABLE
static void
s_test_markers (rig_t *rig)
{
    zuuid_t *session;
    zsock_t *peer = s_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    peer_ops (peer, 2, id, 1, WRITTEN, "k1", 0);
    s_begin (peer, id, 2, PEER_DB, WRITTEN, ZSTATE_SESSION_SNAPSHOT);
    peer_ops (peer, 2, id, 3, WRITTEN, "k3", 0);
    s_end (peer, id, 4, PEER_DB, WRITTEN, 2, 1, ZSTATE_SESSION_END_COMPLETE);
    zstate_session_msg_t msg;
    s_copy (rig, ZSTATE_SESSION_MSG_OPS, 1, NULL);
    s_copy (rig, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, 2, &msg);
    assert (msg.kind == ZSTATE_SESSION_SNAPSHOT);
    s_copy (rig, ZSTATE_SESSION_MSG_OPS, 3, NULL);
    s_copy (rig, ZSTATE_SESSION_MSG_SNAPSHOT_END, 4, &msg);
    assert (msg.begin == 2 && msg.count == 1 && msg.status == ZSTATE_SESSION_END_COMPLETE);
    peer_expect_keys (rig->written, "k1 k3");
    peer_expect_ack (peer, &rig->reply, 4);
    //  D moved; P waits for the writer, which confirms the END's sequence
    assert (rig->reply.msg.persisted < 4);

    //  A duplicate BEGIN, then a gap: neither goes on
    s_begin (peer, id, 2, PEER_DB, WRITTEN, ZSTATE_SESSION_VIEW);
    s_end (peer, id, 6, PEER_DB, WRITTEN, 5, 0, ZSTATE_SESSION_END_COMPLETE);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.delivered == 4);
    s_begin (peer, id, 5, PEER_DB, WRITTEN, ZSTATE_SESSION_VIEW);
    s_end (peer, id, 6, PEER_DB, WRITTEN, 5, 0, ZSTATE_SESSION_END_ABANDONED);
    s_copy (rig, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, 5, &msg);
    assert (msg.kind == ZSTATE_SESSION_VIEW);
    s_copy (rig, ZSTATE_SESSION_MSG_SNAPSHOT_END, 6, &msg);
    assert (msg.status == ZSTATE_SESSION_END_ABANDONED);
    peer_expect_ack (peer, &rig->reply, 6);

    byte watermark [ZSTATE_WATERMARK_SIZE];
    memcpy (watermark, id, ZSTATE_MSG_SESSION_SIZE);
    memset (watermark + ZSTATE_MSG_SESSION_SIZE, 0, 8);
    watermark [ZSTATE_WATERMARK_SIZE - 1] = 6;
    rc = zsock_send (rig->confirm, "sssb", "CONFIRMED", PEER_DB, WRITTEN,
                     watermark, sizeof (watermark));
    assert (rc == 0);
    do {
        peer_recv (peer, &rig->reply);
        assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_ACK);
    } while (rig->reply.msg.persisted < 6);
    assert (rig->reply.msg.persisted == 6);

    //  No consumer for the table: refused for good, and the session goes on
    s_begin (peer, id, 7, PEER_DB, "NO_TABLE", ZSTATE_SESSION_SNAPSHOT);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_REJECT);
    assert (rig->reply.msg.sequence == 7);
    assert (rig->reply.msg.reason == ZSTATE_SESSION_REASON_UNROUTABLE);
    //  A table without a writer: straight to its consumer
    s_begin (peer, id, 8, PEER_DB, TABLE, ZSTATE_SESSION_SNAPSHOT);
    s_end (peer, id, 9, PEER_DB, TABLE, 8, 0, ZSTATE_SESSION_END_COMPLETE);
    peer_expect_ack (peer, &rig->reply, 9);
    assert (rig->reply.msg.persisted == 9);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.windows_begun == before.windows_begun + 3);
    assert (stats.windows_ended == before.windows_ended + 3);
    assert (stats.duplicates == before.duplicates + 1);
    assert (stats.gaps == before.gaps + 1);
    assert (stats.unroutable == before.unroutable + 1);
    assert (stats.routed == before.routed + 8);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  Markers that a complete validation refuses: REJECT with the reason,
//  counted, and the session goes on; from a session that was not granted
//  the feature, REJECT TYPE
static void
s_test_hostile (rig_t *rig)
{
    zuuid_t *session;
    zsock_t *peer = s_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    zstate_session_msg_t begin = {
        .type = ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, .session = id, .sequence = 1,
        .db = PEER_DB, .table = TABLE, .kind = ZSTATE_SESSION_SNAPSHOT
    };
    zstate_session_msg_t end = {
        .type = ZSTATE_SESSION_MSG_SNAPSHOT_END, .session = id, .sequence = 2,
        .db = PEER_DB, .table = TABLE, .begin = 1, .status = ZSTATE_SESSION_END_COMPLETE
    };
    //  kind is the last octet, status too; begin the 8 octets before
    //  count and status; the envelope stays whole
    struct { zstate_session_msg_t *msg; size_t offset; int value; int reason; } cases [] = {
        { &begin, 1, 3, ZSTATE_SESSION_REASON_KIND },
        { &begin, 1, 0, ZSTATE_SESSION_REASON_KIND },
        { &end, 1, 2, ZSTATE_SESSION_REASON_STATUS },
        { &end, 17, 9, ZSTATE_SESSION_REASON_SEQUENCE },     //  begin >= sequence
        { &end, 10, 0, ZSTATE_SESSION_REASON_SEQUENCE },     //  begin 0
        { &end, 3, -1, ZSTATE_SESSION_REASON_TRUNCATED },
    };
    size_t count = sizeof (cases) / sizeof (cases [0]);
    for (size_t index = 0; index < count; index++) {
        cases [index].msg->sequence = index + 1;
        if (cases [index].msg == &end) {
            end.begin = index;
            if (cases [index].reason == ZSTATE_SESSION_REASON_SEQUENCE
            &&  cases [index].offset == 17)
                end.begin = 1;      //  the octet patched makes it 9 << 56
        }
        s_send_broken (peer, cases [index].msg, cases [index].offset, cases [index].value);
        peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_REJECT);
        assert (rig->reply.msg.sequence == index + 1);
        assert (rig->reply.msg.reason == cases [index].reason);
    }
    peer_ops (peer, 2, id, count + 1, TABLE, "after", 0);
    peer_expect_keys (rig->ports, "after");
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.rejected_kind == before.rejected_kind + 2);
    assert (stats.rejected_status == before.rejected_status + 1);
    assert (stats.rejected [ZSTATE_SESSION_REASON_SEQUENCE]
            == before.rejected [ZSTATE_SESSION_REASON_SEQUENCE] + 2);
    assert (stats.rejected [ZSTATE_SESSION_REASON_TRUNCATED]
            == before.rejected [ZSTATE_SESSION_REASON_TRUNCATED] + 1);
    assert (stats.malformed == before.malformed + count);
    assert (stats.windows_begun == before.windows_begun);

    //  Not granted: a marker is a type this session may not send
    zuuid_t *plain = zuuid_new ();
    s_hello (rig, peer, zuuid_data (plain), 1, false, true);
    s_begin (peer, zuuid_data (plain), 1, PEER_DB, TABLE, ZSTATE_SESSION_SNAPSHOT);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_REJECT);
    assert (rig->reply.msg.reason == ZSTATE_SESSION_REASON_TYPE);
    //  Without a session: NO_SESSION, as for OPS
    zuuid_t *stranger = zuuid_new ();
    s_begin (peer, zuuid_data (stranger), 1, PEER_DB, TABLE, ZSTATE_SESSION_SNAPSHOT);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_REJECT);
    assert (rig->reply.msg.reason == ZSTATE_SESSION_REASON_NO_SESSION);
    zuuid_destroy (&stranger);
    zuuid_destroy (&plain);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  Two live sessions writing one table: counted once per change of
//  writer, by OPS and by BEGIN; one session alone never
static void
s_test_writers (rig_t *rig)
{
    zsock_t *peer = peer_new (rig->endpoint);
    zuuid_t *one = zuuid_new (), *two = zuuid_new ();
    s_hello (rig, peer, zuuid_data (one), 1, true, true);
    s_hello (rig, peer, zuuid_data (two), 1, true, true);
    peer_ops (peer, 2, zuuid_data (one), 1, TABLE, "a1", 0);
    peer_ops (peer, 2, zuuid_data (one), 2, TABLE, "a2", 0);
    peer_ops (peer, 2, zuuid_data (two), 1, TABLE, "b1", 0);
    peer_ops (peer, 2, zuuid_data (two), 2, TABLE, "b2", 0);
    s_begin (peer, zuuid_data (one), 3, PEER_DB, TABLE, ZSTATE_SESSION_VIEW);
    peer_ops (peer, 2, zuuid_data (one), 4, TABLE, "a4", 0);
    peer_ops (peer, 2, zuuid_data (one), 5, TABLE, "a5", 0);
    peer_expect_keys (rig->ports, "a1 a2 b1 b2 a4 a5");
    zstate_server_stats_t stats;
    int rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.table_writers == 2);
    //  Another table is another count
    peer_ops (peer, 2, zuuid_data (two), 3, WRITTEN, "w3", 0);
    peer_expect_keys (rig->written, "w3");
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.table_writers == 2);
    zuuid_destroy (&one);
    zuuid_destroy (&two);
    zsock_destroy (&peer);
}

//  A writer that does not read: markers park like OPS, and all go on in
//  order once it reads
static void
s_test_parked (rig_t *rig)
{
    zuuid_t *session;
    zsock_t *peer = s_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    uint64_t sequence = 0;
    for (int window = 0; window < 50; window++) {
        uint64_t begin = ++sequence;
        s_begin (peer, id, begin, PEER_DB, WRITTEN, ZSTATE_SESSION_SNAPSHOT);
        peer_ops (peer, 2, id, ++sequence, WRITTEN, "p", 0);
        s_end (peer, id, ++sequence, PEER_DB, WRITTEN, begin, 1,
               ZSTATE_SESSION_END_COMPLETE);
    }
    zstate_server_stats_t stats;
    WAIT_STATS (rig->server, stats, stats.stalls > 0);
    for (uint64_t index = 1; index <= sequence; index++)
        s_copy (rig, index % 3 == 2? ZSTATE_SESSION_MSG_OPS:
                     index % 3 == 1? ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN:
                                     ZSTATE_SESSION_MSG_SNAPSHOT_END, index, NULL);
    peer_expect_ack (peer, &rig->reply, sequence);
    WAIT_STATS (rig->server, stats, stats.windows_ended == 50);
    assert (stats.windows_begun == 50);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  Every table restored from Redis: a new session is sent no RESYNC of
//  every table; one table registered and not restored: it is again. The
//  monitor's STATS text has the counters.
static void
s_test_restored (bool verbose)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_server_set_verbose (server, verbose);
    int rc = zstate_server_set_heartbeat (server, 0);
    assert (rc == 0);
    rc = zstate_server_bind (server, "inproc://zstate-server-resync-restored");
    assert (rc == 0);
    //  Routes through the link only, to a consumer of another server that
    //  nothing is delivered to, so that this one has no other route
    zstate_server_t *elsewhere = zstate_server_new ();
    zstate_consumer_t *holder = zstate_consumer_new (elsewhere, PEER_DB, TABLE);
    assert (elsewhere && holder);
    zstate_server_link_t *link = zstate_server_link (server);
    rc = zstate_server_link_register (link, PEER_DB, "OPEN_TABLE", "open", holder);
    assert (rc == 0);
    rc = zstate_server_link_register (link, PEER_DB, "RESTORED_TABLE", "restored", holder);
    assert (rc == 0);
    rc = zstate_server_link_restored (link, PEER_DB, "RESTORED_TABLE", "restored",
                                      NULL, 0);
    assert (rc == 0);
    rig_t rig;
    memset (&rig, 0, sizeof (rig));
    snprintf (rig.endpoint, sizeof (rig.endpoint), ">inproc://zstate-server-resync-restored");
    rig.server = server;
    zsock_t *peer = peer_new (rig.endpoint);
    zuuid_t *one = zuuid_new (), *two = zuuid_new ();
    //  OPEN_TABLE was not restored; once it goes, every table was
    s_hello (&rig, peer, zuuid_data (one), 1, true, true);
    rc = zstate_server_link_unregister (link, PEER_DB, "OPEN_TABLE", "open");
    assert (rc == 0);
    s_hello (&rig, peer, zuuid_data (two), 1, true, false);
    assert (s_resyncs (&rig, peer, zuuid_data (two), ALL, ALL) == 0);

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

    //  A marker at or below the restored watermark of its session is
    //  dropped as delivered; above it, it is routed. Watchers get OPS only.
    byte watermark [ZSTATE_WATERMARK_SIZE] = { 0 };
    memcpy (watermark, zuuid_data (one), ZSTATE_MSG_SESSION_SIZE);
    watermark [ZSTATE_WATERMARK_SIZE - 1] = 1;
    rc = zstate_server_link_restored (link, PEER_DB, "RESTORED_TABLE", "restored",
                                      watermark, sizeof (watermark));
    assert (rc == 0);
    zstr_sendx (watcher, "WATCH", PEER_DB, "RESTORED_TABLE", NULL);
    rc = zstr_recvx (watcher, &command, &status, &reason, NULL);
    assert (rc == 3 && streq (status, "0"));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    s_begin (peer, zuuid_data (one), 1, PEER_DB, "RESTORED_TABLE", ZSTATE_SESSION_VIEW);
    s_begin (peer, zuuid_data (one), 2, PEER_DB, "RESTORED_TABLE", ZSTATE_SESSION_VIEW);
    peer_ops (peer, 2, zuuid_data (one), 3, "RESTORED_TABLE", "watched", 0);
    peer_expect_ack (peer, &rig.reply, 3);
    zstate_server_stats_t stats;
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.restored_drops == 1);
    assert (stats.windows_begun == 1);
    zmsg_t *copy = zmsg_recv (watcher);
    assert (copy && zmsg_size (copy) == 2);
    zframe_t *payload = zmsg_last (copy);
    zstate_msg_t *decoder = zstate_msg_new ();
    rc = zstate_msg_decode (decoder, zframe_data (payload), zframe_size (payload));
    assert (rc == ZSTATE_WIRE_OK);
    assert (zstate_msg_sequence (decoder) == 3);
    zstate_msg_destroy (&decoder);
    zmsg_destroy (&copy);
    zsock_destroy (&watcher);

    zframe_destroy (&rig.reply.frame);
    rc = zstate_server_link_unregister (link, PEER_DB, "RESTORED_TABLE", "restored");
    assert (rc == 0);
    zstate_server_link_release (&link);
    zuuid_destroy (&one);
    zuuid_destroy (&two);
    zsock_destroy (&peer);
    zstate_server_destroy (&server);
    zstate_consumer_destroy (&holder);
    zstate_server_destroy (&elsewhere);
}

//  The owed list alone: once per table, oldest first, every table past
//  its bound or when asked, and every table subsumes the rest
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
}

//  Run one test on a rig of its own
static void
s_run (void (*test) (rig_t *rig), bool verbose)
{
    rig_t rig;
    s_rig_new (&rig, verbose);
    test (&rig);
    s_rig_destroy (&rig);
}

void
zstate_server_resync_suite_test (bool verbose)
{
    printf (" * zstate_server_resync_suite: ");
    if (verbose)
        printf ("\n");
    s_test_owed_class ();
    s_run (s_test_feature, verbose);
    s_run (s_test_triggers, verbose);
    s_run (s_test_lost, verbose);
    s_run (s_test_owed_reconnect, verbose);
    s_run (s_test_owed_full, verbose);
    s_run (s_test_markers, verbose);
    s_run (s_test_hostile, verbose);
    s_run (s_test_writers, verbose);
    s_run (s_test_parked, verbose);
    s_test_restored (verbose);
    printf ("OK\n");
}
