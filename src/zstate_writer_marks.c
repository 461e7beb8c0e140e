/*  =========================================================================
    zstate_writer_marks - watermarks: the highest sequence of each session
    per (db, table), for Redis and for CONFIRMED

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A set of (db, table) records, each with the sessions whose messages it
    saw and the highest sequence of each. One set belongs to each
    generation of the writer's backlog, one more holds what CONFIRMED has
    not sent yet.
@discuss
    A writer serves few tables, each from few sessions (one per client),
    and consecutive messages mostly come from the same session for the
    same table: both lookups are linear, and start at the last hit.
    A watermark field in Redis is SESSION -> "SEQ SECS": SECS, the time of
    the write, is what pruning compares, in a Lua script inside the same
    MULTI/EXEC (Redis runs it atomically, and it reads the hash there).
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_marks.h"

#define PRUNE_INTERVAL          60000       //  msecs between prunes of a table
#define VALUE_MAX               48          //  "SEQ SECS", with the NUL

//  Removes every field whose SECS is below ARGV[1], or that is malformed;
//  a key that is no hash is left alone (its HSET failed already)
#define PRUNE_SCRIPT \
    "local f = redis.pcall('HGETALL', KEYS[1]) " \
    "if f.err then return 0 end " \
    "local n = 0 " \
    "for i = 1, #f, 2 do " \
        "local t = tonumber(string.match(f[i + 1], '^%d+ (%d+)$')) " \
        "if t == nil or t < tonumber(ARGV[1]) then " \
            "redis.call('HDEL', KEYS[1], f[i]) n = n + 1 " \
        "end " \
    "end " \
    "return n"

typedef struct {
    byte session [ZSTATE_MSG_SESSION_SIZE];
    uint64_t sequence;
} mark_t;

typedef struct {
    char *db;
    char *table;
    mark_t *marks;
    size_t count;
    size_t max;
    size_t last;                //  Last session hit
} table_t;

struct _zstate_writer_marks_t {
    table_t *tables;
    size_t count;
    size_t max;
    size_t last;                //  Last table hit
    size_t marks;               //  Marks over all tables
    char *scratch;              //  Text of one HSET's fields and values
    size_t scratch_max;
    const char **argv;          //  One HSET
    size_t *argvlen;
    size_t argv_max;
};


//  --------------------------------------------------------------------------
//  Create and destroy

zstate_writer_marks_t *
zstate_writer_marks_new (void)
{
    zstate_writer_marks_t *self =
        (zstate_writer_marks_t *) zmalloc (sizeof (zstate_writer_marks_t));
    assert (self);
    return self;
}

void
zstate_writer_marks_clear (zstate_writer_marks_t *self)
{
    assert (self);
    for (size_t index = 0; index < self->count; index++) {
        free (self->tables [index].db);
        free (self->tables [index].table);
        free (self->tables [index].marks);
    }
    self->count = 0;
    self->last = 0;
    self->marks = 0;
}

void
zstate_writer_marks_destroy (zstate_writer_marks_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_marks_t *self = *self_p;
        zstate_writer_marks_clear (self);
        free (self->tables);
        free (self->scratch);
        free (self->argv);
        free (self->argvlen);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Noting messages

static table_t *
s_table (zstate_writer_marks_t *self, const char *db, const char *table)
{
    for (size_t step = 0; step < self->count; step++) {
        size_t index = (self->last + step) % self->count;
        table_t *record = &self->tables [index];
        if (streq (record->table, table) && streq (record->db, db)) {
            self->last = index;
            return record;
        }
    }
    if (self->count == self->max) {
        self->max = self->max? self->max * 2: 4;
        self->tables = (table_t *) realloc (self->tables, self->max * sizeof (table_t));
        assert (self->tables);
    }
    table_t *record = &self->tables [self->count];
    memset (record, 0, sizeof (table_t));
    record->db = strdup (db);
    record->table = strdup (table);
    assert (record->db && record->table);
    self->last = self->count++;
    return record;
}

void
zstate_writer_marks_note (zstate_writer_marks_t *self, const char *db, const char *table,
                          const byte *session, uint64_t sequence)
{
    assert (self);
    assert (db && table);
    table_t *record = s_table (self, db, table);
    if (!session)
        return;
    for (size_t step = 0; step < record->count; step++) {
        size_t index = (record->last + step) % record->count;
        mark_t *mark = &record->marks [index];
        if (memcmp (mark->session, session, ZSTATE_MSG_SESSION_SIZE) == 0) {
            if (sequence > mark->sequence)
                mark->sequence = sequence;
            record->last = index;
            return;
        }
    }
    if (record->count == record->max) {
        record->max = record->max? record->max * 2: 4;
        record->marks = (mark_t *) realloc (record->marks, record->max * sizeof (mark_t));
        assert (record->marks);
    }
    mark_t *mark = &record->marks [record->count];
    memcpy (mark->session, session, ZSTATE_MSG_SESSION_SIZE);
    mark->sequence = sequence;
    record->last = record->count++;
    self->marks++;
}

void
zstate_writer_marks_absorb (zstate_writer_marks_t *self, zstate_writer_marks_t *other)
{
    assert (self);
    assert (other);
    for (size_t index = 0; index < other->count; index++) {
        table_t *record = &other->tables [index];
        zstate_writer_marks_note (self, record->db, record->table, NULL, 0);
        for (size_t mark = 0; mark < record->count; mark++)
            zstate_writer_marks_note (self, record->db, record->table,
                                      record->marks [mark].session,
                                      record->marks [mark].sequence);
    }
    zstate_writer_marks_clear (other);
}

bool
zstate_writer_marks_empty (zstate_writer_marks_t *self)
{
    assert (self);
    return self->marks == 0;
}

bool
zstate_writer_marks_touches (zstate_writer_marks_t *self, const char *table)
{
    assert (self);
    assert (table);
    for (size_t index = 0; index < self->count; index++)
        if (streq (self->tables [index].table, table))
            return true;
    return false;
}


//  --------------------------------------------------------------------------
//  Into Redis, and into CONFIRMED

static void
s_hex (const byte *session, char *dest)
{
    static const char digits [] = "0123456789abcdef";
    for (size_t index = 0; index < ZSTATE_MSG_SESSION_SIZE; index++) {
        dest [2 * index] = digits [session [index] >> 4];
        dest [2 * index + 1] = digits [session [index] & 15];
    }
}

//  Append the HSET of one table's marks
static void
s_append_table (zstate_writer_marks_t *self, zstate_redis_t *redis, const char *key,
                table_t *record, int64_t secs)
{
    size_t parts = 2 + 2 * record->count;
    if (parts > self->argv_max) {
        self->argv_max = 2 * parts;
        self->argv = (const char **) realloc (self->argv, self->argv_max * sizeof (char *));
        self->argvlen = (size_t *) realloc (self->argvlen, self->argv_max * sizeof (size_t));
        assert (self->argv && self->argvlen);
    }
    size_t needed = record->count * (2 * ZSTATE_MSG_SESSION_SIZE + VALUE_MAX);
    if (needed > self->scratch_max) {
        self->scratch_max = 2 * needed;
        self->scratch = (char *) realloc (self->scratch, self->scratch_max);
        assert (self->scratch);
    }
    self->argv [0] = "HSET";
    self->argvlen [0] = 4;
    self->argv [1] = key;
    self->argvlen [1] = strlen (key);
    char *cursor = self->scratch;
    for (size_t index = 0; index < record->count; index++) {
        s_hex (record->marks [index].session, cursor);
        self->argv [2 + 2 * index] = cursor;
        self->argvlen [2 + 2 * index] = 2 * ZSTATE_MSG_SESSION_SIZE;
        cursor += 2 * ZSTATE_MSG_SESSION_SIZE;
        int size = snprintf (cursor, VALUE_MAX, "%" PRIu64 " %" PRId64,
                             record->marks [index].sequence, secs);
        self->argv [3 + 2 * index] = cursor;
        self->argvlen [3 + 2 * index] = (size_t) size;
        cursor += VALUE_MAX;
    }
    //  Appending fails only when not connected, which the caller checked
    int rc = zstate_redis_append (redis, (int) parts, self->argv, self->argvlen);
    assert (rc == 0);
}

//  True when the table is due for pruning, which prune then records
static bool
s_prune_due (zhashx_t *prune, const char *table)
{
    int64_t now = zclock_mono ();
    int64_t *last = (int64_t *) zhashx_lookup (prune, table);
    if (last && now - *last < PRUNE_INTERVAL)
        return false;
    if (!last) {
        last = (int64_t *) malloc (sizeof (int64_t));
        assert (last);
        zhashx_insert (prune, table, last);
    }
    *last = now;
    return true;
}

size_t
zstate_writer_marks_append (zstate_writer_marks_t *self, zstate_redis_t *redis,
                            const char *separator, zhashx_t *prune, int age)
{
    assert (self);
    assert (redis);
    assert (separator);
    size_t commands = 0;
    int64_t secs = (int64_t) time (NULL);
    for (size_t index = 0; index < self->count; index++) {
        table_t *record = &self->tables [index];
        if (record->count == 0)
            continue;
        char *key = zsys_sprintf ("%s%s%s", ZSTATE_WRITER_MARKS_PREFIX, separator,
                                  record->table);
        assert (key);
        s_append_table (self, redis, key, record, secs);
        commands++;
        if (prune && s_prune_due (prune, record->table)) {
            char cutoff [24];
            snprintf (cutoff, sizeof (cutoff), "%" PRId64, secs - age);
            int rc = zstate_redis_appendx (redis, "EVAL", PRUNE_SCRIPT, "1", key, cutoff,
                                           NULL);
            assert (rc == 0);
            commands++;
        }
        zstr_free (&key);
    }
    return commands;
}

void
zstate_writer_marks_frames (zstate_writer_marks_t *self, zmsg_t *msg)
{
    assert (self);
    assert (msg);
    for (size_t index = 0; index < self->count; index++) {
        table_t *record = &self->tables [index];
        if (record->count == 0)
            continue;
        zmsg_addstr (msg, record->db);
        zmsg_addstr (msg, record->table);
        zframe_t *frame = zframe_new (NULL, record->count * ZSTATE_WRITER_MARK_SIZE);
        assert (frame);
        byte *cursor = zframe_data (frame);
        for (size_t mark = 0; mark < record->count; mark++) {
            memcpy (cursor, record->marks [mark].session, ZSTATE_MSG_SESSION_SIZE);
            zstate_put_u64 (cursor + ZSTATE_MSG_SESSION_SIZE, record->marks [mark].sequence);
            cursor += ZSTATE_WRITER_MARK_SIZE;
        }
        zmsg_append (msg, &frame);
    }
}

static int
s_nibble (char digit)
{
    return digit >= '0' && digit <= '9'? digit - '0':
           digit >= 'a' && digit <= 'f'? digit - 'a' + 10:
           digit >= 'A' && digit <= 'F'? digit - 'A' + 10: -1;
}

int
zstate_writer_marks_parse (const char *name, size_t name_size, const char *value,
                           size_t value_size, byte *dest)
{
    assert (name && value && dest);
    if (name_size != 2 * ZSTATE_MSG_SESSION_SIZE || value_size >= VALUE_MAX)
        return -1;
    for (size_t index = 0; index < ZSTATE_MSG_SESSION_SIZE; index++) {
        int high = s_nibble (name [2 * index]);
        int low = s_nibble (name [2 * index + 1]);
        if (high < 0 || low < 0)
            return -1;
        dest [index] = (byte) (high << 4 | low);
    }
    char text [VALUE_MAX];
    memcpy (text, value, value_size);
    text [value_size] = 0;
    uint64_t sequence, secs;
    int used = 0;
    if (text [0] < '0' || text [0] > '9'
    ||  sscanf (text, "%" SCNu64 " %" SCNu64 "%n", &sequence, &secs, &used) != 2
    ||  (size_t) used != value_size)
        return -1;
    zstate_put_u64 (dest + ZSTATE_MSG_SESSION_SIZE, sequence);
    return 0;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: as the writer uses the marks; writing them into Redis is in
//  the writer's suite

void
zstate_writer_marks_test (bool verbose)
{
    printf (" * zstate_writer_marks: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A generation notes the messages it takes; marks only rise
    zstate_writer_marks_t *marks = zstate_writer_marks_new ();
    byte alice [ZSTATE_MSG_SESSION_SIZE], bob [ZSTATE_MSG_SESSION_SIZE];
    memset (alice, 0xA1, sizeof (alice));
    memset (bob, 0xB0, sizeof (bob));
    zstate_writer_marks_note (marks, "APPL_DB", "ROUTE", alice, 7);
    zstate_writer_marks_note (marks, "APPL_DB", "ROUTE", alice, 5);
    zstate_writer_marks_note (marks, "APPL_DB", "PORT", NULL, 0);
    assert (zstate_writer_marks_touches (marks, "PORT"));
    assert (!zstate_writer_marks_touches (marks, "VLAN"));
    //  What CONFIRMED has not sent yet absorbs each confirmed generation
    zstate_writer_marks_t *unsent = zstate_writer_marks_new ();
    zstate_writer_marks_note (unsent, "APPL_DB", "ROUTE", bob, 3);
    zstate_writer_marks_absorb (unsent, marks);
    assert (zstate_writer_marks_empty (marks) && !zstate_writer_marks_empty (unsent));
    zmsg_t *msg = zmsg_new ();
    zstate_writer_marks_frames (unsent, msg);
    //  PORT has no marks: one table, two sessions
    assert (zmsg_size (msg) == 3);
    char *db = zmsg_popstr (msg);
    char *table = zmsg_popstr (msg);
    assert (streq (db, "APPL_DB") && streq (table, "ROUTE"));
    zframe_t *frame = zmsg_pop (msg);
    assert (zframe_size (frame) == 2 * ZSTATE_WRITER_MARK_SIZE);
    byte *data = zframe_data (frame);
    assert (memcmp (data, bob, ZSTATE_MSG_SESSION_SIZE) == 0);
    assert (zstate_get_u64 (data + 16) == 3);
    assert (memcmp (data + 24, alice, ZSTATE_MSG_SESSION_SIZE) == 0);
    assert (zstate_get_u64 (data + 40) == 7);
    //  @end

    //  Fields as Redis holds them
    byte parsed [ZSTATE_WRITER_MARK_SIZE];
    const char *hex = "a1a1a1a1a1a1a1a1A1A1A1A1A1A1A1A1";
    assert (zstate_writer_marks_parse (hex, 32, "7 1700000000", 12, parsed) == 0);
    assert (memcmp (parsed, alice, ZSTATE_MSG_SESSION_SIZE) == 0);
    assert (zstate_get_u64 (parsed + 16) == 7);
    assert (zstate_writer_marks_parse (hex, 31, "7 1700000000", 12, parsed) == -1);
    assert (zstate_writer_marks_parse ("g1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", 32, "7 1", 3,
                                       parsed) == -1);
    assert (zstate_writer_marks_parse (hex, 32, "7", 1, parsed) == -1);
    assert (zstate_writer_marks_parse (hex, 32, "-7 1", 4, parsed) == -1);
    assert (zstate_writer_marks_parse (hex, 32, "7 1 x", 5, parsed) == -1);

    zframe_destroy (&frame);
    zstr_free (&db);
    zstr_free (&table);
    zmsg_destroy (&msg);
    zstate_writer_marks_destroy (&unsent);
    zstate_writer_marks_destroy (&marks);
    printf ("OK\n");
}
#endif
