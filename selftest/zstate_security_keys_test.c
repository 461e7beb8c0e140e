/*  =========================================================================
    zstate_security_keys_test - version 2 sessions bound to the CURVE key
    that opened them: a HELLO from another key for a session is refused
    and counted, its owner's stream goes on, and one key owns at most its
    cap of sessions, which a session gives back when the table forgets it;
    and the monitor's WATCH slots, of which one key holds at most its cap

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_peer.h"

#define TABLE           "ROUTE_TABLE"

//  A raw version 2 peer with cert's CURVE keys, on the server's port
static zsock_t *
s_peer_new (zcert_t *cert, const char *server_key, int port)
{
    zsock_t *peer = zsock_new (ZMQ_DEALER);
    assert (peer);
    zcert_apply (cert, peer);
    zsock_set_curve_serverkey (peer, server_key);
    zsock_set_rcvtimeo (peer, PEER_DEADLINE);
    int rc = zsock_connect (peer, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    return peer;
}

//  HELLO for session from peer: expect WELCOME or, when refused, REJECT
//  UNAUTHORISED
static void
s_hello (zsock_t *peer, const byte *session, bool refused)
{
    reply_t reply = { NULL };
    peer_hello (peer, session, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
    peer_expect (peer, &reply, refused? ZSTATE_SESSION_MSG_REJECT: ZSTATE_SESSION_MSG_WELCOME);
    assert (memcmp (reply.msg.session, session, ZSTATE_MSG_SESSION_SIZE) == 0);
    if (refused)
        assert (reply.msg.reason == ZSTATE_SESSION_REASON_UNAUTHORISED);
    zframe_destroy (&reply.frame);
}

//  OPS sequence of session from peer, acknowledged as delivered
static void
s_ops (zsock_t *peer, const byte *session, uint64_t sequence, const char *key)
{
    reply_t reply = { NULL };
    peer_ops (peer, 2, session, sequence, TABLE, key, 0);
    peer_expect_ack (peer, &reply, sequence);
    zframe_destroy (&reply.frame);
}

static uint64_t
s_refused (zstate_server_t *server)
{
    zstate_server_stats_t stats;
    int rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    return stats.sessions_refused;
}

//  Without a setting one key owns 1024 sessions: HELLOs go in batches,
//  each answered before the next, and the 1025th is refused
static void
s_test_default_cap (const char *certificate, const char *clients, zcert_t *cert,
                    const char *server_key)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    int rc = zstate_server_set_curve (server, certificate, clients);
    assert (rc == 0);
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *peer = s_peer_new (cert, server_key, port);
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 0 };
    for (uint32_t batch = 0; batch < 4; batch++) {
        for (uint32_t index = 0; index < 256; index++) {
            uint32_t number = batch * 256 + index + 1;
            memcpy (session, &number, sizeof (number));
            peer_hello (peer, session, 1, ZSTATE_SESSION_ACK_DELIVERED, 0);
        }
        for (uint32_t index = 0; index < 256; index++) {
            reply_t reply = { NULL };
            peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
            zframe_destroy (&reply.frame);
        }
    }
    assert (s_refused (server) == 0);
    uint32_t number = 1025;
    memcpy (session, &number, sizeof (number));
    s_hello (peer, session, true);
    assert (s_refused (server) == 1);
    zsock_destroy (&peer);
    zstate_server_destroy (&server);
}

//  Session id number, apart from the ids zuuid makes
static const byte *
s_id (byte *id, uint32_t number)
{
    memset (id, 0xA5, ZSTATE_MSG_SESSION_SIZE);
    memcpy (id, &number, sizeof (number));
    return id;
}

//  With a cap of 2, where owner owns the two least recently heard
//  sessions, the second of them owned, and other owns the third: a
//  session that is evicted or expires gives its slot back to its key,
//  and a forgotten id another key takes is counted for that key only
static void
s_test_slots (zstate_server_t *server, zsock_t *owner, zsock_t *other,
              const byte *owned)
{
    byte id [ZSTATE_MSG_SESSION_SIZE];
    zstate_server_stats_t stats;
    int rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    uint64_t refused = stats.sessions_refused;
    uint64_t evicted = stats.evicted;
    //  Full, the table evicts the owner's session 1 for other's 4
    rc = zstate_server_set_sessions_max (server, 3);
    assert (rc == 0);
    s_hello (other, s_id (id, 4), false);
    rc = zstate_server_set_sessions_max (server, 65536);
    assert (rc == 0);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.evicted == evicted + 1);
    s_hello (owner, s_id (id, 5), false);
    s_hello (owner, s_id (id, 6), true);
    s_hello (other, s_id (id, 7), true);
    assert (s_refused (server) == refused + 2);

    //  Every session expires: each key has its two slots again
    uint64_t expired = stats.expired;
    rc = zstate_server_set_session_idle (server, 0);
    assert (rc == 0);
    WAIT_STATS (server, stats, stats.sessions == 0);
    assert (stats.expired == expired + 4);
    rc = zstate_server_set_session_idle (server, 600000);
    assert (rc == 0);
    //  Other takes the owner's forgotten session, which is other's now
    s_hello (other, owned, false);
    s_hello (owner, owned, true);
    s_hello (owner, s_id (id, 8), false);
    s_hello (owner, s_id (id, 9), false);
    s_hello (owner, s_id (id, 10), true);
    s_hello (other, s_id (id, 11), false);
    s_hello (other, s_id (id, 12), true);
    assert (s_refused (server) == refused + 5);
}

//  --------------------------------------------------------------------------
//  The monitor's WATCH slots per key

#define WATCH_CAP       4       //  the test's cap of watches per key

//  Send WATCH from each of count peers in one go, then read their
//  answers; returns how many were refused at the key's cap, which the
//  others were not
static int
s_watch_round (zsock_t **peers, int count)
{
    for (int index = 0; index < count; index++)
        zstr_sendx (peers [index], "WATCH", PEER_DB, TABLE, NULL);
    int refused = 0;
    for (int index = 0; index < count; index++) {
        char *command, *status, *reason;
        int rc = zstr_recvx (peers [index], &command, &status, &reason, NULL);
        assert (rc == 3 && streq (command, "WATCH"));
        if (atoi (status) == EDQUOT) {
            char expected [64];
            snprintf (expected, sizeof (expected), "this client key holds %d watches",
                      WATCH_CAP);
            assert (strstr (reason, expected));
            refused++;
        }
        else
            assert (streq (status, "0"));
        zstr_free (&command);
        zstr_free (&status);
        zstr_free (&reason);
    }
    return refused;
}

//  One key opens WATCH_CAP + 1 connections to a CURVE monitor, and each
//  WATCHes: one is refused, however the connections take turns, and
//  another key's WATCH still passes. A round where a lease ran out (3 s;
//  a slow run) may have let all pass, so it is the outcome of some round
//  in ten that counts, never the time a round takes.
static void
s_test_watches (const char *certificate, const char *clients, zcert_t *owner_cert,
                zcert_t *other_cert, const char *server_key)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    int rc = zstate_server_set_curve (server, certificate, clients);
    assert (rc == 0);
    assert (zstate_server_set_watches_per_key (server, 0) == -1 && errno == EINVAL);
    //  Set before the monitor is bound, and kept for it
    rc = zstate_server_set_watches_per_key (server, WATCH_CAP);
    assert (rc == 0);
    int port = zstate_server_monitor (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *owners [WATCH_CAP + 1];
    for (int index = 0; index < WATCH_CAP + 1; index++) {
        owners [index] = s_peer_new (owner_cert, server_key, port);
        //  Answered once its handshake is done: then the WATCHes go at once
        zstr_send (owners [index], "PING");
        zmsg_t *reply = zmsg_recv (owners [index]);
        assert (reply && zframe_streq (zmsg_first (reply), "PING"));
        zmsg_destroy (&reply);
    }
    int refused = 0, round_refused = 0;
    for (int round = 0; round < 10 && round_refused != 1; round++) {
        round_refused = s_watch_round (owners, WATCH_CAP + 1);
        refused += round_refused;
    }
    assert (round_refused == 1);
    zsock_t *other = s_peer_new (other_cert, server_key, port);
    assert (s_watch_round (&other, 1) == 0);

    //  Counted in the monitor's STATS
    zstr_send (other, "STATS");
    char *command, *status, *reason, *text;
    rc = zstr_recvx (other, &command, &status, &reason, &text, NULL);
    assert (rc == 4 && streq (status, "0"));
    char expected [64];
    snprintf (expected, sizeof (expected), "    watch_refused_key = %d\n", refused);
    assert (strstr (text, expected));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    zstr_free (&text);
    //  A higher cap, set any time, lets the last one in too
    rc = zstate_server_set_watches_per_key (server, WATCH_CAP + 1);
    assert (rc == 0);
    assert (s_watch_round (owners, WATCH_CAP + 1) == 0);

    for (int index = 0; index < WATCH_CAP + 1; index++)
        zsock_destroy (&owners [index]);
    zsock_destroy (&other);
    zstate_server_destroy (&server);
}

//  Let cert in: its public half in the clients' directory, as name
static void
s_client_save (zcert_t *cert, const char *clients, const char *name)
{
    char *path = zsys_sprintf ("%s/%s", clients, name);
    int rc = zcert_save_public (cert, path);
    assert (rc == 0);
    zstr_free (&path);
}

static void
s_dir_remove (const char *path)
{
    zdir_t *tree = zdir_new (path, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
}

void
zstate_security_keys_test (bool verbose)
{
    printf (" * zstate_security_keys: ");
    (void) verbose;
    char dir [256];
    snprintf (dir, sizeof (dir), "%s/zstate-keys-XXXXXX",
              getenv ("TMPDIR")? getenv ("TMPDIR"): "/tmp");
    assert (mkdtemp (dir));
    char *clients = zsys_sprintf ("%s/clients", dir);
    char *path = zsys_sprintf ("%s/server", dir);
    zsys_dir_create ("%s", clients);
    zcert_t *server_cert = zcert_new ();
    zcert_t *owner_cert = zcert_new ();
    zcert_t *other_cert = zcert_new ();
    int rc = zcert_save (server_cert, path);
    assert (rc == 0);
    s_client_save (owner_cert, clients, "owner");
    s_client_save (other_cert, clients, "other");

    zstate_server_t *server = zstate_server_new ();
    assert (server);
    rc = zstate_server_set_curve (server, path, clients);
    assert (rc == 0);
    assert (zstate_server_set_sessions_per_key (server, 0) == -1 && errno == EINVAL);
    assert (zstate_server_set_sessions_per_key (server, -1) == -1 && errno == EINVAL);
    rc = zstate_server_set_sessions_per_key (server, 2);
    assert (rc == 0);
    zstate_consumer_t *consumer = zstate_consumer_new (server, PEER_DB, TABLE);
    assert (consumer);
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *owner = s_peer_new (owner_cert, zcert_public_txt (server_cert), port);
    zsock_t *other = s_peer_new (other_cert, zcert_public_txt (server_cert), port);

    //  The other key cannot take the owner's session; the owner's stream
    //  goes on under its own connection
    zuuid_t *session = zuuid_new ();
    s_hello (owner, zuuid_data (session), false);
    s_ops (owner, zuuid_data (session), 1, "k1");
    s_hello (other, zuuid_data (session), true);
    assert (s_refused (server) == 1);
    s_ops (owner, zuuid_data (session), 2, "k2");
    peer_expect_keys (consumer, "k1 k2");
    //  The owner may HELLO its session again
    s_hello (owner, zuuid_data (session), false);
    s_ops (owner, zuuid_data (session), 3, "k3");
    peer_expect_keys (consumer, "k3");

    //  The cap: two sessions per key; another key has its own two
    zuuid_t *second = zuuid_new ();
    zuuid_t *third = zuuid_new ();
    s_hello (owner, zuuid_data (second), false);
    s_hello (owner, zuuid_data (third), true);
    assert (s_refused (server) == 2);
    s_hello (other, zuuid_data (third), false);
    s_ops (other, zuuid_data (third), 1, "k4");
    peer_expect_keys (consumer, "k4");
    assert (s_refused (server) == 2);
    s_test_slots (server, owner, other, zuuid_data (second));

    s_test_default_cap (path, clients, owner_cert, zcert_public_txt (server_cert));
    s_test_watches (path, clients, owner_cert, other_cert, zcert_public_txt (server_cert));

    zuuid_destroy (&session);
    zuuid_destroy (&second);
    zuuid_destroy (&third);
    zsock_destroy (&owner);
    zsock_destroy (&other);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
    zcert_destroy (&server_cert);
    zcert_destroy (&owner_cert);
    zcert_destroy (&other_cert);
    s_dir_remove (dir);
    zstr_free (&path);
    zstr_free (&clients);
    printf ("OK\n");
}
