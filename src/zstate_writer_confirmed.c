/*  =========================================================================
    zstate_writer_confirmed - the writer's CONFIRMED messages: watermarks
    Redis confirmed, sent to a PUSH socket without ever blocking

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Watermarks are cumulative, so a CONFIRMED that meets the high-water
    mark is not lost: its marks stay in the unsent set, which later
    batches raise, and the next try sends the newest values only.
@discuss
    The message is built whole, then sent frame by frame with ZMQ_DONTWAIT:
    libzmq queues a multipart message whole or not at all, so only its
    first frame can meet the high-water mark.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_confirmed.h"

struct _zstate_writer_confirmed_t {
    zsock_t *push;              //  NULL when not connected
    zstate_writer_marks_t *unsent;
    zhashx_t *lost;             //  Databases whose LOST waits
};

zstate_writer_confirmed_t *
zstate_writer_confirmed_new (void)
{
    zstate_writer_confirmed_t *self =
        (zstate_writer_confirmed_t *) zmalloc (sizeof (zstate_writer_confirmed_t));
    assert (self);
    self->unsent = zstate_writer_marks_new ();
    self->lost = zhashx_new ();
    assert (self->unsent && self->lost);
    return self;
}

void
zstate_writer_confirmed_destroy (zstate_writer_confirmed_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_confirmed_t *self = *self_p;
        zsock_destroy (&self->push);
        zstate_writer_marks_destroy (&self->unsent);
        zhashx_destroy (&self->lost);
        free (self);
        *self_p = NULL;
    }
}

int
zstate_writer_confirmed_connect (zstate_writer_confirmed_t *self, const char *endpoint)
{
    assert (self);
    zsock_destroy (&self->push);
    zstate_writer_marks_clear (self->unsent);
    zhashx_purge (self->lost);
    if (!endpoint || !*endpoint)
        return 0;
    if (zstate_sock_reserve ("CONFIRM", 1))
        return -1;
    self->push = zsock_new (ZMQ_PUSH);
    assert (self->push);
    //  Never block on it, and never keep the context from ending for it;
    //  little queueing, as the next message says all the last one did
    zsock_set_sndhwm (self->push, 16);
    zsock_set_sndtimeo (self->push, 0);
    zsock_set_linger (self->push, 0);
    if (zsock_connect (self->push, "%s", endpoint)) {
        zsock_destroy (&self->push);
        return zstate_fail (EINVAL, "CONFIRM: cannot connect to '%s'", endpoint);
    }
    return 0;
}

zstate_writer_marks_t *
zstate_writer_confirmed_unsent (zstate_writer_confirmed_t *self)
{
    assert (self);
    return self->push? self->unsent: NULL;
}

void
zstate_writer_confirmed_lost (zstate_writer_confirmed_t *self, zhashx_t *dbs)
{
    assert (self);
    assert (dbs);
    if (!self->push)
        return;
    for (void *item = zhashx_first (dbs); item; item = zhashx_next (dbs))
        zhashx_insert (self->lost, zhashx_cursor (dbs), (void *) 1);
}

//  Send msg without blocking, destroying it; returns true when queued
static bool
s_send (zstate_writer_confirmed_t *self, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    void *handle = zsock_resolve (self->push);
    size_t left = zmsg_size (msg);
    bool sent = true;
    for (zframe_t *frame = zmsg_first (msg); frame && sent; frame = zmsg_next (msg))
        sent = zmq_send (handle, zframe_data (frame), zframe_size (frame),
                         ZMQ_DONTWAIT | (--left? ZMQ_SNDMORE: 0)) != -1;
    zmsg_destroy (msg_p);
    return sent;
}

int
zstate_writer_confirmed_send (zstate_writer_confirmed_t *self, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (stats);
    if (self->push && zhashx_size (self->lost)) {
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "LOST");
        for (void *item = zhashx_first (self->lost); item; item = zhashx_next (self->lost))
            zmsg_addstr (msg, (const char *) zhashx_cursor (self->lost));
        if (!s_send (self, &msg)) {
            stats->confirms_deferred++;
            return 0;
        }
        zhashx_purge (self->lost);
    }
    if (!self->push || zstate_writer_marks_empty (self->unsent))
        return 0;
    zmsg_t *msg = zmsg_new ();
    assert (msg);
    zmsg_addstr (msg, "CONFIRMED");
    zstate_writer_marks_frames (self->unsent, msg);
    if (!s_send (self, &msg)) {
        stats->confirms_deferred++;
        return 0;
    }
    zstate_writer_marks_clear (self->unsent);
    stats->confirms++;
    return 1;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: as the writer's actor uses the sender; the writer's suite
//  checks what a server receives from a running writer

//  A LOST goes first, one frame per db, merged while it waits; nobody
//  to tell once disconnected
static void
s_test_lost (zstate_writer_confirmed_t *confirmed, zsock_t *sink, const byte *session,
             uint64_t sequence, zstate_writer_stats_t *stats_p)
{
    zstate_writer_stats_t stats = *stats_p;
    zhashx_t *dbs = zhashx_new ();
    zhashx_insert (dbs, "APPL_DB", (void *) 1);
    zstate_writer_confirmed_lost (confirmed, dbs);
    zhashx_insert (dbs, "STATE_DB", (void *) 1);
    zstate_writer_confirmed_lost (confirmed, dbs);
    zstate_writer_marks_note (zstate_writer_confirmed_unsent (confirmed), "DB", "T",
                              session, sequence);
    assert (zstate_writer_confirmed_send (confirmed, &stats) == 1);
    zmsg_t *msg = zmsg_recv (sink);
    assert (msg && zmsg_size (msg) == 3);
    char *type = zmsg_popstr (msg);
    char *first = zmsg_popstr (msg);
    char *second = zmsg_popstr (msg);
    assert (streq (type, "LOST"));
    assert ((streq (first, "APPL_DB") && streq (second, "STATE_DB"))
         || (streq (first, "STATE_DB") && streq (second, "APPL_DB")));
    zstr_free (&type);
    zstr_free (&first);
    zstr_free (&second);
    zmsg_destroy (&msg);
    msg = zmsg_recv (sink);
    assert (msg && zmsg_size (msg) == 4);
    zmsg_destroy (&msg);
    assert (zstate_writer_confirmed_send (confirmed, &stats) == 0);
    assert (zstate_writer_confirmed_connect (confirmed, "") == 0);
    zstate_writer_confirmed_lost (confirmed, dbs);
    assert (zstate_writer_confirmed_send (confirmed, &stats) == 0);
    zhashx_destroy (&dbs);
    *stats_p = stats;
}

void
zstate_writer_confirmed_test (bool verbose)
{
    printf (" * zstate_writer_confirmed: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A sink that does not read makes the sender wait, never block, and
    //  get the newest values once it reads
    zsock_t *sink = zsock_new (ZMQ_PULL);
    assert (sink);
    zsock_set_rcvhwm (sink, 1);
    assert (zsock_bind (sink, "inproc://zstate-confirmed-test") == 0);
    zstate_writer_confirmed_t *confirmed = zstate_writer_confirmed_new ();
    assert (!zstate_writer_confirmed_unsent (confirmed));
    assert (zstate_writer_confirmed_connect (confirmed, "nonsense://x") == -1);
    assert (errno == EINVAL);
    assert (zstate_writer_confirmed_connect (confirmed, "inproc://zstate-confirmed-test") == 0);
    zstate_writer_stats_t stats = { 0 };
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 7 };
    uint64_t sequence = 0;
    while (stats.confirms_deferred == 0 && sequence < 1000) {
        zstate_writer_marks_note (zstate_writer_confirmed_unsent (confirmed), "DB", "T",
                                  session, ++sequence);
        zstate_writer_confirmed_send (confirmed, &stats);
    }
    assert (stats.confirms_deferred == 1 && stats.confirms == sequence - 1);
    assert (!zstate_writer_marks_empty (zstate_writer_confirmed_unsent (confirmed)));
    //  A LOST waits too, and goes first once there is room
    zhashx_t *dbs = zhashx_new ();
    zhashx_insert (dbs, "APPL_DB", (void *) 1);
    zstate_writer_confirmed_lost (confirmed, dbs);
    zhashx_destroy (&dbs);
    assert (zstate_writer_confirmed_send (confirmed, &stats) == 0);
    assert (stats.confirms_deferred == 2);
    //  The sink reads what it holds; then the newest values get through
    uint64_t last = 0;
    zmsg_t *msg;
    zsock_set_rcvtimeo (sink, 0);
    while ((msg = zmsg_recv (sink))) {
        assert (zmsg_size (msg) == 4);
        last = zstate_get_u64 (zframe_data (zmsg_last (msg)) + ZSTATE_MSG_SESSION_SIZE);
        zmsg_destroy (&msg);
    }
    assert (last < sequence);
    //  libzmq tells the sender about the room a little later: retry, as
    //  the writer's timer does, with a deadline
    int64_t deadline = zclock_mono () + 10000;
    while (zstate_writer_confirmed_send (confirmed, &stats) == 0 && zclock_mono () < deadline)
        zclock_sleep (5);
    assert (zstate_writer_marks_empty (zstate_writer_confirmed_unsent (confirmed)));
    zsock_set_rcvtimeo (sink, 10000);
    msg = zmsg_recv (sink);
    assert (msg && zmsg_size (msg) == 2);
    char *type = zmsg_popstr (msg);
    assert (streq (type, "LOST"));
    zstr_free (&type);
    zmsg_destroy (&msg);
    msg = zmsg_recv (sink);
    assert (msg && zmsg_size (msg) == 4);
    last = zstate_get_u64 (zframe_data (zmsg_last (msg)) + ZSTATE_MSG_SESSION_SIZE);
    zmsg_destroy (&msg);
    assert (last == sequence);
    //  Nothing to send: nothing sent
    assert (zstate_writer_confirmed_send (confirmed, &stats) == 0);
    s_test_lost (confirmed, sink, session, ++sequence, &stats);
    assert (!zstate_writer_confirmed_unsent (confirmed));
    //  @end

    zstate_writer_confirmed_destroy (&confirmed);
    zsock_destroy (&sink);
    printf ("OK\n");
}
#endif
