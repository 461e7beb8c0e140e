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
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Self test of this class.

//  Print the batch into a string, for exact comparisons; caller frees
static char *
s_test_printed (zstate_batch_t *batch)
{
    char *text = NULL;
    size_t size = 0;
    FILE *file = open_memstream (&text, &size);
    assert (file);
    zstate_batch_fprint (batch, file);
    fclose (file);
    return text;
}

//  Call zstate_batch_vappend as a caller with its own varargs would
static int
s_test_vappend (zstate_batch_t *batch, int op, const char *key, ...)
{
    va_list args;
    va_start (args, key);
    int rc = zstate_batch_vappend (batch, op, key, args);
    va_end (args);
    return rc;
}

void
zstate_batch_test (bool verbose)
{
    printf (" * zstate_batch: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  The private limits agree with the codec
    assert (HEADER_MAX == zstate_msg_header_size (ZSTATE_NAME_MAX, ZSTATE_NAME_MAX));

    zstate_batch_t *batch = zstate_batch_new ();
    assert (batch);
    assert (zstate_batch_size (batch) == 0);
    assert (zstate_batch_bytes (batch) == 0);
    assert (zstate_batch_data (batch));

    //  Build with every API
    assert (zstate_batch_set (batch, "user:1", "name", "Ada", "lang", "C", NULL) == 0);
    assert (zstate_batch_hset (batch, "user:1", "age", "36", NULL) == 0);
    assert (zstate_batch_del (batch, "user:2") == 0);
    assert (zstate_batch_set (batch, "empty", NULL) == 0);
    assert (zstate_batch_append (batch, ZSTATE_OP_HSET, "bin\0key", 7) == 0);
    assert (zstate_batch_field (batch, "n\0m", 3, "v\0\0l", 4) == 0);
    assert (zstate_batch_field (batch, "", 0, "", 0) == 0);
    assert (zstate_batch_field (batch, "blank", 5, NULL, 0) == 0);
    assert (zstate_batch_size (batch) == 5);
    //  1+4+6+1+4 + (4+4+1+4+3+1) + (4+4+1+4+1+1) = 16 + 17 + 15
    size_t first_size = 16 + 17 + 15;
    assert (zstate_batch_bytes (batch) == first_size + (16 + 15) + 16
                                        + (1 + 4 + 5 + 1 + 4)
                                        + (1 + 4 + 7 + 1 + 4)
                                        + (4 + 3 + 1 + 4 + 4 + 1)
                                        + (4 + 0 + 1 + 4 + 0 + 1)
                                        + (4 + 5 + 1 + 4 + 0 + 1));

    //  Byte-exact encoding of the first operation
    const byte expected [] = {
        ZSTATE_OP_SET, 0, 0, 0, 6, 'u', 's', 'e', 'r', ':', '1', 0, 0, 0, 0, 2,
        0, 0, 0, 4, 'n', 'a', 'm', 'e', 0, 0, 0, 0, 3, 'A', 'd', 'a', 0,
        0, 0, 0, 4, 'l', 'a', 'n', 'g', 0, 0, 0, 0, 1, 'C', 0
    };
    assert (sizeof (expected) == first_size);
    assert (memcmp (zstate_batch_data (batch), expected, first_size) == 0);

    //  Accessors return what went in
    size_t size;
    assert (zstate_batch_op (batch, 0) == ZSTATE_OP_SET);
    assert (streq (zstate_batch_key (batch, 0, &size), "user:1"));
    assert (size == 6);
    assert (zstate_batch_field_count (batch, 0) == 2);
    assert (streq (zstate_batch_name (batch, 0, 0, &size), "name") && size == 4);
    assert (streq (zstate_batch_value (batch, 0, 0, &size), "Ada") && size == 3);
    assert (streq (zstate_batch_name (batch, 0, 1, NULL), "lang"));
    assert (streq (zstate_batch_value (batch, 0, 1, NULL), "C"));
    assert (streq (zstate_batch_get (batch, 0, "lang"), "C"));
    assert (zstate_batch_get (batch, 0, "nope") == NULL);
    assert (zstate_batch_get (batch, 0, "nam") == NULL);

    assert (zstate_batch_op (batch, 1) == ZSTATE_OP_HSET);
    assert (zstate_batch_field_count (batch, 1) == 1);
    assert (streq (zstate_batch_get (batch, 1, "age"), "36"));

    assert (zstate_batch_op (batch, 2) == ZSTATE_OP_DEL);
    assert (streq (zstate_batch_key (batch, 2, NULL), "user:2"));
    assert (zstate_batch_field_count (batch, 2) == 0);

    //  A SET with no fields stays a SET
    assert (zstate_batch_op (batch, 3) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (batch, 3) == 0);

    //  Binary-safe: embedded NULs, empty names and values, and a NUL after
    assert (zstate_batch_op (batch, 4) == ZSTATE_OP_HSET);
    const char *key = zstate_batch_key (batch, 4, &size);
    assert (size == 7 && memcmp (key, "bin\0key", 8) == 0);
    assert (zstate_batch_field_count (batch, 4) == 3);
    const char *text = zstate_batch_name (batch, 4, 0, &size);
    assert (size == 3 && memcmp (text, "n\0m", 4) == 0);
    text = zstate_batch_value (batch, 4, 0, &size);
    assert (size == 4 && memcmp (text, "v\0\0l", 5) == 0);
    text = zstate_batch_name (batch, 4, 1, &size);
    assert (size == 0 && text [0] == 0);
    text = zstate_batch_value (batch, 4, 1, &size);
    assert (size == 0 && text [0] == 0);
    assert (streq (zstate_batch_get (batch, 4, ""), ""));
    assert (streq (zstate_batch_get (batch, 4, "blank"), ""));

    //  Printing escapes what is not printable
    char *printed = s_test_printed (batch);
    assert (streq (printed,
        "SET user:1 {name=Ada, lang=C}\n"
        "HSET user:1 {age=36}\n"
        "DEL user:2\n"
        "SET empty {}\n"
        "HSET bin\\x00key {n\\x00m=v\\x00\\x00l, =, blank=}\n"));
    free (printed);
    if (verbose)
        zstate_batch_print (batch);

    //  Bad arguments fail with EINVAL and leave the batch as it was
    zstate_batch_t *before = zstate_batch_dup (batch);
    assert (zstate_batch_eq (batch, before));
    errno = 0;
    assert (zstate_batch_set (batch, NULL, NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_set (batch, "", NULL) == -1 && errno == EINVAL);
    assert (streq (zstate_reason (), "key is empty"));
    errno = 0;
    assert (zstate_batch_del (batch, NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_del (batch, "") == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_set (batch, "k", "a", "1", "b", NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_hset (batch, "k", "a", NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (s_test_vappend (batch, ZSTATE_OP_DEL, "k", NULL) == -1 && errno == EINVAL);
    errno = 0;
    assert (s_test_vappend (batch, ZSTATE_OP_HSET, "k", "a", "1", "b", NULL) == -1);
    assert (errno == EINVAL);
    errno = 0;
    assert (zstate_batch_append (batch, 0, "k", 1) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_append (batch, 4, "k", 1) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_append (batch, ZSTATE_OP_SET, NULL, 1) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_append (batch, ZSTATE_OP_SET, "k", 0) == -1 && errno == EINVAL);
    char *big = (char *) zmalloc (ZSTATE_MESSAGE_MAX + 1);
    assert (big);
    errno = 0;
    assert (zstate_batch_append (batch, ZSTATE_OP_SET, big, ZSTATE_KEY_MAX + 1) == -1);
    assert (errno == EINVAL);
    errno = 0;
    assert (zstate_batch_field (batch, big, ZSTATE_FIELD_MAX + 1, "v", 1) == -1);
    assert (errno == EINVAL);
    errno = 0;
    assert (zstate_batch_field (batch, NULL, 1, "v", 1) == -1 && errno == EINVAL);
    errno = 0;
    assert (zstate_batch_field (batch, "n", 1, NULL, 1) == -1 && errno == EINVAL);
    assert (zstate_batch_eq (batch, before));

    //  EMSGSIZE: a value bigger than a message; the batch is unchanged
    errno = 0;
    assert (zstate_batch_field (batch, "huge", 4, big, ZSTATE_MESSAGE_MAX) == -1);
    assert (errno == EMSGSIZE);
    errno = 0;
    assert (zstate_batch_field (batch, "huge", 4, big, SIZE_MAX) == -1);
    assert (errno == EMSGSIZE);
    assert (zstate_batch_eq (batch, before));
    memset (big, 'x', ZSTATE_MESSAGE_MAX);
    errno = 0;
    assert (zstate_batch_set (batch, "k", "a", "1", "huge", big, NULL) == -1);
    assert (errno == EMSGSIZE);
    assert (zstate_batch_eq (batch, before));
    free (big);

    //  A field needs a SET or HSET before it
    zstate_batch_t *scratch = zstate_batch_new ();
    assert (s_test_vappend (scratch, ZSTATE_OP_HSET, "a\\b", "t", "\t\xff", NULL) == 0);
    printed = s_test_printed (scratch);
    assert (streq (printed, "HSET a\\\\b {t=\\x09\\xFF}\n"));
    free (printed);
    zstate_batch_reset (scratch);
    errno = 0;
    assert (zstate_batch_field (scratch, "n", 1, "v", 1) == -1 && errno == EINVAL);
    assert (zstate_batch_del (scratch, "k") == 0);
    errno = 0;
    assert (zstate_batch_field (scratch, "n", 1, "v", 1) == -1 && errno == EINVAL);
    assert (streq (zstate_reason (), "DEL takes no fields"));
    assert (zstate_batch_size (scratch) == 1);
    assert (zstate_batch_bytes (scratch) == 1 + 4 + 1 + 1 + 4);

    //  The largest operation that fits, exactly, then one byte more
    zstate_batch_reset (scratch);
    big = (char *) zmalloc (OP_SIZE_MAX);
    assert (big);
    assert (zstate_batch_append (scratch, ZSTATE_OP_SET, "k", 1) == 0);
    size_t room = OP_SIZE_MAX - zstate_batch_bytes (scratch) - FIELD_SIZE_MIN;
    errno = 0;
    assert (zstate_batch_field (scratch, "v", 1, big, room) == -1 && errno == EMSGSIZE);
    assert (zstate_batch_field (scratch, "v", 1, big, room - 1) == 0);
    assert (zstate_batch_bytes (scratch) == OP_SIZE_MAX);
    free (big);
    //  The same rule on the wire: one byte more in the value is too large
    big = (char *) malloc (OP_SIZE_MAX + 1);
    assert (big);
    memcpy (big, zstate_batch_data (scratch), OP_SIZE_MAX);
    size_t value_at = 1 + 4 + 1 + 1 + 4 + 4 + 1 + 1;
    zstate_put_u32 ((byte *) big + value_at, (uint32_t) room);
    big [OP_SIZE_MAX - 1] = 'x';
    big [OP_SIZE_MAX] = 0;
    assert (zstate_batch_scan (big, OP_SIZE_MAX + 1, 1) == ZSTATE_WIRE_TOO_LARGE);
    free (big);
    size_t used = 0;
    zstate_batch_t *copy = zstate_batch_new ();
    assert (zstate_batch_load (copy, zstate_batch_data (scratch),
                               zstate_batch_bytes (scratch), 1, &used) == 0);
    assert (used == OP_SIZE_MAX);
    assert (zstate_batch_eq (copy, scratch));
    zstate_batch_destroy (&copy);

    //  At most ZSTATE_FIELDS_MAX fields
    zstate_batch_reset (scratch);
    assert (zstate_batch_append (scratch, ZSTATE_OP_HSET, "k", 1) == 0);
    for (size_t field = 0; field < ZSTATE_FIELDS_MAX; field++)
        assert (zstate_batch_field (scratch, "f", 1, "", 0) == 0);
    errno = 0;
    assert (zstate_batch_field (scratch, "f", 1, "", 0) == -1 && errno == EINVAL);
    assert (zstate_batch_field_count (scratch, 0) == ZSTATE_FIELDS_MAX);
    assert (zstate_batch_scan (zstate_batch_data (scratch),
                               zstate_batch_bytes (scratch), 1) == 0);
    zstate_batch_destroy (&scratch);

    //  dup, eq and reset
    copy = zstate_batch_dup (batch);
    assert (zstate_batch_eq (copy, batch));
    assert (zstate_batch_del (copy, "more") == 0);
    assert (!zstate_batch_eq (copy, batch));
    zstate_batch_reset (copy);
    assert (zstate_batch_size (copy) == 0);
    assert (zstate_batch_bytes (copy) == 0);
    zstate_batch_t *empty = zstate_batch_new ();
    assert (zstate_batch_eq (copy, empty));
    assert (!zstate_batch_eq (batch, empty));

    //  Load of our own encoding round-trips, and reports the bytes used
    used = 0;
    assert (zstate_batch_load (copy, zstate_batch_data (batch),
                               zstate_batch_bytes (batch), 5, &used) == 0);
    assert (used == zstate_batch_bytes (batch));
    assert (zstate_batch_eq (copy, batch));
    assert (streq (zstate_batch_get (copy, 1, "age"), "36"));
    assert (zstate_batch_field_count (copy, 4) == 3);

    //  A partial load uses only the operations asked for
    zstate_batch_reset (copy);
    assert (zstate_batch_load (copy, zstate_batch_data (batch),
                               zstate_batch_bytes (batch), 2, &used) == 0);
    assert (used == first_size + 16 + 15);
    assert (zstate_batch_size (copy) == 2);
    //  ... and loading appends to what is there, keeping the index right
    assert (zstate_batch_load (copy, zstate_batch_data (batch) + used,
                               zstate_batch_bytes (batch) - used, 3, NULL) == 0);
    assert (zstate_batch_eq (copy, batch));
    //  A field may be added to the last loaded operation
    assert (zstate_batch_field (copy, "x", 1, "y", 1) == 0);
    assert (zstate_batch_field_count (copy, 4) == 4);
    assert (streq (zstate_batch_get (copy, 4, "x"), "y"));

    //  Loading a batch's own bytes into itself (the buffer may move)
    zstate_batch_reset (copy);
    assert (zstate_batch_load (copy, zstate_batch_data (batch),
                               zstate_batch_bytes (batch), 5, NULL) == 0);
    for (int round = 0; round < 8; round++)
        assert (zstate_batch_load (copy, zstate_batch_data (copy),
                                   zstate_batch_bytes (copy),
                                   zstate_batch_size (copy), NULL) == 0);
    assert (zstate_batch_size (copy) == 5 * 256);
    assert (zstate_batch_bytes (copy) == 256 * zstate_batch_bytes (batch));
    assert (streq (zstate_batch_key (copy, 5 * 255 + 2, NULL), "user:2"));
    assert (zstate_batch_field_count (copy, 5 * 255 + 4) == 3);

    //  A failed load leaves the batch as it was
    zstate_batch_destroy (&before);
    before = zstate_batch_dup (copy);
    const byte *data = zstate_batch_data (batch);
    size_t bytes = zstate_batch_bytes (batch);
    for (size_t cut = 0; cut < bytes; cut++) {
        //  An exact-size copy, so reading past the end is caught by tools
        byte *part = (byte *) malloc (cut + 1);
        assert (part);
        memcpy (part, data, cut);
        int rc = zstate_batch_load (copy, part, cut, 5, NULL);
        assert (rc == ZSTATE_WIRE_TRUNCATED || rc == ZSTATE_WIRE_OP_COUNT);
        assert (zstate_batch_scan (part, cut, 5) == rc);
        free (part);
    }
    assert (zstate_batch_eq (copy, before));
    assert (zstate_batch_size (copy) == zstate_batch_size (before));

    //  scan wants exactly count operations and nothing more
    assert (zstate_batch_scan (data, bytes, 5) == ZSTATE_WIRE_OK);
    assert (zstate_batch_scan (data, bytes, 4) == ZSTATE_WIRE_TRAILING);
    assert (zstate_batch_scan (data, bytes, 6) == ZSTATE_WIRE_OP_COUNT);
    assert (zstate_batch_scan (data, bytes, bytes) == ZSTATE_WIRE_OP_COUNT);
    assert (zstate_batch_scan (data, bytes, SIZE_MAX) == ZSTATE_WIRE_OP_COUNT);
    assert (zstate_batch_scan (NULL, 0, 0) == ZSTATE_WIRE_OK);
    assert (zstate_batch_scan (NULL, 0, 1) == ZSTATE_WIRE_OP_COUNT);
    assert (zstate_batch_load (empty, NULL, 0, 0, &used) == 0 && used == 0);

    //  Hostile encodings get the expected reason, and change nothing
    byte wire [64];
    //  An operation as: opcode, key size, key, NUL, field count
    #define WIRE_OP(op, key_size, fields) \
        memset (wire, 0, sizeof (wire)); \
        wire [0] = (op); zstate_put_u32 (wire + 1, (key_size)); \
        wire [5] = 'k'; wire [6] = 0; zstate_put_u32 (wire + 7, (fields))
    WIRE_OP (ZSTATE_OP_SET, 1, 0);
    assert (zstate_batch_scan (wire, 11, 1) == ZSTATE_WIRE_OK);
    assert (zstate_batch_scan (wire, 10, 1) == ZSTATE_WIRE_OP_COUNT);
    WIRE_OP (0, 1, 0);
    assert (zstate_batch_scan (wire, 11, 1) == ZSTATE_WIRE_OP_CODE);
    WIRE_OP (4, 1, 0);
    assert (zstate_batch_scan (wire, 11, 1) == ZSTATE_WIRE_OP_CODE);
    WIRE_OP (ZSTATE_OP_SET, 0xFFFFFFFF, 0);
    assert (zstate_batch_scan (wire, sizeof (wire), 1) == ZSTATE_WIRE_KEY);
    WIRE_OP (ZSTATE_OP_SET, 0, 0);
    assert (zstate_batch_scan (wire, sizeof (wire), 1) == ZSTATE_WIRE_KEY);
    WIRE_OP (ZSTATE_OP_SET, ZSTATE_KEY_MAX + 1, 0);
    assert (zstate_batch_scan (wire, sizeof (wire), 1) == ZSTATE_WIRE_KEY);
    WIRE_OP (ZSTATE_OP_SET, ZSTATE_KEY_MAX, 0);
    assert (zstate_batch_scan (wire, sizeof (wire), 1) == ZSTATE_WIRE_TRUNCATED);
    WIRE_OP (ZSTATE_OP_SET, 1, 0);
    wire [6] = 'x';             //  no NUL after the key
    assert (zstate_batch_scan (wire, 11, 1) == ZSTATE_WIRE_TERMINATOR);
    WIRE_OP (ZSTATE_OP_DEL, 1, 1);
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_FIELD);
    WIRE_OP (ZSTATE_OP_SET, 1, 0xFFFFFFFF);
    assert (zstate_batch_scan (wire, sizeof (wire), 1) == ZSTATE_WIRE_FIELD);
    WIRE_OP (ZSTATE_OP_SET, 1, ZSTATE_FIELDS_MAX + 1);
    assert (zstate_batch_scan (wire, sizeof (wire), 1) == ZSTATE_WIRE_FIELD);
    WIRE_OP (ZSTATE_OP_SET, 1, 6);  //  53 bytes left hold 5 empty fields
    assert (zstate_batch_scan (wire, sizeof (wire), 1) == ZSTATE_WIRE_TRUNCATED);
    WIRE_OP (ZSTATE_OP_SET, 1, 1);  //  then an empty name and empty value
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_OK);
    zstate_put_u32 (wire + 11, ZSTATE_FIELD_MAX + 1);
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_FIELD);
    zstate_put_u32 (wire + 11, 0xFFFFFFFF);
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_FIELD);
    zstate_put_u32 (wire + 11, 0);
    zstate_put_u32 (wire + 16, 0xFFFFFFFF);
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_TRUNCATED);
    zstate_put_u32 (wire + 16, 0);
    wire [20] = 1;              //  no NUL after the value
    assert (zstate_batch_scan (wire, 21, 1) == ZSTATE_WIRE_TERMINATOR);
    assert (zstate_batch_load (copy, wire, 21, 1, &used) == ZSTATE_WIRE_TERMINATOR);
    assert (zstate_batch_eq (copy, before));
    #undef WIRE_OP

    //  A large batch, and reset keeps the memory
    zstate_batch_destroy (&copy);
    copy = zstate_batch_new ();
    char name [32];
    for (int round = 0; round < 2; round++) {
        for (size_t index = 0; index < 100000; index++) {
            snprintf (name, sizeof (name), "key:%zu", index);
            if (index % 3 == 2)
                assert (zstate_batch_del (copy, name) == 0);
            else
                assert (zstate_batch_hset (copy, name, "index", name + 4, "f", "", NULL) == 0);
        }
        assert (zstate_batch_size (copy) == 100000);
        assert (streq (zstate_batch_key (copy, 99999, NULL), "key:99999"));
        assert (streq (zstate_batch_get (copy, 54321, "index"), "54321"));
        assert (zstate_batch_op (copy, 54320) == ZSTATE_OP_DEL);
        assert (zstate_batch_field_count (copy, 54320) == 0);
        if (round == 0) {
            zstate_batch_t *large = zstate_batch_new ();
            assert (zstate_batch_load (large, zstate_batch_data (copy),
                                       zstate_batch_bytes (copy), 100000, &used) == 0);
            assert (used == zstate_batch_bytes (copy));
            assert (zstate_batch_eq (large, copy));
            assert (streq (zstate_batch_get (large, 99997, "index"), "99997"));
            zstate_batch_destroy (&large);

            byte *data_before = copy->data;
            size_t max_before = copy->max;
            size_t ops_max_before = copy->ops_max;
            zstate_batch_reset (copy);
            assert (copy->data == data_before);
            assert (copy->max == max_before);
            assert (copy->ops_max == ops_max_before);
        }
    }
    zstate_batch_destroy (&copy);
    zstate_batch_destroy (&before);
    zstate_batch_destroy (&empty);
    zstate_batch_destroy (&batch);
    assert (batch == NULL);
    zstate_batch_destroy (&batch);
    //  @end

    printf ("OK\n");
}
#endif
