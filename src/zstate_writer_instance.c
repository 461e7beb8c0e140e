/*  =========================================================================
    zstate_writer_instance - whether Redis still holds what the writer
    wrote: an instance key checked on every connect

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    The instance key holds a random token that names the data set: it
    lives and dies with the data, so it answers "is this the data I wrote
    to?", which the run_id alone cannot: a restart that loads its RDB or
    append-only file changes the run_id and keeps the data, a FLUSHALL
    keeps the run_id and loses it. The run_id only tells the two losses
    apart in the log.
@discuss
    GET, and only when the key is missing SET NX then GET, in one
    pipeline, so that two writers of one database
    that meet an empty Redis at once agree on one new token; the second
    sees a token other than the one it knew, and reports the loss too.
    A key evicted (maxmemory with an allkeys policy) or deleted by hand
    reads as a loss: a resync more, never a loss unreported. What this
    cannot see: a restart that loaded an older save than the last writes
    (RDB snapshots, appendfsync everysec) keeps the token and loses the
    writes after that save.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_instance.h"

struct _zstate_writer_instance_t {
    char *token;                //  The token seen last, NULL before the first check
    char run_id [48];           //  The server's run_id then, "" unknown
    char detail [160];          //  What the last check found
};

zstate_writer_instance_t *
zstate_writer_instance_new (void)
{
    zstate_writer_instance_t *self =
        (zstate_writer_instance_t *) zmalloc (sizeof (zstate_writer_instance_t));
    assert (self);
    return self;
}

void
zstate_writer_instance_destroy (zstate_writer_instance_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_instance_t *self = *self_p;
        zstr_free (&self->token);
        free (self);
        *self_p = NULL;
    }
}

//  The run_id line of INFO server's current reply into run_id ("" if none)
static void
s_parse_run_id (zstate_redis_t *redis, char *run_id, size_t size)
{
    run_id [0] = 0;
    const char *info = zstate_redis_str (redis, -1, NULL);
    const char *line = info? strstr (info, "run_id:"): NULL;
    if (line) {
        line += strlen ("run_id:");
        size_t length = strcspn (line, "\r\n");
        if (length >= size)
            length = size - 1;
        memcpy (run_id, line, length);
        run_id [length] = 0;
    }
}

//  What a lost data set looks like, for the log
static const char *
s_loss (bool created, bool run_changed)
{
    if (!created)
        return "instance key holds another token (another writer saw the data lost)";
    return run_changed? "instance key missing, run_id changed (Redis restarted or failed "
                        "over without its data)":
                        "instance key missing, same run_id (the database was flushed)";
}

//  Run the commands appended, count of them; the first reply of INFO
//  gives the run_id, a SET NX's says whether it created the key, the
//  last GET's gives the token (*current_p, NULL when none or no string)
static int
s_run (zstate_redis_t *redis, int count, char *run_id, size_t run_id_size, bool *created_p,
       char **current_p)
{
    for (int reply = 0; reply < count; reply++) {
        if (zstate_redis_next (redis, true) != 1)
            return -1;
        int type = zstate_redis_type (redis, -1);
        const char *text = zstate_redis_str (redis, -1, NULL);
        if (run_id && reply == 0)
            s_parse_run_id (redis, run_id, run_id_size);
        else
        if (reply < count - 1)
            *created_p = type == ZSTATE_REDIS_STATUS;
        else
        if (type == ZSTATE_REDIS_STRING)
            *current_p = strdup (text);
    }
    return 0;
}

int
zstate_writer_instance_check (zstate_writer_instance_t *self, zstate_redis_t *redis)
{
    assert (self);
    assert (redis);
    //  Reads first: a Redis paused for writes (CLIENT PAUSE WRITE) still
    //  answers, and the key is there but after a loss
    char run_id [sizeof (self->run_id)] = "";
    bool created = false;
    char *current = NULL;
    int rc = zstate_redis_appendx (redis, "INFO", "server", NULL);
    if (rc == 0)
        rc = zstate_redis_appendx (redis, "GET", ZSTATE_WRITER_INSTANCE_KEY, NULL);
    if (rc == 0)
        rc = s_run (redis, 2, run_id, sizeof (run_id), &created, &current);
    if (rc == 0 && !current && zstate_redis_type (redis, -1) == ZSTATE_REDIS_NIL) {
        zuuid_t *uuid = zuuid_new ();
        assert (uuid);
        rc = zstate_redis_appendx (redis, "SET", ZSTATE_WRITER_INSTANCE_KEY,
                                   zuuid_str_canonical (uuid), "NX", NULL);
        zuuid_destroy (&uuid);
        if (rc == 0)
            rc = zstate_redis_appendx (redis, "GET", ZSTATE_WRITER_INSTANCE_KEY, NULL);
        if (rc == 0)
            rc = s_run (redis, 2, NULL, 0, &created, &current);
    }
    if (rc) {
        char reason [256];
        snprintf (reason, sizeof (reason), "%s", zstate_reason ());
        zstr_free (&current);
        return zstate_fail (ENOTCONN, "checking Redis's instance key: %s", reason);
    }
    bool run_changed = *self->run_id && *run_id && strneq (self->run_id, run_id);
    int lost = 0;
    if (!current)
        snprintf (self->detail, sizeof (self->detail),
                  "instance key is no string: data set not checked");
    else
    if (!self->token)
        snprintf (self->detail, sizeof (self->detail), "instance key %s",
                  created? "created": "found");
    else
    if (streq (current, self->token))
        snprintf (self->detail, sizeof (self->detail), "%s",
                  run_changed? "instance key kept, run_id changed (Redis restarted with "
                               "its data)": "instance key kept");
    else {
        snprintf (self->detail, sizeof (self->detail), "%s", s_loss (created, run_changed));
        lost = 1;
    }
    if (current) {
        zstr_free (&self->token);
        self->token = current;
    }
    snprintf (self->run_id, sizeof (self->run_id), "%s", run_id);
    return lost;
}

int
zstate_writer_instance_probe (zstate_writer_instance_t *self, zstate_redis_t *redis)
{
    assert (self);
    assert (redis);
    return zstate_redis_appendx (redis, "GET", ZSTATE_WRITER_INSTANCE_KEY, NULL);
}

bool
zstate_writer_instance_probed (zstate_writer_instance_t *self, zstate_redis_t *redis)
{
    assert (self);
    assert (redis);
    if (!self->token)
        return false;
    int type = zstate_redis_type (redis, -1);
    if (type == ZSTATE_REDIS_NIL)
        return true;
    size_t size;
    const char *text = zstate_redis_str (redis, -1, &size);
    return type == ZSTATE_REDIS_STRING
        && (size != strlen (self->token) || memcmp (text, self->token, size));
}

const char *
zstate_writer_instance_detail (zstate_writer_instance_t *self)
{
    assert (self);
    return self->detail;
}

const char *
zstate_writer_instance_run_id (zstate_writer_instance_t *self)
{
    assert (self);
    return self->run_id;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: against a real redis-server, restarted with and without its
//  data

static void
s_test_reconnect (zstate_redis_t *redis)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        if (zstate_redis_connect (redis) == 0)
            return;
        zclock_sleep (50);
    }
    assert (false);
}

//  A probe sent alone, its reply read
static bool
s_test_probe (zstate_writer_instance_t *instance, zstate_redis_t *redis)
{
    assert (zstate_writer_instance_probe (instance, redis) == 0);
    assert (zstate_redis_send (redis) == 0);
    assert (zstate_redis_next (redis, true) == 1);
    return zstate_writer_instance_probed (instance, redis);
}

//  A second writer that knew the old token sees the loss too; a key
//  that is no string checks nothing
static void
s_test_other (zstate_redis_t *redis)
{
    zstate_writer_instance_t *other = zstate_writer_instance_new ();
    assert (zstate_writer_instance_check (other, redis) == 0);
    assert (zstate_redis_command (redis, "SET", ZSTATE_WRITER_INSTANCE_KEY, "another",
                                  NULL) == ZSTATE_REDIS_STATUS);
    assert (s_test_probe (other, redis));
    assert (zstate_writer_instance_check (other, redis) == 1);
    assert (strstr (zstate_writer_instance_detail (other), "another token"));
    assert (!s_test_probe (other, redis));
    //  A key that is no string checks nothing and claims no loss
    assert (zstate_redis_command (redis, "DEL", ZSTATE_WRITER_INSTANCE_KEY, NULL)
            == ZSTATE_REDIS_INTEGER);
    assert (zstate_redis_command (redis, "HSET", ZSTATE_WRITER_INSTANCE_KEY, "a", "b",
                                  NULL) == ZSTATE_REDIS_INTEGER);
    assert (zstate_writer_instance_check (other, redis) == 0);
    assert (strstr (zstate_writer_instance_detail (other), "no string"));
    assert (!s_test_probe (other, redis));
    zstate_writer_instance_destroy (&other);
}

void
zstate_writer_instance_test (bool verbose)
{
    printf (" * zstate_writer_instance: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    assert (redis && zstate_redis_connect (redis) == 0);
    zstate_writer_instance_t *instance = zstate_writer_instance_new ();
    //  The first check creates the key: nothing was lost yet
    assert (zstate_writer_instance_check (instance, redis) == 0);
    assert (streq (zstate_writer_instance_detail (instance), "instance key created"));
    char run_id [48];
    snprintf (run_id, sizeof (run_id), "%s", zstate_writer_instance_run_id (instance));
    assert (strlen (run_id) == 40);
    assert (zstate_writer_instance_check (instance, redis) == 0);
    assert (!s_test_probe (instance, redis));
    //  FLUSHALL: same run_id, the data gone; a probe sees it, a check
    //  tells what and makes a new token
    assert (zstate_redis_command (redis, "FLUSHALL", NULL) == ZSTATE_REDIS_STATUS);
    assert (s_test_probe (instance, redis));
    assert (zstate_writer_instance_check (instance, redis) == 1);
    assert (strstr (zstate_writer_instance_detail (instance), "flushed"));
    assert (zstate_writer_instance_check (instance, redis) == 0);
    //  A restart that loads a save keeps the token
    assert (zstate_redis_command (redis, "SAVE", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_redis_server_kill (server) == 0);
    assert (zstate_redis_server_start (server) == 0);
    s_test_reconnect (redis);
    assert (zstate_writer_instance_check (instance, redis) == 0);
    assert (strstr (zstate_writer_instance_detail (instance), "with its data"));
    assert (strneq (zstate_writer_instance_run_id (instance), run_id));
    //  Paused for writes, Redis still passes the check
    assert (zstate_redis_command (redis, "CLIENT", "PAUSE", "60000", "WRITE", NULL)
            == ZSTATE_REDIS_STATUS);
    assert (zstate_writer_instance_check (instance, redis) == 0);
    assert (zstate_redis_command (redis, "CLIENT", "UNPAUSE", NULL) == ZSTATE_REDIS_STATUS);
    //  What came after the save that a restart loads is lost unseen
    assert (zstate_redis_command (redis, "SET", "after", "1", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_redis_server_kill (server) == 0);
    assert (zstate_redis_server_start (server) == 0);
    s_test_reconnect (redis);
    assert (zstate_writer_instance_check (instance, redis) == 0);
    assert (zstate_redis_command (redis, "EXISTS", "after", NULL) == ZSTATE_REDIS_INTEGER
            && zstate_redis_integer (redis, -1) == 0);
    //  Without the save, a restart loses it: the save file goes first
    char *save = zsys_sprintf ("%s/dump.rdb", zstate_redis_server_dir (server));
    assert (zstate_redis_server_kill (server) == 0);
    assert (remove (save) == 0);
    zstr_free (&save);
    assert (zstate_redis_server_start (server) == 0);
    s_test_reconnect (redis);
    assert (zstate_writer_instance_check (instance, redis) == 1);
    assert (strstr (zstate_writer_instance_detail (instance), "without its data"));
    s_test_other (redis);
    //  A connection that is gone fails the check
    assert (zstate_redis_server_kill (server) == 0);
    assert (zstate_writer_instance_check (instance, redis) == -1);
    //  @end

    zstate_writer_instance_destroy (&instance);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);
    printf ("OK\n");
}
#endif
