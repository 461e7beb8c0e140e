/*  =========================================================================
    zstate_consumer_window_suite - windows end to end: raw version 2 peers
    send views and snapshots through a real server, and the consumer's
    application sees them replace the table, what another session wrote
    included

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_peer.h"
#include "zstate_server_resync_rig.h"
#include <poll.h>

//  Pop count operations, waiting on the fd while none is pending, each
//  batch as resyncing says; append them as "SET key" or "DEL key" to text
static void
s_collect (zstate_consumer_t *consumer, zstate_batch_t *batch, size_t count,
           bool resyncing, zlistx_t *text)
{
    int64_t deadline = zclock_mono () + PEER_DEADLINE;
    size_t got = 0;
    while (got < count) {
        assert (zclock_mono () < deadline);
        if (zstate_consumer_pending (consumer) == 0) {
            struct pollfd item = { zstate_consumer_fd (consumer), POLLIN, 0 };
            poll (&item, 1, 100);
            continue;
        }
        size_t popped = zstate_consumer_pops (consumer, batch, count - got);
        if (popped)
            assert (zstate_consumer_resyncing (consumer) == resyncing);
        for (size_t index = 0; index < popped; index++) {
            char line [64];
            snprintf (line, sizeof (line), "%s %s",
                      zstate_batch_op (batch, index) == ZSTATE_OP_DEL? "DEL": "SET",
                      zstate_batch_key (batch, index, NULL));
            zlistx_add_end (text, strdup (line));
        }
        got += popped;
    }
}

//  The lines of text, sorted when sort says, as one string
static char *
s_lines (zlistx_t *text, bool sort)
{
    if (sort)
        zlistx_sort (text);
    char joined [512] = "";
    for (char *line = (char *) zlistx_first (text); line; line = (char *) zlistx_next (text)) {
        if (*joined)
            strcat (joined, ", ");
        strcat (joined, line);
    }
    zlistx_purge (text);
    return strdup (joined);
}

//  A list of popped lines for s_collect
static zlistx_t *
s_text_new (void)
{
    zlistx_t *text = zlistx_new ();
    zlistx_set_destructor (text, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (text, (zlistx_comparator_fn *) strcmp);
    return text;
}

static void
s_check (zlistx_t *text, bool sort, const char *expected)
{
    char *lines = s_lines (text, sort);
    if (strneq (lines, expected))
        zsys_error ("got '%s', expected '%s'", lines, expected);
    assert (streq (lines, expected));
    free (lines);
}

//  Three keys, then a view that re-asserts one: the other two reach the
//  application as DELs, in a batch of their own, before what came after
//  the view; then the consumer asks for snapshots and the peer hears it
static void
s_test_view (rig_t *rig)
{
    zuuid_t *session = NULL;
    zsock_t *peer = rig_peer_welcomed (rig, &session);
    const byte *id = zuuid_data (session);
    zstate_batch_t *batch = zstate_batch_new ();
    zlistx_t *text = s_text_new ();
    peer_ops (peer, 2, id, 1, TABLE, "k1", 0);
    peer_ops (peer, 2, id, 2, TABLE, "k2", 0);
    peer_ops (peer, 2, id, 3, TABLE, "k3", 0);
    s_collect (rig->ports, batch, 3, false, text);
    s_check (text, false, "SET k1, SET k2, SET k3");

    rig_begin (peer, id, 4, PEER_DB, TABLE, ZSTATE_SESSION_VIEW);
    peer_ops (peer, 2, id, 5, TABLE, "k1", 0);
    rig_end (peer, id, 6, PEER_DB, TABLE, 4, 1, ZSTATE_SESSION_END_COMPLETE);
    peer_ops (peer, 2, id, 7, TABLE, "k4", 0);
    s_collect (rig->ports, batch, 1, true, text);
    s_check (text, false, "SET k1");
    s_collect (rig->ports, batch, 2, true, text);
    s_check (text, true, "DEL k2, DEL k3");
    s_collect (rig->ports, batch, 1, false, text);
    s_check (text, false, "SET k4");
    zstate_consumer_stats_t stats;
    zstate_consumer_stats (rig->ports, &stats);
    assert (stats.windows == 1 && stats.windows_completed == 1);
    assert (stats.swept == 2 && stats.keys == 2);
    assert (stats.messages == 7 && stats.ops == 5 && stats.popped == 7);

    //  A view whose producer dies before its END deletes nothing
    rig_begin (peer, id, 8, PEER_DB, TABLE, ZSTATE_SESSION_VIEW);
    peer_ops (peer, 2, id, 9, TABLE, "k4", 0);
    s_collect (rig->ports, batch, 1, true, text);
    s_check (text, false, "SET k4");
    zsock_destroy (&peer);
    zstate_consumer_stats (rig->ports, &stats);
    assert (stats.keys == 2 && stats.swept == 2);

    //  The consumer asks for snapshots: the server sends RESYNC of the table
    zuuid_t *other = NULL;
    peer = rig_peer_welcomed (rig, &other);
    assert (zstate_consumer_resync (rig->ports) == 0);
    assert (rig_resyncs (rig, peer, zuuid_data (other), PEER_DB, TABLE) == 1);
    zsock_destroy (&peer);
    zuuid_destroy (&other);
    zlistx_destroy (&text);
    zstate_batch_destroy (&batch);
    zuuid_destroy (&session);
}

//  Two sessions write disjoint keys of one table. A window replaces the
//  whole table whoever opened it: at its COMPLETE END every key held that
//  no operation of the table inside the window wrote goes, the other
//  session's included (one writer per table, doc/protocol.md section 16);
//  and a second window opened before the first ended abandons it, so
//  what the first sent before the second's BEGIN goes too
static void
s_test_two_writers (rig_t *rig)
{
    zuuid_t *first = NULL, *second = NULL, *restarted = NULL;
    zsock_t *a = rig_peer_welcomed (rig, &first);
    zsock_t *b = rig_peer_welcomed (rig, &second);
    const byte *ida = zuuid_data (first), *idb = zuuid_data (second);
    zstate_batch_t *batch = zstate_batch_new ();
    zlistx_t *text = s_text_new ();
    peer_ops (a, 2, ida, 1, TABLE, "a1", 0);
    peer_ops (a, 2, ida, 2, TABLE, "a2", 0);
    s_collect (rig->ports, batch, 2, false, text);
    peer_ops (b, 2, idb, 1, TABLE, "b1", 0);
    peer_ops (b, 2, idb, 2, TABLE, "b2", 0);
    s_collect (rig->ports, batch, 2, false, text);
    s_check (text, false, "SET a1, SET a2, SET b1, SET b2");

    //  The first producer restarts (a new session) and sends a snapshot
    //  of a1; b1 is written inside it, b2 is not
    zsock_destroy (&a);
    a = rig_peer_welcomed (rig, &restarted);
    const byte *idr = zuuid_data (restarted);
    rig_begin (a, idr, 1, PEER_DB, TABLE, ZSTATE_SESSION_SNAPSHOT);
    peer_ops (a, 2, idr, 2, TABLE, "a1", 0);
    s_collect (rig->ports, batch, 1, true, text);
    peer_ops (b, 2, idb, 3, TABLE, "b1", 0);
    s_collect (rig->ports, batch, 1, true, text);
    rig_end (a, idr, 3, PEER_DB, TABLE, 1, 1, ZSTATE_SESSION_END_COMPLETE);
    s_collect (rig->ports, batch, 2, true, text);
    s_check (text, true, "DEL a2, DEL b2, SET a1, SET b1");
    zstate_server_stats_t server;
    zstate_server_stats (rig->server, &server);
    assert (server.table_writers >= 1);

    //  Both answer one RESYNC: the second BEGIN abandons the first window,
    //  and its END sweeps a1, which the first sent before it
    rig_begin (a, idr, 4, PEER_DB, TABLE, ZSTATE_SESSION_SNAPSHOT);
    peer_ops (a, 2, idr, 5, TABLE, "a1", 0);
    s_collect (rig->ports, batch, 1, true, text);
    rig_begin (b, idb, 4, PEER_DB, TABLE, ZSTATE_SESSION_SNAPSHOT);
    peer_ops (b, 2, idb, 5, TABLE, "b1", 0);
    s_collect (rig->ports, batch, 1, true, text);
    rig_end (b, idb, 6, PEER_DB, TABLE, 4, 1, ZSTATE_SESSION_END_COMPLETE);
    s_collect (rig->ports, batch, 1, true, text);
    //  The first's END matches nothing; a3 after it on its connection
    //  says when it was taken
    rig_end (a, idr, 6, PEER_DB, TABLE, 4, 1, ZSTATE_SESSION_END_COMPLETE);
    peer_ops (a, 2, idr, 7, TABLE, "a3", 0);
    s_collect (rig->ports, batch, 1, false, text);
    s_check (text, false, "SET a1, SET b1, DEL a1, SET a3");
    zstate_consumer_stats_t stats;
    zstate_consumer_stats (rig->ports, &stats);
    assert (stats.windows == 3 && stats.windows_completed == 2);
    assert (stats.windows_abandoned == 1 && stats.windows_ignored == 1);
    assert (stats.keys == 2 && stats.swept == 3);
    zsock_destroy (&a);
    zsock_destroy (&b);
    zlistx_destroy (&text);
    zstate_batch_destroy (&batch);
    zuuid_destroy (&first);
    zuuid_destroy (&second);
    zuuid_destroy (&restarted);
}

void
zstate_consumer_window_suite (bool verbose)
{
    rig_run (s_test_view, verbose);
    rig_run (s_test_two_writers, verbose);
}
