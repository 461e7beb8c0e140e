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
#include "zstate_mirror.h"
#include "zstate_client_tables.h"
#include "zstate_client_liveness.h"

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

//  A window (doc/protocol.md, 15): the sequence its BEGIN went with, once
//  sent, for its END. Shared by its two markers and, while it is open,
//  its table; freed with the last of them (refs, atomic: markers are
//  freed by the agent, tables by producers).
typedef struct {
    int refs;
    uint64_t begin;             //  Sequence of the BEGIN, 0 until sent
} window_t;

//  A window marker in the queue: encoded only when it is sent, since its
//  sequence (and an END's begin) are known only then
typedef struct {
    int type;                   //  ZSTATE_SESSION_MSG_SNAPSHOT_BEGIN or _END
    int kind;                   //  BEGIN: ZSTATE_SESSION_SNAPSHOT or _VIEW
    int status;                 //  END: ZSTATE_SESSION_END_*
    uint64_t count;             //  END: entries the window sent
    window_t *window;           //  One reference
    char db [ZSTATE_NAME_MAX + 1];
    char table [ZSTATE_NAME_MAX + 1];
} marker_t;

//  A producer table as its client knows it (zstate_client_tables.h),
//  guarded by the client lock
struct _zstate_client_table_t {
    zstate_client_table_t *next;    //  In the client's list
    zstate_client_table_t *prev;
    char db [ZSTATE_NAME_MAX + 1];
    char table [ZSTATE_NAME_MAX + 1];
    zstate_mirror_t *mirror;    //  Or NULL
    bool established;           //  The mirror has sent, or ended a view
    window_t *view;             //  The open view, or NULL
    uint64_t view_count;        //  Operations sent in it
    window_t *snapshot;         //  The running snapshot, or NULL
    uint64_t snapshot_count;    //  Entries it queued
    bool resync_due;            //  A RESYNC waits for the view or snapshot
};

//  One wire message: built by senders while queued, then sent by the agent
typedef struct _buffer_t buffer_t;
struct _buffer_t {
    buffer_t *next;             //  Next message, in sending order
    byte *data;                 //  Header, then encoded operations
    size_t size;                //  Bytes used in data
    size_t max;                 //  Bytes allocated for data
    size_t header_size;         //  Bytes of header at the start of data
    size_t ops;                 //  Operations in the message
    size_t extra;               //  Operations accepted that it stands for
                                //  beyond those (folded into them)
    uint64_t sequence;          //  Sequence number patched in, once ready
    zmq_msg_t msg;              //  The message handed to libzmq, once ready
    bool ready;                 //  msg holds data (libzmq frees it)
    marker_t *marker;           //  A window marker, not OPS: no operations
};

//  A buffer that grows no more keeps only its bytes: queued, then held
//  until acknowledged, one small operation in its room (single ops round
//  robin over tables) would cost that room per message
static inline void
zstate_client_buffer_trim (buffer_t *self)
{
    if (self && self->max - self->size >= 256) {
        byte *data = (byte *) realloc (self->data, self->size);
        if (data) {
            self->data = data;
            self->max = self->size;
        }
    }
}

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

#ifdef ZSTATE_SELFTEST
//  Selftest only: a hook the client calls at two points, so that a test
//  can hold a thread exactly there.
//  FAST_SEND: a sender on the fast path, holding socket_lock (not lock),
//  its operations accepted and counted, about to hand its message to the
//  DEALER; a non-zero return makes the socket refuse it, as a full one
//  would. FLUSH_WAIT: flush, holding lock, has counted what it waits for
//  and is about to wait.
#define ZSTATE_CLIENT_HOOK_FAST_SEND    1
#define ZSTATE_CLIENT_HOOK_FLUSH_WAIT   2
typedef int (zstate_client_hook_fn) (zstate_client_t *client, int point, void *arg);

//  Set the hook (NULL: none), before any send or flush
void
    zstate_client_set_hook (zstate_client_t *self, zstate_client_hook_fn *hook,
                            void *arg);
