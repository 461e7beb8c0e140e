/*  =========================================================================
    zstate_bench_child - zstate bench: child processes, their reports, one measurement

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_bench.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

//  Write a report to fd; the struct is under PIPE_BUF, so one write
static void
s_report_send (int fd, report_t *report)
{
    ssize_t rc = write (fd, report, sizeof (report_t));
    assert (rc == (ssize_t) sizeof (report_t));
}

//  Make a unique endpoint for this transport to bind
void
zstate_bench_bind_endpoint (bench_t *bench, char *endpoint, size_t size)
{
    if (streq (bench->transport, "tcp"))
        snprintf (endpoint, size, "tcp://127.0.0.1:*");
    else
    if (streq (bench->transport, "ipc"))
        //  Linux abstract namespace: nothing to clean up on disk
        snprintf (endpoint, size, "ipc://@zstate-bench-%d-%d",
                  (int) getpid (), bench->endpoint_counter);
    else
        snprintf (endpoint, size, "inproc://zstate-bench-%d", bench->endpoint_counter);
}


//  --------------------------------------------------------------------------
//  Child processes: what each runs, and how the parent starts them

typedef struct {
    int fd;                     //  report pipe, or -1 in ROLE_BOTH
    //  ROLE_BOTH: the producer runs in a thread of the consumer process
    bench_t *bench;
    scenario_t *scenario;
    void *context;
    report_t producer;
    pthread_t thread;
    bool started;
} ready_t;

static void *
s_both_producer (void *args)
{
    ready_t *self = (ready_t *) args;
    if (self->scenario->raw || self->scenario->sonic)
        zstate_bench_producer_raw (self->bench, self->scenario,
                                   self->scenario->raw? self->context: zsys_init (),
                                   self->producer.endpoint, &self->producer);
    else
        zstate_bench_producer_zstate (self->bench, self->scenario, self->producer.endpoint,
                           &self->producer);
    return NULL;
}

static void
s_ready (void *arg, const char *endpoint)
{
    ready_t *self = (ready_t *) arg;
    if (self->fd >= 0) {
        report_t report;
        memset (&report, 0, sizeof (report));
        report.type = REPORT_READY;
        report.ok = 1;
        snprintf (report.endpoint, sizeof (report.endpoint), "%s", endpoint);
        s_report_send (self->fd, &report);
    }
    else {
        snprintf (self->producer.endpoint, sizeof (self->producer.endpoint), "%s", endpoint);
        int rc = pthread_create (&self->thread, NULL, s_both_producer, self);
        assert (rc == 0);
        self->started = true;
    }
}

//  Block until the parent closes our control pipe, then leave
static void
s_child_leave (int control_fd, int status)
{
    char byte_read;
    while (read (control_fd, &byte_read, 1) == -1 && errno == EINTR)
        ;
    _exit (status);
}

//  The refused clients: READY once their reconnect loop is under way,
//  then they loop until the parent lets us leave
static void
s_refused_run (bench_t *bench, scenario_t *scenario, const char *endpoint, int report_fd,
               int control_fd)
{
    report_t report;
    memset (&report, 0, sizeof (report));
    report.type = REPORT_READY;
    void *context = zmq_ctx_new ();
    assert (context);
    if (zstate_bench_refused_connect (bench, scenario, context, endpoint, report.error,
                                      sizeof (report.error)) == 0) {
        zclock_sleep (REFUSED_SETTLE_MSECS);
        report.ok = 1;
    }
    s_report_send (report_fd, &report);
    //  Leave without closing the sockets: _exit ends them at once
    s_child_leave (control_fd, 0);
}

static void
s_child_run (bench_t *bench, scenario_t *scenario, role_t role, const char *endpoint,
             int report_fd, int control_fd)
{
    //  The library's state-change lines, once per run, would bury the
    //  results; failures come back in the report
    //  Before any socket: CZMQ 4.2.1 makes its context again for this,
    //  which it can only while no socket is open
    if (scenario->io_threads > 1 && role == ROLE_CONSUMER)
        zsys_set_io_threads ((size_t) scenario->io_threads);
    if (!bench->verbose)
        zsys_set_logstream (NULL);
    report_t report;
    memset (&report, 0, sizeof (report));
    report.type = REPORT_RESULT;
    if (role == ROLE_REFUSED)
        s_refused_run (bench, scenario, endpoint, report_fd, control_fd);
    ready_t ready;
    memset (&ready, 0, sizeof (ready));
    ready.fd = role == ROLE_BOTH? -1: report_fd;
    ready.bench = bench;
    ready.scenario = scenario;

    //  The raw ceiling uses libzmq alone, with its default context: one
    //  I/O thread, as CZMQ's
    void *context = NULL;
    if (scenario->raw) {
        context = zmq_ctx_new ();
        assert (context);
        ready.context = context;
    }
    if (role == ROLE_PRODUCER) {
        //  A SONiC producer is a plain PUSH of pre-encoded frames, in
        //  CZMQ's context when it is not raw, so inproc reaches the bridge
        if (scenario->raw || scenario->sonic)
            zstate_bench_producer_raw (bench, scenario, scenario->raw? context: zsys_init (),
                                       endpoint, &report);
        else
            zstate_bench_producer_zstate (bench, scenario, endpoint, &report);
    }
    else {
        if (scenario->raw)
            zstate_bench_consumer_raw (bench, scenario, context, s_ready, &ready, &report);
        else
            zstate_bench_consumer_zstate (bench, scenario, s_ready, &ready, &report);
        if (role == ROLE_BOTH) {
            if (ready.started)
                pthread_join (ready.thread, NULL);
            else
                snprintf (ready.producer.error, sizeof (ready.producer.error),
                          "not started");
            //  One report for both sides
            report.first_send = ready.producer.first_send;
            report.messages = ready.producer.messages;
            report.retries = ready.producer.retries;
            report.rss_kib = zstate_bench_rss_peak ();
            report.producer_rss_kib = report.rss_kib;
            if (report.ok && !ready.producer.ok) {
                report.ok = 0;
                snprintf (report.error, sizeof (report.error), "producer: %.200s",
                          ready.producer.error);
            }
        }
    }
    s_report_send (report_fd, &report);
    s_child_leave (control_fd, 0);
}

typedef struct {
    pid_t pid;
    int report_fd;              //  we read the child's reports here
    int control_fd;             //  we close this to let the child leave
} child_t;

static int
s_child_start (bench_t *self, scenario_t *scenario, role_t role, const char *endpoint,
               child_t *child)
{
    int report_pipe [2], control_pipe [2];
    if (pipe (report_pipe))
        return -1;
    if (pipe (control_pipe)) {
        close (report_pipe [0]);
        close (report_pipe [1]);
        return -1;
    }
    fflush (NULL);              //  Or the child writes our buffers again
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        close (report_pipe [0]);
        close (report_pipe [1]);
        close (control_pipe [0]);
        close (control_pipe [1]);
        return -1;
    }
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (1);
        //  Only our own pipe ends: a sibling's left open here would hide
        //  its EOF from it
        close (report_pipe [0]);
        close (control_pipe [1]);
        for (int index = 0; index < self->open_count; index++)
            close (self->open_fds [index]);
        s_child_run (self, scenario, role, endpoint, report_pipe [1], control_pipe [0]);
        _exit (1);              //  Not reached
    }
    close (report_pipe [1]);
    close (control_pipe [0]);
    child->pid = pid;
    child->report_fd = report_pipe [0];
    child->control_fd = control_pipe [1];
    assert (self->open_count + 2 <= (int) (sizeof (self->open_fds) / sizeof (int)));
    self->open_fds [self->open_count++] = child->report_fd;
    self->open_fds [self->open_count++] = child->control_fd;
    return 0;
}

//  Let the child leave and reap it; kill it if it does not go
static void
s_child_end (bench_t *self, child_t *child, bool kill_it)
{
    if (!child->pid)
        return;
    if (kill_it)
        kill (child->pid, SIGKILL);
    close (child->control_fd);
    close (child->report_fd);
    int kept = 0;
    for (int index = 0; index < self->open_count; index++)
        if (self->open_fds [index] != child->control_fd
        &&  self->open_fds [index] != child->report_fd)
            self->open_fds [kept++] = self->open_fds [index];
    self->open_count = kept;
    int64_t deadline = zclock_mono () + 5000;
    while (waitpid (child->pid, NULL, WNOHANG) == 0) {
        if (zclock_mono () > deadline) {
            kill (child->pid, SIGKILL);
            waitpid (child->pid, NULL, 0);
            break;
        }
        zclock_sleep (5);
    }
    child->pid = 0;
}

//  Read one report, waiting at most timeout msecs. Returns 0 or -1.
static int
s_report_recv (int fd, report_t *report, int timeout)
{
    size_t got = 0;
    int64_t deadline = zclock_mono () + timeout;
    while (got < sizeof (report_t)) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return -1;
        struct pollfd item = { fd, POLLIN, 0 };
        int rc = poll (&item, 1, (int) left);
        if (zsys_interrupted)
            return -1;
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t bytes = read (fd, (char *) report + got, sizeof (report_t) - got);
        if (bytes < 0 && errno == EINTR)
            continue;
        if (bytes <= 0)
            return -1;              //  The child died
        got += (size_t) bytes;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Parent side: one measurement, in one or two children

//  Read the report of a child whose pipe is ready. Returns 0 when it
//  says ok, else -1 with error set.
static int
s_report_take (child_t *child, const char *side, report_t *report, char *error,
               size_t error_size)
{
    if (s_report_recv (child->report_fd, report, 1000)) {
        snprintf (error, error_size, "the %s process died", side);
        return -1;
    }
    if (!report->ok) {
        snprintf (error, error_size, "%s: %.200s", side, report->error);
        return -1;
    }
    return 0;
}

//  Add one producer process's report into the producers' total: the first
//  send of all, the sums of what they sent and used, the largest RSS
static void
s_report_add (report_t *total, report_t *report, bool first)
{
    if (first) {
        *total = *report;
        return;
    }
    if (report->first_send < total->first_send)
        total->first_send = report->first_send;
    total->ops += report->ops;
    total->messages += report->messages;
    total->retries += report->retries;
    total->usage.cpu_usecs += report->usage.cpu_usecs;
    total->usage.rw_syscalls += report->usage.rw_syscalls;
    total->usage.syscalls += report->usage.syscalls;
    if (report->rss_kib > total->rss_kib)
        total->rss_kib = report->rss_kib;
}

//  Wait for every report (items [0] the consumer's, then the producers');
//  a side that fails ends the measurement. Each side gives up by itself
//  when nothing moves for STALL_MSECS; the deadline only catches a child
//  that hangs. Returns 0 or -1.
static int
s_reports_wait (child_t *consumer, child_t *producers, int count,
                report_t *consumer_report, report_t *producer_report, char *error,
                size_t error_size)
{
    struct pollfd items [CLIENTS_MAX + 1];
    items [0] = (struct pollfd) { consumer->report_fd, POLLIN, 0 };
    for (int index = 0; index < count; index++)
        items [index + 1] = (struct pollfd) { producers [index].report_fd, POLLIN, 0 };
    int missing = count + 1;
    int seen = 0;               //  producers' reports so far
    int64_t deadline = zclock_mono () + MEASURE_MSECS;
    while (missing) {
        int64_t left = deadline - zclock_mono ();
        int events = left > 0? poll (items, (nfds_t) count + 1, (int) left): 0;
        if (zsys_interrupted) {
            snprintf (error, error_size, "interrupted");
            return -1;
        }
        if (events < 0 && errno == EINTR)
            continue;
        if (events <= 0) {
            if (events)
                snprintf (error, error_size, "poll: %s", strerror (errno));
            else
                snprintf (error, error_size, "no result after %d s", MEASURE_MSECS / 1000);
            return -1;
        }
        if (items [0].revents) {
            if (s_report_take (consumer, "consumer", consumer_report, error, error_size))
                return -1;
            items [0].fd = -1;
            missing--;
        }
        for (int index = 0; index < count; index++) {
            if (!items [index + 1].revents)
                continue;
            report_t report;
            if (s_report_take (&producers [index], "producer", &report, error, error_size))
                return -1;
            s_report_add (producer_report, &report, seen++ == 0);
            items [index + 1].fd = -1;
            missing--;
        }
    }
    return 0;
}

//  inproc: one child runs both sides and sends one report for both
static int
s_measure_inproc (child_t *child, report_t *consumer_report, report_t *producer_report,
                  char *error, size_t error_size)
{
    if (s_report_recv (child->report_fd, consumer_report, MEASURE_MSECS)) {
        snprintf (error, error_size, "the benchmark process died");
        return -1;
    }
    if (!consumer_report->ok) {
        snprintf (error, error_size, "%s", consumer_report->error);
        return -1;
    }
    *producer_report = *consumer_report;
    producer_report->rss_kib = consumer_report->producer_rss_kib;
    return 0;
}

//  --refused rows: start the refused clients' child and wait until their
//  loop is under way. Returns 0 (also when the scenario has none), or -1
//  with error set.
static int
s_refused_start (bench_t *self, scenario_t *scenario, const char *endpoint, child_t *child,
                 char *error, size_t error_size)
{
    if (!scenario->refused)
        return 0;
    report_t ready;
    if (s_child_start (self, scenario, ROLE_REFUSED, endpoint, child)) {
        snprintf (error, error_size, "fork: %s", strerror (errno));
        return -1;
    }
    if (s_report_recv (child->report_fd, &ready, READY_MSECS)) {
        snprintf (error, error_size, "the refused clients did not start");
        return -1;
    }
    if (!ready.ok) {
        snprintf (error, error_size, "%.250s", ready.error);
        return -1;
    }
    return 0;
}

int
zstate_bench_measure (bench_t *self, scenario_t *scenario, report_t *consumer_report,
                      report_t *producer_report, char *error, size_t error_size)
{
    bool inproc = streq (self->transport, "inproc");
    child_t consumer = { 0, -1, -1 }, refused = { 0, -1, -1 };
    child_t producers [CLIENTS_MAX];
    int count = scenario->clients > 1? scenario->clients: 1;
    assert (count <= CLIENTS_MAX);
    for (int index = 0; index < count; index++)
        producers [index] = (child_t) { 0, -1, -1 };
    self->endpoint_counter++;
    memset (consumer_report, 0, sizeof (report_t));
    memset (producer_report, 0, sizeof (report_t));

    if (s_child_start (self, scenario, inproc? ROLE_BOTH: ROLE_CONSUMER, NULL, &consumer)) {
        snprintf (error, error_size, "fork: %s", strerror (errno));
        return -1;
    }
    int rc = -1;
    report_t ready;
    if (inproc)
        rc = s_measure_inproc (&consumer, consumer_report, producer_report, error,
                               error_size);
    else
    if (s_report_recv (consumer.report_fd, &ready, READY_MSECS))
        snprintf (error, error_size, "the consumer did not start");
    else
    if (ready.type != REPORT_READY)
        snprintf (error, error_size, "consumer: %.200s", ready.error);
    else
    if (s_refused_start (self, scenario, ready.endpoint, &refused, error, error_size) == 0) {
        int started = 0;
        for (; started < count; started++) {
            //  The child reads its part of the work from its copy of bench
            self->part = started;
            if (s_child_start (self, scenario, ROLE_PRODUCER, ready.endpoint,
                               &producers [started]))
                break;
        }
        self->part = 0;
        if (started < count)
            snprintf (error, error_size, "fork: %s", strerror (errno));
        else
            rc = s_reports_wait (&consumer, producers, count, consumer_report,
                                 producer_report, error, error_size);
    }
    for (int index = 0; index < count; index++)
        s_child_end (self, &producers [index], rc != 0);
    s_child_end (self, &refused, true);
    s_child_end (self, &consumer, rc != 0);
    return rc;
}
