/*  =========================================================================
    zstate_bench - zstate bench: throughput, latency and memory, measured
    against raw libzmq over the same transport

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    zstate bench measures, in one run and side by side: the ceiling (raw
    libzmq PUSH to PULL, pre-encoded messages of zstate's size, one and
    batch operations a message, the receiver decoding nothing); zstate
    producer to consumer with single-op sets and with batches, for 2-field
    route entries and a 10-field variant; the same with the DB writer on,
    timed until Redis confirmed everything; latency percentiles at fixed
    offered rates; and the peak RSS of each side.
@discuss
    Every measurement runs in child processes, one per side (tcp and ipc)
    or one for both (inproc), so the tcp figures cross a real process
    boundary and each side's VmHWM is its own. The parent only forks,
    collects fixed-size reports over pipes and prints: it never creates a
    ZeroMQ socket, since a forked child cannot use a libzmq context whose
    threads it did not inherit. Children die with the parent
    (PR_SET_PDEATHSIG) and leave with _exit, once the parent has both
    reports, so that nothing in flight is cut off.

    Throughput is operations received by the consumer divided by the time
    from the producer's first send to the consumer's last pop (with the
    writer: to the writer's flush returning). Both ends read
    CLOCK_MONOTONIC (zclock_usecs), which is one clock for every process
    on the machine. Latency stamps zclock_usecs () into a field just
    before each paced send; the consumer subtracts it from the time its
    pops returned, and skips the first 5% as warm-up.
@end
*/

#include "zstate_tool.h"

#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OPS_DEFAULT         1000000
#define OPS_QUICK           20000
#define THREADS_DEFAULT     2
#define THREADS_MAX         64
#define BATCH_DEFAULT       128
#define POP_DEFAULT         128
#define RUNS_DEFAULT        3
#define RUNS_MAX            100
#define FIELDS_MAX          64
#define RATES_MAX           8
#define LATENCY_SECS        2.0         //  length of one latency run
#define LATENCY_SECS_QUICK  0.2
#define WARMUP_PERCENT      5           //  latency samples skipped at start
#define STALL_MSECS         20000       //  a side with no progress this long fails
#define READY_MSECS         15000       //  a consumer must be ready in this time
#define SETTLE_MSECS        50          //  raw PUSH: let the connection come up
#define FLUSH_MSECS         300000      //  writer flush bound
#define MEASURE_MSECS       900000      //  a measurement that takes longer hangs
#define BENCH_DB            "APPL_DB"
#define BENCH_TABLE         "ROUTE_TABLE"

//  Latency histogram: 1 usec buckets to 10 msecs, then 100 usec buckets
//  to 10 secs, then one bucket for anything slower
#define HISTO_FINE          10000
#define HISTO_COARSE        100000
#define HISTO_STEP          100
#define HISTO_SIZE          (HISTO_FINE + HISTO_COARSE + 1)

//  What one measurement measures
typedef enum {
    KIND_RAW,                   //  libzmq PUSH -> PULL, pre-encoded
    KIND_ZSTATE,                //  producer -> consumer
    KIND_PERSIST,               //  producer -> consumer -> writer -> Redis
    KIND_LATENCY                //  paced producer -> consumer, percentiles
} kind_t;

//  The role a child process plays
typedef enum {
    ROLE_CONSUMER,              //  the receiving side
    ROLE_PRODUCER,              //  the sending side
    ROLE_BOTH                   //  both, for inproc
} role_t;

typedef struct {
    kind_t kind;
    int fields;                 //  fields a SET carries
    int batch;                  //  ops per call (zstate) or message (raw); 1 = single
    int rate;                   //  KIND_LATENCY: offered ops/s
    uint64_t ops;               //  operations sent
    char id [48];               //  short name, for JSON
    char title [64];            //  long name, for the table
    int ceiling;                //  index of the raw scenario to compare with, or -1
    bool skip;                  //  not asked for (--only, or no Redis)
    bool raw;                   //  libzmq alone: KIND_RAW, or a latency baseline
} scenario_t;

//  A child's report to the parent: fixed size, one atomic pipe write
typedef struct {
    int type;                   //  REPORT_READY or REPORT_RESULT
    int ok;                     //  1 when this side finished its work
    char endpoint [200];        //  READY: where the producer connects
    char error [256];           //  why not ok
    int64_t first_send;         //  producer: zclock_usecs () before sending
    int64_t last_pop;           //  consumer: at the last pop or recv
    int64_t persisted;          //  consumer: when the writer confirmed all
    uint64_t ops;               //  operations sent or received
    uint64_t messages;          //  wire messages sent (producer)
    uint64_t retries;           //  sends retried on ENOBUFS (producer)
    uint64_t written;           //  writer: confirmed by Redis
    uint64_t coalesced;         //  writer: merged into newer operations
    uint64_t failed;            //  writer: refused by Redis
    long rss_kib;               //  VmHWM of this process
    long producer_rss_kib;      //  ROLE_BOTH: same process, so the same
    uint64_t samples;           //  latency samples counted
    double p50, p99, p999, max; //  latency, usecs
} report_t;

#define REPORT_READY    1
#define REPORT_RESULT   2

//  Outcome of all runs of one scenario
typedef struct {
    int runs_ok;
    int runs_failed;
    double rates [RUNS_MAX];    //  ops/s of each good run
    double min, median, max;
    long producer_rss_kib;      //  highest over the runs
    long consumer_rss_kib;
    double ops_per_message;     //  zstate: ops in one wire message, on average
    uint64_t retries;           //  ENOBUFS retries, all runs
    uint64_t redis_keys;        //  persist: keys Redis held after the last run
    bool redis_ok;              //  persist: every run's keys all there
    double p50, p99, p999, lmax;    //  latency: medians over the runs
    uint64_t samples;
    char error [256];           //  the last failure
} outcome_t;

//  The command line and the run
typedef struct {
    uint64_t ops;
    int fields;                 //  0: both 2 and 10
    int batch;
    int pop;
    int threads;
    const char *transport;      //  "tcp", "ipc" or "inproc"
    int runs;
    bool json;
    bool quick;
    bool no_redis;
    bool verbose;
    int only;                   //  bit mask of 1 << kind_t; 0 means all
    const char *only_ids;       //  --only as given, for scenario ids
    bool app_fd;                //  the application polls the fd with poll(2)
    bool app_socket;            //  the application's zloop reads the socket
    int rates [RATES_MAX];
    int rate_count;
    double latency_secs;

    //  Run state
    scenario_t *scenarios;
    outcome_t *outcomes;
    int scenario_count;
    zstate_redis_server_t *redis_server;
    zstate_redis_t *redis;      //  the parent's connection: FLUSHALL, DBSIZE
    char redis_endpoint [300];  //  for the writer: the unix socket
    char redis_note [300];      //  why persistence was skipped
    int endpoint_counter;       //  for unique ipc and inproc names
    int open_fds [8];           //  the parent's pipe ends a new child closes
    int open_count;
    FILE *out;                  //  progress: stdout, or stderr with --json
    volatile int stop;          //  in a child: the other side failed, stop
} bench_t;


//  --------------------------------------------------------------------------
//  Small helpers: decimal formatting without printf on the hot path,
//  thousands separators, peak RSS

