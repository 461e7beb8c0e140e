/*  =========================================================================
    zstate_server_sessions_acks - the session table's ACKs, coalesced

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A session whose D moved joins the due list, which is flushed ACK_EVERY
    messages later or when the server's ACK timer fires, so a steady stream
    costs one ACK per batch of messages, not per message. An ACK libzmq
    did not take stays due, and the table's housekeeping sends it again,
    since no later one need come: a client that sent its last message
    would wait.
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_sessions.h"
#include "zstate_server_session.h"

#define ACK_EVERY           64      //  ACK at once after this many messages
#define HEARTBEAT_NONE_WAIT 1000    //  msecs an ACK may wait without one

void
zstate_server_sessions_set_ack_delay (zstate_server_sessions_t *self, uint32_t ack_delay)
{
    assert (self);
    self->ack_delay = ack_delay;
    zstate_server_session_acks_rearm (self);
}

uint32_t
zstate_server_sessions_ack_delay (zstate_server_sessions_t *self)
{
    assert (self);
    //  The protocol lets an ACK wait one heartbeat interval at most
    uint32_t limit = self->heartbeat? self->heartbeat: HEARTBEAT_NONE_WAIT;
    return self->ack_delay < limit? self->ack_delay: limit;
}

void
zstate_server_session_ack_send (zstate_server_sessions_t *self, session_t *session)
{
    assert (self);
    zstate_session_msg_t ack = {
        .type = ZSTATE_SESSION_MSG_ACK, .session = session->id,
        .epoch = self->epoch, .delivered = session->delivered,
        .persisted = session->persisted
    };
    bool sent = zstate_server_session_rejects_flush (self, session)
             && zstate_server_session_send (self, session, &ack);
    if (session->due_handle) {
        zlistx_delete (self->due, session->due_handle);
        session->due_handle = NULL;
    }
    if (!sent) {
        //  Still due: housekeeping tries again, not each message
        session->retry = session->retry? session->retry: RETRY_ACK;
        return;
    }
    if (session->retry == RETRY_ACK)
        session->retry = RETRY_NONE;
    session->acked = session->delivered;
    session->acked_persisted = session->persisted;
    session->unacked = 0;
    session->ack_again = false;
    self->stats->acks++;
}

//  Timer, once: send every ACK that waits
static int
s_acks_flush (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zstate_server_sessions_t *self = (zstate_server_sessions_t *) arg;
    self->ack_timer = -1;
    session_t *session;
    while ((session = (session_t *) zlistx_first (self->due)))
        zstate_server_session_ack_send (self, session);
    return 0;
}

//  Start the ACK timer when an ACK waits and the timer does not run
static void
s_acks_arm (zstate_server_sessions_t *self)
{
    if (self->ack_timer == -1 && zlistx_size (self->due)) {
        self->ack_timer = zloop_timer (self->loop,
                                       zstate_server_sessions_ack_delay (self),
                                       1, s_acks_flush, self);
        assert (self->ack_timer != -1);
    }
}

void
zstate_server_session_acks_rearm (zstate_server_sessions_t *self)
{
    assert (self);
    if (self->ack_timer != -1) {
        zloop_timer_end (self->loop, self->ack_timer);
        self->ack_timer = -1;
    }
    s_acks_arm (self);
}

void
zstate_server_session_ack_due (zstate_server_sessions_t *self, session_t *session)
{
    assert (self);
    if (session->unacked >= ACK_EVERY && session->retry == RETRY_NONE)
        zstate_server_session_ack_send (self, session);
    else
    if (!session->due_handle) {
        session->due_handle = zlistx_add_end (self->due, session);
        assert (session->due_handle);
        s_acks_arm (self);
    }
}
