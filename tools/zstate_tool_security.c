/*  =========================================================================
    zstate_tool_security - the security settings of serve, send, watch and
    stats: serve's options and config keys, and applying them; CURVE for
    the clients of send, watch and stats

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"

struct _zstate_tool_security_t {
    char *curve;                //  the server's secret certificate, or NULL
    char *clients;              //  the allowed clients' certificates
    zlistx_t *allow;            //  addresses, char *
    zlistx_t *deny;             //  addresses, char *
    bool insecure;              //  NULL on any endpoint
    long connections;           //  the cap, -1 the server's default
    long rcvhwm;                //  per connection, -1 the server's default
    long peer_timeout;          //  msecs, -1 the server's default
    long watches_per_key;       //  monitor WATCHes, -1 the server's default
};

static void
s_string_destroy (void **item_p)
{
    zstr_free ((char **) item_p);
}

zstate_tool_security_t *
zstate_tool_security_new (void)
{
    zstate_tool_security_t *self = (zstate_tool_security_t *) zmalloc (sizeof (*self));
    assert (self);
    self->allow = zlistx_new ();
    zlistx_set_destructor (self->allow, s_string_destroy);
    self->deny = zlistx_new ();
    zlistx_set_destructor (self->deny, s_string_destroy);
    self->connections = -1;
    self->rcvhwm = -1;
    self->peer_timeout = -1;
    self->watches_per_key = -1;
    return self;
}

void
zstate_tool_security_destroy (zstate_tool_security_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_tool_security_t *self = *self_p;
        zstr_free (&self->curve);
        zstr_free (&self->clients);
        zlistx_destroy (&self->allow);
        zlistx_destroy (&self->deny);
        free (self);
        *self_p = NULL;
    }
}

static void
s_replace (char **field_p, const char *value)
{
    free (*field_p);
    *field_p = strdup (value);
    assert (*field_p);
}

int
zstate_tool_security_set (zstate_tool_security_t *self, const char *command,
                          const char *key, const char *value)
{
    if (!value || !*value) {
        fprintf (stderr, "zstate %s: %s needs a value\n", command, key);
        return 2;
    }
    long number;
    if (streq (key, "curve"))
        s_replace (&self->curve, value);
    else
    if (streq (key, "clients"))
        s_replace (&self->clients, value);
    else
    if (streq (key, "allow") || streq (key, "deny"))
        zlistx_add_end (streq (key, "allow")? self->allow: self->deny, strdup (value));
    else
    if (streq (key, "insecure")) {
        if (zstate_tool_number (command, "insecure", value, 0, 1, &number))
            return 2;
        self->insecure = number == 1;
    }
    else
    if (streq (key, "connections")) {
        if (zstate_tool_number (command, "connections", value, 0, INT_MAX, &number))
            return 2;
        self->connections = number;
    }
    else
    if (streq (key, "rcvhwm")) {
        if (zstate_tool_number (command, "rcvhwm", value, 1, 1000000, &number))
            return 2;
        self->rcvhwm = number;
    }
    else
    if (streq (key, "peer-timeout")) {
        if (zstate_tool_number (command, "peer-timeout", value, 0, 3600000, &number))
            return 2;
        self->peer_timeout = number;
    }
    else
    if (streq (key, "watches-per-key")) {
        if (zstate_tool_number (command, "watches-per-key", value, 1, INT_MAX, &number))
            return 2;
        self->watches_per_key = number;
    }
    else
        return 1;               //  Not ours
    return 0;
}

int
zstate_tool_security_server (zstate_tool_security_t *self, zstate_server_t *server)
{
    if (self->curve || self->clients) {
        if (!self->curve || !self->clients) {
            fprintf (stderr, "zstate serve: CURVE needs both curve and clients\n");
            return 1;
        }
        if (zstate_server_set_curve (server, self->curve, self->clients)) {
            fprintf (stderr, "zstate serve: %s\n", zstate_reason ());
            return 1;
        }
    }
    for (int list = 0; list < 2; list++) {
        zlistx_t *addresses = list? self->deny: self->allow;
        for (const char *address = (const char *) zlistx_first (addresses); address;
             address = (const char *) zlistx_next (addresses))
            if ((list? zstate_server_deny (server, address):
                       zstate_server_allow (server, address))) {
                fprintf (stderr, "zstate serve: %s\n", zstate_reason ());
                return 1;
            }
    }
    zstate_server_set_insecure (server, self->insecure);
    if (self->connections != -1)
        zstate_server_set_connections_max (server, (int) self->connections);
    if (self->rcvhwm != -1)
        zstate_server_set_rcvhwm (server, (int) self->rcvhwm);
    if ((self->peer_timeout != -1
         && zstate_server_set_peer_timeout (server, (int) self->peer_timeout))
    ||  (self->watches_per_key != -1
         && zstate_server_set_watches_per_key (server, (int) self->watches_per_key))) {
        fprintf (stderr, "zstate serve: %s\n", zstate_reason ());
        return 1;
    }
    return 0;
}

int
zstate_tool_security_sonic (zstate_tool_security_t *self, zstate_sonic_bridge_t *bridge)
{
    //  SONiC's producers speak NULL only: no CURVE; the address lists are
    //  the process's, applied with the server's
    zstate_sonic_bridge_set_insecure (bridge, self->insecure);
    if (self->connections != -1)
        zstate_sonic_bridge_set_connections_max (bridge, (int) self->connections);
    return 0;
}

//  Both halves given, or neither; returns 0 or 2 after saying why
static int
s_client_check (const char *command, const char *curve, const char *server_key)
{
    if (!curve != !server_key) {
        fprintf (stderr, "zstate %s: CURVE needs both --curve and --server-key\n", command);
        return 2;
    }
    return 0;
}

int
zstate_tool_curve_client (const char *command, zstate_client_t *client,
                          const char *curve, const char *server_key)
{
    int rc = s_client_check (command, curve, server_key);
    if (rc == 0 && curve && zstate_client_set_curve (client, curve, server_key)) {
        fprintf (stderr, "zstate %s: %s\n", command, zstate_reason ());
        rc = 1;
    }
    return rc;
}

int
zstate_tool_curve_socket (const char *command, zsock_t *sock,
                          const char *curve, const char *server_key)
{
    int rc = s_client_check (command, curve, server_key);
    if (rc == 0 && curve && zstate_curve_apply (sock, curve, server_key)) {
        fprintf (stderr, "zstate %s: %s\n", command, zstate_reason ());
        rc = 1;
    }
    return rc;
}
