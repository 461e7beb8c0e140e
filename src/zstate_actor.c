/*  =========================================================================
    zstate_actor - a CZMQ actor that signals cannot break: started with
    signals blocked, torn down and queried with waits that ride out EINTR

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A zactor_t plus what its wrapper needs to talk to it safely: one
    request at a time, a deadline on each, a count of replies still owed
    to requests that gave up, and whether the actor has ended.
@discuss
    We keep zactor_t rather than run our own thread because the public
    accessors return it and applications poll it; the only parts of it we
    avoid are the two waits that EINTR breaks. zactor_destroy is still
    what frees it: once we have the final signal we set a zero receive
    timeout, so its own $TERM / zsock_wait returns at once.
@end
*/

#include "zstate_classes.h"

//  How often teardown says that it is still waiting, msecs (the selftest
//  shortens it)
static int s_teardown_warning = 10000;

//  zstate_set_command_timeout's deadline, msecs (atomic access)
static int s_command_timeout = ZSTATE_ACTOR_TIMEOUT_DEFAULT;

struct _zstate_actor_t {
    zactor_t *actor;            //  The CZMQ actor
    pthread_mutex_t mutex;      //  One request at a time
    size_t abandoned;           //  Replies owed to requests that gave up
    bool ended;                 //  The actor is gone (atomic access)
};


//  --------------------------------------------------------------------------
//  Set the deadline of every request a wrapper makes. Returns 0, or -1
//  with EINVAL.

int
zstate_set_command_timeout (int msecs)
{
    if (msecs < 1 || msecs > ZSTATE_ACTOR_TIMEOUT_MAX)
        return zstate_fail (EINVAL, "command timeout: %d msecs is not within 1 .. %d",
                            msecs, ZSTATE_ACTOR_TIMEOUT_MAX);
    __atomic_store_n (&s_command_timeout, msecs, __ATOMIC_RELAXED);
    return 0;
}


//  --------------------------------------------------------------------------
//  Return the deadline of every request a wrapper makes, msecs.

int
zstate_command_timeout (void)
{
    return __atomic_load_n (&s_command_timeout, __ATOMIC_RELAXED);
}


//  --------------------------------------------------------------------------
//  Block every signal that may be blocked; the fault signals stay open so
//  that a crash in the thread still kills it with a core (and sanitizers
//  still see it).

void
zstate_actor_block_signals (sigset_t *saved)
{
    sigset_t all;
    sigfillset (&all);
    sigdelset (&all, SIGSEGV);
    sigdelset (&all, SIGBUS);
    sigdelset (&all, SIGFPE);
    sigdelset (&all, SIGILL);
    sigdelset (&all, SIGTRAP);
    sigdelset (&all, SIGSYS);
    sigdelset (&all, SIGABRT);
    int rc = pthread_sigmask (SIG_BLOCK, &all, saved);
    assert (rc == 0);
}


//  --------------------------------------------------------------------------
//  Start the actor: the new thread inherits the full mask we hold while
//  zactor_new creates it, and the handshake cannot be interrupted.

zstate_actor_t *
zstate_actor_new (zactor_fn *handler, void *args)
{
    assert (handler);
    zstate_actor_t *self = (zstate_actor_t *) zmalloc (sizeof (zstate_actor_t));
    assert (self);
    int rc = pthread_mutex_init (&self->mutex, NULL);
    assert (rc == 0);
    sigset_t saved;
    zstate_actor_block_signals (&saved);
    self->actor = zactor_new (handler, args);
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    assert (self->actor);
    //  Requests go one at a time into a pipe with room for 1,000: a send
    //  that cannot go at once means the actor's end of the pipe is gone
    zsock_set_sndtimeo (zactor_sock (self->actor), 0);
    return self;
}


//  Mark the actor as ended
static void
s_set_ended (zstate_actor_t *self)
{
    __atomic_store_n (&self->ended, true, __ATOMIC_RELEASE);
}


//  --------------------------------------------------------------------------
//  Create a PAIR pipe, whatever signals come.

