/*  =========================================================================
    zstate_writer_window - the writer's batches in flight: MULTI/EXEC
    batches, each of whole generations of the backlog, and the replies that confirm them

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A ring of up to ZSTATE_WRITER_WINDOW batches, oldest first, each one
    MULTI, the commands of its entries, the caller's extra commands (the
    watermarks), EXEC. Replies come in the order the batches went: MULTI's
    OK, one QUEUED per command, then EXEC's array.
@discuss
    A batch aborted by Redis (an error while queueing, or EXEC refused:
    LOADING, OOM, ...) never ran, so resending it whole is exact; the
    caller drops the connection and restores the backlog. A command that
    fails inside EXEC fails that operation only: the others stand.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_window.h"

//  One batch in flight
typedef struct {
    zstate_backlog_t *backlog;  //  Owns the entries
    zstate_backlog_entry_t **entries;   //  Entries, in the order sent
    byte *commands;             //  Redis commands sent for each (0..2)
    size_t count;               //  Entries in the batch
    size_t max;                 //  Entries allocated
    size_t command_count;       //  Commands between MULTI and EXEC
    size_t extra;               //  ... of which the caller's, at the end
    size_t replies;             //  Replies read so far
    bool refused;               //  MULTI or a command refused when queued
    char reason [256];          //  Why, the first time
} batch_t;

struct _zstate_writer_window_t {
    batch_t slot [ZSTATE_WRITER_WINDOW];
    size_t head;                //  Oldest batch
    size_t count;               //  Batches in flight
    const char **argv;          //  Scratch: one Redis command
    size_t *argvlen;
    size_t argv_max;
};


//  --------------------------------------------------------------------------
//  Create and destroy

zstate_writer_window_t *
zstate_writer_window_new (void)
{
    zstate_writer_window_t *self =
        (zstate_writer_window_t *) zmalloc (sizeof (zstate_writer_window_t));
    assert (self);
    return self;
}

void
zstate_writer_window_destroy (zstate_writer_window_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_window_t *self = *self_p;
        for (size_t slot = 0; slot < ZSTATE_WRITER_WINDOW; slot++) {
            free (self->slot [slot].entries);
            free (self->slot [slot].commands);
        }
        free (self->argv);
        free (self->argvlen);
        free (self);
        *self_p = NULL;
    }
}

size_t
zstate_writer_window_count (zstate_writer_window_t *self)
{
    assert (self);
    return self->count;
}

size_t
zstate_writer_window_outstanding (zstate_writer_window_t *self)
{
    assert (self);
    size_t owed = 0;
    for (size_t index = 0; index < self->count; index++) {
        batch_t *batch = &self->slot [(self->head + index) % ZSTATE_WRITER_WINDOW];
        owed += batch->command_count + 2 - batch->replies;
    }
    return owed;
}


//  --------------------------------------------------------------------------
//  Building a batch

//  Append the commands for one entry; returns how many
static int
s_append_entry (zstate_writer_window_t *self, zstate_redis_t *redis,
                zstate_backlog_entry_t *entry)
{
    int commands = 0;
    int op = zstate_backlog_entry_op (entry);
    size_t field_count = zstate_backlog_entry_field_count (entry);
    size_t words = 2 + 2 * field_count;
    if (words > self->argv_max) {
        self->argv_max = 2 * words;
        self->argv = (const char **) realloc (self->argv, self->argv_max * sizeof (char *));
        self->argvlen = (size_t *) realloc (self->argvlen, self->argv_max * sizeof (size_t));
        assert (self->argv && self->argvlen);
    }
    self->argv [1] = zstate_backlog_entry_key (entry, &self->argvlen [1]);
    if (op == ZSTATE_OP_DEL || op == ZSTATE_OP_SET) {
        //  SET = DEL + HSET, atomic inside the batch's MULTI/EXEC; a SET
        //  with no fields is a DEL (no empty hashes in Redis)
        self->argv [0] = "DEL";
        self->argvlen [0] = 3;
        int rc = zstate_redis_append (redis, 2, self->argv, self->argvlen);
        assert (rc == 0);
        commands++;
    }
    //  Never an HSET without fields: that would abort the whole EXEC. (The
    //  intake gave a SET SONiC's placeholder field already, when it is on.)
    if (op != ZSTATE_OP_DEL && field_count) {
        self->argv [0] = "HSET";
        self->argvlen [0] = 4;
        zstate_backlog_entry_fields (entry, self->argv + 2, self->argvlen + 2);
        int rc = zstate_redis_append (redis, (int) (2 + 2 * field_count),
                                      self->argv, self->argvlen);
        assert (rc == 0);
        commands++;
    }
    return commands;
}

size_t
zstate_writer_window_build (zstate_writer_window_t *self, zstate_redis_t *redis,
                            zstate_backlog_t *backlog, size_t *commands_p)
{
    assert (self);
    assert (redis);
    assert (backlog);
    assert (self->count < ZSTATE_WRITER_WINDOW);
    batch_t *batch = &self->slot [(self->head + self->count) % ZSTATE_WRITER_WINDOW];
    batch->backlog = backlog;
    batch->count = 0;
    batch->command_count = 0;
    batch->extra = 0;
    batch->replies = 0;
    batch->refused = false;
    batch->reason [0] = 0;
    //  Appending fails only when not connected, which the caller checked
    int rc = zstate_redis_appendx (redis, "MULTI", NULL);
    assert (rc == 0);
    zstate_backlog_entry_t *entry;
    while ((entry = zstate_backlog_take (backlog))) {
        if (batch->count == batch->max) {
            batch->max = batch->max? 2 * batch->max: 256;
            batch->entries = (zstate_backlog_entry_t **)
                realloc (batch->entries, batch->max * sizeof (zstate_backlog_entry_t *));
            batch->commands = (byte *) realloc (batch->commands, batch->max);
            assert (batch->entries && batch->commands);
        }
        int commands = s_append_entry (self, redis, entry);
        batch->entries [batch->count] = entry;
        batch->commands [batch->count++] = (byte) commands;
        batch->command_count += commands;
    }
    if (commands_p)
        *commands_p = batch->command_count;
    return batch->count;
}

void
zstate_writer_window_end (zstate_writer_window_t *self, zstate_redis_t *redis, size_t extra)
{
    assert (self);
    assert (redis);
    assert (self->count < ZSTATE_WRITER_WINDOW);
    batch_t *batch = &self->slot [(self->head + self->count) % ZSTATE_WRITER_WINDOW];
    batch->extra = extra;
    batch->command_count += extra;
    int rc = zstate_redis_appendx (redis, "EXEC", NULL);
    assert (rc == 0);
    self->count++;
}


//  --------------------------------------------------------------------------
//  Replies

//  EXEC's results: one per command; an entry fails on its first error.
//  Returns the first error of the extra commands, or NULL.
static const char *
s_confirm (zstate_writer_window_t *self, zstate_redis_t *redis, batch_t *batch,
           zstate_writer_stats_t *stats, zstate_writer_window_refused_fn *refused,
           void *arg)
{
    size_t result = 0;
    bool first = true;
    for (size_t index = 0; index < batch->count; index++) {
        const char *error = NULL;
        for (int command = 0; command < batch->commands [index]; command++, result++)
            if (!error && zstate_redis_type (redis, (int) result) == ZSTATE_REDIS_ERROR)
                error = zstate_redis_str (redis, (int) result, NULL);
        if (error) {
            size_t key_size;
            const char *key = zstate_backlog_entry_key (batch->entries [index], &key_size);
            stats->failed++;
            if (refused)
                refused (arg, key, key_size, error, first);
            first = false;
        }
        else
            stats->written++;
        zstate_backlog_confirm (batch->backlog, &batch->entries [index]);
    }
    //  The caller's commands come last
    const char *extra_error = NULL;
    for (; result < batch->command_count; result++)
        if (!extra_error && zstate_redis_type (redis, (int) result) == ZSTATE_REDIS_ERROR)
            extra_error = zstate_redis_str (redis, (int) result, NULL);
    batch->count = 0;
    self->head = (self->head + 1) % ZSTATE_WRITER_WINDOW;
    self->count--;
    stats->batches++;
    return extra_error;
}

int
zstate_writer_window_reply (zstate_writer_window_t *self, zstate_redis_t *redis,
                            zstate_writer_stats_t *stats,
                            zstate_writer_window_refused_fn *refused, void *arg,
                            const char **extra_error_p)
{
    assert (self);
    assert (redis);
    assert (stats);
    if (self->count == 0)
        return zstate_fail (EPROTO, "a reply nobody asked for");
    batch_t *batch = &self->slot [self->head];
    size_t position = batch->replies++;
    int type = zstate_redis_type (redis, -1);
    if (position <= batch->command_count) {
        //  MULTI's OK, then one QUEUED per command
        if (type == ZSTATE_REDIS_ERROR && !batch->refused) {
            batch->refused = true;
            snprintf (batch->reason, sizeof (batch->reason), "%s",
                      zstate_redis_str (redis, -1, NULL));
        }
        return 0;
    }
    //  EXEC: one result per command, unless the transaction was refused
    //  (LOADING, OOM, ...): nothing ran, so all of it goes again later
    if (batch->refused
    ||  type != ZSTATE_REDIS_ARRAY
    ||  zstate_redis_elements (redis) != batch->command_count)
        return zstate_fail (EPROTO, "batch refused: %s",
                            batch->refused? batch->reason:
                            type == ZSTATE_REDIS_ERROR? zstate_redis_str (redis, -1, NULL):
                            "EXEC gave no results");
    const char *extra_error = s_confirm (self, redis, batch, stats, refused, arg);
    if (extra_error_p)
        *extra_error_p = extra_error;
    return 1;
}

void
zstate_writer_window_clear (zstate_writer_window_t *self)
{
    assert (self);
    for (size_t slot = 0; slot < ZSTATE_WRITER_WINDOW; slot++)
        self->slot [slot].count = 0;
    self->count = 0;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: as the writer's actor uses the window

//  Counts the refusals the window reports
static void
s_test_refused (void *arg, const char *key, size_t key_size, const char *error,
                bool first)
{
    (void) error;
    size_t *count = (size_t *) arg;
    assert (key && key_size == strlen (key));
    assert (first == (*count == 0));
    (*count)++;
}

//  Read replies until count batches are confirmed; -1 on a dropped batch
static int
s_test_confirm (zstate_writer_window_t *window, zstate_redis_t *redis,
                zstate_writer_stats_t *stats, size_t *refused, size_t count)
{
    size_t confirmed = 0;
    while (confirmed < count) {
        int rc = zstate_redis_next (redis, true);
        assert (rc == 1);
        rc = zstate_writer_window_reply (window, redis, stats, s_test_refused, refused,
                                         NULL);
        if (rc == -1)
            return -1;
        confirmed += rc;
    }
    return 0;
}

//  Redis out of memory refuses each write as it is queued, then EXEC as
//  a whole: nothing of the batch ran, so all of it goes again
static void
s_test_refused_batch (zstate_writer_window_t *window, zstate_redis_t *redis,
                      zstate_backlog_t *backlog, zstate_writer_stats_t *stats_p,
                      size_t *refused_p)
{
    zstate_writer_stats_t stats = *stats_p;
    size_t refused = *refused_p;
    zstate_redis_disconnect (redis);
    assert (zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "CONFIG", "SET", "maxmemory", "1", NULL)
            == ZSTATE_REDIS_STATUS);
    zstate_backlog_field_t smaller [] = { { "mtu", 3, "1500", 4 } };
    assert (zstate_backlog_add (backlog, "PORT:Ethernet0", 14, ZSTATE_OP_HSET,
                                smaller, 1, 0) == 0);
    assert (zstate_writer_window_build (window, redis, backlog, NULL) == 1);
    zstate_writer_window_end (window, redis, 0);
    assert (zstate_redis_send (redis) == 0);
    assert (s_test_confirm (window, redis, &stats, &refused, 1) == -1);
    assert (errno == EPROTO && strstr (zstate_reason (), "batch refused: OOM"));
    assert (stats.written == 2 && zstate_backlog_in_flight (backlog) == 1);
    //  What the writer does then: back to the backlog, reconnect, resend
    zstate_writer_window_clear (window);
    assert (zstate_backlog_restore_all (backlog) == 0);
    zstate_redis_disconnect (redis);
    assert (zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "CONFIG", "SET", "maxmemory", "0", NULL)
            == ZSTATE_REDIS_STATUS);
    assert (zstate_writer_window_build (window, redis, backlog, NULL) == 1);
    zstate_writer_window_end (window, redis, 0);
    assert (zstate_redis_send (redis) == 0);
    assert (s_test_confirm (window, redis, &stats, &refused, 1) == 0);
    assert (stats.written == 3 && zstate_backlog_pending (backlog) == 0);
    assert (zstate_redis_command (redis, "HGET", "PORT:Ethernet0", "mtu", NULL)
            == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (redis, -1, NULL), "1500"));

    *stats_p = stats;
    *refused_p = refused;
}

void
zstate_writer_window_test (bool verbose)
{
    printf (" * zstate_writer_window: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Two batches in flight at once, confirmed in order by their EXEC
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_endpoint (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    zstate_backlog_t *backlog = zstate_backlog_new ();
    zstate_backlog_t *newer = zstate_backlog_new ();
    zstate_writer_window_t *window = zstate_writer_window_new ();
    zstate_backlog_field_t fields [] = { { "mtu", 3, "9100", 4 } };
    assert (zstate_backlog_add (backlog, "PORT:Ethernet0", 14, ZSTATE_OP_SET,
                                fields, 1, 0) == 0);
    assert (zstate_backlog_add (backlog, "PORT:Ethernet4", 14, ZSTATE_OP_DEL,
                                NULL, 0, 0) == 0);
    //  A string where HSET wants a hash: Redis refuses that operation only
    assert (zstate_redis_command (redis, "SET", "PORT:Ethernet8", "x", NULL)
            == ZSTATE_REDIS_STATUS);
    assert (zstate_backlog_add (newer, "PORT:Ethernet8", 14, ZSTATE_OP_HSET,
                                fields, 1, 0) == 0);
    size_t commands;            //  DEL + HSET, DEL; then HSET
    assert (zstate_writer_window_build (window, redis, backlog, &commands) == 2
            && commands == 3);
    zstate_writer_window_end (window, redis, 0);
    assert (zstate_writer_window_build (window, redis, newer, &commands) == 1
            && commands == 1);
    //  The caller's own command after the entries: its error is its own
    assert (zstate_redis_appendx (redis, "HSET", "PORT:Ethernet8", "a", "b", NULL) == 0);
    zstate_writer_window_end (window, redis, 1);
    assert (zstate_writer_window_count (window) == 2);
    //  MULTI, 3 commands, EXEC; MULTI, 1 command, 1 of ours, EXEC
    assert (zstate_writer_window_outstanding (window) == 9);
    assert (zstate_redis_send (redis) == 0);
    zstate_writer_stats_t stats = { 0 };
    size_t refused = 0;
    assert (s_test_confirm (window, redis, &stats, &refused, 1) == 0);
    const char *extra_error = "none yet";
    assert (zstate_redis_next (redis, true) == 1);
    while (zstate_writer_window_reply (window, redis, &stats, s_test_refused, &refused,
                                       &extra_error) == 0)
        assert (zstate_redis_next (redis, true) == 1);
    assert (extra_error && strstr (extra_error, "WRONGTYPE"));
    assert (stats.written == 2 && stats.failed == 1 && stats.batches == 2);
    assert (refused == 1 && zstate_writer_window_count (window) == 0);
    assert (zstate_backlog_in_flight (backlog) == 0);
    assert (zstate_redis_command (redis, "HGET", "PORT:Ethernet0", "mtu", NULL)
            == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (redis, -1, NULL), "9100"));
    //  @end

    //  A reply with no batch in flight drops the connection
    assert (zstate_redis_appendx (redis, "PING", NULL) == 0);
    assert (zstate_redis_next (redis, true) == 1);
    assert (zstate_writer_window_reply (window, redis, &stats, NULL, NULL, NULL) == -1);
    assert (errno == EPROTO && strstr (zstate_reason (), "nobody asked"));
    s_test_refused_batch (window, redis, backlog, &stats, &refused);

    zstate_writer_window_destroy (&window);
    zstate_backlog_destroy (&newer);
    zstate_backlog_destroy (&backlog);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);
    printf ("OK\n");
}
#endif
