/*  =========================================================================
    zstate_server_sessions_rejects - the session table's REJECTs: sent at
    once, owed when the pipe does not take them, and always before the ACK
    or WELCOME that covers their sequence

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A client forgets a message that an ACK or a WELCOME covers, and then
    has nothing to match a later REJECT of it to: a REJECT lost to a full
    pipe would leave a refused message counted as acknowledged. So a
    REJECT libzmq does not take is owed (zstate_server_rejects.c), a new
    one joins those owed rather than overtaking them, and no ACK or WELCOME
    goes while any is owed: each sends what is owed first, and a full pipe
    makes it wait for housekeeping, which sends ACKs and WELCOMEs again
    (zstate_server_sessions.c), and so what is owed before them. A session
    owing ZSTATE_SERVER_REJECTS_MAX loses the next (counted and logged):
    its client will take that message as acknowledged.
    A REJECT libzmq took may still be lost with a connection that breaks
    before the bytes go out, and the client's next HELLO would be WELCOMEd
    past it. So it stays sent but unconfirmed until housekeeping's PING
    after it is answered on the session's connection (the client answers
    PINGs in order, after reading what came before), and the next HELLO
    owes again what is unconfirmed, before what it owed already: the
    REJECTs go again before that HELLO's WELCOME. A client drops a REJECT
    of a message it no longer holds, so one that came twice costs nothing.
    A session with ZSTATE_SERVER_REJECTS_MAX unconfirmed owes the next
    until a PONG confirms them, so the bound holds for a client that reads
    but never answers.
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_sessions.h"
#include "zstate_server_session.h"

//  Send REJECT of sequence to session without waiting, unless as many as
//  can be kept are unconfirmed; true when it went
static bool
s_send_reject (zstate_server_sessions_t *self, session_t *session, uint64_t sequence,
               int reason)
{
    if (zstate_server_rejects_size (session->rejects_sent) == ZSTATE_SERVER_REJECTS_MAX)
        return false;
    zstate_session_msg_t reject = {
        .type = ZSTATE_SESSION_MSG_REJECT, .session = session->id,
        .epoch = self->epoch, .sequence = sequence, .reason = reason,
        .text = zstate_session_msg_reason_text (reason)
    };
    reject.text_size = strlen (reject.text);
    if (!zstate_server_session_send (self, session, &reject))
        return false;
    self->stats->rejects++;
    bool kept = zstate_server_rejects_add (&session->rejects_sent, sequence, reason);
    assert (kept);
    return true;
}

bool
zstate_server_session_rejects_flush (zstate_server_sessions_t *self, session_t *session)
{
    uint64_t sequence;
    int reason;
    while (zstate_server_rejects_first (session->rejects, &sequence, &reason)) {
        if (!s_send_reject (self, session, sequence, reason))
            return false;
        zstate_server_rejects_remove_first (session->rejects);
    }
    zstate_server_rejects_destroy (&session->rejects);
    return true;
}

//  Count a REJECT of sequence that nothing will send
static void
s_lost (zstate_server_sessions_t *self, uint64_t sequence, int reason)
{
    uint64_t lost = ++self->stats->rejects_lost;
    if (lost && (lost & (lost - 1)) == 0)
        zsys_warning ("zstate_server: a session owes %d REJECTs, the one of %" PRIu64
                      " (%s) is lost; %" PRIu64 " lost so far", ZSTATE_SERVER_REJECTS_MAX,
                      sequence, zstate_session_msg_reason_text (reason), lost);
}

void
zstate_server_session_reject (zstate_server_sessions_t *self, session_t *session,
                              uint64_t sequence, int reason)
{
    if (zstate_server_session_rejects_flush (self, session)
    &&  s_send_reject (self, session, sequence, reason))
        return;
    if (zstate_server_rejects_add (&session->rejects, sequence, reason))
        self->stats->rejects_owed++;
    else
        s_lost (self, sequence, reason);
}

void
zstate_server_session_rejects_hello (zstate_server_sessions_t *self, session_t *session)
{
    assert (self);
    assert (session);
    size_t sent = zstate_server_rejects_size (session->rejects_sent);
    size_t lost = zstate_server_rejects_requeue (&session->rejects, &session->rejects_sent);
    self->stats->rejects_owed += sent;
    if (lost) {
        self->stats->rejects_lost += lost;
        zsys_warning ("zstate_server: a session reconnected owing %d REJECTs, %zu more"
                      " are lost; %" PRIu64 " lost so far", ZSTATE_SERVER_REJECTS_MAX, lost,
                      self->stats->rejects_lost);
    }
    session->rejects_confirm = 0;
    session->rejects_confirming = 0;
}

void
zstate_server_session_rejects_pong (zstate_server_sessions_t *self, session_t *session,
                                    uint64_t nonce)
{
    assert (self);
    assert (session);
    if (!session->rejects_confirm || nonce != session->rejects_confirm)
        return;
    for (; session->rejects_confirming; session->rejects_confirming--)
        zstate_server_rejects_remove_first (session->rejects_sent);
    session->rejects_confirm = 0;
    if (!zstate_server_rejects_size (session->rejects_sent))
        zstate_server_rejects_destroy (&session->rejects_sent);
}

void
zstate_server_session_rejects_confirm (zstate_server_sessions_t *self, session_t *session)
{
    assert (self);
    assert (session);
    size_t sent = zstate_server_rejects_size (session->rejects_sent);
    if (session->rejects_confirm || !sent)
        return;
    session->rejects_confirm = zstate_server_session_confirm_ping (self, session);
    session->rejects_confirming = session->rejects_confirm? sent: 0;
}

void
zstate_server_session_rejects_destroy (session_t *session)
{
    assert (session);
    zstate_server_rejects_destroy (&session->rejects);
    zstate_server_rejects_destroy (&session->rejects_sent);
}
