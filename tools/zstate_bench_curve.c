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

void
zstate_bench_curve_plan (bench_t *self, int fields, int single, int batch,
                         zstate_bench_add_fn *add)
{
    for (int twin = 0; self->curve && twin < 2; twin++) {
        int size = twin? self->batch: 1;
        int row = add (self, KIND_ZSTATE, fields, size, 0, twin? batch: single);
        zstate_bench_curve_row (self, row);
        if (!self->refused)
            continue;
        //  The same CURVE row beside the refused clients, compared with it,
        //  then with a second I/O thread on the server's side
        for (int io_threads = 1; io_threads <= 2; io_threads++) {
            int loaded = add (self, KIND_ZSTATE, fields, size, 0, row);
            zstate_bench_curve_row (self, loaded);
            scenario_t *scenario = &self->scenarios [loaded];
            scenario->refused = self->refused;
            scenario->io_threads = io_threads;
            size_t length = strlen (scenario->id);
            snprintf (scenario->id + length, sizeof (scenario->id) - length,
                      io_threads > 1? "-refused%d-io%d": "-refused%d", self->refused,
                      io_threads);
            //  "CURVE, 2f, batch 128, 10 refused": short enough for the table
            char title [sizeof (scenario->title)];
            memcpy (title, scenario->title, sizeof (title));
            snprintf (scenario->title, sizeof (scenario->title),
                      io_threads > 1? "CURVE, %df, %.20s, %d refused, 2 I/O"
                                    : "CURVE, %df, %.20s, %d refused",
                      fields, strstr (title, "fields, ") + 8, self->refused);
        }
    }
}

int
zstate_bench_refused_option (bench_t *self, const char *text)
{
    long value;
    if (zstate_tool_number ("bench", "--refused", text, 1, REFUSED_MAX, &value))
        return 2;
    self->refused = (int) value;
    self->curve = true;         //  The rows it adds are CURVE rows
    return 0;
}

//  One refused client: a raw DEALER with CURVE, the server key given,
//  its own fresh client key
static void *
s_refused_client (void *context, const char *server_key, const char *endpoint)
{
    void *socket = zmq_socket (context, ZMQ_DEALER);
    if (!socket)
        return NULL;
    zcert_t *cert = zcert_new ();
    assert (cert);
    int ivl = REFUSED_RECONNECT_MSECS, linger = 0;
    int rc = zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, server_key, 40);
    rc |= zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY, zcert_public_txt (cert), 40);
    rc |= zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, zcert_secret_txt (cert), 40);
    rc |= zmq_setsockopt (socket, ZMQ_RECONNECT_IVL, &ivl, sizeof (ivl));
    rc |= zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof (linger));
    zcert_destroy (&cert);
    if (rc || zmq_connect (socket, endpoint)) {
        zmq_close (socket);
        return NULL;
    }
    return socket;
}

int
zstate_bench_refused_connect (bench_t *self, scenario_t *scenario, void *context,
                              const char *endpoint, char *error, size_t size)
{
    char path [320];
    snprintf (path, sizeof (path), "%s/server", self->curve_dir);
    zcert_t *server = zcert_load (path);
    zcert_t *stranger = zcert_new ();
    if (!server || !stranger) {
        snprintf (error, size, "refused clients: cannot load %s", path);
        zcert_destroy (&server);
        zcert_destroy (&stranger);
        return -1;
    }
    int rc = 0;
    for (int index = 0; index < scenario->refused && rc == 0; index++) {
        //  Even ones: the right server key, a client key not allowed (a
        //  ZAP denial); odd ones: a server key that is not the server's
        //  (a CURVE error before ZAP is asked)
        zcert_t *key = index % 2? stranger: server;
        if (!s_refused_client (context, zcert_public_txt (key), endpoint)) {
            snprintf (error, size, "refused client %d: %s", index + 1,
                      zmq_strerror (zmq_errno ()));
            rc = -1;
        }
    }
    zcert_destroy (&server);
    zcert_destroy (&stranger);
    return rc;
}

uint64_t
zstate_bench_refused_count (zstate_server_t *server)
{
    zstate_server_stats_t stats;
    if (zstate_server_stats (server, &stats))
        return 0;
    return stats.auth_denied + stats.auth_mechanism + stats.auth_crypto
         + stats.auth_protocol + stats.auth_failed;
}
