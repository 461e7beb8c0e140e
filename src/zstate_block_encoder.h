/*  =========================================================================
    zstate_block_encoder - the entries of a client's keyed backlog (db NUL
    table NUL key) encoded as version 2 OPS messages of its session

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_BLOCK_ENCODER_H_INCLUDED
#define ZSTATE_BLOCK_ENCODER_H_INCLUDED

#include "zstate.h"
#include "zstate_backlog.h"

//  @interface
//  A message ends where the next entry is of another (db, table) or would
//  pass ops_max operations or bytes_max bytes, so encoding the same
//  entries with the same bounds makes the same messages in the same
//  order. The encoder lives on the caller's stack for one pass.
//
//  Each message made goes to emit with its sequence, the operations
//  accepted that it stands for, those it carries and its payload bytes;
//  emit takes the frame (zmq_msg_move) or leaves it, to be closed.
typedef void (zstate_block_emit_fn) (void *arg, zmq_msg_t *frame, uint64_t sequence,
                                     size_t ops, size_t wire_ops, size_t bytes);

//  Where messages of a block began in its last walk, so that a walk that
//  skips the first messages (a REPLAY's skip: what the writer has) starts
//  at the nearest one instead of at the block's first entry. A block of N
//  messages that a writer takes k at a time then costs O(N) to replay in
//  all, not O(N * N / k). Marks hold while the block does not change.
#define ZSTATE_BLOCK_MARKS  512

typedef struct {
    uint64_t changes;           //  the block's count of changes, when walked
    size_t ops_max;             //  the bounds of that walk
    size_t bytes_max;
    size_t count;               //  marks made in it; the last MARKS are kept
    uint32_t message [ZSTATE_BLOCK_MARKS];  //  a message's place in the block
    zstate_backlog_entry_t *entry [ZSTATE_BLOCK_MARKS];     //  its first entry
} zstate_block_marks_t;

typedef struct {
    //  Set by the caller, then zstate_block_encoder_start
    const byte *session;        //  in each message's header
    size_t ops_max;             //  operations in one message, at most
    size_t bytes_max;           //  bytes in one message, at most
    uint64_t sequence;          //  of the next message
    bool renumber;              //  each message the next sequence, else
                                //  every one numbered sequence
    zstate_block_emit_fn *emit;
    void *arg;                  //  for emit
    uint32_t skip;              //  messages made but not emitted, the first
    uint32_t left;              //  messages emitted at most after those
    //  The encoder's own
    zstate_batch_t *batch;      //  operations of the message being built
    char db [ZSTATE_NAME_MAX + 1];
    char table [ZSTATE_NAME_MAX + 1];
    size_t ops;                 //  operations accepted that it stands for
    uint32_t made;              //  messages made, skipped ones included
    zstate_block_marks_t *marks;    //  marks of this walk, or NULL
    size_t added;               //  entries added
    const char **parts;         //  an entry's field names and values
    size_t *sizes;              //  ... and their sizes
    size_t parts_max;           //  entries parts and sizes have room for
} zstate_block_encoder_t;

//  Get ready for the entries, once the caller's fields are set.
void
    zstate_block_encoder_start (zstate_block_encoder_t *self);

//  Add one entry, making the message before it when it begins a new one.
void
    zstate_block_encoder_add (zstate_block_encoder_t *self, zstate_backlog_entry_t *entry);

//  Make the last message, and free what the encoder holds.
void
    zstate_block_encoder_end (zstate_block_encoder_t *self);

//  Encode block (which has seen changes changes) from its first entry,
//  skipping self->skip messages and emitting self->left at most: from the
//  nearest mark at or before the skip when marks hold this block as it is
//  and these bounds, else from the block's first entry. Leaves the marks
//  of this walk in marks. The block does not change.
void
    zstate_block_encoder_walk (zstate_block_encoder_t *self, zstate_backlog_t *block,
                               uint64_t changes, zstate_block_marks_t *marks);

//  Self test of this class.
void
    zstate_block_encoder_test (bool verbose);
//  @end

#endif
