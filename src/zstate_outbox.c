/*  =========================================================================
    zstate_outbox - the wire messages a client sent and the server has not
    acknowledged yet, by sequence number

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A ring of entries indexed by sequence - base, so that keep, ack, drop
    and next are O(1) apart from the entries they forget. A dropped entry
    stays in the ring, empty, until an acknowledgement passes it, so the
    index stays sequence - base.
@end
*/

#include "zstate_classes.h"
#include "zstate_outbox.h"

#define RING_MIN        64

typedef struct {
    zmq_msg_t frame;            //  Our reference to the sent frame
    size_t ops;                 //  Operations in it
    size_t bytes;               //  Payload bytes in it
    bool held;                  //  false once dropped
} entry_t;

struct _zstate_outbox_t {
    entry_t *ring;              //  max entries
    size_t max;                 //  Ring size, a power of 2
    size_t head;                //  Index of the entry for base
    size_t count;               //  Entries in use, held or dropped
    uint64_t base;              //  Sequence of the entry at head
    uint64_t delivered;         //  Delivered mark, a sequence
    size_t held;                //  Entries held
    size_t ops;                 //  Operations held
    size_t bytes;               //  Payload bytes held
};

zstate_outbox_t *
zstate_outbox_new (void)
{
    zstate_outbox_t *self = (zstate_outbox_t *) zmalloc (sizeof (zstate_outbox_t));
    assert (self);
    self->max = RING_MIN;
    self->ring = (entry_t *) zmalloc (self->max * sizeof (entry_t));
    assert (self->ring);
    return self;
}

static entry_t *
s_entry (zstate_outbox_t *self, size_t index)
{
    return &self->ring [(self->head + index) & (self->max - 1)];
}

//  Forget the entry at head, held or not
static void
s_pop (zstate_outbox_t *self, size_t *ops_p, size_t *bytes_p)
{
    entry_t *entry = s_entry (self, 0);
    if (entry->held) {
        *ops_p += entry->ops;
        *bytes_p += entry->bytes;
        self->ops -= entry->ops;
        self->bytes -= entry->bytes;
        self->held--;
        zmq_msg_close (&entry->frame);
        entry->held = false;
    }
    self->head = (self->head + 1) & (self->max - 1);
    self->count--;
    self->base++;
}

void
zstate_outbox_destroy (zstate_outbox_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_outbox_t *self = *self_p;
        size_t ops = 0, bytes = 0;
        while (self->count)
            s_pop (self, &ops, &bytes);
        free (self->ring);
        free (self);
        *self_p = NULL;
    }
}

void
zstate_outbox_keep (zstate_outbox_t *self, uint64_t sequence, zmq_msg_t *frame,
                    size_t ops, size_t bytes)
{
    assert (self);
    assert (sequence);
    if (self->count == 0) {
        self->base = sequence;
        self->head = 0;
    }
    assert (sequence == self->base + self->count);
    if (self->count == self->max) {
        //  Unroll the ring into one twice as large
        entry_t *ring = (entry_t *) zmalloc (2 * self->max * sizeof (entry_t));
        assert (ring);
        for (size_t index = 0; index < self->count; index++)
            memcpy (&ring [index], s_entry (self, index), sizeof (entry_t));
        free (self->ring);
        self->ring = ring;
        self->max *= 2;
        self->head = 0;
    }
    entry_t *entry = s_entry (self, self->count);
    zmq_msg_init (&entry->frame);
    int rc = zmq_msg_copy (&entry->frame, frame);
    assert (rc == 0);
    entry->ops = ops;
    entry->bytes = bytes;
    entry->held = true;
    self->count++;
    self->held++;
    self->ops += ops;
    self->bytes += bytes;
}

size_t
zstate_outbox_deliver (zstate_outbox_t *self, uint64_t sequence)
{
    assert (self);
    if (sequence <= self->delivered)
        return 0;
    size_t ops = 0;
    uint64_t from = self->delivered + 1 > self->base? self->delivered + 1: self->base;
    for (uint64_t at = from; self->count && at <= sequence
                             && at - self->base < self->count; at++) {
        entry_t *entry = s_entry (self, (size_t) (at - self->base));
        if (entry->held)
            ops += entry->ops;
    }
    self->delivered = sequence;
    return ops;
}

uint64_t
zstate_outbox_delivered (zstate_outbox_t *self)
{
    assert (self);
    return self->delivered;
}

size_t
zstate_outbox_ack (zstate_outbox_t *self, uint64_t sequence, size_t *bytes_p)
{
    assert (self);
    if (sequence > self->delivered)
        self->delivered = sequence;
    size_t ops = 0, bytes = 0;
    while (self->count && self->base <= sequence)
        s_pop (self, &ops, &bytes);
    if (bytes_p)
        *bytes_p += bytes;
    return ops;
}