zsock_t *
zstate_actor_create_pipe (zsock_t **backend_p)
{
    sigset_t saved;
    zstate_actor_block_signals (&saved);
    zsock_t *frontend = zsys_create_pipe (backend_p);
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    return frontend;
}


//  Send one message as zsock_send does. libzmq fails even a send that
//  need not wait with EINTR, and zsock_send would then leave the frames it
//  sent waiting for the rest, to be glued to our next message; so send
//  with signals held (it never waits: the pipe has a zero send timeout).
static int
s_vsend (zsock_t *pipe, const char *picture, va_list args)
{
    sigset_t saved;
    zstate_actor_block_signals (&saved);
    int rc = zsock_vsend (pipe, picture, args);
    int error = zmq_errno ();
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    errno = error;
    return rc;
}

static int
s_send (zsock_t *pipe, const char *picture, ...)
{
    va_list args;
    va_start (args, picture);
    int rc = s_vsend (pipe, picture, args);
    va_end (args);
    return rc;
}


//  Receive the next message from the actor by deadline (a zclock_mono
//  time, or -1 for none), riding out signals. Returns NULL with errno
//  ETIMEDOUT at the deadline, or another errno when the pipe is unusable
//  (ETERM: the context is going).
static zmsg_t *
s_recv (zsock_t *pipe, int64_t deadline)
{
    while (true) {
        long timeout = -1;
        if (deadline >= 0) {
            int64_t now = zclock_mono ();
            if (now >= deadline) {
                errno = ETIMEDOUT;
                return NULL;
            }
            timeout = (long) (deadline - now);
        }
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, timeout);
        if (rc == -1 && zmq_errno () != EINTR)
            return NULL;
        if (rc > 0) {
            //  libzmq fails even a recv that need not wait with EINTR, and
            //  zmsg_recv would then drop the frames it read and leave the
            //  rest as a message of their own: read it whole, signals held
            sigset_t saved;
            zstate_actor_block_signals (&saved);
            zmsg_t *msg = zmsg_recv (pipe);
            int error = zmq_errno ();
            pthread_sigmask (SIG_SETMASK, &saved, NULL);
            if (msg)
                return msg;
            if (error != EINTR && error != EAGAIN) {
                errno = error;
                return NULL;
            }
        }
    }
}


//  --------------------------------------------------------------------------
//  End the actor and free it. Nulls the pointer.

void
zstate_actor_destroy (zstate_actor_t **self_p)
{
    assert (self_p);
    zstate_actor_t *self = *self_p;
    if (!self)
        return;
    zsock_t *pipe = zactor_sock (self->actor);
    //  $TERM finds no pipe only when the actor has ended: its shim closes
    //  its end after sending the final signal
    if (!zstate_actor_ended (self) && s_send (pipe, "s", "$TERM") == 0) {
        int64_t started = zclock_mono ();
        while (true) {
            int64_t deadline = zclock_mono () + s_teardown_warning;
            zmsg_t *msg = s_recv (pipe, deadline);
            if (!msg && errno == ETIMEDOUT) {
                zsys_warning ("zstate_actor: still waiting for an actor to end after %d s",
                              (int) ((zclock_mono () - started) / 1000));
                continue;
            }
            //  Replies still owed to abandoned requests go with the rest
            bool final = !msg || zmsg_signal (msg) >= 0;
            zmsg_destroy (&msg);
            if (final)
                break;
        }
    }
    s_set_ended (self);
    //  zactor_destroy sends $TERM again (into a pipe the actor has left)
    //  and calls zsock_wait, which now returns at once
    sigset_t saved;
    zstate_actor_block_signals (&saved);
    zsock_set_rcvtimeo (pipe, 0);
    zactor_destroy (&self->actor);
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}


//  --------------------------------------------------------------------------
//  Return the zactor_t.

zactor_t *
zstate_actor_zactor (zstate_actor_t *self)
{
    assert (self);
    return self->actor;
}


//  --------------------------------------------------------------------------
//  True once the actor has ended.

bool
zstate_actor_ended (zstate_actor_t *self)
{
    assert (self);
    return __atomic_load_n (&self->ended, __ATOMIC_ACQUIRE);
}


