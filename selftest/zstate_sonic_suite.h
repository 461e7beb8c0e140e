/*  =========================================================================
    zstate_sonic_suite - what the SONiC tests share: the golden vectors
    and a builder of crafted frames (selftest/zstate_sonic_rig.c)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_SONIC_SUITE_H_INCLUDED
#define ZSTATE_SONIC_SUITE_H_INCLUDED

//  One golden vector of selftest/data/sonic-frames.txt
typedef struct {
    char *name;                 //  "set1", "mixed3", ...
    byte *data;                 //  the frame
    size_t size;
} zstate_sonic_vector_t;

//  Load every vector, in file order; the list frees them. Asserts that the
//  file is there and well formed (each size matches its bytes).
zlist_t *
    zstate_sonic_vectors_load (void);

//  The same, from another file of selftest/data: sonic-swss-frames.txt
//  holds frames that sonic-swss-common's own serializer made.
zlist_t *
    zstate_sonic_vectors_load_file (const char *name);

//  Return the vector of that name from the list.
zstate_sonic_vector_t *
    zstate_sonic_vector (zlist_t *vectors, const char *name);

//  Build the operations the vector name holds, as zstate decodes them,
//  into batch; or, when sent is true, what zstate sends to get its bytes.
void
    zstate_sonic_expected (const char *name, zstate_batch_t *batch, bool sent);

//  Build a frame: pair_count as given (whatever the strings are), then the
//  count C strings, each with its u64le size.
zchunk_t *
    zstate_sonic_frame (uint64_t pair_count, const char **strings, size_t count);

//  Write value at dest as u64 little-endian.
void
    zstate_sonic_put_u64le (byte *dest, uint64_t value);

//  A PUSH connected to endpoint with the options SONiC's ZmqClient sets
//  (selftest/zstate_sonic_bridge_test.c).
zsock_t *
    zstate_sonic_push_new (const char *endpoint);

//  Send one frame as SONiC does (ZMQ_NOBLOCK), retrying while the
//  connection is not up yet.
void
    zstate_sonic_push (zsock_t *push, const void *data, size_t size);

//  Pop count operations from consumer into a new batch, waiting for them.
zstate_batch_t *
    zstate_sonic_pop_all (zstate_consumer_t *consumer, size_t count);

//  The selftests that use them
void
    zstate_sonic_msg_suite_test (bool verbose);
void
    zstate_sonic_bridge_test (bool verbose);
void
    zstate_sonic_client_test (bool verbose);
void
    zstate_sonic_endpoint_test (bool verbose);

#endif
