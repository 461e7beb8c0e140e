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
//  Level PERSISTED (protocol version 2): the server grants it to a client
//  that asks while at least one table has a DB writer (DELIVERED
//  otherwise), so attach writers before binding. A session's persisted sequence P is the highest such that
//  every message up to it was delivered and, when its table has a DB
//  writer, that writer confirmed it is in Redis (CONFIRMED, see
//  zstate_writer.h); messages of tables without a writer need no
//  writing, so there P follows D. A table that unregisters releases what
//  waited for its writer.
//
//  State resync (doc/protocol.md, part 4; sections 16 and 17 for the
//  server): the server grants the RESYNC feature to clients that offer it,
//  routes their SNAPSHOT-BEGIN and SNAPSHOT-END like OPS (sequenced, to the
//  writer first, then to the consumer as they came), and sends RESYNC,
//  which asks the clients' mirrors for a snapshot, when a consumer
//  registers, when a consumer asks, when a writer finds that Redis lost a
//  db, and to a session new to the server while some table was not
//  restored from Redis. A RESYNC that cannot go is owed until the
//  session's next WELCOME. One writer per table is assumed: a window
//  replaces the whole table; two live sessions writing one table are
//  counted (table_writers) and logged.
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
//      "ssssb" RESTORED db table name watermarks
//                                  what Redis holds of that consumer's
//                                  table: n x 24 octets, a 16-octet
//                                  session id and an 8-octet sequence in
//                                  network byte order each; from then on
//                                  OPS of version 2 at or below its
//                                  session's watermark are dropped as
//                                  delivered and persisted (restored_drops)
//      "ssss"  RESYNC db table name
//                                  ask every producer that mirrors that
//                                  consumer's table for a snapshot: RESYNC
//                                  to each session granted the feature,
//                                  owed to one that cannot take it now;
//                                  ENOENT for no such consumer
//      "s"     CONFIRM ENDPOINT    -> "s" the inproc endpoint where DB
//                                  writers send CONFIRMED, and LOST when
//                                  Redis lost a db (zstate_writer_confirm)
//              (REGISTER, UNREGISTER, FORWARD, RESTORED and RESYNC come
//              from zstate_consumer.)
//      "s"     STATS               -> "b" zstate_server_stats_t
//      "ss"    MONITOR endpoint    -> "i" port: bind the monitor
//      "si"    PAUSE flag          1 stops reading from clients, 0 reads again
//      "si"    SET RCVHWM count    ROUTER receive high-water mark (before BIND)
//      "si"    SET HEARTBEAT msecs version 2 heartbeat interval, 0 or 10..3600000
//      "si"    SET ACK DELAY msecs longest wait to coalesce an ACK
//      "si"    SET SESSION IDLE msecs  silence after which a session is forgotten
//      "si"    SET SESSIONS count  most sessions kept (least recently heard go)
//      "si"    SET SESSIONS PER KEY count  most sessions one CURVE key owns
//      "si"    SET WATCHES PER KEY count   most monitor watches of one key
//      "si"    VERBOSE flag        log activity with zsys_debug; 0 stops
//      "sss"   CURVE certificate clients   CURVE on both endpoints (before
//                                  BIND and MONITOR)
//      "ss"    ALLOW address       "ss" DENY address: the process's lists
//      "si"    SET INSECURE flag   1 allows NULL security on any endpoint
//      "si"    SET CONNECTIONS count   most connections open, 0 no cap
//      "si"    SET PEER TIMEOUT msecs  drop a connection silent that long
//      "s"     $TERM               end the actor (answered by the final
//                                  signal, not by a reply)
//  The wrapper methods send the same commands, one at a time across
//  threads, and wait for the reply (ETIMEDOUT after
//  zstate_command_timeout (), 30 s by default; ESHUTDOWN once the actor
//  has ended). An application that sends commands itself reads
//  each reply before it calls a wrapper method again.

//  Reason codes counted in rejected, those of protocol version 2
//  (doc/protocol.md, section 20); the first ZSTATE_WIRE_REASONS are those
//  of version 1. The codes state resync added (KIND, STATUS) count in
//  rejected_kind and rejected_status, so that rejected keeps its size
#define ZSTATE_SERVER_REASONS   23

