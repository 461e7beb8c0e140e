/*  =========================================================================
    zstate_writer_intake - the writer's input: wire messages decoded into
    the backlog's open generation, each operation under its Redis key

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    One decoder and one batch, reused for every message, and a scratch
    buffer for the Redis key; the open generation coalesces an operation
    on a pending key into its entry. Version 1 goes through the version 1
    decoder (the envelope, then the batch walks the operations once);
    version 2 through zstate_session_msg, which knows its header and
    reason codes, and walks them once more.
@discuss
    The backlog has no bound of its own here: the writer stops reading at
    its bound instead, so that what waits stays in the PULL socket.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_intake.h"
#include "zstate_session_msg.h"
#include "zstate_batch_private.h"

//  The message at hand, whichever its version
typedef struct {
    int type;                   //  ZSTATE_SESSION_MSG_OPS or SNAPSHOT_*
    const char *db;
    const char *table;
    const byte *session;        //  NULL: no watermark
    uint64_t sequence;
    size_t op_count;
    const byte *window_session; //  SNAPSHOT_*: its session, zeros or not
    uint64_t begin;             //  SNAPSHOT_END: its BEGIN's sequence
    int status;                 //  SNAPSHOT_END: how the window ended
} message_t;

struct _zstate_writer_intake_t {
    zstate_writer_chain_t *chain;       //  Where operations go
    zstate_writer_views_t *views;       //  Windows open
    zstate_msg_t *msg;          //  Decoder, reused
    zstate_batch_t *batch;      //  Operations of the message at hand
    byte *keybuf;               //  Scratch: the Redis key being built
    size_t keybuf_max;
    bool placeholder;           //  a SET with no fields goes in as NULL=NULL
    zstate_batch_t *stand_in;   //  ... in this batch of one
    zhashx_t *dbs;              //  Db names of the messages seen
};

//  Db names kept at most: a writer serves the tables of one database
#define DBS_MAX     64


//  --------------------------------------------------------------------------
//  Create and destroy

zstate_writer_intake_t *
zstate_writer_intake_new (zstate_writer_chain_t *chain, zstate_writer_views_t *views)
{
    assert (chain);
    assert (views);
    zstate_writer_intake_t *self =
        (zstate_writer_intake_t *) zmalloc (sizeof (zstate_writer_intake_t));
    assert (self);
    self->chain = chain;
    self->views = views;
    self->msg = zstate_msg_new ();
    self->batch = zstate_batch_new ();
    self->stand_in = zstate_batch_new ();
    self->dbs = zhashx_new ();
    assert (self->msg && self->batch && self->stand_in && self->dbs);
    return self;
}

void
zstate_writer_intake_destroy (zstate_writer_intake_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_intake_t *self = *self_p;
        zstate_batch_destroy (&self->batch);
        zstate_batch_destroy (&self->stand_in);
        zstate_msg_destroy (&self->msg);
        zhashx_destroy (&self->dbs);
        free (self->keybuf);
        free (self);
        *self_p = NULL;
    }
}


//  Accept operation index of the current batch, for table: into the
//  backlog, under its Redis key, which marks the window open on the
//  table, *sweep_p (NULL: none; nulled when the bound drops the window).
//  Returns 1 when it coalesced.
static int
s_accept (zstate_writer_intake_t *self, const message_t *message, size_t table_size,
          const char *separator, size_t separator_size, size_t index, int64_t now,
          zstate_writer_sweep_t **sweep_p, zstate_writer_stats_t *stats)
{
    size_t key_size;
    const char *key = zstate_batch_key (self->batch, index, &key_size);
    size_t size = table_size + separator_size + key_size;
    if (size > self->keybuf_max) {
        self->keybuf_max = size * 2;
        self->keybuf = (byte *) realloc (self->keybuf, self->keybuf_max);
        assert (self->keybuf);
    }
    memcpy (self->keybuf, message->table, table_size);
    memcpy (self->keybuf + table_size, separator, separator_size);
    memcpy (self->keybuf + table_size + separator_size, key, key_size);
    if (*sweep_p
    &&  !zstate_writer_views_mark (self->views, *sweep_p, message->db, message->table,
                                   self->keybuf, size, stats))
        *sweep_p = NULL;
    zstate_batch_t *batch = self->batch;
    if (self->placeholder && zstate_batch_op (batch, index) == ZSTATE_OP_SET
    &&  zstate_batch_field_count (batch, index) == 0) {
        //  The placeholder is the SET's one field from here on, so that an
        //  HSET coalescing into it keeps it, as Redis would have
        zstate_batch_reset (self->stand_in);
        int rc = zstate_batch_append (self->stand_in, ZSTATE_OP_SET, key, key_size);
        assert (rc == 0);
        rc = zstate_batch_field (self->stand_in, "NULL", 4, "NULL", 4);
        assert (rc == 0);
        batch = self->stand_in;
        index = 0;
    }
    return zstate_writer_chain_add (self->chain, self->keybuf, size, batch, index, now);
}

void
zstate_writer_intake_set_placeholder (zstate_writer_intake_t *self, bool placeholder)
{
    assert (self);
    self->placeholder = placeholder;
}

//  Load the operations into the batch; returns ZSTATE_WIRE_*
static int
s_load (zstate_writer_intake_t *self, const byte *ops, size_t ops_size, size_t count)
{
    zstate_batch_reset (self->batch);
    size_t used = 0;
    int rc = zstate_batch_load (self->batch, ops, ops_size, count, &used);
    if (rc == ZSTATE_WIRE_OK && used != ops_size)
        rc = ZSTATE_WIRE_TRAILING;
    return rc;
}

//  Decode the message into the batch and *message; returns ZSTATE_WIRE_*
//  or, for version 2, a zstate_session_msg_reason_t
static int
s_decode (zstate_writer_intake_t *self, const byte *data, size_t size, message_t *message)
{
    if (size > 2 && data [2] == ZSTATE_SESSION_VERSION) {
        zstate_session_msg_t msg;
        int rc = zstate_session_msg_decode (&msg, data, size);
        if (rc == 0 && msg.type != ZSTATE_SESSION_MSG_OPS
        &&  msg.type != ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN
        &&  msg.type != ZSTATE_SESSION_MSG_SNAPSHOT_END)
            rc = ZSTATE_WIRE_TYPE;
        if (rc == 0 && msg.type == ZSTATE_SESSION_MSG_OPS)
            rc = s_load (self, msg.ops, msg.ops_size, msg.op_count);
        if (rc == 0) {
            static const byte zeros [ZSTATE_MSG_SESSION_SIZE] = { 0 };
            message->type = msg.type;
            message->db = msg.db;
            message->table = msg.table;
            message->session = memcmp (msg.session, zeros, sizeof (zeros))? msg.session: NULL;
            message->sequence = msg.sequence;
            message->op_count = msg.op_count;
            message->window_session = msg.session;
            message->begin = msg.begin;
            message->status = msg.status;
        }
        return rc;
    }
    int rc = zstate_msg_decode_header (self->msg, data, size);
    if (rc == ZSTATE_WIRE_OK) {
        //  Loading walks and checks every operation; no need to decode twice
        size_t ops_size = 0;
        const byte *ops = zstate_msg_ops (self->msg, &ops_size);
        message->op_count = zstate_msg_op_count (self->msg);
        rc = s_load (self, ops, ops_size, message->op_count);
        message->db = zstate_msg_db (self->msg);
        message->table = zstate_msg_table (self->msg);
        message->session = NULL;
        message->sequence = 0;
        message->type = ZSTATE_SESSION_MSG_OPS;
    }
    return rc;
}

//  OPS: each operation into the open generation, then the message
static void
s_take_ops (zstate_writer_intake_t *self, const message_t *message, const char *separator,
            zstate_writer_stats_t *stats)
{
    size_t table_size = strlen (message->table);
    size_t separator_size = strlen (separator);
    int64_t now = zclock_mono ();
    zstate_writer_sweep_t *sweep = zstate_writer_views_find (self->views, message->db,
                                                             message->table);
    for (size_t index = 0; index < message->op_count; index++)
        stats->coalesced += s_accept (self, message, table_size, separator, separator_size,
                                      index, now, &sweep, stats);
    zstate_writer_chain_message (self->chain, message->db, message->table,
                                 message->session, message->sequence);
}

//  SNAPSHOT-BEGIN opens a window; SNAPSHOT-END closes it, and when
//  COMPLETE its sweep goes between what came before and the END itself.
//  Either counts in the watermarks like OPS.
static void
s_take_marker (zstate_writer_intake_t *self, const message_t *message,
               const char *separator, zstate_writer_stats_t *stats)
{
    if (message->type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN)
        zstate_writer_views_begin (self->views, message->db, message->table,
                                   message->window_session, message->sequence, separator,
                                   stats);
    else {
        zstate_writer_sweep_t *sweep =
            zstate_writer_views_end (self->views, message->db, message->table,
                                     message->window_session, message->begin,
                                     message->status, stats);
        if (sweep)
            zstate_writer_chain_barrier (self->chain, sweep);
    }
    zstate_writer_chain_marker (self->chain, message->db, message->table, message->session,
                                message->sequence, zclock_mono ());
}

int
zstate_writer_intake_receive (zstate_writer_intake_t *self, zsock_t *data,
                              const char *separator, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (data);
    assert (separator);
    assert (stats);
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    void *handle = zsock_resolve (data);
    if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&frame);
        return -1;
    }
    int rc = ZSTATE_WIRE_OK;
    if (zmq_msg_more (&frame)) {
        //  A wire message is one frame: drop the whole multipart
        rc = ZSTATE_WIRE_FRAMES;
        while (zmq_msg_more (&frame)
        &&     zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) != -1) ;
    }
    message_t message;
    if (rc == ZSTATE_WIRE_OK)
        rc = s_decode (self, (const byte *) zmq_msg_data (&frame),
                       zmq_msg_size (&frame), &message);
    if (rc == ZSTATE_WIRE_OK) {
        if (message.type == ZSTATE_SESSION_MSG_OPS)
            s_take_ops (self, &message, separator, stats);
        else
            s_take_marker (self, &message, separator, stats);
        zstate_writer_intake_note_db (self, message.db);
        stats->messages++;
        stats->ops += message.op_count;
    }
    else
        stats->malformed++;
    zmq_msg_close (&frame);
    return rc;
}


void
zstate_writer_intake_note_db (zstate_writer_intake_t *self, const char *db)
{
    assert (self);
    assert (db);
    if (zhashx_size (self->dbs) < DBS_MAX)
        zhashx_insert (self->dbs, db, (void *) 1);
}

zhashx_t *
zstate_writer_intake_dbs (zstate_writer_intake_t *self)
{
    assert (self);
    return self->dbs;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: as the writer's actor uses the intake

//  Wait up to 10 s for a message, then take it in
static int
s_test_receive (zstate_writer_intake_t *intake, zsock_t *data, zstate_writer_stats_t *stats)
{
    zmq_pollitem_t item = { zsock_resolve (data), 0, ZMQ_POLLIN, 0 };
    assert (zmq_poll (&item, 1, 10000) == 1);
    return zstate_writer_intake_receive (intake, data, "|", stats);
}

//  Version 2 OPS, as a client sends them, carry a watermark; other
//  version 2 types, or sequence 0, are dropped
static void
s_test_version2 (zstate_writer_intake_t *intake, zstate_writer_chain_t *chain,
                 zsock_t *data, zsock_t *push, zstate_batch_t *batch,
                 zstate_writer_stats_t *stats_p)
{
    zstate_writer_stats_t stats = *stats_p;
    byte session [ZSTATE_MSG_SESSION_SIZE];
    memset (session, 0x5A, sizeof (session));
    zframe_t *frame = zstate_msg_encode (session, 9, "CONFIG_DB", "PORT", batch);
    assert (frame);
    zframe_data (frame) [2] = ZSTATE_SESSION_VERSION;
    zframe_t *copy = zframe_dup (frame);
    assert (zframe_send (&frame, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_OK);
    assert (stats.messages == 3 && stats.ops == 9);
    zstate_writer_generation_t *second = zstate_writer_chain_take (chain);
    assert (second && !zstate_writer_marks_empty (second->marks));
    zmsg_t *marks = zmsg_new ();
    zstate_writer_marks_frames (second->marks, marks);
    assert (zmsg_size (marks) == 3);
    zframe_t *last = zmsg_last (marks);
    assert (zframe_size (last) == ZSTATE_WRITER_MARK_SIZE);
    assert (memcmp (zframe_data (last), session, sizeof (session)) == 0);
    assert (zstate_get_u64 (zframe_data (last) + ZSTATE_MSG_SESSION_SIZE) == 9);
    zmsg_destroy (&marks);
    //  Version 2 with sequence 0, or another type than OPS: dropped
    zframe_data (copy) [27] = 0;
    assert (zframe_send (&copy, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_SESSION_REASON_SEQUENCE);
    zstate_session_msg_t hello = { .type = ZSTATE_SESSION_MSG_HELLO, .session = session,
                                   .sequence = 1, .ack_level = 1 };
    zmq_msg_t encoded;
    assert (zstate_session_msg_encode_frame (&hello, &encoded) == 0);
    assert (zmq_msg_send (&encoded, zsock_resolve (push), 0) != -1);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_TYPE);
    assert (stats.malformed == 5 && stats.messages == 3);
    //  A session of all zeros is none
    memset (session, 0, sizeof (session));
    frame = zstate_msg_encode (session, 10, "CONFIG_DB", "PORT", batch);
    assert (frame);
    zframe_data (frame) [2] = ZSTATE_SESSION_VERSION;
    assert (zframe_send (&frame, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_OK);
    zstate_writer_generation_t *third = zstate_writer_chain_take (chain);
    assert (third && zstate_writer_marks_empty (third->marks));
    assert (zstate_writer_chain_pending (chain) == 0);

    *stats_p = stats;
}

//  Send a SNAPSHOT-BEGIN, or with begin not 0 a COMPLETE SNAPSHOT-END
static void
s_test_marker (zsock_t *push, const byte *session, uint64_t sequence, uint64_t begin)
{
    zstate_session_msg_t msg = {
        .type = begin? ZSTATE_SESSION_MSG_SNAPSHOT_END: ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN,
        .session = session, .sequence = sequence, .db = "CONFIG_DB", .table = "PORT",
        .kind = ZSTATE_SESSION_SNAPSHOT, .begin = begin,
        .status = ZSTATE_SESSION_END_COMPLETE
    };
    zmq_msg_t frame;
    assert (zstate_session_msg_encode_frame (&msg, &frame) == 0);
    assert (zmq_msg_send (&frame, zsock_resolve (push), 0) != -1);
}

//  A window: BEGIN marks the keys of the operations after it; its
//  COMPLETE END puts its sweep before the END's generation
static void
s_test_window (zstate_writer_intake_t *intake, zstate_writer_chain_t *chain,
               zsock_t *data, zsock_t *push, zstate_batch_t *batch)
{
    zstate_writer_stats_t stats = { 0 };
    byte session [ZSTATE_MSG_SESSION_SIZE];
    memset (session, 0x77, sizeof (session));
    s_test_marker (push, session, 20, 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_OK);
    assert (stats.windows == 1 && stats.messages == 1 && stats.ops == 0);
    zframe_t *frame = zstate_msg_encode (session, 21, "CONFIG_DB", "PORT", batch);
    assert (frame);
    zframe_data (frame) [2] = ZSTATE_SESSION_VERSION;
    assert (zframe_send (&frame, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_OK);
    s_test_marker (push, session, 22, 20);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_OK);
    //  The window's generation first, then the sweep, of both keys
    assert (!zstate_writer_chain_next_sweep (chain));
    zstate_writer_generation_t *window = zstate_writer_chain_take (chain);
    assert (window && window->last_op - window->first_op == 3);
    zstate_writer_sweep_t *sweep = zstate_writer_chain_next_sweep (chain);
    assert (sweep && zstate_writer_sweep_marked (sweep) == 2);
    zstate_writer_chain_sweep_done (chain);
    zstate_writer_generation_t *end = zstate_writer_chain_take (chain);
    assert (end && end->first_op == end->last_op && !zstate_writer_marks_empty (end->marks));
    assert (stats.sweeps == 0 && stats.windows_dropped == 0);
}

void
zstate_writer_intake_test (bool verbose)
{
    printf (" * zstate_writer_intake: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  What the PULL socket receives goes into the backlog under Redis keys
    zsock_t *data = zsock_new_pull ("inproc://zstate-intake-test");
    zsock_t *push = zsock_new_push ("inproc://zstate-intake-test");
    assert (data && push);
    zstate_writer_chain_t *chain = zstate_writer_chain_new ();
    zstate_writer_views_t *views = zstate_writer_views_new ();
    zstate_writer_intake_t *intake = zstate_writer_intake_new (chain, views);
    zstate_writer_stats_t stats = { 0 };
    assert (zstate_writer_intake_receive (intake, data, "|", &stats) == -1);
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_batch_hset (batch, "Ethernet0", "mtu", "1500", NULL);
    zstate_batch_del (batch, "Ethernet4");
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 0 };
    zframe_t *frame = zstate_msg_encode (session, 1, "CONFIG_DB", "PORT", batch);
    assert (frame);
    zframe_t *copy = zframe_dup (frame);
    assert (zframe_send (&frame, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_OK);
    //  The HSET folded into the pending SET on the same key
    assert (stats.messages == 1 && stats.ops == 3 && stats.coalesced == 1);
    assert (zstate_writer_chain_pending (chain) == 2);
    zstate_writer_generation_t *generation = zstate_writer_chain_take (chain);
    zstate_backlog_entry_t *entry = zstate_backlog_take (generation->backlog);
    assert (streq (zstate_backlog_entry_key (entry, NULL), "PORT|Ethernet0"));
    //  Version 1 writes no watermark
    assert (zstate_writer_marks_empty (generation->marks));
    //  The db names seen, for a LOST
    assert (zhashx_size (zstate_writer_intake_dbs (intake)) == 1);
    assert (zhashx_lookup (zstate_writer_intake_dbs (intake), "CONFIG_DB"));
    //  @end

    //  Dropped and counted, the backlog untouched: a multipart message,
    //  a bad header, bytes after the last operation
    assert (zstr_sendm (push, "two") == 0 && zstr_send (push, "frames") == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_FRAMES);
    assert (zstr_send (push, "nonsense") == 0);
    int rc = s_test_receive (intake, data, &stats);
    assert (rc != ZSTATE_WIRE_OK && rc != -1);
    zframe_t *longer = zframe_new (NULL, zframe_size (copy) + 1);
    memcpy (zframe_data (longer), zframe_data (copy), zframe_size (copy));
    zframe_data (longer) [zframe_size (copy)] = 0;
    assert (zframe_send (&longer, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_TRAILING);
    assert (stats.malformed == 3 && stats.messages == 1);
    assert (zstate_writer_chain_pending (chain) == 0);
    //  The same message whole is still good
    assert (zframe_send (&copy, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_OK);
    assert (stats.messages == 2 && zstate_writer_chain_pending (chain) == 2);

    s_test_version2 (intake, chain, data, push, batch, &stats);
    zstate_backlog_confirm (generation->backlog, &entry);
    //  A chain of its own, as the others were not confirmed
    zstate_writer_intake_destroy (&intake);
    zstate_writer_chain_destroy (&chain);
    chain = zstate_writer_chain_new ();
    intake = zstate_writer_intake_new (chain, views);
    s_test_window (intake, chain, data, push, batch);

    zstate_batch_destroy (&batch);
    zstate_writer_intake_destroy (&intake);
    zstate_writer_views_destroy (&views);
    zstate_writer_chain_destroy (&chain);
    zsock_destroy (&push);
    zsock_destroy (&data);
    printf ("OK\n");
}
#endif
