/*  =========================================================================
    zstate_writer - the DB writer: persists wire messages into Redis

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The writer actor keeps a backlog of unconfirmed operations, one entry
    per key (zstate_backlog), and drains it into Redis in pipelined
    MULTI/EXEC batches over one hiredis connection (zstate_redis).
@discuss
    The backlog coalesces a new operation on a pending key into its entry,
    which keeps its place and its age. Sending a batch takes entries from
    the backlog's head: they are in flight. A new operation on a key in
    flight starts a new pending entry, sent in a later batch, on the same
    connection, so Redis applies them in order. Up to WINDOW batches are
    in flight at once, so Redis works on one batch while we read the next
    messages. The backlog's keys are the Redis keys, TABLE<separator>KEY.

    Replies are read without blocking, from a zloop poller on the Redis
    socket; the socket is blocking with a timeout (hiredis' synchronous
    API), so writes and the connect are bounded, and we only read when poll
    says readable. A batch is confirmed by its EXEC reply; its entries are
    freed then, and only then. When the connection fails, or a batch gets
    no reply for the command timeout, every batch in flight goes back to
    the backlog, newest first, each entry merged *under* a pending entry
    for the same key if there is one (unconfirmed, then newer). A batch
    aborted by Redis never ran (MULTI), so resending it is exact; one that
    ran but whose reply was lost is applied twice, which is harmless: SET,
    HSET and DEL are idempotent.

    Accounting: every operation received is, at any time, exactly one of
    written, failed, coalesced or in the backlog; the selftest checks it.
@end
*/

#include "zstate_classes.h"
#include "zstate_backlog.h"

#define WINDOW                  3           //  batches in flight at most
#define DRAIN_MAX               64          //  messages per data reader call
#define REPLY_READS_MAX         64          //  socket reads per reply call
#define BATCH_BYTES_MAX         (8 * 1024 * 1024)
#define WATCHDOG_INTERVAL       100         //  msecs
#define STALL_LOG_INTERVAL      10000       //  msecs between "backlog full" logs

#define DEFAULT_BATCH           2000
#define DEFAULT_INTERVAL        1
#define DEFAULT_KEYS            65536
#define DEFAULT_BYTES           (64 * 1024 * 1024)
#define DEFAULT_RECONNECT_MIN   100
#define DEFAULT_RECONNECT_MAX   5000
#define DEFAULT_CONNECT_TIMEOUT 1000
#define DEFAULT_COMMAND_TIMEOUT 2000
#define DEFAULT_LINGER          5000

//  One batch in flight
typedef struct {
    zstate_backlog_entry_t **entries;   //  Entries, in the order sent
    byte *commands;             //  Redis commands sent for each (0..2)
    size_t count;               //  Entries in the batch
    size_t max;                 //  Entries allocated
    size_t command_count;       //  Commands between MULTI and EXEC
    size_t replies;             //  Replies read so far
    bool refused;               //  MULTI or a command refused when queued
    char reason [256];          //  Why, the first time
} batch_t;

//  The batches in flight, a ring, oldest at head
typedef struct {
    batch_t slot [WINDOW];
    size_t head;
    size_t count;
} window_t;

//  The settings, from SET commands
typedef struct {
    char *separator;            //  Between table and key
    size_t separator_size;      //  Its length
    int db;                     //  SELECT index
    char *password;             //  AUTH password, or NULL
    int connect_timeout;        //  msecs
    int command_timeout;        //  msecs
    size_t batch_size;          //  Operations per batch
    int batch_interval;         //  msecs a partial batch may wait
    size_t max_keys;            //  Backlog bound, keys
    size_t max_bytes;           //  Backlog bound, bytes
    int reconnect_min;          //  Backoff, msecs
    int reconnect_max;
} config_t;

