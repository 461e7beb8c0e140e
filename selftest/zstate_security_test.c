/*  =========================================================================
    zstate_security_test - CURVE, the authenticator, address lists, the
    posture check and the connection cap, in the style of CZMQ's zauth
    selftest: real servers, consumers and clients on 127.0.0.1, and raw
    peers that send valid wire messages with the wrong credentials

    Every wait is for an outcome (a counter, a delivery) with a generous
    deadline; nothing asserts on time.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_security.h"
#include <arpa/inet.h>
#include <sys/socket.h>

#define DB              "APPL_DB"
#define TABLE           "ROUTE_TABLE"
#define MESSAGES        1000    //  per client
#define DEADLINE        30000   //  msecs: only a broken server waits this long

//  The certificates of a test, in a directory of its own
typedef struct {
    char dir [256];
    char server [320];          //  the server's certificate (and _secret)
    char public_only [320];     //  its public half alone
    char clients [320];         //  the allowed clients' public certificates
    char empty [320];           //  a directory without a certificate
    char allowed [320];         //  an allowed client's certificate
    char unknown [320];         //  a client the server does not know
    char server_key [41];       //  the server's public key
    char other_key [41];        //  a key that is not the server's
} certs_t;

static void
s_cert_save (zcert_t **cert_p, const char *path, const char *public_path)
{
    int rc = zcert_save (*cert_p, path);
    assert (rc == 0);
    if (public_path) {
        rc = zcert_save_public (*cert_p, public_path);
        assert (rc == 0);
    }
    zcert_destroy (cert_p);
}

static void
s_certs_new (certs_t *certs)
{
    snprintf (certs->dir, sizeof (certs->dir), "%s/zstate-security-XXXXXX",
              getenv ("TMPDIR")? getenv ("TMPDIR"): "/tmp");
    assert (mkdtemp (certs->dir));
    snprintf (certs->server, sizeof (certs->server), "%s/server", certs->dir);
    snprintf (certs->public_only, sizeof (certs->public_only), "%s/public", certs->dir);
    snprintf (certs->clients, sizeof (certs->clients), "%s/clients", certs->dir);
    snprintf (certs->empty, sizeof (certs->empty), "%s/empty", certs->dir);
    snprintf (certs->allowed, sizeof (certs->allowed), "%s/allowed", certs->dir);
    snprintf (certs->unknown, sizeof (certs->unknown), "%s/unknown", certs->dir);
    zsys_dir_create ("%s", certs->clients);
    zsys_dir_create ("%s", certs->empty);
    //  Something that is not a certificate, in the empty directory
    char *path = zsys_sprintf ("%s/empty/readme", certs->dir);
    FILE *junk = fopen (path, "w");
    assert (junk);
    fprintf (junk, "not a certificate\n");
    fclose (junk);
    zstr_free (&path);

    zcert_t *cert = zcert_new ();
    assert (cert);
    memcpy (certs->server_key, zcert_public_txt (cert), 41);
    int rc = zcert_save_public (cert, certs->public_only);
    assert (rc == 0);
    s_cert_save (&cert, certs->server, NULL);
    path = zsys_sprintf ("%s/allowed", certs->clients);
    cert = zcert_new ();
    s_cert_save (&cert, certs->allowed, path);
    zstr_free (&path);
    cert = zcert_new ();
    s_cert_save (&cert, certs->unknown, NULL);
    cert = zcert_new ();
    memcpy (certs->other_key, zcert_public_txt (cert), 41);
    zcert_destroy (&cert);
}

static void
s_certs_destroy (certs_t *certs)
{
    zdir_t *dir = zdir_new (certs->dir, NULL);
    assert (dir);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
}

//  A server with one consumer, secured as the caller says, bound to
//  tcp://127.0.0.1:*; returns the port
static int
s_server_start (zstate_server_t **server_p, zstate_consumer_t **consumer_p,
                const certs_t *certs)
{
    *server_p = zstate_server_new ();
    assert (*server_p);
    if (certs) {
        int rc = zstate_server_set_curve (*server_p, certs->server, certs->clients);
        assert (rc == 0);
    }
    *consumer_p = zstate_consumer_new (*server_p, DB, TABLE);
    assert (*consumer_p);
    int port = zstate_server_bind (*server_p, "tcp://127.0.0.1:*");
    assert (port > 0);
    return port;
}

//  Wait until the server's counters satisfy ready (arg), or assert
typedef bool (ready_fn) (const zstate_server_stats_t *stats, void *arg);

static void
s_wait_stats (zstate_server_t *server, ready_fn *ready, void *arg,
              zstate_server_stats_t *stats)
{
    int64_t deadline = zclock_mono () + DEADLINE;
    while (true) {
        int rc = zstate_server_stats (server, stats);
        assert (rc == 0);
        if (ready (stats, arg))
            break;
        assert (zclock_mono () < deadline);
        zclock_sleep (5);
    }
}

//  Pop until consumer delivered expected operations, or assert
static void
s_wait_delivered (zstate_consumer_t *consumer, size_t expected)
{
    zstate_batch_t *batch = zstate_batch_new ();
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    size_t received = 0;
    while (received < expected) {
        void *which = zpoller_wait (poller, DEADLINE);
        assert (which == zstate_consumer_socket (consumer));
        received += zstate_consumer_pops (consumer, batch, 0);
    }
    assert (received == expected);
    zpoller_destroy (&poller);
    zstate_batch_destroy (&batch);
}

//  The kinds of raw peer
typedef enum { PEER_NULL, PEER_PLAIN, PEER_UNKNOWN, PEER_WRONG_KEY, PEER_ALLOWED } peer_t;

//  A raw DEALER with the credentials of kind, connected to endpoint
static zsock_t *
s_peer_new (peer_t kind, const certs_t *certs, const char *endpoint)
{
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert (peer);
    zsock_set_sndhwm (peer, MESSAGES * 2);
    zsock_set_rcvtimeo (peer, DEADLINE);
    //  A refused peer may have no pipe left by the time a test sends to
    //  it (libzmq drops the connection's pipe when the handshake fails),
    //  and a DEALER with none blocks a send for ever: sends to peers the
    //  server refuses are best effort, bounded here
    zsock_set_sndtimeo (peer, DEADLINE);
    zsock_set_linger (peer, 0);
    if (kind == PEER_PLAIN) {
        zsock_set_plain_username (peer, "admin");
        zsock_set_plain_password (peer, "secret");
    }
    else
    if (kind != PEER_NULL) {
        int rc = zstate_curve_apply (peer, kind == PEER_UNKNOWN? certs->unknown: certs->allowed,
                                     kind == PEER_WRONG_KEY? certs->other_key: certs->server_key);
        assert (rc == 0);
    }
    int rc = zsock_connect (peer, "%s", endpoint);
    assert (rc == 0);
    return peer;
}

//  Queue count valid version 1 messages of one operation each on peer;
//  they go as soon as (and only if) the handshake succeeds. libzmq drops
//  the queue of a connection refused, and takes nothing until it tries
//  again, so returns how many it took.
static size_t
s_peer_send (zsock_t *peer, size_t count)
{
    size_t taken = 0;
    zuuid_t *session = zuuid_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    for (size_t index = 0; index < count; index++) {
        zstate_batch_set (batch, "route", "nexthop", "10.0.0.1", NULL);
        zframe_t *frame = zstate_msg_encode (zuuid_data (session), index + 1,
                                             DB, TABLE, batch);
        assert (frame);
        if (zframe_send (&frame, peer, ZFRAME_DONTWAIT) == 0)
            taken++;
        zframe_destroy (&frame);
        zstate_batch_destroy (&batch);
        batch = zstate_batch_new ();
    }
    zstate_batch_destroy (&batch);
    zuuid_destroy (&session);
    return taken;
}


//  --------------------------------------------------------------------------
//  The posture check and every way CURVE refuses to start

static void
s_test_loopback (void)
{
    const char *loopback [] = {
        "tcp://127.0.0.1:5555", "tcp://127.9.8.7:*", "tcp://localhost:1",
        "tcp://[::1]:1", "ipc:///tmp/zstate", "inproc://zstate", NULL
    };
    const char *open [] = {
        "tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://eth0:5555", "tcp://128.0.0.1:1",
        "tcp://10.0.0.1;127.0.0.1:5", "tcp://127.0.0.1", "tcp://:5", "tcp://",
        "tcp://127.0.0.1.example.com:5", "ws://127.0.0.1:5", "pgm://eth0;239.1.1.1:5",
        "", "nonsense", NULL
    };
    for (int index = 0; loopback [index]; index++)
        assert (zstate_security_loopback (loopback [index]));
    for (int index = 0; open [index]; index++)
        assert (!zstate_security_loopback (open [index]));
    assert (!zstate_security_loopback (NULL));
}

//  Wait until no socket holds the ZAP endpoint: libzmq frees a closed
//  socket's inproc endpoint later, on its reaper thread
static void
s_zap_endpoint_wait (void)
{
    int64_t deadline = zclock_mono () + DEADLINE;
    while (true) {
        zsock_t *probe = zsock_new (ZMQ_REP);
        assert (probe);
        bool free = zsock_bind (probe, "inproc://zeromq.zap.01") == 0;
        if (free)
            zsock_unbind (probe, "inproc://zeromq.zap.01");
        zsock_destroy (&probe);
        if (free)
            return;
        assert (zclock_mono () < deadline);
        zclock_sleep (10);
    }
}

static void
s_test_fail_closed (const certs_t *certs)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    //  NULL security on an endpoint that is not loopback: refused
    int rc = zstate_server_bind (server, "tcp://0.0.0.0:*");
    assert (rc == -1 && errno == EACCES);
    assert (strstr (zstate_reason (), "not loopback"));
    rc = zstate_server_monitor (server, "tcp://*:*");
    assert (rc == -1 && errno == EACCES);
    //  Allowed, the bind itself is what fails (a documentation address)
    rc = zstate_server_set_insecure (server, true);
    assert (rc == 0);
    rc = zstate_server_bind (server, "tcp://192.0.2.1:*");
    assert (rc == -1 && errno != EACCES);
    rc = zstate_server_set_insecure (server, false);
    assert (rc == 0);

    //  A ZAP handler of the application's: we cannot know its policy
    zactor_t *theirs = zactor_new (zauth, NULL);
    assert (theirs);
    rc = zstate_server_set_curve (server, certs->server, certs->clients);
    assert (rc == -1 && errno == EADDRINUSE);
    assert (strstr (zstate_reason (), "ZAP handler"));
    rc = zstate_server_deny (server, "10.1.1.1");
    assert (rc == -1 && errno == EADDRINUSE);
    zactor_destroy (&theirs);
    s_zap_endpoint_wait ();

    //  Each bad certificate or directory, with its message
    struct {
        const char *certificate, *clients;
        int error;
        const char *reason;
    } cases [] = {
        { "", certs->clients, EINVAL, "needs a certificate" },
        { "/nonexistent/server", certs->clients, ENOENT, "cannot read a certificate" },
        { certs->clients, certs->clients, ENOENT, "cannot read a certificate" },
        { certs->public_only, certs->clients, EINVAL, "no secret key" },
        { certs->server, "/nonexistent/clients", ENOENT, "no client directory" },
        { certs->server, certs->empty, ENOENT, "no client certificate" },
        { certs->server, "", EINVAL, "needs a certificate" }
    };
    for (size_t index = 0; index < sizeof (cases) / sizeof (cases [0]); index++) {
        rc = zstate_server_set_curve (server, cases [index].certificate,
                                      cases [index].clients);
        assert (rc == -1 && errno == cases [index].error);
        assert (strstr (zstate_reason (), cases [index].reason));
    }
    rc = zstate_server_set_curve (server, NULL, certs->clients);
    assert (rc == -1 && errno == EINVAL);
    //  After all that, CURVE is off: loopback NULL still binds
    rc = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (rc > 0);
    //  ... and once bound, CURVE cannot come on for some endpoints only
    rc = zstate_server_set_curve (server, certs->server, certs->clients);
    assert (rc == -1 && errno == EBUSY);

    //  Hostile values of the other settings
    const char *addresses [] = { "", "300.1.1.1", "127.0.0.1; rm", "localhost",
                                 "127.0.0.1/8", "::1::1", NULL };
    for (int index = 0; addresses [index]; index++) {
        rc = zstate_server_allow (server, addresses [index]);
        assert (rc == -1 && errno == EINVAL);
        rc = zstate_server_deny (server, addresses [index]);
        assert (rc == -1 && errno == EINVAL);
    }
    assert (zstate_server_allow (server, NULL) == -1 && errno == EINVAL);
    assert (zstate_server_set_connections_max (server, -1) == -1 && errno == EINVAL);
    zstate_server_destroy (&server);
}

//  The client's CURVE settings, with hostile values
static void
s_test_client_settings (const certs_t *certs)
{
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    int rc = zstate_client_set_curve (client, certs->allowed, "not a key");
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_client_set_curve (client, certs->allowed, NULL);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_client_set_curve (client, "/nonexistent", certs->server_key);
    assert (rc == -1 && errno == ENOENT);
    rc = zstate_client_set_curve (client, certs->public_only, certs->server_key);
    assert (rc == -1 && errno == EINVAL);
    //  The server's public certificate serves as its key
    rc = zstate_client_set_curve (client, certs->allowed, certs->public_only);
    assert (rc == 0);
    zstate_client_destroy (&client);

    //  A raw socket's, and a file that is not a certificate (CZMQ 4.2.1's
    //  zcert_load leaks on one: we never hand it one)
    char *junk = zsys_sprintf ("%s/readme", certs->empty);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert (sock && junk);
    rc = zstate_curve_apply (sock, junk, certs->server_key);
    assert (rc == -1 && errno == ENOENT);
    assert (strstr (zstate_reason (), "cannot read a certificate"));
    rc = zstate_curve_apply (sock, certs->allowed, junk);
    assert (rc == -1 && errno == EINVAL);
    assert (strstr (zstate_reason (), "neither a public key"));
    rc = zstate_curve_apply (sock, certs->public_only, certs->server_key);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_curve_apply (sock, NULL, certs->server_key);
    assert (rc == -1 && errno == ENOENT);
    rc = zstate_curve_apply (sock, certs->allowed, certs->public_only);
    assert (rc == 0);
    char *key = zsock_curve_serverkey (sock);
    assert (key && streq (key, certs->server_key));
    zstr_free (&key);
    //  A certificate whose path is 40 characters, Z85 as well in most
    //  temporary directories: the file is what counts
    size_t size = strlen (certs->dir) + 1;
    if (size < 39) {
        char path [320];
        snprintf (path, sizeof (path), "%s/%.*s", certs->dir, (int) (40 - size),
                  "abcdefghijklmnopqrstuvwxyzabcdefghijklmn");
        assert (strlen (path) == 40);
        byte public_key [32], secret_key [32] = { 0 };
        assert (zmq_z85_decode (public_key, certs->server_key));
        zcert_t *cert = zcert_new_from (public_key, secret_key);
        assert (cert);
        rc = zcert_save_public (cert, path);
        assert (rc == 0);
        zcert_destroy (&cert);
        rc = zstate_curve_apply (sock, certs->allowed, path);
        assert (rc == 0);
        key = zsock_curve_serverkey (sock);
        assert (key && streq (key, certs->server_key));
        zstr_free (&key);
    }
    zstr_free (&junk);
    zsock_destroy (&sock);
}


//  --------------------------------------------------------------------------
//  Five clients: four refused, each counted, one delivered

//  Wait for an ERROR event from client whose reason holds text, or assert
static void
s_wait_error (zstate_client_t *client, const char *text)
{
    zsock_t *events = zstate_client_events (client);
    zsock_set_rcvtimeo (events, DEADLINE);
    bool seen = false;
    while (!seen) {
        char *type, *endpoint, *detail;
        int rc = zstr_recvx (events, &type, &endpoint, &detail, NULL);
        assert (rc == 3);
        seen = streq (type, "ERROR") && strstr (detail, text);
        zstr_free (&type);
        zstr_free (&endpoint);
        zstr_free (&detail);
    }
}

//  A zstate client refused is told why, and delivers nothing
static void
s_test_client_refused (const certs_t *certs, const char *endpoint)
{
    zstate_client_t *plain = zstate_client_new ();
    zstate_client_t *unknown = zstate_client_new ();
    int rc = zstate_client_set_curve (unknown, certs->unknown, certs->server_key);
    assert (rc == 0);
    rc = zstate_client_connect (plain, endpoint);
    assert (rc == 0);
    rc = zstate_client_connect (unknown, endpoint);
    assert (rc == 0);
    s_wait_error (plain, "another security mechanism");
    s_wait_error (unknown, "refused our certificate");
    zstate_client_set_linger (plain, 0);
    zstate_client_set_linger (unknown, 0);
    zstate_client_destroy (&plain);
    zstate_client_destroy (&unknown);
}

static bool
s_five_refused (const zstate_server_stats_t *stats, void *arg)
{
    (void) arg;
    //  A NULL or PLAIN peer may see the mismatch first and hang up before
    //  the server reads its mechanism: the server then counts "no detail"
    return stats->auth_mechanism + stats->auth_failed >= 2 && stats->auth_denied >= 1
        && stats->auth_crypto >= 1;
}

static void
s_test_five_clients (const certs_t *certs, bool verbose)
{
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    int port = s_server_start (&server, &consumer, certs);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);

    int64_t started = zclock_mono ();
    zsock_t *refused [4];
    for (int kind = PEER_NULL; kind <= PEER_WRONG_KEY; kind++) {
        refused [kind] = s_peer_new ((peer_t) kind, certs, endpoint);
        size_t taken = s_peer_send (refused [kind], MESSAGES);
        if (verbose)
            zsys_info ("zstate_security: refused peer %d: libzmq took %zu of %d",
                       kind, taken, MESSAGES);
    }
    zstate_server_stats_t stats;
    s_wait_stats (server, s_five_refused, NULL, &stats);
    if (verbose)
        zsys_info ("zstate_security: all four refused and counted after %" PRId64 " ms",
                   zclock_mono () - started);

    zstate_client_t *client = zstate_client_new ();
    assert (client);
    int rc = zstate_client_set_curve (client, certs->allowed, certs->server_key);
    assert (rc == 0);
    rc = zstate_client_connect (client, endpoint);
    assert (rc == 0);
    for (int index = 0; index < MESSAGES; index++) {
        zstate_batch_t *batch = zstate_batch_new ();
        zstate_batch_set (batch, "route", "nexthop", "10.0.0.2", NULL);
        while ((rc = zstate_client_send (client, DB, TABLE, batch)) == -1 && errno == ENOBUFS)
            zclock_sleep (1);
        assert (rc == 0);
        zstate_batch_destroy (&batch);
    }
    rc = zstate_client_flush (client, DEADLINE);
    assert (rc == 0);
    s_wait_delivered (consumer, MESSAGES);

    //  Nothing of the 4,000 others: every operation received is the client's
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.ops == MESSAGES);
    assert (stats.malformed == 0);
    assert (stats.handshakes >= 1);
    assert (stats.accepted >= 5);
    assert (zstate_consumer_pending (consumer) == 0);
    if (verbose)
        zsys_info ("zstate_security: refused: %" PRIu64 " mechanism, %" PRIu64
                   " denied, %" PRIu64 " crypto", stats.auth_mechanism,
                   stats.auth_denied, stats.auth_crypto);
    zstate_client_destroy (&client);
    s_test_client_refused (certs, endpoint);
    for (int kind = PEER_NULL; kind <= PEER_WRONG_KEY; kind++)
        zsock_destroy (&refused [kind]);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
}

//  --------------------------------------------------------------------------
//  The monitor: STATS and WATCH only with credentials

typedef struct {
    uint64_t mechanism;         //  wait for more than these (mechanism or
                                //  "no detail", as in s_five_refused)
    uint64_t denied;
} refusals_t;

static bool
s_more_refused (const zstate_server_stats_t *stats, void *arg)
{
    refusals_t *before = (refusals_t *) arg;
    return stats->auth_mechanism + stats->auth_failed > before->mechanism
        && stats->auth_denied > before->denied;
}

static void
s_test_monitor (const certs_t *certs)
{
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    s_server_start (&server, &consumer, certs);
    int port = zstate_server_monitor (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    zstate_server_stats_t stats;
    int rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    refusals_t before = { stats.auth_mechanism + stats.auth_failed, stats.auth_denied };

    zsock_t *plain = s_peer_new (PEER_NULL, certs, endpoint);
    zstr_sendx (plain, "WATCH", DB, TABLE, NULL);
    zstr_send (plain, "STATS");
    zsock_t *unknown = s_peer_new (PEER_UNKNOWN, certs, endpoint);
    zstr_sendx (unknown, "WATCH", DB, TABLE, NULL);
    s_wait_stats (server, s_more_refused, &before, &stats);

    //  The allowed peer gets its answer, which shows that nobody watches
    zsock_t *allowed = s_peer_new (PEER_ALLOWED, certs, endpoint);
    zstr_send (allowed, "STATS");
    char *command, *status, *reason, *text;
    rc = zstr_recvx (allowed, &command, &status, &reason, &text, NULL);
    assert (rc == 4);
    assert (streq (command, "STATS") && streq (status, "0"));
    assert (strstr (text, "    watchers = 0\n"));
    assert (strstr (text, "    refused\n"));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    zstr_free (&text);
    zsock_destroy (&allowed);
    zsock_destroy (&unknown);
    zsock_destroy (&plain);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
}


//  --------------------------------------------------------------------------
//  ZMTP 1.0 and 2.0 streams never reach the decoder, NULL security or not

static bool
s_closed (const zstate_server_stats_t *stats, void *arg)
{
    return stats->accepted >= *(uint64_t *) arg && stats->connections == 0;
}

//  Write stream to a new tcp connection to port
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

static void
s_test_old_zmtp (void)
{
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    int port = s_server_start (&server, &consumer, NULL);
    zuuid_t *session = zuuid_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "route", "nexthop", "10.0.0.3", NULL);
    zframe_t *frame = zstate_msg_encode (zuuid_data (session), 1, DB, TABLE, batch);
    assert (frame && zframe_size (frame) + 1 < 255);
    //  ZMTP 1.0: an empty identity, then one valid message, each frame
    //  [length][flags][body]
    byte stream [256] = { 1, 0, (byte) (zframe_size (frame) + 1), 0 };
    memcpy (stream + 4, zframe_data (frame), zframe_size (frame));
    int v1 = s_stream_send (port, stream, 4 + zframe_size (frame));
    //  ZMTP 2.0: signature, revision 1, DEALER, then [flags][length][body]
    byte greeting [14] = { 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, 5, 0, 0 };
    memcpy (stream, greeting, sizeof (greeting));
    stream [14] = 0;
    stream [15] = (byte) zframe_size (frame);
    memcpy (stream + 16, zframe_data (frame), zframe_size (frame));
    int v2 = s_stream_send (port, stream, 16 + zframe_size (frame));

    uint64_t accepted = 2;
    zstate_server_stats_t stats;
    s_wait_stats (server, s_closed, &accepted, &stats);
    assert (stats.messages == 0 && stats.malformed == 0 && stats.routed == 0);
    assert (zstate_consumer_pending (consumer) == 0);
    close (v1);
    close (v2);
    zframe_destroy (&frame);
    zstate_batch_destroy (&batch);
    zuuid_destroy (&session);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
}


//  --------------------------------------------------------------------------
//  ALLOW and DENY, on both endpoints

static bool
s_denied (const zstate_server_stats_t *stats, void *arg)
{
    return stats->auth_denied >= *(uint64_t *) arg;
}

static void
s_test_deny (const certs_t *certs)
{
    //  DENY, NULL security: refused on the data and the monitor endpoint
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    int port = s_server_start (&server, &consumer, NULL);
    int rc = zstate_server_deny (server, "127.0.0.1");
    assert (rc == 0);
    int monitor_port = zstate_server_monitor (server, "tcp://127.0.0.1:*");
    assert (monitor_port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    zsock_t *peer = s_peer_new (PEER_NULL, certs, endpoint);
    s_peer_send (peer, MESSAGES);
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", monitor_port);
    zsock_t *watcher = s_peer_new (PEER_NULL, certs, endpoint);
    zstr_send (watcher, "STATS");
    uint64_t expected = 2;
    zstate_server_stats_t stats;
    s_wait_stats (server, s_denied, &expected, &stats);
    assert (stats.routed == 0 && stats.messages == 0);
    zsock_destroy (&watcher);
    zsock_destroy (&peer);
    zstate_consumer_destroy (&consumer);
    //  The last server in the process takes the lists with it
    zstate_server_destroy (&server);
}

static void
s_test_allow (const certs_t *certs)
{
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    int port = s_server_start (&server, &consumer, certs);
    int rc = zstate_server_allow (server, "127.0.0.2");
    assert (rc == 0);
    char endpoint [96];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    //  The allowed key, from an address not allowed: refused
    zsock_t *outside = s_peer_new (PEER_ALLOWED, certs, endpoint);
    s_peer_send (outside, MESSAGES);
    uint64_t expected = 1;
    zstate_server_stats_t stats;
    s_wait_stats (server, s_denied, &expected, &stats);
    //  The same key from 127.0.0.2 gets in, though denied: with an allowed
    //  address, the deny list is ignored; an unknown key from there not
    rc = zstate_server_deny (server, "127.0.0.2");
    assert (rc == 0);
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.2:0;127.0.0.1:%d", port);
    zsock_t *unknown = s_peer_new (PEER_UNKNOWN, certs, endpoint);
    s_peer_send (unknown, MESSAGES);
    expected = stats.auth_denied + 1;
    zsock_t *inside = s_peer_new (PEER_ALLOWED, certs, endpoint);
    assert (s_peer_send (inside, MESSAGES) == MESSAGES);
    s_wait_delivered (consumer, MESSAGES);
    s_wait_stats (server, s_denied, &expected, &stats);
    assert (stats.routed == MESSAGES && stats.ops == MESSAGES);
    zsock_destroy (&inside);
    zsock_destroy (&unknown);
    zsock_destroy (&outside);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
}


//  --------------------------------------------------------------------------
//  The connection cap

static bool
s_shed (const zstate_server_stats_t *stats, void *arg)
{
    (void) arg;
    return stats->shed >= 1;
}

static bool
s_three_open (const zstate_server_stats_t *stats, void *arg)
{
    (void) arg;
    return stats->connections == 3;
}

static void
s_test_cap (const certs_t *certs)
{
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    int port = s_server_start (&server, &consumer, NULL);
    int rc = zstate_server_set_connections_max (server, 2);
    assert (rc == 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    zsock_t *peers [3];
    for (int index = 0; index < 3; index++)
        peers [index] = s_peer_new (PEER_NULL, certs, endpoint);
    zstate_server_stats_t stats;
    s_wait_stats (server, s_shed, NULL, &stats);
    //  Without the cap, the one that was shed (and reconnects) stays
    rc = zstate_server_set_connections_max (server, 0);
    assert (rc == 0);
    s_wait_stats (server, s_three_open, NULL, &stats);
    for (int index = 0; index < 3; index++)
        zsock_destroy (&peers [index]);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
}


//  --------------------------------------------------------------------------
//  Two servers in one process share the authenticator and its directory

static void
s_test_shared (const certs_t *certs)
{
    zstate_server_t *first = zstate_server_new ();
    zstate_server_t *second = zstate_server_new ();
    int rc = zstate_server_set_curve (first, certs->server, certs->clients);
    assert (rc == 0);
    rc = zstate_server_set_curve (first, certs->server, certs->clients);
    assert (rc == -1 && errno == EBUSY);
    //  Another directory: refused; the same one: shared
    rc = zstate_server_set_curve (second, certs->server, certs->dir);
    assert (rc == -1 && errno == EBUSY);
    assert (strstr (zstate_reason (), "one directory per process"));
    rc = zstate_server_set_curve (second, certs->server, certs->clients);
    assert (rc == 0);
    zstate_server_destroy (&first);
    zstate_server_destroy (&second);
}


void
zstate_security_test (bool verbose)
{
    printf (" * zstate_security: ");
    if (verbose)
        printf ("\n");
    certs_t certs;
    s_certs_new (&certs);
    s_test_loopback ();
    s_test_fail_closed (&certs);
    s_test_client_settings (&certs);
    s_test_shared (&certs);
    s_test_five_clients (&certs, verbose);
    s_test_monitor (&certs);
    s_test_old_zmtp ();
    s_test_deny (&certs);
    s_test_allow (&certs);
    s_test_cap (&certs);
    s_certs_destroy (&certs);
    printf ("OK\n");
}
