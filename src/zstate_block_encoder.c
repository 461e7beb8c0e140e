/*  =========================================================================
    zstate_block_encoder - the entries of a client's keyed backlog (db NUL
    table NUL key) encoded as version 2 OPS messages of its session

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The outbox encodes its block (what coalesced while the server was away
    or slow) with it at a WELCOME and at each REPLAY, and the unsent
    backlog when it is sent at last.
@discuss
    A REPLAY into a block asks for the messages the server's DB writer
    lacks of it: skip says how many it has, the first ones. A walk records
    where messages began (their first entry), and the next walk of the
    same block, unchanged, starts at the nearest of those at or before its
    skip: it makes the same messages from there, since a message begins
    afresh at its first entry.
@end
*/

#include "zstate_classes.h"
#include "zstate_block_encoder.h"
#include "zstate_session_msg.h"

void
zstate_block_encoder_start (zstate_block_encoder_t *self)
{
    assert (self);
    self->batch = zstate_batch_new ();
    assert (self->batch);
    self->db [0] = self->table [0] = 0;
    self->ops = 0;
    self->made = 0;
    self->added = 0;
    self->parts = NULL;
    self->sizes = NULL;
    self->parts_max = 0;
}

//  Make the message being built, and hand it to emit unless skipped
static void
s_make (zstate_block_encoder_t *self)
{
    size_t count = zstate_batch_size (self->batch);
    if (!count)
        return;
    size_t db_size = strlen (self->db), table_size = strlen (self->table);
    size_t header_size = zstate_msg_header_size (db_size, table_size);
    size_t bytes = zstate_batch_bytes (self->batch);
    zmq_msg_t frame;
    int rc = zmq_msg_init_size (&frame, header_size + bytes);
    assert (rc == 0);
    byte *data = (byte *) zmq_msg_data (&frame);
    zstate_msg_write_header (data, self->session, self->sequence, self->db, db_size,
                             self->table, table_size, (uint32_t) count);
    data [2] = ZSTATE_SESSION_VERSION;
    memcpy (data + header_size, zstate_batch_data (self->batch), bytes);
    if (self->skip)
        self->skip--;
    else
    if (self->left) {
        self->left--;
        self->emit (self->arg, &frame, self->sequence, self->ops, count, bytes);
    }
    zmq_msg_close (&frame);
    self->made++;
    if (self->renumber)
        self->sequence++;
    zstate_batch_reset (self->batch);
    self->ops = 0;
}

//  Remember that message self->made begins at entry
static void
s_mark (zstate_block_encoder_t *self, zstate_backlog_entry_t *entry)
{
    zstate_block_marks_t *marks = self->marks;
    size_t slot = marks->count++ % ZSTATE_BLOCK_MARKS;
    marks->message [slot] = self->made;
    marks->entry [slot] = entry;
}

void
zstate_block_encoder_add (zstate_block_encoder_t *self, zstate_backlog_entry_t *entry)
{
    assert (self);
    assert (entry);
    size_t size;
    const char *key = zstate_backlog_entry_key (entry, &size);
    const char *table = key + strlen (key) + 1;
    const char *name = table + strlen (table) + 1;
    size_t name_size = size - (size_t) (name - key);
    size_t count = zstate_backlog_entry_field_count (entry);
    if (2 * count + 1 > self->parts_max) {
        //  Grown once for the most fields an entry has, not per entry
        self->parts_max = 2 * count + 1;
        self->parts = (const char **) realloc (self->parts,
                                               self->parts_max * sizeof (char *));
        self->sizes = (size_t *) realloc (self->sizes, self->parts_max * sizeof (size_t));
        assert (self->parts && self->sizes);
    }
    const char **parts = self->parts;
    size_t *sizes = self->sizes;
    zstate_backlog_entry_fields (entry, parts, sizes);
    //  The wire size: opcode, key, field count, then sized names and values
    size_t wire = 1 + 4 + name_size + 1 + 4;
    for (size_t part = 0; part < 2 * count; part++)
        wire += 4 + sizes [part] + 1;
    size_t header_size = zstate_msg_header_size (strlen (key), strlen (table));
    if (!streq (self->db, key) || !streq (self->table, table)
    ||  zstate_batch_size (self->batch) + 1 > self->ops_max
    ||  header_size + zstate_batch_bytes (self->batch) + wire > self->bytes_max) {
        s_make (self);
        snprintf (self->db, sizeof (self->db), "%s", key);
        snprintf (self->table, sizeof (self->table), "%s", table);
        if (self->marks)
            s_mark (self, entry);
    }
    int rc = zstate_batch_append (self->batch, zstate_backlog_entry_op (entry),
                                  name, name_size);
    assert (rc == 0);
    for (size_t field = 0; field < count; field++) {
        rc = zstate_batch_field (self->batch, parts [2 * field], sizes [2 * field],
                                 parts [2 * field + 1], sizes [2 * field + 1]);
        assert (rc == 0);
    }
    self->ops += zstate_backlog_entry_folds (entry);
    self->added++;
}

