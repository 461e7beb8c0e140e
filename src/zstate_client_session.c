/*  =========================================================================
    zstate_client_session - the client agent's protocol version 2 session:
    HELLO and WELCOME, acknowledgements, REJECT, heartbeats, resend

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The session half of the client agent (zstate_client_agent.c is the
    other half; both run on the agent's thread and share its state through
    zstate_client_agent.h). It follows doc/protocol.md, section 15: no OPS
    before WELCOME; on WELCOME forget what it acknowledges and send again,
    from the outbox, everything after its delivered, in order; another
    epoch, NO_SESSION or a reconnect means HELLO again; a silent server
    means a fresh DEALER. Frames from the server are read under socket_lock
    in batches and handled after it is released, since handling takes the
    client lock (lock order).
@end
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"

//  HELLOs without a WELCOME before the client says the server may not
//  speak version 2 (it keeps trying)
#define HELLOS_UNANSWERED       3

//  Say whether senders may send themselves (the fast path)
void
zstate_client_session_set_ready (self_t *self, bool ready)
{
    pthread_mutex_lock (&self->client->lock);
    self->client->session_ready = ready;
    self->client->resending = self->session == SESSION_RESEND;
    pthread_mutex_unlock (&self->client->lock);
}

static void
s_self_count (self_t *self, uint64_t *counter, uint64_t add)
{
    pthread_mutex_lock (&self->client->lock);
    *counter += add;
    pthread_mutex_unlock (&self->client->lock);
}

static void
s_self_protocol_error (self_t *self, const char *what)
{
    s_self_count (self, &self->client->stats.protocol_errors, 1);
    if (self->verbose)
        zsys_debug ("%s protocol error: %s", self->log_prefix, what);
}

//  Send a session message of ours, without waiting: a lost one is
//  repeated by the heartbeat or the HELLO retry
static void
s_self_send_control (self_t *self, zstate_session_msg_t *msg)
{
    zstate_client_t *client = self->client;
    msg->session = client->session;
    zmq_msg_t frame;
    int rc = zstate_session_msg_encode_frame (msg, &frame);
    assert (rc == 0);
    pthread_mutex_lock (&client->socket_lock);
    if (zmq_msg_send (&frame, zsock_resolve (client->dealer), ZMQ_DONTWAIT) == -1)
        zmq_msg_close (&frame);
    pthread_mutex_unlock (&client->socket_lock);
}

//  Open or resume the session: hold new messages back and send HELLO with
//  the first sequence not acknowledged
void
zstate_client_session_hello (self_t *self, const char *why)
{
    zstate_client_t *client = self->client;
    self->session = SESSION_HELLO;
    zstate_client_session_set_ready (self, false);
    pthread_mutex_lock (&client->socket_lock);
    uint64_t first = zstate_outbox_first (client->outbox);
    if (!first)
        first = client->sequence + 1;
    pthread_mutex_unlock (&client->socket_lock);
    zstate_session_msg_t msg = { .type = ZSTATE_SESSION_MSG_HELLO };
    msg.sequence = first;
    msg.ack_level = self->ack_level;
    msg.heartbeat = (uint32_t) self->heartbeat;
    msg.features = self->features;
    s_self_send_control (self, &msg);
    s_self_count (self, &client->stats.hellos, 1);
    if (!self->hello_wait)
        self->hello_wait = 3 * self->heartbeat;
    self->hello_due = zclock_mono () + self->hello_wait;
    if (self->verbose)
        zsys_debug ("%s HELLO from %" PRIu64 " (%s)", self->log_prefix, first, why);
}

//  Replace the DEALER by a fresh one (a new connection, and so a new
//  routing id at the server) and HELLO on it
void
zstate_client_session_reset (self_t *self, const char *why)
{
    zsys_warning ("%s %s: opening a new connection to %s", self->log_prefix, why,
                  self->endpoint);
    s_self_count (self, &self->client->stats.resets, 1);
    zstate_client_agent_replace_dealer (self);
    bool was_up = self->link_up;
    self->link_up = false;
    self->dropped = false;
    self->last_heard = zclock_mono ();
    char reason [512];
    if (zstate_client_agent_open (self, self->endpoint, reason, sizeof (reason)))
        zsys_error ("%s %s", self->log_prefix, reason);
    if (strncmp (self->endpoint, "inproc://", 9) == 0)
        zstate_client_agent_link_up (self);
    else {
        if (was_up)
            s_self_count (self, &self->client->stats.disconnects, 1);
        zstate_client_agent_start_link_timer (self);
        zstate_client_agent_update_state (self, NULL);
    }
    zstate_client_session_hello (self, why);
}

//  What an ACK or a WELCOME acknowledged: ops forgotten at the granted
//  level, the outbox from before to after; the counters, the bounds, and
//  flush may be done
static void
s_self_forgotten (self_t *self, size_t ops, const size_t before [3], const size_t after [3],
                  size_t delivered, zstate_session_msg_t *msg)
{
    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    zstate_client_outbox_changed (client, before, after);
    client->stats.ops_acked += ops;
    client->outbox_delivered = delivered;
    if (msg->delivered > client->stats.last_delivered)
        client->stats.last_delivered = msg->delivered;
    if (msg->persisted > client->stats.last_persisted)
        client->stats.last_persisted = msg->persisted;
    uint64_t acked = self->granted == ZSTATE_SESSION_ACK_PERSISTED?
                     msg->persisted: msg->delivered;
    if (acked > client->stats.last_acked)
        client->stats.last_acked = acked;
    pthread_cond_broadcast (&client->progress);
    pthread_mutex_unlock (&client->lock);
}

//  The last sequence that an ACK or a WELCOME lets us forget: what the
//  granted level acknowledges, but with REPLAY only what P covers at
//  either level, since a full writer asks for the rest again rather
//  than stop the server's reading
static uint64_t
s_self_forget_to (self_t *self, zstate_session_msg_t *msg)
{
    return self->granted == ZSTATE_SESSION_ACK_PERSISTED || self->replay?
           msg->persisted: msg->delivered;
}

//  Apply the delivered and persisted sequences of an ACK or a WELCOME,
//  already checked against what was sent: flag what is delivered, forget
//  what the granted level acknowledges; a WELCOME may also split the
//  coalesced block and renumber what follows it
static void
s_self_acknowledge (self_t *self, zstate_session_msg_t *msg, bool welcome)
{
    zstate_client_t *client = self->client;
    uint64_t acked = s_self_forget_to (self, msg);
    pthread_mutex_lock (&client->lock);
    size_t ops_max = client->batch_ops_max;
    size_t bytes_max = client->batch_bytes_max;
    pthread_mutex_unlock (&client->lock);
    size_t before [3], after [3], ops;
    pthread_mutex_lock (&client->socket_lock);
    zstate_client_outbox_measure (client, before);
    if (welcome) {
        bool renumbered;
        ops = zstate_outbox_welcome (client->outbox, msg->delivered, acked,
                                     client->session, ops_max, bytes_max, &renumbered);
        if (renumbered) {
            client->sequence = zstate_outbox_last (client->outbox);
            //  An END still to go takes its BEGIN's new number
            window_t *window = (window_t *) zlistx_first (self->open_windows);
            for (; window; window = (window_t *) zlistx_next (self->open_windows))
                window->begin = zstate_outbox_renumbered (client->outbox, window->begin);
        }
    }
    else {
        zstate_outbox_deliver (client->outbox, msg->delivered);
        ops = zstate_outbox_ack (client->outbox, acked);
    }
    size_t delivered = zstate_outbox_delivered_ops (client->outbox);
    zstate_client_outbox_measure (client, after);
    pthread_mutex_unlock (&client->socket_lock);
    s_self_forgotten (self, ops, before, after, delivered, msg);
}

//  The level a WELCOME grants: the one asked for or less. Less is said
//  once per change, in the log, an event and the stats
static void
s_self_grant (self_t *self, int granted)
{
    if (granted > self->ack_level) {
        s_self_protocol_error (self, "WELCOME grants more than was asked");
        granted = self->ack_level;
    }
    if (granted == self->granted)
        return;
    self->granted = granted;
    pthread_mutex_lock (&self->client->lock);
    self->client->stats.ack_level = granted;
    pthread_cond_broadcast (&self->client->progress);
    pthread_mutex_unlock (&self->client->lock);
    if (granted < self->ack_level) {
        char detail [64];
        snprintf (detail, sizeof (detail), "%s %s",
                  zstate_client_ack_level_name (self->ack_level),
                  zstate_client_ack_level_name (granted));
        zsys_warning ("%s the server grants level %s, not %s", self->log_prefix,
                      zstate_client_ack_level_name (granted),
                      zstate_client_ack_level_name (self->ack_level));
        zstate_client_agent_event (self, "LEVEL", detail);
    }
}

static void
s_self_epoch_text (const byte *epoch, char *text)
{
    for (size_t index = 0; index < ZSTATE_SESSION_EPOCH_SIZE; index++)
        snprintf (text + 2 * index, 3, "%02x", epoch [index]);
}

void
zstate_client_session_chunk_free (void **item_p)
{
    zmq_msg_t *chunk = (zmq_msg_t *) *item_p;
    if (chunk) {
        zmq_msg_close (chunk);
        free (chunk);
        *item_p = NULL;
    }
}

//  Send the REPLAY's block chunks, then its PONG once every held message
//  went (socket_lock held). Returns false when the socket pushed back.
static bool
s_self_replay_send (self_t *self, void *handle, size_t *sent, bool frames_done)
{
    zmq_msg_t *chunk;
    while ((chunk = (zmq_msg_t *) zlistx_first (self->replay_chunks))) {
        if (zmq_msg_send (chunk, handle, ZMQ_DONTWAIT) == -1)
            return false;
        zlistx_delete (self->replay_chunks, zlistx_cursor (self->replay_chunks));
        (*sent)++;
    }
    if (frames_done && self->replay_pong) {
        zstate_session_msg_t pong = { .type = ZSTATE_SESSION_MSG_PONG,
                                      .session = self->client->session,
                                      .epoch = self->epoch, .nonce = self->replay_nonce };
        zmq_msg_t frame;
        int rc = zstate_session_msg_encode_frame (&pong, &frame);
        assert (rc == 0);
        if (zmq_msg_send (&frame, handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&frame);
            return false;
        }
        self->replay_pong = false;
    }
    return true;
}

//  Send held messages again, in order, from resend_next up to resend_to,
//  until the socket pushes back; then streaming, and senders may send
//  themselves again. A REPLAY's block chunks go first, and its PONG last.
//  Returns true if at least one went.
bool
zstate_client_session_resend (self_t *self)
{
    zstate_client_t *client = self->client;
    size_t sent = 0;
    bool done = false;
    pthread_mutex_lock (&client->socket_lock);
    void *handle = zsock_resolve (client->dealer);
    bool room = s_self_replay_send (self, handle, &sent, false);
    while (room) {
        zmq_msg_t frame;
        uint64_t sequence = zstate_outbox_next (client->outbox, self->resend_next, &frame);
        if (sequence && (sequence > self->resend_to || !self->resend_left)) {
            //  Beyond the REPLAY's round: the server has it, all but its writer
            zmq_msg_close (&frame);
            sequence = 0;
        }
        if (!sequence) {
            done = s_self_replay_send (self, handle, &sent, true);
            break;
        }
        if (zmq_msg_send (&frame, handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&frame);
            if (zmq_errno () == EINTR)
                continue;
            break;
        }
        self->resend_next = sequence + 1;
        if (self->resend_left != UINT64_MAX)
            self->resend_left--;
        sent++;
    }
    pthread_mutex_unlock (&client->socket_lock);
    if (sent)
        s_self_count (self, &client->stats.retransmits, sent);
    if (done) {
        self->session = SESSION_STREAMING;
        zstate_client_session_set_ready (self, true);
    }
    return sent > 0;
}

//  WELCOME: the server's epoch, and where to resume
static void
s_self_on_welcome (self_t *self, zstate_session_msg_t *msg)
{
    zstate_client_t *client = self->client;
    if (!self->welcomed || memcmp (self->epoch, msg->epoch, ZSTATE_SESSION_EPOCH_SIZE)) {
        char detail [4 * ZSTATE_SESSION_EPOCH_SIZE + 2];
        s_self_epoch_text (self->epoch, detail);
        detail [2 * ZSTATE_SESSION_EPOCH_SIZE] = ' ';
        s_self_epoch_text (msg->epoch, detail + 2 * ZSTATE_SESSION_EPOCH_SIZE + 1);
        memcpy (self->epoch, msg->epoch, ZSTATE_SESSION_EPOCH_SIZE);
        self->welcomed = true;
        s_self_count (self, &client->stats.epochs, 1);
        zsys_info ("%s WELCOME from server epoch %.8s", self->log_prefix,
                   detail + 2 * ZSTATE_SESSION_EPOCH_SIZE + 1);
        zstate_client_agent_event (self, "EPOCH", detail);
    }
    self->peer_heartbeat = (int) msg->heartbeat;
    s_self_grant (self, msg->ack_level);
    //  Only what we offered counts as granted
    self->resync = (msg->features & self->features & ZSTATE_SESSION_FEATURE_RESYNC) != 0;
    self->replay = (msg->features & self->features & ZSTATE_SESSION_FEATURE_REPLAY) != 0;
    pthread_mutex_lock (&client->socket_lock);
    uint64_t last = client->sequence;
    uint64_t first = zstate_outbox_first (client->outbox);
    pthread_mutex_unlock (&client->socket_lock);
    if (!first)
        first = last + 1;
    if (msg->delivered > last) {
        s_self_protocol_error (self, "WELCOME beyond the last sequence sent");
        msg->delivered = last;
        if (msg->persisted > last)
            msg->persisted = last;
    }
    self->resend_next = msg->delivered + 1;
    self->resend_to = self->resend_left = UINT64_MAX;
    //  A REPLAY being answered is void: the new connection starts afresh
    zlistx_purge (self->replay_chunks);
    self->replay_pong = false;
    uint64_t acked = s_self_forget_to (self, msg);
    if (acked + 1 < first) {
        //  The server lacks what it acknowledged: send all we hold
        s_self_protocol_error (self, "WELCOME below what was acknowledged");
        self->resend_next = first;
    }
    s_self_acknowledge (self, msg, true);
    if (self->verbose)
        zsys_debug ("%s WELCOME delivered %" PRIu64 ", resending from %" PRIu64,
                    self->log_prefix, msg->delivered, self->resend_next);
    self->session = SESSION_RESEND;
    zstate_client_session_set_ready (self, false);
    self->hello_wait = 0;
    self->hellos_unanswered = 0;
    zstate_client_agent_pump (self);
}

//  A message with the epoch of our WELCOME? Another epoch means the
//  server forgot us: HELLO again, once, and ignore the message
static bool
s_self_same_epoch (self_t *self, zstate_session_msg_t *msg)
{
    if (self->welcomed && !memcmp (self->epoch, msg->epoch, ZSTATE_SESSION_EPOCH_SIZE))
        return true;
    if (self->session != SESSION_HELLO)
        zstate_client_session_hello (self, "new server epoch");
    return false;
}

static void
s_self_on_ack (self_t *self, zstate_session_msg_t *msg)
{
    zstate_client_t *client = self->client;
    if (self->session == SESSION_HELLO || !s_self_same_epoch (self, msg))
        return;
    pthread_mutex_lock (&client->socket_lock);
    uint64_t last = client->sequence;
    pthread_mutex_unlock (&client->socket_lock);
    if (msg->delivered > last)
        s_self_protocol_error (self, "ACK beyond the last sequence sent");
    else {
        s_self_acknowledge (self, msg, false);
        //  A snapshot waiting for room goes on
        pthread_mutex_lock (&client->lock);
        bool snapshots = client->snapshots_running > 0;
        pthread_mutex_unlock (&client->lock);
        if (snapshots && self->retry_timer == -1)
            zstate_client_agent_pump (self);
    }
}

//  RESYNC: the server asks for a snapshot of (db, table), or of every
//  table; only a session that was granted the feature gets one
static void
s_self_on_resync (self_t *self, zstate_session_msg_t *msg)
{
    zstate_client_t *client = self->client;
    if (self->session == SESSION_HELLO || !s_self_same_epoch (self, msg))
        return;
    if (!self->resync) {
        s_self_protocol_error (self, "RESYNC without the feature");
        return;
    }
    pthread_mutex_lock (&client->lock);
    size_t started = zstate_client_tables_resync (client, msg->db, msg->table);
    pthread_mutex_unlock (&client->lock);
    if (self->verbose)
        zsys_debug ("%s RESYNC %s/%s: %zu snapshot(s)", self->log_prefix,
                    *msg->db? msg->db: "*", *msg->table? msg->table: "*", started);
    if (started && self->retry_timer == -1)
        zstate_client_agent_pump (self);
}

//  When the outbox holds a window marker at sequence, what it is, for the
//  REJECT event: "SNAPSHOT-BEGIN VIEW db table" (or SNAPSHOT), or
//  "SNAPSHOT-END COMPLETE db table" (or ABANDONED: an END has no kind);
//  else "". A marker carries no operation, so the count of what was
//  dropped cannot tell. Called under socket_lock
static void
s_self_marker (self_t *self, uint64_t sequence, char *marker, size_t size)
{
    zmq_msg_t frame;
    uint64_t found = zstate_outbox_next (self->client->outbox, sequence, &frame);
    if (!found)
        return;
    zstate_session_msg_t held;
    if (found == sequence
    &&  zstate_session_msg_decode (&held, zmq_msg_data (&frame), zmq_msg_size (&frame)) == 0) {
        if (held.type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN)
            snprintf (marker, size, "SNAPSHOT-BEGIN %s %s %s",
                      held.kind == ZSTATE_SESSION_VIEW? "VIEW": "SNAPSHOT", held.db, held.table);
        else
        if (held.type == ZSTATE_SESSION_MSG_SNAPSHOT_END)
            snprintf (marker, size, "SNAPSHOT-END %s %s %s",
                      held.status == ZSTATE_SESSION_END_COMPLETE? "COMPLETE": "ABANDONED",
                      held.db, held.table);
    }
    zmq_msg_close (&frame);
}

//  One chunk of a REPLAY's block, kept for sending
static void
s_self_replay_chunk (void *arg, zmq_msg_t *frame, uint64_t sequence, size_t ops,
                     size_t wire_ops, size_t bytes)
{
    (void) sequence;
    (void) ops;
    (void) wire_ops;
    (void) bytes;
    zmq_msg_t *chunk = (zmq_msg_t *) malloc (sizeof (zmq_msg_t));
    assert (chunk);
    zmq_msg_init (chunk);
    zmq_msg_move (chunk, frame);
    zlistx_add_end ((zlistx_t *) arg, chunk);
}

//  REPLAY: the server's DB writer lacks what we sent from msg->sequence
//  on (doc/protocol.md, section 17): send it again up to msg->to, what
//  we hold of it, in order and before anything new, then a PONG with its
//  nonce
static void
s_self_on_replay (self_t *self, zstate_session_msg_t *msg)
{
    zstate_client_t *client = self->client;
    if (self->session == SESSION_HELLO || !s_self_same_epoch (self, msg))
        return;
    zlistx_purge (self->replay_chunks);
    pthread_mutex_lock (&client->socket_lock);
    uint64_t first = zstate_outbox_first (client->outbox);
    //  The server asks from its last forwarded sequence, or the one after
    bool missed = (first? first: client->sequence + 1) > msg->sequence + 1;
    self->resend_next = zstate_outbox_replay (client->outbox, msg, client->session,
                                              client->batch_ops_max, client->batch_bytes_max,
                                              s_self_replay_chunk, self->replay_chunks);
    //  A message of its own sequence, which the writer has
    if (self->resend_next == msg->sequence && msg->skip)
        self->resend_next++;
    //  What the round may send of what is numbered up to its to
    uint64_t left = msg->max? msg->max: UINT64_MAX;
    size_t chunks = zlistx_size (self->replay_chunks);
    if (chunks && self->resend_next - 1 <= msg->to)
        left -= chunks;
    pthread_mutex_unlock (&client->socket_lock);
    s_self_count (self, &client->stats.replays, 1);
    if (missed) {
        //  Only a server that acknowledged persisted what its writer then
        //  asks for again gets here: Redis misses what the client dropped
        s_self_count (self, &client->stats.replays_missed, 1);
        zsys_warning ("%s REPLAY from %" PRIu64 ": held only from %" PRIu64
                      ", already acknowledged persisted; the DB writer misses it",
                      self->log_prefix, msg->sequence, first);
    }
    //  A resend after a WELCOME goes on to the end: the server lacks all of it
    if (self->session != SESSION_RESEND || self->resend_to != UINT64_MAX) {
        self->resend_to = msg->to;
        self->resend_left = left;
    }
    self->replay_nonce = msg->nonce;
    self->replay_pong = true;
    if (self->verbose)
        zsys_debug ("%s REPLAY from %" PRIu64 ": %zu block message(s)", self->log_prefix,
                    msg->sequence, zlistx_size (self->replay_chunks));
    self->session = SESSION_RESEND;
    zstate_client_session_set_ready (self, false);
    zstate_client_agent_pump (self);
}

static void
s_self_on_reject (self_t *self, zstate_session_msg_t *msg)
{
    zstate_client_t *client = self->client;
    if (!s_self_same_epoch (self, msg))
        return;
    if (msg->reason == ZSTATE_SESSION_REASON_NO_SESSION) {
        //  The session is refused, not the message: keep it
        if (self->session != SESSION_HELLO)
            zstate_client_session_hello (self, "server has no session");
        return;
    }
    size_t before [3], after [3];
    char marker [2 * ZSTATE_NAME_MAX + 64] = "";
    pthread_mutex_lock (&client->socket_lock);
    zstate_client_outbox_measure (client, before);
    s_self_marker (self, msg->sequence, marker, sizeof (marker));
    size_t ops = zstate_outbox_drop (client->outbox, msg->sequence);
    size_t delivered = zstate_outbox_delivered_ops (client->outbox);
    zstate_client_outbox_measure (client, after);
    pthread_mutex_unlock (&client->socket_lock);
    if (!ops && !*marker)
        return;                 //  Not held: refused already, or acknowledged
    pthread_mutex_lock (&client->lock);
    zstate_client_outbox_changed (client, before, after);
    client->outbox_delivered = delivered;
    client->stats.rejects++;
    client->stats.ops_refused += ops;
    if (*marker)
        client->stats.windows_rejected++;
    pthread_cond_broadcast (&client->progress);
    pthread_mutex_unlock (&client->lock);
    char detail [ZSTATE_SESSION_TEXT_MAX + sizeof (marker) + 64];
    snprintf (detail, sizeof (detail), "%" PRIu64 " %d %s%s%s", msg->sequence, msg->reason,
              msg->text_size? msg->text: zstate_session_msg_reason_text (msg->reason),
              *marker? "; ": "", marker);
    zsys_warning ("%s REJECT of %zu ops: %s", self->log_prefix, ops, detail);
    zstate_client_agent_event (self, "REJECT", detail);
}

//  One frame from the server
static void
s_self_receive (self_t *self, const void *data, size_t size)
{
    zstate_client_t *client = self->client;
    zstate_session_msg_t msg;
    int reason = zstate_session_msg_decode (&msg, data, size);
    if (reason) {
        s_self_protocol_error (self, zstate_session_msg_reason_text (reason));
        return;
    }
    if (msg.version != ZSTATE_SESSION_VERSION
    ||  memcmp (msg.session, client->session, ZSTATE_MSG_SESSION_SIZE)) {
        s_self_protocol_error (self, "not a message of our session");
        return;
    }
    zstate_client_agent_heard (self);
    if (msg.type == ZSTATE_SESSION_MSG_WELCOME)
        s_self_on_welcome (self, &msg);
    else
    if (msg.type == ZSTATE_SESSION_MSG_ACK)
        s_self_on_ack (self, &msg);
    else
    if (msg.type == ZSTATE_SESSION_MSG_REJECT)
        s_self_on_reject (self, &msg);
    else
    if (msg.type == ZSTATE_SESSION_MSG_RESYNC)
        s_self_on_resync (self, &msg);
    else
    if (msg.type == ZSTATE_SESSION_MSG_REPLAY)
        s_self_on_replay (self, &msg);
    else
    if (msg.type == ZSTATE_SESSION_MSG_PING) {
        zstate_session_msg_t pong = { .type = ZSTATE_SESSION_MSG_PONG };
        byte zeros [ZSTATE_SESSION_EPOCH_SIZE] = { 0 };
        pong.epoch = self->welcomed? self->epoch: zeros;
        pong.nonce = msg.nonce;
        s_self_send_control (self, &pong);
        s_self_same_epoch (self, &msg);
    }
    else
    if (msg.type == ZSTATE_SESSION_MSG_PONG)
        s_self_same_epoch (self, &msg);
    else
        s_self_protocol_error (self, "a client's message type");
}

//  Read everything the server sent; bounded, the heartbeat reads the rest
void
zstate_client_session_drain (self_t *self)
{
    zstate_client_t *client = self->client;
    for (int round = 0; round < 100; round++) {
        zmq_msg_t frames [RECV_BATCH];
        size_t count = 0;
        pthread_mutex_lock (&client->socket_lock);
        void *handle = zsock_resolve (client->dealer);
        while (count < RECV_BATCH) {
            zmq_msg_init (&frames [count]);
            if (zmq_msg_recv (&frames [count], handle, ZMQ_DONTWAIT) == -1) {
                zmq_msg_close (&frames [count]);
                break;
            }
            count++;
        }
        pthread_mutex_unlock (&client->socket_lock);
        //  Handled without the socket: they take the client lock
        for (size_t index = 0; index < count; index++) {
            s_self_receive (self, zmq_msg_data (&frames [index]),
                            zmq_msg_size (&frames [index]));
            zmq_msg_close (&frames [index]);
        }
        if (count < RECV_BATCH)
            break;
    }
}

int
zstate_client_session_handle_dealer (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    zstate_client_session_drain ((self_t *) arg);
    return 0;
}

//  When what is not acknowledged holds more than half of a bound, fold it
//  into the outbox's keyed block: never on the fast path, and before a
//  sender finds the bound hit (it folds then too, see s_client_admit)
static void
s_self_coalesce (self_t *self)
{
    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    if (client->held_ops > client->queue_ops_max / 2
    ||  client->held_bytes > client->queue_bytes_max / 2)
        zstate_client_coalesce (client, false);
    pthread_mutex_unlock (&client->lock);
}

//  Every heartbeat interval: PING, and act on a silent server: a fresh
//  DEALER after 3 of its intervals, FAILED after the retry timeout
int
zstate_client_session_handle_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    //  Silence is judged as of right after reading: a long fold must not
    //  count as the server's
    zstate_client_session_drain (self);
    int64_t now = zclock_mono ();
    zstate_client_agent_check_silence (self, now);
    s_self_coalesce (self);
    int peer = self->peer_heartbeat? self->peer_heartbeat: self->heartbeat;
    if (self->session == SESSION_HELLO) {
        if (now >= self->hello_due) {
            self->hello_wait = self->hello_wait > HELLO_WAIT_MAX / 2?
                               HELLO_WAIT_MAX: 2 * self->hello_wait;
            //  A version 1 server drops HELLO without a word: say so, once
            if (++self->hellos_unanswered == HELLOS_UNANSWERED && !self->welcomed) {
                char reason [512];
                snprintf (reason, sizeof (reason), "no WELCOME after %d HELLOs: does "
                          "%s speak protocol version 2?", HELLOS_UNANSWERED,
                          self->endpoint);
                zsys_warning ("%s %s", self->log_prefix, reason);
                zstate_client_agent_event (self, "ERROR", reason);
            }
            if (now - self->last_heard >= 3 * peer)
                zstate_client_session_reset (self, "no WELCOME");
            else
                zstate_client_session_hello (self, "no WELCOME yet");
        }
    }
    else
    if (now - self->last_heard >= 3 * peer)
        zstate_client_session_reset (self, "server silent");
    else {
        byte zeros [ZSTATE_SESSION_EPOCH_SIZE] = { 0 };
        zstate_session_msg_t ping = { .type = ZSTATE_SESSION_MSG_PING };
        ping.epoch = self->welcomed? self->epoch: zeros;
        ping.nonce = ++self->nonce;
        s_self_send_control (self, &ping);
    }
    return 0;
}
