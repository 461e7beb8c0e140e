/*  =========================================================================
    zstate_db_config_test - the database_config.json reader: SONiC's own
    file, then hostile text, each refused with its line and column, then
    the fuzz corpus replayed

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include <dirent.h>

void
    zstate_db_config_test (bool verbose);

//  The file as SONiC ships it (sonic-buildimage, database_config.json.j2
//  rendered for one instance), trimmed to five databases
static const char *
s_sonic_file =
    "{\n"
    "    \"INSTANCES\": {\n"
    "        \"redis\":{\n"
    "            \"hostname\" : \"127.0.0.1\",\n"
    "            \"port\" : 6379,\n"
    "            \"unix_socket_path\" : \"/var/run/redis/redis.sock\",\n"
    "            \"persistence_for_warm_boot\" : \"yes\"\n"
    "        },\n"
    "        \"redis_chassis\":{\n"
    "            \"hostname\" : \"redis_chassis.server\",\n"
    "            \"port\": 6380,\n"
    "            \"unix_socket_path\": \"\"\n"
    "        }\n"
    "    },\n"
    "    \"DATABASES\" : {\n"
    "        \"APPL_DB\" : { \"id\" : 0, \"separator\": \":\", \"instance\" : \"redis\" },\n"
    "        \"COUNTERS_DB\" : { \"id\" : 2, \"separator\": \":\", \"instance\" : \"redis\" },\n"
    "        \"CONFIG_DB\" : { \"id\" : 4, \"separator\": \"|\", \"instance\" : \"redis\" },\n"
    "        \"STATE_DB\" : { \"id\" : 6, \"separator\": \"|\", \"instance\" : \"redis\" },\n"
    "        \"CHASSIS_APP_DB\" : { \"id\" : 12, \"separator\": \"|\",\n"
    "                               \"instance\" : \"redis_chassis\" }\n"
    "    },\n"
    "    \"VERSION\" : \"1.0\", \"extra\": [1, -2.5e3, true, false, null, {\"a\": []}]\n"
    "}\n";

//  Hostile or wrong text, and the reason it must get
typedef struct {
    const char *text;
    const char *reason;
} bad_case_t;

#define DB_OK "\"DATABASES\": {\"APPL_DB\": {\"id\": 0, \"separator\": \":\", \"instance\": \"r\"}}"
#define INST_OK "\"INSTANCES\": {\"r\": {\"hostname\": \"h\", \"port\": 1}}"

static bad_case_t
s_bad_cases [] = {
    { "", "line 1, column 1: unexpected end, expected an object" },
    { "[]", "line 1, column 1: expected an object" },
    { "{", "unexpected end, expected a string" },
    { "{" INST_OK, "unexpected end, expected ',' or '}'" },
    { "{" INST_OK "," DB_OK "} x", "text after the end of the object" },
    { "{" INST_OK "," DB_OK ",}", "expected a string" },
    { "{" INST_OK "," DB_OK "}", NULL },
    { "{" DB_OK "}", "line 1, column 1: no INSTANCES" },
    { "{" INST_OK "}", "no DATABASES" },
    { "{\"INSTANCES\": {}, \"DATABASES\": {}}", "no INSTANCES" },
    { "{\"INSTANCES\": [], " DB_OK "}", "INSTANCES must be an object" },
    { "{" INST_OK ", " INST_OK "," DB_OK "}", "\"INSTANCES\" given twice" },
    { "{\"INSTANCES\": {\"r\": {\"hostname\": \"h\", \"port\": 1, \"port\": 2}}," DB_OK "}",
      "line 1, column 50: \"port\" given twice" },
    { "{\"INSTANCES\": {\"r\": {\"port\": 1}}," DB_OK "}", "instance \"r\" needs a hostname" },
    { "{\"INSTANCES\": {\"r\": {\"hostname\": \"\", \"port\": 1}}," DB_OK "}",
      "needs a hostname" },
    { "{\"INSTANCES\": {\"r\": {\"hostname\": \"h\"}}," DB_OK "}", "needs a port" },
    { "{\"INSTANCES\": {\"r\": {\"hostname\": \"h\", \"port\": 0}}," DB_OK "}",
      "port must be an integer from 1 to 65535" },
    { "{\"INSTANCES\": {\"r\": {\"hostname\": \"h\", \"port\": 65536}}," DB_OK "}",
      "port must be an integer" },
    { "{\"INSTANCES\": {\"r\": {\"hostname\": \"h\", \"port\": 6379.0}}," DB_OK "}",
      "port must be an integer" },
    { "{\"INSTANCES\": {\"r\": {\"hostname\": \"h\", \"port\": \"6379\"}}," DB_OK "}",
      "port must be a number" },
    { "{\"INSTANCES\": {\"r\": {\"hostname\": \"h\", \"port\": 99999999999999999999}},"
      DB_OK "}", "port must be an integer" },
    { "{\"INSTANCES\": {\"r\": {\"hostname\": 7, \"port\": 1}}," DB_OK "}",
      "hostname must be a string" },
    { "{" INST_OK ", \"DATABASES\": {\"APPL_DB\": {\"separator\": \":\", \"instance\": \"r\"}}}",
      "database \"APPL_DB\" needs an id" },
    { "{" INST_OK ", \"DATABASES\": {\"APPL_DB\": {\"id\": 0, \"instance\": \"r\"}}}",
      "needs a separator" },
    { "{" INST_OK ", \"DATABASES\": {\"APPL_DB\": {\"id\": 0, \"separator\": \":\"}}}",
      "needs an instance" },
    { "{" INST_OK ", \"DATABASES\": {\"APPL_DB\": {\"id\": 0, \"separator\": \":\", "
      "\"instance\": \"other\"}}}", "no instance \"other\"" },
    { "{" INST_OK ", \"DATABASES\": {\"APPL_DB\": {\"id\": -1, \"separator\": \":\", "
      "\"instance\": \"r\"}}}", "id must be an integer from 0 to 65535" },
    { "{" INST_OK ", \"DATABASES\": {\"APPL_DB\": {\"id\": 0, \"separator\": \"\", "
      "\"instance\": \"r\"}}}", "separator must be 1 to 16 bytes" },
    { "{" INST_OK ", \"DATABASES\": {\"APPL_DB\": {\"id\": 0, \"separator\": "
      "\"12345678901234567\", \"instance\": \"r\"}}}", "separator must be 1 to 16 bytes" },
    { "{" INST_OK ", \"DATABASES\": {\"\": {\"id\": 0, \"separator\": \":\", "
      "\"instance\": \"r\"}}}", "\"\" is not a valid database name" },
    { "{\"a\": 01}", "bad number" },
    { "{\"a\": -}", "bad number" },
    { "{\"a\": 1.}", "bad number" },
    { "{\"a\": 1e}", "bad number" },
    { "{\"a\": tru}", "expected a value" },
    { "{\"a\": }", "expected a value" },
    { "{\"a\" 1}", "expected ':'" },
    { "{\"a\": [1 2]}", "expected ',' or ']'" },
    { "{\"a\": \"x", "unterminated string" },
    { "{\"a\": \"\\x\"}", "bad escape in a string" },
    { "{\"a\": \"\\u12\"}", "bad \\u escape" },
    { "{\"a\": \"\\u0000\"}", "NUL in a string" },
    { "{\"a\": \"\\ud800\"}", "unpaired surrogate" },
    { "{\"a\": \"\\udc00\"}", "unpaired surrogate" },
    { "{\"a\": \"\\ud800\\u0041\"}", "unpaired surrogate" },
    { "{\"a\": \"\t\"}", "control character in a string" },
    { "{\"a\": \"\xC0\x80\"}", "invalid UTF-8" },
    { "{\"a\": \"\xED\xA0\x80\"}", "invalid UTF-8" },
    { "{\"a\": \"\xF4\x90\x80\x80\"}", "invalid UTF-8" },
    { "{\"a\": \"\xE2\x82\"}", "invalid UTF-8" },
    { "{\n  \"a\":\n  [ x ]}", "line 3, column 5: expected a value" },
    { NULL, NULL }
};

static void
s_expect_refused (const char *text, size_t size, const char *reason, bool verbose)
{
    errno = 0;
    zstate_db_config_t *config = zstate_db_config_parse (text, size);
    if (verbose || config || !strstr (zstate_reason (), reason))
        fprintf (stderr, "    '%.60s': %s\n", text, zstate_reason ());
    assert (!config && errno == EINVAL);
    assert (strstr (zstate_reason (), reason));
}

static void
s_test_sonic_file (void)
{
    zstate_db_config_t *config = zstate_db_config_parse (s_sonic_file, strlen (s_sonic_file));
    assert (config);
    assert (zstate_db_config_size (config) == 5);
    const char *endpoint, *separator;
    int index;
    assert (zstate_db_config_lookup (config, "CONFIG_DB", &endpoint, &index, &separator) == 0);
    assert (streq (endpoint, "unix:/var/run/redis/redis.sock") && index == 4);
    assert (streq (separator, "|"));
    assert (zstate_db_config_lookup (config, "APPL_DB", NULL, &index, &separator) == 0);
    assert (index == 0 && streq (separator, ":"));
    //  An empty socket path: the instance is reached over TCP
    assert (zstate_db_config_lookup (config, "CHASSIS_APP_DB", &endpoint, &index, NULL) == 0);
    assert (streq (endpoint, "redis_chassis.server:6380") && index == 12);
    errno = 0;
    assert (zstate_db_config_lookup (config, "FLEX_COUNTER_DB", &endpoint, NULL, NULL) == -1);
    assert (errno == ENOENT && strstr (zstate_reason (), "FLEX_COUNTER_DB"));
    zstate_db_config_destroy (&config);
    zstate_db_config_destroy (&config);
}

static void
s_test_hostile (bool verbose)
{
    for (bad_case_t *item = s_bad_cases; item->text; item++) {
        if (!item->reason) {
            zstate_db_config_t *config = zstate_db_config_parse (item->text, strlen (item->text));
            assert (config);
            zstate_db_config_destroy (&config);
        }
        else
            s_expect_refused (item->text, strlen (item->text), item->reason, verbose);
    }
    //  A NUL byte ends nothing: it is refused where it is
    static const char nul [] = "{\n  \"a\": 1\0 }";
    s_expect_refused (nul, sizeof (nul) - 1, "line 2, column 9: NUL byte", verbose);
    //  Every proper prefix of a good file is refused, never read past
    size_t size = strlen (s_sonic_file);
    for (size_t cut = 0; cut < size - 1; cut++) {
        char *prefix = (char *) malloc (cut? cut: 1);
        memcpy (prefix, s_sonic_file, cut);
        errno = 0;
        zstate_db_config_t *config = zstate_db_config_parse (prefix, cut);
        assert (!config && errno == EINVAL);
        free (prefix);
    }
    //  Nesting deeper than the bound, in a member that is skipped
    size_t depth = 100000;
    char *deep = (char *) malloc (2 * depth + 16);
    size_t length = (size_t) sprintf (deep, "{\"a\": ");
    for (size_t level = 0; level < depth; level++)
        deep [length++] = '[';
    s_expect_refused (deep, length, "nested deeper than 32 levels", verbose);
    free (deep);
    //  Larger than the limit: EFBIG, before any parse
    errno = 0;
    assert (!zstate_db_config_parse (s_sonic_file, 1024 * 1024 + 1) && errno == EFBIG);
    errno = 0;
    assert (!zstate_db_config_parse (NULL, 0) && errno == EINVAL);
}

static void
s_test_load (void)
{
    char path [] = "/tmp/zstate-db-config-XXXXXX";
    int handle = mkstemp (path);
    assert (handle >= 0);
    FILE *file = fdopen (handle, "w");
    assert (file);
    fputs (s_sonic_file, file);
    fclose (file);
    zstate_db_config_t *config = zstate_db_config_load (path);
    assert (config && zstate_db_config_size (config) == 5);
    zstate_db_config_destroy (&config);
    //  A file too large is refused whole
    file = fopen (path, "w");
    for (int line = 0; line < 20000; line++)
        fputs ("                                                                \n", file);
    fclose (file);
    errno = 0;
    assert (!zstate_db_config_load (path) && errno == EFBIG);
    assert (strstr (zstate_reason (), path));
    unlink (path);
    errno = 0;
    assert (!zstate_db_config_load (path) && errno == ENOENT);
    assert (strstr (zstate_reason (), path));
}

//  Each file of the fuzz corpus parses, or fails with EINVAL and a line
static void
s_test_corpus (bool verbose)
{
    //  make check says where the sources are; make memcheck and a run by
    //  hand find them where the build was configured
    const char *srcdir = getenv ("srcdir");
    char folder [1024];
    snprintf (folder, sizeof (folder), "%s/selftest/fuzz/db-config-corpus",
              srcdir? srcdir: ZSTATE_SRCDIR);
    DIR *dir = opendir (folder);
    assert (dir);
    size_t files = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        char path [2048];
        snprintf (path, sizeof (path), "%s/%s", folder, entry->d_name);
        errno = 0;
        zstate_db_config_t *config = zstate_db_config_load (path);
        if (verbose)
            printf ("    %s: %s\n", entry->d_name, config? "read": zstate_reason ());
        assert (config || (errno == EINVAL && strstr (zstate_reason (), ", column ")));
        zstate_db_config_destroy (&config);
        files++;
    }
    closedir (dir);
    assert (files > 0);
}

void
zstate_db_config_test (bool verbose)
{
    printf (" * zstate_db_config: ");
    if (verbose)
        printf ("\n");
    s_test_sonic_file ();
    s_test_hostile (verbose);
    s_test_load ();
    s_test_corpus (verbose);
    printf ("OK\n");
}
