/*  =========================================================================
    zstate_writer_agent - private header: what the DB writer's wrapper
    (zstate_writer.c) and its actor (zstate_writer_agent.c) share

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_AGENT_H_INCLUDED
#define ZSTATE_WRITER_AGENT_H_INCLUDED

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

#endif
