/*  =========================================================================
    zstate_batch_private - private header: a batch at the wire level, for
    the codec and the agents

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_BATCH_PRIVATE_H_INCLUDED
#define ZSTATE_BATCH_PRIVATE_H_INCLUDED

//  data and load are exported, though no public header declares them: the
//  zstate tool, which links the shared library, reads and writes wire
//  operations with them. They are not part of the API.

//  Return the encoded operations (zstate_batch_bytes long).
ZSTATE_EXPORT const byte *
    zstate_batch_data (zstate_batch_t *self);

//  Append count operations read from their wire encoding at data, which
//  holds size bytes; every length is checked against the bytes that remain.
//  Stores the bytes used in *used_p when not NULL. Returns 0, or a
//  ZSTATE_WIRE_* reason (zstate_msg.h) with the batch unchanged.
ZSTATE_EXPORT int
    zstate_batch_load (zstate_batch_t *self, const void *data, size_t size,
                       size_t count, size_t *used_p);

//  Check that data, size bytes long, holds exactly count well-formed
//  operations and nothing else, without copying. Returns 0 or a
//  ZSTATE_WIRE_* reason.
int
    zstate_batch_scan (const void *data, size_t size, size_t count);

#endif
