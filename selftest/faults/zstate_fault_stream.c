/*  =========================================================================
    zstate_fault_stream - the producer side of a fault scenario

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_fault_stream.h"
#include "zstate_fault_server.h"
#include "../zstate_test_assert.h"   //  last: asserts on in every build

struct _zstate_fault_stream_t {
    zstate_client_t *client;
    zstate_producer_t *producer;
    zstate_producer_t *second;  //  of odd key numbers, when two tables
    zstate_fault_model_t *model;
    int rate;
    int retry;
    char *value;                //  value of field v, or NULL
    uint64_t refused;
    int64_t fault_at;           //  start of the fault not detected yet, or 0
    int faults;
    int detected;
    int64_t detect_total;
    int64_t detect_max;
};

zstate_fault_stream_t *
zstate_fault_stream_new (const char *endpoint, zstate_fault_model_t *model)
{
    return zstate_fault_stream_new_at (endpoint, model, ZSTATE_ACK_DELIVERED);
}

zstate_fault_stream_t *
zstate_fault_stream_new_at (const char *endpoint, zstate_fault_model_t *model, int level)
{
    zstate_fault_stream_t *self = (zstate_fault_stream_t *) zmalloc (sizeof (*self));
    assert (self);
    self->model = model;
    self->retry = 10000;
    self->client = zstate_client_new ();
    assert (self->client);
    //  The scenarios measure loss, not the FAILED state: the link may stay
    //  down, and the server silent, as long as a scenario keeps it so
    zstate_client_set_link_timeout (self->client, 0);
    zstate_client_set_retry (self->client, 1, 100, 3600 * 1000);
    int rc = zstate_client_set_ack_level (self->client, level);
    assert (rc == 0);
    if (zstate_client_connect (self->client, endpoint)) {
        zsys_error ("zstate_faults: connect %s: %s", endpoint, zstate_reason ());
        zstate_client_destroy (&self->client);
        free (self);
        return NULL;
    }
    self->producer = zstate_producer_new (self->client, ZSTATE_FAULT_DB, ZSTATE_FAULT_TABLE);
    assert (self->producer);
    return self;
}

void
zstate_fault_stream_destroy (zstate_fault_stream_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_fault_stream_t *self = *self_p;
        zstate_producer_destroy (&self->second);
        zstate_producer_destroy (&self->producer);
        zstate_client_destroy (&self->client);
        free (self->value);
        free (self);
        *self_p = NULL;
    }
}

void
zstate_fault_stream_set (zstate_fault_stream_t *self, int rate, int retry, size_t value_size)
{
    assert (self);
    self->rate = rate;
    self->retry = retry;
    free (self->value);
    self->value = NULL;
    if (value_size) {
        self->value = (char *) malloc (value_size + 1);
        assert (self->value);
        memset (self->value, 'v', value_size);
        self->value [value_size] = 0;
    }
}

void
zstate_fault_stream_set_tables (zstate_fault_stream_t *self)
{
    assert (self);
    if (!self->second) {
        self->second = zstate_producer_new (self->client, ZSTATE_FAULT_DB, ZSTATE_FAULT_TABLE_2);
        assert (self->second);
    }
}

void
zstate_fault_stream_events (zstate_fault_stream_t *self)
{
    assert (self);
    zsock_t *events = zstate_client_events (self->client);
    for (int count = 0; count < 1000 && (zsock_events (events) & ZMQ_POLLIN); count++) {
        char *type = NULL, *endpoint = NULL, *detail = NULL;
        if (zsock_recv (events, "sss", &type, &endpoint, &detail))
            break;
        bool down = type && streq (type, "STATE") && detail
                 && (streq (detail, "DISCONNECTED") || streq (detail, "FAILED"));
        if (down && self->fault_at) {
            int64_t elapsed = zclock_mono () - self->fault_at;
            self->detected++;
            self->detect_total += elapsed;
            if (elapsed > self->detect_max)
                self->detect_max = elapsed;
            self->fault_at = 0;
        }
        zstr_free (&type);
        zstr_free (&endpoint);
        zstr_free (&detail);
    }
}

void
zstate_fault_stream_fault (zstate_fault_stream_t *self)
{
    assert (self);
    zstate_fault_stream_events (self);
    self->fault_at = zclock_mono ();
    self->faults++;
}

//  Send one operation, trying again within the retry budget; false when
//  the model has no operation left
static bool
s_send_one (zstate_fault_stream_t *self)
{
    char key [16], seq [16];
    unsigned number;
    int64_t op = zstate_fault_model_next (self->model, key, &number);
    if (op < 0)
        return false;
    snprintf (seq, sizeof (seq), "%u", number);
    int64_t deadline = zclock_mono () + self->retry;
    int rc;
    bool del = zstate_fault_model_is_del (self->model, op);
    zstate_producer_t *producer = self->second && atoi (key + 1) % 2? self->second
                                : self->producer;
    while (true) {
        rc = del? zstate_producer_del (producer, key)
           : self->value
           ? zstate_producer_set (producer, key, "seq", seq, "v", self->value, NULL)
           : zstate_producer_set (producer, key, "seq", seq, NULL);
        if (rc == 0 || (errno != ENOBUFS && errno != ENOTCONN)
        ||  zclock_mono () >= deadline)
            break;
        zclock_sleep (1);
        zstate_fault_stream_events (self);
    }
    if (rc)
        self->refused++;
    zstate_fault_model_sent (self->model, op, rc == 0);
    return true;
}

size_t
zstate_fault_stream_run (zstate_fault_stream_t *self, size_t count, int msecs)
{
    assert (self);
    int64_t start = zclock_mono ();
    size_t sent = 0;
    for (sent = 0; sent < count; sent++) {
        if (sent % 64 == 0) {
            zstate_fault_stream_events (self);
            if (msecs > 0 && zclock_mono () - start >= msecs)
                break;
        }
        if (self->rate && sent % 16 == 0) {
            //  Spaced from the start of this run, so a stall is not made up
            //  by a burst longer than one run
            int64_t due = start + (int64_t) sent * 1000 / self->rate;
            int64_t now = zclock_mono ();
            if (due > now)
                zclock_sleep ((int) (due - now));
        }
        if (!s_send_one (self))
            break;
    }
    zstate_fault_stream_events (self);
    return sent;
}

void
zstate_fault_stream_detection (zstate_fault_stream_t *self, int *faults_p,
                               int *detected_p, int64_t *mean_p, int64_t *max_p)
{
    assert (self);
    zstate_fault_stream_events (self);
    *faults_p = self->faults;
    *detected_p = self->detected;
    *mean_p = self->detected? self->detect_total / self->detected: 0;
    *max_p = self->detect_max;
}

uint64_t
zstate_fault_stream_refused (zstate_fault_stream_t *self)
{
    assert (self);
    return self->refused;
}

zstate_client_t *
zstate_fault_stream_client (zstate_fault_stream_t *self)
{
    assert (self);
    return self->client;
}

zstate_producer_t *
zstate_fault_stream_producer (zstate_fault_stream_t *self)
{
    assert (self);
    return self->producer;
}

//  --------------------------------------------------------------------------
//  Self test

void
zstate_fault_stream_test (bool verbose)
{
    printf (" * zstate_fault_stream: ");
    zstate_server_t *server = zstate_server_new ();
    zstate_consumer_t *consumer = zstate_consumer_new (server, ZSTATE_FAULT_DB,
                                                       ZSTATE_FAULT_TABLE);
    int port = zstate_server_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    zstate_fault_model_t *model = zstate_fault_model_new (10, 40);
    zstate_fault_stream_t *stream = zstate_fault_stream_new (endpoint, model);
    assert (stream);
    //  Paced at 200 ops/s, the 17th op waits until 80 ms have passed; a
    //  loaded machine only makes that longer
    zstate_fault_stream_set (stream, 200, 10000, 5);
    int64_t start = zclock_mono ();
    assert (zstate_fault_stream_run (stream, 20, 0) == 20);
    assert (zclock_mono () - start >= 80);
    assert (zstate_fault_model_accepted (model) == 20);
    assert (zstate_client_flush (zstate_fault_stream_client (stream), 10000) == 0);
    //  The consumer gets the model's operations: k0000000 seq 1 first
    zstate_batch_t *batch = zstate_batch_new ();
    size_t popped = 0;
    for (int tick = 0; tick < 1000 && popped < 20; tick++) {
        popped += zstate_consumer_pops (consumer, batch, 0);
        if (popped == zstate_batch_size (batch) && popped) {
            assert (streq (zstate_batch_key (batch, 0, NULL), "k0000000"));
            assert (streq (zstate_batch_get (batch, 0, "seq"), "1"));
            assert (streq (zstate_batch_get (batch, 0, "v"), "vvvvv"));
        }
        if (popped < 20)
            zclock_sleep (10);
    }
    assert (popped == 20);

    //  The server goes: the fault is detected by the client's event
    zstate_fault_stream_fault (stream);
    zstate_server_destroy (&server);
    int faults = 0, detected = 0;
    int64_t mean, max;
    for (int tick = 0; tick < 1000 && !detected; tick++) {
        zclock_sleep (10);
        zstate_fault_stream_detection (stream, &faults, &detected, &mean, &max);
    }
    assert (faults == 1 && detected == 1 && max >= mean);

    //  A client whose queue holds no operation refuses every send; with a
    //  retry budget it tries for that long, without one the refusal counts
    //  at once; either way the model moves on
    zstate_client_set_queue (zstate_fault_stream_client (stream), 1, 1);
    zstate_fault_stream_set (stream, 0, 20, 0);
    assert (zstate_fault_stream_run (stream, 1, 0) == 1);
    assert (zstate_fault_stream_refused (stream) == 1);
    zstate_fault_stream_set (stream, 0, 0, 0);
    assert (zstate_fault_stream_run (stream, 100, 0) == 19);
    assert (zstate_fault_stream_refused (stream) == 20);
    assert (zstate_fault_model_accepted (model) == 20);
    //  The model is full: nothing more is sent
    assert (zstate_fault_stream_run (stream, 10, 0) == 0);
    if (verbose)
        zsys_info ("zstate_fault_stream test: %" PRIu64 " refused",
                   zstate_fault_stream_refused (stream));
    zstate_client_set_linger (zstate_fault_stream_client (stream), 0);
    zstate_fault_stream_destroy (&stream);
    assert (stream == NULL);
    zstate_batch_destroy (&batch);
    zstate_consumer_destroy (&consumer);
    zstate_fault_model_destroy (&model);
    printf ("OK\n");
}
