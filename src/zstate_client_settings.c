/*  =========================================================================
    zstate_client_settings - the client's settings: queue and batch
    bounds, retries, the link, the DEALER's options, the protocol

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"
#include "zstate_security.h"

//  --------------------------------------------------------------------------
//  Bound the queue. A call over a bound fails with EMSGSIZE; one that fits
//  the bound but not what is queued, with ENOBUFS.

void
zstate_client_set_queue (zstate_client_t *self, size_t ops, size_t bytes)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    self->queue_ops_max = ops;
    self->queue_bytes_max = bytes;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  Bound adaptive batching; clamped to 1..ZSTATE_OPS_MAX operations and
//  ZSTATE_MESSAGE_MAX bytes (a message always takes one operation).

void
zstate_client_set_batch (zstate_client_t *self, size_t ops, size_t bytes)
{
    assert (self);
    if (ops < 1)
        ops = 1;
    if (ops > ZSTATE_OPS_MAX)
        ops = ZSTATE_OPS_MAX;
    if (bytes > ZSTATE_MESSAGE_MAX)
        bytes = ZSTATE_MESSAGE_MAX;
    pthread_mutex_lock (&self->lock);
    self->batch_ops_max = ops;
    self->batch_bytes_max = bytes;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  Retry policy for a full socket; ivl is at least 1 msec, max_ivl at
//  least ivl.

void
zstate_client_set_retry (zstate_client_t *self, int ivl, int max_ivl, int timeout)
{
    assert (self);
    if (ivl < 1)
        ivl = 1;
    if (max_ivl < ivl)
        max_ivl = ivl;
    if (timeout < 0)
        timeout = 0;
    pthread_mutex_lock (&self->lock);
    self->retry_ivl = ivl;
    self->retry_max_ivl = max_ivl;
    self->retry_timeout = timeout;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  How long the link may be down before the client goes to FAILED.
//  Takes effect the next time the link timer starts.

void
zstate_client_set_link_timeout (zstate_client_t *self, int timeout)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    self->link_timeout = timeout > 0? timeout: 0;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  How long destroy waits to deliver what is queued; also ZMQ_LINGER.

void
zstate_client_set_linger (zstate_client_t *self, int linger)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    self->linger = linger > 0? linger: 0;
    pthread_mutex_unlock (&self->lock);
}


//  --------------------------------------------------------------------------
//  Socket send high-water mark. Before connect.

int
zstate_client_set_sndhwm (zstate_client_t *self, int sndhwm)
{
    assert (self);
    if (sndhwm < 0)
        return zstate_fail (EINVAL, "sndhwm: %d is negative", sndhwm);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        self->sndhwm = sndhwm;
    pthread_mutex_unlock (&self->lock);
    return started? zstate_fail (EBUSY, "sndhwm: the client is connected already"): 0;
}


//  --------------------------------------------------------------------------
//  TCP keepalive; idle 0 switches it off. Before connect.

int
zstate_client_set_tcp_keepalive (zstate_client_t *self, int idle, int interval, int count)
{
    assert (self);
    if (idle < 0 || interval < 0 || count < 0)
        return zstate_fail (EINVAL, "tcp keepalive: negative value");
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started) {
        self->keepalive_idle = idle;
        self->keepalive_interval = interval;
        self->keepalive_count = count;
    }
    pthread_mutex_unlock (&self->lock);
    return started? zstate_fail (EBUSY, "tcp keepalive: the client is connected already"): 0;
}


//  --------------------------------------------------------------------------
//  Bind the connection to a network interface or VRF; NULL or "" for none.
//  Before connect.

int
zstate_client_set_interface (zstate_client_t *self, const char *interface)
{
    assert (self);
    if (interface && strlen (interface) >= INTERFACE_MAX)
        return zstate_fail (EINVAL, "interface: '%s' is longer than %d bytes",
                            interface, INTERFACE_MAX - 1);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        snprintf (self->interface, sizeof (self->interface), "%s", interface? interface: "");
    pthread_mutex_unlock (&self->lock);
    return started? zstate_fail (EBUSY, "interface: the client is connected already"): 0;
}


//  --------------------------------------------------------------------------
//  Reconnect interval and its maximum. Before connect.

int
zstate_client_set_reconnect (zstate_client_t *self, int ivl, int max_ivl)
{
    assert (self);
    if (ivl < 0 || max_ivl < 0)
        return zstate_fail (EINVAL, "reconnect: negative interval");
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started) {
        self->reconnect_ivl = ivl;
        self->reconnect_max_ivl = max_ivl;
    }
    pthread_mutex_unlock (&self->lock);
    return started? zstate_fail (EBUSY, "reconnect: the client is connected already"): 0;
}


//  --------------------------------------------------------------------------
//  Protocol version, 1 or 2. Before connect.

int
zstate_client_set_protocol (zstate_client_t *self, int version)
{
    assert (self);
    if (version != 1 && version != ZSTATE_SESSION_VERSION)
        return zstate_fail (EINVAL, "set_protocol: version %d is not 1 or 2", version);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        self->version = version;
    pthread_mutex_unlock (&self->lock);
    if (started)
        return zstate_fail (EBUSY, "set_protocol: already connected");
    return 0;
}


//  --------------------------------------------------------------------------
//  Acknowledgement level to ask for. Before connect.

int
zstate_client_set_ack_level (zstate_client_t *self, int level)
{
    assert (self);
    if (level != ZSTATE_ACK_DELIVERED && level != ZSTATE_ACK_PERSISTED)
        return zstate_fail (EINVAL, "set_ack_level: %d is not a level", level);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        self->ack_level = level;
    pthread_mutex_unlock (&self->lock);
    if (started)
        return zstate_fail (EBUSY, "set_ack_level: already connected");
    return 0;
}


//  --------------------------------------------------------------------------
//  Offer the RESYNC feature in HELLO, or not. Before connect.

int
zstate_client_set_resync (zstate_client_t *self, bool offer)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        self->resync_refused = !offer;
    pthread_mutex_unlock (&self->lock);
    if (started)
        return zstate_fail (EBUSY, "set_resync: already connected");
    return 0;
}


//  --------------------------------------------------------------------------
//  Heartbeat interval, msecs. Before connect.

int
zstate_client_set_heartbeat (zstate_client_t *self, int interval)
{
    assert (self);
    if (interval < ZSTATE_SESSION_HEARTBEAT_MIN || interval > ZSTATE_SESSION_HEARTBEAT_MAX)
        return zstate_fail (EINVAL, "set_heartbeat: %d msecs is outside %d .. %d",
                            interval, ZSTATE_SESSION_HEARTBEAT_MIN,
                            ZSTATE_SESSION_HEARTBEAT_MAX);
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started)
        self->heartbeat = interval;
    pthread_mutex_unlock (&self->lock);
    if (started)
        return zstate_fail (EBUSY, "set_heartbeat: already connected");
    return 0;
}


//  --------------------------------------------------------------------------
//  CURVE: our certificate and the server's public key. Before connect.

int
zstate_client_set_curve (zstate_client_t *self, const char *certificate,
                         const char *server_key)
{
    assert (self);
    char server [41];
    if (zstate_security_public_key ("set_curve", server_key, server))
        return -1;
    zcert_t *cert = zstate_security_load ("set_curve", certificate);
    if (!cert)
        return -1;
    pthread_mutex_lock (&self->lock);
    bool started = self->started;
    if (!started) {
        memcpy (self->curve_public, zcert_public_txt (cert), 41);
        memcpy (self->curve_secret, zcert_secret_txt (cert), 41);
        memcpy (self->curve_server, server, 41);
    }
    pthread_mutex_unlock (&self->lock);
    zcert_destroy (&cert);
    return started? zstate_fail (EBUSY, "set_curve: already connected"): 0;
}


//  --------------------------------------------------------------------------
//  Log activity with zsys_debug.

void
zstate_client_set_verbose (zstate_client_t *self, bool verbose)
{
    assert (self);
    zstate_actor_request (self->actor, ZSTATE_ACTOR_TIMEOUT, NULL, "si",
                          "VERBOSE", verbose? 1: 0);
}
