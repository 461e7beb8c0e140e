/*  =========================================================================
    zstate_fault_producer - a producer in a child process, for the fault
    harness

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"
#include "zstate_fault_producer.h"
#include "zstate_fault_server.h"
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

#define ANSWER_TIMEOUT  120000  //  msecs for a child to send and flush
#define FLUSH_TIMEOUT   60000   //  msecs for the child's flush
#define RETRY_TIMEOUT   30000   //  msecs a refused send is tried again

struct _zstate_fault_producer_t {
    char *endpoint;
    size_t keys;
    pid_t pid;
    int answers;                //  a split view's reply pipe, else -1
};

zstate_fault_producer_t *
zstate_fault_producer_new (const char *endpoint, size_t keys)
{
    assert (endpoint);
    zstate_fault_producer_t *self = (zstate_fault_producer_t *) zmalloc (sizeof (*self));
    assert (self);
    self->endpoint = strdup (endpoint);
    self->keys = keys;
    self->answers = -1;
    return self;
}

void
zstate_fault_producer_destroy (zstate_fault_producer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_fault_producer_t *self = *self_p;
        if (self->pid)
            zstate_fault_producer_end (self, SIGKILL);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

//  Wait for the child's answer on fd; returns 0 on 'F', else -1 with errno
static int
s_wait_answer (int fd)
{
    int64_t deadline = zclock_mono () + ANSWER_TIMEOUT;
    while (zclock_mono () < deadline) {
        struct pollfd item = { fd, POLLIN, 0 };
        int rc = poll (&item, 1, (int) (deadline - zclock_mono ()));
        if (rc <= 0)
            continue;
        char answer;
        ssize_t size = read (fd, &answer, 1);
        if (size == 1) {
            errno = EIO;
            return answer == 'F'? 0: -1;
        }
        if (size == 0 || errno != EINTR) {
            errno = ECHILD;
            return -1;
        }
    }
    errno = ETIMEDOUT;
    return -1;
}

int
zstate_fault_producer_run (zstate_fault_producer_t *self, unsigned round, unsigned share,
                           const char *view, int level)
{
    assert (self);
    assert (streq (view, "none") || streq (view, "view") || streq (view, "single")
         || streq (view, "open") || streq (view, "split"));
    if (self->pid) {
        errno = EBUSY;
        return -1;
    }
    int channel [2];
    if (pipe (channel) == -1)
        return -1;
    fcntl (channel [0], F_SETFD, FD_CLOEXEC);
    //  Every argument is built before fork: the child only execs
    char keys [32], rounds [16], shares [16], levels [16], reply [16];
    snprintf (keys, sizeof (keys), "%zu", self->keys);
    snprintf (rounds, sizeof (rounds), "%u", round);
    snprintf (shares, sizeof (shares), "%u", share);
    snprintf (levels, sizeof (levels), "%d", level);
    snprintf (reply, sizeof (reply), "%d", channel [1]);
    char program [4096];
    zstate_fault_program (program, sizeof (program));
    char *args [] = { "zstate_faults", "producer", self->endpoint, keys, rounds, shares,
                      (char *) view, levels, reply, NULL };
    pid_t pid = zstate_fault_spawn (program, args, channel [1], NULL);
    if (pid == -1) {
        close (channel [0]);
        close (channel [1]);
        return -1;
    }
    close (channel [1]);
    self->pid = pid;
    int rc = s_wait_answer (channel [0]);
    int saved = errno;
    if (rc == 0 && streq (view, "split"))
        self->answers = channel [0];
    else
        close (channel [0]);
    errno = saved;
    return rc;
}

int
zstate_fault_producer_resume (zstate_fault_producer_t *self)
{
    assert (self);
    if (self->answers == -1) {
        errno = ESRCH;
        return -1;
    }
    kill (self->pid, SIGUSR1);
    int rc = s_wait_answer (self->answers);
    int saved = errno;
    close (self->answers);
    self->answers = -1;
    errno = saved;
    return rc;
}

int
zstate_fault_producer_end (zstate_fault_producer_t *self, int signum)
{
    assert (self);
    if (!self->pid) {
        errno = ESRCH;
        return -1;
    }
    if (signum)
        kill (self->pid, signum);
    if (self->answers != -1) {
        close (self->answers);
        self->answers = -1;
    }
    int status = 0;
    //  A child that does not exit in time is killed: nothing waits for ever
    pid_t reaped = 0;
    for (int tick = 0; tick < ANSWER_TIMEOUT / 10 && reaped == 0; tick++) {
        reaped = waitpid (self->pid, &status, WNOHANG);
        if (reaped == 0)
            zclock_sleep (10);
    }
    if (reaped == 0) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, &status, 0);
    }
    self->pid = 0;
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  --------------------------------------------------------------------------
//  The child

//  Send one SET, trying again while the client is full or not connected
static int
s_send (zstate_producer_t *producer, const char *key, const char *seq)
{
    int64_t deadline = zclock_mono () + RETRY_TIMEOUT;
    int rc;
    while ((rc = zstate_producer_set (producer, key, "seq", seq, NULL))
       &&  (errno == ENOBUFS || errno == ENOTCONN) && zclock_mono () < deadline)
        zclock_sleep (1);
    return rc;
}

//  Key numbers from to to of the round, the view begun before when begin,
//  ended after when end; returns 0 when everything was accepted
static int
s_round (zstate_producer_t *producer, size_t from, size_t to, unsigned round,
         unsigned share, bool begin, bool end)
{
    int rc = begin? zstate_producer_begin_view (producer): 0;
    char seq [16];
    snprintf (seq, sizeof (seq), "%u", round);
    for (size_t number = from; number < to && rc == 0; number++) {
        if (number % 10 >= share)
            continue;
        char key [16];
        snprintf (key, sizeof (key), "k%07u", (unsigned) number);
        rc = s_send (producer, key, seq);
    }
    if (rc == 0 && end)
        rc = zstate_producer_end_view (producer);
    if (rc)
        fprintf (stderr, "zstate_faults producer: %s\n", zstate_reason ());
    return rc;
}

//  Flush, answer 'F' (or 'X' when rc or the flush failed); returns rc
static int
s_answer (zstate_client_t *client, int reply, int rc)
{
    if (rc == 0)
        rc = zstate_client_flush (client, FLUSH_TIMEOUT);
    char answer = rc? 'X': 'F';
    if (write (reply, &answer, 1) != 1)
        rc = -1;
    return rc;
}

int
zstate_fault_producer_main (int argc, char *argv [])
{
    if (argc != 9) {
        fprintf (stderr, "zstate_faults producer: ENDPOINT KEYS ROUND SHARE "
                 "none|view|single|open|split LEVEL REPLY_FD\n");
        return 2;
    }
    size_t keys = (size_t) atol (argv [3]);
    unsigned round = (unsigned) atoi (argv [4]), share = (unsigned) atoi (argv [5]);
    const char *view = argv [6];
    int reply = atoi (argv [8]);
    bool split = streq (view, "split");
    //  "single" is a view of one operation per wire message, to fill a
    //  writer by message count whatever the machine's load
    bool single = streq (view, "single");
    //  A split view goes on at SIGUSR1, taken by sigwait: blocked before
    //  any thread starts, so that none of them takes it
    sigset_t resume;
    sigemptyset (&resume);
    sigaddset (&resume, SIGUSR1);
    pthread_sigmask (SIG_BLOCK, &resume, NULL);
    zsys_init ();
    zsys_set_logstream (stderr);
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    zstate_client_set_link_timeout (client, 0);
    //  Only the count changes: 256 KiB is the client's default bound
    if (single)
        zstate_client_set_batch (client, 1, 256 * 1024);
    int rc = zstate_client_set_ack_level (client, atoi (argv [7]));
    if (rc == 0)
        rc = zstate_client_connect (client, argv [2]);
    zstate_producer_t *producer = zstate_producer_new (client, ZSTATE_FAULT_DB,
                                                       ZSTATE_FAULT_TABLE);
    assert (producer);
    if (rc == 0)
        rc = zstate_producer_set_mirror (producer, keys);
    if (rc == 0)
        rc = s_round (producer, 0, split? keys / 2: keys, round, share, strneq (view, "none"),
                      streq (view, "view") || single);
    rc = s_answer (client, reply, rc);
    int signum;
    if (split && rc == 0 && sigwait (&resume, &signum) == 0)
        rc = s_answer (client, reply,
                       s_round (producer, keys / 2, keys, round, share, false, true));
    //  Dies in its view: only SIGKILL ends it
    while (streq (view, "open"))
        pause ();
    zstate_producer_destroy (&producer);
    zstate_client_set_linger (client, 0);
    zstate_client_destroy (&client);
    close (reply);
    return rc? 1: 0;
}

//  --------------------------------------------------------------------------
//  Self test

//  Wait up to 20 s for the observer to have popped count operations
static bool
s_popped (zstate_fault_server_t *server, size_t count)
{
    for (int tick = 0; tick < 2000; tick++) {
        if (zstate_fault_server_popped (server) >= count)
            return true;
        zclock_sleep (10);
    }
    return false;
}

void
zstate_fault_producer_test (bool verbose)
{
    printf (" * zstate_fault_producer: ");
    char dir [] = "/tmp/zstate-fault-producer-XXXXXX";
    assert (mkdtemp (dir));
    zstate_fault_server_t *server = zstate_fault_server_new (ZSTATE_FAULT_OBSERVER, dir, NULL);
    zstate_fault_server_set_mode (server, "view", 20);
    assert (zstate_fault_server_start (server) == 0);
    zstate_fault_producer_t *producer = zstate_fault_producer_new (
        zstate_fault_server_endpoint (server), 20);
    assert (zstate_fault_producer_end (producer, 0) == -1 && errno == ESRCH);
    //  Half the keys, seq 1: k % 10 < 5 of 20 keys is 10 keys, then it
    //  exits by itself
    assert (zstate_fault_producer_run (producer, 1, 5, "none", ZSTATE_ACK_DELIVERED) == 0);
    assert (zstate_fault_producer_end (producer, 0) == 0);
    assert (s_popped (server, 10));
    //  One that holds its view open waits to be killed; while it runs no
    //  other starts
    assert (zstate_fault_producer_run (producer, 2, 10, "open", ZSTATE_ACK_DELIVERED) == 0);
    assert (zstate_fault_producer_run (producer, 3, 10, "none", ZSTATE_ACK_DELIVERED) == -1);
    assert (errno == EBUSY);
    assert (s_popped (server, 30));
    assert (zstate_fault_producer_end (producer, SIGKILL) == -1);
    const char *dump = zstate_fault_server_dump (server);
    assert (dump);
    FILE *file = fopen (dump, "r");
    assert (file);
    char line [256];
    size_t present = 0;
    while (fgets (line, sizeof (line), file))
        present += line [0] != 'S' && streq (line + 8, "000000002\n");
    fclose (file);
    assert (present == 20);
    if (verbose)
        zsys_info ("zstate_fault_producer test: %zu keys at seq 2", present);
    zstate_fault_producer_destroy (&producer);
    assert (producer == NULL);
    zstate_fault_server_destroy (&server);
    assert (rmdir (dir) == 0);
    printf ("OK\n");
}
