/*  zstate_server - placeholder while the class is written */
#include "zstate_classes.h"

void
zstate_server_test (bool verbose)
{
    printf (" * zstate_server: ");
    printf ("OK\n");
}
