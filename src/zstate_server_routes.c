/*  =========================================================================
    zstate_server_routes - the server's routing table: (db, table) -> the
    consumer table registered for it, and the PUSH socket to its writer

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Two levels of zhashx, db -> table -> route, so that a lookup takes the
    names where they are in a decoded message. A route's consumer pointer
    stays valid from REGISTER until the server has answered UNREGISTER
    (zstate_server_agent.c says why).
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_routes.h"

#define FORWARD_SNDHWM      32      //  messages queued towards one writer

struct _zstate_server_routes_t {
    zhashx_t *dbs;              //  db name -> zhashx_t of table -> route
    size_t size;                //  routes in dbs
    uint32_t last_id;           //  of the last route added
};

static zstate_server_route_t *
s_route_new (const char *db, const char *table, const char *name,
             zstate_consumer_t *consumer)
{
    zstate_server_route_t *self =
        (zstate_server_route_t *) zmalloc (sizeof (zstate_server_route_t));
    assert (self);
    self->db = strdup (db);
    self->table = strdup (table);
    self->name = strdup (name);
    assert (self->db && self->table && self->name);
    self->consumer = consumer;
    return self;
}

static void
s_route_destroy (zstate_server_route_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_server_route_t *self = *self_p;
        zsock_destroy (&self->forward);
        zstate_server_watermarks_destroy (&self->restored);
        free (self->db);
        free (self->table);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}

//  zhashx item destructors for the two levels of the table
static void
s_route_free (void **item_p)
{
    s_route_destroy ((zstate_server_route_t **) item_p);
}

static void
s_tables_free (void **item_p)
{
    zhashx_destroy ((zhashx_t **) item_p);
}

zstate_server_routes_t *
zstate_server_routes_new (void)
{
    zstate_server_routes_t *self =
        (zstate_server_routes_t *) zmalloc (sizeof (zstate_server_routes_t));
    assert (self);
    self->dbs = zhashx_new ();
    assert (self->dbs);
    zhashx_set_destructor (self->dbs, s_tables_free);
    return self;
}

void
zstate_server_routes_destroy (zstate_server_routes_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_server_routes_t *self = *self_p;
        zhashx_destroy (&self->dbs);
        free (self);
        *self_p = NULL;
    }
}

zstate_server_route_t *
zstate_server_routes_lookup (zstate_server_routes_t *self, const char *db,
                             const char *table)
{
    assert (self);
    zhashx_t *tables = (zhashx_t *) zhashx_lookup (self->dbs, db);
    return tables? (zstate_server_route_t *) zhashx_lookup (tables, table): NULL;
}

zstate_server_route_t *
zstate_server_routes_add (zstate_server_routes_t *self, const char *db,
                          const char *table, const char *name,
                          zstate_consumer_t *consumer)
{
    assert (self);
    assert (!zstate_server_routes_lookup (self, db, table));
    zstate_server_route_t *route = s_route_new (db, table, name, consumer);
    route->id = ++self->last_id;
    zhashx_t *tables = (zhashx_t *) zhashx_lookup (self->dbs, db);
    if (!tables) {
        tables = zhashx_new ();
        assert (tables);
        zhashx_set_destructor (tables, s_route_free);
        zhashx_insert (self->dbs, db, tables);
    }
    int rc = zhashx_insert (tables, table, route);
    assert (rc == 0);
    self->size++;
    return route;
}

void
zstate_server_routes_remove (zstate_server_routes_t *self, zstate_server_route_t *route)
{
    assert (self);
    assert (route);
    //  The route's names go with it, so look its tables up first
    zhashx_t *tables = (zhashx_t *) zhashx_lookup (self->dbs, route->db);
    char *db = strdup (route->db);
    assert (tables && db);
    zhashx_delete (tables, route->table);
    if (zhashx_size (tables) == 0)
        zhashx_delete (self->dbs, db);
    free (db);
    self->size--;
}

size_t
zstate_server_routes_size (zstate_server_routes_t *self)
{
    assert (self);
    return self->size;
}

//  Return the number of routes that forward to a writer (forwarding) or
//  were not restored
static size_t
s_routes_count (zstate_server_routes_t *self, bool forwarding)
{
    size_t count = 0;
    zhashx_t *tables = (zhashx_t *) zhashx_first (self->dbs);
    while (tables) {
        zstate_server_route_t *route = (zstate_server_route_t *) zhashx_first (tables);
        while (route) {
            count += forwarding? route->forward != NULL: route->restored == NULL;
            route = (zstate_server_route_t *) zhashx_next (tables);
        }
        tables = (zhashx_t *) zhashx_next (self->dbs);
    }
    return count;
}

size_t
zstate_server_routes_forwarding (zstate_server_routes_t *self)
{
    assert (self);
    return s_routes_count (self, true);
}

size_t
zstate_server_routes_unrestored (zstate_server_routes_t *self)
{
    assert (self);
    return s_routes_count (self, false);
}

zstate_server_route_t *
zstate_server_routes_first_of (zstate_server_routes_t *self, const char *db)
{
    assert (self);
    zhashx_t *tables = (zhashx_t *) zhashx_lookup (self->dbs, db);
    return tables? (zstate_server_route_t *) zhashx_first (tables): NULL;
}

zstate_server_route_t *
zstate_server_routes_next_of (zstate_server_routes_t *self, const char *db)
{
    assert (self);
    zhashx_t *tables = (zhashx_t *) zhashx_lookup (self->dbs, db);
    return tables? (zstate_server_route_t *) zhashx_next (tables): NULL;
}

int
zstate_server_route_forward_open (const char *endpoint, zsock_t **forward_p)
{
    assert (endpoint);
    assert (forward_p);
    zsock_t *forward = zstate_sock_new (ZMQ_PUSH);
    if (!forward)
        return -1;
    //  A few messages in flight keep the writer busy; more would only
    //  hide a slow writer from the clients
    zsock_set_sndhwm (forward, FORWARD_SNDHWM);
    //  Over inproc any linger but 0 lets the writer read what we sent
    //  before we close; the writer closing ends the wait
    zsock_set_linger (forward, -1);
    if (zsock_connect (forward, "%s", endpoint) == -1) {
        int error = zmq_errno ();
        zsock_destroy (&forward);
        return zstate_fail (error, "cannot connect to %s: %s", endpoint,
                            zmq_strerror (error));
    }
    *forward_p = forward;
    return 0;
}

//  The writer's copy of payload. Version 1 shares the content: no bytes
//  are copied but a small message's, which lives inside the zmq_msg_t.
//  Version 2, which the server turned into version 1 for the consumer,
//  goes to the writer as it came, so that the writer knows it carries a
//  session whose watermark it writes and confirms: a copy of its own
static void
s_writer_copy (zmq_msg_t *copy, zmq_msg_t *payload, bool session)
{
    int rc;
    if (session) {
        rc = zmq_msg_init_size (copy, zmq_msg_size (payload));
        assert (rc == 0);
        memcpy (zmq_msg_data (copy), zmq_msg_data (payload), zmq_msg_size (payload));
        ((byte *) zmq_msg_data (copy)) [2] = ZSTATE_SESSION_VERSION;
    }
    else {
        zmq_msg_init (copy);
        rc = zmq_msg_copy (copy, payload);
        assert (rc == 0);
    }
}

int
zstate_server_route_pass (zstate_server_route_t *route, zmq_msg_t *payload,
                          bool session, bool *forwarded, zmq_pollitem_t *item)
{
    if (route->forward && !*forwarded) {
        zmq_msg_t copy;
        s_writer_copy (&copy, payload, session);
        if (zmq_msg_send (&copy, route->forward_handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&copy);
            zmq_pollitem_t writer = { route->forward_handle, 0, ZMQ_POLLOUT, 0 };
            *item = writer;
            return -1;
        }
        *forwarded = true;
    }
    if (zstate_consumer_deliver (route->consumer, payload, *forwarded) == -1) {
        zmq_pollitem_t room = { NULL, zstate_consumer_room_fd (route->consumer),
                                ZMQ_POLLIN, 0 };
        *item = room;
        return -1;
    }
    return 0;
}

//  The consumer's window counters and the keys it holds
static void
s_fprint_windows (zstate_consumer_stats_t *consumer, FILE *file)
{
    fprintf (file, "    windows = %" PRIu64 "\n", consumer->windows);
    fprintf (file, "    windows_completed = %" PRIu64 "\n", consumer->windows_completed);
    fprintf (file, "    windows_abandoned = %" PRIu64 "\n", consumer->windows_abandoned);
    fprintf (file, "    windows_ignored = %" PRIu64 "\n", consumer->windows_ignored);
    fprintf (file, "    windows_merged = %" PRIu64 "\n", consumer->windows_merged);
    fprintf (file, "    windows_short = %" PRIu64 "\n", consumer->windows_short);
    fprintf (file, "    swept = %" PRIu64 "\n", consumer->swept);
    fprintf (file, "    keys = %zu\n", consumer->keys);
}

void
zstate_server_routes_fprint (zstate_server_routes_t *self, FILE *file)
{
    assert (self);
    zhashx_t *tables = (zhashx_t *) zhashx_first (self->dbs);
    while (tables) {
        zstate_server_route_t *route = (zstate_server_route_t *) zhashx_first (tables);
        while (route) {
            fprintf (file, "table\n");
            fprintf (file, "    db = \"%s\"\n", route->db);
            fprintf (file, "    name = \"%s\"\n", route->table);
            fprintf (file, "    messages = %" PRIu64 "\n", route->messages);
            fprintf (file, "    ops = %" PRIu64 "\n", route->ops);
            fprintf (file, "    restored_sessions = %zu\n", route->restored?
                     zstate_server_watermarks_size (route->restored): 0);
            fprintf (file, "    restored_drops = %" PRIu64 "\n", route->restored_drops);
            zstate_consumer_stats_t consumer;
            zstate_consumer_stats (route->consumer, &consumer);
            fprintf (file, "    popped = %" PRIu64 "\n", consumer.popped);
            fprintf (file, "    queued_ops = %zu\n", consumer.queued_ops);
            fprintf (file, "    queued_bytes = %zu\n", consumer.queued_bytes);
            fprintf (file, "    forwarded = %" PRIu64 "\n", consumer.forwarded);
            fprintf (file, "    stalls = %" PRIu64 "\n", consumer.stalls);
            s_fprint_windows (&consumer, file);
            zstate_consumer_fprint_writer (route->consumer, file);
            route = (zstate_server_route_t *) zhashx_next (tables);
        }
        tables = (zhashx_t *) zhashx_next (self->dbs);
    }
}
