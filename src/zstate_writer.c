/*  =========================================================================
    zstate_writer - the DB writer: persists wire messages into Redis

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The wrapper around the writer actor (zstate_writer_agent.c): each
    method is one command and its reply, with a deadline that allows for
    the Redis connect and command the actor may be waiting on.
@discuss
    The actor publishes its counters every 100 msecs into a snapshot that
    the wrapper reads under a mutex, so zstate_writer_snapshot never waits
    for the actor.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_agent.h"
#include "zstate_writer_config.h"

#define DEFAULT_LINGER          5000        //  msecs destroy waits for Redis

struct _zstate_writer_t {
    zstate_actor_t *actor;      //  The writer actor
    zsock_t *events;            //  Our end of the event pipe
    char *endpoint;             //  Its PULL endpoint
    int linger;                 //  msecs destroy waits for Redis
    int busy_max;               //  msecs the actor may be in one connect
                                //  plus one command, before it reads us
    zstate_writer_snapshot_t snapshot;      //  Counters the actor publishes
};

zstate_writer_t *
zstate_writer_new (void)
{
    //  The event pipe, the actor's pipe and its PULL socket: zsock_new
    //  would abort at the limit
    if (zstate_sock_reserve ("zstate_writer_new", 5))
        return NULL;
    zstate_writer_t *self = (zstate_writer_t *) zmalloc (sizeof (zstate_writer_t));
    assert (self);
    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    self->endpoint = zsys_sprintf ("inproc://zstate-writer-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    assert (self->endpoint);
    self->linger = DEFAULT_LINGER;
    self->busy_max = ZSTATE_WRITER_CONNECT_TIMEOUT + ZSTATE_WRITER_COMMAND_TIMEOUT;
    pthread_mutex_init (&self->snapshot.mutex, NULL);
    zsock_t *backend;
    self->events = zstate_actor_create_pipe (&backend);
    assert (self->events);
    //  The args live on our stack: zactor_new returns after the actor's
    //  signal, by which time it owns the event socket
    zstate_writer_agent_args_t args = { backend, self->endpoint, &self->snapshot };
    self->actor = zstate_actor_new (zstate_writer_agent, &args);
    return self;
}

void
zstate_writer_destroy (zstate_writer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_t *self = *self_p;
        //  The actor logs what could not be written, when it ends
        if (self->linger > 0)
            zstate_writer_flush (self, self->linger);
        zstate_actor_destroy (&self->actor);
        zsock_destroy (&self->events);
        pthread_mutex_destroy (&self->snapshot.mutex);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

//  One request/reply with the actor (zstate_actor_request: the picture's
//  first item is the command). The actor may be waiting on Redis when the
//  command comes, so the deadline allows for that.
static int
s_request (zstate_writer_t *self, int timeout, zmsg_t **rest_p, const char *picture, ...)
{
    if (timeout >= 0)
        timeout += self->busy_max;
    va_list args;
    va_start (args, picture);
    int rc = zstate_actor_vrequest (self->actor, timeout, rest_p, picture, args);
    va_end (args);
    return rc;
}

int
zstate_writer_connect (zstate_writer_t *self, const char *endpoint)
{
    assert (self);
    if (!endpoint)
        return zstate_fail (EINVAL, "CONNECT: endpoint missing");
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "CONNECT", endpoint);
}

const char *
zstate_writer_endpoint (zstate_writer_t *self)
{
    assert (self);
    return self->endpoint;
}

int
zstate_writer_set_separator (zstate_writer_t *self, const char *separator)
{
    assert (self);
    if (!separator)
        return zstate_fail (EINVAL, "SET SEPARATOR: separator missing");
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "SET SEPARATOR",
                      separator);
}

int
zstate_writer_set_db (zstate_writer_t *self, int db)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "SET DB", db);
}

int
zstate_writer_set_placeholder (zstate_writer_t *self, bool placeholder)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "SET PLACEHOLDER",
                      placeholder? 1: 0);
}

int
zstate_writer_set_password (zstate_writer_t *self, const char *password)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "SET PASSWORD",
                      password? password: "");
}

int
zstate_writer_set_timeouts (zstate_writer_t *self, int connect_timeout, int command_timeout)
{
    assert (self);
    int rc = s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "sii", "SET TIMEOUTS",
                        connect_timeout, command_timeout);
    if (rc == 0)
        self->busy_max = connect_timeout + command_timeout;
    return rc;
}

int
zstate_writer_set_batch (zstate_writer_t *self, int ops, int interval)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "sii", "SET BATCH", ops, interval);
}

int
zstate_writer_set_bound (zstate_writer_t *self, size_t keys, size_t bytes)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "s88", "SET BOUND",
                      (uint64_t) keys, (uint64_t) bytes);
}

int
zstate_writer_set_reconnect (zstate_writer_t *self, int min, int max)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "sii", "SET RECONNECT", min, max);
}

void
zstate_writer_set_linger (zstate_writer_t *self, int linger)
{
    assert (self);
    self->linger = linger;
}

int
zstate_writer_flush (zstate_writer_t *self, int timeout)
{
    assert (self);
    //  The actor answers within timeout; give it time to say so
    int deadline = timeout < 0? -1: timeout + ZSTATE_ACTOR_TIMEOUT;
    return s_request (self, deadline, NULL, "si", "FLUSH", timeout);
}

int
zstate_writer_confirm (zstate_writer_t *self, const char *endpoint)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "CONFIRM",
                      endpoint? endpoint: "");
}

int
zstate_writer_restore (zstate_writer_t *self, const char *table, const char *endpoint,
                       int timeout)
{
    assert (self);
    if (!table || !endpoint || timeout < 1)
        return zstate_fail (EINVAL, "RESTORE: table, endpoint or timeout missing or bad");
    //  The actor answers within timeout; give it time to say so
    return s_request (self, timeout + ZSTATE_ACTOR_TIMEOUT, NULL, "sssi", "RESTORE",
                      table, endpoint, timeout);
}

int
zstate_writer_attach (zstate_writer_t *self, const char *db)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "ATTACH", db? db: "");
}

int
zstate_writer_set_watermark_age (zstate_writer_t *self, int secs)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "SET WATERMARK AGE", secs);
}

int
zstate_writer_set_window_bound (zstate_writer_t *self, size_t keys)
{
    assert (self);
    return s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "s8", "SET WINDOW BOUND",
                      (uint64_t) keys);
}

int
zstate_writer_stats_fill (zstate_writer_t *self, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (stats);
    zmsg_t *rest = NULL;
    int rc = s_request (self, ZSTATE_ACTOR_TIMEOUT, &rest, "s", "STATS");
    if (rc == 0) {
        zframe_t *frame = rest? zmsg_first (rest): NULL;
        assert (frame && zframe_size (frame) == sizeof (zstate_writer_stats_t));
        memcpy (stats, zframe_data (frame), sizeof (zstate_writer_stats_t));
    }
    zmsg_destroy (&rest);
    return rc;
}

void
zstate_writer_snapshot (zstate_writer_t *self, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (stats);
    pthread_mutex_lock (&self->snapshot.mutex);
    *stats = self->snapshot.stats;
    pthread_mutex_unlock (&self->snapshot.mutex);
}

const char *
zstate_writer_state_name (int state)
{
    return state == ZSTATE_WRITER_IDLE? "IDLE":
           state == ZSTATE_WRITER_CONNECTED? "CONNECTED":
           state == ZSTATE_WRITER_DISCONNECTED? "DISCONNECTED": "UNKNOWN";
}

zsock_t *
zstate_writer_events (zstate_writer_t *self)
{
    assert (self);
    return self->events;
}

zactor_t *
zstate_writer_actor (zstate_writer_t *self)
{
    assert (self);
    return zstate_actor_zactor (self->actor);
}

void
zstate_writer_set_verbose (zstate_writer_t *self, bool verbose)
{
    assert (self);
    s_request (self, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "VERBOSE", verbose? 1: 0);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Self test of this class: an example. The full suite (commands, semantics,
//  the bound, faults, coalescing) is zstate_writer_faults, in the selftest
//  directory.

void
zstate_writer_test (bool verbose)
{
    printf (" * zstate_writer: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A writer persists into Redis what is sent to its endpoint
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_writer_t *writer = zstate_writer_new ();
    assert (writer);
    if (verbose)
        zstate_writer_set_verbose (writer, true);
    assert (zstate_writer_set_separator (writer, "|") == 0);
    assert (zstate_writer_connect (writer, zstate_redis_server_endpoint (server)) == 0);
    zsock_t *push = zsock_new_push (zstate_writer_endpoint (writer));
    assert (push);
    //  Operations on one key coalesce while they wait
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", "admin_status", "up", NULL);
    zstate_batch_hset (batch, "Ethernet0", "mtu", "1500", NULL);
    zstate_batch_set (batch, "Ethernet4", "mtu", "9100", NULL);
    zstate_batch_del (batch, "Ethernet4");
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 0 };
    zframe_t *frame = zstate_msg_encode (session, 1, "CONFIG_DB", "PORT", batch);
    assert (frame && zframe_send (&frame, push, 0) == 0);
    //  Flush returns once Redis confirmed all of it
    assert (zstate_writer_flush (writer, 10000) == 0);
    zstate_writer_stats_t stats;
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.ops == 4 && stats.written == 2 && stats.coalesced == 2 && stats.depth == 0);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "HGET", "PORT|Ethernet0", "mtu", NULL)
            == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (redis, -1, NULL), "1500"));
    assert (zstate_redis_command (redis, "HGET", "PORT|Ethernet0", "admin_status", NULL)
            == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (redis, -1, NULL), "up"));
    assert (zstate_redis_command (redis, "EXISTS", "PORT|Ethernet4", NULL)
            == ZSTATE_REDIS_INTEGER);
    assert (zstate_redis_integer (redis, -1) == 0);
    zstate_redis_destroy (&redis);
    zstate_batch_destroy (&batch);
    zsock_destroy (&push);
    zstate_writer_destroy (&writer);
    zstate_redis_server_destroy (&server);
    //  @end

    printf ("OK\n");
}
#endif
