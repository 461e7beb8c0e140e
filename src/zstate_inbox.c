/*  =========================================================================
    zstate_inbox - private class: a consumer table's locked hand-off from
    the server's thread (whole messages in) to the application's (pops)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The inbox is what a consumer table shares between the server's thread
    and the application's: a list of whole wire messages under a mutex.
    deliver appends a message (its operations become visible all at once);
    pops takes the whole list in one swap and copies operations out of it
    without the lock, so the server never waits while the application
    copies. The messages themselves are never copied.
@discuss
    Wake-ups: deliver writes an eventfd and sends one token on a PAIR pipe
    when pending leaves 0; pops reads both back when pending returns to 0.
    Both happen under the mutex, so the fd and the socket are readable
    exactly while operations are pending. The pipe is made on the first
    zstate_inbox_socket call: a table polled by its fd uses no socket, so
    a process can hold thousands of tables under CZMQ's default limit of
    1,024 sockets. The pipe's sending end is a plain libzmq socket, used
    only under the mutex.

    Bounds: deliver refuses a message while the inbox is at its bound and
    clears room_fd; pops writes room_fd once the inbox is down to half the
    bound (half, so that a full inbox does not toggle the server on every
    pops).

    Signals: every read, write, send and receive here retries on EINTR;
    none of them can block for long (the eventfds are non-blocking and the
    token is there whenever pops receives it).
@end
*/

#include "zstate_classes.h"
#include "zstate_inbox.h"
#include "zstate_keyset.h"
#include "zstate_session_msg.h"
#include <sys/eventfd.h>
#include <poll.h>

#define BOUND_OPS_DEFAULT   262144
#define BOUND_BYTES_DEFAULT (64 * 1024 * 1024)
#define POPS_DEFAULT        128     //  pops with max 0

//  One received wire message, waiting for pops
typedef struct _entry_t entry_t;
struct _entry_t {
    zmq_msg_t msg;              //  the message as it arrived
    size_t offset;              //  byte offset of the next operation
    size_t end;                 //  byte offset just past the last operation
    size_t ops_left;            //  operations not popped yet; 1 for a marker
    int marker;                 //  SNAPSHOT_BEGIN or _END, 0 for OPS
    entry_t *next;              //  next message, in arrival order
};

struct _zstate_inbox_t {
    char *name;                 //  db/table, for log lines
    int ready_fd;               //  eventfd, readable while ops are pending
    int room_fd;                //  eventfd, for a producer we refused
    zstate_msg_t *decoder;      //  deliver's, so the producer thread's
    entry_t *taken;             //  pops's, so the consumer thread's: what
                                //  it took from the list, oldest first
    zsock_t *token;             //  consumer end of the wake pipe, or NULL
    zstate_keyset_t *keyset;    //  pops's: the keys held, the window
    bool resyncing;             //  pops's: the last batch was in a window
    //  Under mutex
    pthread_mutex_t mutex;
    void *token_backend;        //  producer end of the wake pipe, or NULL
    entry_t *head;              //  oldest message; pops takes from here
    entry_t *tail;              //  newest message; deliver appends here
    size_t max_ops;             //  bounds
    size_t max_bytes;
    bool producer_waits;        //  deliver refused: write room_fd at half
    bool verbose;
    zstate_consumer_stats_t stats;  //  counters, queued_ops and _bytes too
};


//  --------------------------------------------------------------------------
//  Signal-proof primitives

//  Write an eventfd; it stays readable until it is read
static void
s_eventfd_set (int fd)
{
    uint64_t one = 1;
    ssize_t rc;
    while ((rc = write (fd, &one, sizeof (one))) == -1 && errno == EINTR)
        ;
    if (rc != sizeof (one))
        zsys_error ("zstate_inbox: cannot write eventfd: %s", strerror (errno));
}

//  Read an eventfd back to not readable; it is non-blocking
static void
s_eventfd_clear (int fd)
{
    uint64_t count;
    ssize_t rc;
    while ((rc = read (fd, &count, sizeof (count))) == -1 && errno == EINTR)
        ;
    if (rc == -1 && errno != EAGAIN)
        zsys_error ("zstate_inbox: cannot read eventfd: %s", strerror (errno));
}

