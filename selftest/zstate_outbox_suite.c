/*  =========================================================================
    zstate_outbox_suite - the outbox's coalescing: folding sent messages
    into one entry per key, the sequence ranges, and the split and
    renumbering at a WELCOME, without sockets

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_outbox.h"

static const byte s_session [ZSTATE_MSG_SESSION_SIZE] = { 1, 2, 3 };

//  Keep the operations of batch for (db, table) as message sequence
static void
s_keep (zstate_outbox_t *outbox, uint64_t sequence, const char *db, const char *table,
        zstate_batch_t *batch)
{
    size_t header_size = zstate_msg_header_size (strlen (db), strlen (table));
    size_t bytes = zstate_batch_bytes (batch);
    zmq_msg_t frame;
    int rc = zmq_msg_init_size (&frame, header_size + bytes);
    assert (rc == 0);
    byte *data = (byte *) zmq_msg_data (&frame);
    zstate_msg_write_header (data, s_session, sequence, db, strlen (db), table,
                             strlen (table), (uint32_t) zstate_batch_size (batch));
    data [2] = ZSTATE_SESSION_VERSION;
    memcpy (data + header_size, zstate_batch_data (batch), bytes);
    zstate_outbox_keep (outbox, sequence, &frame, zstate_batch_size (batch), bytes);
    zmq_msg_close (&frame);
}

//  Keep one SET key { v = value } for db/table as message sequence
static void
s_keep_set (zstate_outbox_t *outbox, uint64_t sequence, const char *table,
            const char *key, const char *value)
{
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, key, "v", value, NULL);
    assert (rc == 0);
    s_keep (outbox, sequence, "db", table, batch);
    zstate_batch_destroy (&batch);
}

//  Hand out every frame from sequence from, checking that the sequences
//  are consecutive on the wire from there and that each header says so;
//  the operations go into ops (one batch per message, in order), the
//  tables into tables. Returns the messages.
static size_t
s_drain (zstate_outbox_t *outbox, uint64_t from, zlistx_t *ops, zlistx_t *tables)
{
    size_t count = 0;
    zmq_msg_t frame;
    uint64_t sequence;
    while ((sequence = zstate_outbox_next (outbox, from, &frame))) {
        assert (sequence == from);
        zstate_session_msg_t msg;
        int rc = zstate_session_msg_decode (&msg, zmq_msg_data (&frame), zmq_msg_size (&frame));
        assert (rc == 0 && msg.type == ZSTATE_SESSION_MSG_OPS && msg.version == 2);
        assert (msg.sequence == sequence);
        assert (memcmp (msg.session, s_session, ZSTATE_MSG_SESSION_SIZE) == 0);
        zstate_batch_t *batch = zstate_batch_new ();
        rc = zstate_batch_load (batch, msg.ops, msg.ops_size, msg.op_count, NULL);
        assert (rc == 0);
        zlistx_add_end (ops, batch);
        zlistx_add_end (tables, strdup (msg.table));
        zmq_msg_close (&frame);
        from++;
        count++;
    }
    return count;
}

static void
s_batch_free (void **item)
{
    zstate_batch_destroy ((zstate_batch_t **) item);
}

static zlistx_t *
s_list (bool batches)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_destructor (list, batches? s_batch_free: (zlistx_destructor_fn *) zstr_free);
    return list;
}

//  Check the operations s_test_fold's block was sent again as: one per
//  key, the newest, merged; returns how many
static size_t
s_check_folded (zlistx_t *ops)
{
    size_t count = 0;
    for (zstate_batch_t *sent = (zstate_batch_t *) zlistx_first (ops);
         sent; sent = (zstate_batch_t *) zlistx_next (ops)) {
        for (size_t index = 0; index < zstate_batch_size (sent); index++, count++) {
            const char *key = zstate_batch_key (sent, index, NULL);
            int op = zstate_batch_op (sent, index);
            if (streq (key, "gone"))
                assert (op == ZSTATE_OP_DEL);
            else
            if (streq (key, "k9")) {
                assert (op == ZSTATE_OP_SET && zstate_batch_field_count (sent, index) == 1);
                assert (streq (zstate_batch_get (sent, index, "c"), "4"));
            }
            else {
                //  The newest of its key in its table: SET v, old, then h
                int newest = atoi (zstate_batch_get (sent, index, "v"));
                assert (newest > 990 && newest % 5 == atoi (key + 1));
                assert (op == ZSTATE_OP_SET && zstate_batch_field_count (sent, index) == 3);
                assert (streq (zstate_batch_get (sent, index, "h"), zstate_batch_get (sent, index, "v")));
            }
        }
    }
    return count;
}

//  Many operations over few keys fold into one entry per (table, key),
//  with the newest content and the merge rules; sent again at a WELCOME
//  that has none of it, they are one operation per key, from delivered + 1
static void
s_test_fold (void)
{
    zstate_outbox_t *outbox = zstate_outbox_new ();
    //  1000 messages of 3 ops over keys k0 .. k4 of two tables
    zstate_batch_t *batch = zstate_batch_new ();
    for (uint64_t sequence = 1; sequence <= 1000; sequence++) {
        zstate_batch_reset (batch);
        char key [8], value [16];
        snprintf (key, sizeof (key), "k%d", (int) (sequence % 5));
        snprintf (value, sizeof (value), "%d", (int) sequence);
        assert (zstate_batch_set (batch, key, "v", value, "old", "1", NULL) == 0);
        assert (zstate_batch_hset (batch, key, "h", value, NULL) == 0);
        assert (zstate_batch_del (batch, "gone") == 0);
        s_keep (outbox, sequence, "db", sequence % 2? "A": "B", batch);
    }
    //  k9 in table A: SET, then HSET over it, then DEL, then HSET: a SET
    //  of exactly the last HSET's fields
    zstate_batch_reset (batch);
    assert (zstate_batch_set (batch, "k9", "a", "1", "b", "2", NULL) == 0);
    assert (zstate_batch_hset (batch, "k9", "b", "3", NULL) == 0);
    assert (zstate_batch_del (batch, "k9") == 0);
    assert (zstate_batch_hset (batch, "k9", "c", "4", NULL) == 0);
    s_keep (outbox, 1001, "db", "A", batch);
    zstate_batch_destroy (&batch);
    assert (zstate_outbox_ops (outbox) == 3004 && zstate_outbox_size (outbox) == 1001);
    size_t bytes = zstate_outbox_bytes (outbox);

    assert (zstate_outbox_coalesce (outbox) == 1001);
    //  (A, B) x (k0 .. k4, gone) and k9 in A
    assert (zstate_outbox_keys (outbox) == 13 && zstate_outbox_size (outbox) == 0);
    assert (zstate_outbox_ops (outbox) == 13);
    assert (zstate_outbox_bytes (outbox) < bytes / 10);
    assert (zstate_outbox_first (outbox) == 1 && zstate_outbox_last (outbox) == 1001);
    //  Nothing more to fold; an ACK inside the range keeps it all
    assert (zstate_outbox_coalesce (outbox) == 0);
    assert (zstate_outbox_ack (outbox, 1000) == 0);
    assert (zstate_outbox_keys (outbox) == 13);

    //  A WELCOME that lacks all of it: one op per key, from 1, standing
    //  for the 3004 operations
    bool renumbered;
    assert (zstate_outbox_welcome (outbox, 0, 0, s_session, 1024, 256 * 1024,
                                   &renumbered) == 0);
    assert (renumbered && zstate_outbox_keys (outbox) == 0);
    zlistx_t *ops = s_list (true), *tables = s_list (false);
    size_t messages = s_drain (outbox, 1, ops, tables);
    assert (zstate_outbox_last (outbox) == messages && messages >= 2);
    assert (s_check_folded (ops) == 13);
    //  Folded again (the server went away again), they still stand for
    //  all 3004, and so do the messages made from them next time
    assert (zstate_outbox_coalesce (outbox) == messages);
    assert (zstate_outbox_keys (outbox) == 13);
    assert (zstate_outbox_welcome (outbox, 0, 0, s_session, 1024, 256 * 1024,
                                   &renumbered) == 0);
    assert (renumbered && zstate_outbox_last (outbox) == messages);
    //  What they stand for is acknowledged with them
    assert (zstate_outbox_ops (outbox) == 13);
    assert (zstate_outbox_ack (outbox, messages) == 3004);
    assert (zstate_outbox_ops (outbox) == 0 && zstate_outbox_bytes (outbox) == 0);
    zlistx_destroy (&ops);
    zlistx_destroy (&tables);
    zstate_outbox_destroy (&outbox);
}

//  The ranges: a block for 1 .. 10, frames 11 .. 20 after it (one of them
//  refused), a WELCOME at delivered 5, acknowledged 3 (level PERSISTED)
static void
s_test_split (void)
{
    zstate_outbox_t *outbox = zstate_outbox_new ();
    char key [8], value [8];
    for (uint64_t sequence = 1; sequence <= 10; sequence++) {
        snprintf (key, sizeof (key), "k%d", (int) sequence);
        s_keep_set (outbox, sequence, "T", key, "old");
    }
    assert (zstate_outbox_coalesce (outbox) == 10);
    for (uint64_t sequence = 11; sequence <= 20; sequence++) {
        snprintf (key, sizeof (key), "k%d", (int) (sequence - 10));
        snprintf (value, sizeof (value), "new%d", (int) sequence);
        s_keep_set (outbox, sequence, "T", key, value);
    }
    assert (zstate_outbox_drop (outbox, 15) == 1);
    //  A refused message folded into the block is not matched to it
    assert (zstate_outbox_drop (outbox, 3) == 0);
    assert (zstate_outbox_first (outbox) == 1 && zstate_outbox_last (outbox) == 20);
    assert (zstate_outbox_ops (outbox) == 10 + 9);
    //  Delivered inside the block: not flagged, the block is all or nothing
    zstate_outbox_deliver (outbox, 4);
    assert (zstate_outbox_delivered_ops (outbox) == 0);

    bool renumbered;
    assert (zstate_outbox_welcome (outbox, 5, 3, s_session, 2, 256 * 1024, &renumbered) == 0);
    assert (renumbered);
    //  The frames folded in first; then only k5's newest (5) is at or
    //  below delivered: it waits, delivered, for the block's 4 .. 5. The
    //  other nine keys go again, two per message, as 6 .. 10
    assert (zstate_outbox_keys (outbox) == 1 && zstate_outbox_first (outbox) == 4);
    assert (zstate_outbox_delivered_ops (outbox) == 1);
    assert (zstate_outbox_last (outbox) == 10 && zstate_outbox_size (outbox) == 5);
    zlistx_t *ops = s_list (true), *tables = s_list (false);
    assert (s_drain (outbox, 6, ops, tables) == 5);
    zstate_batch_t *batch = (zstate_batch_t *) zlistx_first (ops);
    assert (zstate_batch_size (batch) == 2 && streq (zstate_batch_key (batch, 0, NULL), "k1"));
    assert (streq (zstate_batch_get (batch, 1, "v"), "new12"));
    batch = (zstate_batch_t *) zlistx_last (ops);
    assert (zstate_batch_size (batch) == 1 && streq (zstate_batch_get (batch, 0, "v"), "new20"));
    zlistx_destroy (&ops);
    zlistx_destroy (&tables);

    //  The next message kept follows them; ACKs forget the waiting block,
    //  then the messages, each for the operations it stands for
    s_keep_set (outbox, 11, "T", "k1", "newest");
    assert (zstate_outbox_ack (outbox, 5) == 1);
    assert (zstate_outbox_keys (outbox) == 0 && zstate_outbox_first (outbox) == 6);
    assert (zstate_outbox_ack (outbox, 8) == 12);
    assert (zstate_outbox_ack (outbox, 11) == 7);
    assert (zstate_outbox_ops (outbox) == 0 && zstate_outbox_first (outbox) == 0);
    zstate_outbox_destroy (&outbox);
}

//  The renumbering: a block delivered by a server instance that then
//  went away, frames after it not delivered; the new instance has only
//  what was persisted (2). The block goes again from 3, the frames after
//  it renumbered from there, copied, with their content
static void
s_test_renumber (void)
{
    zstate_outbox_t *outbox = zstate_outbox_new ();
    for (uint64_t sequence = 1; sequence <= 4; sequence++)
        s_keep_set (outbox, sequence, "T", sequence % 2? "a": "b", "old");
    zstate_outbox_deliver (outbox, 4);
    assert (zstate_outbox_coalesce (outbox) == 4);
    const char *keys [] = { "c", "d", "a", "b" };
    for (uint64_t sequence = 5; sequence <= 8; sequence++)
        s_keep_set (outbox, sequence, "T", keys [sequence - 5], "new");
    assert (zstate_outbox_delivered_ops (outbox) == 4);

    bool renumbered;
    assert (zstate_outbox_welcome (outbox, 2, 2, s_session, 1024, 256 * 1024,
                                   &renumbered) == 0);
    assert (renumbered && zstate_outbox_keys (outbox) == 0);
    assert (zstate_outbox_first (outbox) == 3 && zstate_outbox_last (outbox) == 7);
    //  Sent again, nothing counts as delivered any more
    assert (zstate_outbox_delivered_ops (outbox) == 0);
    zlistx_t *ops = s_list (true), *tables = s_list (false);
    assert (s_drain (outbox, 3, ops, tables) == 5);
    zstate_batch_t *batch = (zstate_batch_t *) zlistx_first (ops);
    assert (zstate_batch_size (batch) == 2);
    assert (streq (zstate_batch_key (batch, 0, NULL), "a"));
    assert (streq (zstate_batch_get (batch, 1, "v"), "old"));
    batch = (zstate_batch_t *) zlistx_next (ops);
    assert (streq (zstate_batch_key (batch, 0, NULL), "c"));
    batch = (zstate_batch_t *) zlistx_last (ops);
    assert (streq (zstate_batch_key (batch, 0, NULL), "b"));
    assert (streq (zstate_batch_get (batch, 0, "v"), "new"));
    zlistx_destroy (&ops);
    zlistx_destroy (&tables);
    assert (zstate_outbox_ack (outbox, 7) == 8);
    zstate_outbox_destroy (&outbox);
}

//  The block stays wholly delivered or wholly not: at PERSISTED, frames
//  delivered and frames not are not folded together; a WELCOME at or
//  after the block does not renumber
static void
s_test_delivered (void)
{
    zstate_outbox_t *outbox = zstate_outbox_new ();
    for (uint64_t sequence = 1; sequence <= 6; sequence++)
        s_keep_set (outbox, sequence, "T", sequence % 2? "a": "b", "x");
    zstate_outbox_deliver (outbox, 3);
    assert (zstate_outbox_delivered_ops (outbox) == 3);
    assert (zstate_outbox_coalesce (outbox) == 3);
    assert (zstate_outbox_keys (outbox) == 2 && zstate_outbox_size (outbox) == 3);
    assert (zstate_outbox_delivered_ops (outbox) == 3);
    //  Once delivered, the others fold in too
    zstate_outbox_deliver (outbox, 5);
    assert (zstate_outbox_delivered_ops (outbox) == 5);
    assert (zstate_outbox_coalesce (outbox) == 2);
    assert (zstate_outbox_keys (outbox) == 2 && zstate_outbox_size (outbox) == 1);
    //  A WELCOME delivered 6, persisted 4: nothing goes again, the block waits
    bool renumbered;
    assert (zstate_outbox_welcome (outbox, 6, 4, s_session, 1024, 65536, &renumbered) == 0);
    assert (!renumbered && zstate_outbox_delivered_ops (outbox) == 6);
    assert (zstate_outbox_ack (outbox, 6) == 6);
    assert (zstate_outbox_ops (outbox) == 0 && zstate_outbox_delivered_ops (outbox) == 0);
    zstate_outbox_destroy (&outbox);
}

//  Fold one SET key { v = value } for db/T as a sender queues it: no
//  sequence, no count yet
static void
s_fold_unsent_set (zstate_outbox_t *outbox, const char *key, const char *value)
{
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, key, "v", value, NULL);
    assert (rc == 0);
    size_t header_size = zstate_msg_header_size (2, 1);
    size_t size = header_size + zstate_batch_bytes (batch);
    byte *data = (byte *) malloc (size);
    assert (data);
    zstate_msg_write_header (data, s_session, 0, "db", 2, "T", 1, 0);
    data [2] = ZSTATE_SESSION_VERSION;
    memcpy (data + header_size, zstate_batch_data (batch), zstate_batch_bytes (batch));
    zstate_outbox_fold_unsent (outbox, data, size, header_size, 1);
    free (data);
    zstate_batch_destroy (&batch);
}

//  What take_unsent hands out: frames in order, with the operations they
//  stand for and carry
typedef struct {
    zmq_msg_t frames [8];
    size_t ops [8];
    size_t wire_ops [8];
    size_t bytes [8];
    size_t count;
} emitted_t;

static void
s_emit (void *arg, zmq_msg_t *frame, uint64_t sequence, size_t ops, size_t wire_ops,
        size_t bytes)
{
    (void) sequence;
    emitted_t *emitted = (emitted_t *) arg;
    assert (emitted->count < 8);
    zmq_msg_init (&emitted->frames [emitted->count]);
    int rc = zmq_msg_move (&emitted->frames [emitted->count], frame);
    assert (rc == 0);
    emitted->ops [emitted->count] = ops;
    emitted->wire_ops [emitted->count] = wire_ops;
    emitted->bytes [emitted->count++] = bytes;
}

//  Unsent operations fold apart from the block, into one per key, and
//  leave the outbox's counts alone; taken, they are messages of sequence
//  0 standing for every operation folded. The split after: a block 1 .. 4
//  (a, b), unsent a b c a b c kept as 5 and 6 once sent; a new instance
//  that has 2 gets it all as 3, one operation per key, the newest, and
//  its ACK counts all 10 operations
static void
s_test_unsent (void)
{
    zstate_outbox_t *outbox = zstate_outbox_new ();
    for (uint64_t sequence = 1; sequence <= 4; sequence++)
        s_keep_set (outbox, sequence, "T", sequence % 2? "a": "b", "old");
    assert (zstate_outbox_coalesce (outbox) == 4);
    const char *keys [] = { "a", "b", "c" };
    for (int index = 1; index <= 6; index++) {
        char value [8];
        snprintf (value, sizeof (value), "u%d", index);
        s_fold_unsent_set (outbox, keys [(index - 1) % 3], value);
    }
    assert (zstate_outbox_unsent_keys (outbox) == 3 && zstate_outbox_unsent_bytes (outbox) > 0);
    assert (zstate_outbox_keys (outbox) == 2 && zstate_outbox_ops (outbox) == 2);
    assert (zstate_outbox_last (outbox) == 4);
    emitted_t emitted = { .count = 0 };
    zstate_outbox_take_unsent (outbox, s_session, 2, 256 * 1024, s_emit, &emitted);
    assert (zstate_outbox_unsent_keys (outbox) == 0 && zstate_outbox_unsent_bytes (outbox) == 0);
    assert (emitted.count == 2);
    assert (emitted.wire_ops [0] == 2 && emitted.wire_ops [1] == 1);
    assert (emitted.ops [0] + emitted.ops [1] == 6);
    zstate_outbox_take_unsent (outbox, s_session, 2, 256 * 1024, s_emit, &emitted);
    assert (emitted.count == 2);
    for (size_t index = 0; index < 2; index++) {
        //  The sender numbers it as it sends it: sequence 0 is no message
        zmq_msg_t *frame = &emitted.frames [index];
        zstate_session_msg_t msg;
        assert (zstate_session_msg_decode (&msg, zmq_msg_data (frame),
                                           zmq_msg_size (frame)) != 0);
        size_t header_size = zmq_msg_size (frame) - emitted.bytes [index];
        zstate_msg_patch_header ((byte *) zmq_msg_data (frame), header_size, 5 + index,
                                 (uint32_t) emitted.wire_ops [index]);
        int rc = zstate_session_msg_decode (&msg, zmq_msg_data (frame), zmq_msg_size (frame));
        assert (rc == 0 && msg.sequence == 5 + index && msg.op_count == emitted.wire_ops [index]);
        assert (msg.ops_size == emitted.bytes [index]);
        zstate_outbox_keep_folded (outbox, 5 + index, frame, emitted.ops [index],
                                   emitted.wire_ops [index], emitted.bytes [index]);
        zmq_msg_close (frame);
    }
    assert (zstate_outbox_ops (outbox) == 2 + 3);

    bool renumbered;
    assert (zstate_outbox_welcome (outbox, 2, 2, s_session, 1024, 256 * 1024,
                                   &renumbered) == 0);
    assert (renumbered && zstate_outbox_first (outbox) == 3 && zstate_outbox_last (outbox) == 3);
    zlistx_t *ops = s_list (true), *tables = s_list (false);
    assert (s_drain (outbox, 3, ops, tables) == 1);
    const char *newest [3] = { NULL, NULL, NULL };
    zstate_batch_t *batch = (zstate_batch_t *) zlistx_first (ops);
    assert (zstate_batch_size (batch) == 3);
    for (size_t index = 0; index < zstate_batch_size (batch); index++) {
        int slot = zstate_batch_key (batch, index, NULL) [0] - 'a';
        assert (!newest [slot]);
        newest [slot] = zstate_batch_get (batch, index, "v");
    }
    assert (streq (newest [0], "u4") && streq (newest [1], "u5") && streq (newest [2], "u6"));
    zlistx_destroy (&ops);
    zlistx_destroy (&tables);
    assert (zstate_outbox_ack (outbox, 2) == 0);
    assert (zstate_outbox_ack (outbox, 3) == 10);
    assert (zstate_outbox_ops (outbox) == 0 && zstate_outbox_first (outbox) == 0);
    //  What is left unsent at the end is freed with the outbox (valgrind)
    s_fold_unsent_set (outbox, "z", "left");
    zstate_outbox_destroy (&outbox);
}

//  REPLAY from .. to, skip, max into the outbox, its messages to emitted
static uint64_t
s_replay (zstate_outbox_t *outbox, uint64_t from, uint64_t to, uint32_t skip,
          uint32_t max, emitted_t *emitted)
{
    zstate_session_msg_t replay = { .type = ZSTATE_SESSION_MSG_REPLAY, .sequence = from,
                                    .to = to, .skip = skip, .max = max };
    return zstate_outbox_replay (outbox, &replay, s_session, 2, 256 * 1024, s_emit, emitted);
}

//  A REPLAY into the block: its entries, the newest per key, as messages
//  that all carry the block's last sequence, and the block stays; from
//  after the block, nothing but the frames from there
static void
s_test_replay (void)
{
    zstate_outbox_t *outbox = zstate_outbox_new ();
    const char *keys = "ababca";
    for (uint64_t sequence = 1; sequence <= 6; sequence++) {
        char key [2] = { keys [sequence - 1], 0 }, value [8];
        snprintf (value, sizeof (value), "v%d", (int) sequence);
        s_keep_set (outbox, sequence, "T", key, value);
    }
    assert (zstate_outbox_coalesce (outbox) == 6);
    s_keep_set (outbox, 7, "T", "d", "v7");
    //  A skip counts only from the block's own sequence
    uint32_t skips [] = { 0, 1 };
    emitted_t whole = { .count = 0 };
    for (int round = 0; round < 2; round++) {
        emitted_t *emitted = &whole;
        assert (s_replay (outbox, 3, 6, skips [round], 0, emitted) == 7);
        assert (emitted->count == 2 * (size_t) (round + 1));
        size_t ops = 0;
        for (size_t index = 2 * (size_t) round; index < emitted->count; index++) {
            zstate_session_msg_t msg;
            zmq_msg_t *frame = &emitted->frames [index];
            assert (zstate_session_msg_decode (&msg, zmq_msg_data (frame),
                                               zmq_msg_size (frame)) == 0);
            assert (msg.type == ZSTATE_SESSION_MSG_OPS && msg.sequence == 6);
            ops += msg.op_count;
        }
        assert (ops == 3);
        //  The block is still whole
        assert (zstate_outbox_keys (outbox) == 3 && zstate_outbox_first (outbox) == 1);
    }
    //  From the block's sequence, skip 1: the second message of those
    //  above, byte for byte; skip 2 or more: none
    emitted_t rest = { .count = 0 };
    assert (s_replay (outbox, 6, 6, 1, 0, &rest) == 7);
    assert (rest.count == 1);
    assert (zmq_msg_size (&rest.frames [0]) == zmq_msg_size (&whole.frames [1]));
    assert (memcmp (zmq_msg_data (&rest.frames [0]), zmq_msg_data (&whole.frames [1]),
                    zmq_msg_size (&rest.frames [0])) == 0);
    assert (s_replay (outbox, 6, 6, 2, 0, &rest) == 7);
    assert (s_replay (outbox, 6, 6, 1000, 0, &rest) == 7);
    assert (rest.count == 1);
    //  A max bounds a block numbered up to to: one message of two, the
    //  first; a block numbered above to goes whole
    assert (s_replay (outbox, 6, 6, 0, 1, &rest) == 7);
    assert (rest.count == 2);
    assert (zmq_msg_size (&rest.frames [1]) == zmq_msg_size (&whole.frames [0]));
    assert (memcmp (zmq_msg_data (&rest.frames [1]), zmq_msg_data (&whole.frames [0]),
                    zmq_msg_size (&rest.frames [1])) == 0);
    assert (s_replay (outbox, 3, 5, 0, 1, &rest) == 7);
    assert (rest.count == 4);
    for (size_t index = 1; index < rest.count; index++)
        zmq_msg_close (&rest.frames [index]);
    for (size_t index = 0; index < whole.count; index++)
        zmq_msg_close (&whole.frames [index]);
    zmq_msg_close (&rest.frames [0]);
    emitted_t none = { .count = 0 };
    assert (s_replay (outbox, 7, 7, 1, 1, &none) == 7);
    assert (none.count == 0);
    zlistx_t *ops = s_list (true), *tables = s_list (false);
    assert (s_drain (outbox, 7, ops, tables) == 1);
    zlistx_destroy (&ops);
    zlistx_destroy (&tables);
    assert (zstate_outbox_ack (outbox, 7) == 7);
    zstate_outbox_destroy (&outbox);
}

void
zstate_outbox_suite_test (bool verbose)
{
    printf (" * zstate_outbox_suite: ");
    if (verbose)
        printf ("\n");
    s_test_fold ();
    s_test_split ();
    s_test_renumber ();
    s_test_delivered ();
    s_test_unsent ();
    s_test_replay ();
    printf ("OK\n");
}


//  --------------------------------------------------------------------------
//  The outbox's own selftest: keep, next, ack, drop, delivered flags

static void
s_test_frame (zmq_msg_t *frame, uint64_t sequence)
{
    int rc = zmq_msg_init_size (frame, 100);
    assert (rc == 0);
    memset (zmq_msg_data (frame), (int) (sequence & 0xFF), 100);
}

//  Delivered flags, on an outbox holding 301 .. 1004 but 312, of 2 ops
//  each, after an ACK up to 300: each operation counts once, only what is
//  held, never going back; an ACK delivers what it covers too
static void
s_test_delivered_flags (zstate_outbox_t *outbox)
{
    assert (zstate_outbox_delivered_ops (outbox) == 0);
    zstate_outbox_deliver (outbox, 310);
    assert (zstate_outbox_delivered_ops (outbox) == 20);
    zstate_outbox_deliver (outbox, 305);
    assert (zstate_outbox_delivered_ops (outbox) == 20);
    assert (zstate_outbox_first (outbox) == 301);
    assert (zstate_outbox_drop (outbox, 312) == 2);
    zstate_outbox_deliver (outbox, 315);
    assert (zstate_outbox_delivered_ops (outbox) == 28);
    assert (zstate_outbox_ack (outbox, 305) == 10);
    assert (zstate_outbox_delivered_ops (outbox) == 18);
    assert (zstate_outbox_ack (outbox, 330) == 2 * (330 - 306));
    assert (zstate_outbox_delivered_ops (outbox) == 0);
    zstate_outbox_deliver (outbox, 332);
    assert (zstate_outbox_delivered_ops (outbox) == 4);
}

void
zstate_outbox_test (bool verbose)
{
    printf (" * zstate_outbox: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    zstate_outbox_t *outbox = zstate_outbox_new ();
    assert (zstate_outbox_first (outbox) == 0);
    zmq_msg_t frame;
    assert (zstate_outbox_next (outbox, 1, &frame) == 0);

    //  Keep 1000 messages from sequence 5: the ring grows, the counts add
    for (uint64_t sequence = 5; sequence < 1005; sequence++) {
        s_test_frame (&frame, sequence);
        zstate_outbox_keep (outbox, sequence, &frame, 2, 10);
        //  The outbox holds its own reference: the caller's may go
        zmq_msg_close (&frame);
    }
    assert (zstate_outbox_first (outbox) == 5);
    assert (zstate_outbox_size (outbox) == 1000);
    assert (zstate_outbox_ops (outbox) == 2000);
    assert (zstate_outbox_bytes (outbox) == 10000);

    //  next hands out a copy with the same bytes, from where it is asked
    assert (zstate_outbox_next (outbox, 0, &frame) == 5);
    assert (((byte *) zmq_msg_data (&frame)) [99] == 5);
    zmq_msg_close (&frame);
    assert (zstate_outbox_next (outbox, 700, &frame) == 700);
    assert (((byte *) zmq_msg_data (&frame)) [0] == (700 & 0xFF));
    zmq_msg_close (&frame);
    assert (zstate_outbox_next (outbox, 1005, &frame) == 0);

    //  ACK forgets a prefix, cumulatively; going backwards forgets nothing
    assert (zstate_outbox_ack (outbox, 104) == 200);
    assert (zstate_outbox_bytes (outbox) == 9000);
    assert (zstate_outbox_first (outbox) == 105);
    assert (zstate_outbox_ack (outbox, 50) == 0);
    assert (zstate_outbox_size (outbox) == 900);

    //  A drop forgets one message, which next skips from then on
    assert (zstate_outbox_drop (outbox, 200) == 2);
    assert (zstate_outbox_bytes (outbox) == 8990);
    assert (zstate_outbox_drop (outbox, 200) == 0);
    assert (zstate_outbox_drop (outbox, 104) == 0);
    assert (zstate_outbox_drop (outbox, 5000) == 0);
    assert (zstate_outbox_next (outbox, 200, &frame) == 201);
    zmq_msg_close (&frame);
    assert (zstate_outbox_size (outbox) == 899);
    assert (zstate_outbox_ops (outbox) == 1798);
    //  Dropping the first moves the front past it
    assert (zstate_outbox_drop (outbox, 105) == 2);
    assert (zstate_outbox_first (outbox) == 106);
    //  An ACK across the dropped one counts only what was held
    assert (zstate_outbox_ack (outbox, 300) == 2 * (300 - 106 + 1 - 1));
    assert (zstate_outbox_first (outbox) == 301);

    s_test_delivered_flags (outbox);

    //  Kept again after it emptied: any sequence may start it
    assert (zstate_outbox_ack (outbox, 1004) == 2 * (1004 - 330));
    assert (zstate_outbox_last (outbox) == 1004);
    assert (zstate_outbox_size (outbox) == 0);
    assert (zstate_outbox_ops (outbox) == 0 && zstate_outbox_bytes (outbox) == 0);
    assert (zstate_outbox_first (outbox) == 0);
    s_test_frame (&frame, 9000);
    zstate_outbox_keep (outbox, 9000, &frame, 1, 1);
    zmq_msg_close (&frame);
    assert (zstate_outbox_first (outbox) == 9000);
    //  Destroy releases what is still held (valgrind checks)
    zstate_outbox_destroy (&outbox);
    assert (outbox == NULL);
    //  @end
    printf ("OK\n");
}
