/*  =========================================================================
    zstate_outbox - the wire messages a client sent and the server has not
    acknowledged yet, by sequence number

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A ring of entries indexed by sequence - base, so that keep, ack, drop
    and next are O(1) apart from the entries they forget. A dropped entry
    stays in the ring, empty, until an acknowledgement passes it, so the
    index stays sequence - base. Entries flagged delivered are a prefix of
    the ring, so the flags need only a cursor.
@discuss
    The block, before the ring, is a zstate_backlog keyed by db NUL table
    NUL key, each entry tagged with the sequence of the newest message
    folded into it. It stands for the sequences block_first .. block_last,
    just below base. It is forgotten whole by an acknowledgement that
    covers block_last (one that covers less keeps it: an entry's older
    operations may be covered, its newest not); only a WELCOME, which is
    rare, looks at each entry. Folding keeps the block either wholly
    delivered or wholly not, so one flag says which.
@end
*/

#include "zstate_classes.h"
#include "zstate_outbox.h"
#include "zstate_block_encoder.h"
#include "zstate_msg_private.h"
#include "zstate_batch_private.h"
#include "zstate_session_msg.h"

#define RING_MIN        64

typedef struct {
    zmq_msg_t frame;            //  Our reference to the sent frame
    size_t ops;                 //  Operations accepted that it stands for
    size_t wire_ops;            //  Operations it carries
    size_t bytes;               //  Payload bytes in it
    bool held;                  //  false once dropped
    bool delivered;             //  The server said it delivered it
} entry_t;

struct _zstate_outbox_t {
    entry_t *ring;              //  max entries
    size_t max;                 //  Ring size, a power of 2
    size_t head;                //  Index of the entry for base
    size_t count;               //  Entries in use, held or dropped
    uint64_t base;              //  Sequence of the entry at head
    uint64_t last;              //  Last sequence kept or numbered
    size_t delivered;           //  Entries from head flagged delivered
    size_t held;                //  Entries held
    size_t wire_ops;            //  Operations the held entries carry
    size_t bytes;               //  Payload bytes held
    size_t delivered_ops;       //  Operations accepted, delivered, held
    zstate_backlog_t *block;    //  Coalesced messages, or NULL
    uint64_t block_first;       //  Sequences the block stands for,
    uint64_t block_last;        //  0 when it is empty
    size_t block_ops;           //  Operations accepted that it stands for
    size_t block_extra;         //  Of those, what entries do not count: a
                                //  message encoded from the block and folded
                                //  again stands for more than it carries
    bool block_delivered;       //  The server delivered all of it
    uint64_t block_changes;     //  Folds and splits of the block, and its
                                //  ends: what marks are valid for
    zstate_block_marks_t marks; //  Of the last REPLAY's walk of the block
    zstate_backlog_t *unsent;   //  Accepted, never sent, folded, or NULL
    zstate_batch_t *scratch;    //  Operations of the frame being folded
    byte *key;                  //  Scratch: db NUL table NUL key
    size_t key_max;
    uint64_t *remap;            //  The last renumbering's window BEGINs:
    size_t remap_count;         //  old, new sequence pairs
    size_t remap_max;
};

zstate_outbox_t *
zstate_outbox_new (void)
{
    zstate_outbox_t *self = (zstate_outbox_t *) zmalloc (sizeof (zstate_outbox_t));
    assert (self);
    self->max = RING_MIN;
    self->ring = (entry_t *) zmalloc (self->max * sizeof (entry_t));
    assert (self->ring);
    return self;
}

static entry_t *
s_entry (zstate_outbox_t *self, size_t index)
{
    return &self->ring [(self->head + index) & (self->max - 1)];
}

//  Forget the entry at head, held or not; returns the operations it stood for
static size_t
s_pop (zstate_outbox_t *self)
{
    entry_t *entry = s_entry (self, 0);
    size_t ops = 0;
    if (entry->held) {
        ops = entry->ops;
        self->wire_ops -= entry->wire_ops;
        self->bytes -= entry->bytes;
        if (entry->delivered)
            self->delivered_ops -= entry->ops;
        self->held--;
        zmq_msg_close (&entry->frame);
        entry->held = false;
    }
    self->head = (self->head + 1) & (self->max - 1);
    self->count--;
    self->base++;
    if (self->delivered)
        self->delivered--;
    return ops;
}