//  One request and its reply; the caller holds the mutex
static int
s_request (zstate_actor_t *self, int timeout, zmsg_t **rest_p, const char *command,
           const char *picture, va_list args)
{
    if (zstate_actor_ended (self))
        return zstate_fail (ESHUTDOWN, "%s: the actor has ended", command);
    zsock_t *pipe = zactor_sock (self->actor);
    if (s_vsend (pipe, picture, args) == -1) {
        s_set_ended (self);
        return zstate_fail (ESHUTDOWN, "%s: the actor has ended", command);
    }
    int64_t deadline = timeout < 0? -1: zclock_mono () + timeout;
    while (true) {
        zmsg_t *reply = s_recv (pipe, deadline);
        if (!reply && errno == ETIMEDOUT) {
            //  The actor may still answer; the next request skips that
            self->abandoned++;
            return zstate_fail (ETIMEDOUT, "%s: no reply in %d msecs", command, timeout);
        }
        if (!reply) {
            //  ETERM: the context is going, the actor may still be running
            int error = errno;
            return zstate_fail (error, "%s: %s", command, zmq_strerror (error));
        }
        if (zmsg_signal (reply) >= 0) {
            //  The final signal: the actor ended before it could reply
            zmsg_destroy (&reply);
            s_set_ended (self);
            return zstate_fail (ESHUTDOWN, "%s: the actor has ended", command);
        }
        if (self->abandoned) {
            self->abandoned--;
            zmsg_destroy (&reply);
            continue;
        }
        char *name = zmsg_popstr (reply);
        char *status_text = zmsg_popstr (reply);
        char *reason = zmsg_popstr (reply);
        //  Replies come in order; a mismatch is a broken actor, not input
        assert (name && streq (name, command));
        assert (status_text);
        int status = atoi (status_text);
        int rc = status? zstate_fail (status, "%s", reason? reason: ""): 0;
        free (name);
        free (status_text);
        free (reason);
        if (rest_p && rc == 0)
            *rest_p = reply;
        else
            zmsg_destroy (&reply);
        return rc;
    }
}


//  --------------------------------------------------------------------------
//  Send a command, wait for its reply.

int
zstate_actor_request (zstate_actor_t *self, int timeout, zmsg_t **rest_p,
                      const char *picture, ...)
{
    va_list args;
    va_start (args, picture);
    int rc = zstate_actor_vrequest (self, timeout, rest_p, picture, args);
    va_end (args);
    return rc;
}

int
zstate_actor_vrequest (zstate_actor_t *self, int timeout, zmsg_t **rest_p,
                       const char *picture, va_list args)
{
    assert (self);
    assert (picture && *picture == 's');
    if (rest_p)
        *rest_p = NULL;
    va_list peek;
    va_copy (peek, args);
    const char *command = va_arg (peek, const char *);
    va_end (peek);
    assert (command);
    pthread_mutex_lock (&self->mutex);
    int rc = s_request (self, timeout, rest_p, command, picture, args);
    int error = errno;
    pthread_mutex_unlock (&self->mutex);
    errno = error;
    return rc;
}


//  --------------------------------------------------------------------------
//  Run loop until a handler ends it.

void
zstate_actor_loop (zloop_t *loop)
{
    assert (loop);
    while (zloop_start (loop) == 0 && zmq_errno () == EINTR)
        ;
}


//  --------------------------------------------------------------------------
//  Read one command from pipe and dispatch it to handler.

