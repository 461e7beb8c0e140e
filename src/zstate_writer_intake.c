/*  =========================================================================
    zstate_writer_intake - the writer's input: wire messages decoded into
    the backlog, each operation under its Redis key

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    One decoder and one batch, reused for every message, and a scratch
    buffer for the Redis key; the backlog coalesces an operation on a
    pending key into its entry.
@discuss
    The backlog has no bound of its own here: the writer stops reading at
    its bound instead, so that what waits stays in the PULL socket.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_intake.h"

struct _zstate_writer_intake_t {
    zstate_backlog_t *backlog;  //  Where operations go
    zstate_msg_t *msg;          //  Decoder, reused
    zstate_batch_t *batch;      //  Operations of the message at hand
    byte *keybuf;               //  Scratch: the Redis key being built
    size_t keybuf_max;
};


//  --------------------------------------------------------------------------
//  Create and destroy

zstate_writer_intake_t *
zstate_writer_intake_new (zstate_backlog_t *backlog)
{
    assert (backlog);
    zstate_writer_intake_t *self =
        (zstate_writer_intake_t *) zmalloc (sizeof (zstate_writer_intake_t));
    assert (self);
    self->backlog = backlog;
    self->msg = zstate_msg_new ();
    self->batch = zstate_batch_new ();
    assert (self->msg && self->batch);
    return self;
}

void
zstate_writer_intake_destroy (zstate_writer_intake_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_intake_t *self = *self_p;
        zstate_batch_destroy (&self->batch);
        zstate_msg_destroy (&self->msg);
        free (self->keybuf);
        free (self);
        *self_p = NULL;
    }
}


//  Accept operation index of the current batch, for table: into the
//  backlog, under its Redis key. Returns 1 when it coalesced.
static int
s_accept (zstate_writer_intake_t *self, const char *table, size_t table_size,
          const char *separator, size_t separator_size, size_t index, int64_t now)
{
    size_t key_size;
    const char *key = zstate_batch_key (self->batch, index, &key_size);
    size_t size = table_size + separator_size + key_size;
    if (size > self->keybuf_max) {
        self->keybuf_max = size * 2;
        self->keybuf = (byte *) realloc (self->keybuf, self->keybuf_max);
        assert (self->keybuf);
    }
    memcpy (self->keybuf, table, table_size);
    memcpy (self->keybuf + table_size, separator, separator_size);
    memcpy (self->keybuf + table_size + separator_size, key, key_size);
    //  Unbounded, and the decoder let only valid operations through: the
    //  backlog cannot refuse
    int rc = zstate_backlog_add_batch (self->backlog, self->keybuf, size,
                                       self->batch, index, now);
    assert (rc == 0 || rc == 1);
    return rc;
}

//  Decode the message into the batch; returns ZSTATE_WIRE_*
static int
s_decode (zstate_writer_intake_t *self, const byte *data, size_t size)
{
    int rc = zstate_msg_decode_header (self->msg, data, size);
    if (rc == ZSTATE_WIRE_OK) {
        //  Loading walks and checks every operation; no need to decode twice
        size_t ops_size = 0;
        const byte *ops = zstate_msg_ops (self->msg, &ops_size);
        size_t count = zstate_msg_op_count (self->msg);
        zstate_batch_reset (self->batch);
        size_t used = 0;
        rc = zstate_batch_load (self->batch, ops, ops_size, count, &used);
        if (rc == ZSTATE_WIRE_OK && used != ops_size)
            rc = ZSTATE_WIRE_TRAILING;
    }
    return rc;
}

int
zstate_writer_intake_receive (zstate_writer_intake_t *self, zsock_t *data,
                              const char *separator, zstate_writer_stats_t *stats)
{
    assert (self);
    assert (data);
    assert (separator);
    assert (stats);
    zmq_msg_t message;
    zmq_msg_init (&message);
    void *handle = zsock_resolve (data);
    if (zmq_msg_recv (&message, handle, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&message);
        return -1;
    }
    int rc = ZSTATE_WIRE_OK;
    if (zmq_msg_more (&message)) {
        //  A wire message is one frame: drop the whole multipart
        rc = ZSTATE_WIRE_FRAMES;
        while (zmq_msg_more (&message)
        &&     zmq_msg_recv (&message, handle, ZMQ_DONTWAIT) != -1) ;
    }
    if (rc == ZSTATE_WIRE_OK)
        rc = s_decode (self, (const byte *) zmq_msg_data (&message),
                       zmq_msg_size (&message));
    if (rc == ZSTATE_WIRE_OK) {
        const char *table = zstate_msg_table (self->msg);
        size_t table_size = strlen (table);
        size_t separator_size = strlen (separator);
        size_t count = zstate_msg_op_count (self->msg);
        int64_t now = zclock_mono ();
        for (size_t index = 0; index < count; index++)
            stats->coalesced += s_accept (self, table, table_size, separator,
                                          separator_size, index, now);
        stats->messages++;
        stats->ops += count;
    }
    else
        stats->malformed++;
    zmq_msg_close (&message);
    return rc;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: as the writer's actor uses the intake

//  Wait up to 10 s for a message, then take it in
static int
s_test_receive (zstate_writer_intake_t *intake, zsock_t *data, zstate_writer_stats_t *stats)
{
    zmq_pollitem_t item = { zsock_resolve (data), 0, ZMQ_POLLIN, 0 };
    assert (zmq_poll (&item, 1, 10000) == 1);
    return zstate_writer_intake_receive (intake, data, "|", stats);
}

void
zstate_writer_intake_test (bool verbose)
{
    printf (" * zstate_writer_intake: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  What the PULL socket receives goes into the backlog under Redis keys
    zsock_t *data = zsock_new_pull ("inproc://zstate-intake-test");
    zsock_t *push = zsock_new_push ("inproc://zstate-intake-test");
    assert (data && push);
    zstate_backlog_t *backlog = zstate_backlog_new ();
    zstate_writer_intake_t *intake = zstate_writer_intake_new (backlog);
    zstate_writer_stats_t stats = { 0 };
    assert (zstate_writer_intake_receive (intake, data, "|", &stats) == -1);
    zstate_batch_t *batch = zstate_batch_new ();
    zstate_batch_set (batch, "Ethernet0", "mtu", "9100", NULL);
    zstate_batch_hset (batch, "Ethernet0", "mtu", "1500", NULL);
    zstate_batch_del (batch, "Ethernet4");
    byte session [ZSTATE_MSG_SESSION_SIZE] = { 0 };
    zframe_t *frame = zstate_msg_encode (session, 1, "CONFIG_DB", "PORT", batch);
    assert (frame);
    zframe_t *copy = zframe_dup (frame);
    assert (zframe_send (&frame, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_OK);
    //  The HSET folded into the pending SET on the same key
    assert (stats.messages == 1 && stats.ops == 3 && stats.coalesced == 1);
    assert (zstate_backlog_pending (backlog) == 2);
    zstate_backlog_entry_t *entry = zstate_backlog_take (backlog);
    assert (streq (zstate_backlog_entry_key (entry, NULL), "PORT|Ethernet0"));
    zstate_backlog_confirm (backlog, &entry);
    //  @end

    //  Dropped and counted, the backlog untouched: a multipart message,
    //  a bad header, bytes after the last operation
    assert (zstr_sendm (push, "two") == 0 && zstr_send (push, "frames") == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_FRAMES);
    assert (zstr_send (push, "nonsense") == 0);
    int rc = s_test_receive (intake, data, &stats);
    assert (rc != ZSTATE_WIRE_OK && rc != -1);
    zframe_t *longer = zframe_new (NULL, zframe_size (copy) + 1);
    memcpy (zframe_data (longer), zframe_data (copy), zframe_size (copy));
    zframe_data (longer) [zframe_size (copy)] = 0;
    assert (zframe_send (&longer, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_TRAILING);
    assert (stats.malformed == 3 && stats.messages == 1);
    assert (zstate_backlog_pending (backlog) == 1);
    //  The same message whole is still good
    assert (zframe_send (&copy, push, 0) == 0);
    assert (s_test_receive (intake, data, &stats) == ZSTATE_WIRE_OK);
    assert (stats.messages == 2 && zstate_backlog_pending (backlog) == 2);

    zstate_batch_destroy (&batch);
    zstate_writer_intake_destroy (&intake);
    zstate_backlog_destroy (&backlog);
    zsock_destroy (&push);
    zsock_destroy (&data);
    printf ("OK\n");
}
#endif
