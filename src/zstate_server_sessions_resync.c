/*  =========================================================================
    zstate_server_sessions_resync - the session table's RESYNCs: sent to
    every session that was granted the feature, owed when they cannot go

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    RESYNC is sent without waiting, like every reply. A session whose
    RESYNC libzmq does not take, because its routing id has no connection
    any more (the ROUTER is mandatory) or its pipe is full, owes it
    (zstate_server_owed.c); its next WELCOME, which the client sends HELLO
    for after any reconnect, is followed by what it owes, and the table's
    housekeeping tries again meanwhile, for a pipe that was only full. While a session
    owes anything, a new RESYNC joins what it owes rather than overtaking
    it. A session forgotten while it owed anything (silent past the idle
    limit, or evicted) cannot be told when it comes back, since the
    table no longer knows it: from then on, every session new to the
    instance is owed RESYNC of every table. A RESYNC libzmq took may
    still be lost with a connection that breaks before the bytes go out,
    so it stays unconfirmed (a second owed list) until the session's bound
    connection answers the PING sent after it: the client answers PINGs
    in order on the connection they came by, so that PONG says everything
    before it arrived. The session's next HELLO owes again what is still
    unconfirmed, before what it owed already; a session forgotten with
    unconfirmed RESYNCs counts as one forgotten owing.
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_sessions.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_session.h"

void
zstate_server_sessions_set_unrestored (zstate_server_sessions_t *self, size_t unrestored)
{
    assert (self);
    self->unrestored = unrestored;
}

bool
zstate_server_sessions_granted (zstate_server_sessions_t *self, const byte *session_id)
{
    assert (self);
    session_t *session = self->current
                      && memcmp (self->current->id, session_id,
                                 ZSTATE_MSG_SESSION_SIZE) == 0?
                         self->current:
                         (session_t *) zhashx_lookup (self->sessions, session_id);
    return session && session->version == 2 && session->resync;
}

//  Send one RESYNC to session; true when it went
static bool
s_resync_send (zstate_server_sessions_t *self, session_t *session, const char *db,
               const char *table)
{
    zstate_session_msg_t resync = {
        .type = ZSTATE_SESSION_MSG_RESYNC, .session = session->id,
        .epoch = self->epoch, .db = db, .table = table
    };
    if (!zstate_server_session_send (self, session, &resync))
        return false;
    self->stats->resyncs_sent++;
    //  libzmq took it, which the connection may still lose: unconfirmed
    //  until the PONG to a PING sent after it
    zstate_server_owed_add (&session->unconfirmed, db, table);
    session->confirm = 0;
    return true;
}

//  PING session after what it was sent unconfirmed, unless that PING went
//  already; its nonce is one no heartbeat PING has
static void
s_confirm_ping (zstate_server_sessions_t *self, session_t *session)
{
    if (!session->confirm && zstate_server_owed_size (session->unconfirmed))
        session->confirm = zstate_server_session_confirm_ping (self, session);
}

//  Owe session one RESYNC
static void
s_resync_owe (zstate_server_sessions_t *self, session_t *session, const char *db,
              const char *table)
{
    zstate_server_owed_add (&session->owed, db, table);
    self->stats->resyncs_owed++;
}

//  Send session RESYNC of (db, table), or owe it, when it was granted it
static void
s_resync (zstate_server_sessions_t *self, session_t *session, const char *db,
          const char *table)
{
    if (session->version == 2 && session->resync) {
        //  Never before a WELCOME has granted it: the client could not
        //  know what RESYNC is
        if (!session->welcomed || zstate_server_owed_size (session->owed)
        ||  !s_resync_send (self, session, db, table))
            s_resync_owe (self, session, db, table);
        s_confirm_ping (self, session);
    }
}

void
zstate_server_sessions_resync (zstate_server_sessions_t *self, const char *db,
                               const char *table)
{
    assert (self);
    assert (db && table);
    session_t *session = (session_t *) zlistx_first (self->lru);
    while (session) {
        s_resync (self, session, db, table);
        session = (session_t *) zlistx_next (self->lru);
    }
}

void
zstate_server_sessions_resync_one (zstate_server_sessions_t *self,
                                   const byte *session_id, const char *db,
                                   const char *table)
{
    assert (self);
    assert (session_id && db && table);
    session_t *session = (session_t *) zhashx_lookup (self->sessions, session_id);
    if (session)
        s_resync (self, session, db, table);
}

void
zstate_server_session_resync_new (zstate_server_sessions_t *self, session_t *session,
                                  uint32_t features)
{
    assert (self);
    assert (session);
    //  What its producers' mirrors hold may be missing from every table
    //  that was not restored from Redis, or from one a RESYNC that this
    //  session may have been owed, when forgotten, was for
    if ((self->unrestored || self->forgot_owed)
    &&  (features & ZSTATE_SESSION_FEATURE_RESYNC))
        zstate_server_owed_add (&session->owed, "", "");
}

void
zstate_server_session_resync_forget (zstate_server_sessions_t *self, session_t *session)
{
    assert (self);
    assert (session);
    if (zstate_server_owed_size (session->owed)
    ||  zstate_server_owed_size (session->unconfirmed))
        self->forgot_owed = true;
}

void
zstate_server_session_owed_destroy (session_t *session)
{
    assert (session);
    zstate_server_owed_destroy (&session->owed);
    zstate_server_owed_destroy (&session->unconfirmed);
}

void
zstate_server_session_resync_hello (zstate_server_sessions_t *self, session_t *session)
{
    assert (self);
    assert (session);
    //  The PONG that would confirm them can only come on this connection
    //  now, and nothing says the old one delivered them
    zstate_server_owed_requeue (&session->owed, &session->unconfirmed);
    session->confirm = 0;
}

void
zstate_server_session_resync_pong (zstate_server_sessions_t *self, session_t *session,
                                   uint64_t nonce)
{
    assert (self);
    assert (session);
    if (self->pong_fn)          //  the replay's round may end with it
        self->pong_fn (self->pong_arg, session->id, nonce);
    //  The client answers on the connection the PING came by, after
    //  reading everything sent before it
    if (session->confirm && nonce == session->confirm) {
        zstate_server_owed_destroy (&session->unconfirmed);
        session->confirm = 0;
    }
}

void
zstate_server_session_owed_flush (zstate_server_sessions_t *self, session_t *session)
{
    assert (self);
    assert (session);
    const char *db, *table;
    while (session->resync && session->welcomed
       &&  zstate_server_owed_first (session->owed, &db, &table)
       &&  s_resync_send (self, session, db, table))
        zstate_server_owed_remove_first (session->owed);
    s_confirm_ping (self, session);
}
