/*  =========================================================================
    zstate_server_watermarks - the persisted watermarks of one table

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A zhashx keyed by the 16-octet session id, each item the watermark.
    The server looks a message up here only for a route that restored, so
    routes that did not pay nothing.
@end
*/

#include "zstate_classes.h"
#include "zstate_server_watermarks.h"

//  One session's watermark; the id is the hash key
typedef struct {
    byte id [ZSTATE_MSG_SESSION_SIZE];
    uint64_t sequence;
} watermark_t;

struct _zstate_server_watermarks_t {
    zhashx_t *sessions;         //  session id -> watermark_t
};

//  Session ids come from the network, so no part of them can be trusted
//  to be random: every bit of both halves goes through a multiply-xorshift
//  mix (a few instructions, where a byte-wise hash took two hundred)
size_t
zstate_server_session_hash (const void *key)
{
    uint64_t low, high;
    memcpy (&low, key, sizeof (low));
    memcpy (&high, (const byte *) key + sizeof (low), sizeof (high));
    uint64_t hash = (low ^ 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL;
    hash = (hash ^ (hash >> 31) ^ high) * 0x94D049BB133111EBULL;
    return (size_t) (hash ^ (hash >> 29));
}

int
zstate_server_session_compare (const void *key1, const void *key2)
{
    return memcmp (key1, key2, ZSTATE_MSG_SESSION_SIZE);
}

uint64_t
zstate_server_get_uint64 (const byte *data)
{
    uint64_t number = 0;
    for (int index = 0; index < 8; index++)
        number = (number << 8) | data [index];
    return number;
}

zhashx_t *
zstate_server_session_table (zhashx_destructor_fn destructor)
{
    zhashx_t *table = zhashx_new ();
    assert (table);
    zhashx_set_key_hasher (table, zstate_server_session_hash);
    zhashx_set_key_comparator (table, zstate_server_session_compare);
    zhashx_set_key_duplicator (table, NULL);
    zhashx_set_key_destructor (table, NULL);
    zhashx_set_destructor (table, destructor);
    return table;
}

static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

zstate_server_watermarks_t *
zstate_server_watermarks_new (void)
{
    zstate_server_watermarks_t *self =
        (zstate_server_watermarks_t *) zmalloc (sizeof (zstate_server_watermarks_t));
    assert (self);
    self->sessions = zstate_server_session_table (s_free);
    return self;
}

void
zstate_server_watermarks_destroy (zstate_server_watermarks_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zhashx_destroy (&(*self_p)->sessions);
        free (*self_p);
        *self_p = NULL;
    }
}

int
zstate_server_watermarks_load (zstate_server_watermarks_t *self, const byte *data,
                               size_t size)
{
    assert (self);
    if (size % ZSTATE_WATERMARK_SIZE)
        return zstate_fail (EINVAL, "watermarks: %zu octets is not a multiple of %d",
                            size, ZSTATE_WATERMARK_SIZE);
    for (size_t offset = 0; offset < size; offset += ZSTATE_WATERMARK_SIZE) {
        const byte *id = data + offset;
        uint64_t sequence = zstate_server_get_uint64 (id + ZSTATE_MSG_SESSION_SIZE);
        watermark_t *watermark = (watermark_t *) zhashx_lookup (self->sessions, id);
        if (!watermark) {
            watermark = (watermark_t *) zmalloc (sizeof (watermark_t));
            assert (watermark);
            memcpy (watermark->id, id, ZSTATE_MSG_SESSION_SIZE);
            zhashx_insert (self->sessions, watermark->id, watermark);
        }
        if (sequence > watermark->sequence)
            watermark->sequence = sequence;
    }
    return 0;
}

bool
zstate_server_watermarks_covers (zstate_server_watermarks_t *self,
                                 const byte *session_id, uint64_t sequence)
{
    assert (self);
    watermark_t *watermark = (watermark_t *) zhashx_lookup (self->sessions, session_id);
    return watermark && sequence <= watermark->sequence;
}

size_t
zstate_server_watermarks_size (zstate_server_watermarks_t *self)
{
    assert (self);
    return zhashx_size (self->sessions);
}
