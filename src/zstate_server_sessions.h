/*  =========================================================================
    zstate_server_sessions - private header: the server's session table,
    which keeps the sessions of protocol version 2 (doc/protocol.md,
    sections 16 to 18) and counts sequence gaps of version 1 sessions

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_SESSIONS_H_INCLUDED
#define ZSTATE_SERVER_SESSIONS_H_INCLUDED

#include "zstate_session_msg.h"

//  The server actor owns one and calls it from its own thread; the table
//  sends its replies (WELCOME, ACK, REJECT, PING, PONG) on the actor's
//  ROUTER and counts into the actor's stats. Its tests are part of
//  zstate_server_test (version 1) and zstate_server_sessions_suite
//  (version 2, selftest/zstate_server_sessions_suite.c).
typedef struct _zstate_server_sessions_t zstate_server_sessions_t;

#define ZSTATE_SERVER_ROUTING_MAX   255     //  ZeroMQ routing ids, bytes

//  Create an empty table that runs its timers (ACKs, PINGs, expiry) on
//  loop, replies through router (a libzmq ROUTER socket handle) and counts
//  into *stats; all three must outlive the table.
zstate_server_sessions_t *
    zstate_server_sessions_new (zloop_t *loop, void *router,
                                zstate_server_stats_t *stats);

//  Destroy the table; nulls the pointer.
void
    zstate_server_sessions_destroy (zstate_server_sessions_t **self_p);

//  The server's heartbeat interval in msecs (0: none), which WELCOME
//  announces and server PINGs follow; default 1000.
void
    zstate_server_sessions_set_heartbeat (zstate_server_sessions_t *self,
                                          uint32_t heartbeat);

//  How long a session may be silent before it is forgotten, msecs
//  (default 600000); never less than 3 of its client's heartbeats.
void
    zstate_server_sessions_set_idle (zstate_server_sessions_t *self, uint32_t idle);

//  The longest an ACK waits to be coalesced with later ones, msecs;
//  default 10, never more than the heartbeat (1 s when that is 0).
void
    zstate_server_sessions_set_ack_delay (zstate_server_sessions_t *self,
                                          uint32_t ack_delay);

//  Return the ACK delay in effect, msecs.
uint32_t
    zstate_server_sessions_ack_delay (zstate_server_sessions_t *self);

//  How many tables have a DB writer now: while none has, a HELLO that
//  asks for PERSISTED is granted DELIVERED (doc/protocol.md, section 14).
void
    zstate_server_sessions_set_writers (zstate_server_sessions_t *self, size_t writers);

//  The most sessions kept; a HELLO for a new one when full evicts the
//  least recently heard; default 65536.
void
    zstate_server_sessions_set_max (zstate_server_sessions_t *self, size_t max);

//  Version 1: note that session_id sent sequence. Returns 1 when that is a
//  gap (not the sequence right after the last one, which goes to *last_p),
//  -1 when the id belongs to a version 2 session (the message must be
//  dropped as VERSION), else 0. A new session is no gap.
int
    zstate_server_sessions_track (zstate_server_sessions_t *self,
                                  const byte *session_id, uint64_t sequence,
                                  uint64_t *last_p);

//  Version 2, any type but OPS, from routing id (routing, routing_size):
//  decode, act, reply and count; never fails.
void
    zstate_server_sessions_input (zstate_server_sessions_t *self,
                                  const byte *routing, size_t routing_size,
                                  const byte *data, size_t size);

//  Version 2 OPS, SNAPSHOT-BEGIN or SNAPSHOT-END from routing id, which
//  share one envelope: check it against its session (section 17). Returns true when its sequence is the next one: the
//  caller validates it whole and then calls delivered or refuse. Returns
//  false when it is dropped, having counted it and replied as the
//  protocol says (ACK again, resume WELCOME, REJECT NO_SESSION).
bool
    zstate_server_sessions_ops (zstate_server_sessions_t *self,
                                const byte *routing, size_t routing_size,
                                const byte *data, size_t size);

//  The next message of session_id, sequence, was handed to its consumer.
//  A session forgotten meanwhile is ignored.
void
    zstate_server_sessions_delivered (zstate_server_sessions_t *self,
                                      const byte *session_id, uint64_t sequence);

//  The next message of session_id, sequence, went to the DB writer of
//  route (zstate_server_route_t.id): P stays below it until that writer
//  confirms it. Called before delivered, or without it when the message
//  then waits for its consumer.
void
    zstate_server_sessions_forwarded (zstate_server_sessions_t *self,
                                      const byte *session_id, uint64_t sequence,
                                      uint32_t route);

//  Route's writer has every message of session_id for it up to watermark
//  in Redis: P may move, and an ACK tells the client. Returns 0, or -1
//  when the table has no version 2 session with that id.
int
    zstate_server_sessions_confirmed (zstate_server_sessions_t *self,
                                      const byte *session_id, uint32_t route,
                                      uint64_t watermark);

//  Route went away: no session waits for its writer any more.
void
    zstate_server_sessions_forget_route (zstate_server_sessions_t *self,
                                         uint32_t route);

//  The next message of session_id, sequence, is refused for good: send
//  REJECT with reason and move past it.
void
    zstate_server_sessions_refuse (zstate_server_sessions_t *self,
                                   const byte *session_id, uint64_t sequence,
                                   int reason);

//  While the server reads nothing (a full consumer, PAUSE), holding is
//  true: its clients cannot be heard, so their silence does not count.
void
    zstate_server_sessions_hold (zstate_server_sessions_t *self, bool holding);

//  How many tables were not restored from Redis: while any is, a session
//  new to this instance is sent RESYNC of every table after its WELCOME,
//  since the producers' mirrors may hold what those tables lack.
void
    zstate_server_sessions_set_unrestored (zstate_server_sessions_t *self,
                                           size_t unrestored);

//  The same for one session only, unless unknown or not granted it.
void
    zstate_server_sessions_resync_one (zstate_server_sessions_t *self,
                                       const byte *session_id, const char *db,
                                       const char *table);

//  Send RESYNC of (db, table), of every table when both are "", to every
//  session granted the RESYNC feature; one that cannot go now (no
//  connection, a full pipe) is owed, and goes after the session's next
//  WELCOME (doc/protocol.md, section 19).
void
    zstate_server_sessions_resync (zstate_server_sessions_t *self, const char *db,
                                   const char *table);

//  Return true when session_id is a version 2 session that was granted
//  the RESYNC feature, and may send SNAPSHOT-BEGIN and -END.
bool
    zstate_server_sessions_granted (zstate_server_sessions_t *self,
                                    const byte *session_id);

//  Return true when the table has a session with that id that has been
//  heard from within 3 of its client's heartbeat intervals (within the
//  idle limit when it has none): a writer still alive.
bool
    zstate_server_sessions_alive (zstate_server_sessions_t *self, const byte *session_id);

//  Return the number of sessions kept now, of both versions.
size_t
    zstate_server_sessions_size (zstate_server_sessions_t *self);

//  Return the server epoch, ZSTATE_SESSION_EPOCH_SIZE random bytes.
const byte *
    zstate_server_sessions_epoch (zstate_server_sessions_t *self);

//  The DB writer's replay (zstate_server_sessions_replay.c; the server's
//  side is zstate_server_replay.c)

//  Hears the nonce of every PONG from a session's bound connection
typedef void (zstate_server_sessions_pong_fn) (void *arg, const byte *session_id,
                                               uint64_t nonce);
void
    zstate_server_sessions_set_pong (zstate_server_sessions_t *self,
                                     zstate_server_sessions_pong_fn *fn, void *arg);

//  Return true when session_id is a version 2 session granted PERSISTED
//  and the REPLAY feature,
//  whose client holds every message until P covers it: its messages may
//  be delivered without the writer's copy, and replayed to it later.
bool
    zstate_server_sessions_replayable (zstate_server_sessions_t *self,
                                       const byte *session_id);

//  Return true when data (OPS, SNAPSHOT-BEGIN or -END) comes from its
//  session's bound connection with a sequence already delivered, into
//  *sequence_p: a message sent again, for a REPLAY or before an ACK came.
bool
    zstate_server_sessions_replayed (zstate_server_sessions_t *self,
                                     const byte *routing, size_t routing_size,
                                     const byte *data, size_t size,
                                     uint64_t *sequence_p);

//  Return the session's D, or 0 when it is not a version 2 session.
uint64_t
    zstate_server_sessions_delivered_of (zstate_server_sessions_t *self,
                                         const byte *session_id);

//  Return how many HELLOs the session had (a new one may renumber what
//  its client holds), or 0 when it is not a version 2 session.
uint32_t
    zstate_server_sessions_hellos_of (zstate_server_sessions_t *self,
                                      const byte *session_id);

//  Send REPLAY to the session: replay's sequence (from), to (at most the
//  session's D, and never below from), skip, max and nonce; its type,
//  session and epoch are set here. Returns true when it went.
bool
    zstate_server_sessions_replay (zstate_server_sessions_t *self,
                                   const byte *session_id,
                                   zstate_session_msg_t *replay);

#endif
