/*  =========================================================================
    zstate_sonic_bridge - a server endpoint for SONiC producers: receives
    SONiC frames and hands their operations to the server's consumer tables

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SONIC_BRIDGE_H_INCLUDED
#define ZSTATE_SONIC_BRIDGE_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  The bridge is an actor that owns a PULL socket, bound where unmodified
//  SONiC producers (ZmqProducerStateTable, ZmqClient: PUSH) connect. It
//  validates each frame whole (zstate_sonic_msg_decode); a bad frame is
//  counted by reason and dropped, and the bridge carries on. Each good
//  frame becomes one zstate message (protocol version 1) for the same
//  (db, table), sent over inproc to the server it was made for, which
//  routes it to the consumer table registered there as if a zstate client
//  had sent it: a field count of 0 arrives as DEL, any other as SET (SONiC
//  has no HSET on the wire), or as HSET with zstate_sonic_bridge_set_merge. The bridge reads no faster than the server
//  takes: when the server stops reading (a consumer or writer is full),
//  the bridge stops reading its PULL, and SONiC's PUSH queues, then fails
//  its sends, as against a SONiC consumer that does not keep up.
//
//  The PULL takes SONiC's socket options: receive high-water mark 10000,
//  TCP keepalive idle 5 s, interval 1 s, 5 probes; and ZMQ_MAXMSGSIZE
//  ZSTATE_MESSAGE_MAX + 64 KiB, so a frame over that is not read at all
//  (libzmq drops the connection) and one a little over ZSTATE_MESSAGE_MAX
//  is counted as TOO_LARGE.
//
//  Destroy the bridge before its server.
//
//  Actor commands (zstate_sonic_bridge_actor (b)), each one message in the
//  zsock_send picture shown, whose first item is the command name; each
//  is answered with one reply "sis" [command][status][reason], status 0
//  or an errno code, followed by the results shown:
//      "ss"    CONNECT endpoint    connect to the server's inproc endpoint
//                                  (zstate_sonic_bridge_new does it)
//      "ss"    BIND endpoint       -> "i" port (0 if not tcp): bind the PULL
//      "s"     STATS               -> "b" zstate_sonic_bridge_stats_t
//      "si"    SET RCVHWM count    PULL receive high-water mark (before BIND)
//      "si"    SET MERGE flag      1: deliver SETs as HSET (merge), 0: as SET
//      "si"    VERBOSE flag        log activity with zsys_debug; 0 stops
//      "s"     $TERM               end the actor (answered by the final
//                                  signal, not by a reply)

typedef struct _zstate_sonic_bridge_t zstate_sonic_bridge_t;

//  Counters, all since the bridge was created
typedef struct {
    uint64_t frames;            //  SONiC frames accepted
    uint64_t ops;               //  operations in those
    uint64_t dels;              //  ... of which DELs (field count 0)
    uint64_t bytes;             //  bytes in those frames
    uint64_t messages;          //  zstate messages handed to the server
    uint64_t malformed;         //  frames rejected, all reasons
    uint64_t rejected [ZSTATE_SONIC_REASONS];  //  ... by ZSTATE_SONIC_* reason
    uint64_t stalls;            //  times the server was full and reading paused
} zstate_sonic_bridge_stats_t;

//  Create a bridge to server: binds the server to a private inproc
//  endpoint and connects to it; binds no PULL until zstate_sonic_bridge_bind.
//  Returns NULL with errno and zstate_reason () (EMFILE at the socket limit).
ZSTATE_EXPORT zstate_sonic_bridge_t *
    zstate_sonic_bridge_new (zstate_server_t *server);

//  Destroy the bridge; nulls the pointer. Frames not yet read are lost.
ZSTATE_EXPORT void
    zstate_sonic_bridge_destroy (zstate_sonic_bridge_t **self_p);

//  Bind the PULL to an endpoint; may be called several times. Returns the
//  port for tcp endpoints, 0 for others, or -1 with errno and zstate_reason ().
ZSTATE_EXPORT int
    zstate_sonic_bridge_bind (zstate_sonic_bridge_t *self, const char *endpoint);

//  Fill *stats with the current counters. Returns 0 or -1.
ZSTATE_EXPORT int
    zstate_sonic_bridge_stats (zstate_sonic_bridge_t *self, zstate_sonic_bridge_stats_t *stats);

//  PULL receive high-water mark, in messages (default 10000, as SONiC's
//  ZmqServer). Before bind; EINVAL when negative.
ZSTATE_EXPORT int
    zstate_sonic_bridge_set_rcvhwm (zstate_sonic_bridge_t *self, int rcvhwm);

//  Deliver a field count of 1 or more as HSET (merge true) or SET (false,
//  the default). SONiC's own consumers merge a SET's fields into the
//  entry; a zstate SET replaces it, in the consumer and in Redis. Any
//  time; applies from the next frame. Returns 0 or -1.
ZSTATE_EXPORT int
    zstate_sonic_bridge_set_merge (zstate_sonic_bridge_t *self, bool merge);

//  Log activity with zsys_debug.
ZSTATE_EXPORT void
    zstate_sonic_bridge_set_verbose (zstate_sonic_bridge_t *self, bool verbose);

//  Return the bridge's actor, for commands and for embedding in a zloop.
ZSTATE_EXPORT zactor_t *
    zstate_sonic_bridge_actor (zstate_sonic_bridge_t *self);

//  @end

#ifdef __cplusplus
}
#endif

#endif
