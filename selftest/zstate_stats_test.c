/*  =========================================================================
    zstate_stats_test - counters that can grow: a caller's struct smaller
    than the library's gets only what it holds, a larger one gets the rest
    zeroed, and the macro passes the caller's own size

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

void
    zstate_stats_test (bool verbose);

#define MARK    0xA5
#define SLACK   64

//  The bytes from offset to size of buffer all hold value
static bool
s_all (const byte *buffer, size_t offset, size_t size, byte value)
{
    for (size_t index = offset; index < size; index++)
        if (buffer [index] != value)
            return false;
    return true;
}

//  A caller built against an older header: its struct ends one counter
//  early, and nothing past it is written. One built against a newer
//  header: what the library does not have reads 0.
#define CHECK_SIZES(name, object, type, first_field) do { \
    byte buffer [sizeof (type) + SLACK]; \
    memset (buffer, MARK, sizeof (buffer)); \
    size_t older = sizeof (type) - sizeof (uint64_t); \
    zstate_##name##_stats_sized ((object), (type *) buffer, older); \
    assert (s_all (buffer, older, sizeof (buffer), MARK)); \
    memset (buffer, MARK, sizeof (buffer)); \
    zstate_##name##_stats_sized ((object), (type *) buffer, sizeof (buffer)); \
    assert (s_all (buffer, sizeof (type), sizeof (buffer), 0)); \
    type whole; \
    memset (&whole, MARK, sizeof (whole)); \
    zstate_##name##_stats ((object), &whole); \
    assert (memcmp (&whole, buffer, offsetof (type, first_field) + sizeof (whole.first_field)) == 0); \
} while (0)

void
zstate_stats_test (bool verbose)
{
    (void) verbose;
    printf (" * zstate_stats: ");
    zstate_server_t *server = zstate_server_new ();
    zstate_consumer_t *consumer = zstate_consumer_new (server, "APPL_DB", "STATS_TABLE");
    zstate_client_t *client = zstate_client_new ();
    zstate_writer_t *writer = zstate_writer_new ();
    assert (server && consumer && client && writer);
    CHECK_SIZES (server, server, zstate_server_stats_t, messages);
    CHECK_SIZES (consumer, consumer, zstate_consumer_stats_t, messages);
    CHECK_SIZES (client, client, zstate_client_stats_t, state);
    CHECK_SIZES (writer, writer, zstate_writer_stats_t, state);
    //  The macro passes sizeof *stats: the whole struct comes back
    zstate_writer_stats_t stats;
    memset (&stats, MARK, sizeof (stats));
    assert (zstate_writer_stats (writer, &stats) == 0);
    assert (stats.state == ZSTATE_WRITER_IDLE && stats.messages == 0
            && stats.events_dropped == 0);
    zstate_writer_destroy (&writer);
    zstate_client_destroy (&client);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
    printf ("OK\n");
}