//  Forget the whole block; returns the operations it stood for
static size_t
s_block_forget (zstate_outbox_t *self)
{
    size_t ops = self->block_ops;
    if (self->block_delivered)
        self->delivered_ops -= ops;
    zstate_backlog_destroy (&self->block);
    self->block_first = self->block_last = 0;
    self->block_ops = self->block_extra = 0;
    self->block_delivered = false;
    self->block_changes++;
    return ops;
}

void
zstate_outbox_destroy (zstate_outbox_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_outbox_t *self = *self_p;
        while (self->count)
            s_pop (self);
        s_block_forget (self);
        zstate_backlog_destroy (&self->unsent);
        zstate_batch_destroy (&self->scratch);
        free (self->key);
        free (self->remap);
        free (self->ring);
        free (self);
        *self_p = NULL;
    }
}

//  Keep frame (a reference, or the frame itself when take) as the next
//  sequence
static void
s_keep (zstate_outbox_t *self, uint64_t sequence, zmq_msg_t *frame, bool take,
        size_t ops, size_t wire_ops, size_t bytes)
{
    if (self->count == 0) {
        self->base = sequence;
        self->head = 0;
        self->delivered = 0;
    }
    assert (sequence == self->base + self->count);
    if (self->count == self->max) {
        //  Unroll the ring into one twice as large
        entry_t *ring = (entry_t *) zmalloc (2 * self->max * sizeof (entry_t));
        assert (ring);
        for (size_t index = 0; index < self->count; index++)
            memcpy (&ring [index], s_entry (self, index), sizeof (entry_t));
        free (self->ring);
        self->ring = ring;
        self->max *= 2;
        self->head = 0;
    }
    entry_t *entry = s_entry (self, self->count);
    zmq_msg_init (&entry->frame);
    int rc = take? zmq_msg_move (&entry->frame, frame): zmq_msg_copy (&entry->frame, frame);
    assert (rc == 0);
    entry->ops = ops;
    entry->wire_ops = wire_ops;
    entry->bytes = bytes;
    entry->held = true;
    entry->delivered = false;
    self->last = sequence;
    self->count++;
    self->held++;
    self->wire_ops += wire_ops;
    self->bytes += bytes;
}

void
zstate_outbox_keep_folded (zstate_outbox_t *self, uint64_t sequence, zmq_msg_t *frame,
                           size_t ops, size_t wire_ops, size_t bytes)
{
    assert (self);
    assert (sequence);
    assert (!self->block_last || self->count || sequence == self->block_last + 1);
    s_keep (self, sequence, frame, false, ops, wire_ops, bytes);
}

void
zstate_outbox_keep (zstate_outbox_t *self, uint64_t sequence, zmq_msg_t *frame,
                    size_t ops, size_t bytes)
{
    zstate_outbox_keep_folded (self, sequence, frame, ops, ops, bytes);
}


void
zstate_outbox_deliver (zstate_outbox_t *self, uint64_t sequence)
{
    assert (self);
    if (self->block_last && !self->block_delivered && sequence >= self->block_last) {
        self->block_delivered = true;
        self->delivered_ops += self->block_ops;
    }
    //  Frames flagged go on from the block only when it is delivered
    if (self->block_last && !self->block_delivered)
        return;
    while (self->delivered < self->count
       &&  self->base + self->delivered <= sequence) {
        entry_t *entry = s_entry (self, self->delivered++);
        if (entry->held) {
            entry->delivered = true;
            self->delivered_ops += entry->ops;
        }
    }
}

