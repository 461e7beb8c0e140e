/*  =========================================================================
    zstate_client_rig - what the client's selftest suites share: a client
    of protocol version 1 and a raw ROUTER server that checks every message

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CLIENT_RIG_H_INCLUDED
#define ZSTATE_CLIENT_RIG_H_INCLUDED

//  A raw server: a ROUTER socket and what it checks on every message
typedef struct {
    zsock_t *router;            //  Bound ROUTER
    char *endpoint;             //  Where it is bound
    zstate_msg_t *decoder;      //  Decodes every message
    zstate_batch_t *batch;      //  Operations of the last message
    byte session [ZSTATE_MSG_SESSION_SIZE];     //  The client's session id
    uint64_t sequence;          //  Sequence number of the last message
    size_t messages;            //  Messages received
    size_t ops;                 //  Operations received
    size_t strays;              //  Messages of other peers, dropped
} test_server_t;

//  A client of protocol version 1, the only one the raw server speaks; raw
//  servers take messages of the clients made here only
zstate_client_t *
    client_test_v1 (void);

//  Bind a ROUTER at endpoint, or at tcp://127.0.0.1:* when NULL. A slow
//  server buffers as little as it can, so it pushes back when it does not
//  read.
test_server_t *
    client_test_server_new (const char *endpoint, bool slow);

//  Close the server's socket and free it; nulls the pointer.
void
    client_test_server_destroy (test_server_t **self_p);

//  Receive one message of a client client_test_v1 made into self->batch,
//  checking the session and the sequence; messages of other peers are
//  counted in self->strays and dropped. Returns false when nothing came
//  in timeout.
bool
    client_test_server_recv (test_server_t *self, int timeout);

//  Wait for the event type (with detail, when not NULL), skipping others.
//  Returns false when it did not come in timeout.
bool
    client_test_event (zstate_client_t *client, const char *type,
                       const char *detail, int timeout);

//  A TCP port nobody listens on (bound, read back and closed again), below
//  49152 so that CZMQ's tcp://...:* binds, which count up from there, do
//  not take it meanwhile
int
    client_test_free_port (void);

//  One op SET "t<sender>-<counter>" { v = "<sender>:<counter>" }
void
    client_test_op (zstate_batch_t *batch, int sender, size_t counter);

//  Check an op made by client_test_op; return its sender, store its counter
int
    client_test_op_check (zstate_batch_t *batch, size_t index, size_t *counter_p);

//  Send count single-op batches numbered from first for sender; stop at
//  the first failure. Returns how many were accepted.
size_t
    client_test_send (zstate_client_t *client, int sender, size_t first,
                      size_t count);

//  Receive until expected ops of sender arrived in order from first.
void
    client_test_expect (test_server_t *server, int sender, size_t first,
                        size_t expected);

//  The link and bounds suite (zstate_client_queue_suite.c); directory
//  holds its ipc endpoints
void
    zstate_client_queue_suite (bool verbose, const char *directory);

#endif
