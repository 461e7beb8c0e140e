/*  =========================================================================
    zstate_writer_confirmed - the writer's CONFIRMED messages: watermarks
    Redis confirmed, sent to a PUSH socket without ever blocking

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_CONFIRMED_H_INCLUDED
#define ZSTATE_WRITER_CONFIRMED_H_INCLUDED

#include "zstate_writer_marks.h"

typedef struct _zstate_writer_confirmed_t zstate_writer_confirmed_t;

//  Create a sender, not connected.
zstate_writer_confirmed_t *
    zstate_writer_confirmed_new (void);

//  Destroy the sender. Nulls the pointer.
void
    zstate_writer_confirmed_destroy (zstate_writer_confirmed_t **self_p);

//  Connect a new PUSH socket to endpoint, after closing any previous one
//  and forgetting what it had not sent; NULL or "" only closes. Returns
//  0, or -1 with EINVAL and zstate_reason () when endpoint is bad.
int
    zstate_writer_confirmed_connect (zstate_writer_confirmed_t *self, const char *endpoint);

//  The marks not sent yet, which confirmed batches raise; NULL when not
//  connected (nothing to collect).
zstate_writer_marks_t *
    zstate_writer_confirmed_unsent (zstate_writer_confirmed_t *self);

//  Send a LOST that waits (see below), then one CONFIRMED with every
//  unsent mark, without blocking; on success forget them, else keep them
//  for the next try. Counts the CONFIRMED message (confirms) or a wait
//  (confirms_deferred) in stats. Returns 1 when a CONFIRMED was sent, 0
//  when there was nothing to send or it must wait.
int
    zstate_writer_confirmed_send (zstate_writer_confirmed_t *self,
                                  zstate_writer_stats_t *stats);

//  Redis lost the data of the databases named by the keys of dbs: the
//  next send sends first, never blocking, one message
//      frame 0         "LOST"
//      then one frame per db name
//  merged with any such message not sent yet. Nothing when not connected
//  or when dbs is empty.
void
    zstate_writer_confirmed_lost (zstate_writer_confirmed_t *self, zhashx_t *dbs);

//  Selftest
void
    zstate_writer_confirmed_test (bool verbose);

#endif
