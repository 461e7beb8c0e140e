/*  =========================================================================
    zstate_writer_views - the writer's open windows: per (db, table), the
    SNAPSHOT-BEGIN that opened one and the keys written in it since

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A zhashx of the open windows, keyed by db and table (the db's length
    first, so that any two names make a different key). A window's keys
    live in its sweep, which a COMPLETE END hands on whole.
@discuss
    Any operation on the table inside the window marks its key, whatever
    its session, as the consumer does: a key another session wrote
    meanwhile is kept, not swept.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_views.h"
#include "zstate_session_msg.h"

typedef struct {
    byte session [ZSTATE_MSG_SESSION_SIZE];
    uint64_t begin;             //  Sequence of its BEGIN
    zstate_writer_sweep_t *sweep;
} view_t;

struct _zstate_writer_views_t {
    zhashx_t *open;             //  view_t by s_name (db, table)
    size_t bound;
    zstate_writer_views_notice_fn *notice;
    void *notice_arg;
    char name [2 * ZSTATE_NAME_MAX + 24];   //  Scratch: the key of a table
};

static void
s_view_destroy (view_t **self_p)
{
    if (*self_p) {
        zstate_writer_sweep_destroy (&(*self_p)->sweep);
        free (*self_p);
        *self_p = NULL;
    }
}

zstate_writer_views_t *
zstate_writer_views_new (void)
{
    zstate_writer_views_t *self =
        (zstate_writer_views_t *) zmalloc (sizeof (zstate_writer_views_t));
    assert (self);
    self->open = zhashx_new ();
    assert (self->open);
    zhashx_set_destructor (self->open, (zhashx_destructor_fn *) s_view_destroy);
    self->bound = SIZE_MAX;
    return self;
}

void
zstate_writer_views_destroy (zstate_writer_views_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zhashx_destroy (&(*self_p)->open);
        free (*self_p);
        *self_p = NULL;
    }
}

void
zstate_writer_views_set_notice (zstate_writer_views_t *self,
                                zstate_writer_views_notice_fn *notice, void *arg)
{
    assert (self);
    self->notice = notice;
    self->notice_arg = arg;
}

void
zstate_writer_views_set_bound (zstate_writer_views_t *self, size_t keys)
{
    assert (self);
    self->bound = keys? keys: 1;
}

//  The hash key of (db, table), in the scratch buffer
static const char *
s_name (zstate_writer_views_t *self, const char *db, const char *table)
{
    snprintf (self->name, sizeof (self->name), "%zu:%s%s", strlen (db), db, table);
    return self->name;
}

//  A window ends without a sweep
static void
s_drop (zstate_writer_views_t *self, const char *what, const char *db, const char *table,
        zstate_writer_stats_t *stats)
{
    zhashx_delete (self->open, s_name (self, db, table));
    stats->windows_dropped++;
    if (self->notice)
        self->notice (self->notice_arg, what, db, table);
}

void
zstate_writer_views_begin (zstate_writer_views_t *self, const char *db, const char *table,
                           const byte *session, uint64_t sequence, const char *separator,
                           zstate_writer_stats_t *stats)
{
    assert (self && db && table && session && separator && stats);
    if (zhashx_lookup (self->open, s_name (self, db, table)))
        s_drop (self, "SUPERSEDED", db, table, stats);
    view_t *view = (view_t *) zmalloc (sizeof (view_t));
    assert (view);
    memcpy (view->session, session, sizeof (view->session));
    view->begin = sequence;
    view->sweep = zstate_writer_sweep_new (table, separator);
    zhashx_insert (self->open, s_name (self, db, table), view);
    stats->windows++;
}

zstate_writer_sweep_t *
zstate_writer_views_find (zstate_writer_views_t *self, const char *db, const char *table)
{
    assert (self && db && table);
    if (zhashx_size (self->open) == 0)
        return NULL;
    view_t *view = (view_t *) zhashx_lookup (self->open, s_name (self, db, table));
    return view? view->sweep: NULL;
}

bool
zstate_writer_views_mark (zstate_writer_views_t *self, zstate_writer_sweep_t *sweep,
                          const char *db, const char *table, const void *key, size_t size,
                          zstate_writer_stats_t *stats)
{
    assert (self && sweep && stats);
    if (zstate_writer_sweep_mark (sweep, key, size) <= self->bound)
        return true;
    s_drop (self, "BOUND", db, table, stats);
    return false;
}

zstate_writer_sweep_t *
zstate_writer_views_end (zstate_writer_views_t *self, const char *db, const char *table,
                         const byte *session, uint64_t begin, int status,
                         zstate_writer_stats_t *stats)
{
    assert (self && db && table && session && stats);
    view_t *view = (view_t *) zhashx_lookup (self->open, s_name (self, db, table));
    if (!view || view->begin != begin || memcmp (view->session, session, sizeof (view->session))) {
        stats->windows_unmatched++;
        if (self->notice)
            self->notice (self->notice_arg, "UNMATCHED", db, table);
        return NULL;
    }
    if (status != ZSTATE_SESSION_END_COMPLETE) {
        s_drop (self, "ABANDONED", db, table, stats);
        return NULL;
    }
    zstate_writer_sweep_t *sweep = view->sweep;
    view->sweep = NULL;
    zhashx_delete (self->open, self->name);
    return sweep;
}

size_t
zstate_writer_views_size (zstate_writer_views_t *self)
{
    assert (self);
    return zhashx_size (self->open);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: as the intake uses the windows

static void
s_test_notice (void *arg, const char *what, const char *db, const char *table)
{
    snprintf ((char *) arg, 64, "%s %s %s", what, db, table);
}

void
zstate_writer_views_test (bool verbose)
{
    printf (" * zstate_writer_views: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    zstate_writer_views_t *views = zstate_writer_views_new ();
    char notice [64] = "";
    zstate_writer_views_set_notice (views, s_test_notice, notice);
    zstate_writer_stats_t stats = { 0 };
    byte alice [ZSTATE_MSG_SESSION_SIZE] = { 1 }, bob [ZSTATE_MSG_SESSION_SIZE] = { 2 };
    assert (!zstate_writer_views_find (views, "DB", "T"));
    //  A window per (db, table): the same table of another db is another
    zstate_writer_views_begin (views, "DB", "T", alice, 5, ":", &stats);
    zstate_writer_views_begin (views, "DB2", "T", alice, 6, ":", &stats);
    assert (stats.windows == 2 && zstate_writer_views_size (views) == 2);
    zstate_writer_sweep_t *sweep = zstate_writer_views_find (views, "DB", "T");
    assert (sweep && sweep != zstate_writer_views_find (views, "DB2", "T"));
    assert (zstate_writer_views_mark (views, sweep, "DB", "T", "T:a", 3, &stats));
    //  ENDs that match nothing: another session, another begin, no window
    assert (!zstate_writer_views_end (views, "DB", "T", bob, 5, ZSTATE_SESSION_END_COMPLETE,
                                      &stats));
    assert (!zstate_writer_views_end (views, "DB", "T", alice, 4, ZSTATE_SESSION_END_COMPLETE,
                                      &stats));
    assert (!zstate_writer_views_end (views, "DB", "U", alice, 5, ZSTATE_SESSION_END_COMPLETE,
                                      &stats));
    assert (stats.windows_unmatched == 3 && streq (notice, "UNMATCHED DB U"));
    //  COMPLETE hands on the sweep with its keys
    sweep = zstate_writer_views_end (views, "DB", "T", alice, 5, ZSTATE_SESSION_END_COMPLETE,
                                     &stats);
    assert (sweep && zstate_writer_sweep_marked (sweep) == 1);
    zstate_writer_sweep_destroy (&sweep);
    assert (zstate_writer_views_size (views) == 1 && !zstate_writer_views_find (views, "DB", "T"));
    //  ABANDONED drops it; so does a new BEGIN, and the bound
    assert (!zstate_writer_views_end (views, "DB2", "T", alice, 6, ZSTATE_SESSION_END_ABANDONED,
                                      &stats));
    assert (stats.windows_dropped == 1 && streq (notice, "ABANDONED DB2 T"));
    zstate_writer_views_begin (views, "DB", "T", alice, 7, ":", &stats);
    zstate_writer_views_begin (views, "DB", "T", bob, 3, ":", &stats);
    assert (stats.windows_dropped == 2 && streq (notice, "SUPERSEDED DB T"));
    assert (!zstate_writer_views_end (views, "DB", "T", alice, 7, ZSTATE_SESSION_END_COMPLETE,
                                      &stats));
    zstate_writer_views_set_bound (views, 2);
    sweep = zstate_writer_views_find (views, "DB", "T");
    assert (zstate_writer_views_mark (views, sweep, "DB", "T", "T:a", 3, &stats));
    assert (zstate_writer_views_mark (views, sweep, "DB", "T", "T:b", 3, &stats));
    assert (zstate_writer_views_mark (views, sweep, "DB", "T", "T:b", 3, &stats));
    assert (!zstate_writer_views_mark (views, sweep, "DB", "T", "T:c", 3, &stats));
    assert (stats.windows_dropped == 3 && streq (notice, "BOUND DB T"));
    assert (zstate_writer_views_size (views) == 0);
    assert (stats.windows == 4);
    //  @end

    zstate_writer_views_destroy (&views);
    printf ("OK\n");
}
#endif
