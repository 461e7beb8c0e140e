/*  =========================================================================
    zstate_sonic_msg_fuzz - libFuzzer target for the SONiC frame decoder

    Feeds arbitrary bytes to zstate_sonic_msg_decode and, when they decode,
    checks that encoding the operations again gives the same bytes (the
    decoder accepts only what SONiC's encoder writes, so the round trip is
    exact). Build and run with: make fuzz-sonic FUZZ_SECONDS=60; make check
    replays the corpus (selftest/fuzz/sonic-corpus, one seed per golden
    vector) through the same function.

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
    zstate_sonic_msg_t *decoder = zstate_sonic_msg_new ();
    int reason = zstate_sonic_msg_decode (decoder, data, size);
    assert (reason >= 0 && reason < ZSTATE_SONIC_FRAMES);
    zstate_batch_t *batch = zstate_sonic_msg_batch (decoder);
    if (reason == ZSTATE_SONIC_OK) {
        size_t hsets = 1;
        zframe_t *frame = zstate_sonic_msg_encode (zstate_sonic_msg_db (decoder),
                                                   zstate_sonic_msg_table (decoder),
                                                   batch, &hsets);
        assert (frame);
        assert (hsets == 0);
        assert (zframe_size (frame) == size);
        assert (memcmp (zframe_data (frame), data, size) == 0);
        zframe_destroy (&frame);
        //  What decodes always fits one zstate message
        byte session [ZSTATE_MSG_SESSION_SIZE] = { 0 };
        frame = zstate_msg_encode (session, 1, zstate_sonic_msg_db (decoder),
                                   zstate_sonic_msg_table (decoder), batch);
        assert (frame);
        zframe_destroy (&frame);
    }
    else
        assert (zstate_batch_size (batch) == 0);
    zstate_sonic_msg_destroy (&decoder);
    return 0;
}
