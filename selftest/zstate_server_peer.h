/*  =========================================================================
    zstate_server_peer - what the server's selftest suites of protocol
    version 2 share: a raw DEALER that speaks version 2 through the session
    codec, as a client would, and checks what comes back

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_PEER_H_INCLUDED
#define ZSTATE_SERVER_PEER_H_INCLUDED

#define PEER_DB         "APPL_DB"   //  the db of every OPS peers send
#define PEER_DEADLINE   30000   //  msecs: only a broken server waits this long

//  All zero: the epoch a client sends before its first WELCOME
extern const byte peer_zero_epoch [ZSTATE_SESSION_EPOCH_SIZE];

//  What a peer received: the frame, and the message decoded from it
typedef struct {
    zframe_t *frame;
    zstate_session_msg_t msg;
} reply_t;

//  A DEALER connected to endpoint (">inproc://..."), that waits
//  PEER_DEADLINE at most for a reply
zsock_t *
    peer_new (const char *endpoint);

//  Send msg, encoded by the session codec
void
    peer_send (zsock_t *peer, zstate_session_msg_t *msg);

//  Send HELLO / PING
void
    peer_hello (zsock_t *peer, const byte *session, uint64_t first_unacked, int level,
                uint32_t heartbeat);
void
    peer_ping (zsock_t *peer, const byte *session, uint64_t nonce);

//  Encode OPS with one SET of key into (PEER_DB, table), as version (1 or
//  2), and cut off the last cut bytes, or overwrite the op code when cut
//  is -1
void
    peer_ops (zsock_t *peer, int version, const byte *session, uint64_t sequence,
              const char *table, const char *key, int cut);

//  Receive the next reply; fails after PEER_DEADLINE
void
    peer_recv (zsock_t *peer, reply_t *reply);

//  Receive until a reply of type comes, skipping ACKs and server PINGs
void
    peer_expect (zsock_t *peer, reply_t *reply, int type);

//  Receive ACKs until one says delivered, skipping server PINGs; none may
//  go past it
void
    peer_expect_ack (zsock_t *peer, reply_t *reply, uint64_t delivered);

//  Pop the next operations from consumer and check their keys, in order:
//  keys is a space-separated list
void
    peer_expect_keys (zstate_consumer_t *consumer, const char *keys);

//  Wait until the server's stats satisfy a condition on stats
#define WAIT_STATS(server, stats, condition) \
    do { \
        int64_t wait_deadline = zclock_mono () + PEER_DEADLINE; \
        while (zstate_server_stats ((server), &(stats)) == 0 && !(condition)) { \
            assert (zclock_mono () < wait_deadline); \
            zclock_sleep (5); \
        } \
        assert (condition); \
    } while (0)

#endif
