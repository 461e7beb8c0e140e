/*  =========================================================================
    zstate_mirror - the newest state of every key of one producer table,
    from which the client agent emits snapshots

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    An open-addressing table (linear probing, backward-shift deletion)
    indexes the entries by their binary key, and a doubly linked list
    keeps them in the order their keys appeared, which is what the
    snapshot cursor walks. An entry is one allocation with its key, and
    its fields are one more: a blob of size-prefixed names and values, so
    a new key costs two mallocs on the send path.
@discuss
    An HSET over fields rebuilds the blob, looking each name up by a
    linear search: entries hold a few fields, and a table per entry would
    cost more than the search.
@end
*/

#include "zstate_classes.h"
#include "zstate_mirror.h"

typedef struct _entry_t entry_t;
struct _entry_t {
    entry_t *prev, *next;       //  In the order keys appeared
    size_t hash;
    bool set;                   //  A SET made it (else HSETs only)
    byte *blob;                 //  count x (name size:u32 value size:u32
    size_t blob_size;           //  name NUL value NUL), or NULL
    size_t count;               //  Fields
    uint64_t view;              //  Last view that wrote it
    size_t key_size;
    byte *key;                  //  Points just after the entry
};

struct _zstate_mirror_t {
    entry_t **slots;            //  Open addressing, slots_max a power of 2
    size_t slots_max;
    size_t size;                //  Entries held
    entry_t *head, *tail;
    entry_t *cursor;            //  Next entry a snapshot reads, or NULL
    size_t keys_max;
    size_t bytes;               //  Payload bytes held
    uint64_t view;              //  Current view, 0 when none is open
    uint64_t views;             //  Views begun, to number them
    zhashx_t *probe;            //  check's scratch: keys a batch touched
};

#define SLOTS_MIN       64

static size_t
s_hash_bytes (const byte *key, size_t size)
{
    //  FNV-1a
    size_t hash = (size_t) 14695981039346656037ULL;
    for (size_t index = 0; index < size; index++) {
        hash ^= key [index];
        hash *= (size_t) 1099511628211ULL;
    }
    return hash;
}

//  check's probes are entries too, hashed and compared by key
static size_t
s_hash (const void *item)
{
    const entry_t *entry = (const entry_t *) item;
    return s_hash_bytes (entry->key, entry->key_size);
}

static int
s_compare (const void *item1, const void *item2)
{
    const entry_t *one = (const entry_t *) item1, *two = (const entry_t *) item2;
    if (one->key_size != two->key_size)
        return one->key_size < two->key_size? -1: 1;
    return memcmp (one->key, two->key, one->key_size);
}

zstate_mirror_t *
zstate_mirror_new (size_t keys_max)
{
    assert (keys_max);
    zstate_mirror_t *self = (zstate_mirror_t *) zmalloc (sizeof (zstate_mirror_t));
    assert (self);
    self->slots_max = SLOTS_MIN;
    self->slots = (entry_t **) zmalloc (self->slots_max * sizeof (entry_t *));
    assert (self->slots);
    self->probe = zhashx_new ();
    assert (self->probe);
    zhashx_set_key_hasher (self->probe, s_hash);
    zhashx_set_key_comparator (self->probe, s_compare);
    zhashx_set_key_duplicator (self->probe, NULL);
    zhashx_set_key_destructor (self->probe, NULL);
    self->keys_max = keys_max;
    return self;
}

static void
s_entry_destroy (zstate_mirror_t *self, entry_t *entry)
{
    self->bytes -= entry->key_size + entry->blob_size;
    free (entry->blob);
    free (entry);
}

void
zstate_mirror_destroy (zstate_mirror_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_mirror_t *self = *self_p;
        zhashx_destroy (&self->probe);
        while (self->head) {
            entry_t *next = self->head->next;
            s_entry_destroy (self, self->head);
            self->head = next;
        }
        free (self->slots);
        free (self);
        *self_p = NULL;
    }
}