static char *
s_put_uint (char *dest, uint64_t value)
{
    char digits [24];
    int count = 0;
    do {
        digits [count++] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    while (count)
        *dest++ = digits [--count];
    return dest;
}

//  Route index i as the key 10.a.b.c/32; returns the size
static size_t
s_route_key (char *key, uint64_t index)
{
    char *cursor = key;
    memcpy (cursor, "10.", 3);
    cursor = s_put_uint (cursor + 3, index >> 16);
    *cursor++ = '.';
    cursor = s_put_uint (cursor, (index >> 8) & 255);
    *cursor++ = '.';
    cursor = s_put_uint (cursor, index & 255);
    memcpy (cursor, "/32", 4);
    return cursor + 3 - key;
}

static size_t
s_route_nexthop (char *text, uint64_t index)
{
    char *cursor = text;
    memcpy (cursor, "172.16.", 7);
    cursor = s_put_uint (cursor + 7, (index >> 8) & 255);
    *cursor++ = '.';
    cursor = s_put_uint (cursor, index & 255);
    *cursor = 0;
    return cursor - text;
}

static size_t
s_route_ifname (char *text, uint64_t index)
{
    char *cursor = text;
    memcpy (cursor, "Ethernet", 8);
    cursor = s_put_uint (cursor + 8, (index % 128) * 4);
    *cursor = 0;
    return cursor - text;
}

static const char *
s_commas (double number, char *text, size_t size)
{
    char digits [32];
    int length = snprintf (digits, sizeof (digits), "%.0f", number < 0? 0: number);
    size_t used = 0;
    for (int index = 0; index < length && used + 2 < size; index++) {
        if (index > 0 && (length - index) % 3 == 0)
            text [used++] = ',';
        text [used++] = digits [index];
    }
    text [used] = 0;
    return text;
}

//  Peak resident set size of this process, KiB, from /proc/self/status
static long
s_rss_peak (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    if (!file)
        return 0;
    char line [256];
    long kib = 0;
    while (fgets (line, sizeof (line), file))
        if (sscanf (line, "VmHWM: %ld kB", &kib) == 1)
            break;
    fclose (file);
    return kib;
}


//  --------------------------------------------------------------------------
//  One operation's content: the route fields, then SONiC's other
//  ROUTE_TABLE fields with fixed values, then generic ones

typedef struct {
    int fields;
    char key [32];
    size_t key_size;
    char nexthop [32];
    char ifname [32];
    char extra_names [FIELDS_MAX][16];
    char extra_values [FIELDS_MAX][24];
    const void *names [FIELDS_MAX];
    size_t name_sizes [FIELDS_MAX];
    const void *values [FIELDS_MAX];
    size_t value_sizes [FIELDS_MAX];
} entry_t;

static const char *s_extra_names [] = {
    "weight", "mpls_nh", "vni_label", "router_mac", "blackhole",
    "segment", "seg_src", "nexthop_group"
};
static const char *s_extra_values [] = {
    "1", "na", "100", "00:11:22:33:44:55", "false",
    "seg0", "10.0.0.1", "nhg0"
};

static void
s_entry_init (entry_t *self, int fields)
{
    memset (self, 0, sizeof (entry_t));
    self->fields = fields;
    self->names [0] = "nexthop";
    self->name_sizes [0] = 7;
    self->names [1] = "ifname";
    self->name_sizes [1] = 6;
    self->values [0] = self->nexthop;
    self->values [1] = self->ifname;
    for (int field = 2; field < fields; field++) {
        int extra = field - 2;
        if (extra < (int) (sizeof (s_extra_names) / sizeof (s_extra_names [0]))) {
            snprintf (self->extra_names [extra], 16, "%s", s_extra_names [extra]);
            snprintf (self->extra_values [extra], 24, "%s", s_extra_values [extra]);
        }
        else {
            snprintf (self->extra_names [extra], 16, "field%d", field);
            snprintf (self->extra_values [extra], 24, "value%d", field);
        }
        self->names [field] = self->extra_names [extra];
        self->name_sizes [field] = strlen (self->extra_names [extra]);
        self->values [field] = self->extra_values [extra];
        self->value_sizes [field] = strlen (self->extra_values [extra]);
    }
}

static void
s_entry_fill (entry_t *self, uint64_t index)
{
    self->key_size = s_route_key (self->key, index);
    self->value_sizes [0] = s_route_nexthop (self->nexthop, index);
    self->value_sizes [1] = s_route_ifname (self->ifname, index);
}

//  Append the entry as a SET to batch
static void
s_entry_append (entry_t *self, zstate_batch_t *batch)
{
    int rc = zstate_batch_append (batch, ZSTATE_OP_SET, self->key, self->key_size);
    assert (rc == 0);
    for (int field = 0; field < self->fields; field++) {
        rc = zstate_batch_field (batch, self->names [field], self->name_sizes [field],
                                 self->values [field], self->value_sizes [field]);
        assert (rc == 0);
    }
}

//  Encode what zstate would put on the wire for count such entries
static zframe_t *
s_encode_sample (int fields, int count)
{
    entry_t entry;
    s_entry_init (&entry, fields);
    zstate_batch_t *batch = zstate_batch_new ();
    for (int index = 0; index < count; index++) {
        s_entry_fill (&entry, (uint64_t) index);
        s_entry_append (&entry, batch);
    }
    byte session [ZSTATE_MSG_SESSION_SIZE];
    memset (session, 0x5a, sizeof (session));
    zframe_t *frame = zstate_msg_encode (session, 1, BENCH_DB, BENCH_TABLE, batch);
    assert (frame);
    zstate_batch_destroy (&batch);
    return frame;
}


//  --------------------------------------------------------------------------
//  Latency histogram

typedef struct {
    uint32_t *buckets;
    uint64_t count;
    uint64_t skip;              //  samples still to skip as warm-up
    int64_t max;
} histo_t;

static void
s_histo_add (histo_t *self, int64_t usecs)
{
    if (self->skip) {
        self->skip--;
        return;
    }
    if (usecs < 0)
        usecs = 0;
    size_t bucket;
    if (usecs < HISTO_FINE)
        bucket = (size_t) usecs;
    else
    if (usecs < HISTO_FINE + (int64_t) HISTO_COARSE * HISTO_STEP)
        bucket = HISTO_FINE + (size_t) ((usecs - HISTO_FINE) / HISTO_STEP);
    else
        bucket = HISTO_SIZE - 1;
    self->buckets [bucket]++;
    self->count++;
    if (usecs > self->max)
        self->max = usecs;
}

//  The value below which a fraction of samples fall, usecs
static double
s_histo_percentile (histo_t *self, double fraction)
{
    if (self->count == 0)
        return 0;
    uint64_t wanted = (uint64_t) (fraction * self->count);
    if (wanted >= self->count)
        wanted = self->count - 1;
    uint64_t seen = 0;
    for (size_t bucket = 0; bucket < HISTO_SIZE; bucket++) {
        seen += self->buckets [bucket];
        if (seen > wanted) {
            if (bucket < HISTO_FINE)
                return (double) bucket;
            else
            if (bucket < HISTO_SIZE - 1)
                return HISTO_FINE + (double) (bucket - HISTO_FINE) * HISTO_STEP;
            else
                return (double) self->max;
        }
    }
    return (double) self->max;
}


//  --------------------------------------------------------------------------
//  Child side: the consumer. Binds, reports READY, receives until every
//  operation arrived, reports the result.

typedef struct {
    bench_t *bench;
    scenario_t *scenario;
    zstate_consumer_t *consumer;
    zstate_batch_t *batch;
    uint64_t expected;
    uint64_t popped;
    uint64_t progress_seen;     //  popped at the last stall check
    int64_t progress_at;        //  zclock_mono () then
    int64_t last_pop;
    histo_t histo;
    bool stalled;
} sink_t;

static int
s_sink_ready (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    sink_t *self = (sink_t *) arg;
    size_t count = zstate_consumer_pops (self->consumer, self->batch,
                                         (size_t) self->bench->pop);
    if (self->histo.buckets) {
        int64_t now = zclock_usecs ();
        for (size_t index = 0; index < count; index++) {
            const char *stamp = zstate_batch_get (self->batch, index, "ts");
            if (stamp)
                s_histo_add (&self->histo, now - strtoll (stamp, NULL, 10));
        }
    }
    self->popped += count;
    if (self->popped >= self->expected) {
        self->last_pop = zclock_usecs ();
        return -1;
    }
    return 0;
}

static int
s_sink_poller_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) item;
    return s_sink_ready (loop, NULL, arg);
}

static int
s_sink_check (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    sink_t *self = (sink_t *) arg;
    int64_t now = zclock_mono ();
    if (self->popped != self->progress_seen) {
        self->progress_seen = self->popped;
        self->progress_at = now;
    }
    else
    if (now - self->progress_at > STALL_MSECS) {
        self->stalled = true;
        return -1;
    }
    return 0;
}

//  Write a report to fd; the struct is under PIPE_BUF, so one write
static void
s_report_send (int fd, report_t *report)
{
    ssize_t rc = write (fd, report, sizeof (report_t));
    assert (rc == (ssize_t) sizeof (report_t));
}

//  Make a unique endpoint for this transport to bind
static void
s_bind_endpoint (bench_t *bench, char *endpoint, size_t size)
{
    if (streq (bench->transport, "tcp"))
        snprintf (endpoint, size, "tcp://127.0.0.1:*");
    else
    if (streq (bench->transport, "ipc"))
        //  Linux abstract namespace: nothing to clean up on disk
        snprintf (endpoint, size, "ipc://@zstate-bench-%d-%d",
                  (int) getpid (), bench->endpoint_counter);
    else
        snprintf (endpoint, size, "inproc://zstate-bench-%d", bench->endpoint_counter);
}

typedef void (ready_fn) (void *arg, const char *endpoint);

