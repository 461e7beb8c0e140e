/*  =========================================================================
    zstate_server - the server dispatcher: receives wire messages and routes
    each to the consumer table registered for its (db, table)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The wrapper around the server actor (zstate_server_agent.c), and the
    server link that the wrapper and its consumers share
    (zstate_server_link.h says why it is shared).
@end
*/

#include "zstate_classes.h"
#include "zstate_server_agent.h"

//  --------------------------------------------------------------------------
//  The server link, shared by the wrapper and its consumers

struct _zstate_server_link_t {
    pthread_mutex_t mutex;      //  guards refs, and actor against destroy
    size_t refs;                //  references, under mutex
    zstate_actor_t *actor;      //  the server actor, NULL once destroyed
};

//  The wrapper: everything it does goes through the link
struct _zstate_server_t {
    zstate_server_link_t *link; //  shared with our consumers; holds the actor
};

//  One request/reply with the actor (zstate_actor_request: the picture's
//  first item is the command), under the link's mutex so that the server
//  is not destroyed under a consumer's request. Returns 0, or -1 with
//  errno and zstate_reason (): ENOENT once the server is destroyed.
static int
s_link_request (zstate_server_link_t *link, zmsg_t **rest_p, const char *picture, ...)
{
    pthread_mutex_lock (&link->mutex);
    va_list args;
    va_start (args, picture);
    int rc;
    if (!link->actor) {
        const char *command = va_arg (args, const char *);
        rc = zstate_fail (ENOENT, "%s: the server is gone", command);
    }
    else {
        //  Through signals: a consumer must know that the server has let
        //  go of it; our actor answers every command at once
        rc = zstate_actor_vrequest (link->actor, ZSTATE_ACTOR_TIMEOUT, rest_p,
                                    picture, args);
    }
    va_end (args);
    int error = errno;
    pthread_mutex_unlock (&link->mutex);
    errno = error;
    return rc;
}

zstate_server_link_t *
zstate_server_link (zstate_server_t *server)
{
    assert (server);
    zstate_server_link_t *link = server->link;
    pthread_mutex_lock (&link->mutex);
    link->refs++;
    pthread_mutex_unlock (&link->mutex);
    return link;
}

void
zstate_server_link_release (zstate_server_link_t **link_p)
{
    assert (link_p);
    zstate_server_link_t *link = *link_p;
    if (link) {
        pthread_mutex_lock (&link->mutex);
        bool last = --link->refs == 0;
        pthread_mutex_unlock (&link->mutex);
        if (last) {
            assert (!link->actor);
            pthread_mutex_destroy (&link->mutex);
            free (link);
        }
        *link_p = NULL;
    }
}

int
zstate_server_link_register (zstate_server_link_t *link,
                             const char *db, const char *table, const char *name,
                             zstate_consumer_t *consumer)
{
    assert (link);
    assert (db && table && name);
    return s_link_request (link, NULL, "ssssp", "REGISTER", db, table, name, consumer);
}

int
zstate_server_link_unregister (zstate_server_link_t *link,
                               const char *db, const char *table, const char *name)
{
    assert (link);
    assert (db && table && name);
    return s_link_request (link, NULL, "ssss", "UNREGISTER", db, table, name);
}

int
zstate_server_link_forward (zstate_server_link_t *link,
                            const char *db, const char *table, const char *name,
                            const char *endpoint)
{
    assert (link);
    assert (db && table && name && endpoint);
    return s_link_request (link, NULL, "sssss", "FORWARD", db, table, name, endpoint);
}

int
zstate_server_link_resync (zstate_server_link_t *link,
                           const char *db, const char *table, const char *name)
{
    assert (link);
    assert (db && table && name);
    return s_link_request (link, NULL, "ssss", "RESYNC", db, table, name);
}

