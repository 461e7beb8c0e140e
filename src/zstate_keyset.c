/*  =========================================================================
    zstate_keyset - private class: the keys a consumer table's application
    holds, and the window (snapshot or view) that may sweep them

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    zstate_keyset keeps the keys a consumer table handed to its
    application, marks those a window's operations touch, and at the
    window's COMPLETE END moves the unmarked ones onto a sweep of DELs.
    See the header for the rules.
@discuss
    The keys sit in one arena, each as its size, its mark and its bytes,
    rounded up to 8, so a key new to the set costs no allocation. A full
    arena is compacted in place when deleted keys take half of it, and
    doubles otherwise; one sixteen times too big for its keys is compacted
    and shrinks (one of no keys starts again). An open-addressing table
    (linear probing, a power of two of 8-byte slots, grown at three
    quarters full, shrunk only below a thirty-second) finds them: a slot
    holds the key's hash and its offset in the arena, so probing reads a
    key only when its hash matches. A DEL closes the gap it leaves by
    moving later keys back (no tombstones).

    Marks are generations: each window takes the next number, and a key is
    marked when it holds the open window's number, so opening a window
    costs nothing per key (once in 2^32 windows the numbers start again
    and every mark is cleared). The sweep walks the slots once, moves the
    unmarked keys onto an array of DELs to hand out and places the keys
    that stay again in the same table, which it shrinks only when far too
    big: a long-lived consumer reuses its memory round after round instead
    of paying for fresh pages.

    The hash reads the key eight bytes at a time, each mixed with a seed
    of the key set's own through a 128-bit multiply (as wyhash does), so
    which keys collide is a secret; note hashes sixteen
    keys and prefetches their slots, then the keys those slots hold,
    before it looks any of them up, so that the cache misses overlap:
    this runs for every operation a consumer pops.
@end
*/

#include "zstate_classes.h"
#include "zstate_keyset.h"
#include <sys/mman.h>
#include <sys/random.h>

#define SLOTS_MIN       64
#define SLOTS_SPARSE    32      //  a table shrinks below 1/SLOTS_SPARSE full
#define NOTE_AHEAD      16      //  keys whose slots note fetches ahead
#define SWEEP_AHEAD     8       //  slots whose keys the sweep fetches ahead
#define HUGE_PAGE       (2 * 1024 * 1024)
#define UNIT            8       //  what an arena offset counts, in bytes
#define ARENA_MIN       (64 * 1024)
#define DEAD            0x80000000u     //  in size: the key was deleted

//  A key in the arena, UNIT-aligned
typedef struct {
    uint32_t size;              //  bytes of key, with DEAD once deleted
    uint32_t mark;              //  generation of the window that marked it
    byte key [];
} entry_t;

//  A slot of the table: empty when ref is 0 (offset 0 holds no key)
typedef struct {
    uint32_t hash;
    uint32_t ref;               //  the key's offset in the arena, in UNITs
} slot_t;

struct _zstate_keyset_t {
    slot_t *slots;
    size_t slot_count;          //  a power of two
    size_t keys;                //  slots in use
    byte *arena;                //  the keys held, swept and deleted
    size_t arena_size;          //  bytes allocated
    size_t arena_used;          //  bytes up to the last key
    size_t arena_dead;          //  bytes of deleted keys
    size_t allocations;         //  of a table or the arena, for the selftest
    bool sweep;                 //  keep keys and sweep them
    bool noted;                 //  operations were noted, on or off
    bool open;                  //  a window is open
    byte session [ZSTATE_MSG_SESSION_SIZE];    //  of the open window
    uint64_t begin;             //  its BEGIN's sequence
    uint32_t generation;        //  its mark
    uint32_t *swept;            //  DELs to hand out (their refs), from the end
    size_t sweeping;            //  their count
    size_t swept_max;           //  refs allocated in swept
    uint64_t seen;              //  operations noted in the open window
    uint64_t seed [2];          //  the hash's secret
    zstate_consumer_stats_t stats;  //  the window counters only
};


//  --------------------------------------------------------------------------
//  The hash

//  The high and low halves of a 128-bit product, folded (wyhash's mix)
static inline uint64_t
s_mix (uint64_t a, uint64_t b)
{
    __uint128_t product = (__uint128_t) a * b;
    return (uint64_t) product ^ (uint64_t) (product >> 64);
}

