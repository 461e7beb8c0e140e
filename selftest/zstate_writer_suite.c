/*  =========================================================================
    zstate_writer_suite - the DB writer's suite against a live Redis:
    commands and settings, coalescing before CONNECT, the semantics of
    SET, HSET and DEL, binary data, refused operations, the separator and
    database, the bound, FLUSH, and a Redis that is not there

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

//  Shared with selftest/zstate_writer_faults.c
void
    zstate_writer_test_send (zsock_t *push, const char *table, zstate_batch_t *batch);
void
    zstate_writer_test_accounting (zstate_writer_stats_t *stats);
void
    zstate_writer_suite (zstate_redis_server_t *server, zstate_redis_t *redis, bool verbose);

//  Read the reply to a command sent to the actor directly, in the picture
//  the header documents; return its status
static int
s_test_reply (zactor_t *actor, const char *command)
{
    char *name = NULL, *reason = NULL;
    int status = -1;
    int rc = zsock_recv (actor, "sis", &name, &status, &reason);
    assert (rc == 0 && name && streq (name, command));
    zstr_free (&name);
    zstr_free (&reason);
    return status;
}

//  Encode batch as one wire message for table, send it, reset the batch
void
zstate_writer_test_send (zsock_t *push, const char *table, zstate_batch_t *batch)
{
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 0 };
    zframe_t *frame = zstate_msg_encode (session, 1, "APPL_DB", table, batch);
    assert (frame);
    int rc = zframe_send (&frame, push, 0);
    assert (rc == 0);
    zstate_batch_reset (batch);
}

//  Every operation accepted is written, failed, coalesced or held
void
zstate_writer_test_accounting (zstate_writer_stats_t *stats)
{
    assert (stats->ops == stats->written + stats->failed + stats->coalesced + stats->depth);
}

//  Assert that hash key holds exactly the fields given as name, value, ...,
//  NULL; with none, that the key does not exist
static void
s_test_check (zstate_redis_t *redis, const char *key, ...)
{
    int type = zstate_redis_command (redis, "HGETALL", key, NULL);
    assert (type == ZSTATE_REDIS_ARRAY);
    size_t elements = zstate_redis_elements (redis);
    size_t expected = 0;
    va_list args;
    va_start (args, key);
    const char *name = va_arg (args, const char *);
    while (name) {
        const char *value = va_arg (args, const char *);
        bool found = false;
        for (size_t index = 0; index < elements; index += 2)
            if (streq (zstate_redis_str (redis, (int) index, NULL), name)) {
                assert (streq (zstate_redis_str (redis, (int) index + 1, NULL), value));
                found = true;
            }
        assert (found);
        expected += 2;
        name = va_arg (args, const char *);
    }
    va_end (args);
    assert (elements == expected);
}

//  Wait for an event of type, skipping others; NULL after timeout msecs
static zmsg_t *
s_test_event (zsock_t *events, const char *type, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    while (zclock_mono () < deadline) {
        zpoller_t *poller = zpoller_new (events, NULL);
        void *which = zpoller_wait (poller, (int) (deadline - zclock_mono ()) + 1);
        zpoller_destroy (&poller);
        if (!which)
            continue;
        //  The type frame is taken off; the endpoint frame comes next
        zmsg_t *event = zmsg_recv (events);
        char *got = event? zmsg_popstr (event): NULL;
        bool match = got && streq (got, type);
        zstr_free (&got);
        if (match)
            return event;
        zmsg_destroy (&event);
    }
    return NULL;
}

//  Commands and settings refused, before anything is accepted
static void
s_test_commands (zstate_writer_t *writer)
{
    assert (strncmp (zstate_writer_endpoint (writer), "inproc://zstate-writer-", 23) == 0);
    assert (zstate_writer_events (writer));
    assert (zstate_writer_actor (writer));
    assert (zstate_writer_set_separator (writer, "") == -1 && errno == EINVAL);
    assert (zstate_writer_set_db (writer, -1) == -1 && errno == EINVAL);
    assert (zstate_writer_set_timeouts (writer, 0, 10) == -1 && errno == EINVAL);
    assert (zstate_writer_set_batch (writer, 0, 1) == -1 && errno == EINVAL);
    assert (zstate_writer_set_bound (writer, 0, 1 << 20) == -1 && errno == EINVAL);
    assert (zstate_writer_set_reconnect (writer, 100, 10) == -1 && errno == EINVAL);
    assert (zstate_writer_connect (writer, "host:notaport") == -1 && errno == EINVAL);
    zactor_t *actor = zstate_writer_actor (writer);
    zstr_send (actor, "NO SUCH COMMAND");
    assert (s_test_reply (actor, "NO SUCH COMMAND") == EINVAL);
    zstr_send (actor, "CONNECT");       //  endpoint missing
    assert (s_test_reply (actor, "CONNECT") == EINVAL);
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.state == ZSTATE_WRITER_IDLE && stats.depth == 0);
    assert (streq (zstate_writer_state_name (stats.state), "IDLE"));
    //  Nothing accepted: flushed; never connected with something pending:
    //  ENOTCONN at once
    assert (zstate_writer_flush (writer, 1000) == 0);
}

//  Coalescing before CONNECT, where nothing can be written: each key
//  starts with an extra field in Redis, which SET semantics remove
static void
s_test_before_connect (zstate_writer_t *writer, zsock_t *push, zstate_redis_t *redis)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    zstate_writer_stats_t stats;
    const char *keys [] = { "ROUTE:k1", "ROUTE:k2", "ROUTE:k3", "ROUTE:k4", "ROUTE:k5", NULL };
    for (int index = 0; keys [index]; index++)
        assert (zstate_redis_command (redis, "HSET", keys [index], "old", "x", NULL)
                == ZSTATE_REDIS_INTEGER);
    zstate_batch_del (batch, "k1");                             //  DEL, HSET: SET
    zstate_batch_hset (batch, "k1", "a", "1", NULL);
    zstate_batch_set (batch, "k2", "a", "1", "b", "2", NULL);   //  SET, HSET: merged SET
    zstate_batch_hset (batch, "k2", "b", "3", "c", "4", NULL);
    zstate_batch_hset (batch, "k3", "a", "1", NULL);            //  HSET, HSET: HSET
    zstate_batch_hset (batch, "k3", "a", "2", "b", "2", NULL);
    zstate_batch_hset (batch, "k4", "a", "1", NULL);            //  HSET, DEL: DEL
    zstate_batch_del (batch, "k4");
    zstate_batch_set (batch, "k5", "a", "1", NULL);             //  SET, SET with no
    zstate_batch_set (batch, "k5", NULL);                       //  fields: absent
    zstate_writer_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 1000) == -1 && errno == ENOTCONN);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.messages == 1 && stats.ops == 10);
    assert (stats.pending == 5 && stats.coalesced == 5);
    assert (stats.bytes > 0);
    zstate_writer_test_accounting (&stats);
    //  A malformed message is counted and dropped
    zstr_send (push, "not a wire message");
    zstr_sendm (push, "two");
    zstr_send (push, "frames");
    assert (zstate_writer_flush (writer, 0) == -1);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.malformed == 2 && stats.messages == 1);
    zstate_batch_destroy (&batch);
}

//  CONNECT: what coalesced lands; the connection's settings now refused
static void
s_test_connect (zstate_writer_t *writer, zstate_redis_t *redis,
                zstate_redis_server_t *server)
{
    assert (zstate_writer_set_batch (writer, 1000, 1) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == -1
            && errno == EBUSY);
    assert (zstate_writer_set_separator (writer, "|") == -1 && errno == EBUSY);
    assert (zstate_writer_set_db (writer, 1) == -1 && errno == EBUSY);
    zmsg_t *event = s_test_event (zstate_writer_events (writer), "STATE", 1000);
    assert (event);
    zmsg_destroy (&event);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:k1", "a", "1", NULL);
    s_test_check (redis, "ROUTE:k2", "a", "1", "b", "3", "c", "4", NULL);
    s_test_check (redis, "ROUTE:k3", "old", "x", "a", "2", "b", "2", NULL);
    s_test_check (redis, "ROUTE:k4", NULL);
    s_test_check (redis, "ROUTE:k5", NULL);
}

//  Connected: HSET merges, SET replaces, DEL deletes, SET with no
//  fields leaves the key absent; several tables through one writer
static void
s_test_semantics (zstate_writer_t *writer, zsock_t *push, zstate_redis_t *redis)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    zstate_batch_hset (batch, "r1", "a", "1", "b", "2", NULL);
    zstate_writer_test_send (push, "ROUTE", batch);
    zstate_batch_set (batch, "r1", "x", "other table", NULL);
    zstate_writer_test_send (push, "NEIGH", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:r1", "a", "1", "b", "2", NULL);
    s_test_check (redis, "NEIGH:r1", "x", "other table", NULL);
    zstate_batch_hset (batch, "r1", "a", "9", NULL);
    zstate_writer_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:r1", "a", "9", "b", "2", NULL);
    zstate_batch_set (batch, "r1", "a", "9", NULL);
    zstate_writer_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:r1", "a", "9", NULL);
    zstate_batch_del (batch, "r1");
    zstate_batch_set (batch, "r2", "a", "1", NULL);
    zstate_writer_test_send (push, "ROUTE", batch);
    zstate_batch_set (batch, "r2", NULL);
    zstate_writer_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    s_test_check (redis, "ROUTE:r1", NULL);
    s_test_check (redis, "ROUTE:r2", NULL);
    zstate_batch_destroy (&batch);
}

//  Binary keys, names and values survive
static void
s_test_binary (zstate_writer_t *writer, zsock_t *push, zstate_redis_t *redis)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    const char key [] = { 'b', 0, 'k', (char) 0xff };
    const char name [] = { 'n', 0 };
    const char value [] = { 0, 1, 2, (char) 0xfe };
    zstate_batch_append (batch, ZSTATE_OP_SET, key, sizeof (key));
    zstate_batch_field (batch, name, sizeof (name), value, sizeof (value));
    zstate_writer_test_send (push, "BIN", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    char full [8] = { 'B', 'I', 'N', ':' };
    memcpy (full + 4, key, sizeof (key));
    const char *hgetall [] = { "HGETALL", full };
    size_t hgetall_size [] = { 7, sizeof (full) };
    assert (zstate_redis_commandv (redis, 2, hgetall, hgetall_size) == ZSTATE_REDIS_ARRAY);
    assert (zstate_redis_elements (redis) == 2);
    size_t size;
    const char *got = zstate_redis_str (redis, 0, &size);
    assert (size == sizeof (name) && memcmp (got, name, size) == 0);
    got = zstate_redis_str (redis, 1, &size);
    assert (size == sizeof (value) && memcmp (got, value, size) == 0);
    zstate_batch_destroy (&batch);
}

//  WRONGTYPE fails that op only: counted, reported, the rest lands
static void
s_test_wrongtype (zstate_writer_t *writer, zsock_t *push, zstate_redis_t *redis,
                  zstate_redis_server_t *server)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    zstate_writer_stats_t stats;
    assert (zstate_redis_command (redis, "SET", "ROUTE:string", "x", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_writer_stats (writer, &stats) == 0);
    uint64_t written = stats.written;
    zstate_batch_hset (batch, "ok1", "a", "1", NULL);
    zstate_batch_hset (batch, "string", "a", "1", NULL);
    zstate_batch_set (batch, "ok2", "a", "2", NULL);
    zstate_writer_test_send (push, "ROUTE", batch);
    assert (zstate_writer_flush (writer, 5000) == 0);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.failed == 1);
    assert (stats.written == written + 2);
    assert (stats.state == ZSTATE_WRITER_CONNECTED);
    zstate_writer_test_accounting (&stats);
    zmsg_t *event = s_test_event (zstate_writer_events (writer), "ERROR", 1000);
    assert (event);
    char *endpoint = zmsg_popstr (event);
    char *reason = zmsg_popstr (event);
    char *failed_key = zmsg_popstr (event);
    assert (streq (endpoint, zstate_redis_server_endpoint (server)));
    assert (strncmp (reason, "WRONGTYPE", 9) == 0);
    assert (streq (failed_key, "ROUTE:string"));
    zstr_free (&endpoint);
    zstr_free (&reason);
    zstr_free (&failed_key);
    zmsg_destroy (&event);
    s_test_check (redis, "ROUTE:ok1", "a", "1", NULL);
    s_test_check (redis, "ROUTE:ok2", "a", "2", NULL);
    assert (zstate_redis_command (redis, "GET", "ROUTE:string", NULL) == ZSTATE_REDIS_STRING);
    zstate_batch_destroy (&batch);
}

//  The separator, the database index, and destroy right after writes:
//  destroy waits for Redis to confirm
static void
s_test_separator_db (zstate_redis_server_t *server, zstate_redis_t *redis)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_separator (writer, "|") == 0);
    assert (zstate_writer_set_db (writer, 2) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_socket (server)) == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push);
    int rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    for (int index = 0; index < 1000; index++) {
        char entry_key [32];
        snprintf (entry_key, sizeof (entry_key), "Ethernet%d", index);
        zstate_batch_set (batch, entry_key, "mtu", "9100", "admin_status", "up", NULL);
        if (zstate_batch_size (batch) == 100)
            zstate_writer_test_send (push, "PORT", batch);
    }
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    assert (zstate_redis_command (redis, "SELECT", "2", NULL) == ZSTATE_REDIS_STATUS);
    //  The entries, and the writer's instance key
    assert (zstate_redis_command (redis, "DBSIZE", NULL) == ZSTATE_REDIS_INTEGER);
    assert (zstate_redis_integer (redis, -1) == 1001);
    assert (zstate_redis_command (redis, "EXISTS", "_ZSTATE_INSTANCE", NULL)
            == ZSTATE_REDIS_INTEGER && zstate_redis_integer (redis, -1) == 1);
    s_test_check (redis, "PORT|Ethernet999", "mtu", "9100", "admin_status", "up", NULL);
    assert (zstate_redis_command (redis, "SELECT", "0", NULL) == ZSTATE_REDIS_STATUS);
    zstate_batch_destroy (&batch);
}

//  The bound: at 100 keys the writer stops reading and says so; once
//  connected it drains, reads again, and everything lands
static void
s_test_bound (zstate_redis_server_t *server, zstate_redis_t *redis)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    zstate_writer_stats_t stats;
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_bound (writer, 100, 1 << 20) == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push);
    int rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    for (int index = 0; index < 500; index++) {
        char entry_key [32];
        snprintf (entry_key, sizeof (entry_key), "b%d", index);
        zstate_batch_set (batch, entry_key, "v", "1", NULL);
        if (zstate_batch_size (batch) == 10)
            zstate_writer_test_send (push, "BOUND", batch);
    }
    zmsg_t *event = s_test_event (zstate_writer_events (writer), "STALL", 5000);
    assert (event);
    char *endpoint_name = zmsg_popstr (event);
    char *what = zmsg_popstr (event);
    assert (endpoint_name && streq (endpoint_name, "-"));
    assert (what && streq (what, "FULL"));
    zstr_free (&endpoint_name);
    zmsg_destroy (&event);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.stalls == 1);
    assert (stats.pending >= 100 && stats.pending < 110);
    assert (stats.oldest_age >= 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    //  Flush covers what was sent to the writer before it, even what the
    //  bound left unread on the PULL socket: that is read as the backlog
    //  drains, and the flush waits for it
    assert (zstate_writer_flush (writer, 10000) == 0);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.written == 500 && stats.depth == 0);
    assert (stats.stalls >= 1);
    assert (zstate_redis_command (redis, "KEYS", "BOUND:*", NULL) == ZSTATE_REDIS_ARRAY);
    assert (zstate_redis_elements (redis) == 500);
    zstr_free (&what);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_batch_destroy (&batch);
}

//  A FLUSH that comes while the bound holds messages back on the PULL
//  socket waits for those too: Redis is frozen while the writer fills
//  up, and thawed only once the FLUSH is waiting
static void
s_test_held_flush (zstate_redis_server_t *server, zstate_redis_t *redis)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (zstate_writer_set_bound (writer, 100, 1 << 20) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    int rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    assert (zstate_redis_server_freeze (server) == 0);
    for (int index = 0; index < 500; index++) {
        char entry_key [32];
        snprintf (entry_key, sizeof (entry_key), "h%d", index);
        zstate_batch_set (batch, entry_key, "v", "1", NULL);
        if (zstate_batch_size (batch) == 10)
            zstate_writer_test_send (push, "HELD", batch);
    }
    zmsg_t *event = s_test_event (zstate_writer_events (writer), "STALL", 5000);
    assert (event);
    zmsg_destroy (&event);
    zsock_send (zstate_writer_actor (writer), "si", "FLUSH", 10000);
    assert (zstate_redis_server_thaw (server) == 0);
    assert (s_test_reply (zstate_writer_actor (writer), "FLUSH") == 0);
    assert (zstate_redis_command (redis, "KEYS", "HELD:*", NULL) == ZSTATE_REDIS_ARRAY);
    assert (zstate_redis_elements (redis) == 500);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_batch_destroy (&batch);
}

//  A Redis that is not there: CONNECT fails but the writer keeps
//  trying, and reports it
static void
s_test_absent_redis (void)
{
    zstate_writer_stats_t stats;
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_reconnect (writer, 10, 50) == 0);
    assert (zstate_writer_connect (writer, "unix:/nonexistent/redis.sock") == -1);
    assert (errno == ENOENT);
    zmsg_t *event = s_test_event (zstate_writer_events (writer), "STATE", 1000);
    assert (event);
    zmsg_destroy (&event);
    event = s_test_event (zstate_writer_events (writer), "ERROR", 1000);
    assert (event);
    zmsg_destroy (&event);
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.state == ZSTATE_WRITER_DISCONNECTED);
    zstate_writer_destroy (&writer);
}

//  Commands and settings, then one writer through coalescing, CONNECT and
//  the semantics; then a writer for each of the other cases
void
zstate_writer_suite (zstate_redis_server_t *server, zstate_redis_t *redis, bool verbose)
{
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    if (verbose)
        zstate_writer_set_verbose (writer, true);
    s_test_commands (writer);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push);
    int rc = zsock_connect (push, "%s", zstate_writer_endpoint (writer));
    assert (rc == 0);
    s_test_before_connect (writer, push, redis);
    s_test_connect (writer, redis, server);
    s_test_semantics (writer, push, redis);
    s_test_binary (writer, push, redis);
    s_test_wrongtype (writer, push, redis, server);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    s_test_separator_db (server, redis);
    s_test_bound (server, redis);
    s_test_held_flush (server, redis);
    s_test_absent_redis ();
}
