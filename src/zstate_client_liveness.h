/*  =========================================================================
    zstate_client_liveness - private header: when a protocol version 2
    client holding operations the server has not acknowledged takes the
    server for dead

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CLIENT_LIVENESS_H_INCLUDED
#define ZSTATE_CLIENT_LIVENESS_H_INCLUDED

//  A slow server is not a dead one: ACKs that do not move (level PERSISTED
//  while Redis is down, a consumer that does not pop) leave the client
//  full (ENOBUFS), never FAILED. Only silence counts: nothing at all heard
//  from the server (ACK, PONG, PING, WELCOME, REJECT...) for the timeout
//  while the client holds operations. The client agent keeps one on its
//  thread; times are zclock_mono () msecs given by the caller, so the
//  rule is tested without a clock or a socket.
typedef struct _zstate_client_liveness_t zstate_client_liveness_t;

//  Create one: not holding, nothing heard, timeout 10000 msecs.
zstate_client_liveness_t *
    zstate_client_liveness_new (void);

//  Destroy; nulls the pointer.
void
    zstate_client_liveness_destroy (zstate_client_liveness_t **self_p);

//  Silence of timeout msecs while holding means dead; at least two
//  heartbeat intervals, since a live server is heard about once in one
//  (the client PINGs it every interval).
void
    zstate_client_liveness_set_timeout (zstate_client_liveness_t *self, int64_t timeout,
                                        int64_t heartbeat);

//  Something came from the server at now.
void
    zstate_client_liveness_heard (zstate_client_liveness_t *self, int64_t now);

//  Whether the client holds operations the server has not acknowledged,
//  at now: the wait starts at the first call that says it does after one
//  that said it did not.
void
    zstate_client_liveness_holding (zstate_client_liveness_t *self, bool holding,
                                    int64_t now);

//  How long the server has been silent at now while the client held
//  operations, msecs: since the later of the last heard and the start of
//  holding; 0 when not holding.
int64_t
    zstate_client_liveness_silence (zstate_client_liveness_t *self, int64_t now);

//  True when that silence reached the timeout: the server is dead.
bool
    zstate_client_liveness_dead (zstate_client_liveness_t *self, int64_t now);

//  Selftest
void
    zstate_client_liveness_test (bool verbose);

#endif
