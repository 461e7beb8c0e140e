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
    Ownership is kept beside the session table, not in it: a session id
    the table no longer holds has no owner, and the owners of such ids are
    dropped when a key's sessions are counted, so memory follows the table.
    The key comes from our ZAP handler as the message's User-Id; without
    CURVE it is empty and sessions stay unbound.
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_sessions.h"
#include "zstate_server_session.h"

#define SESSIONS_PER_KEY    1024    //  default sessions one key may own

//  Who owns one session
typedef struct {
    byte id [ZSTATE_MSG_SESSION_SIZE];
    char key [41];              //  Z85
} owner_t;

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

void
zstate_server_security_forget (zstate_server_sessions_t *self)
{
    assert (self);
    zhashx_destroy (&self->owners);
}

//  Return how many live sessions key owns, dropping owners of sessions
//  the table has forgotten
static size_t
s_owned (zstate_server_sessions_t *self, const char *key)
{
    size_t owned = 0;
    zlist_t *gone = zlist_new ();
    assert (gone);
    for (owner_t *owner = (owner_t *) zhashx_first (self->owners); owner;
         owner = (owner_t *) zhashx_next (self->owners)) {
        if (!zhashx_lookup (self->sessions, owner->id))
            zlist_append (gone, (void *) zhashx_cursor (self->owners));
        else
        if (streq (owner->key, key))
            owned++;
    }
    for (char *id = (char *) zlist_first (gone); id; id = (char *) zlist_next (gone))
        zhashx_delete (self->owners, id);
    zlist_destroy (&gone);
    return owned;
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
    if (!self->owners) {
        self->owners = zhashx_new ();
        assert (self->owners);
        zhashx_set_destructor (self->owners, (zhashx_destructor_fn *) zstr_free);
    }
    char id [ZSTATE_MSG_SESSION_SIZE * 2 + 1];
    for (size_t index = 0; index < ZSTATE_MSG_SESSION_SIZE; index++)
        snprintf (id + index * 2, 3, "%02x", hello->session [index]);
    owner_t *owner = (owner_t *) zhashx_lookup (self->owners, id);
    if (owner && !zhashx_lookup (self->sessions, owner->id)) {
        zhashx_delete (self->owners, id);       //  Forgotten: free to take
        owner = NULL;
    }
    if (owner && !streq (owner->key, self->peer)) {
        s_refuse (self, routing, routing_size, hello, "the session is another key's");
        return true;
    }
    if (owner)
        return false;
    size_t cap = self->per_key? self->per_key: SESSIONS_PER_KEY;
    if (s_owned (self, self->peer) >= cap) {
        s_refuse (self, routing, routing_size, hello, "the key owns as many sessions"
                  " as it may");
        return true;
    }
    owner = (owner_t *) zmalloc (sizeof (owner_t));
    assert (owner);
    memcpy (owner->id, hello->session, ZSTATE_MSG_SESSION_SIZE);
    memcpy (owner->key, self->peer, 41);
    zhashx_insert (self->owners, id, owner);
    return false;
}

int
zstate_server_set_sessions_per_key (zstate_server_t *self, int max)
{
    assert (self);
    return s_request (self, "si", "SET SESSIONS PER KEY", max);
}
