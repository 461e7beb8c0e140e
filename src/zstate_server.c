/*  =========================================================================
    zstate_server - the server dispatcher: receives wire messages and routes
    each to the consumer table registered for its (db, table)

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
    sequence number is checked for gaps, and it is handed on, as the same
    zmq_msg_t, to the PUSH socket of the consumer registered for its
    (db, table). Nothing on that path allocates except what libzmq does to
    receive the message.
@discuss
    Flow control: when a consumer's PUSH socket is full, the message is
    parked, the ROUTER reader is switched off and the PUSH socket is polled
    for POLLOUT. When the parked message goes, the server reads again. So a
    slow consumer stops the server, whose ROUTER then fills up, which stops
    the clients: memory stays bounded at every hop.

    The server link (zstate_classes.h) is a refcounted mutex plus the actor
    pointer, shared by the wrapper and every consumer, so that either side
    may be destroyed first and commands from several threads never
    interleave on the actor's pipe.
@end
*/

#include "zstate_classes.h"

#define DRAIN_MAX           100     //  messages per reader call, for fairness
#define RCVHWM_DEFAULT      1000    //  ROUTER receive high-water mark
#define PUSH_SNDHWM         32      //  messages queued towards one consumer
#define SESSION_TICK        (60 * 1000)     //  session clock period, msecs
#define SESSION_IDLE_TICKS  10      //  forget sessions idle this many ticks
#define SESSIONS_MAX        65536   //  track at most this many sessions

//  One registered consumer table
typedef struct {
    char *db;                   //  the (db, table) it serves
    char *table;
    char *endpoint;             //  the consumer's inproc PULL endpoint
    zsock_t *push;              //  connected to that endpoint
    void *handle;               //  zsock_resolve (push), for the hot path
    zstate_consumer_t *consumer;    //  its counters, for the monitor
    uint64_t messages;          //  messages routed to it
    uint64_t ops;               //  operations in those
} route_t;

//  What we remember about one client session
typedef struct {
    uint64_t sequence;          //  last sequence number seen
    uint64_t seen;              //  session clock tick it was last seen at
} session_t;

//  The actor's state
typedef struct {
    zsock_t *pipe;              //  command pipe from the wrapper
    zloop_t *loop;              //  our reactor
    zsock_t *router;            //  clients send to this
    void *router_handle;        //  zsock_resolve (router), for the hot path
    bool reading;               //  the ROUTER reader is registered
    zstate_msg_t *decoder;      //  validates every payload, reused
    zhashx_t *dbs;              //  db name -> zhashx_t of table -> route_t
    size_t consumers;           //  routes in dbs
    zhashx_t *sessions;         //  session id (16 bytes) -> session_t
    uint64_t tick;              //  session clock, one tick per SESSION_TICK
    uint64_t untracked;         //  messages from sessions past SESSIONS_MAX
    route_t *stalled;           //  consumer we wait for, or NULL
    zmq_msg_t parked;           //  the message waiting for it
    zstate_server_stats_t stats;    //  counters for STATS
    zstate_monitor_t *monitor;  //  monitoring endpoint, once bound
    bool paused;                //  PAUSE: read nothing more from clients
    bool verbose;               //  log activity
} self_t;


//  --------------------------------------------------------------------------
//  Routes

static route_t *
s_route_new (const char *db, const char *table, const char *endpoint)
{
    route_t *self = (route_t *) zmalloc (sizeof (route_t));
    assert (self);
    self->db = strdup (db);
    self->table = strdup (table);
    self->endpoint = strdup (endpoint);
    assert (self->db && self->table && self->endpoint);
    self->push = zsock_new (ZMQ_PUSH);
    assert (self->push);
    //  A few messages in flight keep the consumer busy; more would only
    //  hide a slow consumer from the clients
    zsock_set_sndhwm (self->push, PUSH_SNDHWM);
    //  What is still in the pipe when the consumer leaves goes with it
    zsock_set_linger (self->push, 0);
    self->handle = zsock_resolve (self->push);
    return self;
}