//  The slot of key: its entry's, or the empty one where it would go
static size_t
s_slot (zstate_mirror_t *self, const void *key, size_t key_size, size_t hash)
{
    size_t mask = self->slots_max - 1;
    size_t slot = hash & mask;
    entry_t *entry;
    while ((entry = self->slots [slot])) {
        if (entry->hash == hash && entry->key_size == key_size
        &&  memcmp (entry->key, key, key_size) == 0)
            break;
        slot = (slot + 1) & mask;
    }
    return slot;
}

static entry_t *
s_find (zstate_mirror_t *self, const void *key, size_t key_size)
{
    size_t hash = s_hash_bytes ((const byte *) key, key_size);
    return self->slots [s_slot (self, key, key_size, hash)];
}

//  Take entry out of the table, shifting back what follows it
static void
s_unslot (zstate_mirror_t *self, entry_t *entry)
{
    size_t mask = self->slots_max - 1;
    size_t hole = s_slot (self, entry->key, entry->key_size, entry->hash);
    assert (self->slots [hole] == entry);
    size_t next = hole;
    while (true) {
        next = (next + 1) & mask;
        entry_t *moved = self->slots [next];
        if (!moved)
            break;
        size_t home = moved->hash & mask;
        //  moved may fill the hole when its home is not in (hole, next]
        bool between = hole <= next? (home > hole && home <= next):
                                     (home > hole || home <= next);
        if (!between) {
            self->slots [hole] = moved;
            hole = next;
        }
    }
    self->slots [hole] = NULL;
    self->size--;
}

static void
s_grow (zstate_mirror_t *self)
{
    entry_t **slots = self->slots;
    size_t max = self->slots_max;
    self->slots_max *= 2;
    self->slots = (entry_t **) zmalloc (self->slots_max * sizeof (entry_t *));
    assert (self->slots);
    size_t mask = self->slots_max - 1;
    for (size_t index = 0; index < max; index++)
        if (slots [index]) {
            size_t slot = slots [index]->hash & mask;
            while (self->slots [slot])
                slot = (slot + 1) & mask;
            self->slots [slot] = slots [index];
        }
    free (slots);
}

//  Remove entry, moving the snapshot cursor on when it is there
static void
s_remove (zstate_mirror_t *self, entry_t *entry)
{
    if (self->cursor == entry)
        self->cursor = entry->next;
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        self->head = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    else
        self->tail = entry->prev;
    s_unslot (self, entry);
    s_entry_destroy (self, entry);
}

static entry_t *
s_add (zstate_mirror_t *self, const void *key, size_t key_size)
{
    //  At most three quarters full
    if (4 * (self->size + 1) > 3 * self->slots_max)
        s_grow (self);
    entry_t *entry = (entry_t *) zmalloc (sizeof (entry_t) + key_size + 1);
    assert (entry);
    entry->key = (byte *) (entry + 1);
    memcpy (entry->key, key, key_size);
    entry->key_size = key_size;
    entry->hash = s_hash_bytes (entry->key, key_size);
    self->bytes += key_size;
    entry->prev = self->tail;
    if (self->tail)
        self->tail->next = entry;
    else
        self->head = entry;
    self->tail = entry;
    self->slots [s_slot (self, key, key_size, entry->hash)] = entry;
    self->size++;
    return entry;
}

//  The field of the blob at cursor: its name and value; returns the next
static const byte *
s_blob_field (const byte *cursor, const byte **name, size_t *name_size,
              const byte **value, size_t *value_size)
{
    *name_size = zstate_get_u32 (cursor);
    *value_size = zstate_get_u32 (cursor + 4);
    *name = cursor + 8;
    *value = *name + *name_size + 1;
    return *value + *value_size + 1;
}

