/*  =========================================================================
    zstate_writer_config - the writer's settings: their defaults, and the
    SET commands that change them

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_CONFIG_H_INCLUDED
#define ZSTATE_WRITER_CONFIG_H_INCLUDED

//  Defaults, msecs, that the wrapper needs too
#define ZSTATE_WRITER_CONNECT_TIMEOUT   1000
#define ZSTATE_WRITER_COMMAND_TIMEOUT   2000

//  The settings; the actor reads them, only SET commands change them
typedef struct {
    char *separator;            //  Between table and key
    int db;                     //  SELECT index
    char *password;             //  AUTH password, or NULL
    int connect_timeout;        //  msecs
    int command_timeout;        //  msecs
    size_t batch_size;          //  Operations per batch
    int batch_interval;         //  msecs a partial batch may wait
    size_t max_keys;            //  Backlog bound, keys
    size_t max_bytes;           //  Backlog bound, bytes
    int reconnect_min;          //  Backoff, msecs
    int reconnect_max;
    int watermark_age;          //  secs a session's watermark outlives
                                //  its last write
    bool placeholder;           //  SONiC's NULL/NULL for a SET with no fields
    size_t window_bound;        //  Keys one window may mark
} zstate_writer_config_t;

//  Keys one window may mark, by default
#define ZSTATE_WRITER_WINDOW_BOUND      (2 * 1024 * 1024)

//  Create the settings with their defaults.
zstate_writer_config_t *
    zstate_writer_config_new (void);

//  Destroy the settings. Nulls the pointer.
void
    zstate_writer_config_destroy (zstate_writer_config_t **self_p);

//  Apply one SET command (as in zstate_writer.h: "SET BATCH" and so on)
//  with its argument frames from request. The ones that only hold before
//  CONNECT (SEPARATOR, PASSWORD, DB, TIMEOUTS, PLACEHOLDER) are refused once connected
//  is true. Returns 0, EINVAL for a bad or missing argument, EBUSY when
//  refused, or -1 when command is no SET command. Changes nothing unless
//  it returns 0.
int
    zstate_writer_config_set (zstate_writer_config_t *self, const char *command,
                              zmsg_t *request, bool connected);

//  Selftest
void
    zstate_writer_config_test (bool verbose);

#endif
