/*  =========================================================================
    zstate_security_peer_test - what one hostile peer can cost a server:
    the memory it can pin by sending the largest messages and never
    reading

    Every wait is for an outcome with a generous deadline; nothing asserts
    on time. Memory is the process's resident set (/proc/self/status), the
    peer's one buffer allocated before the baseline.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include <arpa/inet.h>
#include <sys/socket.h>

#define DB              "APPL_DB"
#define TABLE           "ROUTE_TABLE"
#define MIB             (1024 * 1024)
#define DEADLINE        30000   //  msecs: only a broken server waits this long
#define OFFERED         40      //  16 MiB messages the peer tries to send
#define RCVHWM          4       //  the server's, per connection
#define QUEUE_BYTES     (16 * MIB)  //  the consumer's bound

//  Return the process's resident set, bytes, or 0 where /proc has none
static size_t
s_rss (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    if (!file)
        return 0;
    char line [256];
    size_t kib = 0;
    while (fgets (line, sizeof (line), file))
        if (sscanf (line, "VmRSS: %zu kB", &kib) == 1)
            break;
    fclose (file);
    return kib * 1024;
}

//  Return true when the resident set says something of our bounds: not
//  under valgrind, whose allocator and shadow memory are in it, nor
//  AddressSanitizer, which quarantines freed memory and pads every block
static bool
s_rss_checked (void)
{
#if defined (__SANITIZE_ADDRESS__)
    return false;
#else
    const char *preload = getenv ("LD_PRELOAD");
    return !(preload && strstr (preload, "vgpreload"));
#endif
}

//  libzmq sends the peer's messages from one buffer, which it does not own
static void
s_keep (void *data, void *hint)
{
    (void) data;
    (void) hint;
}

//  Send frame's bytes, without a copy; returns true when libzmq took it
//  within its send timeout
static bool
s_send_shared (zsock_t *peer, zframe_t *frame)
{
    zmq_msg_t msg;
    int rc = zmq_msg_init_data (&msg, zframe_data (frame), zframe_size (frame), s_keep, NULL);
    assert (rc == 0);
    rc = zmq_msg_send (&msg, zsock_resolve (peer), 0);
    zmq_msg_close (&msg);
    return rc != -1;
}

//  A raw DEALER to port on 127.0.0.1, at most one message queued to send,
//  rcvhwm to receive (0: the default)
static zsock_t *
s_dealer_new (int port, int sndtimeo, int rcvhwm)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_sndhwm (dealer, 1);
    if (rcvhwm)
        zsock_set_rcvhwm (dealer, rcvhwm);
    zsock_set_sndtimeo (dealer, sndtimeo);
    zsock_set_linger (dealer, 0);
    int rc = zsock_connect (dealer, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    return dealer;
}

//  A valid version 1 message of one operation whose value makes it
//  nearly bytes long
static zframe_t *
s_message (size_t bytes, const char *table)
{
    size_t size = bytes - 4096;
    char *value = (char *) malloc (size + 1);
    assert (value);
    memset (value, 'v', size);
    value [size] = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, "route", "blob", value, NULL);
    assert (rc == 0);
    free (value);
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    zframe_t *frame = zstate_msg_encode (session, 1, DB, table, batch);
    assert (frame && zframe_size (frame) > bytes - 8192 && zframe_size (frame) <= bytes);
    zstate_batch_destroy (&batch);
    return frame;
}


//  --------------------------------------------------------------------------
//  A peer sends 16 MiB messages as fast as the server takes them and
//  never reads; the application does not pop until the peer is done, so
//  the server stops reading and holds all it can. What it holds is the
//  consumer's queue bound plus one message, the message it parked, and
//  RCVHWM + 2 messages on the connection (libzmq's pipe, the message its
//  engine decoded and could not queue, the one it is reading): all of it
//  must stay within that bound plus one message of slack.

static void
s_test_largest_messages (bool verbose)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    int rc = zstate_server_set_rcvhwm (server, RCVHWM);
    assert (rc == 0);
    zstate_consumer_t *consumer = zstate_consumer_new (server, DB, TABLE);
    assert (consumer);
    rc = zstate_consumer_set_queue (consumer, 1024, QUEUE_BYTES);
    assert (rc == 0);
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);

    zframe_t *largest = s_message (ZSTATE_MESSAGE_MAX, TABLE);
    zsock_t *peer = s_dealer_new (port, 1000, 0);
    size_t baseline = s_rss ();
    size_t peak = baseline;

    //  Offer every message; give up after three in a row that the server
    //  did not take within a second each: by then it holds all it will
    size_t sent = 0;
    for (int index = 0, refused = 0; index < OFFERED && refused < 3; index++) {
        if (s_send_shared (peer, largest)) {
            sent++;
            refused = 0;
        }
        else
            refused++;
        size_t rss = s_rss ();
        peak = rss > peak? rss: peak;
    }
    size_t bound = QUEUE_BYTES + ZSTATE_MESSAGE_MAX         //  the consumer's queue
                 + ZSTATE_MESSAGE_MAX                       //  parked
                 + (RCVHWM + 2) * (size_t) ZSTATE_MESSAGE_MAX;  //  the connection
    if (verbose)
        zsys_info ("largest messages: %zu of %d taken, RSS %+zd MiB (bound %zu MiB + 16)",
                   sent, OFFERED, ((ssize_t) peak - (ssize_t) baseline) / MIB, bound / MIB);
    //  The server stopped taking them, or the test proves nothing
    assert (sent < OFFERED);
    assert (!s_rss_checked () || peak <= baseline + bound + ZSTATE_MESSAGE_MAX);

    //  Nothing was lost: everything taken is delivered once popped
    zstate_batch_t *batch = zstate_batch_new ();
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    size_t received = 0;
    while (received < sent) {
        void *which = zpoller_wait (poller, DEADLINE);
        assert (which == zstate_consumer_socket (consumer));
        received += zstate_consumer_pops (consumer, batch, 0);
        zstate_batch_destroy (&batch);
        batch = zstate_batch_new ();
    }
    //  The sends that timed out may have gone as the queue drained
    assert (received >= sent && received <= (size_t) OFFERED);
    zpoller_destroy (&poller);
    zstate_batch_destroy (&batch);
    zsock_destroy (&peer);
    zframe_destroy (&largest);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
}


//  --------------------------------------------------------------------------
//  A watcher that never reads while 2 MiB messages flow pins at most the
//  monitor's byte bound of copies (64 MiB), loses the rest (counted), and
//  an operator's watcher that reads gets every copy. A deaf peer that
//  watches two tables, or lets a lease run out and watches again, has
//  the same one bound.

#define FLOW            250     //  messages of FLOW_BYTES
#define FLOW_BYTES      (2 * MIB)
#define WATCH_BOUND     (64 * MIB)

#define TABLE2          "PORT_TABLE"

static void
s_watch_send (zsock_t *watcher, const char *table)
{
    int rc = zstr_sendx (watcher, "WATCH", DB, table, NULL);
    assert (rc == 0);
}

//  Read what the operator's watcher holds now; returns the copies
static size_t
s_operator_read (zsock_t *watcher, int timeout)
{
    size_t copies = 0;
    zsock_set_rcvtimeo (watcher, timeout);
    zmsg_t *msg;
    while ((msg = zmsg_recv (watcher))) {
        char *kind = zmsg_popstr (msg);
        if (kind && streq (kind, "OPS"))
            copies++;
        zstr_free (&kind);
        zmsg_destroy (&msg);
        zsock_set_rcvtimeo (watcher, 0);
    }
    return copies;
}

//  Return the value of name in the server's STATS text, asked on a
//  socket of its own, or -1 while the monitor is busy
static long
s_stat (int port, const char *name)
{
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert (peer);
    zsock_set_rcvtimeo (peer, DEADLINE);
    zsock_set_linger (peer, 0);
    int rc = zsock_connect (peer, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    zstr_send (peer, "STATS");
    zmsg_t *reply = zmsg_recv (peer);
    assert (reply);
    char *command = zmsg_popstr (reply);
    char *status = zmsg_popstr (reply);
    char *reason = zmsg_popstr (reply);
    char *text = zmsg_popstr (reply);
    long value = -1;
    const char *line = text? strstr (text, name): NULL;
    if (status && streq (status, "0") && line)
        value = atol (line + strlen (name));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    zstr_free (&text);
    zmsg_destroy (&reply);
    zsock_destroy (&peer);
    return value;
}

//  Wait until the server's STATS show at least count of name
static long
s_stat_wait (int port, const char *name, long count)
{
    int64_t deadline = zclock_mono () + DEADLINE;
    long value;
    while ((value = s_stat (port, name)) < count) {
        assert (zclock_mono () < deadline);
        zclock_sleep (100);
    }
    return value;
}

//  Pop what both consumers hold; returns the operations
static size_t
s_pops (zstate_consumer_t **consumers)
{
    zstate_batch_t *batch = zstate_batch_new ();
    size_t pops = zstate_consumer_pops (consumers [0], batch, 0);
    pops += zstate_consumer_pops (consumers [1], batch, 0);
    zstate_batch_destroy (&batch);
    return pops;
}

static void
s_test_deaf_watcher (bool verbose)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_consumer_t *consumer = zstate_consumer_new (server, DB, TABLE);
    zstate_consumer_t *consumer2 = zstate_consumer_new (server, DB, TABLE2);
    zstate_consumer_t *consumers [2] = { consumer, consumer2 };
    assert (consumer && consumer2);
    //  What the data connection may hold is the first test's; here it
    //  only must not hide the watchers' cost
    int rc = zstate_server_set_rcvhwm (server, RCVHWM);
    assert (rc == 0);
    rc = zstate_consumer_set_queue (consumer, 1024, 8 * MIB);
    assert (rc == 0);
    rc = zstate_consumer_set_queue (consumer2, 1024, 8 * MIB);
    assert (rc == 0);
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    int monitor = zstate_server_monitor (server, "tcp://127.0.0.1:*");
    assert (monitor > 0);

    zsock_t *deaf = s_dealer_new (monitor, DEADLINE, 1);
    zsock_t *watcher = s_dealer_new (monitor, DEADLINE, 0);
    s_watch_send (deaf, TABLE);
    s_watch_send (deaf, TABLE2);
    s_watch_send (watcher, TABLE);
    s_stat_wait (monitor, "watchers = ", 3);

    //  Half the flow to each table
    zframe_t *messages [2] = { s_message (FLOW_BYTES, TABLE), s_message (FLOW_BYTES, TABLE2) };
    zsock_t *peer = s_dealer_new (port, DEADLINE, 0);
    size_t baseline = s_rss ();
    size_t peak = baseline;
    size_t copies = 0, delivered = 0;
    for (int index = 0; index < FLOW; index++) {
        bool sent = s_send_shared (peer, messages [index % 2]);
        assert (sent);
        s_watch_send (deaf, TABLE);     //  Deaf, not gone: it renews its leases
        s_watch_send (deaf, TABLE2);
        s_watch_send (watcher, TABLE);
        delivered += s_pops (consumers);
        copies += s_operator_read (watcher, 0);
        size_t rss = s_rss ();
        peak = rss > peak? rss: peak;
    }
    //  The operator gets every copy of its table, as the consumers every
    //  message
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer),
                                     zstate_consumer_socket (consumer2), NULL);
    while (delivered < FLOW) {
        void *which = zpoller_wait (poller, DEADLINE);
        assert (which);
        delivered += s_pops (consumers);
    }
    zpoller_destroy (&poller);
    int64_t deadline = zclock_mono () + DEADLINE;
    while (copies < FLOW / 2 && zclock_mono () < deadline)
        copies += s_operator_read (watcher, 1000);
    //  The deaf one took what its bound and the sockets' buffers hold,
    //  and lost the rest
    long lost = s_stat_wait (monitor, "watch_lost = ", FLOW - WATCH_BOUND / FLOW_BYTES - 16);
    if (verbose)
        zsys_info ("deaf watcher: %zu of %d copies to the operator, %ld lost,"
                   " RSS %+zd MiB (bound %d MiB)", copies, FLOW / 2, lost,
                   ((ssize_t) peak - (ssize_t) baseline) / MIB, WATCH_BOUND / MIB);
    assert (copies == FLOW / 2);
    assert (lost <= FLOW);
    //  The deaf watcher's bound, what the operator holds for a moment, the
    //  consumers' queues and the data connection's (RCVHWM + 2 messages)
    assert (!s_rss_checked ()
            || peak <= baseline + 2 * WATCH_BOUND + 16 * MIB + (RCVHWM + 2) * FLOW_BYTES);

    zsock_destroy (&peer);
    zframe_destroy (&messages [0]);
    zframe_destroy (&messages [1]);
    zsock_destroy (&watcher);
    zsock_destroy (&deaf);
    zstate_consumer_destroy (&consumer);
    zstate_consumer_destroy (&consumer2);
    zstate_server_destroy (&server);
}


//  --------------------------------------------------------------------------
//  A raw stream completes the ZMTP 3 handshake (NULL, as a DEALER) and
//  says nothing more, not even to the server's PINGs: the peer timeout
//  drops it, which the stats show, and the stream sees the end

#define PEER_TIMEOUT    1000    //  msecs

static bool
s_open (const zstate_server_stats_t *stats, size_t connections, uint64_t handshakes)
{
    return stats->connections == connections && stats->handshakes >= handshakes;
}

static void
s_wait_open (zstate_server_t *server, size_t connections, uint64_t handshakes)
{
    int64_t deadline = zclock_mono () + DEADLINE;
    zstate_server_stats_t stats;
    while (true) {
        int rc = zstate_server_stats (server, &stats);
        assert (rc == 0);
        if (s_open (&stats, connections, handshakes))
            break;
        assert (zclock_mono () < deadline);
        zclock_sleep (10);
    }
}

static void
s_test_silent_peer (void)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    int rc = zstate_server_set_peer_timeout (server, 99);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_server_set_peer_timeout (server, 3600001);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_server_set_peer_timeout (server, -1);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_server_set_peer_timeout (server, PEER_TIMEOUT);
    assert (rc == 0);
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);

    //  Greeting: signature, version 3.1, NULL, not as server; then READY
    byte handshake [64 + 30] = { 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1, 'N', 'U', 'L', 'L' };
    byte *ready = handshake + 64;
    ready [0] = 0x04;           //  a short command
    ready [1] = 28;
    memcpy (ready + 2, "\x05" "READY\x0B" "Socket-Type\x00\x00\x00\x06" "DEALER", 28);
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert (fd != -1);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    rc = connect (fd, (struct sockaddr *) &address, sizeof (address));
    assert (rc == 0);
    assert (send (fd, handshake, sizeof (handshake), 0) == (ssize_t) sizeof (handshake));
    s_wait_open (server, 1, 1);
    //  From here the stream reads (the server's greeting, READY and PINGs)
    //  and answers nothing, until the server hangs up
    struct timeval timeout = { .tv_sec = DEADLINE / 1000 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof (timeout));
    byte buffer [256];
    ssize_t size;
    while ((size = recv (fd, buffer, sizeof (buffer), 0)) > 0)
        ;
    assert (size == 0);         //  The end, not the deadline
    s_wait_open (server, 0, 1);
    close (fd);
    zstate_server_destroy (&server);
}

void
zstate_security_peer_test (bool verbose)
{
    printf (" * zstate_security_peers: ");
    if (verbose)
        printf ("\n");
    s_test_largest_messages (verbose);
    s_test_deaf_watcher (verbose);
    s_test_silent_peer ();
    printf ("OK\n");
}
