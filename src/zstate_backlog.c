/*  =========================================================================
    zstate_backlog - a keyed, coalescing map of pending operations

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    zstate_backlog keeps one entry per key of the operations accepted but
    not yet confirmed, coalescing newer operations into it, and hands the
    entries out oldest first. See the header for the rules.
@discuss
    Pending entries sit in a hash table by key (chained, a power of two of
    buckets, grown at one entry per bucket and shrunk at a quarter, so a
    drained burst gives its table back) and on a list in first-dirtied
    order. Entries in flight leave the table and go on a second list, in
    the order taken, so that the backlog can free them and tell the oldest.

    An entry holds its fields in one buffer: per field, a u32 size (host
    order, never leaves the process), the name, a u32 size, the value.
    Merging an HSET into an entry builds the result in a spare buffer that
    is then swapped in; names are compared linearly for few fields, else
    through an open-addressing index over the new operation's names.
@end
*/

#include "zstate_classes.h"
#include "zstate_backlog.h"

#define BUCKETS_MIN         1024
#define INDEX_LINEAR_MAX    64          //  fields x fields compared linearly

struct _zstate_backlog_entry_t {
    zstate_backlog_entry_t *prev;   //  Pending list or in-flight list
    zstate_backlog_entry_t *next;
    zstate_backlog_entry_t *chain;  //  Next entry in the same hash bucket
    uint64_t hash;              //  Hash of the key
    uint64_t seq;               //  Sequence of the oldest op folded in
    int64_t since;              //  When that op arrived
    uint64_t tag;               //  The caller's tag of the newest op folded in
    size_t folds;               //  Operations folded in, the first included
    int op;                     //  ZSTATE_OP_*
    bool in_flight;             //  Taken, not confirmed or restored yet
    uint32_t field_count;       //  Fields held
    byte *fields;               //  Per field: u32 size, name, u32 size, value
    size_t fields_size;         //  Bytes used in fields
    size_t fields_max;          //  Bytes allocated for fields
    size_t key_size;            //  Bytes of key
    byte key [];                //  The key, then a NUL
};

//  A doubly linked list of entries
typedef struct {
    zstate_backlog_entry_t *head;
    zstate_backlog_entry_t *tail;
    size_t count;
} list_t;

struct _zstate_backlog_t {
    zstate_backlog_entry_t **buckets;   //  Hash table of pending entries
    size_t bucket_count;        //  A power of two
    list_t pending;             //  First-dirtied order
    list_t flight;              //  In flight, in the order taken
    size_t bytes;               //  Held by pending and in-flight entries
    size_t max_keys;            //  Bound, 0 for none
    size_t max_bytes;
    uint64_t seq;               //  Sequence of the last op accepted
    uint64_t tag;               //  Tag of the operations added now
    zstate_backlog_field_t *refs;   //  Scratch: fields of an operation
    size_t refs_max;
    uint32_t *index;            //  Scratch: hash index over fields
    size_t index_max;
    byte *spare;                //  Scratch: a fields buffer for merges
    size_t spare_max;
};


//  --------------------------------------------------------------------------
//  Lists

static void
s_list_push (list_t *list, zstate_backlog_entry_t *entry, bool at_head)
{
    if (at_head) {
        entry->prev = NULL;
        entry->next = list->head;
        if (list->head)
            list->head->prev = entry;
        else
            list->tail = entry;
        list->head = entry;
    }
    else {
        entry->next = NULL;
        entry->prev = list->tail;
        if (list->tail)
            list->tail->next = entry;
        else
            list->head = entry;
        list->tail = entry;
    }
    list->count++;
}

static void
s_list_remove (list_t *list, zstate_backlog_entry_t *entry)
{
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        list->head = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    else
        list->tail = entry->prev;
    entry->prev = entry->next = NULL;
    list->count--;
}


//  --------------------------------------------------------------------------
//  The hash table of pending entries

static uint64_t
s_hash (const byte *data, size_t size)
{
    //  FNV-1a, 64 bits
    uint64_t hash = 14695981039346656037ULL;
    for (size_t index = 0; index < size; index++) {
        hash ^= data [index];
        hash *= 1099511628211ULL;
    }
    return hash;
}

