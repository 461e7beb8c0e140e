/*  =========================================================================
    zstate_server_confirm - the server's confirmation endpoint, where DB
    writers say what Redis holds

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Writers send watermarks, cumulative, without blocking, so a message
    lost at a high-water mark costs nothing: the next says it all again.
    Everything in a message comes from another component of the process
    but is checked as if it came from the network: a bad frame is counted
    and skipped, never trusted.
@end
*/

#include "zstate_classes.h"
#include "zstate_server_sessions.h"
#include "zstate_server_routes.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_confirm.h"

#define DRAIN_MAX           100     //  messages per reader call, for fairness

struct _zstate_server_confirm_t {
    zloop_t *loop;              //  reads us
    zsock_t *pull;              //  writers push to this
    char endpoint [64];         //  ... bound here
    zstate_server_routes_t *routes;
    zstate_server_sessions_t *sessions;
    zstate_server_stats_t *stats;
};

//  Copy a frame's name into buffer (ZSTATE_NAME_MAX + 1 octets); false
//  when it is no valid name
static bool
s_name (zframe_t *frame, char *buffer)
{
    size_t size = frame? zframe_size (frame): 0;
    if (size == 0 || size > ZSTATE_NAME_MAX)
        return false;
    memcpy (buffer, zframe_data (frame), size);
    buffer [size] = 0;
    return zstate_msg_name_valid (buffer);
}

//  One table's three frames: apply each watermark to its session
static void
s_table (zstate_server_confirm_t *self, zframe_t *db_frame, zframe_t *table_frame,
         zframe_t *watermarks)
{
    char db [ZSTATE_NAME_MAX + 1], table [ZSTATE_NAME_MAX + 1];
    zstate_server_route_t *route = NULL;
    if (s_name (db_frame, db) && s_name (table_frame, table))
        route = zstate_server_routes_lookup (self->routes, db, table);
    size_t size = watermarks? zframe_size (watermarks): 0;
    if (!route || size == 0 || size % ZSTATE_WATERMARK_SIZE) {
        self->stats->confirms_ignored++;
        return;
    }
    const byte *data = zframe_data (watermarks);
    for (size_t offset = 0; offset < size; offset += ZSTATE_WATERMARK_SIZE) {
        uint64_t watermark = zstate_server_get_uint64 (data + offset
                                                       + ZSTATE_MSG_SESSION_SIZE);
        if (zstate_server_sessions_confirmed (self->sessions, data + offset,
                                              route->id, watermark))
            self->stats->confirms_ignored++;
    }
}

//  LOST: Redis lost what it held of each db named: every table of it that
//  a writer persists asks its producers' mirrors for a snapshot. A db
//  named twice lost its data once, and one message is one log line,
//  whatever it holds.
static void
s_lost (zstate_server_confirm_t *self, zmsg_t *msg)
{
    zhashx_t *named = zhashx_new ();
    assert (named);
    size_t tables = 0;
    char first [ZSTATE_NAME_MAX + 1] = "";
    zframe_t *frame;
    while ((frame = zmsg_pop (msg))) {
        char db [ZSTATE_NAME_MAX + 1];
        if (!s_name (frame, db))
            self->stats->confirms_ignored++;
        else
        if (zhashx_insert (named, db, db) == 0) {
            self->stats->redis_lost++;
            if (!*first)
                strcpy (first, db);
            zstate_server_route_t *route = zstate_server_routes_first_of (self->routes, db);
            for (; route; route = zstate_server_routes_next_of (self->routes, db))
                if (route->forward) {
                    zstate_server_sessions_resync (self->sessions, db, route->table);
                    tables++;
                }
        }
        zframe_destroy (&frame);
    }
    if (zhashx_size (named))
        zsys_warning ("zstate_server: Redis lost %s%s, %zu tables asked for "
                      "snapshots; %" PRIu64 " losses so far", first,
                      zhashx_size (named) > 1? " and more dbs": "", tables,
                      self->stats->redis_lost);
    zhashx_destroy (&named);
}

static int
s_readable (zloop_t *loop, zsock_t *pull, void *arg)
{
    (void) loop;
    zstate_server_confirm_t *self = (zstate_server_confirm_t *) arg;
    for (int count = 0; count < DRAIN_MAX; count++) {
        zmsg_t *msg = zmsg_recv (pull);     //  rcvtimeo 0: never waits
        if (!msg)
            break;
        char *command = zmsg_popstr (msg);
        if (command && streq (command, "CONFIRMED") && zmsg_size (msg) % 3 == 0) {
            self->stats->confirms++;
            while (zmsg_size (msg)) {
                zframe_t *db = zmsg_pop (msg);
                zframe_t *table = zmsg_pop (msg);
                zframe_t *watermarks = zmsg_pop (msg);
                s_table (self, db, table, watermarks);
                zframe_destroy (&db);
                zframe_destroy (&table);
                zframe_destroy (&watermarks);
            }
        }
        else
        if (command && streq (command, "LOST") && zmsg_size (msg))
            s_lost (self, msg);
        else
            self->stats->confirms_ignored++;
        free (command);
        zmsg_destroy (&msg);
    }
    return 0;
}

zstate_server_confirm_t *
zstate_server_confirm_new (zloop_t *loop, zstate_server_routes_t *routes,
                           zstate_server_sessions_t *sessions,
                           zstate_server_stats_t *stats)
{
    assert (loop && routes && sessions && stats);
    zsock_t *pull = zstate_sock_new (ZMQ_PULL);
    if (!pull)
        return NULL;
    zstate_server_confirm_t *self =
        (zstate_server_confirm_t *) zmalloc (sizeof (zstate_server_confirm_t));
    assert (self);
    self->loop = loop;
    self->pull = pull;
    zsock_set_rcvtimeo (pull, 0);
    self->routes = routes;
    self->sessions = sessions;
    self->stats = stats;
    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    snprintf (self->endpoint, sizeof (self->endpoint), "inproc://zstate-confirm-%s",
              zuuid_str (uuid));
    zuuid_destroy (&uuid);
    int rc = zsock_bind (self->pull, "%s", self->endpoint);
    assert (rc == 0);           //  A fresh inproc name cannot be taken
    rc = zloop_reader (loop, self->pull, s_readable, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (loop, self->pull);
    return self;
}

void
zstate_server_confirm_destroy (zstate_server_confirm_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_server_confirm_t *self = *self_p;
        zloop_reader_end (self->loop, self->pull);
        zsock_destroy (&self->pull);
        free (self);
        *self_p = NULL;
    }
}

const char *
zstate_server_confirm_endpoint (zstate_server_confirm_t *self)
{
    assert (self);
    return self->endpoint;
}
