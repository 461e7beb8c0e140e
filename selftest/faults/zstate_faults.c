/*  =========================================================================
    zstate_faults - the fault harness for reliable delivery: runs each
    fault scenario against a server in a child process, checks what the
    application popped and what Redis holds against the producer's model,
    prints one line per scenario and exits 1 when a guarantee fails

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"
#include "zstate_redis_server.h"
#include "zstate_relay.h"
#include "zstate_fault_model.h"
#include "zstate_fault_server.h"
#include "zstate_fault_stream.h"
#include "zstate_fault_scenario.h"
#include "zstate_fault_observer.h"
#include "zstate_fault_producer.h"
#include <getopt.h>
#include <signal.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

typedef struct {
    const char *name;
    bool (*run) (options_t *options, char *line, size_t size);
    const char *description;
} scenario_t;

void
zstate_fault_append (char *line, size_t size, const char *format, ...)
{
    size_t used = strlen (line);
    va_list args;
    va_start (args, format);
    vsnprintf (line + used, size - used, format, args);
    va_end (args);
}

//  --------------------------------------------------------------------------

static scenario_t s_scenarios [] = {
    { "cuts-paced",   zstate_fault_cuts_paced,   "10 TCP resets during a paced stream" },
    { "cuts-full",    zstate_fault_cuts_full,    "10 TCP resets during a full-rate stream" },
    { "backlog-cut",  zstate_fault_backlog_cut,  "1 reset while the server is backlogged (reorder)" },
    { "black-hole",   zstate_fault_black_hole,   "the path drops everything for 30 s (5 s quick)" },
    { "freeze",       zstate_fault_freeze,       "server SIGSTOP for 10 s (3 s quick), then SIGCONT" },
    { "kill",         zstate_fault_kill,         "server kill -9 x3 with restart, persisted" },
    { "serve-term",   zstate_fault_serve_term,   "zstate serve SIGTERM x3 with restart, persisted" },
    { "destroy-dead", zstate_fault_destroy_dead, "client destroy with a dead peer" },
    { "stall",        zstate_fault_stall,        "consumer stalled, 256-byte values, 10,000 keys" },
    { "redis-down",   zstate_fault_redis_down,   "Redis down, more keys than the writer's bound" },
    { "redis-down-delivered", zstate_fault_redis_down_delivered,
                      "the same, the client at level DELIVERED" },
    { "redis-down-tables", zstate_fault_redis_down_tables,
                      "the same, two tables of one session behind at once" },
    { "consumer-restart", zstate_fault_consumer_restart,
      "consumer kill -9 x3, no persistence, producer mirroring" },
    { "late-join",    zstate_fault_late_join,
      "consumer registers late: 100,000 keys after 2 s, 100 small runs in random orders" },
    { "late-cuts",    zstate_fault_late_cuts,
      "100 small late joins, 5 TCP resets right after the table registers" },
    { "consumer-resync", zstate_fault_consumer_resync, "application drops its view, resync x3" },
    { "mid-view",     zstate_fault_mid_view, "consumer kill -9 inside a producer view" },
    { "mid-view-bare", zstate_fault_mid_view_bare,
      "consumer kill -9 inside a producer view, no persistence" },
    { "view",         zstate_fault_view,
      "restarted producers re-assert 90%, die mid-view, re-assert 80%" },
    { "view-behind",  zstate_fault_view_behind,
      "a view re-asserts 90% while Redis is stopped: the writer fills, replay" },
    { "redis-lost",   zstate_fault_redis_lost,
      "Redis kill -9 x3 without persistence, producer mirroring" },
    { "snapshot",     zstate_fault_snapshot,
      "benchmark: a snapshot of 1,000,000 keys (100,000 quick) with live updates" },
};
#define SCENARIOS   (sizeof (s_scenarios) / sizeof (s_scenarios [0]))

static void
s_usage (void)
{
    printf ("usage: zstate_faults [options] [SCENARIO ...]\n"
            "       zstate_faults selftest\n"
            "Runs the fault scenarios (all by default) and exits 1 when a\n"
            "guarantee does not hold.\n"
            "    -q, --quick       short streams and faults (about 1 minute)\n"
            "    -s, --scale X     multiply stream lengths by X (default 1)\n"
            "    -w, --settle MS   delivery is over after MS msecs without a pop\n"
            "                      (default 5000; at most 60 s in all)\n"
            "    -l, --list        list the scenarios\n"
            "    -h, --help        this text\n"
            "The zstate serve scenario needs ZSTATE, the path of the tool.\n");
}

static bool
s_wanted (int argc, char *argv [], const char *name)
{
    if (optind >= argc)
        return true;
    for (int index = optind; index < argc; index++)
        if (streq (argv [index], name))
            return true;
    return false;
}

static int
s_parse (options_t *options, int argc, char *argv [])
{
    static struct option longs [] = {
        { "quick", no_argument, NULL, 'q' }, { "scale", required_argument, NULL, 's' },
        { "settle", required_argument, NULL, 'w' },
        { "list", no_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "qs:w:lh", longs, NULL)) != -1) {
        if (option == 'q')
            options->quick = true;
        else
        if (option == 's') {
            options->scale = atof (optarg);
            if (options->scale <= 0 || options->scale > 100) {
                fprintf (stderr, "zstate_faults: scale must be in (0, 100]\n");
                return 2;
            }
        }
        else
        if (option == 'w') {
            int settle = atoi (optarg);
            if (settle < 100 || settle > ZSTATE_FAULT_SETTLE_MAX) {
                fprintf (stderr, "zstate_faults: settle must be 100 to %d msecs\n",
                         ZSTATE_FAULT_SETTLE_MAX);
                return 2;
            }
            zstate_fault_set_settle (settle);
        }
        else
        if (option == 'l') {
            for (size_t index = 0; index < SCENARIOS; index++)
                printf ("%-14s %s\n", s_scenarios [index].name, s_scenarios [index].description);
            return -1;
        }
        else {
            s_usage ();
            return option == 'h'? -1: 2;
        }
    }
    for (int index = optind; index < argc; index++) {
        size_t found = 0;
        for (size_t scenario = 0; scenario < SCENARIOS; scenario++)
            found += streq (argv [index], s_scenarios [scenario].name);
        if (!found) {
            fprintf (stderr, "zstate_faults: unknown scenario '%s' (see --list)\n", argv [index]);
            return 2;
        }
    }
    return 0;
}

int
main (int argc, char *argv [])
{
    if (argc > 1 && streq (argv [1], "child"))
        return zstate_fault_observer_main (argc, argv);
    if (argc > 1 && streq (argv [1], "producer"))
        return zstate_fault_producer_main (argc, argv);
    zsys_init ();
    zsys_set_logstream (stderr);
    if (argc == 2 && streq (argv [1], "selftest")) {
        zstate_relay_test (false);
        zstate_fault_model_test (false);
        zstate_fault_stream_test (false);
        zstate_fault_server_test (false);
        zstate_fault_producer_test (false);
        return 0;
    }
    options_t options = { 0 };
    options.scale = 1;
    int status = s_parse (&options, argc, argv);
    if (status)
        return status == -1? 0: status;
    options.ops = (size_t) ((options.quick? 50000: 200000) * options.scale);
    char dir [] = "/tmp/zstate-faults-XXXXXX";
    if (!mkdtemp (dir)) {
        fprintf (stderr, "zstate_faults: mkdtemp: %s\n", strerror (errno));
        return 2;
    }
    options.dir = dir;
    //  Scenarios run their own signals; a SIGINT still ends the run
    signal (SIGPIPE, SIG_IGN);
    size_t failed = 0, ran = 0;
    int64_t start = zclock_mono ();
    for (size_t index = 0; index < SCENARIOS && !zsys_interrupted; index++) {
        if (!s_wanted (argc, argv, s_scenarios [index].name))
            continue;
        char line [1024] = "";
        int64_t began = zclock_mono ();
        bool pass = s_scenarios [index].run (&options, line, sizeof (line));
        printf ("%-13s %s: %s (%.1f s)\n", s_scenarios [index].name, pass? "PASS": "FAIL",
                line, (double) (zclock_mono () - began) / 1000);
        fflush (stdout);
        failed += !pass;
        ran++;
    }
    printf ("zstate_faults: %zu of %zu scenarios failed, %.0f s\n", failed, ran,
            (double) (zclock_mono () - start) / 1000);
    rmdir (dir);
    return failed? 1: 0;
}
