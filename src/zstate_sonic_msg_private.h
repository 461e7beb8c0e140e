/*  =========================================================================
    zstate_sonic_msg_private - private header: encoding part of a batch,
    for the SONiC client, which splits calls over 16 MiB

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SONIC_MSG_PRIVATE_H_INCLUDED
#define ZSTATE_SONIC_MSG_PRIVATE_H_INCLUDED

//  The bytes a frame for (db, table) takes before its operations
size_t
    zstate_sonic_msg_header_size (const char *db, const char *table);

//  Encode count operations of batch from first as one frame, as
//  zstate_sonic_msg_encode does the whole batch.
zframe_t *
    zstate_sonic_msg_encode_range (const char *db, const char *table,
                                   zstate_batch_t *batch, size_t first, size_t count,
                                   size_t *hsets_p);

#endif
