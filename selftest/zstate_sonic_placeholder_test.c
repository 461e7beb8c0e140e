/*  =========================================================================
    zstate_sonic_placeholder_test - SONiC's NULL/NULL placeholder lands in
    Redis the same whether the operations on a key were written one by
    one or coalesced in the writer first, against a real redis-server

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include <hiredis/hiredis.h>

#define DEADLINE    30000       //  msecs, for anything we wait for

void
    zstate_writer_test_send (zsock_t *push, const char *table, zstate_batch_t *batch);

//  One key's operations, in order, and what Redis must hold after them:
//  "name=value ..." sorted by name, or "" for no key
typedef struct {
    const char *key;
    const char *ops [3];        //  "SET", "SET a=b", "HSET f=v", "DEL"
    const char *with;           //  with the placeholder
    const char *without;        //  without
} case_t;

static const case_t s_cases [] = {
    { "k1", { "SET", "HSET f=v" },  "NULL=NULL f=v",  "f=v" },
    { "k2", { "SET" },              "NULL=NULL",      "" },
    { "k3", { "SET", "SET a=b" },   "a=b",            "a=b" },
    { "k4", { "SET", "DEL" },       "",               "" },
    { "k5", { "HSET f=v", "SET" },  "NULL=NULL",      "" },
    { "k6", { "SET", "HSET f=v", "HSET g=w" }, "NULL=NULL f=v g=w", "f=v g=w" },
    { "k7", { "DEL", "SET" },       "NULL=NULL",      "" },
};
#define CASES (sizeof (s_cases) / sizeof (s_cases [0]))

//  Add operation text ("HSET f=v") on key to batch
static void
s_op (zstate_batch_t *batch, const char *key, const char *text)
{
    int op = strncmp (text, "DEL", 3) == 0? ZSTATE_OP_DEL:
             strncmp (text, "HSET", 4) == 0? ZSTATE_OP_HSET: ZSTATE_OP_SET;
    assert (zstate_batch_append (batch, op, key, strlen (key)) == 0);
    const char *field = strchr (text, ' ');
    if (field) {
        const char *equals = strchr (field, '=');
        assert (equals);
        assert (zstate_batch_field (batch, field + 1, (size_t) (equals - field - 1),
                                    equals + 1, strlen (equals + 1)) == 0);
    }
}

//  What Redis holds at key, as "name=value ..." sorted by name
static char *
s_hash (redisContext *redis, const char *key)
{
    redisReply *reply = (redisReply *) redisCommand (redis, "HGETALL %s", key);
    assert (reply && reply->type == REDIS_REPLY_ARRAY);
    zlistx_t *pairs = zlistx_new ();
    zlistx_set_comparator (pairs, (zlistx_comparator_fn *) strcmp);
    for (size_t index = 0; index + 1 < reply->elements; index += 2)
        zlistx_add_end (pairs, zsys_sprintf ("%s=%s", reply->element [index]->str,
                                             reply->element [index + 1]->str));
    zlistx_sort (pairs);
    char *text = strdup ("");
    for (char *pair = (char *) zlistx_first (pairs); pair;
         pair = (char *) zlistx_next (pairs)) {
        char *longer = zsys_sprintf ("%s%s%s", text, *text? " ": "", pair);
        free (text);
        free (pair);
        text = longer;
    }
    zlistx_destroy (&pairs);
    freeReplyObject (reply);
    return text;
}

//  Wait until the writer has taken ops operations
static void
s_wait_ops (zstate_writer_t *writer, uint64_t ops)
{
    int64_t deadline = zclock_mono () + DEADLINE;
    zstate_writer_stats_t stats;
    while (zstate_writer_stats (writer, &stats) == 0 && stats.ops < ops) {
        assert (zclock_mono () < deadline);
        zclock_sleep (5);
    }
}

//  Run every case into db: coalesced (all sent before the writer can
//  write, each key's operations in one backlog entry) or one by one (a
//  flush after each), and check what Redis holds
static void
s_run (zstate_redis_server_t *server, redisContext *redis, int db, bool placeholder,
       bool coalesced)
{
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    assert (zstate_writer_set_placeholder (writer, placeholder) == 0);
    assert (zstate_writer_set_db (writer, db) == 0);
    if (!coalesced)
        assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new_push (zstate_writer_endpoint (writer));
    assert (push);
    zstate_batch_t *batch = zstate_batch_new ();
    uint64_t ops = 0;
    for (size_t index = 0; index < CASES; index++)
        for (size_t op = 0; op < 3 && s_cases [index].ops [op]; op++) {
            s_op (batch, s_cases [index].key, s_cases [index].ops [op]);
            zstate_writer_test_send (push, "PORT_TABLE", batch);
            s_wait_ops (writer, ++ops);
            if (!coalesced)
                assert (zstate_writer_flush (writer, DEADLINE) == 0);
        }
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (coalesced? stats.coalesced > 0: stats.coalesced == 0);
    if (coalesced)
        assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    assert (zstate_writer_flush (writer, DEADLINE) == 0);
    redisReply *reply = (redisReply *) redisCommand (redis, "SELECT %d", db);
    assert (reply && reply->type == REDIS_REPLY_STATUS);
    freeReplyObject (reply);
    for (size_t index = 0; index < CASES; index++) {
        char key [64];
        snprintf (key, sizeof (key), "PORT_TABLE:%s", s_cases [index].key);
        char *held = s_hash (redis, key);
        const char *expected = placeholder? s_cases [index].with: s_cases [index].without;
        if (!streq (held, expected))
            printf ("\n%s (placeholder %d, coalesced %d): '%s', not '%s'\n", key,
                    placeholder, coalesced, held, expected);
        assert (streq (held, expected));
        free (held);
    }
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
}

void
zstate_sonic_placeholder_test (bool verbose)
{
    (void) verbose;
    printf (" * zstate_sonic_placeholder: ");
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    redisContext *redis = redisConnect ("127.0.0.1", zstate_redis_server_port (server));
    assert (redis && !redis->err);
    int db = 0;
    for (int placeholder = 0; placeholder < 2; placeholder++)
        for (int coalesced = 0; coalesced < 2; coalesced++)
            s_run (server, redis, db++, placeholder, coalesced);
    redisFree (redis);
    zstate_redis_server_destroy (&server);
    printf ("OK\n");
}
