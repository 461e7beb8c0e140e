/*  =========================================================================
    zstate_server_owed - the RESYNCs the server owes one session

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A list of "db\0table" strings, oldest first, and a flag for every
    table. Every table subsumes the rest, so owing it empties the list;
    a list past ZSTATE_SERVER_OWED_MAX turns into it, which bounds what a
    session that never comes back costs.
@end
*/

#include "zstate_classes.h"
#include "zstate_server_owed.h"

struct _zstate_server_owed_t {
    bool all;                   //  RESYNC of every table is owed
    zlistx_t *tables;           //  else these, "db\0table" each
};

//  One table owed: db and table after each other, each with its NUL
typedef struct {
    size_t db_size;             //  strlen (db) + 1: where table starts
    char names [];
} entry_t;

static void
s_entry_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

void
zstate_server_owed_add (zstate_server_owed_t **self_p, const char *db, const char *table)
{
    assert (self_p);
    assert (db && table);
    if (!*self_p) {
        *self_p = (zstate_server_owed_t *) zmalloc (sizeof (zstate_server_owed_t));
        assert (*self_p);
        (*self_p)->tables = zlistx_new ();
        assert ((*self_p)->tables);
        zlistx_set_destructor ((*self_p)->tables, s_entry_free);
    }
    zstate_server_owed_t *self = *self_p;
    if (self->all)
        return;
    if ((!*db && !*table) || zlistx_size (self->tables) >= ZSTATE_SERVER_OWED_MAX) {
        self->all = true;
        zlistx_purge (self->tables);
        return;
    }
    size_t db_size = strlen (db) + 1;
    entry_t *entry = (entry_t *) zlistx_first (self->tables);
    while (entry) {
        if (streq (entry->names, db) && streq (entry->names + entry->db_size, table))
            return;
        entry = (entry_t *) zlistx_next (self->tables);
    }
    size_t table_size = strlen (table) + 1;
    entry = (entry_t *) malloc (sizeof (entry_t) + db_size + table_size);
    assert (entry);
    entry->db_size = db_size;
    memcpy (entry->names, db, db_size);
    memcpy (entry->names + db_size, table, table_size);
    void *handle = zlistx_add_end (self->tables, entry);
    assert (handle);
}

bool
zstate_server_owed_first (zstate_server_owed_t *self, const char **db_p,
                          const char **table_p)
{
    assert (db_p && table_p);
    entry_t *entry = self? (entry_t *) zlistx_first (self->tables): NULL;
    if (self && self->all)
        *db_p = *table_p = "";
    else
    if (entry) {
        *db_p = entry->names;
        *table_p = entry->names + entry->db_size;
    }
    else
        return false;
    return true;
}

void
zstate_server_owed_remove_first (zstate_server_owed_t *self)
{
    assert (self);
    if (self->all)
        self->all = false;
    else
    if (zlistx_first (self->tables))
        zlistx_delete (self->tables, zlistx_cursor (self->tables));
}

void
zstate_server_owed_requeue (zstate_server_owed_t **self_p, zstate_server_owed_t **sent_p)
{
    assert (self_p && sent_p);
    if (!*sent_p)
        return;
    const char *db, *table;
    while (zstate_server_owed_first (*self_p, &db, &table)) {
        zstate_server_owed_add (sent_p, db, table);
        zstate_server_owed_remove_first (*self_p);
    }
    zstate_server_owed_destroy (self_p);
    *self_p = *sent_p;
    *sent_p = NULL;
}

size_t
zstate_server_owed_size (zstate_server_owed_t *self)
{
    return self? zlistx_size (self->tables) + self->all: 0;
}

void
zstate_server_owed_destroy (zstate_server_owed_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zlistx_destroy (&(*self_p)->tables);
        free (*self_p);
        *self_p = NULL;
    }
}
