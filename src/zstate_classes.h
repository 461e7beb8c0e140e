/*  =========================================================================
    zstate_classes - private header: the includes, the assert guard and
    the small helpers every class shares; nothing here is exported

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
#include "zstate_utf8.h"

//  Contracts between classes, each in its owner's private header
#include "zstate_batch_private.h"
#include "zstate_msg_private.h"
#include "zstate_server_link.h"
#include "zstate_consumer_private.h"
#include "zstate_writer_private.h"
#include "zstate_stats_private.h"

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
#endif

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

//  Return 0 when libzmq has count socket slots free now, else -1 with
//  errno EMFILE and zstate_reason () (who, when not NULL, starts it). For
//  constructors whose actors make sockets with zsock_new, which aborts at
//  the limit. count is at most ZSTATE_SOCK_RESERVE_MAX.
#define ZSTATE_SOCK_RESERVE_MAX 8
int
    zstate_sock_reserve (const char *who, size_t count);

//  Actor side of the command protocol: send the one reply a command gets,
//  [command][status][reason]; more frames may follow when more is true.
int
    zstate_reply (zsock_t *pipe, const char *command, int status, const char *reason,
                  bool more);

#endif
