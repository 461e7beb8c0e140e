/*  =========================================================================
    zstate_client_resync_suite - the client's state resync against the
    scripted server: views, snapshots on RESYNC, their order against live
    sends, the feature not granted, markers in the outbox

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_fake.h"

//  The next message that is not a PING or HELLO
static void
s_next (fake_t *fake)
{
    while (true) {
        bool received = fake_recv (fake, 0, WAIT);
        assert (received);
        if (fake->msg.type != ZSTATE_SESSION_MSG_PING
        &&  fake->msg.type != ZSTATE_SESSION_MSG_PONG
        &&  fake->msg.type != ZSTATE_SESSION_MSG_HELLO)
            return;
    }
}

//  Expect a SNAPSHOT-BEGIN of kind for db/table next; returns its sequence
static uint64_t
s_expect_begin (fake_t *fake, int kind)
{
    s_next (fake);
    assert (fake->msg.type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN);
    assert (fake->msg.kind == kind);
    assert (streq (fake->msg.db, "db") && streq (fake->msg.table, "table"));
    return fake->msg.sequence;
}

//  The operations of the OPS just received, loaded into batch
static void
s_load (fake_t *fake, zstate_batch_t *batch)
{
    assert (fake->msg.type == ZSTATE_SESSION_MSG_OPS);
    zstate_batch_reset (batch);
    int rc = zstate_batch_load (batch, fake->msg.ops, fake->msg.ops_size,
                                fake->msg.op_count, NULL);
    assert (rc == 0);
}

//  Receive OPS until they hold ops operations; returns the last sequence
static uint64_t
s_expect_ops (fake_t *fake, size_t ops)
{
    size_t received = 0;
    while (received < ops) {
        s_next (fake);
        assert (fake->msg.type == ZSTATE_SESSION_MSG_OPS);
        received += fake->msg.op_count;
    }
    assert (received == ops);
    return fake->msg.sequence;
}

//  Expect SNAPSHOT-END of the window begun at begin next
static void
s_expect_end (fake_t *fake, uint64_t begin, uint64_t count, int status)
{
    s_next (fake);
    assert (fake->msg.type == ZSTATE_SESSION_MSG_SNAPSHOT_END);
    assert (fake->msg.begin == begin);
    assert (fake->msg.count == count);
    assert (fake->msg.status == status);
}

//  The scripted server (granting RESYNC when resync), a client of it
//  (WELCOMEd when welcome) with a queue bound of queue_ops operations
//  (0: the default), and one producer table of db/table
static zstate_client_t *
s_setup (fake_t **fake_p, bool resync, bool welcome, size_t queue_ops,
         zstate_producer_t **producer_p, bool verbose)
{
    *fake_p = fake_new ();
    (*fake_p)->features = resync? ZSTATE_SESSION_FEATURE_RESYNC: 0;
    zstate_client_t *client = fake_client_new (*fake_p, welcome, HEARTBEAT, verbose);
    if (queue_ops)
        zstate_client_set_queue (client, queue_ops, 1 << 20);
    *producer_p = zstate_producer_new (client, "db", "table");
    return client;
}

static void
s_teardown (fake_t **fake_p, zstate_client_t **client_p, zstate_producer_t **producer_p)
{
    zstate_producer_destroy (producer_p);
    zstate_client_destroy (client_p);
    fake_destroy (fake_p);
}

static bool
s_one_resync (zstate_client_stats_t *stats)
{
    return stats->resyncs == 1;
}

static bool
s_one_dropped (zstate_client_stats_t *stats)
{
    return stats->windows_dropped == 1;
}

//  A view goes BEGIN, its operations, END with their count, in stream
//  order; end_view without begin_view and begin_view twice are EINVAL;
//  after a WELCOME that lacks them the markers go again, unchanged
static void
s_test_view (bool verbose)
{
    fake_t *fake = fake_new ();
    fake->features = ZSTATE_SESSION_FEATURE_RESYNC;
    zstate_client_t *client = fake_client_new (fake, true, HEARTBEAT, verbose);
    assert (fake->offered & ZSTATE_SESSION_FEATURE_RESYNC);
    zstate_producer_t *producer = zstate_producer_new (client, "db", "table");
    assert (zstate_producer_end_view (producer) == -1 && errno == EINVAL);
    assert (zstate_producer_begin_view (producer) == 0);
    assert (zstate_producer_begin_view (producer) == -1 && errno == EINVAL);
    assert (strstr (zstate_reason (), "open already"));
    assert (zstate_producer_set (producer, "a", "f", "1", NULL) == 0);
    assert (zstate_producer_del (producer, "b") == 0);
    assert (zstate_producer_end_view (producer) == 0);
    assert (zstate_producer_end_view (producer) == -1 && errno == EINVAL);

    uint64_t begin = s_expect_begin (fake, ZSTATE_SESSION_VIEW);
    assert (begin == 1);
    uint64_t last = s_expect_ops (fake, 2);
    s_expect_end (fake, begin, 2, ZSTATE_SESSION_END_COMPLETE);
    assert (fake->msg.sequence == last + 1);

    //  The server lost all of it: everything goes again, in order
    fake_welcome (fake, 0);
    assert (s_expect_begin (fake, ZSTATE_SESSION_VIEW) == 1);
    assert (s_expect_ops (fake, 2) == last);
    s_expect_end (fake, begin, 2, ZSTATE_SESSION_END_COMPLETE);
    fake_ack (fake, last + 1);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.views == 1 && stats.windows_dropped == 0);

    //  A producer destroyed in a view ends it ABANDONED
    assert (zstate_producer_begin_view (producer) == 0);
    zstate_producer_destroy (&producer);
    begin = s_expect_begin (fake, ZSTATE_SESSION_VIEW);
    s_expect_end (fake, begin, 0, ZSTATE_SESSION_END_ABANDONED);
    fake_ack (fake, fake->msg.sequence);
    zstate_client_destroy (&client);
    fake_destroy (&fake);
}

//  A server that does not grant the feature gets no markers: the view's
//  operations go, the window is counted dropped, an event says so. The
//  same when the client does not offer it, even to a server that would
//  grant it.
static void
s_test_not_granted (bool verbose, bool offered)
{
    fake_t *fake = fake_new ();
    fake->features = offered? 0: ZSTATE_SESSION_FEATURE_RESYNC;
    zstate_client_t *client = zstate_client_new ();
    memcpy (fake->expected, client->session, ZSTATE_MSG_SESSION_SIZE);
    zstate_client_set_verbose (client, verbose);
    assert (zstate_client_set_resync (client, offered) == 0);
    assert (zstate_client_connect (client, fake->endpoint) == 0);
    assert (zstate_client_set_resync (client, true) == -1 && errno == EBUSY);
    assert (fake_recv (fake, ZSTATE_SESSION_MSG_HELLO, WAIT));
    assert ((fake->msg.features & ZSTATE_SESSION_FEATURE_RESYNC)
            == (offered? ZSTATE_SESSION_FEATURE_RESYNC: 0));
    assert (fake->msg.features & ZSTATE_SESSION_FEATURE_REPLAY);
    fake_welcome (fake, 0);
    zstate_producer_t *producer = zstate_producer_new (client, "db", "table");
    assert (zstate_producer_begin_view (producer) == 0);
    assert (zstate_producer_set (producer, "a", "f", "1", NULL) == 0);
    assert (zstate_producer_end_view (producer) == 0);
    s_next (fake);
    assert (fake->msg.type == ZSTATE_SESSION_MSG_OPS && fake->msg.sequence == 1);
    zstate_client_stats_t stats;
    fake_wait_stats (client, &stats, s_one_dropped);
    char detail [256];
    assert (fake_event (client, "WINDOW", detail, sizeof (detail)));
    assert (strstr (detail, "not granted"));
    fake_ack (fake, 1);
    assert (zstate_client_flush (client, WAIT) == 0);
    s_teardown (&fake, &client, &producer);
}

//  A marker the server refuses is reported like a refused OPS: a REJECT
//  event naming the marker and its table, counted; a REJECT of one
//  already gone reports nothing
static void
s_reject (fake_t *fake, uint64_t sequence)
{
    zstate_session_msg_t reject = { .type = ZSTATE_SESSION_MSG_REJECT };
    reject.sequence = sequence;
    reject.reason = ZSTATE_SESSION_REASON_UNROUTABLE;
    reject.text = "no consumer for db/table";
    reject.text_size = strlen (reject.text);
    fake_send (fake, &reject);
}

static void
s_test_marker_rejected (bool verbose)
{
    fake_t *fake;
    zstate_producer_t *producer;
    zstate_client_t *client = s_setup (&fake, true, true, 0, &producer, verbose);
    assert (zstate_producer_begin_view (producer) == 0);
    assert (zstate_producer_set (producer, "a", "f", "1", NULL) == 0);
    assert (zstate_producer_end_view (producer) == 0);
    uint64_t begin = s_expect_begin (fake, ZSTATE_SESSION_VIEW);
    uint64_t last = s_expect_ops (fake, 1);
    s_expect_end (fake, begin, 1, ZSTATE_SESSION_END_COMPLETE);
    uint64_t end = fake->msg.sequence;
    char detail [512];
    s_reject (fake, begin);
    assert (fake_event (client, "REJECT", detail, sizeof (detail)));
    assert (streq (detail, "1 20 no consumer for db/table; SNAPSHOT-BEGIN VIEW db table"));
    fake_ack (fake, last);
    s_reject (fake, begin);     //  gone: no event, not counted
    s_reject (fake, end);
    assert (fake_event (client, "REJECT", detail, sizeof (detail)));
    assert (streq (detail, "3 20 no consumer for db/table; SNAPSHOT-END COMPLETE db table"));
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.windows_rejected == 2 && stats.rejects == 2);
    assert (stats.ops_refused == 0 && stats.ops_acked == 1);
    s_teardown (&fake, &client, &producer);
}

//  The scripted server's view of the table: each key's last value, which
//  must never go back
#define KEYS            300

typedef struct {
    fake_t *fake;
    zstate_client_t *client;
    zstate_producer_t *producer;
    zstate_batch_t *batch;
    int sent [KEYS];            //  Last value sent for each key
    int seen [KEYS];            //  Last value the server saw
    int counter;                //  Values only grow
    size_t regressions;
} table_t;

static void
s_table_send (table_t *self, int key)
{
    char name [16], value [16];
    snprintf (name, sizeof (name), "k%d", key);
    snprintf (value, sizeof (value), "%d", ++self->counter);
    int rc = zstate_producer_set (self->producer, name, "v", value, NULL);
    assert (rc == 0);
    self->sent [key] = self->counter;
}

//  Check the OPS just received against what the server saw before;
//  returns its operations
static size_t
s_table_check (table_t *self)
{
    s_load (self->fake, self->batch);
    size_t count = zstate_batch_size (self->batch);
    for (size_t index = 0; index < count; index++) {
        int key = atoi (zstate_batch_key (self->batch, index, NULL) + 1);
        assert (key >= 0 && key < KEYS);
        int value = atoi (zstate_batch_get (self->batch, index, "v"));
        if (value < self->seen [key])
            self->regressions++;
        self->seen [key] = value;
    }
    return count;
}

static void
s_table_new (table_t *self, bool verbose)
{
    memset (self, 0, sizeof (*self));
    self->fake = fake_new ();
    self->fake->features = ZSTATE_SESSION_FEATURE_RESYNC;
    self->client = fake_client_new (self->fake, true, HEARTBEAT, verbose);
    //  A snapshot may use half of 400 held: 200 entries, then it waits
    zstate_client_set_queue (self->client, 400, 1 << 20);
    zstate_client_set_batch (self->client, 10, 64 * 1024);
    self->producer = zstate_producer_new (self->client, "db", "table");
    self->batch = zstate_batch_new ();
    assert (zstate_producer_set_mirror (self->producer, 1000) == 0);
}

//  Fill KEYS keys, 100 at a time, acknowledged
static void
s_table_fill (table_t *self)
{
    for (int key = 0; key < KEYS; key++) {
        s_table_send (self, key);
        if (key % 100 == 99) {
            size_t ops = 0;
            while (ops < 100) {
                s_next (self->fake);
                ops += s_table_check (self);
            }
            fake_ack (self->fake, self->fake->msg.sequence);
        }
    }
}

static void
s_table_destroy (table_t *self)
{
    zstate_batch_destroy (&self->batch);
    zstate_producer_destroy (&self->producer);
    zstate_client_destroy (&self->client);
    fake_destroy (&self->fake);
}

//  A RESYNC before the mirror sent anything is ignored; then a snapshot,
//  with live updates of the same keys sent while it runs, at least 5 of
//  them inside the window: no key's value ever goes back at the server,
//  the END counts each key once, and two more RESYNCs while it runs give
//  exactly one more snapshot
static void
s_test_snapshot (bool verbose)
{
    table_t table;
    s_table_new (&table, verbose);
    fake_t *fake = table.fake;
    zstate_client_stats_t stats;
    fake_resync (fake, "db", "table");
    fake_wait_stats (table.client, &stats, s_one_resync);
    s_table_fill (&table);
    assert (zstate_client_flush (table.client, WAIT) == 0);
    zstate_client_stats (table.client, &stats);
    assert (stats.mirror_keys == KEYS && stats.snapshots == 0);

    fake_resync (fake, "db", "table");
    fake_resync (fake, "db", "table");
    fake_resync (fake, "", "");
    size_t ends = 0, in_window = 0, live_inside = 0;
    uint64_t begin = 0;
    while (ends < 2) {
        s_next (fake);
        if (fake->msg.type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN) {
            assert (!begin && fake->msg.kind == ZSTATE_SESSION_SNAPSHOT);
            begin = fake->msg.sequence;
            in_window = 0;
            continue;
        }
        if (fake->msg.type == ZSTATE_SESSION_MSG_SNAPSHOT_END) {
            assert (begin && fake->msg.begin == begin);
            assert (fake->msg.status == ZSTATE_SESSION_END_COMPLETE);
            //  Each key once: the live updates change no key set
            assert (fake->msg.count == KEYS);
            assert (in_window >= KEYS + live_inside);
            begin = 0;
            ends++;
            fake_ack (fake, fake->msg.sequence);
            continue;
        }
        in_window += s_table_check (&table);
        //  200 entries at most went unacknowledged: the snapshot is not
        //  all out, so what we send now comes before its END
        if (ends == 0 && in_window >= 100 && !live_inside) {
            for (int key = 0; key < 5; key++)
                s_table_send (&table, key * 37);
            live_inside = 5;
        }
        else
        if (live_inside)
            s_table_send (&table, randof (KEYS));
        fake_ack (fake, fake->msg.sequence);
    }
    //  Nothing more than the live updates: one more snapshot, not two
    s_table_send (&table, 1);
    while (memcmp (table.seen, table.sent, sizeof (table.sent))) {
        s_next (fake);
        assert (fake->msg.type == ZSTATE_SESSION_MSG_OPS);
        s_table_check (&table);
        fake_ack (fake, fake->msg.sequence);
    }
    assert (zstate_client_flush (table.client, WAIT) == 0);
    assert (table.regressions == 0);
    zstate_client_stats (table.client, &stats);
    assert (stats.snapshots == 2 && stats.snapshot_entries == 2 * KEYS);
    assert (stats.resyncs == 4);
    if (verbose)
        printf ("   snapshot: %zu live updates interleaved, no regression\n",
                (size_t) table.counter - KEYS);
    s_table_destroy (&table);
}

//  A view abandons a running snapshot before its BEGIN; a RESYNC in the
//  view is answered after end_view, from the mirror the view pruned
static void
s_test_view_over_snapshot (bool verbose)
{
    table_t table;
    s_table_new (&table, verbose);
    fake_t *fake = table.fake;
    s_table_fill (&table);
    fake_resync (fake, "db", "table");
    uint64_t snapshot = s_expect_begin (fake, ZSTATE_SESSION_SNAPSHOT);
    //  The snapshot waits for room before it is all out
    size_t entries = 0;
    while (entries < 100) {
        s_next (fake);
        entries += s_table_check (&table);
    }
    assert (zstate_producer_begin_view (table.producer) == 0);
    for (int key = 0; key < 10; key++)
        s_table_send (&table, key);
    fake_resync (fake, "", "");
    zstate_client_stats_t stats;
    for (int attempt = 0; attempt < WAIT / 10; attempt++) {
        zstate_client_stats (table.client, &stats);
        if (stats.resyncs == 2)
            break;
        zclock_sleep (10);
    }
    assert (stats.resyncs == 2);
    assert (zstate_producer_end_view (table.producer) == 0);
    zstate_client_stats (table.client, &stats);
    assert (stats.mirror_keys == 10 && stats.snapshots_abandoned == 1);
    //  What the snapshot had queued, then its END
    while (true) {
        s_next (fake);
        if (fake->msg.type != ZSTATE_SESSION_MSG_OPS)
            break;
        entries += s_table_check (&table);
    }
    assert (fake->msg.type == ZSTATE_SESSION_MSG_SNAPSHOT_END);
    assert (fake->msg.begin == snapshot && fake->msg.count == entries);
    assert (fake->msg.status == ZSTATE_SESSION_END_ABANDONED);
    uint64_t view = s_expect_begin (fake, ZSTATE_SESSION_VIEW);
    s_expect_ops (fake, 10);
    s_expect_end (fake, view, 10, ZSTATE_SESSION_END_COMPLETE);
    fake_ack (fake, fake->msg.sequence);
    snapshot = s_expect_begin (fake, ZSTATE_SESSION_SNAPSHOT);
    s_expect_ops (fake, 10);
    s_expect_end (fake, snapshot, 10, ZSTATE_SESSION_END_COMPLETE);
    fake_ack (fake, fake->msg.sequence);
    assert (zstate_client_flush (table.client, WAIT) == 0);
    s_table_destroy (&table);
}

//  The mirror's bound refuses a send whole, counted, nothing queued
static void
s_test_mirror_bound (bool verbose)
{
    fake_t *fake;
    zstate_producer_t *producer;
    zstate_client_t *client = s_setup (&fake, true, true, 0, &producer, verbose);
    assert (zstate_producer_set_mirror (producer, 2) == 0);
    assert (zstate_producer_set (producer, "a", NULL) == 0);
    const char *keys [] = { "b", "c" };
    assert (zstate_producer_batch_set (producer, 2, keys, NULL) == -1);
    assert (errno == ENOBUFS && strstr (zstate_reason (), "mirror full"));
    assert (zstate_producer_del (producer, "a") == 0);
    assert (zstate_producer_batch_set (producer, 2, keys, NULL) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.mirror_refused == 2 && stats.ops_accepted == 4);
    assert (stats.mirror_keys == 2);
    //  Off: no bound, no keys
    assert (zstate_producer_set_mirror (producer, 0) == 0);
    assert (zstate_producer_set (producer, "d", NULL) == 0);
    zstate_client_stats (client, &stats);
    assert (stats.mirror_keys == 0);
    uint64_t last = s_expect_ops (fake, 5);
    fake_ack (fake, last);
    assert (zstate_client_flush (client, WAIT) == 0);
    s_teardown (&fake, &client, &producer);
}

//  The outbox: coalescing stops at a marker, and a renumbering WELCOME
//  renumbers an END's begin with its BEGIN
static void
s_keep (zstate_outbox_t *outbox, zstate_session_msg_t *msg)
{
    zmq_msg_t frame;
    int rc = zstate_session_msg_encode_frame (msg, &frame);
    assert (rc == 0);
    zstate_outbox_keep (outbox, msg->sequence, &frame, msg->op_count,
                        msg->ops_size);
    zmq_msg_close (&frame);
}

static void
s_test_outbox_markers (void)
{
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    zstate_outbox_t *outbox = zstate_outbox_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    const char *keys = "abab";
    zstate_session_msg_t msg = { .session = session, .db = "db", .table = "table" };
    for (uint64_t sequence = 1; sequence <= 7; sequence++) {
        msg.sequence = sequence;
        msg.type = ZSTATE_SESSION_MSG_OPS;
        zstate_batch_reset (batch);
        char key [2] = { sequence == 6? 'c': keys [(sequence - 1) % 4], 0 };
        zstate_batch_set (batch, key, NULL);
        msg.ops = zstate_batch_data (batch);
        msg.ops_size = zstate_batch_bytes (batch);
        msg.op_count = 1;
        if (sequence == 5 || sequence == 7) {
            msg.type = sequence == 5? ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN:
                                      ZSTATE_SESSION_MSG_SNAPSHOT_END;
            msg.kind = ZSTATE_SESSION_VIEW;
            msg.begin = 5;
            msg.count = 1;
            msg.op_count = 0;
            msg.ops_size = 0;
        }
        s_keep (outbox, &msg);
    }
    assert (zstate_outbox_ops (outbox) == 5);
    assert (zstate_outbox_coalesce (outbox) == 4);
    assert (zstate_outbox_keys (outbox) == 2 && zstate_outbox_ops (outbox) == 3);
    //  The marker at the front folds nothing
    assert (zstate_outbox_coalesce (outbox) == 0);
    bool renumbered;
    zstate_outbox_welcome (outbox, 2, 0, session, 100, 1 << 20, &renumbered);
    assert (renumbered && zstate_outbox_last (outbox) == 6);
    assert (zstate_outbox_renumbered (outbox, 5) == 4);
    int types [] = { ZSTATE_SESSION_MSG_OPS, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN,
                     ZSTATE_SESSION_MSG_OPS, ZSTATE_SESSION_MSG_SNAPSHOT_END };
    for (uint64_t sequence = 3; sequence <= 6; sequence++) {
        zmq_msg_t frame;
        assert (zstate_outbox_next (outbox, sequence, &frame) == sequence);
        zstate_session_msg_t held;
        int rc = zstate_session_msg_decode (&held, zmq_msg_data (&frame),
                                            zmq_msg_size (&frame));
        assert (rc == 0 && held.type == types [sequence - 3]);
        assert (held.sequence == sequence);
        if (sequence == 3)
            assert (held.op_count == 2);
        if (sequence == 6)
            assert (held.begin == 4 && held.count == 1);
        zmq_msg_close (&frame);
    }
    assert (zstate_outbox_ack (outbox, 6) == 5);
    assert (zstate_outbox_size (outbox) == 0);
    zstate_batch_destroy (&batch);
    zstate_outbox_destroy (&outbox);
}

//  Queued operations fold, but never across a marker: before a WELCOME,
//  100 operations over 10 keys fold into one per key; those of the view
//  after them go as they were, all 30 inside the window
static void
s_test_fold_stops (bool verbose)
{
    fake_t *fake;
    zstate_producer_t *producer;
    zstate_client_t *client = s_setup (&fake, true, false, 50, &producer, verbose);
    for (int index = 0; index < 135; index++) {
        if (index == 100)
            assert (zstate_producer_begin_view (producer) == 0);
        if (index == 130)
            assert (zstate_producer_end_view (producer) == 0);
        char key [8], value [16];
        snprintf (key, sizeof (key), "k%d", index % 10);
        snprintf (value, sizeof (value), "%d", index);
        assert (zstate_producer_set (producer, key, "v", value, NULL) == 0);
    }
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.frames_coalesced > 0);
    fake_welcome (fake, 0);
    zstate_batch_t *batch = zstate_batch_new ();
    size_t before = 0, inside = 0, after = 0;
    int state = 0;              //  0 before the view, 1 in it, 2 after
    while (after < 5) {
        s_next (fake);
        if (fake->msg.type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN) {
            assert (state == 0 && fake->msg.kind == ZSTATE_SESSION_VIEW);
            state = 1;
            continue;
        }
        if (fake->msg.type == ZSTATE_SESSION_MSG_SNAPSHOT_END) {
            assert (state == 1 && fake->msg.count == 30 && inside == 30);
            state = 2;
            continue;
        }
        s_load (fake, batch);
        for (size_t index = 0; index < zstate_batch_size (batch); index++) {
            int value = atoi (zstate_batch_get (batch, index, "v"));
            if (state == 0)
                assert (value < 100 && ++before <= 10);
            else
            if (state == 1)
                assert (value == 100 + (int) inside++);
            else
                assert (value == 130 + (int) after++);
        }
    }
    fake_ack (fake, fake->msg.sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_batch_destroy (&batch);
    s_teardown (&fake, &client, &producer);
}

static bool
s_coalesced (zstate_client_stats_t *stats)
{
    return stats->frames_coalesced == 12;
}

//  A WELCOME that splits the coalesced block renumbers a view's BEGIN
//  already sent, and the view's END, sent after, names the new number
static void
s_test_renumbered_window (bool verbose)
{
    fake_t *fake;
    zstate_producer_t *producer;
    zstate_client_t *client = s_setup (&fake, true, true, 20, &producer, verbose);
    for (int index = 0; index < 12; index++) {
        assert (zstate_producer_set (producer, index % 2? "a": "b", NULL) == 0);
        fake_expect_ops (fake, (uint64_t) index + 1);
    }
    //  Over half the bound held: the heartbeat folds the 12 into 2 keys
    zstate_client_stats_t stats;
    fake_wait_stats (client, &stats, s_coalesced);
    assert (zstate_producer_begin_view (producer) == 0);
    assert (s_expect_begin (fake, ZSTATE_SESSION_VIEW) == 13);
    //  The server lost everything: the block goes as one message, 1, and
    //  the BEGIN becomes 2
    fake_welcome (fake, 0);
    assert (s_expect_ops (fake, 2) == 1);
    assert (s_expect_begin (fake, ZSTATE_SESSION_VIEW) == 2);
    assert (zstate_producer_end_view (producer) == 0);
    s_expect_end (fake, 2, 0, ZSTATE_SESSION_END_COMPLETE);
    assert (fake->msg.sequence == 3);
    fake_ack (fake, 3);
    assert (zstate_client_flush (client, WAIT) == 0);
    s_teardown (&fake, &client, &producer);
}

static bool
s_two_resyncs (zstate_client_stats_t *stats)
{
    return stats->resyncs == 2;
}

//  A mirror is established by a view that ended, empty or not, and no
//  longer once it is set again: a RESYNC then is ignored
static void
s_test_established (bool verbose)
{
    fake_t *fake;
    zstate_producer_t *producer;
    zstate_client_t *client = s_setup (&fake, true, true, 0, &producer, verbose);
    assert (zstate_producer_set_mirror (producer, 10) == 0);
    assert (zstate_producer_begin_view (producer) == 0);
    assert (zstate_producer_end_view (producer) == 0);
    uint64_t view = s_expect_begin (fake, ZSTATE_SESSION_VIEW);
    s_expect_end (fake, view, 0, ZSTATE_SESSION_END_COMPLETE);
    fake_resync (fake, "db", "table");
    uint64_t snapshot = s_expect_begin (fake, ZSTATE_SESSION_SNAPSHOT);
    s_expect_end (fake, snapshot, 0, ZSTATE_SESSION_END_COMPLETE);
    assert (zstate_producer_set_mirror (producer, 10) == 0);
    fake_resync (fake, "", "");
    zstate_client_stats_t stats;
    fake_wait_stats (client, &stats, s_two_resyncs);
    //  Nothing came of it: the next message is this operation
    assert (zstate_producer_set (producer, "a", NULL) == 0);
    s_next (fake);
    assert (fake->msg.type == ZSTATE_SESSION_MSG_OPS);
    fake_ack (fake, fake->msg.sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    assert (stats.snapshots == 1);
    s_teardown (&fake, &client, &producer);
}

//  Bounds smaller than a message: the snapshot goes an entry at a time,
//  and ends
static void
s_test_small_bounds (bool verbose)
{
    fake_t *fake;
    zstate_producer_t *producer;
    zstate_client_t *client = s_setup (&fake, true, true, 3, &producer, verbose);
    assert (zstate_producer_set_mirror (producer, 100) == 0);
    for (int key = 0; key < 10; key++) {
        char name [8];
        snprintf (name, sizeof (name), "k%d", key);
        assert (zstate_producer_set (producer, name, "v", "1", NULL) == 0);
        fake_ack (fake, s_expect_ops (fake, 1));
        assert (zstate_client_flush (client, WAIT) == 0);
    }
    fake_resync (fake, "db", "table");
    uint64_t begin = s_expect_begin (fake, ZSTATE_SESSION_SNAPSHOT);
    for (int entry = 0; entry < 10; entry++) {
        uint64_t sequence = s_expect_ops (fake, 1);
        fake_ack (fake, sequence);
    }
    s_expect_end (fake, begin, 10, ZSTATE_SESSION_END_COMPLETE);
    fake_ack (fake, fake->msg.sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    s_teardown (&fake, &client, &producer);
}

//  Against the real server: a consumer table that registers after the
//  producer wrote (its operations were refused, no route) gets the whole
//  table from the mirror, which the server asked for with RESYNC: 49
//  keys, each with its newest value, the deleted one absent
static void
s_test_late_consumer (bool verbose)
{
    zstate_server_t *server = zstate_server_new ();
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zstate_client_t *client = zstate_client_new ();
    zstate_client_set_verbose (client, verbose);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    assert (zstate_client_connect (client, endpoint) == 0);
    zstate_producer_t *producer = zstate_producer_new (client, "db", "table");
    assert (zstate_producer_set_mirror (producer, 100) == 0);
    for (int round = 0; round < 3; round++)
        for (int key = 0; key < 50; key++) {
            char name [8], value [16];
            snprintf (name, sizeof (name), "k%d", key);
            snprintf (value, sizeof (value), "%d", 100 * round + key);
            assert (zstate_producer_set (producer, name, "v", value, NULL) == 0);
        }
    assert (zstate_producer_hset (producer, "k7", "w", "x", NULL) == 0);
    assert (zstate_producer_del (producer, "k10") == 0);
    //  Refused for want of a route, and so done
    assert (zstate_client_flush (client, WAIT) == 0);

    zstate_consumer_t *consumer = zstate_consumer_new (server, "db", "table");
    assert (consumer);
    zstate_batch_t *batch = zstate_batch_new ();
    zhash_t *table = zhash_new ();
    zhash_autofree (table);
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    int64_t deadline = zclock_mono () + 6 * WAIT;
    while (zhash_size (table) < 49 && zclock_mono () < deadline) {
        zpoller_wait (poller, 100);
        zstate_batch_reset (batch);
        zstate_consumer_pops (consumer, batch, 0);
        for (size_t index = 0; index < zstate_batch_size (batch); index++) {
            assert (zstate_batch_op (batch, index) == ZSTATE_OP_SET);
            const char *key = zstate_batch_key (batch, index, NULL);
            zhash_update (table, key, (void *) zstate_batch_get (batch, index, "v"));
            if (streq (key, "k7"))
                assert (streq (zstate_batch_get (batch, index, "w"), "x"));
        }
    }
    assert (zhash_size (table) == 49 && !zhash_lookup (table, "k10"));
    for (int key = 0; key < 50; key++) {
        char name [8];
        snprintf (name, sizeof (name), "k%d", key);
        if (key != 10)
            assert (atoi ((char *) zhash_lookup (table, name)) == 200 + key);
    }
    assert (zstate_client_flush (client, WAIT) == 0);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.resyncs >= 1 && stats.snapshots >= 1);
    zpoller_destroy (&poller);
    zhash_destroy (&table);
    zstate_batch_destroy (&batch);
    zstate_producer_destroy (&producer);
    zstate_client_destroy (&client);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
}

void
zstate_client_resync_suite (bool verbose)
{
    s_test_outbox_markers ();
    s_test_view (verbose);
    s_test_not_granted (verbose, true);
    s_test_not_granted (verbose, false);
    s_test_marker_rejected (verbose);
    s_test_mirror_bound (verbose);
    s_test_small_bounds (verbose);
    s_test_fold_stops (verbose);
    s_test_renumbered_window (verbose);
    s_test_established (verbose);
    s_test_late_consumer (verbose);
    s_test_snapshot (verbose);
    s_test_view_over_snapshot (verbose);
}
