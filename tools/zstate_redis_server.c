/*  =========================================================================
    zstate_redis_server - a private redis-server for tests and the demo

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Starts redis-server with fork and exec, in a mkdtemp directory, on a
    loopback port found by binding 127.0.0.1:0, and waits until it answers
    PING on its unix socket.
@discuss
    Readiness is checked with a raw PING over the unix socket rather than
    with hiredis, so that only zstate_redis includes hiredis and so that
    "-LOADING" (a restarted server reading its append-only file) counts as
    not ready yet. The port is picked by the kernel and released just before
    redis-server binds it; another process could take it in between, so a
    first start that fails is retried on a new port. A restart keeps the
    port: the clients under test reconnect to the same endpoint.
@end
*/

#include "zstate_classes.h"
#include "zstate_redis_server.h"

#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#define START_TIMEOUT   10000           //  msecs for a start to answer PING
#define STOP_TIMEOUT    5000            //  msecs SIGTERM gets before SIGKILL
#define START_TRIES     5               //  ports tried on the first start
#define ARGS_MAX        40

struct _zstate_redis_server_t {
    bool persistent;            //  appendonly yes, appendfsync always
    pid_t pid;                  //  Child process, 0 when not running
    int port;                   //  TCP port on 127.0.0.1
    char dir [256];             //  Our mkdtemp directory
    char socket [300];          //  Unix socket path in dir
    char endpoint [32];         //  "127.0.0.1:port"
    char port_text [16];        //  Port as text, for argv
    char log [300];             //  Log file in dir
};


//  --------------------------------------------------------------------------
//  Ask the kernel for a free loopback port; 0 on failure

static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in address;
    memset (&address, 0, sizeof (address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t size = sizeof (address);
    int port = 0;
    if (bind (fd, (struct sockaddr *) &address, sizeof (address)) == 0
    &&  getsockname (fd, (struct sockaddr *) &address, &size) == 0)
        port = ntohs (address.sin_port);
    close (fd);
    return port;
}


//  --------------------------------------------------------------------------
//  Send one inline command over the unix socket and read the start of the
//  reply into reply (NUL-terminated). Returns bytes read, or -1. Bounded by
//  timeout msecs. Enough for PING, and for the selftest's SET and GET.

static int
s_roundtrip (const char *path, const char *command, char *reply, size_t max, int timeout)
{
    struct sockaddr_un address;
    memset (&address, 0, sizeof (address));
    address.sun_family = AF_UNIX;
    if (strlen (path) >= sizeof (address.sun_path))
        return -1;
    memcpy (address.sun_path, path, strlen (path));
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc = -1;
    size_t size = strlen (command);
    //  MSG_NOSIGNAL: a server that dies under us must not kill the process
    if (connect (fd, (struct sockaddr *) &address, sizeof (address)) == 0
    &&  send (fd, command, size, MSG_NOSIGNAL) == (ssize_t) size) {
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, timeout) == 1) {
            ssize_t got = recv (fd, reply, max - 1, 0);
            if (got > 0) {
                reply [got] = 0;
                rc = (int) got;
            }
        }
    }
    close (fd);
    return rc;
}


//  --------------------------------------------------------------------------
//  Reap the child if it has ended; returns true if it still runs

static bool
s_alive (zstate_redis_server_t *self)
{
    if (!self->pid)
        return false;
    int status;
    pid_t rc = waitpid (self->pid, &status, WNOHANG);
    if (rc == self->pid || (rc < 0 && errno == ECHILD)) {
        self->pid = 0;
        return false;
    }
    return true;
}


//  --------------------------------------------------------------------------
//  Fork and exec redis-server, then wait for PING

