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
    libzmq PUSH to PULL, zstate's own pre-encoded frames, one and batch
    operations a message, the receiver decoding nothing); zstate producer
    to consumer with single-op sets and with batches, for 2-field route
    entries and a 10-field op of SONiC's size; the rows of the field
    (zstate_bench_rows.c); the same with the DB writer on, timed until
    Redis confirmed everything; latency percentiles at fixed offered
    rates; and the peak RSS, CPU and read/write system calls of each side.
    doc/bench.md tells the rows apart.
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

#include "zstate_bench.h"

#include <getopt.h>

//  The command line's defaults and bounds
#define OPS_DEFAULT         1000000
#define OPS_QUICK           20000
#define THREADS_DEFAULT     1
#define CLIENTS_DEFAULT     4
#define THREADS_MAX         64
#define BATCH_DEFAULT       128
#define POP_DEFAULT         128
#define RUNS_DEFAULT        3
#define LATENCY_SECS        2.0         //  length of one latency run
#define LATENCY_SECS_QUICK  0.2

//  --------------------------------------------------------------------------
//  Parent side: all runs of one scenario, and their summary

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

//  The latency figures of each good run, for their medians
typedef struct {
    double p50 [RUNS_MAX], p99 [RUNS_MAX], p999 [RUNS_MAX], lmax [RUNS_MAX];
    uint64_t messages;          //  wire messages the producer sent, all runs
    uint64_t ops_sent;          //  operations it sent, all runs
} runs_t;

//  Check Redis after a persisted run: every key is distinct, so Redis must
//  hold one hash per op, besides the writer's watermarks and instance key.
//  Returns the keys Redis holds, or -1.
static long long
s_persist_check (bench_t *self, scenario_t *scenario, outcome_t *outcome,
                 report_t *consumer)
{
    long long keys = -1;
    if (zstate_redis_command (self->redis, "DBSIZE", NULL) == ZSTATE_REDIS_INTEGER)
        keys = zstate_redis_integer (self->redis, -1);
    if (keys > 0 && zstate_redis_command (self->redis, "EXISTS", "_ZSTATE_INSTANCE",
                                          "_ZSTATE_PERSISTED:" BENCH_TABLE, NULL)
                    == ZSTATE_REDIS_INTEGER)
        keys -= zstate_redis_integer (self->redis, -1);
    outcome->redis_keys = keys < 0? 0: (uint64_t) keys;
    if (keys != (long long) scenario->ops || consumer->failed) {
        outcome->redis_ok = false;
        snprintf (outcome->error, sizeof (outcome->error),
                  "Redis holds %lld keys of %" PRIu64 ", %" PRIu64 " failed",
                  keys, scenario->ops, consumer->failed);
    }
    return keys;
}

//  Add one good run to the outcome and print its line
static void
s_run_record (bench_t *self, scenario_t *scenario, outcome_t *outcome, runs_t *runs,
              int run, report_t *consumer, report_t *producer)
{
    int64_t end = scenario->kind == KIND_PERSIST? consumer->persisted: consumer->last_pop;
    double secs = (end - producer->first_send) / 1e6;
    double rate = secs > 0? consumer->ops / secs: 0;
    outcome->rates [outcome->runs_ok] = rate;
    if (scenario->kind == KIND_LATENCY) {
        runs->p50 [outcome->runs_ok] = consumer->p50;
        runs->p99 [outcome->runs_ok] = consumer->p99;
        runs->p999 [outcome->runs_ok] = consumer->p999;
        runs->lmax [outcome->runs_ok] = consumer->max;
        outcome->samples += consumer->samples;
    }
    outcome->runs_ok++;
    if (producer->rss_kib > outcome->producer_rss_kib)
        outcome->producer_rss_kib = producer->rss_kib;
    if (consumer->rss_kib > outcome->consumer_rss_kib)
        outcome->consumer_rss_kib = consumer->rss_kib;
    outcome->retries += producer->retries;
    outcome->producer_usage.cpu_usecs += producer->usage.cpu_usecs;
    outcome->producer_usage.rw_syscalls += producer->usage.rw_syscalls;
    outcome->consumer_usage.cpu_usecs += consumer->usage.cpu_usecs;
    outcome->consumer_usage.rw_syscalls += consumer->usage.rw_syscalls;
    outcome->usage_ops += consumer->ops;
    runs->messages += producer->messages;
    runs->ops_sent += producer->ops;

    char rate_text [32];
    fprintf (self->out, "  %-40s run %d/%d: %13s ops/s", scenario->title, run + 1,
             self->runs, zstate_bench_commas (rate, rate_text, sizeof (rate_text)));
    if (scenario->kind == KIND_LATENCY)
        fprintf (self->out, "  p50 %.0f  p99 %.0f  p999 %.0f usecs", consumer->p50,
                 consumer->p99, consumer->p999);
    if (scenario->kind == KIND_PERSIST)
        fprintf (self->out, "  (%lld keys in Redis)",
                 s_persist_check (self, scenario, outcome, consumer));
    if (scenario->refused)
        fprintf (self->out, "  (%.0f refused handshakes/s)", consumer->refused * 1e6
                 / (double) (consumer->last_pop - consumer->refused_since));
    fprintf (self->out, "\n");
    fflush (self->out);
}