static void
s_table_resize (zstate_backlog_t *self, size_t count)
{
    zstate_backlog_entry_t **buckets =
        (zstate_backlog_entry_t **) zmalloc (count * sizeof (zstate_backlog_entry_t *));
    assert (buckets);
    for (size_t slot = 0; slot < self->bucket_count; slot++) {
        zstate_backlog_entry_t *cursor = self->buckets [slot];
        while (cursor) {
            zstate_backlog_entry_t *next = cursor->chain;
            size_t target = cursor->hash & (count - 1);
            cursor->chain = buckets [target];
            buckets [target] = cursor;
            cursor = next;
        }
    }
    free (self->buckets);
    self->buckets = buckets;
    self->bucket_count = count;
}

static zstate_backlog_entry_t *
s_table_find (zstate_backlog_t *self, const byte *key, size_t key_size, uint64_t hash)
{
    zstate_backlog_entry_t *entry = self->buckets [hash & (self->bucket_count - 1)];
    while (entry) {
        if (entry->hash == hash && entry->key_size == key_size
        &&  memcmp (entry->key, key, key_size) == 0)
            return entry;
        entry = entry->chain;
    }
    return NULL;
}

//  Pending entries are in the table and on the pending list, both or none
static void
s_pending_insert (zstate_backlog_t *self, zstate_backlog_entry_t *entry, bool at_head)
{
    if (self->pending.count + 1 > self->bucket_count)
        s_table_resize (self, self->bucket_count * 2);
    size_t slot = entry->hash & (self->bucket_count - 1);
    entry->chain = self->buckets [slot];
    self->buckets [slot] = entry;
    s_list_push (&self->pending, entry, at_head);
}

static void
s_pending_remove (zstate_backlog_t *self, zstate_backlog_entry_t *entry)
{
    zstate_backlog_entry_t **link = &self->buckets [entry->hash & (self->bucket_count - 1)];
    while (*link != entry) {
        assert (*link);
        link = &(*link)->chain;
    }
    *link = entry->chain;
    entry->chain = NULL;
    s_list_remove (&self->pending, entry);
    //  Give back what a burst of distinct keys grew, with room to spare
    //  so that a steady size does not resize back and forth
    if (self->bucket_count > BUCKETS_MIN && self->pending.count < self->bucket_count / 4)
        s_table_resize (self, self->bucket_count / 2);
}


//  --------------------------------------------------------------------------
//  Entries and their fields

static size_t
s_entry_bytes (zstate_backlog_entry_t *entry)
{
    return sizeof (zstate_backlog_entry_t) + entry->key_size + 1 + entry->fields_max;
}

static zstate_backlog_entry_t *
s_entry_new (const byte *key, size_t key_size, uint64_t hash)
{
    zstate_backlog_entry_t *entry =
        (zstate_backlog_entry_t *) zmalloc (sizeof (zstate_backlog_entry_t) + key_size + 1);
    assert (entry);
    memcpy (entry->key, key, key_size);
    entry->key [key_size] = 0;
    entry->key_size = key_size;
    entry->hash = hash;
    return entry;
}

static void
s_entry_destroy (zstate_backlog_entry_t **entry_p)
{
    zstate_backlog_entry_t *entry = *entry_p;
    if (entry) {
        free (entry->fields);
        free (entry);
        *entry_p = NULL;
    }
}

static void
s_refs_reserve (zstate_backlog_t *self, size_t count)
{
    if (count > self->refs_max) {
        self->refs_max = count * 2;
        self->refs = (zstate_backlog_field_t *)
            realloc (self->refs, self->refs_max * sizeof (zstate_backlog_field_t));
        assert (self->refs);
    }
}

//  Fields of an entry, into self->refs; they point into the entry
static size_t
s_refs_from_entry (zstate_backlog_t *self, zstate_backlog_entry_t *entry)
{
    s_refs_reserve (self, entry->field_count);
    const byte *cursor = entry->fields;
    for (size_t field = 0; field < entry->field_count; field++) {
        zstate_backlog_field_t *ref = &self->refs [field];
        uint32_t size;
        memcpy (&size, cursor, 4);
        ref->name = cursor + 4;
        ref->name_size = size;
        cursor += 4 + size;
        memcpy (&size, cursor, 4);
        ref->value = cursor + 4;
        ref->value_size = size;
        cursor += 4 + size;
    }
    return entry->field_count;
}