//  redis-server's command line, into argv; returns argc
static int
s_args_build (zstate_redis_server_t *self, const char *argv [ARGS_MAX])
{
    snprintf (self->port_text, sizeof (self->port_text), "%d", self->port);
    snprintf (self->endpoint, sizeof (self->endpoint), "127.0.0.1:%d", self->port);
    int argc = 0;
    argv [argc++] = ZSTATE_REDIS_SERVER;
    argv [argc++] = "--port";               argv [argc++] = self->port_text;
    argv [argc++] = "--bind";               argv [argc++] = "127.0.0.1";
    argv [argc++] = "--unixsocket";         argv [argc++] = self->socket;
    argv [argc++] = "--unixsocketperm";     argv [argc++] = "700";
    argv [argc++] = "--dir";                argv [argc++] = self->dir;
    argv [argc++] = "--logfile";            argv [argc++] = self->log;
    argv [argc++] = "--daemonize";          argv [argc++] = "no";
    argv [argc++] = "--save";               argv [argc++] = "";
    argv [argc++] = "--protected-mode";     argv [argc++] = "no";
    //  DEBUG SLEEP is one of the stalls the writer must ride out
    argv [argc++] = "--enable-debug-command"; argv [argc++] = "local";
    argv [argc++] = "--appendonly";         argv [argc++] = self->persistent? "yes": "no";
    if (self->persistent) {
        argv [argc++] = "--appendfsync";    argv [argc++] = "always";
    }
    argv [argc] = NULL;
    assert (argc < ARGS_MAX);
    return argc;
}

//  The end of the server's log on one line, for an error message: the
//  directory may go with the object
static void
s_log_tail (zstate_redis_server_t *self, char *tail, size_t size)
{
    *tail = 0;
    FILE *log = fopen (self->log, "r");
    if (!log)
        return;
    if (fseek (log, -(long) (size - 1), SEEK_END) != 0)
        rewind (log);
    size_t got = fread (tail, 1, size - 1, log);
    tail [got] = 0;
    fclose (log);
    for (char *cursor = tail; *cursor; cursor++)
        if (*cursor == '\n' || *cursor == '\r')
            *cursor = ' ';
}

//  Ready when it answers PONG on the unix socket; LOADING is not ready.
//  Returns 0 or -1.
static int
s_wait_ready (zstate_redis_server_t *self)
{
    int64_t deadline = zclock_mono () + START_TIMEOUT;
    while (zclock_mono () < deadline) {
        char reply [64];
        if (s_roundtrip (self->socket, "PING\r\n", reply, sizeof (reply), 200) > 0
        &&  strncmp (reply, "+PONG", 5) == 0)
            return 0;
        if (!s_alive (self)) {
            char tail [160];
            s_log_tail (self, tail, sizeof (tail));
            return zstate_fail (ECHILD, "redis-server on port %d exited at start: ...%s",
                                self->port, tail);
        }
        //  Polling the server for readiness, with a deadline
        zclock_sleep (10);
    }
    zstate_redis_server_kill (self);
    return zstate_fail (ETIMEDOUT, "redis-server on port %d did not answer PING in %d ms",
                        self->port, START_TIMEOUT);
}

//  Returns 0 or -1.
static int
s_launch (zstate_redis_server_t *self)
{
    //  Everything the child needs is built before fork: between fork and
    //  exec only async-signal-safe calls are allowed, as the parent has
    //  threads (libzmq's, the actors')
    const char *argv [ARGS_MAX];
    s_args_build (self, argv);
    int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0)
        return zstate_fail (errno, "redis-server: cannot open /dev/null: %s", strerror (errno));
    sigset_t no_signals;
    sigemptyset (&no_signals);
    struct sigaction default_action;
    memset (&default_action, 0, sizeof (default_action));
    default_action.sa_handler = SIG_DFL;
    sigemptyset (&default_action.sa_mask);
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        int error = errno;
        close (null_fd);
        return zstate_fail (error, "redis-server: fork failed: %s", strerror (error));
    }
    if (pid == 0) {
        //  Child: die with the thread that started us, so that an aborted
        //  selftest leaves no server behind
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        dup2 (null_fd, STDIN_FILENO);
        dup2 (null_fd, STDOUT_FILENO);
        dup2 (null_fd, STDERR_FILENO);
        //  Our sockets (hiredis sets no CLOEXEC) must not live on in Redis
        if (syscall (SYS_close_range, 3U, ~0U, 0) != 0)
            for (int fd = 3; fd < 4096; fd++)
                close (fd);
        //  Started from an actor thread, we hold its full signal mask, and
        //  the host may ignore signals: the mask and ignored dispositions
        //  live on across exec, and redis-server would not hear SIGTERM
        sigprocmask (SIG_SETMASK, &no_signals, NULL);
        for (int signum = 1; signum < NSIG; signum++)
            sigaction (signum, &default_action, NULL);
        execv (ZSTATE_REDIS_SERVER, (char **) argv);
        _exit (127);
    }
    close (null_fd);
    self->pid = pid;
    return s_wait_ready (self);
}


