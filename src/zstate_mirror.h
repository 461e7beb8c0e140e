/*  =========================================================================
    zstate_mirror - the newest state of every key of one producer table,
    from which the client agent emits snapshots

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_MIRROR_H_INCLUDED
#define ZSTATE_MIRROR_H_INCLUDED

//  @interface
//  A mirror holds one entry per key that the table's operations left in
//  place: a SET replaces the entry, an HSET merges its fields into it (its
//  own values win; over no entry it starts one, still an HSET), a DEL
//  removes the key at once, so that a snapshot lacks it and the receiver's
//  sweep deletes it. An entry remembers whether a SET made it, so that a
//  snapshot says SET or HSET as the producer did.
//
//  The bound is on keys: a batch whose operations, applied in order, would
//  at any point hold more than keys_max keys is refused whole (check), and
//  apply applies a batch that check accepted. A view marks the keys its
//  operations write; end_view drops every key the view did not write.
//
//  A snapshot walks the entries in the order their keys appeared, with a
//  cursor that survives changes: next appends the current content of the
//  entries under the cursor, so an entry is read when it is encoded and is
//  never older than an operation applied before. Keys added while a
//  snapshot runs come after the cursor and are read too; a key removed
//  under the cursor moves it on. No sockets, no threads: the client calls
//  it under its lock.

typedef struct _zstate_mirror_t zstate_mirror_t;

//  Create an empty mirror of at most keys_max keys (at least 1)
zstate_mirror_t *
    zstate_mirror_new (size_t keys_max);

//  Destroy the mirror; nulls the pointer
void
    zstate_mirror_destroy (zstate_mirror_t **self_p);

//  Would applying batch, in order, hold more than keys_max keys at any
//  point? Returns 0 when not, or -1 with errno ENOBUFS and zstate_reason ().
int
    zstate_mirror_check (zstate_mirror_t *self, zstate_batch_t *batch);

//  Apply every operation of batch, in order. Returns the keys the mirror
//  holds after it.
size_t
    zstate_mirror_apply (zstate_mirror_t *self, zstate_batch_t *batch);

//  Keys held; bytes held for them: each key, and each field's name and
//  value with 10 bytes of sizes and terminators
size_t
    zstate_mirror_size (zstate_mirror_t *self);
size_t
    zstate_mirror_bytes (zstate_mirror_t *self);

//  Start marking the keys that operations write (a view)
void
    zstate_mirror_begin_view (zstate_mirror_t *self);

//  End the view: drop every key it did not write. Returns the keys dropped.
size_t
    zstate_mirror_end_view (zstate_mirror_t *self);

//  Put the snapshot cursor on the first entry (restarting any snapshot)
void
    zstate_mirror_snapshot_start (zstate_mirror_t *self);

//  Append to batch, as SET or HSET operations, the entries from the
//  cursor on, while batch stays within ops_max operations and its bytes
//  plus header stay within bytes_max (an entry alone may pass it: it then
//  goes alone); moves the cursor past them. Returns the entries appended,
//  0 when the cursor is past the last entry (the snapshot is done).
size_t
    zstate_mirror_snapshot_next (zstate_mirror_t *self, zstate_batch_t *batch,
                                 size_t header, size_t ops_max, size_t bytes_max);

//  Append the entry of key to batch, as snapshot_next would; returns false
//  when the mirror does not hold key
bool
    zstate_mirror_lookup (zstate_mirror_t *self, const void *key, size_t key_size,
                          zstate_batch_t *batch);

//  Self test of this class
void
    zstate_mirror_test (bool verbose);
//  @end

#endif