static void
s_consumer_zstate (bench_t *bench, scenario_t *scenario, ready_fn *ready, void *ready_arg,
                   report_t *report)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_server_set_verbose (server, bench->verbose);
    zstate_writer_t *writer = NULL;
    zstate_consumer_t *consumer = zstate_consumer_new (server, BENCH_DB, BENCH_TABLE);
    if (!consumer) {
        snprintf (report->error, sizeof (report->error), "consumer: %.200s", zstate_reason ());
        goto done;
    }
    zstate_consumer_set_verbose (consumer, bench->verbose);
    if (scenario->kind == KIND_PERSIST) {
        writer = zstate_writer_new ();
        assert (writer);
        zstate_writer_set_verbose (writer, bench->verbose);
        if (zstate_writer_connect (writer, bench->redis_endpoint)) {
            snprintf (report->error, sizeof (report->error), "writer: %s", zstate_reason ());
            goto done;
        }
        if (zstate_consumer_forward (consumer, zstate_writer_endpoint (writer))) {
            snprintf (report->error, sizeof (report->error), "forward: %s", zstate_reason ());
            goto done;
        }
    }
    char endpoint [200];
    s_bind_endpoint (bench, endpoint, sizeof (endpoint));
    int port = zstate_server_bind (server, endpoint);
    if (port < 0) {
        snprintf (report->error, sizeof (report->error), "bind %s: %s", endpoint,
                  zstate_reason ());
        goto done;
    }
    if (port > 0)
        snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);

    sink_t sink;
    memset (&sink, 0, sizeof (sink));
    sink.bench = bench;
    sink.scenario = scenario;
    sink.consumer = consumer;
    sink.batch = zstate_batch_new ();
    sink.expected = scenario->ops;
    sink.progress_at = zclock_mono ();
    if (scenario->kind == KIND_LATENCY) {
        sink.histo.buckets = (uint32_t *) zmalloc (HISTO_SIZE * sizeof (uint32_t));
        assert (sink.histo.buckets);
        sink.histo.skip = scenario->ops * WARMUP_PERCENT / 100;
    }
    ready (ready_arg, endpoint);
    if (bench->app_fd) {
        //  A plain poll(2) loop on the consumer's fd, as a non-CZMQ
        //  application would run it
        struct pollfd item = { zstate_consumer_fd (consumer), POLLIN, 0 };
        while (!zsys_interrupted) {
            int events = poll (&item, 1, 1000);
            if (events > 0 && s_sink_ready (NULL, NULL, &sink) == -1)
                break;
            if (s_sink_check (NULL, 0, &sink) == -1)
                break;
        }
    }
    else {
        //  The application's own zloop, woken by the consumer's fd (the
        //  default: a plain fd costs the loop one poll(2) entry) or by its
        //  socket (a zmq socket costs libzmq's event checks on every pass)
        zloop_t *loop = zloop_new ();
        assert (loop);
        if (bench->app_socket)
            zloop_reader (loop, zstate_consumer_socket (consumer), s_sink_ready, &sink);
        else {
            zmq_pollitem_t item = { NULL, zstate_consumer_fd (consumer), ZMQ_POLLIN, 0 };
            zloop_poller (loop, &item, s_sink_poller_ready, &sink);
        }
        zloop_timer (loop, 1000, 0, s_sink_check, &sink);
        zloop_start (loop);
        zloop_destroy (&loop);
    }

    report->ops = sink.popped;
    report->last_pop = sink.last_pop;
    if (sink.popped >= sink.expected) {
        report->ok = 1;
        if (writer) {
            if (zstate_writer_flush (writer, FLUSH_MSECS) == 0)
                report->persisted = zclock_usecs ();
            else {
                report->ok = 0;
                snprintf (report->error, sizeof (report->error), "writer flush: %s",
                          zstate_reason ());
            }
            zstate_writer_stats_t stats;
            if (zstate_writer_stats (writer, &stats) == 0) {
                report->written = stats.written;
                report->coalesced = stats.coalesced;
                report->failed = stats.failed;
            }
        }
    }
    else
    if (sink.stalled)
        snprintf (report->error, sizeof (report->error),
                  "no progress for %d s after %" PRIu64 " of %" PRIu64 " ops",
                  STALL_MSECS / 1000, sink.popped, sink.expected);
    else
        snprintf (report->error, sizeof (report->error), "interrupted");
    if (sink.histo.buckets) {
        report->samples = sink.histo.count;
        report->p50 = s_histo_percentile (&sink.histo, 0.50);
        report->p99 = s_histo_percentile (&sink.histo, 0.99);
        report->p999 = s_histo_percentile (&sink.histo, 0.999);
        report->max = (double) sink.histo.max;
        free (sink.histo.buckets);
    }
    zstate_batch_destroy (&sink.batch);
done:
    //  A failed consumer stops its producer thread too (ROLE_BOTH)
    if (!report->ok)
        bench->stop = 1;
    report->rss_kib = s_rss_peak ();
    //  Teardown is left to _exit: destroying a busy pipeline would only
    //  add time and risk to a measurement that is over
}

