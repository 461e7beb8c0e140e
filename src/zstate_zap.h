/*  =========================================================================
    zstate_zap - the process's ZAP handler (RFC 27): address lists, a
    directory of CURVE client certificates, and the client's key as User-Id

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_ZAP_H_INCLUDED
#define ZSTATE_ZAP_H_INCLUDED

//  An actor with a REP socket bound at inproc://zeromq.zap.01, which one
//  socket per process can bind: zstate_security.c holds the process's one
//  and shares it. It decides as CZMQ's zauth does: with an ALLOW list,
//  only its addresses get in; else a DENY list keeps its addresses out;
//  then NULL passes, CURVE passes when the client's key is in the
//  directory (read again when its files change), anything else fails.
//  A CURVE client that passes gets its public key in Z85 as User-Id,
//  which the server reads as the "User-Id" property of its messages.
//  A request that is not a ZAP 1.0 request is answered 500 and counted.
//
//  Actor commands, each answered with a signal (zsock_wait):
//      "ss"    ALLOW address
//      "ss"    DENY address
//      "ss"    CURVE directory
//  and one answered with the counters:
//      "s"     STATS   -> "8888" requests allowed denied malformed

//  Start the process's ZAP handler. Returns it, or NULL with EADDRINUSE
//  and zstate_reason () when another socket handles ZAP in this process.
zactor_t *
    zstate_zap_new (void);

//  The actor itself, for zactor_new; args is an int * set to 0 once bound,
//  -1 when the ZAP endpoint is taken
void
    zstate_zap_actor (zsock_t *pipe, void *args);

#endif
