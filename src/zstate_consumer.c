/*  zstate_consumer - placeholder while the class is written */
#include "zstate_classes.h"

void
zstate_consumer_test (bool verbose)
{
    printf (" * zstate_consumer: ");
    printf ("OK\n");
}
