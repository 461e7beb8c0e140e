/*  =========================================================================
    zstate_monitor - a server's monitoring endpoint: STATS and WATCH

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    A ROUTER socket that answers STATS with a text the server makes, and
    streams copies of routed messages to watchers. It lives inside the
    server actor and is driven by the server's loop.
@discuss
    The watchers, their leases and what they may pin are in
    zstate_watchers.c; the monitor reads their requests and sends them
    their copies, on its socket.
@end
*/

#include "zstate_classes.h"
#include "zstate_watchers.h"

#define REQUESTS_MAX    100     //  requests handled per call, for fairness
#define STATS_PER_SECOND 20     //  STATS answered with the text, from all peers

struct _zstate_monitor_t {
    zloop_t *loop;              //  reads router, or NULL
    zstate_monitor_stats_fn *stats_fn;  //  makes the STATS text, with loop
    void *stats_arg;            //  ... for this
    zsock_t *router;            //  peers connect here
    zstate_watchers_t *watchers;    //  the WATCH subscribers
    int64_t stats_window;       //  zclock_mono () when this second began
    int stats_answered;         //  STATS answered with the text in it
};

//  The process's extra sections of the STATS text (zstate_monitor_section_add)
typedef struct {
    zstate_monitor_section_fn *fn;
    void *arg;
} section_t;

static pthread_mutex_t s_sections_mutex = PTHREAD_MUTEX_INITIALIZER;
static section_t *s_sections;   //  under s_sections_mutex
static size_t s_section_count;

static int
s_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    zstate_monitor_t *self = (zstate_monitor_t *) arg;
    zstate_monitor_handle (self, self->stats_fn, self->stats_arg);
    return 0;
}

zstate_monitor_t *
zstate_monitor_new (zloop_t *loop, zstate_monitor_stats_fn *stats_fn, void *arg)
{
    zstate_monitor_t *self = (zstate_monitor_t *) zmalloc (sizeof (zstate_monitor_t));
    assert (self);
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_sndhwm (self->router, 1000);
    //  A peer that does not read loses its replies; the server never waits
    //  for it (with ROUTER_MANDATORY a blocking send would wait for ever)
    zsock_set_sndtimeo (self->router, 0);
    zsock_set_linger (self->router, 0);
    //  Requests are a few short frames; nothing bigger has a reason to come
    zsock_set_maxmsgsize (self->router, 4096);
    self->watchers = zstate_watchers_new ();
    if (loop) {
        self->loop = loop;
        self->stats_fn = stats_fn;
        self->stats_arg = arg;
        int rc = zloop_reader (loop, self->router, s_readable, self);
        assert (rc == 0);
        zloop_reader_set_tolerant (loop, self->router);
    }
    return self;
}

void
zstate_monitor_destroy (zstate_monitor_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_monitor_t *self = *self_p;
        if (self->loop)
            zloop_reader_end (self->loop, self->router);
        zstate_watchers_destroy (&self->watchers);
        zsock_destroy (&self->router);
        free (self);
        *self_p = NULL;
    }
}

int
zstate_monitor_bind (zstate_monitor_t *self, const char *endpoint)
{
    assert (self);
    return zstate_bind (self->router, endpoint);
}

zsock_t *
zstate_monitor_socket (zstate_monitor_t *self)
{
    assert (self);
    return self->router;
}

//  Send [identity][command][status][reason] and, when text is given, [text]
static void
s_reply (zstate_monitor_t *self, zframe_t *identity, const char *command, int status,
         const char *reason, const char *text)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, &identity);
    zmsg_addstr (reply, command);
    zmsg_addstrf (reply, "%d", status);
    zmsg_addstr (reply, reason);
    if (text)
        zmsg_addstr (reply, text);
    //  A peer that is gone or full does not get its answer; that is all
    zmsg_send (&reply, self->router);
    zmsg_destroy (&reply);
}

//  Put the CURVE key of the request's peer in key (41 bytes): our ZAP
//  handler gives each connection its key in Z85 as User-Id, which
//  libzmq attaches to every frame; "" without CURVE
static void
s_peer_key (zmsg_t *request, char *key)
{
    zframe_t *frame = zmsg_first (request);
    const char *user_id = frame? zframe_meta (frame, "User-Id"): NULL;
    if (user_id && strlen (user_id) == 40)
        memcpy (key, user_id, 41);
    else
        *key = 0;
}

