/*  =========================================================================
    zstate_consumer - a consumer table: queues what the server routes to
    one (db, table) and hands it to the application in batches

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The consumer actor binds a PULL socket at a private inproc endpoint,
    which the wrapper registers with the server. It reads whole wire
    messages, forwards each to the writer when asked to, and appends it to
    a queue shared with the application thread, under a mutex. pops copies
    operations out of the queued messages into the caller's batch; the
    messages themselves are never copied.
@discuss
    Waking the application: when the queue goes from empty to non-empty the
    actor writes an eventfd (zstate_consumer_fd) and sends one token on a
    PAIR pipe (zstate_consumer_socket). When pops empties the queue it
    reads both back. Both changes happen under the queue's mutex, so the fd
    and the socket are readable exactly while operations are pending.

    Bounds: when the queue passes its bound the actor stops reading its
    PULL socket; the inproc pipe fills and the server stops too. When pops
    drains the queue to half the bound it writes a second eventfd, which
    the actor polls, and the actor reads again. A full forward socket stops
    reading the same way, until the writer catches up: nothing is dropped.
@end
*/

#include "zstate_classes.h"
#include <sys/eventfd.h>
#include <unistd.h>
#include <poll.h>

#define DRAIN_MAX           100     //  messages per reader call, for fairness
#define PULL_RCVHWM         32      //  messages waiting in our PULL socket
#define FORWARD_SNDHWM      32      //  messages waiting for the writer
#define QUEUE_OPS_DEFAULT   262144
#define QUEUE_BYTES_DEFAULT (64 * 1024 * 1024)
#define POPS_DEFAULT        128     //  pops with max 0

//  One received wire message, waiting in the queue for pops
typedef struct _entry_t entry_t;
struct _entry_t {
    zmq_msg_t msg;              //  the message as it arrived
    size_t offset;              //  byte offset of the next operation
    size_t end;                 //  byte offset just past the last operation
    size_t ops_left;            //  operations not popped yet
    entry_t *next;              //  next message, in arrival order
};

struct _zstate_consumer_t {
    zactor_t *actor;            //  receives and queues messages
    zstate_server_link_t *link; //  the server we register with
    char *db;                   //  the (db, table) we serve
    char *table;
    char endpoint [64];         //  where the actor's PULL is bound
    bool registered;            //  the server routes to us
    zsock_t *token;             //  app end of the wake pipe
    zsock_t *token_backend;     //  actor end, until the actor takes it
    int ready_fd;               //  eventfd, readable while ops are pending
    int room_fd;                //  eventfd, tells the actor to read again
    //  Shared with the actor, under mutex
    pthread_mutex_t mutex;
    entry_t *head;              //  oldest message; pops reads here
    entry_t *tail;              //  newest message; the actor appends here
    size_t max_ops;             //  queue bounds
    size_t max_bytes;
    bool paused;                //  the actor stopped reading: queue full
    zstate_consumer_stats_t stats;  //  counters, queued_ops and _bytes too
    zstate_writer_t *writer;    //  where we forward, for the server's monitor
};

//  True when the queue may grow again, for a paused actor. Half the bound,
//  so that a full queue does not toggle reading on every pops.
static bool
s_queue_has_room (zstate_consumer_t *self)
{
    return self->stats.queued_ops <= self->max_ops / 2
        && self->stats.queued_bytes <= self->max_bytes / 2;
}

static bool
s_queue_full (zstate_consumer_t *self)
{
    return self->stats.queued_ops >= self->max_ops
        || self->stats.queued_bytes >= self->max_bytes;
}

//  Write an eventfd; it stays readable until it is read
static void
s_eventfd_set (int fd)
{
    uint64_t one = 1;
    if (write (fd, &one, sizeof (one)) != sizeof (one))
        zsys_error ("zstate_consumer: cannot write eventfd: %s", strerror (errno));
}

//  Read an eventfd back to not readable; it is non-blocking
static void
s_eventfd_clear (int fd)
{
    uint64_t count;
    if (read (fd, &count, sizeof (count)) == -1 && errno != EAGAIN)
        zsys_error ("zstate_consumer: cannot read eventfd: %s", strerror (errno));
}


//  --------------------------------------------------------------------------
//  The actor

typedef struct {
    zsock_t *pipe;              //  command pipe from the wrapper
    zloop_t *loop;              //  our reactor
    zstate_consumer_t *owner;   //  the wrapper: queue, mutex, wake fds
    zsock_t *token;             //  actor end of the wake pipe
    zsock_t *pull;              //  messages from the server, once bound
    bool reading;               //  the PULL reader is registered
    zsock_t *forward;           //  PUSH to the writer, or NULL
    zmq_msg_t parked;           //  a message the writer could not take yet
    bool has_parked;            //  parked holds a message
    void *waiting_on;           //  socket we poll for POLLOUT, or NULL
    zstate_msg_t *decoder;      //  reads each message's envelope
    bool verbose;               //  log activity
} self_t;

static int
    s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg);
static int
    s_pull_readable (zloop_t *loop, zsock_t *pull, void *arg);
