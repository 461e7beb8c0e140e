/*  =========================================================================
    zstate_tool - the subcommands of the zstate program

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_TOOL_H_INCLUDED
#define ZSTATE_TOOL_H_INCLUDED

//  Each subcommand takes its own argv (argv [0] is its name) and returns
//  the process exit status: 0 success, 1 failure, 2 bad usage.
int
    zstate_demo_main (int argc, char *argv []);
int
    zstate_bench_main (int argc, char *argv []);
int
    zstate_serve_main (int argc, char *argv []);
int
    zstate_send_main (int argc, char *argv []);
int
    zstate_watch_main (int argc, char *argv []);
int
    zstate_stats_main (int argc, char *argv []);

#endif