static size_t
s_fields_size (const zstate_backlog_field_t *fields, size_t count)
{
    size_t size = 0;
    for (size_t field = 0; field < count; field++)
        size += 8 + fields [field].name_size + fields [field].value_size;
    return size;
}

static byte *
s_put (byte *cursor, const void *data, size_t size)
{
    //  Names and values come from wire messages, far below this
    assert (size <= UINT32_MAX);
    uint32_t size32 = (uint32_t) size;
    memcpy (cursor, &size32, 4);
    memcpy (cursor + 4, data, size);
    return cursor + 4 + size;
}

//  Is name among the fields? Linear for few fields, else through the index
static bool
s_fields_have (zstate_backlog_t *self, const zstate_backlog_field_t *fields, size_t count,
               bool indexed, const byte *name, size_t size)
{
    if (!indexed) {
        for (size_t field = 0; field < count; field++)
            if (fields [field].name_size == size
            &&  memcmp (fields [field].name, name, size) == 0)
                return true;
        return false;
    }
    size_t mask = self->index_max - 1;
    size_t slot = s_hash (name, size) & mask;
    while (self->index [slot]) {
        const zstate_backlog_field_t *ref = &fields [self->index [slot] - 1];
        if (ref->name_size == size && memcmp (ref->name, name, size) == 0)
            return true;
        slot = (slot + 1) & mask;
    }
    return false;
}

static void
s_index_fields (zstate_backlog_t *self, const zstate_backlog_field_t *fields, size_t count)
{
    size_t needed = 16;
    while (needed < count * 2)
        needed *= 2;
    if (needed > self->index_max) {
        free (self->index);
        self->index = (uint32_t *) malloc (needed * sizeof (uint32_t));
        assert (self->index);
        self->index_max = needed;
    }
    memset (self->index, 0, self->index_max * sizeof (uint32_t));
    size_t mask = self->index_max - 1;
    for (size_t field = 0; field < count; field++) {
        size_t slot = s_hash ((const byte *) fields [field].name, fields [field].name_size) & mask;
        while (self->index [slot])
            slot = (slot + 1) & mask;
        self->index [slot] = (uint32_t) field + 1;
    }
}

//  Replace the entry's fields
static void
s_entry_set_fields (zstate_backlog_entry_t *entry, const zstate_backlog_field_t *fields,
                    size_t count)
{
    size_t size = s_fields_size (fields, count);
    if (size > entry->fields_max || entry->fields_max > 2 * size + 256) {
        //  Grow, or give back what a large earlier operation left
        free (entry->fields);
        entry->fields = size? (byte *) malloc (size): NULL;
        assert (entry->fields || !size);
        entry->fields_max = size;
    }
    byte *cursor = entry->fields;
    for (size_t field = 0; field < count; field++) {
        cursor = s_put (cursor, fields [field].name, fields [field].name_size);
        cursor = s_put (cursor, fields [field].value, fields [field].value_size);
    }
    entry->fields_size = size;
    entry->field_count = (uint32_t) count;
}

