/*  =========================================================================
    zstate_sessions_bench - the server's session table alone: what a HELLO
    for a new session under a CURVE key costs as the table grows

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

//  Usage: zstate_sessions_bench [sessions [hellos]]   (default 18000, 64)
//  Fills the table with sessions of 1000 each per key, then times hellos
//  HELLOs of new sessions under a key of their own, one by one, at every
//  quarter of the fill. Prints the median and the largest in microseconds.
//  The HELLOs are encoded before the clock starts; the WELCOMEs go to a
//  ROUTER without peers, which drops them.

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_sessions.h"
#include "zstate_server_session.h"

#define BENCH_PER_KEY       1000    //  sessions of each key that fills
#define BENCH_HELLOS_MAX    1024

//  The Z85 key number, 40 characters as the ZAP handler gives
static void
s_key (char *key, size_t number)
{
    snprintf (key, 41, "%040zu", number);
}

//  HELLO of session number, encoded into frame
static void
s_hello_encode (zmq_msg_t *frame, uint32_t number)
{
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 1 };
    memcpy (session + 4, &number, sizeof (number));
    zstate_session_msg_t hello = {
        .type = ZSTATE_SESSION_MSG_HELLO, .session = session, .sequence = 1,
        .ack_level = ZSTATE_SESSION_ACK_DELIVERED
    };
    int rc = zstate_session_msg_encode_frame (&hello, frame);
    assert (rc == 0);
}

static void
s_input (zstate_server_sessions_t *table, const char *key, zmq_msg_t *frame)
{
    const byte routing [5] = { 0, 1, 2, 3, 4 };
    zstate_server_security_peer (table, key);
    zstate_server_sessions_input (table, routing, sizeof (routing),
                                  (byte *) zmq_msg_data (frame), zmq_msg_size (frame));
}

static int
s_compare (const void *left, const void *right)
{
    int64_t one = *(const int64_t *) left, other = *(const int64_t *) right;
    return one < other? -1: one > other;
}

//  Time hellos HELLOs of new sessions from number on, under a new key
static void
s_measure (zstate_server_sessions_t *table, size_t filled, uint32_t number,
           size_t hellos, size_t key_number)
{
    zmq_msg_t frames [BENCH_HELLOS_MAX];
    int64_t costs [BENCH_HELLOS_MAX];
    for (size_t index = 0; index < hellos; index++)
        s_hello_encode (&frames [index], number + (uint32_t) index);
    char key [41];
    s_key (key, key_number);
    for (size_t index = 0; index < hellos; index++) {
        int64_t start = zclock_usecs ();
        s_input (table, key, &frames [index]);
        costs [index] = zclock_usecs () - start;
        zmq_msg_close (&frames [index]);
    }
    qsort (costs, hellos, sizeof (int64_t), s_compare);
    printf ("%8zu sessions: HELLO of a new session %8" PRId64 " us median, %8"
            PRId64 " us at most (%zu HELLOs)\n", filled, costs [hellos / 2],
            costs [hellos - 1], hellos);
}

int
main (int argc, char *argv [])
{
    size_t sessions = argc > 1? (size_t) atol (argv [1]): 18000;
    size_t hellos = argc > 2? (size_t) atol (argv [2]): 64;
    if (sessions < 4 || hellos < 1 || hellos > BENCH_HELLOS_MAX) {
        fprintf (stderr, "usage: zstate_sessions_bench [sessions [hellos]]\n");
        return 1;
    }
    zsys_init ();
    zloop_t *loop = zloop_new ();
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (loop && router);
    zstate_server_stats_t stats = { 0 };
    zstate_server_sessions_t *table = zstate_server_sessions_new (loop,
                                          zsock_resolve (router), &stats);
    zstate_server_sessions_set_max (table, sessions + 4 * hellos);
    uint32_t number = 0;
    for (int quarter = 1; quarter <= 4; quarter++) {
        while (number < sessions * quarter / 4) {
            char key [41];
            s_key (key, number / BENCH_PER_KEY);
            zmq_msg_t frame;
            s_hello_encode (&frame, number++);
            s_input (table, key, &frame);
            zmq_msg_close (&frame);
        }
        assert (zstate_server_sessions_size (table) == number + (quarter - 1) * hellos);
        s_measure (table, number, (uint32_t) (sessions + quarter * hellos), hellos,
                   sessions + quarter);
    }
    assert (stats.sessions_refused == 0);
    zstate_server_sessions_destroy (&table);
    zsock_destroy (&router);
    zloop_destroy (&loop);
    return 0;
}