//  A hash keyed by the table's secret seed: without it, a producer could
//  choose keys that all land on one slot and make every lookup walk them
//  all (hash flooding). One 64x64->128 multiply per eight bytes
static uint32_t
s_hash (zstate_keyset_t *self, const byte *key, size_t size)
{
    uint64_t hash = self->seed [0] ^ (uint64_t) size;
    uint64_t word;
    while (size > 8) {
        memcpy (&word, key, 8);
        hash = s_mix (word ^ self->seed [1], hash ^ 0x9E3779B97F4A7C15ULL);
        key += 8;
        size -= 8;
    }
    word = 0;
    memcpy (&word, key, size);
    hash = s_mix (word ^ self->seed [1], hash ^ 0x9E3779B97F4A7C15ULL);
    //  The slot index takes the low bits: fold the high ones in again
    return (uint32_t) s_mix (hash, self->seed [0] ^ 0xE7037ED1A0B428DBULL);
}

//  A secret seed of the kernel's randomness; should it have none yet,
//  the clock and this stack's address, spread (a weaker secret, still
//  not one a producer can compute ahead)
static void
s_seed (uint64_t *seed)
{
    if (getrandom (seed, 2 * sizeof (uint64_t), GRND_NONBLOCK) == 2 * sizeof (uint64_t))
        return;
    uint64_t state = (uint64_t) zclock_usecs () ^ (uint64_t) (uintptr_t) &state;
    for (int index = 0; index < 2; index++) {
        //  SplitMix64
        uint64_t value = (state += 0x9E3779B97F4A7C15ULL);
        value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
        value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
        seed [index] = value ^ (value >> 31);
    }
}


//  --------------------------------------------------------------------------
//  The arena

static inline entry_t *
s_entry (zstate_keyset_t *self, uint32_t ref)
{
    return (entry_t *) (self->arena + (size_t) ref * UNIT);
}

//  Bytes a key of size takes in the arena
static inline size_t
s_entry_bytes (size_t size)
{
    return (sizeof (entry_t) + size + UNIT - 1) / UNIT * UNIT;
}

//  Give the arena size bytes, keeping what it holds (realloc moves a
//  large block by remapping its pages, without copying or touching them)
static void
s_arena_resize (zstate_keyset_t *self, size_t size)
{
    assert (size / UNIT <= UINT32_MAX);
    self->arena = (byte *) realloc (self->arena, size);
    assert (self->arena);
    self->arena_size = size;
    self->allocations++;
}

//  Move the keys down over the deleted ones, in place; each key moved
//  finds its slot by its hash, a few keys at a time so that the misses
//  on their slots overlap. Not while a sweep is queued: its refs point
//  into the arena
static void
s_arena_compact (zstate_keyset_t *self)
{
    assert (!self->sweeping);
    size_t mask = self->slot_count - 1;
    size_t from = UNIT, to = UNIT;
    size_t moving [NOTE_AHEAD];     //  offsets of the next keys to move
    size_t homes [NOTE_AHEAD];      //  and their home slots
    while (from < self->arena_used) {
        size_t count = 0;
        while (count < NOTE_AHEAD && from < self->arena_used) {
            entry_t *entry = (entry_t *) (self->arena + from);
            if (!(entry->size & DEAD)) {
                moving [count] = from;
                homes [count] = s_hash (self, entry->key, entry->size) & mask;
                __builtin_prefetch (&self->slots [homes [count++]]);
            }
            from += s_entry_bytes (entry->size & ~DEAD);
        }
        //  Each goes below the next one's bytes: moving it overwrites none
        for (size_t index = 0; index < count; index++) {
            size_t slot = homes [index];
            while (self->slots [slot].ref != moving [index] / UNIT) {
                assert (self->slots [slot].ref);
                slot = (slot + 1) & mask;
            }
            self->slots [slot].ref = (uint32_t) (to / UNIT);
            entry_t *entry = (entry_t *) (self->arena + moving [index]);
            size_t bytes = s_entry_bytes (entry->size);
            memmove (self->arena + to, entry, bytes);
            to += bytes;
        }
    }
    self->arena_used = to;
    self->arena_dead = 0;
}

