/*  =========================================================================
    zstate_selftest - runs the selftest of every class

    Usage: zstate_selftest [-v] [-l] [-n] [-t NAME]...
        -v       verbose
        -l       list the tests
        -n       list the tests and run none
        -t NAME  run only this test (repeatable); also ZSTATE_SELFTEST="a b"

    The last line is "selftest: N passed, M failed"; a failed assertion
    aborts the run with a non-zero exit.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_backlog.h"
#include "zstate_session_msg.h"

//  The whole pipeline, against a real Redis: selftest/zstate_pipeline_test.c
void
    zstate_pipeline_test (bool verbose);

//  The backlog's rules, and the backlog against a plain map:
//  selftest/zstate_backlog_suite.c
void
    zstate_backlog_suite_test (bool verbose);

//  The writer's full suite, faults included: selftest/zstate_writer_faults.c
void
    zstate_writer_faults_test (bool verbose);

//  The inbox's and the consumer's selftests with their white-box suites:
//  selftest/zstate_inbox_test.c, selftest/zstate_consumer_test.c
void
    zstate_inbox_suites (bool verbose);
void
    zstate_consumer_suites (bool verbose);

//  Signals against every component: selftest/zstate_signal_test.c
void
    zstate_signal_test (bool verbose);

//  The session codec against hostile input:
//  selftest/zstate_session_msg_suite.c
void
    zstate_session_msg_suite_test (bool verbose);

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} test_item_t;

//  In dependency order: each class is tested after those it builds on
static test_item_t
all_tests [] = {
    { "zstate_batch", zstate_batch_test },
    { "zstate_msg", zstate_msg_test },
    { "zstate_session_msg", zstate_session_msg_test },
    { "zstate_session_msg_suite", zstate_session_msg_suite_test },
    { "zstate_text", zstate_text_test },
    { "zstate_actor", zstate_actor_test },
    { "zstate_monitor", zstate_monitor_test },
    { "zstate_inbox", zstate_inbox_suites },
    { "zstate_server", zstate_server_test },
    { "zstate_consumer", zstate_consumer_suites },
    { "zstate_client", zstate_client_test },
    { "zstate_producer", zstate_producer_test },
    { "zstate_redis_server", zstate_redis_server_test },
    { "zstate_redis", zstate_redis_test },
    { "zstate_backlog", zstate_backlog_test },
    { "zstate_backlog_suite", zstate_backlog_suite_test },
    { "zstate_writer", zstate_writer_test },
    { "zstate_writer_faults", zstate_writer_faults_test },
    { "zstate_pipeline", zstate_pipeline_test },
    { "zstate_signal", zstate_signal_test },
    { NULL, NULL }
};

static test_item_t *
s_test_find (const char *name)
{
    for (test_item_t *item = all_tests; item->name; item++)
        if (streq (item->name, name) || streq (item->name + strlen ("zstate_"), name))
            return item;
    return NULL;
}

int
main (int argc, char *argv [])
{
    bool verbose = false;
    bool run = true;
    zlistx_t *chosen = zlistx_new ();
    for (int argn = 1; argn < argc; argn++) {
        const char *arg = argv [argn];
        if (streq (arg, "-v"))
            verbose = true;
        else
        if (streq (arg, "-l") || streq (arg, "-n")) {
            for (test_item_t *item = all_tests; item->name; item++)
                printf ("%s\n", item->name);
            if (streq (arg, "-n"))
                run = false;
        }
        else
        if (streq (arg, "-t") && argn + 1 < argc) {
            test_item_t *item = s_test_find (argv [++argn]);
            if (!item) {
                fprintf (stderr, "selftest: no test named '%s'\n", argv [argn]);
                zlistx_destroy (&chosen);
                return 2;
            }
            zlistx_add_end (chosen, item);
        }
        else {
            fprintf (stderr, "usage: %s [-v] [-l] [-n] [-t NAME]...\n", argv [0]);
            zlistx_destroy (&chosen);
            return 2;
        }
    }
    //  make check ZSTATE_SELFTEST="msg batch" runs a subset
    const char *env = getenv ("ZSTATE_SELFTEST");
    if (env && *env && zlistx_size (chosen) == 0) {
        char *names = strdup (env);
        for (char *name = strtok (names, " ,"); name; name = strtok (NULL, " ,")) {
            test_item_t *item = s_test_find (name);
            if (!item) {
                fprintf (stderr, "selftest: no test named '%s'\n", name);
                free (names);
                zlistx_destroy (&chosen);
                return 2;
            }
            zlistx_add_end (chosen, item);
        }
        free (names);
    }
    if (!run) {
        zlistx_destroy (&chosen);
        return 0;
    }
#ifdef NDEBUG
    printf ("selftest: warning: built with NDEBUG; zstate keeps asserts on anyway\n");
#endif
    if (zlistx_size (chosen) == 0)
        for (test_item_t *item = all_tests; item->name; item++)
            zlistx_add_end (chosen, item);

    printf ("Running zstate selftests...\n");
    int passed = 0;
    test_item_t *item = (test_item_t *) zlistx_first (chosen);
    while (item) {
        int64_t started = zclock_usecs ();
        item->test (verbose);
        passed++;
        if (verbose)
            printf ("   (%s took %.3f s)\n", item->name,
                    (zclock_usecs () - started) / 1e6);
        item = (test_item_t *) zlistx_next (chosen);
    }
    zlistx_destroy (&chosen);
    //  A failed test asserts and never gets here
    printf ("selftest: %d passed, 0 failed\n", passed);
    return 0;
}
