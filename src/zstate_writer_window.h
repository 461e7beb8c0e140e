/*  =========================================================================
    zstate_writer_window - the writer's batches in flight: MULTI/EXEC
    batches, each of whole generations of the backlog, and the replies that confirm them

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

//  Create an empty window.
zstate_writer_window_t *
    zstate_writer_window_new (void);

//  Destroy the window; the entries stay their backlogs'. Nulls the pointer.
void
    zstate_writer_window_destroy (zstate_writer_window_t **self_p);

//  Batches in flight.
size_t
    zstate_writer_window_count (zstate_writer_window_t *self);

//  Replies still owed for the batches in flight (MULTI, each command, EXEC).
size_t
    zstate_writer_window_outstanding (zstate_writer_window_t *self);

//  Start a batch: append MULTI to redis, then take every entry of backlog
//  (one generation, so the batch is whole) and append its commands: DEL
//  for a DEL, DEL + HSET for a SET (DEL alone when it has no fields), HSET
//  for an HSET. The window must have room. The caller may append commands
//  of its own, then ends the batch with zstate_writer_window_end. Returns the entries taken; the
//  commands appended go to *commands_p.
size_t
    zstate_writer_window_build (zstate_writer_window_t *self, zstate_redis_t *redis,
                                zstate_backlog_t *backlog, size_t *commands_p);

//  End the batch started last: extra commands were appended after its
//  entries' (their replies are not the entries'); append EXEC. The batch
//  is in flight; the caller sends it (zstate_redis_send).
void
    zstate_writer_window_end (zstate_writer_window_t *self, zstate_redis_t *redis,
                              size_t extra);

//  Take redis's current reply, for the oldest batch in flight. When it is
//  that batch's EXEC, confirm its entries in the backlog, count them as
//  written or failed in stats (and the batch in stats->batches), and call
//  refused for each operation Redis refused. Returns 1 when a batch was
//  confirmed, with *extra_error_p the first error reply of its extra
//  commands, or NULL (valid until the next reply); 0 for a MULTI or
//  QUEUED reply; or -1 with zstate_reason () when the connection must go:
//  a reply nobody asked for, or a batch that Redis refused as a whole
//  (nothing of it ran).
int
    zstate_writer_window_reply (zstate_writer_window_t *self, zstate_redis_t *redis,
                                zstate_writer_stats_t *stats,
                                zstate_writer_window_refused_fn *refused, void *arg,
                                const char **extra_error_p);

//  Forget every batch in flight: the connection is gone, and the caller
//  puts their entries back (zstate_writer_chain_restore).
void
    zstate_writer_window_clear (zstate_writer_window_t *self);

//  Selftest
void
    zstate_writer_window_test (bool verbose);

#endif
