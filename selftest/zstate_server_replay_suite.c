/*  =========================================================================
    zstate_server_replay_suite - a full DB writer does not stop a session
    at level PERSISTED: its messages reach the consumer, and the writer
    gets them later through REPLAY (zstate_server_replay)

    A real server and consumer tables, a raw DEALER speaking version 2 as
    a client would, and a fake writer per table: a PULL that is not read
    until the test says (so the server's PUSH fills), and a PUSH that
    sends CONFIRMED. One table behind, then two of one session at once, a
    coalesced block, and a client that sends past a round's max.
    Assertions are on what arrives, never on time.

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
#define OTHER           "OTHER_TABLE"
#define WRITER_OTHER    "inproc://zstate-server-replay-other"
#define MESSAGES        1500    //  more than the writer's pipe holds (1032)

//  The next copy the fake writer takes: its version and sequence, and a
//  message of table
static void
s_copy_expect (zsock_t *copies, const char *table, int version, uint64_t sequence)
{
    zframe_t *copy = zframe_recv (copies);
    assert (copy && zframe_size (copy) > 28);
    assert (zframe_data (copy) [2] == version);
    assert (zstate_server_get_uint64 (zframe_data (copy) + 20) == sequence);
    zframe_data (copy) [2] = ZSTATE_MSG_VERSION;
    zstate_msg_t *decoder = zstate_msg_new ();
    assert (decoder);
    assert (zstate_msg_decode (decoder, zframe_data (copy), zframe_size (copy)) == 0);
    assert (streq (zstate_msg_table (decoder), table));
    zstate_msg_destroy (&decoder);
    zframe_destroy (&copy);
}

//  The fake writer confirms sequence of session in table
static void
s_confirm (zsock_t *confirm, const char *table, const byte *session, uint64_t sequence)
{
    byte data [ZSTATE_WATERMARK_SIZE];
    memcpy (data, session, ZSTATE_MSG_SESSION_SIZE);
    for (int index = 0; index < 8; index++)
        data [ZSTATE_MSG_SESSION_SIZE + index] = (byte) (sequence >> (56 - 8 * index));
    int rc = zsock_send (confirm, "sssb", "CONFIRMED", PEER_DB, table, data, sizeof (data));
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

#define ROUND_SEQUENCES 128     //  what the server asks for in one round
#define ROUND_MESSAGES  256     //  and the messages it takes at most

//  The writer reads again: what it had, in order, then REPLAYs ask for
//  the rest, ROUND_SEQUENCES at a time, one round after another's PONG,
//  and the peer sends each round again as a client would. Returns how
//  many rounds there were.
static int
s_replay_rounds (zsock_t *peer, zsock_t *copies, const byte *id, uint64_t forwarded,
                 reply_t *reply_p)
{
    reply_t reply = *reply_p;
    char key [32];
    for (uint64_t sequence = 1; sequence <= forwarded; sequence++)
        s_copy_expect (copies, WRITTEN, ZSTATE_SESSION_VERSION, sequence);
    uint64_t from = forwarded + 1;
    int rounds = 0;
    while (from <= MESSAGES) {
        peer_expect (peer, &reply, ZSTATE_SESSION_MSG_REPLAY);
        uint64_t to = from + ROUND_SEQUENCES - 1 < MESSAGES? from + ROUND_SEQUENCES - 1: MESSAGES;
        //  A round that ended whole is not asked for again
        assert (reply.msg.sequence == from && reply.msg.to == to);
        uint64_t nonce = reply.msg.nonce;
        if (rounds++ == 0) {
            //  One the writer had: dropped
            snprintf (key, sizeof (key), "k%" PRIu64, forwarded - 1);
            peer_ops (peer, 2, id, forwarded - 1, WRITTEN, key, 0);
        }
        //  The writer gets each with its watermark (version 2) once the
        //  next one shows it was not the start of a coalesced block, so
        //  that Redis never holds more than its watermark says; sent one
        //  at a time, so that its pipe never fills
        for (uint64_t resent = from; resent <= to && resent < MESSAGES; resent++) {
            snprintf (key, sizeof (key), "k%" PRIu64, resent);
            peer_ops (peer, 2, id, resent, WRITTEN, key, 0);
            if (resent > from)
                s_copy_expect (copies, WRITTEN, ZSTATE_SESSION_VERSION, resent - 1);
        }
        if (to == MESSAGES) {
            //  The last is a coalesced block of two, both numbered
            //  MESSAGES: the first goes as version 1, the second at the
            //  PONG as version 2
            snprintf (key, sizeof (key), "k%d", MESSAGES);
            peer_ops (peer, 2, id, MESSAGES, WRITTEN, key, 0);
            if (from < MESSAGES)
                s_copy_expect (copies, WRITTEN, ZSTATE_SESSION_VERSION, MESSAGES - 1);
            peer_ops (peer, 2, id, MESSAGES, WRITTEN, "kblock", 0);
            s_copy_expect (copies, WRITTEN, ZSTATE_MSG_VERSION, MESSAGES);
        }
        zstate_session_msg_t pong = { .type = ZSTATE_SESSION_MSG_PONG, .session = id,
                                      .epoch = reply.msg.epoch, .nonce = nonce };
        peer_send (peer, &pong);
        s_copy_expect (copies, WRITTEN, ZSTATE_SESSION_VERSION, to);
        from = to + 1;
    }
    *reply_p = reply;
    return rounds;
}

//  A real server, a consumer per table, each forwarding to a fake writer
//  of its own, and a peer whose session was granted REPLAY
typedef struct {
    zstate_server_t *server;
    zstate_consumer_t *consumers [2];
    zsock_t *copies [2];        //  the fake writers
    zsock_t *confirm;           //  sends their CONFIRMED
    zsock_t *peer;
    zuuid_t *uuid;
    const byte *id;             //  the peer's session
    reply_t reply;
} rig_t;

static const char *s_tables [2] = { WRITTEN, OTHER };
static const char *s_writers [2] = { WRITER, WRITER_OTHER };

static void
s_rig_start (rig_t *rig, int tables, bool verbose)
{
    memset (rig, 0, sizeof (rig_t));
    rig->server = zstate_server_new ();
    assert (rig->server);
    zstate_server_set_verbose (rig->server, verbose);
    int rc = zstate_server_set_heartbeat (rig->server, 0);
    assert (rc == 0 && zstate_server_bind (rig->server, ENDPOINT) == 0);
    for (int table = 0; table < tables; table++) {
        rig->consumers [table] = zstate_consumer_new (rig->server, PEER_DB, s_tables [table]);
        rig->copies [table] = zsock_new (ZMQ_PULL);
        assert (rig->consumers [table] && rig->copies [table]);
        zsock_set_rcvtimeo (rig->copies [table], PEER_DEADLINE);
        assert (zsock_bind (rig->copies [table], "%s", s_writers [table]) == 0);
        rc = zstate_consumer_forward (rig->consumers [table], s_writers [table]);
        assert (rc == 0);
    }
    zstate_server_link_t *link = zstate_server_link (rig->server);
    char endpoint [256];
    rc = zstate_server_link_confirm_endpoint (link, endpoint, sizeof (endpoint));
    assert (rc == 0);
    zstate_server_link_release (&link);
    rig->confirm = zsock_new (ZMQ_PUSH);
    assert (rig->confirm && zsock_connect (rig->confirm, "%s", endpoint) == 0);
    rig->peer = peer_new (">" ENDPOINT);
    rig->uuid = zuuid_new ();
    rig->id = zuuid_data (rig->uuid);
    //  A client that offers the REPLAY feature is granted it
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = rig->id, .sequence = 1,
        .ack_level = ZSTATE_SESSION_ACK_PERSISTED,
        .features = ZSTATE_SESSION_FEATURE_REPLAY | 0x80000000
    };
    peer_send (rig->peer, &hello);
    peer_expect (rig->peer, &rig->reply, ZSTATE_SESSION_MSG_WELCOME);
    assert (rig->reply.msg.ack_level == ZSTATE_SESSION_ACK_PERSISTED);
    assert (rig->reply.msg.features == ZSTATE_SESSION_FEATURE_REPLAY);
}

static void
s_rig_stop (rig_t *rig)
{
    zframe_destroy (&rig->reply.frame);
    zuuid_destroy (&rig->uuid);
    zsock_destroy (&rig->peer);
    zsock_destroy (&rig->confirm);
    for (int table = 0; table < 2; table++) {
        zstate_consumer_destroy (&rig->consumers [table]);
        zsock_destroy (&rig->copies [table]);
    }
    zstate_server_destroy (&rig->server);
}

//  Starts a rig of one table, whose peer sends MESSAGES to a writer that
//  reads nothing: the consumer still gets everything, and the server goes
//  on without the writer. Returns how many the writer got.
static uint64_t
s_fill (rig_t *rig, bool verbose)
{
    s_rig_start (rig, 1, verbose);
    char key [32];
    for (uint64_t sequence = 1; sequence <= MESSAGES; sequence++) {
        snprintf (key, sizeof (key), "k%" PRIu64, sequence);
        peer_ops (rig->peer, 2, rig->id, sequence, WRITTEN, key, 0);
    }
    s_expect_range (rig->consumers [0], 1, MESSAGES);
    zstate_server_stats_t stats;
    WAIT_STATS (rig->server, stats, stats.writer_skipped > 0);
    assert (stats.stalls == 0);
    uint64_t forwarded = MESSAGES - stats.writer_skipped;
    assert (forwarded > 0 && forwarded < MESSAGES);
    return forwarded;
}

//  One table behind
static void
s_test_one_table (bool verbose)
{
    rig_t rig;
    uint64_t forwarded = s_fill (&rig, verbose);
    zsock_t *peer = rig.peer;
    const byte *id = rig.id;
    zstate_server_stats_t stats;
    //  P stops at what the writer had
    s_confirm (rig.confirm, WRITTEN, id, forwarded);
    s_expect_persisted (peer, &rig.reply, MESSAGES, forwarded);

    int rounds = s_replay_rounds (peer, rig.copies [0], id, forwarded, &rig.reply);
    assert (rounds == (int) ((MESSAGES - forwarded + ROUND_SEQUENCES - 1) / ROUND_SEQUENCES));
    s_confirm (rig.confirm, WRITTEN, id, MESSAGES);
    s_expect_persisted (peer, &rig.reply, MESSAGES, MESSAGES);
    int rc = zstate_server_stats (rig.server, &stats);
    assert (rc == 0);
    assert (stats.replays_sent == (uint64_t) rounds
         && stats.replayed == MESSAGES - forwarded + 1);
    assert (stats.replay_dropped == 1 && stats.duplicates == 0);
    //  The consumer got none of them again
    zstate_consumer_stats_t consumer_stats;
    zstate_consumer_stats (rig.consumers [0], &consumer_stats);
    assert (consumer_stats.popped == MESSAGES && consumer_stats.queued_ops == 0);
    //  Caught up: the next message goes to the writer as before
    peer_ops (peer, 2, id, MESSAGES + 1, WRITTEN, "next", 0);
    s_copy_expect (rig.copies [0], WRITTEN, ZSTATE_SESSION_VERSION, MESSAGES + 1);
    peer_expect_keys (rig.consumers [0], "next");
    s_rig_stop (&rig);
}

//  The writer's next copy is the chunk of a coalesced block numbered
//  sequence, as version, whose key is c<index>
static void
s_chunk_expect (zsock_t *copies, int version, uint64_t sequence, uint32_t index)
{
    zframe_t *copy = zframe_recv (copies);
    assert (copy && zframe_size (copy) > 28);
    assert (zframe_data (copy) [2] == version);
    assert (zstate_server_get_uint64 (zframe_data (copy) + 20) == sequence);
    char key [16];
    snprintf (key, sizeof (key), "c%05u", index);
    assert (memmem (zframe_data (copy), zframe_size (copy), key, strlen (key)));
    zframe_destroy (&copy);
}

//  A coalesced block bigger than the writer's pipe: the client sends its
//  messages (all numbered as the block's last sequence) again in every
//  round, and a round breaks where the writer is full. The next REPLAY
//  skips what the writer has, so that each round gets further and the
//  writer gets every message of the block once, in order
static void
s_test_block (bool verbose)
{
    rig_t rig;
    uint64_t forwarded = s_fill (&rig, verbose);
    zsock_t *peer = rig.peer;
    const byte *id = rig.id;
    zstate_server_stats_t stats;
    char key [32];
    for (uint64_t sequence = 1; sequence <= forwarded; sequence++)
        s_copy_expect (rig.copies [0], WRITTEN, ZSTATE_SESSION_VERSION, sequence);
    //  The client coalesced forwarded + 1 .. MESSAGES into one block of
    //  MESSAGES messages, more than the writer's pipe holds (1032)
    uint32_t next = 0;          //  the chunks the writer got, in order
    uint32_t held = 0;          //  1 while the server holds the next for it
    uint64_t from = forwarded + 1;
    int rounds = 0;
    while (next < MESSAGES) {
        assert (++rounds <= MESSAGES);
        reply_t *reply = &rig.reply;
        peer_expect (peer, reply, ZSTATE_SESSION_MSG_REPLAY);
        assert (reply->msg.sequence == from && reply->msg.max == ROUND_MESSAGES);
        //  From the block's own sequence, the writer has (or the server
        //  holds for it) what it skips; each round gets further
        uint32_t skip = reply->msg.skip;
        assert (skip == next + held && (rounds == 1 || skip > 0));
        //  The client sends at most max of a block numbered up to to
        bool bounded = MESSAGES <= reply->msg.to;
        uint32_t end = bounded && skip + reply->msg.max < MESSAGES?
                       skip + reply->msg.max: MESSAGES;
        int rc = zstate_server_stats (rig.server, &stats);
        assert (rc == 0);
        for (uint32_t chunk = skip; chunk < end; chunk++) {
            snprintf (key, sizeof (key), "c%05u", chunk);
            peer_ops (peer, 2, id, MESSAGES, WRITTEN, key, 0);
        }
        zstate_session_msg_t pong = { .type = ZSTATE_SESSION_MSG_PONG, .session = id,
                                      .epoch = reply->msg.epoch, .nonce = reply->msg.nonce };
        peer_send (peer, &pong);
        //  Each message of the round, and one the server held, is
        //  replayed or dropped: all but the block's last go as version 1
        //  (the block goes on), up to where the writer was full; a round
        //  that came to its max keeps its last held, unless it broke
        uint64_t sent = end - skip + held;
        bool cut = bounded && end - skip == reply->msg.max;
        uint64_t replayed = stats.replayed, dropped = stats.replay_dropped;
        WAIT_STATS (rig.server, stats, stats.replay_dropped > dropped?
                    stats.replayed - replayed + stats.replay_dropped - dropped == sent:
                    stats.replayed - replayed == sent - cut);
        uint64_t got = stats.replayed - replayed;
        held = stats.replay_dropped == dropped && cut;
        assert (got > 0);
        for (uint64_t copy = 0; copy < got; copy++, next++)
            s_chunk_expect (rig.copies [0], next == MESSAGES - 1? ZSTATE_SESSION_VERSION:
                            ZSTATE_MSG_VERSION, MESSAGES, next);
        from = MESSAGES;
    }
    assert (rounds >= 2);
    if (verbose)
        zsys_debug ("a block of %d messages: %d rounds", MESSAGES, rounds);
    s_confirm (rig.confirm, WRITTEN, id, MESSAGES);
    s_expect_persisted (peer, &rig.reply, MESSAGES, MESSAGES);
    zstate_consumer_stats_t consumer_stats;
    zstate_consumer_stats (rig.consumers [0], &consumer_stats);
    assert (consumer_stats.popped == MESSAGES && consumer_stats.queued_ops == 0);
    s_rig_stop (&rig);
}

//  The peer answers a REPLAY as a client does: it sends again, in order,
//  what it holds from the REPLAY's from up to its to, of both tables,
//  then PONGs its nonce; a REPLAY that comes meanwhile makes it give up
//  the earlier one and answer the new one. Returns how many it gave up.
static int
s_answer (zsock_t *peer, const byte *id, reply_t *reply)
{
    byte epoch [ZSTATE_SESSION_EPOCH_SIZE];
    memcpy (epoch, reply->msg.epoch, sizeof (epoch));
    uint64_t sequence = reply->msg.sequence;
    uint64_t to = reply->msg.to;
    uint64_t nonce = reply->msg.nonce;
    assert (to >= sequence && to - sequence < ROUND_SEQUENCES && to <= 2 * MESSAGES);
    int abandoned = 0;
    char key [32];
    while (sequence <= to) {
        snprintf (key, sizeof (key), "k%" PRIu64, sequence);
        peer_ops (peer, 2, id, sequence, sequence <= MESSAGES? WRITTEN: OTHER, key, 0);
        sequence++;
        while (zsock_events (peer) & ZMQ_POLLIN) {
            peer_recv (peer, reply);
            if (reply->msg.type == ZSTATE_SESSION_MSG_REPLAY) {
                abandoned++;
                sequence = reply->msg.sequence;
                to = reply->msg.to;
                nonce = reply->msg.nonce;
            }
        }
    }
    zstate_session_msg_t pong = { .type = ZSTATE_SESSION_MSG_PONG, .session = id,
                                  .epoch = epoch, .nonce = nonce };
    peer_send (peer, &pong);
    return abandoned;
}

//  Both tables behind: the peer answers every REPLAY until each fake
//  writer got, in order and with its watermark, every message of its table
//  from next [table] to last [table]. Returns how many REPLAYs came, after
//  asserting that the peer never had to give one up.
static uint64_t
s_catch_up (rig_t *rig, uint64_t next [2], const uint64_t last [2])
{
    zpoller_t *poller = zpoller_new (rig->peer, rig->copies [0], rig->copies [1], NULL);
    assert (poller);
    uint64_t replays = 0;
    int abandoned = 0;
    while (next [0] <= last [0] || next [1] <= last [1]) {
        void *which = zpoller_wait (poller, PEER_DEADLINE);
        assert (which);
        for (int table = 0; table < 2; table++)
            if (which == rig->copies [table]) {
                assert (next [table] <= last [table]);
                s_copy_expect (rig->copies [table], s_tables [table],
                               ZSTATE_SESSION_VERSION, next [table]++);
            }
        if (which == rig->peer) {
            peer_recv (rig->peer, &rig->reply);
            if (rig->reply.msg.type == ZSTATE_SESSION_MSG_REPLAY) {
                int given_up = s_answer (rig->peer, rig->id, &rig->reply);
                abandoned += given_up;
                replays += 1 + given_up;
                assert (replays < 4 * MESSAGES / ROUND_SEQUENCES);
            }
            else
                assert (rig->reply.msg.type == ZSTATE_SESSION_MSG_ACK);
        }
    }
    zpoller_destroy (&poller);
    //  A session never gets a REPLAY while one of its rounds waits
    assert (abandoned == 0);
    return replays;
}

//  Two tables of one session behind at once: one round for both, from the
//  earlier of them, whose PONG ends it for both
static void
s_test_two_tables (bool verbose)
{
    rig_t rig;
    s_rig_start (&rig, 2, verbose);
    //  Table one gets sequences 1 .. MESSAGES, table two the next as many;
    //  their writers read nothing
    uint64_t forwarded [2];
    zstate_server_stats_t stats = { 0 };
    for (int table = 0; table < 2; table++) {
        uint64_t skipped = stats.writer_skipped;
        uint64_t first = table * MESSAGES + 1;
        char key [32];
        for (uint64_t sequence = first; sequence < first + MESSAGES; sequence++) {
            snprintf (key, sizeof (key), "k%" PRIu64, sequence);
            peer_ops (rig.peer, 2, rig.id, sequence, s_tables [table], key, 0);
        }
        s_expect_range (rig.consumers [table], first, first + MESSAGES - 1);
        WAIT_STATS (rig.server, stats, stats.writer_skipped > skipped);
        forwarded [table] = first - 1 + MESSAGES - (stats.writer_skipped - skipped);
        assert (forwarded [table] >= first && forwarded [table] < first + MESSAGES - 1);
        s_confirm (rig.confirm, s_tables [table], rig.id, forwarded [table]);
    }
    //  P stops at what the first writer had
    s_expect_persisted (rig.peer, &rig.reply, 2 * MESSAGES, forwarded [0]);
    //  Both writers read again what they had, taking turns, so that they
    //  have room again at about the same time
    uint64_t next [2] = { 1, MESSAGES + 1 };
    while (next [0] <= forwarded [0] || next [1] <= forwarded [1])
        for (int table = 0; table < 2; table++)
            if (next [table] <= forwarded [table])
                s_copy_expect (rig.copies [table], s_tables [table],
                               ZSTATE_SESSION_VERSION, next [table]++);
    const uint64_t last [2] = { MESSAGES, 2 * MESSAGES };
    uint64_t replays = s_catch_up (&rig, next, last);
    for (int table = 0; table < 2; table++)
        s_confirm (rig.confirm, s_tables [table], rig.id, last [table]);
    s_expect_persisted (rig.peer, &rig.reply, 2 * MESSAGES, 2 * MESSAGES);
    int rc = zstate_server_stats (rig.server, &stats);
    assert (rc == 0);
    //  One round for both at a time, unless a writer had room a tick
    //  before the other: as many rounds as the span both lack needs, and
    //  one more at most
    uint64_t span = 2 * MESSAGES - forwarded [0];
    assert (stats.replays_sent == replays
         && replays <= (span + ROUND_SEQUENCES - 1) / ROUND_SEQUENCES + 1);
    assert (stats.replayed == 2 * MESSAGES - forwarded [0] - (forwarded [1] - MESSAGES));
    assert (stats.duplicates == 0);
    //  Both caught up, though the last message was table two's: the next
    //  message of each goes to its writer as before
    for (int table = 0; table < 2; table++) {
        uint64_t sequence = 2 * MESSAGES + 1 + table;
        peer_ops (rig.peer, 2, rig.id, sequence, s_tables [table], "next", 0);
        s_copy_expect (rig.copies [table], s_tables [table], ZSTATE_SESSION_VERSION,
                       sequence);
        peer_expect_keys (rig.consumers [table], "next");
        zstate_consumer_stats_t consumer_stats;
        zstate_consumer_stats (rig.consumers [table], &consumer_stats);
        assert (consumer_stats.popped == MESSAGES + 1);
    }
    s_rig_stop (&rig);
}

//  The peer sends the chunks first .. last - 1 of the block numbered
//  MESSAGES, and the live messages from .. to after them, then PONGs
static void
s_send_round (rig_t *rig, uint32_t first, uint32_t last, uint64_t from, uint64_t to)
{
    char key [32];
    for (uint32_t chunk = first; chunk < last; chunk++) {
        snprintf (key, sizeof (key), "c%05u", chunk);
        peer_ops (rig->peer, 2, rig->id, MESSAGES, WRITTEN, key, 0);
    }
    for (uint64_t sequence = from; sequence <= to; sequence++) {
        snprintf (key, sizeof (key), "k%" PRIu64, sequence);
        peer_ops (rig->peer, 2, rig->id, sequence, WRITTEN, key, 0);
    }
    zstate_session_msg_t pong = { .type = ZSTATE_SESSION_MSG_PONG, .session = rig->id,
                                  .epoch = rig->reply.msg.epoch,
                                  .nonce = rig->reply.msg.nonce };
    peer_send (rig->peer, &pong);
}

//  A client in its WELCOME resend answers a REPLAY by sending on past the
//  round's max, to the end of what it holds. The round came to its max
//  inside the block: the block's message held stays held, without its
//  watermark (that would tell Redis holds the whole block), and what
//  came after the max is dropped, to be asked for again
static void
s_test_over (bool verbose)
{
    rig_t rig;
    uint64_t forwarded = s_fill (&rig, verbose);
    zstate_server_stats_t stats, before;
    for (uint64_t sequence = 1; sequence <= forwarded; sequence++)
        s_copy_expect (rig.copies [0], WRITTEN, ZSTATE_SESSION_VERSION, sequence);
    //  Delivered after the block, to the consumer only
    char key [32];
    for (uint64_t sequence = MESSAGES + 1; sequence <= MESSAGES + 10; sequence++) {
        snprintf (key, sizeof (key), "k%" PRIu64, sequence);
        peer_ops (rig.peer, 2, rig.id, sequence, WRITTEN, key, 0);
    }
    s_expect_range (rig.consumers [0], MESSAGES + 1, MESSAGES + 10);
    //  Round 1: the block, numbered above to, goes whole and breaks where
    //  the writer is full
    peer_expect (rig.peer, &rig.reply, ZSTATE_SESSION_MSG_REPLAY);
    assert (rig.reply.msg.sequence == forwarded + 1 && rig.reply.msg.to < MESSAGES);
    assert (zstate_server_stats (rig.server, &before) == 0);
    s_send_round (&rig, 0, MESSAGES, 1, 0);
    WAIT_STATS (rig.server, stats, stats.replay_dropped > before.replay_dropped
                && stats.replayed - before.replayed + stats.replay_dropped
                 - before.replay_dropped == MESSAGES);
    uint32_t got = (uint32_t) (stats.replayed - before.replayed);
    for (uint32_t chunk = 0; chunk < got; chunk++)
        s_chunk_expect (rig.copies [0], ZSTATE_MSG_VERSION, MESSAGES, chunk);
    //  Round 2, from the block's own sequence: max of it, then the rest
    peer_expect (rig.peer, &rig.reply, ZSTATE_SESSION_MSG_REPLAY);
    uint32_t max = rig.reply.msg.max;
    assert (rig.reply.msg.sequence == MESSAGES && rig.reply.msg.skip == got);
    assert (max > 0 && got + max < MESSAGES && rig.reply.msg.to >= MESSAGES + 10);
    before = stats;
    s_send_round (&rig, got, got + max, MESSAGES + 1, MESSAGES + 10);
    WAIT_STATS (rig.server, stats, stats.replayed - before.replayed + stats.replay_dropped
                - before.replay_dropped == max - 1 + 10);
    assert (stats.replayed - before.replayed == max - 1);
    assert (stats.replay_dropped - before.replay_dropped == 10);
    for (uint32_t chunk = got; chunk < got + max - 1; chunk++)
        s_chunk_expect (rig.copies [0], ZSTATE_MSG_VERSION, MESSAGES, chunk);
    //  The next round goes on from the message held
    peer_expect (rig.peer, &rig.reply, ZSTATE_SESSION_MSG_REPLAY);
    assert (rig.reply.msg.sequence == MESSAGES && rig.reply.msg.skip == got + max);
    assert (!(zsock_events (rig.copies [0]) & ZMQ_POLLIN));
    s_rig_stop (&rig);
}

void
zstate_server_replay_suite_test (bool verbose)
{
    printf (" * zstate_server_replay_suite: ");
    if (verbose)
        printf ("\n");
    s_test_one_table (verbose);
    s_test_two_tables (verbose);
    s_test_block (verbose);
    s_test_over (verbose);
    printf ("OK\n");
}
