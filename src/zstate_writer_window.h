/*  =========================================================================
    zstate_writer_window - the writer's batches in flight: MULTI/EXEC
    batches built from the backlog's head, and the replies that confirm them

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_WINDOW_H_INCLUDED
#define ZSTATE_WRITER_WINDOW_H_INCLUDED

#include "zstate_backlog.h"

//  Batches in flight at most
#define ZSTATE_WRITER_WINDOW    3

typedef struct _zstate_writer_window_t zstate_writer_window_t;

//  Called for each operation of a confirmed batch that Redis refused;
//  first is true for the batch's first refusal
typedef void (zstate_writer_window_refused_fn) (void *arg, const char *key,
                                                size_t key_size, const char *error,
                                                bool first);

//  Create a window over backlog, which owns every entry in flight.
zstate_writer_window_t *
    zstate_writer_window_new (zstate_backlog_t *backlog);

//  Destroy the window; the entries stay the backlog's. Nulls the pointer.
void
    zstate_writer_window_destroy (zstate_writer_window_t **self_p);

//  Batches in flight.
size_t
    zstate_writer_window_count (zstate_writer_window_t *self);

//  Take up to ops entries (and about 8 MB) from the backlog's head and
//  append them to redis as one batch, MULTI...EXEC: DEL for a DEL, DEL +
//  HSET for a SET, HSET for an HSET. The batch is in flight; the caller
//  sends it (zstate_redis_send). The window must have room. Returns the
//  entries taken; the commands between MULTI and EXEC go to *commands_p.
size_t
    zstate_writer_window_build (zstate_writer_window_t *self, zstate_redis_t *redis,
                                size_t ops, size_t *commands_p);

//  Take redis's current reply, for the oldest batch in flight. When it is
//  that batch's EXEC, confirm its entries in the backlog, count them as
//  written or failed in stats (and the batch in stats->batches), and call
//  refused for each operation Redis refused. Returns 1 when a batch was
//  confirmed, 0 for a MULTI or QUEUED reply, or -1 with zstate_reason ()
//  when the connection must go: a reply nobody asked for, or a batch that
//  Redis refused as a whole (nothing of it ran).
int
    zstate_writer_window_reply (zstate_writer_window_t *self, zstate_redis_t *redis,
                                zstate_writer_stats_t *stats,
                                zstate_writer_window_refused_fn *refused, void *arg);

//  Forget every batch in flight: the connection is gone, and the caller
//  has put their entries back (zstate_backlog_restore_all).
void
    zstate_writer_window_clear (zstate_writer_window_t *self);

//  Selftest
void
    zstate_writer_window_test (bool verbose);

#endif
