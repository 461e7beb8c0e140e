/*  =========================================================================
    zstate_writer_reader - the writer's RESTORE: one table and its
    watermarks read back from Redis, sent as wire messages

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    SCAN with MATCH TABLE<separator>* (the table and separator escaped for
    the glob), COUNT 1000 a step; each step's new keys are read with
    HGETALL, 128 pipelined at a time, and each group becomes one wire
    message. SCAN may return a key twice: a set of the keys seen drops the
    second. A key gone since SCAN, or one that is no hash, is skipped; so
    is one that no wire message can carry (its key or a field too large),
    with a warning.
@discuss
    The PUSH socket has no high-water mark, so sending never blocks the
    writer: the receiver reads the table while it waits for the reply, or
    after. Each operation is built in a batch of its own first, so that one
    that cannot be encoded never leaves a message half built.
@end
*/

#include "zstate_classes.h"
#include "zstate_batch_private.h"
#include "zstate_writer_marks.h"
#include "zstate_writer_reader.h"

#define SCAN_COUNT              "1000"
#define GROUP_MAX               128         //  Keys per HGETALL round, per message
#define HEADER_ROOM             (2 * ZSTATE_NAME_MAX + 64)

typedef struct {
    zstate_redis_t *redis;
    zsock_t *push;
    const char *table;
    char db [16];               //  Db name of the messages: the SELECT index
    char *prefix;               //  TABLE<separator>
    size_t prefix_size;
    char *marks_key;            //  The table's watermark hash
    int64_t deadline;
    zhashx_t *seen;             //  Keys read so far
    zstate_batch_t *group;      //  The message being built
    zstate_batch_t *one;        //  The operation being built
    uint64_t entries;           //  Sent
    uint64_t sequence;          //  Of the last message sent
    size_t skipped;             //  Keys no wire message can carry
} reader_t;


char *
zstate_writer_reader_pattern (const char *prefix)
{
    char *pattern = (char *) malloc (2 * strlen (prefix) + 2);
    assert (pattern);
    char *cursor = pattern;
    for (const char *from = prefix; *from; from++) {
        if (strchr ("*?[]\\", *from))
            *cursor++ = '\\';
        *cursor++ = *from;
    }
    *cursor++ = '*';
    *cursor = 0;
    return pattern;
}

static int
s_lost (reader_t *self, const char *what)
{
    char detail [256];
    snprintf (detail, sizeof (detail), "%s", zstate_reason ());
    return zstate_fail (ENOTCONN, "RESTORE %s: %s: %s", self->table, what, detail);
}

static int
s_check_deadline (reader_t *self)
{
    if (zclock_mono () > self->deadline)
        return zstate_fail (ETIMEDOUT, "RESTORE: %s not read within its timeout (%" PRIu64
                            " entries sent)", self->table, self->entries);
    return 0;
}

//  Send the group as one wire message
static void
s_send_group (reader_t *self)
{
    if (zstate_batch_size (self->group) == 0)
        return;
    static const byte session [ZSTATE_MSG_SESSION_SIZE] = { 0 };
    zframe_t *frame = zstate_msg_encode (session, ++self->sequence, self->db, self->table,
                                         self->group);
    //  Its size was checked op by op, and the names are valid
    assert (frame);
    self->entries += zstate_batch_size (self->group);
    //  No high-water mark: queued at once
    int rc = zframe_send (&frame, self->push, 0);
    if (rc)
        zframe_destroy (&frame);
    zstate_batch_reset (self->group);
}

//  Take the current reply, HGETALL of key, into the group
static void
s_take_entry (reader_t *self, const char *key, size_t key_size)
{
    size_t count = zstate_redis_elements (self->redis);
    if (zstate_redis_type (self->redis, -1) != ZSTATE_REDIS_ARRAY || count == 0)
        return;                 //  Gone since SCAN, or no hash
    zstate_batch_reset (self->one);
    int rc = zstate_batch_append (self->one, ZSTATE_OP_SET, key + self->prefix_size,
                                  key_size - self->prefix_size);
    for (size_t index = 0; rc == 0 && index + 1 < count; index += 2) {
        size_t name_size, value_size;
        const char *name = zstate_redis_str (self->redis, (int) index, &name_size);
        const char *value = zstate_redis_str (self->redis, (int) index + 1, &value_size);
        rc = zstate_batch_field (self->one, name, name_size, value, value_size);
    }
    size_t bytes = zstate_batch_bytes (self->one);
    if (rc || bytes + HEADER_ROOM > ZSTATE_MESSAGE_MAX) {
        if (self->skipped++ == 0)
            zsys_warning ("zstate_writer: RESTORE %s: skipped '%.*s', which no wire "
                          "message can carry", self->table, (int) key_size, key);
        return;
    }
    if (zstate_batch_size (self->group) == GROUP_MAX
    ||  zstate_batch_bytes (self->group) + bytes + HEADER_ROOM > ZSTATE_MESSAGE_MAX)
        s_send_group (self);
    rc = zstate_batch_load (self->group, zstate_batch_data (self->one), bytes, 1, NULL);
    assert (rc == 0);
}

