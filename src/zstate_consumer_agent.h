/*  =========================================================================
    zstate_consumer_agent - private header: what the consumer table's
    wrapper (zstate_consumer.c) and its agent (zstate_consumer_agent.c)
    share: the object, with the queue between the server and the
    application

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_CONSUMER_AGENT_H_INCLUDED
#define ZSTATE_CONSUMER_AGENT_H_INCLUDED

#include <unistd.h>

//  One received wire message, waiting in the queue for pops
typedef struct _zstate_consumer_entry_t zstate_consumer_entry_t;
struct _zstate_consumer_entry_t {
    zmq_msg_t msg;              //  the message as it arrived
    size_t offset;              //  byte offset of the next operation
    size_t end;                 //  byte offset just past the last operation
    size_t ops_left;            //  operations not popped yet
    zstate_consumer_entry_t *next;  //  next message, in arrival order
};

//  Three threads touch a consumer: the application's (the wrapper, pops),
//  the server's (zstate_consumer_deliver) and the consumer actor's
//  (commands). What more than one of them touches is under mutex, the
//  token socket's server end included: libzmq lets a socket move between
//  threads across a full memory barrier, and the mutex is one.
//
//  ready_fd and the token are up exactly while stats.queued_ops > 0, which
//  counts what pops has taken but not popped yet as well: deliver raises
//  both when queued_ops leaves 0, pops lowers both when it comes back to 0,
//  each under the mutex.
struct _zstate_consumer_t {
    zactor_t *actor;            //  handles FORWARD and VERBOSE
    zstate_server_link_t *link; //  the server we register with
    char *db;                   //  the (db, table) we serve
    char *table;
    char name [64];             //  unique, so only we can unregister
    bool registered;            //  the server delivers to us
    zsock_t *token;             //  app end of the wake pipe
    int ready_fd;               //  eventfd, readable while ops are pending
    int room_fd;                //  eventfd, the server polls it while it
                                //  holds a message deliver refused
    zstate_msg_t *decoder;      //  deliver's, so on the server's thread
    zstate_consumer_entry_t *taken; //  pops's, so on the app's thread: what
                                //  it took from the queue, oldest first
    //  Under mutex
    pthread_mutex_t mutex;
    zsock_t *token_backend;     //  the server's end of the wake pipe
    zstate_consumer_entry_t *head;  //  oldest message; pops takes from here
    zstate_consumer_entry_t *tail;  //  newest message; deliver appends here
    size_t max_ops;             //  queue bounds
    size_t max_bytes;
    bool server_waits;          //  deliver refused a message: write room_fd
                                //  once the queue is down to half
    zstate_consumer_stats_t stats;  //  counters, queued_ops and _bytes too
    zstate_writer_t *writer;    //  where we forward, for the server's monitor
    bool verbose;               //  log activity
};

//  True when the queue is at its bound: deliver refuses messages
static inline bool
zstate_consumer_queue_full (zstate_consumer_t *self)
{
    return self->stats.queued_ops >= self->max_ops
        || self->stats.queued_bytes >= self->max_bytes;
}

//  True when a waiting server may deliver again. Half the bound, so that a
//  full queue does not toggle the server on every pops.
static inline bool
zstate_consumer_queue_has_room (zstate_consumer_t *self)
{
    return self->stats.queued_ops <= self->max_ops / 2
        && self->stats.queued_bytes <= self->max_bytes / 2;
}

//  Write an eventfd; it stays readable until it is read
static inline void
zstate_consumer_eventfd_set (int fd)
{
    uint64_t one = 1;
    if (write (fd, &one, sizeof (one)) != sizeof (one))
        zsys_error ("zstate_consumer: cannot write eventfd: %s", strerror (errno));
}

//  Read an eventfd back to not readable; it is non-blocking
static inline void
zstate_consumer_eventfd_clear (int fd)
{
    uint64_t count;
    if (read (fd, &count, sizeof (count)) == -1 && errno != EAGAIN)
        zsys_error ("zstate_consumer: cannot read eventfd: %s", strerror (errno));
}

//  The consumer actor; args is the zstate_consumer_t
void
    zstate_consumer_agent (zsock_t *pipe, void *args);

#endif
