/*  =========================================================================
    zstate_server_persist_suite - level PERSISTED on the server's side

    What a session waits for from DB writers (zstate_server_persist), the
    restored watermarks of a table (zstate_server_watermarks), and, through
    a real server with real consumer tables, raw DEALERs speaking protocol
    version 2 and a fake writer: a PULL that takes the forwarded copies
    and a PUSH that sends CONFIRMED to the server's confirmation endpoint.
    Assertions are on what arrives, never on time.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_persist.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_peer.h"

#define TABLE           "PORT_TABLE"        //  no writer
#define WRITTEN         "WRITTEN_TABLE"     //  forwarded to the fake writer
#define ENDPOINT        "inproc://zstate-server-persist-suite"
#define WRITER          "inproc://zstate-server-persist-writer"

//  The rig: a server, a table without writer, a table with the fake one
typedef struct {
    zstate_server_t *server;
    zstate_consumer_t *ports;   //  TABLE
    zstate_consumer_t *written; //  WRITTEN
    zsock_t *copies;            //  the fake writer's PULL
    zsock_t *confirm;           //  ... and its PUSH to the server
    zsock_t *peer;              //  a raw client
    zuuid_t *session;           //  its session
    reply_t reply;              //  what it received last
} rig_t;

static void
s_rig_new (rig_t *rig, bool verbose)
{
    memset (rig, 0, sizeof (*rig));
    rig->server = zstate_server_new ();
    assert (rig->server);
    zstate_server_set_verbose (rig->server, verbose);
    int rc = zstate_server_set_heartbeat (rig->server, 0);
    assert (rc == 0);
    rc = zstate_server_bind (rig->server, ENDPOINT);
    assert (rc == 0);
    rig->ports = zstate_consumer_new (rig->server, PEER_DB, TABLE);
    rig->written = zstate_consumer_new (rig->server, PEER_DB, WRITTEN);
    rig->copies = zsock_new_pull ("@" WRITER);
    assert (rig->ports && rig->written && rig->copies);
    zsock_set_rcvtimeo (rig->copies, PEER_DEADLINE);
    rc = zstate_consumer_forward (rig->written, WRITER);
    assert (rc == 0);
    //  The endpoint a consumer's writer is told, through the link
    zstate_server_link_t *link = zstate_server_link (rig->server);
    char endpoint [256];
    rc = zstate_server_link_confirm_endpoint (link, endpoint, sizeof (endpoint));
    assert (rc == 0);
    assert (strneq (endpoint, ""));
    zstate_server_link_release (&link);
    rig->confirm = zsock_new (ZMQ_PUSH);
    assert (rig->confirm);
    rc = zsock_connect (rig->confirm, "%s", endpoint);
    assert (rc == 0);
    rig->peer = peer_new (">" ENDPOINT);
    rig->session = zuuid_new ();
}

static void
s_rig_destroy (rig_t *rig)
{
    zframe_destroy (&rig->reply.frame);
    zuuid_destroy (&rig->session);
    zsock_destroy (&rig->peer);
    zsock_destroy (&rig->confirm);
    zstate_consumer_destroy (&rig->ports);
    zstate_consumer_destroy (&rig->written);
    zsock_destroy (&rig->copies);
    zstate_server_destroy (&rig->server);
}

//  Start the rig's session at level, first unacknowledged 1
static void
s_rig_hello (rig_t *rig, int level)
{
    peer_hello (rig->peer, zuuid_data (rig->session), 1, level, 0);
    peer_expect (rig->peer, &rig->reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.ack_level == level);
    assert (rig->reply.msg.delivered == 0 && rig->reply.msg.persisted == 0);
}

//  One watermark, as writers send it
static void
s_watermark (byte *data, const byte *session, uint64_t sequence)
{
    memcpy (data, session, ZSTATE_MSG_SESSION_SIZE);
    for (int index = 0; index < 8; index++)
        data [ZSTATE_MSG_SESSION_SIZE + index] = (byte) (sequence >> (56 - 8 * index));
}

//  The fake writer confirms sequence of session for table
static void
s_confirm (rig_t *rig, const char *table, const byte *session, uint64_t sequence)
{
    byte data [ZSTATE_WATERMARK_SIZE];
    s_watermark (data, session, sequence);
    int rc = zsock_send (rig->confirm, "sssb", "CONFIRMED", PEER_DB, table,
                         data, sizeof (data));
    assert (rc == 0);
}

//  Take count forwarded copies from the fake writer
static void
s_copies (rig_t *rig, size_t count)
{
    while (count--) {
        zframe_t *copy = zframe_recv (rig->copies);
        assert (copy);
        zframe_destroy (&copy);
    }
}

//  Receive ACKs until one says persisted; none may go past it, nor past
//  its delivered
static void
s_expect_persisted (rig_t *rig, uint64_t delivered, uint64_t persisted)
{
    do {
        peer_recv (rig->peer, &rig->reply);
        assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_ACK);
        assert (rig->reply.msg.persisted <= rig->reply.msg.delivered);
        assert (rig->reply.msg.persisted <= persisted);
    } while (rig->reply.msg.persisted < persisted
          || rig->reply.msg.delivered < delivered);
    assert (rig->reply.msg.delivered == delivered);
}

//  The tracker alone: P stops at what waits, moves on confirmation, is D
//  when nothing waits, never passes D, and forgets a route that went
static void
s_test_tracker (void)
{
    zstate_server_persist_t *persist = NULL;
    assert (zstate_server_persist_level (persist, 5) == 5);
    zstate_server_persist_forwarded (&persist, 1, 2);
    assert (persist);
    assert (zstate_server_persist_level (persist, 3) == 1);
    zstate_server_persist_forwarded (&persist, 1, 4);
    assert (zstate_server_persist_level (persist, 4) == 1);
    assert (zstate_server_persist_confirmed (persist, 1, 2));
    assert (zstate_server_persist_level (persist, 4) == 2);
    //  A second route waits from where it starts
    zstate_server_persist_forwarded (&persist, 2, 5);
    assert (zstate_server_persist_waiting (persist) == 2);
    assert (zstate_server_persist_level (persist, 5) == 2);
    assert (zstate_server_persist_confirmed (persist, 1, 4));
    assert (zstate_server_persist_waiting (persist) == 1);
    assert (zstate_server_persist_level (persist, 5) == 4);
    //  Stale, and unknown, confirmations change nothing
    assert (!zstate_server_persist_confirmed (persist, 1, 4));
    assert (!zstate_server_persist_confirmed (persist, 1, 3));
    assert (!zstate_server_persist_confirmed (persist, 3, 9));
    assert (zstate_server_persist_level (persist, 5) == 4);
    //  A watermark past D: P is D
    assert (zstate_server_persist_confirmed (persist, 2, 9));
    assert (zstate_server_persist_waiting (persist) == 0);
    assert (zstate_server_persist_level (persist, 6) == 6);
    //  A route that went is no longer waited for
    zstate_server_persist_forwarded (&persist, 1, 7);
    assert (zstate_server_persist_level (persist, 7) == 6);
    zstate_server_persist_forget (persist, 1);
    zstate_server_persist_forget (persist, 1);
    assert (zstate_server_persist_level (persist, 7) == 7);
    //  Many routes at once: the list grows
    for (uint32_t route = 10; route < 20; route++)
        zstate_server_persist_forwarded (&persist, route, 8 + route);
    assert (zstate_server_persist_waiting (persist) == 10);
    assert (zstate_server_persist_level (persist, 27) == 17);
    for (uint32_t route = 19; route >= 10; route--)
        assert (zstate_server_persist_confirmed (persist, route, 8 + route));
    assert (zstate_server_persist_level (persist, 27) == 27);
    zstate_server_persist_destroy (&persist);
    assert (persist == NULL);
    zstate_server_persist_destroy (&persist);
}

//  Restored watermarks: loaded whole or not at all, the higher one kept
static void
s_test_watermarks (void)
{
    zstate_server_watermarks_t *watermarks = zstate_server_watermarks_new ();
    zuuid_t *first = zuuid_new ();
    zuuid_t *second = zuuid_new ();
    byte data [3 * ZSTATE_WATERMARK_SIZE];
    s_watermark (data, zuuid_data (first), 3);
    s_watermark (data + ZSTATE_WATERMARK_SIZE, zuuid_data (second), 1ULL << 40);
    s_watermark (data + 2 * ZSTATE_WATERMARK_SIZE, zuuid_data (first), 2);
    errno = 0;
    assert (zstate_server_watermarks_load (watermarks, data, sizeof (data) - 1) == -1);
    assert (errno == EINVAL);
    assert (zstate_server_watermarks_size (watermarks) == 0);
    assert (zstate_server_watermarks_load (watermarks, data, sizeof (data)) == 0);
    assert (zstate_server_watermarks_size (watermarks) == 2);
    assert (zstate_server_watermarks_covers (watermarks, zuuid_data (first), 1));
    assert (zstate_server_watermarks_covers (watermarks, zuuid_data (first), 3));
    assert (!zstate_server_watermarks_covers (watermarks, zuuid_data (first), 4));
    assert (zstate_server_watermarks_covers (watermarks, zuuid_data (second), 1ULL << 40));
    assert (!zstate_server_watermarks_covers (watermarks, zuuid_data (second),
                                              (1ULL << 40) + 1));
    byte unknown [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    assert (!zstate_server_watermarks_covers (watermarks, unknown, 1));
    zuuid_destroy (&first);
    zuuid_destroy (&second);
    zstate_server_watermarks_destroy (&watermarks);
    assert (watermarks == NULL);
}

//  PERSISTED granted; P stops at the first message its writer has not
//  confirmed, moves with each confirmation, follows D where no writer
//  waits, and never passes D
static void
s_test_confirmed (rig_t *rig)
{
    s_rig_hello (rig, ZSTATE_SESSION_ACK_PERSISTED);
    const byte *id = zuuid_data (rig->session);
    peer_ops (rig->peer, 2, id, 1, TABLE, "a1", 0);
    s_expect_persisted (rig, 1, 1);
    peer_ops (rig->peer, 2, id, 2, WRITTEN, "a2", 0);
    peer_ops (rig->peer, 2, id, 3, TABLE, "a3", 0);
    peer_ops (rig->peer, 2, id, 4, WRITTEN, "a4", 0);
    peer_expect_ack (rig->peer, &rig->reply, 4);
    assert (rig->reply.msg.persisted == 1);
    peer_expect_keys (rig->ports, "a1 a3");
    peer_expect_keys (rig->written, "a2 a4");
    s_copies (rig, 2);

    s_confirm (rig, WRITTEN, id, 2);
    s_expect_persisted (rig, 4, 2);
    s_confirm (rig, WRITTEN, id, 4);
    s_expect_persisted (rig, 4, 4);
    //  Nothing waits: P follows D
    peer_ops (rig->peer, 2, id, 5, TABLE, "a5", 0);
    s_expect_persisted (rig, 5, 5);
    //  A watermark beyond what we forwarded: P goes to D, not past it
    peer_ops (rig->peer, 2, id, 6, WRITTEN, "a6", 0);
    s_expect_persisted (rig, 6, 5);
    s_copies (rig, 1);
    s_confirm (rig, WRITTEN, id, 100);
    s_expect_persisted (rig, 6, 6);
    //  A resuming client hears both
    peer_hello (rig->peer, id, 6, ZSTATE_SESSION_ACK_PERSISTED, 0);
    peer_expect (rig->peer, &rig->reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.delivered == 6 && rig->reply.msg.persisted == 6);
    peer_expect_keys (rig->ports, "a5");
    peer_expect_keys (rig->written, "a6");

    zstate_server_stats_t stats;
    int rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.confirms == 3 && stats.confirms_ignored == 0);
}

//  A message the writer has, parked for its full consumer: the writer
//  may confirm it before the consumer takes it, and P waits for both
static void
s_test_confirmed_parked (rig_t *rig)
{
    const byte *id = zuuid_data (rig->session);
    int rc = zstate_consumer_set_queue (rig->written, 1, 1 << 20);
    assert (rc == 0);
    peer_ops (rig->peer, 2, id, 7, WRITTEN, "b7", 0);
    peer_ops (rig->peer, 2, id, 8, WRITTEN, "b8", 0);
    zstate_server_stats_t stats;
    zstate_server_test_wait_stalled (rig->server, rig->written, &stats);
    s_copies (rig, 2);
    s_confirm (rig, WRITTEN, id, 8);
    WAIT_STATS (rig->server, stats, stats.confirms == 4);
    //  Delivered 7, P there too; 8 is in Redis but not delivered
    s_expect_persisted (rig, 7, 7);
    peer_expect_keys (rig->written, "b7 b8");
    s_expect_persisted (rig, 8, 8);
    rc = zstate_consumer_set_queue (rig->written, 262144, 64 << 20);
    assert (rc == 0);
}

//  CONFIRMED that is malformed, or for a table or session we do not
//  know, is counted and skipped; what is valid in it still counts
static void
s_test_hostile (rig_t *rig)
{
    const byte *id = zuuid_data (rig->session);
    peer_ops (rig->peer, 2, id, 9, WRITTEN, "c9", 0);
    s_expect_persisted (rig, 9, 8);
    s_copies (rig, 1);
    zstate_server_stats_t stats;
    int rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    uint64_t confirms = stats.confirms, ignored = stats.confirms_ignored;
    byte data [ZSTATE_WATERMARK_SIZE + 1];
    s_watermark (data, id, 9);
    char long_name [ZSTATE_NAME_MAX + 2];
    memset (long_name, 'x', sizeof (long_name) - 1);
    long_name [sizeof (long_name) - 1] = 0;
    zuuid_t *stranger = zuuid_new ();
    byte unknown [ZSTATE_WATERMARK_SIZE];
    s_watermark (unknown, zuuid_data (stranger), 9);
    //  Not CONFIRMED; frames not in threes
    zsock_send (rig->confirm, "sssb", "CONFIRM", PEER_DB, WRITTEN, data, (size_t) 24);
    zsock_send (rig->confirm, "sss", "CONFIRMED", PEER_DB, WRITTEN);
    zsock_send (rig->confirm, "s", "");
    //  Each skipped for itself: a size not of 24s, none, an unknown
    //  table, db or name, an unknown session; then the valid one applies
    zsock_send (rig->confirm, "sssbssbssbssbssbssbssbssb", "CONFIRMED",
                PEER_DB, WRITTEN, data, (size_t) 25,
                PEER_DB, WRITTEN, data, (size_t) 0,
                PEER_DB, "NO_TABLE", data, (size_t) 24,
                "NO_DB", WRITTEN, data, (size_t) 24,
                long_name, WRITTEN, data, (size_t) 24,
                "", WRITTEN, data, (size_t) 24,
                PEER_DB, WRITTEN, unknown, (size_t) 24,
                PEER_DB, WRITTEN, data, (size_t) 24);
    WAIT_STATS (rig->server, stats, stats.confirms == confirms + 1);
    assert (stats.confirms_ignored == ignored + 3 + 7);
    s_expect_persisted (rig, 9, 9);
    peer_expect_keys (rig->written, "c9");
    zuuid_destroy (&stranger);
}

//  A HELLO past what the server has (a gap it cannot repair) sets P with
//  D, and what waited for the writer is forgotten: a late confirmation
//  changes nothing
static void
s_test_gap_hello (rig_t *rig)
{
    const byte *id = zuuid_data (rig->session);
    peer_ops (rig->peer, 2, id, 10, WRITTEN, "g10", 0);
    s_expect_persisted (rig, 10, 9);
    s_copies (rig, 1);
    peer_expect_keys (rig->written, "g10");
    peer_hello (rig->peer, id, 21, ZSTATE_SESSION_ACK_PERSISTED, 0);
    peer_expect (rig->peer, &rig->reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.delivered == 20 && rig->reply.msg.persisted == 20);
    zstate_server_stats_t stats;
    int rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    uint64_t confirms = stats.confirms;
    s_confirm (rig, WRITTEN, id, 10);
    WAIT_STATS (rig->server, stats, stats.confirms == confirms + 1);
    peer_ops (rig->peer, 2, id, 21, TABLE, "g21", 0);
    s_expect_persisted (rig, 21, 21);
    peer_expect_keys (rig->ports, "g21");
}

//  A session that goes, evicted or silent, takes what it waited for with
//  it, and confirmations for it are counted as for a stranger; a table
//  that goes releases what waited for its writer
static void
s_test_cleanup (rig_t *rig)
{
    const byte *id = zuuid_data (rig->session);
    peer_ops (rig->peer, 2, id, 22, WRITTEN, "d22", 0);
    s_expect_persisted (rig, 22, 21);
    s_copies (rig, 1);
    peer_expect_keys (rig->written, "d22");
    int rc = zstate_server_set_sessions_max (rig->server, 1);
    assert (rc == 0);
    zuuid_t *other = zuuid_new ();
    zsock_t *peer = peer_new (">" ENDPOINT);
    reply_t reply = { NULL };
    peer_hello (peer, zuuid_data (other), 1, ZSTATE_SESSION_ACK_PERSISTED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    zstate_server_stats_t stats;
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.evicted == 1 && stats.sessions == 1);
    uint64_t ignored = stats.confirms_ignored;
    s_confirm (rig, WRITTEN, id, 22);
    WAIT_STATS (rig->server, stats, stats.confirms_ignored == ignored + 1);

    //  The other session waits for the writer, then goes silent
    peer_ops (peer, 2, zuuid_data (other), 1, WRITTEN, "e1", 0);
    peer_expect_ack (peer, &reply, 1);
    assert (reply.msg.persisted == 0);
    s_copies (rig, 1);
    peer_expect_keys (rig->written, "e1");
    rc = zstate_server_set_session_idle (rig->server, 1);
    assert (rc == 0);
    WAIT_STATS (rig->server, stats, stats.expired == 1);
    s_confirm (rig, WRITTEN, zuuid_data (other), 1);
    WAIT_STATS (rig->server, stats, stats.confirms_ignored == ignored + 2);
    rc = zstate_server_set_session_idle (rig->server, 600000);
    assert (rc == 0);
    rc = zstate_server_set_sessions_max (rig->server, 65536);
    assert (rc == 0);

    //  A table that goes: nothing waits for its writer any more
    peer_hello (peer, zuuid_data (other), 2, ZSTATE_SESSION_ACK_PERSISTED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    peer_ops (peer, 2, zuuid_data (other), 2, WRITTEN, "e2", 0);
    peer_expect_ack (peer, &reply, 2);
    assert (reply.msg.persisted == 1);
    s_copies (rig, 1);
    zstate_consumer_destroy (&rig->written);
    do {
        peer_recv (peer, &reply);
        assert (reply.msg.type == ZSTATE_SESSION_MSG_ACK);
    } while (reply.msg.persisted < 2);
    assert (reply.msg.delivered == 2);
    rig->written = zstate_consumer_new (rig->server, PEER_DB, WRITTEN);
    assert (rig->written);
    rc = zstate_consumer_forward (rig->written, WRITER);
    assert (rc == 0);
    zframe_destroy (&reply.frame);
    zsock_destroy (&peer);
    zuuid_destroy (&other);
}

//  Restored watermarks: what Redis holds of a session for that table is
//  dropped, counted, not forwarded, and acknowledged as delivered and
//  persisted, at either level; other tables and sessions are not touched
static void
s_test_restored (bool verbose)
{
    rig_t rig;
    s_rig_new (&rig, verbose);
    const byte *id = zuuid_data (rig.session);
    zuuid_t *other = zuuid_new ();
    byte data [2 * ZSTATE_WATERMARK_SIZE];
    s_watermark (data, id, 3);
    s_watermark (data + ZSTATE_WATERMARK_SIZE, zuuid_data (other), 2);
    errno = 0;
    int rc = zstate_consumer_restored (rig.written, data, sizeof (data) - 1);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_consumer_restored (rig.written, data, sizeof (data));
    assert (rc == 0);

    s_rig_hello (&rig, ZSTATE_SESSION_ACK_PERSISTED);
    for (uint64_t sequence = 1; sequence <= 5; sequence++) {
        char key [16];
        snprintf (key, sizeof (key), "r%" PRIu64, sequence);
        peer_ops (rig.peer, 2, id, sequence, WRITTEN, key, 0);
    }
    //  4 went to the writer, which has not confirmed it
    peer_expect_ack (rig.peer, &rig.reply, 5);
    assert (rig.reply.msg.persisted == 3);
    peer_expect_keys (rig.written, "r4 r5");
    s_copies (&rig, 2);
    s_confirm (&rig, WRITTEN, id, 5);
    s_expect_persisted (&rig, 5, 5);
    //  Other tables of the session are not restored
    peer_ops (rig.peer, 2, id, 6, TABLE, "r6", 0);
    s_expect_persisted (&rig, 6, 6);
    peer_expect_keys (rig.ports, "r6");

    //  Level DELIVERED: the same drop, acknowledged
    zsock_t *peer = peer_new (">" ENDPOINT);
    reply_t reply = { NULL };
    peer_hello (peer, zuuid_data (other), 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.ack_level == ZSTATE_SESSION_ACK_DELIVERED);
    peer_ops (peer, 2, zuuid_data (other), 1, WRITTEN, "o1", 0);
    peer_ops (peer, 2, zuuid_data (other), 2, WRITTEN, "o2", 0);
    peer_expect_ack (peer, &reply, 2);
    assert (reply.msg.persisted == 2);
    peer_ops (peer, 2, zuuid_data (other), 3, WRITTEN, "o3", 0);
    peer_expect_keys (rig.written, "o3");
    s_copies (&rig, 1);

    zstate_server_stats_t stats;
    rc = zstate_server_stats (rig.server, &stats);
    assert (rc == 0);
    assert (stats.restored_drops == 3 + 2);
    assert (stats.routed == 2 + 1 + 1);
    //  With no writer left, PERSISTED is not granted
    rc = zstate_consumer_forward (rig.written, NULL);
    assert (rc == 0);
    zuuid_t *late = zuuid_new ();
    peer_hello (peer, zuuid_data (late), 1, ZSTATE_SESSION_ACK_PERSISTED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.ack_level == ZSTATE_SESSION_ACK_DELIVERED);
    zuuid_destroy (&late);
    zframe_destroy (&reply.frame);
    zsock_destroy (&peer);
    zuuid_destroy (&other);
    s_rig_destroy (&rig);
}

//  One instance of the end-to-end test: a server, a consumer of WRITTEN
//  with a real writer into redis
typedef struct {
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    zstate_writer_t *writer;
} instance_t;

static void
s_instance_new (instance_t *instance, const char *redis, bool restore,
                int64_t expect_restored)
{
    instance->server = zstate_server_new ();
    assert (instance->server);
    int rc = zstate_server_set_heartbeat (instance->server, 0);
    assert (rc == 0);
    instance->consumer = zstate_consumer_new (instance->server, PEER_DB, WRITTEN);
    instance->writer = zstate_writer_new ();
    assert (instance->consumer && instance->writer);
    zstate_writer_set_verbose (instance->writer, false);
    rc = zstate_writer_connect (instance->writer, redis);
    assert (rc == 0);
    if (restore) {
        errno = 0;
        assert (zstate_consumer_restore (instance->consumer, instance->writer, 0) == -1);
        assert (errno == EINVAL);
        int64_t entries = zstate_consumer_restore (instance->consumer, instance->writer,
                                                   PEER_DEADLINE);
        assert (entries == expect_restored);
    }
    rc = zstate_consumer_set_writer (instance->consumer, instance->writer);
    assert (rc == 0);
    rc = zstate_server_bind (instance->server, ENDPOINT);
    assert (rc == 0);
}

static void
s_instance_destroy (instance_t *instance)
{
    zstate_server_destroy (&instance->server);
    zstate_consumer_destroy (&instance->consumer);
    zstate_writer_destroy (&instance->writer);
}

//  A real writer and Redis: P follows the writer's CONFIRMED; a restarted
//  instance restores the table and its watermarks before it binds, the
//  application gets the entries first and nothing it restored again, and
//  what the client held is acknowledged at both levels
static void
s_test_restart (bool verbose)
{
    zstate_redis_server_t *redis = zstate_redis_server_new (false);
    assert (redis);
    const char *endpoint = zstate_redis_server_endpoint (redis);
    instance_t instance;
    s_instance_new (&instance, endpoint, false, 0);
    zuuid_t *session = zuuid_new ();
    const byte *id = zuuid_data (session);
    zsock_t *peer = peer_new (">" ENDPOINT);
    reply_t reply = { NULL };
    peer_hello (peer, id, 1, ZSTATE_SESSION_ACK_PERSISTED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.ack_level == ZSTATE_SESSION_ACK_PERSISTED);
    peer_ops (peer, 2, id, 1, WRITTEN, "k1", 0);
    peer_ops (peer, 2, id, 2, WRITTEN, "k2", 0);
    peer_ops (peer, 2, id, 3, WRITTEN, "k1", 0);
    do {
        peer_recv (peer, &reply);
        assert (reply.msg.type == ZSTATE_SESSION_MSG_ACK);
        assert (reply.msg.persisted <= reply.msg.delivered);
    } while (reply.msg.persisted < 3);
    peer_expect_keys (instance.consumer, "k1 k2 k1");
    zsock_destroy (&peer);
    s_instance_destroy (&instance);

    //  Started again: two entries (k1 written twice), then the client
    //  sends again what it held, 2 and 3, and a new one
    s_instance_new (&instance, endpoint, true, 2);
    zstate_consumer_stats_t stats;
    zstate_consumer_stats (instance.consumer, &stats);
    assert (stats.restored == 2 && stats.ops == 0 && stats.messages == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_consumer_pops (instance.consumer, batch, 0) == 2);
    for (size_t index = 0; index < 2; index++) {
        assert (zstate_batch_op (batch, index) == ZSTATE_OP_SET);
        const char *key = zstate_batch_key (batch, index, NULL);
        assert (streq (key, "k1") || streq (key, "k2"));
        assert (streq (zstate_batch_get (batch, index, "value"), "1"));
    }
    zstate_batch_destroy (&batch);
    errno = 0;
    assert (zstate_consumer_restore (instance.consumer, instance.writer, 1000) == -1);
    peer = peer_new (">" ENDPOINT);
    peer_hello (peer, id, 2, ZSTATE_SESSION_ACK_PERSISTED, 0);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.delivered == 1 && reply.msg.persisted == 1);
    peer_ops (peer, 2, id, 2, WRITTEN, "k2", 0);
    peer_ops (peer, 2, id, 3, WRITTEN, "k1", 0);
    peer_ops (peer, 2, id, 4, WRITTEN, "k4", 0);
    do {
        peer_recv (peer, &reply);
        assert (reply.msg.type == ZSTATE_SESSION_MSG_ACK);
    } while (reply.msg.persisted < 4);
    peer_expect_keys (instance.consumer, "k4");
    assert (zstate_consumer_pending (instance.consumer) == 0);
    zstate_consumer_stats (instance.consumer, &stats);
    assert (stats.messages == 1 && stats.popped == 3 && stats.restored == 2);
    zstate_server_stats_t server_stats;
    int rc = zstate_server_stats (instance.server, &server_stats);
    assert (rc == 0);
    assert (server_stats.restored_drops == 2 && server_stats.routed == 1);
    assert (server_stats.confirms >= 1 && server_stats.confirms_ignored == 0);
    if (verbose)
        zsys_info ("restart: %" PRIu64 " confirms", server_stats.confirms);
    //  Once messages came, a restore would mix them up
    errno = 0;
    assert (zstate_consumer_restore (instance.consumer, instance.writer, 1000) == -1);
    assert (errno == EBUSY);
    zframe_destroy (&reply.frame);
    zsock_destroy (&peer);
    zuuid_destroy (&session);
    s_instance_destroy (&instance);
    zstate_redis_server_destroy (&redis);
}

void
zstate_server_persist_suite_test (bool verbose)
{
    printf (" * zstate_server_persist_suite: ");
    if (verbose)
        printf ("\n");
    s_test_tracker ();
    s_test_watermarks ();
    rig_t rig;
    s_rig_new (&rig, verbose);
    s_test_confirmed (&rig);
    s_test_confirmed_parked (&rig);
    s_test_hostile (&rig);
    s_test_gap_hello (&rig);
    s_test_cleanup (&rig);
    s_rig_destroy (&rig);
    s_test_restored (verbose);
    s_test_restart (verbose);
    printf ("OK\n");
}
