/*  =========================================================================
    zstate_consumer_agent - the consumer table's side that others drive:
    deliver, which the server calls on its own thread, and the actor that
    handles the consumer's commands

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The server appends each message it routes to us straight into the
    queue that pops reads (zstate_consumer_deliver), on the server's thread
    and under the queue's mutex: no thread stands between the two, so a
    message costs the application one wake-up, not two.
@discuss
    Waking the application: when deliver queues operations while none were
    pending it writes an eventfd (zstate_consumer_fd) and sends one token
    on a PAIR pipe (zstate_consumer_socket). When pops has popped the last
    pending operation it reads both back. Both happen under the queue's
    mutex, so the fd and the socket are readable exactly while operations
    are pending. The pipe's sending end is used only under that mutex, by
    the server's thread.

    Bounds: deliver refuses a message while the queue is at its bound. The
    server keeps that message, stops reading its clients and polls
    room_fd, which pops writes once the queue is down to half the bound;
    then the server delivers it and reads again.

    The actor is off the data path. It handles FORWARD, which it passes to
    the server (the server forwards each message to the writer before it
    delivers it, so a full writer stops the server the same way), and
    VERBOSE.
@end
*/

#include "zstate_classes.h"
#include "zstate_consumer_agent.h"

//  The actor's state
typedef struct {
    zsock_t *pipe;              //  command pipe from the wrapper
    zloop_t *loop;              //  our reactor
    zstate_consumer_t *owner;   //  the wrapper: names, link, verbose flag
} self_t;


//  --------------------------------------------------------------------------
//  Append msg to the queue; see zstate_classes.h. Runs on the server's
//  thread: what it shares with pops is under the mutex.

int
zstate_consumer_deliver (zstate_consumer_t *self, zmq_msg_t *msg, bool forwarded)
{
    assert (self);
    assert (msg);
    const byte *data = (const byte *) zmq_msg_data (msg);
    size_t size = zmq_msg_size (msg);
    //  The server has validated the whole message; the envelope is enough
    int reason = zstate_msg_decode_header (self->decoder, data, size);
    if (reason) {
        zsys_error ("zstate_consumer %s/%s: dropped a message the server should "
                    "have rejected (%s)", self->db, self->table,
                    zstate_msg_reason_str (reason));
        zmq_msg_close (msg);
        zmq_msg_init (msg);
        return 0;
    }
    size_t ops_size;
    const byte *ops = zstate_msg_ops (self->decoder, &ops_size);
    //  Allocate before we lock, to keep pops waiting as little as we can
    zstate_consumer_entry_t *entry =
        (zstate_consumer_entry_t *) zmalloc (sizeof (zstate_consumer_entry_t));
    assert (entry);
    //  Offsets, not pointers: a small message's data lives inside the
    //  zmq_msg_t itself, which moves now
    entry->offset = (size_t) (ops - data);
    entry->end = entry->offset + ops_size;
    entry->ops_left = zstate_msg_op_count (self->decoder);

    pthread_mutex_lock (&self->mutex);
    if (zstate_consumer_queue_full (self)) {
        //  room_fd may still be readable from the last time we were full;
        //  the server must see it readable only once pops has made room
        zstate_consumer_eventfd_clear (self->room_fd);
        self->server_waits = true;
        self->stats.stalls++;
        bool verbose = self->verbose;
        pthread_mutex_unlock (&self->mutex);
        free (entry);
        if (verbose)
            zsys_debug ("zstate_consumer %s/%s: queue full, the server waits",
                        self->db, self->table);
        return -1;
    }
    zmq_msg_init (&entry->msg);
    zmq_msg_move (&entry->msg, msg);
    if (self->tail)
        self->tail->next = entry;
    else
        self->head = entry;
    self->tail = entry;
    bool was_idle = self->stats.queued_ops == 0;
    self->stats.messages++;
    self->stats.ops += entry->ops_left;
    self->stats.queued_ops += entry->ops_left;
    self->stats.queued_bytes += size;
    if (forwarded)
        self->stats.forwarded++;
    if (was_idle) {
        //  Nothing was pending: the one moment the application is woken.
        //  The token goes last, just before we unlock, so that an
        //  application woken by it seldom finds the lock still held.
        zstate_consumer_eventfd_set (self->ready_fd);
        int rc = zmq_send (zsock_resolve (self->token_backend), "", 0, ZMQ_DONTWAIT);
        assert (rc == 0);
    }
    pthread_mutex_unlock (&self->mutex);
    return 0;
}


//  --------------------------------------------------------------------------
//  Return the eventfd the server polls while the queue is full.

int
zstate_consumer_room_fd (zstate_consumer_t *self)
{
    assert (self);
    return self->room_fd;
}


//  --------------------------------------------------------------------------
//  The actor

static int
    s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg);

static self_t *
s_self_new (zsock_t *pipe, zstate_consumer_t *owner)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->owner = owner;
    self->loop = zloop_new ();
    assert (self->loop);
    zloop_set_nonstop (self->loop, true);
    int rc = zloop_reader (self->loop, pipe, s_self_handle_pipe, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, pipe);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        zloop_destroy (&self->loop);
        free (self);
        *self_p = NULL;
    }
}

static bool
s_verbose (self_t *self)
{
    pthread_mutex_lock (&self->owner->mutex);
    bool verbose = self->owner->verbose;
    pthread_mutex_unlock (&self->owner->mutex);
    return verbose;
}

//  The server forwards, since it is the one that has the messages; we ask
//  it through the link, which never waits for us, so no cycle of waits
static void
s_handle_forward (self_t *self, zmsg_t *request)
{
    zstate_consumer_t *owner = self->owner;
    char *endpoint = zmsg_popstr (request);
    const char *target = endpoint? endpoint: "";
    int status = 0;
    char reason [256] = "";
    if (zstate_server_link_forward (owner->link, owner->db, owner->table, owner->name,
                                    target) == -1) {
        status = errno;
        snprintf (reason, sizeof (reason), "%s", zstate_reason ());
        //  A server that is gone sends nothing more, so there is nothing
        //  left to stop
        if (status == ENOENT && !*target)
            status = 0;
    }
    if (status == 0 && s_verbose (self))
        zsys_debug ("zstate_consumer %s/%s: forwarding to %s", owner->db, owner->table,
                    *target? target: "nobody");
    zstate_reply (self->pipe, "FORWARD", status, status? reason: "", false);
    free (endpoint);
}

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    self_t *self = (self_t *) arg;
    zmsg_t *request = zmsg_recv (pipe);
    if (!request)
        return -1;              //  Interrupted
    char *command = zmsg_popstr (request);
    int rc = 0;
    if (!command)
        zsys_error ("zstate_consumer: empty command");
    else {
        if (s_verbose (self))
            zsys_debug ("zstate_consumer %s/%s: API command=%s",
                        self->owner->db, self->owner->table, command);
        if (streq (command, "$TERM"))
            rc = -1;
        else
        if (streq (command, "FORWARD"))
            s_handle_forward (self, request);
        else
        if (streq (command, "VERBOSE")) {
            char *flag = zmsg_popstr (request);
            pthread_mutex_lock (&self->owner->mutex);
            self->owner->verbose = !flag || !streq (flag, "0");
            pthread_mutex_unlock (&self->owner->mutex);
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

void
zstate_consumer_agent (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zstate_consumer_t *) args);
    zsock_signal (pipe, 0);
    zloop_start (self->loop);
    s_self_destroy (&self);
}
