/*  =========================================================================
    zstate send - send operations given as arguments or read from stdin

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"
#include <getopt.h>

//  Lines sent together, at most, so a long stdin stream moves as it comes
#define LINES_PER_BATCH 1024
//  --timeout, msecs: at most a day
#define TIMEOUT_MAX     86400000
//  Flushes wait in slices this long, so that a signal ends the wait soon
#define FLUSH_SLICE     100

static void
s_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate send --connect ENDPOINT [--db DB] [--timeout MSECS]\n"
        "                   [--level delivered|persisted] [OP TABLE KEY [NAME=VALUE]...]\n"
        "\n"
        "Sends one operation given as arguments, or else one operation per line\n"
        "read from standard input:\n"
        "    SET ROUTE_TABLE 10.0.0.0/24 nexthop=10.0.0.1 ifname=Ethernet0\n"
        "    HSET ROUTE_TABLE 10.0.0.0/24 weight=10\n"
        "    DEL ROUTE_TABLE 10.0.0.0/24\n"
        "Blank lines and lines starting with '#' are skipped. In a line, write a\n"
        "byte that is a blank, '=', '#', '\\' or not printable as \\xHH ('\\\\' is '\\').\n"
        "A line holding a NUL byte is bad: write it as \\x00. Stops at the first\n"
        "bad line; what was sent before it stays sent. SIGINT or SIGTERM stops\n"
        "reading and waiting at once, dropping what the server has not taken.\n"
        "\n"
        "    -c, --connect ENDPOINT  server endpoint, e.g. tcp://127.0.0.1:5555\n"
        "    -d, --db DB             database name (default APPL_DB)\n"
        "    -S, --sonic             send SONiC frames to an unmodified SONiC consumer\n"
        "                            (ZmqServer PULL) instead: HSET goes as SET, a SET\n"
        "                            with no fields is refused\n"
        "    -t, --timeout MSECS     how long to wait for the server, 1 to 86400000\n"
        "                            (default 5000)\n"
        "    -l, --level LEVEL       what to wait for: delivered (to the consumer\n"
        "                            table, the default) or persisted (also written\n"
        "                            to Redis; fails when the server cannot grant it)\n"
        "        --curve FILE        speak CURVE: this client's secret certificate\n"
        "        --server-key KEY    ... and the server's public key or certificate\n"
        "    -h, --help              this text\n"
        "\n"
        "Exit status: 0 when the server acknowledged every operation at the level,\n"
        "1 on a bad line, when the server cannot be reached or on a signal, 2 on\n"
        "bad usage.\n");
}

//  Wait until the client's link is up, or timeout msecs pass
static bool
s_wait_connected (zstate_client_t *client, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    zpoller_t *poller = zpoller_new (zstate_client_events (client), NULL);
    bool connected = false;
    while (true) {
        int state = zstate_client_state (client);
        if (state == ZSTATE_CLIENT_CONNECTED) {
            connected = true;
            break;
        }
        int64_t left = deadline - zclock_mono ();
        if (state == ZSTATE_CLIENT_FAILED || left <= 0 || zsys_interrupted)
            break;
        if (zpoller_wait (poller, (int) left)) {
            zmsg_t *event = zmsg_recv (zstate_client_events (client));
            zmsg_destroy (&event);
        }
    }
    zpoller_destroy (&poller);
    return connected;
}

//  With --sonic, the client that sends SONiC frames instead
static zstate_sonic_client_t *s_sonic;

//  Send what batch holds for table, then empty it
static int
s_send_batch (zstate_client_t *client, const char *db, const char *table,
              zstate_batch_t *batch)
{
    if (zstate_batch_size (batch) == 0)
        return 0;
    int rc = s_sonic? zstate_sonic_client_send (s_sonic, db, table, batch)
                    : zstate_client_send (client, db, table, batch);
    if (rc)
        fprintf (stderr, "zstate send: %s\n", zstate_reason ());
    zstate_batch_reset (batch);
    return rc;
}

//  Wait until the client handed everything to the socket, in slices so
//  that a signal ends the wait; returns 0, or -1 with errno and
//  zstate_reason () (EINTR on a signal)
//  Say what the server refused for good, with the first REJECT's
//  sequence, code and reason. Returns true if it refused anything.
static bool
s_rejected (zstate_client_t *client)
{
    zstate_client_stats_t stats;
    zstate_client_stats (client, &stats);
    if (!stats.rejects)
        return false;
    zsock_t *events = zstate_client_events (client);
    zsock_set_rcvtimeo (events, 0);
    char *type = NULL, *from = NULL, *detail = NULL;
    while (zsock_recv (events, "sss", &type, &from, &detail) == 0
       &&  !streq (type, "REJECT")) {
        zstr_free (&type);
        zstr_free (&from);
        zstr_free (&detail);
    }
    fprintf (stderr, "zstate send: the server refused %" PRIu64 " ops (sequence, code, "
             "reason: %s)\n", stats.ops_refused, detail? detail: "not reported");
    zstr_free (&type);
    zstr_free (&from);
    zstr_free (&detail);
    return true;
}

static int
s_flush (zstate_client_t *client, int level, int timeout)
{
    int64_t deadline = zclock_mono () + timeout;
    while (!zsys_interrupted) {
        int64_t left = deadline - zclock_mono ();
        int slice = left < FLUSH_SLICE? (int) left: FLUSH_SLICE;
        if (zstate_client_flush_level (client, level, slice > 0? slice: 0) == 0)
            return 0;
        if (errno != ETIMEDOUT || left <= 0)
            return -1;
    }
    return zstate_fail (EINTR, "interrupted");
}

//  Send the one operation given as arguments; returns 0, or 1 after
//  printing why
static int
s_send_args (zstate_client_t *client, const char *db, int argc, char *argv [])
{
    int status = 0;
    //  One operation from the arguments: blanks inside an argument are
    //  part of it, so escape them before joining
    char *line = strdup ("");
    for (int argn = 0; argn < argc; argn++) {
        char *escaped = (char *) malloc (strlen (argv [argn]) * 4 + 2);
        char *out = escaped;
        for (const char *in = argv [argn]; *in; in++)
            if (*in == ' ' || *in == '\t')
                out += sprintf (out, "\\x%02x", (byte) *in);
            else
                *out++ = *in;
        *out = 0;
        char *joined = zsys_sprintf ("%s%s%s", line, *line? " ": "", escaped);
        free (escaped);
        free (line);
        line = joined;
    }
    zstate_batch_t *batch = zstate_batch_new ();
    char table [ZSTATE_NAME_MAX + 1] = "";
    int rc = zstate_text_parse (line, batch, table, sizeof (table));
    if (rc) {
        fprintf (stderr, "zstate send: %s\n",
                 rc == 1? "no operation given": zstate_reason ());
        status = 1;
    }
    else
    if (s_send_batch (client, db, table, batch))
        status = 1;
    zstate_batch_destroy (&batch);
    free (line);
    return status;
}

//  Read stdin line by line into batches sent as they fill; returns 0, or 1
//  after printing why
static int
s_send_lines (zstate_client_t *client, const char *db)
{
    int status = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_t *scratch = zstate_batch_new ();
    char table [ZSTATE_NAME_MAX + 1] = "";
    char line_table [ZSTATE_NAME_MAX + 1];
    char *line = NULL;
    size_t line_max = 0;
    size_t line_number = 0;
    ssize_t size;
    while (status == 0 && !zsys_interrupted && (size = getline (&line, &line_max, stdin)) != -1) {
        line_number++;
        //  The parser reads C strings: a NUL would cut the line short
        const char *nul = (const char *) memchr (line, 0, (size_t) size);
        if (nul) {
            fprintf (stderr, "zstate send: line %zu: NUL byte at column %zu "
                             "(write it as \\x00)\n", line_number, (size_t) (nul - line) + 1);
            status = 1;
            break;
        }
        zstate_batch_reset (scratch);
        int rc = zstate_text_parse (line, scratch, line_table, sizeof (line_table));
        if (rc == 1)
            continue;
        if (rc == -1) {
            fprintf (stderr, "zstate send: line %zu: %s\n", line_number, zstate_reason ());
            status = 1;
        }
        else
        if ((!streq (line_table, table) || zstate_batch_size (batch) >= LINES_PER_BATCH)
        &&  s_send_batch (client, db, table, batch))
            status = 1;
        else {
            strcpy (table, line_table);
            int wire = zstate_batch_load (batch, zstate_batch_data (scratch),
                                          zstate_batch_bytes (scratch), 1, NULL);
            assert (wire == ZSTATE_WIRE_OK);
        }
    }
    if (status == 0 && !zsys_interrupted && ferror (stdin)) {
        fprintf (stderr, "zstate send: cannot read standard input: %s\n", strerror (errno));
        status = 1;
    }
    //  A signal may have cut a line short: send nothing of it
    if (status == 0 && !zsys_interrupted && s_send_batch (client, db, table, batch))
        status = 1;
    free (line);
    zstate_batch_destroy (&scratch);
    zstate_batch_destroy (&batch);
    return status;
}

//  The operations given as arguments, or else those on stdin
static int
s_send_input (zstate_client_t *client, const char *db, int argc, char *argv [])
{
    return argc > 0? s_send_args (client, db, argc, argv): s_send_lines (client, db);
}

//  send --sonic: the same input, as SONiC frames
static int
s_send_sonic (const char *endpoint, const char *db, int timeout, int argc, char *argv [])
{
    s_sonic = zstate_send_sonic_open (endpoint, timeout);
    if (!s_sonic)
        return 1;
    int status = s_send_input (NULL, db, argc, argv);
    return zstate_send_sonic_close (&s_sonic, endpoint, timeout, status);
}

//  Send the operations of the arguments, or of stdin when there are none,
//  and wait until the server acknowledged them at level; returns the exit
//  status, after printing why when it is not 0
static int
s_run (zstate_client_t *client, const char *endpoint, const char *db, int level,
       int timeout, int argc, char *argv [])
{
    int status = s_send_input (client, db, argc, argv);
    if (status == 0 && !s_wait_connected (client, timeout) && !zsys_interrupted) {
        fprintf (stderr, "zstate send: no server answered at %s within %d msecs\n",
                 endpoint, timeout);
        status = 1;
    }
    //  Flush waits for the server's acknowledgements; a REJECT settles
    //  the ops it refused, but the send failed
    if (status == 0 && !zsys_interrupted && s_flush (client, level, timeout)) {
        fprintf (stderr, "zstate send: %s\n", zstate_reason ());
        status = 1;
    }
    if (status == 0 && s_rejected (client))
        status = 1;
    if (zsys_interrupted) {
        fprintf (stderr, "zstate send: interrupted; what the server has not taken is dropped\n");
        zstate_client_set_linger (client, 0);
        status = 1;
    }
    return status;
}

//  The client, connected; NULL with the exit status in *status_p after
//  saying why
static zstate_client_t *
s_client_new (const char *endpoint, int timeout, int level, const char *curve,
              const char *server_key, int *status_p)
{
    zstate_client_t *client = zstate_client_new ();
    zstate_client_set_link_timeout (client, timeout);
    zstate_client_set_linger (client, timeout);
    zstate_client_set_ack_level (client, level);
    *status_p = zstate_tool_curve_client ("send", client, curve, server_key);
    if (*status_p == 0 && zstate_client_connect (client, endpoint)) {
        //  The reason names the endpoint
        fprintf (stderr, "zstate send: %s\n", zstate_reason ());
        *status_p = 1;
    }
    if (*status_p)
        zstate_client_destroy (&client);
    return client;
}

//  The command line options
static struct option
s_options [] = {
    { "connect", required_argument, NULL, 'c' },
    { "db",      required_argument, NULL, 'd' },
    { "sonic",   no_argument,       NULL, 'S' },
    { "timeout", required_argument, NULL, 't' },
    { "level",   required_argument, NULL, 'l' },
    { "curve",   required_argument, NULL, 'C' },
    { "server-key", required_argument, NULL, 'K' },
    { "help",    no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};

int
zstate_send_main (int argc, char *argv [])
{
    const char *endpoint = NULL;
    const char *db = "APPL_DB";
    const char *curve = NULL, *server_key = NULL;
    long timeout = 5000;
    int level = ZSTATE_ACK_DELIVERED;
    bool sonic = false;
    optind = 1;
    int option;
    //  '+': stop at the first operand, so "DEL" and its key are not options
    while ((option = getopt_long (argc, argv, "+c:d:St:l:C:K:h", s_options, NULL)) != -1) {
        if (option == 'c')
            endpoint = optarg;
        else
        if (option == 'C' || option == 'K')
            *(option == 'C'? &curve: &server_key) = optarg;
        else
        if (option == 'd')
            db = optarg;
        else
        if (option == 'S')
            sonic = true;
        else
        if (option == 't') {
            if (zstate_tool_number ("send", "--timeout", optarg, 1, TIMEOUT_MAX, &timeout))
                return 2;
        }
        else
        if (option == 'l') {
            if (streq (optarg, "delivered"))
                level = ZSTATE_ACK_DELIVERED;
            else
            if (streq (optarg, "persisted"))
                level = ZSTATE_ACK_PERSISTED;
            else {
                fprintf (stderr, "zstate send: --level wants delivered or persisted, "
                         "not '%s'\n", optarg);
                return 2;
            }
        }
        else
        if (option == 'h') {
            s_usage (stdout);
            return 0;
        }
        else {
            s_usage (stderr);
            return 2;
        }
    }
    if (!endpoint) {
        fprintf (stderr, "zstate send: --connect ENDPOINT is required\n");
        return 2;
    }
    if (!zstate_msg_name_valid (db)) {
        fprintf (stderr, "zstate send: bad db name '%s'\n", db);
        return 2;
    }
    if (sonic)
        return s_send_sonic (endpoint, db, (int) timeout, argc - optind, argv + optind);
    int status = 0;
    zstate_client_t *client = s_client_new (endpoint, (int) timeout, level, curve,
                                            server_key, &status);
    if (!client)
        return status;
    status = s_run (client, endpoint, db, level, (int) timeout, argc - optind,
                    argv + optind);
    zstate_client_destroy (&client);
    return status;
}
