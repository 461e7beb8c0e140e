/*  =========================================================================
    zstate_fault_observer - the application in the fault harness's server
    child: a zstate server with one consumer table (or two), which pops
    everything and logs it, and in the resync modes applies it to a view
    of its own

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_FAULT_OBSERVER_H_INCLUDED
#define ZSTATE_FAULT_OBSERVER_H_INCLUDED

#include <czmq.h>

//  @interface
//  Run by the harness binary as
//      child PORT LOG READY REDIS|- QUEUE_OPS WRITER_KEYS REPLY_FD [MODE KEYS]
//  (zstate_fault_server starts it). It binds tcp://127.0.0.1:PORT, makes
//  READY once bound, and appends one line per popped operation to LOG with
//  one write () per pops call (see zstate_fault_server.h for the lines).
//  SIGUSR1 stops popping, SIGUSR2 pops again; each is answered on REPLY_FD
//  ('S', 'R') once acted on. Modes:
//      pops    (the default) as above
//      tables  pops from two tables, ZSTATE_FAULT_TABLE and
//              ZSTATE_FAULT_TABLE_2, both persisted by the one writer;
//              SIGHUP writes the line of counters to view.dump (below)
//              and is answered 'V'
//      view    also the application's view: one seq per key number below
//              KEYS, set by a popped SET or HSET, emptied by a popped DEL
//              (logged as "D%07u %09u\n", seq 0); every start logs "I", a
//              new instance that starts empty. SIGHUP writes the view to
//              view.dump next to LOG and is answered 'V': a line of
//              counters "S name=value ...", then "%07u %09u\n" per key
//              present, in key order
//      late    view, and the consumer table registers only at the first
//              SIGUSR2 (the child starts stalled, with no table)
//  Counters in the dump: the consumer's windows, windows_completed,
//  windows_abandoned, swept, keys and the writer's redis_lost, sweeps,
//  swept (0 without a writer), unknown (popped keys that are no key
//  number below KEYS), the server's writer_skipped, replayed and behind
//  (see zstate_server_stats_t) and window_ms, msecs from the table's registration
//  to the first window completed (-1: none yet); the child also makes
//  window.done next to LOG then (removed at start).

//  The child's body. Returns the exit status.
int
    zstate_fault_observer_main (int argc, char *argv []);
//  @end

#endif
