/*  =========================================================================
    zstate_client - the client agent: one connection to a server, shared
    by many producer tables on many threads

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The wrapper holds what the sending threads and the agent share, under
    one mutex: the queue of wire messages being built, the counters, the
    bounds and the state. zstate_client_send encodes straight into the
    queue (a memcpy) and wakes the agent through an eventfd; the agent owns
    the DEALER socket, takes the whole queue at once and hands its buffers
    to libzmq without copying them.
@discuss
    Batching adapts to load by itself: while the agent is busy sending, or
    backing off from a full socket, operations pile up in the tail buffer,
    so one operation goes out at once when the link is idle and thousands
    share a message under load.

    Each buffer is one wire message: a header written by the sender with
    sequence 0 and count 0, then encoded operations for one (db, table).
    The agent patches the sequence number and count just before sending.
    When a send returns EAGAIN the buffer stays, as a ready zmq_msg_t, at
    the head of the agent's outbox and is retried on a one-shot timer with
    exponential backoff; libzmq leaves a message it could not send to us.

    Link state comes from zmq_socket_monitor on the DEALER (tcp and ipc);
    inproc has no monitor events and counts as connected once connect
    succeeds. No ZMQ_IMMEDIATE: the DEALER then queues for a server that
    does not exist yet, which is how a late server start loses nothing.
@end
*/

#include "zstate_classes.h"
#include <sys/eventfd.h>
#include <uuid/uuid.h>

//  Defaults, as documented in zstate_client.h
#define QUEUE_OPS_DEFAULT       1000000
#define QUEUE_BYTES_DEFAULT     ((size_t) 256 * 1024 * 1024)
#define BATCH_OPS_DEFAULT       1024
#define BATCH_BYTES_DEFAULT     (256 * 1024)
#define RETRY_IVL_DEFAULT       1
#define RETRY_MAX_IVL_DEFAULT   100
#define RETRY_TIMEOUT_DEFAULT   10000
#define LINK_TIMEOUT_DEFAULT    10000
#define LINGER_DEFAULT          5000
#define SNDHWM_DEFAULT          1000
#define RECONNECT_IVL_DEFAULT   100
#define RECONNECT_MAX_DEFAULT   0

//  Smallest room a new message buffer gets for operations, so a message
//  that grows under load does not realloc on every append
#define BUFFER_ROOM_MIN         1024

//  Messages the agent hands to the socket between two updates of the
//  shared counters, so flush sees progress during a long send pass
#define COMMIT_EVERY            64

//  ZMQ_BINDTODEVICE takes an interface name shorter than this (IFNAMSIZ)
#define INTERFACE_MAX           16

//  One wire message: built by senders while queued, then sent by the agent
typedef struct _buffer_t buffer_t;
struct _buffer_t {
    buffer_t *next;             //  Next message, in sending order
    byte *data;                 //  Header, then encoded operations
    size_t size;                //  Bytes used in data
    size_t max;                 //  Bytes allocated for data
    size_t header_size;         //  Bytes of header at the start of data
    size_t ops;                 //  Operations in the message
    zmq_msg_t msg;              //  The message handed to libzmq, once ready
    bool ready;                 //  msg holds data (libzmq frees it)
};

//  Structure of our class

struct _zstate_client_t {
    zactor_t *actor;            //  The agent
    zsock_t *events;            //  Our end of the events pipe
    zsock_t *events_backend;    //  The agent's end, until the agent takes it
    pthread_mutex_t command_lock;   //  One command round-trip at a time
    pthread_mutex_t lock;       //  Guards every field below
    pthread_cond_t progress;    //  Signalled when operations reach the socket
    int wakefd;                 //  eventfd the agent polls
    bool woken;                 //  wakefd written since the agent took the queue
    buffer_t *queue_head;       //  Messages not yet taken by the agent
    buffer_t *queue_tail;       //  Last of those: new operations go there
    char tail_db [ZSTATE_NAME_MAX + 1];     //  db of queue_tail
    char tail_table [ZSTATE_NAME_MAX + 1];  //  table of queue_tail
    byte session [ZSTATE_MSG_SESSION_SIZE]; //  Session id, in every header
    char session_text [ZSTATE_MSG_SESSION_SIZE * 2 + 1];   //  Same, in hex
    size_t queue_ops_max;       //  Queue bound, operations
    size_t queue_bytes_max;     //  Queue bound, bytes
    size_t batch_ops_max;       //  Operations in one wire message, at most
    size_t batch_bytes_max;     //  Bytes in one wire message, at most
    int retry_ivl;              //  First retry after a full socket, msecs
    int retry_max_ivl;          //  Longest retry interval, msecs
    int retry_timeout;          //  No progress this long means FAILED, msecs
    int link_timeout;           //  Link down this long means FAILED, 0 never
    int linger;                 //  Destroy's flush time and ZMQ_LINGER, msecs
    int sndhwm;                 //  ZMQ_SNDHWM
    int keepalive_idle;         //  ZMQ_TCP_KEEPALIVE_IDLE, 0 = keepalive off
    int keepalive_interval;     //  ZMQ_TCP_KEEPALIVE_INTVL
    int keepalive_count;        //  ZMQ_TCP_KEEPALIVE_CNT
    int reconnect_ivl;          //  ZMQ_RECONNECT_IVL
    int reconnect_max_ivl;      //  ZMQ_RECONNECT_IVL_MAX
    char interface [INTERFACE_MAX];     //  ZMQ_BINDTODEVICE, "" for none
    bool started;               //  Connected: socket options are fixed
    char failure [256];         //  Why the state is FAILED
    zstate_client_stats_t stats;    //  Counters and state
};


//  --------------------------------------------------------------------------
//  Message buffers

//  libzmq calls this when it is done with a message we handed it
static void
s_free_data (void *data, void *hint)
{
    free (data);
}

static void
s_buffer_destroy (buffer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        buffer_t *self = *self_p;
        if (self->ready)
            zmq_msg_close (&self->msg);     //  Frees data through s_free_data
        else
            free (self->data);
        free (self);
        *self_p = NULL;
    }
}

static void
s_buffers_destroy (buffer_t **head_p)
{
    buffer_t *buffer = *head_p;
    while (buffer) {
        buffer_t *next = buffer->next;
        s_buffer_destroy (&buffer);
        buffer = next;
    }
    *head_p = NULL;
}

//  Append size bytes holding ops operations. The buffer grows by doubling,
//  but not past the message bound, so a full message wastes little.
static void
s_buffer_append (buffer_t *self, const byte *data, size_t size, size_t ops,
                 size_t bytes_max)
{
    if (size > self->max - self->size) {
        size_t max = self->max * 2;
        if (max > bytes_max)
            max = bytes_max;
        if (max < self->size + size)
            max = self->size + size;
        self->data = (byte *) realloc (self->data, max);
        assert (self->data);
        self->max = max;
    }
    memcpy (self->data + self->size, data, size);
    self->size += size;
    self->ops += ops;
}

//  Return the encoded size of the operation at data. The batch built and
//  checked it, so this only follows the lengths (doc/protocol.md):
//  opcode:uint8 key field-count:uint32 *( name value ), where a string is
//  size:uint32 bytes %x00.
static size_t
s_op_size (const byte *data, size_t limit)
{
    const byte *cursor = data + 1;
    cursor += 4 + zstate_get_u32 (cursor) + 1;
    uint32_t strings = 2 * zstate_get_u32 (cursor);
    cursor += 4;
    while (strings--)
        cursor += 4 + zstate_get_u32 (cursor) + 1;
    size_t size = (size_t) (cursor - data);
    assert (size <= limit);
    return size;
}


//  --------------------------------------------------------------------------
//  The agent

typedef struct {
    zstate_client_t *client;    //  Shared state, owned by the wrapper
    zsock_t *pipe;              //  Actor command pipe
    zsock_t *events;            //  Events pipe, our end
    zloop_t *loop;              //  Reactor
    zsock_t *dealer;            //  Socket to the server
    zsock_t *monitor;           //  Link events from the DEALER, or NULL
    char *endpoint;             //  Connected to, or NULL
    char *monitor_endpoint;     //  Where the DEALER's monitor publishes
    unsigned int monitors;      //  Monitors started, to name each one
    char log_prefix [64];       //  "zstate_client <session>:"
    buffer_t *outbox_head;      //  Messages taken, not yet accepted by zmq
    buffer_t *outbox_tail;      //  Last of those
    uint64_t sequence;          //  Sequence number of the last message sent
    int retry_timer;            //  One-shot retry timer, or -1
    int backoff;                //  Current retry interval, msecs
    int64_t stalled_since;      //  Last progress while the outbox is not empty
    int link_timer;             //  One-shot link timer, or -1
    bool link_up;               //  Monitor says connected (or inproc)
    bool link_ever_up;          //  It was connected once
    bool link_failed;           //  Link down past link timeout
    bool retry_failed;          //  No progress past retry timeout
    bool send_error_logged;     //  An unexpected send error was logged
    int state;                  //  Last state we published
    size_t pending_ops;         //  Sent since the last commit: operations
    size_t pending_bytes;       //  ... their bytes
    size_t pending_messages;    //  ... messages
    size_t pending_wire_bytes;  //  ... wire bytes
    bool verbose;               //  Log activity
} self_t;

