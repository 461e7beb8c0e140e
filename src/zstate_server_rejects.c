/*  =========================================================================
    zstate_server_rejects - the REJECTs the server owes one session

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A ring of ZSTATE_SERVER_REJECTS_MAX entries, allocated whole on first
    use: the reason's text is not kept, since the server sends the code's
    own text.
@end
*/

#include "zstate_classes.h"
#include "zstate_server_rejects.h"

typedef struct {
    uint64_t sequence;
    int reason;
} entry_t;

struct _zstate_server_rejects_t {
    entry_t ring [ZSTATE_SERVER_REJECTS_MAX];
    size_t head;                //  Index of the oldest
    size_t count;               //  Entries owed
};

bool
zstate_server_rejects_add (zstate_server_rejects_t **self_p, uint64_t sequence, int reason)
{
    assert (self_p);
    if (!*self_p) {
        *self_p = (zstate_server_rejects_t *) zmalloc (sizeof (zstate_server_rejects_t));
        assert (*self_p);
    }
    zstate_server_rejects_t *self = *self_p;
    if (self->count == ZSTATE_SERVER_REJECTS_MAX)
        return false;
    entry_t *entry = &self->ring [(self->head + self->count++) % ZSTATE_SERVER_REJECTS_MAX];
    entry->sequence = sequence;
    entry->reason = reason;
    return true;
}

bool
zstate_server_rejects_first (zstate_server_rejects_t *self, uint64_t *sequence_p,
                             int *reason_p)
{
    assert (sequence_p && reason_p);
    if (!self || !self->count)
        return false;
    *sequence_p = self->ring [self->head].sequence;
    *reason_p = self->ring [self->head].reason;
    return true;
}

void
zstate_server_rejects_remove_first (zstate_server_rejects_t *self)
{
    assert (self && self->count);
    self->head = (self->head + 1) % ZSTATE_SERVER_REJECTS_MAX;
    self->count--;
}

size_t
zstate_server_rejects_requeue (zstate_server_rejects_t **self_p,
                               zstate_server_rejects_t **sent_p)
{
    assert (self_p && sent_p);
    if (!*sent_p)
        return 0;
    zstate_server_rejects_t *owed = *self_p;
    *self_p = *sent_p;
    *sent_p = NULL;
    size_t lost = 0;
    uint64_t sequence;
    int reason;
    while (zstate_server_rejects_first (owed, &sequence, &reason)) {
        if (!zstate_server_rejects_add (self_p, sequence, reason))
            lost++;
        zstate_server_rejects_remove_first (owed);
    }
    zstate_server_rejects_destroy (&owed);
    return lost;
}

size_t
zstate_server_rejects_size (zstate_server_rejects_t *self)
{
    return self? self->count: 0;
}

void
zstate_server_rejects_destroy (zstate_server_rejects_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}
