/*  =========================================================================
    zstate_writer_views - the writer's open windows: per (db, table), the
    SNAPSHOT-BEGIN that opened one and the keys written in it since

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_VIEWS_H_INCLUDED
#define ZSTATE_WRITER_VIEWS_H_INCLUDED

#include "zstate_writer_sweep.h"

typedef struct _zstate_writer_views_t zstate_writer_views_t;

//  Told of each window that ends without a sweep: what is "ABANDONED"
//  (its END said so), "SUPERSEDED" (a new BEGIN for its table), "BOUND"
//  (it marked more keys than the bound), or "UNMATCHED" (an END that
//  matched no open window)
typedef void (zstate_writer_views_notice_fn) (void *arg, const char *what, const char *db,
                                              const char *table);

//  Create a set with no window open.
zstate_writer_views_t *
    zstate_writer_views_new (void);

//  Destroy the set and its windows. Nulls the pointer.
void
    zstate_writer_views_destroy (zstate_writer_views_t **self_p);

//  Who is told of windows that end without a sweep (NULL: nobody).
void
    zstate_writer_views_set_notice (zstate_writer_views_t *self,
                                    zstate_writer_views_notice_fn *notice, void *arg);

//  Keys one window may mark (at least 1; default unbounded).
void
    zstate_writer_views_set_bound (zstate_writer_views_t *self, size_t keys);

//  SNAPSHOT-BEGIN for (db, table), from session (16 octets) at sequence:
//  a window opens, whose keys are TABLE<separator>KEY; one open on that
//  table is dropped (SUPERSEDED). Counts windows (and windows_dropped).
void
    zstate_writer_views_begin (zstate_writer_views_t *self, const char *db, const char *table,
                               const byte *session, uint64_t sequence,
                               const char *separator, zstate_writer_stats_t *stats);

//  The sweep of the window open on (db, table), for its keys; NULL when
//  none is open.
zstate_writer_sweep_t *
    zstate_writer_views_find (zstate_writer_views_t *self, const char *db, const char *table);

//  Mark a key in sweep, the window open on (db, table). Past the bound
//  the window is dropped (BOUND, counted): returns false, and sweep is no
//  more; else true.
bool
    zstate_writer_views_mark (zstate_writer_views_t *self, zstate_writer_sweep_t *sweep,
                              const char *db, const char *table, const void *key,
                              size_t size, zstate_writer_stats_t *stats);

//  SNAPSHOT-END for (db, table) from session, for the BEGIN at begin,
//  with status (ZSTATE_SESSION_END_*). When it matches the open window,
//  that closes: COMPLETE returns its sweep, which the caller owns;
//  ABANDONED drops it (counted). An END that matches none is counted
//  (windows_unmatched) and changes nothing. Returns NULL but for a
//  COMPLETE match.
zstate_writer_sweep_t *
    zstate_writer_views_end (zstate_writer_views_t *self, const char *db, const char *table,
                             const byte *session, uint64_t begin, int status,
                             zstate_writer_stats_t *stats);

//  Windows open.
size_t
    zstate_writer_views_size (zstate_writer_views_t *self);

//  Selftest
void
    zstate_writer_views_test (bool verbose);

#endif
