/*  =========================================================================
    zstate_inbox - private class: a consumer table's locked hand-off from
    the server's thread (whole messages in) to the application's (pops)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_INBOX_H_INCLUDED
#define ZSTATE_INBOX_H_INCLUDED

//  Two threads use an inbox: the producer thread (the server's) calls
//  deliver and polls room_fd; the consumer thread (the application's)
//  calls everything else. The other methods (pending, stats, set_bounds,
//  set_verbose) are safe from either.
//
//  The wake-ups, the fd and the socket, are readable exactly while
//  operations are pending: deliver raises both when pending leaves 0, pops
//  lowers both when it comes back to 0. The application polls them and
//  never reads them.
//
//  Pending counts operations, window markers (SNAPSHOT-BEGIN and -END as
//  the server delivers them) and the DELs of a sweep not popped yet. pops
//  consumes the markers on the thread that pops, through the inbox's key
//  set (zstate_keyset.h): a batch never holds operations from both sides
//  of a marker, and a sweep's DELs go out alone, before anything after
//  their END. So pops returns 0 only when nothing is pending any more.
typedef struct _zstate_inbox_t zstate_inbox_t;

//  Create an empty inbox; name (db/table) is for log lines. Returns NULL
//  with errno and zstate_reason () when the eventfds cannot be made.
zstate_inbox_t *
    zstate_inbox_new (const char *name);

//  Destroy the inbox and what it still holds; nulls the pointer. The
//  producer thread must have stopped calling deliver.
void
    zstate_inbox_destroy (zstate_inbox_t **self_p);

//  Producer thread: append msg, a whole wire message that was validated
//  (OPS of version 1, or a window marker of version 2), and wake the
//  consumer if nothing was pending; forwarded counts a copy
//  sent to the writer. Returns 0, having taken msg's content (a message
//  whose envelope does not decode is logged, dropped and counted). Returns
//  -1 when the inbox is at its bound, leaving msg as it was; room_fd then
//  turns readable once pops has brought the inbox down to half its bound.
int
    zstate_inbox_deliver (zstate_inbox_t *self, zmq_msg_t *msg, bool forwarded);

//  Producer thread: the eventfd to poll after deliver refused a message.
//  Never read it: deliver clears it when it refuses.
int
    zstate_inbox_room_fd (zstate_inbox_t *self);

//  Consumer thread: move up to max pending operations (0 means 128) into
//  batch, which is reset first, in arrival order. Never blocks on the
//  producer for longer than a list swap, and never fails on a signal.
size_t
    zstate_inbox_pops (zstate_inbox_t *self, zstate_batch_t *batch, size_t max);

//  Operations, markers and sweep DELs waiting for pops.
size_t
    zstate_inbox_pending (zstate_inbox_t *self);

//  Consumer thread: turn the sweep on (the default) or off, as
//  zstate_keyset_set_sweep: -1 with errno EBUSY when it cannot come back.
int
    zstate_inbox_set_sweep (zstate_inbox_t *self, bool sweep);

//  Consumer thread: true when the operations the last pops returned
//  belong to a window: its entries, the live operations inside it, or
//  its sweep's DELs.
bool
    zstate_inbox_resyncing (zstate_inbox_t *self);

//  Consumer thread: an eventfd readable while operations are pending.
int
    zstate_inbox_fd (zstate_inbox_t *self);

//  Consumer thread: a socket readable while operations are pending, made
//  on the first call (an inbox polled by its fd costs no socket). Returns
//  NULL with errno EMFILE and zstate_reason () when the process is at its
//  socket limit (zsys_set_max_sockets).
zsock_t *
    zstate_inbox_socket (zstate_inbox_t *self);

//  Bound the inbox to ops operations and bytes bytes; a message is always
//  taken whole, so the inbox may pass the bound by one message. Returns 0,
//  or -1 with errno EINVAL when either bound is 0 (no message could ever
//  be taken).
int
    zstate_inbox_set_bounds (zstate_inbox_t *self, size_t ops, size_t bytes);

//  The bounds in effect: operations into *ops_p, bytes into *bytes_p.
void
    zstate_inbox_bounds (zstate_inbox_t *self, size_t *ops_p, size_t *bytes_p);

//  Fill *stats with the counters.
void
    zstate_inbox_stats (zstate_inbox_t *self, zstate_consumer_stats_t *stats);

//  Log refusals with zsys_debug.
void
    zstate_inbox_set_verbose (zstate_inbox_t *self, bool verbose);

//  Self test of this class.
void
    zstate_inbox_test (bool verbose);

#ifdef ZSTATE_SELFTEST
//  Selftest helpers, shared with selftest/zstate_inbox_test.c and the
//  consumer's suites. A wire message of ops HSETs keyed "prefix-first"
//  upwards, as a server would deliver it.
void
    zstate_inbox_test_msg (zmq_msg_t *msg, const char *prefix, size_t first, size_t ops);

//  A window marker (SNAPSHOT-BEGIN or -END, type) of session for table
//  of APPL_DB, as the server hands it on; an END of status for begin
void
    zstate_inbox_test_marker (zmq_msg_t *msg, const char *table, int type,
                              const byte *session, uint64_t sequence, uint64_t begin,
                              int status);

//  True when fd / sock is readable within timeout msecs; signals do not count
bool
    zstate_inbox_test_fd_readable (int fd, int timeout);
bool
    zstate_inbox_test_sock_readable (zsock_t *sock, int timeout);

//  True when operation index of batch is keyed "prefix-number"
bool
    zstate_inbox_test_key_is (zstate_batch_t *batch, size_t index, const char *prefix,
                              size_t number);
#endif

#endif
