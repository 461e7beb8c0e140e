/*  =========================================================================
    zstate_sonic_bridge - a server endpoint for SONiC producers

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The wrapper: each method is one command to the actor
    (zstate_sonic_bridge_agent.c). It also holds the counters the actor
    publishes, which the process's monitors print in their STATS.
@end
*/

#include "zstate_classes.h"
#include "zstate_sonic_bridge_agent.h"

struct _zstate_sonic_bridge_t {
    zstate_actor_t *actor;
    zstate_sonic_bridge_shared_t shared;    //  the actor's, published
};

static int
s_request (zstate_sonic_bridge_t *self, zmsg_t **rest_p, const char *picture, ...)
{
    va_list args;
    va_start (args, picture);
    int rc = zstate_actor_vrequest (self->actor, ZSTATE_ACTOR_TIMEOUT, rest_p,
                                    picture, args);
    va_end (args);
    return rc;
}

//  The bridge's section of a monitor's STATS text, on the server's thread
static void
s_section (void *arg, size_t ordinal, FILE *file)
{
    zstate_sonic_bridge_shared_t *shared = (zstate_sonic_bridge_shared_t *) arg;
    pthread_mutex_lock (&shared->mutex);
    zstate_sonic_bridge_stats_t stats = shared->stats;
    pthread_mutex_unlock (&shared->mutex);
    char name [32] = "sonic";
    if (ordinal > 1)
        snprintf (name, sizeof (name), "sonic_%zu", ordinal);
    zstate_sonic_bridge_stats_fprint (&stats, name, file);
}

zstate_sonic_bridge_t *
zstate_sonic_bridge_new (zstate_server_t *server)
{
    if (!server) {
        zstate_fail (EINVAL, "zstate_sonic_bridge_new: no server");
        return NULL;
    }
    //  The pipe's two ends, the dealer and the PULL
    if (zstate_sock_reserve ("zstate_sonic_bridge_new", 4))
        return NULL;
    zstate_sonic_bridge_t *self = (zstate_sonic_bridge_t *) zmalloc (sizeof (*self));
    assert (self);
    pthread_mutex_init (&self->shared.mutex, NULL);
    self->actor = zstate_actor_new (zstate_sonic_bridge_agent, &self->shared);
    zuuid_t *uuid = zuuid_new ();
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://zstate-sonic-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    if (zstate_server_bind (server, endpoint) == -1
    ||  s_request (self, NULL, "ss", "CONNECT", endpoint)) {
        int error = errno;
        char *reason = strdup (zstate_reason ());
        zstate_sonic_bridge_destroy (&self);
        zstate_fail (error, "%s", reason);
        free (reason);
    }
    else
        zstate_monitor_section_add (s_section, &self->shared);
    return self;
}

uint64_t
zstate_sonic_bridge_close (zstate_sonic_bridge_t **self_p)
{
    assert (self_p);
    uint64_t lost = 0;
    if (*self_p) {
        zstate_sonic_bridge_t *self = *self_p;
        zstate_monitor_section_remove (&self->shared);
        //  The actor counts what it loses as it ends, and publishes it
        zstate_actor_destroy (&self->actor);
        lost = self->shared.stats.lost;
        pthread_mutex_destroy (&self->shared.mutex);
        free (self);
        *self_p = NULL;
    }
    return lost;
}

void
zstate_sonic_bridge_destroy (zstate_sonic_bridge_t **self_p)
{
    zstate_sonic_bridge_close (self_p);
}

int
zstate_sonic_bridge_bind (zstate_sonic_bridge_t *self, const char *endpoint)
{
    assert (self);
    if (!endpoint || !*endpoint)
        return zstate_fail (EINVAL, "BIND: no endpoint");
    zmsg_t *rest = NULL;
    int rc = s_request (self, &rest, "ss", "BIND", endpoint);
    if (rc == 0) {
        char *port = zmsg_popstr (rest);
        rc = port? atoi (port): 0;
        free (port);
    }
    zmsg_destroy (&rest);
    return rc;
}

int
zstate_sonic_bridge_drain (zstate_sonic_bridge_t *self)
{
    assert (self);
    return s_request (self, NULL, "s", "DRAIN");
}

int
zstate_sonic_bridge_stats_sized (zstate_sonic_bridge_t *self,
                                 zstate_sonic_bridge_stats_t *stats, size_t size)
{
    assert (self);
    assert (stats);
    zmsg_t *rest = NULL;
    int rc = s_request (self, &rest, "s", "STATS");
    if (rc == 0) {
        zframe_t *frame = zmsg_pop (rest);
        //  Our own actor sent it: a wrong size is a bug, not bad input
        assert (frame && zframe_size (frame) == sizeof (zstate_sonic_bridge_stats_t));
        zstate_stats_copy (zframe_data (frame), zframe_size (frame), stats, size);
        zframe_destroy (&frame);
    }
    zmsg_destroy (&rest);
    return rc;
}

int
zstate_sonic_bridge_set_rcvhwm (zstate_sonic_bridge_t *self, int rcvhwm)
{
    assert (self);
    return s_request (self, NULL, "si", "SET RCVHWM", rcvhwm);
}

int
zstate_sonic_bridge_set_merge (zstate_sonic_bridge_t *self, bool merge)
{
    assert (self);
    return s_request (self, NULL, "si", "SET MERGE", merge? 1: 0);
}

int
zstate_sonic_bridge_set_curve (zstate_sonic_bridge_t *self, const char *certificate,
                               const char *clients)
{
    assert (self);
    if (!certificate || !clients)
        return zstate_fail (EINVAL, "CURVE needs a certificate and a client directory");
    return s_request (self, NULL, "sss", "CURVE", certificate, clients);
}

int
zstate_sonic_bridge_allow (zstate_sonic_bridge_t *self, const char *address)
{
    assert (self);
    return s_request (self, NULL, "ss", "ALLOW", address? address: "");
}

int
zstate_sonic_bridge_deny (zstate_sonic_bridge_t *self, const char *address)
{
    assert (self);
    return s_request (self, NULL, "ss", "DENY", address? address: "");
}

int
zstate_sonic_bridge_set_insecure (zstate_sonic_bridge_t *self, bool insecure)
{
    assert (self);
    return s_request (self, NULL, "si", "SET INSECURE", insecure? 1: 0);
}

int
zstate_sonic_bridge_set_connections_max (zstate_sonic_bridge_t *self, int max)
{
    assert (self);
    return s_request (self, NULL, "si", "SET CONNECTIONS", max);
}

void
zstate_sonic_bridge_set_verbose (zstate_sonic_bridge_t *self, bool verbose)
{
    assert (self);
    s_request (self, NULL, "si", "VERBOSE", verbose? 1: 0);
}

zactor_t *
zstate_sonic_bridge_actor (zstate_sonic_bridge_t *self)
{
    assert (self);
    return zstate_actor_zactor (self->actor);
}
