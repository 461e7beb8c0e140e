/*  =========================================================================
    zstate_writer_chain - the writer's backlog as a chain of generations,
    each the coalesced effect of a contiguous run of messages

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The generations in flight, oldest first, then the sealed ones waiting
    to be sent, then the open one, which takes every new message. Each is a zstate_backlog of its own, so
    operations coalesce within a generation and never across one: a
    batch that writes whole generations from the oldest leaves Redis in
    the state after its last message, with all messages before it.
@discuss
    The open generation is taken whole when a batch is built, so while
    nothing can be sent (all batches in flight, or no connection) it keeps
    coalescing: the chain holds O(keys) entries, plus at most what is in
    flight. The writer seals it when it grows past a size while connected,
    so that no transaction grows without end while Redis merely lags;
    sealed generations wait in order, and a failure folds them too. After
    a failure, every generation folds into the oldest, each newer one
    applied over it with the backlog's rules, as if its operations had
    come again: that is the state the resent batch writes. A generation
    with a sweep (a window's END) stops the fold: a key the window did not
    write, swept, then written after the END must hold what came after
    only, which it would not if the two folded into one transaction
    before or after the sweep.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_chain.h"

struct _zstate_writer_chain_t {
    zstate_writer_generation_t **older; //  In flight, then sealed; oldest first
    size_t older_max;
    size_t flight_count;
    size_t sealed_count;
    size_t sealed_entries;      //  Entries of the sealed generations
    size_t sealed_bytes;
    zstate_writer_generation_t *open;   //  Takes new messages
    uint64_t seq;               //  Number of the last operation added
    zstate_backlog_field_t *fields;     //  Scratch: one entry's fields
    const char **parts;
    size_t *sizes;
    size_t fields_max;
};


//  --------------------------------------------------------------------------
//  Generations

static zstate_writer_generation_t *
s_generation_new (void)
{
    zstate_writer_generation_t *self =
        (zstate_writer_generation_t *) zmalloc (sizeof (zstate_writer_generation_t));
    assert (self);
    self->backlog = zstate_backlog_new ();
    self->marks = zstate_writer_marks_new ();
    assert (self->backlog && self->marks);
    return self;
}

static void
s_generation_destroy (zstate_writer_generation_t **self_p)
{
    if (*self_p) {
        zstate_writer_generation_t *self = *self_p;
        zstate_backlog_destroy (&self->backlog);
        zstate_writer_marks_destroy (&self->marks);
        zstate_writer_sweep_destroy (&self->sweep);
        free (self);
        *self_p = NULL;
    }
}

//  Apply every entry of newer over older, emptying newer; returns how
//  many folded into an entry of older
static size_t
s_generation_absorb (zstate_writer_chain_t *self, zstate_writer_generation_t *older,
                     zstate_writer_generation_t *newer)
{
    size_t folded = 0;
    zstate_backlog_entry_t *entry;
    while ((entry = zstate_backlog_take (newer->backlog))) {
        size_t count = zstate_backlog_entry_field_count (entry);
        if (count > self->fields_max) {
            self->fields_max = 2 * count;
            self->fields = (zstate_backlog_field_t *)
                realloc (self->fields, self->fields_max * sizeof (zstate_backlog_field_t));
            self->parts = (const char **)
                realloc (self->parts, 2 * self->fields_max * sizeof (char *));
            self->sizes = (size_t *) realloc (self->sizes, 2 * self->fields_max * sizeof (size_t));
            assert (self->fields && self->parts && self->sizes);
        }
        zstate_backlog_entry_fields (entry, self->parts, self->sizes);
        for (size_t field = 0; field < count; field++) {
            self->fields [field].name = self->parts [2 * field];
            self->fields [field].name_size = self->sizes [2 * field];
            self->fields [field].value = self->parts [2 * field + 1];
            self->fields [field].value_size = self->sizes [2 * field + 1];
        }
        size_t key_size;
        const char *key = zstate_backlog_entry_key (entry, &key_size);
        //  Neither backlog has a bound: it cannot refuse
        int rc = zstate_backlog_add (older->backlog, key, key_size,
                                     zstate_backlog_entry_op (entry), self->fields, count,
                                     newer->since);
        assert (rc == 0 || rc == 1);
        folded += rc;
        zstate_backlog_confirm (newer->backlog, &entry);
    }
    zstate_writer_marks_absorb (older->marks, newer->marks);
    if (!older->first_op) {
        older->first_op = newer->first_op;
        older->since = newer->since;
    }
    if (newer->last_op)
        older->last_op = newer->last_op;
    return folded;
}


//  --------------------------------------------------------------------------
//  The chain

zstate_writer_chain_t *
zstate_writer_chain_new (void)
{
    zstate_writer_chain_t *self =
        (zstate_writer_chain_t *) zmalloc (sizeof (zstate_writer_chain_t));
    assert (self);
    self->open = s_generation_new ();
    return self;
}

void
zstate_writer_chain_destroy (zstate_writer_chain_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_chain_t *self = *self_p;
        for (size_t index = 0; index < self->flight_count + self->sealed_count; index++)
            s_generation_destroy (&self->older [index]);
        free (self->older);
        s_generation_destroy (&self->open);
        free (self->fields);
        free (self->parts);
        free (self->sizes);
        free (self);
        *self_p = NULL;
    }
}

int
zstate_writer_chain_add (zstate_writer_chain_t *self, const void *key, size_t key_size,
                         zstate_batch_t *batch, size_t index, int64_t now)
{
    assert (self);
    zstate_writer_generation_t *open = self->open;
    //  No bound on the backlog: the writer stops reading at its own
    int rc = zstate_backlog_add_batch (open->backlog, key, key_size, batch, index, now);
    assert (rc == 0 || rc == 1);
    self->seq++;
    if (!open->first_op) {
        open->first_op = self->seq;
        open->since = now;
    }
    open->last_op = self->seq;
    return rc;
}

void
zstate_writer_chain_message (zstate_writer_chain_t *self, const char *db, const char *table,
                             const byte *session, uint64_t sequence)
{
    assert (self);
    zstate_writer_marks_note (self->open->marks, db, table, session, sequence);
}

//  A generation to write: operations, markers or a sweep
static bool
s_generation_held (zstate_writer_generation_t *generation)
{
    return generation->first_op || generation->sweep;
}

//  Put generation after the sealed ones
static void
s_seal (zstate_writer_chain_t *self, zstate_writer_generation_t *generation)
{
    size_t count = self->flight_count + self->sealed_count;
    if (count == self->older_max) {
        self->older_max = self->older_max? 2 * self->older_max: 8;
        self->older = (zstate_writer_generation_t **)
            realloc (self->older, self->older_max * sizeof (zstate_writer_generation_t *));
        assert (self->older);
    }
    self->older [count] = generation;
    self->sealed_count++;
    self->sealed_entries += zstate_backlog_pending (generation->backlog);
    self->sealed_bytes += zstate_backlog_bytes (generation->backlog);
}

void
zstate_writer_chain_seal (zstate_writer_chain_t *self)
{
    assert (self);
    if (!s_generation_held (self->open))
        return;
    s_seal (self, self->open);
    self->open = s_generation_new ();
}

void
zstate_writer_chain_marker (zstate_writer_chain_t *self, const char *db, const char *table,
                            const byte *session, uint64_t sequence, int64_t now)
{
    assert (self);
    zstate_writer_generation_t *open = self->open;
    self->seq++;
    if (!open->first_op) {
        open->first_op = self->seq;
        open->since = now;
    }
    open->last_op = self->seq;
    zstate_writer_marks_note (open->marks, db, table, session, sequence);
}

void
zstate_writer_chain_barrier (zstate_writer_chain_t *self, zstate_writer_sweep_t *sweep)
{
    assert (self);
    assert (sweep);
    zstate_writer_chain_seal (self);
    assert (!self->open->sweep);
    self->open->sweep = sweep;
}

//  The generation that take returns next, or NULL
static zstate_writer_generation_t *
s_next (zstate_writer_chain_t *self)
{
    if (self->sealed_count)
        return self->older [self->flight_count];
    return s_generation_held (self->open)? self->open: NULL;
}

zstate_writer_sweep_t *
zstate_writer_chain_next_sweep (zstate_writer_chain_t *self)
{
    assert (self);
    zstate_writer_generation_t *next = s_next (self);
    return next? next->sweep: NULL;
}

void
zstate_writer_chain_sweep_done (zstate_writer_chain_t *self)
{
    assert (self);
    zstate_writer_generation_t *next = s_next (self);
    assert (next && next->sweep);
    zstate_writer_sweep_destroy (&next->sweep);
}

bool
zstate_writer_chain_ready (zstate_writer_chain_t *self)
{
    assert (self);
    return s_next (self) != NULL;
}

zstate_writer_generation_t *
zstate_writer_chain_take (zstate_writer_chain_t *self)
{
    assert (self);
    if (self->sealed_count == 0)
        zstate_writer_chain_seal (self);
    if (self->sealed_count == 0)
        return NULL;
    //  The oldest sealed one follows those in flight; its sweep ran
    zstate_writer_generation_t *taken = self->older [self->flight_count++];
    assert (!taken->sweep);
    self->sealed_count--;
    self->sealed_entries -= zstate_backlog_pending (taken->backlog);
    self->sealed_bytes -= zstate_backlog_bytes (taken->backlog);
    return taken;
}

void
zstate_writer_chain_confirm (zstate_writer_chain_t *self, zstate_writer_marks_t *into)
{
    assert (self);
    assert (self->flight_count > 0);
    zstate_writer_generation_t *oldest = self->older [0];
    assert (zstate_backlog_pending (oldest->backlog) == 0);
    assert (zstate_backlog_in_flight (oldest->backlog) == 0);
    if (into)
        zstate_writer_marks_absorb (into, oldest->marks);
    s_generation_destroy (&oldest);
    self->flight_count--;
    memmove (self->older, self->older + 1,
             (self->flight_count + self->sealed_count) * sizeof (zstate_writer_generation_t *));
}

size_t
zstate_writer_chain_restore (zstate_writer_chain_t *self)
{
    assert (self);
    size_t count = self->flight_count + self->sealed_count;
    if (count == 0)
        return 0;
    //  Runs, oldest first, go back into older as sealed generations
    zstate_writer_generation_t **generations = self->older;
    self->older = (zstate_writer_generation_t **)
        zmalloc (self->older_max * sizeof (zstate_writer_generation_t *));
    assert (self->older);
    self->flight_count = self->sealed_count = 0;
    self->sealed_entries = self->sealed_bytes = 0;
    zstate_writer_generation_t *merged = generations [0];
    size_t folded = zstate_backlog_restore_all (merged->backlog);
    for (size_t index = 1; index <= count; index++) {
        zstate_writer_generation_t *newer = index < count? generations [index]: self->open;
        folded += zstate_backlog_restore_all (newer->backlog);
        if (newer->sweep) {
            s_seal (self, merged);
            merged = newer;
        }
        else {
            folded += s_generation_absorb (self, merged, newer);
            s_generation_destroy (&newer);
        }
    }
    free (generations);
    self->open = merged;
    return folded;
}

size_t
zstate_writer_chain_pending (zstate_writer_chain_t *self)
{
    assert (self);
    return zstate_backlog_pending (self->open->backlog) + self->sealed_entries;
}

size_t
zstate_writer_chain_open_size (zstate_writer_chain_t *self)
{
    assert (self);
    return zstate_backlog_pending (self->open->backlog);
}

size_t
zstate_writer_chain_in_flight (zstate_writer_chain_t *self)
{
    assert (self);
    size_t count = 0;
    for (size_t index = 0; index < self->flight_count; index++)
        count += zstate_backlog_pending (self->older [index]->backlog)
               + zstate_backlog_in_flight (self->older [index]->backlog);
    return count;
}

size_t
zstate_writer_chain_bytes (zstate_writer_chain_t *self)
{
    assert (self);
    size_t bytes = zstate_backlog_bytes (self->open->backlog) + self->sealed_bytes;
    for (size_t index = 0; index < self->flight_count; index++)
        bytes += zstate_backlog_bytes (self->older [index]->backlog);
    return bytes;
}

uint64_t
zstate_writer_chain_seq (zstate_writer_chain_t *self)
{
    assert (self);
    return self->seq;
}

bool
zstate_writer_chain_oldest (zstate_writer_chain_t *self, uint64_t *seq_p, int64_t *since_p)
{
    assert (self);
    zstate_writer_generation_t *oldest =
        self->flight_count + self->sealed_count? self->older [0]: self->open;
    bool held = oldest->first_op != 0;
    if (seq_p)
        *seq_p = oldest->first_op;
    if (since_p)
        *since_p = held? oldest->since: 0;
    return held;
}

bool
zstate_writer_chain_open_since (zstate_writer_chain_t *self, int64_t *since_p)
{
    assert (self);
    if (since_p)
        *since_p = self->open->since;
    return self->open->first_op != 0;
}

bool
zstate_writer_chain_touches (zstate_writer_chain_t *self, const char *table)
{
    assert (self);
    assert (table);
    for (size_t index = 0; index < self->flight_count + self->sealed_count; index++)
        if (zstate_writer_marks_touches (self->older [index]->marks, table))
            return true;
    return zstate_writer_marks_touches (self->open->marks, table);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: as the writer uses the chain

//  The fields of the open generation's entry for key, as "name=value,..."
static void
s_test_expect (zstate_writer_generation_t *generation, const char *key, int op,
               const char *fields)
{
    zstate_backlog_entry_t *entry = zstate_backlog_take (generation->backlog);
    assert (entry);
    assert (streq (zstate_backlog_entry_key (entry, NULL), key));
    assert (zstate_backlog_entry_op (entry) == op);
    const char *parts [8];
    size_t sizes [8];
    size_t count = zstate_backlog_entry_field_count (entry);
    assert (count <= 4);
    zstate_backlog_entry_fields (entry, parts, sizes);
    char text [128] = "";
    for (size_t part = 0; part < 2 * count; part++)
        snprintf (text + strlen (text), sizeof (text) - strlen (text), "%.*s%s",
                  (int) sizes [part], parts [part], part % 2? ",": "=");
    assert (streq (text, fields));
    zstate_backlog_confirm (generation->backlog, &entry);
}

//  Sealed generations wait in order; a failure folds them too
static void
s_test_sealed (zstate_writer_chain_t *chain, zstate_batch_t *batch)
{
    uint64_t seq;
    int64_t since;
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "k", "a", "4", NULL);
    zstate_batch_hset (batch, "k", "b", "5", NULL);
    assert (zstate_writer_chain_add (chain, "T:k", 3, batch, 0, 20) == 0);
    zstate_writer_chain_seal (chain);
    zstate_writer_chain_seal (chain);       //  Nothing open: nothing sealed
    assert (zstate_writer_chain_add (chain, "T:k", 3, batch, 1, 21) == 0);
    assert (zstate_writer_chain_pending (chain) == 2);
    assert (zstate_writer_chain_open_size (chain) == 1);
    zstate_writer_generation_t *sealed = zstate_writer_chain_take (chain);
    assert (sealed && sealed->first_op == 5 && sealed->last_op == 5);
    assert (zstate_writer_chain_pending (chain) == 1 && zstate_writer_chain_in_flight (chain) == 1);
    zstate_writer_chain_seal (chain);
    assert (zstate_writer_chain_add (chain, "T:k", 3, batch, 1, 22) == 0);
    assert (zstate_writer_chain_pending (chain) == 2 && zstate_writer_chain_open_size (chain) == 1);
    assert (zstate_writer_chain_oldest (chain, &seq, &since) && seq == 5 && since == 20);
    assert (zstate_writer_chain_restore (chain) == 2);
    assert (zstate_writer_chain_pending (chain) == 1 && zstate_writer_chain_in_flight (chain) == 0);
    zstate_writer_generation_t *merged = zstate_writer_chain_take (chain);
    assert (merged && merged->first_op == 5 && merged->last_op == 7);
    s_test_expect (merged, "T:k", ZSTATE_OP_SET, "a=4,b=5,");
    zstate_writer_chain_confirm (chain, NULL);
    assert (zstate_writer_chain_pending (chain) == 0 && !zstate_writer_chain_oldest (chain, NULL, NULL));

}

//  A window's END: its sweep waits between the generations before and
//  after it, failures included; a marker alone is a generation to write
static void
s_test_barrier (zstate_batch_t *batch)
{
    zstate_writer_chain_t *chain = zstate_writer_chain_new ();
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 3 };
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "a", "f", "1", NULL);
    zstate_batch_hset (batch, "b", "f", "2", NULL);
    assert (!zstate_writer_chain_ready (chain));
    zstate_writer_chain_marker (chain, "DB", "T", session, 1, 30);
    assert (zstate_writer_chain_ready (chain) && zstate_writer_chain_pending (chain) == 0);
    assert (zstate_writer_chain_add (chain, "T:a", 3, batch, 0, 31) == 0);
    zstate_writer_generation_t *window = zstate_writer_chain_take (chain);
    assert (window && window->first_op == 1 && window->last_op == 2);
    zstate_writer_sweep_t *sweep = zstate_writer_sweep_new ("T", ":");
    zstate_writer_chain_barrier (chain, sweep);
    zstate_writer_chain_marker (chain, "DB", "T", session, 3, 32);
    assert (zstate_writer_chain_add (chain, "T:b", 3, batch, 1, 33) == 0);
    assert (zstate_writer_chain_next_sweep (chain) == sweep);
    //  The connection fails with the window's batch in flight: it goes
    //  again alone, then the sweep, then what came after the END
    zstate_backlog_entry_t *entry = zstate_backlog_take (window->backlog);
    assert (entry);
    assert (zstate_writer_chain_restore (chain) == 0);
    assert (zstate_writer_chain_pending (chain) == 2);
    assert (!zstate_writer_chain_next_sweep (chain));
    zstate_writer_generation_t *again = zstate_writer_chain_take (chain);
    assert (again && again->first_op == 1 && again->last_op == 2);
    s_test_expect (again, "T:a", ZSTATE_OP_SET, "f=1,");
    zstate_writer_chain_confirm (chain, NULL);
    assert (zstate_writer_chain_next_sweep (chain) == sweep);
    zstate_writer_chain_sweep_done (chain);
    assert (!zstate_writer_chain_next_sweep (chain));
    zstate_writer_generation_t *after = zstate_writer_chain_take (chain);
    assert (after && after->first_op == 3 && after->last_op == 4);
    assert (!zstate_writer_marks_empty (after->marks));
    s_test_expect (after, "T:b", ZSTATE_OP_HSET, "f=2,");
    zstate_writer_chain_confirm (chain, NULL);
    assert (!zstate_writer_chain_ready (chain));
    zstate_writer_chain_destroy (&chain);
}

void
zstate_writer_chain_test (bool verbose)
{
    printf (" * zstate_writer_chain: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Messages coalesce within the open generation, never across one
    zstate_writer_chain_t *chain = zstate_writer_chain_new ();
    assert (!zstate_writer_chain_take (chain));
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "k", "a", "1", "b", "1", NULL);
    zstate_batch_hset (batch, "k", "b", "2", NULL);
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    assert (zstate_writer_chain_add (chain, "T:k", 3, batch, 0, 10) == 0);
    assert (zstate_writer_chain_add (chain, "T:k", 3, batch, 1, 11) == 1);
    zstate_writer_chain_message (chain, "DB", "T", session, 1);
    zstate_writer_generation_t *first = zstate_writer_chain_take (chain);
    assert (first && first->first_op == 1 && first->last_op == 2);
    assert (zstate_writer_chain_touches (chain, "T"));
    //  The same key again, while the first is in flight: a new entry
    zstate_batch_reset (batch);
    zstate_batch_hset (batch, "k", "a", "3", NULL);
    zstate_batch_del (batch, "j");
    assert (zstate_writer_chain_add (chain, "T:k", 3, batch, 0, 12) == 0);
    assert (zstate_writer_chain_add (chain, "T:j", 3, batch, 1, 12) == 0);
    zstate_writer_chain_message (chain, "DB", "T", session, 2);
    assert (zstate_writer_chain_pending (chain) == 2);
    assert (zstate_writer_chain_in_flight (chain) == 1);
    uint64_t seq;
    int64_t since;
    assert (zstate_writer_chain_oldest (chain, &seq, &since) && seq == 1 && since == 10);
    //  The connection fails: one generation, the older under the newer
    zstate_backlog_entry_t *entry = zstate_backlog_take (first->backlog);
    assert (entry);
    assert (zstate_writer_chain_restore (chain) == 1);
    assert (zstate_writer_chain_pending (chain) == 2);
    assert (zstate_writer_chain_in_flight (chain) == 0);
    zstate_writer_generation_t *merged = zstate_writer_chain_take (chain);
    assert (merged && merged->first_op == 1 && merged->last_op == 4);
    s_test_expect (merged, "T:k", ZSTATE_OP_SET, "b=2,a=3,");
    s_test_expect (merged, "T:j", ZSTATE_OP_DEL, "");
    zstate_writer_marks_t *confirmed = zstate_writer_marks_new ();
    zstate_writer_chain_confirm (chain, confirmed);
    zmsg_t *msg = zmsg_new ();
    zstate_writer_marks_frames (confirmed, msg);
    zframe_t *frame = zmsg_last (msg);
    assert (zmsg_size (msg) == 3 && zframe_size (frame) == ZSTATE_WRITER_MARK_SIZE);
    assert (zstate_get_u64 (zframe_data (frame) + 16) == 2);
    assert (!zstate_writer_chain_oldest (chain, NULL, NULL));
    assert (!zstate_writer_chain_touches (chain, "T"));
    //  @end

    s_test_sealed (chain, batch);
    s_test_barrier (batch);

    zmsg_destroy (&msg);
    zstate_writer_marks_destroy (&confirmed);
    zstate_batch_destroy (&batch);
    zstate_writer_chain_destroy (&chain);
    printf ("OK\n");
}
#endif
