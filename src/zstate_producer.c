/*  =========================================================================
    zstate_producer - a producer table: writes operations on one
    (db, table) through a client agent

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A producer table is a thin, single-threaded front for a shared client:
    it checks its arguments, encodes them into a scratch batch it keeps
    for reuse, and hands the batch to zstate_client_send, which copies it
    into the client's queue. Nothing reaches the client unless every
    argument of the call was good.
@discuss
    The scratch batch keeps its memory across calls, so single-op calls in
    a loop allocate nothing in steady state.
@end
*/

#include "zstate_classes.h"
#include "zstate_client_tables.h"

//  Structure of our class

struct _zstate_producer_t {
    zstate_client_t *client;    //  Client we send through, not ours
    zstate_client_table_t *tab; //  Our registration there: mirror, view
    char *db;                   //  db name
    char *table;                //  table name
    zstate_batch_t *scratch;    //  Built by the single-op and list calls
    zsock_t *persist;           //  PUSH to the DB writer, or NULL
    int persist_timeout;        //  msecs a copy may wait for the writer
    zuuid_t *session;           //  Our session id on the writer's copies
    uint64_t sequence;          //  Last sequence number on those
};

//  How long a producer-side copy may wait for a busy writer, by default
#define PERSIST_TIMEOUT_DEFAULT 5000


//  --------------------------------------------------------------------------
//  Create a producer table for (db, table) on client. Returns NULL with
//  errno EINVAL if a name is NULL, empty or too long.

