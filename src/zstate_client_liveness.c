/*  =========================================================================
    zstate_client_liveness - when a version 2 client takes its server for
    dead: silence while it holds operations, never ACKs that stall

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Two times and a timeout. Silence before the client held anything does
    not count: an idle client that starts sending to a server gone long
    ago waits the whole timeout before it says so, since the server may
    have had nothing to say.
@end
*/

#include "zstate_classes.h"
#include "zstate_client_liveness.h"

#define TIMEOUT_DEFAULT     10000

struct _zstate_client_liveness_t {
    int64_t timeout;            //  Silence this long while holding: dead
    int64_t heard;              //  Last heard from the server, or 0
    int64_t holding_since;      //  Holding since, or 0 when not holding
};

zstate_client_liveness_t *
zstate_client_liveness_new (void)
{
    zstate_client_liveness_t *self =
        (zstate_client_liveness_t *) zmalloc (sizeof (zstate_client_liveness_t));
    assert (self);
    self->timeout = TIMEOUT_DEFAULT;
    return self;
}

void
zstate_client_liveness_destroy (zstate_client_liveness_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
zstate_client_liveness_set_timeout (zstate_client_liveness_t *self, int64_t timeout,
                                    int64_t heartbeat)
{
    assert (self);
    self->timeout = timeout > 2 * heartbeat? timeout: 2 * heartbeat;
}

void
zstate_client_liveness_heard (zstate_client_liveness_t *self, int64_t now)
{
    assert (self);
    self->heard = now;
}

void
zstate_client_liveness_holding (zstate_client_liveness_t *self, bool holding, int64_t now)
{
    assert (self);
    if (!holding)
        self->holding_since = 0;
    else
    if (!self->holding_since)
        self->holding_since = now? now: 1;
}

int64_t
zstate_client_liveness_silence (zstate_client_liveness_t *self, int64_t now)
{
    assert (self);
    if (!self->holding_since)
        return 0;
    int64_t since = self->heard > self->holding_since? self->heard: self->holding_since;
    return now > since? now - since: 0;
}

bool
zstate_client_liveness_dead (zstate_client_liveness_t *self, int64_t now)
{
    assert (self);
    return self->holding_since && zstate_client_liveness_silence (self, now) >= self->timeout;
}


//  --------------------------------------------------------------------------
//  Selftest

void
zstate_client_liveness_test (bool verbose)
{
    (void) verbose;
    printf (" * zstate_client_liveness: ");

    //  @selftest
    zstate_client_liveness_t *liveness = zstate_client_liveness_new ();
    zstate_client_liveness_set_timeout (liveness, 300, 50);
    //  Silence with nothing held is no sign of death
    zstate_client_liveness_heard (liveness, 1000);
    assert (!zstate_client_liveness_dead (liveness, 100000));
    assert (zstate_client_liveness_silence (liveness, 100000) == 0);
    //  Holding from 100000: silence counts from then, not from the last heard
    zstate_client_liveness_holding (liveness, true, 100000);
    assert (!zstate_client_liveness_dead (liveness, 100299));
    assert (zstate_client_liveness_dead (liveness, 100300));
    //  Holding again later does not move the start
    zstate_client_liveness_holding (liveness, true, 100200);
    assert (zstate_client_liveness_silence (liveness, 100300) == 300);
    //  A server heard, however long its ACKs stall, is alive: PONGs every
    //  heartbeat keep the silence short
    for (int64_t now = 100350; now < 200000; now += 50) {
        zstate_client_liveness_heard (liveness, now);
        assert (!zstate_client_liveness_dead (liveness, now + 49));
    }
    //  Heard at 199950, then silent: dead at the timeout, alive once heard
    assert (!zstate_client_liveness_dead (liveness, 200249));
    assert (zstate_client_liveness_dead (liveness, 200250));
    assert (zstate_client_liveness_silence (liveness, 200250) == 300);
    zstate_client_liveness_heard (liveness, 200500);
    assert (!zstate_client_liveness_dead (liveness, 200500));
    //  Nothing held: never dead; holding starts the wait afresh
    zstate_client_liveness_holding (liveness, false, 300000);
    assert (!zstate_client_liveness_dead (liveness, 400000));
    zstate_client_liveness_holding (liveness, true, 400000);
    assert (!zstate_client_liveness_dead (liveness, 400299));
    assert (zstate_client_liveness_dead (liveness, 400300));
    //  The timeout is at least two heartbeat intervals: one PING's answer
    //  may come just under one interval after the last
    zstate_client_liveness_set_timeout (liveness, 0, 1000);
    assert (!zstate_client_liveness_dead (liveness, 401999));
    assert (zstate_client_liveness_dead (liveness, 402000));
    zstate_client_liveness_destroy (&liveness);
    zstate_client_liveness_destroy (&liveness);
    assert (liveness == NULL);
    //  @end

    printf ("OK\n");
}