static void
s_route_destroy (route_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        route_t *self = *self_p;
        zsock_destroy (&self->push);
        free (self->db);
        free (self->table);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

//  zhashx item destructors for the two levels of the routing table
static void
s_route_free (void **item_p)
{
    s_route_destroy ((route_t **) item_p);
}

static void
s_tables_free (void **item_p)
{
    zhashx_destroy ((zhashx_t **) item_p);
}

//  Find the route for (db, table). The names may point into a message:
//  zhashx looks them up as they are, without copying.
static route_t *
s_route_lookup (self_t *self, const char *db, const char *table)
{
    zhashx_t *tables = (zhashx_t *) zhashx_lookup (self->dbs, db);
    return tables? (route_t *) zhashx_lookup (tables, table): NULL;
}


//  --------------------------------------------------------------------------
//  Sessions: a 16-byte binary key, so the hash gets its own key functions

static size_t
s_session_hash (const void *key)
{
    //  FNV-1a over every byte: session ids come from the network, so no
    //  part of them can be trusted to be random
    const byte *data = (const byte *) key;
    uint64_t hash = 14695981039346656037ULL;
    for (size_t index = 0; index < ZSTATE_MSG_SESSION_SIZE; index++) {
        hash ^= data [index];
        hash *= 1099511628211ULL;
    }
    return (size_t) hash;
}

static int
s_session_compare (const void *key1, const void *key2)
{
    return memcmp (key1, key2, ZSTATE_MSG_SESSION_SIZE);
}

static void *
s_session_key_dup (const void *key)
{
    byte *copy = (byte *) malloc (ZSTATE_MSG_SESSION_SIZE);
    assert (copy);
    memcpy (copy, key, ZSTATE_MSG_SESSION_SIZE);
    return copy;
}

static void
s_session_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  Log the 1st, 2nd, 4th, 8th... occurrence of something, so that a flood
//  of bad input is visible without flooding the log
static bool
s_worth_logging (uint64_t count)
{
    return count && (count & (count - 1)) == 0;
}

//  Count a gap unless a session's sequence goes up by exactly one
//  (doc/protocol.md, section 8): a jump forward means messages were lost
//  on the way, a step back means the sender broke the rules. Either way
//  the message is still delivered; the count is what tells.
static void
s_session_track (self_t *self, const byte *session_id, uint64_t sequence)
{
    session_t *session = (session_t *) zhashx_lookup (self->sessions, session_id);
    if (session) {
        if (sequence != session->sequence + 1) {
            self->stats.gaps++;
            if (s_worth_logging (self->stats.gaps))
                zsys_warning ("zstate_server: sequence %" PRIu64 " after %" PRIu64
                              " in one session; %" PRIu64 " gaps so far",
                              sequence, session->sequence, self->stats.gaps);
        }
        session->sequence = sequence;
        session->seen = self->tick;
    }
    else
    if (zhashx_size (self->sessions) < SESSIONS_MAX) {
        session = (session_t *) zmalloc (sizeof (session_t));
        assert (session);
        session->sequence = sequence;
        session->seen = self->tick;
        int rc = zhashx_insert (self->sessions, session_id, session);
        assert (rc == 0);
    }
    else {
        //  The table is bounded; past the cap we route but do not track
        self->untracked++;
        if (s_worth_logging (self->untracked))
            zsys_warning ("zstate_server: %d sessions tracked, %" PRIu64
                          " messages from new sessions not checked for gaps",
                          SESSIONS_MAX, self->untracked);
    }
}

//  Timer: advance the session clock and forget idle sessions
static int
s_sessions_expire (zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = (self_t *) arg;
    self->tick++;
    //  Collect first: zhashx cannot delete while it iterates
    zlistx_t *expired = zlistx_new ();
    assert (expired);
    session_t *session = (session_t *) zhashx_first (self->sessions);
    while (session) {
        if (self->tick - session->seen >= SESSION_IDLE_TICKS)
            zlistx_add_end (expired, (void *) zhashx_cursor (self->sessions));
        session = (session_t *) zhashx_next (self->sessions);
    }
    const void *key = zlistx_first (expired);
    while (key) {
        zhashx_delete (self->sessions, key);
        key = zlistx_next (expired);
    }
    if (self->verbose && zlistx_size (expired))
        zsys_debug ("zstate_server: forgot %zu idle sessions", zlistx_size (expired));
    zlistx_destroy (&expired);
    return 0;
}


//  --------------------------------------------------------------------------
//  Actor state

static int
    s_router_readable (zloop_t *loop, zsock_t *router, void *arg);
static int
    s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg);
static int
    s_stalled_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static self_t *
s_self_new (zsock_t *pipe)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->loop = zloop_new ();
    assert (self->loop);
    zloop_set_nonstop (self->loop, true);
    int rc = zloop_reader (self->loop, pipe, s_self_handle_pipe, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, pipe);
    rc = zloop_timer (self->loop, SESSION_TICK, 0, s_sessions_expire, self);
    assert (rc != -1);

    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_rcvhwm (self->router, RCVHWM_DEFAULT);
    //  The codec rejects bigger messages anyway; this keeps one peer from
    //  making libzmq allocate gigabytes before we ever see the frame
    zsock_set_maxmsgsize (self->router, ZSTATE_MESSAGE_MAX);
    self->router_handle = zsock_resolve (self->router);
    //  Reading an unbound ROUTER costs nothing, and it means a BIND needs no
    //  extra step to start the flow
    rc = zloop_reader (self->loop, self->router, s_router_readable, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, self->router);
    self->reading = true;

    self->decoder = zstate_msg_new ();
    self->dbs = zhashx_new ();
    assert (self->dbs);
    zhashx_set_destructor (self->dbs, s_tables_free);
    self->sessions = zhashx_new ();
    assert (self->sessions);
    zhashx_set_key_hasher (self->sessions, s_session_hash);
    zhashx_set_key_comparator (self->sessions, s_session_compare);
    zhashx_set_key_duplicator (self->sessions, s_session_key_dup);
    zhashx_set_key_destructor (self->sessions, s_session_free);
    zhashx_set_destructor (self->sessions, s_session_free);
    zmq_msg_init (&self->parked);
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
        zhashx_destroy (&self->dbs);
        zhashx_destroy (&self->sessions);
        zstate_msg_destroy (&self->decoder);
        zloop_destroy (&self->loop);
        zstate_monitor_destroy (&self->monitor);
        zsock_destroy (&self->router);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Flow control: the ROUTER is read only while no consumer is full

static void
s_reading_start (self_t *self)
{
    if (!self->reading && !self->paused) {
        int rc = zloop_reader (self->loop, self->router, s_router_readable, self);
        assert (rc == 0);
        zloop_reader_set_tolerant (self->loop, self->router);
        self->reading = true;
    }
}

static void
s_reading_stop (self_t *self)
{
    if (self->reading) {
        zloop_reader_end (self->loop, self->router);
        self->reading = false;
    }
}

//  The consumer's queue is full: keep this one message, stop reading and
//  wait until the consumer's PUSH socket can take it
static void
s_stall_begin (self_t *self, route_t *route, zmq_msg_t *payload)
{
    assert (!self->stalled);
    zmq_msg_move (&self->parked, payload);
    self->stalled = route;
    self->stats.stalls++;
    s_reading_stop (self);
    zmq_pollitem_t item = { route->handle, 0, ZMQ_POLLOUT, 0 };
    int rc = zloop_poller (self->loop, &item, s_stalled_writable, self);
    assert (rc == 0);
    zloop_poller_set_tolerant (self->loop, &item);
    if (self->verbose)
        zsys_debug ("zstate_server: consumer %s/%s is full, pausing",
                    route->db, route->table);
}

//  The parked message has gone (or was dropped): read again
static void
s_stall_end (self_t *self)
{
    assert (self->stalled);
    zmq_pollitem_t item = { self->stalled->handle, 0, ZMQ_POLLOUT, 0 };
    zloop_poller_end (self->loop, &item);
    if (self->verbose)
        zsys_debug ("zstate_server: consumer %s/%s has room, resuming",
                    self->stalled->db, self->stalled->table);
    self->stalled = NULL;
    zmq_msg_close (&self->parked);
    zmq_msg_init (&self->parked);
    s_reading_start (self);
}

