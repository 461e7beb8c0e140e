/*  =========================================================================
    zstate_batch_suite - the batch's encoding, limits and loader in detail,
    hostile encodings included

    Builds a batch with every API and checks its bytes, accessors and
    printing; refuses bad arguments and what does not fit in one message,
    leaving the batch as it was; loads its own encoding whole, in parts
    and into itself; refuses every truncation and each hostile length or
    terminator with the expected reason. Each hostile load reads a heap
    copy of exactly the bytes under test, so that valgrind and ASan see
    any overread.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

//  The largest operation that fits in a message next to the largest
//  header, and the smallest field
#define OP_SIZE_MAX     ((size_t) ZSTATE_MESSAGE_MAX \
                         - zstate_msg_header_size (ZSTATE_NAME_MAX, ZSTATE_NAME_MAX))
#define FIELD_SIZE_MIN  (4 + 1 + 4 + 1)         //  empty name, empty value

//  Bytes of the first operation that s_test_build appends
#define FIRST_SIZE      (16 + 17 + 15)

//  Print the batch into a string, for exact comparisons; caller frees
static char *
s_test_printed (zstate_batch_t *batch)
{
    char *text = NULL;
    size_t size = 0;
    FILE *file = open_memstream (&text, &size);
    assert (file);
    zstate_batch_fprint (batch, file);
    fclose (file);
    return text;
}

//  Call zstate_batch_vappend as a caller with its own varargs would
static int
s_test_vappend (zstate_batch_t *batch, int op, const char *key, ...)
{
    va_list args;
    va_start (args, key);
    int rc = zstate_batch_vappend (batch, op, key, args);
    va_end (args);
    return rc;
}

//  Build five operations with every API: binary keys, names and values,
//  empty ones, a SET without fields
static void
s_test_build (zstate_batch_t *batch)
{
    assert (zstate_batch_set (batch, "user:1", "name", "Ada", "lang", "C", NULL) == 0);
    assert (zstate_batch_hset (batch, "user:1", "age", "36", NULL) == 0);
    assert (zstate_batch_del (batch, "user:2") == 0);
    assert (zstate_batch_set (batch, "empty", NULL) == 0);
    assert (zstate_batch_append (batch, ZSTATE_OP_HSET, "bin\0key", 7) == 0);
    assert (zstate_batch_field (batch, "n\0m", 3, "v\0\0l", 4) == 0);
    assert (zstate_batch_field (batch, "", 0, "", 0) == 0);
    assert (zstate_batch_field (batch, "blank", 5, NULL, 0) == 0);
    assert (zstate_batch_size (batch) == 5);
}

//  Sizes and the byte-exact encoding of the first operation
static void
s_test_encoding (zstate_batch_t *batch)
{
    //  1+4+6+1+4 + (4+4+1+4+3+1) + (4+4+1+4+1+1) = 16 + 17 + 15
    assert (zstate_batch_bytes (batch) == FIRST_SIZE + (16 + 15) + 16
                                        + (1 + 4 + 5 + 1 + 4)
                                        + (1 + 4 + 7 + 1 + 4)
                                        + (4 + 3 + 1 + 4 + 4 + 1)
                                        + (4 + 0 + 1 + 4 + 0 + 1)
                                        + (4 + 5 + 1 + 4 + 0 + 1));
    const byte expected [] = {
        ZSTATE_OP_SET, 0, 0, 0, 6, 'u', 's', 'e', 'r', ':', '1', 0, 0, 0, 0, 2,
        0, 0, 0, 4, 'n', 'a', 'm', 'e', 0, 0, 0, 0, 3, 'A', 'd', 'a', 0,
        0, 0, 0, 4, 'l', 'a', 'n', 'g', 0, 0, 0, 0, 1, 'C', 0
    };
    assert (sizeof (expected) == FIRST_SIZE);
    assert (memcmp (zstate_batch_data (batch), expected, FIRST_SIZE) == 0);
}

//  Accessors return what went in, binary-safe, with a NUL after each
static void
s_test_accessors (zstate_batch_t *batch)
{
    size_t size;
    assert (zstate_batch_op (batch, 0) == ZSTATE_OP_SET);
    assert (streq (zstate_batch_key (batch, 0, &size), "user:1"));
    assert (size == 6);
    assert (zstate_batch_field_count (batch, 0) == 2);
    assert (streq (zstate_batch_name (batch, 0, 0, &size), "name") && size == 4);
    assert (streq (zstate_batch_value (batch, 0, 0, &size), "Ada") && size == 3);
    assert (streq (zstate_batch_name (batch, 0, 1, NULL), "lang"));
    assert (streq (zstate_batch_value (batch, 0, 1, NULL), "C"));
    assert (streq (zstate_batch_get (batch, 0, "lang"), "C"));
    assert (zstate_batch_get (batch, 0, "nope") == NULL);
    assert (zstate_batch_get (batch, 0, "nam") == NULL);

    assert (zstate_batch_op (batch, 1) == ZSTATE_OP_HSET);
    assert (zstate_batch_field_count (batch, 1) == 1);
    assert (streq (zstate_batch_get (batch, 1, "age"), "36"));

    assert (zstate_batch_op (batch, 2) == ZSTATE_OP_DEL);
    assert (streq (zstate_batch_key (batch, 2, NULL), "user:2"));
    assert (zstate_batch_field_count (batch, 2) == 0);

    //  A SET with no fields stays a SET
    assert (zstate_batch_op (batch, 3) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (batch, 3) == 0);

    //  Binary-safe: embedded NULs, empty names and values, and a NUL after
    assert (zstate_batch_op (batch, 4) == ZSTATE_OP_HSET);
    const char *key = zstate_batch_key (batch, 4, &size);
    assert (size == 7 && memcmp (key, "bin\0key", 8) == 0);
    assert (zstate_batch_field_count (batch, 4) == 3);
    const char *text = zstate_batch_name (batch, 4, 0, &size);
    assert (size == 3 && memcmp (text, "n\0m", 4) == 0);
    text = zstate_batch_value (batch, 4, 0, &size);
    assert (size == 4 && memcmp (text, "v\0\0l", 5) == 0);
    text = zstate_batch_name (batch, 4, 1, &size);
    assert (size == 0 && text [0] == 0);
    text = zstate_batch_value (batch, 4, 1, &size);
    assert (size == 0 && text [0] == 0);
    assert (streq (zstate_batch_get (batch, 4, ""), ""));
    assert (streq (zstate_batch_get (batch, 4, "blank"), ""));
}

//  Printing escapes what is not printable
static void
s_test_printing (zstate_batch_t *batch, bool verbose)
{
    char *printed = s_test_printed (batch);
    assert (streq (printed,
        "SET user:1 {name=Ada, lang=C}\n"
        "HSET user:1 {age=36}\n"
        "DEL user:2\n"
        "SET empty {}\n"
        "HSET bin\\x00key {n\\x00m=v\\x00\\x00l, =, blank=}\n"));
    free (printed);
    if (verbose)
        zstate_batch_print (batch);

    zstate_batch_t *scratch = zstate_batch_new ();
    assert (s_test_vappend (scratch, ZSTATE_OP_HSET, "a\\b", "t", "\t\xff", NULL) == 0);
    printed = s_test_printed (scratch);
    assert (streq (printed, "HSET a\\\\b {t=\\x09\\xFF}\n"));
    free (printed);
    zstate_batch_destroy (&scratch);
}

//  Bad arguments fail with EINVAL and leave the batch as it was
static void
s_test_bad_arguments (zstate_batch_t *batch)
{
    zstate_batch_t *before = zstate_batch_dup (batch);
    assert (zstate_batch_eq (batch, before));
    errno = 0;
    assert (zstate_batch_set (batch, NULL, NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_set (batch, "", NULL) == -1 && errno == EINVAL);
    assert (streq (zstate_reason (), "key is empty"));
    errno = 0;
    assert (zstate_batch_del (batch, NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_del (batch, "") == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_set (batch, "k", "a", "1", "b", NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_hset (batch, "k", "a", NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (s_test_vappend (batch, ZSTATE_OP_DEL, "k", NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (s_test_vappend (batch, ZSTATE_OP_HSET, "k", "a", "1", "b", NULL) == -1);
    assert (errno == EINVAL);
    errno = 0;
    assert (zstate_batch_append (batch, 0, "k", 1) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_append (batch, 4, "k", 1) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_append (batch, ZSTATE_OP_SET, NULL, 1) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_append (batch, ZSTATE_OP_SET, "k", 0) == -1 && errno == EINVAL);
    char *big = (char *) zmalloc (ZSTATE_MESSAGE_MAX + 1);
    assert (big);
    errno = 0;
    assert (zstate_batch_append (batch, ZSTATE_OP_SET, big, ZSTATE_KEY_MAX + 1) == -1);
    assert (errno == EINVAL);
    errno = 0;
    assert (zstate_batch_field (batch, big, ZSTATE_FIELD_MAX + 1, "v", 1) == -1);
    assert (errno == EINVAL);
    errno = 0;
    assert (zstate_batch_field (batch, NULL, 1, "v", 1) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_field (batch, "n", 1, NULL, 1) == -1 && errno == EINVAL);
    assert (zstate_batch_eq (batch, before));

    //  EMSGSIZE: a value bigger than a message; the batch is unchanged
    errno = 0;
    assert (zstate_batch_field (batch, "huge", 4, big, ZSTATE_MESSAGE_MAX) == -1);
    assert (errno == EMSGSIZE);
    errno = 0;
    assert (zstate_batch_field (batch, "huge", 4, big, SIZE_MAX) == -1);
    assert (errno == EMSGSIZE);
    assert (zstate_batch_eq (batch, before));
    memset (big, 'x', ZSTATE_MESSAGE_MAX);
    errno = 0;
    assert (zstate_batch_set (batch, "k", "a", "1", "huge", big, NULL) == -1);
    assert (errno == EMSGSIZE);
    assert (zstate_batch_eq (batch, before));
    free (big);
    zstate_batch_destroy (&before);
}

//  A field needs a SET or HSET before it; at most ZSTATE_FIELDS_MAX
static void
s_test_field_rules (void)
{
    zstate_batch_t *scratch = zstate_batch_new ();
    errno = 0;
    assert (zstate_batch_field (scratch, "n", 1, "v", 1) == -1 && errno == EINVAL);
    assert (zstate_batch_del (scratch, "k") == 0);
    errno = 0;
    assert (zstate_batch_field (scratch, "n", 1, "v", 1) == -1 && errno == EINVAL);
    assert (streq (zstate_reason (), "DEL takes no fields"));
    assert (zstate_batch_size (scratch) == 1);
    assert (zstate_batch_bytes (scratch) == 1 + 4 + 1 + 1 + 4);

    zstate_batch_reset (scratch);
    assert (zstate_batch_append (scratch, ZSTATE_OP_HSET, "k", 1) == 0);
    for (size_t field = 0; field < ZSTATE_FIELDS_MAX; field++)
        assert (zstate_batch_field (scratch, "f", 1, "", 0) == 0);
    errno = 0;
    assert (zstate_batch_field (scratch, "f", 1, "", 0) == -1 && errno == EINVAL);
    assert (zstate_batch_field_count (scratch, 0) == ZSTATE_FIELDS_MAX);
    assert (zstate_batch_scan (zstate_batch_data (scratch),
                               zstate_batch_bytes (scratch), 1) == 0);
    zstate_batch_destroy (&scratch);
}

//  The largest operation that fits, exactly, then one byte more, on the
//  API and on the wire
static void
s_test_largest_op (void)
{
    zstate_batch_t *scratch = zstate_batch_new ();
    char *big = (char *) zmalloc (OP_SIZE_MAX);
    assert (big);
    assert (zstate_batch_append (scratch, ZSTATE_OP_SET, "k", 1) == 0);
    size_t room = OP_SIZE_MAX - zstate_batch_bytes (scratch) - FIELD_SIZE_MIN;
    errno = 0;
    assert (zstate_batch_field (scratch, "v", 1, big, room) == -1 && errno == EMSGSIZE);
    assert (zstate_batch_field (scratch, "v", 1, big, room - 1) == 0);
    assert (zstate_batch_bytes (scratch) == OP_SIZE_MAX);
    free (big);

    big = (char *) malloc (OP_SIZE_MAX + 1);
    assert (big);
    memcpy (big, zstate_batch_data (scratch), OP_SIZE_MAX);
    size_t value_at = 1 + 4 + 1 + 1 + 4 + 4 + 1 + 1;
    zstate_put_u32 ((byte *) big + value_at, (uint32_t) room);
    big [OP_SIZE_MAX - 1] = 'x';
    big [OP_SIZE_MAX] = 0;
    assert (zstate_batch_scan (big, OP_SIZE_MAX + 1, 1) == ZSTATE_WIRE_TOO_LARGE);
    free (big);

    size_t used = 0;
    zstate_batch_t *copy = zstate_batch_new ();
    assert (zstate_batch_load (copy, zstate_batch_data (scratch),
                               zstate_batch_bytes (scratch), 1, &used) == 0);
    assert (used == OP_SIZE_MAX);
    assert (zstate_batch_eq (copy, scratch));
    zstate_batch_destroy (&copy);
    zstate_batch_destroy (&scratch);
}

//  dup, eq and reset
static void
s_test_dup_eq (zstate_batch_t *batch)
{
    zstate_batch_t *copy = zstate_batch_dup (batch);
    assert (zstate_batch_eq (copy, batch));
    assert (zstate_batch_del (copy, "more") == 0);
    assert (!zstate_batch_eq (copy, batch));
    zstate_batch_reset (copy);
    assert (zstate_batch_size (copy) == 0);
    assert (zstate_batch_bytes (copy) == 0);
    zstate_batch_t *empty = zstate_batch_new ();
    assert (zstate_batch_eq (copy, empty));
    assert (!zstate_batch_eq (batch, empty));
    size_t used = 1;
    assert (zstate_batch_load (empty, NULL, 0, 0, &used) == 0 && used == 0);
    zstate_batch_destroy (&empty);
    zstate_batch_destroy (&copy);
}

//  Load of our own encoding round-trips whole, in parts, appended to what
//  is there, and from the batch's own bytes (the buffer may move)
static void
s_test_load (zstate_batch_t *batch)
{
    zstate_batch_t *copy = zstate_batch_new ();
    size_t used = 0;
    assert (zstate_batch_load (copy, zstate_batch_data (batch),
                               zstate_batch_bytes (batch), 5, &used) == 0);
    assert (used == zstate_batch_bytes (batch));
    assert (zstate_batch_eq (copy, batch));
    assert (streq (zstate_batch_get (copy, 1, "age"), "36"));
    assert (zstate_batch_field_count (copy, 4) == 3);

    //  A partial load uses only the operations asked for
    zstate_batch_reset (copy);
    assert (zstate_batch_load (copy, zstate_batch_data (batch),
                               zstate_batch_bytes (batch), 2, &used) == 0);
    assert (used == FIRST_SIZE + 16 + 15);
    assert (zstate_batch_size (copy) == 2);
    //  ... and loading appends to what is there, keeping the index right
    assert (zstate_batch_load (copy, zstate_batch_data (batch) + used,
                               zstate_batch_bytes (batch) - used, 3, NULL) == 0);
    assert (zstate_batch_eq (copy, batch));
    //  A field may be added to the last loaded operation
    assert (zstate_batch_field (copy, "x", 1, "y", 1) == 0);
    assert (zstate_batch_field_count (copy, 4) == 4);
    assert (streq (zstate_batch_get (copy, 4, "x"), "y"));

    zstate_batch_reset (copy);
    assert (zstate_batch_load (copy, zstate_batch_data (batch),
                               zstate_batch_bytes (batch), 5, NULL) == 0);
    for (int round = 0; round < 8; round++)
        assert (zstate_batch_load (copy, zstate_batch_data (copy),
                                   zstate_batch_bytes (copy),
                                   zstate_batch_size (copy), NULL) == 0);
    assert (zstate_batch_size (copy) == 5 * 256);
    assert (zstate_batch_bytes (copy) == 256 * zstate_batch_bytes (batch));
    assert (streq (zstate_batch_key (copy, 5 * 255 + 2, NULL), "user:2"));
    assert (zstate_batch_field_count (copy, 5 * 255 + 4) == 3);
    zstate_batch_destroy (&copy);
}

//  Every truncation is refused and leaves the batch as it was; scan wants
//  exactly count operations and nothing more
static void
s_test_truncated (zstate_batch_t *batch)
{
    zstate_batch_t *copy = zstate_batch_dup (batch);
    zstate_batch_t *before = zstate_batch_dup (copy);
    const byte *data = zstate_batch_data (batch);
    size_t bytes = zstate_batch_bytes (batch);
    for (size_t cut = 0; cut < bytes; cut++) {
        //  An exact-size copy, so reading past the end is caught by tools
        byte *part = (byte *) malloc (cut + 1);
        assert (part);
        memcpy (part, data, cut);
        int rc = zstate_batch_load (copy, part, cut, 5, NULL);
        assert (rc == ZSTATE_WIRE_TRUNCATED || rc == ZSTATE_WIRE_OP_COUNT);
        assert (zstate_batch_scan (part, cut, 5) == rc);
        free (part);
    }
    assert (zstate_batch_eq (copy, before));
    assert (zstate_batch_size (copy) == zstate_batch_size (before));

    assert (zstate_batch_scan (data, bytes, 5) == ZSTATE_WIRE_OK);
    assert (zstate_batch_scan (data, bytes, 4) == ZSTATE_WIRE_TRAILING);
    assert (zstate_batch_scan (data, bytes, 6) == ZSTATE_WIRE_OP_COUNT);
    assert (zstate_batch_scan (data, bytes, bytes) == ZSTATE_WIRE_OP_COUNT);
    assert (zstate_batch_scan (data, bytes, SIZE_MAX) == ZSTATE_WIRE_OP_COUNT);
    assert (zstate_batch_scan (NULL, 0, 0) == ZSTATE_WIRE_OK);
    assert (zstate_batch_scan (NULL, 0, 1) == ZSTATE_WIRE_OP_COUNT);
    zstate_batch_destroy (&before);
    zstate_batch_destroy (&copy);
}

//  An operation as: opcode, key size, key, NUL, field count
static void
s_test_wire_op (byte *wire, size_t size, int op, uint32_t key_size, uint32_t fields)
{
    memset (wire, 0, size);
    wire [0] = (byte) op;
    zstate_put_u32 (wire + 1, key_size);
    wire [5] = 'k';
    wire [6] = 0;
    zstate_put_u32 (wire + 7, fields);
}

//  Hostile encodings get the expected reason, and change nothing
static void
s_test_hostile (zstate_batch_t *batch)
{
    byte wire [64];
    size_t all = sizeof (wire);
    s_test_wire_op (wire, all, ZSTATE_OP_SET, 1, 0);
    assert (zstate_batch_scan (wire, 11, 1) == ZSTATE_WIRE_OK);
    assert (zstate_batch_scan (wire, 10, 1) == ZSTATE_WIRE_OP_COUNT);
    s_test_wire_op (wire, all, 0, 1, 0);
    assert (zstate_batch_scan (wire, 11, 1) == ZSTATE_WIRE_OP_CODE);
    s_test_wire_op (wire, all, 4, 1, 0);
    assert (zstate_batch_scan (wire, 11, 1) == ZSTATE_WIRE_OP_CODE);
    s_test_wire_op (wire, all, ZSTATE_OP_SET, 0xFFFFFFFF, 0);
    assert (zstate_batch_scan (wire, all, 1) == ZSTATE_WIRE_KEY);
    s_test_wire_op (wire, all, ZSTATE_OP_SET, 0, 0);
    assert (zstate_batch_scan (wire, all, 1) == ZSTATE_WIRE_KEY);
    s_test_wire_op (wire, all, ZSTATE_OP_SET, ZSTATE_KEY_MAX + 1, 0);
    assert (zstate_batch_scan (wire, all, 1) == ZSTATE_WIRE_KEY);
    s_test_wire_op (wire, all, ZSTATE_OP_SET, ZSTATE_KEY_MAX, 0);
    assert (zstate_batch_scan (wire, all, 1) == ZSTATE_WIRE_TRUNCATED);
    s_test_wire_op (wire, all, ZSTATE_OP_SET, 1, 0);
    wire [6] = 'x';             //  no NUL after the key
    assert (zstate_batch_scan (wire, 11, 1) == ZSTATE_WIRE_TERMINATOR);
    s_test_wire_op (wire, all, ZSTATE_OP_DEL, 1, 1);
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_FIELD);
    s_test_wire_op (wire, all, ZSTATE_OP_SET, 1, 0xFFFFFFFF);
    assert (zstate_batch_scan (wire, all, 1) == ZSTATE_WIRE_FIELD);
    s_test_wire_op (wire, all, ZSTATE_OP_SET, 1, ZSTATE_FIELDS_MAX + 1);
    assert (zstate_batch_scan (wire, all, 1) == ZSTATE_WIRE_FIELD);
    //  53 bytes left hold 5 empty fields
    s_test_wire_op (wire, all, ZSTATE_OP_SET, 1, 6);
    assert (zstate_batch_scan (wire, all, 1) == ZSTATE_WIRE_TRUNCATED);
    //  then an empty name and empty value
    s_test_wire_op (wire, all, ZSTATE_OP_SET, 1, 1);
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_OK);
    zstate_put_u32 (wire + 11, ZSTATE_FIELD_MAX + 1);
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_FIELD);
    zstate_put_u32 (wire + 11, 0xFFFFFFFF);
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_FIELD);
    zstate_put_u32 (wire + 11, 0);
    zstate_put_u32 (wire + 16, 0xFFFFFFFF);
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (wire + 16, 0);
    wire [20] = 1;              //  no NUL after the value
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_TERMINATOR);

    zstate_batch_t *copy = zstate_batch_dup (batch);
    size_t used = 0;
    assert (zstate_batch_load (copy, wire, 21, 1, &used) == ZSTATE_WIRE_TERMINATOR);
    assert (zstate_batch_eq (copy, batch));
    zstate_batch_destroy (&copy);
}

//  A large batch loads whole, and reset keeps the memory: refilled to the
//  same size, the batch's bytes stay where they were
static void
s_test_large (void)
{
    zstate_batch_t *copy = zstate_batch_new ();
    const byte *data_before = NULL;
    char name [32];
    for (int round = 0; round < 2; round++) {
        for (size_t index = 0; index < 100000; index++) {
            snprintf (name, sizeof (name), "key:%zu", index);
            if (index % 3 == 2)
                assert (zstate_batch_del (copy, name) == 0);
            else
                assert (zstate_batch_hset (copy, name, "index", name + 4, "f", "", NULL) == 0);
        }
        assert (zstate_batch_size (copy) == 100000);
        assert (streq (zstate_batch_key (copy, 99999, NULL), "key:99999"));
        assert (streq (zstate_batch_get (copy, 54321, "index"), "54321"));
        assert (zstate_batch_op (copy, 54320) == ZSTATE_OP_DEL);
        assert (zstate_batch_field_count (copy, 54320) == 0);
        if (round == 0) {
            zstate_batch_t *large = zstate_batch_new ();
            size_t used = 0;
            assert (zstate_batch_load (large, zstate_batch_data (copy),
                                       zstate_batch_bytes (copy), 100000, &used) == 0);
            assert (used == zstate_batch_bytes (copy));
            assert (zstate_batch_eq (large, copy));
            assert (streq (zstate_batch_get (large, 99997, "index"), "99997"));
            zstate_batch_destroy (&large);
            data_before = zstate_batch_data (copy);
            zstate_batch_reset (copy);
            assert (zstate_batch_data (copy) == data_before);
        }
    }
    assert (zstate_batch_data (copy) == data_before);
    zstate_batch_destroy (&copy);
}

void
zstate_batch_suite_test (bool verbose)
{
    printf (" * zstate_batch_suite: ");
    if (verbose)
        printf ("\n");

    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    s_test_build (batch);
    s_test_encoding (batch);
    s_test_accessors (batch);
    s_test_printing (batch, verbose);
    s_test_bad_arguments (batch);
    s_test_field_rules ();
    s_test_largest_op ();
    s_test_dup_eq (batch);
    s_test_load (batch);
    s_test_truncated (batch);
    s_test_hostile (batch);
    s_test_large ();
    zstate_batch_destroy (&batch);

    printf ("OK\n");
}
