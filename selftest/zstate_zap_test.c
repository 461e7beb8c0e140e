/*  =========================================================================
    zstate_zap_test - the process's ZAP handler: hostile requests answered
    500 and counted, the address lists, the certificate directory read
    again when it changes, and the client's key as User-Id on a real
    CURVE connection

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_zap.h"

#define ZAP_ENDPOINT    "inproc://zeromq.zap.01"
#define DEADLINE        30000   //  msecs: only a broken handler waits this long

//  Send request, frames given as text (NULL ends it; "" an empty frame),
//  plus key as a last frame of key_size bytes when key; return the reply's
//  status code and put its User-Id in user_id (41 bytes)
static int
s_ask (zsock_t *client, const byte *key, size_t key_size, const char *frame, ...)
{
    zmsg_t *request = zmsg_new ();
    va_list args;
    va_start (args, frame);
    for (; frame; frame = va_arg (args, const char *))
        zmsg_addstr (request, frame);
    va_end (args);
    if (key)
        zmsg_addmem (request, key, key_size);
    int rc = zmsg_send (&request, client);
    assert (rc == 0);
    zmsg_t *reply = zmsg_recv (client);
    assert (reply && zmsg_size (reply) == 6);
    char *version = zmsg_popstr (reply);
    assert (streq (version, "1.0"));
    zstr_free (&version);
    zframe_t *id = zmsg_pop (reply);
    zframe_destroy (&id);
    char *status = zmsg_popstr (reply);
    int code = atoi (status);
    zstr_free (&status);
    zmsg_destroy (&reply);
    return code;
}

//  The same, returning the User-Id of a well-formed CURVE request
static int
s_ask_curve (zsock_t *client, const char *address, const byte *key, char *user_id)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "1.0");
    zmsg_addstr (request, "7");
    zmsg_addstr (request, "zstate");
    zmsg_addstr (request, address);
    zmsg_addstr (request, "");
    zmsg_addstr (request, "CURVE");
    zmsg_addmem (request, key, 32);
    int rc = zmsg_send (&request, client);
    assert (rc == 0);
    zmsg_t *reply = zmsg_recv (client);
    assert (reply && zmsg_size (reply) == 6);
    char *version = zmsg_popstr (reply);
    char *id = zmsg_popstr (reply);
    assert (streq (version, "1.0") && streq (id, "7"));    //  the request id comes back
    zstr_free (&version);
    zstr_free (&id);
    char *status = zmsg_popstr (reply);
    char *text = zmsg_popstr (reply);
    char *user = zmsg_popstr (reply);
    zstr_free (&text);
    snprintf (user_id, 41, "%s", user);
    int code = atoi (status);
    zstr_free (&status);
    zstr_free (&user);
    zmsg_destroy (&reply);
    return code;
}

static void
s_stats (zactor_t *zap, uint64_t *counts)
{
    zstr_send (zap, "STATS");
    int rc = zsock_recv (zap, "8888", &counts [0], &counts [1], &counts [2], &counts [3]);
    assert (rc == 0);
}

static void
s_command (zactor_t *zap, const char *command, const char *argument)
{
    zstr_sendx (zap, command, argument, NULL);
    zsock_wait (zap);
}

//  Every request that is not ZAP 1.0 gets 500 and is counted; a message
//  without an envelope, from raw, never reaches the handler; it still
//  answers after
static void
s_test_hostile (zactor_t *zap, zsock_t *client, zsock_t *raw)
{
    byte key [33] = { 0 };
    assert (s_ask (client, NULL, 0, "1.0", NULL) == 500);
    assert (s_ask (client, NULL, 0, "", NULL) == 500);
    assert (s_ask (client, NULL, 0, "1.0", "1", NULL) == 500);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.1", "", NULL) == 500);
    assert (s_ask (client, NULL, 0, "2.0", "1", "zstate", "127.0.0.1", "", "NULL", NULL) == 500);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.1", "", "FOO", NULL) == 500);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.1", "", "NULL", "x", NULL) == 500);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.1", "", "PLAIN", "u", NULL) == 500);
    assert (s_ask (client, key, 31, "1.0", "1", "zstate", "127.0.0.1", "", "CURVE", NULL) == 500);
    assert (s_ask (client, key, 33, "1.0", "1", "zstate", "127.0.0.1", "", "CURVE", NULL) == 500);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.1", "", "CURVE", NULL) == 500);
    //  Random frames, a bounded number of rounds
    for (int round = 0; round < 200; round++) {
        zmsg_t *request = zmsg_new ();
        int frames = 1 + randof (9);
        for (int index = 0; index < frames; index++) {
            byte noise [40];
            size_t size = (size_t) randof (40);
            for (size_t at = 0; at < size; at++)
                noise [at] = (byte) randof (256);
            zmsg_addmem (request, noise, size);
        }
        zmsg_send (&request, client);
        zmsg_t *reply = zmsg_recv (client);
        assert (reply && zmsg_size (reply) == 6);
        zmsg_destroy (&reply);
    }
    //  No envelope: libzmq's REP drops it before we see it
    zstr_sendx (raw, "1.0", "1", "zstate", NULL);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.1", "", "NULL", NULL) == 200);
    uint64_t counts [4];
    s_stats (zap, counts);
    assert (counts [0] == 212 && counts [1] == 1 && counts [2] == 0 && counts [3] == 211);
}

//  The lists and the directory, as zauth decides
static void
s_test_policy (zactor_t *zap, zsock_t *client, const char *dir)
{
    zcert_t *known = zcert_new ();
    zcert_t *later = zcert_new ();
    char *path = zsys_sprintf ("%s/known", dir);
    zcert_save_public (known, path);
    zstr_free (&path);
    char user_id [41];
    //  No directory yet: CURVE fails, PLAIN always fails
    assert (s_ask_curve (client, "127.0.0.1", zcert_public_key (known), user_id) == 400);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.1", "", "PLAIN", "u", "p",
                   NULL) == 400);
    s_command (zap, "CURVE", dir);
    assert (s_ask_curve (client, "127.0.0.1", zcert_public_key (known), user_id) == 200);
    assert (streq (user_id, zcert_public_txt (known)));
    assert (s_ask_curve (client, "127.0.0.1", zcert_public_key (later), user_id) == 400);
    assert (*user_id == 0);
    //  A certificate added to the directory lets its key in
    path = zsys_sprintf ("%s/later", dir);
    zcert_save_public (later, path);
    zstr_free (&path);
    assert (s_ask_curve (client, "127.0.0.1", zcert_public_key (later), user_id) == 200);
    assert (streq (user_id, zcert_public_txt (later)));
    //  DENY keeps its address out, with a known key too
    s_command (zap, "DENY", "10.0.0.1");
    assert (s_ask_curve (client, "10.0.0.1", zcert_public_key (known), user_id) == 400);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "10.0.0.1", "", "NULL", NULL) == 400);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.1", "", "NULL", NULL) == 200);
    //  With an ALLOW list, only its addresses; CURVE still needs the key
    s_command (zap, "ALLOW", "127.0.0.2");
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.1", "", "NULL", NULL) == 400);
    assert (s_ask (client, NULL, 0, "1.0", "1", "zstate", "127.0.0.2", "", "NULL", NULL) == 200);
    assert (s_ask_curve (client, "127.0.0.2", zcert_public_key (known), user_id) == 200);
    byte stranger [32] = { 1 };
    assert (s_ask_curve (client, "127.0.0.2", stranger, user_id) == 400);
    zcert_destroy (&known);
    zcert_destroy (&later);
}

//  A server socket behind the handler sees the client's key as User-Id
static void
s_test_user_id (const char *dir)
{
    zcert_t *server = zcert_new ();
    zcert_t *client_cert = zcert_new ();
    char *path = zsys_sprintf ("%s/client", dir);
    zcert_save_public (client_cert, path);
    zstr_free (&path);
    zactor_t *zap = zstate_zap_new ();
    assert (zap);
    s_command (zap, "CURVE", dir);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    zsock_set_zap_domain (router, "zstate");
    zsock_set_curve_server (router, 1);
    zcert_apply (server, router);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zcert_apply (client_cert, dealer);
    zsock_set_curve_serverkey (dealer, zcert_public_txt (server));
    int rc = zsock_connect (dealer, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    zstr_send (dealer, "hello");
    zsock_set_rcvtimeo (router, DEADLINE);
    zmsg_t *msg = zmsg_recv (router);
    assert (msg && zmsg_size (msg) == 2);
    assert (streq (zframe_meta (zmsg_last (msg), "User-Id"), zcert_public_txt (client_cert)));
    zmsg_destroy (&msg);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    zactor_destroy (&zap);
    zcert_destroy (&server);
    zcert_destroy (&client_cert);
}

static void
s_dir_remove (const char *path)
{
    zdir_t *dir = zdir_new (path, NULL);
    assert (dir);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
}

void
zstate_zap_test (bool verbose)
{
    printf (" * zstate_zap: ");
    (void) verbose;
    char dir [] = "/tmp/zstate-zap-XXXXXX";
    char *made = mkdtemp (dir);
    assert (made);
    zactor_t *zap = zstate_zap_new ();
    assert (zap);
    //  One per process: a second cannot bind the endpoint
    zactor_t *second = zstate_zap_new ();
    assert (!second && errno == EADDRINUSE);
    zsock_t *client = zsock_new (ZMQ_REQ);
    assert (client);
    zsock_set_rcvtimeo (client, DEADLINE);
    int rc = zsock_connect (client, ZAP_ENDPOINT);
    assert (rc == 0);
    //  A sender that closes while REP holds its message unread can make
    //  libzmq 4.3.4's REP send the next answer to it: ours outlives the
    //  handler
    zsock_t *raw = zsock_new (ZMQ_DEALER);
    assert (raw);
    zsock_set_linger (raw, 0);
    rc = zsock_connect (raw, ZAP_ENDPOINT);
    assert (rc == 0);
    s_test_hostile (zap, client, raw);
    s_test_policy (zap, client, dir);
    zsock_destroy (&client);
    zactor_destroy (&zap);
    zsock_destroy (&raw);
    //  Gone with its actor: the endpoint is free again at once, though
    //  libzmq reaps a closed socket later
    for (int round = 0; round < 50; round++) {
        zap = zstate_zap_new ();
        assert (zap);
        zactor_destroy (&zap);
    }
    char user_dir [] = "/tmp/zstate-zap-XXXXXX";
    made = mkdtemp (user_dir);
    assert (made);
    s_test_user_id (user_dir);
    s_dir_remove (dir);
    s_dir_remove (user_dir);
    printf ("OK\n");
}
