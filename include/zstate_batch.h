/*  =========================================================================
    zstate_batch - an ordered list of operations on one table

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_BATCH_H_INCLUDED
#define ZSTATE_BATCH_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  A batch holds operations (SET key {fields}, HSET key {fields}, DEL key)
//  already in their wire encoding, so sending a batch is one copy and
//  reading one costs no allocation per field. Producers build batches to
//  send many operations at once; consumers receive operations into a batch
//  with zstate_consumer_pops. Keys, field names and values are binary-safe
//  (sizes are explicit) and are also NUL-terminated, so C strings can be
//  used directly. A batch belongs to one thread.

//  Create a new, empty batch.
ZSTATE_EXPORT zstate_batch_t *
    zstate_batch_new (void);

//  Destroy a batch; nulls the caller's pointer.
ZSTATE_EXPORT void
    zstate_batch_destroy (zstate_batch_t **self_p);

//  Append SET key with the fields given as C strings: name, value, name,
//  value, ..., NULL. SET replaces the whole entry. A SET with no fields is
//  still a SET (it never turns into a DEL on the way).
//  Returns 0, or -1 with errno EINVAL (NULL/empty key, odd list) or
//  EMSGSIZE (too large for one wire message); the batch is unchanged then.
ZSTATE_EXPORT int
    zstate_batch_set (zstate_batch_t *self, const char *key, ...) ZSTATE_SENTINEL;

//  Append HSET key with fields as C strings, NULL-terminated as for set.
//  HSET merges the fields into the entry and keeps the others.
ZSTATE_EXPORT int
    zstate_batch_hset (zstate_batch_t *self, const char *key, ...) ZSTATE_SENTINEL;

//  Append SET or HSET from a va_list of name, value, ..., NULL.
ZSTATE_EXPORT int
    zstate_batch_vappend (zstate_batch_t *self, int op, const char *key, va_list args);

//  Append DEL key.
ZSTATE_EXPORT int
    zstate_batch_del (zstate_batch_t *self, const char *key);

//  Binary-safe builder: start an operation (ZSTATE_OP_SET, _HSET or _DEL)
//  on a key of key_size bytes. Add fields with zstate_batch_field.
ZSTATE_EXPORT int
    zstate_batch_append (zstate_batch_t *self, int op, const void *key, size_t key_size);

//  Binary-safe builder: add one field to the last SET or HSET operation.
//  Returns -1 with EINVAL when there is none or it is a DEL, EMSGSIZE when
//  the operation would not fit in one wire message.
ZSTATE_EXPORT int
    zstate_batch_field (zstate_batch_t *self, const void *name, size_t name_size,
                        const void *value, size_t value_size);

//  Return the number of operations in the batch.
ZSTATE_EXPORT size_t
    zstate_batch_size (zstate_batch_t *self);

//  Return the encoded size of all operations, in bytes.
ZSTATE_EXPORT size_t
    zstate_batch_bytes (zstate_batch_t *self);

//  Return the op code (ZSTATE_OP_*) of operation index.
ZSTATE_EXPORT int
    zstate_batch_op (zstate_batch_t *self, size_t index);

//  Return the key of operation index, NUL-terminated; stores its size in
//  *size_p when size_p is not NULL. Valid until the batch changes.
ZSTATE_EXPORT const char *
    zstate_batch_key (zstate_batch_t *self, size_t index, size_t *size_p);

//  Return the number of fields of operation index, in order.
ZSTATE_EXPORT size_t
    zstate_batch_field_count (zstate_batch_t *self, size_t index);

//  Return field number field of operation index: its name, NUL-terminated,
//  with the size in *size_p when not NULL.
ZSTATE_EXPORT const char *
    zstate_batch_name (zstate_batch_t *self, size_t index, size_t field, size_t *size_p);

//  Return the value of field number field of operation index.
ZSTATE_EXPORT const char *
    zstate_batch_value (zstate_batch_t *self, size_t index, size_t field, size_t *size_p);

//  Return the value of the first field of operation index whose name is the
//  C string name, or NULL if there is none.
ZSTATE_EXPORT const char *
    zstate_batch_get (zstate_batch_t *self, size_t index, const char *name);

//  Empty the batch, keeping its memory for reuse.
ZSTATE_EXPORT void
    zstate_batch_reset (zstate_batch_t *self);

//  Return a copy of the batch.
ZSTATE_EXPORT zstate_batch_t *
    zstate_batch_dup (zstate_batch_t *self);

//  Return true if both batches hold the same operations, byte for byte.
ZSTATE_EXPORT bool
    zstate_batch_eq (zstate_batch_t *self, zstate_batch_t *other);

//  Print the batch, one operation a line, to stdout / to a file.
ZSTATE_EXPORT void
    zstate_batch_print (zstate_batch_t *self);
ZSTATE_EXPORT void
    zstate_batch_fprint (zstate_batch_t *self, FILE *file);

//  @end

#ifdef __cplusplus
}
#endif

#endif
