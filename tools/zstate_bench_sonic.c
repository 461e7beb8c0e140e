/*  =========================================================================
    zstate_bench_sonic - zstate bench: the SONiC endpoint and its ceiling

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_bench.h"

//  Two rows for each batch size: raw PUSH/PULL of SONiC frames (what a
//  SONiC producer and consumer cost with libzmq alone), and the same
//  frames from a PUSH into the SONiC endpoint, through the server to a
//  consumer table that pops them

zframe_t *
zstate_bench_encode_sonic_sample (int fields, int count)
{
    entry_t entry;
    zstate_bench_entry_init (&entry, fields);
    zstate_batch_t *batch = zstate_batch_new ();
    for (int index = 0; index < count; index++) {
        zstate_bench_entry_fill (&entry, (uint64_t) index);
        zstate_bench_entry_append (&entry, batch);
    }
    zframe_t *frame = zstate_sonic_msg_encode (BENCH_DB, BENCH_TABLE, batch, NULL);
    assert (frame);
    zstate_batch_destroy (&batch);
    return frame;
}

int
zstate_bench_sonic_bind (zstate_server_t *server, const char *endpoint)
{
    //  Teardown is left to _exit, as for the rest of the pipeline
    zstate_sonic_bridge_t *bridge = zstate_sonic_bridge_new (server);
    if (!bridge)
        return -1;
    return zstate_sonic_bridge_bind (bridge, endpoint);
}

static void
s_titles (scenario_t *scenario, bool raw)
{
    int batch = scenario->batch;
    if (raw) {
        snprintf (scenario->id, sizeof (scenario->id), "raw-sonic-%df-%d",
                  scenario->fields, batch);
        snprintf (scenario->title, sizeof (scenario->title),
                  "raw SONiC frames, %d fields, %d op%s/msg", scenario->fields,
                  batch, batch == 1? "": "s");
    }
    else {
        snprintf (scenario->id, sizeof (scenario->id), "sonic-%df-%d", scenario->fields, batch);
        snprintf (scenario->title, sizeof (scenario->title),
                  "SONiC endpoint, %d fields, %d op%s/frame", scenario->fields, batch,
                  batch == 1? "": "s");
    }
}

void
zstate_bench_sonic_plan (bench_t *self, int fields, zstate_bench_add_fn *add)
{
    int batches [2] = { 1, self->batch };
    for (int index = 0; index < 2; index++) {
        int ceiling = add (self, KIND_RAW, fields, batches [index], 0, -1);
        scenario_t *scenario = &self->scenarios [ceiling];
        scenario->sonic = true;
        s_titles (scenario, true);
        int row = add (self, KIND_SONIC, fields, batches [index], 0, ceiling);
        scenario = &self->scenarios [row];
        scenario->sonic = true;
        //  Whole frames only, as for the ceiling
        scenario->ops = self->scenarios [ceiling].ops;
        s_titles (scenario, false);
    }
}