//  Copy key into the arena, unmarked; returns its ref
static uint32_t
s_arena_add (zstate_keyset_t *self, const byte *key, size_t size)
{
    assert (size <= ZSTATE_KEY_MAX);
    size_t bytes = s_entry_bytes (size);
    //  Full: the deleted keys' room first, when they have half of it
    if (self->arena_used + bytes > self->arena_size && !self->sweeping
    &&  self->arena_dead * 2 >= self->arena_used)
        s_arena_compact (self);
    if (self->arena_used + bytes > self->arena_size) {
        size_t grown = self->arena_size? self->arena_size * 2: ARENA_MIN;
        while (grown < self->arena_used + bytes)
            grown *= 2;
        s_arena_resize (self, grown);
    }
    entry_t *entry = (entry_t *) (self->arena + self->arena_used);
    entry->size = (uint32_t) size;
    entry->mark = 0;
    memcpy (entry->key, key, size);
    uint32_t ref = (uint32_t) (self->arena_used / UNIT);
    self->arena_used += bytes;
    return ref;
}

//  The key at ref is gone: its bytes count as dead
static void
s_arena_delete (zstate_keyset_t *self, uint32_t ref)
{
    entry_t *entry = s_entry (self, ref);
    self->arena_dead += s_entry_bytes (entry->size);
    entry->size |= DEAD;
}

//  An arena of no keys, its memory kept; offset 0 stays unused, so that
//  ref 0 can mean an empty slot
static void
s_arena_reset (zstate_keyset_t *self)
{
    self->arena_used = UNIT;
    self->arena_dead = 0;
}

//  After keys left: an arena of none starts again, and one sixteen times
//  too big for the keys it holds is compacted and shrinks to at most four
//  times. Not while a sweep is queued
static void
s_arena_trim (zstate_keyset_t *self)
{
    if (self->sweeping)
        return;
    if (self->keys == 0)
        s_arena_reset (self);
    if (self->arena_size <= ARENA_MIN
    ||  (self->arena_used - self->arena_dead) * 16 >= self->arena_size)
        return;
    if (self->keys)
        s_arena_compact (self);
    size_t size = self->arena_size;
    while (size > ARENA_MIN && self->arena_used * 4 <= size)
        size /= 2;
    s_arena_resize (self, size);
}


//  --------------------------------------------------------------------------
//  The table

//  The slot that holds key, or the empty slot where it would go
static inline slot_t *
s_find (zstate_keyset_t *self, const byte *key, size_t size, uint32_t hash)
{
    size_t mask = self->slot_count - 1;
    size_t index = hash & mask;
    while (true) {
        slot_t *slot = &self->slots [index];
        if (!slot->ref)
            return slot;
        if (slot->hash == hash) {
            entry_t *entry = s_entry (self, slot->ref);
            if (entry->size == size && memcmp (entry->key, key, size) == 0)
                return slot;
        }
        index = (index + 1) & mask;
    }
}

//  A table of count empty slots. A table of 2 MiB or more asks for huge
//  pages: every lookup lands on a random slot, and with 4 KiB pages most
//  of them would miss the TLB as well as the cache
static slot_t *
s_slots_new (size_t count)
{
    size_t size = count * sizeof (slot_t);
    if (size < HUGE_PAGE) {
        slot_t *slots = (slot_t *) zmalloc (size);
        assert (slots);
        return slots;
    }
    void *slots = NULL;
    int rc = posix_memalign (&slots, HUGE_PAGE, size);
    assert (rc == 0);
    madvise (slots, size, MADV_HUGEPAGE);   //  a hint: the kernel may say no
    memset (slots, 0, size);
    return (slot_t *) slots;
}

//  Place slot in the first free slot from its home
static inline void
s_place (slot_t *slots, size_t mask, slot_t slot)
{
    size_t target = slot.hash & mask;
    while (slots [target].ref)
        target = (target + 1) & mask;
    slots [target] = slot;
}

//  Place every key of the table into a new one of count slots
static void
s_rebuild (zstate_keyset_t *self, size_t count)
{
    slot_t *slots = s_slots_new (count);
    for (size_t index = 0; index < self->slot_count; index++)
        if (self->slots [index].ref)
            s_place (slots, count - 1, self->slots [index]);
    free (self->slots);
    self->slots = slots;
    self->slot_count = count;
    self->allocations++;
}

//  A table far too big for its keys shrinks to between an eighth and a
//  quarter full; one less sparse stays, so that keys that come and go do
//  not make it shrink and grow again
static void
s_shrink (zstate_keyset_t *self)
{
    if (self->slot_count == SLOTS_MIN || self->keys * SLOTS_SPARSE >= self->slot_count)
        return;
    size_t count = self->slot_count;
    while (count > SLOTS_MIN && self->keys * 8 < count)
        count /= 2;
    s_rebuild (self, count);
}

