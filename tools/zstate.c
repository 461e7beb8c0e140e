/*  =========================================================================
    zstate - the command-line tool: demo, bench, serve, send, watch, stats

    Each subcommand is thin over the library; see zstate --help and
    doc/zstate.1.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"

typedef struct {
    const char *name;
    int (*main) (int argc, char *argv []);
    const char *summary;
} subcommand_t;

static subcommand_t
s_subcommands [] = {
    { "demo",  zstate_demo_main,  "run the whole pipeline on loopback, into Redis, and verify it" },
    { "bench", zstate_bench_main, "measure throughput, latency and memory against raw libzmq" },
    { "serve", zstate_serve_main, "run a server with consumer tables, optionally persisting to Redis" },
    { "send",  zstate_send_main,  "send operations given as arguments or read from stdin" },
    { "watch", zstate_watch_main, "print the operations a server routes to a table" },
    { "stats", zstate_stats_main, "print a running server's counters" },
    { "keygen", zstate_keygen_main, "write a CURVE certificate pair" },
    { NULL, NULL, NULL }
};

static void
s_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate [--version] [--help] COMMAND [ARGS]\n"
        "\n"
        "zstate moves key/value state tables over ZeroMQ. Commands:\n");
    for (subcommand_t *command = s_subcommands; command->name; command++)
        fprintf (file, "    %-7s %s\n", command->name, command->summary);
    fprintf (file,
        "\n"
        "'zstate COMMAND --help' describes a command.\n");
}

bool
zstate_tool_parse_number (const char *text, long min, long max, long *value_p)
{
    //  strtol takes leading blanks and a '+': a number here is digits only
    const char *digits = text [0] == '-'? text + 1: text;
    if (!isdigit ((byte) *digits))
        return false;
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || *end || value < min || value > max)
        return false;
    *value_p = value;
    return true;
}

int
zstate_tool_number (const char *command, const char *option, const char *text,
                    long min, long max, long *value_p)
{
    if (zstate_tool_parse_number (text, min, max, value_p))
        return 0;
    fprintf (stderr, "zstate %s: %s wants a number from %ld to %ld, not '%s'\n",
             command, option, min, max, text);
    return 2;
}

//  zconfig says what is wrong on stdout, as "... E (zconfig): (LINE) why",
//  and nothing to its caller. Load text with stdout caught, so that the
//  error is reported once, on stderr, with the file's name; *line_p gets
//  the line (0 when zconfig did not say) and why the reason.
zconfig_t *
zstate_tool_zpl_load (const char *text, int *line_p, char *why, size_t why_size)
{
    fflush (stdout);
    FILE *caught = tmpfile ();
    int saved = caught? dup (STDOUT_FILENO): -1;
    if (saved >= 0)
        dup2 (fileno (caught), STDOUT_FILENO);
    zconfig_t *config = zconfig_str_load (text);
    fflush (stdout);
    if (saved >= 0) {
        dup2 (saved, STDOUT_FILENO);
        close (saved);
    }
    *line_p = 0;
    snprintf (why, why_size, "syntax error");
    char said [512] = "";
    if (!config && caught) {
        rewind (caught);
        const char *from = fgets (said, sizeof (said), caught)? strstr (said, "(zconfig): ("): NULL;
        char *end = NULL;
        long line = from? strtol (from + 12, &end, 10): 0;
        if (line > 0 && line < INT_MAX && end && *end == ')') {
            *line_p = (int) line;
            snprintf (why, why_size, "syntax error: %s", end + 2);
            why [strcspn (why, "\n")] = 0;
        }
    }
    if (caught)
        fclose (caught);
    return config;
}

int
main (int argc, char *argv [])
{
    //  Output is for results; logs go where errors go
    zsys_set_logstream (stderr);
    if (argc < 2) {
        s_usage (stderr);
        return 2;
    }
    if (streq (argv [1], "--help") || streq (argv [1], "-h") || streq (argv [1], "help")) {
        s_usage (stdout);
        return 0;
    }
    if (streq (argv [1], "--version")) {
        printf ("zstate %d.%d.%d\n", ZSTATE_VERSION_MAJOR, ZSTATE_VERSION_MINOR,
                ZSTATE_VERSION_PATCH);
        return 0;
    }
    for (subcommand_t *command = s_subcommands; command->name; command++)
        if (streq (argv [1], command->name))
            return command->main (argc - 1, argv + 1);
    fprintf (stderr, "zstate: unknown command '%s'\n\n", argv [1]);
    s_usage (stderr);
    return 2;
}