static int s_self_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg);
static int s_self_handle_wake (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static self_t *
s_self_new (zsock_t *pipe, zstate_client_t *client)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->client = client;
    self->pipe = pipe;
    self->events = client->events_backend;
    client->events_backend = NULL;
    //  Events are never worth blocking the agent for
    zsock_set_sndtimeo (self->events, 0);
    self->dealer = zsock_new (ZMQ_DEALER);
    assert (self->dealer);
    snprintf (self->log_prefix, sizeof (self->log_prefix), "zstate_client %.8s:",
              client->session_text);
    self->retry_timer = -1;
    self->link_timer = -1;
    self->state = ZSTATE_CLIENT_IDLE;

    self->loop = zloop_new ();
    assert (self->loop);
    zloop_set_nonstop (self->loop, true);
    int rc = zloop_reader (self->loop, self->pipe, s_self_handle_pipe, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, self->pipe);
    zmq_pollitem_t wake = { NULL, client->wakefd, ZMQ_POLLIN, 0 };
    rc = zloop_poller (self->loop, &wake, s_self_handle_wake, self);
    assert (rc == 0);
    zloop_poller_set_tolerant (self->loop, &wake);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        zstate_client_t *client = self->client;
        zloop_destroy (&self->loop);
        if (self->monitor) {
            zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
            zsock_destroy (&self->monitor);
        }
        //  Closing never blocks; libzmq keeps writing what it was handed
        //  for up to linger in its own threads
        pthread_mutex_lock (&client->lock);
        int linger = client->linger;
        buffer_t *queue = client->queue_head;
        client->queue_head = client->queue_tail = NULL;
        pthread_mutex_unlock (&client->lock);
        zsock_set_linger (self->dealer, linger);
        zsock_destroy (&self->dealer);
        s_buffers_destroy (&self->outbox_head);
        s_buffers_destroy (&queue);
        zsock_destroy (&self->events);
        zstr_free (&self->endpoint);
        zstr_free (&self->monitor_endpoint);
        free (self);
        *self_p = NULL;
    }
}

//  Send an event; the application may not read them, so never wait
static void
s_self_event (self_t *self, const char *type, const char *detail)
{
    if (zsock_send (self->events, "sss", type, self->endpoint? self->endpoint: "",
                    detail) == -1) {
        pthread_mutex_lock (&self->client->lock);
        self->client->stats.events_dropped++;
        pthread_mutex_unlock (&self->client->lock);
    }
}

//  Publish the state the flags give, when it changed: the state the
//  senders see, one STATE event and one log line. reason says why, for
//  FAILED. The shared state changes before any event goes out, so an
//  application reacting to an event sees the state it announces.
static void
s_self_update_state (self_t *self, const char *reason)
{
    int state;
    if (!self->endpoint)
        state = ZSTATE_CLIENT_IDLE;
    else
    if (self->link_failed || self->retry_failed)
        state = ZSTATE_CLIENT_FAILED;
    else
    if (self->link_up)
        state = ZSTATE_CLIENT_CONNECTED;
    else
    if (self->link_ever_up)
        state = ZSTATE_CLIENT_DISCONNECTED;
    else
        state = ZSTATE_CLIENT_CONNECTING;
    if (state == self->state)
        return;
    self->state = state;

    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    client->stats.state = state;
    if (state == ZSTATE_CLIENT_FAILED)
        snprintf (client->failure, sizeof (client->failure), "%s",
                  reason? reason: "failed");
    pthread_mutex_unlock (&client->lock);

    const char *name = zstate_client_state_name (state);
    s_self_event (self, "STATE", name);
    if (state == ZSTATE_CLIENT_FAILED)
        zsys_warning ("%s FAILED: %s", self->log_prefix, reason? reason: "");
    else
    if (state == ZSTATE_CLIENT_DISCONNECTED)
        zsys_warning ("%s DISCONNECTED from %s", self->log_prefix, self->endpoint);
    else
        zsys_info ("%s %s %s", self->log_prefix, name, self->endpoint);
}

//  Publish what was handed to the socket since the last commit, and wake
//  whoever flushes
static void
s_self_commit (self_t *self)
{
    if (!self->pending_messages)
        return;
    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    assert (client->stats.queued_ops >= self->pending_ops);
    assert (client->stats.queued_bytes >= self->pending_bytes);
    client->stats.queued_ops -= self->pending_ops;
    client->stats.queued_bytes -= self->pending_bytes;
    client->stats.ops_sent += self->pending_ops;
    client->stats.messages_sent += self->pending_messages;
    client->stats.bytes_sent += self->pending_wire_bytes;
    pthread_cond_broadcast (&client->progress);
    pthread_mutex_unlock (&client->lock);
    self->pending_ops = 0;
    self->pending_bytes = 0;
    self->pending_messages = 0;
    self->pending_wire_bytes = 0;
}

//  Move the client's whole queue to the end of our outbox. From here on a
//  sender starts a new message, and writes the eventfd again.
static void
s_self_take_queue (self_t *self)
{
    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    buffer_t *head = client->queue_head;
    buffer_t *tail = client->queue_tail;
    client->queue_head = client->queue_tail = NULL;
    client->woken = false;
    pthread_mutex_unlock (&client->lock);
    if (head) {
        if (self->outbox_tail)
            self->outbox_tail->next = head;
        else
            self->outbox_head = head;
        self->outbox_tail = tail;
    }
}

//  Hand outbox messages to the socket, in order, until it pushes back.
//  Returns true if at least one went.
static bool
s_self_send (self_t *self)
{
    void *handle = zsock_resolve (self->dealer);
    size_t sent = 0;
    while (self->outbox_head) {
        buffer_t *buffer = self->outbox_head;
        if (!buffer->ready) {
            zstate_msg_patch_header (buffer->data, buffer->header_size,
                                     self->sequence + 1, (uint32_t) buffer->ops);
            int rc = zmq_msg_init_data (&buffer->msg, buffer->data, buffer->size,
                                        s_free_data, NULL);
            assert (rc == 0);
            buffer->ready = true;
        }
        if (zmq_msg_send (&buffer->msg, handle, ZMQ_DONTWAIT) == -1) {
            int error = zmq_errno ();
            if (error == EINTR)
                continue;
            //  EAGAIN is the normal push back; anything else (ETERM at
            //  process exit) we log once and treat the same way
            if (error != EAGAIN && !self->send_error_logged) {
                zsys_error ("%s cannot send: %s", self->log_prefix, zmq_strerror (error));
                self->send_error_logged = true;
            }
            break;
        }
        //  libzmq owns the message and its data now
        self->sequence++;
        self->pending_ops += buffer->ops;
        self->pending_bytes += buffer->size - buffer->header_size;
        self->pending_messages++;
        self->pending_wire_bytes += buffer->size;
        self->outbox_head = buffer->next;
        if (!self->outbox_head)
            self->outbox_tail = NULL;
        free (buffer);
        if (++sent % COMMIT_EVERY == 0)
            s_self_commit (self);
    }
    s_self_commit (self);
    if (sent)
        self->send_error_logged = false;
    return sent > 0;
}

static int s_self_handle_retry (zloop_t *loop, int timer_id, void *arg);

//  After a send pass: nothing left means we are done; else arm the retry
//  timer, backing off while nothing moves, and go to FAILED when nothing
//  moved for the retry timeout (and keep retrying at the longest interval)
static void
s_self_schedule (self_t *self, bool progressed)
{
    zstate_client_t *client = self->client;
    if (!self->outbox_head) {
        self->stalled_since = 0;
        if (self->retry_failed) {
            self->retry_failed = false;
            s_self_update_state (self, NULL);
        }
        return;
    }
    pthread_mutex_lock (&client->lock);
    int retry_ivl = client->retry_ivl;
    int retry_max_ivl = client->retry_max_ivl;
    int retry_timeout = client->retry_timeout;
    pthread_mutex_unlock (&client->lock);

    int64_t now = zclock_mono ();
    if (progressed || !self->stalled_since) {
        self->stalled_since = now;
        self->backoff = retry_ivl;
        if (self->retry_failed) {
            self->retry_failed = false;
            s_self_update_state (self, NULL);
        }
    }
    else {
        self->backoff = self->backoff > retry_max_ivl / 2? retry_max_ivl: self->backoff * 2;
        if (!self->retry_failed && now - self->stalled_since >= retry_timeout) {
            char reason [256];
            snprintf (reason, sizeof (reason), "retries exhausted after %d ms",
                      (int) (now - self->stalled_since));
            self->retry_failed = true;
            s_self_update_state (self, reason);
            s_self_event (self, "ERROR", reason);
        }
    }
    if (self->retry_timer == -1) {
        self->retry_timer = zloop_timer (self->loop, (size_t) self->backoff, 1,
                                         s_self_handle_retry, self);
        assert (self->retry_timer != -1);
    }
}

