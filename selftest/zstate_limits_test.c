/*  =========================================================================
    zstate_limits_test - the constructors at CZMQ's socket limit: a server,
    a client and a writer are refused with EMFILE, where zsock_new in their
    actors would abort

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

//  CZMQ takes a new limit only while no socket is open, so each case
//  restarts CZMQ with a low limit, and the end with the old one
#define LOW_SOCKET_LIMIT 32

typedef enum { MAKE_SERVER, MAKE_CLIENT, MAKE_WRITER } make_t;

static void *
s_test_new (make_t make)
{
    return make == MAKE_SERVER? (void *) zstate_server_new ():
           make == MAKE_CLIENT? (void *) zstate_client_new ():
                                (void *) zstate_writer_new ();
}

static void
s_test_destroy (make_t make, void **object_p)
{
    if (make == MAKE_SERVER)
        zstate_server_destroy ((zstate_server_t **) object_p);
    else
    if (make == MAKE_CLIENT)
        zstate_client_destroy ((zstate_client_t **) object_p);
    else
        zstate_writer_destroy ((zstate_writer_t **) object_p);
}

//  Make objects until one is refused: refused with EMFILE and a reason
//  naming the constructor, never an abort; the ones made still work
static void
s_test_limit (make_t make, const char *constructor)
{
    zsys_shutdown ();
    zsys_set_max_sockets (LOW_SOCKET_LIMIT);
    void *objects [LOW_SOCKET_LIMIT];
    size_t count = 0;
    bool refused = false;
    while (count < LOW_SOCKET_LIMIT && !refused) {
        objects [count] = s_test_new (make);
        if (objects [count])
            count++;
        else {
            assert (errno == EMFILE);
            assert (strstr (zstate_reason (), constructor));
            assert (strstr (zstate_reason (), "limit of 32 sockets"));
            refused = true;
        }
    }
    assert (refused);
    assert (count >= 1);
    if (make == MAKE_SERVER)
        assert (zstate_server_pause ((zstate_server_t *) objects [0], false) == 0);
    else
    if (make == MAKE_WRITER) {
        zstate_writer_stats_t stats;
        assert (zstate_writer_stats ((zstate_writer_t *) objects [0], &stats) == 0);
        assert (stats.state == ZSTATE_WRITER_IDLE);
    }
    else {
        zstate_client_stats_t stats;
        zstate_client_stats ((zstate_client_t *) objects [0], &stats);
        assert (stats.state == ZSTATE_CLIENT_IDLE);
    }
    for (size_t index = 0; index < count; index++)
        s_test_destroy (make, &objects [index]);
    zsys_shutdown ();
}

void
zstate_limits_test (bool verbose)
{
    printf (" * zstate_limits: ");
    if (verbose)
        printf ("\n");
    int old_limit = zmq_ctx_get (zsys_init (), ZMQ_MAX_SOCKETS);
    assert (old_limit > 0);
    s_test_limit (MAKE_SERVER, "zstate_server_new");
    s_test_limit (MAKE_CLIENT, "zstate_client_new");
    s_test_limit (MAKE_WRITER, "zstate_writer_new");
    zsys_set_max_sockets ((size_t) old_limit);
    printf ("OK\n");
}
