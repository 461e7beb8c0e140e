/*  =========================================================================
    zstate_notify_listener - a service manager's end of the sd_notify
    protocol, for the tool tests of zstate serve's readiness

    Usage: zstate_notify_listener PATH SECONDS

    Binds a unix datagram socket at PATH ('@' first for the abstract
    namespace), prints "listening", then each datagram it receives on a
    line of its own. Exits 0 after "STOPPING=1", or 1 after SECONDS.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

int
main (int argc, char *argv [])
{
    if (argc != 3) {
        fprintf (stderr, "usage: zstate_notify_listener PATH SECONDS\n");
        return 2;
    }
    const char *path = argv [1];
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    size_t length = strlen (path);
    if (length >= sizeof (address.sun_path))
        return 2;
    memcpy (address.sun_path, path, length);
    if (path [0] == '@')
        address.sun_path [0] = 0;
    else
        unlink (path);
    int handle = socket (AF_UNIX, SOCK_DGRAM, 0);
    socklen_t size = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + length);
    if (handle == -1 || bind (handle, (struct sockaddr *) &address, size)) {
        perror ("zstate_notify_listener");
        return 1;
    }
    printf ("listening\n");
    fflush (stdout);
    time_t deadline = time (NULL) + atoi (argv [2]);
    while (time (NULL) < deadline) {
        struct pollfd item = { .fd = handle, .events = POLLIN };
        if (poll (&item, 1, 100) != 1)
            continue;
        char datagram [4096];
        ssize_t received = recv (handle, datagram, sizeof (datagram) - 1, 0);
        if (received < 0)
            break;
        datagram [received] = 0;
        printf ("%s\n", datagram);
        fflush (stdout);
        if (strcmp (datagram, "STOPPING=1") == 0)
            return 0;
    }
    return 1;
}
