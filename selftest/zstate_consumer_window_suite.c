/*  =========================================================================
    zstate_consumer_window_suite - a window end to end: a raw version 2
    peer sends a view through a real server, and the consumer's
    application sees it replace the table

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
    zlistx_t *text = zlistx_new ();
    zlistx_set_destructor (text, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (text, (zlistx_comparator_fn *) strcmp);
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

void
zstate_consumer_window_suite (bool verbose)
{
    rig_run (s_test_view, verbose);
}
