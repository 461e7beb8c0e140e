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
//  The selftest is built into the selftest program only, not the library;
//  random and hostile input are tested in selftest/zstate_msg_suite.c
//  --------------------------------------------------------------------------
//  Self test of this class.

//  Header layout, name rules and reason texts
static void
s_test_layout (void)
{
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
}

//  A small message, byte-exact; patching and write_header agree with it
static void
s_test_small_message (const byte *session, bool verbose)
{
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
    assert (memcmp (zstate_msg_session (msg), session, ZSTATE_MSG_SESSION_SIZE) == 0);
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
    zstate_msg_destroy (&msg);
    zstate_batch_destroy (&batch);
}

//  Encode refuses bad arguments
static void
s_test_encode_refuses (const byte *session)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "k", "n", "v", NULL) == 0);
    char long_name [ZSTATE_NAME_MAX + 2];
    memset (long_name, 'n', sizeof (long_name) - 1);
    long_name [ZSTATE_NAME_MAX + 1] = 0;
    long_name [ZSTATE_NAME_MAX] = 0;
    errno = 0;
    assert (zstate_msg_encode (session, 1, "", "t", batch) == NULL && errno == EINVAL);
    errno = 0;
    assert (zstate_msg_encode (session, 1, NULL, "t", batch) == NULL && errno == EINVAL);
    zframe_t *frame = zstate_msg_encode (session, 1, "d", long_name, batch);
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
    zstate_batch_destroy (&batch);
}

void
zstate_msg_test (bool verbose)
{
    printf (" * zstate_msg: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A sender encodes a batch of one table's changes into one frame
    byte session [ZSTATE_MSG_SESSION_SIZE];
    for (size_t index = 0; index < sizeof (session); index++)
        session [index] = (byte) (index * 17 + 1);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    int rc = zstate_batch_set (batch, "user:1", "name", "Ada", NULL);
    assert (rc == 0);
    rc = zstate_batch_del (batch, "user:2");
    assert (rc == 0);
    zframe_t *frame = zstate_msg_encode (session, 1, "db", "users", batch);
    assert (frame);

    //  A receiver checks it with one reusable decoder, which points into
    //  the frame and allocates nothing
    zstate_msg_t *msg = zstate_msg_new ();
    assert (msg);
    rc = zstate_msg_decode (msg, zframe_data (frame), zframe_size (frame));
    assert (rc == ZSTATE_WIRE_OK);
    assert (zstate_msg_sequence (msg) == 1);
    assert (streq (zstate_msg_db (msg), "db"));
    assert (streq (zstate_msg_table (msg), "users"));
    assert (zstate_msg_op_count (msg) == 2);
    size_t ops_size;
    assert (zstate_msg_ops (msg, &ops_size) && ops_size == zstate_batch_bytes (batch));
    if (verbose)
        zstate_msg_print (msg);

    //  What is not a whole message is refused, with a reason
    rc = zstate_msg_decode (msg, zframe_data (frame), zframe_size (frame) - 1);
    assert (rc == ZSTATE_WIRE_TRUNCATED);
    assert (streq (zstate_msg_reason_str (rc), "truncated"));
    zframe_destroy (&frame);
    zstate_batch_destroy (&batch);
    zstate_msg_destroy (&msg);
    assert (msg == NULL);
    zstate_msg_destroy (&msg);
    //  @end

    s_test_layout ();
    s_test_small_message (session, verbose);
    s_test_encode_refuses (session);
    printf ("OK\n");
}
#endif
