/*  =========================================================================
    zstate_inbox_test - the inbox's suites: bounds, wake-ups and whole
    messages; then two threads, one delivering, one popping under a storm
    of signals, against a model of the op order

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_inbox.h"
#include <poll.h>
#include <signal.h>

//  From selftest/zstate_inbox_window_suite.c
void
    zstate_inbox_window_suite (bool verbose);

//  The two-thread test: a producer thread delivers MESSAGES messages of
//  OPS operations each, waiting on room_fd when refused, while the test's
//  thread pops them under a storm of signals
#define TEST_MESSAGES   2000
#define TEST_OPS        5

typedef struct {
    zstate_inbox_t *inbox;
    size_t refused;             //  deliveries refused, then retried
} test_producer_t;

static void *
s_test_producer (void *args)
{
    test_producer_t *producer = (test_producer_t *) args;
    for (size_t message = 0; message < TEST_MESSAGES; message++) {
        zmq_msg_t msg;
        zstate_inbox_test_msg (&msg, "two", message * TEST_OPS, TEST_OPS);
        while (zstate_inbox_deliver (producer->inbox, &msg, false) == -1) {
            producer->refused++;
            assert (zstate_inbox_test_fd_readable (zstate_inbox_room_fd (producer->inbox), 10000));
        }
        zmq_msg_close (&msg);
    }
    return NULL;
}

typedef struct {
    pthread_t target;           //  the thread that pops
    bool stop;                  //  set by the test, read by the storm: atomic
    size_t sent;
} test_storm_t;

static int s_test_signals;      //  counted in a handler: atomic

static void
s_test_on_signal (int signum)
{
    (void) signum;
    __atomic_fetch_add (&s_test_signals, 1, __ATOMIC_RELAXED);
}

//  SIGUSR1 to the popping thread every 200 usecs, at most 100,000 times
static void *
s_test_storm (void *args)
{
    test_storm_t *storm = (test_storm_t *) args;
    while (!__atomic_load_n (&storm->stop, __ATOMIC_RELAXED)
    &&     storm->sent < 100000) {
        pthread_kill (storm->target, SIGUSR1);
        __atomic_fetch_add (&storm->sent, 1, __ATOMIC_RELAXED);
        usleep (200);
    }
    return NULL;
}

static void
s_test_two_threads (bool use_socket)
{
    zstate_inbox_t *inbox = zstate_inbox_new ("APPL_DB/TWO_TABLE");
    assert (inbox);
    //  A small bound, so that the producer is refused and waits often
    int rc = zstate_inbox_set_bounds (inbox, 3 * TEST_OPS, 1024 * 1024);
    assert (rc == 0);
    zsock_t *socket = use_socket? zstate_inbox_socket (inbox): NULL;
    struct sigaction action, previous;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_test_on_signal;
    sigemptyset (&action.sa_mask);
    action.sa_flags = 0;        //  no SA_RESTART: every wait sees EINTR
    rc = sigaction (SIGUSR1, &action, &previous);
    assert (rc == 0);
    __atomic_store_n (&s_test_signals, 0, __ATOMIC_RELAXED);
    test_storm_t storm = { pthread_self (), false, 0 };
    pthread_t storm_thread;
    rc = pthread_create (&storm_thread, NULL, s_test_storm, &storm);
    assert (rc == 0);
    //  A loaded machine may run the whole exchange before the storm's
    //  thread: the first signal goes before the producer starts
    for (int wait = 0; wait < 100000 && !__atomic_load_n (&storm.sent, __ATOMIC_RELAXED); wait++)
        usleep (100);
    assert (__atomic_load_n (&storm.sent, __ATOMIC_RELAXED) > 0);
    test_producer_t producer = { inbox, 0 };
    pthread_t producer_thread;
    rc = pthread_create (&producer_thread, NULL, s_test_producer, &producer);
    assert (rc == 0);

    //  The model: operations come out numbered 0, 1, 2... each once
    zstate_batch_t *batch = zstate_batch_new ();
    size_t next = 0;
    size_t max = 1;
    while (next < TEST_MESSAGES * TEST_OPS) {
        if (use_socket)
            assert (zstate_inbox_test_sock_readable (socket, 10000));
        else
            assert (zstate_inbox_test_fd_readable (zstate_inbox_fd (inbox), 10000));
        //  Whole messages only: what was delivered is popped + pending,
        //  and deliver adds a message's operations all at once
        assert ((next + zstate_inbox_pending (inbox)) % TEST_OPS == 0);
        size_t popped = zstate_inbox_pops (inbox, batch, max);
        assert (popped > 0 && popped <= max);
        for (size_t index = 0; index < popped; index++)
            assert (zstate_inbox_test_key_is (batch, index, "two", next++));
        max = max % 7 + 1;      //  1..7: across message boundaries
    }
    pthread_join (producer_thread, NULL);
    __atomic_store_n (&storm.stop, true, __ATOMIC_RELAXED);
    pthread_join (storm_thread, NULL);
    rc = sigaction (SIGUSR1, &previous, NULL);
    assert (rc == 0);
    //  Nothing more, nothing pending, and no wake-up left up
    assert (zstate_inbox_pops (inbox, batch, 0) == 0);
    assert (!zstate_inbox_test_fd_readable (zstate_inbox_fd (inbox), 0));
    if (use_socket)
        assert (!zstate_inbox_test_sock_readable (socket, 0));
    zstate_consumer_stats_t stats;
    zstate_inbox_stats (inbox, &stats);
    assert (stats.messages == TEST_MESSAGES);
    assert (stats.popped == TEST_MESSAGES * TEST_OPS);
    assert (stats.queued_ops == 0 && stats.queued_bytes == 0);
    assert (stats.stalls == producer.refused);
    zstate_batch_destroy (&batch);
    zstate_inbox_destroy (&inbox);
}

//  Bounds: 0 is refused, the bound refuses whole messages, and room_fd
//  turns readable once pops has come down to half the bound
static void
s_test_bounds (void)
{
    zstate_batch_t *batch = zstate_batch_new ();
    zmq_msg_t msg;
    int rc;
    zstate_inbox_t *inbox = zstate_inbox_new ("APPL_DB/BOUND_TABLE");
    assert (inbox);
    rc = zstate_inbox_set_bounds (inbox, 0, 1024);
    assert (rc == -1 && errno == EINVAL);
    assert (strstr (zstate_reason (), "at least 1"));
    rc = zstate_inbox_set_bounds (inbox, 1024, 0);
    assert (rc == -1 && errno == EINVAL);
    rc = zstate_inbox_set_bounds (inbox, 4, 1024 * 1024);
    assert (rc == 0);
    for (size_t message = 0; message < 3; message++) {
        zstate_inbox_test_msg (&msg, "bound", message * 2, 2);
        rc = zstate_inbox_deliver (inbox, &msg, message == 0);
        if (message < 2)
            assert (rc == 0);
        else {
            //  At the bound: refused, msg left as it was
            assert (rc == -1);
            assert (zmq_msg_size (&msg) > 0);
        }
        if (rc == 0)
            zmq_msg_close (&msg);
    }
    int room_fd = zstate_inbox_room_fd (inbox);
    assert (!zstate_inbox_test_fd_readable (room_fd, 0));
    assert (zstate_inbox_pops (inbox, batch, 1) == 1);
    assert (!zstate_inbox_test_fd_readable (room_fd, 0));      //  3 > 4 / 2
    assert (zstate_inbox_pops (inbox, batch, 1) == 1);
    assert (zstate_inbox_test_fd_readable (room_fd, 0));       //  2 <= 4 / 2
    rc = zstate_inbox_deliver (inbox, &msg, false);
    assert (rc == 0);
    zmq_msg_close (&msg);
    //  The byte bound too; a bigger bound gives a waiting producer room
    rc = zstate_inbox_set_bounds (inbox, 1024, 1);
    assert (rc == 0);
    zstate_inbox_test_msg (&msg, "bound", 6, 1);
    assert (zstate_inbox_deliver (inbox, &msg, false) == -1);
    assert (!zstate_inbox_test_fd_readable (room_fd, 0));
    rc = zstate_inbox_set_bounds (inbox, 1024, 1024 * 1024);
    assert (rc == 0);
    assert (zstate_inbox_test_fd_readable (room_fd, 0));
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    assert (zstate_inbox_pops (inbox, batch, 0) == 5);
    for (size_t index = 0; index < 5; index++)
        assert (zstate_inbox_test_key_is (batch, index, "bound", index + 2));
    zstate_consumer_stats_t stats;
    zstate_inbox_stats (inbox, &stats);
    assert (stats.messages == 4 && stats.ops == 7 && stats.popped == 7);
    assert (stats.stalls == 2 && stats.forwarded == 1);
    assert (stats.queued_ops == 0 && stats.queued_bytes == 0);
    zstate_inbox_destroy (&inbox);
    zstate_batch_destroy (&batch);
}

//  Wake-ups and whole messages
static void
s_test_wakeups (void)
{
    zstate_batch_t *batch = zstate_batch_new ();
    zmq_msg_t msg;
    int rc;
    //  Wake-ups: fd and socket are readable exactly while ops are pending;
    //  a socket asked for while ops are pending is readable at once
    zstate_inbox_t *inbox = zstate_inbox_new ("APPL_DB/WAKE_TABLE");
    assert (inbox);
    int fd = zstate_inbox_fd (inbox);
    assert (!zstate_inbox_test_fd_readable (fd, 0));
    zstate_inbox_test_msg (&msg, "wake", 0, 4);
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    zsock_t *socket = zstate_inbox_socket (inbox);
    assert (socket);
    assert (zstate_inbox_socket (inbox) == socket);
    assert (zstate_inbox_test_sock_readable (socket, 5000));
    assert (zstate_inbox_test_fd_readable (fd, 0));
    assert (zstate_inbox_pops (inbox, batch, 3) == 3);
    assert (zstate_inbox_test_sock_readable (socket, 0));
    assert (zstate_inbox_test_fd_readable (fd, 0));
    assert (zstate_inbox_pops (inbox, batch, 3) == 1);
    assert (!zstate_inbox_test_sock_readable (socket, 0));
    assert (!zstate_inbox_test_fd_readable (fd, 0));
    //  Up again with the next delivery, down with the next drain
    zstate_inbox_test_msg (&msg, "wake", 4, 1);
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    assert (zstate_inbox_test_sock_readable (socket, 5000));
    assert (zstate_inbox_test_fd_readable (fd, 0));
    assert (zstate_inbox_pops (inbox, batch, 0) == 1);
    assert (zstate_inbox_test_key_is (batch, 0, "wake", 4));
    assert (!zstate_inbox_test_sock_readable (socket, 0));
    assert (!zstate_inbox_test_fd_readable (fd, 0));

    //  Whole messages: pending moves by whole messages, and a pops that
    //  asks for more gets exactly what was delivered, never part of it
    for (size_t message = 0; message < 3; message++) {
        zstate_inbox_test_msg (&msg, "whole", message * 10, 10);
        assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
        zmq_msg_close (&msg);
        assert (zstate_inbox_pending (inbox) == (message + 1) * 10);
    }
    assert (zstate_inbox_pops (inbox, batch, 1000) == 30);
    assert (zstate_inbox_test_key_is (batch, 29, "whole", 29));
    //  A message whose envelope does not decode is dropped, not queued
    rc = zmq_msg_init_size (&msg, 3);
    assert (rc == 0);
    memcpy (zmq_msg_data (&msg), "bad", 3);
    assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
    zmq_msg_close (&msg);
    assert (zstate_inbox_pending (inbox) == 0);
    assert (!zstate_inbox_test_fd_readable (fd, 0));
    //  Destroyed with messages still queued and half-popped: no leak
    for (size_t message = 0; message < 3; message++) {
        zstate_inbox_test_msg (&msg, "left", message * 4, 4);
        assert (zstate_inbox_deliver (inbox, &msg, false) == 0);
        zmq_msg_close (&msg);
    }
    assert (zstate_inbox_pops (inbox, batch, 6) == 6);
    zstate_inbox_destroy (&inbox);
    zstate_batch_destroy (&batch);
}

//  The inbox's selftest: the example (in zstate_inbox.c), bounds and
//  wake-ups, then two threads under a signal storm: nothing lost,
//  nothing twice, in order, with the fd and with the socket
void
zstate_inbox_suites (bool verbose)
{
    zstate_inbox_test (verbose);
    printf (" * zstate_inbox (bounds, wake-ups): ");
    s_test_bounds ();
    s_test_wakeups ();
    printf ("OK\n");
    zstate_inbox_window_suite (verbose);
    printf (" * zstate_inbox (two threads): ");
    s_test_two_threads (false);
    s_test_two_threads (true);
    printf ("OK\n");
}
