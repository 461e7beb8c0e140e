/*  =========================================================================
    zstate_batch - an ordered list of operations on one table

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A batch keeps its operations in their wire encoding (doc/protocol.md),
    back to back in one growable buffer:

        operation = opcode:uint8 key field-count:uint32 *( name value )
        string    = size:uint32 size*OCTET %x00

    Two small index arrays make every accessor O(1): where each operation
    starts (and the index of its key in the string array), and where the
    bytes of each key, name and value start. Sending a batch is one memcpy,
    loading one is a bounds-checked walk plus one memcpy.
@discuss
    The buffer and the arrays grow by doubling and are kept across resets,
    so a batch reused in a loop allocates nothing in steady state.
    Appending never leaves a half-written operation behind: checks come
    first, and a va_list append that fails midway rolls back to where it
    started.
@end
*/

#include "zstate_classes.h"

//  The largest header zstate_msg_header_size () can give (names of
//  ZSTATE_NAME_MAX bytes); one operation must fit in a message next to it.
#define HEADER_MAX      (2 + 1 + 1 + ZSTATE_MSG_SESSION_SIZE + 8 \
                         + 2 * (4 + ZSTATE_NAME_MAX + 1) + 4)
#define OP_SIZE_MAX     ((size_t) ZSTATE_MESSAGE_MAX - HEADER_MAX)

//  Smallest encodings, to bound counts against the bytes that hold them
#define OP_SIZE_MIN     (1 + 4 + 1 + 1 + 4)     //  key of one byte, no fields
#define FIELD_SIZE_MIN  (4 + 1 + 4 + 1)         //  empty name, empty value

//  Where one operation is
typedef struct {
    size_t offset;              //  Its opcode's offset in data
    size_t string;              //  Index of its key in strings
} op_entry_t;

struct _zstate_batch_t {
    byte *data;                 //  Operations in wire encoding
    size_t size;                //  Bytes used in data
    size_t max;                 //  Bytes allocated for data
    op_entry_t *ops;            //  One entry per operation
    size_t ops_count;           //  Operations in the batch
    size_t ops_max;             //  Entries allocated in ops
    size_t *strings;            //  Offset of the bytes of each string
    size_t strings_count;       //  Strings in the batch
    size_t strings_max;         //  Entries allocated in strings
};


//  --------------------------------------------------------------------------
//  Capacity, grown by doubling so appends are amortised O(1)

static void
s_reserve_bytes (zstate_batch_t *self, size_t more)
{
    if (more <= self->max - self->size)
        return;
    size_t max = self->max? self->max: 256;
    while (max - self->size < more) {
        assert (max <= SIZE_MAX / 2);
        max *= 2;
    }
    self->data = (byte *) realloc (self->data, max);
    assert (self->data);
    self->max = max;
}

static void
s_reserve_ops (zstate_batch_t *self, size_t needed)
{
    if (needed <= self->ops_max)
        return;
    size_t max = self->ops_max? self->ops_max: 16;
    while (max < needed) {
        assert (max <= SIZE_MAX / 2 / sizeof (op_entry_t));
        max *= 2;
    }
    self->ops = (op_entry_t *) realloc (self->ops, max * sizeof (op_entry_t));
    assert (self->ops);
    self->ops_max = max;
}

static void
s_reserve_strings (zstate_batch_t *self, size_t needed)
{
    if (needed <= self->strings_max)
        return;
    size_t max = self->strings_max? self->strings_max: 32;
    while (max < needed) {
        assert (max <= SIZE_MAX / 2 / sizeof (size_t));
        max *= 2;
    }
    self->strings = (size_t *) realloc (self->strings, max * sizeof (size_t));
    assert (self->strings);
    self->strings_max = max;
}

//  Drop everything appended since the batch had these sizes
static void
s_truncate (zstate_batch_t *self, size_t size, size_t ops_count, size_t strings_count)
{
    self->size = size;
    self->ops_count = ops_count;
    self->strings_count = strings_count;
}

static inline size_t
s_string_size (zstate_batch_t *self, size_t string)
{
    return zstate_get_u32 (self->data + self->strings [string] - 4);
}


//  --------------------------------------------------------------------------
//  Create a new, empty batch.

