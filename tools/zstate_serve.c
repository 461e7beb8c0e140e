/*  =========================================================================
    zstate serve - a server with consumer tables, optionally persisting to
    Redis, configured by flags or by a ZPL file

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"
#include <getopt.h>

//  How long shutdown waits for the consumers, then the writer
#define DRAIN_TIMEOUT   5000
//  At shutdown, keep reading while messages still arrive: this often, for
//  at most that long
#define QUIET_PERIOD    50
#define QUIET_MAX       2000
#define FLUSH_TIMEOUT   10000
//  How long the restore of one persisted table may take
#define RESTORE_TIMEOUT 30000
//  Redis database indexes we accept
#define REDIS_DB_MAX    65535

//  One table we serve
typedef struct {
    char *db;
    char *table;
    bool persist;               //  forward to the writer
    zstate_consumer_t *consumer;
    uint64_t popped;            //  operations the loop took
    int64_t restored;           //  ... of which the entries restored
} served_t;

//  What flags or the config file ask for
typedef struct {
    zlistx_t *binds;            //  endpoints, char *
    zlistx_t *sonic_binds;      //  endpoints for SONiC producers, char *
    bool sonic_merge;           //  SONiC SETs arrive as HSET
    zlistx_t *tables;           //  served_t *
    char *monitor;              //  monitor endpoint, or NULL
    char *redis;                //  Redis endpoint
    char *separator;            //  key separator
    int redis_db;               //  SELECT index
    char *password;             //  AUTH password, or NULL
    zstate_tool_security_t *security;   //  CURVE, address lists, caps
    bool verbose;
} settings_t;

static void
s_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate serve [OPTIONS]\n"
        "\n"
        "Runs a server with consumer tables until SIGINT, SIGTERM or SIGHUP (all\n"
        "three alike), then flushes what it accepted into Redis and exits 0. The\n"
        "application side takes and counts what arrives; tables marked for\n"
        "persistence are written to Redis. With ZSYS_SIGHANDLER=false in the\n"
        "environment the three signals keep their default action.\n"
        "\n"
        "    -b, --bind ENDPOINT     bind here, e.g. tcp://127.0.0.1:5555 (repeatable)\n"
        "    -S, --bind-sonic ENDPOINT  take SONiC frames here, from unmodified SONiC\n"
        "                            producers (PUSH), e.g. tcp://127.0.0.1:8100 (repeatable)\n"
        "        --sonic-merge       SONiC SETs arrive as HSET (merged into the entry, as\n"
        "                            SONiC's consumers do), not as SET (replacing it)\n"
        "    -T, --table DB/TABLE    serve this table (repeatable)\n"
        "    -p, --persist DB/TABLE  serve this table and persist it (repeatable)\n"
        "    -m, --monitor ENDPOINT  monitor endpoint for zstate stats and watch\n"
        "    -r, --redis ENDPOINT    Redis: host:port or unix:/path (default 127.0.0.1:6379)\n"
        "    -n, --redis-db N        Redis database index, 0 to 65535 (default 0)\n"
        "    -s, --separator TEXT    between table and key in Redis (default \":\")\n"
        "    -c, --config FILE       read settings from a ZPL file (see below); flags\n"
        "                            given after it add to it\n"
        "        --curve FILE        switch CURVE on: the server's secret certificate\n"
        "        --clients DIR       the public certificates of the clients let in\n"
        "        --allow ADDRESS     let in only these addresses (repeatable)\n"
        "        --deny ADDRESS      keep these addresses out (repeatable)\n"
        "        --insecure          allow NULL security on endpoints not loopback\n"
        "        --connections N     most connections open at once (0: no cap)\n"
        "    -v, --verbose           log activity\n"
        "    -h, --help              this text\n"
        "\n"
        "Config file (ZPL, 4-space indents):\n"
        "    server\n"
        "        bind = tcp://127.0.0.1:5555\n"
        "        bind-sonic = tcp://127.0.0.1:8100\n"
        "        sonic-merge = 1\n"
        "        monitor = tcp://127.0.0.1:5556\n"
        "    redis\n"
        "        endpoint = 127.0.0.1:6379\n"
        "        db = 0\n"
        "        separator = \":\"\n"
        "        password = secret\n"
        "    table\n"
        "        db = APPL_DB\n"
        "        name = ROUTE_TABLE\n"
        "        persist = 1\n"
        "    security\n"
        "        curve = /etc/zstate/server\n"
        "        clients = /etc/zstate/clients\n"
        "        allow = 10.0.0.1\n"
        "        insecure = 0\n"
        "        connections = 1024\n"
        "A bad file is reported with its line number.\n");
}

static void
s_served_destroy (void **item_p)
{
    served_t *served = (served_t *) *item_p;
    if (served) {
        zstate_consumer_destroy (&served->consumer);
        free (served->db);
        free (served->table);
        free (served);
        *item_p = NULL;
    }
}

static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static void
s_string_destroy (void **item_p)
{
    zstr_free ((char **) item_p);
}

//  Add a table from "DB/TABLE"; returns 0 or -1 after saying why
static int
s_settings_add_table (settings_t *settings, const char *db, const char *table,
                      bool persist, const char *where)
{
    if (!zstate_msg_name_valid (db) || !zstate_msg_name_valid (table)) {
        fprintf (stderr, "zstate serve: %s: bad table '%s/%s'\n", where, db, table);
        return -1;
    }
    served_t *served = (served_t *) zmalloc (sizeof (served_t));
    served->db = strdup (db);
    served->table = strdup (table);
    served->persist = persist;
    zlistx_add_end (settings->tables, served);
    return 0;
}

static int
s_settings_add_pair (settings_t *settings, const char *pair, bool persist)
{
    char *db = strdup (pair);
    char *table = strchr (db, '/');
    int rc = -1;
    if (table) {
        *table++ = 0;
        rc = s_settings_add_table (settings, db, table, persist, "option");
    }
    else
        fprintf (stderr, "zstate serve: '%s' is not DB/TABLE\n", pair);
    free (db);
    return rc;
}

static void
s_replace (char **field_p, const char *value)
{
    free (*field_p);
    *field_p = value? strdup (value): NULL;
}

//  Return the line number of the first line in text, from line start on,
//  that holds name at depth (4 spaces a level); 0 if none
static int
s_line_of (const char *text, const char *name, int depth, int *start_p)
{
    int number = 0;
    const char *line = text;
    while (*line) {
        number++;
        const char *end = strchr (line, '\n');
        size_t indent = strspn (line, " ");
        if (number >= *start_p && (int) indent == depth * 4
        &&  strncmp (line + indent, name, strlen (name)) == 0) {
            *start_p = number + 1;
            return number;
        }
        if (!end)
            break;
        line = end + 1;
    }
    return 0;
}

//  Report a bad setting with its line
static int
s_config_error (const char *file, const char *text, const char *name, int depth,
                int *start_p, const char *message)
{
    int number = s_line_of (text, name, depth, start_p);
    fprintf (stderr, "zstate serve: %s:%d: %s\n", file, number, message);
    return -1;
}

//  The whole file as a string, or NULL
static char *
s_file_text (const char *file)
{
    char *text = NULL;
    zfile_t *handle = zfile_new (NULL, file);
    zchunk_t *chunk = handle && zfile_input (handle) == 0? zfile_read (handle, zfile_cursize (handle), 0): NULL;
    if (chunk) {
        text = (char *) zmalloc (zchunk_size (chunk) + 1);
        memcpy (text, zchunk_data (chunk), zchunk_size (chunk));
    }
    zchunk_destroy (&chunk);
    zfile_destroy (&handle);
    return text;
}

//  zconfig does not tell where a syntax error is; the first prefix of
//  the text that fails to parse ends at the bad line
static int
s_syntax_error_line (const char *text)
{
    int lines = 1;
    for (const char *scan = text; *scan; scan++)
        lines += *scan == '\n';
    for (int count = 1; count <= lines; count++) {
        char *prefix = strdup (text);
        char *cut = prefix;
        for (int seen = 0; *cut && seen < count; cut++)
            seen += *cut == '\n';
        *cut = 0;
        zconfig_t *partial = zconfig_str_load (prefix);
        free (prefix);
        if (!partial)
            return count;
        zconfig_destroy (&partial);
    }
    return lines;
}

//  One setting of the server or redis section. Returns 0 or -1.
static int
s_settings_item (settings_t *settings, const char *file, const char *text, bool server,
                 const char *section, zconfig_t *item, int *item_start)
{
    const char *key = zconfig_name (item);
    const char *value = zconfig_value (item);
    if (server && streq (key, "bind"))
        zlistx_add_end (settings->binds, strdup (value));
    else
    if (server && streq (key, "bind-sonic"))
        zlistx_add_end (settings->sonic_binds, strdup (value));
    else
    if (server && streq (key, "sonic-merge"))
        settings->sonic_merge = !streq (value, "0");
    else
    if (server && streq (key, "monitor"))
        s_replace (&settings->monitor, value);
    else
    if (!server && streq (key, "endpoint"))
        s_replace (&settings->redis, value);
    else
    if (!server && streq (key, "separator"))
        s_replace (&settings->separator, value);
    else
    if (!server && streq (key, "password"))
        s_replace (&settings->password, value);
    else
    if (!server && streq (key, "db")) {
        long index;
        if (!zstate_tool_parse_number (value, 0, REDIS_DB_MAX, &index))
            return s_config_error (file, text, key, 1, item_start,
                                   "redis db must be a number from 0 to 65535");
        settings->redis_db = (int) index;
    }
    else {
        char message [300];
        snprintf (message, sizeof (message), "unknown setting '%s/%s'", section, key);
        return s_config_error (file, text, key, 1, item_start, message);
    }
    return 0;
}

//  A table section. Returns 0 or -1.
static int
s_settings_table (settings_t *settings, const char *file, const char *text,
                  zconfig_t *section, int *start_p)
{
    int item_start = *start_p;
    int line = s_line_of (text, zconfig_name (section), 0, start_p);
    const char *db = zconfig_get (section, "db", NULL);
    const char *table = zconfig_get (section, "name", NULL);
    const char *persist = zconfig_get (section, "persist", "0");
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item))
        if (!streq (zconfig_name (item), "db") && !streq (zconfig_name (item), "name")
        &&  !streq (zconfig_name (item), "persist")) {
            char message [300];
            snprintf (message, sizeof (message), "unknown setting 'table/%s'",
                      zconfig_name (item));
            return s_config_error (file, text, zconfig_name (item), 1, &item_start, message);
        }
    if (!db || !table) {
        fprintf (stderr, "zstate serve: %s:%d: a table needs db and name\n", file, line);
        return -1;
    }
    if (!streq (persist, "0") && !streq (persist, "1"))
        return s_config_error (file, text, "persist", 1, &item_start,
                               "persist must be 0 or 1");
    char where [300];
    snprintf (where, sizeof (where), "%s:%d", file, line);
    return s_settings_add_table (settings, db, table, streq (persist, "1"), where);
}

//  The security section. Returns 0 or -1.
static int
s_settings_security (settings_t *settings, const char *file, const char *text,
                     zconfig_t *section, int *start_p)
{
    int item_start = *start_p;
    s_line_of (text, zconfig_name (section), 0, start_p);
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
        int rc = zstate_tool_security_set (settings->security, "serve", zconfig_name (item),
                                           zconfig_value (item));
        if (rc) {
            char message [300];
            snprintf (message, sizeof (message), rc == 1? "unknown setting 'security/%s'":
                      "bad value for 'security/%s'", zconfig_name (item));
            return s_config_error (file, text, zconfig_name (item), 1, &item_start, message);
        }
    }
    return 0;
}

static int
s_settings_load (settings_t *settings, const char *file)
{
    char *text = s_file_text (file);
    if (!text) {
        fprintf (stderr, "zstate serve: cannot read %s\n", file);
        return -1;
    }
    zconfig_t *config = zconfig_str_load (text);
    if (!config) {
        fprintf (stderr, "zstate serve: %s:%d: syntax error\n", file, s_syntax_error_line (text));
        free (text);
        return -1;
    }
    int rc = 0;
    int start = 1;
    for (zconfig_t *section = zconfig_child (config); section && rc == 0;
         section = zconfig_next (section)) {
        const char *name = zconfig_name (section);
        if (streq (name, "server") || streq (name, "redis")) {
            int item_start = start;
            s_line_of (text, name, 0, &start);
            for (zconfig_t *item = zconfig_child (section); item && rc == 0;
                 item = zconfig_next (item))
                rc = s_settings_item (settings, file, text, streq (name, "server"), name,
                                      item, &item_start);
        }
        else
        if (streq (name, "table"))
            rc = s_settings_table (settings, file, text, section, &start);
        else
        if (streq (name, "security"))
            rc = s_settings_security (settings, file, text, section, &start);
        else {
            char message [300];
            snprintf (message, sizeof (message), "unknown section '%s'", name);
            rc = s_config_error (file, text, name, 0, &start, message);
        }
    }
    zconfig_destroy (&config);
    free (text);
    return rc;
}

//  One batch serves every table: the loop runs one handler at a time
typedef struct {
    served_t *served;
    zstate_batch_t *batch;
} ready_t;

//  Take what arrived for one table: the work an application would do
static int
s_table_ready (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    ready_t *ready = (ready_t *) arg;
    ready->served->popped += zstate_consumer_pops (ready->served->consumer, ready->batch, 1024);
    return 0;
}

//  Take what the consumers hold
static void
s_pop_all (zlistx_t *tables, zstate_batch_t *batch)
{
    served_t *served;
    for (served = (served_t *) zlistx_first (tables); served;
         served = (served_t *) zlistx_next (tables))
        while (zstate_consumer_pending (served->consumer))
            served->popped += zstate_consumer_pops (served->consumer, batch, 1024);
}

//  Pause the server and pop until the consumers hold every message the
//  server routed. Returns 0, or -1 after DRAIN_TIMEOUT.
static int
s_drain (zstate_server_t *server, zlistx_t *tables, zstate_batch_t *batch)
{
    //  Messages clients sent just before the signal may still be on their
    //  way in: take them while they keep coming, for up to QUIET_MAX
    zstate_server_stats_t stats;
    zstate_server_stats (server, &stats);
    uint64_t seen = stats.messages + stats.malformed;
    int64_t quiet_deadline = zclock_mono () + QUIET_MAX;
    while (zclock_mono () < quiet_deadline) {
        zclock_sleep (QUIET_PERIOD);
        s_pop_all (tables, batch);
        zstate_server_stats (server, &stats);
        if (stats.messages + stats.malformed == seen)
            break;
        seen = stats.messages + stats.malformed;
    }
    zstate_server_pause (server, true);
    zpoller_t *poller = zpoller_new (NULL);
    served_t *served;
    for (served = (served_t *) zlistx_first (tables); served;
         served = (served_t *) zlistx_next (tables)) {
        //  A table without a socket was reported when serving began;
        //  it is still drained, on the poller's timeout
        zsock_t *socket = zstate_consumer_socket (served->consumer);
        if (socket)
            zpoller_add (poller, socket);
    }
    int64_t deadline = zclock_mono () + DRAIN_TIMEOUT;
    int rc = -1;
    while (zclock_mono () < deadline) {
        zstate_server_stats (server, &stats);
        uint64_t received = 0;
        for (served = (served_t *) zlistx_first (tables); served;
             served = (served_t *) zlistx_next (tables)) {
            served->popped += zstate_consumer_pops (served->consumer, batch, 1024);
            zstate_consumer_stats_t consumer;
            zstate_consumer_stats (served->consumer, &consumer);
            received += consumer.messages;
        }
        if (received == stats.routed) {
            rc = 0;
            break;
        }
        zpoller_wait (poller, 10);
    }
    //  What is left in the queues was received: the application takes it
    s_pop_all (tables, batch);
    zpoller_destroy (&poller);
    return rc;
}

static void
s_settings_destroy (settings_t *settings)
{
    zlistx_destroy (&settings->binds);
    zlistx_destroy (&settings->sonic_binds);
    zlistx_destroy (&settings->tables);
    zstr_free (&settings->monitor);
    zstr_free (&settings->redis);
    zstr_free (&settings->separator);
    zstr_free (&settings->password);
    zstate_tool_security_destroy (&settings->security);
}

//  The command line options
static struct option
s_options [] = {
    { "bind",      required_argument, NULL, 'b' },
    { "bind-sonic", required_argument, NULL, 'S' },
    { "sonic-merge", no_argument,     NULL, 'M' },
    { "table",     required_argument, NULL, 'T' },
    { "persist",   required_argument, NULL, 'p' },
    { "monitor",   required_argument, NULL, 'm' },
    { "redis",     required_argument, NULL, 'r' },
    { "redis-db",  required_argument, NULL, 'n' },
    { "separator", required_argument, NULL, 's' },
    { "config",    required_argument, NULL, 'c' },
    { "curve",     required_argument, NULL, 1 },
    { "clients",   required_argument, NULL, 1 },
    { "allow",     required_argument, NULL, 1 },
    { "deny",      required_argument, NULL, 1 },
    { "insecure",  no_argument,       NULL, 2 },
    { "connections", required_argument, NULL, 1 },
    { "verbose",   no_argument,       NULL, 'v' },
    { "help",      no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};

//  Parse flags and config into settings; returns 0, or the exit status
static int
s_settings_parse (settings_t *settings, int argc, char *argv [])
{
    optind = 1;
    int option, which = 0;
    while ((option = getopt_long (argc, argv, "b:S:T:p:m:r:n:s:c:vh", s_options, &which)) != -1) {
        if (option == 1 || option == 2) {
            if (zstate_tool_security_set (settings->security, "serve", s_options [which].name,
                                          option == 2? "1": optarg))
                return 2;
        }
        else
        if (option == 'b' || option == 'S')
            zlistx_add_end (option == 'b'? settings->binds: settings->sonic_binds,
                            strdup (optarg));
        else
        if (option == 'M')
            settings->sonic_merge = true;
        else
        if (option == 'T' || option == 'p') {
            if (s_settings_add_pair (settings, optarg, option == 'p'))
                return 2;
        }
        else
        if (option == 'm')
            s_replace (&settings->monitor, optarg);
        else
        if (option == 'r')
            s_replace (&settings->redis, optarg);
        else
        if (option == 'n') {
            long index;
            if (zstate_tool_number ("serve", "--redis-db", optarg, 0, REDIS_DB_MAX, &index))
                return 2;
            settings->redis_db = (int) index;
        }
        else
        if (option == 's')
            s_replace (&settings->separator, optarg);
        else
        if (option == 'c') {
            if (s_settings_load (settings, optarg))
                return 1;
        }
        else
        if (option == 'v')
            settings->verbose = true;
        else
        if (option == 'h') {
            s_usage (stdout);
            return -1;
        }
        else {
            s_usage (stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf (stderr, "zstate serve: unexpected argument '%s'\n", argv [optind]);
        return 2;
    }
    if (zlistx_size (settings->binds) + zlistx_size (settings->sonic_binds) == 0) {
        fprintf (stderr, "zstate serve: nothing to bind: give --bind, --bind-sonic or a "
                 "config file\n");
        return 2;
    }
    if (zlistx_size (settings->tables) == 0) {
        fprintf (stderr, "zstate serve: no tables: give --table, --persist or a config file\n");
        return 2;
    }
    return 0;
}

//  SIGHUP, which a closing terminal or a service manager sends, ends the
//  server like SIGTERM does: CZMQ handles only SIGINT and SIGTERM, and
//  SIGHUP's default would kill us without the drain. With CZMQ's handler
//  off (ZSYS_SIGHANDLER=false), all three keep their default action.
static void
s_hangup (int signum)
{
    (void) signum;
    zsys_interrupted = 1;
}

//  Before the server binds, a persisted table starts from what Redis
//  holds, and the server drops what clients send again that Redis has.
//  Without Redis the table starts empty, as it would without persistence
static void
s_table_restore (served_t *served, zstate_writer_t *writer)
{
    served->restored = zstate_consumer_restore (served->consumer, writer, RESTORE_TIMEOUT);
    if (served->restored == -1) {
        zsys_warning ("zstate serve: %s/%s not restored: %s", served->db, served->table,
                      zstate_reason ());
        served->restored = 0;
    }
    else
        zsys_info ("zstate serve: %s/%s: restored %" PRId64 " entries from Redis",
                   served->db, served->table, served->restored);
}

//  A consumer for every table, with the writer for those persisted; those
//  are restored first.
//  Returns 0, or 1 with the reason printed.
static int
s_tables_open (settings_t *settings, zstate_server_t *server, zstate_writer_t **writer_p)
{
    served_t *served = (served_t *) zlistx_first (settings->tables);
    for (; served; served = (served_t *) zlistx_next (settings->tables)) {
        if (served->persist && !*writer_p) {
            zstate_writer_t *writer = zstate_writer_new ();
            *writer_p = writer;
            zstate_writer_set_separator (writer, settings->separator);
            zstate_writer_set_db (writer, settings->redis_db);
            if (settings->password)
                zstate_writer_set_password (writer, settings->password);
            zstate_writer_set_verbose (writer, settings->verbose);
            //  A Redis that is down now is written to when it comes back
            if (zstate_writer_connect (writer, settings->redis))
                zsys_warning ("zstate serve: Redis at %s: %s (retrying)",
                              settings->redis, zstate_reason ());
        }
        served->consumer = zstate_consumer_new (server, served->db, served->table);
        if (served->consumer && served->persist)
            s_table_restore (served, *writer_p);
        if (!served->consumer
        || (served->persist && zstate_consumer_set_writer (served->consumer, *writer_p))) {
            fprintf (stderr, "zstate serve: table %s/%s: %s\n", served->db, served->table,
                     zstate_reason ());
            return 1;
        }
    }
    return 0;
}

//  Bind the server and its monitor. Consumers are registered first and
//  the server binds last, so the first message already finds its table.
//  Returns 0, or 1 with the reason printed.
static int
s_server_bind (settings_t *settings, zstate_server_t *server)
{
    const char *endpoint = (const char *) zlistx_first (settings->binds);
    for (; endpoint; endpoint = (const char *) zlistx_next (settings->binds)) {
        int port = zstate_server_bind (server, endpoint);
        if (port == -1) {
            fprintf (stderr, "zstate serve: cannot bind %s: %s\n", endpoint, zstate_reason ());
            return 1;
        }
        zsys_info ("zstate serve: bound %s%s%d", endpoint, port? " port ": "", port);
    }
    if (settings->monitor && zstate_server_monitor (server, settings->monitor) == -1) {
        fprintf (stderr, "zstate serve: cannot bind monitor %s: %s\n", settings->monitor,
                 zstate_reason ());
        return 1;
    }
    return 0;
}

//  Serve until a signal, then drain and flush. Returns the exit status.
static int
s_serve (settings_t *settings, zstate_server_t *server, zstate_writer_t *writer)
{
    int status = 0;
    zloop_t *loop = zloop_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    zlistx_t *readies = zlistx_new ();
    zlistx_set_destructor (readies, s_free);
    served_t *served = (served_t *) zlistx_first (settings->tables);
    for (; served; served = (served_t *) zlistx_next (settings->tables)) {
        //  NULL with EMFILE when the process is out of sockets
        zsock_t *socket = zstate_consumer_socket (served->consumer);
        if (!socket) {
            //  The reason names the table
            fprintf (stderr, "zstate serve: %s\n", zstate_reason ());
            status = 1;
            break;
        }
        ready_t *ready = (ready_t *) zmalloc (sizeof (ready_t));
        ready->served = served;
        ready->batch = batch;
        zlistx_add_end (readies, ready);
        zloop_reader (loop, socket, s_table_ready, ready);
    }
    if (status == 0) {
        zsys_info ("zstate serve: serving %zu tables", zlistx_size (settings->tables));
        //  Ends on SIGINT, SIGTERM or SIGHUP: zloop stops when zsys_interrupted
        zloop_start (loop);
        zsys_info ("zstate serve: interrupted, flushing");
    }
    zloop_destroy (&loop);
    //  Stop reading from clients, then take everything the server routed
    //  before that, then let the writer confirm it all
    if (s_drain (server, settings->tables, batch)) {
        fprintf (stderr, "zstate serve: consumers did not receive everything in time\n");
        status = 1;
    }
    if (writer && zstate_writer_flush (writer, FLUSH_TIMEOUT)) {
        fprintf (stderr, "zstate serve: Redis did not confirm everything: %s\n",
                 zstate_reason ());
        status = 1;
    }
    for (served = (served_t *) zlistx_first (settings->tables); served;
         served = (served_t *) zlistx_next (settings->tables))
        zsys_info ("zstate serve: %s/%s: %" PRIu64 " operations", served->db,
                   served->table, served->popped - (uint64_t) served->restored);
    zlistx_destroy (&readies);
    zstate_batch_destroy (&batch);
    return status;
}

int
zstate_serve_main (int argc, char *argv [])
{
    settings_t settings = { 0 };
    settings.binds = zlistx_new ();
    zlistx_set_destructor (settings.binds, s_string_destroy);
    settings.sonic_binds = zlistx_new ();
    zlistx_set_destructor (settings.sonic_binds, s_string_destroy);
    settings.tables = zlistx_new ();
    zlistx_set_destructor (settings.tables, s_served_destroy);
    settings.redis = strdup ("127.0.0.1:6379");
    settings.separator = strdup (":");
    settings.security = zstate_tool_security_new ();
    int status = s_settings_parse (&settings, argc, argv);
    if (status) {
        s_settings_destroy (&settings);
        return status == -1? 0: status;
    }

    const char *czmq_handler = getenv ("ZSYS_SIGHANDLER");
    if (!czmq_handler || !streq (czmq_handler, "false")) {
        struct sigaction action = { .sa_handler = s_hangup };
        sigemptyset (&action.sa_mask);
        sigaction (SIGHUP, &action, NULL);
    }
    zstate_server_t *server = zstate_server_new ();
    zstate_server_set_verbose (server, settings.verbose);
    zstate_writer_t *writer = NULL;
    status = zstate_tool_security_server (settings.security, server);
    if (status == 0)
        status = s_tables_open (&settings, server, &writer);
    if (status == 0)
        status = s_server_bind (&settings, server);
    zstate_sonic_bridge_t *bridge = NULL;
    if (status == 0)
        status = zstate_serve_sonic_bind (settings.sonic_binds, settings.sonic_merge,
                                          server, &bridge);
    if (status == 0)
        status = s_serve (&settings, server, writer);
    zstate_serve_sonic_end (&bridge);
    zstate_server_destroy (&server);
    //  Consumers forward to the writer: they go first
    zlistx_purge (settings.tables);
    zstate_writer_destroy (&writer);
    s_settings_destroy (&settings);
    return status;
}
