/*  =========================================================================
    zstate_writer_config - the writer's settings: their defaults, and the
    SET commands that change them

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

/*
@header
    Each SET command's arguments are text frames (zsock_send "s", "i" and
    "8" all send text); a missing or bad one is EINVAL.
@end
*/

#include "zstate_classes.h"
#include "zstate_writer_config.h"

#define DEFAULT_BATCH           2000
#define DEFAULT_INTERVAL        1
#define DEFAULT_KEYS            65536
#define DEFAULT_BYTES           (64 * 1024 * 1024)
#define DEFAULT_RECONNECT_MIN   100
#define DEFAULT_RECONNECT_MAX   5000
#define SEPARATOR_MAX           16
#define DEFAULT_WATERMARK_AGE   (7 * 24 * 3600)


//  --------------------------------------------------------------------------
//  Create and destroy

zstate_writer_config_t *
zstate_writer_config_new (void)
{
    zstate_writer_config_t *self =
        (zstate_writer_config_t *) zmalloc (sizeof (zstate_writer_config_t));
    assert (self);
    *self = (zstate_writer_config_t) {
        .separator = strdup (":"),
        .connect_timeout = ZSTATE_WRITER_CONNECT_TIMEOUT,
        .command_timeout = ZSTATE_WRITER_COMMAND_TIMEOUT,
        .batch_size = DEFAULT_BATCH, .batch_interval = DEFAULT_INTERVAL,
        .max_keys = DEFAULT_KEYS, .max_bytes = DEFAULT_BYTES,
        .reconnect_min = DEFAULT_RECONNECT_MIN, .reconnect_max = DEFAULT_RECONNECT_MAX,
        .watermark_age = DEFAULT_WATERMARK_AGE,
        .window_bound = ZSTATE_WRITER_WINDOW_BOUND
    };
    assert (self->separator);
    return self;
}

