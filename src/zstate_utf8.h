/*  =========================================================================
    zstate_utf8 - the UTF-8 check the library and the tool share

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

#ifndef ZSTATE_UTF8_H_INCLUDED
#define ZSTATE_UTF8_H_INCLUDED

//  Exported, though no public header declares it: the zstate tool, which
//  links the shared library, checks the strings it prints as JSON with
//  it. It is not part of the API.

//  Return the length of the well-formed multi-byte UTF-8 sequence at
//  text, which holds size bytes (at least 1), or 0 when there is none
//  there: RFC 3629, so no overlong forms, no surrogates, nothing past
//  U+10FFFF, and never a sequence cut by the end of text. ASCII bytes,
//  which callers handle themselves, give 0 too.
ZSTATE_EXPORT size_t
    zstate_utf8_length (const byte *text, size_t size);

#ifdef ZSTATE_SELFTEST
void
    zstate_utf8_test (bool verbose);
#endif

#endif
