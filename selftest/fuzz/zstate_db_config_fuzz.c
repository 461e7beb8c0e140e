/*  =========================================================================
    zstate_db_config_fuzz - libFuzzer target for the database_config.json
    reader

    Feeds arbitrary bytes to zstate_db_config_parse. Text is either read,
    and then every database it names can be looked up, or refused with
    EINVAL (EFBIG past the size limit) and a reason that names the line
    and column. Build and run with: make fuzz-db-config FUZZ_SECONDS=60

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    errno = 0;
    zstate_db_config_t *config = zstate_db_config_parse ((const char *) data, size);
    if (config) {
        assert (zstate_db_config_size (config) > 0);
        const char *endpoint = NULL, *separator = NULL;
        int index = -1;
        assert (zstate_db_config_lookup (config, "", &endpoint, &index, &separator) == -1);
        zstate_db_config_destroy (&config);
    }
    else
        assert ((errno == EINVAL && strstr (zstate_reason (), "line ")) || errno == EFBIG);
    return 0;
}