static int
s_stalled_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    self_t *self = (self_t *) arg;
    assert (self->stalled);
    if (zmq_msg_send (&self->parked, self->stalled->handle, ZMQ_DONTWAIT) != -1)
        self->stats.routed++;
    else
    if (zmq_errno () == EAGAIN || zmq_errno () == EINTR)
        return 0;               //  Spurious wake-up; keep waiting
    else {
        self->stats.dropped++;
        zsys_warning ("zstate_server: cannot pass a message to %s/%s: %s",
                      self->stalled->db, self->stalled->table,
                      zmq_strerror (zmq_errno ()));
    }
    s_stall_end (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  The data path

//  Count and drop a message we cannot accept
static void
s_reject (self_t *self, int reason)
{
    assert (reason > 0 && reason < ZSTATE_WIRE_REASONS);
    self->stats.malformed++;
    uint64_t count = ++self->stats.rejected [reason];
    if (s_worth_logging (count))
        zsys_warning ("zstate_server: dropped a malformed message (%s), %" PRIu64
                      " so far", zstate_msg_reason_str (reason), count);
}

//  Validate, track and route one payload. The payload's content is sent on
//  or left for the caller to close.
static void
s_payload_route (self_t *self, zmq_msg_t *payload)
{
    size_t size = zmq_msg_size (payload);
    int reason = zstate_msg_decode (self->decoder, zmq_msg_data (payload), size);
    if (reason) {
        s_reject (self, reason);
        return;
    }
    self->stats.messages++;
    self->stats.ops += zstate_msg_op_count (self->decoder);
    self->stats.bytes += size;
    s_session_track (self, zstate_msg_session (self->decoder),
                     zstate_msg_sequence (self->decoder));

    const char *db = zstate_msg_db (self->decoder);
    const char *table = zstate_msg_table (self->decoder);
    route_t *route = s_route_lookup (self, db, table);
    if (!route) {
        self->stats.unroutable++;
        if (s_worth_logging (self->stats.unroutable))
            zsys_warning ("zstate_server: no consumer for %s/%s, dropped; %" PRIu64
                          " unroutable messages so far", db, table,
                          self->stats.unroutable);
        return;
    }
    if (self->monitor)
        zstate_monitor_publish (self->monitor, db, table, payload);
    route->messages++;
    route->ops += zstate_msg_op_count (self->decoder);
    //  Over inproc the send moves the content: no copy
    if (zmq_msg_send (payload, route->handle, ZMQ_DONTWAIT) != -1)
        self->stats.routed++;
    else
    if (zmq_errno () == EAGAIN || zmq_errno () == EINTR)
        s_stall_begin (self, route, payload);
    else {
        self->stats.dropped++;
        zsys_warning ("zstate_server: cannot pass a message to %s/%s: %s",
                      db, table, zmq_strerror (zmq_errno ()));
    }
}

//  Read up to DRAIN_MAX messages, [identity][payload] each, with raw
//  zmq_msg_t so that the payload can travel on without a copy
static int
s_router_readable (zloop_t *loop, zsock_t *router, void *arg)
{
    self_t *self = (self_t *) arg;
    for (int count = 0; count < DRAIN_MAX && self->reading; count++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->router_handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&frame);
            break;              //  Drained (EAGAIN), or zloop calls again
        }
        //  The first frame is the identity, which ROUTER always adds. The
        //  rest of a multipart message arrives with its first frame, so
        //  reading on never waits.
        size_t frames = 1;
        bool more = zmq_msg_more (&frame);
        while (more) {
            zmq_msg_close (&frame);
            zmq_msg_init (&frame);
            more = false;
            if (zmq_msg_recv (&frame, self->router_handle, ZMQ_DONTWAIT) != -1) {
                frames++;
                more = zmq_msg_more (&frame);
            }
            else
                frames = 0;     //  Cannot happen; count it as malformed
        }
        //  frame is the last frame: the payload, if there were two
        if (frames == 2)
            s_payload_route (self, &frame);
        else
            s_reject (self, ZSTATE_WIRE_FRAMES);
        zmq_msg_close (&frame);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Commands

static void
s_handle_bind (self_t *self, zmsg_t *request)
{
    char *endpoint = zmsg_popstr (request);
    int status = 0;
    char reason [256] = "";
    int port = 0;
    if (!endpoint || !*endpoint) {
        status = EINVAL;
        snprintf (reason, sizeof (reason), "BIND needs an endpoint");
    }
    else
    if (zmq_bind (self->router_handle, endpoint)) {
        status = zmq_errno ();
        snprintf (reason, sizeof (reason), "cannot bind to %s: %s",
                  endpoint, zmq_strerror (status));
    }
    else {
        //  Read the port back: with "*" or "0" only libzmq knows it
        char *bound = zsock_last_endpoint (self->router);
        const char *colon = bound? strrchr (bound, ':'): NULL;
        if (strncmp (endpoint, "tcp://", 6) == 0 && colon)
            port = atoi (colon + 1);
        if (self->verbose)
            zsys_debug ("zstate_server: bound to %s", bound? bound: endpoint);
        free (bound);
    }
    zstate_reply (self->pipe, "BIND", status, reason, true);
    zstr_sendf (self->pipe, "%d", port);
    free (endpoint);
}

static void
s_handle_set_rcvhwm (self_t *self, zmsg_t *request)
{
    char *value = zmsg_popstr (request);
    char *end = NULL;
    long rcvhwm = value? strtol (value, &end, 10): -1;
    if (!value || end == value || *end || rcvhwm < 0 || rcvhwm > INT_MAX)
        zstate_reply (self->pipe, "SET RCVHWM", EINVAL,
                      "SET RCVHWM needs a count >= 0", false);
    else {
        zsock_set_rcvhwm (self->router, (int) rcvhwm);
        zstate_reply (self->pipe, "SET RCVHWM", 0, "", false);
    }
    free (value);
}

static void
s_handle_register (self_t *self, zmsg_t *request)
{
    char *db = zmsg_popstr (request);
    char *table = zmsg_popstr (request);
    char *endpoint = zmsg_popstr (request);
    char *pointer = zmsg_popstr (request);
    //  The consumer's address, as text: a hand-off between our own actors
    //  in one process, like a "p" picture
    void *consumer = NULL;
    if (pointer && sscanf (pointer, "%p", &consumer) != 1)
        consumer = NULL;
    free (pointer);
    int status = 0;
    char reason [256] = "";
    if (!db || !zstate_msg_name_valid (db)
    ||  !table || !zstate_msg_name_valid (table)
    ||  !endpoint || !*endpoint) {
        status = EINVAL;
        snprintf (reason, sizeof (reason),
                  "REGISTER needs a db, a table and an endpoint");
    }
    else
    if (s_route_lookup (self, db, table)) {
        //  Replacing silently would route to the wrong consumer, and the
        //  first one's unregister would then remove the second
        status = EEXIST;
        snprintf (reason, sizeof (reason), "a consumer is already registered for %s/%s",
                  db, table);
    }
    else {
        route_t *route = s_route_new (db, table, endpoint);
        route->consumer = (zstate_consumer_t *) consumer;
        if (zsock_connect (route->push, "%s", endpoint)) {
            status = zmq_errno ();
            snprintf (reason, sizeof (reason), "cannot connect to %s: %s",
                      endpoint, zmq_strerror (status));
            s_route_destroy (&route);
        }
        else {
            zhashx_t *tables = (zhashx_t *) zhashx_lookup (self->dbs, db);
            if (!tables) {
                tables = zhashx_new ();
                assert (tables);
                zhashx_set_destructor (tables, s_route_free);
                zhashx_insert (self->dbs, db, tables);
            }
            int rc = zhashx_insert (tables, table, route);
            assert (rc == 0);
            self->consumers++;
            if (self->verbose)
                zsys_debug ("zstate_server: %s/%s routed to %s", db, table, endpoint);
        }
    }
    zstate_reply (self->pipe, "REGISTER", status, reason, false);
    free (db);
    free (table);
    free (endpoint);
}

static void
s_handle_unregister (self_t *self, zmsg_t *request)
{
    char *db = zmsg_popstr (request);
    char *table = zmsg_popstr (request);
    char *endpoint = zmsg_popstr (request);
    int status = 0;
    char reason [256] = "";
    route_t *route = db && table? s_route_lookup (self, db, table): NULL;
    if (!db || !table || !endpoint) {
        status = EINVAL;
        snprintf (reason, sizeof (reason),
                  "UNREGISTER needs a db, a table and an endpoint");
    }
    else
    if (!route || strneq (route->endpoint, endpoint)) {
        //  Only the consumer that registered may leave
        status = ENOENT;
        snprintf (reason, sizeof (reason), "no consumer for %s/%s at %s",
                  db, table, endpoint);
    }
    else {
        if (self->stalled == route) {
            //  We were waiting for this consumer: its message has nowhere to go
            self->stats.dropped++;
            s_stall_end (self);
        }
        zhashx_t *tables = (zhashx_t *) zhashx_lookup (self->dbs, db);
        zhashx_delete (tables, table);
        if (zhashx_size (tables) == 0)
            zhashx_delete (self->dbs, db);
        self->consumers--;
        if (self->verbose)
            zsys_debug ("zstate_server: %s/%s unregistered", db, table);
    }
    zstate_reply (self->pipe, "UNREGISTER", status, reason, false);
    free (db);
    free (table);
    free (endpoint);
}

static void
s_handle_stats (self_t *self)
{
    zstate_server_stats_t stats = self->stats;
    stats.consumers = self->consumers;
    stats.sessions = zhashx_size (self->sessions);
    zstate_reply (self->pipe, "STATS", 0, "", true);
    zsock_send (self->pipe, "b", &stats, sizeof (stats));
}

//  Short names of the reject reasons, for the monitor's text
static const char *
s_reason_names [ZSTATE_WIRE_REASONS] = {
    "ok", "truncated", "signature", "version", "type", "too_large", "name",
    "op_count", "op_code", "key", "field", "terminator", "trailing", "frames"
};

//  The text the monitor answers STATS with: ZPL, one section per table
static char *
s_stats_text (void *arg)
{
    self_t *self = (self_t *) arg;
    char *text = NULL;
    size_t size = 0;
    FILE *file = open_memstream (&text, &size);
    assert (file);
    zstate_server_stats_t *stats = &self->stats;
    fprintf (file, "server\n");
    fprintf (file, "    messages = %" PRIu64 "\n", stats->messages);
    fprintf (file, "    ops = %" PRIu64 "\n", stats->ops);
    fprintf (file, "    bytes = %" PRIu64 "\n", stats->bytes);
    fprintf (file, "    routed = %" PRIu64 "\n", stats->routed);
    fprintf (file, "    unroutable = %" PRIu64 "\n", stats->unroutable);
    fprintf (file, "    malformed = %" PRIu64 "\n", stats->malformed);
    fprintf (file, "    gaps = %" PRIu64 "\n", stats->gaps);
    fprintf (file, "    dropped = %" PRIu64 "\n", stats->dropped);
    fprintf (file, "    stalls = %" PRIu64 "\n", stats->stalls);
    fprintf (file, "    consumers = %zu\n", self->consumers);
    fprintf (file, "    sessions = %zu\n", zhashx_size (self->sessions));
    fprintf (file, "    watchers = %zu\n", zstate_monitor_watchers (self->monitor));
    fprintf (file, "    watch_lost = %" PRIu64 "\n", zstate_monitor_lost (self->monitor));
    fprintf (file, "    rejected\n");
    for (int reason = 1; reason < ZSTATE_WIRE_REASONS; reason++)
        fprintf (file, "        %s = %" PRIu64 "\n", s_reason_names [reason],
                 stats->rejected [reason]);
    zhashx_t *tables = (zhashx_t *) zhashx_first (self->dbs);
    while (tables) {
        route_t *route = (route_t *) zhashx_first (tables);
        while (route) {
            fprintf (file, "table\n");
            fprintf (file, "    db = \"%s\"\n", route->db);
            fprintf (file, "    name = \"%s\"\n", route->table);
            fprintf (file, "    messages = %" PRIu64 "\n", route->messages);
            fprintf (file, "    ops = %" PRIu64 "\n", route->ops);
            if (route->consumer) {
                zstate_consumer_stats_t consumer;
                zstate_consumer_stats (route->consumer, &consumer);
                fprintf (file, "    popped = %" PRIu64 "\n", consumer.popped);
                fprintf (file, "    queued_ops = %zu\n", consumer.queued_ops);
                fprintf (file, "    queued_bytes = %zu\n", consumer.queued_bytes);
                fprintf (file, "    forwarded = %" PRIu64 "\n", consumer.forwarded);
                fprintf (file, "    stalls = %" PRIu64 "\n", consumer.stalls);
                zstate_consumer_fprint_writer (route->consumer, file);
            }
            route = (route_t *) zhashx_next (tables);
        }
        tables = (zhashx_t *) zhashx_next (self->dbs);
    }
    fclose (file);
    return text;
}

static int
s_monitor_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = (self_t *) arg;
    zstate_monitor_handle (self->monitor, s_stats_text, self);
    return 0;
}