zstate_batch_t *
zstate_batch_new (void)
{
    zstate_batch_t *self = (zstate_batch_t *) zmalloc (sizeof (zstate_batch_t));
    assert (self);
    //  Allocate up front so zstate_batch_data () is never NULL
    s_reserve_bytes (self, 256);
    s_reserve_ops (self, 16);
    s_reserve_strings (self, 32);
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy a batch; nulls the caller's pointer.

void
zstate_batch_destroy (zstate_batch_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_batch_t *self = *self_p;
        free (self->data);
        free (self->ops);
        free (self->strings);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Append SET key with C string fields: name, value, ..., NULL.

int
zstate_batch_set (zstate_batch_t *self, const char *key, ...)
{
    va_list args;
    va_start (args, key);
    int rc = zstate_batch_vappend (self, ZSTATE_OP_SET, key, args);
    va_end (args);
    return rc;
}


//  --------------------------------------------------------------------------
//  Append HSET key with C string fields: name, value, ..., NULL.

int
zstate_batch_hset (zstate_batch_t *self, const char *key, ...)
{
    va_list args;
    va_start (args, key);
    int rc = zstate_batch_vappend (self, ZSTATE_OP_HSET, key, args);
    va_end (args);
    return rc;
}


//  --------------------------------------------------------------------------
//  Append SET or HSET from a va_list of name, value, ..., NULL.

int
zstate_batch_vappend (zstate_batch_t *self, int op, const char *key, va_list args)
{
    assert (self);
    if (op != ZSTATE_OP_SET && op != ZSTATE_OP_HSET)
        return zstate_fail (EINVAL, "operation %d takes no field list", op);
    if (!key)
        return zstate_fail (EINVAL, "key is NULL");

    size_t size = self->size;
    size_t ops_count = self->ops_count;
    size_t strings_count = self->strings_count;
    if (zstate_batch_append (self, op, key, strlen (key)))
        return -1;
    while (true) {
        const char *name = va_arg (args, const char *);
        if (!name)
            break;
        const char *value = va_arg (args, const char *);
        if (!value) {
            s_truncate (self, size, ops_count, strings_count);
            return zstate_fail (EINVAL, "field '%s' has no value (odd list)", name);
        }
        if (zstate_batch_field (self, name, strlen (name), value, strlen (value))) {
            //  errno and the reason come from zstate_batch_field
            s_truncate (self, size, ops_count, strings_count);
            return -1;
        }
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Append DEL key.

int
zstate_batch_del (zstate_batch_t *self, const char *key)
{
    assert (self);
    if (!key)
        return zstate_fail (EINVAL, "key is NULL");
    return zstate_batch_append (self, ZSTATE_OP_DEL, key, strlen (key));
}


//  --------------------------------------------------------------------------
//  Start an operation on a binary key; fields follow with zstate_batch_field.

int
zstate_batch_append (zstate_batch_t *self, int op, const void *key, size_t key_size)
{
    assert (self);
    if (op != ZSTATE_OP_SET && op != ZSTATE_OP_HSET && op != ZSTATE_OP_DEL)
        return zstate_fail (EINVAL, "unknown operation code %d", op);
    if (!key || key_size == 0)
        return zstate_fail (EINVAL, "key is empty");
    if (key_size > ZSTATE_KEY_MAX)
        return zstate_fail (EINVAL, "key is %zu bytes, over %d", key_size, ZSTATE_KEY_MAX);

    //  A key of at most ZSTATE_KEY_MAX bytes always fits in OP_SIZE_MAX
    size_t op_size = 1 + 4 + key_size + 1 + 4;
    s_reserve_bytes (self, op_size);
    s_reserve_ops (self, self->ops_count + 1);
    s_reserve_strings (self, self->strings_count + 1);

    byte *dest = self->data + self->size;
    dest [0] = (byte) op;
    zstate_put_u32 (dest + 1, (uint32_t) key_size);
    memcpy (dest + 5, key, key_size);
    dest [5 + key_size] = 0;
    zstate_put_u32 (dest + 6 + key_size, 0);

    self->ops [self->ops_count].offset = self->size;
    self->ops [self->ops_count].string = self->strings_count;
    self->ops_count++;
    self->strings [self->strings_count++] = self->size + 5;
    self->size += op_size;
    return 0;
}


//  --------------------------------------------------------------------------
//  Add one field to the last operation, which must be a SET or HSET.

int
zstate_batch_field (zstate_batch_t *self, const void *name, size_t name_size,
                    const void *value, size_t value_size)
{
    assert (self);
    if (self->ops_count == 0)
        return zstate_fail (EINVAL, "no operation to add a field to");
    op_entry_t *entry = &self->ops [self->ops_count - 1];
    if (self->data [entry->offset] == ZSTATE_OP_DEL)
        return zstate_fail (EINVAL, "DEL takes no fields");
    if ((!name && name_size) || (!value && value_size))
        return zstate_fail (EINVAL, "field name or value is NULL");
    if (name_size > ZSTATE_FIELD_MAX)
        return zstate_fail (EINVAL, "field name is %zu bytes, over %d",
                            name_size, ZSTATE_FIELD_MAX);

    size_t count_offset = self->strings [entry->string]
                        + s_string_size (self, entry->string) + 1;
    uint32_t field_count = zstate_get_u32 (self->data + count_offset);
    if (field_count >= ZSTATE_FIELDS_MAX)
        return zstate_fail (EINVAL, "operation has %d fields already", ZSTATE_FIELDS_MAX);

    //  Every operation in a batch is at most OP_SIZE_MAX bytes, so neither
    //  the subtraction nor the sum can wrap once value_size is bounded
    size_t op_size = self->size - entry->offset;
    if (value_size > OP_SIZE_MAX
    ||  FIELD_SIZE_MIN + name_size + value_size > OP_SIZE_MAX - op_size)
        return zstate_fail (EMSGSIZE, "operation would be over %zu bytes, too large "
                            "for one message", (size_t) OP_SIZE_MAX);

    size_t field_size = FIELD_SIZE_MIN + name_size + value_size;
    s_reserve_bytes (self, field_size);
    s_reserve_strings (self, self->strings_count + 2);

    byte *dest = self->data + self->size;
    zstate_put_u32 (dest, (uint32_t) name_size);
    if (name_size)
        memcpy (dest + 4, name, name_size);
    dest [4 + name_size] = 0;
    dest += 4 + name_size + 1;
    zstate_put_u32 (dest, (uint32_t) value_size);
    if (value_size)
        memcpy (dest + 4, value, value_size);
    dest [4 + value_size] = 0;

    self->strings [self->strings_count++] = self->size + 4;
    self->strings [self->strings_count++] = self->size + 4 + name_size + 1 + 4;
    self->size += field_size;
    zstate_put_u32 (self->data + count_offset, field_count + 1);
    return 0;
}


//  --------------------------------------------------------------------------
//  Return the number of operations in the batch.

size_t
zstate_batch_size (zstate_batch_t *self)
{
    assert (self);
    return self->ops_count;
}


//  --------------------------------------------------------------------------
//  Return the encoded size of all operations, in bytes.

size_t
zstate_batch_bytes (zstate_batch_t *self)
{
    assert (self);
    return self->size;
}


//  --------------------------------------------------------------------------
//  Return the op code of operation index.

int
zstate_batch_op (zstate_batch_t *self, size_t index)
{
    assert (self);
    assert (index < self->ops_count);
    return self->data [self->ops [index].offset];
}


//  --------------------------------------------------------------------------
//  Return the key of operation index, NUL-terminated.

const char *
zstate_batch_key (zstate_batch_t *self, size_t index, size_t *size_p)
{
    assert (self);
    assert (index < self->ops_count);
    size_t string = self->ops [index].string;
    if (size_p)
        *size_p = s_string_size (self, string);
    return (const char *) self->data + self->strings [string];
}


//  --------------------------------------------------------------------------
//  Return the number of fields of operation index.

size_t
zstate_batch_field_count (zstate_batch_t *self, size_t index)
{
    assert (self);
    assert (index < self->ops_count);
    //  The strings of an operation run up to the next one's key
    size_t end = index + 1 < self->ops_count?
                 self->ops [index + 1].string: self->strings_count;
    return (end - self->ops [index].string - 1) / 2;
}


//  --------------------------------------------------------------------------
//  Return the name of field number field of operation index.

const char *
zstate_batch_name (zstate_batch_t *self, size_t index, size_t field, size_t *size_p)
{
    assert (field < zstate_batch_field_count (self, index));
    size_t string = self->ops [index].string + 1 + 2 * field;
    if (size_p)
        *size_p = s_string_size (self, string);
    return (const char *) self->data + self->strings [string];
}


//  --------------------------------------------------------------------------
//  Return the value of field number field of operation index.

const char *
zstate_batch_value (zstate_batch_t *self, size_t index, size_t field, size_t *size_p)
{
    assert (field < zstate_batch_field_count (self, index));
    size_t string = self->ops [index].string + 2 + 2 * field;
    if (size_p)
        *size_p = s_string_size (self, string);
    return (const char *) self->data + self->strings [string];
}


//  --------------------------------------------------------------------------
//  Return the value of the first field named name, or NULL.

const char *
zstate_batch_get (zstate_batch_t *self, size_t index, const char *name)
{
    assert (name);
    size_t count = zstate_batch_field_count (self, index);
    size_t name_size = strlen (name);
    size_t string = self->ops [index].string + 1;
    for (size_t field = 0; field < count; field++, string += 2)
        if (s_string_size (self, string) == name_size
        &&  memcmp (self->data + self->strings [string], name, name_size) == 0)
            return (const char *) self->data + self->strings [string + 1];
    return NULL;
}


//  --------------------------------------------------------------------------
//  Empty the batch, keeping its memory for reuse.

void
zstate_batch_reset (zstate_batch_t *self)
{
    assert (self);
    s_truncate (self, 0, 0, 0);
}


//  --------------------------------------------------------------------------
//  Return a copy of the batch.

zstate_batch_t *
zstate_batch_dup (zstate_batch_t *self)
{
    assert (self);
    zstate_batch_t *copy = zstate_batch_new ();
    s_reserve_bytes (copy, self->size);
    s_reserve_ops (copy, self->ops_count);
    s_reserve_strings (copy, self->strings_count);
    memcpy (copy->data, self->data, self->size);
    memcpy (copy->ops, self->ops, self->ops_count * sizeof (op_entry_t));
    memcpy (copy->strings, self->strings, self->strings_count * sizeof (size_t));
    copy->size = self->size;
    copy->ops_count = self->ops_count;
    copy->strings_count = self->strings_count;
    return copy;
}


//  --------------------------------------------------------------------------
//  Return true if both batches hold the same operations, byte for byte.
//  The encoding delimits itself, so equal bytes mean equal operations.

bool
zstate_batch_eq (zstate_batch_t *self, zstate_batch_t *other)
{
    assert (self);
    assert (other);
    return self->size == other->size
        && self->ops_count == other->ops_count
        && memcmp (self->data, other->data, self->size) == 0;
}


//  --------------------------------------------------------------------------
//  Print the batch, one operation a line.

static void
s_print_bytes (FILE *file, const char *bytes, size_t size)
{
    for (size_t cursor = 0; cursor < size; cursor++) {
        byte octet = (byte) bytes [cursor];
        if (octet == '\\')
            fputs ("\\\\", file);
        else
        if (octet >= 0x20 && octet < 0x7F)
            fputc (octet, file);
        else
            fprintf (file, "\\x%02X", octet);
    }
}

void
zstate_batch_print (zstate_batch_t *self)
{
    zstate_batch_fprint (self, stdout);
}

void
zstate_batch_fprint (zstate_batch_t *self, FILE *file)
{
    assert (self);
    assert (file);
    for (size_t index = 0; index < self->ops_count; index++) {
        int op = zstate_batch_op (self, index);
        size_t size;
        const char *key = zstate_batch_key (self, index, &size);
        fputs (op == ZSTATE_OP_SET? "SET ": op == ZSTATE_OP_HSET? "HSET ": "DEL ", file);
        s_print_bytes (file, key, size);
        if (op != ZSTATE_OP_DEL) {
            fputs (" {", file);
            size_t count = zstate_batch_field_count (self, index);
            for (size_t field = 0; field < count; field++) {
                if (field)
                    fputs (", ", file);
                const char *name = zstate_batch_name (self, index, field, &size);
                s_print_bytes (file, name, size);
                fputc ('=', file);
                const char *value = zstate_batch_value (self, index, field, &size);
                s_print_bytes (file, value, size);
            }
            fputc ('}', file);
        }
        fputc ('\n', file);
    }
}


//  --------------------------------------------------------------------------
//  Return the encoded operations.

const byte *
zstate_batch_data (zstate_batch_t *self)
{
    assert (self);
    return self->data;
}


//  --------------------------------------------------------------------------
//  Read one string at *cursor_p: its size, checked against min..max (else
//  the reason bad) and then against the bytes that remain, its bytes and
//  its NUL. Moves the cursor past it.

static inline int
s_walk_string (const byte **cursor_p, size_t *remaining_p, size_t min, size_t max,
               int bad, const byte **bytes_p)
{
    if (*remaining_p < 4)
        return ZSTATE_WIRE_TRUNCATED;
    const byte *cursor = *cursor_p;
    size_t size = zstate_get_u32 (cursor);
    if (size < min || size > max)
        return bad;
    size_t remaining = *remaining_p - 4;
    //  The bytes and the NUL must remain: size + 1 > remaining, without
    //  the addition that could wrap on a 32-bit size_t
    if (size >= remaining)
        return ZSTATE_WIRE_TRUNCATED;
    if (cursor [4 + size] != 0)
        return ZSTATE_WIRE_TERMINATOR;
    *bytes_p = cursor + 4;
    *cursor_p = cursor + 4 + size + 1;
    *remaining_p = remaining - size - 1;
    return 0;
}

//  Walk count operations at data (size bytes), checking every length
//  against the bytes that remain before it is used. Stores the bytes used
//  in *used_p. When into is not NULL, fills its index arrays as if the
//  bytes were appended at its end, and stores the new number of strings
//  in *strings_p, without committing anything: the caller does that once
//  the walk succeeded, so a failure changes nothing.

static int
s_walk (const byte *data, size_t size, size_t count, size_t *used_p,
        zstate_batch_t *into, size_t *strings_p)
{
    //  Bounds the work and the index memory by the bytes we were given
    if (count > size / OP_SIZE_MIN)
        return ZSTATE_WIRE_OP_COUNT;

    size_t base = 0;
    size_t ops_count = 0;
    size_t strings_count = 0;
    if (into) {
        base = into->size;
        ops_count = into->ops_count;
        strings_count = into->strings_count;
        s_reserve_ops (into, ops_count + count);
    }
    const byte *cursor = data;
    size_t remaining = size;
    for (size_t index = 0; index < count; index++) {
        const byte *start = cursor;
        //  Ending cleanly between operations means the count is wrong
        if (remaining == 0)
            return ZSTATE_WIRE_OP_COUNT;
        byte op = *cursor++;
        remaining--;
        if (op != ZSTATE_OP_SET && op != ZSTATE_OP_HSET && op != ZSTATE_OP_DEL)
            return ZSTATE_WIRE_OP_CODE;

        const byte *key;
        int rc = s_walk_string (&cursor, &remaining, 1, ZSTATE_KEY_MAX,
                                ZSTATE_WIRE_KEY, &key);
        if (rc)
            return rc;
        if (remaining < 4)
            return ZSTATE_WIRE_TRUNCATED;
        size_t field_count = zstate_get_u32 (cursor);
        cursor += 4;
        remaining -= 4;
        if (field_count > ZSTATE_FIELDS_MAX
        || (field_count > 0 && op == ZSTATE_OP_DEL))
            return ZSTATE_WIRE_FIELD;
        if (field_count > remaining / FIELD_SIZE_MIN)
            return ZSTATE_WIRE_TRUNCATED;

        if (into) {
            s_reserve_strings (into, strings_count + 1 + 2 * field_count);
            into->ops [ops_count + index].offset = base + (size_t) (start - data);
            into->ops [ops_count + index].string = strings_count;
            into->strings [strings_count++] = base + (size_t) (key - data);
        }
        for (size_t field = 0; field < field_count; field++) {
            const byte *name;
            const byte *value;
            rc = s_walk_string (&cursor, &remaining, 0, ZSTATE_FIELD_MAX,
                                ZSTATE_WIRE_FIELD, &name);
            if (rc)
                return rc;
            rc = s_walk_string (&cursor, &remaining, 0, UINT32_MAX,
                                ZSTATE_WIRE_FIELD, &value);
            if (rc)
                return rc;
            if (into) {
                into->strings [strings_count++] = base + (size_t) (name - data);
                into->strings [strings_count++] = base + (size_t) (value - data);
            }
        }
        //  Same rule as on append: one operation fits in any message
        if ((size_t) (cursor - start) > OP_SIZE_MAX)
            return ZSTATE_WIRE_TOO_LARGE;
    }
    *used_p = size - remaining;
    if (strings_p)
        *strings_p = strings_count;
    return ZSTATE_WIRE_OK;
}


//  --------------------------------------------------------------------------
//  Append count operations read from their wire encoding.

int
zstate_batch_load (zstate_batch_t *self, const void *data, size_t size,
                   size_t count, size_t *used_p)
{
    assert (self);
    assert (data || size == 0);
    size_t used = 0;
    size_t strings_count = 0;
    int rc = s_walk ((const byte *) data, size, count, &used, self, &strings_count);
    if (rc)
        return rc;

    //  The source may be our own buffer, which moves when it grows
    const byte *source = (const byte *) data;
    uintptr_t start = (uintptr_t) self->data;
    bool own = (uintptr_t) source >= start && (uintptr_t) source < start + self->max;
    size_t own_offset = own? (size_t) ((uintptr_t) source - start): 0;
    s_reserve_bytes (self, used);
    if (own)
        source = self->data + own_offset;
    if (used)
        memmove (self->data + self->size, source, used);

    self->size += used;
    self->ops_count += count;
    self->strings_count = strings_count;
    if (used_p)
        *used_p = used;
    return ZSTATE_WIRE_OK;
}


//  --------------------------------------------------------------------------
//  Check that data holds exactly count well-formed operations, copying
//  nothing.

int
zstate_batch_scan (const void *data, size_t size, size_t count)
{
    assert (data || size == 0);
    size_t used = 0;
    int rc = s_walk ((const byte *) data, size, count, &used, NULL, NULL);
    if (rc == ZSTATE_WIRE_OK && used < size)
        rc = ZSTATE_WIRE_TRAILING;
    return rc;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library;
//  the encoding, the limits and hostile input are tested in detail in
//  selftest/zstate_batch_suite.c
//  --------------------------------------------------------------------------
//  Self test of this class.

void
zstate_batch_test (bool verbose)
{
    printf (" * zstate_batch: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Collect the changes to one table, read them back in order, then
    //  reuse the batch for the next round
    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    int rc = zstate_batch_set (batch, "user:1", "name", "Ada", "lang", "C", NULL);
    assert (rc == 0);
    rc = zstate_batch_hset (batch, "user:1", "age", "36", NULL);
    assert (rc == 0);
    rc = zstate_batch_del (batch, "user:2");
    assert (rc == 0);
    assert (zstate_batch_size (batch) == 3);
    for (size_t index = 0; index < zstate_batch_size (batch); index++) {
        int op = zstate_batch_op (batch, index);
        assert (op == ZSTATE_OP_SET || op == ZSTATE_OP_HSET || op == ZSTATE_OP_DEL);
        size_t fields = zstate_batch_field_count (batch, index);
        for (size_t field = 0; field < fields; field++)
            assert (zstate_batch_value (batch, index, field, NULL));
    }
    assert (streq (zstate_batch_get (batch, 0, "lang"), "C"));
    assert (streq (zstate_batch_key (batch, 2, NULL), "user:2"));
    if (verbose)
        zstate_batch_print (batch);

    //  Bad input is refused with a reason, and the batch is as it was
    rc = zstate_batch_set (batch, "", "name", "Bob", NULL);
    assert (rc == -1 && errno == EINVAL);
    assert (streq (zstate_reason (), "key is empty"));
    assert (zstate_batch_size (batch) == 3);

    zstate_batch_reset (batch);
    assert (zstate_batch_size (batch) == 0);
    zstate_batch_destroy (&batch);
    assert (batch == NULL);
    zstate_batch_destroy (&batch);
    //  @end

    //  The private limits agree with the codec
    assert (HEADER_MAX == zstate_msg_header_size (ZSTATE_NAME_MAX, ZSTATE_NAME_MAX));

    printf ("OK\n");
}
#endif
