/*  =========================================================================
    zstate_consumer - a consumer table: queues what the server routes to
    one (db, table) and hands it to the application in batches

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CONSUMER_H_INCLUDED
#define ZSTATE_CONSUMER_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  The consumer table queues the operations of the whole wire messages a
//  server routes to one (db, table); the server's thread appends them, so
//  no other thread stands between the server and the application. The
//  application takes them with zstate_consumer_pops, in arrival order;
//  it never sees part of a message that has not fully arrived. To know
//  when to call pops, poll either zstate_consumer_fd (poll, epoll, select,
//  or zloop_poller with a NULL-socket pollitem) or zstate_consumer_socket
//  (in a zloop or zpoller): both are readable while operations are
//  pending, and stay readable while more remain after a pops. The fd is
//  the faster wake-up: a plain fd spares libzmq's per-socket checks on
//  every pass of the application's loop. It is also the cheaper one: a
//  table costs no libzmq socket until zstate_consumer_socket is first
//  called, and two from then on. The queue is bounded; when it is full
//  the server stops reading, and the clients push back.
//
//  The consumer can also have every message it receives forwarded, before
//  it is queued, to another actor (the DB writer) over inproc:
//  zstate_consumer_forward. The server does the forwarding, and a writer
//  that is full stops it the same way.
//
//  Windows (state resync, doc/protocol.md part 4): a producer's snapshot
//  (replayed from its mirror when the server asks) or view (a restarted
//  producer re-asserting its table between zstate_producer_begin_view and
//  _end_view) reaches the table as a window: its operations between a
//  SNAPSHOT-BEGIN and a SNAPSHOT-END. The table keeps the set of keys the
//  application holds (added when a SET or HSET is popped, restored
//  entries too, removed on DEL), and when a window ends COMPLETE it hands
//  the application a DEL for every held key the window did not write,
//  before anything that came after the window: the window replaces the
//  table, so deletes the application missed reach it, and it needs no
//  code of its own to stay correct. Nothing is deleted without a COMPLETE
//  END: a producer that died mid-view deletes nothing. The application
//  can tell a window's operations from live ones with
//  zstate_consumer_resyncing. One table has one writer: a window from one
//  session deletes what another wrote and did not write again inside it,
//  and one window opened while another is open abandons it.
//
//  Memory: the key set costs, per key held, one allocation of 4 bytes plus
//  the key and a 16-byte slot of a table kept between an eighth and three
//  quarters full (while it grows, 21 to 43 bytes of table a key); a key
//  already held allocates nothing when it is popped again, and a DEL
//  frees its key. zstate_consumer_set_sweep turns it off.
//
//  The object belongs to the application thread that calls pops; it has
//  no thread of its own. Signals do not disturb it: pops never fails on
//  one, and new, forward and destroy hold the thread's signals back for
//  their one round trip to the server, so destroy always unregisters.

//  Counters, all since the consumer was created
typedef struct {
    uint64_t messages;          //  messages received from the server
    uint64_t ops;               //  operations received from the server
    uint64_t popped;            //  operations handed to the application
    uint64_t forwarded;         //  messages forwarded to the writer
    uint64_t stalls;            //  times the queue filled and reading paused
    size_t queued_ops;          //  operations waiting for pops
    size_t queued_bytes;        //  bytes of messages waiting
    uint64_t restored;          //  entries restore queued, not in messages
                                //  or ops; popped counts them
    //  State resync (see "Windows" above); messages counts the markers
    uint64_t windows;           //  SNAPSHOT-BEGINs popped: windows opened
    uint64_t windows_completed; //  COMPLETE ENDs that closed the open window
    uint64_t windows_abandoned; //  windows closed by an ABANDONED END or
                                //  by the next BEGIN
    uint64_t windows_ignored;   //  ENDs that matched no open window
    uint64_t windows_merged;    //  completed windows not swept: sweep off
    uint64_t swept;             //  DELs the sweeps handed out (popped
                                //  counts them too)
    size_t keys;                //  keys the application holds (0 with the
                                //  sweep off)
    uint64_t windows_short;     //  completed windows that brought fewer
                                //  operations than their END counted: some
                                //  were refused, or the window began before
                                //  this consumer; they sweep all the same
} zstate_consumer_stats_t;

//  Create a consumer table for (db, table) and register it with server.
//  Returns NULL with errno EEXIST when another consumer holds that
//  (db, table), EINVAL for a bad name; zstate_reason () says more.
ZSTATE_EXPORT zstate_consumer_t *
    zstate_consumer_new (zstate_server_t *server, const char *db, const char *table);

//  Unregister and destroy the consumer table; nulls the pointer. Safe while
//  messages are in flight and after the server was destroyed.
ZSTATE_EXPORT void
    zstate_consumer_destroy (zstate_consumer_t **self_p);

//  Move up to max pending operations (0 means 128) into batch, which is
//  reset first, in arrival order. Returns the number moved; never blocks.
//  A batch never holds operations from both sides of a window's BEGIN or
//  END, and a sweep's DELs come in batches of their own. pops returns 0
//  only when nothing is pending any more (it may have consumed a marker).
ZSTATE_EXPORT size_t
    zstate_consumer_pops (zstate_consumer_t *self, zstate_batch_t *batch, size_t max);

//  Return the number of operations waiting for pops, counting each
//  window marker as one and a sweep's DELs not popped yet.
ZSTATE_EXPORT size_t
    zstate_consumer_pending (zstate_consumer_t *self);

//  True when the operations the last pops returned belong to a window:
//  its entries, the live operations inside it, or its sweep's DELs.
ZSTATE_EXPORT bool
    zstate_consumer_resyncing (zstate_consumer_t *self);

//  Turn the sweep on (the default) or off. Off, the table keeps no keys
//  (their memory is given back) and a COMPLETE window merges: nothing is
//  deleted, counted as windows_merged; windows still open and close for
//  zstate_consumer_resyncing. Call it on the thread that pops. Returns 0,
//  or -1 with errno EBUSY when turning it back on once anything was
//  popped (the set would miss the keys the application holds).
ZSTATE_EXPORT int
    zstate_consumer_set_sweep (zstate_consumer_t *self, bool sweep);

//  Ask every producer that mirrors this table (zstate_producer_set_mirror)
//  for a snapshot: the server sends RESYNC of the table to every client
//  session that was granted the feature. Each snapshot arrives as a
//  window and replaces the table: the keys it lacks come out as DELs,
//  also keys an application that dropped its view no longer holds (take
//  such a DEL as done). Returns 0, or -1 with errno and zstate_reason ()
//  (ENOENT once the server is gone).
ZSTATE_EXPORT int
    zstate_consumer_resync (zstate_consumer_t *self);

//  Return a socket that is readable while operations are pending. Poll it;
//  never read from it: pops does. The first call makes it; it returns NULL
//  with errno EMFILE and zstate_reason () when the process is at its
//  socket limit (CZMQ's default is 1,024; raise it with zsys_set_max_sockets
//  before the process makes its first socket).
ZSTATE_EXPORT zsock_t *
    zstate_consumer_socket (zstate_consumer_t *self);

//  Return a file descriptor that is readable while operations are pending,
//  for poll/epoll/select loops. Never read from it: pops does.
ZSTATE_EXPORT int
    zstate_consumer_fd (zstate_consumer_t *self);

//  Bound the queue to ops operations and bytes bytes (defaults 262,144 and
//  64 MiB). A message is always taken whole, so the queue may pass the
//  bound by one message. While the application does not pop, what waits
//  for it is this bound plus what the server's ROUTER holds per client
//  connection (zstate_server_set_rcvhwm: 64 MiB by default). Returns 0, or -1 with errno EINVAL when either
//  bound is 0 (the queue could never take a message).
ZSTATE_EXPORT int
    zstate_consumer_set_queue (zstate_consumer_t *self, size_t ops, size_t bytes);

//  Forward every message received from now on to the PULL socket bound at
//  endpoint (inproc), or stop forwarding when endpoint is NULL or "".
//  Returns 0 or -1 with errno and zstate_reason () (ENOENT when starting
//  to forward after the server was destroyed).
ZSTATE_EXPORT int
    zstate_consumer_forward (zstate_consumer_t *self, const char *endpoint);

//  Persist every message received from now on through writer (the DB
//  writer, which must outlive the consumer), or stop when writer is NULL.
//  Same as zstate_consumer_forward to the writer's endpoint, and lets the
//  server's monitor report the writer's state with this table; the writer
//  also confirms to the server what Redis holds (zstate_writer_confirm),
//  which is what level PERSISTED acknowledges.
ZSTATE_EXPORT int
    zstate_consumer_set_writer (zstate_consumer_t *self, zstate_writer_t *writer);

//  Restore the table from Redis through writer (zstate_writer_restore),
//  so that a restarted process starts from what Redis holds: every entry
//  of the table is queued for pops as one SET with all its fields, and
//  the table's persisted watermarks go to the server, which from then on
//  drops what clients send again that Redis holds already (counted as
//  restored_drops in the server's stats, acknowledged as delivered and
//  persisted), so the application sees nothing twice and nothing older
//  than what it restored. Call it before the server binds (or before any
//  client writes this table), then zstate_consumer_set_writer.
//
//  Telling restored entries from live ones: the first entries operations
//  that pops returns after restore are the restored entries, in no
//  particular key order, and nothing live comes before them; stats give
//  the count again as restored. The queue takes the whole table whatever
//  its bound. Returns the number of entries, or -1 with errno and
//  zstate_reason (): EBUSY when the table has received messages already,
//  ENOTCONN when Redis cannot be reached, EBUSY or ETIMEDOUT from the
//  writer (zstate_writer_restore), EPROTO when what the writer sent does
//  not add up (what was queued before stays queued, and counted as
//  restored). timeout (msecs) bounds the writer's read and ours.
ZSTATE_EXPORT int64_t
    zstate_consumer_restore (zstate_consumer_t *self, zstate_writer_t *writer,
                             int timeout);

//  Fill *stats with the current counters.
//  A macro over zstate_consumer_stats_sized that passes sizeof *stats, so the
//  struct can grow: see "Counters" in zstate_library.h.
#define zstate_consumer_stats(self, stats) \
    zstate_consumer_stats_sized ((self), (stats), sizeof *(stats))
ZSTATE_EXPORT void
    zstate_consumer_stats_sized (zstate_consumer_t *self, zstate_consumer_stats_t *stats, size_t size);

//  Return the db / table name.
ZSTATE_EXPORT const char *
    zstate_consumer_db (zstate_consumer_t *self);
ZSTATE_EXPORT const char *
    zstate_consumer_table (zstate_consumer_t *self);

//  Log activity with zsys_debug.
ZSTATE_EXPORT void
    zstate_consumer_set_verbose (zstate_consumer_t *self, bool verbose);

//  @end

#ifdef __cplusplus
}
#endif

#endif
