/*  =========================================================================
    zstate_redis - one Redis connection: connect, pipeline, replies

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A thin owner of one synchronous hiredis 0.14 context. Commands are
    formatted here, in RESP, into one buffer that hiredis writes in one go
    (redisAppendFormattedCommand), which saves hiredis' per-command sds
    allocations on the writer's hot path. Replies are read with hiredis'
    reader, either blocking (redisGetReply) or from what the socket holds
    (redisBufferRead when poll says readable, then redisGetReplyFromReader).
@discuss
    hiredis writes with write (2), not send with MSG_NOSIGNAL, so a write to
    a connection the server has closed raises SIGPIPE, which would end the
    process. Every call that may write blocks SIGPIPE in the calling thread
    for its duration and consumes a SIGPIPE it caused, leaving the signal
    disposition of the host alone.
@end
*/

#include "zstate_classes.h"
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#define DEFAULT_PORT            6379
#define DEFAULT_CONNECT_TIMEOUT 1000
#define DEFAULT_COMMAND_TIMEOUT 2000

struct _zstate_redis_t {
    char *endpoint;             //  As given
    char *host;                 //  TCP host, or NULL for a unix socket
    int port;                   //  TCP port
    char *path;                 //  Unix socket path, or NULL for TCP
    int db;                     //  SELECT index
    char *password;             //  AUTH password, or NULL
    int connect_timeout;        //  msecs
    int command_timeout;        //  msecs
    redisContext *context;      //  Open context, or NULL
    redisReply *reply;          //  Current reply, or NULL
    char *out;                  //  Commands formatted, not yet handed over
    size_t out_size;            //  Bytes used in out
    size_t out_max;             //  Bytes allocated for out
};


//  --------------------------------------------------------------------------
//  Create a connection object; parse the endpoint

