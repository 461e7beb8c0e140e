/*  =========================================================================
    zstate watch, zstate stats - the clients of a server's monitor endpoint

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"
#include <getopt.h>

//  The server forgets a watcher that has not renewed for a few seconds;
//  we renew well within that
#define RENEW_INTERVAL  1000

static void
s_watch_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate watch --monitor ENDPOINT [--count N] [--timeout MSECS] DB/TABLE\n"
        "\n"
        "Prints, one per line, the operations a running server routes to DB/TABLE,\n"
        "in the format zstate send reads, until interrupted.\n"
        "\n"
        "    -m, --monitor ENDPOINT  the server's monitor endpoint (zstate serve --monitor)\n"
        "    -n, --count N           exit after N operations\n"
        "    -t, --timeout MSECS     how long to wait for the server (default 5000)\n"
        "    -h, --help              this text\n");
}

static void
s_stats_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate stats --monitor ENDPOINT [--timeout MSECS]\n"
        "\n"
        "Prints a running server's counters: messages and operations received,\n"
        "per table, malformed messages by reason, unroutable messages, consumer\n"
        "queue depths and the state of their DB writers.\n"
        "\n"
        "    -m, --monitor ENDPOINT  the server's monitor endpoint (zstate serve --monitor)\n"
        "    -t, --timeout MSECS     how long to wait for an answer (default 5000)\n"
        "    -h, --help              this text\n");
}

//  Send a request and wait for the reply [command][status][reason]...;
//  returns the reply or NULL after printing why
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
    char *name = zmsg_popstr (reply);
    char *status = zmsg_popstr (reply);
    char *reason = zmsg_popstr (reply);
    bool ok = name && streq (name, command) && status && streq (status, "0");
    if (!ok) {
        fprintf (stderr, "zstate: %s refused: %s\n", command, reason? reason: "bad reply");
        zmsg_destroy (&reply);
    }
    zstr_free (&name);
    zstr_free (&status);
    zstr_free (&reason);
    return reply;
}

static zsock_t *
s_connect (const char *endpoint)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 0);
    if (zsock_connect (dealer, "%s", endpoint)) {
        fprintf (stderr, "zstate: cannot connect to %s: %s\n", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
    }
    return dealer;
}

int
zstate_watch_main (int argc, char *argv [])
{
    static struct option options [] = {
        { "monitor", required_argument, NULL, 'm' },
        { "count",   required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 't' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *endpoint = NULL;
    long count = 0;
    int timeout = 5000;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "m:n:t:h", options, NULL)) != -1) {
        if (option == 'm')
            endpoint = optarg;
        else
        if (option == 'n')
            count = atol (optarg);
        else
        if (option == 't')
            timeout = atoi (optarg);
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
    zsock_t *dealer = s_connect (endpoint);
    if (!dealer) {
        free (db);
        return 1;
    }
    int status = 0;
    zmsg_t *reply = s_request (dealer, "WATCH", db, table, timeout, endpoint);
    if (!reply)
        status = 1;
    zmsg_destroy (&reply);

    zstate_msg_t *decoder = zstate_msg_new ();
    zstate_batch_t *batch = zstate_batch_new ();
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int64_t renew_at = zclock_mono () + RENEW_INTERVAL;
    long printed = 0;
    while (status == 0 && !zsys_interrupted && (count == 0 || printed < count)) {
        int64_t wait = renew_at - zclock_mono ();
        zsock_t *ready = (zsock_t *) zpoller_wait (poller, wait > 0? (int) wait: 0);
        if (zclock_mono () >= renew_at) {
            zstr_sendx (dealer, "WATCH", db, table, NULL);
            renew_at = zclock_mono () + RENEW_INTERVAL;
        }
        if (!ready)
            continue;
        zmsg_t *msg = zmsg_recv (dealer);
        if (!msg)
            break;
        char *kind = zmsg_popstr (msg);
        zframe_t *payload = zmsg_pop (msg);
        if (kind && streq (kind, "OPS") && payload) {
            //  The server validated it, but we trust nothing from a socket
            int reason = zstate_msg_decode (decoder, zframe_data (payload),
                                            zframe_size (payload));
            if (reason == ZSTATE_WIRE_OK) {
                size_t ops_size;
                const byte *ops = zstate_msg_ops (decoder, &ops_size);
                zstate_batch_reset (batch);
                reason = zstate_batch_load (batch, ops, ops_size,
                                            zstate_msg_op_count (decoder), NULL);
            }
            if (reason == ZSTATE_WIRE_OK)
                for (size_t index = 0; index < zstate_batch_size (batch)
                                   && (count == 0 || printed < count); index++, printed++)
                    zstate_text_print (stdout, zstate_msg_table (decoder), batch, index);
            else
                fprintf (stderr, "zstate watch: bad message (%s)\n",
                         zstate_msg_reason_str (reason));
            fflush (stdout);
        }
        else
        if (kind && streq (kind, "WATCH")) {
            //  The answer to a renewal
            char *code = zframe_strdup (payload);
            if (!code || !streq (code, "0")) {
                char *reason = zmsg_popstr (msg);
                fprintf (stderr, "zstate watch: %s\n", reason? reason: "watch refused");
                zstr_free (&reason);
                status = 1;
            }
            zstr_free (&code);
        }
        zstr_free (&kind);
        zframe_destroy (&payload);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zstate_batch_destroy (&batch);
    zstate_msg_destroy (&decoder);
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
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *endpoint = NULL;
    int timeout = 5000;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "m:t:h", options, NULL)) != -1) {
        if (option == 'm')
            endpoint = optarg;
        else
        if (option == 't')
            timeout = atoi (optarg);
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
    zsock_t *dealer = s_connect (endpoint);
    if (!dealer)
        return 1;
    zmsg_t *reply = s_request (dealer, "STATS", NULL, NULL, timeout, endpoint);
    int status = reply? 0: 1;
    if (reply) {
        char *text = zmsg_popstr (reply);
        fputs (text? text: "", stdout);
        zstr_free (&text);
    }
    zmsg_destroy (&reply);
    zsock_destroy (&dealer);
    return status;
}
