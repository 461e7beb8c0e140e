/*  =========================================================================
    zstate_sonic_msg - the codec of SONiC's ZMQ state-table frames
    (sonic-swss-common's BinarySerializer; doc/protocol.md, part 3)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SONIC_MSG_H_INCLUDED
#define ZSTATE_SONIC_MSG_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  One SONiC frame is one ZeroMQ frame holding a count of pairs and then
//  that many (key, value) pairs, every integer a u64 little-endian:
//
//      frame = pair-count:u64 pair{pair-count}
//      pair  = key-size:u64 key value-size:u64 value
//
//  Pair 0 is (db name, table name). Each operation is a pair (key, field
//  count in ASCII decimal) followed by that many (field, value) pairs. The
//  operation code is not on the wire: a count of 0 is a DEL, any other a
//  SET. So SONiC cannot carry an HSET, nor a SET with no fields:
//  zstate_sonic_msg_encode sends an HSET as a SET (what a SONiC producer
//  does with op "HSET") and refuses a SET with no fields with ENOTSUP (it
//  would arrive as a DEL).
//
//  Unlike SONiC's own decoder, zstate_sonic_msg_decode validates every
//  length against its limit and then against the bytes that remain, reads
//  the count as plain decimal digits only, and rejects a bad frame as a
//  whole with one of the reasons below; it never aborts.

//  Why a SONiC frame was rejected (0 means it was not)
#define ZSTATE_SONIC_OK         0
#define ZSTATE_SONIC_TRUNCATED  1   //  a size or the bytes it announces run past the frame
#define ZSTATE_SONIC_TOO_LARGE  2   //  frame over ZSTATE_MESSAGE_MAX, or an operation
                                    //  over what one zstate message can carry
#define ZSTATE_SONIC_PAIR_COUNT 3   //  no operation (under 2 pairs), or more pairs
                                    //  than ZSTATE_MESSAGE_MAX bytes can hold
#define ZSTATE_SONIC_NAME       4   //  db or table name empty, over 255 bytes, NUL inside
#define ZSTATE_SONIC_KEY        5   //  empty key, or over ZSTATE_KEY_MAX
#define ZSTATE_SONIC_COUNT      6   //  field count not plain decimal ("", "2abc", " +1", "-1", "01")
#define ZSTATE_SONIC_FIELD      7   //  field name over ZSTATE_FIELD_MAX, count over ZSTATE_FIELDS_MAX
#define ZSTATE_SONIC_PAIRS      8   //  a field count needs more pairs than the frame has left
#define ZSTATE_SONIC_TRAILING   9   //  bytes after the last pair
#define ZSTATE_SONIC_FRAMES     10  //  the ZeroMQ message is not exactly one frame
#define ZSTATE_SONIC_REASONS    11  //  number of reason codes

typedef struct _zstate_sonic_msg_t zstate_sonic_msg_t;

//  Create a decoder; reuse it for many frames.
ZSTATE_EXPORT zstate_sonic_msg_t *
    zstate_sonic_msg_new (void);

//  Destroy a decoder; nulls the caller's pointer.
ZSTATE_EXPORT void
    zstate_sonic_msg_destroy (zstate_sonic_msg_t **self_p);

//  Decode and fully validate the frame in data (size bytes). Returns 0 and
//  holds the operations in the decoder's batch (SET for a count of 1 or
//  more, DEL for 0), or a ZSTATE_SONIC_* reason with the batch empty.
ZSTATE_EXPORT int
    zstate_sonic_msg_decode (zstate_sonic_msg_t *self, const void *data, size_t size);

//  With merge true, decode a field count of 1 or more as HSET instead of
//  SET: SONiC's consumers merge a SET's fields into the entry (and its DB
//  persistence writes them with HSET), where a zstate SET replaces the
//  entry. Default false: SET, as the frame's producer called it.
ZSTATE_EXPORT void
    zstate_sonic_msg_set_merge (zstate_sonic_msg_t *self, bool merge);

//  The db and table names of the last decoded frame, NUL-terminated.
ZSTATE_EXPORT const char *
    zstate_sonic_msg_db (zstate_sonic_msg_t *self);
ZSTATE_EXPORT const char *
    zstate_sonic_msg_table (zstate_sonic_msg_t *self);

//  The operations of the last decoded frame; the decoder owns the batch,
//  which stays valid until the next decode.
ZSTATE_EXPORT zstate_batch_t *
    zstate_sonic_msg_batch (zstate_sonic_msg_t *self);

//  Encode all operations of batch for (db, table) as one SONiC frame: a
//  SET as (key, count) and its fields, an HSET the same way (stores the
//  number of HSETs in *hsets_p when not NULL), a DEL as (key, "0").
//  Returns a new frame, or NULL with errno EINVAL (bad names, empty batch),
//  ENOTSUP (a SET with no fields) or EMSGSIZE (over ZSTATE_MESSAGE_MAX).
ZSTATE_EXPORT zframe_t *
    zstate_sonic_msg_encode (const char *db, const char *table, zstate_batch_t *batch,
                             size_t *hsets_p);

//  Return the bytes operation index of batch takes in a SONiC frame.
ZSTATE_EXPORT size_t
    zstate_sonic_msg_op_size (zstate_batch_t *batch, size_t index);

//  Return a short text for a ZSTATE_SONIC_* reason ("truncated", ...).
ZSTATE_EXPORT const char *
    zstate_sonic_msg_reason_str (int reason);

//  Return a short name for a ZSTATE_SONIC_* reason, for counters
//  ("truncated", "too_large", ...).
ZSTATE_EXPORT const char *
    zstate_sonic_msg_reason_name (int reason);

//  @end

#ifdef __cplusplus
}
#endif

#endif