static void
s_handle_monitor (self_t *self, zmsg_t *request)
{
    char *endpoint = zmsg_popstr (request);
    if (!self->monitor) {
        self->monitor = zstate_monitor_new ();
        int rc = zloop_reader (self->loop, zstate_monitor_socket (self->monitor),
                               s_monitor_readable, self);
        assert (rc == 0);
        zloop_reader_set_tolerant (self->loop, zstate_monitor_socket (self->monitor));
    }
    int port = zstate_monitor_bind (self->monitor, endpoint);
    zstate_reply (self->pipe, "MONITOR", port == -1? errno: 0,
                  port == -1? zstate_reason (): "", true);
    zstr_sendf (self->pipe, "%d", port == -1? 0: port);
    free (endpoint);
}

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    self_t *self = (self_t *) arg;
    zmsg_t *request = zmsg_recv (pipe);
    if (!request)
        return -1;              //  Interrupted
    char *command = zmsg_popstr (request);
    int rc = 0;
    if (!command)
        zsys_error ("zstate_server: empty command");
    else {
        if (self->verbose)
            zsys_debug ("zstate_server: API command=%s", command);
        if (streq (command, "$TERM"))
            rc = -1;
        else
        if (streq (command, "BIND"))
            s_handle_bind (self, request);
        else
        if (streq (command, "SET RCVHWM"))
            s_handle_set_rcvhwm (self, request);
        else
        if (streq (command, "REGISTER"))
            s_handle_register (self, request);
        else
        if (streq (command, "UNREGISTER"))
            s_handle_unregister (self, request);
        else
        if (streq (command, "STATS"))
            s_handle_stats (self);
        else
        if (streq (command, "MONITOR"))
            s_handle_monitor (self, request);
        else
        if (streq (command, "PAUSE")) {
            //  Stop (or go on) reading from clients; what was read still
            //  goes to its consumer, the parked message too
            char *flag = zmsg_popstr (request);
            self->paused = !flag || !streq (flag, "0");
            free (flag);
            if (self->paused)
                s_reading_stop (self);
            else
            if (!self->stalled)
                s_reading_start (self);
            zstate_reply (pipe, "PAUSE", 0, "", false);
        }
        else
        if (streq (command, "VERBOSE")) {
            char *flag = zmsg_popstr (request);
            self->verbose = !flag || !streq (flag, "0");
            free (flag);
            zstate_reply (pipe, "VERBOSE", 0, "", false);
        }
        else {
            zsys_error ("zstate_server: unknown command '%s'", command);
            zstate_reply (pipe, command, EINVAL, "unknown command", false);
        }
    }
    free (command);
    zmsg_destroy (&request);
    return rc;
}

