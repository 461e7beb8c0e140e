/*  =========================================================================
    zstate_writer - the DB writer: persists wire messages into Redis

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The writer actor keeps a backlog of unconfirmed operations, one entry
    per key, and drains it into Redis in pipelined MULTI/EXEC batches over
    one hiredis connection (zstate_redis).
@discuss
    The backlog: a hash table of entries by Redis key, plus a list of the
    pending entries, oldest first. An entry holds one operation (SET, HSET
    or DEL) and its fields in one buffer; a new operation on a pending key
    folds into the entry (coalescing), which keeps its place and its age.
    Sending a batch takes entries from the head of the list out of the
    table: they are in flight. A new operation on a key in flight starts a
    new pending entry, sent in a later batch, on the same connection, so
    Redis applies them in order. Up to WINDOW batches are in flight at
    once, so Redis works on one batch while we read the next messages.

    Replies are read without blocking, from a zloop poller on the Redis
    socket; the socket is blocking with a timeout (hiredis' synchronous
    API), so writes and the connect are bounded, and we only read when poll
    says readable. A batch is confirmed by its EXEC reply; its entries are
    freed then, and only then. When the connection fails, or a batch gets
    no reply for the command timeout, every batch in flight goes back to
    the head of the list, newest first, each entry merged *under* a pending
    entry for the same key if there is one (unconfirmed, then newer). A
    batch aborted by Redis never ran (MULTI), so resending it is exact;
    one that ran but whose reply was lost is applied twice, which is
    harmless: SET, HSET and DEL are idempotent.

    Accounting: every operation received is, at any time, exactly one of
    written, failed, coalesced or in the backlog; the selftest checks it.
@end
*/

#include "zstate_classes.h"

#define WINDOW                  3           //  batches in flight at most
#define DRAIN_MAX               64          //  messages per data reader call
#define REPLY_READS_MAX         64          //  socket reads per reply call
#define BATCH_BYTES_MAX         (8 * 1024 * 1024)
#define WATCHDOG_INTERVAL       100         //  msecs
#define BUCKETS_MIN             1024
#define INDEX_LINEAR_MAX        64          //  fields x fields compared linearly
#define STALL_LOG_INTERVAL      10000       //  msecs between "backlog full" logs

#define DEFAULT_BATCH           2000
#define DEFAULT_INTERVAL        1
#define DEFAULT_KEYS            65536
#define DEFAULT_BYTES           (64 * 1024 * 1024)
#define DEFAULT_RECONNECT_MIN   100
#define DEFAULT_RECONNECT_MAX   5000
#define DEFAULT_CONNECT_TIMEOUT 1000
#define DEFAULT_COMMAND_TIMEOUT 2000
#define DEFAULT_LINGER          5000

//  One key's unconfirmed operation
typedef struct _entry_t entry_t;
struct _entry_t {
    entry_t *prev;              //  Pending list, oldest first
    entry_t *next;
    entry_t *chain;             //  Next entry in the same hash bucket
    uint64_t hash;              //  Hash of the key
    uint64_t seq;               //  Sequence of the oldest op folded in
    int64_t since;              //  When that op arrived (zclock_mono)
    int op;                     //  ZSTATE_OP_*
    uint32_t field_count;       //  Fields held
    byte *fields;               //  Per field: u32 size, name, u32 size, value
    size_t fields_size;         //  Bytes used in fields
    size_t fields_max;          //  Bytes allocated for fields
    size_t key_size;            //  Bytes of key
    byte key [];                //  table, separator, key, then a NUL
};

//  One batch in flight
typedef struct {
    entry_t **entries;          //  Entries, in the order sent
    byte *commands;             //  Redis commands sent for each (0..2)
    size_t count;               //  Entries in the batch
    size_t max;                 //  Entries allocated
    size_t command_count;       //  Commands between MULTI and EXEC
    size_t replies;             //  Replies read so far
    bool refused;               //  MULTI or a command refused when queued
    char reason [256];          //  Why, the first time
} batch_t;

//  A field of an operation, wherever it is stored
typedef struct {
    const byte *name;
    size_t name_size;
    const byte *value;
    size_t value_size;
} field_ref_t;

//  Actor arguments, from the wrapper
typedef struct {
    zsock_t *events;            //  Actor end of the event pipe
    const char *endpoint;       //  PULL endpoint to bind
    struct _snapshot_t *snapshot;   //  Where we publish our counters
} writer_args_t;

//  The counters as of the last SNAPSHOT_INTERVAL, readable without a
//  round trip: a server's monitor must not wait while the writer is busy
//  with Redis
typedef struct _snapshot_t {
    pthread_mutex_t mutex;
    zstate_writer_stats_t stats;
} snapshot_t;

#define SNAPSHOT_INTERVAL   100     //  msecs between snapshots

typedef struct {
    zsock_t *pipe;              //  Actor command pipe
    snapshot_t *snapshot;       //  Shared with the wrapper
    zsock_t *events;            //  Event pipe, actor end
    zsock_t *data;              //  PULL socket for wire messages
    zloop_t *loop;              //  Our reactor
    zstate_msg_t *msg;          //  Decoder, reused
    zstate_batch_t *batch;      //  Operations of the message at hand
    zstate_redis_t *redis;      //  Connection, NULL before CONNECT
    int state;                  //  ZSTATE_WRITER_*
    bool verbose;               //  Log activity
    bool reading;               //  Data reader registered
    bool polling;               //  Redis socket poller registered
    zmq_pollitem_t pollitem;    //  The Redis socket, for the poller

    char *separator;            //  Between table and key
    size_t separator_size;      //  Its length
    int db;                     //  SELECT index
    char *password;             //  AUTH password, or NULL
    int connect_timeout;        //  msecs
    int command_timeout;        //  msecs
    size_t batch_size;          //  Operations per batch
    int batch_interval;         //  msecs a partial batch may wait
    size_t max_keys;            //  Backlog bound, keys
    size_t max_bytes;           //  Backlog bound, bytes
    int reconnect_min;          //  Backoff, msecs
    int reconnect_max;

    entry_t **buckets;          //  Hash table of pending entries
    size_t bucket_count;        //  A power of two
    entry_t *head;              //  Pending list, oldest first
    entry_t *tail;
    size_t pending;             //  Pending entries
    size_t bytes;               //  Bytes held by pending and in flight
    batch_t window [WINDOW];    //  Batches in flight, a ring
    size_t window_head;         //  Oldest batch in flight
    size_t window_count;        //  Batches in flight
    size_t in_flight;           //  Entries in flight
    uint64_t seq;               //  Sequence of the last op accepted

    int batch_timer;            //  Timer ids, -1 when not armed
    int reconnect_timer;
    int watchdog_timer;
    int flush_timer;
    int backoff;                //  Next reconnect delay, msecs
    int64_t last_progress;      //  Last reply, or first send after idle
    bool ever_connected;        //  A connect succeeded once
    bool flushing;              //  A FLUSH reply is owed
    bool flush_draining;        //  ...and the PULL socket held more than
                                //  the bound let us read when it came
    uint64_t flush_mark;        //  ... once every op up to here confirmed
    bool terminated;            //  $TERM received
    int64_t stall_logged;       //  When a full backlog was last logged

    byte *keybuf;               //  Scratch: the Redis key being built
    size_t keybuf_max;
    field_ref_t *refs;          //  Scratch: fields of an operation
    size_t refs_max;
    uint32_t *index;            //  Scratch: hash index over refs
    size_t index_max;
    byte *spare;                //  Scratch: a fields buffer for merges
    size_t spare_max;
    const char **argv;          //  Scratch: one Redis command
    size_t *argvlen;
    size_t argv_max;

    zstate_writer_stats_t stats;    //  Counters
} self_t;

