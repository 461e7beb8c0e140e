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

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_peer.h"

const byte peer_zero_epoch [ZSTATE_SESSION_EPOCH_SIZE] = { 0 };

zsock_t *
peer_new (const char *endpoint)
{
    zsock_t *peer = zsock_new_dealer (endpoint);
    assert (peer);
    zsock_set_rcvtimeo (peer, PEER_DEADLINE);
    return peer;
}

void
peer_send (zsock_t *peer, zstate_session_msg_t *msg)
{
    zmq_msg_t frame;
    int rc = zstate_session_msg_encode_frame (msg, &frame);
    assert (rc == 0);
    rc = zmq_msg_send (&frame, zsock_resolve (peer), 0);
    assert (rc != -1);
}

void
peer_hello (zsock_t *peer, const byte *session, uint64_t first_unacked, int level,
            uint32_t heartbeat)
{
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = session,
        .sequence = first_unacked, .ack_level = level, .heartbeat = heartbeat
    };
    peer_send (peer, &hello);
}

void
peer_ping (zsock_t *peer, const byte *session, uint64_t nonce)
{
    zstate_session_msg_t ping = {
        .type = ZSTATE_SESSION_MSG_PING, .session = session,
        .epoch = peer_zero_epoch, .nonce = nonce
    };
    peer_send (peer, &ping);
}

void
peer_ops (zsock_t *peer, int version, const byte *session, uint64_t sequence,
          const char *table, const char *key, int cut)
{
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, key, "value", "1", NULL);
    assert (rc == 0);
    zframe_t *frame = zstate_msg_encode (session, sequence, PEER_DB, table, batch);
    assert (frame);
    zframe_data (frame) [2] = (byte) version;
    size_t size = zframe_size (frame);
    if (cut == -1)
        zframe_data (frame) [42 + strlen (PEER_DB) + strlen (table)] = 0x7F;
    else
        size -= (size_t) cut;
    rc = zmq_send (zsock_resolve (peer), zframe_data (frame), size, 0);
    assert (rc == (int) size);
    zframe_destroy (&frame);
    zstate_batch_destroy (&batch);
}

void
peer_recv (zsock_t *peer, reply_t *reply)
{
    zframe_destroy (&reply->frame);
    reply->frame = zframe_recv (peer);
    assert (reply->frame);
    int rc = zstate_session_msg_decode (&reply->msg, zframe_data (reply->frame),
                                        zframe_size (reply->frame));
    assert (rc == 0);
    assert (reply->msg.version == 2);
}

void
peer_expect (zsock_t *peer, reply_t *reply, int type)
{
    do
        peer_recv (peer, reply);
    while (reply->msg.type != type
       && (reply->msg.type == ZSTATE_SESSION_MSG_ACK
        || reply->msg.type == ZSTATE_SESSION_MSG_PING));
    assert (reply->msg.type == type);
}

void
peer_expect_ack (zsock_t *peer, reply_t *reply, uint64_t delivered)
{
    do {
        do
            peer_recv (peer, reply);
        while (reply->msg.type == ZSTATE_SESSION_MSG_PING);
        assert (reply->msg.type == ZSTATE_SESSION_MSG_ACK);
        assert (reply->msg.delivered <= delivered);
    } while (reply->msg.delivered < delivered);
}

void
peer_expect_keys (zstate_consumer_t *consumer, const char *keys)
{
    zstate_batch_t *batch = zstate_batch_new ();
    zpoller_t *poller = zpoller_new (zstate_consumer_socket (consumer), NULL);
    assert (poller);
    char *copy = strdup (keys);
    char *saved = NULL;
    char *key = strtok_r (copy, " ", &saved);
    while (key) {
        if (zstate_consumer_pending (consumer) == 0) {
            void *which = zpoller_wait (poller, PEER_DEADLINE);
            assert (which);
        }
        if (zstate_consumer_pops (consumer, batch, 1) == 1) {
            assert (streq (zstate_batch_key (batch, 0, NULL), key));
            key = strtok_r (NULL, " ", &saved);
        }
    }
    free (copy);
    zpoller_destroy (&poller);
    zstate_batch_destroy (&batch);
}
