/*  =========================================================================
    zstate_session_msg_suite - the session codec against hostile input

    Every message type with edge values round-trips; every prefix of each
    is refused with the right reason; every single-bit flip of each is a
    valid message that encodes back to the same bytes, or is refused;
    hostile sizes and out-of-range values are refused by the decoder and
    never produced by the encoder. Each decode reads a heap copy of exactly
    the bytes under test, so that valgrind and ASan see any overread.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"

#define SESSION_SIZE    ZSTATE_MSG_SESSION_SIZE
#define EPOCH_SIZE      ZSTATE_SESSION_EPOCH_SIZE
#define HELLO_SIZE      37
#define WELCOME_SIZE    61
#define ACK_SIZE        52
#define REJECT_SIZE     51      //  with an empty text
#define PING_SIZE       44
#define BEGIN_SIZE      41      //  db "d", table "t"
#define END_SIZE        57      //  db "d", table "t"
#define RESYNC_SIZE     46      //  every table

#define TEST_SAMPLES 20

//  Six window markers and RESYNCs with edge values
static void
s_test_window_samples (zstate_session_msg_t *msg, const char *long_name)
{
    msg->type = ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN;
    msg->sequence = 1;
    msg->db = "d";
    msg->table = "t";
    msg++->kind = ZSTATE_SESSION_SNAPSHOT;
    msg->type = ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN;
    msg->sequence = UINT64_MAX;
    msg->db = msg->table = long_name;
    msg++->kind = ZSTATE_SESSION_VIEW;
    msg->type = ZSTATE_SESSION_MSG_SNAPSHOT_END;
    msg->sequence = 2;
    msg->begin = 1;
    msg->db = "d";
    msg->table = "t";
    msg++->status = ZSTATE_SESSION_END_COMPLETE;
    msg->type = ZSTATE_SESSION_MSG_SNAPSHOT_END;
    msg->sequence = UINT64_MAX;
    msg->begin = UINT64_MAX - 1;
    msg->count = UINT64_MAX;
    msg->db = msg->table = long_name;
    msg++->status = ZSTATE_SESSION_END_ABANDONED;
    msg->type = ZSTATE_SESSION_MSG_RESYNC;
    msg->db = "";
    msg++->table = "";
    msg->type = ZSTATE_SESSION_MSG_RESYNC;
    msg->db = msg->table = long_name;
}

//  Fill samples with valid messages of every type, with edge values; the
//  strings and bytes they point to live in the caller's arrays
static void
s_test_samples (zstate_session_msg_t *samples, const byte *session, const byte *epoch,
                const char *long_name, const char *text, zstate_batch_t *one,
                zstate_batch_t *many)
{
    memset (samples, 0, sizeof (zstate_session_msg_t) * TEST_SAMPLES);
    zstate_session_msg_t *msg = samples;
    for (int index = 0; index < TEST_SAMPLES; index++) {
        samples [index].session = session;
        samples [index].epoch = epoch;
    }
    msg->type = ZSTATE_SESSION_MSG_HELLO;
    msg->sequence = 1;
    msg->ack_level = ZSTATE_SESSION_ACK_DELIVERED;
    msg++->epoch = NULL;
    msg->type = ZSTATE_SESSION_MSG_HELLO;
    msg->sequence = UINT64_MAX;
    msg->ack_level = ZSTATE_SESSION_ACK_PERSISTED;
    msg->heartbeat = ZSTATE_SESSION_HEARTBEAT_MAX;
    msg->features = 0xFFFFFFFF;
    msg++->epoch = NULL;
    msg->type = ZSTATE_SESSION_MSG_WELCOME;
    msg->ack_level = ZSTATE_SESSION_ACK_DELIVERED;
    msg++->heartbeat = ZSTATE_SESSION_HEARTBEAT_MIN;
    msg->type = ZSTATE_SESSION_MSG_WELCOME;
    msg->delivered = msg->persisted = UINT64_MAX;
    msg->ack_level = ZSTATE_SESSION_ACK_PERSISTED;
    msg->features = 0x80000001;
    msg++->heartbeat = 1000;
    msg->type = ZSTATE_SESSION_MSG_ACK;
    msg++->delivered = 1;
    msg->type = ZSTATE_SESSION_MSG_ACK;
    msg->delivered = UINT64_MAX;
    msg++->persisted = UINT64_MAX - 1;
    msg->type = ZSTATE_SESSION_MSG_REJECT;
    msg->sequence = 1;
    msg++->reason = ZSTATE_SESSION_REASON_TRUNCATED;
    msg->type = ZSTATE_SESSION_MSG_REJECT;
    msg->sequence = UINT64_MAX;
    msg->reason = 0xFFFF;
    msg->text = text;
    msg++->text_size = ZSTATE_SESSION_TEXT_MAX;
    msg->type = ZSTATE_SESSION_MSG_PING;
    msg++->epoch = NULL;
    msg->type = ZSTATE_SESSION_MSG_PING;
    msg++->nonce = UINT64_MAX;
    msg->type = ZSTATE_SESSION_MSG_PONG;
    msg++->nonce = 0x0102030405060708;
    msg->type = ZSTATE_SESSION_MSG_PONG;
    msg++->epoch = NULL;
    msg->type = ZSTATE_SESSION_MSG_OPS;
    msg->sequence = 1;
    msg->db = "d";
    msg->table = "t";
    msg->op_count = (uint32_t) zstate_batch_size (one);
    msg->ops = zstate_batch_data (one);
    msg++->ops_size = zstate_batch_bytes (one);
    msg->type = ZSTATE_SESSION_MSG_OPS;
    msg->sequence = UINT64_MAX;
    msg->db = long_name;
    msg->table = long_name;
    msg->op_count = (uint32_t) zstate_batch_size (many);
    msg->ops = zstate_batch_data (many);
    msg++->ops_size = zstate_batch_bytes (many);
    s_test_window_samples (msg, long_name);
    assert (msg + 6 == samples + TEST_SAMPLES);
}

//  Two messages say the same thing; an epoch of NULL is all zeros
static bool
s_test_equal (const zstate_session_msg_t *msg, const zstate_session_msg_t *other)
{
    byte zeros [EPOCH_SIZE] = { 0 };
    const byte *epoch = msg->epoch? msg->epoch: zeros;
    const byte *other_epoch = other->epoch? other->epoch: zeros;
    bool uses_epoch = msg->type != ZSTATE_SESSION_MSG_OPS
                   && msg->type != ZSTATE_SESSION_MSG_HELLO
                   && msg->type != ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN
                   && msg->type != ZSTATE_SESSION_MSG_SNAPSHOT_END;
    return msg->type == other->type
        && memcmp (msg->session, other->session, SESSION_SIZE) == 0
        && (!uses_epoch || memcmp (epoch, other_epoch, EPOCH_SIZE) == 0)
        && msg->sequence == other->sequence && msg->to == other->to
        && msg->skip == other->skip && msg->max == other->max
        && msg->delivered == other->delivered
        && msg->persisted == other->persisted && msg->nonce == other->nonce
        && msg->heartbeat == other->heartbeat && msg->ack_level == other->ack_level
        && msg->features == other->features
        && msg->reason == other->reason && msg->text_size == other->text_size
        && (msg->text_size == 0 || memcmp (msg->text, other->text, msg->text_size) == 0)
        && (msg->db == other->db || streq (msg->db, other->db))
        && (msg->table == other->table || streq (msg->table, other->table))
        && msg->kind == other->kind && msg->begin == other->begin
        && msg->count == other->count && msg->status == other->status
        && msg->op_count == other->op_count && msg->ops_size == other->ops_size
        && (msg->ops_size == 0 || memcmp (msg->ops, other->ops, msg->ops_size) == 0);
}

//  The reason version 1's decoder gives for the same bytes as version 1
static int
s_test_v1_reason (const byte *data, size_t size)
{
    byte *copy = (byte *) malloc (size? size: 1);
    assert (copy);
    memcpy (copy, data, size);
    if (size > 2)
        copy [2] = ZSTATE_MSG_VERSION;
    zstate_msg_t *decoder = zstate_msg_new ();
    int rc = zstate_msg_decode (decoder, copy, size);
    zstate_msg_destroy (&decoder);
    free (copy);
    return rc;
}

//  Decode a copy of exactly size bytes, so that valgrind and ASan see any
//  read past the end; a message that decodes encodes back to the same bytes
static int
s_test_hostile (const byte *data, size_t size)
{
    byte *copy = (byte *) malloc (size? size: 1);
    assert (copy);
    memcpy (copy, data, size);
    zstate_session_msg_t msg;
    int rc = zstate_session_msg_decode (&msg, copy, size);
    //  Never a reason of server policy
    assert (rc >= 0 && rc < ZSTATE_SESSION_REASON_COUNT);
    assert (rc != ZSTATE_SESSION_REASON_UNROUTABLE && rc != ZSTATE_SESSION_REASON_NO_SESSION
         && rc != ZSTATE_SESSION_REASON_UNAUTHORISED);
    if (rc == 0 && msg.version == ZSTATE_SESSION_VERSION) {
        byte *again = (byte *) malloc (size);
        assert (again);
        assert (zstate_session_msg_encode (&msg, again, size) == (ssize_t) size);
        assert (memcmp (again, copy, size) == 0);
        free (again);
    }
    else
        assert (rc || msg.type == ZSTATE_SESSION_MSG_OPS);
    free (copy);
    return rc;
}

//  Decode a valid message after writing size bytes of value at offset
static int
s_test_patched (const byte *valid, size_t size, size_t offset, uint64_t value, size_t width)
{
    byte *copy = (byte *) malloc (size);
    assert (copy);
    memcpy (copy, valid, size);
    for (size_t index = 0; index < width; index++)
        copy [offset + index] = (byte) (value >> (8 * (width - 1 - index)));
    int rc = s_test_hostile (copy, size);
    free (copy);
    return rc;
}

//  Encoding must refuse msg with EINVAL, naming reason when it is not 0
static void
s_test_refused (const zstate_session_msg_t *msg, int reason)
{
    byte buffer [PING_SIZE * 8];
    errno = 0;
    assert (zstate_session_msg_encode (msg, buffer, sizeof (buffer)) == -1);
    assert (errno == EINVAL);
    assert (!reason || strstr (zstate_reason (), zstate_session_msg_reason_text (reason)));
    zmq_msg_t frame;
    assert (zstate_session_msg_encode_frame (msg, &frame) == -1);
    assert (errno == EINVAL);
}

//  Every sample round-trips, and each of its prefixes and single-bit
//  flips is either a valid message or refused with the right reason
static void
s_test_samples_hostile (zstate_session_msg_t *samples, bool verbose)
{
    size_t truncations = 0;
    size_t flips = 0;
    size_t flips_valid = 0;
    for (int index = 0; index < TEST_SAMPLES; index++) {
        zstate_session_msg_t *sample = &samples [index];
        size_t size = zstate_session_msg_size (sample);
        assert (size);
        byte *encoded = (byte *) malloc (size + 1);
        assert (encoded);
        assert (zstate_session_msg_encode (sample, encoded, size - 1) == -1);
        assert (errno == ENOBUFS);
        assert (zstate_session_msg_encode (sample, encoded, size) == (ssize_t) size);
        zstate_session_msg_t msg;
        assert (zstate_session_msg_decode (&msg, encoded, size) == 0);
        assert (msg.version == ZSTATE_SESSION_VERSION);
        assert (s_test_equal (&msg, sample));
        zmq_msg_t frame;
        assert (zstate_session_msg_encode_frame (sample, &frame) == 0);
        assert (zmq_msg_size (&frame) == size);
        assert (memcmp (zmq_msg_data (&frame), encoded, size) == 0);
        zmq_msg_close (&frame);

        bool ops = sample->type == ZSTATE_SESSION_MSG_OPS;
        for (size_t prefix = 0; prefix < size; prefix++, truncations++) {
            int rc = s_test_hostile (encoded, prefix);
            if (ops) {
                //  Inside the operations, version 1's rules apply
                assert (rc == s_test_v1_reason (encoded, prefix));
                assert (rc == ZSTATE_SESSION_REASON_TRUNCATED
                     || rc == ZSTATE_SESSION_REASON_OP_COUNT);
            }
            else
                assert (rc == ZSTATE_SESSION_REASON_TRUNCATED);
        }
        encoded [size] = 0;
        assert (s_test_hostile (encoded, size + 1) == ZSTATE_SESSION_REASON_TRAILING);

        for (size_t bit = 0; bit < size * 8; bit++, flips++) {
            encoded [bit / 8] ^= (byte) (1 << (bit % 8));
            int rc = s_test_hostile (encoded, size);
            if (rc == 0)
                flips_valid++;
            //  A flip in the version or the type makes another message
            if (ops && bit / 8 > 3) {
                if (zstate_get_u64 (encoded + 20) == 0)
                    assert (rc == ZSTATE_SESSION_REASON_SEQUENCE);
                else
                    assert (rc == s_test_v1_reason (encoded, size));
            }
            encoded [bit / 8] ^= (byte) (1 << (bit % 8));
        }
        free (encoded);
    }
    if (verbose)
        zsys_info ("session msg: %zu truncations, %zu bit flips (%zu still valid)",
                   truncations, flips, flips_valid);
}

//  Bad prefixes and out-of-range values, by hand: the prefix, a NULL
//  buffer, HELLO's fields
static void
s_test_bad_hello (zstate_session_msg_t *samples)
{
    byte hello [HELLO_SIZE];
    assert (zstate_session_msg_encode (&samples [0], hello, sizeof (hello)) == HELLO_SIZE);
    assert (s_test_patched (hello, HELLO_SIZE, 0, 'z', 1) == ZSTATE_SESSION_REASON_SIGNATURE);
    assert (s_test_patched (hello, HELLO_SIZE, 1, 's', 1) == ZSTATE_SESSION_REASON_SIGNATURE);
    assert (s_test_patched (hello, HELLO_SIZE, 2, 0, 1) == ZSTATE_SESSION_REASON_VERSION);
    assert (s_test_patched (hello, HELLO_SIZE, 2, 3, 1) == ZSTATE_SESSION_REASON_VERSION);
    assert (s_test_patched (hello, HELLO_SIZE, 2, 255, 1) == ZSTATE_SESSION_REASON_VERSION);
    //  Version 1 had OPS only
    assert (s_test_patched (hello, HELLO_SIZE, 2, 1, 1) == ZSTATE_SESSION_REASON_TYPE);
    int types [] = { 0, 12, 127, 128, 255 };
    for (size_t index = 0; index < sizeof (types) / sizeof (types [0]); index++)
        assert (s_test_patched (hello, HELLO_SIZE, 3, types [index], 1)
                == ZSTATE_SESSION_REASON_TYPE);
    zstate_session_msg_t msg;
    assert (zstate_session_msg_decode (&msg, NULL, 5) == ZSTATE_SESSION_REASON_TRUNCATED);
    assert (zstate_session_msg_decode (&msg, NULL, 0) == ZSTATE_SESSION_REASON_TRUNCATED);
    assert (msg.type == 0 && msg.session == NULL);

    //  HELLO: sequence at 20, ack level at 28, heartbeat at 29, features at 33
    assert (s_test_patched (hello, HELLO_SIZE, 20, 0, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (hello, HELLO_SIZE, 28, 0, 1) == ZSTATE_SESSION_REASON_ACK_LEVEL);
    assert (s_test_patched (hello, HELLO_SIZE, 28, 3, 1) == ZSTATE_SESSION_REASON_ACK_LEVEL);
    uint64_t heartbeats [] = { 1, ZSTATE_SESSION_HEARTBEAT_MIN - 1,
                               ZSTATE_SESSION_HEARTBEAT_MAX + 1, 0xFFFFFFFF };
    for (size_t index = 0; index < sizeof (heartbeats) / sizeof (heartbeats [0]); index++)
        assert (s_test_patched (hello, HELLO_SIZE, 29, heartbeats [index], 4)
                == ZSTATE_SESSION_REASON_HEARTBEAT);
    assert (s_test_patched (hello, HELLO_SIZE, 29, 0, 4) == 0);
    //  Features this version does not know are not an error
    assert (s_test_patched (hello, HELLO_SIZE, 33, 0xFFFFFFFF, 4) == 0);
}

//  Out-of-range values in the replies, by hand: WELCOME, ACK, REJECT
static void
s_test_bad_replies (zstate_session_msg_t *samples)
{
    //  WELCOME: epoch at 20, delivered at 36, persisted at 44
    byte welcome [WELCOME_SIZE];
    assert (zstate_session_msg_encode (&samples [3], welcome, WELCOME_SIZE) == WELCOME_SIZE);
    byte *zero_epoch = (byte *) zmalloc (WELCOME_SIZE);
    memcpy (zero_epoch, welcome, WELCOME_SIZE);
    memset (zero_epoch + 20, 0, EPOCH_SIZE);
    assert (s_test_hostile (zero_epoch, WELCOME_SIZE) == ZSTATE_SESSION_REASON_EPOCH);
    free (zero_epoch);
    assert (s_test_patched (welcome, WELCOME_SIZE, 36, 5, 8) == ZSTATE_SESSION_REASON_SEQUENCE);

    //  ACK: delivered 0 says nothing
    byte ack [ACK_SIZE];
    assert (zstate_session_msg_encode (&samples [4], ack, ACK_SIZE) == ACK_SIZE);
    assert (s_test_patched (ack, ACK_SIZE, 36, 0, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (ack, ACK_SIZE, 44, 2, 8) == ZSTATE_SESSION_REASON_SEQUENCE);

    //  REJECT "ab": sequence at 36, reason at 44, text size at 46
    zstate_session_msg_t reject = samples [6];
    reject.text = "ab";
    reject.text_size = 2;
    byte rejected [REJECT_SIZE + 2];
    assert (zstate_session_msg_encode (&reject, rejected, sizeof (rejected)) == sizeof (rejected));
    size_t size = sizeof (rejected);
    assert (s_test_patched (rejected, size, 36, 0, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (rejected, size, 44, 0, 2) == ZSTATE_SESSION_REASON_REASON);
    //  Codes from later versions are passed on, with their text
    assert (s_test_patched (rejected, size, 44, 999, 2) == 0);
    assert (s_test_patched (rejected, size, 46, 0xFFFFFFFF, 4) == ZSTATE_SESSION_REASON_TEXT);
    assert (s_test_patched (rejected, size, 46, ZSTATE_SESSION_TEXT_MAX + 1, 4)
            == ZSTATE_SESSION_REASON_TEXT);
    assert (s_test_patched (rejected, size, 46, 3, 4) == ZSTATE_SESSION_REASON_TRUNCATED);
    assert (s_test_patched (rejected, size, 46, 0, 4) == ZSTATE_SESSION_REASON_TERMINATOR);
    assert (s_test_patched (rejected, size, 50, 0, 1) == ZSTATE_SESSION_REASON_TEXT);
    assert (s_test_patched (rejected, size, 52, 'x', 1) == ZSTATE_SESSION_REASON_TERMINATOR);
}

//  Out-of-range values in OPS, and hostile sizes, by hand
static void
s_test_bad_ops (zstate_session_msg_t *samples)
{
    //  OPS (db "d", table "t"): sequence at 20, db size at 28, op count at 40
    byte ops [128];
    ssize_t ops_size = zstate_session_msg_encode (&samples [12], ops, sizeof (ops));
    assert (ops_size > 0);
    size_t size = (size_t) ops_size;
    assert (s_test_patched (ops, size, 20, 0, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (ops, size, 28, 0xFFFFFFFF, 4) == ZSTATE_SESSION_REASON_NAME);
    assert (s_test_patched (ops, size, 28, 0, 4) == ZSTATE_SESSION_REASON_NAME);
    assert (s_test_patched (ops, size, 32, 0, 1) == ZSTATE_SESSION_REASON_NAME);
    assert (s_test_patched (ops, size, 40, 0xFFFFFFFF, 4) == ZSTATE_SESSION_REASON_OP_COUNT);
    assert (s_test_patched (ops, size, 40, 0, 4) == ZSTATE_SESSION_REASON_OP_COUNT);
    assert (s_test_patched (ops, size, 44, 9, 1) == ZSTATE_SESSION_REASON_OP_CODE);
    assert (s_test_patched (ops, size, 45, 0xFFFFFFFF, 4) == ZSTATE_SESSION_REASON_KEY);
    //  Version 1 let sequence 0 through, and still does
    byte v1_ops [128];
    memcpy (v1_ops, ops, size);
    v1_ops [2] = ZSTATE_MSG_VERSION;
    assert (s_test_patched (v1_ops, size, 20, 0, 8) == 0);

    //  The size limit is checked before any field
    byte hello [HELLO_SIZE];
    assert (zstate_session_msg_encode (&samples [0], hello, sizeof (hello)) == HELLO_SIZE);
    zstate_session_msg_t msg;
    byte *huge = (byte *) zmalloc (ZSTATE_MESSAGE_MAX + 1);
    assert (huge);
    memcpy (huge, ops, size);
    assert (zstate_session_msg_decode (&msg, huge, ZSTATE_MESSAGE_MAX + 1)
            == ZSTATE_SESSION_REASON_TOO_LARGE);
    memcpy (huge, hello, HELLO_SIZE);
    assert (zstate_session_msg_decode (&msg, huge, ZSTATE_MESSAGE_MAX + 1)
            == ZSTATE_SESSION_REASON_TOO_LARGE);
    assert (zstate_session_msg_decode (&msg, huge, ZSTATE_MESSAGE_MAX)
            == ZSTATE_SESSION_REASON_TRAILING);
    free (huge);
}

//  Out-of-range values in the window markers and RESYNC, by hand
static void
s_test_bad_windows (zstate_session_msg_t *samples)
{
    //  BEGIN (db "d", table "t"): sequence at 20, db size at 28, kind at 40
    byte begin [BEGIN_SIZE];
    assert (zstate_session_msg_encode (&samples [14], begin, BEGIN_SIZE) == BEGIN_SIZE);
    assert (s_test_patched (begin, BEGIN_SIZE, 20, 0, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (begin, BEGIN_SIZE, 28, 0, 4) == ZSTATE_SESSION_REASON_NAME);
    assert (s_test_patched (begin, BEGIN_SIZE, 40, 0, 1) == ZSTATE_SESSION_REASON_KIND);
    assert (s_test_patched (begin, BEGIN_SIZE, 40, 3, 1) == ZSTATE_SESSION_REASON_KIND);
    assert (s_test_patched (begin, BEGIN_SIZE, 40, 2, 1) == 0);
    //  Version 1 knew OPS only
    assert (s_test_patched (begin, BEGIN_SIZE, 2, 1, 1) == ZSTATE_SESSION_REASON_TYPE);

    //  END (sequence 2): begin at 40, count at 48, status at 56
    byte end [END_SIZE];
    assert (zstate_session_msg_encode (&samples [16], end, END_SIZE) == END_SIZE);
    assert (s_test_patched (end, END_SIZE, 40, 0, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (end, END_SIZE, 40, 2, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (end, END_SIZE, 40, UINT64_MAX, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (end, END_SIZE, 48, UINT64_MAX, 8) == 0);
    assert (s_test_patched (end, END_SIZE, 56, 2, 1) == ZSTATE_SESSION_REASON_STATUS);
    assert (s_test_patched (end, END_SIZE, 56, 0xFF, 1) == ZSTATE_SESSION_REASON_STATUS);
    assert (s_test_patched (end, END_SIZE, 56, 1, 1) == 0);

    //  RESYNC for every table: epoch at 20, db size at 36, table size at 41
    byte resync [RESYNC_SIZE + 1];
    assert (zstate_session_msg_encode (&samples [18], resync, RESYNC_SIZE) == RESYNC_SIZE);
    byte *zero_epoch = (byte *) zmalloc (RESYNC_SIZE);
    memcpy (zero_epoch, resync, RESYNC_SIZE);
    memset (zero_epoch + 20, 0, EPOCH_SIZE);
    assert (s_test_hostile (zero_epoch, RESYNC_SIZE) == ZSTATE_SESSION_REASON_EPOCH);
    free (zero_epoch);
    assert (s_test_patched (resync, RESYNC_SIZE, 36, ZSTATE_NAME_MAX + 1, 4)
            == ZSTATE_SESSION_REASON_NAME);
    assert (s_test_patched (resync, RESYNC_SIZE, 36, 6, 4) == ZSTATE_SESSION_REASON_TRUNCATED);
    //  One name without the other names nothing
    zstate_session_msg_t one_name = samples [18];
    one_name.db = "d";
    assert (zstate_session_msg_size (&one_name) == 0);
    s_test_refused (&one_name, 0);
    //  ... and a receiver refuses it: db "d", table ""
    byte db_only [] = { 0, 0, 0, 1, 'd', 0, 0, 0, 0, 0, 0 };
    memcpy (resync + 36, db_only, sizeof (db_only));
    assert (36 + sizeof (db_only) == RESYNC_SIZE + 1);
    assert (s_test_hostile (resync, RESYNC_SIZE + 1) == ZSTATE_SESSION_REASON_NAME);
}

//  The encoder refuses what a decoder would reject
static void
s_test_encoder_refuses (zstate_session_msg_t *samples)
{
    zstate_session_msg_t msg = samples [0];
    msg.sequence = 0;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_SEQUENCE);
    msg = samples [0];
    msg.ack_level = 3;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_ACK_LEVEL);
    msg.ack_level = 0x101;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_ACK_LEVEL);
    msg.type = 0;
    s_test_refused (&msg, 0);
    msg.type = 8;
    s_test_refused (&msg, 0);
    msg = samples [0];
    msg.session = NULL;
    s_test_refused (&msg, 0);
    msg = samples [2];
    msg.epoch = NULL;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_EPOCH);
    msg = samples [4];
    msg.persisted = 2;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_SEQUENCE);
    msg = samples [6];
    msg.reason = 0;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_REASON);
    msg.reason = 0x10000;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_REASON);
    msg.reason = -1;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_REASON);
    msg = samples [7];
    msg.text_size = ZSTATE_SESSION_TEXT_MAX + 1;
    s_test_refused (&msg, 0);
    msg.text = NULL;
    msg.text_size = 1;
    s_test_refused (&msg, 0);
    msg.text = "a\0b";
    msg.text_size = 3;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_TEXT);
    msg = samples [12];
    msg.db = "";
    s_test_refused (&msg, 0);
    msg = samples [12];
    msg.op_count = 2;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_OP_COUNT);
    msg = samples [14];
    msg.kind = 3;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_KIND);
    msg.kind = 0x101;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_KIND);
    msg.table = "";
    s_test_refused (&msg, 0);
    msg = samples [16];
    msg.begin = msg.sequence;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_SEQUENCE);
    msg.begin = 1;
    msg.status = 0x100;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_STATUS);
    msg = samples [18];
    msg.epoch = NULL;
    s_test_refused (&msg, ZSTATE_SESSION_REASON_EPOCH);
    msg.db = NULL;
    s_test_refused (&msg, 0);
}

//  REPLAY (doc/protocol.md, section 17): round trip, every prefix, a
//  trailing byte, an all-zero epoch, sequence 0, a to below the
//  sequence, and the encoder refusing what the decoder would
static void
s_test_replay (const byte *session, const byte *epoch)
{
    zstate_session_msg_t replay = {
        .type = ZSTATE_SESSION_MSG_REPLAY, .session = session, .epoch = epoch,
        .sequence = UINT64_MAX - 1, .to = UINT64_MAX, .skip = 0xA1B2C3D4,
        .max = 0x0A0B0C0D,
        .nonce = 0x0102030405060708ULL
    };
    assert (zstate_session_msg_size (&replay) == 68);
    assert (streq (zstate_session_msg_type_name (ZSTATE_SESSION_MSG_REPLAY), "REPLAY"));
    assert (streq (zstate_session_msg_type_name (ZSTATE_SESSION_MSG_REPLAY + 1), "?"));
    byte encoded [69];
    assert (zstate_session_msg_encode (&replay, encoded, 67) == -1 && errno == ENOBUFS);
    assert (zstate_session_msg_encode (&replay, encoded, 68) == 68);
    assert (encoded [3] == ZSTATE_SESSION_MSG_REPLAY);
    zstate_session_msg_t msg;
    assert (zstate_session_msg_decode (&msg, encoded, 68) == 0);
    assert (s_test_equal (&msg, &replay) && msg.to == UINT64_MAX
            && msg.skip == 0xA1B2C3D4 && msg.max == 0x0A0B0C0D);
    for (size_t prefix = 0; prefix < 68; prefix++)
        assert (s_test_hostile (encoded, prefix) == ZSTATE_SESSION_REASON_TRUNCATED);
    encoded [68] = 0;
    assert (s_test_hostile (encoded, 69) == ZSTATE_SESSION_REASON_TRAILING);
    //  Epoch at 20, sequence at 36, to at 44, skip at 52, max at 56, nonce at 60
    byte zeros [EPOCH_SIZE] = { 0 };
    byte *zero_epoch = (byte *) malloc (68);
    assert (zero_epoch);
    memcpy (zero_epoch, encoded, 68);
    memcpy (zero_epoch + 20, zeros, EPOCH_SIZE);
    assert (s_test_hostile (zero_epoch, 68) == ZSTATE_SESSION_REASON_EPOCH);
    free (zero_epoch);
    assert (s_test_patched (encoded, 68, 36, 0, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (encoded, 68, 36, 1, 8) == 0);
    //  to may equal the sequence, never be below it
    assert (s_test_patched (encoded, 68, 44, 0, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (encoded, 68, 44, UINT64_MAX - 2, 8) == ZSTATE_SESSION_REASON_SEQUENCE);
    assert (s_test_patched (encoded, 68, 44, UINT64_MAX - 1, 8) == 0);
    assert (s_test_patched (encoded, 68, 60, 0, 8) == 0);
    //  Any skip: the client skips what it has of it
    assert (s_test_patched (encoded, 68, 52, 0, 4) == 0);
    //  Any max: 0 is no bound
    assert (s_test_patched (encoded, 68, 56, 0, 4) == 0);
    //  Version 1 knows no REPLAY
    assert (s_test_patched (encoded, 68, 2, ZSTATE_MSG_VERSION, 1) == ZSTATE_SESSION_REASON_TYPE);
    //  Nor does anything know type 12 yet
    assert (s_test_patched (encoded, 68, 3, ZSTATE_SESSION_MSG_REPLAY + 1, 1)
            == ZSTATE_SESSION_REASON_TYPE);
    replay.sequence = 0;
    s_test_refused (&replay, ZSTATE_SESSION_REASON_SEQUENCE);
    replay.sequence = 2;
    replay.to = 1;
    s_test_refused (&replay, ZSTATE_SESSION_REASON_SEQUENCE);
    replay.to = 2;
    replay.epoch = zeros;
    s_test_refused (&replay, ZSTATE_SESSION_REASON_EPOCH);
}

void
zstate_session_msg_suite_test (bool verbose)
{
    printf (" * zstate_session_msg_suite: ");
    if (verbose)
        printf ("\n");

    byte session [SESSION_SIZE];
    for (size_t index = 0; index < sizeof (session); index++)
        session [index] = (byte) (0xA0 + index);
    //  Edge values of every type
    byte epoch [EPOCH_SIZE];
    memset (epoch, 0xFF, sizeof (epoch));
    char long_name [ZSTATE_NAME_MAX + 1];
    memset (long_name, 'n', ZSTATE_NAME_MAX);
    long_name [ZSTATE_NAME_MAX] = 0;
    char text [ZSTATE_SESSION_TEXT_MAX + 1];
    memset (text, 't', ZSTATE_SESSION_TEXT_MAX);
    text [ZSTATE_SESSION_TEXT_MAX] = 0;
    zstate_batch_t *one = zstate_batch_new ();
    assert (zstate_batch_set (one, "k", "n", "v", NULL) == 0);
    zstate_batch_t *many = zstate_batch_new ();
    assert (zstate_batch_set (many, "user:1", "name", "Ada", NULL) == 0);
    assert (zstate_batch_set (many, "empty", NULL) == 0);
    assert (zstate_batch_hset (many, "user:1", "", "", NULL) == 0);
    assert (zstate_batch_append (many, ZSTATE_OP_HSET, "bin\0key", 7) == 0);
    assert (zstate_batch_del (many, "user:2") == 0);
    zstate_session_msg_t samples [TEST_SAMPLES];
    s_test_samples (samples, session, epoch, long_name, text, one, many);
    assert (zstate_session_msg_size (&samples [0]) == 37);
    assert (zstate_session_msg_size (&samples [2]) == 61);
    assert (zstate_session_msg_size (&samples [4]) == 52);
    assert (zstate_session_msg_size (&samples [6]) == 51);
    assert (zstate_session_msg_size (&samples [7]) == 51 + ZSTATE_SESSION_TEXT_MAX);
    assert (zstate_session_msg_size (&samples [8]) == 44);
    assert (zstate_session_msg_size (&samples [10]) == 44);
    assert (zstate_session_msg_size (&samples [14]) == BEGIN_SIZE);
    assert (zstate_session_msg_size (&samples [16]) == END_SIZE);
    assert (zstate_session_msg_size (&samples [18]) == RESYNC_SIZE);

    s_test_samples_hostile (samples, verbose);
    s_test_bad_hello (samples);
    s_test_bad_replies (samples);
    s_test_bad_ops (samples);
    s_test_bad_windows (samples);
    s_test_encoder_refuses (samples);
    s_test_replay (session, epoch);

    zstate_batch_destroy (&one);
    zstate_batch_destroy (&many);
    printf ("OK\n");
}
