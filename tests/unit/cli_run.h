/* cli_run — run cli_main() in-process for the CLI unit tests, capturing
 * its output. Shared by test_cli*.c (linked from libunit.a). */
#ifndef CAIRN_TEST_CLI_RUN_H
#define CAIRN_TEST_CLI_RUN_H

#include <stddef.h>
#include <stdio.h>

struct run
{
    int rc;              /* cli_main's exit status */
    char *out, *err;     /* what it wrote (owned; free with run_free) */
    size_t outlen, errlen;
};

/* cli_main("cairn", args...), args ending with NULL (at most 38). stdin_data
 * (NULL: none) is what the command reads as standard input. */
void run_cli(struct run *r, const char *stdin_data, ...);
void run_free(struct run *r);

/* "-http-addr=127.0.0.1:PORT" of a fake_http server f, written into buf. */
#define ADDR_ARG(f, buf)                                                       \
    (snprintf(buf, sizeof(buf), "-http-addr=127.0.0.1:%d", fake_http_port(f)), \
     buf)

#endif
