/*  =========================================================================
    zstate_writer_marks - watermarks: the highest sequence of each session
    per (db, table), for Redis and for CONFIRMED

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_MARKS_H_INCLUDED
#define ZSTATE_WRITER_MARKS_H_INCLUDED

//  Prefix of the Redis hash that holds a table's watermarks
#define ZSTATE_WRITER_MARKS_PREFIX      "_ZSTATE_PERSISTED"
//  Bytes of one watermark on the wire: session id, then sequence
#define ZSTATE_WRITER_MARK_SIZE         24

typedef struct _zstate_writer_marks_t zstate_writer_marks_t;

//  Create an empty set.
zstate_writer_marks_t *
    zstate_writer_marks_new (void);

//  Destroy the set. Nulls the pointer.
void
    zstate_writer_marks_destroy (zstate_writer_marks_t **self_p);

//  Note a message for (db, table): the table is touched; with a session
//  (16 bytes, not NULL), its mark rises to sequence if below.
void
    zstate_writer_marks_note (zstate_writer_marks_t *self, const char *db,
                              const char *table, const byte *session, uint64_t sequence);

//  Raise self with every mark and table of other, then empty other.
void
    zstate_writer_marks_absorb (zstate_writer_marks_t *self, zstate_writer_marks_t *other);

//  Forget everything.
void
    zstate_writer_marks_clear (zstate_writer_marks_t *self);

//  True when no session has a mark.
bool
    zstate_writer_marks_empty (zstate_writer_marks_t *self);

//  True when a message for table was noted (any db).
bool
    zstate_writer_marks_touches (zstate_writer_marks_t *self, const char *table);

//  Append, for each table with marks, HSET of its watermark hash with
//  each session: "SEQ SECS", secs being the Unix time now. When prune is
//  not NULL, a table it does not name, or named longer than 60 s ago
//  (zclock_mono), also gets a script that removes the fields older than
//  age secs, and prune learns the time. Returns the commands appended.
size_t
    zstate_writer_marks_append (zstate_writer_marks_t *self, zstate_redis_t *redis,
                                const char *separator, zhashx_t *prune, int age);

//  Append to msg, for each (db, table) with marks, [db][table][n x 24].
void
    zstate_writer_marks_frames (zstate_writer_marks_t *self, zmsg_t *msg);

//  Parse a watermark field of Redis: 32 hex digits and "SEQ SECS" into
//  24 octets at dest. Returns 0, or -1 when either is malformed.
int
    zstate_writer_marks_parse (const char *name, size_t name_size, const char *value,
                               size_t value_size, byte *dest);

//  Selftest
void
    zstate_writer_marks_test (bool verbose);

#endif
