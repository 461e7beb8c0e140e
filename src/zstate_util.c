/*  =========================================================================
    zstate_util - the failure reason and the command reply helpers

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include <fcntl.h>

//  Library log lines (zsys) go to stderr unless the host chose otherwise,
//  as a daemon author expects: its stdout may carry data, or be a fully
//  buffered pipe. This runs when the library is loaded, before zsys can
//  have read its settings, and only fills in ZSYS_LOGSTREAM when the host
//  left it unset; zsys_set_logstream () and ZSYS_LOGSYSTEM still win. It
//  lives here because every program that uses the library links this file.
#if defined (__GNUC__)
static void __attribute__ ((constructor))
s_log_default (void)
{
    setenv ("ZSYS_LOGSTREAM", "stderr", 0);
}
#endif

//  The reason text is per thread, like errno, so shared objects (the client)
//  can report failures to each calling thread without a race.
static __thread char s_reason [256];

const char *
zstate_reason (void)
{
    return s_reason;
}

int
zstate_fail (int error, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (s_reason, sizeof (s_reason), format, args);
    va_end (args);
    errno = error;
    return -1;
}

int
zstate_bind (zsock_t *sock, const char *endpoint)
{
    if (!endpoint || !*endpoint)
        return zstate_fail (EINVAL, "no endpoint to bind to");
    if (zmq_bind (zsock_resolve (sock), endpoint))
        return zstate_fail (zmq_errno (), "cannot bind to %s: %s",
                            endpoint, zmq_strerror (zmq_errno ()));
    //  Read the port back: with "*" or "0" only libzmq knows it
    int port = 0;
    char *bound = zsock_last_endpoint (sock);
    const char *colon = bound? strrchr (bound, ':'): NULL;
    if (strncmp (endpoint, "tcp://", 6) == 0 && colon)
        port = atoi (colon + 1);
    free (bound);
    return port;
}

//  Wait until libzmq has given back the slot of a socket we closed, which
//  its reaper thread does after zmq_close returns: the socket's own fd
//  (ZMQ_FD) is closed just after its slot is freed. Bounded, because that
//  fd number may be taken again by another thread meanwhile.
static void
s_wait_reaped (int fd)
{
    for (int attempt = 0; attempt < 500 && fcntl (fd, F_GETFD) != -1; attempt++)
        zclock_sleep (attempt < 10? 0: 1);
}

int
zstate_sock_reserve (const char *who, size_t count)
{
    assert (count <= ZSTATE_SOCK_RESERVE_MAX);
    //  Ask libzmq with raw sockets, then give their slots back for the
    //  caller's zsock_new to take
    void *probes [ZSTATE_SOCK_RESERVE_MAX];
    size_t made = 0;
    while (made < count && (probes [made] = zmq_socket (zsys_init (), ZMQ_PAIR)))
        made++;
    int fds [ZSTATE_SOCK_RESERVE_MAX];
    for (size_t index = 0; index < made; index++) {
        size_t fd_size = sizeof (fds [index]);
        int rc = zmq_getsockopt (probes [index], ZMQ_FD, &fds [index], &fd_size);
        assert (rc == 0);
        zmq_close (probes [index]);
    }
    for (size_t index = 0; index < made; index++)
        s_wait_reaped (fds [index]);
    if (made < count)
        return zstate_fail (EMFILE, "%s%sthe process is at its limit of %d sockets "
                            "(see zsys_set_max_sockets)", who? who: "", who? ": ": "",
                            zmq_ctx_get (zsys_init (), ZMQ_MAX_SOCKETS));
    return 0;
}

zsock_t *
zstate_sock_new (int type)
{
    //  zsock_new asserts when libzmq has no slot left
    if (zstate_sock_reserve (NULL, 1))
        return NULL;
    zsock_t *sock = zsock_new (type);
    assert (sock);
    return sock;
}

int
zstate_reply (zsock_t *pipe, const char *command, int status, const char *reason,
              bool more)
{
    char status_text [16];
    snprintf (status_text, sizeof (status_text), "%d", status);
    if (zstr_sendm (pipe, command)
    ||  zstr_sendm (pipe, status_text))
        return -1;
    return more? zstr_sendm (pipe, reason? reason: ""):
                 zstr_send (pipe, reason? reason: "");
}