static int
    s_room_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int
    s_forward_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static self_t *
s_self_new (zsock_t *pipe, zstate_consumer_t *owner)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->owner = owner;
    //  The wrapper made the pipe and hands its end over now, once
    self->token = owner->token_backend;
    owner->token_backend = NULL;
    assert (self->token);
    self->loop = zloop_new ();
    assert (self->loop);
    zloop_set_nonstop (self->loop, true);
    int rc = zloop_reader (self->loop, pipe, s_self_handle_pipe, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, pipe);
    zmq_pollitem_t item = { NULL, owner->room_fd, ZMQ_POLLIN, 0 };
    rc = zloop_poller (self->loop, &item, s_room_ready, self);
    assert (rc == 0);
    zloop_poller_set_tolerant (self->loop, &item);
    self->decoder = zstate_msg_new ();
    zmq_msg_init (&self->parked);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        zmq_msg_close (&self->parked);
        zstate_msg_destroy (&self->decoder);
        zloop_destroy (&self->loop);
        zsock_destroy (&self->pull);
        zsock_destroy (&self->forward);
        zsock_destroy (&self->token);
        free (self);
        *self_p = NULL;
    }
}

//  Read the PULL socket exactly when it is bound, the queue has room and no
//  message waits for the writer
static void
s_reading_update (self_t *self)
{
    pthread_mutex_lock (&self->owner->mutex);
    bool paused = self->owner->paused;
    pthread_mutex_unlock (&self->owner->mutex);
    bool wanted = self->pull && !paused && !self->has_parked;
    if (wanted && !self->reading) {
        int rc = zloop_reader (self->loop, self->pull, s_pull_readable, self);
        assert (rc == 0);
        zloop_reader_set_tolerant (self->loop, self->pull);
        self->reading = true;
    }
    else
    if (!wanted && self->reading) {
        zloop_reader_end (self->loop, self->pull);
        self->reading = false;
    }
}

//  Append one message to the shared queue, whole; wake the application when
//  the queue was empty, stop reading when it is full
static void
s_message_queue (self_t *self, zmq_msg_t *msg)
{
    const byte *data = (const byte *) zmq_msg_data (msg);
    size_t size = zmq_msg_size (msg);
    //  The server has validated the whole message; the envelope is enough
    int reason = zstate_msg_decode_header (self->decoder, data, size);
    if (reason || zstate_msg_op_count (self->decoder) == 0) {
        zsys_error ("zstate_consumer %s/%s: dropped a message the server should "
                    "have rejected (%s)", self->owner->db, self->owner->table,
                    zstate_msg_reason_str (reason));
        return;
    }
    size_t ops_size;
    const byte *ops = zstate_msg_ops (self->decoder, &ops_size);
    entry_t *entry = (entry_t *) zmalloc (sizeof (entry_t));
    assert (entry);
    //  Offsets, not pointers: a small message's data lives inside the
    //  zmq_msg_t itself, which moves now
    entry->offset = (size_t) (ops - data);
    entry->end = entry->offset + ops_size;
    entry->ops_left = zstate_msg_op_count (self->decoder);
    zmq_msg_init (&entry->msg);
    zmq_msg_move (&entry->msg, msg);

    zstate_consumer_t *owner = self->owner;
    pthread_mutex_lock (&owner->mutex);
    if (owner->tail)
        owner->tail->next = entry;
    else {
        owner->head = entry;
        //  Empty to non-empty: the one moment the application is woken
        s_eventfd_set (owner->ready_fd);
        int rc = zmq_send (zsock_resolve (self->token), "", 0, ZMQ_DONTWAIT);
        assert (rc == 0);
    }
    owner->tail = entry;
    owner->stats.messages++;
    owner->stats.ops += entry->ops_left;
    owner->stats.queued_ops += entry->ops_left;
    owner->stats.queued_bytes += size;
    bool full = s_queue_full (owner);
    if (full) {
        owner->paused = true;
        owner->stats.stalls++;
    }
    pthread_mutex_unlock (&owner->mutex);
    if (full) {
        if (self->verbose)
            zsys_debug ("zstate_consumer %s/%s: queue full, pausing",
                        owner->db, owner->table);
        s_reading_update (self);
    }
}

//  Hand a copy to the writer. The copy shares the message's content, so no
//  bytes are copied. Returns 0, or -1 when the writer cannot take it now.
static int
s_forward_send (self_t *self, zmq_msg_t *msg)
{
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    int rc = zmq_msg_copy (&copy, msg);
    assert (rc == 0);
    if (zmq_msg_send (&copy, zsock_resolve (self->forward), ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&copy);
        return -1;
    }
    pthread_mutex_lock (&self->owner->mutex);
    self->owner->stats.forwarded++;
    pthread_mutex_unlock (&self->owner->mutex);
    return 0;
}

//  Poll the forward socket for POLLOUT while a message is parked
static void
s_forward_wait (self_t *self)
{
    void *handle = zsock_resolve (self->forward);
    if (self->waiting_on != handle) {
        assert (!self->waiting_on);
        zmq_pollitem_t item = { handle, 0, ZMQ_POLLOUT, 0 };
        int rc = zloop_poller (self->loop, &item, s_forward_writable, self);
        assert (rc == 0);
        zloop_poller_set_tolerant (self->loop, &item);
        self->waiting_on = handle;
    }
}

