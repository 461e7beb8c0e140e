/*  =========================================================================
    zstate_server_limiter - private header: at most one reply per peer per
    interval, so that a peer cannot make the server send more than it sends

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_LIMITER_H_INCLUDED
#define ZSTATE_SERVER_LIMITER_H_INCLUDED

//  The session table keeps one for its NO_SESSION REJECTs, on the server's
//  thread; it is tested through zstate_server_sessions_suite.
typedef struct _zstate_server_limiter_t zstate_server_limiter_t;

//  Create a limiter that remembers up to max peers and lets one reply
//  through per peer every interval msecs.
zstate_server_limiter_t *
    zstate_server_limiter_new (size_t max, int64_t interval);

//  Destroy; nulls the pointer.
void
    zstate_server_limiter_destroy (zstate_server_limiter_t **self_p);

//  Return true when a reply to the peer (its routing id, up to 255 bytes)
//  may go now, and note that it went; false when one went within the
//  interval, or when max peers are remembered already.
bool
    zstate_server_limiter_allow (zstate_server_limiter_t *self,
                                 const byte *peer, size_t peer_size);

//  Forget the peers whose interval has passed.
void
    zstate_server_limiter_prune (zstate_server_limiter_t *self);

#endif
