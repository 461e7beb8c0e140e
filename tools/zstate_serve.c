/*  =========================================================================
    zstate serve - a server with consumer tables, optionally persisting to
    Redis, configured by flags or by a ZPL file

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_serve.h"

//  How long shutdown waits for the consumers, then the writer
#define DRAIN_TIMEOUT   5000
//  At shutdown, keep reading while messages still arrive: this often, for
//  at most that long
#define QUIET_PERIOD    50
#define QUIET_MAX       2000
#define FLUSH_TIMEOUT   10000
static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  One batch serves every table: the loop runs one handler at a time
typedef struct {
    served_t *served;
    zstate_batch_t *batch;
} ready_t;

//  Take what arrived for one table: the work an application would do
static int
s_table_ready (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    ready_t *ready = (ready_t *) arg;
    ready->served->popped += zstate_consumer_pops (ready->served->consumer, ready->batch, 1024);
    return 0;
}

//  Take what the consumers hold
static void
s_pop_all (zlistx_t *tables, zstate_batch_t *batch)
{
    served_t *served;
    for (served = (served_t *) zlistx_first (tables); served;
         served = (served_t *) zlistx_next (tables))
        while (zstate_consumer_pending (served->consumer))
            served->popped += zstate_consumer_pops (served->consumer, batch, 1024);
}

//  Pause the server and pop until the consumers hold every message the
//  server routed. Returns 0, or -1 after DRAIN_TIMEOUT.
static int
s_drain (zstate_server_t *server, zlistx_t *tables, zstate_batch_t *batch)
{
    //  Messages clients sent just before the signal may still be on their
    //  way in: take them while they keep coming, for up to QUIET_MAX
    zstate_server_stats_t stats;
    zstate_server_stats (server, &stats);
    uint64_t seen = stats.messages + stats.malformed;
    int64_t quiet_deadline = zclock_mono () + QUIET_MAX;
    while (zclock_mono () < quiet_deadline) {
        zclock_sleep (QUIET_PERIOD);
        s_pop_all (tables, batch);
        zstate_server_stats (server, &stats);
        if (stats.messages + stats.malformed == seen)
            break;
        seen = stats.messages + stats.malformed;
    }
    zstate_server_pause (server, true);
    zpoller_t *poller = zpoller_new (NULL);
    served_t *served;
    for (served = (served_t *) zlistx_first (tables); served;
         served = (served_t *) zlistx_next (tables)) {
        //  A table without a socket was reported when serving began;
        //  it is still drained, on the poller's timeout
        zsock_t *socket = zstate_consumer_socket (served->consumer);
        if (socket)
            zpoller_add (poller, socket);
    }
    int64_t deadline = zclock_mono () + DRAIN_TIMEOUT;
    int rc = -1;
    while (zclock_mono () < deadline) {
        zstate_server_stats (server, &stats);
        uint64_t received = 0;
        for (served = (served_t *) zlistx_first (tables); served;
             served = (served_t *) zlistx_next (tables)) {
            served->popped += zstate_consumer_pops (served->consumer, batch, 1024);
            zstate_consumer_stats_t consumer;
            zstate_consumer_stats (served->consumer, &consumer);
            received += consumer.messages;
        }
        if (received == stats.routed) {
            rc = 0;
            break;
        }
        zpoller_wait (poller, 10);
    }
    //  What is left in the queues was received: the application takes it
    s_pop_all (tables, batch);
    zpoller_destroy (&poller);
    return rc;
}

//  SIGHUP, which a closing terminal or a service manager sends, ends the
//  server like SIGTERM does: CZMQ handles only SIGINT and SIGTERM, and
//  SIGHUP's default would kill us without the drain. With CZMQ's handler
//  off (ZSYS_SIGHANDLER=false), all three keep their default action.
static void
s_hangup (int signum)
{
    (void) signum;
    zsys_interrupted = 1;
}

//  A consumer for every table, with the writer for where it lives for
//  those persisted. Returns 0, or 1 with the reason printed.
static int
s_tables_open (serve_settings_t *settings, zstate_server_t *server,
               zstate_serve_layout_t *layout)
{
    served_t *served = (served_t *) zlistx_first (settings->tables);
    for (; served; served = (served_t *) zlistx_next (settings->tables)) {
        served->consumer = zstate_consumer_new (server, served->db, served->table);
        if (!served->consumer) {
            fprintf (stderr, "zstate serve: table %s/%s: %s\n", served->db, served->table,
                     zstate_reason ());
            return 1;
        }
        if (served->persist && zstate_serve_layout_attach (layout, served))
            return 1;
    }
    return 0;
}

//  Bind the server and its monitor. Consumers are registered first and
//  the server binds last, so the first message already finds its table.
//  Returns 0, or 1 with the reason printed.
static int
s_server_bind (serve_settings_t *settings, zstate_server_t *server)
{
    const char *endpoint = (const char *) zlistx_first (settings->binds);
    for (; endpoint; endpoint = (const char *) zlistx_next (settings->binds)) {
        int port = zstate_server_bind (server, endpoint);
        if (port == -1) {
            //  The reason names the endpoint
            fprintf (stderr, "zstate serve: %s\n", zstate_reason ());
            return 1;
        }
        if (port > 0)
            zsys_info ("zstate serve: bound %s port %d", endpoint, port);
        else
            zsys_info ("zstate serve: bound %s", endpoint);
    }
    if (settings->monitor && zstate_server_monitor (server, settings->monitor) == -1) {
        fprintf (stderr, "zstate serve: monitor: %s\n", zstate_reason ());
        return 1;
    }
    return 0;
}

//  Let the SONiC endpoint hand the server every frame it has read,
//  popping meanwhile, as the server may be full. Returns 0, or -1 after
//  DRAIN_TIMEOUT (what it still holds is lost, and logged when it ends).
static int
s_drain_sonic (zstate_sonic_bridge_t *bridge, zlistx_t *tables, zstate_batch_t *batch)
{
    if (!bridge || zstate_sonic_bridge_drain (bridge))
        return bridge? -1: 0;
    int64_t deadline = zclock_mono () + DRAIN_TIMEOUT;
    zstate_sonic_bridge_stats_t stats;
    while (zstate_sonic_bridge_stats (bridge, &stats) == 0 && !stats.drained) {
        if (zclock_mono () >= deadline)
            return -1;
        s_pop_all (tables, batch);
        zclock_sleep (QUIET_PERIOD / 5);
    }
    return 0;
}

//  Serve until a signal, then drain and flush. Returns the exit status.
static int
s_serve (serve_settings_t *settings, zstate_server_t *server, zstate_sonic_bridge_t *bridge,
         zstate_serve_layout_t *layout)
{
    int status = 0;
    zloop_t *loop = zloop_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    zlistx_t *readies = zlistx_new ();
    zlistx_set_destructor (readies, s_free);
    served_t *served = (served_t *) zlistx_first (settings->tables);
    for (; served; served = (served_t *) zlistx_next (settings->tables)) {
        //  NULL with EMFILE when the process is out of sockets
        zsock_t *socket = zstate_consumer_socket (served->consumer);
        if (!socket) {
            //  The reason names the table
            fprintf (stderr, "zstate serve: %s\n", zstate_reason ());
            status = 1;
            break;
        }
        ready_t *ready = (ready_t *) zmalloc (sizeof (ready_t));
        ready->served = served;
        ready->batch = batch;
        zlistx_add_end (readies, ready);
        zloop_reader (loop, socket, s_table_ready, ready);
    }
    //  Bound, with every table registered: ready for clients
    if (status == 0 && zstate_tool_notify (settings->notify, "READY=1"))
        status = 1;
    if (status == 0) {
        zsys_info ("zstate serve: serving %zu tables", zlistx_size (settings->tables));
        //  Ends on SIGINT, SIGTERM or SIGHUP: zloop stops when zsys_interrupted
        zloop_start (loop);
        zsys_info ("zstate serve: interrupted, flushing");
        zstate_tool_notify (settings->notify, "STOPPING=1");
    }
    zloop_destroy (&loop);
    //  What SONiC producers sent first: they resend nothing. Then stop
    //  reading from clients, take everything the server routed before
    //  that, and let the writers confirm it all
    if (s_drain_sonic (bridge, settings->tables, batch)) {
        fprintf (stderr, "zstate serve: the SONiC endpoint did not hand over everything"
                 " in time\n");
        status = 1;
    }
    if (s_drain (server, settings->tables, batch)) {
        fprintf (stderr, "zstate serve: consumers did not receive everything in time\n");
        status = 1;
    }
    if (zstate_serve_layout_flush (layout, FLUSH_TIMEOUT))
        status = 1;
    for (served = (served_t *) zlistx_first (settings->tables); served;
         served = (served_t *) zlistx_next (settings->tables))
        zsys_info ("zstate serve: %s/%s: %" PRIu64 " operations", served->db,
                   served->table, served->popped - (uint64_t) served->restored);
    zlistx_destroy (&readies);
    zstate_batch_destroy (&batch);
    return status;
}

int
zstate_serve_main (int argc, char *argv [])
{
    serve_settings_t settings;
    int status = zstate_serve_settings_init (&settings, argc, argv);
    if (status) {
        zstate_serve_settings_destroy (&settings);
        return status == -1? 0: status;
    }
    zstate_serve_layout_t *layout = zstate_serve_layout_new (&settings);
    if (!layout) {
        zstate_serve_settings_destroy (&settings);
        return 1;
    }
    const char *czmq_handler = getenv ("ZSYS_SIGHANDLER");
    if (!czmq_handler || !streq (czmq_handler, "false")) {
        struct sigaction action = { .sa_handler = s_hangup };
        sigemptyset (&action.sa_mask);
        sigaction (SIGHUP, &action, NULL);
    }
    zstate_server_t *server = zstate_server_new ();
    zstate_server_set_verbose (server, settings.verbose);
    status = zstate_tool_security_server (settings.security, server);
    if (status == 0)
        status = s_tables_open (&settings, server, layout);
    if (status == 0)
        status = s_server_bind (&settings, server);
    zstate_sonic_bridge_t *bridge = NULL;
    if (status == 0)
        status = zstate_serve_sonic_bind (settings.sonic_binds, settings.sonic_merge,
                                          settings.security, server, &bridge);
    if (status == 0)
        status = s_serve (&settings, server, bridge, layout);
    if (zstate_serve_sonic_end (&bridge))
        status = 1;
    zstate_server_destroy (&server);
    //  Consumers forward to the writers: they go first
    zlistx_purge (settings.tables);
    zstate_serve_layout_destroy (&layout);
    zstate_serve_settings_destroy (&settings);
    return status;
}