//  Send what the outbox holds and, when it is empty, what the client
//  queued meanwhile; then schedule a retry if needed
static void
s_self_pump (self_t *self)
{
    bool progressed = s_self_send (self);
    if (!self->outbox_head) {
        s_self_take_queue (self);
        progressed |= s_self_send (self);
    }
    s_self_schedule (self, progressed);
}

static int
s_self_handle_retry (zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = (self_t *) arg;
    self->retry_timer = -1;
    pthread_mutex_lock (&self->client->lock);
    self->client->stats.retries++;
    pthread_mutex_unlock (&self->client->lock);
    s_self_pump (self);
    return 0;
}

static int
s_self_handle_wake (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    self_t *self = (self_t *) arg;
    uint64_t count;
    if (read (item->fd, &count, sizeof (count)) == -1 && errno != EAGAIN)
        zsys_error ("%s cannot read eventfd: %s", self->log_prefix, strerror (errno));
    //  Before connect, and while backing off from a full socket, the queue
    //  stays with the client: senders keep filling its tail message (so
    //  messages grow under pressure) and do not write the eventfd again
    if (self->endpoint && self->retry_timer == -1)
        s_self_pump (self);
    return 0;
}

//  When the link comes up, retry at once instead of at the next backoff
static void
s_self_kick (self_t *self)
{
    if (self->retry_timer != -1) {
        zloop_timer_end (self->loop, self->retry_timer);
        self->retry_timer = -1;
        s_self_pump (self);
    }
}

static int
s_self_handle_link_timer (zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = (self_t *) arg;
    self->link_timer = -1;
    if (self->link_up)
        return 0;
    pthread_mutex_lock (&self->client->lock);
    int timeout = self->client->link_timeout;
    pthread_mutex_unlock (&self->client->lock);
    char reason [256];
    snprintf (reason, sizeof (reason), "no connection to %s for %d ms",
              self->endpoint, timeout);
    self->link_failed = true;
    s_self_update_state (self, reason);
    s_self_event (self, "ERROR", reason);
    return 0;
}

//  Start the link timer unless it runs or the timeout is off
static void
s_self_start_link_timer (self_t *self)
{
    pthread_mutex_lock (&self->client->lock);
    int timeout = self->client->link_timeout;
    pthread_mutex_unlock (&self->client->lock);
    if (self->link_timer == -1 && timeout > 0) {
        self->link_timer = zloop_timer (self->loop, (size_t) timeout, 1,
                                        s_self_handle_link_timer, self);
        assert (self->link_timer != -1);
    }
}

static void
s_self_link_up (self_t *self)
{
    if (self->link_up)
        return;
    self->link_up = true;
    self->link_ever_up = true;
    self->link_failed = false;
    if (self->link_timer != -1) {
        zloop_timer_end (self->loop, self->link_timer);
        self->link_timer = -1;
    }
    pthread_mutex_lock (&self->client->lock);
    self->client->stats.connects++;
    pthread_mutex_unlock (&self->client->lock);
    s_self_update_state (self, NULL);
    s_self_kick (self);
}

static void
s_self_link_down (self_t *self)
{
    if (!self->link_up)
        return;
    self->link_up = false;
    pthread_mutex_lock (&self->client->lock);
    self->client->stats.disconnects++;
    pthread_mutex_unlock (&self->client->lock);
    s_self_start_link_timer (self);
    s_self_update_state (self, NULL);
}

//  libzmq 4.3 monitor events: [uint16 event, uint32 value][endpoint]
static int
s_self_handle_monitor (zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = (self_t *) arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return 0;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (frame), sizeof (event));
        memcpy (&value, zframe_data (frame) + 2, sizeof (value));
        if (self->verbose)
            zsys_debug ("%s monitor event 0x%04x value %u", self->log_prefix,
                        event, value);
        if (event == ZMQ_EVENT_CONNECTED)
            s_self_link_up (self);
        else
        if (event == ZMQ_EVENT_DISCONNECTED)
            s_self_link_down (self);
    }
    zmsg_destroy (&msg);
    return 0;
}

//  Apply the options fixed at connect. Returns 0, or -1 with errno and
//  the option's name in *name_p.
static int
s_self_set_options (self_t *self, const char **name_p)
{
    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    //  Keepalive details of 0 (and keepalive itself when idle is 0) are
    //  -1 for libzmq: the OS default
    bool keepalive = client->keepalive_idle > 0;
    struct {
        int option;
        int value;
        const char *name;
    } options [] = {
        { ZMQ_SNDHWM, client->sndhwm, "ZMQ_SNDHWM" },
        { ZMQ_LINGER, client->linger, "ZMQ_LINGER" },
        { ZMQ_RECONNECT_IVL, client->reconnect_ivl, "ZMQ_RECONNECT_IVL" },
        { ZMQ_RECONNECT_IVL_MAX, client->reconnect_max_ivl, "ZMQ_RECONNECT_IVL_MAX" },
        { ZMQ_TCP_KEEPALIVE, keepalive? 1: -1, "ZMQ_TCP_KEEPALIVE" },
        { ZMQ_TCP_KEEPALIVE_IDLE, keepalive? client->keepalive_idle: -1,
          "ZMQ_TCP_KEEPALIVE_IDLE" },
        { ZMQ_TCP_KEEPALIVE_INTVL, keepalive && client->keepalive_interval > 0?
          client->keepalive_interval: -1, "ZMQ_TCP_KEEPALIVE_INTVL" },
        { ZMQ_TCP_KEEPALIVE_CNT, keepalive && client->keepalive_count > 0?
          client->keepalive_count: -1, "ZMQ_TCP_KEEPALIVE_CNT" }
    };
    char interface [INTERFACE_MAX];
    memcpy (interface, client->interface, sizeof (interface));
    pthread_mutex_unlock (&client->lock);

    void *handle = zsock_resolve (self->dealer);
    for (size_t index = 0; index < sizeof (options) / sizeof (options [0]); index++)
        if (zmq_setsockopt (handle, options [index].option, &options [index].value,
                            sizeof (int))) {
            *name_p = options [index].name;
            return -1;
        }
    if (*interface
    &&  zmq_setsockopt (handle, ZMQ_BINDTODEVICE, interface, strlen (interface))) {
        *name_p = "ZMQ_BINDTODEVICE";
        return -1;
    }
    return 0;
}

