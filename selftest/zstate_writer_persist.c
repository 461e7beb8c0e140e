/*  =========================================================================
    zstate_writer_persist - the DB writer's persisted acknowledgements:
    prefix-consistent batches, watermarks and their pruning, CONFIRMED;
    then RESTORE (selftest/zstate_writer_restore_test.c)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_writer_marks.h"

//  From selftest/zstate_writer_suite.c
void
    zstate_writer_test_send (zsock_t *push, const char *table, zstate_batch_t *batch);
void
    zstate_writer_test_accounting (zstate_writer_stats_t *stats);
//  From selftest/zstate_writer_restore_test.c
void
    zstate_writer_restore_suite (bool verbose);

#if defined (__has_include)
#   if __has_include (<valgrind/valgrind.h>)
#       include <valgrind/valgrind.h>
#   endif
#endif
#ifndef RUNNING_ON_VALGRIND
#   define RUNNING_ON_VALGRIND 0
#endif

#define KEYS            16          //  Keys of the prefix test
#define FIELDS          3           //  Fields a key may hold: a, b, c
#define SESSIONS        2

//  Encode batch as one version 2 OPS, as a client sends it, send it,
//  reset the batch
void
zstate_writer_test_send_v2 (zsock_t *push, const byte *session, uint64_t sequence,
                            const char *table, zstate_batch_t *batch);
void
zstate_writer_test_send_v2 (zsock_t *push, const byte *session, uint64_t sequence,
                            const char *table, zstate_batch_t *batch)
{
    zframe_t *frame = zstate_msg_encode (session, sequence, "APPL_DB", table, batch);
    assert (frame);
    zframe_data (frame) [2] = ZSTATE_SESSION_VERSION;
    int rc = zframe_send (&frame, push, 0);
    assert (rc == 0);
    zstate_batch_reset (batch);
}

//  The session id of session number index
static void
s_test_session (byte *session, size_t index)
{
    memset (session, (int) (0x11 * (index + 1)), ZSTATE_MSG_SESSION_SIZE);
}


//  --------------------------------------------------------------------------
//  The prefix test's stream: message m (1..) goes to session m % 3 == 0,
//  sequence counted per session; op j of it touches key (m * 5 + j * 3)
//  % KEYS. The model replays a prefix of it.

typedef struct {
    bool present [KEYS];
    int64_t field [KEYS][FIELDS];   //  Message.op that wrote it, -1 none
} test_state_t;

static int
s_test_op_kind (size_t message, size_t op)
{
    size_t pick = (message * 7 + op * 3) % 10;
    return pick < 5? ZSTATE_OP_SET: pick < 8? ZSTATE_OP_HSET: ZSTATE_OP_DEL;
}

//  Apply message (and, when batch is not NULL, build it) over state
static void
s_test_message (test_state_t *state, size_t message, zstate_batch_t *batch)
{
    size_t ops = 1 + message % 4;
    for (size_t op = 0; op < ops; op++) {
        size_t key = (message * 5 + op * 3) % KEYS;
        int kind = s_test_op_kind (message, op);
        int64_t stamp = (int64_t) (message * 10 + op);
        char name [16], value [32];
        snprintf (name, sizeof (name), "k%zu", key);
        snprintf (value, sizeof (value), "%" PRId64, stamp);
        if (kind == ZSTATE_OP_DEL) {
            state->present [key] = false;
            for (size_t field = 0; field < FIELDS; field++)
                state->field [key][field] = -1;
            if (batch)
                assert (zstate_batch_del (batch, name) == 0);
        }
        else
        if (kind == ZSTATE_OP_SET) {
            state->present [key] = true;
            state->field [key][0] = state->field [key][1] = stamp;
            state->field [key][2] = -1;
            if (batch)
                assert (zstate_batch_set (batch, name, "a", value, "b", value, NULL) == 0);
        }
        else {
            const char *field = message % 2? "c": "a";
            state->present [key] = true;
            state->field [key][message % 2? 2: 0] = stamp;
            if (batch)
                assert (zstate_batch_hset (batch, name, field, value, NULL) == 0);
        }
    }
}

//  The session and sequence of message
static void
s_test_origin (size_t message, size_t *session_p, uint64_t *sequence_p)
{
    *session_p = message % 3 == 0? 1: 0;
    //  Messages 1..message of that session
    *sequence_p = *session_p? message / 3: message - message / 3;
}

//  The state after messages 1..prefix
static void
s_test_replay (test_state_t *state, size_t prefix)
{
    memset (state->present, 0, sizeof (state->present));
    for (size_t key = 0; key < KEYS; key++)
        for (size_t field = 0; field < FIELDS; field++)
            state->field [key][field] = -1;
    for (size_t message = 1; message <= prefix; message++)
        s_test_message (state, message, NULL);
}

//  The prefix that watermarks name: the last message of either session
//  that they cover; both must agree with it
static size_t
s_test_prefix (uint64_t *marks, size_t messages)
{
    size_t prefix = 0;
    for (size_t message = 1; message <= messages; message++) {
        size_t session;
        uint64_t sequence;
        s_test_origin (message, &session, &sequence);
        if (sequence <= marks [session])
            prefix = message;
    }
    //  Every message up to the prefix is covered, none after it
    for (size_t message = 1; message <= messages; message++) {
        size_t session;
        uint64_t sequence;
        s_test_origin (message, &session, &sequence);
        assert ((sequence <= marks [session]) == (message <= prefix));
    }
    return prefix;
}

//  Read every key and the watermarks in one MULTI/EXEC: one atomic look
//  at Redis. The state goes to *state, the marks to marks.
static void
s_test_snapshot (zstate_redis_t *redis, test_state_t *state, uint64_t *marks)
{
    assert (zstate_redis_appendx (redis, "MULTI", NULL) == 0);
    for (size_t key = 0; key < KEYS; key++) {
        char name [16];
        snprintf (name, sizeof (name), "PREFIX:k%zu", key);
        assert (zstate_redis_appendx (redis, "HGETALL", name, NULL) == 0);
    }
    assert (zstate_redis_appendx (redis, "HGETALL", "_ZSTATE_PERSISTED:PREFIX", NULL) == 0);
    assert (zstate_redis_appendx (redis, "EXEC", NULL) == 0);
    for (size_t reply = 0; reply < KEYS + 2; reply++)
        assert (zstate_redis_next (redis, true) == 1);
    assert (zstate_redis_next (redis, true) == 1);
    assert (zstate_redis_type (redis, -1) == ZSTATE_REDIS_ARRAY);
    assert (zstate_redis_elements (redis) == KEYS + 1);
    for (size_t key = 0; key < KEYS; key++) {
        size_t elements = zstate_redis_nested_elements (redis, (int) key);
        state->present [key] = elements > 0;
        for (size_t field = 0; field < FIELDS; field++)
            state->field [key][field] = -1;
        for (size_t index = 0; index < elements; index += 2) {
            const char *name = zstate_redis_nested_str (redis, (int) key, index, NULL);
            const char *value = zstate_redis_nested_str (redis, (int) key, index + 1, NULL);
            assert (name && value && strlen (name) == 1 && name [0] >= 'a' && name [0] <= 'c');
            state->field [key][name [0] - 'a'] = atoll (value);
        }
    }
    marks [0] = marks [1] = 0;
    size_t elements = zstate_redis_nested_elements (redis, KEYS);
    for (size_t index = 0; index < elements; index += 2) {
        size_t name_size, value_size;
        const char *name = zstate_redis_nested_str (redis, KEYS, index, &name_size);
        const char *value = zstate_redis_nested_str (redis, KEYS, index + 1, &value_size);
        byte mark [ZSTATE_WRITER_MARK_SIZE];
        assert (zstate_writer_marks_parse (name, name_size, value, value_size, mark) == 0);
        byte session [ZSTATE_MSG_SESSION_SIZE];
        size_t which = 0;
        for (; which < SESSIONS; which++) {
            s_test_session (session, which);
            if (memcmp (session, mark, sizeof (session)) == 0)
                break;
        }
        assert (which < SESSIONS);
        marks [which] = zstate_get_u64 (mark + ZSTATE_MSG_SESSION_SIZE);
    }
}

//  One look at Redis: it holds the state after the prefix its watermarks
//  name, exactly. Returns the prefix.
static size_t
s_test_check_prefix (zstate_redis_t *redis, size_t messages)
{
    test_state_t seen, model;
    uint64_t marks [SESSIONS];
    s_test_snapshot (redis, &seen, marks);
    size_t prefix = s_test_prefix (marks, messages);
    s_test_replay (&model, prefix);
    assert (memcmp (seen.present, model.present, sizeof (model.present)) == 0);
    assert (memcmp (seen.field, model.field, sizeof (model.field)) == 0);
    return prefix;
}

//  A stream of many messages over few keys, with the connection killed
//  under it every so often; after each kill, and after some CONFIRMED,
//  Redis is the state after the prefix its watermarks name
static void
s_test_prefix_stream (zstate_redis_server_t *server, bool quick, bool verbose)
{
    size_t messages = quick? 1500: 6000;
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "FLUSHALL", NULL) == ZSTATE_REDIS_STATUS);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_timeouts (writer, 500, 1000) == 0);
    assert (zstate_writer_set_reconnect (writer, 10, 100) == 0);
    //  Small batches: many transactions, many places to cut, and runs of
    //  messages sealed into generations of 8 keys while Redis lags
    assert (zstate_writer_set_batch (writer, 2, 0) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *confirmed = zsock_new (ZMQ_PULL);
    assert (confirmed && zsock_bind (confirmed, "inproc://zstate-test-prefix") == 0);
    assert (zstate_writer_confirm (writer, "inproc://zstate-test-prefix") == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push && zsock_connect (push, "%s", zstate_writer_endpoint (writer)) == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    test_state_t ignored;
    size_t looks = 0, kills = 0;
    for (size_t message = 1; message <= messages; message++) {
        s_test_message (&ignored, message, batch);
        size_t session;
        uint64_t sequence;
        s_test_origin (message, &session, &sequence);
        byte id [ZSTATE_MSG_SESSION_SIZE];
        s_test_session (id, session);
        zstate_writer_test_send_v2 (push, id, sequence, "PREFIX", batch);
        if (message % 250 == 0) {
            //  CLIENT KILL spares its caller: the writer's batches in
            //  flight fail, merge, and go again
            assert (zstate_redis_command (redis, "CLIENT", "KILL", "TYPE", "normal", NULL)
                    == ZSTATE_REDIS_INTEGER);
            kills += zstate_redis_integer (redis, -1) > 0;
            s_test_check_prefix (redis, messages);
            looks++;
        }
        //  Every 20 messages, wait for a CONFIRMED (so that the stream is
        //  cut into many batches) and look at Redis
        zmsg_t *msg;
        zsock_set_rcvtimeo (confirmed, message % 20? 0: 10000);
        while ((msg = zmsg_recv (confirmed))) {
            zmsg_destroy (&msg);
            s_test_check_prefix (redis, messages);
            looks++;
            zsock_set_rcvtimeo (confirmed, 0);
        }
    }
    assert (zstate_writer_flush (writer, 30000) == 0);
    //  Everything, and the watermarks say so
    assert (s_test_check_prefix (redis, messages) == messages);
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    zstate_writer_test_accounting (&stats);
    assert (stats.depth == 0 && stats.failed == 0 && stats.malformed == 0);
    assert (kills >= 1 && stats.disconnects >= 1);
    if (verbose)
        zsys_info ("prefix: %zu messages, %zu looks, %zu kills that bit, %" PRIu64
                   " batches, %" PRIu64 " resent, %" PRIu64 " CONFIRMED", messages, looks,
                   kills, stats.batches, stats.resent, stats.confirms);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zsock_destroy (&confirmed);
    zstate_redis_destroy (&redis);
}


//  --------------------------------------------------------------------------
//  Watermarks: version 1 writes none; version 2 writes SEQ SECS per
//  session; the first batch for a table after a connect prunes old ones

//  The watermark of session in table, or -1; its SECS in *secs_p
int64_t
zstate_writer_test_mark (zstate_redis_t *redis, const char *table, const byte *session,
                         int64_t *secs_p);
int64_t
zstate_writer_test_mark (zstate_redis_t *redis, const char *table, const byte *session,
                         int64_t *secs_p)
{
    char key [64], hex [2 * ZSTATE_MSG_SESSION_SIZE + 1];
    snprintf (key, sizeof (key), "_ZSTATE_PERSISTED:%s", table);
    for (size_t index = 0; index < ZSTATE_MSG_SESSION_SIZE; index++)
        snprintf (hex + 2 * index, 3, "%02x", session [index]);
    int type = zstate_redis_command (redis, "HGET", key, hex, NULL);
    if (type == ZSTATE_REDIS_NIL)
        return -1;
    assert (type == ZSTATE_REDIS_STRING);
    long long sequence = -1, secs = -1;
    assert (sscanf (zstate_redis_str (redis, -1, NULL), "%lld %lld", &sequence, &secs) == 2);
    if (secs_p)
        *secs_p = secs;
    return sequence;
}

//  A hash Redis cannot write to: the operations stand, the watermark
//  does not, and that is reported
static void
s_test_watermark_refused (zstate_writer_t *writer, zsock_t *push, zstate_redis_t *redis,
                          zstate_batch_t *batch)
{
    byte alice [ZSTATE_MSG_SESSION_SIZE];
    s_test_session (alice, 0);
    zsock_t *events = zstate_writer_events (writer);
    zmsg_t *event;
    zsock_set_rcvtimeo (events, 0);
    while ((event = zmsg_recv (events)))
        zmsg_destroy (&event);
    zsock_t *sink = zsock_new (ZMQ_PULL);
    assert (sink && zsock_bind (sink, "inproc://zstate-test-refused") == 0);
    assert (zstate_writer_confirm (writer, "inproc://zstate-test-refused") == 0);
    assert (zstate_redis_command (redis, "SET", "_ZSTATE_PERSISTED:BAD", "x", NULL)
            == ZSTATE_REDIS_STATUS);
    zstate_batch_set (batch, "Ethernet8", "mtu", "9100", NULL);
    zstate_writer_test_send_v2 (push, alice, 4, "BAD", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    //  The next batch's CONFIRMED names PORT, and nothing before it BAD
    zstate_batch_set (batch, "Ethernet8", "mtu", "9100", NULL);
    zstate_writer_test_send_v2 (push, alice, 5, "PORT", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    zsock_set_rcvtimeo (sink, 10000);
    bool port = false;
    while (!port) {
        zmsg_t *msg = zmsg_recv (sink);
        assert (msg && zmsg_size (msg) == 4);
        zmsg_first (msg);
        zmsg_next (msg);
        zframe_t *table = zmsg_next (msg);
        assert (!zframe_streq (table, "BAD"));
        port = zframe_streq (table, "PORT");
        zmsg_destroy (&msg);
    }
    assert (zstate_writer_confirm (writer, "") == 0);
    zsock_destroy (&sink);
    assert (zstate_redis_command (redis, "HGET", "BAD:Ethernet8", "mtu", NULL)
            == ZSTATE_REDIS_STRING);
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.failed == 0 && stats.depth == 0);
    bool reported = false;
    zsock_set_rcvtimeo (events, 10000);
    while (!reported && (event = zmsg_recv (events))) {
        char *type = zmsg_popstr (event);
        zmsg_destroy (&event);
        reported = streq (type, "ERROR");
        zstr_free (&type);
    }
    assert (reported);
}

static void
s_test_watermarks (zstate_redis_server_t *server)
{
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "FLUSHALL", NULL) == ZSTATE_REDIS_STATUS);
    //  Old marks in OLD: one older than the age, one younger, one malformed
    int64_t now = (int64_t) time (NULL);
    char young [32];
    snprintf (young, sizeof (young), "6 %" PRId64, now - 10);
    const char *old_hex = "cccccccccccccccccccccccccccccccc";
    const char *young_hex = "dddddddddddddddddddddddddddddddd";
    assert (zstate_redis_command (redis, "HSET", "_ZSTATE_PERSISTED:OLD", old_hex, "5 1000",
                                  young_hex, young, "junk", "x", NULL) == ZSTATE_REDIS_INTEGER);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_watermark_age (writer, 0) == -1 && errno == EINVAL);
    assert (zstate_writer_set_watermark_age (writer, 3600) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push && zsock_connect (push, "%s", zstate_writer_endpoint (writer)) == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    byte alice [ZSTATE_MSG_SESSION_SIZE], bob [ZSTATE_MSG_SESSION_SIZE];
    s_test_session (alice, 0);
    s_test_session (bob, 1);
    //  Version 1, even with a session: no watermark
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_writer_test_send (push, "V1", batch);
    //  Version 2: the highest sequence of each session, per table
    for (uint64_t sequence = 1; sequence <= 3; sequence++) {
        zstate_batch_set (batch, "Ethernet0", "mtu", "1500", NULL);
        zstate_writer_test_send_v2 (push, alice, sequence, "PORT", batch);
    }
    zstate_batch_hset (batch, "Ethernet4", "mtu", "1500", NULL);
    zstate_writer_test_send_v2 (push, bob, 9, "PORT", batch);
    zstate_batch_del (batch, "Vlan10");
    zstate_writer_test_send_v2 (push, bob, 10, "OLD", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    int64_t before = now, secs = 0;
    assert (zstate_redis_command (redis, "EXISTS", "_ZSTATE_PERSISTED:V1", NULL)
            == ZSTATE_REDIS_INTEGER && zstate_redis_integer (redis, -1) == 0);
    assert (zstate_writer_test_mark (redis, "PORT", alice, &secs) == 3);
    assert (secs >= before - 1 && secs <= (int64_t) time (NULL) + 1);
    assert (zstate_writer_test_mark (redis, "PORT", bob, NULL) == 9);
    assert (zstate_writer_test_mark (redis, "OLD", bob, NULL) == 10);
    //  Pruned in the same batch: the old and the malformed field; the
    //  young one stays
    assert (zstate_redis_command (redis, "HLEN", "_ZSTATE_PERSISTED:OLD", NULL)
            == ZSTATE_REDIS_INTEGER && zstate_redis_integer (redis, -1) == 2);
    assert (zstate_redis_command (redis, "HGET", "_ZSTATE_PERSISTED:OLD", young_hex, NULL)
            == ZSTATE_REDIS_STRING);
    //  Within 60 s the next batch for the table prunes nothing; after a
    //  new connection the first one does
    int64_t started = zclock_mono ();
    assert (zstate_redis_command (redis, "HSET", "_ZSTATE_PERSISTED:OLD", old_hex, "5 1000",
                                  NULL) == ZSTATE_REDIS_INTEGER);
    zstate_batch_del (batch, "Vlan20");
    zstate_writer_test_send_v2 (push, bob, 11, "OLD", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    assert (zstate_redis_command (redis, "HEXISTS", "_ZSTATE_PERSISTED:OLD", old_hex, NULL)
            == ZSTATE_REDIS_INTEGER);
    if (zclock_mono () - started < 50000)
        assert (zstate_redis_integer (redis, -1) == 1);
    assert (zstate_redis_command (redis, "CLIENT", "KILL", "TYPE", "normal", NULL)
            == ZSTATE_REDIS_INTEGER);
    zstate_batch_del (batch, "Vlan30");
    zstate_writer_test_send_v2 (push, bob, 12, "OLD", batch);
    assert (zstate_writer_flush (writer, 10000) == 0);
    assert (zstate_redis_command (redis, "HEXISTS", "_ZSTATE_PERSISTED:OLD", old_hex, NULL)
            == ZSTATE_REDIS_INTEGER && zstate_redis_integer (redis, -1) == 0);
    assert (zstate_writer_test_mark (redis, "OLD", bob, NULL) == 12);
    s_test_watermark_refused (writer, push, redis, batch);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_redis_destroy (&redis);
}


//  --------------------------------------------------------------------------
//  CONFIRMED: a sink that reads late still gets the newest values

//  Read CONFIRMED messages for up to 10 s until each session's mark for
//  PORT reaches its last; marks never go down
static void
s_test_read_confirmed (zsock_t *sink, uint64_t *last, uint64_t *seen)
{
    int64_t deadline = zclock_mono () + 10000;
    while ((seen [0] < last [0] || seen [1] < last [1]) && zclock_mono () < deadline) {
        zsock_set_rcvtimeo (sink, (int) (deadline - zclock_mono ()) + 1);
        zmsg_t *msg = zmsg_recv (sink);
        if (!msg)
            break;
        char *type = zmsg_popstr (msg);
        assert (streq (type, "CONFIRMED") && zmsg_size (msg) % 3 == 0);
        zstr_free (&type);
        while (zmsg_size (msg)) {
            char *db = zmsg_popstr (msg);
            char *table = zmsg_popstr (msg);
            zframe_t *marks = zmsg_pop (msg);
            assert (streq (db, "APPL_DB") && streq (table, "PORT"));
            assert (zframe_size (marks) % ZSTATE_WRITER_MARK_SIZE == 0);
            for (size_t at = 0; at < zframe_size (marks); at += ZSTATE_WRITER_MARK_SIZE) {
                byte *mark = zframe_data (marks) + at;
                size_t which = mark [0] == 0x11? 0: 1;
                uint64_t sequence = zstate_get_u64 (mark + ZSTATE_MSG_SESSION_SIZE);
                assert (sequence >= seen [which] && sequence <= last [which]);
                seen [which] = sequence;
            }
            zstr_free (&db);
            zstr_free (&table);
            zframe_destroy (&marks);
        }
        zmsg_destroy (&msg);
    }
}

static void
s_test_confirmed (zstate_redis_server_t *server)
{
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    assert (zstate_writer_confirm (writer, "nonsense") == -1 && errno == EINVAL);
    zsock_t *sink = zsock_new (ZMQ_PULL);
    assert (sink);
    zsock_set_rcvhwm (sink, 1);
    assert (zsock_bind (sink, "inproc://zstate-test-confirmed") == 0);
    assert (zstate_writer_confirm (writer, "inproc://zstate-test-confirmed") == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push && zsock_connect (push, "%s", zstate_writer_endpoint (writer)) == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    byte sessions [SESSIONS][ZSTATE_MSG_SESSION_SIZE];
    s_test_session (sessions [0], 0);
    s_test_session (sessions [1], 1);
    //  One batch per message, far more CONFIRMED than the sink holds
    uint64_t last [SESSIONS] = { 0, 0 };
    for (size_t message = 0; message < 60; message++) {
        size_t which = message % 2;
        zstate_batch_set (batch, "Ethernet0", "mtu", "9100", NULL);
        zstate_writer_test_send_v2 (push, sessions [which], ++last [which], "PORT", batch);
        assert (zstate_writer_flush (writer, 10000) == 0);
    }
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.confirms_deferred >= 1 && stats.confirms >= 1);
    //  The sink reads now: what it gets last is the last of each session
    uint64_t seen [SESSIONS] = { 0, 0 };
    s_test_read_confirmed (sink, last, seen);
    assert (seen [0] == last [0] && seen [1] == last [1]);
    //  "" stops
    assert (zstate_writer_confirm (writer, "") == 0);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zsock_destroy (&sink);
}


//  --------------------------------------------------------------------------
//  Patience: Redis that holds the batch past the command timeout makes
//  the writer wait twice as long the next time, until a batch gets through

//  The first frame after the endpoint of the next event of type, within
//  30 s (for ERROR the reason, for STATE the state); NULL if none
char *
zstate_writer_test_event (zsock_t *events, const char *type);
char *
zstate_writer_test_event (zsock_t *events, const char *type)
{
    int64_t deadline = zclock_mono () + 30000;
    while (zclock_mono () < deadline) {
        zsock_set_rcvtimeo (events, (int) (deadline - zclock_mono ()) + 1);
        zmsg_t *event = zmsg_recv (events);
        if (!event)
            break;
        char *name = zmsg_popstr (event);
        char *endpoint = zmsg_popstr (event);
        char *first = zmsg_popstr (event);
        bool match = name && streq (name, type);
        zstr_free (&name);
        zstr_free (&endpoint);
        zmsg_destroy (&event);
        if (match)
            return first;
        zstr_free (&first);
    }
    return NULL;
}

static char *
s_test_error_event (zsock_t *events)
{
    return zstate_writer_test_event (events, "ERROR");
}

static void
s_test_patience (zstate_redis_server_t *server)
{
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_timeouts (writer, 500, 400) == 0);
    assert (zstate_writer_set_reconnect (writer, 10, 20) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push && zsock_connect (push, "%s", zstate_writer_endpoint (writer)) == 0);
    //  Writes wait, PING does not: the writer reconnects and tries again
    assert (zstate_redis_command (redis, "CLIENT", "PAUSE", "60000", "WRITE", NULL)
            == ZSTATE_REDIS_STATUS);
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_writer_test_send (push, "PATIENCE", batch);
    char *first = s_test_error_event (zstate_writer_events (writer));
    char *second = s_test_error_event (zstate_writer_events (writer));
    assert (first && strstr (first, "no reply from Redis in 400 ms"));
    assert (second && strstr (second, "no reply from Redis in 800 ms"));
    assert (zstate_redis_command (redis, "CLIENT", "UNPAUSE", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_writer_flush (writer, 30000) == 0);
    zstr_free (&first);
    zstr_free (&second);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_redis_destroy (&redis);
}


void
zstate_writer_persist_test (bool verbose);
void
zstate_writer_persist_test (bool verbose)
{
    printf (" * zstate_writer_persist: ");
    if (verbose)
        printf ("\n");
    //  Under valgrind the stream shrinks; the normal run keeps it
    bool quick = RUNNING_ON_VALGRIND || getenv ("ZSTATE_SELFTEST_QUICK");
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    s_test_prefix_stream (server, quick, verbose);
    s_test_watermarks (server);
    s_test_confirmed (server);
    s_test_patience (server);
    zstate_redis_server_destroy (&server);
    zstate_writer_restore_suite (verbose);
    printf ("OK\n");
}