//  Counters, all since the server was created
typedef struct {
    uint64_t messages;          //  well-formed messages received
    uint64_t ops;               //  operations in those
    uint64_t bytes;             //  bytes in those
    uint64_t routed;            //  messages handed to a consumer
    uint64_t unroutable;        //  messages for an unregistered (db, table)
    uint64_t malformed;         //  messages rejected, all reasons
    uint64_t rejected [ZSTATE_SERVER_REASONS];  //  ... by reason code
    uint64_t gaps;              //  sequence gaps seen (messages lost upstream)
    uint64_t dropped;           //  messages dropped when a consumer left
    uint64_t stalls;            //  times a full consumer paused reading
    size_t consumers;           //  consumer tables registered now
    size_t sessions;            //  client sessions tracked now, both versions
    //  Protocol version 2 (doc/protocol.md, part 2)
    uint64_t messages_v1;       //  of messages, those of version 1
    uint64_t hellos;            //  HELLOs answered with a WELCOME
    uint64_t duplicates;        //  OPS dropped as delivered already
    uint64_t resumes;           //  WELCOMEs sent to resume after a gap
    uint64_t superseded;        //  OPS dropped: from a connection its
                                //  session left by a later HELLO
    uint64_t no_session;        //  OPS dropped: no session for its id
    uint64_t rejects;           //  REJECTs sent (NO_SESSION included)
    uint64_t acks;              //  ACKs sent
    uint64_t pings;             //  PINGs answered with a PONG
    uint64_t pings_sent;        //  PINGs sent to quiet sessions
    uint64_t unexpected;        //  WELCOME, ACK, REJECT, stray PONG dropped
    uint64_t expired;           //  sessions forgotten after their silence
    uint64_t evicted;           //  sessions evicted from a full table
    //  Level PERSISTED (doc/protocol.md, section 17)
    uint64_t confirms;          //  CONFIRMED messages taken from writers
    uint64_t confirms_ignored;  //  CONFIRMED messages, tables or entries
                                //  skipped: malformed, or for no known
                                //  table or session
    uint64_t restored_drops;    //  OPS dropped (and acknowledged) as held
                                //  by Redis already, under a restored
                                //  watermark of their table
    //  A full DB writer (doc/protocol.md, section 17): sessions that offer
    //  REPLAY go on being delivered, and replay to the writer later
    uint64_t writer_skipped;    //  messages delivered without the writer's
                                //  copy, its PUSH being full
    uint64_t replays_sent;      //  REPLAYs sent to those sessions
    uint64_t replayed;          //  messages they sent again that went to
                                //  the writer only
    uint64_t replay_dropped;    //  ... that did not: stale, or the writer
                                //  full again (a later REPLAY asks again)
    size_t behind;              //  (session, table) pairs behind their
                                //  writer now, to replay: 0 once caught up
    //  Security, the data and monitor endpoints together (doc/protocol.md,
    //  section 10); a refused handshake delivers nothing
    size_t connections;         //  tcp and ipc connections open now
    uint64_t accepted;          //  connections accepted
    uint64_t shed;              //  connections closed over the cap
    uint64_t handshakes;        //  ZMTP handshakes completed
    uint64_t auth_denied;       //  refused by the authenticator: a client
                                //  key not allowed, or a denied address
    uint64_t auth_mechanism;    //  refused: another mechanism than ours,
                                //  such as a NULL or PLAIN peer with CURVE
    uint64_t auth_crypto;       //  refused: CURVE that did not decrypt, a
                                //  client with the wrong server key
    uint64_t auth_protocol;     //  refused: any other handshake error
    uint64_t auth_failed;       //  handshakes failed without a detail
    uint64_t sessions_refused;  //  HELLOs refused: another CURVE key's
                                //  session, or the key's cap reached
    //  State resync (doc/protocol.md, section 19)
    uint64_t resyncs_sent;      //  RESYNCs sent to sessions
    uint64_t resyncs_owed;      //  RESYNCs that could not go at once (no
                                //  connection, a full pipe): owed, and
                                //  sent after the session's next WELCOME
    uint64_t windows_begun;     //  SNAPSHOT-BEGINs routed to a consumer
    uint64_t windows_ended;     //  SNAPSHOT-ENDs routed to a consumer
    uint64_t table_writers;     //  OPS or SNAPSHOT-BEGINs for a table from
                                //  another session than its last writer,
                                //  while that one is alive: two writers
    uint64_t redis_lost;        //  dbs a writer reported lost (LOST): every
                                //  table of them with a writer was resynced
    uint64_t rejected_kind;     //  SNAPSHOT-BEGINs refused: bad kind
    uint64_t rejected_status;   //  SNAPSHOT-ENDs refused: bad status
    //  REJECTs the pipe did not take (doc/protocol.md, section 17)
    uint64_t rejects_owed;      //  owed, and sent before any ACK or WELCOME
                                //  that covers their sequence
    uint64_t rejects_lost;      //  lost: the session owed 64 already, and its
                                //  client takes the message as acknowledged
} zstate_server_stats_t;

