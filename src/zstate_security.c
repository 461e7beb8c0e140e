/*  =========================================================================
    zstate_security - the security of a server's endpoints: CURVE, the
    process's authenticator, the posture check, and handshake counters

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Part of the server actor, on its thread. CURVE without a ZAP handler
    is encryption without authentication: libzmq lets in anyone who holds
    the server's public key when no handler answers. So CURVE is only
    switched on once our ZAP handler (zstate_zap) runs and checks client
    keys against a directory of certificates, and it keeps running while
    we need it.
@discuss
    ZAP has one handler per process (inproc://zeromq.zap.01), so the
    authenticator is the process's: servers share it, counted, and they
    share its ALLOW and DENY lists and its certificate directory. A server
    that asks for another directory than the one in use is refused, and so
    is one in a process where something else already handles ZAP, whose
    policy we cannot know.

    The connection cap works from the socket monitor: ACCEPTED carries
    the new connection's fd, and one over the cap is shut down (not
    closed: libzmq owns the fd), so libzmq sees end of file and drops it.
@end
*/

#include "zstate_classes.h"
#include "zstate_security.h"
#include "zstate_zap.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <sys/socket.h>

#define ZAP_DOMAIN          "zstate"
#define HANDSHAKE_IVL       10000   //  msecs a peer has to complete ZMTP
#define CONNECTIONS_MAX     1024    //  default cap on open connections
#define PEER_TIMEOUT        30000   //  msecs a connection may answer nothing
#define PEER_TIMEOUT_MIN    100
#define PEER_TIMEOUT_MAX    3600000
#define CERT_FILE_MAX       65536   //  bytes of a certificate file we read

struct _zstate_security_t {
    zloop_t *loop;              //  the server's reactor
    zstate_server_stats_t *stats;   //  the server's counters
    zcert_t *cert;              //  our certificate: CURVE is on when set
    bool authenticator;         //  we hold a reference to the authenticator
    bool insecure;              //  NULL security allowed on any endpoint
    size_t connections_max;     //  cap on open connections, 0 none
    int peer_timeout;           //  msecs a connection may answer nothing, 0 off
    zlistx_t *monitors;         //  a PAIR per watched socket
    zlistx_t *watched;          //  those sockets (zsock_t *), same order
};


//  --------------------------------------------------------------------------
//  The process's authenticator: one ZAP handler, shared and counted

static pthread_mutex_t s_auth_mutex = PTHREAD_MUTEX_INITIALIZER;
static zactor_t *s_auth;        //  the ZAP handler (zstate_zap), under s_auth_mutex
static size_t s_auth_refs;      //  its holders
static char *s_auth_curve;      //  the directory it checks keys against

//  Take a reference; with clients, make it check CURVE keys against that
//  directory. Returns 0, or -1 with errno and zstate_reason ().
static int
s_auth_acquire (const char *clients)
{
    int rc = 0;
    pthread_mutex_lock (&s_auth_mutex);
    if (!s_auth) {
        s_auth = zstate_zap_new ();
        if (!s_auth)
            rc = -1;
    }
    if (rc == 0 && clients && s_auth_curve && !streq (s_auth_curve, clients))
        rc = zstate_fail (EBUSY, "the process checks client keys against %s already;"
                          " one directory per process", s_auth_curve);
    if (rc == 0 && clients && !s_auth_curve) {
        zstr_sendx (s_auth, "CURVE", clients, NULL);
        zsock_wait (s_auth);
        s_auth_curve = strdup (clients);
        assert (s_auth_curve);
    }
    if (rc == 0)
        s_auth_refs++;
    pthread_mutex_unlock (&s_auth_mutex);
    return rc;
}

static void
s_auth_release (void)
{
    pthread_mutex_lock (&s_auth_mutex);
    assert (s_auth_refs);
    if (--s_auth_refs == 0) {
        //  Its lists go with it: the next holder starts afresh
        zactor_destroy (&s_auth);
        zstr_free (&s_auth_curve);
    }
    pthread_mutex_unlock (&s_auth_mutex);
}

//  ALLOW or DENY one address; the authenticator must run
static void
s_auth_list (const char *command, const char *address)
{
    pthread_mutex_lock (&s_auth_mutex);
    assert (s_auth);
    zstr_sendx (s_auth, command, address, NULL);
    zsock_wait (s_auth);
    pthread_mutex_unlock (&s_auth_mutex);
}