int
zstate_actor_command (zsock_t *pipe, const char *name, bool verbose,
                      zstate_actor_command_fn *handler, void *self)
{
    assert (pipe && name && handler);
    zmsg_t *request = zmsg_recv (pipe);
    if (!request)               //  Only $TERM ends us; ETERM leaves no choice
        return zmq_errno () == ETERM? -1: 0;
    char *command = zmsg_popstr (request);
    int rc = 0;
    if (!command)
        zsys_error ("%s empty command", name);
    else {
        if (verbose)
            zsys_debug ("%s command %s", name, command);
        if (streq (command, "$TERM"))
            rc = -1;
        else
        if (handler (self, command, request) == -1) {
            zsys_error ("%s unknown command '%s'", name, command);
            zstate_reply (pipe, command, EINVAL, "unknown command", false);
        }
    }
    free (command);
    zmsg_destroy (&request);
    return rc;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest

//  Counts SIGUSR1s that reached a handler. The handler runs on the actor's
//  thread and the test reads on its own: atomics, since volatile orders
//  nothing between threads (lock-free, so safe in a handler)
static int s_test_signals;

static void
s_test_handler (int signum)
{
    (void) signum;
    __atomic_fetch_add (&s_test_signals, 1, __ATOMIC_RELAXED);
}

//  The test actor's state
typedef struct {
    zsock_t *pipe;              //  Our end of the command pipe
    int late;                   //  msecs $TERM (and DIE) take
    bool dying;                 //  DIE came: end without a reply
    bool verbose;               //  Log every command
} test_actor_t;

//  The commands the test needs:
//      BLOCKED     -> [1 when SIGUSR1, SIGINT and SIGTERM are blocked here]
//      KILL p      -> signals the thread p (a pthread_t *) with SIGUSR1,
//                     then replies
//      SLOW i      -> sleeps i msecs, then replies
//      DIE         -> ends without a reply, as a crashed actor would
//      LATE i      -> from now on $TERM (and DIE) take i msecs
//      VERBOSE [0] -> from now on every command is logged (or not)
static int
s_test_command (void *arg, const char *command, zmsg_t *request)
{
    test_actor_t *self = (test_actor_t *) arg;
    zsock_t *pipe = self->pipe;
    if (streq (command, "BLOCKED")) {
        sigset_t mask;
        pthread_sigmask (SIG_SETMASK, NULL, &mask);
        bool blocked = sigismember (&mask, SIGUSR1) && sigismember (&mask, SIGINT)
                    && sigismember (&mask, SIGTERM);
        zstate_reply (pipe, command, 0, "", true);
        zstr_send (pipe, blocked? "1": "0");
    }
    else
    if (streq (command, "KILL")) {
        zframe_t *frame = zmsg_pop (request);
        assert (frame && zframe_size (frame) == sizeof (void *));
        pthread_t *thread = *(pthread_t **) zframe_data (frame);
        zframe_destroy (&frame);
        pthread_kill (*thread, SIGUSR1);
        zclock_sleep (20);
        zstate_reply (pipe, command, 0, "", false);
    }
    else
    if (streq (command, "SLOW")) {
        char *delay = zmsg_popstr (request);
        zclock_sleep (atoi (delay));
        free (delay);
        zstate_reply (pipe, command, 0, "", false);
    }
    else
    if (streq (command, "DIE"))
        self->dying = true;
    else
    if (streq (command, "LATE")) {
        char *delay = zmsg_popstr (request);
        self->late = atoi (delay);
        free (delay);
        zstate_reply (pipe, command, 0, "", false);
    }
    else
    if (streq (command, "VERBOSE")) {
        char *flag = zmsg_popstr (request);
        self->verbose = !flag || !streq (flag, "0");
        free (flag);
        zstate_reply (pipe, command, 0, "", false);
    }
    else
        return -1;
    return 0;
}

static int
s_test_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    test_actor_t *self = (test_actor_t *) arg;
    int rc = zstate_actor_command (reader, "zstate_actor test:", self->verbose,
                                   s_test_command, self);
    if (self->dying)
        rc = -1;
    if (rc == -1 && self->late)
        zclock_sleep (self->late);
    return rc;
}

static void
s_test_actor (zsock_t *pipe, void *args)
{
    zloop_t *loop = zloop_new ();
    assert (loop);
    zloop_set_nonstop (loop, true);
    test_actor_t self = { .pipe = pipe };
    zloop_reader (loop, pipe, s_test_handle_pipe, &self);
    zloop_reader_set_tolerant (loop, pipe);
    //  The raw-zactor case of the test opens SIGUSR1 to prove the restart
    if (args) {
        sigset_t usr1;
        sigemptyset (&usr1);
        sigaddset (&usr1, SIGUSR1);
        pthread_sigmask (SIG_UNBLOCK, &usr1, NULL);
        *(pthread_t *) args = pthread_self ();
    }
    zsock_signal (pipe, 0);
    zstate_actor_loop (loop);
    zloop_destroy (&loop);
}

