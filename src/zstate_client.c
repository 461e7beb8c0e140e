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
#define LEVEL_FORGOTTEN         -1      //  a wait for the outbox to forget all

static int s_client_wait (zstate_client_t *self, int level, int timeout);
static uint64_t s_client_done (zstate_client_t *self, int level);
#define RECONNECT_IVL_DEFAULT   100
#define RECONNECT_MAX_DEFAULT   0
#define HEARTBEAT_DEFAULT       1000
#define KEEPALIVE_IDLE_DEFAULT  30
#define KEEPALIVE_INTVL_DEFAULT 5
#define KEEPALIVE_CNT_DEFAULT   3

//  Smallest room a new message buffer gets for operations, so a message
//  that grows under load does not realloc on every append
#define BUFFER_ROOM_MIN         1024


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
    self->ack_level = ZSTATE_ACK_DELIVERED;
    self->outbox = zstate_outbox_new ();
    self->queue_fold_pays = true;       //  Until a fold finds otherwise
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
    bool idle = self->stats.state == ZSTATE_CLIENT_IDLE;    //  so nothing to wait for
    pthread_mutex_unlock (&self->lock);
    size_t lost = 0;
    //  Until all is forgotten: with REPLAY, persisted, at either level
    if (idle || s_client_wait (self, LEVEL_FORGOTTEN, timeout)) {
        pthread_mutex_lock (&self->lock);
        bool acked = self->version == ZSTATE_SESSION_VERSION;
        //  Coalesced entries stand for more operations than they hold
        uint64_t done = s_client_done (self, 0);
        lost = acked? (size_t) (self->stats.ops_accepted - done): self->stats.queued_ops;
        size_t unwritten = acked? (size_t) (done - s_client_done (self, LEVEL_FORGOTTEN)): 0;
        size_t bytes = acked? self->held_bytes: self->stats.queued_bytes;
        pthread_mutex_unlock (&self->lock);
        if (lost)
            zsys_warning ("zstate_client %.8s: %zu ops (%zu bytes) could not be %s "
                          "in %d ms, dropped", self->session_text, lost, bytes,
                          acked? "acknowledged by the server": "handed to the socket",
                          idle? 0: timeout);
        if (unwritten)
            zsys_warning ("zstate_client %.8s: %zu ops delivered, not persisted in %d ms: "
                          "dropped for replay", self->session_text, unwritten, timeout);
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

void
zstate_client_queue_ops (zstate_client_t *self, const char *db, const char *table,
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
            zstate_client_buffer_trim (self->queue_tail);       //  closed
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
    //  A snapshot's chunks must follow every operation accepted before
    //  them: none overtakes them on the fast path while one runs
    if (self->queue_head || self->unsent_keys || self->agent_busy || !self->session_ready
    ||  self->stats.state != ZSTATE_CLIENT_CONNECTED || self->snapshots_running)
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
    bool refused = false;
#ifdef ZSTATE_SELFTEST
    refused = self->hook
           && self->hook (self, ZSTATE_CLIENT_HOOK_FAST_SEND, self->hook_arg) != 0;
#endif
    if (self->dealer && !refused
    &&  zstate_client_send_frame (self, &msg, zstate_batch_size (batch), 0, bytes) == 0) {
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
//  May the locked client accept count ops of bytes? Returns 0, or -1 with
//  errno and zstate_reason (), counting them as refused.

static int
s_client_admit (zstate_client_t *self, size_t ops, size_t bytes)
{
    if (self->agent_ended) {
        self->stats.ops_rejected += ops;
        zstate_fail (ESHUTDOWN, "send: the client agent has ended");
        return -1;
    }
    //  A call over the bound itself can never fit, however long the caller
    //  waits: refused for good, unlike a full queue
    if (ops > self->queue_ops_max || bytes > self->queue_bytes_max) {
        self->stats.ops_rejected += ops;
        zstate_fail (EMSGSIZE, "send: %zu ops / %zu bytes, over the queue bound "
                     "of %zu ops / %zu bytes", ops, bytes,
                     self->queue_ops_max, self->queue_bytes_max);
        return -1;
    }
    if (self->stats.state == ZSTATE_CLIENT_FAILED) {
        self->stats.ops_rejected += ops;
        zstate_fail (ENOTCONN, "send: client failed: %s", self->failure);
        return -1;
    }
    //  Accepted whole or refused whole, so check the whole batch first.
    //  Version 2 holds what it sent until it is acknowledged
    bool acked = self->version == ZSTATE_SESSION_VERSION;
    size_t held_ops = acked? self->held_ops: self->stats.queued_ops;
    size_t held_bytes = acked? self->held_bytes: self->stats.queued_bytes;
    if (acked && (held_ops + ops > self->queue_ops_max
              ||  held_bytes + bytes > self->queue_bytes_max)
    &&  zstate_client_coalesce (self, true)) {
        //  Full, but messages the server has not acknowledged hold keys
        //  more than once: fold them, one entry per key, and look again
        held_ops = self->held_ops;
        held_bytes = self->held_bytes;
    }
    if (held_ops + ops > self->queue_ops_max
    ||  held_bytes + bytes > self->queue_bytes_max) {
        self->stats.ops_rejected += ops;
        zstate_fail (ENOBUFS, "queue full: %zu ops / %zu bytes %s",
                     held_ops, held_bytes, acked? "not acknowledged": "queued");
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Queue the operations held in batch for (db, table), or send them at
//  once when the link is idle. Safe from any thread; returns at once.

static int
s_client_send (zstate_client_t *self, const char *db, const char *table,
               zstate_batch_t *batch, zstate_client_table_t *tab)
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
    if ((tab && zstate_client_table_admit (self, tab, batch))
    ||  s_client_admit (self, ops, bytes)) {
        pthread_mutex_unlock (&self->lock);
        return -1;
    }
    if (tab)
        zstate_client_table_accepted (self, tab, batch, false);
    if (self->version == ZSTATE_SESSION_VERSION) {
        self->held_ops += ops;
        self->held_bytes += bytes;
    }
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
        //  so going after them keeps every thread's own order, and the
        //  mirror follows that order.
        if (tab)
            zstate_client_table_accepted (self, tab, batch, true);
    }
    zstate_client_queue_ops (self, db, table, zstate_batch_data (batch), bytes, ops);
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


int
zstate_client_send (zstate_client_t *self, const char *db, const char *table,
                    zstate_batch_t *batch)
{
    return s_client_send (self, db, table, batch, NULL);
}

int
zstate_client_table_send (zstate_client_t *self, zstate_client_table_t *table,
                          zstate_batch_t *batch)
{
    return s_client_send (self, table->db, table->table, batch, table);
}


//  --------------------------------------------------------------------------
//  Operations of the locked client done at level (0: the granted level,
//  or with version 1 handed to the socket): acknowledged or refused

static uint64_t
s_client_done (zstate_client_t *self, int level)
{
    if (self->version != ZSTATE_SESSION_VERSION)
        return self->stats.ops_sent;
    //  Level 0 is the granted one (with REPLAY, DELIVERED counts done some held ops)
    int granted = self->stats.ack_level == ZSTATE_ACK_PERSISTED? ZSTATE_ACK_PERSISTED:
                                                                ZSTATE_ACK_DELIVERED;
    level = level? level: granted;
    if (level == ZSTATE_ACK_DELIVERED)
        return self->stats.ops_acked + self->outbox_delivered + self->stats.ops_refused;
    //  ZSTATE_ACK_PERSISTED, or LEVEL_FORGOTTEN
    return self->stats.ops_acked + self->stats.ops_refused;
}

//  Why the locked client cannot wait for level, or NULL when it can
static const char *
s_client_level_refused (zstate_client_t *self, int level)
{
    if (level == 0 || level == LEVEL_FORGOTTEN)
        return NULL;
    if (self->version != ZSTATE_SESSION_VERSION)
        return "protocol version 1 has no acknowledgements";
    if (level == ZSTATE_ACK_PERSISTED && self->ack_level != ZSTATE_ACK_PERSISTED)
        return "the client asked for level DELIVERED only";
    if (level == ZSTATE_ACK_PERSISTED && self->stats.ack_level == ZSTATE_ACK_DELIVERED)
        return "the server granted level DELIVERED only";
    return NULL;
}

//  Wait until every operation accepted before the call is done at level,
//  or timeout msecs pass (negative: no limit). Returns 0, or -1 with
//  errno and zstate_reason ().

static int
s_client_wait (zstate_client_t *self, int level, int timeout)
{
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
    const char *refused = s_client_level_refused (self, level);
#ifdef ZSTATE_SELFTEST
    if (self->hook)
        self->hook (self, ZSTATE_CLIENT_HOOK_FLUSH_WAIT, self->hook_arg);
#endif
    while (!refused && s_client_done (self, level) < target && !self->agent_ended) {
        int rc = timeout < 0? pthread_cond_wait (&self->progress, &self->lock):
                 pthread_cond_timedwait (&self->progress, &self->lock, &deadline);
        if (rc == ETIMEDOUT)
            break;
        refused = s_client_level_refused (self, level);
    }
    uint64_t reached = s_client_done (self, level);
    bool done = !refused && reached >= target;
    bool ended = self->agent_ended;
    bool acked = self->version == ZSTATE_SESSION_VERSION;
    size_t left = acked? (size_t) (done? 0: target - reached): self->stats.queued_ops;
    const char *what = acked? "not acknowledged": "queued";
    pthread_mutex_unlock (&self->lock);
    if (refused)
        return zstate_fail (ENOTSUP, "flush: cannot wait for level %s: %s",
                            zstate_client_ack_level_name (level), refused);
    if (done)
        return 0;
    if (ended)
        return zstate_fail (ESHUTDOWN, "flush: the client agent has ended with %zu ops "
                            "%s", left, what);
    return zstate_fail (ETIMEDOUT, "flush: %zu ops still %s after %d ms",
                        left, what, timeout);
}


//  --------------------------------------------------------------------------
//  Wait until every operation accepted so far is acknowledged at the
//  granted level (version 2) or handed to the socket (version 1), or
//  timeout msecs pass (negative: no limit). Returns 0, or -1 with
//  ETIMEDOUT.

int
zstate_client_flush (zstate_client_t *self, int timeout)
{
    assert (self);
    return s_client_wait (self, 0, timeout);
}


//  --------------------------------------------------------------------------
//  Wait as flush does, for level. Returns 0, or -1 with errno.

int
zstate_client_flush_level (zstate_client_t *self, int level, int timeout)
{
    assert (self);
    if (level != ZSTATE_ACK_DELIVERED && level != ZSTATE_ACK_PERSISTED)
        return zstate_fail (EINVAL, "flush: %d is not a level", level);
    return s_client_wait (self, level, timeout);
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
//  Return the name of an acknowledgement level.

const char *
zstate_client_ack_level_name (int level)
{
    switch (level) {
        case 0:                         return "NONE";
        case ZSTATE_ACK_DELIVERED:      return "DELIVERED";
        case ZSTATE_ACK_PERSISTED:      return "PERSISTED";
        default:                        return "UNKNOWN";
    }
}


//  --------------------------------------------------------------------------
//  Fill *stats with the current counters.

void
zstate_client_stats_fill (zstate_client_t *self, zstate_client_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->lock);
    *stats = self->stats;
    stats->ops_delivered = self->stats.ops_acked + self->outbox_delivered;
    stats->mirror_keys = zstate_client_mirror_keys (self);
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


#ifdef ZSTATE_SELFTEST
//  --------------------------------------------------------------------------
//  Selftest only: set the hook.

void
zstate_client_set_hook (zstate_client_t *self, zstate_client_hook_fn *hook, void *arg)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    self->hook = hook;
    self->hook_arg = arg;
    pthread_mutex_unlock (&self->lock);
}
#endif


//  The settings (zstate_client_set_*) are in zstate_client_settings.c; the
//  selftest, zstate_client_test, is selftest/zstate_client_test.c
