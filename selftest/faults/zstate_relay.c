/*  =========================================================================
    zstate_relay - a TCP relay that injects network faults, for the fault
    harness

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The relay is an actor whose loop is poll () over its command pipe, the
    listening socket and both sockets of every connection. Side 0 of a
    connection is the peer that connected to the relay, side 1 the target;
    buffer d holds bytes read from side d that side 1 - d has not taken.
@end
*/

#include "zstate_relay.h"
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

//  The poll timeout bounds how long a command waits when no socket moves
#define RELAY_TICK      10      //  msecs

typedef struct {
    int fd [2];                     //  0: accepted peer, 1: target
    byte *buffer [2];               //  bytes read from side d
    size_t start [2];               //  first byte not written yet
    size_t size [2];                //  bytes held
    bool connecting;                //  connect to the target in progress
    bool dead;                      //  to be removed after this pass
    int slot [2];                   //  index in the pollfd array, or -1
} relay_link_t;

struct _zstate_relay_t {
    zactor_t *actor;
    int port;
    char endpoint [64];
};

typedef struct {
    zsock_t *pipe;
    int listener;
    int target_port;
    relay_link_t links [ZSTATE_RELAY_MAX];
    size_t count;
    zstate_relay_stats_t stats;
    bool terminated;
} relay_t;

static int
s_nonblocking (int fd)
{
    int flags = fcntl (fd, F_GETFL, 0);
    return flags == -1? -1: fcntl (fd, F_SETFL, flags | O_NONBLOCK);
}

//  Close a socket; with reset true, with SO_LINGER 0, so the peer gets RST
static void
s_close (int fd, bool reset)
{
    if (fd == -1)
        return;
    if (reset) {
        struct linger linger = { 1, 0 };
        setsockopt (fd, SOL_SOCKET, SO_LINGER, &linger, sizeof (linger));
    }
    close (fd);
}

static void
s_link_close (relay_t *self, relay_link_t *link, bool reset)
{
    s_close (link->fd [0], reset);
    s_close (link->fd [1], reset);
    link->fd [0] = link->fd [1] = -1;
    free (link->buffer [0]);
    free (link->buffer [1]);
    link->buffer [0] = link->buffer [1] = NULL;
    link->dead = true;
    if (reset)
        self->stats.cut++;
}

static void
s_accept (relay_t *self)
{
    int fd = accept (self->listener, NULL, NULL);
    if (fd == -1)
        return;
    int target = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t) self->target_port);
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = -1;
    if (target != -1 && s_nonblocking (target) == 0 && s_nonblocking (fd) == 0)
        rc = connect (target, (struct sockaddr *) &address, sizeof (address));
    if (rc == -1 && errno != EINPROGRESS) {
        self->stats.refused++;
        s_close (fd, false);
        s_close (target, false);
        return;
    }
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
    setsockopt (target, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
    relay_link_t *link = &self->links [self->count++];
    memset (link, 0, sizeof (*link));
    link->fd [0] = fd;
    link->fd [1] = target;
    link->connecting = rc == -1;
    for (int side = 0; side < 2; side++) {
        link->buffer [side] = (byte *) malloc (ZSTATE_RELAY_BUFFER);
        assert (link->buffer [side]);
    }
    self->stats.accepted++;
}

//  Finish a connect in progress; false when the target refused
static bool
s_link_connected (relay_link_t *link)
{
    int error = 0;
    socklen_t size = sizeof (error);
    if (getsockopt (link->fd [1], SOL_SOCKET, SO_ERROR, &error, &size) == -1 || error)
        return false;
    link->connecting = false;
    return true;
}

