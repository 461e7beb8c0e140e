/*  =========================================================================
    zstate_sonic_bridge_agent - private header: what the SONiC bridge's
    wrapper (zstate_sonic_bridge.c) and its actor share

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SONIC_BRIDGE_AGENT_H_INCLUDED
#define ZSTATE_SONIC_BRIDGE_AGENT_H_INCLUDED

//  The counters as the actor last published them, for the monitors'
//  STATS, which read them on their servers' threads: the actor copies its
//  counters here under the mutex after each burst of frames and every
//  PUBLISH_IVL msecs (the handshake counters change on their own)
typedef struct {
    pthread_mutex_t mutex;
    zstate_sonic_bridge_stats_t stats;
} zstate_sonic_bridge_shared_t;

//  The bridge's actor, for zstate_actor_new; args is the wrapper's
//  zstate_sonic_bridge_shared_t, which outlives the actor. Its commands
//  are listed in zstate_sonic_bridge.h.
void
    zstate_sonic_bridge_agent (zsock_t *pipe, void *args);

//  Print stats as a ZPL section named name: the "sonic" section of the
//  monitors' STATS text (doc/zstate.1, "JSON OUTPUT", has the names).
void
    zstate_sonic_bridge_stats_fprint (const zstate_sonic_bridge_stats_t *stats,
                                      const char *name, FILE *file);

#endif
