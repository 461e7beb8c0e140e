/*  =========================================================================
    zstate_fault_model - what the producer wrote, checked against what the
    application popped and what Redis holds

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_fault_model.h"
#include "zstate_fault_server.h"
#include "zstate_redis_server.h"
#include <hiredis/hiredis.h>
#include "../zstate_test_assert.h"   //  last: asserts on in every build

#define ACCEPTED    0x80        //  in an operation's byte: send accepted it
#define SEEN_MAX    0x7F        //  pops counted per operation, saturating

struct _zstate_fault_model_t {
    size_t keys;
    size_t ops;
    int64_t next;               //  next operation number
    uint64_t accepted;
    byte *state;                //  per operation: ACCEPTED | pops
    unsigned *last_accepted;    //  per key: last seq accepted, 0 none
    unsigned *view;             //  per key: last seq popped
    unsigned *highest;          //  per key: highest seq popped
    unsigned *covered;          //  per key: highest seq ever restored
    unsigned *newest;           //  per key: highest seq any instance popped
    unsigned *seen_in;          //  per operation: last instance that had it
    unsigned instance;          //  of the line being read, from 1
};

zstate_fault_model_t *
zstate_fault_model_new (size_t keys, size_t ops)
{
    assert (keys > 0 && keys < 10000000);
    zstate_fault_model_t *self = (zstate_fault_model_t *) zmalloc (sizeof (*self));
    assert (self);
    self->keys = keys;
    self->ops = ops;
    self->state = (byte *) zmalloc (ops + 1);
    self->last_accepted = (unsigned *) zmalloc (keys * sizeof (unsigned));
    self->view = (unsigned *) zmalloc (keys * sizeof (unsigned));
    self->highest = (unsigned *) zmalloc (keys * sizeof (unsigned));
    self->covered = (unsigned *) zmalloc (keys * sizeof (unsigned));
    self->newest = (unsigned *) zmalloc (keys * sizeof (unsigned));
    self->seen_in = (unsigned *) zmalloc ((ops + 1) * sizeof (unsigned));
    assert (self->state && self->last_accepted && self->view && self->highest);
    assert (self->covered && self->newest && self->seen_in);
    return self;
}

void
zstate_fault_model_destroy (zstate_fault_model_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_fault_model_t *self = *self_p;
        free (self->state);
        free (self->last_accepted);
        free (self->view);
        free (self->highest);
        free (self->covered);
        free (self->newest);
        free (self->seen_in);
        free (self);
        *self_p = NULL;
    }
}

int64_t
zstate_fault_model_next (zstate_fault_model_t *self, char *key, unsigned *seq_p)
{
    assert (self);
    if ((size_t) self->next >= self->ops)
        return -1;
    snprintf (key, 16, "k%07u", (unsigned) ((size_t) self->next % self->keys));
    *seq_p = (unsigned) ((size_t) self->next / self->keys + 1);
    return self->next;
}

void
zstate_fault_model_sent (zstate_fault_model_t *self, int64_t op, bool accepted)
{
    assert (self);
    assert (op == self->next);
    if (accepted) {
        self->state [op] |= ACCEPTED;
        self->last_accepted [(size_t) op % self->keys] = (unsigned) ((size_t) op / self->keys + 1);
        self->accepted++;
    }
    self->next++;
}

uint64_t
zstate_fault_model_accepted (zstate_fault_model_t *self)
{
    assert (self);
    return self->accepted;
}

//  The operation a line names, or -1 when it names none that was sent
static int64_t
s_operation (zstate_fault_model_t *self, unsigned key, unsigned seq)
{
    int64_t op = seq? (int64_t) (seq - 1) * (int64_t) self->keys + key: -1;
    return key >= self->keys || op < 0 || op >= self->next? -1: op;
}

//  A restored entry: the instance starts with it in its view
static void
s_restore (zstate_fault_model_t *self, unsigned key, unsigned seq,
           zstate_fault_result_t *result)
{
    result->restored++;
    int64_t op = s_operation (self, key, seq);
    if (op == -1) {
        result->unknown++;
        return;
    }
    self->seen_in [op] = self->instance;
    self->view [key] = self->highest [key] = seq;
    if (seq > self->covered [key])
        self->covered [key] = seq;
}

//  Apply one popped line: key number and seq
static void
s_apply (zstate_fault_model_t *self, unsigned key, unsigned seq, zstate_fault_result_t *result)
{
    result->popped++;
    int64_t op = s_operation (self, key, seq);
    if (op == -1) {
        result->unknown++;
        return;
    }
    byte *state = &self->state [op];
    if (self->seen_in [op] == self->instance)
        result->duplicates++;
    self->seen_in [op] = self->instance;
    if ((*state & SEEN_MAX) < SEEN_MAX)
        (*state)++;
    if (seq < self->highest [key])
        result->regressions++;
    else
        self->highest [key] = seq;
    self->view [key] = seq;
    if (seq > self->newest [key])
        self->newest [key] = seq;
}

int
zstate_fault_model_check_log (zstate_fault_model_t *self, const char *path,
                              zstate_fault_result_t *result)
{
    assert (self);
    assert (result);
    memset (result, 0, sizeof (*result));
    for (int64_t op = 0; op < self->next; op++)
        self->state [op] &= ACCEPTED;
    memset (self->view, 0, self->keys * sizeof (unsigned));
    memset (self->highest, 0, self->keys * sizeof (unsigned));
    memset (self->covered, 0, self->keys * sizeof (unsigned));
    memset (self->newest, 0, self->keys * sizeof (unsigned));
    memset (self->seen_in, 0, (self->ops + 1) * sizeof (unsigned));
    self->instance = 1;
    result->sent = (uint64_t) self->next;
    result->accepted = self->accepted;
    FILE *file = fopen (path, "r");
    if (!file && errno != ENOENT)
        return -1;
    char line [ZSTATE_FAULT_LINE + 3];
    while (file && fgets (line, sizeof (line), file)) {
        unsigned key, seq;
        if (streq (line, "I\n")) {
            //  The application starts again, with nothing
            result->instances++;
            self->instance++;
            memset (self->view, 0, self->keys * sizeof (unsigned));
            memset (self->highest, 0, self->keys * sizeof (unsigned));
        }
        else
        if (line [0] == 'R' && sscanf (line + 1, "%u %u", &key, &seq) == 2)
            s_restore (self, key, seq, result);
        else
        if (sscanf (line, "%u %u", &key, &seq) == 2)
            s_apply (self, key, seq, result);
        else
            result->unknown++;
    }
    if (file)
        fclose (file);
    //  An accepted write nobody popped is covered by a restored entry of
    //  its key with that seq or a later one; else coalesced when some
    //  instance popped a later seq of its key (the outbox folded it into
    //  that one); else lost
    for (int64_t op = 0; op < self->next; op++) {
        if (!(self->state [op] & ACCEPTED) || (self->state [op] & SEEN_MAX))
            continue;
        size_t key = (size_t) op % self->keys;
        unsigned seq = (unsigned) ((size_t) op / self->keys + 1);
        if (seq <= self->covered [key])
            continue;
        if (seq < self->newest [key])
            result->coalesced++;
        else
            result->lost++;
    }
    for (size_t key = 0; key < self->keys; key++)
        if (self->view [key] != self->last_accepted [key])
            result->wrong_keys++;
    return 0;
}

int64_t
zstate_fault_model_check_redis (zstate_fault_model_t *self, const char *endpoint,
                                const char *table)
{
    assert (self);
    char host [64];
    int port = 0;
    if (sscanf (endpoint, "%63[^:]:%d", host, &port) != 2)
        return -1;
    struct timeval timeout = { 5, 0 };
    redisContext *redis = redisConnectWithTimeout (host, port, timeout);
    if (!redis || redis->err) {
        if (redis)
            redisFree (redis);
        return -1;
    }
    redisSetTimeout (redis, timeout);
    int64_t wrong = 0;
    //  Pipelined in rounds, so neither side holds every reply at once
    for (size_t first = 0; first < self->keys && wrong >= 0; first += 1000) {
        size_t last = first + 1000 < self->keys? first + 1000: self->keys;
        for (size_t key = first; key < last; key++) {
            char name [16];
            snprintf (name, sizeof (name), "k%07u", (unsigned) key);
            redisAppendCommand (redis, "HGET %s:%s seq", table, name);
        }
        for (size_t key = first; key < last; key++) {
            redisReply *reply = NULL;
            if (redisGetReply (redis, (void **) &reply) != REDIS_OK || !reply) {
                wrong = -1;
                break;
            }
            unsigned seq = reply->type == REDIS_REPLY_STRING? (unsigned) atol (reply->str): 0;
            if (seq != self->last_accepted [key])
                wrong++;
            freeReplyObject (reply);
        }
    }
    redisFree (redis);
    return wrong;
}

//  --------------------------------------------------------------------------
//  Self test

//  Instances of the application in one log, each from what it restored
static void
s_test_instances (zstate_fault_model_t *model, const char *path)
{
    zstate_fault_result_t result;
    FILE *file;
    //  Instances: the first pops k0 1, k1 1, k0 2 and dies; the second
    //  restores k0 2 and k1 1, and pops k1 2 and k0 3: nothing lost or
    //  twice, though k1 1 and k0 2 were seen by both
    file = fopen (path, "w");
    fprintf (file, "%07u %09u\n%07u %09u\n%07u %09u\n", 0, 1, 1, 1, 0, 2);
    fprintf (file, "I\nR%07u %09u\nR%07u %09u\n", 0, 2, 1, 1);
    fprintf (file, "%07u %09u\n%07u %09u\n", 1, 2, 0, 3);
    fclose (file);
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.lost == 0 && result.duplicates == 0 && result.regressions == 0);
    assert (result.wrong_keys == 0 && result.unknown == 0);
    assert (result.instances == 1 && result.restored == 2 && result.popped == 5);
    //  A restore that covers k0 1 unseen (k0 2 restored) loses nothing; a
    //  live pop of what the instance restored is a duplicate, of a lower
    //  seq a regression; the final view is the last instance's
    file = fopen (path, "w");
    fprintf (file, "%07u %09u\n", 1, 1);
    fprintf (file, "I\nR%07u %09u\nR%07u %09u\n", 0, 2, 1, 1);
    fprintf (file, "%07u %09u\n%07u %09u\n%07u %09u\n", 1, 1, 0, 1, 0, 3);
    fprintf (file, "I\nR%07u %09u\n", 0, 3);
    fclose (file);
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.lost == 1);          //  k1 2: never popped nor restored
    assert (result.duplicates == 1 && result.regressions == 1);
    assert (result.wrong_keys == 1);    //  k1: the last instance has nothing
    assert (result.instances == 2 && result.restored == 3);
}

//  Coalesced writes, on the model of s_test (k0 1..3, k1 1..2 accepted):
//  a write nobody popped is coalesced only when a later seq of its key was
//  popped, in any instance; lost, regressions and wrong keys stay as they
//  were
static void
s_test_coalesced (zstate_fault_model_t *model, const char *path)
{
    zstate_fault_result_t result;
    //  k0 pops only 3: 1 and 2 were folded into it; k1 pops only 1: its
    //  last accepted write, 2, has nothing later and is lost
    FILE *file = fopen (path, "w");
    fprintf (file, "%07u %09u\n%07u %09u\n", 0, 3, 1, 1);
    fclose (file);
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.coalesced == 2 && result.lost == 1);
    assert (result.duplicates == 0 && result.regressions == 0);
    assert (result.wrong_keys == 1 && result.unknown == 0);
    //  A later seq coalesces what it follows, a lower one after it is
    //  still a regression (k0 3 then 1), and the final view still counts
    file = fopen (path, "w");
    fprintf (file, "%07u %09u\n%07u %09u\n%07u %09u\n", 0, 3, 0, 1, 1, 2);
    fclose (file);
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.coalesced == 2 && result.lost == 0);   //  k0 2, k1 1
    assert (result.regressions == 1 && result.wrong_keys == 1);
    //  Across instances: the first popped k0 3 and k1 2, the second starts
    //  empty and pops k1 2: k0 1, 2 and k1 1 are coalesced, never lost,
    //  but k0 is a wrong key, since the last instance never saw it
    file = fopen (path, "w");
    fprintf (file, "%07u %09u\n%07u %09u\nI\n%07u %09u\n", 0, 3, 1, 2, 1, 2);
    fclose (file);
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.coalesced == 3 && result.lost == 0 && result.duplicates == 0);
    assert (result.wrong_keys == 1 && result.instances == 1);
    //  A restored entry covers before a pop supersedes: k0 2 restored
    //  covers k0 1 (not coalesced), k0 3 popped coalesces nothing more
    file = fopen (path, "w");
    fprintf (file, "I\nR%07u %09u\n%07u %09u\n%07u %09u\n", 0, 2, 0, 3, 1, 2);
    fclose (file);
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.coalesced == 1 && result.lost == 0);   //  k1 1
    assert (result.wrong_keys == 0 && result.restored == 1);
}

void
zstate_fault_model_test (bool verbose)
{
    printf (" * zstate_fault_model: ");
    //  Two keys, six operations: k0 seq 1..3, k1 seq 1..3
    zstate_fault_model_t *model = zstate_fault_model_new (2, 6);
    char key [16];
    unsigned seq;
    for (int index = 0; index < 6; index++) {
        int64_t op = zstate_fault_model_next (model, key, &seq);
        assert (op == index);
        assert (seq == (unsigned) index / 2 + 1);
        assert (streq (key, index % 2? "k0000001": "k0000000"));
        //  k1 seq 3 is refused: nobody may expect it
        zstate_fault_model_sent (model, op, index != 5);
    }
    assert (zstate_fault_model_next (model, key, &seq) == -1);
    assert (zstate_fault_model_accepted (model) == 5);

    char path [] = "/tmp/zstate-fault-model-XXXXXX";
    int fd = mkstemp (path);
    assert (fd != -1);
    FILE *file = fdopen (fd, "w");
    //  k0: 1, 3, 2 (a regression; view 2 is wrong); k1: 1, 1 (a duplicate;
    //  seq 2 lost, view 1 wrong); one line naming no operation sent
    fprintf (file, "%07u %09u\n%07u %09u\n%07u %09u\n", 0, 1, 0, 3, 0, 2);
    fprintf (file, "%07u %09u\n%07u %09u\n%07u %09u\n", 1, 1, 1, 1, 1, 9);
    fclose (file);
    zstate_fault_result_t result;
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.sent == 6 && result.accepted == 5 && result.popped == 6);
    assert (result.lost == 1);
    assert (result.duplicates == 1);
    assert (result.regressions == 1);
    assert (result.wrong_keys == 2);
    assert (result.unknown == 1);
    //  Checking again gives the same answer
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.lost == 1 && result.duplicates == 1 && result.regressions == 1);

    //  A log that is exactly the model
    file = fopen (path, "w");
    fprintf (file, "%07u %09u\n%07u %09u\n%07u %09u\n", 0, 1, 1, 1, 0, 2);
    fprintf (file, "%07u %09u\n%07u %09u\n", 1, 2, 0, 3);
    fclose (file);
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.lost == 0 && result.duplicates == 0 && result.regressions == 0);
    assert (result.wrong_keys == 0 && result.unknown == 0 && result.popped == 5);
    s_test_instances (model, path);
    s_test_coalesced (model, path);
    unlink (path);
    //  No log yet: everything accepted is lost
    assert (zstate_fault_model_check_log (model, path, &result) == 0);
    assert (result.lost == 5 && result.coalesced == 0 && result.wrong_keys == 2);
    if (verbose)
        zsys_info ("zstate_fault_model test: %" PRIu64 " lost with no log", result.lost);

    //  Redis: k0 must hold seq 3, k1 seq 2 (its seq 3 was refused)
    zstate_redis_server_t *redis = zstate_redis_server_new (false);
    assert (redis);
    const char *endpoint = zstate_redis_server_endpoint (redis);
    redisContext *context = redisConnect ("127.0.0.1", zstate_redis_server_port (redis));
    assert (context && !context->err);
    assert (zstate_fault_model_check_redis (model, endpoint, "T") == 2);
    freeReplyObject (redisCommand (context, "HSET T:k0000000 seq 3"));
    freeReplyObject (redisCommand (context, "HSET T:k0000001 seq 3"));
    assert (zstate_fault_model_check_redis (model, endpoint, "T") == 1);
    freeReplyObject (redisCommand (context, "HSET T:k0000001 seq 2"));
    assert (zstate_fault_model_check_redis (model, endpoint, "T") == 0);
    //  Another table is another set of hashes
    assert (zstate_fault_model_check_redis (model, endpoint, "OTHER") == 2);
    redisFree (context);
    zstate_redis_server_kill (redis);
    assert (zstate_fault_model_check_redis (model, endpoint, "T") == -1);
    zstate_redis_server_destroy (&redis);
    zstate_fault_model_destroy (&model);
    assert (model == NULL);
    printf ("OK\n");
}
