/*  =========================================================================
    zstate_redis_test - the Redis connection's full suite: endpoint forms,
    databases and AUTH, pipelines, error replies and context errors, and a
    stalled, killed and restarted server

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include <poll.h>

//  Endpoint forms
static void
s_test_endpoints (void)
{
    const char *good [] = {
        "127.0.0.1:6379", "tcp://localhost:7000", "localhost", "[::1]:6379",
        "unix:/tmp/r.sock", "unix:///tmp/r.sock", "/tmp/r.sock", "./r.sock", NULL
    };
    for (int index = 0; good [index]; index++) {
        zstate_redis_t *redis = zstate_redis_new (good [index]);
        assert (redis);
        assert (streq (zstate_redis_endpoint (redis), good [index]));
        assert (!zstate_redis_connected (redis));
        assert (zstate_redis_fd (redis) == -1);
        zstate_redis_destroy (&redis);
    }
    const char *bad [] = { "", "host:", "host:0", "host:99999", "host:12x", "unix:", ":80", NULL };
    for (int index = 0; bad [index]; index++) {
        zstate_redis_t *redis = zstate_redis_new (bad [index]);
        assert (redis == NULL && errno == EINVAL);
    }
    assert (zstate_redis_new (NULL) == NULL && errno == EINVAL);
}

//  Connect over TCP and over the unix socket, with SELECT and AUTH
static void
s_test_connect (zstate_redis_server_t *server, zstate_redis_t **tcp_p,
                zstate_redis_t **local_p, bool verbose)
{
    //  Connect over TCP; commands before connect fail with ENOTCONN
    zstate_redis_t *tcp = *tcp_p = zstate_redis_new (zstate_redis_server_endpoint (server));
    assert (tcp);
    assert (zstate_redis_appendx (tcp, "PING", NULL) == -1 && errno == ENOTCONN);
    assert (zstate_redis_send (tcp) == -1 && errno == ENOTCONN);
    zstate_redis_set_timeouts (tcp, 500, 1000);
    assert (zstate_redis_connect (tcp) == 0);
    assert (zstate_redis_connected (tcp));
    assert (zstate_redis_fd (tcp) >= 0);
    assert (zstate_redis_command (tcp, "SET", "where", "db0", NULL) == ZSTATE_REDIS_STATUS);
    assert (streq (zstate_redis_str (tcp, -1, NULL), "OK"));

    //  Connect over the unix socket, with SELECT 3
    char unix_endpoint [320];
    snprintf (unix_endpoint, sizeof (unix_endpoint), "unix:%s",
              zstate_redis_server_socket (server));
    zstate_redis_t *local = *local_p = zstate_redis_new (unix_endpoint);
    assert (local);
    zstate_redis_set_db (local, 3);
    assert (zstate_redis_connect (local) == 0);
    assert (zstate_redis_command (local, "EXISTS", "where", NULL) == ZSTATE_REDIS_INTEGER);
    assert (zstate_redis_integer (local, -1) == 0);
    assert (zstate_redis_command (local, "SET", "where", "db3", NULL) == ZSTATE_REDIS_STATUS);
    assert (zstate_redis_command (tcp, "GET", "where", NULL) == ZSTATE_REDIS_STRING);
    assert (streq (zstate_redis_str (tcp, -1, NULL), "db0"));
    //  SELECT of a database that does not exist fails the connect
    zstate_redis_set_db (local, 99);
    assert (zstate_redis_connect (local) == -1 && errno == EINVAL);
    assert (!zstate_redis_connected (local));
    if (verbose)
        zsys_debug ("expected: %s", zstate_reason ());
    //  AUTH without a password configured on the server is refused
    zstate_redis_set_db (local, 0);
    zstate_redis_set_password (local, "secret");
    assert (zstate_redis_connect (local) == -1 && errno == EACCES);
    zstate_redis_set_password (local, NULL);
    assert (zstate_redis_connect (local) == 0);
}

//  A pipeline: many commands, one write, replies in order, binary-safe
static void
s_test_pipeline (zstate_redis_t *tcp)
{
    const char key [] = { 'b', 0, 'i', (char) 0xff, 'n' };
    const char value [] = { 0, 1, 2, 0, 'v' };
    const char *argv [] = { "HSET", key, "field", value };
    size_t argvlen [] = { 4, sizeof (key), 5, sizeof (value) };
    assert (zstate_redis_append (tcp, 4, argv, argvlen) == 0);
    assert (zstate_redis_appendx (tcp, "MULTI", NULL) == 0);
    assert (zstate_redis_appendx (tcp, "INCR", "counter", NULL) == 0);
    assert (zstate_redis_appendx (tcp, "HSET", "where", "a", "1", NULL) == 0);
    assert (zstate_redis_appendx (tcp, "INCR", "counter", NULL) == 0);
    assert (zstate_redis_appendx (tcp, "EXEC", NULL) == 0);
    const char *hget [] = { "HGET", key, "field" };
    size_t hgetlen [] = { 4, sizeof (key), 5 };
    assert (zstate_redis_append (tcp, 3, hget, hgetlen) == 0);
    assert (zstate_redis_outbound (tcp) > 0);
    assert (zstate_redis_send (tcp) == 0);
    assert (zstate_redis_outbound (tcp) == 0);
    //  Replies come back without blocking once the socket holds them
    int replies = 0;
    int64_t deadline = zclock_mono () + 30000;
    while (replies < 7 && zclock_mono () < deadline) {
        struct pollfd item = { zstate_redis_fd (tcp), POLLIN, 0 };
        poll (&item, 1, 100);
        assert (zstate_redis_receive (tcp) >= 0);
        while (zstate_redis_next (tcp, false) == 1) {
            switch (replies) {
                case 0:
                    assert (zstate_redis_type (tcp, -1) == ZSTATE_REDIS_INTEGER);
                    assert (zstate_redis_integer (tcp, -1) == 1);
                    break;
                case 1:
                    assert (streq (zstate_redis_str (tcp, -1, NULL), "OK"));
                    break;
                case 2: case 3: case 4:
                    assert (streq (zstate_redis_str (tcp, -1, NULL), "QUEUED"));
                    break;
                case 5:
                    //  EXEC: per-command results; a WRONGTYPE fails only
                    //  its own command
                    assert (zstate_redis_type (tcp, -1) == ZSTATE_REDIS_ARRAY);
                    assert (zstate_redis_elements (tcp) == 3);
                    assert (zstate_redis_integer (tcp, 0) == 1);
                    assert (zstate_redis_type (tcp, 1) == ZSTATE_REDIS_ERROR);
                    assert (strncmp (zstate_redis_str (tcp, 1, NULL), "WRONGTYPE", 9) == 0);
                    assert (zstate_redis_integer (tcp, 2) == 2);
                    assert (zstate_redis_type (tcp, 3) == ZSTATE_REDIS_NONE);
                    break;
                case 6: {
                    size_t size;
                    const char *got = zstate_redis_str (tcp, -1, &size);
                    assert (size == sizeof (value) && memcmp (got, value, size) == 0);
                    break;
                }
            }
            replies++;
        }
    }
    assert (replies == 7);
    assert (zstate_redis_next (tcp, false) == 0);
    //  A reply that nests arrays: SCAN's cursor, then its keys
    assert (zstate_redis_command (tcp, "SCAN", "0", "MATCH", "where", "COUNT", "1000", NULL)
            == ZSTATE_REDIS_ARRAY);
    assert (streq (zstate_redis_str (tcp, 0, NULL), "0"));
    assert (zstate_redis_nested_elements (tcp, 0) == 0);
    assert (zstate_redis_nested_elements (tcp, 1) == 1);
    size_t size;
    assert (streq (zstate_redis_nested_str (tcp, 1, 0, &size), "where") && size == 5);
    assert (zstate_redis_nested_str (tcp, 1, 1, NULL) == NULL);
    assert (zstate_redis_nested_str (tcp, 0, 0, NULL) == NULL);
}

//  Error replies, context errors, a stalled and a killed server
static void
s_test_failures (zstate_redis_server_t *server, zstate_redis_t *tcp,
                 zstate_redis_t *local, bool verbose)
{
    //  An error reply is a reply: the connection stays
    assert (zstate_redis_command (tcp, "NOSUCHCOMMAND", NULL) == ZSTATE_REDIS_ERROR);
    assert (zstate_redis_connected (tcp));
    assert (zstate_redis_command (tcp, "GET", "nothing", NULL) == ZSTATE_REDIS_NIL);

    //  A context error is not: the server closes our connection, the next
    //  command fails, the context is gone; connecting again works
    assert (zstate_redis_command (local, "CLIENT", "KILL", "TYPE", "normal", NULL)
            == ZSTATE_REDIS_INTEGER);
    assert (zstate_redis_integer (local, -1) >= 1);
    assert (zstate_redis_command (tcp, "PING", NULL) == -1);
    assert (errno == ECONNRESET || errno == EPIPE);
    assert (!zstate_redis_connected (tcp));
    if (verbose)
        zsys_debug ("expected: %s", zstate_reason ());
    assert (zstate_redis_connect (tcp) == 0);
    assert (zstate_redis_command (tcp, "GET", "where", NULL) == ZSTATE_REDIS_STRING);

    //  A stalled server: the command timeout bounds the wait
    zstate_redis_set_timeouts (tcp, 500, 300);
    assert (zstate_redis_connect (tcp) == 0);
    assert (zstate_redis_server_freeze (server) == 0);
    assert (zstate_redis_command (tcp, "PING", NULL) == -1 && errno == ETIMEDOUT);
    //  ... and so does it for the connect's PING
    assert (zstate_redis_connect (tcp) == -1 && errno == ETIMEDOUT);
    assert (zstate_redis_server_thaw (server) == 0);
    assert (zstate_redis_connect (tcp) == 0);

    //  A killed server: writes fail (no SIGPIPE), connects are refused;
    //  after a restart on the same port, reconnect works
    assert (zstate_redis_server_kill (server) == 0);
    assert (zstate_redis_appendx (tcp, "PING", NULL) == 0);
    int rc = zstate_redis_send (tcp);
    if (rc == 0)    //  the first write may still be taken by the kernel
        rc = zstate_redis_next (tcp, true);
    assert (rc == -1);
    assert (!zstate_redis_connected (tcp));
    assert (zstate_redis_connect (tcp) == -1 && errno == ECONNREFUSED);
    assert (zstate_redis_connect (local) == -1);
    assert (zstate_redis_server_start (server) == 0);
    assert (zstate_redis_connect (tcp) == 0);
    assert (zstate_redis_command (tcp, "PING", NULL) == ZSTATE_REDIS_STATUS);
    assert (streq (zstate_redis_str (tcp, -1, NULL), "PONG"));
}

//  The example (in zstate_redis.c), then the full suite
void
zstate_redis_suites (bool verbose)
{
    zstate_redis_test (verbose);
    printf (" * zstate_redis (suites): ");
    if (verbose)
        printf ("\n");
    s_test_endpoints ();
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    zstate_redis_t *tcp, *local;
    s_test_connect (server, &tcp, &local, verbose);
    s_test_pipeline (tcp);
    s_test_failures (server, tcp, local, verbose);
    zstate_redis_destroy (&tcp);
    zstate_redis_destroy (&local);
    zstate_redis_destroy (&local);
    zstate_redis_server_destroy (&server);
    printf ("OK\n");
}
