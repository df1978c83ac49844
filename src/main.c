/* pgfleet: one binary, the daemon (`pgfleet serve`) and the command-line tool */
#include <sodium.h>
#include <stdio.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "pgfleet: libsodium failed to initialize\n");
        return 1;
    }
    return cli_main(argc, argv);
}
