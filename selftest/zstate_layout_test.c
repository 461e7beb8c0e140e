/*  =========================================================================
    zstate_layout_test - SONiC's database layout through one zstate serve,
    against a real Redis: APPL_DB (":", db 0), CONFIG_DB ("|", db 4) and
    STATE_DB ("|", db 6) tables land where SONiC reads them, from a
    database_config.json and from a ZPL file's per-table settings, with
    and without the NULL/NULL placeholder

    Runs the zstate program (ZSTATE, default tools/zstate) as a child,
    waits for its READY=1 on a notify socket of its own, sends with a
    client, stops it with SIGTERM, and reads Redis back with hiredis.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_writer_marks.h"
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

void
    zstate_layout_test (bool verbose);

//  How long each step may take on a loaded machine, msecs
#define STEP_TIMEOUT    60000

//  A notify socket for the child, bound at path
static int
s_notify_socket (const char *path)
{
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    assert (strlen (path) < sizeof (address.sun_path));
    strcpy (address.sun_path, path);
    int handle = socket (AF_UNIX, SOCK_DGRAM, 0);
    assert (handle >= 0);
    int rc = bind (handle, (struct sockaddr *) &address, sizeof (address));
    assert (rc == 0);
    return handle;
}

//  Wait for the datagram want; false after STEP_TIMEOUT or if the child died
static bool
s_notify_wait (int handle, pid_t child, const char *want)
{
    int64_t deadline = zclock_mono () + STEP_TIMEOUT;
    while (zclock_mono () < deadline) {
        struct pollfd item = { .fd = handle, .events = POLLIN };
        if (poll (&item, 1, 100) == 1) {
            char datagram [256];
            ssize_t size = recv (handle, datagram, sizeof (datagram) - 1, 0);
            assert (size >= 0);
            datagram [size] = 0;
            if (streq (datagram, want))
                return true;
        }
        else
        if (waitpid (child, NULL, WNOHANG) == child)
            return false;
    }
    return false;
}

//  Run zstate serve with args (NULL-terminated) and NOTIFY_SOCKET; returns
//  its pid once it said READY=1
static pid_t
s_serve_start (const char *dir, int notify, const char **args)
{
    const char *program = getenv ("ZSTATE");
    program = program? program: "tools/zstate";
    assert (access (program, X_OK) == 0);
    char *socket_path = zsys_sprintf ("%s/notify.sock", dir);
    pid_t child = fork ();
    assert (child >= 0);
    if (child == 0) {
        const char *argv [32] = { program, "serve", "--notify", "yes" };
        size_t count = 4;
        for (; *args && count < 31; args++)
            argv [count++] = *args;
        argv [count] = NULL;
        setenv ("NOTIFY_SOCKET", socket_path, 1);
        execv (program, (char **) argv);
        _exit (127);
    }
    bool ready = s_notify_wait (notify, child, "READY=1");
    assert (ready);
    zstr_free (&socket_path);
    return child;
}

static void
s_serve_stop (pid_t child)
{
    kill (child, SIGTERM);
    int status = -1;
    int64_t deadline = zclock_mono () + STEP_TIMEOUT;
    while (waitpid (child, &status, WNOHANG) == 0 && zclock_mono () < deadline)
        zclock_sleep (20);
    assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

//  Send the operations every case uses, and wait until the server has them
static void
s_send (const char *endpoint)
{
    zstate_client_t *client = zstate_client_new ();
    assert (zstate_client_connect (client, endpoint) == 0);
    zstate_producer_t *route = zstate_producer_new (client, "APPL_DB", "ROUTE_TABLE");
    zstate_producer_t *port = zstate_producer_new (client, "CONFIG_DB", "PORT");
    zstate_producer_t *state = zstate_producer_new (client, "STATE_DB", "PORT_TABLE");
    assert (zstate_producer_set (route, "10.0.0.0/24", "nexthop", "10.1.0.1",
                                 "ifname", "Ethernet0", NULL) == 0);
    assert (zstate_producer_set (port, "Ethernet0", "mtu", "9100", "speed", "100000",
                                 NULL) == 0);
    assert (zstate_producer_set (state, "Ethernet0", "oper_status", "up", NULL) == 0);
    //  No fields: a key only with the placeholder
    assert (zstate_producer_set (state, "Ethernet8", NULL) == 0);
    assert (zstate_client_flush (client, STEP_TIMEOUT) == 0);
    zstate_producer_destroy (&route);
    zstate_producer_destroy (&port);
    zstate_producer_destroy (&state);
    zstate_client_destroy (&client);
}

//  HGETALL key in db, as "field=value ..." (sorted), or "" for no key
static char *
s_hgetall (zstate_redis_server_t *server, int db, const char *key)
{
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    zstate_redis_set_db (redis, db);
    assert (zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "HGETALL", key, NULL) == ZSTATE_REDIS_ARRAY);
    zlistx_t *pairs = zlistx_new ();
    zlistx_set_duplicator (pairs, (zlistx_duplicator_fn *) strdup);
    zlistx_set_destructor (pairs, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (pairs, (zlistx_comparator_fn *) strcmp);
    for (int element = 0; element + 1 < (int) zstate_redis_elements (redis); element += 2) {
        char *pair = zsys_sprintf ("%s=%s", zstate_redis_str (redis, element, NULL),
                                   zstate_redis_str (redis, element + 1, NULL));
        zlistx_add_end (pairs, pair);
        zstr_free (&pair);
    }
    zlistx_sort (pairs);
    char *text = strdup ("");
    for (char *pair = (char *) zlistx_first (pairs); pair; pair = (char *) zlistx_next (pairs)) {
        char *longer = zsys_sprintf ("%s%s%s", text, *text? " ": "", pair);
        free (text);
        text = longer;
    }
    zlistx_destroy (&pairs);
    zstate_redis_destroy (&redis);
    return text;
}

//  The entries in db: its keys but for the writer's own watermarks and
//  instance key
static long
s_dbsize (zstate_redis_server_t *server, int db)
{
    zstate_redis_t *redis = zstate_redis_new (zstate_redis_server_socket (server));
    zstate_redis_set_db (redis, db);
    assert (zstate_redis_connect (redis) == 0);
    assert (zstate_redis_command (redis, "KEYS", "*", NULL) == ZSTATE_REDIS_ARRAY);
    long size = 0;
    for (size_t element = 0; element < zstate_redis_elements (redis); element++) {
        const char *key = zstate_redis_str (redis, (int) element, NULL);
        size += strncmp (key, ZSTATE_WRITER_MARKS_PREFIX, strlen (ZSTATE_WRITER_MARKS_PREFIX)) != 0
             && strneq (key, "_ZSTATE_INSTANCE");
    }
    assert (zstate_redis_command (redis, "FLUSHDB", NULL) == ZSTATE_REDIS_STATUS);
    zstate_redis_destroy (&redis);
    return size;
}

static void
s_expect (zstate_redis_server_t *server, int db, const char *key, const char *want,
          bool verbose)
{
    char *have = s_hgetall (server, db, key);
    if (verbose || !streq (have, want))
        printf ("    db %d HGETALL '%s': %s\n", db, key, *have? have: "(no key)");
    assert (streq (have, want));
    free (have);
}

//  What every case must find, placeholder or not
static void
s_expect_layout (zstate_redis_server_t *server, bool placeholder, bool verbose)
{
    s_expect (server, 0, "ROUTE_TABLE:10.0.0.0/24", "ifname=Ethernet0 nexthop=10.1.0.1",
              verbose);
    s_expect (server, 4, "PORT|Ethernet0", "mtu=9100 speed=100000", verbose);
    s_expect (server, 6, "PORT_TABLE|Ethernet0", "oper_status=up", verbose);
    s_expect (server, 6, "PORT_TABLE|Ethernet8", placeholder? "NULL=NULL": "", verbose);
    //  Nothing anywhere else
    assert (s_dbsize (server, 0) == 1);
    assert (s_dbsize (server, 4) == 1);
    assert (s_dbsize (server, 6) == (placeholder? 2: 1));
}

static void
s_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert (file);
    fputs (text, file);
    fclose (file);
}

void
zstate_layout_test (bool verbose)
{
    printf (" * zstate_layout: ");
    if (verbose)
        printf ("\n");
    zstate_redis_server_t *server = zstate_redis_server_new (false);
    assert (server);
    char dir [] = "/tmp/zstate-layout-XXXXXX";
    assert (mkdtemp (dir));
    char *notify_path = zsys_sprintf ("%s/notify.sock", dir);
    int notify = s_notify_socket (notify_path);
    char *endpoint = zsys_sprintf ("ipc://%s/serve.ipc", dir);

    //  SONiC's database_config.json, for the instance the fixture runs
    char *json_path = zsys_sprintf ("%s/database_config.json", dir);
    char *json = zsys_sprintf (
        "{ \"INSTANCES\": { \"redis\": { \"hostname\": \"127.0.0.1\", \"port\": %d,\n"
        "                              \"unix_socket_path\": \"%s\" } },\n"
        "  \"DATABASES\": {\n"
        "    \"APPL_DB\": { \"id\": 0, \"separator\": \":\", \"instance\": \"redis\" },\n"
        "    \"CONFIG_DB\": { \"id\": 4, \"separator\": \"|\", \"instance\": \"redis\" },\n"
        "    \"STATE_DB\": { \"id\": 6, \"separator\": \"|\", \"instance\": \"redis\" } },\n"
        "  \"VERSION\": \"1.0\" }\n",
        zstate_redis_server_port (server), zstate_redis_server_socket (server));
    s_write_file (json_path, json);
    if (verbose)
        printf ("    serve --db-config, --placeholder\n");
    const char *json_args [] = { "--bind", endpoint, "--db-config", json_path, "--placeholder",
                                 "--persist", "APPL_DB/ROUTE_TABLE", "--persist", "CONFIG_DB/PORT",
                                 "--persist", "STATE_DB/PORT_TABLE", NULL };
    pid_t child = s_serve_start (dir, notify, json_args);
    s_send (endpoint);
    s_serve_stop (child);
    s_expect_layout (server, true, verbose);

    //  Without a database config: each table's own separator and db index
    //  in the ZPL file, the redis section's for the others; no placeholder
    char *zpl_path = zsys_sprintf ("%s/serve.cfg", dir);
    char *zpl = zsys_sprintf (
        "server\n    bind = %s\nredis\n    endpoint = unix:%s\n"
        "table\n    db = APPL_DB\n    name = ROUTE_TABLE\n    persist = 1\n"
        "table\n    db = CONFIG_DB\n    name = PORT\n    persist = 1\n"
        "    separator = \"|\"\n    redis-db = 4\n"
        "table\n    db = STATE_DB\n    name = PORT_TABLE\n    persist = 1\n"
        "    separator = \"|\"\n    redis-db = 6\n",
        endpoint, zstate_redis_server_socket (server));
    s_write_file (zpl_path, zpl);
    if (verbose)
        printf ("    serve --config with per-table settings\n");
    const char *zpl_args [] = { "--config", zpl_path, NULL };
    child = s_serve_start (dir, notify, zpl_args);
    s_send (endpoint);
    s_serve_stop (child);
    s_expect_layout (server, false, verbose);

    close (notify);
    unlink (notify_path);
    unlink (json_path);
    unlink (zpl_path);
    rmdir (dir);
    zstr_free (&notify_path);
    zstr_free (&endpoint);
    zstr_free (&json_path);
    zstr_free (&json);
    zstr_free (&zpl_path);
    zstr_free (&zpl);
    zstate_redis_server_destroy (&server);
    printf ("OK\n");
}
