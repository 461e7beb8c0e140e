/*  =========================================================================
    zstate_monitor_names - the names of the monitor protocol's messages

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_MONITOR_NAMES_H_INCLUDED
#define ZSTATE_MONITOR_NAMES_H_INCLUDED

//  The server's monitor (zstate_monitor) and its peers in the tool (watch,
//  stats) spell the first frame of each message with these, so the two
//  sides cannot drift apart. The protocol is in zstate_monitor.h. This
//  header holds names only: the tool includes it without the monitor's
//  class.
#define ZSTATE_MONITOR_STATS    "STATS"     //  request, and its reply
#define ZSTATE_MONITOR_WATCH    "WATCH"     //  request or renewal, and its reply
#define ZSTATE_MONITOR_OPS      "OPS"       //  a copy of a routed message

#endif
