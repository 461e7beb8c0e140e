/*  =========================================================================
    zstate_serve_sonic - serve's endpoint for SONiC producers

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"

int
zstate_serve_sonic_bind (zlistx_t *endpoints, bool merge, zstate_tool_security_t *security,
                         zstate_server_t *server, zstate_sonic_bridge_t **bridge_p)
{
    assert (bridge_p && !*bridge_p);
    if (zlistx_size (endpoints) == 0)
        return 0;
    zstate_sonic_bridge_t *bridge = *bridge_p = zstate_sonic_bridge_new (server);
    if (!bridge) {
        fprintf (stderr, "zstate serve: cannot start the SONiC endpoint: %s\n",
                 zstate_reason ());
        return 1;
    }
    zstate_tool_security_sonic (security, bridge);
    if (zstate_sonic_bridge_set_merge (bridge, merge)) {
        fprintf (stderr, "zstate serve: SONiC endpoint: %s\n", zstate_reason ());
        return 1;
    }
    const char *endpoint = (const char *) zlistx_first (endpoints);
    for (; endpoint; endpoint = (const char *) zlistx_next (endpoints)) {
        int port = zstate_sonic_bridge_bind (bridge, endpoint);
        if (port == -1) {
            fprintf (stderr, "zstate serve: cannot bind SONiC endpoint %s: %s\n",
                     endpoint, zstate_reason ());
            return 1;
        }
        if (port)
            zsys_info ("zstate serve: SONiC frames at %s port %d", endpoint, port);
        else
            zsys_info ("zstate serve: SONiC frames at %s", endpoint);
    }
    return 0;
}

int
zstate_serve_sonic_end (zstate_sonic_bridge_t **bridge_p)
{
    assert (bridge_p);
    zstate_sonic_bridge_stats_t stats;
    if (*bridge_p && zstate_sonic_bridge_stats (*bridge_p, &stats) == 0) {
        char rejected [512] = "";
        size_t used = 0;
        for (int reason = 1; reason < ZSTATE_SONIC_REASONS; reason++)
            if (stats.rejected [reason] && used < sizeof (rejected))
                used += snprintf (rejected + used, sizeof (rejected) - used, " %s=%" PRIu64,
                                  zstate_sonic_msg_reason_name (reason),
                                  stats.rejected [reason]);
        zsys_info ("zstate serve: SONiC: %" PRIu64 " frames, %" PRIu64 " operations, %"
                   PRIu64 " rejected%s", stats.frames, stats.ops, stats.malformed, rejected);
    }
    //  The bridge logs what it lost, if anything
    return zstate_sonic_bridge_close (bridge_p)? 1: 0;
}