zstate_producer_t *
zstate_producer_new (zstate_client_t *client, const char *db, const char *table)
{
    assert (client);
    if (!zstate_msg_name_valid (db)) {
        zstate_fail (EINVAL, "db name must be 1 to %d bytes", ZSTATE_NAME_MAX);
        return NULL;
    }
    if (!zstate_msg_name_valid (table)) {
        zstate_fail (EINVAL, "table name must be 1 to %d bytes", ZSTATE_NAME_MAX);
        return NULL;
    }
    zstate_producer_t *self = (zstate_producer_t *) zmalloc (sizeof (zstate_producer_t));
    assert (self);
    self->client = client;
    self->db = strdup (db);
    assert (self->db);
    self->table = strdup (table);
    assert (self->table);
    self->scratch = zstate_batch_new ();
    self->tab = zstate_client_table_new (client, db, table);
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy the producer table; nulls the pointer.

void
zstate_producer_destroy (zstate_producer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_producer_t *self = *self_p;
        zstate_client_table_destroy (self->client, &self->tab);
        zstate_batch_destroy (&self->scratch);
        zsock_destroy (&self->persist);
        zuuid_destroy (&self->session);
        free (self->db);
        free (self->table);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Hand one wire message with count operations of data to the writer

static int
s_persist_chunk (zstate_producer_t *self, zstate_batch_t *chunk)
{
    zframe_t *frame = zstate_msg_encode (zuuid_data (self->session), self->sequence + 1,
                                         self->db, self->table, chunk);
    assert (frame);             //  The client took the same operations
    //  A signal ends the send early with EINTR: go on until the timeout
    int64_t deadline = zclock_mono () + self->persist_timeout;
    int rc;
    while ((rc = zframe_send (&frame, self->persist, ZFRAME_REUSE)) == -1
       &&  zmq_errno () == EINTR && zclock_mono () < deadline)
        ;
    zframe_destroy (&frame);
    if (rc)
        return zstate_fail (ETIMEDOUT, "sent, but the DB writer did not take the copy "
                            "within %d msecs", self->persist_timeout);
    //  Numbered once it went, so a copy that timed out leaves no gap
    self->sequence++;
    return 0;
}

//  Copy batch to the writer, in as many messages as it needs: the client
//  split it the same way for the server
static int
s_persist (zstate_producer_t *self, zstate_batch_t *batch)
{
    size_t header = zstate_msg_header_size (strlen (self->db), strlen (self->table));
    if (header + zstate_batch_bytes (batch) <= ZSTATE_MESSAGE_MAX
    &&  zstate_batch_size (batch) <= ZSTATE_OPS_MAX)
        return s_persist_chunk (self, batch);
    zstate_batch_t *chunk = zstate_batch_new ();
    zstate_batch_t *single = zstate_batch_new ();
    const byte *data = zstate_batch_data (batch);
    size_t offset = 0;
    int rc = 0;
    for (size_t index = 0; index < zstate_batch_size (batch) && rc == 0; index++) {
        //  Measure the next operation by loading it alone
        size_t used = 0;
        zstate_batch_reset (single);
        int wire = zstate_batch_load (single, data + offset,
                                      zstate_batch_bytes (batch) - offset, 1, &used);
        assert (wire == ZSTATE_WIRE_OK);
        if (zstate_batch_size (chunk)
        && (header + zstate_batch_bytes (chunk) + used > ZSTATE_MESSAGE_MAX
        ||  zstate_batch_size (chunk) == ZSTATE_OPS_MAX)) {
            rc = s_persist_chunk (self, chunk);
            zstate_batch_reset (chunk);
        }
        wire = zstate_batch_load (chunk, data + offset, used, 1, NULL);
        assert (wire == ZSTATE_WIRE_OK);
        offset += used;
    }
    zstate_batch_destroy (&single);
    if (rc == 0 && zstate_batch_size (chunk))
        rc = s_persist_chunk (self, chunk);
    zstate_batch_destroy (&chunk);
    return rc;
}

//  Send batch through the client and, with producer-side persistence, a
//  copy to the DB writer. The client goes first: when it refuses, nothing
//  is persisted either.
static int
s_send (zstate_producer_t *self, zstate_batch_t *batch)
{
    int rc = zstate_client_table_send (self->client, self->tab, batch);
    if (rc == 0 && self->persist)
        rc = s_persist (self, batch);
    return rc;
}

static int
s_send_scratch (zstate_producer_t *self)
{
    return s_send (self, self->scratch);
}

//  SET or HSET with a va_list of C strings: the batch checks the key and
//  the list, and leaves itself empty when they are bad
static int
s_vsend (zstate_producer_t *self, int op, const char *key, va_list args)
{
    zstate_batch_reset (self->scratch);
    if (zstate_batch_vappend (self->scratch, op, key, args))
        return -1;
    return s_send_scratch (self);
}


//  --------------------------------------------------------------------------
//  SET key with fields as C strings: name, value, ..., NULL.

int
zstate_producer_set (zstate_producer_t *self, const char *key, ...)
{
    assert (self);
    va_list args;
    va_start (args, key);
    int rc = s_vsend (self, ZSTATE_OP_SET, key, args);
    va_end (args);
    return rc;
}


//  --------------------------------------------------------------------------
//  HSET key: merge the fields (name, value, ..., NULL) into the entry.

int
zstate_producer_hset (zstate_producer_t *self, const char *key, ...)
{
    assert (self);
    va_list args;
    va_start (args, key);
    int rc = s_vsend (self, ZSTATE_OP_HSET, key, args);
    va_end (args);
    return rc;
}


//  --------------------------------------------------------------------------
//  DEL key.

int
zstate_producer_del (zstate_producer_t *self, const char *key)
{
    assert (self);
    zstate_batch_reset (self->scratch);
    if (zstate_batch_del (self->scratch, key))
        return -1;
    return s_send_scratch (self);
}


//  --------------------------------------------------------------------------
//  SET or HSET a binary key with field_count binary fields.

int
zstate_producer_set_fields (zstate_producer_t *self, int op,
                            const void *key, size_t key_size, size_t field_count,
                            const void **names, const size_t *name_sizes,
                            const void **values, const size_t *value_sizes)
{
    assert (self);
    if (op != ZSTATE_OP_SET && op != ZSTATE_OP_HSET)
        return zstate_fail (EINVAL, "set_fields: op must be SET or HSET, not %d", op);
    if (field_count && (!names || !name_sizes || !values || !value_sizes))
        return zstate_fail (EINVAL, "set_fields: %zu fields but a NULL array", field_count);
    zstate_batch_reset (self->scratch);
    if (zstate_batch_append (self->scratch, op, key, key_size))
        return -1;
    for (size_t field = 0; field < field_count; field++)
        if (zstate_batch_field (self->scratch, names [field], name_sizes [field],
                                values [field], value_sizes [field]))
            return -1;
    return s_send_scratch (self);
}


//  --------------------------------------------------------------------------
//  Batch SET: count keys; fields[i] is the NULL-terminated list name,
//  value, ..., NULL for keys[i], or NULL for no fields.

int
zstate_producer_batch_set (zstate_producer_t *self, size_t count,
                           const char **keys, const char ***fields)
{
    assert (self);
    if (count == 0 || !keys)
        return zstate_fail (EINVAL, "batch_set: no keys");
    zstate_batch_reset (self->scratch);
    for (size_t index = 0; index < count; index++) {
        const char *key = keys [index];
        if (!key)
            return zstate_fail (EINVAL, "batch_set: key %zu is NULL", index);
        if (zstate_batch_append (self->scratch, ZSTATE_OP_SET, key, strlen (key)))
            return -1;
        const char **list = fields? fields [index]: NULL;
        for (size_t item = 0; list && list [item]; item += 2) {
            const char *name = list [item];
            const char *value = list [item + 1];
            if (!value)
                return zstate_fail (EINVAL, "batch_set: field '%s' of key '%s' has no "
                                    "value (odd list)", name, key);
            if (zstate_batch_field (self->scratch, name, strlen (name),
                                    value, strlen (value)))
                return -1;
        }
    }
    return s_send_scratch (self);
}


//  --------------------------------------------------------------------------
//  Batch DEL of count keys.

int
zstate_producer_batch_del (zstate_producer_t *self, size_t count, const char **keys)
{
    assert (self);
    if (count == 0 || !keys)
        return zstate_fail (EINVAL, "batch_del: no keys");
    zstate_batch_reset (self->scratch);
    for (size_t index = 0; index < count; index++) {
        if (!keys [index])
            return zstate_fail (EINVAL, "batch_del: key %zu is NULL", index);
        if (zstate_batch_del (self->scratch, keys [index]))
            return -1;
    }
    return s_send_scratch (self);
}


//  --------------------------------------------------------------------------
//  Send every operation in batch, in order; the batch is left as it was.

int
zstate_producer_send (zstate_producer_t *self, zstate_batch_t *batch)
{
    assert (self);
    return s_send (self, batch);
}


//  --------------------------------------------------------------------------
//  Producer-side persistence: copy everything sent from now on to writer.

int
zstate_producer_set_writer (zstate_producer_t *self, zstate_writer_t *writer, int timeout)
{
    assert (self);
    zsock_destroy (&self->persist);
    if (!writer)
        return 0;
    self->persist = zsock_new (ZMQ_PUSH);
    assert (self->persist);
    self->persist_timeout = timeout > 0? timeout: PERSIST_TIMEOUT_DEFAULT;
    zsock_set_sndtimeo (self->persist, self->persist_timeout);
    //  What we handed over still reaches the writer after we are gone
    zsock_set_linger (self->persist, -1);
    //  libzmq fails even this connect, which never waits, with EINTR
    int rc;
    while ((rc = zsock_connect (self->persist, "%s", zstate_writer_endpoint (writer))) == -1
       &&  zmq_errno () == EINTR)
        ;
    if (rc) {
        zsock_destroy (&self->persist);
        return zstate_fail (EINVAL, "cannot reach the DB writer at %s",
                            zstate_writer_endpoint (writer));
    }
    if (!self->session)
        self->session = zuuid_new ();
    return 0;
}


//  --------------------------------------------------------------------------
//  Keep a mirror of at most keys_max keys of this table, 0 to drop it.

int
zstate_producer_set_mirror (zstate_producer_t *self, size_t keys_max)
{
    assert (self);
    return zstate_client_table_set_mirror (self->client, self->tab, keys_max);
}


//  --------------------------------------------------------------------------
//  Open / close a view: the operations sent in between replace the table.

int
zstate_producer_begin_view (zstate_producer_t *self)
{
    assert (self);
    return zstate_client_table_begin_view (self->client, self->tab);
}

int
zstate_producer_end_view (zstate_producer_t *self)
{
    assert (self);
    return zstate_client_table_end_view (self->client, self->tab);
}


//  --------------------------------------------------------------------------
//  Return the db / table name.

const char *
zstate_producer_db (zstate_producer_t *self)
{
    assert (self);
    return self->db;
}

const char *
zstate_producer_table (zstate_producer_t *self)
{
    assert (self);
    return self->table;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest helpers

//  Receive one message from a raw ROUTER into batch (appending), checking
//  the envelope. Returns false when nothing came in timeout.
static bool
s_test_recv (zsock_t *router, zstate_msg_t *decoder, zstate_batch_t *batch,
             uint64_t *sequence_p, int timeout)
{
    zsock_set_rcvtimeo (router, timeout);
    zmsg_t *msg = zmsg_recv (router);
    if (!msg)
        return false;
    assert (zmsg_size (msg) == 2);
    zframe_t *payload = zmsg_last (msg);
    int rc = zstate_msg_decode (decoder, zframe_data (payload), zframe_size (payload));
    assert (rc == ZSTATE_WIRE_OK);
    assert (streq (zstate_msg_db (decoder), "db"));
    assert (streq (zstate_msg_table (decoder), "table"));
    assert (zstate_msg_sequence (decoder) == *sequence_p + 1);
    (*sequence_p)++;
    size_t size;
    const byte *ops = zstate_msg_ops (decoder, &size);
    rc = zstate_batch_load (batch, ops, size, zstate_msg_op_count (decoder), NULL);
    assert (rc == ZSTATE_WIRE_OK);
    zmsg_destroy (&msg);
    return true;
}


//  The raw ROUTER that plays the server, and what it received so far
typedef struct {
    zsock_t *router;
    zstate_msg_t *decoder;
    zstate_batch_t *received;   //  Operations of the last receive
    uint64_t sequence;          //  Sequence of the last message
    zstate_producer_t *producer;
} test_server_t;

//  Receive messages until ops operations came, in a fresh batch; returns
//  the messages they came in
static size_t
s_test_receive (test_server_t *test, size_t ops)
{
    zstate_batch_reset (test->received);
    size_t messages = 0;
    while (zstate_batch_size (test->received) < ops) {
        assert (s_test_recv (test->router, test->decoder, test->received,
                             &test->sequence, 5000));
        messages++;
    }
    assert (zstate_batch_size (test->received) == ops);
    return messages;
}

//  Names are checked
static void
s_test_names (zstate_client_t *client)
{
    char long_name [ZSTATE_NAME_MAX + 2];
    memset (long_name, 'n', sizeof (long_name) - 1);
    long_name [sizeof (long_name) - 1] = 0;
    errno = 0;
    assert (zstate_producer_new (client, NULL, "table") == NULL && errno == EINVAL);
    assert (zstate_producer_new (client, "db", "") == NULL && errno == EINVAL);
    assert (zstate_producer_new (client, long_name, "table") == NULL && errno == EINVAL);
    assert (*zstate_reason ());
}

//  Each call becomes one message with the right operation
static void
s_test_single_ops (test_server_t *test)
{
    int rc;
    rc = zstate_producer_set (test->producer, "key1", "name", "value", "other", "x", NULL);
    assert (rc == 0);
    rc = zstate_producer_set (test->producer, "empty", NULL);
    assert (rc == 0);
    rc = zstate_producer_hset (test->producer, "key1", "name", "changed", NULL);
    assert (rc == 0);
    rc = zstate_producer_del (test->producer, "key1");
    assert (rc == 0);
    s_test_receive (test, 4);
    assert (zstate_batch_op (test->received, 0) == ZSTATE_OP_SET);
    assert (streq (zstate_batch_key (test->received, 0, NULL), "key1"));
    assert (zstate_batch_field_count (test->received, 0) == 2);
    assert (streq (zstate_batch_get (test->received, 0, "name"), "value"));
    assert (streq (zstate_batch_get (test->received, 0, "other"), "x"));
    //  A SET with no fields stays a SET
    assert (zstate_batch_op (test->received, 1) == ZSTATE_OP_SET);
    assert (streq (zstate_batch_key (test->received, 1, NULL), "empty"));
    assert (zstate_batch_field_count (test->received, 1) == 0);
    assert (zstate_batch_op (test->received, 2) == ZSTATE_OP_HSET);
    assert (streq (zstate_batch_get (test->received, 2, "name"), "changed"));
    assert (zstate_batch_op (test->received, 3) == ZSTATE_OP_DEL);
    assert (streq (zstate_batch_key (test->received, 3, NULL), "key1"));
}

//  Binary keys, names and values, NUL bytes included
static void
s_test_binary (test_server_t *test)
{
    int rc;
    const byte key [] = { 'k', 0, 'y' };
    const byte name [] = { 0, 'n', 0 };
    const byte value [] = { 'v', 0, 0, 'w' };
    const void *names [] = { name, "" };
    const size_t name_sizes [] = { sizeof (name), 0 };
    const void *values [] = { value, NULL };
    const size_t value_sizes [] = { sizeof (value), 0 };
    rc = zstate_producer_set_fields (test->producer, ZSTATE_OP_HSET, key, sizeof (key), 2,
                                     names, name_sizes, values, value_sizes);
    assert (rc == 0);
    rc = zstate_producer_set_fields (test->producer, ZSTATE_OP_SET, key, sizeof (key), 0,
                                     NULL, NULL, NULL, NULL);
    assert (rc == 0);
    s_test_receive (test, 2);
    size_t size;
    assert (zstate_batch_op (test->received, 0) == ZSTATE_OP_HSET);
    const char *got = zstate_batch_key (test->received, 0, &size);
    assert (size == sizeof (key) && memcmp (got, key, size) == 0);
    assert (zstate_batch_field_count (test->received, 0) == 2);
    got = zstate_batch_name (test->received, 0, 0, &size);
    assert (size == sizeof (name) && memcmp (got, name, size) == 0);
    got = zstate_batch_value (test->received, 0, 0, &size);
    assert (size == sizeof (value) && memcmp (got, value, size) == 0);
    got = zstate_batch_name (test->received, 0, 1, &size);
    assert (size == 0 && *got == 0);
    got = zstate_batch_value (test->received, 0, 1, &size);
    assert (size == 0 && *got == 0);
    assert (zstate_batch_op (test->received, 1) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (test->received, 1) == 0);
}

//  Lists of keys
static void
s_test_lists (test_server_t *test)
{
    int rc;
    const char *keys [] = { "a", "b", "c" };
    const char *fields_a [] = { "f1", "1", "f2", "2", NULL };
    const char *fields_c [] = { "f3", "3", NULL };
    const char **fields [] = { fields_a, NULL, fields_c };
    rc = zstate_producer_batch_set (test->producer, 3, keys, fields);
    assert (rc == 0);
    rc = zstate_producer_batch_set (test->producer, 2, keys, NULL);
    assert (rc == 0);
    rc = zstate_producer_batch_del (test->producer, 3, keys);
    assert (rc == 0);
    s_test_receive (test, 8);
    assert (zstate_batch_op (test->received, 0) == ZSTATE_OP_SET);
    assert (streq (zstate_batch_get (test->received, 0, "f2"), "2"));
    assert (zstate_batch_field_count (test->received, 1) == 0);
    assert (streq (zstate_batch_get (test->received, 2, "f3"), "3"));
    assert (zstate_batch_op (test->received, 3) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (test->received, 4) == 0);
    for (size_t index = 5; index < 8; index++) {
        assert (zstate_batch_op (test->received, index) == ZSTATE_OP_DEL);
        assert (streq (zstate_batch_key (test->received, index, NULL), keys [index - 5]));
    }
}

//  A mixed batch, sent as it is and left as it was
static void
s_test_mixed (test_server_t *test)
{
    int rc;
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "m1", "x", "1", NULL);
    zstate_batch_hset (batch, "m2", "y", "2", NULL);
    zstate_batch_del (batch, "m3");
    zstate_batch_t *copy = zstate_batch_dup (batch);
    rc = zstate_producer_send (test->producer, batch);
    assert (rc == 0);
    assert (zstate_batch_eq (batch, copy));
    s_test_receive (test, 3);
    assert (zstate_batch_eq (test->received, batch));
    zstate_batch_destroy (&copy);
    zstate_batch_destroy (&batch);
}

//  Bad arguments fail with EINVAL and send nothing
static void
s_test_bad_arguments (test_server_t *test, zstate_client_t *client)
{
    const byte key [] = { 'k', 0, 'y' };
    const void *values [] = { "v" };
    const size_t value_sizes [] = { 1 };
    const char *keys [] = { "a", "b", "c" };
    const char *fields_a [] = { "f1", "1", "f2", "2", NULL };
    assert (zstate_producer_set (test->producer, NULL, NULL) == -1 && errno == EINVAL);
    assert (zstate_producer_set (test->producer, "", NULL) == -1 && errno == EINVAL);
    assert (zstate_producer_set (test->producer, "k", "odd", NULL) == -1 && errno == EINVAL);
    assert (zstate_producer_hset (test->producer, NULL, "a", "b", NULL) == -1 && errno == EINVAL);
    assert (zstate_producer_hset (test->producer, "k", "a", "b", "odd", NULL) == -1
            && errno == EINVAL);
    assert (zstate_producer_del (test->producer, NULL) == -1 && errno == EINVAL);
    assert (zstate_producer_del (test->producer, "") == -1 && errno == EINVAL);
    assert (zstate_producer_set_fields (test->producer, ZSTATE_OP_DEL, key, sizeof (key), 0,
                                        NULL, NULL, NULL, NULL) == -1 && errno == EINVAL);
    assert (zstate_producer_set_fields (test->producer, ZSTATE_OP_SET, NULL, 0, 0,
                                        NULL, NULL, NULL, NULL) == -1 && errno == EINVAL);
    assert (zstate_producer_set_fields (test->producer, ZSTATE_OP_SET, key, sizeof (key), 1,
                                        NULL, NULL, NULL, NULL) == -1 && errno == EINVAL);
    const void *null_names [] = { NULL };
    const size_t one_size [] = { 1 };
    assert (zstate_producer_set_fields (test->producer, ZSTATE_OP_SET, key, sizeof (key), 1,
                                        null_names, one_size, values, value_sizes) == -1
            && errno == EINVAL);
    const char *bad_keys [] = { "a", NULL, "c" };
    assert (zstate_producer_batch_set (test->producer, 3, bad_keys, NULL) == -1 && errno == EINVAL);
    const char *empty_keys [] = { "a", "" };
    assert (zstate_producer_batch_set (test->producer, 2, empty_keys, NULL) == -1
            && errno == EINVAL);
    const char *odd_fields [] = { "f1", "1", "f2", NULL };
    const char **bad_fields [] = { fields_a, odd_fields, NULL };
    assert (zstate_producer_batch_set (test->producer, 3, keys, bad_fields) == -1
            && errno == EINVAL);
    assert (strstr (zstate_reason (), "odd"));
    assert (zstate_producer_batch_set (test->producer, 0, keys, NULL) == -1 && errno == EINVAL);
    assert (zstate_producer_batch_del (test->producer, 3, bad_keys) == -1 && errno == EINVAL);
    assert (zstate_producer_batch_del (test->producer, 0, keys) == -1 && errno == EINVAL);
    assert (zstate_producer_send (test->producer, NULL) == -1 && errno == EINVAL);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_producer_send (test->producer, batch) == -1 && errno == EINVAL);
    //  ... the next thing on the wire is the marker after them
    int rc = zstate_producer_del (test->producer, "marker");
    assert (rc == 0);
    assert (s_test_receive (test, 1) == 1);
    assert (streq (zstate_batch_key (test->received, 0, NULL), "marker"));
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    assert (stats.ops_accepted == 2 + 4 + 2 + 8 + 3 + 1);
    zstate_batch_destroy (&batch);
}

//  A batch larger than one wire message goes in several, in order
static void
s_test_large (test_server_t *test, zstate_client_t *client, bool verbose)
{
    int rc;
    zstate_client_set_batch (client, ZSTATE_OPS_MAX, ZSTATE_MESSAGE_MAX);
    size_t value_size = 512 * 1024;
    size_t count = ZSTATE_MESSAGE_MAX / value_size + 8;
    char *large = (char *) malloc (value_size);
    assert (large);
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t index = 0; index < count; index++) {
        char large_key [32];
        snprintf (large_key, sizeof (large_key), "large-%zu", index);
        memset (large, 'a' + (int) (index % 26), value_size);
        rc = zstate_batch_append (batch, ZSTATE_OP_SET, large_key, strlen (large_key));
        assert (rc == 0);
        rc = zstate_batch_field (batch, "v", 1, large, value_size);
        assert (rc == 0);
    }
    assert (zstate_batch_bytes (batch) > ZSTATE_MESSAGE_MAX);
    rc = zstate_producer_send (test->producer, batch);
    assert (rc == 0);
    size_t messages = s_test_receive (test, count);
    assert (messages >= 2);
    assert (zstate_batch_eq (test->received, batch));
    if (verbose)
        zsys_info ("zstate_producer test: %zu ops, %zu bytes in %zu messages",
                   count, zstate_batch_bytes (batch), messages);
    free (large);
    zstate_batch_destroy (&batch);
}

