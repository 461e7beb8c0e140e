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
    A zhashx indexes the entries by their binary key (the entry is its own
    key: no copy), and a doubly linked list keeps them in the order their
    keys appeared, which is what the snapshot cursor walks.
@discuss
    Fields are kept in an array in the order they were first set, and an
    HSET looks each of its names up by a linear search: entries hold a
    few fields, and the search costs less than a table per entry.
@end
*/

#include "zstate_classes.h"
#include "zstate_mirror.h"

typedef struct {
    byte *name;                 //  name NUL value NUL, one allocation
    size_t name_size;
    size_t value_size;
} field_t;

typedef struct _entry_t entry_t;
struct _entry_t {
    entry_t *prev, *next;       //  In the order keys appeared
    byte *key;
    size_t key_size;
    bool set;                   //  A SET made it (else HSETs only)
    field_t *fields;
    size_t count;               //  Fields used
    size_t max;                 //  Fields allocated
    uint64_t view;              //  Last view that wrote it
};

struct _zstate_mirror_t {
    zhashx_t *index;            //  entry -> entry, hashed by key
    entry_t *head, *tail;
    entry_t *cursor;            //  Next entry a snapshot reads, or NULL
    size_t keys_max;
    size_t bytes;               //  Payload bytes held
    uint64_t view;              //  Current view, 0 when none is open
    uint64_t views;             //  Views begun, to number them
    zhashx_t *probe;            //  check's scratch: keys a batch touched
};

//  Keys are entries: hash and compare their key bytes
static size_t
s_hash (const void *item)
{
    const entry_t *entry = (const entry_t *) item;
    size_t hash = 5381;
    for (size_t index = 0; index < entry->key_size; index++)
        hash = hash * 33 + entry->key [index];
    return hash;
}

static int
s_compare (const void *item1, const void *item2)
{
    const entry_t *one = (const entry_t *) item1, *two = (const entry_t *) item2;
    if (one->key_size != two->key_size)
        return one->key_size < two->key_size? -1: 1;
    return memcmp (one->key, two->key, one->key_size);
}

static zhashx_t *
s_index_new (void)
{
    zhashx_t *index = zhashx_new ();
    assert (index);
    zhashx_set_key_hasher (index, s_hash);
    zhashx_set_key_comparator (index, s_compare);
    zhashx_set_key_duplicator (index, NULL);
    zhashx_set_key_destructor (index, NULL);
    return index;
}

zstate_mirror_t *
zstate_mirror_new (size_t keys_max)
{
    assert (keys_max);
    zstate_mirror_t *self = (zstate_mirror_t *) zmalloc (sizeof (zstate_mirror_t));
    assert (self);
    self->index = s_index_new ();
    self->probe = s_index_new ();
    self->keys_max = keys_max;
    return self;
}

static size_t
s_field_bytes (field_t *field)
{
    return field->name_size + field->value_size + 8;
}

static void
s_fields_clear (zstate_mirror_t *self, entry_t *entry)
{
    for (size_t index = 0; index < entry->count; index++) {
        self->bytes -= s_field_bytes (&entry->fields [index]);
        free (entry->fields [index].name);
    }
    entry->count = 0;
}

static void
s_entry_destroy (zstate_mirror_t *self, entry_t *entry)
{
    s_fields_clear (self, entry);
    self->bytes -= entry->key_size;
    free (entry->fields);
    free (entry->key);
    free (entry);
}

void
zstate_mirror_destroy (zstate_mirror_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_mirror_t *self = *self_p;
        zhashx_destroy (&self->index);
        zhashx_destroy (&self->probe);
        while (self->head) {
            entry_t *next = self->head->next;
            s_entry_destroy (self, self->head);
            self->head = next;
        }
        free (self);
        *self_p = NULL;
    }
}

static entry_t *
s_find (zstate_mirror_t *self, const void *key, size_t key_size)
{
    entry_t probe = { .key = (byte *) key, .key_size = key_size };
    return (entry_t *) zhashx_lookup (self->index, &probe);
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
    zhashx_delete (self->index, entry);
    s_entry_destroy (self, entry);
}