int
zstate_server_link_confirm_endpoint (zstate_server_link_t *link, char *endpoint,
                                     size_t size)
{
    assert (link);
    assert (endpoint && size);
    zmsg_t *rest = NULL;
    int rc = s_link_request (link, &rest, "s", "CONFIRM ENDPOINT");
    char *value = rc == 0? zmsg_popstr (rest): NULL;
    if (rc == 0 && !value)
        rc = zstate_fail (EPROTO, "CONFIRM ENDPOINT: no endpoint in the reply");
    if (rc == 0)
        snprintf (endpoint, size, "%s", value);
    free (value);
    zmsg_destroy (&rest);
    return rc;
}

int
zstate_server_link_restored (zstate_server_link_t *link,
                             const char *db, const char *table, const char *name,
                             const byte *watermarks, size_t size)
{
    assert (link);
    assert (db && table && name);
    return s_link_request (link, NULL, "ssssb", "RESTORED", db, table, name,
                           watermarks, size);
}


//  --------------------------------------------------------------------------
//  Create a server; it binds nothing until zstate_server_bind.

zstate_server_t *
zstate_server_new (void)
{
    //  The actor's pipe and its ROUTER: zsock_new would abort at the limit
    if (zstate_sock_reserve ("zstate_server_new", 3))
        return NULL;
    zstate_server_t *self = (zstate_server_t *) zmalloc (sizeof (zstate_server_t));
    assert (self);
    self->link = (zstate_server_link_t *) zmalloc (sizeof (zstate_server_link_t));
    assert (self->link);
    int rc = pthread_mutex_init (&self->link->mutex, NULL);
    assert (rc == 0);
    self->link->refs = 1;
    self->link->actor = zstate_actor_new (zstate_server_agent, NULL);
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy the server; consumers keep the link and find the actor gone.

void
zstate_server_destroy (zstate_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_server_t *self = *self_p;
        pthread_mutex_lock (&self->link->mutex);
        zstate_actor_destroy (&self->link->actor);
        pthread_mutex_unlock (&self->link->mutex);
        zstate_server_link_release (&self->link);
        free (self);
        *self_p = NULL;
    }
}


//  BIND or MONITOR: both reply with the port the endpoint got
static int
s_bind_request (zstate_server_t *self, const char *command, const char *endpoint)
{
    if (!endpoint || !*endpoint)
        return zstate_fail (EINVAL, "%s: no endpoint", command);
    zmsg_t *rest = NULL;
    int rc = s_link_request (self->link, &rest, "ss", command, endpoint);
    if (rc == 0) {
        char *port = zmsg_popstr (rest);
        rc = port? atoi (port): 0;
        free (port);
    }
    zmsg_destroy (&rest);
    return rc;
}


//  --------------------------------------------------------------------------
//  Bind to an endpoint. Returns the tcp port, 0, or -1.

int
zstate_server_bind (zstate_server_t *self, const char *endpoint)
{
    assert (self);
    return s_bind_request (self, "BIND", endpoint);
}


//  --------------------------------------------------------------------------
//  Stop or resume reading from clients.

int
zstate_server_pause (zstate_server_t *self, bool paused)
{
    assert (self);
    return s_link_request (self->link, NULL, "si", "PAUSE", paused? 1: 0);
}


//  --------------------------------------------------------------------------
//  Bind the monitoring endpoint; returns the port for tcp, 0, or -1.

int
zstate_server_monitor (zstate_server_t *self, const char *endpoint)
{
    assert (self);
    return s_bind_request (self, "MONITOR", endpoint);
}


//  --------------------------------------------------------------------------
//  Fill *stats with the current counters.

int
zstate_server_stats_fill (zstate_server_t *self, zstate_server_stats_t *stats)
{
    assert (self);
    assert (stats);
    zmsg_t *rest = NULL;
    int rc = s_link_request (self->link, &rest, "s", "STATS");
    if (rc == 0) {
        zframe_t *frame = zmsg_pop (rest);
        //  Our own actor sent it: a wrong size is a bug, not bad input
        assert (frame && zframe_size (frame) == sizeof (zstate_server_stats_t));
        memcpy (stats, zframe_data (frame), sizeof (zstate_server_stats_t));
        zframe_destroy (&frame);
    }
    zmsg_destroy (&rest);
    return rc;
}


//  --------------------------------------------------------------------------
//  Set the ROUTER's receive high-water mark; applies to later binds.

