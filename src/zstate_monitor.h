/*  =========================================================================
    zstate_monitor - a server's monitoring endpoint: STATS and WATCH

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_MONITOR_H_INCLUDED
#define ZSTATE_MONITOR_H_INCLUDED

#include "zstate_monitor_names.h"

//  The server actor owns one monitor and calls it from its loop. Peers
//  connect a DEALER and send requests; each gets one reply
//  [command][status][reason] followed by:
//      STATS               -> [text]: the counters, as ZPL
//      WATCH db table      -> nothing more; from then on, a copy of every
//                             message routed to (db, table) comes as
//                             [OPS][payload], until the watcher has not
//                             renewed its WATCH for its lease (3000
//                             msecs by default) or is gone
//  A watcher that does not keep up loses messages (counted); the tables'
//  consumers never wait for a watcher. A WATCH is refused with ENOSPC
//  when 256 watches are held, from all peers, and with EDQUOT when the
//  peers of its CURVE client key hold their cap (16 by default; peers
//  without a key, NULL security, share one), counted.

typedef struct _zstate_monitor_t zstate_monitor_t;

//  Make the STATS text; the monitor frees it
typedef char *(zstate_monitor_stats_fn) (void *arg);

//  Print one extra section of the STATS text, as ZPL; ordinal counts
//  the sections from 1, in the order they were added
typedef void (zstate_monitor_section_fn) (void *arg, size_t ordinal, FILE *file);

//  Add a section that every monitor in the process prints after the
//  server's text (the SONiC bridges' counters), until removed. fn (arg)
//  runs on the monitors' threads, under a lock that remove takes too:
//  once remove returns, fn is not running and will not run with arg.
void
    zstate_monitor_section_add (zstate_monitor_section_fn *fn, void *arg);
void
    zstate_monitor_section_remove (void *arg);

//  Create a monitor; it binds nothing yet. With a loop, it reads its
//  socket there and answers STATS with the text stats_fn (arg) makes;
//  without, the caller polls zstate_monitor_socket and calls
//  zstate_monitor_handle.
zstate_monitor_t *
    zstate_monitor_new (zloop_t *loop, zstate_monitor_stats_fn *stats_fn, void *arg);

//  Destroy the monitor, before its loop; nulls the pointer.
void
    zstate_monitor_destroy (zstate_monitor_t **self_p);

//  Bind to endpoint. Returns the port for tcp endpoints, 0 for others, or
//  -1 with errno and zstate_reason ().
int
    zstate_monitor_bind (zstate_monitor_t *self, const char *endpoint);

//  Return the socket to poll for requests.
zsock_t *
    zstate_monitor_socket (zstate_monitor_t *self);

//  Answer the requests waiting on the socket; stats_fn (arg) makes the
//  text for STATS.
void
    zstate_monitor_handle (zstate_monitor_t *self, zstate_monitor_stats_fn *stats_fn,
                           void *arg);

//  Give a copy of payload, routed to (db, table), to its watchers. Costs
//  one comparison when nobody watches.
void
    zstate_monitor_publish (zstate_monitor_t *self, const char *db, const char *table,
                            zmq_msg_t *payload);

//  Return how many copies watchers lost because they did not keep up.
uint64_t
    zstate_monitor_lost (zstate_monitor_t *self);

//  Set how long a WATCH holds without renewal, in msecs (default 3000),
//  for the watches made or renewed from now on.
void
    zstate_monitor_set_lease (zstate_monitor_t *self, int lease);

//  Set the most watches the peers of one CURVE client key may hold (from
//  1; default 16), for the watches made from now on.
void
    zstate_monitor_set_per_key (zstate_monitor_t *self, size_t per_key);

//  Return how many WATCHes were refused because their key held its cap,
//  and how many because every slot was held.
uint64_t
    zstate_monitor_refused (zstate_monitor_t *self);
uint64_t
    zstate_monitor_refused_full (zstate_monitor_t *self);

//  Return how many watchers there are now.
size_t
    zstate_monitor_watchers (zstate_monitor_t *self);

//  Self test of this class.
void
    zstate_monitor_test (bool verbose);

#endif
