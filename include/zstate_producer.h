/*  =========================================================================
    zstate_producer - a producer table: writes operations on one
    (db, table) through a client agent

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_PRODUCER_H_INCLUDED
#define ZSTATE_PRODUCER_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  A producer table belongs to one thread; many producer tables, on many
//  threads, can share one client. Every call validates its arguments and
//  sends nothing when they are bad. A call's operations are accepted whole
//  or refused whole; a batch too large for one wire message is split into
//  several messages, in order. Calls return 0, or -1 with errno (EINVAL,
//  EMSGSIZE, ENOBUFS, ENOTCONN) and zstate_reason (); ENOBUFS is worth a
//  retry, EMSGSIZE never is (zstate_client_send).

//  Create a producer table for (db, table) on client, which must outlive it.
//  Returns NULL with errno EINVAL if a name is NULL, empty or too long.
ZSTATE_EXPORT zstate_producer_t *
    zstate_producer_new (zstate_client_t *client, const char *db, const char *table);

//  Destroy the producer table; nulls the pointer. What it sent stays queued
//  in the client.
ZSTATE_EXPORT void
    zstate_producer_destroy (zstate_producer_t **self_p);

//  SET key, replacing the entry, with fields as C strings: name, value,
//  ..., NULL. With no fields, the entry becomes empty (still a SET).
ZSTATE_EXPORT int
    zstate_producer_set (zstate_producer_t *self, const char *key, ...) ZSTATE_SENTINEL;

//  HSET key: merge the fields (name, value, ..., NULL) into the entry.
ZSTATE_EXPORT int
    zstate_producer_hset (zstate_producer_t *self, const char *key, ...) ZSTATE_SENTINEL;

//  DEL key.
ZSTATE_EXPORT int
    zstate_producer_del (zstate_producer_t *self, const char *key);

//  SET (op ZSTATE_OP_SET) or HSET (ZSTATE_OP_HSET) a binary key with
//  field_count fields: names[i] of name_sizes[i] bytes with values[i] of
//  value_sizes[i] bytes.
ZSTATE_EXPORT int
    zstate_producer_set_fields (zstate_producer_t *self, int op,
                                const void *key, size_t key_size, size_t field_count,
                                const void **names, const size_t *name_sizes,
                                const void **values, const size_t *value_sizes);

//  Batch SET: count keys; fields[i] is the NULL-terminated list name,
//  value, ..., NULL for keys[i] (a NULL fields[i] means no fields; a NULL
//  fields means none for any key). An odd list, a NULL or empty key, or a
//  count of 0 fails the whole batch with EINVAL.
ZSTATE_EXPORT int
    zstate_producer_batch_set (zstate_producer_t *self, size_t count,
                               const char **keys, const char ***fields);

//  Batch DEL of count keys. A NULL or empty key, or a count of 0, fails
//  the whole batch with EINVAL.
ZSTATE_EXPORT int
    zstate_producer_batch_del (zstate_producer_t *self, size_t count, const char **keys);

//  Send every operation in batch (mixed SET, HSET, DEL), in order. The
//  batch is left as it was, for reuse or reset by the caller. A NULL or
//  empty batch fails with EINVAL.
ZSTATE_EXPORT int
    zstate_producer_send (zstate_producer_t *self, zstate_batch_t *batch);

//  Producer-side persistence: from now on, copy every operation this table
//  sends to writer (the DB writer, which must outlive the producer), as
//  SONiC's producer tables with persistence do; NULL stops. The copy goes
//  after the client accepted the operations; when the writer does not take
//  it within timeout msecs (0: 5000), the call fails with ETIMEDOUT although
//  the operations were sent (and, for a batch that needed several messages,
//  part of the copy may have been taken). Returns 0 or -1.
ZSTATE_EXPORT int
    zstate_producer_set_writer (zstate_producer_t *self, zstate_writer_t *writer,
                                int timeout);

//  State resync (doc/protocol.md, part 2, and the server's RESYNC): keep
//  a mirror of this table in the client, the newest state of each key
//  (HSETs merge, a SET replaces, a DEL removes the key at once), of at
//  most keys_max keys; 0 drops the mirror. When the server asks (a
//  consumer table registered late, restarted, or asked; Redis lost its
//  data), the client sends the mirror as a snapshot: SNAPSHOT-BEGIN, one
//  SET or HSET per key, SNAPSHOT-END, which the consumer and the DB
//  writer apply as a replacement of the table (keys the snapshot lacks
//  are deleted). Every entry is read when it is encoded, after every
//  operation sent before it, so no key goes back to an older value; live
//  sends interleave with the snapshot, which is paced by the client's
//  bounds (it uses at most half of them). Several requests while one runs
//  give one more snapshot after it. A mirror answers only once it is
//  established: once this table sent anything, or ended a view, since the
//  mirror was set, so that the empty mirror of a producer that just
//  started never wipes the table. A send that would put a new key past
//  keys_max fails whole with ENOBUFS ("mirror full"), nothing of it
//  queued, counted in mirror_refused; the one exception is a send that
//  libzmq refused on the direct path and the client queued again, which
//  is applied to the mirror unchecked, so the mirror can pass keys_max by
//  that one batch. Setting the mirror again starts it empty. Costs
//  O(keys) memory. Returns 0.
ZSTATE_EXPORT int
    zstate_producer_set_mirror (zstate_producer_t *self, size_t keys_max);

//  Open a view: the operations this table sends until end_view are its
//  whole content (a restarted producer re-asserting its table). Queues
//  SNAPSHOT-BEGIN (kind VIEW) in order with the sends; a snapshot of
//  this table on its way is ended ABANDONED first (the view replaces the
//  table anyway). Returns 0, or -1 with EINVAL when a view is open.
ZSTATE_EXPORT int
    zstate_producer_begin_view (zstate_producer_t *self);

//  Close the view: queues SNAPSHOT-END (COMPLETE) with the count of
//  operations sent in it; at the consumer and in Redis every key of the
//  table the view did not write is then deleted. With a mirror, the
//  mirror drops those keys too, and a RESYNC that came during the view
//  is answered by a snapshot now. A producer destroyed during a view ends
//  it ABANDONED: nothing is deleted. When the server does not grant the
//  feature, the markers are dropped (windows_dropped, a WINDOW event) and
//  the view's operations merge. Returns 0, or -1 with EINVAL when no
//  view is open.
ZSTATE_EXPORT int
    zstate_producer_end_view (zstate_producer_t *self);

//  Return the db / table name.
ZSTATE_EXPORT const char *
    zstate_producer_db (zstate_producer_t *self);
ZSTATE_EXPORT const char *
    zstate_producer_table (zstate_producer_t *self);

//  @end

#ifdef __cplusplus
}
#endif

#endif