int
zstate_server_set_rcvhwm (zstate_server_t *self, int rcvhwm)
{
    assert (self);
    return s_link_request (self->link, NULL, "si", "SET RCVHWM", rcvhwm);
}


//  --------------------------------------------------------------------------
//  Settings of protocol version 2 sessions.

int
zstate_server_set_heartbeat (zstate_server_t *self, int msecs)
{
    assert (self);
    return s_link_request (self->link, NULL, "si", "SET HEARTBEAT", msecs);
}

int
zstate_server_set_ack_delay (zstate_server_t *self, int msecs)
{
    assert (self);
    return s_link_request (self->link, NULL, "si", "SET ACK DELAY", msecs);
}

int
zstate_server_set_session_idle (zstate_server_t *self, int msecs)
{
    assert (self);
    return s_link_request (self->link, NULL, "si", "SET SESSION IDLE", msecs);
}

int
zstate_server_set_sessions_max (zstate_server_t *self, int max)
{
    assert (self);
    return s_link_request (self->link, NULL, "si", "SET SESSIONS", max);
}


//  --------------------------------------------------------------------------
//  Log activity with zsys_debug.

void
zstate_server_set_verbose (zstate_server_t *self, bool verbose)
{
    assert (self);
    s_link_request (self->link, NULL, "si", "VERBOSE", verbose? 1: 0);
}


//  --------------------------------------------------------------------------
//  Return the server's actor; our other files get the zstate_actor_t.

zstate_actor_t *
zstate_server_link_actor (zstate_server_t *self)
{
    return self->link->actor;
}

zactor_t *
zstate_server_actor (zstate_server_t *self)
{
    assert (self);
    return zstate_actor_zactor (self->link->actor);
}


#ifdef ZSTATE_SELFTEST
//  --------------------------------------------------------------------------
//  Selftest

//  Encode batch as one wire message and send it from a raw DEALER, as the
//  client agent would
static void
s_test_send (zsock_t *dealer, zuuid_t *session, uint64_t sequence,
             const char *db, const char *table, zstate_batch_t *batch)
{
    zframe_t *frame = zstate_msg_encode (zuuid_data (session), sequence,
                                         db, table, batch);
    assert (frame);
    int rc = zframe_send (&frame, dealer, 0);
    assert (rc == 0);
}

//  Wait until consumer has delivered expected operations; the last pops
//  stays in batch. Fails after 30 seconds of silence instead of hanging.
static void
s_test_receive (zstate_consumer_t *consumer, zstate_batch_t *batch, size_t expected)
{
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    assert (poller);
    size_t received = 0;
    while (received < expected) {
        void *which = zpoller_wait (poller, 30000);
        assert (which == zstate_consumer_socket (consumer));
        received += zstate_consumer_pops (consumer, batch, 0);
    }
    assert (received == expected);
    zpoller_destroy (&poller);
}

//  Wait until consumer has refused a message and the server holds it.
//  Until the application pops, the server never offers it again, so that
//  stall lasts. A message the server holds is counted in messages, and not
//  yet in routed, unroutable or dropped. The consumer must not have been
//  full before. Shared with the consumer's selftest.
void
zstate_server_test_wait_stalled (zstate_server_t *server, zstate_consumer_t *consumer,
                                 zstate_server_stats_t *stats)
{
    int64_t deadline = zclock_mono () + 60000;
    bool stalled = false;
    for (bool first = true; !stalled && zclock_mono () < deadline; first = false) {
        if (!first)
            zclock_sleep (1);       //  Not a spin on the server's pipe
        zstate_consumer_stats_t consumer_stats;
        zstate_consumer_stats (consumer, &consumer_stats);
        int rc = zstate_server_stats (server, stats);
        assert (rc == 0);
        stalled = consumer_stats.stalls > 0
               && stats->messages == stats->routed + stats->unroutable
                                     + stats->dropped + 1;
    }
    assert (stalled);
    assert (stats->stalls > 0);
}

