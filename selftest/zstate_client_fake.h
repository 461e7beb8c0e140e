/*  =========================================================================
    zstate_client_fake - a scripted version 2 server for the client's
    session suites: a raw ROUTER that speaks through the session codec and
    answers only what each test tells it to

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CLIENT_FAKE_H_INCLUDED
#define ZSTATE_CLIENT_FAKE_H_INCLUDED

#include "zstate_client_agent.h"

#define HEARTBEAT       1000        //  Client heartbeat in most tests, msecs
#define PATIENT_HEARTBEAT 600000    //  ... where the client must not give up
                                    //  on an unanswered HELLO during the test
#define SHORT_HEARTBEAT 50          //  In the test of a silent server
#define WAIT            10000       //  Generous wait for anything expected

//  The scripted server
typedef struct {
    zsock_t *router;
    char *endpoint;
    byte epoch [ZSTATE_SESSION_EPOCH_SIZE];
    byte session [ZSTATE_MSG_SESSION_SIZE];
    byte expected [ZSTATE_MSG_SESSION_SIZE];    //  The session of our client
    size_t strays;              //  Messages of other peers, dropped
    zframe_t *routing_id;       //  Of the latest HELLO
    zframe_t *last_from;        //  Routing id of the last message
    zmsg_t *last;               //  Last message received; msg points into it
    zstate_session_msg_t msg;   //  Its decoded form
    size_t hellos;              //  HELLOs received
    size_t pings;               //  PINGs received (each answered with PONG)
    size_t opses;               //  OPS received
    uint32_t heartbeat;         //  The client's, from its HELLO
    bool welcome_all;           //  Answer every HELLO with a WELCOME
    uint32_t features;          //  Its WELCOMEs grant these (none by default)
    uint32_t offered;           //  The client's, from its HELLO
    uint64_t nonce;             //  Of our last PING
} fake_t;

//  A ROUTER bound to a port the kernel picks, with epoch 01 02 .. 10
fake_t *
    fake_new (void);

//  The same, buffering as little as it can, so that the client's socket
//  fills when it does not read
fake_t *
    fake_new_slow (void);

void
    fake_destroy (fake_t **self_p);

//  Send one session message to the routing id of the latest HELLO
void
    fake_send (fake_t *self, zstate_session_msg_t *msg);

//  PING the client, as a server does while it holds the client's messages
void
    fake_ping (fake_t *self);

//  Receive the next message of our client by deadline (a zclock_mono
//  time) into self->last and self->msg; anything else is counted in
//  strays and dropped. Returns false at the deadline.
bool
    fake_next (fake_t *self, int64_t deadline);

//  Receive the next message of type (any when 0) within timeout, answering
//  PINGs and recording HELLOs on the way. Returns false on timeout.
bool
    fake_recv (fake_t *self, int type, int timeout);

//  WELCOME with delivered, persisted and the level granted
void
    fake_welcome_at (fake_t *self, uint64_t delivered, uint64_t persisted, int level);

//  WELCOME at level DELIVERED, delivered = persisted
void
    fake_welcome (fake_t *self, uint64_t delivered);

//  ACK delivered and persisted; fake_ack with both the same
void
    fake_ack_at (fake_t *self, uint64_t delivered, uint64_t persisted);
void
    fake_ack (fake_t *self, uint64_t delivered);

//  RESYNC (db, table); both "" for every table
void
    fake_resync (fake_t *self, const char *db, const char *table);

//  Expect the OPS with exactly this sequence next (PINGs aside)
void
    fake_expect_ops (fake_t *self, uint64_t sequence);

//  A client with a short heartbeat, connected to the scripted server,
//  whose HELLO the server has seen (and WELCOMEd with delivered 0 when
//  welcome)
zstate_client_t *
    fake_client_new_at (fake_t *fake, bool welcome, int heartbeat, int level, bool verbose);

zstate_client_t *
    fake_client_new (fake_t *fake, bool welcome, int heartbeat, bool verbose);

//  The same for a client the caller made, and set up what must be set
//  before connect
void
    fake_client_connect (fake_t *fake, zstate_client_t *client, bool welcome,
                         int heartbeat, int level);

//  Send one operation SET key { field = value }
void
    fake_send_key (zstate_client_t *client, const char *key, const char *value);

//  Send count messages of one operation each, each on a key of its own
//  (three characters, as "key"), so that coalescing cannot fold them
void
    fake_send_ops (zstate_client_t *client, size_t count);

//  Send count messages of one operation each, from sequence first: each
//  waits for the one before at the server, so that none share a message
void
    fake_send_each (zstate_client_t *client, fake_t *fake, size_t count, uint64_t first);

//  Wait for an event of type; its detail, when found, into detail
bool
    fake_event (zstate_client_t *client, const char *type, char *detail, size_t size);

//  Wait until done says the stats are what the test needs
void
    fake_wait_stats (zstate_client_t *client, zstate_client_stats_t *stats,
                     bool (*done) (zstate_client_stats_t *stats));

//  The state resync suite (zstate_client_resync_suite.c)
void
    zstate_client_resync_suite (bool verbose);

//  The level and outbox suite (zstate_client_level_suite.c)
void
    zstate_client_level_suite (bool verbose);

#endif