//  --------------------------------------------------------------------------
//  Start a redis-server in a new directory on a free port

zstate_redis_server_t *
zstate_redis_server_new (bool persistent)
{
    zstate_redis_server_t *self =
        (zstate_redis_server_t *) zmalloc (sizeof (zstate_redis_server_t));
    assert (self);
    self->persistent = persistent;

    //  A unix socket path must fit in sun_path (108 bytes)
    const char *tmpdir = getenv ("TMPDIR");
    if (!tmpdir || !*tmpdir || strlen (tmpdir) > 60)
        tmpdir = "/tmp";
    snprintf (self->dir, sizeof (self->dir), "%s/zstate-redis-XXXXXX", tmpdir);
    if (!mkdtemp (self->dir)) {
        int error = errno;
        free (self);
        zstate_fail (error, "redis-server: cannot make a directory in %s: %s",
                     tmpdir, strerror (error));
        return NULL;
    }
    snprintf (self->socket, sizeof (self->socket), "%s/redis.sock", self->dir);
    snprintf (self->log, sizeof (self->log), "%s/redis.log", self->dir);

    int rc = -1;
    for (int attempt = 0; attempt < START_TRIES && rc; attempt++) {
        self->port = s_free_port ();
        if (!self->port) {
            zstate_fail (EADDRNOTAVAIL, "redis-server: no free port on 127.0.0.1");
            break;
        }
        rc = s_launch (self);
    }
    if (rc) {
        int error = errno;
        char reason [256];
        snprintf (reason, sizeof (reason), "%s", zstate_reason ());
        zstate_redis_server_destroy (&self);
        zstate_fail (error, "%s", reason);
        return NULL;
    }
    return self;
}


//  --------------------------------------------------------------------------
//  Stop the server, remove its directory

static int
s_remove_one (const char *path, const struct stat *stat, int flag, struct FTW *ftw)
{
    (void) stat;
    (void) flag;
    (void) ftw;
    remove (path);
    return 0;
}