size_t
zstate_outbox_ack (zstate_outbox_t *self, uint64_t sequence)
{
    assert (self);
    zstate_outbox_deliver (self, sequence);
    size_t ops = 0;
    if (self->block_last && sequence >= self->block_last)
        ops += s_block_forget (self);
    if (self->block_last)
        return ops;             //  Frames after the block wait for it
    while (self->count && (self->base <= sequence || !s_entry (self, 0)->held))
        ops += s_pop (self);
    return ops;
}

size_t
zstate_outbox_drop (zstate_outbox_t *self, uint64_t sequence)
{
    assert (self);
    if (!self->count || sequence < self->base || sequence - self->base >= self->count)
        return 0;
    entry_t *entry = s_entry (self, (size_t) (sequence - self->base));
    if (!entry->held)
        return 0;
    size_t ops = entry->ops;
    self->wire_ops -= entry->wire_ops;
    self->bytes -= entry->bytes;
    if (entry->delivered)
        self->delivered_ops -= entry->ops;
    self->held--;
    zmq_msg_close (&entry->frame);
    entry->held = false;
    //  Dropped entries at the front are of no more use, unless the block
    //  is before them (the ring must start right after it)
    while (self->count && !s_entry (self, 0)->held && !self->block_last)
        s_pop (self);
    return ops;
}

uint64_t
zstate_outbox_next (zstate_outbox_t *self, uint64_t from, zmq_msg_t *frame)
{
    assert (self);
    size_t index = from > self->base? (size_t) (from - self->base): 0;
    for (; index < self->count; index++) {
        entry_t *entry = s_entry (self, index);
        if (entry->held) {
            zmq_msg_init (frame);
            int rc = zmq_msg_copy (frame, &entry->frame);
            assert (rc == 0);
            return self->base + index;
        }
    }
    return 0;
}

uint64_t
zstate_outbox_first (zstate_outbox_t *self)
{
    assert (self);
    if (self->block_last)
        return self->block_first;
    return self->count? self->base: 0;
}

uint64_t
zstate_outbox_last (zstate_outbox_t *self)
{
    assert (self);
    return self->last;
}

size_t
zstate_outbox_size (zstate_outbox_t *self)
{
    assert (self);
    return self->held;
}

size_t
zstate_outbox_ops (zstate_outbox_t *self)
{
    assert (self);
    return self->wire_ops + zstate_outbox_keys (self);
}

size_t
zstate_outbox_bytes (zstate_outbox_t *self)
{
    assert (self);
    return self->bytes + (self->block? zstate_backlog_bytes (self->block): 0);
}

size_t
zstate_outbox_keys (zstate_outbox_t *self)
{
    assert (self);
    return self->block? zstate_backlog_pending (self->block): 0;
}

size_t
zstate_outbox_block_ops (zstate_outbox_t *self)
{
    assert (self);
    return self->block_ops;
}

size_t
zstate_outbox_delivered_ops (zstate_outbox_t *self)
{
    assert (self);
    return self->delivered_ops;
}


//  A window marker (SNAPSHOT-BEGIN or -END): no operations, and nothing
//  folds across it
static bool
s_is_marker (entry_t *entry)
{
    return entry->held
        && ((byte *) zmq_msg_data (&entry->frame)) [3] != ZSTATE_SESSION_MSG_OPS;
}


//  --------------------------------------------------------------------------
//  Coalescing

//  Fold the operations of an OPS message into block, each tagged tag
static void
s_fold_message (zstate_outbox_t *self, zstate_backlog_t *block, const byte *data,
                size_t size, uint64_t tag)
{
    zstate_session_msg_t msg;
    int rc = zstate_session_msg_decode (&msg, data, size);
    assert (rc == 0 && msg.type == ZSTATE_SESSION_MSG_OPS);
    if (!self->scratch)
        self->scratch = zstate_batch_new ();
    zstate_batch_reset (self->scratch);
    rc = zstate_batch_load (self->scratch, msg.ops, msg.ops_size, msg.op_count, NULL);
    assert (rc == 0);
    size_t db_size = strlen (msg.db), table_size = strlen (msg.table);
    zstate_backlog_set_tag (block, tag);
    for (size_t index = 0; index < msg.op_count; index++) {
        size_t key_size;
        const char *key = zstate_batch_key (self->scratch, index, &key_size);
        size_t full_size = db_size + table_size + 2 + key_size;
        if (full_size > self->key_max) {
            self->key = (byte *) realloc (self->key, full_size);
            assert (self->key);
            self->key_max = full_size;
        }
        memcpy (self->key, msg.db, db_size + 1);
        memcpy (self->key + db_size + 1, msg.table, table_size + 1);
        memcpy (self->key + db_size + table_size + 2, key, key_size);
        rc = zstate_backlog_add_batch (block, self->key, full_size, self->scratch,
                                       index, 0);
        assert (rc >= 0);
    }
}

