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
    A consumer table is an inbox (zstate_inbox.c: the locked hand-off the
    server's thread fills and pops drains) plus its registration with the
    server. It has no thread of its own: the server delivers on its
    thread, the application pops on its own, and the few commands
    (register, forward, unregister) go straight to the server through the
    server's link.
@discuss
    Signals: a link request is a multi-frame send and a reply. A signal
    that cut either short would leave the pipe out of step, and a
    consumer that could not unregister would have to leak (the server
    might still deliver to it). The link's requests go through
    zstate_actor_request, which sends and receives each message whole
    with signals held for just that call and waits for the reply through
    EINTR; the server answers at once even while it is stalled. So a
    signal does not fail a link request, and the consumer no longer holds
    the application's signals around one.
@end
*/

#include "zstate_classes.h"
#include "zstate_server_watermarks.h"
#include <poll.h>

struct _zstate_consumer_t {
    zstate_server_link_t *link; //  the server we register with
    char *db;                   //  the (db, table) we serve
    char *table;
    char name [64];             //  unique, so only we can unregister
    bool registered;            //  the server delivers to us
    bool verbose;               //  log activity
    zstate_inbox_t *inbox;      //  what the server delivered, for pops
    pthread_mutex_t mutex;      //  the writer is read by the server thread
    zstate_writer_t *writer;    //  where we forward, for the server's monitor
    uint64_t restored;          //  operations restore queued
    uint64_t restored_messages; //  ... in that many messages
};

//  Which link request s_link_call makes
typedef enum { LINK_REGISTER, LINK_UNREGISTER, LINK_FORWARD, LINK_RESYNC } link_call_t;

//  One link request. The link goes through zstate_actor_request, which
//  sends and receives whole messages through signals (see @discuss)
static int
s_link_call (zstate_consumer_t *self, link_call_t call, const char *endpoint)
{
    if (call == LINK_REGISTER)
        return zstate_server_link_register (self->link, self->db, self->table,
                                            self->name, self);
    if (call == LINK_UNREGISTER)
        return zstate_server_link_unregister (self->link, self->db, self->table,
                                              self->name);
    if (call == LINK_RESYNC)
        return zstate_server_link_resync (self->link, self->db, self->table, self->name);
    return zstate_server_link_forward (self->link, self->db, self->table,
                                       self->name, endpoint);
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
    char name [2 * ZSTATE_NAME_MAX + 2];
    snprintf (name, sizeof (name), "%s/%s", db, table);
    self->inbox = zstate_inbox_new (name);
    if (!self->inbox) {
        s_destroy_keeping_reason (&self);
        return NULL;
    }
    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    snprintf (self->name, sizeof (self->name), "zstate-consumer-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    self->link = zstate_server_link (server);
    if (s_link_call (self, LINK_REGISTER, NULL)) {
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
        //  went first, ESHUTDOWN that its actor has ended: both fine. After
        //  any other failure (none is expected: signals do not fail link
        //  requests, and the server answers at once) we
        //  cannot know that the server let go, so we leave the consumer
        //  allocated rather than free it under the server's feet.
        if (self->registered
        &&  s_link_call (self, LINK_UNREGISTER, NULL) == -1
        &&  errno != ENOENT && errno != ESHUTDOWN) {
            zsys_error ("zstate_consumer %s/%s: cannot unregister, leaking the "
                        "consumer: %s", self->db, self->table, zstate_reason ());
            *self_p = NULL;
            return;
        }
        zstate_server_link_release (&self->link);
        zstate_inbox_destroy (&self->inbox);
        pthread_mutex_destroy (&self->mutex);
        free (self->db);
        free (self->table);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Server side, on the server's thread: see zstate_classes.h

int
zstate_consumer_deliver (zstate_consumer_t *self, zmq_msg_t *msg, bool forwarded)
{
    assert (self);
    return zstate_inbox_deliver (self->inbox, msg, forwarded);
}

int
zstate_consumer_room_fd (zstate_consumer_t *self)
{
    assert (self);
    return zstate_inbox_room_fd (self->inbox);
}


//  --------------------------------------------------------------------------
//  Move up to max pending operations into batch, in arrival order.

size_t
zstate_consumer_pops (zstate_consumer_t *self, zstate_batch_t *batch, size_t max)
{
    assert (self);
    return zstate_inbox_pops (self->inbox, batch, max);
}


//  --------------------------------------------------------------------------
//  Return the number of operations waiting for pops.

size_t
zstate_consumer_pending (zstate_consumer_t *self)
{
    assert (self);
    return zstate_inbox_pending (self->inbox);
}


//  --------------------------------------------------------------------------
//  True when the last pops returned a window's operations.

bool
zstate_consumer_resyncing (zstate_consumer_t *self)
{
    assert (self);
    return zstate_inbox_resyncing (self->inbox);
}


//  --------------------------------------------------------------------------
//  Turn the sweep on or off.

int
zstate_consumer_set_sweep (zstate_consumer_t *self, bool sweep)
{
    assert (self);
    int rc = zstate_inbox_set_sweep (self->inbox, sweep);
    if (rc == 0 && self->verbose)
        zsys_debug ("zstate_consumer %s/%s: sweep %s", self->db, self->table,
                    sweep? "on": "off");
    return rc;
}


//  --------------------------------------------------------------------------
//  Ask every producer that mirrors this table for a snapshot.

int
zstate_consumer_resync (zstate_consumer_t *self)
{
    assert (self);
    int rc = s_link_call (self, LINK_RESYNC, NULL);
    if (rc == 0 && self->verbose)
        zsys_debug ("zstate_consumer %s/%s: asked for snapshots", self->db, self->table);
    return rc;
}


//  --------------------------------------------------------------------------
//  Return a socket that is readable while operations are pending.

zsock_t *
zstate_consumer_socket (zstate_consumer_t *self)
{
    assert (self);
    return zstate_inbox_socket (self->inbox);
}


//  --------------------------------------------------------------------------
//  Return a file descriptor that is readable while operations are pending.

int
zstate_consumer_fd (zstate_consumer_t *self)
{
    assert (self);
    return zstate_inbox_fd (self->inbox);
}


//  --------------------------------------------------------------------------
//  Bound the queue.

int
zstate_consumer_set_queue (zstate_consumer_t *self, size_t ops, size_t bytes)
{
    assert (self);
    return zstate_inbox_set_bounds (self->inbox, ops, bytes);
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
    const char *target = endpoint? endpoint: "";
    int rc = s_link_call (self, LINK_FORWARD, target);
    //  A server that is gone sends nothing more, so there is nothing left
    //  to stop
    if (rc == -1 && errno == ENOENT && !*target)
        rc = 0;
    if (rc == 0 && self->verbose)
        zsys_debug ("zstate_consumer %s/%s: forwarding to %s", self->db, self->table,
                    *target? target: "nobody");
    return rc;
}


//  --------------------------------------------------------------------------
//  Persist through writer: forward to its endpoint, or stop when NULL.

int
zstate_consumer_set_writer (zstate_consumer_t *self, zstate_writer_t *writer)
{
    assert (self);
    int rc = zstate_consumer_forward (self, writer? zstate_writer_endpoint (writer): NULL);
    if (rc == 0 && writer) {
        //  The writer tells the server what Redis holds, so that the
        //  server's sessions know what is persisted
        char endpoint [256];
        rc = zstate_server_link_confirm_endpoint (self->link, endpoint, sizeof (endpoint));
        if (rc == 0)
            rc = zstate_writer_confirm (writer, endpoint);
        if (rc == 0)
            rc = zstate_writer_attach (writer, self->db);
    }
    if (rc == 0) {
        pthread_mutex_lock (&self->mutex);
        self->writer = writer;
        pthread_mutex_unlock (&self->mutex);
    }
    return rc;
}


//  --------------------------------------------------------------------------
//  Restore the table from Redis through writer, ahead of live messages.

//  Queue one restored wire message, which must be of our table; returns
//  its operations, or -1
static int64_t
s_restore_message (zstate_consumer_t *self, zstate_msg_t *decoder, zmq_msg_t *msg)
{
    int reason = zstate_msg_decode (decoder, (byte *) zmq_msg_data (msg), zmq_msg_size (msg));
    if (reason || strneq (zstate_msg_table (decoder), self->table))
        return zstate_fail (EPROTO, "zstate_consumer_restore %s/%s: the writer sent %s",
                            self->db, self->table, reason? zstate_msg_reason_str (reason)
                                                         : "another table");
    int64_t ops = (int64_t) zstate_msg_op_count (decoder);
    int rc = zstate_inbox_deliver (self->inbox, msg, false);
    assert (rc == 0);           //  The bound is lifted while we restore
    self->restored_messages++;
    self->restored += (uint64_t) ops;
    return ops;
}

//  Read what the writer sent to pull up to its RESTORED: queue the
//  entries, then hand the watermarks to the server. Returns the entries
static int64_t
s_restore_read (zstate_consumer_t *self, zsock_t *pull)
{
    zstate_msg_t *decoder = zstate_msg_new ();
    int64_t entries = 0;
    zmsg_t *restored = NULL;
    while (entries >= 0 && !restored) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, zsock_resolve (pull), 0) == -1) {
            entries = zstate_fail (ETIMEDOUT, "zstate_consumer_restore %s/%s: no "
                                   "RESTORED from the writer", self->db, self->table);
        }
        else
        if (zmq_msg_more (&msg)) {
            //  The last message, [RESTORED][count][watermarks]; zmsg
            //  reads the rest of it
            restored = zmsg_recv (pull);
            if (!restored)
                entries = zstate_fail (EPROTO, "zstate_consumer_restore: RESTORED cut short");
        }
        else {
            int64_t ops = s_restore_message (self, decoder, &msg);
            entries = ops == -1? -1: entries + ops;
        }
        zmq_msg_close (&msg);
    }
    zframe_t *count = restored? zmsg_first (restored): NULL;
    zframe_t *watermarks = restored? zmsg_next (restored): NULL;
    if (entries >= 0
    && (!watermarks || zframe_size (count) != 8
    ||  zstate_server_get_uint64 (zframe_data (count)) != (uint64_t) entries))
        entries = zstate_fail (EPROTO, "zstate_consumer_restore %s/%s: RESTORED does "
                               "not match the entries sent", self->db, self->table);
    if (entries >= 0
    &&  zstate_consumer_restored (self, zframe_data (watermarks), zframe_size (watermarks)))
        entries = -1;
    zmsg_destroy (&restored);
    zstate_msg_destroy (&decoder);
    return entries;
}

int64_t
zstate_consumer_restore (zstate_consumer_t *self, zstate_writer_t *writer, int timeout)
{
    assert (self);
    assert (writer);
    zstate_consumer_stats_t stats;
    zstate_inbox_stats (self->inbox, &stats);
    if (timeout <= 0)
        return zstate_fail (EINVAL, "zstate_consumer_restore: timeout must be > 0");
    if (stats.messages)
        return zstate_fail (EBUSY, "zstate_consumer_restore %s/%s: the table has "
                            "received messages already", self->db, self->table);
    zsock_t *pull = zstate_sock_new (ZMQ_PULL);
    if (!pull)
        return -1;
    //  The writer queues a table's worth without bound; so do we
    zsock_set_rcvhwm (pull, 0);
    zsock_set_rcvtimeo (pull, timeout);
    char endpoint [64];
    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    snprintf (endpoint, sizeof (endpoint), "inproc://zstate-restore-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    int rc = zsock_bind (pull, "%s", endpoint);
    assert (rc == 0);           //  A fresh inproc name cannot be taken
    //  A LOST names this db even when no live message came after
    int64_t entries = zstate_writer_attach (writer, self->db);
    if (entries == 0)
        entries = zstate_writer_restore (writer, self->table, endpoint, timeout);
    if (entries == 0) {
        //  The writer queued everything before it replied: reading does
        //  not wait for it
        //  The table goes to the application whole, whatever the bound
        size_t ops, bytes;
        zstate_inbox_bounds (self->inbox, &ops, &bytes);
        zstate_inbox_set_bounds (self->inbox, SIZE_MAX, SIZE_MAX);
        entries = s_restore_read (self, pull);
        zstate_inbox_set_bounds (self->inbox, ops, bytes);
    }
    int error = errno;
    zsock_destroy (&pull);
    errno = error;
    if (entries >= 0) {
        if (self->verbose)
            zsys_debug ("zstate_consumer %s/%s: restored %" PRId64 " entries",
                        self->db, self->table, entries);
    }
    return entries;
}


//  --------------------------------------------------------------------------
//  Server side: hand the server this table's restored watermarks.

int
zstate_consumer_restored (zstate_consumer_t *self, const byte *watermarks, size_t size)
{
    assert (self);
    return zstate_server_link_restored (self->link, self->db, self->table, self->name,
                                        watermarks, size);
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
        fprintf (file, "        windows = %" PRIu64 "\n", stats.windows);
        fprintf (file, "        windows_dropped = %" PRIu64 "\n", stats.windows_dropped);
        fprintf (file, "        sweeps = %" PRIu64 "\n", stats.sweeps);
        fprintf (file, "        swept = %" PRIu64 "\n", stats.swept);
        fprintf (file, "        redis_lost = %" PRIu64 "\n", stats.redis_lost);
        fprintf (file, "        probes = %" PRIu64 "\n", stats.probes);
    }
}


//  --------------------------------------------------------------------------
//  Fill *stats with the current counters.

void
zstate_consumer_stats_fill (zstate_consumer_t *self, zstate_consumer_stats_t *stats)
{
    assert (self);
    zstate_inbox_stats (self->inbox, stats);
    //  messages and ops count what the server delivered, as its routed
    //  does; popped counts everything
    stats->messages -= self->restored_messages;
    stats->ops -= self->restored;
    stats->restored = self->restored;
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
//  Log activity with zsys_debug.

void
zstate_consumer_set_verbose (zstate_consumer_t *self, bool verbose)
{
    assert (self);
    self->verbose = verbose;
    zstate_inbox_set_verbose (self->inbox, verbose);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: the example, and a table embedded in a host zloop. The
//  white-box suites are in selftest/zstate_consumer_test.c.

//  The host application's state: what its handlers popped
typedef struct {
    zstate_consumer_t *consumer;
    zstate_batch_t *batch;
    size_t popped;              //  operations so far
    size_t expected;            //  the loop ends once all have arrived
    bool in_order;              //  each key is "key-<n>", n counting up
} test_host_t;

static int
s_test_host_pops (test_host_t *host)
{
    //  A few at a time: the fd or socket stays readable while more remain
    size_t count = zstate_consumer_pops (host->consumer, host->batch, 16);
    for (size_t index = 0; index < count; index++) {
        char expected [32];
        snprintf (expected, sizeof (expected), "key-%zu", host->popped++);
        const char *key = zstate_batch_key (host->batch, index, NULL);
        host->in_order = host->in_order && streq (key, expected);
    }
    return host->popped < host->expected? 0: -1;
}

static int
s_test_host_fd (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    return s_test_host_pops ((test_host_t *) arg);
}

static int
s_test_host_socket (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    return s_test_host_pops ((test_host_t *) arg);
}

static int
s_test_host_timeout (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;                  //  the caller sees popped < expected
}

//  Send 100 HSETs through producer, and run a host zloop that pops them,
//  woken by the consumer's fd (zloop_poller) or by its socket
static void
s_test_host_loop (zstate_consumer_t *consumer, zstate_client_t *client,
                  zstate_producer_t *producer, bool use_fd)
{
    test_host_t host = { consumer, zstate_batch_new (), 0, 100, true };
    for (size_t index = 0; index < host.expected; index++) {
        char key [32];
        snprintf (key, sizeof (key), "key-%zu", index);
        int rc = zstate_producer_hset (producer, key, "admin_status", "up", NULL);
        assert (rc == 0);
    }
    int rc = zstate_client_flush (client, 10000);
    assert (rc == 0);
    zloop_t *loop = zloop_new ();
    assert (loop);
    if (use_fd) {
        zmq_pollitem_t item = { NULL, zstate_consumer_fd (consumer), ZMQ_POLLIN, 0 };
        rc = zloop_poller (loop, &item, s_test_host_fd, &host);
    }
    else
        rc = zloop_reader (loop, zstate_consumer_socket (consumer),
                           s_test_host_socket, &host);
    assert (rc == 0);
    zloop_timer (loop, 10000, 1, s_test_host_timeout, NULL);
    zloop_start (loop);
    zloop_destroy (&loop);
    assert (host.popped == host.expected);
    assert (host.in_order);
    assert (zstate_consumer_pending (consumer) == 0);
    zstate_batch_destroy (&host.batch);
}

void
zstate_consumer_test (bool verbose)
{
    printf (" * zstate_consumer: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A table as an application uses it: register, bind, then pop what a
    //  producer writes, woken by the table's fd
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_consumer_t *ports = zstate_consumer_new (server, "APPL_DB", "PORT_TABLE");
    assert (ports);
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    int rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    zstate_producer_t *producer = zstate_producer_new (client, "APPL_DB", "PORT_TABLE");
    assert (producer);
    zstate_producer_hset (producer, "Ethernet0", "mtu", "9100", NULL);
    zstate_producer_del (producer, "Ethernet4");
    zstate_batch_t *batch = zstate_batch_new ();
    size_t popped = 0;
    while (popped < 2) {
        struct pollfd item = { zstate_consumer_fd (ports), POLLIN, 0 };
        if (poll (&item, 1, 10000) == -1 && errno == EINTR)
            continue;           //  a signal: wait again
        assert (item.revents & POLLIN);
        size_t count = zstate_consumer_pops (ports, batch, 0);
        for (size_t index = 0; index < count; index++, popped++)
            assert (zstate_batch_op (batch, index)
                    == (popped == 0? ZSTATE_OP_HSET: ZSTATE_OP_DEL));
    }
    assert (streq (zstate_batch_key (batch, zstate_batch_size (batch) - 1, NULL),
                   "Ethernet4"));
    zstate_batch_destroy (&batch);

    //  The README's main use: the table in the application's own zloop,
    //  through its fd (a NULL-socket pollitem), then through its socket
    zstate_consumer_set_verbose (ports, verbose);
    s_test_host_loop (ports, client, producer, true);
    s_test_host_loop (ports, client, producer, false);

    zstate_producer_destroy (&producer);
    zstate_client_destroy (&client);
    zstate_consumer_destroy (&ports);
    assert (ports == NULL);
    zstate_server_destroy (&server);
    //  @end
    printf ("OK\n");
}
#endif
