/*  =========================================================================
    zstate_server_state - private header: the server actor's state, which
    its data path (zstate_server_agent.c) and its command handlers
    (zstate_server_commands.c) share on the actor's thread

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_STATE_H_INCLUDED
#define ZSTATE_SERVER_STATE_H_INCLUDED

#include "zstate_server_sessions.h"
#include "zstate_server_routes.h"
#include "zstate_server_confirm.h"
#include "zstate_server_replay.h"
#include "zstate_security.h"

//  The actor's state
typedef struct {
    zsock_t *pipe;              //  command pipe from the wrapper
    zloop_t *loop;              //  our reactor
    zsock_t *router;            //  clients send to this
    void *router_handle;        //  zsock_resolve (router), for the hot path
    bool reading;               //  the ROUTER reader is registered
    bool discarding;            //  frames of a dropped message remain
    zstate_msg_t *decoder;      //  validates every payload, reused
    zstate_server_routes_t *routes;     //  (db, table) -> consumer
    zstate_server_sessions_t *sessions;     //  sessions of both versions
    zstate_server_confirm_t *confirm;   //  writers confirm what Redis holds
    zstate_server_replay_t *replay;     //  sessions behind a full writer
    zstate_server_route_t *stalled;     //  route we wait for, or NULL
    zmq_msg_t parked;           //  the message waiting for it
    bool parked_forwarded;      //  its copy went to the writer already
    bool parked_v2;             //  it is the next of a version 2 session:
    byte parked_session [ZSTATE_MSG_SESSION_SIZE];  //  this one
    uint64_t parked_sequence;   //  ... with this sequence
    zmq_pollitem_t waiting;     //  what we poll for the stalled route
    bool has_waiting;           //  ...while this is true
    zstate_server_stats_t stats;    //  counters for STATS
    zstate_monitor_t *monitor;  //  monitoring endpoint, once bound
    size_t watches_per_key;     //  its WATCH slots per client key, 0: its default
    zstate_security_t *security;    //  both endpoints' security
    bool paused;                //  PAUSE: read nothing more from clients
    bool verbose;               //  log activity
} zstate_server_state_t;

//  Flow control (zstate_server_agent.c): read the ROUTER again unless
//  paused or stalled / stop reading it
void
    zstate_server_reading_start (zstate_server_state_t *self);
void
    zstate_server_reading_stop (zstate_server_state_t *self);

//  Stop polling what the stalled route waited for
void
    zstate_server_wait_end (zstate_server_state_t *self);

//  The parked message has gone, or was dropped: read again
void
    zstate_server_stall_end (zstate_server_state_t *self);

//  Try the parked message again; wait on when it cannot go yet
void
    zstate_server_stall_retry (zstate_server_state_t *self);

//  Apply one of the actor's SET commands (listed in zstate_server.h) with
//  the argument in request (zstate_server_settings.c), and reply on the
//  pipe (EINVAL for a bad argument). Returns 0, or -1 for an unknown SET
//  command, which it does not answer.
int
    zstate_server_settings_apply (zstate_server_state_t *self, const char *command,
                                  zmsg_t *request);

//  The pipe reader (zstate_server_commands.c): one command, one reply
int
    zstate_server_commands_handle (zloop_t *loop, zsock_t *pipe, void *arg);

#endif