static void
s_consumer_raw (bench_t *bench, scenario_t *scenario, void *context, ready_fn *ready,
                void *ready_arg, report_t *report)
{
    void *pull = zmq_socket (context, ZMQ_PULL);
    assert (pull);
    int timeout = STALL_MSECS;
    zmq_setsockopt (pull, ZMQ_RCVTIMEO, &timeout, sizeof (timeout));
    char endpoint [200];
    s_bind_endpoint (bench, endpoint, sizeof (endpoint));
    if (zmq_bind (pull, endpoint)) {
        snprintf (report->error, sizeof (report->error), "bind %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        report->rss_kib = s_rss_peak ();
        return;
    }
    size_t size = sizeof (endpoint);
    zmq_getsockopt (pull, ZMQ_LAST_ENDPOINT, endpoint, &size);
    ready (ready_arg, endpoint);

    uint64_t messages = scenario->ops / (uint64_t) scenario->batch;
    uint64_t received = 0;
    histo_t histo;
    memset (&histo, 0, sizeof (histo));
    if (scenario->kind == KIND_LATENCY) {
        histo.buckets = (uint32_t *) zmalloc (HISTO_SIZE * sizeof (uint32_t));
        assert (histo.buckets);
        histo.skip = messages * WARMUP_PERCENT / 100;
    }
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (received < messages) {
        if (zmq_msg_recv (&msg, pull, 0) == -1) {
            if (zmq_errno () == EINTR && !zsys_interrupted)
                continue;
            snprintf (report->error, sizeof (report->error),
                      "recv after %" PRIu64 " of %" PRIu64 " messages: %s",
                      received, messages, zmq_strerror (zmq_errno ()));
            break;
        }
        if (histo.buckets && zmq_msg_size (&msg) >= sizeof (int64_t)) {
            int64_t stamp;
            memcpy (&stamp, (byte *) zmq_msg_data (&msg) + zmq_msg_size (&msg) - sizeof (stamp),
                    sizeof (stamp));
            s_histo_add (&histo, zclock_usecs () - stamp);
        }
        received++;
    }
    if (histo.buckets) {
        report->samples = histo.count;
        report->p50 = s_histo_percentile (&histo, 0.50);
        report->p99 = s_histo_percentile (&histo, 0.99);
        report->p999 = s_histo_percentile (&histo, 0.999);
        report->max = (double) histo.max;
        free (histo.buckets);
    }
    report->last_pop = zclock_usecs ();
    zmq_msg_close (&msg);
    report->ops = received * (uint64_t) scenario->batch;
    report->ok = received == messages;
    report->rss_kib = s_rss_peak ();
}


//  --------------------------------------------------------------------------
//  Child side: the producer. Connects, sends, flushes, reports.

typedef struct {
    bench_t *bench;
    scenario_t *scenario;
    zstate_client_t *client;
    uint64_t first;             //  first route index
    uint64_t count;             //  routes to send
    pthread_barrier_t *start;
    uint64_t retries;
    int error;
    char reason [200];
    pthread_t thread;
} sender_t;

//  Retry a send refused with ENOBUFS: the client queue is bounded and
//  pushes back while the consumer catches up
static bool
s_sender_retry (sender_t *self)
{
    if (errno != ENOBUFS || zsys_interrupted || self->bench->stop) {
        self->error = errno;
        snprintf (self->reason, sizeof (self->reason), "%s", zstate_reason ());
        return false;
    }
    self->retries++;
    zclock_sleep (1);
    return true;
}

static void *
s_sender_thread (void *args)
{
    sender_t *self = (sender_t *) args;
    scenario_t *scenario = self->scenario;
    zstate_producer_t *producer = zstate_producer_new (self->client, BENCH_DB, BENCH_TABLE);
    assert (producer);
    entry_t entry;
    s_entry_init (&entry, scenario->fields);
    zstate_batch_t *batch = zstate_batch_new ();
    pthread_barrier_wait (self->start);

    uint64_t last = self->first + self->count;
    if (scenario->batch > 1) {
        uint64_t index = self->first;
        while (index < last && !self->error) {
            zstate_batch_reset (batch);
            for (int count = 0; count < scenario->batch && index < last; count++) {
                s_entry_fill (&entry, index++);
                s_entry_append (&entry, batch);
            }
            while (zstate_producer_send (producer, batch))
                if (!s_sender_retry (self))
                    break;
        }
    }
    else
    if (scenario->fields == 2) {
        //  The plain call every application makes
        for (uint64_t index = self->first; index < last && !self->error; index++) {
            s_entry_fill (&entry, index);
            while (zstate_producer_set (producer, entry.key, "nexthop", entry.nexthop,
                                        "ifname", entry.ifname, NULL))
                if (!s_sender_retry (self))
                    break;
        }
    }
    else {
        for (uint64_t index = self->first; index < last && !self->error; index++) {
            s_entry_fill (&entry, index);
            while (zstate_producer_set_fields (producer, ZSTATE_OP_SET, entry.key,
                                               entry.key_size, (size_t) entry.fields,
                                               entry.names, entry.name_sizes,
                                               entry.values, entry.value_sizes))
                if (!s_sender_retry (self))
                    break;
        }
    }
    zstate_batch_destroy (&batch);
    zstate_producer_destroy (&producer);
    return NULL;
}

//  Pacing at an offered rate: the monotonic time origin, in nsecs
static int64_t
s_pace_origin (void)
{
    //  Sleeps end as close to their deadline as the kernel allows
    prctl (PR_SET_TIMERSLACK, 1UL);
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

//  Sleep until operation index is due. When behind schedule this returns
//  at once, so the offered rate holds on average, in small bursts.
static void
s_pace_wait (int64_t origin, uint64_t index, int rate)
{
    int64_t due = origin + (int64_t) (index * (1e9 / rate));
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    //  Behind schedule: no syscall at all. clock_nanosleep on a deadline
    //  that has passed still costs ~15 usecs in this VM, which alone
    //  capped the pacer at 50,000 ops/s.
    if ((int64_t) now.tv_sec * 1000000000 + now.tv_nsec >= due)
        return;
    struct timespec wake = { (time_t) (due / 1000000000), (long) (due % 1000000000) };
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR
       &&  !zsys_interrupted)
        ;
}

//  One thread sends at the offered rate, stamping each operation
static void
s_sender_paced (sender_t *self)
{
    scenario_t *scenario = self->scenario;
    zstate_producer_t *producer = zstate_producer_new (self->client, BENCH_DB, BENCH_TABLE);
    assert (producer);
    entry_t entry;
    s_entry_init (&entry, 2);
    int64_t origin = s_pace_origin ();
    for (uint64_t index = 0; index < scenario->ops && !self->error; index++) {
        s_pace_wait (origin, index, scenario->rate);
        s_entry_fill (&entry, index);
        char stamp [24];
        *s_put_uint (stamp, (uint64_t) zclock_usecs ()) = 0;
        while (zstate_producer_set (producer, entry.key, "nexthop", entry.nexthop,
                                    "ifname", entry.ifname, "ts", stamp, NULL))
            if (!s_sender_retry (self))
                break;
    }
    zstate_producer_destroy (&producer);
}

static void
s_producer_zstate (bench_t *bench, scenario_t *scenario, const char *endpoint,
                   report_t *report)
{
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    zstate_client_set_verbose (client, bench->verbose);
    if (zstate_client_connect (client, endpoint)) {
        snprintf (report->error, sizeof (report->error), "connect %s: %s", endpoint,
                  zstate_reason ());
        report->rss_kib = s_rss_peak ();
        return;
    }
    //  Time the traffic, not the connection set-up
    int64_t deadline = zclock_mono () + READY_MSECS;
    while (zstate_client_state (client) != ZSTATE_CLIENT_CONNECTED
       &&  zclock_mono () < deadline && !zsys_interrupted)
        zclock_sleep (1);
    if (zstate_client_state (client) != ZSTATE_CLIENT_CONNECTED) {
        snprintf (report->error, sizeof (report->error), "client did not connect to %s",
                  endpoint);
        report->rss_kib = s_rss_peak ();
        return;
    }
    uint64_t retries = 0;
    bool ok = true;
    if (scenario->kind == KIND_LATENCY) {
        sender_t sender;
        memset (&sender, 0, sizeof (sender));
        sender.bench = bench;
        sender.scenario = scenario;
        sender.client = client;
        report->first_send = zclock_usecs ();
        s_sender_paced (&sender);
        retries = sender.retries;
        if (sender.error) {
            ok = false;
            snprintf (report->error, sizeof (report->error), "send: %s", sender.reason);
        }
    }
    else {
        int threads = bench->threads;
        sender_t *senders = (sender_t *) zmalloc (sizeof (sender_t) * threads);
        assert (senders);
        pthread_barrier_t start;
        pthread_barrier_init (&start, NULL, (unsigned) threads + 1);
        uint64_t share = scenario->ops / (uint64_t) threads;
        for (int index = 0; index < threads; index++) {
            sender_t *sender = &senders [index];
            sender->bench = bench;
            sender->scenario = scenario;
            sender->client = client;
            sender->first = share * (uint64_t) index;
            sender->count = index == threads - 1? scenario->ops - sender->first: share;
            sender->start = &start;
            int rc = pthread_create (&sender->thread, NULL, s_sender_thread, sender);
            assert (rc == 0);
        }
        report->first_send = zclock_usecs ();
        pthread_barrier_wait (&start);
        for (int index = 0; index < threads; index++) {
            pthread_join (senders [index].thread, NULL);
            retries += senders [index].retries;
            if (senders [index].error && ok) {
                ok = false;
                snprintf (report->error, sizeof (report->error), "send: %s",
                          senders [index].reason);
            }
        }
        pthread_barrier_destroy (&start);
        free (senders);
    }
    if (ok && zstate_client_flush (client, FLUSH_MSECS)) {
        ok = false;
        snprintf (report->error, sizeof (report->error), "flush: %s", zstate_reason ());
    }
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    report->ops = stats.ops_sent;
    report->messages = stats.messages_sent;
    report->retries = retries;
    report->ok = ok;
    report->rss_kib = s_rss_peak ();
    //  The client stays up: what it handed to libzmq may still be on its
    //  way, and _exit after the parent's go-ahead ends it
}

static void
s_producer_raw (bench_t *bench, scenario_t *scenario, void *context, const char *endpoint,
                report_t *report)
{
    //  The latency baseline sends what zstate's paced producer sends: one
    //  operation with 3 fields, the stamp in its last 8 bytes
    bool paced = scenario->kind == KIND_LATENCY;
    zframe_t *frame = s_encode_sample (paced? 3: scenario->fields, scenario->batch);
    void *push = zmq_socket (context, ZMQ_PUSH);
    assert (push);
    int timeout = STALL_MSECS;
    zmq_setsockopt (push, ZMQ_SNDTIMEO, &timeout, sizeof (timeout));
    if (zmq_connect (push, endpoint)) {
        snprintf (report->error, sizeof (report->error), "connect %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        zframe_destroy (&frame);
        report->rss_kib = s_rss_peak ();
        return;
    }
    //  PUSH has no connection state to wait for: give the handshake time
    if (!streq (bench->transport, "inproc"))
        zclock_sleep (SETTLE_MSECS);
    uint64_t messages = scenario->ops / (uint64_t) scenario->batch;
    byte *data = zframe_data (frame);
    size_t size = zframe_size (frame);
    assert (size >= sizeof (int64_t));
    uint64_t sent = 0;
    int64_t origin = paced? s_pace_origin (): 0;
    report->first_send = zclock_usecs ();
    while (sent < messages) {
        if (paced) {
            s_pace_wait (origin, sent, scenario->rate);
            int64_t stamp = zclock_usecs ();
            memcpy (data + size - sizeof (stamp), &stamp, sizeof (stamp));
        }
        if (zmq_send (push, data, size, 0) == -1) {
            if (zmq_errno () == EINTR && !zsys_interrupted)
                continue;
            snprintf (report->error, sizeof (report->error), "send: %s",
                      zmq_strerror (zmq_errno ()));
            break;
        }
        sent++;
    }
    report->ops = sent * (uint64_t) scenario->batch;
    report->messages = sent;
    report->ok = sent == messages;
    report->rss_kib = s_rss_peak ();
    zframe_destroy (&frame);
}


//  --------------------------------------------------------------------------
//  Child processes: what each runs, and how the parent starts them

typedef struct {
    int fd;                     //  report pipe, or -1 in ROLE_BOTH
    //  ROLE_BOTH: the producer runs in a thread of the consumer process
    bench_t *bench;
    scenario_t *scenario;
    void *context;
    report_t producer;
    pthread_t thread;
    bool started;
} ready_t;

static void *
s_both_producer (void *args)
{
    ready_t *self = (ready_t *) args;
    if (self->scenario->raw)
        s_producer_raw (self->bench, self->scenario, self->context, self->producer.endpoint,
                        &self->producer);
    else
        s_producer_zstate (self->bench, self->scenario, self->producer.endpoint,
                           &self->producer);
    return NULL;
}

static void
s_ready (void *arg, const char *endpoint)
{
    ready_t *self = (ready_t *) arg;
    if (self->fd >= 0) {
        report_t report;
        memset (&report, 0, sizeof (report));
        report.type = REPORT_READY;
        report.ok = 1;
        snprintf (report.endpoint, sizeof (report.endpoint), "%s", endpoint);
        s_report_send (self->fd, &report);
    }
    else {
        snprintf (self->producer.endpoint, sizeof (self->producer.endpoint), "%s", endpoint);
        int rc = pthread_create (&self->thread, NULL, s_both_producer, self);
        assert (rc == 0);
        self->started = true;
    }
}

//  Block until the parent closes our control pipe, then leave
static void
s_child_leave (int control_fd, int status)
{
    char byte_read;
    while (read (control_fd, &byte_read, 1) == -1 && errno == EINTR)
        ;
    _exit (status);
}

static void
s_child_run (bench_t *bench, scenario_t *scenario, role_t role, const char *endpoint,
             int report_fd, int control_fd)
{
    //  The library's state-change lines, once per run, would bury the
    //  results; failures come back in the report
    if (!bench->verbose)
        zsys_set_logstream (NULL);
    report_t report;
    memset (&report, 0, sizeof (report));
    report.type = REPORT_RESULT;
    ready_t ready;
    memset (&ready, 0, sizeof (ready));
    ready.fd = role == ROLE_BOTH? -1: report_fd;
    ready.bench = bench;
    ready.scenario = scenario;

    //  The raw ceiling uses libzmq alone, with its default context: one
    //  I/O thread, as CZMQ's
    void *context = NULL;
    if (scenario->raw) {
        context = zmq_ctx_new ();
        assert (context);
        ready.context = context;
    }
    if (role == ROLE_PRODUCER) {
        if (scenario->raw)
            s_producer_raw (bench, scenario, context, endpoint, &report);
        else
            s_producer_zstate (bench, scenario, endpoint, &report);
    }
    else {
        if (scenario->raw)
            s_consumer_raw (bench, scenario, context, s_ready, &ready, &report);
        else
            s_consumer_zstate (bench, scenario, s_ready, &ready, &report);
        if (role == ROLE_BOTH) {
            if (ready.started)
                pthread_join (ready.thread, NULL);
            else
                snprintf (ready.producer.error, sizeof (ready.producer.error),
                          "not started");
            //  One report for both sides
            report.first_send = ready.producer.first_send;
            report.messages = ready.producer.messages;
            report.retries = ready.producer.retries;
            report.rss_kib = s_rss_peak ();
            report.producer_rss_kib = report.rss_kib;
            if (report.ok && !ready.producer.ok) {
                report.ok = 0;
                snprintf (report.error, sizeof (report.error), "producer: %.200s",
                          ready.producer.error);
            }
        }
    }
    s_report_send (report_fd, &report);
    s_child_leave (control_fd, 0);
}

typedef struct {
    pid_t pid;
    int report_fd;              //  we read the child's reports here
    int control_fd;             //  we close this to let the child leave
} child_t;

static int
s_child_start (bench_t *self, scenario_t *scenario, role_t role, const char *endpoint,
               child_t *child)
{
    int report_pipe [2], control_pipe [2];
    if (pipe (report_pipe))
        return -1;
    if (pipe (control_pipe)) {
        close (report_pipe [0]);
        close (report_pipe [1]);
        return -1;
    }
    fflush (NULL);              //  Or the child writes our buffers again
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        close (report_pipe [0]);
        close (report_pipe [1]);
        close (control_pipe [0]);
        close (control_pipe [1]);
        return -1;
    }
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (1);
        //  Only our own pipe ends: a sibling's left open here would hide
        //  its EOF from it
        close (report_pipe [0]);
        close (control_pipe [1]);
        for (int index = 0; index < self->open_count; index++)
            close (self->open_fds [index]);
        s_child_run (self, scenario, role, endpoint, report_pipe [1], control_pipe [0]);
        _exit (1);              //  Not reached
    }
    close (report_pipe [1]);
    close (control_pipe [0]);
    child->pid = pid;
    child->report_fd = report_pipe [0];
    child->control_fd = control_pipe [1];
    assert (self->open_count + 2 <= (int) (sizeof (self->open_fds) / sizeof (int)));
    self->open_fds [self->open_count++] = child->report_fd;
    self->open_fds [self->open_count++] = child->control_fd;
    return 0;
}

