/* postseal arc: dispatches on the verb; "verify" is cmd_arc_verify.c.
 * (ARC sealing, "arc seal", lands beside it from the arcs branch.) */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int ps_cmd_arc(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return ps_cmd_arc_verify(argc - 1, argv + 1);
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: " PS_CLI_NAME " arc verify [--txt NAME=RECORD]... "
               "[--resolver IP[:PORT]] FILE\n");
        return PS_EXIT_OK;
    }
    return ps_cli_fail("arc: expected \"verify\" (see " PS_CLI_NAME
                       " arc --help)");
}
