/*  =========================================================================
    zstate_bench_raw - zstate bench: the ceiling, libzmq PUSH/PULL alone

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_bench.h"

//  The raw ceiling uses libzmq alone, in the context the child made: one
//  I/O thread, as CZMQ's. The receiver decodes nothing.

void
zstate_bench_consumer_raw (bench_t *bench, scenario_t *scenario, void *context,
                           zstate_bench_ready_fn *ready, void *ready_arg, report_t *report)
{
    void *pull = zmq_socket (context, ZMQ_PULL);
    assert (pull);
    int timeout = STALL_MSECS;
    zmq_setsockopt (pull, ZMQ_RCVTIMEO, &timeout, sizeof (timeout));
    char endpoint [200];
    zstate_bench_bind_endpoint (bench, endpoint, sizeof (endpoint));
    if (zmq_bind (pull, endpoint)) {
        snprintf (report->error, sizeof (report->error), "bind %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        report->rss_kib = zstate_bench_rss_peak ();
        return;
    }
    size_t size = sizeof (endpoint);
    zmq_getsockopt (pull, ZMQ_LAST_ENDPOINT, endpoint, &size);
    usage_t start;
    zstate_bench_usage_start (&start);
    ready (ready_arg, endpoint);

    uint64_t messages = scenario->ops / (uint64_t) scenario->batch;
    uint64_t received = 0;
    histo_t histo;
    memset (&histo, 0, sizeof (histo));
    if (scenario->kind == KIND_LATENCY)
        zstate_bench_histo_init (&histo, messages * WARMUP_PERCENT / 100);
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (received < messages) {
        if (zmq_msg_recv (&msg, pull, 0) == -1) {
            if (zmq_errno () == EINTR && !zsys_interrupted)
                continue;
            snprintf (report->error, sizeof (report->error),
                      "recv after %" PRIu64 " of %" PRIu64 " messages: %s",
                      received, messages, zmq_strerror (zmq_errno ()));
            break;
        }
        if (histo.buckets && zmq_msg_size (&msg) >= sizeof (int64_t)) {
            int64_t stamp;
            memcpy (&stamp, (byte *) zmq_msg_data (&msg) + zmq_msg_size (&msg) - sizeof (stamp),
                    sizeof (stamp));
            zstate_bench_histo_add (&histo, zclock_usecs () - stamp);
        }
        received++;
    }
    zstate_bench_histo_report (&histo, report);
    report->last_pop = zclock_usecs ();
    zstate_bench_usage_since (&start, report);
    zmq_msg_close (&msg);
    report->ops = received * (uint64_t) scenario->batch;
    report->ok = received == messages;
    report->rss_kib = zstate_bench_rss_peak ();
}

//  The latency baseline sends what zstate's paced producer sends: one
//  operation with 3 fields, the stamp in its last 8 bytes
void
zstate_bench_producer_raw (bench_t *bench, scenario_t *scenario, void *context,
                           const char *endpoint, report_t *report)
{
    bool paced = scenario->kind == KIND_LATENCY;
    zframe_t *frame = scenario->sonic
        ? zstate_bench_encode_sonic_sample (scenario->fields, scenario->batch)
        : zstate_bench_encode_sample (paced? 3: scenario->fields, scenario->batch);
    void *push = zmq_socket (context, ZMQ_PUSH);
    assert (push);
    int timeout = STALL_MSECS;
    zmq_setsockopt (push, ZMQ_SNDTIMEO, &timeout, sizeof (timeout));
    if (zmq_connect (push, endpoint)) {
        snprintf (report->error, sizeof (report->error), "connect %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        zframe_destroy (&frame);
        report->rss_kib = zstate_bench_rss_peak ();
        return;
    }
    //  PUSH has no connection state to wait for: give the handshake time
    if (!streq (bench->transport, "inproc"))
        zclock_sleep (SETTLE_MSECS);
    uint64_t messages = scenario->ops / (uint64_t) scenario->batch;
    byte *data = zframe_data (frame);
    size_t size = zframe_size (frame);
    assert (size >= sizeof (int64_t));
    uint64_t sent = 0;
    int64_t origin = paced? zstate_bench_pace_origin (): 0;
    usage_t start;
    zstate_bench_usage_start (&start);
    report->first_send = zclock_usecs ();
    while (sent < messages) {
        if (paced) {
            zstate_bench_pace_wait (origin, sent, scenario->rate);
            int64_t stamp = zclock_usecs ();
            memcpy (data + size - sizeof (stamp), &stamp, sizeof (stamp));
        }
        if (zmq_send (push, data, size, 0) == -1) {
            if (zmq_errno () == EINTR && !zsys_interrupted)
                continue;
            snprintf (report->error, sizeof (report->error), "send: %s",
                      zmq_strerror (zmq_errno ()));
            break;
        }
        sent++;
    }
    zstate_bench_usage_since (&start, report);
    report->ops = sent * (uint64_t) scenario->batch;
    report->messages = sent;
    report->ok = sent == messages;
    report->rss_kib = zstate_bench_rss_peak ();
    zframe_destroy (&frame);
}