//  min, median and max over the good runs
static void
s_runs_summarize (scenario_t *scenario, outcome_t *outcome, runs_t *runs)
{
    if (!outcome->runs_ok)
        return;
    double sorted [RUNS_MAX];
    memcpy (sorted, outcome->rates, sizeof (double) * outcome->runs_ok);
    outcome->median = s_median (sorted, outcome->runs_ok);
    outcome->min = sorted [0];
    outcome->max = sorted [outcome->runs_ok - 1];
    if (scenario->kind == KIND_LATENCY) {
        outcome->p50 = s_median (runs->p50, outcome->runs_ok);
        outcome->p99 = s_median (runs->p99, outcome->runs_ok);
        outcome->p999 = s_median (runs->p999, outcome->runs_ok);
        outcome->lmax = s_median (runs->lmax, outcome->runs_ok);
    }
    if (runs->messages && !scenario->raw)
        outcome->ops_per_message = (double) runs->ops_sent / runs->messages;
}

//  All runs of one scenario
static void
s_scenario_run (bench_t *self, int index)
{
    scenario_t *scenario = &self->scenarios [index];
    outcome_t *outcome = &self->outcomes [index];
    runs_t runs;
    memset (&runs, 0, sizeof (runs));
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
        if (zstate_bench_measure (self, scenario, &consumer, &producer, error,
                                  sizeof (error))) {
            outcome->runs_failed++;
            snprintf (outcome->error, sizeof (outcome->error), "%s", error);
            fprintf (self->out, "  %-40s run %d/%d: FAILED: %s\n", scenario->title,
                     run + 1, self->runs, error);
            fflush (self->out);
            continue;
        }
        s_run_record (self, scenario, outcome, &runs, run, &consumer, &producer);
    }
    s_runs_summarize (scenario, outcome, &runs);
    if (self->strace && outcome->runs_ok && !zsys_interrupted)
        zstate_bench_traced_run (self, index);
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
        //  zstate's own frames, pre-encoded, the receiver decoding nothing;
        //  across processes but for inproc
        snprintf (scenario->title, sizeof (scenario->title), "raw %s, %d fields, "
                  "%d op%s/msg", streq (self->transport, "inproc")? "PUSH/PULL": "x-proc",
                  fields, batch, batch == 1? "": "s");
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

//  The rows of the field: single ops round robin over 16 and 256 tables
//  (compared with one table), 1 KiB and 64 KiB values, and many client
//  processes into one server (compared with the raw batch row)
#define ROWS_MAX            5
#define VALUE_BYTES_MAX     (1024LL * 1024 * 1024)  //  a large-value row moves at most this
#define VALUE_BYTES_QUICK   (64LL * 1024 * 1024)    //  ... with --quick

