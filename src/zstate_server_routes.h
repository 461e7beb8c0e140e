/*  =========================================================================
    zstate_server_routes - private header: the server's routing table,
    (db, table) -> the consumer table registered for it

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_ROUTES_H_INCLUDED
#define ZSTATE_SERVER_ROUTES_H_INCLUDED

#include "zstate_server_watermarks.h"

//  The server actor owns one and calls it from its own thread; it is
//  tested through zstate_server_test and the consumer's tests.
typedef struct _zstate_server_routes_t zstate_server_routes_t;

//  One registered consumer table
typedef struct {
    uint32_t id;                //  unique in the server's life, never reused
    char *db;                   //  the (db, table) it serves
    char *table;
    char *name;                 //  the consumer's unique name
    zstate_consumer_t *consumer;    //  we deliver to it
    zsock_t *forward;           //  PUSH to its writer, or NULL
    void *forward_handle;       //  zsock_resolve (forward), for the hot path
    uint64_t messages;          //  messages routed to it
    uint64_t ops;               //  operations in those
    zstate_server_watermarks_t *restored;   //  what Redis held, or NULL
    uint64_t restored_drops;    //  messages dropped as in Redis already
    byte writer [ZSTATE_MSG_SESSION_SIZE];  //  session that wrote last
    bool has_writer;            //  ... once one has
    uint64_t table_writers;     //  times another live session took over
    int64_t writers_logged;     //  zclock_mono of the last log of it, or 0
} zstate_server_route_t;

//  Create an empty table.
zstate_server_routes_t *
    zstate_server_routes_new (void);

//  Destroy the table and its routes (not their consumers); nulls the pointer.
void
    zstate_server_routes_destroy (zstate_server_routes_t **self_p);

//  Return the route for (db, table), or NULL. The names may point into a
//  message: they are looked up as they are, without copying.
zstate_server_route_t *
    zstate_server_routes_lookup (zstate_server_routes_t *self, const char *db,
                                 const char *table);

//  Add a route for (db, table), which has none, to consumer named name.
zstate_server_route_t *
    zstate_server_routes_add (zstate_server_routes_t *self, const char *db,
                              const char *table, const char *name,
                              zstate_consumer_t *consumer);

//  Remove and destroy a route of this table.
void
    zstate_server_routes_remove (zstate_server_routes_t *self,
                                 zstate_server_route_t *route);

//  Return the number of routes.
size_t
    zstate_server_routes_size (zstate_server_routes_t *self);

//  Return the number of routes that forward to a writer.
size_t
    zstate_server_routes_forwarding (zstate_server_routes_t *self);

//  Return the number of routes that were not restored from Redis
//  (RESTORED gives a route its restored watermarks).
size_t
    zstate_server_routes_unrestored (zstate_server_routes_t *self);

//  Return the first route of db / the next one, or NULL after the last.
//  The table must not change while they are walked.
zstate_server_route_t *
    zstate_server_routes_first_of (zstate_server_routes_t *self, const char *db);
zstate_server_route_t *
    zstate_server_routes_next_of (zstate_server_routes_t *self, const char *db);

//  Open a PUSH socket to the writer's PULL socket at endpoint, into
//  *forward. Returns 0, or -1 with errno and zstate_reason ().
int
    zstate_server_route_forward_open (const char *endpoint, zsock_t **forward);

//  Pass payload on: a copy to the writer first when the route forwards,
//  unless *forwarded says it went already, then the message itself to the
//  consumer. session says payload came as version 2 OPS (and was turned
//  into version 1): the writer gets it as version 2. Returns 0 when it went, having taken payload's content.
//  Returns -1 when it must wait, with what to poll in *item: the writer's
//  socket for POLLOUT, or the consumer's room eventfd.
int
    zstate_server_route_pass (zstate_server_route_t *route, zmq_msg_t *payload,
                              bool session, bool *forwarded, zmq_pollitem_t *item);

//  Print one ZPL "table" section per route: its counters, and what its
//  consumer and writer report.
void
    zstate_server_routes_fprint (zstate_server_routes_t *self, FILE *file);

#endif