static void
s_server_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe);
    zsock_signal (pipe, 0);
    zloop_start (self->loop);
    s_self_destroy (&self);
}


//  --------------------------------------------------------------------------
//  The server link, shared by the wrapper and its consumers

struct _zstate_server_link_t {
    pthread_mutex_t mutex;      //  serialises round-trips to the actor
    size_t refs;                //  references, under mutex
    zactor_t *actor;            //  the server actor, NULL once destroyed
};

//  The wrapper: everything it does goes through the link
struct _zstate_server_t {
    zstate_server_link_t *link; //  shared with our consumers; holds the actor
};

//  One complete request/reply with the actor, under the link's mutex so
//  that callers on several threads never read each other's replies.
//  Arguments are strings, NULL-terminated. Returns 0, or -1 with errno and
//  zstate_reason (); frames after the reason go to *rest_p if given.
static int
s_link_request (zstate_server_link_t *link, zmsg_t **rest_p, const char *command, ...)
{
    pthread_mutex_lock (&link->mutex);
    int rc = 0;
    if (!link->actor)
        rc = zstate_fail (ENOENT, "%s: the server is gone", command);
    else {
        zmsg_t *request = zmsg_new ();
        assert (request);
        zmsg_addstr (request, command);
        va_list args;
        va_start (args, command);
        const char *arg = va_arg (args, const char *);
        while (arg) {
            zmsg_addstr (request, arg);
            arg = va_arg (args, const char *);
        }
        va_end (args);
        if (zmsg_send (&request, link->actor))
            rc = zstate_fail (EINTR, "%s: cannot send to the server", command);
        else
            rc = zstate_request_wait (zactor_sock (link->actor), command, rest_p);
        zmsg_destroy (&request);
    }
    int error = errno;
    pthread_mutex_unlock (&link->mutex);
    errno = error;
    return rc;
}

zstate_server_link_t *
zstate_server_link (zstate_server_t *server)
{
    assert (server);
    zstate_server_link_t *link = server->link;
    pthread_mutex_lock (&link->mutex);
    link->refs++;
    pthread_mutex_unlock (&link->mutex);
    return link;
}

