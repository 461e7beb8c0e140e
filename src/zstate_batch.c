/*  zstate_batch - placeholder while the class is written */
#include "zstate_classes.h"

void
zstate_batch_test (bool verbose)
{
    printf (" * zstate_batch: ");
    printf ("OK\n");
}
