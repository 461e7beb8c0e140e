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
};

zstate_writer_confirmed_t *
zstate_writer_confirmed_new (void)
{
    zstate_writer_confirmed_t *self =
        (zstate_writer_confirmed_t *) zmalloc (sizeof (zstate_writer_confirmed_t));
    assert (self);
    self->unsent = zstate_writer_marks_new ();
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

int
zstate_writer_confirmed_send (zstate_writer_confirmed_t *self, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (stats);
    if (!self->push || zstate_writer_marks_empty (self->unsent))
        return 0;
    zmsg_t *msg = zmsg_new ();
    assert (msg);
    zmsg_addstr (msg, "CONFIRMED");
    zstate_writer_marks_frames (self->unsent, msg);
    void *handle = zsock_resolve (self->push);
    size_t left = zmsg_size (msg);
    bool sent = true;
    for (zframe_t *frame = zmsg_first (msg); frame && sent; frame = zmsg_next (msg))
        sent = zmq_send (handle, zframe_data (frame), zframe_size (frame),
                         ZMQ_DONTWAIT | (--left? ZMQ_SNDMORE: 0)) != -1;
    zmsg_destroy (&msg);
    if (!sent) {
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
    assert (msg && zmsg_size (msg) == 4);
    last = zstate_get_u64 (zframe_data (zmsg_last (msg)) + ZSTATE_MSG_SESSION_SIZE);
    zmsg_destroy (&msg);
    assert (last == sequence);
    //  Nothing to send: nothing sent
    assert (zstate_writer_confirmed_send (confirmed, &stats) == 0);
    assert (zstate_writer_confirmed_connect (confirmed, "") == 0);
    assert (!zstate_writer_confirmed_unsent (confirmed));
    //  @end

    zstate_writer_confirmed_destroy (&confirmed);
    zsock_destroy (&sink);
    printf ("OK\n");
}
#endif
