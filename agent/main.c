/* main — `cairn agent ...` runs the agent; anything else is a CLI command
 * talking to an agent's HTTP API. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "agent.h"
#include "cli.h"

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "cairn: libsodium failed to initialise\n");
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "agent") == 0)
        return agent_main(argc - 2, argv + 2);
    return cli_main(argc, argv);
}