//  A FLUSH whose reply is owed
typedef struct {
    bool owed;                  //  A FLUSH reply is owed
    bool draining;              //  ...and the PULL socket held more than
                                //  the bound let us read when it came
    uint64_t mark;              //  ... once every op up to here confirmed
    int timer;                  //  Its deadline, -1 when not armed
} flush_t;

//  Actor arguments, from the wrapper
typedef struct {
    zsock_t *events;            //  Actor end of the event pipe
    const char *endpoint;       //  PULL endpoint to bind
    struct _snapshot_t *snapshot;   //  Where we publish our counters
} writer_args_t;

//  The counters as of the last SNAPSHOT_INTERVAL, readable without a
//  round trip: a server's monitor must not wait while the writer is busy
//  with Redis
typedef struct _snapshot_t {
    pthread_mutex_t mutex;
    zstate_writer_stats_t stats;
} snapshot_t;

#define SNAPSHOT_INTERVAL   100     //  msecs between snapshots

typedef struct {
    zsock_t *pipe;              //  Actor command pipe
    snapshot_t *snapshot;       //  Shared with the wrapper
    zsock_t *events;            //  Event pipe, actor end
    zsock_t *data;              //  PULL socket for wire messages
    zloop_t *loop;              //  Our reactor
    zstate_msg_t *msg;          //  Decoder, reused
    zstate_batch_t *batch;      //  Operations of the message at hand
    zstate_redis_t *redis;      //  Connection, NULL before CONNECT
    zstate_backlog_t *backlog;  //  Operations not confirmed by Redis
    int state;                  //  ZSTATE_WRITER_*
    bool verbose;               //  Log activity
    bool reading;               //  Data reader registered
    bool polling;               //  Redis socket poller registered
    zmq_pollitem_t pollitem;    //  The Redis socket, for the poller
    config_t config;            //  Settings
    window_t window;            //  Batches in flight
    flush_t flush;              //  A FLUSH waiting
    int batch_timer;            //  Timer ids, -1 when not armed
    int reconnect_timer;
    int watchdog_timer;
    int backoff;                //  Next reconnect delay, msecs
    int64_t last_progress;      //  Last reply, or first send after idle
    bool ever_connected;        //  A connect succeeded once
    bool terminated;            //  $TERM received
    int64_t stall_logged;       //  When a full backlog was last logged
    byte *keybuf;               //  Scratch: the Redis key being built
    size_t keybuf_max;
    const char **argv;          //  Scratch: one Redis command
    size_t *argvlen;
    size_t argv_max;
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
s_self_new (zsock_t *pipe, writer_args_t *args)
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
    self->msg = zstate_msg_new ();
    self->batch = zstate_batch_new ();
    self->backlog = zstate_backlog_new ();
    assert (self->msg && self->batch && self->backlog);
    self->config = (config_t) {
        .separator = strdup (":"), .separator_size = 1,
        .connect_timeout = DEFAULT_CONNECT_TIMEOUT,
        .command_timeout = DEFAULT_COMMAND_TIMEOUT,
        .batch_size = DEFAULT_BATCH, .batch_interval = DEFAULT_INTERVAL,
        .max_keys = DEFAULT_KEYS, .max_bytes = DEFAULT_BYTES,
        .reconnect_min = DEFAULT_RECONNECT_MIN, .reconnect_max = DEFAULT_RECONNECT_MAX
    };
    assert (self->config.separator);
    self->backoff = self->config.reconnect_min;
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
        for (size_t slot = 0; slot < WINDOW; slot++) {
            free (self->window.slot [slot].entries);
            free (self->window.slot [slot].commands);
        }
        zstate_backlog_destroy (&self->backlog);
        zstate_redis_destroy (&self->redis);
        zstate_batch_destroy (&self->batch);
        zstate_msg_destroy (&self->msg);
        zsock_destroy (&self->data);
        zsock_destroy (&self->events);
        free (self->config.separator);
        free (self->config.password);
        free (self->keybuf);
        free (self->argv);
        free (self->argvlen);
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
//  Accept operation index of the current batch, for table: into the
//  backlog, under its Redis key

static void
s_self_accept (self_t *self, const char *table, size_t table_size, size_t index,
               int64_t now)
{
    size_t key_size;
    const char *key = zstate_batch_key (self->batch, index, &key_size);
    size_t separator_size = self->config.separator_size;
    size_t size = table_size + separator_size + key_size;
    if (size > self->keybuf_max) {
        self->keybuf_max = size * 2;
        self->keybuf = (byte *) realloc (self->keybuf, self->keybuf_max);
        assert (self->keybuf);
    }
    memcpy (self->keybuf, table, table_size);
    memcpy (self->keybuf + table_size, self->config.separator, separator_size);
    memcpy (self->keybuf + table_size + separator_size, key, key_size);
    //  The backlog has no bound of its own (we stop reading at ours), and
    //  the decoder let only valid operations through: it cannot refuse
    int rc = zstate_backlog_add_batch (self->backlog, self->keybuf, size,
                                       self->batch, index, now);
    assert (rc == 0 || rc == 1);
    self->stats.coalesced += rc;
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
    &&  zstate_backlog_full (self->backlog, self->config.max_keys, self->config.max_bytes)) {
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
    &&  s_self_depth (self) <= self->config.max_keys / 2
    &&  zstate_backlog_bytes (self->backlog) <= self->config.max_bytes / 2) {
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
    zmq_msg_t message;
    zmq_msg_init (&message);
    void *handle = zsock_resolve (self->data);
    if (zmq_msg_recv (&message, handle, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&message);
        return 0;
    }
    int rc = ZSTATE_WIRE_OK;
    if (zmq_msg_more (&message)) {
        //  A wire message is one frame: drop the whole multipart
        rc = ZSTATE_WIRE_FRAMES;
        while (zmq_msg_more (&message)
        &&     zmq_msg_recv (&message, handle, ZMQ_DONTWAIT) != -1) ;
    }
    const byte *data = (const byte *) zmq_msg_data (&message);
    size_t size = zmq_msg_size (&message);
    if (rc == ZSTATE_WIRE_OK)
        rc = zstate_msg_decode_header (self->msg, data, size);
    size_t ops_size = 0;
    const byte *ops = NULL;
    size_t count = 0;
    if (rc == ZSTATE_WIRE_OK) {
        //  Loading walks and checks every operation; no need to decode twice
        ops = zstate_msg_ops (self->msg, &ops_size);
        count = zstate_msg_op_count (self->msg);
        zstate_batch_reset (self->batch);
        size_t used = 0;
        rc = zstate_batch_load (self->batch, ops, ops_size, count, &used);
        if (rc == ZSTATE_WIRE_OK && used != ops_size)
            rc = ZSTATE_WIRE_TRAILING;
    }
    if (rc == ZSTATE_WIRE_OK) {
        const char *table = zstate_msg_table (self->msg);
        size_t table_size = strlen (table);
        int64_t now = zclock_mono ();
        for (size_t index = 0; index < count; index++)
            s_self_accept (self, table, table_size, index, now);
        self->stats.messages++;
        self->stats.ops += count;
    }
    else {
        self->stats.malformed++;
        if (self->verbose)
            zsys_debug ("zstate_writer %s: dropped a malformed message: %s",
                        s_self_name (self), zstate_msg_reason_str (rc));
    }
    zmq_msg_close (&message);
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
    if (self->backoff > self->config.reconnect_max)
        self->backoff = self->config.reconnect_max;
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
    for (size_t slot = 0; slot < WINDOW; slot++)
        self->window.slot [slot].count = 0;
    self->window.count = 0;
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

//  Append the commands for one entry; returns how many
static int
s_self_append_entry (self_t *self, zstate_backlog_entry_t *entry)
{
    int commands = 0;
    int op = zstate_backlog_entry_op (entry);
    size_t field_count = zstate_backlog_entry_field_count (entry);
    if (2 + 2 * field_count > self->argv_max) {
        self->argv_max = 2 * (2 + 2 * field_count);
        self->argv = (const char **) realloc (self->argv, self->argv_max * sizeof (char *));
        self->argvlen = (size_t *) realloc (self->argvlen, self->argv_max * sizeof (size_t));
        assert (self->argv && self->argvlen);
    }
    self->argv [1] = zstate_backlog_entry_key (entry, &self->argvlen [1]);
    if (op == ZSTATE_OP_DEL || op == ZSTATE_OP_SET) {
        //  SET = DEL + HSET, atomic inside the batch's MULTI/EXEC; a SET
        //  with no fields is a DEL (no empty hashes in Redis)
        self->argv [0] = "DEL";
        self->argvlen [0] = 3;
        int rc = zstate_redis_append (self->redis, 2, self->argv, self->argvlen);
        assert (rc == 0);
        commands++;
    }
    //  Never an HSET without fields: that would abort the whole EXEC
    if (op != ZSTATE_OP_DEL && field_count) {
        self->argv [0] = "HSET";
        self->argvlen [0] = 4;
        zstate_backlog_entry_fields (entry, self->argv + 2, self->argvlen + 2);
        int rc = zstate_redis_append (self->redis, (int) (2 + 2 * field_count),
                                      self->argv, self->argvlen);
        assert (rc == 0);
        commands++;
    }
    return commands;
}

//  Send one batch from the backlog's head. Returns 0, or -1 if the
//  connection failed (everything went back to the backlog).
static int
s_self_send_batch (self_t *self)
{
    batch_t *batch = &self->window.slot [(self->window.head + self->window.count) % WINDOW];
    size_t batch_size = self->config.batch_size;
    if (batch->max < batch_size) {
        batch->max = batch_size;
        batch->entries = (zstate_backlog_entry_t **)
            realloc (batch->entries, batch->max * sizeof (zstate_backlog_entry_t *));
        batch->commands = (byte *) realloc (batch->commands, batch->max);
        assert (batch->entries && batch->commands);
    }
    batch->count = 0;
    batch->command_count = 0;
    batch->replies = 0;
    batch->refused = false;
    batch->reason [0] = 0;
    int rc = zstate_redis_appendx (self->redis, "MULTI", NULL);
    assert (rc == 0);
    size_t bytes = 0;
    zstate_backlog_entry_t *entry;
    while (batch->count < batch_size && bytes < BATCH_BYTES_MAX
       &&  (entry = zstate_backlog_take (self->backlog))) {
        int commands = s_self_append_entry (self, entry);
        batch->entries [batch->count] = entry;
        batch->commands [batch->count++] = (byte) commands;
        batch->command_count += commands;
        bytes += zstate_backlog_entry_size (entry);
    }
    rc = zstate_redis_appendx (self->redis, "EXEC", NULL);
    assert (rc == 0);
    if (self->window.count == 0)
        self->last_progress = zclock_mono ();
    self->window.count++;
    if (self->verbose)
        zsys_debug ("zstate_writer %s: sending %zu ops in %zu commands",
                    s_self_name (self), batch->count, batch->command_count);
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
       &&  self->window.count < WINDOW) {
        bool full = zstate_backlog_pending (self->backlog) >= self->config.batch_size;
        bool due = false;
        int64_t wait = 0;
        if (!full && self->window.count == 0) {
            //  Nothing in flight: the oldest is the backlog's head
            int64_t since;
            zstate_backlog_oldest (self->backlog, NULL, &since);
            wait = self->config.batch_interval - (zclock_mono () - since);
            due = self->flush.owed || wait <= 0;
        }
        if (!full && !due) {
            if (self->window.count == 0 && self->batch_timer == -1)
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

static int
s_self_confirm (self_t *self, batch_t *batch)
{
    size_t result = 0;
    size_t failures = 0;
    for (size_t index = 0; index < batch->count; index++) {
        const char *error = NULL;
        for (int command = 0; command < batch->commands [index]; command++, result++)
            if (!error && zstate_redis_type (self->redis, (int) result) == ZSTATE_REDIS_ERROR)
                error = zstate_redis_str (self->redis, (int) result, NULL);
        if (error) {
            //  Redis refused this operation only; the others stand
            size_t key_size;
            const char *key = zstate_backlog_entry_key (batch->entries [index], &key_size);
            self->stats.failed++;
            if (failures++ == 0)
                zsys_warning ("zstate_writer %s: Redis refused the operation on '%s': %s",
                              s_self_name (self), key, error);
            s_self_event (self, "ERROR", error, key, key_size, NULL);
        }
        else
            self->stats.written++;
        zstate_backlog_confirm (self->backlog, &batch->entries [index]);
    }
    if (failures > 1)
        zsys_warning ("zstate_writer %s: Redis refused %zu operations in one batch",
                      s_self_name (self), failures);
    batch->count = 0;
    self->window.head = (self->window.head + 1) % WINDOW;
    self->window.count--;
    self->stats.batches++;
    return 0;
}

static int
s_self_reply (self_t *self)
{
    if (self->window.count == 0) {
        s_self_lost (self, "a reply nobody asked for");
        return -1;
    }
    batch_t *batch = &self->window.slot [self->window.head];
    size_t position = batch->replies++;
    int type = zstate_redis_type (self->redis, -1);
    if (position <= batch->command_count) {
        //  MULTI's OK, then one QUEUED per command
        if (type == ZSTATE_REDIS_ERROR && !batch->refused) {
            batch->refused = true;
            snprintf (batch->reason, sizeof (batch->reason), "%s",
                      zstate_redis_str (self->redis, -1, NULL));
        }
        return 0;
    }
    //  EXEC: one result per command, unless the transaction was refused
    //  (LOADING, OOM, ...): nothing ran, so all of it goes again later
    if (batch->refused
    ||  type != ZSTATE_REDIS_ARRAY
    ||  zstate_redis_elements (self->redis) != batch->command_count) {
        char reason [300];
        snprintf (reason, sizeof (reason), "batch refused: %s",
                  batch->refused? batch->reason:
                  type == ZSTATE_REDIS_ERROR? zstate_redis_str (self->redis, -1, NULL):
                  "EXEC gave no results");
        s_self_lost (self, reason);
        return -1;
    }
    return s_self_confirm (self, batch);
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
    self->backoff = self->config.reconnect_min;
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
    if (self->state == ZSTATE_WRITER_CONNECTED && self->window.count
    &&  zclock_mono () - self->last_progress > self->config.command_timeout) {
        char reason [80];
        snprintf (reason, sizeof (reason), "no reply from Redis in %d ms",
                  self->config.command_timeout);
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

//  Pop the next argument as a number; -1 if missing
static long
s_pop_number (zmsg_t *request)
{
    char *text = s_pop (request);
    long value = text? atol (text): -1;
    free (text);
    return value;
}

//  Reply to a setting with status 0, EINVAL or EBUSY
static void
s_self_setting_reply (self_t *self, const char *command, int status)
{
    zstate_reply (self->pipe, command, status,
                  status == EBUSY? "not after CONNECT":
                  status? "bad or missing argument": NULL, false);
}

//  A setting that only holds before CONNECT: EINVAL first, then EBUSY
static int
s_self_before_connect (self_t *self, bool valid)
{
    return !valid? EINVAL: self->redis? EBUSY: 0;
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
        zstate_redis_set_db (self->redis, self->config.db);
        zstate_redis_set_password (self->redis, self->config.password);
        zstate_redis_set_timeouts (self->redis, self->config.connect_timeout,
                                   self->config.command_timeout);
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

static void
s_command_set_separator (self_t *self, const char *command, zmsg_t *request)
{
    char *text = s_pop (request);
    int status = s_self_before_connect (self, text && *text && strlen (text) <= 16);
    if (status == 0) {
        free (self->config.separator);
        self->config.separator = text;
        self->config.separator_size = strlen (text);
        text = NULL;
    }
    s_self_setting_reply (self, command, status);
    free (text);
}

static void
s_command_set_password (self_t *self, const char *command, zmsg_t *request)
{
    char *text = s_pop (request);
    int status = s_self_before_connect (self, text != NULL);
    if (status == 0) {
        free (self->config.password);
        self->config.password = *text? strdup (text): NULL;
    }
    s_self_setting_reply (self, command, status);
    free (text);
}

static void
s_command_set_db (self_t *self, const char *command, zmsg_t *request)
{
    long db = s_pop_number (request);
    int status = s_self_before_connect (self, db >= 0 && db <= INT_MAX);
    if (status == 0)
        self->config.db = (int) db;
    s_self_setting_reply (self, command, status);
}

static void
s_command_set_timeouts (self_t *self, const char *command, zmsg_t *request)
{
    long connect = s_pop_number (request);
    long reply = s_pop_number (request);
    int status = s_self_before_connect (self, connect >= 1 && reply >= 1
                                        && connect <= INT_MAX && reply <= INT_MAX);
    if (status == 0) {
        self->config.connect_timeout = (int) connect;
        self->config.command_timeout = (int) reply;
    }
    s_self_setting_reply (self, command, status);
}

static void
s_command_set_batch (self_t *self, const char *command, zmsg_t *request)
{
    long ops = s_pop_number (request);
    long interval = s_pop_number (request);
    bool valid = ops >= 1 && ops <= ZSTATE_OPS_MAX && interval >= 0 && interval <= 60000;
    if (valid) {
        self->config.batch_size = (size_t) ops;
        self->config.batch_interval = (int) interval;
    }
    s_self_setting_reply (self, command, valid? 0: EINVAL);
}

static void
s_command_set_reconnect (self_t *self, const char *command, zmsg_t *request)
{
    long min = s_pop_number (request);
    long max = s_pop_number (request);
    bool valid = min >= 1 && max >= min && max <= INT_MAX;
    if (valid) {
        self->config.reconnect_min = (int) min;
        self->config.reconnect_max = (int) max;
        self->backoff = self->config.reconnect_min;
    }
    s_self_setting_reply (self, command, valid? 0: EINVAL);
}

static void
s_command_set_bound (self_t *self, const char *command, zmsg_t *request)
{
    char *first = s_pop (request);
    char *second = s_pop (request);
    unsigned long long keys = first? strtoull (first, NULL, 10): 0;
    unsigned long long bytes = second? strtoull (second, NULL, 10): 0;
    bool valid = keys >= 1 && bytes >= 1024;
    if (valid) {
        self->config.max_keys = (size_t) keys;
        self->config.max_bytes = (size_t) bytes;
    }
    s_self_setting_reply (self, command, valid? 0: EINVAL);
    if (valid)
        s_self_check_bound (self);
    free (first);
    free (second);
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
    { "SET SEPARATOR", s_command_set_separator },
    { "SET PASSWORD", s_command_set_password },
    { "SET DB", s_command_set_db },
    { "SET TIMEOUTS", s_command_set_timeouts },
    { "SET BATCH", s_command_set_batch },
    { "SET RECONNECT", s_command_set_reconnect },
    { "SET BOUND", s_command_set_bound },
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

static void
s_writer_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (writer_args_t *) args);
    int timer = zloop_timer (self->loop, SNAPSHOT_INTERVAL, 0, s_self_handle_snapshot, self);
    assert (timer != -1);
    s_self_handle_snapshot (self->loop, timer, self);
    zsock_signal (pipe, 0);
    zstate_actor_loop (self->loop);
    s_self_destroy (&self);
}


//  --------------------------------------------------------------------------
//  The wrapper

struct _zstate_writer_t {
    zstate_actor_t *actor;      //  The writer actor
    zsock_t *events;            //  Our end of the event pipe
    char *endpoint;             //  Its PULL endpoint
    int linger;                 //  msecs destroy waits for Redis
    int busy_max;               //  msecs the actor may be in one connect
                                //  plus one command, before it reads us
    snapshot_t snapshot;        //  Counters the actor publishes
};

zstate_writer_t *
zstate_writer_new (void)
{
    zstate_writer_t *self = (zstate_writer_t *) zmalloc (sizeof (zstate_writer_t));
    assert (self);
    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    self->endpoint = zsys_sprintf ("inproc://zstate-writer-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    assert (self->endpoint);
    self->linger = DEFAULT_LINGER;
    self->busy_max = DEFAULT_CONNECT_TIMEOUT + DEFAULT_COMMAND_TIMEOUT;
    pthread_mutex_init (&self->snapshot.mutex, NULL);
    zsock_t *backend;
    self->events = zstate_actor_create_pipe (&backend);
    assert (self->events);
    //  The args live on our stack: zactor_new returns after the actor's
    //  signal, by which time it owns the event socket
    writer_args_t args = { backend, self->endpoint, &self->snapshot };
    self->actor = zstate_actor_new (s_writer_actor, &args);
    return self;
}

void
zstate_writer_destroy (zstate_writer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_t *self = *self_p;
        //  The actor logs what could not be written, when it ends
        if (self->linger > 0)
            zstate_writer_flush (self, self->linger);
        zstate_actor_destroy (&self->actor);
        zsock_destroy (&self->events);
        pthread_mutex_destroy (&self->snapshot.mutex);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

//  One request/reply with the actor (zstate_actor_request: the picture's
//  first item is the command). The actor may be waiting on Redis when the
//  command comes, so the deadline allows for that.
static int
s_request (zstate_writer_t *self, int timeout, zmsg_t **rest_p, const char *picture, ...)
{
    if (timeout >= 0)
        timeout += self->busy_max;
    va_list args;
    va_start (args, picture);
    int rc = zstate_actor_vrequest (self->actor, timeout, rest_p, picture, args);
    va_end (args);
    return rc;
}

int
zstate_writer_connect (zstate_writer_t *self, const char *endpoint)
{
    assert (self);
    if (!endpoint)
        return zstate_fail (EINVAL, "CONNECT: endpoint missing");
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "CONNECT", endpoint);
}

const char *
zstate_writer_endpoint (zstate_writer_t *self)
{
    assert (self);
    return self->endpoint;
}

int
zstate_writer_set_separator (zstate_writer_t *self, const char *separator)
{
    assert (self);
    if (!separator)
        return zstate_fail (EINVAL, "SET SEPARATOR: separator missing");
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "SET SEPARATOR",
                      separator);
}

int
zstate_writer_set_db (zstate_writer_t *self, int db)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "SET DB", db);
}

int
zstate_writer_set_password (zstate_writer_t *self, const char *password)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "SET PASSWORD",
                      password? password: "");
}

int
zstate_writer_set_timeouts (zstate_writer_t *self, int connect_timeout, int command_timeout)
{
    assert (self);
    int rc = s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "sii", "SET TIMEOUTS",
                        connect_timeout, command_timeout);
    if (rc == 0)
        self->busy_max = connect_timeout + command_timeout;
    return rc;
}

int
zstate_writer_set_batch (zstate_writer_t *self, int ops, int interval)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "sii", "SET BATCH", ops, interval);
}