//  --------------------------------------------------------------------------
//  Create and destroy

zstate_security_t *
zstate_security_new (zloop_t *loop, zstate_server_stats_t *stats)
{
    zstate_security_t *self = (zstate_security_t *) zmalloc (sizeof (zstate_security_t));
    assert (self);
    self->loop = loop;
    self->stats = stats;
    self->connections_max = CONNECTIONS_MAX;
    self->peer_timeout = PEER_TIMEOUT;
    self->monitors = zlistx_new ();
    assert (self->monitors);
    self->watched = zlistx_new ();
    assert (self->watched);
    return self;
}

void
zstate_security_destroy (zstate_security_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_security_t *self = *self_p;
        zsock_t *sock = (zsock_t *) zlistx_first (self->watched);
        zsock_t *monitor = (zsock_t *) zlistx_first (self->monitors);
        while (sock) {
            zloop_reader_end (self->loop, monitor);
            zmq_socket_monitor (zsock_resolve (sock), NULL, 0);
            zsock_destroy (&monitor);
            sock = (zsock_t *) zlistx_next (self->watched);
            monitor = (zsock_t *) zlistx_next (self->monitors);
        }
        zlistx_destroy (&self->watched);
        zlistx_destroy (&self->monitors);
        zcert_destroy (&self->cert);
        if (self->authenticator)
            s_auth_release ();
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Handshake counters, from the socket monitor

static bool
s_power_of_two (uint64_t count)
{
    return count && (count & (count - 1)) == 0;
}

//  Count one refused handshake; log the 1st, 2nd, 4th... of each reason
static void
s_refused (uint64_t *counter, const char *reason, const char *endpoint)
{
    (*counter)++;
    if (s_power_of_two (*counter))
        zsys_warning ("zstate_server: handshake refused on %s: %s; %" PRIu64 " so far",
                      endpoint, reason, *counter);
}

//  A connection over the cap: shut it down, when its fd is still a
//  connection on that tcp endpoint (it may have gone, and the number been
//  taken again, since the event)
static void
s_shed (zstate_security_t *self, int fd, const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    struct sockaddr_storage address;
    socklen_t size = sizeof (address);
    if (strncmp (endpoint, "tcp://", 6) || !colon
    ||  getsockname (fd, (struct sockaddr *) &address, &size))
        return;
    int port = address.ss_family == AF_INET?
        ntohs (((struct sockaddr_in *) &address)->sin_port):
        ntohs (((struct sockaddr_in6 *) &address)->sin6_port);
    if (port != atoi (colon + 1))
        return;
    shutdown (fd, SHUT_RDWR);
    self->stats->shed++;
    if (s_power_of_two (self->stats->shed))
        zsys_warning ("zstate_server: %zu connections open on %s, over the cap of %zu:"
                      " closing the newest; %" PRIu64 " closed so far",
                      self->stats->connections, endpoint, self->connections_max,
                      self->stats->shed);
}

static void
s_event (zstate_security_t *self, uint16_t event, uint32_t value, const char *endpoint)
{
    zstate_server_stats_t *stats = self->stats;
    if (event == ZMQ_EVENT_ACCEPTED) {
        stats->accepted++;
        stats->connections++;
        if (self->connections_max && stats->connections > self->connections_max)
            s_shed (self, (int) value, endpoint);
    }
    else
    if (event == ZMQ_EVENT_DISCONNECTED) {
        if (stats->connections)
            stats->connections--;
    }
    else
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        stats->handshakes++;
    else
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        s_refused (&stats->auth_denied, "denied by the authenticator", endpoint);
    else
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            s_refused (&stats->auth_mechanism, "another security mechanism", endpoint);
        else
        if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
            s_refused (&stats->auth_crypto, "CURVE that does not decrypt"
                       " (the wrong server key?)", endpoint);
        else
            s_refused (&stats->auth_protocol, "a protocol error", endpoint);
    }
    else
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        s_refused (&stats->auth_failed, "no detail", endpoint);
}

