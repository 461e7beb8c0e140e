/*  =========================================================================
    zstate_bench_print - zstate bench: the results table and the JSON record

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_bench.h"

#include <unistd.h>

const char *
zstate_bench_commas (double number, char *text, size_t size)
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

//  What each side used per operation, over every good run
static double
s_per_op (int64_t total, uint64_t ops, double scale)
{
    return ops? (double) total * scale / (double) ops: 0;
}

static void
s_print_usage (bench_t *self)
{
    bool header = false;
    for (int index = 0; index < self->scenario_count; index++) {
        scenario_t *scenario = &self->scenarios [index];
        outcome_t *outcome = &self->outcomes [index];
        if (scenario->skip || !outcome->runs_ok || !outcome->usage_ops)
            continue;
        if (!header) {
            printf ("\n%-40s %13s %13s %13s %13s", "per op, each side (all threads)",
                    "CPU ns prod", "CPU ns cons", "r/w calls prod", "r/w calls cons");
            if (self->strace)
                printf (" %13s %13s", "calls prod", "calls cons");
            printf ("\n");
            header = true;
        }
        printf ("%-40s %13.0f %13.0f %13.2f %13.2f", scenario->title,
                s_per_op (outcome->producer_usage.cpu_usecs, outcome->usage_ops, 1000),
                s_per_op (outcome->consumer_usage.cpu_usecs, outcome->usage_ops, 1000),
                s_per_op ((int64_t) outcome->producer_usage.rw_syscalls, outcome->usage_ops, 1),
                s_per_op ((int64_t) outcome->consumer_usage.rw_syscalls, outcome->usage_ops, 1));
        if (self->strace && outcome->traced_ops)
            printf (" %13.2f %13.2f",
                    s_per_op ((int64_t) outcome->producer_syscalls, outcome->traced_ops, 1),
                    s_per_op ((int64_t) outcome->consumer_syscalls, outcome->traced_ops, 1));
        printf ("\n");
    }
    if (header)
        printf ("CPU: getrusage of each side's process over its traffic%s; r/w calls: the "
                "read/write\nfamily of system calls (/proc/self/io syscr + syscw: eventfd "
                "and pipe wake-ups\nincluded, send/recv/poll not counted there)\n",
                streq (self->transport, "inproc")? " (inproc: one process, both sides "
                "in each column)": "");
    if (header && self->strace)
        printf ("calls: every system call, counted by strace -c -f on each side in one "
                "more run of at\nmost %d ops (slowed by the tracing, which also changes "
                "how much is batched)\n", STRACE_OPS);
}

void
zstate_bench_print_table (bench_t *self)
{
    char text1 [32], text2 [32], text3 [32], text4 [32];
    printf ("\nzstate bench: %s, %s ops, %d producer thread%s on one client, batches of %d, "
            "pops of %d in a %s, %d run%s\n",
            streq (self->transport, "inproc")? "inproc (one process)":
            streq (self->transport, "tcp")? "tcp loopback (one process per side)":
            "ipc (one process per side)",
            zstate_bench_commas ((double) self->ops, text1, sizeof (text1)), self->threads,
            self->threads == 1? "": "s", self->batch, self->pop,
            self->app_fd? "poll(2) loop on the fd":
            self->app_socket? "zloop on the socket": "zloop on the fd", self->runs,
            self->runs == 1? "": "s");
    printf ("ops/s = ops received by the consumer / (last pop - first send); %ld CPUs, "
            "shared: indicative figures\n", sysconf (_SC_NPROCESSORS_ONLN));
    printf ("raw: libzmq PUSH to PULL of zstate's own pre-encoded frames, the receiver "
            "decoding nothing;\nN tables: single ops round robin over N tables, ceiling = "
            "the one-table row\n\n");
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
                zstate_bench_commas (outcome->min, text1, sizeof (text1)),
                zstate_bench_commas (outcome->median, text2, sizeof (text2)),
                zstate_bench_commas (outcome->max, text3, sizeof (text3)),
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

    s_print_usage (self);

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
                zstate_bench_commas (outcome->median, text1, sizeof (text1)),
                outcome->p50, outcome->p99, outcome->p999, outcome->lmax,
                zstate_bench_commas ((double) outcome->samples, text4, sizeof (text4)));
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

//  One result of the JSON record, without its closing brace
static void
s_json_result (bench_t *self, int index, bool first)
{
    scenario_t *scenario = &self->scenarios [index];
    outcome_t *outcome = &self->outcomes [index];
    const char *kinds [] = { "raw", "zstate", "persist", "latency", "sonic" };
    printf ("%s\n  {\"id\": \"%s\", \"kind\": \"%s\", \"title\": ", first? "": ",",
            scenario->id, kinds [scenario->kind]);
    s_json_string (scenario->title);
    printf (", \"fields\": %d, \"ops_per_call\": %d, \"ops\": %" PRIu64 ", "
            "\"runs_ok\": %d, \"runs_failed\": %d",
            scenario->fields, scenario->batch, scenario->ops, outcome->runs_ok,
            outcome->runs_failed);
    if (scenario->raw)
        printf (", \"raw\": true");
    if (scenario->kind == KIND_RAW) {
        zframe_t *frame = scenario->sonic
            ? zstate_bench_encode_sonic_sample (scenario->fields, scenario->batch)
            : zstate_bench_encode_sample (scenario->fields, scenario->batch);
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
    if (outcome->runs_ok && outcome->usage_ops)
        printf (", \"cpu_ns_per_op\": {\"producer\": %.0f, \"consumer\": %.0f}"
                ", \"rw_syscalls_per_op\": {\"producer\": %.3f, \"consumer\": %.3f}",
                s_per_op (outcome->producer_usage.cpu_usecs, outcome->usage_ops, 1000),
                s_per_op (outcome->consumer_usage.cpu_usecs, outcome->usage_ops, 1000),
                s_per_op ((int64_t) outcome->producer_usage.rw_syscalls, outcome->usage_ops, 1),
                s_per_op ((int64_t) outcome->consumer_usage.rw_syscalls, outcome->usage_ops, 1));
    if (outcome->traced_ops)
        printf (", \"syscalls_per_op\": {\"producer\": %.3f, \"consumer\": %.3f, "
                "\"traced_ops\": %" PRIu64 "}",
                s_per_op ((int64_t) outcome->producer_syscalls, outcome->traced_ops, 1),
                s_per_op ((int64_t) outcome->consumer_syscalls, outcome->traced_ops, 1),
                outcome->traced_ops);
    if (scenario->tables > 1)
        printf (", \"tables\": %d", scenario->tables);
    if (scenario->value_size)
        printf (", \"value_bytes\": %d", scenario->value_size);
    if (scenario->clients > 1)
        printf (", \"client_processes\": %d", scenario->clients);
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
}

void
zstate_bench_print_json (bench_t *self)
{
    printf ("{\"tool\": \"zstate bench\", \"version\": \"%d.%d.%d\",\n",
            ZSTATE_VERSION_MAJOR, ZSTATE_VERSION_MINOR, ZSTATE_VERSION_PATCH);
    printf (" \"config\": {\"ops\": %" PRIu64 ", \"threads\": %d, \"batch\": %d, \"pop\": %d, "
            "\"transport\": \"%s\", \"runs\": %d, \"quick\": %s, \"app_loop\": \"%s\", "
            "\"redis\": \"%s\", \"cpus\": %ld},\n",
            self->ops, self->threads, self->batch, self->pop, self->transport, self->runs,
            self->quick? "true": "false",
            self->app_fd? "poll-fd": self->app_socket? "zloop-socket": "zloop-fd",
            self->redis_unix? "unix": "tcp",
            sysconf (_SC_NPROCESSORS_ONLN));
    printf (" \"results\": [");
    bool first = true;
    for (int index = 0; index < self->scenario_count; index++) {
        if (self->scenarios [index].skip)
            continue;
        s_json_result (self, index, first);
        first = false;
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