//  CONNECT endpoint
static void
s_self_connect (self_t *self, zmsg_t *request)
{
    char *endpoint = zmsg_popstr (request);
    const char *option = NULL;
    if (!endpoint || !*endpoint) {
        zstate_reply (self->pipe, "CONNECT", EINVAL, "CONNECT needs an endpoint", false);
        zstr_free (&endpoint);
        return;
    }
    if (self->endpoint) {
        char reason [256];
        snprintf (reason, sizeof (reason), "already connected to %s", self->endpoint);
        zstate_reply (self->pipe, "CONNECT", EISCONN, reason, false);
        zstr_free (&endpoint);
        return;
    }
    if (s_self_set_options (self, &option)) {
        int error = zmq_errno ();
        char reason [256];
        snprintf (reason, sizeof (reason), "cannot set %s: %s", option, zmq_strerror (error));
        zstate_reply (self->pipe, "CONNECT", error, reason, false);
        zstr_free (&endpoint);
        return;
    }
    //  The monitor must run before connect, or we could miss CONNECTED.
    //  inproc has no monitor events: it is up once connect succeeds.
    //  A monitor endpoint is used once: a stopped monitor's socket is
    //  closed asynchronously and may still hold its name
    bool inproc = strncmp (endpoint, "inproc://", 9) == 0;
    if (!inproc) {
        zstr_free (&self->monitor_endpoint);
        self->monitor_endpoint = zsys_sprintf ("inproc://zstate-client-monitor-%s-%u",
                                               self->client->session_text,
                                               ++self->monitors);
        assert (self->monitor_endpoint);
        if (zmq_socket_monitor (zsock_resolve (self->dealer), self->monitor_endpoint,
                                ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
                                | ZMQ_EVENT_CONNECT_RETRIED)) {
            int error = zmq_errno ();
            char reason [256];
            snprintf (reason, sizeof (reason), "cannot monitor the socket: %s",
                      zmq_strerror (error));
            zstate_reply (self->pipe, "CONNECT", error, reason, false);
            zstr_free (&endpoint);
            return;
        }
        self->monitor = zsock_new (ZMQ_PAIR);
        assert (self->monitor);
        int rc = zsock_connect (self->monitor, "%s", self->monitor_endpoint);
        assert (rc == 0);
    }
    if (zsock_connect (self->dealer, "%s", endpoint)) {
        int error = zmq_errno ();
        char reason [512];
        snprintf (reason, sizeof (reason), "cannot connect to %s: %s", endpoint,
                  zmq_strerror (error));
        if (self->monitor) {
            zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
            zsock_destroy (&self->monitor);
        }
        zstate_reply (self->pipe, "CONNECT", error, reason, false);
        zstr_free (&endpoint);
        return;
    }
    self->endpoint = endpoint;
    if (self->monitor) {
        int rc = zloop_reader (self->loop, self->monitor, s_self_handle_monitor, self);
        assert (rc == 0);
        zloop_reader_set_tolerant (self->loop, self->monitor);
    }
    pthread_mutex_lock (&self->client->lock);
    self->client->started = true;
    pthread_mutex_unlock (&self->client->lock);
    //  The caller sees the new state as soon as connect returns
    if (inproc)
        s_self_link_up (self);
    else {
        s_self_start_link_timer (self);
        s_self_update_state (self, NULL);
    }
    zstate_reply (self->pipe, "CONNECT", 0, "", false);

    //  Send what was queued before connect
    if (self->retry_timer == -1)
        s_self_pump (self);
}

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = (self_t *) arg;
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request)
        return -1;              //  Interrupted
    char *command = zmsg_popstr (request);
    if (!command) {
        zsys_error ("%s empty command", self->log_prefix);
        zmsg_destroy (&request);
        return 0;
    }
    if (self->verbose)
        zsys_debug ("%s command %s", self->log_prefix, command);

    int rc = 0;
    if (streq (command, "CONNECT"))
        s_self_connect (self, request);
    else
    if (streq (command, "VERBOSE")) {
        char *flag = zmsg_popstr (request);
        self->verbose = !flag || !streq (flag, "0");
        zstr_free (&flag);
        zstate_reply (self->pipe, command, 0, "", false);
    }
    else
    if (streq (command, "$TERM"))
        rc = -1;
    else {
        zsys_error ("%s invalid command '%s'", self->log_prefix, command);
        zstate_reply (self->pipe, command, EINVAL, "unknown command", false);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
    return rc;
}

static void
s_agent (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zstate_client_t *) args);
    zsock_signal (pipe, 0);
    zloop_start (self->loop);
    s_self_destroy (&self);
}


//  --------------------------------------------------------------------------
//  Create a client agent; it connects nowhere until zstate_client_connect.

zstate_client_t *
zstate_client_new (void)
{
    zstate_client_t *self = (zstate_client_t *) zmalloc (sizeof (zstate_client_t));
    assert (self);
    self->wakefd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->wakefd == -1) {
        int error = errno;
        free (self);
        zstate_fail (error, "cannot create an eventfd: %s", strerror (error));
        return NULL;
    }
    pthread_mutex_init (&self->command_lock, NULL);
    pthread_mutex_init (&self->lock, NULL);
    //  flush waits on the monotonic clock, immune to clock changes
    pthread_condattr_t attributes;
    pthread_condattr_init (&attributes);
    pthread_condattr_setclock (&attributes, CLOCK_MONOTONIC);
    pthread_cond_init (&self->progress, &attributes);
    pthread_condattr_destroy (&attributes);

    uuid_generate (self->session);
    for (size_t index = 0; index < ZSTATE_MSG_SESSION_SIZE; index++)
        snprintf (self->session_text + 2 * index, 3, "%02x", self->session [index]);
    self->queue_ops_max = QUEUE_OPS_DEFAULT;
    self->queue_bytes_max = QUEUE_BYTES_DEFAULT;
    self->batch_ops_max = BATCH_OPS_DEFAULT;
    self->batch_bytes_max = BATCH_BYTES_DEFAULT;
    self->retry_ivl = RETRY_IVL_DEFAULT;
    self->retry_max_ivl = RETRY_MAX_IVL_DEFAULT;
    self->retry_timeout = RETRY_TIMEOUT_DEFAULT;
    self->link_timeout = LINK_TIMEOUT_DEFAULT;
    self->linger = LINGER_DEFAULT;
    self->sndhwm = SNDHWM_DEFAULT;
    self->reconnect_ivl = RECONNECT_IVL_DEFAULT;
    self->reconnect_max_ivl = RECONNECT_MAX_DEFAULT;
    self->stats.state = ZSTATE_CLIENT_IDLE;

    self->events = zsys_create_pipe (&self->events_backend);
    assert (self->events);
    self->actor = zactor_new (s_agent, self);
    assert (self->actor);
    //  The agent took its end of the events pipe before it signalled
    assert (!self->events_backend);
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy the client: flush for up to linger, log what is left, end the
//  agent (which frees what is left). Nulls the pointer.

