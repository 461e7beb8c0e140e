/*  =========================================================================
    zstate_sonic_client - sends operations to a SONiC consumer in SONiC frames

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    send () encodes on the caller's thread and appends the frames to a
    queue under the client's mutex; the agent takes them from its head and
    hands them to the PUSH without blocking. A frame the socket does not
    take goes back to the head, so the order holds, and the agent tries
    again on a timer that backs off.
@discuss
    The queue transitions from empty to not empty wake the agent with one
    byte on a PAIR of its own, so a busy sender costs the agent nothing
    beyond the sends themselves.
@end
*/

#include "zstate_classes.h"
#include "zstate_sonic_msg_private.h"

#define QUEUE_OPS_DEFAULT   ZSTATE_OPS_MAX
#define QUEUE_BYTES_DEFAULT (256 * 1024 * 1024)
#define LINGER_DEFAULT      5000

//  One queued frame and the operations it holds
typedef struct {
    zframe_t *frame;
    size_t ops;
} item_t;

struct _zstate_sonic_client_t {
    zstate_actor_t *actor;
    zsock_t *wake;              //  to the agent, under mutex
    zsock_t *wake_backend;      //  the agent's end, until it takes it
    pthread_mutex_t mutex;      //  guards everything below
    pthread_cond_t sent;        //  signalled when ops_sent grows
    zlist_t *queue;             //  item_t, oldest first
    size_t queue_ops_max;
    size_t queue_bytes_max;
    int retry_ivl, retry_max, retry_timeout;
    int linger;
    int sndhwm;
    bool connected;             //  connect succeeded
    zstate_sonic_client_stats_t stats;
};

//  The agent
typedef struct {
    zstate_sonic_client_t *client;
    zsock_t *pipe;
    zsock_t *wake;
    zloop_t *loop;
    zsock_t *push;
    int timer;                  //  retry timer, 0 when none
    int ivl;                    //  next retry interval
    int64_t stuck_since;        //  when sends started failing, 0 if they do not
    bool verbose;
} agent_t;


//  --------------------------------------------------------------------------
//  The agent: the queue's head to the socket.

static int
    s_agent_drain (agent_t *self);

static int
s_retry_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    agent_t *self = (agent_t *) arg;
    self->timer = 0;
    return s_agent_drain (self);
}

//  The socket took nothing: try again later, and fail when that has
//  lasted retry-timeout (under the client's mutex)
static void
s_agent_stuck (agent_t *self)
{
    zstate_sonic_client_t *client = self->client;
    int64_t now = zclock_mono ();
    if (self->stuck_since == 0) {
        self->stuck_since = now;
        self->ivl = client->retry_ivl;
    }
    else
        self->ivl = self->ivl * 2 > client->retry_max? client->retry_max: self->ivl * 2;
    client->stats.retries++;
    if (client->stats.state != ZSTATE_CLIENT_FAILED && client->retry_timeout > 0
    &&  now - self->stuck_since >= client->retry_timeout) {
        client->stats.state = ZSTATE_CLIENT_FAILED;
        zsys_warning ("zstate_sonic_client: nothing sent for %d msecs, FAILED",
                      client->retry_timeout);
    }
    self->timer = zloop_timer (self->loop, self->ivl < 1? 1: self->ivl, 1,
                               s_retry_timer, self);
    assert (self->timer != -1);
}

static int
s_agent_drain (agent_t *self)
{
    zstate_sonic_client_t *client = self->client;
    if (!self->push || self->timer)
        return 0;               //  not connected, or waiting to retry
    pthread_mutex_lock (&client->mutex);
    item_t *item;
    while ((item = (item_t *) zlist_pop (client->queue))) {
        size_t size = zframe_size (item->frame);
        pthread_mutex_unlock (&client->mutex);
        int rc = zframe_send (&item->frame, self->push, ZFRAME_DONTWAIT);
        pthread_mutex_lock (&client->mutex);
        if (rc) {
            zlist_push (client->queue, item);
            s_agent_stuck (self);
            break;
        }
        self->stuck_since = 0;
        client->stats.state = ZSTATE_CLIENT_CONNECTED;
        client->stats.ops_sent += item->ops;
        client->stats.frames_sent++;
        client->stats.bytes_sent += size;
        client->stats.queued_ops -= item->ops;
        client->stats.queued_bytes -= size;
        free (item);
        pthread_cond_broadcast (&client->sent);
    }
    pthread_mutex_unlock (&client->mutex);
    return 0;
}

static int
s_wake_readable (zloop_t *loop, zsock_t *wake, void *arg)
{
    (void) loop;
    zframe_t *frame = zframe_recv (wake);
    zframe_destroy (&frame);
    return s_agent_drain ((agent_t *) arg);
}