static entry_t *
s_add (zstate_mirror_t *self, const void *key, size_t key_size)
{
    entry_t *entry = (entry_t *) zmalloc (sizeof (entry_t));
    assert (entry);
    entry->key = (byte *) malloc (key_size + 1);
    assert (entry->key);
    memcpy (entry->key, key, key_size);
    entry->key [key_size] = 0;
    entry->key_size = key_size;
    self->bytes += key_size;
    entry->prev = self->tail;
    if (self->tail)
        self->tail->next = entry;
    else
        self->head = entry;
    self->tail = entry;
    int rc = zhashx_insert (self->index, entry, entry);
    assert (rc == 0);
    return entry;
}

//  Set field name to value in entry, replacing a field of that name
static void
s_field_set (zstate_mirror_t *self, entry_t *entry, const char *name, size_t name_size,
             const char *value, size_t value_size, bool lookup)
{
    field_t *field = NULL;
    for (size_t index = 0; lookup && index < entry->count; index++) {
        field_t *at = &entry->fields [index];
        if (at->name_size == name_size && memcmp (at->name, name, name_size) == 0) {
            field = at;
            self->bytes -= s_field_bytes (field);
            free (field->name);
            break;
        }
    }
    if (!field) {
        if (entry->count == entry->max) {
            entry->max = entry->max? 2 * entry->max: 4;
            entry->fields = (field_t *) realloc (entry->fields,
                                                 entry->max * sizeof (field_t));
            assert (entry->fields);
        }
        field = &entry->fields [entry->count++];
    }
    field->name = (byte *) malloc (name_size + value_size + 2);
    assert (field->name);
    memcpy (field->name, name, name_size);
    field->name [name_size] = 0;
    memcpy (field->name + name_size + 1, value, value_size);
    field->name [name_size + 1 + value_size] = 0;
    field->name_size = name_size;
    field->value_size = value_size;
    self->bytes += s_field_bytes (field);
}

int
zstate_mirror_check (zstate_mirror_t *self, zstate_batch_t *batch)
{
    assert (self);
    size_t ops = zstate_batch_size (batch);
    size_t keys = zhashx_size (self->index);
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
        bool present = seen? seen->set: zhashx_lookup (self->index, probe) != NULL;
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
            s_fields_clear (self, entry);
            entry->set = true;
        }
        size_t count = zstate_batch_field_count (batch, index);
        for (size_t field = 0; field < count; field++) {
            size_t name_size, value_size;
            const char *name = zstate_batch_name (batch, index, field, &name_size);
            const char *value = zstate_batch_value (batch, index, field, &value_size);
            s_field_set (self, entry, name, name_size, value, value_size,
                         op == ZSTATE_OP_HSET);
        }
        entry->view = self->view;
    }
    return zhashx_size (self->index);
}

size_t
zstate_mirror_size (zstate_mirror_t *self)
{
    assert (self);
    return zhashx_size (self->index);
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

//  Bytes entry takes on the wire: opcode, key, field count, sized strings
static size_t
s_wire_size (entry_t *entry)
{
    size_t size = 1 + 4 + entry->key_size + 1 + 4;
    for (size_t index = 0; index < entry->count; index++)
        size += 10 + entry->fields [index].name_size + entry->fields [index].value_size;
    return size;
}

static void
s_append (entry_t *entry, zstate_batch_t *batch)
{
    int rc = zstate_batch_append (batch, entry->set? ZSTATE_OP_SET: ZSTATE_OP_HSET,
                                  entry->key, entry->key_size);
    assert (rc == 0);
    for (size_t index = 0; index < entry->count; index++) {
        field_t *field = &entry->fields [index];
        rc = zstate_batch_field (batch, field->name, field->name_size,
                                 field->name + field->name_size + 1, field->value_size);
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