//  Move bytes from side d into its buffer, and from the other side's
//  buffer to side d. Returns false when the link must close.
static bool
s_link_pump (relay_t *self, relay_link_t *link, int side, short revents)
{
    int other = 1 - side;
    if (revents & POLLOUT && link->size [other]) {
        ssize_t sent = send (link->fd [side], link->buffer [other] + link->start [other],
                             link->size [other], MSG_NOSIGNAL);
        if (sent == -1 && errno != EAGAIN && errno != EINTR)
            return false;
        if (sent > 0) {
            link->start [other] += (size_t) sent;
            link->size [other] -= (size_t) sent;
            if (other == 0)
                self->stats.bytes_up += (uint64_t) sent;
            else
                self->stats.bytes_down += (uint64_t) sent;
            if (link->size [other] == 0)
                link->start [other] = 0;
        }
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        //  Room is only at the end; move what is left to the front first
        if (link->start [side]) {
            memmove (link->buffer [side], link->buffer [side] + link->start [side],
                     link->size [side]);
            link->start [side] = 0;
        }
        size_t room = ZSTATE_RELAY_BUFFER - link->size [side];
        if (room == 0)
            return true;
        ssize_t got = recv (link->fd [side], link->buffer [side] + link->size [side], room, 0);
        if (got == 0 || (got == -1 && errno != EAGAIN && errno != EINTR))
            return false;
        if (got > 0)
            link->size [side] += (size_t) got;
    }
    return true;
}

//  Remove the links closed in this pass, keeping the others in order
static void
s_compact (relay_t *self)
{
    size_t kept = 0;
    for (size_t index = 0; index < self->count; index++)
        if (!self->links [index].dead)
            self->links [kept++] = self->links [index];
    self->count = kept;
    self->stats.open = kept;
}

static void
s_command (relay_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command) {
        self->terminated = true;
        return;
    }
    int status = 0;
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "CUT")) {
        for (size_t index = 0; index < self->count; index++)
            if (!self->links [index].dead)
                s_link_close (self, &self->links [index], true);
        s_compact (self);
    }
    else
    if (streq (command, "BLACKHOLE"))
        self->stats.black_hole = true;
    else
    if (streq (command, "HEAL"))
        self->stats.black_hole = false;
    else
    if (!streq (command, "STATS"))
        status = EINVAL;
    if (streq (command, "STATS")) {
        self->stats.open = self->count;
        zsock_send (self->pipe, "sib", command, 0, &self->stats, sizeof (self->stats));
    }
    else
    if (!self->terminated)
        zsock_send (self->pipe, "si", command, status);
    zstr_free (&command);
}

static void
s_relay_pass (relay_t *self)
{
    struct pollfd items [2 + 2 * ZSTATE_RELAY_MAX];
    size_t zmq_fd_size = sizeof (int);
    int pipe_fd;
    zmq_getsockopt (zsock_resolve (self->pipe), ZMQ_FD, &pipe_fd, &zmq_fd_size);
    items [0] = (struct pollfd) { pipe_fd, POLLIN, 0 };
    nfds_t used = 1;
    bool open = !self->stats.black_hole;
    if (open && self->count < ZSTATE_RELAY_MAX)
        items [used++] = (struct pollfd) { self->listener, POLLIN, 0 };
    for (size_t index = 0; index < self->count; index++) {
        relay_link_t *link = &self->links [index];
        for (int side = 0; side < 2; side++) {
            short events = 0;
            if (open && link->connecting)
                events = side == 1? POLLOUT: 0;
            else
            if (open) {
                if (link->size [side] < ZSTATE_RELAY_BUFFER)
                    events |= POLLIN;
                if (link->size [1 - side])
                    events |= POLLOUT;
            }
            link->slot [side] = events? (int) used: -1;
            if (events)
                items [used++] = (struct pollfd) { link->fd [side], events, 0 };
        }
    }
    if (poll (items, used, RELAY_TICK) == -1 && errno != EINTR)
        zsys_error ("zstate_relay: poll: %s", strerror (errno));
    //  The pipe's fd only signals a change: ask the socket itself
    while (!self->terminated && (zsock_events (self->pipe) & ZMQ_POLLIN))
        s_command (self);
    s_compact (self);
    if (self->terminated || !open || self->stats.black_hole)
        return;
    for (size_t index = 0; index < self->count; index++) {
        relay_link_t *link = &self->links [index];
        for (int side = 0; side < 2 && !link->dead; side++) {
            if (link->slot [side] == -1)
                continue;
            short revents = items [link->slot [side]].revents;
            if (!revents)
                continue;
            if (link->connecting) {
                if (s_link_connected (link))
                    continue;
                self->stats.refused++;
                s_link_close (self, link, false);
            }
            else
            if (!s_link_pump (self, link, side, revents)) {
                self->stats.closed++;
                s_link_close (self, link, false);
            }
        }
    }
    s_compact (self);
    if (used > 1 && items [1].fd == self->listener && items [1].revents & POLLIN)
        s_accept (self);
}

