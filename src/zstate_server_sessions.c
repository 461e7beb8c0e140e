/*  =========================================================================
    zstate_server_sessions - the server's session table: the last sequence
    number of each client session, to count gaps

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A session's sequence must go up by exactly one per message
    (doc/protocol.md, section 8): a jump forward means messages were lost
    on the way, a step back means the sender broke the rules. Either way
    the message is still delivered; the count is what tells.
@discuss
    The table is bounded: past SESSIONS_MAX sessions, messages from new
    ones are routed but not checked. A session clock ticks once a minute
    (the server's timer) and sessions idle for SESSION_IDLE_TICKS go.
@end
*/

#include "zstate_classes.h"
#include "zstate_server_sessions.h"

#define SESSION_IDLE_TICKS  10      //  forget sessions idle this many ticks
#define SESSIONS_MAX        65536   //  track at most this many sessions

//  What we remember about one client session
typedef struct {
    uint64_t sequence;          //  last sequence number seen
    uint64_t seen;              //  session clock tick it was last seen at
} session_t;

struct _zstate_server_sessions_t {
    zhashx_t *sessions;         //  session id (16 bytes) -> session_t
    uint64_t tick;              //  session clock
    uint64_t untracked;         //  messages from sessions past SESSIONS_MAX
};

//  A 16-byte binary key, so the hash gets its own key functions
static size_t
s_session_hash (const void *key)
{
    //  FNV-1a over every byte: session ids come from the network, so no
    //  part of them can be trusted to be random
    const byte *data = (const byte *) key;
    uint64_t hash = 14695981039346656037ULL;
    for (size_t index = 0; index < ZSTATE_MSG_SESSION_SIZE; index++) {
        hash ^= data [index];
        hash *= 1099511628211ULL;
    }
    return (size_t) hash;
}

static int
s_session_compare (const void *key1, const void *key2)
{
    return memcmp (key1, key2, ZSTATE_MSG_SESSION_SIZE);
}

static void *
s_session_key_dup (const void *key)
{
    byte *copy = (byte *) malloc (ZSTATE_MSG_SESSION_SIZE);
    assert (copy);
    memcpy (copy, key, ZSTATE_MSG_SESSION_SIZE);
    return copy;
}

static void
s_session_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

zstate_server_sessions_t *
zstate_server_sessions_new (void)
{
    zstate_server_sessions_t *self =
        (zstate_server_sessions_t *) zmalloc (sizeof (zstate_server_sessions_t));
    assert (self);
    self->sessions = zhashx_new ();
    assert (self->sessions);
    zhashx_set_key_hasher (self->sessions, s_session_hash);
    zhashx_set_key_comparator (self->sessions, s_session_compare);
    zhashx_set_key_duplicator (self->sessions, s_session_key_dup);
    zhashx_set_key_destructor (self->sessions, s_session_free);
    zhashx_set_destructor (self->sessions, s_session_free);
    return self;
}

void
zstate_server_sessions_destroy (zstate_server_sessions_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_server_sessions_t *self = *self_p;
        zhashx_destroy (&self->sessions);
        free (self);
        *self_p = NULL;
    }
}

bool
zstate_server_sessions_track (zstate_server_sessions_t *self,
                              const byte *session_id, uint64_t sequence,
                              uint64_t *last_p)
{
    assert (self);
    assert (session_id);
    assert (last_p);
    session_t *session = (session_t *) zhashx_lookup (self->sessions, session_id);
    if (session) {
        bool gap = sequence != session->sequence + 1;
        *last_p = session->sequence;
        session->sequence = sequence;
        session->seen = self->tick;
        return gap;
    }
    if (zhashx_size (self->sessions) < SESSIONS_MAX) {
        session = (session_t *) zmalloc (sizeof (session_t));
        assert (session);
        session->sequence = sequence;
        session->seen = self->tick;
        int rc = zhashx_insert (self->sessions, session_id, session);
        assert (rc == 0);
    }
    else {
        //  The table is bounded; past the cap we route but do not track.
        //  Log the 1st, 2nd, 4th, 8th... time, not every time.
        self->untracked++;
        if ((self->untracked & (self->untracked - 1)) == 0)
            zsys_warning ("zstate_server: %d sessions tracked, %" PRIu64
                          " messages from new sessions not checked for gaps",
                          SESSIONS_MAX, self->untracked);
    }
    *last_p = 0;
    return false;
}

size_t
zstate_server_sessions_tick (zstate_server_sessions_t *self)
{
    assert (self);
    self->tick++;
    //  Collect first: zhashx cannot delete while it iterates
    zlistx_t *expired = zlistx_new ();
    assert (expired);
    session_t *session = (session_t *) zhashx_first (self->sessions);
    while (session) {
        if (self->tick - session->seen >= SESSION_IDLE_TICKS)
            zlistx_add_end (expired, (void *) zhashx_cursor (self->sessions));
        session = (session_t *) zhashx_next (self->sessions);
    }
    const void *key = zlistx_first (expired);
    while (key) {
        zhashx_delete (self->sessions, key);
        key = zlistx_next (expired);
    }
    size_t forgotten = zlistx_size (expired);
    zlistx_destroy (&expired);
    return forgotten;
}

size_t
zstate_server_sessions_size (zstate_server_sessions_t *self)
{
    assert (self);
    return zhashx_size (self->sessions);
}
