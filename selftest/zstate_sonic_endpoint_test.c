/*  =========================================================================
    zstate_sonic_endpoint_test - the SONiC endpoint as a service: the
    posture of the server's endpoints (loopback only without insecure,
    old ZMTP refused, DENY, the connection cap, CURVE), its counters in the
    monitor's STATS and in structs that can grow, and no frame lost
    silently at shutdown

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_sonic_suite.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define DEADLINE    30000       //  msecs, for anything we wait for
#define MARK        0xA5

typedef bool (ready_fn) (const zstate_sonic_bridge_stats_t *stats, uint64_t arg);

//  Wait until ready (stats, arg) holds
static void
s_wait (zstate_sonic_bridge_t *bridge, ready_fn *ready, uint64_t arg,
        zstate_sonic_bridge_stats_t *stats)
{
    int64_t deadline = zclock_mono () + DEADLINE;
    while (true) {
        assert (zstate_sonic_bridge_stats (bridge, stats) == 0);
        if (ready (stats, arg))
            return;
        assert (zclock_mono () < deadline);
        zclock_sleep (5);
    }
}

static bool
s_frames_seen (const zstate_sonic_bridge_stats_t *stats, uint64_t frames)
{
    return stats->frames + stats->malformed >= frames;
}

static bool
s_closed (const zstate_sonic_bridge_stats_t *stats, uint64_t accepted)
{
    return stats->accepted >= accepted && stats->connections == 0;
}

static bool
s_denied (const zstate_sonic_bridge_stats_t *stats, uint64_t denied)
{
    return stats->auth_denied >= denied;
}

static bool
s_refused (const zstate_sonic_bridge_stats_t *stats, uint64_t refused)
{
    //  A NULL peer on a CURVE endpoint: a mismatch, or no detail when the
    //  peer saw the mismatch first and hung up
    return stats->auth_mechanism + stats->auth_failed >= refused;
}

static bool
s_shed (const zstate_sonic_bridge_stats_t *stats, uint64_t shed)
{
    return stats->shed >= shed;
}

static bool
s_stalled (const zstate_sonic_bridge_stats_t *stats, uint64_t stalls)
{
    return stats->stalls >= stalls;
}

static bool
s_drained (const zstate_sonic_bridge_stats_t *stats, uint64_t arg)
{
    (void) arg;
    return stats->drained == 1;
}

//  One SET frame for APPL_DB/table, key keyN
static void
s_push_set (zsock_t *push, const char *table, size_t index)
{
    zstate_batch_t *batch = zstate_batch_new ();
    char key [32];
    snprintf (key, sizeof (key), "key%zu", index);
    assert (zstate_batch_set (batch, key, "mtu", "9100", NULL) == 0);
    zframe_t *frame = zstate_sonic_msg_encode ("APPL_DB", table, batch, NULL);
    assert (frame);
    zstate_sonic_push (push, zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    zstate_batch_destroy (&batch);
}

//  A bridge to server bound at endpoint, or at tcp://127.0.0.1:* when
//  NULL; returns its tcp port, 0 for others
static int
s_bridge_start (zstate_server_t *server, zstate_sonic_bridge_t **bridge_p,
                const char *endpoint)
{
    *bridge_p = zstate_sonic_bridge_new (server);
    assert (*bridge_p);
    int port = zstate_sonic_bridge_bind (*bridge_p, endpoint? endpoint: "tcp://127.0.0.1:*");
    assert (port != -1);
    return port;
}


//  --------------------------------------------------------------------------
//  The posture

static int
s_stream_send (int port, const byte *stream, size_t size)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert (fd != -1);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = connect (fd, (struct sockaddr *) &address, sizeof (address));
    assert (rc == 0);
    assert (send (fd, stream, size, 0) == (ssize_t) size);
    return fd;
}

//  NULL only on loopback unless insecure; ZMTP 1.0 and 2.0 refused
static void
s_test_posture (zstate_server_t *server, zlist_t *vectors)
{
    zstate_sonic_bridge_t *bridge = zstate_sonic_bridge_new (server);
    assert (bridge);
    assert (zstate_sonic_bridge_bind (bridge, "tcp://0.0.0.0:*") == -1 && errno == EACCES);
    assert (strstr (zstate_reason (), "not loopback"));
    //  Insecure, the check passes: a documentation address then fails the bind
    assert (zstate_sonic_bridge_set_insecure (bridge, true) == 0);
    assert (zstate_sonic_bridge_bind (bridge, "tcp://192.0.2.1:*") == -1 && errno != EACCES);
    assert (zstate_sonic_bridge_set_insecure (bridge, false) == 0);
    assert (zstate_sonic_bridge_set_connections_max (bridge, -1) == -1 && errno == EINVAL);
    int port = zstate_sonic_bridge_bind (bridge, "tcp://127.0.0.1:*");
    assert (port > 0);

    //  A SONiC frame over ZMTP 1.0 ([length][flags][body]) and over 2.0
    zstate_sonic_vector_t *set1 = zstate_sonic_vector (vectors, "set1");
    assert (set1->size + 1 < 255);
    byte stream [512] = { 1, 0, (byte) (set1->size + 1), 0 };
    memcpy (stream + 4, set1->data, set1->size);
    int v1 = s_stream_send (port, stream, 4 + set1->size);
    byte greeting [14] = { 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, 8, 0, 0 };
    memcpy (stream, greeting, sizeof (greeting));
    stream [14] = 0;
    stream [15] = (byte) set1->size;
    memcpy (stream + 16, set1->data, set1->size);
    int v2 = s_stream_send (port, stream, 16 + set1->size);
    zstate_sonic_bridge_stats_t stats;
    s_wait (bridge, s_closed, 2, &stats);
    assert (stats.frames == 0 && stats.malformed == 0 && stats.handshakes == 0);
    close (v1);
    close (v2);
    zstate_sonic_bridge_destroy (&bridge);
}

//  DENY refuses a SONiC producer; its frames never arrive
static void
s_test_deny (zstate_server_t *server, zstate_consumer_t *routes)
{
    zstate_sonic_bridge_t *bridge;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d",
              s_bridge_start (server, &bridge, NULL));
    assert (zstate_sonic_bridge_deny (bridge, "bogus") == -1 && errno == EINVAL);
    assert (zstate_sonic_bridge_deny (bridge, "127.0.0.1") == 0);
    zsock_t *push = zstate_sonic_push_new (endpoint);
    zstate_sonic_bridge_stats_t stats;
    s_wait (bridge, s_denied, 1, &stats);
    assert (stats.frames == 0 && stats.handshakes == 0);
    assert (zstate_consumer_pending (routes) == 0);
    zsock_destroy (&push);
    //  The lists go with the authenticator, which the bridge held alone
    zstate_sonic_bridge_destroy (&bridge);
}

//  The connection cap: a second producer over a cap of one is shed
static void
s_test_cap (zstate_server_t *server)
{
    zstate_sonic_bridge_t *bridge;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d",
              s_bridge_start (server, &bridge, NULL));
    assert (zstate_sonic_bridge_set_connections_max (bridge, 1) == 0);
    zsock_t *first = zstate_sonic_push_new (endpoint);
    zsock_t *second = zstate_sonic_push_new (endpoint);
    zstate_sonic_bridge_stats_t stats;
    s_wait (bridge, s_shed, 1, &stats);
    assert (stats.accepted >= 2);
    zsock_destroy (&first);
    zsock_destroy (&second);
    zstate_sonic_bridge_destroy (&bridge);
}

//  CURVE, for producers of one's own: a NULL PUSH is refused, a CURVE one
//  with an allowed key gets through
static void
s_test_curve (zstate_server_t *server, zstate_consumer_t *routes)
{
    char dir [256];
    snprintf (dir, sizeof (dir), "%s/zstate-sonic-XXXXXX",
              getenv ("TMPDIR")? getenv ("TMPDIR"): "/tmp");
    assert (mkdtemp (dir));
    char *server_path = zsys_sprintf ("%s/server", dir);
    char *clients = zsys_sprintf ("%s/clients", dir);
    char *client_path = zsys_sprintf ("%s/clients/producer", dir);
    zsys_dir_create ("%s", clients);
    zcert_t *server_cert = zcert_new ();
    zcert_t *client_cert = zcert_new ();
    assert (zcert_save (server_cert, server_path) == 0);
    assert (zcert_save_public (client_cert, client_path) == 0);

    zstate_sonic_bridge_t *bridge = zstate_sonic_bridge_new (server);
    assert (bridge);
    assert (zstate_sonic_bridge_set_curve (bridge, NULL, clients) == -1 && errno == EINVAL);
    assert (zstate_sonic_bridge_set_curve (bridge, server_path, clients) == 0);
    int port = zstate_sonic_bridge_bind (bridge, "tcp://127.0.0.1:*");
    assert (port > 0);
    assert (zstate_sonic_bridge_set_curve (bridge, server_path, clients) == -1
            && errno == EBUSY);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);

    zsock_t *plain = zstate_sonic_push_new (endpoint);
    zstate_sonic_bridge_stats_t stats;
    s_wait (bridge, s_refused, 1, &stats);
    assert (stats.frames == 0);
    zsock_destroy (&plain);

    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push);
    zcert_apply (client_cert, push);
    zsock_set_curve_serverkey (push, zcert_public_txt (server_cert));
    assert (zsock_connect (push, "%s", endpoint) == 0);
    s_push_set (push, "ROUTE_TABLE", 1);
    zstate_batch_t *received = zstate_sonic_pop_all (routes, 1);
    assert (streq (zstate_batch_key (received, 0, NULL), "key1"));
    zstate_batch_destroy (&received);
    zsock_destroy (&push);
    zstate_sonic_bridge_destroy (&bridge);

    zcert_destroy (&server_cert);
    zcert_destroy (&client_cert);
    zdir_t *tree = zdir_new (dir, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    zstr_free (&server_path);
    zstr_free (&clients);
    zstr_free (&client_path);
}


//  --------------------------------------------------------------------------
//  Counters: in the monitor's STATS, and in structs that can grow

//  STATS from the server's monitor at endpoint, as ZPL
static zconfig_t *
s_monitor_stats (const char *endpoint)
{
    zsock_t *peer = zsock_new_dealer (endpoint);
    assert (peer);
    zsock_set_rcvtimeo (peer, DEADLINE);
    zstr_send (peer, ZSTATE_MONITOR_STATS);
    zmsg_t *reply = zmsg_recv (peer);
    assert (reply && zmsg_size (reply) == 4);
    char *text = zframe_strdup (zmsg_last (reply));
    zconfig_t *config = zconfig_str_load (text);
    assert (config);
    zstr_free (&text);
    zmsg_destroy (&reply);
    zsock_destroy (&peer);
    return config;
}

static uint64_t
s_counter (zconfig_t *config, const char *path)
{
    const char *value = zconfig_get (config, path, NULL);
    assert (value);
    return strtoull (value, NULL, 10);
}

static void
s_test_counters (zstate_server_t *server, zstate_consumer_t *routes, zlist_t *vectors)
{
    char monitor [64];
    snprintf (monitor, sizeof (monitor), "inproc://zstate-sonic-monitor-%p", (void *) server);
    assert (zstate_server_monitor (server, monitor) == 0);
    zstate_sonic_bridge_t *first, *second;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d",
              s_bridge_start (server, &first, NULL));
    s_bridge_start (server, &second, NULL);
    zsock_t *push = zstate_sonic_push_new (endpoint);
    zstate_sonic_vector_t *set1 = zstate_sonic_vector (vectors, "set1");
    zstate_sonic_push (push, set1->data, set1->size);
    zstate_sonic_push (push, set1->data, set1->size - 1);
    zstate_sonic_bridge_stats_t stats;
    s_wait (first, s_frames_seen, 2, &stats);
    zstate_batch_t *received = zstate_sonic_pop_all (routes, 1);
    zstate_batch_destroy (&received);
    //  The monitor prints what the bridge published after that burst
    zconfig_t *config = s_monitor_stats (monitor);
    assert (s_counter (config, "sonic/frames") == 1);
    assert (s_counter (config, "sonic/ops") == 1);
    assert (s_counter (config, "sonic/malformed") == 1);
    assert (s_counter (config, "sonic/rejected/truncated") == 1);
    assert (s_counter (config, "sonic/bytes") == set1->size);
    assert (s_counter (config, "sonic/held") == 0);
    assert (s_counter (config, "sonic/refused/denied") == 0);
    assert (s_counter (config, "sonic_2/frames") == 0);
    assert (s_counter (config, "server/messages") >= 1);
    zconfig_destroy (&config);
    //  A bridge gone leaves the STATS
    zstate_sonic_bridge_destroy (&second);
    config = s_monitor_stats (monitor);
    assert (zconfig_get (config, "sonic_2/frames", NULL) == NULL);
    assert (s_counter (config, "sonic/frames") == 1);
    zconfig_destroy (&config);

    //  A caller built against an older header gets what its struct holds,
    //  nothing past it; one built against a newer header reads 0 past ours
    byte buffer [sizeof (zstate_sonic_bridge_stats_t) + 64];
    memset (buffer, MARK, sizeof (buffer));
    size_t older = offsetof (zstate_sonic_bridge_stats_t, held);
    assert (zstate_sonic_bridge_stats_sized (first, (zstate_sonic_bridge_stats_t *) buffer,
                                             older) == 0);
    assert (((zstate_sonic_bridge_stats_t *) buffer)->frames == 1);
    for (size_t index = older; index < sizeof (buffer); index++)
        assert (buffer [index] == MARK);
    assert (zstate_sonic_bridge_stats_sized (first, (zstate_sonic_bridge_stats_t *) buffer,
                                             sizeof (buffer)) == 0);
    for (size_t index = sizeof (zstate_sonic_bridge_stats_t); index < sizeof (buffer); index++)
        assert (buffer [index] == 0);

    zstate_sonic_client_t *client = zstate_sonic_client_new ();
    assert (client);
    memset (buffer, MARK, sizeof (buffer));
    older = offsetof (zstate_sonic_client_stats_t, queued_bytes);
    zstate_sonic_client_stats_sized (client, (zstate_sonic_client_stats_t *) buffer, older);
    assert (((zstate_sonic_client_stats_t *) buffer)->state == ZSTATE_CLIENT_IDLE);
    for (size_t index = older; index < sizeof (buffer); index++)
        assert (buffer [index] == MARK);
    zstate_sonic_client_stats_sized (client, (zstate_sonic_client_stats_t *) buffer,
                                     sizeof (buffer));
    for (size_t index = sizeof (zstate_sonic_client_stats_t); index < sizeof (buffer); index++)
        assert (buffer [index] == 0);
    zstate_sonic_client_destroy (&client);
    zsock_destroy (&push);
    zstate_sonic_bridge_destroy (&first);
}


//  --------------------------------------------------------------------------
//  Shutdown: drained, or counted

//  Frames for two tables in turn, so that none pack together and they
//  outnumber what the inproc link to the server holds
#define FRAMES      4000

static const char *s_tables [2] = { "PORT_TABLE", "LAG_TABLE" };

static void
s_push_frames (zsock_t *push)
{
    for (size_t index = 0; index < FRAMES; index++)
        s_push_set (push, s_tables [index % 2], index / 2);
}

//  Pop both tables until they hold count operations between them; with
//  keys, check each table's keys are in order
static size_t
s_pop_tables (zstate_consumer_t **consumers, size_t count, bool keys)
{
    zstate_batch_t *batch = zstate_batch_new ();
    size_t popped [2] = { 0, 0 };
    int64_t deadline = zclock_mono () + DEADLINE;
    while (popped [0] + popped [1] < count) {
        assert (zclock_mono () < deadline);
        size_t some = 0;
        for (int table = 0; table < 2; table++) {
            some += zstate_consumer_pops (consumers [table], batch, 0);
            for (size_t index = 0; keys && index < zstate_batch_size (batch); index++) {
                char key [32];
                snprintf (key, sizeof (key), "key%zu", popped [table] + index);
                assert (streq (zstate_batch_key (batch, index, NULL), key));
            }
            popped [table] += zstate_batch_size (batch);
        }
        if (some == 0)
            zclock_sleep (1);
    }
    zstate_batch_destroy (&batch);
    return popped [0] + popped [1];
}

//  Consumers that hold their bound stall the bridge with frames held and
//  frames in its PULL. A drain hands every one over as the consumers are
//  popped; a close with frames held counts exactly those it lost.
static void
s_test_shutdown (zstate_server_t *server)
{
    zstate_consumer_t *consumers [2];
    for (int table = 0; table < 2; table++) {
        consumers [table] = zstate_consumer_new (server, "APPL_DB", s_tables [table]);
        assert (consumers [table]);
        assert (zstate_consumer_set_queue (consumers [table], 4, 1024 * 1024) == 0);
    }
    //  inproc: a frame sent is in the PULL's queue, so every one is known
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://zstate-sonic-drain-%p", (void *) server);
    zstate_sonic_bridge_t *bridge;
    s_bridge_start (server, &bridge, endpoint);
    zsock_t *push = zstate_sonic_push_new (endpoint);
    s_push_frames (push);
    zstate_sonic_bridge_stats_t stats;
    s_wait (bridge, s_stalled, 1, &stats);
    assert (zstate_sonic_bridge_drain (bridge) == 0);
    assert (zstate_sonic_bridge_stats (bridge, &stats) == 0);
    assert (stats.drained == 0 && stats.held > 0);
    assert (zstate_sonic_bridge_bind (bridge, "inproc://zstate-sonic-late") == -1
            && errno == EBUSY);
    assert (s_pop_tables (consumers, FRAMES, true) == FRAMES);
    s_wait (bridge, s_drained, 0, &stats);
    assert (stats.held == 0 && stats.frames == FRAMES && stats.lost == 0);
    //  Frames sent after the drain stay unread, and are counted at close
    s_push_set (push, s_tables [0], 0);
    assert (zstate_sonic_bridge_close (&bridge) == 1);
    assert (bridge == NULL);

    //  Closed while it holds frames the server cannot take: what the
    //  consumers get and what the bridge lost make every frame, once
    s_bridge_start (server, &bridge, endpoint);
    zsock_destroy (&push);      //  inproc does not reconnect
    push = zstate_sonic_push_new (endpoint);
    s_push_frames (push);
    s_wait (bridge, s_stalled, 1, &stats);
    uint64_t lost = zstate_sonic_bridge_close (&bridge);
    assert (lost > 0 && lost < FRAMES);
    assert (s_pop_tables (consumers, FRAMES - lost, false) == FRAMES - lost);
    zclock_sleep (100);
    for (int table = 0; table < 2; table++) {
        assert (zstate_consumer_pending (consumers [table]) == 0);
        zstate_consumer_destroy (&consumers [table]);
    }
    zsock_destroy (&push);
}

void
zstate_sonic_endpoint_test (bool verbose)
{
    printf (" * zstate_sonic_endpoint: ");
    if (verbose)
        printf ("\n");
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_consumer_t *routes = zstate_consumer_new (server, "APPL_DB", "ROUTE_TABLE");
    assert (routes);
    zlist_t *vectors = zstate_sonic_vectors_load ();
    s_test_posture (server, vectors);
    s_test_deny (server, routes);
    s_test_cap (server);
    if (zsys_has_curve ())
        s_test_curve (server, routes);
    s_test_counters (server, routes, vectors);
    s_test_shutdown (server);
    zlist_destroy (&vectors);
    zstate_consumer_destroy (&routes);
    zstate_server_destroy (&server);
    printf ("OK\n");
}
