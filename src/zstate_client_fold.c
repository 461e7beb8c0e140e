/*  =========================================================================
    zstate_client_fold - the client's folding of what it holds: its queue
    and its outbox into one entry per (db, table, key)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Part of the client (zstate_client_agent.h has the shared state): the
    accounting of what the outbox holds against the client's bounds, and
    the folds that keep a long outage at O(keys). A sender that finds a
    bound hit, and the agent's heartbeat timer past half a bound, call
    zstate_client_coalesce; the outbox class does the folding itself.
@end
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"

//  The locked client's bounds after the outbox went from before to after
//  held operations and bytes (a renumbering may hold more bytes)
void
zstate_client_outbox_changed (zstate_client_t *client, const size_t before [3],
                              const size_t after [3])
{
    assert (client->held_ops + after [0] >= before [0]);
    assert (client->held_bytes + after [1] >= before [1]);
    client->held_ops = client->held_ops + after [0] - before [0];
    client->held_bytes = client->held_bytes + after [1] - before [1];
    client->stats.outbox_keys = after [2];
}

//  Held operations and bytes of the outbox, and its keys, under socket_lock
void
zstate_client_outbox_measure (zstate_client_t *client, size_t held [3])
{
    held [0] = zstate_outbox_ops (client->outbox);
    held [1] = zstate_outbox_bytes (client->outbox);
    held [2] = zstate_outbox_keys (client->outbox);
}

//  Fold the locked client's queue into the outbox's unsent backlog, under
//  socket_lock: queued messages hold keys more than once too, and the
//  agent sends the backlog, numbered then, before what is queued after.
//  Senders fill the tail only under lock, which we hold, so any queued
//  message may fold. Past QUEUE_FOLD_PROBE operations that hold more than
//  one key per two, it stops and says the fold does not pay: folding keys
//  that never repeat copies them at a cost. Unless full (a send found a
//  bound hit): folding is then the only way to make room, and keys that
//  repeat further apart than the probe sees (many keys written in turn)
//  repeat all the same; it folds everything, and says whether that paid.
//  Returns the messages folded.
#define QUEUE_FOLD_PROBE        4096

static size_t
s_client_fold_queue (zstate_client_t *client, bool full)
{
    if (!client->queue_head)
        return 0;
    size_t keys = zstate_outbox_unsent_keys (client->outbox);
    size_t bytes = zstate_outbox_unsent_bytes (client->outbox);
    size_t ops = 0, payload = 0, folded = 0;
    buffer_t *buffer = client->queue_head;
    client->queue_fold_pays = true;
    while (buffer) {
        if (!full && ops >= QUEUE_FOLD_PROBE
        &&  2 * (zstate_outbox_unsent_keys (client->outbox) - keys) > ops) {
            client->queue_fold_pays = false;
            break;
        }
        //  Never across a window marker: what follows it stays after it
        if (buffer->marker)
            break;
        buffer_t *next = buffer->next;
        assert (!buffer->ready && !buffer->extra);
        zstate_outbox_fold_unsent (client->outbox, buffer->data, buffer->size,
                                   buffer->header_size, buffer->ops);
        ops += buffer->ops;
        payload += buffer->size - buffer->header_size;
        folded++;
        free (buffer->data);
        free (buffer);
        buffer = next;
    }
    client->queue_head = buffer;
    if (!buffer)
        client->queue_tail = NULL;
    size_t keys_after = zstate_outbox_unsent_keys (client->outbox);
    size_t bytes_after = zstate_outbox_unsent_bytes (client->outbox);
    if (full && ops >= QUEUE_FOLD_PROBE)
        client->queue_fold_pays = 2 * (keys_after - keys) <= ops;
    //  The queue's operations and bytes become the backlog's keys and bytes
    client->unsent_keys = keys_after;
    client->held_ops = client->held_ops + keys_after - keys - ops;
    client->held_bytes = client->held_bytes + bytes_after - bytes - payload;
    client->stats.queued_ops = client->stats.queued_ops + keys_after - keys - ops;
    client->stats.queued_bytes = client->stats.queued_bytes + bytes_after - bytes - payload;
    return folded;
}

//  Fold what the outbox holds into its block, in the locked client (the
//  agent never waits for lock while it holds socket_lock, so waiting for
//  socket_lock here cannot deadlock). Returns the frames folded.
size_t
zstate_client_coalesce (zstate_client_t *client, bool full)
{
    size_t before [3], after [3], folded = 0;
    pthread_mutex_lock (&client->socket_lock);
    if (!client->resending) {
        zstate_client_outbox_measure (client, before);
        folded = zstate_outbox_coalesce (client->outbox);
        client->outbox_delivered = zstate_outbox_delivered_ops (client->outbox);
        zstate_client_outbox_measure (client, after);
        zstate_client_outbox_changed (client, before, after);
    }
    //  The queue folds when keys repeat (at most one key per two
    //  operations) in the block or in its last fold: keys that never
    //  repeat would only cost the backlog's overhead. A full bound folds
    //  it whatever they do
    size_t keys = zstate_outbox_keys (client->outbox);
    if (full || client->queue_fold_pays
    ||  (keys && 2 * keys <= zstate_outbox_block_ops (client->outbox)))
        folded += s_client_fold_queue (client, full);
    pthread_mutex_unlock (&client->socket_lock);
    client->stats.frames_coalesced += folded;
    return folded;
}
