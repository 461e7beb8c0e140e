/*  =========================================================================
    zstate_zap - the process's ZAP handler (RFC 27): address lists, a
    directory of CURVE client certificates, and the client's key as User-Id

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Our own handler rather than CZMQ's zauth, whose 4.2.1 replies carry an
    empty User-Id: a server could not tell which key a message came from.
@discuss
    Requests come from libzmq's I/O threads over inproc, so anything in
    this process can send one: each is checked frame by frame, and what is
    not a ZAP 1.0 request gets status 500, never an assertion.

    The certificate directory is read through the parse-first loader of
    zstate_security.c (CZMQ 4.2.1's zcert_load leaks on a file it cannot
    parse), and read again, as zcertstore does, when a request finds its
    files changed: their count, total size or latest change time.
@end
*/

#include "zstate_classes.h"
#include "zstate_security.h"
#include "zstate_zap.h"
#include <dirent.h>
#include <sys/stat.h>

#define ZAP_ENDPOINT    "inproc://zeromq.zap.01"

typedef struct {
    zsock_t *pipe;              //  to our owner
    zsock_t *handler;           //  REP at the ZAP endpoint
    zhashx_t *allow;            //  addresses let in, when any
    zhashx_t *deny;             //  addresses kept out
    char *directory;            //  CURVE client certificates, or NULL
    zhashx_t *keys;             //  their public keys in Z85
    uint64_t signature [3];     //  the directory's files: count, size, time
    uint64_t requests, allowed, denied, malformed;
    bool terminated;
} zap_t;


//  --------------------------------------------------------------------------
//  The certificate directory

//  The signature of directory's files: count, total size, latest change
static void
s_signature (const char *directory, uint64_t *signature)
{
    memset (signature, 0, 3 * sizeof (uint64_t));
    DIR *handle = opendir (directory);
    if (!handle)
        return;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        char *path = zsys_sprintf ("%s/%s", directory, entry->d_name);
        assert (path);
        struct stat status;
        if (stat (path, &status) == 0) {
            signature [0]++;
            signature [1] += (uint64_t) status.st_size;
            uint64_t changed = (uint64_t) status.st_mtim.tv_sec * 1000000000
                             + (uint64_t) status.st_mtim.tv_nsec;
            if (changed > signature [2])
                signature [2] = changed;
        }
        zstr_free (&path);
    }
    closedir (handle);
}

//  Read the public keys of directory's certificates, when its files
//  changed since we last read them
static void
s_keys_load (zap_t *self)
{
    uint64_t signature [3];
    s_signature (self->directory, signature);
    if (memcmp (signature, self->signature, sizeof (signature)) == 0)
        return;
    memcpy (self->signature, signature, sizeof (signature));
    zhashx_purge (self->keys);
    DIR *handle = opendir (self->directory);
    struct dirent *entry;
    while (handle && (entry = readdir (handle))) {
        if (*entry->d_name == '.')
            continue;
        char *path = zsys_sprintf ("%s/%s", self->directory, entry->d_name);
        assert (path);
        zcert_t *cert = zsys_file_exists (path)? zstate_security_cert_read (path): NULL;
        if (cert)
            zhashx_update (self->keys, zcert_public_txt (cert), self);
        zcert_destroy (&cert);
        zstr_free (&path);
    }
    if (handle)
        closedir (handle);
}


//  --------------------------------------------------------------------------
//  Requests: version, request id, domain, address, identity, mechanism,
//  then the mechanism's credentials (none for NULL, two for PLAIN, one
//  key of 32 bytes for CURVE)

static void
s_reply (zap_t *self, zframe_t *request_id, const char *status, const char *text,
         const char *user_id)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    if (request_id)
        zmsg_append (reply, &request_id);
    else
        zmsg_addmem (reply, NULL, 0);
    zmsg_addstr (reply, status);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user_id);
    zmsg_addmem (reply, NULL, 0);           //  no metadata
    zmsg_send (&reply, self->handler);
}

//  Return true when frame holds exactly text
static bool
s_frame_is (zframe_t *frame, const char *text)
{
    return frame && zframe_size (frame) == strlen (text)
        && memcmp (zframe_data (frame), text, zframe_size (frame)) == 0;
}

//  Return true when address passes the lists
static bool
s_address_passes (zap_t *self, zframe_t *frame)
{
    char *address = zframe_strdup (frame);
    bool passes = zhashx_size (self->allow)? zhashx_lookup (self->allow, address) != NULL:
                                             zhashx_lookup (self->deny, address) == NULL;
    free (address);
    return passes;
}

//  Decide a well-formed request; put the User-Id in user_id (41 bytes)
static bool
s_decide (zap_t *self, zmsg_t *request, zframe_t *mechanism, char *user_id)
{
    *user_id = 0;
    zframe_t *address = zmsg_first (request);
    if (!s_address_passes (self, address))
        return false;
    if (s_frame_is (mechanism, "NULL"))
        return true;
    if (!s_frame_is (mechanism, "CURVE") || !self->directory)
        return false;           //  PLAIN and GSSAPI: nobody has credentials
    s_keys_load (self);
    zmq_z85_encode (user_id, zframe_data (zmsg_last (request)), 32);
    if (zhashx_lookup (self->keys, user_id))
        return true;
    *user_id = 0;
    return false;
}

