/*  zstate_producer - placeholder while the class is written */
#include "zstate_classes.h"

void
zstate_producer_test (bool verbose)
{
    printf (" * zstate_producer: ");
    printf ("OK\n");
}
