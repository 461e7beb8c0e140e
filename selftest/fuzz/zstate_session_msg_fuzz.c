/*  =========================================================================
    zstate_session_msg_fuzz - libFuzzer target for the session codec

    Feeds arbitrary bytes to zstate_session_msg_decode. A message of
    version 2 that decodes must encode back to the same bytes; OPS must get
    the same verdict as from version 1's decoder, which owns that layout.
    Build and run with: make fuzz FUZZ_SECONDS=60

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"
#include "zstate_session_msg.h"

//  Version 1's verdict on data, read as version 1
static int
s_v1_reason (const uint8_t *data, size_t size)
{
    byte *copy = (byte *) malloc (size? size: 1);
    assert (copy);
    memcpy (copy, data, size);
    copy [2] = ZSTATE_MSG_VERSION;
    zstate_msg_t *decoder = zstate_msg_new ();
    int rc = zstate_msg_decode (decoder, copy, size);
    zstate_msg_destroy (&decoder);
    free (copy);
    return rc;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zstate_session_msg_t msg;
    int rc = zstate_session_msg_decode (&msg, data, size);
    //  Never a reason of server policy
    assert (rc >= 0 && rc < ZSTATE_SESSION_REASON_COUNT);
    assert (rc != ZSTATE_SESSION_REASON_UNROUTABLE && rc != ZSTATE_SESSION_REASON_NO_SESSION
         && rc != ZSTATE_SESSION_REASON_UNAUTHORISED);
    if (rc == 0 && msg.version == ZSTATE_SESSION_VERSION) {
        byte *again = (byte *) malloc (size);
        assert (again);
        assert (zstate_session_msg_encode (&msg, again, size) == (ssize_t) size);
        assert (memcmp (again, data, size) == 0);
        free (again);
    }
    //  OPS of either version: version 1's rules, but for sequence 0 in v2
    if (size >= 4 && data [0] == 0x5A && data [1] == 0x53
    &&  (data [2] == ZSTATE_MSG_VERSION || data [2] == ZSTATE_SESSION_VERSION)
    &&  data [3] == ZSTATE_SESSION_MSG_OPS) {
        int v1 = s_v1_reason (data, size);
        if (data [2] == ZSTATE_SESSION_VERSION && size >= 28 && v1 != ZSTATE_WIRE_TOO_LARGE
        &&  zstate_get_u64 (data + 20) == 0)
            assert (rc == ZSTATE_SESSION_REASON_SEQUENCE);
        else
            assert (rc == v1);
    }
    return 0;
}
