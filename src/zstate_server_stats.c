/*  =========================================================================
    zstate_server_stats - the "server" section of the monitor's STATS
    text: the server's counters as ZPL, under their short names

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_agent.h"

//  Short names of the reason codes
static const char *
s_reason_names [ZSTATE_SERVER_REASONS] = {
    "ok", "truncated", "signature", "version", "type", "too_large", "name",
    "op_count", "op_code", "key", "field", "terminator", "trailing", "frames",
    "ack_level", "heartbeat", "sequence", "epoch", "reason", "text",
    "unroutable", "unauthorised", "no_session"
};

uint64_t *
zstate_server_stats_rejected (zstate_server_stats_t *stats, int reason)
{
    assert (stats);
    assert (reason > 0 && reason < ZSTATE_SESSION_REASON_COUNT);
    //  rejected [] keeps its size, so that counters appended after it
    //  stay where callers built for an older struct expect them
    if (reason == ZSTATE_SESSION_REASON_KIND)
        return &stats->rejected_kind;
    if (reason == ZSTATE_SESSION_REASON_STATUS)
        return &stats->rejected_status;
    assert (reason < ZSTATE_SERVER_REASONS);
    return &stats->rejected [reason];
}

void
zstate_server_stats_fprint (const zstate_server_stats_t *stats, zstate_monitor_t *monitor,
                            FILE *file)
{
    fprintf (file, "server\n");
    fprintf (file, "    messages = %" PRIu64 "\n", stats->messages);
    fprintf (file, "    ops = %" PRIu64 "\n", stats->ops);
    fprintf (file, "    bytes = %" PRIu64 "\n", stats->bytes);
    fprintf (file, "    routed = %" PRIu64 "\n", stats->routed);
    fprintf (file, "    unroutable = %" PRIu64 "\n", stats->unroutable);
    fprintf (file, "    malformed = %" PRIu64 "\n", stats->malformed);
    fprintf (file, "    gaps = %" PRIu64 "\n", stats->gaps);
    fprintf (file, "    dropped = %" PRIu64 "\n", stats->dropped);
    fprintf (file, "    stalls = %" PRIu64 "\n", stats->stalls);
    fprintf (file, "    consumers = %zu\n", stats->consumers);
    fprintf (file, "    sessions = %zu\n", stats->sessions);
    fprintf (file, "    messages_v1 = %" PRIu64 "\n", stats->messages_v1);
    fprintf (file, "    hellos = %" PRIu64 "\n", stats->hellos);
    fprintf (file, "    duplicates = %" PRIu64 "\n", stats->duplicates);
    fprintf (file, "    resumes = %" PRIu64 "\n", stats->resumes);
    fprintf (file, "    superseded = %" PRIu64 "\n", stats->superseded);
    fprintf (file, "    no_session = %" PRIu64 "\n", stats->no_session);
    fprintf (file, "    rejects = %" PRIu64 "\n", stats->rejects);
    fprintf (file, "    rejects_owed = %" PRIu64 "\n", stats->rejects_owed);
    fprintf (file, "    rejects_lost = %" PRIu64 "\n", stats->rejects_lost);
    fprintf (file, "    acks = %" PRIu64 "\n", stats->acks);
    fprintf (file, "    pings = %" PRIu64 "\n", stats->pings);
    fprintf (file, "    pings_sent = %" PRIu64 "\n", stats->pings_sent);
    fprintf (file, "    unexpected = %" PRIu64 "\n", stats->unexpected);
    fprintf (file, "    expired = %" PRIu64 "\n", stats->expired);
    fprintf (file, "    evicted = %" PRIu64 "\n", stats->evicted);
    fprintf (file, "    confirms = %" PRIu64 "\n", stats->confirms);
    fprintf (file, "    confirms_ignored = %" PRIu64 "\n", stats->confirms_ignored);
    fprintf (file, "    restored_drops = %" PRIu64 "\n", stats->restored_drops);
    fprintf (file, "    writer_skipped = %" PRIu64 "\n", stats->writer_skipped);
    fprintf (file, "    replays_sent = %" PRIu64 "\n", stats->replays_sent);
    fprintf (file, "    replayed = %" PRIu64 "\n", stats->replayed);
    fprintf (file, "    replay_dropped = %" PRIu64 "\n", stats->replay_dropped);
    fprintf (file, "    behind = %zu\n", stats->behind);
    fprintf (file, "    resyncs_sent = %" PRIu64 "\n", stats->resyncs_sent);
    fprintf (file, "    resyncs_owed = %" PRIu64 "\n", stats->resyncs_owed);
    fprintf (file, "    windows_begun = %" PRIu64 "\n", stats->windows_begun);
    fprintf (file, "    windows_ended = %" PRIu64 "\n", stats->windows_ended);
    fprintf (file, "    table_writers = %" PRIu64 "\n", stats->table_writers);
    fprintf (file, "    redis_lost = %" PRIu64 "\n", stats->redis_lost);
    fprintf (file, "    watchers = %zu\n", zstate_monitor_watchers (monitor));
    fprintf (file, "    watch_lost = %" PRIu64 "\n", zstate_monitor_lost (monitor));
    fprintf (file, "    watch_refused_key = %" PRIu64 "\n", zstate_monitor_refused (monitor));
    fprintf (file, "    watch_refused_full = %" PRIu64 "\n",
             zstate_monitor_refused_full (monitor));
    fprintf (file, "    rejected\n");
    for (int reason = 1; reason < ZSTATE_SERVER_REASONS; reason++)
        fprintf (file, "        %s = %" PRIu64 "\n", s_reason_names [reason],
                 stats->rejected [reason]);
    fprintf (file, "        kind = %" PRIu64 "\n", stats->rejected_kind);
    fprintf (file, "        status = %" PRIu64 "\n", stats->rejected_status);
}