size_t
zstate_outbox_drop (zstate_outbox_t *self, uint64_t sequence, size_t *bytes_p)
{
    assert (self);
    if (!self->count || sequence < self->base || sequence - self->base >= self->count)
        return 0;
    entry_t *entry = s_entry (self, (size_t) (sequence - self->base));
    if (!entry->held)
        return 0;
    size_t ops = entry->ops;
    if (bytes_p)
        *bytes_p += entry->bytes;
    self->ops -= entry->ops;
    self->bytes -= entry->bytes;
    self->held--;
    zmq_msg_close (&entry->frame);
    entry->held = false;
    //  Dropped entries at the front are of no more use
    size_t none = 0, no_bytes = 0;
    while (self->count && !s_entry (self, 0)->held)
        s_pop (self, &none, &no_bytes);
    return ops;
}

uint64_t
zstate_outbox_next (zstate_outbox_t *self, uint64_t from, zmq_msg_t *frame)
{
    assert (self);
    size_t index = from > self->base? (size_t) (from - self->base): 0;
    for (; index < self->count; index++) {
        entry_t *entry = s_entry (self, index);
        if (entry->held) {
            zmq_msg_init (frame);
            int rc = zmq_msg_copy (frame, &entry->frame);
            assert (rc == 0);
            return self->base + index;
        }
    }
    return 0;
}

uint64_t
zstate_outbox_first (zstate_outbox_t *self)
{
    assert (self);
    return self->count? self->base: 0;
}

size_t
zstate_outbox_size (zstate_outbox_t *self)
{
    assert (self);
    return self->held;
}

size_t
zstate_outbox_ops (zstate_outbox_t *self)
{
    assert (self);
    return self->ops;
}

size_t
zstate_outbox_bytes (zstate_outbox_t *self)
{
    assert (self);
    return self->bytes;
}


#ifdef ZSTATE_SELFTEST
//  --------------------------------------------------------------------------
//  Self test of this class.

static void
s_test_frame (zmq_msg_t *frame, uint64_t sequence)
{
    int rc = zmq_msg_init_size (frame, 100);
    assert (rc == 0);
    memset (zmq_msg_data (frame), (int) (sequence & 0xFF), 100);
}

//  The delivered mark, on an outbox holding 301 .. 1004 but 312, of 2
//  ops each, with an ACK up to 300
static void
s_test_delivered (zstate_outbox_t *outbox)
{
    //  The delivered mark counts each operation once, only what is held,
    //  and never goes back; an ACK above it moves it too
    assert (zstate_outbox_delivered (outbox) == 300);
    assert (zstate_outbox_deliver (outbox, 310) == 20);
    assert (zstate_outbox_deliver (outbox, 305) == 0);
    assert (zstate_outbox_delivered (outbox) == 310);
    assert (zstate_outbox_first (outbox) == 301);
    assert (zstate_outbox_drop (outbox, 312, NULL) == 2);
    assert (zstate_outbox_deliver (outbox, 315) == 8);
    assert (zstate_outbox_ack (outbox, 305, NULL) == 10);
    assert (zstate_outbox_deliver (outbox, 320) == 10);
    assert (zstate_outbox_ack (outbox, 330, NULL) == 2 * (330 - 306));
    assert (zstate_outbox_delivered (outbox) == 330);
    assert (zstate_outbox_deliver (outbox, 332) == 4);
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
    size_t bytes = 0;
    assert (zstate_outbox_ack (outbox, 104, &bytes) == 200);
    assert (bytes == 1000);
    assert (zstate_outbox_first (outbox) == 105);
    assert (zstate_outbox_ack (outbox, 50, NULL) == 0);
    assert (zstate_outbox_size (outbox) == 900);

    //  A drop forgets one message, which next skips from then on
    bytes = 0;
    assert (zstate_outbox_drop (outbox, 200, &bytes) == 2);
    assert (bytes == 10);
    assert (zstate_outbox_drop (outbox, 200, NULL) == 0);
    assert (zstate_outbox_drop (outbox, 104, NULL) == 0);
    assert (zstate_outbox_drop (outbox, 5000, NULL) == 0);
    assert (zstate_outbox_next (outbox, 200, &frame) == 201);
    zmq_msg_close (&frame);
    assert (zstate_outbox_size (outbox) == 899);
    assert (zstate_outbox_ops (outbox) == 1798);
    //  Dropping the first moves the front past it
    assert (zstate_outbox_drop (outbox, 105, NULL) == 2);
    assert (zstate_outbox_first (outbox) == 106);
    //  An ACK across the dropped one counts only what was held
    assert (zstate_outbox_ack (outbox, 300, NULL) == 2 * (300 - 106 + 1 - 1));
    assert (zstate_outbox_first (outbox) == 301);

    s_test_delivered (outbox);

    //  Kept again after it emptied: any sequence may start it
    assert (zstate_outbox_ack (outbox, 1004, NULL) == 2 * (1004 - 330));
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
#endif