//  Send or receive the one wake token, under the mutex
static void
s_token_send (zstate_inbox_t *self)
{
    int rc;
    while ((rc = zmq_send (self->token_backend, "", 0, ZMQ_DONTWAIT)) == -1
           && zmq_errno () == EINTR)
        ;
    if (rc == -1)
        zsys_error ("zstate_inbox %s: cannot send the wake token: %s",
                    self->name, zmq_strerror (zmq_errno ()));
}

static void
s_token_recv (zstate_inbox_t *self)
{
    //  deliver sent it under this mutex before we got here, so the wait is
    //  for libzmq's command processing only
    char token;
    int rc;
    while ((rc = zmq_recv (zsock_resolve (self->token), &token, sizeof (token), 0)) == -1
           && zmq_errno () == EINTR)
        ;
    if (rc == -1)
        zsys_error ("zstate_inbox %s: cannot receive the wake token: %s",
                    self->name, zmq_strerror (zmq_errno ()));
}


//  --------------------------------------------------------------------------
//  Create an empty inbox.

zstate_inbox_t *
zstate_inbox_new (const char *name)
{
    assert (name);
    zstate_inbox_t *self = (zstate_inbox_t *) zmalloc (sizeof (zstate_inbox_t));
    assert (self);
    self->name = strdup (name);
    assert (self->name);
    int rc = pthread_mutex_init (&self->mutex, NULL);
    assert (rc == 0);
    self->max_ops = BOUND_OPS_DEFAULT;
    self->max_bytes = BOUND_BYTES_DEFAULT;
    self->decoder = zstate_msg_new ();
    assert (self->decoder);
    self->keyset = zstate_keyset_new ();
    self->ready_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->room_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->ready_fd == -1 || self->room_fd == -1) {
        int error = errno;
        zstate_inbox_destroy (&self);
        zstate_fail (error, "%s: cannot create an eventfd: %s", name, strerror (error));
    }
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy the inbox; nulls the pointer.

