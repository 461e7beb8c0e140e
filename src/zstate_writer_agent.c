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
    The writer actor keeps a backlog of unconfirmed operations as a chain
    of generations (zstate_writer_chain), fed by zstate_writer_intake, and
    drains it into Redis in pipelined MULTI/EXEC batches
    (zstate_writer_window) over one hiredis connection (zstate_redis).
    Its commands are in zstate_writer_commands.c.
@discuss
    The open generation coalesces a new operation on a pending key into
    its entry. Sending a batch takes the whole open generation, with the
    watermarks of its messages (zstate_writer_marks): it is in flight, and
    a new operation on a key in flight starts an entry in the next
    generation, sent in a later batch, on the same connection, so Redis
    applies them in order. Up to ZSTATE_WRITER_WINDOW batches are in flight
    at once, so Redis works on one batch while we read the next messages.
    Each confirmed batch raises the marks that CONFIRMED has not sent yet
    (zstate_writer_confirmed), which go out at once or, when the receiver
    lags, from the watchdog's timer.

    Replies are read without blocking, from a zloop poller on the Redis
    socket; the socket is blocking with a timeout (hiredis' synchronous
    API), so writes and the connect are bounded, and we only read when poll
    says readable. A batch is confirmed by its EXEC reply; its entries are
    freed then, and only then. When the connection fails, or a batch gets
    no reply for the command timeout, every generation in flight and the
    open one merge into one, older under newer (unconfirmed, then newer),
    sent again as one batch. One that
    ran but whose reply was lost is applied twice, which is harmless: SET,
    HSET and DEL are idempotent. Every operation received is, at any time,
    exactly one of written, failed, coalesced or in the backlog.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_agent.h"
#include "zstate_session_msg.h"

#define DRAIN_MAX               64          //  messages per data reader call
#define REPLY_READS_MAX         64          //  socket reads per reply call
#define STALL_LOG_INTERVAL      10000       //  msecs between "backlog full" logs
#define SNAPSHOT_INTERVAL       100         //  msecs between counter snapshots
#define SEAL_BATCHES            4           //  batch sizes a generation may
                                            //  reach while connected
#define PATIENCE_MAX            64          //  command timeouts the watchdog
                                            //  may allow after timeouts
#define PROBE_INTERVAL          1000        //  msecs between instance key reads
                                            //  while connected

typedef zstate_writer_agent_t self_t;

static int s_self_handle_data (zloop_t *loop, zsock_t *reader, void *arg);
static int s_self_handle_redis (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int s_self_handle_reconnect (zloop_t *loop, int timer_id, void *arg);
static int s_self_handle_batch (zloop_t *loop, int timer_id, void *arg);
static void s_self_redis_lost (self_t *self);
static void s_self_window_dropped (void *arg, const char *what, const char *db,
                                   const char *table);


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
    self->chain = zstate_writer_chain_new ();
    self->views = zstate_writer_views_new ();
    zstate_writer_views_set_notice (self->views, s_self_window_dropped, self);
    self->intake = zstate_writer_intake_new (self->chain, self->views);
    self->window = zstate_writer_window_new ();
    self->config = zstate_writer_config_new ();
    zstate_writer_views_set_bound (self->views, self->config->window_bound);
    self->confirmed = zstate_writer_confirmed_new ();
    self->instance = zstate_writer_instance_new ();
    self->pruned = zhashx_new ();
    assert (self->chain && self->intake && self->window && self->config);
    assert (self->confirmed && self->instance && self->pruned);
    zhashx_set_destructor (self->pruned, (zhashx_destructor_fn *) zstr_free);
    self->backoff = self->config->reconnect_min;
    self->batch_timer = -1;
    self->reconnect_timer = -1;
    self->watchdog_timer = -1;
    self->patience = 1;
    self->flush.timer = -1;
    self->state = ZSTATE_WRITER_IDLE;

    self->loop = zloop_new ();
    assert (self->loop);
    //  Only $TERM ends the actor, never a signal to the host process
    zloop_set_nonstop (self->loop, true);
    zloop_reader (self->loop, self->pipe, zstate_writer_commands_handle_pipe, self);
    zloop_reader_set_tolerant (self->loop, self->pipe);
    zloop_reader (self->loop, self->data, s_self_handle_data, self);
    zloop_reader_set_tolerant (self->loop, self->data);
    self->reading = true;
    return self;
}