static void
s_rows_plan (bench_t *self, int fields, int one_table, int raw_batch)
{
    int tables [2] = { 16, 256 };
    for (int index = 0; index < 2; index++) {
        int row = s_scenario_add (self, KIND_ZSTATE, fields, 1, 0, one_table);
        self->scenarios [row].tables = tables [index];
        zstate_bench_row_name (&self->scenarios [row]);
    }
    int values [2] = { 1024, 64 * 1024 };
    for (int index = 0; index < 2; index++) {
        int row = s_scenario_add (self, KIND_ZSTATE, 2, self->batch, 0, -1);
        scenario_t *scenario = &self->scenarios [row];
        scenario->value_size = values [index];
        long long bytes_max = self->quick? VALUE_BYTES_QUICK: VALUE_BYTES_MAX;
        if ((long long) scenario->ops * values [index] > bytes_max)
            scenario->ops = (uint64_t) (bytes_max / values [index]);
        zstate_bench_row_name (scenario);
    }
    //  inproc is one process: no clients of their own there
    if (!streq (self->transport, "inproc") && self->clients > 1) {
        int row = s_scenario_add (self, KIND_ZSTATE, fields, self->batch, 0, raw_batch);
        self->scenarios [row].clients = self->clients;
        zstate_bench_row_name (&self->scenarios [row]);
    }
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
    int capacity = field_count * 10 + 2 + self->rate_count * 2 + ROWS_MAX + 4;
    self->scenarios = (scenario_t *) zmalloc (sizeof (scenario_t) * capacity);
    self->outcomes = (outcome_t *) zmalloc (sizeof (outcome_t) * capacity);
    assert (self->scenarios && self->outcomes);
    int first_raw_single = -1, first_raw_batch = -1, first_single = -1;
    for (int set = 0; set < field_count; set++) {
        int fields = field_sets [set];
        int raw_single = s_scenario_add (self, KIND_RAW, fields, 1, 0, -1);
        int raw_batch = s_scenario_add (self, KIND_RAW, fields, self->batch, 0, -1);
        int single = s_scenario_add (self, KIND_ZSTATE, fields, 1, 0, raw_single);
        int batch = s_scenario_add (self, KIND_ZSTATE, fields, self->batch, 0, raw_batch);
        zstate_bench_curve_plan (self, fields, single, batch, s_scenario_add);
        if (set == 0) {
            first_raw_single = raw_single;
            first_raw_batch = raw_batch;
            first_single = single;
        }
    }
    s_rows_plan (self, field_sets [0], first_single, first_raw_batch);
    if (!self->no_redis) {
        s_scenario_add (self, KIND_PERSIST, field_sets [0], 1, 0, first_raw_single);
        s_scenario_add (self, KIND_PERSIST, field_sets [0], self->batch, 0, first_raw_batch);
    }
    zstate_bench_sonic_plan (self, field_sets [0], s_scenario_add);
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
            //  (the SONiC rows with their own ceiling)
            bool wanted = (self->only & (1 << scenario->kind)) != 0
                       || (scenario->sonic && (self->only & (1 << KIND_SONIC)));
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
//  The command line

static void
s_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate bench [OPTIONS]\n"
        "\n"
        "Measures, side by side: raw libzmq PUSH/PULL of zstate's own frames (the\n"
        "ceiling); zstate producer -> consumer with single-op sets and batches, 2 and\n"
        "10 fields (10 the size of SONiC's op); single sets round robin over 16 and\n"
        "256 tables; 1 KiB and 64 KiB values; several client processes into one\n"
        "server; the same persisted to a private redis-server; set-to-pop latency at\n"
        "fixed offered rates; each side's peak RSS, CPU and read/write system calls\n"
        "per op; SONiC frames through the SONiC endpoint (serve --bind-sonic) beside\n"
        "raw PUSH/PULL of the same frames. Each side runs in its own process (one\n"
        "process for inproc). Exits 0 when every measurement ran, 1 when one failed,\n"
        "2 on bad usage.\n"
        "\n"
        "  -n, --ops N          operations per measurement (default %d)\n"
        "  -f, --fields N       fields per SET: only N (default: 2, then 10)\n"
        "  -b, --batch N        ops per batch call and per raw batch message (default %d)\n"
        "  -p, --pop N          ops per pops (default %d)\n"
        "  -t, --threads N      producer threads on one client (default %d)\n"
        "  -c, --clients N      producer processes of the many-clients row, 2 to %d\n"
        "                       (default %d; 1 leaves the row out)\n"
        "  -T, --transport T    tcp, ipc or inproc (default tcp; inproc is one process)\n"
        "  -r, --runs N         runs of each measurement, min/median/max (default %d)\n"
        "      --rates LIST     offered rates for latency, ops/s (default 10000,100000)\n"
        "      --latency-secs S length of one latency run (default %.0f)\n"
        "      --no-redis       skip the measurements with the DB writer\n"
        "      --redis-unix     the writer reaches Redis over its unix socket\n"
        "                       (default: TCP on 127.0.0.1)\n"
        "      --strace         one more run of each measurement but latency, of at\n"
        "                       most %d ops, each side under strace -c -f: every\n"
        "                       system call per op (needs strace; not with inproc)\n"
        "      --app-fd         the application polls zstate_consumer_fd with poll(2)\n"
        "                       instead of its zloop (zloop_poller on the same fd)\n"
        "      --curve          each zstate row again with CURVE on (tcp, ipc)\n"
        "      --refused N      the CURVE rows again beside N refused CURVE clients\n"
        "                       reconnecting every 1 ms (implies --curve)\n"
        "      --app-socket     the application's zloop reads zstate_consumer_socket\n"
        "                       instead of polling the fd\n"
        "      --no-sweep       the consumers keep no key set (zstate_consumer_set_sweep)\n"
        "      --only LIST      run only these kinds (raw, zstate, persist, latency, sonic)\n"
        "                       or measurements (ids as in --json: zstate-2f-single)\n"
        "  -q, --quick          tiny configuration for make check: %d ops, 1 run,\n"
        "                       2 fields, latency at 10000 ops/s; Redis if available\n"
        "  -j, --json           print a JSON record instead of the table\n"
        "  -v, --verbose        log library activity\n"
        "  -h, --help           this text\n",
        OPS_DEFAULT, BATCH_DEFAULT, POP_DEFAULT, THREADS_DEFAULT, CLIENTS_MAX,
        CLIENTS_DEFAULT, RUNS_DEFAULT,
        LATENCY_SECS, STRACE_OPS, OPS_QUICK);
}