//  Let the child leave and reap it; kill it if it does not go
static void
s_child_end (bench_t *self, child_t *child, bool kill_it)
{
    if (!child->pid)
        return;
    if (kill_it)
        kill (child->pid, SIGKILL);
    close (child->control_fd);
    close (child->report_fd);
    int kept = 0;
    for (int index = 0; index < self->open_count; index++)
        if (self->open_fds [index] != child->control_fd
        &&  self->open_fds [index] != child->report_fd)
            self->open_fds [kept++] = self->open_fds [index];
    self->open_count = kept;
    int64_t deadline = zclock_mono () + 5000;
    while (waitpid (child->pid, NULL, WNOHANG) == 0) {
        if (zclock_mono () > deadline) {
            kill (child->pid, SIGKILL);
            waitpid (child->pid, NULL, 0);
            break;
        }
        zclock_sleep (5);
    }
    child->pid = 0;
}

//  Read one report, waiting at most timeout msecs. Returns 0 or -1.
static int
s_report_recv (int fd, report_t *report, int timeout)
{
    size_t got = 0;
    int64_t deadline = zclock_mono () + timeout;
    while (got < sizeof (report_t)) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return -1;
        struct pollfd item = { fd, POLLIN, 0 };
        int rc = poll (&item, 1, (int) left);
        if (zsys_interrupted)
            return -1;
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t bytes = read (fd, (char *) report + got, sizeof (report_t) - got);
        if (bytes < 0 && errno == EINTR)
            continue;
        if (bytes <= 0)
            return -1;              //  The child died
        got += (size_t) bytes;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Parent side: one measurement, in one or two children. Returns 0 with
//  *rate set (and the reports), or -1 with error set.

static int
s_measure (bench_t *self, scenario_t *scenario, report_t *consumer_report,
           report_t *producer_report, char *error, size_t error_size)
{
    bool inproc = streq (self->transport, "inproc");
    child_t consumer = { 0, -1, -1 };
    child_t producer = { 0, -1, -1 };
    self->endpoint_counter++;
    memset (consumer_report, 0, sizeof (report_t));
    memset (producer_report, 0, sizeof (report_t));

    if (s_child_start (self, scenario, inproc? ROLE_BOTH: ROLE_CONSUMER, NULL, &consumer)) {
        snprintf (error, error_size, "fork: %s", strerror (errno));
        return -1;
    }
    int rc = -1;
    if (inproc) {
        if (s_report_recv (consumer.report_fd, consumer_report, MEASURE_MSECS)) {
            snprintf (error, error_size, "the benchmark process died");
            goto done;
        }
        if (!consumer_report->ok) {
            snprintf (error, error_size, "%s", consumer_report->error);
            goto done;
        }
        *producer_report = *consumer_report;
        producer_report->rss_kib = consumer_report->producer_rss_kib;
        rc = 0;
        goto done;
    }
    report_t ready;
    if (s_report_recv (consumer.report_fd, &ready, READY_MSECS)) {
        snprintf (error, error_size, "the consumer did not start");
        goto done;
    }
    if (ready.type != REPORT_READY) {
        snprintf (error, error_size, "consumer: %.200s", ready.error);
        goto done;
    }
    if (s_child_start (self, scenario, ROLE_PRODUCER, ready.endpoint, &producer)) {
        snprintf (error, error_size, "fork: %s", strerror (errno));
        goto done;
    }
    //  Wait for both reports; a side that fails ends the measurement.
    //  Each side gives up by itself when nothing moves for STALL_MSECS;
    //  the deadline only catches a child that hangs.
    bool have_consumer = false, have_producer = false;
    int64_t deadline = zclock_mono () + MEASURE_MSECS;
    while (!have_consumer || !have_producer) {
        struct pollfd items [2] = {
            { have_consumer? -1: consumer.report_fd, POLLIN, 0 },
            { have_producer? -1: producer.report_fd, POLLIN, 0 }
        };
        int64_t left = deadline - zclock_mono ();
        int events = left > 0? poll (items, 2, (int) left): 0;
        if (zsys_interrupted) {
            snprintf (error, error_size, "interrupted");
            goto done;
        }
        if (events < 0 && errno == EINTR)
            continue;
        if (events <= 0) {
            if (events)
                snprintf (error, error_size, "poll: %s", strerror (errno));
            else
                snprintf (error, error_size, "no result after %d s", MEASURE_MSECS / 1000);
            goto done;
        }
        if (items [0].revents) {
            if (s_report_recv (consumer.report_fd, consumer_report, 1000)) {
                snprintf (error, error_size, "the consumer process died");
                goto done;
            }
            if (!consumer_report->ok) {
                snprintf (error, error_size, "consumer: %.200s", consumer_report->error);
                goto done;
            }
            have_consumer = true;
        }
        if (items [1].revents) {
            if (s_report_recv (producer.report_fd, producer_report, 1000)) {
                snprintf (error, error_size, "the producer process died");
                goto done;
            }
            if (!producer_report->ok) {
                snprintf (error, error_size, "producer: %.200s", producer_report->error);
                goto done;
            }
            have_producer = true;
        }
    }
    rc = 0;
done:
    s_child_end (self, &producer, rc != 0);
    s_child_end (self, &consumer, rc != 0);
    return rc;
}

static int
s_compare_doubles (const void *one, const void *two)
{
    double first = *(const double *) one;
    double second = *(const double *) two;
    return first < second? -1: first > second? 1: 0;
}

static double
s_median (double *values, int count)
{
    if (count == 0)
        return 0;
    qsort (values, (size_t) count, sizeof (double), s_compare_doubles);
    return count % 2? values [count / 2]: (values [count / 2 - 1] + values [count / 2]) / 2;
}

//  All runs of one scenario
static void
s_scenario_run (bench_t *self, int index)
{
    scenario_t *scenario = &self->scenarios [index];
    outcome_t *outcome = &self->outcomes [index];
    double p50 [RUNS_MAX], p99 [RUNS_MAX], p999 [RUNS_MAX], lmax [RUNS_MAX];
    uint64_t messages = 0, ops_sent = 0;
    outcome->redis_ok = true;
    for (int run = 0; run < self->runs && !zsys_interrupted; run++) {
        if (scenario->kind == KIND_PERSIST
        &&  zstate_redis_command (self->redis, "FLUSHALL", NULL) != ZSTATE_REDIS_STATUS) {
            snprintf (outcome->error, sizeof (outcome->error), "FLUSHALL: %s",
                      zstate_reason ());
            outcome->runs_failed++;
            continue;
        }
        report_t consumer, producer;
        char error [256];
        if (s_measure (self, scenario, &consumer, &producer, error, sizeof (error))) {
            outcome->runs_failed++;
            snprintf (outcome->error, sizeof (outcome->error), "%s", error);
            fprintf (self->out, "  %-40s run %d/%d: FAILED: %s\n", scenario->title,
                     run + 1, self->runs, error);
            fflush (self->out);
            continue;
        }
        int64_t end = scenario->kind == KIND_PERSIST? consumer.persisted: consumer.last_pop;
        double secs = (end - producer.first_send) / 1e6;
        double rate = secs > 0? consumer.ops / secs: 0;
        outcome->rates [outcome->runs_ok] = rate;
        if (scenario->kind == KIND_LATENCY) {
            p50 [outcome->runs_ok] = consumer.p50;
            p99 [outcome->runs_ok] = consumer.p99;
            p999 [outcome->runs_ok] = consumer.p999;
            lmax [outcome->runs_ok] = consumer.max;
            outcome->samples += consumer.samples;
        }
        outcome->runs_ok++;
        if (producer.rss_kib > outcome->producer_rss_kib)
            outcome->producer_rss_kib = producer.rss_kib;
        if (consumer.rss_kib > outcome->consumer_rss_kib)
            outcome->consumer_rss_kib = consumer.rss_kib;
        outcome->retries += producer.retries;
        messages += producer.messages;
        ops_sent += producer.ops;

        char rate_text [32];
        fprintf (self->out, "  %-40s run %d/%d: %13s ops/s", scenario->title, run + 1,
                 self->runs, s_commas (rate, rate_text, sizeof (rate_text)));
        if (scenario->kind == KIND_LATENCY)
            fprintf (self->out, "  p50 %.0f  p99 %.0f  p999 %.0f usecs", consumer.p50,
                     consumer.p99, consumer.p999);
        if (scenario->kind == KIND_PERSIST) {
            //  Every key is distinct, so Redis must hold one hash per op
            long long keys = -1;
            if (zstate_redis_command (self->redis, "DBSIZE", NULL) == ZSTATE_REDIS_INTEGER)
                keys = zstate_redis_integer (self->redis, -1);
            outcome->redis_keys = keys < 0? 0: (uint64_t) keys;
            if (keys != (long long) scenario->ops || consumer.failed) {
                outcome->redis_ok = false;
                snprintf (outcome->error, sizeof (outcome->error),
                          "Redis holds %lld keys of %" PRIu64 ", %" PRIu64 " failed",
                          keys, scenario->ops, consumer.failed);
            }
            fprintf (self->out, "  (%lld keys in Redis)", keys);
        }
        fprintf (self->out, "\n");
        fflush (self->out);
    }
    if (outcome->runs_ok) {
        double sorted [RUNS_MAX];
        memcpy (sorted, outcome->rates, sizeof (double) * outcome->runs_ok);
        outcome->median = s_median (sorted, outcome->runs_ok);
        outcome->min = sorted [0];
        outcome->max = sorted [outcome->runs_ok - 1];
        if (scenario->kind == KIND_LATENCY) {
            outcome->p50 = s_median (p50, outcome->runs_ok);
            outcome->p99 = s_median (p99, outcome->runs_ok);
            outcome->p999 = s_median (p999, outcome->runs_ok);
            outcome->lmax = s_median (lmax, outcome->runs_ok);
        }
        if (messages && !scenario->raw)
            outcome->ops_per_message = (double) ops_sent / messages;
    }
}


//  --------------------------------------------------------------------------
//  The scenarios the options ask for

static int
s_scenario_add (bench_t *self, kind_t kind, int fields, int batch, int rate, int ceiling)
{
    scenario_t *scenario = &self->scenarios [self->scenario_count];
    memset (scenario, 0, sizeof (scenario_t));
    scenario->kind = kind;
    scenario->fields = fields;
    scenario->batch = batch;
    scenario->rate = rate;
    scenario->ceiling = ceiling;
    scenario->ops = self->ops;
    if (kind == KIND_RAW) {
        scenario->raw = true;
        //  Whole messages only
        scenario->ops = self->ops / (uint64_t) batch * (uint64_t) batch;
        if (scenario->ops == 0)
            scenario->ops = (uint64_t) batch;
        snprintf (scenario->id, sizeof (scenario->id), "raw-%df-%d", fields, batch);
        snprintf (scenario->title, sizeof (scenario->title),
                  "raw PUSH/PULL, %d fields, %d op%s/msg", fields, batch, batch == 1? "": "s");
    }
    else
    if (kind == KIND_LATENCY) {
        scenario->ops = (uint64_t) (rate * self->latency_secs);
        if (scenario->ops < 100)
            scenario->ops = 100;
        snprintf (scenario->id, sizeof (scenario->id), "latency-%d", rate);
        snprintf (scenario->title, sizeof (scenario->title), "zstate at %d ops/s offered", rate);
    }
    else {
        const char *prefix = kind == KIND_PERSIST? "persist": "zstate";
        if (batch > 1) {
            snprintf (scenario->id, sizeof (scenario->id), "%s-%df-batch%d", prefix, fields,
                      batch);
            snprintf (scenario->title, sizeof (scenario->title), "%s%s, %d fields, batch %d",
                      "zstate", kind == KIND_PERSIST? " + Redis": "", fields, batch);
        }
        else {
            snprintf (scenario->id, sizeof (scenario->id), "%s-%df-single", prefix, fields);
            snprintf (scenario->title, sizeof (scenario->title), "%s%s, %d fields, single set",
                      "zstate", kind == KIND_PERSIST? " + Redis": "", fields);
        }
    }
    return self->scenario_count++;
}

static void
s_scenarios_plan (bench_t *self)
{
    int field_sets [2] = { 2, 10 };
    int field_count = 2;
    if (self->fields) {
        field_sets [0] = self->fields;
        field_count = 1;
    }
    else
    if (self->quick)
        field_count = 1;
    int capacity = field_count * 4 + 2 + self->rate_count * 2;
    self->scenarios = (scenario_t *) zmalloc (sizeof (scenario_t) * capacity);
    self->outcomes = (outcome_t *) zmalloc (sizeof (outcome_t) * capacity);
    assert (self->scenarios && self->outcomes);
    int first_raw_single = -1, first_raw_batch = -1;
    for (int set = 0; set < field_count; set++) {
        int fields = field_sets [set];
        int raw_single = s_scenario_add (self, KIND_RAW, fields, 1, 0, -1);
        int raw_batch = s_scenario_add (self, KIND_RAW, fields, self->batch, 0, -1);
        s_scenario_add (self, KIND_ZSTATE, fields, 1, 0, raw_single);
        s_scenario_add (self, KIND_ZSTATE, fields, self->batch, 0, raw_batch);
        if (set == 0) {
            first_raw_single = raw_single;
            first_raw_batch = raw_batch;
        }
    }
    if (!self->no_redis) {
        s_scenario_add (self, KIND_PERSIST, field_sets [0], 1, 0, first_raw_single);
        s_scenario_add (self, KIND_PERSIST, field_sets [0], self->batch, 0, first_raw_batch);
    }
    for (int rate = 0; rate < self->rate_count; rate++) {
        //  The same paced traffic over libzmq alone: the floor under
        //  zstate's latency on this machine and transport
        int baseline = s_scenario_add (self, KIND_LATENCY, 2, 1, self->rates [rate], -1);
        scenario_t *scenario = &self->scenarios [baseline];
        scenario->raw = true;
        snprintf (scenario->id, sizeof (scenario->id), "raw-latency-%d", self->rates [rate]);
        snprintf (scenario->title, sizeof (scenario->title), "raw PUSH/PULL at %d ops/s",
                  self->rates [rate]);
        s_scenario_add (self, KIND_LATENCY, 2, 1, self->rates [rate], -1);
    }
    if (self->only_ids)
        for (int index = 0; index < self->scenario_count; index++) {
            scenario_t *scenario = &self->scenarios [index];
            //  A kind name selects every scenario of that kind, an id one
            bool wanted = (self->only & (1 << scenario->kind)) != 0;
            char *copy = strdup (self->only_ids);
            assert (copy);
            char *state = NULL;
            for (char *token = strtok_r (copy, ",", &state); token && !wanted;
                 token = strtok_r (NULL, ",", &state))
                wanted = streq (token, scenario->id);
            free (copy);
            scenario->skip = !wanted;
        }
}


//  --------------------------------------------------------------------------
//  Reporting: the table and the JSON record; only what this run measured,
//  and ratios to the ceiling rows of this run

static double
s_ratio (bench_t *self, int index)
{
    scenario_t *scenario = &self->scenarios [index];
    if (scenario->ceiling < 0)
        return 0;
    outcome_t *ceiling = &self->outcomes [scenario->ceiling];
    if (!ceiling->runs_ok || ceiling->median <= 0 || !self->outcomes [index].runs_ok)
        return 0;
    return self->outcomes [index].median / ceiling->median;
}

static void
s_print_table (bench_t *self)
{
    char text1 [32], text2 [32], text3 [32], text4 [32];
    printf ("\nzstate bench: %s, %s ops, %d producer thread%s on one client, batches of %d, "
            "pops of %d in a %s, %d run%s\n",
            streq (self->transport, "inproc")? "inproc (one process)":
            streq (self->transport, "tcp")? "tcp loopback (one process per side)":
            "ipc (one process per side)",
            s_commas ((double) self->ops, text1, sizeof (text1)), self->threads,
            self->threads == 1? "": "s", self->batch, self->pop,
            self->app_fd? "poll(2) loop on the fd":
            self->app_socket? "zloop on the socket": "zloop on the fd", self->runs,
            self->runs == 1? "": "s");
    printf ("ops/s = ops received by the consumer / (last pop - first send); %ld CPUs, "
            "shared: indicative figures\n\n", sysconf (_SC_NPROCESSORS_ONLN));
    bool throughput = false;
    for (int index = 0; index < self->scenario_count; index++)
        if (self->scenarios [index].kind != KIND_LATENCY && !self->scenarios [index].skip)
            throughput = true;
    if (throughput)
        printf ("%-40s %13s %13s %13s %8s %9s %9s\n", "throughput (ops/s)", "min",
                "median", "max", "ceiling", "RSS prod", "RSS cons");
    for (int index = 0; index < self->scenario_count; index++) {
        scenario_t *scenario = &self->scenarios [index];
        outcome_t *outcome = &self->outcomes [index];
        if (scenario->kind == KIND_LATENCY || scenario->skip)
            continue;
        if (!outcome->runs_ok) {
            printf ("%-40s FAILED: %s\n", scenario->title, outcome->error);
            continue;
        }
        char ratio_text [16] = "";
        double ratio = s_ratio (self, index);
        if (ratio > 0)
            snprintf (ratio_text, sizeof (ratio_text), "%.0f%%", ratio * 100);
        printf ("%-40s %13s %13s %13s %8s %6.1f MiB %5.1f MiB%s\n", scenario->title,
                s_commas (outcome->min, text1, sizeof (text1)),
                s_commas (outcome->median, text2, sizeof (text2)),
                s_commas (outcome->max, text3, sizeof (text3)),
                ratio_text,
                outcome->producer_rss_kib / 1024.0, outcome->consumer_rss_kib / 1024.0,
                outcome->runs_failed? "  (some runs failed)":
                scenario->kind == KIND_PERSIST && !outcome->redis_ok? "  (Redis incomplete)": "");
    }
    if (self->no_redis)
        printf ("%-40s skipped (--no-redis)\n", "zstate + Redis");
    else
    if (*self->redis_note)
        printf ("%-40s skipped: %s\n", "zstate + Redis", self->redis_note);

    bool latency_header = false;
    for (int index = 0; index < self->scenario_count; index++) {
        scenario_t *scenario = &self->scenarios [index];
        outcome_t *outcome = &self->outcomes [index];
        if (scenario->kind != KIND_LATENCY || scenario->skip)
            continue;
        if (!latency_header) {
            printf ("\n%-40s %13s %9s %9s %9s %9s %10s\n",
                    "latency, set to pop (usecs)", "achieved", "p50", "p99", "p999", "max",
                    "samples");
            latency_header = true;
        }
        if (!outcome->runs_ok) {
            printf ("%-40s FAILED: %s\n", scenario->title, outcome->error);
            continue;
        }
        printf ("%-40s %13s %9.0f %9.0f %9.0f %9.0f %10s\n", scenario->title,
                s_commas (outcome->median, text1, sizeof (text1)),
                outcome->p50, outcome->p99, outcome->p999, outcome->lmax,
                s_commas ((double) outcome->samples, text4, sizeof (text4)));
    }

    fflush (stdout);
}

static void
s_json_string (const char *text)
{
    putchar ('"');
    for (const char *cursor = text; *cursor; cursor++) {
        if (*cursor == '"' || *cursor == '\\')
            printf ("\\%c", *cursor);
        else
        if ((byte) *cursor < 0x20)
            printf ("\\u%04x", (byte) *cursor);
        else
            putchar (*cursor);
    }
    putchar ('"');
}

static void
s_print_json (bench_t *self)
{
    printf ("{\"tool\": \"zstate bench\", \"version\": \"%d.%d.%d\",\n",
            ZSTATE_VERSION_MAJOR, ZSTATE_VERSION_MINOR, ZSTATE_VERSION_PATCH);
    printf (" \"config\": {\"ops\": %" PRIu64 ", \"threads\": %d, \"batch\": %d, \"pop\": %d, "
            "\"transport\": \"%s\", \"runs\": %d, \"quick\": %s, \"app_loop\": \"%s\", "
            "\"cpus\": %ld},\n",
            self->ops, self->threads, self->batch, self->pop, self->transport, self->runs,
            self->quick? "true": "false",
            self->app_fd? "poll-fd": self->app_socket? "zloop-socket": "zloop-fd",
            sysconf (_SC_NPROCESSORS_ONLN));
    printf (" \"results\": [");
    bool first = true;
    for (int index = 0; index < self->scenario_count; index++) {
        scenario_t *scenario = &self->scenarios [index];
        outcome_t *outcome = &self->outcomes [index];
        const char *kinds [] = { "raw", "zstate", "persist", "latency" };
        if (scenario->skip)
            continue;
        printf ("%s\n  {\"id\": \"%s\", \"kind\": \"%s\", \"title\": ", first? "": ",",
                scenario->id, kinds [scenario->kind]);
        first = false;
        s_json_string (scenario->title);
        printf (", \"fields\": %d, \"ops_per_call\": %d, \"ops\": %" PRIu64 ", "
                "\"runs_ok\": %d, \"runs_failed\": %d",
                scenario->fields, scenario->batch, scenario->ops, outcome->runs_ok,
                outcome->runs_failed);
        if (scenario->raw)
            printf (", \"raw\": true");
        if (scenario->kind == KIND_RAW) {
            zframe_t *frame = s_encode_sample (scenario->fields, scenario->batch);
            printf (", \"message_bytes\": %zu", zframe_size (frame));
            zframe_destroy (&frame);
        }
        if (scenario->rate)
            printf (", \"offered_ops_per_s\": %d", scenario->rate);
        if (outcome->runs_ok) {
            printf (", \"ops_per_s\": {\"min\": %.0f, \"median\": %.0f, \"max\": %.0f, \"runs\": [",
                    outcome->min, outcome->median, outcome->max);
            for (int run = 0; run < outcome->runs_ok; run++)
                printf ("%s%.0f", run? ", ": "", outcome->rates [run]);
            printf ("]}");
            printf (", \"rss_kib\": {\"producer\": %ld, \"consumer\": %ld, \"same_process\": %s}",
                    outcome->producer_rss_kib, outcome->consumer_rss_kib,
                    streq (self->transport, "inproc")? "true": "false");
        }
        if (scenario->ceiling >= 0) {
            printf (", \"ceiling\": \"%s\"", self->scenarios [scenario->ceiling].id);
            double ratio = s_ratio (self, index);
            if (ratio > 0)
                printf (", \"ratio_to_ceiling\": %.3f", ratio);
            else
                printf (", \"ratio_to_ceiling\": null");
        }
        if (outcome->ops_per_message > 0)
            printf (", \"ops_per_message\": %.1f", outcome->ops_per_message);
        if (!scenario->raw && outcome->runs_ok)
            printf (", \"enobufs_retries\": %" PRIu64, outcome->retries);
        if (scenario->kind == KIND_PERSIST && outcome->runs_ok)
            printf (", \"redis_keys\": %" PRIu64 ", \"redis_complete\": %s",
                    outcome->redis_keys, outcome->redis_ok? "true": "false");
        if (scenario->kind == KIND_LATENCY && outcome->runs_ok)
            printf (", \"latency_us\": {\"p50\": %.0f, \"p99\": %.0f, \"p999\": %.0f, "
                    "\"max\": %.0f, \"samples\": %" PRIu64 "}",
                    outcome->p50, outcome->p99, outcome->p999, outcome->lmax, outcome->samples);
        if (*outcome->error) {
            printf (", \"error\": ");
            s_json_string (outcome->error);
        }
        printf ("}");
    }
    printf ("\n ]");
    if (*self->redis_note) {
        printf (",\n \"redis_skipped\": ");
        s_json_string (self->redis_note);
    }
    printf ("}\n");
    fflush (stdout);
}


//  --------------------------------------------------------------------------
//  The command line

static void
s_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate bench [OPTIONS]\n"
        "\n"
        "Measures, side by side: raw libzmq PUSH/PULL with messages of zstate's size\n"
        "(the ceiling); zstate producer -> consumer with single-op sets and batches,\n"
        "2 and 10 fields; the same persisted to a private redis-server; set-to-pop\n"
        "latency at fixed offered rates; and each side's peak RSS. Each side runs in\n"
        "its own process (one process for inproc). Exits 0 when every measurement\n"
        "ran, 1 when one failed, 2 on bad usage.\n"
        "\n"
        "  -n, --ops N          operations per measurement (default %d)\n"
        "  -f, --fields N       fields per SET: only N (default: 2, then 10)\n"
        "  -b, --batch N        ops per batch call and per raw batch message (default %d)\n"
        "  -p, --pop N          ops per pops (default %d)\n"
        "  -t, --threads N      producer threads on one client (default %d)\n"
        "  -T, --transport T    tcp, ipc or inproc (default tcp; inproc is one process)\n"
        "  -r, --runs N         runs of each measurement, min/median/max (default %d)\n"
        "      --rates LIST     offered rates for latency, ops/s (default 10000,100000)\n"
        "      --latency-secs S length of one latency run (default %.0f)\n"
        "      --no-redis       skip the measurements with the DB writer\n"
        "      --app-fd         the application polls zstate_consumer_fd with poll(2)\n"
        "                       instead of its zloop (zloop_poller on the same fd)\n"
        "      --app-socket     the application's zloop reads zstate_consumer_socket\n"
        "                       instead of polling the fd\n"
        "      --only LIST      run only these kinds (raw, zstate, persist, latency)\n"
        "                       or measurements (ids as in --json: zstate-2f-single)\n"
        "  -q, --quick          tiny configuration for make check: %d ops, 1 run,\n"
        "                       2 fields, latency at 10000 ops/s; Redis if available\n"
        "  -j, --json           print a JSON record instead of the table\n"
        "  -v, --verbose        log library activity\n"
        "  -h, --help           this text\n",
        OPS_DEFAULT, BATCH_DEFAULT, POP_DEFAULT, THREADS_DEFAULT, RUNS_DEFAULT,
        LATENCY_SECS, OPS_QUICK);
}