static void
s_handle_connect (agent_t *self, zmsg_t *request)
{
    zstate_sonic_client_t *client = self->client;
    char *endpoint = zmsg_popstr (request);
    int rc = 0;
    if (self->push)
        rc = zstate_fail (EISCONN, "connected already");
    else {
        self->push = zsock_new (ZMQ_PUSH);
        assert (self->push);
        //  As SONiC's ZmqClient, but with our linger (frames handed to the
        //  socket still go out when the client is closed) and immediate:
        //  with no connection up the socket takes nothing, so frames wait
        //  in our bounded queue and the retry timeout sees a missing peer
        zsock_set_immediate (self->push, 1);
        pthread_mutex_lock (&client->mutex);
        zsock_set_sndhwm (self->push, client->sndhwm);
        zsock_set_linger (self->push, client->linger);
        pthread_mutex_unlock (&client->mutex);
        zsock_set_tcp_keepalive (self->push, 1);
        zsock_set_tcp_keepalive_idle (self->push, 5);
        zsock_set_tcp_keepalive_intvl (self->push, 1);
        zsock_set_tcp_keepalive_cnt (self->push, 5);
        if (!endpoint || zmq_connect (zsock_resolve (self->push), endpoint)) {
            rc = zstate_fail (endpoint? zmq_errno (): EINVAL, "cannot connect to %s: %s",
                              endpoint? endpoint: "(none)", zmq_strerror (zmq_errno ()));
            zsock_destroy (&self->push);
        }
    }
    if (rc == 0) {
        pthread_mutex_lock (&client->mutex);
        client->connected = true;
        client->stats.state = ZSTATE_CLIENT_CONNECTING;
        pthread_mutex_unlock (&client->mutex);
    }
    zstate_reply (self->pipe, "CONNECT", rc? errno: 0, rc? zstate_reason (): "", false);
    free (endpoint);
    s_agent_drain (self);
}

//  One command; -1 when the agent has no such command
static int
s_handle_command (void *arg, const char *command, zmsg_t *request)
{
    agent_t *self = (agent_t *) arg;
    if (streq (command, "CONNECT"))
        s_handle_connect (self, request);
    else
    if (streq (command, "VERBOSE")) {
        char *flag = zmsg_popstr (request);
        self->verbose = !flag || !streq (flag, "0");
        free (flag);
        zstate_reply (self->pipe, "VERBOSE", 0, "", false);
    }
    else
        return -1;
    return 0;
}

static int
s_pipe_readable (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    return zstate_actor_command (pipe, "zstate_sonic_client:", false, s_handle_command, arg);
}

static void
s_agent (zsock_t *pipe, void *args)
{
    agent_t *self = (agent_t *) zmalloc (sizeof (agent_t));
    assert (self);
    self->client = (zstate_sonic_client_t *) args;
    self->pipe = pipe;
    self->loop = zloop_new ();
    assert (self->loop);
    zloop_set_nonstop (self->loop, true);
    //  zstate_actor_new waits for our signal, so the client is not used yet
    self->wake = self->client->wake_backend;
    self->client->wake_backend = NULL;
    assert (self->wake);
    int rc = zloop_reader (self->loop, pipe, s_pipe_readable, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, pipe);
    rc = zloop_reader (self->loop, self->wake, s_wake_readable, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, self->wake);
    zsock_signal (pipe, 0);
    zstate_actor_loop (self->loop);
    zloop_destroy (&self->loop);
    zsock_destroy (&self->push);
    zsock_destroy (&self->wake);
    free (self);
}


//  --------------------------------------------------------------------------
//  The wrapper.

zstate_sonic_client_t *
zstate_sonic_client_new (void)
{
    //  The actor's pipe, the wake PAIR (two each) and the PUSH
    if (zstate_sock_reserve ("zstate_sonic_client_new", 5))
        return NULL;
    zstate_sonic_client_t *self = (zstate_sonic_client_t *) zmalloc (sizeof (*self));
    assert (self);
    int rc = pthread_mutex_init (&self->mutex, NULL);
    assert (rc == 0);
    rc = pthread_cond_init (&self->sent, NULL);
    assert (rc == 0);
    self->queue = zlist_new ();
    self->queue_ops_max = QUEUE_OPS_DEFAULT;
    self->queue_bytes_max = QUEUE_BYTES_DEFAULT;
    self->retry_ivl = 1;
    self->retry_max = 100;
    self->retry_timeout = 10000;
    self->linger = LINGER_DEFAULT;
    self->sndhwm = 10000;
    self->stats.state = ZSTATE_CLIENT_IDLE;
    self->wake = zstate_actor_create_pipe (&self->wake_backend);
    self->actor = zstate_actor_new (s_agent, self);
    assert (!self->wake_backend);
    return self;
}

