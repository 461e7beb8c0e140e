/*  =========================================================================
    zstate_server_replay - sessions granted REPLAY that a full DB writer
    fell behind, and their replay to the writer

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A Redis outage must not stop the hot path. When a route's writer PUSH
    is full for the next message of a session whose client keeps every
    message until P covers it (granted REPLAY, at either level), the
    message goes to the consumer only, and so does every later one of that
    session for that route: the session is *behind* there, from written,
    the last sequence the writer got. P stays below what the writer lacks
    (the server marks those messages forwarded, so that P waits for the
    writer's watermark).
@discuss
    A timer looks at the writers of the routes behind; once one has room,
    the session gets REPLAY (from written + 1, or written itself after a
    round that did not end whole: the message numbered written may be part
    of a coalesced block the client sends again whole), to at most
    ROUND_SEQUENCES on, with a nonce; a round that ends with the route
    still behind is followed at once by the next while the writer has
    room, so that each round costs what the writer can take; and it asks
    for ROUND_MESSAGES at most, which bounds a coalesced block too (a round
    that came to it keeps its held message for the next, which tells
    whether the block goes on). A session has one
    round at a time, since its client answers only the latest REPLAY: it
    goes for every route of the session behind whose writer has room, from
    the earliest that any of them lacks, and its PONG ends the round of
    each; a route whose writer has no room yet waits for the next round.
    The client sends again what it holds from there, of every table, in
    order and before anything new, then PONG with the nonce. Those
    messages are duplicates for the consumer; here, each of a route in the
    round that is not older than its own from goes to the writer only,
    with its watermark (version 2), so that Redis never holds more than
    its watermarks say: a server killed in the middle of a round restores
    a consistent table and the client resends from there, and the
    application sees no value go back. A replayed OPS is held until the
    next one comes: the messages of a coalesced block all carry the
    block's last sequence, so one followed by the same sequence goes as
    version 1 (a watermark after the first would claim the rest); the last
    of a round goes at its PONG: when the writer got every message of its
    route up to the last that went to the consumer only, its watermark,
    written after all the rest (the writer's transactions are prefix
    consistent), moves P (to D once no route of the session is behind),
    and the route is caught up. A replayed message the writer cannot
    take makes the round broken: the rest of it is dropped, and the next
    round asks from written again, skipping the messages so numbered that
    the writer has (each message's place among those of its sequence is
    counted in the round, of every table), so that a coalesced block
    larger than the writer can take gets further in every round instead
    of starting again at its first message for ever. A round whose PONG
    never comes (the connection broke; the client starts afresh at its
    WELCOME) is given up after ROUND_MAX; what came in the round after
    one given up, or in another connection, is not counted on for a skip.
@end
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"
#include "zstate_server_sessions.h"
#include "zstate_server_replay.h"

#define TICK_IVL            20      //  msecs between looks at the writers
#define ROUND_SEQUENCES     128     //  asked for in one round: about what
                                    //  the pipe to a writer holds (its PUSH
                                    //  and PULL high-water marks), so that a
                                    //  round the writer cannot take wastes
                                    //  little
#define ROUND_MESSAGES      256     //  and messages at most, of a coalesced
                                    //  block too; more than ROUND_SEQUENCES,
                                    //  so that a round of one message per
                                    //  sequence does not look cut at its end
#define ROUND_MAX           30000   //  msecs a round may wait for its PONG
#define NONCE_BASE          (1ULL << 62)    //  above any PING's nonce

typedef struct {
    byte session [ZSTATE_MSG_SESSION_SIZE];
    zstate_server_route_t *route;
    uint64_t written;           //  the last sequence the writer got, all of
                                //  it but after a broken round: then it has
                                //  the first safe of those numbered written
    uint32_t safe;
    uint64_t lacks;             //  the last sequence it lacks
    bool replayed;              //  a replayed message went to the writer, in a
                                //  round that did not end whole at its PONG
    bool round_got;             //  one went in this round
    bool in_round;              //  a REPLAY went, its PONG did not come
    bool ready;                 //  at this tick: not in a round, room
    bool broken;                //  the writer refused one of this round
    uint64_t run;               //  sequence of the round's latest message
    uint32_t run_index;         //  how many so numbered came in the round,
                                //  of every table, with those skipped
    uint64_t round_to;          //  the round's to
    uint32_t round_count;       //  messages numbered up to it that came
    bool keep_held;             //  a round cut at its count kept the held
    bool trusted;               //  no round given up since its last PONG
    bool round_clean;           //  trusted when the round started: nothing
                                //  of an earlier round is still coming
    uint32_t hellos;            //  of the session when the round started
    uint64_t nonce;             //  of the round's REPLAY
    int64_t round_at;           //  zclock_mono when it went
    zmq_msg_t held;             //  the last replayed OPS, not yet sent
    bool has_held;
    uint64_t held_sequence;
    uint32_t held_index;        //  its place among those so numbered
} entry_t;

struct _zstate_server_replay_t {
    zloop_t *loop;
    zstate_server_sessions_t *sessions;
    zstate_server_stats_t *stats;
    zlistx_t *entries;          //  entry_t, one per (session, route) behind
    int timer;                  //  while any, or -1
    uint64_t nonce;             //  of the last REPLAY
};

static void
s_entry_free (void **item_p)
{
    entry_t *entry = (entry_t *) *item_p;
    if (entry) {
        zmq_msg_close (&entry->held);
        free (entry);
        *item_p = NULL;
    }
}

static void
    s_pong (void *arg, const byte *session, uint64_t nonce);

zstate_server_replay_t *
zstate_server_replay_new (zloop_t *loop, zstate_server_sessions_t *sessions,
                          zstate_server_stats_t *stats)
{
    zstate_server_replay_t *self =
        (zstate_server_replay_t *) zmalloc (sizeof (zstate_server_replay_t));
    assert (self);
    self->loop = loop;
    self->sessions = sessions;
    self->stats = stats;
    self->entries = zlistx_new ();
    assert (self->entries);
    zlistx_set_destructor (self->entries, s_entry_free);
    self->timer = -1;
    self->nonce = NONCE_BASE;
    zstate_server_sessions_set_pong (sessions, s_pong, self);
    return self;
}

void
zstate_server_replay_destroy (zstate_server_replay_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_server_replay_t *self = *self_p;
        if (self->timer != -1)
            zloop_timer_end (self->loop, self->timer);
        zlistx_destroy (&self->entries);
        free (self);
        *self_p = NULL;
    }
}

//  Forget entry, and say how many are behind now
static void
s_delete (zstate_server_replay_t *self, entry_t *entry)
{
    zlistx_delete (self->entries, zlistx_find (self->entries, entry));
    self->stats->behind = zlistx_size (self->entries);
}

static entry_t *
s_lookup (zstate_server_replay_t *self, const byte *session, zstate_server_route_t *route)
{
    entry_t *entry = (entry_t *) zlistx_first (self->entries);
    for (; entry; entry = (entry_t *) zlistx_next (self->entries))
        if (entry->route == route && !memcmp (entry->session, session, ZSTATE_MSG_SESSION_SIZE))
            return entry;
    return NULL;
}

bool
zstate_server_replay_behind (zstate_server_replay_t *self, const byte *session,
                             zstate_server_route_t *route)
{
    assert (self);
    return zlistx_size (self->entries) && s_lookup (self, session, route);
}

bool
zstate_server_replay_active (zstate_server_replay_t *self)
{
    assert (self);
    return zlistx_size (self->entries) > 0;
}

static int
    s_tick (zloop_t *loop, int timer_id, void *arg);

void
zstate_server_replay_lacks (zstate_server_replay_t *self, const byte *session,
                            zstate_server_route_t *route, uint64_t sequence)
{
    assert (self);
    entry_t *entry = s_lookup (self, session, route);
    if (entry) {
        if (sequence > entry->lacks)
            entry->lacks = sequence;
        return;
    }
    entry = (entry_t *) zmalloc (sizeof (entry_t));
    assert (entry);
    memcpy (entry->session, session, ZSTATE_MSG_SESSION_SIZE);
    entry->route = route;
    entry->written = sequence - 1;
    entry->lacks = sequence;
    entry->trusted = true;
    zmq_msg_init (&entry->held);
    zlistx_add_end (self->entries, entry);
    self->stats->behind = zlistx_size (self->entries);
    if (self->timer == -1) {
        self->timer = zloop_timer (self->loop, TICK_IVL, 0, s_tick, self);
        assert (self->timer != -1);
    }
    zsys_warning ("zstate_server: the writer of %s/%s is full; a session goes on "
                  "without it from sequence %" PRIu64 ", to replay later",
                  route->db, route->table, sequence);
}

//  The first sequence the writer may lack: the one after written, or
//  written itself once a replay went in a round that did not end whole
//  (it may be part of a coalesced block the client sends again whole)
static uint64_t
s_from (entry_t *entry)
{
    return entry->replayed? entry->written: entry->written + 1;
}

//  Send msg to route's writer without waiting; msg is sent or closed,
//  and empty either way. False when the writer cannot take it
static bool
s_send (zstate_server_route_t *route, zmq_msg_t *msg)
{
    if (route->forward
    &&  zmq_msg_send (msg, route->forward_handle, ZMQ_DONTWAIT) != -1)
        return true;
    zmq_msg_close (msg);
    zmq_msg_init (msg);
    return false;
}

//  Send a copy of msg to route's writer without waiting
static bool
s_forward (zstate_server_route_t *route, zmq_msg_t *msg)
{
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    int rc = zmq_msg_copy (&copy, msg);
    assert (rc == 0);
    return s_send (route, &copy);
}

//  Forget the held OPS, if any
static void
s_drop_held (entry_t *entry)
{
    zmq_msg_close (&entry->held);
    zmq_msg_init (&entry->held);
    entry->has_held = false;
}

//  Send the held OPS to the writer: as version 2 (its watermark) unless
//  another of its coalesced block follows. False when the writer cannot
//  take it; it is gone either way
static bool
s_send_held (zstate_server_replay_t *self, entry_t *entry, bool block_goes_on)
{
    if (!entry->has_held)
        return true;
    entry->has_held = false;
    if (block_goes_on)
        ((byte *) zmq_msg_data (&entry->held)) [2] = ZSTATE_MSG_VERSION;
    if (!s_send (entry->route, &entry->held))
        return false;
    self->stats->replayed++;
    return true;
}

//  Count a message of session sent again in its round: its place among
//  those of its sequence, for the entries of session in the round (all
//  of them in the same one). UINT32_MAX for a message that came once the
//  round had come to its count: a client in its WELCOME resend sends on
//  past the REPLAY's bound, and the round's held message must wait for
//  the next round, not go with its watermark ahead of what follows it in
//  the block. Such a message is not counted: the writer will lack it.
static uint32_t
s_count (zstate_server_replay_t *self, const byte *session, uint64_t sequence)
{
    uint32_t index = 0;
    entry_t *entry = (entry_t *) zlistx_first (self->entries);
    for (; entry; entry = (entry_t *) zlistx_next (self->entries))
        if (entry->in_round && !memcmp (entry->session, session, ZSTATE_MSG_SESSION_SIZE)) {
            if (entry->round_count >= ROUND_MESSAGES) {
                index = UINT32_MAX;
                continue;
            }
            if (entry->run != sequence) {
                entry->run = sequence;
                entry->run_index = 0;
            }
            index = entry->run_index++;
            if (sequence <= entry->round_to)
                entry->round_count++;
        }
    return index;
}

bool
zstate_server_replay_input (zstate_server_replay_t *self, const byte *session,
                            uint64_t sequence, zstate_server_route_t *route,
                            int kind, zmq_msg_t *payload)
{
    assert (self);
    uint32_t index = s_count (self, session, sequence);
    entry_t *entry = route? s_lookup (self, session, route): NULL;
    if (!entry)
        return false;
    if (index == UINT32_MAX
    ||  !entry->in_round || entry->broken || sequence < s_from (entry)
    ||  (entry->has_held && sequence == entry->held_sequence
         && index <= entry->held_index)) {
        self->stats->replay_dropped++;      //  Not lacked, or held already
        return true;
    }
    bool sent = s_send_held (self, entry, sequence == entry->held_sequence);
    if (sent && kind == ZSTATE_SESSION_MSG_OPS) {
        //  Ours as it came, to the writer once we know what follows
        int rc = zmq_msg_init_size (&entry->held, zmq_msg_size (payload));
        assert (rc == 0);
        memcpy (zmq_msg_data (&entry->held), zmq_msg_data (payload), zmq_msg_size (payload));
        entry->has_held = true;
        entry->held_sequence = sequence;
        entry->held_index = index;
        entry->safe = index;    //  The writer has all before it
    }
    else
    if (sent && s_forward (route, payload)) {
        self->stats->replayed++;
        entry->safe = index + 1;
    }
    else {
        //  Not the held one, refused: it has the rest up to this one
        if (sent) {
            entry->safe = index;
            entry->written = sequence;
            entry->replayed = true;
        }
        else {
            self->stats->replay_dropped++;      //  The held one
            entry->safe = entry->held_index;
        }
        entry->broken = true;
        self->stats->replay_dropped++;
        return true;
    }
    entry->written = sequence;
    entry->replayed = true;
    entry->round_got = true;
    return true;
}

static void
    s_round (zstate_server_replay_t *self, const byte *session, int64_t now);
static bool
    s_ready (zstate_server_replay_t *self, entry_t *entry, bool *gone);

//  The next round of a session whose round ended, at once for the
//  entries still behind whose writer has room: a round asks for
//  ROUND_SEQUENCES at most, so a writer that keeps up catches up at the
//  pace of round trips, not of ticks
static void
s_next_round (zstate_server_replay_t *self, const byte *session)
{
    bool any = false;
    entry_t *entry = (entry_t *) zlistx_first (self->entries);
    for (; entry; entry = (entry_t *) zlistx_next (self->entries))
        if (!memcmp (entry->session, session, ZSTATE_MSG_SESSION_SIZE)) {
            bool gone;
            entry->ready = s_ready (self, entry, &gone);
            any |= entry->ready;
        }
    if (any)
        s_round (self, session, zclock_mono ());
}

//  The end of entry's round, at its PONG. A round that came to its
//  count may have been cut inside a coalesced block: its held message
//  stays held (the next round tells whether the block goes on), and
//  counts as the writer's for the next round's skip. Else the held goes
//  as version 2, and a round that ended whole ended with a whole block
static void
s_round_end (zstate_server_replay_t *self, entry_t *entry)
{
    entry->in_round = false;
    entry->trusted = true;
    if (!entry->broken && entry->round_count >= ROUND_MESSAGES) {
        if (entry->has_held) {
            entry->keep_held = true;
            entry->safe = entry->held_index + 1;
        }
        return;
    }
    bool had_held = entry->has_held;
    if (!s_send_held (self, entry, false)) {
        self->stats->replay_dropped++;
        entry->safe = entry->held_index;
        return;
    }
    if (entry->broken)
        return;
    if (entry->round_got || had_held)
        entry->replayed = false;
    if (entry->written >= entry->lacks) {
        zsys_info ("zstate_server: the writer of %s/%s has a session's "
                   "messages again, up to %" PRIu64, entry->route->db,
                   entry->route->table, entry->lacks);
        s_delete (self, entry);
    }
}

//  A session's PONG: the end of its round, when the nonce is the round's
static void
s_pong (void *arg, const byte *session, uint64_t nonce)
{
    zstate_server_replay_t *self = (zstate_server_replay_t *) arg;
    bool ended = false;
    entry_t *entry = (entry_t *) zlistx_first (self->entries);
    while (entry) {
        entry_t *next = (entry_t *) zlistx_next (self->entries);
        if (entry->in_round && entry->nonce == nonce
        &&  !memcmp (entry->session, session, ZSTATE_MSG_SESSION_SIZE)) {
            ended = true;
            s_round_end (self, entry);
        }
        entry = next;
        //  zlistx_find moved the cursor: walk on from next
        if (entry)
            zlistx_find (self->entries, entry);
    }
    if (ended)
        s_next_round (self, session);
}

//  How many of the messages numbered from the client need not send
//  again in a round that goes for the ready entries of session: the
//  fewest that an entry with that from has. An entry's count holds only
//  for the numbering of the round that counted it: one of the same
//  connection (a new one may renumber what the client holds), in which
//  nothing of an earlier round came late
static uint32_t
s_skip (zstate_server_replay_t *self, const byte *session, uint64_t from,
        uint32_t hellos)
{
    uint32_t skip = UINT32_MAX;
    entry_t *entry = (entry_t *) zlistx_first (self->entries);
    for (; entry; entry = (entry_t *) zlistx_next (self->entries))
        if (entry->ready && s_from (entry) == from
        &&  !memcmp (entry->session, session, ZSTATE_MSG_SESSION_SIZE)) {
            uint32_t safe = entry->replayed && entry->round_clean
                         && entry->hellos == hellos? entry->safe: 0;
            if (safe < skip)
                skip = safe;
        }
    return skip == UINT32_MAX? 0: skip;
}

//  Start one round for the ready entries of session, unless one of its
//  entries is in a round already (its client answers only the latest
//  REPLAY): from the earliest that any of them lacks, one nonce for all;
//  each drops what comes from below its own from.
static void
s_round (zstate_server_replay_t *self, const byte *session, int64_t now)
{
    uint64_t from = UINT64_MAX;
    bool busy = false;
    entry_t *entry = (entry_t *) zlistx_first (self->entries);
    for (; entry; entry = (entry_t *) zlistx_next (self->entries))
        if (!memcmp (entry->session, session, ZSTATE_MSG_SESSION_SIZE)) {
            busy |= entry->in_round;
            if (entry->ready && s_from (entry) < from)
                from = s_from (entry);
        }
    uint64_t to = from > UINT64_MAX - ROUND_SEQUENCES? UINT64_MAX:
                  from + ROUND_SEQUENCES - 1;
    uint32_t hellos = zstate_server_sessions_hellos_of (self->sessions, session);
    uint32_t skip = busy? 0: s_skip (self, session, from, hellos);
    zstate_session_msg_t replay = { .sequence = from, .to = to, .skip = skip,
                                    .max = ROUND_MESSAGES, .nonce = self->nonce + 1 };
    bool sent = !busy && zstate_server_sessions_replay (self->sessions, session, &replay);
    if (sent)
        self->nonce++;
    entry = (entry_t *) zlistx_first (self->entries);
    for (; entry; entry = (entry_t *) zlistx_next (self->entries))
        if (entry->ready && !memcmp (entry->session, session, ZSTATE_MSG_SESSION_SIZE)) {
            entry->ready = false;
            if (sent) {
                entry->nonce = self->nonce;
                entry->in_round = true;
                //  What a round given up held comes again in this one;
                //  what one cut at its count held, the writer gets in it
                if (!entry->keep_held)
                    s_drop_held (entry);
                entry->keep_held = false;
                entry->round_to = replay.to;
                entry->round_count = 0;
                entry->broken = false;
                entry->round_got = false;
                entry->round_at = now;
                entry->round_clean = entry->trusted;
                entry->hellos = hellos;
                entry->run = from;
                entry->run_index = skip;
                entry->safe = s_from (entry) == from? skip: 0;
            }
        }
}

//  May entry take part in a round that starts now? Not when it is in one,
//  its session or route is gone, or its writer has no room
static bool
s_ready (zstate_server_replay_t *self, entry_t *entry, bool *gone)
{
    *gone = !entry->route->forward
         || !zstate_server_sessions_delivered_of (self->sessions, entry->session);
    return !entry->in_round && !*gone
        && (zsock_events (entry->route->forward) & ZMQ_POLLOUT);
}

//  Timer: ask the sessions behind a writer with room to replay, one
//  round per session at a time
static int
s_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zstate_server_replay_t *self = (zstate_server_replay_t *) arg;
    int64_t now = zclock_mono ();
    entry_t *entry = (entry_t *) zlistx_first (self->entries);
    while (entry) {
        entry_t *next = (entry_t *) zlistx_next (self->entries);
        if (entry->in_round && now - entry->round_at > ROUND_MAX) {
            entry->in_round = false;
            entry->trusted = false; //  What it asked may still come
            if (entry->has_held)
                entry->safe = entry->held_index;
        }
        //  Looked at once, so that a round's from covers all it starts
        bool gone;
        entry->ready = s_ready (self, entry, &gone);
        if (gone)
            s_delete (self, entry);
        entry = next;
        if (entry)
            zlistx_find (self->entries, entry);
    }
    entry = (entry_t *) zlistx_first (self->entries);
    while (entry) {
        if (entry->ready) {
            s_round (self, entry->session, now);
            zlistx_find (self->entries, entry);
        }
        entry = (entry_t *) zlistx_next (self->entries);
    }
    if (zlistx_size (self->entries) == 0) {
        zloop_timer_end (self->loop, self->timer);
        self->timer = -1;
    }
    return 0;
}

void
zstate_server_replay_forget_route (zstate_server_replay_t *self,
                                   zstate_server_route_t *route)
{
    assert (self);
    entry_t *entry = (entry_t *) zlistx_first (self->entries);
    while (entry) {
        entry_t *next = (entry_t *) zlistx_next (self->entries);
        if (entry->route == route)
            s_delete (self, entry);
        entry = next;
        if (entry)
            zlistx_find (self->entries, entry);
    }
}
