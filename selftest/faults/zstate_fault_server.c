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
    const char *mode;           //  observer: pops, view or late
    size_t keys;                //  of its view
    char *dump;                 //  where it dumps its view
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
    self->dump = zsys_sprintf ("%s/view.dump", dir);
    self->mode = "pops";
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
        unlink (self->dump);
        char *done = zsys_sprintf ("%s/window.done", self->dir);
        unlink (done);
        zstr_free (&done);
        free (self->dir);
        free (self->redis);
        zstr_free (&self->log);
        zstr_free (&self->ready);
        zstr_free (&self->dump);
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

void
zstate_fault_server_set_mode (zstate_fault_server_t *self, const char *mode, size_t keys)
{
    assert (self);
    assert (streq (mode, "pops") || streq (mode, "tables") || streq (mode, "view")
         || streq (mode, "late"));
    self->mode = streq (mode, "pops")? "pops": streq (mode, "tables")? "tables"
               : streq (mode, "view")? "view": "late";
    self->keys = keys;
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

void
zstate_fault_program (char *program, size_t size)
{
    //  Under valgrind, readlink gives the program, where exec of
    //  /proc/self/exe would not
    ssize_t length = readlink ("/proc/self/exe", program, size - 1);
    if (length > 0)
        program [length] = 0;
    else
        snprintf (program, size, "/proc/self/exe");
}

int
zstate_fault_spawn (const char *program, char *args [], int fd, const char *output)
{
    pid_t parent = getpid ();
    //  A child that ends without exec must not print our buffered output
    fflush (stdout);
    pid_t pid = fork ();
    if (pid != 0)
        return pid;
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (127);
    if (output) {
        int log = open (output, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log != -1) {
            dup2 (log, STDOUT_FILENO);
            dup2 (log, STDERR_FILENO);
            close (log);
        }
    }
    if (fd != -1)
        fcntl (fd, F_SETFD, 0);
    execv (program, args);
    _exit (127);
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
    char port [16], queue [32], keys [32], bind [80], table [64], reply [16], view [32];
    snprintf (view, sizeof (view), "%zu", self->keys);
    snprintf (port, sizeof (port), "%d", self->port);
    snprintf (reply, sizeof (reply), "%d", channel [1]);
    snprintf (queue, sizeof (queue), "%zu", self->queue_ops);
    snprintf (keys, sizeof (keys), "%zu", self->writer_keys);
    snprintf (bind, sizeof (bind), "%s", self->endpoint);
    snprintf (table, sizeof (table), "%s/%s", ZSTATE_FAULT_DB, ZSTATE_FAULT_TABLE);
    const char *tool = getenv ("ZSTATE");
    char program [4096];
    zstate_fault_program (program, sizeof (program));
    char *observer [] = { "zstate_faults", "child", port, self->log, self->ready,
                          self->redis? self->redis: "-", queue, keys, reply,
                          (char *) self->mode, view, NULL };
    char *serve [] = { "zstate", "serve", "--bind", bind, "--persist", table,
                       "--redis", self->redis, NULL };
    pid_t pid;
    if (self->kind == ZSTATE_FAULT_TOOL) {
        unlink (self->log);
        pid = zstate_fault_spawn (tool, serve, -1, self->log);
    }
    else
        pid = zstate_fault_spawn (program, observer, channel [1], NULL);
    if (pid == -1) {
        close (channel [0]);
        close (channel [1]);
        return -1;
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
    if (signum == SIGHUP && self->kind == ZSTATE_FAULT_OBSERVER)
        return s_wait_reply (self, 'V');
    if (signum == SIGWINCH && self->kind == ZSTATE_FAULT_OBSERVER)
        return s_wait_reply (self, 'Y');
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

const char *
zstate_fault_server_dump (zstate_fault_server_t *self)
{
    assert (self);
    if (streq (self->mode, "pops")) {
        errno = EINVAL;
        return NULL;
    }
    unlink (self->dump);
    return zstate_fault_server_signal (self, SIGHUP, NULL) == 0? self->dump: NULL;
}

//  A "Vm...:" figure of process pid (0: this process) in KiB
static size_t
s_status_kib (int pid, const char *name)
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
    size_t kib = 0, length = strlen (name);
    while (fgets (line, sizeof (line), file))
        if (strncmp (line, name, length) == 0 && sscanf (line + length, ": %zu", &kib) == 1)
            break;
    fclose (file);
    return kib;
}

size_t
zstate_fault_rss (int pid)
{
    return s_status_kib (pid, "VmRSS");
}

size_t
zstate_fault_hwm (int pid)
{
    return s_status_kib (pid, "VmHWM");
}

size_t
zstate_fault_server_rss (zstate_fault_server_t *self)
{
    assert (self);
    return self->pid? zstate_fault_rss (self->pid): 0;
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
    //  The peak, read after the size, is at least that size
    size_t rss = zstate_fault_rss (0);
    assert (rss > 0 && zstate_fault_hwm (0) >= rss);
    //  Mode pops keeps no view to dump
    assert (zstate_fault_server_dump (server) == NULL && errno == EINVAL);

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

//  Read the whole file at path into a string (or "" when it cannot)
static char *
s_slurp (const char *path)
{
    zchunk_t *chunk = zchunk_slurp (path, 0);
    char *text = chunk? zsys_sprintf ("%.*s", (int) zchunk_size (chunk),
                                      (char *) zchunk_data (chunk)): strdup ("");
    zchunk_destroy (&chunk);
    return text;
}

//  The resync modes: the view follows SETs, HSETs and DELs and is dumped
//  on request; a late table registers at SIGUSR2, and only then pops
static void
s_test_view (const char *dir)
{
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER, dir, NULL);
    zstate_fault_server_set_mode (server, "late", 10);
    assert (zstate_fault_server_dump (server) == NULL && errno == ESRCH);
    assert (zstate_fault_server_start (server) == 0);
    zstate_client_t *client = zstate_client_new ();
    assert (zstate_client_connect (client, zstate_fault_server_endpoint (server)) == 0);
    zstate_producer_t *producer = zstate_producer_new (client, ZSTATE_FAULT_DB,
                                                       ZSTATE_FAULT_TABLE);
    //  No table yet: the flush ends either way, nothing is popped
    assert (zstate_producer_set (producer, "k0000003", "seq", "1", NULL) == 0);
    zstate_client_flush (client, 2000);
    assert (zstate_fault_server_popped (server) == 0);
    assert (zstate_fault_server_signal (server, SIGUSR2, NULL) == 0);
    assert (zstate_producer_set (producer, "k0000001", "seq", "1", NULL) == 0);
    assert (zstate_producer_set (producer, "k0000002", "seq", "2", NULL) == 0);
    assert (zstate_producer_hset (producer, "k0000009", "seq", "4", NULL) == 0);
    assert (zstate_producer_set (producer, "other", "seq", "1", NULL) == 0);
    assert (zstate_producer_del (producer, "k0000001") == 0);
    assert (s_popped (server, 5));
    const char *dump = zstate_fault_server_dump (server);
    assert (dump);
    char *text = s_slurp (dump);
    assert (strncmp (text, "S windows=", 10) == 0 && strstr (text, " unknown=1 "));
    assert (strstr (text, "\n0000002 000000002\n0000009 000000004\n"));
    assert (!strstr (text, "0000001 ") && !strstr (text, "0000003 "));
    zstr_free (&text);
    text = s_slurp (zstate_fault_server_log (server));
    assert (strncmp (text, "I\n", 2) == 0 && strstr (text, "\nD0000001 000000000\n"));
    zstr_free (&text);
    zstate_producer_destroy (&producer);
    zstate_client_set_linger (client, 0);
    zstate_client_destroy (&client);
    zstate_fault_server_destroy (&server);
}

//  Mode tables: both tables pop into the one log; the dump has the line
//  of counters only
static void
s_test_tables (const char *dir)
{
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER, dir, NULL);
    zstate_fault_server_set_mode (server, "tables", 0);
    assert (zstate_fault_server_start (server) == 0);
    zstate_client_t *client = zstate_client_new ();
    assert (zstate_client_connect (client, zstate_fault_server_endpoint (server)) == 0);
    zstate_producer_t *first = zstate_producer_new (client, ZSTATE_FAULT_DB, ZSTATE_FAULT_TABLE);
    zstate_producer_t *second = zstate_producer_new (client, ZSTATE_FAULT_DB,
                                                     ZSTATE_FAULT_TABLE_2);
    assert (zstate_producer_set (first, "k0000002", "seq", "1", NULL) == 0);
    assert (zstate_producer_set (second, "k0000003", "seq", "1", NULL) == 0);
    assert (s_popped (server, 2));
    char *text = s_slurp (zstate_fault_server_log (server));
    assert (strstr (text, "0000002 000000001\n") && strstr (text, "0000003 000000001\n"));
    zstr_free (&text);
    const char *dump = zstate_fault_server_dump (server);
    assert (dump);
    text = s_slurp (dump);
    assert (strncmp (text, "S windows=", 10) == 0 && strstr (text, " behind=0\n"));
    assert (strchr (text, '\n') [1] == 0);
    zstr_free (&text);
    zstate_producer_destroy (&second);
    zstate_producer_destroy (&first);
    zstate_client_set_linger (client, 0);
    zstate_client_destroy (&client);
    zstate_fault_server_destroy (&server);
}

void
zstate_fault_server_test (bool verbose)
{
    printf (" * zstate_fault_server: ");
    char dir [] = "/tmp/zstate-fault-server-XXXXXX";
    assert (mkdtemp (dir));
    int port = s_test_observer (dir);
    s_test_orphan (dir);
    s_test_view (dir);
    s_test_tables (dir);

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
