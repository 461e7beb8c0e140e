/*  =========================================================================
    zstate_writer_sweep - one window's sweep: the keys a window wrote, and
    the SCAN that deletes the table's other keys from Redis

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The marked keys are a zhashx of the keys as text (the restore reader's
    escaping, so binary keys are exact): one entry per key, its bytes plus
    the hash item. The sweep runs on the writer's own connection, between
    batches, without blocking the actor: each reply sends the next step.
@discuss
    At most one DEL and one SCAN are owed at a time, in that order, as
    they were appended together. SCAN may return a key twice, and a
    restarted sweep meets keys deleted before: DEL counts only what it
    deleted, so swept stays exact.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_sweep.h"
#include "zstate_writer_marks.h"
#include "zstate_writer_instance.h"
#include "zstate_writer_reader.h"

#define SCAN_COUNT      "1000"

struct _zstate_writer_sweep_t {
    char *table;
    char *prefix;               //  TABLE<separator>
    size_t prefix_size;
    char *pattern;              //  ... as a SCAN MATCH
    char *marks_key;            //  The table's watermark hash
    zhashx_t *marked;           //  Keys as text
    char *cursor;               //  Of the SCAN owed or next
    bool scan_owed;             //  A SCAN's reply is owed
    bool del_owed;              //  ... after a DEL's
    bool scanned;               //  The last SCAN step came
    char *error;                //  The error reply that ended it
    uint64_t swept;             //  Keys deleted, over every start
    const char **argv;          //  Scratch: one DEL
    size_t *argvlen;
    size_t argv_max;
};

zstate_writer_sweep_t *
zstate_writer_sweep_new (const char *table, const char *separator)
{
    assert (table);
    assert (separator);
    zstate_writer_sweep_t *self =
        (zstate_writer_sweep_t *) zmalloc (sizeof (zstate_writer_sweep_t));
    assert (self);
    self->table = strdup (table);
    self->prefix = zsys_sprintf ("%s%s", table, separator);
    self->prefix_size = strlen (self->prefix);
    self->pattern = zstate_writer_reader_pattern (self->prefix);
    self->marks_key = zsys_sprintf ("%s%s%s", ZSTATE_WRITER_MARKS_PREFIX, separator, table);
    self->marked = zhashx_new ();
    assert (self->table && self->prefix && self->pattern && self->marks_key && self->marked);
    //  The hash takes the texts we make
    zhashx_set_key_duplicator (self->marked, NULL);
    zhashx_set_key_destructor (self->marked, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
zstate_writer_sweep_destroy (zstate_writer_sweep_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_sweep_t *self = *self_p;
        zhashx_destroy (&self->marked);
        zstr_free (&self->table);
        zstr_free (&self->prefix);
        zstr_free (&self->pattern);
        zstr_free (&self->marks_key);
        zstr_free (&self->cursor);
        zstr_free (&self->error);
        free (self->argv);
        free (self->argvlen);
        free (self);
        *self_p = NULL;
    }
}

size_t
zstate_writer_sweep_mark (zstate_writer_sweep_t *self, const void *key, size_t size)
{
    assert (self);
    char *text = zstate_writer_reader_key_text ((const char *) key, size);
    if (zhashx_insert (self->marked, text, (void *) 1))
        free (text);
    return zhashx_size (self->marked);
}

size_t
zstate_writer_sweep_marked (zstate_writer_sweep_t *self)
{
    assert (self);
    return zhashx_size (self->marked);
}

const char *
zstate_writer_sweep_table (zstate_writer_sweep_t *self)
{
    assert (self);
    return self->table;
}

uint64_t
zstate_writer_sweep_swept (zstate_writer_sweep_t *self)
{
    assert (self);
    return self->swept;
}

const char *
zstate_writer_sweep_error (zstate_writer_sweep_t *self)
{
    assert (self);
    return self->error;
}

//  Append the SCAN step at the cursor
static int
s_append_scan (zstate_writer_sweep_t *self, zstate_redis_t *redis)
{
    self->scan_owed = true;
    return zstate_redis_appendx (redis, "SCAN", self->cursor, "MATCH", self->pattern,
                                 "COUNT", SCAN_COUNT, NULL);
}

int
zstate_writer_sweep_start (zstate_writer_sweep_t *self, zstate_redis_t *redis)
{
    assert (self);
    assert (redis);
    zstr_free (&self->cursor);
    zstr_free (&self->error);
    self->cursor = strdup ("0");
    self->del_owed = self->scanned = false;
    if (s_append_scan (self, redis) || zstate_redis_send (redis))
        return -1;
    return 0;
}

//  Whether the sweep deletes this key that SCAN found
static bool
s_unmarked (zstate_writer_sweep_t *self, const char *key, size_t size)
{
    if (size <= self->prefix_size
    ||  (size == strlen (self->marks_key) && memcmp (key, self->marks_key, size) == 0)
    ||  (size == strlen (ZSTATE_WRITER_INSTANCE_KEY)
    &&   memcmp (key, ZSTATE_WRITER_INSTANCE_KEY, size) == 0))
        return false;
    char *text = zstate_writer_reader_key_text (key, size);
    bool unmarked = zhashx_lookup (self->marked, text) == NULL;
    free (text);
    return unmarked;
}

//  A SCAN step: DEL what it found unmarked, and SCAN on unless done
static int
s_scan_step (zstate_writer_sweep_t *self, zstate_redis_t *redis)
{
    zstr_free (&self->cursor);
    self->cursor = strdup (zstate_redis_str (redis, 0, NULL));
    size_t found = zstate_redis_nested_elements (redis, 1);
    if (found + 1 > self->argv_max) {
        self->argv_max = 2 * (found + 1);
        self->argv = (const char **) realloc (self->argv, self->argv_max * sizeof (char *));
        self->argvlen = (size_t *) realloc (self->argvlen, self->argv_max * sizeof (size_t));
        assert (self->argv && self->argvlen);
    }
    self->argv [0] = "DEL";
    self->argvlen [0] = 3;
    int argc = 1;
    for (size_t index = 0; index < found; index++) {
        size_t size;
        const char *key = zstate_redis_nested_str (redis, 1, index, &size);
        if (key && s_unmarked (self, key, size)) {
            self->argv [argc] = key;
            self->argvlen [argc++] = size;
        }
    }
    int rc = 0;
    if (argc > 1) {
        self->del_owed = true;
        rc = zstate_redis_append (redis, argc, self->argv, self->argvlen);
    }
    self->scanned = streq (self->cursor, "0");
    if (rc == 0 && !self->scanned)
        rc = s_append_scan (self, redis);
    if (rc == 0 && (self->del_owed || self->scan_owed))
        rc = zstate_redis_send (redis);
    return rc;
}

//  An error reply ends the sweep, once the replies owed are in
static void
s_failed (zstate_writer_sweep_t *self, const char *what, const char *error)
{
    if (!self->error)
        self->error = zsys_sprintf ("sweep of %s: %s: %s", self->table, what,
                                    error? error: "unexpected reply");
    self->scanned = true;
}

int
zstate_writer_sweep_reply (zstate_writer_sweep_t *self, zstate_redis_t *redis,
                           uint64_t *swept_p)
{
    assert (self);
    assert (redis);
    assert (swept_p);
    int type = zstate_redis_type (redis, -1);
    if (self->del_owed) {
        self->del_owed = false;
        if (type == ZSTATE_REDIS_INTEGER) {
            *swept_p += (uint64_t) zstate_redis_integer (redis, -1);
            self->swept += (uint64_t) zstate_redis_integer (redis, -1);
        }
        else
            s_failed (self, "DEL", zstate_redis_str (redis, -1, NULL));
    }
    else
    if (self->scan_owed) {
        self->scan_owed = false;
        if (type != ZSTATE_REDIS_ARRAY || zstate_redis_type (redis, 0) != ZSTATE_REDIS_STRING)
            s_failed (self, "SCAN", zstate_redis_str (redis, -1, NULL));
        else
        if (!self->error && s_scan_step (self, redis))
            return -1;
    }
    else
        return zstate_fail (EPROTO, "sweep of %s: a reply nobody asked for", self->table);
    return self->scanned && !self->del_owed && !self->scan_owed? 1: 0;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: against a real redis-server, as the writer runs a sweep

//  Run the sweep's replies to the end; returns what it deleted
static uint64_t
s_test_run (zstate_writer_sweep_t *sweep, zstate_redis_t *redis)
{
    uint64_t swept = 0;
    int rc = 0;
    for (int steps = 0; rc == 0 && steps < 100000; steps++) {
        assert (zstate_redis_next (redis, true) == 1);
        rc = zstate_writer_sweep_reply (sweep, redis, &swept);
    }
    assert (rc == 1);
    return swept;
}

static long long
s_test_count (zstate_redis_t *redis, const char *pattern)
{
    long long count = 0;
    char cursor [32] = "0";
    do {
        assert (zstate_redis_command (redis, "SCAN", cursor, "MATCH", pattern, "COUNT",
                                      "1000", NULL) == ZSTATE_REDIS_ARRAY);
        snprintf (cursor, sizeof (cursor), "%s", zstate_redis_str (redis, 0, NULL));
        count += (long long) zstate_redis_nested_elements (redis, 1);
    } while (strneq (cursor, "0"));
    return count;
}

void
zstate_writer_sweep_test (bool verbose)
{
    printf (" * zstate_writer_sweep: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    //  3,000 keys of table P*, a few of table PX that its glob must not
    //  match, its watermark hash and the instance key
    for (int index = 0; index < 3000; index++) {
        char key [32];
        snprintf (key, sizeof (key), "P*:%d", index);
        assert (zstate_redis_command (redis, "HSET", key, "f", "v", NULL)
                == ZSTATE_REDIS_INTEGER);
    }
    assert (zstate_redis_command (redis, "HSET", "PX:1", "f", "v", NULL) == ZSTATE_REDIS_INTEGER);
    //  A key of the table that is no hash goes too
    assert (zstate_redis_command (redis, "SET", "P*:string", "v", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_redis_command (redis, "HSET", "_ZSTATE_PERSISTED:P*", "s", "1 1", NULL)
            == ZSTATE_REDIS_INTEGER);
    assert (zstate_redis_command (redis, "SET", ZSTATE_WRITER_INSTANCE_KEY, "t", NULL)
            == ZSTATE_REDIS_STATUS);
    zstate_writer_sweep_t *sweep = zstate_writer_sweep_new ("P*", ":");
    assert (streq (zstate_writer_sweep_table (sweep), "P*"));
    //  Marks: every third key, a key with a NUL, one twice
    for (int index = 0; index < 3000; index += 3) {
        char key [32];
        snprintf (key, sizeof (key), "P*:%d", index);
        zstate_writer_sweep_mark (sweep, key, strlen (key));
    }
    assert (zstate_writer_sweep_mark (sweep, "P*:0", 4) == 1000);
    assert (zstate_writer_sweep_mark (sweep, "P*:\0x", 5) == 1001);
    assert (zstate_writer_sweep_marked (sweep) == 1001);
    //  A sweep cut off by a lost connection starts again, and ends with
    //  the marked keys only
    assert (zstate_writer_sweep_start (sweep, redis) == 0);
    uint64_t swept = 0;
    for (int steps = 0; steps < 2; steps++) {
        assert (zstate_redis_next (redis, true) == 1);
        assert (zstate_writer_sweep_reply (sweep, redis, &swept) == 0);
    }
    zstate_redis_disconnect (redis);
    assert (zstate_redis_connect (redis) == 0);
    assert (zstate_writer_sweep_start (sweep, redis) == 0);
    swept += s_test_run (sweep, redis);
    assert (swept == 2001 && zstate_writer_sweep_swept (sweep) == 2001);
    assert (!zstate_writer_sweep_error (sweep));
    assert (s_test_count (redis, "P\\*:*") == 1000);
    assert (zstate_redis_command (redis, "EXISTS", "P*:2999", "P*:2998", "P*:2997", "PX:1",
                                  "_ZSTATE_PERSISTED:P*", ZSTATE_WRITER_INSTANCE_KEY, NULL)
            == ZSTATE_REDIS_INTEGER && zstate_redis_integer (redis, -1) == 4);
    //  Again: nothing left to delete
    assert (zstate_writer_sweep_start (sweep, redis) == 0);
    assert (s_test_run (sweep, redis) == 0);
    //  A reply nobody asked for
    assert (zstate_redis_command (redis, "PING", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_writer_sweep_reply (sweep, redis, &swept) == -1 && errno == EPROTO);
    //  A reply that is no SCAN step ends the sweep with an error: inside
    //  a MULTI, Redis answers +QUEUED
    assert (zstate_redis_command (redis, "MULTI", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_writer_sweep_start (sweep, redis) == 0);
    assert (zstate_redis_next (redis, true) == 1);
    assert (zstate_writer_sweep_reply (sweep, redis, &swept) == 1);
    assert (strstr (zstate_writer_sweep_error (sweep), "SCAN"));
    //  @end

    zstate_writer_sweep_destroy (&sweep);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);
    printf ("OK\n");
}
#endif
