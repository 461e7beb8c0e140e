/*  =========================================================================
    zstate_msg - the zstate wire codec (doc/protocol.md)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    One wire message is one ZeroMQ frame:

        message = signature version type session sequence db table
                  op-count *operation

    The decoder is a reusable object that points into the message it last
    decoded, so validating a message allocates nothing. Encoding writes the
    header and copies the batch's operations, which are already in wire
    encoding, after it.
@discuss
    Every length is checked against the bytes that remain before it is
    used, and sizes are compared, never added, where an addition could
    wrap. A rejected message is rejected as a whole with one reason.
@end
*/

#include "zstate_classes.h"

//  Fixed part of the header, before the db name
#define SIGNATURE_0     0x5A    //  'Z'
#define SIGNATURE_1     0x53    //  'S'
#define SEQUENCE_AT     (2 + 1 + 1 + ZSTATE_MSG_SESSION_SIZE)
#define NAMES_AT        (SEQUENCE_AT + 8)

struct _zstate_msg_t {
    const byte *session;        //  Session id, inside the message
    uint64_t sequence;          //  Sequence number
    const char *db;             //  db name, NUL-terminated, in the message
    const char *table;          //  table name, NUL-terminated, in the message
    size_t op_count;            //  Operations in the message
    const byte *ops;            //  Encoded operations, in the message
    size_t ops_size;            //  Their size in bytes
};


//  --------------------------------------------------------------------------
//  Create a decoder.