static void
s_watch (zstate_monitor_t *self, zframe_t *identity, zmsg_t *request)
{
    char key [41];
    s_peer_key (request, key);
    char *db = zmsg_popstr (request);
    char *table = zmsg_popstr (request);
    if (!db || !table || !zstate_msg_name_valid (db) || !zstate_msg_name_valid (table)) {
        s_reply (self, identity, ZSTATE_MONITOR_WATCH, EINVAL, "WATCH needs a db and a table",
                 NULL);
        zstr_free (&db);
        zstr_free (&table);
        return;
    }
    if (zstate_watchers_watch (self->watchers, identity, key, db, table) == 0)
        s_reply (self, identity, ZSTATE_MONITOR_WATCH, 0, "", NULL);
    else
    if (errno == EDQUOT) {
        char reason [128];
        snprintf (reason, sizeof (reason), *key? "this client key holds %zu watches,"
                  " as many as it may": "the peers without a CURVE key hold %zu"
                  " watches, as many as they may", zstate_watchers_per_key (self->watchers));
        s_reply (self, identity, ZSTATE_MONITOR_WATCH, EDQUOT, reason, NULL);
    }
    else
        s_reply (self, identity, ZSTATE_MONITOR_WATCH, ENOSPC, "too many watchers", NULL);
    zstr_free (&db);
    zstr_free (&table);
}

//  Return text with the process's extra sections after it; frees text
static char *
s_sections_append (char *text)
{
    pthread_mutex_lock (&s_sections_mutex);
    if (s_section_count) {
        char *whole = NULL;
        size_t size = 0;
        FILE *file = open_memstream (&whole, &size);
        assert (file);
        fputs (text? text: "", file);
        for (size_t index = 0; index < s_section_count; index++)
            s_sections [index].fn (s_sections [index].arg, index + 1, file);
        fclose (file);
        free (text);
        text = whole;
    }
    pthread_mutex_unlock (&s_sections_mutex);
    return text;
}

void
zstate_monitor_section_add (zstate_monitor_section_fn *fn, void *arg)
{
    assert (fn);
    pthread_mutex_lock (&s_sections_mutex);
    s_sections = (section_t *) realloc (s_sections,
                                        (s_section_count + 1) * sizeof (section_t));
    assert (s_sections);
    s_sections [s_section_count++] = (section_t) { fn, arg };
    pthread_mutex_unlock (&s_sections_mutex);
}

void
zstate_monitor_section_remove (void *arg)
{
    pthread_mutex_lock (&s_sections_mutex);
    for (size_t index = 0; index < s_section_count; index++)
        if (s_sections [index].arg == arg) {
            memmove (s_sections + index, s_sections + index + 1,
                     (s_section_count - index - 1) * sizeof (section_t));
            s_section_count--;
            break;
        }
    if (s_section_count == 0) {
        free (s_sections);
        s_sections = NULL;
    }
    pthread_mutex_unlock (&s_sections_mutex);
}

//  The text costs the server's loop time, so peers get it at most
//  STATS_PER_SECOND times a second, all together; past that, a short
//  EBUSY reply: a flood of STATS cannot slow the traffic
static void
s_stats (zstate_monitor_t *self, zframe_t *identity, zstate_monitor_stats_fn *stats_fn,
         void *arg)
{
    int64_t now = zclock_mono ();
    if (now - self->stats_window >= 1000) {
        self->stats_window = now;
        self->stats_answered = 0;
    }
    if (self->stats_answered >= STATS_PER_SECOND) {
        s_reply (self, identity, ZSTATE_MONITOR_STATS, EBUSY,
                 "more STATS than 20 a second; ask again later", NULL);
        return;
    }
    self->stats_answered++;
    char *text = s_sections_append (stats_fn (arg));
    s_reply (self, identity, ZSTATE_MONITOR_STATS, 0, "", text);
    free (text);
}