#endif

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
    int retry_timeout;          //  Version 1: nothing sent this long means
                                //  FAILED; version 2: nothing heard, msecs
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
    int ack_level;              //  ZSTATE_ACK_* HELLO asks for
    bool resync_refused;        //  HELLO does not offer RESYNC
    char curve_public [41];     //  CURVE: our public key, Z85; "" is NULL
    char curve_secret [41];     //  ... our secret key
    char curve_server [41];     //  ... the server's public key
    size_t held_ops;            //  Version 2: accepted and not acknowledged
    size_t held_bytes;          //  ... their bytes (the outbox's coalesced
                                //  block counts its keys and bytes)
    size_t outbox_delivered;    //  Operations held, delivered, not acknowledged
    size_t unsent_keys;         //  Keys in the outbox's unsent backlog: the
                                //  queue folded, to be sent before the queue
    bool queue_fold_pays;       //  The queue's last fold found keys repeating
    zstate_client_table_t *tables;  //  Producer tables, newest first
    size_t snapshots_running;   //  Tables whose snapshot is not all queued:
                                //  no fast path meanwhile
    bool resending;             //  The agent sends held messages again: the
                                //  outbox may not fold what it has yet to send
    bool session_ready;         //  Senders may send: version 1, or WELCOMEd
                                //  and everything held sent again
    bool started;               //  Connected: socket options are fixed
    bool agent_ended;           //  The agent has ended: nothing moves any more
    char failure [256];         //  Why the state is FAILED
    zstate_client_stats_t stats;    //  Counters and state
    uint64_t wakes;             //  eventfd writes by senders (selftest)
    uint64_t fast_messages;     //  Messages senders sent themselves (selftest)
#ifdef ZSTATE_SELFTEST
    zstate_client_hook_fn *hook;    //  Called at the points below, or NULL
    void *hook_arg;             //  Its argument
#endif

    pthread_mutex_t socket_lock;    //  Guards the three fields below
    zsock_t *dealer;            //  To the server; created and closed by the agent
    uint64_t sequence;          //  Sequence number of the last message sent
    zstate_outbox_t *outbox;    //  Version 2: sent and not acknowledged
};

//  Hand frame, one OPS message numbered client->sequence + 1, to the
//  DEALER without waiting, and with version 2 keep it in the outbox: ops
//  operations, standing for extra more accepted (folded), of bytes payload.
//  Called holding socket_lock. Returns 0, or -1 with zmq_errno () when
//  the socket did not take it (the caller still owns frame).
int
    zstate_client_send_frame (zstate_client_t *client, zmq_msg_t *frame,
                              size_t ops, size_t extra, size_t bytes);

//  Fold what the outbox holds into its coalesced block, and what the
//  locked client queued into the outbox's unsent backlog when keys repeat
//  there, or whether they do or not when full (a send found a bound
//  hit); updates the bounds and counters. Returns the messages folded.
size_t
    zstate_client_coalesce (zstate_client_t *client, bool full);

//  The outbox's held operations, bytes and keys, under socket_lock
void
    zstate_client_outbox_measure (zstate_client_t *client, size_t held [3]);

//  In the locked client: the outbox went from before to after (measured)
void
    zstate_client_outbox_changed (zstate_client_t *client, const size_t before [3],
                                  const size_t after [3]);

//  The agent's actor function; args is the client
void
    zstate_client_agent (zsock_t *pipe, void *args);

//  Queue ops operations of bytes at data for (db, table) into the locked
//  client, filling its tail message (zstate_client.c)
void
    zstate_client_queue_ops (zstate_client_t *client, const char *db, const char *table,
                             const byte *data, size_t bytes, size_t ops);

//  zstate_client_tables.c, for the wrapper and the agent

//  Queue a marker of window for (db, table) in the locked client
void
    zstate_client_queue_marker (zstate_client_t *client, zstate_client_table_t *table,
                                int type, int kind_or_status, uint64_t count,
                                window_t *window);

//  Drop one reference to the window; nulls the pointer
void
    zstate_client_window_release (window_t **window_p);

//  Free a marker; nulls the pointer
void
    zstate_client_marker_destroy (marker_t **marker_p);

//  Encode marker as the message numbered sequence into *frame
void
    zstate_client_marker_encode (zstate_client_t *client, marker_t *marker,
                                 uint64_t sequence, zmq_msg_t *frame);