zstate_msg_t *
zstate_msg_new (void)
{
    zstate_msg_t *self = (zstate_msg_t *) zmalloc (sizeof (zstate_msg_t));
    assert (self);
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy a decoder; nulls the caller's pointer.

void
zstate_msg_destroy (zstate_msg_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Read a db or table name at *cursor_p: size, bytes without a NUL, NUL.

static int
s_decode_name (const byte **cursor_p, size_t *remaining_p, const char **name_p)
{
    if (*remaining_p < 4)
        return ZSTATE_WIRE_TRUNCATED;
    const byte *cursor = *cursor_p;
    size_t size = zstate_get_u32 (cursor);
    if (size == 0 || size > ZSTATE_NAME_MAX)
        return ZSTATE_WIRE_NAME;
    size_t remaining = *remaining_p - 4;
    //  The bytes and the NUL must remain (size <= ZSTATE_NAME_MAX, no wrap)
    if (size + 1 > remaining)
        return ZSTATE_WIRE_TRUNCATED;
    //  The server uses names as C strings, so a NUL inside would make two
    //  different names compare equal
    if (memchr (cursor + 4, 0, size))
        return ZSTATE_WIRE_NAME;
    if (cursor [4 + size] != 0)
        return ZSTATE_WIRE_TERMINATOR;
    *name_p = (const char *) cursor + 4;
    *cursor_p = cursor + 4 + size + 1;
    *remaining_p = remaining - size - 1;
    return 0;
}

//  Decode the envelope into self; on failure self is left cleared.
static int
s_decode_header (zstate_msg_t *self, const byte *data, size_t size)
{
    memset (self, 0, sizeof (zstate_msg_t));
    if (!data && size)
        return ZSTATE_WIRE_TRUNCATED;
    //  What the bytes hold is checked before their count, so that a frame
    //  too short for the signature is TRUNCATED only if it starts one
    if ((size > 0 && data [0] != SIGNATURE_0) || (size > 1 && data [1] != SIGNATURE_1))
        return ZSTATE_WIRE_SIGNATURE;
    if (size < 2)
        return ZSTATE_WIRE_TRUNCATED;
    if (size < 3)
        return ZSTATE_WIRE_TRUNCATED;
    if (data [2] != ZSTATE_MSG_VERSION)
        return ZSTATE_WIRE_VERSION;
    if (size < 4)
        return ZSTATE_WIRE_TRUNCATED;
    if (data [3] != ZSTATE_MSG_OPS)
        return ZSTATE_WIRE_TYPE;
    if (size > ZSTATE_MESSAGE_MAX)
        return ZSTATE_WIRE_TOO_LARGE;
    if (size < NAMES_AT)
        return ZSTATE_WIRE_TRUNCATED;

    const byte *cursor = data + NAMES_AT;
    size_t remaining = size - NAMES_AT;
    const char *db;
    const char *table;
    int rc = s_decode_name (&cursor, &remaining, &db);
    if (rc)
        return rc;
    rc = s_decode_name (&cursor, &remaining, &table);
    if (rc)
        return rc;
    if (remaining < 4)
        return ZSTATE_WIRE_TRUNCATED;
    size_t op_count = zstate_get_u32 (cursor);
    if (op_count == 0 || op_count > ZSTATE_OPS_MAX)
        return ZSTATE_WIRE_OP_COUNT;

    self->session = data + 4;
    self->sequence = zstate_get_u64 (data + SEQUENCE_AT);
    self->db = db;
    self->table = table;
    self->op_count = op_count;
    self->ops = cursor + 4;
    self->ops_size = remaining - 4;
    return ZSTATE_WIRE_OK;
}


//  --------------------------------------------------------------------------
//  Decode and fully validate a message: envelope and every operation.

int
zstate_msg_decode (zstate_msg_t *self, const void *data, size_t size)
{
    assert (self);
    int rc = s_decode_header (self, (const byte *) data, size);
    if (rc == ZSTATE_WIRE_OK)
        rc = zstate_batch_scan (self->ops, self->ops_size, self->op_count);
    if (rc)
        memset (self, 0, sizeof (zstate_msg_t));
    return rc;
}


//  --------------------------------------------------------------------------
//  Decode and validate the envelope only.

int
zstate_msg_decode_header (zstate_msg_t *self, const void *data, size_t size)
{
    assert (self);
    return s_decode_header (self, (const byte *) data, size);
}


//  --------------------------------------------------------------------------
//  Accessors for the last decoded message.

const byte *
zstate_msg_session (zstate_msg_t *self)
{
    assert (self);
    return self->session;
}

uint64_t
zstate_msg_sequence (zstate_msg_t *self)
{
    assert (self);
    return self->sequence;
}

const char *
zstate_msg_db (zstate_msg_t *self)
{
    assert (self);
    return self->db;
}

const char *
zstate_msg_table (zstate_msg_t *self)
{
    assert (self);
    return self->table;
}

size_t
zstate_msg_op_count (zstate_msg_t *self)
{
    assert (self);
    return self->op_count;
}

const byte *
zstate_msg_ops (zstate_msg_t *self, size_t *size_p)
{
    assert (self);
    if (size_p)
        *size_p = self->ops_size;
    return self->ops;
}


//  --------------------------------------------------------------------------
//  Encode one message holding all operations of batch.

zframe_t *
zstate_msg_encode (const byte *session, uint64_t sequence,
                   const char *db, const char *table, zstate_batch_t *batch)
{
    if (!session) {
        zstate_fail (EINVAL, "session is NULL");
        return NULL;
    }
    if (!zstate_msg_name_valid (db)) {
        zstate_fail (EINVAL, "db name must be 1 to %d bytes", ZSTATE_NAME_MAX);
        return NULL;
    }
    if (!zstate_msg_name_valid (table)) {
        zstate_fail (EINVAL, "table name must be 1 to %d bytes", ZSTATE_NAME_MAX);
        return NULL;
    }
    if (!batch || zstate_batch_size (batch) == 0) {
        zstate_fail (EINVAL, "batch is empty");
        return NULL;
    }
    if (zstate_batch_size (batch) > ZSTATE_OPS_MAX) {
        zstate_fail (EMSGSIZE, "batch has over %d operations", ZSTATE_OPS_MAX);
        return NULL;
    }
    size_t db_size = strlen (db);
    size_t table_size = strlen (table);
    size_t header_size = zstate_msg_header_size (db_size, table_size);
    size_t ops_size = zstate_batch_bytes (batch);
    if (ops_size > ZSTATE_MESSAGE_MAX - header_size) {
        zstate_fail (EMSGSIZE, "batch is over %d bytes", ZSTATE_MESSAGE_MAX);
        return NULL;
    }
    zframe_t *frame = zframe_new (NULL, header_size + ops_size);
    assert (frame);
    byte *dest = zframe_data (frame);
    zstate_msg_write_header (dest, session, sequence, db, db_size, table, table_size,
                             (uint32_t) zstate_batch_size (batch));
    memcpy (dest + header_size, zstate_batch_data (batch), ops_size);
    return frame;
}


//  --------------------------------------------------------------------------
//  Envelope primitives.

size_t
zstate_msg_header_size (size_t db_size, size_t table_size)
{
    return NAMES_AT + (4 + db_size + 1) + (4 + table_size + 1) + 4;
}

void
zstate_msg_write_header (byte *dest, const byte *session, uint64_t sequence,
                         const char *db, size_t db_size,
                         const char *table, size_t table_size, uint32_t op_count)
{
    assert (dest);
    assert (session);
    assert (db && db_size >= 1 && db_size <= ZSTATE_NAME_MAX);
    assert (table && table_size >= 1 && table_size <= ZSTATE_NAME_MAX);
    dest [0] = SIGNATURE_0;
    dest [1] = SIGNATURE_1;
    dest [2] = ZSTATE_MSG_VERSION;
    dest [3] = ZSTATE_MSG_OPS;
    memcpy (dest + 4, session, ZSTATE_MSG_SESSION_SIZE);
    zstate_put_u64 (dest + SEQUENCE_AT, sequence);
    byte *cursor = dest + NAMES_AT;
    zstate_put_u32 (cursor, (uint32_t) db_size);
    memcpy (cursor + 4, db, db_size);
    cursor [4 + db_size] = 0;
    cursor += 4 + db_size + 1;
    zstate_put_u32 (cursor, (uint32_t) table_size);
    memcpy (cursor + 4, table, table_size);
    cursor [4 + table_size] = 0;
    cursor += 4 + table_size + 1;
    zstate_put_u32 (cursor, op_count);
}

void
zstate_msg_patch_header (byte *dest, size_t header_size,
                         uint64_t sequence, uint32_t op_count)
{
    assert (dest);
    assert (header_size >= zstate_msg_header_size (1, 1));
    zstate_put_u64 (dest + SEQUENCE_AT, sequence);
    zstate_put_u32 (dest + header_size - 4, op_count);
}


//  --------------------------------------------------------------------------
//  Check that name is a valid db or table name: 1..ZSTATE_NAME_MAX bytes.

bool
zstate_msg_name_valid (const char *name)
{
    if (!name)
        return false;
    size_t size = strnlen (name, ZSTATE_NAME_MAX + 1);
    return size >= 1 && size <= ZSTATE_NAME_MAX;
}


//  --------------------------------------------------------------------------
//  Return a short text for a ZSTATE_WIRE_* reason.

const char *
zstate_msg_reason_str (int reason)
{
    static const char *texts [ZSTATE_WIRE_REASONS] = {
        "ok",
        "truncated",
        "bad signature",
        "unsupported version",
        "unknown message type",
        "too large",
        "bad name",
        "bad operation count",
        "unknown operation code",
        "bad key",
        "bad field",
        "missing terminator",
        "trailing bytes",
        "wrong number of frames"
    };
    if (reason < 0 || reason >= ZSTATE_WIRE_REASONS)
        return "unknown reason";
    return texts [reason];
}


//  --------------------------------------------------------------------------
//  Print the last decoded message.

void
zstate_msg_print (zstate_msg_t *self)
{
    assert (self);
    if (!self->session) {
        printf ("zstate_msg: (nothing decoded)\n");
        return;
    }
    printf ("zstate_msg: session=");
    for (size_t index = 0; index < ZSTATE_MSG_SESSION_SIZE; index++)
        printf ("%02X", self->session [index]);
    printf (" sequence=%" PRIu64 " db=%s table=%s ops=%zu bytes=%zu\n",
            self->sequence, self->db, self->table, self->op_count, self->ops_size);
    //  Printing is for debugging; a temporary batch is fine here
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_load (batch, self->ops, self->ops_size, self->op_count, NULL);
    if (rc)
        printf ("    (operations rejected: %s)\n", zstate_msg_reason_str (rc));
    else
        zstate_batch_print (batch);
    zstate_batch_destroy (&batch);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Self test of this class.

//  A small PRNG with its state in the caller, so runs are repeatable
static uint32_t
s_test_random (uint64_t *state)
{
    //  xorshift64*
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t) ((*state * 2685821657736338717ULL) >> 32);
}

//  Fill buffer with size random bytes, NULs more often than by chance
static void
s_test_bytes (uint64_t *state, byte *buffer, size_t size)
{
    for (size_t index = 0; index < size; index++) {
        uint32_t value = s_test_random (state);
        buffer [index] = value % 8 == 0? 0: (byte) (value >> 8);
    }
}

//  Build a random valid batch: random op codes, binary keys, names and
//  values with NULs, empty values, SETs without fields, many fields
static void
s_test_batch (uint64_t *state, zstate_batch_t *batch, size_t ops)
{
    byte key [64];
    byte name [32];
    byte value [300];
    for (size_t index = 0; index < ops; index++) {
        int op = 1 + (int) (s_test_random (state) % 3);
        size_t key_size = 1 + s_test_random (state) % sizeof (key);
        s_test_bytes (state, key, key_size);
        int rc = zstate_batch_append (batch, op, key, key_size);
        assert (rc == 0);
        if (op == ZSTATE_OP_DEL)
            continue;
        uint32_t shape = s_test_random (state) % 10;
        //  20% without fields, 70% a few, 10% many
        size_t fields = shape < 2? 0:
                        shape < 9? s_test_random (state) % 8:
                                   100 + s_test_random (state) % 200;
        for (size_t field = 0; field < fields; field++) {
            size_t name_size = s_test_random (state) % sizeof (name);
            size_t value_size = s_test_random (state) % 4 == 0?
                0: s_test_random (state) % sizeof (value);
            s_test_bytes (state, name, name_size);
            s_test_bytes (state, value, value_size);
            rc = zstate_batch_field (batch, name, name_size, value, value_size);
            assert (rc == 0);
        }
    }
}

//  Decode a copy of size bytes of data in a buffer of exactly that size,
//  so that a read past the end shows under valgrind or ASan
static int
s_test_decode_copy (zstate_msg_t *msg, const byte *data, size_t size)
{
    byte *copy = (byte *) malloc (size? size: 1);
    assert (copy);
    memcpy (copy, data, size);
    int rc = zstate_msg_decode (msg, copy, size);
    if (rc == ZSTATE_WIRE_OK) {
        //  What decodes must also load, and encode back to the same bytes
        zstate_batch_t *batch = zstate_batch_new ();
        size_t ops_size;
        const byte *ops = zstate_msg_ops (msg, &ops_size);
        size_t used;
        assert (zstate_batch_load (batch, ops, ops_size, zstate_msg_op_count (msg), &used) == 0);
        assert (used == ops_size);
        zframe_t *frame = zstate_msg_encode (zstate_msg_session (msg), zstate_msg_sequence (msg),
                                             zstate_msg_db (msg), zstate_msg_table (msg), batch);
        assert (frame);
        assert (zframe_size (frame) == size);
        assert (memcmp (zframe_data (frame), copy, size) == 0);
        zframe_destroy (&frame);
        zstate_batch_destroy (&batch);
    }
    int header_rc = zstate_msg_decode_header (msg, copy, size);
    //  The envelope alone can only be less strict than the whole message
    if (rc == ZSTATE_WIRE_OK)
        assert (header_rc == ZSTATE_WIRE_OK);
    assert (header_rc >= 0 && header_rc < ZSTATE_WIRE_REASONS);
    free (copy);
    return rc;
}

//  Build a message by hand: header with the given db, table and op count,
//  then size bytes of ops. Returns its total size in *size_p; caller frees.
static byte *
s_test_message (const char *db, size_t db_size, const char *table, size_t table_size,
                uint32_t op_count, const byte *ops, size_t ops_size, size_t *size_p)
{
    size_t header_size = NAMES_AT + 4 + db_size + 1 + 4 + table_size + 1 + 4;
    byte *data = (byte *) zmalloc (header_size + ops_size);
    assert (data);
    data [0] = 'Z';
    data [1] = 'S';
    data [2] = 1;
    data [3] = 1;
    memset (data + 4, 0xAB, ZSTATE_MSG_SESSION_SIZE);
    zstate_put_u64 (data + SEQUENCE_AT, 1);
    byte *cursor = data + NAMES_AT;
    zstate_put_u32 (cursor, (uint32_t) db_size);
    memcpy (cursor + 4, db, db_size);
    cursor += 4 + db_size + 1;
    zstate_put_u32 (cursor, (uint32_t) table_size);
    memcpy (cursor + 4, table, table_size);
    cursor += 4 + table_size + 1;
    zstate_put_u32 (cursor, op_count);
    if (ops_size)
        memcpy (cursor + 4, ops, ops_size);
    *size_p = header_size + ops_size;
    return data;
}

void
zstate_msg_test (bool verbose)
{
    printf (" * zstate_msg: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    byte session [ZSTATE_MSG_SESSION_SIZE];
    for (size_t index = 0; index < sizeof (session); index++)
        session [index] = (byte) (index * 17 + 1);

    //  Header layout
    assert (zstate_msg_header_size (2, 5)
            == 2 + 1 + 1 + 16 + 8 + (4 + 2 + 1) + (4 + 5 + 1) + 4);
    assert (zstate_msg_header_size (ZSTATE_NAME_MAX, ZSTATE_NAME_MAX) == 552);
    assert (zstate_msg_name_valid ("db"));
    assert (!zstate_msg_name_valid (NULL));
    assert (!zstate_msg_name_valid (""));
    char long_name [ZSTATE_NAME_MAX + 2];
    memset (long_name, 'n', sizeof (long_name) - 1);
    long_name [ZSTATE_NAME_MAX + 1] = 0;
    assert (!zstate_msg_name_valid (long_name));
    long_name [ZSTATE_NAME_MAX] = 0;
    assert (zstate_msg_name_valid (long_name));

    //  Reason texts: one per code, all different
    for (int reason = 0; reason < ZSTATE_WIRE_REASONS; reason++) {
        assert (*zstate_msg_reason_str (reason));
        for (int other = 0; other < reason; other++)
            assert (!streq (zstate_msg_reason_str (reason), zstate_msg_reason_str (other)));
    }
    assert (streq (zstate_msg_reason_str (ZSTATE_WIRE_TRUNCATED), "truncated"));
    assert (streq (zstate_msg_reason_str (ZSTATE_WIRE_SIGNATURE), "bad signature"));
    assert (streq (zstate_msg_reason_str (-1), "unknown reason"));
    assert (streq (zstate_msg_reason_str (ZSTATE_WIRE_REASONS), "unknown reason"));

    //  A small message, byte-exact
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "k", "n", "v", NULL) == 0);
    zframe_t *frame = zstate_msg_encode (session, 7, "db", "tab", batch);
    assert (frame);
    const byte expected_header [] = {
        'Z', 'S', 1, 1,
        1, 18, 35, 52, 69, 86, 103, 120, 137, 154, 171, 188, 205, 222, 239, 0,
        0, 0, 0, 0, 0, 0, 0, 7,
        0, 0, 0, 2, 'd', 'b', 0,
        0, 0, 0, 3, 't', 'a', 'b', 0,
        0, 0, 0, 1
    };
    size_t header_size = zstate_msg_header_size (2, 3);
    assert (sizeof (expected_header) == header_size);
    assert (zframe_size (frame) == header_size + zstate_batch_bytes (batch));
    assert (memcmp (zframe_data (frame), expected_header, header_size) == 0);
    assert (memcmp (zframe_data (frame) + header_size, zstate_batch_data (batch),
                    zstate_batch_bytes (batch)) == 0);

    zstate_msg_t *msg = zstate_msg_new ();
    assert (msg);
    assert (zstate_msg_session (msg) == NULL);
    assert (zstate_msg_decode (msg, zframe_data (frame), zframe_size (frame)) == 0);
    assert (memcmp (zstate_msg_session (msg), session, sizeof (session)) == 0);
    assert (zstate_msg_sequence (msg) == 7);
    assert (streq (zstate_msg_db (msg), "db"));
    assert (streq (zstate_msg_table (msg), "tab"));
    assert (zstate_msg_op_count (msg) == 1);
    size_t ops_size;
    assert (zstate_msg_ops (msg, &ops_size) == zframe_data (frame) + header_size);
    assert (ops_size == zstate_batch_bytes (batch));
    if (verbose)
        zstate_msg_print (msg);

    //  Patching: the sequence is at offset 20, the count ends the header
    zstate_msg_patch_header (zframe_data (frame), header_size, 0x0102030405060708ULL, 1);
    assert (zframe_data (frame) [20] == 1 && zframe_data (frame) [27] == 8);
    assert (zstate_msg_decode_header (msg, zframe_data (frame), zframe_size (frame)) == 0);
    assert (zstate_msg_sequence (msg) == 0x0102030405060708ULL);
    zstate_msg_patch_header (zframe_data (frame), header_size, 7, 2);
    assert (zstate_msg_decode_header (msg, zframe_data (frame), zframe_size (frame)) == 0);
    assert (zstate_msg_op_count (msg) == 2);
    assert (zstate_msg_decode (msg, zframe_data (frame), zframe_size (frame))
            == ZSTATE_WIRE_OP_COUNT);
    //  A failed decode leaves nothing behind
    assert (zstate_msg_session (msg) == NULL);
    assert (zstate_msg_op_count (msg) == 0);
    zstate_msg_patch_header (zframe_data (frame), header_size, 7, 1);
    assert (zstate_msg_decode (msg, zframe_data (frame), zframe_size (frame)) == 0);

    //  write_header gives what encode gives
    byte header [600];
    zstate_msg_write_header (header, session, 7, "db", 2, "tab", 3, 1);
    assert (memcmp (header, expected_header, header_size) == 0);
    zframe_destroy (&frame);

    //  Encode refuses bad arguments
    errno = 0;
    assert (zstate_msg_encode (session, 1, "", "t", batch) == NULL && errno == EINVAL);
    errno = 0;
    assert (zstate_msg_encode (session, 1, NULL, "t", batch) == NULL && errno == EINVAL);
    frame = zstate_msg_encode (session, 1, "d", long_name, batch);
    assert (frame);
    assert (zframe_size (frame) == zstate_msg_header_size (1, ZSTATE_NAME_MAX)
                                 + zstate_batch_bytes (batch));
    zframe_destroy (&frame);
    errno = 0;
    long_name [ZSTATE_NAME_MAX] = 'n';
    assert (zstate_msg_encode (session, 1, "d", long_name, batch) == NULL && errno == EINVAL);
    long_name [ZSTATE_NAME_MAX] = 0;
    errno = 0;
    assert (zstate_msg_encode (NULL, 1, "d", "t", batch) == NULL && errno == EINVAL);
    errno = 0;
    assert (zstate_msg_encode (session, 1, "d", "t", NULL) == NULL && errno == EINVAL);
    zstate_batch_t *empty = zstate_batch_new ();
    errno = 0;
    assert (zstate_msg_encode (session, 1, "d", "t", empty) == NULL && errno == EINVAL);
    assert (streq (zstate_reason (), "batch is empty"));
    zstate_batch_destroy (&empty);

    //  Encode refuses what does not fit in one message; each operation
    //  fits alone, two do not
    zstate_batch_t *large = zstate_batch_new ();
    size_t half = ZSTATE_MESSAGE_MAX / 2;
    byte *big = (byte *) zmalloc (half);
    assert (big);
    assert (zstate_batch_append (large, ZSTATE_OP_SET, "a", 1) == 0);
    assert (zstate_batch_field (large, "v", 1, big, half) == 0);
    assert (zstate_batch_append (large, ZSTATE_OP_SET, "b", 1) == 0);
    assert (zstate_batch_field (large, "v", 1, big, half) == 0);
    free (big);
    errno = 0;
    assert (zstate_msg_encode (session, 1, "d", "t", large) == NULL && errno == EMSGSIZE);
    zstate_batch_destroy (&large);

    //  ... and more than ZSTATE_OPS_MAX operations
    large = zstate_batch_new ();
    byte one_op [] = { ZSTATE_OP_DEL, 0, 0, 0, 1, 'k', 0, 0, 0, 0, 0 };
    size_t op_size = sizeof (one_op);
    byte *many = (byte *) malloc ((ZSTATE_OPS_MAX + 1) * op_size);
    assert (many);
    for (size_t index = 0; index <= ZSTATE_OPS_MAX; index++)
        memcpy (many + index * op_size, one_op, op_size);
    assert (zstate_batch_load (large, many, (ZSTATE_OPS_MAX + 1) * op_size,
                               ZSTATE_OPS_MAX + 1, NULL) == 0);
    errno = 0;
    assert (zstate_msg_encode (session, 1, "d", "t", large) == NULL && errno == EMSGSIZE);
    //  The largest count is fine, on both sides
    zstate_batch_reset (large);
    assert (zstate_batch_load (large, many, ZSTATE_OPS_MAX * op_size,
                               ZSTATE_OPS_MAX, NULL) == 0);
    frame = zstate_msg_encode (session, 1, "d", "t", large);
    assert (frame);
    assert (zstate_msg_decode (msg, zframe_data (frame), zframe_size (frame)) == 0);
    assert (zstate_msg_op_count (msg) == ZSTATE_OPS_MAX);
    zframe_destroy (&frame);
    free (many);
    zstate_batch_destroy (&large);

    //  Random valid batches round-trip: encode, decode, load, compare
    uint64_t state = 0x5EED2024ULL;
    zstate_batch_t *loaded = zstate_batch_new ();
    char db [ZSTATE_NAME_MAX + 1];
    char table [ZSTATE_NAME_MAX + 1];
    for (int round = 0; round < 200; round++) {
        zstate_batch_reset (batch);
        s_test_batch (&state, batch, 1 + s_test_random (&state) % 20);
        //  Names: printable, 1..ZSTATE_NAME_MAX bytes
        size_t db_size = 1 + s_test_random (&state) % ZSTATE_NAME_MAX;
        size_t table_size = 1 + s_test_random (&state) % 8;
        for (size_t index = 0; index < db_size; index++)
            db [index] = (char) ('a' + s_test_random (&state) % 26);
        db [db_size] = 0;
        for (size_t index = 0; index < table_size; index++)
            table [index] = (char) ('A' + s_test_random (&state) % 26);
        table [table_size] = 0;
        byte round_session [ZSTATE_MSG_SESSION_SIZE];
        s_test_bytes (&state, round_session, sizeof (round_session));
        uint64_t sequence = ((uint64_t) s_test_random (&state) << 32) | s_test_random (&state);

        frame = zstate_msg_encode (round_session, sequence, db, table, batch);
        assert (frame);
        assert (zframe_size (frame) == zstate_msg_header_size (db_size, table_size)
                                     + zstate_batch_bytes (batch));
        assert (zstate_msg_decode (msg, zframe_data (frame), zframe_size (frame)) == 0);
        assert (memcmp (zstate_msg_session (msg), round_session, sizeof (round_session)) == 0);
        assert (zstate_msg_sequence (msg) == sequence);
        assert (streq (zstate_msg_db (msg), db));
        assert (streq (zstate_msg_table (msg), table));
        assert (zstate_msg_op_count (msg) == zstate_batch_size (batch));

        zstate_batch_reset (loaded);
        const byte *ops = zstate_msg_ops (msg, &ops_size);
        size_t used;
        assert (zstate_batch_load (loaded, ops, ops_size, zstate_msg_op_count (msg), &used) == 0);
        assert (used == ops_size);
        assert (zstate_batch_eq (loaded, batch));
        //  Field by field too, not only the bytes
        size_t index = s_test_random (&state) % zstate_batch_size (batch);
        assert (zstate_batch_op (loaded, index) == zstate_batch_op (batch, index));
        size_t fields = zstate_batch_field_count (batch, index);
        assert (zstate_batch_field_count (loaded, index) == fields);
        for (size_t field = 0; field < fields; field++) {
            size_t size_a, size_b;
            const char *value_a = zstate_batch_value (loaded, index, field, &size_a);
            const char *value_b = zstate_batch_value (batch, index, field, &size_b);
            assert (size_a == size_b && memcmp (value_a, value_b, size_a + 1) == 0);
        }
        zframe_destroy (&frame);
    }

    //  Every truncation of a few valid messages is rejected
    for (int round = 0; round < 4; round++) {
        zstate_batch_reset (batch);
        s_test_batch (&state, batch, 3);
        if (round == 0) {
            zstate_batch_reset (batch);
            assert (zstate_batch_set (batch, "only", NULL) == 0);
        }
        frame = zstate_msg_encode (session, 1, "db", "table", batch);
        assert (frame);
        const byte *data = zframe_data (frame);
        size_t size = zframe_size (frame);
        assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_OK);
        for (size_t cut = 0; cut < size; cut++) {
            int rc = s_test_decode_copy (msg, data, cut);
            assert (rc == ZSTATE_WIRE_TRUNCATED || rc == ZSTATE_WIRE_OP_COUNT);
        }
        //  One byte more is trailing
        byte *longer = (byte *) zmalloc (size + 1);
        assert (longer);
        memcpy (longer, data, size);
        assert (zstate_msg_decode (msg, longer, size + 1) == ZSTATE_WIRE_TRAILING);
        assert (zstate_msg_decode_header (msg, longer, size + 1) == ZSTATE_WIRE_OK);
        free (longer);
        zframe_destroy (&frame);
    }

    //  Single bit flips at every bit of a small message: each decodes to a
    //  valid message (which then round-trips) or is rejected cleanly
    zstate_batch_reset (batch);
    assert (zstate_batch_set (batch, "user:1", "name", "Ada", "", "", NULL) == 0);
    assert (zstate_batch_hset (batch, "user:1", "lang", "C", NULL) == 0);
    assert (zstate_batch_del (batch, "user:2") == 0);
    assert (zstate_batch_set (batch, "z", NULL) == 0);
    assert (zstate_batch_append (batch, ZSTATE_OP_HSET, "b\0n", 3) == 0);
    assert (zstate_batch_field (batch, "f\0", 2, "\0\0v", 3) == 0);
    frame = zstate_msg_encode (session, 42, "db", "table", batch);
    assert (frame);
    size_t size = zframe_size (frame);
    assert (size > 150 && size < 250);
    byte *flipped = (byte *) malloc (size);
    assert (flipped);
    size_t accepted = 0;
    size_t by_reason [ZSTATE_WIRE_REASONS] = { 0 };
    for (size_t bit = 0; bit < size * 8; bit++) {
        memcpy (flipped, zframe_data (frame), size);
        flipped [bit / 8] ^= (byte) (1 << (bit % 8));
        int rc = s_test_decode_copy (msg, flipped, size);
        assert (rc >= 0 && rc < ZSTATE_WIRE_REASONS);
        assert (rc != ZSTATE_WIRE_FRAMES);
        by_reason [rc]++;
        if (rc == ZSTATE_WIRE_OK)
            accepted++;
        //  Where the bit falls decides the outcome for the fixed fields
        size_t at = bit / 8;
        if (at < 2)
            assert (rc == ZSTATE_WIRE_SIGNATURE);
        else
        if (at == 2)
            assert (rc == ZSTATE_WIRE_VERSION);
        else
        if (at == 3)
            assert (rc == ZSTATE_WIRE_TYPE);
        else
        if (at < NAMES_AT)
            assert (rc == ZSTATE_WIRE_OK);
    }
    //  Session, sequence and the bytes of names, keys and values change
    //  content without breaking the form; most other bits break it
    assert (accepted > (16 + 8) * 8);
    assert (by_reason [ZSTATE_WIRE_OK] == accepted);
    assert (by_reason [ZSTATE_WIRE_NAME] > 0);
    assert (by_reason [ZSTATE_WIRE_OP_CODE] > 0);
    assert (by_reason [ZSTATE_WIRE_TERMINATOR] > 0);
    assert (by_reason [ZSTATE_WIRE_TRUNCATED] > 0);
    assert (by_reason [ZSTATE_WIRE_FIELD] > 0);
    assert (by_reason [ZSTATE_WIRE_KEY] > 0);
    if (verbose)
        for (int reason = 0; reason < ZSTATE_WIRE_REASONS; reason++)
            printf ("    bit flips, %s: %zu\n",
                    zstate_msg_reason_str (reason), by_reason [reason]);
    free (flipped);
    zframe_destroy (&frame);

    //  Hostile lengths and contents give the expected reasons
    byte ops [64];
    size_t ops_bytes;
    byte *data;
    //  One operation SET "k" with one field "n"="v" (21 + 4 bytes)
    #define TEST_OPS() \
        memset (ops, 0, sizeof (ops)); \
        ops [0] = ZSTATE_OP_SET; zstate_put_u32 (ops + 1, 1); ops [5] = 'k'; \
        zstate_put_u32 (ops + 7, 1); \
        zstate_put_u32 (ops + 11, 1); ops [15] = 'n'; \
        zstate_put_u32 (ops + 17, 1); ops [21] = 'v'; \
        ops_bytes = 23
    #define TEST_CHECK(op_count, reason) \
        data = s_test_message ("db", 2, "t", 1, (op_count), ops, ops_bytes, &size); \
        assert (s_test_decode_copy (msg, data, size) == (reason)); \
        free (data)

    TEST_OPS ();
    TEST_CHECK (1, ZSTATE_WIRE_OK);
    TEST_CHECK (0, ZSTATE_WIRE_OP_COUNT);
    TEST_CHECK (2, ZSTATE_WIRE_OP_COUNT);
    TEST_CHECK (0xFFFFFFFF, ZSTATE_WIRE_OP_COUNT);
    TEST_CHECK (ZSTATE_OPS_MAX + 1, ZSTATE_WIRE_OP_COUNT);
    TEST_CHECK (ZSTATE_OPS_MAX, ZSTATE_WIRE_OP_COUNT);
    zstate_put_u32 (ops + 1, 0xFFFFFFFF);       //  key size
    TEST_CHECK (1, ZSTATE_WIRE_KEY);
    zstate_put_u32 (ops + 1, 0);
    TEST_CHECK (1, ZSTATE_WIRE_KEY);
    zstate_put_u32 (ops + 1, 1);
    ops [6] = 'x';                              //  no NUL after the key
    TEST_CHECK (1, ZSTATE_WIRE_TERMINATOR);
    TEST_OPS ();
    zstate_put_u32 (ops + 7, 0xFFFFFFFF);       //  field count
    TEST_CHECK (1, ZSTATE_WIRE_FIELD);
    zstate_put_u32 (ops + 7, ZSTATE_FIELDS_MAX);
    TEST_CHECK (1, ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (ops + 7, 0);
    TEST_CHECK (1, ZSTATE_WIRE_TRAILING);
    TEST_OPS ();
    ops [0] = ZSTATE_OP_DEL;
    TEST_CHECK (1, ZSTATE_WIRE_FIELD);
    ops [0] = 0;
    TEST_CHECK (1, ZSTATE_WIRE_OP_CODE);
    ops [0] = 0xFF;
    TEST_CHECK (1, ZSTATE_WIRE_OP_CODE);
    TEST_OPS ();
    zstate_put_u32 (ops + 11, 0xFFFFFFFF);      //  name size
    TEST_CHECK (1, ZSTATE_WIRE_FIELD);
    zstate_put_u32 (ops + 11, ZSTATE_FIELD_MAX + 1);
    TEST_CHECK (1, ZSTATE_WIRE_FIELD);
    zstate_put_u32 (ops + 11, ZSTATE_FIELD_MAX);
    TEST_CHECK (1, ZSTATE_WIRE_TRUNCATED);
    TEST_OPS ();
    zstate_put_u32 (ops + 17, 0xFFFFFFFF);      //  value size
    TEST_CHECK (1, ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (ops + 17, 0xFFFFFFFE);
    TEST_CHECK (1, ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (ops + 17, 2);               //  swallows its NUL
    TEST_CHECK (1, ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (ops + 17, 0);               //  'v' where the NUL goes
    ops_bytes = 22;
    TEST_CHECK (1, ZSTATE_WIRE_TERMINATOR);

    //  Bad names in the envelope
    TEST_OPS ();
    data = s_test_message ("d\0b", 3, "t", 1, 1, ops, ops_bytes, &size);
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_NAME);
    free (data);
    data = s_test_message ("", 0, "t", 1, 1, ops, ops_bytes, &size);
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_NAME);
    free (data);
    data = s_test_message ("db", 2, long_name, ZSTATE_NAME_MAX, 1, ops, ops_bytes, &size);
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_OK);
    free (data);
    long_name [ZSTATE_NAME_MAX] = 'n';
    data = s_test_message ("db", 2, long_name, ZSTATE_NAME_MAX + 1, 1, ops, ops_bytes, &size);
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_NAME);
    free (data);
    data = s_test_message ("db", 2, "t", 1, 1, ops, ops_bytes, &size);
    zstate_put_u32 (data + NAMES_AT, 0xFFFFFFFF);
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_NAME);
    zstate_put_u32 (data + NAMES_AT, 3);        //  takes in its NUL
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_NAME);
    zstate_put_u32 (data + NAMES_AT, 2);
    data [NAMES_AT + 4 + 2] = 'x';              //  no NUL after the name
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_TERMINATOR);
    data [NAMES_AT + 4 + 2] = 0;
    data [1] = 'Q';
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_SIGNATURE);
    data [1] = 'S';
    data [2] = 2;
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_VERSION);
    data [2] = 1;
    data [3] = 2;
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_TYPE);
    data [3] = 1;
    assert (s_test_decode_copy (msg, data, size) == ZSTATE_WIRE_OK);
    free (data);
    #undef TEST_OPS
    #undef TEST_CHECK

    //  Not even a header: a start of a signature is truncated, anything
    //  else is not a zstate message (doc/protocol.md section 7)
    assert (zstate_msg_decode (msg, NULL, 0) == ZSTATE_WIRE_TRUNCATED);
    assert (zstate_msg_decode (msg, "", 0) == ZSTATE_WIRE_TRUNCATED);
    assert (zstate_msg_decode (msg, "Z", 1) == ZSTATE_WIRE_TRUNCATED);
    assert (zstate_msg_decode (msg, "ZS", 2) == ZSTATE_WIRE_TRUNCATED);
    assert (zstate_msg_decode (msg, "G", 1) == ZSTATE_WIRE_SIGNATURE);
    assert (zstate_msg_decode (msg, "\0", 1) == ZSTATE_WIRE_SIGNATURE);
    assert (zstate_msg_decode (msg, "ZQ", 2) == ZSTATE_WIRE_SIGNATURE);
    assert (zstate_msg_decode_header (msg, "G", 1) == ZSTATE_WIRE_SIGNATURE);
    assert (zstate_msg_decode_header (msg, "Z", 1) == ZSTATE_WIRE_TRUNCATED);
    assert (zstate_msg_decode (msg, "GET / HTTP/1.0\r\n\r\n", 18) == ZSTATE_WIRE_SIGNATURE);

    //  Over the size limit, whatever follows the fixed part
    size = (size_t) ZSTATE_MESSAGE_MAX + 1;
    data = (byte *) malloc (size);
    assert (data);
    memcpy (data, "ZS\x01\x01", 4);
    assert (zstate_msg_decode (msg, data, size) == ZSTATE_WIRE_TOO_LARGE);
    assert (zstate_msg_decode_header (msg, data, size) == ZSTATE_WIRE_TOO_LARGE);
    free (data);

    zstate_batch_destroy (&loaded);
    zstate_batch_destroy (&batch);
    zstate_msg_destroy (&msg);
    assert (msg == NULL);
    zstate_msg_destroy (&msg);
    //  @end

    printf ("OK\n");
}
#endif
