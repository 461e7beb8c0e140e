/*  =========================================================================
    zstate_keyset_suite - the key set's suites: the sweep off, growth and
    shrinking, keys chosen to collide, the generation's wrap-around and
    windows shorter than their END

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

//  The class's own selftest, then these
void
zstate_keyset_suites (bool verbose)
{
    zstate_keyset_test (verbose);
    if (verbose)
        printf ("   sweep off, growth, flood, generation wrap, short windows\n");
    s_test_sweep_off ();
    s_test_grow_shrink ();
    s_test_flood ();
    s_test_generation_wrap ();
    s_test_short ();
}
