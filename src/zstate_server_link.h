/*  =========================================================================
    zstate_server_link - private header: the control link a server shares with
    its consumer tables

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_LINK_H_INCLUDED
#define ZSTATE_SERVER_LINK_H_INCLUDED

//  A server's control link, shared by the server wrapper and its consumers
//  so that either may be destroyed first: the link outlives both, and
//  serialises their commands to the server actor.
typedef struct _zstate_server_link_t zstate_server_link_t;

//  Take a reference to the server's link.
zstate_server_link_t *
    zstate_server_link (zstate_server_t *server);

//  Drop a reference; nulls the pointer.
void
    zstate_server_link_release (zstate_server_link_t **link_p);

//  Register / unregister the consumer named name for (db, table); name is
//  unique per consumer, so that only the consumer that registered can
//  unregister. Return 0, or -1 with errno and zstate_reason (); ENOENT once
//  the server is gone. From REGISTER until UNREGISTER has been answered,
//  the server's thread calls into consumer: zstate_consumer_deliver, and
//  zstate_consumer_stats for its monitor. The consumer unregisters before
//  it is freed.
int
    zstate_server_link_register (zstate_server_link_t *link,
                                 const char *db, const char *table, const char *name,
                                 zstate_consumer_t *consumer);
int
    zstate_server_link_unregister (zstate_server_link_t *link,
                                   const char *db, const char *table, const char *name);

//  Make the server forward a copy of every message it routes to the
//  consumer named name to the PULL socket bound at endpoint (inproc), before
//  the consumer gets it; "" stops forwarding. Returns 0, or -1 with errno
//  and zstate_reason () (ENOENT once the server is gone).
int
    zstate_server_link_forward (zstate_server_link_t *link,
                                const char *db, const char *table, const char *name,
                                const char *endpoint);

//  Copy the server's confirmation endpoint, where DB writers send
//  CONFIRMED (zstate_server_confirm.h), into endpoint (size octets).
//  Returns 0, or -1 with errno and zstate_reason ().
int
    zstate_server_link_confirm_endpoint (zstate_server_link_t *link, char *endpoint,
                                         size_t size);

//  Hand the server the watermarks the consumer named name restored from
//  Redis (n x 24 octets, zstate_server_watermarks.h): from then on, OPS of
//  version 2 for its (db, table) at or below its session's watermark are
//  dropped as delivered and persisted. Returns 0, or -1 with errno and
//  zstate_reason () (EINVAL when size is no multiple of 24).
int
    zstate_server_link_restored (zstate_server_link_t *link,
                                 const char *db, const char *table, const char *name,
                                 const byte *watermarks, size_t size);
//  Ask every producer that mirrors the table of the consumer named name
//  for a snapshot: the server sends RESYNC of (db, table) to each session
//  that was granted the feature (owed to one it cannot reach now).
//  Returns 0, or -1 with errno and zstate_reason (): ENOENT for no such
//  consumer, or once the server is gone.
int
    zstate_server_link_resync (zstate_server_link_t *link,
                               const char *db, const char *table, const char *name);

//  The server's actor, for its wrapper methods in other files; NULL once
//  the server is destroyed
zstate_actor_t *
    zstate_server_link_actor (zstate_server_t *server);

#ifdef ZSTATE_SELFTEST
//  Selftest support: wait until consumer is full and the server holds
//  the message it refused (asserts after 60 s)
void
    zstate_server_test_wait_stalled (zstate_server_t *server, zstate_consumer_t *consumer,
                                     zstate_server_stats_t *stats);
#endif

#endif
