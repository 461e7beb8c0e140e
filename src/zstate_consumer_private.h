/*  =========================================================================
    zstate_consumer_private - private header: what a consumer table offers the
    server that delivers to it

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CONSUMER_PRIVATE_H_INCLUDED
#define ZSTATE_CONSUMER_PRIVATE_H_INCLUDED

//  Server side of a consumer table, called on the server's thread only,
//  while the consumer is registered. Append msg, a whole wire message the
//  server has validated, to the consumer's queue and wake the application
//  if nothing was pending; forwarded says a copy went to the writer, for
//  the counters. Returns 0, having taken msg's content. Returns -1 when the
//  queue is at its bound, leaving msg as it was: the server then polls
//  zstate_consumer_room_fd, and tries again when it is readable.
int
    zstate_consumer_deliver (zstate_consumer_t *self, zmq_msg_t *msg, bool forwarded);

//  An eventfd that is readable once the queue has room again after deliver
//  refused a message. Only the server that delivers to this consumer polls
//  it, and never reads it: deliver clears it when it refuses.
int
    zstate_consumer_room_fd (zstate_consumer_t *self);

//  Hand the server the watermarks of this table restored from Redis
//  (zstate_server_link_restored). Returns 0, or -1 with errno and
//  zstate_reason ().
int
    zstate_consumer_restored (zstate_consumer_t *self, const byte *watermarks,
                              size_t size);

//  Print the consumer's writer state as ZPL items, for the server's monitor
void
    zstate_consumer_fprint_writer (zstate_consumer_t *self, FILE *file);

#endif