static void
s_forward_unwait (self_t *self)
{
    if (self->waiting_on) {
        zmq_pollitem_t item = { self->waiting_on, 0, ZMQ_POLLOUT, 0 };
        zloop_poller_end (self->loop, &item);
        self->waiting_on = NULL;
    }
}

//  Take one message from the server: forward it first when a writer is
//  attached, then queue it. When the writer is full, park the message and
//  stop reading; the server then waits for us, and nothing is dropped.
static void
s_message_take (self_t *self, zmq_msg_t *msg)
{
    if (self->forward && s_forward_send (self, msg) == -1) {
        zmq_msg_move (&self->parked, msg);
        self->has_parked = true;
        s_forward_wait (self);
        s_reading_update (self);
        if (self->verbose)
            zsys_debug ("zstate_consumer %s/%s: writer is full, pausing",
                        self->owner->db, self->owner->table);
    }
    else
        s_message_queue (self, msg);
}

//  Try the parked message again, on the forward socket as it is now
static void
s_parked_retry (self_t *self)
{
    assert (self->has_parked);
    if (self->forward && s_forward_send (self, &self->parked) == -1) {
        s_forward_wait (self);
        return;
    }
    s_forward_unwait (self);
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    zmq_msg_move (&msg, &self->parked);
    self->has_parked = false;
    s_message_queue (self, &msg);
    zmq_msg_close (&msg);
    s_reading_update (self);
}

static int
s_forward_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_parked_retry ((self_t *) arg);
    return 0;
}

static int
s_pull_readable (zloop_t *loop, zsock_t *pull, void *arg)
{
    self_t *self = (self_t *) arg;
    void *handle = zsock_resolve (pull);
    for (int count = 0; count < DRAIN_MAX && self->reading; count++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&msg);
            break;              //  Drained (EAGAIN), or zloop calls again
        }
        s_message_take (self, &msg);
        zmq_msg_close (&msg);
    }
    return 0;
}

//  pops drained the queue to half its bound
static int
s_room_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    self_t *self = (self_t *) arg;
    s_eventfd_clear (item->fd);
    if (self->verbose)
        zsys_debug ("zstate_consumer %s/%s: queue has room, resuming",
                    self->owner->db, self->owner->table);
    s_reading_update (self);
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
    if (!endpoint || !*endpoint) {
        status = EINVAL;
        snprintf (reason, sizeof (reason), "BIND needs an endpoint");
    }
    else
    if (self->pull) {
        status = EINVAL;
        snprintf (reason, sizeof (reason), "already bound");
    }
    else {
        zsock_t *pull = zsock_new (ZMQ_PULL);
        assert (pull);
        //  Small: a full consumer must stop the server soon, not after
        //  buffering thousands of messages in the pipe
        zsock_set_rcvhwm (pull, PULL_RCVHWM);
        if (zsock_bind (pull, "%s", endpoint) == -1) {
            status = zmq_errno ();
            snprintf (reason, sizeof (reason), "cannot bind to %s: %s",
                      endpoint, zmq_strerror (status));
            zsock_destroy (&pull);
        }
        else {
            self->pull = pull;
            s_reading_update (self);
        }
    }
    zstate_reply (self->pipe, "BIND", status, reason, false);
    free (endpoint);
}

static void
s_handle_forward (self_t *self, zmsg_t *request)
{
    char *endpoint = zmsg_popstr (request);
    int status = 0;
    char reason [256] = "";
    zsock_t *forward = NULL;
    if (endpoint && *endpoint) {
        forward = zsock_new (ZMQ_PUSH);
        assert (forward);
        zsock_set_sndhwm (forward, FORWARD_SNDHWM);
        //  Over inproc any linger but 0 lets the writer read what we sent
        //  before we close; the writer closing ends the wait
        zsock_set_linger (forward, -1);
        if (zsock_connect (forward, "%s", endpoint) == -1) {
            status = zmq_errno ();
            snprintf (reason, sizeof (reason), "cannot connect to %s: %s",
                      endpoint, zmq_strerror (status));
            zsock_destroy (&forward);
        }
    }
    if (status == 0) {
        //  A message parked for the old writer goes to the new one, or
        //  straight to the queue when forwarding stops
        s_forward_unwait (self);
        zsock_destroy (&self->forward);
        self->forward = forward;
        if (self->has_parked)
            s_parked_retry (self);
        if (self->verbose)
            zsys_debug ("zstate_consumer %s/%s: forwarding to %s", self->owner->db,
                        self->owner->table, forward? endpoint: "nobody");
    }
    zstate_reply (self->pipe, "FORWARD", status, reason, false);
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
        zsys_error ("zstate_consumer: empty command");
    else {
        if (self->verbose)
            zsys_debug ("zstate_consumer %s/%s: API command=%s",
                        self->owner->db, self->owner->table, command);
        if (streq (command, "$TERM"))
            rc = -1;
        else
        if (streq (command, "BIND"))
            s_handle_bind (self, request);
        else
        if (streq (command, "FORWARD"))
            s_handle_forward (self, request);
        else
        if (streq (command, "VERBOSE")) {
            char *flag = zmsg_popstr (request);
            self->verbose = !flag || !streq (flag, "0");
            free (flag);
            zstate_reply (pipe, "VERBOSE", 0, "", false);
        }
        else {
            zsys_error ("zstate_consumer: unknown command '%s'", command);
            zstate_reply (pipe, command, EINVAL, "unknown command", false);
        }
    }
    free (command);
    zmsg_destroy (&request);
    return rc;
}

