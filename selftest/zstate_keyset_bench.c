/*  =========================================================================
    zstate_keyset_bench - the key set alone: what noting a key costs when
    it is new, when it is held already and when a DEL removes it

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

//  Usage: zstate_keyset_bench [keys [runs]]   (default 1,000,000 keys, 3 runs)
//  Prints, per phase, the median of the runs in nanoseconds per key. The
//  batches are built before the clock starts: only noting is timed.

#include "zstate_classes.h"
#include "zstate_keyset.h"

#define BENCH_BATCH     128     //  operations a pops hands over by default
#define BENCH_RUNS_MAX  15

typedef struct {
    zstate_batch_t **batches;
    size_t count;
} bench_ops_t;

//  keys operations of op on "key-N", BENCH_BATCH a batch
static void
s_ops_new (bench_ops_t *self, size_t keys, int op)
{
    self->count = (keys + BENCH_BATCH - 1) / BENCH_BATCH;
    self->batches = (zstate_batch_t **) zmalloc (self->count * sizeof (zstate_batch_t *));
    char key [32];
    for (size_t number = 0; number < keys; number++) {
        zstate_batch_t **batch = &self->batches [number / BENCH_BATCH];
        if (!*batch)
            *batch = zstate_batch_new ();
        snprintf (key, sizeof (key), "key-%zu", number * 2654435761u % 1000000007u);
        if (op == ZSTATE_OP_DEL)
            zstate_batch_del (*batch, key);
        else
            zstate_batch_set (*batch, key, "f", "v", NULL);
    }
}

static void
s_ops_destroy (bench_ops_t *self)
{
    for (size_t index = 0; index < self->count; index++)
        zstate_batch_destroy (&self->batches [index]);
    free (self->batches);
}

//  Nanoseconds per key to note every batch of ops
static double
s_note_all (zstate_keyset_t *keyset, bench_ops_t *ops, size_t keys)
{
    int64_t start = zclock_usecs ();
    for (size_t index = 0; index < ops->count; index++)
        zstate_keyset_note (keyset, ops->batches [index], 0);
    return (double) (zclock_usecs () - start) * 1000.0 / (double) keys;
}

//  Nanoseconds per key to look every key up in an empty set: the hash,
//  and a probe of a table that stays in the cache
static double
s_hash_all (bench_ops_t *ops, size_t keys)
{
    zstate_keyset_t *keyset = zstate_keyset_new ();
    size_t found = 0;
    int64_t start = zclock_usecs ();
    for (size_t index = 0; index < ops->count; index++)
        for (size_t op = 0; op < zstate_batch_size (ops->batches [index]); op++) {
            size_t size;
            const char *key = zstate_batch_key (ops->batches [index], op, &size);
            found += zstate_keyset_holds (keyset, key, size);
        }
    double cost = (double) (zclock_usecs () - start) * 1000.0 / (double) keys;
    assert (found == 0);
    zstate_keyset_destroy (&keyset);
    return cost;
}

static int
s_compare (const void *a, const void *b)
{
    double left = *(const double *) a, right = *(const double *) b;
    return left < right? -1: left > right;
}

int
main (int argc, char *argv [])
{
    size_t keys = argc > 1? (size_t) atol (argv [1]): 1000000;
    int runs = argc > 2? atoi (argv [2]): 3;
    if (keys == 0 || runs < 1 || runs > BENCH_RUNS_MAX) {
        fprintf (stderr, "usage: zstate_keyset_bench [keys [runs (1-%d)]]\n", BENCH_RUNS_MAX);
        return 1;
    }
    bench_ops_t sets, dels;
    s_ops_new (&sets, keys, ZSTATE_OP_SET);
    s_ops_new (&dels, keys, ZSTATE_OP_DEL);
    double fresh [BENCH_RUNS_MAX], held [BENCH_RUNS_MAX], gone [BENCH_RUNS_MAX];
    double hash [BENCH_RUNS_MAX];
    for (int run = 0; run < runs; run++) {
        hash [run] = s_hash_all (&sets, keys);
        zstate_keyset_t *keyset = zstate_keyset_new ();
        fresh [run] = s_note_all (keyset, &sets, keys);
        held [run] = s_note_all (keyset, &sets, keys);
        gone [run] = s_note_all (keyset, &dels, keys);
        assert (zstate_keyset_size (keyset) == 0);
        zstate_keyset_destroy (&keyset);
    }
    qsort (fresh, runs, sizeof (double), s_compare);
    qsort (held, runs, sizeof (double), s_compare);
    qsort (gone, runs, sizeof (double), s_compare);
    qsort (hash, runs, sizeof (double), s_compare);
    printf ("keys %zu runs %d: new %.0f ns, held %.0f ns, DEL %.0f ns, "
            "hash and a cached probe %.1f ns a key (medians)\n", keys, runs,
            fresh [runs / 2], held [runs / 2], gone [runs / 2], hash [runs / 2]);
    s_ops_destroy (&sets);
    s_ops_destroy (&dels);
    return 0;
}
