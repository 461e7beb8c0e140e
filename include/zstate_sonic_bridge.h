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
//  The PULL's endpoints get the posture of the server's own (README,
//  "Security"): NULL security is refused on a tcp endpoint that is not
//  loopback unless insecure endpoints are allowed; a ZAP domain is set,
//  so ZMTP 1.0 and 2.0 peers are refused; ALLOW and DENY lists hold (they
//  are the process's); handshakes are counted by reason. CURVE can be
//  switched on, for producers of your own: SONiC's ZmqProducerStateTable
//  and ZmqClient connect with NULL security and cannot speak CURVE.
//
//  At shutdown, zstate_sonic_bridge_drain reads the PULL until it is empty
//  and hands everything to the server as it takes it (the server must be
//  able to, so its consumers must still be read). SONiC producers resend
//  nothing, so zstate_sonic_bridge_close counts and logs the operations it
//  read and never handed over, and those it finds waiting in the PULL.
//
//  The counters also show in the STATS of the process's server monitors
//  (zstate stats), as a section "sonic": every monitor in the process
//  shows every bridge in it, the second as "sonic_2", and so on in the
//  order the bridges were made. They are published there after each
//  burst of frames and 4 times a second.
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
//      "s"     DRAIN               read until the PULL is empty, then no more
//      "sss"   CURVE certificate clients   CURVE on (before BIND)
//      "ss"    ALLOW address       the process's ZAP allow list
//      "ss"    DENY address        ... and its deny list
//      "si"    SET INSECURE flag   1: NULL security on any endpoint
//      "si"    SET CONNECTIONS count   most connections open, 0 no cap
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
    uint64_t held;              //  operations read, not yet handed to the server
    uint64_t drained;           //  1 once a drain handed everything over
    uint64_t lost;              //  operations never handed over (close)
    uint64_t connections;       //  connections open now
    uint64_t accepted;          //  connections accepted
    uint64_t shed;              //  connections closed over the cap
    uint64_t handshakes;        //  ZMTP handshakes completed
    uint64_t auth_denied;       //  refused by the authenticator (DENY, ALLOW, keys)
    uint64_t auth_mechanism;    //  refused: another security mechanism
    uint64_t auth_crypto;       //  refused: CURVE that did not decrypt
    uint64_t auth_protocol;     //  refused: any other handshake error
    uint64_t auth_failed;       //  handshakes failed without a detail
    //  New counters go here, at the end (zstate_library.h, "Counters")
} zstate_sonic_bridge_stats_t;

//  Create a bridge to server: binds the server to a private inproc
//  endpoint and connects to it; binds no PULL until zstate_sonic_bridge_bind.
//  Returns NULL with errno and zstate_reason () (EMFILE at the socket limit).
ZSTATE_EXPORT zstate_sonic_bridge_t *
    zstate_sonic_bridge_new (zstate_server_t *server);

//  Destroy the bridge: zstate_sonic_bridge_close.
ZSTATE_EXPORT void
    zstate_sonic_bridge_destroy (zstate_sonic_bridge_t **self_p);

//  End the bridge and free it; nulls the pointer. Returns how many
//  operations it read from SONiC producers and did not hand to the server
//  (held, or unread in the PULL), which it also logs: drain first.
ZSTATE_EXPORT uint64_t
    zstate_sonic_bridge_close (zstate_sonic_bridge_t **self_p);

//  Begin draining: read the PULL until it is empty, hand what it read to
//  the server as the server takes it, then read no more (a producer's
//  PUSH keeps what it sends after that). Returns at once, 0 or -1;
//  stats.drained turns 1 when everything read is handed over. BIND is
//  refused from then on (EBUSY).
ZSTATE_EXPORT int
    zstate_sonic_bridge_drain (zstate_sonic_bridge_t *self);

//  Bind the PULL to an endpoint; may be called several times. Returns the
//  port for tcp endpoints, 0 for others, or -1 with errno and zstate_reason ():
//  EACCES for NULL security on a tcp endpoint that is not loopback.
ZSTATE_EXPORT int
    zstate_sonic_bridge_bind (zstate_sonic_bridge_t *self, const char *endpoint);

//  Fill *stats with the current counters. Returns 0 or -1.
//  A macro over zstate_sonic_bridge_stats_sized that passes sizeof *stats,
//  so the struct can grow (zstate_library.h, "Counters").
#define zstate_sonic_bridge_stats(self, stats) \
    zstate_sonic_bridge_stats_sized ((self), (stats), sizeof *(stats))
ZSTATE_EXPORT int
    zstate_sonic_bridge_stats_sized (zstate_sonic_bridge_t *self,
                                     zstate_sonic_bridge_stats_t *stats, size_t size);

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

//  Security, as zstate_server_set_curve, zstate_server_allow,
//  zstate_server_deny, zstate_server_set_insecure and
//  zstate_server_set_connections_max (zstate_server.h) do for the server's
//  endpoints, with the same errors. CURVE and insecure: before bind. The
//  ALLOW and DENY lists are the process's, shared with its servers.
ZSTATE_EXPORT int
    zstate_sonic_bridge_set_curve (zstate_sonic_bridge_t *self, const char *certificate,
                                   const char *clients);
ZSTATE_EXPORT int
    zstate_sonic_bridge_allow (zstate_sonic_bridge_t *self, const char *address);
ZSTATE_EXPORT int
    zstate_sonic_bridge_deny (zstate_sonic_bridge_t *self, const char *address);
ZSTATE_EXPORT int
    zstate_sonic_bridge_set_insecure (zstate_sonic_bridge_t *self, bool insecure);
ZSTATE_EXPORT int
    zstate_sonic_bridge_set_connections_max (zstate_sonic_bridge_t *self, int max);

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