//  HSET over SET or HSET: keep the fields it does not name, then its own,
//  built in the spare buffer, which is then swapped in
static void
s_entry_merge_fields (zstate_backlog_t *self, zstate_backlog_entry_t *entry,
                      const zstate_backlog_field_t *fields, size_t count)
{
    bool indexed = count * entry->field_count > INDEX_LINEAR_MAX;
    if (indexed)
        s_index_fields (self, fields, count);
    size_t needed = entry->fields_size + s_fields_size (fields, count);
    if (needed > self->spare_max || self->spare_max > 2 * needed + 256) {
        free (self->spare);
        self->spare = (byte *) malloc (needed);
        assert (self->spare);
        self->spare_max = needed;
    }
    byte *target = self->spare;
    const byte *cursor = entry->fields;
    uint32_t kept = 0;
    for (size_t field = 0; field < entry->field_count; field++) {
        uint32_t name_size, value_size;
        memcpy (&name_size, cursor, 4);
        const byte *name = cursor + 4;
        memcpy (&value_size, name + name_size, 4);
        const byte *value = name + name_size + 4;
        cursor = value + value_size;
        if (!s_fields_have (self, fields, count, indexed, name, name_size)) {
            target = s_put (target, name, name_size);
            target = s_put (target, value, value_size);
            kept++;
        }
    }
    for (size_t field = 0; field < count; field++) {
        target = s_put (target, fields [field].name, fields [field].name_size);
        target = s_put (target, fields [field].value, fields [field].value_size);
    }
    byte *old = entry->fields;
    size_t old_max = entry->fields_max;
    entry->fields = self->spare;
    entry->fields_max = self->spare_max;
    entry->fields_size = target - self->spare;
    entry->field_count = kept + (uint32_t) count;
    self->spare = old;
    self->spare_max = old_max;
}

//  Apply operation op with its fields over the entry: the coalescing
//  rules. Keeps self->bytes in step.
static void
s_apply (zstate_backlog_t *self, zstate_backlog_entry_t *entry, int op,
         const zstate_backlog_field_t *fields, size_t count)
{
    size_t before = s_entry_bytes (entry);
    if (op == ZSTATE_OP_DEL) {
        entry->op = ZSTATE_OP_DEL;
        s_entry_set_fields (entry, NULL, 0);
    }
    else
    if (op == ZSTATE_OP_SET || entry->op == ZSTATE_OP_DEL) {
        //  SET replaces; HSET after DEL leaves exactly its fields: a SET
        entry->op = ZSTATE_OP_SET;
        s_entry_set_fields (entry, fields, count);
    }
    else
    if (count)
        s_entry_merge_fields (self, entry, fields, count);
    self->bytes += s_entry_bytes (entry);
    self->bytes -= before;
}


//  --------------------------------------------------------------------------
//  The backlog

zstate_backlog_t *
zstate_backlog_new (void)
{
    zstate_backlog_t *self = (zstate_backlog_t *) zmalloc (sizeof (zstate_backlog_t));
    assert (self);
    self->bucket_count = BUCKETS_MIN;
    self->buckets = (zstate_backlog_entry_t **)
        zmalloc (self->bucket_count * sizeof (zstate_backlog_entry_t *));
    assert (self->buckets);
    return self;
}

void
zstate_backlog_destroy (zstate_backlog_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_backlog_t *self = *self_p;
        list_t *lists [] = { &self->pending, &self->flight };
        for (size_t list = 0; list < 2; list++) {
            zstate_backlog_entry_t *entry = lists [list]->head;
            while (entry) {
                zstate_backlog_entry_t *next = entry->next;
                s_entry_destroy (&entry);
                entry = next;
            }
        }
        free (self->buckets);
        free (self->refs);
        free (self->index);
        free (self->spare);
        free (self);
        *self_p = NULL;
    }
}

void
zstate_backlog_set_bound (zstate_backlog_t *self, size_t keys, size_t bytes)
{
    assert (self);
    self->max_keys = keys;
    self->max_bytes = bytes;
}

int
zstate_backlog_add (zstate_backlog_t *self, const void *key, size_t key_size, int op,
                    const zstate_backlog_field_t *fields, size_t count, int64_t now)
{
    assert (self);
    assert (key || !key_size);
    assert (fields || !count);
    if (op != ZSTATE_OP_SET && op != ZSTATE_OP_HSET && op != ZSTATE_OP_DEL)
        return zstate_fail (EINVAL, "backlog: no such operation (%d)", op);
    if (op == ZSTATE_OP_DEL)
        count = 0;
    uint64_t hash = s_hash ((const byte *) key, key_size);
    zstate_backlog_entry_t *entry = s_table_find (self, (const byte *) key, key_size, hash);
    if (self->max_bytes && self->bytes >= self->max_bytes)
        return zstate_fail (ENOBUFS, "backlog full: %zu bytes held, bound %zu",
                            self->bytes, self->max_bytes);
    if (!entry && self->max_keys && self->pending.count + self->flight.count >= self->max_keys)
        return zstate_fail (ENOBUFS, "backlog full: %zu keys held, bound %zu",
                            self->pending.count + self->flight.count, self->max_keys);
    self->seq++;
    if (entry) {
        s_apply (self, entry, op, fields, count);
        entry->tag = self->tag;
        entry->folds++;
        return 1;
    }
    entry = s_entry_new ((const byte *) key, key_size, hash);
    entry->op = op;
    entry->tag = self->tag;
    entry->folds = 1;
    entry->seq = self->seq;
    entry->since = now;
    s_entry_set_fields (entry, fields, count);
    s_pending_insert (self, entry, false);
    self->bytes += s_entry_bytes (entry);
    return 0;
}