static byte *
s_blob_put (byte *cursor, const void *name, size_t name_size, const void *value,
            size_t value_size)
{
    zstate_put_u32 (cursor, (uint32_t) name_size);
    zstate_put_u32 (cursor + 4, (uint32_t) value_size);
    memcpy (cursor + 8, name, name_size);
    cursor [8 + name_size] = 0;
    memcpy (cursor + 9 + name_size, value, value_size);
    cursor [9 + name_size + value_size] = 0;
    return cursor + 10 + name_size + value_size;
}

//  The fields of operation index of batch as the entry's (a SET), or
//  merged over them (an HSET): its values win, new names go last
static void
s_fields_write (zstate_mirror_t *self, entry_t *entry, zstate_batch_t *batch,
                size_t index, bool merge)
{
    size_t count = zstate_batch_field_count (batch, index);
    //  A SET of none was cleared already; an HSET of none changes nothing
    if (!count)
        return;
    //  The worst size: every old field kept, every new one added
    size_t size = merge? entry->blob_size: 0;
    for (size_t field = 0; field < count; field++) {
        size_t name_size, value_size;
        zstate_batch_name (batch, index, field, &name_size);
        zstate_batch_value (batch, index, field, &value_size);
        size += 10 + name_size + value_size;
    }
    byte *blob = (byte *) malloc (size);
    assert (blob);
    byte *cursor = blob;
    size_t fields = 0;
    const byte *old = entry->blob;
    for (size_t kept = 0; merge && kept < entry->count; kept++) {
        const byte *name, *value;
        size_t name_size, value_size;
        old = s_blob_field (old, &name, &name_size, &value, &value_size);
        for (size_t field = 0; field < count; field++) {
            size_t size_new;
            const char *name_new = zstate_batch_name (batch, index, field, &size_new);
            if (size_new == name_size && memcmp (name_new, name, name_size) == 0) {
                value = NULL;
                break;
            }
        }
        if (value) {            //  Not overwritten
            cursor = s_blob_put (cursor, name, name_size, value, value_size);
            fields++;
        }
    }
    for (size_t field = 0; field < count; field++) {
        size_t name_size, value_size;
        const char *name = zstate_batch_name (batch, index, field, &name_size);
        const char *value = zstate_batch_value (batch, index, field, &value_size);
        cursor = s_blob_put (cursor, name, name_size, value, value_size);
        fields++;
    }
    self->bytes -= entry->blob_size;
    free (entry->blob);
    entry->blob = blob;
    entry->blob_size = (size_t) (cursor - blob);
    entry->count = fields;
    self->bytes += entry->blob_size;
}

int
zstate_mirror_check (zstate_mirror_t *self, zstate_batch_t *batch)
{
    assert (self);
    size_t ops = zstate_batch_size (batch);
    size_t keys = self->size;
    //  The common case: the batch cannot reach the bound
    if (keys + ops <= self->keys_max)
        return 0;
    //  Follow each key's presence through the batch: a probe entry per key
    //  touched, its set flag saying present
    entry_t *probes = (entry_t *) zmalloc (ops * sizeof (entry_t));
    assert (probes);
    int rc = 0;
    for (size_t index = 0; index < ops && rc == 0; index++) {
        entry_t *probe = &probes [index];
        probe->key = (byte *) zstate_batch_key (batch, index, &probe->key_size);
        entry_t *seen = (entry_t *) zhashx_lookup (self->probe, probe);
        bool present = seen? seen->set: s_find (self, probe->key, probe->key_size) != NULL;
        if (!seen) {
            int inserted = zhashx_insert (self->probe, probe, probe);
            assert (inserted == 0);
            seen = probe;
        }
        bool del = zstate_batch_op (batch, index) == ZSTATE_OP_DEL;
        if (del && present)
            keys--;
        else
        if (!del && !present && ++keys > self->keys_max)
            rc = zstate_fail (ENOBUFS, "mirror full: %zu keys, a new key is refused",
                              self->keys_max);
        seen->set = !del;
    }
    zhashx_purge (self->probe);
    free (probes);
    return rc;
}

