/*  =========================================================================
    zstate_server_resync_rig - what the server's state resync suites share

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_watermarks.h"
#include "zstate_server_peer.h"
#include "zstate_server_resync_rig.h"

#define ENDPOINT        "inproc://zstate-server-resync-suite-%d"
#define WRITER          "inproc://zstate-server-resync-writer-%d"

void
rig_new (rig_t *rig, bool verbose)
{
    static int rigs = 0;
    memset (rig, 0, sizeof (*rig));
    rigs++;
    snprintf (rig->endpoint, sizeof (rig->endpoint), ">" ENDPOINT, rigs);
    char writer [64];
    snprintf (writer, sizeof (writer), WRITER, rigs);
    rig->server = zstate_server_new ();
    assert (rig->server);
    zstate_server_set_verbose (rig->server, verbose);
    int rc = zstate_server_set_heartbeat (rig->server, 0);
    assert (rc == 0);
    rc = zstate_server_bind (rig->server, rig->endpoint + 1);
    assert (rc == 0);
    rig->ports = zstate_consumer_new (rig->server, PEER_DB, TABLE);
    rig->written = zstate_consumer_new (rig->server, PEER_DB, WRITTEN);
    rig->other = zstate_consumer_new (rig->server, OTHER_DB, WRITTEN);
    rig->copies = zsock_new (ZMQ_PULL);
    assert (rig->copies);
    //  A writer that holds little, so that a test can fill it
    zsock_set_rcvhwm (rig->copies, 1);
    rc = zsock_bind (rig->copies, "%s", writer);
    assert (rc == 0);
    assert (rig->ports && rig->written && rig->other && rig->copies);
    zsock_set_rcvtimeo (rig->copies, PEER_DEADLINE);
    rc = zstate_consumer_forward (rig->written, writer);
    assert (rc == 0);
    rc = zstate_consumer_forward (rig->other, writer);
    assert (rc == 0);
    zstate_server_link_t *link = zstate_server_link (rig->server);
    char endpoint [256];
    rc = zstate_server_link_confirm_endpoint (link, endpoint, sizeof (endpoint));
    assert (rc == 0);
    zstate_server_link_release (&link);
    rig->confirm = zsock_new (ZMQ_PUSH);
    assert (rig->confirm);
    rc = zsock_connect (rig->confirm, "%s", endpoint);
    assert (rc == 0);
}

void
rig_destroy (rig_t *rig)
{
    zframe_destroy (&rig->reply.frame);
    zsock_destroy (&rig->confirm);
    zstate_consumer_destroy (&rig->ports);
    zstate_consumer_destroy (&rig->written);
    zstate_consumer_destroy (&rig->other);
    zsock_destroy (&rig->copies);
    zstate_server_destroy (&rig->server);
}

//  HELLO, offering RESYNC or not, first unacknowledged first; WELCOME
//  grants what was offered; a session new to a server with a table not
//  restored is then sent RESYNC of every table, when new says it is
void
rig_hello (rig_t *rig, zsock_t *peer, const byte *session, uint64_t first, bool resync,
         bool new_session)
{
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = session, .sequence = first,
        .ack_level = ZSTATE_SESSION_ACK_DELIVERED,
        .features = resync? ZSTATE_SESSION_FEATURE_RESYNC: 0
    };
    peer_send (peer, &hello);
    peer_expect (peer, &rig->reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.features == (resync? ZSTATE_SESSION_FEATURE_RESYNC: 0u));
    if (resync && new_session) {
        peer_recv (peer, &rig->reply);
        assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_RESYNC);
        assert (streq (rig->reply.msg.db, ALL) && streq (rig->reply.msg.table, ALL));
        assert (memcmp (rig->reply.msg.session, session, ZSTATE_MSG_SESSION_SIZE) == 0);
    }
}

//  A peer with a new session that was granted RESYNC, WELCOMEd
zsock_t *
rig_peer_welcomed (rig_t *rig, zuuid_t **session_p)
{
    zsock_t *peer = peer_new (rig->endpoint);
    *session_p = zuuid_new ();
    rig_hello (rig, peer, zuuid_data (*session_p), 1, true, true);
    return peer;
}

//  Send SNAPSHOT-BEGIN / SNAPSHOT-END of (db, table)
void
rig_begin (zsock_t *peer, const byte *session, uint64_t sequence, const char *db,
         const char *table, int kind)
{
    zstate_session_msg_t begin = {
        .type = ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN, .session = session,
        .sequence = sequence, .db = db, .table = table, .kind = kind
    };
    peer_send (peer, &begin);
}

void
rig_end (zsock_t *peer, const byte *session, uint64_t sequence, const char *db,
       const char *table, uint64_t begin, uint64_t count, int status)
{
    zstate_session_msg_t end = {
        .type = ZSTATE_SESSION_MSG_SNAPSHOT_END, .session = session,
        .sequence = sequence, .db = db, .table = table, .begin = begin,
        .count = count, .status = status
    };
    peer_send (peer, &end);
}

//  Send msg encoded, with the octet offset octets before its end set to
//  value, or cut there when value is -1: what the encoder never makes
void
rig_send_broken (zsock_t *peer, zstate_session_msg_t *msg, size_t offset, int value)
{
    byte buffer [1024];
    ssize_t size = zstate_session_msg_encode (msg, buffer, sizeof (buffer));
    assert (size > (ssize_t) offset);
    if (value == -1)
        size -= (ssize_t) offset;
    else
        buffer [size - (ssize_t) offset] = (byte) value;
    int rc = zmq_send (zsock_resolve (peer), buffer, (size_t) size, 0);
    assert (rc == (int) size);
}

//  Answer the server's PING as a client does
void
rig_pong (zsock_t *peer, reply_t *ping)
{
    zstate_session_msg_t pong = {
        .type = ZSTATE_SESSION_MSG_PONG, .session = ping->msg.session,
        .epoch = ping->msg.epoch, .nonce = ping->msg.nonce
    };
    peer_send (peer, &pong);
}

//  PING and read up to its PONG, answering the server's PINGs: return how
//  many RESYNCs of (db, table) came before it; any other RESYNC fails.
//  When it answered a PING, the server may not have read that PONG yet
//  (it answered our PING first), and a peer closed now would lose it and
//  leave the RESYNC unconfirmed: so it pings again until a round trip
//  answers no PING, which proves the server read every PONG sent.
size_t
rig_resyncs (rig_t *rig, zsock_t *peer, const byte *session, const char *db,
           const char *table)
{
    return rig_resyncs_welcomed (rig, peer, session, db, table, NULL);
}

//  The same; with welcomed, a RESYNC may only follow a WELCOME, and
//  *welcomed says whether one came
size_t
rig_resyncs_welcomed (rig_t *rig, zsock_t *peer, const byte *session, const char *db,
                      const char *table, bool *welcomed)
{
    static uint64_t nonce = 0;
    if (welcomed)
        *welcomed = false;
    size_t resyncs = 0;
    for (int round = 0; ; round++) {
        assert (round < 100);
        peer_ping (peer, session, ++nonce);
        bool answered = false;
        for (peer_recv (peer, &rig->reply); rig->reply.msg.type != ZSTATE_SESSION_MSG_PONG;
             peer_recv (peer, &rig->reply)) {
            if (rig->reply.msg.type == ZSTATE_SESSION_MSG_WELCOME) {
                if (welcomed)
                    *welcomed = true;
            }
            else
            if (rig->reply.msg.type == ZSTATE_SESSION_MSG_RESYNC) {
                assert (!welcomed || *welcomed);
                assert (streq (rig->reply.msg.db, db) && streq (rig->reply.msg.table, table));
                assert (memcmp (rig->reply.msg.session, session, ZSTATE_MSG_SESSION_SIZE) == 0);
                resyncs++;
            }
            else
            if (rig->reply.msg.type == ZSTATE_SESSION_MSG_PING) {
                rig_pong (peer, &rig->reply);
                answered = true;
            }
        }
        assert (rig->reply.msg.nonce == nonce);
        if (!answered)
            return resyncs;
    }
}

//  Take the next forwarded copy and check its type and sequence
void
rig_copy (rig_t *rig, int type, uint64_t sequence, zstate_session_msg_t *msg)
{
    zframe_t *copy = zframe_recv (rig->copies);
    assert (copy);
    zstate_session_msg_t decoded;
    int rc = zstate_session_msg_decode (&decoded, zframe_data (copy), zframe_size (copy));
    assert (rc == 0);
    assert (decoded.version == 2);
    assert (decoded.type == type && decoded.sequence == sequence);
    if (msg) {
        //  Its names point into the frame: keep what is not a pointer
        *msg = decoded;
        msg->db = msg->table = NULL;
        msg->session = NULL;
    }
    zframe_destroy (&copy);
}

//  Run one test on a rig of its own
void
rig_run (void (*test) (rig_t *rig), bool verbose)
{
    rig_t rig;
    rig_new (&rig, verbose);
    test (&rig);
    rig_destroy (&rig);
}
