/*  =========================================================================
    zstate serve - what its parts share: the settings, read from flags and
    the config file (zstate_serve_config.c), and the layout of persisted
    tables over Redis writers (zstate_serve_layout.c)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SERVE_H_INCLUDED
#define ZSTATE_SERVE_H_INCLUDED

#include "zstate_tool.h"

//  Redis database indexes we accept
#define ZSTATE_SERVE_DB_MAX     65535

//  One table we serve
typedef struct {
    char *db;
    char *table;
    bool persist;               //  forward to a writer
    char *separator;            //  this table's own separator, or NULL
    int redis_db;               //  this table's own db index, or -1
    zstate_consumer_t *consumer;
    uint64_t popped;            //  operations the loop took
    int64_t restored;           //  ... of which the entries restored
} served_t;

//  What flags or the config file ask for
typedef struct {
    zlistx_t *binds;            //  endpoints, char *
    zlistx_t *sonic_binds;      //  endpoints for SONiC producers, char *
    bool sonic_merge;           //  SONiC SETs arrive as HSET
    zlistx_t *tables;           //  served_t *
    char *monitor;              //  monitor endpoint, or NULL
    char *redis;                //  Redis endpoint
    char *separator;            //  key separator
    int redis_db;               //  SELECT index
    char *password;             //  AUTH password, or NULL
    char *db_config;            //  database_config.json, or NULL
    bool placeholder;           //  NULL/NULL for a SET with no fields
    char *notify;               //  readiness: "auto", "yes" or "no"
    zstate_tool_security_t *security;   //  CURVE, address lists, caps
    bool verbose;
} serve_settings_t;

//  Fill settings from argv (flags, and config files where --config says).
//  Returns 0, -1 after printing the help, or the exit status after
//  printing why.
int
    zstate_serve_settings_init (serve_settings_t *settings, int argc, char *argv []);

//  Free what the settings hold; the tables go first (their consumers
//  forward to the layout's writers)
void
    zstate_serve_settings_destroy (serve_settings_t *settings);

//  The writers of the persisted tables: one for each Redis endpoint,
//  database index and separator that some table maps to
typedef struct _zstate_serve_layout_t zstate_serve_layout_t;

//  Read the database config, if the settings name one. Returns NULL after
//  printing why.
zstate_serve_layout_t *
    zstate_serve_layout_new (serve_settings_t *settings);

//  Destroy the layout and its writers. Nulls the pointer.
void
    zstate_serve_layout_destroy (zstate_serve_layout_t **self_p);

//  Give a persisted table's consumer the writer for where the table lives,
//  made and connected when it is the first table there, after restoring
//  the table from what Redis holds there. Returns 0, or -1 after printing
//  why.
int
    zstate_serve_layout_attach (zstate_serve_layout_t *self, served_t *served);

//  Flush every writer. Returns 0, or -1 after printing what did not
//  confirm in time.
int
    zstate_serve_layout_flush (zstate_serve_layout_t *self, int timeout);

#endif