int
zstate_writer_set_bound (zstate_writer_t *self, size_t keys, size_t bytes)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "s88", "SET BOUND",
                      (uint64_t) keys, (uint64_t) bytes);
}

int
zstate_writer_set_reconnect (zstate_writer_t *self, int min, int max)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "sii", "SET RECONNECT", min, max);
}

void
zstate_writer_set_linger (zstate_writer_t *self, int linger)
{
    assert (self);
    self->linger = linger;
}

int
zstate_writer_flush (zstate_writer_t *self, int timeout)
{
    assert (self);
    //  The actor answers within timeout; give it time to say so
    int deadline = timeout < 0? -1: timeout + ZSTATE_ACTOR_TIMEOUT;
    return s_request (self, deadline, NULL, "si", "FLUSH", timeout);
}

int
zstate_writer_stats (zstate_writer_t *self, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (stats);
    zmsg_t *rest = NULL;
    int rc = s_request (self, ZSTATE_ACTOR_TIMEOUT, &rest, "s", "STATS");
    if (rc == 0) {
        zframe_t *frame = rest? zmsg_first (rest): NULL;
        assert (frame && zframe_size (frame) == sizeof (zstate_writer_stats_t));
        memcpy (stats, zframe_data (frame), sizeof (zstate_writer_stats_t));
    }
    zmsg_destroy (&rest);
    return rc;
}