//  Fold the frame at head into the block
static void
s_fold (zstate_outbox_t *self)
{
    entry_t *entry = s_entry (self, 0);
    uint64_t sequence = self->base;
    self->block_changes++;
    if (entry->held) {
        s_fold_message (self, self->block, zmq_msg_data (&entry->frame),
                        zmq_msg_size (&entry->frame), sequence);
        self->block_ops += entry->ops;
        self->block_extra += entry->ops - entry->wire_ops;
        //  The block takes over its delivered operations
        if (entry->delivered)
            self->delivered_ops += entry->ops;
    }
    s_pop (self);
    if (!self->block_first)
        self->block_first = sequence;
    self->block_last = sequence;
}

size_t
zstate_outbox_coalesce (zstate_outbox_t *self)
{
    assert (self);
    size_t folded = 0;
    while (self->count) {
        entry_t *entry = s_entry (self, 0);
        if (s_is_marker (entry))
            break;
        //  The block is wholly delivered or wholly not
        if (!self->block_last)
            self->block_delivered = entry->held && entry->delivered;
        else
        if (entry->held && entry->delivered != self->block_delivered)
            break;
        if (!self->block)
            self->block = zstate_backlog_new ();
        s_fold (self);
        folded++;
    }
    return folded;
}

//  The encoder's emit for messages the outbox keeps: each the next
//  sequence, taken
static void
s_keep_emit (void *arg, zmq_msg_t *frame, uint64_t sequence, size_t ops, size_t wire_ops,
             size_t bytes)
{
    s_keep ((zstate_outbox_t *) arg, sequence, frame, true, ops, wire_ops, bytes);
}

//  Sort the block at a WELCOME that delivered up to delivered and
//  acknowledged up to acked: forget what acked covers, keep what waits in
//  (acked, delivered], encode the rest as the messages from delivered + 1.
//  Returns the operations forgotten.
static size_t
s_block_split (zstate_outbox_t *self, zstate_block_encoder_t *encoder, uint64_t delivered,
               uint64_t acked)
{
    size_t forgotten = 0, waiting = 0;
    self->block_changes++;
    zstate_backlog_entry_t *entry;
    while ((entry = zstate_backlog_take (self->block))) {
        uint64_t tag = zstate_backlog_entry_tag (entry);
        if (tag <= acked)
            forgotten += zstate_backlog_entry_folds (entry);
        else
        if (tag <= delivered) {
            waiting += zstate_backlog_entry_folds (entry);
            continue;           //  Stays in flight until restored
        }
        else
            zstate_block_encoder_add (encoder, entry);
        zstate_backlog_confirm (self->block, &entry);
    }
    zstate_block_encoder_end (encoder);
    //  What no entry counts goes with the newest message made, else with
    //  what waits, else with what is forgotten: never acknowledged early
    if (self->count)
        s_entry (self, self->count - 1)->ops += self->block_extra;
    else
    if (waiting)
        waiting += self->block_extra;
    else
        forgotten += self->block_extra;
    self->block_extra = 0;
    zstate_backlog_restore_all (self->block);
    if (waiting) {
        if (self->block_first <= acked)
            self->block_first = acked + 1;
        self->block_last = delivered;
        self->block_ops = waiting;
        self->block_delivered = true;
    }
    else {
        zstate_backlog_destroy (&self->block);
        self->block_first = self->block_last = 0;
        self->block_ops = 0;
        self->block_delivered = false;
    }
    return forgotten;
}