void
zstate_sonic_client_destroy (zstate_sonic_client_t **self_p)
{
    assert (self_p);
    if (*self_p)
        zstate_sonic_client_close (self_p, (*self_p)->linger);
}

size_t
zstate_sonic_client_close (zstate_sonic_client_t **self_p, int timeout)
{
    assert (self_p);
    zstate_sonic_client_t *self = *self_p;
    if (!self)
        return 0;
    if (self->connected)
        zstate_sonic_client_flush (self, timeout);
    zstate_actor_destroy (&self->actor);
    size_t unsent = self->stats.queued_ops;
    if (unsent)
        zsys_warning ("zstate_sonic_client: %zu operations not sent", unsent);
    item_t *item;
    while ((item = (item_t *) zlist_pop (self->queue))) {
        zframe_destroy (&item->frame);
        free (item);
    }
    zlist_destroy (&self->queue);
    zsock_destroy (&self->wake);
    pthread_cond_destroy (&self->sent);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
    return unsent;
}

int
zstate_sonic_client_connect (zstate_sonic_client_t *self, const char *endpoint)
{
    assert (self);
    if (!endpoint || !*endpoint)
        return zstate_fail (EINVAL, "CONNECT: no endpoint");
    return zstate_actor_request (self->actor, ZSTATE_ACTOR_TIMEOUT, NULL, "ss",
                                 "CONNECT", endpoint);
}

//  Encode the call into frames of at most ZSTATE_MESSAGE_MAX bytes, in
//  order, onto frames; returns 0 or -1 with errno
static int
s_encode (const char *db, const char *table, zstate_batch_t *batch, zlist_t *frames,
          size_t *hsets_p)
{
    if (!zstate_msg_name_valid (db) || !zstate_msg_name_valid (table))
        return zstate_fail (EINVAL, "db and table names must be 1 to %d bytes",
                            ZSTATE_NAME_MAX);
    if (!batch || zstate_batch_size (batch) == 0)
        return zstate_fail (EINVAL, "batch is empty");
    size_t count = zstate_batch_size (batch);
    size_t header = zstate_sonic_msg_header_size (db, table);
    size_t first = 0;
    while (first < count) {
        size_t size = header, next = first;
        while (next < count
           &&  (next == first
             || zstate_sonic_msg_op_size (batch, next) <= ZSTATE_MESSAGE_MAX - size)) {
            size += zstate_sonic_msg_op_size (batch, next);
            next++;
        }
        size_t hsets = 0;
        zframe_t *frame = zstate_sonic_msg_encode_range (db, table, batch, first,
                                                         next - first, &hsets);
        if (!frame)
            return -1;
        item_t *item = (item_t *) zmalloc (sizeof (item_t));
        assert (item);
        item->frame = frame;
        item->ops = next - first;
        zlist_append (frames, item);
        *hsets_p += hsets;
        first = next;
    }
    return 0;
}

static void
s_frames_destroy (zlist_t **frames_p)
{
    item_t *item;
    while ((item = (item_t *) zlist_pop (*frames_p))) {
        zframe_destroy (&item->frame);
        free (item);
    }
    zlist_destroy (frames_p);
}

//  Count a refused call; returns -1 with errno as it was
static int
s_refuse (zstate_sonic_client_t *self, size_t ops)
{
    int error = errno;
    pthread_mutex_lock (&self->mutex);
    self->stats.ops_rejected += ops;
    if (error == ENOTSUP)
        self->stats.empty_sets++;
    pthread_mutex_unlock (&self->mutex);
    errno = error;
    return -1;
}

//  Check the queue's bounds and state for a call (under mutex)
static int
s_admit (zstate_sonic_client_t *self, size_t ops, size_t bytes)
{
    if (self->stats.state == ZSTATE_CLIENT_FAILED)
        return zstate_fail (ENOTCONN, "the SONiC link FAILED: nothing went out for %d msecs",
                            self->retry_timeout);
    if (ops > self->queue_ops_max || bytes > self->queue_bytes_max)
        return zstate_fail (EMSGSIZE, "call of %zu operations, %zu bytes is over the "
                            "queue bounds", ops, bytes);
    if (ops > self->queue_ops_max - self->stats.queued_ops
    ||  bytes > self->queue_bytes_max - self->stats.queued_bytes)
        return zstate_fail (ENOBUFS, "queue full: %zu operations, %zu bytes queued",
                            self->stats.queued_ops, self->stats.queued_bytes);
    return 0;
}

