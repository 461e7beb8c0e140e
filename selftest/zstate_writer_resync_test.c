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
int64_t
    zstate_writer_test_mark (zstate_redis_t *redis, const char *table, const byte *session,
                             int64_t *secs_p);

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


//  --------------------------------------------------------------------------
//  Flushed under a connection that stays up: seen while connected, idle
//  or busy, and reported as on connect

//  Whether a LOST event waits now, reading the events that come before
static bool
s_test_lost_event (zstate_writer_t *writer)
{
    zsock_t *events = zstate_writer_events (writer);
    zsock_set_rcvtimeo (events, 0);
    bool lost = false;
    zmsg_t *event;
    while (!lost && (event = zmsg_recv (events))) {
        char *type = zmsg_popstr (event);
        lost = type && streq (type, "LOST");
        zstr_free (&type);
        zmsg_destroy (&event);
    }
    return lost;
}

static void
s_test_flushed_connected (void)
{
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    zsock_t *sink = zsock_new_pull ("inproc://zstate-writer-resync-flushed");
    assert (sink);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    assert (zstate_writer_confirm (writer, "inproc://zstate-writer-resync-flushed") == 0);
    assert (zstate_writer_attach (writer, "APPL_DB") == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push && zsock_connect (push, "%s", zstate_writer_endpoint (writer)) == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    byte session [ZSTATE_MSG_SESSION_SIZE];
    memset (session, 0x43, sizeof (session));
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_writer_test_send_v2 (push, session, 1, "PORT", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);

    //  Idle: the writer reads the instance key on its own
    assert (zstate_redis_command (redis, "FLUSHALL", NULL) == ZSTATE_REDIS_STATUS);
    char *lost = s_test_event (writer, "LOST");
    assert (lost && strstr (lost, "flushed"));
    zstr_free (&lost);
    assert (s_test_lost_messages (sink, 1) == 1);
    assert (s_test_exists (redis, "_ZSTATE_INSTANCE"));
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.redis_lost == 1 && stats.disconnects == 0 && stats.probes >= 1);

    //  Busy: a message every millisecond, flushed under it
    uint64_t sequence = 1;
    bool seen = false;
    int64_t deadline = zclock_mono () + 30000;
    while (!seen && zclock_mono () < deadline) {
        char key [48];
        snprintf (key, sizeof (key), "Ethernet%" PRIu64, ++sequence);
        zstate_batch_set (batch, key, "mtu", "1500", NULL);
        zstate_writer_test_send_v2 (push, session, sequence, "PORT", batch);
        if (sequence == 200)
            assert (zstate_redis_command (redis, "FLUSHALL", NULL) == ZSTATE_REDIS_STATUS);
        seen = sequence > 200 && s_test_lost_event (writer);
        zclock_sleep (1);
    }
    assert (seen);
    assert (zstate_writer_flush (writer, 10000) == 0);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.redis_lost == 2 && stats.disconnects == 0);
    assert (s_test_lost_messages (sink, 1) == 1);
    //  What came after the flush is written, once
    char key [48];
    snprintf (key, sizeof (key), "PORT:Ethernet%" PRIu64, sequence);
    assert (s_test_exists (redis, key));
    assert (stats.written + stats.coalesced + stats.failed == sequence);

    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zsock_destroy (&sink);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);
}


//  --------------------------------------------------------------------------
//  Windows: a COMPLETE one replaces its table in Redis

//  Send a SNAPSHOT-BEGIN (kind) or, with begin not 0, a SNAPSHOT-END
//  (begin, status) for APPL_DB/table
static void
s_test_marker (zsock_t *push, const byte *session, uint64_t sequence, const char *table,
               uint64_t begin, int status)
{
    zstate_session_msg_t msg = {
        .type = begin? ZSTATE_SESSION_MSG_SNAPSHOT_END: ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN,
        .session = session, .sequence = sequence, .db = "APPL_DB", .table = table,
        .kind = ZSTATE_SESSION_VIEW, .begin = begin, .status = status, .count = 0
    };
    zmq_msg_t frame;
    assert (zstate_session_msg_encode_frame (&msg, &frame) == 0);
    assert (zmq_msg_send (&frame, zsock_resolve (push), 0) != -1);
}

