/*  =========================================================================
    zstate_writer_agent - private header: what the DB writer's wrapper
    (zstate_writer.c) and its actor (zstate_writer_agent.c, with its
    commands in zstate_writer_commands.c) share

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_AGENT_H_INCLUDED
#define ZSTATE_WRITER_AGENT_H_INCLUDED

#include "zstate_writer_config.h"
#include "zstate_writer_chain.h"
#include "zstate_writer_intake.h"
#include "zstate_writer_window.h"
#include "zstate_writer_confirmed.h"
#include "zstate_writer_instance.h"

//  The counters as of the last snapshot, readable without a round trip:
//  a server's monitor must not wait while the writer is busy with Redis
typedef struct {
    pthread_mutex_t mutex;
    zstate_writer_stats_t stats;
} zstate_writer_snapshot_t;

//  The actor's arguments, from the wrapper; read before the actor signals
typedef struct {
    zsock_t *events;            //  Actor end of the event pipe
    const char *endpoint;       //  PULL endpoint to bind
    zstate_writer_snapshot_t *snapshot;     //  Where the actor publishes
                                            //  its counters
} zstate_writer_agent_args_t;

//  The writer actor, for zactor_new; args is a zstate_writer_agent_args_t.
//  Its commands are listed in zstate_writer.h.
void
    zstate_writer_agent (zsock_t *pipe, void *args);

//  The actor's state, which its commands share; only its thread uses it

//  msecs between the watchdog's checks
#define ZSTATE_WRITER_WATCHDOG_INTERVAL     100

//  A FLUSH whose reply is owed
typedef struct {
    bool owed;                  //  A FLUSH reply is owed
    bool draining;              //  ...and the PULL socket held more than
                                //  the bound let us read when it came
    uint64_t mark;              //  ... once every op up to here confirmed
    int timer;                  //  Its deadline, -1 when not armed
} zstate_writer_flush_t;

typedef struct {
    zsock_t *pipe;              //  Actor command pipe
    zstate_writer_snapshot_t *snapshot;     //  Shared with the wrapper
    zsock_t *events;            //  Event pipe, actor end
    zsock_t *data;              //  PULL socket for wire messages
    zloop_t *loop;              //  Our reactor
    zstate_writer_intake_t *intake;     //  Wire messages into the chain
    zstate_redis_t *redis;      //  Connection, NULL before CONNECT
    zstate_writer_chain_t *chain;       //  Operations not confirmed by Redis
    zstate_writer_confirmed_t *confirmed;   //  CONFIRMED messages
    zstate_writer_instance_t *instance;     //  Did Redis keep our data?
    zstate_writer_views_t *views;   //  Windows open
    zstate_writer_sweep_t *sweeping;    //  The sweep running (the chain's),
                                        //  NULL when none
    zhashx_t *pruned;           //  Tables whose watermarks were pruned,
                                //  and when, on this connection
    int state;                  //  ZSTATE_WRITER_*
    bool verbose;               //  Log activity
    bool reading;               //  Data reader registered
    bool polling;               //  Redis socket poller registered
    zmq_pollitem_t pollitem;    //  The Redis socket, for the poller
    zstate_writer_config_t *config;     //  Settings
    zstate_writer_window_t *window;     //  Batches in flight
    zstate_writer_flush_t flush;    //  A FLUSH waiting
    int batch_timer;            //  Timer ids, -1 when not armed
    int reconnect_timer;
    int watchdog_timer;
    int backoff;                //  Next reconnect delay, msecs
    int64_t last_progress;      //  Last reply, or first send after idle
    int patience;               //  Command timeouts the watchdog allows:
                                //  doubled by each timeout, 1 once a
                                //  batch is confirmed
    int64_t last_check;         //  When the instance key was last read
    bool probing;               //  Its GET's reply is the next one owed
    bool recheck;               //  The probe saw the token gone: check
                                //  once no reply is owed
    bool ever_connected;        //  A connect succeeded once
    bool terminated;            //  $TERM received
    int64_t stall_logged;       //  When a full backlog was last logged
    zstate_writer_stats_t stats;    //  Counters
} zstate_writer_agent_t;

//  From zstate_writer_agent.c, for the commands
const char *
    zstate_writer_agent_name (zstate_writer_agent_t *self);
size_t
    zstate_writer_agent_depth (zstate_writer_agent_t *self);
void
    zstate_writer_agent_check_bound (zstate_writer_agent_t *self);
int
    zstate_writer_agent_receive (zstate_writer_agent_t *self);
void
    zstate_writer_agent_pump (zstate_writer_agent_t *self);
void
    zstate_writer_agent_connected (zstate_writer_agent_t *self);
void
    zstate_writer_agent_lost (zstate_writer_agent_t *self, const char *why);
void
    zstate_writer_agent_stats (zstate_writer_agent_t *self, zstate_writer_stats_t *stats);
int
    zstate_writer_agent_handle_watchdog (zloop_t *loop, int timer_id, void *arg);

//  From zstate_writer_commands.c, for the actor: the pipe's reader, and
//  the check that replies to a FLUSH once it is done
int
    zstate_writer_commands_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg);
void
    zstate_writer_commands_check_flush (zstate_writer_agent_t *self);

#endif
