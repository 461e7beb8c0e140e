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
    (s_route_expect) that shares no code with the generator. Route i
    belongs to thread i % threads: every key is written by one thread, and
    zstate keeps one thread's operations in order, so the final state does
    not depend on how the threads interleave.
@end
*/

#include "zstate_tool.h"

#include <getopt.h>
#include <unistd.h>

#define ROUTES_DEFAULT      100000
#define ROUTES_MAX          (1 << 24)   //  10.0.0.0/8 holds 2^24 host routes
#define THREADS_DEFAULT     2
#define THREADS_MAX         64
#define TIMEOUT_DEFAULT     30          //  seconds without progress
#define POP_BATCH           128         //  operations per pops
#define LAG                 64          //  routes between a SET and its change
#define VERIFY_CHUNK        1000        //  HGETALLs per pipeline
#define MISMATCHES_SHOWN    5           //  wrong routes printed in full
#define DEMO_DB             "APPL_DB"
#define DEMO_TABLE          "ROUTE_TABLE"
#define DEMO_ENDPOINT       "tcp://127.0.0.1:*"

//  The state of one route, in one byte: which of the values we send it
//  holds. A value we never sent sets ROUTE_BAD.
#define ROUTE_EXISTS        0x01
#define ROUTE_HOP_BASE      0x02
#define ROUTE_HOP_ALT       0x04
#define ROUTE_IF_BASE       0x08
#define ROUTE_IF_PORTCHAN   0x10
#define ROUTE_WEIGHT        0x20
#define ROUTE_BAD           0x80

//  The changes a producer makes
typedef enum {
    CHANGE_SET_BASE,            //  SET nexthop, ifname
    CHANGE_SET_ALT,             //  SET with the alternate nexthop
    CHANGE_HSET_WEIGHT,         //  HSET weight
    CHANGE_HSET_PORTCHAN,       //  HSET ifname PortChannel
    CHANGE_DEL                  //  DEL
} change_t;

//  What the command line asks for
typedef struct {
    uint32_t routes;            //  routes to write
    int threads;                //  producer threads
    const char *redis;          //  existing Redis, or NULL for a private one
    int db;                     //  Redis database index
    const char *endpoint;       //  server bind endpoint
    int timeout;                //  seconds without progress before giving up
    bool quiet;                 //  no progress display
    bool verbose;               //  library activity in the log
} options_t;

//  One producer thread's work and outcome
typedef struct {
    zstate_client_t *client;    //  shared by all producer threads
    uint32_t first;             //  first route, the thread's index
    uint32_t step;              //  routes between two of ours: threads
    uint32_t routes;            //  routes in all
    volatile int *stop;         //  set when the demo gives up
    uint64_t retries;           //  sends retried on a full client queue
    int error;                  //  errno that stopped the thread, 0 if none
    char reason [256];          //  zstate_reason () for it
    pthread_t thread;
} job_t;

//  The application: pops, applies to its own table, shows progress
typedef struct {
    zstate_consumer_t *consumer;
    zstate_client_t *client;
    zstate_writer_t *writer;
    zstate_batch_t *batch;      //  reused by every pops
    byte *table;                //  our copy, one state byte per route
    uint32_t routes;
    uint64_t expected;          //  operations the producers send in all
    uint64_t popped;            //  operations popped
    uint64_t strange;           //  popped operations on keys we never sent
    int64_t started;            //  zclock_usecs () before the first send
    int64_t last_pop;           //  zclock_usecs () at the last pops
    int64_t last_change;        //  zclock_mono () when progress was last seen
    uint64_t last_seen;         //  popped + persisted at last_change
    int timeout;                //  seconds
    bool stalled;               //  gave up: no progress for timeout
    bool tty;                   //  stdout is a terminal: rewrite one line
    bool quiet;
    int64_t last_print;         //  zclock_usecs () of the last progress line
    uint64_t last_persisted;    //  persisted at the last progress line
    uint64_t last_popped;       //  popped at the last progress line
} app_t;


