/*  =========================================================================
    zstate_writer_resync_test - the DB writer's part of state resync:
    Redis that lost its data, and windows that replace a table

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"

//  From selftest/zstate_writer_persist.c
void
    zstate_writer_test_send_v2 (zsock_t *push, const byte *session, uint64_t sequence,
                                const char *table, zstate_batch_t *batch);
char *
    zstate_writer_test_event (zsock_t *events, const char *type);

//  The next event of type for writer, its first frame after the endpoint
static char *
s_test_event (zstate_writer_t *writer, const char *type)
{
    return zstate_writer_test_event (zstate_writer_events (writer), type);
}

//  Wait for the writer to be connected again after Redis came back
static void
s_test_connected (zstate_writer_t *writer)
{
    char *state = NULL;
    while (!state || !streq (state, "CONNECTED")) {
        zstr_free (&state);
        state = s_test_event (writer, "STATE");
        assert (state);
    }
    zstr_free (&state);
}

//  Read the sink until it gave expected LOST messages (up to 10 s), then
//  what else it holds now; returns the LOSTs seen, each naming APPL_DB
static int
s_test_lost_messages (zsock_t *sink, int expected)
{
    int count = 0;
    int64_t deadline = zclock_mono () + 10000;
    while (true) {
        int64_t left = count < expected? deadline - zclock_mono (): 0;
        zsock_set_rcvtimeo (sink, left > 0? (int) left: 0);
        zmsg_t *msg = zmsg_recv (sink);
        if (!msg)
            break;
        char *type = zmsg_popstr (msg);
        if (streq (type, "LOST")) {
            char *db = zmsg_popstr (msg);
            assert (db && streq (db, "APPL_DB") && zmsg_size (msg) == 0);
            zstr_free (&db);
            count++;
        }
        zstr_free (&type);
        zmsg_destroy (&msg);
    }
    return count;
}

static bool
s_test_exists (zstate_redis_t *redis, const char *key)
{
    assert (zstate_redis_command (redis, "EXISTS", key, NULL) == ZSTATE_REDIS_INTEGER);
    return zstate_redis_integer (redis, -1) == 1;
}

static void
s_test_reconnect (zstate_redis_t *redis)
{
    for (int attempt = 0; attempt < 200 && zstate_redis_connect (redis); attempt++)
        zclock_sleep (50);
    assert (zstate_redis_connected (redis));
}


//  --------------------------------------------------------------------------
//  Redis restarted with its data (a save loaded) is no loss; restarted
//  without, or flushed, it is: event, counter, LOST to the confirm sink

static void
s_test_redis_lost (void)
{
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    zsock_t *sink = zsock_new_pull ("inproc://zstate-writer-resync-lost");
    assert (sink);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_reconnect (writer, 10, 50) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    s_test_connected (writer);
    assert (zstate_writer_confirm (writer, "inproc://zstate-writer-resync-lost") == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push && zsock_connect (push, "%s", zstate_writer_endpoint (writer)) == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    byte session [ZSTATE_MSG_SESSION_SIZE];
    memset (session, 0x42, sizeof (session));
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_writer_test_send_v2 (push, session, 1, "PORT", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    assert (s_test_exists (redis, "PORT:Ethernet0"));

    //  Restarted with its data: reconnected, nothing lost
    assert (zstate_redis_command (redis, "SAVE", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_redis_server_kill (server) == 0);
    assert (zstate_redis_server_start (server) == 0);
    s_test_connected (writer);
    s_test_reconnect (redis);
    assert (s_test_exists (redis, "PORT:Ethernet0"));
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.reconnects == 1 && stats.redis_lost == 0);

    //  Restarted without it (no save to load): reported once
    char *save = zsys_sprintf ("%s/dump.rdb", zstate_redis_server_dir (server));
    assert (zstate_redis_server_kill (server) == 0);
    assert (remove (save) == 0);
    zstr_free (&save);
    assert (zstate_redis_server_start (server) == 0);
    char *lost = s_test_event (writer, "LOST");
    assert (lost && strstr (lost, "without its data"));
    zstr_free (&lost);
    s_test_reconnect (redis);
    assert (!s_test_exists (redis, "PORT:Ethernet0"));
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.reconnects == 2 && stats.redis_lost == 1);
    assert (s_test_lost_messages (sink, 1) == 1);

    //  Flushed under a connection that then breaks: reported at the
    //  reconnect; a connection broken on a Redis that kept its data is not
    assert (zstate_redis_command (redis, "CLIENT", "KILL", "TYPE", "normal", NULL)
            == ZSTATE_REDIS_INTEGER);
    s_test_connected (writer);
    s_test_reconnect (redis);
    assert (zstate_redis_command (redis, "FLUSHALL", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_redis_command (redis, "CLIENT", "KILL", "TYPE", "normal", NULL)
            == ZSTATE_REDIS_INTEGER);
    lost = s_test_event (writer, "LOST");
    assert (lost && strstr (lost, "flushed"));
    zstr_free (&lost);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.reconnects == 4 && stats.redis_lost == 2);
    assert (s_test_lost_messages (sink, 1) == 1);
    //  What the writer takes after it is written as before
    zstate_batch_set (batch, "Ethernet4", "mtu", "1500", NULL);
    zstate_writer_test_send_v2 (push, session, 2, "PORT", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    s_test_reconnect (redis);
    assert (s_test_exists (redis, "PORT:Ethernet4"));
    assert (s_test_lost_messages (sink, 0) == 0);

    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zsock_destroy (&sink);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);
}


void
zstate_writer_resync_test (bool verbose);
void
zstate_writer_resync_test (bool verbose)
{
    printf (" * zstate_writer_resync: ");
    if (verbose)
        printf ("\n");
    s_test_redis_lost ();
    printf ("OK\n");
}
