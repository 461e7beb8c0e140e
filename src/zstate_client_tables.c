/*  =========================================================================
    zstate_client_tables - the producer tables a client knows: their
    mirrors, views and snapshots (state resync)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Everything here runs under the client lock, which producers take to
    send: a mirror changes with the queue in one step, so what a snapshot
    reads from it, when it queues a chunk, is exactly the state that the
    operations queued before the chunk leave, and every operation queued
    after comes after the chunk. That is the no-regression rule: an entry
    is never older than a live operation that went before it.
@discuss
    Window markers (BEGIN, END) are buffers of their own in the queue, so
    they keep their place among the operations; the agent encodes them
    when it sends them, since only then are their sequence, and an END's
    begin, known. Folding stops at them: a queued fold at the first marker,
    the outbox's coalescing at the first marker it holds.
@end
*/

#include "zstate_classes.h"
#include "zstate_client_agent.h"

static window_t *
s_window_new (void)
{
    window_t *window = (window_t *) zmalloc (sizeof (window_t));
    assert (window);
    window->refs = 1;
    return window;
}

static window_t *
s_window_ref (window_t *window)
{
    __atomic_add_fetch (&window->refs, 1, __ATOMIC_ACQ_REL);
    return window;
}

void
zstate_client_window_release (window_t **window_p)
{
    if (*window_p && __atomic_sub_fetch (&(*window_p)->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free (*window_p);
    *window_p = NULL;
}

void
zstate_client_marker_destroy (marker_t **marker_p)
{
    if (*marker_p) {
        zstate_client_window_release (&(*marker_p)->window);
        free (*marker_p);
        *marker_p = NULL;
    }
}

void
zstate_client_queue_marker (zstate_client_t *client, zstate_client_table_t *table,
                            int type, int kind_or_status, uint64_t count,
                            window_t *window)
{
    marker_t *marker = (marker_t *) zmalloc (sizeof (marker_t));
    assert (marker);
    marker->type = type;
    if (type == ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN)
        marker->kind = kind_or_status;
    else
        marker->status = kind_or_status;
    marker->count = count;
    marker->window = s_window_ref (window);
    snprintf (marker->db, sizeof (marker->db), "%s", table->db);
    snprintf (marker->table, sizeof (marker->table), "%s", table->table);
    buffer_t *buffer = (buffer_t *) zmalloc (sizeof (buffer_t));
    assert (buffer);
    buffer->marker = marker;
    if (client->queue_tail)
        client->queue_tail->next = buffer;
    else
        client->queue_head = buffer;
    client->queue_tail = buffer;
    //  No name is empty: the next operation starts a message of its own
    client->tail_db [0] = 0;
    if (!client->woken) {
        client->woken = true;
        client->wakes++;
        uint64_t one = 1;
        if (write (client->wakefd, &one, sizeof (one)) == -1)
            assert (errno == EAGAIN);
    }
}

void
zstate_client_marker_encode (zstate_client_t *client, marker_t *marker,
                             uint64_t sequence, zmq_msg_t *frame)
{
    zstate_session_msg_t msg = { .type = marker->type };
    msg.session = client->session;
    msg.sequence = sequence;
    msg.db = marker->db;
    msg.table = marker->table;
    msg.kind = marker->kind;
    msg.status = marker->status;
    msg.count = marker->count;
    msg.begin = marker->window->begin;
    int rc = zstate_session_msg_encode_frame (&msg, frame);
    assert (rc == 0);
}


//  --------------------------------------------------------------------------
//  Producer tables

zstate_client_table_t *
zstate_client_table_new (zstate_client_t *client, const char *db, const char *table)
{
    zstate_client_table_t *self =
        (zstate_client_table_t *) zmalloc (sizeof (zstate_client_table_t));
    assert (self);
    snprintf (self->db, sizeof (self->db), "%s", db);
    snprintf (self->table, sizeof (self->table), "%s", table);
    pthread_mutex_lock (&client->lock);
    self->next = client->tables;
    if (client->tables)
        client->tables->prev = self;
    client->tables = self;
    pthread_mutex_unlock (&client->lock);
    return self;
}

//  End the running snapshot of the locked table with status
static void
s_snapshot_end (zstate_client_t *client, zstate_client_table_t *self, int status)
{
    zstate_client_queue_marker (client, self, ZSTATE_SESSION_MSG_SNAPSHOT_END, status,
                                self->snapshot_count, self->snapshot);
    zstate_client_window_release (&self->snapshot);
    assert (client->snapshots_running);
    client->snapshots_running--;
    if (status == ZSTATE_SESSION_END_COMPLETE)
        client->stats.snapshots++;
    else
        client->stats.snapshots_abandoned++;
}

static void
s_snapshot_start (zstate_client_t *client, zstate_client_table_t *self)
{
    assert (!self->snapshot && !self->view && self->mirror);
    self->snapshot = s_window_new ();
    self->snapshot_count = 0;
    self->resync_due = false;
    zstate_client_queue_marker (client, self, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN,
                                ZSTATE_SESSION_SNAPSHOT, 0, self->snapshot);
    zstate_mirror_snapshot_start (self->mirror);
    client->snapshots_running++;
}

void
zstate_client_table_destroy (zstate_client_t *client, zstate_client_table_t **table_p)
{
    assert (table_p);
    zstate_client_table_t *self = *table_p;
    if (!self)
        return;
    pthread_mutex_lock (&client->lock);
    if (self->snapshot)
        s_snapshot_end (client, self, ZSTATE_SESSION_END_ABANDONED);
    if (self->view) {
        zstate_client_queue_marker (client, self, ZSTATE_SESSION_MSG_SNAPSHOT_END,
                                    ZSTATE_SESSION_END_ABANDONED, self->view_count,
                                    self->view);
        zstate_client_window_release (&self->view);
    }
    if (self->prev)
        self->prev->next = self->next;
    else
        client->tables = self->next;
    if (self->next)
        self->next->prev = self->prev;
    pthread_mutex_unlock (&client->lock);
    zstate_mirror_destroy (&self->mirror);
    free (self);
    *table_p = NULL;
}

int
zstate_client_table_set_mirror (zstate_client_t *client, zstate_client_table_t *self,
                                size_t keys_max)
{
    pthread_mutex_lock (&client->lock);
    if (self->snapshot)
        s_snapshot_end (client, self, ZSTATE_SESSION_END_ABANDONED);
    zstate_mirror_destroy (&self->mirror);
    self->established = false;
    self->resync_due = false;
    if (keys_max) {
        self->mirror = zstate_mirror_new (keys_max);
        //  A view already open marks from here on
        if (self->view)
            zstate_mirror_begin_view (self->mirror);
    }
    pthread_mutex_unlock (&client->lock);
    return 0;
}

int
zstate_client_table_begin_view (zstate_client_t *client, zstate_client_table_t *self)
{
    pthread_mutex_lock (&client->lock);
    if (self->view) {
        pthread_mutex_unlock (&client->lock);
        return zstate_fail (EINVAL, "begin_view: a view of %s/%s is open already",
                            self->db, self->table);
    }
    //  The view replaces the table: a snapshot on its way is of no use
    if (self->snapshot)
        s_snapshot_end (client, self, ZSTATE_SESSION_END_ABANDONED);
    self->resync_due = false;
    self->view = s_window_new ();
    self->view_count = 0;
    zstate_client_queue_marker (client, self, ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN,
                                ZSTATE_SESSION_VIEW, 0, self->view);
    if (self->mirror)
        zstate_mirror_begin_view (self->mirror);
    pthread_mutex_unlock (&client->lock);
    return 0;
}

int
zstate_client_table_end_view (zstate_client_t *client, zstate_client_table_t *self)
{
    pthread_mutex_lock (&client->lock);
    if (!self->view) {
        pthread_mutex_unlock (&client->lock);
        return zstate_fail (EINVAL, "end_view: no view of %s/%s is open",
                            self->db, self->table);
    }
    zstate_client_queue_marker (client, self, ZSTATE_SESSION_MSG_SNAPSHOT_END,
                                ZSTATE_SESSION_END_COMPLETE, self->view_count, self->view);
    zstate_client_window_release (&self->view);
    client->stats.views++;
    if (self->mirror) {
        zstate_mirror_end_view (self->mirror);
        self->established = true;
        //  A RESYNC that came during the view is answered now
        if (self->resync_due)
            s_snapshot_start (client, self);
    }
    pthread_mutex_unlock (&client->lock);
    return 0;
}

size_t
zstate_client_tables_resync (zstate_client_t *client, const char *db, const char *table)
{
    size_t started = 0;
    client->stats.resyncs++;
    for (zstate_client_table_t *self = client->tables; self; self = self->next) {
        if (*db && !(streq (db, self->db) && streq (table, self->table)))
            continue;
        //  An empty mirror of a producer that just started must not wipe
        //  the table
        if (!self->mirror || !self->established)
            continue;
        if (self->view || self->snapshot)
            self->resync_due = true;
        else {
            s_snapshot_start (client, self);
            started++;
        }
    }
    return started;
}

bool
zstate_client_snapshot_chunk (zstate_client_t *client)
{
    if (!client->snapshots_running)
        return false;
    //  Paced by what is held, as live traffic is by the bounds: half of
    //  them stays for the producers. With nothing held, one entry goes
    //  whatever the bounds, so that a snapshot always ends.
    size_t ops_half = client->queue_ops_max / 2;
    size_t bytes_half = client->queue_bytes_max / 2;
    bool idle = client->held_ops == 0;
    if (!idle && (client->held_ops >= ops_half || client->held_bytes >= bytes_half))
        return false;
    zstate_client_table_t *self = client->tables;
    while (self && !self->snapshot)
        self = self->next;
    assert (self);
    size_t header = zstate_msg_header_size (strlen (self->db), strlen (self->table));
    size_t ops_room = ops_half - (idle? 0: client->held_ops);
    size_t bytes_room = bytes_half - (idle? 0: client->held_bytes);
    size_t ops_max = client->batch_ops_max;
    if (ops_room < ops_max)
        ops_max = ops_room? ops_room: 1;
    size_t bytes_max = client->batch_bytes_max;
    if (header + bytes_room < bytes_max)
        bytes_max = header + bytes_room;
    zstate_batch_t *batch = zstate_batch_new ();
    size_t count = zstate_mirror_snapshot_next (self->mirror, batch, header, ops_max,
                                                bytes_max);
    if (count) {
        size_t bytes = zstate_batch_bytes (batch);
        //  Accepted as the producers' operations are: acknowledged so
        client->held_ops += count;
        client->held_bytes += bytes;
        client->stats.queued_ops += count;
        client->stats.queued_bytes += bytes;
        client->stats.ops_accepted += count;
        client->stats.snapshot_entries += count;
        self->snapshot_count += count;
        zstate_client_queue_ops (client, self->db, self->table,
                                 zstate_batch_data (batch), bytes, count);
    }
    else {
        s_snapshot_end (client, self, ZSTATE_SESSION_END_COMPLETE);
        if (self->resync_due)
            s_snapshot_start (client, self);
    }
    zstate_batch_destroy (&batch);
    return true;
}

int
zstate_client_table_admit (zstate_client_t *client, zstate_client_table_t *self,
                           zstate_batch_t *batch)
{
    if (self->mirror && zstate_mirror_check (self->mirror, batch)) {
        client->stats.mirror_refused += zstate_batch_size (batch);
        client->stats.ops_rejected += zstate_batch_size (batch);
        return -1;
    }
    return 0;
}

void
zstate_client_table_accepted (zstate_client_t *client, zstate_client_table_t *self,
                              zstate_batch_t *batch, bool again)
{
    (void) client;
    if (self->mirror) {
        zstate_mirror_apply (self->mirror, batch);
        self->established = true;
    }
    if (self->view && !again)
        self->view_count += zstate_batch_size (batch);
}

size_t
zstate_client_mirror_keys (zstate_client_t *client)
{
    size_t keys = 0;
    for (zstate_client_table_t *self = client->tables; self; self = self->next)
        if (self->mirror)
            keys += zstate_mirror_size (self->mirror);
    return keys;
}
