/*  =========================================================================
    zstate_server_agent - the server dispatcher's actor: reads the ROUTER,
    validates each message and delivers it to its consumer table

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The server actor owns a ROUTER socket. Each message it reads is
    [identity][payload]; the payload is validated whole, its session's
    sequence number is checked for gaps, and the same zmq_msg_t is
    appended to the queue of the consumer registered for its (db, table)
    with zstate_consumer_deliver, on this thread: we wake the application
    ourselves, with no consumer thread in between. When the consumer
    forwards to a DB writer, a copy (zmq_msg_copy, which shares the
    content) goes to the writer first, on a PUSH socket this actor owns.
    Nothing on that path allocates except what libzmq does to receive the
    message, and the consumer's queue entry.
@discuss
    Flow control: when the writer's PUSH socket is full, or the consumer's
    queue is at its bound (deliver refuses), the message is parked, the
    ROUTER reader is switched off, and we poll what we wait for: the PUSH
    socket for POLLOUT, or the consumer's room eventfd, which pops writes
    once the queue is down to half its bound. When the parked message has
    gone, the server reads again. So a slow consumer or writer stops the
    server, whose ROUTER then fills up, which stops the clients: memory
    stays bounded at every hop. While we hold a refused message we are the
    only one that polls the consumer's room eventfd.

    A consumer's pointer stays valid from REGISTER until we have answered
    its UNREGISTER, which it sends before it is freed; both come through
    our pipe, so between them we may call into it.
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_agent.h"
#include "zstate_server_session.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_state.h"

typedef zstate_server_route_t route_t;
typedef zstate_server_state_t self_t;

#define DRAIN_MAX           100     //  messages per reader call, for fairness
#define DISCARD_MAX         1024    //  ... and frames of dropped messages
#define RCVHWM_DEFAULT      ((64 << 20) / (256 << 10))  //  64 MiB / client batch
#define WRITERS_LOG_IVL     10000   //  msecs between logs of two writers

//  Log the 1st, 2nd, 4th, 8th... occurrence of something, so that a flood
//  of bad input is visible without flooding the log
static bool
s_worth_logging (uint64_t count)
{
    return count && (count & (count - 1)) == 0;
}

//  Version 1: count a gap unless a session's sequence goes up by exactly
//  one (zstate_server_sessions.c says why). Returns -1 when the session
//  id is one of version 2, whose messages never mix versions.
static int
s_session_track (self_t *self, const byte *session_id, uint64_t sequence)
{
    uint64_t last;
    int rc = zstate_server_sessions_track (self->sessions, session_id, sequence, &last);
    if (rc == 1) {
        self->stats.gaps++;
        if (s_worth_logging (self->stats.gaps))
            zsys_warning ("zstate_server: sequence %" PRIu64 " after %" PRIu64
                          " in one session; %" PRIu64 " gaps so far",
                          sequence, last, self->stats.gaps);
    }
    return rc == -1? -1: 0;
}

//  --------------------------------------------------------------------------
//  Actor state

static int
    s_router_readable (zloop_t *loop, zsock_t *router, void *arg);
static int
    s_stalled_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static self_t *
s_self_new (zsock_t *pipe)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->loop = zloop_new ();
    assert (self->loop);
    zloop_set_nonstop (self->loop, true);
    int rc = zloop_reader (self->loop, pipe, zstate_server_commands_handle, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, pipe);

    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_rcvhwm (self->router, RCVHWM_DEFAULT);
    //  The codec rejects bigger messages anyway; this keeps one peer from
    //  making libzmq allocate gigabytes before we ever see the frame
    zsock_set_maxmsgsize (self->router, ZSTATE_MESSAGE_MAX);
    //  A reply to a routing id without a connection fails rather than
    //  vanishes, so that a RESYNC it could not take is owed
    zsock_set_router_mandatory (self->router, 1);
    self->router_handle = zsock_resolve (self->router);
    //  Reading an unbound ROUTER costs nothing, and it means a BIND needs no
    //  extra step to start the flow
    rc = zloop_reader (self->loop, self->router, s_router_readable, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, self->router);
    self->reading = true;

    self->decoder = zstate_msg_new ();
    self->routes = zstate_server_routes_new ();
    self->sessions = zstate_server_sessions_new (self->loop, self->router_handle,
                                                 &self->stats);
    self->confirm = zstate_server_confirm_new (self->loop, self->routes, self->sessions,
                                               &self->stats);
    assert (self->confirm);
    self->replay = zstate_server_replay_new (self->loop, self->sessions, &self->stats);
    zmq_msg_init (&self->parked);
    self->security = zstate_security_new (self->loop, &self->stats);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        //  A message parked for a full consumer dies with us
        zmq_msg_close (&self->parked);
        zstate_server_confirm_destroy (&self->confirm);
        zstate_server_replay_destroy (&self->replay);
        zstate_server_routes_destroy (&self->routes);
        zstate_server_sessions_destroy (&self->sessions);
        zstate_msg_destroy (&self->decoder);
        zstate_security_destroy (&self->security);
        zstate_monitor_destroy (&self->monitor);
        zloop_destroy (&self->loop);
        zsock_destroy (&self->router);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Flow control: the ROUTER is read only while no consumer or writer is full

void
zstate_server_reading_start (self_t *self)
{
    if (!self->reading && !self->paused) {
        int rc = zloop_reader (self->loop, self->router, s_router_readable, self);
        assert (rc == 0);
        zloop_reader_set_tolerant (self->loop, self->router);
        self->reading = true;
        zstate_server_sessions_hold (self->sessions, false);
    }
}

void
zstate_server_reading_stop (self_t *self)
{
    if (self->reading) {
        zloop_reader_end (self->loop, self->router);
        self->reading = false;
        zstate_server_sessions_hold (self->sessions, true);
    }
}

//  Stop polling what the stalled route waited for
void
zstate_server_wait_end (self_t *self)
{
    if (self->has_waiting) {
        zloop_poller_end (self->loop, &self->waiting);
        self->has_waiting = false;
    }
}

//  Poll item for the stalled route, instead of what we polled before
static void
s_wait (self_t *self, zmq_pollitem_t *item)
{
    if (self->has_waiting
    &&  self->waiting.socket == item->socket && self->waiting.fd == item->fd)
        return;
    zstate_server_wait_end (self);
    self->waiting = *item;
    self->has_waiting = true;
    int rc = zloop_poller (self->loop, &self->waiting, s_stalled_ready, self);
    assert (rc == 0);
    zloop_poller_set_tolerant (self->loop, &self->waiting);
}

//  The writer or the consumer is full: keep this one message, stop reading
//  and wait until it can go
static void
s_stall_begin (self_t *self, route_t *route, zmq_msg_t *payload, bool forwarded,
               zmq_pollitem_t *item)
{
    assert (!self->stalled);
    zmq_msg_move (&self->parked, payload);
    self->parked_forwarded = forwarded;
    self->stalled = route;
    self->stats.stalls++;
    zstate_server_reading_stop (self);
    s_wait (self, item);
    if (self->verbose)
        zsys_debug ("zstate_server: %s of %s/%s is full, pausing",
                    item->socket? "writer": "consumer", route->db, route->table);
}

//  The parked message has gone (or was dropped): read again
void
zstate_server_stall_end (self_t *self)
{
    assert (self->stalled);
    zstate_server_wait_end (self);
    if (self->verbose)
        zsys_debug ("zstate_server: %s/%s has room, resuming",
                    self->stalled->db, self->stalled->table);
    self->stalled = NULL;
    zmq_msg_close (&self->parked);
    zmq_msg_init (&self->parked);
    self->parked_forwarded = false;
    self->parked_v2 = false;
    zstate_server_reading_start (self);
}

//  Try the parked message again; wait on, for the same or the next thing,
//  when it cannot go yet
void
zstate_server_stall_retry (self_t *self)
{
    assert (self->stalled);
    zmq_pollitem_t item;
    bool forwarded = self->parked_forwarded;
    int rc = zstate_server_route_pass (self->stalled, &self->parked, self->parked_v2,
                                       &self->parked_forwarded, &item);
    if (self->parked_v2 && self->parked_forwarded && !forwarded)
        zstate_server_sessions_forwarded (self->sessions, self->parked_session,
                                          self->parked_sequence, self->stalled->id);
    if (rc)
        s_wait (self, &item);
    else {
        self->stats.routed++;
        if (self->parked_v2)
            zstate_server_sessions_delivered (self->sessions, self->parked_session,
                                              self->parked_sequence);
        zstate_server_stall_end (self);
    }
}

static int
s_stalled_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    self_t *self = (self_t *) arg;
    //  zloop stops calling handlers once one has changed its pollers, so
    //  this is the wait we registered last; the test costs nothing
    if (self->stalled && self->has_waiting)
        zstate_server_stall_retry (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  The data path

//  Count and drop a message we cannot accept
static void
s_reject (self_t *self, int reason)
{
    self->stats.malformed++;
    uint64_t count = ++*zstate_server_stats_rejected (&self->stats, reason);
    if (s_worth_logging (count))
        zsys_warning ("zstate_server: dropped a malformed message (%s), %" PRIu64
                      " so far", zstate_session_msg_reason_text (reason), count);
}

//  No consumer for (db, table): count, and refuse the next message of a
//  version 2 session for good
static void
s_unroutable (self_t *self, const char *db, const char *table, const byte *session,
              uint64_t sequence)
{
    self->stats.unroutable++;
    if (s_worth_logging (self->stats.unroutable))
        zsys_warning ("zstate_server: no consumer for %s/%s, dropped; %" PRIu64
                      " unroutable messages so far", db, table, self->stats.unroutable);
    if (session)
        zstate_server_sessions_refuse (self->sessions, session, sequence,
                                       ZSTATE_SESSION_REASON_UNROUTABLE);
}

//  The route's writer is session now: one that takes over from a session
//  still alive makes two writers of one table (doc/protocol.md, section
//  16, says why that breaks resync), counted, and logged at most every WRITERS_LOG_IVL
static void
s_writer_check (self_t *self, route_t *route, const byte *session)
{
    if (route->has_writer && memcmp (route->writer, session, ZSTATE_MSG_SESSION_SIZE)) {
        if (zstate_server_sessions_alive (self->sessions, route->writer)) {
            self->stats.table_writers++;
            route->table_writers++;
            int64_t now = zclock_mono ();
            if (!route->writers_logged || now - route->writers_logged >= WRITERS_LOG_IVL) {
                route->writers_logged = now;
                zsys_warning ("zstate_server: two sessions write %s/%s, which a "
                              "resync of either replaces; %" PRIu64 " times so far",
                              route->db, route->table, route->table_writers);
            }
        }
    }
    memcpy (route->writer, session, ZSTATE_MSG_SESSION_SIZE);
    route->has_writer = true;
}

//  Drop the next message of a version 2 session when Redis has it from a
//  former instance, and the consumer restored it: delivered and persisted
//  already. Returns true when it was dropped.
static bool
s_restored_drop (self_t *self, route_t *route, const byte *session, uint64_t sequence)
{
    if (session && route->restored
    &&  zstate_server_watermarks_covers (route->restored, session, sequence)) {
        route->restored_drops++;
        self->stats.restored_drops++;
        zstate_server_sessions_delivered (self->sessions, session, sequence);
        return true;
    }
    return false;
}

//  Pass payload on to route, or park it; session and sequence as for
//  s_payload_route
static void
s_route_pass (self_t *self, route_t *route, zmq_msg_t *payload, const byte *session,
              uint64_t sequence)
{
    bool forwarded = false;
    zmq_pollitem_t item;
    bool skip = session && zstate_server_replay_behind (self->replay, session, route);
    int rc = skip? -1: zstate_server_route_pass (route, payload, session != NULL,
                                                 &forwarded, &item);
    if (!skip && rc && item.socket && !forwarded && session
    &&  zstate_server_sessions_replayable (self->sessions, session)) {
        //  A full writer does not stop a session whose client holds what
        //  the writer lacks: it replays it later (zstate_server_replay.c)
        skip = true;
    }
    if (skip) {
        zstate_server_replay_lacks (self->replay, session, route, sequence);
        //  Marked as forwarded, so that P waits for the writer's watermark
        self->stats.writer_skipped++;
        zstate_server_sessions_forwarded (self->sessions, session, sequence, route->id);
        forwarded = true;
        rc = zstate_server_route_pass (route, payload, true, &forwarded, &item);
    }
    else
    if (session && forwarded)
        zstate_server_sessions_forwarded (self->sessions, session, sequence, route->id);
    if (rc == 0) {
        self->stats.routed++;
        if (session)
            zstate_server_sessions_delivered (self->sessions, session, sequence);
    }
    else {
        s_stall_begin (self, route, payload, forwarded, &item);
        if (session) {
            self->parked_v2 = true;
            memcpy (self->parked_session, session, ZSTATE_MSG_SESSION_SIZE);
            self->parked_sequence = sequence;
        }
    }
}

//  Validate and route one OPS; session is the 16 bytes of its session id
//  when it is the next message of a version 2 session, with its sequence,
//  whose table hears what became of it. The payload's content is passed
//  on or left for the caller to close.
static void
s_payload_route (self_t *self, zmq_msg_t *payload, const byte *session,
                 uint64_t sequence)
{
    size_t size = zmq_msg_size (payload);
    byte *data = (byte *) zmq_msg_data (payload);
    if (session) {
        //  OPS of version 2 keep version 1's layout byte for byte: once the
        //  session is done with it, consumers, writers and watchers get it
        //  as the version 1 message that they read
        data [2] = ZSTATE_MSG_VERSION;
    }
    int reason = zstate_msg_decode (self->decoder, data, size);
    if (reason) {
        s_reject (self, reason);
        if (session)
            zstate_server_sessions_refuse (self->sessions, session, sequence, reason);
        return;
    }
    sequence = zstate_msg_sequence (self->decoder);
    if (!session && s_session_track (self, zstate_msg_session (self->decoder),
                                     sequence) == -1) {
        s_reject (self, ZSTATE_WIRE_VERSION);
        return;
    }
    self->stats.messages++;
    if (!session)
        self->stats.messages_v1++;
    self->stats.ops += zstate_msg_op_count (self->decoder);
    self->stats.bytes += size;

    const char *db = zstate_msg_db (self->decoder);
    const char *table = zstate_msg_table (self->decoder);
    route_t *route = zstate_server_routes_lookup (self->routes, db, table);
    if (!route) {
        s_unroutable (self, db, table, session, sequence);
        return;
    }
    s_writer_check (self, route, zstate_msg_session (self->decoder));
    if (s_restored_drop (self, route, session, sequence))
        return;
    if (self->monitor)
        zstate_monitor_publish (self->monitor, db, table, payload);
    route->messages++;
    route->ops += zstate_msg_op_count (self->decoder);
    s_route_pass (self, route, payload, session, sequence);
}

//  Validate and route one SNAPSHOT-BEGIN or SNAPSHOT-END, the next message
//  of a version 2 session: the consumer and the writer get it as it came,
//  version 2, since version 1 has no such type (doc/protocol.md, section
//  17). Watchers get OPS only.
static void
s_marker_route (self_t *self, zmq_msg_t *payload, const byte *session,
                uint64_t sequence)
{
    zstate_session_msg_t msg;
    int reason = zstate_session_msg_decode (&msg, zmq_msg_data (payload),
                                            zmq_msg_size (payload));
    //  The codec checks kind, status, and that a window ends after it
    //  began; only a session that was granted the feature may send one
    if (!reason && !zstate_server_sessions_granted (self->sessions, session))
        reason = ZSTATE_SESSION_REASON_TYPE;
    if (reason) {
        s_reject (self, reason);
        zstate_server_sessions_refuse (self->sessions, session, sequence, reason);
        return;
    }
    self->stats.messages++;
    self->stats.bytes += zmq_msg_size (payload);
    route_t *route = zstate_server_routes_lookup (self->routes, msg.db, msg.table);
    if (!route) {
        s_unroutable (self, msg.db, msg.table, session, sequence);
        return;
    }
    if (msg.type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN)
        s_writer_check (self, route, session);
    if (s_restored_drop (self, route, session, sequence))
        return;
    if (msg.type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN)
        self->stats.windows_begun++;
    else {
        self->stats.windows_ended++;
        //  Its BEGIN came before the restart that the restore stands for:
        //  the END matches no window downstream, and the table is not
        //  replaced, so the session's mirror is asked for it again
        if (route->restored
        &&  zstate_server_watermarks_covers (route->restored, session, msg.begin))
            zstate_server_sessions_resync_one (self->sessions, session, msg.db,
                                               msg.table);
    }
    s_route_pass (self, route, payload, session, sequence);
}

//  A message sent again, when the session is behind a full writer: to
//  the writer, when it lacks it. Returns false when it is no such message.
static bool
s_replay_input (self_t *self, const byte *routing, size_t routing_size,
                zmq_msg_t *payload)
{
    byte *data = (byte *) zmq_msg_data (payload);
    size_t size = zmq_msg_size (payload);
    uint64_t sequence;
    if (!zstate_server_sessions_replayed (self->sessions, routing, routing_size,
                                          data, size, &sequence))
        return false;
    byte session [ZSTATE_MSG_SESSION_SIZE];
    memcpy (session, data + 4, ZSTATE_MSG_SESSION_SIZE);
    route_t *route = NULL;
    if (data [3] == ZSTATE_SESSION_MSG_OPS) {
        data [2] = ZSTATE_MSG_VERSION;
        if (zstate_msg_decode (self->decoder, data, size) == 0)
            route = zstate_server_routes_lookup (self->routes, zstate_msg_db (self->decoder),
                                                 zstate_msg_table (self->decoder));
        data [2] = ZSTATE_SESSION_VERSION;
    }
    else {
        zstate_session_msg_t msg;
        if (zstate_session_msg_decode (&msg, data, size) == 0)
            route = zstate_server_routes_lookup (self->routes, msg.db, msg.table);
    }
    //  False for a plain duplicate, which still counts in its round
    return zstate_server_replay_input (self->replay, session, sequence, route,
                                       data [3], payload);
}

//  Dispatch one [identity][payload] on its protocol version: version 2
//  goes through its session first
static void
s_payload_handle (self_t *self, zmq_msg_t *identity, zmq_msg_t *payload)
{
    const byte *data = (const byte *) zmq_msg_data (payload);
    size_t size = zmq_msg_size (payload);
    if (size < 3 || data [0] != 'Z' || data [1] != 'S'
    ||  data [2] != ZSTATE_SESSION_VERSION) {
        s_payload_route (self, payload, NULL, 0);
        return;
    }
    const byte *routing = (const byte *) zmq_msg_data (identity);
    size_t routing_size = zmq_msg_size (identity);
    if (routing_size > ZSTATE_SERVER_ROUTING_MAX)
        s_reject (self, ZSTATE_WIRE_FRAMES);    //  libzmq never makes one
    else
    if (size < 4)
        s_reject (self, ZSTATE_WIRE_TRUNCATED);
    else
    if (data [3] != ZSTATE_SESSION_MSG_OPS
    &&  data [3] != ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN
    &&  data [3] != ZSTATE_SESSION_MSG_SNAPSHOT_END) {
        zstate_server_security_peer (self->sessions, zmq_msg_gets (payload, "User-Id"));
        zstate_server_sessions_input (self->sessions, routing, routing_size,
                                      data, size);
    }
    else
    if (zstate_server_replay_active (self->replay)
    &&  s_replay_input (self, routing, routing_size, payload))
        ;   //  Sent again for a full writer that lacks it
    else
    if (zstate_server_sessions_ops (self->sessions, routing, routing_size, data, size)) {
        //  The session id outlives the payload, which may go; the three
        //  types share OPS's envelope, and so its session rules
        byte session [ZSTATE_MSG_SESSION_SIZE];
        memcpy (session, data + 4, ZSTATE_MSG_SESSION_SIZE);
        uint64_t sequence = zstate_server_get_uint64 (data + 20);
        if (data [3] == ZSTATE_SESSION_MSG_OPS)
            s_payload_route (self, payload, session, sequence);
        else
            s_marker_route (self, payload, session, sequence);
    }
}

//  Drop frames of a message of too many, up to *budget of them. Returns
//  true when its last frame is gone; else its rest waits for the next
//  call, since a message of a million frames must not hold the loop
static bool
s_discard (self_t *self, int *budget)
{
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    bool more = true;
    while (more && *budget > 0) {
        (*budget)--;
        //  libzmq gives the rest of a multipart message with its first
        //  frame: it never fails here
        more = zmq_msg_recv (&frame, self->router_handle, ZMQ_DONTWAIT) != -1
            && zmq_msg_more (&frame);
    }
    zmq_msg_close (&frame);
    return !more;
}

//  Read up to DRAIN_MAX messages, [identity][payload] each, with raw
//  zmq_msg_t so that the payload can travel on without a copy. A message
//  of other frames is counted once and dropped whole, never looked into.
static int
s_router_readable (zloop_t *loop, zsock_t *router, void *arg)
{
    (void) loop;
    (void) router;
    self_t *self = (self_t *) arg;
    int budget = DISCARD_MAX;
    for (int count = 0; count < DRAIN_MAX && self->reading; count++) {
        if (self->discarding) {
            self->discarding = !s_discard (self, &budget);
            if (self->discarding)
                break;
            continue;
        }
        zmq_msg_t identity, payload;
        zmq_msg_init (&identity);
        zmq_msg_init (&payload);
        if (zmq_msg_recv (&identity, self->router_handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&identity);
            break;              //  Drained (EAGAIN), or zloop calls again
        }
        //  The identity, which ROUTER always adds, comes with the rest
        bool payload_read = zmq_msg_more (&identity)
                         && zmq_msg_recv (&payload, self->router_handle, ZMQ_DONTWAIT) != -1;
        if (payload_read && !zmq_msg_more (&payload))
            s_payload_handle (self, &identity, &payload);
        else {
            s_reject (self, ZSTATE_WIRE_FRAMES);
            self->discarding = payload_read;
        }
        zmq_msg_close (&payload);
        zmq_msg_close (&identity);
    }
    return 0;
}


void
zstate_server_agent (zsock_t *pipe, void *args)
{
    (void) args;
    self_t *self = s_self_new (pipe);
    zsock_signal (pipe, 0);
    zstate_actor_loop (self->loop);
    s_self_destroy (&self);
}


//  --------------------------------------------------------------------------
//  Selftest: one reader call, white-box; the suites test the whole server

//  Send count version 1 OPS from dealer, each of frames frames
static void
s_test_send (zsock_t *dealer, size_t count, size_t frames)
{
    zuuid_t *session = zuuid_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, "key", "value", "1", NULL);
    assert (rc == 0);
    for (size_t index = 0; index < count; index++) {
        zframe_t *frame = zstate_msg_encode (zuuid_data (session), index + 1, "APPL_DB",
                                             "ROUTE_TABLE", batch);
        assert (frame);
        for (size_t part = 0; part < frames; part++) {
            rc = zmq_send (zsock_resolve (dealer), zframe_data (frame), zframe_size (frame),
                           ZMQ_DONTWAIT | (part + 1 < frames? ZMQ_SNDMORE: 0));
            assert (rc == (int) zframe_size (frame));
        }
        zframe_destroy (&frame);
    }
    zstate_batch_destroy (&batch);
    zuuid_destroy (&session);
}

void
zstate_server_agent_test (bool verbose)
{
    printf (" * zstate_server_agent: ");
    (void) verbose;
    //  @selftest
    zsock_t *backend;
    zsock_t *frontend = zsys_create_pipe (&backend);
    self_t *self = s_self_new (backend);
    int rc = zsock_bind (self->router, "inproc://zstate-server-agent-test");
    assert (rc == 0);
    zsock_t *dealer = zsock_new_dealer (">inproc://zstate-server-agent-test");
    assert (dealer);
    //  Over inproc what the dealer sent is there to read when the send
    //  returns: a call reads DRAIN_MAX messages, the next the rest
    s_test_send (dealer, DRAIN_MAX + 10, 1);
    s_router_readable (self->loop, self->router, self);
    assert (self->stats.messages == DRAIN_MAX);
    s_router_readable (self->loop, self->router, self);
    assert (self->stats.messages == DRAIN_MAX + 10);
    //  A message of too many frames is dropped DISCARD_MAX frames a call,
    //  and counted once; the message after it waits until it is gone
    s_test_send (dealer, 1, 3 * DISCARD_MAX);
    s_test_send (dealer, 1, 1);
    for (int call = 0; call < 3; call++) {
        assert (self->stats.messages == DRAIN_MAX + 10);
        s_router_readable (self->loop, self->router, self);
        assert (self->stats.rejected [ZSTATE_WIRE_FRAMES] == 1);
    }
    assert (!self->discarding);
    assert (self->stats.messages == DRAIN_MAX + 11);
    zsock_destroy (&dealer);
    s_self_destroy (&self);
    zsock_destroy (&backend);
    zsock_destroy (&frontend);
    //  @end
    printf ("OK\n");
}
