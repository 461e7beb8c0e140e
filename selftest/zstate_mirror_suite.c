/*  =========================================================================
    zstate_mirror_suite - the mirror's selftest: the merge rules, the
    bound, views, the snapshot cursor, and a model-based test against a
    plain map

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_mirror.h"
#include "zstate_test_assert.h"

//  The entry of key, as the mirror would snapshot it, or NULL
static zstate_batch_t *
s_lookup (zstate_mirror_t *mirror, const char *key)
{
    zstate_batch_t *batch = zstate_batch_new ();
    if (!zstate_mirror_lookup (mirror, key, strlen (key), batch))
        zstate_batch_destroy (&batch);
    return batch;
}

static void
s_apply_one (zstate_mirror_t *mirror, zstate_batch_t *batch)
{
    assert (zstate_mirror_check (mirror, batch) == 0);
    zstate_mirror_apply (mirror, batch);
    zstate_batch_reset (batch);
}

//  The rules one at a time: SET replaces, HSET merges, DEL removes
static void
s_test_rules (void)
{
    zstate_mirror_t *mirror = zstate_mirror_new (10);
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_hset (batch, "a", "x", "1", "y", "2", NULL);
    s_apply_one (mirror, batch);
    zstate_batch_t *entry = s_lookup (mirror, "a");
    assert (entry && zstate_batch_op (entry, 0) == ZSTATE_OP_HSET);
    assert (zstate_batch_field_count (entry, 0) == 2);
    zstate_batch_destroy (&entry);

    zstate_batch_hset (batch, "a", "y", "3", "z", "4", NULL);
    s_apply_one (mirror, batch);
    entry = s_lookup (mirror, "a");
    assert (zstate_batch_field_count (entry, 0) == 3);
    assert (streq (zstate_batch_get (entry, 0, "x"), "1"));
    assert (streq (zstate_batch_get (entry, 0, "y"), "3"));
    assert (streq (zstate_batch_get (entry, 0, "z"), "4"));
    zstate_batch_destroy (&entry);

    zstate_batch_set (batch, "a", "w", "5", NULL);
    s_apply_one (mirror, batch);
    entry = s_lookup (mirror, "a");
    assert (zstate_batch_op (entry, 0) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (entry, 0) == 1);
    assert (streq (zstate_batch_get (entry, 0, "w"), "5"));
    zstate_batch_destroy (&entry);
    //  An HSET over a SET stays a SET
    zstate_batch_hset (batch, "a", "v", "6", NULL);
    s_apply_one (mirror, batch);
    entry = s_lookup (mirror, "a");
    assert (zstate_batch_op (entry, 0) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (entry, 0) == 2);
    zstate_batch_destroy (&entry);

    zstate_batch_del (batch, "a");
    s_apply_one (mirror, batch);
    assert (s_lookup (mirror, "a") == NULL);
    assert (zstate_mirror_size (mirror) == 0 && zstate_mirror_bytes (mirror) == 0);
    //  A DEL of a key not held changes nothing
    zstate_batch_del (batch, "nothing");
    s_apply_one (mirror, batch);
    assert (zstate_mirror_size (mirror) == 0);
    zstate_batch_destroy (&batch);
    zstate_mirror_destroy (&mirror);
    assert (mirror == NULL);
}

//  The bound: refused whole at the first new key past it, counting what
//  a batch deletes before it adds
static void
s_test_bound (void)
{
    zstate_mirror_t *mirror = zstate_mirror_new (3);
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "a", NULL);
    zstate_batch_set (batch, "b", NULL);
    zstate_batch_set (batch, "c", NULL);
    s_apply_one (mirror, batch);
    zstate_batch_set (batch, "d", NULL);
    assert (zstate_mirror_check (mirror, batch) == -1 && errno == ENOBUFS);
    assert (strstr (zstate_reason (), "mirror full"));
    //  Existing keys and DELs always pass
    zstate_batch_reset (batch);
    zstate_batch_hset (batch, "a", "f", "1", NULL);
    zstate_batch_del (batch, "zz");
    s_apply_one (mirror, batch);
    //  A DEL first makes room for the new key after it
    zstate_batch_del (batch, "a");
    zstate_batch_set (batch, "d", NULL);
    zstate_batch_set (batch, "d", "x", "y", NULL);
    s_apply_one (mirror, batch);
    assert (zstate_mirror_size (mirror) == 3);
    //  ...but not after it
    zstate_batch_set (batch, "e", NULL);
    zstate_batch_del (batch, "b");
    assert (zstate_mirror_check (mirror, batch) == -1);
    //  A key set, deleted and set again in one batch counts once
    zstate_batch_reset (batch);
    zstate_batch_del (batch, "b");
    zstate_batch_set (batch, "e", NULL);
    zstate_batch_del (batch, "e");
    zstate_batch_set (batch, "e", NULL);
    s_apply_one (mirror, batch);
    assert (zstate_mirror_size (mirror) == 3);
    zstate_batch_destroy (&batch);
    zstate_mirror_destroy (&mirror);
}

//  A view keeps only what it wrote
static void
s_test_view (void)
{
    zstate_mirror_t *mirror = zstate_mirror_new (100);
    zstate_batch_t *batch = zstate_batch_new ();
    for (int index = 0; index < 10; index++) {
        char key [16];
        snprintf (key, sizeof (key), "k%d", index);
        zstate_batch_set (batch, key, "v", "old", NULL);
    }
    s_apply_one (mirror, batch);
    //  No view open: end_view drops nothing
    assert (zstate_mirror_end_view (mirror) == 0);
    zstate_mirror_begin_view (mirror);
    zstate_batch_hset (batch, "k1", "w", "1", NULL);
    zstate_batch_set (batch, "k2", NULL);
    zstate_batch_set (batch, "new", NULL);
    zstate_batch_del (batch, "k3");
    s_apply_one (mirror, batch);
    assert (zstate_mirror_end_view (mirror) == 7);
    assert (zstate_mirror_size (mirror) == 3);
    zstate_batch_t *entry = s_lookup (mirror, "k1");
    //  An HSET in the view re-asserts the key with what it held
    assert (entry && streq (zstate_batch_get (entry, 0, "v"), "old"));
    zstate_batch_destroy (&entry);
    assert (s_lookup (mirror, "k4") == NULL);
    //  An empty view drops everything
    zstate_mirror_begin_view (mirror);
    assert (zstate_mirror_end_view (mirror) == 3);
    assert (zstate_mirror_size (mirror) == 0 && zstate_mirror_bytes (mirror) == 0);
    zstate_batch_destroy (&batch);
    zstate_mirror_destroy (&mirror);
}

//  The cursor: chunks by operations and bytes, keys removed under it and
//  added after it
static void
s_test_snapshot (void)
{
    zstate_mirror_t *mirror = zstate_mirror_new (100);
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_mirror_snapshot_start (mirror);
    assert (zstate_mirror_snapshot_next (mirror, batch, 0, 10, 1000) == 0);
    for (int index = 0; index < 10; index++) {
        char key [16];
        snprintf (key, sizeof (key), "k%d", index);
        zstate_batch_set (batch, key, "v", "1", NULL);
    }
    s_apply_one (mirror, batch);
    zstate_mirror_snapshot_start (mirror);
    assert (zstate_mirror_snapshot_next (mirror, batch, 0, 3, 100000) == 3);
    assert (streq (zstate_batch_key (batch, 0, NULL), "k0"));
    zstate_batch_reset (batch);
    //  k3 is under the cursor: deleting it moves the cursor to k4
    zstate_batch_del (batch, "k3");
    zstate_batch_del (batch, "k5");
    zstate_batch_set (batch, "k4", "v", "2", NULL);
    zstate_batch_set (batch, "late", NULL);
    s_apply_one (mirror, batch);
    //  Each op of k<n> is 1+4+2+1+4 + 10+1+1 = 24 bytes: 2 fit in 50
    assert (zstate_mirror_snapshot_next (mirror, batch, 0, 100, 50) == 2);
    assert (streq (zstate_batch_key (batch, 0, NULL), "k4"));
    assert (streq (zstate_batch_get (batch, 0, "v"), "2"));
    assert (streq (zstate_batch_key (batch, 1, NULL), "k6"));
    zstate_batch_reset (batch);
    //  One entry over the bytes bound goes alone
    assert (zstate_mirror_snapshot_next (mirror, batch, 0, 100, 10) == 1);
    zstate_batch_reset (batch);
    assert (zstate_mirror_snapshot_next (mirror, batch, 0, 100, 100000) == 3);
    assert (streq (zstate_batch_key (batch, 2, NULL), "late"));
    assert (zstate_mirror_snapshot_next (mirror, batch, 0, 100, 100000) == 0);
    zstate_batch_destroy (&batch);
    zstate_mirror_destroy (&mirror);
}

//  The model: a plain array of keys and fields
#define MODEL_KEYS      24
#define MODEL_FIELDS    4
#define MODEL_BOUND     16

typedef struct {
    bool present [MODEL_KEYS];
    bool set [MODEL_KEYS];
    int value [MODEL_KEYS][MODEL_FIELDS];   //  0: no such field
    bool written [MODEL_KEYS];              //  In the open view
    bool view;
    size_t keys;
} model_t;

static void
s_model_apply (model_t *model, int op, int key, const int *values)
{
    if (model->view)
        model->written [key] = op != ZSTATE_OP_DEL;
    if (op == ZSTATE_OP_DEL) {
        model->keys -= model->present [key];
        model->present [key] = false;
        return;
    }
    if (!model->present [key]) {
        model->keys++;
        model->present [key] = true;
        model->set [key] = false;
        memset (model->value [key], 0, sizeof (model->value [key]));
    }
    if (op == ZSTATE_OP_SET) {
        model->set [key] = true;
        memset (model->value [key], 0, sizeof (model->value [key]));
    }
    for (int field = 0; field < MODEL_FIELDS; field++)
        if (values [field])
            model->value [key][field] = values [field];
}

//  Operation index of batch holds key's entry as the model has it
static void
s_model_expect (model_t *model, int key, zstate_batch_t *batch, size_t index)
{
    assert (model->present [key]);
    assert (zstate_batch_op (batch, index) == (model->set [key]? ZSTATE_OP_SET: ZSTATE_OP_HSET));
    size_t fields = 0;
    for (int field = 0; field < MODEL_FIELDS; field++) {
        char name [8];
        snprintf (name, sizeof (name), "f%d", field);
        const char *value = zstate_batch_get (batch, index, name);
        if (model->value [key][field]) {
            assert (value && atoi (value) == model->value [key][field]);
            fields++;
        }
        else
            assert (value == NULL);
    }
    assert (zstate_batch_field_count (batch, index) == fields);
}

static void
s_model_compare (model_t *model, zstate_mirror_t *mirror)
{
    assert (zstate_mirror_size (mirror) == model->keys);
    for (int key = 0; key < MODEL_KEYS; key++) {
        char name [8];
        snprintf (name, sizeof (name), "k%d", key);
        zstate_batch_t *entry = s_lookup (mirror, name);
        assert ((entry != NULL) == model->present [key]);
        if (entry)
            s_model_expect (model, key, entry, 0);
        zstate_batch_destroy (&entry);
    }
}

//  A random batch of 1 to 4 operations, in the mirror and the model; the
//  model says whether the bound refuses it
static void
s_model_batch (model_t *model, zstate_mirror_t *mirror, zstate_batch_t *batch)
{
    model_t after = *model;
    size_t peak = model->keys;
    int ops = 1 + randof (4);
    zstate_batch_reset (batch);
    for (int count = 0; count < ops; count++) {
        int key = randof (MODEL_KEYS);
        int op = randof (3) == 0? ZSTATE_OP_DEL: randof (2)? ZSTATE_OP_SET: ZSTATE_OP_HSET;
        int values [MODEL_FIELDS] = { 0 };
        char name [8];
        snprintf (name, sizeof (name), "k%d", key);
        int rc = zstate_batch_append (batch, op, name, strlen (name));
        assert (rc == 0);
        for (int field = 0; op != ZSTATE_OP_DEL && field < MODEL_FIELDS; field++)
            if (randof (2)) {
                char fname [8], value [16];
                values [field] = 1 + randof (1000);
                snprintf (fname, sizeof (fname), "f%d", field);
                snprintf (value, sizeof (value), "%d", values [field]);
                rc = zstate_batch_field (batch, fname, strlen (fname), value, strlen (value));
                assert (rc == 0);
            }
        s_model_apply (&after, op, key, values);
        if (after.keys > peak)
            peak = after.keys;
    }
    int rc = zstate_mirror_check (mirror, batch);
    assert ((rc == 0) == (peak <= MODEL_BOUND));
    if (rc == 0) {
        assert (zstate_mirror_apply (mirror, batch) == after.keys);
        *model = after;
    }
}

//  Random batches, views and snapshots against the model: every entry a
//  snapshot reads is the model's at that moment, and every key held from
//  the snapshot's start to its end is read at least once
static void
s_test_model (bool verbose)
{
    zstate_mirror_t *mirror = zstate_mirror_new (MODEL_BOUND);
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_t *chunk = zstate_batch_new ();
    model_t model = { .keys = 0 };
    bool running = false;
    bool held [MODEL_KEYS], read [MODEL_KEYS];
    size_t snapshots = 0;
    for (int step = 0; step < 20000; step++) {
        int what = randof (100);
        if (what < 3 && !model.view) {
            zstate_mirror_begin_view (mirror);
            model.view = true;
            memset (model.written, 0, sizeof (model.written));
        }
        else
        if (what < 6 && model.view) {
            size_t dropped = 0;
            for (int key = 0; key < MODEL_KEYS; key++)
                if (model.present [key] && !model.written [key]) {
                    model.present [key] = false;
                    model.keys--;
                    dropped++;
                }
            assert (zstate_mirror_end_view (mirror) == dropped);
            model.view = false;
        }
        else
        if (what < 10 && !running) {
            zstate_mirror_snapshot_start (mirror);
            running = true;
            memcpy (held, model.present, sizeof (held));
            memset (read, 0, sizeof (read));
        }
        else
        if (what < 30 && running) {
            zstate_batch_reset (chunk);
            size_t count = zstate_mirror_snapshot_next (mirror, chunk, 0, 1 + randof (3),
                                                        100000);
            for (size_t index = 0; index < count; index++) {
                int key = atoi (zstate_batch_key (chunk, index, NULL) + 1);
                s_model_expect (&model, key, chunk, index);
                read [key] = true;
            }
            if (count == 0) {
                for (int key = 0; key < MODEL_KEYS; key++)
                    assert (!held [key] || read [key]);
                running = false;
                snapshots++;
            }
        }
        else
            s_model_batch (&model, mirror, batch);
        //  A key deleted while the snapshot runs need not be read
        for (int key = 0; running && key < MODEL_KEYS; key++)
            held [key] &= model.present [key];
        if (step % 97 == 0)
            s_model_compare (&model, mirror);
    }
    s_model_compare (&model, mirror);
    assert (snapshots > 10);
    if (verbose)
        printf ("   model: %zu snapshots, %zu keys at the end\n", snapshots, model.keys);
    zstate_batch_destroy (&chunk);
    zstate_batch_destroy (&batch);
    zstate_mirror_destroy (&mirror);
}

void
zstate_mirror_test (bool verbose)
{
    printf (" * zstate_mirror: ");
    if (verbose)
        printf ("\n");
    s_test_rules ();
    s_test_bound ();
    s_test_view ();
    s_test_snapshot ();
    s_test_model (verbose);
    printf ("OK\n");
}
