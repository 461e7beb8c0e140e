/*  =========================================================================
    zstate_sonic_bridge_agent - the SONiC bridge's actor: frames from the
    PULL in, zstate messages to the server out

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The bridge decodes each SONiC frame and re-encodes its operations as
    one zstate message of protocol version 1, which it sends over an inproc
    DEALER to the server's ROUTER. The server then validates, routes,
    queues and persists it as any other message, so the bridge needs no
    hook into the server's routing.
    Frames for the same (db, table) that are already waiting in the PULL
    go together into one message, as the native client packs its queue: a
    burst of single-operation frames costs the server one message, not one
    each. Nothing waits to be packed: a burst ends when the PULL is empty.
@discuss
    The cost is one extra copy of the operations and one inproc hop per
    message (zstate bench, rows "sonic"). A decoded frame always fits one
    zstate message: per operation the zstate encoding is at least 7 bytes
    smaller than SONiC's, and its header at most 18 bytes larger, and an
    operation that alone would not fit is rejected as TOO_LARGE already.
@end
*/

#include "zstate_classes.h"
#include "zstate_security.h"
#include "zstate_sonic_bridge_agent.h"

//  How many frames one wake-up reads before the loop looks at the pipe
#define BURST           256
//  What one message packs at most, unless one frame alone is larger (the
//  native client's defaults)
#define PACK_OPS        1024
#define PACK_BYTES      (256 * 1024)

//  ZMQ_MAXMSGSIZE of the PULL: frames a little over ZSTATE_MESSAGE_MAX
//  are read and counted, larger ones never allocated
#define FRAME_READ_MAX  (ZSTATE_MESSAGE_MAX + 64 * 1024)

//  How often the counters are published for the monitors' STATS, msecs
#define PUBLISH_IVL     250

//  The actor
typedef struct {
    zsock_t *pipe;              //  command pipe
    zloop_t *loop;
    zsock_t *pull;              //  where SONiC producers PUSH; NULL before BIND
    zsock_t *dealer;            //  to the server
    zmq_pollitem_t writable;    //  the dealer, polled for room while stalled
    zframe_t *pending;          //  the message the server had no room for
    size_t pending_ops;         //  ... its operations
    zstate_sonic_msg_t *decoder;
    zstate_batch_t *pack;       //  operations of frames for one (db, table)
    char db [ZSTATE_NAME_MAX + 1];      //  ... and its names
    char table [ZSTATE_NAME_MAX + 1];
    byte session [ZSTATE_MSG_SESSION_SIZE];
    uint64_t sequence;          //  of the last message sent
    int rcvhwm;
    bool verbose;
    bool reading;               //  the loop reads the PULL
    bool draining;              //  DRAIN: stop reading once the PULL is empty
    zstate_security_t *security;    //  the PULL's, as the server's endpoints
    zstate_server_stats_t handshakes;   //  ... where it counts
    zstate_sonic_bridge_shared_t *shared;   //  the counters, published
    zstate_sonic_bridge_stats_t stats;
} agent_t;

static int
    s_pull_readable (zloop_t *loop, zsock_t *pull, void *arg);
static int
    s_dealer_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg);


static agent_t *
s_agent_new (zsock_t *pipe, zstate_sonic_bridge_shared_t *shared)
{
    agent_t *self = (agent_t *) zmalloc (sizeof (agent_t));
    assert (self);
    self->pipe = pipe;
    self->shared = shared;
    self->loop = zloop_new ();
    assert (self->loop);
    zloop_set_nonstop (self->loop, true);
    self->dealer = zsock_new (ZMQ_DEALER);
    assert (self->dealer);
    //  Frames wait in the PULL, not here, while the server is full
    zsock_set_sndhwm (self->dealer, 1000);
    self->writable.socket = zsock_resolve (self->dealer);
    self->writable.events = ZMQ_POLLOUT;
    self->decoder = zstate_sonic_msg_new ();
    self->pack = zstate_batch_new ();
    zuuid_t *uuid = zuuid_new ();
    memcpy (self->session, zuuid_data (uuid), ZSTATE_MSG_SESSION_SIZE);
    zuuid_destroy (&uuid);
    self->rcvhwm = 10000;
    self->security = zstate_security_new (self->loop, &self->handshakes);
    return self;
}

