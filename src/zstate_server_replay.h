/*  =========================================================================
    zstate_server_replay - private header: version 2 sessions at level
    PERSISTED that a full DB writer fell behind, delivered without the
    writer's copy and replayed to the writer once it has room again
    (doc/protocol.md, section 17)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_REPLAY_H_INCLUDED
#define ZSTATE_SERVER_REPLAY_H_INCLUDED

#include "zstate_server_routes.h"

//  The server actor owns one and calls it from its own thread; it is
//  tested through zstate_server_sessions_suite and the redis-down fault
//  scenario.
typedef struct _zstate_server_replay_t zstate_server_replay_t;

//  Create one that checks writers and sends REPLAYs from a timer on loop,
//  through sessions, counting into *stats.
zstate_server_replay_t *
    zstate_server_replay_new (zloop_t *loop, zstate_server_sessions_t *sessions,
                              zstate_server_stats_t *stats);

//  Destroy; nulls the pointer.
void
    zstate_server_replay_destroy (zstate_server_replay_t **self_p);

//  Return true when the session is behind on route: its next message goes
//  to the consumer only.
bool
    zstate_server_replay_behind (zstate_server_replay_t *self, const byte *session,
                                 zstate_server_route_t *route);

//  The writer of route lacks the session's message sequence, which went
//  to the consumer only: the writer was full for it, or the session is
//  behind on route already. Behind from the first such message, until a
//  round gives the writer every one up to the last.
void
    zstate_server_replay_lacks (zstate_server_replay_t *self, const byte *session,
                                zstate_server_route_t *route, uint64_t sequence);

//  Return true when some session is behind.
bool
    zstate_server_replay_active (zstate_server_replay_t *self);

//  A message of session sent again, sequence, whose table is route (NULL
//  when it has none): forward it to the writer when it is the next that
//  the writer lacks, else drop it. payload is version 2 as it came and
//  is taken when it goes; kind is its type (ZSTATE_SESSION_MSG_*).
//  Returns false, having only counted it (its place in the round), when
//  the session is not behind on route: a plain duplicate.
bool
    zstate_server_replay_input (zstate_server_replay_t *self, const byte *session,
                                uint64_t sequence, zstate_server_route_t *route,
                                int kind, zmq_msg_t *payload);

//  Route goes away: forget what waits for its writer.
void
    zstate_server_replay_forget_route (zstate_server_replay_t *self,
                                       zstate_server_route_t *route);

#endif
