/*  =========================================================================
    zstate_writer - the DB writer: persists wire messages into Redis

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_H_INCLUDED
#define ZSTATE_WRITER_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  The DB writer is an actor that owns one Redis connection and writes
//  into it every operation of the wire messages it receives on a PULL
//  socket bound at zstate_writer_endpoint () (inproc). Consumers forward
//  what they receive there (zstate_consumer_forward); anything that can
//  connect a PUSH socket and send wire messages (zstate_msg_encode) can
//  feed it too. One writer may serve several tables of one Redis database.
//
//  Key layout, as in SONiC: the entry KEY of table TABLE is the Redis hash
//  TABLE<separator>KEY, separator ":" by default ("|" for config and state
//  style databases). Fields map to hash fields. The db name carried in the
//  messages is not used; the database is the SELECT index set here.
//
//  Semantics, SONiC's made atomic:
//      SET key fields   the hash holds exactly these fields afterwards;
//                       DEL + HSET run inside MULTI/EXEC, so no reader
//                       ever sees the key missing or half written.
//                       A SET with no fields leaves the key absent, since
//                       Redis cannot hold an empty hash; with the
//                       placeholder on (zstate_writer_set_placeholder)
//                       it leaves the hash { NULL: NULL }, as SONiC does,
//                       so the entry exists.
//      HSET key fields  the fields are merged in, other fields are kept.
//      DEL key          the key is gone.
//
//  Redis 4.0 or later is needed (HSET with several fields).
//
//  Throughput: operations are written in pipelined batches, each one
//  MULTI ... EXEC written with one write, with up to three batches in
//  flight. A batch goes out when the keys waiting reach the batch size,
//  or when no batch is in flight and the oldest waiting operation has
//  waited the batch interval; it takes everything waiting (whole
//  generations, see below), so while all three are in flight the next
//  one grows past the batch size, coalescing as it waits, up to 4 times
//  the batch size in keys while connected: past that the messages that
//  follow form the next generation, sent after it.
//  While Redis lags, operations on the same key coalesce, newest wins:
//  SET or DEL replaces what waits; HSET over a waiting SET or HSET merges
//  its fields; HSET over a waiting DEL becomes a SET of its fields; a DEL
//  waits as a tombstone. So the backlog grows with the number of keys, not
//  of operations. The backlog is bounded (keys and bytes, both counting
//  operations in flight): at the bound the writer stops reading its PULL
//  socket, so the sender blocks at the high-water mark and the pressure
//  travels upstream; a STALL event and the stalls counter report it.
//  Nothing is ever dropped to make room. It reads again below half.
//
//  Prefix-consistent transactions: the backlog is a chain of generations,
//  each the coalesced effect of a contiguous run of the messages read
//  from the PULL socket, in order. A batch is one whole generation, the
//  oldest not yet sent, so after each EXEC Redis holds exactly the state
//  of "every message read up to message m", for some m: never part of a
//  message, never a newer message without all older ones (less any
//  operation Redis refused, see below). The
//  newest generation takes every new message while disconnected, so
//  coalescing (and the O(keys) bound) holds across an outage, whose
//  backlog then goes as one transaction. A batch
//  that failed is merged, under newer data, into one generation with
//  everything after it, and sent again as one transaction.
//
//  Watermarks: a version 2 OPS message (zstate_session_msg.h) carries its
//  session and sequence. The batch that writes a message's operations also
//  writes, for each (table, session) whose messages it holds, the highest
//  sequence: HSET _ZSTATE_PERSISTED<separator>TABLE SESSION "SEQ SECS",
//  SESSION 32 lowercase hex digits, SEQ the decimal sequence, SECS the
//  Unix time of that write. So a watermark is in Redis only together with
//  every message of its session up to it. Version 1 messages write none:
//  a server that forwards to the writer must pass OPS of version 2 on as
//  they came, version byte included. A session of all zeros is none.
//  Bounded: the first batch that writes a table's watermarks after each
//  connect, and then one at most every 60 s, also removes (inside the same
//  MULTI/EXEC, by a short Lua script) every field of that hash whose SECS
//  is older than the watermark age, 7 days by default (SET WATERMARK AGE),
//  or that is malformed. A watermark Redis refuses (its key holds no hash)
//  is reported (ERROR event) and not confirmed; the operations stand.
//
//  CONFIRMED: after CONFIRM endpoint, the writer connects a PUSH socket
//  there and, after each batch Redis confirmed that advanced watermarks,
//  sends one message, never blocking:
//      frame 0         "CONFIRMED"
//      then per (db, table) with advanced watermarks, three frames:
//      [db name][table name][n x 24 octets: 16-octet session id,
//                           8-octet sequence, network byte order]
//  Watermarks are cumulative: what cannot be sent at once (high-water
//  mark) is kept, merged with what advances later, and sent with the next
//  message, or by a 100 ms timer, newest values only.
//
//  RESTORE table endpoint: the writer reads, on a second connection of
//  its own, every hash TABLE<separator>* of its database (SCAN MATCH in
//  steps of 1000, HGETALL pipelined 128 at a time, binary-safe; the
//  watermark hash excluded, keys that are no hash skipped), and sends to a
//  PUSH socket it connects to endpoint: wire messages (zstate_msg_encode:
//  version 1, db name the decimal SELECT index, the table, one SET per key
//  with all its fields, up to 128 operations a message), then one last
//  message:
//      frame 0         "RESTORED"
//      frame 1         entry count, 8 octets, network byte order
//      frame 2         n x 24 octets: the table's watermarks, as above
//  It queues them without bound (a table's worth), so the caller reads
//  them while it waits for the reply or after it. Consistency: RESTORE
//  refuses (EBUSY) a table of which the writer holds unconfirmed
//  operations, so what it reads is the state after one confirmed batch
//  (as long as only this writer writes that table); run it before live
//  messages for the table reach the writer.
//
//  Reliability: an operation leaves the backlog only once Redis confirmed
//  it (EXEC replied). When the connection fails (refused, reset, server
//  killed or restarted, or no reply within the command timeout, as when
//  Redis is paused), the writer keeps every unconfirmed operation, merges
//  each under any newer operation waiting for the same key, reconnects
//  with exponential backoff and jitter (100 ms to 5 s by default), and
//  sends them again; resending is idempotent. An error reply for one
//  operation (WRONGTYPE ...) fails that operation only: it is counted
//  (failed), reported (ERROR event), and dropped; the rest of the batch
//  and the connection carry on. Every blocking Redis call has a timeout,
//  so commands and $TERM are served in bounded time.
//
//  Windows (state resync, doc/protocol.md): a version 2 SNAPSHOT-BEGIN
//  for (db, table) opens a window on that table; from then on every
//  operation of a message for (db, table), whatever its session, marks
//  its Redis key. The SNAPSHOT-END of the same session whose begin is the
//  BEGIN's sequence closes it. When COMPLETE, the window replaces the
//  table in Redis: once every batch before the END is confirmed, and
//  before any operation read after the END is written, the writer SCANs
//  TABLE<separator>* (MATCH escaped, COUNT 1000 a step) and DELs every
//  key of it the window did not mark, whatever its type (the table's
//  watermark hash and _ZSTATE_INSTANCE excepted); a SWEEP event tells
//  the keys deleted. Nothing is deleted for a window that ends
//  ABANDONED, that a new BEGIN for the table supersedes, or that marks
//  more keys than the window bound (SET WINDOW BOUND): a WINDOW event
//  says which, and the table merges instead. An END that matches no open
//  window is counted and ignored. A sweep that Redis refuses (an error
//  reply to SCAN or DEL) ends there: ERROR event, windows_dropped.
//  BEGIN and END count in the watermarks
//  like OPS; the END's is written after the sweep. A connection lost in
//  the middle of a sweep keeps it, with the operations that came after
//  the END apart from those before it, and on the next connection the
//  sweep runs again from the start, then the rest: Redis ends with the
//  window's keys and what came after. Memory: each open or pending window
//  holds its marked keys, one hash entry per key (the Redis key's bytes
//  and the entry's own), up to the window bound, 2,097,152 keys by
//  default. The db name does not pick the database, the SELECT index
//  does: two dbs' tables of one name share their keys here.
//
//  Redis that lost its data: on every connect, before anything is
//  written, the writer checks the string key _ZSTATE_INSTANCE of its
//  database. It holds a random token that names the data set, created
//  (SET NX) when missing. While connected, it reads the key again at most
//  once a second (a GET in front of a batch sent when none is in flight,
//  or alone when idle; counted in probes), and when the token is gone it
//  checks as on connect once no reply is owed: a FLUSHALL or a failover
//  under a connection that stays up is seen within about a second.
//  When the token seen at the last check is gone
//  or replaced (FLUSHALL, FLUSHDB, a restart without persistence, a
//  failover to a replica without the data), the writer reports it: a
//  LOST event, the redis_lost counter, a warning in the log, and, after
//  CONFIRM endpoint, a message there, never blocking (kept and sent again
//  by the 100 ms timer while the high-water mark holds it):
//      frame 0         "LOST"
//      then one frame per db name of the messages it took, or that ATTACH
//      named (the first 64)
//  so that the server asks the producers for snapshots of those dbs'
//  tables. A restart that loaded its data keeps the token: no loss (the
//  run_id, which changes, is logged). Not seen: a restart that loaded a
//  save older than the last writes (RDB snapshots, appendfsync everysec)
//  loses those writes and keeps the token. The first connect of a writer
//  has nothing to compare: a server that restores its tables from Redis
//  at start finds what is there; its tables' dbs (zstate_consumer_set_writer
//  and zstate_consumer_restore ATTACH them) are named by a LOST even when
//  no message came since. An instance key evicted or deleted by
//  hand reads as a loss: one resync more. Operations not confirmed by
//  Redis are sent again as after any lost connection.
//
//  Events, on zstate_writer_events (), each a message [type][redis endpoint]
//  followed by:
//      STATE   [state name][reason]    CONNECTED or DISCONNECTED
//      ERROR   [reason][key]           a connection failure (key empty),
//                                      or one operation Redis refused
//      STALL   [FULL|RESUMED][keys][bytes]   the backlog reached its bound
//                                      and reading paused, or resumed
//      LOST    [what][run_id]          Redis lost the data written before
//                                      (see "Redis that lost its data")
//      SWEEP   [table][deleted]        a COMPLETE window's sweep is done
//      WINDOW  [why][table]            a window ended with no sweep:
//                                      ABANDONED, SUPERSEDED, BOUND, or
//                                      UNMATCHED (an END with no window)
//  Events are sent without blocking; when the application does not read
//  them they are dropped and counted (events_dropped). Each state change
//  is also logged once with zsys.
//
//  Actor commands (zstate_writer_actor (w)), each one message in the
//  zsock_send picture shown, whose first item is the command name; each
//  is answered with one reply "sis" [command][status][reason], status 0
//  or an errno code, followed by the results shown. Settings marked
//  (before CONNECT) fail with EBUSY afterwards.
//      "ss"  CONNECT endpoint      connect to Redis: "host:port",
//                                  "tcp://host:port", "unix:/path" or a
//                                  path. Replies with the first attempt's
//                                  result; a failed attempt still arms
//                                  the reconnect, and EBUSY if repeated
//      "ss"  SET SEPARATOR text    key separator (before CONNECT)
//      "si"  SET DB index          SELECT index (before CONNECT)
//      "ss"  SET PASSWORD text     AUTH password, "" none (before CONNECT)
//      "si"  SET PLACEHOLDER flag  1: a SET with no fields writes NULL/NULL
//                                  (default 0) (before CONNECT)
//      "sii" SET TIMEOUTS conn cmd connect / command timeouts, msecs
//                                  (before CONNECT)
//      "sii" SET BATCH ops msecs   batch size and interval
//      "s88" SET BOUND keys bytes  backlog bound
//      "sii" SET RECONNECT min max reconnect backoff, msecs
//      "si"  SET WATERMARK AGE secs    watermarks of sessions not written
//                                  for this long are removed (default
//                                  604800, 7 days; at least 1)
//      "s8"  SET WINDOW BOUND keys keys one window may mark (default
//                                  2,097,152; at least 1)
//      "ss"  CONFIRM endpoint      send CONFIRMED messages to a PUSH
//                                  socket connected to endpoint ("" stops);
//                                  EINVAL when it cannot connect
//      "sssi" RESTORE table endpoint timeout   read the table and its
//                                  watermarks back from Redis and send
//                                  them to endpoint, then reply, with
//                                  "8" [entries sent] after the reason;
//                                  timeout msecs bounds the whole restore
//                                  (optional, default the command
//                                  timeout); ENOTCONN when Redis cannot be
//                                  reached, EBUSY as said above,
//                                  ETIMEDOUT, EINVAL for a bad table
//      "ss"  ATTACH db             a table of db is persisted here: a
//                                  LOST names db even before any of its
//                                  messages came; EINVAL for a bad name
//      "si"  FLUSH timeout         replies 0 once Redis confirmed every
//                                  operation sent to the writer before
//                                  the FLUSH, including what the bound
//                                  left waiting on the PULL socket (read
//                                  as the backlog drains), or ETIMEDOUT
//                                  after timeout msecs (ENOTCONN at once
//                                  if never connected). Other commands
//                                  wait meanwhile.
//      "s"   STATS                 -> "b" zstate_writer_stats_t
//      "si"  VERBOSE flag          log activity with zsys_debug (default
//                                  1; 0 turns it off)
//      "s"   $TERM                 end the actor (answered by the final
//                                  signal, not by a reply); what was not
//                                  written is logged
//
//  The wrapper methods may be called from any thread: they send the same
//  commands one at a time and wait for the reply (ETIMEDOUT after
//  zstate_command_timeout (), 30 s by default, plus the connect and
//  command timeouts, plus timeout for FLUSH and RESTORE;
//  ESHUTDOWN once the actor has ended). An
//  application that sends commands itself reads each reply before it
//  calls a wrapper method again.

//  Writer states
#define ZSTATE_WRITER_IDLE          0   //  CONNECT not issued yet
#define ZSTATE_WRITER_CONNECTED     1   //  writing
#define ZSTATE_WRITER_DISCONNECTED  2   //  no connection, reconnecting

//  Counters, all since the writer was created. Every operation received
//  is, at any time, exactly one of: written, failed, coalesced (merged
//  into another operation), or still in the backlog (pending + in_flight).
typedef struct {
    int state;                  //  ZSTATE_WRITER_*
    size_t pending;             //  keys waiting to be sent
    size_t in_flight;           //  operations sent, not confirmed yet
    size_t depth;               //  pending + in_flight
    size_t bytes;               //  bytes the backlog holds
    int64_t oldest_age;         //  msecs the oldest unconfirmed operation
                                //  has waited; 0 when none
    uint64_t messages;          //  wire messages received
    uint64_t ops;               //  operations in those
    uint64_t malformed;         //  messages rejected (and dropped)
    uint64_t written;           //  operations confirmed by Redis
    uint64_t failed;            //  operations Redis refused
    uint64_t coalesced;         //  operations merged into another
    uint64_t batches;           //  batches confirmed
    uint64_t resent;            //  operations sent again after a failure
    uint64_t reconnects;        //  connections made again after a loss
    uint64_t disconnects;       //  connections lost or refused
    uint64_t stalls;            //  times the bound paused reading
    uint64_t events_dropped;    //  events the application did not read
    uint64_t confirms;          //  CONFIRMED messages sent
    uint64_t confirms_deferred; //  times one waited for the high-water mark
    uint64_t windows;           //  SNAPSHOT-BEGINs taken (windows opened)
    uint64_t windows_dropped;   //  windows that end with no sweep: ABANDONED,
                                //  superseded by a new BEGIN, or past the
                                //  window bound
    uint64_t windows_unmatched; //  SNAPSHOT-ENDs that matched no open window
    uint64_t sweeps;            //  sweeps done (COMPLETE windows applied)
    uint64_t swept;             //  keys those sweeps deleted
    uint64_t redis_lost;        //  connects, or checks while connected,
                                //  that found Redis without the data
                                //  written before (see LOST)
    uint64_t probes;            //  reads of the instance key while
                                //  connected (about one a second)
} zstate_writer_stats_t;

//  Create a writer. It binds its PULL endpoint at once and accepts
//  messages from then on, holding them until zstate_writer_connect.
//  Returns NULL with errno EMFILE and zstate_reason () when the process is
//  at its socket limit (zsys_set_max_sockets).
ZSTATE_EXPORT zstate_writer_t *
    zstate_writer_new (void);

//  Destroy the writer: waits up to the linger time for Redis to confirm
//  what was accepted, logs what was left, ends the actor. Nulls the pointer.
ZSTATE_EXPORT void
    zstate_writer_destroy (zstate_writer_t **self_p);

//  Connect to Redis ("host:port", "tcp://host:port", "unix:/path" or a
//  path). Returns 0, or -1 with errno and zstate_reason () when the first
//  attempt failed (the writer keeps trying) or the endpoint is bad (EINVAL).
ZSTATE_EXPORT int
    zstate_writer_connect (zstate_writer_t *self, const char *endpoint);

//  Return the inproc endpoint of the writer's PULL socket.
ZSTATE_EXPORT const char *
    zstate_writer_endpoint (zstate_writer_t *self);

//  Key separator between table and key (default ":"). Before connect.
ZSTATE_EXPORT int
    zstate_writer_set_separator (zstate_writer_t *self, const char *separator);

//  Redis database index (default 0). Before connect.
ZSTATE_EXPORT int
    zstate_writer_set_db (zstate_writer_t *self, int db);

//  SONiC's empty-entry placeholder: a SET with no fields writes the one
//  field NULL with value NULL, instead of leaving no key (default false).
//  The field is the SET's own: an HSET after it merges in beside it, and a
//  SET with fields replaces it, whether or not they coalesced on the way.
//  Before connect.
ZSTATE_EXPORT int
    zstate_writer_set_placeholder (zstate_writer_t *self, bool placeholder);

//  Redis password (default none; NULL or "" for none). Before connect.
ZSTATE_EXPORT int
    zstate_writer_set_password (zstate_writer_t *self, const char *password);

//  Connect and command timeouts, msecs (defaults 1000 and 2000). A batch
//  that gets no reply for the command timeout counts as a lost connection;
//  the writer allows 1 ms more per 100 replies owed (Redis is silent while
//  it runs a large EXEC), and after such a timeout twice the time, up to
//  64 times, until a batch is confirmed: the batch that goes again holds
//  the failed ones merged, and a Redis slower than the timeout must still
//  get through it.
//  Before connect.
ZSTATE_EXPORT int
    zstate_writer_set_timeouts (zstate_writer_t *self, int connect_timeout, int command_timeout);

//  Batch size in operations (default 2000) and interval in msecs (default
//  1; 0 sends at once whenever no batch is in flight).
ZSTATE_EXPORT int
    zstate_writer_set_batch (zstate_writer_t *self, int ops, int interval);

//  Backlog bound: keys and bytes (defaults 65,536 keys and 64 MiB: enough to keep
//  Redis busy, small enough to push back early).
//  One message is always taken whole, so the backlog may pass the bound
//  by one message.
ZSTATE_EXPORT int
    zstate_writer_set_bound (zstate_writer_t *self, size_t keys, size_t bytes);

//  Reconnect backoff, msecs (defaults 100 and 5000).
ZSTATE_EXPORT int
    zstate_writer_set_reconnect (zstate_writer_t *self, int min, int max);

//  How long destroy waits for Redis to confirm, msecs (default 5000).
ZSTATE_EXPORT void
    zstate_writer_set_linger (zstate_writer_t *self, int linger);

//  Wait until Redis confirmed every operation sent to the writer so far,
//  including messages still waiting on the PULL socket because the backlog
//  was at its bound. Returns 0, or -1 with errno ETIMEDOUT
//  after timeout msecs (0: check only), ENOTCONN if never connected.
ZSTATE_EXPORT int
    zstate_writer_flush (zstate_writer_t *self, int timeout);

//  Send CONFIRMED messages (see above) to endpoint, normally an inproc
//  PULL socket the caller bound; NULL or "" stops. Returns 0, or -1 with
//  errno EINVAL and zstate_reason () when the endpoint cannot be connected.
ZSTATE_EXPORT int
    zstate_writer_confirm (zstate_writer_t *self, const char *endpoint);

//  Read table back from Redis and send it, then its watermarks in a
//  RESTORED message, to endpoint (see above), within timeout msecs. Bind
//  a PULL socket at endpoint first; the messages wait there for the
//  caller, who may read them after the call. Returns 0, or -1 with errno
//  and zstate_reason (): ENOTCONN when Redis cannot be reached, EBUSY
//  when the writer holds unconfirmed operations of table, ETIMEDOUT,
//  EINVAL for a bad table name or endpoint.
ZSTATE_EXPORT int
    zstate_writer_restore (zstate_writer_t *self, const char *table, const char *endpoint,
                           int timeout);

//  A table of db is persisted through this writer: a LOST names db even
//  when no message of it came (see "Redis that lost its data"). Returns 0,
//  or -1 with EINVAL when db is empty or too long.
ZSTATE_EXPORT int
    zstate_writer_attach (zstate_writer_t *self, const char *db);

//  Keys one window may mark before it is dropped, unswept (default
//  2,097,152; see "Windows"). Returns 0, or -1 with EINVAL when keys is 0.
ZSTATE_EXPORT int
    zstate_writer_set_window_bound (zstate_writer_t *self, size_t keys);

//  Remove watermarks of sessions not written for secs seconds (default
//  604800: 7 days). Returns 0, or -1 with EINVAL when secs < 1.
ZSTATE_EXPORT int
    zstate_writer_set_watermark_age (zstate_writer_t *self, int secs);

//  Fill *stats with the current counters. Returns 0 or -1.
//  A macro over zstate_writer_stats_sized that passes sizeof *stats, so the
//  struct can grow: see "Counters" in zstate_library.h.
#define zstate_writer_stats(self, stats) \
    zstate_writer_stats_sized ((self), (stats), sizeof *(stats))
ZSTATE_EXPORT int
    zstate_writer_stats_sized (zstate_writer_t *self, zstate_writer_stats_t *stats, size_t size);

//  Return the name of a state ("CONNECTED", ...).
ZSTATE_EXPORT const char *
    zstate_writer_state_name (int state);

//  Return the socket on which the writer reports events.
ZSTATE_EXPORT zsock_t *
    zstate_writer_events (zstate_writer_t *self);

//  Return the writer's actor, for commands and for embedding in a zloop.
ZSTATE_EXPORT zactor_t *
    zstate_writer_actor (zstate_writer_t *self);

//  Log activity with zsys_debug.
ZSTATE_EXPORT void
    zstate_writer_set_verbose (zstate_writer_t *self, bool verbose);

//  @end

#ifdef __cplusplus
}
#endif

#endif
