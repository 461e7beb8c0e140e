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
#include "zstate_writer_sweep.h"

//  One generation: the operations of messages first_op..last_op (numbered
//  from 1 over the writer's life; a window marker counts as one),
//  coalesced, one entry per key, the marks of those messages, and the
//  sweep that must run before it is written (a COMPLETE window's, which
//  ended just before it)
typedef struct {
    zstate_backlog_t *backlog;
    zstate_writer_marks_t *marks;
    zstate_writer_sweep_t *sweep;   //  NULL: none
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

//  A window marker (SNAPSHOT-BEGIN or -END) for (db, table) from session
//  (16 octets) with its sequence, at time now: no operation, but its
//  watermark, in the open generation, which it makes non-empty.
void
    zstate_writer_chain_marker (zstate_writer_chain_t *self, const char *db,
                                const char *table, const byte *session, uint64_t sequence,
                                int64_t now);

//  A COMPLETE window ended: seal the open generation when not empty; the
//  one that opens runs sweep (the chain owns it now) before it is sent.
//  So the sweep comes after every message before the END, and before
//  every message after it, failures included (see restore).
void
    zstate_writer_chain_barrier (zstate_writer_chain_t *self, zstate_writer_sweep_t *sweep);

//  The sweep of the generation that take would return, or NULL: the
//  writer runs it first, with nothing in flight, then calls sweep_done,
//  which destroys it.
zstate_writer_sweep_t *
    zstate_writer_chain_next_sweep (zstate_writer_chain_t *self);
void
    zstate_writer_chain_sweep_done (zstate_writer_chain_t *self);

//  True when take would return a generation (operations, markers or a
//  sweep wait).
bool
    zstate_writer_chain_ready (zstate_writer_chain_t *self);

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
//  folds into the newest older one that has no sweep to wait for, the
//  older ones under the newer; a generation with a sweep begins a new
//  run, so each sweep still comes between what was before its END and
//  what came after. The newest run is the open generation, the others
//  wait sealed. Returns how many entries folded into another (they count
//  as coalesced).
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
