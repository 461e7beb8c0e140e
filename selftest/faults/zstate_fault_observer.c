/*  =========================================================================
    zstate_fault_observer - the application in the fault harness's server
    child

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"
#include "zstate_fault_observer.h"
#include "zstate_fault_server.h"
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

#define POPS_MAX    4096
#define KEYS_MAX    10000000        //  key numbers are 7 digits

#define MODE_POPS   0
#define MODE_VIEW   1
#define MODE_LATE   2
#define MODE_TABLES 3               //  pops, from two tables

typedef struct {
    int mode;
    int log;                    //  the pop log
    int reply;                  //  answers to the harness's signals
    char *dump;                 //  path of the view's dump
    char *done;                 //  made when the first window completes
    zstate_server_t *server;
    zstate_consumer_t *consumer;    //  NULL until registered (late)
    zstate_consumer_t *second;      //  the second table (tables), or NULL
    zstate_writer_t *writer;
    size_t queue_ops;
    uint64_t restored;          //  restored entries still to pop
    uint64_t restored_second;   //  ... from the second table
    size_t keys;                //  of the view
    unsigned *view;             //  per key number: seq, 0 absent
    uint64_t unknown;           //  popped keys that are no key number
    int64_t registered;         //  when the table registered
    int64_t window_ms;          //  to the first window completed, -1 none
    zstate_batch_t *batch;
    char *lines;
} observer_t;

static volatile sig_atomic_t s_stalled = 0;
static volatile sig_atomic_t s_signals = 0;     //  SIGUSR1/2 received
static volatile sig_atomic_t s_dumps = 0;       //  SIGHUP received
static volatile sig_atomic_t s_resyncs = 0;     //  SIGWINCH received

static void
s_on_signal (int signum)
{
    if (signum == SIGHUP)
        s_dumps++;
    else
    if (signum == SIGWINCH)
        s_resyncs++;
    else {
        s_stalled = signum == SIGUSR1;
        s_signals++;
    }
}

//  Apply one popped operation to the view
static void
s_view_apply (observer_t *self, int op, const char *key, unsigned seq)
{
    unsigned number = key [0] == 'k'? (unsigned) atoi (key + 1): KEYS_MAX;
    if (number >= self->keys || strlen (key) != 8)
        self->unknown++;
    else
        self->view [number] = op == ZSTATE_OP_DEL? 0: seq;
}

//  Append one line per popped operation, with a single write; the first
//  of them that are restored entries say so, and *restored_p goes down by
//  those
static int
s_log_batch (observer_t *self, uint64_t *restored_p)
{
    zstate_batch_t *batch = self->batch;
    size_t count = zstate_batch_size (batch), size = 0;
    for (size_t index = 0; index < count; index++) {
        const char *key = zstate_batch_key (batch, index, NULL);
        const char *seq = zstate_batch_get (batch, index, "seq");
        int op = zstate_batch_op (batch, index);
        unsigned number = key [0] == 'k'? (unsigned) atoi (key + 1): 9999999;
        unsigned value = seq? (unsigned) atoi (seq) % 1000000000: 0;
        bool restored = *restored_p > 0;
        *restored_p -= restored;
        const char *prefix = restored? "R": op == ZSTATE_OP_DEL? "D": "";
        size += (size_t) snprintf (self->lines + size, ZSTATE_FAULT_LINE + 2, "%s%07u %09u\n",
                                   prefix, number % 10000000, value);
        if (self->view)
            s_view_apply (self, op, key, value);
    }
    size_t done = 0;
    while (done < size) {
        ssize_t rc = write (self->log, self->lines + done, size - done);
        if (rc == -1 && errno != EINTR)
            return -1;
        if (rc > 0)
            done += (size_t) rc;
    }
    return 0;
}

//  Write the view and the counters to the dump, whole or not at all
static int
s_dump (observer_t *self)
{
    zstate_consumer_stats_t stats = { 0 };
    if (self->consumer)
        zstate_consumer_stats (self->consumer, &stats);
    zstate_writer_stats_t writer = { 0 };
    if (self->writer)
        zstate_writer_stats (self->writer, &writer);
    zstate_server_stats_t server = { 0 };
    if (self->server)
        zstate_server_stats (self->server, &server);
    char *partial = zsys_sprintf ("%s.tmp", self->dump);
    FILE *file = fopen (partial, "w");
    int rc = file? 0: -1;
    if (file) {
        fprintf (file, "S windows=%" PRIu64 " windows_completed=%" PRIu64
                 " windows_abandoned=%" PRIu64 " swept=%" PRIu64 " keys=%zu"
                 " redis_lost=%" PRIu64 " sweeps=%" PRIu64 " redis_swept=%" PRIu64
                 " unknown=%" PRIu64 " window_ms=%" PRId64 " writer_skipped=%" PRIu64
                 " replayed=%" PRIu64 " behind=%zu\n",
                 stats.windows, stats.windows_completed, stats.windows_abandoned,
                 stats.swept, (size_t) stats.keys, writer.redis_lost, writer.sweeps,
                 writer.swept, self->unknown, self->window_ms, server.writer_skipped,
                 server.replayed, server.behind);
        for (size_t key = 0; self->view && key < self->keys; key++)
            if (self->view [key])
                fprintf (file, "%07zu %09u\n", key, self->view [key]);
        if (fclose (file))
            rc = -1;
    }
    if (rc == 0 && rename (partial, self->dump))
        rc = -1;
    zstr_free (&partial);
    return rc;
}

//  Register one consumer table into *consumer_p; it restores through the
//  writer first, when there is one, into *restored_p. Returns 0 or -1
static int
s_register_table (observer_t *self, const char *table, zstate_consumer_t **consumer_p,
                  uint64_t *restored_p)
{
    zstate_consumer_t *consumer = zstate_consumer_new (self->server, ZSTATE_FAULT_DB, table);
    *consumer_p = consumer;
    if (!consumer) {
        fprintf (stderr, "zstate_faults child: consumer: %s\n", zstate_reason ());
        return -1;
    }
    if (self->queue_ops)
        zstate_consumer_set_queue (consumer, self->queue_ops, 64 * 1024 * 1024);
    if (!self->writer)
        return 0;
    int64_t restored = zstate_consumer_restore (consumer, self->writer, 30000);
    if (restored == -1)
        fprintf (stderr, "zstate_faults child: restore: %s\n", zstate_reason ());
    *restored_p = restored > 0? (uint64_t) restored: 0;
    return restored == -1? -1: 0;
}

//  Register the consumer table (two in mode tables); "I" in the log says
//  the application starts again, from what they restored. Returns 0 or -1
static int
s_register (observer_t *self)
{
    self->registered = zclock_mono ();
    int rc = s_register_table (self, ZSTATE_FAULT_TABLE, &self->consumer, &self->restored);
    if (rc == 0 && self->mode == MODE_TABLES)
        rc = s_register_table (self, ZSTATE_FAULT_TABLE_2, &self->second,
                               &self->restored_second);
    if (rc == 0 && (self->writer || (self->mode != MODE_POPS && self->mode != MODE_TABLES)))
        rc = write (self->log, "I\n", 2) == 2? 0: -1;
    if (rc == 0 && self->writer)
        rc = zstate_consumer_set_writer (self->consumer, self->writer);
    if (rc == 0 && self->writer && self->second)
        rc = zstate_consumer_set_writer (self->second, self->writer);
    return rc;
}

//  Pop what is pending into the log (and the view); time the first window
//  completed
static int
s_pop (observer_t *self)
{
    if (zstate_consumer_pops (self->consumer, self->batch, POPS_MAX)
    &&  s_log_batch (self, &self->restored))
        return -1;
    if (self->second && zstate_consumer_pops (self->second, self->batch, POPS_MAX)
    &&  s_log_batch (self, &self->restored_second))
        return -1;
    if (self->view && self->window_ms == -1) {
        zstate_consumer_stats_t stats;
        zstate_consumer_stats (self->consumer, &stats);
        if (stats.windows_completed) {
            self->window_ms = zclock_mono () - self->registered;
            int done = open (self->done, O_WRONLY | O_CREAT, 0644);
            if (done != -1)
                close (done);
        }
    }
    return 0;
}

//  SIGWINCH: the application drops its view, as one that found it
//  suspect, and asks for the table again; answers 'Y' once asked, 'N'
//  when it could not ask
static int
s_resync (observer_t *self)
{
    memset (self->view, 0, self->keys * sizeof (unsigned));
    int rc = zstate_consumer_resync (self->consumer);
    if (rc)
        fprintf (stderr, "zstate_faults child: resync: %s\n", zstate_reason ());
    return write (self->reply, rc? "N": "Y", 1) == 1? 0: -1;
}

//  Between pops: a late table registers once popping is asked for; each
//  signal is answered with the state it left us in, each dump once made
static int
s_answer (observer_t *self, int *answered_p, int *dumped_p, int *resynced_p)
{
    if (!self->consumer && !s_stalled && s_register (self))
        return -1;
    int signals = s_signals;
    if (signals != *answered_p) {
        *answered_p = signals;
        char state = s_stalled? 'S': 'R';
        if (write (self->reply, &state, 1) != 1)
            return -1;
    }
    int dumps = s_dumps;
    if (dumps != *dumped_p && (self->view || self->mode == MODE_TABLES)) {
        *dumped_p = dumps;
        if (s_dump (self) || write (self->reply, "V", 1) != 1)
            return -1;
    }
    int resyncs = s_resyncs;
    if (resyncs != *resynced_p && self->view && self->consumer) {
        *resynced_p = resyncs;
        if (s_resync (self))
            return -1;
    }
    return 0;
}

//  The application loop: pop and log until interrupted (SIGTERM), not
//  while stalled (SIGUSR1, until SIGUSR2); then take what is still
//  queued. Returns the exit status.
static int
s_observe (observer_t *self)
{
    int status = 0, answered = 0, dumped = 0, resynced = 0;
    while (status == 0 && !zsys_interrupted) {
        if (s_answer (self, &answered, &dumped, &resynced)) {
            status = 1;
            break;
        }
        struct pollfd items [2] = {
            { self->consumer? zstate_consumer_fd (self->consumer): -1, POLLIN, 0 },
            { self->second? zstate_consumer_fd (self->second): -1, POLLIN, 0 } };
        bool pending = self->consumer && (zstate_consumer_pending (self->consumer)
                    || (self->second && zstate_consumer_pending (self->second)));
        if (s_stalled || !pending) {
            poll (items, self->second? 2: self->consumer? 1: 0, s_stalled? 10: 100);
            continue;
        }
        if (s_pop (self))
            status = 1;
    }
    //  SIGTERM: what was queued is still taken, then the writer confirms
    while (status == 0 && self->consumer
       &&  zstate_consumer_pops (self->consumer, self->batch, POPS_MAX))
        s_log_batch (self, &self->restored);
    while (status == 0 && self->second
       &&  zstate_consumer_pops (self->second, self->batch, POPS_MAX))
        s_log_batch (self, &self->restored_second);
    return status;
}

//  Read the arguments into self; returns 0, or 2 on a bad command line
static int
s_parse (observer_t *self, int argc, char *argv [])
{
    if (argc != 9 && argc != 11) {
        fprintf (stderr, "zstate_faults child: PORT LOG READY REDIS|- QUEUE_OPS "
                 "WRITER_KEYS REPLY_FD [pops|tables|view|late KEYS]\n");
        return 2;
    }
    self->reply = atoi (argv [8]);
    self->queue_ops = (size_t) atol (argv [6]);
    self->window_ms = -1;
    if (argc == 11) {
        self->mode = streq (argv [9], "late")? MODE_LATE: streq (argv [9], "view")? MODE_VIEW
                   : streq (argv [9], "pops")? MODE_POPS
                   : streq (argv [9], "tables")? MODE_TABLES: -1;
        self->keys = (size_t) atol (argv [10]);
        bool redis = strneq (argv [5], "-");
        if (self->mode == -1 || self->keys > KEYS_MAX || (self->mode == MODE_LATE && redis)) {
            fprintf (stderr, "zstate_faults child: bad mode or keys (late takes no Redis)\n");
            return 2;
        }
    }
    if (self->mode != MODE_POPS) {
        if (self->mode != MODE_TABLES) {
            self->view = (unsigned *) zmalloc ((self->keys + 1) * sizeof (unsigned));
            assert (self->view);
        }
        char *slash = strrchr (argv [3], '/');
        int length = slash? (int) (slash - argv [3]): 1;
        const char *dir = slash? argv [3]: ".";
        self->dump = zsys_sprintf ("%.*s/view.dump", length, dir);
        self->done = zsys_sprintf ("%.*s/window.done", length, dir);
        unlink (self->done);
    }
    return 0;
}

//  Start the writer, when the table is persisted
static void
s_writer_start (observer_t *self, const char *redis, size_t writer_keys)
{
    self->writer = zstate_writer_new ();
    assert (self->writer);
    zstate_writer_set_verbose (self->writer, false);
    zstate_writer_set_reconnect (self->writer, 50, 500);
    if (writer_keys)
        zstate_writer_set_bound (self->writer, writer_keys, 64 * 1024 * 1024);
    zstate_writer_connect (self->writer, redis);
}

int
zstate_fault_observer_main (int argc, char *argv [])
{
    observer_t self = { 0 };
    int status = s_parse (&self, argc, argv);
    if (status)
        return status;
    struct sigaction action = { 0 };
    action.sa_handler = s_on_signal;
    sigaction (SIGUSR1, &action, NULL);
    sigaction (SIGUSR2, &action, NULL);
    sigaction (SIGHUP, &action, NULL);
    sigaction (SIGWINCH, &action, NULL);
    s_stalled = self.mode == MODE_LATE;
    self.log = open (argv [3], O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (self.log == -1) {
        fprintf (stderr, "zstate_faults child: %s: %s\n", argv [3], strerror (errno));
        return 1;
    }
    //  The harness prints its results on stdout; logs go to stderr
    zsys_init ();
    zsys_set_logstream (stderr);
    self.batch = zstate_batch_new ();
    self.lines = (char *) malloc (POPS_MAX * (ZSTATE_FAULT_LINE + 1) + 1);
    assert (self.batch && self.lines);
    self.server = zstate_server_new ();
    if (strneq (argv [5], "-"))
        s_writer_start (&self, argv [5], (size_t) atol (argv [7]));
    if (self.mode != MODE_LATE && s_register (&self))
        status = 1;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%s", argv [2]);
    if (status == 0 && zstate_server_bind (self.server, endpoint) == -1) {
        fprintf (stderr, "zstate_faults child: bind: %s\n", zstate_reason ());
        status = 1;
    }
    if (status == 0) {
        int ready = open (argv [4], O_WRONLY | O_CREAT, 0644);
        if (ready != -1)
            close (ready);
        status = s_observe (&self);
    }
    if (self.writer)
        zstate_writer_flush (self.writer, 10000);
    zstate_server_destroy (&self.server);
    zstate_consumer_destroy (&self.second);
    zstate_consumer_destroy (&self.consumer);
    zstate_writer_destroy (&self.writer);
    zstate_batch_destroy (&self.batch);
    free (self.lines);
    free (self.view);
    zstr_free (&self.dump);
    zstr_free (&self.done);
    close (self.log);
    close (self.reply);
    return status;
}
