/*  =========================================================================
    zstate_utf8 - the UTF-8 check the library and the tool share

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#include "zstate_classes.h"


//  --------------------------------------------------------------------------
//  Length of the well-formed UTF-8 sequence at text, or 0

size_t
zstate_utf8_length (const byte *text, size_t size)
{
    assert (text && size);
    size_t length = text [0] >= 0xF0? 4: text [0] >= 0xE0? 3: 2;
    if (text [0] < 0xC2 || text [0] > 0xF4 || length > size)
        return 0;
    for (size_t index = 1; index < length; index++)
        if ((text [index] & 0xC0) != 0x80)
            return 0;
    //  The second byte's range where the first alone does not decide
    if ((text [0] == 0xE0 && text [1] < 0xA0) || (text [0] == 0xED && text [1] > 0x9F)
    ||  (text [0] == 0xF0 && text [1] < 0x90) || (text [0] == 0xF4 && text [1] > 0x8F))
        return 0;
    return length;
}


#ifdef ZSTATE_SELFTEST
//  --------------------------------------------------------------------------
//  Selftest

static size_t
s_test_length (const char *text)
{
    return zstate_utf8_length ((const byte *) text, strlen (text));
}

void
zstate_utf8_test (bool verbose)
{
    (void) verbose;
    printf (" * zstate_utf8: ");
    //  @selftest
    //  Well-formed sequences of 2, 3 and 4 bytes, the smallest and largest
    assert (s_test_length ("\xC2\x80") == 2);
    assert (s_test_length ("\xC3\xA9tat") == 2);
    assert (s_test_length ("\xE0\xA0\x80") == 3);
    assert (s_test_length ("\xE2\x82\xAC") == 3);
    assert (s_test_length ("\xEF\xBF\xBF") == 3);
    assert (s_test_length ("\xF0\x90\x80\x80") == 4);
    assert (s_test_length ("\xF4\x8F\xBF\xBF") == 4);
    //  ASCII, a lone continuation byte, overlong forms, surrogates, past
    //  U+10FFFF, a bad continuation byte and a cut sequence are not
    assert (s_test_length ("A") == 0);
    assert (s_test_length ("\x80") == 0);
    assert (s_test_length ("\xC0\xAF") == 0);
    assert (s_test_length ("\xC1\xBF") == 0);
    assert (s_test_length ("\xE0\x9F\xBF") == 0);
    assert (s_test_length ("\xF0\x8F\xBF\xBF") == 0);
    assert (s_test_length ("\xED\xA0\x80") == 0);
    assert (s_test_length ("\xF4\x90\x80\x80") == 0);
    assert (s_test_length ("\xF5\x80\x80\x80") == 0);
    assert (s_test_length ("\xE2\x28\xA1") == 0);
    assert (zstate_utf8_length ((const byte *) "\xE2\x82\xAC", 2) == 0);
    //  @end
    printf ("OK\n");
}
#endif
