/*  =========================================================================
    zstate_writer_agent - the DB writer's actor: persists wire messages
    into Redis

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The writer actor keeps a backlog of unconfirmed operations, one entry
    per key (zstate_backlog), fed by zstate_writer_intake, and drains it
    into Redis in pipelined MULTI/EXEC batches (zstate_writer_window) over
    one hiredis connection (zstate_redis).
@discuss
    The backlog coalesces a new operation on a pending key into its entry,
    which keeps its place and its age. Sending a batch takes entries from
    the backlog's head: they are in flight. A new operation on a key in
    flight starts a new pending entry, sent in a later batch, on the same
    connection, so Redis applies them in order. Up to ZSTATE_WRITER_WINDOW
    batches are in flight at once, so Redis works on one batch while we
    read the next messages.

    Replies are read without blocking, from a zloop poller on the Redis
    socket; the socket is blocking with a timeout (hiredis' synchronous
    API), so writes and the connect are bounded, and we only read when poll
    says readable. A batch is confirmed by its EXEC reply; its entries are
    freed then, and only then. When the connection fails, or a batch gets
    no reply for the command timeout, every batch in flight goes back to
    the backlog, newest first, each entry merged *under* a pending entry
    for the same key if there is one (unconfirmed, then newer). One that
    ran but whose reply was lost is applied twice, which is harmless: SET,
    HSET and DEL are idempotent. Every operation received is, at any time,
    exactly one of written, failed, coalesced or in the backlog.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_agent.h"
#include "zstate_writer_config.h"
#include "zstate_writer_intake.h"
#include "zstate_writer_window.h"

#define DRAIN_MAX               64          //  messages per data reader call
#define REPLY_READS_MAX         64          //  socket reads per reply call
#define WATCHDOG_INTERVAL       100         //  msecs
#define STALL_LOG_INTERVAL      10000       //  msecs between "backlog full" logs
#define SNAPSHOT_INTERVAL       100         //  msecs between counter snapshots

//  A FLUSH whose reply is owed
typedef struct {
    bool owed;                  //  A FLUSH reply is owed
    bool draining;              //  ...and the PULL socket held more than
                                //  the bound let us read when it came
    uint64_t mark;              //  ... once every op up to here confirmed
    int timer;                  //  Its deadline, -1 when not armed
} flush_t;

typedef struct {
    zsock_t *pipe;              //  Actor command pipe
    zstate_writer_snapshot_t *snapshot;     //  Shared with the wrapper
    zsock_t *events;            //  Event pipe, actor end
    zsock_t *data;              //  PULL socket for wire messages
    zloop_t *loop;              //  Our reactor
    zstate_writer_intake_t *intake;     //  Wire messages into the backlog
    zstate_redis_t *redis;      //  Connection, NULL before CONNECT
    zstate_backlog_t *backlog;  //  Operations not confirmed by Redis
    int state;                  //  ZSTATE_WRITER_*
    bool verbose;               //  Log activity
    bool reading;               //  Data reader registered
    bool polling;               //  Redis socket poller registered
    zmq_pollitem_t pollitem;    //  The Redis socket, for the poller
    zstate_writer_config_t *config;     //  Settings
    zstate_writer_window_t *window;     //  Batches in flight
    flush_t flush;              //  A FLUSH waiting
    int batch_timer;            //  Timer ids, -1 when not armed
    int reconnect_timer;
    int watchdog_timer;
    int backoff;                //  Next reconnect delay, msecs
    int64_t last_progress;      //  Last reply, or first send after idle
    bool ever_connected;        //  A connect succeeded once
    bool terminated;            //  $TERM received
    int64_t stall_logged;       //  When a full backlog was last logged
    zstate_writer_stats_t stats;    //  Counters
} self_t;

static int s_self_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg);
static int s_self_handle_data (zloop_t *loop, zsock_t *reader, void *arg);
static int s_self_handle_redis (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int s_self_handle_reconnect (zloop_t *loop, int timer_id, void *arg);
static int s_self_handle_batch (zloop_t *loop, int timer_id, void *arg);
static int s_self_handle_watchdog (zloop_t *loop, int timer_id, void *arg);
static int s_self_handle_flush (zloop_t *loop, int timer_id, void *arg);


//  --------------------------------------------------------------------------
//  Create and destroy the actor state. Nothing here can fail but memory.

static self_t *
s_self_new (zsock_t *pipe, zstate_writer_agent_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->snapshot = args->snapshot;
    self->events = args->events;
    //  Events never block the actor: dropped and counted when unread
    zsock_set_sndtimeo (self->events, 0);
    self->data = zsock_new (ZMQ_PULL);
    assert (self->data);
    //  A unique inproc name cannot be in use; bind fails only without memory
    //  Little buffering before us: the backlog bound is what holds data
    zsock_set_rcvhwm (self->data, 100);
    int rc = zsock_bind (self->data, "%s", args->endpoint);
    assert (rc == 0);
    self->backlog = zstate_backlog_new ();
    self->intake = zstate_writer_intake_new (self->backlog);
    self->window = zstate_writer_window_new (self->backlog);
    self->config = zstate_writer_config_new ();
    assert (self->backlog && self->intake && self->window && self->config);
    self->backoff = self->config->reconnect_min;
    self->batch_timer = -1;
    self->reconnect_timer = -1;
    self->watchdog_timer = -1;
    self->flush.timer = -1;
    self->state = ZSTATE_WRITER_IDLE;

    self->loop = zloop_new ();
    assert (self->loop);
    //  Only $TERM ends the actor, never a signal to the host process
    zloop_set_nonstop (self->loop, true);
    zloop_reader (self->loop, self->pipe, s_self_handle_pipe, self);
    zloop_reader_set_tolerant (self->loop, self->pipe);
    zloop_reader (self->loop, self->data, s_self_handle_data, self);
    zloop_reader_set_tolerant (self->loop, self->data);
    self->reading = true;
    return self;
}

static const char *
s_self_name (self_t *self)
{
    return self->redis? zstate_redis_endpoint (self->redis): "-";
}

//  Keys held, pending and in flight
static size_t
s_self_depth (self_t *self)
{
    return zstate_backlog_pending (self->backlog) + zstate_backlog_in_flight (self->backlog);
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        size_t pending = zstate_backlog_pending (self->backlog);
        size_t in_flight = zstate_backlog_in_flight (self->backlog);
        if (pending || in_flight)
            zsys_warning ("zstate_writer %s: ending with %zu keys not written to Redis "
                          "(%zu pending, %zu unconfirmed)", s_self_name (self),
                          pending + in_flight, pending, in_flight);
        zloop_destroy (&self->loop);
        //  The backlog owns the entries in flight too
        zstate_writer_window_destroy (&self->window);
        zstate_backlog_destroy (&self->backlog);
        zstate_redis_destroy (&self->redis);
        zstate_writer_intake_destroy (&self->intake);
        zsock_destroy (&self->data);
        zsock_destroy (&self->events);
        zstate_writer_config_destroy (&self->config);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Events: [type][redis endpoint][...], never blocking

static void
s_self_event (self_t *self, const char *type, const char *first,
              const void *second, size_t second_size, const char *third)
{
    void *handle = zsock_resolve (self->events);
    const char *name = s_self_name (self);
    //  A multipart message is queued whole or not at all: only the first
    //  part can hit the high-water mark
    if (zmq_send (handle, type, strlen (type), ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        self->stats.events_dropped++;
        return;
    }
    zmq_send (handle, name, strlen (name), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (handle, first, strlen (first), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (handle, second, second_size, third? ZMQ_SNDMORE | ZMQ_DONTWAIT: ZMQ_DONTWAIT);
    if (third)
        zmq_send (handle, third, strlen (third), ZMQ_DONTWAIT);
}


//  --------------------------------------------------------------------------
//  Backlog bound: stop reading at the bound, read again below half

static void
s_self_stall_event (self_t *self, const char *what)
{
    char keys [24], bytes [24];
    snprintf (keys, sizeof (keys), "%zu", s_self_depth (self));
    snprintf (bytes, sizeof (bytes), "%zu", zstate_backlog_bytes (self->backlog));
    s_self_event (self, "STALL", what, keys, strlen (keys), bytes);
}

static void
s_self_check_bound (self_t *self)
{
    if (self->reading
    &&  zstate_backlog_full (self->backlog, self->config->max_keys, self->config->max_bytes)) {
        zloop_reader_end (self->loop, self->data);
        self->reading = false;
        self->stats.stalls++;
        //  Under steady pressure this flips often: the event and the counter
        //  tell every time, the log at most every STALL_LOG_INTERVAL
        int64_t now = zclock_mono ();
        if (!self->stall_logged || now - self->stall_logged >= STALL_LOG_INTERVAL) {
            zsys_warning ("zstate_writer %s: backlog full (%zu keys, %zu bytes), "
                          "pausing input (%" PRIu64 " times so far)", s_self_name (self),
                          s_self_depth (self), zstate_backlog_bytes (self->backlog),
                          self->stats.stalls);
            self->stall_logged = now;
        }
        s_self_stall_event (self, "FULL");
    }
    else
    if (!self->reading
    &&  s_self_depth (self) <= self->config->max_keys / 2
    &&  zstate_backlog_bytes (self->backlog) <= self->config->max_bytes / 2) {
        zloop_reader (self->loop, self->data, s_self_handle_data, self);
        zloop_reader_set_tolerant (self->loop, self->data);
        self->reading = true;
        if (self->verbose)
            zsys_debug ("zstate_writer %s: backlog below half, resuming input",
                        s_self_name (self));
        s_self_stall_event (self, "RESUMED");
        //  A FLUSH waiting for the rest of the PULL socket learns here when
        //  there is no rest: no message would call the reader for it
        if (self->flush.draining && !(zsock_events (self->data) & ZMQ_POLLIN)) {
            self->flush.draining = false;
            self->flush.mark = zstate_backlog_seq (self->backlog);
        }
    }
}


//  --------------------------------------------------------------------------
//  Receive one wire message from the PULL socket. Returns 1 if one was
//  there, 0 if none.

static int
s_self_receive (self_t *self)
{
    int rc = zstate_writer_intake_receive (self->intake, self->data,
                                           self->config->separator, &self->stats);
    if (rc == -1)
        return 0;
    if (rc != ZSTATE_WIRE_OK && self->verbose)
        zsys_debug ("zstate_writer %s: dropped a malformed message: %s",
                    s_self_name (self), zstate_msg_reason_str (rc));
    s_self_check_bound (self);
    return 1;
}


//  --------------------------------------------------------------------------
//  A FLUSH is owed: reply when done, or when the deadline passes

static bool
s_self_flushed (self_t *self)
{
    uint64_t seq;
    return !self->flush.draining
        && (!zstate_backlog_oldest (self->backlog, &seq, NULL) || seq > self->flush.mark);
}

static void
s_self_flush_end (self_t *self, int status, const char *reason)
{
    zstate_reply (self->pipe, "FLUSH", status, reason, false);
    self->flush.owed = false;
    self->flush.draining = false;
    if (self->flush.timer != -1) {
        zloop_timer_end (self->loop, self->flush.timer);
        self->flush.timer = -1;
    }
    //  Commands that came meanwhile are read again, in order
    zloop_reader (self->loop, self->pipe, s_self_handle_pipe, self);
    zloop_reader_set_tolerant (self->loop, self->pipe);
}

static void
s_self_check_flush (self_t *self)
{
    if (self->flush.owed && s_self_flushed (self))
        s_self_flush_end (self, 0, NULL);
}

static int
s_self_handle_flush (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    self->flush.timer = -1;
    if (self->flush.owed) {
        char reason [160];
        snprintf (reason, sizeof (reason),
                  "flush: %zu keys not confirmed by Redis in time (%s)",
                  s_self_depth (self), zstate_writer_state_name (self->state));
        s_self_flush_end (self, ETIMEDOUT, reason);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Connection lost or refused: keep everything, reconnect later

static void
s_self_arm_reconnect (self_t *self)
{
    if (self->reconnect_timer != -1)
        return;
    //  Jitter (75% to 125%) keeps many writers from reconnecting in step
    int delay = self->backoff * (75 + randof (51)) / 100;
    if (delay < 1)
        delay = 1;
    self->reconnect_timer = zloop_timer (self->loop, delay, 1, s_self_handle_reconnect, self);
    self->backoff *= 2;
    if (self->backoff > self->config->reconnect_max)
        self->backoff = self->config->reconnect_max;
}

static void
s_self_lost (self_t *self, const char *why)
{
    char reason [256];
    snprintf (reason, sizeof (reason), "%s", why);
    if (self->polling) {
        zloop_poller_end (self->loop, &self->pollitem);
        self->polling = false;
    }
    zstate_redis_disconnect (self->redis);
    //  Every batch in flight back to the backlog's head, newest first, each
    //  from its end: the oldest operations end up first, in their order
    self->stats.resent += zstate_backlog_in_flight (self->backlog);
    self->stats.coalesced += zstate_backlog_restore_all (self->backlog);
    zstate_writer_window_clear (self->window);
    self->stats.disconnects++;
    if (self->state != ZSTATE_WRITER_DISCONNECTED) {
        self->state = ZSTATE_WRITER_DISCONNECTED;
        zsys_warning ("zstate_writer %s: disconnected: %s; %zu keys kept for resending",
                      s_self_name (self), reason, zstate_backlog_pending (self->backlog));
        s_self_event (self, "STATE", "DISCONNECTED", reason, strlen (reason), NULL);
    }
    else
    if (self->verbose)
        zsys_debug ("zstate_writer %s: connect failed: %s", s_self_name (self), reason);
    s_self_event (self, "ERROR", reason, "", 0, NULL);
    s_self_arm_reconnect (self);
}


//  --------------------------------------------------------------------------
//  Sending batches

//  Send one batch from the backlog's head. Returns 0, or -1 if the
//  connection failed (everything went back to the backlog).
static int
s_self_send_batch (self_t *self)
{
    if (zstate_writer_window_count (self->window) == 0)
        self->last_progress = zclock_mono ();
    size_t commands;
    size_t ops = zstate_writer_window_build (self->window, self->redis,
                                             self->config->batch_size, &commands);
    if (self->verbose)
        zsys_debug ("zstate_writer %s: sending %zu ops in %zu commands",
                    s_self_name (self), ops, commands);
    if (zstate_redis_send (self->redis)) {
        s_self_lost (self, zstate_reason ());
        return -1;
    }
    return 0;
}

//  Send what is due: full batches while the window has room, a partial
//  one when nothing is in flight and the oldest op waited long enough
static void
s_self_pump (self_t *self)
{
    while (self->state == ZSTATE_WRITER_CONNECTED && zstate_backlog_pending (self->backlog)
       &&  zstate_writer_window_count (self->window) < ZSTATE_WRITER_WINDOW) {
        bool full = zstate_backlog_pending (self->backlog) >= self->config->batch_size;
        bool due = false;
        int64_t wait = 0;
        size_t in_flight = zstate_writer_window_count (self->window);
        if (!full && in_flight == 0) {
            //  Nothing in flight: the oldest is the backlog's head
            int64_t since;
            zstate_backlog_oldest (self->backlog, NULL, &since);
            wait = self->config->batch_interval - (zclock_mono () - since);
            due = self->flush.owed || wait <= 0;
        }
        if (!full && !due) {
            if (in_flight == 0 && self->batch_timer == -1)
                self->batch_timer = zloop_timer (self->loop, (size_t) wait, 1,
                                                 s_self_handle_batch, self);
            break;
        }
        if (s_self_send_batch (self))
            break;
    }
}

static int
s_self_handle_batch (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    self->batch_timer = -1;
    s_self_pump (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Replies. Returns 0, or -1 if the connection was dropped.

//  An operation Redis refused: the others in its batch stand
static void
s_self_refused (void *arg, const char *key, size_t key_size, const char *error,
                bool first)
{
    self_t *self = (self_t *) arg;
    if (first)
        zsys_warning ("zstate_writer %s: Redis refused the operation on '%s': %s",
                      s_self_name (self), key, error);
    s_self_event (self, "ERROR", error, key, key_size, NULL);
}

static int
s_self_reply (self_t *self)
{
    uint64_t failed = self->stats.failed;
    int rc = zstate_writer_window_reply (self->window, self->redis, &self->stats,
                                         s_self_refused, self);
    if (rc == -1) {
        s_self_lost (self, zstate_reason ());
        return -1;
    }
    if (self->stats.failed - failed > 1)
        zsys_warning ("zstate_writer %s: Redis refused %" PRIu64 " operations in one batch",
                      s_self_name (self), self->stats.failed - failed);
    return 0;
}

static int
s_self_handle_redis (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    self_t *self = (self_t *) arg;
    for (int reads = 0; reads < REPLY_READS_MAX && self->polling; reads++) {
        int rc = zstate_redis_receive (self->redis);
        if (rc == -1) {
            s_self_lost (self, zstate_reason ());
            break;
        }
        if (rc == 0)
            break;
        self->last_progress = zclock_mono ();
        while ((rc = zstate_redis_next (self->redis, false)) == 1)
            if (s_self_reply (self))
                break;
        if (rc == -1) {
            s_self_lost (self, zstate_reason ());
            break;
        }
    }
    s_self_pump (self);
    s_self_check_bound (self);
    s_self_check_flush (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Connecting

static void
s_self_connected (self_t *self)
{
    self->state = ZSTATE_WRITER_CONNECTED;
    self->pollitem.socket = NULL;
    self->pollitem.fd = zstate_redis_fd (self->redis);
    self->pollitem.events = ZMQ_POLLIN;
    self->pollitem.revents = 0;
    zloop_poller (self->loop, &self->pollitem, s_self_handle_redis, self);
    zloop_poller_set_tolerant (self->loop, &self->pollitem);
    self->polling = true;
    if (self->ever_connected)
        self->stats.reconnects++;
    self->ever_connected = true;
    self->backoff = self->config->reconnect_min;
    zsys_info ("zstate_writer %s: connected; %zu keys to write",
               s_self_name (self), zstate_backlog_pending (self->backlog));
    s_self_event (self, "STATE", "CONNECTED", "", 0, NULL);
    s_self_pump (self);
}

static int
s_self_handle_reconnect (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    self->reconnect_timer = -1;
    if (self->state != ZSTATE_WRITER_DISCONNECTED)
        return 0;
    if (zstate_redis_connect (self->redis) == 0)
        s_self_connected (self);
    else
        s_self_lost (self, zstate_reason ());
    return 0;
}

static int
s_self_handle_watchdog (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    if (self->state == ZSTATE_WRITER_CONNECTED && zstate_writer_window_count (self->window)
    &&  zclock_mono () - self->last_progress > self->config->command_timeout) {
        char reason [80];
        snprintf (reason, sizeof (reason), "no reply from Redis in %d ms",
                  self->config->command_timeout);
        s_self_lost (self, reason);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  The data reader

static int
s_self_handle_data (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    self_t *self = (self_t *) arg;
    for (int count = 0; count < DRAIN_MAX && self->reading; count++)
        if (!s_self_receive (self)) {
            //  The PULL socket is empty: a FLUSH that found it fuller than
            //  the bound let us read now knows what it waits for
            if (self->flush.draining) {
                self->flush.draining = false;
                self->flush.mark = zstate_backlog_seq (self->backlog);
            }
            break;
        }
    s_self_pump (self);
    s_self_check_flush (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Commands, one handler each; each sends the command's one reply

//  Pop the next argument frame as a string; NULL if missing
static char *
s_pop (zmsg_t *request)
{
    return zmsg_size (request)? zmsg_popstr (request): NULL;
}

static void
s_command_connect (self_t *self, const char *command, zmsg_t *request)
{
    char *endpoint = s_pop (request);
    if (!endpoint)
        zstate_reply (self->pipe, command, EINVAL, "CONNECT: endpoint missing", false);
    else
    if (self->redis)
        zstate_reply (self->pipe, command, EBUSY, "CONNECT was already issued", false);
    else
    if (!(self->redis = zstate_redis_new (endpoint)))
        zstate_reply (self->pipe, command, errno, zstate_reason (), false);
    else {
        zstate_redis_set_db (self->redis, self->config->db);
        zstate_redis_set_password (self->redis, self->config->password);
        zstate_redis_set_timeouts (self->redis, self->config->connect_timeout,
                                   self->config->command_timeout);
        self->watchdog_timer = zloop_timer (self->loop, WATCHDOG_INTERVAL, 0,
                                            s_self_handle_watchdog, self);
        if (zstate_redis_connect (self->redis) == 0) {
            zstate_reply (self->pipe, command, 0, NULL, false);
            s_self_connected (self);
        }
        else {
            int error = errno;
            char reason [256];
            snprintf (reason, sizeof (reason), "%s", zstate_reason ());
            zstate_reply (self->pipe, command, error, reason, false);
            s_self_lost (self, reason);
        }
    }
    free (endpoint);
}

//  The SET commands: the settings take the arguments, we act on them
static void
s_command_set (self_t *self, const char *command, zmsg_t *request)
{
    int status = zstate_writer_config_set (self->config, command, request,
                                           self->redis != NULL);
    assert (status != -1);      //  s_commands lists only what it takes
    zstate_reply (self->pipe, command, status,
                  status == EBUSY? "not after CONNECT":
                  status? "bad or missing argument": NULL, false);
    if (status == 0 && streq (command, "SET RECONNECT"))
        self->backoff = self->config->reconnect_min;
    if (status == 0 && streq (command, "SET BOUND"))
        s_self_check_bound (self);
}

static void
s_command_flush (self_t *self, const char *command, zmsg_t *request)
{
    char *text = s_pop (request);
    if (!text) {
        zstate_reply (self->pipe, command, EINVAL, "FLUSH: timeout missing", false);
        return;
    }
    int timeout = atoi (text);
    free (text);
    //  What sits on the PULL socket now counts as accepted. When the bound
    //  stops us first, the rest is read as the backlog drains, and the
    //  flush waits for it too.
    while (self->reading && s_self_receive (self)) ;
    self->flush.draining = !self->reading;
    self->flush.mark = zstate_backlog_seq (self->backlog);
    if (s_self_flushed (self))
        zstate_reply (self->pipe, command, 0, NULL, false);
    else
    if (self->state == ZSTATE_WRITER_IDLE)
        zstate_reply (self->pipe, command, ENOTCONN, "flush: not connected to Redis", false);
    else
    if (timeout <= 0) {
        s_self_pump (self);
        zstate_reply (self->pipe, command, ETIMEDOUT, "flush: not confirmed yet", false);
    }
    else {
        //  The reply waits; so do other commands, to keep replies in order
        self->flush.owed = true;
        zloop_reader_end (self->loop, self->pipe);
        self->flush.timer = zloop_timer (self->loop, (size_t) timeout, 1,
                                         s_self_handle_flush, self);
        s_self_pump (self);
    }
    if (!self->flush.owed)
        self->flush.draining = false;
}

//  Current counters, with the gauges filled in
static void
s_self_stats (self_t *self, zstate_writer_stats_t *stats)
{
    *stats = self->stats;
    stats->state = self->state;
    stats->pending = zstate_backlog_pending (self->backlog);
    stats->in_flight = zstate_backlog_in_flight (self->backlog);
    stats->depth = stats->pending + stats->in_flight;
    stats->bytes = zstate_backlog_bytes (self->backlog);
    int64_t since;
    stats->oldest_age = zstate_backlog_oldest (self->backlog, NULL, &since)?
                        zclock_mono () - since: 0;
}

static void
s_command_stats (self_t *self, const char *command, zmsg_t *request)
{
    (void) request;
    zstate_writer_stats_t stats;
    s_self_stats (self, &stats);
    zstate_reply (self->pipe, command, 0, NULL, true);
    zsock_send (self->pipe, "b", &stats, sizeof (stats));
}

static void
s_command_verbose (self_t *self, const char *command, zmsg_t *request)
{
    char *flag = s_pop (request);
    self->verbose = flag? atoi (flag) != 0: true;
    free (flag);
    zstate_reply (self->pipe, command, 0, NULL, false);
}

static int
s_self_handle_snapshot (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    zstate_writer_stats_t stats;
    s_self_stats (self, &stats);
    pthread_mutex_lock (&self->snapshot->mutex);
    self->snapshot->stats = stats;
    pthread_mutex_unlock (&self->snapshot->mutex);
    return 0;
}

//  The commands the pipe takes, besides $TERM
typedef void (command_fn) (self_t *self, const char *command, zmsg_t *request);
static const struct {
    const char *name;
    command_fn *handler;
} s_commands [] = {
    { "CONNECT", s_command_connect },
    { "SET SEPARATOR", s_command_set },
    { "SET PASSWORD", s_command_set },
    { "SET DB", s_command_set },
    { "SET TIMEOUTS", s_command_set },
    { "SET BATCH", s_command_set },
    { "SET RECONNECT", s_command_set },
    { "SET BOUND", s_command_set },
    { "FLUSH", s_command_flush },
    { "STATS", s_command_stats },
    { "VERBOSE", s_command_verbose },
};

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    self_t *self = (self_t *) arg;
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request)               //  Only $TERM ends us; ETERM leaves no choice
        return zmq_errno () == ETERM? -1: 0;
    char *command = zmsg_popstr (request);
    if (!command) {
        zmsg_destroy (&request);
        return 0;
    }
    if (self->verbose)
        zsys_debug ("zstate_writer %s: command %s", s_self_name (self), command);
    int rc = 0;
    size_t index = 0;
    size_t count = sizeof (s_commands) / sizeof (s_commands [0]);
    while (index < count && !streq (command, s_commands [index].name))
        index++;
    if (streq (command, "$TERM")) {
        self->terminated = true;
        rc = -1;
    }
    else
    if (index < count)
        s_commands [index].handler (self, command, request);
    else {
        zsys_error ("zstate_writer %s: unknown command '%s'", s_self_name (self), command);
        zstate_reply (self->pipe, command, EINVAL, "unknown command", false);
    }
    free (command);
    zmsg_destroy (&request);
    return rc;
}

//  --------------------------------------------------------------------------
//  The actor

void
zstate_writer_agent (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zstate_writer_agent_args_t *) args);
    int timer = zloop_timer (self->loop, SNAPSHOT_INTERVAL, 0, s_self_handle_snapshot, self);
    assert (timer != -1);
    s_self_handle_snapshot (self->loop, timer, self);
    zsock_signal (pipe, 0);
    zstate_actor_loop (self->loop);
    s_self_destroy (&self);
}
