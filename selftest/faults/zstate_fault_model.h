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
//
//  State resync (a snapshot or a view replaces the table) adds:
//  - DELs: with set_dels, some operations are DELs instead of SETs (a
//    fixed, pseudo-random choice per operation, the same in every process
//    that builds the model); a key whose last accepted operation is a DEL
//    is expected absent. A popped DEL is a line "D%07u %09u\n" with seq 0:
//    it carries no field, so it names no one operation, and it only
//    empties the key's view.
//  - Views: keys that no operation accepted between begin_view and
//    end_view are expected absent (the view replaced the table); a view
//    that never ends changes nothing.
//  - The final state key by key, against a dump of the application's view
//    (lines "%07u %09u\n", the present keys) or against Redis (every hash
//    TABLE:*): missing keys (expected, absent), extra keys (present,
//    expected absent, or no key of the model: orphans) and stale keys
//    (present with another seq).
//  The final expected state is the same for every client that mirrors:
//  what a snapshot coalesced or sent twice is not counted there.

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

//  The final state of a table, key by key, against the model
typedef struct {
    uint64_t keys;              //  keys present
    uint64_t missing;           //  expected present, absent
    uint64_t extra;             //  present, expected absent or not a model key
    uint64_t stale;             //  present with another seq than expected
} zstate_fault_view_t;

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

//  Make percent of the operations (0 to 100) DELs. Before the first next.
void
    zstate_fault_model_set_dels (zstate_fault_model_t *self, unsigned percent);

//  True when operation number op is a DEL.
bool
    zstate_fault_model_is_del (zstate_fault_model_t *self, int64_t op);

//  A view begins: from end_view on, keys that no operation accepted after
//  this call are expected absent.
void
    zstate_fault_model_begin_view (zstate_fault_model_t *self);

//  The view begun last ends complete. Returns the keys it made absent.
size_t
    zstate_fault_model_end_view (zstate_fault_model_t *self);

//  Return the seq key number key is expected to hold at the end, 0 when it
//  is expected absent.
unsigned
    zstate_fault_model_expected (zstate_fault_model_t *self, size_t key);

//  Return the keys expected present.
size_t
    zstate_fault_model_present (zstate_fault_model_t *self);

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

//  Compare a dump of the application's view at path (lines "%07u %09u",
//  lines of other shapes skipped) with the model into *view. Returns 0,
//  or -1 with errno when the dump cannot be read.
int
    zstate_fault_model_check_view (zstate_fault_model_t *self, const char *path,
                                   zstate_fault_view_t *view);

//  Compare every hash table:* in Redis at endpoint with the model into
//  *view (keys that are no model key count as extra). Returns 0, or -1
//  when Redis cannot be read.
int
    zstate_fault_model_check_redis_view (zstate_fault_model_t *self, const char *endpoint,
                                         const char *table, zstate_fault_view_t *view);

//  The same over count tables, key number k in tables [k % count]; what
//  every table:* holds that no model key accounts for is extra.
int
    zstate_fault_model_check_redis_tables (zstate_fault_model_t *self, const char *endpoint,
                                           const char **tables, size_t count,
                                           zstate_fault_view_t *view);

//  Return the keys a view gets wrong: missing + extra + stale.
uint64_t
    zstate_fault_view_wrong (zstate_fault_view_t *view);

//  Self test of this class.
void
    zstate_fault_model_test (bool verbose);
//  @end

#endif
