/*  =========================================================================
    zstate_security - the security of a server's endpoints: CURVE, the
    process's authenticator, the posture check, and handshake counters

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SECURITY_H_INCLUDED
#define ZSTATE_SECURITY_H_INCLUDED

//  The server actor owns one and calls it from its loop, for its ROUTER
//  and its monitor's ROUTER alike. Before each bind, apply sets the
//  socket's options: a ZAP domain always (libzmq then refuses ZMTP 1.0
//  and 2.0 peers, whose frames would otherwise reach the decoder), CURVE
//  server keys when CURVE is on, a handshake limit; and it refuses NULL
//  security on a tcp endpoint that is not loopback, unless allowed. It
//  also watches each socket's handshakes (zmq_socket_monitor) and counts
//  them by reason in the server's stats, and sheds connections over the cap.
//
//  Actor commands it answers (zstate_server.h lists them with the rest):
//      "sss"   CURVE certificate clients
//      "ss"    ALLOW address
//      "ss"    DENY address
//      "si"    SET INSECURE flag
//      "si"    SET CONNECTIONS count
//      "si"    SET PEER TIMEOUT msecs

typedef struct _zstate_security_t zstate_security_t;

//  Create the security of one server, with nothing on: NULL security, no
//  authenticator. Counters go to stats, which outlives us; the socket
//  monitors read in loop.
zstate_security_t *
    zstate_security_new (zloop_t *loop, zstate_server_stats_t *stats);

//  Destroy it; nulls the pointer. Releases the process's authenticator
//  when we held it. Call before the sockets it watched are closed.
void
    zstate_security_destroy (zstate_security_t **self_p);

//  True when command is one of ours
bool
    zstate_security_command (const char *command);

//  Handle command and reply on pipe
void
    zstate_security_handle (zstate_security_t *self, zsock_t *pipe, const char *command,
                            zmsg_t *request);

//  Before binding sock to endpoint: refuse a NULL endpoint that is not
//  loopback unless allowed, set the options, start watching sock. Returns
//  0, or -1 with errno and zstate_reason ().
int
    zstate_security_apply (zstate_security_t *self, zsock_t *sock, const char *endpoint);

//  Apply, then bind sock to endpoint. Returns the port for tcp, 0 for
//  other transports, or -1 with errno and zstate_reason ().
int
    zstate_security_bind (zstate_security_t *self, zsock_t *sock, const char *endpoint);

//  Return true when a NULL security endpoint is loopback: ipc, inproc,
//  tcp on 127.0.0.0/8, ::1 or localhost
bool
    zstate_security_loopback (const char *endpoint);

//  Load a certificate with its secret key (zcert tries certificate's
//  "_secret" file first). Returns it, or NULL with errno and zstate_reason
//  (), who first: ENOENT when it cannot be read, EINVAL without a secret key.
zcert_t *
    zstate_security_load (const char *who, const char *certificate);

//  zcert_load, which tries certificate "_secret" first, then certificate,
//  once both files are known to parse (CZMQ 4.2.1's zcert_load leaks on a
//  file it cannot parse). Returns the certificate, or NULL.
zcert_t *
    zstate_security_cert_read (const char *certificate);

//  Put the public key that key gives, a certificate file (when one of
//  that name exists) or Z85 text, into text (41 bytes) as Z85. Returns 0,
//  or -1 with EINVAL.
int
    zstate_security_public_key (const char *who, const char *key, char *text);

//  Print the security counters of stats, a ZPL section's lines
void
    zstate_security_stats_fprint (const zstate_server_stats_t *stats, FILE *file);

#endif
