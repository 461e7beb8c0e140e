/*  =========================================================================
    zstate_keyset_arena_suite - the key set's arena and table against a
    plain map: growth past several sizes with keys of every length up to
    ZSTATE_KEY_MAX, keys that all share one home slot, tables replaced
    round after round in the same memory, a table that shrinks only when
    far too big, the generation's wrap-around over every key, and the
    sweep turned off while one is queued

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_keyset.h"

void
    zstate_keyset_arena_suite (bool verbose);

//  The keys a test tried, and a plain map of those the key set must hold
typedef struct {
    zhashx_t *held;
    char **tried;
    size_t tried_count;
    size_t tried_max;
} test_keys_t;

static void
s_keys_new (test_keys_t *self)
{
    memset (self, 0, sizeof (*self));
    self->held = zhashx_new ();
}

static void
s_keys_destroy (test_keys_t *self)
{
    while (self->tried_count)
        free (self->tried [--self->tried_count]);
    free (self->tried);
    zhashx_destroy (&self->held);
}

//  Add key to batch as a SET (or a DEL), and apply it to the model
static void
s_keys_op (test_keys_t *self, zstate_batch_t *batch, const char *key, bool del)
{
    if (del) {
        assert (zstate_batch_del (batch, key) == 0);
        zhashx_delete (self->held, key);
    }
    else {
        assert (zstate_batch_set (batch, key, "f", "v", NULL) == 0);
        zhashx_update (self->held, key, (void *) "");
    }
    if (self->tried_count == self->tried_max) {
        self->tried_max = self->tried_max? self->tried_max * 2: 256;
        self->tried = (char **) realloc (self->tried, self->tried_max * sizeof (char *));
        assert (self->tried);
    }
    self->tried [self->tried_count++] = strdup (key);
}

//  Every key tried is held exactly when the model has it, and the empty
//  key never is
static void
s_keys_check (test_keys_t *self, zstate_keyset_t *keyset)
{
    assert (zstate_keyset_size (keyset) == zhashx_size (self->held));
    for (size_t index = 0; index < self->tried_count; index++) {
        const char *key = self->tried [index];
        assert (zstate_keyset_holds (keyset, key, strlen (key))
                == (zhashx_lookup (self->held, key) != NULL));
    }
    assert (!zstate_keyset_holds (keyset, "", 0));
}

//  A COMPLETE END of the open window: the sweep's DELs, applied to the model
static void
s_keys_sweep (test_keys_t *self, zstate_keyset_t *keyset, zstate_batch_t *batch,
              const byte *session, uint64_t begin)
{
    assert (zstate_keyset_end (keyset, session, begin, 0, true) == ZSTATE_KEYSET_SWEPT);
    while (zstate_keyset_sweeping (keyset)) {
        zstate_batch_reset (batch);
        size_t moved = zstate_keyset_sweep_pops (keyset, batch, 100);
        assert (moved > 0 && moved == zstate_batch_size (batch));
        for (size_t index = 0; index < moved; index++) {
            const char *key = zstate_batch_key (batch, index, NULL);
            assert (zhashx_lookup (self->held, key));
            zhashx_delete (self->held, key);
        }
    }
}

//  Key number of length bytes, its number first (keys of a few bytes
//  repeat: the model and the key set count them once)
static void
s_test_key (char *key, size_t number, size_t length)
{
    char prefix [32];
    int prefix_size = snprintf (prefix, sizeof (prefix), "%zu:", number);
    for (size_t index = 0; index < length; index++)
        key [index] = index < (size_t) prefix_size? prefix [index]: (char) ('a' + index % 26);
    key [length] = 0;
}

#define TEST_ARENA_KEYS     3000

//  The arena grows past several sizes, with keys of every length from 1
//  to 100 bytes, some of 1,000, 4,000 and ZSTATE_KEY_MAX, each checked
//  against the model; all but one in twenty out (scrambled), it is
//  compacted and shrinks, and the keys that stay are found still; all
//  out, it shrinks back
static void
s_test_arena (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    test_keys_t keys;
    s_keys_new (&keys);
    char *key = (char *) malloc (ZSTATE_KEY_MAX + 1);
    assert (key);
    size_t allocations;
    size_t memory = zstate_keyset_test_memory (keyset, &allocations);
    int growths = 0;
    for (size_t number = 0; number < TEST_ARENA_KEYS; number++) {
        size_t length = number % 101 == 100? (size_t) ZSTATE_KEY_MAX:
                        number % 23 == 0? 4000: number % 11 == 0? 1000: 1 + number % 100;
        s_test_key (key, number, length);
        s_keys_op (&keys, batch, key, false);
        if (zstate_batch_size (batch) == 64 || number == TEST_ARENA_KEYS - 1) {
            zstate_keyset_note (keyset, batch, 0);
            zstate_batch_reset (batch);
            s_keys_check (&keys, keyset);
            growths += zstate_keyset_test_memory (keyset, &allocations) > memory;
            memory = zstate_keyset_test_memory (keyset, &allocations);
        }
    }
    assert (growths >= 5);
    //  All but one in twenty out, scrambled (1009 is a prime)
    for (size_t step = 0; step < TEST_ARENA_KEYS; step++) {
        const char *held = keys.tried [(step * 1009) % TEST_ARENA_KEYS];
        if (((step * 1009) % TEST_ARENA_KEYS) % 20)
            s_keys_op (&keys, batch, held, true);
        if (zstate_batch_size (batch) == 64) {
            zstate_keyset_note (keyset, batch, 0);
            zstate_batch_reset (batch);
            s_keys_check (&keys, keyset);
        }
    }
    zstate_keyset_note (keyset, batch, 0);
    zstate_batch_reset (batch);
    s_keys_check (&keys, keyset);
    assert (zstate_keyset_test_memory (keyset, &allocations) * 4 < memory);
    //  All out, then some back
    for (size_t index = 0; index < keys.tried_count; index++)
        if (zhashx_lookup (keys.held, keys.tried [index]))
            s_keys_op (&keys, batch, keys.tried [index], true);
    zstate_keyset_note (keyset, batch, 0);
    zstate_batch_reset (batch);
    s_keys_check (&keys, keyset);
    assert (zstate_keyset_size (keyset) == 0);
    assert (zstate_keyset_test_memory (keyset, &allocations) * 16 < memory);
    zstate_keyset_t *fresh = zstate_keyset_new ();
    assert (zstate_keyset_test_slots (keyset) == zstate_keyset_test_slots (fresh));
    zstate_keyset_destroy (&fresh);
    for (size_t number = 0; number < 100; number++) {
        s_test_key (key, number, 1 + number);
        s_keys_op (&keys, batch, key, false);
    }
    zstate_keyset_note (keyset, batch, 0);
    s_keys_check (&keys, keyset);
    free (key);
    s_keys_destroy (&keys);
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

#define TEST_COLLIDE_KEYS   400
#define TEST_COLLIDE_MASK   0xFFF   //  every table up to 4,096 slots

//  Keys whose hashes all have the last slot of the table for home, so
//  that they sit in one run that wraps to the table's start: through
//  growth, a sweep that keeps every third, DELs one at a time in a
//  scrambled order and keys of other homes between them, each answer
//  checked against the model
static void
s_test_collisions (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    test_keys_t keys;
    s_keys_new (&keys);
    char key [32];
    char *colliding [TEST_COLLIDE_KEYS];
    size_t found = 0;
    for (size_t number = 0; found < TEST_COLLIDE_KEYS; number++) {
        snprintf (key, sizeof (key), "collide-%zu", number);
        uint32_t hash = zstate_keyset_test_hash (keyset, key, strlen (key));
        if ((hash & TEST_COLLIDE_MASK) == TEST_COLLIDE_MASK)
            colliding [found++] = strdup (key);
    }
    for (size_t index = 0; index < TEST_COLLIDE_KEYS; index++)
        s_keys_op (&keys, batch, colliding [index], false);
    zstate_keyset_note (keyset, batch, 0);
    s_keys_check (&keys, keyset);
    //  One run: the keys sit 0, 1, ... TEST_COLLIDE_KEYS - 1 past home
    assert (zstate_keyset_test_displacement (keyset)
            == TEST_COLLIDE_KEYS * (TEST_COLLIDE_KEYS - 1) / 2);
    //  A window that keeps every third, and other keys
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    zstate_keyset_begin (keyset, session, 1);
    zstate_batch_reset (batch);
    for (size_t index = 0; index < TEST_COLLIDE_KEYS; index += 3) {
        s_keys_op (&keys, batch, colliding [index], false);
        snprintf (key, sizeof (key), "other-%zu", index);
        s_keys_op (&keys, batch, key, false);
    }
    zstate_keyset_note (keyset, batch, 0);
    s_keys_sweep (&keys, keyset, batch, session, 1);
    s_keys_check (&keys, keyset);
    assert (zstate_keyset_size (keyset) == 2 * ((TEST_COLLIDE_KEYS + 2) / 3));
    //  Out one at a time, scrambled (7 is prime to 400), each step checked
    for (size_t step = 0; step < TEST_COLLIDE_KEYS; step++) {
        zstate_batch_reset (batch);
        s_keys_op (&keys, batch, colliding [(step * 7) % TEST_COLLIDE_KEYS], true);
        zstate_keyset_note (keyset, batch, 0);
        s_keys_check (&keys, keyset);
    }
    assert (zstate_keyset_size (keyset) == (TEST_COLLIDE_KEYS + 2) / 3);
    for (size_t index = 0; index < TEST_COLLIDE_KEYS; index++)
        free (colliding [index]);
    s_keys_destroy (&keys);
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

#define TEST_ROUND_KEYS     3000
#define TEST_ROUNDS         64

//  A table replaced round after round: each window re-asserts three
//  quarters of a pool of keys, another quarter each round, so the quarter
//  it leaves out is swept and comes back the round after. Every round,
//  the sweep is that quarter and the pool is held as it must be; after
//  the first rounds, the table and the arena, compacted in place, are
//  reused: no allocation of either
static void
s_test_rounds (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 2 };
    char key [32];
    size_t memory = 0, allocations = 0, allocated;
    for (size_t round = 0; round < TEST_ROUNDS; round++) {
        zstate_keyset_begin (keyset, session, round);
        zstate_batch_reset (batch);
        for (size_t number = 0; number < TEST_ROUND_KEYS; number++)
            if ((number + round) % 4) {
                snprintf (key, sizeof (key), "round-key-%zu", number);
                zstate_batch_set (batch, key, "f", "v", NULL);
            }
        zstate_keyset_note (keyset, batch, 0);
        assert (zstate_keyset_end (keyset, session, round, 0, true) == ZSTATE_KEYSET_SWEPT);
        size_t swept = 0;
        while (zstate_keyset_sweeping (keyset)) {
            zstate_batch_reset (batch);
            size_t moved = zstate_keyset_sweep_pops (keyset, batch, 128);
            for (size_t index = 0; index < moved; index++) {
                size_t number = (size_t) atol (zstate_batch_key (batch, index, NULL)
                                               + strlen ("round-key-"));
                assert ((number + round) % 4 == 0);
            }
            swept += moved;
        }
        assert (swept == (round? TEST_ROUND_KEYS / 4: 0));
        assert (zstate_keyset_size (keyset) == TEST_ROUND_KEYS * 3 / 4);
        for (size_t number = 0; number < TEST_ROUND_KEYS; number++) {
            snprintf (key, sizeof (key), "round-key-%zu", number);
            assert (zstate_keyset_holds (keyset, key, strlen (key))
                    == ((number + round) % 4 != 0));
        }
        if (round == 8)
            memory = zstate_keyset_test_memory (keyset, &allocations);
        else
        if (round > 8) {
            assert (zstate_keyset_test_memory (keyset, &allocated) == memory);
            assert (allocated == allocations);
        }
    }
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

//  The generation's wrap-around clears the marks of every key, wherever
//  it sits in the arena: of 100 keys marked by the first window, the
//  window after the wrap keeps only the one it marks
static void
s_test_wrap_all (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    zstate_keyset_begin (keyset, session, 1);
    char key [32];
    for (size_t number = 0; number < 100; number++) {
        snprintf (key, sizeof (key), "wrap-%zu", number);
        zstate_batch_set (batch, key, NULL);
    }
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_end (keyset, session, 1, 100, true) == ZSTATE_KEYSET_SWEPT);
    zstate_keyset_test_set_generation (keyset, UINT32_MAX);
    zstate_keyset_begin (keyset, session, 2);
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "wrap-50", NULL);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_end (keyset, session, 2, 1, true) == ZSTATE_KEYSET_SWEPT);
    assert (zstate_keyset_sweeping (keyset) == 99);
    zstate_batch_reset (batch);
    assert (zstate_keyset_sweep_pops (keyset, batch, 100) == 99);
    assert (zstate_keyset_size (keyset) == 1 && zstate_keyset_holds (keyset, "wrap-50", 7));
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

//  A table shrinks only once fewer than a thirty-second of its slots are
//  held: keys that come and go above that keep it as it is
static void
s_test_sparse (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    char key [32];
    for (size_t number = 0; number < 3000; number++) {
        snprintf (key, sizeof (key), "sparse-%zu", number);
        zstate_batch_set (batch, key, NULL);
    }
    zstate_keyset_note (keyset, batch, 0);
    size_t slots = zstate_keyset_test_slots (keyset);
    assert (slots > 3000 && slots / 32 < 3000);
    //  Down to a thirty-second, then back up and down again: no change
    for (int round = 0; round < 3; round++) {
        zstate_batch_reset (batch);
        for (size_t number = slots / 32; number < 3000; number++) {
            snprintf (key, sizeof (key), "sparse-%zu", number);
            zstate_batch_del (batch, key);
        }
        zstate_keyset_note (keyset, batch, 0);
        assert (zstate_keyset_size (keyset) == slots / 32);
        assert (zstate_keyset_test_slots (keyset) == slots);
        zstate_batch_reset (batch);
        for (size_t number = slots / 32; number < 3000; number++) {
            snprintf (key, sizeof (key), "sparse-%zu", number);
            zstate_batch_set (batch, key, NULL);
        }
        zstate_keyset_note (keyset, batch, 0);
        assert (zstate_keyset_test_slots (keyset) == slots);
    }
    //  One key fewer than a thirty-second: it shrinks, and holds the rest
    zstate_batch_reset (batch);
    for (size_t number = slots / 32 - 1; number < 3000; number++) {
        snprintf (key, sizeof (key), "sparse-%zu", number);
        zstate_batch_del (batch, key);
    }
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_test_slots (keyset) < slots);
    for (size_t number = 0; number < 3000; number++) {
        snprintf (key, sizeof (key), "sparse-%zu", number);
        assert (zstate_keyset_holds (keyset, key, strlen (key)) == (number < slots / 32 - 1));
    }
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

//  The sweep turned off while a sweep is queued: the keys go, the DELs
//  queued stay and hand out their keys, of any length
static void
s_test_off_sweeping (void)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    char *longest = (char *) malloc (ZSTATE_KEY_MAX + 1);
    assert (longest);
    s_test_key (longest, 1, ZSTATE_KEY_MAX);
    zstate_batch_set (batch, longest, NULL);
    zstate_batch_set (batch, "short", NULL);
    zstate_batch_set (batch, "stays", NULL);
    zstate_keyset_note (keyset, batch, 0);
    zstate_keyset_begin (keyset, session, 1);
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "stays", NULL);
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_end (keyset, session, 1, 1, true) == ZSTATE_KEYSET_SWEPT);
    assert (zstate_keyset_sweeping (keyset) == 2);
    assert (zstate_keyset_set_sweep (keyset, false) == 0);
    assert (zstate_keyset_size (keyset) == 0 && !zstate_keyset_holds (keyset, "stays", 5));
    zstate_batch_reset (batch);
    assert (zstate_keyset_sweep_pops (keyset, batch, 10) == 2);
    size_t size;
    const char *first = zstate_batch_key (batch, 0, &size);
    const char *second = zstate_batch_key (batch, 1, NULL);
    if (size != ZSTATE_KEY_MAX) {
        second = first;
        first = zstate_batch_key (batch, 1, &size);
    }
    assert (size == ZSTATE_KEY_MAX && memcmp (first, longest, size) == 0);
    assert (streq (second, "short"));
    zstate_keyset_note (keyset, batch, 0);
    assert (zstate_keyset_size (keyset) == 0);
    free (longest);
    zstate_batch_destroy (&batch);
    zstate_keyset_destroy (&keyset);
}

void
zstate_keyset_arena_suite (bool verbose)
{
    if (verbose)
        printf ("   arena, collisions, rounds, sparse, wrap over every key, off while sweeping\n");
    s_test_arena ();
    s_test_collisions ();
    s_test_rounds ();
    s_test_sparse ();
    s_test_wrap_all ();
    s_test_off_sweeping ();
}