static void
s_relay_actor (zsock_t *pipe, void *args)
{
    relay_t *self = (relay_t *) zmalloc (sizeof (relay_t));
    assert (self);
    self->pipe = pipe;
    self->listener = ((int *) args) [0];
    self->target_port = ((int *) args) [1];
    zsock_signal (pipe, 0);
    while (!self->terminated)
        s_relay_pass (self);
    for (size_t index = 0; index < self->count; index++)
        s_link_close (self, &self->links [index], false);
    close (self->listener);
    free (self);
}

zstate_relay_t *
zstate_relay_new (int target_port)
{
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    if (listener == -1)
        return NULL;
    int one = 1;
    setsockopt (listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof (one));
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof (address);
    if (bind (listener, (struct sockaddr *) &address, sizeof (address)) == -1
    ||  listen (listener, 16) == -1
    ||  getsockname (listener, (struct sockaddr *) &address, &size) == -1
    ||  s_nonblocking (listener) == -1) {
        int error = errno;
        close (listener);
        errno = error;
        return NULL;
    }
    zstate_relay_t *self = (zstate_relay_t *) zmalloc (sizeof (zstate_relay_t));
    assert (self);
    self->port = ntohs (address.sin_port);
    snprintf (self->endpoint, sizeof (self->endpoint), "tcp://127.0.0.1:%d", self->port);
    //  zactor_new waits for the actor's signal, so args may live on the stack
    int args [2] = { listener, target_port };
    self->actor = zactor_new (s_relay_actor, args);
    assert (self->actor);
    return self;
}

void
zstate_relay_destroy (zstate_relay_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_relay_t *self = *self_p;
        zactor_destroy (&self->actor);
        free (self);
        *self_p = NULL;
    }
}

int
zstate_relay_port (zstate_relay_t *self)
{
    assert (self);
    return self->port;
}

const char *
zstate_relay_endpoint (zstate_relay_t *self)
{
    assert (self);
    return self->endpoint;
}

static int
s_request (zstate_relay_t *self, const char *command)
{
    if (zstr_send (self->actor, command))
        return -1;
    char *reply = NULL;
    int status = -1;
    if (zsock_recv (self->actor, "si", &reply, &status))
        return -1;
    zstr_free (&reply);
    if (status) {
        errno = status;
        return -1;
    }
    return 0;
}

int
zstate_relay_cut (zstate_relay_t *self)
{
    assert (self);
    return s_request (self, "CUT");
}

int
zstate_relay_black_hole (zstate_relay_t *self)
{
    assert (self);
    return s_request (self, "BLACKHOLE");
}

int
zstate_relay_heal (zstate_relay_t *self)
{
    assert (self);
    return s_request (self, "HEAL");
}

int
zstate_relay_stats (zstate_relay_t *self, zstate_relay_stats_t *stats)
{
    assert (self);
    assert (stats);
    if (zstr_send (self->actor, "STATS"))
        return -1;
    char *reply = NULL;
    int status = -1;
    void *data = NULL;
    size_t size = 0;
    int rc = zsock_recv (self->actor, "sib", &reply, &status, &data, &size);
    zstr_free (&reply);
    if (rc == 0 && status == 0 && size == sizeof (*stats))
        memcpy (stats, data, size);
    else
        rc = -1;
    free (data);
    return rc;
}

zactor_t *
zstate_relay_actor (zstate_relay_t *self)
{
    assert (self);
    return self->actor;
}

//  --------------------------------------------------------------------------
//  Self test

//  Wait up to 10 s for fd to be readable; true when it is
static bool
s_readable (int fd, int timeout)
{
    struct pollfd item = { fd, POLLIN, 0 };
    return poll (&item, 1, timeout) == 1;
}

