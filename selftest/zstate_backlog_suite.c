/*  =========================================================================
    zstate_backlog_suite - the backlog's full selftest: the merge rules,
    order and restore, the bound, binary, wide and burst cases, and a
    model-based test against a plain map

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_backlog.h"

//  Add op on the C string key with fields name, value, ..., NULL
static int
s_test_add (zstate_backlog_t *backlog, const char *key, int op, ...)
{
    zstate_backlog_field_t fields [8];
    size_t count = 0;
    va_list args;
    va_start (args, op);
    const char *name;
    while ((name = va_arg (args, const char *))) {
        assert (count < 8);
        const char *value = va_arg (args, const char *);
        fields [count++] = (zstate_backlog_field_t) { name, strlen (name), value, strlen (value) };
    }
    va_end (args);
    return zstate_backlog_add (backlog, key, strlen (key), op, fields, count, 0);
}

//  Assert that entry holds key, op and exactly the fields name, value,
//  ..., NULL, in this order
static void
s_test_expect (zstate_backlog_entry_t *entry, const char *key, int op, ...)
{
    assert (entry);
    assert (streq (zstate_backlog_entry_key (entry, NULL), key));
    assert (zstate_backlog_entry_op (entry) == op);
    size_t count = zstate_backlog_entry_field_count (entry);
    const char *parts [16];
    size_t sizes [16];
    assert (count <= 8);
    zstate_backlog_entry_fields (entry, parts, sizes);
    va_list args;
    va_start (args, op);
    size_t part = 0;
    const char *text;
    while ((text = va_arg (args, const char *))) {
        assert (part < 2 * count);
        assert (sizes [part] == strlen (text) && memcmp (parts [part], text, sizes [part]) == 0);
        part++;
    }
    va_end (args);
    assert (part == 2 * count);
}


//  The merge rules and first-dirtied order; leaves the six entries in
//  flight, in taken
static zstate_backlog_t *
s_test_merge_rules (zstate_backlog_entry_t **taken)
{
    //  The merge rules, and first-dirtied order
    zstate_backlog_t *backlog = zstate_backlog_new ();
    assert (s_test_add (backlog, "a", ZSTATE_OP_SET, "x", "1", NULL) == 0);
    assert (s_test_add (backlog, "b", ZSTATE_OP_HSET, "x", "1", "y", "1", NULL) == 0);
    assert (s_test_add (backlog, "c", ZSTATE_OP_SET, "w", "0", "x", "1", NULL) == 0);
    assert (s_test_add (backlog, "d", ZSTATE_OP_DEL, NULL) == 0);
    assert (s_test_add (backlog, "e", ZSTATE_OP_SET, "x", "1", NULL) == 0);
    assert (s_test_add (backlog, "f", ZSTATE_OP_HSET, "x", "1", NULL) == 0);
    assert (s_test_add (backlog, "a", ZSTATE_OP_SET, "y", "2", NULL) == 1);
    assert (s_test_add (backlog, "b", ZSTATE_OP_HSET, "y", "2", "z", "3", NULL) == 1);
    assert (s_test_add (backlog, "c", ZSTATE_OP_HSET, "x", "2", NULL) == 1);
    assert (s_test_add (backlog, "d", ZSTATE_OP_HSET, "x", "1", NULL) == 1);
    assert (s_test_add (backlog, "e", ZSTATE_OP_DEL, NULL) == 1);
    assert (s_test_add (backlog, "f", ZSTATE_OP_SET, NULL) == 1);
    assert (s_test_add (backlog, "a", 99, NULL) == -1 && errno == EINVAL);
    assert (zstate_backlog_pending (backlog) == 6 && zstate_backlog_seq (backlog) == 12);
    zstate_backlog_verify (backlog);
    for (size_t index = 0; index < 6; index++)
        taken [index] = zstate_backlog_take (backlog);
    assert (zstate_backlog_take (backlog) == NULL);
    s_test_expect (taken [0], "a", ZSTATE_OP_SET, "y", "2", NULL);
    s_test_expect (taken [1], "b", ZSTATE_OP_HSET, "x", "1", "y", "2", "z", "3", NULL);
    s_test_expect (taken [2], "c", ZSTATE_OP_SET, "w", "0", "x", "2", NULL);
    s_test_expect (taken [3], "d", ZSTATE_OP_SET, "x", "1", NULL);
    s_test_expect (taken [4], "e", ZSTATE_OP_DEL, NULL);
    s_test_expect (taken [5], "f", ZSTATE_OP_SET, NULL);
    assert (zstate_backlog_pending (backlog) == 0 && zstate_backlog_in_flight (backlog) == 6);

    return backlog;
}

static void
s_test_restore (zstate_backlog_t *backlog, zstate_backlog_entry_t **taken)
{
    //  A key in flight dirtied again is a new pending entry, last in line;
    //  the unconfirmed one restored goes under it, first in line
    assert (s_test_add (backlog, "g", ZSTATE_OP_SET, "x", "1", NULL) == 0);
    assert (s_test_add (backlog, "a", ZSTATE_OP_HSET, "z", "9", NULL) == 0);
    assert (s_test_add (backlog, "b", ZSTATE_OP_SET, "q", "1", NULL) == 0);
    assert (s_test_add (backlog, "c", ZSTATE_OP_DEL, NULL) == 0);
    assert (s_test_add (backlog, "d", ZSTATE_OP_HSET, "y", "5", NULL) == 0);
    uint64_t seq;
    assert (zstate_backlog_oldest (backlog, &seq, NULL) && seq == 1);
    zstate_backlog_confirm (backlog, &taken [5]);
    assert (taken [5] == NULL);
    for (size_t index = 5; index-- > 0;)
        assert (zstate_backlog_restore (backlog, &taken [index]) == (index < 4));
    assert (zstate_backlog_pending (backlog) == 6 && zstate_backlog_in_flight (backlog) == 0);
    zstate_backlog_verify (backlog);
    s_test_expect (zstate_backlog_take (backlog), "a", ZSTATE_OP_SET, "y", "2", "z", "9", NULL);
    s_test_expect (zstate_backlog_take (backlog), "b", ZSTATE_OP_SET, "q", "1", NULL);
    s_test_expect (zstate_backlog_take (backlog), "c", ZSTATE_OP_DEL, NULL);
    s_test_expect (zstate_backlog_take (backlog), "d", ZSTATE_OP_SET, "x", "1", "y", "5", NULL);
    s_test_expect (zstate_backlog_take (backlog), "e", ZSTATE_OP_DEL, NULL);
    s_test_expect (zstate_backlog_take (backlog), "g", ZSTATE_OP_SET, "x", "1", NULL);
    zstate_backlog_verify (backlog);
    zstate_backlog_destroy (&backlog);
}

static void
s_test_bound (void)
{
    zstate_backlog_t *backlog;
    //  The bound counts entries in flight; at the key bound a pending key
    //  still folds in; the class refuses and changes nothing
    backlog = zstate_backlog_new ();
    zstate_backlog_set_bound (backlog, 2, 0);
    assert (s_test_add (backlog, "a", ZSTATE_OP_SET, "x", "1", NULL) == 0);
    assert (zstate_backlog_take (backlog));     //  a, in flight
    assert (s_test_add (backlog, "b", ZSTATE_OP_SET, "x", "1", NULL) == 0);
    assert (zstate_backlog_full (backlog, 2, SIZE_MAX));
    assert (!zstate_backlog_full (backlog, 3, SIZE_MAX));
    assert (s_test_add (backlog, "c", ZSTATE_OP_SET, "x", "1", NULL) == -1 && errno == ENOBUFS);
    assert (strstr (zstate_reason (), "2 keys"));
    assert (s_test_add (backlog, "a", ZSTATE_OP_SET, "x", "2", NULL) == -1 && errno == ENOBUFS);
    assert (s_test_add (backlog, "b", ZSTATE_OP_HSET, "y", "1", NULL) == 1);
    size_t bytes = zstate_backlog_bytes (backlog);
    assert (zstate_backlog_full (backlog, SIZE_MAX, bytes));
    zstate_backlog_set_bound (backlog, 0, bytes);
    assert (s_test_add (backlog, "b", ZSTATE_OP_DEL, NULL) == -1 && errno == ENOBUFS);
    assert (zstate_backlog_bytes (backlog) == bytes && zstate_backlog_seq (backlog) == 3);
    zstate_backlog_set_bound (backlog, 0, 0);
    assert (s_test_add (backlog, "c", ZSTATE_OP_DEL, NULL) == 0);
    zstate_backlog_verify (backlog);
    //  Destroy frees what is pending and what is in flight
    zstate_backlog_destroy (&backlog);
    assert (backlog == NULL);
    zstate_backlog_destroy (&backlog);
}

//  Binary keys and fields; leaves the backlog empty
static void
s_test_binary (zstate_backlog_t *backlog)
{
    zstate_backlog_entry_t *entry;
    uint64_t seq;
    const char *parts [4];
    size_t sizes [4];
    //  Namespaced keys never collide
    const char key1 [] = { 'd', 'b', 0, 'T', 0, 'k' };
    const char key2 [] = { 'd', 'b', 0, 'T', 'k' };
    const char value [] = { 0, (char) 0xff, 0 };
    zstate_backlog_field_t binary [] = { { "n\0m", 3, value, sizeof (value) } };
    assert (zstate_backlog_add (backlog, key1, sizeof (key1), ZSTATE_OP_SET, binary, 1, 7) == 0);
    assert (zstate_backlog_add (backlog, key2, sizeof (key2), ZSTATE_OP_DEL, NULL, 0, 8) == 0);
    int64_t since;
    assert (zstate_backlog_oldest (backlog, &seq, &since) && seq == 1 && since == 7);
    entry = zstate_backlog_take (backlog);
    size_t size;
    const char *key = zstate_backlog_entry_key (entry, &size);
    assert (size == sizeof (key1) && memcmp (key, key1, size) == 0 && key [size] == 0);
    zstate_backlog_entry_fields (entry, parts, sizes);
    assert (sizes [0] == 3 && memcmp (parts [0], "n\0m", 3) == 0);
    assert (sizes [1] == sizeof (value) && memcmp (parts [1], value, sizeof (value)) == 0);
    assert (zstate_backlog_entry_size (entry) == sizeof (key1) + 8 + 3 + sizeof (value));
    zstate_backlog_confirm (backlog, &entry);
    assert (zstate_backlog_oldest (backlog, &seq, &since) && seq == 2 && since == 8);
    entry = zstate_backlog_take (backlog);
    zstate_backlog_confirm (backlog, &entry);
    assert (!zstate_backlog_oldest (backlog, &seq, &since) && seq == 0);
    assert (zstate_backlog_bytes (backlog) == 0);
}

static void
s_test_wide (zstate_backlog_t *backlog)
{
    zstate_backlog_entry_t *entry;
    //  An operation from a batch; wide HSETs merge through the index
    zstate_batch_t *batch = zstate_batch_new ();
    char name [16], text [16];
    for (int field = 0; field < 200; field++) {
        snprintf (name, sizeof (name), "f%d", field);
        snprintf (text, sizeof (text), "%d", field);
        if (field == 0)
            zstate_batch_append (batch, ZSTATE_OP_HSET, "wide", 4);
        if (field == 100)
            zstate_batch_append (batch, ZSTATE_OP_HSET, "wide", 4);
        //  The second HSET names f50..f149 again, then f100..f199 anew
        if (field == 100)
            for (int again = 50; again < 100; again++) {
                snprintf (name, sizeof (name), "f%d", again);
                zstate_batch_field (batch, name, strlen (name), "new", 3);
            }
        snprintf (name, sizeof (name), "f%d", field);
        zstate_batch_field (batch, name, strlen (name), text, strlen (text));
    }
    assert (zstate_backlog_add_batch (backlog, "wide", 4, batch, 0, 0) == 0);
    assert (zstate_backlog_add_batch (backlog, "wide", 4, batch, 1, 0) == 1);
    entry = zstate_backlog_take (backlog);
    assert (zstate_backlog_entry_field_count (entry) == 200);
    const char *wide [400];
    size_t wide_sizes [400];
    zstate_backlog_entry_fields (entry, wide, wide_sizes);
    //  Kept: f0..f49, in order; then the HSET's own fields, in its order
    assert (wide_sizes [0] == 2 && memcmp (wide [0], "f0", 2) == 0);
    assert (wide_sizes [98] == 3 && memcmp (wide [98], "f49", 3) == 0);
    assert (wide_sizes [100] == 3 && memcmp (wide [100], "f50", 3) == 0);
    assert (wide_sizes [101] == 3 && memcmp (wide [101], "new", 3) == 0);
    assert (wide_sizes [398] == 4 && memcmp (wide [398], "f199", 4) == 0);
    zstate_backlog_confirm (backlog, &entry);
    zstate_batch_destroy (&batch);
}

static void
s_test_burst (zstate_backlog_t *backlog)
{
    zstate_backlog_entry_t *entry;
    char name [16];
    //  The table grows for a burst of distinct keys and shrinks once they
    //  are drained
    size_t burst = 100000;
    for (size_t index = 0; index < burst; index++) {
        snprintf (name, sizeof (name), "k%zu", index);
        assert (zstate_backlog_add (backlog, name, strlen (name), ZSTATE_OP_DEL, NULL, 0, 0) == 0);
    }
    zstate_backlog_verify (backlog);
    while ((entry = zstate_backlog_take (backlog)))
        zstate_backlog_confirm (backlog, &entry);
    //  Verify checks that an empty table is back to its first size
    assert (zstate_backlog_bytes (backlog) == 0);
    zstate_backlog_verify (backlog);
}

//  Tags and folds: each entry keeps the tag of its newest operation and
//  counts the operations folded into it, also across a restore
static void
s_test_tags (void)
{
    zstate_backlog_t *backlog = zstate_backlog_new ();
    zstate_backlog_set_tag (backlog, 7);
    assert (s_test_add (backlog, "a", ZSTATE_OP_SET, "x", "1", NULL) == 0);
    assert (s_test_add (backlog, "b", ZSTATE_OP_SET, "x", "1", NULL) == 0);
    zstate_backlog_set_tag (backlog, 9);
    assert (s_test_add (backlog, "a", ZSTATE_OP_HSET, "y", "2", NULL) == 1);
    zstate_backlog_entry_t *entry = zstate_backlog_take (backlog);
    assert (zstate_backlog_entry_tag (entry) == 9 && zstate_backlog_entry_folds (entry) == 2);
    //  A newer operation on the key in flight, then the entry back under it
    zstate_backlog_set_tag (backlog, 12);
    assert (s_test_add (backlog, "a", ZSTATE_OP_HSET, "z", "3", NULL) == 0);
    assert (zstate_backlog_restore (backlog, &entry) == 1);
    entry = zstate_backlog_take (backlog);
    s_test_expect (entry, "a", ZSTATE_OP_SET, "x", "1", "y", "2", "z", "3", NULL);
    assert (zstate_backlog_entry_tag (entry) == 12 && zstate_backlog_entry_folds (entry) == 3);
    zstate_backlog_confirm (backlog, &entry);
    entry = zstate_backlog_take (backlog);
    assert (zstate_backlog_entry_tag (entry) == 7 && zstate_backlog_entry_folds (entry) == 1);
    zstate_backlog_confirm (backlog, &entry);
    zstate_backlog_verify (backlog);
    zstate_backlog_destroy (&backlog);
}

static void
s_test_cases (void)
{
    s_test_tags ();
    zstate_backlog_entry_t *taken [6];
    s_test_restore (s_test_merge_rules (taken), taken);
    s_test_bound ();
    zstate_backlog_t *backlog = zstate_backlog_new ();
    s_test_binary (backlog);
    s_test_wide (backlog);
    s_test_burst (backlog);
    zstate_backlog_destroy (&backlog);
}


//  --------------------------------------------------------------------------
//  The model: random SET, HSET and DEL over a few keys and fields, with
//  take-outs, confirmations and failures interleaved. A sink map gets what
//  the backlog hands out and is confirmed (and, on a failure, what ran
//  but was not confirmed); once all is drained it must equal the plain map
//  the operations were replayed into.

#define MODEL_KEYS      8
#define MODEL_FIELDS    6
#define MODEL_FLIGHT    64

typedef struct {
    int64_t value [MODEL_KEYS][MODEL_FIELDS];   //  -1: field absent
} model_map_t;

static uint64_t
s_random (uint64_t *state)
{
    //  xorshift64*: reproducible from the seed, on every platform
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (*state * 2685821657736338717ULL) >> 11;
}

static void
s_map_apply (model_map_t *map, size_t key, int op, const int64_t *values)
{
    for (size_t field = 0; field < MODEL_FIELDS; field++) {
        if (op != ZSTATE_OP_HSET)
            map->value [key][field] = -1;
        if (op != ZSTATE_OP_DEL && values [field] >= 0)
            map->value [key][field] = values [field];
    }
}

//  Keys and names are binary, values hold the op's number
static void
s_model_key (byte *key, size_t index)
{
    byte base [] = { 'd', 'b', 0, 'T', 0, (byte) index };
    memcpy (key, base, sizeof (base));
}

static void
s_sink_apply (model_map_t *sink, zstate_backlog_entry_t *entry)
{
    size_t size;
    const char *key = zstate_backlog_entry_key (entry, &size);
    assert (size == 6 && (byte) key [5] < MODEL_KEYS);
    size_t count = zstate_backlog_entry_field_count (entry);
    assert (count <= MODEL_FIELDS);
    const char *parts [2 * MODEL_FIELDS];
    size_t sizes [2 * MODEL_FIELDS];
    zstate_backlog_entry_fields (entry, parts, sizes);
    int64_t values [MODEL_FIELDS];
    for (size_t field = 0; field < MODEL_FIELDS; field++)
        values [field] = -1;
    for (size_t field = 0; field < count; field++) {
        assert (sizes [2 * field] == 2 && sizes [2 * field + 1] == 8);
        size_t name = (byte) parts [2 * field][1];
        assert (parts [2 * field][0] == 0 && name < MODEL_FIELDS && values [name] == -1);
        memcpy (&values [name], parts [2 * field + 1], 8);
    }
    s_map_apply (sink, (byte) key [5], zstate_backlog_entry_op (entry), values);
}

//  One random operation, into the backlog and into the model: each field
//  is in it or not, at random. Returns 1 when it folded in, else 0.
static int
s_model_op (zstate_backlog_t *backlog, model_map_t *model, uint64_t *state, uint64_t number,
            int64_t now)
{
    int op = 1 + (int) (s_random (state) % 3);
    size_t key = s_random (state) % MODEL_KEYS;
    int64_t values [MODEL_FIELDS];
    byte names [MODEL_FIELDS][2];
    zstate_backlog_field_t fields [MODEL_FIELDS];
    size_t count = 0;
    for (size_t field = 0; field < MODEL_FIELDS; field++) {
        values [field] = -1;
        if (op != ZSTATE_OP_DEL && s_random (state) % 2 == 0) {
            values [field] = (int64_t) number;
            names [field][0] = 0;
            names [field][1] = (byte) field;
            fields [count++] = (zstate_backlog_field_t) { names [field], 2, &values [field], 8 };
        }
    }
    byte name [6];
    s_model_key (name, key);
    int rc = zstate_backlog_add (backlog, name, sizeof (name), op, fields, count, now);
    assert (rc == 0 || rc == 1);
    s_map_apply (model, key, op, values);
    return rc;
}

//  A failure, then everything is sent and confirmed: the sink must now
//  equal the model, field by field
static void
s_model_drain (zstate_backlog_t *backlog, zstate_backlog_entry_t **flight, size_t *flying_p,
               model_map_t *sink, model_map_t *model, uint64_t *folded_p,
               uint64_t *confirmed_p)
{
    while (*flying_p)
        *folded_p += zstate_backlog_restore (backlog, &flight [--*flying_p]);
    zstate_backlog_entry_t *entry;
    while ((entry = zstate_backlog_take (backlog))) {
        s_sink_apply (sink, entry);
        zstate_backlog_confirm (backlog, &entry);
        (*confirmed_p)++;
    }
    zstate_backlog_verify (backlog);
    for (size_t key = 0; key < MODEL_KEYS; key++)
        for (size_t field = 0; field < MODEL_FIELDS; field++)
            assert (sink->value [key][field] == model->value [key][field]);
}

static void
s_model_run (uint64_t seed, size_t ops, bool verbose)
{
    uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
    model_map_t model, sink;
    memset (&model, 0xff, sizeof (model));
    memset (&sink, 0xff, sizeof (sink));
    zstate_backlog_t *backlog = zstate_backlog_new ();
    zstate_backlog_entry_t *flight [MODEL_FLIGHT];
    size_t flying = 0;
    uint64_t added = 0, folded = 0, confirmed = 0, failures = 0;
    for (size_t step = 0; added < ops; step++) {
        uint64_t dice = s_random (&state) % 100;
        if (dice < 60) {
            folded += s_model_op (backlog, &model, &state, added, (int64_t) step);
            added++;
        }
        else
        if (dice < 75) {
            size_t take = 1 + s_random (&state) % 8;
            while (take-- && flying < MODEL_FLIGHT
               &&  (flight [flying] = zstate_backlog_take (backlog)))
                flying++;
        }
        else
        if (dice < 90 || dice == 99 || flying == 0) {
            //  The oldest in flight are confirmed, in order
            size_t count = flying? s_random (&state) % (flying + 1): 0;
            for (size_t index = 0; index < count; index++) {
                s_sink_apply (&sink, flight [index]);
                zstate_backlog_confirm (backlog, &flight [index]);
                confirmed++;
            }
            memmove (flight, flight + count, (flying - count) * sizeof (flight [0]));
            flying -= count;
        }
        else {
            //  A failure: the oldest few ran but no confirmation came; all
            //  go back, newest first
            size_t ran = s_random (&state) % (flying + 1);
            for (size_t index = 0; index < ran; index++)
                s_sink_apply (&sink, flight [index]);
            if (s_random (&state) % 2)
                folded += zstate_backlog_restore_all (backlog);
            else
            while (flying)
                folded += zstate_backlog_restore (backlog, &flight [--flying]);
            flying = 0;
            failures++;
        }
        if (step % 499 == 0)
            s_model_drain (backlog, flight, &flying, &sink, &model, &folded, &confirmed);
        if (step % 97 == 0) {
            zstate_backlog_verify (backlog);
            assert (zstate_backlog_in_flight (backlog) == flying);
            assert (added == confirmed + folded + zstate_backlog_pending (backlog) + flying);
        }
    }
    s_model_drain (backlog, flight, &flying, &sink, &model, &folded, &confirmed);
    assert (added == confirmed + folded);
    assert (zstate_backlog_bytes (backlog) == 0);
    if (verbose)
        zsys_info ("backlog model, seed %" PRIu64 ": %" PRIu64 " ops, %" PRIu64 " folded, %"
                   PRIu64 " confirmed, %" PRIu64 " failures", seed, added, folded,
                   confirmed, failures);
    zstate_backlog_destroy (&backlog);
}

//  A walk sees the pending entries in the order take hands them out,
//  also after a restore, and changes nothing
static void
s_test_walk (void)
{
    zstate_backlog_t *backlog = zstate_backlog_new ();
    const char *keys [] = { "a", "b", "c" };
    for (int index = 0; index < 3; index++)
        assert (zstate_backlog_add (backlog, keys [index], 1, ZSTATE_OP_DEL, NULL, 0, 0) == 0);
    zstate_backlog_entry_t *entry = zstate_backlog_take (backlog);
    entry = zstate_backlog_take (backlog);
    assert (zstate_backlog_first (backlog) && zstate_backlog_restore_all (backlog) == 0);
    for (int pass = 0; pass < 2; pass++) {
        int index = 0;
        for (entry = zstate_backlog_first (backlog); entry;
             entry = zstate_backlog_next (entry)) {
            size_t size;
            assert (index < 3);
            assert (memcmp (zstate_backlog_entry_key (entry, &size), keys [index++], 1) == 0);
        }
        assert (index == 3 && zstate_backlog_pending (backlog) == 3);
        zstate_backlog_verify (backlog);
    }
    for (int index = 0; index < 3; index++) {
        size_t size;
        entry = zstate_backlog_take (backlog);
        assert (memcmp (zstate_backlog_entry_key (entry, &size), keys [index], 1) == 0);
        zstate_backlog_confirm (backlog, &entry);
    }
    assert (zstate_backlog_first (backlog) == NULL);
    zstate_backlog_destroy (&backlog);
}

//  --------------------------------------------------------------------------
//  Self test of zstate_backlog: an example. The merge rules, the bound and
//  a model-based test are zstate_backlog_suite_test, below.

void
zstate_backlog_test (bool verbose)
{
    printf (" * zstate_backlog: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A sender keeps what it could not deliver yet, one entry per key
    zstate_backlog_t *backlog = zstate_backlog_new ();
    assert (backlog);
    zstate_backlog_field_t route [] = {
        { "nexthop", 7, "10.0.0.1", 8 }, { "ifname", 6, "Ethernet0", 9 }
    };
    zstate_backlog_field_t moved [] = { { "ifname", 6, "Ethernet4", 9 } };
    int64_t now = zclock_mono ();
    assert (zstate_backlog_add (backlog, "ROUTE:10.1.0.0/16", 17, ZSTATE_OP_SET,
                                route, 2, now) == 0);
    assert (zstate_backlog_add (backlog, "ROUTE:10.2.0.0/16", 17, ZSTATE_OP_DEL,
                                NULL, 0, now) == 0);
    //  The same key again folds into its entry: still two keys
    assert (zstate_backlog_add (backlog, "ROUTE:10.1.0.0/16", 17, ZSTATE_OP_HSET,
                                moved, 1, now) == 1);
    assert (zstate_backlog_pending (backlog) == 2);
    //  Send the oldest; keep it until the peer confirms it
    zstate_backlog_entry_t *entry = zstate_backlog_take (backlog);
    const char *parts [4];
    size_t sizes [4];
    assert (zstate_backlog_entry_field_count (entry) == 2);
    zstate_backlog_entry_fields (entry, parts, sizes);
    assert (sizes [3] == 9 && memcmp (parts [3], "Ethernet4", 9) == 0);
    zstate_backlog_confirm (backlog, &entry);
    //  The next one is lost on the way: it goes back, to be sent again
    entry = zstate_backlog_take (backlog);
    assert (zstate_backlog_entry_op (entry) == ZSTATE_OP_DEL);
    assert (zstate_backlog_restore (backlog, &entry) == 0);
    assert (zstate_backlog_pending (backlog) == 1);
    zstate_backlog_destroy (&backlog);
    //  @end

    printf ("OK\n");
}

void
zstate_backlog_suite_test (bool verbose)
{
    printf (" * zstate_backlog_suite: ");
    if (verbose)
        printf ("\n");
    s_test_cases ();
    s_test_walk ();
    //  ZSTATE_SELFTEST_SEED=N replays one seed
    const char *seed = getenv ("ZSTATE_SELFTEST_SEED");
    if (seed)
        s_model_run (strtoull (seed, NULL, 10), 20000, verbose);
    else
        for (uint64_t run = 1; run <= 5; run++)
            s_model_run (run, 20000, verbose);
    printf ("OK\n");
}
