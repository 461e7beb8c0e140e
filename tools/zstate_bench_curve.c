/*  =========================================================================
    zstate_bench_curve - zstate bench: the CURVE rows (--curve) and their
    certificates

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_bench.h"

//  Make a zstate scenario its CURVE twin, compared with the row it follows
void
zstate_bench_curve_row (bench_t *self, int index)
{
    scenario_t *scenario = &self->scenarios [index];
    scenario->curve = true;
    char id [sizeof (scenario->id)], title [sizeof (scenario->title)];
    memcpy (id, scenario->id, sizeof (id));
    memcpy (title, scenario->title, sizeof (title));
    //  "zstate-2f-single" is "zstate-curve-2f-single", and so the title
    snprintf (scenario->id, sizeof (scenario->id), "zstate-curve%.*s",
              (int) (sizeof (id) - 13), id + 6);
    snprintf (scenario->title, sizeof (scenario->title), "zstate CURVE%.*s",
              (int) (sizeof (title) - 13), title + 6);
}

//  The certificates of the CURVE rows, in a directory of their own
int
zstate_bench_curve_certificates (bench_t *self)
{
    if (!self->curve)
        return 0;
    if (streq (self->transport, "inproc")) {
        //  inproc has no ZMTP handshake: there is no CURVE to measure
        fprintf (stderr, "zstate bench: --curve needs tcp or ipc\n");
        return 2;
    }
    snprintf (self->curve_dir, sizeof (self->curve_dir), "%s/zstate-bench-XXXXXX",
              getenv ("TMPDIR")? getenv ("TMPDIR"): "/tmp");
    if (!mkdtemp (self->curve_dir)) {
        fprintf (stderr, "zstate bench: cannot make a directory: %s\n", strerror (errno));
        return 1;
    }
    char path [320];
    snprintf (path, sizeof (path), "%s/clients", self->curve_dir);
    zsys_dir_create ("%s", path);
    zcert_t *server = zcert_new ();
    zcert_t *client = zcert_new ();
    snprintf (path, sizeof (path), "%s/server", self->curve_dir);
    int rc = zcert_save (server, path);
    snprintf (path, sizeof (path), "%s/client", self->curve_dir);
    rc |= zcert_save (client, path);
    snprintf (path, sizeof (path), "%s/clients/client", self->curve_dir);
    rc |= zcert_save_public (client, path);
    zcert_destroy (&server);
    zcert_destroy (&client);
    return rc? 1: 0;
}

void
zstate_bench_curve_remove (bench_t *self)
{
    if (*self->curve_dir) {
        zdir_t *dir = zdir_new (self->curve_dir, NULL);
        if (dir)
            zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
}
