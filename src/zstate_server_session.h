/*  =========================================================================
    zstate_server_session - private header: one session of the server's
    session table, and the table's state, which the table's two files
    share (zstate_server_sessions.c, zstate_server_sessions_resync.c)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_SESSION_H_INCLUDED
#define ZSTATE_SERVER_SESSION_H_INCLUDED

#include "zstate_server_persist.h"
#include "zstate_server_limiter.h"
#include "zstate_server_owed.h"
#include "zstate_server_rejects.h"

//  What housekeeping sends again to a session whose pipe did not take it
#define RETRY_NONE          0
#define RETRY_ACK           1       //  an ACK
#define RETRY_WELCOME       2       //  a WELCOME, which says what an ACK does

//  A CURVE key that owns sessions (zstate_server_security.c)
typedef struct {
    char key [41];              //  Z85, also the hash key
    size_t sessions;            //  how many of the table's it owns
} owner_t;

//  What we remember about one client session
typedef struct {
    byte id [ZSTATE_MSG_SESSION_SIZE];  //  the session id, also the hash key
    int version;                //  1 or 2
    uint64_t delivered;         //  D (version 1: the last sequence seen)
    uint64_t persisted;         //  P, <= D
    zstate_server_persist_t *persist;   //  what waits for writers, or NULL
    int ack_level;              //  granted: ZSTATE_SESSION_ACK_*
    uint64_t acked;             //  D that the client was last told
    uint64_t acked_persisted;   //  ... and P
    uint32_t unacked;           //  messages delivered since
    bool ack_again;             //  a duplicate came: tell D even if told
    bool resumed;               //  resume WELCOME sent, not yet in order
    int retry;                  //  a reply its pipe did not take: RETRY_*
    uint32_t heartbeat;         //  the client's interval, msecs
    int64_t heard;              //  session clock when last heard from
    int64_t sent;               //  zclock_mono when we last sent to it
    void *lru_handle;           //  in self->lru
    void *due_handle;           //  in self->due while an ACK waits
    bool resync;                //  granted the RESYNC feature
    bool replay;                //  granted the REPLAY feature
    bool welcomed;              //  a WELCOME went since its last HELLO
    uint32_t hellos;            //  HELLOs it had: its connections
    zstate_server_owed_t *owed; //  RESYNCs not sent yet, or NULL
    zstate_server_owed_t *unconfirmed;  //  sent, no PONG to confirm yet
    uint64_t confirm;           //  nonce of the PING that confirms them, or 0
    zstate_server_rejects_t *rejects;   //  REJECTs not sent yet, or NULL
    zstate_server_rejects_t *rejects_sent;  //  sent, no PONG to confirm yet
    uint64_t rejects_confirm;   //  nonce of the PING after them, or 0
    size_t rejects_confirming;  //  how many of them that PING follows
    owner_t *owner;             //  the key whose HELLO opened it, or NULL
    size_t routing_size;        //  the routing id of its latest HELLO
    byte routing [ZSTATE_SERVER_ROUTING_MAX];
} session_t;

struct _zstate_server_sessions_t {
    zloop_t *loop;              //  runs our timers
    int tick_timer;             //  housekeeping: PINGs, expiry
    int ack_timer;              //  sends coalesced ACKs, or -1
    void *router;               //  we reply through this ROUTER
    zstate_server_stats_t *stats;   //  the server's counters
    zhashx_t *sessions;         //  session id -> session_t
    zlistx_t *lru;              //  sessions, least recently heard first
    zlistx_t *due;              //  sessions whose ACK waits
    zstate_server_limiter_t *no_session;    //  one NO_SESSION a second each
    session_t *current;         //  the session of the OPS being delivered
    byte epoch [ZSTATE_SESSION_EPOCH_SIZE];
    size_t max;                 //  bound of sessions
    uint32_t heartbeat;         //  ours, msecs
    uint32_t idle;              //  silence after which a session goes, msecs
    uint32_t ack_delay;         //  msecs
    size_t writers;             //  tables with a DB writer
    size_t unrestored;          //  tables not restored from Redis
    bool forgot_owed;           //  a session was forgotten owing RESYNCs
    uint64_t nonce;             //  of our PINGs
    uint64_t untracked;         //  version 1 messages past the bound
    int64_t held_since;         //  zclock_mono when holding began, or 0
    int64_t held;               //  msecs held before that, in total
    zstate_server_sessions_pong_fn *pong_fn;    //  hears PONGs, or NULL
    void *pong_arg;             //  ... with this
    const char *peer;           //  CURVE key of the message at hand, or NULL
    zhashx_t *owners;           //  CURVE key -> owner_t, or NULL
    size_t per_key;             //  sessions one key may own, 0: the default
};

//  Sessions bound to the CURVE key that opened them: zstate_server_security.c

//  The CURVE key (Z85, the "User-Id" of the message) of the next input;
//  "" or NULL when the peer has none
void
    zstate_server_security_peer (zstate_server_sessions_t *self, const char *key);

//  The most sessions one key may own (default 1024)
void
    zstate_server_security_set_per_key (zstate_server_sessions_t *self, size_t per_key);

//  HELLO from routing id: return true when it is refused (a session of
//  another key, or the key owns its cap), having sent REJECT UNAUTHORISED
//  and counted it; else the caller binds its session
bool
    zstate_server_security_hello (zstate_server_sessions_t *self, const byte *routing,
                                  size_t routing_size, zstate_session_msg_t *hello);

//  The session of a HELLO let through is the peer's, when it has a key
//  and the session no owner yet
void
    zstate_server_security_bind (zstate_server_sessions_t *self, session_t *session);

//  Session leaves the table: its key owns one session fewer
void
    zstate_server_security_unbind (zstate_server_sessions_t *self, session_t *session);

//  Send msg to session on its latest routing id, without waiting. Returns
//  true when libzmq took it; false when the routing id has no connection
//  (ROUTER_MANDATORY) or its pipe is full, and msg is lost.
bool
    zstate_server_session_send (zstate_server_sessions_t *self, session_t *session,
                                zstate_session_msg_t *msg);

//  PING session with a fresh nonce, to confirm what was sent before it,
//  and count it. Returns its nonce, or 0 when libzmq did not take it.
uint64_t
    zstate_server_session_confirm_ping (zstate_server_sessions_t *self,
                                        session_t *session);

//  Refuse sequence of session for good with reason: REJECT it now, or owe
//  the REJECT when the pipe does not take it or others are owed
//  (zstate_server_sessions_rejects.c)
void
    zstate_server_session_reject (zstate_server_sessions_t *self, session_t *session,
                                  uint64_t sequence, int reason);

//  Send the REJECTs session owes, oldest first, until one does not go.
//  Returns true when it owes none: an ACK or a WELCOME may go then.
bool
    zstate_server_session_rejects_flush (zstate_server_sessions_t *self,
                                         session_t *session);

//  Session's connection changed (a HELLO): what it was sent unconfirmed
//  is owed again, before what it owed already
void
    zstate_server_session_rejects_hello (zstate_server_sessions_t *self,
                                         session_t *session);

//  A PONG of nonce came on session's connection: the REJECTs sent before
//  the PING it answers are confirmed
void
    zstate_server_session_rejects_pong (zstate_server_sessions_t *self,
                                        session_t *session, uint64_t nonce);

//  Housekeeping: PING session after the REJECTs it was sent unconfirmed,
//  unless such a PING is on its way
void
    zstate_server_session_rejects_confirm (zstate_server_sessions_t *self,
                                           session_t *session);

//  Free what session holds of REJECTs
void
    zstate_server_session_rejects_destroy (session_t *session);

//  ACKs: zstate_server_sessions_acks.c

//  Send session its ACK now; one libzmq does not take stays due for
//  housekeeping to send again
void
    zstate_server_session_ack_send (zstate_server_sessions_t *self, session_t *session);

//  Session has something to acknowledge: at once after ACK_EVERY
//  messages, else when the ACK timer fires
void
    zstate_server_session_ack_due (zstate_server_sessions_t *self, session_t *session);

//  The ACK delay or the heartbeat changed: a waiting ACK waits on the new
void
    zstate_server_session_acks_rearm (zstate_server_sessions_t *self);

//  Session is new to this instance, and HELLO offered features: owe it
//  RESYNC of every table when it may hold what a table lacks
void
    zstate_server_session_resync_new (zstate_server_sessions_t *self,
                                      session_t *session, uint32_t features);

//  Session goes from the table: remember whether it owed a RESYNC
void
    zstate_server_session_resync_forget (zstate_server_sessions_t *self,
                                         session_t *session);

//  Session goes: free what it owes and was sent unconfirmed
void
    zstate_server_session_owed_destroy (session_t *session);

//  Session sent HELLO: what its previous connection may have lost of the
//  RESYNCs it was sent is owed again
void
    zstate_server_session_resync_hello (zstate_server_sessions_t *self,
                                        session_t *session);

//  Session's bound connection answered PING nonce: when it is the one
//  sent after its RESYNCs, they all arrived
void
    zstate_server_session_resync_pong (zstate_server_sessions_t *self,
                                       session_t *session, uint64_t nonce);

//  The session's WELCOME went, or housekeeping runs: send what it is owed,
//  in order, until one cannot go, then the PING that confirms them
void
    zstate_server_session_owed_flush (zstate_server_sessions_t *self,
                                      session_t *session);

#endif
