/*  =========================================================================
    zstate_session_msg - codec of the protocol version 2 messages

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SESSION_MSG_H_INCLUDED
#define ZSTATE_SESSION_MSG_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  Version 2 of the wire protocol (doc/protocol.md, part 2) adds a session
//  on the same DEALER/ROUTER connection: HELLO, WELCOME, ACK, REJECT, PING
//  and PONG, and OPS with version 2; state resync adds SNAPSHOT-BEGIN,
//  SNAPSHOT-END and RESYNC. This private class encodes them into
//  a caller's buffer or a zmq_msg_t, and decodes any of them, and OPS of
//  version 1, through one entry point that validates every length against
//  the bytes that remain before it reads, allocates nothing, and says what
//  the message is, or why it is bad.

#define ZSTATE_SESSION_VERSION      2       //  Protocol version of this codec
#define ZSTATE_SESSION_EPOCH_SIZE   16      //  Server epoch, bytes (random)
#define ZSTATE_SESSION_TEXT_MAX     255     //  REJECT reason text, bytes
#define ZSTATE_SESSION_HEARTBEAT_MIN 10     //  Heartbeat interval, msecs,
#define ZSTATE_SESSION_HEARTBEAT_MAX 3600000    //  when it is not 0 (none)

//  Message types; 12..127 are kept for later zstate types, 128..255 for
//  extensions such as interop bridges.
typedef enum {
    ZSTATE_SESSION_MSG_OPS = 1,         //  A batch of operations (v1 and v2)
    ZSTATE_SESSION_MSG_HELLO = 2,       //  Client opens or resumes a session
    ZSTATE_SESSION_MSG_WELCOME = 3,     //  Server: epoch, where to resume
    ZSTATE_SESSION_MSG_ACK = 4,         //  Server: delivered and persisted
    ZSTATE_SESSION_MSG_REJECT = 5,      //  Server refused one sequence for good
    ZSTATE_SESSION_MSG_PING = 6,        //  Either side: are you there?
    ZSTATE_SESSION_MSG_PONG = 7,        //  Either side: the answer to PING
    ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN = 8,  //  Client: a window opens on a table
    ZSTATE_SESSION_MSG_SNAPSHOT_END = 9,    //  Client: the window closes
    ZSTATE_SESSION_MSG_RESYNC = 10,     //  Server: send a snapshot of a table
    ZSTATE_SESSION_MSG_REPLAY = 11      //  Server: send again from a sequence,
                                        //  for the DB writer only
} zstate_session_msg_type_t;

//  Feature bits of HELLO (offered) and WELCOME (granted)
#define ZSTATE_SESSION_FEATURE_RESYNC   0x00000001  //  types 8, 9 and 10
#define ZSTATE_SESSION_FEATURE_REPLAY   0x00000002  //  type 11

//  What a window is (SNAPSHOT-BEGIN's kind): entries replayed from the
//  client's mirror, or a view the application re-asserts
#define ZSTATE_SESSION_SNAPSHOT         1
#define ZSTATE_SESSION_VIEW             2
//  How a window ends (SNAPSHOT-END's status): complete, so what it did not
//  mark goes; or abandoned, so nothing goes
#define ZSTATE_SESSION_END_COMPLETE     0
#define ZSTATE_SESSION_END_ABANDONED    1

//  Acknowledgement levels a client asks for in HELLO
typedef enum {
    ZSTATE_SESSION_ACK_DELIVERED = 1,   //  Handed to the consumer table
    ZSTATE_SESSION_ACK_PERSISTED = 2    //  Also written by its DB writer
} zstate_session_ack_level_t;

//  Why a message is bad; the first 14 codes are those of version 1
//  (ZSTATE_WIRE_*), with the same numbers. The decoder never returns
//  UNROUTABLE, UNAUTHORISED and NO_SESSION: they are server policy, for
//  REJECT and the counters.
typedef enum {
    ZSTATE_SESSION_REASON_OK = 0,
    ZSTATE_SESSION_REASON_TRUNCATED = 1,    //  ends inside a field
    ZSTATE_SESSION_REASON_SIGNATURE = 2,    //  not a zstate message
    ZSTATE_SESSION_REASON_VERSION = 3,      //  version not 1 or 2
    ZSTATE_SESSION_REASON_TYPE = 4,         //  unknown type (for the version)
    ZSTATE_SESSION_REASON_TOO_LARGE = 5,    //  over ZSTATE_MESSAGE_MAX
    ZSTATE_SESSION_REASON_NAME = 6,         //  bad db or table name
    ZSTATE_SESSION_REASON_OP_COUNT = 7,     //  bad operation count
    ZSTATE_SESSION_REASON_OP_CODE = 8,      //  unknown operation code
    ZSTATE_SESSION_REASON_KEY = 9,          //  empty or oversized key
    ZSTATE_SESSION_REASON_FIELD = 10,       //  bad field
    ZSTATE_SESSION_REASON_TERMINATOR = 11,  //  string not followed by NUL
    ZSTATE_SESSION_REASON_TRAILING = 12,    //  bytes after the last field
    ZSTATE_SESSION_REASON_FRAMES = 13,      //  not exactly one frame
    ZSTATE_SESSION_REASON_ACK_LEVEL = 14,   //  ack level not 1 or 2
    ZSTATE_SESSION_REASON_HEARTBEAT = 15,   //  heartbeat out of range
    ZSTATE_SESSION_REASON_SEQUENCE = 16,    //  0 where 1.. is needed, persisted > delivered
    ZSTATE_SESSION_REASON_EPOCH = 17,       //  all-zero epoch from a server
    ZSTATE_SESSION_REASON_REASON = 18,      //  REJECT with reason code 0
    ZSTATE_SESSION_REASON_TEXT = 19,        //  REJECT text too long or with a NUL
    ZSTATE_SESSION_REASON_UNROUTABLE = 20,  //  no consumer for (db, table)
    ZSTATE_SESSION_REASON_UNAUTHORISED = 21,    //  peer may not write there
    ZSTATE_SESSION_REASON_NO_SESSION = 22,  //  OPS v2 before a WELCOME
    ZSTATE_SESSION_REASON_KIND = 23,        //  SNAPSHOT-BEGIN kind not 1 or 2
    ZSTATE_SESSION_REASON_STATUS = 24,      //  SNAPSHOT-END status not 0 or 1
    ZSTATE_SESSION_REASON_COUNT = 25        //  number of reason codes
} zstate_session_msg_reason_t;

//  One decoded message, or one to encode. A field is used only by the
//  types named in its comment; the others are 0/NULL after a decode and
//  ignored by the encoder. After a decode, every pointer points into the
//  decoded bytes, which must outlive its use.
typedef struct {
    int type;                   //  zstate_session_msg_type_t
    int version;                //  1 or 2: set by decode; encode writes 2
    const byte *session;        //  16 bytes: every type
    const byte *epoch;          //  16 bytes: WELCOME ACK REJECT PING PONG
                                //  RESYNC REPLAY
    uint64_t sequence;          //  OPS SNAPSHOT_BEGIN SNAPSHOT_END: its own;
                                //  HELLO: first unacknowledged;
                                //  REJECT: the one refused;
                                //  REPLAY: the first to send again
    uint64_t to;                //  REPLAY: the last to send again, >= sequence
    uint32_t skip;              //  REPLAY: how many of those numbered
                                //  sequence, the first, not to send again
    uint32_t max;               //  REPLAY: of those numbered up to to, how
                                //  many to send again at most; 0: all
    uint64_t delivered;         //  WELCOME ACK: last delivered sequence
    uint64_t persisted;         //  WELCOME ACK: last persisted, <= delivered
    uint64_t nonce;             //  PING PONG: echoed by PONG; REPLAY: echoed
                                //  by the PONG that ends what it asked for
    uint32_t heartbeat;         //  HELLO WELCOME: sender's interval, msecs
    uint32_t features;          //  HELLO: offered; WELCOME: accepted
                                //  (ZSTATE_SESSION_FEATURE_*)
    int ack_level;              //  HELLO: asked; WELCOME: granted
    int reason;                 //  REJECT: zstate_session_msg_reason_t, 1..
    const char *text;           //  REJECT: reason text, NUL-terminated
    size_t text_size;           //  REJECT: its size without the NUL
    const char *db;             //  OPS SNAPSHOT_*: db name, NUL-terminated;
                                //  RESYNC: the same, or "" for every table
    const char *table;          //  OPS SNAPSHOT_*: table name, NUL-terminated;
                                //  RESYNC: the same, or "" with db ""
    int kind;                   //  SNAPSHOT_BEGIN: ZSTATE_SESSION_SNAPSHOT
                                //  or ZSTATE_SESSION_VIEW
    uint64_t begin;             //  SNAPSHOT_END: sequence of its BEGIN,
                                //  1 .. sequence - 1
    uint64_t count;             //  SNAPSHOT_END: entries sent in the window
    int status;                 //  SNAPSHOT_END: ZSTATE_SESSION_END_*
    uint32_t op_count;          //  OPS: number of operations
    const byte *ops;            //  OPS: the operations, wire-encoded
    size_t ops_size;            //  OPS: their size in bytes
} zstate_session_msg_t;

//  Decode and fully validate the size bytes at data: any version 2 message,
//  or OPS of version 1. Fills *msg and returns 0, or returns a reason and
//  clears *msg. Never reads outside data, never allocates.
int
    zstate_session_msg_decode (zstate_session_msg_t *msg, const void *data, size_t size);

//  Return the bytes that encoding msg takes, or 0 when msg cannot be
//  encoded: unknown type, names or text over their limits, too large.
size_t
    zstate_session_msg_size (const zstate_session_msg_t *msg);

//  Encode msg, as version 2, into dest, which holds capacity bytes.
//  Returns the bytes written, or -1 with errno and zstate_reason ():
//  EINVAL when msg is not a valid message (nothing a decoder would reject
//  is ever encoded), ENOBUFS when capacity is too small.
ssize_t
    zstate_session_msg_encode (const zstate_session_msg_t *msg, byte *dest, size_t capacity);

//  Encode msg into *frame, a zmq_msg_t the call initialises; the caller
//  sends or closes it. Returns 0, or -1 with errno and zstate_reason ()
//  as zstate_session_msg_encode, leaving *frame uninitialised.
int
    zstate_session_msg_encode_frame (const zstate_session_msg_t *msg, zmq_msg_t *frame);

//  Return a short text for a reason code ("truncated", ...); "unknown
//  reason" for codes this version does not know.
const char *
    zstate_session_msg_reason_text (int reason);

//  Return the name of a message type ("HELLO", ...), or "?" when unknown.
const char *
    zstate_session_msg_type_name (int type);

//  Self test of this class.
void
    zstate_session_msg_test (bool verbose);
//  @end

#ifdef __cplusplus
}
#endif

#endif
