/*  =========================================================================
    zstate_server_rejects - private header: the REJECTs the server owes one
    session, which its pipe did not take when they were due

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_REJECTS_H_INCLUDED
#define ZSTATE_SERVER_REJECTS_H_INCLUDED

//  The session table (zstate_server_sessions_rejects.c) keeps one per
//  session that owes any, on the server's thread; it is tested through
//  zstate_server_resync_suite (selftest/zstate_server_resync_suite.c).
//  A FIFO of (sequence, reason), oldest first, of at most
//  ZSTATE_SERVER_REJECTS_MAX: a client that reads nothing while it sends
//  one refused message after another costs no more than that.
typedef struct _zstate_server_rejects_t zstate_server_rejects_t;

#define ZSTATE_SERVER_REJECTS_MAX   64

//  Owe a REJECT of sequence with reason, after those owed already.
//  Creates *self_p on first use. Returns false, owing nothing more, when
//  ZSTATE_SERVER_REJECTS_MAX are owed.
bool
    zstate_server_rejects_add (zstate_server_rejects_t **self_p, uint64_t sequence,
                               int reason);

//  The oldest REJECT owed, in *sequence_p and *reason_p: true, or false
//  when none is owed. self may be NULL.
bool
    zstate_server_rejects_first (zstate_server_rejects_t *self, uint64_t *sequence_p,
                                 int *reason_p);

//  The oldest REJECT owed went: forget it
void
    zstate_server_rejects_remove_first (zstate_server_rejects_t *self);

//  Put what *sent_p holds (REJECTs sent, not confirmed) before what
//  *self_p owes, oldest first, and empty *sent_p. Returns how many of
//  those owed did not fit in ZSTATE_SERVER_REJECTS_MAX, the newest, which
//  are forgotten.
size_t
    zstate_server_rejects_requeue (zstate_server_rejects_t **self_p,
                                   zstate_server_rejects_t **sent_p);

//  The number of REJECTs owed; self may be NULL
size_t
    zstate_server_rejects_size (zstate_server_rejects_t *self);

//  Destroy; nulls the pointer
void
    zstate_server_rejects_destroy (zstate_server_rejects_t **self_p);

#endif
