/*  =========================================================================
    zstate_server_sessions - private header: the server's session table,
    which counts sequence gaps per client session

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_SESSIONS_H_INCLUDED
#define ZSTATE_SERVER_SESSIONS_H_INCLUDED

//  The server actor owns one and calls it from its own thread. Its test is
//  part of zstate_server_test (gaps, steps back, the session count).
typedef struct _zstate_server_sessions_t zstate_server_sessions_t;

//  Create an empty table.
zstate_server_sessions_t *
    zstate_server_sessions_new (void);

//  Destroy the table; nulls the pointer.
void
    zstate_server_sessions_destroy (zstate_server_sessions_t **self_p);

//  Note that session_id (ZSTATE_MSG_SESSION_SIZE bytes) sent sequence.
//  Returns true when that is a gap: not the sequence right after the last
//  one the session sent, which goes to *last_p. A new session is no gap.
bool
    zstate_server_sessions_track (zstate_server_sessions_t *self,
                                  const byte *session_id, uint64_t sequence,
                                  uint64_t *last_p);

//  Advance the session clock one tick and forget sessions that have been
//  idle for SESSION_IDLE_TICKS. Returns how many were forgotten.
size_t
    zstate_server_sessions_tick (zstate_server_sessions_t *self);

//  Return the number of sessions tracked now.
size_t
    zstate_server_sessions_size (zstate_server_sessions_t *self);

#endif
