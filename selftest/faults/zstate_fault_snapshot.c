/*  =========================================================================
    zstate_fault_snapshot - a benchmark more than a test: a producer
    mirrors 1,000,000 keys, the consumer table registers late and gets
    them as one snapshot while live updates go on; how long it takes, how
    much memory each side peaks at, and whether the live updates arrived
    in order (the view still converges to the model)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"
#include "zstate_fault_scenario.h"
#include <signal.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

#define SNAPSHOT_CONVERGE   300000  //  msecs for the view to reach the model
#define SNAPSHOT_WINDOW     300000  //  msecs for the snapshot to end at all
#define SNAPSHOT_QUIET      2000
#define SNAPSHOT_PACE       20000   //  live updates per second meanwhile

//  Live updates at the paced rate until the observer's first window
//  completed (its window.done file); returns the updates offered
static size_t
s_live (zstate_fault_stream_t *stream, const char *dir)
{
    char *done = zsys_sprintf ("%s/window.done", dir);
    int64_t start = zclock_mono ();
    size_t live = 0, step;
    zstate_fault_stream_set (stream, SNAPSHOT_PACE, 10000, 0);
    while (!zsys_file_exists (done) && zclock_mono () - start < SNAPSHOT_WINDOW
       &&  (step = zstate_fault_stream_run (stream, 200, 0)) > 0)
        live += step;
    zstr_free (&done);
    return live;
}

static double
s_mib (size_t kib)
{
    return (double) kib / 1024;
}

bool
zstate_fault_snapshot (options_t *options, char *line, size_t size)
{
    size_t keys = (size_t) ((options->quick? 100000: 1000000) * options->scale);
    if (keys > 5000000)
        keys = 5000000;
    zstate_fault_model_t *model = zstate_fault_model_new (keys, keys + keys / 2);
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                             options->dir, NULL);
    zstate_fault_server_set_mode (server, "late", keys);
    bool pass = false;
    zstate_fault_stream_t *stream = NULL;
    if (zstate_fault_server_start (server) == 0)
        stream = zstate_fault_mirrored_stream (zstate_fault_server_endpoint (server), model,
                                               keys, 0);
    if (stream) {
        size_t producer_start = zstate_fault_rss (0);
        size_t consumer_start = zstate_fault_server_rss (server);
        //  The table is not there yet: the server refuses what it cannot
        //  route, the mirror keeps every key
        int64_t start = zclock_mono ();
        zstate_fault_stream_run (stream, keys, 0);
        zstate_client_flush (zstate_fault_stream_client (stream), 60000);
        double write_s = (double) (zclock_mono () - start) / 1000;
        size_t producer_loaded = zstate_fault_rss (0);
        start = zclock_mono ();
        zstate_fault_server_signal (server, SIGUSR2, NULL);
        size_t live = s_live (stream, options->dir);
        double live_s = (double) (zclock_mono () - start) / 1000;
        size_t producer_peak = zstate_fault_hwm (0);
        size_t consumer_peak = zstate_fault_hwm (zstate_fault_server_pid (server));
        zstate_client_flush (zstate_fault_stream_client (stream), 60000);
        zstate_fault_view_t view;
        const char *dump = zstate_fault_view_settle (server, model, SNAPSHOT_CONVERGE,
                                                     SNAPSHOT_QUIET, &view);
        zstate_fault_result_t result;
        int rc = zstate_fault_model_check_log (model, zstate_fault_server_log (server), &result);
        int64_t window_ms = zstate_fault_dump_counter (dump, "window_ms");
        snprintf (line, size, "keys=%zu write_s=%.1f snapshot_ms=%" PRId64 " live_updates=%zu"
                  " (%.1f s) regressions=%" PRIu64, keys, write_s, window_ms, live, live_s,
                  result.regressions);
        zstate_fault_append_view (line, size, "view", &view);
        zstate_fault_append_client (line, size, zstate_fault_stream_client (stream));
        zstate_fault_append (line, size, " producer_rss_mib=%.0f/%.0f/peak %.0f"
                             " consumer_rss_mib=%.0f/peak %.0f", s_mib (producer_start),
                             s_mib (producer_loaded), s_mib (producer_peak),
                             s_mib (consumer_start), s_mib (consumer_peak));
        pass = dump && zstate_fault_view_wrong (&view) == 0 && rc == 0
            && result.regressions == 0 && window_ms >= 0;
        zstate_client_set_linger (zstate_fault_stream_client (stream), 1000);
        zstate_fault_stream_destroy (&stream);
    }
    else
        snprintf (line, size, "server or producer did not start: %s", strerror (errno));
    zstate_fault_server_destroy (&server);
    zstate_fault_model_destroy (&model);
    return pass;
}