size_t
zstate_mirror_apply (zstate_mirror_t *self, zstate_batch_t *batch)
{
    assert (self);
    size_t ops = zstate_batch_size (batch);
    for (size_t index = 0; index < ops; index++) {
        size_t key_size;
        const char *key = zstate_batch_key (batch, index, &key_size);
        int op = zstate_batch_op (batch, index);
        entry_t *entry = s_find (self, key, key_size);
        if (op == ZSTATE_OP_DEL) {
            if (entry)
                s_remove (self, entry);
            continue;
        }
        if (!entry)
            entry = s_add (self, key, key_size);
        if (op == ZSTATE_OP_SET) {
            entry->set = true;
            if (!zstate_batch_field_count (batch, index)) {
                self->bytes -= entry->blob_size;
                free (entry->blob);
                entry->blob = NULL;
                entry->blob_size = entry->count = 0;
            }
        }
        s_fields_write (self, entry, batch, index, op == ZSTATE_OP_HSET);
        entry->view = self->view;
    }
    return self->size;
}

size_t
zstate_mirror_size (zstate_mirror_t *self)
{
    assert (self);
    return self->size;
}

size_t
zstate_mirror_bytes (zstate_mirror_t *self)
{
    assert (self);
    return self->bytes;
}

void
zstate_mirror_begin_view (zstate_mirror_t *self)
{
    assert (self);
    self->view = ++self->views;
}

size_t
zstate_mirror_end_view (zstate_mirror_t *self)
{
    assert (self);
    if (!self->view)
        return 0;
    size_t dropped = 0;
    entry_t *entry = self->head;
    while (entry) {
        entry_t *next = entry->next;
        if (entry->view != self->view) {
            s_remove (self, entry);
            dropped++;
        }
        entry = next;
    }
    self->view = 0;
    return dropped;
}

void
zstate_mirror_snapshot_start (zstate_mirror_t *self)
{
    assert (self);
    self->cursor = self->head;
}

//  Bytes entry takes on the wire: opcode, key, field count, then each
//  field as the blob holds it (sizes, bytes and NULs alike)
static size_t
s_wire_size (entry_t *entry)
{
    return 1 + 4 + entry->key_size + 1 + 4 + entry->blob_size;
}

static void
s_append (entry_t *entry, zstate_batch_t *batch)
{
    int rc = zstate_batch_append (batch, entry->set? ZSTATE_OP_SET: ZSTATE_OP_HSET,
                                  entry->key, entry->key_size);
    assert (rc == 0);
    const byte *cursor = entry->blob;
    for (size_t index = 0; index < entry->count; index++) {
        const byte *name, *value;
        size_t name_size, value_size;
        cursor = s_blob_field (cursor, &name, &name_size, &value, &value_size);
        rc = zstate_batch_field (batch, name, name_size, value, value_size);
        assert (rc == 0);
    }
}

size_t
zstate_mirror_snapshot_next (zstate_mirror_t *self, zstate_batch_t *batch,
                             size_t header, size_t ops_max, size_t bytes_max)
{
    assert (self);
    size_t appended = 0;
    while (self->cursor && appended < ops_max) {
        size_t wire = s_wire_size (self->cursor);
        if (zstate_batch_size (batch)
        &&  header + zstate_batch_bytes (batch) + wire > bytes_max)
            break;
        s_append (self->cursor, batch);
        self->cursor = self->cursor->next;
        appended++;
    }
    return appended;
}

bool
zstate_mirror_lookup (zstate_mirror_t *self, const void *key, size_t key_size,
                      zstate_batch_t *batch)
{
    assert (self);
    entry_t *entry = s_find (self, key, key_size);
    if (entry)
        s_append (entry, batch);
    return entry != NULL;
}


//  The selftest, zstate_mirror_test, is selftest/zstate_mirror_suite.c
