/*  =========================================================================
    zstate_redis_server - a private redis-server for tests and the demo

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_REDIS_SERVER_H_INCLUDED
#define ZSTATE_REDIS_SERVER_H_INCLUDED

//  @interface
//  Runs a real redis-server (ZSTATE_REDIS_SERVER, from configure) as a
//  child process, in a directory of its own made with mkdtemp, listening
//  on a free loopback TCP port and on a unix socket in that directory.
//  Nothing depends on a server left running: each object starts its own,
//  and destroying it stops the server and removes the directory. The
//  server can be killed (SIGKILL) and started again on the same port and
//  directory, which is how the writer's fault tests lose Redis mid-stream.
//  The child is started with fork and exec (zproc is draft) and gets
//  SIGKILL if the thread that started it dies, so a failed assert in a
//  selftest leaves no server behind. Private class, not thread-safe.

typedef struct _zstate_redis_server_t zstate_redis_server_t;

//  Start a redis-server and wait until it answers PING. With persistent
//  true it runs with "appendonly yes, appendfsync always", so every write
//  it confirmed survives a kill; otherwise persistence is off. Returns NULL
//  with errno and zstate_reason () when it cannot be started.
zstate_redis_server_t *
    zstate_redis_server_new (bool persistent);

//  Stop the server if it runs, remove its directory; nulls the pointer.
void
    zstate_redis_server_destroy (zstate_redis_server_t **self_p);

//  Start the server again on the same port and directory, after kill or
//  stop, and wait until it answers PING (it may be loading its data).
//  Returns 0, or -1 with errno and zstate_reason ().
int
    zstate_redis_server_start (zstate_redis_server_t *self);

//  Kill the server with SIGKILL and reap it. Returns 0, or -1 if it does
//  not run.
int
    zstate_redis_server_kill (zstate_redis_server_t *self);

//  Stop the server with SIGTERM and reap it (SIGKILL after 5 seconds).
//  Returns 0, or -1 if it does not run.
int
    zstate_redis_server_stop (zstate_redis_server_t *self);

//  Freeze the server with SIGSTOP / let it run again with SIGCONT: a stall
//  that no Redis command can end early. Return 0, or -1 if it does not run.
int
    zstate_redis_server_freeze (zstate_redis_server_t *self);
int
    zstate_redis_server_thaw (zstate_redis_server_t *self);

//  Return true if the server process runs.
bool
    zstate_redis_server_running (zstate_redis_server_t *self);

//  Return the TCP port on 127.0.0.1.
int
    zstate_redis_server_port (zstate_redis_server_t *self);

//  Return the TCP endpoint, "127.0.0.1:port".
const char *
    zstate_redis_server_endpoint (zstate_redis_server_t *self);

//  Return the path of the unix socket.
const char *
    zstate_redis_server_socket (zstate_redis_server_t *self);

//  Return the server's directory (data, log).
const char *
    zstate_redis_server_dir (zstate_redis_server_t *self);

//  Return the process id of the server, or 0 when it does not run.
int
    zstate_redis_server_pid (zstate_redis_server_t *self);

//  Self test of this class.
void
    zstate_redis_server_test (bool verbose);
//  @end

#endif
