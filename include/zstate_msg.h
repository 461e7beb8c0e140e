/*  =========================================================================
    zstate_msg - the zstate wire codec (doc/protocol.md)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_MSG_H_INCLUDED
#define ZSTATE_MSG_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  One wire message carries a batch of operations for one (db, table) from
//  one client session: signature, version, type, session id (a UUID),
//  sequence number, db name, table name, operation count, operations. All
//  integers are fixed width in network byte order; doc/protocol.md is the
//  specification. Decoding checks every length against the bytes that
//  remain before it reads, and rejects a bad message as a whole with one
//  of the reasons below.

#define ZSTATE_MSG_VERSION      1       //  Protocol version we speak
#define ZSTATE_MSG_OPS          1       //  Message type: a batch of operations
#define ZSTATE_MSG_SESSION_SIZE 16      //  Session id, bytes (a binary UUID)

//  Why a message was rejected (0 means it was not)
#define ZSTATE_WIRE_OK          0
#define ZSTATE_WIRE_TRUNCATED   1       //  ends inside a field
#define ZSTATE_WIRE_SIGNATURE   2       //  not a zstate message
#define ZSTATE_WIRE_VERSION     3       //  unsupported protocol version
#define ZSTATE_WIRE_TYPE        4       //  unknown message type
#define ZSTATE_WIRE_TOO_LARGE   5       //  over ZSTATE_MESSAGE_MAX bytes
#define ZSTATE_WIRE_NAME        6       //  bad db or table name
#define ZSTATE_WIRE_OP_COUNT    7       //  zero, over the limit, or more than the bytes hold
#define ZSTATE_WIRE_OP_CODE     8       //  unknown operation code
#define ZSTATE_WIRE_KEY         9       //  empty or oversized key
#define ZSTATE_WIRE_FIELD       10      //  oversized name, too many fields, DEL with fields
#define ZSTATE_WIRE_TERMINATOR  11      //  a string is not followed by its NUL
#define ZSTATE_WIRE_TRAILING    12      //  bytes after the last operation
#define ZSTATE_WIRE_FRAMES      13      //  wrong number of frames
#define ZSTATE_WIRE_REASONS     14      //  number of reason codes

//  Create a decoder; reuse it for many messages.
ZSTATE_EXPORT zstate_msg_t *
    zstate_msg_new (void);

//  Destroy a decoder; nulls the caller's pointer.
ZSTATE_EXPORT void
    zstate_msg_destroy (zstate_msg_t **self_p);

//  Decode and fully validate the message in data (size bytes): envelope
//  and every operation. Returns 0, or a ZSTATE_WIRE_* reason. On success
//  the accessors below point into data, which must stay alive meanwhile.
ZSTATE_EXPORT int
    zstate_msg_decode (zstate_msg_t *self, const void *data, size_t size);

//  Decode and validate the envelope only, for a message that was already
//  validated (by our server) and must not be walked twice.
ZSTATE_EXPORT int
    zstate_msg_decode_header (zstate_msg_t *self, const void *data, size_t size);

//  Accessors for the last decoded message.
ZSTATE_EXPORT const byte *
    zstate_msg_session (zstate_msg_t *self);
ZSTATE_EXPORT uint64_t
    zstate_msg_sequence (zstate_msg_t *self);
ZSTATE_EXPORT const char *
    zstate_msg_db (zstate_msg_t *self);
ZSTATE_EXPORT const char *
    zstate_msg_table (zstate_msg_t *self);
ZSTATE_EXPORT size_t
    zstate_msg_op_count (zstate_msg_t *self);
//  The encoded operations, with their size in *size_p.
ZSTATE_EXPORT const byte *
    zstate_msg_ops (zstate_msg_t *self, size_t *size_p);

//  Encode one message holding all operations of batch. Returns a new frame,
//  or NULL with errno EINVAL (bad names, empty batch) or EMSGSIZE.
ZSTATE_EXPORT zframe_t *
    zstate_msg_encode (const byte *session, uint64_t sequence,
                       const char *db, const char *table, zstate_batch_t *batch);

//  Check that name is a valid db or table name: 1..ZSTATE_NAME_MAX bytes.
ZSTATE_EXPORT bool
    zstate_msg_name_valid (const char *name);

//  Return a short text for a ZSTATE_WIRE_* reason ("truncated", ...).
ZSTATE_EXPORT const char *
    zstate_msg_reason_str (int reason);

//  Print the last decoded message.
ZSTATE_EXPORT void
    zstate_msg_print (zstate_msg_t *self);

//  @end

#ifdef __cplusplus
}
#endif

#endif