//  RESYNC for (db, table), or every table when both are empty, in the
//  locked client: start the snapshots it asks for. Returns how many started.
size_t
    zstate_client_tables_resync (zstate_client_t *client, const char *db,
                                 const char *table);

//  Queue the next chunk of one running snapshot in the locked client,
//  or its END when it is all queued, while what is held leaves room
//  (half of the bounds). Returns false when nothing was queued.
bool
    zstate_client_snapshot_chunk (zstate_client_t *client);

//  In the locked client, before the bounds: may table take batch? With
//  a mirror, not when it would hold a new key past its bound: -1 with
//  ENOBUFS, counted. Returns 0 or -1.
int
    zstate_client_table_admit (zstate_client_t *client, zstate_client_table_t *table,
                               zstate_batch_t *batch);

//  In the locked client: table's batch was accepted (again: a fast send
//  failed and queued it behind what others queued meanwhile, so the
//  mirror applies it again, in the order it goes)
void
    zstate_client_table_accepted (zstate_client_t *client, zstate_client_table_t *table,
                                  zstate_batch_t *batch, bool again);

//  Keys the mirrors of the locked client hold
size_t
    zstate_client_mirror_keys (zstate_client_t *client);

//  Free a list of message buffers, ready or not; nulls the pointer
void
    zstate_client_buffers_destroy (buffer_t **head_p);

//  --------------------------------------------------------------------------
//  The agent's own state, shared by its three files: zstate_client_agent.c
//  (the send queue, commands), zstate_client_link.c (the DEALER and the
//  link) and zstate_client_session.c (the version 2 session). Only the
//  agent's thread touches it.

typedef struct {
    zstate_client_t *client;    //  Shared state, owned by the wrapper
    zsock_t *pipe;              //  Actor command pipe
    zsock_t *events;            //  Events pipe, our end
    zloop_t *loop;              //  Reactor
    zsock_t *monitor;           //  Link events from the DEALER, or NULL
    char *endpoint;             //  Connected to, or NULL
    char *monitor_endpoint;     //  Where the DEALER's monitor publishes
    unsigned int monitors;      //  Monitors started, to name each one
    uint64_t handshakes_failed; //  Handshakes the server refused
    char log_prefix [64];       //  "zstate_client <session>:"
    buffer_t *outbox_head;      //  Messages taken, not yet accepted by zmq
    buffer_t *outbox_tail;      //  Last of those
    bool busy;                  //  What we last published as agent_busy
    int retry_timer;            //  One-shot retry timer, or -1
    int backoff;                //  Current retry interval, msecs
    int64_t stalled_since;      //  Last progress while the outbox is not empty
    int link_timer;             //  One-shot link timer, or -1
    bool link_up;               //  Monitor says connected (or inproc)
    bool link_ever_up;          //  It was connected once
    bool link_failed;           //  Link down past link timeout
    bool retry_failed;          //  Version 1: nothing sent past retry timeout
    bool silent_failed;         //  Version 2: server silent past retry timeout
                                //  while operations wait for its ACK
    zstate_client_liveness_t *liveness;     //  Version 2: decides silent_failed
    bool send_error_logged;     //  An unexpected send error was logged
    int state;                  //  Last state we published
    size_t pending_ops;         //  Sent since the last commit: operations
    size_t pending_bytes;       //  ... their bytes
    size_t pending_accepted;    //  ... operations accepted they stand for
    size_t pending_messages;    //  ... messages
    size_t pending_wire_bytes;  //  ... wire bytes
    size_t pending_dropped;     //  Windows dropped since the last commit
    bool verbose;               //  Log activity
    //  Version 2 session
    int session;                //  SESSION_*
    byte epoch [ZSTATE_SESSION_EPOCH_SIZE];     //  Of our WELCOME, or zeros
    bool welcomed;              //  epoch holds a server's epoch
    uint64_t resend_next;       //  Next held sequence to send again
    uint64_t resend_to;         //  ... and the last: a REPLAY's to, or all
    uint64_t resend_left;       //  ... and how many more at most, or all
    int peer_heartbeat;         //  The server's interval, from WELCOME
    int64_t last_heard;         //  When anything last came from the server
    int64_t hello_due;          //  HELLO again then, while not WELCOMEd
    int hello_wait;             //  Current wait for a WELCOME, msecs
    int hellos_unanswered;      //  HELLOs in a row that got no WELCOME
    int tick_timer;             //  Heartbeat timer, or -1
    uint64_t nonce;             //  Of our last PING
    bool dropped;               //  The link went down since our last HELLO
    int dealer_fd;              //  ZMQ_FD of the DEALER we poll, or -1
    int heartbeat;              //  Our interval, msecs
    int ack_level;              //  The level we ask for, ZSTATE_ACK_*
    uint32_t features;          //  The features HELLO offers
    int granted;                //  The level our WELCOME granted, or 0
    bool resync;                //  Our WELCOME granted the RESYNC feature
    bool replay;                //  ... and REPLAY: we keep what P does not cover
    zlistx_t *open_windows;     //  window_t whose BEGIN went, not their END
    zlistx_t *replay_chunks;    //  zmq_msg_t * of a REPLAY's block, to send
    uint64_t replay_nonce;      //  of the REPLAY being answered
    bool replay_pong;           //  its PONG goes once its messages went
} self_t;