static void
s_consumer_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zstate_consumer_t *) args);
    zsock_signal (pipe, 0);
    zloop_start (self->loop);
    s_self_destroy (&self);
}


//  --------------------------------------------------------------------------
//  The wrapper

//  One request/reply with our actor; the object belongs to one thread, so
//  no lock is needed here
static int
s_request (zstate_consumer_t *self, const char *command, const char *arg)
{
    zmsg_t *request = zmsg_new ();
    assert (request);
    zmsg_addstr (request, command);
    if (arg)
        zmsg_addstr (request, arg);
    if (zmsg_send (&request, self->actor)) {
        zmsg_destroy (&request);
        return zstate_fail (EINTR, "%s: cannot send to the consumer", command);
    }
    return zstate_request_wait (zactor_sock (self->actor), command, NULL);
}

//  Destroy a half-made consumer without losing why it failed
static void
s_destroy_keeping_reason (zstate_consumer_t **self_p)
{
    int error = errno;
    char reason [256];
    snprintf (reason, sizeof (reason), "%s", zstate_reason ());
    zstate_consumer_destroy (self_p);
    zstate_fail (error, "%s", reason);
}


//  --------------------------------------------------------------------------
//  Create a consumer table for (db, table) and register it with server.

zstate_consumer_t *
zstate_consumer_new (zstate_server_t *server, const char *db, const char *table)
{
    assert (server);
    if (!db || !zstate_msg_name_valid (db)
    ||  !table || !zstate_msg_name_valid (table)) {
        zstate_fail (EINVAL, "zstate_consumer_new: db and table must be 1..%d bytes",
                     ZSTATE_NAME_MAX);
        return NULL;
    }
    zstate_consumer_t *self = (zstate_consumer_t *) zmalloc (sizeof (zstate_consumer_t));
    assert (self);
    int rc = pthread_mutex_init (&self->mutex, NULL);
    assert (rc == 0);
    self->db = strdup (db);
    self->table = strdup (table);
    assert (self->db && self->table);
    self->max_ops = QUEUE_OPS_DEFAULT;
    self->max_bytes = QUEUE_BYTES_DEFAULT;
    self->ready_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->room_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->ready_fd == -1 || self->room_fd == -1) {
        zstate_fail (errno, "zstate_consumer_new: cannot create an eventfd: %s",
                     strerror (errno));
        s_destroy_keeping_reason (&self);
        return NULL;
    }
    self->token = zsys_create_pipe (&self->token_backend);
    assert (self->token);
    self->actor = zactor_new (s_consumer_actor, self);
    assert (self->actor);

    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    snprintf (self->endpoint, sizeof (self->endpoint), "inproc://zstate-consumer-%s",
              zuuid_str (uuid));
    zuuid_destroy (&uuid);
    if (s_request (self, "BIND", self->endpoint)) {
        s_destroy_keeping_reason (&self);
        return NULL;
    }
    self->link = zstate_server_link (server);
    if (zstate_server_link_register (self->link, db, table, self->endpoint, self)) {
        s_destroy_keeping_reason (&self);
        return NULL;
    }
    self->registered = true;
    return self;
}


//  --------------------------------------------------------------------------
//  Unregister and destroy the consumer table; nulls the pointer.