//  What the server's suites share
typedef struct {
    zstate_server_t *server;
    zstate_consumer_t *routes;  //  APPL_DB/ROUTE_TABLE
    zstate_consumer_t *ports;   //  APPL_DB/PORT_TABLE
    zsock_t *dealer;            //  A raw client, connected to the server
    zuuid_t *session;           //  The dealer's session
    uint64_t sequence;          //  Its last sequence number
    zstate_batch_t *batch;      //  What we send
    zstate_batch_t *received;   //  What a consumer popped
} test_rig_t;

//  Settings, consumers before bind, binding
static void
s_test_rig_new (test_rig_t *rig, bool verbose)
{
    zstate_server_t *server = rig->server = zstate_server_new ();
    assert (server);
    assert (zstate_server_actor (server));
    zstate_server_set_verbose (server, verbose);
    int rc = zstate_server_set_rcvhwm (server, -1);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_server_set_rcvhwm (server, 500);
    assert (rc == 0);

    //  Consumers may register before the server binds
    zstate_consumer_t *routes = rig->routes = zstate_consumer_new (server, "APPL_DB", "ROUTE_TABLE");
    assert (routes);
    zstate_consumer_t *ports = rig->ports = zstate_consumer_new (server, "APPL_DB", "PORT_TABLE");
    assert (ports);
    //  One consumer per (db, table): the second is refused, not swapped in
    zstate_consumer_t *twin = zstate_consumer_new (server, "APPL_DB", "ROUTE_TABLE");
    assert (twin == NULL && errno == EEXIST);
    assert (strstr (zstate_reason (), "already registered"));

    //  An ephemeral port comes back; binding it again fails cleanly
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    rc = zstate_server_bind (server, endpoint);
    assert (rc == -1 && errno == EADDRINUSE);
    assert (*zstate_reason ());
    rc = zstate_server_bind (server, "bogus");
    assert (rc == -1 && errno != 0);
    rc = zstate_server_bind (server, NULL);
    assert (rc == -1 && errno == EINVAL);

    zsock_t *dealer = rig->dealer = zsock_new_dealer (endpoint);
    assert (dealer);
    zsock_set_sndtimeo (dealer, 30000);
    rig->session = zuuid_new ();
    rig->sequence = 0;
    rig->batch = zstate_batch_new ();
    rig->received = zstate_batch_new ();
}