void
zstate_redis_server_destroy (zstate_redis_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_redis_server_t *self = *self_p;
        if (s_alive (self))
            zstate_redis_server_stop (self);
        //  Depth first, without following links: files, then directories
        nftw (self->dir, s_remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Start again on the same port and directory

int
zstate_redis_server_start (zstate_redis_server_t *self)
{
    assert (self);
    if (s_alive (self))
        return zstate_fail (EALREADY, "redis-server on port %d runs already", self->port);
    return s_launch (self);
}


//  --------------------------------------------------------------------------
//  Kill with SIGKILL and reap

int
zstate_redis_server_kill (zstate_redis_server_t *self)
{
    assert (self);
    if (!s_alive (self))
        return zstate_fail (ESRCH, "redis-server does not run");
    kill (self->pid, SIGKILL);
    waitpid (self->pid, NULL, 0);
    self->pid = 0;
    return 0;
}


//  --------------------------------------------------------------------------
//  Stop with SIGTERM, SIGKILL after STOP_TIMEOUT

int
zstate_redis_server_stop (zstate_redis_server_t *self)
{
    assert (self);
    if (!s_alive (self))
        return zstate_fail (ESRCH, "redis-server does not run");
    //  A frozen server would never see SIGTERM
    kill (self->pid, SIGCONT);
    kill (self->pid, SIGTERM);
    int64_t deadline = zclock_mono () + STOP_TIMEOUT;
    while (s_alive (self)) {
        if (zclock_mono () > deadline) {
            zsys_warning ("redis-server on port %d ignored SIGTERM, killing it", self->port);
            return zstate_redis_server_kill (self);
        }
        //  Waiting for the child to exit, with a deadline
        zclock_sleep (5);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Freeze and thaw

int
zstate_redis_server_freeze (zstate_redis_server_t *self)
{
    assert (self);
    if (!s_alive (self))
        return zstate_fail (ESRCH, "redis-server does not run");
    return kill (self->pid, SIGSTOP) == 0? 0: zstate_fail (errno, "kill: %s", strerror (errno));
}

int
zstate_redis_server_thaw (zstate_redis_server_t *self)
{
    assert (self);
    if (!s_alive (self))
        return zstate_fail (ESRCH, "redis-server does not run");
    return kill (self->pid, SIGCONT) == 0? 0: zstate_fail (errno, "kill: %s", strerror (errno));
}


//  --------------------------------------------------------------------------
//  Accessors

bool
zstate_redis_server_running (zstate_redis_server_t *self)
{
    assert (self);
    return s_alive (self);
}

int
zstate_redis_server_port (zstate_redis_server_t *self)
{
    assert (self);
    return self->port;
}

const char *
zstate_redis_server_endpoint (zstate_redis_server_t *self)
{
    assert (self);
    return self->endpoint;
}

const char *
zstate_redis_server_socket (zstate_redis_server_t *self)
{
    assert (self);
    return self->socket;
}

const char *
zstate_redis_server_dir (zstate_redis_server_t *self)
{
    assert (self);
    return self->dir;
}

int
zstate_redis_server_pid (zstate_redis_server_t *self)
{
    assert (self);
    return s_alive (self)? (int) self->pid: 0;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only
//  --------------------------------------------------------------------------
//  Self test of this class

//  Started with every signal blocked and SIGUSR2 ignored, as from an
//  actor thread of a host that ignores it: the server starts with neither,
//  and stops on SIGTERM
static void
s_test_masked (void)
{
    zstate_redis_server_t *masked = zstate_redis_server_new (false);
    assert (masked);
    assert (zstate_redis_server_stop (masked) == 0);
    sigset_t saved_mask;
    zstate_actor_block_signals (&saved_mask);
    struct sigaction ignore, saved_usr2;
    memset (&ignore, 0, sizeof (ignore));
    ignore.sa_handler = SIG_IGN;
    sigaction (SIGUSR2, &ignore, &saved_usr2);
    assert (zstate_redis_server_start (masked) == 0);
    sigaction (SIGUSR2, &saved_usr2, NULL);
    pthread_sigmask (SIG_SETMASK, &saved_mask, NULL);
    char status_path [64];
    snprintf (status_path, sizeof (status_path), "/proc/%d/status",
              (int) zstate_redis_server_pid (masked));
    FILE *status_file = fopen (status_path, "r");
    assert (status_file);
    char line [256];
    unsigned long long blocked = ~0ULL, ignored = ~0ULL;
    while (fgets (line, sizeof (line), status_file)) {
        sscanf (line, "SigBlk: %llx", &blocked);
        sscanf (line, "SigIgn: %llx", &ignored);
    }
    fclose (status_file);
    assert (!(blocked & (1ULL << (SIGTERM - 1))));
    assert (!(ignored & (1ULL << (SIGUSR2 - 1))));
    assert (zstate_redis_server_stop (masked) == 0);
    zstate_redis_server_destroy (&masked);
}

//  With appendonly yes, appendfsync always, a confirmed write survives
//  SIGKILL and a restart on the same port
static void
s_test_persistent (void)
{
    zstate_redis_server_t *server = zstate_redis_server_new (true);
    assert (server);
    int port = zstate_redis_server_port (server);
    char reply [256];
    assert (s_roundtrip (zstate_redis_server_socket (server), "SET kept yes\r\n",
                         reply, sizeof (reply), 30000) > 0);
    assert (strncmp (reply, "+OK", 3) == 0);
    assert (zstate_redis_server_kill (server) == 0);
    assert (zstate_redis_server_start (server) == 0);
    assert (zstate_redis_server_port (server) == port);
    assert (s_roundtrip (zstate_redis_server_socket (server), "GET kept\r\n",
                         reply, sizeof (reply), 30000) > 0);
    assert (streq (reply, "$3\r\nyes\r\n"));
    char dir [256];
    snprintf (dir, sizeof (dir), "%s", zstate_redis_server_dir (server));
    //  Destroy stops a running server and removes everything it wrote
    zstate_redis_server_destroy (&server);
    assert (!zsys_file_exists (dir));
    zstate_redis_server_destroy (&server);
}

//  A plain server: PING, ports and directories, freeze and thaw, a kill
//  that loses the data, stop and destroy
static void
s_test_plain (void)
{
    //  A plain server answers PING on its socket, and its port is free TCP
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    assert (zstate_redis_server_running (server));
    assert (zstate_redis_server_port (server) > 0);
    assert (zstate_redis_server_pid (server) > 0);
    char expected [32];
    snprintf (expected, sizeof (expected), "127.0.0.1:%d", zstate_redis_server_port (server));
    assert (streq (zstate_redis_server_endpoint (server), expected));
    char reply [256];
    assert (s_roundtrip (zstate_redis_server_socket (server), "PING\r\n",
                         reply, sizeof (reply), 30000) > 0);
    assert (strncmp (reply, "+PONG", 5) == 0);
    assert (zstate_redis_server_start (server) == -1 && errno == EALREADY);

    //  A second server gets another port and directory
    zstate_redis_server_t *other = zstate_redis_server_new (false);
    assert (other);
    assert (zstate_redis_server_port (other) != zstate_redis_server_port (server));
    assert (!streq (zstate_redis_server_dir (other), zstate_redis_server_dir (server)));
    zstate_redis_server_destroy (&other);
    assert (other == NULL);

    //  Freeze: no answer; thaw: answers again
    assert (zstate_redis_server_freeze (server) == 0);
    assert (s_roundtrip (zstate_redis_server_socket (server), "PING\r\n",
                         reply, sizeof (reply), 100) == -1);
    assert (zstate_redis_server_thaw (server) == 0);
    assert (s_roundtrip (zstate_redis_server_socket (server), "PING\r\n",
                         reply, sizeof (reply), 30000) > 0);

    //  Without persistence, a kill loses the data
    assert (s_roundtrip (zstate_redis_server_socket (server), "SET lost yes\r\n",
                         reply, sizeof (reply), 30000) > 0);
    assert (strncmp (reply, "+OK", 3) == 0);
    assert (zstate_redis_server_kill (server) == 0);
    assert (!zstate_redis_server_running (server));
    assert (zstate_redis_server_pid (server) == 0);
    assert (zstate_redis_server_kill (server) == -1);
    assert (zstate_redis_server_start (server) == 0);
    assert (s_roundtrip (zstate_redis_server_socket (server), "EXISTS lost\r\n",
                         reply, sizeof (reply), 30000) > 0);
    assert (strncmp (reply, ":0", 2) == 0);

    //  Stop, then destroy removes the directory
    char dir [256];
    snprintf (dir, sizeof (dir), "%s", zstate_redis_server_dir (server));
    assert (zsys_file_exists (dir));
    assert (zstate_redis_server_stop (server) == 0);
    assert (!zstate_redis_server_running (server));
    assert (zstate_redis_server_stop (server) == -1);
    zstate_redis_server_destroy (&server);
    assert (server == NULL);
    assert (!zsys_file_exists (dir));
}

void
zstate_redis_server_test (bool verbose)
{
    printf (" * zstate_redis_server: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  As the writer's fault tests use it: a private Redis to write to,
    //  killed with SIGKILL and started again on the same port, frozen and
    //  thawed; persistent, it keeps what it confirmed
    zstate_redis_server_t *redis_server = zstate_redis_server_new (true);
    assert (redis_server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_endpoint (redis_server));
    assert (redis && zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "SET", "kept", "yes", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_redis_server_kill (redis_server) == 0);
    assert (zstate_redis_command (redis, "PING", NULL) == -1);
    assert (zstate_redis_server_start (redis_server) == 0);
    assert (zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "GET", "kept", NULL) == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (redis, -1, NULL), "yes"));
    //  Frozen (SIGSTOP), it answers nothing until thawed
    zstate_redis_set_timeouts (redis, 1000, 200);
    assert (zstate_redis_connect (redis) == 0);
    assert (zstate_redis_server_freeze (redis_server) == 0);
    assert (zstate_redis_command (redis, "PING", NULL) == -1 && errno == ETIMEDOUT);
    assert (zstate_redis_server_thaw (redis_server) == 0);
    zstate_redis_set_timeouts (redis, 1000, 30000);
    assert (zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "PING", NULL) == ZSTATE_REDIS_STATUS);
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&redis_server);
    //  @end

    s_test_plain ();
    s_test_masked ();
    s_test_persistent ();

    printf ("OK\n");
}
#endif
