/*  =========================================================================
    zstate_server_owed - private header: the RESYNCs the server owes one
    session, which it could not send when they were due (doc/protocol.md,
    section 19)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_OWED_H_INCLUDED
#define ZSTATE_SERVER_OWED_H_INCLUDED

//  The session table (zstate_server_sessions.c) keeps one per session that
//  is owed anything, on the server's thread; it is tested through
//  zstate_server_resync_suite (selftest/zstate_server_resync_suite.c).
//  It holds at most ZSTATE_SERVER_OWED_MAX tables: past that it owes
//  RESYNC of every table instead, which says it all in one message.
typedef struct _zstate_server_owed_t zstate_server_owed_t;

#define ZSTATE_SERVER_OWED_MAX  16

//  Owe RESYNC of (db, table), or of every table when both are ""; a
//  table owed already, or one under "every table", is owed once. Creates
//  *self_p on first use.
void
    zstate_server_owed_add (zstate_server_owed_t **self_p, const char *db,
                            const char *table);

//  Return the first RESYNC owed, oldest first, in *db_p and *table_p
//  (both "" for every table): true, or false when nothing is owed. The
//  names stay valid until the next call that changes self. self may be
//  NULL.
bool
    zstate_server_owed_first (zstate_server_owed_t *self, const char **db_p,
                              const char **table_p);

//  The first RESYNC owed was sent: forget it.
void
    zstate_server_owed_remove_first (zstate_server_owed_t *self);

//  The session's connection may have lost what *sent_p holds: owe it
//  again, before what *self_p owes already (same bound), into *self_p;
//  destroys *sent_p. Either may be NULL.
void
    zstate_server_owed_requeue (zstate_server_owed_t **self_p,
                                zstate_server_owed_t **sent_p);

//  Return the number of RESYNCs owed; self may be NULL.
size_t
    zstate_server_owed_size (zstate_server_owed_t *self);

//  Destroy; nulls the pointer.
void
    zstate_server_owed_destroy (zstate_server_owed_t **self_p);

#endif
