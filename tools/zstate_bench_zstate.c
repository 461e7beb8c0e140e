/*  =========================================================================
    zstate_bench_zstate - zstate bench: zstate producer and consumer

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_bench.h"

#include <poll.h>

//  --------------------------------------------------------------------------
//  Child side: the consumer. Binds, reports READY, receives until every
//  operation arrived, reports the result.

typedef struct _sink_t sink_t;

//  One consumer table the sink pops
typedef struct {
    sink_t *sink;
    zstate_consumer_t *consumer;
} tap_t;

struct _sink_t {
    bench_t *bench;
    scenario_t *scenario;
    zstate_consumer_t *consumer;    //  The first table
    tap_t *taps;                //  Every table
    int tables;
    zstate_batch_t *batch;
    uint64_t expected;
    uint64_t popped;
    uint64_t progress_seen;     //  popped at the last stall check
    int64_t progress_at;        //  zclock_mono () then
    int64_t last_pop;
    histo_t histo;
    bool stalled;
};

//  Pop what one table holds
static int
s_tap_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    tap_t *tap = (tap_t *) arg;
    sink_t *self = tap->sink;
    size_t count = zstate_consumer_pops (tap->consumer, self->batch,
                                         (size_t) self->bench->pop);
    if (self->histo.buckets) {
        int64_t now = zclock_usecs ();
        for (size_t index = 0; index < count; index++) {
            const char *stamp = zstate_batch_get (self->batch, index, "ts");
            if (stamp)
                zstate_bench_histo_add (&self->histo, now - strtoll (stamp, NULL, 10));
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
s_sink_ready (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) reader;
    return s_tap_ready (loop, NULL, &((sink_t *) arg)->taps [0]);
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

//  Pop until every operation arrived, progress stalls or we are
//  interrupted. Returns 0, or -1 with report->error set when the loop
//  could not start.
static int
s_sink_run (sink_t *self, report_t *report)
{
    if (self->bench->app_fd && self->tables == 1) {
        //  A plain poll(2) loop on the consumer's fd, as a non-CZMQ
        //  application would run it
        struct pollfd item = { zstate_consumer_fd (self->consumer), POLLIN, 0 };
        while (!zsys_interrupted) {
            int events = poll (&item, 1, 1000);
            if (events > 0 && s_sink_ready (NULL, NULL, self) == -1)
                break;
            if (s_sink_check (NULL, 0, self) == -1)
                break;
        }
        return 0;
    }
    //  The application's own zloop, woken by the consumer's fd (the
    //  default: a plain fd costs the loop one poll(2) entry) or by its
    //  socket (a zmq socket costs libzmq's event checks on every pass)
    zloop_t *loop = zloop_new ();
    assert (loop);
    int rc = 0;
    if (self->bench->app_socket && self->tables == 1) {
        //  NULL with EMFILE when the process is out of sockets
        zsock_t *socket = zstate_consumer_socket (self->consumer);
        if (!socket) {
            snprintf (report->error, sizeof (report->error), "consumer socket: %s",
                      zstate_reason ());
            rc = -1;
        }
        else
            zloop_reader (loop, socket, s_sink_ready, self);
    }
    else
        for (int index = 0; index < self->tables; index++) {
            zmq_pollitem_t item = { NULL, zstate_consumer_fd (self->taps [index].consumer),
                                    ZMQ_POLLIN, 0 };
            zloop_poller (loop, &item, s_tap_ready, &self->taps [index]);
        }
    if (rc == 0) {
        zloop_timer (loop, 1000, 0, s_sink_check, self);
        zloop_start (loop);
    }
    zloop_destroy (&loop);
    return rc;
}

//  The consumer and, for KIND_PERSIST, its writer, bound where the
//  producer can reach it. Returns 0, or -1 with report->error set.
static int
s_consumer_setup (bench_t *bench, scenario_t *scenario, zstate_server_t *server,
                  zstate_consumer_t **consumer_p, zstate_writer_t **writer_p,
                  char *endpoint, size_t size, report_t *report)
{
    zstate_consumer_t *consumer = zstate_consumer_new (server, BENCH_DB, BENCH_TABLE);
    if (!consumer) {
        snprintf (report->error, sizeof (report->error), "consumer: %.200s", zstate_reason ());
        return -1;
    }
    *consumer_p = consumer;
    zstate_consumer_set_verbose (consumer, bench->verbose);
    if (bench->no_sweep)
        zstate_consumer_set_sweep (consumer, false);
    if (scenario->kind == KIND_PERSIST) {
        zstate_writer_t *writer = zstate_writer_new ();
        assert (writer);
        *writer_p = writer;
        zstate_writer_set_verbose (writer, bench->verbose);
        if (zstate_writer_connect (writer, bench->redis_endpoint)) {
            snprintf (report->error, sizeof (report->error), "writer: %s", zstate_reason ());
            return -1;
        }
        if (zstate_consumer_forward (consumer, zstate_writer_endpoint (writer))) {
            snprintf (report->error, sizeof (report->error), "forward: %s", zstate_reason ());
            return -1;
        }
    }
    zstate_bench_bind_endpoint (bench, endpoint, size);
    int port = scenario->kind == KIND_SONIC? zstate_bench_sonic_bind (server, endpoint)
                                           : zstate_server_bind (server, endpoint);
    if (port < 0) {
        snprintf (report->error, sizeof (report->error), "bind %s: %s", endpoint,
                  zstate_reason ());
        return -1;
    }
    if (port > 0)
        snprintf (endpoint, size, "tcp://127.0.0.1:%d", port);
    return 0;
}

//  The sink's tables: the first, set up already, and the others of a
//  many-tables row. Returns 0, or -1 with report->error set.
static int
s_sink_taps (sink_t *self, zstate_server_t *server, report_t *report)
{
    self->tables = zstate_bench_tables (self->scenario);
    self->taps = (tap_t *) zmalloc (sizeof (tap_t) * (size_t) self->tables);
    assert (self->taps);
    for (int index = 0; index < self->tables; index++) {
        tap_t *tap = &self->taps [index];
        tap->sink = self;
        tap->consumer = self->consumer;
        if (index == 0)
            continue;
        char table [64];
        zstate_bench_table_name (index, table, sizeof (table));
        tap->consumer = zstate_consumer_new (server, BENCH_DB, table);
        if (!tap->consumer) {
            snprintf (report->error, sizeof (report->error), "consumer %d of %d: %.200s",
                      index + 1, self->tables, zstate_reason ());
            return -1;
        }
        if (self->bench->no_sweep)
            zstate_consumer_set_sweep (tap->consumer, false);
    }
    return 0;
}

//  CURVE on for a CURVE row. Returns 0, or -1 with the error in report.
static int
s_server_curve (bench_t *bench, scenario_t *scenario, zstate_server_t *server,
                report_t *report)
{
    char server_cert [320], clients [320];
    snprintf (server_cert, sizeof (server_cert), "%s/server", bench->curve_dir);
    snprintf (clients, sizeof (clients), "%s/clients", bench->curve_dir);
    if (scenario->curve && zstate_server_set_curve (server, server_cert, clients)) {
        snprintf (report->error, sizeof (report->error), "curve: %s", zstate_reason ());
        return -1;
    }
    return 0;
}

//  What the sink got into report, once the writer confirmed everything
static void
s_consumer_result (sink_t *sink, zstate_server_t *server, zstate_writer_t *writer,
                   report_t *report)
{
    report->ops = sink->popped;
    report->last_pop = sink->last_pop;
    if (sink->popped >= sink->expected) {
        report->ok = 1;
        if (writer) {
            //  A writer that fell behind gets the rest by REPLAY from the
            //  client, after the application popped it: persisted is once
            //  no session is behind and the writer confirmed what it got
            zstate_server_stats_t server_stats;
            int64_t deadline = zclock_mono () + FLUSH_MSECS;
            while (zstate_server_stats (server, &server_stats) == 0
            &&     server_stats.behind > 0 && zclock_mono () < deadline)
                zclock_sleep (1);
            int rc = zstate_writer_flush (writer, FLUSH_MSECS);
            if (rc == 0)
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
    if (sink->stalled)
        snprintf (report->error, sizeof (report->error),
                  "no progress for %d s after %" PRIu64 " of %" PRIu64 " ops",
                  STALL_MSECS / 1000, sink->popped, sink->expected);
    else
    if (!*report->error)
        snprintf (report->error, sizeof (report->error), "interrupted");
    zstate_bench_histo_report (&sink->histo, report);
}

void
zstate_bench_consumer_zstate (bench_t *bench, scenario_t *scenario,
                              zstate_bench_ready_fn *ready, void *ready_arg,
                              report_t *report)
{
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_server_set_verbose (server, bench->verbose);
    zstate_consumer_t *consumer = NULL;
    zstate_writer_t *writer = NULL;
    char endpoint [200];
    if (s_server_curve (bench, scenario, server, report) == 0
    &&  s_consumer_setup (bench, scenario, server, &consumer, &writer,
                          endpoint, sizeof (endpoint), report) == 0) {
        sink_t sink;
        memset (&sink, 0, sizeof (sink));
        sink.bench = bench;
        sink.scenario = scenario;
        sink.consumer = consumer;
        sink.batch = zstate_batch_new ();
        sink.expected = scenario->ops;
        sink.progress_at = zclock_mono ();
        if (scenario->kind == KIND_LATENCY)
            zstate_bench_histo_init (&sink.histo, scenario->ops * WARMUP_PERCENT / 100);
        if (s_sink_taps (&sink, server, report) == 0) {
            usage_t start;
            zstate_bench_usage_start (&start);
            ready (ready_arg, endpoint);
            //  From here on, as the refused clients start after READY
            uint64_t refused = scenario->refused? zstate_bench_refused_count (server): 0;
            report->refused_since = zclock_usecs ();
            s_sink_run (&sink, report);
            if (scenario->refused)
                report->refused = zstate_bench_refused_count (server) - refused;
            s_consumer_result (&sink, server, writer, report);
            zstate_bench_usage_since (&start, report);
        }
        zstate_batch_destroy (&sink.batch);
        free (sink.taps);
    }
    //  A failed consumer stops its producer thread too (ROLE_BOTH)
    if (!report->ok)
        bench->stop = 1;
    report->rss_kib = zstate_bench_rss_peak ();
    //  Teardown is left to _exit: destroying a busy pipeline would only
    //  add time and risk to a measurement that is over
}


//  --------------------------------------------------------------------------
//  Child side: the producer. Connects, sends, flushes, reports.

//  Retry a send refused with ENOBUFS: the client queue is bounded and
//  pushes back while the consumer catches up
bool
zstate_bench_sender_retry (sender_t *self)
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
    if (scenario->tables > 1 || scenario->value_size) {
        zstate_bench_sender_rows (self);
        return NULL;
    }
    zstate_producer_t *producer = zstate_producer_new (self->client, BENCH_DB, BENCH_TABLE);
    assert (producer);
    entry_t entry;
    zstate_bench_entry_init (&entry, scenario->fields);
    zstate_batch_t *batch = zstate_batch_new ();
    pthread_barrier_wait (self->start);

    uint64_t last = self->first + self->count;
    if (scenario->batch > 1) {
        uint64_t index = self->first;
        while (index < last && !self->error) {
            zstate_batch_reset (batch);
            for (int count = 0; count < scenario->batch && index < last; count++) {
                zstate_bench_entry_fill (&entry, index++);
                zstate_bench_entry_append (&entry, batch);
            }
            while (zstate_producer_send (producer, batch))
                if (!zstate_bench_sender_retry (self))
                    break;
        }
    }
    else
    if (scenario->fields == 2) {
        //  The plain call every application makes
        for (uint64_t index = self->first; index < last && !self->error; index++) {
            zstate_bench_entry_fill (&entry, index);
            while (zstate_producer_set (producer, entry.key, "nexthop", entry.nexthop,
                                        "ifname", entry.ifname, NULL))
                if (!zstate_bench_sender_retry (self))
                    break;
        }
    }
    else
        zstate_bench_send_singles (self, &producer, 1);
    zstate_batch_destroy (&batch);
    zstate_producer_destroy (&producer);
    return NULL;
}



//  Send the scenario's operations from bench->threads threads on one
//  client, started together. Returns true when every thread sent all.
static bool
s_senders_run (bench_t *bench, scenario_t *scenario, zstate_client_t *client,
               report_t *report)
{
    int threads = bench->threads;
    sender_t *senders = (sender_t *) zmalloc (sizeof (sender_t) * threads);
    assert (senders);
    pthread_barrier_t start;
    pthread_barrier_init (&start, NULL, (unsigned) threads + 1);
    //  This process's part of the operations, split among its threads
    uint64_t first, count;
    zstate_bench_share (bench, scenario, &first, &count);
    uint64_t share = count / (uint64_t) threads;
    for (int index = 0; index < threads; index++) {
        sender_t *sender = &senders [index];
        sender->bench = bench;
        sender->scenario = scenario;
        sender->client = client;
        sender->first = first + share * (uint64_t) index;
        sender->count = index == threads - 1? first + count - sender->first: share;
        sender->start = &start;
        int rc = pthread_create (&sender->thread, NULL, s_sender_thread, sender);
        assert (rc == 0);
    }
    report->first_send = zclock_usecs ();
    pthread_barrier_wait (&start);
    bool ok = true;
    for (int index = 0; index < threads; index++) {
        pthread_join (senders [index].thread, NULL);
        report->retries += senders [index].retries;
        if (senders [index].error && ok) {
            ok = false;
            snprintf (report->error, sizeof (report->error), "send: %s",
                      senders [index].reason);
        }
    }
    pthread_barrier_destroy (&start);
    free (senders);
    return ok;
}

//  One paced thread, the caller's. Returns true when it sent all.
static bool
s_sender_paced_run (bench_t *bench, scenario_t *scenario, zstate_client_t *client,
                    report_t *report)
{
    sender_t sender;
    memset (&sender, 0, sizeof (sender));
    sender.bench = bench;
    sender.scenario = scenario;
    sender.client = client;
    report->first_send = zclock_usecs ();
    zstate_bench_sender_paced (&sender);
    report->retries = sender.retries;
    if (sender.error) {
        snprintf (report->error, sizeof (report->error), "send: %s", sender.reason);
        return false;
    }
    return true;
}

void
zstate_bench_producer_zstate (bench_t *bench, scenario_t *scenario, const char *endpoint,
                              report_t *report)
{
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    zstate_client_set_verbose (client, bench->verbose);
    char client_cert [320], server_cert [320];
    snprintf (client_cert, sizeof (client_cert), "%s/client", bench->curve_dir);
    snprintf (server_cert, sizeof (server_cert), "%s/server", bench->curve_dir);
    if ((scenario->curve && zstate_client_set_curve (client, client_cert, server_cert))
    ||  zstate_client_connect (client, endpoint)) {
        snprintf (report->error, sizeof (report->error), "connect %s: %s", endpoint,
                  zstate_reason ());
        report->rss_kib = zstate_bench_rss_peak ();
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
        report->rss_kib = zstate_bench_rss_peak ();
        return;
    }
    bool ok;
    usage_t start;
    zstate_bench_usage_start (&start);
    if (scenario->kind == KIND_LATENCY)
        ok = s_sender_paced_run (bench, scenario, client, report);
    else
        ok = s_senders_run (bench, scenario, client, report);
    if (ok && zstate_client_flush (client, FLUSH_MSECS)) {
        ok = false;
        snprintf (report->error, sizeof (report->error), "flush: %s", zstate_reason ());
    }
    zstate_bench_usage_since (&start, report);
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    report->ops = stats.ops_sent;
    report->messages = stats.messages_sent;
    report->ok = ok;
    report->rss_kib = zstate_bench_rss_peak ();
    //  The client stays up: what it handed to libzmq may still be on its
    //  way, and _exit after the parent's go-ahead ends it
}