void
zstate_writer_snapshot (zstate_writer_t *self, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->snapshot.mutex);
    *stats = self->snapshot.stats;
    pthread_mutex_unlock (&self->snapshot.mutex);
}

const char *
zstate_writer_state_name (int state)
{
    return state == ZSTATE_WRITER_IDLE? "IDLE":
           state == ZSTATE_WRITER_CONNECTED? "CONNECTED":
           state == ZSTATE_WRITER_DISCONNECTED? "DISCONNECTED": "UNKNOWN";
}

zsock_t *
zstate_writer_events (zstate_writer_t *self)
{
    assert (self);
    return self->events;
}

zactor_t *
zstate_writer_actor (zstate_writer_t *self)
{
    assert (self);
    return zstate_actor_zactor (self->actor);
}

void
zstate_writer_set_verbose (zstate_writer_t *self, bool verbose)
{
    assert (self);
    s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "VERBOSE", verbose? 1: 0);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Self test of this class: an example. The full suite (commands, semantics,
//  the bound, faults, coalescing) is zstate_writer_faults, in the selftest
//  directory.

void
zstate_writer_test (bool verbose)
{
    printf (" * zstate_writer: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A writer persists into Redis what is sent to its endpoint
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    if (verbose)
        zstate_writer_set_verbose (writer, true);
    assert (zstate_writer_set_separator (writer, "|") == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new_push (zstate_writer_endpoint (writer));
    assert (push);
    //  Operations on one key coalesce while they wait
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", "admin_status", "up", NULL);
    zstate_batch_hset (batch, "Ethernet0", "mtu", "1500", NULL);
    zstate_batch_set (batch, "Ethernet4", "mtu", "9100", NULL);
    zstate_batch_del (batch, "Ethernet4");
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 0 };
    zframe_t *frame = zstate_msg_encode (session, 1, "CONFIG_DB", "PORT", batch);
    assert (frame && zframe_send (&frame, push, 0) == 0);
    //  Flush returns once Redis confirmed all of it
    assert (zstate_writer_flush (writer, 10000) == 0);
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.ops == 4 && stats.written == 2 && stats.coalesced == 2 && stats.depth == 0);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "HGET", "PORT|Ethernet0", "mtu", NULL)
            == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (redis, -1, NULL), "1500"));
    assert (zstate_redis_command (redis, "HGET", "PORT|Ethernet0", "admin_status", NULL)
            == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (redis, -1, NULL), "up"));
    assert (zstate_redis_command (redis, "EXISTS", "PORT|Ethernet4", NULL)
            == ZSTATE_REDIS_INTEGER);
    assert (zstate_redis_integer (redis, -1) == 0);
    zstate_redis_destroy (&redis);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_redis_server_destroy (&server);
    //  @end

    printf ("OK\n");
}
#endif