int
zstate_sonic_client_send (zstate_sonic_client_t *self, const char *db, const char *table,
                          zstate_batch_t *batch)
{
    assert (self);
    size_t ops = batch? zstate_batch_size (batch): 0;
    zlist_t *frames = zlist_new ();
    size_t hsets = 0, bytes = 0;
    if (s_encode (db, table, batch, frames, &hsets)) {
        s_frames_destroy (&frames);
        return s_refuse (self, ops);
    }
    for (item_t *item = (item_t *) zlist_first (frames); item;
         item = (item_t *) zlist_next (frames))
        bytes += zframe_size (item->frame);

    pthread_mutex_lock (&self->mutex);
    int rc = s_admit (self, ops, bytes);
    if (rc == 0) {
        bool was_empty = zlist_size (self->queue) == 0;
        item_t *item;
        while ((item = (item_t *) zlist_pop (frames)))
            zlist_append (self->queue, item);
        self->stats.ops_accepted += ops;
        self->stats.hsets += hsets;
        self->stats.queued_ops += ops;
        self->stats.queued_bytes += bytes;
        //  The pipe may be full when the agent is far behind; it drains
        //  the whole queue when it wakes, so one byte pending is enough.
        //  libzmq fails even this send with EINTR: hold signals, or the
        //  agent might never hear of the queue
        if (was_empty) {
            sigset_t saved;
            zstate_actor_block_signals (&saved);
            zmq_send (zsock_resolve (self->wake), "", 0, ZMQ_DONTWAIT);
            pthread_sigmask (SIG_SETMASK, &saved, NULL);
        }
    }
    pthread_mutex_unlock (&self->mutex);
    s_frames_destroy (&frames);
    return rc? s_refuse (self, ops): 0;
}

int
zstate_sonic_client_flush (zstate_sonic_client_t *self, int timeout)
{
    assert (self);
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    int64_t nsecs = deadline.tv_nsec + (int64_t) (timeout < 0? 0: timeout) * 1000000;
    deadline.tv_sec += nsecs / 1000000000;
    deadline.tv_nsec = nsecs % 1000000000;
    pthread_mutex_lock (&self->mutex);
    uint64_t target = self->stats.ops_accepted;
    int rc = 0;
    while (rc == 0 && self->stats.ops_sent < target) {
        if (timeout < 0)
            pthread_cond_wait (&self->sent, &self->mutex);
        else
            rc = pthread_cond_timedwait (&self->sent, &self->mutex, &deadline);
    }
    bool done = self->stats.ops_sent >= target;
    pthread_mutex_unlock (&self->mutex);
    return done? 0: zstate_fail (ETIMEDOUT, "flush: not all sent after %d msecs", timeout);
}

int
zstate_sonic_client_state (zstate_sonic_client_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    int state = self->stats.state;
    pthread_mutex_unlock (&self->mutex);
    return state;
}

void
zstate_sonic_client_stats_sized (zstate_sonic_client_t *self,
                                 zstate_sonic_client_stats_t *stats, size_t size)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->mutex);
    zstate_sonic_client_stats_t whole = self->stats;
    pthread_mutex_unlock (&self->mutex);
    zstate_stats_copy (&whole, sizeof (whole), stats, size);
}

void
zstate_sonic_client_set_queue (zstate_sonic_client_t *self, size_t ops, size_t bytes)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->queue_ops_max = ops;
    self->queue_bytes_max = bytes;
    pthread_mutex_unlock (&self->mutex);
}

void
zstate_sonic_client_set_retry (zstate_sonic_client_t *self, int ivl, int max_ivl, int timeout)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->retry_ivl = ivl < 1? 1: ivl;
    self->retry_max = max_ivl < self->retry_ivl? self->retry_ivl: max_ivl;
    self->retry_timeout = timeout < 0? 0: timeout;
    pthread_mutex_unlock (&self->mutex);
}

void
zstate_sonic_client_set_linger (zstate_sonic_client_t *self, int linger)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->linger = linger;
    pthread_mutex_unlock (&self->mutex);
}

int
zstate_sonic_client_set_sndhwm (zstate_sonic_client_t *self, int sndhwm)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    int rc = 0;
    if (sndhwm < 0)
        rc = zstate_fail (EINVAL, "send high-water mark must be 0 or more");
    else
    if (self->connected)
        rc = zstate_fail (EBUSY, "set the send high-water mark before connect");
    else
        self->sndhwm = sndhwm;
    pthread_mutex_unlock (&self->mutex);
    return rc;
}

void
zstate_sonic_client_set_verbose (zstate_sonic_client_t *self, bool verbose)
{
    assert (self);
    zstate_actor_request (self->actor, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "VERBOSE",
                          verbose? 1: 0);
}

zactor_t *
zstate_sonic_client_actor (zstate_sonic_client_t *self)
{
    assert (self);
    return zstate_actor_zactor (self->actor);
}