//  Read count keys with HGETALL, pipelined, into the group
static int
s_read_keys (reader_t *self, char **keys, size_t *sizes, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        const char *argv [] = { "HGETALL", keys [index] };
        size_t argvlen [] = { 7, sizes [index] };
        if (zstate_redis_append (self->redis, 2, argv, argvlen))
            return s_lost (self, "HGETALL");
    }
    for (size_t index = 0; index < count; index++) {
        if (zstate_redis_next (self->redis, true) != 1)
            return s_lost (self, "HGETALL");
        s_take_entry (self, keys [index], sizes [index]);
    }
    return 0;
}

char *
zstate_writer_reader_key_text (const char *key, size_t size)
{
    //  Exactly the size it needs: a window keeps one per key
    size_t escaped = 0;
    for (size_t index = 0; index < size; index++)
        escaped += key [index] == 0 || key [index] == '\\';
    char *text = (char *) malloc (size + escaped + 1);
    assert (text);
    char *cursor = text;
    for (size_t index = 0; index < size; index++) {
        if (key [index] == 0 || key [index] == '\\') {
            *cursor++ = '\\';
            *cursor++ = key [index]? '\\': '0';
        }
        else
            *cursor++ = key [index];
    }
    *cursor = 0;
    return text;
}

//  The keys of SCAN's current reply that are new, copied (the next
//  command frees the reply), then read in groups
static int
s_scan_step (reader_t *self, char **cursor_p)
{
    zstr_free (cursor_p);
    *cursor_p = strdup (zstate_redis_str (self->redis, 0, NULL));
    assert (*cursor_p);
    size_t found = zstate_redis_nested_elements (self->redis, 1);
    char **keys = (char **) zmalloc ((found + 1) * sizeof (char *));
    size_t *sizes = (size_t *) zmalloc ((found + 1) * sizeof (size_t));
    assert (keys && sizes);
    size_t count = 0;
    for (size_t index = 0; index < found; index++) {
        size_t size;
        const char *key = zstate_redis_nested_str (self->redis, 1, index, &size);
        if (!key || size <= self->prefix_size
        || (size == strlen (self->marks_key) && memcmp (key, self->marks_key, size) == 0))
            continue;
        char *seen = zstate_writer_reader_key_text (key, size);
        if (zhashx_lookup (self->seen, seen) == NULL) {
            zhashx_insert (self->seen, seen, (void *) 1);
            keys [count] = (char *) malloc (size + 1);
            assert (keys [count]);
            memcpy (keys [count], key, size);
            keys [count][size] = 0;
            sizes [count++] = size;
        }
        free (seen);
    }
    int rc = 0;
    for (size_t first = 0; rc == 0 && first < count; first += GROUP_MAX) {
        size_t group = count - first < GROUP_MAX? count - first: GROUP_MAX;
        rc = s_read_keys (self, keys + first, sizes + first, group);
        if (rc == 0)
            rc = s_check_deadline (self);
    }
    for (size_t index = 0; index < count; index++)
        free (keys [index]);
    free (keys);
    free (sizes);
    return rc;
}

//  The table's watermarks, as n x 24 octets
static int
s_read_marks (reader_t *self, zframe_t **frame_p)
{
    const char *argv [] = { "HGETALL", self->marks_key };
    size_t argvlen [] = { 7, strlen (self->marks_key) };
    int type = zstate_redis_commandv (self->redis, 2, argv, argvlen);
    if (type == -1)
        return s_lost (self, "HGETALL");
    size_t count = type == ZSTATE_REDIS_ARRAY? zstate_redis_elements (self->redis) / 2: 0;
    zframe_t *frame = zframe_new (NULL, count * ZSTATE_WRITER_MARK_SIZE);
    assert (frame);
    size_t used = 0;
    for (size_t index = 0; index < count; index++) {
        size_t name_size, value_size;
        const char *name = zstate_redis_str (self->redis, (int) (2 * index), &name_size);
        const char *value = zstate_redis_str (self->redis, (int) (2 * index + 1), &value_size);
        if (name && value
        &&  zstate_writer_marks_parse (name, name_size, value, value_size,
                                       zframe_data (frame) + used) == 0)
            used += ZSTATE_WRITER_MARK_SIZE;
    }
    if (used < zframe_size (frame)) {
        zframe_t *exact = zframe_new (zframe_data (frame), used);
        zframe_destroy (&frame);
        frame = exact;
    }
    *frame_p = frame;
    return 0;
}