void
zstate_consumer_destroy (zstate_consumer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_consumer_t *self = *self_p;
        //  Unregister first, so the server stops sending before our socket
        //  goes; ENOENT means the server went first, which is fine
        if (self->registered
        &&  zstate_server_link_unregister (self->link, self->db, self->table,
                                           self->endpoint) == -1
        &&  errno != ENOENT)
            zsys_warning ("zstate_consumer %s/%s: cannot unregister: %s",
                          self->db, self->table, zstate_reason ());
        zactor_destroy (&self->actor);
        zstate_server_link_release (&self->link);
        while (self->head) {
            entry_t *entry = self->head;
            self->head = entry->next;
            zmq_msg_close (&entry->msg);
            free (entry);
        }
        zsock_destroy (&self->token);
        zsock_destroy (&self->token_backend);
        if (self->ready_fd != -1)
            close (self->ready_fd);
        if (self->room_fd != -1)
            close (self->room_fd);
        pthread_mutex_destroy (&self->mutex);
        free (self->db);
        free (self->table);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Move up to max pending operations into batch, in arrival order.

size_t
zstate_consumer_pops (zstate_consumer_t *self, zstate_batch_t *batch, size_t max)
{
    assert (self);
    assert (batch);
    if (max == 0)
        max = POPS_DEFAULT;
    zstate_batch_reset (batch);
    size_t moved = 0;
    pthread_mutex_lock (&self->mutex);
    bool pending = self->head != NULL;
    while (self->head && moved < max) {
        entry_t *entry = self->head;
        const byte *data = (const byte *) zmq_msg_data (&entry->msg);
        size_t count = entry->ops_left < max - moved? entry->ops_left: max - moved;
        size_t used = 0;
        int reason = zstate_batch_load (batch, data + entry->offset,
                                        entry->end - entry->offset, count, &used);
        if (reason == 0) {
            entry->offset += used;
            entry->ops_left -= count;
            moved += count;
            self->stats.queued_ops -= count;
        }
        else {
            //  The server validated every operation, so this is a bug; skip
            //  the rest of the message rather than stop the table
            zsys_error ("zstate_consumer %s/%s: cannot load operations (%s)",
                        self->db, self->table, zstate_msg_reason_str (reason));
            self->stats.queued_ops -= entry->ops_left;
            entry->ops_left = 0;
        }
        if (entry->ops_left == 0) {
            self->head = entry->next;
            if (!self->head)
                self->tail = NULL;
            self->stats.queued_bytes -= zmq_msg_size (&entry->msg);
            zmq_msg_close (&entry->msg);
            free (entry);
        }
    }
    self->stats.popped += moved;
    if (pending && !self->head) {
        //  Non-empty to empty: clear both wake signals. The token was sent
        //  before the eventfd was set, both under this lock, so it is there.
        s_eventfd_clear (self->ready_fd);
        char token;
        int rc = zmq_recv (zsock_resolve (self->token), &token, sizeof (token), 0);
        assert (rc == 0);
    }
    if (self->paused && s_queue_has_room (self)) {
        self->paused = false;
        s_eventfd_set (self->room_fd);
    }
    pthread_mutex_unlock (&self->mutex);
    return moved;
}


//  --------------------------------------------------------------------------
//  Return the number of operations waiting for pops.

size_t
zstate_consumer_pending (zstate_consumer_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    size_t pending = self->stats.queued_ops;
    pthread_mutex_unlock (&self->mutex);
    return pending;
}


//  --------------------------------------------------------------------------
//  Return a socket that is readable while operations are pending.

zsock_t *
zstate_consumer_socket (zstate_consumer_t *self)
{
    assert (self);
    return self->token;
}


//  --------------------------------------------------------------------------
//  Return a file descriptor that is readable while operations are pending.

int
zstate_consumer_fd (zstate_consumer_t *self)
{
    assert (self);
    return self->ready_fd;
}


//  --------------------------------------------------------------------------
//  Bound the queue.

void
zstate_consumer_set_queue (zstate_consumer_t *self, size_t ops, size_t bytes)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->max_ops = ops;
    self->max_bytes = bytes;
    //  A bigger bound may leave a paused actor room to read again
    if (self->paused && s_queue_has_room (self)) {
        self->paused = false;
        s_eventfd_set (self->room_fd);
    }
    pthread_mutex_unlock (&self->mutex);
}


//  --------------------------------------------------------------------------
//  Forward every message received from now on to endpoint, or stop.

int
zstate_consumer_forward (zstate_consumer_t *self, const char *endpoint)
{
    assert (self);
    return s_request (self, "FORWARD", endpoint? endpoint: "");
}


//  --------------------------------------------------------------------------
//  Persist through writer: forward to its endpoint, or stop when NULL.

int
zstate_consumer_set_writer (zstate_consumer_t *self, zstate_writer_t *writer)
{
    assert (self);
    int rc = zstate_consumer_forward (self, writer? zstate_writer_endpoint (writer): NULL);
    if (rc == 0) {
        pthread_mutex_lock (&self->mutex);
        self->writer = writer;
        pthread_mutex_unlock (&self->mutex);
    }
    return rc;
}


//  --------------------------------------------------------------------------
//  Print the writer's state and counters as ZPL items, for the server's
//  monitor. Prints nothing when there is no writer.

void
zstate_consumer_fprint_writer (zstate_consumer_t *self, FILE *file)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    zstate_writer_t *writer = self->writer;
    pthread_mutex_unlock (&self->mutex);
    zstate_writer_stats_t stats;
    if (writer) {
        zstate_writer_snapshot (writer, &stats);
        fprintf (file, "    writer\n");
        fprintf (file, "        state = %s\n", zstate_writer_state_name (stats.state));
        fprintf (file, "        depth = %zu\n", stats.depth);
        fprintf (file, "        oldest_age = %" PRId64 "\n", stats.oldest_age);
        fprintf (file, "        written = %" PRIu64 "\n", stats.written);
        fprintf (file, "        failed = %" PRIu64 "\n", stats.failed);
        fprintf (file, "        coalesced = %" PRIu64 "\n", stats.coalesced);
        fprintf (file, "        reconnects = %" PRIu64 "\n", stats.reconnects);
    }
}


