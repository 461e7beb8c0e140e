/*  =========================================================================
    zstate serve's settings: its flags and its ZPL config file

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_serve.h"
#include <getopt.h>

//  A config file, bytes: far more than any real one
#define CONFIG_MAX      (64 * 1024 * 1024)

static void
s_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate serve [OPTIONS]\n"
        "\n"
        "Runs a server with consumer tables until SIGINT, SIGTERM or SIGHUP (all\n"
        "three alike: drain, flush into Redis, exit 0). The application side\n"
        "takes and counts what arrives; tables marked for persistence are written\n"
        "to Redis. With ZSYS_SIGHANDLER=false in the environment the three\n"
        "signals keep their default action. Under systemd (NOTIFY_SOCKET set),\n"
        "serve reports READY=1 once it is bound.\n"
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
        "    -s, --separator TEXT    between table and key in Redis, 1 to 16 bytes\n"
        "                            (default \":\")\n"
        "    -d, --db-config FILE    SONiC's database_config.json: each persisted table\n"
        "                            goes to the Redis instance, database index and\n"
        "                            separator of its db name\n"
        "        --placeholder       a SET with no fields writes the field NULL = NULL,\n"
        "                            as SONiC does, instead of leaving no key\n"
        "        --notify WHEN       readiness to systemd: auto (when NOTIFY_SOCKET is\n"
        "                            set), yes (fail without it) or no (default auto)\n"
        "    -c, --config FILE       read settings from a ZPL file (see below); flags\n"
        "                            given after it add to it\n"
        "        --curve FILE        switch CURVE on: the server's secret certificate\n"
        "        --clients DIR       the public certificates of the clients let in\n"
        "        --allow ADDRESS     let in only these addresses (repeatable)\n"
        "        --deny ADDRESS      keep these addresses out (repeatable)\n"
        "        --insecure          allow NULL security on endpoints not loopback\n"
        "        --connections N     most connections open at once (0: no cap)\n"
        "        --rcvhwm N          messages a connection holds while the server\n"
        "                            does not read (default 256, each up to 16 MiB)\n"
        "        --peer-timeout MSECS  drop a connection silent that long (default\n"
        "                            30000, 0 never)\n"
        "        --watches-per-key N  monitor WATCHes the peers of one CURVE key hold\n"
        "                            (default 16; peers without a key share one)\n"
        "    -v, --verbose           log activity\n"
        "    -h, --help              this text\n"
        "\n"
        "Config file (ZPL, 4-space indents):\n"
        "    server\n"
        "        bind = tcp://127.0.0.1:5555\n"
        "        bind-sonic = tcp://127.0.0.1:8100\n"
        "        sonic-merge = 1\n"
        "        monitor = tcp://127.0.0.1:5556\n"
        "        notify = auto\n"
        "    redis\n"
        "        endpoint = 127.0.0.1:6379\n"
        "        db = 0\n"
        "        separator = \":\"\n"
        "        password = secret\n"
        "        db-config = /var/run/redis/sonic-db/database_config.json\n"
        "        placeholder = 0\n"
        "    table\n"
        "        db = CONFIG_DB\n"
        "        name = PORT\n"
        "        persist = 1\n"
        "        separator = \"|\"\n"
        "        redis-db = 4\n"
        "    security\n"
        "        curve = /etc/zstate/server\n"
        "        clients = /etc/zstate/clients\n"
        "        allow = 10.0.0.1\n"
        "        insecure = 0\n"
        "        connections = 1024\n"
        "        rcvhwm = 256\n"
        "        peer-timeout = 30000\n"
        "        watches-per-key = 16\n"
        "A table's own separator and redis-db come first, then its db name in the\n"
        "db-config file, then the redis section. A bad file is reported with its\n"
        "line number.\n");
}

static void
s_served_destroy (void **item_p)
{
    served_t *served = (served_t *) *item_p;
    if (served) {
        zstate_consumer_destroy (&served->consumer);
        free (served->db);
        free (served->table);
        free (served->separator);
        free (served);
        *item_p = NULL;
    }
}

static void
s_string_destroy (void **item_p)
{
    zstr_free ((char **) item_p);
}

//  Add a table from "DB/TABLE"; returns 0 or -1 after saying why
static int
s_settings_add_table (serve_settings_t *settings, const char *db, const char *table,
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
    served->redis_db = -1;
    zlistx_add_end (settings->tables, served);
    return 0;
}

static int
s_settings_add_pair (serve_settings_t *settings, const char *pair, bool persist)
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


//  A tcp endpoint's port is '*' or 0 to 65535: libzmq would take 99999 as
//  some other port, and -1 as 65535. Returns 0, or -1 after saying why.
static int
s_check_endpoint (const char *where, const char *endpoint)
{
    if (strncmp (endpoint, "tcp://", 6))
        return 0;
    const char *colon = strrchr (endpoint + 6, ':');
    long port;
    if (colon && (streq (colon + 1, "*")
              ||  zstate_tool_parse_number (colon + 1, 0, 65535, &port)))
        return 0;
    fprintf (stderr, "zstate serve: %s: '%s' needs a port '*' or from 0 to 65535\n",
             where, endpoint);
    return -1;
}

//  Where the loader is in the text. zconfig keeps the file's order, so
//  each section and item is found by scanning on from the last one: one
//  pass over the text for the whole file, however long.
typedef struct {
    const char *file;
    const char *next;           //  Start of the next line to look at
    int lines;                  //  Lines passed so far
    int number;                 //  Line of the last name found
} cursor_t;

//  Move on to the next line at depth (4 spaces a level) that holds name;
//  returns its line number (the last one found when there is none)
static int
s_cursor_find (cursor_t *cursor, const char *name, int depth)
{
    size_t length = strlen (name);
    while (*cursor->next) {
        const char *line = cursor->next;
        const char *end = strchr (line, '\n');
        cursor->next = end? end + 1: line + strlen (line);
        cursor->lines++;
        size_t indent = strspn (line, " ");
        char after = line [indent + length];
        if ((int) indent == depth * 4 && strncmp (line + indent, name, length) == 0
        &&  (after == 0 || strchr (" \t\r\n=#", after))) {
            cursor->number = cursor->lines;
            break;
        }
    }
    return cursor->number;
}

//  Report a bad setting with its line; returns -1
static int
s_config_error (cursor_t *cursor, int line, const char *format, ...) CHECK_PRINTF (3);
static int
s_config_error (cursor_t *cursor, int line, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *message = zsys_vprintf (format, args);
    va_end (args);
    fprintf (stderr, "zstate serve: %s:%d: %s\n", cursor->file, line, message);
    free (message);
    return -1;
}

//  Where zconfig did not say: the first prefix of whole lines that fails
//  to parse ends at the bad line (an error depends only on the lines
//  before it), found by bisection
static int
s_syntax_error_line (const char *text)
{
    zlistx_t *starts = zlistx_new ();
    for (const char *scan = text; scan; scan = strchr (scan, '\n'), scan = scan? scan + 1: NULL)
        zlistx_add_end (starts, (void *) scan);
    size_t lines = zlistx_size (starts);
    const char **start = (const char **) malloc ((lines + 1) * sizeof (char *));
    size_t index = 0;
    for (void *item = zlistx_first (starts); item; item = zlistx_next (starts))
        start [index++] = (const char *) item;
    start [lines] = text + strlen (text);
    zlistx_destroy (&starts);
    //  Lines low .. high hold the first bad one
    size_t low = 1, high = lines;
    while (low < high) {
        size_t middle = (low + high) / 2;
        char *prefix = strndup (text, (size_t) (start [middle] - text));
        int line;
        char why [8];
        zconfig_t *partial = zstate_tool_zpl_load (prefix, &line, why, sizeof (why));
        if (partial)
            low = middle + 1;
        else
            high = middle;
        zconfig_destroy (&partial);
        free (prefix);
    }
    free (start);
    return (int) low;
}

//  The whole file, checked for NUL bytes, as a string; NULL after saying why
static char *
s_file_text (const char *file)
{
    FILE *handle = fopen (file, "rb");
    if (!handle) {
        fprintf (stderr, "zstate serve: cannot read %s: %s\n", file, strerror (errno));
        return NULL;
    }
    char *text = (char *) malloc (CONFIG_MAX + 1);
    assert (text);
    size_t size = fread (text, 1, CONFIG_MAX + 1, handle);
    bool failed = ferror (handle);
    fclose (handle);
    const char *nul = (const char *) memchr (text, 0, size);
    if (failed || size > CONFIG_MAX || nul) {
        if (nul) {
            int line = 1;
            const char *line_start = text;
            for (const char *scan = text; scan < nul; scan++)
                if (*scan == '\n') {
                    line++;
                    line_start = scan + 1;
                }
            fprintf (stderr, "zstate serve: %s:%d: NUL byte at column %d\n", file, line,
                     (int) (nul - line_start) + 1);
        }
        else
            fprintf (stderr, "zstate serve: cannot read %s: %s\n", file,
                     failed? "read error": "larger than 64 MiB");
        free (text);
        return NULL;
    }
    text [size] = 0;
    return text;
}

//  A 0 or 1 setting
static int
s_flag (cursor_t *cursor, int line, const char *section, const char *key,
        const char *value, bool *flag_p)
{
    if (!streq (value, "0") && !streq (value, "1"))
        return s_config_error (cursor, line, "%s/%s must be 0 or 1", section, key);
    *flag_p = streq (value, "1");
    return 0;
}

//  A database index setting
static int
s_db_index (cursor_t *cursor, int line, const char *section, const char *key,
            const char *value, int *index_p)
{
    long index;
    if (!zstate_tool_parse_number (value, 0, ZSTATE_SERVE_DB_MAX, &index))
        return s_config_error (cursor, line, "%s/%s must be a number from 0 to 65535",
                               section, key);
    *index_p = (int) index;
    return 0;
}

//  A separator setting, 1 to 16 bytes as the writer takes
static int
s_separator (cursor_t *cursor, int line, const char *section, const char *value,
             char **separator_p)
{
    if (!*value || strlen (value) > 16)
        return s_config_error (cursor, line, "%s/separator must be 1 to 16 bytes", section);
    s_replace (separator_p, value);
    return 0;
}

//  One setting of the server section. Returns 0 or -1.
static int
s_server_item (serve_settings_t *settings, cursor_t *cursor, zconfig_t *item)
{
    const char *key = zconfig_name (item);
    const char *value = zconfig_value (item);
    int line = s_cursor_find (cursor, key, 1);
    char where [300];
    snprintf (where, sizeof (where), "%s:%d", cursor->file, line);
    if (streq (key, "bind") || streq (key, "bind-sonic") || streq (key, "monitor")) {
        if (s_check_endpoint (where, value))
            return -1;
        if (streq (key, "monitor"))
            s_replace (&settings->monitor, value);
        else
            zlistx_add_end (streq (key, "bind")? settings->binds: settings->sonic_binds,
                            strdup (value));
        return 0;
    }
    if (streq (key, "sonic-merge"))
        return s_flag (cursor, line, "server", key, value, &settings->sonic_merge);
    if (streq (key, "notify")) {
        if (!streq (value, "auto") && !streq (value, "yes") && !streq (value, "no"))
            return s_config_error (cursor, line, "server/notify must be auto, yes or no");
        s_replace (&settings->notify, value);
        return 0;
    }
    return s_config_error (cursor, line, "unknown setting 'server/%s'", key);
}

//  One setting of the redis section. Returns 0 or -1.
static int
s_redis_item (serve_settings_t *settings, cursor_t *cursor, zconfig_t *item)
{
    const char *key = zconfig_name (item);
    const char *value = zconfig_value (item);
    int line = s_cursor_find (cursor, key, 1);
    if (streq (key, "endpoint"))
        s_replace (&settings->redis, value);
    else
    if (streq (key, "password"))
        s_replace (&settings->password, value);
    else
    if (streq (key, "db-config"))
        s_replace (&settings->db_config, value);
    else
    if (streq (key, "separator"))
        return s_separator (cursor, line, "redis", value, &settings->separator);
    else
    if (streq (key, "db"))
        return s_db_index (cursor, line, "redis", key, value, &settings->redis_db);
    else
    if (streq (key, "placeholder"))
        return s_flag (cursor, line, "redis", key, value, &settings->placeholder);
    else
        return s_config_error (cursor, line, "unknown setting 'redis/%s'", key);
    return 0;
}

//  A table section. Returns 0 or -1.
static int
s_table_section (serve_settings_t *settings, cursor_t *cursor, zconfig_t *section)
{
    int line = s_cursor_find (cursor, "table", 0);
    const char *db = NULL, *table = NULL;
    bool persist = false;
    char *separator = NULL;
    int redis_db = -1;
    int rc = 0;
    for (zconfig_t *item = zconfig_child (section); item && rc == 0; item = zconfig_next (item)) {
        const char *key = zconfig_name (item);
        const char *value = zconfig_value (item);
        int item_line = s_cursor_find (cursor, key, 1);
        if (streq (key, "db") || streq (key, "name"))
            *(streq (key, "db")? &db: &table) = value;
        else
        if (streq (key, "persist"))
            rc = s_flag (cursor, item_line, "table", key, value, &persist);
        else
        if (streq (key, "separator"))
            rc = s_separator (cursor, item_line, "table", value, &separator);
        else
        if (streq (key, "redis-db"))
            rc = s_db_index (cursor, item_line, "table", key, value, &redis_db);
        else
            rc = s_config_error (cursor, item_line, "unknown setting 'table/%s'", key);
    }
    if (rc == 0 && (!db || !table))
        rc = s_config_error (cursor, line, "a table needs db and name");
    if (rc == 0) {
        char where [300];
        snprintf (where, sizeof (where), "%s:%d", cursor->file, line);
        rc = s_settings_add_table (settings, db, table, persist, where);
    }
    if (rc == 0) {
        served_t *served = (served_t *) zlistx_last (settings->tables);
        served->separator = separator;
        served->redis_db = redis_db;
        separator = NULL;
    }
    free (separator);
    return rc;
}

//  The security section. Returns 0 or -1.
static int
s_security_section (serve_settings_t *settings, cursor_t *cursor, zconfig_t *section)
{
    s_cursor_find (cursor, "security", 0);
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
        int line = s_cursor_find (cursor, zconfig_name (item), 1);
        int rc = zstate_tool_security_set (settings->security, "serve", zconfig_name (item),
                                           zconfig_value (item));
        if (rc)
            return s_config_error (cursor, line, rc == 1? "unknown setting 'security/%s'":
                                   "bad value for 'security/%s'", zconfig_name (item));
    }
    return 0;
}

static int
s_settings_load (serve_settings_t *settings, const char *file)
{
    char *text = s_file_text (file);
    if (!text)
        return -1;
    int line;
    char why [300];
    zconfig_t *config = zstate_tool_zpl_load (text, &line, why, sizeof (why));
    if (!config) {
        fprintf (stderr, "zstate serve: %s:%d: %s\n", file,
                 line? line: s_syntax_error_line (text), why);
        free (text);
        return -1;
    }
    cursor_t cursor = { .file = file, .next = text };
    int rc = 0;
    for (zconfig_t *section = zconfig_child (config); section && rc == 0;
         section = zconfig_next (section)) {
        const char *name = zconfig_name (section);
        bool server = streq (name, "server");
        if (server || streq (name, "redis")) {
            s_cursor_find (&cursor, name, 0);
            for (zconfig_t *item = zconfig_child (section); item && rc == 0;
                 item = zconfig_next (item))
                rc = server? s_server_item (settings, &cursor, item)
                           : s_redis_item (settings, &cursor, item);
        }
        else
        if (streq (name, "table"))
            rc = s_table_section (settings, &cursor, section);
        else
        if (streq (name, "security"))
            rc = s_security_section (settings, &cursor, section);
        else
            rc = s_config_error (&cursor, s_cursor_find (&cursor, name, 0),
                                 "unknown section '%s'", name);
    }
    zconfig_destroy (&config);
    free (text);
    return rc;
}

void
zstate_serve_settings_destroy (serve_settings_t *settings)
{
    //  Consumers forward to writers the layout owns: tables go first
    zlistx_destroy (&settings->tables);
    zlistx_destroy (&settings->binds);
    zlistx_destroy (&settings->sonic_binds);
    zstr_free (&settings->monitor);
    zstr_free (&settings->redis);
    zstr_free (&settings->separator);
    zstr_free (&settings->password);
    zstr_free (&settings->db_config);
    zstr_free (&settings->notify);
    zstate_tool_security_destroy (&settings->security);
}

//  The command line options
static struct option
s_options [] = {
    { "bind",        required_argument, NULL, 'b' },
    { "bind-sonic",  required_argument, NULL, 'S' },
    { "sonic-merge", no_argument,       NULL, 'M' },
    { "table",       required_argument, NULL, 'T' },
    { "persist",     required_argument, NULL, 'p' },
    { "monitor",     required_argument, NULL, 'm' },
    { "redis",       required_argument, NULL, 'r' },
    { "redis-db",    required_argument, NULL, 'n' },
    { "separator",   required_argument, NULL, 's' },
    { "db-config",   required_argument, NULL, 'd' },
    { "placeholder", no_argument,       NULL, 'P' },
    { "notify",      required_argument, NULL, 'N' },
    { "config",      required_argument, NULL, 'c' },
    { "curve",       required_argument, NULL, 1 },
    { "clients",     required_argument, NULL, 1 },
    { "allow",       required_argument, NULL, 1 },
    { "deny",        required_argument, NULL, 1 },
    { "insecure",    no_argument,       NULL, 2 },
    { "connections", required_argument, NULL, 1 },
    { "rcvhwm",      required_argument, NULL, 1 },
    { "peer-timeout", required_argument, NULL, 1 },
    { "watches-per-key", required_argument, NULL, 1 },
    { "verbose",     no_argument,       NULL, 'v' },
    { "help",        no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};

//  One flag (which, for the security options); returns 0, or the exit status
static int
s_settings_option (serve_settings_t *settings, int option, int which)
{
    long index;
    if (option == 1 || option == 2)
        return zstate_tool_security_set (settings->security, "serve", s_options [which].name,
                                         option == 2? "1": optarg)? 2: 0;
    else
    if (option == 'b' || option == 'S' || option == 'm') {
        if (s_check_endpoint (option == 'b'? "--bind": option == 'S'? "--bind-sonic": "--monitor",
                              optarg))
            return 2;
        if (option == 'm')
            s_replace (&settings->monitor, optarg);
        else
            zlistx_add_end (option == 'b'? settings->binds: settings->sonic_binds,
                            strdup (optarg));
    }
    else
    if (option == 'M')
        settings->sonic_merge = true;
    else
    if (option == 'T' || option == 'p')
        return s_settings_add_pair (settings, optarg, option == 'p')? 2: 0;
    else
    if (option == 'r')
        s_replace (&settings->redis, optarg);
    else
    if (option == 'n') {
        if (zstate_tool_number ("serve", "--redis-db", optarg, 0, ZSTATE_SERVE_DB_MAX, &index))
            return 2;
        settings->redis_db = (int) index;
    }
    else
    if (option == 's') {
        if (!*optarg || strlen (optarg) > 16) {
            fprintf (stderr, "zstate serve: --separator must be 1 to 16 bytes\n");
            return 2;
        }
        s_replace (&settings->separator, optarg);
    }
    else
    if (option == 'd')
        s_replace (&settings->db_config, optarg);
    else
    if (option == 'N') {
        if (!streq (optarg, "auto") && !streq (optarg, "yes") && !streq (optarg, "no")) {
            fprintf (stderr, "zstate serve: --notify wants auto, yes or no, not '%s'\n", optarg);
            return 2;
        }
        s_replace (&settings->notify, optarg);
    }
    else
    if (option == 'c')
        return s_settings_load (settings, optarg)? 1: 0;
    else
    if (option == 'P')
        settings->placeholder = true;
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
    return 0;
}

int
zstate_serve_settings_init (serve_settings_t *settings, int argc, char *argv [])
{
    *settings = (serve_settings_t) { .redis = strdup ("127.0.0.1:6379"),
                                     .separator = strdup (":"), .notify = strdup ("auto") };
    settings->binds = zlistx_new ();
    zlistx_set_destructor (settings->binds, s_string_destroy);
    settings->security = zstate_tool_security_new ();
    settings->sonic_binds = zlistx_new ();
    zlistx_set_destructor (settings->sonic_binds, s_string_destroy);
    settings->tables = zlistx_new ();
    zlistx_set_destructor (settings->tables, s_served_destroy);
    optind = 1;
    int option, which = 0;
    while ((option = getopt_long (argc, argv, "b:S:T:p:m:r:n:s:d:c:vh", s_options, &which)) != -1) {
        int status = s_settings_option (settings, option, which);
        if (status)
            return status;
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
