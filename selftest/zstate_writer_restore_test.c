/*  =========================================================================
    zstate_writer_restore_test - the DB writer's RESTORE: a table read back
    from Redis, binary-safe, with its watermarks and nothing else

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_batch_private.h"
#include "zstate_writer_marks.h"

//  From selftest/zstate_writer_persist.c and zstate_writer_suite.c
void
    zstate_writer_test_send_v2 (zsock_t *push, const byte *session, uint64_t sequence,
                                const char *table, zstate_batch_t *batch);
void
    zstate_writer_test_send (zsock_t *push, const char *table, zstate_batch_t *batch);
void
    zstate_writer_restore_suite (bool verbose);

#define ENDPOINT        "inproc://zstate-test-restore"

//  The value of field (0..) of key: binary, with NUL, 0xFF and the key's
//  number in it
static size_t
s_test_value (size_t key, size_t field, byte *value)
{
    size_t size = 3 + (key + field) % 40;
    for (size_t index = 0; index < size; index++)
        value [index] = (byte) (key * 31 + field * 7 + index);
    value [0] = 0;
    value [1] = 0xFF;
    value [2] = (byte) field;
    return size;
}

//  Key number key has 1 + key % 3 fields
static size_t
s_test_fields (size_t key)
{
    return 1 + key % 3;
}

//  Write keys entries into ROUTE through the writer, from two sessions
//  (their last sequences for ROUTE in last), and a few decoys beside them
static void
s_test_fill (zstate_writer_t *writer, zstate_redis_t *redis, size_t keys, uint64_t *last)
{
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push && zsock_connect (push, "%s", zstate_writer_endpoint (writer)) == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    byte sessions [2][ZSTATE_MSG_SESSION_SIZE];
    memset (sessions [0], 0xA5, ZSTATE_MSG_SESSION_SIZE);
    memset (sessions [1], 0x5A, ZSTATE_MSG_SESSION_SIZE);
    for (size_t key = 0; key < keys; key++) {
        char name [32];
        snprintf (name, sizeof (name), "10.%zu.%zu.0/24", key / 256, key % 256);
        assert (zstate_batch_append (batch, ZSTATE_OP_SET, name, strlen (name)) == 0);
        for (size_t field = 0; field < s_test_fields (key); field++) {
            byte value [64];
            char field_name [8];
            snprintf (field_name, sizeof (field_name), "f%zu", field);
            size_t size = s_test_value (key, field, value);
            assert (zstate_batch_field (batch, field_name, strlen (field_name), value, size) == 0);
        }
        if (zstate_batch_size (batch) == 100 || key + 1 == keys) {
            size_t which = (key / 100) % 2;
            zstate_writer_test_send_v2 (push, sessions [which], ++last [which], "ROUTE", batch);
        }
    }
    //  Another table, one whose name starts the same, a key that is no
    //  hash, and another table's watermarks
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_writer_test_send_v2 (push, sessions [0], last [0] + 1, "PORT", batch);
    zstate_batch_set (batch, "x", "a", "1", NULL);
    zstate_writer_test_send (push, "ROUTE_OTHER", batch);
    assert (zstate_writer_flush (writer, 30000) == 0);
    assert (zstate_redis_command (redis, "SET", "ROUTE:string", "no hash", NULL)
            == ZSTATE_REDIS_STATUS);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
}

//  Check one restored operation against what s_test_fill wrote; marks
//  its key in found
static void
s_test_check_entry (zstate_batch_t *batch, size_t index, bool *found, size_t keys)
{
    assert (zstate_batch_op (batch, index) == ZSTATE_OP_SET);
    size_t size;
    const char *name = zstate_batch_key (batch, index, &size);
    unsigned high, low;
    char text [32];
    assert (size < sizeof (text));
    memcpy (text, name, size);
    text [size] = 0;
    assert (sscanf (text, "10.%u.%u.0/24", &high, &low) == 2);
    size_t key = high * 256 + low;
    assert (key < keys && !found [key]);
    found [key] = true;
    size_t count = zstate_batch_field_count (batch, index);
    assert (count == s_test_fields (key));
    for (size_t field = 0; field < count; field++) {
        size_t name_size, value_size;
        const char *field_name = zstate_batch_name (batch, index, field, &name_size);
        const byte *value = (const byte *) zstate_batch_value (batch, index, field, &value_size);
        assert (name_size == 2 && field_name [0] == 'f');
        byte expected [64];
        size_t expected_size = s_test_value (key, (size_t) (field_name [1] - '0'), expected);
        assert (value_size == expected_size && memcmp (value, expected, value_size) == 0);
    }
}

//  Read what RESTORE sent: every key once, then RESTORED with the count
//  and the marks
static void
s_test_read_restored (zsock_t *pull, size_t keys, uint64_t *last)
{
    bool *found = (bool *) zmalloc (keys * sizeof (bool));
    zstate_msg_t *decoder = zstate_msg_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    size_t entries = 0;
    zsock_set_rcvtimeo (pull, 10000);
    while (true) {
        zmsg_t *msg = zmsg_recv (pull);
        assert (msg);
        if (zmsg_size (msg) == 3) {
            char *type = zmsg_popstr (msg);
            zframe_t *count = zmsg_pop (msg);
            zframe_t *marks = zmsg_pop (msg);
            assert (streq (type, "RESTORED") && zframe_size (count) == 8);
            assert (zstate_get_u64 (zframe_data (count)) == keys);
            assert (zframe_size (marks) == 2 * ZSTATE_WRITER_MARK_SIZE);
            for (size_t at = 0; at < 2 * ZSTATE_WRITER_MARK_SIZE; at += ZSTATE_WRITER_MARK_SIZE) {
                byte *mark = zframe_data (marks) + at;
                size_t which = mark [0] == 0xA5? 0: 1;
                assert (mark [0] == (which? 0x5A: 0xA5));
                assert (zstate_get_u64 (mark + ZSTATE_MSG_SESSION_SIZE) == last [which]);
            }
            zstr_free (&type);
            zframe_destroy (&count);
            zframe_destroy (&marks);
            zmsg_destroy (&msg);
            break;
        }
        assert (zmsg_size (msg) == 1);
        zframe_t *frame = zmsg_first (msg);
        assert (zstate_msg_decode (decoder, zframe_data (frame), zframe_size (frame)) == 0);
        assert (streq (zstate_msg_table (decoder), "ROUTE") && streq (zstate_msg_db (decoder), "0"));
        size_t ops_size;
        const byte *ops = zstate_msg_ops (decoder, &ops_size);
        size_t count = zstate_msg_op_count (decoder);
        assert (count <= 128);
        zstate_batch_reset (batch);
        assert (zstate_batch_load (batch, ops, ops_size, count, NULL) == 0);
        for (size_t index = 0; index < count; index++)
            s_test_check_entry (batch, index, found, keys);
        entries += count;
        zmsg_destroy (&msg);
    }
    assert (entries == keys);
    for (size_t key = 0; key < keys; key++)
        assert (found [key]);
    zstate_batch_destroy (&batch);
    zstate_msg_destroy (&decoder);
    free (found);
}

//  Refused: a bad table, unconfirmed operations on the table, no Redis
static void
s_test_restore_refused (zstate_writer_t *writer, zstate_redis_server_t *server)
{
    assert (zstate_writer_restore (writer, "", ENDPOINT, 10000) == -1 && errno == EINVAL);
    assert (zstate_writer_restore (writer, "ROUTE", "nonsense", 10000) == -1
            && errno == EINVAL);
    //  Out of time: 3000 keys are not read in a millisecond; what was sent
    //  ends without RESTORED
    zsock_t *late = zsock_new (ZMQ_PULL);
    assert (late && zsock_bind (late, "inproc://zstate-test-restore-late") == 0);
    assert (zstate_writer_restore (writer, "ROUTE", "inproc://zstate-test-restore-late", 1)
            == -1 && errno == ETIMEDOUT);
    zmsg_t *msg;
    zsock_set_rcvtimeo (late, 0);
    while ((msg = zmsg_recv (late))) {
        assert (zmsg_size (msg) == 1);
        zmsg_destroy (&msg);
    }
    zsock_destroy (&late);
    //  Redis frozen: an operation on ROUTE stays unconfirmed
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert (push && zsock_connect (push, "%s", zstate_writer_endpoint (writer)) == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_redis_server_freeze (server) == 0);
    zstate_batch_del (batch, "10.0.0.0/24");
    zstate_writer_test_send (push, "ROUTE", batch);
    zstate_writer_stats_t stats;
    int64_t deadline = zclock_mono () + 10000;
    while (zstate_writer_stats (writer, &stats) == 0 && stats.depth == 0
       &&  zclock_mono () < deadline)
        zclock_sleep (5);       //  Polling the writer's backlog, with a deadline
    assert (stats.depth == 1);
    assert (zstate_writer_restore (writer, "ROUTE", ENDPOINT, 10000) == -1 && errno == EBUSY);
    assert (zstate_redis_server_thaw (server) == 0);
    assert (zstate_writer_flush (writer, 30000) == 0);
    //  Redis gone
    assert (zstate_redis_server_kill (server) == 0);
    assert (zstate_writer_restore (writer, "ROUTE", ENDPOINT, 10000) == -1
            && errno == ENOTCONN);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
}

void
zstate_writer_restore_suite (bool verbose)
{
    size_t keys = 3000;
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_timeouts (writer, 500, 2000) == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    uint64_t last [2] = { 0, 0 };
    s_test_fill (writer, redis, keys, last);
    //  The caller binds first; the messages wait for it
    zsock_t *pull = zsock_new (ZMQ_PULL);
    assert (pull);
    zsock_set_rcvhwm (pull, 0);
    assert (zsock_bind (pull, ENDPOINT) == 0);
    int64_t started = zclock_mono ();
    assert (zstate_writer_restore (writer, "ROUTE", ENDPOINT, 30000) == 0);
    if (verbose)
        zsys_info ("restore: %zu keys in %" PRId64 " ms", keys, zclock_mono () - started);
    s_test_read_restored (pull, keys, last);
    //  The actor answers directly too, with the count
    zactor_t *actor = zstate_writer_actor (writer);
    assert (zsock_send (actor, "sss", "RESTORE", "PORT", ENDPOINT) == 0);
    char *command = NULL, *reason = NULL;
    int status = -1;
    uint64_t entries = 0;
    assert (zsock_recv (actor, "sis8", &command, &status, &reason, &entries) == 0);
    assert (streq (command, "RESTORE") && status == 0 && entries == 1);
    zstr_free (&command);
    zstr_free (&reason);
    zmsg_t *msg = zmsg_recv (pull);
    assert (msg && zmsg_size (msg) == 1);
    zmsg_destroy (&msg);
    msg = zmsg_recv (pull);
    assert (msg && zmsg_size (msg) == 3);
    zmsg_destroy (&msg);
    s_test_restore_refused (writer, server);
    zsock_destroy (&pull);
    zstate_writer_set_linger (writer, 0);
    zstate_writer_destroy (&writer);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);
}