//  Create a server; it binds nothing until zstate_server_bind. Returns
//  NULL with errno EMFILE and zstate_reason () when the process is at its
//  socket limit (zsys_set_max_sockets).
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
//                           consumer and its writer report, as ZPL; at
//                           most 20 times a second for all peers
//                           together, EBUSY past that
//      WATCH db table    -> from then on, every message routed to
//                           (db, table) comes as [OPS][payload] while the
//                           watcher renews its WATCH at least every 3 s.
//                           A watcher that does not keep up loses copies
//                           (counted as watch_lost); consumers never wait.
//                           What one peer has in flight is at most
//                           64 MiB of copies of messages over 64 KiB,
//                           and 1000 copies: a peer that never reads
//                           pins no more, whatever it watches. A new
//                           WATCH is refused with ENOSPC when 256 are
//                           held, from all peers (counted as
//                           watch_refused_full), and with EDQUOT when
//                           the peers of its CURVE key hold their cap
//                           (zstate_server_set_watches_per_key; counted
//                           as watch_refused_key).
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
//  A macro over zstate_server_stats_sized that passes sizeof *stats, so the
//  struct can grow: see "Counters" in zstate_library.h.
#define zstate_server_stats(self, stats) \
    zstate_server_stats_sized ((self), (stats), sizeof *(stats))
ZSTATE_EXPORT int
    zstate_server_stats_sized (zstate_server_t *self, zstate_server_stats_t *stats, size_t size);

//  Socket receive high-water mark, in messages per client connection
//  (default 256: 64 MiB of messages of a client's default batch bound,
//  256 KiB; a larger message, up to ZSTATE_MESSAGE_MAX, counts as one).
//  While the server does not read, its consumers' queues being full, a
//  connection holds at most rcvhwm + 2 messages (libzmq's queue, the one
//  its engine decoded, the one it reads), and the server one more (the
//  message it waits to queue): a peer that sends 16 MiB messages can pin
//  (rcvhwm + 2) x 16 MiB, 4 GiB by default, so a server open to peers it
//  does not trust lowers this (4: 96 MiB a connection). Before bind.
ZSTATE_EXPORT int
    zstate_server_set_rcvhwm (zstate_server_t *self, int rcvhwm);

//  Heartbeat interval of version 2 sessions in msecs, 0 or 10 to 3600000
//  (default 1000): WELCOME announces it, and a session the server sent
//  nothing to for that long gets a PING. Returns 0, or -1 with EINVAL.
ZSTATE_EXPORT int
    zstate_server_set_heartbeat (zstate_server_t *self, int msecs);

//  The longest an ACK waits to be coalesced with later ones, in msecs
//  (default 10; never more than the heartbeat interval, or 1000 when that
//  is 0). An ACK goes at once after 64 messages. Returns 0, or -1.
ZSTATE_EXPORT int
    zstate_server_set_ack_delay (zstate_server_t *self, int msecs);

//  How long a version 2 session may be silent before the server forgets
//  it, in msecs (default 600000, 10 minutes; never less than 3 of its
//  client's heartbeat intervals). While the server remembers a session it
//  drops what the client sends again after a reconnect, so an outage
//  shorter than this is delivered exactly once; after it, the messages
//  the client had not seen acknowledged arrive again (at least once).
//  Returns 0, or -1 with EINVAL.
ZSTATE_EXPORT int
    zstate_server_set_session_idle (zstate_server_t *self, int msecs);

//  The most sessions the server keeps (default 65536). A HELLO for a new
//  session when full evicts the one heard from least recently; version 1
//  sessions past it are delivered, not checked for gaps. Returns 0, or -1.
ZSTATE_EXPORT int
    zstate_server_set_sessions_max (zstate_server_t *self, int max);