//  --------------------------------------------------------------------------
//  Self test of this class

void
zstate_producer_test (bool verbose)
{
    printf (" * zstate_producer: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  An application opens a producer table on its shared client and
    //  writes; a raw ROUTER plays the server here, over inproc
    zsock_t *router = zsock_new_router ("inproc://zstate-producer-test");
    assert (router);
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    //  The raw ROUTER reads version 1 and answers nothing
    assert (zstate_client_set_protocol (client, 1) == 0);
    int rc = zstate_client_connect (client, "inproc://zstate-producer-test");
    assert (rc == 0);
    zstate_producer_t *producer = zstate_producer_new (client, "db", "table");
    assert (producer);
    rc = zstate_producer_set (producer, "user:1", "name", "Ada", "lang", "C", NULL);
    assert (rc == 0);
    rc = zstate_producer_del (producer, "user:2");
    assert (rc == 0);
    //  Bad input is refused before anything is sent
    rc = zstate_producer_set (producer, "user:3", "name", NULL);
    assert (rc == -1 && errno == EINVAL);

    //  The server gets the operations in order, in messages for (db, table)
    test_server_t test = { router, zstate_msg_new (), zstate_batch_new (), 0, producer };
    s_test_receive (&test, 2);
    assert (zstate_batch_op (test.received, 0) == ZSTATE_OP_SET);
    assert (streq (zstate_batch_get (test.received, 0, "lang"), "C"));
    assert (zstate_batch_op (test.received, 1) == ZSTATE_OP_DEL);
    //  @end

    s_test_names (client);
    assert (streq (zstate_producer_db (producer), "db"));
    assert (streq (zstate_producer_table (producer), "table"));
    s_test_single_ops (&test);
    s_test_binary (&test);
    s_test_lists (&test);
    s_test_mixed (&test);
    s_test_bad_arguments (&test, client);
    s_test_large (&test, client, verbose);

    zstate_producer_destroy (&producer);
    assert (producer == NULL);
    zstate_producer_destroy (&producer);
    zstate_client_destroy (&client);
    zstate_batch_destroy (&test.received);
    zstate_msg_destroy (&test.decoder);
    zsock_destroy (&router);
    printf ("OK\n");
}
#endif