uint64_t
zstate_outbox_renumbered (zstate_outbox_t *self, uint64_t sequence)
{
    assert (self);
    for (size_t index = 0; index < self->remap_count; index++)
        if (self->remap [2 * index] == sequence)
            return self->remap [2 * index + 1];
    return sequence;
}

//  Keep a window marker renumbered as sequence: an END whose BEGIN was
//  renumbered too takes its new number
static void
s_renumber_marker (zstate_outbox_t *self, zstate_session_msg_t *msg,
                   uint64_t sequence)
{
    if (msg->type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN) {
        if (self->remap_count == self->remap_max) {
            self->remap_max = self->remap_max? 2 * self->remap_max: 8;
            self->remap = (uint64_t *) realloc (self->remap,
                                                2 * self->remap_max * sizeof (uint64_t));
            assert (self->remap);
        }
        self->remap [2 * self->remap_count] = msg->sequence;
        self->remap [2 * self->remap_count++ + 1] = sequence;
    }
    else
        msg->begin = zstate_outbox_renumbered (self, msg->begin);
    msg->sequence = sequence;
    zmq_msg_t frame;
    int rc = zstate_session_msg_encode_frame (msg, &frame);
    assert (rc == 0);
    s_keep (self, sequence, &frame, true, 0, 0, 0);
    zmq_msg_close (&frame);
}

//  Keep a copy of the frame of entry, renumbered as the next sequence
static void
s_renumber (zstate_outbox_t *self, entry_t *entry, uint64_t sequence)
{
    zstate_session_msg_t msg;
    int rc = zstate_session_msg_decode (&msg, zmq_msg_data (&entry->frame),
                                        zmq_msg_size (&entry->frame));
    assert (rc == 0);
    if (msg.type != ZSTATE_SESSION_MSG_OPS) {
        s_renumber_marker (self, &msg, sequence);
        return;
    }
    size_t header_size = zstate_msg_header_size (strlen (msg.db), strlen (msg.table));
    //  libzmq may still hold the frame: a copy, never the shared bytes
    zmq_msg_t frame;
    rc = zmq_msg_init_size (&frame, zmq_msg_size (&entry->frame));
    assert (rc == 0);
    memcpy (zmq_msg_data (&frame), zmq_msg_data (&entry->frame), zmq_msg_size (&frame));
    zstate_msg_patch_header ((byte *) zmq_msg_data (&frame), header_size, sequence,
                             msg.op_count);
    s_keep (self, sequence, &frame, true, entry->ops, entry->wire_ops, entry->bytes);
    zmq_msg_close (&frame);
}

size_t
zstate_outbox_welcome (zstate_outbox_t *self, uint64_t delivered, uint64_t acked,
                       const byte *session, size_t ops_max, size_t bytes_max,
                       bool *renumbered_p)
{
    assert (self);
    assert (acked <= delivered);
    *renumbered_p = false;
    zstate_outbox_deliver (self, delivered);
    //  After an outage that coalesced, everything the server lacks goes
    //  again from the block, one operation per key
    if (self->block_last && delivered < zstate_outbox_last (self))
        zstate_outbox_coalesce (self);
    if (!self->block_last || delivered >= self->block_last)
        return zstate_outbox_ack (self, acked);
    //  The server lacks part of the block: what it lacks goes again, as
    //  new messages numbered from delivered + 1, and the frames the fold
    //  could not take (a block delivered before a new server instance
    //  said less) after them, renumbered, so that the sequences stay
    //  consecutive on the wire
    *renumbered_p = true;
    self->remap_count = 0;
    if (delivered + 1 < self->block_first)
        delivered = self->block_first - 1;
    if (acked > delivered)
        acked = delivered;
    entry_t *ring = self->ring;
    size_t max = self->max, head = self->head, count = self->count;
    self->max = RING_MIN;
    self->ring = (entry_t *) zmalloc (self->max * sizeof (entry_t));
    assert (self->ring);
    self->head = self->count = self->held = self->delivered = 0;
    self->wire_ops = self->bytes = 0;
    zstate_block_encoder_t encoder = { .session = session, .ops_max = ops_max,
                                       .bytes_max = bytes_max, .sequence = delivered + 1,
                                       .renumber = true, .emit = s_keep_emit, .arg = self,
                                       .left = UINT32_MAX };
    zstate_block_encoder_start (&encoder);
    size_t forgotten = s_block_split (self, &encoder, delivered, acked);
    for (size_t index = 0; index < count; index++) {
        entry_t *entry = &ring [(head + index) & (max - 1)];
        if (entry->held) {
            s_renumber (self, entry, encoder.sequence++);
            zmq_msg_close (&entry->frame);
        }
    }
    free (ring);
    self->last = encoder.sequence - 1;
    self->delivered_ops = self->block_delivered? self->block_ops: 0;
    return forgotten;
}