//  Which options the command line gave, so that --quick leaves them be
typedef struct {
    bool ops, runs, rates, secs;
} given_t;

//  The options that take a number. Returns 0 or 2.
static int
s_option_number (bench_t *self, int option, const char *text, given_t *given)
{
    long value;
    switch (option) {
        case 'n':
            if (zstate_tool_number ("bench", "--ops", text, 1, 1000000000L, &value))
                return 2;
            self->ops = (uint64_t) value;
            given->ops = true;
            break;
        case 'f':
            if (zstate_tool_number ("bench", "--fields", text, 2, FIELDS_MAX, &value))
                return 2;
            self->fields = (int) value;
            break;
        case 'b':
            if (zstate_tool_number ("bench", "--batch", text, 2, 65536, &value))
                return 2;
            self->batch = (int) value;
            break;
        case 'p':
            if (zstate_tool_number ("bench", "--pop", text, 1, 65536, &value))
                return 2;
            self->pop = (int) value;
            break;
        case 't':
            if (zstate_tool_number ("bench", "--threads", text, 1, THREADS_MAX, &value))
                return 2;
            self->threads = (int) value;
            break;
        case 'c':
            if (zstate_tool_number ("bench", "--clients", text, 1, CLIENTS_MAX, &value))
                return 2;
            self->clients = (int) value;
            break;
        case 'r':
            if (zstate_tool_number ("bench", "--runs", text, 1, RUNS_MAX, &value))
                return 2;
            self->runs = (int) value;
            given->runs = true;
            break;
        case 'L': {
            char *end;
            double secs = strtod (text, &end);
            if (end == text || *end || !(secs >= 0.01 && secs <= 3600)) {
                fprintf (stderr, "zstate bench: --latency-secs wants seconds from 0.01 "
                                 "to 3600, not '%s'\n", text);
                return 2;
            }
            self->latency_secs = secs;
            given->secs = true;
            break;
        }
        default:
            assert (false);
    }
    return 0;
}

//  --rates LIST. Returns 0 or 2.
static int
s_option_rates (bench_t *self, const char *text)
{
    self->rate_count = 0;
    char *copy = strdup (text);
    assert (copy);
    char *state = NULL;
    bool good = true;
    for (char *token = strtok_r (copy, ",", &state); token && good;
         token = strtok_r (NULL, ",", &state)) {
        long value;
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
                 RATES_MAX, text);
        return 2;
    }
    return 0;
}

