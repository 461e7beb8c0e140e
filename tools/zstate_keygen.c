/*  =========================================================================
    zstate keygen - write a CURVE certificate pair in zcert format

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_tool.h"
#include <getopt.h>

static void
s_usage (FILE *file)
{
    fprintf (file,
        "usage: zstate keygen [OPTIONS] FILE\n"
        "\n"
        "Writes a new CURVE certificate pair: FILE, the public certificate, to\n"
        "give to the other side, and FILE_secret, readable by its owner only, to\n"
        "keep. Prints the public key. A server's clients directory holds the\n"
        "public certificates of the clients it lets in.\n"
        "\n"
        "    -n, --name TEXT         a name to keep in the certificate's metadata\n"
        "    -h, --help              this text\n");
}

int
zstate_keygen_main (int argc, char *argv [])
{
    static struct option options [] = {
        { "name", required_argument, NULL, 'n' },
        { "help", no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *name = NULL;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "n:h", options, NULL)) != -1) {
        if (option == 'n')
            name = optarg;
        else
        if (option == 'h') {
            s_usage (stdout);
            return 0;
        }
        else {
            s_usage (stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || !*argv [optind]) {
        fprintf (stderr, "zstate keygen: needs one FILE\n");
        return 2;
    }
    const char *file = argv [optind];
    char *secret = zsys_sprintf ("%s_secret", file);
    assert (secret);
    int status = 0;
    if (zsys_file_exists (file) || zsys_file_exists (secret)) {
        fprintf (stderr, "zstate keygen: %s or %s exists already; not replaced\n",
                 file, secret);
        status = 1;
    }
    zcert_t *cert = status? NULL: zcert_new ();
    if (cert && name)
        zcert_set_meta (cert, "name", "%s", name);
    //  zcert writes the secret file readable by its owner only
    if (cert && zcert_save (cert, file)) {
        fprintf (stderr, "zstate keygen: cannot write %s: %s\n", file, strerror (errno));
        status = 1;
    }
    if (cert && status == 0)
        printf ("%s\n", zcert_public_txt (cert));
    zcert_destroy (&cert);
    zstr_free (&secret);
    return status;
}