//  Read exactly size bytes within 10 s; returns the bytes read, or -errno
static ssize_t
s_read_all (int fd, char *buffer, size_t size)
{
    size_t got = 0;
    for (int attempt = 0; attempt < 1000 && got < size; attempt++) {
        if (!s_readable (fd, 10000))
            break;
        ssize_t rc = recv (fd, buffer + got, size - got, 0);
        if (rc <= 0)
            return rc == 0? 0: -errno;
        got += (size_t) rc;
    }
    return (ssize_t) got;
}

static int
s_connect_to (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert (fd != -1);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t) port);
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = connect (fd, (struct sockaddr *) &address, sizeof (address));
    assert (rc == 0);
    return fd;
}

static int
s_listen_any (int *port_p)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert (fd != -1);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof (address);
    int rc = bind (fd, (struct sockaddr *) &address, sizeof (address));
    assert (rc == 0);
    rc = listen (fd, 16);
    assert (rc == 0);
    rc = getsockname (fd, (struct sockaddr *) &address, &size);
    assert (rc == 0);
    *port_p = ntohs (address.sin_port);
    return fd;
}

//  Bytes go both ways, more than one buffer's worth; returns the peer's
//  socket and stores the target's side of it in *served_p
static int
s_test_bytes (zstate_relay_t *relay, int target, int *served_p)
{
    int peer = s_connect_to (zstate_relay_port (relay));
    assert (s_readable (target, 10000));
    int served = accept (target, NULL, NULL);
    assert (served != -1);
    size_t size = 4 * ZSTATE_RELAY_BUFFER + 17;
    char *data = (char *) malloc (size);
    char *back = (char *) malloc (size);
    assert (data && back);
    for (size_t index = 0; index < size; index++)
        data [index] = (char) (index * 7);
    //  The relay buffers a bounded amount, so write from the peer while
    //  reading at the target in the same thread, both nonblocking
    s_nonblocking (peer);
    size_t written = 0, read = 0;
    for (int pass = 0; pass < 100000 && read < size; pass++) {
        if (written < size) {
            ssize_t rc = send (peer, data + written, size - written, MSG_NOSIGNAL);
            if (rc > 0)
                written += (size_t) rc;
        }
        if (s_readable (served, 10)) {
            ssize_t rc = recv (served, back + read, size - read, 0);
            assert (rc > 0);
            read += (size_t) rc;
        }
    }
    assert (read == size);
    assert (memcmp (data, back, size) == 0);
    assert (send (served, "pong", 4, MSG_NOSIGNAL) == 4);
    char reply [8] = { 0 };
    assert (s_read_all (peer, reply, 4) == 4);
    assert (memcmp (reply, "pong", 4) == 0);
    zstate_relay_stats_t stats;
    assert (zstate_relay_stats (relay, &stats) == 0);
    assert (stats.accepted == 1 && stats.open == 1);
    assert (stats.bytes_up == size && stats.bytes_down == 4);
    free (data);
    free (back);
    *served_p = served;
    return peer;
}

//  A black hole holds both directions and new connections, until healed
static void
s_test_black_hole (zstate_relay_t *relay, int target, int peer, int served)
{
    char reply [8] = { 0 };
    zstate_relay_stats_t stats;
    //  Black hole: nothing moves either way, the sockets stay open
    assert (zstate_relay_black_hole (relay) == 0);
    assert (send (peer, "lost?", 5, MSG_NOSIGNAL) == 5);
    assert (send (served, "back?", 5, MSG_NOSIGNAL) == 5);
    assert (!s_readable (served, 300));
    assert (!s_readable (peer, 300));
    assert (zstate_relay_stats (relay, &stats) == 0);
    assert (stats.black_hole && stats.open == 1 && stats.bytes_up == 4 * ZSTATE_RELAY_BUFFER + 17);
    //  A black hole accepts nobody: the kernel completes the handshake,
    //  but the relay does not take the connection until it heals
    int late = s_connect_to (zstate_relay_port (relay));
    assert (!s_readable (target, 300));
    assert (zstate_relay_stats (relay, &stats) == 0);
    assert (stats.accepted == 1);
    //  Heal: what was held goes on, in order, and the waiting peer is taken
    assert (zstate_relay_heal (relay) == 0);
    assert (s_read_all (served, reply, 5) == 5);
    assert (memcmp (reply, "lost?", 5) == 0);
    assert (s_read_all (peer, reply, 5) == 5);
    assert (memcmp (reply, "back?", 5) == 0);
    assert (s_readable (target, 10000));
    int late_served = accept (target, NULL, NULL);
    assert (late_served != -1);
    //  A side that closes closes the other side too
    close (late);
    assert (s_read_all (late_served, reply, 1) == 0);
    close (late_served);
    assert (zstate_relay_stats (relay, &stats) == 0);
    assert (stats.accepted == 2 && stats.closed == 1 && stats.open == 1);
}

