/*  =========================================================================
    zstate_client_link - the client agent's DEALER: its options, monitor
    and link state, its replacement by a fresh one, and with version 2
    whether the server is heard

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Part of the client agent, on its thread (zstate_client_agent.h says
    what the parts share). Link state comes from zmq_socket_monitor on the
    DEALER (tcp and ipc); inproc has no monitor events and counts as
    connected once connect succeeds. With protocol version 2 a disconnect
    holds new messages back and the reconnect after it sends HELLO, since
    the server follows a session only to the routing id of its latest
    HELLO; a silent server gets a fresh DEALER (zstate_client_session.c),
    and when it stays silent past the retry timeout while operations wait
    for its acknowledgement the client is FAILED until it is heard again.
@end
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"

//  When the link comes up, retry at once instead of at the next backoff
static void
s_self_kick (self_t *self)
{
    if (self->retry_timer != -1) {
        zloop_timer_end (self->loop, self->retry_timer);
        self->retry_timer = -1;
        zstate_client_agent_pump (self);
    }
}

static int
s_self_handle_link_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    self->link_timer = -1;
    if (self->link_up)
        return 0;
    pthread_mutex_lock (&self->client->lock);
    int timeout = self->client->link_timeout;
    pthread_mutex_unlock (&self->client->lock);
    char reason [256];
    snprintf (reason, sizeof (reason), "no connection to %s for %d ms",
              self->endpoint, timeout);
    self->link_failed = true;
    zstate_client_agent_update_state (self, reason);
    zstate_client_agent_event (self, "ERROR", reason);
    return 0;
}

//  Start the link timer unless it runs or the timeout is off
void
zstate_client_agent_start_link_timer (self_t *self)
{
    pthread_mutex_lock (&self->client->lock);
    int timeout = self->client->link_timeout;
    pthread_mutex_unlock (&self->client->lock);
    if (self->link_timer == -1 && timeout > 0) {
        self->link_timer = zloop_timer (self->loop, (size_t) timeout, 1,
                                        s_self_handle_link_timer, self);
        assert (self->link_timer != -1);
    }
}


void
zstate_client_agent_link_up (self_t *self)
{
    if (self->link_up)
        return;
    self->link_up = true;
    self->link_ever_up = true;
    self->link_failed = false;
    if (self->link_timer != -1) {
        zloop_timer_end (self->loop, self->link_timer);
        self->link_timer = -1;
    }
    pthread_mutex_lock (&self->client->lock);
    self->client->stats.connects++;
    pthread_mutex_unlock (&self->client->lock);
    zstate_client_agent_update_state (self, NULL);
    //  A new connection has a new routing id: the server hears only the
    //  session's latest HELLO
    if (self->dropped) {
        self->dropped = false;
        zstate_client_session_hello (self, "reconnected");
    }
    s_self_kick (self);
}

static void
s_self_link_down (self_t *self)
{
    if (!self->link_up)
        return;
    self->link_up = false;
    //  What libzmq had queued on that connection is lost; hold new
    //  messages back until a WELCOME says where to resume
    if (self->session != SESSION_NONE) {
        self->dropped = true;
        self->session = SESSION_HELLO;
        zstate_client_session_set_ready (self, false);
    }
    pthread_mutex_lock (&self->client->lock);
    self->client->stats.disconnects++;
    pthread_mutex_unlock (&self->client->lock);
    zstate_client_agent_start_link_timer (self);
    zstate_client_agent_update_state (self, NULL);
}

//  A handshake failed: the server refused our security, or we its. Say so
//  on the 1st, 2nd, 4th... time, as an ERROR event and a log line; the
//  link stays down and libzmq tries again.
static void
s_self_handshake_failed (self_t *self, uint16_t event, uint32_t value)
{
    self->handshakes_failed++;
    if (self->handshakes_failed & (self->handshakes_failed - 1))
        return;
    char reason [256];
    snprintf (reason, sizeof (reason), "handshake with %s failed %" PRIu64 " times: %s",
              self->endpoint, self->handshakes_failed,
              event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH? "the server refused our certificate":
              value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH?
                  "the server speaks another security mechanism (CURVE on one side only?)":
              value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC?
                  "CURVE did not decrypt (the wrong server key?)": "a protocol error");
    zsys_warning ("%s %s", self->log_prefix, reason);
    zstate_client_agent_event (self, "ERROR", reason);
}

//  libzmq 4.3 monitor events: [uint16 event, uint32 value][endpoint]
static int
s_self_handle_monitor (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    self_t *self = (self_t *) arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return 0;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (frame), sizeof (event));
        memcpy (&value, zframe_data (frame) + 2, sizeof (value));
        if (self->verbose)
            zsys_debug ("%s monitor event 0x%04x value %u", self->log_prefix,
                        event, value);
        if (event == ZMQ_EVENT_CONNECTED)
            zstate_client_agent_link_up (self);
        else
        if (event == ZMQ_EVENT_DISCONNECTED)
            s_self_link_down (self);
        else
        if (event != ZMQ_EVENT_CONNECT_RETRIED)
            s_self_handshake_failed (self, event, value);
    }
    zmsg_destroy (&msg);
    return 0;
}

//  Apply the options fixed at connect. Returns 0, or -1 with errno and
//  the option's name in *name_p.
//  The DEALER's pipe holds references to outbox frames, so it must not
//  hold more than the outbox's bounds: at most half of them in messages
//  of the batch bounds (an operation over the byte bound travels alone
//  and counts as one message); the setting when it is lower. Of the
//  locked client.
static int
s_sndhwm (zstate_client_t *client)
{
    if (client->version != ZSTATE_SESSION_VERSION)
        return client->sndhwm;  //  Version 1 holds nothing it sent
    size_t by_bytes = client->queue_bytes_max / (2 * client->batch_bytes_max);
    size_t by_ops = client->queue_ops_max / (2 * client->batch_ops_max);
    size_t derived = by_bytes < by_ops? by_bytes: by_ops;
    if (derived < 1)
        derived = 1;
    if (derived > INT_MAX)
        derived = INT_MAX;
    if (client->sndhwm > 0 && (size_t) client->sndhwm < derived)
        return client->sndhwm;
    return (int) derived;
}

static int
s_self_set_options (self_t *self, const char **name_p)
{
    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    //  Keepalive details of 0 (and keepalive itself when idle is 0) are
    //  -1 for libzmq: the OS default
    bool keepalive = client->keepalive_idle > 0;
    struct {
        int option;
        int value;
        const char *name;
    } options [] = {
        { ZMQ_SNDHWM, s_sndhwm (client), "ZMQ_SNDHWM" },
        { ZMQ_LINGER, client->linger, "ZMQ_LINGER" },
        { ZMQ_RECONNECT_IVL, client->reconnect_ivl, "ZMQ_RECONNECT_IVL" },
        { ZMQ_RECONNECT_IVL_MAX, client->reconnect_max_ivl, "ZMQ_RECONNECT_IVL_MAX" },
        { ZMQ_TCP_KEEPALIVE, keepalive? 1: -1, "ZMQ_TCP_KEEPALIVE" },
        { ZMQ_TCP_KEEPALIVE_IDLE, keepalive? client->keepalive_idle: -1,
          "ZMQ_TCP_KEEPALIVE_IDLE" },
        { ZMQ_TCP_KEEPALIVE_INTVL, keepalive && client->keepalive_interval > 0?
          client->keepalive_interval: -1, "ZMQ_TCP_KEEPALIVE_INTVL" },
        { ZMQ_TCP_KEEPALIVE_CNT, keepalive && client->keepalive_count > 0?
          client->keepalive_count: -1, "ZMQ_TCP_KEEPALIVE_CNT" },
        //  ZMTP heartbeats close a connection whose peer stopped answering,
        //  so libzmq reconnects; the TTL travels in deciseconds
        { ZMQ_HEARTBEAT_IVL, client->heartbeat, "ZMQ_HEARTBEAT_IVL" },
        { ZMQ_HEARTBEAT_TIMEOUT, 3 * client->heartbeat, "ZMQ_HEARTBEAT_TIMEOUT" },
        { ZMQ_HEARTBEAT_TTL, 3 * client->heartbeat < 100? 100:
          3 * client->heartbeat > 6553500? 6553500: 3 * client->heartbeat,
          "ZMQ_HEARTBEAT_TTL" }
    };
    char interface [INTERFACE_MAX];
    memcpy (interface, client->interface, sizeof (interface));
    char curve [3][41];
    memcpy (curve [0], client->curve_server, 41);
    memcpy (curve [1], client->curve_public, 41);
    memcpy (curve [2], client->curve_secret, 41);
    pthread_mutex_unlock (&client->lock);

    int rc = 0;
    pthread_mutex_lock (&client->socket_lock);
    void *handle = zsock_resolve (client->dealer);
    for (size_t index = 0; index < sizeof (options) / sizeof (options [0]); index++)
        if (zmq_setsockopt (handle, options [index].option, &options [index].value,
                            sizeof (int))) {
            *name_p = options [index].name;
            rc = -1;
            break;
        }
    if (rc == 0 && *interface
    &&  zmq_setsockopt (handle, ZMQ_BINDTODEVICE, interface, strlen (interface))) {
        *name_p = "ZMQ_BINDTODEVICE";
        rc = -1;
    }
    if (rc == 0 && *curve [0]
    &&  (zmq_setsockopt (handle, ZMQ_CURVE_SERVERKEY, curve [0], 40)
    ||   zmq_setsockopt (handle, ZMQ_CURVE_PUBLICKEY, curve [1], 40)
    ||   zmq_setsockopt (handle, ZMQ_CURVE_SECRETKEY, curve [2], 40))) {
        *name_p = "ZMQ_CURVE_SERVERKEY";
        rc = -1;
    }
    pthread_mutex_unlock (&client->socket_lock);
    return rc;
}

//  --------------------------------------------------------------------------
//  The DEALER: set up, connected and polled; replaced when the server is
//  silent

//  Set up the DEALER for endpoint: options, monitor, connect, and with
//  version 2 a poller on its fd for what the server sends. Returns 0, or
//  -1 with errno and a reason in reason.
int
zstate_client_agent_open (self_t *self, const char *endpoint, char *reason, size_t reason_size)
{
    zstate_client_t *client = self->client;
    const char *option = NULL;
    if (s_self_set_options (self, &option)) {
        int error = zmq_errno ();
        snprintf (reason, reason_size, "cannot set %s: %s", option, zmq_strerror (error));
        errno = error;
        return -1;
    }
    //  The monitor must run before connect, or we could miss CONNECTED.
    //  inproc has no monitor events: it is up once connect succeeds.
    //  A monitor endpoint is used once: a stopped monitor's socket is
    //  closed asynchronously and may still hold its name
    if (strncmp (endpoint, "inproc://", 9)) {
        zstr_free (&self->monitor_endpoint);
        self->monitor_endpoint = zsys_sprintf ("inproc://zstate-client-monitor-%s-%u",
                                               client->session_text, ++self->monitors);
        assert (self->monitor_endpoint);
        pthread_mutex_lock (&client->socket_lock);
        int rc = zmq_socket_monitor (zsock_resolve (client->dealer), self->monitor_endpoint,
                                     ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
                                     | ZMQ_EVENT_CONNECT_RETRIED
                                     | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                     | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                     | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
        int error = zmq_errno ();
        pthread_mutex_unlock (&client->socket_lock);
        if (rc) {
            snprintf (reason, reason_size, "cannot monitor the socket: %s",
                      zmq_strerror (error));
            errno = error;
            return -1;
        }
        self->monitor = zsock_new (ZMQ_PAIR);
        assert (self->monitor);
        rc = zsock_connect (self->monitor, "%s", self->monitor_endpoint);
        assert (rc == 0);
    }
    pthread_mutex_lock (&client->socket_lock);
    int rc = zsock_connect (client->dealer, "%s", endpoint);
    int error = zmq_errno ();
    if (rc && self->monitor)
        zmq_socket_monitor (zsock_resolve (client->dealer), NULL, 0);
    int fd = zsock_fd (client->dealer);
    pthread_mutex_unlock (&client->socket_lock);
    if (rc) {
        snprintf (reason, reason_size, "cannot connect to %s: %s", endpoint,
                  zmq_strerror (error));
        zsock_destroy (&self->monitor);
        errno = error;
        return -1;
    }
    if (self->monitor) {
        rc = zloop_reader (self->loop, self->monitor, s_self_handle_monitor, self);
        assert (rc == 0);
        zloop_reader_set_tolerant (self->loop, self->monitor);
    }
    if (self->session != SESSION_NONE) {
        //  ZMQ_FD signals edges, not levels: whoever uses the socket may
        //  eat one, so the wake handler and the heartbeat drain as well
        zmq_pollitem_t item = { NULL, fd, ZMQ_POLLIN, 0 };
        rc = zloop_poller (self->loop, &item, zstate_client_session_handle_dealer, self);
        assert (rc == 0);
        zloop_poller_set_tolerant (self->loop, &item);
        self->dealer_fd = fd;
    }
    return 0;
}

//  Close the DEALER at once, dropping what libzmq still queued on it (the
//  outbox holds all that counts), and put a fresh one in its place
void
zstate_client_agent_replace_dealer (self_t *self)
{
    zstate_client_t *client = self->client;
    if (self->dealer_fd != -1) {
        zmq_pollitem_t item = { NULL, self->dealer_fd, ZMQ_POLLIN, 0 };
        zloop_poller_end (self->loop, &item);
        self->dealer_fd = -1;
    }
    if (self->monitor)
        zloop_reader_end (self->loop, self->monitor);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    pthread_mutex_lock (&client->socket_lock);
    if (self->monitor)
        zmq_socket_monitor (zsock_resolve (client->dealer), NULL, 0);
    zsock_set_linger (client->dealer, 0);
    zsock_destroy (&client->dealer);
    client->dealer = dealer;
    pthread_mutex_unlock (&client->socket_lock);
    zsock_destroy (&self->monitor);
}

//  --------------------------------------------------------------------------
//  Version 2: the server is dead when silent, not when slow
//  (zstate_client_liveness.h)

void
zstate_client_agent_heard (self_t *self)
{
    int64_t now = zclock_mono ();
    self->last_heard = now;
    zstate_client_liveness_heard (self->liveness, now);
    if (self->silent_failed) {
        self->silent_failed = false;
        zstate_client_agent_update_state (self, NULL);
    }
}

void
zstate_client_agent_check_silence (self_t *self, int64_t now)
{
    zstate_client_t *client = self->client;
    pthread_mutex_lock (&client->lock);
    int timeout = client->retry_timeout;
    bool holding = client->held_ops > 0 || client->queue_head || self->outbox_head;
    pthread_mutex_unlock (&client->lock);
    zstate_client_liveness_set_timeout (self->liveness, timeout, self->heartbeat);
    zstate_client_liveness_holding (self->liveness, holding, now);
    bool dead = zstate_client_liveness_dead (self->liveness, now);
    if (dead == self->silent_failed)
        return;
    self->silent_failed = dead;
    if (dead) {
        char reason [256];
        snprintf (reason, sizeof (reason), "server silent for %d ms with operations "
                  "not acknowledged",
                  (int) zstate_client_liveness_silence (self->liveness, now));
        zstate_client_agent_update_state (self, reason);
        zstate_client_agent_event (self, "ERROR", reason);
    }
    else
        zstate_client_agent_update_state (self, NULL);
}
