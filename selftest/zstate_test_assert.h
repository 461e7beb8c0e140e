/*  =========================================================================
    zstate_test_assert - asserts on in every build, for the test programs
    that use only the public API (the library's classes get the same from
    src/zstate_classes.h). Include it after every other header: assert.h
    is read again, and follows NDEBUG as it is then.

    Copyright (c) the zstate contributors.
    This Source Code Form is subject to the terms of the Mozilla Public
    License, v. 2.0. If a copy of the MPL was not distributed with this
    file, You can obtain one at http://mozilla.org/MPL/2.0/.
    =========================================================================
*/

//  No include guard, on purpose: like assert.h, it acts where it is read.
//  A test that an NDEBUG build compiled without its checks would pass
//  whatever happened.
#ifdef NDEBUG
#   undef NDEBUG
#   include <assert.h>
#   define NDEBUG
#else
#   include <assert.h>
#endif
