/*  =========================================================================
    zstate_server_markers_suite - state resync on the server's side:
    SNAPSHOT-BEGIN and SNAPSHOT-END

    Through the rig of selftest/zstate_server_resync_rig.c: markers in and
    out of order, forwarded, confirmed, parked, unroutable and under a
    restored watermark, hostile markers, and two writers of one table.
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
#include "zstate_server_peer.h"
#include "zstate_server_resync_rig.h"

//  BEGIN and END are sequenced like OPS: in order they go to the writer
//  first, as they came (version 2), and count as delivered; duplicates
//  are dropped and acknowledged, a gap asks to resume; the writer's
//  confirmation covers them, and no route is REJECT UNROUTABLE
static void
s_test_markers (rig_t *rig)
{
    zuuid_t *session;
    zsock_t *peer = rig_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    zstate_server_stats_t before, stats;
    int rc = zstate_server_stats (rig->server, &before);
    assert (rc == 0);
    peer_ops (peer, 2, id, 1, WRITTEN, "k1", 0);
    rig_begin (peer, id, 2, PEER_DB, WRITTEN, ZSTATE_SESSION_SNAPSHOT);
    peer_ops (peer, 2, id, 3, WRITTEN, "k3", 0);
    rig_end (peer, id, 4, PEER_DB, WRITTEN, 2, 1, ZSTATE_SESSION_END_COMPLETE);
    zstate_session_msg_t msg;
    rig_copy (rig, ZSTATE_SESSION_MSG_OPS, 1, NULL);
    rig_copy (rig, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, 2, &msg);
    assert (msg.kind == ZSTATE_SESSION_SNAPSHOT);
    rig_copy (rig, ZSTATE_SESSION_MSG_OPS, 3, NULL);
    rig_copy (rig, ZSTATE_SESSION_MSG_SNAPSHOT_END, 4, &msg);
    assert (msg.begin == 2 && msg.count == 1 && msg.status == ZSTATE_SESSION_END_COMPLETE);
    peer_expect_keys (rig->written, "k1 k3");
    peer_expect_ack (peer, &rig->reply, 4);
    //  D moved; P waits for the writer, which confirms the END's sequence
    assert (rig->reply.msg.persisted < 4);

    //  A duplicate BEGIN, then a gap: neither goes on
    rig_begin (peer, id, 2, PEER_DB, WRITTEN, ZSTATE_SESSION_VIEW);
    rig_end (peer, id, 6, PEER_DB, WRITTEN, 5, 0, ZSTATE_SESSION_END_COMPLETE);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.delivered == 4);
    rig_begin (peer, id, 5, PEER_DB, WRITTEN, ZSTATE_SESSION_VIEW);
    rig_end (peer, id, 6, PEER_DB, WRITTEN, 5, 0, ZSTATE_SESSION_END_ABANDONED);
    rig_copy (rig, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, 5, &msg);
    assert (msg.kind == ZSTATE_SESSION_VIEW);
    rig_copy (rig, ZSTATE_SESSION_MSG_SNAPSHOT_END, 6, &msg);
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
    rig_begin (peer, id, 7, PEER_DB, "NO_TABLE", ZSTATE_SESSION_SNAPSHOT);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_REJECT);
    assert (rig->reply.msg.sequence == 7);
    assert (rig->reply.msg.reason == ZSTATE_SESSION_REASON_UNROUTABLE);
    //  A table without a writer: straight to its consumer
    rig_begin (peer, id, 8, PEER_DB, TABLE, ZSTATE_SESSION_SNAPSHOT);
    rig_end (peer, id, 9, PEER_DB, TABLE, 8, 0, ZSTATE_SESSION_END_COMPLETE);
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
    zsock_t *peer = rig_peer_welcomed (rig, &session);
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
        rig_send_broken (peer, cases [index].msg, cases [index].offset, cases [index].value);
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
    rig_hello (rig, peer, zuuid_data (plain), 1, false, true);
    rig_begin (peer, zuuid_data (plain), 1, PEER_DB, TABLE, ZSTATE_SESSION_SNAPSHOT);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_REJECT);
    assert (rig->reply.msg.reason == ZSTATE_SESSION_REASON_TYPE);
    //  Without a session: NO_SESSION, as for OPS
    zuuid_t *stranger = zuuid_new ();
    rig_begin (peer, zuuid_data (stranger), 1, PEER_DB, TABLE, ZSTATE_SESSION_SNAPSHOT);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_REJECT);
    assert (rig->reply.msg.reason == ZSTATE_SESSION_REASON_NO_SESSION);
    zuuid_destroy (&stranger);
    zuuid_destroy (&plain);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  Count the log lines of two writers in log, and close it
static size_t
s_writer_logs (FILE *log)
{
    rewind (log);
    char line [512];
    size_t count = 0;
    while (fgets (line, sizeof (line), log))
        count += strstr (line, "two sessions write") != NULL;
    fclose (log);
    return count;
}

//  Two live sessions writing one table: counted once per change of
//  writer, by OPS and by BEGIN, and logged at most every 10 seconds; one
//  session alone never counts, nor a writer that was silent for 3 of its
//  heartbeats, nor the first writer of a table
static void
s_test_writers (rig_t *rig)
{
    FILE *log = tmpfile ();
    assert (log);
    zsys_set_logstream (log);
    int64_t start = zclock_mono ();
    zsock_t *peer = peer_new (rig->endpoint);
    zuuid_t *one = zuuid_new (), *two = zuuid_new ();
    rig_hello (rig, peer, zuuid_data (one), 1, true, true);
    rig_hello (rig, peer, zuuid_data (two), 1, true, true);
    peer_ops (peer, 2, zuuid_data (one), 1, TABLE, "a1", 0);
    peer_ops (peer, 2, zuuid_data (one), 2, TABLE, "a2", 0);
    peer_ops (peer, 2, zuuid_data (two), 1, TABLE, "b1", 0);
    peer_ops (peer, 2, zuuid_data (two), 2, TABLE, "b2", 0);
    rig_begin (peer, zuuid_data (one), 3, PEER_DB, TABLE, ZSTATE_SESSION_VIEW);
    peer_ops (peer, 2, zuuid_data (one), 4, TABLE, "a4", 0);
    peer_ops (peer, 2, zuuid_data (two), 3, TABLE, "b3", 0);
    peer_expect_keys (rig->ports, "a1 a2 b1 b2 a4 b3");
    zstate_server_stats_t stats;
    int rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.table_writers == 3);
    zsys_set_logstream (stderr);
    size_t logged = s_writer_logs (log);
    assert (logged >= 1 && logged <= 1 + (size_t) ((zclock_mono () - start) / 10000));
    //  The first writer of a table is no second one
    peer_ops (peer, 2, zuuid_data (two), 4, WRITTEN, "w4", 0);
    peer_expect_keys (rig->written, "w4");

    //  A writer whose client went quiet for 3 heartbeats is gone
    zuuid_t *brief = zuuid_new ();
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = zuuid_data (brief), .sequence = 1,
        .ack_level = ZSTATE_SESSION_ACK_DELIVERED, .heartbeat = 10
    };
    peer_send (peer, &hello);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_WELCOME);
    peer_ops (peer, 2, zuuid_data (brief), 1, TABLE, "c1", 0);
    peer_expect_keys (rig->ports, "c1");
    zclock_sleep (100);
    peer_ops (peer, 2, zuuid_data (one), 5, TABLE, "a5", 0);
    peer_expect_keys (rig->ports, "a5");
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    //  b3 -> c1 counted (two was alive), c1 -> a5 not
    assert (stats.table_writers == 4);
    zuuid_destroy (&brief);
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
    zsock_t *peer = rig_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    uint64_t sequence = 0;
    for (int window = 0; window < 50; window++) {
        uint64_t begin = ++sequence;
        rig_begin (peer, id, begin, PEER_DB, WRITTEN, ZSTATE_SESSION_SNAPSHOT);
        peer_ops (peer, 2, id, ++sequence, WRITTEN, "p", 0);
        rig_end (peer, id, ++sequence, PEER_DB, WRITTEN, begin, 1,
               ZSTATE_SESSION_END_COMPLETE);
    }
    zstate_server_stats_t stats;
    WAIT_STATS (rig->server, stats, stats.stalls > 0);
    for (uint64_t index = 1; index <= sequence; index++)
        rig_copy (rig, index % 3 == 2? ZSTATE_SESSION_MSG_OPS:
                     index % 3 == 1? ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN:
                                     ZSTATE_SESSION_MSG_SNAPSHOT_END, index, NULL);
    peer_expect_ack (peer, &rig->reply, sequence);
    WAIT_STATS (rig->server, stats, stats.windows_ended == 50);
    assert (stats.windows_begun == 50);
    zuuid_destroy (&session);
    zsock_destroy (&peer);
}

//  A marker at or below the restored watermark of its session is dropped
//  as delivered; above it, it is routed. Watchers get OPS only. An END
//  above it whose BEGIN was below ends a window the restart cut: its
//  session is asked for a snapshot of the table again.
static void
s_test_restored_markers (rig_t *rig)
{
    zuuid_t *one;
    zsock_t *peer = rig_peer_welcomed (rig, &one);
    zstate_server_link_t *link = zstate_server_link (rig->server);
    int rc = zstate_server_link_register (link, PEER_DB, "RESTORED_TABLE", "restored",
                                          rig->ports);
    assert (rc == 0);
    assert (rig_resyncs (rig, peer, zuuid_data (one), PEER_DB, "RESTORED_TABLE") == 1);
    int port = zstate_server_monitor (rig->server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *watcher = zsock_new (ZMQ_DEALER);
    assert (watcher);
    zsock_set_rcvtimeo (watcher, PEER_DEADLINE);
    rc = zsock_connect (watcher, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    char *command, *status, *reason;
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
    rig_begin (peer, zuuid_data (one), 1, PEER_DB, "RESTORED_TABLE", ZSTATE_SESSION_VIEW);
    rig_begin (peer, zuuid_data (one), 2, PEER_DB, "RESTORED_TABLE", ZSTATE_SESSION_VIEW);
    peer_ops (peer, 2, zuuid_data (one), 3, "RESTORED_TABLE", "watched", 0);
    peer_expect_ack (peer, &rig->reply, 3);
    zstate_server_stats_t stats;
    rc = zstate_server_stats (rig->server, &stats);
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
    rig_end (peer, zuuid_data (one), 4, PEER_DB, "RESTORED_TABLE", 1, 2,
             ZSTATE_SESSION_END_COMPLETE);
    rig_end (peer, zuuid_data (one), 5, PEER_DB, "RESTORED_TABLE", 2, 1,
             ZSTATE_SESSION_END_COMPLETE);
    assert (rig_resyncs (rig, peer, zuuid_data (one), PEER_DB, "RESTORED_TABLE") == 1);
    rc = zstate_server_stats (rig->server, &stats);
    assert (rc == 0);
    assert (stats.windows_ended == 2 && stats.restored_drops == 1);
    rc = zstate_server_link_unregister (link, PEER_DB, "RESTORED_TABLE", "restored");
    assert (rc == 0);
    zstate_server_link_release (&link);
    zuuid_destroy (&one);
    zsock_destroy (&peer);
}

void
zstate_server_markers_suite_test (bool verbose)
{
    printf (" * zstate_server_markers_suite: ");
    if (verbose)
        printf ("\n");
    rig_run (s_test_markers, verbose);
    rig_run (s_test_hostile, verbose);
    rig_run (s_test_writers, verbose);
    rig_run (s_test_parked, verbose);
    rig_run (s_test_restored_markers, verbose);
    printf ("OK\n");
}
