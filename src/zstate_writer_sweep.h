/*  =========================================================================
    zstate_writer_sweep - one window's sweep: the keys a window wrote, and
    the SCAN that deletes the table's other keys from Redis

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_SWEEP_H_INCLUDED
#define ZSTATE_WRITER_SWEEP_H_INCLUDED

typedef struct _zstate_writer_sweep_t zstate_writer_sweep_t;

//  Create a sweep of table, whose Redis keys are TABLE<separator>KEY,
//  with no key marked.
zstate_writer_sweep_t *
    zstate_writer_sweep_new (const char *table, const char *separator);

//  Destroy the sweep. Nulls the pointer.
void
    zstate_writer_sweep_destroy (zstate_writer_sweep_t **self_p);

//  Mark a Redis key: the sweep keeps it. Returns the keys marked.
size_t
    zstate_writer_sweep_mark (zstate_writer_sweep_t *self, const void *key, size_t size);

//  Keys marked, and the table.
size_t
    zstate_writer_sweep_marked (zstate_writer_sweep_t *self);
const char *
    zstate_writer_sweep_table (zstate_writer_sweep_t *self);

//  Start the sweep, or start it again from the beginning (after a lost
//  connection: deleting is idempotent): append and send the first SCAN
//  (MATCH TABLE<separator>*, COUNT 1000). No other reply may be owed on
//  redis. Returns 0, or -1 with zstate_reason () when the connection
//  failed.
int
    zstate_writer_sweep_start (zstate_writer_sweep_t *self, zstate_redis_t *redis);

//  Take redis's current reply, which is the sweep's. For a SCAN step,
//  send one DEL of the keys it found that are not marked (never the
//  table's watermark hash, nor the instance key), with the next SCAN;
//  add what each DEL deleted to *swept_p. Returns 1 when the sweep is
//  done (the last SCAN and its DEL answered, or an error reply ended it:
//  see zstate_writer_sweep_error), 0 while it goes on, -1 with
//  zstate_reason () when the connection failed.
int
    zstate_writer_sweep_reply (zstate_writer_sweep_t *self, zstate_redis_t *redis,
                               uint64_t *swept_p);

//  Keys deleted by this sweep, over every start.
uint64_t
    zstate_writer_sweep_swept (zstate_writer_sweep_t *self);

//  The error reply that ended the sweep early, or NULL.
const char *
    zstate_writer_sweep_error (zstate_writer_sweep_t *self);

//  Selftest
void
    zstate_writer_sweep_test (bool verbose);

#endif
