/*  =========================================================================
    zstate_relay - a TCP relay that injects network faults, for the fault
    harness

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_RELAY_H_INCLUDED
#define ZSTATE_RELAY_H_INCLUDED

#include <czmq.h>

//  @interface
//  The relay listens on 127.0.0.1 at a free port and forwards every
//  connection it accepts to a target on 127.0.0.1, byte for byte, in both
//  directions, from its own thread (an actor polling plain POSIX sockets).
//  Each direction of a connection buffers at most ZSTATE_RELAY_BUFFER
//  bytes: it reads only while there is room, so a slow side pushes back
//  through TCP as a real network path does. A connection that the target
//  refuses, or that either side closes, is closed on both sides.
//
//  Faults:
//      cut        every open connection is closed on both sides with a
//                 TCP reset (SO_LINGER 0); bytes in the relay's buffers
//                 are lost, as on a real reset. New connections work.
//      black hole the relay stops reading, writing and accepting, and keeps
//                 the sockets open: nothing moves and nobody is told, as
//                 when a path drops every packet. The kernel buffers fill
//                 and the senders block. heal ends it; bytes that were
//                 waiting in the relay then go on, as TCP retransmits.
//      heal       forward again.
//
//  Actor commands (zactor_sock (zstate_relay_actor (r))), each a string
//  frame, each answered with one reply "si" [command][status], status 0 or
//  an errno code (EINVAL for an unknown command):
//      CUT                     reset every open connection
//      BLACKHOLE               stop forwarding, keep the sockets
//      HEAL                    forward again
//      STATS                   -> "sib": the status, then zstate_relay_stats_t
//      $TERM                   close everything, end the actor (answered
//                              by the shim)

#define ZSTATE_RELAY_BUFFER     65536   //  bytes, per direction and connection
#define ZSTATE_RELAY_MAX        64      //  connections open at once

typedef struct _zstate_relay_t zstate_relay_t;

//  Counters, all since the relay was created
typedef struct {
    uint64_t accepted;          //  connections accepted
    uint64_t refused;           //  connections the target did not take
    uint64_t closed;            //  connections closed by a side
    uint64_t cut;               //  connections reset by a cut
    uint64_t bytes_up;          //  bytes forwarded to the target
    uint64_t bytes_down;        //  bytes forwarded from the target
    size_t open;                //  connections open now
    bool black_hole;            //  true while black-holed
} zstate_relay_stats_t;

//  Start a relay to 127.0.0.1:target_port. Returns NULL with errno when
//  it cannot listen.
zstate_relay_t *
    zstate_relay_new (int target_port);

//  Stop the relay, closing every connection; nulls the pointer.
void
    zstate_relay_destroy (zstate_relay_t **self_p);

//  Return the port the relay listens on, at 127.0.0.1.
int
    zstate_relay_port (zstate_relay_t *self);

//  Return the endpoint clients connect to, "tcp://127.0.0.1:port".
const char *
    zstate_relay_endpoint (zstate_relay_t *self);

//  Reset every open connection. Returns 0 or -1.
int
    zstate_relay_cut (zstate_relay_t *self);

//  Stop forwarding, keeping every socket open. Returns 0 or -1.
int
    zstate_relay_black_hole (zstate_relay_t *self);

//  Forward again after a black hole. Returns 0 or -1.
int
    zstate_relay_heal (zstate_relay_t *self);

//  Fill *stats with the current counters. Returns 0 or -1.
int
    zstate_relay_stats (zstate_relay_t *self, zstate_relay_stats_t *stats);

//  Return the actor, for commands.
zactor_t *
    zstate_relay_actor (zstate_relay_t *self);

//  Self test of this class.
void
    zstate_relay_test (bool verbose);
//  @end

#endif
