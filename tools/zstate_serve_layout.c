/*  =========================================================================
    zstate serve's layout: where each persisted table lives in Redis

    A table's Redis endpoint, database index and separator come from, in
    this order: its own settings in the config file (separator, redis-db),
    the database config file for its db name (--db-config), and the
    redis settings for every table. Tables that land in the same place
    share one writer.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_serve.h"

//  How long the restore of one persisted table may take
#define RESTORE_TIMEOUT 30000

struct _zstate_serve_layout_t {
    serve_settings_t *settings;
    zstate_db_config_t *db_config;      //  NULL without --db-config
    zhashx_t *writers;                  //  "endpoint db separator" -> writer
    zlistx_t *places;                   //  the same keys, in the order made
};

static void
s_writer_destroy (void **item_p)
{
    zstate_writer_destroy ((zstate_writer_t **) item_p);
}

zstate_serve_layout_t *
zstate_serve_layout_new (serve_settings_t *settings)
{
    assert (settings);
    zstate_serve_layout_t *self =
        (zstate_serve_layout_t *) zmalloc (sizeof (zstate_serve_layout_t));
    assert (self);
    self->settings = settings;
    self->writers = zhashx_new ();
    zhashx_set_destructor (self->writers, s_writer_destroy);
    self->places = zlistx_new ();
    zlistx_set_duplicator (self->places, (zlistx_duplicator_fn *) strdup);
    zlistx_set_destructor (self->places, (zlistx_destructor_fn *) zstr_free);
    if (settings->db_config) {
        self->db_config = zstate_db_config_load (settings->db_config);
        if (!self->db_config) {
            fprintf (stderr, "zstate serve: database config %s\n", zstate_reason ());
            zstate_serve_layout_destroy (&self);
        }
    }
    return self;
}

void
zstate_serve_layout_destroy (zstate_serve_layout_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_serve_layout_t *self = *self_p;
        zhashx_destroy (&self->writers);
        zlistx_destroy (&self->places);
        zstate_db_config_destroy (&self->db_config);
        free (self);
        *self_p = NULL;
    }
}

//  A new writer for this place, connected (or trying to)
static zstate_writer_t *
s_writer_new (serve_settings_t *settings, const char *endpoint, int db, const char *separator)
{
    zstate_writer_t *writer = zstate_writer_new ();
    if (!writer)
        return NULL;
    if (zstate_writer_set_separator (writer, separator)
    ||  zstate_writer_set_db (writer, db)
    ||  zstate_writer_set_placeholder (writer, settings->placeholder)
    ||  (settings->password && zstate_writer_set_password (writer, settings->password))) {
        zstate_writer_destroy (&writer);
        return NULL;
    }
    zstate_writer_set_verbose (writer, settings->verbose);
    //  A Redis that is down now is written to when it comes back
    if (zstate_writer_connect (writer, endpoint)) {
        if (errno == EINVAL) {
            zstate_writer_destroy (&writer);
            return NULL;
        }
        zsys_warning ("zstate serve: Redis at %s: %s (retrying)", endpoint, zstate_reason ());
    }
    zsys_info ("zstate serve: writing to %s db %d, separator \"%s\"", endpoint, db, separator);
    return writer;
}

//  Before the server binds, a persisted table starts from what Redis
//  holds, and the server drops what clients send again that Redis has.
//  Without Redis the table starts empty, as it would without persistence
static void
s_table_restore (served_t *served, zstate_writer_t *writer)
{
    served->restored = zstate_consumer_restore (served->consumer, writer, RESTORE_TIMEOUT);
    if (served->restored == -1) {
        zsys_warning ("zstate serve: %s/%s not restored: %s", served->db, served->table,
                      zstate_reason ());
        served->restored = 0;
    }
    else
        zsys_info ("zstate serve: %s/%s: restored %" PRId64 " entries from Redis",
                   served->db, served->table, served->restored);
}

int
zstate_serve_layout_attach (zstate_serve_layout_t *self, served_t *served)
{
    assert (self);
    assert (served && served->persist && served->consumer);
    serve_settings_t *settings = self->settings;
    const char *endpoint = settings->redis;
    const char *separator = settings->separator;
    int db = settings->redis_db;
    if (self->db_config
    &&  zstate_db_config_lookup (self->db_config, served->db, &endpoint, &db, &separator)) {
        fprintf (stderr, "zstate serve: table %s/%s: %s\n", served->db, served->table,
                 zstate_reason ());
        return -1;
    }
    if (served->separator)
        separator = served->separator;
    if (served->redis_db >= 0)
        db = served->redis_db;
    char *place = zsys_sprintf ("%s %d %s", endpoint, db, separator);
    zstate_writer_t *writer = (zstate_writer_t *) zhashx_lookup (self->writers, place);
    if (!writer) {
        writer = s_writer_new (settings, endpoint, db, separator);
        if (writer) {
            zhashx_insert (self->writers, place, writer);
            zlistx_add_end (self->places, place);
        }
    }
    zstr_free (&place);
    if (writer)
        s_table_restore (served, writer);
    if (!writer || zstate_consumer_set_writer (served->consumer, writer)) {
        fprintf (stderr, "zstate serve: table %s/%s: %s\n", served->db, served->table,
                 zstate_reason ());
        return -1;
    }
    return 0;
}

int
zstate_serve_layout_flush (zstate_serve_layout_t *self, int timeout)
{
    assert (self);
    int rc = 0;
    //  Every writer flushes at once in its own actor: the deadline is
    //  shared, not summed
    int64_t deadline = zclock_mono () + timeout;
    const char *place = (const char *) zlistx_first (self->places);
    for (; place; place = (const char *) zlistx_next (self->places)) {
        zstate_writer_t *writer = (zstate_writer_t *) zhashx_lookup (self->writers, place);
        int64_t left = deadline - zclock_mono ();
        if (zstate_writer_flush (writer, left > 0? (int) left: 0)) {
            fprintf (stderr, "zstate serve: Redis did not confirm everything (%s): %s\n",
                     place, zstate_reason ());
            rc = -1;
        }
    }
    return rc;
}