//  --------------------------------------------------------------------------
//  Operations accepted and never sent

void
zstate_outbox_fold_unsent (zstate_outbox_t *self, byte *data, size_t size,
                           size_t header_size, size_t ops)
{
    assert (self);
    assert (ops);
    //  A queued message has no sequence and no count yet: give it both, as
    //  a sent one has, so that it decodes as one
    zstate_msg_patch_header (data, header_size, 1, (uint32_t) ops);
    if (!self->unsent)
        self->unsent = zstate_backlog_new ();
    s_fold_message (self, self->unsent, data, size, 0);
}

size_t
zstate_outbox_unsent_keys (zstate_outbox_t *self)
{
    assert (self);
    return self->unsent? zstate_backlog_pending (self->unsent): 0;
}

size_t
zstate_outbox_unsent_bytes (zstate_outbox_t *self)
{
    assert (self);
    return self->unsent? zstate_backlog_bytes (self->unsent): 0;
}

void
zstate_outbox_take_unsent (zstate_outbox_t *self, const byte *session, size_t ops_max,
                           size_t bytes_max, zstate_outbox_emit_fn *emit, void *arg)
{
    assert (self);
    assert (emit);
    if (!self->unsent)
        return;
    zstate_block_encoder_t encoder = { .session = session, .ops_max = ops_max,
                                       .bytes_max = bytes_max, .emit = emit, .arg = arg,
                                       .left = UINT32_MAX };
    zstate_block_encoder_start (&encoder);
    zstate_backlog_entry_t *entry;
    while ((entry = zstate_backlog_take (self->unsent))) {
        zstate_block_encoder_add (&encoder, entry);
        zstate_backlog_confirm (self->unsent, &entry);
    }
    zstate_block_encoder_end (&encoder);
    zstate_backlog_destroy (&self->unsent);
}


uint64_t
zstate_outbox_replay (zstate_outbox_t *self, const zstate_session_msg_t *replay,
                      const byte *session, size_t ops_max, size_t bytes_max,
                      zstate_outbox_emit_fn *emit, void *arg)
{
    assert (self);
    assert (replay && emit);
    uint64_t from = replay->sequence;
    if (!self->block_last || from > self->block_last)
        return from;
    //  Every entry, each numbered as the block's last sequence, and all of
    //  them stay: walked in the order taking them would have, from where
    //  the last walk made the first message not skipped, if it can tell;
    //  a block numbered above to goes whole (the server counts only what
    //  is numbered up to to against max)
    zstate_block_encoder_t encoder = { .session = session, .ops_max = ops_max,
                                       .bytes_max = bytes_max, .emit = emit, .arg = arg,
                                       .sequence = self->block_last,
                                       .skip = from == self->block_last? replay->skip: 0,
                                       .left = replay->max && self->block_last <= replay->to?
                                               replay->max: UINT32_MAX };
    zstate_block_encoder_start (&encoder);
    zstate_block_encoder_walk (&encoder, self->block, self->block_changes, &self->marks);
    zstate_block_encoder_end (&encoder);
    return self->block_last + 1;
}

//  The selftest, zstate_outbox_test, is in selftest/zstate_outbox_suite.c
