/*  =========================================================================
    zstate_classes - private header: what the classes share, not exported

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CLASSES_H_INCLUDED
#define ZSTATE_CLASSES_H_INCLUDED

#include "platform.h"
#include "zstate.h"
#include "zstate_redis.h"
#include "zstate_monitor.h"
#include "zstate_inbox.h"
#include "zstate_actor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>

//  Asserts check programming errors and internal invariants; they stay on
//  in every build, as in CZMQ.
#ifdef NDEBUG
#   undef NDEBUG
#   include <assert.h>
#   define NDEBUG
#else
#   include <assert.h>
#endif

//  Fill *stats with the writer's counters as of at most 100 msecs ago,
//  without a round trip to the actor (which may be busy with Redis)
void
    zstate_writer_snapshot (zstate_writer_t *self, zstate_writer_stats_t *stats);

#ifdef ZSTATE_SELFTEST
//  The selftests: built into the selftest program, which links the
//  fixtures too, and never into the library
#include "zstate_redis_server.h"
#include "zstate_text.h"

void
    zstate_batch_test (bool verbose);
void
    zstate_msg_test (bool verbose);
void
    zstate_client_test (bool verbose);
void
    zstate_producer_test (bool verbose);
void
    zstate_server_test (bool verbose);
void
    zstate_consumer_test (bool verbose);
void
    zstate_writer_test (bool verbose);

//  Selftest support: wait until consumer is full and the server holds
//  the message it refused (asserts after 60 s)
void
    zstate_server_test_wait_stalled (zstate_server_t *server, zstate_consumer_t *consumer,
                                     zstate_server_stats_t *stats);
#endif

//  Print the consumer's writer state as ZPL items, for the server's monitor
void
    zstate_consumer_fprint_writer (zstate_consumer_t *self, FILE *file);

//  Fixed-width integers in network byte order, read and written in place.
//  Callers check bounds first.
static inline void
zstate_put_u32 (byte *dest, uint32_t value)
{
    dest [0] = (byte) (value >> 24);
    dest [1] = (byte) (value >> 16);
    dest [2] = (byte) (value >> 8);
    dest [3] = (byte) value;
}

static inline uint32_t
zstate_get_u32 (const byte *source)
{
    return ((uint32_t) source [0] << 24) | ((uint32_t) source [1] << 16)
         | ((uint32_t) source [2] << 8) | (uint32_t) source [3];
}

static inline void
zstate_put_u64 (byte *dest, uint64_t value)
{
    zstate_put_u32 (dest, (uint32_t) (value >> 32));
    zstate_put_u32 (dest + 4, (uint32_t) value);
}

static inline uint64_t
zstate_get_u64 (const byte *source)
{
    return ((uint64_t) zstate_get_u32 (source) << 32) | zstate_get_u32 (source + 4);
}

//  Bind sock to endpoint. Returns the port for tcp endpoints (the one
//  libzmq chose, for "*" or "0"), 0 for others, or -1 with errno and
//  zstate_reason ().
int
    zstate_bind (zsock_t *sock, const char *endpoint);

//  Create a socket as zsock_new does, or return NULL with errno EMFILE and
//  zstate_reason () when the process is at its socket limit, where
//  zsock_new would abort. A thread that makes sockets at the same moment
//  can still take the last slot first.
zsock_t *
    zstate_sock_new (int type);

//  Actor side of the command protocol: send the one reply a command gets,
//  [command][status][reason]; more frames may follow when more is true.
int
    zstate_reply (zsock_t *pipe, const char *command, int status, const char *reason,
                  bool more);

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

//  Server side of a consumer table, called on the server's thread only,
//  while the consumer is registered. Append msg, a whole wire message the
//  server has validated, to the consumer's queue and wake the application
//  if nothing was pending; forwarded says a copy went to the writer, for
//  the counters. Returns 0, having taken msg's content. Returns -1 when the
//  queue is at its bound, leaving msg as it was: the server then polls
//  zstate_consumer_room_fd, and tries again when it is readable.
int
    zstate_consumer_deliver (zstate_consumer_t *self, zmq_msg_t *msg, bool forwarded);

//  An eventfd that is readable once the queue has room again after deliver
//  refused a message. Only the server that delivers to this consumer polls
//  it, and never reads it: deliver clears it when it refuses.
int
    zstate_consumer_room_fd (zstate_consumer_t *self);

#endif