//  With CURVE, a version 2 session belongs to the client key whose HELLO
//  opened it, for as long as the server keeps it: a HELLO for it from
//  another key is refused (REJECT UNAUTHORISED, stats sessions_refused)
//  and the session stays with its owner. One key owns at most max
//  sessions (default 1024); a HELLO for one more is refused the same way.
//  A session the server forgets (silent past the idle limit, or evicted)
//  no longer counts for its key, and its id is free for any key to open.
//  Returns 0, or -1 with EINVAL when max is not 1 to INT_MAX.
ZSTATE_EXPORT int
    zstate_server_set_sessions_per_key (zstate_server_t *self, int max);

//  The most WATCHes of the monitor (zstate_server_monitor) the peers of
//  one CURVE client key hold together, however many connections they
//  open (default 16 of the 256 there are): one key cannot take them all
//  and leave an operator's WATCH refused. A WATCH past it is refused with
//  EDQUOT and counted (watch_refused_key in the monitor's STATS); a watch
//  that ends, its lease run out or its peer gone, gives its slot back.
//  Peers without a key (NULL security) all count as one key, so only
//  CURVE keeps one peer's watches from another's. Any time; applies to
//  new watches. Returns 0, or -1 with EINVAL when max is not 1 to INT_MAX.
ZSTATE_EXPORT int
    zstate_server_set_watches_per_key (zstate_server_t *self, int max);

//  Security (README, "Securing a server"). Endpoints are open to any peer
//  that reaches them unless CURVE is on, so a server refuses to bind or
//  monitor a tcp endpoint that is not loopback (127.0.0.0/8, ::1,
//  localhost) without CURVE, unless insecure endpoints are allowed; ipc
//  and inproc are always allowed. ZMTP 1.0 and 2.0 peers are refused.

//  Switch CURVE on for every endpoint bound from now on, data and monitor:
//  certificate is the server's secret certificate (zcert format; its
//  "_secret" file is read when there is one), clients a directory of the
//  public certificates of the clients allowed in, checked for each new
//  connection by the process's ZAP handler (zstate's own), which stays up while
//  the server lives. Before bind and monitor. Returns 0, or -1 with errno
//  and zstate_reason (), and CURVE stays off: ENOENT for a certificate
//  that cannot be read or a directory missing or without a certificate,
//  EINVAL for a certificate without a secret key, EBUSY once bound or when
//  the process checks keys against another directory already, EADDRINUSE
//  when something else in the process handles ZAP, ENOTSUP without CURVE
//  in libzmq.
ZSTATE_EXPORT int
    zstate_server_set_curve (zstate_server_t *self, const char *certificate,
                             const char *clients);

//  Allow connections only from these addresses (IPv4 or IPv6, one per
//  call), or deny connections from these; both endpoints, NULL or CURVE.
//  The lists belong to the process's ZAP handler, so they apply to every
//  server in the process, and once an address is allowed the deny list is
//  ignored. Denials count as auth_denied. Any time; they apply to new
//  connections. Returns 0, or -1 with EINVAL or EADDRINUSE.
ZSTATE_EXPORT int
    zstate_server_allow (zstate_server_t *self, const char *address);
ZSTATE_EXPORT int
    zstate_server_deny (zstate_server_t *self, const char *address);

//  Allow NULL security on endpoints that are not loopback (default false).
//  Before bind and monitor. Returns 0 or -1.
ZSTATE_EXPORT int
    zstate_server_set_insecure (zstate_server_t *self, bool insecure);

//  The most tcp and ipc connections open at once, both endpoints (default
//  1024; 0 no cap). A connection over it is closed as soon as it is
//  accepted and counted as shed. Any time. Returns 0, or -1.
ZSTATE_EXPORT int
    zstate_server_set_connections_max (zstate_server_t *self, int max);

//  Drop a connection, data or monitor, that answers nothing for msecs:
//  the server sends ZMTP heartbeats (PING) every third of it, which
//  libzmq peers answer by themselves, so what goes is a peer that is dead,
//  cut off, or a raw stream that completed the handshake and went silent
//  (it shows as a disconnect in the stats' connections). 0 switches it
//  off; default 30,000. Applies to endpoints bound after it. Returns 0,
//  or -1 with EINVAL outside 0 and 100 .. 3,600,000.
ZSTATE_EXPORT int
    zstate_server_set_peer_timeout (zstate_server_t *self, int msecs);

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
