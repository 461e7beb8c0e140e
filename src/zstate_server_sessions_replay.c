/*  =========================================================================
    zstate_server_sessions_replay - what the server's replay to a full DB
    writer asks of the session table (zstate_server_replay.c is the rest)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_sessions.h"
#include "zstate_server_session.h"

void
zstate_server_sessions_set_pong (zstate_server_sessions_t *self,
                                 zstate_server_sessions_pong_fn *fn, void *arg)
{
    assert (self);
    self->pong_fn = fn;
    self->pong_arg = arg;
}

//  The version 2 session with that id, or NULL
static session_t *
s_session_v2 (zstate_server_sessions_t *self, const byte *session_id)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, session_id);
    return session && session->version == 2? session: NULL;
}

bool
zstate_server_sessions_replayable (zstate_server_sessions_t *self, const byte *session_id)
{
    assert (self);
    session_t *session = s_session_v2 (self, session_id);
    //  A client granted REPLAY keeps what P does not cover, at either level
    return session && session->replay;
}

bool
zstate_server_sessions_replayed (zstate_server_sessions_t *self,
                                 const byte *routing, size_t routing_size,
                                 const byte *data, size_t size, uint64_t *sequence_p)
{
    assert (self);
    if (size < 28)
        return false;
    session_t *session = s_session_v2 (self, data + 4);
    uint64_t sequence = zstate_server_get_uint64 (data + 20);
    if (!session || sequence == 0 || sequence > session->delivered
    ||  session->routing_size != routing_size
    ||  memcmp (session->routing, routing, routing_size))
        return false;
    *sequence_p = sequence;
    return true;
}

uint64_t
zstate_server_sessions_delivered_of (zstate_server_sessions_t *self,
                                     const byte *session_id)
{
    assert (self);
    session_t *session = s_session_v2 (self, session_id);
    return session? session->delivered: 0;
}

uint32_t
zstate_server_sessions_hellos_of (zstate_server_sessions_t *self, const byte *session_id)
{
    assert (self);
    session_t *session = s_session_v2 (self, session_id);
    return session? session->hellos: 0;
}

bool
zstate_server_sessions_replay (zstate_server_sessions_t *self, const byte *session_id,
                               zstate_session_msg_t *replay)
{
    assert (self);
    assert (replay);
    session_t *session = s_session_v2 (self, session_id);
    if (!session || !session->welcomed)
        return false;
    replay->type = ZSTATE_SESSION_MSG_REPLAY;
    replay->session = session->id;
    replay->epoch = self->epoch;
    if (!replay->sequence)
        replay->sequence = 1;
    if (replay->to > session->delivered)
        replay->to = session->delivered;
    if (replay->to < replay->sequence)
        replay->to = replay->sequence;
    if (!zstate_server_session_send (self, session, replay))
        return false;
    self->stats->replays_sent++;
    return true;
}
