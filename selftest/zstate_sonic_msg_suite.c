/*  =========================================================================
    zstate_sonic_msg_suite - the SONiC codec against the golden vectors
    captured from a SONiC ZmqProducerStateTable (selftest/data/
    sonic-frames.txt) and against crafted frames: every truncation, hostile
    sizes, pair count mismatches, non-numeric counts, stray pairs, oversize

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_sonic_suite.h"

//  --------------------------------------------------------------------------
//  The golden vectors, with the operations each must decode to.

//  Each vector decodes to exactly its operations, and encoding the same
//  calls gives exactly its bytes
static void
s_test_golden (zlist_t *vectors, size_t count, bool verbose)
{
    assert (zlist_size (vectors) == count);
    zstate_sonic_msg_t *decoder = zstate_sonic_msg_new ();
    zstate_batch_t *expected = zstate_batch_new ();
    zstate_sonic_vector_t *vector = (zstate_sonic_vector_t *) zlist_first (vectors);
    while (vector) {
        zstate_batch_reset (expected);
        zstate_sonic_expected (vector->name, expected, false);
        assert (zstate_sonic_msg_decode (decoder, vector->data, vector->size) == 0);
        assert (streq (zstate_sonic_msg_db (decoder), "APPL_DB"));
        assert (streq (zstate_sonic_msg_table (decoder), "ROUTE_TABLE"));
        assert (zstate_batch_eq (zstate_sonic_msg_batch (decoder), expected));
        if (verbose)
            zstate_batch_print (zstate_sonic_msg_batch (decoder));

        zstate_batch_reset (expected);
        zstate_sonic_expected (vector->name, expected, true);
        size_t hsets = 99;
        zframe_t *frame = zstate_sonic_msg_encode ("APPL_DB", "ROUTE_TABLE", expected, &hsets);
        assert (frame);
        assert (hsets == (streq (vector->name, "hset")? 1u: 0u));
        assert (zframe_size (frame) == vector->size);
        assert (memcmp (zframe_data (frame), vector->data, vector->size) == 0);
        zframe_destroy (&frame);
        vector = (zstate_sonic_vector_t *) zlist_next (vectors);
    }
    //  What a SONiC producer sends for set ("empty", {}) is a DEL; zstate
    //  refuses to send a SET with no fields rather than delete the entry
    zstate_batch_reset (expected);
    assert (zstate_batch_set (expected, "empty", NULL) == 0);
    errno = 0;
    assert (zstate_sonic_msg_encode ("APPL_DB", "ROUTE_TABLE", expected, NULL) == NULL);
    assert (errno == ENOTSUP);
    assert (strstr (zstate_reason (), "SET with no fields"));
    zstate_batch_destroy (&expected);
    zstate_sonic_msg_destroy (&decoder);
}


//  With merge, the same frames decode to HSETs where they held SETs, and
//  those encode back to the same bytes
static void
s_test_merge (zlist_t *vectors)
{
    zstate_sonic_msg_t *plain = zstate_sonic_msg_new ();
    zstate_sonic_msg_t *merging = zstate_sonic_msg_new ();
    zstate_sonic_msg_set_merge (merging, true);
    zstate_sonic_vector_t *vector = (zstate_sonic_vector_t *) zlist_first (vectors);
    while (vector) {
        assert (zstate_sonic_msg_decode (plain, vector->data, vector->size) == 0);
        assert (zstate_sonic_msg_decode (merging, vector->data, vector->size) == 0);
        zstate_batch_t *sets = zstate_sonic_msg_batch (plain);
        zstate_batch_t *hsets = zstate_sonic_msg_batch (merging);
        assert (zstate_batch_size (sets) == zstate_batch_size (hsets));
        size_t expected_hsets = 0;
        for (size_t index = 0; index < zstate_batch_size (sets); index++) {
            int op = zstate_batch_op (sets, index);
            assert (zstate_batch_op (hsets, index)
                    == (op == ZSTATE_OP_SET? ZSTATE_OP_HSET: ZSTATE_OP_DEL));
            expected_hsets += op == ZSTATE_OP_SET;
            assert (zstate_batch_field_count (hsets, index)
                    == zstate_batch_field_count (sets, index));
        }
        size_t count = 0;
        zframe_t *frame = zstate_sonic_msg_encode ("APPL_DB", "ROUTE_TABLE", hsets, &count);
        assert (frame && count == expected_hsets);
        assert (zframe_size (frame) == vector->size);
        assert (memcmp (zframe_data (frame), vector->data, vector->size) == 0);
        zframe_destroy (&frame);
        vector = (zstate_sonic_vector_t *) zlist_next (vectors);
    }
    zstate_sonic_msg_set_merge (merging, false);
    vector = (zstate_sonic_vector_t *) zlist_first (vectors);
    assert (zstate_sonic_msg_decode (merging, vector->data, vector->size) == 0);
    assert (zstate_batch_op (zstate_sonic_msg_batch (merging), 0) == ZSTATE_OP_SET);
    zstate_sonic_msg_destroy (&merging);
    zstate_sonic_msg_destroy (&plain);
}


//  --------------------------------------------------------------------------
//  Crafted frames.

static void
s_expect (zstate_sonic_msg_t *decoder, zchunk_t *frame, int reason)
{
    int rc = zstate_sonic_msg_decode (decoder, zchunk_data (frame), zchunk_size (frame));
    if (rc != reason)
        zsys_error ("sonic: expected reason %d, got %d", reason, rc);
    assert (rc == reason);
    if (reason) {
        assert (zstate_batch_size (zstate_sonic_msg_batch (decoder)) == 0);
        assert (streq (zstate_sonic_msg_db (decoder), ""));
    }
}

//  Every truncation of every vector is TRUNCATED; one byte more is TRAILING
static void
s_test_truncations (zlist_t *vectors, zstate_sonic_msg_t *decoder)
{
    zstate_sonic_vector_t *vector = (zstate_sonic_vector_t *) zlist_first (vectors);
    while (vector) {
        for (size_t size = 0; size < vector->size; size++)
            assert (zstate_sonic_msg_decode (decoder, vector->data, size)
                    == ZSTATE_SONIC_TRUNCATED);
        zchunk_t *longer = zchunk_new (vector->data, vector->size);
        zchunk_extend (longer, "", 1);
        s_expect (decoder, longer, ZSTATE_SONIC_TRAILING);
        zchunk_destroy (&longer);
        vector = (zstate_sonic_vector_t *) zlist_next (vectors);
    }
}

//  A hostile size at each size field of set1: the limit it breaks, or the
//  bytes it overruns; never a read past the frame
static void
s_test_hostile_sizes (zstate_sonic_vector_t *set1, zstate_sonic_msg_t *decoder)
{
    //  Offsets of the sizes in set1 and what a size of 2^64 - 1 there is
    struct { size_t offset; int reason; } sizes [] = {
        { 0, ZSTATE_SONIC_PAIR_COUNT },     //  pair count
        { 8, ZSTATE_SONIC_NAME },           //  db
        { 23, ZSTATE_SONIC_NAME },          //  table
        { 42, ZSTATE_SONIC_KEY },           //  key
        { 61, ZSTATE_SONIC_TRUNCATED },     //  count
        { 70, ZSTATE_SONIC_FIELD },         //  field name
        { 85, ZSTATE_SONIC_TRUNCATED },     //  value
    };
    uint64_t hostile [] = { UINT64_MAX, UINT64_MAX - 7, 1ULL << 63, 1ULL << 32,
                            (1ULL << 32) + 1, ZSTATE_MESSAGE_MAX, set1->size };
    for (size_t index = 0; index < sizeof (sizes) / sizeof (sizes [0]); index++) {
        for (size_t value = 0; value < sizeof (hostile) / sizeof (hostile [0]); value++) {
            zchunk_t *frame = zchunk_new (set1->data, set1->size);
            zstate_sonic_put_u64le (zchunk_data (frame) + sizes [index].offset,
                                    hostile [value]);
            int rc = zstate_sonic_msg_decode (decoder, zchunk_data (frame),
                                              zchunk_size (frame));
            assert (rc != 0);
            if (value == 0)
                assert (rc == sizes [index].reason);
            zchunk_destroy (&frame);
        }
    }
}

//  Pair counts that disagree with the operations
static void
s_test_pair_counts (zstate_sonic_msg_t *decoder)
{
    const char *strings [] = { "APPL_DB", "T", "k", "2", "f1", "v1", "f2", "v2" };
    //  0 and 1 pair: no operation
    zchunk_t *frame = zstate_sonic_frame (0, strings, 0);
    s_expect (decoder, frame, ZSTATE_SONIC_PAIR_COUNT);
    zchunk_destroy (&frame);
    frame = zstate_sonic_frame (1, strings, 2);
    s_expect (decoder, frame, ZSTATE_SONIC_PAIR_COUNT);
    zchunk_destroy (&frame);
    //  More pairs announced than ZSTATE_MESSAGE_MAX bytes could hold
    frame = zstate_sonic_frame (ZSTATE_MESSAGE_MAX / 16 + 1, strings, 8);
    s_expect (decoder, frame, ZSTATE_SONIC_PAIR_COUNT);
    zchunk_destroy (&frame);
    //  The right count, then one pair fewer (the count needs more pairs than
    //  the frame announces), then one more (it runs past the bytes)
    frame = zstate_sonic_frame (4, strings, 8);
    s_expect (decoder, frame, 0);
    zchunk_destroy (&frame);
    frame = zstate_sonic_frame (3, strings, 8);
    s_expect (decoder, frame, ZSTATE_SONIC_PAIRS);
    zchunk_destroy (&frame);
    frame = zstate_sonic_frame (5, strings, 8);
    s_expect (decoder, frame, ZSTATE_SONIC_TRUNCATED);
    zchunk_destroy (&frame);
    //  An operation missing pairs at the end (SONiC drops it silently)
    frame = zstate_sonic_frame (3, strings, 6);
    s_expect (decoder, frame, ZSTATE_SONIC_PAIRS);
    zchunk_destroy (&frame);
    //  A stray pair after the last operation is read as an operation
    const char *stray [] = { "APPL_DB", "T", "k", "1", "f", "v", "stray", "x" };
    frame = zstate_sonic_frame (4, stray, 8);
    s_expect (decoder, frame, ZSTATE_SONIC_COUNT);
    zchunk_destroy (&frame);
    //  A pair beyond the count is bytes after the last pair
    frame = zstate_sonic_frame (3, stray, 8);
    s_expect (decoder, frame, ZSTATE_SONIC_TRAILING);
    zchunk_destroy (&frame);
}

//  Field counts: only plain decimal digits, within ZSTATE_FIELDS_MAX
static void
s_test_counts (zstate_sonic_msg_t *decoder)
{
    const char *bad [] = { "2abc", " +1", "+1", "-1", "", "01", "00", "1 ", " 1",
                           "0x1", "1.0", "\xff", "1e2" };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        const char *strings [] = { "APPL_DB", "T", "k", bad [index], "f", "v" };
        zchunk_t *frame = zstate_sonic_frame (3, strings, 6);
        s_expect (decoder, frame, ZSTATE_SONIC_COUNT);
        zchunk_destroy (&frame);
    }
    //  A count over the limit, however long, is FIELD
    const char *huge [] = { "65536", "99999999999999999999999999" };
    for (size_t index = 0; index < 2; index++) {
        const char *strings [] = { "APPL_DB", "T", "k", huge [index], "f", "v" };
        zchunk_t *frame = zstate_sonic_frame (3, strings, 6);
        s_expect (decoder, frame, ZSTATE_SONIC_FIELD);
        zchunk_destroy (&frame);
    }
    //  A NUL inside a count
    zchunk_t *frame = zstate_sonic_frame (2, (const char *[]) { "APPL_DB", "T", "k", "0" }, 4);
    zchunk_data (frame) [zchunk_size (frame) - 1] = 0;
    s_expect (decoder, frame, ZSTATE_SONIC_COUNT);
    zchunk_destroy (&frame);
}

//  Names and keys within their limits
static void
s_test_names (zstate_sonic_msg_t *decoder)
{
    char name [ZSTATE_NAME_MAX + 2];
    memset (name, 'n', sizeof (name) - 1);
    name [ZSTATE_NAME_MAX + 1] = 0;
    const char *cases [][4] = {
        { "", "T", "k", "0" }, { "D", "", "k", "0" }, { name, "T", "k", "0" },
        { "D", name, "k", "0" }
    };
    for (size_t index = 0; index < 4; index++) {
        zchunk_t *frame = zstate_sonic_frame (2, cases [index], 4);
        s_expect (decoder, frame, ZSTATE_SONIC_NAME);
        zchunk_destroy (&frame);
    }
    //  A name of exactly ZSTATE_NAME_MAX bytes is fine; a NUL inside is not
    name [ZSTATE_NAME_MAX] = 0;
    zchunk_t *frame = zstate_sonic_frame (2, (const char *[]) { name, "T", "k", "0" }, 4);
    s_expect (decoder, frame, 0);
    assert (streq (zstate_sonic_msg_db (decoder), name));
    zchunk_data (frame) [8 + 8 + 3] = 0;
    s_expect (decoder, frame, ZSTATE_SONIC_NAME);
    zchunk_destroy (&frame);
    //  Keys: empty, then one byte over the limit
    frame = zstate_sonic_frame (2, (const char *[]) { "D", "T", "", "0" }, 4);
    s_expect (decoder, frame, ZSTATE_SONIC_KEY);
    zchunk_destroy (&frame);
    char *key = (char *) zmalloc (ZSTATE_KEY_MAX + 2);
    memset (key, 'k', ZSTATE_KEY_MAX + 1);
    frame = zstate_sonic_frame (2, (const char *[]) { "D", "T", key, "0" }, 4);
    s_expect (decoder, frame, ZSTATE_SONIC_KEY);
    zchunk_destroy (&frame);
    key [ZSTATE_KEY_MAX] = 0;
    frame = zstate_sonic_frame (2, (const char *[]) { "D", "T", key, "0" }, 4);
    s_expect (decoder, frame, 0);
    zchunk_destroy (&frame);
    free (key);
}

//  Frames over 16 MiB are refused before they are read; an operation that
//  one zstate message cannot carry is refused too; a 16 MiB frame of two
//  operations is fine
static void
s_test_oversize (zstate_sonic_msg_t *decoder)
{
    //  Two values of size, framed in 96 bytes: exactly ZSTATE_MESSAGE_MAX
    size_t size = (ZSTATE_MESSAGE_MAX - 96) / 2;
    char *value = (char *) zmalloc (size + 1);
    memset (value, 'v', size);
    const char *strings [] = { "D", "T", "a", "1", "f", value, "b", "1", "f", value };
    zchunk_t *frame = zstate_sonic_frame (5, strings, 10);
    assert (zchunk_size (frame) == ZSTATE_MESSAGE_MAX);
    s_expect (decoder, frame, 0);
    assert (zstate_batch_size (zstate_sonic_msg_batch (decoder)) == 2);
    //  What decodes always fits one zstate message
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    zframe_t *native = zstate_msg_encode (session, 1, "D", "T",
                                          zstate_sonic_msg_batch (decoder));
    assert (native);
    zframe_destroy (&native);
    //  One byte more is refused before it is read
    zchunk_extend (frame, "", 1);
    s_expect (decoder, frame, ZSTATE_SONIC_TOO_LARGE);
    zchunk_destroy (&frame);
    free (value);

    //  One operation with a value of ZSTATE_MESSAGE_MAX - 100 bytes fits a
    //  SONiC frame, not a zstate message
    size = ZSTATE_MESSAGE_MAX - 100;
    value = (char *) zmalloc (size + 1);
    memset (value, 'v', size);
    frame = zstate_sonic_frame (3, (const char *[]) { "D", "T", "k", "1", "f", value }, 6);
    assert (zchunk_size (frame) <= ZSTATE_MESSAGE_MAX);
    s_expect (decoder, frame, ZSTATE_SONIC_TOO_LARGE);
    zchunk_destroy (&frame);
    free (value);
}

//  Every single-bit flip of every vector decodes or is rejected whole
static void
s_test_bit_flips (zlist_t *vectors, zstate_sonic_msg_t *decoder)
{
    zstate_sonic_vector_t *vector = (zstate_sonic_vector_t *) zlist_first (vectors);
    while (vector) {
        byte *copy = (byte *) malloc (vector->size);
        assert (copy);
        for (size_t bit = 0; bit < vector->size * 8; bit++) {
            memcpy (copy, vector->data, vector->size);
            copy [bit / 8] ^= (byte) (1 << (bit % 8));
            int rc = zstate_sonic_msg_decode (decoder, copy, vector->size);
            assert (rc >= 0 && rc < ZSTATE_SONIC_FRAMES);
            if (rc)
                assert (zstate_batch_size (zstate_sonic_msg_batch (decoder)) == 0);
        }
        free (copy);
        vector = (zstate_sonic_vector_t *) zlist_next (vectors);
    }
}


//  --------------------------------------------------------------------------
//  Encoding: what the SONiC wire cannot carry, and round trips.

static void
s_test_encode (zstate_sonic_msg_t *decoder)
{
    zstate_batch_t *batch = zstate_batch_new ();
    errno = 0;
    assert (!zstate_sonic_msg_encode ("D", "T", batch, NULL) && errno == EINVAL);
    assert (zstate_batch_del (batch, "k") == 0);
    assert (!zstate_sonic_msg_encode ("", "T", batch, NULL) && errno == EINVAL);
    assert (!zstate_sonic_msg_encode ("D", NULL, batch, NULL) && errno == EINVAL);

    //  HSET goes as SET, counted; it comes back as SET
    assert (zstate_batch_hset (batch, "h", "f", "v", "g", "", NULL) == 0);
    assert (zstate_batch_set (batch, "s", "", "x", NULL) == 0);
    size_t hsets = 0;
    zframe_t *frame = zstate_sonic_msg_encode ("D", "T", batch, &hsets);
    assert (frame && hsets == 1);
    assert (zstate_sonic_msg_decode (decoder, zframe_data (frame), zframe_size (frame)) == 0);
    zstate_batch_t *decoded = zstate_sonic_msg_batch (decoder);
    assert (zstate_batch_size (decoded) == 3);
    assert (zstate_batch_op (decoded, 0) == ZSTATE_OP_DEL);
    assert (zstate_batch_op (decoded, 1) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (decoded, 1) == 2);
    assert (streq (zstate_batch_get (decoded, 1, "g"), ""));
    assert (streq (zstate_batch_get (decoded, 2, ""), "x"));
    size_t expected = 8 + 16 + 2;
    for (size_t index = 0; index < 3; index++)
        expected += zstate_sonic_msg_op_size (batch, index);
    assert (zframe_size (frame) == expected);
    zframe_destroy (&frame);

    //  Over 16 MiB: EMSGSIZE
    zstate_batch_reset (batch);
    size_t size = ZSTATE_MESSAGE_MAX / 4;
    char *value = (char *) zmalloc (size);
    for (int index = 0; index < 5; index++) {
        assert (zstate_batch_append (batch, ZSTATE_OP_SET, "k", 1) == 0);
        assert (zstate_batch_field (batch, "f", 1, value, size - 64) == 0);
    }
    errno = 0;
    assert (!zstate_sonic_msg_encode ("D", "T", batch, NULL) && errno == EMSGSIZE);
    free (value);
    zstate_batch_destroy (&batch);

    //  Reason texts and names: one per code, all different
    for (int reason = 0; reason < ZSTATE_SONIC_REASONS; reason++)
        for (int other = 0; other < reason; other++) {
            assert (!streq (zstate_sonic_msg_reason_str (reason),
                            zstate_sonic_msg_reason_str (other)));
            assert (!streq (zstate_sonic_msg_reason_name (reason),
                            zstate_sonic_msg_reason_name (other)));
        }
    assert (streq (zstate_sonic_msg_reason_str (-1), "unknown reason"));
    assert (streq (zstate_sonic_msg_reason_name (ZSTATE_SONIC_REASONS), "unknown"));
}


//  --------------------------------------------------------------------------
//  Self test of the suite.

void
zstate_sonic_msg_suite_test (bool verbose)
{
    printf (" * zstate_sonic_msg_suite: ");
    if (verbose)
        printf ("\n");
    zlist_t *vectors = zstate_sonic_vectors_load ();
    s_test_golden (vectors, 6, verbose);
    zlist_t *swss = zstate_sonic_vectors_load_file ("sonic-swss-frames.txt");
    s_test_golden (swss, 3, verbose);
    zlist_destroy (&swss);
    s_test_merge (vectors);
    zstate_sonic_msg_t *decoder = zstate_sonic_msg_new ();
    s_test_truncations (vectors, decoder);
    s_test_hostile_sizes ((zstate_sonic_vector_t *) zlist_first (vectors), decoder);
    s_test_pair_counts (decoder);
    s_test_counts (decoder);
    s_test_names (decoder);
    s_test_oversize (decoder);
    s_test_bit_flips (vectors, decoder);
    s_test_encode (decoder);
    zstate_sonic_msg_destroy (&decoder);
    zlist_destroy (&vectors);
    printf ("OK\n");
}