//  --only LIST: kind names go into the mask, ids are matched when the
//  scenarios are planned. Returns 0 or 2.
static int
s_option_only (bench_t *self, const char *text)
{
    const char *kinds [] = { "raw", "zstate", "persist", "latency", "sonic" };
    char *copy = strdup (text);
    assert (copy);
    char *state = NULL;
    bool good = true;
    for (char *token = strtok_r (copy, ",", &state); token && good;
         token = strtok_r (NULL, ",", &state)) {
        for (int kind = KIND_RAW; kind <= KIND_SONIC; kind++)
            if (streq (token, kinds [kind]))
                self->only |= 1 << kind;
        if (!*token)
            good = false;
    }
    free (copy);
    if (!good) {
        fprintf (stderr, "zstate bench: --only wants kinds or ids, comma-separated, "
                         "not '%s'\n", text);
        return 2;
    }
    self->only_ids = text;
    return 0;
}

//  What getopt_long could not take. Returns 2.
static int
s_option_bad (int option, char *argv [])
{
    if (option == ':')
        fprintf (stderr, "zstate bench: option '%s' needs a value\n", argv [optind - 1]);
    else
    if (optopt)
        fprintf (stderr, "zstate bench: unknown option '-%c' (see zstate bench --help)\n",
                 optopt);
    else
        fprintf (stderr, "zstate bench: unknown option '%s' (see zstate bench --help)\n",
                 argv [optind - 1]);
    return 2;
}

//  One option. Returns 0 to go on, 1 when --help was shown, 2 on bad usage.
static int
s_option (bench_t *self, int option, char *argv [], given_t *given)
{
    switch (option) {
        case 'n': case 'f': case 'b': case 'p': case 't': case 'c': case 'r': case 'L':
            return s_option_number (self, option, optarg, given);
        case 'T':
            if (!streq (optarg, "tcp") && !streq (optarg, "ipc") && !streq (optarg, "inproc")) {
                fprintf (stderr, "zstate bench: --transport is tcp, ipc or inproc, not '%s'\n",
                         optarg);
                return 2;
            }
            self->transport = optarg;
            return 0;
        case 'R':
            given->rates = true;
            return s_option_rates (self, optarg);
        case 'O':
            return s_option_only (self, optarg);
        case 'F':
            return zstate_bench_refused_option (self, optarg);
        case 'N': case 'U': case 'Z':
            *(option == 'N'? &self->no_redis: option == 'U'? &self->redis_unix: &self->strace)
                = true;
            return 0;
        case 'A':
        case 'C':
        case 'S':
            *(option == 'A'? &self->app_fd: option == 'C'? &self->curve: &self->app_socket) = true;
            return 0;
        case 'q':
            self->quick = true;
            return 0;
        case 'j':
            self->json = true;
            return 0;
        case 'v':
            self->verbose = true;
            return 0;
        case 'h':
            s_usage (stdout);
            return 1;
        default:
            return s_option_bad (option, argv);
    }
}

