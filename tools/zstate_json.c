/*  =========================================================================
    zstate_json - JSON output for zstate stats and zstate watch

    stats --json: the monitor's STATS text (ZPL) as one object: "server"
    an object of its counters (with "rejected" an object of counters by
    reason), "tables" an array of one object per table (with "writer" an
    object when the table is persisted). Names are those of the text
    output; a value of digits is a JSON number, any other value, and db
    and name always, a string.

    watch --json: one object per line per operation, {"op": "SET",
    "table": T, "key": K, "fields": {NAME: VALUE, ...}}; "fields" is empty
    for a DEL.

    Strings are escaped as RFC 8259 wants; a byte that is not part of
    well-formed UTF-8 becomes U+FFFD, so the output is always valid JSON
    (the text output is the exact one).

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"

void
zstate_json_string (FILE *file, const char *text, size_t size)
{
    const byte *data = (const byte *) text;
    fputc ('"', file);
    for (size_t index = 0; index < size; index++) {
        byte next = data [index];
        if (next == '"' || next == '\\')
            fprintf (file, "\\%c", next);
        else
        if (next == '\n')
            fputs ("\\n", file);
        else
        if (next < 0x20 || next == 0x7F)
            fprintf (file, "\\u%04x", next);
        else
        if (next < 0x80)
            fputc (next, file);
        else {
            size_t length = zstate_utf8_length (data + index, size - index);
            if (length) {
                fwrite (data + index, 1, length, file);
                index += length - 1;
            }
            else
                fputs ("\\ufffd", file);
        }
    }
    fputc ('"', file);
}

//  A value of digits, not too many for a JSON reader's integers
static bool
s_is_number (const char *value)
{
    const char *digits = value [0] == '-'? value + 1: value;
    size_t count = strspn (digits, "0123456789");
    return count > 0 && count <= 15 && digits [count] == 0
        && (count == 1 || digits [0] != '0');
}

static void
    s_json_object (FILE *file, zconfig_t *node, bool root);

//  One member: "name": value; a table's db and name are strings always,
//  a counter that happens to be called "name" (a reason) is not
static void
s_json_member (FILE *file, zconfig_t *item, bool in_table)
{
    const char *name = zconfig_name (item);
    zstate_json_string (file, name, strlen (name));
    fputs (": ", file);
    const char *value = zconfig_value (item);
    if (zconfig_child (item))
        s_json_object (file, item, false);
    else
    if (!(in_table && (streq (name, "db") || streq (name, "name"))) && s_is_number (value))
        fputs (value, file);
    else
        zstate_json_string (file, value, strlen (value));
}

//  The children of node as an object; those named "table" go, in order,
//  into one array "tables", which the root always has
static void
s_json_object (FILE *file, zconfig_t *node, bool root)
{
    fputc ('{', file);
    bool first = true;
    bool tables = root;
    for (zconfig_t *item = zconfig_child (node); item; item = zconfig_next (item)) {
        if (streq (zconfig_name (item), "table"))
            tables = true;
        else {
            fputs (first? "": ", ", file);
            s_json_member (file, item, streq (zconfig_name (node), "table"));
            first = false;
        }
    }
    if (tables) {
        fprintf (file, "%s\"tables\": [", first? "": ", ");
        bool first_table = true;
        for (zconfig_t *item = zconfig_child (node); item; item = zconfig_next (item))
            if (streq (zconfig_name (item), "table")) {
                fputs (first_table? "": ", ", file);
                s_json_object (file, item, false);
                first_table = false;
            }
        fputc (']', file);
    }
    fputc ('}', file);
}

int
zstate_json_stats (FILE *file, const char *text)
{
    int line;
    char why [64];
    zconfig_t *root = zstate_tool_zpl_load (text, &line, why, sizeof (why));
    if (!root || !zconfig_locate (root, "server"))
        return zconfig_destroy (&root), -1;
    s_json_object (file, root, true);
    fputc ('\n', file);
    zconfig_destroy (&root);
    return 0;
}

void
zstate_json_op (FILE *file, const char *table, zstate_batch_t *batch, size_t index)
{
    int op = zstate_batch_op (batch, index);
    fprintf (file, "{\"op\": \"%s\", \"table\": ",
             op == ZSTATE_OP_SET? "SET": op == ZSTATE_OP_HSET? "HSET": "DEL");
    zstate_json_string (file, table, strlen (table));
    size_t size;
    const char *data = zstate_batch_key (batch, index, &size);
    fputs (", \"key\": ", file);
    zstate_json_string (file, data, size);
    fputs (", \"fields\": {", file);
    size_t fields = zstate_batch_field_count (batch, index);
    for (size_t field = 0; field < fields; field++) {
        fputs (field? ", ": "", file);
        data = zstate_batch_name (batch, index, field, &size);
        zstate_json_string (file, data, size);
        fputs (": ", file);
        data = zstate_batch_value (batch, index, field, &size);
        zstate_json_string (file, data, size);
    }
    fputs ("}}\n", file);
}
