/*  =========================================================================
    zstate_writer_intake - the writer's input: wire messages decoded into
    the backlog's open generation, each operation under its Redis key

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_INTAKE_H_INCLUDED
#define ZSTATE_WRITER_INTAKE_H_INCLUDED

#include "zstate_writer_chain.h"
#include "zstate_writer_views.h"

typedef struct _zstate_writer_intake_t zstate_writer_intake_t;

//  Create an intake that feeds chain, and the windows of views.
zstate_writer_intake_t *
    zstate_writer_intake_new (zstate_writer_chain_t *chain, zstate_writer_views_t *views);

//  Destroy the intake. Nulls the pointer.
void
    zstate_writer_intake_destroy (zstate_writer_intake_t **self_p);

//  SONiC's placeholder (zstate_writer_set_placeholder): a SET with no
//  fields goes into the chain as a SET of the one field NULL = NULL, which
//  later operations on the key coalesce with as with any other field.
void
    zstate_writer_intake_set_placeholder (zstate_writer_intake_t *self, bool placeholder);

//  Read one wire message from data without waiting and add each of its
//  operations to the chain under TABLE<separator>KEY, then the message
//  itself: with its session and sequence when it is OPS of version 2 (and
//  its session not all zeros), else without. The operations mark their
//  keys in the window open on their (db, table). SNAPSHOT-BEGIN and -END
//  (version 2) open and close windows (zstate_writer_views), and count
//  as markers in the chain, the sweep of a COMPLETE window a barrier
//  before the END. Counts the message and its
//  operations (messages, ops, coalesced) or the drop (malformed) in
//  stats. Returns -1 when no message was waiting, else ZSTATE_WIRE_OK, or
//  why the message was dropped (ZSTATE_WIRE_*, or for version 2 a
//  zstate_session_msg_reason_t): a multipart message, a bad header or
//  operation, bytes left over, another version 2 type than OPS and
//  SNAPSHOT-*.
int
    zstate_writer_intake_receive (zstate_writer_intake_t *self, zsock_t *data,
                                  const char *separator, zstate_writer_stats_t *stats);

//  Note a db the writer persists with no message taken (a table attached
//  or restored): a LOST names it too.
void
    zstate_writer_intake_note_db (zstate_writer_intake_t *self, const char *db);

//  The db names of the messages taken so far and of those noted (the
//  first 64), as the keys of a hash the intake owns: a LOST names them.
zhashx_t *
    zstate_writer_intake_dbs (zstate_writer_intake_t *self);

//  Selftest
void
    zstate_writer_intake_test (bool verbose);

#endif
