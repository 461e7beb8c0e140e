/*  =========================================================================
    zstate_bench_rows - zstate bench: the rows of the field (single ops
    interleaved over many tables, large values, many client processes)
    and what each side used per op

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_bench.h"

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  What a side used: getrusage for CPU, /proc/self/io for the read/write
//  family of system calls (the only count Linux keeps per process that
//  needs no privileges)

static void
s_usage_read (usage_t *usage)
{
    memset (usage, 0, sizeof (usage_t));
    struct rusage rusage;
    if (getrusage (RUSAGE_SELF, &rusage) == 0)
        usage->cpu_usecs = (int64_t) rusage.ru_utime.tv_sec * 1000000 + rusage.ru_utime.tv_usec
                         + (int64_t) rusage.ru_stime.tv_sec * 1000000 + rusage.ru_stime.tv_usec;
    FILE *file = fopen ("/proc/self/io", "r");
    if (!file)
        return;
    char line [128];
    unsigned long long count;
    while (fgets (line, sizeof (line), file))
        if (sscanf (line, "syscr: %llu", &count) == 1
        ||  sscanf (line, "syscw: %llu", &count) == 1)
            usage->rw_syscalls += count;
    fclose (file);
}

//  --strace: a side counts every system call of its process with strace
//  -c -f attached to itself, from the start of its traffic to its end.
//  Set in the parent before it forks the sides; each side traces itself
//  once.
static bool s_tracing;
static pid_t s_tracer;
static char s_trace_file [64];

void
zstate_bench_set_tracing (bool tracing)
{
    s_tracing = tracing;
}

//  True once every thread of this process has a tracer
static bool
s_traced (void)
{
    DIR *tasks = opendir ("/proc/self/task");
    if (!tasks)
        return false;
    bool traced = true;
    struct dirent *entry;
    while (traced && (entry = readdir (tasks))) {
        if (entry->d_name [0] == '.')
            continue;
        char path [64], line [128];
        snprintf (path, sizeof (path), "/proc/self/task/%.20s/status", entry->d_name);
        FILE *file = fopen (path, "r");
        int tracer = 0;
        while (file && fgets (line, sizeof (line), file))
            if (sscanf (line, "TracerPid: %d", &tracer) == 1)
                break;
        if (file)
            fclose (file);
        traced = tracer != 0;
    }
    closedir (tasks);
    return traced;
}

//  Start strace on this process and wait until it holds every thread
static void
s_trace_start (void)
{
    char pid [16];
    snprintf (pid, sizeof (pid), "%d", (int) getpid ());
    snprintf (s_trace_file, sizeof (s_trace_file), "/tmp/zstate-bench-strace-%d", (int) getpid ());
    fflush (NULL);
    pid_t tracer = fork ();
    if (tracer == 0) {
        execlp ("strace", "strace", "-f", "-c", "-qq", "-o", s_trace_file, "-p", pid,
                (char *) NULL);
        _exit (127);
    }
    if (tracer < 0)
        return;
    //  Under Yama's ptrace_scope 1 only a process we name may trace us
    prctl (PR_SET_PTRACER, (unsigned long) tracer, 0, 0, 0);
    int64_t deadline = zclock_mono () + READY_MSECS;
    while (!s_traced () && zclock_mono () < deadline) {
        if (waitpid (tracer, NULL, WNOHANG) == tracer)
            return;             //  No strace, or it could not attach
        zclock_sleep (1);
    }
    s_tracer = tracer;
}

//  Stop strace (SIGINT: it detaches and writes its summary); return the
//  system calls it counted, 0 when none
static uint64_t
s_trace_end (void)
{
    if (!s_tracer)
        return 0;
    kill (s_tracer, SIGINT);
    waitpid (s_tracer, NULL, 0);
    s_tracer = 0;
    FILE *file = fopen (s_trace_file, "r");
    unsigned long long calls = 0;
    char line [256];
    while (file && fgets (line, sizeof (line), file)) {
        double percent, secs;
        unsigned long long per_call, count;
        if (strstr (line, " total")
        &&  sscanf (line, "%lf %lf %llu %llu", &percent, &secs, &per_call, &count) == 4)
            calls = count;
    }
    if (file)
        fclose (file);
    unlink (s_trace_file);
    return calls;
}

void
zstate_bench_usage_start (usage_t *start)
{
    if (s_tracing && !s_tracer)
        s_trace_start ();
    s_usage_read (start);
}

void
zstate_bench_usage_since (const usage_t *start, report_t *report)
{
    usage_t now;
    s_usage_read (&now);
    report->usage.cpu_usecs = now.cpu_usecs - start->cpu_usecs;
    report->usage.rw_syscalls = now.rw_syscalls - start->rw_syscalls;
    report->usage.syscalls = s_trace_end ();
}


//  --------------------------------------------------------------------------
//  Names and shares

//  Names fit: the values are bounded (tables, KiB and clients are small)
static void
s_name (char *text, size_t size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int length = vsnprintf (text, size, format, args);
    va_end (args);
    assert (length > 0 && (size_t) length < size);
}

void
zstate_bench_row_name (scenario_t *scenario)
{
    const char *shape = scenario->batch > 1? "batch": "single";
    int batch = scenario->batch > 1? scenario->batch: 0;
    if (scenario->tables > 1) {
        s_name (scenario->id, sizeof (scenario->id), "zstate-%df-single-%dtables",
                scenario->fields, scenario->tables);
        s_name (scenario->title, sizeof (scenario->title),
                "zstate, %d fields, single, %d tables", scenario->fields,
                scenario->tables);
    }
    else
    if (scenario->value_size) {
        s_name (scenario->id, sizeof (scenario->id), "zstate-%s%.0d-%dKiB", shape, batch,
                scenario->value_size / 1024);
        s_name (scenario->title, sizeof (scenario->title), "zstate, %d KiB values, batch %d",
                scenario->value_size / 1024, scenario->batch);
    }
    else
    if (scenario->clients > 1) {
        s_name (scenario->id, sizeof (scenario->id), "zstate-%df-%s%.0d-%dclients",
                scenario->fields, shape, batch, scenario->clients);
        s_name (scenario->title, sizeof (scenario->title),
                "zstate, %d fields, batch %d, %d clients", scenario->fields,
                scenario->batch, scenario->clients);
    }
}

void
zstate_bench_share (bench_t *bench, scenario_t *scenario, uint64_t *first,
                    uint64_t *count)
{
    uint64_t clients = scenario->clients > 1? (uint64_t) scenario->clients: 1;
    uint64_t part = (uint64_t) bench->part;
    *first = scenario->ops * part / clients;
    *count = scenario->ops * (part + 1) / clients - *first;
}

int
zstate_bench_tables (scenario_t *scenario)
{
    return scenario->tables > 1? scenario->tables: 1;
}

void
zstate_bench_table_name (int index, char *name, size_t size)
{
    if (index == 0)
        snprintf (name, size, "%s", BENCH_TABLE);
    else
        snprintf (name, size, "%s_%d", BENCH_TABLE, index);
}


//  --------------------------------------------------------------------------
//  The senders of these rows

void
zstate_bench_send_singles (sender_t *self, zstate_producer_t **producers, int tables)
{
    entry_t entry;
    zstate_bench_entry_init (&entry, self->scenario->fields);
    uint64_t last = self->first + self->count;
    for (uint64_t index = self->first; index < last && !self->error; index++) {
        zstate_bench_entry_fill (&entry, index);
        zstate_producer_t *producer = producers [index % (uint64_t) tables];
        while (zstate_producer_set_fields (producer, ZSTATE_OP_SET, entry.key,
                                           entry.key_size, (size_t) entry.fields,
                                           entry.names, entry.name_sizes,
                                           entry.values, entry.value_sizes))
            if (!zstate_bench_sender_retry (self))
                break;
    }
}

//  Batches of ops of two fields: the nexthop, and "data" of value_size
//  bytes, different for every op
static void
s_send_values (sender_t *self, zstate_producer_t *producer)
{
    scenario_t *scenario = self->scenario;
    entry_t entry;
    zstate_bench_entry_init (&entry, 2);
    size_t size = (size_t) scenario->value_size;
    char *value = (char *) malloc (size);
    assert (value);
    memset (value, 'v', size);
    entry.names [1] = "data";
    entry.name_sizes [1] = 4;
    entry.values [1] = value;
    zstate_batch_t *batch = zstate_batch_new ();
    uint64_t index = self->first, last = self->first + self->count;
    while (index < last && !self->error) {
        zstate_batch_reset (batch);
        for (int count = 0; count < scenario->batch && index < last; count++) {
            zstate_bench_entry_fill (&entry, index);
            zstate_bench_put_uint (value, index++);
            entry.value_sizes [1] = size;
            zstate_bench_entry_append (&entry, batch);
        }
        while (zstate_producer_send (producer, batch))
            if (!zstate_bench_sender_retry (self))
                break;
    }
    zstate_batch_destroy (&batch);
    free (value);
}

void
zstate_bench_sender_rows (sender_t *self)
{
    int tables = zstate_bench_tables (self->scenario);
    zstate_producer_t **producers =
        (zstate_producer_t **) zmalloc (sizeof (zstate_producer_t *) * (size_t) tables);
    assert (producers);
    for (int index = 0; index < tables; index++) {
        char table [64];
        zstate_bench_table_name (index, table, sizeof (table));
        producers [index] = zstate_producer_new (self->client, BENCH_DB, table);
        assert (producers [index]);
    }
    pthread_barrier_wait (self->start);
    if (self->scenario->value_size)
        s_send_values (self, producers [0]);
    else
        zstate_bench_send_singles (self, producers, tables);
    for (int index = 0; index < tables; index++)
        zstate_producer_destroy (&producers [index]);
    free (producers);
}


//  --------------------------------------------------------------------------
//  --strace: the traced run of a scenario

void
zstate_bench_traced_run (bench_t *bench, int index)
{
    scenario_t scenario = bench->scenarios [index];
    outcome_t *outcome = &bench->outcomes [index];
    //  Paced runs cannot keep their pace under strace; inproc is one process
    if (scenario.kind == KIND_LATENCY || streq (bench->transport, "inproc"))
        return;
    if (scenario.ops > STRACE_OPS)
        scenario.ops = scenario.raw? STRACE_OPS / (uint64_t) scenario.batch
                                     * (uint64_t) scenario.batch: STRACE_OPS;
    if (scenario.kind == KIND_PERSIST
    &&  zstate_redis_command (bench->redis, "FLUSHALL", NULL) != ZSTATE_REDIS_STATUS)
        return;
    report_t consumer, producer;
    char error [256];
    zstate_bench_set_tracing (true);
    int rc = zstate_bench_measure (bench, &scenario, &consumer, &producer, error,
                                   sizeof (error));
    zstate_bench_set_tracing (false);
    if (rc) {
        fprintf (bench->out, "  %-40s traced run: FAILED: %s\n", scenario.title, error);
        return;
    }
    outcome->traced_ops = consumer.ops;
    outcome->producer_syscalls = producer.usage.syscalls;
    outcome->consumer_syscalls = consumer.usage.syscalls;
    fprintf (bench->out, "  %-40s traced run: %" PRIu64 " ops, %" PRIu64 " + %" PRIu64
             " system calls\n", scenario.title, consumer.ops, producer.usage.syscalls,
             consumer.usage.syscalls);
}