//  --------------------------------------------------------------------------
//  Fill *stats with the current counters.

void
zstate_consumer_stats (zstate_consumer_t *self, zstate_consumer_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->mutex);
    *stats = self->stats;
    pthread_mutex_unlock (&self->mutex);
}


//  --------------------------------------------------------------------------
//  Return the db / table name.

const char *
zstate_consumer_db (zstate_consumer_t *self)
{
    assert (self);
    return self->db;
}

const char *
zstate_consumer_table (zstate_consumer_t *self)
{
    assert (self);
    return self->table;
}


//  --------------------------------------------------------------------------
//  Return the consumer's actor, for commands.

zactor_t *
zstate_consumer_actor (zstate_consumer_t *self)
{
    assert (self);
    return self->actor;
}


//  --------------------------------------------------------------------------
//  Log activity with zsys_debug.

void
zstate_consumer_set_verbose (zstate_consumer_t *self, bool verbose)
{
    assert (self);
    s_request (self, "VERBOSE", verbose? "1": "0");
}


//  --------------------------------------------------------------------------
//  Selftest

//  Encode batch as one wire message and send it from a raw DEALER
static void
s_test_send (zsock_t *dealer, zuuid_t *session, uint64_t sequence,
             const char *table, zstate_batch_t *batch)
{
    zframe_t *frame = zstate_msg_encode (zuuid_data (session), sequence,
                                         "APPL_DB", table, batch);
    assert (frame);
    int rc = zframe_send (&frame, dealer, 0);
    assert (rc == 0);
}

//  True when operation index of batch and operation other_index of other
//  are the same, byte for byte
static bool
s_test_same_op (zstate_batch_t *batch, size_t index,
                zstate_batch_t *other, size_t other_index)
{
    if (zstate_batch_op (batch, index) != zstate_batch_op (other, other_index))
        return false;
    size_t size, other_size;
    const char *data = zstate_batch_key (batch, index, &size);
    const char *other_data = zstate_batch_key (other, other_index, &other_size);
    if (size != other_size || memcmp (data, other_data, size))
        return false;
    size_t fields = zstate_batch_field_count (batch, index);
    if (fields != zstate_batch_field_count (other, other_index))
        return false;
    for (size_t field = 0; field < fields; field++) {
        data = zstate_batch_name (batch, index, field, &size);
        other_data = zstate_batch_name (other, other_index, field, &other_size);
        if (size != other_size || memcmp (data, other_data, size))
            return false;
        data = zstate_batch_value (batch, index, field, &size);
        other_data = zstate_batch_value (other, other_index, field, &other_size);
        if (size != other_size || memcmp (data, other_data, size))
            return false;
    }
    return true;
}

//  Pop everything in expected from consumer, max at a time, waiting on the
//  consumer's socket (5 seconds at most), and check each operation in order
static void
s_test_drain (zstate_consumer_t *consumer, zstate_batch_t *expected, size_t max)
{
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    assert (poller);
    zstate_batch_t *batch = zstate_batch_new ();
    size_t index = 0;
    while (index < zstate_batch_size (expected)) {
        void *which = zpoller_wait (poller, 5000);
        assert (which == zstate_consumer_socket (consumer));
        size_t popped = zstate_consumer_pops (consumer, batch, max);
        assert (popped > 0 && popped <= (max? max: POPS_DEFAULT));
        assert (popped == zstate_batch_size (batch));
        for (size_t op = 0; op < popped; op++)
            assert (s_test_same_op (batch, op, expected, index++));
    }
    assert (index == zstate_batch_size (expected));
    zstate_batch_destroy (&batch);
    zpoller_destroy (&poller);
}

//  True when fd is readable within timeout msecs
static bool
s_test_fd_readable (int fd, int timeout)
{
    struct pollfd item = { fd, POLLIN, 0 };
    return poll (&item, 1, timeout) == 1 && (item.revents & POLLIN);
}

