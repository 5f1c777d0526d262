/* cli_run.c — see cli_run.h. */
#include "cli_run.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_internal.h"

void run_cli(struct run *r, const char *stdin_data, ...)
{
    char *argv[40];
    int argc = 0;
    va_list ap;

    argv[argc++] = "cairn";
    va_start(ap, stdin_data);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 39;)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;

    cli__out = open_memstream(&r->out, &r->outlen);
    cli__err = open_memstream(&r->err, &r->errlen);
    cli__in = stdin_data ? fmemopen((void *)stdin_data, strlen(stdin_data), "r")
                         : NULL;
    r->rc = cli_main(argc, argv);
    fclose(cli__out);
    fclose(cli__err);
    if (cli__in)
        fclose(cli__in);
    cli__out = cli__err = cli__in = NULL;
}

void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}
