/*  =========================================================================
    zstate_bench_load - zstate bench: the route entries it sends, peak RSS

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_bench.h"

//  --------------------------------------------------------------------------
//  Decimal formatting without printf on the hot path

char *
zstate_bench_put_uint (char *dest, uint64_t value)
{
    char digits [24];
    int count = 0;
    do {
        digits [count++] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    while (count)
        *dest++ = digits [--count];
    return dest;
}

//  Route index i as the key 10.a.b.c/32; returns the size
static size_t
s_route_key (char *key, uint64_t index)
{
    char *cursor = key;
    memcpy (cursor, "10.", 3);
    cursor = zstate_bench_put_uint (cursor + 3, index >> 16);
    *cursor++ = '.';
    cursor = zstate_bench_put_uint (cursor, (index >> 8) & 255);
    *cursor++ = '.';
    cursor = zstate_bench_put_uint (cursor, index & 255);
    memcpy (cursor, "/32", 4);
    return cursor + 3 - key;
}

static size_t
s_route_nexthop (char *text, uint64_t index)
{
    char *cursor = text;
    memcpy (cursor, "172.16.", 7);
    cursor = zstate_bench_put_uint (cursor + 7, (index >> 8) & 255);
    *cursor++ = '.';
    cursor = zstate_bench_put_uint (cursor, index & 255);
    *cursor = 0;
    return cursor - text;
}

static size_t
s_route_ifname (char *text, uint64_t index)
{
    char *cursor = text;
    memcpy (cursor, "Ethernet", 8);
    cursor = zstate_bench_put_uint (cursor + 8, (index % 128) * 4);
    *cursor = 0;
    return cursor - text;
}

//  Peak resident set size of this process, KiB, from /proc/self/status
long
zstate_bench_rss_peak (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    if (!file)
        return 0;
    char line [256];
    long kib = 0;
    while (fgets (line, sizeof (line), file))
        if (sscanf (line, "VmHWM: %ld kB", &kib) == 1)
            break;
    fclose (file);
    return kib;
}


//  --------------------------------------------------------------------------
//  One operation's content: the route fields, then SONiC's other
//  ROUTE_TABLE fields with fixed values, then generic ones

static const char *s_extra_names [] = {
    "weight", "mpls_nh", "vni_label", "router_mac", "blackhole",
    "segment", "seg_src", "nexthop_group"
};
static const char *s_extra_values [] = {
    "1", "na", "100", "00:11:22:33:44:55", "false",
    "seg0", "10.0.0.1", "nhg0"
};

//  SONiC's 10-field op, as its benchmark sends it: 10 names of 8 bytes,
//  values of 21 bytes
#define SONIC_FIELDS        10
#define SONIC_NAME_SIZE     8
#define SONIC_VALUE_SIZE    21

static void
s_entry_init_sonic (entry_t *self)
{
    self->fixed = true;
    for (int field = 0; field < SONIC_FIELDS; field++) {
        snprintf (self->extra_names [field], 16, "field_%02d", field);
        snprintf (self->extra_values [field], 24, "value_%02d_%s", field, "abcdefghijkl");
        self->names [field] = self->extra_names [field];
        self->name_sizes [field] = SONIC_NAME_SIZE;
        self->values [field] = self->extra_values [field];
        self->value_sizes [field] = SONIC_VALUE_SIZE;
        assert (strlen (self->extra_names [field]) == SONIC_NAME_SIZE);
        assert (strlen (self->extra_values [field]) == SONIC_VALUE_SIZE);
    }
}

void
zstate_bench_entry_init (entry_t *self, int fields)
{
    memset (self, 0, sizeof (entry_t));
    self->fields = fields;
    if (fields == SONIC_FIELDS) {
        s_entry_init_sonic (self);
        return;
    }
    self->names [0] = "nexthop";
    self->name_sizes [0] = 7;
    self->names [1] = "ifname";
    self->name_sizes [1] = 6;
    self->values [0] = self->nexthop;
    self->values [1] = self->ifname;
    for (int field = 2; field < fields; field++) {
        int extra = field - 2;
        if (extra < (int) (sizeof (s_extra_names) / sizeof (s_extra_names [0]))) {
            snprintf (self->extra_names [extra], 16, "%s", s_extra_names [extra]);
            snprintf (self->extra_values [extra], 24, "%s", s_extra_values [extra]);
        }
        else {
            snprintf (self->extra_names [extra], 16, "field%d", field);
            snprintf (self->extra_values [extra], 24, "value%d", field);
        }
        self->names [field] = self->extra_names [extra];
        self->name_sizes [field] = strlen (self->extra_names [extra]);
        self->values [field] = self->extra_values [extra];
        self->value_sizes [field] = strlen (self->extra_values [extra]);
    }
}

void
zstate_bench_entry_fill (entry_t *self, uint64_t index)
{
    self->key_size = s_route_key (self->key, index);
    if (self->fixed)
        return;
    self->value_sizes [0] = s_route_nexthop (self->nexthop, index);
    self->value_sizes [1] = s_route_ifname (self->ifname, index);
}

//  Append the entry as a SET to batch
void
zstate_bench_entry_append (entry_t *self, zstate_batch_t *batch)
{
    int rc = zstate_batch_append (batch, ZSTATE_OP_SET, self->key, self->key_size);
    assert (rc == 0);
    for (int field = 0; field < self->fields; field++) {
        rc = zstate_batch_field (batch, self->names [field], self->name_sizes [field],
                                 self->values [field], self->value_sizes [field]);
        assert (rc == 0);
    }
}

//  Encode what zstate would put on the wire for count such entries
zframe_t *
zstate_bench_encode_sample (int fields, int count)
{
    entry_t entry;
    zstate_bench_entry_init (&entry, fields);
    zstate_batch_t *batch = zstate_batch_new ();
    for (int index = 0; index < count; index++) {
        zstate_bench_entry_fill (&entry, (uint64_t) index);
        zstate_bench_entry_append (&entry, batch);
    }
    byte session [ZSTATE_MSG_SESSION_SIZE];
    memset (session, 0x5a, sizeof (session));
    zframe_t *frame = zstate_msg_encode (session, 1, BENCH_DB, BENCH_TABLE, batch);
    assert (frame);
    zstate_batch_destroy (&batch);
    return frame;
}