void
zstate_inbox_destroy (zstate_inbox_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_inbox_t *self = *self_p;
        while (self->taken || self->head) {
            if (!self->taken) {
                self->taken = self->head;
                self->head = NULL;
            }
            entry_t *entry = self->taken;
            self->taken = entry->next;
            zmq_msg_close (&entry->msg);
            free (entry);
        }
        zsock_destroy (&self->token);
        if (self->token_backend)
            zmq_close (self->token_backend);
        if (self->ready_fd != -1)
            close (self->ready_fd);
        if (self->room_fd != -1)
            close (self->room_fd);
        zstate_msg_destroy (&self->decoder);
        zstate_keyset_destroy (&self->keyset);
        pthread_mutex_destroy (&self->mutex);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Producer thread: append msg and wake the consumer if nothing was pending.

static bool
s_full (zstate_inbox_t *self)
{
    return self->stats.queued_ops >= self->max_ops
        || self->stats.queued_bytes >= self->max_bytes;
}

static bool
s_has_room (zstate_inbox_t *self)
{
    return self->stats.queued_ops <= self->max_ops / 2
        && self->stats.queued_bytes <= self->max_bytes / 2;
}

//  True when data holds a window marker: SNAPSHOT-BEGIN or -END, which
//  the server hands on as they came, in version 2
static bool
s_is_marker (const byte *data, size_t size)
{
    return size > 3 && data [2] == ZSTATE_SESSION_VERSION
        && (data [3] == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN
        ||  data [3] == ZSTATE_SESSION_MSG_SNAPSHOT_END);
}

//  A new entry for the message at data, or NULL when it does not decode
static entry_t *
s_entry_new (zstate_inbox_t *self, const byte *data, size_t size)
{
    //  The server has validated the whole message; the envelope is enough
    //  for OPS, and a marker is small
    int reason;
    int marker = 0;
    bool is_marker = s_is_marker (data, size);
    if (is_marker) {
        zstate_session_msg_t decoded;
        reason = zstate_session_msg_decode (&decoded, data, size);
        marker = decoded.type;
    }
    else
        reason = zstate_msg_decode_header (self->decoder, data, size);
    if (reason) {
        zsys_error ("zstate_inbox %s: dropped a message that should have been "
                    "rejected (%s)", self->name, is_marker? zstate_session_msg_reason_text (reason)
                                                          : zstate_msg_reason_str (reason));
        return NULL;
    }
    entry_t *entry = (entry_t *) zmalloc (sizeof (entry_t));
    assert (entry);
    entry->marker = marker;
    if (marker)
        entry->ops_left = 1;    //  pending, so that pops gets to it
    else {
        //  Offsets, not pointers: a small message's data lives inside the
        //  zmq_msg_t itself, which moves now
        size_t ops_size;
        const byte *ops = zstate_msg_ops (self->decoder, &ops_size);
        entry->offset = (size_t) (ops - data);
        entry->end = entry->offset + ops_size;
        entry->ops_left = zstate_msg_op_count (self->decoder);
    }
    return entry;
}

int
zstate_inbox_deliver (zstate_inbox_t *self, zmq_msg_t *msg, bool forwarded)
{
    assert (self);
    assert (msg);
    size_t size = zmq_msg_size (msg);
    //  Allocate before we lock, to keep pops waiting as little as we can
    entry_t *entry = s_entry_new (self, (const byte *) zmq_msg_data (msg), size);
    if (!entry) {
        zmq_msg_close (msg);
        zmq_msg_init (msg);
        return 0;
    }

    pthread_mutex_lock (&self->mutex);
    if (s_full (self)) {
        //  room_fd may still be readable from the last time we were full;
        //  the producer must see it readable only once pops made room
        s_eventfd_clear (self->room_fd);
        self->producer_waits = true;
        self->stats.stalls++;
        bool verbose = self->verbose;
        pthread_mutex_unlock (&self->mutex);
        free (entry);
        if (verbose)
            zsys_debug ("zstate_inbox %s: full, the server waits", self->name);
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
    if (!entry->marker)
        self->stats.ops += entry->ops_left;
    self->stats.queued_ops += entry->ops_left;
    self->stats.queued_bytes += size;
    if (forwarded)
        self->stats.forwarded++;
    if (was_idle && entry->ops_left > 0) {
        //  The one moment the consumer is woken
        s_eventfd_set (self->ready_fd);
        if (self->token_backend)
            s_token_send (self);
    }
    pthread_mutex_unlock (&self->mutex);
    return 0;
}


//  --------------------------------------------------------------------------
//  Producer thread: the eventfd to poll after deliver refused a message.

int
zstate_inbox_room_fd (zstate_inbox_t *self)
{
    assert (self);
    return self->room_fd;
}


//  --------------------------------------------------------------------------
//  Consumer thread: move up to max pending operations into batch.

//  What one pops did, for the counters it updates under the lock
typedef struct {
    size_t moved;               //  operations into the batch
    size_t dropped;             //  operations we could not load
    size_t freed;               //  bytes of the messages we are done with
    size_t markers;             //  window markers consumed
    size_t swept;               //  DELs a COMPLETE END put on the sweep
} pops_t;

//  Consume a window marker: the key set opens, closes or sweeps
static void
s_marker (zstate_inbox_t *self, entry_t *entry, pops_t *pops)
{
    zstate_session_msg_t marker;
    int reason = zstate_session_msg_decode (&marker, zmq_msg_data (&entry->msg),
                                            zmq_msg_size (&entry->msg));
    assert (reason == 0);       //  deliver decoded these bytes
    static const char *ends [] = { "swept", "merged", "abandoned", "ignored" };
    const char *done = "opened";
    if (marker.type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN)
        zstate_keyset_begin (self->keyset, marker.session, marker.sequence);
    else {
        uint64_t shorts = zstate_keyset_windows_short (self->keyset);
        done = ends [zstate_keyset_end (self->keyset, marker.session, marker.begin,
                                        marker.count,
                                        marker.status == ZSTATE_SESSION_END_COMPLETE)];
        pops->swept += zstate_keyset_sweeping (self->keyset);
        shorts = zstate_keyset_windows_short (self->keyset) > shorts? shorts + 1: 0;
        //  The 1st, 2nd, 4th... so that a flood stays visible, not loud
        if (shorts && (shorts & (shorts - 1)) == 0)
            zsys_warning ("zstate_inbox %s: window %" PRIu64 " ended with fewer "
                          "operations than its %" PRIu64 " entries: some were refused, "
                          "or it began before this consumer (%" PRIu64 " short so far)",
                          self->name, marker.begin, marker.count, shorts);
    }
    pops->markers++;
    entry->ops_left = 0;
    if (self->verbose)
        zsys_debug ("zstate_inbox %s: window %" PRIu64 " %s, %zu keys held, %zu to sweep",
                    self->name, marker.type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN?
                    marker.sequence: marker.begin, done,
                    zstate_keyset_size (self->keyset), zstate_keyset_sweeping (self->keyset));
}

//  Copy up to max operations of the entry at the head of what we took
static void
s_copy_ops (zstate_inbox_t *self, entry_t *entry, zstate_batch_t *batch, size_t max,
            pops_t *pops)
{
    const byte *data = (const byte *) zmq_msg_data (&entry->msg);
    size_t count = entry->ops_left < max - pops->moved? entry->ops_left: max - pops->moved;
    size_t used = 0;
    int reason = zstate_batch_load (batch, data + entry->offset,
                                    entry->end - entry->offset, count, &used);
    if (reason == 0) {
        zstate_keyset_note (self->keyset, batch, pops->moved);
        entry->offset += used;
        entry->ops_left -= count;
        pops->moved += count;
        self->resyncing = zstate_keyset_open (self->keyset);
    }
    else {
        //  The server validated every operation, so this is a bug; skip
        //  the rest of the message rather than stop the table
        zsys_error ("zstate_inbox %s: cannot load operations (%s)",
                    self->name, zstate_msg_reason_str (reason));
        pops->dropped += entry->ops_left;
        entry->ops_left = 0;
    }
}

//  Copy up to max operations out of what we took, consuming the markers
//  on the way. A batch holds the operations between two markers at most,
//  or a sweep's DELs alone, which go before anything after their END
static void
s_copy_out (zstate_inbox_t *self, zstate_batch_t *batch, size_t max, pops_t *pops)
{
    while (pops->moved < max) {
        if (zstate_keyset_sweeping (self->keyset)) {
            if (pops->moved == 0) {
                pops->moved = zstate_keyset_sweep_pops (self->keyset, batch, max);
                self->resyncing = true;
            }
            break;
        }
        if (!self->taken) {
            //  Take everything in one swap, copy without the lock
            pthread_mutex_lock (&self->mutex);
            self->taken = self->head;
            self->head = NULL;
            self->tail = NULL;
            pthread_mutex_unlock (&self->mutex);
            if (!self->taken)
                break;
        }
        entry_t *entry = self->taken;
        if (entry->marker && pops->moved > 0)
            break;              //  the marker starts the next batch
        if (entry->marker)
            s_marker (self, entry, pops);
        else
            s_copy_ops (self, entry, batch, max, pops);
        if (entry->ops_left == 0) {
            self->taken = entry->next;
            pops->freed += zmq_msg_size (&entry->msg);
            zmq_msg_close (&entry->msg);
            free (entry);
        }
    }
}

size_t
zstate_inbox_pops (zstate_inbox_t *self, zstate_batch_t *batch, size_t max)
{
    assert (self);
    assert (batch);
    if (max == 0)
        max = POPS_DEFAULT;
    zstate_batch_reset (batch);
    self->resyncing = false;
    pops_t pops = { 0, 0, 0, 0, 0 };
    s_copy_out (self, batch, max, &pops);
    if (pops.moved + pops.dropped + pops.markers == 0 && pops.freed == 0)
        return 0;               //  Nothing was pending: nothing to account
    pthread_mutex_lock (&self->mutex);
    bool was_pending = self->stats.queued_ops > 0;
    self->stats.popped += pops.moved;
    //  A sweep's DELs are pending from its END until they are popped
    self->stats.queued_ops += pops.swept;
    self->stats.queued_ops -= pops.moved + pops.dropped + pops.markers;
    self->stats.queued_bytes -= pops.freed;
    zstate_keyset_stats (self->keyset, &self->stats);
    if (was_pending && self->stats.queued_ops == 0) {
        //  Nothing pending any more: lower both wake-ups, which deliver
        //  raised under this lock when queued_ops left 0
        s_eventfd_clear (self->ready_fd);
        if (self->token)
            s_token_recv (self);
    }
    if (self->producer_waits && s_has_room (self)) {
        self->producer_waits = false;
        s_eventfd_set (self->room_fd);
    }
    pthread_mutex_unlock (&self->mutex);
    return pops.moved;
}


//  --------------------------------------------------------------------------
//  Consumer thread: the key set and the windows.

int
zstate_inbox_set_sweep (zstate_inbox_t *self, bool sweep)
{
    assert (self);
    if (zstate_keyset_set_sweep (self->keyset, sweep))
        return -1;
    pthread_mutex_lock (&self->mutex);
    zstate_keyset_stats (self->keyset, &self->stats);
    pthread_mutex_unlock (&self->mutex);
    return 0;
}

bool
zstate_inbox_resyncing (zstate_inbox_t *self)
{
    assert (self);
    return self->resyncing;
}


//  --------------------------------------------------------------------------
//  Operations waiting for pops.

size_t
zstate_inbox_pending (zstate_inbox_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    size_t pending = self->stats.queued_ops;
    pthread_mutex_unlock (&self->mutex);
    return pending;
}


//  --------------------------------------------------------------------------
//  Consumer thread: an eventfd readable while operations are pending.

int
zstate_inbox_fd (zstate_inbox_t *self)
{
    assert (self);
    return self->ready_fd;
}


//  --------------------------------------------------------------------------
//  Consumer thread: a socket readable while operations are pending.

zsock_t *
zstate_inbox_socket (zstate_inbox_t *self)
{
    assert (self);
    if (self->token)
        return self->token;
    //  The producer end first: a raw socket fails cleanly at the limit
    void *backend = zmq_socket (zsys_init (), ZMQ_PAIR);
    zsock_t *token = backend? zstate_sock_new (ZMQ_PAIR): NULL;
    if (!token) {
        if (backend)
            zmq_close (backend);
        zstate_fail (EMFILE, "%s: cannot make the wake socket: the process is at "
                     "its limit of %d sockets (see zsys_set_max_sockets)",
                     self->name, zmq_ctx_get (zsys_init (), ZMQ_MAX_SOCKETS));
        return NULL;
    }
    int linger = 0;
    int rc = zmq_setsockopt (backend, ZMQ_LINGER, &linger, sizeof (linger));
    assert (rc == 0);
    //  A counter, not our address: an endpoint lives on in libzmq for a
    //  moment after its socket is closed, and an address is soon reused
    static uint64_t s_pipes = 0;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://zstate-inbox-%" PRIu64,
              __atomic_fetch_add (&s_pipes, 1, __ATOMIC_RELAXED));
    //  Both process libzmq's commands first, which a signal can cut short
    while ((rc = zsock_bind (token, "%s", endpoint)) == -1 && zmq_errno () == EINTR)
        ;
    assert (rc == 0);
    while ((rc = zmq_connect (backend, endpoint)) == -1 && zmq_errno () == EINTR)
        ;
    assert (rc == 0);
    pthread_mutex_lock (&self->mutex);
    self->token_backend = backend;
    self->token = token;
    //  Operations already pending: the socket is readable from the start
    if (self->stats.queued_ops > 0)
        s_token_send (self);
    pthread_mutex_unlock (&self->mutex);
    return self->token;
}


//  --------------------------------------------------------------------------
//  Bound the inbox.

int
zstate_inbox_set_bounds (zstate_inbox_t *self, size_t ops, size_t bytes)
{
    assert (self);
    if (ops == 0 || bytes == 0)
        return zstate_fail (EINVAL, "%s: the queue bounds must be at least 1 "
                            "operation and 1 byte", self->name);
    pthread_mutex_lock (&self->mutex);
    self->max_ops = ops;
    self->max_bytes = bytes;
    //  A bigger bound may give a waiting producer room at once
    if (self->producer_waits && s_has_room (self)) {
        self->producer_waits = false;
        s_eventfd_set (self->room_fd);
    }
    pthread_mutex_unlock (&self->mutex);
    return 0;
}


//  --------------------------------------------------------------------------
//  Fill *stats with the counters.

void
zstate_inbox_bounds (zstate_inbox_t *self, size_t *ops_p, size_t *bytes_p)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    *ops_p = self->max_ops;
    *bytes_p = self->max_bytes;
    pthread_mutex_unlock (&self->mutex);
}

