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

static void
s_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate send --connect ENDPOINT [--db DB] [--timeout MSECS] [OP TABLE KEY [NAME=VALUE]...]\n"
        "\n"
        "Sends one operation given as arguments, or else one operation per line\n"
        "read from standard input:\n"
        "    SET ROUTE_TABLE 10.0.0.0/24 nexthop=10.0.0.1 ifname=Ethernet0\n"
        "    HSET ROUTE_TABLE 10.0.0.0/24 weight=10\n"
        "    DEL ROUTE_TABLE 10.0.0.0/24\n"
        "Blank lines and lines starting with '#' are skipped. In a line, write a\n"
        "byte that is a blank, '=', '#', '\\' or not printable as \\xHH ('\\\\' is '\\').\n"
        "Stops at the first bad line; what was sent before it stays sent.\n"
        "\n"
        "    -c, --connect ENDPOINT  server endpoint, e.g. tcp://127.0.0.1:5555\n"
        "    -d, --db DB             database name (default APPL_DB)\n"
        "    -t, --timeout MSECS     how long to wait for the server (default 5000)\n"
        "    -h, --help              this text\n"
        "\n"
        "Exit status: 0 when every operation was handed to a connected server,\n"
        "1 on a bad line or when the server cannot be reached, 2 on bad usage.\n");
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

//  Send what batch holds for table, then empty it
static int
s_send_batch (zstate_client_t *client, const char *db, const char *table,
              zstate_batch_t *batch)
{
    if (zstate_batch_size (batch) == 0)
        return 0;
    int rc = zstate_client_send (client, db, table, batch);
    if (rc)
        fprintf (stderr, "zstate send: %s\n", zstate_reason ());
    zstate_batch_reset (batch);
    return rc;
}

int
zstate_send_main (int argc, char *argv [])
{
    static struct option options [] = {
        { "connect", required_argument, NULL, 'c' },
        { "db",      required_argument, NULL, 'd' },
        { "timeout", required_argument, NULL, 't' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *endpoint = NULL;
    const char *db = "APPL_DB";
    int timeout = 5000;
    optind = 1;
    int option;
    //  '+': stop at the first operand, so "DEL" and its key are not options
    while ((option = getopt_long (argc, argv, "+c:d:t:h", options, NULL)) != -1) {
        if (option == 'c')
            endpoint = optarg;
        else
        if (option == 'd')
            db = optarg;
        else
        if (option == 't')
            timeout = atoi (optarg);
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
    if (timeout <= 0) {
        fprintf (stderr, "zstate send: --timeout needs a positive number of msecs\n");
        return 2;
    }

    zstate_client_t *client = zstate_client_new ();
    zstate_client_set_link_timeout (client, timeout);
    zstate_client_set_linger (client, timeout);
    if (zstate_client_connect (client, endpoint)) {
        fprintf (stderr, "zstate send: cannot connect to %s: %s\n", endpoint, zstate_reason ());
        zstate_client_destroy (&client);
        return 1;
    }
    int status = 0;
    zstate_batch_t *batch = zstate_batch_new ();
    char table [ZSTATE_NAME_MAX + 1] = "";
    char line_table [ZSTATE_NAME_MAX + 1];

    if (optind < argc) {
        //  One operation from the arguments: blanks inside an argument are
        //  part of it, so escape them before joining
        char *line = strdup ("");
        for (int argn = optind; argn < argc; argn++) {
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
        int rc = zstate_text_parse (line, batch, table, sizeof (table));
        if (rc) {
            fprintf (stderr, "zstate send: %s\n",
                     rc == 1? "no operation given": zstate_reason ());
            status = 1;
        }
        else
        if (s_send_batch (client, db, table, batch))
            status = 1;
        free (line);
    }
    else {
        //  Lines from stdin; consecutive lines for one table share a batch
        zstate_batch_t *scratch = zstate_batch_new ();
        char *line = NULL;
        size_t line_max = 0;
        size_t line_number = 0;
        while (getline (&line, &line_max, stdin) != -1 && !zsys_interrupted) {
            line_number++;
            zstate_batch_reset (scratch);
            int rc = zstate_text_parse (line, scratch, line_table, sizeof (line_table));
            if (rc == 1)
                continue;
            if (rc == -1) {
                fprintf (stderr, "zstate send: line %zu: %s\n", line_number, zstate_reason ());
                status = 1;
                break;
            }
            if ((!streq (line_table, table) || zstate_batch_size (batch) >= LINES_PER_BATCH)
            &&  s_send_batch (client, db, table, batch)) {
                status = 1;
                break;
            }
            strcpy (table, line_table);
            int wire = zstate_batch_load (batch, zstate_batch_data (scratch),
                                          zstate_batch_bytes (scratch), 1, NULL);
            assert (wire == ZSTATE_WIRE_OK);
        }
        free (line);
        zstate_batch_destroy (&scratch);
        if (status == 0 && s_send_batch (client, db, table, batch))
            status = 1;
    }
    if (status == 0 && !s_wait_connected (client, timeout)) {
        fprintf (stderr, "zstate send: no server answered at %s within %d msecs\n",
                 endpoint, timeout);
        status = 1;
    }
    if (status == 0 && zstate_client_flush (client, timeout)) {
        fprintf (stderr, "zstate send: %s\n", zstate_reason ());
        status = 1;
    }
    zstate_batch_destroy (&batch);
    zstate_client_destroy (&client);
    return status;
}
