/*  =========================================================================
    zstate_demo_verify - zstate demo: the check against Redis and the summary

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_demo.h"

//  --------------------------------------------------------------------------
//  Redis side: count the keys of our table, or delete them

static const char *
s_count_script =
    "return #redis.call ('KEYS', ARGV [1])";

static const char *
s_delete_script =
    "local count = 0 "
    "for _, key in ipairs (redis.call ('KEYS', ARGV [1])) do "
    "    redis.call ('DEL', key) count = count + 1 "
    "end "
    "return count";

//  Returns the count, or -1 with the reason set
static long long
s_redis_keys (zstate_redis_t *redis, const char *script)
{
    int type = zstate_redis_command (redis, "EVAL", script, "0", DEMO_TABLE ":*", NULL);
    if (type == -1)
        return -1;
    if (type != ZSTATE_REDIS_INTEGER) {
        const char *error = zstate_redis_str (redis, -1, NULL);
        zstate_fail (EPROTO, "EVAL: %s", error? error: "unexpected reply");
        return -1;
    }
    return zstate_redis_integer (redis, -1);
}

//  Read the route back from the current HGETALL reply, as a state
static byte
s_redis_state (zstate_redis_t *redis, uint32_t route)
{
    if (zstate_redis_type (redis, -1) != ZSTATE_REDIS_ARRAY)
        return ROUTE_BAD;
    size_t elements = zstate_redis_elements (redis);
    if (elements == 0)
        return 0;
    if (elements % 2)
        return ROUTE_BAD;
    byte state = ROUTE_EXISTS;
    for (size_t element = 0; element < elements; element += 2) {
        const char *name = zstate_redis_str (redis, (int) element, NULL);
        const char *value = zstate_redis_str (redis, (int) element + 1, NULL);
        if (!name || !value)
            return ROUTE_BAD;
        state = zstate_demo_route_field (route, state, name, value);
    }
    return state;
}

typedef struct {
    uint64_t present;           //  routes that exist, as expected
    uint64_t absent;            //  routes that do not, as expected
    uint64_t wrong;             //  routes that differ from the final state
    uint64_t shown;             //  wrong routes printed
} tally_t;

static void
s_tally (tally_t *tally, const char *where, uint32_t route, byte actual)
{
    byte expected = zstate_demo_route_expect (route);
    if (actual == expected) {
        if (expected)
            tally->present++;
        else
            tally->absent++;
        return;
    }
    tally->wrong++;
    if (tally->shown++ < MISMATCHES_SHOWN) {
        char key [32], expected_text [128], actual_text [128];
        zstate_demo_route_key (route, key, sizeof (key));
        zstate_demo_route_describe (route, expected, expected_text, sizeof (expected_text));
        zstate_demo_route_describe (route, actual, actual_text, sizeof (actual_text));
        fprintf (stderr, "zstate demo: %s: %s is %s, expected %s\n",
                 where, key, actual_text, expected_text);
    }
}

//  Check every route in Redis with pipelined HGETALLs. Returns 0, or -1
//  when Redis could not be read (the reason is set).
static int
s_redis_verify (zstate_redis_t *redis, uint32_t routes, tally_t *tally)
{
    char redis_key [64];
    for (uint32_t first = 0; first < routes; first += VERIFY_CHUNK) {
        uint32_t last = first + VERIFY_CHUNK < routes? first + VERIFY_CHUNK: routes;
        for (uint32_t route = first; route < last; route++) {
            char key [32];
            zstate_demo_route_key (route, key, sizeof (key));
            snprintf (redis_key, sizeof (redis_key), DEMO_TABLE ":%s", key);
            if (zstate_redis_appendx (redis, "HGETALL", redis_key, NULL))
                return -1;
        }
        if (zstate_redis_send (redis))
            return -1;
        for (uint32_t route = first; route < last; route++) {
            if (zstate_redis_next (redis, true) != 1)
                return -1;
            s_tally (tally, "redis", route, s_redis_state (redis, route));
        }
    }
    return 0;
}


long long
zstate_demo_redis_clear (zstate_redis_t *redis)
{
    return s_redis_keys (redis, s_delete_script);
}


//  --------------------------------------------------------------------------
//  The verdict and the summary

//  What the run did and what the checks found
typedef struct {
    zstate_client_stats_t client;
    zstate_server_stats_t server;
    zstate_writer_stats_t writer;
    uint64_t retries;           //  all producer threads
    bool producers_ok;          //  no thread failed
    tally_t app;                //  the application's copy
    tally_t redis;              //  what Redis holds
    bool redis_read;            //  Redis could be read back
    long long unexpected;       //  keys Redis holds that it should not, or -1
    uint64_t persisted;         //  confirmed by Redis, coalesced included
} verdict_t;

//  The counters of each stage, and why producers failed or the run stalled
static void
s_stats_collect (demo_t *demo, verdict_t *verdict)
{
    zstate_client_stats (demo->client, &verdict->client);
    zstate_server_stats (demo->server, &verdict->server);
    zstate_writer_stats (demo->writer, &verdict->writer);
    verdict->producers_ok = true;
    for (int index = 0; index < demo->options.threads; index++) {
        job_t *job = &demo->jobs [index];
        verdict->retries += job->retries;
        if (job->error && job->error != EINTR) {
            fprintf (stderr, "zstate demo: producer thread %d failed: %s\n",
                     index, job->reason);
            verdict->producers_ok = false;
        }
    }
    if (demo->app.stalled)
        fprintf (stderr, "zstate demo: no progress for %d s: client %s, %zu ops queued; "
                         "server %" PRIu64 " unroutable, %" PRIu64 " malformed, %" PRIu64 " gaps; "
                         "writer %s, %zu ops waiting\n",
                 demo->options.timeout, zstate_client_state_name (verdict->client.state),
                 verdict->client.queued_ops, verdict->server.unroutable,
                 verdict->server.malformed, verdict->server.gaps,
                 zstate_writer_state_name (verdict->writer.state), verdict->writer.depth);
    verdict->persisted = verdict->writer.written + verdict->writer.coalesced;
}

//  The application's copy, then Redis, route by route
static void
s_routes_check (demo_t *demo, verdict_t *verdict)
{
    uint32_t routes = demo->options.routes;
    for (uint32_t route = 0; route < routes; route++)
        s_tally (&verdict->app, "application", route, demo->app.table [route]);
    verdict->redis_read = s_redis_verify (demo->redis, routes, &verdict->redis) == 0;
    if (!verdict->redis_read)
        fprintf (stderr, "zstate demo: cannot read Redis back: %s\n", zstate_reason ());
    long long keys = verdict->redis_read? s_redis_keys (demo->redis, s_count_script): -1;
    if (verdict->redis_read && keys < 0)
        fprintf (stderr, "zstate demo: cannot count the %s:* keys: %s\n",
                 DEMO_TABLE, zstate_reason ());
    verdict->unexpected = keys >= 0? keys - (long long) verdict->redis.present: -1;
}

//  How many routes a tally found as expected, and how many not
static void
s_tally_print (const char *label, const char *what, tally_t *tally)
{
    char text1 [32], text2 [32], text3 [32], text4 [32];
    printf ("  %-15s %s routes%s as expected (%s present, %s absent), %s wrong", label,
            zstate_demo_commas (tally->present + tally->absent, text1, sizeof (text1)),
            what, zstate_demo_commas (tally->present, text2, sizeof (text2)),
            zstate_demo_commas (tally->absent, text3, sizeof (text3)),
            zstate_demo_commas (tally->wrong, text4, sizeof (text4)));
}

static void
s_summary_print (demo_t *demo, verdict_t *verdict, bool verified)
{
    app_t *app = &demo->app;
    double pop_secs = app->last_pop > app->started? (app->last_pop - app->started) / 1e6: 0;
    double all_secs = (demo->finished - app->started) / 1e6;
    char text1 [32], text2 [32], text3 [32], text4 [32];
    printf ("\n");
    printf ("  ops sent        %-12s accepted by the client (%s retries on a full queue)\n",
            zstate_demo_commas (verdict->client.ops_accepted, text1, sizeof (text1)),
            zstate_demo_commas (verdict->retries, text2, sizeof (text2)));
    printf ("  ops received    %-12s popped by the application, %d at a time",
            zstate_demo_commas (app->popped, text1, sizeof (text1)), POP_BATCH);
    if (app->strange)
        printf (", %s on keys never sent",
                zstate_demo_commas (app->strange, text2, sizeof (text2)));
    printf ("\n");
    printf ("  ops persisted   %-12s confirmed by Redis (%s written, %s coalesced, %s failed)\n",
            zstate_demo_commas (verdict->persisted, text1, sizeof (text1)),
            zstate_demo_commas (verdict->writer.written, text2, sizeof (text2)),
            zstate_demo_commas (verdict->writer.coalesced, text3, sizeof (text3)),
            zstate_demo_commas (verdict->writer.failed, text4, sizeof (text4)));
    s_tally_print ("application", "", &verdict->app);
    printf ("\n");
    if (verdict->redis_read) {
        s_tally_print ("verified", " in Redis", &verdict->redis);
        if (verdict->unexpected >= 0)
            printf (", %lld unexpected keys\n", verdict->unexpected);
        else
            printf (", unexpected keys not counted\n");
    }
    else
        printf ("  verified        Redis could not be read\n");
    printf ("  elapsed         %.2f s to the last pop (%s ops/s); "
            "%.2f s until Redis confirmed (%s ops/s)\n",
            pop_secs, zstate_demo_commas (pop_secs > 0? (uint64_t) (app->popped / pop_secs): 0,
                                          text1, sizeof (text1)),
            all_secs, zstate_demo_commas (all_secs > 0?
                                          (uint64_t) (verdict->persisted / all_secs): 0,
                                          text2, sizeof (text2)));
    printf ("  result          %s\n", verified? "OK, everything verified": "FAILED");
    fflush (stdout);
}

bool
zstate_demo_verify (demo_t *demo)
{
    verdict_t verdict;
    memset (&verdict, 0, sizeof (verdict));
    s_stats_collect (demo, &verdict);
    s_routes_check (demo, &verdict);
    app_t *app = &demo->app;
    bool verified = verdict.producers_ok && !app->stalled && demo->flushed
                 && app->popped == app->expected && app->strange == 0
                 && verdict.client.ops_accepted == app->expected
                 && verdict.persisted == app->expected && verdict.writer.failed == 0
                 && verdict.app.wrong == 0 && verdict.redis_read && verdict.redis.wrong == 0
                 && verdict.unexpected == 0;
    s_summary_print (demo, &verdict, verified);
    return verified;
}
