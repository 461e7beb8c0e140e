/*  =========================================================================
    zstate_db_config - SONiC's database_config.json: which Redis instance,
    database index and key separator each database name maps to

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_DB_CONFIG_H_INCLUDED
#define ZSTATE_DB_CONFIG_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  @interface
//  A strict reader of the file SONiC keeps in
//  /var/run/redis/sonic-db/database_config.json:
//
//      {
//          "INSTANCES": {
//              "redis": { "hostname": "127.0.0.1", "port": 6379,
//                         "unix_socket_path": "/var/run/redis/redis.sock" }
//          },
//          "DATABASES": {
//              "APPL_DB":   { "id": 0, "separator": ":", "instance": "redis" },
//              "CONFIG_DB": { "id": 4, "separator": "|", "instance": "redis" }
//          },
//          "VERSION": "1.0"
//      }
//
//  What is read is checked whole: the text is JSON (RFC 8259) of at most
//  1 MiB and 32 levels, in UTF-8 without NUL bytes; INSTANCES and
//  DATABASES are objects, neither empty; an instance has a non-empty
//  string hostname and an integer port from 1 to 65535, and may have a
//  string unix_socket_path; a database has an integer id from 0 to 65535,
//  a separator of 1 to 16 bytes and the name of an instance given in the
//  file; database names are valid zstate names. A name given twice in one
//  object is an error. Other members (VERSION, persistence_for_warm_boot,
//  ...) are skipped, after their syntax is checked. Anything else fails
//  the whole file with EINVAL and a reason that names the line and column.
//
//  A database's Redis endpoint is "unix:PATH" when its instance has a
//  non-empty unix_socket_path, else "HOSTNAME:PORT", as SONiC's daemons
//  connect.

//  Read and check a file. Returns the configuration, or NULL with errno
//  (ENOENT, EACCES, EINVAL, EFBIG) and zstate_reason ().
ZSTATE_EXPORT zstate_db_config_t *
    zstate_db_config_load (const char *path);

//  The same from size bytes of text (which need not end in a NUL).
ZSTATE_EXPORT zstate_db_config_t *
    zstate_db_config_parse (const char *text, size_t size);

//  Destroy the configuration. Nulls the pointer.
ZSTATE_EXPORT void
    zstate_db_config_destroy (zstate_db_config_t **self_p);

//  Number of databases the file names.
ZSTATE_EXPORT size_t
    zstate_db_config_size (zstate_db_config_t *self);

//  Where database db lives: its Redis endpoint, database index and key
//  separator, each pointer optional (NULL when not wanted); the strings
//  stay valid as long as the configuration. Returns 0, or -1 with errno
//  ENOENT and zstate_reason () when the file does not name db.
ZSTATE_EXPORT int
    zstate_db_config_lookup (zstate_db_config_t *self, const char *db,
                             const char **endpoint_p, int *index_p,
                             const char **separator_p);

//  @end

#ifdef __cplusplus
}
#endif

#endif