//  --------------------------------------------------------------------------
//  The texts of route i's key and values

static void
s_route_key (uint32_t route, char *key, size_t size)
{
    snprintf (key, size, "10.%u.%u.%u/32", (route >> 16) & 255, (route >> 8) & 255,
              route & 255);
}

static void
s_route_nexthop (uint32_t route, bool alternate, char *text, size_t size)
{
    snprintf (text, size, "172.%d.%u.%u", alternate? 17: 16, (route >> 8) & 255,
              route & 255);
}

static void
s_route_ifname (uint32_t route, bool portchannel, char *text, size_t size)
{
    if (portchannel)
        snprintf (text, size, "PortChannel%u", route % 8 + 1);
    else
        snprintf (text, size, "Ethernet%u", (route % 128) * 4);
}

static void
s_route_weight (uint32_t route, char *text, size_t size)
{
    snprintf (text, size, "%u", route % 7 + 1);
}

//  Parse a key back into its route number; -1 if it is not one of ours
static int64_t
s_route_parse (const char *key, uint32_t routes)
{
    unsigned int a, b, c;
    char tail;
    if (sscanf (key, "10.%u.%u.%u/32%c", &a, &b, &c, &tail) != 3
    ||  a > 255 || b > 255 || c > 255)
        return -1;
    uint32_t route = (a << 16) | (b << 8) | c;
    //  sscanf takes "+1" and " 1" too: the key must be exactly ours
    char expected [32];
    s_route_key (route, expected, sizeof (expected));
    if (route >= routes || strneq (key, expected))
        return -1;
    return route;
}


//  --------------------------------------------------------------------------
//  The final state of route i, from the rules in the header

static byte
s_route_expect (uint32_t route)
{
    if (route % 50 == 7)
        return 0;
    if (route % 100 == 9)
        return ROUTE_EXISTS | ROUTE_HOP_ALT | ROUTE_IF_BASE;
    else
    if (route % 10 == 3)
        return ROUTE_EXISTS | ROUTE_HOP_BASE | ROUTE_IF_BASE | ROUTE_WEIGHT;
    else
    if (route % 25 == 4)
        return ROUTE_EXISTS | ROUTE_HOP_BASE | ROUTE_IF_PORTCHAN;
    else
        return ROUTE_EXISTS | ROUTE_HOP_BASE | ROUTE_IF_BASE;
}

//  The number of operations the producers send for route i
static uint64_t
s_route_ops (uint32_t route)
{
    return 1 + (route % 100 == 9) + (route % 10 == 3) + (route % 25 == 4)
             + (route % 1000 == 21? 2: 0) + (route % 50 == 7);
}

//  Describe a state as the fields it stands for, for error messages
static void
s_route_describe (uint32_t route, byte state, char *text, size_t size)
{
    if (state & ROUTE_BAD) {
        snprintf (text, size, "(values the demo never sent)");
        return;
    }
    if (!(state & ROUTE_EXISTS)) {
        snprintf (text, size, "(absent)");
        return;
    }
    char value [32];
    size_t used = 0;
    text [0] = 0;
    if (state & (ROUTE_HOP_BASE | ROUTE_HOP_ALT)) {
        s_route_nexthop (route, state & ROUTE_HOP_ALT, value, sizeof (value));
        used += snprintf (text + used, size - used, "nexthop=%s ", value);
    }
    if (used < size && (state & (ROUTE_IF_BASE | ROUTE_IF_PORTCHAN))) {
        s_route_ifname (route, state & ROUTE_IF_PORTCHAN, value, sizeof (value));
        used += snprintf (text + used, size - used, "ifname=%s ", value);
    }
    if (used < size && (state & ROUTE_WEIGHT)) {
        s_route_weight (route, value, sizeof (value));
        snprintf (text + used, size - used, "weight=%s", value);
    }
}

