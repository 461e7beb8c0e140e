/*  =========================================================================
    zstate_watchers - the monitor's WATCH subscribers: leases, their bounds,
    and the copies of routed messages they hold

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Watchers hold a lease they renew by sending WATCH again; one that goes
    away without a word is forgotten when its lease runs out, or at the
    first copy that finds it gone. Peers are not trusted: their watches
    cost memory and time on every routed message, so there are at most
    ZSTATE_WATCHERS_MAX of them; and so that one client key, however many
    connections it opens, cannot take them all and leave an operator's
    WATCH refused, the peers of one key hold at most per_key of them.
@discuss
    Each watcher points to its key's owner, which counts the key's
    watches, in a hash by key: a WATCH checks the cap in constant time.
    The one removal (a lease run out, a watcher gone) gives the slot back
    to its key, and a key that holds none goes, so memory follows the
    table. The key is the CURVE key our ZAP handler gives each connection;
    peers without one (NULL security) all share the key "", so the cap
    protects one key from another only with CURVE.

    Copies share the payload's content (zmq_msg_copy), so watching costs no
    byte copy, and the monitor's send fails at once for a full watcher
    (ROUTER_MANDATORY), so a slow watcher loses copies (counted) rather
    than slowing the server.

    The high-water mark counts messages, so a watcher that never reads
    would pin 1000 payloads of up to 16 MiB each. A payload over
    WATCH_SHARED_MAX is therefore copied into a buffer of the watcher's
    own, whose release libzmq reports when it has sent it: one peer has
    at most WATCH_BYTES_MAX of those in flight, over all its watches and
    past their leases (its copies stay queued when a lease runs out),
    and loses (counted) what would pass it. What one peer can pin is then
    that plus 1000 shared payloads of WATCH_SHARED_MAX.
@end
*/

#include "zstate_classes.h"
#include "zstate_watchers.h"

#define WATCH_LEASE     3000    //  msecs a WATCH holds without renewal, by default
#define WATCH_SHARED_MAX (64 << 10)     //  bytes of a payload a copy shares
#define WATCH_BYTES_MAX  (64 << 20)     //  bytes of larger copies a watcher has in flight

//  The bytes of a peer's own copies that libzmq has not sent yet; the
//  table's pins, each watcher of the peer and each copy hold a reference,
//  as copies outlive a watcher that goes. libzmq releases copies on its
//  I/O thread: atomics.
typedef struct {
    size_t refs;
    size_t pinned;
} pin_t;

//  The watches of one client key
typedef struct {
    size_t watches;
    char key [];                //  Z85, or "" for peers without a key
} owner_t;

typedef struct {
    zframe_t *identity;         //  the watcher's ROUTER identity
    owner_t *owner;             //  its client key
    char *db;                   //  what it watches
    char *table;
    int64_t expires;            //  zclock_mono () when the lease ends
    pin_t *pin;                 //  its own copies in flight
} watcher_t;

struct _zstate_watchers_t {
    zlistx_t *watchers;         //  watcher_t items
    zhashx_t *pins;             //  peer identity, hex -> pin_t
    zhashx_t *owners;           //  client key -> owner_t, while it watches
    size_t per_key;             //  watches one key may hold
    uint64_t lost;              //  copies a watcher could not take
    uint64_t refused;           //  WATCHes refused at their key's cap
    uint64_t refused_full;      //  ... at ZSTATE_WATCHERS_MAX held
    int lease;                  //  msecs a WATCH holds without renewal
};

