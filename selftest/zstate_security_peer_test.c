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

//  A valid version 1 message of one operation whose value makes it
//  nearly ZSTATE_MESSAGE_MAX
static zframe_t *
s_largest (void)
{
    size_t size = ZSTATE_MESSAGE_MAX - 4096;
    char *value = (char *) malloc (size + 1);
    assert (value);
    memset (value, 'v', size);
    value [size] = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, "route", "blob", value, NULL);
    assert (rc == 0);
    free (value);
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    zframe_t *frame = zstate_msg_encode (session, 1, DB, TABLE, batch);
    assert (frame && zframe_size (frame) > ZSTATE_MESSAGE_MAX - 8192
                  && zframe_size (frame) <= ZSTATE_MESSAGE_MAX);
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

    zframe_t *largest = s_largest ();
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert (peer);
    zsock_set_sndhwm (peer, 1);
    zsock_set_sndtimeo (peer, 1000);
    zsock_set_linger (peer, 0);
    rc = zsock_connect (peer, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
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
    assert (baseline == 0 || peak <= baseline + bound + ZSTATE_MESSAGE_MAX);

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

void
zstate_security_peer_test (bool verbose)
{
    printf (" * zstate_security_peers: ");
    if (verbose)
        printf ("\n");
    s_test_largest_messages (verbose);
    printf ("OK\n");
}