void
zstate_server_link_release (zstate_server_link_t **link_p)
{
    assert (link_p);
    zstate_server_link_t *link = *link_p;
    if (link) {
        pthread_mutex_lock (&link->mutex);
        bool last = --link->refs == 0;
        pthread_mutex_unlock (&link->mutex);
        if (last) {
            assert (!link->actor);
            pthread_mutex_destroy (&link->mutex);
            free (link);
        }
        *link_p = NULL;
    }
}

int
zstate_server_link_register (zstate_server_link_t *link,
                             const char *db, const char *table, const char *endpoint,
                             zstate_consumer_t *consumer)
{
    assert (link);
    assert (db && table && endpoint);
    char pointer [32];
    snprintf (pointer, sizeof (pointer), "%p", (void *) consumer);
    return s_link_request (link, NULL, "REGISTER", db, table, endpoint, pointer, NULL);
}

int
zstate_server_link_unregister (zstate_server_link_t *link,
                               const char *db, const char *table, const char *endpoint)
{
    assert (link);
    assert (db && table && endpoint);
    return s_link_request (link, NULL, "UNREGISTER", db, table, endpoint, NULL);
}



//  --------------------------------------------------------------------------
//  Create a server; it binds nothing until zstate_server_bind.

zstate_server_t *
zstate_server_new (void)
{
    zstate_server_t *self = (zstate_server_t *) zmalloc (sizeof (zstate_server_t));
    assert (self);
    self->link = (zstate_server_link_t *) zmalloc (sizeof (zstate_server_link_t));
    assert (self->link);
    int rc = pthread_mutex_init (&self->link->mutex, NULL);
    assert (rc == 0);
    self->link->refs = 1;
    self->link->actor = zactor_new (s_server_actor, NULL);
    assert (self->link->actor);
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy the server; consumers keep the link and find the actor gone.

void
zstate_server_destroy (zstate_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_server_t *self = *self_p;
        pthread_mutex_lock (&self->link->mutex);
        zactor_destroy (&self->link->actor);
        pthread_mutex_unlock (&self->link->mutex);
        zstate_server_link_release (&self->link);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Bind to an endpoint. Returns the tcp port, 0, or -1.

int
zstate_server_bind (zstate_server_t *self, const char *endpoint)
{
    assert (self);
    if (!endpoint || !*endpoint)
        return zstate_fail (EINVAL, "zstate_server_bind: no endpoint");
    zmsg_t *rest = NULL;
    int rc = s_link_request (self->link, &rest, "BIND", endpoint, NULL);
    if (rc == 0) {
        char *port = zmsg_popstr (rest);
        rc = port? atoi (port): 0;
        free (port);
    }
    zmsg_destroy (&rest);
    return rc;
}


//  --------------------------------------------------------------------------
//  Stop or resume reading from clients.

int
zstate_server_pause (zstate_server_t *self, bool paused)
{
    assert (self);
    return s_link_request (self->link, NULL, "PAUSE", paused? "1": "0", NULL);
}


//  --------------------------------------------------------------------------
//  Bind the monitoring endpoint; returns the port for tcp, 0, or -1.

int
zstate_server_monitor (zstate_server_t *self, const char *endpoint)
{
    assert (self);
    if (!endpoint || !*endpoint)
        return zstate_fail (EINVAL, "zstate_server_monitor: no endpoint");
    zmsg_t *rest = NULL;
    int rc = s_link_request (self->link, &rest, "MONITOR", endpoint, NULL);
    if (rc == 0) {
        char *port = zmsg_popstr (rest);
        rc = port? atoi (port): 0;
        free (port);
    }
    zmsg_destroy (&rest);
    return rc;
}


//  --------------------------------------------------------------------------
//  Fill *stats with the current counters.

int
zstate_server_stats (zstate_server_t *self, zstate_server_stats_t *stats)
{
    assert (self);
    assert (stats);
    zmsg_t *rest = NULL;
    int rc = s_link_request (self->link, &rest, "STATS", NULL);
    if (rc == 0) {
        zframe_t *frame = zmsg_pop (rest);
        //  Our own actor sent it: a wrong size is a bug, not bad input
        assert (frame && zframe_size (frame) == sizeof (zstate_server_stats_t));
        memcpy (stats, zframe_data (frame), sizeof (zstate_server_stats_t));
        zframe_destroy (&frame);
    }
    zmsg_destroy (&rest);
    return rc;
}


//  --------------------------------------------------------------------------
//  Set the ROUTER's receive high-water mark; applies to later binds.

int
zstate_server_set_rcvhwm (zstate_server_t *self, int rcvhwm)
{
    assert (self);
    char text [16];
    snprintf (text, sizeof (text), "%d", rcvhwm);
    return s_link_request (self->link, NULL, "SET RCVHWM", text, NULL);
}


//  --------------------------------------------------------------------------
//  Log activity with zsys_debug.

void
zstate_server_set_verbose (zstate_server_t *self, bool verbose)
{
    assert (self);
    s_link_request (self->link, NULL, "VERBOSE", verbose? "1": "0", NULL);
}


//  --------------------------------------------------------------------------
//  Return the server's actor.

zactor_t *
zstate_server_actor (zstate_server_t *self)
{
    assert (self);
    return self->link->actor;
}


//  --------------------------------------------------------------------------
//  Selftest

//  Encode batch as one wire message and send it from a raw DEALER, as the
//  client agent would
static void
s_test_send (zsock_t *dealer, zuuid_t *session, uint64_t sequence,
             const char *db, const char *table, zstate_batch_t *batch)
{
    zframe_t *frame = zstate_msg_encode (zuuid_data (session), sequence,
                                         db, table, batch);
    assert (frame);
    int rc = zframe_send (&frame, dealer, 0);
    assert (rc == 0);
}

//  Wait until consumer has delivered expected operations; the last pops
//  stays in batch. Fails after 5 seconds of silence instead of hanging.
static void
s_test_receive (zstate_consumer_t *consumer, zstate_batch_t *batch, size_t expected)
{
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    assert (poller);
    size_t received = 0;
    while (received < expected) {
        void *which = zpoller_wait (poller, 5000);
        assert (which == zstate_consumer_socket (consumer));
        received += zstate_consumer_pops (consumer, batch, 0);
    }
    assert (received == expected);
    zpoller_destroy (&poller);
}

//  Wait until consumer has paused and the server holds a message for it.
//  Once a consumer has paused it reads no more, so that stall lasts. A
//  message the server holds is counted in messages, and not yet in routed,
//  unroutable or dropped. The consumer must not have paused before.
static void
s_test_wait_stalled (zstate_server_t *server, zstate_consumer_t *consumer,
                     zstate_server_stats_t *stats)
{
    int64_t deadline = zclock_mono () + 5000;
    bool stalled = false;
    while (!stalled && zclock_mono () < deadline) {
        zstate_consumer_stats_t consumer_stats;
        zstate_consumer_stats (consumer, &consumer_stats);
        int rc = zstate_server_stats (server, stats);
        assert (rc == 0);
        stalled = consumer_stats.stalls > 0
               && stats->messages == stats->routed + stats->unroutable
                                     + stats->dropped + 1;
    }
    assert (stalled);
    assert (stats->stalls > 0);
}

void
zstate_server_test (bool verbose)
{
    printf (" * zstate_server: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    assert (zstate_server_actor (server));
    zstate_server_set_verbose (server, verbose);
    int rc = zstate_server_set_rcvhwm (server, -1);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_server_set_rcvhwm (server, 500);
    assert (rc == 0);

    //  Consumers may register before the server binds
    zstate_consumer_t *routes = zstate_consumer_new (server, "APPL_DB", "ROUTE_TABLE");
    assert (routes);
    zstate_consumer_t *ports = zstate_consumer_new (server, "APPL_DB", "PORT_TABLE");
    assert (ports);
    //  One consumer per (db, table): the second is refused, not swapped in
    zstate_consumer_t *twin = zstate_consumer_new (server, "APPL_DB", "ROUTE_TABLE");
    assert (twin == NULL && errno == EEXIST);
    assert (strstr (zstate_reason (), "already registered"));

    //  An ephemeral port comes back; binding it again fails cleanly
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    rc = zstate_server_bind (server, endpoint);
    assert (rc == -1 && errno == EADDRINUSE);
    assert (*zstate_reason ());
    rc = zstate_server_bind (server, "bogus");
    assert (rc == -1 && errno != 0);
    rc = zstate_server_bind (server, NULL);
    assert (rc == -1 && errno == EINVAL);

    zsock_t *dealer = zsock_new_dealer (endpoint);
    assert (dealer);
    zsock_set_sndtimeo (dealer, 5000);
    zuuid_t *session = zuuid_new ();
    uint64_t sequence = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_t *received = zstate_batch_new ();

    //  Each table gets its own messages
    zstate_batch_set (batch, "10.0.0.0/8", "nexthop", "10.1.1.1", NULL);
    s_test_send (dealer, session, ++sequence, "APPL_DB", "ROUTE_TABLE", batch);
    zstate_batch_reset (batch);
    zstate_batch_hset (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_batch_del (batch, "Ethernet4");
    s_test_send (dealer, session, ++sequence, "APPL_DB", "PORT_TABLE", batch);
    s_test_receive (routes, received, 1);
    assert (streq (zstate_batch_key (received, 0, NULL), "10.0.0.0/8"));
    s_test_receive (ports, received, 2);
    assert (streq (zstate_batch_key (received, 0, NULL), "Ethernet0"));
    assert (zstate_batch_op (received, 1) == ZSTATE_OP_DEL);

    //  A second endpoint serves as well as the first
    zuuid_t *uuid = zuuid_new ();
    char inproc [80];
    snprintf (inproc, sizeof (inproc), "inproc://zstate-server-test-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    rc = zstate_server_bind (server, inproc);
    assert (rc == 0);
    zsock_t *neighbour = zsock_new_dealer (inproc);
    assert (neighbour);
    zuuid_t *other_session = zuuid_new ();
    s_test_send (neighbour, other_session, 1, "APPL_DB", "PORT_TABLE", batch);
    s_test_receive (ports, received, 2);
    zuuid_destroy (&other_session);
    zsock_destroy (&neighbour);

    //  The monitor reports counters per table and streams to watchers
    int monitor_port = zstate_server_monitor (server, "tcp://127.0.0.1:*");
    assert (monitor_port > 0);
    assert (zstate_server_monitor (server, "bogus") == -1);
    zsock_t *watcher = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (watcher, 5000);
    rc = zsock_connect (watcher, "tcp://127.0.0.1:%d", monitor_port);
    assert (rc == 0);
    zstr_send (watcher, "STATS");
    char *command, *status, *reason, *text;
    rc = zstr_recvx (watcher, &command, &status, &reason, &text, NULL);
    assert (rc == 4 && streq (command, "STATS") && streq (status, "0"));
    //  The text is ZPL, and counts what the tables received so far
    zconfig_t *config = zconfig_str_load (text);
    assert (config);
    assert (streq (zconfig_get (config, "server/messages", ""), "3"));
    assert (streq (zconfig_get (config, "server/consumers", ""), "2"));
    zconfig_t *section = zconfig_locate (config, "table");
    bool seen_ports = false;
    while (section) {
        if (streq (zconfig_get (section, "name", ""), "PORT_TABLE")) {
            assert (streq (zconfig_get (section, "messages", ""), "2"));
            assert (streq (zconfig_get (section, "ops", ""), "4"));
            assert (streq (zconfig_get (section, "popped", ""), "4"));
            seen_ports = true;
        }
        section = zconfig_next (section);
    }
    assert (seen_ports);
    zconfig_destroy (&config);
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    zstr_free (&text);

    zstr_sendx (watcher, "WATCH", "APPL_DB", "PORT_TABLE", NULL);
    rc = zstr_recvx (watcher, &command, &status, &reason, NULL);
    assert (rc == 3 && streq (command, "WATCH") && streq (status, "0"));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    s_test_send (dealer, session, ++sequence, "APPL_DB", "PORT_TABLE", batch);
    s_test_receive (ports, received, 2);
    zmsg_t *copy = zmsg_recv (watcher);
    assert (copy && zmsg_size (copy) == 2);
    char *kind = zmsg_popstr (copy);
    assert (streq (kind, "OPS"));
    zstr_free (&kind);
    zframe_t *payload = zmsg_pop (copy);
    zstate_msg_t *decoder = zstate_msg_new ();
    rc = zstate_msg_decode (decoder, zframe_data (payload), zframe_size (payload));
    assert (rc == ZSTATE_WIRE_OK);
    assert (streq (zstate_msg_table (decoder), "PORT_TABLE"));
    assert (zstate_msg_op_count (decoder) == 2);
    zstate_msg_destroy (&decoder);
    zframe_destroy (&payload);
    zmsg_destroy (&copy);
    zsock_destroy (&watcher);

    //  Messages for tables nobody serves are counted and dropped. The
    //  sentinel after them arrives only once the server has seen them all.
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "key", "field", "value", NULL);
    s_test_send (dealer, session, ++sequence, "APPL_DB", "NO_TABLE", batch);
    s_test_send (dealer, session, ++sequence, "NO_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, session, ++sequence, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_receive (routes, received, 1);
    zstate_server_stats_t stats;
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.unroutable == 2);
    assert (stats.malformed == 0);
    assert (stats.messages == 7);
    assert (stats.routed == 5);
    assert (stats.ops == 10);
    assert (stats.consumers == 2);
    assert (stats.sessions == 2);
    assert (stats.gaps == 0);

    //  Malformed messages are counted by reason, and valid traffic goes on
    zuuid_t *junk = zuuid_new ();
    zstr_send (dealer, "hello, world");
    zframe_t *frame = zframe_new (NULL, 0);
    zframe_send (&frame, dealer, 0);
    frame = zstate_msg_encode (zuuid_data (junk), 1, "APPL_DB", "ROUTE_TABLE", batch);
    assert (frame);
    zmq_send (zsock_resolve (dealer), zframe_data (frame), 10, 0);
    //  A frame sent with ZFRAME_REUSE shares its bytes with the copy in
    //  flight, so each variant gets a frame of its own
    zframe_data (frame) [2] = ZSTATE_MSG_VERSION + 1;
    zframe_send (&frame, dealer, 0);
    frame = zstate_msg_encode (zuuid_data (junk), 2, "APPL_DB", "ROUTE_TABLE", batch);
    assert (frame);
    zframe_send (&frame, dealer, ZFRAME_MORE);
    zstr_send (dealer, "one frame too many");
    s_test_send (dealer, session, ++sequence, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_receive (routes, received, 1);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.malformed == 5);
    assert (stats.rejected [ZSTATE_WIRE_SIGNATURE] == 1);
    assert (stats.rejected [ZSTATE_WIRE_TRUNCATED] == 2);
    assert (stats.rejected [ZSTATE_WIRE_VERSION] == 1);
    assert (stats.rejected [ZSTATE_WIRE_FRAMES] == 1);
    assert (stats.routed == 6);
    assert (stats.sessions == 2);
    zuuid_destroy (&junk);

    //  A jump in a session's sequence is a gap; a new session is not
    zuuid_t *lossy = zuuid_new ();
    s_test_send (dealer, lossy, 1, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, lossy, 2, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, lossy, 5, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, lossy, 6, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_receive (routes, received, 4);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.gaps == 1);
    //  A step back breaks the protocol's rules, and counts as well
    s_test_send (dealer, lossy, 3, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, lossy, 4, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_receive (routes, received, 2);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.gaps == 2);
    assert (stats.sessions == 3);
    zuuid_destroy (&lossy);

    //  Only the consumer that registered can unregister
    zstate_server_link_t *link = zstate_server_link (server);
    rc = zstate_server_link_unregister (link, "APPL_DB", "ROUTE_TABLE",
                                        "inproc://nobody");
    assert (rc == -1 && errno == ENOENT);
    rc = zstate_server_link_unregister (link, "APPL_DB", "NO_TABLE", "inproc://nobody");
    assert (rc == -1 && errno == ENOENT);
    rc = zstate_server_link_register (link, "APPL_DB", "", "inproc://nobody", NULL);
    assert (rc == -1 && errno == EINVAL);

    //  Unknown commands get an error reply, not an abort
    zstr_send (zstate_server_actor (server), "BOGUS");
    rc = zstate_request_wait (zactor_sock (zstate_server_actor (server)), "BOGUS", NULL);
    assert (rc == -1 && errno == EINVAL);

    //  A paused server reads nothing from clients until it resumes
    rc = zstate_server_pause (server, true);
    assert (rc == 0);
    s_test_send (dealer, session, ++sequence, "APPL_DB", "ROUTE_TABLE", batch);
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (routes), NULL);
    assert (zpoller_wait (poller, 200) == NULL);
    zpoller_destroy (&poller);
    assert (zstate_consumer_pending (routes) == 0);
    rc = zstate_server_pause (server, false);
    assert (rc == 0);
    s_test_receive (routes, received, 1);

    //  A consumer that does not pop stops the server...
    zstate_consumer_t *slow = zstate_consumer_new (server, "APPL_DB", "SLOW_TABLE");
    assert (slow);
    zstate_consumer_set_queue (slow, 1, 1024 * 1024);
    for (uint64_t count = 0; count < 200; count++)
        s_test_send (dealer, session, ++sequence, "APPL_DB", "SLOW_TABLE", batch);
    s_test_wait_stalled (server, slow, &stats);
    assert (stats.consumers == 3);

    //  ...which still ends at once, and its consumers after it
    int64_t started = zclock_mono ();
    zstate_server_destroy (&server);
    assert (server == NULL);
    assert (zclock_mono () - started < 2000);
    rc = zstate_server_link_register (link, "APPL_DB", "LATE_TABLE", "inproc://nobody", NULL);
    assert (rc == -1 && errno == ENOENT);
    zstate_server_link_release (&link);
    assert (link == NULL);
    zstate_consumer_destroy (&slow);
    zstate_consumer_destroy (&ports);
    zstate_consumer_destroy (&routes);
    zstate_server_destroy (&server);

    zstate_batch_destroy (&batch);
    zstate_batch_destroy (&received);
    zuuid_destroy (&session);
    zsock_destroy (&dealer);
    //  @end
    printf ("OK\n");
}
