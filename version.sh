#!/bin/sh
#  Prints the project version, read from include/zstate_library.h, the one
#  place it is written.
header="$(dirname "$0")/include/zstate_library.h"
major=$(sed -n 's/^#define ZSTATE_VERSION_MAJOR \([0-9]*\)$/\1/p' "$header")
minor=$(sed -n 's/^#define ZSTATE_VERSION_MINOR \([0-9]*\)$/\1/p' "$header")
patch=$(sed -n 's/^#define ZSTATE_VERSION_PATCH \([0-9]*\)$/\1/p' "$header")
printf '%s.%s.%s' "$major" "$minor" "$patch"
