/*  =========================================================================
    zstate_client_tables - private header: the producer tables a client
    knows, their mirrors, views and snapshots (state resync)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CLIENT_TABLES_H_INCLUDED
#define ZSTATE_CLIENT_TABLES_H_INCLUDED

//  What a producer table registers with its client: its names, its mirror
//  (or none), its open view and its running snapshot. Every field is
//  guarded by the client lock, which producers take to send.
typedef struct _zstate_client_table_t zstate_client_table_t;

//  Register a producer table for (db, table), both valid names
zstate_client_table_t *
    zstate_client_table_new (zstate_client_t *client, const char *db, const char *table);

//  Unregister it: an open view or a running snapshot ends ABANDONED (in
//  stream order, so nothing is swept); nulls the pointer
void
    zstate_client_table_destroy (zstate_client_t *client, zstate_client_table_t **table_p);

//  zstate_client_send for this table: with a mirror, a send that would
//  put a new key past its bound is refused whole (ENOBUFS); in a view,
//  its operations count in the view's END
int
    zstate_client_table_send (zstate_client_t *client, zstate_client_table_t *table,
                              zstate_batch_t *batch);

//  Keep a mirror of at most keys_max keys, 0 to drop it
int
    zstate_client_table_set_mirror (zstate_client_t *client, zstate_client_table_t *table,
                                    size_t keys_max);

//  Queue BEGIN(VIEW) / END(COMPLETE) for this table
int
    zstate_client_table_begin_view (zstate_client_t *client, zstate_client_table_t *table);
int
    zstate_client_table_end_view (zstate_client_t *client, zstate_client_table_t *table);

#endif
