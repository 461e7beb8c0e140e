/*  =========================================================================
    zstate_fault_server - a zstate server in a child process, for the fault
    harness: started, killed, stopped, frozen and started again on the
    same endpoint

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"
#include "zstate_fault_server.h"
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

#define READY_TIMEOUT   20000   //  msecs for a child to bind
#define TERM_TIMEOUT    60000   //  msecs for an orderly exit

struct _zstate_fault_server_t {
    int kind;
    char *dir;
    char *redis;
    char *log;                  //  pop log (observer) or serve.log (tool)
    char *ready;                //  made by the observer once bound
    char endpoint [64];
    int port;
    pid_t pid;
    int replies;                //  Observer: its answers to SIGUSR1/2, or -1
    size_t queue_ops;
    size_t writer_keys;
    off_t scanned;              //  of the log, up to the last whole line
    size_t live;                //  pop lines in that part
};

//  A port that is free now: bound once with port 0, then released
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd == -1)
        return -1;
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof (address);
    int port = -1;
    if (bind (fd, (struct sockaddr *) &address, sizeof (address)) == 0
    &&  getsockname (fd, (struct sockaddr *) &address, &size) == 0)
        port = ntohs (address.sin_port);
    close (fd);
    return port;
}

zstate_fault_server_t *
zstate_fault_server_new (int kind, const char *dir, const char *redis)
{
    assert (dir);
    if (kind == ZSTATE_FAULT_TOOL && (!redis || !getenv ("ZSTATE"))) {
        errno = EINVAL;
        return NULL;
    }
    zstate_fault_server_t *self = (zstate_fault_server_t *) zmalloc (sizeof (*self));
    assert (self);
    self->kind = kind;
    self->dir = strdup (dir);
    self->redis = redis? strdup (redis): NULL;
    self->log = zsys_sprintf ("%s/%s", dir, kind == ZSTATE_FAULT_TOOL? "serve.log": "pops.log");
    self->ready = zsys_sprintf ("%s/ready", dir);
    self->port = s_free_port ();
    self->replies = -1;
    snprintf (self->endpoint, sizeof (self->endpoint), "tcp://127.0.0.1:%d", self->port);
    //  A fresh log: every scenario reads its own
    unlink (self->log);
    return self;
}

void
zstate_fault_server_destroy (zstate_fault_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_fault_server_t *self = *self_p;
        if (self->pid)
            zstate_fault_server_signal (self, SIGKILL, NULL);
        unlink (self->log);
        unlink (self->ready);
        free (self->dir);
        free (self->redis);
        zstr_free (&self->log);
        zstr_free (&self->ready);
        free (self);
        *self_p = NULL;
    }
}

void
zstate_fault_server_set_bounds (zstate_fault_server_t *self, size_t queue_ops,
                                size_t writer_keys)
{
    assert (self);
    self->queue_ops = queue_ops;
    self->writer_keys = writer_keys;
}

//  The child is gone: forget it and its answers
static void
s_reaped (zstate_fault_server_t *self)
{
    self->pid = 0;
    close (self->replies);
    self->replies = -1;
}

//  True once the child is ready: the observer made its ready file, the
//  tool logged that it serves
static bool
s_ready (zstate_fault_server_t *self)
{
    if (self->kind == ZSTATE_FAULT_OBSERVER)
        return zsys_file_exists (self->ready);
    FILE *file = fopen (self->log, "r");
    if (!file)
        return false;
    char line [512];
    bool ready = false;
    while (!ready && fgets (line, sizeof (line), file))
        ready = strstr (line, "serving ") != NULL;
    fclose (file);
    return ready;
}

//  A pipe whose ends close on exec
static int
s_pipe (int channel [2])
{
    if (pipe (channel) == -1)
        return -1;
    fcntl (channel [0], F_SETFD, FD_CLOEXEC);
    fcntl (channel [1], F_SETFD, FD_CLOEXEC);
    return 0;
}

int
zstate_fault_server_start (zstate_fault_server_t *self)
{
    assert (self);
    if (self->pid || self->port <= 0) {
        errno = self->pid? EBUSY: EADDRNOTAVAIL;
        return -1;
    }
    unlink (self->ready);
    //  The observer answers SIGUSR1 and SIGUSR2 on this pipe, once it has
    //  acted on them; the tool's end is closed on exec
    int channel [2];
    if (s_pipe (channel) == -1)
        return -1;
    //  Every argument is built before fork: the child only execs
    char port [16], queue [32], keys [32], bind [80], table [64], reply [16];
    snprintf (reply, sizeof (reply), "%d", channel [1]);
    snprintf (port, sizeof (port), "%d", self->port);
    snprintf (queue, sizeof (queue), "%zu", self->queue_ops);
    snprintf (keys, sizeof (keys), "%zu", self->writer_keys);
    snprintf (bind, sizeof (bind), "%s", self->endpoint);
    snprintf (table, sizeof (table), "%s/%s", ZSTATE_FAULT_DB, ZSTATE_FAULT_TABLE);
    const char *tool = getenv ("ZSTATE");
    //  The harness binary's own path, read before fork; under valgrind,
    //  readlink gives the program, where exec of /proc/self/exe would not
    char program [4096] = "/proc/self/exe";
    ssize_t length = readlink ("/proc/self/exe", program, sizeof (program) - 1);
    if (length > 0)
        program [length] = 0;
    char *observer [] = { "zstate_faults", "child", port, self->log, self->ready,
                          self->redis? self->redis: "-", queue, keys, reply, NULL };
    char *serve [] = { "zstate", "serve", "--bind", bind, "--persist", table,
                       "--redis", self->redis, NULL };
    if (self->kind == ZSTATE_FAULT_TOOL)
        unlink (self->log);
    pid_t parent = getpid ();
    //  A child that ends without exec must not print our buffered output
    fflush (stdout);
    pid_t pid = fork ();
    if (pid == -1) {
        close (channel [0]);
        close (channel [1]);
        return -1;
    }
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        if (self->kind == ZSTATE_FAULT_TOOL) {
            int fd = open (self->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd != -1) {
                dup2 (fd, STDOUT_FILENO);
                dup2 (fd, STDERR_FILENO);
                close (fd);
            }
            execv (tool, serve);
        }
        else {
            fcntl (channel [1], F_SETFD, 0);
            execv (program, observer);
        }
        _exit (127);
    }
    close (channel [1]);
    self->replies = channel [0];
    self->pid = pid;
    for (int tick = 0; tick < READY_TIMEOUT / 10; tick++) {
        if (s_ready (self))
            return 0;
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid) {
            s_reaped (self);
            errno = ECHILD;
            return -1;
        }
        zclock_sleep (10);
    }
    zstate_fault_server_signal (self, SIGKILL, NULL);
    errno = ETIMEDOUT;
    return -1;
}

//  Wait until the child has stopped (SIGSTOP). Returns 0, or -1 with errno
//  ETIMEDOUT, or ECHILD when it ended instead.
static int
s_wait_stopped (zstate_fault_server_t *self)
{
    for (int tick = 0; tick < READY_TIMEOUT / 10; tick++) {
        int status;
        pid_t reaped = waitpid (self->pid, &status, WNOHANG | WUNTRACED);
        if (reaped == self->pid && WIFSTOPPED (status))
            return 0;
        if (reaped == self->pid) {
            s_reaped (self);
            errno = ECHILD;
            return -1;
        }
        zclock_sleep (10);
    }
    errno = ETIMEDOUT;
    return -1;
}

//  Wait until the observer answers a signal with state: 'S' once it pops
//  no more, 'R' once it pops again. Earlier answers are skipped. Returns
//  0, or -1 with errno ETIMEDOUT, or ECHILD when its end closed.
static int
s_wait_reply (zstate_fault_server_t *self, char state)
{
    int64_t deadline = zclock_mono () + READY_TIMEOUT;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd item = { self->replies, POLLIN, 0 };
        int rc = poll (&item, 1, (int) left);
        if (rc == -1 && errno != EINTR)
            return -1;
        if (rc <= 0)
            continue;
        char answer;
        ssize_t size = read (self->replies, &answer, 1);
        if (size == 0) {
            errno = ECHILD;
            return -1;
        }
        if (size == 1 && answer == state)
            return 0;
    }
}

int
zstate_fault_server_signal (zstate_fault_server_t *self, int signum, int *status_p)
{
    assert (self);
    if (!self->pid) {
        errno = ESRCH;
        return -1;
    }
    if (kill (self->pid, signum) == -1)
        return -1;
    if (signum == SIGSTOP)
        return s_wait_stopped (self);
    if ((signum == SIGUSR1 || signum == SIGUSR2) && self->kind == ZSTATE_FAULT_OBSERVER)
        return s_wait_reply (self, signum == SIGUSR1? 'S': 'R');
    if (signum != SIGKILL && signum != SIGTERM)
        return 0;
    int status = 0;
    pid_t reaped = 0;
    //  A frozen child cannot act on SIGTERM
    kill (self->pid, SIGCONT);
    for (int tick = 0; tick < TERM_TIMEOUT / 10 && reaped == 0; tick++) {
        reaped = waitpid (self->pid, &status, WNOHANG);
        if (reaped == 0)
            zclock_sleep (10);
    }
    if (reaped == 0) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, &status, 0);
        status = -1;
    }
    if (status_p)
        *status_p = status != -1 && WIFEXITED (status)? WEXITSTATUS (status): -1;
    s_reaped (self);
    return 0;
}

int
zstate_fault_server_pid (zstate_fault_server_t *self)
{
    assert (self);
    return self->pid;
}

const char *
zstate_fault_server_endpoint (zstate_fault_server_t *self)
{
    assert (self);
    return self->endpoint;
}

int
zstate_fault_server_port (zstate_fault_server_t *self)
{
    assert (self);
    return self->port;
}

const char *
zstate_fault_server_log (zstate_fault_server_t *self)
{
    assert (self);
    return self->log;
}

size_t
zstate_fault_server_popped (zstate_fault_server_t *self)
{
    assert (self);
    //  Reads what was appended since the last call; restored entries
    //  and instance lines are no pops
    FILE *file = self->kind == ZSTATE_FAULT_OBSERVER? fopen (self->log, "r"): NULL;
    if (!file || fseeko (file, self->scanned, SEEK_SET)) {
        if (file)
            fclose (file);
        return self->live;
    }
    char line [ZSTATE_FAULT_LINE + 3];
    while (fgets (line, sizeof (line), file) && strchr (line, '\n')) {
        self->scanned += (off_t) strlen (line);
        self->live += line [0] != 'R' && line [0] != 'I';
    }
    fclose (file);
    return self->live;
}

size_t
zstate_fault_rss (int pid)
{
    char path [64];
    if (pid)
        snprintf (path, sizeof (path), "/proc/%d/status", pid);
    else
        snprintf (path, sizeof (path), "/proc/self/status");
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line [256];
    size_t rss = 0;
    while (fgets (line, sizeof (line), file))
        if (sscanf (line, "VmRSS: %zu", &rss) == 1)
            break;
    fclose (file);
    return rss;
}

size_t
zstate_fault_server_rss (zstate_fault_server_t *self)
{
    assert (self);
    return self->pid? zstate_fault_rss (self->pid): 0;
}

//  --------------------------------------------------------------------------
//  The observer, in the child

static volatile sig_atomic_t s_stalled = 0;
static volatile sig_atomic_t s_signals = 0;     //  SIGUSR1/2 received

static void
s_on_signal (int signum)
{
    s_stalled = signum == SIGUSR1;
    s_signals++;
}

//  Append one line per popped operation, with a single write; the first
//  *restored_p of them are the entries the table restored (which lines
//  of their own say), and *restored_p goes down by those
static int
s_log_batch (int fd, zstate_batch_t *batch, char *lines, uint64_t *restored_p)
{
    size_t count = zstate_batch_size (batch), size = 0;
    for (size_t index = 0; index < count; index++) {
        const char *key = zstate_batch_key (batch, index, NULL);
        const char *seq = zstate_batch_get (batch, index, "seq");
        unsigned number = key [0] == 'k'? (unsigned) atoi (key + 1): 9999999;
        bool restored = *restored_p > 0;
        *restored_p -= restored;
        size += (size_t) snprintf (lines + size, ZSTATE_FAULT_LINE + 2, "%s%07u %09u\n",
                                   restored? "R": "", number % 10000000,
                                   seq? (unsigned) atoi (seq) % 1000000000: 0);
    }
    size_t done = 0;
    while (done < size) {
        ssize_t rc = write (fd, lines + done, size - done);
        if (rc == -1 && errno != EINTR)
            return -1;
        if (rc > 0)
            done += (size_t) rc;
    }
    return 0;
}

#define POPS_MAX    4096

//  The child's writer; before it binds, the child restores the table
//  through it and writes "I" to the log, a new instance of the
//  application. Returns the entries restored, or -1
static int64_t
s_child_persist (zstate_consumer_t *consumer, zstate_writer_t *writer, int log)
{
    int64_t restored = zstate_consumer_restore (consumer, writer, 30000);
    if (restored == -1)
        fprintf (stderr, "zstate_faults child: restore: %s\n", zstate_reason ());
    else
    if (write (log, "I\n", 2) != 2)
        restored = -1;
    if (restored >= 0 && zstate_consumer_set_writer (consumer, writer))
        restored = -1;
    return restored;
}

//  The application loop: pop and log until interrupted (SIGTERM), not
//  while stalled (SIGUSR1, until SIGUSR2), answering each signal on reply
//  between pops; then take what is still queued. The first restored
//  operations popped are the restored entries. Returns the exit status.
static int
s_observe (zstate_consumer_t *consumer, int log, int reply, uint64_t restored)
{
    int status = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    char *lines = (char *) malloc (POPS_MAX * (ZSTATE_FAULT_LINE + 1) + 1);
    assert (lines);
    struct pollfd item = { zstate_consumer_fd (consumer), POLLIN, 0 };
    int answered = 0;
    while (status == 0 && !zsys_interrupted) {
        //  Between pops: answer each signal with the state it left us in
        int signals = s_signals;
        if (signals != answered) {
            answered = signals;
            char state = s_stalled? 'S': 'R';
            if (write (reply, &state, 1) != 1)
                status = 1;
        }
        if (s_stalled || !zstate_consumer_pending (consumer)) {
            poll (&item, 1, s_stalled? 10: 100);
            continue;
        }
        if (zstate_consumer_pops (consumer, batch, POPS_MAX)
        &&  s_log_batch (log, batch, lines, &restored))
            status = 1;
    }
    //  SIGTERM: what was queued is still taken, then the writer confirms
    while (status == 0 && zstate_consumer_pops (consumer, batch, POPS_MAX))
        s_log_batch (log, batch, lines, &restored);
    free (lines);
    zstate_batch_destroy (&batch);
    return status;
}

int
zstate_fault_server_main (int argc, char *argv [])
{
    if (argc != 9) {
        fprintf (stderr, "zstate_faults child: PORT LOG READY REDIS|- QUEUE_OPS "
                 "WRITER_KEYS REPLY_FD\n");
        return 2;
    }
    int reply = atoi (argv [8]);
    const char *redis = streq (argv [5], "-")? NULL: argv [5];
    size_t queue_ops = (size_t) atol (argv [6]);
    size_t writer_keys = (size_t) atol (argv [7]);
    struct sigaction action = { 0 };
    action.sa_handler = s_on_signal;
    sigaction (SIGUSR1, &action, NULL);
    sigaction (SIGUSR2, &action, NULL);
    int log = open (argv [3], O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log == -1) {
        fprintf (stderr, "zstate_faults child: %s: %s\n", argv [3], strerror (errno));
        return 1;
    }
    //  The harness prints its results on stdout; logs go to stderr
    zsys_init ();
    zsys_set_logstream (stderr);
    zstate_server_t *server = zstate_server_new ();
    zstate_consumer_t *consumer = zstate_consumer_new (server, ZSTATE_FAULT_DB,
                                                       ZSTATE_FAULT_TABLE);
    assert (consumer);
    if (queue_ops)
        zstate_consumer_set_queue (consumer, queue_ops, 64 * 1024 * 1024);
    zstate_writer_t *writer = NULL;
    if (redis) {
        writer = zstate_writer_new ();
        zstate_writer_set_verbose (writer, false);
        zstate_writer_set_reconnect (writer, 50, 500);
        if (writer_keys)
            zstate_writer_set_bound (writer, writer_keys, 64 * 1024 * 1024);
        zstate_writer_connect (writer, redis);
    }
    int64_t restored = writer? s_child_persist (consumer, writer, log): 0;
    int status = restored == -1;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%s", argv [2]);
    if (status == 0 && zstate_server_bind (server, endpoint) == -1) {
        fprintf (stderr, "zstate_faults child: bind: %s\n", zstate_reason ());
        status = 1;
    }
    else {
        int ready = open (argv [4], O_WRONLY | O_CREAT, 0644);
        if (ready != -1)
            close (ready);
    }
    if (status == 0)
        status = s_observe (consumer, log, reply, restored > 0? (uint64_t) restored: 0);
    if (writer)
        zstate_writer_flush (writer, 10000);
    zstate_server_destroy (&server);
    zstate_consumer_destroy (&consumer);
    zstate_writer_destroy (&writer);
    close (log);
    close (reply);
    return status;
}

//  --------------------------------------------------------------------------
//  Self test

//  Wait up to 10 s for the observer to have popped count operations
static bool
s_popped (zstate_fault_server_t *self, size_t count)
{
    for (int tick = 0; tick < 1000; tick++) {
        if (zstate_fault_server_popped (self) >= count)
            return true;
        zclock_sleep (10);
    }
    return false;
}

//  An observer in dir, through its signals: each pauses, resumes, kills,
//  freezes or ends it, and the pops log says what it did. Returns the
//  observer's port.
static int
s_test_observer (const char *dir)
{
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER, dir, NULL);
    assert (server);
    assert (zstate_fault_server_pid (server) == 0);
    assert (zstate_fault_server_signal (server, SIGKILL, NULL) == -1 && errno == ESRCH);
    assert (zstate_fault_server_start (server) == 0);
    assert (zstate_fault_server_pid (server) > 0);
    assert (zstate_fault_server_start (server) == -1 && errno == EBUSY);
    assert (zstate_fault_server_rss (server) > 0);
    assert (zstate_fault_rss (0) > 0);

    zstate_client_t *client = zstate_client_new ();
    assert (zstate_client_connect (client, zstate_fault_server_endpoint (server)) == 0);
    zstate_producer_t *producer = zstate_producer_new (client, ZSTATE_FAULT_DB,
                                                       ZSTATE_FAULT_TABLE);
    assert (zstate_producer_set (producer, "k0000007", "seq", "3", NULL) == 0);
    assert (s_popped (server, 1));
    FILE *file = fopen (zstate_fault_server_log (server), "r");
    assert (file);
    char line [64] = "";
    assert (fgets (line, sizeof (line), file));
    fclose (file);
    assert (streq (line, "0000007 000000003\n"));

    //  SIGUSR1: once the observer says it pops no more, the operation
    //  reaches the consumer (flush: the server acknowledged it) and waits
    //  there; SIGUSR2: it is popped
    assert (zstate_fault_server_signal (server, SIGUSR1, NULL) == 0);
    assert (zstate_producer_set (producer, "k0000001", "seq", "1", NULL) == 0);
    assert (zstate_client_flush (client, READY_TIMEOUT) == 0);
    assert (zstate_fault_server_popped (server) == 1);
    assert (zstate_fault_server_signal (server, SIGUSR2, NULL) == 0);
    assert (s_popped (server, 2));

    //  Killed and started again on the same endpoint: the log goes on
    int port = zstate_fault_server_port (server);
    assert (zstate_fault_server_signal (server, SIGKILL, NULL) == 0);
    assert (zstate_fault_server_pid (server) == 0);
    assert (zstate_fault_server_start (server) == 0);
    assert (zstate_fault_server_port (server) == port);
    assert (zstate_producer_set (producer, "k0000002", "seq", "1", NULL) == 0);
    assert (s_popped (server, 3));

    //  Frozen (the signal returns once it has stopped), it pops nothing;
    //  thawed, it goes on; SIGTERM ends it cleanly
    assert (zstate_fault_server_signal (server, SIGSTOP, NULL) == 0);
    assert (zstate_producer_set (producer, "k0000003", "seq", "1", NULL) == 0);
    assert (zstate_client_flush (client, 200) == -1 && errno == ETIMEDOUT);
    assert (zstate_fault_server_popped (server) == 3);
    assert (zstate_fault_server_signal (server, SIGCONT, NULL) == 0);
    assert (s_popped (server, 4));
    int status = -1;
    assert (zstate_fault_server_signal (server, SIGTERM, &status) == 0);
    assert (status == 0);
    zstate_producer_destroy (&producer);
    zstate_client_set_linger (client, 0);
    zstate_client_destroy (&client);
    zstate_fault_server_destroy (&server);
    assert (server == NULL);
    return port;
}

//  A child whose parent dies gets SIGKILL: an intermediate process starts
//  an observer in dir and exits at once, without cleaning up
static void
s_test_orphan (const char *dir)
{
    int channel [2];
    assert (pipe (channel) == 0);
    fflush (stdout);
    pid_t middle = fork ();
    assert (middle != -1);
    if (middle == 0) {
        zstate_fault_server_t *orphan = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER,
                                                                 dir, NULL);
        int pid = orphan && zstate_fault_server_start (orphan) == 0
                ? zstate_fault_server_pid (orphan): 0;
        if (write (channel [1], &pid, sizeof (pid)) != sizeof (pid))
            _exit (1);
        _exit (0);
    }
    int orphan_pid = 0;
    assert (read (channel [0], &orphan_pid, sizeof (orphan_pid)) == sizeof (orphan_pid));
    assert (orphan_pid > 0);
    waitpid (middle, NULL, 0);
    close (channel [0]);
    close (channel [1]);
    bool gone = false;
    for (int tick = 0; tick < 1000 && !gone; tick++) {
        char path [64], state = 'R';
        snprintf (path, sizeof (path), "/proc/%d/stat", orphan_pid);
        FILE *stat_file = fopen (path, "r");
        gone = !stat_file || fscanf (stat_file, "%*d %*s %c", &state) != 1 || state == 'Z';
        if (stat_file)
            fclose (stat_file);
        if (!gone)
            zclock_sleep (10);
    }
    assert (gone);
    //  The orphan's files are left for us
    char *orphan_file = zsys_sprintf ("%s/pops.log", dir);
    unlink (orphan_file);
    zstr_free (&orphan_file);
    orphan_file = zsys_sprintf ("%s/ready", dir);
    unlink (orphan_file);
    zstr_free (&orphan_file);
}

void
zstate_fault_server_test (bool verbose)
{
    printf (" * zstate_fault_server: ");
    char dir [] = "/tmp/zstate-fault-server-XXXXXX";
    assert (mkdtemp (dir));
    int port = s_test_observer (dir);
    s_test_orphan (dir);

    //  The tool needs a Redis and ZSTATE
    char *saved = getenv ("ZSTATE")? strdup (getenv ("ZSTATE")): NULL;
    unsetenv ("ZSTATE");
    assert (zstate_fault_server_new (ZSTATE_FAULT_TOOL, dir, "127.0.0.1:1") == NULL);
    assert (errno == EINVAL);
    if (saved)
        setenv ("ZSTATE", saved, 1);
    free (saved);
    assert (rmdir (dir) == 0);
    if (verbose)
        zsys_info ("zstate_fault_server test: port %d", port);
    printf ("OK\n");
}
