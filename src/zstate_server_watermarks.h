/*  =========================================================================
    zstate_server_watermarks - private header: the persisted watermarks of
    one table, session id -> the highest sequence of that session for the
    table that Redis holds, as a DB writer restored or confirmed them

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVER_WATERMARKS_H_INCLUDED
#define ZSTATE_SERVER_WATERMARKS_H_INCLUDED

//  A route of the server holds one once its consumer restored; it is
//  tested through zstate_server_persist_suite.
typedef struct _zstate_server_watermarks_t zstate_server_watermarks_t;

//  One watermark on the wire: 16-octet session id, 8-octet sequence in
//  network byte order
#define ZSTATE_WATERMARK_SIZE   24

//  Create an empty map.
zstate_server_watermarks_t *
    zstate_server_watermarks_new (void);

//  Destroy; nulls the pointer.
void
    zstate_server_watermarks_destroy (zstate_server_watermarks_t **self_p);

//  Add the n x ZSTATE_WATERMARK_SIZE octets of data; a session given
//  twice keeps the higher. Returns 0, or -1 with errno EINVAL when size
//  is not a multiple of ZSTATE_WATERMARK_SIZE (nothing added).
int
    zstate_server_watermarks_load (zstate_server_watermarks_t *self,
                                   const byte *data, size_t size);

//  Return true when Redis holds sequence of session_id already.
bool
    zstate_server_watermarks_covers (zstate_server_watermarks_t *self,
                                     const byte *session_id, uint64_t sequence);

//  Return the number of sessions in the map.
size_t
    zstate_server_watermarks_size (zstate_server_watermarks_t *self);

//  Hash and compare of 16-byte session ids, for zhashx: ids come from the
//  network, so every bit goes through the hash.
size_t
    zstate_server_session_hash (const void *key);
int
    zstate_server_session_compare (const void *key1, const void *key2);

//  Return a new zhashx keyed by 16-byte session ids that point into each
//  item (so the keys are neither copied nor freed), with destructor for
//  the items.
zhashx_t *
    zstate_server_session_table (zhashx_destructor_fn destructor);

//  Return the 8 octets at data as a number in network byte order.
uint64_t
    zstate_server_get_uint64 (const byte *data);

#endif
