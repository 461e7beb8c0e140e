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
    The application's side of a consumer table. The server appends whole
    wire messages to a queue shared with the application thread, under a
    mutex (zstate_consumer_deliver, in zstate_consumer_agent.c); pops
    copies operations out of the queued messages into the caller's batch.
    The messages themselves are never copied.
@discuss
    pops is the other half of deliver's protocol (see
    zstate_consumer_agent.c): it clears both wake signals when it empties
    the queue, and writes room_fd for a waiting server when it drains the
    queue to half its bound. The consumer's actor handles commands only.
@end
*/

#include "zstate_classes.h"
#include "zstate_consumer_agent.h"
#include <sys/eventfd.h>
#include <poll.h>

#define QUEUE_OPS_DEFAULT   262144
#define QUEUE_BYTES_DEFAULT (64 * 1024 * 1024)
#define POPS_DEFAULT        128     //  pops with max 0


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
    self->decoder = zstate_msg_new ();
    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    snprintf (self->name, sizeof (self->name), "zstate-consumer-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    //  The actor reads the link and the names: they are set before it starts
    self->link = zstate_server_link (server);
    self->actor = zactor_new (zstate_consumer_agent, self);
    assert (self->actor);
    if (zstate_server_link_register (self->link, db, table, self->name, self)) {
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
        //  Unregister first: once the server has answered, it never calls
        //  deliver again, so what it used may go. ENOENT means the server
        //  went first, which is fine. After any other failure we cannot
        //  know that the server let go, so we leave the consumer allocated
        //  rather than free it under the server's feet.
        if (self->registered
        &&  zstate_server_link_unregister (self->link, self->db, self->table,
                                           self->name) == -1
        &&  errno != ENOENT) {
            zsys_error ("zstate_consumer %s/%s: cannot unregister, leaking the "
                        "consumer: %s", self->db, self->table, zstate_reason ());
            *self_p = NULL;
            return;
        }
        zactor_destroy (&self->actor);
        zstate_server_link_release (&self->link);
        while (self->taken || self->head) {
            if (!self->taken) {
                self->taken = self->head;
                self->head = NULL;
            }
            zstate_consumer_entry_t *entry = self->taken;
            self->taken = entry->next;
            zmq_msg_close (&entry->msg);
            free (entry);
        }
        zsock_destroy (&self->token);
        zsock_destroy (&self->token_backend);
        if (self->ready_fd != -1)
            close (self->ready_fd);
        if (self->room_fd != -1)
            close (self->room_fd);
        zstate_msg_destroy (&self->decoder);
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
    size_t moved = 0;           //  operations into batch
    size_t dropped = 0;         //  operations we could not load (a bug)
    size_t freed = 0;           //  bytes of the messages we are done with
    while (moved < max) {
        if (!self->taken) {
            //  Take everything deliver queued, in one step, and copy out
            //  of it without the lock: the server, which delivers on its
            //  own thread, then never waits while we copy
            pthread_mutex_lock (&self->mutex);
            self->taken = self->head;
            self->head = NULL;
            self->tail = NULL;
            pthread_mutex_unlock (&self->mutex);
            if (!self->taken)
                break;
        }
        zstate_consumer_entry_t *entry = self->taken;
        const byte *data = (const byte *) zmq_msg_data (&entry->msg);
        size_t count = entry->ops_left < max - moved? entry->ops_left: max - moved;
        size_t used = 0;
        int reason = zstate_batch_load (batch, data + entry->offset,
                                        entry->end - entry->offset, count, &used);
        if (reason == 0) {
            entry->offset += used;
            entry->ops_left -= count;
            moved += count;
        }
        else {
            //  The server validated every operation, so this is a bug; skip
            //  the rest of the message rather than stop the table
            zsys_error ("zstate_consumer %s/%s: cannot load operations (%s)",
                        self->db, self->table, zstate_msg_reason_str (reason));
            dropped += entry->ops_left;
            entry->ops_left = 0;
        }
        if (entry->ops_left == 0) {
            self->taken = entry->next;
            freed += zmq_msg_size (&entry->msg);
            zmq_msg_close (&entry->msg);
            free (entry);
        }
    }
    if (moved + dropped == 0 && freed == 0)
        return 0;               //  Nothing was pending: nothing to account
    pthread_mutex_lock (&self->mutex);
    self->stats.popped += moved;
    self->stats.queued_ops -= moved + dropped;
    self->stats.queued_bytes -= freed;
    if (self->stats.queued_ops == 0) {
        //  Nothing pending any more: clear both wake signals. deliver set
        //  both under this lock when queued_ops left 0, so the token is
        //  there to receive.
        zstate_consumer_eventfd_clear (self->ready_fd);
        char token;
        int rc = zmq_recv (zsock_resolve (self->token), &token, sizeof (token), 0);
        assert (rc == 0);
    }
    if (self->server_waits && zstate_consumer_queue_has_room (self)) {
        self->server_waits = false;
        zstate_consumer_eventfd_set (self->room_fd);
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
    //  A bigger bound may give a waiting server room at once
    if (self->server_waits && zstate_consumer_queue_has_room (self)) {
        self->server_waits = false;
        zstate_consumer_eventfd_set (self->room_fd);
    }
    pthread_mutex_unlock (&self->mutex);
}


//  --------------------------------------------------------------------------
//  Forward every message received from now on to endpoint, or stop.

int
zstate_consumer_forward (zstate_consumer_t *self, const char *endpoint)
{
    assert (self);
    //  Whatever writer we knew is not the target any more
    pthread_mutex_lock (&self->mutex);
    self->writer = NULL;
    pthread_mutex_unlock (&self->mutex);
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

    //  A writer that does not read stops the server, which loses nothing
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

    //  A small queue that nobody pops stops the server, then the clients;
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
    zstate_server_test_wait_stalled (server, consumer, &server_stats);
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
    zstate_server_test_wait_stalled (server, doomed, &server_stats);
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

    //  The server holds a message for a writer that never reads; once
    //  forwarding stops, that message and the rest reach the consumer, in
    //  order, each copied to the writer or not, none lost
    zuuid_t *sink_uuid = zuuid_new ();
    snprintf (writer_endpoint, sizeof (writer_endpoint), "inproc://zstate-test-sink-%s",
              zuuid_str (sink_uuid));
    zuuid_destroy (&sink_uuid);
    zsock_t *sink = zsock_new (ZMQ_PULL);
    assert (sink);
    zsock_set_rcvhwm (sink, 1);
    rc = zsock_bind (sink, "%s", writer_endpoint);
    assert (rc == 0);
    rc = zstate_consumer_forward (consumer, writer_endpoint);
    assert (rc == 0);
    zstate_consumer_set_queue (consumer, QUEUE_OPS_DEFAULT, QUEUE_BYTES_DEFAULT);
    zstate_consumer_stats (consumer, &stats);
    uint64_t forwarded = stats.forwarded;
    uint64_t stalls = stats.stalls;
    zstate_batch_reset (expected);
    for (int message = 0; message < 100; message++) {
        char key [32];
        snprintf (key, sizeof (key), "sink-%d", message);
        zstate_batch_reset (batch);
        zstate_batch_hset (batch, key, "field", key, NULL);
        zstate_batch_hset (expected, key, "field", key, NULL);
        s_test_send (dealer, session, ++sequence, "PORT_TABLE", batch);
    }
    uint64_t server_stalls = server_stats.stalls;
    int64_t deadline = zclock_mono () + 5000;
    bool holding = false;
    while (!holding && zclock_mono () < deadline) {
        rc = zstate_server_stats (server, &server_stats);
        assert (rc == 0);
        holding = server_stats.stalls > server_stalls
               && server_stats.messages == server_stats.routed + server_stats.unroutable
                                         + server_stats.dropped + 1;
    }
    assert (holding);
    rc = zstate_consumer_forward (consumer, NULL);
    assert (rc == 0);
    s_test_drain (consumer, expected, 0);
    size_t copies = 0;
    zsock_set_rcvtimeo (sink, 0);
    while ((frame = zframe_recv (sink))) {
        copies++;
        zframe_destroy (&frame);
    }
    zstate_consumer_stats (consumer, &stats);
    assert (copies > 0 && copies < 100);
    assert (stats.forwarded - forwarded == copies);
    //  The writer stopped the server, not the consumer's queue
    assert (stats.stalls == stalls);
    zsock_destroy (&sink);

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