static void
    s_count_lost (agent_t *self);

static void
s_agent_destroy (agent_t **self_p)
{
    agent_t *self = *self_p;
    s_count_lost (self);
    zframe_destroy (&self->pending);
    zstate_sonic_msg_destroy (&self->decoder);
    zstate_batch_destroy (&self->pack);
    //  Before the PULL it watches
    zstate_security_destroy (&self->security);
    zsock_destroy (&self->pull);
    zsock_destroy (&self->dealer);
    zloop_destroy (&self->loop);
    free (self);
    *self_p = NULL;
}


//  --------------------------------------------------------------------------
//  Counters

//  Copy the counters where the monitors read them
static void
s_publish (agent_t *self)
{
    zstate_server_stats_t *handshakes = &self->handshakes;
    self->stats.connections = handshakes->connections;
    self->stats.accepted = handshakes->accepted;
    self->stats.shed = handshakes->shed;
    self->stats.handshakes = handshakes->handshakes;
    self->stats.auth_denied = handshakes->auth_denied;
    self->stats.auth_mechanism = handshakes->auth_mechanism;
    self->stats.auth_crypto = handshakes->auth_crypto;
    self->stats.auth_protocol = handshakes->auth_protocol;
    self->stats.auth_failed = handshakes->auth_failed;
    self->stats.held = zstate_batch_size (self->pack) + self->pending_ops;
    self->stats.drained = self->draining && !self->reading && self->stats.held == 0;
    pthread_mutex_lock (&self->shared->mutex);
    self->shared->stats = self->stats;
    pthread_mutex_unlock (&self->shared->mutex);
}

static int
s_publish_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_publish ((agent_t *) arg);
    return 0;
}

//  At the end: what was read and never reached the server, and what
//  waits in the PULL still, is lost (SONiC resends nothing); count it,
//  say it, and publish it for zstate_sonic_bridge_close
static void
s_count_lost (agent_t *self)
{
    uint64_t ops = zstate_batch_size (self->pack) + self->pending_ops;
    uint64_t unread = 0;
    void *handle = self->pull? zsock_resolve (self->pull): NULL;
    zmq_msg_t part;
    zmq_msg_init (&part);
    while (handle && zmq_msg_recv (&part, handle, ZMQ_DONTWAIT) != -1) {
        unread++;
        if (!zmq_msg_more (&part)
        &&  zstate_sonic_msg_decode (self->decoder, (const byte *) zmq_msg_data (&part),
                                     zmq_msg_size (&part)) == 0)
            ops += zstate_batch_size (zstate_sonic_msg_batch (self->decoder));
    }
    zmq_msg_close (&part);
    self->stats.lost += ops;
    if (ops || unread)
        zsys_warning ("zstate_sonic_bridge: %" PRIu64 " operations from SONiC producers"
                      " never reached the server (%" PRIu64 " frames unread)", ops, unread);
    self->reading = false;
    zstate_batch_reset (self->pack);
    self->pending_ops = 0;
    s_publish (self);
}


//  --------------------------------------------------------------------------
//  Frames in, messages out.

static void
s_reading (agent_t *self, bool reading)
{
    if (reading && !self->reading) {
        int rc = zloop_reader (self->loop, self->pull, s_pull_readable, self);
        assert (rc == 0);
        zloop_reader_set_tolerant (self->loop, self->pull);
    }
    else
    if (!reading && self->reading)
        zloop_reader_end (self->loop, self->pull);
    self->reading = reading;
}

