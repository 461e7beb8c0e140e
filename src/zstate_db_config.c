/*  =========================================================================
    zstate_db_config - SONiC's database_config.json: which Redis instance,
    database index and key separator each database name maps to

    A recursive descent over the JSON text that keeps only the members it
    knows and checks the rest for syntax, with the depth bounded so that a
    hostile file cannot exhaust the stack. The first error stops the parse;
    its byte offset becomes the line and column of the reason.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

#define TEXT_MAX        (1024 * 1024)
#define DEPTH_MAX       32
#define SEPARATOR_MAX   16
#define INDEX_MAX       65535
#define PORT_MAX        65535

typedef struct {
    size_t where;               //  Offset of its object, for errors
    char *hostname;
    long port;                  //  0 until given
    char *socket;               //  unix_socket_path, or NULL
} instance_t;

typedef struct {
    size_t where;
    long index;                 //  -1 until given
    char *separator;
    char *instance;             //  Its instance's name
    char *endpoint;             //  Resolved once the file is read
} database_t;

struct _zstate_db_config_t {
    zhashx_t *instances;        //  name -> instance_t
    zhashx_t *databases;        //  name -> database_t
};

typedef struct {
    const char *text;
    size_t size;
    size_t pos;
    int depth;
    bool failed;
    size_t fail_pos;
    char reason [160];
} parser_t;

//  A member's value, parsed by whoever knows the member
typedef int (member_fn) (parser_t *parser, const char *name, void *arg);

static void
s_instance_destroy (void **item_p)
{
    instance_t *instance = (instance_t *) *item_p;
    if (instance) {
        free (instance->hostname);
        free (instance->socket);
        free (instance);
        *item_p = NULL;
    }
}

static void
s_database_destroy (void **item_p)
{
    database_t *database = (database_t *) *item_p;
    if (database) {
        free (database->separator);
        free (database->instance);
        free (database->endpoint);
        free (database);
        *item_p = NULL;
    }
}

void
zstate_db_config_destroy (zstate_db_config_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_db_config_t *self = *self_p;
        zhashx_destroy (&self->databases);
        zhashx_destroy (&self->instances);
        free (self);
        *self_p = NULL;
    }
}

static zstate_db_config_t *
s_new (void)
{
    zstate_db_config_t *self = (zstate_db_config_t *) zmalloc (sizeof (zstate_db_config_t));
    assert (self);
    self->instances = zhashx_new ();
    self->databases = zhashx_new ();
    assert (self->instances && self->databases);
    zhashx_set_destructor (self->instances, s_instance_destroy);
    zhashx_set_destructor (self->databases, s_database_destroy);
    return self;
}


//  --------------------------------------------------------------------------
//  JSON

//  Record the first error, at offset where; returns -1
static int
s_error_at (parser_t *parser, size_t where, const char *format, ...) CHECK_PRINTF (3);
static int
s_error_at (parser_t *parser, size_t where, const char *format, ...)
{
    if (!parser->failed) {
        parser->failed = true;
        parser->fail_pos = where;
        va_list args;
        va_start (args, format);
        vsnprintf (parser->reason, sizeof (parser->reason), format, args);
        va_end (args);
    }
    return -1;
}

#define s_error(parser, ...) s_error_at ((parser), (parser)->pos, __VA_ARGS__)

static void
s_blank (parser_t *parser)
{
    while (parser->pos < parser->size && strchr (" \t\r\n", parser->text [parser->pos])
    &&  parser->text [parser->pos])
        parser->pos++;
}

static int
s_peek (parser_t *parser)
{
    s_blank (parser);
    return parser->pos < parser->size? (byte) parser->text [parser->pos]: -1;
}

//  Expect one character, after blanks
static int
s_expect (parser_t *parser, char want, const char *what)
{
    if (s_peek (parser) != (byte) want)
        return parser->pos < parser->size? s_error (parser, "expected %s", what)
                                          : s_error (parser, "unexpected end, expected %s", what);
    parser->pos++;
    return 0;
}

//  Four hex digits at the cursor, or -1
static long
s_hex4 (parser_t *parser)
{
    if (parser->size - parser->pos < 4)
        return -1;
    long value = 0;
    for (int index = 0; index < 4; index++) {
        int digit = parser->text [parser->pos + index];
        if (!isxdigit (digit))
            return -1;
        value = value * 16 + (isdigit (digit)? digit - '0': (tolower (digit) - 'a' + 10));
    }
    parser->pos += 4;
    return value;
}

//  One \u escape (the cursor past the 'u') as UTF-8 into out; returns
//  the bytes written, or -1
static int
s_unicode_escape (parser_t *parser, char *out)
{
    size_t start = parser->pos - 2;
    long code = s_hex4 (parser);
    if (code >= 0xD800 && code <= 0xDBFF) {
        long low = -1;
        if (parser->size - parser->pos >= 2 && parser->text [parser->pos] == '\\'
        &&  parser->text [parser->pos + 1] == 'u') {
            parser->pos += 2;
            low = s_hex4 (parser);
        }
        if (low < 0xDC00 || low > 0xDFFF)
            return s_error_at (parser, start, "unpaired surrogate in \\u escape");
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    else
    if (code >= 0xDC00 && code <= 0xDFFF)
        return s_error_at (parser, start, "unpaired surrogate in \\u escape");
    if (code < 0)
        return s_error_at (parser, start, "bad \\u escape");
    if (code == 0)
        return s_error_at (parser, start, "NUL in a string");
    int length = code < 0x80? 1: code < 0x800? 2: code < 0x10000? 3: 4;
    static const byte lead [] = { 0, 0, 0xC0, 0xE0, 0xF0 };
    for (int index = length - 1; index > 0; index--) {
        out [index] = (char) (0x80 | (code & 0x3F));
        code >>= 6;
    }
    out [0] = (char) (lead [length] | code);
    return length;
}

//  A string, decoded into a new C string at *string_p
static int
s_string (parser_t *parser, char **string_p)
{
    if (s_expect (parser, '"', "a string"))
        return -1;
    //  Decoding never makes a string longer than its text
    char *out = (char *) malloc (parser->size - parser->pos + 1);
    assert (out);
    size_t length = 0;
    while (true) {
        if (parser->pos >= parser->size) {
            free (out);
            return s_error (parser, "unterminated string");
        }
        byte next = (byte) parser->text [parser->pos];
        int rc = 0;
        if (next == '"')
            break;
        if (next < 0x20)
            rc = s_error (parser, next? "control character in a string": "NUL byte");
        else
        if (next == '\\') {
            char escape = parser->pos + 1 < parser->size? parser->text [parser->pos + 1]: 0;
            const char *plain = strchr ("\"\\/bfnrt", escape);
            parser->pos += 2;
            if (escape == 'u')
                rc = s_unicode_escape (parser, out + length);
            else
            if (escape && plain)
                out [length] = "\"\\/\b\f\n\r\t" [plain - "\"\\/bfnrt"], rc = 1;
            else
                rc = s_error_at (parser, parser->pos - 2, "bad escape in a string");
            length += rc > 0? (size_t) rc: 0;
        }
        else
        if (next < 0x80)
            out [length++] = (char) next, parser->pos++;
        else {
            size_t width = zstate_utf8_length ((const byte *) parser->text + parser->pos,
                                               parser->size - parser->pos);
            if (width == 0)
                rc = s_error (parser, "invalid UTF-8");
            memcpy (out + length, parser->text + parser->pos, width);
            length += width;
            parser->pos += width;
        }
        if (rc == -1) {
            free (out);
            return -1;
        }
    }
    parser->pos++;
    out [length] = 0;
    *string_p = out;
    return 0;
}

static size_t
s_digits (parser_t *parser)
{
    size_t start = parser->pos;
    while (parser->pos < parser->size && isdigit ((byte) parser->text [parser->pos]))
        parser->pos++;
    return parser->pos - start;
}

//  A number; *value_p gets it when it is an integer of at most 18 digits,
//  else *integer_p is false
static int
s_number (parser_t *parser, long *value_p, bool *integer_p)
{
    s_blank (parser);
    size_t start = parser->pos;
    if (parser->pos < parser->size && parser->text [parser->pos] == '-')
        parser->pos++;
    size_t whole = s_digits (parser);
    if (whole == 0 || (whole > 1 && parser->text [parser->pos - whole] == '0'))
        return s_error_at (parser, start, "bad number");
    *integer_p = true;
    if (parser->pos < parser->size && parser->text [parser->pos] == '.') {
        parser->pos++;
        if (s_digits (parser) == 0)
            return s_error_at (parser, start, "bad number");
        *integer_p = false;
    }
    if (parser->pos < parser->size && tolower (parser->text [parser->pos]) == 'e') {
        parser->pos++;
        if (parser->pos < parser->size && strchr ("+-", parser->text [parser->pos])
        &&  parser->text [parser->pos])
            parser->pos++;
        if (s_digits (parser) == 0)
            return s_error_at (parser, start, "bad number");
        *integer_p = false;
    }
    if (*integer_p && whole <= 18) {
        char digits [24];
        memcpy (digits, parser->text + start, parser->pos - start);
        digits [parser->pos - start] = 0;
        *value_p = strtol (digits, NULL, 10);
    }
    else
        *integer_p = false;
    return 0;
}

static int
    s_skip_value (parser_t *parser);

//  An object whose members go to member, each name once
static int
s_object (parser_t *parser, member_fn *member, void *arg)
{
    if (s_expect (parser, '{', "an object"))
        return -1;
    if (++parser->depth > DEPTH_MAX)
        return s_error (parser, "nested deeper than %d levels", DEPTH_MAX);
    zhashx_t *seen = zhashx_new ();
    assert (seen);
    int rc = 0;
    if (s_peek (parser) == '}')
        parser->pos++;
    else
    while (rc == 0) {
        char *name = NULL;
        s_blank (parser);
        size_t where = parser->pos;
        rc = s_string (parser, &name);
        if (rc == 0 && zhashx_insert (seen, name, (void *) 1))
            rc = s_error_at (parser, where, "\"%.64s\" given twice", name);
        if (rc == 0)
            rc = s_expect (parser, ':', "':'");
        if (rc == 0)
            rc = member (parser, name, arg);
        free (name);
        if (rc == 0 && s_peek (parser) == '}') {
            parser->pos++;
            break;
        }
        if (rc == 0)
            rc = s_expect (parser, ',', "',' or '}'");
    }
    zhashx_destroy (&seen);
    parser->depth--;
    return rc;
}

static int
s_skip_member (parser_t *parser, const char *name, void *arg)
{
    (void) name;
    (void) arg;
    return s_skip_value (parser);
}

static int
s_skip_array (parser_t *parser)
{
    parser->pos++;
    if (++parser->depth > DEPTH_MAX)
        return s_error (parser, "nested deeper than %d levels", DEPTH_MAX);
    int rc = 0;
    if (s_peek (parser) == ']')
        parser->pos++;
    else
    while (rc == 0) {
        rc = s_skip_value (parser);
        if (rc == 0 && s_peek (parser) == ']') {
            parser->pos++;
            break;
        }
        if (rc == 0)
            rc = s_expect (parser, ',', "',' or ']'");
    }
    parser->depth--;
    return rc;
}

//  Any value, checked and dropped
static int
s_skip_value (parser_t *parser)
{
    int next = s_peek (parser);
    if (next == '{')
        return s_object (parser, s_skip_member, NULL);
    if (next == '[')
        return s_skip_array (parser);
    if (next == '"') {
        char *string;
        int rc = s_string (parser, &string);
        if (rc == 0)
            free (string);
        return rc;
    }
    if (next == '-' || isdigit (next)) {
        long value;
        bool integer;
        return s_number (parser, &value, &integer);
    }
    static const char *literals [] = { "true", "false", "null", NULL };
    for (const char **literal = literals; *literal; literal++) {
        size_t length = strlen (*literal);
        if (parser->size - parser->pos >= length
        &&  memcmp (parser->text + parser->pos, *literal, length) == 0) {
            parser->pos += length;
            return 0;
        }
    }
    return next == -1? s_error (parser, "unexpected end, expected a value")
                     : s_error (parser, "expected a value");
}

//  A member that must be a string; replaces *string_p
static int
s_string_member (parser_t *parser, const char *name, char **string_p)
{
    if (s_peek (parser) != '"')
        return s_error (parser, "%s must be a string", name);
    free (*string_p);
    *string_p = NULL;
    return s_string (parser, string_p);
}

//  A member that must be an integer from min to max
static int
s_integer_member (parser_t *parser, const char *name, long min, long max, long *value_p)
{
    size_t where = parser->pos;
    long value = 0;
    bool integer = false;
    int next = s_peek (parser);
    if (next != '-' && !isdigit (next))
        return s_error (parser, "%s must be a number", name);
    if (s_number (parser, &value, &integer))
        return -1;
    if (!integer || value < min || value > max)
        return s_error_at (parser, where, "%s must be an integer from %ld to %ld",
                           name, min, max);
    *value_p = value;
    return 0;
}


//  --------------------------------------------------------------------------
//  What the file holds

static int
s_instance_field (parser_t *parser, const char *name, void *arg)
{
    instance_t *instance = (instance_t *) arg;
    if (streq (name, "hostname"))
        return s_string_member (parser, name, &instance->hostname);
    if (streq (name, "port"))
        return s_integer_member (parser, name, 1, PORT_MAX, &instance->port);
    if (streq (name, "unix_socket_path"))
        return s_string_member (parser, name, &instance->socket);
    return s_skip_value (parser);
}

static int
s_instance (parser_t *parser, const char *name, void *arg)
{
    zstate_db_config_t *self = (zstate_db_config_t *) arg;
    s_blank (parser);
    instance_t *instance = (instance_t *) zmalloc (sizeof (instance_t));
    assert (instance);
    instance->where = parser->pos;
    zhashx_insert (self->instances, name, instance);
    int rc = s_object (parser, s_instance_field, instance);
    if (rc == 0 && (!instance->hostname || !*instance->hostname))
        rc = s_error_at (parser, instance->where, "instance \"%.64s\" needs a hostname", name);
    if (rc == 0 && instance->port == 0)
        rc = s_error_at (parser, instance->where, "instance \"%.64s\" needs a port", name);
    return rc;
}

static int
s_database_field (parser_t *parser, const char *name, void *arg)
{
    database_t *database = (database_t *) arg;
    if (streq (name, "id"))
        return s_integer_member (parser, name, 0, INDEX_MAX, &database->index);
    if (streq (name, "instance"))
        return s_string_member (parser, name, &database->instance);
    if (streq (name, "separator")) {
        size_t where = parser->pos;
        int rc = s_string_member (parser, name, &database->separator);
        size_t length = rc == 0? strlen (database->separator): 0;
        if (rc == 0 && (length == 0 || length > SEPARATOR_MAX))
            rc = s_error_at (parser, where, "separator must be 1 to %d bytes", SEPARATOR_MAX);
        return rc;
    }
    return s_skip_value (parser);
}

static int
s_database (parser_t *parser, const char *name, void *arg)
{
    zstate_db_config_t *self = (zstate_db_config_t *) arg;
    s_blank (parser);
    size_t where = parser->pos;
    if (!zstate_msg_name_valid (name))
        return s_error_at (parser, where, "\"%.64s\" is not a valid database name", name);
    database_t *database = (database_t *) zmalloc (sizeof (database_t));
    assert (database);
    database->where = where;
    database->index = -1;
    zhashx_insert (self->databases, name, database);
    int rc = s_object (parser, s_database_field, database);
    const char *missing = database->index == -1? "an id"
                        : !database->separator? "a separator"
                        : !database->instance? "an instance": NULL;
    if (rc == 0 && missing)
        rc = s_error_at (parser, where, "database \"%.64s\" needs %s", name, missing);
    return rc;
}

static int
s_top (parser_t *parser, const char *name, void *arg)
{
    bool instances = streq (name, "INSTANCES");
    if (instances || streq (name, "DATABASES")) {
        if (s_peek (parser) != '{')
            return s_error (parser, "%s must be an object", name);
        return s_object (parser, instances? s_instance: s_database, arg);
    }
    return s_skip_value (parser);
}

//  Every database's instance exists: resolve its endpoint
static int
s_resolve (zstate_db_config_t *self, parser_t *parser)
{
    if (zhashx_size (self->instances) == 0)
        return s_error_at (parser, 0, "no INSTANCES");
    if (zhashx_size (self->databases) == 0)
        return s_error_at (parser, 0, "no DATABASES");
    database_t *database = (database_t *) zhashx_first (self->databases);
    for (; database; database = (database_t *) zhashx_next (self->databases)) {
        instance_t *instance = (instance_t *) zhashx_lookup (self->instances,
                                                             database->instance);
        if (!instance)
            return s_error_at (parser, database->where, "no instance \"%.64s\"",
                               database->instance);
        char endpoint [600];
        if (instance->socket && *instance->socket)
            snprintf (endpoint, sizeof (endpoint), "unix:%s", instance->socket);
        else
            snprintf (endpoint, sizeof (endpoint), "%s:%ld", instance->hostname, instance->port);
        if (strlen (endpoint) >= sizeof (endpoint) - 1)
            return s_error_at (parser, instance->where, "hostname or socket path too long");
        database->endpoint = strdup (endpoint);
    }
    return 0;
}

//  Line and column (from 1) of offset in text
static void
s_position (const char *text, size_t offset, size_t *line_p, size_t *column_p)
{
    *line_p = 1;
    *column_p = 1;
    for (size_t index = 0; index < offset; index++)
        if (text [index] == '\n') {
            (*line_p)++;
            *column_p = 1;
        }
        else
            (*column_p)++;
}

zstate_db_config_t *
zstate_db_config_parse (const char *text, size_t size)
{
    if (!text)
        return zstate_fail (EINVAL, "database config: no text"), NULL;
    if (size > TEXT_MAX)
        return zstate_fail (EFBIG, "database config: larger than %d bytes", TEXT_MAX), NULL;
    parser_t parser = { .text = text, .size = size };
    zstate_db_config_t *self = s_new ();
    const byte *nul = (const byte *) memchr (text, 0, size);
    if (nul)
        s_error_at (&parser, (size_t) ((const char *) nul - text), "NUL byte");
    else
    if (s_object (&parser, s_top, self) == 0) {
        if (s_peek (&parser) != -1)
            s_error (&parser, "text after the end of the object");
        else
            s_resolve (self, &parser);
    }
    if (parser.failed) {
        zstate_db_config_destroy (&self);
        size_t line, column;
        s_position (text, parser.fail_pos, &line, &column);
        zstate_fail (EINVAL, "line %zu, column %zu: %s", line, column, parser.reason);
    }
    return self;
}

zstate_db_config_t *
zstate_db_config_load (const char *path)
{
    if (!path)
        return zstate_fail (EINVAL, "database config: no file name"), NULL;
    FILE *file = fopen (path, "rb");
    if (!file) {
        int error = errno;
        return zstate_fail (error, "%s: %s", path, strerror (error)), NULL;
    }
    //  One byte more than the limit tells a file that is too large
    char *text = (char *) malloc (TEXT_MAX + 1);
    assert (text);
    size_t size = fread (text, 1, TEXT_MAX + 1, file);
    int error = ferror (file)? errno: 0;
    fclose (file);
    zstate_db_config_t *self = NULL;
    if (error)
        zstate_fail (error, "%s: %s", path, strerror (error));
    else {
        self = zstate_db_config_parse (text, size);
        if (!self) {
            error = errno;
            char reason [256];
            snprintf (reason, sizeof (reason), "%s", zstate_reason ());
            zstate_fail (error, "%s: %s", path, reason);
        }
    }
    free (text);
    return self;
}

size_t
zstate_db_config_size (zstate_db_config_t *self)
{
    assert (self);
    return zhashx_size (self->databases);
}

int
zstate_db_config_lookup (zstate_db_config_t *self, const char *db,
                         const char **endpoint_p, int *index_p, const char **separator_p)
{
    assert (self);
    database_t *database = db? (database_t *) zhashx_lookup (self->databases, db): NULL;
    if (!database)
        return zstate_fail (ENOENT, "database config names no database \"%s\"",
                            db? db: "(null)");
    if (endpoint_p)
        *endpoint_p = database->endpoint;
    if (index_p)
        *index_p = (int) database->index;
    if (separator_p)
        *separator_p = database->separator;
    return 0;
}
