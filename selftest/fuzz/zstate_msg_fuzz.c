/*  =========================================================================
    zstate_msg_fuzz - libFuzzer target for the wire decoder

    Feeds arbitrary bytes to zstate_msg_decode and, when they decode, loads
    the operations into a batch and checks that encoding them again gives
    the same bytes. Build and run with: make fuzz FUZZ_SECONDS=60

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
    zstate_msg_t *decoder = zstate_msg_new ();
    if (zstate_msg_decode (decoder, data, size) == ZSTATE_WIRE_OK) {
        //  A message that decodes loads whole, and encodes back to itself
        size_t ops_size;
        const byte *ops = zstate_msg_ops (decoder, &ops_size);
        zstate_batch_t *batch = zstate_batch_new ();
        int reason = zstate_batch_load (batch, ops, ops_size,
                                        zstate_msg_op_count (decoder), NULL);
        assert (reason == ZSTATE_WIRE_OK);
        assert (zstate_batch_size (batch) == zstate_msg_op_count (decoder));
        zframe_t *frame = zstate_msg_encode (zstate_msg_session (decoder),
                                             zstate_msg_sequence (decoder),
                                             zstate_msg_db (decoder),
                                             zstate_msg_table (decoder), batch);
        assert (frame);
        assert (zframe_size (frame) == size);
        assert (memcmp (zframe_data (frame), data, size) == 0);
        zframe_destroy (&frame);
        zstate_batch_destroy (&batch);
    }
    zstate_msg_destroy (&decoder);
    return 0;
}