zstate_redis_t *
zstate_redis_new (const char *endpoint)
{
    if (!endpoint || !*endpoint) {
        zstate_fail (EINVAL, "redis: empty endpoint");
        return NULL;
    }
    zstate_redis_t *self = (zstate_redis_t *) zmalloc (sizeof (zstate_redis_t));
    assert (self);
    self->endpoint = strdup (endpoint);
    assert (self->endpoint);
    self->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    self->command_timeout = DEFAULT_COMMAND_TIMEOUT;

    if (strncmp (endpoint, "unix://", 7) == 0)
        self->path = strdup (endpoint + 7);
    else
    if (strncmp (endpoint, "unix:", 5) == 0)
        self->path = strdup (endpoint + 5);
    else
    if (*endpoint == '/' || *endpoint == '.')
        self->path = strdup (endpoint);
    else {
        const char *start = strncmp (endpoint, "tcp://", 6) == 0? endpoint + 6: endpoint;
        self->host = strdup (start);
        assert (self->host);
        self->port = DEFAULT_PORT;
        //  "[v6 address]:port" keeps its colons inside the brackets
        char *colon = strrchr (self->host, ':');
        char *bracket = strrchr (self->host, ']');
        if (colon && (!bracket || colon > bracket)) {
            *colon = 0;
            char *end;
            long port = strtol (colon + 1, &end, 10);
            self->port = (int) port;
            if (*end || port <= 0 || port > 65535)
                self->port = -1;
        }
        if (*self->host == '[' && bracket) {
            *bracket = 0;
            memmove (self->host, self->host + 1, strlen (self->host));
        }
        if (!*self->host || self->port < 0) {
            zstate_redis_destroy (&self);
            zstate_fail (EINVAL, "redis: bad endpoint '%s'", endpoint);
            return NULL;
        }
    }
    if (self->path && !*self->path) {
        zstate_redis_destroy (&self);
        zstate_fail (EINVAL, "redis: bad endpoint '%s'", endpoint);
        return NULL;
    }
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy

void
zstate_redis_destroy (zstate_redis_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_redis_t *self = *self_p;
        zstate_redis_disconnect (self);
        free (self->endpoint);
        free (self->host);
        free (self->path);
        free (self->password);
        free (self->out);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Settings

void
zstate_redis_set_db (zstate_redis_t *self, int db)
{
    assert (self);
    self->db = db;
}

void
zstate_redis_set_password (zstate_redis_t *self, const char *password)
{
    assert (self);
    free (self->password);
    self->password = password && *password? strdup (password): NULL;
}

void
zstate_redis_set_timeouts (zstate_redis_t *self, int connect_timeout, int command_timeout)
{
    assert (self);
    self->connect_timeout = connect_timeout > 0? connect_timeout: DEFAULT_CONNECT_TIMEOUT;
    self->command_timeout = command_timeout > 0? command_timeout: DEFAULT_COMMAND_TIMEOUT;
}

const char *
zstate_redis_endpoint (zstate_redis_t *self)
{
    assert (self);
    return self->endpoint;
}


//  --------------------------------------------------------------------------
//  SIGPIPE guard: block it around writes, consume one we caused

typedef struct {
    sigset_t saved;             //  Mask to restore
    bool was_pending;           //  SIGPIPE pending before: not ours to eat
} sigpipe_guard_t;

static void
s_sigpipe_hold (sigpipe_guard_t *guard)
{
    sigset_t pipe_set;
    sigemptyset (&pipe_set);
    sigaddset (&pipe_set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &pipe_set, &guard->saved);
    sigset_t pending;
    sigpending (&pending);
    guard->was_pending = sigismember (&pending, SIGPIPE);
}

static void
s_sigpipe_release (sigpipe_guard_t *guard)
{
    if (!guard->was_pending) {
        sigset_t pending;
        sigpending (&pending);
        if (sigismember (&pending, SIGPIPE)) {
            sigset_t pipe_set;
            sigemptyset (&pipe_set);
            sigaddset (&pipe_set, SIGPIPE);
            struct timespec zero = { 0, 0 };
            sigtimedwait (&pipe_set, NULL, &zero);
        }
    }
    pthread_sigmask (SIG_SETMASK, &guard->saved, NULL);
}


//  --------------------------------------------------------------------------
//  Turn the context's error into errno + reason, free the context.
//  Returns -1.

static int
s_context_failed (zstate_redis_t *self, int saved_errno, const char *doing)
{
    int error = EIO;
    char reason [160] = "no context";
    if (self->context) {
        redisContext *context = self->context;
        snprintf (reason, sizeof (reason), "%s", context->errstr);
        switch (context->err) {
            case REDIS_ERR_IO:
                error = saved_errno? saved_errno: EIO;
                if (error == EAGAIN || error == EWOULDBLOCK || error == EINPROGRESS)
                    error = ETIMEDOUT;
                break;
            case REDIS_ERR_EOF:
                error = ECONNRESET;
                break;
            case REDIS_ERR_PROTOCOL:
                error = EPROTO;
                break;
            case REDIS_ERR_OOM:
                error = ENOMEM;
                break;
            default:
                //  REDIS_ERR_OTHER: name resolution and the like
                error = strstr (reason, "refused")? ECONNREFUSED:
                        strstr (reason, "timed out")? ETIMEDOUT:
                        strstr (reason, "No such file")? ENOENT: EHOSTUNREACH;
                break;
        }
    }
    zstate_redis_disconnect (self);
    return zstate_fail (error, "redis %s: %s: %s", self->endpoint, doing, reason);
}


//  --------------------------------------------------------------------------
//  Connect, AUTH, SELECT, PING

int
zstate_redis_connect (zstate_redis_t *self)
{
    assert (self);
    zstate_redis_disconnect (self);
    struct timeval connect_tv = {
        self->connect_timeout / 1000, (self->connect_timeout % 1000) * 1000
    };
    errno = 0;
    if (self->path)
        self->context = redisConnectUnixWithTimeout (self->path, connect_tv);
    else
        self->context = redisConnectWithTimeout (self->host, self->port, connect_tv);
    int saved_errno = errno;
    if (!self->context)
        return zstate_fail (ENOMEM, "redis %s: connect: out of memory", self->endpoint);
    if (self->context->err)
        return s_context_failed (self, saved_errno, "connect");

    struct timeval command_tv = {
        self->command_timeout / 1000, (self->command_timeout % 1000) * 1000
    };
    if (redisSetTimeout (self->context, command_tv) != REDIS_OK)
        return s_context_failed (self, errno, "set timeout");
    //  Keepalive finds a peer that vanished while the link is idle
    if (!self->path && redisEnableKeepAlive (self->context) != REDIS_OK)
        return s_context_failed (self, errno, "keepalive");

    //  One round trip; PING last, so a server that is loading its data or
    //  is paused does not count as connected
    const char *step [3];
    int steps = 0;
    if (self->password) {
        zstate_redis_appendx (self, "AUTH", self->password, NULL);
        step [steps++] = "AUTH";
    }
    if (self->db) {
        char db_text [16];
        snprintf (db_text, sizeof (db_text), "%d", self->db);
        zstate_redis_appendx (self, "SELECT", db_text, NULL);
        step [steps++] = "SELECT";
    }
    zstate_redis_appendx (self, "PING", NULL);
    step [steps++] = "PING";
    int error = 0;
    char reason [160] = "";
    for (int index = 0; index < steps; index++) {
        if (zstate_redis_next (self, true) != 1)
            return -1;          //  Context failed; reason is set
        if (!error && zstate_redis_type (self, -1) == ZSTATE_REDIS_ERROR) {
            error = streq (step [index], "AUTH")? EACCES:
                    streq (step [index], "SELECT")? EINVAL: EAGAIN;
            snprintf (reason, sizeof (reason), "%s: %s",
                      step [index], zstate_redis_str (self, -1, NULL));
        }
    }
    if (error) {
        zstate_redis_disconnect (self);
        return zstate_fail (error, "redis %s: %s", self->endpoint, reason);
    }
    if (self->reply) {
        freeReplyObject (self->reply);
        self->reply = NULL;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Disconnect

void
zstate_redis_disconnect (zstate_redis_t *self)
{
    assert (self);
    if (self->reply) {
        freeReplyObject (self->reply);
        self->reply = NULL;
    }
    if (self->context) {
        redisFree (self->context);
        self->context = NULL;
    }
    self->out_size = 0;
}

bool
zstate_redis_connected (zstate_redis_t *self)
{
    assert (self);
    return self->context != NULL;
}

int
zstate_redis_fd (zstate_redis_t *self)
{
    assert (self);
    return self->context? self->context->fd: -1;
}


//  --------------------------------------------------------------------------
//  RESP formatting into our buffer

static void
s_out_reserve (zstate_redis_t *self, size_t more)
{
    if (self->out_max - self->out_size >= more)
        return;
    size_t max = self->out_max? self->out_max: 4096;
    while (max - self->out_size < more)
        max *= 2;
    self->out = (char *) realloc (self->out, max);
    assert (self->out);
    self->out_max = max;
}

//  Writes "<prefix><value>\r\n"
static void
s_out_header (zstate_redis_t *self, char prefix, size_t value)
{
    char digits [24];
    int count = 0;
    do {
        digits [count++] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    char *cursor = self->out + self->out_size;
    *cursor++ = prefix;
    while (count)
        *cursor++ = digits [--count];
    *cursor++ = '\r';
    *cursor++ = '\n';
    self->out_size = cursor - self->out;
}

int
zstate_redis_append (zstate_redis_t *self, int argc, const char **argv,
                     const size_t *argvlen)
{
    assert (self);
    assert (argc > 0 && argv);
    if (!self->context)
        return zstate_fail (ENOTCONN, "redis %s: not connected", self->endpoint);
    size_t needed = 24;
    for (int index = 0; index < argc; index++)
        needed += 24 + (argvlen? argvlen [index]: strlen (argv [index])) + 2;
    s_out_reserve (self, needed);
    s_out_header (self, '*', (size_t) argc);
    for (int index = 0; index < argc; index++) {
        size_t size = argvlen? argvlen [index]: strlen (argv [index]);
        s_out_header (self, '$', size);
        memcpy (self->out + self->out_size, argv [index], size);
        self->out_size += size;
        self->out [self->out_size++] = '\r';
        self->out [self->out_size++] = '\n';
    }
    return 0;
}

#define APPENDX_MAX 64

//  Collect a NULL-terminated list of C strings, first then args, into
//  argv (APPENDX_MAX long); returns how many
static int
s_collect (const char **argv, const char *first, va_list args)
{
    int argc = 0;
    const char *arg = first;
    while (arg) {
        assert (argc < APPENDX_MAX);
        argv [argc++] = arg;
        arg = va_arg (args, const char *);
    }
    return argc;
}

int
zstate_redis_appendx (zstate_redis_t *self, const char *arg, ...)
{
    assert (self);
    const char *argv [APPENDX_MAX];
    va_list args;
    va_start (args, arg);
    int argc = s_collect (argv, arg, args);
    va_end (args);
    return zstate_redis_append (self, argc, argv, NULL);
}

size_t
zstate_redis_outbound (zstate_redis_t *self)
{
    assert (self);
    return self->out_size + (self->context? sdslen (self->context->obuf): 0);
}


//  --------------------------------------------------------------------------
//  Hand what we formatted to hiredis

static int
s_handover (zstate_redis_t *self)
{
    if (self->out_size) {
        if (redisAppendFormattedCommand (self->context, self->out, self->out_size) != REDIS_OK)
            return s_context_failed (self, ENOMEM, "append");
        self->out_size = 0;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Write everything appended, within the command timeout

int
zstate_redis_send (zstate_redis_t *self)
{
    assert (self);
    if (!self->context)
        return zstate_fail (ENOTCONN, "redis %s: not connected", self->endpoint);
    if (s_handover (self))
        return -1;
    //  Each write blocks for at most the socket's send timeout; the
    //  deadline also bounds a peer that takes the bytes in dribbles
    int64_t deadline = zclock_mono () + self->command_timeout;
    int done = 0;
    sigpipe_guard_t guard;
    s_sigpipe_hold (&guard);
    int rc = 0;
    while (!done) {
        errno = 0;
        if (redisBufferWrite (self->context, &done) != REDIS_OK) {
            rc = s_context_failed (self, errno, "write");
            break;
        }
        if (!done && zclock_mono () > deadline) {
            zstate_redis_disconnect (self);
            rc = zstate_fail (ETIMEDOUT, "redis %s: write: timed out after %d ms",
                              self->endpoint, self->command_timeout);
            break;
        }
    }
    s_sigpipe_release (&guard);
    return rc;
}


//  --------------------------------------------------------------------------
//  Read what the socket holds now

int
zstate_redis_receive (zstate_redis_t *self)
{
    assert (self);
    if (!self->context)
        return zstate_fail (ENOTCONN, "redis %s: not connected", self->endpoint);
    //  The socket is blocking (with a timeout): read only when readable
    struct pollfd item = { self->context->fd, POLLIN, 0 };
    if (poll (&item, 1, 0) != 1)
        return 0;
    errno = 0;
    if (redisBufferRead (self->context) != REDIS_OK)
        return s_context_failed (self, errno, "read");
    return 1;
}


//  --------------------------------------------------------------------------
//  Next complete reply

int
zstate_redis_next (zstate_redis_t *self, bool wait)
{
    assert (self);
    if (self->reply) {
        freeReplyObject (self->reply);
        self->reply = NULL;
    }
    if (!self->context)
        return zstate_fail (ENOTCONN, "redis %s: not connected", self->endpoint);
    void *reply = NULL;
    if (wait) {
        if (s_handover (self))
            return -1;
        sigpipe_guard_t guard;
        s_sigpipe_hold (&guard);
        errno = 0;
        int rc = redisGetReply (self->context, &reply);
        int saved_errno = errno;
        s_sigpipe_release (&guard);
        if (rc != REDIS_OK)
            return s_context_failed (self, saved_errno, "read");
    }
    else
    if (redisGetReplyFromReader (self->context, &reply) != REDIS_OK)
        return s_context_failed (self, EPROTO, "read");
    self->reply = (redisReply *) reply;
    return reply? 1: 0;
}


//  --------------------------------------------------------------------------
//  Reply accessors

static redisReply *
s_element (zstate_redis_t *self, int element)
{
    redisReply *reply = self->reply;
    if (reply && element >= 0) {
        if (reply->type == REDIS_REPLY_ARRAY && (size_t) element < reply->elements)
            reply = reply->element [element];
        else
            reply = NULL;
    }
    return reply;
}

int
zstate_redis_type (zstate_redis_t *self, int element)
{
    assert (self);
    redisReply *reply = s_element (self, element);
    if (!reply)
        return ZSTATE_REDIS_NONE;
    switch (reply->type) {
        case REDIS_REPLY_STRING:    return ZSTATE_REDIS_STRING;
        case REDIS_REPLY_ARRAY:     return ZSTATE_REDIS_ARRAY;
        case REDIS_REPLY_INTEGER:   return ZSTATE_REDIS_INTEGER;
        case REDIS_REPLY_NIL:       return ZSTATE_REDIS_NIL;
        case REDIS_REPLY_STATUS:    return ZSTATE_REDIS_STATUS;
        case REDIS_REPLY_ERROR:     return ZSTATE_REDIS_ERROR;
        default:                    return ZSTATE_REDIS_NONE;
    }
}

const char *
zstate_redis_str (zstate_redis_t *self, int element, size_t *size_p)
{
    assert (self);
    redisReply *reply = s_element (self, element);
    if (!reply
    ||  (reply->type != REDIS_REPLY_STRING
    &&   reply->type != REDIS_REPLY_STATUS
    &&   reply->type != REDIS_REPLY_ERROR))
        return NULL;
    if (size_p)
        *size_p = reply->len;
    return reply->str;
}

long long
zstate_redis_integer (zstate_redis_t *self, int element)
{
    assert (self);
    redisReply *reply = s_element (self, element);
    return reply && reply->type == REDIS_REPLY_INTEGER? reply->integer: 0;
}

size_t
zstate_redis_elements (zstate_redis_t *self)
{
    assert (self);
    return self->reply && self->reply->type == REDIS_REPLY_ARRAY? self->reply->elements: 0;
}

size_t
zstate_redis_nested_elements (zstate_redis_t *self, int element)
{
    assert (self);
    redisReply *reply = s_element (self, element);
    return reply && reply->type == REDIS_REPLY_ARRAY? reply->elements: 0;
}

const char *
zstate_redis_nested_str (zstate_redis_t *self, int element, size_t sub, size_t *size_p)
{
    assert (self);
    redisReply *reply = s_element (self, element);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || sub >= reply->elements)
        return NULL;
    reply = reply->element [sub];
    if (reply->type != REDIS_REPLY_STRING)
        return NULL;
    if (size_p)
        *size_p = reply->len;
    return reply->str;
}


//  --------------------------------------------------------------------------
//  One command, one reply

int
zstate_redis_commandv (zstate_redis_t *self, int argc, const char **argv,
                       const size_t *argvlen)
{
    assert (self);
    if (zstate_redis_append (self, argc, argv, argvlen)
    ||  zstate_redis_next (self, true) != 1)
        return -1;
    return zstate_redis_type (self, -1);
}

int
zstate_redis_command (zstate_redis_t *self, const char *arg, ...)
{
    assert (self);
    const char *argv [APPENDX_MAX];
    va_list args;
    va_start (args, arg);
    int argc = s_collect (argv, arg, args);
    va_end (args);
    return zstate_redis_commandv (self, argc, argv, NULL);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Self test of this class: an example, as the writer uses a connection.
//  The full suite (endpoints, databases, AUTH, pipelines, errors, a
//  stalled, killed and restarted server) is in selftest/zstate_redis_test.c.

void
zstate_redis_test (bool verbose)
{
    printf (" * zstate_redis: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_endpoint (server));
    assert (redis);
    zstate_redis_set_timeouts (redis, 1000, 2000);
    assert (zstate_redis_connect (redis) == 0);
    //  A pipeline: append commands, send them in one write, then take the
    //  replies as the socket delivers them, in order
    assert (zstate_redis_appendx (redis, "MULTI", NULL) == 0);
    assert (zstate_redis_appendx (redis, "HSET", "PORT:Ethernet0", "mtu", "9100", NULL) == 0);
    assert (zstate_redis_appendx (redis, "EXEC", NULL) == 0);
    assert (zstate_redis_send (redis) == 0);
    int replies = 0;
    while (replies < 3) {
        struct pollfd item = { zstate_redis_fd (redis), POLLIN, 0 };
        if (poll (&item, 1, 30000) == -1 && errno == EINTR)
            continue;
        assert (zstate_redis_receive (redis) >= 0);
        //  MULTI's OK, HSET's QUEUED, then EXEC's results
        while (replies < 3 && zstate_redis_next (redis, false) == 1)
            if (++replies == 3) {
                assert (zstate_redis_type (redis, -1) == ZSTATE_REDIS_ARRAY);
                assert (zstate_redis_integer (redis, 0) == 1);
            }
    }
    //  One command, one reply
    assert (zstate_redis_command (redis, "HGET", "PORT:Ethernet0", "mtu", NULL)
            == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (redis, -1, NULL), "9100"));
    zstate_redis_destroy (&redis);
    zstate_redis_server_destroy (&server);
    //  @end

    printf ("OK\n");
}
#endif
