/*  =========================================================================
    zstate_stats - counters the caller's struct can hold, for an ABI that
    grows (zstate_library.h, "Counters")

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

//  Copy min (size, ours) bytes of the whole counters, zero the rest
static void
s_copy (const void *whole, size_t whole_size, void *stats, size_t size)
{
    memcpy (stats, whole, size < whole_size? size: whole_size);
    if (size > whole_size)
        memset ((byte *) stats + whole_size, 0, size - whole_size);
}

void
zstate_stats_copy (const void *whole, size_t whole_size, void *stats, size_t size)
{
    s_copy (whole, whole_size, stats, size);
}

void
zstate_client_stats_sized (zstate_client_t *self, zstate_client_stats_t *stats, size_t size)
{
    assert (stats);
    zstate_client_stats_t whole;
    zstate_client_stats_fill (self, &whole);
    s_copy (&whole, sizeof (whole), stats, size);
}

void
zstate_consumer_stats_sized (zstate_consumer_t *self, zstate_consumer_stats_t *stats,
                             size_t size)
{
    assert (stats);
    zstate_consumer_stats_t whole;
    zstate_consumer_stats_fill (self, &whole);
    s_copy (&whole, sizeof (whole), stats, size);
}

int
zstate_server_stats_sized (zstate_server_t *self, zstate_server_stats_t *stats, size_t size)
{
    assert (stats);
    zstate_server_stats_t whole;
    int rc = zstate_server_stats_fill (self, &whole);
    if (rc == 0)
        s_copy (&whole, sizeof (whole), stats, size);
    return rc;
}

int
zstate_writer_stats_sized (zstate_writer_t *self, zstate_writer_stats_t *stats, size_t size)
{
    assert (stats);
    zstate_writer_stats_t whole;
    int rc = zstate_writer_stats_fill (self, &whole);
    if (rc == 0)
        s_copy (&whole, sizeof (whole), stats, size);
    return rc;
}
