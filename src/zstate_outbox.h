/*  =========================================================================
    zstate_outbox - the wire messages a client sent and the server has not
    acknowledged yet, by sequence number

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_OUTBOX_H_INCLUDED
#define ZSTATE_OUTBOX_H_INCLUDED

#include "zstate_backlog.h"
#include "zstate_block_encoder.h"
#include "zstate_session_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  A FIFO of sent messages with consecutive sequence numbers. It keeps a
//  reference to each frame (zmq_msg_copy: libzmq shares the data, no byte
//  is copied), so a message can be sent again after a reconnect or a
//  server restart. Cumulative acknowledgements forget a prefix; a REJECT
//  forgets one message in the middle, which is then never handed out
//  again. Not thread-safe: the client guards it with its socket lock.
//
//  When unacknowledged messages pile up, the owner calls coalesce: the
//  oldest frames are decoded and folded into a block, a keyed backlog
//  (db NUL table NUL key, the merge rules of zstate_backlog), one entry
//  per key, so that an outage costs O(keys), not O(messages). The block
//  stands for the sequences it replaced. An ACK that covers the block's
//  last sequence forgets it whole. A WELCOME whose delivered is inside the
//  block splits it: entries whose newest operation the level acknowledged
//  are forgotten, those delivered and not acknowledged (level PERSISTED)
//  wait, and the rest are encoded again into messages numbered from
//  delivered + 1, so that the wire sees consecutive sequences. Frames
//  after the block are folded into it first: they would go again too,
//  and so every key goes once.
//
//  Counts: "operations" are those send accepted, which flush and the
//  stats count; "held" is what the client's bounds count: the operations
//  frames carry plus the keys of the block, and their payload bytes plus
//  the block's bytes.

typedef struct _zstate_outbox_t zstate_outbox_t;

//  Create an empty outbox
zstate_outbox_t *
    zstate_outbox_new (void);

//  Destroy the outbox and release every frame it holds
void
    zstate_outbox_destroy (zstate_outbox_t **self_p);

//  Keep a reference to frame, an OPS message of version 2 sent with
//  sequence, which must be 1 above the last one kept (or anything when
//  the outbox is empty), carrying ops operations of bytes payload bytes.
//  The caller keeps its own frame.
void
    zstate_outbox_keep (zstate_outbox_t *self, uint64_t sequence, zmq_msg_t *frame,
                        size_t ops, size_t bytes);

//  The server delivered every message up to and including sequence: flag
//  what it covers delivered, once (a new server instance that delivers
//  them again is not news). A client at level PERSISTED keeps these
//  messages until their ACK says persisted.
void
    zstate_outbox_deliver (zstate_outbox_t *self, uint64_t sequence);

//  Operations held and flagged delivered
size_t
    zstate_outbox_delivered_ops (zstate_outbox_t *self);

//  Forget every message up to and including sequence (delivered too);
//  the block only when sequence covers all of it. Returns the operations
//  forgotten.
size_t
    zstate_outbox_ack (zstate_outbox_t *self, uint64_t sequence);

//  Forget the one message with sequence (refused for good). Returns its
//  operations, 0 when it is not held as a frame (a message folded into
//  the block is refused again when the block is sent again).
size_t
    zstate_outbox_drop (zstate_outbox_t *self, uint64_t sequence);

//  Fold every frame from the oldest into the block, as long as the block
//  stays wholly delivered or wholly not. Returns the frames folded.
size_t
    zstate_outbox_coalesce (zstate_outbox_t *self);

//  A WELCOME: the server delivered up to delivered, and the client's
//  level acknowledges up to acked (<= delivered). Forgets what acked
//  covers. With a block and messages after delivered, first folds every
//  frame into the block; when delivered is inside the block, splits it
//  as described above, encoding messages of at most ops_max operations
//  and bytes_max bytes with session in their header, and sets
//  *renumbered_p: the last sequence is then zstate_outbox_last, which may
//  be below the last one sent. Returns the operations forgotten.
size_t
    zstate_outbox_welcome (zstate_outbox_t *self, uint64_t delivered, uint64_t acked,
                           const byte *session, size_t ops_max, size_t bytes_max,
                           bool *renumbered_p);

//  The number the last renumbering gave the window marker (SNAPSHOT-BEGIN)
//  that was sent as sequence; sequence itself when it gave none. An
//  SNAPSHOT-END renumbered with it takes the BEGIN's new number. Markers
//  carry no operations and are never folded: coalesce stops at the first.
uint64_t
    zstate_outbox_renumbered (zstate_outbox_t *self, uint64_t sequence);

//  Find the first frame held with a sequence of at least from, and
//  initialise *frame as a copy of it (the caller sends or closes it).
//  Returns its sequence, or 0 when there is none.
uint64_t
    zstate_outbox_next (zstate_outbox_t *self, uint64_t from, zmq_msg_t *frame);

//  Lowest sequence held (the block's first), or 0 when the outbox is empty
uint64_t
    zstate_outbox_first (zstate_outbox_t *self);

//  The last sequence kept or given by a renumbering
uint64_t
    zstate_outbox_last (zstate_outbox_t *self);

//  Frames held; held operations and bytes (as the bounds count them);
//  keys in the block
size_t
    zstate_outbox_size (zstate_outbox_t *self);
size_t
    zstate_outbox_ops (zstate_outbox_t *self);
size_t
    zstate_outbox_bytes (zstate_outbox_t *self);
size_t
    zstate_outbox_keys (zstate_outbox_t *self);

//  Operations accepted that the block stands for
size_t
    zstate_outbox_block_ops (zstate_outbox_t *self);

//  Operations accepted and never sent can fold too, into a keyed backlog
//  of their own that has no sequences: they never were on the wire, so
//  they get theirs only when they are sent, after what was sent before.
//  The outbox's counts above leave them out; the client counts them as
//  queued. Each message take_unsent makes goes to emit with its
//  sequence, the operations accepted it stands for, those it carries,
//  and its payload bytes; emit keeps the frame by moving it (zmq_msg_move),
//  else it is closed after (sequence 0: the sender numbers it).
typedef zstate_block_emit_fn zstate_outbox_emit_fn;

//  Fold a queued message (header of header_size, sequence and count not
//  written yet; patched here) of ops operations into the unsent backlog.
//  The caller keeps data, and may free it.
void
    zstate_outbox_fold_unsent (zstate_outbox_t *self, byte *data, size_t size,
                               size_t header_size, size_t ops);

//  Keys and bytes the unsent backlog holds
size_t
    zstate_outbox_unsent_keys (zstate_outbox_t *self);
size_t
    zstate_outbox_unsent_bytes (zstate_outbox_t *self);

//  Encode the unsent backlog, one operation per key, into messages of at
//  most ops_max operations and bytes_max bytes with session in their
//  header, hand each to emit in turn, and empty the backlog
void
    zstate_outbox_take_unsent (zstate_outbox_t *self, const byte *session,
                               size_t ops_max, size_t bytes_max,
                               zstate_outbox_emit_fn *emit, void *arg);

//  Keep a reference to frame as zstate_outbox_keep does, for a message
//  that stands for ops operations accepted and carries wire_ops
void
    zstate_outbox_keep_folded (zstate_outbox_t *self, uint64_t sequence,
                               zmq_msg_t *frame, size_t ops, size_t wire_ops,
                               size_t bytes);

//  A REPLAY (for the server's DB writer only): when the block stands for
//  its from or later, hand the block's entries, encoded as
//  zstate_outbox_take_unsent does and every message numbered as the
//  block's last sequence, to emit (the outbox keeps the block), but for
//  the first skip messages when from is the block's last sequence (the
//  writer has them: encoding a block that has not changed makes the same
//  messages in the same order), and no more than max when the block's
//  last sequence is at most to (max 0: no bound); return the sequence
//  after the block. Else return from. The caller then sends the frames
//  held from the sequence returned.
uint64_t
    zstate_outbox_replay (zstate_outbox_t *self, const zstate_session_msg_t *replay,
                          const byte *session, size_t ops_max, size_t bytes_max,
                          zstate_outbox_emit_fn *emit, void *arg);

//  Self test of this class.
void
    zstate_outbox_test (bool verbose);
//  @end

#ifdef __cplusplus
}
#endif

#endif
