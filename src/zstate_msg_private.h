/*  =========================================================================
    zstate_msg_private - private header: envelope primitives of the wire codec

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_MSG_PRIVATE_H_INCLUDED
#define ZSTATE_MSG_PRIVATE_H_INCLUDED

//  Envelope primitives, for builders that write operations straight into
//  the message buffer (the client agent). The header takes header_size
//  bytes; the sequence and op count can be patched in place afterwards.
size_t
    zstate_msg_header_size (size_t db_size, size_t table_size);
void
    zstate_msg_write_header (byte *dest, const byte *session, uint64_t sequence,
                             const char *db, size_t db_size,
                             const char *table, size_t table_size, uint32_t op_count);
void
    zstate_msg_patch_header (byte *dest, size_t header_size,
                             uint64_t sequence, uint32_t op_count);

#endif
