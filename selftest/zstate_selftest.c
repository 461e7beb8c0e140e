/*  =========================================================================
    zstate_selftest - runs the selftest of every class

    Usage: zstate_selftest [-v] [-l] [-n] [-t NAME]...
        -v       verbose
        -l       list every test and exit
        -n       list the tests that would run, and run none
        -t NAME  run only this test (repeatable); also ZSTATE_SELFTEST="a b"

    Each test runs in a child process of its own, so that a failure (a
    failed assertion, a signal, a non-zero exit, or an error valgrind
    reports in the child) is counted and named, and the next test still
    runs. The last line is "selftest: N passed, M failed"; the exit status
    is 1 when M > 0.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_backlog.h"
#include "zstate_keyset.h"
#include "zstate_mirror.h"
#include "zstate_session_msg.h"
#include "zstate_server_agent.h"
#include "zstate_writer_config.h"
#include "zstate_writer_intake.h"
#include "zstate_writer_window.h"
#include "zstate_writer_marks.h"
#include "zstate_writer_chain.h"
#include "zstate_writer_confirmed.h"
#include "zstate_writer_instance.h"
#include "zstate_writer_sweep.h"
#include "zstate_writer_views.h"
#include "zstate_outbox.h"
#include "zstate_watchers.h"
#include "zstate_client_liveness.h"
#include "zstate_sonic_suite.h"
#include <sys/wait.h>

//  The batch's and the codec's encodings, limits and hostile input:
//  selftest/zstate_batch_suite.c, selftest/zstate_msg_suite.c
void
    zstate_batch_suite_test (bool verbose);
void
    zstate_msg_suite_test (bool verbose);

//  The client's version 2 session against a scripted server:
//  selftest/zstate_client_session_test.c
void
    zstate_client_session_test (bool verbose);
//  A slow server is not a dead one: selftest/zstate_client_liveness_suite.c
void
    zstate_client_liveness_suite (bool verbose);
//  The whole pipeline, against a real Redis: selftest/zstate_pipeline_test.c
void
    zstate_pipeline_test (bool verbose);

//  The outbox's coalescing: selftest/zstate_outbox_suite.c
void
    zstate_outbox_suite_test (bool verbose);

//  The backlog's rules, and the backlog against a plain map:
//  selftest/zstate_backlog_suite.c
void
    zstate_backlog_suite_test (bool verbose);

//  The writer's persisted acknowledgements: selftest/zstate_writer_persist.c
void
    zstate_writer_persist_test (bool verbose);

//  Counters that can grow: selftest/zstate_stats_test.c
void
    zstate_stats_test (bool verbose);

//  The database_config.json reader: selftest/zstate_db_config_test.c
void
    zstate_db_config_test (bool verbose);

//  SONiC's database layout through zstate serve, against a real Redis:
//  selftest/zstate_layout_test.c
void
    zstate_layout_test (bool verbose);
//  SONiC's placeholder, coalesced or not, against a real Redis:
//  selftest/zstate_sonic_placeholder_test.c
void
    zstate_sonic_placeholder_test (bool verbose);

//  The writer's part of state resync: selftest/zstate_writer_resync_test.c
void
    zstate_writer_resync_test (bool verbose);

//  The writer's full suite, faults included: selftest/zstate_writer_faults.c
void
    zstate_writer_faults_test (bool verbose);

//  The key set's selftest, then its suites: selftest/zstate_keyset_suite.c
void
    zstate_keyset_suites (bool verbose);

//  The inbox's and the consumer's selftests with their white-box suites:
//  selftest/zstate_inbox_test.c, selftest/zstate_consumer_test.c (which
//  runs selftest/zstate_consumer_stress_suite.c)
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

//  The server's side of protocol version 2:
//  selftest/zstate_server_sessions_suite.c
void
    zstate_server_sessions_suite_test (bool verbose);

//  Level PERSISTED on the server's side:
//  selftest/zstate_server_persist_suite.c
void
    zstate_server_persist_suite_test (bool verbose);
//  selftest/zstate_server_replay_suite.c
void
    zstate_server_replay_suite_test (bool verbose);

//  State resync on the server's side: selftest/zstate_server_resync_suite.c
void
    zstate_server_resync_suite_test (bool verbose);

//  REJECTs sent unconfirmed: selftest/zstate_server_rejects_suite.c
void
    zstate_server_rejects_suite_test (bool verbose);

//  SNAPSHOT-BEGIN and -END on the server's side:
//  selftest/zstate_server_markers_suite.c
void
    zstate_server_markers_suite_test (bool verbose);

//  The Redis connection's example and full suite: selftest/zstate_redis_test.c
void
    zstate_redis_suites (bool verbose);

//  CURVE, the authenticator and the posture: selftest/zstate_security_test.c
void
    zstate_security_test (bool verbose);
//  The process's ZAP handler: selftest/zstate_zap_test.c
void
    zstate_zap_test (bool verbose);
//  Sessions bound to CURVE keys: selftest/zstate_security_keys_test.c
void
    zstate_security_keys_test (bool verbose);
//  What one hostile peer can cost a server: selftest/zstate_security_peer_test.c
void
    zstate_security_peer_test (bool verbose);
//  The constructors at the socket limit: selftest/zstate_limits_test.c
void
    zstate_limits_test (bool verbose);

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} test_item_t;

//  Tests of the runner itself: each fails in one way a class test can
static void
s_fail_assert (bool verbose)
{
    (void) verbose;
    //  An assertion on a value the compiler cannot see through
    assert (getenv ("PATH") == (char *) 1);
}

static void
s_fail_exit (bool verbose)
{
    (void) verbose;
    exit (3);
}

//  A definite leak: valgrind's leak check fails the child. Volatile, so
//  that the compiler cannot drop the allocation.
static void *volatile s_lost;

static void
s_fail_leak (bool verbose)
{
    (void) verbose;
    s_lost = malloc (64);
    assert (s_lost);
    s_lost = NULL;
}

//  A hang: the runner's deadline must abort it (bounded, should the
//  runner fail to)
static void
s_fail_hang (bool verbose)
{
    (void) verbose;
    zclock_sleep (60 * 1000);
}

//  Where library log lines go: one line, after an explicit choice of
//  stream when ZSTATE_TEST_LOGSTREAM says so (selftest/log-tests)
static void
s_log_probe (bool verbose)
{
    (void) verbose;
    const char *stream = getenv ("ZSTATE_TEST_LOGSTREAM");
    if (stream && streq (stream, "stdout"))
        zsys_set_logstream (stdout);
    else
    if (stream && streq (stream, "none"))
        zsys_set_logstream (NULL);
    zsys_info ("zstate log probe");
}

//  In dependency order: each class is tested after those it builds on
static test_item_t
all_tests [] = {
    { "zstate_batch", zstate_batch_test },
    { "zstate_batch_suite", zstate_batch_suite_test },
    { "zstate_msg", zstate_msg_test },
    { "zstate_msg_suite", zstate_msg_suite_test },
    { "zstate_sonic_msg", zstate_sonic_msg_suite_test },
    { "zstate_session_msg", zstate_session_msg_test },
    { "zstate_session_msg_suite", zstate_session_msg_suite_test },
    { "zstate_utf8", zstate_utf8_test },
    { "zstate_text", zstate_text_test },
    { "zstate_actor", zstate_actor_test },
    { "zstate_watchers", zstate_watchers_test },
    { "zstate_monitor", zstate_monitor_test },
    { "zstate_keyset", zstate_keyset_suites },
    { "zstate_inbox", zstate_inbox_suites },
    { "zstate_server", zstate_server_test },
    { "zstate_server_agent", zstate_server_agent_test },
    { "zstate_server_sessions_suite", zstate_server_sessions_suite_test },
    { "zstate_server_persist_suite", zstate_server_persist_suite_test },
    { "zstate_server_replay_suite", zstate_server_replay_suite_test },
    { "zstate_server_resync_suite", zstate_server_resync_suite_test },
    { "zstate_server_rejects_suite", zstate_server_rejects_suite_test },
    { "zstate_server_markers_suite", zstate_server_markers_suite_test },
    { "zstate_zap", zstate_zap_test },
    { "zstate_security", zstate_security_test },
    { "zstate_security_keys", zstate_security_keys_test },
    { "zstate_security_peers", zstate_security_peer_test },
    { "zstate_consumer", zstate_consumer_suites },
    { "zstate_sonic_bridge", zstate_sonic_bridge_test },
    { "zstate_sonic_endpoint", zstate_sonic_endpoint_test },
    { "zstate_block_encoder", zstate_block_encoder_test },
    { "zstate_outbox", zstate_outbox_test },
    { "zstate_outbox_suite", zstate_outbox_suite_test },
    { "zstate_client", zstate_client_test },
    { "zstate_client_session", zstate_client_session_test },
    { "zstate_client_liveness", zstate_client_liveness_test },
    { "zstate_client_liveness_suite", zstate_client_liveness_suite },
    { "zstate_sonic_client", zstate_sonic_client_test },
    { "zstate_producer", zstate_producer_test },
    { "zstate_redis_server", zstate_redis_server_test },
    { "zstate_redis", zstate_redis_suites },
    { "zstate_backlog", zstate_backlog_test },
    { "zstate_backlog_suite", zstate_backlog_suite_test },
    { "zstate_mirror", zstate_mirror_test },
    { "zstate_stats", zstate_stats_test },
    { "zstate_db_config", zstate_db_config_test },
    { "zstate_writer_config", zstate_writer_config_test },
    { "zstate_writer_intake", zstate_writer_intake_test },
    { "zstate_writer_window", zstate_writer_window_test },
    { "zstate_writer_marks", zstate_writer_marks_test },
    { "zstate_writer_chain", zstate_writer_chain_test },
    { "zstate_writer_confirmed", zstate_writer_confirmed_test },
    { "zstate_writer_instance", zstate_writer_instance_test },
    { "zstate_writer_sweep", zstate_writer_sweep_test },
    { "zstate_writer_views", zstate_writer_views_test },
    { "zstate_writer", zstate_writer_test },
    { "zstate_writer_faults", zstate_writer_faults_test },
    { "zstate_writer_persist", zstate_writer_persist_test },
    { "zstate_writer_resync", zstate_writer_resync_test },
    { "zstate_pipeline", zstate_pipeline_test },
    { "zstate_layout", zstate_layout_test },
    { "zstate_sonic_placeholder", zstate_sonic_placeholder_test },
    { "zstate_signal", zstate_signal_test },
    { "zstate_limits", zstate_limits_test },
    { NULL, NULL }
};

//  Tests of the runner itself, run only when named with -t
static test_item_t
runner_tests [] = {
    { "selftest_fail_assert", s_fail_assert },
    { "selftest_fail_exit", s_fail_exit },
    { "selftest_fail_leak", s_fail_leak },
    { "selftest_fail_hang", s_fail_hang },
    { "selftest_log_probe", s_log_probe },
    { NULL, NULL }
};

static test_item_t *
s_test_find (const char *name)
{
    for (test_item_t *item = all_tests; item->name; item++)
        if (streq (item->name, name) || streq (item->name + strlen ("zstate_"), name))
            return item;
    for (test_item_t *item = runner_tests; item->name; item++)
        if (streq (item->name, name))
            return item;
    return NULL;
}

//  Wait for a test's child. A class that runs past the deadline
//  (ZSTATE_SELFTEST_DEADLINE seconds, 1,800 by default: a hang, never a
//  slow machine) is aborted, so that a hang names itself in the log and
//  the other classes still run. Returns 0, or -1 when waitpid fails.
static int
s_test_wait (test_item_t *item, pid_t pid, int *status)
{
    const char *env = getenv ("ZSTATE_SELFTEST_DEADLINE");
    int64_t deadline_ms = (env && atoi (env) > 0? atoi (env): 1800) * (int64_t) 1000;
    int64_t deadline = zclock_mono () + deadline_ms;
    bool aborted = false;
    while (true) {
        pid_t rc = waitpid (pid, status, WNOHANG);
        if (rc == pid)
            return 0;
        if (rc == -1 && errno != EINTR) {
            fprintf (stderr, "selftest: %s: waitpid: %s\n", item->name, strerror (errno));
            return -1;
        }
        if (!aborted && zclock_mono () > deadline) {
            printf ("selftest: %s still running after %d s: aborting it\n", item->name,
                    (int) (deadline_ms / 1000));
            fflush (stdout);
            kill (pid, SIGABRT);
            aborted = true;
        }
        usleep (20 * 1000);
    }
}

//  Run one test in a child process and wait for it. Returns true if the
//  child exited with status 0. The parent holds no 0MQ context, so that
//  each child starts from a clean one.
static bool
s_test_run (test_item_t *item, bool verbose)
{
    fflush (stdout);
    fflush (stderr);
    int64_t started = zclock_usecs ();
    pid_t pid = fork ();
    if (pid == -1) {
        fprintf (stderr, "selftest: %s: cannot fork: %s\n", item->name, strerror (errno));
        return false;
    }
    if (pid == 0) {
        item->test (verbose);
        fflush (stdout);
        exit (0);               //  atexit handlers check for dangling sockets
    }
    int status;
    if (s_test_wait (item, pid, &status) == -1)
        return false;
    if (verbose)
        printf ("   (%s took %.3f s)\n", item->name, (zclock_usecs () - started) / 1e6);
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return true;
    if (WIFSIGNALED (status))
        printf ("selftest: %s FAILED: killed by signal %d (%s)\n", item->name,
                WTERMSIG (status), strsignal (WTERMSIG (status)));
    else
        printf ("selftest: %s FAILED: exit status %d\n", item->name, WEXITSTATUS (status));
    return false;
}

//  Add the tests named in the ZSTATE_SELFTEST variable to chosen. Returns
//  0, or -1 after naming an unknown test.
static int
s_tests_from_env (zlistx_t *chosen)
{
    const char *env = getenv ("ZSTATE_SELFTEST");
    if (!env || !*env)
        return 0;
    char *names = strdup (env);
    assert (names);
    int rc = 0;
    for (char *name = strtok (names, " ,"); name; name = strtok (NULL, " ,")) {
        test_item_t *item = s_test_find (name);
        if (!item) {
            fprintf (stderr, "selftest: no test named '%s'\n", name);
            rc = -1;
            break;
        }
        zlistx_add_end (chosen, item);
    }
    free (names);
    return rc;
}

int
main (int argc, char *argv [])
{
    bool verbose = false;
    bool dry_run = false;
    zlistx_t *chosen = zlistx_new ();
    assert (chosen);
    for (int argn = 1; argn < argc; argn++) {
        const char *arg = argv [argn];
        if (streq (arg, "-v"))
            verbose = true;
        else
        if (streq (arg, "-l")) {
            for (test_item_t *item = all_tests; item->name; item++)
                printf ("%s\n", item->name);
            zlistx_destroy (&chosen);
            return 0;
        }
        else
        if (streq (arg, "-n"))
            dry_run = true;
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
    if (zlistx_size (chosen) == 0 && s_tests_from_env (chosen)) {
        zlistx_destroy (&chosen);
        return 2;
    }
    if (zlistx_size (chosen) == 0)
        for (test_item_t *item = all_tests; item->name; item++)
            zlistx_add_end (chosen, item);
    if (dry_run) {
        for (test_item_t *item = (test_item_t *) zlistx_first (chosen); item;
             item = (test_item_t *) zlistx_next (chosen))
            printf ("%s\n", item->name);
        zlistx_destroy (&chosen);
        return 0;
    }
#ifdef NDEBUG
    printf ("selftest: warning: built with NDEBUG; zstate keeps asserts on anyway\n");
#endif
    printf ("Running zstate selftests...\n");
    int passed = 0;
    int failed = 0;
    //  The names of failed classes close the output, where the tail of a
    //  long log still shows them
    char failures [1024] = "";
    for (test_item_t *item = (test_item_t *) zlistx_first (chosen); item;
         item = (test_item_t *) zlistx_next (chosen))
        if (s_test_run (item, verbose))
            passed++;
        else {
            failed++;
            size_t used = strlen (failures);
            snprintf (failures + used, sizeof failures - used, " %s", item->name);
        }
    zlistx_destroy (&chosen);
    printf ("selftest: %d passed, %d failed\n", passed, failed);
    if (failed)
        printf ("selftest: failed:%s\n", failures);
    return failed? 1: 0;
}