//  Version 2 session states (doc/protocol.md, section 15)
#define SESSION_NONE            0   //  Version 1, or not connected yet
#define SESSION_HELLO           1   //  HELLO sent, waiting for WELCOME
#define SESSION_RESEND          2   //  WELCOMEd, sending held messages again
#define SESSION_STREAMING       3   //  Sending new messages

//  The longest wait for a WELCOME before HELLO goes again, msecs
#define HELLO_WAIT_MAX          30000

//  Frames read from the DEALER under one hold of socket_lock
#define RECV_BATCH              64

//  zstate_client_agent.c and zstate_client_link.c, for the other parts

//  Send an event [type][endpoint][detail], never waiting
void
    zstate_client_agent_event (self_t *self, const char *type, const char *detail);

//  Publish the state the link flags give, when it changed
void
    zstate_client_agent_update_state (self_t *self, const char *reason);

//  Send what the outbox and the client's queue hold, as far as the
//  session and the socket allow
void
    zstate_client_agent_pump (self_t *self);

//  The link is up (monitor event, or inproc connected)
void
    zstate_client_agent_link_up (self_t *self);

//  Start the link timer unless it runs or the timeout is off
void
    zstate_client_agent_start_link_timer (self_t *self);

//  Set up the DEALER for endpoint: options, monitor, connect, and with
//  version 2 a poller on its fd. Returns 0, or -1 with errno and reason.
int
    zstate_client_agent_open (self_t *self, const char *endpoint, char *reason,
                              size_t reason_size);

//  Close the DEALER at once and put a fresh one in its place
void
    zstate_client_agent_replace_dealer (self_t *self);

//  Version 2: something came from the server; a client FAILED for its
//  silence is no longer
void
    zstate_client_agent_heard (self_t *self);

//  Version 2: FAILED when the server has been silent past the retry
//  timeout at now while operations wait for its acknowledgement
void
    zstate_client_agent_check_silence (self_t *self, int64_t now);

//  zstate_client_session.c, for the agent

//  Open or resume the session: hold new messages back and send HELLO
void
    zstate_client_session_hello (self_t *self, const char *why);

//  Say whether senders may send themselves (the fast path)
void
    zstate_client_session_set_ready (self_t *self, bool ready);

//  zlistx destructor of a REPLAY's chunk, a zmq_msg_t *
void
    zstate_client_session_chunk_free (void **item_p);

//  Send held messages again from resend_next, until the socket pushes
//  back; then STREAMING. Returns true if at least one went.
bool
    zstate_client_session_resend (self_t *self);

//  Read and handle everything the server sent (bounded)
void
    zstate_client_session_drain (self_t *self);

//  zloop handlers: the DEALER's fd, and the heartbeat timer
int
    zstate_client_session_handle_dealer (zloop_t *loop, zmq_pollitem_t *item, void *arg);
int
    zstate_client_session_handle_tick (zloop_t *loop, int timer_id, void *arg);

#endif
