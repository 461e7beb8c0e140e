/*  =========================================================================
    zstate_server_replay_suite - a full DB writer does not stop a session
    at level PERSISTED: its messages reach the consumer, and the writer
    gets them later through REPLAY (zstate_server_replay)

    A real server and consumer table, a raw DEALER speaking version 2 as
    a client would, and a fake writer: a PULL that is not read until the
    test says (so the server's PUSH fills), and a PUSH that sends
    CONFIRMED. Assertions are on what arrives, never on time.

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

#define WRITTEN         "WRITTEN_TABLE"
#define ENDPOINT        "inproc://zstate-server-replay-suite"
#define WRITER          "inproc://zstate-server-replay-writer"
#define MESSAGES        1500    //  more than the writer's pipe holds (1032)

//  The next copy the fake writer takes: its version and sequence
static void
s_copy_expect (zsock_t *copies, int version, uint64_t sequence)
{
    zframe_t *copy = zframe_recv (copies);
    assert (copy && zframe_size (copy) > 28);
    assert (zframe_data (copy) [2] == version);
    assert (zstate_server_get_uint64 (zframe_data (copy) + 20) == sequence);
    zframe_destroy (&copy);
}

//  The fake writer confirms sequence of session
static void
s_confirm (zsock_t *confirm, const byte *session, uint64_t sequence)
{
    byte data [ZSTATE_WATERMARK_SIZE];
    memcpy (data, session, ZSTATE_MSG_SESSION_SIZE);
    for (int index = 0; index < 8; index++)
        data [ZSTATE_MSG_SESSION_SIZE + index] = (byte) (sequence >> (56 - 8 * index));
    int rc = zsock_send (confirm, "sssb", "CONFIRMED", PEER_DB, WRITTEN, data, sizeof (data));
    assert (rc == 0);
}

//  ACKs until one says delivered and persisted; none says more
static void
s_expect_persisted (zsock_t *peer, reply_t *reply, uint64_t delivered, uint64_t persisted)
{
    do {
        peer_recv (peer, reply);
        assert (reply->msg.type == ZSTATE_SESSION_MSG_ACK);
        assert (reply->msg.persisted <= persisted && reply->msg.delivered <= delivered);
    } while (reply->msg.persisted < persisted || reply->msg.delivered < delivered);
}

//  The consumer pops keys k<first> .. k<last>, in order
static void
s_expect_range (zstate_consumer_t *consumer, uint64_t first, uint64_t last)
{
    char *keys = (char *) zmalloc (16 * (last - first + 1) + 1);
    assert (keys);
    for (uint64_t key = first; key <= last; key++)
        sprintf (keys + strlen (keys), "%sk%" PRIu64, key == first? "": " ", key);
    peer_expect_keys (consumer, keys);
    free (keys);
}

//  The writer reads again: what it had, in order, then a REPLAY asks for
//  the rest, which the peer sends again as a client would
static void
s_replay_round (zsock_t *peer, zsock_t *copies, const byte *id, uint64_t forwarded,
                reply_t *reply_p)
{
    reply_t reply = *reply_p;
    char key [32];
    for (uint64_t sequence = 1; sequence <= forwarded; sequence++)
        s_copy_expect (copies, ZSTATE_SESSION_VERSION, sequence);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_REPLAY);
    assert (reply.msg.sequence == forwarded + 1);
    uint64_t nonce = reply.msg.nonce;
    //  One the writer had: dropped; then the rest, then the PONG
    snprintf (key, sizeof (key), "k%" PRIu64, forwarded - 1);
    peer_ops (peer, 2, id, forwarded - 1, WRITTEN, key, 0);
    //  The writer gets each with its watermark (version 2) once the next
    //  one shows it was not the start of a coalesced block, so that Redis
    //  never holds more than its watermark says; sent one at a time, so
    //  that its pipe never fills
    for (uint64_t resent = forwarded + 1; resent < MESSAGES; resent++) {
        snprintf (key, sizeof (key), "k%" PRIu64, resent);
        peer_ops (peer, 2, id, resent, WRITTEN, key, 0);
        if (resent > forwarded + 1)
            s_copy_expect (copies, ZSTATE_SESSION_VERSION, resent - 1);
    }
    //  The last is a coalesced block of two, both numbered MESSAGES: the
    //  first goes as version 1, the second at the PONG as version 2
    snprintf (key, sizeof (key), "k%d", MESSAGES);
    peer_ops (peer, 2, id, MESSAGES, WRITTEN, key, 0);
    s_copy_expect (copies, ZSTATE_SESSION_VERSION, MESSAGES - 1);
    peer_ops (peer, 2, id, MESSAGES, WRITTEN, "kblock", 0);
    s_copy_expect (copies, ZSTATE_MSG_VERSION, MESSAGES);
    zstate_session_msg_t pong = { .type = ZSTATE_SESSION_MSG_PONG, .session = id,
                                  .epoch = reply.msg.epoch, .nonce = nonce };
    peer_send (peer, &pong);
    s_copy_expect (copies, ZSTATE_SESSION_VERSION, MESSAGES);
    *reply_p = reply;
}

void
zstate_server_replay_suite_test (bool verbose)
{
    printf (" * zstate_server_replay_suite: ");
    if (verbose)
        printf ("\n");
    zstate_server_t *server = zstate_server_new ();
    assert (server);
    zstate_server_set_verbose (server, verbose);
    int rc = zstate_server_set_heartbeat (server, 0);
    assert (rc == 0 && zstate_server_bind (server, ENDPOINT) == 0);
    zstate_consumer_t *consumer = zstate_consumer_new (server, PEER_DB, WRITTEN);
    zsock_t *copies = zsock_new (ZMQ_PULL);
    assert (consumer && copies);
    zsock_set_rcvtimeo (copies, PEER_DEADLINE);
    assert (zsock_bind (copies, WRITER) == 0);
    assert (zstate_consumer_forward (consumer, WRITER) == 0);
    zstate_server_link_t *link = zstate_server_link (server);
    char endpoint [256];
    rc = zstate_server_link_confirm_endpoint (link, endpoint, sizeof (endpoint));
    assert (rc == 0);
    zstate_server_link_release (&link);
    zsock_t *confirm = zsock_new (ZMQ_PUSH);
    assert (confirm && zsock_connect (confirm, "%s", endpoint) == 0);
    zsock_t *peer = peer_new (">" ENDPOINT);
    zuuid_t *uuid = zuuid_new ();
    const byte *id = zuuid_data (uuid);
    reply_t reply = { 0 };
    //  A client that offers the REPLAY feature is granted it
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = id, .sequence = 1,
        .ack_level = ZSTATE_SESSION_ACK_PERSISTED,
        .features = ZSTATE_SESSION_FEATURE_REPLAY | 0x80000000
    };
    peer_send (peer, &hello);
    peer_expect (peer, &reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (reply.msg.ack_level == ZSTATE_SESSION_ACK_PERSISTED);
    assert (reply.msg.features == ZSTATE_SESSION_FEATURE_REPLAY);

    //  The writer reads nothing, and the consumer still gets everything
    char key [32];
    for (uint64_t sequence = 1; sequence <= MESSAGES; sequence++) {
        snprintf (key, sizeof (key), "k%" PRIu64, sequence);
        peer_ops (peer, 2, id, sequence, WRITTEN, key, 0);
    }
    s_expect_range (consumer, 1, MESSAGES);
    zstate_server_stats_t stats;
    WAIT_STATS (server, stats, stats.writer_skipped > 0);
    assert (stats.stalls == 0);
    uint64_t forwarded = MESSAGES - stats.writer_skipped;
    assert (forwarded > 0 && forwarded < MESSAGES);
    //  P stops at what the writer had
    s_confirm (confirm, id, forwarded);
    s_expect_persisted (peer, &reply, MESSAGES, forwarded);

    s_replay_round (peer, copies, id, forwarded, &reply);
    s_confirm (confirm, id, MESSAGES);
    s_expect_persisted (peer, &reply, MESSAGES, MESSAGES);
    rc = zstate_server_stats (server, &stats);
    assert (rc == 0);
    assert (stats.replays_sent == 1 && stats.replayed == MESSAGES - forwarded + 1);
    assert (stats.replay_dropped == 1 && stats.duplicates == 0);
    //  The consumer got none of them again
    zstate_consumer_stats_t consumer_stats;
    zstate_consumer_stats (consumer, &consumer_stats);
    assert (consumer_stats.popped == MESSAGES && consumer_stats.queued_ops == 0);
    //  Caught up: the next message goes to the writer as before
    peer_ops (peer, 2, id, MESSAGES + 1, WRITTEN, "next", 0);
    s_copy_expect (copies, ZSTATE_SESSION_VERSION, MESSAGES + 1);
    peer_expect_keys (consumer, "next");

    zframe_destroy (&reply.frame);
    zuuid_destroy (&uuid);
    zsock_destroy (&peer);
    zsock_destroy (&confirm);
    zstate_consumer_destroy (&consumer);
    zsock_destroy (&copies);
    zstate_server_destroy (&server);
    printf ("OK\n");
}
