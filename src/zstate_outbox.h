/*  =========================================================================
    zstate_outbox - the wire messages a client sent and the server has not
    acknowledged yet, by sequence number

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_OUTBOX_H_INCLUDED
#define ZSTATE_OUTBOX_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  A FIFO of sent messages with consecutive sequence numbers. It keeps a
//  reference to each frame (zmq_msg_copy: libzmq shares the data, no byte
//  is copied), so a message can be sent again after a reconnect or a
//  server restart. Cumulative acknowledgements forget a prefix; a REJECT
//  forgets one message in the middle, which is then never handed out
//  again. Counts operations and payload bytes for the client's bounds.
//  Not thread-safe: the client guards it with its socket lock.

typedef struct _zstate_outbox_t zstate_outbox_t;

//  Create an empty outbox
zstate_outbox_t *
    zstate_outbox_new (void);

//  Destroy the outbox and release every frame it holds
void
    zstate_outbox_destroy (zstate_outbox_t **self_p);

//  Keep a reference to frame, sent with sequence, which must be 1 above
//  the last one kept (or anything when the outbox is empty), carrying ops
//  operations of bytes payload bytes. The caller keeps its own frame.
void
    zstate_outbox_keep (zstate_outbox_t *self, uint64_t sequence, zmq_msg_t *frame,
                        size_t ops, size_t bytes);

//  The server delivered every message up to and including sequence: the
//  mark moves there when that is higher (never back: a new server instance
//  delivers again what the old one did, and that is not news). Returns the
//  operations held between the old mark and the new one, so that each
//  operation counts as delivered once. A client at level PERSISTED keeps
//  these messages until their ACK says persisted.
size_t
    zstate_outbox_deliver (zstate_outbox_t *self, uint64_t sequence);

//  The delivered mark: the highest sequence the server said it delivered
uint64_t
    zstate_outbox_delivered (zstate_outbox_t *self);

//  Forget every message up to and including sequence. Messages above the
//  delivered mark move it first (an acknowledgement implies delivery), so
//  that zstate_outbox_deliver never counts them. Returns the operations
//  forgotten and adds their bytes to *bytes_p when not NULL.
size_t
    zstate_outbox_ack (zstate_outbox_t *self, uint64_t sequence, size_t *bytes_p);

//  Forget the one message with sequence (refused for good). Returns its
//  operations, 0 when it is not held; adds its bytes to *bytes_p.
size_t
    zstate_outbox_drop (zstate_outbox_t *self, uint64_t sequence, size_t *bytes_p);

//  Find the first message held with a sequence of at least from, and
//  initialise *frame as a copy of it (the caller sends or closes it).
//  Returns its sequence, or 0 when there is none.
uint64_t
    zstate_outbox_next (zstate_outbox_t *self, uint64_t from, zmq_msg_t *frame);

//  Lowest sequence held, or 0 when the outbox is empty
uint64_t
    zstate_outbox_first (zstate_outbox_t *self);

//  Messages, operations and payload bytes held
size_t
    zstate_outbox_size (zstate_outbox_t *self);
size_t
    zstate_outbox_ops (zstate_outbox_t *self);
size_t
    zstate_outbox_bytes (zstate_outbox_t *self);

//  Self test of this class.
void
    zstate_outbox_test (bool verbose);
//  @end

#ifdef __cplusplus
}
#endif

#endif
