/*  =========================================================================
    zstate_server - the server dispatcher: receives wire messages and routes
    each to the consumer table registered for its (db, table)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_H_INCLUDED
#define ZSTATE_SERVER_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  The server is an actor that owns a ROUTER socket bound to one or more
//  endpoints. Every message is validated whole (zstate_msg_decode) before
//  it is routed; a malformed message, or one for a (db, table) nobody
//  registered, is counted by reason and dropped, and the server carries on.
//  The server puts each message into its consumer's queue itself, without
//  another copy, and wakes the application; a consumer that persists gets
//  a copy passed to its DB writer first. The server never reads faster
//  than the consumers and writers drain: when a consumer's queue or a
//  writer is full the server stops reading until it has room, so the
//  pressure travels back to the clients (and their callers, as ENOBUFS).
//
//  Register consumers (zstate_consumer_new) before or after binding: a
//  server that has not bound yet receives nothing, so registering first and
//  binding last loses nothing. The wrapper methods are safe from any thread.
//
//  Actor commands (zstate_server_actor (s)), each one message in the
//  zsock_send picture shown, whose first item is the command name; each
//  is answered with one reply "sis" [command][status][reason], status 0
//  or an errno code, followed by the results shown:
//      "ss"    BIND endpoint       -> "i" port (0 if not tcp)
//      "ssssp" REGISTER db table name consumer
//                                  route (db, table) to consumer (a
//                                  zstate_consumer_t *, same process),
//                                  which goes by that unique name
//      "ssss"  UNREGISTER db table name
//                                  remove exactly that consumer; once
//                                  answered, the server never calls it
//      "sssss" FORWARD db table name endpoint
//                                  pass a copy of every message for that
//                                  consumer to the PULL socket bound at
//                                  endpoint first; "" stops
//              (REGISTER, UNREGISTER and FORWARD come from zstate_consumer.)
//      "s"     STATS               -> "b" zstate_server_stats_t
//      "ss"    MONITOR endpoint    -> "i" port: bind the monitor
//      "si"    PAUSE flag          1 stops reading from clients, 0 reads again
//      "si"    SET RCVHWM count    ROUTER receive high-water mark (before BIND)
//      "si"    VERBOSE flag        log activity with zsys_debug; 0 stops
//      "s"     $TERM               end the actor (answered by the final
//                                  signal, not by a reply)
//  The wrapper methods send the same commands, one at a time across
//  threads, and wait for the reply (ETIMEDOUT after 30 s; ESHUTDOWN once
//  the actor has ended). An application that sends commands itself reads
//  each reply before it calls a wrapper method again.

//  Counters, all since the server was created
typedef struct {
    uint64_t messages;          //  well-formed messages received
    uint64_t ops;               //  operations in those
    uint64_t bytes;             //  bytes in those
    uint64_t routed;            //  messages handed to a consumer
    uint64_t unroutable;        //  messages for an unregistered (db, table)
    uint64_t malformed;         //  messages rejected, all reasons
    uint64_t rejected [ZSTATE_WIRE_REASONS];   //  ... by ZSTATE_WIRE_* reason
    uint64_t gaps;              //  sequence gaps seen (messages lost upstream)
    uint64_t dropped;           //  messages dropped when a consumer left
    uint64_t stalls;            //  times a full consumer paused reading
    size_t consumers;           //  consumer tables registered now
    size_t sessions;            //  client sessions tracked now
} zstate_server_stats_t;

//  Create a server; it binds nothing until zstate_server_bind.
ZSTATE_EXPORT zstate_server_t *
    zstate_server_new (void);

//  Destroy the server; nulls the pointer. Consumers still registered are
//  detached and may be destroyed later.
ZSTATE_EXPORT void
    zstate_server_destroy (zstate_server_t **self_p);

//  Bind to an endpoint; may be called several times. Returns the port for
//  tcp endpoints (useful with "tcp://127.0.0.1:*"), 0 for others, or -1
//  with errno (EADDRINUSE, EINVAL, ...) and zstate_reason () on failure.
ZSTATE_EXPORT int
    zstate_server_bind (zstate_server_t *self, const char *endpoint);

//  Bind the monitoring endpoint, where zstate stats and zstate watch
//  connect (a ROUTER; may be called again for more endpoints). Peers send
//  requests and get one reply [command][status][reason] each:
//      STATS             -> [text]: every counter and, per table, what the
//                           consumer and its writer report, as ZPL
//      WATCH db table    -> from then on, every message routed to
//                           (db, table) comes as [OPS][payload] while the
//                           watcher renews its WATCH at least every 3 s.
//                           A watcher that does not keep up loses copies
//                           (counted as watch_lost); consumers never wait.
//  Returns the port for tcp endpoints, 0 for others, or -1 with errno.
ZSTATE_EXPORT int
    zstate_server_monitor (zstate_server_t *self, const char *endpoint);

//  Stop reading from clients (paused true), or read again. Messages already
//  read still reach their consumers; clients see the server as full. For an
//  orderly shutdown: pause, then wait until the consumers received all that
//  was routed (sum of their messages counters == routed), then destroy.
ZSTATE_EXPORT int
    zstate_server_pause (zstate_server_t *self, bool paused);

//  Fill *stats with the current counters. Returns 0 or -1.
ZSTATE_EXPORT int
    zstate_server_stats (zstate_server_t *self, zstate_server_stats_t *stats);

//  Socket receive high-water mark, in messages (default 1000). Before bind.
ZSTATE_EXPORT int
    zstate_server_set_rcvhwm (zstate_server_t *self, int rcvhwm);

//  Log activity with zsys_debug.
ZSTATE_EXPORT void
    zstate_server_set_verbose (zstate_server_t *self, bool verbose);

//  Return the server's actor, for commands and for embedding in a zloop.
ZSTATE_EXPORT zactor_t *
    zstate_server_actor (zstate_server_t *self);

//  @end

#ifdef __cplusplus
}
#endif

#endif
