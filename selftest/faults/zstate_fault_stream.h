/*  =========================================================================
    zstate_fault_stream - the producer side of a fault scenario: a client
    and a producer table writing the model's operations, paced or at full
    rate, watching the client's events to time fault detection

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_FAULT_STREAM_H_INCLUDED
#define ZSTATE_FAULT_STREAM_H_INCLUDED

#include "zstate.h"
#include "zstate_fault_model.h"

//  @interface
//  Each operation is one zstate_producer_set of its key with the fields
//  seq (the model's counter) and, when a value size is set, v (that many
//  bytes), or a zstate_producer_del when the model makes it a DEL. A send refused with ENOBUFS or ENOTCONN is tried again every
//  millisecond for up to the retry budget, then recorded as refused (the
//  model expects refused operations nowhere). With a rate, sends are
//  spaced to that many operations per second.
//
//  Detection: zstate_fault_stream_fault marks the moment a fault starts;
//  the first STATE DISCONNECTED or FAILED event after it gives the
//  detection time. Faults that no event followed count as undetected.

typedef struct _zstate_fault_stream_t zstate_fault_stream_t;

//  Create a client connected to endpoint and a producer table on
//  ZSTATE_FAULT_DB / ZSTATE_FAULT_TABLE writing model's operations.
zstate_fault_stream_t *
    zstate_fault_stream_new (const char *endpoint, zstate_fault_model_t *model);

//  The same with a client that asks for acknowledgement level (a
//  ZSTATE_ACK_* value) instead of DELIVERED.
zstate_fault_stream_t *
    zstate_fault_stream_new_at (const char *endpoint, zstate_fault_model_t *model,
                                int level);

//  Destroy the producer and the client (which waits up to its linger
//  time); nulls the pointer.
void
    zstate_fault_stream_destroy (zstate_fault_stream_t **self_p);

//  Pace at rate operations per second (0: full rate), retry a refused
//  send for up to retry msecs, add a field of value_size bytes.
void
    zstate_fault_stream_set (zstate_fault_stream_t *self, int rate, int retry,
                             size_t value_size);

//  Send count operations, or for at most msecs when msecs > 0, whichever
//  ends first. Returns the operations offered (accepted or refused).
size_t
    zstate_fault_stream_run (zstate_fault_stream_t *self, size_t count, int msecs);

//  Mark the start of a fault, for detection timing.
void
    zstate_fault_stream_fault (zstate_fault_stream_t *self);

//  Write odd key numbers to a second producer table on the same client,
//  ZSTATE_FAULT_DB / ZSTATE_FAULT_TABLE_2 (see the observer's mode tables).
//  Before the first run.
void
    zstate_fault_stream_set_tables (zstate_fault_stream_t *self);

//  Read the client's events; called by run, and by scenarios that wait.
void
    zstate_fault_stream_events (zstate_fault_stream_t *self);

//  Faults marked, faults detected, and the mean and the longest detection
//  time in msecs (0 when none was detected).
void
    zstate_fault_stream_detection (zstate_fault_stream_t *self, int *faults_p,
                                   int *detected_p, int64_t *mean_p, int64_t *max_p);

//  Operations refused after the retry budget.
uint64_t
    zstate_fault_stream_refused (zstate_fault_stream_t *self);

//  Return the client, and the producer table.
zstate_client_t *
    zstate_fault_stream_client (zstate_fault_stream_t *self);
zstate_producer_t *
    zstate_fault_stream_producer (zstate_fault_stream_t *self);

//  Self test of this class.
void
    zstate_fault_stream_test (bool verbose);
//  @end

#endif