//  True when sock is readable within timeout msecs
static bool
s_test_sock_readable (zsock_t *sock, int timeout)
{
    zpoller_t *poller = zpoller_new (sock, NULL);
    assert (poller);
    bool readable = zpoller_wait (poller, timeout) == sock;
    zpoller_destroy (&poller);
    return readable;
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
zstate_consumer_test (bool verbose)
{
    printf (" * zstate_consumer: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_server_set_verbose (server, verbose);

    //  Names are checked before anything starts
    zstate_consumer_t *consumer = zstate_consumer_new (server, "", "PORT_TABLE");
    assert (consumer == NULL && errno == EINVAL);
    consumer = zstate_consumer_new (server, "APPL_DB", NULL);
    assert (consumer == NULL && errno == EINVAL);
    char long_name [ZSTATE_NAME_MAX + 2];
    memset (long_name, 'x', sizeof (long_name) - 1);
    long_name [ZSTATE_NAME_MAX + 1] = 0;
    consumer = zstate_consumer_new (server, "APPL_DB", long_name);
    assert (consumer == NULL && errno == EINVAL);

    //  Register first, bind after: nothing sent after the bind is lost
    consumer = zstate_consumer_new (server, "APPL_DB", "PORT_TABLE");
    assert (consumer);
    zstate_consumer_set_verbose (consumer, verbose);
    assert (streq (zstate_consumer_db (consumer), "APPL_DB"));
    assert (streq (zstate_consumer_table (consumer), "PORT_TABLE"));
    assert (zstate_consumer_actor (consumer));
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_sndtimeo (dealer, 5000);
    int rc = zsock_connect (dealer, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    zuuid_t *session = zuuid_new ();
    uint64_t sequence = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_t *expected = zstate_batch_new ();

    //  Nothing pending: neither the socket nor the fd is readable
    zsock_t *socket = zstate_consumer_socket (consumer);
    int fd = zstate_consumer_fd (consumer);
    assert (!s_test_sock_readable (socket, 0));
    assert (!s_test_fd_readable (fd, 0));
    assert (zstate_consumer_pops (consumer, batch, 0) == 0);

    //  Every kind of operation, a SET without fields, and binary data
    zstate_batch_set (expected, "Ethernet0", "mtu", "9100", "speed", "100000", NULL);
    zstate_batch_hset (expected, "Ethernet4", "admin_status", "up", NULL);
    zstate_batch_del (expected, "Ethernet8");
    zstate_batch_set (expected, "Ethernet12", NULL);
    zstate_batch_append (expected, ZSTATE_OP_HSET, "bin\0key", 7);
    zstate_batch_field (expected, "na\0me", 5, "\0value\0", 7);
    s_test_send (dealer, session, ++sequence, "PORT_TABLE", expected);
    assert (s_test_sock_readable (socket, 5000));
    assert (s_test_fd_readable (fd, 5000));
    assert (zstate_consumer_pending (consumer) == 5);

    //  pops takes at most max, and both signals stay up while ops remain
    assert (zstate_consumer_pops (consumer, batch, 2) == 2);
    assert (s_test_same_op (batch, 0, expected, 0));
    assert (s_test_same_op (batch, 1, expected, 1));
    assert (s_test_sock_readable (socket, 0));
    assert (s_test_fd_readable (fd, 0));
    assert (zstate_consumer_pending (consumer) == 3);
    assert (zstate_consumer_pops (consumer, batch, 0) == 3);
    assert (zstate_batch_op (batch, 0) == ZSTATE_OP_DEL);
    assert (zstate_batch_op (batch, 1) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (batch, 1) == 0);
    size_t size;
    const char *data = zstate_batch_key (batch, 2, &size);
    assert (size == 7 && memcmp (data, "bin\0key", 7) == 0);
    data = zstate_batch_value (batch, 2, 0, &size);
    assert (size == 7 && memcmp (data, "\0value\0", 7) == 0);
    for (size_t index = 0; index < 3; index++)
        assert (s_test_same_op (batch, index, expected, index + 2));
    //  Drained: both signals are down again
    assert (!s_test_sock_readable (socket, 0));
    assert (!s_test_fd_readable (fd, 0));
    assert (zstate_consumer_pending (consumer) == 0);

    //  Several messages popped two at a time come out whole and in order
    zstate_batch_reset (expected);
    for (int message = 0; message < 3; message++) {
        zstate_batch_reset (batch);
        for (int op = 0; op < 5; op++) {
            char key [32];
            snprintf (key, sizeof (key), "key-%d-%d", message, op);
            zstate_batch_set (batch, key, "message", key, NULL);
            zstate_batch_set (expected, key, "message", key, NULL);
        }
        s_test_send (dealer, session, ++sequence, "PORT_TABLE", batch);
    }
    s_test_drain (consumer, expected, 2);
    assert (!s_test_fd_readable (fd, 0));
    zstate_consumer_stats_t stats;
    zstate_consumer_stats (consumer, &stats);
    assert (stats.messages == 4);
    assert (stats.ops == 20);
    assert (stats.popped == 20);
    assert (stats.queued_ops == 0 && stats.queued_bytes == 0);

    //  Forwarding: the writer gets a copy of each message before pops does
    zuuid_t *uuid = zuuid_new ();
    char writer_endpoint [80];
    snprintf (writer_endpoint, sizeof (writer_endpoint), "inproc://zstate-test-writer-%s",
              zuuid_str (uuid));
    zuuid_destroy (&uuid);
    zsock_t *writer = zsock_new (ZMQ_PULL);
    assert (writer);
    zsock_set_rcvhwm (writer, 1);
    zsock_set_rcvtimeo (writer, 5000);
    rc = zsock_bind (writer, "%s", writer_endpoint);
    assert (rc == 0);
    rc = zstate_consumer_forward (consumer, "bogus");
    assert (rc == -1 && errno != 0);
    rc = zstate_consumer_forward (consumer, writer_endpoint);
    assert (rc == 0);
    zstate_batch_reset (expected);
    zstate_batch_hset (expected, "Ethernet0", "oper_status", "up", NULL);
    s_test_send (dealer, session, ++sequence, "PORT_TABLE", expected);
    zframe_t *frame = zframe_recv (writer);
    assert (frame);
    zstate_msg_t *decoder = zstate_msg_new ();
    rc = zstate_msg_decode (decoder, zframe_data (frame), zframe_size (frame));
    assert (rc == 0);
    assert (streq (zstate_msg_table (decoder), "PORT_TABLE"));
    assert (zstate_msg_sequence (decoder) == sequence);
    zframe_destroy (&frame);
    s_test_drain (consumer, expected, 0);

    //  A writer that does not read pauses the consumer, which loses nothing
    zstate_batch_reset (expected);
    for (int message = 0; message < 200; message++) {
        char key [32];
        snprintf (key, sizeof (key), "forward-%d", message);
        zstate_batch_reset (batch);
        zstate_batch_set (batch, key, "index", key, NULL);
        zstate_batch_set (expected, key, "index", key, NULL);
        s_test_send (dealer, session, ++sequence, "PORT_TABLE", batch);
    }
    for (int message = 0; message < 200; message++) {
        frame = zframe_recv (writer);
        assert (frame);
        rc = zstate_msg_decode (decoder, zframe_data (frame), zframe_size (frame));
        assert (rc == 0);
        assert (zstate_msg_sequence (decoder) == sequence - 199 + message);
        zframe_destroy (&frame);
    }
    s_test_drain (consumer, expected, 64);
    zstate_consumer_stats (consumer, &stats);
    assert (stats.forwarded == 201);

    //  Once forwarding stops, nothing reaches the writer: by the time pops
    //  sees a message, its copy would have been sent
    rc = zstate_consumer_forward (consumer, NULL);
    assert (rc == 0);
    s_test_send (dealer, session, ++sequence, "PORT_TABLE", expected);
    s_test_drain (consumer, expected, 0);
    assert (!s_test_sock_readable (writer, 0));
    zstate_consumer_stats (consumer, &stats);
    assert (stats.forwarded == 201);
    assert (stats.stalls == 0);

    //  A small queue that nobody pops stops the consumer, then the server;
    //  when the application pops again, everything arrives, in order
    zstate_consumer_set_queue (consumer, 4, 1024 * 1024);
    zstate_batch_reset (expected);
    for (int message = 0; message < 300; message++) {
        char key [32];
        snprintf (key, sizeof (key), "slow-%d", message);
        zstate_batch_reset (batch);
        zstate_batch_del (batch, key);
        zstate_batch_del (expected, key);
        s_test_send (dealer, session, ++sequence, "PORT_TABLE", batch);
    }
    zstate_server_stats_t server_stats;
    s_test_wait_stalled (server, consumer, &server_stats);
    zstate_consumer_stats (consumer, &stats);
    assert (stats.stalls == 1);
    //  One-op messages: the queue stops exactly at the bound
    assert (stats.queued_ops == 4);
    s_test_drain (consumer, expected, 3);
    rc = zstate_server_stats (server, &server_stats);
    assert (rc == 0);
    assert (server_stats.malformed == 0 && server_stats.dropped == 0);
    assert (server_stats.unroutable == 0 && server_stats.gaps == 0);
    assert (server_stats.routed == server_stats.messages);
    zstate_consumer_stats (consumer, &stats);
    assert (stats.stalls > 1);

    //  A consumer destroyed with messages queued and in flight leaks nothing
    zstate_consumer_t *doomed = zstate_consumer_new (server, "APPL_DB", "DOOMED_TABLE");
    assert (doomed);
    zstate_consumer_set_queue (doomed, 10, 1024 * 1024);
    for (int message = 0; message < 100; message++)
        s_test_send (dealer, session, ++sequence, "DOOMED_TABLE", batch);
    s_test_wait_stalled (server, doomed, &server_stats);
    zstate_consumer_destroy (&doomed);
    assert (doomed == NULL);
    //  The server was waiting for it: that message is dropped, and the
    //  server serves everyone else again
    rc = zstate_server_stats (server, &server_stats);
    assert (rc == 0);
    assert (server_stats.dropped == 1);
    zstate_batch_reset (expected);
    zstate_batch_del (expected, "Ethernet0");
    s_test_send (dealer, session, ++sequence, "PORT_TABLE", expected);
    s_test_drain (consumer, expected, 0);
    //  Its table can be taken again at once
    doomed = zstate_consumer_new (server, "APPL_DB", "DOOMED_TABLE");
    assert (doomed);
    zstate_consumer_destroy (&doomed);

    //  Unknown commands get an error reply
    zstr_send (zstate_consumer_actor (consumer), "BOGUS");
    rc = zstate_request_wait (zactor_sock (zstate_consumer_actor (consumer)),
                              "BOGUS", NULL);
    assert (rc == -1 && errno == EINVAL);

    zstate_msg_destroy (&decoder);
    zsock_destroy (&writer);
    zstate_consumer_destroy (&consumer);
    assert (consumer == NULL);
    zstate_server_destroy (&server);
    zstate_batch_destroy (&batch);
    zstate_batch_destroy (&expected);
    zuuid_destroy (&session);
    zsock_destroy (&dealer);
    //  @end
    printf ("OK\n");
}
