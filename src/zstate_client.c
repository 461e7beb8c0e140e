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
    The wrapper holds what the sending threads and the agent share
    (zstate_client_agent.h): the queue of wire messages being built, the
    counters, the bounds, the state, and the DEALER under its own lock.
    zstate_client_send either hands a batch to the DEALER itself (the fast
    path, when the link is idle) or encodes it into the queue (a memcpy)
    and wakes the agent (zstate_client_agent.c) through an eventfd; the
    agent takes the whole queue at once and hands its buffers to libzmq
    without copying them.
@discuss
    The fast path exists for latency: at low rates the agent is asleep, and
    waking it costs a thread hand-off (eventfd, scheduler, agent, then
    libzmq's I/O thread) on every operation. A sender may send itself when
    the link is CONNECTED, nothing is queued, the agent holds nothing
    unsent, the send path has been idle for FAST_IDLE_USECS, the batch
    fits one message, and the socket is free (trylock). It then builds the
    message, numbers it and sends it with DONTWAIT under socket_lock; on
    any failure it queues the batch as if it had never tried.

    Batching adapts to load by itself: while the agent is busy sending, or
    backing off from a full socket, operations pile up in the tail buffer,
    so thousands share a message under load. The idle rule keeps the fast
    path out of the way then: a thread sending in a loop comes back within
    a microsecond or two, finds the path busy and queues, and so does
    every thread while the agent holds messages.

    Each queued buffer is one wire message: a header written by the sender
    with sequence 0 and count 0, then encoded operations for one (db,
    table). The agent patches the sequence number and count just before
    sending. Sequence numbers are given under socket_lock at the moment a
    message goes to the socket, by whichever thread sends it, so they are
    consecutive in wire order.
@end
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"
#include <sys/eventfd.h>
#include <uuid/uuid.h>

//  Defaults, as documented in zstate_client.h: the queue holds at least
//  the largest wire message, so no legal single message is refused for good
#define QUEUE_OPS_DEFAULT       ZSTATE_OPS_MAX
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
#define HEARTBEAT_DEFAULT       1000
#define KEEPALIVE_IDLE_DEFAULT  30
#define KEEPALIVE_INTVL_DEFAULT 5
#define KEEPALIVE_CNT_DEFAULT   3

//  Smallest room a new message buffer gets for operations, so a message
//  that grows under load does not realloc on every append
#define BUFFER_ROOM_MIN         1024

//  A sender sends itself only when no send started on the fast path, and
//  the agent did not finish sending, in the last FAST_IDLE_USECS. A thread
//  sending flat out comes back sooner than this and queues, so batching is
//  not lost under load, while sends paced 10 usecs apart or more (100,000
//  ops/s from one thread) still go straight out. Measured from the start
//  of a send, not its end: on a busy machine the sender is often
//  preempted just after its send, and would then look like a tight loop.
#define FAST_IDLE_USECS         5

//  --------------------------------------------------------------------------
//  Message buffers, as senders build them

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
//  Create a client agent; it connects nowhere until zstate_client_connect.

zstate_client_t *
zstate_client_new (void)
{
    //  The event pipe, the agent's pipe and its DEALER: zsock_new would
    //  abort at the limit
    if (zstate_sock_reserve ("zstate_client_new", 5))
        return NULL;
    zstate_client_t *self = (zstate_client_t *) zmalloc (sizeof (zstate_client_t));
    assert (self);
    self->wakefd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->wakefd == -1) {
        int error = errno;
        free (self);
        zstate_fail (error, "cannot create an eventfd: %s", strerror (error));
        return NULL;
    }
    pthread_mutex_init (&self->lock, NULL);
    pthread_mutex_init (&self->socket_lock, NULL);
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
    self->keepalive_idle = KEEPALIVE_IDLE_DEFAULT;
    self->keepalive_interval = KEEPALIVE_INTVL_DEFAULT;
    self->keepalive_count = KEEPALIVE_CNT_DEFAULT;
    self->version = ZSTATE_SESSION_VERSION;
    self->heartbeat = HEARTBEAT_DEFAULT;
    self->outbox = zstate_outbox_new ();
    self->stats.state = ZSTATE_CLIENT_IDLE;

    self->events = zstate_actor_create_pipe (&self->events_backend);
    assert (self->events);
    self->actor = zstate_actor_new (zstate_client_agent, self);
    //  The agent took its end of the events pipe before it signalled
    pthread_mutex_lock (&self->lock);
    assert (!self->events_backend);
    pthread_mutex_unlock (&self->lock);
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy the client: close it with the linger time.

void
zstate_client_destroy (zstate_client_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pthread_mutex_lock (&(*self_p)->lock);
        int linger = (*self_p)->linger;
        pthread_mutex_unlock (&(*self_p)->lock);
        zstate_client_close (self_p, linger);
    }
}