//  Write keys table:k0 .. k<count - 1>, each { old: value }, as session
//  from *sequence_p on
static void
s_test_fill (zsock_t *push, zstate_batch_t *batch, const byte *session,
             uint64_t *sequence_p, const char *table, int count)
{
    for (int index = 0; index < count; index++) {
        char key [16];
        snprintf (key, sizeof (key), "k%d", index);
        zstate_batch_set (batch, key, "old", "value", NULL);
        if (zstate_batch_size (batch) == 100 || index == count - 1)
            zstate_writer_test_send_v2 (push, session, ++*sequence_p, table, batch);
    }
}

//  The keys of table in Redis, as "k0 k2 ..." in key order; for counts
//  only, NULL text
static size_t
s_test_keys (zstate_redis_t *redis, const char *table, char *text, size_t size)
{
    char pattern [64];
    snprintf (pattern, sizeof (pattern), "%s:*", table);
    assert (zstate_redis_command (redis, "KEYS", pattern, NULL) == ZSTATE_REDIS_ARRAY);
    size_t count = zstate_redis_elements (redis);
    zlistx_t *keys = zlistx_new ();
    zlistx_set_destructor (keys, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (keys, (zlistx_duplicator_fn *) strdup);
    zlistx_set_comparator (keys, (zlistx_comparator_fn *) strcmp);
    for (size_t index = 0; index < count; index++)
        zlistx_add_end (keys, (void *) (zstate_redis_str (redis, (int) index, NULL)
                                        + strlen (table) + 1));
    zlistx_sort (keys);
    if (text) {
        *text = 0;
        for (char *key = (char *) zlistx_first (keys); key; key = (char *) zlistx_next (keys))
            snprintf (text + strlen (text), size - strlen (text), "%s%s", *text? " ": "", key);
    }
    zlistx_destroy (&keys);
    return count;
}

//  The value of field in table:key, or "-" when none
static const char *
s_test_field (zstate_redis_t *redis, const char *table, const char *key, const char *field)
{
    static char value [64];
    char name [64];
    snprintf (name, sizeof (name), "%s:%s", table, key);
    int type = zstate_redis_command (redis, "HGET", name, field, NULL);
    snprintf (value, sizeof (value), "%s", type == ZSTATE_REDIS_STRING?
              zstate_redis_str (redis, -1, NULL): "-");
    return value;
}

static void
s_test_replace (zstate_redis_t *redis, zstate_writer_t *writer, zsock_t *push,
                zstate_batch_t *batch)
{
    byte alice [ZSTATE_MSG_SESSION_SIZE];
    memset (alice, 0xA1, sizeof (alice));
    uint64_t sequence = 0;
    s_test_fill (push, batch, alice, &sequence, "PORT", 10);
    s_test_fill (push, batch, alice, &sequence, "VLAN", 3);
    assert (zstate_writer_flush (writer, 10000) == 0);
    //  The window writes k0, k2 and merges into k4; after its END, k8
    //  (which it did not write) gets a field: swept, then written anew
    uint64_t begin = ++sequence;
    s_test_marker (push, alice, begin, "PORT", 0, 0);
    zstate_batch_set (batch, "k0", "new", "1", NULL);
    zstate_batch_set (batch, "k2", "new", "1", NULL);
    zstate_batch_hset (batch, "k4", "new", "1", NULL);
    zstate_writer_test_send_v2 (push, alice, ++sequence, "PORT", batch);
    zstate_batch_hset (batch, "k0", "more", "1", NULL);
    zstate_batch_set (batch, "k1", "other", "1", NULL);
    zstate_writer_test_send_v2 (push, alice, ++sequence, "VLAN", batch);
    s_test_marker (push, alice, ++sequence, "PORT", begin, ZSTATE_SESSION_END_COMPLETE);
    zstate_batch_hset (batch, "k8", "late", "1", NULL);
    zstate_writer_test_send_v2 (push, alice, ++sequence, "PORT", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    char keys [256];
    s_test_keys (redis, "PORT", keys, sizeof (keys));
    assert (streq (keys, "k0 k2 k4 k8"));
    assert (streq (s_test_field (redis, "PORT", "k0", "old"), "-"));
    assert (streq (s_test_field (redis, "PORT", "k4", "old"), "value"));
    assert (streq (s_test_field (redis, "PORT", "k4", "new"), "1"));
    assert (streq (s_test_field (redis, "PORT", "k8", "late"), "1"));
    assert (streq (s_test_field (redis, "PORT", "k8", "old"), "-"));
    //  Other tables untouched, the one written meanwhile too
    s_test_keys (redis, "VLAN", keys, sizeof (keys));
    assert (streq (keys, "k0 k1 k2"));
    assert (streq (s_test_field (redis, "VLAN", "k0", "more"), "1"));
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.windows == 1 && stats.sweeps == 1 && stats.swept == 7);
    assert (stats.windows_dropped == 0 && stats.windows_unmatched == 0);
    assert (zstate_writer_test_mark (redis, "PORT", alice, NULL) == (int64_t) sequence);
    char *swept = s_test_event (writer, "SWEEP");
    assert (swept && streq (swept, "PORT"));
    zstr_free (&swept);

    //  A window of no operation empties its table; the watermark is the
    //  END's, with nothing after it
    begin = ++sequence;
    s_test_marker (push, alice, begin, "VLAN", 0, 0);
    s_test_marker (push, alice, ++sequence, "VLAN", begin, ZSTATE_SESSION_END_COMPLETE);
    assert (zstate_writer_flush (writer, 10000) == 0);
    assert (s_test_keys (redis, "VLAN", NULL, 0) == 0);
    assert (s_test_keys (redis, "PORT", NULL, 0) == 4);
    assert (zstate_writer_test_mark (redis, "VLAN", alice, NULL) == (int64_t) sequence);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.sweeps == 2 && stats.swept == 10);
}