static int s_self_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg);
static int s_self_handle_data (zloop_t *loop, zsock_t *reader, void *arg);
static int s_self_handle_redis (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int s_self_handle_reconnect (zloop_t *loop, int timer_id, void *arg);
static int s_self_handle_batch (zloop_t *loop, int timer_id, void *arg);
static int s_self_handle_watchdog (zloop_t *loop, int timer_id, void *arg);
static int s_self_handle_flush (zloop_t *loop, int timer_id, void *arg);


//  --------------------------------------------------------------------------
//  Create and destroy the actor state. Nothing here can fail but memory.

static self_t *
s_self_new (zsock_t *pipe, writer_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->snapshot = args->snapshot;
    self->events = args->events;
    //  Events never block the actor: dropped and counted when unread
    zsock_set_sndtimeo (self->events, 0);
    self->data = zsock_new (ZMQ_PULL);
    assert (self->data);
    //  A unique inproc name cannot be in use; bind fails only without memory
    //  Little buffering before us: the backlog bound is what holds data
    zsock_set_rcvhwm (self->data, 100);
    int rc = zsock_bind (self->data, "%s", args->endpoint);
    assert (rc == 0);
    self->msg = zstate_msg_new ();
    self->batch = zstate_batch_new ();
    assert (self->msg && self->batch);
    self->separator = strdup (":");
    self->separator_size = 1;
    self->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    self->command_timeout = DEFAULT_COMMAND_TIMEOUT;
    self->batch_size = DEFAULT_BATCH;
    self->batch_interval = DEFAULT_INTERVAL;
    self->max_keys = DEFAULT_KEYS;
    self->max_bytes = DEFAULT_BYTES;
    self->reconnect_min = DEFAULT_RECONNECT_MIN;
    self->reconnect_max = DEFAULT_RECONNECT_MAX;
    self->backoff = self->reconnect_min;
    self->bucket_count = BUCKETS_MIN;
    self->buckets = (entry_t **) zmalloc (self->bucket_count * sizeof (entry_t *));
    assert (self->buckets);
    self->batch_timer = -1;
    self->reconnect_timer = -1;
    self->watchdog_timer = -1;
    self->flush_timer = -1;
    self->state = ZSTATE_WRITER_IDLE;

    self->loop = zloop_new ();
    assert (self->loop);
    //  Only $TERM ends the actor, never a signal to the host process
    zloop_set_nonstop (self->loop, true);
    zloop_reader (self->loop, self->pipe, s_self_handle_pipe, self);
    zloop_reader_set_tolerant (self->loop, self->pipe);
    zloop_reader (self->loop, self->data, s_self_handle_data, self);
    zloop_reader_set_tolerant (self->loop, self->data);
    self->reading = true;
    return self;
}

static void
s_entry_destroy (entry_t **entry_p)
{
    entry_t *entry = *entry_p;
    if (entry) {
        free (entry->fields);
        free (entry);
        *entry_p = NULL;
    }
}

static const char *
s_self_name (self_t *self)
{
    return self->redis? zstate_redis_endpoint (self->redis): "-";
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        if (self->pending || self->in_flight)
            zsys_warning ("zstate_writer %s: ending with %zu keys not written to Redis "
                          "(%zu pending, %zu unconfirmed)", s_self_name (self),
                          self->pending + self->in_flight, self->pending, self->in_flight);
        zloop_destroy (&self->loop);
        for (size_t slot = 0; slot < self->window_count; slot++) {
            batch_t *batch = &self->window [(self->window_head + slot) % WINDOW];
            for (size_t index = 0; index < batch->count; index++)
                s_entry_destroy (&batch->entries [index]);
        }
        for (size_t slot = 0; slot < WINDOW; slot++) {
            free (self->window [slot].entries);
            free (self->window [slot].commands);
        }
        entry_t *entry = self->head;
        while (entry) {
            entry_t *next = entry->next;
            s_entry_destroy (&entry);
            entry = next;
        }
        free (self->buckets);
        zstate_redis_destroy (&self->redis);
        zstate_batch_destroy (&self->batch);
        zstate_msg_destroy (&self->msg);
        zsock_destroy (&self->data);
        zsock_destroy (&self->events);
        free (self->separator);
        free (self->password);
        free (self->keybuf);
        free (self->refs);
        free (self->index);
        free (self->spare);
        free (self->argv);
        free (self->argvlen);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Events: [type][redis endpoint][...], never blocking

static void
s_self_event (self_t *self, const char *type, const char *first,
              const void *second, size_t second_size, const char *third)
{
    void *handle = zsock_resolve (self->events);
    const char *name = s_self_name (self);
    //  A multipart message is queued whole or not at all: only the first
    //  part can hit the high-water mark
    if (zmq_send (handle, type, strlen (type), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        self->stats.events_dropped++;
        return;
    }
    zmq_send (handle, name, strlen (name), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (handle, first, strlen (first), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (handle, second, second_size, third? ZMQ_SNDMORE | ZMQ_DONTWAIT: ZMQ_DONTWAIT);
    if (third)
        zmq_send (handle, third, strlen (third), ZMQ_DONTWAIT);
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

static entry_t *
s_self_find (self_t *self, const byte *key, size_t key_size, uint64_t hash)
{
    entry_t *entry = self->buckets [hash & (self->bucket_count - 1)];
    while (entry) {
        if (entry->hash == hash && entry->key_size == key_size
        &&  memcmp (entry->key, key, key_size) == 0)
            return entry;
        entry = entry->chain;
    }
    return NULL;
}

static void
s_self_hash_insert (self_t *self, entry_t *entry)
{
    if (self->pending + 1 > self->bucket_count) {
        //  Double the table; keeps chains short on average
        size_t count = self->bucket_count * 2;
        entry_t **buckets = (entry_t **) zmalloc (count * sizeof (entry_t *));
        assert (buckets);
        for (size_t slot = 0; slot < self->bucket_count; slot++) {
            entry_t *cursor = self->buckets [slot];
            while (cursor) {
                entry_t *next = cursor->chain;
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
    size_t slot = entry->hash & (self->bucket_count - 1);
    entry->chain = self->buckets [slot];
    self->buckets [slot] = entry;
}

static void
s_self_hash_remove (self_t *self, entry_t *entry)
{
    entry_t **link = &self->buckets [entry->hash & (self->bucket_count - 1)];
    while (*link != entry) {
        assert (*link);
        link = &(*link)->chain;
    }
    *link = entry->chain;
    entry->chain = NULL;
}


//  --------------------------------------------------------------------------
//  The pending list; these also keep the table and the count in step

static void
s_self_append (self_t *self, entry_t *entry)
{
    s_self_hash_insert (self, entry);
    entry->next = NULL;
    entry->prev = self->tail;
    if (self->tail)
        self->tail->next = entry;
    else
        self->head = entry;
    self->tail = entry;
    self->pending++;
}

static void
s_self_prepend (self_t *self, entry_t *entry)
{
    s_self_hash_insert (self, entry);
    entry->prev = NULL;
    entry->next = self->head;
    if (self->head)
        self->head->prev = entry;
    else
        self->tail = entry;
    self->head = entry;
    self->pending++;
}

static void
s_self_unlink (self_t *self, entry_t *entry)
{
    s_self_hash_remove (self, entry);
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        self->head = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    else
        self->tail = entry->prev;
    entry->prev = entry->next = NULL;
    self->pending--;
}


//  --------------------------------------------------------------------------
//  Entries and their fields

static size_t
s_entry_bytes (entry_t *entry)
{
    return sizeof (entry_t) + entry->key_size + 1 + entry->fields_max;
}

static entry_t *
s_entry_new (const byte *key, size_t key_size, uint64_t hash)
{
    entry_t *entry = (entry_t *) zmalloc (sizeof (entry_t) + key_size + 1);
    assert (entry);
    memcpy (entry->key, key, key_size);
    entry->key [key_size] = 0;
    entry->key_size = key_size;
    entry->hash = hash;
    return entry;
}

static void
s_self_refs_reserve (self_t *self, size_t count)
{
    if (count > self->refs_max) {
        self->refs_max = count * 2;
        self->refs = (field_ref_t *) realloc (self->refs, self->refs_max * sizeof (field_ref_t));
        assert (self->refs);
    }
}

//  Fields of operation index of the current batch, into self->refs
static size_t
s_self_refs_from_batch (self_t *self, size_t index)
{
    size_t count = zstate_batch_field_count (self->batch, index);
    s_self_refs_reserve (self, count);
    for (size_t field = 0; field < count; field++) {
        field_ref_t *ref = &self->refs [field];
        ref->name = (const byte *) zstate_batch_name (self->batch, index, field, &ref->name_size);
        ref->value = (const byte *) zstate_batch_value (self->batch, index, field,
                                                        &ref->value_size);
    }
    return count;
}

//  Fields of an entry, into self->refs
static size_t
s_self_refs_from_entry (self_t *self, entry_t *entry)
{
    s_self_refs_reserve (self, entry->field_count);
    const byte *cursor = entry->fields;
    for (size_t field = 0; field < entry->field_count; field++) {
        field_ref_t *ref = &self->refs [field];
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
s_refs_size (field_ref_t *refs, size_t count)
{
    size_t size = 0;
    for (size_t field = 0; field < count; field++)
        size += 8 + refs [field].name_size + refs [field].value_size;
    return size;
}

static byte *
s_put_field (byte *cursor, const byte *name, uint32_t name_size,
             const byte *value, uint32_t value_size)
{
    memcpy (cursor, &name_size, 4);
    memcpy (cursor + 4, name, name_size);
    cursor += 4 + name_size;
    memcpy (cursor, &value_size, 4);
    memcpy (cursor + 4, value, value_size);
    return cursor + 4 + value_size;
}

//  Is name among the refs? Linear for few fields, else through the index
static bool
s_self_refs_have (self_t *self, size_t count, bool indexed, const byte *name, size_t size)
{
    if (!indexed) {
        for (size_t field = 0; field < count; field++)
            if (self->refs [field].name_size == size
            &&  memcmp (self->refs [field].name, name, size) == 0)
                return true;
        return false;
    }
    size_t mask = self->index_max - 1;
    size_t slot = s_hash (name, size) & mask;
    while (self->index [slot]) {
        field_ref_t *ref = &self->refs [self->index [slot] - 1];
        if (ref->name_size == size && memcmp (ref->name, name, size) == 0)
            return true;
        slot = (slot + 1) & mask;
    }
    return false;
}

static void
s_self_index_refs (self_t *self, size_t count)
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
        size_t slot = s_hash (self->refs [field].name, self->refs [field].name_size) & mask;
        while (self->index [slot])
            slot = (slot + 1) & mask;
        self->index [slot] = (uint32_t) field + 1;
    }
}

//  Replace the entry's fields with the refs
static void
s_entry_set_fields (entry_t *entry, field_ref_t *refs, size_t count)
{
    size_t size = s_refs_size (refs, count);
    if (size > entry->fields_max || entry->fields_max > 2 * size + 256) {
        //  Grow, or give back what a large earlier operation left
        free (entry->fields);
        entry->fields = size? (byte *) malloc (size): NULL;
        assert (entry->fields || !size);
        entry->fields_max = size;
    }
    byte *cursor = entry->fields;
    for (size_t field = 0; field < count; field++)
        cursor = s_put_field (cursor, refs [field].name, (uint32_t) refs [field].name_size,
                              refs [field].value, (uint32_t) refs [field].value_size);
    entry->fields_size = size;
    entry->field_count = (uint32_t) count;
}

//  Apply operation op with the count fields in self->refs over the entry:
//  the coalescing rules. Keeps self->bytes in step.
static void
s_self_apply (self_t *self, entry_t *entry, int op, size_t count)
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
        s_entry_set_fields (entry, self->refs, count);
    }
    else
    if (count) {
        //  HSET over SET or HSET: keep the fields it does not name, then
        //  its own. Built in the spare buffer, which is then swapped in.
        bool indexed = count * entry->field_count > INDEX_LINEAR_MAX;
        if (indexed)
            s_self_index_refs (self, count);
        size_t needed = entry->fields_size + s_refs_size (self->refs, count);
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
            if (!s_self_refs_have (self, count, indexed, name, name_size)) {
                target = s_put_field (target, name, name_size, value, value_size);
                kept++;
            }
        }
        for (size_t field = 0; field < count; field++)
            target = s_put_field (target, self->refs [field].name,
                                  (uint32_t) self->refs [field].name_size,
                                  self->refs [field].value,
                                  (uint32_t) self->refs [field].value_size);
        byte *old = entry->fields;
        size_t old_max = entry->fields_max;
        entry->fields = self->spare;
        entry->fields_max = self->spare_max;
        entry->fields_size = target - self->spare;
        entry->field_count = kept + (uint32_t) count;
        self->spare = old;
        self->spare_max = old_max;
    }
    self->bytes += s_entry_bytes (entry);
    self->bytes -= before;
}


//  --------------------------------------------------------------------------
//  Accept operation index of the current batch, for table

static void
s_self_accept (self_t *self, const char *table, size_t table_size, size_t index,
               int64_t now)
{
    size_t key_size;
    const char *key = zstate_batch_key (self->batch, index, &key_size);
    size_t size = table_size + self->separator_size + key_size;
    if (size > self->keybuf_max) {
        self->keybuf_max = size * 2;
        self->keybuf = (byte *) realloc (self->keybuf, self->keybuf_max);
        assert (self->keybuf);
    }
    memcpy (self->keybuf, table, table_size);
    memcpy (self->keybuf + table_size, self->separator, self->separator_size);
    memcpy (self->keybuf + table_size + self->separator_size, key, key_size);

    int op = zstate_batch_op (self->batch, index);
    size_t count = op == ZSTATE_OP_DEL? 0: s_self_refs_from_batch (self, index);
    uint64_t hash = s_hash (self->keybuf, size);
    self->seq++;
    entry_t *entry = s_self_find (self, self->keybuf, size, hash);
    if (entry) {
        s_self_apply (self, entry, op, count);
        self->stats.coalesced++;
    }
    else {
        entry = s_entry_new (self->keybuf, size, hash);
        entry->op = op;
        entry->seq = self->seq;
        entry->since = now;
        s_entry_set_fields (entry, self->refs, count);
        s_self_append (self, entry);
        self->bytes += s_entry_bytes (entry);
    }
}


//  --------------------------------------------------------------------------
//  Backlog bound: stop reading at the bound, read again below half

static bool
s_self_full (self_t *self)
{
    return self->pending + self->in_flight >= self->max_keys
        || self->bytes >= self->max_bytes;
}

static void
s_self_stall_event (self_t *self, const char *what)
{
    char keys [24], bytes [24];
    snprintf (keys, sizeof (keys), "%zu", self->pending + self->in_flight);
    snprintf (bytes, sizeof (bytes), "%zu", self->bytes);
    s_self_event (self, "STALL", what, keys, strlen (keys), bytes);
}

static void
s_self_check_bound (self_t *self)
{
    if (self->reading && s_self_full (self)) {
        zloop_reader_end (self->loop, self->data);
        self->reading = false;
        self->stats.stalls++;
        //  Under steady pressure this flips often: the event and the counter
        //  tell every time, the log at most every STALL_LOG_INTERVAL
        int64_t now = zclock_mono ();
        if (!self->stall_logged || now - self->stall_logged >= STALL_LOG_INTERVAL) {
            zsys_warning ("zstate_writer %s: backlog full (%zu keys, %zu bytes), "
                          "pausing input (%" PRIu64 " times so far)", s_self_name (self),
                          self->pending + self->in_flight, self->bytes, self->stats.stalls);
            self->stall_logged = now;
        }
        s_self_stall_event (self, "FULL");
    }
    else
    if (!self->reading
    &&  self->pending + self->in_flight <= self->max_keys / 2
    &&  self->bytes <= self->max_bytes / 2) {
        zloop_reader (self->loop, self->data, s_self_handle_data, self);
        zloop_reader_set_tolerant (self->loop, self->data);
        self->reading = true;
        if (self->verbose)
            zsys_debug ("zstate_writer %s: backlog below half, resuming input",
                        s_self_name (self));
        s_self_stall_event (self, "RESUMED");
        //  A FLUSH waiting for the rest of the PULL socket learns here when
        //  there is no rest: no message would call the reader for it
        if (self->flush_draining && !(zsock_events (self->data) & ZMQ_POLLIN)) {
            self->flush_draining = false;
            self->flush_mark = self->seq;
        }
    }
}


//  --------------------------------------------------------------------------
//  Receive one wire message from the PULL socket. Returns 1 if one was
//  there, 0 if none.

static int
s_self_receive (self_t *self)
{
    zmq_msg_t message;
    zmq_msg_init (&message);
    void *handle = zsock_resolve (self->data);
    if (zmq_msg_recv (&message, handle, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&message);
        return 0;
    }
    int rc = ZSTATE_WIRE_OK;
    if (zmq_msg_more (&message)) {
        //  A wire message is one frame: drop the whole multipart
        rc = ZSTATE_WIRE_FRAMES;
        while (zmq_msg_more (&message)
        &&     zmq_msg_recv (&message, handle, ZMQ_DONTWAIT) != -1) ;
    }
    const byte *data = (const byte *) zmq_msg_data (&message);
    size_t size = zmq_msg_size (&message);
    if (rc == ZSTATE_WIRE_OK)
        rc = zstate_msg_decode_header (self->msg, data, size);
    size_t ops_size = 0;
    const byte *ops = NULL;
    size_t count = 0;
    if (rc == ZSTATE_WIRE_OK) {
        //  Loading walks and checks every operation; no need to decode twice
        ops = zstate_msg_ops (self->msg, &ops_size);
        count = zstate_msg_op_count (self->msg);
        zstate_batch_reset (self->batch);
        size_t used = 0;
        rc = zstate_batch_load (self->batch, ops, ops_size, count, &used);
        if (rc == ZSTATE_WIRE_OK && used != ops_size)
            rc = ZSTATE_WIRE_TRAILING;
    }
    if (rc == ZSTATE_WIRE_OK) {
        const char *table = zstate_msg_table (self->msg);
        size_t table_size = strlen (table);
        int64_t now = zclock_mono ();
        for (size_t index = 0; index < count; index++)
            s_self_accept (self, table, table_size, index, now);
        self->stats.messages++;
        self->stats.ops += count;
    }
    else {
        self->stats.malformed++;
        if (self->verbose)
            zsys_debug ("zstate_writer %s: dropped a malformed message: %s",
                        s_self_name (self), zstate_msg_reason_str (rc));
    }
    zmq_msg_close (&message);
    s_self_check_bound (self);
    return 1;
}


//  --------------------------------------------------------------------------
//  Sequence and time of the oldest unconfirmed operation; false if none

static bool
s_self_oldest (self_t *self, uint64_t *seq_p, int64_t *since_p)
{
    bool found = false;
    uint64_t seq = 0;
    int64_t since = 0;
    for (size_t slot = 0; slot < self->window_count; slot++) {
        batch_t *batch = &self->window [(self->window_head + slot) % WINDOW];
        if (batch->count && (!found || batch->entries [0]->seq < seq)) {
            seq = batch->entries [0]->seq;
            since = batch->entries [0]->since;
            found = true;
        }
    }
    if (self->head && (!found || self->head->seq < seq)) {
        seq = self->head->seq;
        since = self->head->since;
        found = true;
    }
    if (seq_p)
        *seq_p = seq;
    if (since_p)
        *since_p = since;
    return found;
}


//  --------------------------------------------------------------------------
//  A FLUSH is owed: reply when done, or when the deadline passes

static bool
s_self_flushed (self_t *self)
{
    uint64_t seq;
    return !self->flush_draining
        && (!s_self_oldest (self, &seq, NULL) || seq > self->flush_mark);
}

static void
s_self_flush_end (self_t *self, int status, const char *reason)
{
    zstate_reply (self->pipe, "FLUSH", status, reason, false);
    self->flushing = false;
    self->flush_draining = false;
    if (self->flush_timer != -1) {
        zloop_timer_end (self->loop, self->flush_timer);
        self->flush_timer = -1;
    }
    //  Commands that came meanwhile are read again, in order
    zloop_reader (self->loop, self->pipe, s_self_handle_pipe, self);
    zloop_reader_set_tolerant (self->loop, self->pipe);
}

static void
s_self_check_flush (self_t *self)
{
    if (self->flushing && s_self_flushed (self))
        s_self_flush_end (self, 0, NULL);
}

static int
s_self_handle_flush (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    self->flush_timer = -1;
    if (self->flushing) {
        char reason [160];
        snprintf (reason, sizeof (reason),
                  "flush: %zu keys not confirmed by Redis in time (%s)",
                  self->pending + self->in_flight, zstate_writer_state_name (self->state));
        s_self_flush_end (self, ETIMEDOUT, reason);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Connection lost or refused: keep everything, reconnect later

static void
s_self_requeue (self_t *self, entry_t *entry)
{
    entry_t *newer = s_self_find (self, entry->key, entry->key_size, entry->hash);
    if (newer) {
        //  The unconfirmed operation goes under the newer one
        size_t count = s_self_refs_from_entry (self, newer);
        s_self_apply (self, entry, newer->op, count);
        s_self_unlink (self, newer);
        self->bytes -= s_entry_bytes (newer);
        s_entry_destroy (&newer);
        self->stats.coalesced++;
    }
    s_self_prepend (self, entry);
}

static void
s_self_arm_reconnect (self_t *self)
{
    if (self->reconnect_timer != -1)
        return;
    //  Jitter (75% to 125%) keeps many writers from reconnecting in step
    int delay = self->backoff * (75 + randof (51)) / 100;
    if (delay < 1)
        delay = 1;
    self->reconnect_timer = zloop_timer (self->loop, delay, 1, s_self_handle_reconnect, self);
    self->backoff *= 2;
    if (self->backoff > self->reconnect_max)
        self->backoff = self->reconnect_max;
}

static void
s_self_lost (self_t *self, const char *why)
{
    char reason [256];
    snprintf (reason, sizeof (reason), "%s", why);
    if (self->polling) {
        zloop_poller_end (self->loop, &self->pollitem);
        self->polling = false;
    }
    zstate_redis_disconnect (self->redis);
    //  Newest batch first, each from its end, to the head of the list:
    //  the oldest operations end up first, in their order
    for (size_t slot = self->window_count; slot-- > 0;) {
        batch_t *batch = &self->window [(self->window_head + slot) % WINDOW];
        for (size_t index = batch->count; index-- > 0;) {
            s_self_requeue (self, batch->entries [index]);
            batch->entries [index] = NULL;
            self->stats.resent++;
        }
        batch->count = 0;
    }
    self->window_count = 0;
    self->in_flight = 0;
    self->stats.disconnects++;
    if (self->state != ZSTATE_WRITER_DISCONNECTED) {
        self->state = ZSTATE_WRITER_DISCONNECTED;
        zsys_warning ("zstate_writer %s: disconnected: %s; %zu keys kept for resending",
                      s_self_name (self), reason, self->pending);
        s_self_event (self, "STATE", "DISCONNECTED", reason, strlen (reason), NULL);
    }
    else
    if (self->verbose)
        zsys_debug ("zstate_writer %s: connect failed: %s", s_self_name (self), reason);
    s_self_event (self, "ERROR", reason, "", 0, NULL);
    s_self_arm_reconnect (self);
}


//  --------------------------------------------------------------------------
//  Sending batches

static void
s_self_argv_reserve (self_t *self, size_t count)
{
    if (count > self->argv_max) {
        self->argv_max = count * 2;
        self->argv = (const char **) realloc (self->argv, self->argv_max * sizeof (char *));
        self->argvlen = (size_t *) realloc (self->argvlen, self->argv_max * sizeof (size_t));
        assert (self->argv && self->argvlen);
    }
}

//  Append the commands for one entry; returns how many
static int
s_self_append_entry (self_t *self, entry_t *entry)
{
    int commands = 0;
    s_self_argv_reserve (self, 2 + 2 * (size_t) entry->field_count);
    if (entry->op == ZSTATE_OP_DEL || entry->op == ZSTATE_OP_SET) {
        //  SET = DEL + HSET, atomic inside the batch's MULTI/EXEC; a SET
        //  with no fields is a DEL (no empty hashes in Redis)
        self->argv [0] = "DEL";
        self->argvlen [0] = 3;
        self->argv [1] = (const char *) entry->key;
        self->argvlen [1] = entry->key_size;
        int rc = zstate_redis_append (self->redis, 2, self->argv, self->argvlen);
        assert (rc == 0);
        commands++;
    }
    //  Never an HSET without fields: that would abort the whole EXEC
    if (entry->op != ZSTATE_OP_DEL && entry->field_count) {
        self->argv [0] = "HSET";
        self->argvlen [0] = 4;
        self->argv [1] = (const char *) entry->key;
        self->argvlen [1] = entry->key_size;
        size_t argc = 2;
        const byte *cursor = entry->fields;
        for (size_t field = 0; field < 2 * (size_t) entry->field_count; field++) {
            uint32_t size;
            memcpy (&size, cursor, 4);
            self->argv [argc] = (const char *) cursor + 4;
            self->argvlen [argc++] = size;
            cursor += 4 + size;
        }
        int rc = zstate_redis_append (self->redis, (int) argc, self->argv, self->argvlen);
        assert (rc == 0);
        commands++;
    }
    return commands;
}

//  Send one batch from the head of the list. Returns 0, or -1 if the
//  connection failed (everything was requeued).
static int
s_self_send_batch (self_t *self)
{
    batch_t *batch = &self->window [(self->window_head + self->window_count) % WINDOW];
    if (batch->max < self->batch_size) {
        batch->max = self->batch_size;
        batch->entries = (entry_t **) realloc (batch->entries, batch->max * sizeof (entry_t *));
        batch->commands = (byte *) realloc (batch->commands, batch->max);
        assert (batch->entries && batch->commands);
    }
    batch->count = 0;
    batch->command_count = 0;
    batch->replies = 0;
    batch->refused = false;
    batch->reason [0] = 0;
    int rc = zstate_redis_appendx (self->redis, "MULTI", NULL);
    assert (rc == 0);
    size_t bytes = 0;
    while (self->head && batch->count < self->batch_size && bytes < BATCH_BYTES_MAX) {
        entry_t *entry = self->head;
        s_self_unlink (self, entry);
        int commands = s_self_append_entry (self, entry);
        batch->entries [batch->count] = entry;
        batch->commands [batch->count++] = (byte) commands;
        batch->command_count += commands;
        bytes += entry->key_size + entry->fields_size;
    }
    rc = zstate_redis_appendx (self->redis, "EXEC", NULL);
    assert (rc == 0);
    if (self->window_count == 0)
        self->last_progress = zclock_mono ();
    self->window_count++;
    self->in_flight += batch->count;
    if (self->verbose)
        zsys_debug ("zstate_writer %s: sending %zu ops in %zu commands",
                    s_self_name (self), batch->count, batch->command_count);
    if (zstate_redis_send (self->redis)) {
        s_self_lost (self, zstate_reason ());
        return -1;
    }
    return 0;
}

//  Send what is due: full batches while the window has room, a partial
//  one when nothing is in flight and the oldest op waited long enough
static void
s_self_pump (self_t *self)
{
    while (self->state == ZSTATE_WRITER_CONNECTED && self->head
       &&  self->window_count < WINDOW) {
        bool full = self->pending >= self->batch_size;
        bool due = false;
        int64_t wait = 0;
        if (!full && self->window_count == 0) {
            wait = self->batch_interval - (zclock_mono () - self->head->since);
            due = self->flushing || wait <= 0;
        }
        if (!full && !due) {
            if (self->window_count == 0 && self->batch_timer == -1)
                self->batch_timer = zloop_timer (self->loop, (size_t) wait, 1,
                                                 s_self_handle_batch, self);
            break;
        }
        if (s_self_send_batch (self))
            break;
    }
}

static int
s_self_handle_batch (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    self->batch_timer = -1;
    s_self_pump (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Replies. Returns 0, or -1 if the connection was dropped.

static int
s_self_confirm (self_t *self, batch_t *batch)
{
    size_t result = 0;
    size_t failures = 0;
    for (size_t index = 0; index < batch->count; index++) {
        entry_t *entry = batch->entries [index];
        const char *error = NULL;
        for (int command = 0; command < batch->commands [index]; command++, result++)
            if (!error && zstate_redis_type (self->redis, (int) result) == ZSTATE_REDIS_ERROR)
                error = zstate_redis_str (self->redis, (int) result, NULL);
        if (error) {
            //  Redis refused this operation only; the others stand
            self->stats.failed++;
            if (failures++ == 0)
                zsys_warning ("zstate_writer %s: Redis refused the operation on '%s': %s",
                              s_self_name (self), entry->key, error);
            s_self_event (self, "ERROR", error, entry->key, entry->key_size, NULL);
        }
        else
            self->stats.written++;
        self->bytes -= s_entry_bytes (entry);
        s_entry_destroy (&batch->entries [index]);
    }
    if (failures > 1)
        zsys_warning ("zstate_writer %s: Redis refused %zu operations in one batch",
                      s_self_name (self), failures);
    self->in_flight -= batch->count;
    batch->count = 0;
    self->window_head = (self->window_head + 1) % WINDOW;
    self->window_count--;
    self->stats.batches++;
    return 0;
}

static int
s_self_reply (self_t *self)
{
    if (self->window_count == 0) {
        s_self_lost (self, "a reply nobody asked for");
        return -1;
    }
    batch_t *batch = &self->window [self->window_head];
    size_t position = batch->replies++;
    int type = zstate_redis_type (self->redis, -1);
    if (position <= batch->command_count) {
        //  MULTI's OK, then one QUEUED per command
        if (type == ZSTATE_REDIS_ERROR && !batch->refused) {
            batch->refused = true;
            snprintf (batch->reason, sizeof (batch->reason), "%s",
                      zstate_redis_str (self->redis, -1, NULL));
        }
        return 0;
    }
    //  EXEC: one result per command, unless the transaction was refused
    //  (LOADING, OOM, ...): nothing ran, so all of it goes again later
    if (batch->refused
    ||  type != ZSTATE_REDIS_ARRAY
    ||  zstate_redis_elements (self->redis) != batch->command_count) {
        char reason [300];
        snprintf (reason, sizeof (reason), "batch refused: %s",
                  batch->refused? batch->reason:
                  type == ZSTATE_REDIS_ERROR? zstate_redis_str (self->redis, -1, NULL):
                  "EXEC gave no results");
        s_self_lost (self, reason);
        return -1;
    }
    return s_self_confirm (self, batch);
}

static int
s_self_handle_redis (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    self_t *self = (self_t *) arg;
    for (int reads = 0; reads < REPLY_READS_MAX && self->polling; reads++) {
        int rc = zstate_redis_receive (self->redis);
        if (rc == -1) {
            s_self_lost (self, zstate_reason ());
            break;
        }
        if (rc == 0)
            break;
        self->last_progress = zclock_mono ();
        while ((rc = zstate_redis_next (self->redis, false)) == 1)
            if (s_self_reply (self))
                break;
        if (rc == -1) {
            s_self_lost (self, zstate_reason ());
            break;
        }
    }
    s_self_pump (self);
    s_self_check_bound (self);
    s_self_check_flush (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Connecting

static void
s_self_connected (self_t *self)
{
    self->state = ZSTATE_WRITER_CONNECTED;
    self->pollitem.socket = NULL;
    self->pollitem.fd = zstate_redis_fd (self->redis);
    self->pollitem.events = ZMQ_POLLIN;
    self->pollitem.revents = 0;
    zloop_poller (self->loop, &self->pollitem, s_self_handle_redis, self);
    zloop_poller_set_tolerant (self->loop, &self->pollitem);
    self->polling = true;
    if (self->ever_connected)
        self->stats.reconnects++;
    self->ever_connected = true;
    self->backoff = self->reconnect_min;
    zsys_info ("zstate_writer %s: connected; %zu keys to write",
               s_self_name (self), self->pending);
    s_self_event (self, "STATE", "CONNECTED", "", 0, NULL);
    s_self_pump (self);
}

static int
s_self_handle_reconnect (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    self->reconnect_timer = -1;
    if (self->state != ZSTATE_WRITER_DISCONNECTED)
        return 0;
    if (zstate_redis_connect (self->redis) == 0)
        s_self_connected (self);
    else
        s_self_lost (self, zstate_reason ());
    return 0;
}

static int
s_self_handle_watchdog (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    if (self->state == ZSTATE_WRITER_CONNECTED && self->window_count
    &&  zclock_mono () - self->last_progress > self->command_timeout) {
        char reason [80];
        snprintf (reason, sizeof (reason), "no reply from Redis in %d ms",
                  self->command_timeout);
        s_self_lost (self, reason);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  The data reader

static int
s_self_handle_data (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    self_t *self = (self_t *) arg;
    for (int count = 0; count < DRAIN_MAX && self->reading; count++)
        if (!s_self_receive (self)) {
            //  The PULL socket is empty: a FLUSH that found it fuller than
            //  the bound let us read now knows what it waits for
            if (self->flush_draining) {
                self->flush_draining = false;
                self->flush_mark = self->seq;
            }
            break;
        }
    s_self_pump (self);
    s_self_check_flush (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Commands

//  Pop the next argument frame as a string; NULL if missing
static char *
s_pop (zmsg_t *request)
{
    return zmsg_size (request)? zmsg_popstr (request): NULL;
}

static void
s_self_connect (self_t *self, const char *endpoint)
{
    if (self->redis) {
        zstate_reply (self->pipe, "CONNECT", EBUSY, "CONNECT was already issued", false);
        return;
    }
    self->redis = zstate_redis_new (endpoint);
    if (!self->redis) {
        zstate_reply (self->pipe, "CONNECT", errno, zstate_reason (), false);
        return;
    }
    zstate_redis_set_db (self->redis, self->db);
    zstate_redis_set_password (self->redis, self->password);
    zstate_redis_set_timeouts (self->redis, self->connect_timeout, self->command_timeout);
    self->watchdog_timer = zloop_timer (self->loop, WATCHDOG_INTERVAL, 0,
                                        s_self_handle_watchdog, self);
    if (zstate_redis_connect (self->redis) == 0) {
        zstate_reply (self->pipe, "CONNECT", 0, NULL, false);
        s_self_connected (self);
    }
    else {
        int error = errno;
        char reason [256];
        snprintf (reason, sizeof (reason), "%s", zstate_reason ());
        zstate_reply (self->pipe, "CONNECT", error, reason, false);
        s_self_lost (self, reason);
    }
}

static void
s_self_flush (self_t *self, int timeout)
{
    //  What sits on the PULL socket now counts as accepted. When the bound
    //  stops us first, the rest is read as the backlog drains, and the
    //  flush waits for it too.
    while (self->reading && s_self_receive (self)) ;
    self->flush_draining = !self->reading;
    self->flush_mark = self->seq;
    if (s_self_flushed (self))
        zstate_reply (self->pipe, "FLUSH", 0, NULL, false);
    else
    if (self->state == ZSTATE_WRITER_IDLE)
        zstate_reply (self->pipe, "FLUSH", ENOTCONN, "flush: not connected to Redis", false);
    else
    if (timeout <= 0) {
        s_self_pump (self);
        zstate_reply (self->pipe, "FLUSH", ETIMEDOUT, "flush: not confirmed yet", false);
    }
    else {
        //  The reply waits; so do other commands, to keep replies in order
        self->flushing = true;
        zloop_reader_end (self->loop, self->pipe);
        self->flush_timer = zloop_timer (self->loop, timeout, 1, s_self_handle_flush, self);
        s_self_pump (self);
    }
    if (!self->flushing)
        self->flush_draining = false;
}

//  Current counters, with the gauges filled in
static void
s_self_stats (self_t *self, zstate_writer_stats_t *stats)
{
    *stats = self->stats;
    stats->state = self->state;
    stats->pending = self->pending;
    stats->in_flight = self->in_flight;
    stats->depth = self->pending + self->in_flight;
    stats->bytes = self->bytes;
    int64_t since;
    stats->oldest_age = s_self_oldest (self, NULL, &since)? zclock_mono () - since: 0;
}

static int
s_self_handle_snapshot (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    zstate_writer_stats_t stats;
    s_self_stats (self, &stats);
    pthread_mutex_lock (&self->snapshot->mutex);
    self->snapshot->stats = stats;
    pthread_mutex_unlock (&self->snapshot->mutex);
    return 0;
}

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    self_t *self = (self_t *) arg;
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request)
        return -1;              //  Interrupted
    char *command = zmsg_popstr (request);
    if (!command) {
        zmsg_destroy (&request);
        return 0;
    }
    if (self->verbose)
        zsys_debug ("zstate_writer %s: command %s", s_self_name (self), command);
    int rc = 0;
    if (streq (command, "$TERM")) {
        self->terminated = true;
        rc = -1;
    }
    else
    if (streq (command, "CONNECT")) {
        char *endpoint = s_pop (request);
        if (endpoint)
            s_self_connect (self, endpoint);
        else
            zstate_reply (self->pipe, command, EINVAL, "CONNECT: endpoint missing", false);
        free (endpoint);
    }
    else
    if (streq (command, "SET SEPARATOR") || streq (command, "SET PASSWORD")) {
        char *text = s_pop (request);
        bool separator = streq (command, "SET SEPARATOR");
        if (!text || (separator && (!*text || strlen (text) > 16)))
            zstate_reply (self->pipe, command, EINVAL, "bad or missing argument", false);
        else
        if (self->redis)
            zstate_reply (self->pipe, command, EBUSY, "not after CONNECT", false);
        else {
            if (separator) {
                free (self->separator);
                self->separator = strdup (text);
                self->separator_size = strlen (text);
            }
            else {
                free (self->password);
                self->password = *text? strdup (text): NULL;
            }
            zstate_reply (self->pipe, command, 0, NULL, false);
        }
        if (text)
            zstr_free (&text);
    }
    else
    if (streq (command, "SET DB") || streq (command, "SET TIMEOUTS")
    ||  streq (command, "SET BATCH") || streq (command, "SET RECONNECT")) {
        char *first = s_pop (request);
        char *second = streq (command, "SET DB")? NULL: s_pop (request);
        long one = first? atol (first): -1;
        long two = second? atol (second): -1;
        int status = 0;
        if (streq (command, "SET DB")) {
            if (!first || one < 0 || one > INT_MAX)
                status = EINVAL;
            else
            if (self->redis)
                status = EBUSY;
            else
                self->db = (int) one;
        }
        else
        if (streq (command, "SET TIMEOUTS")) {
            if (one < 1 || two < 1 || one > INT_MAX || two > INT_MAX)
                status = EINVAL;
            else
            if (self->redis)
                status = EBUSY;
            else {
                self->connect_timeout = (int) one;
                self->command_timeout = (int) two;
            }
        }
        else
        if (streq (command, "SET BATCH")) {
            if (one < 1 || one > ZSTATE_OPS_MAX || two < 0 || two > 60000)
                status = EINVAL;
            else {
                self->batch_size = (size_t) one;
                self->batch_interval = (int) two;
            }
        }
        else {
            if (one < 1 || two < one || two > INT_MAX)
                status = EINVAL;
            else {
                self->reconnect_min = (int) one;
                self->reconnect_max = (int) two;
                self->backoff = self->reconnect_min;
            }
        }
        zstate_reply (self->pipe, command, status,
                      status == EBUSY? "not after CONNECT":
                      status? "bad or missing argument": NULL, false);
        free (first);
        free (second);
    }
    else
    if (streq (command, "SET BOUND")) {
        char *first = s_pop (request);
        char *second = s_pop (request);
        unsigned long long keys = first? strtoull (first, NULL, 10): 0;
        unsigned long long bytes = second? strtoull (second, NULL, 10): 0;
        if (keys < 1 || bytes < 1024)
            zstate_reply (self->pipe, command, EINVAL, "bad or missing argument", false);
        else {
            self->max_keys = (size_t) keys;
            self->max_bytes = (size_t) bytes;
            zstate_reply (self->pipe, command, 0, NULL, false);
            s_self_check_bound (self);
        }
        free (first);
        free (second);
    }
    else
    if (streq (command, "FLUSH")) {
        char *timeout = s_pop (request);
        if (timeout)
            s_self_flush (self, atoi (timeout));
        else
            zstate_reply (self->pipe, command, EINVAL, "FLUSH: timeout missing", false);
        free (timeout);
    }
    else
    if (streq (command, "STATS")) {
        zstate_writer_stats_t stats;
        s_self_stats (self, &stats);
        zstate_reply (self->pipe, command, 0, NULL, true);
        zsock_send (self->pipe, "b", &stats, sizeof (stats));
    }
    else
    if (streq (command, "VERBOSE")) {
        char *flag = s_pop (request);
        self->verbose = flag? atoi (flag) != 0: true;
        free (flag);
        zstate_reply (self->pipe, command, 0, NULL, false);
    }
    else {
        zsys_error ("zstate_writer %s: unknown command '%s'", s_self_name (self), command);
        zstate_reply (self->pipe, command, EINVAL, "unknown command", false);
    }
    free (command);
    zmsg_destroy (&request);
    return rc;
}


//  --------------------------------------------------------------------------
//  The actor

static void
s_writer_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (writer_args_t *) args);
    int timer = zloop_timer (self->loop, SNAPSHOT_INTERVAL, 0, s_self_handle_snapshot, self);
    assert (timer != -1);
    s_self_handle_snapshot (self->loop, timer, self);
    zsock_signal (pipe, 0);
    zloop_start (self->loop);
    s_self_destroy (&self);
}


//  --------------------------------------------------------------------------
//  The wrapper

struct _zstate_writer_t {
    zactor_t *actor;            //  The writer actor
    zsock_t *events;            //  Our end of the event pipe
    char *endpoint;             //  Its PULL endpoint
    int linger;                 //  msecs destroy waits for Redis
    pthread_mutex_t mutex;      //  One command round trip at a time
    snapshot_t snapshot;        //  Counters the actor publishes
};

zstate_writer_t *
zstate_writer_new (void)
{
    zstate_writer_t *self = (zstate_writer_t *) zmalloc (sizeof (zstate_writer_t));
    assert (self);
    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    self->endpoint = zsys_sprintf ("inproc://zstate-writer-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    assert (self->endpoint);
    self->linger = DEFAULT_LINGER;
    pthread_mutex_init (&self->mutex, NULL);
    pthread_mutex_init (&self->snapshot.mutex, NULL);
    zsock_t *backend;
    self->events = zsys_create_pipe (&backend);
    assert (self->events);
    //  The args live on our stack: zactor_new returns after the actor's
    //  signal, by which time it owns the event socket
    writer_args_t args = { backend, self->endpoint, &self->snapshot };
    self->actor = zactor_new (s_writer_actor, &args);
    assert (self->actor);
    return self;
}

void
zstate_writer_destroy (zstate_writer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_t *self = *self_p;
        //  The actor logs what could not be written, when it ends
        if (self->linger > 0)
            zstate_writer_flush (self, self->linger);
        zactor_destroy (&self->actor);
        zsock_destroy (&self->events);
        pthread_mutex_destroy (&self->mutex);
        pthread_mutex_destroy (&self->snapshot.mutex);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

//  Send a command (picture after the command frame), wait for its reply
static int
s_request (zstate_writer_t *self, const char *command, zmsg_t **rest_p,
           const char *picture, ...)
{
    pthread_mutex_lock (&self->mutex);
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, command);
    va_list args;
    va_start (args, picture);
    for (const char *cursor = picture; *cursor; cursor++) {
        if (*cursor == 's')
            zmsg_addstr (request, va_arg (args, const char *));
        else
        if (*cursor == 'i')
            zmsg_addstrf (request, "%d", va_arg (args, int));
        else
        if (*cursor == '8')
            zmsg_addstrf (request, "%" PRIu64, va_arg (args, uint64_t));
    }
    va_end (args);
    int rc = zmsg_send (&request, self->actor);
    if (rc == 0)
        rc = zstate_request_wait (zactor_sock (self->actor), command, rest_p);
    else {
        zmsg_destroy (&request);
        rc = zstate_fail (EINTR, "%s: the writer is gone", command);
    }
    pthread_mutex_unlock (&self->mutex);
    return rc;
}

int
zstate_writer_connect (zstate_writer_t *self, const char *endpoint)
{
    assert (self);
    if (!endpoint)
        return zstate_fail (EINVAL, "CONNECT: endpoint missing");
    return s_request (self, "CONNECT", NULL, "s", endpoint);
}

const char *
zstate_writer_endpoint (zstate_writer_t *self)
{
    assert (self);
    return self->endpoint;
}

int
zstate_writer_set_separator (zstate_writer_t *self, const char *separator)
{
    assert (self);
    if (!separator)
        return zstate_fail (EINVAL, "SET SEPARATOR: separator missing");
    return s_request (self, "SET SEPARATOR", NULL, "s", separator);
}

int
zstate_writer_set_db (zstate_writer_t *self, int db)
{
    assert (self);
    return s_request (self, "SET DB", NULL, "i", db);
}

int
zstate_writer_set_password (zstate_writer_t *self, const char *password)
{
    assert (self);
    return s_request (self, "SET PASSWORD", NULL, "s", password? password: "");
}

int
zstate_writer_set_timeouts (zstate_writer_t *self, int connect_timeout, int command_timeout)
{
    assert (self);
    return s_request (self, "SET TIMEOUTS", NULL, "ii", connect_timeout, command_timeout);
}

int
zstate_writer_set_batch (zstate_writer_t *self, int ops, int interval)
{
    assert (self);
    return s_request (self, "SET BATCH", NULL, "ii", ops, interval);
}

int
zstate_writer_set_bound (zstate_writer_t *self, size_t keys, size_t bytes)
{
    assert (self);
    return s_request (self, "SET BOUND", NULL, "88", (uint64_t) keys, (uint64_t) bytes);
}

int
zstate_writer_set_reconnect (zstate_writer_t *self, int min, int max)
{
    assert (self);
    return s_request (self, "SET RECONNECT", NULL, "ii", min, max);
}

void
zstate_writer_set_linger (zstate_writer_t *self, int linger)
{
    assert (self);
    self->linger = linger;
}

int
zstate_writer_flush (zstate_writer_t *self, int timeout)
{
    assert (self);
    return s_request (self, "FLUSH", NULL, "i", timeout);
}

int
zstate_writer_stats (zstate_writer_t *self, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (stats);
    zmsg_t *rest = NULL;
    int rc = s_request (self, "STATS", &rest, "");
    if (rc == 0) {
        zframe_t *frame = rest? zmsg_first (rest): NULL;
        assert (frame && zframe_size (frame) == sizeof (zstate_writer_stats_t));
        memcpy (stats, zframe_data (frame), sizeof (zstate_writer_stats_t));
    }
    zmsg_destroy (&rest);
    return rc;
}

void
zstate_writer_snapshot (zstate_writer_t *self, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->snapshot.mutex);
    *stats = self->snapshot.stats;
    pthread_mutex_unlock (&self->snapshot.mutex);
}

const char *
zstate_writer_state_name (int state)
{
    return state == ZSTATE_WRITER_IDLE? "IDLE":
           state == ZSTATE_WRITER_CONNECTED? "CONNECTED":
           state == ZSTATE_WRITER_DISCONNECTED? "DISCONNECTED": "UNKNOWN";
}

zsock_t *
zstate_writer_events (zstate_writer_t *self)
{
    assert (self);
    return self->events;
}

zactor_t *
zstate_writer_actor (zstate_writer_t *self)
{
    assert (self);
    return self->actor;
}

void
zstate_writer_set_verbose (zstate_writer_t *self, bool verbose)
{
    assert (self);
    s_request (self, "VERBOSE", NULL, "i", verbose? 1: 0);
}

//  --------------------------------------------------------------------------
//  Selftest helpers

#if defined (__has_include)
#   if __has_include (<valgrind/valgrind.h>)
#       include <valgrind/valgrind.h>
#   endif
#endif
#ifndef RUNNING_ON_VALGRIND
#   define RUNNING_ON_VALGRIND 0
#endif

//  Encode batch as one wire message for table, send it, reset the batch
static void
s_test_send (zsock_t *push, const char *table, zstate_batch_t *batch)
{
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 0 };
    zframe_t *frame = zstate_msg_encode (session, 1, "APPL_DB", table, batch);
    assert (frame);
    int rc = zframe_send (&frame, push, 0);
    assert (rc == 0);
    zstate_batch_reset (batch);
}

//  Assert that hash key holds exactly the fields given as name, value, ...,
//  NULL; with none, that the key does not exist
static void
s_test_check (zstate_redis_t *redis, const char *key, ...)
{
    int type = zstate_redis_command (redis, "HGETALL", key, NULL);
    assert (type == ZSTATE_REDIS_ARRAY);
    size_t elements = zstate_redis_elements (redis);
    size_t expected = 0;
    va_list args;
    va_start (args, key);
    const char *name = va_arg (args, const char *);
    while (name) {
        const char *value = va_arg (args, const char *);
        bool found = false;
        for (size_t index = 0; index < elements; index += 2)
            if (streq (zstate_redis_str (redis, (int) index, NULL), name)) {
                assert (streq (zstate_redis_str (redis, (int) index + 1, NULL), value));
                found = true;
            }
        assert (found);
        expected += 2;
        name = va_arg (args, const char *);
    }
    va_end (args);
    assert (elements == expected);
}

//  Wait for an event of type, skipping others; NULL after timeout msecs
static zmsg_t *
s_test_event (zsock_t *events, const char *type, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    while (zclock_mono () < deadline) {
        zpoller_t *poller = zpoller_new (events, NULL);
        void *which = zpoller_wait (poller, (int) (deadline - zclock_mono ()) + 1);
        zpoller_destroy (&poller);
        if (!which)
            continue;
        //  The type frame is taken off; the endpoint frame comes next
        zmsg_t *event = zmsg_recv (events);
        char *got = event? zmsg_popstr (event): NULL;
        bool match = got && streq (got, type);
        zstr_free (&got);
        if (match)
            return event;
        zmsg_destroy (&event);
    }
    return NULL;
}

//  Wait, polling the writer's counters with a deadline, until accepted ops
//  reach ops; returns the counters
static zstate_writer_stats_t
s_test_wait_ops (zstate_writer_t *writer, uint64_t ops, int timeout)
{
    zstate_writer_stats_t stats;
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        int rc = zstate_writer_stats (writer, &stats);
        assert (rc == 0);
        if (stats.ops >= ops || zclock_mono () > deadline)
            break;
        //  Polling the writer's state, with a deadline
        zclock_sleep (10);
    }
    return stats;
}

static void
s_test_accounting (zstate_writer_stats_t *stats)
{
    assert (stats->ops == stats->written + stats->failed + stats->coalesced + stats->depth);
}

//  The route-like stream of the fault tests: op number seq on key index
//  key: mostly SET {nexthop, ifname}, every tenth a DEL, every tenth an
//  HSET of ifname alone. The model keeps what Redis must hold at the end.
typedef struct {
    int64_t *nexthop;           //  seq of the last nexthop, -1 absent
    int64_t *ifname;            //  seq of the last ifname, -1 absent
    size_t keys;
} test_model_t;

static void
s_test_key (char *buffer, size_t size, size_t key)
{
    snprintf (buffer, size, "10.%zu.%zu.%zu/32", (key >> 16) & 255, (key >> 8) & 255, key & 255);
}

static void
s_test_add_op (zstate_batch_t *batch, test_model_t *model, size_t seq, size_t key)
{
    char name [32], nexthop [32], ifname [32];
    s_test_key (name, sizeof (name), key);
    snprintf (nexthop, sizeof (nexthop), "10.0.%zu.%zu", (seq >> 8) & 255, seq & 255);
    snprintf (ifname, sizeof (ifname), "Ethernet%zu", seq);
    int rc;
    if (seq % 10 == 3) {
        rc = zstate_batch_del (batch, name);
        model->nexthop [key] = model->ifname [key] = -1;
    }
    else
    if (seq % 10 == 7) {
        rc = zstate_batch_hset (batch, name, "ifname", ifname, NULL);
        model->ifname [key] = (int64_t) seq;
    }
    else {
        rc = zstate_batch_set (batch, name, "nexthop", nexthop, "ifname", ifname, NULL);
        model->nexthop [key] = model->ifname [key] = (int64_t) seq;
    }
    assert (rc == 0);
}

//  Check every key of the model, pipelined, and that no other key exists
static void
s_test_verify (zstate_redis_t *redis, test_model_t *model, const char *table)
{
    size_t present = 0;
    for (size_t key = 0; key < model->keys; key++) {
        char name [32], full [64];
        s_test_key (name, sizeof (name), key);
        snprintf (full, sizeof (full), "%s:%s", table, name);
        int rc = zstate_redis_appendx (redis, "HGETALL", full, NULL);
        assert (rc == 0);
        present += model->ifname [key] >= 0 || model->nexthop [key] >= 0;
    }
    for (size_t key = 0; key < model->keys; key++) {
        int rc = zstate_redis_next (redis, true);
        assert (rc == 1);
        assert (zstate_redis_type (redis, -1) == ZSTATE_REDIS_ARRAY);
        size_t expected = (model->nexthop [key] >= 0) + (model->ifname [key] >= 0);
        assert (zstate_redis_elements (redis) == 2 * expected);
        for (size_t index = 0; index < 2 * expected; index += 2) {
            const char *name = zstate_redis_str (redis, (int) index, NULL);
            const char *value = zstate_redis_str (redis, (int) index + 1, NULL);
            char wanted [32];
            if (streq (name, "nexthop")) {
                size_t seq = (size_t) model->nexthop [key];
                snprintf (wanted, sizeof (wanted), "10.0.%zu.%zu", (seq >> 8) & 255, seq & 255);
            }
            else {
                assert (streq (name, "ifname"));
                snprintf (wanted, sizeof (wanted), "Ethernet%" PRId64, model->ifname [key]);
            }
            assert (streq (value, wanted));
        }
    }
    int type = zstate_redis_command (redis, "DBSIZE", NULL);
    assert (type == ZSTATE_REDIS_INTEGER);
    assert ((size_t) zstate_redis_integer (redis, -1) == present);
}

#define FAULT_KILL          1       //  kill -9 the server, restart it
#define FAULT_PAUSE         2       //  CLIENT PAUSE
#define FAULT_CLIENT_KILL   3       //  CLIENT KILL TYPE normal, 20 times

static void
s_test_faults (zstate_redis_server_t *server, int fault, size_t ops, size_t keys,
               int pause, bool verbose)
{
    zstate_redis_t *verifier = zstate_redis_new (zstate_redis_server_socket (server));
    assert (verifier);
    //  The verifier's own commands wait out a pause too
    zstate_redis_set_timeouts (verifier, 1000, pause + 10000);
    int rc = zstate_redis_connect (verifier);
    assert (rc == 0);
    assert (zstate_redis_command (verifier, "FLUSHDB", NULL) == ZSTATE_REDIS_STATUS);

    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    if (getenv ("ZSTATE_SELFTEST_TRACE"))
        zstate_writer_set_verbose (writer, true);
    assert (zstate_writer_set_timeouts (writer, 500, 1000) == 0);
    assert (zstate_writer_set_reconnect (writer, 10, 200) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push);
    rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);

    test_model_t model;
    model.keys = keys;
    model.nexthop = (int64_t *) malloc (keys * sizeof (int64_t));
    model.ifname = (int64_t *) malloc (keys * sizeof (int64_t));
    assert (model.nexthop && model.ifname);
    for (size_t key = 0; key < keys; key++)
        model.nexthop [key] = model.ifname [key] = -1;

    int64_t started = zclock_mono ();
    size_t kills = 0;
    size_t per_message = 100;
    bool killed = false, restarted = false, paused = false;
    int64_t pause_end = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t seq = 0; seq < ops; seq++) {
        //  Spread the keys, so that a message touches many of them
        s_test_add_op (batch, &model, seq, (seq * 7919) % keys);
        if (zstate_batch_size (batch) < per_message && seq + 1 < ops)
            continue;
        s_test_send (push, "ROUTE_TABLE", batch);
        size_t sent = seq + 1;
        //  Pace the stream while Redis is up, so that Redis sees most of it
        //  and the faults land while batches are in flight
        bool outage = (killed && !restarted) || (paused && zclock_mono () < pause_end);
        if (!outage && (sent / per_message) % 10 == 0) {
            int64_t deadline = zclock_mono () + 5000;
            zstate_writer_stats_t stats;
            while (zstate_writer_stats (writer, &stats) == 0
               &&  stats.depth > 2000 && zclock_mono () < deadline)
                zclock_sleep (1);   //  Polling the writer's backlog, with a deadline
        }
        if (fault == FAULT_KILL && !killed && sent >= ops * 4 / 10) {
            rc = zstate_redis_server_kill (server);
            assert (rc == 0);
            killed = true;
        }
        else
        if (fault == FAULT_KILL && !restarted && sent >= ops * 6 / 10) {
            rc = zstate_redis_server_start (server);
            assert (rc == 0);
            restarted = true;
        }
        else
        if (fault == FAULT_PAUSE && !paused && sent >= ops / 3) {
            char text [16];
            snprintf (text, sizeof (text), "%d", pause);
            assert (zstate_redis_command (verifier, "CLIENT", "PAUSE", text, NULL)
                    == ZSTATE_REDIS_STATUS);
            paused = true;
            pause_end = zclock_mono () + pause;
        }
        else
        if (fault == FAULT_CLIENT_KILL && kills < 20 && sent >= (kills + 1) * ops / 21) {
            //  Kill when the writer is connected, so that every kill bites;
            //  SKIPME is yes by default: the verifier survives
            int64_t deadline = zclock_mono () + 5000;
            zstate_writer_stats_t stats;
            while (zstate_writer_stats (writer, &stats) == 0
               &&  stats.state != ZSTATE_WRITER_CONNECTED && zclock_mono () < deadline)
                zclock_sleep (1);   //  Polling the writer's state, with a deadline
            assert (zstate_redis_command (verifier, "CLIENT", "KILL", "TYPE", "normal", NULL)
                    == ZSTATE_REDIS_INTEGER);
            //  The writer may still think itself connected on a connection
            //  the last kill closed: then nothing was killed, and the next
            //  message tries again. The end counts 20 kills that bit.
            if (zstate_redis_integer (verifier, -1) > 0)
                kills++;
        }
    }
    zstate_batch_destroy (&batch);
    rc = zstate_writer_flush (writer, 30000);
    if (rc)
        zsys_error ("flush: %s", zstate_reason ());
    assert (rc == 0);
    int64_t elapsed = zclock_mono () - started;

    zstate_writer_stats_t stats;
    rc = zstate_writer_stats (writer, &stats);
    assert (rc == 0);
    assert (stats.ops == ops);
    assert (stats.depth == 0 && stats.failed == 0);
    s_test_accounting (&stats);
    assert (stats.disconnects >= 1);
    assert (stats.reconnects >= 1);
    if (fault == FAULT_CLIENT_KILL) {
        assert (kills == 20);
        assert (stats.disconnects >= 20);
    }
    if (verbose)
        zsys_info ("fault %d: %zu ops over %zu keys in %" PRId64 " ms: written %" PRIu64
                   " coalesced %" PRIu64 " resent %" PRIu64 " batches %" PRIu64
                   " disconnects %" PRIu64 " reconnects %" PRIu64,
                   fault, ops, keys, elapsed, stats.written, stats.coalesced,
                   stats.resent, stats.batches, stats.disconnects, stats.reconnects);
    if (!zstate_redis_connected (verifier)) {
        rc = zstate_redis_connect (verifier);
        assert (rc == 0);
    }
    //  The verifier may have been killed along with the server
    if (zstate_redis_command (verifier, "PING", NULL) == -1) {
        rc = zstate_redis_connect (verifier);
        assert (rc == 0);
    }
    s_test_verify (verifier, &model, "ROUTE_TABLE");

    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_redis_destroy (&verifier);
    free (model.nexthop);
    free (model.ifname);
}

static size_t
s_test_rss (void)
{
    size_t pages = 0, resident = 0;
    FILE *file = fopen ("/proc/self/statm", "r");
    if (file) {
        if (fscanf (file, "%zu %zu", &pages, &resident) != 2)
            resident = 0;
        fclose (file);
    }
    return resident * (size_t) sysconf (_SC_PAGESIZE);
}


//  --------------------------------------------------------------------------
//  Self test of this class

void
zstate_writer_test (bool verbose)
{
    printf (" * zstate_writer: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Under valgrind the big streams shrink; the normal run keeps them
    bool quick = RUNNING_ON_VALGRIND || getenv ("ZSTATE_SELFTEST_QUICK");
    //  The CLIENT PAUSE fault lasts 5 s, as the product asks; shorter under
    //  valgrind, or as ZSTATE_SELFTEST_PAUSE_MS says
    const char *pause_env = getenv ("ZSTATE_SELFTEST_PAUSE_MS");
    int pause = pause_env? atoi (pause_env): quick? 2000: 5000;

    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis);
    int rc = zstate_redis_connect (redis);
    assert (rc == 0);

    //  Commands and settings
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    if (verbose)
        zstate_writer_set_verbose (writer, true);
    assert (strncmp (zstate_writer_endpoint (writer), "inproc://zstate-writer-", 23) == 0);
    assert (zstate_writer_events (writer));
    assert (zstate_writer_actor (writer));
    assert (zstate_writer_set_separator (writer, "") == -1 && errno == EINVAL);
    assert (zstate_writer_set_db (writer, -1) == -1 && errno == EINVAL);
    assert (zstate_writer_set_timeouts (writer, 0, 10) == -1 && errno == EINVAL);
    assert (zstate_writer_set_batch (writer, 0, 1) == -1 && errno == EINVAL);
    assert (zstate_writer_set_bound (writer, 0, 1 << 20) == -1 && errno == EINVAL);
    assert (zstate_writer_set_reconnect (writer, 100, 10) == -1 && errno == EINVAL);
    assert (zstate_writer_connect (writer, "host:notaport") == -1 && errno == EINVAL);
    zsock_t *actor = zactor_sock (zstate_writer_actor (writer));
    zstr_send (actor, "NO SUCH COMMAND");
    assert (zstate_request_wait (actor, "NO SUCH COMMAND", NULL) == -1 && errno == EINVAL);
    zstr_send (actor, "CONNECT");       //  endpoint missing
    assert (zstate_request_wait (actor, "CONNECT", NULL) == -1 && errno == EINVAL);
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.state == ZSTATE_WRITER_IDLE && stats.depth == 0);
    assert (streq (zstate_writer_state_name (stats.state), "IDLE"));
    //  Nothing accepted: flushed; never connected with something pending:
    //  ENOTCONN at once
    assert (zstate_writer_flush (writer, 1000) == 0);

    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push);
    rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);

    //  Coalescing before CONNECT, where nothing can be written: each key
    //  starts with an extra field in Redis, which SET semantics remove
    const char *keys [] = { "ROUTE:k1", "ROUTE:k2", "ROUTE:k3", "ROUTE:k4", "ROUTE:k5", NULL };
    for (int index = 0; keys [index]; index++)
        assert (zstate_redis_command (redis, "HSET", keys [index], "old", "x", NULL)
                == ZSTATE_REDIS_INTEGER);
    zstate_batch_del (batch, "k1");                             //  DEL, HSET: SET
    zstate_batch_hset (batch, "k1", "a", "1", NULL);
    zstate_batch_set (batch, "k2", "a", "1", "b", "2", NULL);   //  SET, HSET: merged SET
    zstate_batch_hset (batch, "k2", "b", "3", "c", "4", NULL);
    zstate_batch_hset (batch, "k3", "a", "1", NULL);            //  HSET, HSET: HSET
    zstate_batch_hset (batch, "k3", "a", "2", "b", "2", NULL);
    zstate_batch_hset (batch, "k4", "a", "1", NULL);            //  HSET, DEL: DEL
    zstate_batch_del (batch, "k4");
    zstate_batch_set (batch, "k5", "a", "1", NULL);             //  SET, SET with no
    zstate_batch_set (batch, "k5", NULL);                       //  fields: absent
    s_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 1000) == -1 && errno == ENOTCONN);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.messages == 1 && stats.ops == 10);
    assert (stats.pending == 5 && stats.coalesced == 5);
    assert (stats.bytes > 0);
    s_test_accounting (&stats);
    //  A malformed message is counted and dropped
    zstr_send (push, "not a wire message");
    zstr_sendm (push, "two");
    zstr_send (push, "frames");
    assert (zstate_writer_flush (writer, 0) == -1);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.malformed == 2 && stats.messages == 1);

    assert (zstate_writer_set_batch (writer, 1000, 1) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == -1
            && errno == EBUSY);
    assert (zstate_writer_set_separator (writer, "|") == -1 && errno == EBUSY);
    assert (zstate_writer_set_db (writer, 1) == -1 && errno == EBUSY);
    zmsg_t *event = s_test_event (zstate_writer_events (writer), "STATE", 1000);
    assert (event);
    zmsg_destroy (&event);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:k1", "a", "1", NULL);
    s_test_check (redis, "ROUTE:k2", "a", "1", "b", "3", "c", "4", NULL);
    s_test_check (redis, "ROUTE:k3", "old", "x", "a", "2", "b", "2", NULL);
    s_test_check (redis, "ROUTE:k4", NULL);
    s_test_check (redis, "ROUTE:k5", NULL);

    //  Connected: HSET merges, SET replaces, DEL deletes, SET with no
    //  fields leaves the key absent; several tables through one writer
    zstate_batch_hset (batch, "r1", "a", "1", "b", "2", NULL);
    s_test_send (push, "ROUTE", batch);
    zstate_batch_set (batch, "r1", "x", "other table", NULL);
    s_test_send (push, "NEIGH", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:r1", "a", "1", "b", "2", NULL);
    s_test_check (redis, "NEIGH:r1", "x", "other table", NULL);
    zstate_batch_hset (batch, "r1", "a", "9", NULL);
    s_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:r1", "a", "9", "b", "2", NULL);
    zstate_batch_set (batch, "r1", "a", "9", NULL);
    s_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:r1", "a", "9", NULL);
    zstate_batch_del (batch, "r1");
    zstate_batch_set (batch, "r2", "a", "1", NULL);
    s_test_send (push, "ROUTE", batch);
    zstate_batch_set (batch, "r2", NULL);
    s_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:r1", NULL);
    s_test_check (redis, "ROUTE:r2", NULL);

    //  Binary keys, names and values survive
    const char key [] = { 'b', 0, 'k', (char) 0xff };
    const char name [] = { 'n', 0 };
    const char value [] = { 0, 1, 2, (char) 0xfe };
    zstate_batch_append (batch, ZSTATE_OP_SET, key, sizeof (key));
    zstate_batch_field (batch, name, sizeof (name), value, sizeof (value));
    s_test_send (push, "BIN", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    char full [8] = { 'B', 'I', 'N', ':' };
    memcpy (full + 4, key, sizeof (key));
    const char *hgetall [] = { "HGETALL", full };
    size_t hgetall_size [] = { 7, sizeof (full) };
    assert (zstate_redis_commandv (redis, 2, hgetall, hgetall_size) == ZSTATE_REDIS_ARRAY);
    assert (zstate_redis_elements (redis) == 2);
    size_t size;
    const char *got = zstate_redis_str (redis, 0, &size);
    assert (size == sizeof (name) && memcmp (got, name, size) == 0);
    got = zstate_redis_str (redis, 1, &size);
    assert (size == sizeof (value) && memcmp (got, value, size) == 0);

    //  WRONGTYPE fails that op only: counted, reported, the rest lands
    assert (zstate_redis_command (redis, "SET", "ROUTE:string", "x", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_writer_stats (writer, &stats) == 0);
    uint64_t written = stats.written;
    zstate_batch_hset (batch, "ok1", "a", "1", NULL);
    zstate_batch_hset (batch, "string", "a", "1", NULL);
    zstate_batch_set (batch, "ok2", "a", "2", NULL);
    s_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.failed == 1);
    assert (stats.written == written + 2);
    assert (stats.state == ZSTATE_WRITER_CONNECTED);
    s_test_accounting (&stats);
    event = s_test_event (zstate_writer_events (writer), "ERROR", 1000);
    assert (event);
    char *endpoint = zmsg_popstr (event);
    char *reason = zmsg_popstr (event);
    char *failed_key = zmsg_popstr (event);
    assert (streq (endpoint, zstate_redis_server_endpoint (server)));
    assert (strncmp (reason, "WRONGTYPE", 9) == 0);
    assert (streq (failed_key, "ROUTE:string"));
    zstr_free (&endpoint);
    zstr_free (&reason);
    zstr_free (&failed_key);
    zmsg_destroy (&event);
    s_test_check (redis, "ROUTE:ok1", "a", "1", NULL);
    s_test_check (redis, "ROUTE:ok2", "a", "2", NULL);
    assert (zstate_redis_command (redis, "GET", "ROUTE:string", NULL) == ZSTATE_REDIS_STRING);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);

    //  The separator, the database index, and destroy right after writes:
    //  destroy waits for Redis to confirm
    writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_separator (writer, "|") == 0);
    assert (zstate_writer_set_db (writer, 2) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_socket (server)) == 0);
    push = zsock_new (ZMQ_PUSH);
    assert (push);
    rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    for (int index = 0; index < 1000; index++) {
        char entry_key [32];
        snprintf (entry_key, sizeof (entry_key), "Ethernet%d", index);
        zstate_batch_set (batch, entry_key, "mtu", "9100", "admin_status", "up", NULL);
        if (zstate_batch_size (batch) == 100)
            s_test_send (push, "PORT", batch);
    }
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    assert (zstate_redis_command (redis, "SELECT", "2", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_redis_command (redis, "DBSIZE", NULL) == ZSTATE_REDIS_INTEGER);
    assert (zstate_redis_integer (redis, -1) == 1000);
    s_test_check (redis, "PORT|Ethernet999", "mtu", "9100", "admin_status", "up", NULL);
    assert (zstate_redis_command (redis, "SELECT", "0", NULL) == ZSTATE_REDIS_STATUS);

    //  The bound: at 100 keys the writer stops reading and says so; once
    //  connected it drains, reads again, and everything lands
    writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_bound (writer, 100, 1 << 20) == 0);
    push = zsock_new (ZMQ_PUSH);
    assert (push);
    rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    for (int index = 0; index < 500; index++) {
        char entry_key [32];
        snprintf (entry_key, sizeof (entry_key), "b%d", index);
        zstate_batch_set (batch, entry_key, "v", "1", NULL);
        if (zstate_batch_size (batch) == 10)
            s_test_send (push, "BOUND", batch);
    }
    event = s_test_event (zstate_writer_events (writer), "STALL", 5000);
    assert (event);
    char *endpoint_name = zmsg_popstr (event);
    char *what = zmsg_popstr (event);
    assert (endpoint_name && streq (endpoint_name, "-"));
    assert (what && streq (what, "FULL"));
    zstr_free (&endpoint_name);
    zmsg_destroy (&event);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.stalls == 1);
    assert (stats.pending >= 100 && stats.pending < 110);
    assert (stats.oldest_age >= 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    //  Flush covers what was sent to the writer before it, even what the
    //  bound left unread on the PULL socket: that is read as the backlog
    //  drains, and the flush waits for it
    assert (zstate_writer_flush (writer, 10000) == 0);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.written == 500 && stats.depth == 0);
    assert (stats.stalls >= 1);
    assert (zstate_redis_command (redis, "KEYS", "BOUND:*", NULL) == ZSTATE_REDIS_ARRAY);
    assert (zstate_redis_elements (redis) == 500);
    zstr_free (&what);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);

    //  A FLUSH that comes while the bound holds messages back on the PULL
    //  socket waits for those too: Redis is frozen while the writer fills
    //  up, and thawed only once the FLUSH is waiting
    writer = zstate_writer_new ();
    assert (zstate_writer_set_bound (writer, 100, 1 << 20) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    push = zsock_new (ZMQ_PUSH);
    rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    assert (zstate_redis_server_freeze (server) == 0);
    for (int index = 0; index < 500; index++) {
        char entry_key [32];
        snprintf (entry_key, sizeof (entry_key), "h%d", index);
        zstate_batch_set (batch, entry_key, "v", "1", NULL);
        if (zstate_batch_size (batch) == 10)
            s_test_send (push, "HELD", batch);
    }
    event = s_test_event (zstate_writer_events (writer), "STALL", 5000);
    assert (event);
    zmsg_destroy (&event);
    zsock_send (zstate_writer_actor (writer), "si", "FLUSH", 10000);
    assert (zstate_redis_server_thaw (server) == 0);
    rc = zstate_request_wait (zactor_sock (zstate_writer_actor (writer)), "FLUSH", NULL);
    assert (rc == 0);
    assert (zstate_redis_command (redis, "KEYS", "HELD:*", NULL) == ZSTATE_REDIS_ARRAY);
    assert (zstate_redis_elements (redis) == 500);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);

    //  A Redis that is not there: CONNECT fails but the writer keeps
    //  trying, and reports it
    writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_reconnect (writer, 10, 50) == 0);
    assert (zstate_writer_connect (writer, "unix:/nonexistent/redis.sock") == -1);
    assert (errno == ENOENT);
    event = s_test_event (zstate_writer_events (writer), "STATE", 1000);
    assert (event);
    zmsg_destroy (&event);
    event = s_test_event (zstate_writer_events (writer), "ERROR", 1000);
    assert (event);
    zmsg_destroy (&event);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.state == ZSTATE_WRITER_DISCONNECTED);
    zstate_writer_destroy (&writer);
    zstate_batch_destroy (&batch);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);

    //  Faults in the middle of a stream of route-like ops, on a server
    //  that confirms only what it wrote to disk: every key ends up as last
    //  written, and no other key exists
    size_t stream_ops = quick? 20000: 100000;
    size_t stream_keys = quick? 2000: 10000;
    server = zstate_redis_server_new (true);
    assert (server);
    s_test_faults (server, FAULT_KILL, stream_ops, stream_keys, pause, verbose);
    s_test_faults (server, FAULT_PAUSE, stream_ops, stream_keys, pause, verbose);
    s_test_faults (server, FAULT_CLIENT_KILL, stream_ops, stream_keys, pause, verbose);
    zstate_redis_server_destroy (&server);

    //  Coalescing: with Redis frozen, a million updates over a thousand
    //  keys stay a thousand entries; after the thaw they converge
    size_t updates = quick? 100000: 1000000;
    size_t coalesce_keys = 1000;
    server = zstate_redis_server_new (false);
    assert (server);
    writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_timeouts (writer, 200, 500) == 0);
    assert (zstate_writer_set_reconnect (writer, 10, 200) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    push = zsock_new (ZMQ_PUSH);
    assert (push);
    zsock_set_sndhwm (push, 10);
    rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    batch = zstate_batch_new ();
    test_model_t model;
    model.keys = coalesce_keys;
    model.nexthop = (int64_t *) malloc (coalesce_keys * sizeof (int64_t));
    model.ifname = (int64_t *) malloc (coalesce_keys * sizeof (int64_t));
    assert (model.nexthop && model.ifname);
    for (size_t index = 0; index < coalesce_keys; index++)
        model.nexthop [index] = model.ifname [index] = -1;
    size_t rss_before = s_test_rss ();
    assert (zstate_redis_server_freeze (server) == 0);
    int64_t started = zclock_mono ();
    size_t peak_pending = 0, peak_flight = 0, peak_bytes = 0, peak_rss = 0;
    for (size_t seq = 0; seq < updates; seq++) {
        s_test_add_op (batch, &model, seq, seq % coalesce_keys);
        if (zstate_batch_size (batch) == 1000) {
            s_test_send (push, "ROUTE_TABLE", batch);
            if ((seq + 1) % 100000 == 0) {
                assert (zstate_writer_stats (writer, &stats) == 0);
                assert (stats.pending <= coalesce_keys);
                peak_pending = stats.pending > peak_pending? stats.pending: peak_pending;
                peak_flight = stats.in_flight > peak_flight? stats.in_flight: peak_flight;
                peak_bytes = stats.bytes > peak_bytes? stats.bytes: peak_bytes;
                size_t rss = s_test_rss ();
                peak_rss = rss > peak_rss? rss: peak_rss;
            }
        }
    }
    stats = s_test_wait_ops (writer, updates, 60000);
    assert (stats.ops == updates);
    int64_t fed = zclock_mono () - started;
    //  The batch in flight at the freeze times out and merges back
    int64_t deadline = zclock_mono () + 10000;
    while (zstate_writer_stats (writer, &stats) == 0
       &&  (stats.disconnects == 0 || stats.in_flight) && zclock_mono () < deadline)
        zclock_sleep (10);      //  Polling the writer's state, with a deadline
    assert (stats.disconnects >= 1 && stats.in_flight == 0);
    assert (stats.depth <= coalesce_keys);
    peak_pending = stats.pending > peak_pending? stats.pending: peak_pending;
    peak_flight = stats.in_flight > peak_flight? stats.in_flight: peak_flight;
    peak_bytes = stats.bytes > peak_bytes? stats.bytes: peak_bytes;
    //  Pending: one entry per key; in flight: what was sent before the
    //  freeze, merged back under the pending entries once it timed out
    assert (stats.written == 0);
    assert (stats.pending <= coalesce_keys);
    assert (peak_pending <= coalesce_keys);
    assert (peak_flight <= WINDOW * DEFAULT_BATCH);
    s_test_accounting (&stats);
    assert (zstate_redis_server_thaw (server) == 0);
    rc = zstate_writer_flush (writer, 30000);
    assert (rc == 0);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.depth == 0 && stats.failed == 0);
    s_test_accounting (&stats);
    if (verbose)
        zsys_info ("coalescing: %zu updates over %zu keys fed in %" PRId64 " ms with Redis "
                   "frozen: peak backlog %zu keys pending + %zu in flight, %zu bytes; "
                   "RSS %+zd KiB (peak %+zd KiB); "
                   "written %" PRIu64 " coalesced %" PRIu64, updates, coalesce_keys, fed,
                   peak_pending, peak_flight, peak_bytes,
                   ((ssize_t) s_test_rss () - (ssize_t) rss_before) / 1024,
                   ((ssize_t) peak_rss - (ssize_t) rss_before) / 1024,
                   stats.written, stats.coalesced);
    redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis);
    rc = zstate_redis_connect (redis);
    assert (rc == 0);
    s_test_verify (redis, &model, "ROUTE_TABLE");
    zstate_redis_destroy (&redis);
    free (model.nexthop);
    free (model.ifname);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_redis_server_destroy (&server);
    //  @end

    printf ("OK\n");
}