//  Returns 0 to run, 1 when --help was shown, 2 on bad usage
static int
s_options_parse (bench_t *self, int argc, char *argv [])
{
    static struct option longopts [] = {
        { "ops",          required_argument, NULL, 'n' },
        { "fields",       required_argument, NULL, 'f' },
        { "batch",        required_argument, NULL, 'b' },
        { "pop",          required_argument, NULL, 'p' },
        { "threads",      required_argument, NULL, 't' },
        { "transport",    required_argument, NULL, 'T' },
        { "runs",         required_argument, NULL, 'r' },
        { "rates",        required_argument, NULL, 'R' },
        { "latency-secs", required_argument, NULL, 'L' },
        { "no-redis",     no_argument,       NULL, 'N' },
        { "only",         required_argument, NULL, 'O' },
        { "app-fd",       no_argument,       NULL, 'A' },
        { "app-socket",   no_argument,       NULL, 'S' },
        { "quick",        no_argument,       NULL, 'q' },
        { "json",         no_argument,       NULL, 'j' },
        { "verbose",      no_argument,       NULL, 'v' },
        { "help",         no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool ops_given = false, runs_given = false, rates_given = false, secs_given = false;
    self->ops = OPS_DEFAULT;
    self->batch = BATCH_DEFAULT;
    self->pop = POP_DEFAULT;
    self->threads = THREADS_DEFAULT;
    self->transport = "tcp";
    self->runs = RUNS_DEFAULT;
    self->latency_secs = LATENCY_SECS;
    self->rates [0] = 10000;
    self->rates [1] = 100000;
    self->rate_count = 2;

    optind = 1;
    opterr = 0;                 //  We word the errors ourselves
    while (true) {
        int option = getopt_long (argc, argv, ":n:f:b:p:t:T:r:qjvh", longopts, NULL);
        if (option == -1)
            break;
        long value;
        switch (option) {
            case 'n':
                if (zstate_tool_number ("bench", "--ops", optarg, 1, 1000000000L, &value))
                    return 2;
                self->ops = (uint64_t) value;
                ops_given = true;
                break;
            case 'f':
                if (zstate_tool_number ("bench", "--fields", optarg, 2, FIELDS_MAX, &value))
                    return 2;
                self->fields = (int) value;
                break;
            case 'b':
                if (zstate_tool_number ("bench", "--batch", optarg, 2, 65536, &value))
                    return 2;
                self->batch = (int) value;
                break;
            case 'p':
                if (zstate_tool_number ("bench", "--pop", optarg, 1, 65536, &value))
                    return 2;
                self->pop = (int) value;
                break;
            case 't':
                if (zstate_tool_number ("bench", "--threads", optarg, 1, THREADS_MAX, &value))
                    return 2;
                self->threads = (int) value;
                break;
            case 'T':
                if (!streq (optarg, "tcp") && !streq (optarg, "ipc") && !streq (optarg, "inproc")) {
                    fprintf (stderr, "zstate bench: --transport is tcp, ipc or inproc, not '%s'\n",
                             optarg);
                    return 2;
                }
                self->transport = optarg;
                break;
            case 'r':
                if (zstate_tool_number ("bench", "--runs", optarg, 1, RUNS_MAX, &value))
                    return 2;
                self->runs = (int) value;
                runs_given = true;
                break;
            case 'R': {
                self->rate_count = 0;
                char *copy = strdup (optarg);
                assert (copy);
                char *state = NULL;
                bool good = true;
                for (char *token = strtok_r (copy, ",", &state); token && good;
                     token = strtok_r (NULL, ",", &state)) {
                    if (self->rate_count == RATES_MAX
                    ||  !zstate_tool_parse_number (token, 1, 10000000, &value))
                        good = false;
                    else
                        self->rates [self->rate_count++] = (int) value;
                }
                free (copy);
                if (!good) {
                    fprintf (stderr, "zstate bench: --rates wants up to %d rates from 1 to "
                                     "10000000 ops/s, comma-separated, not '%s'\n",
                             RATES_MAX, optarg);
                    return 2;
                }
                rates_given = true;
                break;
            }
            case 'L': {
                char *end;
                double secs = strtod (optarg, &end);
                if (end == optarg || *end || !(secs >= 0.01 && secs <= 3600)) {
                    fprintf (stderr, "zstate bench: --latency-secs wants seconds from 0.01 "
                                     "to 3600, not '%s'\n", optarg);
                    return 2;
                }
                self->latency_secs = secs;
                secs_given = true;
                break;
            }
            case 'N':
                self->no_redis = true;
                break;
            case 'A':
                self->app_fd = true;
                break;
            case 'S':
                self->app_socket = true;
                break;
            case 'O': {
                char *copy = strdup (optarg);
                assert (copy);
                char *state = NULL;
                bool good = true;
                for (char *token = strtok_r (copy, ",", &state); token && good;
                     token = strtok_r (NULL, ",", &state)) {
                    if (streq (token, "raw"))
                        self->only |= 1 << KIND_RAW;
                    else
                    if (streq (token, "zstate"))
                        self->only |= 1 << KIND_ZSTATE;
                    else
                    if (streq (token, "persist"))
                        self->only |= 1 << KIND_PERSIST;
                    else
                    if (streq (token, "latency"))
                        self->only |= 1 << KIND_LATENCY;
                    else
                    if (!*token)
                        good = false;
                }
                free (copy);
                if (!good) {
                    fprintf (stderr, "zstate bench: --only wants kinds or ids, comma-separated, "
                                     "not '%s'\n", optarg);
                    return 2;
                }
                self->only_ids = optarg;
                break;
            }
            case 'q':
                self->quick = true;
                break;
            case 'j':
                self->json = true;
                break;
            case 'v':
                self->verbose = true;
                break;
            case 'h':
                s_usage (stdout);
                return 1;
            case ':':
                fprintf (stderr, "zstate bench: option '%s' needs a value\n",
                         argv [optind - 1]);
                return 2;
            default:
                if (optopt)
                    fprintf (stderr, "zstate bench: unknown option '-%c' "
                                     "(see zstate bench --help)\n",
                             optopt);
                else
                    fprintf (stderr, "zstate bench: unknown option '%s' "
                                     "(see zstate bench --help)\n",
                             argv [optind - 1]);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "zstate bench: unexpected argument '%s' (see zstate bench --help)\n",
                 argv [optind]);
        return 2;
    }
    if (self->quick) {
        //  Explicit options still win over the quick defaults
        if (!ops_given)
            self->ops = OPS_QUICK;
        if (!runs_given)
            self->runs = 1;
        if (!rates_given)
            self->rate_count = 1;
        if (!secs_given)
            self->latency_secs = LATENCY_SECS_QUICK;
    }
    if (self->ops < (uint64_t) self->threads) {
        fprintf (stderr, "zstate bench: --ops must be at least --threads\n");
        return 2;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  zstate bench

int
zstate_bench_main (int argc, char *argv [])
{
    bench_t bench;
    memset (&bench, 0, sizeof (bench));
    bench_t *self = &bench;
    int rc = s_options_parse (self, argc, argv);
    if (rc)
        return rc == 1? 0: rc;
    self->out = self->json? stderr: stdout;
    //  Library logs go to stderr, so stdout carries only the results; the
    //  children read this when they start CZMQ
    setenv ("ZSYS_LOGSTREAM", "stderr", 0);
    //  Ctrl-C ends the run cleanly: the children see it too, give up and
    //  report, and we stop Redis and remove its directory
    zsys_catch_interrupts ();
    s_scenarios_plan (self);
    bool anything = false;
    for (int index = 0; index < self->scenario_count; index++)
        if (!self->scenarios [index].skip)
            anything = true;
    if (!anything) {
        fprintf (stderr, "zstate bench: --only '%s' selects no measurement (see --json for ids)\n",
                 self->only_ids);
        free (self->scenarios);
        free (self->outcomes);
        return 2;
    }

    //  One private redis-server for every persisted run, flushed before
    //  each. Without it the persisted rows are skipped, not failed.
    bool wants_redis = false;
    for (int index = 0; index < self->scenario_count; index++)
        if (self->scenarios [index].kind == KIND_PERSIST && !self->scenarios [index].skip)
            wants_redis = true;
    if (wants_redis) {
        self->redis_server = zstate_redis_server_new (false);
        if (self->redis_server) {
            snprintf (self->redis_endpoint, sizeof (self->redis_endpoint), "unix:%s",
                      zstate_redis_server_socket (self->redis_server));
            self->redis = zstate_redis_new (self->redis_endpoint);
            assert (self->redis);
            zstate_redis_set_timeouts (self->redis, 2000, 30000);
            if (zstate_redis_connect (self->redis))
                snprintf (self->redis_note, sizeof (self->redis_note), "%s", zstate_reason ());
        }
        else
            snprintf (self->redis_note, sizeof (self->redis_note), "no redis-server: %s",
                      zstate_reason ());
        if (*self->redis_note) {
            for (int index = 0; index < self->scenario_count; index++)
                if (self->scenarios [index].kind == KIND_PERSIST)
                    self->scenarios [index].skip = true;
            fprintf (self->out, "zstate bench: persisted runs skipped: %s\n", self->redis_note);
        }
    }

    int measurements = 0;
    for (int index = 0; index < self->scenario_count; index++)
        if (!self->scenarios [index].skip)
            measurements++;
    char ops_text [32];
    fprintf (self->out, "zstate bench: %d measurements x %d run%s, %s ops each, over %s\n",
             measurements, self->runs, self->runs == 1? "": "s",
             s_commas ((double) self->ops, ops_text, sizeof (ops_text)), self->transport);
    fflush (self->out);
    for (int index = 0; index < self->scenario_count && !zsys_interrupted; index++)
        if (!self->scenarios [index].skip)
            s_scenario_run (self, index);

    int status = 0;
    for (int index = 0; index < self->scenario_count; index++)
        if (!self->scenarios [index].skip
        &&  (self->outcomes [index].runs_failed || !self->outcomes [index].runs_ok
        ||   (self->scenarios [index].kind == KIND_PERSIST && !self->outcomes [index].redis_ok)))
            status = 1;
    if (zsys_interrupted)
        status = 130;
    else
    if (self->json)
        s_print_json (self);
    else
        s_print_table (self);

    zstate_redis_destroy (&self->redis);
    zstate_redis_server_destroy (&self->redis_server);
    free (self->scenarios);
    free (self->outcomes);
    return status;
}