int
zstate_backlog_add_batch (zstate_backlog_t *self, const void *key, size_t key_size,
                          zstate_batch_t *batch, size_t index, int64_t now)
{
    assert (self);
    assert (batch);
    int op = zstate_batch_op (batch, index);
    size_t count = op == ZSTATE_OP_DEL? 0: zstate_batch_field_count (batch, index);
    s_refs_reserve (self, count);
    for (size_t field = 0; field < count; field++) {
        zstate_backlog_field_t *ref = &self->refs [field];
        ref->name = zstate_batch_name (batch, index, field, &ref->name_size);
        ref->value = zstate_batch_value (batch, index, field, &ref->value_size);
    }
    return zstate_backlog_add (self, key, key_size, op, self->refs, count, now);
}

zstate_backlog_entry_t *
zstate_backlog_take (zstate_backlog_t *self)
{
    assert (self);
    zstate_backlog_entry_t *entry = self->pending.head;
    if (entry) {
        s_pending_remove (self, entry);
        s_list_push (&self->flight, entry, false);
        entry->in_flight = true;
    }
    return entry;
}

void
zstate_backlog_confirm (zstate_backlog_t *self, zstate_backlog_entry_t **entry_p)
{
    assert (self);
    assert (entry_p && *entry_p);
    zstate_backlog_entry_t *entry = *entry_p;
    assert (entry->in_flight);
    s_list_remove (&self->flight, entry);
    self->bytes -= s_entry_bytes (entry);
    s_entry_destroy (entry_p);
}

int
zstate_backlog_restore (zstate_backlog_t *self, zstate_backlog_entry_t **entry_p)
{
    assert (self);
    assert (entry_p && *entry_p);
    zstate_backlog_entry_t *entry = *entry_p;
    assert (entry->in_flight);
    s_list_remove (&self->flight, entry);
    entry->in_flight = false;
    int merged = 0;
    zstate_backlog_entry_t *newer = s_table_find (self, entry->key, entry->key_size, entry->hash);
    if (newer) {
        //  The unconfirmed operation goes under the newer one, keeping
        //  its own, older, place and age
        size_t count = s_refs_from_entry (self, newer);
        s_apply (self, entry, newer->op, self->refs, count);
        entry->tag = newer->tag;
        entry->folds += newer->folds;
        s_pending_remove (self, newer);
        self->bytes -= s_entry_bytes (newer);
        s_entry_destroy (&newer);
        merged = 1;
    }
    s_pending_insert (self, entry, true);
    *entry_p = NULL;
    return merged;
}

size_t
zstate_backlog_restore_all (zstate_backlog_t *self)
{
    assert (self);
    size_t merged = 0;
    while (self->flight.tail) {
        zstate_backlog_entry_t *entry = self->flight.tail;
        merged += zstate_backlog_restore (self, &entry);
    }
    return merged;
}

zstate_backlog_entry_t *
zstate_backlog_first (zstate_backlog_t *self)
{
    assert (self);
    return self->pending.head;
}

zstate_backlog_entry_t *
zstate_backlog_next (zstate_backlog_entry_t *entry)
{
    assert (entry && !entry->in_flight);
    return entry->next;
}

size_t
zstate_backlog_pending (zstate_backlog_t *self)
{
    assert (self);
    return self->pending.count;
}

size_t
zstate_backlog_in_flight (zstate_backlog_t *self)
{
    assert (self);
    return self->flight.count;
}

