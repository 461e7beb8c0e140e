/*  =========================================================================
    zstate_writer_chain - the writer's backlog as a chain of generations,
    each the coalesced effect of a contiguous run of messages

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_CHAIN_H_INCLUDED
#define ZSTATE_WRITER_CHAIN_H_INCLUDED

#include "zstate_backlog.h"
#include "zstate_writer_marks.h"

//  One generation: the operations of messages first_op..last_op (numbered
//  from 1 over the writer's life), coalesced, one entry per key, and the
//  marks of those messages
typedef struct {
    zstate_backlog_t *backlog;
    zstate_writer_marks_t *marks;
    uint64_t first_op;          //  0 while empty
    uint64_t last_op;
    int64_t since;              //  When its first operation came
} zstate_writer_generation_t;

typedef struct _zstate_writer_chain_t zstate_writer_chain_t;

//  Create a chain: one open generation, none in flight.
zstate_writer_chain_t *
    zstate_writer_chain_new (void);

//  Destroy the chain and everything it holds. Nulls the pointer.
void
    zstate_writer_chain_destroy (zstate_writer_chain_t **self_p);

//  Add operation index of batch under key to the open generation, at time
//  now. Returns 1 when it folded into an entry of that generation, else 0.
int
    zstate_writer_chain_add (zstate_writer_chain_t *self, const void *key, size_t key_size,
                             zstate_batch_t *batch, size_t index, int64_t now);

//  The message whose operations were just added was for (db, table), from
//  session (NULL: none) with its sequence.
void
    zstate_writer_chain_message (zstate_writer_chain_t *self, const char *db,
                                 const char *table, const byte *session, uint64_t sequence);

//  Close the open generation (when not empty): it waits, sealed, behind
//  the ones sealed before, and an empty one opens.
void
    zstate_writer_chain_seal (zstate_writer_chain_t *self);

//  Put the oldest sealed generation in flight, or, when none is sealed,
//  the open one (and open an empty one). Returns the generation taken;
//  NULL when there is nothing to take.
zstate_writer_generation_t *
    zstate_writer_chain_take (zstate_writer_chain_t *self);

//  The oldest generation in flight was confirmed, its entries too (the
//  window confirmed them): raise into with its marks (when not NULL), and
//  free it.
void
    zstate_writer_chain_confirm (zstate_writer_chain_t *self, zstate_writer_marks_t *into);

//  The connection failed: every generation, in flight, sealed or open,
//  becomes one open generation, the older ones under the newer. Returns how many
//  entries folded into another (they count as coalesced).
size_t
    zstate_writer_chain_restore (zstate_writer_chain_t *self);

//  Entries waiting to be sent (open and sealed generations), entries of
//  the open generation, entries in flight, and the bytes of all.
size_t
    zstate_writer_chain_pending (zstate_writer_chain_t *self);
size_t
    zstate_writer_chain_open_size (zstate_writer_chain_t *self);
size_t
    zstate_writer_chain_in_flight (zstate_writer_chain_t *self);
size_t
    zstate_writer_chain_bytes (zstate_writer_chain_t *self);

//  Number of the last operation added (0: none yet).
uint64_t
    zstate_writer_chain_seq (zstate_writer_chain_t *self);

//  The oldest operation not confirmed: its number and time. Returns false
//  when the chain holds nothing.
bool
    zstate_writer_chain_oldest (zstate_writer_chain_t *self, uint64_t *seq_p, int64_t *since_p);

//  When the oldest operation of the open generation came; false if empty.
bool
    zstate_writer_chain_open_since (zstate_writer_chain_t *self, int64_t *since_p);

//  True when any generation holds a message for table.
bool
    zstate_writer_chain_touches (zstate_writer_chain_t *self, const char *table);

//  Selftest
void
    zstate_writer_chain_test (bool verbose);

#endif
