/*  =========================================================================
    zstate_inbox_window_suite - the inbox's windows: markers delivered as
    the server hands them on, popped against a model of what the
    application must hold, batch by batch

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_inbox.h"
#include "zstate_session_msg.h"

#define TEST_KEYS       150     //  keys of the model run
#define TEST_STEPS      6000    //  its deliveries

//  Deliver a marker of session (its first byte), as the server hands it on
static void
s_test_marker (zstate_inbox_t *inbox, int type, byte which, uint64_t sequence,
               uint64_t begin, int status)
{
    byte session [ZSTATE_MSG_SESSION_SIZE] = { which };
    zmq_msg_t msg;
    zstate_inbox_test_marker (&msg, "TEST_TABLE", type, session, sequence, begin, status);
    int rc = zstate_inbox_deliver (inbox, &msg, false);
    assert (rc == 0);
    zmq_msg_close (&msg);
}

//  Deliver batch as one OPS message, as the server hands it on (version 1)
static void
s_test_ops (zstate_inbox_t *inbox, zstate_batch_t *batch, byte which, uint64_t sequence)
{
    byte session [ZSTATE_MSG_SESSION_SIZE] = { which };
    zframe_t *frame = zstate_msg_encode (session, sequence, "APPL_DB", "TEST_TABLE", batch);
    assert (frame);
    zmq_msg_t msg;
    int rc = zmq_msg_init_size (&msg, zframe_size (frame));
    assert (rc == 0);
    memcpy (zmq_msg_data (&msg), zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    rc = zstate_inbox_deliver (inbox, &msg, false);
    assert (rc == 0);
    zmq_msg_close (&msg);
}

//  True when the inbox's fd is readable now
static bool
s_test_readable (zstate_inbox_t *inbox)
{
    return zstate_inbox_test_fd_readable (zstate_inbox_fd (inbox), 0);
}


//  --------------------------------------------------------------------------
//  The model run. The model applies every delivery at once, in order: the
//  table the application must hold, the keys the open window marked, and
//  the stream pops must give back, item by item: an operation (its op,
//  key, and whether it was inside a window), a marker (a batch never
//  spans one), or a sweep (the keys a COMPLETE END deletes).

typedef enum { ITEM_OP, ITEM_MARKER, ITEM_SWEEP } item_kind_t;

typedef struct {
    item_kind_t kind;
    int op;
    char key [16];
    bool in_window;
    zhashx_t *swept;            //  ITEM_SWEEP: keys not handed out yet
} item_t;

typedef struct {
    zstate_inbox_t *inbox;
    zhashx_t *table;            //  what the application must hold
    zhashx_t *marked;           //  keys the open window wrote
    zhashx_t *view;             //  what it was handed, applied
    zlistx_t *stream;           //  item_t, what pops must give back
    bool open;
    byte session;
    uint64_t begin, sequence;
    uint64_t windows, completed, abandoned, ignored, swept;
} test_model_t;

static void
s_item_destroy (void **item_p)
{
    item_t *item = (item_t *) *item_p;
    zhashx_destroy (&item->swept);
    free (item);
    *item_p = NULL;
}

static item_t *
s_item_new (test_model_t *model, item_kind_t kind)
{
    item_t *item = (item_t *) zmalloc (sizeof (item_t));
    assert (item);
    item->kind = kind;
    item->in_window = model->open;
    zlistx_add_end (model->stream, item);
    return item;
}

//  One OPS message of 1 to 4 random operations
static void
s_model_ops (test_model_t *model, zstate_batch_t *batch)
{
    zstate_batch_reset (batch);
    size_t count = 1 + randof (4);
    for (size_t index = 0; index < count; index++) {
        item_t *item = s_item_new (model, ITEM_OP);
        snprintf (item->key, sizeof (item->key), "key-%d", randof (TEST_KEYS));
        int choice = randof (10);
        item->op = choice < 3? ZSTATE_OP_DEL: choice < 7? ZSTATE_OP_SET: ZSTATE_OP_HSET;
        if (item->op == ZSTATE_OP_DEL) {
            zstate_batch_del (batch, item->key);
            zhashx_delete (model->table, item->key);
            zhashx_delete (model->marked, item->key);
        }
        else {
            zstate_batch_append (batch, item->op, item->key, strlen (item->key));
            zstate_batch_field (batch, "f", 1, "v", 1);
            zhashx_update (model->table, item->key, (void *) "");
            if (model->open)
                zhashx_update (model->marked, item->key, (void *) "");
        }
    }
    s_test_ops (model->inbox, batch, 1 + (byte) randof (2), ++model->sequence);
}

//  A BEGIN of a random session
static void
s_model_begin (test_model_t *model)
{
    s_item_new (model, ITEM_MARKER);
    model->abandoned += model->open;
    model->open = true;
    model->session = 1 + (byte) randof (2);
    model->begin = ++model->sequence;
    model->windows++;
    zhashx_purge (model->marked);
    s_test_marker (model->inbox, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, model->session,
                   model->begin, 0, 0);
}

//  An END: most for the open window, some of the other session or for
//  another BEGIN (they match nothing), a quarter abandoned
static void
s_model_end (test_model_t *model)
{
    byte session = randof (5) == 0? 3 - model->session: model->session;
    uint64_t sequence = model->sequence += 2;
    uint64_t begin = randof (5) == 0 || !model->begin? sequence - 1: model->begin;
    bool complete = randof (4) != 0;
    s_test_marker (model->inbox, ZSTATE_SESSION_MSG_SNAPSHOT_END, session,
                   sequence, begin, complete? ZSTATE_SESSION_END_COMPLETE
                                                   : ZSTATE_SESSION_END_ABANDONED);
    s_item_new (model, ITEM_MARKER);
    if (!model->open || session != model->session || begin != model->begin) {
        model->ignored++;
        return;
    }
    model->open = false;
    if (!complete) {
        model->abandoned++;
        return;
    }
    model->completed++;
    zhashx_t *swept = zhashx_new ();
    zlistx_t *keys = zhashx_keys (model->table);
    for (char *key = (char *) zlistx_first (keys); key; key = (char *) zlistx_next (keys))
        if (!zhashx_lookup (model->marked, key)) {
            zhashx_delete (model->table, key);
            zhashx_insert (swept, key, (void *) "");
        }
    zlistx_destroy (&keys);
    model->swept += zhashx_size (swept);
    if (zhashx_size (swept)) {
        item_t *item = s_item_new (model, ITEM_SWEEP);
        item->in_window = true;
        item->swept = swept;
    }
    else
        zhashx_destroy (&swept);
}

//  Check one operation of a sweep batch against the stream's head
static void
s_check_swept (test_model_t *model, zstate_batch_t *batch, size_t index)
{
    item_t *item = (item_t *) zlistx_first (model->stream);
    assert (item && item->kind == ITEM_SWEEP);
    const char *key = zstate_batch_key (batch, index, NULL);
    assert (zstate_batch_op (batch, index) == ZSTATE_OP_DEL);
    assert (zhashx_lookup (item->swept, key));
    zhashx_delete (item->swept, key);
    if (zhashx_size (item->swept) == 0)
        zlistx_delete (model->stream, zlistx_cursor (model->stream));
}

//  Pop once, at most max, and check the batch against the stream: the
//  operations in order, never across a marker, resyncing as the model
//  says. Returns the operations popped.
static size_t
s_model_pops (test_model_t *model, zstate_batch_t *batch, size_t max)
{
    size_t popped = zstate_inbox_pops (model->inbox, batch, max);
    assert (popped <= max && popped == zstate_batch_size (batch));
    bool resyncing = zstate_inbox_resyncing (model->inbox);
    //  The markers before the batch went with it
    item_t *item = (item_t *) zlistx_first (model->stream);
    while (item && item->kind == ITEM_MARKER) {
        zlistx_delete (model->stream, zlistx_cursor (model->stream));
        item = (item_t *) zlistx_first (model->stream);
    }
    bool sweep = item && item->kind == ITEM_SWEEP;
    for (size_t index = 0; index < popped; index++) {
        if (sweep) {
            s_check_swept (model, batch, index);
            assert (resyncing);
            continue;
        }
        item = (item_t *) zlistx_first (model->stream);
        assert (item && item->kind == ITEM_OP);
        assert (zstate_batch_op (batch, index) == item->op);
        assert (streq (zstate_batch_key (batch, index, NULL), item->key));
        assert (resyncing == item->in_window);
        zlistx_delete (model->stream, zlistx_cursor (model->stream));
    }
    //  Applied as an application would
    for (size_t index = 0; index < popped; index++) {
        const char *key = zstate_batch_key (batch, index, NULL);
        if (zstate_batch_op (batch, index) == ZSTATE_OP_DEL)
            zhashx_delete (model->view, key);
        else
            zhashx_update (model->view, key, (void *) "");
    }
    //  pops returns 0 only when nothing is pending; the fd says the same
    assert (popped > 0 || zstate_inbox_pending (model->inbox) == 0);
    assert (s_test_readable (model->inbox) == (zstate_inbox_pending (model->inbox) > 0));
    return popped;
}

//  Pop everything, then the view must be the model's table, key by key
static void
s_model_drain (test_model_t *model, zstate_batch_t *batch)
{
    for (size_t round = 0; round < 100000 && zstate_inbox_pending (model->inbox); round++)
        s_model_pops (model, batch, 1 + randof (9));
    assert (zstate_inbox_pending (model->inbox) == 0);
    assert (zlistx_size (model->stream) == 0);
    assert (zhashx_size (model->view) == zhashx_size (model->table));
    for (void *value = zhashx_first (model->table); value; value = zhashx_next (model->table))
        assert (zhashx_lookup (model->view, zhashx_cursor (model->table)));
}

static void
s_test_model (void)
{
    zstate_batch_t *batch = zstate_batch_new ();
    test_model_t model;
    memset (&model, 0, sizeof (model));
    model.inbox = zstate_inbox_new ("APPL_DB/TEST_TABLE");
    model.table = zhashx_new ();
    model.marked = zhashx_new ();
    model.view = zhashx_new ();
    model.stream = zlistx_new ();
    zlistx_set_destructor (model.stream, s_item_destroy);
    for (size_t step = 0; step < TEST_STEPS; step++) {
        int choice = randof (20);
        if (choice == 0)
            s_model_begin (&model);
        else
        if (choice == 1)
            s_model_end (&model);
        else
            s_model_ops (&model, batch);
        if (randof (3) == 0)
            s_model_pops (&model, batch, 1 + randof (9));
        if (randof (200) == 0)
            s_model_drain (&model, batch);
    }
    s_model_drain (&model, batch);
    zstate_consumer_stats_t stats;
    zstate_inbox_stats (model.inbox, &stats);
    assert (stats.windows == model.windows);
    assert (stats.windows_completed == model.completed);
    assert (stats.windows_abandoned == model.abandoned);
    assert (stats.windows_ignored == model.ignored);
    assert (stats.swept == model.swept && stats.keys == zhashx_size (model.table));
    assert (stats.queued_ops == 0 && stats.queued_bytes == 0);
    //  The run saw every outcome
    assert (model.completed && model.abandoned && model.ignored && model.swept);
    zlistx_destroy (&model.stream);
    zhashx_destroy (&model.table);
    zhashx_destroy (&model.marked);
    zhashx_destroy (&model.view);
    zstate_inbox_destroy (&model.inbox);
    zstate_batch_destroy (&batch);
}


//  --------------------------------------------------------------------------
//  The cases one by one

//  A marker alone is pending: the fd is readable, pops consumes it and
//  returns 0, and the fd comes down
static void
s_test_marker_alone (zstate_batch_t *batch)
{
    zstate_inbox_t *inbox = zstate_inbox_new ("APPL_DB/TEST_TABLE");
    zsock_t *socket = zstate_inbox_socket (inbox);
    assert (!s_test_readable (inbox));
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, 1, 5, 0, 0);
    assert (s_test_readable (inbox));
    assert (zstate_inbox_test_sock_readable (socket, 5000));
    assert (zstate_inbox_pending (inbox) == 1);
    assert (zstate_inbox_pops (inbox, batch, 0) == 0);
    assert (!s_test_readable (inbox));
    assert (!zstate_inbox_test_sock_readable (socket, 0));
    assert (zstate_inbox_pending (inbox) == 0);
    //  Operations inside it are resyncing; the END alone is pending again
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "inside", NULL);
    s_test_ops (inbox, batch, 1, 6);
    assert (zstate_inbox_pops (inbox, batch, 0) == 1);
    assert (zstate_inbox_resyncing (inbox));
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_END, 1, 7, 5,
                   ZSTATE_SESSION_END_COMPLETE);
    assert (s_test_readable (inbox));
    assert (zstate_inbox_pops (inbox, batch, 0) == 0);
    assert (!zstate_inbox_resyncing (inbox));
    assert (!s_test_readable (inbox));
    zstate_consumer_stats_t stats;
    zstate_inbox_stats (inbox, &stats);
    assert (stats.messages == 3 && stats.ops == 1 && stats.popped == 1);
    assert (stats.windows == 1 && stats.windows_completed == 1 && stats.keys == 1);
    //  Its END counted one entry, and one came
    assert (stats.windows_short == 0);
    zstate_inbox_destroy (&inbox);
}

//  A sweep larger than one pops: its DELs come in batches of their own,
//  the fd stays up while they last, and what came after the END waits
static void
s_test_big_sweep (zstate_batch_t *batch)
{
    zstate_inbox_t *inbox = zstate_inbox_new ("APPL_DB/TEST_TABLE");
    zmq_msg_t msg;
    zstate_inbox_test_msg (&msg, "held", 0, 300);
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    assert (zstate_inbox_pops (inbox, batch, 1000) == 300);
    assert (!zstate_inbox_resyncing (inbox));
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, 1, 10, 0, 0);
    zstate_inbox_test_msg (&msg, "held", 0, 10);
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_END, 1, 12, 10,
                   ZSTATE_SESSION_END_COMPLETE);
    zstate_inbox_test_msg (&msg, "after", 0, 3);
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    //  The entries, the END (no operations of both sides in one batch)
    assert (zstate_inbox_pending (inbox) == 1 + 10 + 1 + 3);
    assert (zstate_inbox_pops (inbox, batch, 1000) == 10);
    assert (zstate_inbox_resyncing (inbox));
    zhashx_t *deleted = zhashx_new ();
    size_t swept = 0;
    while (swept < 290) {
        assert (s_test_readable (inbox));
        size_t popped = zstate_inbox_pops (inbox, batch, 128);
        assert (popped == (290 - swept < 128? 290 - swept: 128));
        assert (zstate_inbox_resyncing (inbox));
        for (size_t index = 0; index < popped; index++) {
            assert (zstate_batch_op (batch, index) == ZSTATE_OP_DEL);
            const char *key = zstate_batch_key (batch, index, NULL);
            int number = atoi (key + strlen ("held-"));
            assert (strncmp (key, "held-", 5) == 0 && number >= 10 && number < 300);
            assert (zhashx_insert (deleted, key, (void *) "") == 0);
        }
        swept += popped;
        //  Pending counts the DELs still to come, and what follows
        assert (zstate_inbox_pending (inbox) == 290 - swept + 3);
    }
    zhashx_destroy (&deleted);
    assert (zstate_inbox_pops (inbox, batch, 1000) == 3);
    assert (!zstate_inbox_resyncing (inbox));
    assert (zstate_inbox_test_key_is (batch, 0, "after", 0));
    assert (!s_test_readable (inbox));
    zstate_consumer_stats_t stats;
    zstate_inbox_stats (inbox, &stats);
    assert (stats.swept == 290 && stats.keys == 13);
    assert (stats.popped == 300 + 10 + 290 + 3);
    zstate_inbox_destroy (&inbox);
}

//  Hostile markers: ENDs of another session, for another BEGIN, with no
//  window open; a BEGIN that supersedes. Counted, nothing swept
static void
s_test_hostile (zstate_batch_t *batch)
{
    zstate_inbox_t *inbox = zstate_inbox_new ("APPL_DB/TEST_TABLE");
    zmq_msg_t msg;
    zstate_inbox_test_msg (&msg, "kept", 0, 5);
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_END, 1, 3, 2,
                   ZSTATE_SESSION_END_COMPLETE);      //  nothing open
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, 1, 4, 0, 0);
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_END, 2, 5, 4,
                   ZSTATE_SESSION_END_COMPLETE);      //  another session
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_END, 1, 6, 3,
                   ZSTATE_SESSION_END_COMPLETE);      //  another BEGIN
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, 2, 7, 0, 0);
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_END, 1, 8, 4,
                   ZSTATE_SESSION_END_COMPLETE);      //  superseded
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_END, 2, 9, 7,
                   ZSTATE_SESSION_END_ABANDONED);     //  closes, no sweep
    //  A marker the codec refuses (kind 3) is dropped at delivery
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    zstate_session_msg_t marker;
    memset (&marker, 0, sizeof (marker));
    marker.type = ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN;
    marker.session = session;
    marker.sequence = 10;
    marker.db = "APPL_DB";
    marker.table = "TEST_TABLE";
    marker.kind = ZSTATE_SESSION_SNAPSHOT;
    int rc = zstate_session_msg_encode_frame (&marker, &msg);
    assert (rc == 0);
    ((byte *) zmq_msg_data (&msg)) [zmq_msg_size (&msg) - 1] = 3;
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    //  And one cut short
    rc = zstate_session_msg_encode_frame (&marker, &msg);
    assert (rc == 0);
    zmq_msg_t cut;
    rc = zmq_msg_init_size (&cut, zmq_msg_size (&msg) - 1);
    assert (rc == 0);
    memcpy (zmq_msg_data (&cut), zmq_msg_data (&msg), zmq_msg_size (&cut));
    zmq_msg_close (&msg);
    assert (zstate_inbox_deliver (inbox, &cut, false) == 0);
    zmq_msg_close (&cut);
    assert (zstate_inbox_pending (inbox) == 5 + 7);
    for (size_t round = 0; round < 100 && zstate_inbox_pending (inbox); round++)
        zstate_inbox_pops (inbox, batch, 0);
    assert (zstate_inbox_pending (inbox) == 0);
    zstate_consumer_stats_t stats;
    zstate_inbox_stats (inbox, &stats);
    assert (stats.windows == 2 && stats.windows_ignored == 4);
    assert (stats.messages == 8);
    assert (stats.windows_abandoned == 2 && stats.windows_completed == 0);
    assert (stats.swept == 0 && stats.keys == 5);
    zstate_inbox_destroy (&inbox);
}

//  The sweep off: a complete window merges, and no keys are kept
static void
s_test_sweep_off (zstate_batch_t *batch)
{
    zstate_inbox_t *inbox = zstate_inbox_new ("APPL_DB/TEST_TABLE");
    assert (zstate_inbox_set_sweep (inbox, false) == 0);
    zmq_msg_t msg;
    zstate_inbox_test_msg (&msg, "merged", 0, 5);
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, 1, 2, 0, 0);
    s_test_marker (inbox, ZSTATE_SESSION_MSG_SNAPSHOT_END, 1, 3, 2,
                   ZSTATE_SESSION_END_COMPLETE);
    assert (zstate_inbox_pops (inbox, batch, 0) == 5);
    assert (zstate_inbox_pops (inbox, batch, 0) == 0);
    assert (zstate_inbox_pending (inbox) == 0);
    zstate_consumer_stats_t stats;
    zstate_inbox_stats (inbox, &stats);
    assert (stats.windows_completed == 1 && stats.windows_merged == 1);
    assert (stats.swept == 0 && stats.keys == 0);
    //  Its END counted one entry and none came, sweep off or not
    assert (stats.windows_short == 1);
    assert (zstate_inbox_set_sweep (inbox, true) == -1 && errno == EBUSY);
    zstate_inbox_destroy (&inbox);
}

void
zstate_inbox_window_suite (bool verbose)
{
    (void) verbose;
    printf (" * zstate_inbox (windows): ");
    zstate_batch_t *batch = zstate_batch_new ();
    s_test_marker_alone (batch);
    s_test_big_sweep (batch);
    s_test_hostile (batch);
    s_test_sweep_off (batch);
    s_test_model ();
    zstate_batch_destroy (&batch);
    printf ("OK\n");
}
