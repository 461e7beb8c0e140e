/*  =========================================================================
    zstate_writer_commands - the DB writer actor's commands, and FLUSH's
    wait for Redis

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    One handler per command of zstate_writer.h, each sending the command's
    one reply. A FLUSH that must wait stops the pipe's reader, so that
    commands after it wait too and replies stay in order.
@discuss
    RESTORE runs on the actor's thread, on a connection of its own
    (zstate_writer_reader): batches in flight wait for it, which costs no
    more than the restore's timeout, and the watchdog does not count that
    against Redis.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_agent.h"
#include "zstate_writer_reader.h"

typedef zstate_writer_agent_t self_t;

static int s_self_handle_flush (zloop_t *loop, int timer_id, void *arg);

//  --------------------------------------------------------------------------
//  A FLUSH is owed: reply when done, or when the deadline passes

static bool
s_self_flushed (self_t *self)
{
    uint64_t seq;
    return !self->flush.draining
        && (!zstate_writer_chain_oldest (self->chain, &seq, NULL) || seq > self->flush.mark);
}

static void
s_self_flush_end (self_t *self, int status, const char *reason)
{
    zstate_reply (self->pipe, "FLUSH", status, reason, false);
    self->flush.owed = false;
    self->flush.draining = false;
    if (self->flush.timer != -1) {
        zloop_timer_end (self->loop, self->flush.timer);
        self->flush.timer = -1;
    }
    //  Commands that came meanwhile are read again, in order
    zloop_reader (self->loop, self->pipe, zstate_writer_commands_handle_pipe, self);
    zloop_reader_set_tolerant (self->loop, self->pipe);
}

void
zstate_writer_commands_check_flush (self_t *self)
{
    if (self->flush.owed && s_self_flushed (self))
        s_self_flush_end (self, 0, NULL);
}

static int
s_self_handle_flush (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    self_t *self = (self_t *) arg;
    self->flush.timer = -1;
    if (self->flush.owed) {
        char reason [160];
        snprintf (reason, sizeof (reason),
                  "flush: %zu keys not confirmed by Redis in time (%s)",
                  zstate_writer_agent_depth (self), zstate_writer_state_name (self->state));
        s_self_flush_end (self, ETIMEDOUT, reason);
    }
    return 0;
}



//  --------------------------------------------------------------------------
//  Commands, one handler each; each sends the command's one reply

//  Pop the next argument frame as a string; NULL if missing
static char *
s_pop (zmsg_t *request)
{
    return zmsg_size (request)? zmsg_popstr (request): NULL;
}

static void
s_command_connect (self_t *self, const char *command, zmsg_t *request)
{
    char *endpoint = s_pop (request);
    if (!endpoint)
        zstate_reply (self->pipe, command, EINVAL, "CONNECT: endpoint missing", false);
    else
    if (self->redis)
        zstate_reply (self->pipe, command, EBUSY, "CONNECT was already issued", false);
    else
    if (!(self->redis = zstate_redis_new (endpoint)))
        zstate_reply (self->pipe, command, errno, zstate_reason (), false);
    else {
        zstate_redis_set_db (self->redis, self->config->db);
        zstate_redis_set_password (self->redis, self->config->password);
        zstate_redis_set_timeouts (self->redis, self->config->connect_timeout,
                                   self->config->command_timeout);
        self->watchdog_timer = zloop_timer (self->loop, ZSTATE_WRITER_WATCHDOG_INTERVAL, 0,
                                            zstate_writer_agent_handle_watchdog, self);
        if (zstate_redis_connect (self->redis) == 0) {
            zstate_reply (self->pipe, command, 0, NULL, false);
            zstate_writer_agent_connected (self);
        }
        else {
            int error = errno;
            char reason [256];
            snprintf (reason, sizeof (reason), "%s", zstate_reason ());
            zstate_reply (self->pipe, command, error, reason, false);
            zstate_writer_agent_lost (self, reason);
        }
    }
    free (endpoint);
}

//  The SET commands: the settings take the arguments, we act on them
static void
s_command_set (self_t *self, const char *command, zmsg_t *request)
{
    int status = zstate_writer_config_set (self->config, command, request,
                                           self->redis != NULL);
    assert (status != -1);      //  s_commands lists only what it takes
    zstate_reply (self->pipe, command, status,
                  status == EBUSY? "not after CONNECT":
                  status? "bad or missing argument": NULL, false);
    if (status == 0 && streq (command, "SET RECONNECT"))
        self->backoff = self->config->reconnect_min;
    if (status == 0 && streq (command, "SET BOUND"))
        zstate_writer_agent_check_bound (self);
    zstate_writer_views_set_bound (self->views, self->config->window_bound);
    zstate_writer_intake_set_placeholder (self->intake, self->config->placeholder);
}

static void
s_command_flush (self_t *self, const char *command, zmsg_t *request)
{
    char *text = s_pop (request);
    if (!text) {
        zstate_reply (self->pipe, command, EINVAL, "FLUSH: timeout missing", false);
        return;
    }
    int timeout = atoi (text);
    free (text);
    //  What sits on the PULL socket now counts as accepted. When the bound
    //  stops us first, the rest is read as the backlog drains, and the
    //  flush waits for it too.
    while (self->reading && zstate_writer_agent_receive (self)) ;
    self->flush.draining = !self->reading;
    self->flush.mark = zstate_writer_chain_seq (self->chain);
    if (s_self_flushed (self))
        zstate_reply (self->pipe, command, 0, NULL, false);
    else
    if (self->state == ZSTATE_WRITER_IDLE)
        zstate_reply (self->pipe, command, ENOTCONN, "flush: not connected to Redis", false);
    else
    if (timeout <= 0) {
        zstate_writer_agent_pump (self);
        zstate_reply (self->pipe, command, ETIMEDOUT, "flush: not confirmed yet", false);
    }
    else {
        //  The reply waits; so do other commands, to keep replies in order
        self->flush.owed = true;
        zloop_reader_end (self->loop, self->pipe);
        self->flush.timer = zloop_timer (self->loop, (size_t) timeout, 1,
                                         s_self_handle_flush, self);
        zstate_writer_agent_pump (self);
    }
    if (!self->flush.owed)
        self->flush.draining = false;
}

static void
s_command_stats (self_t *self, const char *command, zmsg_t *request)
{
    (void) request;
    zstate_writer_stats_t stats;
    zstate_writer_agent_stats (self, &stats);
    zstate_reply (self->pipe, command, 0, NULL, true);
    zsock_send (self->pipe, "b", &stats, sizeof (stats));
}

static void
s_command_verbose (self_t *self, const char *command, zmsg_t *request)
{
    char *flag = s_pop (request);
    self->verbose = flag? atoi (flag) != 0: true;
    free (flag);
    zstate_reply (self->pipe, command, 0, NULL, false);
}

static void
s_command_confirm (self_t *self, const char *command, zmsg_t *request)
{
    char *endpoint = s_pop (request);
    int rc = zstate_writer_confirmed_connect (self->confirmed, endpoint);
    zstate_reply (self->pipe, command, rc? errno: 0, rc? zstate_reason (): NULL, false);
    if (self->verbose)
        zsys_debug ("zstate_writer %s: CONFIRMED to %s", zstate_writer_agent_name (self),
                    endpoint && *endpoint? endpoint: "nobody");
    free (endpoint);
}

//  RESTORE: the table must have nothing unconfirmed here, so that what
//  Redis holds of it is the state after one confirmed batch. Returns 0 or
//  an errno value, with zstate_reason ().
static int
s_restore (self_t *self, const char *table, const char *endpoint, const char *timeout_text,
           uint64_t *entries_p)
{
    int timeout = timeout_text? atoi (timeout_text): self->config->command_timeout;
    if (!table || !endpoint || timeout < 1) {
        zstate_fail (EINVAL, "RESTORE: table, endpoint or timeout missing or bad");
        return EINVAL;
    }
    if (!self->redis) {
        zstate_fail (ENOTCONN, "RESTORE: CONNECT first");
        return ENOTCONN;
    }
    if (zstate_writer_chain_touches (self->chain, table)) {
        zstate_fail (EBUSY, "RESTORE: the writer holds operations on %s not confirmed "
                     "by Redis; FLUSH first", table);
        return EBUSY;
    }
    int status = zstate_writer_reader_run (self->config, zstate_redis_endpoint (self->redis),
                                           table, endpoint, timeout, entries_p);
    //  Replies to batches in flight waited meanwhile: that was not Redis
    self->last_progress = zclock_mono ();
    return status;
}

static void
s_command_restore (self_t *self, const char *command, zmsg_t *request)
{
    char *table = s_pop (request);
    char *endpoint = s_pop (request);
    char *timeout = s_pop (request);
    uint64_t entries = 0;
    int status = s_restore (self, table, endpoint, timeout, &entries);
    char reason [256];
    snprintf (reason, sizeof (reason), "%s", status? zstate_reason (): "");
    if (self->verbose || status)
        zsys_info ("zstate_writer %s: RESTORE %s: %" PRIu64 " entries%s%s",
                   zstate_writer_agent_name (self), table? table: "-", entries,
                   status? ": ": "", reason);
    zstate_reply (self->pipe, command, status, reason, true);
    zsock_send (self->pipe, "8", entries);
    free (table);
    free (endpoint);
    free (timeout);
}

//  ATTACH: a table of db is persisted here, whether or not its messages
//  came yet, so a LOST names db
static void
s_command_attach (self_t *self, const char *command, zmsg_t *request)
{
    char *db = s_pop (request);
    if (!db || !*db || strlen (db) > ZSTATE_NAME_MAX)
        zstate_reply (self->pipe, command, EINVAL, "ATTACH: db name missing or too long",
                      false);
    else {
        zstate_writer_intake_note_db (self->intake, db);
        zstate_reply (self->pipe, command, 0, NULL, false);
    }
    free (db);
}

//  The commands the pipe takes, besides $TERM
typedef void (command_fn) (self_t *self, const char *command, zmsg_t *request);
static const struct {
    const char *name;
    command_fn *handler;
} s_commands [] = {
    { "CONNECT", s_command_connect },
    { "SET SEPARATOR", s_command_set },
    { "SET PASSWORD", s_command_set },
    { "SET DB", s_command_set },
    { "SET TIMEOUTS", s_command_set },
    { "SET BATCH", s_command_set },
    { "SET RECONNECT", s_command_set },
    { "SET BOUND", s_command_set },
    { "SET PLACEHOLDER", s_command_set },
    { "SET WATERMARK AGE", s_command_set },
    { "SET WINDOW BOUND", s_command_set },
    { "CONFIRM", s_command_confirm },
    { "RESTORE", s_command_restore },
    { "ATTACH", s_command_attach },
    { "FLUSH", s_command_flush },
    { "STATS", s_command_stats },
    { "VERBOSE", s_command_verbose },
};

//  One command; -1 when the writer has no such command
static int
s_command (void *arg, const char *command, zmsg_t *request)
{
    self_t *self = (self_t *) arg;
    size_t count = sizeof (s_commands) / sizeof (s_commands [0]);
    for (size_t index = 0; index < count; index++)
        if (streq (command, s_commands [index].name)) {
            s_commands [index].handler (self, command, request);
            return 0;
        }
    return -1;
}

int
zstate_writer_commands_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    self_t *self = (self_t *) arg;
    char name [320];            //  The log prefix; a longer endpoint is cut
    snprintf (name, sizeof (name), "zstate_writer %s:", zstate_writer_agent_name (self));
    int rc = zstate_actor_command (self->pipe, name, self->verbose, s_command, self);
    if (rc == -1)
        self->terminated = true;
    return rc;
}
