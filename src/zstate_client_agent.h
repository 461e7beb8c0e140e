/*  =========================================================================
    zstate_client_agent - private header: what the client wrapper
    (zstate_client.c) and its agent (zstate_client_agent.c) share

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CLIENT_AGENT_H_INCLUDED
#define ZSTATE_CLIENT_AGENT_H_INCLUDED

#include "zstate_outbox.h"
#include "zstate_session_msg.h"

//  A sender sends itself only when no send started on the fast path, and
//  the agent did not finish sending, in the last FAST_IDLE_USECS. A thread
//  sending flat out comes back sooner than this and queues, so batching is
//  not lost under load, while sends paced 10 usecs apart or more (100,000
//  ops/s from one thread) still go straight out. Measured from the start
//  of a send, not its end: on a busy machine the sender is often
//  preempted just after its send, and would then look like a tight loop.
#define FAST_IDLE_USECS         5

//  ZMQ_BINDTODEVICE takes an interface name shorter than this (IFNAMSIZ)
#define INTERFACE_MAX           16

//  One wire message: built by senders while queued, then sent by the agent
typedef struct _buffer_t buffer_t;
struct _buffer_t {
    buffer_t *next;             //  Next message, in sending order
    byte *data;                 //  Header, then encoded operations
    size_t size;                //  Bytes used in data
    size_t max;                 //  Bytes allocated for data
    size_t header_size;         //  Bytes of header at the start of data
    size_t ops;                 //  Operations in the message
    uint64_t sequence;          //  Sequence number patched in, once ready
    zmq_msg_t msg;              //  The message handed to libzmq, once ready
    bool ready;                 //  msg holds data (libzmq frees it)
};

//  What the sending threads and the agent share. Two locks:
//
//  lock guards the queue, counters, bounds, state and the agent's busy
//  flag. Held only for short sections, never across a zmq call.
//
//  socket_lock guards every use of the DEALER (send, setsockopt, monitor,
//  connect, close) and the sequence number, so that the mutex supplies the
//  full memory barrier zmq(7) asks for when a socket changes threads. The
//  agent holds it for a send pass; a sender holds it for one message.
//
//  Lock order: lock, then socket_lock, and a sender takes socket_lock
//  under lock only with trylock. Nobody takes lock while holding
//  socket_lock: the agent lets go of the socket before it publishes
//  counters, and a sender before it commits. So no thread ever waits on
//  lock while it holds the socket, and a sender never waits for the socket.

struct _zstate_client_t {
    zstate_actor_t *actor;      //  The agent
    zsock_t *events;            //  Our end of the events pipe
    zsock_t *events_backend;    //  The agent's end, until the agent takes it
    pthread_mutex_t lock;       //  Guards every field below socket_lock's
    pthread_cond_t progress;    //  Signalled when operations reach the socket
    int wakefd;                 //  eventfd the agent polls
    bool woken;                 //  wakefd written since the agent took the queue
    bool agent_busy;            //  The agent holds messages not yet sent
    int64_t last_busy;          //  Last fast send or agent pass, usecs
    buffer_t *queue_head;       //  Messages not yet taken by the agent
    buffer_t *queue_tail;       //  Last of those: new operations go there
    char tail_db [ZSTATE_NAME_MAX + 1];     //  db of queue_tail
    char tail_table [ZSTATE_NAME_MAX + 1];  //  table of queue_tail
    byte session [ZSTATE_MSG_SESSION_SIZE]; //  Session id, in every header
    char session_text [ZSTATE_MSG_SESSION_SIZE * 2 + 1];   //  Same, in hex
    size_t queue_ops_max;       //  Queue bound, operations
    size_t queue_bytes_max;     //  Queue bound, bytes
    size_t batch_ops_max;       //  Operations in one wire message, at most
    size_t batch_bytes_max;     //  Bytes in one wire message, at most
    int retry_ivl;              //  First retry after a full socket, msecs
    int retry_max_ivl;          //  Longest retry interval, msecs
    int retry_timeout;          //  No progress this long means FAILED, msecs
    int link_timeout;           //  Link down this long means FAILED, 0 never
    int linger;                 //  Destroy's flush time and ZMQ_LINGER, msecs
    int sndhwm;                 //  ZMQ_SNDHWM
    int keepalive_idle;         //  ZMQ_TCP_KEEPALIVE_IDLE, 0 = keepalive off
    int keepalive_interval;     //  ZMQ_TCP_KEEPALIVE_INTVL
    int keepalive_count;        //  ZMQ_TCP_KEEPALIVE_CNT
    int reconnect_ivl;          //  ZMQ_RECONNECT_IVL
    int reconnect_max_ivl;      //  ZMQ_RECONNECT_IVL_MAX
    char interface [INTERFACE_MAX];     //  ZMQ_BINDTODEVICE, "" for none
    int version;                //  Protocol version, 1 or 2
    int heartbeat;              //  Heartbeat interval, msecs
    size_t held_ops;            //  Version 2: accepted and not acknowledged
    size_t held_bytes;          //  ... their bytes
    bool session_ready;         //  Senders may send: version 1, or WELCOMEd
                                //  and everything held sent again
    bool started;               //  Connected: socket options are fixed
    bool agent_ended;           //  The agent has ended: nothing moves any more
    char failure [256];         //  Why the state is FAILED
    zstate_client_stats_t stats;    //  Counters and state
    uint64_t wakes;             //  eventfd writes by senders (selftest)
    uint64_t fast_messages;     //  Messages senders sent themselves (selftest)

    pthread_mutex_t socket_lock;    //  Guards the three fields below
    zsock_t *dealer;            //  To the server; created and closed by the agent
    uint64_t sequence;          //  Sequence number of the last message sent
    zstate_outbox_t *outbox;    //  Version 2: sent and not acknowledged
};

//  Hand frame, one OPS message numbered client->sequence + 1, to the
//  DEALER without waiting, and with version 2 keep it in the outbox.
//  Called holding socket_lock. Returns 0, or -1 with zmq_errno () when
//  the socket did not take it (the caller still owns frame).
int
    zstate_client_send_frame (zstate_client_t *client, zmq_msg_t *frame,
                              size_t ops, size_t bytes);

//  The agent's actor function; args is the client
void
    zstate_client_agent (zsock_t *pipe, void *args);

//  Free a list of message buffers, ready or not; nulls the pointer
void
    zstate_client_buffers_destroy (buffer_t **head_p);

#endif