//  One writer per table: a window from one session sweeps the keys that
//  another session wrote to the table, unless that one wrote them again
//  inside the window
static void
s_test_two_sessions (zstate_redis_t *redis, zstate_writer_t *writer, zsock_t *push,
                     zstate_batch_t *batch)
{
    byte dave [ZSTATE_MSG_SESSION_SIZE], erin [ZSTATE_MSG_SESSION_SIZE];
    memset (dave, 0xD0, sizeof (dave));
    memset (erin, 0xE0, sizeof (erin));
    uint64_t mine = 0, theirs = 0;
    s_test_fill (push, batch, dave, &mine, "LAG", 3);
    zstate_batch_set (batch, "e0", "old", "value", NULL);
    zstate_batch_set (batch, "e1", "old", "value", NULL);
    zstate_writer_test_send_v2 (push, erin, ++theirs, "LAG", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    zstate_writer_stats_t before, after;
    assert (zstate_writer_stats (writer, &before) == 0);
    uint64_t begin = ++mine;
    s_test_marker (push, dave, begin, "LAG", 0, 0);
    zstate_batch_set (batch, "k0", "new", "1", NULL);
    zstate_writer_test_send_v2 (push, dave, ++mine, "LAG", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    zstate_batch_set (batch, "e0", "new", "1", NULL);
    zstate_writer_test_send_v2 (push, erin, ++theirs, "LAG", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    s_test_marker (push, dave, ++mine, "LAG", begin, ZSTATE_SESSION_END_COMPLETE);
    assert (zstate_writer_flush (writer, 10000) == 0);
    char keys [256];
    s_test_keys (redis, "LAG", keys, sizeof (keys));
    assert (streq (keys, "e0 k0"));
    assert (zstate_writer_stats (writer, &after) == 0);
    assert (after.sweeps == before.sweeps + 1 && after.swept == before.swept + 3);
}

//  Windows that end with no sweep delete nothing
static void
s_test_unswept (zstate_redis_t *redis, zstate_writer_t *writer, zsock_t *push,
                zstate_batch_t *batch)
{
    byte bob [ZSTATE_MSG_SESSION_SIZE], carol [ZSTATE_MSG_SESSION_SIZE];
    memset (bob, 0xB0, sizeof (bob));
    memset (carol, 0xC0, sizeof (carol));
    uint64_t sequence = 0;
    s_test_fill (push, batch, bob, &sequence, "INTF", 5);
    //  ABANDONED
    uint64_t begin = ++sequence;
    s_test_marker (push, bob, begin, "INTF", 0, 0);
    zstate_batch_set (batch, "k0", "new", "1", NULL);
    zstate_writer_test_send_v2 (push, bob, ++sequence, "INTF", batch);
    s_test_marker (push, bob, ++sequence, "INTF", begin, ZSTATE_SESSION_END_ABANDONED);
    //  Superseded: the first window's END matches nothing
    uint64_t first = ++sequence;
    s_test_marker (push, bob, first, "INTF", 0, 0);
    uint64_t second = ++sequence;
    s_test_marker (push, bob, second, "INTF", 0, 0);
    s_test_marker (push, bob, ++sequence, "INTF", first, ZSTATE_SESSION_END_COMPLETE);
    //  ... as does one from another session for the second's sequence
    s_test_marker (push, carol, second + 1, "INTF", second, ZSTATE_SESSION_END_COMPLETE);
    s_test_marker (push, bob, ++sequence, "INTF", second, ZSTATE_SESSION_END_ABANDONED);
    //  Past the window bound
    assert (zstate_writer_set_window_bound (writer, 0) == -1 && errno == EINVAL);
    assert (zstate_writer_set_window_bound (writer, 2) == 0);
    begin = ++sequence;
    s_test_marker (push, bob, begin, "INTF", 0, 0);
    zstate_batch_set (batch, "k0", "new", "2", NULL);
    zstate_batch_set (batch, "k1", "new", "2", NULL);
    zstate_batch_set (batch, "k2", "new", "2", NULL);
    zstate_writer_test_send_v2 (push, bob, ++sequence, "INTF", batch);
    s_test_marker (push, bob, ++sequence, "INTF", begin, ZSTATE_SESSION_END_COMPLETE);
    assert (zstate_writer_flush (writer, 10000) == 0);
    assert (zstate_writer_set_window_bound (writer, 1000000) == 0);
    assert (s_test_keys (redis, "INTF", NULL, 0) == 5);
    assert (streq (s_test_field (redis, "INTF", "k2", "new"), "2"));
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.windows == 2 + 4 && stats.sweeps == 2 && stats.swept == 10);
    //  ABANDONED, SUPERSEDED, ABANDONED, BOUND; the ENDs of the first,
    //  carol's, and the last (its window gone with the bound)
    assert (stats.windows_dropped == 4 && stats.windows_unmatched == 3);
    assert (zstate_writer_test_mark (redis, "INTF", bob, NULL) == (int64_t) sequence);
    char *why = s_test_event (writer, "WINDOW");
    assert (why && streq (why, "ABANDONED"));
    zstr_free (&why);
    why = s_test_event (writer, "WINDOW");
    assert (why && streq (why, "SUPERSEDED"));
    zstr_free (&why);
}

//  The number of clients Redis holds blocked (here: by CLIENT PAUSE)
static long long
s_test_blocked (zstate_redis_t *redis)
{
    assert (zstate_redis_command (redis, "INFO", "clients", NULL) == ZSTATE_REDIS_STRING);
    const char *line = strstr (zstate_redis_str (redis, -1, NULL), "blocked_clients:");
    assert (line);
    return atoll (line + strlen ("blocked_clients:"));
}

//  A connection killed in the middle of a sweep: the sweep runs again,
//  then what came after the END. With in_sweep false, killed while the
//  window's operations wait in Redis, the END and a write after it
//  queued: the operations go again, then the sweep, then that write.
static void
s_test_sweep_killed (zstate_redis_t *redis, zstate_writer_t *writer, zsock_t *push,
                     zstate_batch_t *batch, bool in_sweep)
{
    byte dave [ZSTATE_MSG_SESSION_SIZE];
    memset (dave, in_sweep? 0xD0: 0xE0, sizeof (dave));
    uint64_t sequence = 0;
    s_test_fill (push, batch, dave, &sequence, "ROUTE", 5000);
    assert (zstate_writer_flush (writer, 30000) == 0);
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    uint64_t disconnects = stats.disconnects;
    uint64_t sweeps = stats.sweeps;
    uint64_t swept = stats.swept;
    //  Writes paused: the window's batch, or the sweep's first DEL, waits
    //  in Redis, blocked
    if (!in_sweep)
        assert (zstate_redis_command (redis, "CLIENT", "PAUSE", "60000", "WRITE", NULL)
                == ZSTATE_REDIS_STATUS);
    uint64_t begin = ++sequence;
    s_test_marker (push, dave, begin, "ROUTE", 0, 0);
    for (int index = 0; index < 5000; index += 2) {
        char key [16];
        snprintf (key, sizeof (key), "k%d", index);
        zstate_batch_hset (batch, key, "new", "1", NULL);
        if (zstate_batch_size (batch) == 100)
            zstate_writer_test_send_v2 (push, dave, ++sequence, "ROUTE", batch);
    }
    if (in_sweep) {
        assert (zstate_writer_flush (writer, 30000) == 0);
        assert (zstate_redis_command (redis, "CLIENT", "PAUSE", "60000", "WRITE", NULL)
                == ZSTATE_REDIS_STATUS);
    }
    s_test_marker (push, dave, ++sequence, "ROUTE", begin, ZSTATE_SESSION_END_COMPLETE);
    zstate_batch_hset (batch, "k1", "late", "1", NULL);
    zstate_writer_test_send_v2 (push, dave, ++sequence, "ROUTE", batch);
    int64_t deadline = zclock_mono () + 30000;
    while (s_test_blocked (redis) == 0 && zclock_mono () < deadline)
        zclock_sleep (10);
    assert (s_test_blocked (redis) == 1);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.sweeps == sweeps && stats.swept == swept);
    assert (zstate_redis_command (redis, "CLIENT", "KILL", "TYPE", "normal", NULL)
            == ZSTATE_REDIS_INTEGER && zstate_redis_integer (redis, -1) == 1);
    assert (zstate_redis_command (redis, "CLIENT", "UNPAUSE", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_writer_flush (writer, 30000) == 0);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.disconnects > disconnects && stats.redis_lost == 0);
    assert (stats.sweeps == sweeps + 1 && stats.swept == swept + 2500);
    assert (s_test_keys (redis, "ROUTE", NULL, 0) == 2501);
    assert (streq (s_test_field (redis, "ROUTE", "k1", "late"), "1"));
    assert (streq (s_test_field (redis, "ROUTE", "k1", "old"), "-"));
    assert (streq (s_test_field (redis, "ROUTE", "k4998", "old"), "value"));
    assert (streq (s_test_field (redis, "ROUTE", "k4998", "new"), "1"));
    assert (streq (s_test_field (redis, "ROUTE", "k3", "old"), "-"));
    assert (zstate_writer_test_mark (redis, "ROUTE", dave, NULL) == (int64_t) sequence);
}

static void
s_test_windows (void)
{
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_reconnect (writer, 10, 50) == 0);
    //  The sweep that Redis holds must outlast our CLIENT KILL
    assert (zstate_writer_set_timeouts (writer, 1000, 20000) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push && zsock_connect (push, "%s", zstate_writer_endpoint (writer)) == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    s_test_replace (redis, writer, push, batch);
    s_test_unswept (redis, writer, push, batch);
    s_test_two_sessions (redis, writer, push, batch);
    s_test_sweep_killed (redis, writer, push, batch, true);
    s_test_sweep_killed (redis, writer, push, batch, false);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);
}


