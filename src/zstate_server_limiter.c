/*  =========================================================================
    zstate_server_limiter - at most one reply per peer per interval

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Peers are routing ids, kept as hex strings with the time of their last
    reply. The table is bounded: when it is full, new peers get no reply
    until a prune makes room, which the session table's housekeeping does
    several times an interval.
@end
*/

#include "zstate_classes.h"
#include "zstate_server_limiter.h"

#define PEER_MAX            255     //  ZeroMQ routing ids, bytes

struct _zstate_server_limiter_t {
    zhashx_t *peers;            //  routing id (hex) -> int64_t last reply
    size_t max;
    int64_t interval;           //  msecs
};

static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

zstate_server_limiter_t *
zstate_server_limiter_new (size_t max, int64_t interval)
{
    zstate_server_limiter_t *self =
        (zstate_server_limiter_t *) zmalloc (sizeof (zstate_server_limiter_t));
    assert (self);
    self->peers = zhashx_new ();
    assert (self->peers);
    zhashx_set_destructor (self->peers, s_free);
    self->max = max;
    self->interval = interval;
    return self;
}

void
zstate_server_limiter_destroy (zstate_server_limiter_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zhashx_destroy (&(*self_p)->peers);
        free (*self_p);
        *self_p = NULL;
    }
}

bool
zstate_server_limiter_allow (zstate_server_limiter_t *self, const byte *peer,
                             size_t peer_size)
{
    assert (self);
    assert (peer_size <= PEER_MAX);
    char key [2 * PEER_MAX + 1];
    for (size_t index = 0; index < peer_size; index++)
        snprintf (key + 2 * index, 3, "%02x", peer [index]);
    key [2 * peer_size] = 0;
    int64_t now = zclock_mono ();
    int64_t *last = (int64_t *) zhashx_lookup (self->peers, key);
    if (last && now - *last < self->interval)
        return false;
    if (!last) {
        if (zhashx_size (self->peers) >= self->max)
            return false;       //  A prune makes room again
        last = (int64_t *) malloc (sizeof (int64_t));
        assert (last);
        zhashx_insert (self->peers, key, last);
    }
    *last = now;
    return true;
}

void
zstate_server_limiter_prune (zstate_server_limiter_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    zlistx_t *keys = zhashx_keys (self->peers);
    assert (keys);
    const char *key = (const char *) zlistx_first (keys);
    while (key) {
        int64_t *last = (int64_t *) zhashx_lookup (self->peers, key);
        if (now - *last >= self->interval)
            zhashx_delete (self->peers, key);
        key = (const char *) zlistx_next (keys);
    }
    zlistx_destroy (&keys);
}