void
zstate_monitor_handle (zstate_monitor_t *self, zstate_monitor_stats_fn *stats_fn, void *arg)
{
    assert (self);
    for (int count = 0; count < REQUESTS_MAX; count++) {
        if (!(zsock_events (self->router) & ZMQ_POLLIN))
            break;
        zmsg_t *request = zmsg_recv (self->router);
        if (!request)
            break;
        zframe_t *identity = zmsg_pop (request);
        char *command = zmsg_popstr (request);
        if (!identity || !command)
            zframe_destroy (&identity);     //  Nothing to answer
        else
        if (streq (command, ZSTATE_MONITOR_STATS))
            s_stats (self, identity, stats_fn, arg);
        else
        if (streq (command, ZSTATE_MONITOR_WATCH))
            s_watch (self, identity, request);
        else {
            //  Peers are not trusted: an unknown request gets an error
            char reason [128];
            snprintf (reason, sizeof (reason), "unknown request '%.40s'", command);
            s_reply (self, identity, command, EINVAL, reason, NULL);
        }
        zstr_free (&command);
        zmsg_destroy (&request);
    }
}

//  ROUTER_MANDATORY fails the first frame when the watcher is full or
//  gone; the others then cannot fail
static int
s_send (void *arg, zframe_t *identity, zmq_msg_t *copy)
{
    void *handle = arg;
    if (zmq_send (handle, zframe_data (identity), zframe_size (identity),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    zmq_send (handle, ZSTATE_MONITOR_OPS, strlen (ZSTATE_MONITOR_OPS),
              ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_msg_send (copy, handle, ZMQ_DONTWAIT);
    return 0;
}

void
zstate_monitor_publish (zstate_monitor_t *self, const char *db, const char *table,
                        zmq_msg_t *payload)
{
    assert (self);
    zstate_watchers_publish (self->watchers, db, table, payload, s_send,
                             zsock_resolve (self->router));
}

uint64_t
zstate_monitor_lost (zstate_monitor_t *self)
{
    assert (self);
    return zstate_watchers_lost (self->watchers);
}

void
zstate_monitor_set_lease (zstate_monitor_t *self, int lease)
{
    assert (self);
    zstate_watchers_set_lease (self->watchers, lease);
}

void
zstate_monitor_set_per_key (zstate_monitor_t *self, size_t per_key)
{
    assert (self);
    zstate_watchers_set_per_key (self->watchers, per_key);
}

uint64_t
zstate_monitor_refused (zstate_monitor_t *self)
{
    assert (self);
    return zstate_watchers_refused (self->watchers);
}

uint64_t
zstate_monitor_refused_full (zstate_monitor_t *self)
{
    assert (self);
    return zstate_watchers_refused_full (self->watchers);
}

size_t
zstate_monitor_watchers (zstate_monitor_t *self)
{
    assert (self);
    return zstate_watchers_size (self->watchers);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Self test of this class

static char *
s_test_stats (void *arg)
{
    return zsys_sprintf ("server\n    messages = %d\n", *(int *) arg);
}

//  A big answer, to fill a peer's pipe quickly
static char *
s_test_big_stats (void *arg)
{
    (void) arg;
    char *text = (char *) malloc (65536);
    assert (text);
    memset (text, 'x', 65535);
    text [65535] = 0;
    return text;
}

//  Let the monitor answer what is waiting, as the server's loop would
static void
s_test_serve (zstate_monitor_t *monitor, int *messages)
{
    zpoller_t *poller = zpoller_new (zstate_monitor_socket (monitor), NULL);
    if (zpoller_wait (poller, 30000))
        zstate_monitor_handle (monitor, s_test_stats, messages);
    zpoller_destroy (&poller);
}

//  STATS answers with the text the server makes; an unknown request, or
//  a WATCH without names, is refused
static void
s_test_requests (zstate_monitor_t *monitor, zsock_t *peer, int *counter)
{
    int rc;
    //  STATS answers with the text the server makes
    zstr_send (peer, "STATS");
    s_test_serve (monitor, counter);
    char *command, *status, *reason, *text;
    rc = zstr_recvx (peer, &command, &status, &reason, &text, NULL);
    assert (rc == 4);
    assert (streq (command, "STATS") && streq (status, "0"));
    assert (strstr (text, "messages = 42"));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    zstr_free (&text);

    //  An unknown request, or a WATCH without names, is refused
    zstr_send (peer, "SHUTDOWN");
    s_test_serve (monitor, counter);
    rc = zstr_recvx (peer, &command, &status, &reason, NULL);
    assert (rc == 3 && streq (command, "SHUTDOWN") && atoi (status) == EINVAL);
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    zstr_send (peer, "WATCH");
    s_test_serve (monitor, counter);
    rc = zstr_recvx (peer, &command, &status, &reason, NULL);
    assert (rc == 3 && atoi (status) == EINVAL);
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
}

//  A watcher gets copies of what is routed to its table, and only that
static void
s_test_copies (zstate_monitor_t *monitor, zsock_t *peer, int *counter)
{
    char *command, *status, *reason;
    int rc;
    //  A watcher gets copies of what is routed to its table, and only that
    zstr_sendx (peer, "WATCH", "APPL_DB", "ROUTE_TABLE", NULL);
    s_test_serve (monitor, counter);
    rc = zstr_recvx (peer, &command, &status, &reason, NULL);
    assert (rc == 3 && streq (command, "WATCH") && streq (status, "0"));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    assert (zstate_monitor_watchers (monitor) == 1);
    zstr_sendx (peer, "WATCH", "APPL_DB", "ROUTE_TABLE", NULL);     //  Renewal
    s_test_serve (monitor, counter);
    zmsg_t *reply = zmsg_recv (peer);
    zmsg_destroy (&reply);
    assert (zstate_monitor_watchers (monitor) == 1);

    zmq_msg_t payload;
    zmq_msg_init_size (&payload, 5);
    memcpy (zmq_msg_data (&payload), "hello", 5);
    zstate_monitor_publish (monitor, "APPL_DB", "OTHER_TABLE", &payload);
    zstate_monitor_publish (monitor, "APPL_DB", "ROUTE_TABLE", &payload);
    //  The payload itself stays with the caller, unchanged
    assert (zmq_msg_size (&payload) == 5);
    zmq_msg_close (&payload);
    zmsg_t *copy = zmsg_recv (peer);
    assert (copy && zmsg_size (copy) == 2);
    char *kind = zmsg_popstr (copy);
    assert (streq (kind, "OPS"));
    zframe_t *frame = zmsg_pop (copy);
    assert (zframe_streq (frame, "hello"));
    zstr_free (&kind);
    zframe_destroy (&frame);
    zmsg_destroy (&copy);
    assert (zstate_monitor_lost (monitor) == 0);
    //  Only one copy came: the other table's was not sent
    zsock_set_rcvtimeo (peer, 0);
    assert (zmsg_recv (peer) == NULL);
}

//  A peer that asks and never reads cannot make the monitor wait: its
//  replies are dropped once its pipe is full
static void
s_test_deaf (zstate_monitor_t *monitor, int port)
{
    int rc;
    zsock_t *deaf = zsock_new (ZMQ_DEALER);
    zsock_set_rcvhwm (deaf, 1);
    zsock_set_sndhwm (deaf, 0);
    rc = zsock_connect (deaf, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    for (int count = 0; count < 3000; count++)
        zstr_send (deaf, "STATS");
    int answered = 0;
    zpoller_t *poller = zpoller_new (zstate_monitor_socket (monitor), NULL);
    while (answered < 3000 && zpoller_wait (poller, 30000)) {
        zstate_monitor_handle (monitor, s_test_big_stats, NULL);
        answered += 100;
    }
    zpoller_destroy (&poller);
    assert (answered >= 3000);
    zsock_destroy (&deaf);
}

//  A flood of STATS gets the text at most STATS_PER_SECOND times a
//  second, and short EBUSY replies past that; a later second answers with
//  the text again
static void
s_test_stats_flood (zstate_monitor_t *monitor, zsock_t *peer, int *counter)
{
    for (int count = 0; count < 1000; count++)
        zstr_send (peer, "STATS");
    int answered = 0, busy = 0;
    int64_t deadline = zclock_mono () + 30000;
    while (answered + busy < 1000 && zclock_mono () < deadline) {
        if (zsock_events (zstate_monitor_socket (monitor)) & ZMQ_POLLIN)
            zstate_monitor_handle (monitor, s_test_stats, counter);
        zsock_set_rcvtimeo (peer, 10);
        zmsg_t *reply = zmsg_recv (peer);
        if (reply && zframe_streq (zmsg_first (reply), "STATS")) {
            if (zframe_streq (zmsg_next (reply), "0"))
                answered++;
            else
                busy++;
        }
        zmsg_destroy (&reply);
    }
    zsock_set_rcvtimeo (peer, 30000);
    //  Only a machine that took 50 s for 1,000 requests answers them all
    assert (busy >= 1);
    bool texted = false;
    while (!texted) {
        assert (zclock_mono () < deadline + 30000);
        zclock_sleep (100);
        zstr_send (peer, "STATS");
        s_test_serve (monitor, counter);
        zmsg_t *reply = zmsg_recv (peer);
        assert (reply);
        texted = zframe_streq (zmsg_first (reply), "STATS")
              && zframe_streq (zmsg_next (reply), "0");
        zmsg_destroy (&reply);
    }
}

//  A watch that is not renewed runs out; the others stay
static void
s_test_expiry (zstate_monitor_t *monitor, zsock_t *peer, int *counter)
{
    char *command, *status, *reason;
    int rc;
    assert (zstate_monitor_watchers (monitor) == 1);
    zstate_monitor_set_lease (monitor, 1);
    zsock_set_rcvtimeo (peer, 30000);
    zstr_sendx (peer, "WATCH", "APPL_DB", "EXPIRING", NULL);
    s_test_serve (monitor, counter);
    rc = zstr_recvx (peer, &command, &status, &reason, NULL);
    assert (rc == 3 && streq (status, "0"));
    zstr_free (&command);
    zstr_free (&status);
    zstr_free (&reason);
    int64_t deadline = zclock_mono () + 30000;
    while (zstate_monitor_watchers (monitor) > 1) {
        assert (zclock_mono () < deadline);
        zclock_sleep (1);
    }
    assert (zstate_monitor_watchers (monitor) == 1);
    zstate_monitor_set_lease (monitor, 3600 * 1000);
}

//  A watcher that leaves gives its slot back at the first copy that
//  cannot reach it, long before its lease would run out
static void
s_test_gone (zstate_monitor_t *monitor, int port, int *counter)
{
    size_t held = zstate_monitor_watchers (monitor);
    zsock_t *leaver = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (leaver, 30000);
    int rc = zsock_connect (leaver, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    zstr_sendx (leaver, "WATCH", "APPL_DB", "LEAVING", NULL);
    s_test_serve (monitor, counter);
    zmsg_t *reply = zmsg_recv (leaver);
    assert (reply && zframe_streq (zmsg_first (reply), "WATCH"));
    assert (zframe_streq (zmsg_next (reply), "0"));
    zmsg_destroy (&reply);
    assert (zstate_monitor_watchers (monitor) == held + 1);
    zsock_destroy (&leaver);
    zmq_msg_t payload;
    zmq_msg_init_data (&payload, "ops", 3, NULL, NULL);
    int64_t deadline = zclock_mono () + 30000;
    while (zstate_monitor_watchers (monitor) > held) {
        assert (zclock_mono () < deadline);
        zstate_monitor_publish (monitor, "APPL_DB", "LEAVING", &payload);
        zclock_sleep (10);
    }
    zmq_msg_close (&payload);
}

//  Watches are bounded. The peers without a CURVE key share one key's
//  cap, past which a new watch is refused with EDQUOT, counted; with the
//  cap out of the way, all peers together are refused with ENOSPC past
//  ZSTATE_WATCHERS_MAX. One watch is held already, ROUTE_TABLE's.
static void
s_test_bounded (zstate_monitor_t *monitor, zsock_t *peer, int *counter)
{
    char *command, *status, *reason;
    assert (zstate_monitor_watchers (monitor) == 1);
    for (int count = 0; count < ZSTATE_WATCHERS_MAX + 1; count++) {
        if (count == ZSTATE_WATCHERS_PER_KEY)
            zstate_monitor_set_per_key (monitor, ZSTATE_WATCHERS_MAX + 1);
        char table [32];
        snprintf (table, sizeof (table), "T%d", count);
        zstr_sendx (peer, "WATCH", "APPL_DB", table, NULL);
        s_test_serve (monitor, counter);
        int rc = zstr_recvx (peer, &command, &status, &reason, NULL);
        assert (rc == 3);
        if (count == ZSTATE_WATCHERS_PER_KEY - 1) {
            char expected [64];
            snprintf (expected, sizeof (expected), "without a CURVE key hold %d watches",
                      ZSTATE_WATCHERS_PER_KEY);
            assert (atoi (status) == EDQUOT);
            assert (strstr (reason, expected));
            assert (zstate_monitor_refused (monitor) == 1);
        }
        else
        if (count == ZSTATE_WATCHERS_MAX) {
            assert (atoi (status) == ENOSPC);
            assert (zstate_monitor_refused_full (monitor) == 1);
        }
        else
            assert (streq (status, "0"));
        zstr_free (&command);
        zstr_free (&status);
        zstr_free (&reason);
    }
    assert (zstate_monitor_refused (monitor) == 1);
}

void
zstate_monitor_test (bool verbose)
{
    (void) verbose;
    printf (" * zstate_monitor: ");
    //  @selftest
    //  As the server's actor runs it: the monitor's socket in its loop,
    //  zstate_monitor_handle when that is readable (s_test_serve), and a
    //  copy of each routed message for the table's watchers
    zstate_monitor_t *example = zstate_monitor_new (NULL, NULL, NULL);
    int example_port = zstate_monitor_bind (example, "tcp://127.0.0.1:*");
    assert (example_port > 0);
    zstate_monitor_set_lease (example, 60000);
    int routed = 7;
    //  A peer, as zstate watch and zstate stats are
    zsock_t *watch = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (watch, 30000);
    assert (zsock_connect (watch, "tcp://127.0.0.1:%d", example_port) == 0);
    zstr_sendx (watch, "WATCH", "APPL_DB", "PORT_TABLE", NULL);
    s_test_serve (example, &routed);
    zmsg_t *answer = zmsg_recv (watch);
    assert (answer && zmsg_size (answer) == 3);
    assert (zframe_streq (zmsg_first (answer), "WATCH") && zframe_streq (zmsg_next (answer), "0"));
    zmsg_destroy (&answer);
    zmq_msg_t message;
    zmq_msg_init_data (&message, "ops", 3, NULL, NULL);
    zstate_monitor_publish (example, "APPL_DB", "PORT_TABLE", &message);
    zmq_msg_close (&message);
    answer = zmsg_recv (watch);         //  [OPS][the message]
    assert (answer && zframe_streq (zmsg_first (answer), "OPS"));
    assert (zframe_streq (zmsg_next (answer), "ops"));
    zmsg_destroy (&answer);
    zstr_send (watch, "STATS");
    s_test_serve (example, &routed);
    answer = zmsg_recv (watch);         //  [STATS][0][][text]
    assert (answer && zmsg_size (answer) == 4);
    char *stats_text = zframe_strdup (zmsg_last (answer));
    assert (strstr (stats_text, "messages = 7"));
    free (stats_text);
    zmsg_destroy (&answer);
    zsock_destroy (&watch);
    zstate_monitor_destroy (&example);
    //  @end

    zstate_monitor_t *monitor = zstate_monitor_new (NULL, NULL, NULL);
    int port = zstate_monitor_bind (monitor, "tcp://127.0.0.1:*");
    assert (port > 0);
    assert (zstate_monitor_bind (monitor, "nonsense://") == -1);
    assert (strlen (zstate_reason ()) > 0);
    //  No watch may run out while the test holds it, however slow the run
    zstate_monitor_set_lease (monitor, 3600 * 1000);

    zsock_t *peer = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (peer, 30000);
    int rc = zsock_connect (peer, "tcp://127.0.0.1:%d", port);
    assert (rc == 0);
    int messages = 42;
    s_test_requests (monitor, peer, &messages);
    s_test_copies (monitor, peer, &messages);
    s_test_deaf (monitor, port);
    s_test_stats_flood (monitor, peer, &messages);
    s_test_expiry (monitor, peer, &messages);
    s_test_gone (monitor, port, &messages);
    s_test_bounded (monitor, peer, &messages);
    zsock_destroy (&peer);
    zstate_monitor_destroy (&monitor);
    printf ("OK\n");
}
#endif
