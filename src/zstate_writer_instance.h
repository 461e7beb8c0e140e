/*  =========================================================================
    zstate_writer_instance - whether Redis still holds what the writer
    wrote: an instance key checked on every connect

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_INSTANCE_H_INCLUDED
#define ZSTATE_WRITER_INSTANCE_H_INCLUDED

//  The string key, in the writer's database, that names the data set
#define ZSTATE_WRITER_INSTANCE_KEY      "_ZSTATE_INSTANCE"

typedef struct _zstate_writer_instance_t zstate_writer_instance_t;

//  Create a checker that has seen no Redis yet.
zstate_writer_instance_t *
    zstate_writer_instance_new (void);

//  Destroy the checker. Nulls the pointer.
void
    zstate_writer_instance_destroy (zstate_writer_instance_t **self_p);

//  On a connection just made, with no reply outstanding: create the
//  instance key with a new random token unless it exists (SET NX), read
//  it back, and read the server's run_id. Returns 1 when Redis lost its
//  data since the last check: the key that held the token seen then is
//  gone or holds another token (FLUSHALL, FLUSHDB, a restart without
//  persistence, a failover to an empty replica; another writer that saw
//  the loss first made a new token). Returns 0 when the token is the one
//  seen last (a restart that loaded its data keeps it, as does a
//  replica that had it), or when this is the first check. Returns -1
//  with zstate_reason () after a context error (the connection is gone).
int
    zstate_writer_instance_check (zstate_writer_instance_t *self, zstate_redis_t *redis);

//  While connected, between batches: append a GET of the instance key to
//  the commands the next send writes. Its reply is the next one read
//  when no other reply is owed. Returns 0, or -1 without memory.
int
    zstate_writer_instance_probe (zstate_writer_instance_t *self, zstate_redis_t *redis);

//  Given the probe's reply as the current one: true when the token seen
//  last is gone or replaced (run a check, with no reply owed, to tell
//  what and to make a new token); false when it is the same, or when
//  the key is no string (nothing to compare, as for a check).
bool
    zstate_writer_instance_probed (zstate_writer_instance_t *self, zstate_redis_t *redis);

//  What the last check found, for logs and events: e.g. "instance key
//  missing, run_id changed (Redis restarted without its data)".
const char *
    zstate_writer_instance_detail (zstate_writer_instance_t *self);

//  The run_id of the server at the last check ("" if unknown).
const char *
    zstate_writer_instance_run_id (zstate_writer_instance_t *self);

//  Selftest
void
    zstate_writer_instance_test (bool verbose);

#endif