//  --------------------------------------------------------------------------
//  Close the client: wait up to timeout for what was accepted, log and
//  return how many operations did not make it, end the agent (which
//  frees what is left). Nulls the pointer.

size_t
zstate_client_close (zstate_client_t **self_p, int timeout)
{
    assert (self_p);
    if (!*self_p)
        return 0;
    zstate_client_t *self = *self_p;
    pthread_mutex_lock (&self->lock);
    //  Never connected: nothing could go anywhere, so do not wait
    bool idle = self->stats.state == ZSTATE_CLIENT_IDLE;
    pthread_mutex_unlock (&self->lock);
    size_t lost = 0;
    if (idle || zstate_client_flush (self, timeout)) {
        pthread_mutex_lock (&self->lock);
        bool acked = self->version == ZSTATE_SESSION_VERSION;
        lost = acked? self->held_ops: self->stats.queued_ops;
        size_t bytes = acked? self->held_bytes: self->stats.queued_bytes;
        pthread_mutex_unlock (&self->lock);
        if (lost)
            zsys_warning ("zstate_client %.8s: %zu ops (%zu bytes) could not be %s "
                          "in %d ms, dropped", self->session_text, lost, bytes,
                          acked? "acknowledged by the server": "handed to the socket",
                          idle? 0: timeout);
    }
    zstate_actor_destroy (&self->actor);
    zsock_destroy (&self->events);
    zstate_client_buffers_destroy (&self->queue_head);
    zstate_outbox_destroy (&self->outbox);
    close (self->wakefd);
    pthread_cond_destroy (&self->progress);
    pthread_mutex_destroy (&self->socket_lock);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
    return lost;
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
    return zstate_actor_request (self->actor, ZSTATE_ACTOR_TIMEOUT, NULL, "ss",
                                 "CONNECT", endpoint);
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
            buffer->data [2] = (byte) self->version;
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
//  The fast path, in the locked client: may this batch go straight to the
//  socket? When so, returns true holding socket_lock. Only the first test
//  (all in memory) runs for queued sends under load.

static bool
s_client_fast_claim (zstate_client_t *self, const char *db, const char *table,
                     size_t bytes, size_t ops)
{
    //  Anything queued or held by the agent was accepted before us and
    //  must leave first; and on a link that is not up, the agent's retry
    //  and backoff do better than each sender trying on its own
    if (self->queue_head || self->agent_busy || !self->session_ready
    ||  self->stats.state != ZSTATE_CLIENT_CONNECTED)
        return false;
    //  One message, exactly as the queue would have built it: a batch that
    //  spans messages goes through the queue
    size_t header_size = zstate_msg_header_size (strlen (db), strlen (table));
    if (ops > self->batch_ops_max
    || (header_size + bytes > self->batch_bytes_max && ops > 1))
        return false;
    //  Under load, queue: see FAST_IDLE_USECS
    int64_t now = zclock_usecs ();
    if (now - self->last_busy < FAST_IDLE_USECS)
        return false;
    //  Never wait for the socket: whoever holds it sends for us all
    if (pthread_mutex_trylock (&self->socket_lock))
        return false;
    self->last_busy = now;
    return true;
}

//  Build one wire message for batch, number it and hand it to the DEALER
//  without waiting. Called holding socket_lock, which it releases, and not
//  lock. Returns the wire size, or 0 when the socket did not take it.

static size_t
s_client_fast_send (zstate_client_t *self, const char *db, const char *table,
                    zstate_batch_t *batch)
{
    size_t db_size = strlen (db);
    size_t table_size = strlen (table);
    size_t header_size = zstate_msg_header_size (db_size, table_size);
    size_t bytes = zstate_batch_bytes (batch);
    zmq_msg_t msg;
    int rc = zmq_msg_init_size (&msg, header_size + bytes);
    assert (rc == 0);
    byte *data = (byte *) zmq_msg_data (&msg);
    zstate_msg_write_header (data, self->session, self->sequence + 1,
                             db, db_size, table, table_size,
                             (uint32_t) zstate_batch_size (batch));
    data [2] = (byte) self->version;
    memcpy (data + header_size, zstate_batch_data (batch), bytes);
    size_t size = 0;
    bool replies = false;
    if (self->dealer
    &&  zstate_client_send_frame (self, &msg, zstate_batch_size (batch), bytes) == 0) {
        size = header_size + bytes;
        //  Sending may have eaten the edge of the DEALER's fd that tells
        //  the agent the server replied; tell it ourselves
        int events = 0;
        size_t events_size = sizeof (events);
        replies = self->version == ZSTATE_SESSION_VERSION
               && zmq_getsockopt (zsock_resolve (self->dealer), ZMQ_EVENTS,
                                  &events, &events_size) == 0
               && (events & ZMQ_POLLIN);
    }
    else
        zmq_msg_close (&msg);
    pthread_mutex_unlock (&self->socket_lock);
    if (replies) {
        uint64_t one = 1;
        if (write (self->wakefd, &one, sizeof (one)) == -1)
            assert (errno == EAGAIN);
    }
    return size;
}


//  --------------------------------------------------------------------------
//  Queue the operations held in batch for (db, table), or send them at
//  once when the link is idle. Safe from any thread; returns at once.

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
    if (self->agent_ended) {
        self->stats.ops_rejected += ops;
        zstate_fail (ESHUTDOWN, "send: the client agent has ended");
        pthread_mutex_unlock (&self->lock);
        return -1;
    }
    //  A call over the bound itself can never fit, however long the caller
    //  waits: refused for good, unlike a full queue
    if (ops > self->queue_ops_max || bytes > self->queue_bytes_max) {
        self->stats.ops_rejected += ops;
        zstate_fail (EMSGSIZE, "send: %zu ops / %zu bytes, over the queue bound "
                     "of %zu ops / %zu bytes", ops, bytes,
                     self->queue_ops_max, self->queue_bytes_max);
        pthread_mutex_unlock (&self->lock);
        return -1;
    }
    if (self->stats.state == ZSTATE_CLIENT_FAILED) {
        self->stats.ops_rejected += ops;
        zstate_fail (ENOTCONN, "send: client failed: %s", self->failure);
        pthread_mutex_unlock (&self->lock);
        return -1;
    }
    //  Accepted whole or refused whole, so check the whole batch first.
    //  Version 2 holds what it sent until it is acknowledged
    bool acked = self->version == ZSTATE_SESSION_VERSION;
    size_t held_ops = acked? self->held_ops: self->stats.queued_ops;
    size_t held_bytes = acked? self->held_bytes: self->stats.queued_bytes;
    if (held_ops + ops > self->queue_ops_max
    ||  held_bytes + bytes > self->queue_bytes_max) {
        self->stats.ops_rejected += ops;
        zstate_fail (ENOBUFS, "queue full: %zu ops / %zu bytes %s",
                     held_ops, held_bytes, acked? "not acknowledged": "queued");
        pthread_mutex_unlock (&self->lock);
        return -1;
    }
    self->held_ops += ops;
    self->held_bytes += bytes;
    //  Accepted: counted as queued until the socket has it, whichever way
    //  it goes, so the bounds hold and flush's count (ops_accepted against
    //  ops_sent) stays exact while a fast send is in flight
    self->stats.queued_ops += ops;
    self->stats.queued_bytes += bytes;
    self->stats.ops_accepted += ops;
    if (s_client_fast_claim (self, db, table, bytes, ops)) {
        pthread_mutex_unlock (&self->lock);
        size_t size = s_client_fast_send (self, db, table, batch);
        pthread_mutex_lock (&self->lock);
        if (size) {
            self->stats.queued_ops -= ops;
            self->stats.queued_bytes -= bytes;
            self->stats.ops_sent += ops;
            self->stats.messages_sent++;
            self->stats.bytes_sent += size;
            self->fast_messages++;
            pthread_cond_broadcast (&self->progress);
            pthread_mutex_unlock (&self->lock);
            return 0;
        }
        //  The socket is full (or gone): queue it, and let the agent retry.
        //  Others may have queued meanwhile; they were concurrent with us,
        //  so going after them keeps every thread's own order.
    }
    s_client_append (self, db, table, zstate_batch_data (batch), bytes, ops);
    //  One write per batch of work the agent takes, not one per send
    if (!self->woken) {
        self->woken = true;
        self->wakes++;
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
    //  before now are out (or acknowledged) once this many are. The one exception is a fast
    //  send that failed and went to the queue behind operations accepted
    //  after it: that send had not returned yet, so it was concurrent with
    //  this flush, and every send that had returned is still counted in
    //  full before it (a fast send is only tried with nothing queued)
    uint64_t target = self->stats.ops_accepted;
    bool acked = self->version == ZSTATE_SESSION_VERSION;
    uint64_t *done_ops = acked? &self->stats.ops_acked: &self->stats.ops_sent;
    while (*done_ops + (acked? self->stats.ops_refused: 0) < target
    &&    !self->agent_ended) {
        int rc = timeout < 0? pthread_cond_wait (&self->progress, &self->lock):
                 pthread_cond_timedwait (&self->progress, &self->lock, &deadline);
        if (rc == ETIMEDOUT)
            break;
    }
    bool done = *done_ops + (acked? self->stats.ops_refused: 0) >= target;
    bool ended = self->agent_ended;
    size_t left = acked? self->held_ops: self->stats.queued_ops;
    const char *what = acked? "not acknowledged": "queued";
    pthread_mutex_unlock (&self->lock);
    if (done)
        return 0;
    if (ended)
        return zstate_fail (ESHUTDOWN, "flush: the client agent has ended with %zu ops "
                            "%s", left, what);
    return zstate_fail (ETIMEDOUT, "flush: %zu ops still %s after %d ms",
                        left, what, timeout);
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
    if (self->version == ZSTATE_SESSION_VERSION) {
        //  A fast sender counts its message sent just after the socket
        //  took it, so an acknowledgement can come first: hence the guard
        stats->outbox_ops = self->held_ops > self->stats.queued_ops?
                            self->held_ops - self->stats.queued_ops: 0;
        stats->outbox_bytes = self->held_bytes > self->stats.queued_bytes?
                              self->held_bytes - self->stats.queued_bytes: 0;
    }
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
    return zstate_actor_zactor (self->actor);
}


//  --------------------------------------------------------------------------
//  Bound the queue. A call over a bound fails with EMSGSIZE; one that fits
//  the bound but not what is queued, with ENOBUFS.

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
//  Protocol version, 1 or 2. Before connect.

int
zstate_client_set_protocol (zstate_client_t *self, int version)
{
    assert (self);
    if (version != 1 && version != ZSTATE_SESSION_VERSION)
        return zstate_fail (EINVAL, "set_protocol: version %d is not 1 or 2", version);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        self->version = version;
    pthread_mutex_unlock (&self->lock);
    if (started)
        return zstate_fail (EBUSY, "set_protocol: already connected");
    return 0;
}


//  --------------------------------------------------------------------------
//  Heartbeat interval, msecs. Before connect.

int
zstate_client_set_heartbeat (zstate_client_t *self, int interval)
{
    assert (self);
    if (interval < ZSTATE_SESSION_HEARTBEAT_MIN || interval > ZSTATE_SESSION_HEARTBEAT_MAX)
        return zstate_fail (EINVAL, "set_heartbeat: %d msecs is outside %d .. %d",
                            interval, ZSTATE_SESSION_HEARTBEAT_MIN,
                            ZSTATE_SESSION_HEARTBEAT_MAX);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        self->heartbeat = interval;
    pthread_mutex_unlock (&self->lock);
    if (started)
        return zstate_fail (EBUSY, "set_heartbeat: already connected");
    return 0;
}


//  --------------------------------------------------------------------------
//  Log activity with zsys_debug.

void
zstate_client_set_verbose (zstate_client_t *self, bool verbose)
{
    assert (self);
    zstate_actor_request (self->actor, ZSTATE_ACTOR_TIMEOUT, NULL, "si",
                          "VERBOSE", verbose? 1: 0);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest helpers

//  A client of version 1, for the raw server below, which speaks only
//  that: the first tests cover sending, batching and the link
static zstate_client_t *
s_test_client_v1 (void)
{
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    int rc = zstate_client_set_protocol (client, 1);
    assert (rc == 0);
    return client;
}

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

//  Read the counters that show which way sends went: eventfd writes (the
//  agent woken) and messages the senders sent themselves
static void
s_test_paths (zstate_client_t *client, uint64_t *wakes_p, uint64_t *fast_p)
{
    pthread_mutex_lock (&client->lock);
    *wakes_p = client->wakes;
    *fast_p = client->fast_messages;
    pthread_mutex_unlock (&client->lock);
}

//  Wait until the agent holds nothing, has let go of the socket, and its
//  last pass is older than FAST_IDLE_USECS, so that the next lone send
//  finds the path idle
static void
s_test_wait_idle (zstate_client_t *client)
{
    int64_t deadline = zclock_mono () + 5000;
    bool idle = false;
    while (!idle) {
        assert (zclock_mono () < deadline);
        zclock_sleep (1);       //  Polling the agent's state, with a deadline
        pthread_mutex_lock (&client->lock);
        idle = !client->agent_busy && !client->queue_head
            && zclock_usecs () - client->last_busy >= FAST_IDLE_USECS;
        //  ... and the agent has let go of the socket after its last pass
        if (idle && pthread_mutex_trylock (&client->socket_lock) == 0)
            pthread_mutex_unlock (&client->socket_lock);
        else
            idle = false;
        pthread_mutex_unlock (&client->lock);
    }
}

#define TEST_MIX_THREADS    4
#define TEST_MIX_ROUNDS     20
#define TEST_MIX_BURST      250

typedef struct {
    zstate_client_t *client;
    int sender;
    pthread_barrier_t *barrier;
} test_mixer_t;

//  Rounds of a burst from every thread (fast and queued sends mixed),
//  then one op from one thread alone on an idle link, which must take the
//  fast path and still follow its thread's queued ops
static void *
s_test_mixer (void *args)
{
    test_mixer_t *mixer = (test_mixer_t *) args;
    size_t counter = 0;
    for (int round = 0; round < TEST_MIX_ROUNDS; round++) {
        pthread_barrier_wait (mixer->barrier);
        size_t sent = s_test_send (mixer->client, mixer->sender, counter, TEST_MIX_BURST);
        assert (sent == TEST_MIX_BURST);
        counter += sent;
        pthread_barrier_wait (mixer->barrier);
        if (round % TEST_MIX_THREADS == mixer->sender) {
            int rc = zstate_client_flush (mixer->client, 5000);
            assert (rc == 0);
            //  The agent may still be finishing its pass: wait until the
            //  send path is idle, past FAST_IDLE_USECS
            s_test_wait_idle (mixer->client);
            uint64_t wakes, fast, wakes_after, fast_after;
            s_test_paths (mixer->client, &wakes, &fast);
            sent = s_test_send (mixer->client, mixer->sender, counter, 1);
            assert (sent == 1);
            counter++;
            s_test_paths (mixer->client, &wakes_after, &fast_after);
            assert (fast_after == fast + 1);
            assert (wakes_after == wakes);
        }
    }
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
    char *directory = zsys_sprintf ("%s/zstate-client-XXXXXX",
                                    getenv ("TMPDIR")? getenv ("TMPDIR"): "/tmp");
    assert (mkdtemp (directory));

    //  Basics: one op, over tcp, to a raw ROUTER
    {
        test_server_t *server = s_test_server_new (NULL, false);
        zstate_client_t *client = s_test_client_v1 ();
        assert (client);
        if (verbose)
            zstate_client_set_verbose (client, true);
        assert (zstate_client_state (client) == ZSTATE_CLIENT_IDLE);
        assert (streq (zstate_client_state_name (ZSTATE_CLIENT_FAILED), "FAILED"));
        assert (streq (zstate_client_state_name (99), "UNKNOWN"));
        assert (zstate_client_actor (client));

        //  Commands: unknown, missing argument, bad endpoint
        int rc = zstate_actor_request (client->actor, ZSTATE_ACTOR_TIMEOUT, NULL,
                                       "s", "BOGUS");
        assert (rc == -1 && errno == EINVAL);
        rc = zstate_actor_request (client->actor, ZSTATE_ACTOR_TIMEOUT, NULL,
                                   "s", "CONNECT");
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
        zstate_client_t *client = s_test_client_v1 ();
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
        zstate_client_t *client = s_test_client_v1 ();
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

    //  Fast path: on an idle, connected link each send goes to the socket
    //  from the sending thread; the agent is never woken, and sequence
    //  numbers stay consecutive
    {
        test_server_t *server = s_test_server_new (NULL, false);
        zstate_client_t *client = s_test_client_v1 ();
        int rc = zstate_client_connect (client, server->endpoint);
        assert (rc == 0);
        assert (s_test_event (client, "STATE", "CONNECTED", 5000));
        uint64_t wakes, fast;
        s_test_paths (client, &wakes, &fast);
        assert (wakes == 0 && fast == 0);
        for (size_t counter = 0; counter < 50; counter++) {
            size_t sent = s_test_send (client, 6, counter, 1);
            assert (sent == 1);
            s_test_expect (server, 6, counter, 1);
            assert (server->sequence == counter + 1);
        }
        s_test_paths (client, &wakes, &fast);
        assert (wakes == 0);
        assert (fast == 50);
        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        assert (stats.ops_accepted == 50 && stats.ops_sent == 50);
        assert (stats.messages_sent == 50);
        assert (stats.queued_ops == 0 && stats.queued_bytes == 0);
        assert (zstate_client_flush (client, 0) == 0);

        //  A batch goes out whole, as one message
        zstate_batch_t *batch = zstate_batch_new ();
        for (size_t index = 0; index < 10; index++)
            s_test_op (batch, 6, 50 + index);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
        s_test_expect (server, 6, 50, 10);
        assert (server->sequence == 51);
        s_test_paths (client, &wakes, &fast);
        assert (wakes == 0 && fast == 51);

        //  ... unless it spans messages: that is the agent's job
        zstate_client_set_batch (client, 4, 64 * 1024);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
        for (size_t message = 0; message < 3; message++)
            assert (s_test_server_recv (server, 5000));
        assert (server->sequence == 54);
        s_test_paths (client, &wakes, &fast);
        assert (wakes == 1 && fast == 51);
        zstate_batch_destroy (&batch);
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
    }

    //  Fast path mixed with queued sends from several threads: every op
    //  once, per-thread order, consecutive sequence numbers (checked by
    //  s_test_server_recv), and batching under load
    {
        test_server_t *server = s_test_server_new (NULL, false);
        zstate_client_t *client = s_test_client_v1 ();
        //  Room for every message of the test, so that a lone send never
        //  meets a full socket while the reader lags (as under valgrind):
        //  the full socket has its own test below
        zstate_client_set_sndhwm (client, TEST_MIX_THREADS * TEST_MIX_ROUNDS
                                          * (TEST_MIX_BURST + 1));
        int rc = zstate_client_connect (client, server->endpoint);
        assert (rc == 0);
        assert (s_test_event (client, "STATE", "CONNECTED", 5000));

        pthread_barrier_t barrier;
        pthread_barrier_init (&barrier, NULL, TEST_MIX_THREADS);
        pthread_t threads [TEST_MIX_THREADS];
        test_mixer_t mixers [TEST_MIX_THREADS];
        for (int index = 0; index < TEST_MIX_THREADS; index++) {
            mixers [index].client = client;
            mixers [index].sender = index;
            mixers [index].barrier = &barrier;
            rc = pthread_create (&threads [index], NULL, s_test_mixer, &mixers [index]);
            assert (rc == 0);
        }
        size_t expected = TEST_MIX_ROUNDS * TEST_MIX_BURST + TEST_MIX_ROUNDS / TEST_MIX_THREADS;
        size_t next [TEST_MIX_THREADS] = { 0 };
        size_t total = 0;
        while (total < TEST_MIX_THREADS * expected) {
            bool received = s_test_server_recv (server, 10000);
            assert (received);
            for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
                size_t counter;
                int sender = s_test_op_check (server->batch, index, &counter);
                assert (sender >= 0 && sender < TEST_MIX_THREADS);
                assert (counter == next [sender]);
                next [sender]++;
                total++;
            }
        }
        for (int index = 0; index < TEST_MIX_THREADS; index++) {
            pthread_join (threads [index], NULL);
            assert (next [index] == expected);
        }
        pthread_barrier_destroy (&barrier);
        assert (zstate_client_flush (client, 5000) == 0);
        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        assert (stats.ops_sent == total);
        assert (stats.messages_sent == server->messages);
        uint64_t wakes, fast;
        s_test_paths (client, &wakes, &fast);
        assert (fast >= TEST_MIX_ROUNDS);
        assert (wakes > 0);
        assert (server->messages < total);
        if (verbose)
            zsys_info ("zstate_client test: mixed, %zu ops in %zu messages, %d sent "
                       "by senders, %d agent wake-ups", total, server->messages,
                       (int) fast, (int) wakes);
        assert (!s_test_server_recv (server, 0));
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
    }

    //  Fast path meets a full socket: the op is queued instead, the agent
    //  retries, and nothing is lost or reordered
    {
        char *endpoint = zsys_sprintf ("ipc://%s/full.ipc", directory);
        test_server_t *server = s_test_server_new (endpoint, true);
        zstate_client_t *client = s_test_client_v1 ();
        zstate_client_set_sndhwm (client, 1);
        int rc = zstate_client_connect (client, endpoint);
        assert (rc == 0);
        assert (s_test_event (client, "STATE", "CONNECTED", 5000));

        char *value = (char *) malloc (8000);
        memset (value, 'x', 7999);
        value [7999] = 0;
        zstate_batch_t *batch = zstate_batch_new ();
        //  Paced, so that each send finds the path idle; the first one
        //  that wakes the agent is a fast send the socket refused
        size_t accepted = 0;
        uint64_t wakes = 0, fast = 0;
        while (wakes == 0) {
            assert (accepted < 10000);
            char key [32];
            snprintf (key, sizeof (key), "key-%zu", accepted++);
            zstate_batch_reset (batch);
            zstate_batch_set (batch, key, "v", value, NULL);
            rc = zstate_client_send (client, "db", "table", batch);
            assert (rc == 0);
            s_test_paths (client, &wakes, &fast);
            zclock_sleep (1);
        }
        assert (wakes == 1);
        assert (fast == accepted - 1);
        //  What follows queues behind it while the agent retries (once the
        //  socket has room again, sends may go fast again: how soon depends
        //  on libzmq's I/O threads, so the count is not exact)
        for (size_t index = 0; index < 10; index++) {
            char key [32];
            snprintf (key, sizeof (key), "key-%zu", accepted++);
            zstate_batch_reset (batch);
            zstate_batch_set (batch, key, "v", value, NULL);
            rc = zstate_client_send (client, "db", "table", batch);
            assert (rc == 0);
        }
        s_test_paths (client, &wakes, &fast);
        assert (fast >= accepted - 11 && fast < accepted);
        size_t received = 0;
        while (received < accepted) {
            bool got = s_test_server_recv (server, 5000);
            assert (got);
            for (size_t index = 0; index < zstate_batch_size (server->batch); index++) {
                char key [32];
                snprintf (key, sizeof (key), "key-%zu", received++);
                assert (streq (zstate_batch_key (server->batch, index, NULL), key));
            }
        }
        assert (received == accepted);
        assert (zstate_client_flush (client, 5000) == 0);
        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        assert (stats.messages_sent == server->messages);
        if (verbose)
            zsys_info ("zstate_client test: socket full after %zu fast sends",
                       (size_t) fast);
        free (value);
        zstate_batch_destroy (&batch);
        zstate_client_destroy (&client);
        s_test_server_destroy (&server);
        zstr_free (&endpoint);
    }

    //  Late server start, tcp: sends before anything is bound arrive, in
    //  order, once the server binds
    {
        char endpoint [64];
        snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
        zstate_client_t *client = s_test_client_v1 ();
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
    {
        char *endpoint = zsys_sprintf ("ipc://%s/late.ipc", directory);
        zstate_client_t *client = s_test_client_v1 ();
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
        zstate_client_t *client = s_test_client_v1 ();
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
        //  A call over the bound itself is refused for good, with EMSGSIZE,
        //  full queue or not, so a caller that retries on ENOBUFS stops
        zstate_batch_reset (batch);
        for (size_t index = 0; index < 26; index++)
            s_test_op (batch, 3, accepted + index);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == -1 && errno == EMSGSIZE);
        assert (strstr (zstate_reason (), "over the queue bound"));
        zstate_client_set_queue (client, 1000, zstate_batch_bytes (batch) - 1);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == -1 && errno == EMSGSIZE);
        zstate_client_set_queue (client, 25, 1024 * 1024);
        zstate_client_stats (client, &stats);
        assert (stats.queued_ops == 25);
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

    //  The default queue holds a call as large as the largest wire message
    //  (ZSTATE_OPS_MAX operations); one operation more is over the bound
    {
        zstate_client_t *client = zstate_client_new ();
        zstate_client_set_linger (client, 0);
        zstate_batch_t *batch = zstate_batch_new ();
        for (size_t index = 0; index < ZSTATE_OPS_MAX; index++) {
            char key [16];
            snprintf (key, sizeof (key), "%zx", index);
            int rc = zstate_batch_del (batch, key);
            assert (rc == 0);
        }
        int rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == 0);
        zstate_client_stats_t stats;
        zstate_client_stats (client, &stats);
        assert (stats.queued_ops == ZSTATE_OPS_MAX);
        assert (zstate_batch_del (batch, "one more") == 0);
        rc = zstate_client_send (client, "db", "table", batch);
        assert (rc == -1 && errno == EMSGSIZE);
        zstate_batch_destroy (&batch);
        zstate_client_destroy (&client);
    }

    //  Link timeout: no server, FAILED, send refused; a server appears and
    //  the client works again
    {
        char endpoint [64];
        snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", s_test_free_port ());
        zstate_client_t *client = s_test_client_v1 ();
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

        zstate_client_t *client = s_test_client_v1 ();
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
        zstate_client_t *client = s_test_client_v1 ();
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
        //  Bounded by the linger of 100 msecs, not by the server that never
        //  reads; the bound is generous for a loaded machine
        assert (elapsed < 60000);

        //  Never connected: destroy does not wait at all
        client = s_test_client_v1 ();
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
    path = zsys_sprintf ("%s/full.ipc", directory);
    unlink (path);
    zstr_free (&path);
    rmdir (directory);
    zstr_free (&directory);
    //  @end

    printf ("OK\n");
}
#endif