void
zstate_inbox_stats (zstate_inbox_t *self, zstate_consumer_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->mutex);
    *stats = self->stats;
    pthread_mutex_unlock (&self->mutex);
}


//  --------------------------------------------------------------------------
//  Log refusals with zsys_debug.

void
zstate_inbox_set_verbose (zstate_inbox_t *self, bool verbose)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->verbose = verbose;
    pthread_mutex_unlock (&self->mutex);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: the example. Bounds, wake-ups, whole messages, windows and
//  the two-thread test are in selftest/zstate_inbox_test.c; the helpers
//  below serve it and the consumer's suites too (zstate_inbox.h).

//  A wire message of ops HSETs keyed "prefix-first" upwards, as a server
//  would deliver it
void
zstate_inbox_test_msg (zmq_msg_t *msg, const char *prefix, size_t first, size_t ops)
{
    static byte session [16] = { 1 };
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    for (size_t op = 0; op < ops; op++) {
        char key [64];
        snprintf (key, sizeof (key), "%s-%zu", prefix, first + op);
        zstate_batch_hset (batch, key, "field", "value", NULL);
    }
    zframe_t *frame = zstate_msg_encode (session, 1, "APPL_DB", "TEST_TABLE", batch);
    assert (frame);
    int rc = zmq_msg_init_size (msg, zframe_size (frame));
    assert (rc == 0);
    memcpy (zmq_msg_data (msg), zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    zstate_batch_destroy (&batch);
}

//  A window marker of session for table of APPL_DB, as the server hands
//  it on
void
zstate_inbox_test_marker (zmq_msg_t *msg, const char *table, int type,
                          const byte *session, uint64_t sequence, uint64_t begin,
                          int status)
{
    zstate_session_msg_t marker;
    memset (&marker, 0, sizeof (marker));
    marker.type = type;
    marker.session = session;
    marker.sequence = sequence;
    marker.db = "APPL_DB";
    marker.table = table;
    marker.kind = ZSTATE_SESSION_VIEW;
    marker.begin = begin;
    marker.count = 1;
    marker.status = status;
    int rc = zstate_session_msg_encode_frame (&marker, msg);
    assert (rc == 0);
}

//  True when fd is readable within timeout msecs; signals do not count
bool
zstate_inbox_test_fd_readable (int fd, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        struct pollfd item = { fd, POLLIN, 0 };
        int rc = poll (&item, 1, timeout);
        if (rc >= 0)
            return rc == 1 && (item.revents & POLLIN);
        assert (errno == EINTR);
        timeout = (int) (deadline - zclock_mono ());
        if (timeout < 0)
            timeout = 0;
    }
}

