/*  =========================================================================
    zstate_demo - the parts of zstate demo, for its own sources only

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_DEMO_H_INCLUDED
#define ZSTATE_DEMO_H_INCLUDED

//  zstate demo is split along what its parts are:
//      zstate_demo.c           the command line and the pipeline
//      zstate_demo_route.c     the workload: each route's texts and final state
//      zstate_demo_job.c       the producer threads
//      zstate_demo_app.c       the application's loop and the progress display
//      zstate_demo_verify.c    the check against Redis and the summary

#include "zstate_tool.h"

#define POP_BATCH           128         //  operations per pops
#define LAG                 64          //  routes between a SET and its change
#define VERIFY_CHUNK        1000        //  HGETALLs per pipeline
#define MISMATCHES_SHOWN    5           //  wrong routes printed in full
#define DEMO_DB             "APPL_DB"
#define DEMO_TABLE          "ROUTE_TABLE"

//  The state of one route, in one byte: which of the values we send it
//  holds. A value we never sent sets ROUTE_BAD.
#define ROUTE_EXISTS        0x01
#define ROUTE_HOP_BASE      0x02
#define ROUTE_HOP_ALT       0x04
#define ROUTE_IF_BASE       0x08
#define ROUTE_IF_PORTCHAN   0x10
#define ROUTE_WEIGHT        0x20
#define ROUTE_BAD           0x80

//  What the command line asks for
typedef struct {
    uint32_t routes;            //  routes to write
    int threads;                //  producer threads
    const char *redis;          //  existing Redis, or NULL for a private one
    int db;                     //  Redis database index
    const char *endpoint;       //  server bind endpoint
    int timeout;                //  seconds without progress before giving up
    bool quiet;                 //  no progress display
    bool verbose;               //  library activity in the log
} options_t;

//  One producer thread's work and outcome
typedef struct {
    zstate_client_t *client;    //  shared by all producer threads
    uint32_t first;             //  first route, the thread's index
    uint32_t step;              //  routes between two of ours: threads
    uint32_t routes;            //  routes in all
    volatile int *stop;         //  set when the demo gives up
    uint64_t retries;           //  sends retried on a full client queue
    int error;                  //  errno that stopped the thread, 0 if none
    char reason [256];          //  zstate_reason () for it
    pthread_t thread;
} job_t;

//  The application: pops, applies to its own table, shows progress
typedef struct {
    zstate_consumer_t *consumer;
    zstate_client_t *client;
    zstate_writer_t *writer;
    zstate_batch_t *batch;      //  reused by every pops
    byte *table;                //  our copy, one state byte per route
    uint32_t routes;
    uint64_t expected;          //  operations the producers send in all
    uint64_t popped;            //  operations popped
    uint64_t strange;           //  popped operations on keys we never sent
    int64_t started;            //  zclock_usecs () before the first send
    int64_t last_pop;           //  zclock_usecs () at the last pops
    int64_t last_change;        //  zclock_mono () when progress was last seen
    uint64_t last_seen;         //  popped + persisted at last_change
    int timeout;                //  seconds
    bool stalled;               //  gave up: no progress for timeout
    bool tty;                   //  stdout is a terminal: rewrite one line
    bool quiet;
    int64_t last_print;         //  zclock_usecs () of the last progress line
    uint64_t last_persisted;    //  persisted at the last progress line
    uint64_t last_popped;       //  popped at the last progress line
} app_t;

//  One run of the demo: the pipeline, the producers and the application
typedef struct {
    options_t options;
    volatile int stop;          //  the producers stop when set
    zstate_redis_server_t *redis_server;    //  ours, or NULL for --redis
    zstate_redis_t *redis;      //  for clearing and checking Redis
    char redis_endpoint [300];
    zstate_writer_t *writer;
    zstate_server_t *server;
    zstate_consumer_t *consumer;
    zstate_client_t *client;
    char endpoint [300];        //  where the client connects
    job_t *jobs;                //  one per producer thread
    int jobs_started;           //  threads to join
    app_t app;
    bool flushed;               //  Redis confirmed everything
    int64_t finished;           //  zclock_usecs () when it did, or gave up
} demo_t;


//  --------------------------------------------------------------------------
//  The workload (zstate_demo_route.c)

//  The texts of route's key and values
void
    zstate_demo_route_key (uint32_t route, char *key, size_t size);
void
    zstate_demo_route_nexthop (uint32_t route, bool alternate, char *text, size_t size);
void
    zstate_demo_route_ifname (uint32_t route, bool portchannel, char *text, size_t size);
void
    zstate_demo_route_weight (uint32_t route, char *text, size_t size);

//  Parse a key back into its route number; -1 if it is not one of ours
int64_t
    zstate_demo_route_parse (const char *key, uint32_t routes);

//  The final state of route, from the rules in zstate_demo.c's header
byte
    zstate_demo_route_expect (uint32_t route);

//  The number of operations the producers send for route
uint64_t
    zstate_demo_route_ops (uint32_t route);

//  Describe a state as the fields it stands for, for error messages
void
    zstate_demo_route_describe (uint32_t route, byte state, char *text, size_t size);

//  Fold one field into a state; unknown names or values make it bad
byte
    zstate_demo_route_field (uint32_t route, byte state, const char *name,
                             const char *value);

//  value with thousands separators, in text
const char *
    zstate_demo_commas (uint64_t value, char *text, size_t size);


//  --------------------------------------------------------------------------
//  The producers (zstate_demo_job.c)

//  Start one producer thread per job, each on its share of the routes
void
    zstate_demo_jobs_start (demo_t *demo);

//  Stop the producer threads and wait for them
void
    zstate_demo_jobs_stop (demo_t *demo);


//  --------------------------------------------------------------------------
//  The application (zstate_demo_app.c)

//  Pop until everything arrived, then wait for Redis to confirm it,
//  showing progress. Returns 0, or -1 when the loop could not start.
int
    zstate_demo_app_run (demo_t *demo);

//  Show progress; final ends the line on a terminal
void
    zstate_demo_app_progress (app_t *self, bool final);

//  Whether neither pops nor Redis moved for the timeout
bool
    zstate_demo_app_stuck (app_t *self, uint64_t persisted);


//  --------------------------------------------------------------------------
//  Redis (zstate_demo_verify.c)

//  Delete the table's keys. Returns how many, or -1 with the reason set.
long long
    zstate_demo_redis_clear (zstate_redis_t *redis);

//  Check the application's copy and Redis route by route against the
//  final state and print the summary. Returns true when all verified.
bool
    zstate_demo_verify (demo_t *demo);

#endif