//  Empty slot, moving back the keys after it that may take it (their home
//  slot is not between the gap and where they are)
static void
s_remove (zstate_keyset_t *self, slot_t *slot)
{
    size_t mask = self->slot_count - 1;
    size_t hole = (size_t) (slot - self->slots);
    size_t index = hole;
    while (true) {
        index = (index + 1) & mask;
        slot_t *next = &self->slots [index];
        if (!next->ref)
            break;
        size_t home = next->hash & mask;
        if (((index - home) & mask) >= ((index - hole) & mask)) {
            self->slots [hole] = *next;
            hole = index;
        }
    }
    self->slots [hole].ref = 0;
}

//  Drop every held key; the table and the arena shrink back
static void
s_clear (zstate_keyset_t *self)
{
    free (self->slots);
    self->keys = 0;
    self->slot_count = SLOTS_MIN;
    self->slots = s_slots_new (SLOTS_MIN);
    s_arena_trim (self);
}


//  --------------------------------------------------------------------------
//  Create an empty key set, sweep on.

zstate_keyset_t *
zstate_keyset_new (void)
{
    zstate_keyset_t *self = (zstate_keyset_t *) zmalloc (sizeof (zstate_keyset_t));
    assert (self);
    self->slot_count = SLOTS_MIN;
    self->slots = s_slots_new (SLOTS_MIN);
    s_arena_reset (self);
    self->sweep = true;
    s_seed (self->seed);
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy the key set; nulls the pointer.

void
zstate_keyset_destroy (zstate_keyset_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_keyset_t *self = *self_p;
        free (self->slots);
        free (self->arena);
        free (self->swept);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Turn the sweep on or off.

int
zstate_keyset_set_sweep (zstate_keyset_t *self, bool sweep)
{
    assert (self);
    if (sweep && !self->sweep && self->noted)
        return zstate_fail (EBUSY, "the sweep cannot come back on once operations "
                            "were popped: it would not know the keys they left");
    if (!sweep)
        s_clear (self);
    self->sweep = sweep;
    return 0;
}

bool
zstate_keyset_sweeps (zstate_keyset_t *self)
{
    assert (self);
    return self->sweep;
}


//  --------------------------------------------------------------------------
//  Note operations from to the end of batch.

//  A SET or HSET: hold the key, marked when a window is open
static void
s_hold (zstate_keyset_t *self, const byte *key, size_t size, uint32_t hash)
{
    slot_t *slot = s_find (self, key, size, hash);
    uint32_t mark = self->open? self->generation: 0;
    if (slot->ref) {
        entry_t *entry = s_entry (self, slot->ref);
        if (entry->mark != mark)
            entry->mark = mark;
        return;
    }
    uint32_t ref = s_arena_add (self, key, size);
    s_entry (self, ref)->mark = mark;
    slot->hash = hash;
    slot->ref = ref;
    if (++self->keys * 4 > self->slot_count * 3)
        s_rebuild (self, self->slot_count * 2);
}

//  A DEL: the key is not held any more
static void
s_drop (zstate_keyset_t *self, const byte *key, size_t size, uint32_t hash)
{
    slot_t *slot = s_find (self, key, size, hash);
    if (slot->ref) {
        s_arena_delete (self, slot->ref);
        s_remove (self, slot);
        self->keys--;
        s_shrink (self);
        s_arena_trim (self);
    }
}

void
zstate_keyset_note (zstate_keyset_t *self, zstate_batch_t *batch, size_t from)
{
    assert (self);
    size_t count = zstate_batch_size (batch);
    self->noted = self->noted || from < count;
    if (self->open && from < count)
        self->seen += count - from;
    if (!self->sweep)
        return;
    //  A few keys at a time: hash them and ask for their slots first, so
    //  that the table's cache misses overlap instead of queueing
    const byte *keys [NOTE_AHEAD];
    size_t sizes [NOTE_AHEAD];
    uint32_t hashes [NOTE_AHEAD];
    for (size_t first = from; first < count; first += NOTE_AHEAD) {
        size_t ahead = first + NOTE_AHEAD < count? NOTE_AHEAD: count - first;
        for (size_t index = 0; index < ahead; index++) {
            keys [index] = (const byte *) zstate_batch_key (batch, first + index,
                                                            &sizes [index]);
            hashes [index] = s_hash (self, keys [index], sizes [index]);
            __builtin_prefetch (&self->slots [hashes [index] & (self->slot_count - 1)]);
        }
        //  Then the keys those slots point to, where the hash matches
        for (size_t index = 0; index < ahead; index++) {
            slot_t *slot = &self->slots [hashes [index] & (self->slot_count - 1)];
            if (slot->ref && slot->hash == hashes [index])
                __builtin_prefetch (s_entry (self, slot->ref));
        }
        for (size_t index = 0; index < ahead; index++)
            if (zstate_batch_op (batch, first + index) == ZSTATE_OP_DEL)
                s_drop (self, keys [index], sizes [index], hashes [index]);
            else
                s_hold (self, keys [index], sizes [index], hashes [index]);
    }
}


//  --------------------------------------------------------------------------
//  A SNAPSHOT-BEGIN: open a window, abandoning the open one if any.

void
zstate_keyset_begin (zstate_keyset_t *self, const byte *session, uint64_t sequence)
{
    assert (self);
    assert (session);
    if (self->open)
        self->stats.windows_abandoned++;
    if (++self->generation == 0) {
        //  The marks start again: none may pass for the new window's
        size_t offset = UNIT;
        while (offset < self->arena_used) {
            entry_t *entry = (entry_t *) (self->arena + offset);
            entry->mark = 0;
            offset += s_entry_bytes (entry->size & ~DEAD);
        }
        self->generation = 1;
    }
    self->open = true;
    memcpy (self->session, session, ZSTATE_MSG_SESSION_SIZE);
    self->begin = sequence;
    self->seen = 0;
    self->stats.windows++;
}


//  --------------------------------------------------------------------------
//  A SNAPSHOT-END: sweep, close or ignore.

//  Move every held key the open window did not mark onto the sweep, and
//  place the others again in the same slots, with no gaps in their runs.
//  It starts past a slot empty before any key left, which no run
//  crosses: so each key finds its first free slot from home at or before
//  where it was
static void
s_sweep (zstate_keyset_t *self)
{
    size_t mask = self->slot_count - 1;
    size_t start = 0;
    while (self->slots [start].ref)
        start++;                //  there is one: at most 3/4 are full
    for (size_t step = 1; step <= self->slot_count; step++) {
        size_t ahead = (start + step + SWEEP_AHEAD) & mask;
        if (self->slots [ahead].ref)
            __builtin_prefetch (s_entry (self, self->slots [ahead].ref));
        size_t index = (start + step) & mask;
        slot_t slot = self->slots [index];
        if (!slot.ref)
            continue;
        self->slots [index].ref = 0;
        if (s_entry (self, slot.ref)->mark == self->generation)
            s_place (self->slots, mask, slot);
        else {
            if (self->sweeping == self->swept_max) {
                self->swept_max = self->swept_max? self->swept_max * 2: 64;
                self->swept = (uint32_t *) realloc (self->swept,
                                                    self->swept_max * sizeof (uint32_t));
                assert (self->swept);
            }
            self->swept [self->sweeping++] = slot.ref;
            self->keys--;
        }
    }
    s_shrink (self);
}

int
zstate_keyset_end (zstate_keyset_t *self, const byte *session, uint64_t begin,
                   uint64_t count, bool complete)
{
    assert (self);
    assert (session);
    if (!self->open || begin != self->begin
    ||  memcmp (session, self->session, ZSTATE_MSG_SESSION_SIZE)) {
        self->stats.windows_ignored++;
        return ZSTATE_KEYSET_IGNORED;
    }
    self->open = false;
    if (!complete) {
        self->stats.windows_abandoned++;
        return ZSTATE_KEYSET_ABANDONED;
    }
    self->stats.windows_completed++;
    //  Fewer than the client sent: some were refused on the way, or the
    //  window began before this consumer. The sweep stays as it is: what
    //  did arrive is the newest the table has
    if (self->seen < count)
        self->stats.windows_short++;
    if (!self->sweep) {
        self->stats.windows_merged++;
        return ZSTATE_KEYSET_MERGED;
    }
    s_sweep (self);
    return ZSTATE_KEYSET_SWEPT;
}

bool
zstate_keyset_open (zstate_keyset_t *self)
{
    assert (self);
    return self->open;
}


//  --------------------------------------------------------------------------
//  The sweep's DELs.

size_t
zstate_keyset_sweeping (zstate_keyset_t *self)
{
    assert (self);
    return self->sweeping;
}

size_t
zstate_keyset_sweep_pops (zstate_keyset_t *self, zstate_batch_t *batch, size_t max)
{
    assert (self);
    size_t moved = 0;
    while (self->sweeping && moved < max) {
        uint32_t ref = self->swept [--self->sweeping];
        entry_t *entry = s_entry (self, ref);
        int rc = zstate_batch_append (batch, ZSTATE_OP_DEL, entry->key, entry->size);
        assert (rc == 0);       //  The key came in a message: it fits one
        s_arena_delete (self, ref);
        moved++;
    }
    if (moved && self->sweeping == 0) {
        //  A sweep may be the whole table: give its array back
        free (self->swept);
        self->swept = NULL;
        self->swept_max = 0;
        s_arena_trim (self);
    }
    self->stats.swept += moved;
    return moved;
}


//  --------------------------------------------------------------------------
//  Keys held; counters.

size_t
zstate_keyset_size (zstate_keyset_t *self)
{
    assert (self);
    return self->keys;
}

bool
zstate_keyset_holds (zstate_keyset_t *self, const void *key, size_t size)
{
    assert (self);
    return s_find (self, (const byte *) key, size,
                   s_hash (self, (const byte *) key, size))->ref != 0;
}

void
zstate_keyset_stats (zstate_keyset_t *self, zstate_consumer_stats_t *stats)
{
    assert (self);
    stats->windows = self->stats.windows;
    stats->windows_completed = self->stats.windows_completed;
    stats->windows_abandoned = self->stats.windows_abandoned;
    stats->windows_ignored = self->stats.windows_ignored;
    stats->windows_merged = self->stats.windows_merged;
    stats->swept = self->stats.swept;
    stats->keys = self->keys;
    stats->windows_short = self->stats.windows_short;
}

uint64_t
zstate_keyset_windows_short (zstate_keyset_t *self)
{
    assert (self);
    return self->stats.windows_short;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: the example (selftest/zstate_keyset_suite.c has the rest).

//  The selftest hooks (the header says what they are)
uint32_t
zstate_keyset_test_hash (zstate_keyset_t *self, const void *key, size_t size)
{
    return s_hash (self, (const byte *) key, size);
}

size_t
zstate_keyset_test_displacement (zstate_keyset_t *self)
{
    size_t mask = self->slot_count - 1;
    size_t total = 0;
    for (size_t index = 0; index < self->slot_count; index++)
        if (self->slots [index].ref)
            total += (index - self->slots [index].hash) & mask;
    return total;
}

size_t
zstate_keyset_test_memory (zstate_keyset_t *self, size_t *allocations)
{
    *allocations = self->allocations;
    return self->slot_count * sizeof (slot_t) + self->arena_size;
}

size_t
zstate_keyset_test_slots (zstate_keyset_t *self)
{
    return self->slot_count;
}

void
zstate_keyset_test_set_generation (zstate_keyset_t *self, uint32_t generation)
{
    self->generation = generation;
}

void
zstate_keyset_test (bool verbose)
{
    printf (" * zstate_keyset: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A view that re-asserts one of two keys: the other is swept
    zstate_keyset_t *keyset = zstate_keyset_new ();
    assert (keyset);
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_batch_hset (batch, "Ethernet4", "mtu", "1500", NULL);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_size (keyset) == 2);
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    zstate_keyset_begin (keyset, session, 10);
    assert (zstate_keyset_open (keyset));
    zstate_batch_reset (batch);
    zstate_batch_hset (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_keyset_note (keyset, batch, 0);
    //  An END for another BEGIN changes nothing
    assert (zstate_keyset_end (keyset, session, 9, 1, true) == ZSTATE_KEYSET_IGNORED);
    assert (zstate_keyset_end (keyset, session, 10, 1, true) == ZSTATE_KEYSET_SWEPT);
    assert (!zstate_keyset_open (keyset));
    assert (zstate_keyset_sweeping (keyset) == 1);
    zstate_batch_reset (batch);
    assert (zstate_keyset_sweep_pops (keyset, batch, 10) == 1);
    assert (zstate_batch_op (batch, 0) == ZSTATE_OP_DEL);
    assert (streq (zstate_batch_key (batch, 0, NULL), "Ethernet4"));
    assert (zstate_keyset_size (keyset) == 1);
    assert (zstate_keyset_holds (keyset, "Ethernet0", 9));
    assert (!zstate_keyset_holds (keyset, "Ethernet4", 9));
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
    assert (keyset == NULL);
    //  @end
    printf ("OK\n");
}
#endif
