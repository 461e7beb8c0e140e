/*  =========================================================================
    zstate_msg_suite - the wire codec against random and hostile input

    Encode refuses what does not fit in one message; random valid batches
    round-trip through encode, decode and load; every truncation of a valid
    message is refused; every single-bit flip of one decodes to a message
    that encodes back to the same bytes, or is refused; hostile lengths,
    names and contents get the expected reason. Each decode reads a heap
    copy of exactly the bytes under test, so that valgrind and ASan see
    any overread.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

//  Where the db name starts: after signature, version, type, session and
//  sequence (doc/protocol.md)
#define SEQUENCE_AT     (2 + 1 + 1 + ZSTATE_MSG_SESSION_SIZE)
#define NAMES_AT        (SEQUENCE_AT + 8)

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

//  One operation SET "k" with one field "n"="v" (21 + 4 bytes) into ops,
//  64 bytes; returns its size
static size_t
s_test_ops (byte *ops)
{
    memset (ops, 0, 64);
    ops [0] = ZSTATE_OP_SET;
    zstate_put_u32 (ops + 1, 1);
    ops [5] = 'k';
    zstate_put_u32 (ops + 7, 1);
    zstate_put_u32 (ops + 11, 1);
    ops [15] = 'n';
    zstate_put_u32 (ops + 17, 1);
    ops [21] = 'v';
    return 23;
}

//  Decode a message to db "db", table "t" with op_count and these ops
static int
s_test_check (zstate_msg_t *msg, const byte *ops, size_t ops_bytes, uint32_t op_count)
{
    size_t size;
    byte *data = s_test_message ("db", 2, "t", 1, op_count, ops, ops_bytes, &size);
    int rc = s_test_decode_copy (msg, data, size);
    free (data);
    return rc;
}

//  Encode refuses what does not fit in one message: too many bytes, too
//  many operations; the largest count is fine, on both sides
static void
s_test_too_large (const byte *session, zstate_msg_t *msg)
{
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
    zframe_t *frame = zstate_msg_encode (session, 1, "d", "t", large);
    assert (frame);
    assert (zstate_msg_decode (msg, zframe_data (frame), zframe_size (frame)) == 0);
    assert (zstate_msg_op_count (msg) == ZSTATE_OPS_MAX);
    zframe_destroy (&frame);
    free (many);
    zstate_batch_destroy (&large);
}

//  Random valid batches round-trip: encode, decode, load, compare
static void
s_test_round_trips (uint64_t *state, zstate_msg_t *msg)
{
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_t *loaded = zstate_batch_new ();
    char db [ZSTATE_NAME_MAX + 1];
    char table [ZSTATE_NAME_MAX + 1];
    for (int round = 0; round < 200; round++) {
        zstate_batch_reset (batch);
        s_test_batch (state, batch, 1 + s_test_random (state) % 20);
        //  Names: printable, 1..ZSTATE_NAME_MAX bytes
        size_t db_size = 1 + s_test_random (state) % ZSTATE_NAME_MAX;
        size_t table_size = 1 + s_test_random (state) % 8;
        for (size_t index = 0; index < db_size; index++)
            db [index] = (char) ('a' + s_test_random (state) % 26);
        db [db_size] = 0;
        for (size_t index = 0; index < table_size; index++)
            table [index] = (char) ('A' + s_test_random (state) % 26);
        table [table_size] = 0;
        byte round_session [ZSTATE_MSG_SESSION_SIZE];
        s_test_bytes (state, round_session, sizeof (round_session));
        uint64_t sequence = ((uint64_t) s_test_random (state) << 32) | s_test_random (state);

        zframe_t *frame = zstate_msg_encode (round_session, sequence, db, table, batch);
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
        size_t ops_size;
        const byte *ops = zstate_msg_ops (msg, &ops_size);
        size_t used;
        assert (zstate_batch_load (loaded, ops, ops_size, zstate_msg_op_count (msg), &used) == 0);
        assert (used == ops_size);
        assert (zstate_batch_eq (loaded, batch));
        //  Field by field too, not only the bytes
        size_t index = s_test_random (state) % zstate_batch_size (batch);
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
    zstate_batch_destroy (&loaded);
    zstate_batch_destroy (&batch);
}

//  Every truncation of a few valid messages is rejected; one byte more
//  is trailing
static void
s_test_truncations (uint64_t *state, const byte *session, zstate_msg_t *msg)
{
    zstate_batch_t *batch = zstate_batch_new ();
    for (int round = 0; round < 4; round++) {
        zstate_batch_reset (batch);
        s_test_batch (state, batch, 3);
        if (round == 0) {
            zstate_batch_reset (batch);
            assert (zstate_batch_set (batch, "only", NULL) == 0);
        }
        zframe_t *frame = zstate_msg_encode (session, 1, "db", "table", batch);
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
    zstate_batch_destroy (&batch);
}

//  Single bit flips at every bit of a small message: each decodes to a
//  valid message (which then round-trips) or is rejected cleanly
static void
s_test_bit_flips (const byte *session, zstate_msg_t *msg, bool verbose)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "user:1", "name", "Ada", "", "", NULL) == 0);
    assert (zstate_batch_hset (batch, "user:1", "lang", "C", NULL) == 0);
    assert (zstate_batch_del (batch, "user:2") == 0);
    assert (zstate_batch_set (batch, "z", NULL) == 0);
    assert (zstate_batch_append (batch, ZSTATE_OP_HSET, "b\0n", 3) == 0);
    assert (zstate_batch_field (batch, "f\0", 2, "\0\0v", 3) == 0);
    zframe_t *frame = zstate_msg_encode (session, 42, "db", "table", batch);
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
    zstate_batch_destroy (&batch);
}

//  Hostile lengths and contents of an operation give the expected reasons
static void
s_test_hostile_ops (zstate_msg_t *msg)
{
    byte ops [64];
    size_t ops_bytes;
    ops_bytes = s_test_ops (ops);
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_OK);
    assert (s_test_check (msg, ops, ops_bytes, 0) == ZSTATE_WIRE_OP_COUNT);
    assert (s_test_check (msg, ops, ops_bytes, 2) == ZSTATE_WIRE_OP_COUNT);
    assert (s_test_check (msg, ops, ops_bytes, 0xFFFFFFFF) == ZSTATE_WIRE_OP_COUNT);
    assert (s_test_check (msg, ops, ops_bytes, ZSTATE_OPS_MAX + 1) == ZSTATE_WIRE_OP_COUNT);
    assert (s_test_check (msg, ops, ops_bytes, ZSTATE_OPS_MAX) == ZSTATE_WIRE_OP_COUNT);
    zstate_put_u32 (ops + 1, 0xFFFFFFFF);       //  key size
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_KEY);
    zstate_put_u32 (ops + 1, 0);
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_KEY);
    zstate_put_u32 (ops + 1, 1);
    ops [6] = 'x';                              //  no NUL after the key
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_TERMINATOR);
    ops_bytes = s_test_ops (ops);
    zstate_put_u32 (ops + 7, 0xFFFFFFFF);       //  field count
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_FIELD);
    zstate_put_u32 (ops + 7, ZSTATE_FIELDS_MAX);
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (ops + 7, 0);
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_TRAILING);
    ops_bytes = s_test_ops (ops);
    ops [0] = ZSTATE_OP_DEL;
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_FIELD);
    ops [0] = 0;
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_OP_CODE);
    ops [0] = 0xFF;
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_OP_CODE);
    ops_bytes = s_test_ops (ops);
    zstate_put_u32 (ops + 11, 0xFFFFFFFF);      //  name size
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_FIELD);
    zstate_put_u32 (ops + 11, ZSTATE_FIELD_MAX + 1);
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_FIELD);
    zstate_put_u32 (ops + 11, ZSTATE_FIELD_MAX);
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_TRUNCATED);
    ops_bytes = s_test_ops (ops);
    zstate_put_u32 (ops + 17, 0xFFFFFFFF);      //  value size
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (ops + 17, 0xFFFFFFFE);
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (ops + 17, 2);               //  swallows its NUL
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (ops + 17, 0);               //  'v' where the NUL goes
    ops_bytes = 22;
    assert (s_test_check (msg, ops, ops_bytes, 1) == ZSTATE_WIRE_TERMINATOR);
}

//  Bad names and fixed fields in the envelope
static void
s_test_bad_names (zstate_msg_t *msg)
{
    char long_name [ZSTATE_NAME_MAX + 2];
    memset (long_name, 'n', sizeof (long_name) - 1);
    long_name [ZSTATE_NAME_MAX + 1] = 0;
    long_name [ZSTATE_NAME_MAX] = 0;
    byte ops [64];
    size_t ops_bytes = s_test_ops (ops);
    size_t size;
    byte *data = s_test_message ("d\0b", 3, "t", 1, 1, ops, ops_bytes, &size);
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
}

//  Not even a header: a start of a signature is truncated, anything
//  else is not a zstate message (doc/protocol.md section 7); over the
//  size limit, whatever follows the fixed part
static void
s_test_not_a_message (zstate_msg_t *msg)
{
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
    size_t size = (size_t) ZSTATE_MESSAGE_MAX + 1;
    byte *data = (byte *) malloc (size);
    assert (data);
    memcpy (data, "ZS\x01\x01", 4);
    assert (zstate_msg_decode (msg, data, size) == ZSTATE_WIRE_TOO_LARGE);
    assert (zstate_msg_decode_header (msg, data, size) == ZSTATE_WIRE_TOO_LARGE);
    free (data);
}

void
zstate_msg_suite_test (bool verbose)
{
    printf (" * zstate_msg_suite: ");
    if (verbose)
        printf ("\n");

    byte session [ZSTATE_MSG_SESSION_SIZE];
    for (size_t index = 0; index < sizeof (session); index++)
        session [index] = (byte) (index * 17 + 1);
    uint64_t state = 0x5EED2024ULL;
    zstate_msg_t *msg = zstate_msg_new ();
    assert (msg);

    s_test_too_large (session, msg);
    s_test_round_trips (&state, msg);
    s_test_truncations (&state, session, msg);
    s_test_bit_flips (session, msg, verbose);
    s_test_hostile_ops (msg);
    s_test_bad_names (msg);
    s_test_not_a_message (msg);

    zstate_msg_destroy (&msg);
    printf ("OK\n");
}