//  A signal landing on the waiting caller does not end the wait: the
//  actor signals us before it replies, so the signal certainly came
static void
s_test_signal_in_wait (zstate_actor_t *actor)
{
    pthread_t me = pthread_self ();
    __atomic_store_n (&s_test_signals, 0, __ATOMIC_RELAXED);
    int rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "sp", "KILL", &me);
    assert (rc == 0);
    assert (__atomic_load_n (&s_test_signals, __ATOMIC_RELAXED) == 1);
}

//  A request that times out leaves a late reply, which the next request
//  skips
static void
s_test_late_reply (zstate_actor_t *actor)
{
    int rc = zstate_actor_request (actor, 0, NULL, "si", "SLOW", 200);
    assert (rc == -1 && errno == ETIMEDOUT);
    rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "s", "BOGUS");
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "SLOW", 0);
    assert (rc == 0);
}

//  The deadline of every wrapper's request is settable: a command slower
//  than it fails with ETIMEDOUT (its late reply skipped by the next);
//  values outside 1 .. 3,600,000 are refused
static void
s_test_command_timeout (zstate_actor_t *actor)
{
    assert (zstate_command_timeout () == ZSTATE_ACTOR_TIMEOUT_DEFAULT);
    assert (zstate_set_command_timeout (0) == -1 && errno == EINVAL);
    assert (zstate_set_command_timeout (-1) == -1 && errno == EINVAL);
    assert (zstate_set_command_timeout (ZSTATE_ACTOR_TIMEOUT_MAX + 1) == -1
         && errno == EINVAL);
    assert (zstate_command_timeout () == ZSTATE_ACTOR_TIMEOUT_DEFAULT);
    assert (zstate_set_command_timeout (50) == 0);
    assert (ZSTATE_ACTOR_TIMEOUT == 50);
    int rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "SLOW", 500);
    assert (rc == -1 && errno == ETIMEDOUT);
    assert (streq (zstate_reason (), "SLOW: no reply in 50 msecs"));
    assert (zstate_set_command_timeout (ZSTATE_ACTOR_TIMEOUT_DEFAULT) == 0);
    rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "SLOW", 0);
    assert (rc == 0);
}

//  Teardown waits as long as the actor takes, without deadline, saying
//  so in the log every interval (10 s; 50 msecs here)
static void
s_test_teardown_wait (void)
{
    zstate_actor_t *actor = zstate_actor_new (s_test_actor, NULL);
    int rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "LATE", 300);
    assert (rc == 0);
    FILE *log = tmpfile ();
    assert (log);
    zsys_set_logstream (log);
    s_teardown_warning = 50;
    zstate_actor_destroy (&actor);
    s_teardown_warning = 10000;
    zsys_set_logstream (stderr);
    rewind (log);
    char line [256];
    size_t warnings = 0;
    while (fgets (line, sizeof (line), log))
        warnings += strstr (line, "still waiting for an actor to end") != NULL;
    fclose (log);
    assert (warnings >= 1);
}

//  The shared pipe reader refuses a command the actor does not know, an
//  empty one too, logs it, and when verbose logs every command
static void
s_test_commands (zstate_actor_t *actor)
{
    FILE *log = tmpfile ();
    assert (log);
    zsys_set_logstream (log);
    int rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "s", "VERBOSE");
    assert (rc == 0);
    rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "NOSUCH", "arg");
    assert (rc == -1 && errno == EINVAL);
    assert (streq (zstate_reason (), "unknown command"));
    rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "s", "");
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "si", "SLOW", 0);
    assert (rc == 0);
    rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "ss", "VERBOSE", "0");
    assert (rc == 0);
    zsys_set_logstream (stderr);
    rewind (log);
    char line [256];
    bool logged = false, refused = false;
    while (fgets (line, sizeof (line), log)) {
        logged |= strstr (line, "zstate_actor test: command SLOW") != NULL;
        refused |= strstr (line, "zstate_actor test: unknown command 'NOSUCH'") != NULL;
    }
    fclose (log);
    assert (logged && refused);
}