//  --------------------------------------------------------------------------
//  Through a server: the writer of a consumer table reports the loss on
//  the server's confirm endpoint, which counts it

//  Restart Redis without its data and wait (up to 30 s) until the server
//  has counted lost dbs in all; returns the server's stats then
static zstate_server_stats_t
s_test_restart_empty (zstate_redis_server_t *redis_server, zstate_server_t *server,
                      uint64_t lost)
{
    assert (zstate_redis_server_kill (redis_server) == 0);
    assert (zstate_redis_server_start (redis_server) == 0);
    zstate_server_stats_t stats = { 0 };
    int64_t deadline = zclock_mono () + 30000;
    while (stats.redis_lost < lost && zclock_mono () < deadline) {
        assert (zstate_server_stats (server, &stats) == 0);
        zclock_sleep (20);
    }
    return stats;
}

static void
s_test_server_lost (void)
{
    zstate_redis_server_t *redis_server = zstate_redis_server_new (false);
    assert (redis_server);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_reconnect (writer, 10, 50) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (redis_server)) == 0);
    zstate_server_t *server = zstate_server_new ();
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zstate_consumer_t *ports = zstate_consumer_new (server, "APPL_DB", "PORT_TABLE");
    assert (ports && zstate_consumer_set_writer (ports, writer) == 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    zstate_client_t *client = zstate_client_new ();
    assert (client && zstate_client_connect (client, endpoint) == 0);
    zstate_producer_t *producer = zstate_producer_new (client, "APPL_DB", "PORT_TABLE");
    assert (zstate_producer_set (producer, "Ethernet0", "mtu", "9100", NULL) == 0);
    //  The server forwards to the writer as it routes: wait until written
    zstate_writer_stats_t writer_stats = { 0 };
    int64_t deadline = zclock_mono () + 30000;
    while (writer_stats.written == 0 && zclock_mono () < deadline) {
        assert (zstate_writer_stats (writer, &writer_stats) == 0);
        zclock_sleep (20);
    }
    assert (writer_stats.written == 1);
    //  Redis restarted empty: the server hears of APPL_DB once
    zstate_server_stats_t stats = s_test_restart_empty (redis_server, server, 1);
    assert (stats.redis_lost == 1 && stats.confirms_ignored == 0);
    assert (zstate_writer_stats (writer, &writer_stats) == 0);
    assert (writer_stats.redis_lost == 1);
    zstate_producer_destroy (&producer);
    zstate_client_destroy (&client);
    zstate_consumer_destroy (&ports);
    zstate_server_destroy (&server);
    zstate_writer_destroy (&writer);
    zstate_redis_server_destroy (&redis_server);
}