//  Return true when the rest of request (address, identity, mechanism,
//  credentials) is well formed; mechanism is left as the third frame
static bool
s_well_formed (zmsg_t *request, zframe_t **mechanism_p)
{
    size_t frames = zmsg_size (request);
    zframe_t *mechanism = NULL;
    if (frames >= 3) {
        zmsg_first (request);
        zmsg_next (request);
        mechanism = zmsg_next (request);
    }
    *mechanism_p = mechanism;
    if (!mechanism)
        return false;
    if (s_frame_is (mechanism, "NULL"))
        return frames == 3;
    if (s_frame_is (mechanism, "PLAIN"))
        return frames == 5;
    if (s_frame_is (mechanism, "CURVE"))
        return frames == 4 && zframe_size (zmsg_last (request)) == 32;
    return s_frame_is (mechanism, "GSSAPI") && frames == 4;
}

static void
s_request (zap_t *self)
{
    zmsg_t *request = zmsg_recv (self->handler);
    if (!request)
        return;
    self->requests++;
    zframe_t *version = zmsg_pop (request);
    zframe_t *request_id = zmsg_pop (request);
    zframe_t *domain = zmsg_pop (request);
    zframe_t *mechanism = NULL;
    char user_id [41];
    if (!s_frame_is (version, "1.0") || !domain || !s_well_formed (request, &mechanism)) {
        self->malformed++;
        if ((self->malformed & (self->malformed - 1)) == 0)     //  1st, 2nd, 4th...
            zsys_warning ("zstate_zap: a request that is not ZAP 1.0; %" PRIu64 " so far",
                          self->malformed);
        s_reply (self, request_id, "500", "Malformed request", "");
    }
    else
    if (s_decide (self, request, mechanism, user_id)) {
        self->allowed++;
        s_reply (self, request_id, "200", "OK", user_id);
    }
    else {
        self->denied++;
        s_reply (self, request_id, "400", "No access", "");
    }
    zframe_destroy (&version);
    zframe_destroy (&domain);
    zmsg_destroy (&request);
}


//  --------------------------------------------------------------------------
//  Commands

static void
s_command (zap_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    char *command = msg? zmsg_popstr (msg): NULL;
    char *argument = msg? zmsg_popstr (msg): NULL;
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "STATS"))
        zsock_send (self->pipe, "8888", self->requests, self->allowed, self->denied,
                    self->malformed);
    else {
        if (argument && streq (command, "ALLOW"))
            zhashx_update (self->allow, argument, self);
        else
        if (argument && streq (command, "DENY"))
            zhashx_update (self->deny, argument, self);
        else
        if (argument && streq (command, "CURVE")) {
            zstr_free (&self->directory);
            self->directory = strdup (argument);
            memset (self->signature, 0, sizeof (self->signature));
            self->signature [0] = UINT64_MAX;       //  read on the first request
        }
        zsock_signal (self->pipe, 0);
    }
    free (command);
    free (argument);
    zmsg_destroy (&msg);
}

void
zstate_zap_actor (zsock_t *pipe, void *args)
{
    zap_t self = { .pipe = pipe };
    self.handler = zsock_new (ZMQ_REP);
    bool bound = self.handler && zsock_bind (self.handler, ZAP_ENDPOINT) == 0;
    *(int *) args = bound? 0: -1;
    //  REP drops a message without an envelope inside its receive, which
    //  would then wait for the next one: never block the handler on it
    if (self.handler)
        zsock_set_rcvtimeo (self.handler, 0);
    self.allow = zhashx_new ();
    self.deny = zhashx_new ();
    self.keys = zhashx_new ();
    assert (self.allow && self.deny && self.keys);
    zpoller_t *poller = zpoller_new (pipe, bound? self.handler: NULL, NULL);
    assert (poller);
    zsock_signal (pipe, 0);
    while (!self.terminated) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe)
            s_command (&self);
        else
        if (which == self.handler)
            s_request (&self);
        else
        if (errno == ETERM)
            break;              //  A signal (EINTR) must not end the handler
    }
    zpoller_destroy (&poller);
    //  libzmq frees a closed socket's inproc endpoint later, on its reaper
    //  thread: unbind now, so that a handler started once we are gone can
    //  bind it
    if (bound)
        zsock_unbind (self.handler, ZAP_ENDPOINT);
    zsock_destroy (&self.handler);
    zhashx_destroy (&self.allow);
    zhashx_destroy (&self.deny);
    zhashx_destroy (&self.keys);
    zstr_free (&self.directory);
}

zactor_t *
zstate_zap_new (void)
{
    int status = -1;
    zactor_t *actor = zactor_new (zstate_zap_actor, &status);
    assert (actor);
    if (status) {
        zactor_destroy (&actor);
        zstate_fail (EADDRINUSE, "another ZAP handler runs in this process:"
                     " zstate cannot know its policy");
    }
    return actor;
}
