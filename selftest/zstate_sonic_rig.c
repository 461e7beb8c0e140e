/*  =========================================================================
    zstate_sonic_rig - the golden SONiC vectors, and crafted frames

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_sonic_suite.h"

#ifndef ZSTATE_SRCDIR
#   define ZSTATE_SRCDIR "."
#endif

static void
s_vector_free (void *item)
{
    zstate_sonic_vector_t *vector = (zstate_sonic_vector_t *) item;
    free (vector->name);
    free (vector->data);
    free (vector);
}

//  Parse "name | call | bytes | hex" into a vector
static zstate_sonic_vector_t *
s_vector_parse (char *line)
{
    char *name = strtok (line, "|");
    char *call = strtok (NULL, "|");
    char *bytes = strtok (NULL, "|");
    char *hex = strtok (NULL, "| \n");
    assert (name && call && bytes && hex);
    zstate_sonic_vector_t *vector = (zstate_sonic_vector_t *) zmalloc (sizeof (*vector));
    assert (vector);
    vector->name = strdup (strtok (name, " "));
    vector->size = strlen (hex) / 2;
    assert (vector->size == (size_t) atoi (bytes));
    vector->data = (byte *) malloc (vector->size);
    assert (vector->data);
    for (size_t index = 0; index < vector->size; index++) {
        unsigned int octet;
        assert (sscanf (hex + 2 * index, "%2x", &octet) == 1);
        vector->data [index] = (byte) octet;
    }
    return vector;
}

zlist_t *
zstate_sonic_vectors_load (void)
{
    return zstate_sonic_vectors_load_file ("sonic-frames.txt");
}

zlist_t *
zstate_sonic_vectors_load_file (const char *name)
{
    char path [512];
    snprintf (path, sizeof (path), "%s/selftest/data/%s", ZSTATE_SRCDIR, name);
    FILE *file = fopen (path, "r");
    if (!file)
        zsys_error ("cannot read %s", path);
    assert (file);
    //  A line that starts with blanks continues the hex of the one before
    zlist_t *vectors = zlist_new ();
    char record [8192] = "";
    char line [1024];
    bool more = true;
    while (more) {
        more = fgets (line, sizeof (line), file) != NULL;
        if (more && (line [0] == '#' || line [0] == '\n'))
            continue;
        if (more && (line [0] == ' ' || line [0] == '\t')) {
            assert (*record);
            record [strcspn (record, "\n")] = 0;
            char *hex = line + strspn (line, " \t");
            assert (strlen (record) + strlen (hex) < sizeof (record));
            strcat (record, hex);
            continue;
        }
        if (*record) {
            zstate_sonic_vector_t *vector = s_vector_parse (record);
            zlist_append (vectors, vector);
            zlist_freefn (vectors, vector, s_vector_free, true);
        }
        if (more) {
            assert (strlen (line) < sizeof (record));
            strcpy (record, line);
        }
    }
    fclose (file);
    return vectors;
}

zstate_sonic_vector_t *
zstate_sonic_vector (zlist_t *vectors, const char *name)
{
    zstate_sonic_vector_t *vector = (zstate_sonic_vector_t *) zlist_first (vectors);
    while (vector && !streq (vector->name, name))
        vector = (zstate_sonic_vector_t *) zlist_next (vectors);
    assert (vector);
    return vector;
}

void
zstate_sonic_put_u64le (byte *dest, uint64_t value)
{
    for (int index = 0; index < 8; index++)
        dest [index] = (byte) (value >> (8 * index));
}

zchunk_t *
zstate_sonic_frame (uint64_t pair_count, const char **strings, size_t count)
{
    zchunk_t *frame = zchunk_new (NULL, 8);
    byte size [8];
    zstate_sonic_put_u64le (size, pair_count);
    zchunk_append (frame, size, 8);
    for (size_t index = 0; index < count; index++) {
        zstate_sonic_put_u64le (size, strlen (strings [index]));
        zchunk_extend (frame, size, 8);
        zchunk_extend (frame, strings [index], strlen (strings [index]));
    }
    return frame;
}

//  Build the operations a vector holds (as zstate decodes them) into batch;
//  when sent is true, build instead what zstate sends to get those bytes
void
zstate_sonic_expected (const char *name, zstate_batch_t *batch, bool sent)
{
    if (streq (name, "set1"))
        assert (zstate_batch_set (batch, "10.0.0.1/32", "nexthop", "10.0.0.1",
                                  "ifname", "Ethernet0", NULL) == 0);
    else
    if (streq (name, "mixed3")) {
        assert (zstate_batch_set (batch, "10.1.0.0/24", "nexthop", "10.0.0.2", NULL) == 0);
        assert (zstate_batch_del (batch, "10.2.0.0/24") == 0);
        assert (zstate_batch_set (batch, "10.3.0.0/24", "nexthop", "10.0.0.3",
                                  "ifname", "Ethernet4", NULL) == 0);
    }
    else
    if (streq (name, "binary")) {
        assert (zstate_batch_append (batch, ZSTATE_OP_SET, "k\0z", 3) == 0);
        assert (zstate_batch_field (batch, "blob", 4, "a\0b\0\xff", 5) == 0);
    }
    else
    if (streq (name, "emptyset"))
        assert (zstate_batch_del (batch, "empty") == 0);
    else
    if (streq (name, "del1"))
        assert (zstate_batch_del (batch, "10.0.0.1/32") == 0);
    else
    if (streq (name, "hset")) {
        if (sent)
            assert (zstate_batch_hset (batch, "h", "f", "v", NULL) == 0);
        else
            assert (zstate_batch_set (batch, "h", "f", "v", NULL) == 0);
    }
    else
    if (streq (name, "swss1"))
        assert (zstate_batch_set (batch, "10.0.0.0/24", "nexthop", "10.0.0.1",
                                  "ifname", "Ethernet0", NULL) == 0);
    else
    if (streq (name, "swss2"))
        assert (zstate_batch_del (batch, "10.9.0.0/16") == 0);
    else
    if (streq (name, "swss3")) {
        assert (zstate_batch_set (batch, "10.1.0.0/16", "nexthop", "10.1.0.1", NULL) == 0);
        assert (zstate_batch_del (batch, "10.2.0.0/16") == 0);
        assert (zstate_batch_set (batch, "10.3.0.0/16", "nexthop", "10.3.0.1",
                                  "weight", "10", NULL) == 0);
    }
    else
        assert (!"golden vector without expected operations");
}
