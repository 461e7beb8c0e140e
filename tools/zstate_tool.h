/*  =========================================================================
    zstate_tool - the subcommands of the zstate program

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_TOOL_H_INCLUDED
#define ZSTATE_TOOL_H_INCLUDED

//  The tool is a user of the shared library: it calls the public API, plus
//  the fixtures it links statically (the text codec, the redis-server
//  launcher) and its own copy of the private Redis client for checking and
//  flushing Redis. Nothing else of the library's insides, but for the
//  names of the monitor's messages (zstate_monitor_names.h), which watch
//  and stats share with the server's monitor.
#include "platform.h"
#include "zstate.h"
#include "zstate_redis.h"
#include "zstate_text.h"
#include "zstate_redis_server.h"
//  Wire operations in and out of a batch (exported for the tool only)
#include "zstate_batch_private.h"
//  The UTF-8 check (exported for the tool only)
#include "zstate_utf8.h"

#include <errno.h>
#include <stdarg.h>

//  Asserts check programming errors; they stay on in every build
#ifdef NDEBUG
#   undef NDEBUG
#   include <assert.h>
#   define NDEBUG
#else
#   include <assert.h>
#endif

//  Each subcommand takes its own argv (argv [0] is its name) and returns
//  the process exit status: 0 success, 1 failure, 2 bad usage.
int
    zstate_demo_main (int argc, char *argv []);
int
    zstate_bench_main (int argc, char *argv []);
int
    zstate_serve_main (int argc, char *argv []);
int
    zstate_send_main (int argc, char *argv []);
int
    zstate_watch_main (int argc, char *argv []);
int
    zstate_stats_main (int argc, char *argv []);
int
    zstate_keygen_main (int argc, char *argv []);

//  The security settings of serve: curve, clients, allow, deny, insecure
//  and connections, the same names as options and as config keys
typedef struct _zstate_tool_security_t zstate_tool_security_t;

zstate_tool_security_t *
    zstate_tool_security_new (void);
void
    zstate_tool_security_destroy (zstate_tool_security_t **self_p);

//  Take one setting for command. Returns 0; 1 when key is not a security
//  setting; 2 after saying why value is bad.
int
    zstate_tool_security_set (zstate_tool_security_t *self, const char *command,
                              const char *key, const char *value);

//  Apply to a server. Returns 0, or 1 after saying why.
int
    zstate_tool_security_server (zstate_tool_security_t *self, zstate_server_t *server);

//  Apply insecure and connections to a SONiC endpoint (SONiC's producers
//  have no CURVE). Returns 0.
int
    zstate_tool_security_sonic (zstate_tool_security_t *self, zstate_sonic_bridge_t *bridge);

//  CURVE for send's client, or for the DEALER of watch and stats: curve
//  the client's secret certificate, server_key the server's public key or
//  certificate; both NULL for none. Returns 0, or an exit status after
//  saying why (2: one of the two without the other).
int
    zstate_tool_curve_client (const char *command, zstate_client_t *client,
                              const char *curve, const char *server_key);
int
    zstate_tool_curve_socket (const char *command, zsock_t *sock,
                              const char *curve, const char *server_key);

//  serve's SONiC endpoint (tools/zstate_serve_sonic.c): a bridge to server
//  bound at each of endpoints (char *), none when the list is empty; with
//  merge, SETs arrive as HSET; insecure and the connection cap from
//  security. Returns 0, or 1 with the reason printed.
int
    zstate_serve_sonic_bind (zlistx_t *endpoints, bool merge,
                             zstate_tool_security_t *security, zstate_server_t *server,
                             zstate_sonic_bridge_t **bridge_p);
//  Log the bridge's counters and close it; nulls the pointer. Returns 0,
//  or 1 when it lost operations it had read (logged).
int
    zstate_serve_sonic_end (zstate_sonic_bridge_t **bridge_p);

//  send --sonic (tools/zstate_send_sonic.c): a SONiC client connected to
//  endpoint, or NULL with the reason printed
zstate_sonic_client_t *
    zstate_send_sonic_open (const char *endpoint, int timeout);
//  Wait up to timeout for what was sent to go (when status is 0), say
//  what the SONiC wire changed or refused, and close. Returns the exit
//  status: status, or 1 when something did not go.
int
    zstate_send_sonic_close (zstate_sonic_client_t **client_p, const char *endpoint,
                             int timeout, int status);

//  Tell the service manager state ("READY=1", "STOPPING=1") over
//  NOTIFY_SOCKET. mode "no" sends nothing; "auto" sends when NOTIFY_SOCKET
//  is set; "yes" fails without it. Returns 0, or -1 after saying why.
int
    zstate_tool_notify (const char *mode, const char *state);

//  Load ZPL text with zconfig, whose errors go to stdout, caught: on
//  failure *line_p holds the bad line (0 when zconfig did not say) and
//  why the reason. Returns the tree or NULL.
zconfig_t *
    zstate_tool_zpl_load (const char *text, int *line_p, char *why, size_t why_size);

//  JSON output (zstate_json.c): text of size bytes as a JSON string; the
//  monitor's STATS text as one object (-1 when it is not such text); one
//  operation of batch as one line
void
    zstate_json_string (FILE *file, const char *text, size_t size);
int
    zstate_json_stats (FILE *file, const char *text);
void
    zstate_json_op (FILE *file, const char *table, zstate_batch_t *batch, size_t index);

//  Parse text as a whole decimal number from min to max into *value_p:
//  no sign or blank unless a '-' where min < 0, no trailing bytes, no
//  overflow. Returns true, or false leaving *value_p as it was.
bool
    zstate_tool_parse_number (const char *text, long min, long max, long *value_p);

//  The same for the value of a command's option, e.g. ("send", "--timeout",
//  optarg, ...): returns 0, or prints why to stderr and returns 2, the exit
//  status for bad usage.
int
    zstate_tool_number (const char *command, const char *option, const char *text,
                        long min, long max, long *value_p);

#endif
