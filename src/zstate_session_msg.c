/*  =========================================================================
    zstate_session_msg - codec of the protocol version 2 messages

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Every version 2 message is one ZeroMQ frame that starts with the
    signature, the version, the type and the session id, at the same
    offsets as in version 1:

        message = "ZS" version type session body

    so a receiver dispatches on the fourth byte, and OPS keeps the layout
    of version 1 byte for byte.
@discuss
    The decoder reads through a cursor that knows how many bytes remain,
    and takes every fixed-width field through one bounds check; variable
    fields compare their size with a limit first, then with what remains,
    without an addition that could wrap. The encoder writes, then decodes
    what it wrote, so it can never produce a message that a receiver would
    reject.
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"

#define SIGNATURE_0     0x5A    //  'Z'
#define SIGNATURE_1     0x53    //  'S'
#define PREFIX_SIZE     4       //  signature, version, type
#define SESSION_SIZE    ZSTATE_MSG_SESSION_SIZE
#define EPOCH_SIZE      ZSTATE_SESSION_EPOCH_SIZE

//  Bytes of the fixed-size types, prefix and session included
#define HELLO_SIZE      (PREFIX_SIZE + SESSION_SIZE + 8 + 1 + 4 + 4)
#define WELCOME_SIZE    (PREFIX_SIZE + SESSION_SIZE + EPOCH_SIZE + 8 + 8 + 1 + 4 + 4)
#define ACK_SIZE        (PREFIX_SIZE + SESSION_SIZE + EPOCH_SIZE + 8 + 8)
#define REJECT_SIZE     (PREFIX_SIZE + SESSION_SIZE + EPOCH_SIZE + 8 + 2 + 4 + 1)
#define PING_SIZE       (PREFIX_SIZE + SESSION_SIZE + EPOCH_SIZE + 8)
#define REPLAY_SIZE     (PREFIX_SIZE + SESSION_SIZE + EPOCH_SIZE + 8 + 8 + 4 + 4 + 8)
//  ... and of the resync types with both names empty (a name's size field
//  and NUL take 5 bytes)
#define BEGIN_SIZE      (PREFIX_SIZE + SESSION_SIZE + 8 + 5 + 5 + 1)
#define END_SIZE        (PREFIX_SIZE + SESSION_SIZE + 8 + 5 + 5 + 8 + 8 + 1)
#define RESYNC_SIZE     (PREFIX_SIZE + SESSION_SIZE + EPOCH_SIZE + 5 + 5)

//  A read position and the bytes that remain after it
typedef struct {
    const byte *cursor;
    size_t remaining;
} reader_t;

static int
s_take (reader_t *reader, size_t width, const byte **field_p)
{
    if (reader->remaining < width)
        return ZSTATE_SESSION_REASON_TRUNCATED;
    *field_p = reader->cursor;
    reader->cursor += width;
    reader->remaining -= width;
    return 0;
}

static int
s_take_u64 (reader_t *reader, uint64_t *value_p)
{
    const byte *field;
    int rc = s_take (reader, 8, &field);
    if (rc == 0)
        *value_p = zstate_get_u64 (field);
    return rc;
}

static int
s_take_u32 (reader_t *reader, uint32_t *value_p)
{
    const byte *field;
    int rc = s_take (reader, 4, &field);
    if (rc == 0)
        *value_p = zstate_get_u32 (field);
    return rc;
}

//  An epoch that a server sent: all zeros means "unknown", which only a
//  client may say
static int
s_take_epoch (reader_t *reader, const byte **epoch_p, bool must_be_known)
{
    int rc = s_take (reader, EPOCH_SIZE, epoch_p);
    if (rc == 0 && must_be_known) {
        rc = ZSTATE_SESSION_REASON_EPOCH;
        for (size_t index = 0; index < EPOCH_SIZE; index++)
            if ((*epoch_p) [index])
                rc = 0;
    }
    return rc;
}

//  A string of size 1..max (or 0..max) bytes with no NUL inside, then a
//  NUL: the db and table names of OPS and the text of REJECT
static int
s_take_name (reader_t *reader, size_t min, size_t max, int bad,
             const char **name_p, size_t *size_p)
{
    const byte *field;
    int rc = s_take (reader, 4, &field);
    if (rc)
        return rc;
    size_t size = zstate_get_u32 (field);
    if (size < min || size > max)
        return bad;
    //  The bytes and the NUL must remain (size <= max, so no wrap)
    if (size >= reader->remaining)
        return ZSTATE_SESSION_REASON_TRUNCATED;
    if (memchr (reader->cursor, 0, size))
        return bad;
    if (reader->cursor [size] != 0)
        return ZSTATE_SESSION_REASON_TERMINATOR;
    *name_p = (const char *) reader->cursor;
    *size_p = size;
    reader->cursor += size + 1;
    reader->remaining -= size + 1;
    return 0;
}

//  Ack level, heartbeat interval and features: the tail of HELLO and
//  WELCOME. Feature bits this version does not know are passed on, so
//  that a later peer can offer them and learn that they were not taken.
static int
s_take_session_options (reader_t *reader, zstate_session_msg_t *msg)
{
    const byte *field;
    int rc = s_take (reader, 1, &field);
    if (rc)
        return rc;
    msg->ack_level = *field;
    if (msg->ack_level != ZSTATE_SESSION_ACK_DELIVERED
    &&  msg->ack_level != ZSTATE_SESSION_ACK_PERSISTED)
        return ZSTATE_SESSION_REASON_ACK_LEVEL;
    rc = s_take (reader, 4, &field);
    if (rc)
        return rc;
    msg->heartbeat = zstate_get_u32 (field);
    if (msg->heartbeat
    && (msg->heartbeat < ZSTATE_SESSION_HEARTBEAT_MIN
    ||  msg->heartbeat > ZSTATE_SESSION_HEARTBEAT_MAX))
        return ZSTATE_SESSION_REASON_HEARTBEAT;
    rc = s_take (reader, 4, &field);
    if (rc == 0)
        msg->features = zstate_get_u32 (field);
    return rc;
}

//  Delivered, then persisted, which cannot be ahead of delivered
static int
s_take_progress (reader_t *reader, zstate_session_msg_t *msg)
{
    int rc = s_take_u64 (reader, &msg->delivered);
    if (rc == 0)
        rc = s_take_u64 (reader, &msg->persisted);
    if (rc == 0 && msg->persisted > msg->delivered)
        rc = ZSTATE_SESSION_REASON_SEQUENCE;
    return rc;
}

//  Sequence, db and table: how OPS, SNAPSHOT-BEGIN and SNAPSHOT-END start
static int
s_take_envelope (reader_t *reader, zstate_session_msg_t *msg)
{
    int rc = s_take_u64 (reader, &msg->sequence);
    if (rc)
        return rc;
    if (msg->version == ZSTATE_SESSION_VERSION && msg->sequence == 0)
        return ZSTATE_SESSION_REASON_SEQUENCE;
    size_t size;
    rc = s_take_name (reader, 1, ZSTATE_NAME_MAX, ZSTATE_SESSION_REASON_NAME,
                      &msg->db, &size);
    if (rc == 0)
        rc = s_take_name (reader, 1, ZSTATE_NAME_MAX, ZSTATE_SESSION_REASON_NAME,
                          &msg->table, &size);
    return rc;
}

//  The body of OPS after the session, as in version 1; version 2 also
//  refuses sequence 0, which version 1 forbade senders but let through
static int
s_take_ops (reader_t *reader, zstate_session_msg_t *msg)
{
    int rc = s_take_envelope (reader, msg);
    const byte *field;
    if (rc == 0)
        rc = s_take (reader, 4, &field);
    if (rc)
        return rc;
    msg->op_count = zstate_get_u32 (field);
    if (msg->op_count == 0 || msg->op_count > ZSTATE_OPS_MAX)
        return ZSTATE_SESSION_REASON_OP_COUNT;
    //  The operation walk is version 1's, and ends with TRAILING itself
    msg->ops = reader->cursor;
    msg->ops_size = reader->remaining;
    reader->remaining = 0;
    return zstate_batch_scan (msg->ops, msg->ops_size, msg->op_count);
}

//  The window markers: BEGIN's kind; END's begin, which comes before the
//  END itself, its count and its status
static int
s_take_window (reader_t *reader, zstate_session_msg_t *msg)
{
    int rc = s_take_envelope (reader, msg);
    const byte *field;
    if (rc == 0 && msg->type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN) {
        rc = s_take (reader, 1, &field);
        if (rc == 0)
            msg->kind = *field;
        if (rc == 0 && msg->kind != ZSTATE_SESSION_SNAPSHOT
                    && msg->kind != ZSTATE_SESSION_VIEW)
            rc = ZSTATE_SESSION_REASON_KIND;
        return rc;
    }
    if (rc == 0)
        rc = s_take_u64 (reader, &msg->begin);
    if (rc == 0 && (msg->begin == 0 || msg->begin >= msg->sequence))
        rc = ZSTATE_SESSION_REASON_SEQUENCE;
    if (rc == 0)
        rc = s_take_u64 (reader, &msg->count);
    if (rc == 0)
        rc = s_take (reader, 1, &field);
    if (rc == 0)
        msg->status = *field;
    if (rc == 0 && msg->status != ZSTATE_SESSION_END_COMPLETE
                && msg->status != ZSTATE_SESSION_END_ABANDONED)
        rc = ZSTATE_SESSION_REASON_STATUS;
    return rc;
}

//  RESYNC names one table, or every table with both names empty
static int
s_take_resync (reader_t *reader, zstate_session_msg_t *msg)
{
    size_t db_size = 0, table_size = 0;
    int rc = s_take_epoch (reader, &msg->epoch, true);
    if (rc == 0)
        rc = s_take_name (reader, 0, ZSTATE_NAME_MAX, ZSTATE_SESSION_REASON_NAME,
                          &msg->db, &db_size);
    if (rc == 0)
        rc = s_take_name (reader, 0, ZSTATE_NAME_MAX, ZSTATE_SESSION_REASON_NAME,
                          &msg->table, &table_size);
    if (rc == 0 && (db_size == 0) != (table_size == 0))
        rc = ZSTATE_SESSION_REASON_NAME;
    return rc;
}

//  The body after the session, by type
static int
s_take_body (reader_t *reader, zstate_session_msg_t *msg)
{
    int rc = 0;
    const byte *field;
    switch (msg->type) {
        case ZSTATE_SESSION_MSG_OPS:
            return s_take_ops (reader, msg);
        case ZSTATE_SESSION_MSG_HELLO:
            rc = s_take_u64 (reader, &msg->sequence);
            if (rc == 0 && msg->sequence == 0)
                rc = ZSTATE_SESSION_REASON_SEQUENCE;
            return rc? rc: s_take_session_options (reader, msg);
        case ZSTATE_SESSION_MSG_WELCOME:
            rc = s_take_epoch (reader, &msg->epoch, true);
            if (rc == 0)
                rc = s_take_progress (reader, msg);
            return rc? rc: s_take_session_options (reader, msg);
        case ZSTATE_SESSION_MSG_ACK:
            rc = s_take_epoch (reader, &msg->epoch, true);
            if (rc == 0)
                rc = s_take_progress (reader, msg);
            if (rc == 0 && msg->delivered == 0)
                rc = ZSTATE_SESSION_REASON_SEQUENCE;
            return rc;
        case ZSTATE_SESSION_MSG_REJECT:
            rc = s_take_epoch (reader, &msg->epoch, true);
            if (rc == 0)
                rc = s_take_u64 (reader, &msg->sequence);
            if (rc == 0 && msg->sequence == 0)
                rc = ZSTATE_SESSION_REASON_SEQUENCE;
            if (rc == 0)
                rc = s_take (reader, 2, &field);
            if (rc)
                return rc;
            msg->reason = (field [0] << 8) | field [1];
            if (msg->reason == 0)
                return ZSTATE_SESSION_REASON_REASON;
            return s_take_name (reader, 0, ZSTATE_SESSION_TEXT_MAX,
                                ZSTATE_SESSION_REASON_TEXT, &msg->text, &msg->text_size);
        case ZSTATE_SESSION_MSG_PING:
        case ZSTATE_SESSION_MSG_PONG:
            rc = s_take_epoch (reader, &msg->epoch, false);
            return rc? rc: s_take_u64 (reader, &msg->nonce);
        case ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN:
        case ZSTATE_SESSION_MSG_SNAPSHOT_END:
            return s_take_window (reader, msg);
        case ZSTATE_SESSION_MSG_RESYNC:
            return s_take_resync (reader, msg);
        case ZSTATE_SESSION_MSG_REPLAY:
            rc = s_take_epoch (reader, &msg->epoch, true);
            if (rc == 0)
                rc = s_take_u64 (reader, &msg->sequence);
            if (rc == 0 && msg->sequence == 0)
                rc = ZSTATE_SESSION_REASON_SEQUENCE;
            if (rc == 0)
                rc = s_take_u64 (reader, &msg->to);
            if (rc == 0 && msg->to < msg->sequence)
                rc = ZSTATE_SESSION_REASON_SEQUENCE;
            if (rc == 0)
                rc = s_take_u32 (reader, &msg->skip);
            if (rc == 0)
                rc = s_take_u32 (reader, &msg->max);
            return rc? rc: s_take_u64 (reader, &msg->nonce);
    }
    return ZSTATE_SESSION_REASON_TYPE;
}

static int
s_decode (zstate_session_msg_t *msg, const byte *data, size_t size)
{
    if (!data && size)
        return ZSTATE_SESSION_REASON_TRUNCATED;
    if (size < 2)
        return ZSTATE_SESSION_REASON_TRUNCATED;
    if (data [0] != SIGNATURE_0 || data [1] != SIGNATURE_1)
        return ZSTATE_SESSION_REASON_SIGNATURE;
    if (size < 3)
        return ZSTATE_SESSION_REASON_TRUNCATED;
    msg->version = data [2];
    if (msg->version != ZSTATE_MSG_VERSION && msg->version != ZSTATE_SESSION_VERSION)
        return ZSTATE_SESSION_REASON_VERSION;
    if (size < 4)
        return ZSTATE_SESSION_REASON_TRUNCATED;
    msg->type = data [3];
    //  Version 1 knew OPS only
    if (msg->type < ZSTATE_SESSION_MSG_OPS || msg->type > ZSTATE_SESSION_MSG_REPLAY
    || (msg->version == ZSTATE_MSG_VERSION && msg->type != ZSTATE_SESSION_MSG_OPS))
        return ZSTATE_SESSION_REASON_TYPE;
    if (size > ZSTATE_MESSAGE_MAX)
        return ZSTATE_SESSION_REASON_TOO_LARGE;

    reader_t reader = { data + PREFIX_SIZE, size - PREFIX_SIZE };
    int rc = s_take (&reader, SESSION_SIZE, &msg->session);
    if (rc == 0)
        rc = s_take_body (&reader, msg);
    if (rc == 0 && reader.remaining)
        rc = ZSTATE_SESSION_REASON_TRAILING;
    return rc;
}


//  --------------------------------------------------------------------------
//  Decode and fully validate one message of version 2, or OPS of version 1.

int
zstate_session_msg_decode (zstate_session_msg_t *msg, const void *data, size_t size)
{
    assert (msg);
    memset (msg, 0, sizeof (zstate_session_msg_t));
    int rc = s_decode (msg, (const byte *) data, size);
    if (rc)
        memset (msg, 0, sizeof (zstate_session_msg_t));
    return rc;
}


//  --------------------------------------------------------------------------
//  Return the bytes that encoding msg takes, or 0 when it cannot be encoded.

size_t
zstate_session_msg_size (const zstate_session_msg_t *msg)
{
    assert (msg);
    switch (msg->type) {
        case ZSTATE_SESSION_MSG_HELLO:
            return HELLO_SIZE;
        case ZSTATE_SESSION_MSG_WELCOME:
            return WELCOME_SIZE;
        case ZSTATE_SESSION_MSG_ACK:
            return ACK_SIZE;
        case ZSTATE_SESSION_MSG_REJECT:
            if (msg->text_size > ZSTATE_SESSION_TEXT_MAX || (!msg->text && msg->text_size))
                return 0;
            return REJECT_SIZE + msg->text_size;
        case ZSTATE_SESSION_MSG_PING:
        case ZSTATE_SESSION_MSG_PONG:
            return PING_SIZE;
        case ZSTATE_SESSION_MSG_REPLAY:
            return REPLAY_SIZE;
        case ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN:
        case ZSTATE_SESSION_MSG_SNAPSHOT_END:
            if (!zstate_msg_name_valid (msg->db) || !zstate_msg_name_valid (msg->table))
                return 0;
            return (msg->type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN? BEGIN_SIZE: END_SIZE)
                 + strlen (msg->db) + strlen (msg->table);
        case ZSTATE_SESSION_MSG_RESYNC:
            //  Both names, or neither (every table)
            if (!msg->db || !msg->table
            ||  strnlen (msg->db, ZSTATE_NAME_MAX + 1) > ZSTATE_NAME_MAX
            ||  strnlen (msg->table, ZSTATE_NAME_MAX + 1) > ZSTATE_NAME_MAX
            ||  (*msg->db == 0) != (*msg->table == 0))
                return 0;
            return RESYNC_SIZE + strlen (msg->db) + strlen (msg->table);
        case ZSTATE_SESSION_MSG_OPS:
            if (!zstate_msg_name_valid (msg->db) || !zstate_msg_name_valid (msg->table)
            ||  (!msg->ops && msg->ops_size))
                return 0;
            size_t header = zstate_msg_header_size (strlen (msg->db), strlen (msg->table));
            if (msg->ops_size > ZSTATE_MESSAGE_MAX - header)
                return 0;
            return header + msg->ops_size;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Encode msg as version 2 into dest.

//  Copy size bytes from source, or write zeros when source is NULL
static byte *
s_put (byte *dest, const void *source, size_t size)
{
    if (source)
        memcpy (dest, source, size);
    else
        memset (dest, 0, size);
    return dest + size;
}

static byte *
s_put_u64 (byte *dest, uint64_t value)
{
    zstate_put_u64 (dest, value);
    return dest + 8;
}

static byte *
s_put_u32 (byte *dest, uint32_t value)
{
    zstate_put_u32 (dest, value);
    return dest + 4;
}

static byte *
s_put_name (byte *dest, const char *name, size_t size)
{
    zstate_put_u32 (dest, (uint32_t) size);
    dest = s_put (dest + 4, name, size);
    *dest = 0;
    return dest + 1;
}

static byte *
s_put_session_options (byte *dest, const zstate_session_msg_t *msg)
{
    //  A level that a cast would turn into a valid one becomes 0, refused
    bool known = msg->ack_level == ZSTATE_SESSION_ACK_DELIVERED
              || msg->ack_level == ZSTATE_SESSION_ACK_PERSISTED;
    *dest++ = known? (byte) msg->ack_level: 0;
    zstate_put_u32 (dest, msg->heartbeat);
    zstate_put_u32 (dest + 4, msg->features);
    return dest + 8;
}

static void
s_encode_body (const zstate_session_msg_t *msg, byte *dest)
{
    int reason;
    switch (msg->type) {
        case ZSTATE_SESSION_MSG_OPS:
            dest = s_put_u64 (dest, msg->sequence);
            dest = s_put_name (dest, msg->db, strlen (msg->db));
            dest = s_put_name (dest, msg->table, strlen (msg->table));
            zstate_put_u32 (dest, msg->op_count);
            s_put (dest + 4, msg->ops, msg->ops_size);
            break;
        case ZSTATE_SESSION_MSG_HELLO:
            dest = s_put_u64 (dest, msg->sequence);
            s_put_session_options (dest, msg);
            break;
        case ZSTATE_SESSION_MSG_WELCOME:
        case ZSTATE_SESSION_MSG_ACK:
            dest = s_put (dest, msg->epoch, EPOCH_SIZE);
            dest = s_put_u64 (dest, msg->delivered);
            dest = s_put_u64 (dest, msg->persisted);
            if (msg->type == ZSTATE_SESSION_MSG_WELCOME)
                s_put_session_options (dest, msg);
            break;
        case ZSTATE_SESSION_MSG_REJECT:
            dest = s_put (dest, msg->epoch, EPOCH_SIZE);
            dest = s_put_u64 (dest, msg->sequence);
            //  Codes that do not fit 16 bits become 0, which decoding refuses
            reason = msg->reason < 0 || msg->reason > 0xFFFF? 0: msg->reason;
            *dest++ = (byte) (reason >> 8);
            *dest++ = (byte) reason;
            s_put_name (dest, msg->text, msg->text_size);
            break;
        case ZSTATE_SESSION_MSG_PING:
        case ZSTATE_SESSION_MSG_PONG:
            dest = s_put (dest, msg->epoch, EPOCH_SIZE);
            s_put_u64 (dest, msg->nonce);
            break;
        case ZSTATE_SESSION_MSG_REPLAY:
            dest = s_put (dest, msg->epoch, EPOCH_SIZE);
            dest = s_put_u64 (dest, msg->sequence);
            dest = s_put_u64 (dest, msg->to);
            dest = s_put_u32 (dest, msg->skip);
            dest = s_put_u32 (dest, msg->max);
            s_put_u64 (dest, msg->nonce);
            break;
        case ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN:
        case ZSTATE_SESSION_MSG_SNAPSHOT_END:
            dest = s_put_u64 (dest, msg->sequence);
            dest = s_put_name (dest, msg->db, strlen (msg->db));
            dest = s_put_name (dest, msg->table, strlen (msg->table));
            //  Values that a cast would turn into valid ones become
            //  invalid ones, which the check after encoding refuses
            if (msg->type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN) {
                *dest = msg->kind == ZSTATE_SESSION_SNAPSHOT || msg->kind == ZSTATE_SESSION_VIEW?
                        (byte) msg->kind: 0;
                break;
            }
            dest = s_put_u64 (dest, msg->begin);
            dest = s_put_u64 (dest, msg->count);
            *dest = msg->status == ZSTATE_SESSION_END_COMPLETE
                 || msg->status == ZSTATE_SESSION_END_ABANDONED? (byte) msg->status: 0xFF;
            break;
        case ZSTATE_SESSION_MSG_RESYNC:
            dest = s_put (dest, msg->epoch, EPOCH_SIZE);
            dest = s_put_name (dest, msg->db, strlen (msg->db));
            s_put_name (dest, msg->table, strlen (msg->table));
            break;
    }
}

ssize_t
zstate_session_msg_encode (const zstate_session_msg_t *msg, byte *dest, size_t capacity)
{
    assert (msg);
    assert (dest || capacity == 0);
    const char *name = zstate_session_msg_type_name (msg->type);
    size_t size = zstate_session_msg_size (msg);
    if (size == 0)
        return zstate_fail (EINVAL, "cannot encode %s: unknown type, bad name or text, "
                            "or over %d bytes", name, ZSTATE_MESSAGE_MAX);
    if (!msg->session)
        return zstate_fail (EINVAL, "cannot encode %s: no session id", name);
    if (capacity < size)
        return zstate_fail (ENOBUFS, "cannot encode %s: needs %zu bytes, has %zu",
                            name, size, capacity);
    dest [0] = SIGNATURE_0;
    dest [1] = SIGNATURE_1;
    dest [2] = ZSTATE_SESSION_VERSION;
    dest [3] = (byte) msg->type;
    s_put (dest + PREFIX_SIZE, msg->session, SESSION_SIZE);
    s_encode_body (msg, dest + PREFIX_SIZE + SESSION_SIZE);

    //  What a receiver would refuse is never sent
    zstate_session_msg_t check;
    int rc = zstate_session_msg_decode (&check, dest, size);
    if (rc)
        return zstate_fail (EINVAL, "cannot encode %s: %s", name,
                            zstate_session_msg_reason_text (rc));
    return (ssize_t) size;
}


//  --------------------------------------------------------------------------
//  Encode msg into a new zmq_msg_t.

int
zstate_session_msg_encode_frame (const zstate_session_msg_t *msg, zmq_msg_t *frame)
{
    assert (msg);
    assert (frame);
    size_t size = zstate_session_msg_size (msg);
    if (size == 0)
        return (int) zstate_session_msg_encode (msg, NULL, 0);
    if (zmq_msg_init_size (frame, size))
        return zstate_fail (errno, "cannot encode %s: %s",
                            zstate_session_msg_type_name (msg->type), zmq_strerror (errno));
    if (zstate_session_msg_encode (msg, (byte *) zmq_msg_data (frame), size) < 0) {
        int error = errno;
        zmq_msg_close (frame);
        errno = error;
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Texts of the reasons and names of the types.

const char *
zstate_session_msg_reason_text (int reason)
{
    static const char *texts [ZSTATE_SESSION_REASON_COUNT] = {
        "ok", "truncated", "bad signature", "unsupported version",
        "unknown message type", "too large", "bad name", "bad operation count",
        "unknown operation code", "bad key", "bad field", "missing terminator",
        "trailing bytes", "wrong number of frames", "bad acknowledgement level",
        "bad heartbeat interval", "bad sequence", "missing epoch",
        "missing reason code", "bad reason text", "no consumer for the table",
        "not authorised", "no session", "bad window kind", "bad window status"
    };
    if (reason < 0 || reason >= ZSTATE_SESSION_REASON_COUNT)
        return "unknown reason";
    return texts [reason];
}

const char *
zstate_session_msg_type_name (int type)
{
    static const char *names [] = {
        "?", "OPS", "HELLO", "WELCOME", "ACK", "REJECT", "PING", "PONG",
        "SNAPSHOT-BEGIN", "SNAPSHOT-END", "RESYNC", "REPLAY"
    };
    if (type < ZSTATE_SESSION_MSG_OPS || type > ZSTATE_SESSION_MSG_REPLAY)
        return "?";
    return names [type];
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Self test of this class.

//  Reasons: version 1's keep their numbers and texts; all differ
static void
s_test_reasons (void)
{
    assert (ZSTATE_SESSION_REASON_FRAMES == ZSTATE_WIRE_FRAMES);
    assert (ZSTATE_SESSION_REASON_ACK_LEVEL == ZSTATE_WIRE_REASONS);
    for (int code = 0; code < ZSTATE_SESSION_REASON_COUNT; code++) {
        assert (*zstate_session_msg_reason_text (code));
        if (code < ZSTATE_WIRE_REASONS)
            assert (streq (zstate_session_msg_reason_text (code), zstate_msg_reason_str (code)));
        for (int other = 0; other < code; other++)
            assert (!streq (zstate_session_msg_reason_text (code),
                            zstate_session_msg_reason_text (other)));
    }
    assert (streq (zstate_session_msg_reason_text (-1), "unknown reason"));
    assert (streq (zstate_session_msg_reason_text (999), "unknown reason"));
}

//  OPS of version 1 decode as themselves
static void
s_test_v1_ops (const byte *session)
{
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "user:1", "name", "Ada", NULL) == 0);
    assert (zstate_batch_del (batch, "user:2") == 0);
    zstate_session_msg_t msg;
    zframe_t *frame = zstate_msg_encode (session, 0, "app", "users", batch);
    assert (frame);
    assert (zstate_session_msg_decode (&msg, zframe_data (frame), zframe_size (frame)) == 0);
    assert (msg.version == ZSTATE_MSG_VERSION && msg.type == ZSTATE_SESSION_MSG_OPS);
    assert (msg.sequence == 0 && streq (msg.db, "app") && streq (msg.table, "users"));
    assert (msg.op_count == zstate_batch_size (batch));
    assert (msg.ops_size == zstate_batch_bytes (batch));
    assert (memcmp (msg.ops, zstate_batch_data (batch), msg.ops_size) == 0);
    zframe_destroy (&frame);
    zstate_batch_destroy (&batch);
}

void
zstate_session_msg_test (bool verbose)
{
    printf (" * zstate_session_msg: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A client opens its session with HELLO; the server decodes whatever
    //  arrives and dispatches on the type, or counts the reason and drops it
    byte session [ZSTATE_MSG_SESSION_SIZE];
    for (size_t index = 0; index < sizeof (session); index++)
        session [index] = (byte) (0xA0 + index);
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = session, .sequence = 1,
        .ack_level = ZSTATE_SESSION_ACK_PERSISTED, .heartbeat = 1000
    };
    byte buffer [64];
    ssize_t size = zstate_session_msg_encode (&hello, buffer, sizeof (buffer));
    assert (size == (ssize_t) zstate_session_msg_size (&hello));

    zstate_session_msg_t msg;
    int reason = zstate_session_msg_decode (&msg, buffer, (size_t) size);
    int hellos = 0;
    switch (reason? 0: msg.type) {
        case ZSTATE_SESSION_MSG_HELLO:
            //  Resume the session after msg.sequence - 1 and send a WELCOME
            assert (memcmp (msg.session, session, sizeof (session)) == 0);
            assert (msg.sequence == 1);
            assert (msg.ack_level == ZSTATE_SESSION_ACK_PERSISTED);
            assert (msg.heartbeat == 1000);
            hellos++;
            break;
        case ZSTATE_SESSION_MSG_OPS:
            //  Check msg.sequence against the session, deliver msg.ops
            break;
        default:
            zsys_warning ("dropped a %s message: %s",
                          zstate_session_msg_type_name (msg.type),
                          zstate_session_msg_reason_text (reason));
    }
    assert (hellos == 1);

    //  The HELLO of doc/protocol.md, byte for byte
    byte expected [] = {
        0x5A, 0x53, 0x02, 0x02,
        0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
        0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x02, 0x00, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x00, 0x00
    };
    assert (size == sizeof (expected) && size == HELLO_SIZE);
    assert (memcmp (buffer, expected, sizeof (expected)) == 0);
    assert (streq (zstate_session_msg_type_name (msg.type), "HELLO"));
    assert (streq (zstate_session_msg_type_name (0), "?"));
    assert (streq (zstate_session_msg_type_name (10), "RESYNC"));
    assert (streq (zstate_session_msg_type_name (11), "REPLAY"));
    assert (streq (zstate_session_msg_type_name (12), "?"));
    //  @end

    s_test_reasons ();
    s_test_v1_ops (session);
    printf ("OK\n");
}
#endif
