/*  =========================================================================
    zstate_server_agent - private header: what the server dispatcher's
    wrapper (zstate_server.c) and its actor (zstate_server_agent.c) share

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_AGENT_H_INCLUDED
#define ZSTATE_SERVER_AGENT_H_INCLUDED

#include "zstate_server_sessions.h"

//  The server actor, for zactor_new; args is unused. Its commands are
//  listed in zstate_server.h.
void
    zstate_server_agent (zsock_t *pipe, void *args);

//  Print the "server" section of the monitor's STATS text (ZPL): every
//  counter of stats, the monitor's watchers, their lost copies and the
//  WATCHes refused at their key's cap, and the messages rejected by
//  reason, under their short names.
void
    zstate_server_stats_fprint (const zstate_server_stats_t *stats,
                                zstate_monitor_t *monitor, FILE *file);

//  Return the counter of stats that counts messages rejected for reason
//  (1 .. ZSTATE_SESSION_REASON_COUNT - 1): rejected [reason], or one of
//  the counters appended after it for the reasons state resync added.
uint64_t *
    zstate_server_stats_rejected (zstate_server_stats_t *stats, int reason);

//  Selftest of the ROUTER reader's bounds, without the actor's thread
void
    zstate_server_agent_test (bool verbose);

#endif
