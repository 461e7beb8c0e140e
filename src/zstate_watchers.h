/*  =========================================================================
    zstate_watchers - private header: the monitor's WATCH subscribers,
    their leases, their bound, and the copies of routed messages they hold

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WATCHERS_H_INCLUDED
#define ZSTATE_WATCHERS_H_INCLUDED

//  The monitor (zstate_monitor.c) keeps one, on the server's thread: it
//  reads the WATCH requests and owns the socket the copies go out on; this
//  holds the rest, so that all of it but the sending is tested without
//  sockets.
#define ZSTATE_WATCHERS_MAX     256     //  watches held at once, from all peers
//  ... from the peers of one client key, by default: more tables than one
//  operator watches at once, and a sixteenth of the table, so that it
//  takes sixteen keys together to fill it
#define ZSTATE_WATCHERS_PER_KEY 16

typedef struct _zstate_watchers_t zstate_watchers_t;

//  Send copy, made for the watcher whose ROUTER identity is identity, on
//  to it. Returns 0, or -1 when the watcher cannot take it, with errno
//  EHOSTUNREACH when the watcher is gone; the copy is then lost. The
//  caller closes copy either way.
typedef int (zstate_watchers_send_fn) (void *arg, zframe_t *identity, zmq_msg_t *copy);

//  Create an empty table of watchers.
zstate_watchers_t *
    zstate_watchers_new (void);

//  Destroy the table; nulls the pointer. Copies still in flight stay valid.
void
    zstate_watchers_destroy (zstate_watchers_t **self_p);

//  Set how long a WATCH holds without renewal, in msecs (default 3000),
//  for the watches made or renewed from now on.
void
    zstate_watchers_set_lease (zstate_watchers_t *self, int lease);

//  Set the most watches the peers of one client key may hold together
//  (default ZSTATE_WATCHERS_PER_KEY, from 1), for the watches made from
//  now on: a key that holds more keeps them until they end.
void
    zstate_watchers_set_per_key (zstate_watchers_t *self, size_t per_key);

//  Return the most watches the peers of one client key may hold.
size_t
    zstate_watchers_per_key (zstate_watchers_t *self);

//  WATCH (db, table) from the peer with this ROUTER identity, whose client
//  key is key (the CURVE key in Z85; NULL or "" for peers without one,
//  which share one key): renew its watch of the table, or add one.
//  Returns 0, or -1 with errno EDQUOT when the key holds its cap of
//  watches already (counted), or ENOSPC when ZSTATE_WATCHERS_MAX watches
//  are held.
int
    zstate_watchers_watch (zstate_watchers_t *self, zframe_t *identity, const char *key,
                           const char *db, const char *table);

//  Give a copy of payload, routed to (db, table), to each of its watchers
//  through send (arg); the payload stays the caller's. A watcher that is
//  gone is forgotten, and its slot is its key's again. Costs one
//  comparison when nobody watches.
void
    zstate_watchers_publish (zstate_watchers_t *self, const char *db, const char *table,
                             zmq_msg_t *payload, zstate_watchers_send_fn *send, void *arg);

//  Return how many copies watchers lost: refused by send, or over a
//  peer's bound of bytes in flight.
uint64_t
    zstate_watchers_lost (zstate_watchers_t *self);

//  Return how many WATCHes were refused because their key held its cap,
//  and how many because ZSTATE_WATCHERS_MAX watches were held.
uint64_t
    zstate_watchers_refused (zstate_watchers_t *self);
uint64_t
    zstate_watchers_refused_full (zstate_watchers_t *self);

//  Return how many watches are held now, once those whose lease ran out
//  are forgotten.
size_t
    zstate_watchers_size (zstate_watchers_t *self);

//  Self test of this class.
void
    zstate_watchers_test (bool verbose);

#endif