void
zstate_block_encoder_end (zstate_block_encoder_t *self)
{
    assert (self);
    s_make (self);
    zstate_batch_destroy (&self->batch);
    free (self->parts);
    free (self->sizes);
    self->parts = NULL;
    self->sizes = NULL;
}

void
zstate_block_encoder_walk (zstate_block_encoder_t *self, zstate_backlog_t *block,
                           uint64_t changes, zstate_block_marks_t *marks)
{
    assert (self);
    assert (block && marks);
    zstate_backlog_entry_t *entry = zstate_backlog_first (block);
    bool same = marks->changes == changes && marks->ops_max == self->ops_max
             && marks->bytes_max == self->bytes_max;
    size_t held = marks->count < ZSTATE_BLOCK_MARKS? marks->count: ZSTATE_BLOCK_MARKS;
    uint32_t start = 0;
    for (size_t slot = 0; same && slot < held; slot++)
        if (marks->message [slot] <= self->skip && marks->message [slot] >= start) {
            start = marks->message [slot];
            entry = marks->entry [slot];
        }
    self->skip -= start;
    self->made = start;
    marks->changes = changes;
    marks->ops_max = self->ops_max;
    marks->bytes_max = self->bytes_max;
    marks->count = 0;
    self->marks = marks;
    for (; entry && self->left; entry = zstate_backlog_next (entry))
        zstate_block_encoder_add (self, entry);
    self->marks = NULL;
}

//  --------------------------------------------------------------------------
//  Self test

static byte s_session [ZSTATE_MSG_SESSION_SIZE];

typedef struct {
    size_t count;
    zmq_msg_t frames [64];
    uint64_t sequences [64];
} emitted_t;

static void
s_emit (void *arg, zmq_msg_t *frame, uint64_t sequence, size_t ops, size_t wire_ops,
        size_t bytes)
{
    (void) ops;
    (void) wire_ops;
    (void) bytes;
    emitted_t *emitted = (emitted_t *) arg;
    assert (emitted->count < 64);
    emitted->sequences [emitted->count] = sequence;
    zmq_msg_init (&emitted->frames [emitted->count]);
    zmq_msg_move (&emitted->frames [emitted->count++], frame);
}

static void
s_emitted_close (emitted_t *emitted)
{
    for (size_t index = 0; index < emitted->count; index++)
        zmq_msg_close (&emitted->frames [index]);
    emitted->count = 0;
}

//  A walk of block skipping skip messages, left at most; returns the
//  entries it added
static size_t
s_walk (zstate_backlog_t *block, uint64_t changes, zstate_block_marks_t *marks,
        uint32_t skip, uint32_t left, emitted_t *emitted)
{
    zstate_block_encoder_t encoder = { .session = s_session, .ops_max = 2,
                                       .bytes_max = 256 * 1024, .sequence = 9,
                                       .emit = s_emit, .arg = emitted,
                                       .skip = skip, .left = left };
    zstate_block_encoder_start (&encoder);
    zstate_block_encoder_walk (&encoder, block, changes, marks);
    zstate_block_encoder_end (&encoder);
    return encoder.added;
}

//  emitted holds the messages of whole from first on, byte for byte
static void
s_expect (emitted_t *emitted, emitted_t *whole, size_t first)
{
    for (size_t index = 0; index < emitted->count; index++) {
        zmq_msg_t *made = &emitted->frames [index], *same = &whole->frames [first + index];
        assert (zmq_msg_size (made) == zmq_msg_size (same));
        assert (memcmp (zmq_msg_data (made), zmq_msg_data (same), zmq_msg_size (made)) == 0);
    }
}

