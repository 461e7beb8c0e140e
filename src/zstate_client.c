/*  zstate_client - placeholder while the class is written */
#include "zstate_classes.h"

void
zstate_client_test (bool verbose)
{
    printf (" * zstate_client: ");
    printf ("OK\n");
}
