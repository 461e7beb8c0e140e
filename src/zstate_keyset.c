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
    The keys sit in an open-addressing table (linear probing, a power of
    two of slots, grown at three quarters full and shrunk at an eighth);
    a slot holds the key's hash, its mark and a pointer to the key, one
    allocation of its own. So probing reads a key only when its hash
    matches, and a key new to the set costs one slot and one allocation.
    A DEL closes the gap it leaves by moving later keys back (no
    tombstones).

    Marks are generations: each window takes the next number, and a key is
    marked when its slot holds the open window's number, so opening a
    window costs nothing per key (once in 2^32 windows the numbers start
    again and every mark is cleared). The sweep walks the slots once,
    moves the unmarked keys onto an array of DELs to hand out, and
    rebuilds the table from the keys that stay.

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
#define NOTE_AHEAD      16      //  keys whose slots note fetches ahead
#define HUGE_PAGE       (2 * 1024 * 1024)

//  A held key
typedef struct {
    uint32_t size;
    byte key [];
} entry_t;

//  A slot of the table: empty when entry is NULL
typedef struct {
    uint32_t hash;
    uint32_t mark;              //  generation of the window that marked it
    entry_t *entry;
} slot_t;

struct _zstate_keyset_t {
    slot_t *slots;
    size_t slot_count;          //  a power of two
    size_t keys;                //  slots in use
    bool sweep;                 //  keep keys and sweep them
    bool noted;                 //  operations were noted, on or off
    bool open;                  //  a window is open
    byte session [ZSTATE_MSG_SESSION_SIZE];    //  of the open window
    uint64_t begin;             //  its BEGIN's sequence
    uint32_t generation;        //  its mark
    entry_t **swept;            //  DELs to hand out, taken from the end
    size_t sweeping;            //  their count
    size_t swept_max;           //  entries allocated in swept
    uint64_t seen;              //  operations noted in the open window
    uint64_t seed [2];          //  the hash's secret
    zstate_consumer_stats_t stats;  //  the window counters only
};


//  --------------------------------------------------------------------------
//  The table

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

