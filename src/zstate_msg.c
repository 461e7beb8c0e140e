/*  zstate_msg - placeholder while the class is written */
#include "zstate_classes.h"

void
zstate_msg_test (bool verbose)
{
    printf (" * zstate_msg: ");
    printf ("OK\n");
}
