/*  =========================================================================
    zstate_library - version, export macros, limits and error codes

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_LIBRARY_H_INCLUDED
#define ZSTATE_LIBRARY_H_INCLUDED

#include <czmq.h>

//  The stable CZMQ API only: Debian 12 ships 4.2.1 built without drafts
#if CZMQ_VERSION < 40201
#   error "zstate needs CZMQ/4.2.1 or later"
#endif
#if ZMQ_VERSION < 40300
#   error "zstate needs libzmq/4.3.0 or later"
#endif

//  The one place the version is written (version.sh reads it)
#define ZSTATE_VERSION_MAJOR 0
#define ZSTATE_VERSION_MINOR 1
#define ZSTATE_VERSION_PATCH 0

#define ZSTATE_MAKE_VERSION(major, minor, patch) \
    ((major) * 10000 + (minor) * 100 + (patch))
#define ZSTATE_VERSION \
    ZSTATE_MAKE_VERSION (ZSTATE_VERSION_MAJOR, ZSTATE_VERSION_MINOR, \
                         ZSTATE_VERSION_PATCH)

#if defined (__GNUC__) && (__GNUC__ >= 4)
#   define ZSTATE_EXPORT __attribute__ ((visibility ("default")))
#else
#   define ZSTATE_EXPORT
#endif

//  Variadic calls whose list ends with NULL: the compiler warns when a
//  call forgets it (-Wformat, on by -Wall)
#if defined (__GNUC__) && (__GNUC__ >= 4)
#   define ZSTATE_SENTINEL __attribute__ ((sentinel))
#else
#   define ZSTATE_SENTINEL
#endif

#ifdef __cplusplus
extern "C" {
#endif

//  Opaque class structures
typedef struct _zstate_batch_t zstate_batch_t;
typedef struct _zstate_msg_t zstate_msg_t;
typedef struct _zstate_client_t zstate_client_t;
typedef struct _zstate_producer_t zstate_producer_t;
typedef struct _zstate_server_t zstate_server_t;
typedef struct _zstate_consumer_t zstate_consumer_t;
typedef struct _zstate_writer_t zstate_writer_t;
typedef struct _zstate_db_config_t zstate_db_config_t;

//  Operation codes, as they travel on the wire (doc/protocol.md)
#define ZSTATE_OP_SET   1       //  Replace the entry with the given fields
#define ZSTATE_OP_HSET  2       //  Merge the given fields into the entry
#define ZSTATE_OP_DEL   3       //  Delete the entry

//  Limits the codec enforces on both sides of the wire
#define ZSTATE_NAME_MAX     255             //  db and table names, bytes
#define ZSTATE_KEY_MAX      65535           //  key, bytes
#define ZSTATE_FIELD_MAX    65535           //  field name, bytes
#define ZSTATE_FIELDS_MAX   65535           //  fields in one operation
#define ZSTATE_MESSAGE_MAX  (16 * 1024 * 1024)  //  one wire message, bytes
#define ZSTATE_OPS_MAX      (1024 * 1024)   //  operations in one message

//  Counters: zstate_client_stats, zstate_server_stats, zstate_consumer_stats,
//  zstate_writer_stats, zstate_sonic_bridge_stats and zstate_sonic_client_stats
//  fill a struct the caller allocates. New counters are added at the end
//  of these structs, never between or instead of others. Each call is a
//  macro that passes the caller's sizeof to the library's
//  zstate_X_stats_sized (self, stats, size), which fills the first
//  min (size, its own size) bytes and zeroes the rest: a program
//  built against an older header gets the counters it knows, one built
//  against a newer header running on an older library sees zero for the
//  counters the library does not have. A binding that calls the library
//  directly (ctypes, cffi) calls zstate_X_stats_sized with its own size.
//  The actors' STATS replies carry the library's whole struct, sizeof
//  bytes: a caller that reads them itself copies what its struct holds.

//  Failing calls return -1 (or NULL) and set errno to one of the standard
//  codes below; zstate_reason () then gives a readable sentence for the
//  last failure in the calling thread.
//
//  EINVAL      bad argument (NULL or empty key, bad name, odd field list)
//  EMSGSIZE    one operation is larger than a wire message can carry, or
//              one call is larger than the client's queue bounds
//  ENOBUFS     the client's queue is full for now (bounded in ops and bytes)
//  ENOTCONN    the client is FAILED: the link to the server is down, or
//              the server is dead (silent while operations wait for it)
//  EEXIST      a consumer is already registered for that (db, table)
//  ENOENT      no such consumer / table
//  ETIMEDOUT   a flush or command did not complete in time
//  EADDRINUSE, EADDRNOTAVAIL, EPROTONOSUPPORT ...  bind/connect failures

//  Return a readable sentence that explains the last failed zstate call in
//  this thread. Never NULL; "" when nothing has failed yet.
ZSTATE_EXPORT const char *
    zstate_reason (void);

//  Record a failure the way zstate calls do: set errno to error and this
//  thread's zstate_reason () text, so that code built on zstate reports
//  its own failures through the same two. Returns -1, so callers can
//  "return zstate_fail (...)".
ZSTATE_EXPORT int
    zstate_fail (int error, const char *format, ...) CHECK_PRINTF (2);

//  Set sock up to speak CURVE to a zstate endpoint, as a client: for a
//  program of its own that talks to a server's monitor with a DEALER
//  (doc/protocol.md), as zstate stats and zstate watch do. certificate and
//  server_key as zstate_client_set_curve takes them; a file that is not a
//  certificate is refused, never half read. Before connect. Returns 0,
//  or -1 with errno and zstate_reason (): ENOENT for a certificate that
//  cannot be read, EINVAL for one without a secret key or a server key
//  that is neither a key nor a certificate.
ZSTATE_EXPORT int
    zstate_curve_apply (zsock_t *sock, const char *certificate, const char *server_key);

//  Set the deadline, msecs, for every command a wrapper call sends its
//  actor and waits for (connect, bind, the settings, stats ...; a flush
//  gets this on top of its own timeout): at the deadline the call fails
//  with ETIMEDOUT. Process-wide; 30,000 by default. Destroying an object
//  waits for its actor to end without deadline, by design (nothing is
//  freed under a running actor), logging a warning every 10 s while it
//  waits. Returns 0, or -1 with EINVAL outside 1 .. 3,600,000.
ZSTATE_EXPORT int
    zstate_set_command_timeout (int msecs);

//  Return the deadline set by zstate_set_command_timeout, msecs.
ZSTATE_EXPORT int
    zstate_command_timeout (void);

#ifdef __cplusplus
}
#endif

#endif
