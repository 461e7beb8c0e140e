/*  =========================================================================
    zstate_demo - zstate demo: the whole pipeline on loopback, into Redis,
    verified key by key

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    zstate demo runs the main job the README describes: producer threads
    write a route table through one client agent, over tcp loopback, to a
    server dispatcher and a consumer table. The application pops it in
    batches of 128 in its own zloop and applies it to its own copy of the
    table, while the consumer forwards every message to a DB writer that
    persists it in Redis. At the end the demo checks both copies, the
    application's and Redis's, route by route against the final state the
    workload defines, and that Redis holds no key it should not.
@discuss
    The workload: route i is the key 10.a.b.c/32 (i = a.b.c in base 256)
    with fields nexthop and ifname. Every route is SET once; then, LAG
    routes later in the same thread, a few are changed:

        i % 100 == 9     SET again with another nexthop (replace)
        i % 10 == 3      HSET weight (merge: a third field)
        i % 25 == 4      HSET ifname to a PortChannel (merge over a field)
        i % 1000 == 21   DEL, then SET again as it was
        i % 50 == 7      DEL (absent at the end)

    These sets of routes are disjoint, so the final state has a closed form
    (zstate_demo_route_expect) that shares no code with the generator. Route i
    belongs to thread i % threads: every key is written by one thread, and
    zstate keeps one thread's operations in order, so the final state does
    not depend on how the threads interleave.
@end
*/

#include "zstate_demo.h"

#include <getopt.h>
#include <unistd.h>

//  The command line's defaults and bounds
#define ROUTES_DEFAULT      100000
#define ROUTES_MAX          (1 << 24)   //  10.0.0.0/8 holds 2^24 host routes
#define THREADS_DEFAULT     2
#define THREADS_MAX         64
#define TIMEOUT_DEFAULT     30          //  seconds without progress
#define DEMO_ENDPOINT       "tcp://127.0.0.1:*"

//  --------------------------------------------------------------------------
//  The command line

static void
s_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate demo [OPTIONS]\n"
        "\n"
        "Runs the whole pipeline on loopback: producer threads -> one client agent\n"
        "-> server -> consumer table -> application (pops in batches of %d) and\n"
        "DB writer -> Redis, writing a route table in %s/%s; then checks every\n"
        "route in the application's copy and in Redis against the known final\n"
        "state. Exits 0 when everything verified, 1 when not, 2 on bad usage.\n"
        "\n"
        "  -r, --routes N       routes to write (default %d, at most %d)\n"
        "  -t, --threads N      producer threads sharing the client (default %d)\n"
        "      --redis ENDPOINT use this Redis (host:port, unix:/path) instead of a\n"
        "                       private redis-server; the demo first DELETES the\n"
        "                       %s:* keys of the selected database\n"
        "      --db N           Redis database index (default 0)\n"
        "  -e, --endpoint EP    server endpoint (default %s)\n"
        "      --timeout SECS   give up after SECS without progress (default %d)\n"
        "  -q, --quiet          no progress display\n"
        "  -v, --verbose        log library activity\n"
        "  -h, --help           this text\n",
        POP_BATCH, DEMO_DB, DEMO_TABLE, ROUTES_DEFAULT, ROUTES_MAX, THREADS_DEFAULT,
        DEMO_TABLE, DEMO_ENDPOINT, TIMEOUT_DEFAULT);
}

//  One option. Returns 0 to go on, 1 when --help was shown, 2 on bad usage.
static int
s_option (options_t *options, int option, char *argv [])
{
    long value;
    switch (option) {
        case 'r':
            if (zstate_tool_number ("demo", "--routes", optarg, 1, ROUTES_MAX, &value))
                return 2;
            options->routes = (uint32_t) value;
            return 0;
        case 't':
            if (zstate_tool_number ("demo", "--threads", optarg, 1, THREADS_MAX, &value))
                return 2;
            options->threads = (int) value;
            return 0;
        case 'R':
            if (!*optarg) {
                fprintf (stderr, "zstate demo: --redis wants an endpoint\n");
                return 2;
            }
            options->redis = optarg;
            return 0;
        case 'D':
            if (zstate_tool_number ("demo", "--db", optarg, 0, 1000000, &value))
                return 2;
            options->db = (int) value;
            return 0;
        case 'e':
            options->endpoint = optarg;
            return 0;
        case 'T':
            if (zstate_tool_number ("demo", "--timeout", optarg, 1, 86400, &value))
                return 2;
            options->timeout = (int) value;
            return 0;
        case 'q':
            options->quiet = true;
            return 0;
        case 'v':
            options->verbose = true;
            return 0;
        case 'h':
            s_usage (stdout);
            return 1;
        case ':':
            fprintf (stderr, "zstate demo: option '%s' needs a value\n", argv [optind - 1]);
            return 2;
        default:
            if (optopt)
                fprintf (stderr, "zstate demo: unknown option '-%c' (see zstate demo --help)\n",
                         optopt);
            else
                fprintf (stderr, "zstate demo: unknown option '%s' (see zstate demo --help)\n",
                         argv [optind - 1]);
            return 2;
    }
}

