/*  =========================================================================
    zstate_client_liveness_suite - a slow server is not a dead one: the
    version 2 client against a scripted server (zstate_client_fake.c)
    whose ACKs stall while it answers, and one that goes silent

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_client_fake.h"

#define RETRY_TIMEOUT   500         //  Silence this long means FAILED, msecs
#define KEYS            20          //  The outbox bound, in operations
#define VALUE_SIZE      (512 * 1024)    //  Of each, in the stalled test: 10
                                        //  MiB fill the socket buffers
//  The stalled test: the server PINGs every PING_IVL msecs while it reads
//  nothing, PINGS times, for two retry timeouts; the client's heartbeat is
//  the usual one, since 3 of its intervals without a PING (a loaded
//  machine) would make it open a new connection, whose HELLO a server
//  that reads nothing never sees
#define STALL_TIMEOUT   (5 * HEARTBEAT / 2)
#define PING_IVL        50
#define PINGS           (2 * STALL_TIMEOUT / PING_IVL)

//  What the server received: each key's last value, and the sequence of
//  the latest OPS (after a WELCOME the client may number them afresh)
typedef struct {
    zhashx_t *values;           //  key -> value
    uint64_t sequence;
    zstate_batch_t *batch;
} received_t;

//  Receive the next message within timeout (PINGs answered, HELLOs
//  WELCOMEd when the fake says so), recording the operations of an OPS
static bool
s_recv (fake_t *fake, received_t *received, int timeout)
{
    if (!fake_recv (fake, 0, timeout))
        return false;
    if (fake->msg.type == ZSTATE_SESSION_MSG_OPS) {
        received->sequence = fake->msg.sequence;
        zstate_batch_reset (received->batch);
        assert (zstate_batch_load (received->batch, fake->msg.ops, fake->msg.ops_size,
                                   fake->msg.op_count, NULL) == 0);
        for (size_t index = 0; index < zstate_batch_size (received->batch); index++)
            zhashx_update (received->values, zstate_batch_key (received->batch, index, NULL),
                           (void *) zstate_batch_get (received->batch, index, "field"));
    }
    return true;
}

//  Key number index, "k<index>", and its value, "v<index>" padded with
//  dots to size bytes
static void
s_key_value (int index, size_t size, char *key, char **value_p)
{
    snprintf (key, 16, "k%d", index);
    char *value = (char *) malloc (size + 16);
    assert (value);
    int length = snprintf (value, 16, "v%d", index);
    if ((size_t) length < size)
        memset (value + length, '.', size - (size_t) length);
    value [(size_t) length < size? size: (size_t) length] = 0;
    *value_p = value;
}

//  Send key number index with a value of size bytes; the send's status
static int
s_send (zstate_client_t *client, int index, size_t size)
{
    char key [16], *value;
    s_key_value (index, size, key, &value);
    zstate_batch_t *batch = zstate_batch_new ();
    assert (zstate_batch_set (batch, key, "field", value, NULL) == 0);
    int rc = zstate_client_send (client, "db", "table", batch);
    zstate_batch_destroy (&batch);
    free (value);
    return rc;
}

//  Every key sent arrived with its value
static void
s_check_keys (received_t *received, int keys, size_t size)
{
    assert (zhashx_size (received->values) == (size_t) keys);
    for (int index = 0; index < keys; index++) {
        char key [16], *value;
        s_key_value (index, size, key, &value);
        const char *found = (const char *) zhashx_lookup (received->values, key);
        assert (found && streq (found, value));
        free (value);
    }
}

//  True when the events waiting hold STATE FAILED; reads them all
static bool
s_failed_event (zstate_client_t *client)
{
    zsock_t *events = zstate_client_events (client);
    zsock_set_rcvtimeo (events, 0);
    bool failed = false;
    for (int count = 0; count < 1000; count++) {
        char *type = NULL, *endpoint = NULL, *detail = NULL;
        if (zsock_recv (events, "sss", &type, &endpoint, &detail) == -1)
            break;
        failed |= streq (type, "STATE") && streq (detail, "FAILED");
        zstr_free (&type);
        zstr_free (&endpoint);
        zstr_free (&detail);
    }
    return failed;
}

static received_t *
s_received_new (void)
{
    received_t *self = (received_t *) zmalloc (sizeof (received_t));
    assert (self);
    self->values = zhashx_new ();
    assert (self->values);
    zhashx_set_duplicator (self->values, (zhashx_duplicator_fn *) strdup);
    zhashx_set_destructor (self->values, (zhashx_destructor_fn *) zstr_free);
    self->batch = zstate_batch_new ();
    return self;
}

static void
s_received_destroy (received_t **self_p)
{
    zhashx_destroy (&(*self_p)->values);
    zstate_batch_destroy (&(*self_p)->batch);
    free (*self_p);
    *self_p = NULL;
}

//  A server that holds the client's messages (it reads nothing, as one
//  whose consumer does not pop) and whose ACKs stall, but which PINGs the
//  client, for two retry timeouts: the client's socket fills, and it
//  stays out of FAILED; sends go until the outbox bound, then fail with
//  ENOBUFS, never ENOTCONN. Once the server reads and ACKs every key
//  arrives with its value, and sends go again
static void
s_test_stalled (bool verbose)
{
    fake_t *fake = fake_new_slow ();
    //  The bound before connect: the socket's high-water mark follows it
    zstate_client_t *client = zstate_client_new ();
    assert (client);
    zstate_client_set_verbose (client, verbose);
    zstate_client_set_retry (client, 1, 20, STALL_TIMEOUT);
    zstate_client_set_queue (client, KEYS, 64 * 1024 * 1024);
    fake_client_connect (fake, client, true, HEARTBEAT, ZSTATE_ACK_DELIVERED);
    //  The server PINGs between sends, slow as they may be (valgrind)
    for (int index = 0; index < KEYS; index++) {
        assert (s_send (client, index, VALUE_SIZE) == 0);
        fake_ping (fake);
    }
    assert (s_send (client, KEYS, 1) == -1 && errno == ENOBUFS);
    //  The socket pushes back: the agent retries, and nothing goes out
    zstate_client_stats_t stats;
    for (int count = 0; count < WAIT / PING_IVL; count++) {
        fake_ping (fake);
        zstate_client_stats (client, &stats);
        if (stats.retries > 0)
            break;
        zclock_sleep (PING_IVL);
    }
    assert (stats.retries > 0);
    for (int count = 0; count < PINGS; count++) {
        fake_ping (fake);
        zclock_sleep (PING_IVL);
    }
    assert (zstate_client_state (client) != ZSTATE_CLIENT_FAILED);
    assert (!s_failed_event (client));
    assert (s_send (client, KEYS, 1) == -1 && errno == ENOBUFS);

    //  The server reads, answers, PINGs as it goes, and acknowledges
    fake->welcome_all = true;
    received_t *received = s_received_new ();
    for (int count = 0; count < 1000 && zhashx_size (received->values) < KEYS; count++) {
        assert (s_recv (fake, received, WAIT));
        fake_ping (fake);
    }
    s_check_keys (received, KEYS, VALUE_SIZE);
    fake_ack (fake, received->sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    assert (s_send (client, KEYS, 1) == 0);
    for (int count = 0; count < 1000 && zhashx_size (received->values) <= KEYS; count++)
        assert (s_recv (fake, received, WAIT));
    fake_ack (fake, received->sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    assert (!s_failed_event (client));
    assert (zstate_client_close (&client, WAIT) == 0);
    s_received_destroy (&received);
    fake_destroy (&fake);
}

//  A server that stops answering while operations wait for its ACK: the
//  client goes FAILED, and send says ENOTCONN; the first thing heard from
//  the server (the WELCOME on the client's fresh connection) ends FAILED,
//  and what was held is delivered
static void
s_test_silent (bool verbose)
{
    fake_t *fake = fake_new ();
    zstate_client_t *client = fake_client_new (fake, true, SHORT_HEARTBEAT, verbose);
    zstate_client_set_retry (client, 1, 20, RETRY_TIMEOUT);
    //  A loaded machine may make the client open a new connection before
    //  the silence too: every HELLO read is WELCOMEd
    fake->welcome_all = true;
    received_t *received = s_received_new ();
    for (int index = 0; index < 3; index++)
        assert (s_send (client, index, 1) == 0);
    for (int count = 0; count < 1000 && zhashx_size (received->values) < 3; count++)
        assert (s_recv (fake, received, WAIT));
    //  The client PINGs while its operations wait for an ACK
    size_t pings = fake->pings;
    for (int count = 0; count < 1000 && fake->pings < pings + 2; count++)
        assert (s_recv (fake, received, WAIT));
    assert (fake->pings >= pings + 2);
    //  Nothing read, nothing answered
    char detail [256] = "";
    for (int count = 0; count < 100 && !streq (detail, "FAILED"); count++)
        assert (fake_event (client, "STATE", detail, sizeof (detail)));
    assert (streq (detail, "FAILED"));
    assert (fake_event (client, "ERROR", detail, sizeof (detail)));
    assert (strstr (detail, "server silent for"));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_FAILED);
    assert (s_send (client, 3, 1) == -1 && errno == ENOTCONN);

    //  Heard again: the latest HELLO read is on the current connection
    for (int count = 0; count < 1000 && zstate_client_state (client) != ZSTATE_CLIENT_CONNECTED;
         count++)
        assert (s_recv (fake, received, WAIT));
    assert (zstate_client_state (client) == ZSTATE_CLIENT_CONNECTED);
    assert (s_send (client, 3, 1) == 0);
    //  What the silence left unacknowledged goes again after the WELCOME
    for (int count = 0; count < 1000 && zhashx_size (received->values) < 4; count++)
        assert (s_recv (fake, received, WAIT));
    s_check_keys (received, 4, 1);
    fake_ack (fake, received->sequence);
    assert (zstate_client_flush (client, WAIT) == 0);
    assert (zstate_client_close (&client, WAIT) == 0);
    s_received_destroy (&received);
    fake_destroy (&fake);
}

void
zstate_client_liveness_suite (bool verbose)
{
    printf (" * zstate_client_liveness_suite: ");
    if (verbose)
        printf ("\n");
    s_test_stalled (verbose);
    s_test_silent (verbose);
    printf ("OK\n");
}
