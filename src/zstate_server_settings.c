/*  =========================================================================
    zstate_server_settings - the server actor's SET commands

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_agent.h"
#include "zstate_server_sessions.h"
#include "zstate_server_session.h"
#include "zstate_server_state.h"

//  Pop a count for a SET command; returns it, or replies EINVAL and
//  returns -1 when it is not a number from min to max
static long
s_request_count (zsock_t *pipe, zmsg_t *request, const char *command, long min, long max)
{
    char *value = zmsg_popstr (request);
    char *end = NULL;
    long count = value? strtol (value, &end, 10): -1;
    if (!value || end == value || *end || count < min || count > max) {
        char reason [256];
        snprintf (reason, sizeof (reason), "%s needs a count from %ld to %ld",
                  command, min, max);
        zstate_reply (pipe, command, EINVAL, reason, false);
        count = -1;
    }
    free (value);
    return count;
}

//  SET RCVHWM, SET HEARTBEAT, SET ACK DELAY, SET SESSION IDLE, SET SESSIONS,
//  SET SESSIONS PER KEY and SET WATCHES PER KEY
int
zstate_server_settings_apply (zstate_server_state_t *self, const char *command,
                              zmsg_t *request)
{
    zsock_t *pipe = self->pipe;
    zstate_server_sessions_t *sessions = self->sessions;
    long count;
    if (streq (command, "SET RCVHWM")) {
        if ((count = s_request_count (pipe, request, command, 0, INT_MAX)) == -1)
            return 0;
        zsock_set_rcvhwm (self->router, (int) count);
    }
    else
    if (streq (command, "SET HEARTBEAT")) {
        //  0, or what the protocol allows
        if ((count = s_request_count (pipe, request, command, 0,
                                      ZSTATE_SESSION_HEARTBEAT_MAX)) == -1)
            return 0;
        if (count && count < ZSTATE_SESSION_HEARTBEAT_MIN) {
            zstate_reply (pipe, command, EINVAL,
                          "SET HEARTBEAT needs 0 or 10 to 3600000 msecs", false);
            return 0;
        }
        zstate_server_sessions_set_heartbeat (sessions, (uint32_t) count);
    }
    else
    if (streq (command, "SET ACK DELAY")) {
        if ((count = s_request_count (pipe, request, command, 0,
                                      ZSTATE_SESSION_HEARTBEAT_MAX)) == -1)
            return 0;
        zstate_server_sessions_set_ack_delay (sessions, (uint32_t) count);
    }
    else
    if (streq (command, "SET SESSION IDLE")) {
        if ((count = s_request_count (pipe, request, command, 0, INT_MAX)) == -1)
            return 0;
        zstate_server_sessions_set_idle (sessions, (uint32_t) count);
    }
    else
    if (streq (command, "SET SESSIONS")) {
        if ((count = s_request_count (pipe, request, command, 1, INT_MAX)) == -1)
            return 0;
        zstate_server_sessions_set_max (sessions, (size_t) count);
    }
    else
    if (streq (command, "SET SESSIONS PER KEY")) {
        if ((count = s_request_count (pipe, request, command, 1, INT_MAX)) == -1)
            return 0;
        zstate_server_security_set_per_key (sessions, (size_t) count);
    }
    else
    if (streq (command, "SET WATCHES PER KEY")) {
        if ((count = s_request_count (pipe, request, command, 1, INT_MAX)) == -1)
            return 0;
        //  Kept for a monitor bound later
        self->watches_per_key = (size_t) count;
        if (self->monitor)
            zstate_monitor_set_per_key (self->monitor, self->watches_per_key);
    }
    else
        return -1;
    zstate_reply (pipe, command, 0, "", false);
    return 0;
}
