/*  =========================================================================
    zstate_writer_private - private header: what the DB writer offers the other
    classes

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_WRITER_PRIVATE_H_INCLUDED
#define ZSTATE_WRITER_PRIVATE_H_INCLUDED

//  Fill *stats with the writer's counters as of at most 100 msecs ago,
//  without a round trip to the actor (which may be busy with Redis)
void
    zstate_writer_snapshot (zstate_writer_t *self, zstate_writer_stats_t *stats);

#endif