void
zstate_block_encoder_test (bool verbose)
{
    printf (" * zstate_block_encoder: ");
    if (verbose)
        printf ("\n");
    //  A block of 40 keys over two tables, T for the first 20, U after:
    //  messages of two operations, 20 of them, all numbered 9
    zstate_backlog_t *block = zstate_backlog_new ();
    for (int number = 0; number < 40; number++) {
        char key [32];
        int size = snprintf (key, sizeof (key), "DB%c%c%ck%02d", 0, number < 20? 'T': 'U', 0,
                             number);
        zstate_backlog_field_t field = { "f", 1, "v", 1 };
        assert (zstate_backlog_add (block, key, (size_t) size, ZSTATE_OP_SET, &field, 1, 0)
                == 0);
    }
    zstate_block_marks_t marks = { 0 };
    emitted_t whole = { 0 }, part = { 0 };
    assert (s_walk (block, 1, &marks, 0, UINT32_MAX, &whole) == 40);
    assert (whole.count == 20 && whole.sequences [0] == 9 && whole.sequences [19] == 9);

    //  Rounds that skip what the writer has start at a mark near it: they
    //  add the entries they emit, and a few before, not the block again
    uint32_t skips [] = { 0, 5, 7, 12, 13 };
    for (size_t round = 0; round < 5; round++) {
        size_t added = s_walk (block, 1, &marks, skips [round], 5, &part);
        assert (part.count == 5 && added <= 2 * (5 + 1));
        s_expect (&part, &whole, skips [round]);
        s_emitted_close (&part);
    }
    //  Back before every mark, it walks from the start; past the end,
    //  from the last mark to the end, emitting nothing
    assert (s_walk (block, 1, &marks, 2, 3, &part) == 11);
    s_expect (&part, &whole, 2);
    s_emitted_close (&part);
    assert (s_walk (block, 1, &marks, 30, 3, &part) == 30 && part.count == 0);
    //  A changed block, or other bounds, leave the marks unused
    assert (s_walk (block, 1, &marks, 18, 2, &part) == 4 && part.count == 2);
    s_expect (&part, &whole, 18);
    s_emitted_close (&part);
    assert (s_walk (block, 2, &marks, 18, 2, &part) == 40);
    s_expect (&part, &whole, 18);
    s_emitted_close (&part);

    //  A walk of more messages than there are marks keeps the last ones:
    //  600 messages, marks from message 88 on
    zstate_backlog_t *big = zstate_backlog_new ();
    for (int number = 0; number < 1200; number++) {
        char key [32];
        int size = snprintf (key, sizeof (key), "DB%cT%ck%04d", 0, 0, number);
        zstate_backlog_field_t field = { "f", 1, "v", 1 };
        assert (zstate_backlog_add (big, key, (size_t) size, ZSTATE_OP_SET, &field, 1, 0) == 0);
    }
    zstate_block_marks_t many = { 0 };
    assert (s_walk (big, 1, &many, 600, 1, &part) == 1200 && part.count == 0);
    assert (many.count == 600);
    assert (s_walk (big, 1, &many, 550, 3, &part) <= 2 * (3 + 1) && part.count == 3);
    s_emitted_close (&part);
    //  That walk left marks of messages 550 to 553 only: 50 is before them
    assert (s_walk (big, 1, &many, 50, 1, &part) == 2 * 51 + 1 && part.count == 1);
    s_emitted_close (&part);
    zstate_backlog_destroy (&big);

    //  Renumbered, each message the next sequence
    zstate_block_encoder_t encoder = { .session = s_session, .ops_max = 16,
                                       .bytes_max = 256 * 1024, .sequence = 3,
                                       .renumber = true, .emit = s_emit, .arg = &part,
                                       .left = UINT32_MAX };
    zstate_block_encoder_start (&encoder);
    zstate_backlog_entry_t *entry = zstate_backlog_first (block);
    for (; entry; entry = zstate_backlog_next (entry))
        zstate_block_encoder_add (&encoder, entry);
    zstate_block_encoder_end (&encoder);
    //  T: 16 + 4, U: 16 + 4
    assert (part.count == 4 && encoder.sequence == 7);
    assert (part.sequences [0] == 3 && part.sequences [3] == 6);
    s_emitted_close (&part);
    s_emitted_close (&whole);
    zstate_backlog_destroy (&block);
    printf ("OK\n");
}
