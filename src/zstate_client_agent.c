/*  =========================================================================
    zstate_client_agent - the client agent: the actor behind zstate_client

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The agent creates and closes the DEALER, sets it up, connects it,
    watches the link, and sends whatever the senders could not send
    themselves: it takes the client's queue of wire messages when woken
    through the eventfd and hands them to libzmq without copying them.
    zstate_client.c is the wrapper, the senders' side and the selftest;
    zstate_client_agent.h holds what the two share and the locking rules.
@discuss
    Every use of the DEALER is under the client's socket_lock, because
    senders use it too (the fast path in zstate_client_send). While the
    agent holds messages it has not sent yet it says so in agent_busy,
    under the client lock; senders then leave the socket alone and queue,
    so the agent's messages keep their order, their sequence numbers and
    their batching. The agent never waits for the client lock while it
    holds the socket.

    Each buffer is one wire message: a header written by the sender with
    sequence 0 and count 0, then encoded operations for one (db, table).
    The agent patches the sequence number and count just before sending.
    When a send returns EAGAIN the buffer stays, as a ready zmq_msg_t, at
    the head of the outbox and is retried on a one-shot timer with
    exponential backoff; libzmq leaves a message it could not send to us.

    Link state (zstate_client_link.c) comes from zmq_socket_monitor on
    the DEALER (tcp and ipc); inproc has no monitor events and counts as
    connected once connect succeeds. No ZMQ_IMMEDIATE: the DEALER then queues for a server that
    does not exist yet, which is how a late server start loses nothing.
@end
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"

//  Messages the agent hands to the socket between two updates of the
//  shared counters, so flush sees progress during a long send pass
#define COMMIT_EVERY            64


//  --------------------------------------------------------------------------
//  Message buffers

//  libzmq calls this when it is done with a message we handed it
static void
s_free_data (void *data, void *hint)
{
    (void) hint;
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
        zstate_client_marker_destroy (&self->marker);
        free (self);
        *self_p = NULL;
    }
}

//  Free a list of buffers, ready or not: the agent's outbox, and what is
//  left in the client's queue at the end

void
zstate_client_buffers_destroy (buffer_t **head_p)
{
    buffer_t *buffer = *head_p;
    while (buffer) {
        buffer_t *next = buffer->next;
        s_buffer_destroy (&buffer);
        buffer = next;
    }
    *head_p = NULL;
}


//  --------------------------------------------------------------------------
//  Hand frame to the DEALER and, with version 2, keep a reference to it in
//  the outbox (libzmq shares the data, nothing is copied). Called holding
//  socket_lock. Returns 0, or -1 with zmq_errno (); the caller then still
//  owns frame.

int
zstate_client_send_frame (zstate_client_t *client, zmq_msg_t *frame,
                          size_t ops, size_t extra, size_t bytes)
{
    void *handle = zsock_resolve (client->dealer);
    if (client->version != ZSTATE_SESSION_VERSION) {
        if (zmq_msg_send (frame, handle, ZMQ_DONTWAIT) == -1)
            return -1;
        client->sequence++;
        return 0;
    }
    zmq_msg_t keep;
    zmq_msg_init (&keep);
    int rc = zmq_msg_copy (&keep, frame);
    assert (rc == 0);
    if (zmq_msg_send (frame, handle, ZMQ_DONTWAIT) == -1) {
        int error = zmq_errno ();
        zmq_msg_close (&keep);
        errno = error;
        return -1;
    }
    client->sequence++;
    zstate_outbox_keep_folded (client->outbox, client->sequence, &keep, ops + extra,
                               ops, bytes);
    zmq_msg_close (&keep);
    return 0;
}


//  --------------------------------------------------------------------------
//  The agent


static int s_self_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg);
static int s_self_handle_wake (zloop_t *loop, zmq_pollitem_t *item, void *arg);

//  Windows are the same only when they are one
static int
s_same_window (const void *item1, const void *item2)
{
    return item1 == item2? 0: item1 < item2? -1: 1;
}

static self_t *
s_self_new (zsock_t *pipe, zstate_client_t *client)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->client = client;
    self->pipe = pipe;
    //  Under the lock only so that thread checkers see the hand-over,
    //  which the actor handshake already orders
    pthread_mutex_lock (&client->lock);
    self->events = client->events_backend;
    client->events_backend = NULL;
    pthread_mutex_unlock (&client->lock);
    //  Events are never worth blocking the agent for
    zsock_set_sndtimeo (self->events, 0);
    //  Senders see the socket only under socket_lock, which also makes its
    //  creation here visible to them
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    pthread_mutex_lock (&client->socket_lock);
    client->dealer = dealer;
    pthread_mutex_unlock (&client->socket_lock);
    snprintf (self->log_prefix, sizeof (self->log_prefix), "zstate_client %.8s:",
              client->session_text);
    self->retry_timer = -1;
    self->link_timer = -1;
    self->tick_timer = -1;
    self->dealer_fd = -1;
    self->state = ZSTATE_CLIENT_IDLE;
    self->liveness = zstate_client_liveness_new ();
    self->open_windows = zlistx_new ();
    assert (self->open_windows);
    zlistx_set_comparator (self->open_windows, s_same_window);
    self->replay_chunks = zlistx_new ();
    assert (self->replay_chunks);
    zlistx_set_destructor (self->replay_chunks, zstate_client_session_chunk_free);

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
        //  Closing never blocks; libzmq keeps writing what it was handed
        //  for up to linger in its own threads
        pthread_mutex_lock (&client->lock);
        int linger = client->linger;
        buffer_t *queue = client->queue_head;
        client->queue_head = client->queue_tail = NULL;
        //  Senders and flush must not wait for us any more
        client->agent_ended = true;
        pthread_cond_broadcast (&client->progress);
        pthread_mutex_unlock (&client->lock);
        pthread_mutex_lock (&client->socket_lock);
        if (self->monitor)
            zmq_socket_monitor (zsock_resolve (client->dealer), NULL, 0);
        zsock_set_linger (client->dealer, linger);
        zsock_destroy (&client->dealer);
        pthread_mutex_unlock (&client->socket_lock);
        zsock_destroy (&self->monitor);
        zstate_client_buffers_destroy (&self->outbox_head);
        zstate_client_buffers_destroy (&queue);
        zsock_destroy (&self->events);
        zlistx_destroy (&self->open_windows);
        zlistx_destroy (&self->replay_chunks);
        zstate_client_liveness_destroy (&self->liveness);
        zstr_free (&self->endpoint);
        zstr_free (&self->monitor_endpoint);
        free (self);
        *self_p = NULL;
    }
}

//  Send an event; the application may not read them, so never wait
void
zstate_client_agent_event (self_t *self, const char *type, const char *detail)
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
void
zstate_client_agent_update_state (self_t *self, const char *reason)
{
    int state;
    if (!self->endpoint)
        state = ZSTATE_CLIENT_IDLE;
    else
    if (self->link_failed || self->retry_failed || self->silent_failed)
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
    zstate_client_agent_event (self, "STATE", name);
    if (state == ZSTATE_CLIENT_FAILED)
        zsys_warning ("%s FAILED: %s", self->log_prefix, reason? reason: "");
    else
    if (state == ZSTATE_CLIENT_DISCONNECTED)
        zsys_warning ("%s DISCONNECTED from %s", self->log_prefix, self->endpoint);
    else
        zsys_info ("%s %s %s", self->log_prefix, name, self->endpoint);
}

//  Publish what was handed to the socket since the last commit, and wake
//  whoever flushes. Also publish whether we still hold unsent messages:
//  while we do, senders queue behind them instead of using the socket.
//  Called without socket_lock (lock order).
static void
s_self_commit (self_t *self)
{
    bool busy = self->outbox_head != NULL;
    if (!self->pending_messages && busy == self->busy && !self->pending_dropped)
        return;
    zstate_client_t *client = self->client;
    int64_t now = busy? 0: zclock_usecs ();
    pthread_mutex_lock (&client->lock);
    assert (client->stats.queued_ops >= self->pending_ops);
    assert (client->stats.queued_bytes >= self->pending_bytes);
    client->stats.queued_ops -= self->pending_ops;
    client->stats.queued_bytes -= self->pending_bytes;
    client->stats.ops_sent += self->pending_accepted;
    client->stats.messages_sent += self->pending_messages;
    client->stats.bytes_sent += self->pending_wire_bytes;
    client->stats.windows_dropped += self->pending_dropped;
    client->agent_busy = busy;
    if (!busy)
        client->last_busy = now;
    pthread_cond_broadcast (&client->progress);
    pthread_mutex_unlock (&client->lock);
    self->busy = busy;
    self->pending_ops = 0;
    self->pending_accepted = 0;
    self->pending_bytes = 0;
    self->pending_messages = 0;
    self->pending_wire_bytes = 0;
    if (self->pending_dropped) {
        zsys_warning ("%s %zu window(s) dropped: RESYNC was not granted, "
                      "their operations merge", self->log_prefix, self->pending_dropped);
        zstate_client_agent_event (self, "WINDOW", "dropped: RESYNC not granted");
        self->pending_dropped = 0;
    }
}

//  A message encoded from the outbox's unsent backlog, appended to a list
typedef struct {
    buffer_t **head_p;
    buffer_t **tail_p;
    size_t ops;                 //  Operations the messages carry
    size_t bytes;               //  Their payload bytes
} unsent_list_t;

static void
s_unsent_emit (void *arg, zmq_msg_t *frame, uint64_t sequence, size_t ops, size_t wire_ops,
               size_t bytes)
{
    (void) sequence;            //  0: numbered as it is sent
    unsent_list_t *list = (unsent_list_t *) arg;
    buffer_t *buffer = (buffer_t *) zmalloc (sizeof (buffer_t));
    assert (buffer);
    zmq_msg_init (&buffer->msg);
    int rc = zmq_msg_move (&buffer->msg, frame);
    assert (rc == 0);
    buffer->ready = true;
    buffer->data = (byte *) zmq_msg_data (&buffer->msg);
    buffer->size = buffer->max = zmq_msg_size (&buffer->msg);
    buffer->header_size = buffer->size - bytes;
    buffer->ops = wire_ops;
    buffer->extra = ops - wire_ops;
    if (*list->tail_p)
        (*list->tail_p)->next = buffer;
    else
        *list->head_p = buffer;
    *list->tail_p = buffer;
    list->ops += wire_ops;
    list->bytes += bytes;
}

//  In the locked client: encode the outbox's unsent backlog into messages
//  numbered when they are sent; the bounds and queued counts go from its
//  keys and bytes to what the messages carry
static void
s_self_take_unsent (self_t *self, buffer_t **head_p, buffer_t **tail_p)
{
    zstate_client_t *client = self->client;
    unsent_list_t list = { .head_p = head_p, .tail_p = tail_p };
    pthread_mutex_lock (&client->socket_lock);
    size_t keys = zstate_outbox_unsent_keys (client->outbox);
    size_t bytes = zstate_outbox_unsent_bytes (client->outbox);
    zstate_outbox_take_unsent (client->outbox, client->session, client->batch_ops_max,
                               client->batch_bytes_max, s_unsent_emit, &list);
    pthread_mutex_unlock (&client->socket_lock);
    assert (list.ops == keys);
    client->unsent_keys = 0;
    client->held_ops = client->held_ops + list.ops - keys;
    client->stats.queued_ops = client->stats.queued_ops + list.ops - keys;
    assert (client->held_bytes + list.bytes >= bytes);
    assert (client->stats.queued_bytes + list.bytes >= bytes);
    client->held_bytes = client->held_bytes + list.bytes - bytes;
    client->stats.queued_bytes = client->stats.queued_bytes + list.bytes - bytes;
}

//  Move the client's whole queue to the end of our outbox. From here on a
//  sender starts a new message, and writes the eventfd again. Taking the
//  queue and saying we are busy is one step: a sender that finds the
//  queue empty must also find us busy until what we took has gone out,
//  or it could overtake its own earlier operations.
static void
s_self_take_queue (self_t *self)
{
    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    buffer_t *head = client->queue_head;
    buffer_t *tail = client->queue_tail;
    client->queue_head = client->queue_tail = NULL;
    client->woken = false;
    if (client->unsent_keys) {
        //  What was queued before folded into the outbox: it goes first
        buffer_t *unsent = NULL, *last = NULL;
        s_self_take_unsent (self, &unsent, &last);
        if (unsent) {
            last->next = head;
            if (!head)
                tail = last;
            head = unsent;
        }
    }
    if (head || self->outbox_head) {
        client->agent_busy = true;
        self->busy = true;
    }
    pthread_mutex_unlock (&client->lock);
    if (head) {
        if (self->outbox_tail)
            self->outbox_tail->next = head;
        else
            self->outbox_head = head;
        self->outbox_tail = tail;
    }
}

//  A marker went as sequence: a BEGIN opens its window, whose END takes
//  the sequence as begin; an END closes it (also when it was dropped)
static void
s_self_marker_sent (self_t *self, marker_t *marker, uint64_t sequence)
{
    if (marker->type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN) {
        marker->window->begin = sequence;
        zlistx_add_end (self->open_windows, marker->window);
    }
    else {
        void *handle = zlistx_find (self->open_windows, marker->window);
        if (handle)
            zlistx_delete (self->open_windows, handle);
    }
}

//  A marker at the head of our outbox, holding socket_lock: encode it as
//  the next message, or drop it when our WELCOME did not grant windows
//  (or an END whose BEGIN was dropped). Returns false when dropped.
static bool
s_self_marker (self_t *self, buffer_t *buffer)
{
    zstate_client_t *client = self->client;
    marker_t *marker = buffer->marker;
    uint64_t sequence = client->sequence + 1;
    bool begin = marker->type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN;
    if (!self->resync || (!begin && !marker->window->begin)) {
        self->outbox_head = buffer->next;
        if (!self->outbox_head)
            self->outbox_tail = NULL;
        if (begin)
            self->pending_dropped++;
        else
            s_self_marker_sent (self, marker, 0);   //  The window is over
        s_buffer_destroy (&buffer);
        return false;
    }
    //  Encoded again on every try: a renumbering WELCOME since the last
    //  may have moved its sequence or its BEGIN's
    if (buffer->ready)
        zmq_msg_close (&buffer->msg);
    zstate_client_marker_encode (client, marker, sequence, &buffer->msg);
    buffer->ready = true;
    buffer->sequence = sequence;
    buffer->size = buffer->header_size = zmq_msg_size (&buffer->msg);
    return true;
}

//  Hand outbox messages to the socket, in order, until it pushes back.
//  Returns true if at least one went.
static bool
s_self_send (self_t *self)
{
    zstate_client_t *client = self->client;
    //  Senders leave the socket alone while we are busy (agent_busy), so
    //  this waits at most for one message a sender is sending
    pthread_mutex_lock (&client->socket_lock);
    size_t sent = 0;
    while (self->outbox_head) {
        buffer_t *buffer = self->outbox_head;
        if (buffer->marker) {
            if (!s_self_marker (self, buffer))
                continue;       //  Dropped
        }
        else
        if (!buffer->ready) {
            buffer->sequence = client->sequence + 1;
            zstate_msg_patch_header (buffer->data, buffer->header_size,
                                     buffer->sequence, (uint32_t) buffer->ops);
            zstate_client_buffer_trim (buffer);
            int rc = zmq_msg_init_data (&buffer->msg, buffer->data, buffer->size,
                                        s_free_data, NULL);
            assert (rc == 0);
            buffer->ready = true;
        }
        //  A message that waited for a retry kept its number: nobody else
        //  sent meanwhile, because we were busy all along; but a WELCOME
        //  that split the outbox's coalesced block renumbered what was
        //  sent, and this one follows (we own its bytes: libzmq has not)
        if (!buffer->marker && buffer->sequence != client->sequence + 1) {
            buffer->sequence = client->sequence + 1;
            zstate_msg_patch_header (buffer->data, buffer->header_size,
                                     buffer->sequence, (uint32_t) buffer->ops);
        }
        if (zstate_client_send_frame (client, &buffer->msg, buffer->ops, buffer->extra,
                                      buffer->size - buffer->header_size)) {
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
        //  libzmq owns the message and its data now (and the outbox a
        //  reference)
        self->pending_ops += buffer->ops;
        self->pending_accepted += buffer->ops + buffer->extra;
        self->pending_bytes += buffer->size - buffer->header_size;
        self->pending_messages++;
        self->pending_wire_bytes += buffer->size;
        self->outbox_head = buffer->next;
        if (!self->outbox_head)
            self->outbox_tail = NULL;
        if (buffer->marker)
            s_self_marker_sent (self, buffer->marker, client->sequence);
        zstate_client_marker_destroy (&buffer->marker);
        free (buffer);
        if (++sent % COMMIT_EVERY == 0) {
            //  Never wait for the client lock while holding the socket
            pthread_mutex_unlock (&client->socket_lock);
            s_self_commit (self);
            pthread_mutex_lock (&client->socket_lock);
        }
    }
    pthread_mutex_unlock (&client->socket_lock);
    s_self_commit (self);
    if (sent)
        self->send_error_logged = false;
    return sent > 0;
}

static int s_self_handle_retry (zloop_t *loop, int timer_id, void *arg);

//  After a send pass: nothing left means we are done; else arm the retry
//  timer, backing off while nothing moves, and with version 1 go to
//  FAILED when nothing moved for the retry timeout (and keep retrying at
//  the longest interval). Version 2 fails on silence only: a server that
//  does not read yet still answers (zstate_client_agent_check_silence)
static void
s_self_schedule (self_t *self, bool progressed)
{
    zstate_client_t *client = self->client;
    if (!self->outbox_head && self->session != SESSION_RESEND) {
        self->stalled_since = 0;
        if (self->retry_failed) {
            self->retry_failed = false;
            zstate_client_agent_update_state (self, NULL);
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
            zstate_client_agent_update_state (self, NULL);
        }
    }
    else {
        self->backoff = self->backoff > retry_max_ivl / 2? retry_max_ivl: self->backoff * 2;
        if (self->session == SESSION_NONE && !self->retry_failed
        &&  now - self->stalled_since >= retry_timeout) {
            char reason [256];
            snprintf (reason, sizeof (reason), "retries exhausted after %d ms",
                      (int) (now - self->stalled_since));
            self->retry_failed = true;
            zstate_client_agent_update_state (self, reason);
            zstate_client_agent_event (self, "ERROR", reason);
        }
    }
    if (self->retry_timer == -1) {
        self->retry_timer = zloop_timer (self->loop, (size_t) self->backoff, 1,
                                         s_self_handle_retry, self);
        assert (self->retry_timer != -1);
    }
}

//  Snapshots go a chunk at a time while the socket takes everything, each
//  chunk queued behind what producers queued meanwhile, so live traffic
//  interleaves; after SNAPSHOT_CHUNKS the loop gets a turn (we wake
//  ourselves), and when what is held leaves no room an ACK resumes them.
//  Returns true if anything went.
#define SNAPSHOT_CHUNKS         16

static bool
s_self_snapshots (self_t *self)
{
    zstate_client_t *client = self->client;
    bool progressed = false;
    for (int chunk = 0; chunk < SNAPSHOT_CHUNKS && !self->outbox_head; chunk++) {
        pthread_mutex_lock (&client->lock);
        bool queued = zstate_client_snapshot_chunk (client);
        pthread_mutex_unlock (&client->lock);
        if (!queued)
            return progressed;
        s_self_take_queue (self);
        progressed |= s_self_send (self);
    }
    pthread_mutex_lock (&client->lock);
    bool more = client->snapshots_running && !self->outbox_head;
    pthread_mutex_unlock (&client->lock);
    if (more) {
        uint64_t one = 1;
        if (write (client->wakefd, &one, sizeof (one)) == -1)
            assert (errno == EAGAIN);
    }
    return progressed;
}

//  Send what the outbox holds and, when it is empty, what the client
//  queued meanwhile, then the snapshots' next chunks; then schedule a
//  retry if needed

void
zstate_client_agent_pump (self_t *self)
{
    //  Version 2 sends no OPS before WELCOME, and new ones only once all
    //  held ones went again
    if (self->session == SESSION_HELLO)
        return;
    bool progressed = false;
    if (self->session == SESSION_RESEND) {
        progressed = zstate_client_session_resend (self);
        if (self->session == SESSION_RESEND) {
            s_self_schedule (self, progressed);
            return;
        }
    }
    progressed |= s_self_send (self);
    if (!self->outbox_head) {
        s_self_take_queue (self);
        progressed |= s_self_send (self);
    }
    if (!self->outbox_head)
        progressed |= s_self_snapshots (self);
    s_self_schedule (self, progressed);
}

static int
s_self_handle_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    self->retry_timer = -1;
    pthread_mutex_lock (&self->client->lock);
    self->client->stats.retries++;
    pthread_mutex_unlock (&self->client->lock);
    zstate_client_agent_pump (self);
    return 0;
}


static int
s_self_handle_wake (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    self_t *self = (self_t *) arg;
    uint64_t count;
    if (read (item->fd, &count, sizeof (count)) == -1 && errno != EAGAIN)
        zsys_error ("%s cannot read eventfd: %s", self->log_prefix, strerror (errno));
    //  Before connect, and while backing off from a full socket, the queue
    //  stays with the client: senders keep filling its tail message (so
    //  messages grow under pressure) and do not write the eventfd again
    if (self->endpoint && self->retry_timer == -1)
        zstate_client_agent_pump (self);
    //  A sender saw replies waiting that the DEALER's fd may not signal
    if (self->dealer_fd != -1)
        zstate_client_session_drain (self);
    return 0;
}

//  --------------------------------------------------------------------------
//  CONNECT endpoint
static void
s_self_connect (self_t *self, zmsg_t *request)
{
    char *endpoint = zmsg_popstr (request);
    if (!endpoint || !*endpoint) {
        zstate_reply (self->pipe, "CONNECT", EINVAL, "CONNECT needs an endpoint", false);
        zstr_free (&endpoint);
        return;
    }
    char reason [512];
    if (self->endpoint) {
        snprintf (reason, sizeof (reason), "already connected to %s", self->endpoint);
        zstate_reply (self->pipe, "CONNECT", EISCONN, reason, false);
        zstr_free (&endpoint);
        return;
    }
    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    int version = client->version;
    self->heartbeat = client->heartbeat;
    self->ack_level = client->ack_level;
    self->features = (client->resync_refused? 0: ZSTATE_SESSION_FEATURE_RESYNC)
                   | ZSTATE_SESSION_FEATURE_REPLAY;
    pthread_mutex_unlock (&client->lock);
    self->session = version == ZSTATE_SESSION_VERSION? SESSION_HELLO: SESSION_NONE;
    if (zstate_client_agent_open (self, endpoint, reason, sizeof (reason))) {
        self->session = SESSION_NONE;
        zstate_reply (self->pipe, "CONNECT", errno, reason, false);
        zstr_free (&endpoint);
        return;
    }
    self->endpoint = endpoint;
    pthread_mutex_lock (&client->lock);
    client->started = true;
    client->session_ready = self->session == SESSION_NONE;
    pthread_mutex_unlock (&client->lock);
    //  The caller sees the new state as soon as connect returns
    if (strncmp (endpoint, "inproc://", 9) == 0)
        zstate_client_agent_link_up (self);
    else {
        zstate_client_agent_start_link_timer (self);
        zstate_client_agent_update_state (self, NULL);
    }
    if (self->session != SESSION_NONE) {
        self->last_heard = zclock_mono ();
        zstate_client_session_hello (self, "connected");
        self->tick_timer = zloop_timer (self->loop, (size_t) self->heartbeat, 0,
                                        zstate_client_session_handle_tick, self);
        assert (self->tick_timer != -1);
    }
    zstate_reply (self->pipe, "CONNECT", 0, "", false);

    //  Send what was queued before connect
    if (self->retry_timer == -1)
        zstate_client_agent_pump (self);
}

//  One command; -1 when the agent has no such command
static int
s_self_command (void *arg, const char *command, zmsg_t *request)
{
    self_t *self = (self_t *) arg;
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
        return -1;
    return 0;
}

static int
s_self_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    self_t *self = (self_t *) arg;
    return zstate_actor_command (reader, self->log_prefix, self->verbose,
                                 s_self_command, self);
}

//  --------------------------------------------------------------------------
//  The agent's actor function; args is the client, which outlives us

void
zstate_client_agent (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zstate_client_t *) args);
    zsock_signal (pipe, 0);
    zstate_actor_loop (self->loop);
    s_self_destroy (&self);
}


