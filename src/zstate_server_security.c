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
    the work, and waits for the reply. And, on the server's thread, the
    binding of version 2 sessions to the CURVE key that opened them.
@discuss
    A session points to its owner, which counts the sessions it owns, in
    a hash by key: a HELLO checks the cap in constant time whatever the
    table holds. The table's one removal function (expiry, eviction, a
    version 1 session replaced) gives the session back to its key, and a
    key that owns none goes, so memory follows the table.
    The key comes from our ZAP handler as the message's User-Id; without
    CURVE it is empty and sessions stay unbound.
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_sessions.h"
#include "zstate_server_session.h"

#define SESSIONS_PER_KEY    1024    //  default sessions one key may own

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


//  --------------------------------------------------------------------------
//  Sessions bound to keys, on the server's thread

void
zstate_server_security_peer (zstate_server_sessions_t *self, const char *key)
{
    assert (self);
    self->peer = key && strlen (key) == 40? key: NULL;
}

void
zstate_server_security_set_per_key (zstate_server_sessions_t *self, size_t per_key)
{
    assert (self);
    self->per_key = per_key;
}

//  REJECT UNAUTHORISED to the routing id of a refused HELLO
static void
s_refuse (zstate_server_sessions_t *self, const byte *routing, size_t routing_size,
          zstate_session_msg_t *hello, const char *why)
{
    zstate_session_msg_t reject = {
        .type = ZSTATE_SESSION_MSG_REJECT, .session = hello->session,
        .epoch = self->epoch, .sequence = hello->sequence,
        .reason = ZSTATE_SESSION_REASON_UNAUTHORISED,
        .text = zstate_session_msg_reason_text (ZSTATE_SESSION_REASON_UNAUTHORISED)
    };
    reject.text_size = strlen (reject.text);
    zmq_msg_t frame;
    int rc = zstate_session_msg_encode_frame (&reject, &frame);
    assert (rc == 0);
    if (zmq_send (self->router, routing, routing_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1
    ||  zmq_msg_send (&frame, self->router, ZMQ_DONTWAIT) == -1)
        zmq_msg_close (&frame);
    self->stats->rejects++;
    self->stats->sessions_refused++;
    uint64_t count = self->stats->sessions_refused;
    if ((count & (count - 1)) == 0)
        zsys_warning ("zstate_server: HELLO refused: %s; %" PRIu64 " so far", why, count);
}

bool
zstate_server_security_hello (zstate_server_sessions_t *self, const byte *routing,
                              size_t routing_size, zstate_session_msg_t *hello)
{
    assert (self);
    if (!self->peer)
        return false;           //  No CURVE key: sessions stay unbound
    session_t *session = (session_t *) zhashx_lookup (self->sessions, hello->session);
    if (session && session->owner) {
        if (streq (session->owner->key, self->peer))
            return false;
        s_refuse (self, routing, routing_size, hello, "the session is another key's");
        return true;
    }
    owner_t *owner = self->owners? (owner_t *) zhashx_lookup (self->owners, self->peer): NULL;
    size_t cap = self->per_key? self->per_key: SESSIONS_PER_KEY;
    if (owner && owner->sessions >= cap) {
        s_refuse (self, routing, routing_size, hello, "the key owns as many sessions"
                  " as it may");
        return true;
    }
    return false;
}

void
zstate_server_security_bind (zstate_server_sessions_t *self, session_t *session)
{
    assert (self);
    assert (session);
    if (!self->peer || session->owner)
        return;
    if (!self->owners) {
        self->owners = zhashx_new ();
        assert (self->owners);
        zhashx_set_destructor (self->owners, (zhashx_destructor_fn *) zstr_free);
    }
    owner_t *owner = (owner_t *) zhashx_lookup (self->owners, self->peer);
    if (!owner) {
        owner = (owner_t *) zmalloc (sizeof (owner_t));
        assert (owner);
        memcpy (owner->key, self->peer, sizeof (owner->key));
        int rc = zhashx_insert (self->owners, owner->key, owner);
        assert (rc == 0);
    }
    owner->sessions++;
    session->owner = owner;
}

void
zstate_server_security_unbind (zstate_server_sessions_t *self, session_t *session)
{
    assert (self);
    assert (session);
    owner_t *owner = session->owner;
    session->owner = NULL;
    if (owner && --owner->sessions == 0)
        zhashx_delete (self->owners, owner->key);
}

int
zstate_server_set_sessions_per_key (zstate_server_t *self, int max)
{
    assert (self);
    return s_request (self, "si", "SET SESSIONS PER KEY", max);
}

int
zstate_server_set_watches_per_key (zstate_server_t *self, int max)
{
    assert (self);
    return s_request (self, "si", "SET WATCHES PER KEY", max);
}