//  Fold one field into a state; unknown names or values make it bad
static byte
s_route_field (uint32_t route, byte state, const char *name, const char *value)
{
    char text [32];
    if (streq (name, "nexthop")) {
        state &= ~(ROUTE_HOP_BASE | ROUTE_HOP_ALT);
        s_route_nexthop (route, false, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_HOP_BASE;
        s_route_nexthop (route, true, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_HOP_ALT;
    }
    else
    if (streq (name, "ifname")) {
        state &= ~(ROUTE_IF_BASE | ROUTE_IF_PORTCHAN);
        s_route_ifname (route, false, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_IF_BASE;
        s_route_ifname (route, true, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_IF_PORTCHAN;
    }
    else
    if (streq (name, "weight")) {
        s_route_weight (route, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_WEIGHT;
    }
    return state | ROUTE_BAD;
}


//  --------------------------------------------------------------------------
//  Producer side: send one change, waiting while the client queue is full.
//  Returns 0, or -1 with the failure recorded in the job.

static int
s_job_send (job_t *job, zstate_producer_t *producer, change_t change, uint32_t route)
{
    char key [32], nexthop [32], ifname [32], weight [8];
    s_route_key (route, key, sizeof (key));
    s_route_nexthop (route, change == CHANGE_SET_ALT, nexthop, sizeof (nexthop));
    s_route_ifname (route, change == CHANGE_HSET_PORTCHAN, ifname, sizeof (ifname));
    s_route_weight (route, weight, sizeof (weight));
    while (true) {
        int rc;
        if (change == CHANGE_SET_BASE || change == CHANGE_SET_ALT)
            rc = zstate_producer_set (producer, key, "nexthop", nexthop, "ifname", ifname, NULL);
        else
        if (change == CHANGE_HSET_WEIGHT)
            rc = zstate_producer_hset (producer, key, "weight", weight, NULL);
        else
        if (change == CHANGE_HSET_PORTCHAN)
            rc = zstate_producer_hset (producer, key, "ifname", ifname, NULL);
        else
            rc = zstate_producer_del (producer, key);
        if (rc == 0)
            return 0;
        if (errno != ENOBUFS || *job->stop) {
            job->error = *job->stop && errno == ENOBUFS? EINTR: errno;
            snprintf (job->reason, sizeof (job->reason), "%s", zstate_reason ());
            return -1;
        }
        //  The queue is bounded and pushes back: give the agent a moment
        job->retries++;
        zclock_sleep (1);
    }
}

//  The changes route i gets after its first SET, in order
static int
s_job_change (job_t *job, zstate_producer_t *producer, uint32_t route)
{
    int rc = 0;
    if (route % 100 == 9)
        rc = s_job_send (job, producer, CHANGE_SET_ALT, route);
    if (rc == 0 && route % 10 == 3)
        rc = s_job_send (job, producer, CHANGE_HSET_WEIGHT, route);
    if (rc == 0 && route % 25 == 4)
        rc = s_job_send (job, producer, CHANGE_HSET_PORTCHAN, route);
    if (rc == 0 && route % 1000 == 21) {
        rc = s_job_send (job, producer, CHANGE_DEL, route);
        if (rc == 0)
            rc = s_job_send (job, producer, CHANGE_SET_BASE, route);
    }
    if (rc == 0 && route % 50 == 7)
        rc = s_job_send (job, producer, CHANGE_DEL, route);
    return rc;
}

static void *
s_producer_thread (void *args)
{
    job_t *job = (job_t *) args;
    //  A producer table belongs to one thread: each thread makes its own
    zstate_producer_t *producer = zstate_producer_new (job->client, DEMO_DB, DEMO_TABLE);
    assert (producer);
    uint32_t count = job->first < job->routes?
                     (job->routes - job->first + job->step - 1) / job->step: 0;
    for (uint32_t position = 0; position < count + LAG; position++) {
        if (*job->stop) {
            job->error = EINTR;
            snprintf (job->reason, sizeof (job->reason), "stopped");
            break;
        }
        if (position < count
        &&  s_job_send (job, producer, CHANGE_SET_BASE, job->first + position * job->step))
            break;
        if (position >= LAG
        &&  s_job_change (job, producer, job->first + (position - LAG) * job->step))
            break;
    }
    zstate_producer_destroy (&producer);
    return NULL;
}


//  --------------------------------------------------------------------------
//  Numbers with thousands separators, in a caller's buffer

static const char *
s_commas (uint64_t value, char *text, size_t size)
{
    char digits [32];
    int length = snprintf (digits, sizeof (digits), "%" PRIu64, value);
    size_t used = 0;
    for (int index = 0; index < length && used + 2 < size; index++) {
        if (index > 0 && (length - index) % 3 == 0)
            text [used++] = ',';
        text [used++] = digits [index];
    }
    text [used] = 0;
    return text;
}


//  --------------------------------------------------------------------------
//  Progress: a bar rewritten in place on a terminal, a line a second
//  otherwise. Persisted counts what Redis confirmed, coalesced included
//  (an operation merged into a newer one is in Redis through it).

static uint64_t
s_persisted (zstate_writer_t *writer)
{
    zstate_writer_stats_t stats;
    if (zstate_writer_stats (writer, &stats))
        return 0;
    return stats.written + stats.coalesced + stats.failed;
}

static void
s_app_progress (app_t *self, bool final)
{
    int64_t now = zclock_usecs ();
    zstate_client_stats_t client_stats;
    zstate_client_stats (self->client, &client_stats);
    uint64_t persisted = s_persisted (self->writer);
    double interval = (now - self->last_print) / 1e6;
    //  The rate of the slowest stage that still has work
    uint64_t done = self->popped < self->expected? self->popped: persisted;
    uint64_t before = self->popped < self->expected? self->last_popped: self->last_persisted;
    double rate = interval > 0? (done - before) / interval: 0;
    self->last_print = now;
    self->last_popped = self->popped;
    self->last_persisted = persisted;
    if (self->quiet)
        return;

    char sent_text [32], popped_text [32], persisted_text [32], rate_text [32];
    s_commas (client_stats.ops_accepted, sent_text, sizeof (sent_text));
    s_commas (self->popped, popped_text, sizeof (popped_text));
    s_commas (persisted, persisted_text, sizeof (persisted_text));
    s_commas ((uint64_t) rate, rate_text, sizeof (rate_text));
    double fraction = self->expected? (double) persisted / self->expected: 1;
    if (fraction > 1)
        fraction = 1;
    if (self->tty) {
        char bar [31];
        int filled = (int) (fraction * 30);
        for (int index = 0; index < 30; index++)
            bar [index] = index < filled? '#': '.';
        bar [30] = 0;
        printf ("\r[%s] %3d%%  sent %s  popped %s  persisted %s  %s ops/s   ",
                bar, (int) (fraction * 100), sent_text, popped_text, persisted_text,
                rate_text);
        if (final)
            printf ("\n");
    }
    else
        printf ("progress: %3d%%  sent %s  popped %s  persisted %s  %s ops/s\n",
                (int) (fraction * 100), sent_text, popped_text, persisted_text,
                rate_text);
    fflush (stdout);
}

//  Give up when neither pops nor Redis moved for timeout seconds
static bool
s_app_stuck (app_t *self, uint64_t persisted)
{
    uint64_t seen = self->popped + persisted;
    int64_t now = zclock_mono ();
    if (seen != self->last_seen) {
        self->last_seen = seen;
        self->last_change = now;
        return false;
    }
    return now - self->last_change > (int64_t) self->timeout * 1000;
}


//  --------------------------------------------------------------------------
//  Application side: apply one popped operation to our copy of the table

static void
s_app_apply (app_t *self, size_t index)
{
    zstate_batch_t *batch = self->batch;
    int64_t route = s_route_parse (zstate_batch_key (batch, index, NULL), self->routes);
    if (route < 0) {
        self->strange++;
        return;
    }
    int op = zstate_batch_op (batch, index);
    byte state = self->table [route];
    if (op == ZSTATE_OP_DEL)
        state = 0;
    else {
        if (op == ZSTATE_OP_SET)
            state = 0;          //  SET replaces the whole entry
        state |= ROUTE_EXISTS;
        size_t fields = zstate_batch_field_count (batch, index);
        for (size_t field = 0; field < fields; field++)
            state = s_route_field ((uint32_t) route, state,
                                   zstate_batch_name (batch, index, field, NULL),
                                   zstate_batch_value (batch, index, field, NULL));
    }
    self->table [route] = state;
}

static int
s_app_ready (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    app_t *self = (app_t *) arg;
    size_t count = zstate_consumer_pops (self->consumer, self->batch, POP_BATCH);
    for (size_t index = 0; index < count; index++)
        s_app_apply (self, index);
    self->popped += count;
    if (self->popped >= self->expected) {
        self->last_pop = zclock_usecs ();
        return -1;              //  Everything arrived: end the loop
    }
    return 0;                   //  The socket stays readable while more remain
}

static int
s_app_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    app_t *self = (app_t *) arg;
    s_app_progress (self, false);
    if (s_app_stuck (self, self->last_persisted)) {
        self->stalled = true;
        return -1;
    }
    return 0;
}


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
        state = s_route_field (route, state, name, value);
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
    byte expected = s_route_expect (route);
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
        s_route_key (route, key, sizeof (key));
        s_route_describe (route, expected, expected_text, sizeof (expected_text));
        s_route_describe (route, actual, actual_text, sizeof (actual_text));
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
            s_route_key (route, key, sizeof (key));
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
        long value;
        switch (option) {
            case 'r':
                if (zstate_tool_number ("demo", "--routes", optarg, 1, ROUTES_MAX, &value))
                    return 2;
                options->routes = (uint32_t) value;
                break;
            case 't':
                if (zstate_tool_number ("demo", "--threads", optarg, 1, THREADS_MAX, &value))
                    return 2;
                options->threads = (int) value;
                break;
            case 'R':
                if (!*optarg) {
                    fprintf (stderr, "zstate demo: --redis wants an endpoint\n");
                    return 2;
                }
                options->redis = optarg;
                break;
            case 'D':
                if (zstate_tool_number ("demo", "--db", optarg, 0, 1000000, &value))
                    return 2;
                options->db = (int) value;
                break;
            case 'e':
                options->endpoint = optarg;
                break;
            case 'T':
                if (zstate_tool_number ("demo", "--timeout", optarg, 1, 86400, &value))
                    return 2;
                options->timeout = (int) value;
                break;
            case 'q':
                options->quiet = true;
                break;
            case 'v':
                options->verbose = true;
                break;
            case 'h':
                s_usage (stdout);
                return 1;
            case ':':
                fprintf (stderr, "zstate demo: option '%s' needs a value\n",
                         argv [optind - 1]);
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

int
zstate_demo_main (int argc, char *argv [])
{
    options_t options;
    int rc = s_options_parse (&options, argc, argv);
    if (rc)
        return rc == 1? 0: rc;

    int status = 1;
    volatile int stop = 0;
    zstate_redis_server_t *redis_server = NULL;
    zstate_redis_t *redis = NULL;
    zstate_writer_t *writer = NULL;
    zstate_server_t *server = NULL;
    zstate_consumer_t *consumer = NULL;
    zstate_client_t *client = NULL;
    zloop_t *loop = NULL;
    job_t *jobs = NULL;
    int jobs_started = 0;
    app_t app;
    memset (&app, 0, sizeof (app));

    //  Redis: ours in a temp dir on a free port, or the one given
    char redis_endpoint [300];
    if (options.redis)
        snprintf (redis_endpoint, sizeof (redis_endpoint), "%s", options.redis);
    else {
        redis_server = zstate_redis_server_new (false);
        if (!redis_server) {
            fprintf (stderr, "zstate demo: cannot start redis-server: %s\n"
                             "(install redis-server, or give --redis host:port)\n",
                     zstate_reason ());
            goto cleanup;
        }
        snprintf (redis_endpoint, sizeof (redis_endpoint), "%s",
                  zstate_redis_server_endpoint (redis_server));
    }
    redis = zstate_redis_new (redis_endpoint);
    if (!redis) {
        fprintf (stderr, "zstate demo: bad Redis endpoint '%s': %s\n",
                 redis_endpoint, zstate_reason ());
        status = 2;
        goto cleanup;
    }
    zstate_redis_set_db (redis, options.db);
    zstate_redis_set_timeouts (redis, 2000, 10000);
    if (zstate_redis_connect (redis)) {
        fprintf (stderr, "zstate demo: cannot reach Redis at %s: %s\n",
                 redis_endpoint, zstate_reason ());
        goto cleanup;
    }
    if (options.redis) {
        //  Verifying "no unexpected keys" needs a clean table
        long long deleted = s_redis_keys (redis, s_delete_script);
        if (deleted < 0) {
            fprintf (stderr, "zstate demo: cannot clear %s:* in Redis: %s\n",
                     DEMO_TABLE, zstate_reason ());
            goto cleanup;
        }
        if (deleted > 0)
            printf ("zstate demo: deleted %lld old %s:* keys from Redis db %d\n",
                    deleted, DEMO_TABLE, options.db);
    }

    //  The pipeline, from the far end: writer, server, consumer, client.
    //  The consumer registers before the server binds, so nothing sent
    //  is unroutable.
    writer = zstate_writer_new ();
    assert (writer);
    zstate_writer_set_verbose (writer, options.verbose);
    zstate_writer_set_db (writer, options.db);
    if (zstate_writer_connect (writer, redis_endpoint)) {
        fprintf (stderr, "zstate demo: writer cannot connect to Redis at %s: %s\n",
                 redis_endpoint, zstate_reason ());
        goto cleanup;
    }
    server = zstate_server_new ();
    assert (server);
    zstate_server_set_verbose (server, options.verbose);
    consumer = zstate_consumer_new (server, DEMO_DB, DEMO_TABLE);
    if (!consumer) {
        fprintf (stderr, "zstate demo: cannot create the consumer table: %s\n",
                 zstate_reason ());
        goto cleanup;
    }
    zstate_consumer_set_verbose (consumer, options.verbose);
    if (zstate_consumer_forward (consumer, zstate_writer_endpoint (writer))) {
        fprintf (stderr, "zstate demo: cannot forward to the writer: %s\n",
                 zstate_reason ());
        goto cleanup;
    }
    int port = zstate_server_bind (server, options.endpoint);
    if (port < 0) {
        fprintf (stderr, "zstate demo: cannot bind %s: %s\n",
                 options.endpoint, zstate_reason ());
        status = 2;
        goto cleanup;
    }
    char endpoint [300];
    s_connect_endpoint (options.endpoint, port, endpoint, sizeof (endpoint));
    client = zstate_client_new ();
    assert (client);
    zstate_client_set_verbose (client, options.verbose);
    if (zstate_client_connect (client, endpoint)) {
        fprintf (stderr, "zstate demo: cannot connect to %s: %s\n",
                 endpoint, zstate_reason ());
        goto cleanup;
    }

    //  What the workload will send, and the application's side
    app.consumer = consumer;
    app.client = client;
    app.writer = writer;
    app.batch = zstate_batch_new ();
    app.routes = options.routes;
    app.table = (byte *) zmalloc (options.routes);
    assert (app.table);
    for (uint32_t route = 0; route < options.routes; route++)
        app.expected += s_route_ops (route);
    app.timeout = options.timeout;
    app.tty = isatty (STDOUT_FILENO);
    app.quiet = options.quiet;

    char routes_text [32], expected_text [32];
    printf ("zstate demo: %s routes (%s operations) into %s/%s from %d producer thread%s\n"
            "             %s -> Redis %s%s\n",
            s_commas (options.routes, routes_text, sizeof (routes_text)),
            s_commas (app.expected, expected_text, sizeof (expected_text)),
            DEMO_DB, DEMO_TABLE, options.threads, options.threads == 1? "": "s",
            endpoint, redis_endpoint, redis_server? " (private redis-server)": "");
    fflush (stdout);

    //  Go: the producers start, the application loop pops
    jobs = (job_t *) zmalloc (sizeof (job_t) * options.threads);
    assert (jobs);
    app.started = zclock_usecs ();
    app.last_print = app.started;
    app.last_change = zclock_mono ();
    for (int index = 0; index < options.threads; index++) {
        job_t *job = &jobs [index];
        job->client = client;
        job->first = (uint32_t) index;
        job->step = (uint32_t) options.threads;
        job->routes = options.routes;
        job->stop = &stop;
        rc = pthread_create (&job->thread, NULL, s_producer_thread, job);
        assert (rc == 0);
        jobs_started++;
    }
    loop = zloop_new ();
    assert (loop);
    zloop_reader (loop, zstate_consumer_socket (consumer), s_app_ready, &app);
    zloop_timer (loop, app.tty? 100: 1000, 0, s_app_tick, &app);
    zloop_start (loop);
    bool popped_all = app.popped >= app.expected;

    //  Then wait for Redis to confirm, still showing progress
    bool flushed = false;
    while (popped_all && !zsys_interrupted) {
        if (zstate_writer_flush (writer, app.tty? 100: 1000) == 0) {
            flushed = true;
            break;
        }
        if (errno != ETIMEDOUT) {
            fprintf (stderr, "\nzstate demo: writer flush failed: %s\n", zstate_reason ());
            break;
        }
        s_app_progress (&app, false);
        if (s_app_stuck (&app, app.last_persisted)) {
            app.stalled = true;
            break;
        }
    }
    int64_t finished = zclock_usecs ();
    s_app_progress (&app, true);

    //  Stop what is still running before reporting
    stop = 1;
    for (int index = 0; index < jobs_started; index++)
        pthread_join (jobs [index].thread, NULL);
    jobs_started = 0;

    if (zsys_interrupted) {
        fprintf (stderr, "zstate demo: interrupted\n");
        status = 130;
        goto cleanup;
    }
    zstate_client_stats_t client_stats;
    zstate_client_stats (client, &client_stats);
    zstate_server_stats_t server_stats;
    zstate_server_stats (server, &server_stats);
    zstate_writer_stats_t writer_stats;
    memset (&writer_stats, 0, sizeof (writer_stats));
    zstate_writer_stats (writer, &writer_stats);
    uint64_t retries = 0;
    bool producers_ok = true;
    for (int index = 0; index < options.threads; index++) {
        retries += jobs [index].retries;
        if (jobs [index].error && jobs [index].error != EINTR) {
            fprintf (stderr, "zstate demo: producer thread %d failed: %s\n",
                     index, jobs [index].reason);
            producers_ok = false;
        }
    }
    if (app.stalled)
        fprintf (stderr, "zstate demo: no progress for %d s: client %s, %zu ops queued; "
                         "server %" PRIu64 " unroutable, %" PRIu64 " malformed, %" PRIu64 " gaps; "
                         "writer %s, %zu ops waiting\n",
                 options.timeout, zstate_client_state_name (client_stats.state),
                 client_stats.queued_ops, server_stats.unroutable, server_stats.malformed,
                 server_stats.gaps, zstate_writer_state_name (writer_stats.state),
                 writer_stats.depth);

    //  Verify: the application's copy, then Redis, route by route
    tally_t app_tally, redis_tally;
    memset (&app_tally, 0, sizeof (app_tally));
    memset (&redis_tally, 0, sizeof (redis_tally));
    for (uint32_t route = 0; route < options.routes; route++)
        s_tally (&app_tally, "application", route, app.table [route]);
    bool redis_read = s_redis_verify (redis, options.routes, &redis_tally) == 0;
    if (!redis_read)
        fprintf (stderr, "zstate demo: cannot read Redis back: %s\n", zstate_reason ());
    long long keys = redis_read? s_redis_keys (redis, s_count_script): -1;
    if (redis_read && keys < 0)
        fprintf (stderr, "zstate demo: cannot count the %s:* keys: %s\n",
                 DEMO_TABLE, zstate_reason ());
    long long unexpected = keys >= 0? keys - (long long) redis_tally.present: -1;

    uint64_t persisted = writer_stats.written + writer_stats.coalesced;
    bool verified = producers_ok && !app.stalled && flushed
                 && app.popped == app.expected && app.strange == 0
                 && client_stats.ops_accepted == app.expected
                 && persisted == app.expected && writer_stats.failed == 0
                 && app_tally.wrong == 0 && redis_read && redis_tally.wrong == 0
                 && unexpected == 0;

    //  The summary
    double pop_secs = app.last_pop > app.started? (app.last_pop - app.started) / 1e6: 0;
    double all_secs = (finished - app.started) / 1e6;
    char text1 [32], text2 [32], text3 [32], text4 [32];
    printf ("\n");
    printf ("  ops sent        %-12s accepted by the client (%s retries on a full queue)\n",
            s_commas (client_stats.ops_accepted, text1, sizeof (text1)),
            s_commas (retries, text2, sizeof (text2)));
    printf ("  ops received    %-12s popped by the application, %d at a time",
            s_commas (app.popped, text1, sizeof (text1)), POP_BATCH);
    if (app.strange)
        printf (", %s on keys never sent", s_commas (app.strange, text2, sizeof (text2)));
    printf ("\n");
    printf ("  ops persisted   %-12s confirmed by Redis (%s written, %s coalesced, %s failed)\n",
            s_commas (persisted, text1, sizeof (text1)),
            s_commas (writer_stats.written, text2, sizeof (text2)),
            s_commas (writer_stats.coalesced, text3, sizeof (text3)),
            s_commas (writer_stats.failed, text4, sizeof (text4)));
    printf ("  application     %s routes as expected (%s present, %s absent), %s wrong\n",
            s_commas (app_tally.present + app_tally.absent, text1, sizeof (text1)),
            s_commas (app_tally.present, text2, sizeof (text2)),
            s_commas (app_tally.absent, text3, sizeof (text3)),
            s_commas (app_tally.wrong, text4, sizeof (text4)));
    if (redis_read) {
        printf ("  verified        %s routes in Redis as expected (%s present, %s absent), "
                "%s wrong",
                s_commas (redis_tally.present + redis_tally.absent, text1, sizeof (text1)),
                s_commas (redis_tally.present, text2, sizeof (text2)),
                s_commas (redis_tally.absent, text3, sizeof (text3)),
                s_commas (redis_tally.wrong, text4, sizeof (text4)));
        if (unexpected >= 0)
            printf (", %lld unexpected keys\n", unexpected);
        else
            printf (", unexpected keys not counted\n");
    }
    else
        printf ("  verified        Redis could not be read\n");
    printf ("  elapsed         %.2f s to the last pop (%s ops/s); "
            "%.2f s until Redis confirmed (%s ops/s)\n",
            pop_secs, s_commas (pop_secs > 0? (uint64_t) (app.popped / pop_secs): 0,
                                text1, sizeof (text1)),
            all_secs, s_commas (all_secs > 0? (uint64_t) (persisted / all_secs): 0,
                                text2, sizeof (text2)));
    printf ("  result          %s\n", verified? "OK, everything verified": "FAILED");
    fflush (stdout);
    status = verified? 0: 1;

cleanup:
    stop = 1;
    for (int index = 0; index < jobs_started; index++)
        pthread_join (jobs [index].thread, NULL);
    free (jobs);
    zloop_destroy (&loop);
    if (status != 0) {
        //  Given up: what is still queued has no one to wait for
        if (client)
            zstate_client_set_linger (client, 0);
        if (writer)
            zstate_writer_set_linger (writer, 0);
    }
    //  From the source on, so nothing arrives for a table already gone
    zstate_client_destroy (&client);
    zstate_server_destroy (&server);
    zstate_consumer_destroy (&consumer);
    zstate_writer_destroy (&writer);
    zstate_batch_destroy (&app.batch);
    free (app.table);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&redis_server);
    return status;
}