//  True when sock is readable within timeout msecs; signals do not count
bool
zstate_inbox_test_sock_readable (zsock_t *sock, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, timeout);
        if (rc >= 0)
            return rc == 1;
        assert (zmq_errno () == EINTR);
        timeout = (int) (deadline - zclock_mono ());
        if (timeout < 0)
            timeout = 0;
    }
}

//  True when operation index of batch is keyed "prefix-number"
bool
zstate_inbox_test_key_is (zstate_batch_t *batch, size_t index, const char *prefix, size_t number)
{
    char expected [64];
    snprintf (expected, sizeof (expected), "%s-%zu", prefix, number);
    size_t size;
    const char *key = zstate_batch_key (batch, index, &size);
    return size == strlen (expected) && memcmp (key, expected, size) == 0;
}

void
zstate_inbox_test (bool verbose)
{
    printf (" * zstate_inbox: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  The hand-off in short: the server thread delivers whole messages,
    //  the application polls the fd (or the socket) and pops
    zstate_inbox_t *inbox = zstate_inbox_new ("APPL_DB/PORT_TABLE");
    assert (inbox);
    zstate_inbox_set_verbose (inbox, verbose);
    zmq_msg_t msg;
    zstate_inbox_test_msg (&msg, "port", 0, 3);
    int rc = zstate_inbox_deliver (inbox, &msg, false);
    assert (rc == 0);
    zmq_msg_close (&msg);
    assert (zstate_inbox_test_fd_readable (zstate_inbox_fd (inbox), 0));
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_inbox_pops (inbox, batch, 0) == 3);
    assert (zstate_inbox_test_key_is (batch, 0, "port", 0));
    assert (zstate_inbox_test_key_is (batch, 2, "port", 2));
    assert (!zstate_inbox_test_fd_readable (zstate_inbox_fd (inbox), 0));
    zstate_inbox_destroy (&inbox);
    assert (inbox == NULL);

    zstate_batch_destroy (&batch);
    //  @end
    printf ("OK\n");
}
#endif