static void
s_pin_release (pin_t *pin)
{
    if (__atomic_sub_fetch (&pin->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free (pin);
}

static void
s_pin_destroy (void **item_p)
{
    if (*item_p)
        s_pin_release ((pin_t *) *item_p);
    *item_p = NULL;
}

//  Return the pin of the peer identity, with a reference for the caller
static pin_t *
s_pin_take (zstate_watchers_t *self, zframe_t *identity)
{
    char *key = zframe_strhex (identity);
    pin_t *pin = (pin_t *) zhashx_lookup (self->pins, key);
    if (!pin) {
        pin = (pin_t *) zmalloc (sizeof (pin_t));
        assert (pin);
        pin->refs = 1;
        zhashx_insert (self->pins, key, pin);
    }
    __atomic_add_fetch (&pin->refs, 1, __ATOMIC_ACQ_REL);
    free (key);
    return pin;
}

//  Forget the pins that only we hold: no watcher, no copy in flight
static void
s_pins_sweep (zstate_watchers_t *self)
{
    zlistx_t *keys = zhashx_keys (self->pins);
    for (const char *key = (const char *) zlistx_first (keys); key;
         key = (const char *) zlistx_next (keys)) {
        pin_t *pin = (pin_t *) zhashx_lookup (self->pins, key);
        if (__atomic_load_n (&pin->refs, __ATOMIC_ACQUIRE) == 1)
            zhashx_delete (self->pins, key);
    }
    zlistx_destroy (&keys);
}

static void
s_watcher_destroy (void **item_p)
{
    watcher_t *watcher = (watcher_t *) *item_p;
    if (watcher) {
        s_pin_release (watcher->pin);
        zframe_destroy (&watcher->identity);
        free (watcher->db);
        free (watcher->table);
        free (watcher);
        *item_p = NULL;
    }
}

zstate_watchers_t *
zstate_watchers_new (void)
{
    zstate_watchers_t *self = (zstate_watchers_t *) zmalloc (sizeof (zstate_watchers_t));
    assert (self);
    self->watchers = zlistx_new ();
    assert (self->watchers);
    zlistx_set_destructor (self->watchers, s_watcher_destroy);
    self->pins = zhashx_new ();
    assert (self->pins);
    zhashx_set_destructor (self->pins, s_pin_destroy);
    self->owners = zhashx_new ();
    assert (self->owners);
    zhashx_set_destructor (self->owners, (zhashx_destructor_fn *) zstr_free);
    self->per_key = ZSTATE_WATCHERS_PER_KEY;
    self->lease = WATCH_LEASE;
    return self;
}

void
zstate_watchers_destroy (zstate_watchers_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_watchers_t *self = *self_p;
        zlistx_destroy (&self->watchers);
        zhashx_destroy (&self->pins);
        zhashx_destroy (&self->owners);
        free (self);
        *self_p = NULL;
    }
}

void
zstate_watchers_set_lease (zstate_watchers_t *self, int lease)
{
    assert (self);
    self->lease = lease > 0? lease: 0;
}

void
zstate_watchers_set_per_key (zstate_watchers_t *self, size_t per_key)
{
    assert (self);
    assert (per_key > 0);
    self->per_key = per_key;
}

size_t
zstate_watchers_per_key (zstate_watchers_t *self)
{
    assert (self);
    return self->per_key;
}

//  Forget the watcher at the list's cursor; its slot is its key's again
static void
s_remove (zstate_watchers_t *self, watcher_t *watcher)
{
    owner_t *owner = watcher->owner;
    if (--owner->watches == 0)
        zhashx_delete (self->owners, owner->key);
    zlistx_delete (self->watchers, zlistx_cursor (self->watchers));
}

//  Forget watchers whose lease ran out. There are a few at most, so
//  starting over after each delete is cheap and keeps the cursor simple.
static void
s_expire (zstate_watchers_t *self)
{
    int64_t now = zclock_mono ();
    watcher_t *watcher = (watcher_t *) zlistx_first (self->watchers);
    while (watcher) {
        if (watcher->expires < now) {
            s_remove (self, watcher);
            watcher = (watcher_t *) zlistx_first (self->watchers);
        }
        else
            watcher = (watcher_t *) zlistx_next (self->watchers);
    }
}

//  Add a watcher of (db, table) for identity, one of key's watches
static watcher_t *
s_watcher_new (zstate_watchers_t *self, zframe_t *identity, const char *key,
               const char *db, const char *table)
{
    owner_t *owner = (owner_t *) zhashx_lookup (self->owners, key);
    if (!owner) {
        owner = (owner_t *) zmalloc (sizeof (owner_t) + strlen (key) + 1);
        assert (owner);
        strcpy (owner->key, key);
        int rc = zhashx_insert (self->owners, owner->key, owner);
        assert (rc == 0);
    }
    owner->watches++;
    watcher_t *watcher = (watcher_t *) zmalloc (sizeof (watcher_t));
    assert (watcher);
    watcher->identity = zframe_dup (identity);
    watcher->owner = owner;
    s_pins_sweep (self);
    watcher->pin = s_pin_take (self, identity);
    watcher->db = strdup (db);
    watcher->table = strdup (table);
    assert (watcher->db && watcher->table);
    zlistx_add_end (self->watchers, watcher);
    return watcher;
}

int
zstate_watchers_watch (zstate_watchers_t *self, zframe_t *identity, const char *key,
                       const char *db, const char *table)
{
    assert (self);
    assert (identity && db && table);
    key = key? key: "";
    //  A renewal extends the lease; a new watch adds a watcher
    watcher_t *watcher = (watcher_t *) zlistx_first (self->watchers);
    while (watcher) {
        if (zframe_eq (watcher->identity, identity)
        &&  streq (watcher->db, db) && streq (watcher->table, table))
            break;
        watcher = (watcher_t *) zlistx_next (self->watchers);
    }
    if (!watcher) {
        s_expire (self);
        //  The key's cap first: that one holds however long the table has room
        owner_t *owner = (owner_t *) zhashx_lookup (self->owners, key);
        if (owner && owner->watches >= self->per_key) {
            self->refused++;
            errno = EDQUOT;
            return -1;
        }
        if (zlistx_size (self->watchers) >= ZSTATE_WATCHERS_MAX) {
            self->refused_full++;
            errno = ENOSPC;
            return -1;
        }
        watcher = s_watcher_new (self, identity, key, db, table);
    }
    watcher->expires = zclock_mono () + self->lease;
    return 0;
}

//  libzmq is done with a watcher's own copy, data, which follows its size
static void
s_unpin (void *data, void *hint)
{
    pin_t *pin = (pin_t *) hint;
    size_t *header = (size_t *) data - 1;
    __atomic_sub_fetch (&pin->pinned, *header, __ATOMIC_ACQ_REL);
    if (__atomic_sub_fetch (&pin->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free (pin);
    free (header);
}

//  Make copy a copy of payload for watcher: the same content when small,
//  else its own buffer within the watcher's bound. Returns 0, or -1 when
//  the watcher has too much in flight.
static int
s_copy (watcher_t *watcher, zmq_msg_t *copy, zmq_msg_t *payload)
{
    size_t size = zmq_msg_size (payload);
    if (size <= WATCH_SHARED_MAX) {
        zmq_msg_init (copy);
        return zmq_msg_copy (copy, payload);
    }
    pin_t *pin = watcher->pin;
    if (__atomic_add_fetch (&pin->pinned, size, __ATOMIC_ACQ_REL) > WATCH_BYTES_MAX) {
        __atomic_sub_fetch (&pin->pinned, size, __ATOMIC_ACQ_REL);
        return -1;
    }
    size_t *header = (size_t *) malloc (sizeof (size_t) + size);
    assert (header);
    *header = size;
    memcpy (header + 1, zmq_msg_data (payload), size);
    __atomic_add_fetch (&pin->refs, 1, __ATOMIC_ACQ_REL);
    int rc = zmq_msg_init_data (copy, header + 1, size, s_unpin, pin);
    assert (rc == 0);
    return 0;
}

void
zstate_watchers_publish (zstate_watchers_t *self, const char *db, const char *table,
                         zmq_msg_t *payload, zstate_watchers_send_fn *send, void *arg)
{
    assert (self);
    assert (send);
    if (zlistx_size (self->watchers) == 0)
        return;
    s_expire (self);
    bool gone = false;
    watcher_t *watcher = (watcher_t *) zlistx_first (self->watchers);
    while (watcher) {
        if (streq (watcher->db, db) && streq (watcher->table, table)) {
            zmq_msg_t copy;
            if (s_copy (watcher, &copy, payload))
                self->lost++;
            else {
                if (send (arg, watcher->identity, &copy)) {
                    self->lost++;
                    //  A watcher that left will not renew: its slot is
                    //  its key's again now, not at the end of its lease
                    if (errno == EHOSTUNREACH) {
                        watcher->expires = INT64_MIN;
                        gone = true;
                    }
                }
                zmq_msg_close (&copy);
            }
        }
        watcher = (watcher_t *) zlistx_next (self->watchers);
    }
    if (gone)
        s_expire (self);
}

uint64_t
zstate_watchers_lost (zstate_watchers_t *self)
{
    assert (self);
    return self->lost;
}

uint64_t
zstate_watchers_refused (zstate_watchers_t *self)
{
    assert (self);
    return self->refused;
}

uint64_t
zstate_watchers_refused_full (zstate_watchers_t *self)
{
    assert (self);
    return self->refused_full;
}

size_t
zstate_watchers_size (zstate_watchers_t *self)
{
    assert (self);
    s_expire (self);
    return zlistx_size (self->watchers);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Self test of this class

//  Two CURVE client keys, in Z85
#define ALICE   "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define BOB     "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

//  What the monitor's socket would be: it takes up to room copies and
//  keeps them, as libzmq keeps what it has not sent, then refuses; it
//  cannot route to the peer that is gone
typedef struct {
    zmq_msg_t held [8];
    size_t count;
    size_t room;
    zframe_t *last;             //  the identity of the last copy taken
    zframe_t *gone;             //  a peer whose connection is gone, or NULL
} test_socket_t;

static int
s_test_send (void *arg, zframe_t *identity, zmq_msg_t *copy)
{
    test_socket_t *socket = (test_socket_t *) arg;
    if (socket->gone && zframe_eq (identity, socket->gone)) {
        errno = EHOSTUNREACH;
        return -1;
    }
    if (socket->count >= socket->room) {
        errno = EAGAIN;
        return -1;
    }
    zmq_msg_init (&socket->held [socket->count]);
    int rc = zmq_msg_move (&socket->held [socket->count++], copy);
    assert (rc == 0);
    socket->last = identity;
    return 0;
}

//  libzmq sends what it holds: the copies are released
static void
s_test_drain (test_socket_t *socket)
{
    for (size_t index = 0; index < socket->count; index++)
        zmq_msg_close (&socket->held [index]);
    socket->count = 0;
}

//  A table whose leases outlast the test, however slow the run
static zstate_watchers_t *
s_test_watchers_new (void)
{
    zstate_watchers_t *watchers = zstate_watchers_new ();
    zstate_watchers_set_lease (watchers, 3600 * 1000);
    return watchers;
}

//  WATCH (APPL_DB, table) from the peer named name, of key
static int
s_test_watch (zstate_watchers_t *watchers, const char *name, const char *key,
              const char *table)
{
    zframe_t *identity = zframe_new (name, strlen (name));
    int rc = zstate_watchers_watch (watchers, identity, key, "APPL_DB", table);
    zframe_destroy (&identity);
    return rc;
}

//  The table holds ZSTATE_WATCHERS_MAX watches at most, from all peers
//  and keys, each key within its cap; renewals of those it holds still
//  pass, and a table that is full refuses for itself, not for the key
static void
s_test_bounded (void)
{
    zstate_watchers_t *watchers = s_test_watchers_new ();
    char name [32], key [32];
    for (int count = 0; count < ZSTATE_WATCHERS_MAX; count++) {
        snprintf (name, sizeof (name), "peer-%d", count);
        snprintf (key, sizeof (key), "key-%d", count / ZSTATE_WATCHERS_PER_KEY);
        assert (s_test_watch (watchers, name, key, "ROUTE_TABLE") == 0);
    }
    assert (zstate_watchers_size (watchers) == ZSTATE_WATCHERS_MAX);
    errno = 0;
    assert (s_test_watch (watchers, "newcomer", ALICE, "ROUTE_TABLE") == -1);
    assert (errno == ENOSPC);
    assert (zstate_watchers_refused (watchers) == 0);
    assert (zstate_watchers_refused_full (watchers) == 1);
    assert (s_test_watch (watchers, "peer-0", "key-0", "ROUTE_TABLE") == 0);
    assert (zstate_watchers_size (watchers) == ZSTATE_WATCHERS_MAX);
    zstate_watchers_destroy (&watchers);
}

//  The peers of one key hold ZSTATE_WATCHERS_PER_KEY watches at most,
//  however many peers they are; a renewal needs no slot, another key has
//  its own, and the peers without a key share one
static void
s_test_per_key (void)
{
    zstate_watchers_t *watchers = s_test_watchers_new ();
    char name [32];
    for (int count = 0; count < ZSTATE_WATCHERS_PER_KEY; count++) {
        snprintf (name, sizeof (name), "alice-%d", count);
        assert (s_test_watch (watchers, name, ALICE, "ROUTE_TABLE") == 0);
    }
    errno = 0;
    assert (s_test_watch (watchers, "alice-new", ALICE, "ROUTE_TABLE") == -1);
    assert (errno == EDQUOT);
    assert (s_test_watch (watchers, "alice-0", ALICE, "PORT_TABLE") == -1);
    assert (zstate_watchers_refused (watchers) == 2);
    assert (s_test_watch (watchers, "alice-0", ALICE, "ROUTE_TABLE") == 0);
    assert (s_test_watch (watchers, "bob", BOB, "ROUTE_TABLE") == 0);
    for (int count = 0; count < ZSTATE_WATCHERS_PER_KEY; count++) {
        snprintf (name, sizeof (name), "anonymous-%d", count);
        assert (s_test_watch (watchers, name, count % 2? NULL: "", "ROUTE_TABLE") == 0);
    }
    errno = 0;
    assert (s_test_watch (watchers, "anonymous-new", NULL, "ROUTE_TABLE") == -1);
    assert (errno == EDQUOT);
    assert (zstate_watchers_refused (watchers) == 3);
    assert (zstate_watchers_size (watchers) == 2 * ZSTATE_WATCHERS_PER_KEY + 1);
    //  A lower cap holds for new watches; those held stay, and renew
    zstate_watchers_set_per_key (watchers, 1);
    assert (s_test_watch (watchers, "bob-2", BOB, "ROUTE_TABLE") == -1);
    assert (s_test_watch (watchers, "alice-1", ALICE, "ROUTE_TABLE") == 0);
    assert (zstate_watchers_size (watchers) == 2 * ZSTATE_WATCHERS_PER_KEY + 1);
    zstate_watchers_destroy (&watchers);
}

//  A watch that ends gives its slot back to its key: one whose lease ran
//  out (the short lease only for its renewal, so that nothing else runs
//  out before the test means it to), and one whose peer is gone, at the
//  first copy that cannot reach it
static void
s_test_slots_back (void)
{
    zstate_watchers_t *watchers = s_test_watchers_new ();
    zstate_watchers_set_per_key (watchers, 2);
    assert (s_test_watch (watchers, "alice-0", ALICE, "ROUTE_TABLE") == 0);
    assert (s_test_watch (watchers, "alice-1", ALICE, "EXPIRING") == 0);
    assert (s_test_watch (watchers, "alice-2", ALICE, "ROUTE_TABLE") == -1);
    zstate_watchers_set_lease (watchers, 0);
    assert (s_test_watch (watchers, "alice-1", ALICE, "EXPIRING") == 0);
    zstate_watchers_set_lease (watchers, 3600 * 1000);
    int64_t deadline = zclock_mono () + 30000;
    while (zstate_watchers_size (watchers) > 1) {
        assert (zclock_mono () < deadline);
        zclock_sleep (1);
    }
    assert (s_test_watch (watchers, "alice-2", ALICE, "ROUTE_TABLE") == 0);
    assert (s_test_watch (watchers, "alice-3", ALICE, "ROUTE_TABLE") == -1);

    //  alice-0 left: its copy is lost, and its watch ends with it
    zframe_t *gone = zframe_new ("alice-0", 7);
    test_socket_t socket = { .room = 8, .gone = gone };
    zmq_msg_t payload;
    zmq_msg_init_data (&payload, "ops", 3, NULL, NULL);
    zstate_watchers_publish (watchers, "APPL_DB", "ROUTE_TABLE", &payload, s_test_send, &socket);
    assert (socket.count == 1 && zstate_watchers_lost (watchers) == 1);
    assert (zstate_watchers_size (watchers) == 1);
    assert (s_test_watch (watchers, "alice-3", ALICE, "ROUTE_TABLE") == 0);
    assert (zstate_watchers_refused (watchers) == 2);
    zmq_msg_close (&payload);
    s_test_drain (&socket);
    zframe_destroy (&gone);
    zstate_watchers_destroy (&watchers);
}

//  A payload over WATCH_SHARED_MAX is the peer's own copy, and the peer
//  has at most WATCH_BYTES_MAX of those in flight, over all its watches;
//  they stay valid after the table has gone
static void
s_test_pinned (void)
{
    zstate_watchers_t *watchers = s_test_watchers_new ();
    zframe_t *peer = zframe_new ("deaf", 4);
    assert (zstate_watchers_watch (watchers, peer, NULL, "APPL_DB", "ROUTE_TABLE") == 0);
    assert (zstate_watchers_watch (watchers, peer, NULL, "APPL_DB", "PORT_TABLE") == 0);
    zmq_msg_t payload;
    int rc = zmq_msg_init_size (&payload, WATCH_BYTES_MAX / 4);
    assert (rc == 0);
    memset (zmq_msg_data (&payload), 'p', zmq_msg_size (&payload));
    test_socket_t socket = { .room = 8 };
    //  Four fill the bound, two tables together; the fifth is lost
    zstate_watchers_publish (watchers, "APPL_DB", "ROUTE_TABLE", &payload, s_test_send, &socket);
    zstate_watchers_publish (watchers, "APPL_DB", "PORT_TABLE", &payload, s_test_send, &socket);
    zstate_watchers_publish (watchers, "APPL_DB", "ROUTE_TABLE", &payload, s_test_send, &socket);
    zstate_watchers_publish (watchers, "APPL_DB", "PORT_TABLE", &payload, s_test_send, &socket);
    assert (socket.count == 4 && zstate_watchers_lost (watchers) == 0);
    zstate_watchers_publish (watchers, "APPL_DB", "ROUTE_TABLE", &payload, s_test_send, &socket);
    assert (socket.count == 4 && zstate_watchers_lost (watchers) == 1);
    //  Each its own buffer, the same bytes
    assert (zmq_msg_data (&socket.held [0]) != zmq_msg_data (&payload));
    assert (memcmp (zmq_msg_data (&socket.held [3]), zmq_msg_data (&payload),
                    zmq_msg_size (&payload)) == 0);
    //  Once sent, the bound has room again
    s_test_drain (&socket);
    zstate_watchers_publish (watchers, "APPL_DB", "ROUTE_TABLE", &payload, s_test_send, &socket);
    assert (socket.count == 1 && zstate_watchers_lost (watchers) == 1);
    //  A copy outlives the table
    zstate_watchers_destroy (&watchers);
    assert (zmq_msg_size (&socket.held [0]) == zmq_msg_size (&payload));
    s_test_drain (&socket);
    zmq_msg_close (&payload);
    zframe_destroy (&peer);
}

void
zstate_watchers_test (bool verbose)
{
    (void) verbose;
    printf (" * zstate_watchers: ");
    //  @selftest
    //  As the monitor uses it: a WATCH request adds a watcher for the
    //  peer's ROUTER identity and its CURVE key (the request's User-Id;
    //  NULL without CURVE), and each message routed to its table goes to
    //  it through the send function, the monitor's socket (here
    //  s_test_send, which keeps the copies)
    zstate_watchers_t *watchers = zstate_watchers_new ();
    zstate_watchers_set_lease (watchers, 60000);
    zstate_watchers_set_per_key (watchers, 4);
    zframe_t *identity = zframe_new ("watcher", 7);
    int rc = zstate_watchers_watch (watchers, identity, ALICE, "APPL_DB", "PORT_TABLE");
    assert (rc == 0);
    assert (zstate_watchers_size (watchers) == 1);
    zmq_msg_t message;
    zmq_msg_init_data (&message, "ops", 3, NULL, NULL);
    test_socket_t socket = { .room = 1 };
    zstate_watchers_publish (watchers, "APPL_DB", "OTHER_TABLE", &message, s_test_send, &socket);
    zstate_watchers_publish (watchers, "APPL_DB", "PORT_TABLE", &message, s_test_send, &socket);
    assert (socket.count == 1 && zframe_eq (socket.last, identity));
    //  A small copy shares the payload's content; the payload stays ours
    assert (zmq_msg_size (&socket.held [0]) == 3);
    assert (memcmp (zmq_msg_data (&socket.held [0]), "ops", 3) == 0);
    //  A watcher that cannot take one loses it, counted
    zstate_watchers_publish (watchers, "APPL_DB", "PORT_TABLE", &message, s_test_send, &socket);
    assert (zstate_watchers_lost (watchers) == 1);
    zmq_msg_close (&message);
    s_test_drain (&socket);
    zframe_destroy (&identity);
    zstate_watchers_destroy (&watchers);
    //  @end

    s_test_bounded ();
    s_test_per_key ();
    s_test_slots_back ();
    s_test_pinned ();
    printf ("OK\n");
}
#endif