//  Returns 0 to run, 1 when --help was shown, 2 on bad usage
static int
s_options_parse (bench_t *self, int argc, char *argv [])
{
    struct option longopts [] = {
        { "ops",          required_argument, NULL, 'n' },
        { "fields",       required_argument, NULL, 'f' },
        { "batch",        required_argument, NULL, 'b' },
        { "pop",          required_argument, NULL, 'p' },
        { "threads",      required_argument, NULL, 't' },
        { "clients",      required_argument, NULL, 'c' },
        { "transport",    required_argument, NULL, 'T' },
        { "runs",         required_argument, NULL, 'r' },
        { "rates",        required_argument, NULL, 'R' },
        { "latency-secs", required_argument, NULL, 'L' },
        { "no-redis",     no_argument,       NULL, 'N' },
        { "redis-unix",   no_argument,       NULL, 'U' },
        { "strace",       no_argument,       NULL, 'Z' },
        { "only",         required_argument, NULL, 'O' },
        { "app-fd",       no_argument,       NULL, 'A' },
        { "app-socket",   no_argument,       NULL, 'S' },
        { "curve",        no_argument,       NULL, 'C' },
        { "refused",      required_argument, NULL, 'F' },
        { "no-sweep",     no_argument,       &self->no_sweep, 1 },
        { "quick",        no_argument,       NULL, 'q' },
        { "json",         no_argument,       NULL, 'j' },
        { "verbose",      no_argument,       NULL, 'v' },
        { "help",         no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    given_t given = { false, false, false, false };
    self->ops = OPS_DEFAULT;
    self->batch = BATCH_DEFAULT;
    self->pop = POP_DEFAULT;
    self->threads = THREADS_DEFAULT;
    self->clients = CLIENTS_DEFAULT;
    self->transport = "tcp";
    self->runs = RUNS_DEFAULT;
    self->latency_secs = LATENCY_SECS;
    self->rates [0] = 10000;
    self->rates [1] = 100000;
    self->rate_count = 2;

    optind = 1;
    opterr = 0;                 //  We word the errors ourselves
    while (true) {
        int option = getopt_long (argc, argv, ":n:f:b:p:t:c:T:r:qjvh", longopts, NULL);
        if (option == -1)
            break;
        int rc = option? s_option (self, option, argv, &given): 0;  //  0: a flag
        if (rc)
            return rc;
    }
    if (optind < argc) {
        fprintf (stderr, "zstate bench: unexpected argument '%s' (see zstate bench --help)\n",
                 argv [optind]);
        return 2;
    }
    if (self->quick) {
        //  Explicit options still win over the quick defaults
        if (!given.ops)
            self->ops = OPS_QUICK;
        if (!given.runs)
            self->runs = 1;
        if (!given.rates)
            self->rate_count = 1;
        if (!given.secs)
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

//  One private redis-server for every persisted run, flushed before
//  each. Without it the persisted rows are skipped, not failed.
static void
s_redis_start (bench_t *self)
{
    bool wants_redis = false;
    for (int index = 0; index < self->scenario_count; index++)
        if (self->scenarios [index].kind == KIND_PERSIST && !self->scenarios [index].skip)
            wants_redis = true;
    if (!wants_redis)
        return;
    self->redis_server = zstate_redis_server_new (false);
    if (self->redis_server) {
        if (self->redis_unix)
            snprintf (self->redis_endpoint, sizeof (self->redis_endpoint), "unix:%s",
                      zstate_redis_server_socket (self->redis_server));
        else
            snprintf (self->redis_endpoint, sizeof (self->redis_endpoint), "%s",
                      zstate_redis_server_endpoint (self->redis_server));
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

//  How many measurements are to run
static int
s_measurements (bench_t *self)
{
    int measurements = 0;
    for (int index = 0; index < self->scenario_count; index++)
        if (!self->scenarios [index].skip)
            measurements++;
    return measurements;
}

//  The exit status: 1 when a measurement failed or Redis missed keys
static int
s_status (bench_t *self)
{
    int status = 0;
    for (int index = 0; index < self->scenario_count; index++)
        if (!self->scenarios [index].skip
        &&  (self->outcomes [index].runs_failed || !self->outcomes [index].runs_ok
        ||   (self->scenarios [index].kind == KIND_PERSIST && !self->outcomes [index].redis_ok)))
            status = 1;
    return status;
}

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
    if (s_measurements (self) == 0 || (rc = zstate_bench_curve_certificates (self))) {
        if (rc == 0)
            fprintf (stderr, "zstate bench: --only '%s' selects no measurement (see --json"
                     " for ids)\n", self->only_ids);
        free (self->scenarios);
        free (self->outcomes);
        return rc? rc: 2;
    }
    s_redis_start (self);

    char ops_text [32];
    fprintf (self->out, "zstate bench: %d measurements x %d run%s, %s ops each, over %s\n",
             s_measurements (self), self->runs, self->runs == 1? "": "s",
             zstate_bench_commas ((double) self->ops, ops_text, sizeof (ops_text)),
             self->transport);
    fflush (self->out);
    for (int index = 0; index < self->scenario_count && !zsys_interrupted; index++)
        if (!self->scenarios [index].skip)
            s_scenario_run (self, index);

    int status = s_status (self);
    if (zsys_interrupted)
        status = 130;
    else
    if (self->json)
        zstate_bench_print_json (self);
    else
        zstate_bench_print_table (self);

    zstate_redis_destroy (&self->redis);
    zstate_redis_server_destroy (&self->redis_server);
    zstate_bench_curve_remove (self);
    free (self->scenarios);
    free (self->outcomes);
    return status;
}
