/*  =========================================================================
    zstate watch, zstate stats - the clients of a server's monitor endpoint

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"
#include "zstate_monitor_names.h"
#include <getopt.h>

//  The server forgets a watcher that has not renewed for a few seconds;
//  we renew well within that
#define RENEW_INTERVAL  1000
//  --timeout, msecs: at most a day
#define TIMEOUT_MAX     86400000

static void
s_watch_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate watch --monitor ENDPOINT [--count N] [--timeout MSECS] [--json]\n"
        "                    DB/TABLE\n"
        "\n"
        "Prints, one per line, the operations a running server routes to DB/TABLE,\n"
        "in the format zstate send reads, until interrupted. DB/TABLE is one table\n"
        "the server serves (no wildcards): any other ends the watch at once with\n"
        "exit 1 and the list of tables served. A malformed message from the server\n"
        "is reported on stderr and skipped; a refused renewal ends the watch with\n"
        "exit 1.\n"
        "\n"
        "    -m, --monitor ENDPOINT  the server's monitor endpoint (zstate serve --monitor)\n"
        "    -n, --count N           exit after N operations (N from 1)\n"
        "    -j, --json              one JSON object a line: {\"op\", \"table\", \"key\",\n"
        "                            \"fields\": {name: value}}\n"
        "    -t, --timeout MSECS     how long to wait for the server, 1 to 86400000\n"
        "                            (default 5000)\n"
        "        --curve FILE        speak CURVE: this client's secret certificate\n"
        "        --server-key KEY    ... and the server's public key or certificate\n"
        "    -h, --help              this text\n");
}

static void
s_stats_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate stats --monitor ENDPOINT [--timeout MSECS] [--json]\n"
        "\n"
        "Prints a running server's counters: messages and operations received,\n"
        "per table, malformed messages by reason, unroutable messages, consumer\n"
        "queue depths and the state of their DB writers, and the sessions of\n"
        "protocol version 2: hellos, duplicates, gaps, resumes, superseded,\n"
        "no_session, rejects, acks, pings, expired and evicted.\n"
        "\n"
        "    -m, --monitor ENDPOINT  the server's monitor endpoint (zstate serve --monitor)\n"
        "    -t, --timeout MSECS     how long to wait for an answer, 1 to 86400000\n"
        "                            (default 5000)\n"
        "        --curve FILE        speak CURVE: this client's secret certificate\n"
        "        --server-key KEY    ... and the server's public key or certificate\n"
        "    -j, --json              one JSON object: \"server\" with its counters,\n"
        "                            \"tables\" an array of one object per table\n"
        "    -h, --help              this text\n");
}

//  Print text from the peer as at most 200 printable bytes, each other
//  byte as '?', so a hostile peer cannot drive the terminal
static void
s_print_peer_text (FILE *file, const char *text)
{
    for (size_t index = 0; text && text [index] && index < 200; index++)
        fputc (isprint ((byte) text [index])? text [index]: '?', file);
    fputc ('\n', file);
}

//  Print the monitor's STATS text: lines of printable bytes, each other
//  byte as '?', so a hostile peer cannot drive the terminal
static void
s_print_stats_text (FILE *file, const char *text)
{
    for (; *text; text++)
        fputc (isprint ((byte) *text) || *text == '\n'? *text: '?', file);
}

//  Send a request and wait for the reply [command][status][reason]...;
//  returns the reply or NULL after printing why. The peer may send
//  anything: only that exact shape, with status "0", is a yes.
static zmsg_t *
s_request (zsock_t *dealer, const char *command, const char *db, const char *table,
           int timeout, const char *endpoint)
{
    if (db)
        zstr_sendx (dealer, command, db, table, NULL);
    else
        zstr_send (dealer, command);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    zsock_t *ready = (zsock_t *) zpoller_wait (poller, timeout);
    zpoller_destroy (&poller);
    if (!ready) {
        fprintf (stderr, "zstate: no answer from %s within %d msecs\n", endpoint, timeout);
        return NULL;
    }
    zmsg_t *reply = zmsg_recv (dealer);
    if (!reply) {
        fprintf (stderr, "zstate: interrupted\n");
        return NULL;
    }
    char *name = zmsg_popstr (reply);
    char *status = zmsg_popstr (reply);
    char *reason = zmsg_popstr (reply);
    bool ok = name && streq (name, command) && status && streq (status, "0");
    if (!ok) {
        if (!name || !streq (name, command) || !status)
            fprintf (stderr, "zstate: %s: malformed reply from %s\n", command, endpoint);
        else {
            fprintf (stderr, "zstate: %s refused: ", command);
            s_print_peer_text (stderr, reason);
        }
        zmsg_destroy (&reply);
    }
    zstr_free (&name);
    zstr_free (&status);
    zstr_free (&reason);
    return reply;
}

//  Connect a DEALER to the monitor, with CURVE when curve and server_key
//  say so; returns it, or NULL after saying why
static zsock_t *
s_connect (const char *command, const char *endpoint, const char *curve,
           const char *server_key)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 0);
    if (zstate_tool_curve_socket (command, dealer, curve, server_key))
        zsock_destroy (&dealer);
    else
    if (zsock_connect (dealer, "%s", endpoint)) {
        fprintf (stderr, "zstate: cannot connect to %s: %s\n", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
    }
    return dealer;
}

//  Handle one message from the monitor: [OPS][payload] prints the
//  operations (up to count, 0 for all), [WATCH][status][reason] answers a
//  renewal. Anything else is malformed: reported and skipped. Returns 0, or
//  -1 when the server refused the renewal.
static int
s_watch_message (zmsg_t *msg, zstate_msg_t *decoder, zstate_batch_t *batch,
                 long count, long *printed_p, bool json)
{
    zframe_t *kind = zmsg_first (msg);
    zframe_t *payload = zmsg_next (msg);
    zframe_t *reason = zmsg_next (msg);
    if (kind && zframe_streq (kind, ZSTATE_MONITOR_OPS) && payload && !reason) {
        int wire = zstate_msg_decode (decoder, zframe_data (payload), zframe_size (payload));
        if (wire == ZSTATE_WIRE_OK) {
            size_t ops_size;
            const byte *ops = zstate_msg_ops (decoder, &ops_size);
            zstate_batch_reset (batch);
            wire = zstate_batch_load (batch, ops, ops_size, zstate_msg_op_count (decoder), NULL);
        }
        if (wire != ZSTATE_WIRE_OK) {
            fprintf (stderr, "zstate watch: bad message (%s), skipped\n",
                     zstate_msg_reason_str (wire));
            return 0;
        }
        for (size_t index = 0; index < zstate_batch_size (batch)
                               && (count == 0 || *printed_p < count); index++) {
            if (json)
                zstate_json_op (stdout, zstate_msg_table (decoder), batch, index);
            else
                zstate_text_print (stdout, zstate_msg_table (decoder), batch, index);
            (*printed_p)++;
        }
        fflush (stdout);
        return 0;
    }
    if (kind && zframe_streq (kind, ZSTATE_MONITOR_WATCH) && payload && reason
    &&  !zmsg_next (msg)) {
        if (zframe_streq (payload, "0"))
            return 0;
        char *text = zframe_strdup (reason);
        fprintf (stderr, "zstate watch: watch refused: ");
        s_print_peer_text (stderr, text);
        free (text);
        return -1;
    }
    fprintf (stderr, "zstate watch: malformed message from the server (%zu frames), skipped\n",
             zmsg_size (msg));
    return 0;
}

//  Print what the monitor sends until count operations (0: no limit), a
//  signal, or a refused renewal; renews the watch as it goes. Returns the
//  exit status.
static int
s_watch_loop (zsock_t *dealer, const char *db, const char *table, long count, bool json)
{
    int status = 0;
    zstate_msg_t *decoder = zstate_msg_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int64_t renew_at = zclock_mono () + RENEW_INTERVAL;
    long printed = 0;
    while (status == 0 && !zsys_interrupted && (count == 0 || printed < count)) {
        int64_t wait = renew_at - zclock_mono ();
        zsock_t *ready = (zsock_t *) zpoller_wait (poller, wait > 0? (int) wait: 0);
        if (zclock_mono () >= renew_at) {
            zstr_sendx (dealer, ZSTATE_MONITOR_WATCH, db, table, NULL);
            renew_at = zclock_mono () + RENEW_INTERVAL;
        }
        if (!ready)
            continue;
        zmsg_t *msg = zmsg_recv (dealer);
        if (!msg)
            break;
        int rc = s_watch_message (msg, decoder, batch, count, &printed, json);
        if (rc == -1)
            status = 1;
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zstate_batch_destroy (&batch);
    zstate_msg_destroy (&decoder);
    return status;
}

//  Ask the server for its STATS text; returns it, or NULL after saying why
static char *
s_stats_text (const char *endpoint, int timeout, const char *curve, const char *server_key)
{
    zsock_t *dealer = s_connect ("stats", endpoint, curve, server_key);
    if (!dealer)
        return NULL;
    zmsg_t *reply = s_request (dealer, ZSTATE_MONITOR_STATS, NULL, NULL, timeout, endpoint);
    char *text = reply? zmsg_popstr (reply): NULL;
    if (reply && (!text || zmsg_size (reply))) {
        fprintf (stderr, "zstate: STATS: malformed reply from %s\n", endpoint);
        zstr_free (&text);
    }
    zmsg_destroy (&reply);
    zsock_destroy (&dealer);
    return text;
}

//  The server's monitor accepts a watch on any name, and a table it does
//  not serve never sends anything: look the table up in its STATS first.
//  Returns 0, or 1 after saying why.
static int
s_watch_check (const char *endpoint, const char *db, const char *table, int timeout,
               const char *curve, const char *server_key)
{
    char *text = s_stats_text (endpoint, timeout, curve, server_key);
    if (!text)
        return 1;
    int line;
    char why [64];
    zconfig_t *root = zstate_tool_zpl_load (text, &line, why, sizeof (why));
    zstr_free (&text);
    if (!root) {
        fprintf (stderr, "zstate watch: STATS: malformed reply from %s\n", endpoint);
        return 1;
    }
    bool found = false;
    zconfig_t *item;
    for (item = zconfig_child (root); item && !found; item = zconfig_next (item))
        found = streq (zconfig_name (item), "table")
             && streq (zconfig_get (item, "db", ""), db)
             && streq (zconfig_get (item, "name", ""), table);
    if (!found) {
        fprintf (stderr, "zstate watch: the server serves no table '%s/%s'%s; it serves:",
                 db, table, strchr (table, '*')? " (watch takes one table, no wildcards)": "");
        char *served = strdup ("");
        for (item = zconfig_child (root); item; item = zconfig_next (item))
            if (streq (zconfig_name (item), "table")) {
                char *longer = zsys_sprintf ("%s %s/%s", served, zconfig_get (item, "db", ""),
                                             zconfig_get (item, "name", ""));
                free (served);
                served = longer;
            }
        s_print_peer_text (stderr, *served? served: " nothing");
        free (served);
    }
    zconfig_destroy (&root);
    return found? 0: 1;
}

int
zstate_watch_main (int argc, char *argv [])
{
    static struct option options [] = {
        { "monitor", required_argument, NULL, 'm' },
        { "count",   required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 't' },
        { "curve",   required_argument, NULL, 'C' },
        { "server-key", required_argument, NULL, 'K' },
        { "json",    no_argument,       NULL, 'j' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *curve = NULL, *server_key = NULL;
    const char *endpoint = NULL;
    long count = 0;
    long timeout = 5000;
    bool json = false;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "m:n:t:C:K:jh", options, NULL)) != -1) {
        if (option == 'm')
            endpoint = optarg;
        else
        if (option == 'C' || option == 'K')
            *(option == 'C'? &curve: &server_key) = optarg;
        else
        if (option == 'n') {
            if (zstate_tool_number ("watch", "--count", optarg, 1, LONG_MAX, &count))
                return 2;
        }
        else
        if (option == 't') {
            if (zstate_tool_number ("watch", "--timeout", optarg, 1, TIMEOUT_MAX, &timeout))
                return 2;
        }
        else
        if (option == 'j')
            json = true;
        else
        if (option == 'h') {
            s_watch_usage (stdout);
            return 0;
        }
        else {
            s_watch_usage (stderr);
            return 2;
        }
    }
    if (!endpoint || optind != argc - 1) {
        fprintf (stderr, "zstate watch: needs --monitor ENDPOINT and one DB/TABLE\n");
        return 2;
    }
    char *db = strdup (argv [optind]);
    char *table = strchr (db, '/');
    if (table)
        *table++ = 0;
    if (!table || !zstate_msg_name_valid (db) || !zstate_msg_name_valid (table)) {
        fprintf (stderr, "zstate watch: '%s' is not DB/TABLE\n", argv [optind]);
        free (db);
        return 2;
    }
    int status = s_watch_check (endpoint, db, table, (int) timeout, curve, server_key);
    zsock_t *dealer = status == 0? s_connect ("watch", endpoint, curve, server_key): NULL;
    zmsg_t *reply = dealer? s_request (dealer, ZSTATE_MONITOR_WATCH, db, table,
                                       (int) timeout, endpoint): NULL;
    if (!reply)
        status = 1;
    zmsg_destroy (&reply);
    if (status == 0)
        status = s_watch_loop (dealer, db, table, count, json);
    zsock_destroy (&dealer);
    free (db);
    return status;
}

int
zstate_stats_main (int argc, char *argv [])
{
    static struct option options [] = {
        { "monitor", required_argument, NULL, 'm' },
        { "timeout", required_argument, NULL, 't' },
        { "curve",   required_argument, NULL, 'C' },
        { "server-key", required_argument, NULL, 'K' },
        { "json",    no_argument,       NULL, 'j' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *curve = NULL, *server_key = NULL;
    const char *endpoint = NULL;
    long timeout = 5000;
    bool json = false;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "m:t:C:K:jh", options, NULL)) != -1) {
        if (option == 'm')
            endpoint = optarg;
        else
        if (option == 'C' || option == 'K')
            *(option == 'C'? &curve: &server_key) = optarg;
        else
        if (option == 't') {
            if (zstate_tool_number ("stats", "--timeout", optarg, 1, TIMEOUT_MAX, &timeout))
                return 2;
        }
        else
        if (option == 'j')
            json = true;
        else
        if (option == 'h') {
            s_stats_usage (stdout);
            return 0;
        }
        else {
            s_stats_usage (stderr);
            return 2;
        }
    }
    if (!endpoint || optind != argc) {
        fprintf (stderr, "zstate stats: needs --monitor ENDPOINT\n");
        return 2;
    }
    char *text = s_stats_text (endpoint, (int) timeout, curve, server_key);
    int status = text? 0: 1;
    if (text && json && zstate_json_stats (stdout, text)) {
        fprintf (stderr, "zstate stats: STATS: the text from %s is not the server's counters\n",
                 endpoint);
        status = 1;
    }
    else
    if (text && !json)
        s_print_stats_text (stdout, text);
    zstr_free (&text);
    return status;
}