static void
s_test_zmq (void)
{
    zstate_relay_stats_t stats;
    //  A ZeroMQ link through the relay comes back after a cut
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    int zmq_port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert (zmq_port > 0);
    zstate_relay_t *zrelay = zstate_relay_new (zmq_port);
    assert (zrelay);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_reconnect_ivl (dealer, 50);
    assert (zsock_connect (dealer, "%s", zstate_relay_endpoint (zrelay)) == 0);
    zsock_set_rcvtimeo (router, 10000);
    assert (zstr_send (dealer, "one") == 0);
    zmsg_t *msg = zmsg_recv (router);
    assert (msg && zmsg_size (msg) == 2);
    zmsg_destroy (&msg);
    assert (zstate_relay_cut (zrelay) == 0);
    //  The message sent right after the cut may die with the old link;
    //  one of those sent after it arrives on the new one
    bool arrived = false;
    zsock_set_rcvtimeo (router, 200);
    for (int attempt = 0; attempt < 100 && !arrived; attempt++) {
        zstr_send (dealer, "two");
        msg = zmsg_recv (router);
        arrived = msg != NULL;
        zmsg_destroy (&msg);
    }
    assert (arrived);
    assert (zstate_relay_stats (zrelay, &stats) == 0);
    assert (stats.cut == 1 && stats.accepted >= 2);
    zsock_destroy (&dealer);
    zstate_relay_destroy (&zrelay);
    zsock_destroy (&router);

}

void
zstate_relay_test (bool verbose)
{
    printf (" * zstate_relay: ");
    //  A plain TCP target
    int target_port;
    int target = s_listen_any (&target_port);
    zstate_relay_t *relay = zstate_relay_new (target_port);
    assert (relay);
    assert (zstate_relay_port (relay) > 0);
    char expected [64];
    snprintf (expected, sizeof (expected), "tcp://127.0.0.1:%d", zstate_relay_port (relay));
    assert (streq (zstate_relay_endpoint (relay), expected));
    int served;
    int peer = s_test_bytes (relay, target, &served);
    s_test_black_hole (relay, target, peer, served);
    char reply [8] = { 0 };
    zstate_relay_stats_t stats;
    //  Cut: both sides see a reset, not an orderly close
    assert (zstate_relay_cut (relay) == 0);
    assert (s_read_all (peer, reply, 1) == -ECONNRESET);
    assert (s_read_all (served, reply, 1) == -ECONNRESET);
    close (peer);
    close (served);
    assert (zstate_relay_stats (relay, &stats) == 0);
    assert (stats.cut == 1 && stats.open == 0);

    //  An unknown command is refused
    zstr_send (zstate_relay_actor (relay), "FROB");
    char *command = NULL;
    int status = 0;
    assert (zsock_recv (zstate_relay_actor (relay), "si", &command, &status) == 0);
    assert (streq (command, "FROB") && status == EINVAL);
    zstr_free (&command);
    s_test_zmq ();

    //  A refused target closes the accepted side
    close (target);
    peer = s_connect_to (zstate_relay_port (relay));
    assert (s_read_all (peer, reply, 1) <= 0);
    close (peer);
    assert (zstate_relay_stats (relay, &stats) == 0);
    assert (stats.refused == 1 && stats.open == 0);
    if (verbose)
        zsys_info ("zstate_relay test: %" PRIu64 " bytes up, %" PRIu64 " down",
                   stats.bytes_up, stats.bytes_down);

    zstate_relay_destroy (&relay);
    assert (relay == NULL);
    zstate_relay_destroy (&relay);
    printf ("OK\n");
}
