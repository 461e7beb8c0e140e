/*  =========================================================================
    zstate_sonic_client - sends operations to an unmodified SONiC consumer
    (ZmqServer, ZmqConsumerStateTable) in SONiC's own frames

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SONIC_CLIENT_H_INCLUDED
#define ZSTATE_SONIC_CLIENT_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  The SONiC client is an actor that owns a PUSH socket connected to a
//  SONiC ZmqServer's PULL, with the options SONiC's ZmqClient sets (send
//  high-water mark 10000, TCP keepalive idle 5 s, interval 1 s, 5 probes),
//  and ZMQ_IMMEDIATE, so that with no connection up nothing is handed to
//  the socket and frames wait in the client's queue.
//  zstate_sonic_client_send is safe from any thread and never waits: it
//  encodes the call's operations as SONiC frames (one per call, more when
//  a call is over 16 MiB, in order) and queues them; the agent hands them
//  to the socket without blocking, retries with backoff while the socket
//  is full or has no peer, and keeps them until they go. The queue has the
//  native client's bounds and errors: a call beside what is queued that
//  does not fit fails with ENOBUFS, one over the bounds with EMSGSIZE,
//  and when nothing could be sent for retry-timeout the client goes to
//  FAILED, where send fails with ENOTCONN until a frame goes out again;
//  what was queued is kept. SONiC has no acknowledgements, so "sent"
//  means handed to the socket, as with zstate protocol version 1.
//
//  What the SONiC wire cannot carry (its frames have no operation code: a
//  field count of 0 is a DEL, any other a SET):
//  - HSET is sent as SET, which is what a SONiC producer sends for an
//    HSET too; SONiC's consumers merge a SET's fields into the entry, so
//    the HSET's meaning holds there. Counted in hsets.
//  - A SET with no fields is refused, the whole call with it, with
//    ENOTSUP: it would arrive as a DEL. Counted in empty_sets. Send a DEL,
//    or a SET with a placeholder field, instead.
//
//  Actor commands (zstate_sonic_client_actor (c)), each one message in the
//  zsock_send picture shown, whose first item is the command name; each
//  is answered with one reply "sis" [command][status][reason], status 0
//  or an errno code:
//      "ss"    CONNECT endpoint    connect the PUSH; EISCONN when connected
//                                  already, else zmq_connect's errno
//      "si"    VERBOSE flag        log activity with zsys_debug; 0 stops it
//      "s"     $TERM               end the actor (answered by the final
//                                  signal, not by a reply)
//  The states are the native client's, ZSTATE_CLIENT_*: IDLE before
//  connect, CONNECTING until the first frame goes out, CONNECTED, FAILED.

typedef struct _zstate_sonic_client_t zstate_sonic_client_t;

//  Counters, all since the client was created
typedef struct {
    int state;                  //  ZSTATE_CLIENT_*
    uint64_t ops_accepted;      //  operations send () accepted
    uint64_t ops_rejected;      //  operations send () refused, all reasons
    uint64_t ops_sent;          //  operations handed to the socket
    uint64_t frames_sent;       //  SONiC frames handed to the socket
    uint64_t bytes_sent;        //  bytes of those
    uint64_t retries;           //  sends retried after a full socket or no peer
    uint64_t hsets;             //  HSETs accepted, sent as SET
    uint64_t empty_sets;        //  SETs with no fields refused (ENOTSUP)
    size_t queued_ops;          //  operations accepted and not yet sent
    size_t queued_bytes;        //  bytes of their frames
    //  New counters go here, at the end (zstate_library.h, "Counters")
} zstate_sonic_client_stats_t;

//  Create a SONiC client; it connects nowhere until connect. Returns NULL
//  with errno EMFILE and zstate_reason () at the socket limit.
ZSTATE_EXPORT zstate_sonic_client_t *
    zstate_sonic_client_new (void);

//  Destroy the client: zstate_sonic_client_close with the linger time.
ZSTATE_EXPORT void
    zstate_sonic_client_destroy (zstate_sonic_client_t **self_p);

//  Close the client: wait up to timeout msecs (negative: no limit) until
//  every accepted operation is handed to the socket, then end the agent
//  (the socket lingers for the linger time) and free the client. Returns
//  the number of accepted operations that were not; nulls the pointer.
ZSTATE_EXPORT size_t
    zstate_sonic_client_close (zstate_sonic_client_t **self_p, int timeout);

//  Connect to a SONiC ZmqServer endpoint ("tcp://127.0.0.1:8100", ...).
//  Returns 0, or -1 with errno and zstate_reason ().
ZSTATE_EXPORT int
    zstate_sonic_client_connect (zstate_sonic_client_t *self, const char *endpoint);

//  Queue the operations of batch for (db, table). Safe from any thread;
//  returns at once; a call is accepted whole or not at all. Returns 0, or
//  -1 with errno and zstate_reason (): EINVAL (bad names, empty batch),
//  ENOTSUP (a SET with no fields), ENOTCONN (FAILED), ENOBUFS (the queue
//  is full now), EMSGSIZE (over the queue bounds, or an operation over
//  16 MiB in SONiC's encoding).
ZSTATE_EXPORT int
    zstate_sonic_client_send (zstate_sonic_client_t *self, const char *db,
                              const char *table, zstate_batch_t *batch);

//  Wait until the operations of every send that returned before flush are
//  handed to the socket, or timeout msecs pass (negative: no limit).
//  Returns 0, or -1 with errno ETIMEDOUT.
ZSTATE_EXPORT int
    zstate_sonic_client_flush (zstate_sonic_client_t *self, int timeout);

//  Return the client state, ZSTATE_CLIENT_*.
ZSTATE_EXPORT int
    zstate_sonic_client_state (zstate_sonic_client_t *self);

//  Fill *stats with the current counters.
//  A macro over zstate_sonic_client_stats_sized that passes sizeof *stats,
//  so the struct can grow (zstate_library.h, "Counters").
#define zstate_sonic_client_stats(self, stats) \
    zstate_sonic_client_stats_sized ((self), (stats), sizeof *(stats))
ZSTATE_EXPORT void
    zstate_sonic_client_stats_sized (zstate_sonic_client_t *self,
                                     zstate_sonic_client_stats_t *stats, size_t size);

//  Bound the queue: at most ops operations and bytes bytes accepted and
//  not yet sent (defaults ZSTATE_OPS_MAX and 256 MiB). Any time.
ZSTATE_EXPORT void
    zstate_sonic_client_set_queue (zstate_sonic_client_t *self, size_t ops, size_t bytes);

//  Retry policy for a full socket or no peer: first retry after ivl msecs
//  (at least 1), doubling to max_ivl; FAILED when nothing went out for
//  timeout msecs, never when it is 0 (defaults 1, 100, 10000). Any time.
ZSTATE_EXPORT void
    zstate_sonic_client_set_retry (zstate_sonic_client_t *self, int ivl, int max_ivl,
                                   int timeout);

//  How long destroy waits for what was accepted to be handed to the
//  socket (default 5000 msecs); also the socket's ZMQ_LINGER. Any time.
ZSTATE_EXPORT void
    zstate_sonic_client_set_linger (zstate_sonic_client_t *self, int linger);

//  Socket send high-water mark, in frames (default 10000, as SONiC). Before
//  connect; EINVAL when negative, EBUSY after connect.
ZSTATE_EXPORT int
    zstate_sonic_client_set_sndhwm (zstate_sonic_client_t *self, int sndhwm);

//  Log activity with zsys_debug.
ZSTATE_EXPORT void
    zstate_sonic_client_set_verbose (zstate_sonic_client_t *self, bool verbose);

//  Return the agent's actor, for commands and for embedding in a zloop.
ZSTATE_EXPORT zactor_t *
    zstate_sonic_client_actor (zstate_sonic_client_t *self);

//  @end

#ifdef __cplusplus
}
#endif

#endif
