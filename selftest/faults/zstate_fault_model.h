/*  =========================================================================
    zstate_fault_model - what the producer wrote, checked against what the
    application popped and what Redis holds

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_FAULT_MODEL_H_INCLUDED
#define ZSTATE_FAULT_MODEL_H_INCLUDED

#include <czmq.h>

//  @interface
//  The producer writes keys "k%07u" round robin: operation number i is
//  key i % keys with field seq = i / keys + 1, the n-th write of the key
//  being seq n. So every (key, seq) names exactly one operation, and the
//  model needs one byte per operation: whether send accepted it, and how
//  many times the application popped it.
//
//  A pop log may hold instances, each begun by a line "I": the application
//  started again, from the restored entries (lines "R key seq") that
//  follow; its view is those, then what it pops. Within an instance:
//      duplicates   pops of an operation the instance has (popped or
//                   restored) already
//      regressions  pops of a seq lower than the instance has for the key
//  A log without "I" lines is one instance. Across the log:
//      lost         accepted operations neither popped nor in a restored
//                   entry of their key with that seq or a later one, and
//                   whose key no instance popped with a later seq
//      coalesced    accepted operations neither popped nor restored, of a
//                   key some instance popped with a later seq: the outbox
//                   folded them into that one (it coalesces in an outage)
//      wrong keys   the last instance's final view against the model
//
//  Checks, key by key:
//      lost         accepted operations that were never popped, and no
//                   later seq of their key either
//      coalesced    accepted operations never popped, of a key whose later
//                   seq was
//      duplicates   pops of an operation beyond its first
//      regressions  pops of a seq lower than one already popped for the key
//      wrong keys   keys whose final view (the last seq popped) is not the
//                   last seq accepted; a key nobody accepted must be absent
//      unknown      popped lines that name no operation that was sent
//  and, for Redis, wrong keys: the hash TABLE:key whose field seq is not
//  the last seq accepted (or which exists when nothing was accepted).

typedef struct _zstate_fault_model_t zstate_fault_model_t;

typedef struct {
    uint64_t sent;              //  operations offered to send
    uint64_t accepted;          //  ... that send accepted
    uint64_t popped;            //  lines in the pop log
    uint64_t lost;
    uint64_t coalesced;
    uint64_t duplicates;
    uint64_t regressions;
    uint64_t wrong_keys;
    uint64_t unknown;
    uint64_t instances;         //  "I" lines
    uint64_t restored;          //  "R" lines
} zstate_fault_result_t;

//  Create a model of keys keys and at most ops operations.
zstate_fault_model_t *
    zstate_fault_model_new (size_t keys, size_t ops);

//  Destroy the model; nulls the pointer.
void
    zstate_fault_model_destroy (zstate_fault_model_t **self_p);

//  Return the number of the next operation to send, and store its key
//  name (at least 16 bytes) and seq; -1 when the model is full.
int64_t
    zstate_fault_model_next (zstate_fault_model_t *self, char *key, unsigned *seq_p);

//  Record the outcome of sending operation number op: accepted or not;
//  either way the next call to next moves on.
void
    zstate_fault_model_sent (zstate_fault_model_t *self, int64_t op, bool accepted);

//  Return the operations accepted so far.
uint64_t
    zstate_fault_model_accepted (zstate_fault_model_t *self);

//  Read the pop log at path and fill *result. Returns 0, or -1 with errno
//  when the log cannot be read (a missing log is an empty one).
int
    zstate_fault_model_check_log (zstate_fault_model_t *self, const char *path,
                                  zstate_fault_result_t *result);

//  Compare Redis at endpoint ("127.0.0.1:port"), hashes table:key, with
//  the model. Returns the wrong keys, or -1 when Redis cannot be read.
int64_t
    zstate_fault_model_check_redis (zstate_fault_model_t *self, const char *endpoint,
                                    const char *table);

//  Self test of this class.
void
    zstate_fault_model_test (bool verbose);
//  @end

#endif
