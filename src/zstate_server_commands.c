/*  =========================================================================
    zstate_server_commands - the server actor's commands: what its pipe
    reader does with each (zstate_server.h lists them)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_agent.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_state.h"

typedef zstate_server_route_t route_t;
typedef zstate_server_state_t self_t;
//  The routes changed: what the sessions decide by them follows
static void
s_routes_changed (self_t *self)
{
    zstate_server_sessions_set_writers (self->sessions,
                                        zstate_server_routes_forwarding (self->routes));
    zstate_server_sessions_set_unrestored (self->sessions,
                                           zstate_server_routes_unrestored (self->routes));
}

static void
s_handle_bind (self_t *self, zmsg_t *request)
{
    char *endpoint = zmsg_popstr (request);
    int port = zstate_security_bind (self->security, self->router, endpoint);
    if (port != -1 && self->verbose)
        zsys_debug ("zstate_server: bound to %s (port %d)", endpoint, port);
    zstate_reply (self->pipe, "BIND", port == -1? errno: 0,
                  port == -1? zstate_reason (): "", true);
    zstr_sendf (self->pipe, "%d", port == -1? 0: port);
    free (endpoint);
}

static void
s_handle_register (self_t *self, zmsg_t *request)
{
    char *db = zmsg_popstr (request);
    char *table = zmsg_popstr (request);
    char *name = zmsg_popstr (request);
    //  The consumer's address, a "p" picture: a hand-off between our own
    //  classes in one process
    void *consumer = NULL;
    zframe_t *pointer = zmsg_pop (request);
    if (pointer && zframe_size (pointer) == sizeof (void *))
        memcpy (&consumer, zframe_data (pointer), sizeof (void *));
    zframe_destroy (&pointer);
    int status = 0;
    char reason [256] = "";
    if (!db || !zstate_msg_name_valid (db)
    ||  !table || !zstate_msg_name_valid (table)
    ||  !name || !*name || !consumer) {
        status = EINVAL;
        snprintf (reason, sizeof (reason),
                  "REGISTER needs a db, a table, a name and a consumer");
    }
    else
    if (zstate_server_routes_lookup (self->routes, db, table)) {
        //  Replacing silently would route to the wrong consumer, and the
        //  first one's unregister would then remove the second
        status = EEXIST;
        snprintf (reason, sizeof (reason), "a consumer is already registered for %s/%s",
                  db, table);
    }
    else {
        zstate_server_routes_add (self->routes, db, table, name,
                                  (zstate_consumer_t *) consumer);
        s_routes_changed (self);
        //  A table that registers late has missed what was written: the
        //  producers' mirrors send it a snapshot
        zstate_server_sessions_resync (self->sessions, db, table);
        if (self->verbose)
            zsys_debug ("zstate_server: %s/%s routed to %s", db, table, name);
    }
    zstate_reply (self->pipe, "REGISTER", status, reason, false);
    free (db);
    free (table);
    free (name);
}

//  Pop db, table and name from request and return the route they name;
//  or reply to command with an error and return NULL
static route_t *
s_request_route (self_t *self, zmsg_t *request, const char *command)
{
    char *db = zmsg_popstr (request);
    char *table = zmsg_popstr (request);
    char *name = zmsg_popstr (request);
    route_t *route = db && table? zstate_server_routes_lookup (self->routes, db, table): NULL;
    char reason [256] = "";
    if (!db || !table || !name) {
        snprintf (reason, sizeof (reason), "%s needs a db, a table and a name", command);
        zstate_reply (self->pipe, command, EINVAL, reason, false);
        route = NULL;
    }
    else
    if (!route || strneq (route->name, name)) {
        //  Only the consumer that registered may act on its route
        snprintf (reason, sizeof (reason), "no consumer for %s/%s named %s",
                  db, table, name);
        zstate_reply (self->pipe, command, ENOENT, reason, false);
        route = NULL;
    }
    free (db);
    free (table);
    free (name);
    return route;
}

static void
s_handle_unregister (self_t *self, zmsg_t *request)
{
    route_t *route = s_request_route (self, request, "UNREGISTER");
    if (!route)
        return;
    if (self->stalled == route) {
        //  We were waiting for this consumer: its message has nowhere to go
        self->stats.dropped++;
        if (self->parked_v2) {
            zstate_server_sessions_refuse (self->sessions, self->parked_session,
                                           self->parked_sequence,
                                           ZSTATE_SESSION_REASON_UNROUTABLE);
        }
        zstate_server_stall_end (self);
    }
    if (self->verbose)
        zsys_debug ("zstate_server: %s/%s unregistered", route->db, route->table);
    //  Its writer can no longer tell us anything: nobody waits for it
    zstate_server_sessions_forget_route (self->sessions, route->id);
    zstate_server_replay_forget_route (self->replay, route);
    zstate_server_routes_remove (self->routes, route);
    s_routes_changed (self);
    //  We never touch the consumer again: once it has our reply, it may go
    zstate_reply (self->pipe, "UNREGISTER", 0, "", false);
}

static void
s_handle_forward (self_t *self, zmsg_t *request)
{
    route_t *route = s_request_route (self, request, "FORWARD");
    if (!route)
        return;
    char *endpoint = zmsg_popstr (request);
    int status = 0;
    char reason [256] = "";
    zsock_t *forward = NULL;
    if (endpoint && *endpoint
    &&  zstate_server_route_forward_open (endpoint, &forward) == -1) {
        status = errno;
        snprintf (reason, sizeof (reason), "%s", zstate_reason ());
    }
    if (status == 0) {
        //  A message parked for the old writer goes to the new one, or
        //  straight to the consumer when forwarding stops
        bool waits_for_writer = self->stalled == route && self->has_waiting
                             && self->waiting.socket;
        if (waits_for_writer)
            zstate_server_wait_end (self);
        zsock_destroy (&route->forward);
        route->forward = forward;
        zstate_server_sessions_set_writers (self->sessions,
                                            zstate_server_routes_forwarding (self->routes));
        route->forward_handle = forward? zsock_resolve (forward): NULL;
        if (waits_for_writer)
            zstate_server_stall_retry (self);
        if (self->verbose)
            zsys_debug ("zstate_server: %s/%s forwarded to %s", route->db,
                        route->table, forward? endpoint: "nobody");
    }
    zstate_reply (self->pipe, "FORWARD", status, reason, false);
    free (endpoint);
}

//  RESTORED db table name watermarks: what Redis held for that route
static void
s_handle_restored (self_t *self, zmsg_t *request)
{
    route_t *route = s_request_route (self, request, "RESTORED");
    if (!route)
        return;
    zframe_t *watermarks = zmsg_pop (request);
    if (!route->restored)
        route->restored = zstate_server_watermarks_new ();
    int rc = zstate_server_watermarks_load (route->restored,
                                            watermarks? zframe_data (watermarks): NULL,
                                            watermarks? zframe_size (watermarks): 0);
    s_routes_changed (self);
    zstate_reply (self->pipe, "RESTORED", rc? errno: 0, rc? zstate_reason (): "", false);
    zframe_destroy (&watermarks);
}

//  RESYNC db table name: the consumer asks every producer's mirror of its
//  table for a snapshot
static void
s_handle_resync (self_t *self, zmsg_t *request)
{
    route_t *route = s_request_route (self, request, "RESYNC");
    if (!route)
        return;
    zstate_server_sessions_resync (self->sessions, route->db, route->table);
    zstate_reply (self->pipe, "RESYNC", 0, "", false);
}

static void
s_handle_stats (self_t *self)
{
    zstate_server_stats_t stats = self->stats;
    stats.consumers = zstate_server_routes_size (self->routes);
    stats.sessions = zstate_server_sessions_size (self->sessions);
    zstate_reply (self->pipe, "STATS", 0, "", true);
    zsock_send (self->pipe, "b", &stats, sizeof (stats));
}

//  The text the monitor answers STATS with: ZPL, one section per table
static char *
s_stats_text (void *arg)
{
    self_t *self = (self_t *) arg;
    char *text = NULL;
    size_t size = 0;
    FILE *file = open_memstream (&text, &size);
    assert (file);
    zstate_server_stats_t stats = self->stats;
    stats.consumers = zstate_server_routes_size (self->routes);
    stats.sessions = zstate_server_sessions_size (self->sessions);
    zstate_server_stats_fprint (&stats, self->monitor, file);
    zstate_security_stats_fprint (&stats, file);
    zstate_server_routes_fprint (self->routes, file);
    fclose (file);
    return text;
}

static void
s_handle_monitor (self_t *self, zmsg_t *request)
{
    char *endpoint = zmsg_popstr (request);
    if (!self->monitor) {
        self->monitor = zstate_monitor_new (self->loop, s_stats_text, self);
        if (self->watches_per_key)
            zstate_monitor_set_per_key (self->monitor, self->watches_per_key);
    }
    int port = zstate_security_bind (self->security, zstate_monitor_socket (self->monitor),
                                     endpoint);
    zstate_reply (self->pipe, "MONITOR", port == -1? errno: 0,
                  port == -1? zstate_reason (): "", true);
    zstr_sendf (self->pipe, "%d", port == -1? 0: port);
    free (endpoint);
}

//  PAUSE flag: stop (or go on) reading from clients; what was read still
//  goes to its consumer, the parked message too
static void
s_handle_pause (self_t *self, zmsg_t *request)
{
    char *flag = zmsg_popstr (request);
    self->paused = !flag || !streq (flag, "0");
    free (flag);
    if (self->paused)
        zstate_server_reading_stop (self);
    else
    if (!self->stalled)
        zstate_server_reading_start (self);
    zstate_reply (self->pipe, "PAUSE", 0, "", false);
}

//  One command; -1 when the server has no such command
static int
s_handle_command (void *arg, const char *command, zmsg_t *request)
{
    self_t *self = (self_t *) arg;
    zsock_t *pipe = self->pipe;
    if (streq (command, "BIND"))
        s_handle_bind (self, request);
    else
    if (zstate_security_command (command))
        zstate_security_handle (self->security, pipe, command, request);
    else
    if (strncmp (command, "SET ", 4) == 0)
        return zstate_server_settings_apply (self, command, request);
    else
    if (streq (command, "REGISTER"))
        s_handle_register (self, request);
    else
    if (streq (command, "UNREGISTER"))
        s_handle_unregister (self, request);
    else
    if (streq (command, "FORWARD"))
        s_handle_forward (self, request);
    else
    if (streq (command, "RESTORED"))
        s_handle_restored (self, request);
    else
    if (streq (command, "RESYNC"))
        s_handle_resync (self, request);
    else
    if (streq (command, "CONFIRM ENDPOINT")) {
        zstate_reply (pipe, command, 0, "", true);
        zstr_send (pipe, zstate_server_confirm_endpoint (self->confirm));
    }
    else
    if (streq (command, "STATS"))
        s_handle_stats (self);
    else
    if (streq (command, "MONITOR"))
        s_handle_monitor (self, request);
    else
    if (streq (command, "PAUSE"))
        s_handle_pause (self, request);
    else
    if (streq (command, "VERBOSE")) {
        char *flag = zmsg_popstr (request);
        self->verbose = !flag || !streq (flag, "0");
        free (flag);
        zstate_reply (pipe, "VERBOSE", 0, "", false);
    }
    else
        return -1;
    return 0;
}

int
zstate_server_commands_handle (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    self_t *self = (self_t *) arg;
    return zstate_actor_command (pipe, "zstate_server:", self->verbose,
                                 s_handle_command, self);
}
