/*  =========================================================================
    zstate_fuzz_replay - runs a libFuzzer target's corpus without libFuzzer,
    so that make check replays every seed through the target's checks

    Usage: zstate_*_replay [DIR]   (default: the corpus it was built for)

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

int
    LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char *argv [])
{
    const char *path = argc > 1? argv [1]: ZSTATE_FUZZ_CORPUS;
    zdir_t *dir = zdir_new (path, NULL);
    if (!dir) {
        fprintf (stderr, "%s: no corpus at %s\n", argv [0], path);
        return 1;
    }
    zlist_t *files = zdir_list (dir);
    size_t count = 0;
    for (zfile_t *file = (zfile_t *) zlist_first (files); file;
         file = (zfile_t *) zlist_next (files)) {
        zchunk_t *chunk = zchunk_slurp (zfile_filename (file, NULL), 0);
        assert (chunk);
        LLVMFuzzerTestOneInput (zchunk_data (chunk), zchunk_size (chunk));
        zchunk_destroy (&chunk);
        count++;
    }
    zlist_destroy (&files);
    zdir_destroy (&dir);
    printf ("%s: %zu inputs replayed\n", path, count);
    return count > 0? 0: 1;
}