//  Routing: each table its own messages, from every endpoint
static void
s_test_routing (test_rig_t *rig)
{
    zstate_server_t *server = rig->server;
    zstate_consumer_t *routes = rig->routes;
    zstate_consumer_t *ports = rig->ports;
    zsock_t *dealer = rig->dealer;
    zuuid_t *session = rig->session;
    zstate_batch_t *batch = rig->batch;
    zstate_batch_t *received = rig->received;
    int rc;
    //  Each table gets its own messages
    zstate_batch_set (batch, "10.0.0.0/8", "nexthop", "10.1.1.1", NULL);
    s_test_send (dealer, session, ++rig->sequence, "APPL_DB", "ROUTE_TABLE", batch);
    zstate_batch_reset (batch);
    zstate_batch_hset (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_batch_del (batch, "Ethernet4");
    s_test_send (dealer, session, ++rig->sequence, "APPL_DB", "PORT_TABLE", batch);
    s_test_receive (routes, received, 1);
    assert (streq (zstate_batch_key (received, 0, NULL), "10.0.0.0/8"));
    s_test_receive (ports, received, 2);
    assert (streq (zstate_batch_key (received, 0, NULL), "Ethernet0"));
    assert (zstate_batch_op (received, 1) == ZSTATE_OP_DEL);

    //  A second endpoint serves as well as the first
    zuuid_t *uuid = zuuid_new ();
    char inproc [80];
    snprintf (inproc, sizeof (inproc), "inproc://zstate-server-test-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    rc = zstate_server_bind (server, inproc);
    assert (rc == 0);
    zsock_t *neighbour = zsock_new_dealer (inproc);
    assert (neighbour);
    zuuid_t *other_session = zuuid_new ();
    s_test_send (neighbour, other_session, 1, "APPL_DB", "PORT_TABLE", batch);
    s_test_receive (ports, received, 2);
    zuuid_destroy (&other_session);
    zsock_destroy (&neighbour);
}

//  The monitor reports counters per table and streams to watchers
static void
s_test_monitor (test_rig_t *rig)
{
    zstate_server_t *server = rig->server;
    zstate_consumer_t *ports = rig->ports;
    zsock_t *dealer = rig->dealer;
    zuuid_t *session = rig->session;
    zstate_batch_t *batch = rig->batch;
    zstate_batch_t *received = rig->received;
    int rc;
    int monitor_port = zstate_server_monitor (server, "tcp://127.0.0.1:*");
    assert (monitor_port > 0);
    assert (zstate_server_monitor (server, "bogus") == -1);
    zsock_t *watcher = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (watcher, 30000);
    rc = zsock_connect (watcher, "tcp://127.0.0.1:%d", monitor_port);
    assert (rc == 0);
    zstr_send (watcher, "STATS");
    char *command, *status, *reason, *text;
    rc = zstr_recvx (watcher, &command, &status, &reason, &text, NULL);
    assert (rc == 4 && streq (command, "STATS") && streq (status, "0"));
    //  The text is ZPL, and counts what the tables received so far
    zconfig_t *config = zconfig_str_load (text);
    assert (config);
    assert (streq (zconfig_get (config, "server/messages", ""), "3"));
    assert (streq (zconfig_get (config, "server/consumers", ""), "2"));
    zconfig_t *section = zconfig_locate (config, "table");
    bool seen_ports = false;
    while (section) {
        if (streq (zconfig_get (section, "name", ""), "PORT_TABLE")) {
            assert (streq (zconfig_get (section, "messages", ""), "2"));
            assert (streq (zconfig_get (section, "ops", ""), "4"));
            assert (streq (zconfig_get (section, "popped", ""), "4"));
            seen_ports = true;
        }
        section = zconfig_next (section);
    }
    assert (seen_ports);
    zconfig_destroy (&config);
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    zstr_free (&text);

    zstr_sendx (watcher, "WATCH", "APPL_DB", "PORT_TABLE", NULL);
    rc = zstr_recvx (watcher, &command, &status, &reason, NULL);
    assert (rc == 3 && streq (command, "WATCH") && streq (status, "0"));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    s_test_send (dealer, session, ++rig->sequence, "APPL_DB", "PORT_TABLE", batch);
    s_test_receive (ports, received, 2);
    zmsg_t *copy = zmsg_recv (watcher);
    assert (copy && zmsg_size (copy) == 2);
    char *kind = zmsg_popstr (copy);
    assert (streq (kind, "OPS"));
    zstr_free (&kind);
    zframe_t *payload = zmsg_pop (copy);
    zstate_msg_t *decoder = zstate_msg_new ();
    rc = zstate_msg_decode (decoder, zframe_data (payload), zframe_size (payload));
    assert (rc == ZSTATE_WIRE_OK);
    assert (streq (zstate_msg_table (decoder), "PORT_TABLE"));
    assert (zstate_msg_op_count (decoder) == 2);
    zstate_msg_destroy (&decoder);
    zframe_destroy (&payload);
    zmsg_destroy (&copy);
    zsock_destroy (&watcher);
}

//  Counting: unroutable and malformed messages
static void
s_test_counting (test_rig_t *rig)
{
    zstate_server_t *server = rig->server;
    zstate_consumer_t *routes = rig->routes;
    zsock_t *dealer = rig->dealer;
    zuuid_t *session = rig->session;
    zstate_batch_t *batch = rig->batch;
    zstate_batch_t *received = rig->received;
    int rc;
    //  Messages for tables nobody serves are counted and dropped. The
    //  sentinel after them arrives only once the server has seen them all.
    zstate_batch_reset (batch);
    zstate_batch_set (batch, "key", "field", "value", NULL);
    s_test_send (dealer, session, ++rig->sequence, "APPL_DB", "NO_TABLE", batch);
    s_test_send (dealer, session, ++rig->sequence, "NO_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, session, ++rig->sequence, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_receive (routes, received, 1);
    zstate_server_stats_t stats;
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.unroutable == 2);
    assert (stats.malformed == 0);
    assert (stats.messages == 7);
    assert (stats.routed == 5);
    assert (stats.ops == 10);
    assert (stats.consumers == 2);
    assert (stats.sessions == 2);
    assert (stats.gaps == 0);

    //  Malformed messages are counted by reason, and valid traffic goes on
    zuuid_t *junk = zuuid_new ();
    zstr_send (dealer, "hello, world");
    zframe_t *frame = zframe_new (NULL, 0);
    zframe_send (&frame, dealer, 0);
    frame = zstate_msg_encode (zuuid_data (junk), 1, "APPL_DB", "ROUTE_TABLE", batch);
    assert (frame);
    zmq_send (zsock_resolve (dealer), zframe_data (frame), 10, 0);
    //  A frame sent with ZFRAME_REUSE shares its bytes with the copy in
    //  flight, so each variant gets a frame of its own
    zframe_data (frame) [2] = ZSTATE_MSG_VERSION + 2;
    zframe_send (&frame, dealer, 0);
    frame = zstate_msg_encode (zuuid_data (junk), 2, "APPL_DB", "ROUTE_TABLE", batch);
    assert (frame);
    zframe_send (&frame, dealer, ZFRAME_MORE);
    zstr_send (dealer, "one frame too many");
    s_test_send (dealer, session, ++rig->sequence, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_receive (routes, received, 1);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.malformed == 5);
    assert (stats.rejected [ZSTATE_WIRE_SIGNATURE] == 1);
    assert (stats.rejected [ZSTATE_WIRE_TRUNCATED] == 2);
    assert (stats.rejected [ZSTATE_WIRE_VERSION] == 1);
    assert (stats.rejected [ZSTATE_WIRE_FRAMES] == 1);
    assert (stats.routed == 6);
    assert (stats.sessions == 2);
    zuuid_destroy (&junk);
}

//  A jump in a session's sequence is a gap; a new session is not
static void
s_test_gaps (test_rig_t *rig)
{
    zstate_server_t *server = rig->server;
    zstate_consumer_t *routes = rig->routes;
    zsock_t *dealer = rig->dealer;
    zstate_batch_t *batch = rig->batch;
    zstate_batch_t *received = rig->received;
    int rc;
    zstate_server_stats_t stats;
    zuuid_t *lossy = zuuid_new ();
    s_test_send (dealer, lossy, 1, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, lossy, 2, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, lossy, 5, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, lossy, 6, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_receive (routes, received, 4);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.gaps == 1);
    //  A step back breaks the protocol's rules, and counts as well
    s_test_send (dealer, lossy, 3, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_send (dealer, lossy, 4, "APPL_DB", "ROUTE_TABLE", batch);
    s_test_receive (routes, received, 2);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.gaps == 2);
    assert (stats.sessions == 3);
    zuuid_destroy (&lossy);
}

//  The server link's rules, unknown commands, pause
static void
s_test_link (test_rig_t *rig)
{
    zstate_server_t *server = rig->server;
    zstate_consumer_t *routes = rig->routes;
    zsock_t *dealer = rig->dealer;
    zuuid_t *session = rig->session;
    zstate_batch_t *batch = rig->batch;
    zstate_batch_t *received = rig->received;
    int rc;
    //  Only the consumer that registered can unregister
    zstate_server_link_t *link = zstate_server_link (server);
    rc = zstate_server_link_unregister (link, "APPL_DB", "ROUTE_TABLE",
                                        "inproc://nobody");
    assert (rc == -1 && errno == ENOENT);
    rc = zstate_server_link_unregister (link, "APPL_DB", "NO_TABLE", "inproc://nobody");
    assert (rc == -1 && errno == ENOENT);
    rc = zstate_server_link_register (link, "APPL_DB", "", "inproc://nobody", NULL);
    assert (rc == -1 && errno == EINVAL);

    //  Unknown commands get an error reply, not an abort
    rc = s_link_request (server->link, NULL, "s", "BOGUS");
    assert (rc == -1 && errno == EINVAL);

    //  A paused server reads nothing from clients until it resumes
    rc = zstate_server_pause (server, true);
    assert (rc == 0);
    s_test_send (dealer, session, ++rig->sequence, "APPL_DB", "ROUTE_TABLE", batch);
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (routes), NULL);
    assert (zpoller_wait (poller, 200) == NULL);
    zpoller_destroy (&poller);
    assert (zstate_consumer_pending (routes) == 0);
    rc = zstate_server_pause (server, false);
    assert (rc == 0);
    s_test_receive (routes, received, 1);
    zstate_server_link_release (&link);
}

//  A consumer that does not pop stops the server, which still ends
static void
s_test_stall (test_rig_t *rig)
{
    zstate_server_t *server = rig->server;
    zstate_consumer_t *routes = rig->routes;
    zstate_consumer_t *ports = rig->ports;
    zsock_t *dealer = rig->dealer;
    zuuid_t *session = rig->session;
    zstate_batch_t *batch = rig->batch;
    zstate_batch_t *received = rig->received;
    int rc;
    zstate_server_stats_t stats;
    zstate_server_link_t *link = zstate_server_link (server);
    //  A consumer that does not pop stops the server...
    zstate_consumer_t *slow = zstate_consumer_new (server, "APPL_DB", "SLOW_TABLE");
    assert (slow);
    zstate_consumer_set_queue (slow, 1, 1024 * 1024);
    for (uint64_t count = 0; count < 200; count++)
        s_test_send (dealer, session, ++rig->sequence, "APPL_DB", "SLOW_TABLE", batch);
    zstate_server_test_wait_stalled (server, slow, &stats);
    assert (stats.consumers == 3);

    //  ...which still ends (it does not wait for the consumer to pop,
    //  which nobody does), and its consumers after it
    zstate_server_destroy (&server);
    assert (server == NULL);
    rc = zstate_server_link_register (link, "APPL_DB", "LATE_TABLE", "inproc://nobody", NULL);
    assert (rc == -1 && errno == ENOENT);
    zstate_server_link_release (&link);
    assert (link == NULL);
    zstate_consumer_destroy (&slow);
    zstate_consumer_destroy (&ports);
    zstate_consumer_destroy (&routes);
    zstate_server_destroy (&server);

    zstate_batch_destroy (&batch);
    zstate_batch_destroy (&received);
    zuuid_destroy (&session);
    zsock_destroy (&dealer);
}

void
zstate_server_test (bool verbose)
{
    printf (" * zstate_server: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A server, a consumer table on it, and a producer that writes to it
    zstate_server_t *server = zstate_server_new ();
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zstate_consumer_t *table = zstate_consumer_new (server, "APPL_DB", "PORT_TABLE");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    zstate_client_t *client = zstate_client_new ();
    assert (client && zstate_client_connect (client, endpoint) == 0);
    zstate_producer_t *producer = zstate_producer_new (client, "APPL_DB", "PORT_TABLE");
    assert (table && producer);
    assert (zstate_producer_set (producer, "Ethernet0", "mtu", "9100", NULL) == 0);
    //  The table's socket is readable while operations wait for pops
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (table), NULL);
    assert (zpoller_wait (poller, 30000) == zstate_consumer_socket (table));
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_consumer_pops (table, batch, 0) == 1);
    assert (streq (zstate_batch_key (batch, 0, NULL), "Ethernet0"));
    zstate_server_stats_t stats;
    assert (zstate_server_stats (server, &stats) == 0 && stats.routed == 1);
    assert (stats.consumers == 1 && stats.sessions == 1);
    zpoller_destroy (&poller);
    zstate_batch_destroy (&batch);
    zstate_producer_destroy (&producer);
    zstate_client_destroy (&client);
    zstate_consumer_destroy (&table);
    zstate_server_destroy (&server);
    //  @end

    test_rig_t rig;
    s_test_rig_new (&rig, verbose);
    s_test_routing (&rig);
    s_test_monitor (&rig);
    s_test_counting (&rig);
    s_test_gaps (&rig);
    s_test_link (&rig);
    s_test_stall (&rig);
    printf ("OK\n");
}
#endif