//  Returns 0 to run, 1 when --help was shown, 2 on bad usage
static int
s_options_parse (options_t *options, int argc, char *argv [])
{
    static struct option longopts [] = {
        { "routes",   required_argument, NULL, 'r' },
        { "threads",  required_argument, NULL, 't' },
        { "redis",    required_argument, NULL, 'R' },
        { "db",       required_argument, NULL, 'D' },
        { "endpoint", required_argument, NULL, 'e' },
        { "timeout",  required_argument, NULL, 'T' },
        { "quiet",    no_argument,       NULL, 'q' },
        { "verbose",  no_argument,       NULL, 'v' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    options->routes = ROUTES_DEFAULT;
    options->threads = THREADS_DEFAULT;
    options->redis = NULL;
    options->db = 0;
    options->endpoint = DEMO_ENDPOINT;
    options->timeout = TIMEOUT_DEFAULT;
    options->quiet = false;
    options->verbose = false;

    optind = 1;
    opterr = 0;                 //  We word the errors ourselves
    while (true) {
        int option = getopt_long (argc, argv, ":r:t:e:qvh", longopts, NULL);
        if (option == -1)
            break;
        int rc = s_option (options, option, argv);
        if (rc)
            return rc;
    }
    if (optind < argc) {
        fprintf (stderr, "zstate demo: unexpected argument '%s' (see zstate demo --help)\n",
                 argv [optind]);
        return 2;
    }
    return 0;
}

//  The endpoint clients connect to, from the one the server bound: a
//  wildcard port becomes the port bound, a wildcard host the loopback
static void
s_connect_endpoint (const char *bound, int port, char *endpoint, size_t size)
{
    if (strncmp (bound, "tcp://", 6) == 0 && port > 0) {
        const char *host = bound + 6;
        const char *colon = strrchr (host, ':');
        int host_size = colon? (int) (colon - host): (int) strlen (host);
        if ((host_size == 1 && *host == '*')
        ||  (host_size == 7 && strncmp (host, "0.0.0.0", 7) == 0))
            snprintf (endpoint, size, "tcp://127.0.0.1:%d", port);
        else
            snprintf (endpoint, size, "tcp://%.*s:%d", host_size, host, port);
    }
    else
        snprintf (endpoint, size, "%s", bound);
}



//  --------------------------------------------------------------------------
//  zstate demo

//  Redis: ours in a temp dir on a free port, or the one given, whose
//  table we clear. Returns 0, 1 on failure or 2 for a bad endpoint.
static int
s_redis_open (demo_t *demo)
{
    options_t *options = &demo->options;
    if (options->redis)
        snprintf (demo->redis_endpoint, sizeof (demo->redis_endpoint), "%s", options->redis);
    else {
        demo->redis_server = zstate_redis_server_new (false);
        if (!demo->redis_server) {
            fprintf (stderr, "zstate demo: cannot start redis-server: %s\n"
                             "(install redis-server, or give --redis host:port)\n",
                     zstate_reason ());
            return 1;
        }
        snprintf (demo->redis_endpoint, sizeof (demo->redis_endpoint), "%s",
                  zstate_redis_server_endpoint (demo->redis_server));
    }
    demo->redis = zstate_redis_new (demo->redis_endpoint);
    if (!demo->redis) {
        fprintf (stderr, "zstate demo: bad Redis endpoint '%s': %s\n",
                 demo->redis_endpoint, zstate_reason ());
        return 2;
    }
    zstate_redis_set_db (demo->redis, options->db);
    zstate_redis_set_timeouts (demo->redis, 2000, 10000);
    if (zstate_redis_connect (demo->redis)) {
        fprintf (stderr, "zstate demo: cannot reach Redis at %s: %s\n",
                 demo->redis_endpoint, zstate_reason ());
        return 1;
    }
    if (options->redis) {
        //  Verifying "no unexpected keys" needs a clean table
        long long deleted = zstate_demo_redis_clear (demo->redis);
        if (deleted < 0) {
            fprintf (stderr, "zstate demo: cannot clear %s:* in Redis: %s\n",
                     DEMO_TABLE, zstate_reason ());
            return 1;
        }
        if (deleted > 0)
            printf ("zstate demo: deleted %lld old %s:* keys from Redis db %d\n",
                    deleted, DEMO_TABLE, options->db);
    }
    return 0;
}

//  The pipeline, from the far end: writer, server, consumer, client.
//  The consumer registers before the server binds, so nothing sent is
//  unroutable. Returns 0, 1 on failure or 2 for a bad endpoint.
static int
s_pipeline_open (demo_t *demo)
{
    options_t *options = &demo->options;
    demo->writer = zstate_writer_new ();
    assert (demo->writer);
    zstate_writer_set_verbose (demo->writer, options->verbose);
    zstate_writer_set_db (demo->writer, options->db);
    if (zstate_writer_connect (demo->writer, demo->redis_endpoint)) {
        fprintf (stderr, "zstate demo: writer cannot connect to Redis at %s: %s\n",
                 demo->redis_endpoint, zstate_reason ());
        return 1;
    }
    demo->server = zstate_server_new ();
    assert (demo->server);
    zstate_server_set_verbose (demo->server, options->verbose);
    demo->consumer = zstate_consumer_new (demo->server, DEMO_DB, DEMO_TABLE);
    if (!demo->consumer) {
        fprintf (stderr, "zstate demo: cannot create the consumer table: %s\n",
                 zstate_reason ());
        return 1;
    }
    zstate_consumer_set_verbose (demo->consumer, options->verbose);
    if (zstate_consumer_forward (demo->consumer, zstate_writer_endpoint (demo->writer))) {
        fprintf (stderr, "zstate demo: cannot forward to the writer: %s\n",
                 zstate_reason ());
        return 1;
    }
    int port = zstate_server_bind (demo->server, options->endpoint);
    if (port < 0) {
        fprintf (stderr, "zstate demo: cannot bind %s: %s\n",
                 options->endpoint, zstate_reason ());
        return 2;
    }
    s_connect_endpoint (options->endpoint, port, demo->endpoint, sizeof (demo->endpoint));
    demo->client = zstate_client_new ();
    assert (demo->client);
    zstate_client_set_verbose (demo->client, options->verbose);
    if (zstate_client_connect (demo->client, demo->endpoint)) {
        fprintf (stderr, "zstate demo: cannot connect to %s: %s\n",
                 demo->endpoint, zstate_reason ());
        return 1;
    }
    return 0;
}

//  What the workload will send, and the application's side
static void
s_app_init (demo_t *demo)
{
    app_t *app = &demo->app;
    app->consumer = demo->consumer;
    app->client = demo->client;
    app->writer = demo->writer;
    app->batch = zstate_batch_new ();
    app->routes = demo->options.routes;
    app->table = (byte *) zmalloc (demo->options.routes);
    assert (app->table);
    for (uint32_t route = 0; route < demo->options.routes; route++)
        app->expected += zstate_demo_route_ops (route);
    app->timeout = demo->options.timeout;
    app->tty = isatty (STDOUT_FILENO);
    app->quiet = demo->options.quiet;

    char routes_text [32], expected_text [32];
    printf ("zstate demo: %s routes (%s operations) into %s/%s from %d producer thread%s\n"
            "             %s -> Redis %s%s\n",
            zstate_demo_commas (demo->options.routes, routes_text, sizeof (routes_text)),
            zstate_demo_commas (app->expected, expected_text, sizeof (expected_text)),
            DEMO_DB, DEMO_TABLE, demo->options.threads, demo->options.threads == 1? "": "s",
            demo->endpoint, demo->redis_endpoint,
            demo->redis_server? " (private redis-server)": "");
    fflush (stdout);
}

//  Tear everything down, from the source on, so nothing arrives for a
//  table already gone
static void
s_demo_close (demo_t *demo, int status)
{
    zstate_demo_jobs_stop (demo);
    free (demo->jobs);
    if (status != 0) {
        //  Given up: what is still queued has no one to wait for
        if (demo->client)
            zstate_client_set_linger (demo->client, 0);
        if (demo->writer)
            zstate_writer_set_linger (demo->writer, 0);
    }
    zstate_client_destroy (&demo->client);
    zstate_server_destroy (&demo->server);
    zstate_consumer_destroy (&demo->consumer);
    zstate_writer_destroy (&demo->writer);
    zstate_batch_destroy (&demo->app.batch);
    free (demo->app.table);
    zstate_redis_destroy (&demo->redis);
    zstate_redis_server_destroy (&demo->redis_server);
}

int
zstate_demo_main (int argc, char *argv [])
{
    demo_t demo;
    memset (&demo, 0, sizeof (demo));
    int status = s_options_parse (&demo.options, argc, argv);
    if (status)
        return status == 1? 0: status;
    status = s_redis_open (&demo);
    if (status == 0)
        status = s_pipeline_open (&demo);
    if (status == 0) {
        s_app_init (&demo);
        //  Go: the producers start, the application loop pops
        demo.app.started = zclock_usecs ();
        demo.app.last_print = demo.app.started;
        demo.app.last_change = zclock_mono ();
        zstate_demo_jobs_start (&demo);
        status = zstate_demo_app_run (&demo) == 0? 0: 1;
        //  Stop what is still running before reporting
        zstate_demo_jobs_stop (&demo);
    }
    if (status == 0 && zsys_interrupted) {
        fprintf (stderr, "zstate demo: interrupted\n");
        status = 130;
    }
    else
    if (status == 0)
        status = zstate_demo_verify (&demo)? 0: 1;
    s_demo_close (&demo, status);
    return status;
}