size_t
zstate_backlog_bytes (zstate_backlog_t *self)
{
    assert (self);
    return self->bytes;
}

bool
zstate_backlog_full (zstate_backlog_t *self, size_t keys, size_t bytes)
{
    assert (self);
    return self->pending.count + self->flight.count >= keys || self->bytes >= bytes;
}

uint64_t
zstate_backlog_seq (zstate_backlog_t *self)
{
    assert (self);
    return self->seq;
}

bool
zstate_backlog_oldest (zstate_backlog_t *self, uint64_t *seq_p, int64_t *since_p)
{
    assert (self);
    //  Both lists hold their entries oldest first
    zstate_backlog_entry_t *oldest = self->flight.head;
    if (self->pending.head && (!oldest || self->pending.head->seq < oldest->seq))
        oldest = self->pending.head;
    if (seq_p)
        *seq_p = oldest? oldest->seq: 0;
    if (since_p)
        *since_p = oldest? oldest->since: 0;
    return oldest != NULL;
}

void
zstate_backlog_set_tag (zstate_backlog_t *self, uint64_t tag)
{
    assert (self);
    self->tag = tag;
}

uint64_t
zstate_backlog_entry_tag (zstate_backlog_entry_t *entry)
{
    assert (entry);
    return entry->tag;
}

size_t
zstate_backlog_entry_folds (zstate_backlog_entry_t *entry)
{
    assert (entry);
    return entry->folds;
}

const char *
zstate_backlog_entry_key (zstate_backlog_entry_t *entry, size_t *size_p)
{
    assert (entry);
    if (size_p)
        *size_p = entry->key_size;
    return (const char *) entry->key;
}

int
zstate_backlog_entry_op (zstate_backlog_entry_t *entry)
{
    assert (entry);
    return entry->op;
}

size_t
zstate_backlog_entry_field_count (zstate_backlog_entry_t *entry)
{
    assert (entry);
    return entry->field_count;
}

void
zstate_backlog_entry_fields (zstate_backlog_entry_t *entry, const char **parts, size_t *sizes)
{
    assert (entry);
    const byte *cursor = entry->fields;
    for (size_t part = 0; part < 2 * (size_t) entry->field_count; part++) {
        uint32_t size;
        memcpy (&size, cursor, 4);
        parts [part] = (const char *) cursor + 4;
        sizes [part] = size;
        cursor += 4 + size;
    }
}

size_t
zstate_backlog_entry_size (zstate_backlog_entry_t *entry)
{
    assert (entry);
    return entry->key_size + entry->fields_size;
}

void
zstate_backlog_verify (zstate_backlog_t *self)
{
    assert (self);
    size_t bytes = 0;
    list_t *lists [] = { &self->pending, &self->flight };
    for (size_t list = 0; list < 2; list++) {
        size_t count = 0;
        zstate_backlog_entry_t *prev = NULL;
        for (zstate_backlog_entry_t *entry = lists [list]->head; entry; entry = entry->next) {
            assert (entry->prev == prev);
            assert (entry->in_flight == (list == 1));
            //  Oldest first: entries restored in reverse keep it so
            assert (!prev || prev->seq < entry->seq);
            assert (entry->op != ZSTATE_OP_DEL || entry->field_count == 0);
            if (list == 0)
                assert (s_table_find (self, entry->key, entry->key_size, entry->hash) == entry);
            bytes += s_entry_bytes (entry);
            prev = entry;
            count++;
        }
        assert (lists [list]->tail == prev);
        assert (count == lists [list]->count);
    }
    assert (bytes == self->bytes);
    size_t chained = 0;
    for (size_t slot = 0; slot < self->bucket_count; slot++)
        for (zstate_backlog_entry_t *entry = self->buckets [slot]; entry; entry = entry->chain)
            chained++;
    assert (chained == self->pending.count);
    //  Grown at one entry per bucket, shrunk below a quarter
    assert (self->pending.count <= self->bucket_count);
    assert (self->bucket_count == BUCKETS_MIN || self->pending.count >= self->bucket_count / 4);
}


//  The selftest, zstate_backlog_test, is in selftest/zstate_backlog_suite.c
