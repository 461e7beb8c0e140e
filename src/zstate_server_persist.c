/*  =========================================================================
    zstate_server_persist - what one version 2 session has forwarded to DB
    writers and what they confirmed

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A writer confirms, per (table, session), a watermark W: every message
    of the session for that table up to W is in Redis (its transactions
    are prefix consistent). So per route that waits we keep three
    sequences: the last forwarded, the last confirmed, and the base, the
    sequence before the first message forwarded since the route last
    caught up, when everything of it up to there was confirmed. Every
    message of the route up to max (base, confirmed) is in Redis, and
    messages that were not forwarded need no writing: P is the least of
    those over the routes that wait, and D when none waits.
@discuss
    A route that catches up (confirmed >= forwarded) leaves the list, so
    the list holds only the routes still waiting: none or one for most
    sessions, at most one per route. The hot path, one forwarded message,
    finds its route in that short list and moves one number; it allocates
    only when the session first waits for more routes than ever before.
    P is conservative by design: a route waiting at W holds P at W even
    when the messages after W belong to other routes already confirmed.
@end
*/

#include "zstate_classes.h"
#include "zstate_server_persist.h"

#define ENTRIES_MIN         2       //  first allocation

//  One route the session waits for
typedef struct {
    uint32_t route;             //  zstate_server_route_t.id
    uint64_t forwarded;         //  the last sequence forwarded
    uint64_t confirmed;         //  the last watermark confirmed
    uint64_t base;              //  every message up to it is confirmed
} entry_t;

struct _zstate_server_persist_t {
    size_t size;                //  routes waiting
    size_t max;                 //  room in entries
    entry_t *entries;
};

static entry_t *
s_entry (zstate_server_persist_t *self, uint32_t route)
{
    for (size_t index = 0; index < self->size; index++)
        if (self->entries [index].route == route)
            return &self->entries [index];
    return NULL;
}

void
zstate_server_persist_forwarded (zstate_server_persist_t **self_p, uint32_t route,
                                 uint64_t sequence)
{
    assert (self_p);
    if (!*self_p) {
        *self_p = (zstate_server_persist_t *) zmalloc (sizeof (zstate_server_persist_t));
        assert (*self_p);
    }
    zstate_server_persist_t *self = *self_p;
    entry_t *entry = s_entry (self, route);
    if (entry) {
        entry->forwarded = sequence;
        return;
    }
    if (self->size == self->max) {
        self->max = self->max? 2 * self->max: ENTRIES_MIN;
        self->entries = (entry_t *) realloc (self->entries, self->max * sizeof (entry_t));
        assert (self->entries);
    }
    //  The route had caught up: all it had before this one is confirmed
    entry_t fresh = { route, sequence, 0, sequence - 1 };
    self->entries [self->size++] = fresh;
}

//  Remove the entry, which has caught up or whose route went
static void
s_entry_remove (zstate_server_persist_t *self, entry_t *entry)
{
    *entry = self->entries [--self->size];
}

bool
zstate_server_persist_confirmed (zstate_server_persist_t *self, uint32_t route,
                                 uint64_t watermark)
{
    entry_t *entry = self? s_entry (self, route): NULL;
    if (!entry || watermark <= entry->confirmed || watermark <= entry->base)
        return false;           //  Stale, or nothing of ours
    entry->confirmed = watermark;
    if (entry->confirmed >= entry->forwarded)
        s_entry_remove (self, entry);
    return true;
}

void
zstate_server_persist_forget (zstate_server_persist_t *self, uint32_t route)
{
    entry_t *entry = self? s_entry (self, route): NULL;
    if (entry)
        s_entry_remove (self, entry);
}

uint64_t
zstate_server_persist_level (zstate_server_persist_t *self, uint64_t delivered)
{
    uint64_t level = delivered;
    for (size_t index = 0; self && index < self->size; index++) {
        entry_t *entry = &self->entries [index];
        uint64_t done = entry->confirmed > entry->base? entry->confirmed: entry->base;
        if (done < level)
            level = done;
    }
    return level;
}

size_t
zstate_server_persist_waiting (zstate_server_persist_t *self)
{
    return self? self->size: 0;
}

void
zstate_server_persist_destroy (zstate_server_persist_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->entries);
        free (*self_p);
        *self_p = NULL;
    }
}
