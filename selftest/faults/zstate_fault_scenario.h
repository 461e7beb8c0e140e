/*  =========================================================================
    zstate_fault_scenario - what the fault scenarios share: the run's
    options, the result line, and the state resync scenarios with the
    checks they have in common

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_FAULT_SCENARIO_H_INCLUDED
#define ZSTATE_FAULT_SCENARIO_H_INCLUDED

#include "zstate_fault_model.h"
#include "zstate_fault_server.h"
#include "zstate_fault_stream.h"

//  @interface
typedef struct {
    bool quick;
    double scale;
    char *dir;                  //  scratch directory of this run
    size_t ops;                 //  operations of a long stream
} options_t;

//  Append to the result line.
void
    zstate_fault_append (char *line, size_t size, const char *format, ...);

//  Delivery is over when nothing was popped for the quiet msecs set here
//  (5,000 by default; 100 to ZSTATE_FAULT_SETTLE_MAX), or at that maximum
#define ZSTATE_FAULT_SETTLE_MAX     60000
void
    zstate_fault_set_settle (int msecs);

//  The reliable delivery scenarios (zstate_fault_delivery.c): each
//  returns true when every guarantee holds and writes what it measured
//  into line.
bool
    zstate_fault_cuts_paced (options_t *options, char *line, size_t size);
bool
    zstate_fault_cuts_full (options_t *options, char *line, size_t size);
bool
    zstate_fault_backlog_cut (options_t *options, char *line, size_t size);
bool
    zstate_fault_black_hole (options_t *options, char *line, size_t size);
bool
    zstate_fault_freeze (options_t *options, char *line, size_t size);
bool
    zstate_fault_kill (options_t *options, char *line, size_t size);
bool
    zstate_fault_serve_term (options_t *options, char *line, size_t size);
bool
    zstate_fault_destroy_dead (options_t *options, char *line, size_t size);
bool
    zstate_fault_stall (options_t *options, char *line, size_t size);
bool
    zstate_fault_redis_down (options_t *options, char *line, size_t size);
bool
    zstate_fault_redis_down_delivered (options_t *options, char *line, size_t size);
bool
    zstate_fault_redis_down_tables (options_t *options, char *line, size_t size);

//  The state resync scenarios (zstate_fault_resync.c, zstate_fault_views.c,
//  zstate_fault_snapshot.c): each returns true when it passes and writes
//  what it measured into line.
bool
    zstate_fault_consumer_restart (options_t *options, char *line, size_t size);
bool
    zstate_fault_late_join (options_t *options, char *line, size_t size);
//  100 small late joins, the table's registration followed at once by 5
//  TCP resets of the producer's connection: the RESYNC must survive them
bool
    zstate_fault_late_cuts (options_t *options, char *line, size_t size);
bool
    zstate_fault_redis_lost (options_t *options, char *line, size_t size);
//  The application drops its view and calls zstate_consumer_resync, three
//  times, mid-stream and once everything was acknowledged
bool
    zstate_fault_consumer_resync (options_t *options, char *line, size_t size);
//  The consumer killed in the middle of a producer's view, which then goes
//  on and ends
bool
    zstate_fault_mid_view (options_t *options, char *line, size_t size);
//  The same with no persistence: the new instance starts empty
bool
    zstate_fault_mid_view_bare (options_t *options, char *line, size_t size);
bool
    zstate_fault_view (options_t *options, char *line, size_t size);
bool
    zstate_fault_view_behind (options_t *options, char *line, size_t size);
bool
    zstate_fault_snapshot (options_t *options, char *line, size_t size);

//  The checks they share. Wait (up to msecs) until the observer's view
//  equals the model, then until it popped nothing for quiet msecs, and
//  compare again into *view: the final answer. Returns the path of the
//  last dump, NULL when the observer did not dump.
const char *
    zstate_fault_view_settle (zstate_fault_server_t *server, zstate_fault_model_t *model,
                              int msecs, int quiet, zstate_fault_view_t *view);

//  Wait (up to msecs) until Redis at endpoint holds exactly the model's
//  table; the last comparison into *view. Returns 0, or -1 when Redis
//  could not be read.
int
    zstate_fault_redis_settle (zstate_fault_model_t *model, const char *endpoint,
                               int msecs, zstate_fault_view_t *view);

//  Return counter name from the "S" line of a dump, -1 when absent.
int64_t
    zstate_fault_dump_counter (const char *path, const char *name);

//  A stream of the model's operations at rate (0: full rate) with the
//  producer mirroring keys keys; NULL when it cannot connect or mirror.
zstate_fault_stream_t *
    zstate_fault_mirrored_stream (const char *endpoint, zstate_fault_model_t *model,
                                  size_t keys, int rate);

//  Append the client's resync counters to line.
void
    zstate_fault_append_client (char *line, size_t size, zstate_client_t *client);

//  Append the consumer's window counters from a dump to line.
void
    zstate_fault_append_windows (char *line, size_t size, const char *dump);

//  Append a view's figures, prefixed with what, to line.
void
    zstate_fault_append_view (char *line, size_t size, const char *what,
                              zstate_fault_view_t *view);
//  @end

#endif
