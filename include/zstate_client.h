/*  =========================================================================
    zstate_client - the client agent: one connection to a server, shared
    by many producer tables on many threads

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CLIENT_H_INCLUDED
#define ZSTATE_CLIENT_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  The client agent is an actor that owns a DEALER socket connected to one
//  server (tcp, ipc or inproc). zstate_client_send is safe from any thread
//  and never waits: when the link is up and idle it hands the operations
//  to the socket itself, in one message, without waking the agent; else it
//  queues them in the client and returns, and the agent packs queued
//  operations for the same (db, table) into as few wire messages as it
//  can, retries on a full socket with backoff, and rides out reconnects.
//  Its queue is bounded in operations and bytes: when it is full, send
//  fails at once with ENOBUFS ("full": try again later); it never blocks
//  the caller and never drops what it accepted. When the link stays down
//  past link-timeout, or the server is dead for retry-timeout, the client
//  goes to state FAILED and send fails with ENOTCONN ("failed"), full or
//  not, until the link works again; what was queued before is kept and
//  delivered when it does. Dead means, with protocol version 2, that
//  nothing at all came from the server (ACK, PING, PONG, WELCOME...) while
//  the client held operations it has not acknowledged: a server that
//  answers is slow, not dead, however long its ACKs stall and even when
//  it reads nothing (its consumer does not pop), and the client stays
//  out of FAILED, sends failing with ENOBUFS once its bounds are hit.
//  FAILED then ends as soon as the server is heard again. With version 1
//  (no ACKs, no PINGs) dead means the socket took nothing. A call over
//  the bounds themselves fails with EMSGSIZE: it can never fit.
//
//  With protocol version 2 (the default; doc/protocol.md, part 2) the
//  client opens a session with HELLO and sends no operations before the
//  server's WELCOME. It keeps every message it sent, by reference, in an
//  outbox until the server acknowledges it; the queue's bound counts the
//  outbox too. When the server grants the REPLAY feature (zstate servers
//  do), acknowledged means persisted at either level: a DB writer that
//  fell behind (Redis down) asks for what it lacks rather than stop the
//  server's reading, while flush at level DELIVERED returns at delivery.
//  After a WELCOME (a reconnect, a restarted server, a gap the
//  server saw) it sends again, in order, what the server lacks. A message
//  the server refuses for good (REJECT) is reported and never sent again.
//  While the server does not acknowledge (away, slow, or while Redis is
//  down), the outbox coalesces: when what the
//  client holds passes half of a bound (the agent looks every heartbeat
//  interval), or a send finds a bound hit, the oldest sent messages are
//  folded into one entry per (db, table, key), with the merge rules of the
//  DB writer (SET and DEL replace, HSET merges), so an outage costs
//  O(keys), not O(operations); never on the fast path. The bounds then
//  count each key once, with its bytes: send fails with ENOBUFS only when
//  distinct keys (or their bytes) plus what is not folded fill them.
//  Messages queued and not sent yet (a full socket) fold at the same
//  moments, into one entry per key too, when keys repeat in them; when a
//  send finds a bound hit, whether they do or not. The
//  coalesced block is forgotten when an ACK covers all of it (one that
//  covers part forgets none of it). After a WELCOME that lacks part of it
//  the client sends one operation per key again, in messages numbered
//  from the WELCOME's delivered + 1, then what followed, renumbered, so
//  that the server sees consecutive sequences (doc/protocol.md, 15); keys
//  of different tables may then arrive in another order than sent, each
//  key's own operations never. The DEALER's send high-water mark is at
//  most half the bounds in messages of the batch bounds (see
//  zstate_client_set_sndhwm), so that libzmq's pipe, whose frames the
//  outbox shares, stays inside them.
//
//  It PINGs every heartbeat interval, ACKs stalled or not, and when
//  nothing came from the server for 3 of the server's intervals it closes
//  its DEALER, opens a fresh one (a new connection) and says HELLO there.
//
//  State resync (doc/protocol.md, part 4): HELLO offers the RESYNC
//  feature. Producer tables with a mirror (zstate_producer_set_mirror)
//  answer the server's RESYNC with a snapshot, and views
//  (zstate_producer_begin_view) replace a table; both travel in the
//  session's stream, never folded across, and only to a server that
//  granted the feature. While a snapshot runs, sends are queued (no fast
//  path), and the snapshot uses at most half of the queue bounds.
//
//  Configure with the zstate_client_set_* methods, then connect. Setters
//  marked (before connect) fail with EBUSY afterwards.
//
//  Operations sent before connect are queued, and go out once connected.
//
//  Events, on zstate_client_events (), each a message [type][endpoint][detail]:
//      STATE       [state name]     CONNECTED, DISCONNECTED, FAILED, ...
//      ERROR       [reason]         e.g. "server silent for 10000 ms with
//                                   operations not acknowledged" (version
//                                   1: "retries exhausted after 10000 ms");
//                                   with version 2, once, when 3 HELLOs got
//                                   no WELCOME (a version 1 server?)
//                                   a failed security handshake (CURVE
//                                   refused, or on one side only): the
//                                   1st, 2nd, 4th... time
//      EPOCH       [old new]        a server instance WELCOMEd us: both
//                                   epochs in hex, old all zeros the first time
//      REJECT      [seq code text]  the server refused message seq for good;
//                                   for a window marker the text goes on
//                                   with "; SNAPSHOT-BEGIN VIEW db table"
//                                   (or SNAPSHOT), or "; SNAPSHOT-END
//                                   COMPLETE db table" (or ABANDONED), and
//                                   windows_rejected counts it
//      LEVEL       [asked granted]  a WELCOME granted less than the level
//                                   asked for, e.g. "PERSISTED DELIVERED"
//      WINDOW      [detail]         views (or snapshots) were dropped since
//                                   the server did not grant RESYNC:
//                                   "dropped: RESYNC not granted"; their
//                                   operations went and merge
//  Events are sent without blocking; when the application does not read
//  them they are dropped and counted (events_dropped). A failure sends
//  STATE FAILED, then ERROR with the reason; zstate_client_state () gives
//  the new state by the time its event can be read.
//
//  Actor commands (zstate_client_actor (c)), each one message in the
//  zsock_send picture shown, whose first item is the command name; each
//  is answered with one reply "sis" [command][status][reason], status 0
//  or an errno code:
//      "ss"  CONNECT endpoint      connect the DEALER socket; EISCONN when
//                                  connected already, else zmq_connect's errno
//      "si"  VERBOSE flag          log activity with zsys_debug; 0 stops it
//      "s"   $TERM                 end the actor (answered by the final
//                                  signal, not by a reply)
//  The wrapper methods send the same commands, one at a time across
//  threads, and wait for the reply (ETIMEDOUT after
//  zstate_command_timeout (), 30 s by default; ESHUTDOWN once the actor
//  has ended). An application that sends commands itself
//  reads each reply before it calls a wrapper method again.

//  Client states
#define ZSTATE_CLIENT_IDLE          0   //  not connected yet
#define ZSTATE_CLIENT_CONNECTING    1   //  connect issued, no link yet
#define ZSTATE_CLIENT_CONNECTED     2   //  link up
#define ZSTATE_CLIENT_DISCONNECTED  3   //  link lost, reconnecting
#define ZSTATE_CLIENT_FAILED        4   //  link down too long / server dead

//  Acknowledgement levels (protocol version 2): what the client waits for
//  before it forgets a message it sent
#define ZSTATE_ACK_DELIVERED        1   //  handed to the consumer table
#define ZSTATE_ACK_PERSISTED        2   //  also written to Redis by its writer

//  Counters, all since the client was created
typedef struct {
    int state;                  //  ZSTATE_CLIENT_*
    uint64_t ops_accepted;      //  operations send () accepted
    uint64_t ops_rejected;      //  operations send () refused (full, failed)
    uint64_t ops_sent;          //  operations handed to the socket
    uint64_t messages_sent;     //  wire messages handed to the socket
    uint64_t bytes_sent;        //  wire bytes handed to the socket
    uint64_t retries;           //  sends retried after a full socket
    uint64_t connects;          //  times the link came up
    uint64_t disconnects;       //  times the link went down
    uint64_t events_dropped;    //  events the application did not read
    size_t queued_ops;          //  operations accepted and not yet sent
    size_t queued_bytes;        //  bytes of those
    //  Protocol version 2 only (all 0 with version 1)
    uint64_t ops_acked;         //  operations the server acknowledged
    uint64_t ops_refused;       //  operations in messages it refused (REJECT)
    uint64_t rejects;           //  messages it refused
    uint64_t retransmits;       //  messages sent again after a WELCOME
    uint64_t epochs;            //  server epochs seen (instances, restarts)
    uint64_t hellos;            //  HELLOs sent
    uint64_t resets;            //  DEALERs replaced after a silent server
    uint64_t protocol_errors;   //  bad or unexpected messages from the server
    uint64_t replays;           //  REPLAYs answered: the server's DB writer
                                //  was full and lacks what they asked for
    uint64_t replays_missed;    //  ... that asked for what was no longer held
    uint64_t last_acked;        //  highest sequence acknowledged at the
                                //  granted level
    size_t outbox_ops;          //  operations sent and not acknowledged
    size_t outbox_bytes;        //  bytes of those
    int ack_level;              //  level the server granted, ZSTATE_ACK_*,
                                //  0 before the first WELCOME
    uint64_t ops_delivered;     //  operations acknowledged, or delivered and
                                //  held for PERSISTED (= ops_acked at level
                                //  DELIVERED); goes back when a new server
                                //  instance needs coalesced ones again
    uint64_t last_delivered;    //  highest sequence acknowledged delivered
    uint64_t last_persisted;    //  highest sequence acknowledged persisted
    uint64_t frames_coalesced;  //  sent messages folded into the outbox's keyed
                                //  block, and queued ones folded unsent
    size_t outbox_keys;         //  keys in that block now
    //  State resync (doc/protocol.md, 15)
    uint64_t resyncs;           //  RESYNCs received from the server
    uint64_t snapshots;         //  snapshots sent whole (END COMPLETE)
    uint64_t snapshots_abandoned;   //  snapshots a view ended ABANDONED
    uint64_t snapshot_entries;  //  entries snapshots sent (also counted in
                                //  ops_accepted: they are acknowledged so)
    uint64_t views;             //  views ended (END COMPLETE)
    uint64_t windows_dropped;   //  windows not sent: the server did not
                                //  grant the feature (their operations went)
    uint64_t mirror_refused;    //  operations refused: a mirror was full
    size_t mirror_keys;         //  keys the mirrors hold now
    uint64_t windows_rejected;  //  SNAPSHOT-BEGINs and ENDs the server
                                //  refused (REJECT; also in rejects)
} zstate_client_stats_t;

//  Create a client agent; it connects nowhere until zstate_client_connect.
//  Returns NULL with errno EMFILE and zstate_reason () when the process is
//  at its socket limit (zsys_set_max_sockets).
ZSTATE_EXPORT zstate_client_t *
    zstate_client_new (void);

//  Destroy the client: zstate_client_close with the linger time.
ZSTATE_EXPORT void
    zstate_client_destroy (zstate_client_t **self_p);

//  Close the client: wait up to timeout msecs (negative: no limit) until
//  every accepted operation is acknowledged (version 2) or handed to the
//  socket (version 1), then end the agent and free the client. Returns
//  the number of accepted operations that were not (and logs it when not
//  0); nulls the pointer. A client that never connected does not wait.
//  With the REPLAY feature at level DELIVERED it waits, within timeout,
//  for what is delivered to be persisted too, since a DB writer that fell
//  behind asks the client for it (README); what was delivered and not
//  persisted does not count as lost, and is logged.
ZSTATE_EXPORT size_t
    zstate_client_close (zstate_client_t **self_p, int timeout);

//  Connect to a server endpoint ("tcp://127.0.0.1:5555", "ipc://...",
//  "inproc://..."). Messages sent before the server exists are delivered
//  when it binds. Returns 0, or -1 with errno and zstate_reason ().
ZSTATE_EXPORT int
    zstate_client_connect (zstate_client_t *self, const char *endpoint);

//  Queue count operations held in batch for (db, table), or hand them to
//  the socket at once when the link is idle. Safe from any thread; returns
//  at once. Operations of one call are accepted whole or not at all, and
//  keep their order with those of earlier calls from the same thread. A
//  batch too large for one wire message travels in several, in order.
//  Returns 0, or -1 with errno and zstate_reason (): EINVAL, ENOTCONN,
//  ENOBUFS (the queue is full now), EMSGSIZE (the call is over the queue
//  bounds and will never fit).
ZSTATE_EXPORT int
    zstate_client_send (zstate_client_t *self, const char *db, const char *table,
                        zstate_batch_t *batch);

//  Wait until the operations of every send that returned before flush was
//  called are acknowledged by the server at the granted level or refused
//  by a REJECT (version 2), or handed to the socket (version 1), or timeout msecs pass (a
//  negative timeout waits without limit). A send still running on another
//  thread when flush starts may or may not be waited for. Returns 0, or -1
//  with errno ETIMEDOUT.
ZSTATE_EXPORT int
    zstate_client_flush (zstate_client_t *self, int timeout);

//  Wait as zstate_client_flush does, for a chosen acknowledgement level:
//  ZSTATE_ACK_DELIVERED waits until the server delivered the operations
//  to their consumer tables (at either granted level); ZSTATE_ACK_PERSISTED
//  until their writers also wrote them to Redis, and needs the server to
//  have granted that level: before the first WELCOME it waits for one.
//  Returns 0, or -1 with errno: ETIMEDOUT; ENOTSUP for PERSISTED when the
//  client did not ask for it or the server granted only DELIVERED (also
//  when a WELCOME downgrades the level during the wait), and for any
//  level with protocol version 1 (no acknowledgements); EINVAL for an
//  unknown level; ESHUTDOWN when the agent has ended.
ZSTATE_EXPORT int
    zstate_client_flush_level (zstate_client_t *self, int level, int timeout);

//  Return the client state, ZSTATE_CLIENT_*.
ZSTATE_EXPORT int
    zstate_client_state (zstate_client_t *self);

//  Return the name of a state ("CONNECTED", ...).
ZSTATE_EXPORT const char *
    zstate_client_state_name (int state);

//  Return the name of an acknowledgement level ("DELIVERED", "PERSISTED"),
//  "NONE" for 0, "UNKNOWN" for others.
ZSTATE_EXPORT const char *
    zstate_client_ack_level_name (int level);

//  Fill *stats with the current counters.
//  A macro over zstate_client_stats_sized that passes sizeof *stats, so the
//  struct can grow: see "Counters" in zstate_library.h.
#define zstate_client_stats(self, stats) \
    zstate_client_stats_sized ((self), (stats), sizeof *(stats))
ZSTATE_EXPORT void
    zstate_client_stats_sized (zstate_client_t *self, zstate_client_stats_t *stats, size_t size);

//  Return the socket on which the client reports events.
ZSTATE_EXPORT zsock_t *
    zstate_client_events (zstate_client_t *self);

//  Return the agent's actor, for commands and for embedding in a zloop.
ZSTATE_EXPORT zactor_t *
    zstate_client_actor (zstate_client_t *self);

//  Bound the queue: at most ops operations and bytes bytes accepted and not
//  yet sent, or with version 2 not yet acknowledged (defaults
//  ZSTATE_OPS_MAX, 1,048,576, and 256 MiB, so the largest wire message
//  fits). A call that fits the bounds but not beside what is held fails
//  with ENOBUFS (try again later); a call over a bound fails with
//  EMSGSIZE, for good. Any time.
ZSTATE_EXPORT void
    zstate_client_set_queue (zstate_client_t *self, size_t ops, size_t bytes);

//  Bound adaptive batching: at most ops operations and bytes bytes in one
//  wire message (defaults 1024 and 256 KiB), clamped to ZSTATE_OPS_MAX and
//  ZSTATE_MESSAGE_MAX; an operation larger than bytes travels alone. Any time.
ZSTATE_EXPORT void
    zstate_client_set_batch (zstate_client_t *self, size_t ops, size_t bytes);

//  Retry policy for a full socket: first retry after ivl msecs (at least
//  1), doubling to max_ivl (defaults 1, 100). FAILED after timeout msecs
//  (default 10000) in which, with version 2, nothing was heard from the
//  server while operations wait for its acknowledgement (at least two
//  heartbeat intervals, since a live server is heard about once in one;
//  checked every heartbeat interval), or with version 1 nothing went out.
//  Any time.
ZSTATE_EXPORT void
    zstate_client_set_retry (zstate_client_t *self, int ivl, int max_ivl, int timeout);

//  How long the link may be down (or not come up) before the client goes to
//  FAILED; 0 means never (default 10000 msecs). Any time; it applies from
//  the next time the link goes down.
ZSTATE_EXPORT void
    zstate_client_set_link_timeout (zstate_client_t *self, int timeout);

//  How long destroy waits for what was accepted to be acknowledged (or
//  with version 1 handed to the socket; default 5000 msecs); also the
//  socket's ZMQ_LINGER. Any time. A client that never connected
//  does not wait.
ZSTATE_EXPORT void
    zstate_client_set_linger (zstate_client_t *self, int linger);

//  Socket send high-water mark, in messages (default 1000; 0 for none).
//  With version 2 the DEALER gets at most half the queue bounds divided
//  by the batch bounds (512 with the defaults), as they are at connect,
//  so that its pipe never holds more than the outbox may. Before connect.
ZSTATE_EXPORT int
    zstate_client_set_sndhwm (zstate_client_t *self, int sndhwm);

//  TCP keepalive: idle and interval in seconds, count of probes (defaults
//  30, 5 and 3); idle 0 switches keepalive off. Before connect.
ZSTATE_EXPORT int
    zstate_client_set_tcp_keepalive (zstate_client_t *self, int idle, int interval, int count);

//  Bind the connection to a network interface or VRF (ZMQ_BINDTODEVICE;
//  needs CAP_NET_RAW). Before connect.
ZSTATE_EXPORT int
    zstate_client_set_interface (zstate_client_t *self, const char *interface);

//  Reconnect interval and its maximum, msecs (zmq defaults 100 and 0). Before connect.
ZSTATE_EXPORT int
    zstate_client_set_reconnect (zstate_client_t *self, int ivl, int max_ivl);

//  Protocol version, 1 or 2 (default 2). Version 2 opens a session with
//  HELLO, keeps every sent message until the server acknowledges it, and
//  sends again what a reconnected or restarted server lacks; version 1
//  only sends. Before connect; EINVAL for other versions.
ZSTATE_EXPORT int
    zstate_client_set_protocol (zstate_client_t *self, int version);

//  Acknowledgement level to ask the server for, ZSTATE_ACK_DELIVERED (the
//  default) or ZSTATE_ACK_PERSISTED. The server's WELCOME grants it or
//  less, and the granted level is the one used: flush waits for it and
//  stats.ack_level shows it, and the client forgets a sent message only
//  when it is acknowledged at that level (persisted, with REPLAY granted:
//  see above). When the server grants less than was
//  asked, a LEVEL event and a log line say so. Protocol version 1 has no
//  acknowledgements and ignores it. Before connect; EINVAL for another
//  level.
ZSTATE_EXPORT int
    zstate_client_set_ack_level (zstate_client_t *self, int level);

//  Offer the state resync feature (doc/protocol.md, part 4) in HELLO:
//  true by default. Without it the server sends no RESYNC, mirrors never
//  send snapshots, and views are dropped as WINDOW events say (their
//  operations merge). Before connect; EBUSY after.
ZSTATE_EXPORT int
    zstate_client_set_resync (zstate_client_t *self, bool offer);

//  Heartbeat interval in msecs (default 1000; 10 to 3600000): version 2
//  PINGs the server this often, and replaces its DEALER by a fresh one
//  (a new connection) when nothing came from the server for 3 of the
//  server's intervals; also the ZMTP heartbeat of the socket. Before
//  connect; EINVAL out of range.
ZSTATE_EXPORT int
    zstate_client_set_heartbeat (zstate_client_t *self, int interval);

//  Speak CURVE to the server: certificate is this client's secret
//  certificate (zcert format; its "_secret" file is read when there is
//  one), whose public certificate the server's client directory holds;
//  server_key is the server's public key, 40 characters of Z85, or its
//  public certificate's file. A server that refuses the client (unknown
//  key, wrong server key) shows as ERROR events, and nothing is delivered
//  or acknowledged. Before
//  connect. Returns 0, or -1 with errno and zstate_reason (): ENOENT for a
//  certificate that cannot be read, EINVAL for one without a secret key
//  or a server key that is neither, EBUSY once connected.
ZSTATE_EXPORT int
    zstate_client_set_curve (zstate_client_t *self, const char *certificate,
                             const char *server_key);

//  Log activity with zsys_debug.
ZSTATE_EXPORT void
    zstate_client_set_verbose (zstate_client_t *self, bool verbose);

//  @end

#ifdef __cplusplus
}
#endif

#endif
