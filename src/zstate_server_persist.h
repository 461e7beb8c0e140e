/*  =========================================================================
    zstate_server_persist - private header: what one version 2 session has
    forwarded to DB writers and what they confirmed, from which the server
    derives the session's persisted sequence P (doc/protocol.md, section 17)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_PERSIST_H_INCLUDED
#define ZSTATE_SERVER_PERSIST_H_INCLUDED

//  The session table (zstate_server_sessions.c) keeps one per session that
//  forwarded anything, on the server's thread; it is tested through
//  zstate_server_persist_suite (selftest/zstate_server_persist_suite.c).
typedef struct _zstate_server_persist_t zstate_server_persist_t;

//  The message sequence of the session went to the writer of route (a
//  route id, zstate_server_route_t.id); sequences come in increasing
//  order. Creates *self_p on first use.
void
    zstate_server_persist_forwarded (zstate_server_persist_t **self_p,
                                     uint32_t route, uint64_t sequence);

//  Route's writer has every message of the session for it up to watermark
//  in Redis. Returns true when that confirmed something still waiting.
bool
    zstate_server_persist_confirmed (zstate_server_persist_t *self,
                                     uint32_t route, uint64_t watermark);

//  Route went away: nobody will confirm what waits for its writer, so
//  stop waiting for it.
void
    zstate_server_persist_forget (zstate_server_persist_t *self, uint32_t route);

//  Return the persisted sequence of a session delivered up to delivered:
//  the highest sequence such that every forwarded message up to it was
//  confirmed; delivered when nothing waits. self may be NULL.
uint64_t
    zstate_server_persist_level (zstate_server_persist_t *self, uint64_t delivered);

//  Return the number of routes whose writer the session waits for.
size_t
    zstate_server_persist_waiting (zstate_server_persist_t *self);

//  Destroy; nulls the pointer.
void
    zstate_server_persist_destroy (zstate_server_persist_t **self_p);

#endif
