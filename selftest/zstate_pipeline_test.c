/*  =========================================================================
    zstate_pipeline_test - the whole pipeline against a real Redis, with
    SONiC's own expectations of its ZMQ producer/consumer state tables

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

#define THREADS     5
#define REPEATS     100
#define BATCH       10
#define TABLE       "ZMQ_TABLE"

//  Each producer thread: 100 set, 100 del, 100 batch set of 10, 100 batch
//  del of 10, on keys that every thread shares, as in SONiC's test
typedef struct {
    zstate_client_t *client;
    zstate_writer_t *writer;    //  producer-side persistence, or NULL
} producer_args_t;

static void *
s_producer_thread (void *arg)
{
    producer_args_t *args = (producer_args_t *) arg;
    zstate_producer_t *producer = zstate_producer_new (args->client, "APPL_DB", TABLE);
    assert (producer);
    if (args->writer)
        assert (zstate_producer_set_writer (producer, args->writer, 10000) == 0);
    char key [64];
    for (int index = 0; index < REPEATS; index++) {
        snprintf (key, sizeof (key), "set_key_%d", index);
        assert (zstate_producer_set (producer, key, "a", "1", "b", "2", NULL) == 0);
    }
    for (int index = 0; index < REPEATS; index++) {
        snprintf (key, sizeof (key), "del_key_%d", index);
        assert (zstate_producer_del (producer, key) == 0);
    }
    char keys [BATCH][64];
    const char *key_list [BATCH];
    const char *fields [] = { "f", "v", NULL };
    const char **field_lists [BATCH];
    for (int index = 0; index < REPEATS; index++) {
        for (int item = 0; item < BATCH; item++) {
            snprintf (keys [item], sizeof (keys [item]), "batch_set_key_%d",
                      index * BATCH + item);
            key_list [item] = keys [item];
            field_lists [item] = fields;
        }
        assert (zstate_producer_batch_set (producer, BATCH, key_list, field_lists) == 0);
    }
    for (int index = 0; index < REPEATS; index++) {
        for (int item = 0; item < BATCH; item++) {
            snprintf (keys [item], sizeof (keys [item]), "batch_del_key_%d",
                      index * BATCH + item);
            key_list [item] = keys [item];
        }
        assert (zstate_producer_batch_del (producer, BATCH, key_list) == 0);
    }
    zstate_producer_destroy (&producer);
    return NULL;
}

//  Count the keys matching pattern
static size_t
s_count_keys (zstate_redis_t *redis, const char *pattern)
{
    int type = zstate_redis_command (redis, "KEYS", pattern, NULL);
    assert (type != -1);
    return zstate_redis_elements (redis);
}

//  Run SONiC's multi-producer test with consumer-side persistence, or with
//  producer-side persistence; either way Redis ends with exactly 100
//  set_key_* and 1000 batch_set_key_* keys
static void
s_test_persistence (zstate_redis_server_t *redis_server, bool producer_side, bool verbose)
{
    (void) verbose;
    zstate_writer_t *writer = zstate_writer_new ();
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (redis_server)) == 0);

    zstate_server_t *server = zstate_server_new ();
    zstate_consumer_t *consumer = zstate_consumer_new (server, "APPL_DB", TABLE);
    assert (consumer);
    if (!producer_side)
        assert (zstate_consumer_set_writer (consumer, writer) == 0);
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);

    zstate_client_t *client = zstate_client_new ();
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    assert (zstate_client_connect (client, endpoint) == 0);

    producer_args_t args = { client, producer_side? writer: NULL };
    pthread_t threads [THREADS];
    for (int index = 0; index < THREADS; index++)
        assert (pthread_create (&threads [index], NULL, s_producer_thread, &args) == 0);

    //  The application pops everything: 5 x (100 + 100 + 1000 + 1000)
    size_t expected = THREADS * REPEATS * (2 + 2 * BATCH);
    size_t popped = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    while (popped < expected) {
        void *ready = zpoller_wait (poller, 60000);
        assert (ready);         //  Nothing for 60 s: the test has failed
        popped += zstate_consumer_pops (consumer, batch, 0);
    }
    assert (popped == expected);
    for (int index = 0; index < THREADS; index++)
        pthread_join (threads [index], NULL);
    //  A writer that fell behind (a slow machine) gets the rest by REPLAY
    //  from the client, which keeps it at either level: the writer has
    //  everything once no session is behind (the deadline is for a
    //  loaded machine)
    zstate_server_stats_t server_stats;
    int64_t until = zclock_mono () + 60000;
    while (zstate_server_stats (server, &server_stats) == 0 && server_stats.behind > 0) {
        assert (zclock_mono () < until);
        zclock_sleep (10);
    }
    assert (zstate_writer_flush (writer, 10000) == 0);

    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_endpoint (redis_server));
    assert (zstate_redis_connect (redis) == 0);
    assert (s_count_keys (redis, TABLE ":set_key_*") == REPEATS);
    assert (s_count_keys (redis, TABLE ":batch_set_key_*") == REPEATS * BATCH);
    assert (s_count_keys (redis, TABLE ":del_key_*") == 0);
    assert (s_count_keys (redis, TABLE ":batch_del_key_*") == 0);
    //  Each entry holds exactly what was set
    assert (zstate_redis_command (redis, "HGETALL", TABLE ":set_key_7", NULL) != -1);
    assert (zstate_redis_elements (redis) == 4);
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.failed == 0);
    //  The snapshot, which needs no round trip, catches up (every 100 ms;
    //  the deadline is for a loaded machine)
    zstate_writer_stats_t snapshot = { 0 };
    int64_t deadline = zclock_mono () + 30000;
    while (snapshot.written != stats.written && zclock_mono () < deadline) {
        zpoller_wait (poller, 10);
        zstate_writer_snapshot (writer, &snapshot);
    }
    assert (snapshot.written == stats.written);
    assert (snapshot.depth == 0);
    assert (zstate_redis_command (redis, "FLUSHDB", NULL, NULL) != -1);
    zstate_redis_destroy (&redis);

    zpoller_destroy (&poller);
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
    zstate_writer_destroy (&writer);
}

void
zstate_pipeline_test (bool verbose)
{
    printf (" * zstate_pipeline: ");
    //  @selftest
    //  The whole pipeline: a producer table writes through its client
    //  agent to a server, whose consumer table hands the operations to the
    //  application and forwards them to a writer, which persists them in
    //  Redis
    zstate_redis_server_t *redis_server = zstate_redis_server_new (false);
    assert (redis_server);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
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
    //  The application pops the operation when the table's socket says so
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (ports), NULL);
    assert (zpoller_wait (poller, 60000) == zstate_consumer_socket (ports));
    zpoller_destroy (&poller);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_consumer_pops (ports, batch, 0) == 1);
    zstate_batch_destroy (&batch);
    //  ... and Redis holds it once the writer has it confirmed
    assert (zstate_writer_flush (writer, 30000) == 0);
    zstate_redis_t *reader = zstate_redis_new (zstate_redis_server_endpoint (redis_server));
    assert (reader && zstate_redis_connect (reader) == 0);
    assert (zstate_redis_command (reader, "HGET", "PORT_TABLE:Ethernet0", "mtu", NULL)
            == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (reader, -1, NULL), "9100"));
    zstate_redis_destroy (&reader);
    zstate_producer_destroy (&producer);
    zstate_client_destroy (&client);
    zstate_consumer_destroy (&ports);
    zstate_server_destroy (&server);
    zstate_writer_destroy (&writer);
    //  @end

    s_test_persistence (redis_server, false, verbose);
    s_test_persistence (redis_server, true, verbose);

    //  SONiC: a producer with persistence, destroyed right after set, still
    //  lands its write: the writer's destroy flushes
    writer = zstate_writer_new ();
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (redis_server)) == 0);
    client = zstate_client_new ();
    assert (zstate_client_connect (client, "inproc://zstate-pipeline-nobody") == 0);
    producer = zstate_producer_new (client, "APPL_DB", TABLE);
    assert (zstate_producer_set_writer (producer, writer, 0) == 0);
    assert (zstate_producer_set (producer, "last_words", "said", "yes", NULL) == 0);
    zstate_producer_destroy (&producer);
    zstate_writer_destroy (&writer);
    zstate_client_set_linger (client, 0);
    zstate_client_destroy (&client);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_endpoint (redis_server));
    assert (zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "HGET", TABLE ":last_words", "said", NULL) != -1);
    size_t size;
    const char *value = zstate_redis_str (redis, -1, &size);
    assert (value && size == 3 && memcmp (value, "yes", 3) == 0);
    zstate_redis_destroy (&redis);

    zstate_redis_server_destroy (&redis_server);
    printf ("OK\n");
}
