/*  =========================================================================
    zstate_sonic_msg - the codec of SONiC's ZMQ state-table frames

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A SONiC frame is a u64le pair count and that many (key, value) pairs,
    each string preceded by its u64le size (doc/protocol.md, part 3). The
    decoder walks it once, checking every size against its limit and then
    against the bytes that remain, and builds the operations in a batch of
    its own; a frame it rejects leaves the batch empty. The encoder writes
    exactly what a SONiC ZmqProducerStateTable sends for the same calls.
@discuss
    Sizes are u64 on the wire: they are compared with the bytes that
    remain, never added to a pointer first, so a size near 2^64 is a
    reason, not a wrap.
@end
*/

#include "zstate_classes.h"
#include "zstate_sonic_msg_private.h"

//  A pair takes at least its two sizes
#define PAIR_SIZE_MIN   16

struct _zstate_sonic_msg_t {
    char db [ZSTATE_NAME_MAX + 1];      //  db name of the last frame
    char table [ZSTATE_NAME_MAX + 1];   //  table name of the last frame
    zstate_batch_t *batch;              //  its operations
    int set_op;                         //  what a count of 1 or more is
};

//  A cursor over one frame
typedef struct {
    const byte *data;           //  next byte
    size_t remaining;           //  bytes left after it
    uint64_t pairs;             //  pairs left to read
} cursor_t;

//  One string of a pair, inside the frame
typedef struct {
    const byte *data;
    size_t size;
} string_t;


static inline uint64_t
s_get_u64le (const byte *source)
{
    uint64_t value = 0;
    for (int index = 7; index >= 0; index--)
        value = (value << 8) | source [index];
    return value;
}

static inline void
s_put_u64le (byte *dest, uint64_t value)
{
    for (int index = 0; index < 8; index++)
        dest [index] = (byte) (value >> (8 * index));
}


//  --------------------------------------------------------------------------
//  Create a decoder.

