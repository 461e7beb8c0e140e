/*  =========================================================================
    zstate_keyset - private class: the keys a consumer table's application
    holds, and the window (snapshot or view) that may sweep them

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_KEYSET_H_INCLUDED
#define ZSTATE_KEYSET_H_INCLUDED

//  A key set follows what a consumer's application has been handed: a SET
//  or HSET adds its key, a DEL removes it. A window is one session's run
//  of the table between a SNAPSHOT-BEGIN and its SNAPSHOT-END (doc/
//  protocol.md): every SET or HSET noted while it is open marks its key,
//  and a COMPLETE END that matches it (same session, begin = the BEGIN's
//  sequence) moves every held key it did not mark onto the sweep, whose
//  DELs the caller hands to the application before anything else. So a
//  window replaces the table; nothing is deleted without a COMPLETE END.
//
//  One window is open at a time: a BEGIN while one is open abandons it
//  (a producer that died mid-view and came back); an ABANDONED END closes
//  it without a sweep; an END that matches nothing is ignored. All counted.
//
//  With the sweep off, no keys are kept and windows still open and close
//  (so the caller can tell their operations apart), but a COMPLETE END
//  sweeps nothing: the window merges, counted.
//
//  The hash is keyed by a secret seed of each key set's own, so that a
//  producer cannot choose keys that collide (hash flooding).
//
//  Memory: per held key, 8 bytes plus the key rounded up to 8 in one
//  arena (no allocation per key), and an 8-byte slot of a table kept
//  between a thirty-second and three quarters full. Noting a key that is
//  held already allocates nothing, and a window's sweep reuses the table
//  and the arena: a table whose keys are replaced round after round keeps
//  its memory. The class has no sockets and no threads; a key set belongs
//  to the thread that pops.
typedef struct _zstate_keyset_t zstate_keyset_t;

//  What zstate_keyset_end did
typedef enum {
    ZSTATE_KEYSET_SWEPT = 0,        //  COMPLETE: the sweep holds the rest
    ZSTATE_KEYSET_MERGED = 1,       //  COMPLETE, with the sweep off
    ZSTATE_KEYSET_ABANDONED = 2,    //  ABANDONED: closed, nothing swept
    ZSTATE_KEYSET_IGNORED = 3       //  matched no open window
} zstate_keyset_end_t;

//  Create an empty key set, sweep on.
zstate_keyset_t *
    zstate_keyset_new (void);

//  Destroy the key set, its keys and its sweep; nulls the pointer.
void
    zstate_keyset_destroy (zstate_keyset_t **self_p);

//  Turn the sweep on or off. Off drops every held key (the sweep already
//  queued stays). Back on returns -1 with errno EBUSY and zstate_reason ()
//  once any operation was noted: the set would miss the keys the
//  application holds, and a sweep would leave them.
int
    zstate_keyset_set_sweep (zstate_keyset_t *self, bool sweep);

//  True when the sweep is on.
bool
    zstate_keyset_sweeps (zstate_keyset_t *self);

//  Note operations from to the end of batch, which the caller hands to the
//  application: SET and HSET add (and in a window mark) their keys, DEL
//  removes its key.
void
    zstate_keyset_note (zstate_keyset_t *self, zstate_batch_t *batch, size_t from);

//  A SNAPSHOT-BEGIN of session (16 bytes) at sequence, of either kind
//  (snapshot or view: both replace the table): opens a window, abandoning
//  the open one if any.
void
    zstate_keyset_begin (zstate_keyset_t *self, const byte *session, uint64_t sequence);

//  A SNAPSHOT-END of session for the BEGIN at sequence begin, of count
//  entries, complete or not. Returns what it did (zstate_keyset_end_t).
//  A COMPLETE END after fewer operations than count were noted in its
//  window counts as short; it sweeps the same.
int
    zstate_keyset_end (zstate_keyset_t *self, const byte *session, uint64_t begin,
                       uint64_t count, bool complete);

//  True while a window is open.
bool
    zstate_keyset_open (zstate_keyset_t *self);

//  DELs on the sweep, not handed out yet.
size_t
    zstate_keyset_sweeping (zstate_keyset_t *self);

//  Append up to max DELs of the sweep to batch, in no particular order.
//  Returns the DELs appended.
size_t
    zstate_keyset_sweep_pops (zstate_keyset_t *self, zstate_batch_t *batch, size_t max);

//  Keys held.
size_t
    zstate_keyset_size (zstate_keyset_t *self);

//  True when key, of size bytes, is held.
bool
    zstate_keyset_holds (zstate_keyset_t *self, const void *key, size_t size);

//  Fill the window counters of *stats: windows, windows_completed,
//  windows_abandoned, windows_ignored, windows_merged, swept, keys and
//  windows_short.
void
    zstate_keyset_stats (zstate_keyset_t *self, zstate_consumer_stats_t *stats);

//  Completed windows that saw fewer operations than their END counted.
uint64_t
    zstate_keyset_windows_short (zstate_keyset_t *self);

//  Self test of this class.
void
    zstate_keyset_test (bool verbose);

#ifdef ZSTATE_SELFTEST
//  Selftest hooks for selftest/zstate_keyset_suite.c: the hash of key
//  (this set's seed), the sum over held keys of the slots each sits past
//  its hash's, the bytes the table and the arena have (and the times
//  either was allocated), the table's slots, and the generation the next
//  window's comes after.
uint32_t
    zstate_keyset_test_hash (zstate_keyset_t *self, const void *key, size_t size);
size_t
    zstate_keyset_test_displacement (zstate_keyset_t *self);
size_t
    zstate_keyset_test_memory (zstate_keyset_t *self, size_t *allocations);
size_t
    zstate_keyset_test_slots (zstate_keyset_t *self);
void
    zstate_keyset_test_set_generation (zstate_keyset_t *self, uint32_t generation);
#endif

#endif
