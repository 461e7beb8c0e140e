/*  =========================================================================
    zstate_server_confirm - private header: the server's confirmation
    endpoint, where DB writers say what Redis holds (CONFIRMED), so that
    the sessions' persisted sequences move

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_CONFIRM_H_INCLUDED
#define ZSTATE_SERVER_CONFIRM_H_INCLUDED

//  The server actor owns one and it runs on the actor's zloop; it is
//  tested through zstate_server_persist_suite.
//
//  A writer connects a PUSH socket to zstate_server_confirm_endpoint and
//  sends, after each transaction Redis confirmed:
//      frame 0: "CONFIRMED"
//      then per table, 3 frames: [db name][table name]
//          [n x 24 octets: 16-octet session id, 8-octet sequence, network
//           byte order] = every message of that session for that table up
//           to that sequence is in Redis
//  and, when it finds that Redis lost its data (restarted empty):
//      frame 0: "LOST"
//      then one frame per db name whose data Redis lost
//  LOST sends RESYNC of every table of those dbs that forwards to a
//  writer, to every session granted the feature, so that the producers'
//  mirrors write the tables again; each db counts in redis_lost, once
//  however often one message names it.
//  A table with no consumer, a session the server does not know, a frame
//  of the wrong size, a bad db name, or a message that is neither, is
//  counted in confirms_ignored and skipped; the rest of the message
//  still counts.
typedef struct _zstate_server_confirm_t zstate_server_confirm_t;

//  Create the endpoint (a PULL bound to a unique inproc endpoint) and read
//  it on loop; routes and sessions are the server's, stats its counters.
//  Returns NULL with errno and zstate_reason () when no socket can be made.
zstate_server_confirm_t *
    zstate_server_confirm_new (zloop_t *loop, zstate_server_routes_t *routes,
                               zstate_server_sessions_t *sessions,
                               zstate_server_stats_t *stats);

//  Destroy; nulls the pointer.
void
    zstate_server_confirm_destroy (zstate_server_confirm_t **self_p);

//  Return the inproc endpoint writers send CONFIRMED to.
const char *
    zstate_server_confirm_endpoint (zstate_server_confirm_t *self);

#endif
