/*  =========================================================================
    zstate_backlog - a keyed, coalescing map of pending operations

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_BACKLOG_H_INCLUDED
#define ZSTATE_BACKLOG_H_INCLUDED

//  @interface
//  A backlog holds the operations (SET, HSET, DEL) that were accepted but
//  not yet confirmed by whoever they are sent to, at most one entry per
//  key. A new operation on a pending key folds into its entry:
//      SET or DEL      replaces what is pending (a DEL stays as a
//                      tombstone, so that it is still sent)
//      HSET            merges its fields into a pending SET or HSET (its
//                      own values win), and over a pending DEL becomes a
//                      SET of exactly its fields
//  Entries leave in first-dirtied order: the order in which their keys
//  became pending; a key dirtied again while pending keeps its place.
//
//  Taking an entry out (zstate_backlog_take) puts it in flight: it leaves
//  the map, so a newer operation on its key starts a new pending entry,
//  but the backlog still owns and counts it until the caller confirms it
//  (freed) or restores it. A restored entry goes back to the head, merged
//  UNDER the pending entry for its key if there is one: a newer SET or DEL
//  wins outright, a newer HSET merges over the older content. To keep the
//  original order, restore entries in the reverse of the order taken, as
//  zstate_backlog_restore_all does.
//
//  Keys are opaque byte strings that the caller builds, so one backlog can
//  serve any namespace: the DB writer keys by its Redis key, "TABLE:KEY";
//  a client keys by (db, table, key), e.g. db NUL table NUL key, which
//  cannot collide as db and table names hold no NUL. Keys, field names
//  and values are binary-safe. The class has no sockets, no I/O and no
//  threads; one backlog belongs to one thread.
//
//  Accounting: keys counts pending and in-flight entries, bytes what they
//  hold (memory, headers included). The caller may check a bound itself
//  (zstate_backlog_full), or let the class refuse: with a bound set, an
//  operation on a new key at the key bound, or any operation at the byte
//  bound, fails with ENOBUFS and changes nothing.

typedef struct _zstate_backlog_t zstate_backlog_t;
typedef struct _zstate_backlog_entry_t zstate_backlog_entry_t;

//  One field of an operation, as the caller holds it
typedef struct {
    const void *name;
    size_t name_size;
    const void *value;
    size_t value_size;
} zstate_backlog_field_t;

//  Create an empty backlog, without a bound.
zstate_backlog_t *
    zstate_backlog_new (void);

//  Destroy the backlog and every entry in it, pending or in flight.
void
    zstate_backlog_destroy (zstate_backlog_t **self_p);

//  Refuse operations at keys entries or bytes bytes (0: no bound on that).
void
    zstate_backlog_set_bound (zstate_backlog_t *self, size_t keys, size_t bytes);

//  Accept operation op (ZSTATE_OP_*) on key with count fields (none for a
//  DEL), at time now (any clock; kept as the age of a new entry). Returns
//  0 when the key became pending, 1 when the operation folded into its
//  pending entry, or -1 with errno ENOBUFS at the bound, EINVAL for a bad
//  op, and zstate_reason ().
int
    zstate_backlog_add (zstate_backlog_t *self, const void *key, size_t key_size, int op,
                        const zstate_backlog_field_t *fields, size_t count, int64_t now);

//  Accept operation index of batch on key, as zstate_backlog_add.
int
    zstate_backlog_add_batch (zstate_backlog_t *self, const void *key, size_t key_size,
                              zstate_batch_t *batch, size_t index, int64_t now);

//  Take the oldest pending entry out for sending: it is in flight from
//  now on. Returns NULL when nothing is pending.
zstate_backlog_entry_t *
    zstate_backlog_take (zstate_backlog_t *self);

//  The entry in flight was confirmed: free it; nulls the pointer.
void
    zstate_backlog_confirm (zstate_backlog_t *self, zstate_backlog_entry_t **entry_p);

//  The entry in flight was not confirmed: make it pending again at the
//  head, merged under any pending entry for its key. Returns 1 when it
//  merged with one (that operation counts as folded in), else 0. Nulls
//  the pointer.
int
    zstate_backlog_restore (zstate_backlog_t *self, zstate_backlog_entry_t **entry_p);

//  Restore every entry in flight, newest first, so that they go back in
//  the order they were taken: what a sender does when its link fails.
//  Returns how many merged with a pending entry.
size_t
    zstate_backlog_restore_all (zstate_backlog_t *self);

//  Walk the pending entries in the order take hands them out, taking
//  none: the first, or NULL; the one after entry, or NULL. Nothing may
//  change the backlog during a walk.
zstate_backlog_entry_t *
    zstate_backlog_first (zstate_backlog_t *self);
zstate_backlog_entry_t *
    zstate_backlog_next (zstate_backlog_entry_t *entry);

//  Pending entries, entries in flight, and the bytes both hold.
size_t
    zstate_backlog_pending (zstate_backlog_t *self);
size_t
    zstate_backlog_in_flight (zstate_backlog_t *self);
size_t
    zstate_backlog_bytes (zstate_backlog_t *self);

//  True when pending plus in flight reach keys, or the bytes reach bytes.
bool
    zstate_backlog_full (zstate_backlog_t *self, size_t keys, size_t bytes);

//  Sequence number of the last operation accepted (the first is 1).
uint64_t
    zstate_backlog_seq (zstate_backlog_t *self);

//  The oldest operation still held, pending or in flight: store its
//  sequence number and time of arrival. Returns false when empty.
bool
    zstate_backlog_oldest (zstate_backlog_t *self, uint64_t *seq_p, int64_t *since_p);

//  Tag the operations added from now on (0 until set): each entry keeps
//  the tag of the newest operation folded into it, e.g. the sequence of
//  the wire message it came in. A restored entry merged with a pending
//  one keeps the pending one's (newer) tag.
void
    zstate_backlog_set_tag (zstate_backlog_t *self, uint64_t tag);

//  An entry's tag: that of the newest operation folded into it.
uint64_t
    zstate_backlog_entry_tag (zstate_backlog_entry_t *entry);

//  Operations folded into an entry, the first one included (a restored
//  entry merged with a pending one adds the pending one's).
size_t
    zstate_backlog_entry_folds (zstate_backlog_entry_t *entry);

//  An entry's key (NUL-terminated as well), its size in *size_p.
const char *
    zstate_backlog_entry_key (zstate_backlog_entry_t *entry, size_t *size_p);

//  An entry's operation: ZSTATE_OP_SET, _HSET or _DEL.
int
    zstate_backlog_entry_op (zstate_backlog_entry_t *entry);

//  Number of fields the entry holds (0 for a DEL).
size_t
    zstate_backlog_entry_field_count (zstate_backlog_entry_t *entry);

//  Fill parts and sizes, 2 x field count slots each, with the fields in
//  order: name at even indexes, value at odd ones (the shape of a Redis
//  HSET argv). Valid until the entry changes.
void
    zstate_backlog_entry_fields (zstate_backlog_entry_t *entry,
                                 const char **parts, size_t *sizes);

//  Bytes of payload the entry holds: its key, and each field's name and
//  value with 8 bytes of sizes.
size_t
    zstate_backlog_entry_size (zstate_backlog_entry_t *entry);

//  Check every invariant by a recount: the counts, the bytes, the table
//  against the pending list, the lists' order. Asserts on a mismatch; for
//  tests.
void
    zstate_backlog_verify (zstate_backlog_t *self);

//  Self test of this class.
void
    zstate_backlog_test (bool verbose);
//  @end

#endif