//  Each event is [event:2 value:4][endpoint], the numbers in host order
static int
s_monitor_readable (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    zmsg_t *msg = zmsg_recv (reader);
    zframe_t *numbers = zmsg_first (msg);
    zframe_t *address = zmsg_next (msg);
    if (numbers && zframe_size (numbers) == 6 && address) {
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (numbers), 2);
        memcpy (&value, zframe_data (numbers) + 2, 4);
        char *endpoint = zframe_strdup (address);
        s_event ((zstate_security_t *) arg, event, value, endpoint);
        free (endpoint);
    }
    zmsg_destroy (&msg);
    return 0;
}

//  Watch sock's connections and handshakes, once per socket. Returns 0,
//  or -1 with EMFILE and zstate_reason () at the process's socket limit
//  (the monitor takes two sockets).
static int
s_watch (zstate_security_t *self, zsock_t *sock)
{
    for (void *known = zlistx_first (self->watched); known; known = zlistx_next (self->watched))
        if (known == sock)
            return 0;
    if (zstate_sock_reserve ("bind", 2))
        return -1;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://zstate-security-%p", (void *) sock);
    int rc = zmq_socket_monitor (zsock_resolve (sock), endpoint,
                                 ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED
                                 | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    zsock_t *monitor = rc == 0? zstate_sock_new (ZMQ_PAIR): NULL;
    if (!monitor) {
        if (rc == 0)
            zmq_socket_monitor (zsock_resolve (sock), NULL, 0);
        return zstate_fail (EMFILE, "bind: no socket left to watch its handshakes");
    }
    rc = zsock_connect (monitor, "%s", endpoint);
    assert (rc == 0);
    rc = zloop_reader (self->loop, monitor, s_monitor_readable, self);
    assert (rc == 0);
    zloop_reader_set_tolerant (self->loop, monitor);
    zlistx_add_end (self->monitors, monitor);
    zlistx_add_end (self->watched, sock);
    return 0;
}


//  --------------------------------------------------------------------------
//  The posture, applied before each bind

bool
zstate_security_loopback (const char *endpoint)
{
    if (!endpoint)
        return false;
    if (strncmp (endpoint, "ipc://", 6) == 0 || strncmp (endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp (endpoint, "tcp://", 6))
        return false;           //  Any other transport goes over a network
    //  tcp://host:port, the host an address, a name or an interface; a
    //  source address (tcp://source;host:port) does not apply to a bind
    const char *host = endpoint + 6;
    const char *colon = strrchr (host, ':');
    if (!colon || colon == host || strchr (host, ';'))
        return false;
    char name [INET6_ADDRSTRLEN + 2];
    size_t size = (size_t) (colon - host);
    if (size >= sizeof (name))
        return false;
    memcpy (name, host, size);
    name [size] = 0;
    struct in_addr address;
    if (inet_pton (AF_INET, name, &address) == 1)
        return (ntohl (address.s_addr) >> 24) == 127;
    return streq (name, "[::1]") || streq (name, "localhost");
}

int
zstate_security_apply (zstate_security_t *self, zsock_t *sock, const char *endpoint)
{
    assert (self);
    if (!self->cert && !self->insecure && !zstate_security_loopback (endpoint))
        return zstate_fail (EACCES, "%s is not loopback: switch CURVE on, or allow"
                            " insecure endpoints", endpoint? endpoint: "(null)");
    //  A ZAP domain makes libzmq refuse ZMTP 1.0 and 2.0 peers
    zsock_set_zap_domain (sock, ZAP_DOMAIN);
    zsock_set_handshake_ivl (sock, HANDSHAKE_IVL);
    //  A handshaken peer that never answers a PING would be held for ever
    if (self->peer_timeout) {
        zsock_set_heartbeat_ivl (sock, self->peer_timeout / 3);
        zsock_set_heartbeat_timeout (sock, self->peer_timeout);
    }
    if (self->cert) {
        zsock_set_curve_server (sock, 1);
        zcert_apply (self->cert, sock);
    }
    return s_watch (self, sock);
}

int
zstate_security_bind (zstate_security_t *self, zsock_t *sock, const char *endpoint)
{
    if (zstate_security_apply (self, sock, endpoint))
        return -1;
    return zstate_bind (sock, endpoint);
}


//  --------------------------------------------------------------------------
//  Commands

//  True when path does not exist or holds ZPL that zconfig can parse: on a
//  file it cannot parse, CZMQ 4.2.1's zconfig_load leaks its zfile_t
static bool
s_parses (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return errno == ENOENT;
    char *text = (char *) zmalloc (CERT_FILE_MAX + 1);
    size_t size = fread (text, 1, CERT_FILE_MAX + 1, file);
    bool good = !ferror (file) && size <= CERT_FILE_MAX;
    fclose (file);
    zconfig_t *config = good? zconfig_str_load (text): NULL;
    good = config != NULL;
    zconfig_destroy (&config);
    free (text);
    return good;
}

zcert_t *
zstate_security_cert_read (const char *path)
{
    char *secret = zsys_sprintf ("%s_secret", path);
    assert (secret);
    bool good = s_parses (secret) && s_parses (path);
    zstr_free (&secret);
    return good? zcert_load (path): NULL;
}

zcert_t *
zstate_security_load (const char *who, const char *certificate)
{
    zcert_t *cert = certificate && *certificate? zstate_security_cert_read (certificate): NULL;
    if (!cert)
        zstate_fail (ENOENT, "%s: cannot read a certificate from '%s'", who,
                     certificate? certificate: "");
    else
    if (streq (zcert_secret_txt (cert), "0000000000000000000000000000000000000000")) {
        zstate_fail (EINVAL, "%s: %s holds no secret key (use the secret"
                     " certificate, %s_secret)", who, certificate, certificate);
        zcert_destroy (&cert);
    }
    return cert;
}

int
zstate_security_public_key (const char *who, const char *key, char *text)
{
    //  A file first: a path can be 40 characters of Z85 too
    byte binary [32];
    bool file = key && *key && zsys_file_exists (key);
    if (!file && key && strlen (key) == 40 && zmq_z85_decode (binary, key)) {
        memcpy (text, key, 41);
        return 0;
    }
    zcert_t *cert = file? zstate_security_cert_read (key): NULL;
    if (!cert)
        return zstate_fail (EINVAL, "%s: '%s' is neither a public key (40 characters"
                            " of Z85) nor a certificate", who, key? key: "");
    memcpy (text, zcert_public_txt (cert), 41);
    zcert_destroy (&cert);
    return 0;
}

int
zstate_curve_apply (zsock_t *sock, const char *certificate, const char *server_key)
{
    assert (sock);
    char server [41];
    if (zstate_security_public_key ("CURVE", server_key, server))
        return -1;
    zcert_t *cert = zstate_security_load ("CURVE", certificate);
    if (!cert)
        return -1;
    zcert_apply (cert, sock);
    zsock_set_curve_serverkey (sock, server);
    zcert_destroy (&cert);
    return 0;
}

//  Return true when one of our sockets has bound an endpoint: its
//  options, CURVE or not, are fixed there
static bool
s_bound (zstate_security_t *self)
{
    bool bound = false;
    for (zsock_t *sock = (zsock_t *) zlistx_first (self->watched); sock && !bound;
         sock = (zsock_t *) zlistx_next (self->watched)) {
        char *endpoint = zsock_last_endpoint (sock);
        bound = endpoint && *endpoint;
        zstr_free (&endpoint);
    }
    return bound;
}

//  Return how many certificates zcert can read in directory, or -1 when
//  there is no such directory
static int
s_certificates (const char *directory)
{
    DIR *handle = opendir (directory);
    if (!handle)
        return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (*entry->d_name == '.')
            continue;
        char *path = zsys_sprintf ("%s/%s", directory, entry->d_name);
        assert (path);
        zcert_t *cert = zsys_file_exists (path)? zstate_security_cert_read (path): NULL;
        if (cert)
            count++;
        zcert_destroy (&cert);
        zstr_free (&path);
    }
    closedir (handle);
    return count;
}

//  CURVE certificate clients: every check that can fail, before anything
//  changes. Returns 0, or -1 with errno and zstate_reason ().
static int
s_curve (zstate_security_t *self, const char *certificate, const char *clients)
{
    if (!certificate || !*certificate || !clients || !*clients)
        return zstate_fail (EINVAL, "CURVE needs a certificate and a client directory");
    if (s_bound (self))
        return zstate_fail (EBUSY, "CURVE: the server has bound an endpoint already");
    if (self->cert)
        return zstate_fail (EBUSY, "CURVE: it is on already");
    if (!zsys_has_curve ())
        return zstate_fail (ENOTSUP, "CURVE: libzmq was built without it");
    zcert_t *cert = zstate_security_load ("CURVE", certificate);
    if (!cert)
        return -1;
    int count = s_certificates (clients);
    if (count <= 0) {
        zcert_destroy (&cert);
        return zstate_fail (ENOENT, count? "CURVE: no client directory %s":
                            "CURVE: no client certificate in %s: nobody could connect",
                            clients);
    }
    if (s_auth_acquire (clients)) {
        zcert_destroy (&cert);
        return -1;
    }
    if (self->authenticator)
        s_auth_release ();      //  We held it for ALLOW or DENY already
    self->authenticator = true;
    self->cert = cert;
    return 0;
}

//  ALLOW or DENY address
static int
s_list (zstate_security_t *self, const char *command, const char *address)
{
    byte binary [16];
    if (!address || (inet_pton (AF_INET, address, binary) != 1
                 &&  inet_pton (AF_INET6, address, binary) != 1))
        return zstate_fail (EINVAL, "%s needs an IPv4 or IPv6 address, not '%s'",
                            command, address? address: "");
    if (!self->authenticator) {
        if (s_auth_acquire (NULL))
            return -1;
        self->authenticator = true;
    }
    s_auth_list (command, address);
    return 0;
}

bool
zstate_security_command (const char *command)
{
    return streq (command, "CURVE") || streq (command, "ALLOW") || streq (command, "DENY")
        || streq (command, "SET INSECURE") || streq (command, "SET CONNECTIONS")
        || streq (command, "SET PEER TIMEOUT");
}

void
zstate_security_handle (zstate_security_t *self, zsock_t *pipe, const char *command,
                        zmsg_t *request)
{
    char *first = zmsg_popstr (request);
    char *second = zmsg_popstr (request);
    int rc = 0;
    if (streq (command, "CURVE"))
        rc = s_curve (self, first, second);
    else
    if (streq (command, "ALLOW") || streq (command, "DENY"))
        rc = s_list (self, command, first);
    else {
        char *end = NULL;
        long count = first? strtol (first, &end, 10): -1;
        if (!first || end == first || *end || count < 0 || count > INT_MAX)
            rc = zstate_fail (EINVAL, "%s needs a count from 0 to %d", command, INT_MAX);
        else
        if (streq (command, "SET INSECURE"))
            self->insecure = count != 0;
        else
        if (streq (command, "SET CONNECTIONS"))
            self->connections_max = (size_t) count;
        else
        if (count && (count < PEER_TIMEOUT_MIN || count > PEER_TIMEOUT_MAX))
            rc = zstate_fail (EINVAL, "%s needs 0 or %d to %d msecs", command,
                              PEER_TIMEOUT_MIN, PEER_TIMEOUT_MAX);
        else
            self->peer_timeout = (int) count;
    }
    zstate_reply (pipe, command, rc? errno: 0, rc? zstate_reason (): "", false);
    free (first);
    free (second);
}


//  --------------------------------------------------------------------------
//  The security lines of the monitor's STATS text

void
zstate_security_stats_fprint (const zstate_server_stats_t *stats, FILE *file)
{
    fprintf (file, "    connections = %zu\n", stats->connections);
    fprintf (file, "    accepted = %" PRIu64 "\n", stats->accepted);
    fprintf (file, "    shed = %" PRIu64 "\n", stats->shed);
    fprintf (file, "    handshakes = %" PRIu64 "\n", stats->handshakes);
    fprintf (file, "    refused\n");
    fprintf (file, "        denied = %" PRIu64 "\n", stats->auth_denied);
    fprintf (file, "        mechanism = %" PRIu64 "\n", stats->auth_mechanism);
    fprintf (file, "        crypto = %" PRIu64 "\n", stats->auth_crypto);
    fprintf (file, "        protocol = %" PRIu64 "\n", stats->auth_protocol);
    fprintf (file, "        other = %" PRIu64 "\n", stats->auth_failed);
    fprintf (file, "    sessions_refused = %" PRIu64 "\n", stats->sessions_refused);
}
