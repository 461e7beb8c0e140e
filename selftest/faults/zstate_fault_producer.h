/*  =========================================================================
    zstate_fault_producer - a producer in a child process, for the fault
    harness: a restarted producer that re-asserts its table in a view, or
    dies in the middle of one

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_FAULT_PRODUCER_H_INCLUDED
#define ZSTATE_FAULT_PRODUCER_H_INCLUDED

#include <czmq.h>

//  @interface
//  The child is the harness binary run again as
//      producer ENDPOINT KEYS ROUND SHARE VIEW LEVEL REPLY_FD
//  A client connected to ENDPOINT at acknowledgement level LEVEL (a
//  ZSTATE_ACK_* value) and a producer table on ZSTATE_FAULT_DB /
//  ZSTATE_FAULT_TABLE with a mirror of KEYS keys send one round of the
//  model's operations: SET "k%07u" seq ROUND for every key number k below
//  KEYS with k % 10 < SHARE, in key order (the model's operations
//  (ROUND - 1) * KEYS + k). VIEW is "none", "view" (the round is a view:
//  begin_view before, end_view after), "single" (the same, one operation
//  per wire message: zstate_client_set_batch 1), "open" (begin_view, never
//  ended) or "split" (begin_view and the key numbers below KEYS / 2; the
//  rest and end_view once resumed). Then it flushes (up to 60 s) and
//  answers 'F' on REPLY_FD, or 'X' when a send was refused or the flush
//  failed; "open" then waits to be killed, "split" waits for SIGUSR1 to
//  send its second half, flush and answer again, and the others exit (0
//  after 'F'). The child gets SIGKILL when the harness dies.

typedef struct _zstate_fault_producer_t zstate_fault_producer_t;

//  Create a handle for producers of keys keys on endpoint. Starts nothing.
zstate_fault_producer_t *
    zstate_fault_producer_new (const char *endpoint, size_t keys);

//  Kill the child if it runs; nulls the pointer.
void
    zstate_fault_producer_destroy (zstate_fault_producer_t **self_p);

//  Start a child for one round (see above) and wait (up to 120 s) for its
//  answer. Returns 0 once it answered 'F', or -1 with errno: EBUSY when
//  one runs, EIO when it answered 'X', ETIMEDOUT, ECHILD when it ended
//  without an answer.
int
    zstate_fault_producer_run (zstate_fault_producer_t *self, unsigned round,
                               unsigned share, const char *view, int level);

//  Let a child in a "split" view send its second half and end the view,
//  and wait (up to 120 s) for its answer. Returns 0 once it answered 'F',
//  or -1 with errno as zstate_fault_producer_run, ESRCH when no split
//  view waits.
int
    zstate_fault_producer_resume (zstate_fault_producer_t *self);

//  Kill the child (SIGKILL) and reap it; or, with signum 0, wait for it
//  to exit. Returns its exit status (-1 when killed), or -1 with errno
//  ESRCH when none runs.
int
    zstate_fault_producer_end (zstate_fault_producer_t *self, int signum);

//  The child's body. Returns the exit status.
int
    zstate_fault_producer_main (int argc, char *argv []);

//  Self test of this class.
void
    zstate_fault_producer_test (bool verbose);
//  @end

#endif