//  Marks, then SCAN to the end, then RESTORED
static int
s_reader_run (reader_t *self)
{
    zframe_t *marks = NULL;
    int rc = s_read_marks (self, &marks);
    char *pattern = zstate_writer_reader_pattern (self->prefix);
    char *cursor = strdup ("0");
    assert (cursor);
    do {
        if (rc)
            break;
        const char *argv [] = { "SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT };
        size_t argvlen [] = { 4, strlen (cursor), 5, strlen (pattern), 5, strlen (SCAN_COUNT) };
        int type = zstate_redis_commandv (self->redis, 6, argv, argvlen);
        if (type == -1)
            rc = s_lost (self, "SCAN");
        else
        if (type != ZSTATE_REDIS_ARRAY || zstate_redis_type (self->redis, 0) != ZSTATE_REDIS_STRING)
            rc = zstate_fail (ENOTCONN, "RESTORE: SCAN failed: %s",
                              type == ZSTATE_REDIS_ERROR? zstate_redis_str (self->redis, -1, NULL):
                              "no cursor");
        else
            rc = s_scan_step (self, &cursor);
        if (rc == 0)
            rc = s_check_deadline (self);
    } while (rc == 0 && !streq (cursor, "0"));
    if (rc == 0) {
        s_send_group (self);
        byte count [8];
        zstate_put_u64 (count, self->entries);
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "RESTORED");
        zmsg_addmem (msg, count, sizeof (count));
        zmsg_append (msg, &marks);
        if (zmsg_send (&msg, self->push))
            rc = zstate_fail (EINVAL, "RESTORE: cannot send RESTORED");
        zmsg_destroy (&msg);
    }
    zframe_destroy (&marks);
    free (cursor);
    free (pattern);
    return rc;
}

int
zstate_writer_reader_run (zstate_writer_config_t *config, const char *redis_endpoint,
                          const char *table, const char *endpoint, int timeout,
                          uint64_t *entries_p)
{
    assert (config && redis_endpoint && table && endpoint && entries_p);
    *entries_p = 0;
    if (!zstate_msg_name_valid (table)) {
        zstate_fail (EINVAL, "RESTORE: bad table name");
        return EINVAL;
    }
    reader_t self = { .table = table };
    self.deadline = zclock_mono () + timeout;
    snprintf (self.db, sizeof (self.db), "%d", config->db);
    self.prefix = zsys_sprintf ("%s%s", table, config->separator);
    self.prefix_size = strlen (self.prefix);
    self.marks_key = zsys_sprintf ("%s%s%s", ZSTATE_WRITER_MARKS_PREFIX, config->separator,
                                   table);
    self.seen = zhashx_new ();
    self.group = zstate_batch_new ();
    self.one = zstate_batch_new ();
    self.redis = zstate_redis_new (redis_endpoint);
    assert (self.prefix && self.marks_key && self.seen && self.group && self.one && self.redis);
    zstate_redis_set_db (self.redis, config->db);
    zstate_redis_set_password (self.redis, config->password);
    zstate_redis_set_timeouts (self.redis, config->connect_timeout, config->command_timeout);
    int rc = 0;
    if (zstate_redis_connect (self.redis))
        rc = s_lost (&self, "cannot reach Redis");
    else
    if (zstate_sock_reserve ("RESTORE", 1))
        rc = -1;
    else {
        self.push = zsock_new (ZMQ_PUSH);
        assert (self.push);
        //  Never blocks: a table's worth waits for the reader; what waits
        //  when the socket closes is still delivered, within the timeout
        zsock_set_sndhwm (self.push, 0);
        zsock_set_linger (self.push, timeout);
        if (zsock_connect (self.push, "%s", endpoint))
            rc = zstate_fail (EINVAL, "RESTORE: cannot connect to '%s'", endpoint);
        else
            rc = s_reader_run (&self);
    }
    if (rc == -1)
        rc = errno;
    if (self.skipped)
        zsys_warning ("zstate_writer: RESTORE %s: skipped %zu keys", table, self.skipped);
    *entries_p = self.entries;
    zsock_destroy (&self.push);
    zstate_redis_destroy (&self.redis);
    zstate_batch_destroy (&self.one);
    zstate_batch_destroy (&self.group);
    zhashx_destroy (&self.seen);
    zstr_free (&self.prefix);
    zstr_free (&self.marks_key);
    return rc;
}
