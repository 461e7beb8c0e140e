/*  =========================================================================
    zstate_fake_monitor - a monitor peer that answers what it is told to,
    for the tool tests of zstate watch and zstate stats against a broken
    or hostile server

    Usage: zstate_fake_monitor ENDPOINT SECONDS REPLY...

    Binds a ROUTER to ENDPOINT, prints "ready" on stdout, and answers the
    first request it gets with each REPLY in turn, one message each. A
    REPLY is its frames joined with '|': "WATCH|0|" is [WATCH][0][""],
    "WATCH" a lone [WATCH]. Two frames are made up: "@ops" is a valid
    message of one SET on the requested db and table (key k1, field f=v),
    "@junk" eight bytes that decode as nothing. Later requests (renewals)
    get no answer. When the script is for WATCH, a STATS request (watch
    asks which tables the server serves) is answered apart, as a server
    that serves APPL_DB/T would. Exits 0 after SECONDS, or 1 if no request
    came.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate.h"

#include "zstate_test_assert.h"      //  last: asserts on in every build

//  A frame of a scripted reply; request holds [identity][command][db][table]
static zframe_t *
s_frame (const char *text, zmsg_t *request)
{
    if (streq (text, "@junk"))
        return zframe_new ("\x01\x02\x03\x04junk", 8);
    if (!streq (text, "@ops"))
        return zframe_new (text, strlen (text));
    zframe_t *identity = zmsg_first (request);
    zframe_t *command = zmsg_next (request);
    char *db = zframe_strdup (zmsg_next (request));
    char *table = zframe_strdup (zmsg_next (request));
    (void) identity;
    (void) command;
    zstate_batch_t *batch = zstate_batch_new ();
    int rc = zstate_batch_set (batch, "k1", "f", "v", NULL);
    assert (rc == 0);
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    zframe_t *frame = zstate_msg_encode (session, 1, db? db: "APPL_DB",
                                         table? table: "T", batch);
    assert (frame);
    zstate_batch_destroy (&batch);
    free (db);
    free (table);
    return frame;
}

int
main (int argc, char *argv [])
{
    if (argc < 4) {
        fprintf (stderr, "usage: zstate_fake_monitor ENDPOINT SECONDS REPLY...\n");
        return 2;
    }
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    if (zsock_bind (router, "%s", argv [1]) == -1) {
        fprintf (stderr, "zstate_fake_monitor: cannot bind %s\n", argv [1]);
        zsock_destroy (&router);
        return 1;
    }
    printf ("ready\n");
    fflush (stdout);
    int64_t deadline = zclock_mono () + atoi (argv [2]) * 1000;
    zpoller_t *poller = zpoller_new (router, NULL);
    bool answered = false;
    while (!zsys_interrupted) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || !zpoller_wait (poller, (int) left))
            break;
        zmsg_t *request = zmsg_recv (router);
        zframe_t *command = request && zmsg_first (request)? zmsg_next (request): NULL;
        if (command && zframe_streq (command, "STATS") && strncmp (argv [3], "STATS", 5)) {
            zmsg_t *reply = zmsg_new ();
            zframe_t *identity = zframe_dup (zmsg_first (request));
            zmsg_append (reply, &identity);
            zmsg_addstr (reply, "STATS");
            zmsg_addstr (reply, "0");
            zmsg_addstr (reply, "");
            zmsg_addstr (reply, "server\n    messages = 0\n"
                                "table\n    db = \"APPL_DB\"\n    name = \"T\"\n");
            zmsg_send (&reply, router);
        }
        else
        if (request && !answered) {
            for (int argn = 3; argn < argc; argn++) {
                zmsg_t *reply = zmsg_new ();
                zframe_t *identity = zframe_dup (zmsg_first (request));
                zmsg_append (reply, &identity);
                char *frames = strdup (argv [argn]);
                char *rest = frames;
                while (rest) {
                    char *bar = strchr (rest, '|');
                    if (bar)
                        *bar++ = 0;
                    zframe_t *frame = s_frame (rest, request);
                    zmsg_append (reply, &frame);
                    rest = bar;
                }
                free (frames);
                zmsg_send (&reply, router);
            }
            answered = true;
        }
        zmsg_destroy (&request);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
    return answered? 0: 1;
}