//  The slot that holds key, or the empty slot where it would go
static slot_t *
s_find (zstate_keyset_t *self, const byte *key, size_t size, uint32_t hash)
{
    size_t mask = self->slot_count - 1;
    size_t index = hash & mask;
    while (true) {
        slot_t *slot = &self->slots [index];
        if (!slot->entry
        || (slot->hash == hash && slot->entry->size == size
            && memcmp (slot->entry->key, key, size) == 0))
            return slot;
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

//  Place every key of the table into a new one of count slots
static void
s_rebuild (zstate_keyset_t *self, size_t count)
{
    slot_t *slots = s_slots_new (count);
    for (size_t index = 0; index < self->slot_count; index++) {
        slot_t *slot = &self->slots [index];
        if (slot->entry) {
            size_t target = slot->hash & (count - 1);
            while (slots [target].entry)
                target = (target + 1) & (count - 1);
            slots [target] = *slot;
        }
    }
    free (self->slots);
    self->slots = slots;
    self->slot_count = count;
}

//  The size the table shrinks to once keys have gone
static size_t
s_shrunk (zstate_keyset_t *self)
{
    size_t count = self->slot_count;
    while (count > SLOTS_MIN && self->keys * 8 < count)
        count /= 2;
    return count;
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
        if (!next->entry)
            break;
        size_t home = next->hash & mask;
        if (((index - home) & mask) >= ((index - hole) & mask)) {
            self->slots [hole] = *next;
            hole = index;
        }
    }
    self->slots [hole].entry = NULL;
}

//  Free every held key; the table shrinks back
static void
s_clear (zstate_keyset_t *self)
{
    for (size_t index = 0; index < self->slot_count; index++)
        free (self->slots [index].entry);
    free (self->slots);
    self->keys = 0;
    self->slot_count = SLOTS_MIN;
    self->slots = s_slots_new (SLOTS_MIN);
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
        s_clear (self);
        free (self->slots);
        while (self->sweeping)
            free (self->swept [--self->sweeping]);
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
    slot->mark = self->open? self->generation: 0;
    if (!slot->entry) {
        entry_t *entry = (entry_t *) malloc (sizeof (entry_t) + size);
        assert (entry);
        entry->size = (uint32_t) size;
        memcpy (entry->key, key, size);
        slot->hash = hash;
        slot->entry = entry;
        if (++self->keys * 4 > self->slot_count * 3)
            s_rebuild (self, self->slot_count * 2);
    }
}

//  A DEL: the key is not held any more
static void
s_drop (zstate_keyset_t *self, const byte *key, size_t size, uint32_t hash)
{
    slot_t *slot = s_find (self, key, size, hash);
    if (slot->entry) {
        free (slot->entry);
        s_remove (self, slot);
        self->keys--;
        if (self->slot_count > SLOTS_MIN && self->keys * 8 < self->slot_count)
            s_rebuild (self, s_shrunk (self));
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
    uint32_t hashes [NOTE_AHEAD];
    for (size_t first = from; first < count; first += NOTE_AHEAD) {
        size_t last = first + NOTE_AHEAD < count? first + NOTE_AHEAD: count;
        for (size_t index = first; index < last; index++) {
            size_t size;
            const byte *key = (const byte *) zstate_batch_key (batch, index, &size);
            hashes [index - first] = s_hash (self, key, size);
            __builtin_prefetch (&self->slots [hashes [index - first]
                                              & (self->slot_count - 1)]);
        }
        //  Then the keys those slots point to, where the hash matches
        for (size_t index = first; index < last; index++) {
            slot_t *slot = &self->slots [hashes [index - first] & (self->slot_count - 1)];
            if (slot->entry && slot->hash == hashes [index - first])
                __builtin_prefetch (slot->entry);
        }
        for (size_t index = first; index < last; index++) {
            size_t size;
            const byte *key = (const byte *) zstate_batch_key (batch, index, &size);
            if (zstate_batch_op (batch, index) == ZSTATE_OP_DEL)
                s_drop (self, key, size, hashes [index - first]);
            else
                s_hold (self, key, size, hashes [index - first]);
        }
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
        for (size_t index = 0; index < self->slot_count; index++)
            self->slots [index].mark = 0;
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

//  Move every held key the open window did not mark onto the sweep
static void
s_sweep (zstate_keyset_t *self)
{
    for (size_t index = 0; index < self->slot_count; index++) {
        slot_t *slot = &self->slots [index];
        if (slot->entry && slot->mark != self->generation) {
            if (self->sweeping == self->swept_max) {
                self->swept_max = self->swept_max? self->swept_max * 2: 64;
                self->swept = (entry_t **) realloc (self->swept,
                                                    self->swept_max * sizeof (entry_t *));
                assert (self->swept);
            }
            self->swept [self->sweeping++] = slot->entry;
            slot->entry = NULL;
            self->keys--;
        }
    }
    //  The gaps broke the probe runs: place what stays anew
    s_rebuild (self, s_shrunk (self));
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
        entry_t *entry = self->swept [--self->sweeping];
        int rc = zstate_batch_append (batch, ZSTATE_OP_DEL, entry->key, entry->size);
        assert (rc == 0);       //  The key came in a message: it fits one
        free (entry);
        moved++;
    }
    if (self->sweeping == 0) {
        //  A sweep may be the whole table: give its array back
        free (self->swept);
        self->swept = NULL;
        self->swept_max = 0;
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
                   s_hash (self, (const byte *) key, size))->entry != NULL;
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
//  Selftest: the example, then a model-based run against a plain map.

//  The model: the table as the application must end up holding it, the
//  keys the open window touched, and the window itself
typedef struct {
    zhashx_t *table;            //  key -> "" for every key held
    zhashx_t *marked;           //  keys written in the open window
    zhashx_t *view;             //  what the key set handed out, applied
    bool open;
    int session;                //  0 or 1
    uint64_t begin;
    uint64_t windows, completed, abandoned, ignored, swept;
} test_model_t;

static void
s_test_session (byte *session, int which)
{
    memset (session, 0, ZSTATE_MSG_SESSION_SIZE);
    session [0] = (byte) (which + 1);
}

//  Apply batch from index from to the application's view
static void
s_test_apply (zhashx_t *view, zstate_batch_t *batch, size_t from)
{
    for (size_t index = from; index < zstate_batch_size (batch); index++) {
        const char *key = zstate_batch_key (batch, index, NULL);
        if (zstate_batch_op (batch, index) == ZSTATE_OP_DEL)
            zhashx_delete (view, key);
        else
            zhashx_update (view, key, (void *) "");
    }
}

//  True when map and the key set hold the same keys, and map and view
static bool
s_test_same (zstate_keyset_t *keyset, test_model_t *model)
{
    if (zhashx_size (model->table) != zstate_keyset_size (keyset)
    ||  zhashx_size (model->table) != zhashx_size (model->view))
        return false;
    for (void *item = zhashx_first (model->table); item; item = zhashx_next (model->table)) {
        const char *key = (const char *) zhashx_cursor (model->table);
        if (!zstate_keyset_holds (keyset, key, strlen (key))
        ||  !zhashx_lookup (model->view, key))
            return false;
    }
    return true;
}

//  One random operation, noted in the key set and in the model
static void
s_test_random_op (zstate_keyset_t *keyset, test_model_t *model, zstate_batch_t *batch)
{
    char key [32];
    snprintf (key, sizeof (key), "key-%d", randof (200));
    int op = randof (10);
    zstate_batch_reset (batch);
    if (op < 3) {
        zstate_batch_del (batch, key);
        zhashx_delete (model->table, key);
        zhashx_delete (model->marked, key);
    }
    else {
        if (op < 7)
            zstate_batch_set (batch, key, "f", "v", NULL);
        else
            zstate_batch_hset (batch, key, "f", "v", NULL);
        zhashx_update (model->table, key, (void *) "");
        if (model->open)
            zhashx_update (model->marked, key, (void *) "");
    }
    zstate_keyset_note (keyset, batch, 0);
    s_test_apply (model->view, batch, 0);
}

//  A COMPLETE END in the model: keep only what the window marked
static void
s_test_model_sweep (test_model_t *model)
{
    zlistx_t *keys = zhashx_keys (model->table);
    for (char *key = (char *) zlistx_first (keys); key; key = (char *) zlistx_next (keys))
        if (!zhashx_lookup (model->marked, key)) {
            zhashx_delete (model->table, key);
            model->swept++;
        }
    zlistx_destroy (&keys);
}

//  A random BEGIN or END, some matching nothing, some abandoned
static void
s_test_random_marker (zstate_keyset_t *keyset, test_model_t *model, zstate_batch_t *batch,
                      uint64_t *sequence)
{
    byte session [ZSTATE_MSG_SESSION_SIZE];
    int which = randof (2);
    s_test_session (session, which);
    if (randof (3) == 0) {
        model->abandoned += model->open;
        model->open = true;
        model->session = which;
        model->begin = ++*sequence;
        model->windows++;
        zhashx_purge (model->marked);
        zstate_keyset_begin (keyset, session, model->begin);
        return;
    }
    //  An END: most for the open window, some for another session or begin
    uint64_t begin = randof (4) == 0? *sequence + 1: model->begin;
    bool complete = randof (4) != 0;
    int done = zstate_keyset_end (keyset, session, begin, 0, complete);
    if (!model->open || which != model->session || begin != model->begin) {
        assert (done == ZSTATE_KEYSET_IGNORED);
        model->ignored++;
        return;
    }
    model->open = false;
    if (!complete) {
        assert (done == ZSTATE_KEYSET_ABANDONED);
        model->abandoned++;
        return;
    }
    assert (done == ZSTATE_KEYSET_SWEPT);
    model->completed++;
    s_test_model_sweep (model);
    //  Hand the sweep out in small batches, as pops does
    while (zstate_keyset_sweeping (keyset)) {
        zstate_batch_reset (batch);
        size_t moved = zstate_keyset_sweep_pops (keyset, batch, 1 + randof (7));
        assert (moved > 0 && moved == zstate_batch_size (batch));
        s_test_apply (model->view, batch, 0);
    }
}

static void
s_test_model (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    test_model_t model;
    memset (&model, 0, sizeof (model));
    model.table = zhashx_new ();
    model.marked = zhashx_new ();
    model.view = zhashx_new ();
    uint64_t sequence = 0;
    for (int step = 0; step < 20000; step++) {
        if (randof (12) == 0)
            s_test_random_marker (keyset, &model, batch, &sequence);
        else
            s_test_random_op (keyset, &model, batch);
        assert (zstate_keyset_open (keyset) == model.open);
        if (step % 97 == 0 || !model.open)
            assert (s_test_same (keyset, &model));
    }
    assert (s_test_same (keyset, &model));
    zstate_consumer_stats_t stats;
    zstate_keyset_stats (keyset, &stats);
    assert (stats.windows == model.windows && stats.windows_completed == model.completed);
    assert (stats.windows_abandoned == model.abandoned);
    assert (stats.windows_ignored == model.ignored);
    assert (stats.swept == model.swept && stats.keys == zhashx_size (model.table));
    //  The run must have seen every outcome, and swept something
    assert (model.completed && model.abandoned && model.ignored && model.swept);
    zhashx_destroy (&model.table);
    zhashx_destroy (&model.marked);
    zhashx_destroy (&model.view);
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

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
        if (self->slots [index].entry)
            total += (index - self->slots [index].hash) & mask;
    return total;
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

    s_test_model ();
    printf ("OK\n");
}
#endif