void
zstate_writer_config_destroy (zstate_writer_config_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zstate_writer_config_t *self = *self_p;
        free (self->separator);
        free (self->password);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  The SET commands

//  Pop the next argument frame as a string; NULL if missing
static char *
s_pop (zmsg_t *request)
{
    return zmsg_size (request)? zmsg_popstr (request): NULL;
}

//  Pop the next argument as a number; -1 if missing
static long
s_pop_number (zmsg_t *request)
{
    char *text = s_pop (request);
    long value = text? atol (text): -1;
    free (text);
    return value;
}

//  Replace *setting with text (which it takes); NULL for an empty text
//  when empty_is_null
static void
s_take_text (char **setting, char **text_p, bool empty_is_null)
{
    free (*setting);
    *setting = *text_p;
    *text_p = NULL;
    if (empty_is_null && **setting == 0) {
        free (*setting);
        *setting = NULL;
    }
}

//  The settings that only hold before CONNECT: EINVAL first, then EBUSY
static int
s_set_before_connect (zstate_writer_config_t *self, const char *name,
                      zmsg_t *request, bool connected)
{
    int status = EINVAL;
    if (streq (name, "SEPARATOR") || streq (name, "PASSWORD")) {
        char *text = s_pop (request);
        bool separator = streq (name, "SEPARATOR");
        bool valid = text && (!separator || (*text && strlen (text) <= SEPARATOR_MAX));
        status = !valid? EINVAL: connected? EBUSY: 0;
        if (status == 0)
            s_take_text (separator? &self->separator: &self->password, &text, !separator);
        free (text);
    }
    else
    if (streq (name, "DB")) {
        long db = s_pop_number (request);
        status = !(db >= 0 && db <= INT_MAX)? EINVAL: connected? EBUSY: 0;
        if (status == 0)
            self->db = (int) db;
    }
    else
    if (streq (name, "PLACEHOLDER")) {
        long flag = s_pop_number (request);
        status = !(flag == 0 || flag == 1)? EINVAL: connected? EBUSY: 0;
        if (status == 0)
            self->placeholder = flag == 1;
    }
    else {
        long connect = s_pop_number (request);
        long reply = s_pop_number (request);
        bool valid = connect >= 1 && reply >= 1 && connect <= INT_MAX && reply <= INT_MAX;
        status = !valid? EINVAL: connected? EBUSY: 0;
        if (status == 0) {
            self->connect_timeout = (int) connect;
            self->command_timeout = (int) reply;
        }
    }
    return status;
}

//  The settings that hold at any time
static int
s_set_any_time (zstate_writer_config_t *self, const char *name, zmsg_t *request)
{
    if (streq (name, "BOUND")) {
        char *first = s_pop (request);
        char *second = s_pop (request);
        unsigned long long keys = first? strtoull (first, NULL, 10): 0;
        unsigned long long bytes = second? strtoull (second, NULL, 10): 0;
        free (first);
        free (second);
        if (keys < 1 || bytes < 1024)
            return EINVAL;
        self->max_keys = (size_t) keys;
        self->max_bytes = (size_t) bytes;
        return 0;
    }
    if (streq (name, "WINDOW BOUND")) {
        char *text = s_pop (request);
        unsigned long long keys = text? strtoull (text, NULL, 10): 0;
        free (text);
        if (keys < 1)
            return EINVAL;
        self->window_bound = (size_t) keys;
        return 0;
    }
    long first = s_pop_number (request);
    if (streq (name, "WATERMARK AGE")) {
        if (first < 1 || first > INT_MAX)
            return EINVAL;
        self->watermark_age = (int) first;
        return 0;
    }
    long second = s_pop_number (request);
    if (streq (name, "BATCH")) {
        if (first < 1 || first > ZSTATE_OPS_MAX || second < 0 || second > 60000)
            return EINVAL;
        self->batch_size = (size_t) first;
        self->batch_interval = (int) second;
        return 0;
    }
    if (first < 1 || second < first || second > INT_MAX)
        return EINVAL;
    self->reconnect_min = (int) first;
    self->reconnect_max = (int) second;
    return 0;
}

int
zstate_writer_config_set (zstate_writer_config_t *self, const char *command,
                          zmsg_t *request, bool connected)
{
    assert (self);
    assert (command);
    assert (request);
    if (strncmp (command, "SET ", 4))
        return -1;
    const char *name = command + 4;
    if (streq (name, "SEPARATOR") || streq (name, "PASSWORD")
    ||  streq (name, "DB") || streq (name, "TIMEOUTS") || streq (name, "PLACEHOLDER"))
        return s_set_before_connect (self, name, request, connected);
    if (streq (name, "BATCH") || streq (name, "RECONNECT") || streq (name, "BOUND")
    ||  streq (name, "WATERMARK AGE") || streq (name, "WINDOW BOUND"))
        return s_set_any_time (self, name, request);
    return -1;
}


#ifdef ZSTATE_SELFTEST
//  The selftest is built into the selftest program only, not the library
//  --------------------------------------------------------------------------
//  Selftest: as the writer's actor uses the settings

//  Apply command with the given text arguments (NULL-terminated)
static int
s_test_set (zstate_writer_config_t *config, bool connected, const char *command, ...)
{
    zmsg_t *request = zmsg_new ();
    va_list args;
    va_start (args, command);
    const char *arg;
    while ((arg = va_arg (args, const char *)))
        zmsg_addstr (request, arg);
    va_end (args);
    int rc = zstate_writer_config_set (config, command, request, connected);
    zmsg_destroy (&request);
    return rc;
}

void
zstate_writer_config_test (bool verbose)
{
    printf (" * zstate_writer_config: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    zstate_writer_config_t *config = zstate_writer_config_new ();
    assert (streq (config->separator, ":") && config->password == NULL);
    assert (s_test_set (config, false, "SET SEPARATOR", "|", NULL) == 0);
    assert (s_test_set (config, false, "SET PASSWORD", "secret", NULL) == 0);
    assert (s_test_set (config, false, "SET DB", "4", NULL) == 0);
    assert (s_test_set (config, false, "SET TIMEOUTS", "500", "700", NULL) == 0);
    assert (s_test_set (config, false, "SET BATCH", "100", "5", NULL) == 0);
    assert (s_test_set (config, false, "SET RECONNECT", "10", "20", NULL) == 0);
    assert (s_test_set (config, false, "SET BOUND", "1000", "1048576", NULL) == 0);
    assert (streq (config->separator, "|") && streq (config->password, "secret"));
    assert (config->db == 4 && config->connect_timeout == 500
            && config->command_timeout == 700);
    assert (config->batch_size == 100 && config->batch_interval == 5);
    assert (config->reconnect_min == 10 && config->reconnect_max == 20);
    assert (config->max_keys == 1000 && config->max_bytes == 1048576);
    assert (config->watermark_age == 7 * 24 * 3600);
    assert (s_test_set (config, true, "SET WATERMARK AGE", "3600", NULL) == 0);
    assert (config->watermark_age == 3600);
    assert (config->window_bound == ZSTATE_WRITER_WINDOW_BOUND);
    assert (s_test_set (config, true, "SET WINDOW BOUND", "1000", NULL) == 0);
    assert (config->window_bound == 1000);
    assert (s_test_set (config, true, "SET WINDOW BOUND", "0", NULL) == EINVAL);
    assert (config->window_bound == 1000);
    //  @end

    //  Bad or missing arguments change nothing
    assert (s_test_set (config, false, "SET SEPARATOR", "", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET SEPARATOR", "12345678901234567", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET SEPARATOR", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET DB", "-1", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET TIMEOUTS", "0", "700", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET TIMEOUTS", "500", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET BATCH", "0", "5", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET BATCH", "100", "60001", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET RECONNECT", "20", "10", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET BOUND", "1000", "1023", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET BOUND", "0", "1048576", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET WATERMARK AGE", "0", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET WATERMARK AGE", NULL) == EINVAL);
    assert (streq (config->separator, "|") && config->db == 4);
    assert (config->connect_timeout == 500 && config->batch_size == 100);
    assert (config->reconnect_min == 10 && config->max_keys == 1000);
    assert (config->watermark_age == 3600);
    //  Once connected, the connection's settings are refused; a bad
    //  argument is still EINVAL; the others still hold
    assert (s_test_set (config, true, "SET SEPARATOR", ";", NULL) == EBUSY);
    assert (s_test_set (config, true, "SET PASSWORD", "", NULL) == EBUSY);
    assert (s_test_set (config, true, "SET DB", "5", NULL) == EBUSY);
    assert (s_test_set (config, true, "SET DB", "-5", NULL) == EINVAL);
    assert (s_test_set (config, true, "SET TIMEOUTS", "1", "1", NULL) == EBUSY);
    assert (s_test_set (config, true, "SET BATCH", "7", "0", NULL) == 0);
    assert (streq (config->separator, "|") && streq (config->password, "secret"));
    assert (config->connect_timeout == 500 && config->batch_size == 7);
    //  The placeholder: off by default, 0 or 1, before CONNECT
    assert (!config->placeholder);
    assert (s_test_set (config, false, "SET PLACEHOLDER", "2", NULL) == EINVAL);
    assert (s_test_set (config, false, "SET PLACEHOLDER", "1", NULL) == 0 && config->placeholder);
    assert (s_test_set (config, true, "SET PLACEHOLDER", "0", NULL) == EBUSY && config->placeholder);
    //  An empty password means none
    assert (s_test_set (config, false, "SET PASSWORD", "", NULL) == 0);
    assert (config->password == NULL);
    //  Not ours
    assert (s_test_set (config, false, "FLUSH", "0", NULL) == -1);
    assert (s_test_set (config, false, "SET NOTHING", "0", NULL) == -1);
    zstate_writer_config_destroy (&config);
    printf ("OK\n");
}
#endif
