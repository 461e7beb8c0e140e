/*  =========================================================================
    zstate_server_security - the server's security settings: CURVE, the
    address lists, insecure endpoints and the connection cap

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Wrapper methods of zstate_server (zstate_server.h documents them): each
    sends one command to the server actor, where zstate_security.c does
    the work, and waits for the reply.
@end
*/

#include "zstate_classes.h"

//  One request/reply; the actor serialises callers on several threads,
//  and the server's owner does not destroy it while it calls its methods
static int
s_request (zstate_server_t *server, const char *picture, ...)
{
    va_list args;
    va_start (args, picture);
    int rc = zstate_actor_vrequest (zstate_server_link_actor (server), ZSTATE_ACTOR_TIMEOUT,
                                    NULL, picture, args);
    va_end (args);
    return rc;
}

int
zstate_server_set_curve (zstate_server_t *self, const char *certificate, const char *clients)
{
    assert (self);
    if (!certificate || !clients)
        return zstate_fail (EINVAL, "CURVE needs a certificate and a client directory");
    return s_request (self, "sss", "CURVE", certificate, clients);
}

int
zstate_server_allow (zstate_server_t *self, const char *address)
{
    assert (self);
    return s_request (self, "ss", "ALLOW", address? address: "");
}

int
zstate_server_deny (zstate_server_t *self, const char *address)
{
    assert (self);
    return s_request (self, "ss", "DENY", address? address: "");
}

int
zstate_server_set_insecure (zstate_server_t *self, bool insecure)
{
    assert (self);
    return s_request (self, "si", "SET INSECURE", insecure? 1: 0);
}

int
zstate_server_set_connections_max (zstate_server_t *self, int max)
{
    assert (self);
    return s_request (self, "si", "SET CONNECTIONS", max);
}

int
zstate_server_set_peer_timeout (zstate_server_t *self, int msecs)
{
    assert (self);
    return s_request (self, "si", "SET PEER TIMEOUT", msecs);
}