const char *
zstate_writer_agent_name (self_t *self)
{
    return self->redis? zstate_redis_endpoint (self->redis): "-";
}

//  Keys held, pending and in flight
size_t
zstate_writer_agent_depth (self_t *self)
{
    return zstate_writer_chain_pending (self->chain) + zstate_writer_chain_in_flight (self->chain);
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        size_t pending = zstate_writer_chain_pending (self->chain);
        size_t in_flight = zstate_writer_chain_in_flight (self->chain);
        if (pending || in_flight)
            zsys_warning ("zstate_writer %s: ending with %zu keys not written to Redis "
                          "(%zu pending, %zu unconfirmed)", zstate_writer_agent_name (self),
                          pending + in_flight, pending, in_flight);
        zloop_destroy (&self->loop);
        //  The chain owns the entries in flight too
        zstate_writer_window_destroy (&self->window);
        zstate_writer_chain_destroy (&self->chain);
        zstate_writer_confirmed_destroy (&self->confirmed);
        zstate_writer_instance_destroy (&self->instance);
        zhashx_destroy (&self->pruned);
        zstate_redis_destroy (&self->redis);
        zstate_writer_intake_destroy (&self->intake);
        zstate_writer_views_destroy (&self->views);
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
    const char *name = zstate_writer_agent_name (self);
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


//  A window ended with no sweep: the table merges instead
static void
s_self_window_dropped (void *arg, const char *what, const char *db, const char *table)
{
    self_t *self = (self_t *) arg;
    if (streq (what, "BOUND"))
        zsys_warning ("zstate_writer %s: window on %s/%s marked more than %zu keys: dropped, "
                      "nothing swept", zstate_writer_agent_name (self), db, table,
                      self->config->window_bound);
    else
    if (self->verbose)
        zsys_debug ("zstate_writer %s: window on %s/%s %s: nothing swept",
                    zstate_writer_agent_name (self), db, table, what);
    s_self_event (self, "WINDOW", what, table, strlen (table), NULL);
}


//  --------------------------------------------------------------------------
//  Backlog bound: stop reading at the bound, read again below half

static void
s_self_stall_event (self_t *self, const char *what)
{
    char keys [24], bytes [24];
    snprintf (keys, sizeof (keys), "%zu", zstate_writer_agent_depth (self));
    snprintf (bytes, sizeof (bytes), "%zu", zstate_writer_chain_bytes (self->chain));
    s_self_event (self, "STALL", what, keys, strlen (keys), bytes);
}

void
zstate_writer_agent_check_bound (self_t *self)
{
    if (self->reading
    &&  (zstate_writer_agent_depth (self) >= self->config->max_keys
    ||   zstate_writer_chain_bytes (self->chain) >= self->config->max_bytes)) {
        zloop_reader_end (self->loop, self->data);
        self->reading = false;
        self->stats.stalls++;
        //  Under steady pressure this flips often: the event and the counter
        //  tell every time, the log at most every STALL_LOG_INTERVAL
        int64_t now = zclock_mono ();
        if (!self->stall_logged || now - self->stall_logged >= STALL_LOG_INTERVAL) {
            zsys_warning ("zstate_writer %s: backlog full (%zu keys, %zu bytes), "
                          "pausing input (%" PRIu64 " times so far)", zstate_writer_agent_name (self),
                          zstate_writer_agent_depth (self), zstate_writer_chain_bytes (self->chain),
                          self->stats.stalls);
            self->stall_logged = now;
        }
        s_self_stall_event (self, "FULL");
    }
    else
    if (!self->reading
    &&  zstate_writer_agent_depth (self) <= self->config->max_keys / 2
    &&  zstate_writer_chain_bytes (self->chain) <= self->config->max_bytes / 2) {
        zloop_reader (self->loop, self->data, s_self_handle_data, self);
        zloop_reader_set_tolerant (self->loop, self->data);
        self->reading = true;
        if (self->verbose)
            zsys_debug ("zstate_writer %s: backlog below half, resuming input",
                        zstate_writer_agent_name (self));
        s_self_stall_event (self, "RESUMED");
        //  A FLUSH waiting for the rest of the PULL socket learns here when
        //  there is no rest: no message would call the reader for it
        if (self->flush.draining && !(zsock_events (self->data) & ZMQ_POLLIN)) {
            self->flush.draining = false;
            self->flush.mark = zstate_writer_chain_seq (self->chain);
        }
    }
}


//  --------------------------------------------------------------------------
//  Receive one wire message from the PULL socket. Returns 1 if one was
//  there, 0 if none.

int
zstate_writer_agent_receive (self_t *self)
{
    int rc = zstate_writer_intake_receive (self->intake, self->data,
                                           self->config->separator, &self->stats);
    if (rc == -1)
        return 0;
    //  While Redis is there, no transaction grows without end: a run of
    //  messages past SEAL_BATCHES batches waits as a generation of its own
    if (self->state == ZSTATE_WRITER_CONNECTED
    &&  zstate_writer_chain_open_size (self->chain) >= SEAL_BATCHES * self->config->batch_size)
        zstate_writer_chain_seal (self->chain);
    if (rc != ZSTATE_WIRE_OK && self->verbose)
        zsys_debug ("zstate_writer %s: dropped a malformed message: %s",
                    zstate_writer_agent_name (self), zstate_session_msg_reason_text (rc));
    zstate_writer_agent_check_bound (self);
    return 1;
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

void
zstate_writer_agent_lost (self_t *self, const char *why)
{
    char reason [256];
    snprintf (reason, sizeof (reason), "%s", why);
    if (self->polling) {
        zloop_poller_end (self->loop, &self->pollitem);
        self->polling = false;
    }
    zstate_redis_disconnect (self->redis);
    //  A sweep cut off stays in the chain, and starts again from the
    //  beginning on the next connection
    self->sweeping = NULL;
    //  The next connect checks the instance key anyway
    self->probing = false;
    self->recheck = false;
    //  Every generation in flight, and the open one, become one
    self->stats.resent += zstate_writer_chain_in_flight (self->chain);
    self->stats.coalesced += zstate_writer_chain_restore (self->chain);
    zstate_writer_window_clear (self->window);
    self->stats.disconnects++;
    if (self->state != ZSTATE_WRITER_DISCONNECTED) {
        self->state = ZSTATE_WRITER_DISCONNECTED;
        zsys_warning ("zstate_writer %s: disconnected: %s; %zu keys kept for resending",
                      zstate_writer_agent_name (self), reason, zstate_writer_chain_pending (self->chain));
        s_self_event (self, "STATE", "DISCONNECTED", reason, strlen (reason), NULL);
    }
    else
    if (self->verbose)
        zsys_debug ("zstate_writer %s: connect failed: %s", zstate_writer_agent_name (self), reason);
    s_self_event (self, "ERROR", reason, "", 0, NULL);
    s_self_arm_reconnect (self);
}


//  --------------------------------------------------------------------------
//  Sending batches

//  The instance key is read while connected too, so that a FLUSHALL or a
//  failover under a connection that stays up is seen: a GET at most
//  every PROBE_INTERVAL, in front of a batch sent when none is in flight
//  (its reply comes first), or alone when idle (from the watchdog)
static bool
s_self_probe_due (self_t *self)
{
    return self->state == ZSTATE_WRITER_CONNECTED && !self->probing && !self->recheck
        && !self->sweeping && zclock_mono () - self->last_check >= PROBE_INTERVAL;
}

static void
s_self_probe (self_t *self)
{
    if (zstate_writer_instance_probe (self->instance, self->redis) == 0) {
        self->probing = true;
        self->stats.probes++;
    }
}

//  The probe saw the token gone: with no reply owed, check as on connect
static void
s_self_recheck (self_t *self)
{
    self->recheck = false;
    self->last_check = zclock_mono ();
    int lost = zstate_writer_instance_check (self->instance, self->redis);
    if (lost == -1)
        zstate_writer_agent_lost (self, zstate_reason ());
    else
    if (lost)
        s_self_redis_lost (self);
}

//  Send the open generation as one batch. Returns 0, or -1 if the
//  connection failed (everything went back to the backlog).
static int
s_self_send_batch (self_t *self)
{
    if (zstate_writer_window_count (self->window) == 0) {
        self->last_progress = zclock_mono ();
        if (s_self_probe_due (self))
            s_self_probe (self);
    }
    zstate_writer_generation_t *generation = zstate_writer_chain_take (self->chain);
    assert (generation);
    size_t commands;
    size_t ops = zstate_writer_window_build (self->window, self->redis, generation->backlog,
                                             &commands);
    //  The watermarks go in the transaction that makes them true
    size_t extra = zstate_writer_marks_append (generation->marks, self->redis,
                                               self->config->separator, self->pruned,
                                               self->config->watermark_age);
    zstate_writer_window_end (self->window, self->redis, extra);
    if (self->verbose)
        zsys_debug ("zstate_writer %s: sending %zu ops in %zu commands, %zu for watermarks",
                    zstate_writer_agent_name (self), ops, commands, extra);
    if (zstate_redis_send (self->redis)) {
        zstate_writer_agent_lost (self, zstate_reason ());
        return -1;
    }
    return 0;
}

//  A window's sweep goes before the next generation, once every one
//  before it is confirmed
static void
s_self_start_sweep (self_t *self, zstate_writer_sweep_t *sweep)
{
    self->sweeping = sweep;
    self->last_progress = zclock_mono ();
    if (self->verbose)
        zsys_debug ("zstate_writer %s: sweeping %s, %zu keys marked",
                    zstate_writer_agent_name (self), zstate_writer_sweep_table (sweep),
                    zstate_writer_sweep_marked (sweep));
    if (zstate_writer_sweep_start (sweep, self->redis))
        zstate_writer_agent_lost (self, zstate_reason ());
}

//  Send what is due: full batches while the window has room, a partial
//  one when nothing is in flight and the oldest op waited long enough;
//  a sweep first when the next generation has one
void
zstate_writer_agent_pump (self_t *self)
{
    if (self->recheck && !self->probing && !self->sweeping
    &&  zstate_writer_window_count (self->window) == 0)
        s_self_recheck (self);
    while (self->state == ZSTATE_WRITER_CONNECTED && !self->sweeping
       &&  zstate_writer_chain_ready (self->chain)
       &&  zstate_writer_window_count (self->window) < ZSTATE_WRITER_WINDOW) {
        zstate_writer_sweep_t *sweep = zstate_writer_chain_next_sweep (self->chain);
        if (sweep) {
            if (zstate_writer_window_count (self->window) == 0)
                s_self_start_sweep (self, sweep);
            break;
        }
        //  A probe or check due waits for the batches in flight
        if ((self->recheck || s_self_probe_due (self))
        &&  zstate_writer_window_count (self->window))
            break;
        bool full = zstate_writer_chain_pending (self->chain) >= self->config->batch_size;
        bool due = false;
        int64_t wait = 0;
        size_t in_flight = zstate_writer_window_count (self->window);
        if (!full && in_flight == 0) {
            //  Nothing in flight: the oldest is the open generation's
            int64_t since;
            zstate_writer_chain_open_since (self->chain, &since);
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
    zstate_writer_agent_pump (self);
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
                      zstate_writer_agent_name (self), key, error);
    s_self_event (self, "ERROR", error, key, key_size, NULL);
}

//  A batch was confirmed: its watermarks hold, unless Redis refused them
static void
s_self_confirmed (self_t *self, const char *extra_error)
{
    zstate_writer_marks_t *unsent = zstate_writer_confirmed_unsent (self->confirmed);
    if (extra_error) {
        zsys_warning ("zstate_writer %s: Redis refused a watermark: %s",
                      zstate_writer_agent_name (self), extra_error);
        s_self_event (self, "ERROR", extra_error, "", 0, NULL);
        unsent = NULL;
    }
    zstate_writer_chain_confirm (self->chain, unsent);
    self->patience = 1;
    zstate_writer_confirmed_send (self->confirmed, &self->stats);
}

//  A reply of the sweep running
static int
s_self_sweep_reply (self_t *self)
{
    zstate_writer_sweep_t *sweep = self->sweeping;
    uint64_t swept = 0;
    int rc = zstate_writer_sweep_reply (sweep, self->redis, &swept);
    self->stats.swept += swept;
    if (rc == -1) {
        zstate_writer_agent_lost (self, zstate_reason ());
        return -1;
    }
    if (rc == 1) {
        const char *table = zstate_writer_sweep_table (sweep);
        const char *error = zstate_writer_sweep_error (sweep);
        char count [24];
        snprintf (count, sizeof (count), "%" PRIu64, zstate_writer_sweep_swept (sweep));
        if (error) {
            zsys_warning ("zstate_writer %s: %s", zstate_writer_agent_name (self), error);
            s_self_event (self, "ERROR", error, "", 0, NULL);
            self->stats.windows_dropped++;
        }
        else {
            self->stats.sweeps++;
            if (self->verbose)
                zsys_debug ("zstate_writer %s: swept %s: %s keys deleted",
                            zstate_writer_agent_name (self), table, count);
            s_self_event (self, "SWEEP", table, count, strlen (count), NULL);
        }
        self->sweeping = NULL;
        zstate_writer_chain_sweep_done (self->chain);
    }
    return 0;
}

static int
s_self_reply (self_t *self)
{
    if (self->probing) {
        self->probing = false;
        self->last_check = zclock_mono ();
        self->recheck = zstate_writer_instance_probed (self->instance, self->redis);
        return 0;
    }
    if (self->sweeping)
        return s_self_sweep_reply (self);
    uint64_t failed = self->stats.failed;
    const char *extra_error = NULL;
    int rc = zstate_writer_window_reply (self->window, self->redis, &self->stats,
                                         s_self_refused, self, &extra_error);
    if (rc == -1) {
        zstate_writer_agent_lost (self, zstate_reason ());
        return -1;
    }
    if (rc == 1)
        s_self_confirmed (self, extra_error);
    if (self->stats.failed - failed > 1)
        zsys_warning ("zstate_writer %s: Redis refused %" PRIu64 " operations in one batch",
                      zstate_writer_agent_name (self), self->stats.failed - failed);
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
            zstate_writer_agent_lost (self, zstate_reason ());
            break;
        }
        if (rc == 0)
            break;
        self->last_progress = zclock_mono ();
        while ((rc = zstate_redis_next (self->redis, false)) == 1)
            if (s_self_reply (self))
                break;
        if (rc == -1) {
            zstate_writer_agent_lost (self, zstate_reason ());
            break;
        }
    }
    zstate_writer_agent_pump (self);
    zstate_writer_agent_check_bound (self);
    zstate_writer_commands_check_flush (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Connecting

//  Redis lost what we wrote before: say so, and ask the server (through
//  the confirm endpoint) for a resync of every db we write
static void
s_self_redis_lost (self_t *self)
{
    const char *detail = zstate_writer_instance_detail (self->instance);
    const char *run_id = zstate_writer_instance_run_id (self->instance);
    self->stats.redis_lost++;
    zhashx_t *dbs = zstate_writer_intake_dbs (self->intake);
    zsys_warning ("zstate_writer %s: Redis lost its data: %s (run_id %s); asking for a "
                  "resync of %zu databases", zstate_writer_agent_name (self), detail,
                  *run_id? run_id: "unknown", zhashx_size (dbs));
    s_self_event (self, "LOST", detail, run_id, strlen (run_id), NULL);
    zstate_writer_confirmed_lost (self->confirmed, dbs);
    zstate_writer_confirmed_send (self->confirmed, &self->stats);
}

void
zstate_writer_agent_connected (self_t *self)
{
    int lost = zstate_writer_instance_check (self->instance, self->redis);
    if (lost == -1) {
        zstate_writer_agent_lost (self, zstate_reason ());
        return;
    }
    if (self->verbose)
        zsys_debug ("zstate_writer %s: %s", zstate_writer_agent_name (self),
                    zstate_writer_instance_detail (self->instance));
    self->state = ZSTATE_WRITER_CONNECTED;
    self->last_check = zclock_mono ();
    //  Each connection prunes each table's watermarks once at first
    zhashx_purge (self->pruned);
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
               zstate_writer_agent_name (self), zstate_writer_chain_pending (self->chain));
    s_self_event (self, "STATE", "CONNECTED", "", 0, NULL);
    if (lost)
        s_self_redis_lost (self);
    zstate_writer_agent_pump (self);
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
        zstate_writer_agent_connected (self);
    else
        zstate_writer_agent_lost (self, zstate_reason ());
    return 0;
}

//  Also sends what CONFIRMED could not send before
int
zstate_writer_agent_handle_watchdog (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    zstate_writer_confirmed_send (self->confirmed, &self->stats);
    //  Redis says nothing while it runs an EXEC: a large one gets time for
    //  its commands, and after a timeout the batch that goes again (the
    //  failed ones merged) gets twice the patience, so that Redis slower
    //  than the command timeout delays the writer but never stops it
    int64_t limit = (int64_t) self->config->command_timeout * self->patience
                  + (int64_t) (zstate_writer_window_outstanding (self->window) / 100);
    if (s_self_probe_due (self) && zstate_writer_window_count (self->window) == 0) {
        self->last_progress = zclock_mono ();
        s_self_probe (self);
        if (zstate_redis_send (self->redis)) {
            zstate_writer_agent_lost (self, zstate_reason ());
            return 0;
        }
    }
    bool waiting = zstate_writer_window_count (self->window) || self->sweeping
                || self->probing;
    if (self->state == ZSTATE_WRITER_CONNECTED && waiting
    &&  zclock_mono () - self->last_progress > limit) {
        char reason [80];
        snprintf (reason, sizeof (reason), "no reply from Redis in %" PRId64 " ms", limit);
        if (self->patience < PATIENCE_MAX)
            self->patience *= 2;
        zstate_writer_agent_lost (self, reason);
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
        if (!zstate_writer_agent_receive (self)) {
            //  The PULL socket is empty: a FLUSH that found it fuller than
            //  the bound let us read now knows what it waits for
            if (self->flush.draining) {
                self->flush.draining = false;
                self->flush.mark = zstate_writer_chain_seq (self->chain);
            }
            break;
        }
    zstate_writer_agent_pump (self);
    zstate_writer_commands_check_flush (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Counters

//  Current counters, with the gauges filled in
void
zstate_writer_agent_stats (self_t *self, zstate_writer_stats_t *stats)
{
    *stats = self->stats;
    stats->state = self->state;
    stats->pending = zstate_writer_chain_pending (self->chain);
    stats->in_flight = zstate_writer_chain_in_flight (self->chain);
    stats->depth = stats->pending + stats->in_flight;
    stats->bytes = zstate_writer_chain_bytes (self->chain);
    int64_t since;
    stats->oldest_age = zstate_writer_chain_oldest (self->chain, NULL, &since)?
                        zclock_mono () - since: 0;
}

static int
s_self_handle_snapshot (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    zstate_writer_stats_t stats;
    zstate_writer_agent_stats (self, &stats);
    pthread_mutex_lock (&self->snapshot->mutex);
    self->snapshot->stats = stats;
    pthread_mutex_unlock (&self->snapshot->mutex);
    return 0;
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
