/*  =========================================================================
    zstate_writer_reader - the writer's RESTORE: one table and its
    watermarks read back from Redis, sent as wire messages

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_READER_H_INCLUDED
#define ZSTATE_WRITER_READER_H_INCLUDED

#include "zstate_writer_config.h"

//  Connect to Redis at redis_endpoint with config's database, password and
//  timeouts, on a connection of our own; read every hash of table and the
//  table's watermarks; send them to a PUSH socket connected to endpoint
//  as zstate_writer.h says (RESTORE), all within timeout msecs. Stores
//  the entries sent in *entries_p. Returns 0, or an errno value with
//  zstate_reason (): ENOTCONN (Redis cannot be reached, or the connection
//  failed), ETIMEDOUT, EINVAL (bad table or endpoint), EMFILE. After a
//  failure, no RESTORED message was sent.
int
    zstate_writer_reader_run (zstate_writer_config_t *config, const char *redis_endpoint,
                              const char *table, const char *endpoint, int timeout,
                              uint64_t *entries_p);

//  The glob pattern (SCAN MATCH) that matches every key that starts with
//  prefix and nothing else: prefix with * ? [ ] and backslash escaped,
//  then *. Freshly allocated.
char *
    zstate_writer_reader_pattern (const char *prefix);

//  A binary key as a string that zhashx can hold, one to one: NUL and
//  backslash escaped. Freshly allocated.
char *
    zstate_writer_reader_key_text (const char *key, size_t size);

#endif