zstate_sonic_msg_t *
zstate_sonic_msg_new (void)
{
    zstate_sonic_msg_t *self = (zstate_sonic_msg_t *) zmalloc (sizeof (zstate_sonic_msg_t));
    assert (self);
    self->batch = zstate_batch_new ();
    self->set_op = ZSTATE_OP_SET;
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy a decoder; nulls the caller's pointer.

void
zstate_sonic_msg_destroy (zstate_sonic_msg_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_sonic_msg_t *self = *self_p;
        zstate_batch_destroy (&self->batch);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Read one string of at most limit bytes; a size over limit is reason
//  (the limit is checked before the bytes, so a huge size names the rule
//  it breaks).

static int
s_read_string (cursor_t *cursor, uint64_t limit, int reason, string_t *string)
{
    if (cursor->remaining < 8)
        return ZSTATE_SONIC_TRUNCATED;
    uint64_t size = s_get_u64le (cursor->data);
    if (size > limit)
        return reason;
    if (size > cursor->remaining - 8)
        return ZSTATE_SONIC_TRUNCATED;
    string->data = cursor->data + 8;
    string->size = (size_t) size;
    cursor->data += 8 + string->size;
    cursor->remaining -= 8 + string->size;
    return 0;
}

//  Read one pair: the key under key_limit (else key_reason), the value
//  under value_limit (else value_reason)
static int
s_read_pair (cursor_t *cursor, uint64_t key_limit, int key_reason,
             uint64_t value_limit, int value_reason, string_t *key, string_t *value)
{
    assert (cursor->pairs > 0);
    int rc = s_read_string (cursor, key_limit, key_reason, key);
    if (rc == 0)
        rc = s_read_string (cursor, value_limit, value_reason, value);
    if (rc == 0)
        cursor->pairs--;
    return rc;
}

//  Copy a db or table name: 1 to ZSTATE_NAME_MAX bytes, no NUL inside
static int
s_take_name (const string_t *name, char *dest)
{
    if (name->size == 0 || memchr (name->data, 0, name->size))
        return ZSTATE_SONIC_NAME;
    memcpy (dest, name->data, name->size);
    dest [name->size] = 0;
    return 0;
}

//  Parse a field count: plain decimal digits, no sign, space or leading
//  zero (what std::to_string writes), at most ZSTATE_FIELDS_MAX
static int
s_parse_count (const string_t *count, size_t *count_p)
{
    if (count->size == 0 || (count->size > 1 && count->data [0] == '0'))
        return ZSTATE_SONIC_COUNT;
    uint64_t value = 0;
    for (size_t index = 0; index < count->size; index++) {
        byte digit = count->data [index];
        if (digit < '0' || digit > '9')
            return ZSTATE_SONIC_COUNT;
        if (value <= ZSTATE_FIELDS_MAX)
            value = value * 10 + (digit - '0');
    }
    if (value > ZSTATE_FIELDS_MAX)
        return ZSTATE_SONIC_FIELD;
    *count_p = (size_t) value;
    return 0;
}

//  Read one operation into the batch: (key, count), then count fields
static int
s_decode_op (cursor_t *cursor, zstate_batch_t *batch, int set_op)
{
    string_t key, count;
    //  The count string is bounded by the bytes only: its digits are
    //  checked, and a long run of digits is a count over the limit
    int rc = s_read_pair (cursor, ZSTATE_KEY_MAX, ZSTATE_SONIC_KEY,
                          UINT64_MAX, ZSTATE_SONIC_COUNT, &key, &count);
    if (rc)
        return rc;
    if (key.size == 0)
        return ZSTATE_SONIC_KEY;
    size_t fields;
    rc = s_parse_count (&count, &fields);
    if (rc)
        return rc;
    if (fields > cursor->pairs)
        return ZSTATE_SONIC_PAIRS;
    rc = zstate_batch_append (batch, fields? set_op: ZSTATE_OP_DEL,
                              key.data, key.size);
    assert (rc == 0);           //  the key is within the batch's limits
    for (size_t field = 0; field < fields; field++) {
        string_t name, value;
        rc = s_read_pair (cursor, ZSTATE_FIELD_MAX, ZSTATE_SONIC_FIELD,
                          UINT64_MAX, ZSTATE_SONIC_TRUNCATED, &name, &value);
        if (rc)
            return rc;
        //  The batch refuses an operation too large for one zstate message
        if (zstate_batch_field (batch, name.data, name.size, value.data, value.size))
            return ZSTATE_SONIC_TOO_LARGE;
    }
    return 0;
}

static int
s_decode (zstate_sonic_msg_t *self, const byte *data, size_t size)
{
    if (!data && size)
        return ZSTATE_SONIC_TRUNCATED;
    if (size > ZSTATE_MESSAGE_MAX)
        return ZSTATE_SONIC_TOO_LARGE;
    if (size < 8)
        return ZSTATE_SONIC_TRUNCATED;
    cursor_t cursor = { data + 8, size - 8, s_get_u64le (data) };
    if (cursor.pairs < 2 || cursor.pairs > ZSTATE_MESSAGE_MAX / PAIR_SIZE_MIN)
        return ZSTATE_SONIC_PAIR_COUNT;

    string_t db, table;
    int rc = s_read_pair (&cursor, ZSTATE_NAME_MAX, ZSTATE_SONIC_NAME,
                          ZSTATE_NAME_MAX, ZSTATE_SONIC_NAME, &db, &table);
    if (rc == 0)
        rc = s_take_name (&db, self->db);
    if (rc == 0)
        rc = s_take_name (&table, self->table);
    while (rc == 0 && cursor.pairs > 0)
        rc = s_decode_op (&cursor, self->batch, self->set_op);
    if (rc == 0 && cursor.remaining > 0)
        rc = ZSTATE_SONIC_TRAILING;
    return rc;
}


//  --------------------------------------------------------------------------
//  Decode and fully validate one frame.

int
zstate_sonic_msg_decode (zstate_sonic_msg_t *self, const void *data, size_t size)
{
    assert (self);
    zstate_batch_reset (self->batch);
    int rc = s_decode (self, (const byte *) data, size);
    if (rc) {
        zstate_batch_reset (self->batch);
        self->db [0] = 0;
        self->table [0] = 0;
    }
    return rc;
}


//  --------------------------------------------------------------------------
//  Decode a count of 1 or more as HSET (merge) rather than SET.

void
zstate_sonic_msg_set_merge (zstate_sonic_msg_t *self, bool merge)
{
    assert (self);
    self->set_op = merge? ZSTATE_OP_HSET: ZSTATE_OP_SET;
}


//  --------------------------------------------------------------------------
//  Accessors for the last decoded frame.

const char *
zstate_sonic_msg_db (zstate_sonic_msg_t *self)
{
    assert (self);
    return self->db;
}

const char *
zstate_sonic_msg_table (zstate_sonic_msg_t *self)
{
    assert (self);
    return self->table;
}

zstate_batch_t *
zstate_sonic_msg_batch (zstate_sonic_msg_t *self)
{
    assert (self);
    return self->batch;
}


//  --------------------------------------------------------------------------
//  Encoding: the field count as std::to_string writes it.

static size_t
s_count_text (size_t count, char *text)
{
    return (size_t) snprintf (text, 24, "%zu", count);
}

size_t
zstate_sonic_msg_op_size (zstate_batch_t *batch, size_t index)
{
    assert (batch);
    char text [24];
    size_t key_size, fields = zstate_batch_field_count (batch, index);
    zstate_batch_key (batch, index, &key_size);
    size_t op_size = PAIR_SIZE_MIN + key_size + s_count_text (fields, text);
    for (size_t field = 0; field < fields; field++) {
        size_t name_size, value_size;
        zstate_batch_name (batch, index, field, &name_size);
        zstate_batch_value (batch, index, field, &value_size);
        op_size += PAIR_SIZE_MIN + name_size + value_size;
    }
    return op_size;
}

static byte *
s_put_string (byte *dest, const void *data, size_t size)
{
    s_put_u64le (dest, size);
    if (size)
        memcpy (dest + 8, data, size);
    return dest + 8 + size;
}

//  Write operation index at dest; returns the byte after it
static byte *
s_encode_op (zstate_batch_t *batch, size_t index, byte *dest)
{
    char text [24];
    size_t key_size, fields = zstate_batch_field_count (batch, index);
    const char *key = zstate_batch_key (batch, index, &key_size);
    dest = s_put_string (dest, key, key_size);
    dest = s_put_string (dest, text, s_count_text (fields, text));
    for (size_t field = 0; field < fields; field++) {
        size_t name_size, value_size;
        const char *name = zstate_batch_name (batch, index, field, &name_size);
        const char *value = zstate_batch_value (batch, index, field, &value_size);
        dest = s_put_string (dest, name, name_size);
        dest = s_put_string (dest, value, value_size);
    }
    return dest;
}

size_t
zstate_sonic_msg_header_size (const char *db, const char *table)
{
    return 8 + PAIR_SIZE_MIN + strlen (db) + strlen (table);
}

//  Check what SONiC can carry; returns the frame size, or 0 with errno
static size_t
s_encode_check (const char *db, const char *table, zstate_batch_t *batch,
                size_t first, size_t count, size_t *hsets_p)
{
    if (!zstate_msg_name_valid (db) || !zstate_msg_name_valid (table)) {
        zstate_fail (EINVAL, "db and table names must be 1 to %d bytes", ZSTATE_NAME_MAX);
        return 0;
    }
    if (!batch || count == 0) {
        zstate_fail (EINVAL, "batch is empty");
        return 0;
    }
    assert (first + count <= zstate_batch_size (batch));
    size_t hsets = 0;
    size_t frame_size = zstate_sonic_msg_header_size (db, table);
    for (size_t index = first; index < first + count; index++) {
        int op = zstate_batch_op (batch, index);
        if (op == ZSTATE_OP_SET && zstate_batch_field_count (batch, index) == 0) {
            zstate_fail (ENOTSUP, "operation %zu is a SET with no fields, which the "
                         "SONiC wire would deliver as a DEL", index);
            return 0;
        }
        if (op == ZSTATE_OP_HSET)
            hsets++;
        //  Each operation is at most a zstate message, so no sum can wrap
        frame_size += zstate_sonic_msg_op_size (batch, index);
        if (frame_size > ZSTATE_MESSAGE_MAX) {
            zstate_fail (EMSGSIZE, "SONiC frame would be over %d bytes", ZSTATE_MESSAGE_MAX);
            return 0;
        }
    }
    if (hsets_p)
        *hsets_p = hsets;
    return frame_size;
}

zframe_t *
zstate_sonic_msg_encode_range (const char *db, const char *table, zstate_batch_t *batch,
                               size_t first, size_t count, size_t *hsets_p)
{
    size_t frame_size = s_encode_check (db, table, batch, first, count, hsets_p);
    if (frame_size == 0)
        return NULL;
    zframe_t *frame = zframe_new (NULL, frame_size);
    assert (frame);
    byte *dest = zframe_data (frame);
    size_t pairs = 1;
    for (size_t index = first; index < first + count; index++)
        pairs += 1 + zstate_batch_field_count (batch, index);
    s_put_u64le (dest, pairs);
    dest = s_put_string (dest + 8, db, strlen (db));
    dest = s_put_string (dest, table, strlen (table));
    for (size_t index = first; index < first + count; index++)
        dest = s_encode_op (batch, index, dest);
    assert (dest == zframe_data (frame) + frame_size);
    return frame;
}


//  --------------------------------------------------------------------------
//  Encode all operations of batch as one SONiC frame.

zframe_t *
zstate_sonic_msg_encode (const char *db, const char *table, zstate_batch_t *batch,
                         size_t *hsets_p)
{
    return zstate_sonic_msg_encode_range (db, table, batch, 0,
                                          batch? zstate_batch_size (batch): 0, hsets_p);
}


//  --------------------------------------------------------------------------
//  Reason texts and counter names.

static const char *s_reason_texts [ZSTATE_SONIC_REASONS] = {
    "ok", "truncated", "too large", "bad pair count", "bad name", "bad key",
    "bad field count", "bad field", "missing pairs", "trailing bytes",
    "wrong number of frames"
};

static const char *s_reason_names [ZSTATE_SONIC_REASONS] = {
    "ok", "truncated", "too_large", "pair_count", "name", "key",
    "count", "field", "pairs", "trailing", "frames"
};

const char *
zstate_sonic_msg_reason_str (int reason)
{
    if (reason < 0 || reason >= ZSTATE_SONIC_REASONS)
        return "unknown reason";
    return s_reason_texts [reason];
}

const char *
zstate_sonic_msg_reason_name (int reason)
{
    if (reason < 0 || reason >= ZSTATE_SONIC_REASONS)
        return "unknown";
    return s_reason_names [reason];
}
