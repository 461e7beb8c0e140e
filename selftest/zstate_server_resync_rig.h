/*  =========================================================================
    zstate_server_resync_rig - what the server's state resync suites share:
    a server with consumer tables and a fake writer, and raw peers that
    speak the resync messages

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_RESYNC_RIG_H_INCLUDED
#define ZSTATE_SERVER_RESYNC_RIG_H_INCLUDED

#define TABLE           "PORT_TABLE"        //  no writer
#define WRITTEN         "WRITTEN_TABLE"     //  forwarded to the fake writer
#define OTHER_DB        "OTHER_DB"          //  WRITTEN there has a writer too
#define ALL             ""                  //  RESYNC of every table

//  Each test has a rig of its own, so that it counts only its sessions
typedef struct {
    char endpoint [64];         //  the server's, ">" and ENDPOINT
    zstate_server_t *server;
    zstate_consumer_t *ports;   //  PEER_DB/TABLE
    zstate_consumer_t *written; //  PEER_DB/WRITTEN, with the fake writer
    zstate_consumer_t *other;   //  OTHER_DB/WRITTEN, with it too
    zsock_t *copies;            //  the fake writer's PULL
    zsock_t *confirm;           //  ... and its PUSH to the server
    reply_t reply;              //  what a peer received last
} rig_t;

//  A server with heartbeats off, bound to an endpoint of its own, TABLE
//  without writer, WRITTEN in PEER_DB and OTHER_DB forwarded to the fake
//  writer, which holds one copy at most / destroy it
void
    rig_new (rig_t *rig, bool verbose);
void
    rig_destroy (rig_t *rig);

//  HELLO, offering RESYNC or not, first unacknowledged first; WELCOME
//  grants what was offered; a session new to a server with a table not
//  restored is then sent RESYNC of every table, when new_session says so
void
    rig_hello (rig_t *rig, zsock_t *peer, const byte *session, uint64_t first,
               bool resync, bool new_session);

//  A peer with a new session that was granted RESYNC, WELCOMEd
zsock_t *
    rig_peer_welcomed (rig_t *rig, zuuid_t **session_p);

//  Send SNAPSHOT-BEGIN / SNAPSHOT-END of (db, table)
void
    rig_begin (zsock_t *peer, const byte *session, uint64_t sequence, const char *db,
               const char *table, int kind);
void
    rig_end (zsock_t *peer, const byte *session, uint64_t sequence, const char *db,
             const char *table, uint64_t begin, uint64_t count, int status);

//  Send msg encoded, with the octet offset octets before its end set to
//  value, or cut there when value is -1: what the encoder never makes
void
    rig_send_broken (zsock_t *peer, zstate_session_msg_t *msg, size_t offset, int value);

//  Answer the server's PING as a client does
void
    rig_pong (zsock_t *peer, reply_t *ping);

//  PING and read up to its PONG, answering the server's PINGs: return how
//  many RESYNCs of (db, table) came before it; any other RESYNC fails
size_t
    rig_resyncs (rig_t *rig, zsock_t *peer, const byte *session, const char *db,
                 const char *table);

//  The same; with welcomed, a RESYNC may only follow a WELCOME, and
//  *welcomed says whether one came
size_t
    rig_resyncs_welcomed (rig_t *rig, zsock_t *peer, const byte *session, const char *db,
                          const char *table, bool *welcomed);

//  Take the next forwarded copy and check its type and sequence; *msg,
//  unless NULL, gets its fields but the pointers
void
    rig_copy (rig_t *rig, int type, uint64_t sequence, zstate_session_msg_t *msg);

//  Run one test on a rig of its own
void
    rig_run (void (*test) (rig_t *rig), bool verbose);

#endif
