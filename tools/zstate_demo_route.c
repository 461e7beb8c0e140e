/*  =========================================================================
    zstate_demo_route - zstate demo: the workload, route by route

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_demo.h"

//  --------------------------------------------------------------------------
//  The texts of route i's key and values

void
zstate_demo_route_key (uint32_t route, char *key, size_t size)
{
    snprintf (key, size, "10.%u.%u.%u/32", (route >> 16) & 255, (route >> 8) & 255,
              route & 255);
}

void
zstate_demo_route_nexthop (uint32_t route, bool alternate, char *text, size_t size)
{
    snprintf (text, size, "172.%d.%u.%u", alternate? 17: 16, (route >> 8) & 255,
              route & 255);
}

void
zstate_demo_route_ifname (uint32_t route, bool portchannel, char *text, size_t size)
{
    if (portchannel)
        snprintf (text, size, "PortChannel%u", route % 8 + 1);
    else
        snprintf (text, size, "Ethernet%u", (route % 128) * 4);
}

void
zstate_demo_route_weight (uint32_t route, char *text, size_t size)
{
    snprintf (text, size, "%u", route % 7 + 1);
}

//  Parse a key back into its route number; -1 if it is not one of ours
int64_t
zstate_demo_route_parse (const char *key, uint32_t routes)
{
    unsigned int a, b, c;
    char tail;
    if (sscanf (key, "10.%u.%u.%u/32%c", &a, &b, &c, &tail) != 3
    ||  a > 255 || b > 255 || c > 255)
        return -1;
    uint32_t route = (a << 16) | (b << 8) | c;
    //  sscanf takes "+1" and " 1" too: the key must be exactly ours
    char expected [32];
    zstate_demo_route_key (route, expected, sizeof (expected));
    if (route >= routes || strneq (key, expected))
        return -1;
    return route;
}


//  --------------------------------------------------------------------------
//  The final state of route i, from the rules in zstate_demo.c's header

byte
zstate_demo_route_expect (uint32_t route)
{
    if (route % 50 == 7)
        return 0;
    if (route % 100 == 9)
        return ROUTE_EXISTS | ROUTE_HOP_ALT | ROUTE_IF_BASE;
    else
    if (route % 10 == 3)
        return ROUTE_EXISTS | ROUTE_HOP_BASE | ROUTE_IF_BASE | ROUTE_WEIGHT;
    else
    if (route % 25 == 4)
        return ROUTE_EXISTS | ROUTE_HOP_BASE | ROUTE_IF_PORTCHAN;
    else
        return ROUTE_EXISTS | ROUTE_HOP_BASE | ROUTE_IF_BASE;
}

//  The number of operations the producers send for route i
uint64_t
zstate_demo_route_ops (uint32_t route)
{
    return 1 + (route % 100 == 9) + (route % 10 == 3) + (route % 25 == 4)
             + (route % 1000 == 21? 2: 0) + (route % 50 == 7);
}

//  Describe a state as the fields it stands for, for error messages
void
zstate_demo_route_describe (uint32_t route, byte state, char *text, size_t size)
{
    if (state & ROUTE_BAD) {
        snprintf (text, size, "(values the demo never sent)");
        return;
    }
    if (!(state & ROUTE_EXISTS)) {
        snprintf (text, size, "(absent)");
        return;
    }
    char value [32];
    size_t used = 0;
    text [0] = 0;
    if (state & (ROUTE_HOP_BASE | ROUTE_HOP_ALT)) {
        zstate_demo_route_nexthop (route, state & ROUTE_HOP_ALT, value, sizeof (value));
        used += snprintf (text + used, size - used, "nexthop=%s ", value);
    }
    if (used < size && (state & (ROUTE_IF_BASE | ROUTE_IF_PORTCHAN))) {
        zstate_demo_route_ifname (route, state & ROUTE_IF_PORTCHAN, value, sizeof (value));
        used += snprintf (text + used, size - used, "ifname=%s ", value);
    }
    if (used < size && (state & ROUTE_WEIGHT)) {
        zstate_demo_route_weight (route, value, sizeof (value));
        snprintf (text + used, size - used, "weight=%s", value);
    }
}

//  Fold one field into a state; unknown names or values make it bad
byte
zstate_demo_route_field (uint32_t route, byte state, const char *name, const char *value)
{
    char text [32];
    if (streq (name, "nexthop")) {
        state &= ~(ROUTE_HOP_BASE | ROUTE_HOP_ALT);
        zstate_demo_route_nexthop (route, false, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_HOP_BASE;
        zstate_demo_route_nexthop (route, true, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_HOP_ALT;
    }
    else
    if (streq (name, "ifname")) {
        state &= ~(ROUTE_IF_BASE | ROUTE_IF_PORTCHAN);
        zstate_demo_route_ifname (route, false, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_IF_BASE;
        zstate_demo_route_ifname (route, true, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_IF_PORTCHAN;
    }
    else
    if (streq (name, "weight")) {
        zstate_demo_route_weight (route, text, sizeof (text));
        if (streq (value, text))
            return state | ROUTE_WEIGHT;
    }
    return state | ROUTE_BAD;
}


//  --------------------------------------------------------------------------
//  Numbers with thousands separators, in a caller's buffer

const char *
zstate_demo_commas (uint64_t value, char *text, size_t size)
{
    char digits [32];
    int length = snprintf (digits, sizeof (digits), "%" PRIu64, value);
    size_t used = 0;
    for (int index = 0; index < length && used + 2 < size; index++) {
        if (index > 0 && (length - index) % 3 == 0)
            text [used++] = ',';
        text [used++] = digits [index];
    }
    text [used] = 0;
    return text;
}