//  Hand a message of ops operations to the server; when it has no room,
//  keep it, stop reading SONiC frames and wait until the dealer can send
static bool
s_send (agent_t *self, zframe_t **frame_p, size_t ops)
{
    if (zframe_send (frame_p, self->dealer, ZFRAME_DONTWAIT) == 0) {
        self->stats.messages++;
        return true;
    }
    self->pending = *frame_p;
    self->pending_ops = ops;
    *frame_p = NULL;
    self->stats.stalls++;
    if (self->pull)
        s_reading (self, false);
    int rc = zloop_poller (self->loop, &self->writable, s_dealer_writable, self);
    assert (rc == 0);
    return false;
}

static void
s_reject (agent_t *self, int reason)
{
    self->stats.malformed++;
    self->stats.rejected [reason]++;
    if (self->verbose)
        zsys_debug ("zstate_sonic_bridge: frame rejected: %s",
                    zstate_sonic_msg_reason_str (reason));
}

//  Send what the pack holds as one message; false when the server is full
static bool
s_pack_send (agent_t *self)
{
    size_t ops = zstate_batch_size (self->pack);
    if (ops == 0)
        return true;
    zframe_t *native = zstate_msg_encode (self->session, ++self->sequence,
                                          self->db, self->table, self->pack);
    assert (native);            //  see the header comment
    zstate_batch_reset (self->pack);
    return s_send (self, &native, ops);
}

//  Decode one frame and pack its operations, sending the pack first when
//  the frame is for another table or would make it too large; false when
//  the server is full (the frame is packed all the same)
static bool
s_handle_frame (agent_t *self, const byte *data, size_t size)
{
    int reason = zstate_sonic_msg_decode (self->decoder, data, size);
    if (reason) {
        s_reject (self, reason);
        return true;
    }
    zstate_batch_t *batch = zstate_sonic_msg_batch (self->decoder);
    self->stats.frames++;
    self->stats.bytes += size;
    self->stats.ops += zstate_batch_size (batch);
    for (size_t index = 0; index < zstate_batch_size (batch); index++)
        if (zstate_batch_op (batch, index) == ZSTATE_OP_DEL)
            self->stats.dels++;
    bool go_on = true;
    if (zstate_batch_size (self->pack)
    &&  (!streq (self->db, zstate_sonic_msg_db (self->decoder))
      || !streq (self->table, zstate_sonic_msg_table (self->decoder))
      || zstate_batch_size (self->pack) + zstate_batch_size (batch) > PACK_OPS
      || zstate_batch_bytes (self->pack) + zstate_batch_bytes (batch) > PACK_BYTES))
        go_on = s_pack_send (self);
    if (zstate_batch_size (self->pack) == 0) {
        strcpy (self->db, zstate_sonic_msg_db (self->decoder));
        strcpy (self->table, zstate_sonic_msg_table (self->decoder));
    }
    int rc = zstate_batch_load (self->pack, zstate_batch_data (batch),
                                zstate_batch_bytes (batch), zstate_batch_size (batch), NULL);
    assert (rc == ZSTATE_WIRE_OK);
    return go_on;
}

//  Read what is there, up to BURST messages; each is decoded where libzmq
//  received it, without a copy. Once draining, an empty PULL is read no more.
static int
s_pull_readable (zloop_t *loop, zsock_t *pull, void *arg)
{
    (void) loop;
    agent_t *self = (agent_t *) arg;
    void *handle = zsock_resolve (pull);
    bool go_on = true;
    bool empty = false;
    for (int count = 0; go_on && count < BURST; count++) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&part);
            empty = true;
            break;
        }
        if (zmq_msg_more (&part)) {
            //  SONiC sends one frame a message; the rest of this one goes
            while (zmq_msg_more (&part)) {
                zmq_msg_close (&part);
                zmq_msg_init (&part);
                if (zmq_msg_recv (&part, handle, 0) == -1)
                    break;
            }
            s_reject (self, ZSTATE_SONIC_FRAMES);
        }
        else
            go_on = s_handle_frame (self, (const byte *) zmq_msg_data (&part),
                                    zmq_msg_size (&part));
        zmq_msg_close (&part);
    }
    //  The PULL is empty, or the burst is over: send what was packed
    if (go_on)
        go_on = s_pack_send (self);
    if (go_on && empty && self->draining)
        s_reading (self, false);
    s_publish (self);
    return 0;
}

