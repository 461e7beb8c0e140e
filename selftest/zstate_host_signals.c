/*  =========================================================================
    zstate_host_signals - a host application that embeds zstate and keeps
    its own SIGINT and SIGTERM handlers, as README.md's "Signals" says it
    can: with ZSYS_SIGHANDLER=false in the environment, or with
    zsys_handler_set (NULL) before the first zstate call. Without either,
    CZMQ's handler takes over, as the README warns.

    Each case runs in a child forked before any CZMQ call, so each starts
    as a fresh process would. Run by make check; exits 0 when every case
    behaves as the README says.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"
#include <signal.h>
#include <sys/wait.h>
#include "zstate_test_assert.h"     //  last: asserts on in every build

#define ADVICE_NONE     0       //  The host does nothing about CZMQ
#define ADVICE_ENV      1       //  ZSYS_SIGHANDLER=false before the first call
#define ADVICE_CALL     2       //  zsys_handler_set (NULL) before the first call

//  What reached the host's own handler
static volatile sig_atomic_t s_host_sigint = 0;
static volatile sig_atomic_t s_host_sigterm = 0;

static void
s_host_handler (int signum)
{
    if (signum == SIGINT)
        s_host_sigint++;
    else
        s_host_sigterm++;
}

//  Is the host's handler still the one installed for signum?
static bool
s_host_owns (int signum)
{
    struct sigaction current;
    int rc = sigaction (signum, NULL, &current);
    assert (rc == 0);
    return current.sa_handler == s_host_handler;
}

//  The host: its own handlers first, then the advice, then a server, a
//  consumer table and a client sending to it, as an application would
static int
s_host (int advice)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_host_handler;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    if (advice == ADVICE_ENV)
        setenv ("ZSYS_SIGHANDLER", "false", 1);
    else
        unsetenv ("ZSYS_SIGHANDLER");
    if (advice == ADVICE_CALL)
        zsys_handler_set (NULL);

    zstate_server_t *server = zstate_server_new ();
    assert (server);
    assert (zstate_server_bind (server, "inproc://host-signals") == 0);
    zstate_consumer_t *consumer = zstate_consumer_new (server, "APPL_DB", "ROUTES");
    assert (consumer);
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    assert (zstate_client_connect (client, "inproc://host-signals") == 0);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, "10.0.0.0/24", "nexthop", "10.0.0.1", NULL) == 0);
    assert (zstate_client_send (client, "APPL_DB", "ROUTES", batch) == 0);
    assert (zstate_client_flush (client, 30000) == 0);

    //  Both signals, as Ctrl-C and kill would send them, while zstate runs
    raise (SIGINT);
    raise (SIGTERM);
    bool kept = s_host_owns (SIGINT) && s_host_owns (SIGTERM)
             && s_host_sigint == 1 && s_host_sigterm == 1 && !zsys_interrupted;
    bool taken = !s_host_owns (SIGINT) && !s_host_owns (SIGTERM)
              && s_host_sigint == 0 && s_host_sigterm == 0 && zsys_interrupted;

    //  The library still works after the signals, and ends cleanly
    assert (zstate_consumer_pending (consumer) == 1);
    assert (zstate_client_close (&client, 30000) == 0);
    zstate_batch_destroy (&batch);
    zstate_consumer_destroy (&consumer);
    zstate_server_destroy (&server);
    if (advice == ADVICE_NONE)
        return taken? 0: 1;
    return kept? 0: 1;
}

//  Run the host with advice in a fresh child; true when it exits 0
static bool
s_case (int advice)
{
    fflush (stdout);
    pid_t pid = fork ();
    assert (pid != -1);
    if (pid == 0)
        _exit (s_host (advice));
    int status;
    pid_t reaped = waitpid (pid, &status, 0);
    assert (reaped == pid);
    return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

int
main (void)
{
    const char *names [] = {
        "without the advice CZMQ takes SIGINT and SIGTERM",
        "ZSYS_SIGHANDLER=false keeps the host's handlers",
        "zsys_handler_set (NULL) keeps the host's handlers"
    };
    int failed = 0;
    for (int advice = ADVICE_NONE; advice <= ADVICE_CALL; advice++) {
        bool pass = s_case (advice);
        printf ("%s - %s\n", pass? "ok": "not ok", names [advice]);
        failed += !pass;
    }
    return failed? 1: 0;
}