//  A server restored from Redis, with no live message since: the loss
//  names the db of the table attached (APPL_DB) and of the one only
//  restored (STATE_DB), and the server counts both

static void
s_test_restored_lost (void)
{
    zstate_redis_server_t *redis_server = zstate_redis_server_new (false);
    assert (redis_server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (redis_server));
    assert (redis && zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "HSET", "PORT_TABLE:Ethernet0", "mtu", "9100",
                                  NULL) == ZSTATE_REDIS_INTEGER);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_reconnect (writer, 10, 50) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (redis_server)) == 0);
    assert (zstate_writer_attach (writer, "") == -1 && errno == EINVAL);
    zstate_server_t *server = zstate_server_new ();
    assert (zstate_server_bind (server, "tcp://127.0.0.1:*") > 0);
    zstate_consumer_t *ports = zstate_consumer_new (server, "APPL_DB", "PORT_TABLE");
    assert (ports && zstate_consumer_set_writer (ports, writer) == 0);
    assert (zstate_consumer_restore (ports, writer, 10000) == 1);
    zstate_consumer_t *states = zstate_consumer_new (server, "STATE_DB", "PORT_TABLE");
    assert (states && zstate_consumer_restore (states, writer, 10000) == 1);
    //  Redis restarted empty: nothing came to the writer, both dbs count
    zstate_server_stats_t stats = s_test_restart_empty (redis_server, server, 2);
    assert (stats.redis_lost == 2 && stats.confirms_ignored == 0);
    zstate_writer_stats_t writer_stats;
    assert (zstate_writer_stats (writer, &writer_stats) == 0);
    assert (writer_stats.redis_lost == 1 && writer_stats.messages == 0);
    zstate_consumer_destroy (&states);
    zstate_consumer_destroy (&ports);
    zstate_server_destroy (&server);
    zstate_writer_destroy (&writer);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&redis_server);
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
    s_test_flushed_connected ();
    s_test_windows ();
    s_test_server_lost ();
    s_test_restored_lost ();
    printf ("OK\n");
}
