/*  =========================================================================
    zstate_actor - a CZMQ actor that signals cannot break: started with
    signals blocked, torn down and queried with waits that ride out EINTR

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_ACTOR_H_INCLUDED
#define ZSTATE_ACTOR_H_INCLUDED

//  Every component's wrapper holds one of these around its zactor_t. The
//  zactor_t stays what the public zstate_*_actor () accessors return, so
//  applications can still poll it and send it commands; what changes is
//  how we start it, wait on it and end it:
//
//  - czmq 4.2.1 zactor_new creates a detached thread and then waits for
//    the handshake with zsock_wait, which returns early on EINTR; the
//    default teardown ($TERM, then zsock_wait) does the same, so the
//    caller used to free what the thread still used. We block every
//    maskable signal around zactor_new: the thread inherits the full
//    mask (so no process signal ever lands on an actor thread) and the
//    handshake cannot be interrupted. Teardown sends $TERM and waits for
//    the thread's final signal ourselves, retrying on EINTR, with the
//    caller's signals left alone.
//  - The shim sends the final signal after the actor function has
//    returned, so once we have it the actor touches nothing of ours.
//  - Requests have deadlines; a reply that comes after its request gave
//    up is discarded by the next request, never read as its answer.
//  - Once the actor has ended (the final signal seen, or its end of the
//    pipe gone), every request fails at once with ESHUTDOWN.
//
//  Commands are [command][arguments...], replies [command][status]
//  [reason][results...] (zstate_reply); status is an errno value.

typedef struct _zstate_actor_t zstate_actor_t;

//  Deadline for a request, msecs: zstate_set_command_timeout's, 30,000 by
//  default. Our actors answer every command at once except FLUSH, which
//  gets its own on top of this.
#define ZSTATE_ACTOR_TIMEOUT    zstate_command_timeout ()
#define ZSTATE_ACTOR_TIMEOUT_DEFAULT    30000
#define ZSTATE_ACTOR_TIMEOUT_MAX        3600000

//  Start handler on a new thread with every maskable signal blocked and
//  wait for its zsock_signal. Never fails (asserts on OOM).
zstate_actor_t *
    zstate_actor_new (zactor_fn *handler, void *args);

//  Send $TERM and wait until the actor has ended, through signals; then
//  free. Nulls the pointer. Waits without deadline, by design: freeing
//  what the actor still uses is never an option; a warning is logged
//  every 10 s while it waits.
void
    zstate_actor_destroy (zstate_actor_t **self_p);

//  Return the zactor_t, for the public accessors.
zactor_t *
    zstate_actor_zactor (zstate_actor_t *self);

//  True once the actor is known to have ended.
bool
    zstate_actor_ended (zstate_actor_t *self);

//  Send the command and its arguments as zsock_send does with picture,
//  whose first item is the command, an "s"; then wait up to timeout msecs
//  (-1: no deadline) for its reply, through signals. Callers on several
//  threads are serialised. Returns 0 when the reply's status is 0, else
//  -1 with errno and zstate_reason (): the reply's status and reason,
//  ETIMEDOUT at the deadline, ESHUTDOWN once the actor has ended (ETERM
//  while the context is ending, the actor perhaps still running). Frames
//  after the reason go to *rest_p when rest_p is not NULL (the caller
//  destroys them; NULL on failure).
int
    zstate_actor_request (zstate_actor_t *self, int timeout, zmsg_t **rest_p,
                          const char *picture, ...);

//  The same, with the arguments in a va_list.
int
    zstate_actor_vrequest (zstate_actor_t *self, int timeout, zmsg_t **rest_p,
                           const char *picture, va_list args);

//  Run the actor's loop until a handler returns -1. czmq 4.2.1
//  zloop_start returns (with 0) when zmq_poll fails with EINTR even when
//  the loop is nonstop; this restarts it then, and ends on anything else
//  (ETERM: the context is going).
void
    zstate_actor_loop (zloop_t *loop);

//  An actor's command handler for zstate_actor_command: do what command
//  asks, its arguments the frames left in request (which the caller
//  destroys), and answer it with exactly one zstate_reply. Return 0, or
//  -1 when the actor has no such command (it then replies nothing).
typedef int (zstate_actor_command_fn) (void *self, const char *command,
                                       zmsg_t *request);

//  The pipe reader's part every actor shares: read one command message
//  from pipe and give it to handler with self. $TERM is not given: it
//  returns -1, which ends the loop (so does ETERM, the context going);
//  a command the handler does not know is logged and refused with
//  EINVAL, "unknown command". name starts each log line (e.g.
//  "zstate_server:"); when verbose, every command is logged. Returns
//  what a zloop reader returns: -1 to end the loop, else 0.
int
    zstate_actor_command (zsock_t *pipe, const char *name, bool verbose,
                          zstate_actor_command_fn *handler, void *self);

//  zsys_create_pipe with signals held: libzmq fails even a connect that
//  need not wait with EINTR, and zsys_create_pipe asserts that it does not
//  fail. For the event pipes the wrappers create on the caller's thread.
zsock_t *
    zstate_actor_create_pipe (zsock_t **backend_p);

//  Block every signal that may be blocked (not the ones that report a
//  fault in the thread itself) and save the old mask in *saved.
void
    zstate_actor_block_signals (sigset_t *saved);

//  Selftest
void
    zstate_actor_test (bool verbose);

#endif
