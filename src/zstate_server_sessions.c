/*  =========================================================================
    zstate_server_sessions - the server's session table: sessions of
    protocol version 2 with their acknowledgements and heartbeats, and the
    last sequence of each version 1 session, to count gaps

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A version 2 session (doc/protocol.md, sections 16 to 18) lives from its
    HELLO until it has been silent for the session idle limit (10 minutes
    by default), and at least for 3 of its client's heartbeat intervals.
    The limit is long on purpose: a client gives up on a connection after 3
    heartbeats, but it comes back to the same session, and what the server
    remembers (D) is what lets it drop the messages the client sends again;
    a session forgotten too early would deliver them twice. The table's
    bound, not the silence, keeps its memory in check. It
    is bound to the routing id of its latest HELLO: OPS that arrive under
    it from another routing id come from an older connection, whose pipe
    may still hold messages the new connection sends again, so they are
    dropped (superseded) rather than interleaved. It delivers exactly the
    sequence after the last delivered one (D): below is a duplicate, above
    is a gap, answered by one WELCOME with D as a resume request.
    A version 1 session only counts its gaps (section 8): its messages are
    delivered whatever their sequence.
@discuss
    ACKs are coalesced (zstate_server_sessions_acks.c). Replies go out
    with ZMQ_DONTWAIT: a client that does not read loses replies, never
    stops the server. An ACK or WELCOME libzmq did not take is sent again
    by housekeeping, since no later one need come: a client that sent its
    last message, or is behind a gap, would wait. A REJECT it did not
    take is owed, and goes before them (zstate_server_sessions_rejects.c).
    P is the session's zstate_server_persist_t, which knows what waits for
    which writer; a confirmation that moves P makes an ACK due as a
    delivery does.
    The table is bounded. A HELLO for a new session when full evicts the
    least recently heard session of either version (the lru list is
    ordered by when each was last heard); version 1 sessions past the
    bound are delivered but not checked. Silence is measured on a clock
    that stops while the server reads nothing, since clients are not heard
    then through no fault of theirs.
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_sessions.h"
#include "zstate_server_persist.h"
#include "zstate_server_limiter.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_session.h"
#include "zstate_server_agent.h"

#define SESSIONS_MAX        65536   //  default bound of the table
#define IDLE_MAX            600000  //  msecs: default session idle limit
#define ACK_DELAY           10      //  msecs an ACK may wait, by default
#define HEARTBEAT           1000    //  msecs, the server's default
#define NO_SESSION_MAX      1024    //  routing ids remembered for NO_SESSION
#define NO_SESSION_IVL      1000    //  msecs, one NO_SESSION per routing id
#define TICK_IDLE           250     //  msecs between housekeeping runs
                                    //  without a heartbeat; else 1/4 of it
#define TICK_MIN            5       //  ... and never more often

static void
s_session_free (void **item_p)
{
    session_t *session = (session_t *) *item_p;
    zstate_server_persist_destroy (&session->persist);
    zstate_server_session_owed_destroy (session);
    zstate_server_session_rejects_destroy (session);
    free (session);
    *item_p = NULL;
}

//  Log the 1st, 2nd, 4th, 8th... occurrence of something
static bool
s_worth_logging (uint64_t count)
{
    return count && (count & (count - 1)) == 0;
}

static int
    s_tick (zloop_t *loop, int timer_id, void *arg);

//  (Re)start the housekeeping timer for our heartbeat interval
static void
s_tick_start (zstate_server_sessions_t *self)
{
    if (self->tick_timer != -1)
        zloop_timer_end (self->loop, self->tick_timer);
    size_t period = self->heartbeat? self->heartbeat / 4: TICK_IDLE;
    self->tick_timer = zloop_timer (self->loop, period < TICK_MIN? TICK_MIN: period,
                                    0, s_tick, self);
    assert (self->tick_timer != -1);
}

zstate_server_sessions_t *
zstate_server_sessions_new (zloop_t *loop, void *router, zstate_server_stats_t *stats)
{
    assert (loop);
    assert (router);
    assert (stats);
    zstate_server_sessions_t *self =
        (zstate_server_sessions_t *) zmalloc (sizeof (zstate_server_sessions_t));
    assert (self);
    self->loop = loop;
    self->router = router;
    self->stats = stats;
    //  Keys point into their session_t, which the item destructor frees
    self->sessions = zstate_server_session_table (s_session_free);
    self->lru = zlistx_new ();
    self->due = zlistx_new ();
    self->no_session = zstate_server_limiter_new (NO_SESSION_MAX, NO_SESSION_IVL);
    assert (self->lru && self->due);
    //  A random UUID names this instance; all zero means "unknown"
    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    memcpy (self->epoch, zuuid_data (uuid), ZSTATE_SESSION_EPOCH_SIZE);
    zuuid_destroy (&uuid);
    self->epoch [0] |= 1;
    self->max = SESSIONS_MAX;
    self->heartbeat = HEARTBEAT;
    self->idle = IDLE_MAX;
    self->ack_delay = ACK_DELAY;
    self->tick_timer = -1;
    self->ack_timer = -1;
    s_tick_start (self);
    return self;
}

void
zstate_server_sessions_destroy (zstate_server_sessions_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_server_sessions_t *self = *self_p;
        zloop_timer_end (self->loop, self->tick_timer);
        if (self->ack_timer != -1)
            zloop_timer_end (self->loop, self->ack_timer);
        zlistx_destroy (&self->due);
        zlistx_destroy (&self->lru);
        zhashx_destroy (&self->sessions);
        zhashx_destroy (&self->owners);
        zstate_server_limiter_destroy (&self->no_session);
        free (self);
        *self_p = NULL;
    }
}

void
zstate_server_sessions_set_heartbeat (zstate_server_sessions_t *self, uint32_t heartbeat)
{
    assert (self);
    self->heartbeat = heartbeat;
    s_tick_start (self);
    zstate_server_session_acks_rearm (self);
}

void
zstate_server_sessions_set_idle (zstate_server_sessions_t *self, uint32_t idle)
{
    assert (self);
    self->idle = idle;
}

void
zstate_server_sessions_set_writers (zstate_server_sessions_t *self, size_t writers)
{
    assert (self);
    self->writers = writers;
}

void
zstate_server_sessions_set_max (zstate_server_sessions_t *self, size_t max)
{
    assert (self);
    self->max = max? max: 1;
}

//  The session clock: msecs that stops while we hold
static int64_t
s_clock (zstate_server_sessions_t *self)
{
    int64_t now = zclock_mono ();
    return now - self->held - (self->held_since? now - self->held_since: 0);
}

void
zstate_server_sessions_hold (zstate_server_sessions_t *self, bool holding)
{
    assert (self);
    if (holding && !self->held_since)
        self->held_since = zclock_mono ();
    else
    if (!holding && self->held_since) {
        self->held += zclock_mono () - self->held_since;
        self->held_since = 0;
    }
}

//  --------------------------------------------------------------------------
//  The table

static session_t *
s_session_lookup (zstate_server_sessions_t *self, const byte *session_id)
{
    //  The OPS that sessions_ops let through comes back to delivered or
    //  refuse right after, so its session is at hand
    if (self->current
    &&  memcmp (self->current->id, session_id, ZSTATE_MSG_SESSION_SIZE) == 0)
        return self->current;
    return (session_t *) zhashx_lookup (self->sessions, session_id);
}

static void
s_session_remove (zstate_server_sessions_t *self, session_t *session)
{
    if (self->current == session)
        self->current = NULL;
    zstate_server_session_resync_forget (self, session);
    zstate_server_security_unbind (self, session);
    zlistx_delete (self->lru, session->lru_handle);
    if (session->due_handle)
        zlistx_delete (self->due, session->due_handle);
    zhashx_delete (self->sessions, session->id);
}

static session_t *
s_session_new (zstate_server_sessions_t *self, const byte *session_id, int version)
{
    session_t *session = (session_t *) zmalloc (sizeof (session_t));
    assert (session);
    memcpy (session->id, session_id, ZSTATE_MSG_SESSION_SIZE);
    session->version = version;
    session->heard = s_clock (self);
    session->sent = zclock_mono ();
    session->lru_handle = zlistx_add_end (self->lru, session);
    assert (session->lru_handle);
    int rc = zhashx_insert (self->sessions, session->id, session);
    assert (rc == 0);
    return session;
}

//  A sign of life: the session goes to the end of the lru list
static void
s_session_heard (zstate_server_sessions_t *self, session_t *session)
{
    session->heard = s_clock (self);
    zlistx_move_end (self->lru, session->lru_handle);
}

int
zstate_server_sessions_track (zstate_server_sessions_t *self,
                              const byte *session_id, uint64_t sequence,
                              uint64_t *last_p)
{
    assert (self);
    assert (session_id);
    assert (last_p);
    *last_p = 0;
    session_t *session = s_session_lookup (self, session_id);
    if (session && session->version != 1)
        return -1;
    if (session) {
        bool gap = sequence != session->delivered + 1;
        *last_p = session->delivered;
        session->delivered = sequence;
        s_session_heard (self, session);
        return gap;
    }
    if (zhashx_size (self->sessions) < self->max)
        s_session_new (self, session_id, 1)->delivered = sequence;
    else {
        //  Past the bound we route but do not track
        self->untracked++;
        if (s_worth_logging (self->untracked))
            zsys_warning ("zstate_server: %zu sessions tracked, %" PRIu64
                          " messages from new sessions not checked for gaps",
                          self->max, self->untracked);
    }
    return 0;
}

bool
zstate_server_sessions_alive (zstate_server_sessions_t *self, const byte *session_id)
{
    assert (self);
    session_t *session = s_session_lookup (self, session_id);
    if (!session)
        return false;
    int64_t limit = session->heartbeat? 3 * (int64_t) session->heartbeat: self->idle;
    return s_clock (self) - session->heard < limit;
}

size_t
zstate_server_sessions_size (zstate_server_sessions_t *self)
{
    assert (self);
    return zhashx_size (self->sessions);
}

const byte *
zstate_server_sessions_epoch (zstate_server_sessions_t *self)
{
    assert (self);
    return self->epoch;
}

//  --------------------------------------------------------------------------
//  Replies

//  Send msg to routing id; a peer that does not read loses it. Returns
//  true when libzmq took it: the ROUTER is mandatory, so a routing id
//  without a connection fails as a full pipe does
static bool
s_send (zstate_server_sessions_t *self, const byte *routing, size_t routing_size,
        zstate_session_msg_t *msg)
{
    zmq_msg_t frame;
    int rc = zstate_session_msg_encode_frame (msg, &frame);
    assert (rc == 0);
    if (zmq_send (self->router, routing, routing_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1
    ||  zmq_msg_send (&frame, self->router, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&frame);
        return false;
    }
    return true;
}

bool
zstate_server_session_send (zstate_server_sessions_t *self, session_t *session,
                            zstate_session_msg_t *msg)
{
    session->sent = zclock_mono ();
    return s_send (self, session->routing, session->routing_size, msg);
}

uint64_t
zstate_server_session_confirm_ping (zstate_server_sessions_t *self, session_t *session)
{
    zstate_session_msg_t ping = {
        .type = ZSTATE_SESSION_MSG_PING, .session = session->id,
        .epoch = self->epoch, .nonce = ++self->nonce
    };
    if (!zstate_server_session_send (self, session, &ping))
        return 0;
    self->stats->pings_sent++;
    return ping.nonce;
}

//  A WELCOME that went is followed by the RESYNCs the session is owed
static void
s_send_welcome (zstate_server_sessions_t *self, session_t *session)
{
    zstate_session_msg_t welcome = {
        .type = ZSTATE_SESSION_MSG_WELCOME, .session = session->id,
        .epoch = self->epoch, .delivered = session->delivered,
        .persisted = session->persisted, .ack_level = session->ack_level,
        .heartbeat = self->heartbeat,
        .features = (session->resync? ZSTATE_SESSION_FEATURE_RESYNC: 0)
                  | (session->replay? ZSTATE_SESSION_FEATURE_REPLAY: 0)
    };
    bool sent = zstate_server_session_rejects_flush (self, session)
             && zstate_server_session_send (self, session, &welcome);
    session->acked = session->delivered;
    session->acked_persisted = session->persisted;
    session->unacked = 0;
    if (sent) {
        session->retry = RETRY_NONE;
        session->welcomed = true;
        zstate_server_session_owed_flush (self, session);
    }
    else
        session->retry = RETRY_WELCOME;
}

//  Count a message dropped for reason
static void
s_drop (zstate_server_sessions_t *self, int reason)
{
    self->stats->malformed++;
    uint64_t count = ++*zstate_server_stats_rejected (self->stats, reason);
    if (s_worth_logging (count))
        zsys_warning ("zstate_server: dropped a malformed message (%s), %" PRIu64
                      " so far", zstate_session_msg_reason_text (reason), count);
}


//  --------------------------------------------------------------------------
//  Messages other than OPS

static void
s_hello (zstate_server_sessions_t *self, const byte *routing, size_t routing_size,
         zstate_session_msg_t *hello)
{
    if (zstate_server_security_hello (self, routing, routing_size, hello))
        return;                 //  Another key's session, or the key's cap
    session_t *session = s_session_lookup (self, hello->session);
    if (session && session->version != 2) {
        //  A version 1 session that turns to version 2 starts afresh
        s_session_remove (self, session);
        session = NULL;
    }
    uint64_t first_unacked = hello->sequence;
    if (!session) {
        if (zhashx_size (self->sessions) >= self->max) {
            s_session_remove (self, (session_t *) zlistx_first (self->lru));
            self->stats->evicted++;
        }
        session = s_session_new (self, hello->session, 2);
        session->delivered = session->persisted = first_unacked - 1;
        zstate_server_session_resync_new (self, session, hello->features);
    }
    else
    if (session->delivered < first_unacked - 1) {
        //  The client forgot what we never had: a gap we cannot repair
        self->stats->gaps++;
        if (s_worth_logging (self->stats->gaps))
            zsys_warning ("zstate_server: HELLO resumes after %" PRIu64
                          ", delivered %" PRIu64 "; %" PRIu64 " gaps so far",
                          first_unacked - 1, session->delivered, self->stats->gaps);
        session->delivered = session->persisted = first_unacked - 1;
        zstate_server_persist_destroy (&session->persist);
    }
    zstate_server_security_bind (self, session);
    //  P is tracked for every session, but PERSISTED means something
    //  only where some table has a writer
    session->ack_level = self->writers? hello->ack_level: ZSTATE_SESSION_ACK_DELIVERED;
    memcpy (session->routing, routing, routing_size);
    session->routing_size = routing_size;
    session->heartbeat = hello->heartbeat;
    session->resync = (hello->features & ZSTATE_SESSION_FEATURE_RESYNC) != 0;
    session->replay = (hello->features & ZSTATE_SESSION_FEATURE_REPLAY) != 0;
    session->welcomed = false;      //  until this HELLO's WELCOME goes
    session->hellos++;
    zstate_server_session_resync_hello (self, session);
    zstate_server_session_rejects_hello (self, session);
    session->resumed = false;
    s_session_heard (self, session);
    self->stats->hellos++;
    s_send_welcome (self, session);
}

void
zstate_server_sessions_input (zstate_server_sessions_t *self,
                              const byte *routing, size_t routing_size,
                              const byte *data, size_t size)
{
    assert (self);
    assert (routing_size <= ZSTATE_SERVER_ROUTING_MAX);
    zstate_session_msg_t msg;
    int reason = zstate_session_msg_decode (&msg, data, size);
    if (reason) {
        s_drop (self, reason);
        return;
    }
    session_t *session = s_session_lookup (self, msg.session);
    bool bound = session && session->version == 2
              && session->routing_size == routing_size
              && memcmp (session->routing, routing, routing_size) == 0;
    if (msg.type == ZSTATE_SESSION_MSG_HELLO)
        s_hello (self, routing, routing_size, &msg);
    else
    if (msg.type == ZSTATE_SESSION_MSG_PING) {
        //  Answered even without a session: the epoch tells of a restart
        zstate_session_msg_t pong = {
            .type = ZSTATE_SESSION_MSG_PONG, .session = msg.session,
            .epoch = self->epoch, .nonce = msg.nonce
        };
        if (bound) {
            s_session_heard (self, session);
            zstate_server_session_send (self, session, &pong);
        }
        else
            s_send (self, routing, routing_size, &pong);
        self->stats->pings++;
    }
    else
    if (msg.type == ZSTATE_SESSION_MSG_PONG && bound) {
        s_session_heard (self, session);
        zstate_server_session_resync_pong (self, session, msg.nonce);
        zstate_server_session_rejects_pong (self, session, msg.nonce);
    }
    else {
        //  WELCOME, ACK and REJECT are the server's to send, and a PONG
        //  from a connection without a session answers nothing we sent
        self->stats->unexpected++;
        if (s_worth_logging (self->stats->unexpected))
            zsys_warning ("zstate_server: dropped %s from a client, %" PRIu64
                          " unexpected messages so far",
                          zstate_session_msg_type_name (msg.type),
                          self->stats->unexpected);
    }
}


//  --------------------------------------------------------------------------
//  OPS

//  Refuse sequence from a routing id without a session, at most once a
//  second per routing id, so that a peer cannot make us send more than it
//  sends
static void
s_no_session (zstate_server_sessions_t *self, const byte *routing, size_t routing_size,
              const byte *session_id, uint64_t sequence)
{
    if (!zstate_server_limiter_allow (self->no_session, routing, routing_size))
        return;
    zstate_session_msg_t reject = {
        .type = ZSTATE_SESSION_MSG_REJECT, .session = session_id,
        .epoch = self->epoch, .sequence = sequence,
        .reason = ZSTATE_SESSION_REASON_NO_SESSION,
        .text = zstate_session_msg_reason_text (ZSTATE_SESSION_REASON_NO_SESSION)
    };
    reject.text_size = strlen (reject.text);
    s_send (self, routing, routing_size, &reject);
    self->stats->rejects++;
}

bool
zstate_server_sessions_ops (zstate_server_sessions_t *self,
                            const byte *routing, size_t routing_size,
                            const byte *data, size_t size)
{
    assert (self);
    assert (routing_size <= ZSTATE_SERVER_ROUTING_MAX);
    //  The envelope: signature, version, type, session, sequence
    if (size < 28) {
        s_drop (self, ZSTATE_SESSION_REASON_TRUNCATED);
        return false;
    }
    const byte *session_id = data + 4;
    uint64_t sequence = zstate_server_get_uint64 (data + 20);
    if (sequence == 0) {
        s_drop (self, ZSTATE_SESSION_REASON_SEQUENCE);
        return false;
    }
    session_t *session = (session_t *) zhashx_lookup (self->sessions, session_id);
    if (!session || session->version != 2) {
        self->stats->no_session++;
        s_no_session (self, routing, routing_size, session_id, sequence);
        return false;
    }
    if (session->routing_size != routing_size
    ||  memcmp (session->routing, routing, routing_size)) {
        //  An older connection's message: the session moved on without it.
        //  It may also be the same client whose DEALER libzmq reconnected
        //  by itself, under a new routing id: NO_SESSION tells it to HELLO
        self->stats->superseded++;
        s_no_session (self, routing, routing_size, session_id, sequence);
        return false;
    }
    s_session_heard (self, session);
    if (sequence <= session->delivered) {
        //  Sent again before our ACK came: tell the client where we are
        self->stats->duplicates++;
        session->ack_again = true;
        zstate_server_session_ack_due (self, session);
        return false;
    }
    if (sequence > session->delivered + 1) {
        self->stats->gaps++;
        if (!session->resumed) {
            //  Everything in flight behind the gap is a gap too: one
            //  WELCOME asks the client to resume
            session->resumed = true;
            self->stats->resumes++;
            s_send_welcome (self, session);
        }
        return false;
    }
    self->current = session;
    return true;
}

//  P moves to what the session's writers confirmed, never back, never
//  past D; when it moved without D, acknowledge is true: an ACK tells
static void
s_persisted_update (zstate_server_sessions_t *self, session_t *session,
                    bool acknowledge)
{
    uint64_t level = zstate_server_persist_level (session->persist, session->delivered);
    if (level > session->persisted)
        session->persisted = level;
    if (acknowledge && session->persisted != session->acked_persisted)
        zstate_server_session_ack_due (self, session);
}

void
zstate_server_sessions_forwarded (zstate_server_sessions_t *self,
                                  const byte *session_id, uint64_t sequence,
                                  uint32_t route)
{
    assert (self);
    session_t *session = s_session_lookup (self, session_id);
    if (session && session->version == 2 && sequence == session->delivered + 1)
        zstate_server_persist_forwarded (&session->persist, route, sequence);
}

int
zstate_server_sessions_confirmed (zstate_server_sessions_t *self,
                                  const byte *session_id, uint32_t route,
                                  uint64_t watermark)
{
    assert (self);
    session_t *session = s_session_lookup (self, session_id);
    if (!session || session->version != 2)
        return -1;
    if (zstate_server_persist_confirmed (session->persist, route, watermark))
        s_persisted_update (self, session, true);
    return 0;
}

void
zstate_server_sessions_forget_route (zstate_server_sessions_t *self, uint32_t route)
{
    assert (self);
    session_t *session = (session_t *) zlistx_first (self->lru);
    while (session) {
        zstate_server_persist_forget (session->persist, route);
        s_persisted_update (self, session, true);
        session = (session_t *) zlistx_next (self->lru);
    }
}

void
zstate_server_sessions_delivered (zstate_server_sessions_t *self,
                                  const byte *session_id, uint64_t sequence)
{
    assert (self);
    session_t *session = s_session_lookup (self, session_id);
    if (!session || session->version != 2 || sequence != session->delivered + 1)
        return;
    session->delivered = sequence;
    s_persisted_update (self, session, false);
    session->resumed = false;
    session->unacked++;
    zstate_server_session_ack_due (self, session);
}

void
zstate_server_sessions_refuse (zstate_server_sessions_t *self,
                               const byte *session_id, uint64_t sequence, int reason)
{
    assert (self);
    session_t *session = s_session_lookup (self, session_id);
    if (!session || session->version != 2 || sequence != session->delivered + 1)
        return;
    //  Before the ACK that covers it, or owed and then still before it
    zstate_server_session_reject (self, session, sequence, reason);
    zstate_server_sessions_delivered (self, session_id, sequence);
}


//  --------------------------------------------------------------------------
//  Housekeeping

//  Timer: PING welcomed sessions we sent nothing to for a heartbeat
//  interval, send again what did not go, forget silent sessions
static int
s_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zstate_server_sessions_t *self = (zstate_server_sessions_t *) arg;
    int64_t clock = s_clock (self);
    int64_t now = zclock_mono ();
    //  Collect first: the table cannot lose items while we walk it
    zlistx_t *silent = zlistx_new ();
    assert (silent);
    session_t *session = (session_t *) zlistx_first (self->lru);
    while (session) {
        int64_t limit = self->idle;
        if (session->version == 2 && 3 * (int64_t) session->heartbeat > limit)
            limit = 3 * (int64_t) session->heartbeat;
        if (clock - session->heard >= limit)
            zlistx_add_end (silent, session);
        else
        if (session->version == 2 && self->heartbeat
        &&  now - session->sent >= self->heartbeat) {
            zstate_session_msg_t ping = {
                .type = ZSTATE_SESSION_MSG_PING, .session = session->id,
                .epoch = self->epoch, .nonce = ++self->nonce
            };
            zstate_server_session_send (self, session, &ping);
            self->stats->pings_sent++;
        }
        //  What found the pipe full may go now, the PING confirming RESYNCs
        if (session->retry == RETRY_WELCOME)
            s_send_welcome (self, session);
        else
        if (session->retry == RETRY_ACK)
            zstate_server_session_ack_send (self, session);
        if (session->owed || session->unconfirmed)
            zstate_server_session_owed_flush (self, session);
        if (session->rejects_sent)
            zstate_server_session_rejects_confirm (self, session);
        session = (session_t *) zlistx_next (self->lru);
    }
    size_t forgotten = zlistx_size (silent);
    session = (session_t *) zlistx_first (silent);
    while (session) {
        s_session_remove (self, session);
        session = (session_t *) zlistx_next (silent);
    }
    zlistx_destroy (&silent);
    self->stats->expired += forgotten;

    //  Routing ids refused a second ago may be refused again
    zstate_server_limiter_prune (self->no_session);
    return 0;
}
