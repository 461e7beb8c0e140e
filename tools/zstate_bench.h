/*  =========================================================================
    zstate_bench - the parts of zstate bench, for its own sources only

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_BENCH_H_INCLUDED
#define ZSTATE_BENCH_H_INCLUDED

//  zstate bench is split along what its parts are:
//      zstate_bench.c          the command line, the plan and the runs
//      zstate_bench_load.c     the route entries sent, peak RSS
//      zstate_bench_raw.c      the ceiling: libzmq PUSH/PULL alone
//      zstate_bench_zstate.c   zstate producer and consumer, throughput
//      zstate_bench_latency.c  the paced sender and the histogram
//      zstate_bench_child.c    the child processes and their reports
//      zstate_bench_rows.c     the rows of the field: many tables, large
//                              values, many client processes; CPU and
//                              system calls per op of each side
//      zstate_bench_print.c    the table and the JSON record
//      zstate_bench_sonic.c    the SONiC endpoint and its frames

#include "zstate_tool.h"

//  Bounds and timeouts the parts share
#define RUNS_MAX            100
#define CLIENTS_MAX         16          //  producer processes into one server
#define REFUSED_MAX         64          //  --refused N, at most
#define REFUSED_RECONNECT_MSECS 1       //  a refused client tries again after this
#define REFUSED_SETTLE_MSECS    300     //  their reconnect loop starts, then traffic
#define STRACE_OPS          20000       //  operations of a traced run, at most
#define FIELDS_MAX          64
#define RATES_MAX           8
#define WARMUP_PERCENT      5           //  latency samples skipped at start
#define STALL_MSECS         20000       //  a side with no progress this long fails
#define READY_MSECS         15000       //  a consumer must be ready in this time
#define SETTLE_MSECS        50          //  raw PUSH: let the connection come up
#define FLUSH_MSECS         300000      //  writer flush bound
#define MEASURE_MSECS       900000      //  a measurement that takes longer hangs
#define BENCH_DB            "APPL_DB"
#define BENCH_TABLE         "ROUTE_TABLE"

//  Latency histogram buckets (zstate_bench_latency.c)
#define HISTO_FINE          10000
#define HISTO_COARSE        100000
#define HISTO_STEP          100
#define HISTO_SIZE          (HISTO_FINE + HISTO_COARSE + 1)

//  What one measurement measures
typedef enum {
    KIND_RAW,                   //  libzmq PUSH -> PULL, pre-encoded
    KIND_ZSTATE,                //  producer -> consumer
    KIND_PERSIST,               //  producer -> consumer -> writer -> Redis
    KIND_LATENCY,               //  paced producer -> consumer, percentiles
    KIND_SONIC                  //  SONiC PUSH -> bridge -> server -> consumer
} kind_t;

//  The role a child process plays
typedef enum {
    ROLE_CONSUMER,              //  the receiving side
    ROLE_PRODUCER,              //  the sending side
    ROLE_BOTH,                  //  both, for inproc
    ROLE_REFUSED                //  --refused: CURVE clients the server refuses
} role_t;

//  One measurement the run plans
typedef struct {
    kind_t kind;
    int fields;                 //  fields a SET carries
    int batch;                  //  ops per call (zstate) or message (raw); 1 = single
    int rate;                   //  KIND_LATENCY: offered ops/s
    uint64_t ops;               //  operations sent
    char id [48];               //  short name, for JSON
    char title [64];            //  long name, for the table
    int ceiling;                //  index of the raw scenario to compare with, or -1
    bool skip;                  //  not asked for (--only, or no Redis)
    bool raw;                   //  libzmq alone: KIND_RAW, or a latency baseline
    int tables;                 //  zstate: single ops round robin over this
                                //  many tables (0 or 1: one table)
    int value_size;             //  zstate: bytes of the one value field of
                                //  each op (0: the route entry)
    int clients;                //  zstate: producer processes (0 or 1: one)
    bool sonic;                 //  the producer PUSHes SONiC frames, as SONiC does
    bool curve;                 //  zstate with CURVE on (--curve)
    int refused;                //  CURVE: this many refused clients
                                //  reconnect-looping meanwhile (--refused)
    int io_threads;             //  the consumer side's libzmq I/O threads
                                //  (0: CZMQ's default, one)
} scenario_t;

//  What a side used while it worked: CPU time and the system calls the
//  kernel counts per process without privileges (/proc/self/io syscr and
//  syscw: read, write and their kin, eventfd and pipe wake-ups included;
//  send, recv and poll are not counted there)
typedef struct {
    int64_t cpu_usecs;          //  user + system, every thread of the process
    uint64_t rw_syscalls;       //  syscr + syscw
    uint64_t syscalls;          //  --strace: every system call, strace -c -f
} usage_t;

//  A child's report to the parent: fixed size, one atomic pipe write
typedef struct {
    int type;                   //  REPORT_READY or REPORT_RESULT
    int ok;                     //  1 when this side finished its work
    char endpoint [200];        //  READY: where the producer connects
    char error [256];           //  why not ok
    int64_t first_send;         //  producer: zclock_usecs () before sending
    int64_t last_pop;           //  consumer: at the last pop or recv
    int64_t persisted;          //  consumer: when the writer confirmed all
    uint64_t ops;               //  operations sent or received
    uint64_t messages;          //  wire messages sent (producer)
    uint64_t retries;           //  sends retried on ENOBUFS (producer)
    uint64_t written;           //  writer: confirmed by Redis
    uint64_t coalesced;         //  writer: merged into newer operations
    uint64_t failed;            //  writer: refused by Redis
    long rss_kib;               //  VmHWM of this process
    long producer_rss_kib;      //  ROLE_BOTH: same process, so the same
    uint64_t samples;           //  latency samples counted
    double p50, p99, p999, max; //  latency, usecs
    usage_t usage;              //  used from the start of traffic to its end
    uint64_t refused;           //  consumer: handshakes it refused meanwhile,
    int64_t refused_since;      //  ... counted from then (zclock_usecs)
} report_t;

#define REPORT_READY    1
#define REPORT_RESULT   2

//  Outcome of all runs of one scenario
typedef struct {
    int runs_ok;
    int runs_failed;
    double rates [RUNS_MAX];    //  ops/s of each good run
    double min, median, max;
    long producer_rss_kib;      //  highest over the runs
    long consumer_rss_kib;
    double ops_per_message;     //  zstate: ops in one wire message, on average
    uint64_t retries;           //  ENOBUFS retries, all runs
    uint64_t redis_keys;        //  persist: keys Redis held after the last run
    bool redis_ok;              //  persist: every run's keys all there
    double p50, p99, p999, lmax;    //  latency: medians over the runs
    uint64_t samples;
    usage_t producer_usage;     //  all good runs, all producer processes
    usage_t consumer_usage;     //  all good runs
    uint64_t usage_ops;         //  operations those runs moved
    uint64_t traced_ops;        //  --strace: operations of the traced run
    uint64_t producer_syscalls; //  ... system calls of its producers
    uint64_t consumer_syscalls; //  ... and of its consumer
    char error [256];           //  the last failure
} outcome_t;

//  The command line and the run
typedef struct {
    uint64_t ops;
    int fields;                 //  0: both 2 and 10
    int batch;
    int pop;
    int threads;
    const char *transport;      //  "tcp", "ipc" or "inproc"
    int runs;
    bool json;
    bool quick;
    bool no_redis;
    bool verbose;
    int only;                   //  bit mask of 1 << kind_t; 0 means all
    const char *only_ids;       //  --only as given, for scenario ids
    bool app_fd;                //  the application polls the fd with poll(2)
    bool app_socket;            //  the application's zloop reads the socket
    int no_sweep;               //  the consumers keep no key set (getopt sets it)
    bool redis_unix;            //  the writer reaches Redis over its unix socket
    bool strace;                //  one more run per scenario, under strace
    int clients;                //  producer processes of the many-clients row
    int part;                   //  in a producer child: which of them
    bool curve;                 //  add CURVE rows beside the zstate ones
    char curve_dir [256];       //  their certificates: server, client, clients/
    int refused;                //  --refused N: CURVE rows again beside N
                                //  refused clients reconnect-looping
    int rates [RATES_MAX];
    int rate_count;
    double latency_secs;

    //  Run state
    scenario_t *scenarios;
    outcome_t *outcomes;
    int scenario_count;
    zstate_redis_server_t *redis_server;
    zstate_redis_t *redis;      //  the parent's connection: FLUSHALL, DBSIZE
    char redis_endpoint [300];  //  for the writer: the unix socket
    char redis_note [300];      //  why persistence was skipped
    int endpoint_counter;       //  for unique ipc and inproc names
    int open_fds [2 * (CLIENTS_MAX + 1)];   //  the parent's pipe ends a new child closes
    int open_count;
    FILE *out;                  //  progress: stdout, or stderr with --json
    volatile int stop;          //  in a child: the other side failed, stop
} bench_t;



//  Where a consumer tells its producer it is ready: the endpoint bound
typedef void (zstate_bench_ready_fn) (void *arg, const char *endpoint);


//  --------------------------------------------------------------------------
//  The load (zstate_bench_load.c)

//  One operation's content: the route fields, then SONiC's other
//  ROUTE_TABLE fields with fixed values, then generic ones; with 10
//  fields, the size of SONiC's 10-field op instead (10 names of 8 bytes,
//  values of 21 bytes)
typedef struct {
    int fields;
    bool fixed;                 //  SONiC's size: every name and value fixed
    char key [32];
    size_t key_size;
    char nexthop [32];
    char ifname [32];
    char extra_names [FIELDS_MAX][16];
    char extra_values [FIELDS_MAX][24];
    const void *names [FIELDS_MAX];
    size_t name_sizes [FIELDS_MAX];
    const void *values [FIELDS_MAX];
    size_t value_sizes [FIELDS_MAX];
} entry_t;

//  Write value in decimal without a terminator; returns the end
char *
    zstate_bench_put_uint (char *dest, uint64_t value);

//  Set up an entry with this many fields
void
    zstate_bench_entry_init (entry_t *self, int fields);

//  Make the entry route index
void
    zstate_bench_entry_fill (entry_t *self, uint64_t index);

//  Append the entry as a SET to batch
void
    zstate_bench_entry_append (entry_t *self, zstate_batch_t *batch);

//  Encode what zstate would put on the wire for count such entries
zframe_t *
    zstate_bench_encode_sample (int fields, int count);

//  Peak resident set size of this process, KiB, or 0
long
    zstate_bench_rss_peak (void);


//  --------------------------------------------------------------------------
//  Latency (zstate_bench_latency.c)

typedef struct {
    uint32_t *buckets;
    uint64_t count;
    uint64_t skip;              //  samples still to skip as warm-up
    int64_t max;
} histo_t;

//  Start a histogram that skips its first skip samples
void
    zstate_bench_histo_init (histo_t *self, uint64_t skip);

//  Count one sample, usecs
void
    zstate_bench_histo_add (histo_t *self, int64_t usecs);

//  Put the percentiles into report and free the buckets; nothing when
//  the histogram was not started
void
    zstate_bench_histo_report (histo_t *self, report_t *report);

//  Pacing at an offered rate: the monotonic time origin, in nsecs
int64_t
    zstate_bench_pace_origin (void);

//  Sleep until operation index is due
void
    zstate_bench_pace_wait (int64_t origin, uint64_t index, int rate);

//  A producer thread's work and outcome
typedef struct {
    bench_t *bench;
    scenario_t *scenario;
    zstate_client_t *client;
    uint64_t first;             //  first route index
    uint64_t count;             //  routes to send
    pthread_barrier_t *start;
    uint64_t retries;
    int error;
    char reason [200];
    pthread_t thread;
} sender_t;

//  One thread sends at the offered rate, stamping each operation
void
    zstate_bench_sender_paced (sender_t *self);


//  --------------------------------------------------------------------------
//  The two sides of a measurement. Each fills report; a consumer calls
//  ready once it is bound.

//  zstate_bench_zstate.c
void
    zstate_bench_consumer_zstate (bench_t *bench, scenario_t *scenario,
                                  zstate_bench_ready_fn *ready, void *ready_arg,
                                  report_t *report);
void
    zstate_bench_producer_zstate (bench_t *bench, scenario_t *scenario,
                                  const char *endpoint, report_t *report);

//  Whether to retry a send that failed: true after a short sleep on
//  ENOBUFS, else false with the error kept in self
bool
    zstate_bench_sender_retry (sender_t *self);

//  zstate_bench_raw.c
void
    zstate_bench_consumer_raw (bench_t *bench, scenario_t *scenario, void *context,
                               zstate_bench_ready_fn *ready, void *ready_arg,
                               report_t *report);
void
    zstate_bench_producer_raw (bench_t *bench, scenario_t *scenario, void *context,
                               const char *endpoint, report_t *report);


//  zstate_bench_sonic.c: the frames a SONiC producer sends for count
//  entries, and the consumer side's SONiC endpoint: a bridge to server
//  bound at endpoint (the port, 0, or -1 with zstate_reason ())
zframe_t *
    zstate_bench_encode_sonic_sample (int fields, int count);
int
    zstate_bench_sonic_bind (zstate_server_t *server, const char *endpoint);
//  Plan the SONiC rows for fields: the raw ceiling of SONiC frames and
//  the SONiC endpoint, single and batch; add is s_scenario_add
typedef int (zstate_bench_add_fn) (bench_t *self, kind_t kind, int fields, int batch,
                                   int rate, int ceiling);
void
    zstate_bench_sonic_plan (bench_t *self, int fields, zstate_bench_add_fn *add);


//  --------------------------------------------------------------------------
//  Child processes (zstate_bench_child.c)

//  Make a unique endpoint for this transport to bind
void
    zstate_bench_bind_endpoint (bench_t *bench, char *endpoint, size_t size);

//  One measurement, in one or two children. Returns 0 with both reports,
//  or -1 with error set.
int
    zstate_bench_measure (bench_t *self, scenario_t *scenario, report_t *consumer_report,
                          report_t *producer_report, char *error, size_t error_size);


//  --------------------------------------------------------------------------
//  The rows of the field (zstate_bench_rows.c)

//  A side starts its traffic: read what this process used so far into
//  start (and with tracing on, start strace on it first)
void
    zstate_bench_usage_start (usage_t *start);

//  A side ended its traffic: store in report what this process used since
//  start (and stop strace, with what it counted)
void
    zstate_bench_usage_since (const usage_t *start, report_t *report);

//  Whether the sides forked from now on trace themselves (--strace)
void
    zstate_bench_set_tracing (bool tracing);

//  --strace: one more run of the scenario, at most STRACE_OPS operations,
//  each side traced; its system calls per op go into the outcome, its
//  throughput nowhere (tracing slows it down)
void
    zstate_bench_traced_run (bench_t *bench, int index);

//  Name a zstate scenario that has tables, value_size or clients set
void
    zstate_bench_row_name (scenario_t *scenario);

//  --curve (zstate_bench_curve.c): make the zstate scenario at index its
//  CURVE twin; with --curve, write the certificates into curve_dir
//  (returns 0, or the exit status after saying why); remove them
void
    zstate_bench_curve_row (bench_t *self, int index);
int
    zstate_bench_curve_certificates (bench_t *self);
void
    zstate_bench_curve_remove (bench_t *self);

//  With --curve, plan the CURVE twins of the zstate rows single and
//  batch and, with --refused, each again beside the refused clients,
//  with the server's default one libzmq I/O thread and with two
void
    zstate_bench_curve_plan (bench_t *self, int fields, int single, int batch,
                             zstate_bench_add_fn *add);

//  --refused N (1 to REFUSED_MAX). Returns 0 or 2.
int
    zstate_bench_refused_option (bench_t *self, const char *text);

//  In the refused clients' child: connect the scenario's refused clients
//  to endpoint in context (half with a client key the server does not
//  allow, half with the wrong server key, each reconnecting
//  REFUSED_RECONNECT_MSECS after every refusal). Returns 0, or -1 with
//  error set.
int
    zstate_bench_refused_connect (bench_t *self, scenario_t *scenario, void *context,
                                  const char *endpoint, char *error, size_t size);

//  The handshakes server refused so far, every reason
uint64_t
    zstate_bench_refused_count (zstate_server_t *server);

//  This producer process's share of the scenario's operations: the first
//  index and the count
void
    zstate_bench_share (bench_t *bench, scenario_t *scenario, uint64_t *first,
                        uint64_t *count);

//  A sender thread of the rows with many tables or large values: sends
//  its share as single ops round robin over the tables, or in batches of
//  scenario->batch with values of scenario->value_size bytes
void
    zstate_bench_sender_rows (sender_t *self);

//  Single sets of the sender's share, op index to table index % tables,
//  each op its own call, as an application updating many tables one
//  entry at a time
void
    zstate_bench_send_singles (sender_t *self, zstate_producer_t **producers, int tables);

//  The tables the consumer side opens for a scenario, and table index's
//  name into name
int
    zstate_bench_tables (scenario_t *scenario);
void
    zstate_bench_table_name (int index, char *name, size_t size);


//  --------------------------------------------------------------------------
//  Results (zstate_bench_print.c)

//  number rounded, with thousands separators, in text
const char *
    zstate_bench_commas (double number, char *text, size_t size);

//  Print the outcomes as a table, or as one JSON record, on stdout
void
    zstate_bench_print_table (bench_t *self);
void
    zstate_bench_print_json (bench_t *self);

#endif
