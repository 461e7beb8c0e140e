/*  =========================================================================
    zstate_send_sonic - send --sonic: SONiC frames to a SONiC consumer

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"

//  Flushes wait in slices this long, so that a signal ends the wait soon
#define FLUSH_SLICE     100

zstate_sonic_client_t *
zstate_send_sonic_open (const char *endpoint, int timeout)
{
    zstate_sonic_client_t *client = zstate_sonic_client_new ();
    if (!client) {
        fprintf (stderr, "zstate send: %s\n", zstate_reason ());
        return NULL;
    }
    //  Nothing going out for the whole timeout is a failure
    zstate_sonic_client_set_retry (client, 1, 100, timeout);
    zstate_sonic_client_set_linger (client, timeout);
    if (zstate_sonic_client_connect (client, endpoint)) {
        fprintf (stderr, "zstate send: %s\n", zstate_reason ());
        zstate_sonic_client_destroy (&client);
    }
    return client;
}

int
zstate_send_sonic_close (zstate_sonic_client_t **client_p, const char *endpoint,
                         int timeout, int status)
{
    zstate_sonic_client_t *client = *client_p;
    int64_t deadline = zclock_mono () + timeout;
    bool sent = false;
    while (status == 0 && !sent && !zsys_interrupted) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        sent = zstate_sonic_client_flush (client, left < FLUSH_SLICE? (int) left:
                                                  FLUSH_SLICE) == 0;
    }
    if (status == 0 && !sent && !zsys_interrupted) {
        fprintf (stderr, "zstate send: no SONiC consumer took the frames at %s within "
                 "%d msecs\n", endpoint, timeout);
        status = 1;
    }
    zstate_sonic_client_stats_t stats;
    zstate_sonic_client_stats (client, &stats);
    if (stats.hsets)
        fprintf (stderr, "zstate send: %" PRIu64 " HSET sent as SET (the SONiC wire has "
                 "no HSET)\n", stats.hsets);
    if (zsys_interrupted) {
        fprintf (stderr, "zstate send: interrupted; what was not sent is dropped\n");
        status = 1;
    }
    zstate_sonic_client_close (client_p, status? 0: timeout);
    return status;
}
