/*  =========================================================================
    zstate_notify_fallback - serve's readiness code built without
    libsystemd (the datagram zstate writes itself), for the tool tests

    Usage: zstate_notify_fallback MODE STATE...
    Tells the service manager each STATE in turn as serve does, with
    --notify MODE (auto, yes or no); exits 0, or 1 at the first failure.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"

int
main (int argc, char *argv [])
{
    if (argc < 3) {
        fprintf (stderr, "usage: zstate_notify_fallback MODE STATE...\n");
        return 2;
    }
    for (int arg = 2; arg < argc; arg++)
        if (zstate_tool_notify (argv [1], argv [arg]))
            return 1;
    return 0;
}
