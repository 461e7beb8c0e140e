/*  =========================================================================
    zstate_stats_private - the classes' own counters, whole; the public
    zstate_X_stats_sized (zstate_stats.c) copies what the caller's struct
    holds

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_STATS_PRIVATE_H_INCLUDED
#define ZSTATE_STATS_PRIVATE_H_INCLUDED

//  Copy min (size, whole_size) bytes of whole into stats, zero the rest
//  of stats' size bytes: what each zstate_X_stats_sized does
void
    zstate_stats_copy (const void *whole, size_t whole_size, void *stats, size_t size);

//  Fill the whole struct, as this library defines it
void
    zstate_client_stats_fill (zstate_client_t *self, zstate_client_stats_t *stats);
void
    zstate_consumer_stats_fill (zstate_consumer_t *self, zstate_consumer_stats_t *stats);
int
    zstate_server_stats_fill (zstate_server_t *self, zstate_server_stats_t *stats);
int
    zstate_writer_stats_fill (zstate_writer_t *self, zstate_writer_stats_t *stats);

#endif
