/*  =========================================================================
    zstate_keyset_suite - the key set's suites: a model-based run against
    a plain map, the sweep off, growth and shrinking, keys chosen to
    collide, the generation's wrap-around and windows shorter than their
    END; then selftest/zstate_keyset_arena_suite.c

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_keyset.h"

void
    zstate_keyset_suites (bool verbose);
//  From selftest/zstate_keyset_arena_suite.c
void
    zstate_keyset_arena_suite (bool verbose);

static void
s_test_session (byte *session, int which)
{
    memset (session, 0, ZSTATE_MSG_SESSION_SIZE);
    session [0] = (byte) (which + 1);
}

//  The sweep off: windows merge, nothing is kept, and it cannot come back
//  on once operations went by
static void
s_test_sweep_off (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    byte session [ZSTATE_MSG_SESSION_SIZE];
    s_test_session (session, 0);
    //  Nothing noted yet: it may come back on
    assert (zstate_keyset_set_sweep (keyset, false) == 0);
    assert (!zstate_keyset_sweeps (keyset));
    assert (zstate_keyset_set_sweep (keyset, true) == 0);
    zstate_batch_set (batch, "kept", NULL);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_size (keyset) == 1);
    assert (zstate_keyset_set_sweep (keyset, false) == 0);
    assert (zstate_keyset_size (keyset) == 0);
    //  The key it dropped is still the application's
    assert (zstate_keyset_set_sweep (keyset, true) == -1 && errno == EBUSY);
    zstate_keyset_begin (keyset, session, 7);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_size (keyset) == 0);
    assert (zstate_keyset_end (keyset, session, 7, 1, true) == ZSTATE_KEYSET_MERGED);
    assert (zstate_keyset_sweeping (keyset) == 0);
    assert (zstate_keyset_set_sweep (keyset, true) == -1 && errno == EBUSY);
    assert (strstr (zstate_reason (), "the keys they left"));
    zstate_consumer_stats_t stats;
    zstate_keyset_stats (keyset, &stats);
    assert (stats.windows == 1 && stats.windows_completed == 1 && stats.windows_merged == 1);
    //  Destroyed with a sweep still queued: no leak
    zstate_keyset_t *other = zstate_keyset_new ();
    zstate_keyset_begin (other, session, 1);
    zstate_keyset_note (other, batch, 0);
    zstate_keyset_begin (other, session, 2);
    assert (zstate_keyset_end (other, session, 2, 1, true) == ZSTATE_KEYSET_SWEPT);
    assert (zstate_keyset_sweeping (other) == 1);
    zstate_keyset_destroy (&other);
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

#define TEST_GROW_KEYS  150000

//  Growth and shrinking: 150,000 keys in (a table of 4 MiB, in huge pages
//  where the kernel gives them), all but every hundredth out in a
//  scrambled order, each answer checked
static void
s_test_grow_shrink (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    char key [32];
    for (size_t number = 0; number < TEST_GROW_KEYS; number++) {
        snprintf (key, sizeof (key), "grow-%zu", number);
        zstate_batch_hset (batch, key, "f", "v", NULL);
    }
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_size (keyset) == TEST_GROW_KEYS);
    zstate_batch_reset (batch);
    for (size_t step = 0; step < TEST_GROW_KEYS; step++) {
        //  7919 is a prime: every number comes once
        size_t number = (step * 7919) % TEST_GROW_KEYS;
        snprintf (key, sizeof (key), "grow-%zu", number);
        if (number % 100)
            zstate_batch_del (batch, key);
    }
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_size (keyset) == TEST_GROW_KEYS / 100);
    for (size_t number = 0; number < TEST_GROW_KEYS; number++) {
        snprintf (key, sizeof (key), "grow-%zu", number);
        assert (zstate_keyset_holds (keyset, key, strlen (key)) == (number % 100 == 0));
    }
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

//  The key set's hash before it had a seed: what a producer that wants its
//  keys to collide can compute
static uint32_t
s_unseeded_hash (const byte *key, size_t size)
{
    uint64_t hash = 0x9E3779B97F4A7C15ULL ^ (uint64_t) size;
    uint64_t word;
    while (size >= 8) {
        memcpy (&word, key, 8);
        hash = (hash ^ word) * 0xFF51AFD7ED558CCDULL;
        hash ^= hash >> 32;
        key += 8;
        size -= 8;
    }
    word = 0;
    memcpy (&word, key, size);
    hash ^= word;
    hash ^= hash >> 33;
    hash *= 0xFF51AFD7ED558CCDULL;
    hash ^= hash >> 33;
    hash *= 0xC4CEB9FE1A85EC53ULL;
    return (uint32_t) (hash ^ (hash >> 33));
}

#define TEST_FLOOD_KEYS     1000
#define TEST_FLOOD_MASK     0xFFF   //  the slots of any table up to 4,096

//  A flood: 1,000 keys that all had one home slot under the unseeded hash
//  (in a table of 2,048 slots they sat on average 500 slots past it) sit
//  a few slots from theirs; and two key sets hash differently
static void
s_test_flood (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    char key [32];
    size_t found = 0;
    for (size_t number = 0; found < TEST_FLOOD_KEYS; number++) {
        snprintf (key, sizeof (key), "flood-%zu", number);
        if ((s_unseeded_hash ((const byte *) key, strlen (key)) & TEST_FLOOD_MASK) == 0) {
            zstate_batch_set (batch, key, "f", "v", NULL);
            found++;
        }
    }
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_size (keyset) == TEST_FLOOD_KEYS);
    //  Linear probing at half full: under one slot past home on average
    size_t displacement = zstate_keyset_test_displacement (keyset);
    assert (displacement < 4 * TEST_FLOOD_KEYS);
    for (size_t index = 0; index < TEST_FLOOD_KEYS; index++) {
        size_t size;
        const char *held = zstate_batch_key (batch, index, &size);
        assert (zstate_keyset_holds (keyset, held, size));
    }
    //  Another key set has its own seed (the chance that all four agree
    //  by luck is 2^-128)
    zstate_keyset_t *other = zstate_keyset_new ();
    bool differ = false;
    for (size_t index = 0; index < 4; index++) {
        size_t size;
        const char *held = zstate_batch_key (batch, index, &size);
        differ = differ || zstate_keyset_test_hash (keyset, held, size)
                        != zstate_keyset_test_hash (other, held, size);
    }
    assert (differ);
    zstate_keyset_destroy (&other);
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

//  Pop the whole sweep into batch
static void
s_test_sweep_all (zstate_keyset_t *keyset, zstate_batch_t *batch)
{
    zstate_batch_reset (batch);
    zstate_keyset_sweep_pops (keyset, batch, zstate_keyset_sweeping (keyset));
}

//  After 2^32 windows the generations start again: neither a key the
//  first window marked (1) nor one noted outside any window (0) may pass
//  for marked by the window after the wrap
static void
s_test_generation_wrap (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    byte session [ZSTATE_MSG_SESSION_SIZE];
    s_test_session (session, 0);
    zstate_keyset_begin (keyset, session, 1);
    zstate_batch_set (batch, "first", NULL);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_end (keyset, session, 1, 1, true) == ZSTATE_KEYSET_SWEPT);
    assert (zstate_keyset_sweeping (keyset) == 0);
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "outside", NULL);
    zstate_keyset_note (keyset, batch, 0);
    //  2^32 - 2 windows later
    zstate_keyset_test_set_generation (keyset, UINT32_MAX);
    zstate_keyset_begin (keyset, session, 2);
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "new", NULL);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_end (keyset, session, 2, 1, true) == ZSTATE_KEYSET_SWEPT);
    s_test_sweep_all (keyset, batch);
    assert (zstate_batch_size (batch) == 2);
    assert (zstate_keyset_size (keyset) == 1 && zstate_keyset_holds (keyset, "new", 3));
    //  And the windows after it mark as before
    zstate_keyset_begin (keyset, session, 3);
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "first", NULL);
    zstate_batch_set (batch, "outside", NULL);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_end (keyset, session, 3, 2, true) == ZSTATE_KEYSET_SWEPT);
    s_test_sweep_all (keyset, batch);
    assert (zstate_batch_size (batch) == 1 && streq (zstate_batch_key (batch, 0, NULL), "new"));
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

//  An END that counts more entries than its window brought is counted
//  short and sweeps the same; one that counts as many or fewer is not
static void
s_test_short (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    byte session [ZSTATE_MSG_SESSION_SIZE];
    s_test_session (session, 0);
    zstate_batch_set (batch, "a", NULL);
    zstate_batch_set (batch, "b", NULL);
    zstate_batch_set (batch, "c", NULL);
    zstate_keyset_note (keyset, batch, 0);
    //  Two of three entries arrive; the END says three
    zstate_keyset_begin (keyset, session, 10);
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "a", NULL);
    zstate_batch_hset (batch, "b", "f", "v", NULL);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_end (keyset, session, 10, 3, true) == ZSTATE_KEYSET_SWEPT);
    assert (zstate_keyset_windows_short (keyset) == 1);
    s_test_sweep_all (keyset, batch);
    assert (zstate_batch_size (batch) == 1 && streq (zstate_batch_key (batch, 0, NULL), "c"));
    //  A window's count starts again at its BEGIN; extra live operations
    //  of the table (from the next index on) are no shortfall
    zstate_keyset_begin (keyset, session, 20);
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "x", NULL);
    zstate_batch_set (batch, "a", NULL);
    zstate_batch_set (batch, "b", NULL);
    zstate_keyset_note (keyset, batch, 1);
    assert (zstate_keyset_end (keyset, session, 20, 2, true) == ZSTATE_KEYSET_SWEPT);
    zstate_keyset_begin (keyset, session, 30);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_end (keyset, session, 30, 1, true) == ZSTATE_KEYSET_SWEPT);
    //  Abandoned or ignored ENDs are not checked
    zstate_keyset_begin (keyset, session, 40);
    assert (zstate_keyset_end (keyset, session, 40, 5, false) == ZSTATE_KEYSET_ABANDONED);
    assert (zstate_keyset_end (keyset, session, 40, 5, true) == ZSTATE_KEYSET_IGNORED);
    zstate_consumer_stats_t stats;
    zstate_keyset_stats (keyset, &stats);
    assert (stats.windows_short == 1 && stats.windows_completed == 3);
    assert (zstate_keyset_size (keyset) == 3);
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

//  The model: the table as the application must end up holding it, the
//  keys the open window touched, and the window itself
typedef struct {
    zhashx_t *table;            //  key -> "" for every key held
    zhashx_t *marked;           //  keys written in the open window
    zhashx_t *view;             //  what the key set handed out, applied
    bool open;
    int session;                //  0 or 1
    uint64_t begin;
    uint64_t windows, completed, abandoned, ignored, swept;
} test_model_t;

//  Apply batch from index from to the application's view
static void
s_test_apply (zhashx_t *view, zstate_batch_t *batch, size_t from)
{
    for (size_t index = from; index < zstate_batch_size (batch); index++) {
        const char *key = zstate_batch_key (batch, index, NULL);
        if (zstate_batch_op (batch, index) == ZSTATE_OP_DEL)
            zhashx_delete (view, key);
        else
            zhashx_update (view, key, (void *) "");
    }
}

//  True when map and the key set hold the same keys, and map and view
static bool
s_test_same (zstate_keyset_t *keyset, test_model_t *model)
{
    if (zhashx_size (model->table) != zstate_keyset_size (keyset)
    ||  zhashx_size (model->table) != zhashx_size (model->view))
        return false;
    for (void *item = zhashx_first (model->table); item; item = zhashx_next (model->table)) {
        const char *key = (const char *) zhashx_cursor (model->table);
        if (!zstate_keyset_holds (keyset, key, strlen (key))
        ||  !zhashx_lookup (model->view, key))
            return false;
    }
    return true;
}

//  One random operation, noted in the key set and in the model
static void
s_test_random_op (zstate_keyset_t *keyset, test_model_t *model, zstate_batch_t *batch)
{
    char key [32];
    snprintf (key, sizeof (key), "key-%d", randof (200));
    int op = randof (10);
    zstate_batch_reset (batch);
    if (op < 3) {
        zstate_batch_del (batch, key);
        zhashx_delete (model->table, key);
        zhashx_delete (model->marked, key);
    }
    else {
        if (op < 7)
            zstate_batch_set (batch, key, "f", "v", NULL);
        else
            zstate_batch_hset (batch, key, "f", "v", NULL);
        zhashx_update (model->table, key, (void *) "");
        if (model->open)
            zhashx_update (model->marked, key, (void *) "");
    }
    zstate_keyset_note (keyset, batch, 0);
    s_test_apply (model->view, batch, 0);
}

//  A COMPLETE END in the model: keep only what the window marked
static void
s_test_model_sweep (test_model_t *model)
{
    zlistx_t *keys = zhashx_keys (model->table);
    for (char *key = (char *) zlistx_first (keys); key; key = (char *) zlistx_next (keys))
        if (!zhashx_lookup (model->marked, key)) {
            zhashx_delete (model->table, key);
            model->swept++;
        }
    zlistx_destroy (&keys);
}

//  A random BEGIN or END, some matching nothing, some abandoned
static void
s_test_random_marker (zstate_keyset_t *keyset, test_model_t *model, zstate_batch_t *batch,
                      uint64_t *sequence)
{
    byte session [ZSTATE_MSG_SESSION_SIZE];
    int which = randof (2);
    s_test_session (session, which);
    if (randof (3) == 0) {
        model->abandoned += model->open;
        model->open = true;
        model->session = which;
        model->begin = ++*sequence;
        model->windows++;
        zhashx_purge (model->marked);
        zstate_keyset_begin (keyset, session, model->begin);
        return;
    }
    //  An END: most for the open window, some for another session or begin
    uint64_t begin = randof (4) == 0? *sequence + 1: model->begin;
    bool complete = randof (4) != 0;
    int done = zstate_keyset_end (keyset, session, begin, 0, complete);
    if (!model->open || which != model->session || begin != model->begin) {
        assert (done == ZSTATE_KEYSET_IGNORED);
        model->ignored++;
        return;
    }
    model->open = false;
    if (!complete) {
        assert (done == ZSTATE_KEYSET_ABANDONED);
        model->abandoned++;
        return;
    }
    assert (done == ZSTATE_KEYSET_SWEPT);
    model->completed++;
    s_test_model_sweep (model);
    //  Hand the sweep out in small batches, as pops does
    while (zstate_keyset_sweeping (keyset)) {
        zstate_batch_reset (batch);
        size_t moved = zstate_keyset_sweep_pops (keyset, batch, 1 + randof (7));
        assert (moved > 0 && moved == zstate_batch_size (batch));
        s_test_apply (model->view, batch, 0);
    }
}

static void
s_test_model (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    test_model_t model;
    memset (&model, 0, sizeof (model));
    model.table = zhashx_new ();
    model.marked = zhashx_new ();
    model.view = zhashx_new ();
    uint64_t sequence = 0;
    for (int step = 0; step < 20000; step++) {
        if (randof (12) == 0)
            s_test_random_marker (keyset, &model, batch, &sequence);
        else
            s_test_random_op (keyset, &model, batch);
        assert (zstate_keyset_open (keyset) == model.open);
        if (step % 97 == 0 || !model.open)
            assert (s_test_same (keyset, &model));
    }
    assert (s_test_same (keyset, &model));
    zstate_consumer_stats_t stats;
    zstate_keyset_stats (keyset, &stats);
    assert (stats.windows == model.windows && stats.windows_completed == model.completed);
    assert (stats.windows_abandoned == model.abandoned);
    assert (stats.windows_ignored == model.ignored);
    assert (stats.swept == model.swept && stats.keys == zhashx_size (model.table));
    //  The run must have seen every outcome, and swept something
    assert (model.completed && model.abandoned && model.ignored && model.swept);
    zhashx_destroy (&model.table);
    zhashx_destroy (&model.marked);
    zhashx_destroy (&model.view);
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

//  The class's own selftest, then these
void
zstate_keyset_suites (bool verbose)
{
    zstate_keyset_test (verbose);
    if (verbose)
        printf ("   model, sweep off, growth, flood, generation wrap, short windows\n");
    s_test_model ();
    s_test_sweep_off ();
    s_test_grow_shrink ();
    s_test_flood ();
    s_test_generation_wrap ();
    s_test_short ();
    zstate_keyset_arena_suite (verbose);
}
