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

#ifndef ZSTATE_FAULT_SERVER_H_INCLUDED
#define ZSTATE_FAULT_SERVER_H_INCLUDED

#include <czmq.h>

//  @interface
//  Two kinds of child:
//  - the observer (ZSTATE_FAULT_OBSERVER): the fault harness binary run
//    again (exec of /proc/self/exe) in its child mode (zstate_fault_observer):
//    a zstate_server bound at tcp://127.0.0.1:port with one consumer table,
//    ZSTATE_FAULT_DB / ZSTATE_FAULT_TABLE (two in mode tables), optionally
//    persisted by a DB writer into Redis, and an application loop that
//    pops every operation and appends it to the pop log with one write ()
//    per pops call, so a kill -9 loses nothing the application popped.
//    SIGUSR1 stops popping (the consumer stalls, the server backs up),
//    SIGUSR2 pops again; the observer answers each over a pipe once it
//    has acted on it. In the resync modes it also keeps the application's
//    view, which it dumps on request (zstate_fault_server_dump), and may
//    register its table late (see zstate_fault_observer.h).
//  - the tool (ZSTATE_FAULT_TOOL): `zstate serve` (the binary named by the
//    ZSTATE environment variable) with the table persisted into Redis; its
//    output goes to serve.log in the directory.
//  The port is chosen free at the first start and kept, so a restarted
//  server takes the same endpoint. Children get SIGKILL when the harness
//  dies. Not thread-safe.
//
//  Pop log: one line per operation, ZSTATE_FAULT_LINE bytes, "%07u %09u\n"
//  with the key number (keys are "k%07u") and the value of field "seq".
//  A child that restores its table from Redis first writes a line "I\n"
//  (a new instance: the application starts again), then one line
//  "R%07u %09u\n" (ZSTATE_FAULT_LINE + 1 bytes) per restored entry.

#define ZSTATE_FAULT_DB         "FAULT_DB"
#define ZSTATE_FAULT_TABLE      "FAULT_TABLE"
#define ZSTATE_FAULT_TABLE_2    "FAULT_TABLE_2"     //  the second, in mode tables
#define ZSTATE_FAULT_LINE       18

#define ZSTATE_FAULT_OBSERVER   0
#define ZSTATE_FAULT_TOOL       1

typedef struct _zstate_fault_server_t zstate_fault_server_t;

//  Create a server handle of kind, with its files in dir, persisting to
//  the Redis at redis ("127.0.0.1:port"), or not at all when redis is NULL
//  (the tool always persists). Starts nothing.
zstate_fault_server_t *
    zstate_fault_server_new (int kind, const char *dir, const char *redis);

//  Kill the child if it runs, remove its files; nulls the pointer.
void
    zstate_fault_server_destroy (zstate_fault_server_t **self_p);

//  Bound the observer's consumer queue (ops) and its writer's backlog
//  (keys); 0 keeps the library default. Before start.
void
    zstate_fault_server_set_bounds (zstate_fault_server_t *self, size_t queue_ops,
                                    size_t writer_keys);

//  Run the observer in mode "pops" (the default), "tables", "view" or
//  "late", with a view of keys key numbers (see zstate_fault_observer.h).
//  Before start.
void
    zstate_fault_server_set_mode (zstate_fault_server_t *self, const char *mode,
                                  size_t keys);

//  Start the child and wait (up to 20 s) until it is bound. Returns 0, or
//  -1 with errno.
int
    zstate_fault_server_start (zstate_fault_server_t *self);

//  Send signum to the child; SIGKILL and SIGTERM also reap it (SIGTERM
//  waits up to 60 s for the orderly exit, then kills). SIGSTOP returns once
//  the child has stopped; SIGUSR1 and SIGUSR2 to the observer once it
//  answered that it pops no more, or again (each waits up to 20 s). Returns
//  0, or -1 with errno: ESRCH when it does not run, ETIMEDOUT or ECHILD
//  when it did not confirm. For SIGTERM, *status_p gets the exit status.
//  SIGHUP to an observer in a resync mode returns once it dumped its view;
//  SIGWINCH once it dropped its view and called zstate_consumer_resync
//  (ETIMEDOUT too when the call failed).
int
    zstate_fault_server_signal (zstate_fault_server_t *self, int signum, int *status_p);

//  Return the child's pid, 0 when it does not run.
int
    zstate_fault_server_pid (zstate_fault_server_t *self);

//  Return the endpoint clients connect to, and its port.
const char *
    zstate_fault_server_endpoint (zstate_fault_server_t *self);
int
    zstate_fault_server_port (zstate_fault_server_t *self);

//  Return the path of the pop log (observer), and the operations it holds.
const char *
    zstate_fault_server_log (zstate_fault_server_t *self);
size_t
    zstate_fault_server_popped (zstate_fault_server_t *self);

//  Return the child's resident set size in KiB, 0 when unknown.
size_t
    zstate_fault_server_rss (zstate_fault_server_t *self);

//  Have the observer (mode tables, view or late) dump its counters and
//  view, and return the path of the dump; NULL with errno when it does not
//  run, did not answer (see signal) or makes no dump (mode pops: EINVAL).
const char *
    zstate_fault_server_dump (zstate_fault_server_t *self);

//  Write the harness binary's own path into program (size bytes), for a
//  child to exec; read it before fork.
void
    zstate_fault_program (char *program, size_t size);

//  Fork a child that execs program with args, dies with us, keeps fd
//  open across the exec (-1: none) and, when output is not NULL, writes
//  its stdout and stderr there. Build every argument before: the child
//  only execs. Returns the child's pid, or -1 with errno.
int
    zstate_fault_spawn (const char *program, char *args [], int fd, const char *output);

//  Return the resident set size of process pid in KiB (0: this process),
//  and its peak.
size_t
    zstate_fault_rss (int pid);
size_t
    zstate_fault_hwm (int pid);

//  Self test of this class.
void
    zstate_fault_server_test (bool verbose);
//  @end

#endif
