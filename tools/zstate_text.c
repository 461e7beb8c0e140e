/*  =========================================================================
    zstate_text - operations as text lines, for the zstate tool

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_text.h"

#define TOKEN_MAX   (ZSTATE_KEY_MAX + 1)    //  A key or field name, with room to spare
#define VALUE_MAX   (1024 * 1024)           //  A value typed on one line

//  Return true if byte must be escaped to survive as part of one token
static bool
s_needs_escape (byte value)
{
    return value <= ' ' || value >= 0x7f || value == '=' || value == '#'
        || value == '\\';
}

static int
s_hex_value (char digit)
{
    if (digit >= '0' && digit <= '9')
        return digit - '0';
    if (digit >= 'a' && digit <= 'f')
        return digit - 'a' + 10;
    if (digit >= 'A' && digit <= 'F')
        return digit - 'A' + 10;
    return -1;
}

//  Read one token from *cursor into dest (dest_max bytes), unescaping, and
//  stop at a blank, at end of line or, when stop_at_equals, at '='. Stores
//  the size; returns 0 or -1 with the reason set.
static int
s_token (const char **cursor, byte *dest, size_t dest_max, size_t *size_p,
         bool stop_at_equals, const char *what)
{
    const char *scan = *cursor;
    size_t size = 0;
    while (*scan && *scan != ' ' && *scan != '\t' && *scan != '\n' && *scan != '\r'
       &&  !(stop_at_equals && *scan == '=')) {
        int value = (byte) *scan;
        if (*scan == '\\') {
            if (scan [1] == '\\') {
                value = '\\';
                scan++;
            }
            else
            if (scan [1] == 'x' && s_hex_value (scan [2]) >= 0
                                && s_hex_value (scan [3]) >= 0) {
                value = s_hex_value (scan [2]) * 16 + s_hex_value (scan [3]);
                scan += 3;
            }
            else
                return zstate_fail (EINVAL, "bad escape in %s: use \\\\ or \\xHH", what);
        }
        if (size == dest_max)
            return zstate_fail (EINVAL, "%s is longer than %zu bytes", what, dest_max);
        dest [size++] = (byte) value;
        scan++;
    }
    *cursor = scan;
    *size_p = size;
    return 0;
}

static void
s_skip_blanks (const char **cursor)
{
    while (**cursor == ' ' || **cursor == '\t')
        (*cursor)++;
}

static bool
s_at_end (const char *cursor)
{
    return *cursor == 0 || *cursor == '\n' || *cursor == '\r';
}

int
zstate_text_parse (const char *line, zstate_batch_t *batch, char *table, size_t table_max)
{
    assert (line);
    assert (batch);
    assert (table);
    const char *cursor = line;
    s_skip_blanks (&cursor);
    if (s_at_end (cursor) || *cursor == '#')
        return 1;

    char verb [8];
    size_t size = 0;
    while (!s_at_end (cursor) && *cursor != ' ' && *cursor != '\t') {
        if (size == sizeof (verb) - 1)
            return zstate_fail (EINVAL, "unknown operation: use SET, HSET or DEL");
        verb [size++] = (char) toupper ((byte) *cursor++);
    }
    verb [size] = 0;
    int op = streq (verb, "SET")? ZSTATE_OP_SET:
             streq (verb, "HSET")? ZSTATE_OP_HSET:
             streq (verb, "DEL")? ZSTATE_OP_DEL: 0;
    if (!op)
        return zstate_fail (EINVAL, "unknown operation '%s': use SET, HSET or DEL", verb);

    s_skip_blanks (&cursor);
    if (s_at_end (cursor))
        return zstate_fail (EINVAL, "%s needs a table name", verb);
    byte name [ZSTATE_NAME_MAX + 1];
    if (s_token (&cursor, name, ZSTATE_NAME_MAX, &size, false, "table name"))
        return -1;
    name [size] = 0;
    if (size + 1 > table_max || strlen ((char *) name) != size)
        return zstate_fail (EINVAL, "bad table name");

    s_skip_blanks (&cursor);
    if (s_at_end (cursor))
        return zstate_fail (EINVAL, "%s needs a key", verb);
    //  Build the operation apart, so a bad field leaves batch untouched
    zstate_batch_t *scratch = zstate_batch_new ();
    byte *key = (byte *) malloc (TOKEN_MAX);
    byte *field = (byte *) malloc (TOKEN_MAX);
    byte *value = (byte *) malloc (VALUE_MAX);
    assert (scratch && key && field && value);
    int rc = s_token (&cursor, key, TOKEN_MAX - 1, &size, false, "key");
    if (rc == 0)
        rc = zstate_batch_append (scratch, op, key, size);
    while (rc == 0) {
        s_skip_blanks (&cursor);
        if (s_at_end (cursor))
            break;
        if (op == ZSTATE_OP_DEL) {
            rc = zstate_fail (EINVAL, "DEL takes no fields");
            break;
        }
        size_t field_size, value_size;
        rc = s_token (&cursor, field, TOKEN_MAX - 1, &field_size, true, "field name");
        if (rc == 0 && *cursor != '=')
            rc = zstate_fail (EINVAL, "malformed field '%.*s': use NAME=VALUE",
                              (int) (field_size > 40? 40: field_size), (char *) field);
        if (rc == 0) {
            cursor++;
            rc = s_token (&cursor, value, VALUE_MAX - 1, &value_size, false, "value");
        }
        if (rc == 0)
            rc = zstate_batch_field (scratch, field, field_size, value, value_size);
    }
    if (rc == 0) {
        int wire = zstate_batch_load (batch, zstate_batch_data (scratch),
                                      zstate_batch_bytes (scratch), 1, NULL);
        assert (wire == ZSTATE_WIRE_OK);
    }
    free (key);
    free (field);
    free (value);
    zstate_batch_destroy (&scratch);
    if (rc)
        return -1;
    strcpy (table, (char *) name);
    return 0;
}

//  Print size bytes of data as one token
static void
s_print_token (FILE *file, const char *data, size_t size)
{
    for (size_t index = 0; index < size; index++) {
        byte value = (byte) data [index];
        if (value == '\\')
            fputs ("\\\\", file);
        else
        if (s_needs_escape (value))
            fprintf (file, "\\x%02x", value);
        else
            fputc (value, file);
    }
}

void
zstate_text_print (FILE *file, const char *table, zstate_batch_t *batch, size_t index)
{
    int op = zstate_batch_op (batch, index);
    fputs (op == ZSTATE_OP_SET? "SET ": op == ZSTATE_OP_HSET? "HSET ": "DEL ", file);
    s_print_token (file, table, strlen (table));
    fputc (' ', file);
    size_t size;
    const char *data = zstate_batch_key (batch, index, &size);
    s_print_token (file, data, size);
    size_t fields = zstate_batch_field_count (batch, index);
    for (size_t field = 0; field < fields; field++) {
        fputc (' ', file);
        data = zstate_batch_name (batch, index, field, &size);
        s_print_token (file, data, size);
        fputc ('=', file);
        data = zstate_batch_value (batch, index, field, &size);
        s_print_token (file, data, size);
    }
    fputc ('\n', file);
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only
//  --------------------------------------------------------------------------
//  Self test of this class

//  Parsing: the README's lines, lines without an operation, bad lines;
//  and print, which parse reads back byte for byte
static void
s_test_parse_print (void)
{
    zstate_batch_t *batch = zstate_batch_new ();
    char table [ZSTATE_NAME_MAX + 1];

    //  The README's example lines
    int rc = zstate_text_parse ("SET ROUTE_TABLE 10.0.0.0/24 nexthop=10.0.0.1 ifname=Ethernet0",
                                batch, table, sizeof (table));
    assert (rc == 0);
    assert (streq (table, "ROUTE_TABLE"));
    assert (zstate_batch_size (batch) == 1);
    assert (zstate_batch_op (batch, 0) == ZSTATE_OP_SET);
    assert (streq (zstate_batch_key (batch, 0, NULL), "10.0.0.0/24"));
    assert (zstate_batch_field_count (batch, 0) == 2);
    assert (streq (zstate_batch_get (batch, 0, "ifname"), "Ethernet0"));
    rc = zstate_text_parse ("  del ROUTE_TABLE 10.0.0.0/24\n", batch, table, sizeof (table));
    assert (rc == 0);
    assert (zstate_batch_op (batch, 1) == ZSTATE_OP_DEL);
    rc = zstate_text_parse ("HSET T k a= b=\\x00\\\\\\x20", batch, table, sizeof (table));
    assert (rc == 0);
    size_t size;
    assert (streq (zstate_batch_value (batch, 2, 0, &size), "") && size == 0);
    const char *value = zstate_batch_value (batch, 2, 1, &size);
    assert (size == 3 && memcmp (value, "\0\\ ", 3) == 0);
    rc = zstate_text_parse ("SET T lonely", batch, table, sizeof (table));
    assert (rc == 0);
    assert (zstate_batch_op (batch, 3) == ZSTATE_OP_SET);
    assert (zstate_batch_field_count (batch, 3) == 0);

    //  Lines without an operation
    assert (zstate_text_parse ("", batch, table, sizeof (table)) == 1);
    assert (zstate_text_parse ("   # comment", batch, table, sizeof (table)) == 1);

    //  Bad lines fail with a reason and leave the batch as it was
    const char *bad [] = {
        "PUT T k a=1", "SET", "SET T", "DEL T k a=1", "SET T k a", "SET T k a=1 b",
        "SET T k a=\\q", "SET T k a=\\x4", NULL
    };
    for (int index = 0; bad [index]; index++) {
        errno = 0;
        rc = zstate_text_parse (bad [index], batch, table, sizeof (table));
        assert (rc == -1);
        assert (errno == EINVAL);
        assert (strlen (zstate_reason ()) > 0);
        assert (zstate_batch_size (batch) == 4);
    }

    //  What print writes, parse reads back byte for byte
    char *text = NULL;
    size_t text_size = 0;
    FILE *file = open_memstream (&text, &text_size);
    assert (file);
    for (size_t index = 0; index < zstate_batch_size (batch); index++)
        zstate_text_print (file, "T", batch, index);
    fclose (file);
    zstate_batch_t *copy = zstate_batch_new ();
    char *line = strtok (text, "\n");
    while (line) {
        assert (zstate_text_parse (line, copy, table, sizeof (table)) == 0);
        line = strtok (NULL, "\n");
    }
    assert (zstate_batch_eq (batch, copy));
    free (text);
    zstate_batch_destroy (&copy);
    zstate_batch_destroy (&batch);
}

void
zstate_text_test (bool verbose)
{
    (void) verbose;
    printf (" * zstate_text: ");
    //  @selftest
    //  What zstate send does with its input: each line that holds an
    //  operation goes into the batch for its table; a bad line is reported
    //  and skipped. zstate watch prints each operation it sees as a line.
    const char *input [] = {
        "# ports first",
        "SET PORT_TABLE Ethernet0 mtu=9100 admin_status=up",
        "hset PORT_TABLE Ethernet0 description=uplink\\x20one",
        "PUT PORT_TABLE Ethernet4",
        "DEL PORT_TABLE Ethernet4",
        NULL
    };
    zstate_batch_t *ports = zstate_batch_new ();
    char name [ZSTATE_NAME_MAX + 1];
    size_t bad_lines = 0;
    for (int index = 0; input [index]; index++) {
        int rc = zstate_text_parse (input [index], ports, name, sizeof (name));
        if (rc == -1)
            bad_lines++;        //  zsys_warning ("%s", zstate_reason ()) in the tool
        else
        if (rc == 0)
            assert (streq (name, "PORT_TABLE"));
    }
    assert (bad_lines == 1 && zstate_batch_size (ports) == 3);
    char *printed = NULL;
    size_t printed_size = 0;
    FILE *output = open_memstream (&printed, &printed_size);
    assert (output);
    zstate_text_print (output, "PORT_TABLE", ports, 1);
    fclose (output);
    assert (streq (printed, "HSET PORT_TABLE Ethernet0 description=uplink\\x20one\n"));
    free (printed);
    zstate_batch_destroy (&ports);
    //  @end

    s_test_parse_print ();
    printf ("OK\n");
}
#endif