//  An actor that ends by itself is reported, at once and every time; the
//  same through the raw pipe, where the final signal is still unread.
//  Takes actor and destroys it.
static void
s_test_actor_ends (zstate_actor_t *actor)
{
    int rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "s", "DIE");
    assert (rc == -1 && errno == ESHUTDOWN);
    assert (zstate_actor_ended (actor));
    rc = zstate_actor_request (actor, -1, NULL, "si", "SLOW", 0);
    assert (rc == -1 && errno == ESHUTDOWN);
    zstate_actor_destroy (&actor);

    actor = zstate_actor_new (s_test_actor, NULL);
    rc = zstr_send (zstate_actor_zactor (actor), "DIE");
    assert (rc == 0);
    zstate_actor_destroy (&actor);
}

//  A loop whose poll sees EINTR goes on: an actor that opens SIGUSR1
//  (ours never do) still answers after signals reached it
static void
s_test_loop_eintr (void)
{
    pthread_t thread;
    zactor_t *raw = zactor_new (s_test_actor, &thread);
    assert (raw);
    for (int count = 0; count < 10; count++) {
        int before = __atomic_load_n (&s_test_signals, __ATOMIC_RELAXED);
        pthread_kill (thread, SIGUSR1);
        int64_t deadline = zclock_mono () + 5000;
        while (__atomic_load_n (&s_test_signals, __ATOMIC_RELAXED) == before
        &&     zclock_mono () < deadline)
            zclock_sleep (1);
        assert (__atomic_load_n (&s_test_signals, __ATOMIC_RELAXED) == before + 1);
    }
    int rc = zstr_sendx (raw, "SLOW", "0", NULL);
    assert (rc == 0);
    char *command = NULL, *status = NULL, *reason = NULL;
    rc = zstr_recvx (raw, &command, &status, &reason, NULL);
    assert (rc == 3 && streq (command, "SLOW") && streq (status, "0"));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    zactor_destroy (&raw);
}

void
zstate_actor_test (bool verbose)
{
    printf (" * zstate_actor: ");
    //  @selftest
    //  A component's wrapper starts its actor, sends it commands with a
    //  deadline and reads the results after [command][status][reason];
    //  here the actor answers BLOCKED with whether its thread has the
    //  process signals blocked
    zstate_actor_t *actor = zstate_actor_new (s_test_actor, NULL);
    assert (actor);
    assert (!zstate_actor_ended (actor));
    zmsg_t *rest = NULL;
    int rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, &rest, "s", "BLOCKED");
    assert (rc == 0 && rest);
    char *blocked = zmsg_popstr (rest);
    assert (blocked && streq (blocked, "1"));
    free (blocked);
    zmsg_destroy (&rest);

    //  A failed command comes back as errno and reason
    rc = zstate_actor_request (actor, ZSTATE_ACTOR_TIMEOUT, NULL, "s", "BOGUS");
    assert (rc == -1 && errno == EINVAL);
    assert (streq (zstate_reason (), "unknown command"));

    //  Destroy sends $TERM and waits until the actor has ended
    zstate_actor_destroy (&actor);
    assert (actor == NULL);
    zstate_actor_destroy (&actor);
    //  @end

    //  No SA_RESTART: waits see EINTR
    struct sigaction action, saved_action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_test_handler;
    sigemptyset (&action.sa_mask);
    action.sa_flags = 0;
    sigaction (SIGUSR1, &action, &saved_action);

    actor = zstate_actor_new (s_test_actor, NULL);
    s_test_signal_in_wait (actor);
    s_test_late_reply (actor);
    s_test_command_timeout (actor);
    s_test_commands (actor);
    s_test_teardown_wait ();
    s_test_actor_ends (actor);
    s_test_loop_eintr ();

    sigaction (SIGUSR1, &saved_action, NULL);
    if (verbose)
        zsys_debug ("zstate_actor: %d signals handled",
                    __atomic_load_n (&s_test_signals, __ATOMIC_RELAXED));
    printf ("OK\n");
}
#endif