//  The server has room again: send what waited, then read frames again
static int
s_dealer_writable (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) item;
    agent_t *self = (agent_t *) arg;
    if (zframe_send (&self->pending, self->dealer, ZFRAME_DONTWAIT))
        return 0;
    self->stats.messages++;
    self->pending_ops = 0;
    zloop_poller_end (loop, &self->writable);
    //  The frame that found the server full is packed still
    if (s_pack_send (self) && self->pull) {
        s_reading (self, true);
        //  Draining, the PULL may be empty: no event would come
        if (self->draining)
            s_pull_readable (loop, self->pull, self);
    }
    s_publish (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Commands.

//  The PULL, with SONiC's options, made on the first BIND
static void
s_pull_open (agent_t *self)
{
    self->pull = zsock_new (ZMQ_PULL);
    assert (self->pull);
    zsock_set_rcvhwm (self->pull, self->rcvhwm);
    zsock_set_maxmsgsize (self->pull, FRAME_READ_MAX);
    zsock_set_tcp_keepalive (self->pull, 1);
    zsock_set_tcp_keepalive_idle (self->pull, 5);
    zsock_set_tcp_keepalive_intvl (self->pull, 1);
    zsock_set_tcp_keepalive_cnt (self->pull, 5);
    zsock_set_linger (self->pull, 0);
    //  While stalled the reader is off; it comes back when the server has room
    if (!self->pending && !self->draining)
        s_reading (self, true);
}

static void
s_handle_bind (agent_t *self, zmsg_t *request)
{
    char *endpoint = zmsg_popstr (request);
    int port = -1;
    if (self->draining)
        zstate_fail (EBUSY, "BIND: the bridge is draining");
    else {
        if (!self->pull)
            s_pull_open (self);
        //  The posture of the server's endpoints: NULL only on loopback
        //  unless insecure, a ZAP domain, CURVE when on; handshakes counted
        port = zstate_security_bind (self->security, self->pull, endpoint);
    }
    zstate_reply (self->pipe, "BIND", port == -1? errno: 0,
                  port == -1? zstate_reason (): "", true);
    zstr_sendf (self->pipe, "%d", port == -1? 0: port);
    free (endpoint);
}

//  DRAIN: read the PULL until it is empty, hand everything to the server
//  as it takes it, then read no more; stats.drained says when it is done
static void
s_handle_drain (agent_t *self)
{
    self->draining = true;
    zstate_reply (self->pipe, "DRAIN", 0, "", false);
    if (self->pull && self->reading)
        s_pull_readable (self->loop, self->pull, self);
    s_publish (self);
}

static void
s_handle_connect (agent_t *self, zmsg_t *request)
{
    char *endpoint = zmsg_popstr (request);
    int rc = endpoint? zmq_connect (zsock_resolve (self->dealer), endpoint): -1;
    if (rc)
        zstate_fail (endpoint? zmq_errno (): EINVAL, "cannot connect to %s: %s",
                     endpoint? endpoint: "(none)", zmq_strerror (zmq_errno ()));
    zstate_reply (self->pipe, "CONNECT", rc? errno: 0, rc? zstate_reason (): "", false);
    free (endpoint);
}

static void
s_handle_set (agent_t *self, const char *command, zmsg_t *request)
{
    char *text = zmsg_popstr (request);
    int value = text? atoi (text): -1;
    free (text);
    int status = 0;
    const char *reason = "";
    if (streq (command, "SET MERGE"))
        zstate_sonic_msg_set_merge (self->decoder, value != 0);
    else
    if (streq (command, "SET RCVHWM")) {
        if (value < 0)
            status = EINVAL, reason = "receive high-water mark must be 0 or more";
        else
        if (self->pull)
            status = EBUSY, reason = "the PULL is bound already";
        else
            self->rcvhwm = value;
    }
    else {
        self->verbose = value != 0;
    }
    zstate_reply (self->pipe, command, status, reason, false);
}

//  One command; -1 when the bridge has no such command
static int
s_handle_command (void *arg, const char *command, zmsg_t *request)
{
    agent_t *self = (agent_t *) arg;
    if (streq (command, "BIND"))
        s_handle_bind (self, request);
    else
    if (streq (command, "CONNECT"))
        s_handle_connect (self, request);
    else
    if (streq (command, "DRAIN"))
        s_handle_drain (self);
    else
    if (streq (command, "STATS")) {
        s_publish (self);
        zstate_reply (self->pipe, "STATS", 0, "", true);
        zsock_send (self->pipe, "b", &self->stats, sizeof (self->stats));
    }
    else
    if (zstate_security_command (command))
        zstate_security_handle (self->security, self->pipe, command, request);
    else
    if (streq (command, "SET RCVHWM") || streq (command, "SET MERGE")
    ||  streq (command, "VERBOSE"))
        s_handle_set (self, command, request);
    else
        return -1;
    return 0;
}

static int
s_pipe_readable (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    return zstate_actor_command (pipe, "zstate_sonic_bridge:", false, s_handle_command, arg);
}

void
zstate_sonic_bridge_agent (zsock_t *pipe, void *args)
{
    agent_t *self = s_agent_new (pipe, (zstate_sonic_bridge_shared_t *) args);
    int rc = zloop_reader (self->loop, pipe, s_pipe_readable, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, pipe);
    rc = zloop_timer (self->loop, PUBLISH_IVL, 0, s_publish_timer, self);
    assert (rc != -1);
    zsock_signal (pipe, 0);
    zstate_actor_loop (self->loop);
    s_agent_destroy (&self);
}


//  --------------------------------------------------------------------------
//  The "sonic" section of the monitors' STATS text

void
zstate_sonic_bridge_stats_fprint (const zstate_sonic_bridge_stats_t *stats,
                                  const char *name, FILE *file)
{
    fprintf (file, "%s\n", name);
    fprintf (file, "    frames = %" PRIu64 "\n", stats->frames);
    fprintf (file, "    ops = %" PRIu64 "\n", stats->ops);
    fprintf (file, "    dels = %" PRIu64 "\n", stats->dels);
    fprintf (file, "    bytes = %" PRIu64 "\n", stats->bytes);
    fprintf (file, "    messages = %" PRIu64 "\n", stats->messages);
    fprintf (file, "    malformed = %" PRIu64 "\n", stats->malformed);
    fprintf (file, "    stalls = %" PRIu64 "\n", stats->stalls);
    fprintf (file, "    held = %" PRIu64 "\n", stats->held);
    fprintf (file, "    drained = %" PRIu64 "\n", stats->drained);
    //  The handshake lines, as the server prints its own
    zstate_server_stats_t handshakes = {
        .connections = (size_t) stats->connections, .accepted = stats->accepted,
        .shed = stats->shed, .handshakes = stats->handshakes,
        .auth_denied = stats->auth_denied, .auth_mechanism = stats->auth_mechanism,
        .auth_crypto = stats->auth_crypto, .auth_protocol = stats->auth_protocol,
        .auth_failed = stats->auth_failed
    };
    zstate_security_stats_fprint (&handshakes, file);
    fprintf (file, "    rejected\n");
    for (int reason = 1; reason < ZSTATE_SONIC_REASONS; reason++)
        fprintf (file, "        %s = %" PRIu64 "\n", zstate_sonic_msg_reason_name (reason),
                 stats->rejected [reason]);
}
