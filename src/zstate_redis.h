/*  =========================================================================
    zstate_redis - one Redis connection: connect, pipeline, replies

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_REDIS_H_INCLUDED
#define ZSTATE_REDIS_H_INCLUDED

//  @interface
//  Owns one synchronous hiredis context, and is the only file that
//  includes hiredis, so a move to hiredis 1.x stays local. It connects
//  over TCP or a unix socket with a connect timeout, sets a command
//  timeout on the socket (every blocking read or write is bounded by it),
//  enables TCP keepalive, authenticates, selects the database and checks
//  the server with PING. Commands are always given as argument vectors
//  (binary-safe, nothing to inject). Any number can be appended, then
//  written at once (one write for a whole pipeline), and the replies read
//  back in order, blocking or, when the socket is readable, without
//  blocking.
//
//  A context error (connection refused, reset, closed, timed out, protocol
//  error) frees the context at once, since hiredis cannot reuse a context
//  after an error: the call returns -1 with errno and zstate_reason () set,
//  zstate_redis_connected () is false, and what was appended or not yet
//  read is gone. Connect again to go on. An error *reply* (-ERR,
//  -WRONGTYPE ...) is not a context error: it is a reply like any other.
//  Private class; an object belongs to one thread.
//
//  Endpoints: "host:port", "tcp://host:port", "host" (port 6379),
//  "unix:/path", "unix:///path", or a path ("/..." or "./...").

typedef struct _zstate_redis_t zstate_redis_t;

//  Reply types
#define ZSTATE_REDIS_NONE       0       //  no such reply or element
#define ZSTATE_REDIS_STRING     1       //  bulk string
#define ZSTATE_REDIS_ARRAY      2
#define ZSTATE_REDIS_INTEGER    3
#define ZSTATE_REDIS_NIL        4
#define ZSTATE_REDIS_STATUS     5       //  +OK, +QUEUED, +PONG ...
#define ZSTATE_REDIS_ERROR      6       //  -ERR ..., -WRONGTYPE ...

//  Create a connection object for endpoint; does not connect. Returns NULL
//  with errno EINVAL when the endpoint cannot be parsed.
zstate_redis_t *
    zstate_redis_new (const char *endpoint);

//  Disconnect and destroy; nulls the pointer.
void
    zstate_redis_destroy (zstate_redis_t **self_p);

//  Database index sent with SELECT after each connect (default 0).
void
    zstate_redis_set_db (zstate_redis_t *self, int db);

//  Password sent with AUTH after each connect (default none; NULL or ""
//  for none).
void
    zstate_redis_set_password (zstate_redis_t *self, const char *password);

//  Connect timeout and command timeout, in msecs (defaults 1000, 2000).
//  The command timeout bounds every blocking read and write. Takes effect
//  at the next connect.
void
    zstate_redis_set_timeouts (zstate_redis_t *self, int connect_timeout, int command_timeout);

//  Return the endpoint, as given.
const char *
    zstate_redis_endpoint (zstate_redis_t *self);

//  Connect (after freeing any previous context), then AUTH, SELECT and
//  PING in one round trip. Blocks for at most the connect timeout plus the
//  command timeout. Returns 0, or -1 with errno and zstate_reason ():
//  ECONNREFUSED, ETIMEDOUT, ENOENT (no socket), EACCES (AUTH refused),
//  EINVAL (SELECT refused), EAGAIN (server loading or busy), ...
int
    zstate_redis_connect (zstate_redis_t *self);

//  Free the context, if any. What was appended or unread is dropped.
void
    zstate_redis_disconnect (zstate_redis_t *self);

//  Return true while a context is open.
bool
    zstate_redis_connected (zstate_redis_t *self);

//  Return the socket of the context, for poll, or -1.
int
    zstate_redis_fd (zstate_redis_t *self);

//  Append one command, argc arguments with their sizes, to the output
//  buffer. Nothing is written yet. Returns 0, or -1 with ENOTCONN.
int
    zstate_redis_append (zstate_redis_t *self, int argc, const char **argv,
                         const size_t *argvlen);

//  Append one command given as C strings, terminated by NULL.
int
    zstate_redis_appendx (zstate_redis_t *self, const char *arg, ...) ZSTATE_SENTINEL;

//  Return the bytes appended and not written yet.
size_t
    zstate_redis_outbound (zstate_redis_t *self);

//  Write everything appended, blocking for at most the command timeout.
//  Returns 0, or -1 after a context error (disconnected).
int
    zstate_redis_send (zstate_redis_t *self);

//  Read what the socket holds now, without blocking. Returns 1 if bytes
//  were read, 0 if there were none, -1 after a context error (including
//  the server closing the connection).
int
    zstate_redis_receive (zstate_redis_t *self);

//  Make the next complete reply the current one. With wait false, only
//  replies already received count: returns 1, or 0 when none is complete.
//  With wait true, sends what is appended and blocks (bounded by the
//  command timeout) until a reply is complete: returns 1. Returns -1
//  after a context error.
int
    zstate_redis_next (zstate_redis_t *self, bool wait);

//  Accessors for the current reply: element -1 is the reply itself, n >= 0
//  is element n of an array reply.
//  Return the type, ZSTATE_REDIS_*; NONE when there is no such element.
int
    zstate_redis_type (zstate_redis_t *self, int element);

//  Return the bytes of a string, status or error, NUL-terminated, with the
//  size in *size_p when not NULL; NULL for other types.
const char *
    zstate_redis_str (zstate_redis_t *self, int element, size_t *size_p);

//  Return the value of an integer, 0 for other types.
long long
    zstate_redis_integer (zstate_redis_t *self, int element);

//  Return the number of elements of an array reply, 0 for other types.
size_t
    zstate_redis_elements (zstate_redis_t *self);

//  For a reply whose element is an array itself (SCAN's keys): the
//  number of elements of that element (0 when it is no array), and the
//  bytes of its string number sub, as zstate_redis_str, or NULL.
size_t
    zstate_redis_nested_elements (zstate_redis_t *self, int element);
const char *
    zstate_redis_nested_str (zstate_redis_t *self, int element, size_t sub, size_t *size_p);

//  Run one command, given as C strings terminated by NULL, and make its
//  reply current. Only when no other reply is outstanding. Returns the
//  reply type, or -1 after a context error.
int
    zstate_redis_command (zstate_redis_t *self, const char *arg, ...) ZSTATE_SENTINEL;

//  The same with an argument vector, binary-safe.
int
    zstate_redis_commandv (zstate_redis_t *self, int argc, const char **argv,
                           const size_t *argvlen);

//  Self test of this class.
void
    zstate_redis_test (bool verbose);
//  @end

#endif