void
zstate_client_destroy (zstate_client_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_client_t *self = *self_p;
        pthread_mutex_lock (&self->lock);
        int linger = self->linger;
        //  Never connected: nothing could go anywhere, so do not wait
        bool idle = self->stats.state == ZSTATE_CLIENT_IDLE;
        pthread_mutex_unlock (&self->lock);
        if (idle || zstate_client_flush (self, linger)) {
            pthread_mutex_lock (&self->lock);
            size_t ops = self->stats.queued_ops;
            size_t bytes = self->stats.queued_bytes;
            pthread_mutex_unlock (&self->lock);
            if (ops)
                zsys_warning ("zstate_client %.8s: %zu ops (%zu bytes) could not be "
                              "handed to the socket in %d ms, dropped",
                              self->session_text, ops, bytes, idle? 0: linger);
        }
        zactor_destroy (&self->actor);
        zsock_destroy (&self->events);
        s_buffers_destroy (&self->queue_head);
        close (self->wakefd);
        pthread_cond_destroy (&self->progress);
        pthread_mutex_destroy (&self->lock);
        pthread_mutex_destroy (&self->command_lock);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Connect to a server endpoint. Returns 0, or -1 with errno and
//  zstate_reason ().

int
zstate_client_connect (zstate_client_t *self, const char *endpoint)
{
    assert (self);
    if (!endpoint || !*endpoint)
        return zstate_fail (EINVAL, "connect: no endpoint");
    //  The wrapper is shared by threads; replies must reach their caller
    pthread_mutex_lock (&self->command_lock);
    int rc = zstr_sendx (self->actor, "CONNECT", endpoint, NULL);
    if (rc == 0)
        rc = zstate_request_wait (zactor_sock (self->actor), "CONNECT", NULL);
    else
        zstate_fail (EINTR, "connect: the agent is gone");
    pthread_mutex_unlock (&self->command_lock);
    return rc;
}


//  --------------------------------------------------------------------------
//  Queue the operations of batch for (db, table) into the locked client.
//  Fills the tail message when it is for the same (db, table), else starts
//  new messages; splits at operation boundaries on the batch bounds.

static void
s_client_append (zstate_client_t *self, const char *db, const char *table,
                 const byte *data, size_t bytes, size_t ops)
{
    size_t db_size = strlen (db);
    size_t table_size = strlen (table);
    size_t header_size = zstate_msg_header_size (db_size, table_size);
    size_t ops_max = self->batch_ops_max;
    //  One operation of any size fits next to any header (zstate_batch
    //  makes sure), so a message is never too small for one operation
    size_t bytes_max = self->batch_bytes_max;

    buffer_t *buffer = self->queue_tail;
    if (buffer && !(streq (self->tail_db, db) && streq (self->tail_table, table)))
        buffer = NULL;
    size_t offset = 0;          //  Bytes of data queued so far
    size_t done = 0;            //  Operations queued so far
    while (done < ops) {
        if (!buffer) {
            buffer = (buffer_t *) zmalloc (sizeof (buffer_t));
            assert (buffer);
            size_t room = bytes - offset;
            if (room < BUFFER_ROOM_MIN)
                room = BUFFER_ROOM_MIN;
            if (header_size + room > bytes_max)
                room = bytes_max > header_size? bytes_max - header_size: 0;
            buffer->max = header_size + room;
            buffer->data = (byte *) malloc (buffer->max);
            assert (buffer->data);
            buffer->header_size = header_size;
            buffer->size = header_size;
            zstate_msg_write_header (buffer->data, self->session, 0, db, db_size,
                                     table, table_size, 0);
            if (self->queue_tail)
                self->queue_tail->next = buffer;
            else
                self->queue_head = buffer;
            self->queue_tail = buffer;
            memcpy (self->tail_db, db, db_size + 1);
            memcpy (self->tail_table, table, table_size + 1);
        }
        //  As many whole operations as fit in this message
        size_t run_ops = ops - done;
        size_t run_bytes = bytes - offset;
        if (buffer->ops + run_ops > ops_max || buffer->size + run_bytes > bytes_max) {
            run_ops = 0;
            run_bytes = 0;
            while (done + run_ops < ops) {
                size_t op_size = s_op_size (data + offset + run_bytes,
                                            bytes - offset - run_bytes);
                if (buffer->ops + run_ops + 1 > ops_max
                ||  buffer->size + run_bytes + op_size > bytes_max) {
                    //  An operation over the byte bound travels alone
                    if (buffer->ops == 0 && run_ops == 0) {
                        assert (header_size + op_size <= ZSTATE_MESSAGE_MAX);
                        run_ops = 1;
                        run_bytes = op_size;
                    }
                    break;
                }
                run_ops++;
                run_bytes += op_size;
            }
        }
        if (run_ops) {
            s_buffer_append (buffer, data + offset, run_bytes, run_ops, bytes_max);
            done += run_ops;
            offset += run_bytes;
        }
        buffer = NULL;
    }
    assert (offset == bytes);
}


//  --------------------------------------------------------------------------
//  Queue the operations held in batch for (db, table). Safe from any
//  thread; returns at once.

int
zstate_client_send (zstate_client_t *self, const char *db, const char *table,
                    zstate_batch_t *batch)
{
    assert (self);
    if (!db || !zstate_msg_name_valid (db))
        return zstate_fail (EINVAL, "send: invalid db name");
    if (!table || !zstate_msg_name_valid (table))
        return zstate_fail (EINVAL, "send: invalid table name");
    if (!batch || zstate_batch_size (batch) == 0)
        return zstate_fail (EINVAL, "send: the batch is empty");
    size_t ops = zstate_batch_size (batch);
    size_t bytes = zstate_batch_bytes (batch);

    pthread_mutex_lock (&self->lock);
    if (self->stats.state == ZSTATE_CLIENT_FAILED) {
        self->stats.ops_rejected += ops;
        zstate_fail (ENOTCONN, "send: client failed: %s", self->failure);
        pthread_mutex_unlock (&self->lock);
        return -1;
    }
    //  Accepted whole or refused whole, so check the whole batch first
    if (self->stats.queued_ops + ops > self->queue_ops_max
    ||  self->stats.queued_bytes + bytes > self->queue_bytes_max) {
        self->stats.ops_rejected += ops;
        zstate_fail (ENOBUFS, "queue full: %zu ops / %zu bytes queued",
                     self->stats.queued_ops, self->stats.queued_bytes);
        pthread_mutex_unlock (&self->lock);
        return -1;
    }
    s_client_append (self, db, table, zstate_batch_data (batch), bytes, ops);
    self->stats.queued_ops += ops;
    self->stats.queued_bytes += bytes;
    self->stats.ops_accepted += ops;
    //  One write per batch of work the agent takes, not one per send
    if (!self->woken) {
        self->woken = true;
        uint64_t one = 1;
        if (write (self->wakefd, &one, sizeof (one)) == -1)
            assert (errno == EAGAIN);   //  Counter full: it is readable anyway
    }
    pthread_mutex_unlock (&self->lock);
    return 0;
}


//  --------------------------------------------------------------------------
//  Wait until every operation accepted so far is handed to the socket, or
//  timeout msecs pass (negative: no limit). Returns 0, or -1 with ETIMEDOUT.

int
zstate_client_flush (zstate_client_t *self, int timeout)
{
    assert (self);
    struct timespec deadline;
    clock_gettime (CLOCK_MONOTONIC, &deadline);
    if (timeout > 0) {
        deadline.tv_sec += timeout / 1000;
        deadline.tv_nsec += (long) (timeout % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock (&self->lock);
    //  Operations leave in the order they were accepted, so those accepted
    //  before now are out once this many are
    uint64_t target = self->stats.ops_accepted;
    while (self->stats.ops_sent < target) {
        int rc = timeout < 0? pthread_cond_wait (&self->progress, &self->lock):
                 pthread_cond_timedwait (&self->progress, &self->lock, &deadline);
        if (rc == ETIMEDOUT)
            break;
    }
    bool done = self->stats.ops_sent >= target;
    size_t queued_ops = self->stats.queued_ops;
    pthread_mutex_unlock (&self->lock);
    if (done)
        return 0;
    return zstate_fail (ETIMEDOUT, "flush: %zu ops still queued after %d ms",
                        queued_ops, timeout);
}


//  --------------------------------------------------------------------------
//  Return the client state, ZSTATE_CLIENT_*.

int
zstate_client_state (zstate_client_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    int state = self->stats.state;
    pthread_mutex_unlock (&self->lock);
    return state;
}


//  --------------------------------------------------------------------------
//  Return the name of a state.

const char *
zstate_client_state_name (int state)
{
    switch (state) {
        case ZSTATE_CLIENT_IDLE:            return "IDLE";
        case ZSTATE_CLIENT_CONNECTING:      return "CONNECTING";
        case ZSTATE_CLIENT_CONNECTED:       return "CONNECTED";
        case ZSTATE_CLIENT_DISCONNECTED:    return "DISCONNECTED";
        case ZSTATE_CLIENT_FAILED:          return "FAILED";
        default:                            return "UNKNOWN";
    }
}


//  --------------------------------------------------------------------------
//  Fill *stats with the current counters.

void
zstate_client_stats (zstate_client_t *self, zstate_client_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->lock);
    *stats = self->stats;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  Return the socket on which the client reports events.

zsock_t *
zstate_client_events (zstate_client_t *self)
{
    assert (self);
    return self->events;
}


//  --------------------------------------------------------------------------
//  Return the agent's actor.

zactor_t *
zstate_client_actor (zstate_client_t *self)
{
    assert (self);
    return self->actor;
}


//  --------------------------------------------------------------------------
//  Bound the queue. Zero means one operation / one byte: everything is
//  refused while anything is queued.

void
zstate_client_set_queue (zstate_client_t *self, size_t ops, size_t bytes)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    self->queue_ops_max = ops;
    self->queue_bytes_max = bytes;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  Bound adaptive batching; clamped to 1..ZSTATE_OPS_MAX operations and
//  ZSTATE_MESSAGE_MAX bytes (a message always takes one operation).

void
zstate_client_set_batch (zstate_client_t *self, size_t ops, size_t bytes)
{
    assert (self);
    if (ops < 1)
        ops = 1;
    if (ops > ZSTATE_OPS_MAX)
        ops = ZSTATE_OPS_MAX;
    if (bytes > ZSTATE_MESSAGE_MAX)
        bytes = ZSTATE_MESSAGE_MAX;
    pthread_mutex_lock (&self->lock);
    self->batch_ops_max = ops;
    self->batch_bytes_max = bytes;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  Retry policy for a full socket; ivl is at least 1 msec, max_ivl at
//  least ivl.

void
zstate_client_set_retry (zstate_client_t *self, int ivl, int max_ivl, int timeout)
{
    assert (self);
    if (ivl < 1)
        ivl = 1;
    if (max_ivl < ivl)
        max_ivl = ivl;
    if (timeout < 0)
        timeout = 0;
    pthread_mutex_lock (&self->lock);
    self->retry_ivl = ivl;
    self->retry_max_ivl = max_ivl;
    self->retry_timeout = timeout;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  How long the link may be down before the client goes to FAILED.
//  Takes effect the next time the link timer starts.

void
zstate_client_set_link_timeout (zstate_client_t *self, int timeout)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    self->link_timeout = timeout > 0? timeout: 0;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  How long destroy waits to deliver what is queued; also ZMQ_LINGER.

void
zstate_client_set_linger (zstate_client_t *self, int linger)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    self->linger = linger > 0? linger: 0;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  Socket send high-water mark. Before connect.

int
zstate_client_set_sndhwm (zstate_client_t *self, int sndhwm)
{
    assert (self);
    if (sndhwm < 0)
        return zstate_fail (EINVAL, "sndhwm: %d is negative", sndhwm);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        self->sndhwm = sndhwm;
    pthread_mutex_unlock (&self->lock);
    return started? zstate_fail (EBUSY, "sndhwm: the client is connected already"): 0;
}


//  --------------------------------------------------------------------------
//  TCP keepalive; idle 0 switches it off. Before connect.

int
zstate_client_set_tcp_keepalive (zstate_client_t *self, int idle, int interval, int count)
{
    assert (self);
    if (idle < 0 || interval < 0 || count < 0)
        return zstate_fail (EINVAL, "tcp keepalive: negative value");
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started) {
        self->keepalive_idle = idle;
        self->keepalive_interval = interval;
        self->keepalive_count = count;
    }
    pthread_mutex_unlock (&self->lock);
    return started? zstate_fail (EBUSY, "tcp keepalive: the client is connected already"): 0;
}


//  --------------------------------------------------------------------------
//  Bind the connection to a network interface or VRF; NULL or "" for none.
//  Before connect.

int
zstate_client_set_interface (zstate_client_t *self, const char *interface)
{
    assert (self);
    if (interface && strlen (interface) >= INTERFACE_MAX)
        return zstate_fail (EINVAL, "interface: '%s' is longer than %d bytes",
                            interface, INTERFACE_MAX - 1);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        snprintf (self->interface, sizeof (self->interface), "%s", interface? interface: "");
    pthread_mutex_unlock (&self->lock);
    return started? zstate_fail (EBUSY, "interface: the client is connected already"): 0;
}


//  --------------------------------------------------------------------------
//  Reconnect interval and its maximum. Before connect.

int
zstate_client_set_reconnect (zstate_client_t *self, int ivl, int max_ivl)
{
    assert (self);
    if (ivl < 0 || max_ivl < 0)
        return zstate_fail (EINVAL, "reconnect: negative interval");
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started) {
        self->reconnect_ivl = ivl;
        self->reconnect_max_ivl = max_ivl;
    }
    pthread_mutex_unlock (&self->lock);
    return started? zstate_fail (EBUSY, "reconnect: the client is connected already"): 0;
}


//  --------------------------------------------------------------------------
//  Log activity with zsys_debug.

void
zstate_client_set_verbose (zstate_client_t *self, bool verbose)
{
    assert (self);
    pthread_mutex_lock (&self->command_lock);
    if (zstr_sendx (self->actor, "VERBOSE", verbose? "1": "0", NULL) == 0)
        zstate_request_wait (zactor_sock (self->actor), "VERBOSE", NULL);
    pthread_mutex_unlock (&self->command_lock);
}


//  --------------------------------------------------------------------------
//  Selftest helpers

//  A raw server: a ROUTER socket and what it checks on every message
typedef struct {
    zsock_t *router;            //  Bound ROUTER
    char *endpoint;             //  Where it is bound
    zstate_msg_t *decoder;      //  Decodes every message
    zstate_batch_t *batch;      //  Operations of the last message
    byte session [ZSTATE_MSG_SESSION_SIZE];     //  The client's session id
    uint64_t sequence;          //  Sequence number of the last message
    size_t messages;            //  Messages received
    size_t ops;                 //  Operations received
} test_server_t;

//  Bind a ROUTER at endpoint, or at tcp://127.0.0.1:* when NULL. A slow
//  server buffers as little as it can, so it pushes back when it does not
//  read.
static test_server_t *
s_test_server_new (const char *endpoint, bool slow)
{
    test_server_t *self = (test_server_t *) zmalloc (sizeof (test_server_t));
    assert (self);
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    if (slow) {
        zsock_set_rcvhwm (self->router, 1);
        zsock_set_rcvbuf (self->router, 4096);
    }
    if (endpoint) {
        //  A listener we closed on this port goes away asynchronously, in
        //  libzmq's threads: retry while it still holds the port
        int rc = zsock_bind (self->router, "%s", endpoint);
        for (int attempt = 0; rc == -1 && zmq_errno () == EADDRINUSE && attempt < 500;
             attempt++) {
            zclock_sleep (10);
            rc = zsock_bind (self->router, "%s", endpoint);
        }
        assert (rc != -1);
        self->endpoint = strdup (endpoint);
    }
    else {
        int port = zsock_bind (self->router, "tcp://127.0.0.1:*");
        assert (port > 0);
        self->endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", port);
    }
    self->decoder = zstate_msg_new ();
    self->batch = zstate_batch_new ();
    return self;
}

static void
s_test_server_destroy (test_server_t **self_p)
{
    test_server_t *self = *self_p;
    zsock_destroy (&self->router);
    zstr_free (&self->endpoint);
    zstate_msg_destroy (&self->decoder);
    zstate_batch_destroy (&self->batch);
    free (self);
    *self_p = NULL;
}

//  Receive one message into self->batch, checking the envelope, the
//  session and the sequence. Returns false when nothing came in timeout.
static bool
s_test_server_recv (test_server_t *self, int timeout)
{
    zsock_set_rcvtimeo (self->router, timeout);
    zmsg_t *msg = zmsg_recv (self->router);
    if (!msg)
        return false;
    assert (zmsg_size (msg) == 2);
    zframe_t *payload = zmsg_last (msg);
    int rc = zstate_msg_decode (self->decoder, zframe_data (payload), zframe_size (payload));
    assert (rc == ZSTATE_WIRE_OK);
    if (self->messages == 0)
        memcpy (self->session, zstate_msg_session (self->decoder), ZSTATE_MSG_SESSION_SIZE);
    else
        assert (memcmp (self->session, zstate_msg_session (self->decoder),
                        ZSTATE_MSG_SESSION_SIZE) == 0);
    assert (zstate_msg_sequence (self->decoder) == self->sequence + 1);
    self->sequence++;
    size_t size;
    const byte *ops = zstate_msg_ops (self->decoder, &size);
    size_t count = zstate_msg_op_count (self->decoder);
    zstate_batch_reset (self->batch);
    size_t used;
    rc = zstate_batch_load (self->batch, ops, size, count, &used);
    assert (rc == ZSTATE_WIRE_OK);
    assert (used == size);
    self->messages++;
    self->ops += count;
    zmsg_destroy (&msg);
    return true;
}

//  Wait for the event type (with detail, when not NULL), skipping others.
//  Returns false when it did not come in timeout.
static bool
s_test_event (zstate_client_t *client, const char *type, const char *detail, int timeout)
{
    zsock_t *events = zstate_client_events (client);
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        zsock_set_rcvtimeo (events, (int) left);
        char *event_type = NULL;
        char *endpoint = NULL;
        char *event_detail = NULL;
        if (zsock_recv (events, "sss", &event_type, &endpoint, &event_detail) == -1)
            return false;
        bool found = streq (event_type, type)
                  && (!detail || streq (event_detail, detail));
        zstr_free (&event_type);
        zstr_free (&endpoint);
        zstr_free (&event_detail);
        if (found)
            return true;
    }
}

//  A TCP port nobody listens on (bound, read back and closed again), below
//  49152 so that CZMQ's tcp://...:* binds, which count up from there, do
//  not take it meanwhile
static int
s_test_free_port (void)
{
    while (true) {
        int handle = socket (AF_INET, SOCK_STREAM, 0);
        assert (handle != -1);
        struct sockaddr_in address;
        memset (&address, 0, sizeof (address));
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        address.sin_port = 0;
        int rc = bind (handle, (struct sockaddr *) &address, sizeof (address));
        assert (rc == 0);
        socklen_t size = sizeof (address);
        rc = getsockname (handle, (struct sockaddr *) &address, &size);
        assert (rc == 0);
        close (handle);
        int port = ntohs (address.sin_port);
        if (port < 49152)
            return port;
    }
}

//  One op SET "t<sender>-<counter>" { v = "<sender>:<counter>" }
static void
s_test_op (zstate_batch_t *batch, int sender, size_t counter)
{
    char key [32];
    char value [32];
    snprintf (key, sizeof (key), "t%d-%zu", sender, counter);
    snprintf (value, sizeof (value), "%d:%zu", sender, counter);
    int rc = zstate_batch_set (batch, key, "v", value, NULL);
    assert (rc == 0);
}

//  Check an op made by s_test_op; return its sender, store its counter
static int
s_test_op_check (zstate_batch_t *batch, size_t index, size_t *counter_p)
{
    int sender;
    size_t counter;
    assert (zstate_batch_op (batch, index) == ZSTATE_OP_SET);
    int rc = sscanf (zstate_batch_key (batch, index, NULL), "t%d-%zu", &sender, &counter);
    assert (rc == 2);
    char value [32];
    snprintf (value, sizeof (value), "%d:%zu", sender, counter);
    const char *got = zstate_batch_get (batch, index, "v");
    assert (got && streq (got, value));
    *counter_p = counter;
    return sender;
}

//  Send count single-op batches numbered from first for sender; stop at
//  the first failure. Returns how many were accepted.
static size_t
s_test_send (zstate_client_t *client, int sender, size_t first, size_t count)
{
    zstate_batch_t *batch = zstate_batch_new ();
    size_t sent = 0;
    for (; sent < count; sent++) {
        zstate_batch_reset (batch);
        s_test_op (batch, sender, first + sent);
        if (zstate_client_send (client, "db", "table", batch))
            break;
    }
    zstate_batch_destroy (&batch);
    return sent;
}

//  Receive until expected ops of sender arrived in order from first.
static void
s_test_expect (test_server_t *server, int sender, size_t first, size_t expected)
{
    size_t next = first;
    while (next < first + expected) {
        bool received = s_test_server_recv (server, 5000);
        assert (received);
        for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
            size_t counter;
            int got = s_test_op_check (server->batch, index, &counter);
            assert (got == sender);
            assert (counter == next);
            next++;
        }
    }
    assert (next == first + expected);
}

#define TEST_THREADS    8
#define TEST_THREAD_OPS 10000

typedef struct {
    zstate_client_t *client;
    int sender;
} test_sender_t;

static void *
s_test_sender (void *args)
{
    test_sender_t *sender = (test_sender_t *) args;
    size_t sent = s_test_send (sender->client, sender->sender, 0, TEST_THREAD_OPS);
    assert (sent == TEST_THREAD_OPS);
    return NULL;
}


//  --------------------------------------------------------------------------
//  Self test of this class

void
zstate_client_test (bool verbose)
{
    printf (" * zstate_client: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Basics: one op, over tcp, to a raw ROUTER
    {
        test_server_t *server = s_test_server_new (NULL, false);
        zstate_client_t *client = zstate_client_new ();
        assert (client);
        if (verbose)
            zstate_client_set_verbose (client, true);
        assert (zstate_client_state (client) == ZSTATE_CLIENT_IDLE);
        assert (streq (zstate_client_state_name (ZSTATE_CLIENT_FAILED), "FAILED"));
        assert (streq (zstate_client_state_name (99), "UNKNOWN"));
        assert (zstate_client_actor (client));

        //  Commands: unknown, missing argument, bad endpoint
        zsock_t *pipe = zactor_sock (zstate_client_actor (client));
        zstr_send (pipe, "BOGUS");
        int rc = zstate_request_wait (pipe, "BOGUS", NULL);
        assert (rc == -1 && errno == EINVAL);
        zstr_send (pipe, "CONNECT");
        rc = zstate_request_wait (pipe, "CONNECT", NULL);
        assert (rc == -1 && errno == EINVAL);
        rc = zstate_client_connect (client, "bogus://nowhere");
        assert (rc == -1 && errno == EPROTONOSUPPORT);
        assert (*zstate_reason ());
        assert (zstate_client_state (client) == ZSTATE_CLIENT_IDLE);

        //  Setters before connect; bad values
        assert (zstate_client_set_sndhwm (client, -1) == -1 && errno == EINVAL);
        assert (zstate_client_set_interface (client, "an-interface-name-too-long") == -1
                && errno == EINVAL);
        assert (zstate_client_set_sndhwm (client, 500) == 0);
        assert (zstate_client_set_tcp_keepalive (client, 30, 5, 3) == 0);
        assert (zstate_client_set_reconnect (client, 50, 1000) == 0);
        assert (zstate_client_set_interface (client, NULL) == 0);

        rc = zstate_client_connect (client, server->endpoint);
        assert (rc == 0);
        assert (s_test_event (client, "STATE", "CONNECTED", 5000));
        assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTED);
        rc = zstate_client_connect (client, server->endpoint);
        assert (rc == -1 && errno == EISCONN);
        assert (zstate_client_set_sndhwm (client, 10) == -1 && errno == EBUSY);
        assert (zstate_client_set_tcp_keepalive (client, 0, 0, 0) == -1 && errno == EBUSY);
        assert (zstate_client_set_reconnect (client, 1, 1) == -1 && errno == EBUSY);
        assert (zstate_client_set_interface (client, "lo") == -1 && errno == EBUSY);

        //  Bad sends
        zstate_batch_t *batch = zstate_batch_new ();
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == -1 && errno == EINVAL);
        rc = zstate_client_send (client, "db", "table", NULL);
        assert (rc == -1 && errno == EINVAL);
        zstate_batch_set (batch, "key", "name", "value", NULL);
        rc = zstate_client_send (client, NULL, "table", batch);
        assert (rc == -1 && errno == EINVAL);
        rc = zstate_client_send (client, "db", "", batch);
        assert (rc == -1 && errno == EINVAL);
        char long_name [ZSTATE_NAME_MAX + 2];
        memset (long_name, 'n', sizeof (long_name) - 1);
        long_name [sizeof (long_name) - 1] = 0;
        rc = zstate_client_send (client, long_name, "table", batch);
        assert (rc == -1 && errno == EINVAL);

        //  Idle link: one op goes out at once, as its own message
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
        assert (s_test_server_recv (server, 5000));
        assert (server->sequence == 1);
        assert (streq (zstate_msg_db (server->decoder), "db"));
        assert (streq (zstate_msg_table (server->decoder), "table"));
        assert (zstate_batch_eq (server->batch, batch));
        assert (zstate_client_flush (client, 1000) == 0);

        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        assert (stats.state == ZSTATE_CLIENT_CONNECTED);
        assert (stats.ops_accepted == 1);
        assert (stats.ops_sent == 1);
        assert (stats.messages_sent == 1);
        assert (stats.ops_rejected == 0);
        assert (stats.connects == 1);
        assert (stats.queued_ops == 0 && stats.queued_bytes == 0);

        //  Another (db, table) starts another message
        rc = zstate_client_send (client, "db", "other", batch);
        assert (rc == 0);
        assert (s_test_server_recv (server, 5000));
        assert (streq (zstate_msg_table (server->decoder), "other"));
        assert (server->sequence == 2);

        //  A server going away is seen, and coming back too
        char *endpoint = strdup (server->endpoint);
        s_test_server_destroy (&server);
        assert (s_test_event (client, "STATE", "DISCONNECTED", 5000));
        assert (zstate_client_state (client) == ZSTATE_CLIENT_DISCONNECTED);
        server = s_test_server_new (endpoint, false);
        assert (s_test_event (client, "STATE", "CONNECTED", 5000));
        zstate_client_stats (client, &stats);
        assert (stats.connects == 2 && stats.disconnects == 1);
        free (endpoint);

        zstate_batch_destroy (&batch);
        zstate_client_destroy (&client);
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
    }

    //  inproc: connected as soon as connect succeeds, no monitor
    {
        test_server_t *server = s_test_server_new ("inproc://zstate-client-test", false);
        zstate_client_t *client = zstate_client_new ();
        int rc = zstate_client_connect (client, "inproc://zstate-client-test");
        assert (rc == 0);
        assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTED);
        size_t sent = s_test_send (client, 0, 0, 100);
        assert (sent == 100);
        s_test_expect (server, 0, 0, 100);
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
    }

    //  Many threads on one client: every op once, per-thread order, and
    //  batching under load
    {
        test_server_t *server = s_test_server_new (NULL, false);
        zstate_client_t *client = zstate_client_new ();
        int rc = zstate_client_connect (client, server->endpoint);
        assert (rc == 0);

        pthread_t threads [TEST_THREADS];
        test_sender_t senders [TEST_THREADS];
        for (int index = 0; index < TEST_THREADS; index++) {
            senders [index].client = client;
            senders [index].sender = index;
            rc = pthread_create (&threads [index], NULL, s_test_sender, &senders [index]);
            assert (rc == 0);
        }
        size_t next [TEST_THREADS] = { 0 };
        size_t total = 0;
        while (total < TEST_THREADS * TEST_THREAD_OPS) {
            bool received = s_test_server_recv (server, 10000);
            assert (received);
            for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
                size_t counter;
                int sender = s_test_op_check (server->batch, index, &counter);
                assert (sender >= 0 && sender < TEST_THREADS);
                assert (counter == next [sender]);
                next [sender]++;
                total++;
            }
        }
        for (int index = 0; index < TEST_THREADS; index++) {
            pthread_join (threads [index], NULL);
            assert (next [index] == TEST_THREAD_OPS);
        }
        assert (total == TEST_THREADS * TEST_THREAD_OPS);
        assert (server->messages < total);
        assert (zstate_client_flush (client, 5000) == 0);
        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        assert (stats.ops_accepted == total);
        assert (stats.ops_sent == total);
        assert (stats.messages_sent == server->messages);
        assert (stats.queued_ops == 0);
        if (verbose)
            zsys_info ("zstate_client test: %zu ops in %zu messages",
                       total, server->messages);
        //  Nothing more arrives
        assert (!s_test_server_recv (server, 0));
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
    }

    //  Late server start, tcp: sends before anything is bound arrive, in
    //  order, once the server binds
    {
        char endpoint [64];
        snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
        zstate_client_t *client = zstate_client_new ();
        zstate_client_set_reconnect (client, 10, 0);
        int rc = zstate_client_connect (client, endpoint);
        assert (rc == 0);
        assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTING);
        size_t sent = s_test_send (client, 1, 0, 500);
        assert (sent == 500);
        test_server_t *server = s_test_server_new (endpoint, false);
        s_test_expect (server, 1, 0, 500);
        assert (s_test_event (client, "STATE", "CONNECTED", 5000));
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
    }

    //  Late server start, ipc, with ops sent before connect too
    char *directory = zsys_sprintf ("%s/zstate-client-XXXXXX",
                                    getenv ("TMPDIR")? getenv ("TMPDIR"): "/tmp");
    assert (mkdtemp (directory));
    {
        char *endpoint = zsys_sprintf ("ipc://%s/late.ipc", directory);
        zstate_client_t *client = zstate_client_new ();
        zstate_client_set_reconnect (client, 10, 0);
        size_t sent = s_test_send (client, 2, 0, 50);
        assert (sent == 50);
        //  Nothing goes anywhere before connect
        assert (zstate_client_flush (client, 0) == -1 && errno == ETIMEDOUT);
        int rc = zstate_client_connect (client, endpoint);
        assert (rc == 0);
        sent = s_test_send (client, 2, 50, 50);
        assert (sent == 50);
        test_server_t *server = s_test_server_new (endpoint, false);
        s_test_expect (server, 2, 0, 100);
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
        zstr_free (&endpoint);
    }

    //  Queue bounds: with no server and a full socket, send fails at once
    //  with ENOBUFS; what was accepted arrives once a server appears
    {
        char endpoint [64];
        snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
        zstate_client_t *client = zstate_client_new ();
        zstate_client_set_queue (client, 20, 1024 * 1024);
        zstate_client_set_sndhwm (client, 1);
        zstate_client_set_reconnect (client, 10, 0);
        zstate_client_set_linger (client, 0);
        int rc = zstate_client_connect (client, endpoint);
        assert (rc == 0);

        //  The socket takes one message (its HWM) and nothing more: the
        //  next op stays with the client, and so do those after it, until
        //  the queue is full
        zstate_batch_t *batch = zstate_batch_new ();
        s_test_op (batch, 3, 0);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
        assert (zstate_client_flush (client, 5000) == 0);
        zstate_batch_reset (batch);
        s_test_op (batch, 3, 1);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
        assert (zstate_client_flush (client, 50) == -1 && errno == ETIMEDOUT);
        size_t accepted = 2;
        int64_t elapsed = 0;
        while (accepted < 10000) {
            zstate_batch_reset (batch);
            s_test_op (batch, 3, accepted);
            int64_t started = zclock_usecs ();
            rc = zstate_client_send (client, "db", "table", batch);
            elapsed = zclock_usecs () - started;
            if (rc == -1)
                break;
            accepted++;
        }
        assert (rc == -1 && errno == ENOBUFS);
        assert (strstr (zstate_reason (), "queue full"));
        if (verbose)
            zsys_info ("zstate_client test: ENOBUFS after %zu ops, in %d usecs",
                       accepted, (int) elapsed);
        assert (elapsed < 1000000);

        //  Whole or nothing: raise the bound by 5, a batch of 10 is refused
        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        assert (stats.queued_ops == 20);
        zstate_client_set_queue (client, 25, 1024 * 1024);
        zstate_batch_reset (batch);
        for (size_t index = 0; index < 10; index++)
            s_test_op (batch, 3, accepted + index);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == -1 && errno == ENOBUFS);
        zstate_client_stats (client, &stats);
        assert (stats.queued_ops == 20);
        //  ... and 5 are accepted
        zstate_batch_reset (batch);
        for (size_t index = 0; index < 5; index++)
            s_test_op (batch, 3, accepted + index);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
        accepted += 5;
        //  The byte bound too
        zstate_client_stats (client, &stats);
        zstate_client_set_queue (client, 1000, stats.queued_bytes + 10);
        zstate_batch_reset (batch);
        s_test_op (batch, 3, accepted);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == -1 && errno == ENOBUFS);
        zstate_client_stats (client, &stats);
        assert (stats.ops_rejected > 0);
        assert (stats.retries > 0);
        assert (zstate_client_flush (client, 10) == -1 && errno == ETIMEDOUT);

        test_server_t *server = s_test_server_new (endpoint, false);
        s_test_expect (server, 3, 0, accepted);
        assert (zstate_client_flush (client, 5000) == 0);
        zstate_batch_destroy (&batch);
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
    }

    //  Link timeout: no server, FAILED, send refused; a server appears and
    //  the client works again
    {
        char endpoint [64];
        snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
        zstate_client_t *client = zstate_client_new ();
        zstate_client_set_link_timeout (client, 100);
        zstate_client_set_reconnect (client, 10, 0);
        int rc = zstate_client_connect (client, endpoint);
        assert (rc == 0);
        assert (s_test_event (client, "STATE", "CONNECTING", 5000));
        assert (s_test_event (client, "STATE", "FAILED", 5000));
        assert (s_test_event (client, "ERROR", NULL, 5000));
        assert (zstate_client_state (client) == ZSTATE_CLIENT_FAILED);
        zstate_batch_t *batch = zstate_batch_new ();
        s_test_op (batch, 4, 0);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == -1 && errno == ENOTCONN);
        assert (strstr (zstate_reason (), "no connection"));

        test_server_t *server = s_test_server_new (endpoint, false);
        assert (s_test_event (client, "STATE", "CONNECTED", 5000));
        assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTED);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
        s_test_expect (server, 4, 0, 1);
        zstate_batch_destroy (&batch);
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
    }

    //  Retries: a server that does not read, small HWMs; retries counted,
    //  FAILED after the retry timeout, flush times out; then the server
    //  reads and everything arrives
    {
        char *endpoint = zsys_sprintf ("ipc://%s/slow.ipc", directory);
        test_server_t *server = s_test_server_new (endpoint, true);

        zstate_client_t *client = zstate_client_new ();
        zstate_client_set_sndhwm (client, 1);
        zstate_client_set_batch (client, 16, 64 * 1024);
        zstate_client_set_retry (client, 1, 20, 300);
        int rc = zstate_client_connect (client, endpoint);
        assert (rc == 0);
        assert (s_test_event (client, "STATE", "CONNECTED", 5000));

        char *value = (char *) malloc (8000);
        memset (value, 'x', 7999);
        value [7999] = 0;
        zstate_batch_t *batch = zstate_batch_new ();
        size_t accepted = 0;
        for (; accepted < 1000; accepted++) {
            char key [32];
            snprintf (key, sizeof (key), "key-%zu", accepted);
            zstate_batch_reset (batch);
            zstate_batch_set (batch, key, "v", value, NULL);
            if (zstate_client_send (client, "db", "table", batch)) {
                assert (errno == ENOTCONN);
                break;
            }
        }
        assert (s_test_event (client, "ERROR", NULL, 5000));
        assert (zstate_client_state (client) == ZSTATE_CLIENT_FAILED);
        assert (zstate_client_flush (client, 20) == -1 && errno == ETIMEDOUT);
        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        assert (stats.retries > 0);
        assert (stats.queued_ops > 0);

        size_t received = 0;
        while (received < accepted) {
            bool got = s_test_server_recv (server, 5000);
            assert (got);
            for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
                char key [32];
                snprintf (key, sizeof (key), "key-%zu", received++);
                assert (streq (zstate_batch_key (server->batch, index, NULL), key));
                assert (streq (zstate_batch_get (server->batch, index, "v"), value));
            }
            assert (zstate_batch_size (server->batch) <= 16);
        }
        assert (received == accepted);
        assert (s_test_event (client, "STATE", "CONNECTED", 5000));
        assert (zstate_client_flush (client, 5000) == 0);
        if (verbose)
            zsys_info ("zstate_client test: %zu ops after %d retries",
                       accepted, (int) stats.retries);
        free (value);
        zstate_batch_destroy (&batch);
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
        zstr_free (&endpoint);
    }

    //  Destroy with a dead peer returns after linger, not later
    {
        char endpoint [64];
        snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
        zstate_client_t *client = zstate_client_new ();
        zstate_client_set_sndhwm (client, 1);
        zstate_client_set_linger (client, 100);
        int rc = zstate_client_connect (client, endpoint);
        assert (rc == 0);
        //  One message fills the socket; the rest stays with the client
        size_t sent = s_test_send (client, 5, 0, 1);
        assert (sent == 1);
        assert (zstate_client_flush (client, 5000) == 0);
        sent = s_test_send (client, 5, 1, 100);
        assert (sent == 100);
        int64_t started = zclock_mono ();
        zstate_client_destroy (&client);
        int64_t elapsed = zclock_mono () - started;
        if (verbose)
            zsys_info ("zstate_client test: destroy took %d ms", (int) elapsed);
        assert (elapsed < 3000);

        //  Never connected: destroy does not wait at all
        client = zstate_client_new ();
        sent = s_test_send (client, 5, 0, 10);
        assert (sent == 10);
        zstate_client_destroy (&client);
    }
    //  libzmq removes its ipc files when it closes the listeners, in its
    //  own time; do not wait for it
    char *path = zsys_sprintf ("%s/late.ipc", directory);
    unlink (path);
    zstr_free (&path);
    path = zsys_sprintf ("%s/slow.ipc", directory);
    unlink (path);
    zstr_free (&path);
    rmdir (directory);
    zstr_free (&directory);
    //  @end

    printf ("OK\n");
}
