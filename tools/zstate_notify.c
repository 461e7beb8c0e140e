/*  =========================================================================
    zstate_notify - tells a service manager that serve is ready, or
    stopping, by the sd_notify protocol

    The protocol is one datagram, "READY=1" or "STOPPING=1", to the unix
    socket NOTIFY_SOCKET names ('@' first for the abstract namespace).
    With libsystemd at build time its sd_notify sends it; without, the few
    lines below do, so the unit's Type=notify holds either way. Built with
    ZSTATE_NOTIFY_DATAGRAM, it takes those lines even where libsystemd is
    (selftest/zstate_notify_fallback, which the tool tests run).

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"
#if defined (HAVE_LIBSYSTEMD) && defined (ZSTATE_NOTIFY_DATAGRAM)
#   undef HAVE_LIBSYSTEMD
#endif
#if defined (HAVE_LIBSYSTEMD)
#   include <systemd/sd-daemon.h>
#else
#   include <sys/socket.h>
#   include <sys/un.h>
#endif

#if !defined (HAVE_LIBSYSTEMD)
//  sd_notify's contract: > 0 sent, 0 no NOTIFY_SOCKET, < 0 -errno
static int
s_notify (const char *state)
{
    const char *path = getenv ("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    size_t length = strlen (path);
    if ((path [0] != '/' && path [0] != '@') || length >= sizeof (address.sun_path))
        return -EINVAL;
    memcpy (address.sun_path, path, length);
    if (path [0] == '@')
        address.sun_path [0] = 0;
    int handle = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (handle == -1)
        return -errno;
    socklen_t size = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + length);
    ssize_t sent = sendto (handle, state, strlen (state), MSG_NOSIGNAL,
                           (struct sockaddr *) &address, size);
    int error = errno;
    close (handle);
    return sent == (ssize_t) strlen (state)? 1: -(sent == -1? error: EIO);
}
#else
static int
s_notify (const char *state)
{
    return sd_notify (0, state);
}
#endif

int
zstate_tool_notify (const char *mode, const char *state)
{
    if (streq (mode, "no"))
        return 0;
    int rc = s_notify (state);
    if (rc > 0)
        return 0;
    if (rc == 0 && streq (mode, "auto"))
        return 0;
    fprintf (stderr, "zstate serve: cannot tell the service manager %s: %s\n", state,
             rc == 0? "NOTIFY_SOCKET is not set": strerror (-rc));
    return -1;
}
